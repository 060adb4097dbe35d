/* Tokenizer tests: llama.cpp's own SPM vectors (fixtures), extra cases checked
 * against llama.cpp (node-llama-cpp 3.22.1, common_tokenize with add_special=false),
 * round trips, special tokens, byte fallback, the streaming detokenizer, and bad
 * metadata in small GGUFs written here. */
#include "harness.h"

#include <stdint.h>

#include "urial/gguf.h"
#include "urial/tokenizer.h"

static const char *SPM_GGUF = "tokenizer/llama-spm/vocab-llama-spm.gguf";

/* The Llama-2 vocab, loaded once (NULL when the fixtures are absent). */
static ur_gguf *llama_g;
static ur_vocab *llama_v;

static const ur_vocab *llama_vocab(void) {
    if (llama_v) return llama_v;
    const char *fx = th_fixtures();
    if (!fx) return NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", fx, SPM_GGUF);
    ur_err err = {{0}};
    llama_g = ur_gguf_open(path, &err);
    if (!llama_g) { fprintf(stderr, "%s\n", err.msg); return NULL; }
    llama_v = ur_vocab_load(llama_g, &err);
    if (!llama_v) fprintf(stderr, "%s\n", err.msg);
    return llama_v;
}

/* Tokenize into a malloc'ed array (*n ids); NULL on error. */
static int32_t *tok(const ur_vocab *v, const char *s, size_t len, int add_bos, int special, int *n) {
    ur_err err = {{0}};
    int k = ur_tokenize(v, s, len, add_bos, special, NULL, 0, &err);
    if (k < 0) { fprintf(stderr, "%s\n", err.msg); return NULL; }
    int32_t *ids = malloc(((size_t)k + 1) * sizeof *ids);
    int k2 = ur_tokenize(v, s, len, add_bos, special, ids, k, &err);
    if (k2 != k) { free(ids); return NULL; }
    *n = k;
    return ids;
}

/* Detokenize into a malloc'ed NUL-terminated string (*len bytes). */
static char *detok(const ur_vocab *v, const int32_t *ids, int n, int special, size_t *len) {
    int need = ur_detokenize(v, ids, n, special, NULL, 0);
    if (need < 0) return NULL;
    char *s = malloc((size_t)need + 1);
    int got = ur_detokenize(v, ids, n, special, s, need + 1);
    if (got != need) { free(s); return NULL; }
    *len = (size_t)need;
    return s;
}

static int same_ids(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

static void fmt_ids(char *buf, size_t n, const int32_t *ids, int k) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < k && o + 12 < n; i++) o += (size_t)snprintf(buf + o, n - o, " %d", ids[i]);
}

/* ---- llama.cpp's vectors ------------------------------------------------------ */

static void test_llama_cpp_vectors(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    char p[4200];
    snprintf(p, sizeof p, "%s/tokenizer/llama-spm/cases.inp", th_fixtures());
    size_t inl, outl;
    char *inp = th_read_file(p, &inl);
    snprintf(p, sizeof p, "%s/tokenizer/llama-spm/cases.out", th_fixtures());
    char *out = th_read_file(p, &outl);
    REQUIRE(inp && out);
    static const char SEP[] = "\n__ggml_vocab_test__\n";
    char *s = inp, *o = out;
    int cases = 0, bad = 0;
    for (;;) {
        char *end = strstr(s, SEP);
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char *eol = strchr(o, '\n');
        if (!eol && !end && !*o && len == 0) { cases++; break; } /* the empty piece after the last separator */
        REQUIRE(eol || *o);
        int32_t want[4096];
        int nw = 0;
        for (char *q = o; q < (eol ? eol : o + strlen(o));) {
            char *e;
            long x = strtol(q, &e, 10);
            if (e == q) break;
            want[nw++] = (int32_t)x;
            q = e;
        }
        int n;
        int32_t *got = tok(v, s, len, 0, 0, &n);
        REQUIRE(got);
        if (!same_ids(got, n, want, nw)) {
            char g[512], w[512];
            fmt_ids(g, sizeof g, got, n);
            fmt_ids(w, sizeof w, want, nw);
            CHECKF(0, "case %d '%.*s': got%.300s want%.300s", cases, (int)(len < 40 ? len : 40), s, g, w);
            bad++;
        }
        free(got);
        cases++;
        if (!end) break;
        s = end + strlen(SEP);
        o = eol ? eol + 1 : o + strlen(o);
    }
    CHECKF(cases == 47, "%d cases", cases);
    CHECK(bad == 0);
    free(inp);
    free(out);
}

/* Extra cases; expected ids from llama.cpp (tools: /tmp/llamacpp, tokenize(text, specialTokens)). */
static const struct extra {
    const char *text;
    size_t len; /* 0: strlen */
    int special;
    int32_t ids[64];
    int n;
} extras[] = {
    {"<s>[INST] hi [/INST]", 0, 0, {529, 29879, 24566, 25580, 29962, 7251, 518, 29914, 25580, 29962}, 10},
    {"<s>[INST] hi [/INST]", 0, 1, {1, 518, 25580, 29962, 7251, 518, 29914, 25580, 29962}, 9},
    {"hi </s> there", 0, 1, {7251, 29871, 2, 29871, 727}, 5},
    {" <s>hello", 0, 1, {259, 1, 22172}, 3},
    {"<unk>", 0, 1, {0}, 1},
    {"<s>", 0, 0, {529, 29879, 29958}, 3},
    {"<s><s>", 0, 1, {1, 1}, 2},
    {"a<s>", 0, 1, {263, 1}, 2},
    {"</s>", 0, 1, {2}, 1},
    {"<s>\n", 0, 1, {1, 29871, 13}, 3},
    {"<s> ", 0, 1, {1, 259}, 2},
    {"<s>[INST] a [/INST] b </s><s>[INST] c [/INST]", 0, 1,
     {1, 518, 25580, 29962, 263, 518, 29914, 25580, 29962, 289, 29871, 2, 1, 518, 25580, 29962, 274, 518, 29914,
      25580, 29962}, 21},
    {"<s>[INST] a [/INST] b </s><s>[INST] c [/INST]", 0, 0,
     {529, 29879, 24566, 25580, 29962, 263, 518, 29914, 25580, 29962, 289, 1533, 29879, 5299, 29879, 24566, 25580,
      29962, 274, 518, 29914, 25580, 29962}, 23},
    {"<</s>s>", 0, 1, {529, 2, 269, 29958}, 4},
    {"<s", 0, 1, {529, 29879}, 2},
    {"\t\t", 0, 0, {29871, 12, 12}, 3},
    {"x\xc2\xa0y", 0, 0, {921, 30081, 29891}, 3},
    {"\r\n", 0, 0, {6756, 13}, 2},
    {"a\xe2\x80\x8b" "b", 0, 0, {263, 30166, 29890}, 3},
    {"e\xcc\x81", 0, 0, {321, 30103}, 2},
    {"\xef\xac\x81", 0, 0, {29871, 31017}, 2},
    {"          a", 0, 0, {965, 263}, 2},
    {"\xf0\x9d\x94\x98\xf0\x9d\x94\xaf\xf0\x9d\x94\xa6\xf0\x9d\x94\x9e\xf0\x9d\x94\xa9", 0, 0,
     {29871, 243, 160, 151, 155, 243, 160, 151, 178, 243, 160, 151, 169, 243, 160, 151, 161, 243, 160, 151, 172}, 21},
    {"\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99", 0, 0,
     {29871, 243, 162, 169, 156, 243, 162, 169, 156, 243, 162, 169, 156}, 13},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88", 0, 0,
     {29871, 30325, 30346, 30968, 30199, 30572, 30454, 30255, 30279}, 9},
    {"\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9", 0, 0, {7189, 29876, 30085, 29883, 9289, 29948}, 6},
    {"\x01\x02\x7f", 0, 0, {29871, 4, 5, 130}, 4},
    {"a\0b", 3, 0, {263, 3, 29890}, 3},
    {"\xe2\x96\x81", 0, 0, {259}, 1},
    {"\xe2\x96\x81\xe2\x96\x81x", 0, 0, {259, 921}, 2},
    {" \xe2\x96\x81 ", 0, 0, {268}, 1},
    {"<0x0A>", 0, 0, {529, 29900, 29916, 29900, 29909, 29958}, 6},
    {"\xe2\x80\xa8", 0, 0, {29871, 31353}, 2},
    {"I'm here. Isn't it?", 0, 0, {306, 29915, 29885, 1244, 29889, 29489, 29915, 29873, 372, 29973}, 10},
    {"  \n  \n", 0, 0, {1678, 13, 259, 13}, 4},
    {"The quick brown fox jumps over the lazy dog.", 0, 0,
     {450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203, 29889}, 12},
    {"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf", 0, 0, {29871, 240, 162, 194, 241, 131, 131, 247, 146, 194, 194}, 11},
    {"\xf0\x9f\x98\xb6\xe2\x80\x8d\xf0\x9f\x8c\xab\xef\xb8\x8f", 0, 0,
     {29871, 243, 162, 155, 185, 30722, 243, 162, 143, 174, 30598}, 11},
};

static void test_llama_cpp_extra(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) {
        const struct extra *e = &extras[i];
        size_t len = e->len ? e->len : strlen(e->text);
        int n;
        int32_t *got = tok(v, e->text, len, 0, e->special, &n);
        REQUIRE(got);
        char g[512];
        fmt_ids(g, sizeof g, got, n);
        CHECKF(same_ids(got, n, e->ids, e->n), "extra %zu '%s' (special %d): got%s", i, e->text, e->special, g);
        free(got);
    }
    /* "ab" * 50: one merge, then 49 more of the same token */
    char ab[101];
    for (int i = 0; i < 50; i++) memcpy(ab + 2 * i, "ab", 2);
    int n;
    int32_t *got = tok(v, ab, 100, 0, 0, &n);
    REQUIRE(got && n == 50);
    CHECK(got[0] == 633);
    for (int i = 1; i < 50; i++) CHECK(got[i] == 370);
    free(got);
}

/* ---- vocab facts ---------------------------------------------------------------- */

static void test_llama_vocab_facts(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    CHECK(ur_vocab_size(v) == 32000);
    CHECK(ur_vocab_bos(v) == 1);
    CHECK(ur_vocab_eos(v) == 2);
    CHECK(ur_vocab_eot(v) == -1);
    CHECK(ur_vocab_add_bos(v) == 1);
    CHECK(ur_vocab_add_eos(v) == 0);
    CHECK(strcmp(ur_vocab_model(v), "llama") == 0);
    CHECK(ur_vocab_is_eog(v, 2));
    CHECK(!ur_vocab_is_eog(v, 1) && !ur_vocab_is_eog(v, 15043) && !ur_vocab_is_eog(v, -1) && !ur_vocab_is_eog(v, 32000));
    size_t len;
    const char *p = ur_vocab_piece(v, 15043, &len);
    CHECK(p && len == 8 && memcmp(p, "\xe2\x96\x81Hello", 8) == 0);
    p = ur_vocab_piece(v, 13, &len);
    CHECK(p && len == 6 && memcmp(p, "<0x0A>", 6) == 0);
    CHECK(ur_vocab_piece(v, 32000, &len) == NULL && len == 0);
    CHECK(ur_vocab_type(v, 0) == UR_TOK_UNKNOWN);
    CHECK(ur_vocab_type(v, 1) == UR_TOK_CONTROL);
    CHECK(ur_vocab_type(v, 13) == UR_TOK_BYTE);
    CHECK(ur_vocab_type(v, 15043) == UR_TOK_NORMAL);

    char b[16];
    CHECK(ur_token_to_bytes(v, 15043, 0, b, sizeof b) == 6 && memcmp(b, " Hello", 6) == 0);
    CHECK(ur_token_to_bytes(v, 13, 0, b, sizeof b) == 1 && b[0] == '\n');
    CHECK(ur_token_to_bytes(v, 243, 0, b, sizeof b) == 1 && (unsigned char)b[0] == 0xF0);
    CHECK(ur_token_to_bytes(v, 1, 0, b, sizeof b) == 0);
    CHECK(ur_token_to_bytes(v, 1, 1, b, sizeof b) == 3 && memcmp(b, "<s>", 3) == 0);
    CHECK(ur_token_to_bytes(v, 0, 0, b, sizeof b) == 0);
    CHECK(ur_token_to_bytes(v, 15043, 0, b, 2) == 6 && memcmp(b, " H", 2) == 0); /* truncated, full length */
    CHECK(ur_token_to_bytes(v, -1, 0, b, sizeof b) == -1);
    CHECK(ur_token_to_bytes(v, 32000, 0, b, sizeof b) == -1);
}

/* ---- round trips ------------------------------------------------------------------ */

static int round_trip(const ur_vocab *v, const char *s, size_t len, int add_bos) {
    int n;
    int32_t *ids = tok(v, s, len, add_bos, 0, &n);
    if (!ids) return 0;
    size_t dl;
    char *d = detok(v, ids, n, 0, &dl);
    /* the streaming detokenizer must agree with the whole-sequence one */
    ur_detok st;
    ur_buf sb = {0};
    ur_detok_init(&st, v, 0, 1);
    for (int i = 0; i < n; i++) ur_detok_push(&st, ids[i], &sb);
    ur_detok_flush(&st, &sb);
    int ok = d && dl == len && memcmp(d, s, len) == 0 && sb.len == len && (len == 0 || memcmp(sb.data, s, len) == 0);
    if (!ok)
        fprintf(stderr, "round trip failed for '%.*s' (add_bos %d): got '%s' / stream '%.*s'\n", (int)len, s, add_bos,
                d ? d : "(null)", (int)sb.len, sb.data ? sb.data : "");
    free(ids);
    free(d);
    ur_buf_free(&sb);
    return ok;
}

static void test_round_trip_cases(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    char p[4200];
    snprintf(p, sizeof p, "%s/tokenizer/llama-spm/cases.inp", th_fixtures());
    char *inp = th_read_file(p, NULL);
    REQUIRE(inp);
    static const char SEP[] = "\n__ggml_vocab_test__\n";
    for (char *s = inp;;) {
        char *end = strstr(s, SEP);
        size_t len = end ? (size_t)(end - s) : strlen(s);
        CHECK(round_trip(v, s, len, 0));
        CHECK(round_trip(v, s, len, 1));
        if (!end) break;
        s = end + strlen(SEP);
    }
    /* (except texts with a literal "▁" (U+2581): SentencePiece cannot tell it from an escaped space) */
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++)
        if (!strstr(extras[i].text, "\xe2\x96\x81"))
            CHECK(round_trip(v, extras[i].text, extras[i].len ? extras[i].len : strlen(extras[i].text), 1));
    free(inp);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static size_t put_cp(char *o, uint32_t c) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | c >> 6); o[1] = (char)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12); o[1] = (char)(0x80 | (c >> 6 & 63)); o[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18); o[1] = (char)(0x80 | (c >> 12 & 63));
    o[2] = (char)(0x80 | (c >> 6 & 63)); o[3] = (char)(0x80 | (c & 63));
    return 4;
}

/* A random code point from a mix: ASCII text, spaces/newlines/tabs, control characters,
 * Latin/Cyrillic, CJK, emoji, joiners, and anything valid up to U+10FFFF. */
static uint32_t rand_cp(void) {
    static const uint32_t ws[] = {' ', ' ', ' ', '\n', '\t', '\r', 0xA0, 0x2000, 0x3000};
    uint32_t c;
    switch (rnd() % 10) {
    case 0: case 1: case 2: return 'a' + rnd() % 26;
    case 3: return ws[rnd() % (sizeof ws / sizeof ws[0])];
    case 4: return rnd() % 0x20;
    case 5: return 0xC0 + rnd() % 0x3C0; /* Latin, Greek, Cyrillic */
    case 6: return 0x4E00 + rnd() % 0x5200;
    case 7: return 0x1F300 + rnd() % 0x300;
    case 8: return rnd() % 2 ? 0x200D : 0xFE0F;
    default:
        /* not surrogates, and not U+2581, which detokenizes as a space (see above) */
        do c = rnd() % 0x110000; while ((c >= 0xD800 && c <= 0xDFFF) || c == 0x2581);
        return c;
    }
}

static void test_round_trip_random(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    char s[4 * 64];
    for (int t = 0; t < 2000; t++) {
        size_t len = 0;
        int nc = (int)(rnd() % 64);
        for (int i = 0; i < nc; i++) len += put_cp(s + len, rand_cp());
        CHECKF(round_trip(v, s, len, t & 1), "random string %d", t);
        if (th_failed_now) return;
    }
}

/* Arbitrary bytes: valid UTF-8 comes back exactly (through byte fallback where the vocab
 * lacks a character); invalid UTF-8 was replaced by U+FFFD per maximal subpart before
 * tokenizing, so it comes back as that replacement (what a WHATWG decoder makes of it). */
static size_t whatwg_repair(const unsigned char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        int need = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        int k = 1;
        if (need > 1)
            for (; k < need && i + (size_t)k < len; k++) {
                unsigned lo = 0x80, hi = 0xBF;
                if (k == 1 && c == 0xE0) lo = 0xA0;
                if (k == 1 && c == 0xED) hi = 0x9F;
                if (k == 1 && c == 0xF0) lo = 0x90;
                if (k == 1 && c == 0xF4) hi = 0x8F;
                if (s[i + (size_t)k] < lo || s[i + (size_t)k] > hi) break;
            }
        if (need && k == need) {
            memcpy(out + o, s + i, (size_t)need);
            o += (size_t)need;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
        i += (size_t)k;
    }
    return o;
}

static void test_round_trip_bytes(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    unsigned char s[96];
    char want[3 * sizeof s];
    for (int t = 0; t < 2000; t++) {
        size_t len = rnd() % sizeof s;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = rnd();
            s[i] = (unsigned char)(r % 4 == 0 ? 0x80 + (r >> 8) % 0x80 : r % 4 == 1 ? 'a' + (r >> 8) % 3 : (r >> 8));
            if (i >= 2 && s[i - 2] == 0xE2 && s[i - 1] == 0x96 && s[i] == 0x81) s[i] = 0x80; /* no U+2581 */
        }
        size_t wl = whatwg_repair(s, len, want);
        int n;
        int32_t *ids = tok(v, (const char *)s, len, t & 1, 0, &n);
        REQUIRE(ids);
        size_t dl;
        char *d = detok(v, ids, n, 0, &dl);
        CHECKF(d && dl == wl && memcmp(d, want, wl) == 0, "random bytes %d", t);
        free(d);
        free(ids);
        if (th_failed_now) return;
    }
}

/* ---- special tokens ------------------------------------------------------------------ */

static void test_special_round_trip(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    /* with parse_special and special=1, the spaces added after special tokens are removed
     * again; with special=0 the control tokens print nothing */
    static const char *const texts[][2] = {
        {"<s>[INST] hi [/INST]", "[INST] hi [/INST]"},
        {"hi </s> there", "hi  there"},
        {"<s>[INST] a [/INST] b </s><s>[INST] c [/INST]", "[INST] a [/INST] b [INST] c [/INST]"},
        {"<</s>s>", "<s>"},
        {"<s> ", " "},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int n;
        int32_t *ids = tok(v, texts[i][0], strlen(texts[i][0]), 0, 1, &n);
        REQUIRE(ids);
        size_t dl;
        char *d = detok(v, ids, n, 1, &dl);
        CHECKF(d && strcmp(d, texts[i][0]) == 0, "'%s' -> '%s'", texts[i][0], d ? d : "(null)");
        free(d);
        d = detok(v, ids, n, 0, &dl);
        CHECKF(d && strcmp(d, texts[i][1]) == 0, "'%s' -> '%s' (special 0)", texts[i][0], d ? d : "(null)");
        free(d);
        free(ids);
    }
    /* add_bos */
    int n;
    int32_t *ids = tok(v, "Hello world", 11, 1, 0, &n);
    REQUIRE(ids);
    int32_t want[] = {1, 15043, 3186};
    CHECK(same_ids(ids, n, want, 3));
    free(ids);
    ids = tok(v, "", 0, 1, 0, &n);
    REQUIRE(ids);
    CHECK(n == 1 && ids[0] == 1);
    free(ids);
}

/* ---- detokenizer ---------------------------------------------------------------------- */

static void test_detokenize_buffer(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    int32_t ids[] = {1, 15043, 3186}; /* <s> ▁Hello ▁world */
    char b[32];
    CHECK(ur_detokenize(v, ids, 3, 0, b, sizeof b) == 11 && strcmp(b, "Hello world") == 0);
    CHECK(ur_detokenize(v, ids, 3, 1, b, sizeof b) == 14 && strcmp(b, "<s>Hello world") == 0);
    CHECK(ur_detokenize(v, ids, 3, 0, b, 6) == 11 && strcmp(b, "Hello") == 0); /* too small: truncated, NUL */
    CHECK(ur_detokenize(v, ids, 3, 0, b, 11) == 11 && strcmp(b, "Hello worl") == 0);
    CHECK(ur_detokenize(v, ids, 3, 0, NULL, 0) == 11);
    CHECK(ur_detokenize(v, ids + 2, 1, 0, b, sizeof b) == 5 && strcmp(b, "world") == 0);
    int32_t two[] = {29871, 15043}; /* "▁" "▁Hello" from " Hello" */
    CHECK(ur_detokenize(v, two, 2, 0, b, sizeof b) == 6 && strcmp(b, " Hello") == 0);
    int32_t badid[] = {15043, -5, 99999, 3186};
    CHECK(ur_detokenize(v, badid, 4, 0, b, sizeof b) == 11 && strcmp(b, "Hello world") == 0);
}

static void push_all(ur_detok *d, const int32_t *ids, int n, ur_buf *out) {
    for (int i = 0; i < n; i++) ur_detok_push(d, ids[i], out);
}

static void test_detok_stream(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    ur_detok d;
    ur_buf out = {0};
    /* "▁" then 🦙 as four byte tokens: nothing comes out until the character is complete */
    ur_detok_init(&d, v, 0, 0);
    ur_detok_push(&d, 29871, &out);
    CHECK(out.len == 1 && out.data[0] == ' ');
    int32_t llama[] = {243, 162, 169, 156};
    for (int i = 0; i < 3; i++) {
        ur_detok_push(&d, llama[i], &out);
        CHECK(out.len == 1);
    }
    ur_detok_push(&d, llama[3], &out);
    CHECK(out.len == 5 && memcmp(out.data, " \xf0\x9f\xa6\x99", 5) == 0);
    ur_detok_push(&d, 29889, &out); /* "." */
    CHECK(out.len == 6 && out.data[5] == '.');
    ur_detok_flush(&d, &out);
    CHECK(out.len == 6);
    ur_buf_free(&out);

    /* strip_leading_space, with and without BOS */
    ur_buf o2 = {0};
    int32_t hw[] = {1, 15043, 3186};
    ur_detok_init(&d, v, 0, 1);
    push_all(&d, hw, 3, &o2);
    CHECK(o2.len == 11 && memcmp(o2.data, "Hello world", 11) == 0);
    ur_buf_free(&o2);
    ur_detok_init(&d, v, 0, 0);
    push_all(&d, hw, 3, &o2);
    CHECK(o2.len == 12 && memcmp(o2.data, " Hello world", 12) == 0);
    ur_buf_free(&o2);

    /* a character cut short: the lead bytes become U+FFFD when the next byte cannot continue them */
    ur_detok_init(&d, v, 0, 0);
    int32_t cut[] = {243, 162, 3 + 't'}; /* F0 9F then "t" */
    push_all(&d, cut, 3, &o2);
    CHECK(o2.len == 4 && memcmp(o2.data, "\xef\xbf\xbdt", 4) == 0);
    /* ... or at flush */
    ur_detok_push(&d, 228, &o2); /* E1 */
    CHECK(o2.len == 4);
    ur_detok_flush(&d, &o2);
    CHECK(o2.len == 7 && memcmp(o2.data + 4, "\xef\xbf\xbd", 3) == 0);
    ur_buf_free(&o2);

    /* clearly invalid bytes come out as U+FFFD at once: a lone continuation byte, 0xFF, an overlong lead */
    ur_detok_init(&d, v, 0, 0);
    int32_t bad[] = {3 + 0x80, 3 + 0xFF, 3 + 0xC0, 3 + 'A'};
    push_all(&d, bad, 4, &o2);
    CHECK(o2.len == 10 && memcmp(o2.data, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "A", 10) == 0);
    /* a surrogate (ED A0 ..) is invalid at its second byte */
    int32_t sur[] = {3 + 0xED, 3 + 0xA0, 3 + 0x80};
    ur_buf o3 = {0};
    push_all(&d, sur, 3, &o3);
    ur_detok_flush(&d, &o3);
    CHECK(o3.len == 9); /* ED cut short, then A0 and 80 each alone */
    ur_buf_free(&o2);
    ur_buf_free(&o3);

    /* a control token between byte tokens with special=1: its text cuts the character short */
    ur_detok_init(&d, v, 1, 0);
    int32_t mix[] = {243, 2, 3 + 't'};
    push_all(&d, mix, 3, &o2);
    CHECK(o2.len == 8 && memcmp(o2.data, "\xef\xbf\xbd</s>t", 8) == 0);
    ur_buf_free(&o2);
}

/* ---- 1 MB inputs (linear time) -------------------------------------------------------- */

static void test_speed_1mb(void) {
    const ur_vocab *v = llama_vocab();
    if (!v) SKIP("fixtures absent (%s)", SPM_GGUF);
    size_t n = 1 << 20, len = 0;
    char *s = malloc(n + 8);
    static const char *const words[] = {"the ", "quick ", "brown ", "fox ", "\n", "Übermäßig ", "日本語 ", "🦙 ",
                                        "  ", "tokenization ", "3.14159 ", "don't "};
    while (len < n - 32) {
        const char *w = words[rnd() % (sizeof words / sizeof words[0])];
        memcpy(s + len, w, strlen(w));
        len += strlen(w);
    }
    double t0 = ur_now();
    ur_err err = {{0}};
    int k = ur_tokenize(v, s, len, 1, 0, NULL, 0, &err);
    double dt = ur_now() - t0;
    CHECK(k > 100000);
    /* Not a speed target (the machine may be shared): a guard against super-linear blowup only,
     * which on 1 MB would take minutes. The figure is printed. */
    double limit = 30.0;
    CHECKF(dt < limit, "1 MB took %.3f s", dt);
    printf("# tokenize %zu bytes -> %d tokens in %.3f s\n", len, k, dt);
    /* one long word without spaces: a single fragment of 1 MB */
    memset(s, 'a', n);
    t0 = ur_now();
    k = ur_tokenize(v, s, n, 0, 0, NULL, 0, &err);
    dt = ur_now() - t0;
    CHECK(k > 0);
    CHECKF(dt < limit, "1 MB of 'a' took %.3f s", dt);
    printf("# tokenize %zu x 'a' -> %d tokens in %.3f s\n", n, k, dt);
    free(s);
}

/* ---- small vocabs written here ------------------------------------------------------------ */

typedef struct tiny {
    const char *toks[300];
    float scores[300];
    int32_t types[300];
    int n;
} tiny;

static void tiny_add(tiny *t, const char *s, float score, int type) {
    t->toks[t->n] = s;
    t->scores[t->n] = score;
    t->types[t->n] = type;
    t->n++;
}

/* <unk> <s> </s>, 256 byte tokens (3..258), then `normal` with descending scores. */
static void tiny_base(tiny *t, int with_bytes) {
    static char bytes[256][7];
    t->n = 0;
    tiny_add(t, "<unk>", 0, UR_TOK_UNKNOWN);
    tiny_add(t, "<s>", 0, UR_TOK_CONTROL);
    tiny_add(t, "</s>", 0, UR_TOK_CONTROL);
    if (with_bytes)
        for (int b = 0; b < 256; b++) {
            snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
            tiny_add(t, bytes[b], 0, UR_TOK_BYTE);
        }
}

static ur_gguf_writer *tiny_writer(const tiny *t) {
    ur_gguf_writer *w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "general.architecture", "llama");
    ur_gguf_w_str(w, "tokenizer.ggml.model", "llama");
    ur_gguf_w_arr_str(w, "tokenizer.ggml.tokens", t->toks, NULL, (uint64_t)t->n);
    ur_gguf_w_arr(w, "tokenizer.ggml.scores", UR_GGUF_F32, t->scores, (uint64_t)t->n);
    ur_gguf_w_arr(w, "tokenizer.ggml.token_type", UR_GGUF_I32, t->types, (uint64_t)t->n);
    return w;
}

/* Write, open and load; returns the vocab or NULL with err set. *g must be closed by the caller. */
static ur_vocab *tiny_load(ur_gguf_writer *w, const char *name, ur_gguf **g, ur_err *err) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", th_tmpdir(), name);
    *g = NULL;
    int rc = ur_gguf_write(w, path, err);
    ur_gguf_writer_free(w);
    if (rc < 0) return NULL;
    *g = ur_gguf_open(path, err);
    if (!*g) return NULL;
    return ur_vocab_load(*g, err);
}

static void expect_load_error(ur_gguf_writer *w, const char *name, const char *needle) {
    ur_gguf *g;
    ur_err err = {{0}};
    ur_vocab *v = tiny_load(w, name, &g, &err);
    CHECKF(!v && g, "%s: loaded (or the GGUF did not open: %.300s)", name, err.msg);
    CHECKF(strstr(err.msg, needle) && strstr(err.msg, name) && !strchr(err.msg, '\n'),
           "%s: message '%.300s' lacks '%s'", name, err.msg, needle);
    ur_vocab_free(v);
    ur_gguf_close(g);
}

static void test_bad_metadata(void) {
    tiny t;
    tiny_base(&t, 1);
    tiny_add(&t, "a", -1, UR_TOK_NORMAL);

    ur_gguf_writer *w = tiny_writer(&t);
    ur_gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
    expect_load_error(w, "gpt2", "key 'tokenizer.ggml.merges' is missing");

    w = tiny_writer(&t);
    ur_gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
    ur_gguf_w_str(w, "tokenizer.ggml.pre", "klingon");
    expect_load_error(w, "gpt2pre", "pre-tokenizer 'klingon' (tokenizer.ggml.pre) is not supported");

    w = tiny_writer(&t);
    ur_gguf_w_str(w, "tokenizer.ggml.model", "t5");
    expect_load_error(w, "t5", "tokenizer 't5' (Unigram) is not supported yet");

    w = tiny_writer(&t);
    ur_gguf_w_str(w, "tokenizer.ggml.model", "weird\x01");
    expect_load_error(w, "weird", "tokenizer 'weird\\x01' is not supported");

    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    w = tiny_writer(&t);
    ur_gguf_w_str(w, "tokenizer.ggml.model", longname);
    expect_load_error(w, "longname", "xxx...' is not supported");

    w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "general.architecture", "llama");
    expect_load_error(w, "nomodel", "tokenizer.ggml.model");

    w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "tokenizer.ggml.model", "llama");
    ur_gguf_w_arr(w, "tokenizer.ggml.scores", UR_GGUF_F32, t.scores, (uint64_t)t.n);
    ur_gguf_w_arr(w, "tokenizer.ggml.token_type", UR_GGUF_I32, t.types, (uint64_t)t.n);
    expect_load_error(w, "notokens", "'tokenizer.ggml.tokens' is missing");

    w = tiny_writer(&t);
    ur_gguf_w_arr(w, "tokenizer.ggml.scores", UR_GGUF_F32, t.scores, (uint64_t)t.n - 1);
    expect_load_error(w, "shortscores", "differ in length");

    w = tiny_writer(&t);
    ur_gguf_w_arr(w, "tokenizer.ggml.token_type", UR_GGUF_I32, t.types, 2);
    expect_load_error(w, "shorttypes", "differ in length");

    w = tiny_writer(&t);
    ur_gguf_w_arr(w, "tokenizer.ggml.tokens", UR_GGUF_I32, t.types, (uint64_t)t.n);
    expect_load_error(w, "tokensnotstr", "tokenizer.ggml.tokens");

    w = tiny_writer(&t);
    ur_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t.n);
    expect_load_error(w, "bosrange", "bos_token_id = 260 is out of range");

    w = tiny_writer(&t);
    ur_gguf_w_i32(w, "tokenizer.ggml.eos_token_id", -3);
    expect_load_error(w, "eosneg", "eos_token_id = -3 is out of range");

    w = tiny_writer(&t);
    ur_gguf_w_str(w, "tokenizer.ggml.add_bos_token", "yes");
    expect_load_error(w, "addbosstr", "add_bos_token");

    const char *empty[1] = {0};
    w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "tokenizer.ggml.model", "llama");
    ur_gguf_w_arr_str(w, "tokenizer.ggml.tokens", empty, NULL, 0);
    ur_gguf_w_arr(w, "tokenizer.ggml.scores", UR_GGUF_F32, t.scores, 0);
    ur_gguf_w_arr(w, "tokenizer.ggml.token_type", UR_GGUF_I32, t.types, 0);
    expect_load_error(w, "emptyvocab", "is empty");

    tiny b = t;
    b.toks[3] = "<0xZZ>";
    w = tiny_writer(&b);
    expect_load_error(w, "badbyte", "token 3 has type BYTE");
}

static void test_tiny_vocab(void) {
    tiny t;
    tiny_base(&t, 1);
    int a = t.n;
    tiny_add(&t, "a", -5, UR_TOK_NORMAL);
    tiny_add(&t, "aa", -1, UR_TOK_NORMAL);
    tiny_add(&t, "\xe2\x96\x81", -3, UR_TOK_NORMAL);
    int sa = t.n;
    tiny_add(&t, "\xe2\x96\x81" "a", -2, UR_TOK_NORMAL);
    int ud = t.n;
    tiny_add(&t, "[X]", 0, UR_TOK_USER_DEFINED);
    int im = t.n;
    tiny_add(&t, "<|im_end|>", 0, UR_TOK_CONTROL);
    tiny_add(&t, "<|im_end|>x", 0, UR_TOK_UNUSED);

    ur_gguf_writer *w = tiny_writer(&t);
    ur_gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", 0);
    ur_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 0);
    ur_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", 1);
    ur_gguf *g;
    ur_err err = {{0}};
    ur_vocab *v = tiny_load(w, "tiny", &g, &err);
    CHECKF(v, "%.300s", err.msg);
    if (!v) { ur_gguf_close(g); return; }
    CHECK(ur_vocab_add_bos(v) == 0 && ur_vocab_add_eos(v) == 1);
    CHECK(ur_vocab_eot(v) == im && ur_vocab_is_eog(v, im) && ur_vocab_is_eog(v, 2));

    int n;
    /* equal scores: the leftmost pair merges first: "aaa" -> "aa" "a" */
    int32_t *ids = tok(v, "aaa", 3, 0, 0, &n);
    int32_t w1[] = {a + 1, a};
    CHECK(ids && same_ids(ids, n, w1, 2));
    free(ids);
    /* no space prefix; " a" -> "▁a"; "ab": 'b' is not a token -> byte 0x62 */
    ids = tok(v, " ab", 3, 0, 0, &n);
    int32_t w2[] = {sa, 3 + 'b'};
    CHECK(ids && same_ids(ids, n, w2, 2));
    free(ids);
    /* user-defined tokens are split out even without parse_special; control ones only with it */
    ids = tok(v, "a[X]a", 5, 0, 0, &n);
    int32_t w3[] = {a, ud, a};
    CHECK(ids && same_ids(ids, n, w3, 3));
    free(ids);
    ids = tok(v, "a<|im_end|>", 11, 0, 1, &n);
    int32_t w4[] = {a, im};
    CHECK(ids && same_ids(ids, n, w4, 2));
    free(ids);
    ids = tok(v, "<|im_end|>", 10, 0, 0, &n);
    CHECK(ids && n == 10 && ids[0] == 3 + '<');
    free(ids);
    /* user-defined tokens print verbatim; unused ones print nothing */
    char b[16];
    CHECK(ur_token_to_bytes(v, ud, 0, b, sizeof b) == 3 && memcmp(b, "[X]", 3) == 0);
    CHECK(ur_token_to_bytes(v, im + 1, 1, b, sizeof b) == 0);
    ur_vocab_free(v);
    ur_gguf_close(g);

    /* no byte tokens: an unknown character becomes <unk> */
    tiny_base(&t, 0);
    tiny_add(&t, "\xe2\x96\x81", -1, UR_TOK_NORMAL);
    v = tiny_load(tiny_writer(&t), "nobytes", &g, &err);
    CHECKF(v, "%.300s", err.msg);
    if (v) {
        ids = tok(v, "\xc3\xa9", 2, 1, 0, &n);
        int32_t w5[] = {1, 3, 0};
        CHECK(ids && same_ids(ids, n, w5, 3));
        free(ids);
    }
    ur_vocab_free(v);
    ur_gguf_close(g);
    t.types[0] = UR_TOK_NORMAL;
    w = tiny_writer(&t);
    ur_gguf_w_i32(w, "tokenizer.ggml.unknown_token_id", -1);
    v = tiny_load(w, "nounk", &g, &err);
    /* an id of -1 names no token: a load error, not "none" */
    CHECK(!v && strstr(err.msg, "unknown_token_id"));
    ur_vocab_free(v);
    ur_gguf_close(g);
}

int main(void) {
    th_suite = "tokenizer";
    RUN(test_llama_cpp_vectors);
    RUN(test_llama_cpp_extra);
    RUN(test_llama_vocab_facts);
    RUN(test_round_trip_cases);
    RUN(test_round_trip_random);
    RUN(test_round_trip_bytes);
    RUN(test_special_round_trip);
    RUN(test_detokenize_buffer);
    RUN(test_detok_stream);
    RUN(test_speed_1mb);
    RUN(test_bad_metadata);
    RUN(test_tiny_vocab);
    ur_vocab_free(llama_v);
    ur_gguf_close(llama_g);
    TEST_MAIN_END();
}
