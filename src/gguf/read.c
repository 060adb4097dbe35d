/* GGUF reader: mmap (or a caller's buffer) + full validation up front.
 *
 * File layout, little-endian, versions 2 and 3 (v1 used u32 counts and is refused):
 *     u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *     n_kv      x { str key | u32 value type | value }
 *     n_tensors x { str name | u32 n_dims | u64 ne[n_dims] | u32 ggml type | u64 offset }
 *     zero padding up to `alignment` (general.alignment, default 32)
 *     data section: tensor `offset`s are relative to its start and multiples of `alignment`
 * where str = u64 length + bytes (no NUL), and an array value = u32 element type,
 * u64 count, then the elements (arrays of arrays are not allowed here).
 *
 * Every length and count is checked against the bytes that remain before it is
 * used or allocated for, so no input can make us read out of bounds or allocate
 * more than a small multiple of the input size. The fuzz target (tests/fuzz)
 * holds us to that. */
#include "urial/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf/gguf_int.h"
#include "urial/tensor.h"

/* The reader and the writer share this private extension of ur_gguf: name
 * indexes (open addressing over kv / tensor indexes) for duplicate checks and
 * O(1) lookups. `pub` must stay first: ur_gguf * and gguf_impl * are cast. */
typedef struct {
    ur_gguf pub;
    uint64_t *kv_idx, kv_cap; /* slot = index + 1, 0 = empty; cap is a power of two */
    uint64_t *t_idx, t_cap;
} gguf_impl;

/* ---- helpers shared with write.c --------------------------------------- */
int ur_gguf_vsize(int type) {
    switch (type) {
    case UR_GGUF_U8: case UR_GGUF_I8: case UR_GGUF_BOOL: return 1;
    case UR_GGUF_U16: case UR_GGUF_I16: return 2;
    case UR_GGUF_U32: case UR_GGUF_I32: case UR_GGUF_F32: return 4;
    case UR_GGUF_U64: case UR_GGUF_I64: case UR_GGUF_F64: return 8;
    default: return 0;
    }
}

const char *ur_gguf_vtype_name(int type) {
    static const char *const names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                        "bool", "string", "array", "u64", "i64", "f64"};
    return type >= 0 && type <= UR_GGUF_F64 ? names[type] : "unknown";
}

const char *ur_gguf_esc(const void *s, uint64_t n, char *buf, size_t cap) {
    const unsigned char *u = s;
    size_t o = 0;
    uint64_t i;
    for (i = 0; i < n && o + 8 < cap && i < 64; i++) {
        unsigned c = u[i];
        if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    if (i < n && o + 4 <= cap) { memcpy(buf + o, "...", 3); o += 3; }
    buf[o] = 0;
    return buf;
}

uint64_t ur_gguf_hash(const void *s, uint64_t n) {
    return ur_hash64(s, (size_t)n, UR_HASH64_INIT);
}

/* ---- name index ----------------------------------------------------------- */
static uint64_t idx_cap(uint64_t n) {
    uint64_t cap = 8;
    while (cap < 2 * n) cap *= 2;
    return cap;
}

/* Find `key` in an index of `n` names held in ur_str fields at `stride` bytes
 * apart from `names0`. Returns the slot (empty or matching). */
static uint64_t idx_slot(const uint64_t *idx, uint64_t cap, const char *names0, size_t stride,
                         const void *key, uint64_t len) {
    uint64_t s = ur_gguf_hash(key, len) & (cap - 1);
    while (idx[s]) {
        const ur_str *nm = (const ur_str *)(const void *)(names0 + (idx[s] - 1) * stride);
        if (nm->len == len && !memcmp(nm->ptr, key, len)) return s;
        s = (s + 1) & (cap - 1);
    }
    return s;
}

/* ---- cursor over the input ------------------------------------------------ */
typedef struct {
    const uint8_t *p;
    uint64_t size, off;
    const char *path;
    ur_err *err;
    char where[320]; /* what is being read, e.g. "kv 3 of 20 ('general.name')" */
} cursor;

static int past_end(cursor *c, const char *what, uint64_t n) {
    return ur_errf(c->err, "%s: %s: %s (%llu bytes at offset %llu) runs past the end of the file (%llu bytes)",
                   c->path, c->where, what, (unsigned long long)n, (unsigned long long)c->off,
                   (unsigned long long)c->size);
}

static int need(cursor *c, uint64_t n, const char *what) {
    return n <= c->size - c->off ? 0 : past_end(c, what, n);
}

static int rd_u32(cursor *c, uint32_t *v, const char *what) {
    if (need(c, 4, what)) return -1;
    memcpy(v, c->p + c->off, 4);
    c->off += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what) {
    if (need(c, 8, what)) return -1;
    memcpy(v, c->p + c->off, 8);
    c->off += 8;
    return 0;
}

/* A string: u64 length, then the bytes. Returns 0, or -1 when the length itself
 * runs past the end, or -2 when the bytes do (*len says how many), without a
 * message so that callers can say which string. */
static int rd_str_quiet(cursor *c, ur_str *s, uint64_t *len) {
    if (c->size - c->off < 8) return -1;
    memcpy(len, c->p + c->off, 8);
    c->off += 8;
    if (*len > c->size - c->off) return -2;
    s->ptr = (const char *)c->p + c->off;
    s->len = *len;
    c->off += *len;
    return 0;
}

static int str_fail(cursor *c, int rc, uint64_t len, const char *what) {
    char w[128];
    if (rc == -2) return past_end(c, what, len);
    snprintf(w, sizeof w, "the length of %s", what);
    return past_end(c, w, 8);
}

static int rd_str(cursor *c, ur_str *s, const char *what) {
    uint64_t len = 0;
    int rc = rd_str_quiet(c, s, &len);
    return rc ? str_fail(c, rc, len, what) : 0;
}

/* ---- values ---------------------------------------------------------------- */
static int check_bools(cursor *c, const uint8_t *b, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (b[i] > 1)
            return ur_errf(c->err, "%s: %s: bool value %u at offset %llu (expected 0 or 1)", c->path, c->where,
                           b[i], (unsigned long long)(b - c->p + i));
    return 0;
}

static int rd_value(cursor *c, ur_gguf_kv *kv) {
    uint32_t t;
    if (rd_u32(c, &t, "value type")) return -1;
    if (t > UR_GGUF_F64)
        return ur_errf(c->err, "%s: %s: unknown value type %u (expected 0..12)", c->path, c->where, t);
    kv->type = (int)t;
    if (t == UR_GGUF_STRING) return rd_str(c, &kv->str, "string value");
    if (t != UR_GGUF_ARRAY) {
        int sz = ur_gguf_vsize((int)t);
        if (need(c, (uint64_t)sz, ur_gguf_vtype_name((int)t))) return -1;
        kv->data = c->p + c->off;
        c->off += (uint64_t)sz;
        return t == UR_GGUF_BOOL ? check_bools(c, kv->data, 1) : 0;
    }
    uint32_t et;
    uint64_t n;
    if (rd_u32(c, &et, "array element type")) return -1;
    if (et == UR_GGUF_ARRAY)
        return ur_errf(c->err, "%s: %s: nested array (array of arrays) is not supported", c->path, c->where);
    if (et > UR_GGUF_F64)
        return ur_errf(c->err, "%s: %s: unknown array element type %u (expected 0..12, not 9)", c->path,
                       c->where, et);
    if (rd_u64(c, &n, "array length")) return -1;
    kv->arr_type = (int)et;
    kv->arr_n = n;
    uint64_t left = c->size - c->off;
    if (et != UR_GGUF_STRING) {
        uint64_t sz = (uint64_t)ur_gguf_vsize((int)et), bytes;
        if (ur_mul_size(n, sz, &bytes))
            return ur_errf(c->err, "%s: %s: array of %llu %s is larger than any file", c->path, c->where,
                           (unsigned long long)n, ur_gguf_vtype_name((int)et));
        if (bytes > left)
            return ur_errf(c->err, "%s: %s: array of %llu %s needs %llu bytes at offset %llu, but only %llu are "
                           "left in the file", c->path, c->where, (unsigned long long)n,
                           ur_gguf_vtype_name((int)et), (unsigned long long)bytes, (unsigned long long)c->off,
                           (unsigned long long)left);
        kv->data = c->p + c->off;
        c->off += bytes;
        return et == UR_GGUF_BOOL ? check_bools(c, kv->data, n) : 0;
    }
    /* Strings: each needs at least its 8-byte length, which bounds the index size. */
    if (n > left / 8)
        return ur_errf(c->err, "%s: %s: array of %llu strings cannot fit in the %llu bytes left in the file at "
                       "offset %llu (each string takes at least 8)", c->path, c->where, (unsigned long long)n,
                       (unsigned long long)left, (unsigned long long)c->off);
    kv->strs = malloc((size_t)(n ? n : 1) * sizeof *kv->strs);
    if (!kv->strs) return ur_errf(c->err, "%s: %s: out of memory for %llu strings", c->path, c->where,
                                  (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = 0;
        int rc = rd_str_quiet(c, &kv->strs[i], &len);
        if (rc) {
            char w[96];
            snprintf(w, sizeof w, "string %llu of %llu", (unsigned long long)i + 1, (unsigned long long)n);
            return str_fail(c, rc, len, w);
        }
    }
    return 0;
}

/* ---- integer conversion, shared by the getters and general.alignment ------- */
/* Reads an integer kv as sign + magnitude. Returns -1 if not an integer type. */
static int kv_int(const ur_gguf_kv *kv, int *neg, uint64_t *mag) {
    int64_t s = 0;
    uint64_t u = 0;
    int is_signed = 1;
    switch (kv->type) {
    case UR_GGUF_U8: { uint8_t v; memcpy(&v, kv->data, 1); u = v; is_signed = 0; break; }
    case UR_GGUF_U16: { uint16_t v; memcpy(&v, kv->data, 2); u = v; is_signed = 0; break; }
    case UR_GGUF_U32: { uint32_t v; memcpy(&v, kv->data, 4); u = v; is_signed = 0; break; }
    case UR_GGUF_U64: { memcpy(&u, kv->data, 8); is_signed = 0; break; }
    case UR_GGUF_I8: { int8_t v; memcpy(&v, kv->data, 1); s = v; break; }
    case UR_GGUF_I16: { int16_t v; memcpy(&v, kv->data, 2); s = v; break; }
    case UR_GGUF_I32: { int32_t v; memcpy(&v, kv->data, 4); s = v; break; }
    case UR_GGUF_I64: { memcpy(&s, kv->data, 8); break; }
    default: return -1;
    }
    if (is_signed) {
        *neg = s < 0;
        *mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    } else {
        *neg = 0;
        *mag = u;
    }
    return 0;
}

static int is_int_type(int t) {
    return ur_gguf_vsize(t) > 0 && t != UR_GGUF_BOOL && t != UR_GGUF_F32 && t != UR_GGUF_F64;
}

/* ---- tensors --------------------------------------------------------------- */
static int rd_tensor_info(cursor *c, ur_gguf_tensor *t) {
    uint32_t nd, type;
    if (rd_u32(c, &nd, "rank")) return -1;
    if (nd < 1 || nd > 4)
        return ur_errf(c->err, "%s: %s: rank %u (expected 1..4)", c->path, c->where, nd);
    t->n_dims = (int)nd;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t v;
        if (rd_u64(c, &v, "dimension")) return -1;
        if (v == 0 || v > (uint64_t)INT64_MAX)
            return ur_errf(c->err, "%s: %s: dimension %u is %llu (expected 1..2^63-1)", c->path, c->where, d,
                           (unsigned long long)v);
        t->ne[d] = (int64_t)v;
    }
    if (rd_u32(c, &type, "type")) return -1;
    if (rd_u64(c, &t->offset, "data offset")) return -1;
    t->type = (int)type;

    char shape[128];
    int o = 0;
    for (int d = 0; d < t->n_dims; d++)
        o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%lld", d ? ", " : "[", (long long)t->ne[d]);
    snprintf(shape + o, sizeof shape - (size_t)o, "]");

    if (!ur_type_is_weight((int)type)) {
        if (ur_type_block((int)type))
            return ur_errf(c->err, "%s: %s: type %s (%u) is not allowed in a model file", c->path, c->where,
                           ur_type_name((int)type), type);
        return ur_errf(c->err, "%s: %s: unknown tensor type %u (urial reads f32, f16, bf16, q4_0, q8_0, q4_K, "
                       "q5_K, q6_K)", c->path, c->where, type);
    }
    uint64_t n = 1;
    for (int d = 0; d < t->n_dims; d++)
        if (ur_mul_size(n, (uint64_t)t->ne[d], &n) || n > (uint64_t)INT64_MAX)
            return ur_errf(c->err, "%s: %s: shape %s has more than 2^63 elements", c->path, c->where, shape);
    int blk = ur_type_block(t->type);
    if (t->ne[0] % blk)
        return ur_errf(c->err, "%s: %s: shape %s: ne[0] = %lld is not a multiple of the %s block size %d",
                       c->path, c->where, shape, (long long)t->ne[0], ur_type_name(t->type), blk);
    /* elements and blocks fit in int64, so rows * row bytes cannot overflow u64, but check anyway */
    if (ur_mul_size(ur_row_size(t->type, t->ne[0]), n / (uint64_t)t->ne[0], &t->nbytes))
        return ur_errf(c->err, "%s: %s: shape %s: byte size overflows", c->path, c->where, shape);
    return 0;
}

static int check_tensor_data(cursor *c, ur_gguf *g, ur_gguf_tensor *t) {
    uint64_t start, end;
    if (t->offset % g->alignment)
        return ur_errf(c->err, "%s: %s: data offset %llu is not a multiple of the alignment %llu", c->path,
                       c->where, (unsigned long long)t->offset, (unsigned long long)g->alignment);
    if (ur_add_size(g->data_offset, t->offset, &start))
        return ur_errf(c->err, "%s: %s: data offset %llu is past the end of the file (%llu bytes)", c->path,
                       c->where, (unsigned long long)t->offset, (unsigned long long)g->size);
    if (start > g->size)
        return ur_errf(c->err, "%s: %s: data offset %llu (byte %llu) is past the end of the file (%llu bytes)",
                       c->path, c->where, (unsigned long long)t->offset, (unsigned long long)start,
                       (unsigned long long)g->size);
    if (ur_add_size(start, t->nbytes, &end) || end > g->size)
        return ur_errf(c->err, "%s: %s: data [%llu, %llu) runs past the end of the file (%llu bytes)", c->path,
                       c->where, (unsigned long long)start,
                       (unsigned long long)(end < start ? UINT64_MAX : end), (unsigned long long)g->size);
    t->data = g->base + start;
    return 0;
}

/* ---- the parser ------------------------------------------------------------ */
static int parse_header(cursor *c, ur_gguf *g, uint64_t *n_tensors, uint64_t *n_kv) {
    static const uint8_t magic[4] = {'G', 'G', 'U', 'F'};
    char b[64];
    snprintf(c->where, sizeof c->where, "header");
    if (c->size == 0) return ur_errf(c->err, "%s: empty file (0 bytes), not a GGUF model", c->path);
    uint64_t m = c->size < 4 ? c->size : 4;
    if (memcmp(c->p, magic, m))
        return ur_errf(c->err, "%s: not a GGUF file (starts with '%s', expected 'GGUF')", c->path,
                       ur_gguf_esc(c->p, m, b, sizeof b));
    if (c->size < 8)
        return ur_errf(c->err, "%s: truncated GGUF header (%llu bytes; the version alone needs 8)", c->path,
                       (unsigned long long)c->size);
    uint32_t v;
    memcpy(&v, c->p + 4, 4);
    if (v == 1)
        return ur_errf(c->err, "%s: GGUF version 1 is not supported (obsolete; urial reads versions 2 and 3, "
                       "re-convert the model with a current llama.cpp)", c->path);
    if (v == 0x02000000u || v == 0x03000000u)
        return ur_errf(c->err, "%s: big-endian GGUF (version %u byte-swapped) is not supported", c->path,
                       v >> 24);
    if (v != 2 && v != 3)
        return ur_errf(c->err, "%s: unsupported GGUF version %u (urial reads versions 2 and 3)", c->path, v);
    g->version = v;
    if (c->size < 24)
        return ur_errf(c->err, "%s: truncated GGUF header (%llu bytes, need 24)", c->path,
                       (unsigned long long)c->size);
    memcpy(n_tensors, c->p + 8, 8);
    memcpy(n_kv, c->p + 16, 8);
    c->off = 24;
    /* Smallest possible records: a kv is 8 (key length) + 4 (type) + 1 (a u8);
     * a tensor is 8 (name length) + 4 (rank) + 8 (one dim) + 4 (type) + 8 (offset). */
    uint64_t left = c->size - 24;
    if (*n_kv > left / 13)
        return ur_errf(c->err, "%s: header claims %llu key/value pairs, but the %llu bytes after the header hold "
                       "at most %llu (truncated or corrupt file)", c->path, (unsigned long long)*n_kv, (unsigned long long)left,
                       (unsigned long long)(left / 13));
    left -= *n_kv * 13;
    if (*n_tensors > left / 32)
        return ur_errf(c->err, "%s: header claims %llu tensors, but the bytes after the header and key/value "
                       "pairs hold at most %llu (truncated or corrupt file)", c->path, (unsigned long long)*n_tensors,
                       (unsigned long long)(left / 32));
    return 0;
}

static int parse_kvs(cursor *c, gguf_impl *gi) {
    ur_gguf *g = &gi->pub;
    char kb[300];
    gi->kv_cap = idx_cap(g->n_kv);
    gi->kv_idx = calloc((size_t)gi->kv_cap, sizeof *gi->kv_idx);
    g->kv = calloc((size_t)(g->n_kv ? g->n_kv : 1), sizeof *g->kv);
    if (!gi->kv_idx || !g->kv) return ur_errf(c->err, "%s: out of memory", c->path);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        ur_gguf_kv *kv = &g->kv[i];
        snprintf(c->where, sizeof c->where, "kv %llu of %llu", (unsigned long long)i + 1,
                 (unsigned long long)g->n_kv);
        if (rd_str(c, &kv->key, "key")) return -1;
        snprintf(c->where, sizeof c->where, "kv %llu of %llu ('%s')", (unsigned long long)i + 1,
                 (unsigned long long)g->n_kv, ur_gguf_esc(kv->key.ptr, kv->key.len, kb, sizeof kb));
        uint64_t s = idx_slot(gi->kv_idx, gi->kv_cap, (const char *)&g->kv[0].key, sizeof *g->kv, kv->key.ptr,
                              kv->key.len);
        if (gi->kv_idx[s])
            return ur_errf(c->err, "%s: %s: duplicate key (first defined as kv %llu)", c->path, c->where,
                           (unsigned long long)gi->kv_idx[s]);
        gi->kv_idx[s] = i + 1;
        if (rd_value(c, kv)) return -1;
    }
    return 0;
}

static int parse_alignment(cursor *c, ur_gguf *g) {
    g->alignment = 32;
    const ur_gguf_kv *kv = ur_gguf_find(g, "general.alignment");
    if (!kv) return 0;
    int neg;
    uint64_t a;
    if (!is_int_type(kv->type) || kv_int(kv, &neg, &a))
        return ur_errf(c->err, "%s: general.alignment has type %s, expected u32", c->path,
                       ur_gguf_vtype_name(kv->type));
    if (neg || a == 0 || (a & (a - 1)) || a > UINT32_MAX)
        return ur_errf(c->err, "%s: general.alignment is %s%llu, expected a non-zero power of two", c->path,
                       neg ? "-" : "", (unsigned long long)a);
    g->alignment = a;
    return 0;
}

static int parse_tensors(cursor *c, gguf_impl *gi) {
    ur_gguf *g = &gi->pub;
    char nb[300];
    gi->t_cap = idx_cap(g->n_tensors);
    gi->t_idx = calloc((size_t)gi->t_cap, sizeof *gi->t_idx);
    g->tensors = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof *g->tensors);
    if (!gi->t_idx || !g->tensors) return ur_errf(c->err, "%s: out of memory", c->path);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        ur_gguf_tensor *t = &g->tensors[i];
        snprintf(c->where, sizeof c->where, "tensor %llu of %llu", (unsigned long long)i + 1,
                 (unsigned long long)g->n_tensors);
        if (rd_str(c, &t->name, "name")) return -1;
        snprintf(c->where, sizeof c->where, "tensor '%s' (%llu of %llu)",
                 ur_gguf_esc(t->name.ptr, t->name.len, nb, sizeof nb), (unsigned long long)i + 1,
                 (unsigned long long)g->n_tensors);
        uint64_t s = idx_slot(gi->t_idx, gi->t_cap, (const char *)&g->tensors[0].name, sizeof *g->tensors,
                              t->name.ptr, t->name.len);
        if (gi->t_idx[s])
            return ur_errf(c->err, "%s: %s: duplicate tensor name (first defined as tensor %llu)", c->path,
                           c->where, (unsigned long long)gi->t_idx[s]);
        gi->t_idx[s] = i + 1;
        if (rd_tensor_info(c, t)) return -1;
    }
    /* The data section starts after the header, padded to the alignment. A file
     * without tensors may end before that padding (vocab-only files). */
    uint64_t pad = (g->alignment - c->off % g->alignment) % g->alignment;
    if (ur_add_size(c->off, pad, &g->data_offset)) g->data_offset = UINT64_MAX;
    if (g->data_offset > g->size && g->n_tensors > 0)
        return ur_errf(c->err, "%s: the data section would start at byte %llu (header end %llu padded to %llu), "
                       "past the end of the file (%llu bytes)", c->path, (unsigned long long)g->data_offset,
                       (unsigned long long)c->off, (unsigned long long)g->alignment,
                       (unsigned long long)g->size);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        ur_gguf_tensor *t = &g->tensors[i];
        snprintf(c->where, sizeof c->where, "tensor '%s' (%llu of %llu)",
                 ur_gguf_esc(t->name.ptr, t->name.len, nb, sizeof nb), (unsigned long long)i + 1,
                 (unsigned long long)g->n_tensors);
        if (check_tensor_data(c, g, t)) return -1;
    }
    return 0;
}

/* Validates g->base[0..size) and fills g; on failure the caller closes g. */
static int parse(gguf_impl *gi, ur_err *err) {
    ur_gguf *g = &gi->pub;
    cursor c = {.p = g->base, .size = g->size, .off = 0, .path = g->path, .err = err};
    if (parse_header(&c, g, &g->n_tensors, &g->n_kv)) return -1;
    if (parse_kvs(&c, gi)) return -1;
    if (parse_alignment(&c, g)) return -1;
    return parse_tensors(&c, gi);
}

static gguf_impl *new_impl(const char *path, ur_err *err) {
    gguf_impl *gi = calloc(1, sizeof *gi);
    if (gi) gi->pub.path = ur_xstrdup(path ? path : "(buffer)");
    if (!gi || !gi->pub.path) {
        free(gi);
        ur_errf(err, "%s: out of memory", path);
        return NULL;
    }
    return gi;
}

ur_gguf *ur_gguf_parse(const void *buf, size_t size, const char *name, ur_err *err) {
    gguf_impl *gi = new_impl(name, err);
    if (!gi) return NULL;
    gi->pub.base = buf;
    gi->pub.size = size;
    if (parse(gi, err)) {
        ur_gguf_close(&gi->pub);
        return NULL;
    }
    return &gi->pub;
}

ur_gguf *ur_gguf_open(const char *path, ur_err *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block the open: fstat first */
    if (fd < 0) {
        ur_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st)) {
        ur_errf(err, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
        ur_errf(err, "%s: %s, expected a GGUF file", path, S_ISDIR(st.st_mode) ? "is a directory" :
                "not a regular file");
        close(fd);
        return NULL;
    }
    if (st.st_size == 0) {
        close(fd);
        ur_errf(err, "%s: empty file (0 bytes), not a GGUF model", path);
        return NULL;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int merr = errno;
    close(fd); /* the mapping keeps the file alive */
    if (m == MAP_FAILED) {
        ur_errf(err, "%s: cannot map %lld bytes: %s", path, (long long)st.st_size, strerror(merr));
        return NULL;
    }
    gguf_impl *gi = new_impl(path, err);
    if (!gi) {
        munmap(m, (size_t)st.st_size);
        return NULL;
    }
    gi->pub.base = m;
    gi->pub.size = (size_t)st.st_size;
    gi->pub.mapped = 1;
    if (parse(gi, err)) {
        ur_gguf_close(&gi->pub);
        return NULL;
    }
    return &gi->pub;
}

void ur_gguf_close(ur_gguf *g) {
    if (!g) return;
    gguf_impl *gi = (gguf_impl *)g;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) free(g->kv[i].strs);
    free(g->kv);
    free(g->tensors);
    free(gi->kv_idx);
    free(gi->t_idx);
    if (g->mapped) munmap((void *)g->base, g->size);
    free(g->path);
    free(gi);
}

/* ---- lookups and typed getters --------------------------------------------- */
const ur_gguf_kv *ur_gguf_find(const ur_gguf *g, const char *key) {
    const gguf_impl *gi = (const gguf_impl *)g;
    if (!gi->kv_idx) return NULL;
    uint64_t s = idx_slot(gi->kv_idx, gi->kv_cap, (const char *)&g->kv[0].key, sizeof *g->kv, key, strlen(key));
    return gi->kv_idx[s] ? &g->kv[gi->kv_idx[s] - 1] : NULL;
}

const ur_gguf_tensor *ur_gguf_find_tensor(const ur_gguf *g, const char *name) {
    const gguf_impl *gi = (const gguf_impl *)g;
    if (!gi->t_idx) return NULL;
    uint64_t s = idx_slot(gi->t_idx, gi->t_cap, (const char *)&g->tensors[0].name, sizeof *g->tensors, name,
                          strlen(name));
    return gi->t_idx[s] ? &g->tensors[gi->t_idx[s] - 1] : NULL;
}

static int wrong_type(const ur_gguf *g, const ur_gguf_kv *kv, const char *expected, ur_err *err) {
    char kb[300];
    if (kv->type == UR_GGUF_ARRAY)
        return ur_errf(err, "%s: key '%s' has type array of %s, expected %s", g->path,
                       ur_gguf_esc(kv->key.ptr, kv->key.len, kb, sizeof kb), ur_gguf_vtype_name(kv->arr_type),
                       expected);
    return ur_errf(err, "%s: key '%s' has type %s, expected %s", g->path,
                   ur_gguf_esc(kv->key.ptr, kv->key.len, kb, sizeof kb), ur_gguf_vtype_name(kv->type), expected);
}

static int out_of_range(const ur_gguf *g, const ur_gguf_kv *kv, int neg, uint64_t mag, const char *to,
                        ur_err *err) {
    char kb[300];
    return ur_errf(err, "%s: key '%s' = %s%llu does not fit in %s", g->path,
                   ur_gguf_esc(kv->key.ptr, kv->key.len, kb, sizeof kb), neg ? "-" : "", (unsigned long long)mag,
                   to);
}

int ur_gguf_get_u32(const ur_gguf *g, const char *key, uint32_t *out, ur_err *err) {
    const ur_gguf_kv *kv = ur_gguf_find(g, key);
    int neg;
    uint64_t mag;
    if (!kv) return 1;
    if (!is_int_type(kv->type) || kv_int(kv, &neg, &mag)) return wrong_type(g, kv, "u32 (or another integer)", err);
    if (neg || mag > UINT32_MAX) return out_of_range(g, kv, neg, mag, "u32", err);
    *out = (uint32_t)mag;
    return 0;
}

int ur_gguf_get_i64(const ur_gguf *g, const char *key, int64_t *out, ur_err *err) {
    const ur_gguf_kv *kv = ur_gguf_find(g, key);
    int neg;
    uint64_t mag;
    if (!kv) return 1;
    if (!is_int_type(kv->type) || kv_int(kv, &neg, &mag)) return wrong_type(g, kv, "i64 (or another integer)", err);
    if (!neg && mag > (uint64_t)INT64_MAX) return out_of_range(g, kv, neg, mag, "i64", err);
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

int ur_gguf_get_f32(const ur_gguf *g, const char *key, float *out, ur_err *err) {
    const ur_gguf_kv *kv = ur_gguf_find(g, key);
    if (!kv) return 1;
    if (kv->type == UR_GGUF_F32) {
        memcpy(out, kv->data, 4);
    } else if (kv->type == UR_GGUF_F64) {
        double d;
        memcpy(&d, kv->data, 8);
        *out = (float)d;
    } else {
        return wrong_type(g, kv, "f32 or f64", err);
    }
    return 0;
}

int ur_gguf_get_bool(const ur_gguf *g, const char *key, int *out, ur_err *err) {
    const ur_gguf_kv *kv = ur_gguf_find(g, key);
    if (!kv) return 1;
    if (kv->type != UR_GGUF_BOOL) return wrong_type(g, kv, "bool", err);
    *out = kv->data[0] != 0;
    return 0;
}

int ur_gguf_get_str(const ur_gguf *g, const char *key, ur_str *out, ur_err *err) {
    const ur_gguf_kv *kv = ur_gguf_find(g, key);
    if (!kv) return 1;
    if (kv->type != UR_GGUF_STRING) return wrong_type(g, kv, "string", err);
    *out = kv->str;
    return 0;
}

int ur_gguf_get_arr(const ur_gguf *g, const char *key, int elem_type, const ur_gguf_kv **out, ur_err *err) {
    const ur_gguf_kv *kv = ur_gguf_find(g, key);
    if (!kv) return 1;
    if (kv->type != UR_GGUF_ARRAY || kv->arr_type != elem_type) {
        char want[64];
        snprintf(want, sizeof want, "array of %s", ur_gguf_vtype_name(elem_type));
        return wrong_type(g, kv, want, err);
    }
    *out = kv;
    return 0;
}
