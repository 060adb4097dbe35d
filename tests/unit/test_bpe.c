/* Byte-level BPE and what it stands on: the generated Unicode tables against unicode-data
 * facts (and against /usr/share/unicode/UnicodeData.txt when Debian's unicode-data is
 * installed), NFC, every pre-tokenizer's splits (each case worked out from the regex's
 * semantics), merges by rank on a small vocab written here, special tokens, EOG and BOS
 * rules, invalid UTF-8, and the streaming detokenizer with characters split across byte
 * tokens. The real vocabularies against tokenizers.js: tests/cli/test_tokenizer_ref.sh. */
#include "harness.h"

#include <stdint.h>

#include "tokenizer/pretok.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_int.h"
#include "urial/gguf.h"
#include "urial/tokenizer.h"

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

/* ---- Unicode tables ------------------------------------------------------------------ */

static void test_unicode_facts(void) {
    static const struct { uint32_t cp; int cat; } facts[] = {
        {'A', UR_LU}, {'z', UR_LL}, {'0', UR_ND}, {' ', UR_ZS}, {'\n', UR_CC}, {'!', UR_PO}, {'$', UR_SC},
        {'+', UR_SM}, {'^', UR_SK}, {'_', UR_PC}, {'(', UR_PS}, {')', UR_PE}, {'-', UR_PD}, {0xA0, UR_ZS},
        {0xB2, UR_NO}, {0xB5, UR_LL}, {0xAD, UR_CF}, {0x1C5, UR_LT}, {0x2B0, UR_LM}, {0x301, UR_MN},
        {0x378, UR_CN}, {0x5D0, UR_LO}, {0x660, UR_ND}, {0x903, UR_MC}, {0x20DD, UR_ME}, {0x2028, UR_ZL},
        {0x2029, UR_ZP}, {0x2160, UR_NL}, {0x3000, UR_ZS}, {0x4E00, UR_LO}, {0x9FFF, UR_LO}, {0xAC00, UR_LO},
        {0xD7A3, UR_LO}, {0xD800, UR_CS}, {0xE000, UR_CO}, {0xFEFF, UR_CF}, {0xFF10, UR_ND}, {0xFFFD, UR_SO},
        {0x1F600, UR_SO}, {0x1F3FB, UR_SK}, {0x20000, UR_LO}, {0xE0001, UR_CF}, {0x10FFFD, UR_CO},
        {0x10FFFF, UR_CN}, {0x201C, UR_PI}, {0x201D, UR_PF}, {0xE01EF, UR_MN},
    };
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        CHECKF((ur_ucat_byte(facts[i].cp) & 31) == facts[i].cat, "U+%04X: category %d, want %d", facts[i].cp,
               ur_ucat_byte(facts[i].cp) & 31, facts[i].cat);
    /* White_Space is exactly these 25 code points (PropList.txt) */
    int n_ws = 0;
    for (uint32_t c = 0; c < 0x110000; c++) {
        int ws = (c >= 9 && c <= 13) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
                 (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
                 c == 0x3000;
        n_ws += (ur_uclass(c) & UR_CL_WS) != 0;
        CHECKF(ws == ((ur_uclass(c) & UR_CL_WS) != 0), "U+%04X: White_Space %d", c, !ws);
    }
    CHECK(n_ws == 25);
    CHECK(ur_uclass('a') == (UR_CL_L | UR_CL_LL) && ur_uclass('7') == (UR_CL_N | UR_CL_ND));
    CHECK(ur_uclass(0x2161) == UR_CL_N && ur_uclass('\'') == UR_CL_P && ur_uclass('`') == UR_CL_S);
    CHECK(ur_uclass(0x85) == UR_CL_WS && ur_uclass(0xFEFF) == 0 && ur_uclass(0x110000) == 0);
    /* code points assigned after Unicode 15.0 (tools/unicode_newer.txt): Garay digits and
     * letters (16.0), CJK Extension I (15.1), an emoji of 16.0 */
    CHECK((ur_uclass(0x10D40) & UR_CL_N) && (ur_uclass(0x10D4A) & UR_CL_L) && (ur_uclass(0x2EBF0) & UR_CL_L));
    CHECK(ur_uclass(0x1FAE9) == UR_CL_S && ur_uclass(0x10D3F) == 0);

    /* every line of UnicodeData.txt, when Debian's unicode-data is installed */
    FILE *f = fopen("/usr/share/unicode/UnicodeData.txt", "r");
    if (!f) return;
    static const char *const names[] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
                                        "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};
    char line[512];
    int lines = 0, bad = 0;
    uint32_t first = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned cp;
        char name[256], gc[8];
        if (sscanf(line, "%X;%255[^;];%7[^;]", &cp, name, gc) != 3) continue;
        int cat = -1;
        for (int k = 0; k < 30; k++)
            if (!strcmp(names[k], gc)) cat = k;
        size_t nl = strlen(name);
        if (nl > 8 && !strcmp(name + nl - 8, ", First>")) { first = cp; continue; }
        uint32_t lo = nl > 7 && !strcmp(name + nl - 7, ", Last>") ? first : cp;
        for (uint32_t c = lo; c <= cp; c++) bad += (ur_ucat_byte(c) & 31) != cat;
        lines++;
    }
    fclose(f);
    CHECKF(lines > 30000 && bad == 0, "%d of UnicodeData.txt's code points differ (%d lines)", bad, lines);
}

static void test_nfc(void) {
    static const struct { uint32_t in[6]; size_t n; uint32_t out[6]; size_t m; } cases[] = {
        {{'e', 0x301}, 2, {0xE9}, 1},
        {{'A', 0x30A}, 2, {0xC5}, 1},
        {{0x212B}, 1, {0xC5}, 1},                         /* ANGSTROM SIGN: a singleton */
        {{0x1100, 0x1161, 0x11A8}, 3, {0xAC01}, 1},        /* Hangul L V T */
        {{0xAC00, 0x11A8}, 2, {0xAC01}, 1},                /* LV + T */
        {{'q', 0x307, 0x323}, 3, {'q', 0x323, 0x307}, 3},  /* marks reordered by class, none composes with q */
        {{'s', 0x307, 0x323}, 3, {0x1E69}, 1},             /* reordered, then s + dot below + dot above */
        {{0x958}, 1, {0x915, 0x93C}, 2},                   /* a composition exclusion stays decomposed */
        {{0xE9, 0x301}, 2, {0xE9, 0x301}, 2},              /* already composed: the acute is blocked */
        {{'a', 0x300, 0x301}, 3, {0xE0, 0x301}, 2},
        {{0x1E0A, 0x323}, 2, {0x1E0C, 0x307}, 2},          /* D-dot-above + dot below -> D-dot-below + dot above */
        {{'x', 'y'}, 2, {'x', 'y'}, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t out[32];
        size_t m = ur_nfc(cases[i].in, cases[i].n, out);
        CHECKF(m == cases[i].m && memcmp(out, cases[i].out, m * 4) == 0, "case %zu: %zu code points, first U+%04X", i,
               m, m ? out[0] : 0);
    }
}

/* ---- pre-tokenizers ------------------------------------------------------------------ */

typedef struct pieces {
    const uint32_t *cp;
    char buf[1024];
    size_t len;
} pieces;

static void collect(void *ctx, size_t a, size_t b) {
    pieces *p = ctx;
    if (p->len) p->buf[p->len++] = '|';
    for (size_t i = a; i < b && p->len < sizeof p->buf - 8; i++) p->len += put_cp(p->buf + p->len, p->cp[i]);
    p->buf[p->len] = 0;
}

/* The pieces of UTF-8 text under a pre-tokenizer, joined by '|'. */
static const char *split(const char *pre, const char *text, pieces *p) {
    const ur_pretok *pt = ur_pretok_find(pre, strlen(pre));
    if (!pt) return "(no such pre-tokenizer)";
    static uint32_t cp[512];
    static uint16_t cl[512];
    size_t n = 0, len = strlen(text);
    for (size_t i = 0; i < len && n < 512;) {
        int k = ur_utf8_decode((const unsigned char *)text + i, len - i, &cp[n]);
        if (!k) return "(invalid test text)";
        cl[n] = ur_uclass(cp[n]);
        n++;
        i += (size_t)k;
    }
    p->cp = cp;
    p->len = 0;
    p->buf[0] = 0;
    ur_pt_text t = {cp, cl};
    ur_pretok_split(pt, &t, 0, n, collect, p);
    return p->buf;
}

static void test_pretokenizers(void) {
    static const struct { const char *pre, *text, *want; } cases[] = {
        /* llama-bpe: (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
        {"llama-bpe", "Hello world", "Hello| world"},
        {"llama-bpe", "I'm here, WE'LL see", "I|'m| here|,| WE|'LL| see"},
        {"llama-bpe", "it's'S'x", "it|'s|'S|'x"},                 /* 'x is no contraction: [^..]?\p{L}+ */
        {"llama-bpe", "12345678", "123|456|78"},
        {"llama-bpe", "a  b", "a| | b"},                          /* \s+(?!\S) leaves the last space to " b" */
        {"llama-bpe", "a   \n\n b", "a|   \n\n| b"},              /* \s*[\r\n]+ ends after the last newline */
        {"llama-bpe", "x \n y", "x| \n| y"},
        {"llama-bpe", "!!!\n\nx", "!!!\n\n|x"},                   /* punctuation takes the newlines after it */
        {"llama-bpe", " ?!", " ?!"},
        {"llama-bpe", "\tabc", "\tabc"},                          /* any non-letter, non-digit, non-CR/LF before letters */
        {"llama-bpe", "\nabc", "\n|abc"},
        {"llama-bpe", "a 1", "a| |1"},
        {"llama-bpe", "   ", "   "},
        {"llama-bpe", "a   ", "a|   "},
        {"llama-bpe", "x\xc2\xa0y", "x|\xc2\xa0y"},                /* NBSP is \s but also [^\r\n\p{L}\p{N}] */
        {"llama-bpe", "3.14", "3|.|14"},
        {"llama-bpe", "\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6", "\xd9\xa3\xd9\xa4\xd9\xa5|\xd9\xa6"}, /* Arabic-Indic digits are \p{N} */
        {"llama-bpe", "\xe4\xb8\xad\xe6\x96\x87" "abc", "\xe4\xb8\xad\xe6\x96\x87" "abc"},
        {"llama-bpe", "e\xcc\x81t\xc3\xa9", "e|\xcc\x81t\xc3\xa9"}, /* a combining mark is not \p{L} */
        {"llama-bpe", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80 ok", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80| ok"},
        {"qwen2", "12345", "1|2|3|4|5"},
        {"qwen2", "I'M 42!", "I|'M| |4|2|!"},
        {"gpt-2", "Hello world", "Hello| world"},
        {"gpt-2", "I'M it's", "I|'|M| it|'s"},                    /* GPT-2's contractions are case-sensitive */
        {"gpt-2", "a  b  ", "a| | b|  "},
        {"gpt-2", "12345 678", "12345| 678"},
        {"gpt-2", " !?x", " !?|x"},
        {"olmo", "x\n\ny", "x|\n|\n|y"},                      /* no \s*[\r\n]+ here: \s+(?!\S) gives one back */
        {"smollm", "abc123 45", "abc|1|2|3| |4|5"},
        {"deepseek-v3", "Hello, world! 12345", "Hello|,| world|!| |123|45"},
        {"deepseek-v3", ".Net e\xcc\x81", ".Net| e\xcc\x81"},       /* ASCII punctuation + letters; marks join letters */
        {"deepseek-v3", "\xe4\xb8\xad\xe6\x96\x87\xe3\x81\x82" "abc", "\xe4\xb8\xad\xe6\x96\x87\xe3\x81\x82|abc"},
        {"deepseek-llm", "Hello, \xe4\xb8\x96\xe7\x95\x8c 12\n", "Hello|,| |\xe4\xb8\x96\xe7\x95\x8c| |12|\n"},
        {"default", "a+b=c 1234", "a|+|b|=|c| |123|4"},
    };
    pieces p;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = split(cases[i].pre, cases[i].text, &p);
        CHECKF(!strcmp(got, cases[i].want), "%s '%s': got '%s', want '%s'", cases[i].pre, cases[i].text, got,
               cases[i].want);
    }
    CHECK(ur_pretok_find("llama3", 6) == ur_pretok_find("llama-bpe", 9));
    /* Qwen2's pre-tokenizer normalizes to NFC; stablelm2 has the same regex without it */
    CHECK(ur_pretok_find("qwen2", 5)->nfc && !ur_pretok_find("stablelm2", 9)->nfc);
    CHECK(ur_pretok_find("llama-bpe", 9)->ignore_merges && !ur_pretok_find("dbrx", 4)->ignore_merges);
    char names[2048];
    CHECK(ur_pretok_names(names, sizeof names) < sizeof names && strstr(names, "  qwen2 ") &&
          strstr(names, "deepseek-v3") && !strstr(names, " \n"));
    CHECK(ur_pretok_find("nope", 4) == NULL);
}

/* ---- a small byte-level vocab ------------------------------------------------------------ */

/* 256 byte tokens (ids 0..255 in byte order), then merges:
 *   rank 0 "a b" -> "ab", 1 "b c" -> "bc", 2 "ab c" -> "abc", 3 "Ġ a" -> "Ġa", 4 "x x" -> "xx",
 * then a normal "yyy" (no merge makes it: ignore_merges only), and specials. */
enum { T_AB = 256, T_BC, T_ABC, T_SA, T_XX, T_YYY, T_EOT, T_IMEND, T_USER, T_BOS, T_N };

static ur_vocab *tiny_bpe(const char *pre, ur_gguf **g, int with_bos) {
    static char bytes[256][5];
    const char *toks[T_N];
    int32_t types[T_N];
    for (int b = 0; b < 256; b++) {
        size_t n = put_cp(bytes[b], ur_bpe_byte_cp(b));
        bytes[b][n] = 0;
        toks[b] = bytes[b];
        types[b] = UR_TOK_NORMAL;
    }
    const char *more[] = {"ab", "bc", "abc", "\xc4\xa0" "a", "xx", "yyy", "<|eot_id|>", "<|im_end|>", "[U]", "<|bos|>"};
    for (int i = T_AB; i < T_N; i++) {
        toks[i] = more[i - T_AB];
        types[i] = i >= T_EOT ? UR_TOK_CONTROL : UR_TOK_NORMAL;
    }
    types[T_USER] = UR_TOK_USER_DEFINED;
    const char *merges[] = {"a b", "b c", "ab c", "\xc4\xa0 a", "x x", "q zz"};
    ur_gguf_writer *w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "general.architecture", "llama");
    ur_gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre) ur_gguf_w_str(w, "tokenizer.ggml.pre", pre);
    ur_gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, T_N);
    ur_gguf_w_arr(w, "tokenizer.ggml.token_type", UR_GGUF_I32, types, T_N);
    ur_gguf_w_arr_str(w, "tokenizer.ggml.merges", merges, NULL, 6);
    if (with_bos) ur_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", T_BOS);
    char path[512];
    snprintf(path, sizeof path, "%s/bpe-%s-%d.gguf", th_tmpdir(), pre ? pre : "none", with_bos);
    ur_err err = {{0}};
    ur_vocab *v = NULL;
    if (ur_gguf_write(w, path, &err) == 0 && (*g = ur_gguf_open(path, &err)) != NULL) v = ur_vocab_load(*g, &err);
    if (!v) fprintf(stderr, "%s\n", err.msg);
    ur_gguf_writer_free(w);
    return v;
}

static int ids_are(const ur_vocab *v, const char *text, size_t len, int special, const int32_t *want, int nw) {
    int32_t got[64];
    ur_err err = {{0}};
    int n = ur_tokenize(v, text, len, 0, special, got, 64, &err);
    if (n != nw || memcmp(got, want, (size_t)n * sizeof *got) != 0) {
        fprintf(stderr, "'%s': got", text);
        for (int i = 0; i < n && i < 64; i++) fprintf(stderr, " %d", n < 0 ? -1 : got[i]);
        fprintf(stderr, " (%s)\n", err.msg);
        return 0;
    }
    return 1;
}
#define IDS(v, text, special, ...)                                                                    \
    do {                                                                                              \
        static const int32_t want_[] = {__VA_ARGS__};                                                 \
        CHECKF(ids_are(v, text, strlen(text), special, want_, (int)(sizeof want_ / sizeof want_[0])), \
               "'%s'", text);                                                                         \
    } while (0)

static void test_bpe_tiny(void) {
    ur_gguf *g = NULL;
    ur_vocab *v = tiny_bpe("gpt-2", &g, 0);
    REQUIRE(v);
    CHECK(strcmp(ur_vocab_model(v), "gpt2") == 0 && strcmp(ur_vocab_pre(v), "gpt-2") == 0);
    CHECK(ur_vocab_size(v) == T_N);
    IDS(v, "ab", 0, T_AB);
    IDS(v, "abc", 0, T_ABC);              /* a b -> ab (rank 0) before b c (rank 1), then ab c */
    IDS(v, "bc", 0, T_BC);
    IDS(v, "xxx", 0, T_XX, 'x');          /* ties: the leftmost pair first */
    IDS(v, "xxxx", 0, T_XX, T_XX);
    IDS(v, " a", 0, T_SA);                /* the space is "Ġ" (byte 0x20 -> U+0120) */
    IDS(v, "ab ab", 0, T_AB, ' ', T_AB);  /* pieces "ab" | " ab": a b (rank 0) beats Ġ a (rank 3) */
    IDS(v, "yyy", 0, 'y', 'y', 'y');      /* gpt-2 has no ignore_merges and no merge makes yyy */
    IDS(v, "q", 0, 'q');
    /* 24+ bytes take the heap path: the same result as the scan */
    IDS(v, "abababababababababababababababab", 0, T_AB, T_AB, T_AB, T_AB, T_AB, T_AB, T_AB, T_AB, T_AB, T_AB, T_AB,
        T_AB, T_AB, T_AB, T_AB, T_AB);
    IDS(v, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, T_XX, T_XX, T_XX, T_XX, T_XX, T_XX, T_XX, T_XX, T_XX, T_XX, T_XX,
        T_XX, T_XX, T_XX, T_XX, T_XX, T_XX, 'x');
    /* invalid UTF-8: one U+FFFD (EF BF BD) per maximal subpart */
    IDS(v, "a\xe2\x82" "b", 0, 'a', 0xEF, 0xBF, 0xBD, 'b');
    IDS(v, "\xc0\xaf", 0, 0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD);
    /* special tokens: control ones only with parse_special, user-defined ones always */
    IDS(v, "ab<|eot_id|>", 1, T_AB, T_EOT);
    IDS(v, "ab<|eot_id|>", 0, T_AB, '<', '|', 'e', 'o', 't', '_', 'i', 'd', '|', '>');
    IDS(v, "ab[U]ab", 0, T_AB, T_USER, T_AB);
    /* EOG: <|eot_id|> and <|im_end|> by their text; the first of them is the EOT token */
    CHECK(ur_vocab_is_eog(v, T_EOT) && ur_vocab_is_eog(v, T_IMEND) && !ur_vocab_is_eog(v, T_USER));
    CHECK(ur_vocab_eot(v) == T_EOT);
    /* BOS: llama.cpp's defaults for gpt2 vocabs without the keys (11, not added for gpt-2) */
    CHECK(ur_vocab_bos(v) == 11 && ur_vocab_eos(v) == 11 && ur_vocab_add_bos(v) == 0);
    CHECK(ur_vocab_is_eog(v, 11));
    /* detokenizing: byte-level characters back to bytes; no space is stripped */
    int32_t ids[] = {T_SA, 'b', T_EOT, 0xC3, 0xA9};
    char b[32];
    CHECK(ur_detokenize(v, ids, 5, 0, b, sizeof b) == 5 && !memcmp(b, " ab\xc3\xa9", 5));
    CHECK(ur_detokenize(v, ids, 5, 1, b, sizeof b) == 15 && !memcmp(b, " ab<|eot_id|>\xc3\xa9", 15));
    CHECK(ur_token_to_bytes(v, ' ', 0, b, sizeof b) == 1 && b[0] == ' ');  /* token 32 is byte 0x20's "Ġ"... */
    CHECK(ur_token_to_bytes(v, T_SA, 0, b, sizeof b) == 2 && !memcmp(b, " a", 2));
    ur_vocab_free(v);
    ur_gguf_close(g);

    /* llama-bpe: ignore_merges takes "yyy" whole; add_bos defaults to true */
    v = tiny_bpe("llama-bpe", &g, 1);
    REQUIRE(v);
    IDS(v, "yyy", 0, T_YYY);
    IDS(v, "xxx", 0, T_XX, 'x');
    CHECK(ur_vocab_add_bos(v) == 1 && ur_vocab_bos(v) == T_BOS);
    int32_t got[8];
    ur_err err = {{0}};
    CHECK(ur_tokenize(v, "ab", 2, 1, 0, got, 8, &err) == 2 && got[0] == T_BOS && got[1] == T_AB);
    ur_vocab_free(v);
    ur_gguf_close(g);

    /* no tokenizer.ggml.pre: llama.cpp's "default" */
    v = tiny_bpe(NULL, &g, 0);
    REQUIRE(v);
    CHECK(strcmp(ur_vocab_pre(v), "default") == 0);
    IDS(v, "a+b", 0, 'a', '+', 'b');
    ur_vocab_free(v);
    ur_gguf_close(g);
}

/* A character split across byte tokens comes out of the streaming detokenizer only once
 * complete; an impossible continuation ends it as U+FFFD. */
static void test_bpe_detok_stream(void) {
    ur_gguf *g = NULL;
    ur_vocab *v = tiny_bpe("llama-bpe", &g, 0);
    REQUIRE(v);
    ur_detok d;
    ur_buf out = {0};
    ur_detok_init(&d, v, 0, 1);
    int32_t emoji[] = {0xF0, 0x9F, 0xA6, 0x99}; /* 🦙 as four byte tokens */
    ur_detok_push(&d, T_SA, &out);
    CHECK(out.len == 2 && !memcmp(out.data, " a", 2)); /* no leading space is stripped in byte-level vocabs */
    for (int i = 0; i < 3; i++) {
        ur_detok_push(&d, emoji[i], &out);
        CHECK(out.len == 2);
    }
    ur_detok_push(&d, emoji[3], &out);
    CHECK(out.len == 6 && !memcmp(out.data + 2, "\xf0\x9f\xa6\x99", 4));
    ur_detok_push(&d, 0xC3, &out);
    CHECK(out.len == 6);
    ur_detok_push(&d, T_EOT, &out); /* a control token in between: prints nothing, holds the byte */
    ur_detok_push(&d, 0xA9, &out);
    CHECK(out.len == 8 && !memcmp(out.data + 6, "\xc3\xa9", 2));
    ur_detok_push(&d, 0xE2, &out);
    ur_detok_push(&d, 'x', &out);
    CHECK(out.len == 12 && !memcmp(out.data + 8, "\xef\xbf\xbdx", 4));
    ur_detok_push(&d, 0xE2, &out);
    ur_detok_flush(&d, &out);
    CHECK(out.len == 15 && !memcmp(out.data + 12, "\xef\xbf\xbd", 3));
    ur_buf_free(&out);
    ur_vocab_free(v);
    ur_gguf_close(g);
}

int main(void) {
    th_suite = "bpe";
    RUN(test_unicode_facts);
    RUN(test_nfc);
    RUN(test_pretokenizers);
    RUN(test_bpe_tiny);
    RUN(test_bpe_detok_stream);
    TEST_MAIN_END();
}
