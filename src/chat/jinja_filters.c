/* Jinja filters, as @huggingface/jinja has them. HF dispatches on how a filter is
 * written and on the operand's type, and so does this file:
 *   `x | name`     safe, tojson; then per type: list (list first last length reverse
 *                  sort join string unique), string (length upper lower title
 *                  capitalize trim indent join string int float), number (abs int float
 *                  string), dict (items length get keys values dictsort), bool (bool int
 *                  float string);
 *   `x | name(..)` tojson join int float default on anything; list: sort selectattr
 *                  rejectattr map; string: indent replace; dict: its methods.
 * Anything else is an error naming the filter and the operand's type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JJ_INTERNAL
#include "chat/jinja.h"

static int no_filter(jj_ev *ev, const jj_node *at, const char *name, const jv *v) {
    return jj_fail(ev, at, "unknown filter '%s' for %s", name, jv_type_name(v));
}

static int json_out(jj_ev *ev, const jj_node *at, const jv *v, const jj_json_opts *o, jv *out) {
    ur_buf b = {0};
    ur_buf_put(&b, "", 0);
    int rc = jv_json(ev, at, v, o, 0, &b);
    if (!rc) *out = jv_str(ev->a, b.data, b.len);
    ur_buf_free(&b);
    return rc;
}

/* JavaScript parseInt(s, 10) / parseFloat(s): the longest numeric prefix after
 * whitespace; NaN when there is none. */
static double js_parse(const jj_str *s, int integer) {
    size_t b, e;
    ju_trim(s->s, s->len, 1, 0, &b, &e);
    const char *p = s->s + b, *q = p;
    if (*q == '+' || *q == '-') q++;
    if (!integer && !strncmp(q, "Infinity", 8)) return *p == '-' ? -INFINITY : INFINITY;
    const char *d = q;
    while (*d >= '0' && *d <= '9') d++;
    int digits = d > q;
    if (!integer && *d == '.') {
        const char *f = d + 1;
        while (*f >= '0' && *f <= '9') f++;
        if (digits || f > d + 1) digits = 1, d = f;
    }
    if (!digits) return NAN;
    if (!integer && (*d == 'e' || *d == 'E')) {
        const char *x = d + 1 + (d[1] == '+' || d[1] == '-');
        if (*x >= '0' && *x <= '9') {
            while (*x >= '0' && *x <= '9') x++;
            d = x;
        }
    }
    char buf[400];
    size_t n = (size_t)(d - p) < sizeof buf - 1 ? (size_t)(d - p) : sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return integer ? trunc(strtod(buf, NULL)) : strtod(buf, NULL);
}

static int number_from(jj_ev *ev, const jj_node *at, double x, int integer, jv *out) {
    if (!integer) return *out = jv_float(x), 0;
    if (!(fabs(x) < 9.2e18)) return jj_fail(ev, at, "the number is too large for an integer");
    return *out = jv_int((int64_t)x), 0;
}

/* x | join(sep): a list's values joined (none and undefined as ""), a string's characters */
static int join(jj_ev *ev, const jj_node *at, const jv *v, const jv *sep, jv *out) {
    if (sep && sep->t != JV_STR) return jj_fail(ev, at, "join's separator must be a string");
    if (v->t != JV_LIST && v->t != JV_STR) return no_filter(ev, at, "join", v);
    ur_buf b = {0};
    ur_buf_put(&b, "", 0);
    uint32_t cp;
    int n = v->t == JV_LIST ? v->u.l->n : (int)ju_count(v->u.s->s, v->u.s->len);
    for (int i = 0, off = 0; i < n; i++) {
        if (i && sep) ur_buf_put(&b, sep->u.s->s, sep->u.s->len);
        if (v->t == JV_STR) {
            size_t k = ju_decode(v->u.s->s + off, v->u.s->len - (size_t)off, &cp);
            ur_buf_put(&b, v->u.s->s + off, k);
            off += (int)k;
        } else if (v->u.l->v[i].t != JV_NONE && v->u.l->v[i].t != JV_UNDEF) {
            jv_js(ev, at, &v->u.l->v[i], &b);
        }
        if (b.len > JJ_MEM_BUDGET) {
            ur_buf_free(&b);
            return jj_fail(ev, at, "join's result passes %zu MiB", JJ_MEM_BUDGET >> 20);
        }
    }
    *out = jv_str(ev->a, b.data, b.len);
    ur_buf_free(&b);
    return 0;
}

static int indent(jj_ev *ev, const jj_node *at, const jj_str *s, const jv *width, int first, int blank, jv *out) {
    if (width->t != JV_STR && width->t != JV_INT) return jj_fail(ev, at, "indent's width must be an integer or a string");
    if (width->t == JV_INT && width->u.i > 0) { /* the result's size, before building it */
        size_t lines = 1;
        for (size_t i = 0; i < s->len; i++) lines += s->s[i] == '\n';
        size_t w = (size_t)width->u.i;
        if (!ja_room(ev->a, w) || lines > SIZE_MAX / w || !ja_room(ev->a, w * lines))
            return jj_fail(ev, at, "indent's width %lld is too large", (long long)width->u.i);
    }
    ur_buf pad = {0}, b = {0};
    ur_buf_put(&pad, "", 0);
    ur_buf_put(&b, "", 0);
    if (width->t == JV_STR) ur_buf_put(&pad, width->u.s->s, width->u.s->len);
    else
        for (int64_t i = 0; i < width->u.i; i++) ur_buf_puts(&pad, " ");
    size_t start = 0;
    for (int line = 0;; line++) {
        const char *nl = memchr(s->s + start, '\n', s->len - start);
        size_t end = nl ? (size_t)(nl - s->s) : s->len;
        if (!((line == 0 && !first) || (end == start && !blank))) ur_buf_put(&b, pad.data, pad.len);
        ur_buf_put(&b, s->s + start, end - start);
        if (!nl) break;
        ur_buf_puts(&b, "\n");
        start = end + 1;
    }
    *out = jv_str(ev->a, b.data, b.len);
    ur_buf_free(&pad);
    ur_buf_free(&b);
    return 0;
}

static int unique(jj_ev *ev, const jv *v, jv *out) {
    *out = jv_list(ev->a, v->u.l->n);
    for (int i = 0; i < v->u.l->n; i++) {
        int seen = 0;
        for (int j = 0; j < out->u.l->n && !seen; j++) seen = jv_strict_eq(&out->u.l->v[j], &v->u.l->v[i]);
        if (!seen) jl_push(ev->a, out->u.l, v->u.l->v[i]);
    }
    return 0;
}

static jv copy_list(jj_ev *ev, const jv *v) {
    jv c = jv_list(ev->a, v->u.l->n);
    memcpy(c.u.l->v, v->u.l->v, sizeof *c.u.l->v * (size_t)v->u.l->n);
    c.u.l->n = v->u.l->n;
    return c;
}

/* ---- x | name ------------------------------------------------------------------------------------- */
static int list_plain(jj_ev *ev, const jj_node *at, const char *f, const jv *v, jv *out) {
    const jj_list *l = v->u.l;
    if (!strcmp(f, "list")) *out = *v;
    else if (!strcmp(f, "first")) *out = l->n ? l->v[0] : jv_undef();
    else if (!strcmp(f, "last")) *out = l->n ? l->v[l->n - 1] : jv_undef();
    else if (!strcmp(f, "length")) *out = jv_int(l->n);
    else if (!strcmp(f, "reverse")) {
        *out = copy_list(ev, v);
        for (int i = 0; i < l->n; i++) out->u.l->v[i] = l->v[l->n - 1 - i];
    } else if (!strcmp(f, "sort")) {
        *out = copy_list(ev, v);
        return jj_sort(ev, at, out->u.l->v, l->n, 0, 0, NULL, -1);
    } else if (!strcmp(f, "join")) return join(ev, at, v, NULL, out);
    else if (!strcmp(f, "string")) return jv_to_str(ev, at, v, 1, out);
    else if (!strcmp(f, "unique")) return unique(ev, v, out);
    else return no_filter(ev, at, f, v);
    return 0;
}

static int string_plain(jj_ev *ev, const jj_node *at, const char *f, const jv *v, jv *out) {
    const jj_str *s = v->u.s;
    static const char *const methods[] = {"upper", "lower", "title", "capitalize"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(f, methods[i])) {
            jv key = jv_strz(ev->a, f), m;
            jj_args none = {0};
            return jj_member(ev, at, v, &key, &m) || jj_call(ev, at, &m, &none, NULL, out);
        }
    if (!strcmp(f, "length")) *out = jv_int((int64_t)ju_utf16_len(s->s, s->len));
    else if (!strcmp(f, "trim")) {
        size_t b, e;
        ju_trim(s->s, s->len, 1, 1, &b, &e);
        *out = jv_str(ev->a, s->s + b, e - b);
    } else if (!strcmp(f, "indent")) {
        jv w = jv_int(4);
        return indent(ev, at, s, &w, 0, 0, out);
    } else if (!strcmp(f, "join") || !strcmp(f, "string")) *out = *v;
    else if (!strcmp(f, "int") || !strcmp(f, "float")) {
        double x = js_parse(s, f[0] == 'i');
        return number_from(ev, at, isnan(x) ? 0 : x, f[0] == 'i', out);
    } else return no_filter(ev, at, f, v);
    return 0;
}

static int plain_filter(jj_ev *ev, const jj_node *at, const char *f, const jv *v, jv *out) {
    if (!strcmp(f, "safe")) return *out = *v, 0;
    if (!strcmp(f, "tojson")) {
        jj_json_opts o = {.undef_null = 1};
        return json_out(ev, at, v, &o, out);
    }
    switch (v->t) {
    case JV_LIST: return list_plain(ev, at, f, v, out);
    case JV_STR: return string_plain(ev, at, f, v, out);
    case JV_INT:
    case JV_FLOAT:
        if (!strcmp(f, "abs")) *out = v->t == JV_INT ? jv_int(v->u.i < 0 && v->u.i != INT64_MIN ? -v->u.i : v->u.i)
                                                     : jv_float(fabs(v->u.f));
        else if (!strcmp(f, "int")) return number_from(ev, at, trunc(jv_num(v)), 1, out);
        else if (!strcmp(f, "float")) *out = jv_float(jv_num(v));
        else if (!strcmp(f, "string")) return jv_to_str(ev, at, v, 1, out);
        else return no_filter(ev, at, f, v);
        return 0;
    case JV_DICT: {
        if (!strcmp(f, "items")) return *out = jj_dict_items(ev, v->u.d, 0), 0;
        if (!strcmp(f, "length")) return *out = jv_int(v->u.d->n), 0;
        int id = jj_dict_method_id(f);
        jj_args none = {0};
        if (id >= 0) return jj_dict_method(ev, at, id, v->u.d, &none, out);
        return no_filter(ev, at, f, v);
    }
    case JV_BOOL:
        if (!strcmp(f, "bool")) *out = *v;
        else if (!strcmp(f, "int")) *out = jv_int(v->u.b);
        else if (!strcmp(f, "float")) *out = jv_float(v->u.b);
        else if (!strcmp(f, "string")) *out = jv_strz(ev->a, v->u.b ? "true" : "false");
        else return no_filter(ev, at, f, v);
        return 0;
    default: return jj_fail(ev, at, "cannot apply the filter '%s' to %s", f, jv_type_name(v));
    }
}

/* ---- x | name(args) ------------------------------------------------------------------------------------- */
static int tojson_call(jj_ev *ev, const jj_node *at, const jv *v, const jj_args *a, jv *out) {
    jj_json_opts o = {.undef_null = 1};
    const jv *ind = jj_arg(a, -1, "indent"), *asc = jj_arg(a, -1, "ensure_ascii"), *sk = jj_arg(a, -1, "sort_keys"),
             *sep = jj_arg(a, -1, "separators");
    if (ind && ind->t != JV_INT && ind->t != JV_NONE) return jj_fail(ev, at, "tojson's indent must be an integer");
    if (ind && ind->t == JV_INT) {
        if (ind->u.i < 0 || ind->u.i > 1000) return jj_fail(ev, at, "tojson's indent %lld is out of range", (long long)ind->u.i);
        o.indent = (int)ind->u.i;
    }
    if (asc && asc->t != JV_BOOL) return jj_fail(ev, at, "tojson's ensure_ascii must be a boolean");
    if (sk && sk->t != JV_BOOL) return jj_fail(ev, at, "tojson's sort_keys must be a boolean");
    o.ensure_ascii = asc && asc->u.b;
    o.sort_keys = sk && sk->u.b;
    if (sep && sep->t == JV_LIST) {
        if (sep->u.l->n != 2 || sep->u.l->v[0].t != JV_STR || sep->u.l->v[1].t != JV_STR)
            return jj_fail(ev, at, "tojson's separators must be two strings");
        o.item_sep = sep->u.l->v[0].u.s->s;
        o.key_sep = sep->u.l->v[1].u.s->s;
    } else if (sep && sep->t != JV_NONE) {
        return jj_fail(ev, at, "tojson's separators must be two strings");
    }
    return json_out(ev, at, v, &o, out);
}

static int number_call(jj_ev *ev, const jj_node *at, const char *f, const jv *v, const jj_args *a, jv *out) {
    int integer = f[0] == 'i';
    const jv *d = jj_arg(a, 0, "default");
    jv def = d ? *d : integer ? jv_int(0) : jv_float(0);
    if (v->t == JV_STR) {
        double x = js_parse(v->u.s, integer);
        return isnan(x) ? (*out = def, 0) : number_from(ev, at, x, integer, out);
    }
    if (jv_is_num(v)) return integer ? number_from(ev, at, trunc(jv_num(v)), 1, out) : (*out = jv_float(jv_num(v)), 0);
    if (v->t == JV_BOOL) return *out = integer ? jv_int(v->u.b) : jv_float(v->u.b), 0;
    return jj_fail(ev, at, "cannot apply the filter '%s' to %s", f, jv_type_name(v));
}

/* selectattr / rejectattr: HF keeps an item when its attribute exists and passes the
 * test (an item without the attribute is never selected, whatever the test). */
static int select_attr(jj_ev *ev, const jj_node *node, const jv *v, jj_scope *sc, jv *out) {
    int select = node->s->s[0] == 's';
    for (int i = 0; i < v->u.l->n; i++)
        if (v->u.l->v[i].t != JV_DICT && v->u.l->v[i].t != JV_NS)
            return jj_fail(ev, node, "'%s' needs a list of dicts", node->s->s);
    for (int i = 0; i < node->n; i++)
        if (node->v[i]->k != N_STR) return jj_fail(ev, node->v[i], "the arguments of '%s' must be strings", node->s->s);
    if (node->n < 1) return jj_fail(ev, node, "'%s' needs an attribute name", node->s->s);
    jv val = node->n > 2 ? (jv){.t = JV_STR, .u.s = node->v[2]->s} : jv_undef();
    const char *attr = node->v[0]->s->s, *test = node->n > 1 ? node->v[1]->s->s : NULL;
    (void)sc;
    *out = jv_list(ev->a, v->u.l->n);
    for (int i = 0; i < v->u.l->n; i++) {
        const jv *item = &v->u.l->v[i];
        jv *a = jd_get(item->u.d, attr, node->v[0]->s->len);
        int r = 0;
        if (a && test && jj_test(ev, node, test, a, &val, node->n > 2, &r)) return -1;
        if (a && !test) r = jv_truthy(a);
        if (r == select) jl_push(ev->a, out->u.l, *item);
    }
    return 0;
}

/* getAttributeValue: "a.b.0" through dicts and list indexes; undefined when missing */
jv jj_attr_path(jj_ev *ev, const jv *item, const char *path) {
    (void)ev;
    jv v = *item;
    while (*path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (v.t == JV_DICT || v.t == JV_NS) {
            jv *x = jd_get(v.u.d, path, n);
            v = x ? *x : jv_undef();
        } else if (v.t == JV_LIST) {
            char buf[32];
            snprintf(buf, sizeof buf, "%.*s", (int)(n < 31 ? n : 31), path);
            char *end;
            long i = strtol(buf, &end, 10);
            if (end == buf || i < 0 || i >= v.u.l->n) return jv_undef();
            v = v.u.l->v[i];
        } else {
            return jv_undef();
        }
        path += n + (dot != NULL);
        if (!dot) break;
    }
    return v;
}

static int map_attr(jj_ev *ev, const jj_node *at, const jv *v, const jj_args *a, jv *out) {
    const jv *attr = jj_arg(a, -1, "attribute"), *def = jj_arg(a, -1, "default");
    if (!attr) return jj_fail(ev, at, "map() without attribute= is not supported (as in Hugging Face's renderer)");
    if (attr->t != JV_STR) return jj_fail(ev, at, "map's attribute must be a string");
    *out = jv_list(ev->a, v->u.l->n);
    for (int i = 0; i < v->u.l->n; i++) {
        const jv *item = &v->u.l->v[i];
        if (item->t != JV_DICT && item->t != JV_NS) return jj_fail(ev, at, "map() needs a list of dicts");
        jv x = jj_attr_path(ev, item, attr->u.s->s);
        jl_push(ev->a, out->u.l, x.t == JV_UNDEF && def ? *def : x);
    }
    return 0;
}

static int sort_call(jj_ev *ev, const jj_node *at, const jv *v, const jj_args *a, jv *out) {
    const jv *rev = jj_arg(a, 0, "reverse"), *cs = jj_arg(a, 1, "case_sensitive"), *attr = jj_arg(a, 2, "attribute");
    if ((rev && rev->t != JV_BOOL) || (cs && cs->t != JV_BOOL)) return jj_fail(ev, at, "sort's reverse and case_sensitive must be booleans");
    char path[32];
    const char *p = NULL;
    if (attr && attr->t == JV_STR) p = attr->u.s->s;
    else if (attr && attr->t == JV_INT) snprintf(path, sizeof path, "%lld", (long long)attr->u.i), p = path;
    else if (attr && attr->t != JV_NONE) return jj_fail(ev, at, "sort's attribute must be a string, an integer or none");
    *out = copy_list(ev, v);
    return jj_sort(ev, at, out->u.l->v, out->u.l->n, cs && cs->u.b, rev && rev->u.b, p, -1);
}

static int call_filter(jj_ev *ev, const jj_node *node, const char *f, const jv *v, jj_scope *sc, jv *out) {
    int sel = !strcmp(f, "selectattr") || !strcmp(f, "rejectattr");
    if (sel && v->t == JV_LIST) return select_attr(ev, node, v, sc, out);
    jj_args a;
    if (jj_eval_args(ev, node->v, node->n, sc, &a)) return -1;
    if (!strcmp(f, "tojson")) return tojson_call(ev, node, v, &a, out);
    if (!strcmp(f, "join")) return join(ev, node, v, jj_arg(&a, 0, "separator"), out);
    if (!strcmp(f, "int") || !strcmp(f, "float")) return number_call(ev, node, f, v, &a, out);
    if (!strcmp(f, "default")) {
        const jv *b = jj_arg(&a, 1, "boolean");
        if (b && b->t != JV_BOOL) return jj_fail(ev, node, "default's boolean flag must be a boolean");
        int use = v->t == JV_UNDEF || (b && b->u.b && !jv_truthy(v));
        *out = use ? (a.npos > 0 ? a.pos[0] : jv_strz(ev->a, "")) : *v;
        return 0;
    }
    if (v->t == JV_LIST) {
        if (!strcmp(f, "sort")) return sort_call(ev, node, v, &a, out);
        if (!strcmp(f, "map")) return map_attr(ev, node, v, &a, out);
    } else if (v->t == JV_STR) {
        if (!strcmp(f, "indent")) {
            const jv *w = jj_arg(&a, 0, "width"), *first = jj_arg(&a, 1, "first"), *blank = jj_arg(&a, 2, "blank");
            jv w4 = jv_int(4);
            return indent(ev, node, v->u.s, w ? w : &w4, first && jv_truthy(first), blank && jv_truthy(blank), out);
        }
        if (!strcmp(f, "replace")) {
            jv key = jv_strz(ev->a, "replace"), m;
            return jj_member(ev, node, v, &key, &m) || jj_call(ev, node, &m, &a, NULL, out);
        }
    } else if (v->t == JV_DICT) {
        int id = jj_dict_method_id(f);
        if (id >= 0) { /* the method itself, even when the dict has a key of that name */
            jv m = jj_method_value(ev, id, v);
            return jj_call(ev, node, &m, &a, NULL, out);
        }
    } else {
        return jj_fail(ev, node, "cannot apply the filter '%s' to %s", f, jv_type_name(v));
    }
    return no_filter(ev, node, f, v);
}

int jj_filter(jj_ev *ev, const jj_node *node, const jv *operand, jj_scope *sc, jv *out) {
    const char *f = node->s->s;
    return node->op ? call_filter(ev, node, f, operand, sc, out) : plain_filter(ev, node, f, operand, out);
}
