/* safetensors files (Hugging Face's weight format), read-only and mapped: an 8-byte
 * little-endian header length N, N bytes of JSON {"name": {"dtype", "shape",
 * "data_offsets": [begin, end]}, "__metadata__": {...}}, then the data, offsets
 * relative to its start. A checkpoint is one model.safetensors or shards named by
 * model.safetensors.index.json's "weight_map". Everything is validated at open:
 * offsets inside the file, sizes that match dtype x shape, no tensor twice. */
#include "model/safetensors.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "urial/tensor.h"

typedef struct st_map {
    char *path;
    void *base;
    size_t size;
} st_map;

struct st_set {
    st_map *maps;
    int n_maps;
    st_tensor *t;
    int n, cap;
};

static int dtype_of(const char *s, int *type, int *size) {
    if (!strcmp(s, "F32")) return *type = UR_TYPE_F32, *size = 4, 0;
    if (!strcmp(s, "F16")) return *type = UR_TYPE_F16, *size = 2, 0;
    if (!strcmp(s, "BF16")) return *type = UR_TYPE_BF16, *size = 2, 0;
    return -1;
}

static int add_tensor(st_set *s, const char *path, const char *name, json_t *v, const uint8_t *data, uint64_t avail,
                      ur_err *err) {
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *off = json_object_get(v, "data_offsets");
    int type, esize;
    if (!json_is_string(dt) || !json_is_array(sh) || json_array_size(sh) > 4 || !json_is_array(off) ||
        json_array_size(off) != 2)
        return ur_errf(err, "%s: tensor '%.80s': needs \"dtype\", \"shape\" (at most 4 dims) and \"data_offsets\"", path,
                       name);
    if (dtype_of(json_string_value(dt), &type, &esize))
        return ur_errf(err, "%s: tensor '%.80s': dtype %s is not supported (F32, F16, BF16)", path, name,
                       json_string_value(dt));
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->t[i].name, name)) return ur_errf(err, "%s: tensor '%.80s' appears twice", path, name);
    st_tensor t = {0};
    t.type = type;
    t.n_dims = (int)json_array_size(sh);
    uint64_t numel = 1;
    for (int d = 0; d < t.n_dims; d++) {
        json_t *x = json_array_get(sh, (size_t)d);
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > (1ll << 40))
            return ur_errf(err, "%s: tensor '%.80s': bad shape", path, name);
        t.shape[d] = json_integer_value(x);
        numel *= (uint64_t)t.shape[d];
        if (numel > (1ull << 40)) return ur_errf(err, "%s: tensor '%.80s': too large", path, name);
    }
    json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b) || (uint64_t)json_integer_value(e) > avail)
        return ur_errf(err, "%s: tensor '%.80s': data_offsets outside the file", path, name);
    t.nbytes = (uint64_t)(json_integer_value(e) - json_integer_value(b));
    if (t.nbytes != numel * (uint64_t)esize)
        return ur_errf(err, "%s: tensor '%.80s': %llu bytes for %llu elements of %s", path, name,
                       (unsigned long long)t.nbytes, (unsigned long long)numel, json_string_value(dt));
    t.data = data + json_integer_value(b);
    t.name = ur_xstrdup(name);
    t.file = path;
    if (s->n == s->cap) s->t = ur_xrealloc(s->t, sizeof *s->t * (size_t)(s->cap = s->cap ? 2 * s->cap : 64));
    s->t[s->n++] = t;
    return 0;
}

/* Map one file and add its tensors. */
static int open_file(st_set *s, const char *path, ur_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
        if (fd >= 0) close(fd);
        return ur_errf(err, "%s: cannot open", path);
    }
    void *base = sb.st_size ? mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (base == MAP_FAILED) return ur_errf(err, "%s: cannot map (empty or unreadable)", path);
    s->maps = ur_xrealloc(s->maps, sizeof *s->maps * (size_t)(s->n_maps + 1));
    st_map *m = &s->maps[s->n_maps++];
    m->path = ur_xstrdup(path), m->base = base, m->size = (size_t)sb.st_size;
    uint64_t hlen = 0;
    if (m->size < 8 || (memcpy(&hlen, base, 8), hlen > m->size - 8))
        return ur_errf(err, "%s: not a safetensors file (header length)", path);
    json_error_t je;
    json_t *h = json_loadb((const char *)base + 8, (size_t)hlen, 0, &je);
    if (!json_is_object(h)) {
        json_decref(h);
        return ur_errf(err, "%s: not a safetensors file (header: %s)", path, je.text);
    }
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(h, k, v) {
        if (!strcmp(k, "__metadata__")) continue;
        if ((rc = add_tensor(s, m->path, k, v, (const uint8_t *)base + 8 + hlen, m->size - 8 - hlen, err))) break;
    }
    json_decref(h);
    return rc;
}

static char *join(const char *dir, const char *name) {
    ur_buf b = {0};
    ur_buf_printf(&b, "%s/%s", dir, name);
    return b.data;
}

/* model.safetensors.index.json's shards, each once, in first-mention order. */
static int open_index(st_set *s, const char *dir, const char *index, ur_err *err) {
    json_error_t je;
    json_t *j = json_load_file(index, 0, &je), *wm = json_object_get(j, "weight_map");
    if (!json_is_object(wm)) {
        json_decref(j);
        return ur_errf(err, "%s: no \"weight_map\" object (%s)", index, j ? "missing" : je.text);
    }
    json_t *seen = json_object(), *v;
    const char *k;
    int rc = 0;
    json_object_foreach(wm, k, v) {
        const char *f = json_string_value(v);
        if (!f || strchr(f, '/')) {
            rc = ur_errf(err, "%s: weight_map[\"%.80s\"] is not a file name in the directory", index, k);
            break;
        }
        if (json_object_get(seen, f)) continue;
        json_object_set_new(seen, f, json_true());
        char *path = join(dir, f);
        rc = open_file(s, path, err);
        free(path);
        if (rc) break;
    }
    json_decref(seen);
    json_decref(j);
    return rc;
}

st_set *st_open_dir(const char *dir, ur_err *err) {
    st_set *s = ur_xcalloc(1, sizeof *s);
    char *index = join(dir, "model.safetensors.index.json"), *single = join(dir, "model.safetensors");
    int rc;
    if (access(index, F_OK) == 0) rc = open_index(s, dir, index, err);
    else if (access(single, F_OK) == 0) rc = open_file(s, single, err);
    else rc = ur_errf(err, "%s: no model.safetensors or model.safetensors.index.json", dir);
    free(index);
    free(single);
    if (rc) {
        st_close(s);
        return NULL;
    }
    return s;
}

void st_close(st_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n_maps; i++) {
        munmap(s->maps[i].base, s->maps[i].size);
        free(s->maps[i].path);
    }
    for (int i = 0; i < s->n; i++) free(s->t[i].name);
    free(s->maps);
    free(s->t);
    free(s);
}

int st_count(const st_set *s) { return s->n; }
const st_tensor *st_get(const st_set *s, int i) { return &s->t[i]; }

const st_tensor *st_find(const st_set *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->t[i].name, name)) return &s->t[i];
    return NULL;
}
