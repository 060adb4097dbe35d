/* urial — GGUF, the only model format urial reads and writes.
 *
 * Reading: the file is mmap'ed read-only and fully validated up front (magic,
 * version 2 or 3, counts, string/array lengths against the bytes that remain,
 * value types, tensor rank 1..4 and dims > 0 with overflow-safe element counts,
 * tensor types urial knows, row sizes that are whole blocks, data offsets that
 * are aligned and inside the data section, the data section inside the file).
 * After ur_gguf_open() succeeds, every pointer it hands out is in bounds.
 * Strings point into the mapping and are NOT NUL-terminated (use len).
 *
 * Writing: collect metadata and tensors, then write the whole file at once
 * (to PATH.tmp, fsync, rename) so a crash never leaves a half file at PATH. */
#ifndef URIAL_GGUF_H
#define URIAL_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"

/* GGUF metadata value types (file format ids). */
enum ur_gguf_vtype {
    UR_GGUF_U8 = 0, UR_GGUF_I8 = 1, UR_GGUF_U16 = 2, UR_GGUF_I16 = 3,
    UR_GGUF_U32 = 4, UR_GGUF_I32 = 5, UR_GGUF_F32 = 6, UR_GGUF_BOOL = 7,
    UR_GGUF_STRING = 8, UR_GGUF_ARRAY = 9, UR_GGUF_U64 = 10, UR_GGUF_I64 = 11,
    UR_GGUF_F64 = 12,
};

typedef struct ur_str {
    const char *ptr; /* into the mapping; not NUL-terminated */
    uint64_t len;
} ur_str;

typedef struct ur_gguf_kv {
    ur_str key;
    int type;            /* enum ur_gguf_vtype */
    /* scalars: `data` points at the little-endian value in the mapping.
     * strings: `str` is the value.
     * arrays:  `arr_type` is the element type, `arr_n` the count; for numeric
     *          elements `data` points at the packed elements; for string
     *          elements `strs[i]` are the strings (an index built at open).
     *          Nested arrays are rejected at open.
     * `data` need not be aligned for its type: read values with memcpy. */
    const uint8_t *data;
    ur_str str;
    int arr_type;
    uint64_t arr_n;
    ur_str *strs;
} ur_gguf_kv;

typedef struct ur_gguf_tensor {
    ur_str name;
    int n_dims;          /* 1..4 */
    int64_t ne[4];       /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    int type;            /* enum ur_type (urial/tensor.h), i.e. the ggml type id */
    uint64_t offset;     /* relative to the data section */
    uint64_t nbytes;     /* bytes of data */
    const void *data;    /* into the mapping */
} ur_gguf_tensor;

typedef struct ur_gguf {
    char *path;          /* as given to ur_gguf_open (owned copy) */
    const uint8_t *base; /* the mapping (or caller's buffer for ur_gguf_parse) */
    size_t size;
    uint32_t version;
    uint64_t n_kv;
    ur_gguf_kv *kv;
    uint64_t n_tensors;
    ur_gguf_tensor *tensors;
    uint64_t alignment;  /* general.alignment or 32 */
    uint64_t data_offset;/* start of the tensor data section in the file */
    int mapped;          /* 1 if base must be munmap'ed */
} ur_gguf;

/* Open and validate. On failure returns NULL and err says "PATH: what is wrong". */
ur_gguf *ur_gguf_open(const char *path, ur_err *err);
/* Same validation over a caller-owned buffer (fuzzing, tests); `name` is used in messages. */
ur_gguf *ur_gguf_parse(const void *buf, size_t size, const char *name, ur_err *err);
void ur_gguf_close(ur_gguf *g);

const ur_gguf_kv *ur_gguf_find(const ur_gguf *g, const char *key);
const ur_gguf_tensor *ur_gguf_find_tensor(const ur_gguf *g, const char *name);

/* Typed getters. Return 0 and set *out when the key exists and converts
 * losslessly (any integer type to the requested integer type if in range; F32/F64
 * to float/double), 1 when the key is absent (out untouched), -1 with err set
 * ("PATH: key 'K' has type T, expected ...") when present with the wrong type. */
int ur_gguf_get_u32(const ur_gguf *g, const char *key, uint32_t *out, ur_err *err);
int ur_gguf_get_i64(const ur_gguf *g, const char *key, int64_t *out, ur_err *err);
int ur_gguf_get_f32(const ur_gguf *g, const char *key, float *out, ur_err *err);
int ur_gguf_get_bool(const ur_gguf *g, const char *key, int *out, ur_err *err);
int ur_gguf_get_str(const ur_gguf *g, const char *key, ur_str *out, ur_err *err);
/* Array getter: checks element type and sets the kv pointer. */
int ur_gguf_get_arr(const ur_gguf *g, const char *key, int elem_type, const ur_gguf_kv **out, ur_err *err);

const char *ur_gguf_vtype_name(int type);

/* ---- writer ---------------------------------------------------------------- */
typedef struct ur_gguf_writer ur_gguf_writer;

ur_gguf_writer *ur_gguf_writer_new(void);
void ur_gguf_writer_free(ur_gguf_writer *w);
/* Metadata, written in insertion order; setting an existing key replaces it. */
void ur_gguf_w_u32(ur_gguf_writer *w, const char *key, uint32_t v);
void ur_gguf_w_i32(ur_gguf_writer *w, const char *key, int32_t v);
void ur_gguf_w_u64(ur_gguf_writer *w, const char *key, uint64_t v);
void ur_gguf_w_f32(ur_gguf_writer *w, const char *key, float v);
void ur_gguf_w_bool(ur_gguf_writer *w, const char *key, int v);
void ur_gguf_w_str(ur_gguf_writer *w, const char *key, const char *v);
void ur_gguf_w_str_n(ur_gguf_writer *w, const char *key, const char *v, size_t n);
/* Numeric arrays: elements are copied. */
void ur_gguf_w_arr(ur_gguf_writer *w, const char *key, int elem_type, const void *elems, uint64_t n);
/* String arrays: strings are copied (NUL-terminated, or with lens when lens != NULL). */
void ur_gguf_w_arr_str(ur_gguf_writer *w, const char *key, const char *const *strs, const size_t *lens, uint64_t n);
/* Remove a key (nothing when absent). */
void ur_gguf_w_remove(ur_gguf_writer *w, const char *key);
/* A writer holding every kv and tensor of g (the tensor data stays g's: keep g open
 * until ur_gguf_write), e.g. to write a model again with a few keys changed. */
ur_gguf_writer *ur_gguf_writer_from(const ur_gguf *g, ur_err *err);
/* Copy one kv (any type, arrays included) from an open file, e.g. the tokenizer of another model. */
void ur_gguf_w_copy_kv(ur_gguf_writer *w, const ur_gguf_kv *kv);
/* Tensors: `data` is NOT copied and must stay valid until ur_gguf_write(); nbytes
 * must equal the type's row size times the row count. Returns -1 on bad shape. */
int ur_gguf_w_tensor(ur_gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne,
                     const void *data, uint64_t nbytes, ur_err *err);
/* A tensor whose bytes are produced at write time, one tensor at a time (streaming:
 * a writer of such tensors holds one tensor's bytes at once, not the model's):
 * fill(arg, dst, nbytes, err) writes the nbytes the shape and type imply into dst
 * and returns 0, or -1 with err set, which ends ur_gguf_write with that error. */
typedef int (*ur_gguf_fill_fn)(void *arg, void *dst, uint64_t nbytes, ur_err *err);
int ur_gguf_w_tensor_fill(ur_gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne,
                          ur_gguf_fill_fn fill, void *arg, ur_err *err);
/* Write a GGUF v3 file with alignment general.alignment (default 32). */
int ur_gguf_write(ur_gguf_writer *w, const char *path, ur_err *err);

#endif
