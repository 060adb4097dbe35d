/* tokenizer/unicode: the Unicode facts the pre-tokenizers need, from tables generated
 * by tools/gen_unicode.py (src/tokenizer/unicode_tables.c and unicode_nfc_tables.c, Debian's unicode-data):
 * the general category and White_Space of every code point, and NFC. Not public. */
#ifndef URIAL_TOKENIZER_UNICODE_H
#define URIAL_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* General categories in the generated table's order (0 = Cn, unassigned). */
enum ur_ucat {
    UR_CN, UR_LU, UR_LL, UR_LT, UR_LM, UR_LO, UR_MN, UR_MC, UR_ME, UR_ND, UR_NL, UR_NO, UR_PC, UR_PD, UR_PS,
    UR_PE, UR_PI, UR_PF, UR_PO, UR_SM, UR_SC, UR_SK, UR_SO, UR_ZS, UR_ZL, UR_ZP, UR_CC, UR_CF, UR_CS, UR_CO,
};
#define UR_UWS 0x20  /* White_Space, or'ed into a table byte */
#define UR_UNFC 0x40 /* NFC may change the text around this code point */

extern const char ur_unicode_version[];
extern const uint16_t ur_ucat_stage1[0x110000 / 128];
extern const uint8_t ur_ucat_stage2[][128];

/* The table byte of code point c (< 0x110000): category | UR_UWS. */
static inline uint8_t ur_ucat_byte(uint32_t c) { return ur_ucat_stage2[ur_ucat_stage1[c >> 7]][c & 127]; }

/* Classes the pre-tokenizers test, one bit each (\p{L}, \p{N}, \p{P}, \p{S}, \p{M}, \s, ...). */
enum {
    UR_CL_L = 1, UR_CL_N = 2, UR_CL_P = 4, UR_CL_S = 8, UR_CL_M = 16, UR_CL_WS = 32,
    UR_CL_LU = 64, UR_CL_LL = 128, UR_CL_LT = 256, UR_CL_LM = 512, UR_CL_LO = 1024, UR_CL_ND = 2048,
};
uint16_t ur_uclass(uint32_t c);

/* Decode one UTF-8 sequence at s[0..n) (n >= 1) strictly: *cp and the length, or 0 when the
 * bytes are not a valid, complete, shortest-form sequence of a scalar value. */
int ur_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Length of the longest prefix of s[0..n) that can begin a valid sequence (>= 1): what a
 * WHATWG decoder replaces by one U+FFFD (the "maximal subpart") when decode fails. */
int ur_utf8_bad_len(const unsigned char *s, size_t n);

/* NFC of code points: decompose canonically, order marks by combining class, compose.
 * in[0..n) -> out, which has room for 4n code points (a full canonical decomposition is at
 * most 4 long); returns the length written (<= the decomposed length). Text in which no
 * code point has UR_UNFC is already NFC. */
size_t ur_nfc(const uint32_t *in, size_t n, uint32_t *out);

#endif
