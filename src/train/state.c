/* The training state (out_dir/state.gguf), written atomically with the GGUF
 * writer: the parameter buffer, the AdamW moments, the step, the running epoch
 * statistics, and a fingerprint of everything that decides the computation (so
 * --resume refuses to continue a run under other settings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer.h"

/* A checksum of the three tensors (a corrupted or edited state is refused on resume):
 * 64-bit words mixed in order, then the tail bytes; fast enough for GBs of state. */
static uint64_t state_sum(const void *const *data, const uint64_t *bytes, int n) {
    uint64_t h = UR_HASH64_INIT;
    for (int k = 0; k < n; k++) {
        const unsigned char *p = data[k];
        uint64_t i = 0, w;
        for (; i + 8 <= bytes[k]; i += 8) {
            memcpy(&w, p + i, 8);
            h = (h ^ w) * 0x9E3779B97F4A7C15ull;
            h ^= h >> 29;
        }
        h = ur_hash64(p + i, (size_t)(bytes[k] - i), h);
    }
    return h;
}

int tr_state_save(const char *path, const ur_tnet *n, const float *m, const float *v, const tr_progress *p,
                  const char *fingerprint, ur_err *err) {
    ur_gguf_writer *w = ur_gguf_writer_new();
    char num[64];
    ur_gguf_w_str(w, "general.architecture", "urial-train-state");
    ur_gguf_w_u64(w, "train.step", (uint64_t)p->step);
    snprintf(num, sizeof num, "%.17g", p->epoch_nll);
    ur_gguf_w_str(w, "train.epoch_nll", num);
    ur_gguf_w_u64(w, "train.epoch_targets", (uint64_t)p->epoch_targets);
    ur_gguf_w_str(w, "train.fingerprint", fingerprint);
    int64_t ne[1] = {(int64_t)n->n_params};
    const uint64_t bytes = sizeof(float) * n->n_params;
    const void *data[3] = {n->params, m, v};
    const uint64_t nb[3] = {bytes, bytes, bytes};
    snprintf(num, sizeof num, "%016llx", (unsigned long long)state_sum(data, nb, 3));
    ur_gguf_w_str(w, "train.checksum", num);
    int rc = ur_gguf_w_tensor(w, "params", 0, 1, ne, n->params, bytes, err);
    if (!rc) rc = ur_gguf_w_tensor(w, "adam.m", 0, 1, ne, m, bytes, err);
    if (!rc) rc = ur_gguf_w_tensor(w, "adam.v", 0, 1, ne, v, bytes, err);
    if (!rc) rc = ur_gguf_write(w, path, err);
    ur_gguf_writer_free(w);
    return rc;
}

/* The first "key=value" of a that differs in b, for the error message. */
static void first_diff(const char *a, const char *b, char *out, size_t n) {
    while (*a || *b) {
        size_t la = strcspn(a, ";"), lb = strcspn(b, ";");
        if (la != lb || memcmp(a, b, la)) {
            snprintf(out, n, "'%.*s' now, '%.*s' in the state", (int)la, a, (int)lb, b);
            return;
        }
        a += la + (a[la] == ';');
        b += lb + (b[lb] == ';');
    }
    snprintf(out, n, "?");
}

/* The state's checksum against its tensors (states written before the checksum have none). */
static int state_check(const ur_gguf *g, const ur_gguf_tensor *const *ts, const char *path, ur_err *err) {
    ur_str want = {0};
    const int got = ur_gguf_get_str(g, "train.checksum", &want, NULL);
    if (got == 1) return 0;
    if (got != 0) return ur_errf(err, "%s: train.checksum is not a string", path);
    const void *data[3] = {ts[0]->data, ts[1]->data, ts[2]->data};
    const uint64_t nb[3] = {ts[0]->nbytes, ts[1]->nbytes, ts[2]->nbytes};
    char sum[32];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)state_sum(data, nb, 3));
    if (want.len != strlen(sum) || memcmp(want.ptr, sum, want.len))
        return ur_errf(err, "%s: checksum mismatch: the training state is corrupt (resume from a copy, or --overwrite)",
                       path);
    return 0;
}

int tr_state_load(const char *path, ur_tnet *n, float *m, float *v, tr_progress *p, const char *fingerprint,
                  ur_err *err) {
    ur_gguf *g = ur_gguf_open(path, err);
    if (!g) return -1;
    int rc = -1;
    ur_str fp = {0}, nll = {0};
    uint64_t step = 0, tg = 0;
    int64_t istep = 0, itg = 0;
    if (ur_gguf_get_str(g, "train.fingerprint", &fp, err) != 0 || ur_gguf_get_i64(g, "train.step", &istep, err) != 0 ||
        ur_gguf_get_str(g, "train.epoch_nll", &nll, err) != 0 ||
        ur_gguf_get_i64(g, "train.epoch_targets", &itg, err) != 0) {
        ur_errf(err, "%s: not a urial training state (missing train.* keys)", path);
        goto out;
    }
    step = (uint64_t)istep, tg = (uint64_t)itg;
    char *have = ur_xstrndup(fp.ptr, fp.len);
    if (strcmp(have, fingerprint)) {
        char d[600];
        first_diff(fingerprint, have, d, sizeof d);
        ur_errf(err, "%s: the run was started with other settings (%s); resume with the same command", path, d);
        free(have);
        goto out;
    }
    free(have);
    const char *names[3] = {"params", "adam.m", "adam.v"};
    float *dst[3] = {n->params, m, v};
    const ur_gguf_tensor *ts[3];
    for (int i = 0; i < 3; i++) {
        const ur_gguf_tensor *t = ts[i] = ur_gguf_find_tensor(g, names[i]);
        if (!t || t->type != 0 || t->nbytes != sizeof(float) * n->n_params) {
            ur_errf(err, "%s: tensor '%s' is missing or has the wrong size", path, names[i]);
            goto out;
        }
    }
    if (state_check(g, ts, path, err)) goto out;
    for (int i = 0; i < 3; i++) memcpy(dst[i], ts[i]->data, ts[i]->nbytes);
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)(nll.len < 63 ? nll.len : 63), nll.ptr);
    p->step = (int64_t)step;
    p->epoch_nll = strtod(buf, NULL);
    p->epoch_targets = (int64_t)tg;
    rc = 0;
out:
    ur_gguf_close(g);
    return rc;
}
