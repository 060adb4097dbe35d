/* Saving and loading the KV cache of a context's first n tokens (a prompt
 * prefix such as the URIAL preamble and examples), so that a later process can
 * load it instead of computing it again.
 *
 * File layout (little-endian, as the host writes it; the magic rejects others):
 *   magic      8 bytes  "URIALKV\0"
 *   version    u32      KV_VERSION
 *   kv_type    u32      1 = F16 (the cache's element type)
 *   model_size u64      bytes of the GGUF file
 *   mtime_ns   i64      its modification time (ns since the epoch; 0 if unknown)
 *   model_hash u64      hash of its header + metadata and of 64 sampled 4 KiB
 *                       blocks of tensor data (model_fingerprint below)
 *   n_layers   u32      \ the cache's shape: a file for another shape of model
 *   kv_dim     u32      / is refused even if the hashes collided
 *   n_tokens   u32
 *   reserved   u32      0
 *   tokens     i32[n_tokens]
 *   K          per layer u16[rows][kv_dim]
 *   V          per layer u16[rows][kv_dim]
 *   checksum   u64      hash of every byte above (detects truncation and corruption)
 * rows = n_tokens for a full-attention layer (positions 0..n_tokens-1); a
 * sliding-window layer (window W) keeps only what position n_tokens will read:
 * positions max(0, n_tokens - W + 1)..n_tokens-1. Models without sliding layers
 * therefore have the layout [n_layers][n_tokens][kv_dim] of the first version.
 * The file is written to PATH.tmp.PID, fsynced and renamed, so a crash never leaves
 * a half-written file under PATH; a file that is anyway short, corrupt, of another
 * version, or for another model or other tokens is refused with a one-line reason. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/ctx_int.h"

#define KV_MAGIC "URIALKV"
#define KV_VERSION 1u
#define KV_TYPE_F16 1u

typedef struct kv_header {
    char magic[8];
    uint32_t version, kv_type;
    uint64_t model_size;
    int64_t mtime_ns;
    uint64_t model_hash;
    uint32_t n_layers, kv_dim, n_tokens, reserved;
} kv_header;
_Static_assert(sizeof(kv_header) == 56, "kv_header has no padding");

/* A 64-bit hash over 8-byte words (a multiply-rotate mix; a byte tail is folded
 * in last). Strong enough to notice a changed file, fast enough (several GB/s) to
 * check a multi-hundred-MB cache file on load. Streamed: state in *h. */
static uint64_t mix(uint64_t h, uint64_t w) {
    w *= 0x87c37b91114253d5ull;
    w = (w << 31) | (w >> 33);
    h ^= w * 0x4cf5ad432745937full;
    h = (h << 27) | (h >> 37);
    return h * 5 + 0x52dce729;
}
static void hash_bytes(uint64_t *h, const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t x = *h;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        x = mix(x, w);
    }
    uint64_t tail = 0;
    for (size_t j = 0; i < n; i++, j++) tail |= (uint64_t)s[i] << (8 * j);
    x = mix(x, tail ^ ((uint64_t)n << 56));
    *h = x;
}

/* Identity of the model file behind a context: size, mtime, and a hash of the
 * bytes before the tensor data (header, metadata with the whole tokenizer, tensor
 * infos) plus 64 evenly spaced 4 KiB blocks of the tensor data (a re-quantized or
 * retrained file with the same header still differs there). */
static void model_identity(const ur_model *m, uint64_t *size, int64_t *mtime_ns, uint64_t *hash) {
    const ur_gguf *g = m->gguf;
    struct stat st;
    *mtime_ns = 0;
    if (g->path && !stat(g->path, &st)) *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    *size = g->size;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    size_t head = g->data_offset < g->size ? (size_t)g->data_offset : g->size;
    hash_bytes(&h, g->base, head);
    size_t data = g->size - head, blk = 4096;
    for (int i = 0; i < 64 && data; i++) {
        size_t off = head + (size_t)((double)(data > blk ? data - blk : 0) * i / 63.0);
        hash_bytes(&h, g->base + off, data < blk ? data : blk);
    }
    *hash = h;
}

/* The first position of a prefix of n tokens that layer l keeps: 0, or in a sliding
 * layer the oldest one position n reads. */
static int keep_from(const ur_ctx *c, int l, int n) {
    const int w = c->m->hp.swa_window;
    return c->m->layers[l].swa && n - w + 1 > 0 ? n - w + 1 : 0;
}

/* Whether c's cache holds what a prefix of n tokens needs (keys and values computed,
 * sliding rings not yet past them). */
static int prefix_intact(const ur_ctx *c, int n) {
    const int w = c->m->hp.swa_window, need = n - w + 1 > 0 ? n - w + 1 : 0;
    return c->n_kv >= n && (!w || c->swa_lo <= need);
}

/* The sliding layers' first kept position after holding a prefix of n tokens. */
static int swa_lo_after(const ur_ctx *c, int n) {
    const int w = c->m->hp.swa_window;
    return w && n - w + 1 > 0 ? n - w + 1 : 0;
}

/* Write all of p, folding it into the checksum. */
static int put(FILE *f, uint64_t *h, const void *p, size_t n) {
    hash_bytes(h, p, n);
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

int ur_ctx_save_prefix(const ur_ctx *c, int n, const char *path, ur_err *err) {
    const ur_hparams *hp = &c->m->hp;
    if (n <= 0 || n > c->n_past)
        return ur_errf(err, "%s: cannot save a prefix of %d tokens: the context holds %d", path, n, c->n_past);
    if (!prefix_intact(c, n))
        return ur_errf(err, "%s: cannot save a prefix of %d tokens: its sliding-window cache was overwritten since", path,
                       n);
    kv_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, KV_MAGIC, sizeof KV_MAGIC);
    hd.version = KV_VERSION;
    hd.kv_type = KV_TYPE_F16;
    model_identity(c->m, &hd.model_size, &hd.mtime_ns, &hd.model_hash);
    hd.n_layers = (uint32_t)hp->n_layers;
    hd.kv_dim = (uint32_t)c->kv_dim;
    hd.n_tokens = (uint32_t)n;

    size_t plen = strlen(path) + 32;
    char *tmp = malloc(plen);
    if (!tmp) return ur_errf(err, "%s: out of memory", path);
    snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ur_errf(err, "%s: cannot write prompt cache: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    uint64_t h = 0;
    const size_t row = (size_t)c->kv_dim * sizeof(uint16_t);
    int bad = put(f, &h, &hd, sizeof hd) || put(f, &h, c->tokens, sizeof(int32_t) * (size_t)n);
    for (int pass = 0; pass < 2 && !bad; pass++) {
        const uint16_t *cache = pass ? c->v_cache : c->k_cache;
        for (int l = 0; l < hp->n_layers && !bad; l++)
            for (int p = keep_from(c, l, n); p < n && !bad; p++) bad = put(f, &h, cache + ur_kv_row(c, l, p), row);
    }
    if (!bad) bad = fwrite(&h, sizeof h, 1, f) != 1;
    if (!bad) bad = fflush(f) || fsync(fileno(f));
    int e = errno;
    if (fclose(f)) bad = 1, e = errno;
    if (!bad && rename(tmp, path)) bad = 1, e = errno;
    if (bad) {
        unlink(tmp);
        ur_errf(err, "%s: cannot write prompt cache: %s", path, strerror(e));
    }
    free(tmp);
    return bad ? -1 : 0;
}

/* Read exactly n bytes into p and fold them into the checksum; -1 at a short read. */
static int get(FILE *f, uint64_t *h, void *p, size_t n) {
    if (fread(p, 1, n, f) != n) return -1;
    hash_bytes(h, p, n);
    return 0;
}

int ur_ctx_load_prefix(ur_ctx *c, const char *path, const int32_t *tokens, int n, ur_err *err) {
    const ur_hparams *hp = &c->m->hp;
    FILE *f = fopen(path, "rb");
    if (!f) {
        ur_errf(err, "%s: cannot open prompt cache: %s", path, strerror(errno));
        return errno == ENOENT ? 0 : -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st)) {
        fclose(f);
        return ur_errf(err, "%s: cannot stat prompt cache: %s", path, strerror(errno));
    }
    kv_header hd;
    uint64_t h = 0, size, hash;
    int64_t mtime;
    int rc = -1;
    int32_t *got = NULL;
    memset(&hd, 0, sizeof hd);
    int short_head = get(f, &h, &hd, sizeof hd) != 0;
    if (memcmp(hd.magic, KV_MAGIC, sizeof KV_MAGIC)) {
        ur_errf(err, "%s: not a urial prompt cache file", path);
        goto out;
    }
    if (short_head) {
        ur_errf(err, "%s: truncated (%lld bytes)", path, (long long)st.st_size);
        goto out;
    }
    if (hd.version != KV_VERSION || hd.kv_type != KV_TYPE_F16) {
        ur_errf(err, "%s: format version %u (KV type %u); this urial reads version %u (KV type %u)", path, hd.version,
                hd.kv_type, KV_VERSION, KV_TYPE_F16);
        goto out;
    }
    model_identity(c->m, &size, &mtime, &hash);
    if (hd.n_layers != (uint32_t)hp->n_layers || hd.kv_dim != (uint32_t)c->kv_dim) {
        ur_errf(err, "%s: written for a model with %u layers x %u KV dims, not %d x %d", path, hd.n_layers, hd.kv_dim,
                hp->n_layers, c->kv_dim);
        goto out;
    }
    if (hd.model_size != size || hd.model_hash != hash) {
        ur_errf(err, "%s: written for a different model file than %s", path, c->m->gguf->path);
        goto out;
    }
    if (hd.mtime_ns != mtime) {
        ur_errf(err, "%s: written for %s as it was before it was last modified", path, c->m->gguf->path);
        goto out;
    }
    if (hd.n_tokens != (uint32_t)n) {
        ur_errf(err, "%s: holds %u tokens, the prompt prefix has %d (another prompt or tokenizer)", path, hd.n_tokens, n);
        goto out;
    }
    if (n <= 0 || n > c->n_ctx) {
        ur_errf(err, "%s: %d tokens do not fit the context of %d", path, n, c->n_ctx);
        goto out;
    }
    const size_t row = (size_t)c->kv_dim * sizeof(uint16_t);
    uint64_t rows = 0;
    for (int l = 0; l < hp->n_layers; l++) rows += (uint64_t)(n - keep_from(c, l, n));
    const uint64_t want = sizeof hd + sizeof(int32_t) * (uint64_t)n + 2ull * rows * row + sizeof h;
    if ((uint64_t)st.st_size != want) {
        ur_errf(err, "%s: %s (%lld bytes, expected %llu)", path, (uint64_t)st.st_size < want ? "truncated" : "too long",
                (long long)st.st_size, (unsigned long long)want);
        goto out;
    }
    got = malloc(sizeof *got * (size_t)n);
    if (!got) {
        ur_errf(err, "%s: out of memory", path);
        goto out;
    }
    if (get(f, &h, got, sizeof *got * (size_t)n)) goto short_read;
    if (memcmp(got, tokens, sizeof *got * (size_t)n)) {
        int i = 0;
        while (got[i] == tokens[i]) i++;
        ur_errf(err, "%s: holds the KV of other tokens (first difference at token %d: another prompt or tokenizer)",
                path, i);
        goto out;
    }
    /* From here on the cache is overwritten: the context is empty until it all checks out. */
    c->n_past = c->n_kv = c->swa_lo = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint16_t *cache = pass ? c->v_cache : c->k_cache;
        for (int l = 0; l < hp->n_layers; l++)
            for (int p = keep_from(c, l, n); p < n; p++)
                if (get(f, &h, cache + ur_kv_row(c, l, p), row)) goto short_read;
    }
    uint64_t sum;
    if (fread(&sum, sizeof sum, 1, f) != 1) goto short_read;
    if (sum != h) {
        ur_errf(err, "%s: checksum mismatch (the file is corrupt)", path);
        goto out;
    }
    memcpy(c->tokens, got, sizeof *got * (size_t)n);
    c->n_past = c->n_kv = n;
    c->swa_lo = swa_lo_after(c, n);
    rc = 1;
    goto out;
short_read:
    ur_errf(err, "%s: truncated (read error: %s)", path, ferror(f) ? strerror(errno) : "unexpected end of file");
out:
    free(got);
    fclose(f);
    return rc;
}

int ur_ctx_copy_prefix(ur_ctx *dst, const ur_ctx *src, int n, ur_err *err) {
    const char *path = src->m->gguf->path;
    if (dst->m != src->m) return ur_errf(err, "%s: cannot copy a KV cache into a context of another model", path);
    if (n < 0 || n > src->n_past) return ur_errf(err, "%s: cannot copy %d tokens of a cache holding %d", path, n, src->n_past);
    if (n >= dst->n_ctx) return ur_errf(err, "%s: %d tokens do not fit a context of %d", path, n, dst->n_ctx);
    if (dst == src) return 0;
    memcpy(dst->tokens, src->tokens, sizeof(int32_t) * (size_t)n);
    dst->n_past = n;
    dst->n_kv = dst->swa_lo = 0;
    if (!prefix_intact(src, n)) return 0; /* src no longer holds it all: dst recomputes it at its next decode */
    const size_t row = (size_t)src->kv_dim * sizeof(uint16_t);
    for (int l = 0; l < src->m->hp.n_layers; l++) {
        const int p0 = keep_from(src, l, n);
        if (src->kv_rows[l] == src->n_ctx && dst->kv_rows[l] == dst->n_ctx) { /* both rows = positions: one copy */
            memcpy(dst->k_cache + ur_kv_row(dst, l, p0), src->k_cache + ur_kv_row(src, l, p0), row * (size_t)(n - p0));
            memcpy(dst->v_cache + ur_kv_row(dst, l, p0), src->v_cache + ur_kv_row(src, l, p0), row * (size_t)(n - p0));
            continue;
        }
        for (int p = p0; p < n; p++) {
            memcpy(dst->k_cache + ur_kv_row(dst, l, p), src->k_cache + ur_kv_row(src, l, p), row);
            memcpy(dst->v_cache + ur_kv_row(dst, l, p), src->v_cache + ur_kv_row(src, l, p), row);
        }
    }
    dst->n_kv = n;
    dst->swa_lo = swa_lo_after(dst, n);
    return 0;
}
