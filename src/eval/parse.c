/* Judge answers: extract the JSON as just-eval does, parse it (with just-eval's two
 * repairs when strict JSON fails), and check it against the template's schema. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eval/eval_int.h"

static int is_ws(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

/* Remove every "```", strip whitespace, keep the first "{" to the last "}". */
static int extract(const char *text, size_t len, ur_buf *out, ur_err *err) {
    ur_buf b = {0};
    for (size_t i = 0; i < len;) {
        if (i + 3 <= len && !memcmp(text + i, "```", 3)) {
            i += 3;
            continue;
        }
        ur_buf_put(&b, text + i, 1);
        i++;
    }
    const char *s = b.data ? b.data : "";
    const char *open = memchr(s, '{', b.len), *close = NULL;
    for (size_t i = b.len; i-- > 0;)
        if (s[i] == '}') {
            close = s + i;
            break;
        }
    if (!open || !close || close < open) {
        ur_buf_free(&b);
        return ur_errf(err, "the answer has no JSON object (no {...})");
    }
    ur_buf_put(out, open, (size_t)(close - open + 1));
    ur_buf_free(&b);
    return 0;
}

/* just-eval's repair 2, done cleanly: a "reason" / "rationale" string value that
 * holds unescaped double quotes has them turned into single quotes. The value is
 * taken to run to the last quote before the next `, "key"` or `}`. */
static void fix_inner_quotes(const char *s, size_t n, ur_buf *out) {
    static const char *keys[] = {"\"reason\"", "\"rationale\""};
    size_t i = 0;
    while (i < n) {
        size_t best = n, kl = 0;
        for (int k = 0; k < 2; k++) {
            const char *h = memmem(s + i, n - i, keys[k], strlen(keys[k]));
            if (h && (size_t)(h - s) < best) best = (size_t)(h - s), kl = strlen(keys[k]);
        }
        if (best == n) break;
        size_t p = best + kl;
        while (p < n && is_ws((unsigned char)s[p])) p++;
        if (p >= n || s[p] != ':') {
            ur_buf_put(out, s + i, p - i);
            i = p;
            continue;
        }
        p++;
        while (p < n && is_ws((unsigned char)s[p])) p++;
        if (p >= n || s[p] != '"') {
            ur_buf_put(out, s + i, p - i);
            i = p;
            continue;
        }
        /* the value's end: the first `"` followed by optional space and `,"` or `}` */
        size_t q = p + 1, end = 0;
        for (; q < n && !end; q++) {
            if (s[q] != '"') continue;
            size_t r = q + 1;
            while (r < n && is_ws((unsigned char)s[r])) r++;
            if (r < n && s[r] == '}') end = q;
            else if (r < n && s[r] == ',') {
                r++;
                while (r < n && is_ws((unsigned char)s[r])) r++;
                if (r < n && s[r] == '"') end = q;
            }
        }
        if (!end) break;
        ur_buf_put(out, s + i, p + 1 - i);
        for (size_t c = p + 1; c < end; c++) ur_buf_put(out, s[c] == '"' && s[c - 1] != '\\' ? "'" : s + c, 1);
        ur_buf_put(out, "\"", 1);
        i = end + 1;
    }
    ur_buf_put(out, s + i, n - i);
}

static json_t *load_object(const char *s, size_t n) {
    json_t *j = json_loadb(s, n, 0, NULL);
    if (j && !json_is_object(j)) json_decref(j), j = NULL;
    return j;
}

/* Find a member by name, case-insensitively if not exactly; renames it to `name`. */
static json_t *member(json_t *o, const char *name) {
    json_t *v = json_object_get(o, name);
    if (v || !json_is_object(o)) return v;
    const char *k;
    json_t *x;
    json_object_foreach(o, k, x) if (!strcasecmp(k, name)) {
        json_incref(x);
        json_object_del(o, k);
        json_object_set_new(o, name, x);
        return x;
    }
    return NULL;
}

int ur_judge_score_value(const json_t *v, double *out) {
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out) ? 0 : -1;
    }
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    if (!strcmp(s, "N/A")) {
        *out = 5.0; /* just-eval's report: "when some aspects are not available, we use 5.0" */
        return 0;
    }
    char *end;
    double d = strtod(s, &end);
    if (end == s) return -1;
    while (is_ws((unsigned char)*end)) end++;
    if (*end || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

/* "A" -> 1, "B" -> -1, "tie"/"same" -> 0, else 2. */
static int choice(const json_t *v) {
    if (!json_is_string(v)) return 2;
    const char *s = json_string_value(v);
    while (is_ws((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && is_ws((unsigned char)s[n - 1])) n--;
    if (n == 1 && (*s == 'A' || *s == 'a')) return 1;
    if (n == 1 && (*s == 'B' || *s == 'b')) return -1;
    if ((n == 3 && !strncasecmp(s, "tie", 3)) || (n == 4 && !strncasecmp(s, "same", 4))) return 0;
    return 2;
}

static int validate(const ur_judge_schema *s, json_t *o, ur_err *err) {
    if (s->shape == UR_SHAPE_PREF) {
        if (choice(member(o, "preference")) == 2) return ur_errf(err, "\"preference\" is not A, B or same");
        return 0;
    }
    json_t *choices = NULL;
    if (s->shape == UR_SHAPE_CHOICES && !json_is_object(choices = member(o, "choices")))
        return ur_errf(err, "the answer has no \"choices\" object");
    for (int i = 0; i < s->n_aspects; i++) {
        const char *a = s->aspects[i];
        if (s->shape == UR_SHAPE_CHOICES) {
            json_t *v = member(choices, a);
            if (!v) return ur_errf(err, "\"choices\" has no \"%s\"", a);
            if (choice(v) == 2) return ur_errf(err, "choice \"%s\" is not A, B or tie", a);
            continue;
        }
        json_t *v = member(o, a);
        if (!json_is_object(v)) return ur_errf(err, "the answer has no \"%s\" object", a);
        if (s->shape == UR_SHAPE_PREFS) {
            if (choice(member(v, "preference")) == 2) return ur_errf(err, "\"%s\": preference is not A, B or same", a);
            continue;
        }
        json_t *sc = member(v, "score");
        double d;
        if (!sc) return ur_errf(err, "\"%s\" has no score", a);
        if (ur_judge_scale_value(&s->scale, sc, &d)) {
            char *t = json_dumps(sc, JSON_ENCODE_ANY | JSON_COMPACT), sc_text[160];
            ur_judge_scale_text(&s->scale, sc_text, sizeof sc_text);
            ur_errf(err, "\"%s\": score %.40s is not %s%s", a, t ? t : "?", s->scale.n_labels ? "one of " : "",
                    s->scale.n_labels ? sc_text : s->scale.scale_min == 1 && s->scale.scale_max == 5
                                                      ? "1 to 5 or \"N/A\""
                                                      : sc_text);
            free(t);
            return -1;
        }
    }
    return 0;
}

json_t *ur_judge_parse_json(const ur_judge_schema *s, const char *text, size_t len, ur_buf *extracted, ur_err *err) {
    ur_buf x = {0}, fixed = {0};
    if (extract(text, len, &x, err)) return NULL;
    json_t *o = load_object(x.data, x.len);
    if (!o) { /* repair 1: raw newlines removed (just-eval parses s.replace("\n", "")) */
        for (size_t i = 0; i < x.len; i++)
            if (x.data[i] != '\n' && x.data[i] != '\r') ur_buf_put(&fixed, x.data + i, 1);
        o = load_object(fixed.data ? fixed.data : "", fixed.len);
    }
    if (!o) { /* repair 2: double quotes inside "reason" values */
        ur_buf f2 = {0};
        fix_inner_quotes(fixed.data ? fixed.data : "", fixed.len, &f2);
        o = load_object(f2.data ? f2.data : "", f2.len);
        ur_buf_free(&f2);
    }
    ur_buf_free(&fixed);
    if (!o) {
        json_error_t je;
        json_t *t = json_loadb(x.data, x.len, 0, &je);
        if (t) ur_errf(err, "the answer's JSON is not an object"), json_decref(t);
        else ur_errf(err, "the answer is not valid JSON (%s, line %d)", je.text, je.line);
        ur_buf_free(&x);
        return NULL;
    }
    if (validate(s, o, err)) {
        json_decref(o);
        ur_buf_free(&x);
        return NULL;
    }
    if (extracted) ur_buf_put(extracted, x.data, x.len);
    ur_buf_free(&x);
    return o;
}

int ur_judge_parse(const ur_judge_schema *s, const char *text, size_t len, char **parsed, char **extracted, ur_err *err) {
    ur_buf x = {0};
    json_t *o = ur_judge_parse_json(s, text, len, &x, err);
    if (!o) return -1;
    *parsed = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (extracted) *extracted = x.data;
    else ur_buf_free(&x);
    return *parsed ? 0 : ur_errf(err, "out of memory");
}

void ur_judge_verdicts(const ur_judge_schema *s, const json_t *parsed, int *v) {
    json_t *o = (json_t *)parsed;
    for (int i = 0; i < s->n_aspects; i++) {
        const json_t *c;
        switch (s->shape) {
        case UR_SHAPE_CHOICES: c = json_object_get(json_object_get(o, "choices"), s->aspects[i]); break;
        case UR_SHAPE_PREFS: c = json_object_get(json_object_get(o, s->aspects[i]), "preference"); break;
        default: c = json_object_get(o, "preference"); break;
        }
        int x = choice(c);
        v[i] = x == 2 ? 0 : x;
    }
}

/* ---- scales ---------------------------------------------------------------------------- */
int ur_judge_scale_is_default(const ur_judge_scale *s) {
    return !s->n_labels && s->scale_min == 1 && s->scale_max == 5;
}

void ur_judge_scale_text(const ur_judge_scale *s, char *buf, size_t n) {
    if (!s->n_labels) {
        snprintf(buf, n, "%d to %d", s->scale_min, s->scale_max);
        return;
    }
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < s->n_labels && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s=%d", i ? " " : "", s->labels[i], s->values[i]);
}

int ur_judge_scale_value(const ur_judge_scale *s, const json_t *score, double *out) {
    if (!s->n_labels) {
        if (ur_judge_score_value(score, out)) return -1;
        return json_is_string(score) && !strcmp(json_string_value(score), "N/A")
                   ? 0
                   : (*out < s->scale_min || *out > s->scale_max) ? -1 : 0;
    }
    const char *t = json_string_value(score);
    for (int i = 0; t && i < s->n_labels; i++)
        if (!strcasecmp(t, s->labels[i])) return *out = s->values[i], 0;
    return -1;
}

void ur_judge_scale_from_json(const json_t *j, ur_judge_scale *s) {
    memset(s, 0, sizeof *s);
    s->scale_min = 1, s->scale_max = 5;
    json_t *labels = json_object_get(j, "labels");
    if (json_is_object(labels)) {
        const char *k;
        json_t *v;
        json_object_foreach(labels, k, v) {
            if (s->n_labels == UR_JUDGE_MAX_LABELS || strlen(k) >= UR_JUDGE_LABEL_LEN) break;
            snprintf(s->labels[s->n_labels], UR_JUDGE_LABEL_LEN, "%s", k);
            s->values[s->n_labels++] = (int)json_integer_value(v);
        }
    } else if (json_is_integer(json_object_get(j, "min")) && json_is_integer(json_object_get(j, "max"))) {
        s->scale_min = (int)json_integer_value(json_object_get(j, "min"));
        s->scale_max = (int)json_integer_value(json_object_get(j, "max"));
    }
}

json_t *ur_judge_scale_json(const ur_judge_scale *s) {
    if (!s->n_labels) return json_pack("{s:i,s:i}", "min", s->scale_min, "max", s->scale_max);
    json_t *l = json_object();
    for (int i = 0; i < s->n_labels; i++) json_object_set_new(l, s->labels[i], json_integer(s->values[i]));
    return json_pack("{s:o}", "labels", l);
}

/* Labels must be prefix-free (the local judge's automaton reads them byte by byte). */
static int labels_ok(const ur_judge_scale *s) {
    for (int i = 0; i < s->n_labels; i++)
        for (int j = 0; j < s->n_labels; j++)
            if (i != j && !strncasecmp(s->labels[i], s->labels[j], strlen(s->labels[i]))) return 0;
    return 1;
}

int ur_judge_scale_parse(const char *text, size_t len, ur_judge_scale *s, ur_err *err) {
    char buf[256];
    if (len >= sizeof buf) return ur_errf(err, "the scale is too long");
    memcpy(buf, text, len);
    buf[len] = 0;
    memset(s, 0, sizeof *s);
    int a, b, n = 0;
    if (sscanf(buf, " %d - %d %n", &a, &b, &n) == 2 && !buf[n]) {
        if (a < 0 || b > 9 || a >= b) return ur_errf(err, "scale '%s': the numbers must be 0 to 9, low-high", buf);
        s->scale_min = a, s->scale_max = b;
        return 0;
    }
    char *save = NULL;
    for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(w, '=');
        if (!eq || eq == w || eq - w >= UR_JUDGE_LABEL_LEN || s->n_labels == UR_JUDGE_MAX_LABELS)
            return ur_errf(err, "scale: '%s' is not LABEL=VALUE (at most %d labels of %d letters)", w,
                           UR_JUDGE_MAX_LABELS, UR_JUDGE_LABEL_LEN - 1);
        char *end;
        long v = strtol(eq + 1, &end, 10);
        if (*end || end == eq + 1 || v < 0 || v > 100) return ur_errf(err, "scale: '%s' has no value 0 to 100", w);
        for (char *c = w; c < eq; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '-' || *c == '_'))
                return ur_errf(err, "scale: label '%.*s' must be letters", (int)(eq - w), w);
        snprintf(s->labels[s->n_labels], UR_JUDGE_LABEL_LEN, "%.*s", (int)(eq - w), w);
        s->values[s->n_labels++] = (int)v;
    }
    if (s->n_labels < 2) return ur_errf(err, "scale: give low-high (e.g. 1-6) or two or more LABEL=VALUE");
    if (!labels_ok(s)) return ur_errf(err, "scale: no label may begin another");
    return 0;
}
