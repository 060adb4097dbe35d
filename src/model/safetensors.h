/* safetensors reading for `urial convert` (safetensors.c). Not a public header. */
#ifndef URIAL_MODEL_SAFETENSORS_H
#define URIAL_MODEL_SAFETENSORS_H

#include <stdint.h>

#include "urial/base.h"

typedef struct st_tensor {
    char *name;
    int type;          /* UR_TYPE_F32, F16 or BF16 */
    int n_dims;
    int64_t shape[4];  /* row-major: shape[n_dims - 1] is contiguous */
    const uint8_t *data;
    uint64_t nbytes;
    const char *file;
} st_tensor;

typedef struct st_set st_set;

/* The checkpoint in dir: model.safetensors.index.json's shards or model.safetensors. */
st_set *st_open_dir(const char *dir, ur_err *err);
void st_close(st_set *s);
int st_count(const st_set *s);
const st_tensor *st_get(const st_set *s, int i);
const st_tensor *st_find(const st_set *s, const char *name);

#endif
