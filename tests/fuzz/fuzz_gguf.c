/* libFuzzer target for the GGUF reader (make fuzz).
 *
 * Parses the input with ur_gguf_parse, then uses everything it returns the way a
 * consumer would: every typed getter on every key, every string and string-array
 * element, the first and last byte of every numeric array and tensor, lookups by
 * name. libFuzzer hands us an exact-size heap buffer, so ASan reports any read
 * past the end; the invariants below trap when violated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "urial/gguf.h"
#include "urial/tensor.h"

static volatile uint8_t sink;

#define ASSERT(c)                   \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

static void touch(const void *p, uint64_t n) {
    const volatile uint8_t *b = p;
    if (n) sink ^= b[0] ^ b[n - 1];
}

static void use_kv(const ur_gguf *g, const ur_gguf_kv *kv) {
    ur_err err;
    char *key = malloc(kv->key.len + 1);
    ASSERT(key);
    memcpy(key, kv->key.ptr, kv->key.len);
    key[kv->key.len] = 0;
    /* lookups by C string work unless the key has a NUL inside */
    if (!memchr(kv->key.ptr, 0, kv->key.len)) ASSERT(ur_gguf_find(g, key) == kv);

    uint32_t u;
    int64_t i;
    float f;
    int b;
    ur_str s;
    const ur_gguf_kv *a;
    int rcs[6] = {ur_gguf_get_u32(g, key, &u, &err), ur_gguf_get_i64(g, key, &i, &err),
                  ur_gguf_get_f32(g, key, &f, &err), ur_gguf_get_bool(g, key, &b, &err),
                  ur_gguf_get_str(g, key, &s, &err),
                  ur_gguf_get_arr(g, key, kv->arr_type, &a, &err)};
    for (int k = 0; k < 6; k++) {
        ASSERT(rcs[k] >= -1 && rcs[k] <= 1);
        if (rcs[k] == -1) ASSERT(!strchr(err.msg, '\n'));
    }
    if (rcs[4] == 0) touch(s.ptr, s.len);
    if (kv->type == UR_GGUF_STRING) touch(kv->str.ptr, kv->str.len);
    if (kv->type == UR_GGUF_ARRAY) {
        if (kv->arr_type == UR_GGUF_STRING) {
            for (uint64_t k = 0; k < kv->arr_n; k++) touch(kv->strs[k].ptr, kv->strs[k].len);
        } else {
            uint64_t sz = kv->arr_type == UR_GGUF_U8 || kv->arr_type == UR_GGUF_I8 || kv->arr_type == UR_GGUF_BOOL ? 1
                        : kv->arr_type == UR_GGUF_U16 || kv->arr_type == UR_GGUF_I16                               ? 2
                        : kv->arr_type == UR_GGUF_U64 || kv->arr_type == UR_GGUF_I64 ||
                                  kv->arr_type == UR_GGUF_F64                                                      ? 8 : 4;
            touch(kv->data, kv->arr_n * sz);
        }
    } else if (kv->type != UR_GGUF_STRING) {
        touch(kv->data, 1);
    }
    free(key);
}

static void use_tensor(const ur_gguf *g, const ur_gguf_tensor *t) {
    ASSERT(t->n_dims >= 1 && t->n_dims <= 4);
    ASSERT(ur_type_is_weight(t->type));
    uint64_t rows = 1;
    for (int d = 0; d < 4; d++) {
        ASSERT(t->ne[d] >= 1);
        if (d) rows *= (uint64_t)t->ne[d];
    }
    ASSERT(t->ne[0] % ur_type_block(t->type) == 0);
    ASSERT(t->nbytes == ur_row_size(t->type, t->ne[0]) * rows);
    ASSERT(t->offset % g->alignment == 0);
    ASSERT((const uint8_t *)t->data >= g->base && (const uint8_t *)t->data + t->nbytes <= g->base + g->size);
    touch(t->data, t->nbytes);
    char name[128];
    if (t->name.len < sizeof name && !memchr(t->name.ptr, 0, t->name.len)) {
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = 0;
        ASSERT(ur_gguf_find_tensor(g, name) == t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ur_err err;
    err.msg[0] = 0;
    ur_gguf *g = ur_gguf_parse(data, size, "fuzz.gguf", &err);
    if (!g) {
        ASSERT(!strncmp(err.msg, "fuzz.gguf: ", 11) && !strchr(err.msg, '\n'));
        return 0;
    }
    ASSERT(g->version == 2 || g->version == 3);
    ASSERT(g->alignment && !(g->alignment & (g->alignment - 1)));
    for (uint64_t k = 0; k < g->n_kv; k++) use_kv(g, &g->kv[k]);
    for (uint64_t k = 0; k < g->n_tensors; k++) use_tensor(g, &g->tensors[k]);
    ur_gguf_find(g, "general.architecture");
    ur_gguf_find_tensor(g, "token_embd.weight");
    ur_gguf_close(g);
    return 0;
}
