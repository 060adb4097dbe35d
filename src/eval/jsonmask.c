/* Constrained decoding for the local judge (see jsonmask.h). */
#include "eval/jsonmask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the shape of an answer ---------------------------------------------------------------- */
static jm_seg *add(jm_shape *sh, int kind) {
    sh->segs = ur_xrealloc(sh->segs, sizeof *sh->segs * (size_t)(sh->n + 1));
    jm_seg *g = &sh->segs[sh->n++];
    memset(g, 0, sizeof *g);
    g->kind = kind;
    return g;
}

static void lit(jm_shape *sh, const char *s, size_t n) {
    jm_seg *g = add(sh, JM_LIT);
    g->lit = ur_xmalloc(n + 1);
    memcpy(g->lit, s, n);
    g->lit[n] = 0;
    g->len = (int)n;
}

/* whitespace, then the literal */
static void tok(jm_shape *sh, const char *s) {
    add(sh, JM_WS)->len = sh->ws_max;
    lit(sh, s, strlen(s));
}

/* whitespace, then a key as a JSON string, then ":" */
static void key(jm_shape *sh, const char *k) {
    ur_buf b = {0};
    ur_buf_json_str(&b, k, strlen(k));
    add(sh, JM_WS)->len = sh->ws_max;
    lit(sh, b.data, b.len);
    ur_buf_free(&b);
    tok(sh, ":");
}

static void text(jm_shape *sh, int max) {
    tok(sh, "\"");
    add(sh, JM_STR)->len = max;
}

static void choice(jm_shape *sh, const char *const *opts, int n) {
    tok(sh, "\"");
    jm_seg *g = add(sh, JM_ENUM);
    g->n_opts = n;
    for (int i = 0; i < n; i++) g->opts[i] = opts[i];
    lit(sh, "\"", 1);
}

/* The scores a scoring schema's scale allows: its digits (in sh), or its labels (pointers into
 * the schema, which must live as long as the shape). */
static int scale_opts(jm_shape *sh, const ur_judge_scale *sc, const char **opts) {
    if (sc->n_labels) {
        for (int i = 0; i < sc->n_labels; i++) opts[i] = sc->labels[i];
        return sc->n_labels;
    }
    int n = 0;
    for (int v = sc->scale_min; v <= sc->scale_max && n < 10; v++, n++) {
        sh->scores[n][0] = (char)('0' + v), sh->scores[n][1] = 0;
        opts[n] = sh->scores[n];
    }
    return n;
}

int jm_shape_init(jm_shape *sh, const ur_judge_schema *s, int reason_max, int ws_max) {
    static const char *abt[] = {"A", "B", "tie"}, *abs[] = {"A", "B", "same"};
    const char *scores[JM_OPT_MAX];
    memset(sh, 0, sizeof *sh);
    const int n_scores = scale_opts(sh, &s->scale, scores);
    sh->ws_max = ws_max > 0 ? ws_max : JM_WS_MAX;
    tok(sh, "{");
    switch (s->shape) {
    case UR_SHAPE_SCORES:
    case UR_SHAPE_PREFS:
        for (int i = 0; i < s->n_aspects; i++) {
            if (i) tok(sh, ",");
            key(sh, s->aspects[i]);
            tok(sh, "{");
            key(sh, "reason");
            text(sh, reason_max);
            tok(sh, ",");
            key(sh, s->shape == UR_SHAPE_SCORES ? "score" : "preference");
            if (s->shape == UR_SHAPE_SCORES) choice(sh, scores, n_scores);
            else choice(sh, abs, 3);
            tok(sh, "}");
        }
        break;
    case UR_SHAPE_CHOICES:
        key(sh, "rationale");
        text(sh, reason_max);
        tok(sh, ",");
        key(sh, "choices");
        tok(sh, "{");
        for (int i = 0; i < s->n_aspects; i++) {
            if (i) tok(sh, ",");
            key(sh, s->aspects[i]);
            choice(sh, abt, 3);
        }
        tok(sh, "}");
        break;
    default: /* UR_SHAPE_PREF */
        key(sh, "preference");
        choice(sh, abs, 3);
        tok(sh, ",");
        key(sh, "reason");
        text(sh, reason_max);
        break;
    }
    tok(sh, "}");
    add(sh, JM_END);
    for (int i = 0; i < sh->n; i++) {
        const jm_seg *g = &sh->segs[i];
        size_t longest = 0;
        for (int k = 0; g->kind == JM_ENUM && k < g->n_opts; k++)
            longest = strlen(g->opts[k]) > longest ? strlen(g->opts[k]) : longest;
        sh->max_bytes += g->kind == JM_WS ? (size_t)g->len : g->kind == JM_LIT ? (size_t)g->len
                         : g->kind == JM_STR ? (size_t)g->len + 1 : g->kind == JM_ENUM ? longest + 1 : 0;
    }
    return 0;
}

void jm_shape_free(jm_shape *sh) {
    for (int i = 0; i < sh->n; i++) free(sh->segs[i].lit);
    free(sh->segs);
    memset(sh, 0, sizeof *sh);
}

/* ---- the automaton --------------------------------------------------------------------------- */
static int step(const jm_shape *sh, jm_state *st, unsigned char c) {
    for (;;) {
        const jm_seg *g = &sh->segs[st->seg];
        switch (g->kind) {
        case JM_WS:
            if ((c == ' ' || c == '\n' || c == '\t' || c == '\r') && st->pos < g->len) {
                st->pos++;
                return 0;
            }
            st->seg++, st->pos = 0; /* the byte belongs to what follows */
            continue;
        case JM_LIT:
            if (c != (unsigned char)g->lit[st->pos]) return -1;
            if (++st->pos == g->len) st->seg++, st->pos = 0;
            return 0;
        case JM_STR:
            if (c == '"') {
                st->seg++, st->pos = 0;
                return 0;
            }
            if (c < 0x20 || c > 0x7e || c == '\\' || st->pos >= g->len) return -1;
            st->pos++;
            return 0;
        case JM_ENUM: {
            if (st->pos >= (int)sizeof st->buf - 1) return -1;
            st->buf[st->pos] = (char)c;
            int prefix = 0, whole = 0;
            for (int i = 0; i < g->n_opts; i++)
                if (!strncmp(g->opts[i], st->buf, (size_t)st->pos + 1)) {
                    prefix = 1;
                    whole |= (int)strlen(g->opts[i]) == st->pos + 1;
                }
            if (!prefix) return -1;
            if (whole) st->seg++, st->pos = 0; /* options are prefix-free */
            else st->pos++;
            return 0;
        }
        default:
            return -1;
        }
    }
}

int jm_feed(const jm_shape *sh, jm_state *st, const char *b, size_t n) {
    jm_state t = *st;
    for (size_t i = 0; i < n; i++)
        if (step(sh, &t, (unsigned char)b[i])) return -1;
    *st = t;
    return 0;
}

int jm_complete(const jm_shape *sh, const jm_state *st) { return sh->segs[st->seg].kind == JM_END; }

/* ---- the token mask -------------------------------------------------------------------------- */
static int mask_apply(void *user, float *logits, int nv, ur_err *err) {
    jm_mask *m = user;
    int n = nv < m->n_vocab ? nv : m->n_vocab, any = 0;
    for (int i = n; i < nv; i++) logits[i] = -INFINITY;
    if (jm_complete(m->shape, &m->st)) {
        for (int i = 0; i < n; i++) {
            if (ur_vocab_is_eog(m->v, i)) any = 1;
            else logits[i] = -INFINITY;
        }
    } else {
        /* which first bytes can come next: most tokens are ruled out by their first byte */
        unsigned char first[256];
        for (int c = 0; c < 256; c++) {
            jm_state t = m->st;
            first[c] = step(m->shape, &t, (unsigned char)c) == 0;
        }
        for (int i = 0; i < n; i++) {
            jm_state t = m->st;
            if (!m->len[i] || !first[(unsigned char)m->bytes[i][0]] ||
                jm_feed(m->shape, &t, m->bytes[i], (size_t)m->len[i]))
                logits[i] = -INFINITY;
            else any = 1;
        }
    }
    return any ? 0 : ur_errf(err, "judge: no token of the vocabulary can continue the JSON answer");
}

static void mask_accept(void *user, int32_t tok) {
    jm_mask *m = user;
    if (tok < 0 || tok >= m->n_vocab) return;
    if (jm_complete(m->shape, &m->st)) return; /* the end-of-generation token */
    if (jm_feed(m->shape, &m->st, m->bytes[tok], (size_t)m->len[tok])) m->rejected = 1;
}

int jm_mask_init(jm_mask *m, const ur_vocab *v) {
    memset(m, 0, sizeof *m);
    m->v = v;
    m->n_vocab = ur_vocab_size(v);
    m->bytes = ur_xcalloc((size_t)m->n_vocab, sizeof *m->bytes);
    m->len = ur_xcalloc((size_t)m->n_vocab, sizeof *m->len);
    for (int i = 0; i < m->n_vocab; i++) {
        char buf[256];
        int n = ur_token_to_bytes(v, i, 0, buf, sizeof buf);
        if (n < 0 || n >= (int)sizeof buf) n = 0; /* never allowed */
        m->bytes[i] = ur_xmalloc((size_t)n + 1);
        memcpy(m->bytes[i], buf, (size_t)n);
        m->bytes[i][n] = 0;
        m->len[i] = n;
    }
    m->hook = (ur_logit_mask){m, mask_apply, mask_accept};
    return 0;
}

void jm_mask_start(jm_mask *m, const jm_shape *sh) {
    m->shape = sh;
    memset(&m->st, 0, sizeof m->st);
    m->rejected = 0;
}

void jm_mask_share(jm_mask *m, const jm_mask *from) {
    *m = *from;
    m->shared = 1;
    m->hook.user = m;
    jm_mask_start(m, NULL);
}

void jm_mask_free(jm_mask *m) {
    if (!m->shared) {
        for (int i = 0; i < m->n_vocab; i++) free(m->bytes[i]);
        free(m->bytes), free(m->len);
    }
    memset(m, 0, sizeof *m);
}
