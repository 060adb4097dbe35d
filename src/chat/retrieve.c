/* Retrieval of in-context examples: a pool of instruction/answer pairs, a BM25
 * index over the instructions (built here, cached in POOL.bm25), and the top K per
 * query (include/urial/retrieve.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "chat/chat_int.h"
#include "chat/retrieve_int.h"
#include "urial/dataset.h"
#include "urial/retrieve.h"


/* ---- words ------------------------------------------------------------------------------- */
static int word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Calls fn(user, word) for each lowercase word of s[0..n) (word NUL-terminated in a
 * scratch buffer; words are cut at 255 bytes). */
static void each_word(const char *s, size_t n, void (*fn)(void *, const char *), void *user) {
    char w[256];
    size_t i = 0;
    while (i < n) {
        while (i < n && !word_byte((unsigned char)s[i])) i++;
        size_t l = 0;
        for (; i < n && word_byte((unsigned char)s[i]); i++)
            if (l < sizeof w - 1) w[l++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
        if (l) {
            w[l] = 0;
            fn(user, w);
        }
    }
}

/* ---- the pool ------------------------------------------------------------------------------ */
static const char *output_of(json_t *o) {
    json_t *v = json_object_get(o, "output");
    if (json_is_array(v)) v = json_array_get(v, 0);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int load_pool(ur_retriever *r, const char *text, size_t len, ur_err *err) {
    ur_dataset ds;
    if (ur_dataset_parse(text, len, r->path, &ds, err)) return -1;
    if (ds.format == UR_DATA_MT_BENCH) {
        ur_dataset_free(&ds);
        return ur_errf(err, "%s: an MT-Bench file is not a retrieval pool (items need \"instruction\" and \"output\")",
                       r->path);
    }
    r->n = ds.n;
    r->ids = ur_xcalloc((size_t)ds.n, sizeof *r->ids), r->ins = ur_xcalloc((size_t)ds.n, sizeof *r->ins);
    r->out = ur_xcalloc((size_t)ds.n, sizeof *r->out), r->inp = ur_xcalloc((size_t)ds.n, sizeof *r->inp);
    r->eligible = ur_xcalloc((size_t)ds.n, 1);
    r->sb = ur_xcalloc((size_t)ds.n, sizeof *r->sb), r->se = ur_xcalloc((size_t)ds.n, sizeof *r->se);
    int rc = 0;
    for (int i = 0; i < ds.n && !rc; i++) {
        ur_item *it = &ds.items[i];
        json_t *o = json_loads(it->fields, 0, NULL), *in = json_object_get(o, "input");
        const char *out = output_of(o);
        if (!out) {
            rc = ur_errf(err, "%s: item %d (id %.64s) has no \"output\" string (the example's answer)", r->path, i,
                         it->id);
        } else {
            r->out[i] = ur_xstrdup(out);
            r->inp[i] = ur_xstrdup(json_is_string(in) ? json_string_value(in) : "");
            /* Python's len(): code points */
            size_t nb = strlen(r->inp[i]), cps = 0;
            for (size_t k = 0; k < nb; k++) cps += ((unsigned char)r->inp[i][k] & 0xC0) != 0x80;
            r->eligible[i] = cps <= 1;
        }
        json_decref(o);
        r->ids[i] = it->id, it->id = NULL;
        r->ins[i] = it->turns[0], it->turns[0] = NULL;
        py_strip(r->ins[i], strlen(r->ins[i]), &r->sb[i], &r->se[i]);
    }
    ur_dataset_free(&ds);
    return rc;
}

/* ---- building the index -------------------------------------------------------------------- */
typedef struct id_list {
    int32_t *v;
    int n, cap;
    ur_keymap *terms;
    int add; /* 1: new words become terms; 0: unknown words are left out */
} id_list;

static void push_word(void *user, const char *w) {
    id_list *l = user;
    int t = l->add ? ur_keymap_add(l->terms, w) : ur_keymap_find(l->terms, w);
    if (t < 0) return;
    if (l->n == l->cap) l->v = ur_xrealloc(l->v, sizeof *l->v * (size_t)(l->cap = l->cap ? 2 * l->cap : 32));
    l->v[l->n++] = t;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void build_index(ur_retriever *r) {
    size_t cap = 1024, np = 0;
    uint32_t *tdoc = ur_xmalloc(cap * sizeof *tdoc), *tterm = ur_xmalloc(cap * sizeof *tterm),
             *ttf = ur_xmalloc(cap * sizeof *ttf);
    r->dlen = ur_xcalloc((size_t)r->n + 1, sizeof *r->dlen);
    id_list l = {.terms = &r->terms, .add = 1};
    for (int d = 0; d < r->n; d++) {
        l.n = 0;
        each_word(r->ins[d], strlen(r->ins[d]), push_word, &l);
        r->dlen[d] = (uint32_t)l.n;
        qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_i32);
        for (int i = 0; i < l.n;) {
            int j = i;
            while (j < l.n && l.v[j] == l.v[i]) j++;
            if (np == cap) {
                cap *= 2;
                tdoc = ur_xrealloc(tdoc, cap * sizeof *tdoc), tterm = ur_xrealloc(tterm, cap * sizeof *tterm);
                ttf = ur_xrealloc(ttf, cap * sizeof *ttf);
            }
            tdoc[np] = (uint32_t)d, tterm[np] = (uint32_t)l.v[i], ttf[np++] = (uint32_t)(j - i);
            i = j;
        }
    }
    free(l.v);
    const int nt = r->terms.n;
    r->off = ur_xcalloc((size_t)nt + 1, sizeof *r->off);
    for (size_t i = 0; i < np; i++) r->off[tterm[i] + 1]++;
    for (int t = 0; t < nt; t++) r->off[t + 1] += r->off[t];
    uint32_t *fill = ur_xmalloc(((size_t)nt + 1) * sizeof *fill);
    memcpy(fill, r->off, ((size_t)nt + 1) * sizeof *fill);
    r->pdoc = ur_xmalloc((np + 1) * sizeof *r->pdoc), r->ptf = ur_xmalloc((np + 1) * sizeof *r->ptf);
    for (size_t i = 0; i < np; i++) { /* in document order, so each term's postings are by document */
        uint32_t at = fill[tterm[i]]++;
        r->pdoc[at] = tdoc[i], r->ptf[at] = ttf[i];
    }
    free(fill), free(tdoc), free(tterm), free(ttf);
}

/* idf and the length normalisation, from the postings and lengths */
static void weigh(ur_retriever *r) {
    const int nt = r->terms.n;
    double sum = 0;
    for (int d = 0; d < r->n; d++) sum += r->dlen[d];
    const double avgdl = r->n && sum > 0 ? sum / r->n : 1;
    r->idf = ur_xmalloc(((size_t)nt + 1) * sizeof *r->idf);
    r->norm = ur_xmalloc(((size_t)r->n + 1) * sizeof *r->norm);
    for (int t = 0; t < nt; t++) {
        double df = r->off[t + 1] - r->off[t];
        r->idf[t] = (float)log(1.0 + (r->n - df + 0.5) / (df + 0.5));
    }
    for (int d = 0; d < r->n; d++) r->norm[d] = (float)(UR_BM25_K1 * (1.0 - UR_BM25_B + UR_BM25_B * r->dlen[d] / avgdl));
}

/* ---- the index file ------------------------------------------------------------------------ */
static const char MAGIC[8] = "URBM25\n";
enum { INDEX_VERSION = 1 };

char *ur_retriever_index_path(const char *pool_path) {
    ur_buf b = {0};
    ur_buf_printf(&b, "%s.bm25", pool_path);
    return b.data;
}

static void put_u32(ur_buf *b, uint32_t v) { ur_buf_put(b, &v, 4); }

static void put_header(ur_buf *b, const ur_retriever *r, uint64_t np) {
    ur_buf_put(b, MAGIC, 8);
    put_u32(b, INDEX_VERSION);
    float kb[2] = {UR_BM25_K1, UR_BM25_B};
    ur_buf_put(b, kb, sizeof kb);
    ur_buf_put(b, &r->hash, 8);
    put_u32(b, (uint32_t)r->n);
    put_u32(b, (uint32_t)r->terms.n);
    ur_buf_put(b, &np, 8);
}

static int save_index(const ur_retriever *r, const char *path, ur_err *err) {
    const uint64_t np = r->off[r->terms.n];
    ur_buf b = {0};
    put_header(&b, r, np);
    for (int t = 0; t < r->terms.n; t++) {
        uint32_t l = (uint32_t)strlen(r->terms.keys[t]);
        put_u32(&b, l);
        ur_buf_put(&b, r->terms.keys[t], l);
    }
    ur_buf_put(&b, r->dlen, 4 * (size_t)r->n);
    ur_buf_put(&b, r->off, 4 * ((size_t)r->terms.n + 1));
    ur_buf_put(&b, r->pdoc, 4 * np);
    ur_buf_put(&b, r->ptf, 4 * np);
    uint64_t sum = ur_hash64(b.data, b.len, UR_HASH64_INIT);
    ur_buf_put(&b, &sum, 8);
    ur_buf tmp = {0};
    ur_buf_printf(&tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp.data, "wb");
    int rc = 0;
    if (!f || fwrite(b.data, 1, b.len, f) != b.len || fflush(f) || fsync(fileno(f))) rc = -1;
    if (f && fclose(f)) rc = -1;
    if (!rc && rename(tmp.data, path)) rc = -1;
    if (rc) {
        ur_errf(err, "%s: cannot write the index: %s", path, strerror(errno));
        unlink(tmp.data);
    }
    ur_buf_free(&tmp), ur_buf_free(&b);
    return rc;
}

typedef struct reader {
    const char *p;
    size_t left;
} reader;

static int take(reader *rd, void *dst, size_t n) {
    if (n > rd->left) return -1;
    if (dst) memcpy(dst, rd->p, n);
    rd->p += n, rd->left -= n;
    return 0;
}

static uint32_t *take_u32s(reader *rd, uint64_t n, int *bad) {
    uint32_t *v = NULL;
    if (*bad || n > rd->left / 4 || !(v = ur_xmalloc(4 * (size_t)n + 4)) || take(rd, v, 4 * (size_t)n)) *bad = 1;
    return v;
}

/* 1: loaded; 0: no usable file (why in *why: absent, another pool, damaged). */
static int load_index(ur_retriever *r, const char *path, const char **why) {
    ur_buf b = {0};
    ur_err e = {{0}};
    if (access(path, F_OK)) return *why = "built", 0;
    if (ur_read_file(path, "index", 0, &b, &e) || b.len < 8 + 8) return ur_buf_free(&b), *why = "rebuilt (unreadable)", 0;
    uint64_t sum;
    memcpy(&sum, b.data + b.len - 8, 8);
    reader rd = {b.data, b.len - 8};
    ur_buf want = {0};
    uint64_t np = 0;
    put_header(&want, r, 0);
    int bad = sum != ur_hash64(b.data, b.len - 8, UR_HASH64_INIT);
    /* the header up to the counts must match this pool and these parameters */
    const size_t fixed = 8 + 4 + 8 + 8 + 4;
    if (!bad && (rd.left < want.len || memcmp(rd.p, want.data, fixed))) bad = 2;
    uint32_t nt = 0;
    if (!bad) {
        memcpy(&nt, rd.p + fixed, 4), memcpy(&np, rd.p + fixed + 4, 8);
        take(&rd, NULL, want.len);
    }
    for (uint32_t t = 0; !bad && t < nt; t++) {
        uint32_t l;
        char w[256];
        if (take(&rd, &l, 4) || l == 0 || l >= sizeof w || take(&rd, w, l)) bad = 1;
        else w[l] = 0, bad = ur_keymap_add(&r->terms, w) != (int)t;
    }
    if (!bad) {
        r->dlen = take_u32s(&rd, (uint64_t)r->n, &bad), r->off = take_u32s(&rd, (uint64_t)nt + 1, &bad);
        r->pdoc = take_u32s(&rd, np, &bad), r->ptf = take_u32s(&rd, np, &bad);
    }
    for (uint32_t t = 0; !bad && t < nt; t++) bad = r->off[t] > r->off[t + 1] || r->off[t + 1] > np;
    for (uint64_t i = 0; !bad && i < np; i++) bad = r->pdoc[i] >= (uint32_t)r->n;
    if (!bad && rd.left) bad = 1;
    ur_buf_free(&b), ur_buf_free(&want);
    if (!bad) return 1;
    *why = bad == 2 ? "rebuilt (the pool or the parameters changed)" : "rebuilt (the index file was damaged)";
    ur_keymap_free(&r->terms);
    memset(&r->terms, 0, sizeof r->terms);
    free(r->dlen), free(r->off), free(r->pdoc), free(r->ptf);
    r->dlen = r->off = r->pdoc = r->ptf = NULL;
    return 0;
}

/* ---- opening, querying ---------------------------------------------------------------------- */
ur_retriever *ur_retriever_open(const char *pool_path, ur_buf *note, ur_err *err) {
    ur_buf text = {0};
    if (ur_read_file(pool_path, "retrieval pool", 0, &text, err)) return NULL;
    ur_retriever *r = ur_xcalloc(1, sizeof *r);
    r->path = ur_xstrdup(pool_path);
    r->hash = ur_hash64(text.data, text.len, UR_HASH64_INIT);
    int rc = load_pool(r, text.data, text.len, err);
    ur_buf_free(&text);
    if (rc) return ur_retriever_free(r), NULL;
    char *ipath = ur_retriever_index_path(pool_path);
    const char *how = "loaded";
    double t0 = ur_now();
    ur_err werr = {{0}};
    if (!load_index(r, ipath, &how)) {
        build_index(r);
        save_index(r, ipath, &werr);
    }
    if (note && (strcmp(how, "loaded") || werr.msg[0])) /* a loaded index goes without saying */
        ur_buf_printf(note, "%s: BM25 index of %d items %s in %.2f s (%s%s)", pool_path, r->n, how, ur_now() - t0,
                      werr.msg[0] ? "not cached: " : "", werr.msg[0] ? werr.msg : ipath);
    free(ipath);
    weigh(r);
    return r;
}

void ur_retriever_free(ur_retriever *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) free(r->ids[i]), free(r->ins[i]), free(r->out[i]), free(r->inp[i]);
    free(r->ids), free(r->ins), free(r->out), free(r->inp), free(r->eligible), free(r->sb), free(r->se);
    embed_free(r->emb);
    ur_keymap_free(&r->terms);
    free(r->off), free(r->pdoc), free(r->ptf), free(r->dlen), free(r->idf), free(r->norm);
    free(r->path);
    free(r);
}

int ur_retriever_size(const ur_retriever *r) { return r->n; }
uint64_t ur_retriever_pool_hash(const ur_retriever *r) { return r->hash; }
const char *ur_retriever_path(const ur_retriever *r) { return r->path; }
const char *ur_retriever_method(const ur_retriever *r) { return r->emb ? embed_method(r->emb) : "bm25(k1=1.2,b=0.75)"; }
const char *ur_retriever_id(const ur_retriever *r, int i) { return r->ids[i]; }
const char *ur_retriever_instruction(const ur_retriever *r, int i) { return r->ins[i]; }
const char *ur_retriever_output(const ur_retriever *r, int i) { return r->out[i]; }
const char *ur_retriever_input(const ur_retriever *r, int i) { return r->inp[i]; }

int retrieve_same_text(const ur_retriever *r, int d, const char *s, size_t n) {
    return r->se[d] - r->sb[d] == n && !memcmp(r->ins[d] + r->sb[d], s, n);
}

/* score[d] for every document (BM25 over the query's words, in their order) */
static void score_all(const ur_retriever *r, const char *q, size_t len, float *score) {
    id_list l = {.terms = (ur_keymap *)&r->terms, .add = 0};
    each_word(q, len, push_word, &l);
    for (int i = 0; i < l.n; i++) {
        const int t = l.v[i];
        const float w = r->idf[t] * (UR_BM25_K1 + 1);
        for (uint32_t p = r->off[t]; p < r->off[t + 1]; p++) {
            const uint32_t d = r->pdoc[p];
            const float tf = (float)r->ptf[p];
            score[d] += w * tf / (tf + r->norm[d]);
        }
    }
    free(l.v);
}

int retrieve_select(const ur_retriever *r, const float *score, const char *query, size_t len, int k, int *out) {
    size_t qb, qe;
    py_strip(query, len, &qb, &qe);
    int n = 0;
    for (int d = 0; d < r->n; d++) { /* in pool order: of equal scores the earlier item is kept */
        const float s = score[d];
        if (!r->eligible[d] || (n == k && !(s > score[out[k - 1]]))) continue;
        if (retrieve_same_text(r, d, query + qb, qe - qb)) continue;
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = retrieve_same_text(r, out[i], r->ins[d] + r->sb[d], r->se[d] - r->sb[d]);
        if (dup) continue; /* an exact duplicate scores the same as its earlier twin, which is kept */
        int at = n < k ? n : k - 1;
        while (at > 0 && score[out[at - 1]] < s) at--;
        for (int i = (n < k ? n : k - 1); i > at; i--) out[i] = out[i - 1];
        out[at] = d;
        if (n < k) n++;
    }
    return n;
}

int ur_retriever_query(const ur_retriever *r, const char *query, size_t len, int k, int *out) {
    if (k <= 0 || !r->n) return 0;
    float *score = ur_xcalloc((size_t)r->n, sizeof *score);
    int ok = 1;
    if (r->emb) ok = !embed_scores(r, query, len, score);
    else score_all(r, query, len, score);
    const int n = ok ? retrieve_select(r, score, query, len, k, out) : 0;
    free(score);
    return n;
}
