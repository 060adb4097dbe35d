/* tokenizer/pretok: regex-equivalent scanners for the pre-tokenizers that
 * tokenizer.ggml.pre names (the regexes are llama.cpp's and the Hugging Face
 * tokenizer.json files' for the same models).
 *
 * Each scanner answers "how long is the match at position i": it tries the regex's
 * alternatives in order and, within one, reproduces what backtracking would find (an
 * optional first character is taken only if the rest still matches; `\s+(?!\S)` gives
 * back the last whitespace character when a non-space follows; `\s*[\r\n]+` ends after
 * the last CR/LF of the whitespace run). The split loop around them is matchAll's: the
 * leftmost match from the current position, and the characters no alternative matches
 * form gap pieces of their own ("Isolated" splitting). */
#include <stdio.h>
#include <string.h>

#include "tokenizer/pretok.h"
#include "urial/tokenizer.h"
#include "tokenizer/unicode.h"

#define IS(i, m) ((t->cl[i] & (m)) != 0)

static int crlf(uint32_t c) { return c == '\r' || c == '\n'; }
static uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* end of the run of characters with any class bit in m, from i */
static size_t run(const ur_pt_text *t, size_t i, size_t end, uint16_t m) {
    while (i < end && IS(i, m)) i++;
    return i;
}

/* not whitespace, letter or number: [^\s\p{L}\p{N}] */
static int other(const ur_pt_text *t, size_t i) { return !IS(i, UR_CL_WS | UR_CL_L | UR_CL_N); }

/* 's 't 're 've 'm 'll 'd at i (case-insensitive over ASCII when `fold`): the length or 0 */
static size_t contraction(const ur_pt_text *t, size_t i, size_t end, int fold) {
    if (t->cp[i] != '\'' || i + 1 >= end) return 0;
    uint32_t a = fold ? ascii_lower(t->cp[i + 1]) : t->cp[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= end) return 0;
    uint32_t b = fold ? ascii_lower(t->cp[i + 2]) : t->cp[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* The whitespace alternatives at a whitespace character i (j: the end of its run):
 * `\s*[\r\n]+` (when crlf_alt) ends after the run's last CR/LF; `\s+(?!\S)` takes the
 * run, less its last character when a non-space follows; `\s+` the run. */
static size_t ws_tail(const ur_pt_text *t, size_t i, size_t end, int crlf_alt) {
    size_t j = run(t, i, end, UR_CL_WS);
    if (crlf_alt)
        for (size_t k = j; k > i; k--)
            if (crlf(t->cp[k - 1])) return k - i;
    if (j == end || j - 1 == i) return j - i;
    return j - 1 - i;
}

/* ---- cl100k-style (Llama-3, Qwen2): ----------------------------------------------------
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*
 * |\s*[\r\n]+|\s+(?!\S)|\s+        with D = 3 (llama-bpe) or 1 (qwen2) */
static size_t m_cl100k(const ur_pt_text *t, size_t i, size_t end, size_t digits) {
    uint32_t c = t->cp[i];
    size_t n = contraction(t, i, end, 1);
    if (n) return n;
    if (IS(i, UR_CL_L)) return run(t, i, end, UR_CL_L) - i;
    if (!crlf(c) && !IS(i, UR_CL_N) && i + 1 < end && IS(i + 1, UR_CL_L)) return run(t, i + 1, end, UR_CL_L) - i;
    if (IS(i, UR_CL_N)) {
        size_t j = i;
        while (j < end && j - i < digits && IS(j, UR_CL_N)) j++;
        return j - i;
    }
    size_t k = c == ' ' && i + 1 < end && other(t, i + 1) ? i + 1 : i;
    if (other(t, k)) {
        size_t j = k;
        while (j < end && other(t, j)) j++;
        while (j < end && crlf(t->cp[j])) j++;
        return j - i;
    }
    return IS(i, UR_CL_WS) ? ws_tail(t, i, end, 1) : 0;
}
static size_t m_llama3(const ur_pt_text *t, size_t i, size_t end) { return m_cl100k(t, i, end, 3); }
static size_t m_qwen2(const ur_pt_text *t, size_t i, size_t end) { return m_cl100k(t, i, end, 1); }

/* ---- GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ ---- */
static size_t m_gpt2(const ur_pt_text *t, size_t i, size_t end) {
    size_t n = contraction(t, i, end, 0);
    if (n) return n;
    int sp = t->cp[i] == ' ' && i + 1 < end;
    if (sp && IS(i + 1, UR_CL_L)) return run(t, i + 1, end, UR_CL_L) - i;
    if (IS(i, UR_CL_L)) return run(t, i, end, UR_CL_L) - i;
    if (sp && IS(i + 1, UR_CL_N)) return run(t, i + 1, end, UR_CL_N) - i;
    if (IS(i, UR_CL_N)) return run(t, i, end, UR_CL_N) - i;
    size_t k = sp && other(t, i + 1) ? i + 1 : i;
    if (other(t, k)) {
        while (k < end && other(t, k)) k++;
        return k - i;
    }
    return ws_tail(t, i, end, 0);
}

/* ---- single-purpose stages ---------------------------------------------------------- */
static size_t m_digit(const ur_pt_text *t, size_t i, size_t end) { /* \p{N} */
    (void)end;
    return IS(i, UR_CL_N) ? 1 : 0;
}
static size_t m_digits(const ur_pt_text *t, size_t i, size_t end) { /* \p{N}+ */
    return run(t, i, end, UR_CL_N) - i;
}
static size_t m_digits3(const ur_pt_text *t, size_t i, size_t end) { /* \p{N}{1,3} */
    size_t j = i;
    while (j < end && j - i < 3 && IS(j, UR_CL_N)) j++;
    return j - i;
}
static size_t m_ascii3(const ur_pt_text *t, size_t i, size_t end) { /* [0-9][0-9][0-9] */
    for (size_t k = 0; k < 3; k++)
        if (i + k >= end || t->cp[i + k] < '0' || t->cp[i + k] > '9') return 0;
    return 3;
}
static int punct_default(const ur_pt_text *t, size_t i, const char *extra) {
    return IS(i, UR_CL_P) || (t->cp[i] < 128 && t->cp[i] && strchr(extra, (int)t->cp[i]));
}
static size_t m_punct_default(const ur_pt_text *t, size_t i, size_t end) { /* [\p{P}\$\+<=>\^~\|]+ */
    size_t j = i;
    while (j < end && punct_default(t, j, "$+<=>^~|")) j++;
    return j - i;
}
static size_t m_punct_falcon(const ur_pt_text *t, size_t i, size_t end) { /* [\p{P}\$\+<=>\^~\|`]+ */
    size_t j = i;
    while (j < end && punct_default(t, j, "$+<=>^~|`")) j++;
    return j - i;
}
static size_t m_crlf(const ur_pt_text *t, size_t i, size_t end) { /* [\r\n] */
    (void)end;
    return crlf(t->cp[i]) ? 1 : 0;
}

/* a run of code points in sorted, disjoint [lo, hi] ranges, after an optional \s (\s?X+) */
typedef struct { uint32_t lo, hi; } range;
static int in_ranges(uint32_t c, const range *r, size_t n) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid].lo) hi = mid;
        else if (c > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}
static size_t ranges_run(const ur_pt_text *t, size_t i, size_t end, const range *r, size_t n) {
    while (i < end && in_ranges(t->cp[i], r, n)) i++;
    return i;
}
static size_t opt_ws_ranges(const ur_pt_text *t, size_t i, size_t end, const range *r, size_t n) {
    if (IS(i, UR_CL_WS) && i + 1 < end && in_ranges(t->cp[i + 1], r, n)) return ranges_run(t, i + 1, end, r, n) - i;
    return ranges_run(t, i, end, r, n) - i;
}

/* [一-龥぀-ゟ゠-ヿ]+ (DeepSeek-V3) */
static const range CJK_KANA[] = {{0x3040, 0x309F}, {0x30A0, 0x30FF}, {0x4E00, 0x9FA5}};
static size_t m_cjk_kana(const ur_pt_text *t, size_t i, size_t end) {
    return ranges_run(t, i, end, CJK_KANA, 3) - i;
}
/* [一-龥ࠀ-一가-퟿]+ (DeepSeek LLM and Coder): U+0800..U+4E00 and U+4E00..U+9FA5 overlap in one range */
static const range CJK_HANGUL[] = {{0x0800, 0x9FA5}, {0xAC00, 0xD7FF}};
static size_t m_cjk_hangul(const ur_pt_text *t, size_t i, size_t end) {
    return ranges_run(t, i, end, CJK_HANGUL, 2) - i;
}

/* ---- DeepSeek-V3: [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
 *      | ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ ------------------------------------------ */
static int ascii_punct(uint32_t c) { return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126); }
static int ascii_alpha(uint32_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static size_t m_deepseek3(const ur_pt_text *t, size_t i, size_t end) {
    uint32_t c = t->cp[i];
    if (ascii_punct(c) && i + 1 < end && ascii_alpha(t->cp[i + 1])) {
        size_t j = i + 1;
        while (j < end && ascii_alpha(t->cp[j])) j++;
        return j - i;
    }
    /* the optional class takes a mark too, but then [\p{L}\p{M}]+ goes on from the same run */
    if (IS(i, UR_CL_L | UR_CL_M)) return run(t, i, end, UR_CL_L | UR_CL_M) - i;
    if (!crlf(c) && !IS(i, UR_CL_L | UR_CL_P | UR_CL_S) && i + 1 < end && IS(i + 1, UR_CL_L | UR_CL_M))
        return run(t, i + 1, end, UR_CL_L | UR_CL_M) - i;
    size_t k = c == ' ' && i + 1 < end && IS(i + 1, UR_CL_P | UR_CL_S) ? i + 1 : i;
    if (IS(k, UR_CL_P | UR_CL_S)) {
        size_t j = run(t, k, end, UR_CL_P | UR_CL_S);
        while (j < end && crlf(t->cp[j])) j++;
        return j - i;
    }
    return IS(i, UR_CL_WS) ? ws_tail(t, i, end, 1) : 0;
}

/* ---- DeepSeek LLM (v1) and Coder ------------------------------------------------------- */
/* \s?[A-Za-zµÀ-ÖØ-öø-ƺ...𞤀-𞥃]+ : the cased-letter ranges of llama.cpp's regex */
static const range DS_LETTERS[] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA}, {0x1BC, 0x1BF},
    {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377}, {0x37B, 0x37D}, {0x37F, 0x37F},
    {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C}, {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481},
    {0x48A, 0x52F}, {0x531, 0x556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D},
    {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC},
    {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102},
    {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126},
    {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3},
    {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF},
    {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
    {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF},
    {0x1E900, 0x1E943},
};
static size_t m_ds_letters(const ur_pt_text *t, size_t i, size_t end) {
    return opt_ws_ranges(t, i, end, DS_LETTERS, sizeof DS_LETTERS / sizeof DS_LETTERS[0]);
}
/* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
static const range DS_PUNCT[] = {{0x21, 0x2F}, {0x3A, 0x7E}, {0x2018, 0x201F}, {0x3000, 0x3002},
                                 {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}};
static size_t m_ds_punct(const ur_pt_text *t, size_t i, size_t end) {
    return opt_ws_ranges(t, i, end, DS_PUNCT, sizeof DS_PUNCT / sizeof DS_PUNCT[0]);
}
/* \s+$ : whitespace reaching the end of the piece */
static size_t m_ws_end(const ur_pt_text *t, size_t i, size_t end) {
    return IS(i, UR_CL_WS) && run(t, i, end, UR_CL_WS) == end ? end - i : 0;
}
/* \s?\p{L}+ and \s?\p{P}+ (DeepSeek Coder) */
static size_t opt_ws_class(const ur_pt_text *t, size_t i, size_t end, uint16_t m) {
    if (IS(i, UR_CL_WS) && i + 1 < end && IS(i + 1, m)) return run(t, i + 1, end, m) - i;
    return run(t, i, end, m) - i;
}
static size_t m_ws_letters(const ur_pt_text *t, size_t i, size_t end) { return opt_ws_class(t, i, end, UR_CL_L); }
static size_t m_ws_punct(const ur_pt_text *t, size_t i, size_t end) { return opt_ws_class(t, i, end, UR_CL_P); }

/* ---- the table ------------------------------------------------------------------------- */

#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static const char *const A_LLAMA3[] = {"llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", NULL};
static const char *const A_CL100K[] = {"dbrx", "smaug-bpe", "chatglm-bpe", "glm4", NULL};
static const char *const A_QWEN2[] = {"deepseek-r1-qwen", NULL};
static const char *const A_STABLELM2[] = {"megrez", "hunyuan", NULL};
static const char *const A_GPT2[] = {"mpt", "olmo", "jais", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en",
                                     "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe", "trillion", NULL};
static const char *const A_SMOLLM[] = {"starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", NULL};
static const char *const A_DS3[] = {"hunyuan-dense", NULL};
static const char *const A_NONE[] = {NULL};

#define CL100K_RE(d) \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" d \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static const ur_pretok P_LLAMA3 = {"llama-bpe", A_LLAMA3, {m_llama3}, 1, 1, 1, 0, CL100K_RE("{1,3}")};
static const ur_pretok P_CL100K = {"dbrx", A_CL100K + 1, {m_llama3}, 1, 0, 0, 0, CL100K_RE("{1,3}")};
static const ur_pretok P_QWEN2 = {"qwen2", A_QWEN2, {m_qwen2}, 1, 0, 0, 1, CL100K_RE("")};
/* the same regex for families whose tokenizer.json has no NFC normalizer (as far as known) */
static const ur_pretok P_STABLELM2 = {"stablelm2", A_STABLELM2, {m_qwen2}, 1, 0, 0, 0, CL100K_RE("")};
static const ur_pretok P_GPT2 = {"gpt-2", A_GPT2, {m_gpt2}, 1, 0, 0, 0, GPT2_RE};
static const ur_pretok P_SMOLLM = {"smollm", A_SMOLLM, {m_digit, m_gpt2}, 2, 0, 0, 0, "\\p{N} ; " GPT2_RE};
static const ur_pretok P_DEFAULT = {"default", A_NONE, {m_punct_default, m_gpt2, m_digits, m_ascii3}, 4, 0, 0, 0,
                                    "[\\p{P}\\$\\+<=>\\^~\\|]+ ; " GPT2_RE " ; \\p{N}+ ; [0-9][0-9][0-9]"};
static const ur_pretok P_FALCON = {"falcon", A_NONE, {m_punct_falcon, m_gpt2, m_ascii3}, 3, 0, 0, 0,
                                   "[\\p{P}\\$\\+<=>\\^~\\|`]+ ; " GPT2_RE " ; [0-9][0-9][0-9]"};
static const ur_pretok P_DS3 = {"deepseek-v3", A_DS3, {m_digits3, m_cjk_kana, m_deepseek3}, 3, 0, 0, 0,
                                "\\p{N}{1,3} ; [一-龥぀-ゟ゠-ヿ]+ ; [!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
                                "|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+"
                                "|\\s+(?!\\S)|\\s+"};
static const ur_pretok P_DSLLM = {"deepseek-llm", A_NONE,
                                  {m_crlf, m_ds_letters, m_ds_punct, m_ws_end, m_cjk_hangul, m_digits}, 6, 0, 0, 0,
                                  "[\\r\\n] ; \\s?[A-Za-zµÀ-ÖØ-öø-ƺ…𞤀-𞥃]+ ; \\s?[!-/:-~！-／：-～‘-‟　-。]+ ; \\s+$ ; "
                                  "[一-龥ࠀ-一가-퟿]+ ; \\p{N}+"};
static const ur_pretok P_DSCODER = {"deepseek-coder", A_NONE, {m_crlf, m_ws_letters, m_ws_punct, m_cjk_hangul, m_digit},
                                    5, 0, 0, 0,
                                    "[\\r\\n] ; \\s?\\p{L}+ ; \\s?\\p{P}+ ; [一-龥ࠀ-一가-퟿]+ ; \\p{N}"};

const ur_pretok *const ur_pretoks[] = {&P_LLAMA3, &P_QWEN2, &P_GPT2, &P_SMOLLM, &P_DEFAULT, &P_DS3, &P_DSLLM,
                                       &P_DSCODER, &P_FALCON, &P_CL100K, &P_STABLELM2, NULL};

static int is(const char *a, const char *s, size_t len) { return strlen(a) == len && memcmp(a, s, len) == 0; }

const ur_pretok *ur_pretok_find(const char *name, size_t len) {
    for (size_t k = 0; ur_pretoks[k]; k++) {
        const ur_pretok *p = ur_pretoks[k];
        if (is(p->name, name, len)) return p;
        for (const char *const *a = p->alias; *a; a++)
            if (is(*a, name, len)) return p;
    }
    return NULL;
}

/* ---- the split loop ---------------------------------------------------------------------- */

static void split_stage(const ur_pretok *p, int s, const ur_pt_text *t, size_t start, size_t end, ur_pt_emit emit,
                        void *ctx) {
    if (s == p->n_stages) {
        emit(ctx, start, end);
        return;
    }
    ur_pt_match match = p->stage[s];
    size_t i = start, gap = start;
    while (i < end) {
        size_t m = match(t, i, end);
        if (!m) {
            i++;
            continue;
        }
        if (gap < i) split_stage(p, s + 1, t, gap, i, emit, ctx);
        split_stage(p, s + 1, t, i, i + m, emit, ctx);
        i += m;
        gap = i;
    }
    if (gap < end) split_stage(p, s + 1, t, gap, end, emit, ctx);
}

void ur_pretok_split(const ur_pretok *p, const ur_pt_text *t, size_t start, size_t end, ur_pt_emit emit, void *ctx) {
    if (start < end) split_stage(p, 0, t, start, end, emit, ctx);
}

size_t ur_pretok_names(char *buf, size_t n) {
    ur_buf b = {0};
    for (size_t k = 0; ur_pretoks[k]; k++) {
        ur_buf_printf(&b, ur_pretoks[k]->alias[0] ? "  %-15s" : "  %s", ur_pretoks[k]->name);
        for (const char *const *a = ur_pretoks[k]->alias; *a; a++)
            ur_buf_printf(&b, "%s%s", a == ur_pretoks[k]->alias ? " also " : ", ", *a);
        ur_buf_puts(&b, "\n");
    }
    if (n) snprintf(buf, n, "%s", b.data ? b.data : "");
    size_t len = b.len;
    ur_buf_free(&b);
    return len;
}
