/* Jinja values: the arena they live in, lists and dicts, truthiness, equality and
 * their text forms, all with @huggingface/jinja's (JavaScript's) meanings:
 *   - `==` is JavaScript's loose equality of the underlying values ("1" == 1, and a
 *     list or dict equals only itself); `in` and the equalto test use ===;
 *   - a value prints (toString) as: integers in decimal, floats as JavaScript numbers
 *     with ".0" when integral, true/false, lists and dicts as JSON;
 *   - `+` and `~` join JavaScript's String() of the values (floats without ".0");
 *   - tojson is JSON.stringify with Python json.dumps' separators. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JJ_INTERNAL
#include "chat/jinja.h"

/* ---- arena ------------------------------------------------------------------------ */
struct jj_chunk {
    jj_chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

void *ja_alloc(jj_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!n) n = 16;
    jj_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = ur_xmalloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        if (a->head && n > 65536) { /* a big block: keep the current chunk for small ones */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void ja_free(jj_arena *a) {
    for (jj_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->used = 0;
}

int ja_room(const jj_arena *a, size_t n) { return a->used <= a->budget && n <= a->budget - a->used; }

jj_str *ja_str(jj_arena *a, const char *s, size_t n) {
    jj_str *x = ja_alloc(a, sizeof *x + n + 1);
    x->len = n;
    if (n) memcpy(x->s, s, n);
    return x;
}

/* ---- constructors ------------------------------------------------------------------------ */
jv jv_str(jj_arena *a, const char *s, size_t n) { return (jv){.t = JV_STR, .u.s = ja_str(a, s, n)}; }
jv jv_strz(jj_arena *a, const char *s) { return jv_str(a, s, strlen(s)); }

jv jv_list(jj_arena *a, int cap) {
    jj_list *l = ja_alloc(a, sizeof *l);
    l->cap = cap > 0 ? cap : 4;
    l->v = ja_alloc(a, sizeof *l->v * (size_t)l->cap);
    return (jv){.t = JV_LIST, .u.l = l};
}

jv jv_dict(jj_arena *a, int cap, int type) {
    jj_dict *d = ja_alloc(a, sizeof *d);
    d->cap = cap > 0 ? cap : 4;
    d->k = ja_alloc(a, sizeof *d->k * (size_t)d->cap);
    d->v = ja_alloc(a, sizeof *d->v * (size_t)d->cap);
    return (jv){.t = type, .u.d = d};
}

void jl_push(jj_arena *a, jj_list *l, jv v) {
    if (l->n == l->cap) {
        int cap = 2 * l->cap + 4;
        jv *nv = ja_alloc(a, sizeof *nv * (size_t)cap);
        if (l->n) memcpy(nv, l->v, sizeof *nv * (size_t)l->n);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

jv *jd_get(const jj_dict *d, const char *key, size_t n) {
    for (int i = 0; i < d->n; i++)
        if (d->k[i]->len == n && !memcmp(d->k[i]->s, key, n)) return &d->v[i];
    return NULL;
}

void jd_set(jj_arena *a, jj_dict *d, jj_str *key, jv v) {
    jv *old = jd_get(d, key->s, key->len);
    if (old) {
        *old = v;
        return;
    }
    if (d->n == d->cap) {
        int cap = 2 * d->cap + 4;
        jj_str **nk = ja_alloc(a, sizeof *nk * (size_t)cap);
        jv *nv = ja_alloc(a, sizeof *nv * (size_t)cap);
        if (d->n) memcpy(nk, d->k, sizeof *nk * (size_t)d->n), memcpy(nv, d->v, sizeof *nv * (size_t)d->n);
        d->k = nk, d->v = nv, d->cap = cap;
    }
    d->k[d->n] = key;
    d->v[d->n++] = v;
}

/* ---- kinds ------------------------------------------------------------------------------------ */
const char *jv_type_name(const jv *v) {
    switch (v->t) {
    case JV_UNDEF: return "undefined";
    case JV_NONE: return "none";
    case JV_BOOL: return "a boolean";
    case JV_INT: return "an integer";
    case JV_FLOAT: return "a float";
    case JV_STR: return "a string";
    case JV_LIST: return v->u.l->tuple ? "a tuple" : "a list";
    case JV_DICT: return "a dict";
    case JV_NS: return "a namespace";
    default: return "a function";
    }
}

int jv_truthy(const jv *v) {
    switch (v->t) {
    case JV_BOOL: return v->u.b;
    case JV_INT: return v->u.i != 0;
    case JV_FLOAT: return v->u.f != 0 && !isnan(v->u.f);
    case JV_STR: return v->u.s->len > 0;
    case JV_LIST: return v->u.l->n > 0;
    case JV_DICT: return v->u.d->n > 0;
    case JV_NS:
    case JV_FUNC: return 1; /* a namespace is a JavaScript Map: always true */
    default: return 0;
    }
}

int jv_is_num(const jv *v) { return v->t == JV_INT || v->t == JV_FLOAT; }
double jv_num(const jv *v) { return v->t == JV_INT ? (double)v->u.i : v->t == JV_FLOAT ? v->u.f : v->t == JV_BOOL ? v->u.b : 0; }

/* ---- numbers as JavaScript prints them ---------------------------------------------------------- */
void js_number(double x, ur_buf *out) {
    if (isnan(x)) return ur_buf_puts(out, "NaN");
    if (isinf(x)) return ur_buf_puts(out, x < 0 ? "-Infinity" : "Infinity");
    if (x == 0) return ur_buf_puts(out, "0");
    char buf[40], digits[24];
    int p;
    for (p = 1; p <= 17; p++) { /* the shortest digits that read back as x */
        snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        if (strtod(buf, NULL) == x) break;
    }
    const char *s = buf + (buf[0] == '-');
    int k = 0, e = atoi(strchr(s, 'e') + 1);
    for (; *s != 'e'; s++)
        if (*s != '.') digits[k++] = *s;
    while (k > 1 && digits[k - 1] == '0') k--;
    digits[k] = 0;
    int n = e + 1; /* x = 0.digits * 10^n */
    if (x < 0) ur_buf_puts(out, "-");
    if (k <= n && n <= 21) {
        ur_buf_puts(out, digits);
        for (int i = k; i < n; i++) ur_buf_puts(out, "0");
    } else if (0 < n && n <= 21) {
        ur_buf_printf(out, "%.*s.%s", n, digits, digits + n);
    } else if (-6 < n && n <= 0) {
        ur_buf_puts(out, "0.");
        for (int i = 0; i < -n; i++) ur_buf_puts(out, "0");
        ur_buf_puts(out, digits);
    } else {
        ur_buf_printf(out, "%c%s%s%se%c%d", digits[0], k > 1 ? "." : "", digits + 1, "", n - 1 < 0 ? '-' : '+',
                      abs(n - 1));
    }
}

/* FloatValue.toString(): integral values with ".0" (toFixed(1)) */
static void float_display(double x, ur_buf *out) {
    if (x == 0 && signbit(x)) return ur_buf_puts(out, "-0.0");
    if (isfinite(x) && x == floor(x) && fabs(x) < 1e21) return ur_buf_printf(out, "%.1f", x);
    js_number(x, out);
}

/* ---- equality ------------------------------------------------------------------------------------------ */
static int is_object(const jv *v) { return v->t >= JV_LIST; }

/* JavaScript's StringToNumber: trimmed decimal (or 0x/0o/0b) literal, "" -> 0, else NaN. */
static double js_to_number(const jj_str *s) {
    size_t b, e;
    ju_trim(s->s, s->len, 1, 1, &b, &e);
    if (b == e) return 0;
    char buf[128];
    size_t n = e - b;
    if (n >= sizeof buf) return NAN;
    memcpy(buf, s->s + b, n);
    buf[n] = 0;
    const char *p = buf;
    if (n > 2 && buf[0] == '0' && strchr("xXoObB", buf[1])) {
        int base = buf[1] == 'x' || buf[1] == 'X' ? 16 : buf[1] == 'o' || buf[1] == 'O' ? 8 : 2;
        char *end;
        double v = (double)strtoull(buf + 2, &end, base);
        return *end || buf[2] == '-' || buf[2] == '+' ? NAN : v;
    }
    const char *q = p + (*p == '+' || *p == '-');
    if (!strcmp(q, "Infinity")) return *p == '-' ? -INFINITY : INFINITY;
    int digits = 0;
    for (const char *c = q; *c && *c != 'e' && *c != 'E'; c++) {
        if (*c >= '0' && *c <= '9') digits++;
        else if (*c != '.') return NAN;
    }
    if (!digits) return NAN;
    char *end;
    double v = strtod(p, &end);
    return *end ? NAN : v;
}

/* ToPrimitive of a list / dict / function: Array#toString joins the elements' toString() */
static void object_primitive(const jv *v, ur_buf *out);
static void elem_string(const jv *v, ur_buf *out) {
    switch (v->t) {
    case JV_UNDEF: ur_buf_puts(out, "undefined"); break;
    case JV_NONE: ur_buf_puts(out, "null"); break;
    case JV_BOOL: ur_buf_puts(out, v->u.b ? "true" : "false"); break;
    case JV_INT: ur_buf_printf(out, "%lld", (long long)v->u.i); break;
    case JV_FLOAT: float_display(v->u.f, out); break;
    case JV_STR: ur_buf_put(out, v->u.s->s, v->u.s->len); break;
    default: object_primitive(v, out);
    }
}
static void object_primitive(const jv *v, ur_buf *out) {
    ur_buf_put(out, "", 0);
    if (v->t == JV_LIST)
        for (int i = 0; i < v->u.l->n; i++) {
            if (i) ur_buf_puts(out, ",");
            elem_string(&v->u.l->v[i], out);
        }
    else ur_buf_puts(out, v->t == JV_FUNC ? "function" : "[object Map]");
}

int jv_loose_eq(const jv *a, const jv *b) {
    int an = a->t == JV_UNDEF || a->t == JV_NONE, bn = b->t == JV_UNDEF || b->t == JV_NONE;
    if (an || bn) return an && bn;
    if (is_object(a) && is_object(b)) return a->t == b->t && a->u.l == b->u.l;
    if (is_object(a) || is_object(b)) {
        const jv *o = is_object(a) ? a : b, *p = is_object(a) ? b : a;
        if (o->t == JV_FUNC) return 0;
        ur_buf t = {0};
        object_primitive(o, &t);
        jj_str *s = malloc(sizeof *s + t.len + 1);
        if (!s) ur_oom(sizeof *s + t.len + 1);
        s->len = t.len;
        memcpy(s->s, t.data, t.len + 1);
        jv sv = {.t = JV_STR, .u.s = s};
        int eq = jv_loose_eq(&sv, p);
        free(s);
        ur_buf_free(&t);
        return eq;
    }
    if (a->t == JV_STR && b->t == JV_STR) return a->u.s->len == b->u.s->len && !memcmp(a->u.s->s, b->u.s->s, a->u.s->len);
    if (a->t == JV_BOOL && b->t == JV_BOOL) return a->u.b == b->u.b;
    double x = a->t == JV_STR ? js_to_number(a->u.s) : jv_num(a), y = b->t == JV_STR ? js_to_number(b->u.s) : jv_num(b);
    if (a->t == JV_INT && b->t == JV_INT) return a->u.i == b->u.i;
    return x == y;
}

int jv_strict_eq(const jv *a, const jv *b) {
    if (jv_is_num(a) && jv_is_num(b))
        return a->t == JV_INT && b->t == JV_INT ? a->u.i == b->u.i : jv_num(a) == jv_num(b);
    if (a->t != b->t) return 0;
    switch (a->t) {
    case JV_UNDEF:
    case JV_NONE: return 1;
    case JV_BOOL: return a->u.b == b->u.b;
    case JV_STR: return a->u.s->len == b->u.s->len && !memcmp(a->u.s->s, b->u.s->s, a->u.s->len);
    default: return a->u.l == b->u.l;
    }
}

/* ---- JSON --------------------------------------------------------------------------------------------- */
static void json_string(const char *s, size_t n, int ascii, ur_buf *out) {
    ur_buf_puts(out, "\"");
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        static const char esc[] = "\"\\\b\f\n\r\t", rep[] = "\"\\bfnrt";
        const char *k = c ? strchr(esc, c) : NULL;
        if (k) {
            ur_buf_printf(out, "\\%c", rep[k - esc]);
            i++;
        } else if (c < 0x20) {
            ur_buf_printf(out, "\\u%04x", c);
            i++;
        } else if (ascii && c >= 0x7F) {
            uint32_t cp;
            i += ju_decode(s + i, n - i, &cp);
            if (cp >= 0x10000)
                ur_buf_printf(out, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF));
            else ur_buf_printf(out, "\\u%04x", cp);
        } else {
            ur_buf_put(out, s + i++, 1);
        }
    }
    ur_buf_puts(out, "\"");
}

/* An approximation of String#localeCompare (ICU root collation) for sort_keys:
 * punctuation before digits before letters, letters case-insensitively, then lower
 * case first, then bytes. */
static int coll_class(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 ? 2 : c >= '0' && c <= '9' ? 1 : 0;
}
static int locale_cmp(const jj_str *a, const jj_str *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a->s[i], y = (unsigned char)b->s[i];
        int cx = coll_class(x), cy = coll_class(y);
        if (cx != cy) return cx - cy;
        int lx = x >= 'A' && x <= 'Z' ? x + 32 : x, ly = y >= 'A' && y <= 'Z' ? y + 32 : y;
        if (lx != ly) return lx - ly;
    }
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    for (size_t i = 0; i < n; i++) /* tertiary: lower case first */
        if (a->s[i] != b->s[i]) return (unsigned char)b->s[i] - (unsigned char)a->s[i];
    return 0;
}

static void pad(ur_buf *out, int indent, int depth) {
    ur_buf_puts(out, "\n");
    for (long i = 0; i < (long)indent * depth; i++) ur_buf_puts(out, " ");
}

int jv_json(jj_ev *ev, const jj_node *at, const jv *v, const jj_json_opts *o, int depth, ur_buf *out) {
    const char *isep = o->item_sep ? o->item_sep : o->indent ? "," : ", ", *ksep = o->key_sep ? o->key_sep : ": ";
    if (depth > JJ_MAX_DEPTH) return jj_fail(ev, at, "a value nests too deeply for JSON");
    switch (v->t) {
    case JV_NONE: ur_buf_puts(out, "null"); return 0;
    case JV_UNDEF: ur_buf_puts(out, o->undef_null ? "null" : "undefined"); return 0;
    case JV_BOOL: ur_buf_puts(out, v->u.b ? "true" : "false"); return 0;
    case JV_INT: ur_buf_printf(out, "%lld", (long long)v->u.i); return 0;
    case JV_FLOAT:
        if (isfinite(v->u.f)) js_number(v->u.f, out);
        else ur_buf_puts(out, "null");
        return 0;
    case JV_STR: json_string(v->u.s->s, v->u.s->len, o->ensure_ascii, out); return 0;
    case JV_LIST:
        if (v->u.l->tuple) break;
        ur_buf_puts(out, "[");
        for (int i = 0; i < v->u.l->n; i++) {
            if (i) ur_buf_puts(out, isep);
            if (o->indent) pad(out, o->indent, depth + 1);
            if (jv_json(ev, at, &v->u.l->v[i], o, depth + 1, out)) return -1;
        }
        if (o->indent && v->u.l->n) pad(out, o->indent, depth);
        ur_buf_puts(out, "]");
        return 0;
    case JV_DICT:
    case JV_NS: {
        const jj_dict *d = v->u.d;
        int *order = ur_xmalloc(sizeof *order * (size_t)(d->n + 1));
        for (int i = 0; i < d->n; i++) order[i] = i;
        for (int i = 1; o->sort_keys && i < d->n; i++) /* insertion sort: stable, like Array#sort */
            for (int j = i; j > 0 && locale_cmp(d->k[order[j - 1]], d->k[order[j]]) > 0; j--) {
                int t = order[j];
                order[j] = order[j - 1], order[j - 1] = t;
            }
        ur_buf_puts(out, "{");
        int rc = 0;
        for (int i = 0; i < d->n && !rc; i++) {
            if (i) ur_buf_puts(out, isep);
            if (o->indent) pad(out, o->indent, depth + 1);
            json_string(d->k[order[i]]->s, d->k[order[i]]->len, o->ensure_ascii, out);
            ur_buf_puts(out, ksep);
            rc = jv_json(ev, at, &d->v[order[i]], o, depth + 1, out);
        }
        free(order);
        if (rc) return -1;
        if (o->indent && d->n) pad(out, o->indent, depth);
        ur_buf_puts(out, "}");
        return 0;
    }
    default: break;
    }
    return jj_fail(ev, at, "cannot convert %s to JSON", jv_type_name(v));
}

/* ---- text forms ------------------------------------------------------------------------------------------ */
int jv_display(jj_ev *ev, const jj_node *at, const jv *v, ur_buf *out) {
    static const jj_json_opts plain = {0};
    switch (v->t) {
    case JV_LIST:
    case JV_DICT:
    case JV_NS: return jv_json(ev, at, v, &plain, 0, out);
    default: elem_string(v, out); return 0;
    }
}

int jv_js(jj_ev *ev, const jj_node *at, const jv *v, ur_buf *out) {
    (void)ev, (void)at;
    if (v->t == JV_FLOAT) js_number(v->u.f, out);
    else if (is_object(v)) object_primitive(v, out);
    else elem_string(v, out);
    return 0;
}

int jv_to_str(jj_ev *ev, const jj_node *at, const jv *v, int display, jv *out) {
    if (v->t == JV_STR) return *out = *v, 0;
    ur_buf b = {0};
    ur_buf_put(&b, "", 0);
    int rc = display ? jv_display(ev, at, v, &b) : jv_js(ev, at, v, &b);
    if (!rc) *out = jv_str(ev->a, b.data, b.len);
    ur_buf_free(&b);
    return rc;
}
