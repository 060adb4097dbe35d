/* Jinja lexer: @huggingface/jinja's preprocessing and tokenizer, rule for rule, so that
 * whitespace comes out byte-identical to Hugging Face's rendering.
 *
 * Preprocessing only ever deletes characters, so a map from each kept byte to its
 * offset in the original text lets every token (and so every error) carry its
 * original position. The steps, in HF's order:
 *   1. one trailing "\n" of the template is dropped;
 *   2. lstrip_blocks: spaces and tabs between a line start and "{%", "{#" or "{-" go;
 *   3. trim_blocks: the "\n" right after "%}", "#}" or "-}" goes;
 *   4. {% generation %} / {% endgeneration %} tags (transformers' marker for the
 *      assistant's tokens) are removed, with the whitespace their "-" asks for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JJ_INTERNAL
#include "chat/jinja.h"

/* ---- positions ---------------------------------------------------------------------- */
void jj_where(const char *src, size_t len, uint32_t pos, char *buf, size_t cap) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < len; i++) {
        if (src[i] == '\n') line++, col = 1;
        else if (((unsigned char)src[i] & 0xC0) != 0x80) col++;
    }
    snprintf(buf, cap, "line %zu, column %zu", line, col);
}

/* ---- preprocessing -------------------------------------------------------------------------- */
typedef struct pp_text {
    char *s;
    uint32_t *map; /* map[i]: offset in the original of s[i]; map[n]: the end */
    size_t n;
} pp_text;

static void pp_init(pp_text *t, size_t cap) {
    t->s = ur_xmalloc(cap + 1);
    t->map = ur_xmalloc(sizeof *t->map * (cap + 1));
    t->n = 0;
}
static void pp_keep(pp_text *t, const pp_text *from, size_t i) {
    t->s[t->n] = from->s[i];
    t->map[t->n++] = from->map[i];
}
static void pp_end(pp_text *t, uint32_t end) {
    t->s[t->n] = 0;
    t->map[t->n] = end;
}
static void pp_free(pp_text *t) {
    free(t->s);
    free(t->map);
}

static int in_set(char c, const char *set) { return c && strchr(set, c); }

/* JavaScript line terminators (where a multiline regex's ^ matches after). */
static int line_start(const char *s, size_t i) {
    if (i == 0) return 1;
    if (s[i - 1] == '\n' || s[i - 1] == '\r') return 1;
    return i >= 3 && (unsigned char)s[i - 3] == 0xE2 && (unsigned char)s[i - 2] == 0x80 &&
           ((unsigned char)s[i - 1] == 0xA8 || (unsigned char)s[i - 1] == 0xA9);
}

static void pp_lstrip(const pp_text *in, pp_text *out) {
    pp_init(out, in->n);
    for (size_t i = 0; i < in->n;) {
        if (line_start(in->s, i)) {
            size_t j = i;
            while (j < in->n && (in->s[j] == ' ' || in->s[j] == '\t')) j++;
            if (j > i && j + 1 < in->n && in->s[j] == '{' && in_set(in->s[j + 1], "#%-")) i = j;
        }
        pp_keep(out, in, i++);
    }
    pp_end(out, in->map[in->n]);
}

static void pp_trim(const pp_text *in, pp_text *out) {
    pp_init(out, in->n);
    for (size_t i = 0; i < in->n; i++) {
        pp_keep(out, in, i);
        if (in->s[i] == '}' && i > 0 && in_set(in->s[i - 1], "#%-") && i + 1 < in->n &&
            in->s[i + 1] == '\n')
            i++;
    }
    pp_end(out, in->map[in->n]);
}

static size_t skip_space(const char *s, size_t n, size_t i) {
    uint32_t cp;
    while (i < n) {
        size_t l = ju_decode(s + i, n - i, &cp);
        if (!ju_space(cp)) break;
        i += l;
    }
    return i;
}

/* Match /{%(-?)\s*(?:end)?generation\s*(-?)%}(\s*)/ at s[i]; returns the end or 0. */
static size_t match_generation(const char *s, size_t n, size_t i, int *lstrip, int *rstrip, size_t *after) {
    if (i + 2 > n || s[i] != '{' || s[i + 1] != '%') return 0;
    size_t j = i + 2;
    *lstrip = j < n && s[j] == '-';
    j = skip_space(s, n, j + (size_t)*lstrip);
    if (j + 3 <= n && !memcmp(s + j, "end", 3) && j + 13 <= n && !memcmp(s + j + 3, "generation", 10)) j += 3;
    if (j + 10 > n || memcmp(s + j, "generation", 10)) return 0;
    j = skip_space(s, n, j + 10);
    *rstrip = j < n && s[j] == '-';
    j += (size_t)*rstrip;
    if (j + 2 > n || s[j] != '%' || s[j + 1] != '}') return 0;
    *after = j + 2;
    return skip_space(s, n, j + 2);
}

static void pp_generation(const pp_text *in, pp_text *out) {
    pp_init(out, in->n);
    size_t last = 0;
    for (size_t i = 0; i < in->n;) {
        int ls, rs;
        size_t after, end = match_generation(in->s, in->n, i, &ls, &rs, &after);
        if (!end) {
            i++;
            continue;
        }
        size_t keep = i;
        while (ls && keep > last) { /* back over whitespace, a whole character at a time */
            size_t k = keep - 1;
            while (k > last && ((unsigned char)in->s[k] & 0xC0) == 0x80) k--;
            uint32_t cp;
            ju_decode(in->s + k, keep - k, &cp);
            if (!ju_space(cp)) break;
            keep = k;
        }
        for (size_t k = last; k < keep; k++) pp_keep(out, in, k);
        if (!rs)
            for (size_t k = after; k < end; k++) pp_keep(out, in, k);
        last = i = end;
    }
    for (size_t k = last; k < in->n; k++) pp_keep(out, in, k);
    pp_end(out, in->map[in->n]);
}

static void preprocess(const char *src, size_t len, pp_text *out) {
    pp_text a, b;
    size_t n = len && src[len - 1] == '\n' ? len - 1 : len;
    pp_init(&a, n);
    for (size_t i = 0; i < n; i++) a.s[i] = src[i], a.map[i] = (uint32_t)i;
    a.n = n;
    pp_end(&a, (uint32_t)n);
    pp_lstrip(&a, &b);
    pp_free(&a);
    pp_trim(&b, &a);
    pp_free(&b);
    pp_generation(&a, out);
    pp_free(&a);
}

/* ---- tokens ------------------------------------------------------------------------------------ */
typedef struct lexer {
    const char *s; /* preprocessed text */
    const uint32_t *map;
    size_t n, cur;
    jj_tok *t;
    int nt, cap;
    int curly; /* open { inside {{ }}, so that "}}" there closes a dict */
    jj_arena *a;
    const char *orig;
    size_t orig_len;
    ur_err *err;
} lexer;

static int lex_fail(lexer *L, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lex_fail(lexer *L, size_t at, const char *fmt, ...) {
    char where[64], msg[512];
    jj_where(L->orig, L->orig_len, L->map[at < L->n ? at : L->n], where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ur_errf(L->err, "%s: %s", where, msg);
}

static void push(lexer *L, int type, size_t at, const char *v, size_t n) {
    if (L->nt == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 256;
        L->t = ur_xrealloc(L->t, sizeof *L->t * (size_t)L->cap);
    }
    L->t[L->nt++] = (jj_tok){type, L->map[at], ja_str(L->a, v, n)};
}
static int last_type(const lexer *L) { return L->nt ? L->t[L->nt - 1].t : -1; }

/* "{%-" / "{{-" / "{#-": the text before loses its trailing whitespace. */
static void strip_trailing(lexer *L) {
    if (last_type(L) != TK_TEXT) return;
    jj_tok *t = &L->t[L->nt - 1];
    size_t b, e;
    ju_trim(t->v->s, t->v->len, 0, 1, &b, &e);
    if (e == 0) L->nt--;
    else t->v = ja_str(L->a, t->v->s, e);
}
static void skip_leading(lexer *L) { L->cur = skip_space(L->s, L->n, L->cur); }

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_word(int c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

/* HF's consumeWhile: running into the end of the input while the class still holds is an error. */
static int consume(lexer *L, int (*cls)(int), size_t *start) {
    *start = L->cur;
    while (L->cur < L->n && cls((unsigned char)L->s[L->cur]))
        if (++L->cur >= L->n) return lex_fail(L, L->n, "unexpected end of the template inside a tag");
    return 0;
}

static int text_token(lexer *L) {
    size_t end = L->cur;
    for (;; end++) {
        const char *p = memchr(L->s + end, '{', L->n - end);
        if (!p) {
            end = L->n;
            break;
        }
        end = (size_t)(p - L->s);
        if (end + 1 < L->n && in_set(L->s[end + 1], "%{#")) break;
    }
    if (end <= L->cur) return 0;
    push(L, TK_TEXT, L->cur, L->s + L->cur, end - L->cur);
    L->cur = end;
    return 1;
}

static int comment_token(lexer *L) {
    size_t at = L->cur;
    L->cur += 2;
    int strip_before = L->cur < L->n && L->s[L->cur] == '-';
    L->cur += (size_t)strip_before;
    const char *e = NULL;
    for (size_t i = L->cur; i + 1 < L->n; i++)
        if (L->s[i] == '#' && L->s[i + 1] == '}') {
            e = L->s + i;
            break;
        }
    if (!e) return lex_fail(L, at, "the comment is not closed with '#}'");
    size_t end = (size_t)(e - L->s);
    int strip_after = end > L->cur && L->s[end - 1] == '-';
    if (strip_before) strip_trailing(L);
    push(L, TK_COMMENT, at, "", 0);
    L->cur = end + 2;
    if (strip_after) skip_leading(L);
    return 0;
}

static int hexval(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A string literal's escapes, decoded. \uD83D\uDE00 pairs become one character; a lone
 * surrogate becomes U+FFFD (what a JavaScript string holding one prints as in UTF-8). */
static int string_token(lexer *L) {
    size_t at = L->cur;
    char q = L->s[L->cur++];
    ur_buf b = {0};
    ur_buf_put(&b, "", 0);
    uint32_t hi = 0; /* a pending high surrogate */
    for (;;) {
        if (L->cur >= L->n) {
            ur_buf_free(&b);
            return lex_fail(L, at, "the string is not closed");
        }
        char c = L->s[L->cur++];
        if (c == q) break;
        if (c != '\\') {
            if (hi) ju_encode(&b, 0xFFFD), hi = 0;
            ur_buf_put(&b, &c, 1);
            continue;
        }
        if (L->cur >= L->n) continue; /* the next round reports the open string */
        char e = L->s[L->cur++];
        static const char from[] = "ntrbfv'\"\\", to[] = "\n\t\r\b\f\v'\"\\";
        const char *k = strchr(from, e);
        if (e && k) {
            if (hi) ju_encode(&b, 0xFFFD), hi = 0;
            ur_buf_put(&b, &to[k - from], 1);
            continue;
        }
        if (e != 'x' && e != 'u') {
            ur_buf_free(&b);
            return lex_fail(L, L->cur - 2, "unknown escape '\\%c' in a string", e);
        }
        int nh = e == 'x' ? 2 : 4;
        uint32_t v = 0;
        for (int i = 0; i < nh; i++) {
            int h = L->cur + (size_t)i < L->n ? hexval((unsigned char)L->s[L->cur + (size_t)i]) : -1;
            if (h < 0) {
                ur_buf_free(&b);
                return lex_fail(L, L->cur - 2, "invalid escape '\\%c' in a string (it needs %d hex digits)", e, nh);
            }
            v = v * 16 + (uint32_t)h;
        }
        L->cur += (size_t)nh;
        if (hi && v >= 0xDC00 && v <= 0xDFFF) {
            ju_encode(&b, 0x10000 + ((hi - 0xD800) << 10) + (v - 0xDC00));
            hi = 0;
            continue;
        }
        if (hi) ju_encode(&b, 0xFFFD), hi = 0;
        if (v >= 0xD800 && v <= 0xDBFF) hi = v;
        else ju_encode(&b, v >= 0xDC00 && v <= 0xDFFF ? 0xFFFD : v);
    }
    if (hi) ju_encode(&b, 0xFFFD);
    push(L, TK_STR, at, b.data, b.len);
    ur_buf_free(&b);
    return 0;
}

static int number_token(lexer *L, size_t at, const char *sign) {
    size_t s;
    if (consume(L, is_digit, &s)) return -1;
    ur_buf b = {0};
    ur_buf_puts(&b, sign);
    ur_buf_put(&b, L->s + s, L->cur - s);
    if (L->cur > s && L->cur + 1 < L->n && L->s[L->cur] == '.' && is_digit((unsigned char)L->s[L->cur + 1]) &&
        (*sign || last_type(L) != TK_DOT)) {
        L->cur++;
        if (consume(L, is_digit, &s)) return ur_buf_free(&b), -1;
        ur_buf_puts(&b, ".");
        ur_buf_put(&b, L->s + s, L->cur - s);
    }
    int digits = b.len > strlen(sign);
    push(L, digits ? TK_NUM : TK_UNARY, at, b.data, b.len);
    ur_buf_free(&b);
    return 0;
}

typedef struct rule {
    const char *seq;
    int type;
} rule;
static const rule RULES[] = {
    {"{%", TK_OS}, {"%}", TK_CS},   {"{{", TK_OE},  {"}}", TK_CE},    {"(", TK_LP},     {")", TK_RP},
    {"{", TK_LC},  {"}", TK_RC},    {"[", TK_LB},   {"]", TK_RB},     {",", TK_COMMA},  {".", TK_DOT},
    {":", TK_COLON}, {"|", TK_PIPE}, {"<=", TK_CMP}, {">=", TK_CMP},  {"==", TK_CMP},   {"!=", TK_CMP},
    {"<", TK_CMP}, {">", TK_CMP},   {"+", TK_ADD},  {"-", TK_ADD},    {"~", TK_ADD},    {"**", TK_POW},
    {"*", TK_MUL}, {"//", TK_MUL},  {"/", TK_MUL},  {"%", TK_MUL},    {"=", TK_EQUALS},
};

static int rule_token(lexer *L) {
    for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++) {
        const rule *r = &RULES[i];
        size_t k = strlen(r->seq);
        if (r->type == TK_CE && L->curly > 0) continue;
        if (L->cur + k > L->n || memcmp(L->s + L->cur, r->seq, k)) continue;
        push(L, r->type, L->cur, r->seq, k);
        if (r->type == TK_OE) L->curly = 0;
        else if (r->type == TK_LC) L->curly++;
        else if (r->type == TK_RC) L->curly--;
        L->cur += k;
        return 1;
    }
    return 0;
}

/* One step of HF's tokenize loop; 0 to go on, -1 on error. */
static int lex_step(lexer *L) {
    int last = last_type(L);
    if ((last < 0 || last == TK_CS || last == TK_CE || last == TK_COMMENT) && text_token(L)) return 0;
    if (L->s[L->cur] == '{') {
        char next = L->cur + 1 < L->n ? L->s[L->cur + 1] : 0;
        if (next == '#') return comment_token(L);
        if (L->cur + 2 < L->n && L->s[L->cur + 2] == '-' && (next == '%' || next == '{')) {
            strip_trailing(L);
            push(L, next == '%' ? TK_OS : TK_OE, L->cur, next == '%' ? "{%" : "{{", 2);
            if (next == '{') L->curly = 0;
            L->cur += 3;
            return 0;
        }
    }
    /* whitespace inside a tag (HF: running into the end here is an error) */
    size_t before = L->cur;
    L->cur = skip_space(L->s, L->n, L->cur);
    if (L->cur >= L->n) return lex_fail(L, before, "unexpected end of the template inside a tag");
    char c = L->s[L->cur];
    if (c == '-' && L->cur + 2 < L->n && L->s[L->cur + 2] == '}' && (L->s[L->cur + 1] == '%' || L->s[L->cur + 1] == '}')) {
        int stmt = L->s[L->cur + 1] == '%';
        push(L, stmt ? TK_CS : TK_CE, L->cur, stmt ? "%}" : "}}", 2);
        L->cur += 3;
        skip_leading(L);
        return 0;
    }
    if (c == '-' || c == '+') {
        if (last < 0 || last == TK_TEXT) return lex_fail(L, L->cur, "unexpected character '%c'", c);
        if (last != TK_NAME && last != TK_NUM && last != TK_STR && last != TK_RP && last != TK_RB) {
            size_t at = L->cur++;
            return number_token(L, at, c == '-' ? "-" : "+");
        }
    }
    if (rule_token(L)) return 0;
    if (c == '\'' || c == '"') return string_token(L);
    if (is_digit((unsigned char)c)) return number_token(L, L->cur, "");
    if (is_word((unsigned char)c)) {
        size_t s;
        if (consume(L, is_word, &s)) return -1;
        push(L, TK_NAME, s, L->s + s, L->cur - s);
        return 0;
    }
    uint32_t cp;
    size_t l = ju_decode(L->s + L->cur, L->n - L->cur, &cp);
    return lex_fail(L, L->cur, "unexpected character '%.*s' in a tag", (int)l, L->s + L->cur);
}

int jj_lex(const char *src, size_t len, jj_arena *a, jj_tok **toks, int *n, ur_err *err) {
    pp_text p;
    preprocess(src, len, &p);
    lexer L = {.s = p.s, .map = p.map, .n = p.n, .a = a, .orig = src, .orig_len = len, .err = err};
    int rc = 0;
    while (L.cur < L.n && !(rc = lex_step(&L))) {
    }
    if (!rc) push(&L, TK_EOF, L.n, "", 0);
    pp_free(&p);
    if (rc) {
        free(L.t);
        return -1;
    }
    /* tokens live in the arena with the tree */
    *toks = ja_alloc(a, sizeof **toks * (size_t)L.nt);
    memcpy(*toks, L.t, sizeof **toks * (size_t)L.nt);
    *n = L.nt;
    free(L.t);
    return 0;
}
