/* Retrieval by embeddings (include/urial/retrieve.h, ur_retriever_use_embeddings):
 * mean-pooled last hidden states of a model urial runs, cosine similarity, the pool's
 * embeddings cached in POOL.emb-HASH. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat/retrieve_int.h"
#include "urial/model.h"
#include "urial/tokenizer.h"

struct embedder {
    ur_model *m;
    ur_ctx *ctx;
    pthread_mutex_t lock; /* one query at a time through ctx */
    int dim;
    float *v;             /* [n][dim], each of unit length (or zero) */
    char method[320];
};

void embed_free(embedder *e) {
    if (!e) return;
    ur_ctx_free(e->ctx);
    ur_model_free(e->m);
    pthread_mutex_destroy(&e->lock);
    free(e->v);
    free(e);
}

const char *embed_method(const embedder *e) { return e->method; }

/* the unit-length embedding of text into out[dim]; 0, or -1 with err */
static int embed_text(embedder *e, const char *text, size_t len, float *out, ur_err *err) {
    int32_t *ids = NULL;
    const ur_vocab *v = e->m->vocab;
    int n = ur_tokenize_alloc(v, text, len, ur_vocab_add_bos(v), 0, &ids, err);
    if (n < 0) return -1;
    if (n > UR_EMBED_MAX_TOKENS) n = UR_EMBED_MAX_TOKENS;
    int rc = 0;
    if (n == 0) memset(out, 0, sizeof(float) * (size_t)e->dim);
    else {
        ur_ctx_truncate(e->ctx, 0);
        rc = ur_decode_hidden(e->ctx, ids, n, out, NULL, err);
    }
    free(ids);
    double ss = 0;
    for (int d = 0; !rc && d < e->dim; d++) ss += (double)out[d] * out[d];
    if (!rc && ss > 0)
        for (int d = 0; d < e->dim; d++) out[d] = (float)(out[d] / sqrt(ss));
    return rc;
}

int embed_scores(const ur_retriever *r, const char *query, size_t len, float *score) {
    embedder *e = r->emb;
    float *q = ur_xmalloc(sizeof *q * (size_t)e->dim);
    ur_err err = {{0}};
    pthread_mutex_lock(&e->lock);
    int rc = embed_text(e, query, len, q, &err);
    pthread_mutex_unlock(&e->lock);
    for (int d = 0; !rc && d < r->n; d++) {
        const float *x = e->v + (size_t)d * e->dim;
        float s = 0;
        for (int i = 0; i < e->dim; i++) s += q[i] * x[i];
        score[d] = s;
    }
    free(q);
    return rc;
}

/* ---- the cache file: magic, version, pool hash, model key, n, dim, vectors, checksum ---- */
static const char EMAGIC[8] = "UREMB\n\0";

static uint64_t model_key(const char *path) {
    struct stat st;
    uint64_t h = ur_hash64_str(ur_base_name(path));
    if (!stat(path, &st)) {
        int64_t v[2] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec};
        h = ur_hash64(v, sizeof v, h);
    }
    return h;
}

static void header(ur_buf *b, const ur_retriever *r, uint64_t key, int dim) {
    ur_buf_put(b, EMAGIC, 8);
    uint32_t u[3] = {1, (uint32_t)r->n, (uint32_t)dim};
    ur_buf_put(b, &r->hash, 8);
    ur_buf_put(b, &key, 8);
    ur_buf_put(b, u, sizeof u);
}

static int load_vectors(const ur_retriever *r, embedder *e, const char *path, uint64_t key) {
    ur_buf b = {0}, want = {0};
    ur_err err = {{0}};
    if (access(path, F_OK) || ur_read_file(path, "embeddings", 0, &b, &err)) return ur_buf_free(&b), 0;
    header(&want, r, key, e->dim);
    const size_t nv = (size_t)r->n * (size_t)e->dim * sizeof(float);
    uint64_t sum = 0;
    int ok = b.len == want.len + nv + 8 && !memcmp(b.data, want.data, want.len);
    if (ok) memcpy(&sum, b.data + b.len - 8, 8), ok = sum == ur_hash64(b.data, b.len - 8, UR_HASH64_INIT);
    if (ok) memcpy(e->v, b.data + want.len, nv);
    ur_buf_free(&b), ur_buf_free(&want);
    return ok;
}

static void save_vectors(const ur_retriever *r, const embedder *e, const char *path, uint64_t key, ur_err *err) {
    ur_buf b = {0}, tmp = {0};
    header(&b, r, key, e->dim);
    ur_buf_put(&b, e->v, (size_t)r->n * (size_t)e->dim * sizeof(float));
    uint64_t sum = ur_hash64(b.data, b.len, UR_HASH64_INIT);
    ur_buf_put(&b, &sum, 8);
    ur_buf_printf(&tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp.data, "wb");
    int bad = !f || fwrite(b.data, 1, b.len, f) != b.len || fflush(f) || fsync(fileno(f));
    if (f && fclose(f)) bad = 1;
    if (!bad && rename(tmp.data, path)) bad = 1;
    if (bad) ur_errf(err, "%s: cannot write the embeddings: %s", path, strerror(errno)), unlink(tmp.data);
    ur_buf_free(&b), ur_buf_free(&tmp);
}

int ur_retriever_use_embeddings(ur_retriever *r, const char *model_path, int n_threads, ur_buf *note, ur_err *err) {
    embedder *e = ur_xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    if (!(e->m = ur_model_load(model_path, err))) return embed_free(e), -1;
    int n_ctx = e->m->hp.n_ctx_train < UR_EMBED_MAX_TOKENS ? e->m->hp.n_ctx_train : UR_EMBED_MAX_TOKENS;
    ur_ctx_params cp = {n_ctx + 1, 0, n_threads, NULL};
    if (!(e->ctx = ur_ctx_new(e->m, cp, err))) return embed_free(e), -1;
    e->dim = e->m->hp.dim;
    e->v = ur_xmalloc(sizeof(float) * ((size_t)r->n * (size_t)e->dim + 1));
    snprintf(e->method, sizeof e->method, "embed(%s,mean,cosine)", ur_base_name(model_path));
    const uint64_t key = model_key(model_path);
    ur_buf path = {0};
    ur_buf_printf(&path, "%s.emb-%016llx", r->path, (unsigned long long)key);
    double t0 = ur_now();
    if (!load_vectors(r, e, path.data, key)) {
        for (int d = 0; d < r->n; d++)
            if (embed_text(e, r->ins[d], strlen(r->ins[d]), e->v + (size_t)d * e->dim, err)) {
                ur_errf(err, "%s: item %d: %s", r->path, d, err->msg);
                ur_buf_free(&path);
                return embed_free(e), -1;
            }
        ur_err werr = {{0}};
        save_vectors(r, e, path.data, key, &werr);
        if (note)
            ur_buf_printf(note, "%s: embeddings of %d items by %s computed in %.2f s (%s%s)", r->path, r->n,
                          ur_base_name(model_path), ur_now() - t0, werr.msg[0] ? "not cached: " : "",
                          werr.msg[0] ? werr.msg : path.data);
    }
    ur_buf_free(&path);
    embed_free(r->emb);
    r->emb = e;
    return 0;
}
