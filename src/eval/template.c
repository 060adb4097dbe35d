/* Judge templates: ours (compiled in), or files with placeholders in just-eval's
 * (Python string.Template) or the URIAL authors' ({$name}) syntax; rendering is
 * byte-identical to theirs. The JSON answer a template asks for (its schema) is read
 * from the template's own example. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"

extern const unsigned char ur_embed_judge_multi_txt[], ur_embed_judge_safety_txt[], ur_embed_judge_pairwise_txt[],
    ur_embed_judge_lima6_txt[], ur_embed_judge_grade_txt[];
extern const size_t ur_embed_judge_multi_txt_len, ur_embed_judge_safety_txt_len, ur_embed_judge_pairwise_txt_len,
    ur_embed_judge_lima6_txt_len, ur_embed_judge_grade_txt_len;

enum { SYN_TEMPLATE = 0, SYN_URIAL = 1 };
enum { P_INSTRUCTION = 0, P_A = 1, P_B = 2, P_N = 3 };

/* A piece of a parsed template: literal text, or a placeholder. */
typedef struct piece {
    int slot; /* -1 literal, else P_* */
    size_t off, len;
} piece;

struct ur_judge_tmpl {
    char *name;
    char *text;
    size_t len;
    int mode, syntax;
    int line0; /* lines before the text (a scale declaration), for messages */
    piece *pieces; /* SYN_TEMPLATE: the text cut at placeholders ("$$" is a one-byte literal) */
    int n_pieces;
    ur_judge_schema schema;
};

const char *ur_judge_mode_name(int mode) {
    static const char *names[] = {"score_multi", "score_safety", "pairwise"};
    return mode >= 0 && mode <= UR_JUDGE_PAIRWISE ? names[mode] : "?";
}

/* ---- schema -------------------------------------------------------------------------- */
void ur_judge_schema_default(int mode, ur_judge_schema *s) {
    static const char *multi[] = {"helpfulness", "clarity", "factuality", "depth", "engagement"};
    static const char *pair[] = {"helpfulness", "clarity", "factuality", "depth", "engagement", "safety", "overall"};
    static const char *safety[] = {"safety"};
    memset(s, 0, sizeof *s);
    const char **names = mode == UR_JUDGE_PAIRWISE ? pair : multi;
    int n = mode == UR_JUDGE_PAIRWISE ? 7 : mode == UR_JUDGE_SAFETY ? 1 : 5;
    s->shape = mode == UR_JUDGE_PAIRWISE ? UR_SHAPE_CHOICES : UR_SHAPE_SCORES;
    if (mode == UR_JUDGE_SAFETY) names = safety;
    for (int i = 0; i < n; i++) snprintf(s->aspects[i], UR_JUDGE_ASPECT_LEN, "%s", names[i]);
    s->n_aspects = n;
    s->scale.scale_min = 1, s->scale.scale_max = 5;
}

int ur_judge_schema_is_pairwise(const ur_judge_schema *s) { return s->shape != UR_SHAPE_SCORES; }

static int add_aspect(ur_judge_schema *s, const char *name) {
    if (s->n_aspects == UR_JUDGE_MAX_ASPECTS || strlen(name) >= UR_JUDGE_ASPECT_LEN) return -1;
    snprintf(s->aspects[s->n_aspects++], UR_JUDGE_ASPECT_LEN, "%s", name);
    return 0;
}

int ur_judge_schema_from_json(const json_t *ex, ur_judge_schema *s) {
    memset(s, 0, sizeof *s);
    s->scale.scale_min = 1, s->scale.scale_max = 5;
    if (!json_is_object(ex)) return -1;
    const char *k;
    json_t *v;
    json_t *choices = json_object_get(ex, "choices");
    if (json_is_object(choices) && json_object_size(choices)) {
        s->shape = UR_SHAPE_CHOICES;
        json_object_foreach(choices, k, v) if (add_aspect(s, k)) return -1;
        return 0;
    }
    if (json_is_string(json_object_get(ex, "preference"))) {
        s->shape = UR_SHAPE_PREF;
        return add_aspect(s, "overall");
    }
    int scores = 0, prefs = 0;
    json_object_foreach((json_t *)ex, k, v) {
        if (!json_is_object(v)) continue;
        int sc = json_object_get(v, "score") != NULL, pr = json_object_get(v, "preference") != NULL;
        if (!sc && !pr) continue;
        scores += sc, prefs += pr;
        if (add_aspect(s, k)) return -1;
    }
    if (!s->n_aspects || (scores && prefs)) return -1;
    s->shape = scores ? UR_SHAPE_SCORES : UR_SHAPE_PREFS;
    return 0;
}

/* The template's example answer: the {...} block that ends at the last "}" of the
 * text, if it is valid JSON. */
static json_t *find_example(const char *t, size_t n) {
    const char *end = NULL;
    for (size_t i = n; i-- > 0;)
        if (t[i] == '}') {
            end = t + i;
            break;
        }
    if (!end) return NULL;
    int depth = 0;
    for (const char *p = end; p >= t; p--) {
        if (*p == '}') depth++;
        else if (*p == '{' && --depth == 0) return json_loadb(p, (size_t)(end - p + 1), 0, NULL);
    }
    return NULL;
}

/* ---- parsing a template ---------------------------------------------------------------- */
static int slot_of(const char *name, size_t n, int mode) {
#define IS(s) (n == strlen(s) && !memcmp(name, s, n))
    if (IS("instruction")) return P_INSTRUCTION;
    if (mode != UR_JUDGE_PAIRWISE) return IS("candidate") ? P_A : -1;
    if (IS("candidate_A") || IS("candidateA")) return P_A;
    if (IS("candidate_B") || IS("candidateB")) return P_B;
    return -1;
#undef IS
}

static int is_id_start(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_id(char c) { return is_id_start(c) || (c >= '0' && c <= '9'); }

static void add_piece(ur_judge_tmpl *t, int slot, size_t off, size_t len) {
    if (slot < 0 && !len) return;
    t->pieces = ur_xrealloc(t->pieces, sizeof *t->pieces * (size_t)(t->n_pieces + 1));
    t->pieces[t->n_pieces++] = (piece){slot, off, len};
}

static void line_col(const char *t, size_t off, int *line, int *col) {
    *line = 1, *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (t[i] == '\n') (*line)++, *col = 1;
        else (*col)++;
    }
}

/* Python string.Template: "$$" -> "$", "$name" / "${name}" (name: [_a-zA-Z][_a-zA-Z0-9]*)
 * -> a value, any other "$" -> ValueError ("Invalid placeholder"). */
static int parse_template_syntax(ur_judge_tmpl *t, int used[P_N], ur_err *err) {
    const char *s = t->text;
    size_t lit = 0, i = 0;
    while (i < t->len) {
        if (s[i] != '$') {
            i++;
            continue;
        }
        add_piece(t, -1, lit, i - lit);
        size_t name = 0, nlen = 0, next = 0;
        if (i + 1 < t->len && s[i + 1] == '$') {
            add_piece(t, -1, i, 1); /* "$$" is one "$" */
            i += 2, lit = i;
            continue;
        }
        if (i + 1 < t->len && is_id_start(s[i + 1])) {
            name = i + 1;
            while (name + nlen < t->len && is_id(s[name + nlen])) nlen++;
            next = name + nlen;
        } else if (i + 2 < t->len && s[i + 1] == '{' && is_id_start(s[i + 2])) {
            name = i + 2;
            while (name + nlen < t->len && is_id(s[name + nlen])) nlen++;
            if (name + nlen < t->len && s[name + nlen] == '}') next = name + nlen + 1;
            else nlen = 0;
        }
        int line, col;
        line_col(s, i, &line, &col);
        line += t->line0;
        if (!nlen)
            return ur_errf(err, "%s: line %d, column %d: invalid placeholder (write $$ for a dollar sign)", t->name,
                           line, col);
        int slot = slot_of(s + name, nlen, t->mode);
        if (slot < 0)
            return ur_errf(err, "%s: line %d, column %d: unknown placeholder '%.*s' (a %s template has %s)", t->name,
                           line, col, (int)nlen, s + name, t->mode == UR_JUDGE_PAIRWISE ? "pairwise" : "scoring",
                           t->mode == UR_JUDGE_PAIRWISE ? "instruction, candidate_A, candidate_B"
                                                        : "instruction, candidate");
        used[slot] = 1;
        add_piece(t, slot, 0, 0);
        i = lit = next;
    }
    add_piece(t, -1, lit, t->len - lit);
    return 0;
}

static const char *URIAL_NAMES[P_N] = {"{$instruction}", "{$candidate_A}", "{$candidate_B}"};

static int uses_urial_syntax(const char *s, size_t n) {
    static const char *all[] = {"{$instruction}", "{$candidate}", "{$candidate_A}", "{$candidate_B}"};
    for (size_t k = 0; k < 4; k++)
        if (memmem(s, n, all[k], strlen(all[k]))) return 1;
    return 0;
}

#define SCALE_KEY "urial-scale:"

ur_judge_tmpl *ur_judge_tmpl_parse(const char *name, const char *text, size_t len, int mode, ur_err *err) {
    /* a first line "urial-scale: ..." declares the scale and is not part of the prompt */
    ur_judge_scale scale = {.scale_min = 1, .scale_max = 5};
    int has_scale = len > strlen(SCALE_KEY) && !memcmp(text, SCALE_KEY, strlen(SCALE_KEY));
    if (has_scale) {
        const char *nl = memchr(text, '\n', len);
        size_t k = strlen(SCALE_KEY), line = nl ? (size_t)(nl - text) : len;
        while (k < line && (text[k] == ' ' || text[k] == '\t')) k++;
        ur_err e2;
        if (mode == UR_JUDGE_PAIRWISE)
            return ur_errf(err, "%s: line 1: a pairwise template has no score scale", name), NULL;
        if (ur_judge_scale_parse(text + k, line - k, &scale, &e2))
            return ur_errf(err, "%s: line 1: %s", name, e2.msg), NULL;
        text += nl ? line + 1 : len, len -= nl ? line + 1 : len;
    }
    ur_judge_tmpl *t = ur_xcalloc(1, sizeof *t);
    t->name = ur_xstrdup(name);
    t->text = ur_xmalloc(len + 1);
    memcpy(t->text, text, len);
    t->text[len] = 0;
    t->len = len;
    t->mode = mode;
    t->line0 = has_scale;
    int used[P_N] = {0};
    if (memchr(text, 0, len)) {
        ur_errf(err, "%s: the template contains a NUL byte", name);
        goto fail;
    }
    if (uses_urial_syntax(text, len)) {
        t->syntax = SYN_URIAL;
        const char *cand = mode == UR_JUDGE_PAIRWISE ? NULL : "{$candidate}";
        used[P_INSTRUCTION] = memmem(text, len, URIAL_NAMES[0], strlen(URIAL_NAMES[0])) != NULL;
        used[P_A] = memmem(text, len, cand ? cand : URIAL_NAMES[1], strlen(cand ? cand : URIAL_NAMES[1])) != NULL;
        used[P_B] = mode == UR_JUDGE_PAIRWISE && memmem(text, len, URIAL_NAMES[2], strlen(URIAL_NAMES[2]));
    } else if (parse_template_syntax(t, used, err)) {
        goto fail;
    }
    if (!used[P_INSTRUCTION] || !used[P_A] || (mode == UR_JUDGE_PAIRWISE && !used[P_B])) {
        const char *miss = !used[P_INSTRUCTION] ? "instruction" : mode != UR_JUDGE_PAIRWISE ? "candidate"
                           : !used[P_A]          ? "candidate_A"
                                                 : "candidate_B";
        ur_errf(err, "%s: the template has no %s placeholder (%s%s%s)", name, miss,
                t->syntax == SYN_URIAL ? "{$" : "${", miss, "}");
        goto fail;
    }
    json_t *ex = find_example(text, len);
    if (!ex || ur_judge_schema_from_json(ex, &t->schema)) ur_judge_schema_default(mode, &t->schema);
    json_decref(ex);
    t->schema.scale = scale;
    if ((mode == UR_JUDGE_PAIRWISE) != ur_judge_schema_is_pairwise(&t->schema)) {
        ur_errf(err, "%s: the template's example answer is for %s judging, not %s (wrong --mode or --template?)", name,
                ur_judge_schema_is_pairwise(&t->schema) ? "pairwise" : "score", ur_judge_mode_name(mode));
        goto fail;
    }
    return t;
fail:
    ur_judge_tmpl_free(t);
    return NULL;
}

ur_judge_tmpl *ur_judge_tmpl_builtin(int mode) {
    const unsigned char *text = mode == UR_JUDGE_PAIRWISE ? ur_embed_judge_pairwise_txt
                                : mode == UR_JUDGE_SAFETY ? ur_embed_judge_safety_txt
                                                          : ur_embed_judge_multi_txt;
    size_t len = mode == UR_JUDGE_PAIRWISE ? ur_embed_judge_pairwise_txt_len
                 : mode == UR_JUDGE_SAFETY ? ur_embed_judge_safety_txt_len
                                           : ur_embed_judge_multi_txt_len;
    const char *name = mode == UR_JUDGE_PAIRWISE ? "builtin:pairwise" : mode == UR_JUDGE_SAFETY ? "builtin:safety"
                                                                                                : "builtin:multi";
    ur_err err;
    ur_judge_tmpl *t = ur_judge_tmpl_parse(name, (const char *)text, len, mode, &err);
    if (!t) abort(); /* the built-ins are tested */
    return t;
}

ur_judge_tmpl *ur_judge_tmpl_named(const char *name, int mode, ur_err *err) {
    static const struct {
        const char *name;
        const unsigned char *text;
        const size_t *len;
    } all[] = {{"multi", ur_embed_judge_multi_txt, &ur_embed_judge_multi_txt_len},
               {"safety", ur_embed_judge_safety_txt, &ur_embed_judge_safety_txt_len},
               {"pairwise", ur_embed_judge_pairwise_txt, &ur_embed_judge_pairwise_txt_len},
               {"lima6", ur_embed_judge_lima6_txt, &ur_embed_judge_lima6_txt_len},
               {"grade", ur_embed_judge_grade_txt, &ur_embed_judge_grade_txt_len}};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, all[i].name)) continue;
        char full[64];
        snprintf(full, sizeof full, "builtin:%s", name);
        return ur_judge_tmpl_parse(full, (const char *)all[i].text, *all[i].len, mode, err);
    }
    return ur_errf(err, "builtin:%s: no such built-in judge template (" UR_JUDGE_BUILTINS ")", name), NULL;
}

ur_judge_tmpl *ur_judge_tmpl_get(const char *name_or_path, int mode, ur_err *err) {
    if (!strncmp(name_or_path, "builtin:", 8)) return ur_judge_tmpl_named(name_or_path + 8, mode, err);
    return ur_judge_tmpl_load(name_or_path, mode, err);
}

ur_judge_tmpl *ur_judge_tmpl_load(const char *path, int mode, ur_err *err) {
    ur_buf b = {0};
    ur_judge_tmpl *t = ur_read_file(path, "judge template", 0, &b, err) ? NULL
                                                                         : ur_judge_tmpl_parse(path, b.data, b.len, mode, err);
    ur_buf_free(&b);
    return t;
}

void ur_judge_tmpl_free(ur_judge_tmpl *t) {
    if (!t) return;
    free(t->name), free(t->text), free(t->pieces), free(t);
}

const char *ur_judge_tmpl_name(const ur_judge_tmpl *t) { return t->name; }
int ur_judge_tmpl_mode(const ur_judge_tmpl *t) { return t->mode; }
const ur_judge_schema *ur_judge_tmpl_schema(const ur_judge_tmpl *t) { return &t->schema; }

/* ---- rendering -------------------------------------------------------------------------- */
/* s.replace(pat, val) on the whole buffer, as Python does (non-overlapping, left to right). */
static void replace_all(ur_buf *b, const char *pat, const char *val) {
    size_t pl = strlen(pat), vl = strlen(val);
    if (!b->data || !memmem(b->data, b->len, pat, pl)) return;
    ur_buf o = {0};
    size_t i = 0;
    for (;;) {
        const char *hit = memmem(b->data + i, b->len - i, pat, pl);
        if (!hit) break;
        ur_buf_put(&o, b->data + i, (size_t)(hit - (b->data + i)));
        ur_buf_put(&o, val, vl);
        i = (size_t)(hit - b->data) + pl;
    }
    ur_buf_put(&o, b->data + i, b->len - i);
    ur_buf_free(b);
    *b = o;
}

void ur_judge_render(const ur_judge_tmpl *t, const char *instruction, const char *a, const char *b, ur_buf *out) {
    const char *val[P_N] = {instruction, a, b ? b : ""};
    if (t->syntax == SYN_URIAL) {
        /* the authors' order: instruction, then A, then B, each over the text so far */
        ur_buf r = {0};
        ur_buf_put(&r, t->text, t->len);
        replace_all(&r, URIAL_NAMES[0], val[0]);
        replace_all(&r, t->mode == UR_JUDGE_PAIRWISE ? URIAL_NAMES[1] : "{$candidate}", val[1]);
        if (t->mode == UR_JUDGE_PAIRWISE) replace_all(&r, URIAL_NAMES[2], val[2]);
        ur_buf_put(out, r.data ? r.data : "", r.len);
        ur_buf_free(&r);
        return;
    }
    for (int i = 0; i < t->n_pieces; i++) {
        const piece *p = &t->pieces[i];
        if (p->slot < 0) ur_buf_put(out, t->text + p->off, p->len);
        else ur_buf_puts(out, val[p->slot]);
    }
    if (!out->data) ur_buf_put(out, "", 0);
}
