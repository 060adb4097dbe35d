/* UTF-8 text with JavaScript's string semantics, as @huggingface/jinja's runtime has
 * them: its whitespace (String.prototype.trim, \s), its lengths (UTF-16 code units)
 * and its case mapping (here: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic and
 * fullwidth letters, and ß -> SS; other scripts keep their case). */
#include <string.h>

#define JJ_INTERNAL
#include "chat/jinja.h"

/* ECMAScript WhiteSpace and LineTerminator: what trim() removes and \s matches. */
int ju_space(uint32_t c) {
    if (c <= 32) return c == 32 || (c >= 9 && c <= 13);
    return c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

size_t ju_decode(const char *s, size_t n, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    if (!n) return *cp = 0, 0;
    if (u[0] < 0x80) return *cp = u[0], 1;
    size_t l = u[0] >= 0xF0 && u[0] < 0xF8 ? 4 : u[0] >= 0xE0 ? 3 : u[0] >= 0xC2 && u[0] < 0xE0 ? 2 : 0;
    if (!l || l > n) return *cp = 0xFFFD, 1;
    uint32_t c = u[0] & (0x7F >> l);
    for (size_t i = 1; i < l; i++) {
        if ((u[i] & 0xC0) != 0x80) return *cp = 0xFFFD, 1;
        c = c << 6 | (u[i] & 0x3F);
    }
    if ((l == 3 && c < 0x800) || (l == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF))
        return *cp = 0xFFFD, 1;
    return *cp = c, l;
}

void ju_encode(ur_buf *b, uint32_t c) {
    char t[4];
    size_t n;
    if (c < 0x80) t[0] = (char)c, n = 1;
    else if (c < 0x800) t[0] = (char)(0xC0 | c >> 6), t[1] = (char)(0x80 | (c & 0x3F)), n = 2;
    else if (c < 0x10000)
        t[0] = (char)(0xE0 | c >> 12), t[1] = (char)(0x80 | ((c >> 6) & 0x3F)), t[2] = (char)(0x80 | (c & 0x3F)), n = 3;
    else
        t[0] = (char)(0xF0 | c >> 18), t[1] = (char)(0x80 | ((c >> 12) & 0x3F)), t[2] = (char)(0x80 | ((c >> 6) & 0x3F)),
        t[3] = (char)(0x80 | (c & 0x3F)), n = 4;
    ur_buf_put(b, t, n);
}

size_t ju_count(const char *s, size_t n) {
    size_t k = 0;
    uint32_t cp;
    for (size_t i = 0; i < n; k++) i += ju_decode(s + i, n - i, &cp);
    return k;
}

size_t ju_utf16_len(const char *s, size_t n) {
    size_t k = 0;
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        i += ju_decode(s + i, n - i, &cp);
        k += cp >= 0x10000 ? 2 : 1;
    }
    return k;
}

void ju_trim(const char *s, size_t n, int left, int right, size_t *b, size_t *e) {
    size_t i = 0, j = n;
    uint32_t cp;
    while (left && i < n) {
        size_t l = ju_decode(s + i, n - i, &cp);
        if (!ju_space(cp)) break;
        i += l;
    }
    while (right && j > i) {
        size_t k = j - 1;
        while (k > i && j - k < 4 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        size_t l = ju_decode(s + k, j - k, &cp);
        if (k + l != j || !ju_space(cp)) break;
        j = k;
    }
    *b = i;
    *e = j;
}

/* Latin Extended-A case pairs: the upper case letter at an even offset from `first`,
 * its lower case right after; 0 when c is outside [first, last]. */
static uint32_t pair_case(uint32_t c, int upper, uint32_t first, uint32_t last) {
    if (c < first || c > last) return 0;
    int is_upper = (c - first) % 2 == 0;
    if (upper) return is_upper ? c : c - 1;
    return is_upper ? c + 1 : c;
}

uint32_t ju_case_cp(uint32_t c, int upper) {
    if (c < 0x80) {
        if (upper && c >= 'a' && c <= 'z') return c - 32;
        if (!upper && c >= 'A' && c <= 'Z') return c + 32;
        return c;
    }
    if (c >= 0xC0 && c <= 0xFE && c != 0xD7 && c != 0xF7 && c != 0xDF) {
        if (upper && c >= 0xE0) return c - 32;
        if (!upper && c < 0xE0) return c + 32;
        return c;
    }
    if (upper && c == 0xFF) return 0x178;
    if (upper && c == 0xB5) return 0x39C;
    if (!upper && c == 0x178) return 0xFF;
    if (upper && c == 0x17F) return 'S';
    if (c == 0x130 || c == 0x131) return upper ? (c == 0x131 ? 'I' : c) : (c == 0x130 ? 'i' : c);
    uint32_t r;
    if ((r = pair_case(c, upper, 0x100, 0x12F)) || (r = pair_case(c, upper, 0x132, 0x137)) ||
        (r = pair_case(c, upper, 0x139, 0x148)) || (r = pair_case(c, upper, 0x14A, 0x177)) ||
        (r = pair_case(c, upper, 0x179, 0x17E)))
        return r;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return upper ? c : c + 32;
    if (c >= 0x3B1 && c <= 0x3C9) return upper ? (c == 0x3C2 ? 0x3A3 : c - 32) : c;
    if (c >= 0x410 && c <= 0x42F) return upper ? c : c + 32;
    if (c >= 0x430 && c <= 0x44F) return upper ? c - 32 : c;
    if (c >= 0x400 && c <= 0x40F) return upper ? c : c + 80;
    if (c >= 0x450 && c <= 0x45F) return upper ? c - 80 : c;
    if (c >= 0xFF21 && c <= 0xFF3A) return upper ? c : c + 32;
    if (c >= 0xFF41 && c <= 0xFF5A) return upper ? c - 32 : c;
    return c;
}

void ju_case(const char *s, size_t n, int upper, ur_buf *out) {
    uint32_t cp;
    ur_buf_put(out, "", 0);
    for (size_t i = 0; i < n;) {
        size_t l = ju_decode(s + i, n - i, &cp);
        if (upper && cp == 0xDF) ur_buf_puts(out, "SS");
        else if (cp == 0xFFFD && l == 1 && (unsigned char)s[i] >= 0x80) ur_buf_put(out, s + i, 1); /* keep bad bytes */
        else ju_encode(out, ju_case_cp(cp, upper));
        i += l;
    }
}
