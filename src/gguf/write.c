/* GGUF writer: collect metadata and tensor views, then write one v3 file.
 *
 * Each kv's value is serialized when it is set (the bytes that follow the u32
 * value type in the file), so writing is a concatenation. Tensor data is not
 * copied: the caller keeps it alive until ur_gguf_write(). The file goes to
 * PATH.tmp, is fsync'ed and renamed over PATH, so PATH is either the old file or
 * the whole new one. Mistakes in the void setters (an empty key, a string array
 * element type) are remembered and reported by ur_gguf_write(). */
#include "urial/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf/gguf_int.h"
#include "urial/tensor.h"

#define MAX_NAME 63 /* llama.cpp keeps tensor names in char[64] */

typedef struct {
    char *key;
    size_t klen;
    int type;
    ur_buf val; /* serialized value */
} wkv;

typedef struct {
    char *name;
    int type, n_dims;
    int64_t ne[4];
    const void *data;
    uint64_t nbytes;
    ur_gguf_fill_fn fill; /* or NULL: data */
    void *arg;
} wtensor;

struct ur_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    char bad[512]; /* first misuse of a void setter, reported at write time */
};

ur_gguf_writer *ur_gguf_writer_new(void) {
    ur_gguf_writer *w = ur_xcalloc(1, sizeof *w);
    return w;
}

void ur_gguf_writer_free(ur_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        ur_buf_free(&w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

/* ---- metadata ---------------------------------------------------------------- */
/* The kv for key (klen bytes), created at the end or emptied for a new value. */
static wkv *kv_slot(ur_gguf_writer *w, const char *key, size_t klen, int type) {
    if (!key || !klen) {
        if (!w->bad[0]) snprintf(w->bad, sizeof w->bad, "empty metadata key");
        return NULL;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        wkv *kv = &w->kv[i];
        if (kv->klen == klen && !memcmp(kv->key, key, klen)) {
            kv->val.len = 0;
            kv->type = type;
            return kv;
        }
    }
    if (w->n_kv == w->cap_kv) {
        w->cap_kv = w->cap_kv ? 2 * w->cap_kv : 32;
        w->kv = ur_xrealloc(w->kv, w->cap_kv * sizeof *w->kv);
    }
    wkv *kv = &w->kv[w->n_kv++];
    memset(kv, 0, sizeof *kv);
    kv->key = ur_xrealloc(NULL, klen + 1);
    memcpy(kv->key, key, klen);
    kv->key[klen] = 0;
    kv->klen = klen;
    kv->type = type;
    return kv;
}

static void put_u32(ur_buf *b, uint32_t v) { ur_buf_put(b, &v, 4); }
static void put_u64(ur_buf *b, uint64_t v) { ur_buf_put(b, &v, 8); }
static void put_str(ur_buf *b, const void *s, uint64_t n) {
    put_u64(b, n);
    if (n) ur_buf_put(b, s, (size_t)n);
}

static void set_scalar(ur_gguf_writer *w, const char *key, int type, const void *v) {
    wkv *kv = kv_slot(w, key, key ? strlen(key) : 0, type);
    if (kv) ur_buf_put(&kv->val, v, (size_t)ur_gguf_vsize(type));
}

void ur_gguf_w_u32(ur_gguf_writer *w, const char *key, uint32_t v) { set_scalar(w, key, UR_GGUF_U32, &v); }
void ur_gguf_w_i32(ur_gguf_writer *w, const char *key, int32_t v) { set_scalar(w, key, UR_GGUF_I32, &v); }
void ur_gguf_w_u64(ur_gguf_writer *w, const char *key, uint64_t v) { set_scalar(w, key, UR_GGUF_U64, &v); }
void ur_gguf_w_f32(ur_gguf_writer *w, const char *key, float v) { set_scalar(w, key, UR_GGUF_F32, &v); }
void ur_gguf_w_bool(ur_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    set_scalar(w, key, UR_GGUF_BOOL, &b);
}

void ur_gguf_w_str_n(ur_gguf_writer *w, const char *key, const char *v, size_t n) {
    wkv *kv = kv_slot(w, key, key ? strlen(key) : 0, UR_GGUF_STRING);
    if (kv) put_str(&kv->val, v, n);
}

void ur_gguf_w_str(ur_gguf_writer *w, const char *key, const char *v) { ur_gguf_w_str_n(w, key, v, strlen(v)); }

static void set_arr(ur_gguf_writer *w, const char *key, size_t klen, int elem_type, const void *elems,
                    uint64_t n) {
    uint64_t sz = (uint64_t)ur_gguf_vsize(elem_type), bytes;
    if (!sz || ur_mul_size(n, sz, &bytes) || bytes > SIZE_MAX / 2) {
        if (!w->bad[0])
            snprintf(w->bad, sizeof w->bad, "key '%.*s': cannot write an array of %llu %s with ur_gguf_w_arr",
                     (int)(klen > 200 ? 200 : klen), key ? key : "", (unsigned long long)n,
                     ur_gguf_vtype_name(elem_type));
        return;
    }
    wkv *kv = kv_slot(w, key, klen, UR_GGUF_ARRAY);
    if (!kv) return;
    put_u32(&kv->val, (uint32_t)elem_type);
    put_u64(&kv->val, n);
    if (bytes) ur_buf_put(&kv->val, elems, (size_t)bytes);
}

void ur_gguf_w_arr(ur_gguf_writer *w, const char *key, int elem_type, const void *elems, uint64_t n) {
    set_arr(w, key, key ? strlen(key) : 0, elem_type, elems, n);
}

void ur_gguf_w_arr_str(ur_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens,
                       uint64_t n) {
    wkv *kv = kv_slot(w, key, key ? strlen(key) : 0, UR_GGUF_ARRAY);
    if (!kv) return;
    put_u32(&kv->val, UR_GGUF_STRING);
    put_u64(&kv->val, n);
    for (uint64_t i = 0; i < n; i++) put_str(&kv->val, strs[i], lens ? lens[i] : strlen(strs[i]));
}

void ur_gguf_w_copy_kv(ur_gguf_writer *w, const ur_gguf_kv *src) {
    const char *key = src->key.ptr;
    size_t klen = (size_t)src->key.len;
    if (src->type == UR_GGUF_STRING) {
        wkv *kv = kv_slot(w, key, klen, UR_GGUF_STRING);
        if (kv) put_str(&kv->val, src->str.ptr, src->str.len);
    } else if (src->type == UR_GGUF_ARRAY && src->arr_type == UR_GGUF_STRING) {
        wkv *kv = kv_slot(w, key, klen, UR_GGUF_ARRAY);
        if (!kv) return;
        put_u32(&kv->val, UR_GGUF_STRING);
        put_u64(&kv->val, src->arr_n);
        for (uint64_t i = 0; i < src->arr_n; i++) put_str(&kv->val, src->strs[i].ptr, src->strs[i].len);
    } else if (src->type == UR_GGUF_ARRAY) {
        set_arr(w, key, klen, src->arr_type, src->data, src->arr_n);
    } else if (ur_gguf_vsize(src->type)) {
        wkv *kv = kv_slot(w, key, klen, src->type);
        if (kv) ur_buf_put(&kv->val, src->data, (size_t)ur_gguf_vsize(src->type));
    } else if (!w->bad[0]) {
        snprintf(w->bad, sizeof w->bad, "key '%.*s': cannot copy a value of type %d", (int)(klen > 200 ? 200 : klen),
                 key, src->type);
    }
}

void ur_gguf_w_remove(ur_gguf_writer *w, const char *key) {
    size_t klen = strlen(key);
    for (size_t i = 0; i < w->n_kv; i++) {
        wkv *kv = &w->kv[i];
        if (kv->klen != klen || memcmp(kv->key, key, klen)) continue;
        free(kv->key);
        ur_buf_free(&kv->val);
        memmove(kv, kv + 1, (w->n_kv - i - 1) * sizeof *kv);
        w->n_kv--;
        return;
    }
}

ur_gguf_writer *ur_gguf_writer_from(const ur_gguf *g, ur_err *err) {
    ur_gguf_writer *w = ur_gguf_writer_new();
    for (uint64_t i = 0; i < g->n_kv; i++) ur_gguf_w_copy_kv(w, &g->kv[i]);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const ur_gguf_tensor *t = &g->tensors[i];
        char name[MAX_NAME + 1];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (ur_gguf_w_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->nbytes, err)) {
            ur_gguf_writer_free(w);
            return NULL;
        }
    }
    return w;
}

/* ---- tensors ------------------------------------------------------------------- */
/* The shape checks; need = the bytes the shape takes. */
static int check_tensor(const ur_gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne,
                        uint64_t *need, ur_err *err) {
    size_t nlen = name ? strlen(name) : 0;
    char nb[300];
    if (!nlen || nlen > MAX_NAME)
        return ur_errf(err, "tensor '%s': name must be 1..%d bytes, not %zu", name ? name : "", MAX_NAME, nlen);
    ur_gguf_esc(name, nlen, nb, sizeof nb);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) return ur_errf(err, "tensor '%s': added twice", nb);
    if (!ur_type_is_weight(type))
        return ur_errf(err, "tensor '%s': type %s (%d) cannot be written to a model file", nb, ur_type_name(type),
                       type);
    if (n_dims < 1 || n_dims > 4) return ur_errf(err, "tensor '%s': rank %d (expected 1..4)", nb, n_dims);
    uint64_t n = 1, rowb;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 1) return ur_errf(err, "tensor '%s': dimension %d is %lld (expected >= 1)", nb, d,
                                      (long long)ne[d]);
        if (ur_mul_size(n, (uint64_t)ne[d], &n) || n > (uint64_t)INT64_MAX)
            return ur_errf(err, "tensor '%s': more than 2^63 elements", nb);
    }
    if (ne[0] % ur_type_block(type))
        return ur_errf(err, "tensor '%s': ne[0] = %lld is not a multiple of the %s block size %d", nb,
                       (long long)ne[0], ur_type_name(type), ur_type_block(type));
    rowb = ur_row_size(type, ne[0]);
    if (ur_mul_size(rowb, n / (uint64_t)ne[0], need)) return ur_errf(err, "tensor '%s': too many bytes", nb);
    return 0;
}

static wtensor *add_tensor(ur_gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne) {
    if (w->n_t == w->cap_t) {
        w->cap_t = w->cap_t ? 2 * w->cap_t : 64;
        w->t = ur_xrealloc(w->t, w->cap_t * sizeof *w->t);
    }
    wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = ur_xstrdup(name);
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    return t;
}

int ur_gguf_w_tensor(ur_gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne,
                     const void *data, uint64_t nbytes, ur_err *err) {
    uint64_t need;
    if (check_tensor(w, name, type, n_dims, ne, &need, err)) return -1;
    if (need != nbytes)
        return ur_errf(err, "tensor '%.*s': %llu bytes given, but %lld x %lld rows of %s need %llu", MAX_NAME, name,
                       (unsigned long long)nbytes, (long long)ne[0], (long long)(ne[0] ? need / ur_row_size(type, ne[0]) : 0),
                       ur_type_name(type), (unsigned long long)need);
    if (!data && nbytes) return ur_errf(err, "tensor '%.*s': no data", MAX_NAME, name);
    wtensor *t = add_tensor(w, name, type, n_dims, ne);
    t->data = data;
    t->nbytes = nbytes;
    return 0;
}

int ur_gguf_w_tensor_fill(ur_gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne,
                          ur_gguf_fill_fn fill, void *arg, ur_err *err) {
    uint64_t need;
    if (check_tensor(w, name, type, n_dims, ne, &need, err)) return -1;
    wtensor *t = add_tensor(w, name, type, n_dims, ne);
    t->fill = fill;
    t->arg = arg;
    t->nbytes = need;
    return 0;
}

/* ---- the file ------------------------------------------------------------------- */
static uint64_t pad_to(uint64_t x, uint64_t a) { return (a - x % a) % a; }

static int write_all(int fd, const void *p, uint64_t n) {
    const char *c = p;
    while (n) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t k = write(fd, c, chunk);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (uint64_t)k;
    }
    return 0;
}

static int write_zeros(int fd, uint64_t n) {
    static const char zeros[4096];
    while (n) {
        uint64_t k = n < sizeof zeros ? n : sizeof zeros;
        if (write_all(fd, zeros, k)) return -1;
        n -= k;
    }
    return 0;
}

static int alignment_of(const ur_gguf_writer *w, const char *path, uint64_t *align, ur_err *err) {
    *align = 32;
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        if (strcmp(kv->key, "general.alignment")) continue;
        uint32_t a = 0;
        if (kv->type != UR_GGUF_U32)
            return ur_errf(err, "%s: general.alignment has type %s, expected u32", path,
                           ur_gguf_vtype_name(kv->type));
        memcpy(&a, kv->val.data, 4);
        if (a == 0 || (a & (a - 1)))
            return ur_errf(err, "%s: general.alignment is %u, expected a non-zero power of two", path, a);
        *align = a;
    }
    return 0;
}

/* Header: magic, version, counts, every kv, every tensor info, padding. */
static void build_header(const ur_gguf_writer *w, uint64_t align, ur_buf *h) {
    ur_buf_put(h, "GGUF", 4);
    put_u32(h, 3);
    put_u64(h, w->n_t);
    put_u64(h, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        put_str(h, kv->key, kv->klen);
        put_u32(h, (uint32_t)kv->type);
        if (kv->val.len) ur_buf_put(h, kv->val.data, kv->val.len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(h, t->name, strlen(t->name));
        put_u32(h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(h, (uint64_t)t->ne[d]);
        put_u32(h, (uint32_t)t->type);
        put_u64(h, off);
        off += t->nbytes + pad_to(t->nbytes, align);
    }
    static const char zeros[64];
    for (uint64_t p = pad_to(h->len, align); p;) {
        uint64_t k = p < sizeof zeros ? p : sizeof zeros;
        ur_buf_put(h, zeros, (size_t)k);
        p -= k;
    }
}

/* fsync the directory holding path, so the rename itself is durable. */
static void sync_dir(const char *path) {
    char *copy = ur_xstrdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int ur_gguf_write(ur_gguf_writer *w, const char *path, ur_err *err) {
    uint64_t align;
    if (w->bad[0]) return ur_errf(err, "%s: %s", path, w->bad);
    if (alignment_of(w, path, &align, err)) return -1;
    ur_buf h = {0};
    build_header(w, align, &h);

    size_t plen = strlen(path);
    char *tmp = ur_xrealloc(NULL, plen + 5);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int rc = -1, filled_err = 0;
    void *fill = NULL;
    uint64_t fillcap = 0;
    const char *step = "create";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) goto out;
    step = "write";
    if (write_all(fd, h.data, h.len)) goto out;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        const void *data = t->data;
        if (t->fill) {
            if (t->nbytes > fillcap) fill = ur_xrealloc(fill, (size_t)(fillcap = t->nbytes));
            if (t->fill(t->arg, fill, t->nbytes, err)) {
                filled_err = 1;
                goto out;
            }
            data = fill;
        }
        if (write_all(fd, data, t->nbytes) || write_zeros(fd, pad_to(t->nbytes, align))) goto out;
    }
    step = "fsync";
    if (fsync(fd)) goto out;
    step = "close";
    int cfd = fd;
    fd = -1;
    if (close(cfd)) goto out;
    step = "rename";
    if (rename(tmp, path)) goto out;
    sync_dir(path);
    rc = 0;
out:
    if (rc) {
        if (!filled_err) ur_errf(err, "%s: cannot %s %s: %s", path, step, tmp, strerror(errno));
        if (fd >= 0) close(fd);
        unlink(tmp);
    }
    free(tmp);
    free(fill);
    ur_buf_free(&h);
    return rc;
}
