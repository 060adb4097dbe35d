/* Jinja evaluator: statements render into a buffer, expressions give values, with
 * @huggingface/jinja's semantics (scopes: a for loop and a macro call open one, if
 * does not; `set` writes the innermost scope; macros see the scope they were defined
 * in; a namespace is shared by reference). Every step is counted and every nesting
 * level too, so a hostile template ends in an error, never a crash or a hang. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JJ_INTERNAL
#include "chat/jinja.h"

enum { R_OK = 0, R_BREAK = 1, R_CONTINUE = 2 }; /* render results besides -1 */

int jj_fail(jj_ev *ev, const jj_node *at, const char *fmt, ...) {
    char where[64], msg[700];
    jj_where(ev->t->src, ev->t->len, at ? at->pos : 0, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++) /* one line, whatever a message brought in */
        if (*p == '\n' || *p == '\r') *p = ' ';
    return ur_errf(ev->err, "%s: %s", where, msg);
}

static int step(jj_ev *ev, const jj_node *at) {
    if (++ev->steps > JJ_MAX_STEPS) return jj_fail(ev, at, "the template runs too long (over %ld steps)", JJ_MAX_STEPS);
    if (ev->a->used > ev->a->budget)
        return jj_fail(ev, at, "the template needs more than %zu MiB of memory", JJ_MEM_BUDGET >> 20);
    if (ev->depth > JJ_MAX_DEPTH * 4) return jj_fail(ev, at, "the template nests or recurses too deeply");
    return 0;
}

/* ---- scopes ------------------------------------------------------------------------------- */
jj_scope *jj_scope_new(jj_ev *ev, jj_scope *up) {
    jj_scope *s = ja_alloc(ev->a, sizeof *s);
    s->up = up;
    jv d = jv_dict(ev->a, 8, JV_DICT);
    s->vars = *d.u.d;
    return s;
}
void jj_scope_set(jj_ev *ev, jj_scope *sc, jj_str *name, jv v) { jd_set(ev->a, &sc->vars, name, v); }
static jv lookup(const jj_scope *sc, const jj_str *name) {
    for (; sc; sc = sc->up) {
        jv *v = jd_get(&sc->vars, name->s, name->len);
        if (v) return *v;
    }
    return jv_undef();
}

static int put(jj_ev *ev, const jj_node *at, ur_buf *out, const char *s, size_t n) {
    if (out->len + n > JJ_MEM_BUDGET)
        return jj_fail(ev, at, "the template's output passes %zu MiB", JJ_MEM_BUDGET >> 20);
    ur_buf_put(out, s, n);
    return 0;
}

/* ---- operators --------------------------------------------------------------------------------- */
static const char *const OPS[] = {"or", "and", "==", "!=", "<", ">", "<=", ">=", "in", "not in",
                                  "+",  "-",   "~",  "*",  "/", "//", "%", "**"};

static int concat(jj_ev *ev, const jj_node *at, const jv *a, const jv *b, jv *out) {
    ur_buf s = {0};
    ur_buf_put(&s, "", 0);
    int rc = (a->t == JV_UNDEF ? 0 : jv_js(ev, at, a, &s)) || (b->t == JV_UNDEF ? 0 : jv_js(ev, at, b, &s));
    if (!rc) *out = jv_str(ev->a, s.data, s.len);
    ur_buf_free(&s);
    return rc;
}

static int arith(jj_ev *ev, const jj_node *e, const jv *a, const jv *b, jv *out) {
    int fl = a->t == JV_FLOAT || b->t == JV_FLOAT;
    double x = jv_num(a), y = jv_num(b);
    int64_t i = a->t == JV_INT ? a->u.i : 0, j = b->t == JV_INT ? b->u.i : 0, r;
    switch (e->op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
        if (fl) {
            *out = jv_float(e->op == OP_ADD ? x + y : e->op == OP_SUB ? x - y : x * y);
            return 0;
        }
        if (e->op == OP_ADD ? __builtin_add_overflow(i, j, &r)
            : e->op == OP_SUB ? __builtin_sub_overflow(i, j, &r) : __builtin_mul_overflow(i, j, &r))
            return jj_fail(ev, e, "integer overflow in '%s'", OPS[e->op]);
        *out = jv_int(r);
        return 0;
    case OP_DIV: *out = jv_float(x / y); return 0;
    case OP_FLOORDIV:
    case OP_MOD:
        if (!fl && j == 0) return jj_fail(ev, e, "integer division by zero");
        if (fl) *out = jv_float(e->op == OP_MOD ? fmod(x, y) : floor(x / y));
        else if (e->op == OP_MOD) *out = jv_int(j == -1 ? 0 : i % j); /* JavaScript %: the dividend's sign */
        else *out = jv_int((int64_t)floor((double)i / (double)j));
        return 0;
    case OP_LT: *out = jv_bool(x < y); return 0;
    case OP_GT: *out = jv_bool(x > y); return 0;
    case OP_LE: *out = jv_bool(x <= y); return 0;
    case OP_GE: *out = jv_bool(x >= y); return 0;
    default: return 1; /* not a numeric operator: see the rules after */
    }
}

static int power(jj_ev *ev, const jj_node *e, const jv *a, const jv *b, jv *out) {
    double x = jv_num(a), y = jv_num(b);
    if (x == 0 && y < 0) return jj_fail(ev, e, "0 cannot be raised to a negative power");
    double r = pow(x, y);
    if (!isfinite(r)) return jj_fail(ev, e, "'**' gives no finite real number");
    if (a->t == JV_FLOAT || b->t == JV_FLOAT || y < 0) *out = jv_float(r);
    else if (fabs(r) >= 9.2e18) return jj_fail(ev, e, "integer overflow in '**'");
    else *out = jv_int((int64_t)r);
    return 0;
}

static int contains(const jv *hay, const jv *needle) {
    for (int i = 0; i < hay->u.l->n; i++)
        if (jv_strict_eq(&hay->u.l->v[i], needle)) return 1;
    return 0;
}

/* HF's evaluateBinaryExpression, rule for rule (after `and`/`or` and equality). */
static int binary_rest(jj_ev *ev, const jj_node *e, const jv *a, const jv *b, jv *out) {
    int op = e->op, in = op == OP_IN || op == OP_NOTIN;
    if (jv_is_num(a) && jv_is_num(b) && op != OP_CAT && op != OP_POW) {
        int rc = arith(ev, e, a, b, out);
        if (rc <= 0) return rc;
    } else if (a->t == JV_UNDEF || b->t == JV_UNDEF) {
        if (b->t == JV_UNDEF && in) return *out = jv_bool(op == OP_NOTIN), 0;
        if (op == OP_CAT && a->t != JV_NONE && b->t != JV_NONE) return concat(ev, e, a, b, out);
        return jj_fail(ev, e, "cannot use '%s' with an undefined value (%s %s %s)", OPS[op], jv_type_name(a), OPS[op],
                       jv_type_name(b));
    } else if (a->t == JV_NONE || b->t == JV_NONE) {
        return jj_fail(ev, e, "cannot use '%s' with none (%s %s %s)", OPS[op], jv_type_name(a), OPS[op], jv_type_name(b));
    } else if (op == OP_CAT) {
        return concat(ev, e, a, b, out);
    } else if (op == OP_POW && a->t <= JV_FLOAT && b->t <= JV_FLOAT) {
        return power(ev, e, a, b, out);
    } else if (a->t == JV_LIST && b->t == JV_LIST) {
        if (op == OP_ADD) {
            *out = jv_list(ev->a, a->u.l->n + b->u.l->n);
            for (int i = 0; i < a->u.l->n; i++) jl_push(ev->a, out->u.l, a->u.l->v[i]);
            for (int i = 0; i < b->u.l->n; i++) jl_push(ev->a, out->u.l, b->u.l->v[i]);
            return 0;
        }
    } else if (b->t == JV_LIST && in) {
        return *out = jv_bool(contains(b, a) == (op == OP_IN)), 0;
    }
    if ((a->t == JV_STR || b->t == JV_STR) && op == OP_ADD) return concat(ev, e, a, b, out);
    if (a->t == JV_STR && b->t == JV_STR && in) {
        const jj_str *h = b->u.s, *n = a->u.s;
        int found = n->len == 0 || (n->len <= h->len && memmem(h->s, h->len, n->s, n->len));
        return *out = jv_bool(found == (op == OP_IN)), 0;
    }
    if (a->t == JV_STR && b->t == JV_DICT && in)
        return *out = jv_bool(!!jd_get(b->u.d, a->u.s->s, a->u.s->len) == (op == OP_IN)), 0;
    return jj_fail(ev, e, "cannot use '%s' between %s and %s", OPS[op], jv_type_name(a), jv_type_name(b));
}

static int eval_binary(jj_ev *ev, const jj_node *e, jj_scope *sc, jv *out) {
    jv a, b;
    if (jj_eval(ev, e->a, sc, &a)) return -1;
    if (e->op == OP_AND || e->op == OP_OR) {
        if (jv_truthy(&a) == (e->op == OP_OR)) return *out = a, 0;
        return jj_eval(ev, e->b, sc, out);
    }
    if (jj_eval(ev, e->b, sc, &b)) return -1;
    if (e->op == OP_EQ || e->op == OP_NE) return *out = jv_bool(jv_loose_eq(&a, &b) == (e->op == OP_EQ)), 0;
    return binary_rest(ev, e, &a, &b, out);
}

static int eval_unary(jj_ev *ev, const jj_node *e, jj_scope *sc, jv *out) {
    jv a;
    if (jj_eval(ev, e->a, sc, &a)) return -1;
    if (e->k == N_NOT) return *out = jv_bool(!jv_truthy(&a)), 0;
    int neg = e->k == N_NEG;
    if (a.t == JV_FLOAT) *out = jv_float(neg ? -a.u.f : a.u.f);
    else if (a.t == JV_INT && !(neg && a.u.i == INT64_MIN)) *out = jv_int(neg ? -a.u.i : a.u.i);
    else if (a.t == JV_BOOL) *out = jv_int(neg ? -a.u.b : a.u.b);
    else return jj_fail(ev, e, "cannot apply unary '%c' to %s", neg ? '-' : '+', jv_type_name(&a));
    return 0;
}

/* ---- arguments and calls ------------------------------------------------------------------------ */
int jj_eval_args(jj_ev *ev, jj_node *const *args, int n, jj_scope *sc, jj_args *out) {
    out->pos = n ? ja_alloc(ev->a, sizeof *out->pos * (size_t)n) : NULL;
    out->npos = 0;
    out->kw = NULL;
    int cap = n;
    for (int i = 0; i < n; i++) { /* positional arguments first, as HF evaluates them */
        const jj_node *x = args[i];
        if (x->k == N_KWARG || x->k == N_KWSPREAD) continue;
        jv v;
        if (jj_eval(ev, x->k == N_SPREAD ? x->a : x, sc, &v)) return -1;
        if (x->k != N_SPREAD) {
            out->pos[out->npos++] = v;
            continue;
        }
        if (v.t != JV_LIST) return jj_fail(ev, x, "cannot unpack %s with '*'", jv_type_name(&v));
        jv *np = ja_alloc(ev->a, sizeof *np * (size_t)(cap += v.u.l->n));
        memcpy(np, out->pos, sizeof *np * (size_t)out->npos);
        memcpy(np + out->npos, v.u.l->v, sizeof *np * (size_t)v.u.l->n);
        out->pos = np;
        out->npos += v.u.l->n;
    }
    for (int i = 0; i < n; i++) {
        const jj_node *x = args[i];
        if (x->k != N_KWARG && x->k != N_KWSPREAD) continue;
        jv v;
        if (jj_eval(ev, x->a, sc, &v)) return -1;
        if (x->k == N_KWSPREAD && v.t != JV_DICT) return jj_fail(ev, x, "the argument after '**' must be a dict");
        if (!out->kw) out->kw = jv_dict(ev->a, 4, JV_DICT).u.d;
        int nk = x->k == N_KWARG ? 1 : v.u.d->n;
        for (int k = 0; k < nk; k++) {
            jj_str *key = x->k == N_KWARG ? x->s : v.u.d->k[k];
            if (jd_get(out->kw, key->s, key->len)) return jj_fail(ev, x, "keyword argument '%s' given twice", key->s);
            jd_set(ev->a, out->kw, key, x->k == N_KWARG ? v : v.u.d->v[k]);
        }
    }
    return 0;
}

static int render_body(jj_ev *ev, jj_node *const *v, int n, jj_scope *sc, ur_buf *out);

/* A body rendered into a string value (macros, call blocks, set blocks, filter blocks). */
static int body_string(jj_ev *ev, const jj_node *at, jj_node *const *v, int n, jj_scope *sc, jv *out) {
    ur_buf b = {0};
    ur_buf_put(&b, "", 0);
    int rc = render_body(ev, v, n, sc, &b);
    if (rc > 0) rc = jj_fail(ev, at, "'break' or 'continue' outside a for loop");
    if (!rc) *out = jv_str(ev->a, b.data, b.len);
    ur_buf_free(&b);
    return rc;
}

static int uses_name(const jj_node *x, const char *name) {
    if (!x) return 0;
    if (x->k == N_NAME && !strcmp(x->s->s, name)) return 1;
    if (uses_name(x->a, name) || uses_name(x->b, name) || uses_name(x->c, name)) return 1;
    for (int i = 0; i < x->n; i++)
        if (uses_name(x->v[i], name)) return 1;
    for (int i = 0; i < x->m; i++)
        if (x->k != N_MACRO && uses_name(x->w[i], name)) return 1;
    return 0;
}
static int body_uses(const jj_node *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (uses_name(m->v[i], name)) return 1;
    return 0;
}

/* Bind a macro's (or call block's) parameters: positional, then by keyword, then
 * defaults (evaluated in the new scope); varargs/kwargs when the body uses them. */
static int bind_params(jj_ev *ev, const jj_node *m, const char *label, jj_args *args, jj_scope *sc) {
    int npar = m->m, npend = 0;
    int *pend = npar ? ja_alloc(ev->a, sizeof *pend * (size_t)npar) : NULL;
    jv extra_kw = jv_dict(ev->a, 4, JV_DICT);
    if (args->kw) /* keyword arguments not matched to a parameter stay in extra_kw */
        for (int i = 0; i < args->kw->n; i++) jd_set(ev->a, extra_kw.u.d, args->kw->k[i], args->kw->v[i]);
    for (int i = 0; i < npar; i++) {
        const jj_node *p = m->w[i];
        jv v = jv_undef();
        int have = i < args->npos;
        if (have) v = args->pos[i];
        else {
            jv *k = jd_get(extra_kw.u.d, p->s->s, p->s->len);
            if (k) { /* take it out of extra_kw */
                v = *k, have = 1;
                jj_dict *d = extra_kw.u.d;
                int at = (int)(k - d->v);
                memmove(d->k + at, d->k + at + 1, sizeof *d->k * (size_t)(d->n - at - 1));
                memmove(d->v + at, d->v + at + 1, sizeof *d->v * (size_t)(d->n - at - 1));
                d->n--;
            }
        }
        if (!have && p->k == N_KWARG) pend[npend++] = i;
        jj_scope_set(ev, sc, p->s, v);
    }
    if (body_uses(m, "kwargs")) jj_scope_set(ev, sc, ja_str(ev->a, "kwargs", 6), extra_kw);
    else if (extra_kw.u.d->n)
        return jj_fail(ev, m, "%s takes no keyword argument '%s'", label, extra_kw.u.d->k[0]->s);
    if (body_uses(m, "varargs")) {
        jv va = jv_list(ev->a, 4);
        for (int i = npar; i < args->npos; i++) jl_push(ev->a, va.u.l, args->pos[i]);
        jj_scope_set(ev, sc, ja_str(ev->a, "varargs", 7), va);
    } else if (args->npos > npar) {
        return jj_fail(ev, m, "%s takes at most %d argument%s, got %d", label, npar, npar == 1 ? "" : "s", args->npos);
    }
    for (int i = 0; i < npend; i++) {
        const jj_node *p = m->w[pend[i]];
        jv v;
        if (jj_eval(ev, p->a, sc, &v)) return -1;
        jj_scope_set(ev, sc, p->s, v);
    }
    return 0;
}

int jj_call(jj_ev *ev, const jj_node *at, const jv *fn, jj_args *args, jj_scope *site, jv *out) {
    if (fn->t != JV_FUNC) return jj_fail(ev, at, "cannot call %s (not a function)", jv_type_name(fn));
    const jj_func *f = fn->u.fn;
    if (f->kind == JF_BUILTIN || f->kind == JF_METHOD) return jj_call_builtin(ev, at, f, args, out);
    const jj_node *m = f->node;
    jj_scope *parent = f->scope;
    char label[96];
    if (f->kind == JF_MACRO) {
        snprintf(label, sizeof label, "macro '%.60s'", m->s->s);
        if (body_uses(m, "caller")) {
            parent = jj_scope_new(ev, f->scope);
            jv c = jv_undef();
            if (site && site->call_block) {
                jv *cv = jd_get(&site->vars, "caller", 6);
                c = cv ? *cv : jv_undef();
            }
            jj_scope_set(ev, parent, ja_str(ev->a, "caller", 6), c);
        }
    } else {
        snprintf(label, sizeof label, "the call block's caller");
    }
    jj_scope *sc = jj_scope_new(ev, parent);
    ev->depth++;
    int rc = bind_params(ev, m, label, args, sc) || body_string(ev, m, m->v, m->n, sc, out);
    ev->depth--;
    return rc;
}

/* ---- expressions ----------------------------------------------------------------------------------- */
static int eval_collection(jj_ev *ev, const jj_node *e, jj_scope *sc, jv *out) {
    if (e->k == N_DICT) {
        *out = jv_dict(ev->a, e->n, JV_DICT);
        for (int i = 0; i < e->n; i++) {
            jv k, v;
            if (jj_eval(ev, e->v[i], sc, &k)) return -1;
            if (k.t != JV_STR) return jj_fail(ev, e->v[i], "a dict key must be a string, not %s", jv_type_name(&k));
            if (jj_eval(ev, e->w[i], sc, &v)) return -1;
            jd_set(ev->a, out->u.d, k.u.s, v);
        }
        return 0;
    }
    *out = jv_list(ev->a, e->n);
    out->u.l->tuple = e->k == N_TUPLE;
    for (int i = 0; i < e->n; i++) {
        jv v;
        if (jj_eval(ev, e->v[i], sc, &v)) return -1;
        jl_push(ev->a, out->u.l, v);
    }
    return 0;
}

static int eval_member(jj_ev *ev, const jj_node *e, jj_scope *sc, jv *out) {
    jv obj, key;
    if (jj_eval(ev, e->a, sc, &obj)) return -1;
    if (e->k == N_SLICE) {
        jv p[3];
        for (int i = 0; i < 3; i++) {
            p[i] = jv_undef();
            if (e->v[i] && jj_eval(ev, e->v[i], sc, &p[i])) return -1;
        }
        return jj_slice(ev, e, &obj, &p[0], &p[1], &p[2], out);
    }
    if (e->op) {
        if (jj_eval(ev, e->b, sc, &key)) return -1;
    } else {
        key = e->b->k == N_INT ? jv_int(e->b->i) : (jv){.t = JV_STR, .u.s = e->b->s};
    }
    return jj_member(ev, e, &obj, &key, out);
}

int jj_eval(jj_ev *ev, const jj_node *e, jj_scope *sc, jv *out) {
    if (step(ev, e)) return -1;
    ev->depth++;
    int rc = 0;
    switch (e->k) {
    case N_INT: *out = jv_int(e->i); break;
    case N_FLOAT: *out = jv_float(e->f); break;
    case N_STR: *out = (jv){.t = JV_STR, .u.s = e->s}; break;
    case N_NAME: *out = lookup(sc, e->s); break;
    case N_LIST:
    case N_TUPLE:
    case N_DICT: rc = eval_collection(ev, e, sc, out); break;
    case N_MEMBER:
    case N_SLICE: rc = eval_member(ev, e, sc, out); break;
    case N_CALL: {
        jj_args args;
        jv fn;
        rc = jj_eval_args(ev, e->v, e->n, sc, &args) || jj_eval(ev, e->a, sc, &fn) ||
             jj_call(ev, e->a->k == N_NAME || e->a->k == N_MEMBER ? e->a : e, &fn, &args, sc, out);
        break;
    }
    case N_FILTER: {
        jv v;
        rc = jj_eval(ev, e->a, sc, &v) || jj_filter(ev, e, &v, sc, out);
        break;
    }
    case N_TEST: {
        jv v;
        int r = 0;
        rc = jj_eval(ev, e->a, sc, &v) || jj_test(ev, e, e->s->s, &v, NULL, 0, &r);
        if (!rc) *out = jv_bool(e->op ? !r : r);
        break;
    }
    case N_BIN: rc = eval_binary(ev, e, sc, out); break;
    case N_NOT:
    case N_NEG:
    case N_POS: rc = eval_unary(ev, e, sc, out); break;
    case N_TERNARY:
    case N_SELECT: {
        jv c;
        if ((rc = jj_eval(ev, e->a, sc, &c))) break;
        if (jv_truthy(&c)) rc = jj_eval(ev, e->b, sc, out);
        else if (e->k == N_TERNARY) rc = jj_eval(ev, e->c, sc, out);
        else *out = jv_undef();
        break;
    }
    default: rc = jj_fail(ev, e, "this is not an expression");
    }
    ev->depth--;
    return rc;
}

/* ---- statements ------------------------------------------------------------------------------------ */
static int assign(jj_ev *ev, const jj_node *target, const jv *v, jj_scope *sc) {
    if (target->k == N_NAME) {
        jj_scope_set(ev, sc, target->s, *v);
        return 0;
    }
    if (target->k == N_TUPLE) {
        if (v->t != JV_LIST) return jj_fail(ev, target, "cannot unpack %s", jv_type_name(v));
        if (v->u.l->n != target->n)
            return jj_fail(ev, target, "too %s values to unpack (%d names, %d values)", v->u.l->n < target->n ? "few" : "many",
                           target->n, v->u.l->n);
        for (int i = 0; i < target->n; i++) {
            if (target->v[i]->k != N_NAME) return jj_fail(ev, target->v[i], "can only unpack into names");
            jj_scope_set(ev, sc, target->v[i]->s, v->u.l->v[i]);
        }
        return 0;
    }
    if (target->k == N_MEMBER && !target->op && target->b->k == N_STR) {
        jv obj;
        if (jj_eval(ev, target->a, sc, &obj)) return -1;
        if (obj.t != JV_NS) return jj_fail(ev, target, "cannot set an attribute of %s (only of a namespace)", jv_type_name(&obj));
        jd_set(ev->a, obj.u.d, target->b->s, *v);
        return 0;
    }
    return jj_fail(ev, target, "cannot assign to this");
}

static int exec_set(jj_ev *ev, const jj_node *x, jj_scope *sc) {
    jv v;
    if (x->b ? jj_eval(ev, x->b, sc, &v) : body_string(ev, x, x->v, x->n, sc, &v)) return -1;
    return assign(ev, x->a, &v, sc);
}

static jv loop_info(jj_ev *ev, const jv *items, int i) {
    int n = items->u.l->n;
    jv d = jv_dict(ev->a, 9, JV_DICT);
    static const char *const keys[] = {"index", "index0", "revindex", "revindex0", "first", "last", "length",
                                       "previtem", "nextitem"};
    jv vals[9] = {jv_int(i + 1), jv_int(i), jv_int(n - i), jv_int(n - i - 1), jv_bool(i == 0), jv_bool(i == n - 1),
                  jv_int(n), i > 0 ? items->u.l->v[i - 1] : jv_undef(), i < n - 1 ? items->u.l->v[i + 1] : jv_undef()};
    for (int k = 0; k < 9; k++) jd_set(ev->a, d.u.d, ja_str(ev->a, keys[k], strlen(keys[k])), vals[k]);
    return d;
}

/* The items to loop over: a list (a dict gives its keys), checked for unpacking and
 * filtered by `if cond` before the first iteration, as HF does. */
static int loop_items(jj_ev *ev, const jj_node *x, jj_scope *sc, jv *items) {
    jv it;
    if (jj_eval(ev, x->b, sc, &it)) return -1;
    if (it.t == JV_DICT) {
        jv keys = jv_list(ev->a, it.u.d->n);
        for (int i = 0; i < it.u.d->n; i++) jl_push(ev->a, keys.u.l, (jv){.t = JV_STR, .u.s = it.u.d->k[i]});
        it = keys;
    }
    if (it.t != JV_LIST) return jj_fail(ev, x->b, "cannot loop over %s", jv_type_name(&it));
    if (x->a->k == N_NAME && !x->c) return *items = it, 0;
    *items = jv_list(ev->a, it.u.l->n);
    for (int i = 0; i < it.u.l->n; i++) {
        jv cur = it.u.l->v[i];
        if (x->a->k == N_TUPLE) {
            if (cur.t != JV_LIST || cur.u.l->tuple) return jj_fail(ev, x->a, "cannot unpack %s", jv_type_name(&cur));
            if (cur.u.l->n != x->a->n)
                return jj_fail(ev, x->a, "too %s values to unpack", cur.u.l->n < x->a->n ? "few" : "many");
        }
        if (x->c) {
            jj_scope *ls = jj_scope_new(ev, sc);
            jv t;
            if (assign(ev, x->a, &cur, ls) || jj_eval(ev, x->c, ls, &t)) return -1;
            if (!jv_truthy(&t)) continue;
        }
        jl_push(ev->a, items->u.l, cur);
    }
    return 0;
}

static int render_for(jj_ev *ev, const jj_node *x, jj_scope *up, ur_buf *out) {
    jj_scope *sc = jj_scope_new(ev, up);
    jv items = jv_undef();
    if (loop_items(ev, x, sc, &items)) return -1;
    int none = 1;
    jj_str *loop = ja_str(ev->a, "loop", 4);
    for (int i = 0; i < items.u.l->n; i++) {
        jj_scope_set(ev, sc, loop, loop_info(ev, &items, i));
        if (assign(ev, x->a, &items.u.l->v[i], sc)) return -1;
        int rc = render_body(ev, x->v, x->n, sc, out);
        if (rc < 0) return -1;
        if (rc == R_BREAK) break;
        if (rc == R_CONTINUE) continue;
        none = 0; /* as HF: an iteration that ended in break/continue does not count */
    }
    if (none) {
        int rc = render_body(ev, x->w, x->m, sc, out);
        if (rc) return rc;
    }
    return 0;
}

static int call_block(jj_ev *ev, const jj_node *x, jj_scope *sc, jv *out) {
    jj_func *caller = ja_alloc(ev->a, sizeof *caller);
    caller->kind = JF_CALLER;
    caller->node = x;
    caller->scope = sc;
    jj_args args;
    jv fn;
    if (jj_eval_args(ev, x->a->v, x->a->n, sc, &args) || jj_eval(ev, x->a->a, sc, &fn)) return -1;
    jj_scope *site = jj_scope_new(ev, sc);
    site->call_block = 1;
    jj_scope_set(ev, site, ja_str(ev->a, "caller", 6), (jv){.t = JV_FUNC, .u.fn = caller});
    return jj_call(ev, x->a, &fn, &args, site, out);
}

static int render_stmt(jj_ev *ev, const jj_node *x, jj_scope *sc, ur_buf *out) {
    jv v;
    switch (x->k) {
    case N_TEXT: return put(ev, x, out, x->s->s, x->s->len);
    case N_IF:
        if (jj_eval(ev, x->a, sc, &v)) return -1;
        return jv_truthy(&v) ? render_body(ev, x->v, x->n, sc, out) : render_body(ev, x->w, x->m, sc, out);
    case N_FOR: return render_for(ev, x, sc, out);
    case N_SET: return exec_set(ev, x, sc);
    case N_MACRO: {
        jj_func *f = ja_alloc(ev->a, sizeof *f);
        f->kind = JF_MACRO;
        f->node = x;
        f->scope = sc;
        jj_scope_set(ev, sc, x->s, (jv){.t = JV_FUNC, .u.fn = f});
        return 0;
    }
    case N_BREAK: return R_BREAK;
    case N_CONTINUE: return R_CONTINUE;
    case N_CALLBLOCK:
        if (call_block(ev, x, sc, &v)) return -1;
        break;
    case N_FILTERBLOCK: {
        jv body;
        if (body_string(ev, x, x->v, x->n, sc, &body) || jj_filter(ev, x->a, &body, sc, &v)) return -1;
        break;
    }
    default:
        if (jj_eval(ev, x, sc, &v)) return -1;
    }
    if (v.t == JV_NONE || v.t == JV_UNDEF) return 0;
    if (v.t == JV_STR) return put(ev, x, out, v.u.s->s, v.u.s->len);
    ur_buf b = {0};
    ur_buf_put(&b, "", 0);
    int rc = jv_display(ev, x, &v, &b) || put(ev, x, out, b.data, b.len);
    ur_buf_free(&b);
    return rc ? -1 : 0; /* never 1: that would read as `break` */
}

static int render_body(jj_ev *ev, jj_node *const *v, int n, jj_scope *sc, ur_buf *out) {
    ev->depth++;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        if (!(rc = step(ev, v[i]))) rc = render_stmt(ev, v[i], sc, out);
    ev->depth--;
    return rc;
}

/* ---- contexts and rendering ------------------------------------------------------------------------ */
jj_ctx *jj_ctx_new(void) {
    jj_ctx *c = ur_xcalloc(1, sizeof *c);
    c->arena.budget = (size_t)-1;
    jv d = jv_dict(&c->arena, 8, JV_DICT);
    c->vars = *d.u.d;
    return c;
}
void jj_ctx_free(jj_ctx *c) {
    if (!c) return;
    ja_free(&c->arena);
    free(c);
}
jv jj_ctx_str(jj_ctx *c, const char *s, size_t n) { return jv_str(&c->arena, s, n); }
jv jj_ctx_list(jj_ctx *c) { return jv_list(&c->arena, 4); }
jv jj_ctx_dict(jj_ctx *c) { return jv_dict(&c->arena, 4, JV_DICT); }
void jj_ctx_push(jj_ctx *c, jv list, jv item) { jl_push(&c->arena, list.u.l, item); }
void jj_ctx_put(jj_ctx *c, jv dict, const char *key, jv value) {
    jd_set(&c->arena, dict.u.d, ja_str(&c->arena, key, strlen(key)), value);
}
void jj_ctx_set(jj_ctx *c, const char *name, jv value) {
    jd_set(&c->arena, &c->vars, ja_str(&c->arena, name, strlen(name)), value);
}

int jj_render(const jj_tmpl *t, jj_ctx *c, ur_buf *out, ur_err *err) {
    jj_ev ev = {.t = t, .a = &c->arena, .err = err};
    c->arena.budget = c->arena.used + JJ_MEM_BUDGET;
    ev.globals = jj_scope_new(&ev, NULL);
    if (jj_global_names(&ev, ev.globals)) return -1;
    for (int i = 0; i < c->vars.n; i++) jj_scope_set(&ev, ev.globals, c->vars.k[i], c->vars.v[i]);
    ur_buf b = {0};
    ur_buf_put(&b, "", 0);
    int rc = render_body(&ev, t->body, t->n, ev.globals, &b);
    if (rc > 0) rc = jj_fail(&ev, NULL, "'break' or 'continue' outside a for loop");
    if (!rc) ur_buf_put(out, b.data, b.len);
    ur_buf_free(&b);
    return rc ? -1 : 0;
}
