/* tokenizer/unicode: category classes, strict UTF-8 decoding and NFC over the generated
 * tables (unicode_tables.c, unicode_nfc_tables.c). NFC follows UAX #15: full canonical decomposition (Hangul
 * syllables algorithmically), canonical ordering of each run of non-starters by
 * combining class (a stable sort), then canonical composition of unblocked pairs. */
#include "tokenizer/unicode.h"

extern const uint32_t ur_ccc_cp[];
extern const uint8_t ur_ccc_val[];
extern const int ur_ccc_n;
extern const uint32_t ur_dec_cp[];
extern const uint16_t ur_dec_off[];
extern const uint32_t ur_dec_seq[];
extern const int ur_dec_n;
extern const uint64_t ur_comp_key[];
extern const uint32_t ur_comp_val[];
extern const int ur_comp_n;

/* category -> class bits */
static const uint16_t CAT_CLASS[32] = {
    [UR_LU] = UR_CL_L | UR_CL_LU, [UR_LL] = UR_CL_L | UR_CL_LL, [UR_LT] = UR_CL_L | UR_CL_LT,
    [UR_LM] = UR_CL_L | UR_CL_LM, [UR_LO] = UR_CL_L | UR_CL_LO,
    [UR_MN] = UR_CL_M, [UR_MC] = UR_CL_M, [UR_ME] = UR_CL_M,
    [UR_ND] = UR_CL_N | UR_CL_ND, [UR_NL] = UR_CL_N, [UR_NO] = UR_CL_N,
    [UR_PC] = UR_CL_P, [UR_PD] = UR_CL_P, [UR_PS] = UR_CL_P, [UR_PE] = UR_CL_P, [UR_PI] = UR_CL_P,
    [UR_PF] = UR_CL_P, [UR_PO] = UR_CL_P,
    [UR_SM] = UR_CL_S, [UR_SC] = UR_CL_S, [UR_SK] = UR_CL_S, [UR_SO] = UR_CL_S,
};

uint16_t ur_uclass(uint32_t c) {
    if (c >= 0x110000) return 0;
    uint8_t b = ur_ucat_byte(c);
    return (uint16_t)(CAT_CLASS[b & 31] | (b & UR_UWS ? UR_CL_WS : 0));
}

int ur_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    int need;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) need = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) need = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) need = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if ((size_t)need > n) return 0;
    for (int k = 1; k < need; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return need;
}

int ur_utf8_bad_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    int need;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) need = 3;
    else if (c >= 0xF0 && c <= 0xF4) need = 4;
    else return 1;
    int k = 1;
    for (; k < need && (size_t)k < n; k++) {
        unsigned lo = 0x80, hi = 0xBF, b = s[k];
        if (k == 1) { /* the second byte's range excludes overlongs, surrogates, > U+10FFFF */
            if (c == 0xE0) lo = 0xA0;
            else if (c == 0xED) hi = 0x9F;
            else if (c == 0xF0) lo = 0x90;
            else if (c == 0xF4) hi = 0x8F;
        }
        if (b < lo || b > hi) break;
    }
    return k;
}

/* ---- NFC ----------------------------------------------------------------------- */

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21, TCOUNT = 28,
       NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static int ccc(uint32_t c) {
    if (c < 0x300 || !(ur_ucat_byte(c) & UR_UNFC)) return 0;
    int lo = 0, hi = ur_ccc_n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (ur_ccc_cp[mid] == c) return ur_ccc_val[mid];
        if (ur_ccc_cp[mid] < c) lo = mid + 1;
        else hi = mid - 1;
    }
    return 0;
}

static size_t decompose(uint32_t c, uint32_t *out) {
    if (c >= SBASE && c < SBASE + SCOUNT) {
        uint32_t s = c - SBASE, t = s % TCOUNT;
        out[0] = LBASE + s / NCOUNT;
        out[1] = VBASE + (s % NCOUNT) / TCOUNT;
        if (t) out[2] = TBASE + t;
        return t ? 3 : 2;
    }
    if (c >= 0xC0 && (ur_ucat_byte(c) & UR_UNFC)) {
        int lo = 0, hi = ur_dec_n - 1;
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            if (ur_dec_cp[mid] == c) {
                size_t n = 0;
                for (unsigned k = ur_dec_off[mid]; k < ur_dec_off[mid + 1]; k++) out[n++] = ur_dec_seq[k];
                return n;
            }
            if (ur_dec_cp[mid] < c) lo = mid + 1;
            else hi = mid - 1;
        }
    }
    out[0] = c;
    return 1;
}

static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    uint64_t key = (uint64_t)a << 21 | b;
    int lo = 0, hi = ur_comp_n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (ur_comp_key[mid] == key) return ur_comp_val[mid];
        if (ur_comp_key[mid] < key) lo = mid + 1;
        else hi = mid - 1;
    }
    return 0;
}

size_t ur_nfc(const uint32_t *in, size_t n, uint32_t *out) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = decompose(in[i], out + m);
        /* canonical ordering: insert each non-starter after the marks of lower or equal class */
        for (size_t j = m; j < m + k; j++) {
            int cj = ccc(out[j]);
            if (cj == 0) continue;
            for (size_t p = j; p > 0; p--) {
                int cp = ccc(out[p - 1]);
                if (cp == 0 || cp <= cj) break;
                uint32_t t = out[p - 1];
                out[p - 1] = out[p];
                out[p] = t;
            }
        }
        m += k;
    }
    /* composition in place: w is the write position, starter the last starter written */
    size_t w = 0;
    long starter = -1;
    int last = -1; /* class of the last code point written after the starter; -1: none */
    for (size_t r = 0; r < m; r++) {
        uint32_t c = out[r];
        int cc = ccc(c);
        if (starter >= 0 && (last == -1 || (last < cc))) {
            uint32_t comp = compose(out[starter], c);
            if (comp) {
                out[starter] = comp;
                continue;
            }
        }
        if (cc == 0) {
            starter = (long)w;
            last = -1;
        } else {
            last = cc;
        }
        out[w++] = c;
    }
    return w;
}
