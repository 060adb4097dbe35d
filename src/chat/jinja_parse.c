/* Jinja parser: tokens to a small syntax tree, with @huggingface/jinja's grammar
 * (its precedence climbing, function for function, lowest first):
 *   ternary / select  >  or  >  and  >  not  >  comparison, in, not in  >  + - ~
 *   >  * / // %  >  **  >  is [not] TEST  >  | FILTER(args)  >  unary - +
 *   >  call / member / subscript / slice  >  primary
 * Nodes remember where they start so that run-time errors can say where. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JJ_INTERNAL
#include "chat/jinja.h"

typedef struct parser {
    const jj_tok *t;
    int n, cur;
    jj_arena *a;
    const char *src;
    size_t len;
    ur_err *err;
    int depth;
} parser;

/* a growable list of nodes, copied into the arena when done */
typedef struct nvec {
    jj_node **v;
    int n, cap;
} nvec;
static void nv_push(nvec *v, jj_node *x) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 8;
        v->v = ur_xrealloc(v->v, sizeof *v->v * (size_t)v->cap);
    }
    v->v[v->n++] = x;
}
static jj_node **nv_done(parser *P, nvec *v, int *n) {
    *n = v->n;
    jj_node **out = v->n ? ja_alloc(P->a, sizeof *out * (size_t)v->n) : NULL;
    if (v->n) memcpy(out, v->v, sizeof *out * (size_t)v->n);
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
    return out;
}

static const jj_tok *tok(const parser *P) { return &P->t[P->cur]; }
static jj_node *node(parser *P, int kind, uint32_t pos) {
    jj_node *x = ja_alloc(P->a, sizeof *x);
    x->k = (uint8_t)kind;
    x->pos = pos;
    return x;
}

static const char *tok_desc(const jj_tok *t, char *buf, size_t cap) {
    switch (t->t) {
    case TK_EOF: return "the end of the template";
    case TK_TEXT: return "text";
    case TK_STR: return "a string";
    case TK_NUM: snprintf(buf, cap, "the number %.40s", t->v->s); return buf;
    case TK_NAME: snprintf(buf, cap, "'%.60s'", t->v->s); return buf;
    case TK_COMMENT: return "a comment";
    default: snprintf(buf, cap, "'%s'", t->v->s); return buf;
    }
}

static int perr(parser *P, uint32_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *P, uint32_t pos, const char *fmt, ...) {
    char where[64], msg[600];
    jj_where(P->src, P->len, pos, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ur_errf(P->err, "%s: %s", where, msg);
}
static int unexpected(parser *P, const char *want) {
    char b[96];
    return perr(P, tok(P)->pos, "expected %s, found %s", want, tok_desc(tok(P), b, sizeof b));
}

static int is(const parser *P, int type) { return P->t[P->cur].t == type; }
static int is_name(const parser *P, int off, const char *name) {
    if (P->cur + off >= P->n) return 0;
    const jj_tok *t = &P->t[P->cur + off];
    return t->t == TK_NAME && !strcmp(t->v->s, name);
}
static int expect(parser *P, int type, const char *want) {
    if (!is(P, type)) return unexpected(P, want);
    P->cur++;
    return 0;
}
static int expect_name(parser *P, const char *name, const char *want) {
    if (!is_name(P, 0, name)) return unexpected(P, want);
    P->cur++;
    return 0;
}
/* {% NAME where NAME is one of names (NULL-terminated) */
static int is_stmt(const parser *P, const char *const *names) {
    if (!is(P, TK_OS)) return 0;
    for (; *names; names++)
        if (is_name(P, 1, *names)) return 1;
    return 0;
}

static int parse_expr(parser *P, jj_node **out);
static int parse_primary(parser *P, jj_node **out);
static int parse_any(parser *P, jj_node **out, const char *open);

static int enter(parser *P) {
    if (++P->depth > JJ_MAX_DEPTH) return perr(P, tok(P)->pos, "the template nests too deeply");
    return 0;
}

/* ---- expressions ------------------------------------------------------------------------ */
static int parse_args(parser *P, int params, jj_node ***v, int *n) {
    if (expect(P, TK_LP, "'('")) return -1;
    nvec args = {0};
    int saw_kw = 0, saw_spread = 0;
    while (!is(P, TK_RP)) {
        const jj_tok *t = tok(P);
        int kwspread = t->t == TK_POW, spread = t->t == TK_MUL && !strcmp(t->v->s, "*");
        jj_node *x = NULL;
        if (params && (kwspread || spread)) goto bad_params;
        if (kwspread || spread) {
            P->cur++;
            x = node(P, kwspread ? N_KWSPREAD : N_SPREAD, t->pos);
            if (parse_expr(P, &x->a)) goto fail;
            nv_push(&args, x);
            if (kwspread) {
                if (is(P, TK_COMMA)) P->cur++;
                if (!is(P, TK_RP)) {
                    perr(P, t->pos, "'**' must be applied to the last argument");
                    goto fail;
                }
                break;
            }
            saw_spread = 1;
        } else {
            if (parse_expr(P, &x)) goto fail;
            if (is(P, TK_EQUALS)) {
                P->cur++;
                if (x->k != N_NAME) {
                    perr(P, x->pos, "expected a name before '='");
                    goto fail;
                }
                jj_node *kw = node(P, N_KWARG, x->pos);
                kw->s = x->s;
                if (parse_expr(P, &kw->a)) goto fail;
                x = kw;
                saw_kw = 1;
            } else if (params && x->k != N_NAME) {
                goto bad_params;
            } else if (saw_kw || saw_spread) {
                perr(P, x->pos, params ? "a parameter without a default follows one with a default"
                                       : "a positional argument follows a keyword argument or *args");
                goto fail;
            }
            if (params)
                for (int i = 0; i < args.n; i++)
                    if (args.v[i]->s && !strcmp(args.v[i]->s->s, x->s->s)) {
                        perr(P, x->pos, "parameter '%s' is declared twice", x->s->s);
                        goto fail;
                    }
            nv_push(&args, x);
        }
        if (is(P, TK_COMMA)) P->cur++;
    }
    P->cur++;
    *v = nv_done(P, &args, n);
    return 0;
bad_params:
    perr(P, tok(P)->pos, "a macro's parameters must be names, with optional defaults (name=value)");
fail:
    free(args.v);
    return -1;
}

/* [i], [a:b], [::-1] */
static int parse_subscript(parser *P, jj_node *obj, uint32_t pos, jj_node **out) {
    jj_node *parts[3] = {0};
    int np = 0, slice = 0;
    while (!is(P, TK_RB)) {
        if (np == 3) return perr(P, tok(P)->pos, "a slice has at most 3 parts");
        if (is(P, TK_COLON)) {
            parts[np++] = NULL;
            P->cur++;
            slice = 1;
        } else {
            if (parse_expr(P, &parts[np++])) return -1;
            if (is(P, TK_COLON)) P->cur++, slice = 1;
        }
    }
    if (np == 0) return perr(P, pos, "empty subscript '[]'");
    P->cur++;
    jj_node *m = node(P, slice ? N_SLICE : N_MEMBER, pos);
    m->a = obj;
    if (slice) {
        m->v = ja_alloc(P->a, sizeof *m->v * 3);
        memcpy(m->v, parts, sizeof parts);
        m->n = 3;
    } else {
        m->b = parts[0];
        m->op = 1;
    }
    *out = m;
    return 0;
}

static int parse_member(parser *P, jj_node **x) {
    while (is(P, TK_DOT) || is(P, TK_LB)) {
        uint32_t pos = tok(P)->pos;
        if (is(P, TK_LB)) {
            P->cur++;
            if (parse_subscript(P, *x, pos, x)) return -1;
            continue;
        }
        P->cur++;
        jj_node *prop;
        if (parse_primary(P, &prop)) return -1;
        if (prop->k == N_NAME) prop->k = N_STR;
        else if (prop->k != N_INT) return perr(P, prop->pos, "expected a name or an integer after '.'");
        jj_node *m = node(P, N_MEMBER, pos);
        m->a = *x;
        m->b = prop;
        *x = m;
    }
    return 0;
}

static int parse_call(parser *P, jj_node **x) {
    while (is(P, TK_LP)) {
        jj_node *c = node(P, N_CALL, (*x)->pos);
        c->a = *x;
        if (parse_args(P, 0, &c->v, &c->n)) return -1;
        *x = c;
        if (parse_member(P, x)) return -1;
    }
    return 0;
}

static int parse_unary(parser *P, jj_node **out) {
    const jj_tok *t = tok(P);
    if ((t->t == TK_UNARY || t->t == TK_ADD) && (!strcmp(t->v->s, "-") || !strcmp(t->v->s, "+"))) {
        P->cur++;
        jj_node *u = node(P, t->v->s[0] == '-' ? N_NEG : N_POS, t->pos);
        *out = u;
        if (enter(P)) return -1;
        int rc = parse_unary(P, &u->a);
        P->depth--;
        return rc;
    }
    if (parse_primary(P, out) || parse_member(P, out)) return -1;
    return parse_call(P, out);
}

static int parse_filter(parser *P, jj_node **out) {
    if (parse_unary(P, out)) return -1;
    while (is(P, TK_PIPE)) {
        P->cur++;
        if (!is(P, TK_NAME)) return unexpected(P, "a filter name after '|'");
        jj_node *f = node(P, N_FILTER, tok(P)->pos);
        f->s = tok(P)->v;
        P->cur++;
        f->a = *out;
        if (is(P, TK_LP)) {
            f->op = 1;
            if (parse_args(P, 0, &f->v, &f->n)) return -1;
        }
        *out = f;
    }
    return 0;
}

static int parse_test(parser *P, jj_node **out) {
    if (parse_filter(P, out)) return -1;
    while (is_name(P, 0, "is")) {
        P->cur++;
        int neg = is_name(P, 0, "not");
        P->cur += neg;
        if (!is(P, TK_NAME)) return unexpected(P, "a test name after 'is'");
        jj_node *t = node(P, N_TEST, tok(P)->pos);
        t->s = tok(P)->v;
        t->op = (uint8_t)neg;
        t->a = *out;
        P->cur++;
        *out = t;
    }
    return 0;
}

typedef int (*level_fn)(parser *P, jj_node **out);
/* One left-associative binary level: operands from `next`, operators from `op_of`. */
static int binary_level(parser *P, jj_node **out, level_fn next, int (*op_of)(parser *P)) {
    if (next(P, out)) return -1;
    int op;
    while ((op = op_of(P)) >= 0) {
        jj_node *b = node(P, N_BIN, tok(P)->pos);
        P->cur += op == OP_NOTIN ? 2 : 1;
        b->op = (uint8_t)op;
        b->a = *out;
        if (next(P, &b->b)) return -1;
        *out = b;
    }
    return 0;
}
static int op_pow(parser *P) { return is(P, TK_POW) ? OP_POW : -1; }
static int op_mul(parser *P) {
    if (!is(P, TK_MUL)) return -1;
    const char *s = tok(P)->v->s;
    return !strcmp(s, "*") ? OP_MUL : !strcmp(s, "/") ? OP_DIV : !strcmp(s, "//") ? OP_FLOORDIV : OP_MOD;
}
static int op_add(parser *P) {
    if (!is(P, TK_ADD)) return -1;
    char c = tok(P)->v->s[0];
    return c == '+' ? OP_ADD : c == '-' ? OP_SUB : OP_CAT;
}
static int op_cmp(parser *P) {
    if (is_name(P, 0, "not") && is_name(P, 1, "in")) return OP_NOTIN;
    if (is_name(P, 0, "in")) return OP_IN;
    if (!is(P, TK_CMP)) return -1;
    static const char *const ops[] = {"==", "!=", "<", ">", "<=", ">="};
    for (int i = 0; i < 6; i++)
        if (!strcmp(tok(P)->v->s, ops[i])) return OP_EQ + i;
    return -1;
}
static int op_and(parser *P) { return is_name(P, 0, "and") ? OP_AND : -1; }
static int op_or(parser *P) { return is_name(P, 0, "or") ? OP_OR : -1; }

static int parse_pow(parser *P, jj_node **out) { return binary_level(P, out, parse_test, op_pow); }
static int parse_mul(parser *P, jj_node **out) { return binary_level(P, out, parse_pow, op_mul); }
static int parse_add(parser *P, jj_node **out) { return binary_level(P, out, parse_mul, op_add); }
static int parse_cmp(parser *P, jj_node **out) { return binary_level(P, out, parse_add, op_cmp); }
static int parse_not(parser *P, jj_node **out) {
    if (!is_name(P, 0, "not")) return parse_cmp(P, out);
    jj_node *u = node(P, N_NOT, tok(P)->pos);
    P->cur++;
    *out = u;
    if (enter(P)) return -1;
    int rc = parse_not(P, &u->a);
    P->depth--;
    return rc;
}
static int parse_and(parser *P, jj_node **out) { return binary_level(P, out, parse_not, op_and); }
static int parse_or(parser *P, jj_node **out) { return binary_level(P, out, parse_and, op_or); }

static int parse_expr(parser *P, jj_node **out) {
    if (enter(P)) return -1;
    int rc = parse_or(P, out);
    if (!rc && is_name(P, 0, "if")) {
        jj_node *x = node(P, N_SELECT, tok(P)->pos);
        P->cur++;
        x->b = *out;
        rc = parse_or(P, &x->a);
        if (!rc && is_name(P, 0, "else")) {
            P->cur++;
            x->k = N_TERNARY;
            rc = parse_expr(P, &x->c);
        }
        *out = x;
    }
    P->depth--;
    return rc;
}

/* a, b, c (a tuple) or a single expression; `primary` for for-loop targets */
static int parse_sequence(parser *P, int primary, jj_node **out) {
    uint32_t pos = tok(P)->pos;
    if ((primary ? parse_primary(P, out) : parse_expr(P, out))) return -1;
    if (!is(P, TK_COMMA)) return 0;
    nvec v = {0};
    nv_push(&v, *out);
    while (is(P, TK_COMMA)) {
        P->cur++;
        jj_node *x;
        if ((primary ? parse_primary(P, &x) : parse_expr(P, &x))) return free(v.v), -1;
        nv_push(&v, x);
    }
    jj_node *t = node(P, N_TUPLE, pos);
    t->v = nv_done(P, &v, &t->n);
    *out = t;
    return 0;
}

static int parse_number(parser *P, const jj_tok *t, jj_node **out) {
    if (strchr(t->v->s, '.')) {
        *out = node(P, N_FLOAT, t->pos);
        (*out)->f = strtod(t->v->s, NULL);
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(t->v->s, &end, 10);
    if (errno) { /* beyond 64 bits: a JavaScript number is a double anyway */
        *out = node(P, N_FLOAT, t->pos);
        (*out)->f = strtod(t->v->s, NULL);
        return 0;
    }
    *out = node(P, N_INT, t->pos);
    (*out)->i = v;
    return 0;
}

static int parse_collection(parser *P, const jj_tok *t, jj_node **out) {
    int dict = t->t == TK_LC;
    jj_node *x = node(P, dict ? N_DICT : N_LIST, t->pos);
    nvec keys = {0}, vals = {0};
    while (!is(P, dict ? TK_RC : TK_RB)) {
        jj_node *k, *v;
        if (parse_expr(P, &k)) goto fail;
        nv_push(&keys, k);
        if (dict) {
            if (expect(P, TK_COLON, "':' between a key and its value") || parse_expr(P, &v)) goto fail;
            nv_push(&vals, v);
        }
        if (is(P, TK_COMMA)) P->cur++;
    }
    P->cur++;
    x->v = nv_done(P, &keys, &x->n);
    x->w = nv_done(P, &vals, &x->m);
    *out = x;
    return 0;
fail:
    free(keys.v);
    free(vals.v);
    return -1;
}

static int parse_primary(parser *P, jj_node **out) {
    const jj_tok *t = tok(P);
    if (t->t == TK_EOF) return unexpected(P, "an expression");
    if (enter(P)) return -1;
    P->cur++;
    int rc = 0;
    switch (t->t) {
    case TK_NUM: rc = parse_number(P, t, out); break;
    case TK_STR: {
        ur_buf b = {0};
        ur_buf_put(&b, t->v->s, t->v->len);
        while (is(P, TK_STR)) ur_buf_put(&b, tok(P)->v->s, tok(P)->v->len), P->cur++;
        *out = node(P, N_STR, t->pos);
        (*out)->s = ja_str(P->a, b.data, b.len);
        ur_buf_free(&b);
        break;
    }
    case TK_NAME:
        *out = node(P, N_NAME, t->pos);
        (*out)->s = t->v;
        break;
    case TK_LP: rc = parse_sequence(P, 0, out) || expect(P, TK_RP, "')'"); break;
    case TK_LB:
    case TK_LC: rc = parse_collection(P, t, out); break;
    default: P->cur--; rc = unexpected(P, "an expression");
    }
    P->depth--;
    return rc;
}

/* ---- statements ---------------------------------------------------------------------------- */
/* Statements up to one of `ends` (not consumed). */
static int parse_body(parser *P, const char *const *ends, const char *open, jj_node ***v, int *n) {
    nvec b = {0};
    while (!is_stmt(P, ends)) {
        jj_node *x = NULL;
        if (parse_any(P, &x, open)) return free(b.v), -1;
        if (x) nv_push(&b, x);
    }
    *v = nv_done(P, &b, n);
    return 0;
}

/* {% NAME %} that closes a block */
static int expect_end(parser *P, const char *name) {
    char want[64];
    snprintf(want, sizeof want, "'%s'", name);
    return expect(P, TK_OS, "'{%'") || expect_name(P, name, want) || expect(P, TK_CS, "'%}'");
}

static const char *const END_IF[] = {"elif", "else", "endif", NULL};
static const char *const END_FOR[] = {"endfor", "else", NULL};

static int parse_if(parser *P, jj_node *x) {
    if (parse_expr(P, &x->a) || expect(P, TK_CS, "'%}'") || parse_body(P, END_IF, "{% if %}", &x->v, &x->n))
        return -1;
    if (is_name(P, 1, "elif")) {
        jj_node *e = node(P, N_IF, tok(P)->pos);
        P->cur += 2;
        if (parse_if(P, e)) return -1;
        x->w = ja_alloc(P->a, sizeof *x->w);
        x->w[0] = e;
        x->m = 1;
    } else if (is_name(P, 1, "else")) {
        static const char *const end[] = {"endif", NULL};
        P->cur += 2;
        if (expect(P, TK_CS, "'%}'") || parse_body(P, end, "{% if %}", &x->w, &x->m)) return -1;
    }
    return 0;
}

static int parse_for(parser *P, jj_node *x) {
    if (parse_sequence(P, 1, &x->a)) return -1;
    if (x->a->k != N_NAME && x->a->k != N_TUPLE) return perr(P, x->a->pos, "a for loop's target must be a name or names");
    if (expect_name(P, "in", "'in'") || parse_expr(P, &x->b) || expect(P, TK_CS, "'%}'")) return -1;
    if (x->b->k == N_SELECT) { /* for x in xs if cond */
        x->c = x->b->a;
        x->b = x->b->b;
    }
    if (parse_body(P, END_FOR, "{% for %}", &x->v, &x->n)) return -1;
    if (is_name(P, 1, "else")) {
        static const char *const end[] = {"endfor", NULL};
        P->cur += 2;
        if (expect(P, TK_CS, "'%}'") || parse_body(P, end, "{% for %}", &x->w, &x->m)) return -1;
    }
    return expect_end(P, "endfor");
}

static int parse_set(parser *P, jj_node *x) {
    static const char *const end[] = {"endset", NULL};
    if (parse_sequence(P, 0, &x->a)) return -1;
    if (is(P, TK_EQUALS)) {
        P->cur++;
        if (parse_sequence(P, 0, &x->b)) return -1;
    } else if (expect(P, TK_CS, "'=' or '%}'") || parse_body(P, end, "{% set %}", &x->v, &x->n) ||
               expect(P, TK_OS, "'{%'") || expect_name(P, "endset", "'endset'")) {
        return -1;
    }
    return expect(P, TK_CS, "'%}'");
}

static int parse_macro(parser *P, jj_node *x) {
    static const char *const end[] = {"endmacro", NULL};
    if (!is(P, TK_NAME)) return unexpected(P, "the macro's name");
    x->s = tok(P)->v;
    P->cur++;
    return parse_args(P, 1, &x->w, &x->m) || expect(P, TK_CS, "'%}'") ||
           parse_body(P, end, "{% macro %}", &x->v, &x->n) || expect_end(P, "endmacro");
}

static int parse_call_block(parser *P, jj_node *x) {
    static const char *const end[] = {"endcall", NULL};
    if (is(P, TK_LP) && parse_args(P, 1, &x->w, &x->m)) return -1;
    if (!is(P, TK_NAME)) return unexpected(P, "the name of the macro to call");
    jj_node *c = node(P, N_CALL, tok(P)->pos);
    if (parse_primary(P, &c->a) || parse_args(P, 0, &c->v, &c->n)) return -1;
    x->a = c;
    return expect(P, TK_CS, "'%}'") || parse_body(P, end, "{% call %}", &x->v, &x->n) || expect_end(P, "endcall");
}

static int parse_filter_block(parser *P, jj_node *x) {
    static const char *const end[] = {"endfilter", NULL};
    if (!is(P, TK_NAME)) return unexpected(P, "a filter name");
    jj_node *f = node(P, N_FILTER, tok(P)->pos);
    f->s = tok(P)->v;
    P->cur++;
    if (is(P, TK_LP)) {
        f->op = 1;
        if (parse_args(P, 0, &f->v, &f->n)) return -1;
    }
    x->a = f;
    return expect(P, TK_CS, "'%}'") || parse_body(P, end, "{% filter %}", &x->v, &x->n) ||
           expect_end(P, "endfilter");
}

static int parse_statement(parser *P, jj_node **out) {
    uint32_t pos = tok(P)->pos;
    P->cur++; /* {% */
    if (!is(P, TK_NAME)) return unexpected(P, "a statement name after '{%'");
    const char *name = tok(P)->v->s;
    static const struct { const char *name; int kind; } kinds[] = {
        {"set", N_SET},     {"if", N_IF},                 {"for", N_FOR},           {"macro", N_MACRO},
        {"call", N_CALLBLOCK}, {"filter", N_FILTERBLOCK}, {"break", N_BREAK},       {"continue", N_CONTINUE}};
    int kind = -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(name, kinds[i].name)) kind = kinds[i].kind;
    if (kind < 0)
        return perr(P, tok(P)->pos, "unknown statement '{%% %.60s %%}' (urial renders the Jinja that chat templates use: "
                                    "set, if, for, macro, call, filter, break, continue)", name);
    P->cur++;
    if (enter(P)) return -1;
    jj_node *x = node(P, kind, pos);
    *out = x;
    int rc;
    switch (kind) {
    case N_SET: rc = parse_set(P, x); break;
    case N_IF: rc = parse_if(P, x) || expect_end(P, "endif"); break;
    case N_FOR: rc = parse_for(P, x); break;
    case N_MACRO: rc = parse_macro(P, x); break;
    case N_CALLBLOCK: rc = parse_call_block(P, x); break;
    case N_FILTERBLOCK: rc = parse_filter_block(P, x); break;
    default: rc = expect(P, TK_CS, "'%}'");
    }
    P->depth--;
    return rc;
}

/* One piece of a body: text, {{ expr }}, {% statement %} or a comment (*out = NULL). */
static int parse_any(parser *P, jj_node **out, const char *open) {
    const jj_tok *t = tok(P);
    switch (t->t) {
    case TK_COMMENT: P->cur++; *out = NULL; return 0;
    case TK_TEXT:
        *out = node(P, N_TEXT, t->pos);
        (*out)->s = t->v;
        P->cur++;
        return 0;
    case TK_OS: return parse_statement(P, out);
    case TK_OE: P->cur++; return parse_expr(P, out) || expect(P, TK_CE, "'}}'");
    case TK_EOF:
        if (open) return perr(P, t->pos, "the template ends inside a %s block (its end tag is missing)", open);
        /* fall through */
    default: {
        char b[96];
        return perr(P, t->pos, "unexpected %s", tok_desc(t, b, sizeof b));
    }
    }
}

jj_tmpl *jj_parse(const char *src, size_t len, ur_err *err) {
    jj_tmpl *t = ur_xcalloc(1, sizeof *t);
    t->arena.budget = (size_t)-1;
    t->src = ur_xmalloc(len + 1);
    memcpy(t->src, src, len);
    t->src[len] = 0;
    t->len = len;
    jj_tok *toks;
    int n;
    if (jj_lex(src, len, &t->arena, &toks, &n, err)) {
        jj_free(t);
        return NULL;
    }
    parser P = {.t = toks, .n = n, .a = &t->arena, .src = t->src, .len = len, .err = err};
    nvec body = {0};
    while (!is(&P, TK_EOF)) {
        jj_node *x = NULL;
        if (parse_any(&P, &x, NULL)) {
            free(body.v);
            jj_free(t);
            return NULL;
        }
        if (x) nv_push(&body, x);
    }
    t->body = nv_done(&P, &body, &t->n);
    return t;
}

void jj_free(jj_tmpl *t) {
    if (!t) return;
    ja_free(&t->arena);
    free(t->src);
    free(t);
}
