/* Jinja builtins besides filters: the globals (namespace, raise_exception, range,
 * strftime_now, true/false/none and their title-case twins), member access with
 * string and dict methods, slicing, tests and value ordering; all as
 * @huggingface/jinja defines them (a method's keyword arguments arrive as a dict
 * after the positional ones, HF's calling convention). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JJ_INTERNAL
#include "chat/jinja.h"

enum builtin_id {
    B_NAMESPACE, B_RAISE, B_RANGE, B_STRFTIME,
    /* string methods */
    M_UPPER, M_LOWER, M_STRIP, M_TITLE, M_CAPITALIZE, M_RSTRIP, M_LSTRIP, M_STARTSWITH, M_ENDSWITH, M_SPLIT, M_REPLACE,
    /* dict methods */
    M_GET, M_ITEMS, M_KEYS, M_VALUES, M_DICTSORT
};
static const char *const NAMES[] = {"namespace", "raise_exception", "range", "strftime_now", "upper", "lower",
                                    "strip", "title", "capitalize", "rstrip", "lstrip", "startswith", "endswith",
                                    "split", "replace", "get", "items", "keys", "values", "dictsort"};

static jv func(jj_ev *ev, int kind, int id, const jv *self) {
    jj_func *f = ja_alloc(ev->a, sizeof *f);
    f->kind = kind;
    f->id = id;
    if (self) f->self = *self;
    return (jv){.t = JV_FUNC, .u.fn = f};
}

jv jj_method_value(jj_ev *ev, int id, const jv *self) { return func(ev, JF_METHOD, id, self); }

int jj_global_names(jj_ev *ev, jj_scope *g) {
    for (int id = B_NAMESPACE; id <= B_STRFTIME; id++)
        jj_scope_set(ev, g, ja_str(ev->a, NAMES[id], strlen(NAMES[id])), func(ev, JF_BUILTIN, id, NULL));
    static const char *const consts[] = {"false", "true", "none", "False", "True", "None"};
    for (int i = 0; i < 6; i++)
        jj_scope_set(ev, g, ja_str(ev->a, consts[i], strlen(consts[i])), i % 3 == 2 ? jv_none() : jv_bool(i % 3));
    return 0;
}

/* ---- member access ------------------------------------------------------------------------------ */
static int method_id(const jj_str *k, int first, int last) {
    for (int id = first; id <= last; id++)
        if (!strcmp(k->s, NAMES[id]) && strlen(NAMES[id]) == k->len) return id;
    return -1;
}

/* the code point at index i (negative: from the end) as a string, or undefined */
static jv char_at(jj_ev *ev, const jj_str *s, int64_t i) {
    int64_t n = (int64_t)ju_count(s->s, s->len);
    if (i < 0) i += n;
    if (i < 0 || i >= n) return jv_undef();
    size_t off = 0;
    uint32_t cp;
    for (int64_t k = 0; k < i; k++) off += ju_decode(s->s + off, s->len - off, &cp);
    return jv_str(ev->a, s->s + off, ju_decode(s->s + off, s->len - off, &cp));
}

int jj_member(jj_ev *ev, const jj_node *at, const jv *obj, const jv *key, jv *out) {
    *out = jv_undef();
    if (obj->t == JV_DICT || obj->t == JV_NS) {
        if (key->t != JV_STR) return jj_fail(ev, at, "cannot look up %s in %s (keys are strings)", jv_type_name(key), jv_type_name(obj));
        jv *v = jd_get(obj->u.d, key->u.s->s, key->u.s->len);
        int id;
        if (v) *out = *v;
        else if (obj->t == JV_DICT && (id = method_id(key->u.s, M_GET, M_DICTSORT)) >= 0) *out = func(ev, JF_METHOD, id, obj);
        return 0;
    }
    if (obj->t == JV_LIST || obj->t == JV_STR) {
        if (key->t == JV_INT) {
            if (obj->t == JV_STR) *out = char_at(ev, obj->u.s, key->u.i);
            else {
                int64_t i = key->u.i < 0 ? key->u.i + obj->u.l->n : key->u.i;
                if (i >= 0 && i < obj->u.l->n) *out = obj->u.l->v[i];
            }
            return 0;
        }
        if (key->t != JV_STR) return jj_fail(ev, at, "cannot index %s with %s", jv_type_name(obj), jv_type_name(key));
        int id;
        if (key->u.s->len == 6 && !strcmp(key->u.s->s, "length"))
            *out = jv_int(obj->t == JV_STR ? (int64_t)ju_utf16_len(obj->u.s->s, obj->u.s->len) : obj->u.l->n);
        else if (obj->t == JV_STR && (id = method_id(key->u.s, M_UPPER, M_REPLACE)) >= 0)
            *out = func(ev, JF_METHOD, id, obj);
        return 0;
    }
    if (key->t != JV_STR) return jj_fail(ev, at, "cannot index %s with %s", jv_type_name(obj), jv_type_name(key));
    return 0;
}

/* ---- slices: Python's rules, as HF's slice() ------------------------------------------------------ */
static int64_t clamp(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

int jj_slice(jj_ev *ev, const jj_node *at, const jv *obj, const jv *start, const jv *stop, const jv *step, jv *out) {
    if (obj->t != JV_LIST && obj->t != JV_STR) return jj_fail(ev, at, "cannot slice %s", jv_type_name(obj));
    const jv *p[3] = {start, stop, step};
    for (int i = 0; i < 3; i++)
        if (p[i]->t != JV_INT && p[i]->t != JV_UNDEF)
            return jj_fail(ev, at, "a slice's bounds must be integers, not %s", jv_type_name(p[i]));
    /* strings slice by code points: positions of each */
    size_t n = obj->t == JV_LIST ? (size_t)obj->u.l->n : ju_count(obj->u.s->s, obj->u.s->len);
    size_t *off = NULL;
    if (obj->t == JV_STR) {
        off = ja_alloc(ev->a, sizeof *off * (n + 1));
        uint32_t cp;
        for (size_t i = 0, o = 0; i <= n; i++) {
            off[i] = o;
            if (i < n) o += ju_decode(obj->u.s->s + o, obj->u.s->len - o, &cp);
        }
    }
    int64_t len = (int64_t)n, st = step->t == JV_INT ? step->u.i : 1, b, e;
    int dir = st > 0 ? 1 : st < 0 ? -1 : 0;
    if (dir >= 0) {
        b = start->t == JV_INT ? start->u.i : 0;
        e = stop->t == JV_INT ? stop->u.i : len;
        b = b < 0 ? clamp(len + b, 0, len) : clamp(b, 0, len);
        e = e < 0 ? clamp(len + e, 0, len) : clamp(e, 0, len);
    } else {
        b = start->t == JV_INT ? start->u.i : len - 1;
        e = stop->t == JV_INT ? stop->u.i : -1;
        b = b < 0 ? (len + b < -1 ? -1 : len + b) : (b > len - 1 ? len - 1 : b);
        e = e < -1 ? (len + e < -1 ? -1 : len + e) : (e > len - 1 ? len - 1 : e);
    }
    ur_buf sb = {0};
    ur_buf_put(&sb, "", 0);
    if (obj->t == JV_LIST) *out = jv_list(ev->a, 4);
    for (int64_t i = b; dir != 0 && (dir > 0 ? i < e : i > e); i += st) {
        if (obj->t == JV_LIST) jl_push(ev->a, out->u.l, obj->u.l->v[i]);
        else ur_buf_put(&sb, obj->u.s->s + off[i], off[i + 1] - off[i]);
    }
    if (obj->t == JV_STR) *out = jv_str(ev->a, sb.data, sb.len);
    ur_buf_free(&sb);
    return 0;
}

/* ---- ordering (HF's compareRuntimeValues) ------------------------------------------------------------- */
int jj_compare(jj_ev *ev, const jj_node *at, const jv *a, const jv *b, int case_sensitive, int *out) {
    int an = a->t == JV_NONE, bn = b->t == JV_NONE, au = a->t == JV_UNDEF, bu = b->t == JV_UNDEF;
    if ((an && bn) || (au && bu)) return *out = 0, 0;
    if (an || bn || au || bu) return jj_fail(ev, at, "cannot compare %s with %s", jv_type_name(a), jv_type_name(b));
    if (a->t <= JV_FLOAT && b->t <= JV_FLOAT) {
        double x = jv_num(a), y = jv_num(b);
        return *out = x < y ? -1 : x > y ? 1 : 0, 0;
    }
    if (a->t != b->t || a->t != JV_STR) return jj_fail(ev, at, "cannot compare %s with %s", jv_type_name(a), jv_type_name(b));
    ur_buf x = {0}, y = {0};
    if (case_sensitive) ur_buf_put(&x, a->u.s->s, a->u.s->len), ur_buf_put(&y, b->u.s->s, b->u.s->len);
    else ju_case(a->u.s->s, a->u.s->len, 0, &x), ju_case(b->u.s->s, b->u.s->len, 0, &y);
    size_t n = x.len < y.len ? x.len : y.len;
    int c = n ? memcmp(x.data, y.data, n) : 0;
    *out = c ? (c < 0 ? -1 : 1) : x.len < y.len ? -1 : x.len > y.len ? 1 : 0;
    ur_buf_free(&x);
    ur_buf_free(&y);
    return 0;
}

/* ---- tests -------------------------------------------------------------------------------------------------- */
int jj_test(jj_ev *ev, const jj_node *at, const char *name, const jv *v, const jv *arg, int nargs, int *out) {
    jv undef = jv_undef();
    const jv *b = nargs > 0 ? arg : &undef;
    int t = v->t;
    if (!strcmp(name, "boolean")) *out = t == JV_BOOL;
    else if (!strcmp(name, "callable")) *out = t == JV_FUNC;
    else if (!strcmp(name, "odd") || !strcmp(name, "even")) {
        if (t != JV_INT) return jj_fail(ev, at, "the test '%s' needs an integer, not %s", name, jv_type_name(v));
        *out = (v->u.i % 2 != 0) == (name[0] == 'o');
    } else if (!strcmp(name, "false") || !strcmp(name, "true")) *out = t == JV_BOOL && v->u.b == (name[0] == 't');
    else if (!strcmp(name, "none")) *out = t == JV_NONE;
    else if (!strcmp(name, "string")) *out = t == JV_STR;
    else if (!strcmp(name, "number")) *out = t == JV_INT || t == JV_FLOAT;
    else if (!strcmp(name, "integer")) *out = t == JV_INT;
    else if (!strcmp(name, "iterable")) *out = (t == JV_LIST && !v->u.l->tuple) || t == JV_STR;
    else if (!strcmp(name, "mapping")) *out = t == JV_DICT;
    else if (!strcmp(name, "sequence")) *out = t == JV_LIST || t == JV_DICT || t == JV_STR;
    else if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        *out = 0;
        if (t == JV_STR) {
            ur_buf c = {0};
            ju_case(v->u.s->s, v->u.s->len, name[0] == 'u', &c);
            *out = c.len == v->u.s->len && !memcmp(c.data, v->u.s->s, c.len);
            ur_buf_free(&c);
        }
    } else if (!strcmp(name, "defined")) *out = t != JV_UNDEF;
    else if (!strcmp(name, "undefined")) *out = t == JV_UNDEF;
    else if (!strcmp(name, "equalto") || !strcmp(name, "eq")) *out = jv_strict_eq(v, b);
    else return jj_fail(ev, at, "unknown test '%s'", name);
    return 0;
}

/* ---- string methods ------------------------------------------------------------------------------------------- */
static int title_case(jj_ev *ev, const jj_str *s, jv *out) { /* /\b\w/g upper-cased, ASCII word characters */
    jv r = jv_str(ev->a, s->s, s->len);
    for (size_t i = 0; i < s->len; i++) {
        char c = r.u.s->s[i], p = i ? s->s[i - 1] : ' ';
        int w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        int pw = (p >= 'a' && p <= 'z') || (p >= 'A' && p <= 'Z') || (p >= '0' && p <= '9') || p == '_';
        if (w && !pw && c >= 'a' && c <= 'z') r.u.s->s[i] = (char)(c - 32);
    }
    return *out = r, 0;
}

static int affix(jj_ev *ev, const jj_node *at, const jj_str *s, jj_args *a, int end, jv *out) {
    if (a->npos == 0) return jj_fail(ev, at, "%s() needs an argument", end ? "endswith" : "startswith");
    const jv *p = &a->pos[0];
    int n = p->t == JV_LIST ? p->u.l->n : 1, hit = 0;
    if (p->t != JV_LIST && p->t != JV_STR)
        return jj_fail(ev, at, "%s() takes a string or a tuple of strings", end ? "endswith" : "startswith");
    for (int i = 0; i < n && !hit; i++) {
        const jv *x = p->t == JV_LIST ? &p->u.l->v[i] : p;
        if (x->t != JV_STR) return jj_fail(ev, at, "%s() takes a string or a tuple of strings", end ? "endswith" : "startswith");
        size_t k = x->u.s->len;
        hit = k <= s->len && !memcmp(s->s + (end ? s->len - k : 0), x->u.s->s, k);
    }
    return *out = jv_bool(hit), 0;
}

static int split(jj_ev *ev, const jj_node *at, const jj_str *s, jj_args *a, jv *out) {
    jv sep = a->npos > 0 ? a->pos[0] : jv_none(), max = a->npos > 1 ? a->pos[1] : jv_int(-1);
    if (sep.t != JV_STR && sep.t != JV_NONE) return jj_fail(ev, at, "split()'s separator must be a string or none");
    if (max.t != JV_INT) return jj_fail(ev, at, "split()'s maxsplit must be an integer");
    *out = jv_list(ev->a, 4);
    jj_list *l = out->u.l;
    if (sep.t == JV_NONE) { /* runs of whitespace; no empty strings */
        size_t i, e;
        ju_trim(s->s, s->len, 1, 0, &i, &e);
        while (i < s->len) {
            size_t j = i;
            uint32_t cp;
            while (j < s->len) {
                size_t k = ju_decode(s->s + j, s->len - j, &cp);
                if (ju_space(cp)) break;
                j += k;
            }
            if (max.u.i >= 0 && l->n >= max.u.i) {
                jl_push(ev->a, l, jv_str(ev->a, s->s + i, s->len - i));
                break;
            }
            jl_push(ev->a, l, jv_str(ev->a, s->s + i, j - i));
            i = j;
            while (i < s->len) {
                size_t k = ju_decode(s->s + i, s->len - i, &cp);
                if (!ju_space(cp)) break;
                i += k;
            }
        }
        return 0;
    }
    const jj_str *p = sep.u.s;
    if (!p->len) return jj_fail(ev, at, "split(): empty separator");
    size_t i = 0;
    for (;;) {
        const char *hit = max.u.i >= 0 && l->n >= max.u.i ? NULL : memmem(s->s + i, s->len - i, p->s, p->len);
        if (!hit) break;
        jl_push(ev->a, l, jv_str(ev->a, s->s + i, (size_t)(hit - s->s) - i));
        i = (size_t)(hit - s->s) + p->len;
    }
    jl_push(ev->a, l, jv_str(ev->a, s->s + i, s->len - i));
    return 0;
}

static int replace(jj_ev *ev, const jj_node *at, const jj_str *s, jj_args *a, jv *out) {
    if (a->npos < 2) return jj_fail(ev, at, "replace() needs two arguments");
    if (a->pos[0].t != JV_STR || a->pos[1].t != JV_STR) return jj_fail(ev, at, "replace()'s arguments must be strings");
    jv count = jv_none();
    if (a->npos > 2) count = a->pos[2];
    if (count.t == JV_DICT && a->kw && count.u.d == a->kw) {
        jv *c = jd_get(a->kw, "count", 5);
        count = c ? *c : jv_none();
    }
    if (count.t != JV_INT && count.t != JV_NONE) return jj_fail(ev, at, "replace()'s count must be an integer or none");
    const jj_str *o = a->pos[0].u.s, *n = a->pos[1].u.s;
    int64_t left = count.t == JV_NONE || count.u.i < 0 ? INT64_MAX : count.u.i;
    size_t grow = o->len ? (s->len / o->len + 1) * n->len : (ju_count(s->s, s->len) + 1) * n->len;
    if (!ja_room(ev->a, s->len + grow)) return jj_fail(ev, at, "replace() would need more than %zu MiB", JJ_MEM_BUDGET >> 20);
    ur_buf b = {0};
    ur_buf_put(&b, "", 0);
    uint32_t cp;
    for (size_t i = 0; i <= s->len;) {
        if (!o->len) { /* an empty pattern matches before every character and at the end */
            if (left > 0) ur_buf_put(&b, n->s, n->len), left--;
            if (i == s->len) break;
            size_t k = ju_decode(s->s + i, s->len - i, &cp);
            ur_buf_put(&b, s->s + i, k);
            i += k;
            continue;
        }
        if (left > 0 && i + o->len <= s->len && !memcmp(s->s + i, o->s, o->len)) {
            ur_buf_put(&b, n->s, n->len);
            i += o->len;
            left--;
        } else if (i < s->len) ur_buf_put(&b, s->s + i++, 1);
        else break;
    }
    *out = jv_str(ev->a, b.data, b.len);
    ur_buf_free(&b);
    return 0;
}

static int string_method(jj_ev *ev, const jj_node *at, int id, const jj_str *s, jj_args *a, jv *out) {
    size_t b, e;
    ur_buf t = {0};
    switch (id) {
    case M_UPPER:
    case M_LOWER:
        ju_case(s->s, s->len, id == M_UPPER, &t);
        *out = jv_str(ev->a, t.data, t.len);
        ur_buf_free(&t);
        return 0;
    case M_STRIP:
    case M_LSTRIP:
    case M_RSTRIP: /* HF ignores the characters argument: JavaScript trim() */
        ju_trim(s->s, s->len, id != M_RSTRIP, id != M_LSTRIP, &b, &e);
        return *out = jv_str(ev->a, s->s + b, e - b), 0;
    case M_TITLE: return title_case(ev, s, out);
    case M_CAPITALIZE: {
        uint32_t cp;
        size_t k = ju_decode(s->s, s->len, &cp);
        ju_case(s->s, k, 1, &t);
        ur_buf_put(&t, s->s + k, s->len - k);
        *out = jv_str(ev->a, t.data, t.len);
        ur_buf_free(&t);
        return 0;
    }
    case M_STARTSWITH:
    case M_ENDSWITH: return affix(ev, at, s, a, id == M_ENDSWITH, out);
    case M_SPLIT: return split(ev, at, s, a, out);
    default: return replace(ev, at, s, a, out);
    }
}

/* ---- dict methods ------------------------------------------------------------------------------------------------- */
typedef struct sort_ctx {
    jj_ev *ev;
    const jj_node *at;
    int case_sensitive, reverse, failed;
    const char *attr; /* NULL: the item itself; else a dotted path (sort filter) */
    int by_value;     /* dictsort */
} sort_ctx;

static jv sort_key(sort_ctx *c, const jv *x) {
    if (c->attr) return jj_attr_path(c->ev, x, c->attr);
    if (x->t == JV_LIST && x->u.l->n == 2 && c->by_value >= 0) return x->u.l->v[c->by_value];
    return *x;
}
static int sort_cmp(sort_ctx *c, const jv *x, const jv *y) {
    if (c->failed) return 0;
    jv a = sort_key(c, x), b = sort_key(c, y);
    int r;
    if (jj_compare(c->ev, c->at, &a, &b, c->case_sensitive, &r)) return c->failed = 1, 0;
    return c->reverse ? -r : r;
}
/* stable merge sort (JavaScript's sort is stable) */
static void msort(sort_ctx *c, jv *v, jv *tmp, int n) {
    if (n < 2 || c->failed) return;
    int h = n / 2;
    msort(c, v, tmp, h);
    msort(c, v + h, tmp, n - h);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = sort_cmp(c, &v[j], &v[i]) < 0 ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, sizeof *v * (size_t)n);
}
int jj_sort(jj_ev *ev, const jj_node *at, jv *v, int n, int case_sensitive, int reverse, const char *attr, int by_value) {
    sort_ctx c = {ev, at, case_sensitive, reverse, 0, attr, by_value};
    jv *tmp = ja_alloc(ev->a, sizeof *tmp * (size_t)(n + 1));
    msort(&c, v, tmp, n);
    return c.failed ? -1 : 0;
}

/* positional argument i, else keyword `name`, else NULL (HF: args.at(i) ?? kwargs.get(name)) */
const jv *jj_arg(const jj_args *a, int i, const char *name) {
    if (i >= 0 && i < a->npos) return &a->pos[i];
    return a->kw && name ? jd_get(a->kw, name, strlen(name)) : NULL;
}

static int dictsort(jj_ev *ev, const jj_node *at, const jj_dict *d, jj_args *a, jv *out) {
    const jv *cs = jj_arg(a, 0, "case_sensitive"), *by = jj_arg(a, 1, "by"), *rev = jj_arg(a, 2, "reverse");
    if (cs && cs->t != JV_BOOL) return jj_fail(ev, at, "dictsort's case_sensitive must be a boolean");
    if (by && (by->t != JV_STR || (strcmp(by->u.s->s, "key") && strcmp(by->u.s->s, "value"))))
        return jj_fail(ev, at, "dictsort's by must be 'key' or 'value'");
    if (rev && rev->t != JV_BOOL) return jj_fail(ev, at, "dictsort's reverse must be a boolean");
    *out = jv_list(ev->a, d->n);
    for (int i = 0; i < d->n; i++) {
        jv pair = jv_list(ev->a, 2);
        jl_push(ev->a, pair.u.l, (jv){.t = JV_STR, .u.s = d->k[i]});
        jl_push(ev->a, pair.u.l, d->v[i]);
        jl_push(ev->a, out->u.l, pair);
    }
    return jj_sort(ev, at, out->u.l->v, out->u.l->n, cs && cs->u.b, rev && rev->u.b, NULL,
                   by && !strcmp(by->u.s->s, "value"));
}

jv jj_dict_items(jj_ev *ev, const jj_dict *d, int what) { /* 0 items, 1 keys, 2 values */
    jv l = jv_list(ev->a, d->n);
    for (int i = 0; i < d->n; i++) {
        jv k = {.t = JV_STR, .u.s = d->k[i]};
        if (what == 1) jl_push(ev->a, l.u.l, k);
        else if (what == 2) jl_push(ev->a, l.u.l, d->v[i]);
        else {
            jv pair = jv_list(ev->a, 2);
            jl_push(ev->a, pair.u.l, k);
            jl_push(ev->a, pair.u.l, d->v[i]);
            jl_push(ev->a, l.u.l, pair);
        }
    }
    return l;
}

int jj_dict_method(jj_ev *ev, const jj_node *at, int id, const jj_dict *d, jj_args *a, jv *out) {
    switch (id) {
    case M_GET: {
        if (a->npos < 1 || a->pos[0].t != JV_STR) return jj_fail(ev, at, "get() needs a string key");
        jv *v = jd_get(d, a->pos[0].u.s->s, a->pos[0].u.s->len);
        return *out = v ? *v : a->npos > 1 ? a->pos[1] : jv_none(), 0;
    }
    case M_ITEMS: return *out = jj_dict_items(ev, d, 0), 0;
    case M_KEYS: return *out = jj_dict_items(ev, d, 1), 0;
    case M_VALUES: return *out = jj_dict_items(ev, d, 2), 0;
    default: return dictsort(ev, at, d, a, out);
    }
}
int jj_dict_method_id(const char *name) {
    for (int id = M_GET; id <= M_DICTSORT; id++)
        if (!strcmp(name, NAMES[id])) return id;
    return -1;
}

/* ---- globals ---------------------------------------------------------------------------------------------------------- */
static int namespace(jj_ev *ev, const jj_node *at, jj_args *a, jv *out) {
    if (a->npos > 1) return jj_fail(ev, at, "namespace() takes at most 1 positional argument, got %d", a->npos);
    *out = jv_dict(ev->a, 8, JV_NS);
    if (a->npos == 1) {
        const jv *src = &a->pos[0];
        if (src->t == JV_DICT) {
            for (int i = 0; i < src->u.d->n; i++) jd_set(ev->a, out->u.d, src->u.d->k[i], src->u.d->v[i]);
        } else if (src->t == JV_LIST) {
            for (int i = 0; i < src->u.l->n; i++) {
                const jv *p = &src->u.l->v[i];
                if (p->t != JV_LIST || p->u.l->n != 2 || p->u.l->v[0].t != JV_STR)
                    return jj_fail(ev, at, "namespace() takes a dict or a list of [key, value] pairs with string keys");
                jd_set(ev->a, out->u.d, p->u.l->v[0].u.s, p->u.l->v[1]);
            }
        } else {
            return jj_fail(ev, at, "namespace() cannot take %s", jv_type_name(src));
        }
    }
    for (int i = 0; a->kw && i < a->kw->n; i++) jd_set(ev->a, out->u.d, a->kw->k[i], a->kw->v[i]);
    return 0;
}

static int range(jj_ev *ev, const jj_node *at, jj_args *a, jv *out) {
    if (a->kw || a->npos < 1 || a->npos > 3) return jj_fail(ev, at, "range() takes 1 to 3 numbers");
    for (int i = 0; i < a->npos; i++)
        if (a->pos[i].t != JV_INT) return jj_fail(ev, at, "range() takes integers, not %s", jv_type_name(&a->pos[i]));
    int64_t b = a->npos > 1 ? a->pos[0].u.i : 0, e = a->npos > 1 ? a->pos[1].u.i : a->pos[0].u.i;
    int64_t s = a->npos > 2 ? a->pos[2].u.i : 1;
    if (s == 0) return jj_fail(ev, at, "range() step must not be zero");
    double count = ceil(((double)e - (double)b) / (double)s);
    if (count > 10000000) return jj_fail(ev, at, "range() of %.0f numbers is too long", count);
    *out = jv_list(ev->a, count > 0 ? (int)count : 0);
    for (int64_t i = b; s > 0 ? i < e : i > e; i += s) {
        jl_push(ev->a, out->u.l, jv_int(i));
        if ((s > 0 && i > INT64_MAX - s) || (s < 0 && i < INT64_MIN - s)) break;
    }
    return 0;
}

/* HF's strftime_now: local time; %Y %m %d %b %B %H %M %% (English month names), other
 * directives kept as they are. */
static int strftime_now(jj_ev *ev, const jj_node *at, jj_args *a, jv *out) {
    if (a->npos < 1 || a->pos[0].t != JV_STR) return jj_fail(ev, at, "strftime_now() needs a format string");
    static const char *const months[] = {"January", "February", "March",     "April",   "May",      "June",
                                         "July",    "August",   "September", "October", "November", "December"};
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    const jj_str *f = a->pos[0].u.s;
    ur_buf b = {0};
    ur_buf_put(&b, "", 0);
    for (size_t i = 0; i < f->len; i++) {
        char d = i + 1 < f->len && f->s[i] == '%' ? f->s[i + 1] : 0;
        if (!d || !strchr("YmdbBHM%", d)) {
            ur_buf_put(&b, f->s + i, 1);
            continue;
        }
        i++;
        switch (d) {
        case 'Y': ur_buf_printf(&b, "%d", tm.tm_year + 1900); break;
        case 'm': ur_buf_printf(&b, "%02d", tm.tm_mon + 1); break;
        case 'd': ur_buf_printf(&b, "%02d", tm.tm_mday); break;
        case 'b': ur_buf_printf(&b, "%.3s", months[tm.tm_mon]); break;
        case 'B': ur_buf_puts(&b, months[tm.tm_mon]); break;
        case 'H': ur_buf_printf(&b, "%02d", tm.tm_hour); break;
        case 'M': ur_buf_printf(&b, "%02d", tm.tm_min); break;
        default: ur_buf_puts(&b, "%");
        }
    }
    *out = jv_str(ev->a, b.data, b.len);
    ur_buf_free(&b);
    return 0;
}

int jj_call_builtin(jj_ev *ev, const jj_node *at, const jj_func *f, jj_args *args, jv *out) {
    jj_args a = *args;
    if (f->id != B_NAMESPACE && f->id != B_RANGE && f->id != M_DICTSORT && a.kw) { /* HF: keyword arguments arrive as a last dict */
        jv *p = ja_alloc(ev->a, sizeof *p * (size_t)(a.npos + 1));
        if (a.npos) memcpy(p, a.pos, sizeof *p * (size_t)a.npos);
        p[a.npos++] = (jv){.t = JV_DICT, .u.d = a.kw};
        a.pos = p;
    }
    switch (f->id) {
    case B_NAMESPACE: return namespace(ev, at, &a, out);
    case B_RANGE: return range(ev, at, &a, out);
    case B_STRFTIME: return strftime_now(ev, at, &a, out);
    case B_RAISE: {
        jv msg = jv_strz(ev->a, "");
        if (a.npos > 0 && a.pos[0].t != JV_UNDEF && jv_to_str(ev, at, &a.pos[0], 0, &msg)) return -1;
        return jj_fail(ev, at, "the template raised an exception: %s", msg.u.s->s);
    }
    default:
        if (f->id >= M_GET) return jj_dict_method(ev, at, f->id, f->self.u.d, &a, out);
        return string_method(ev, at, f->id, f->self.u.s, &a, out);
    }
}
