/* Logits against llama.cpp. tests/ref/gen_logits.sh recorded, for random-weight
 * models of every weight type and both architectures, llama.cpp's teacher-forced
 * top-10 logits at 160 positions; this test regenerates each model bit for bit
 * with ur_synth_write, runs one batched forward, and compares:
 *   - argmax agreement at >= 99% of positions (per weight type, over all files);
 *   - the largest logit difference over llama.cpp's top-10 ids at every position,
 *     relative to the largest |logit| of the file, within a bound per type.
 * It prints the figures it measured as INFO lines. */
#include <dirent.h>
#include <math.h>

#include "harness.h"
#include "ref_logits.h"
#include "urial/model.h"
#include "urial/tensor.h"

#define MAXPOS REF_MAXPOS

typedef struct {
    ur_synth_params sp;
    char arch[16];
    ref_rows rows;
} ref_file;

static int parse_type(const char *v) {
    const int ids[] = {UR_TYPE_F32, UR_TYPE_F16, UR_TYPE_BF16, UR_TYPE_Q4_0, UR_TYPE_Q8_0, UR_TYPE_Q4_K, UR_TYPE_Q5_K, UR_TYPE_Q6_K};
    for (int i = 0; i < 8; i++)
        if (!strcmp(v, ur_type_name(ids[i]))) return ids[i];
    return -1;
}

/* Parse "# synth --arch A --type T ..." (the urial synth options the specs use) */
static int parse_synth(ref_file *r, char *line) {
    ur_synth_defaults(&r->sp);
    char *save = NULL;
    strtok_r(line, " \n", &save); /* # */
    strtok_r(NULL, " \n", &save); /* synth */
    for (char *a = strtok_r(NULL, " \n", &save); a; a = strtok_r(NULL, " \n", &save)) {
        if (!strcmp(a, "--tied")) { r->sp.tied = 1; continue; }
        if (!strcmp(a, "--rope-freqs")) { r->sp.rope_freqs = 1; continue; }
        if (!strcmp(a, "--llama3-rope")) { r->sp.llama3_rope = 1; continue; }
        if (!strcmp(a, "--unfused")) { r->sp.unfused = 1; continue; }
        char *v = strtok_r(NULL, " \n", &save);
        if (!v) return -1;
        struct { const char *name; int *dst; } ints[] = {
            {"--heads", &r->sp.n_heads},     {"--kv-heads", &r->sp.n_kv_heads}, {"--layers", &r->sp.n_layers},
            {"--dim", &r->sp.dim},           {"--ff", &r->sp.ff},               {"--ctx", &r->sp.n_ctx},
            {"--head-dim", &r->sp.head_dim}, {"--window", &r->sp.swa_window},   {"--longrope", &r->sp.longrope_orig}};
        struct { const char *name; float *dst; } floats[] = {{"--rope-base", &r->sp.rope_base},
                                                             {"--rope-scale", &r->sp.rope_scale},
                                                             {"--attn-softcap", &r->sp.attn_softcap},
                                                             {"--final-softcap", &r->sp.final_softcap}};
        int done = 0;
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
            if (!strcmp(a, ints[i].name)) *ints[i].dst = atoi(v), done = 1;
        for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
            if (!strcmp(a, floats[i].name)) *floats[i].dst = strtof(v, NULL), done = 1;
        if (done) continue;
        if (!strcmp(a, "--arch")) snprintf(r->arch, sizeof r->arch, "%s", v), r->sp.arch = r->arch;
        else if (!strcmp(a, "--seed")) r->sp.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--type") || !strcmp(a, "--output-type")) {
            int t = parse_type(v);
            if (t < 0) return -1;
            if (a[2] == 't') r->sp.type = t;
            else r->sp.output_type = t;
        } else return -1;
    }
    return 0;
}

static int load_ref(const char *path, ref_file *r) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    int rc = getline(&line, &cap, f) > 0 && !strncmp(line, "# synth", 7) && !parse_synth(r, line)
                 ? ref_read_rows(f, &line, &cap, &r->rows)
                 : -1;
    free(line);
    fclose(f);
    return rc;
}

/* Bounds on the relative logit difference, per weight type. Float weights give
 * near-identical sums; with quantized activations (Q8_0, Q8_K, and the F16/BF16
 * roundings) a last-bit difference in a summation order now and then flips one
 * rounded activation, which moves that position's logits by up to ~1e-2 of
 * their range while the other positions stay at ~1e-6. The F16 KV cache does the
 * same to keys and values, and from the flip on, every later position attends to
 * the moved value. GeGLU models (gemma2, gemma3) have one more rounding even with
 * F32 weights: llama.cpp takes GELU from a table of F16 values at the F16-rounded
 * input (as urial does), so a last-bit difference in a gate flips ~0.5% of the
 * activations by one F16 step: 1-3e-4 of the logits' range instead of ~1e-5. */
static double bound_for(const ur_model *m, int type) {
    switch (type) {
    case UR_TYPE_F32: return m->hp.act == UR_ACT_GELU ? 5e-4 : 1e-4;
    case UR_TYPE_F16: return 1e-3;
    case UR_TYPE_BF16: return 5e-3;
    default: return 3e-2;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Figures over a group of positions (one file, an architecture x type, a type). */
typedef struct group {
    char key[40];
    int type, pos, agree, n_err;
    double worst, err[16384];
} group;

static group *group_for(group *gs, int *n, const char *key, int type) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(gs[i].key, key)) return &gs[i];
    group *g = &gs[(*n)++];
    memset(g, 0, sizeof *g);
    snprintf(g->key, sizeof g->key, "%s", key);
    g->type = type;
    return g;
}

static void group_add(group *g, const double *err, int n, int agree) {
    for (int i = 0; i < n && g->n_err < 16384; i++) g->err[g->n_err++] = err[i];
    for (int i = 0; i < n; i++) g->worst = fmax(g->worst, err[i]);
    g->pos += n;
    g->agree += agree;
}

static void group_print(const char *what, group *g) {
    qsort(g->err, (size_t)g->n_err, sizeof(double), cmp_double);
    printf("INFO reference %s %-14s: argmax %d/%d (%.1f%%); relative difference median %.1e, p90 %.1e, max %.1e\n",
           what, g->key, g->agree, g->pos, 100.0 * g->agree / g->pos, g->err[g->n_err / 2], g->err[g->n_err * 9 / 10],
           g->worst);
}

static void matches_llamacpp(void) {
    DIR *d = opendir("tests/ref/logits");
    REQUIRE(d);
    enum { MAXG = 160 };
    group *types = calloc(MAXG, sizeof *types), *archs = calloc(MAXG, sizeof *archs), *legacy = calloc(MAXG, sizeof *legacy);
    int ntypes = 0, narchs = 0, nlegacy = 0, nfiles = 0;
    struct dirent *e;
    ref_file *r = malloc(sizeof *r);
    double err[MAXPOS];
    while ((e = readdir(d))) {
        size_t L = strlen(e->d_name);
        if (L < 5 || strcmp(e->d_name + L - 4, ".txt")) continue;
        char path[600], model[600];
        snprintf(path, sizeof path, "tests/ref/logits/%s", e->d_name);
        REQUIRE(load_ref(path, r) == 0);
        snprintf(model, sizeof model, "%s/%.*s.gguf", th_tmpdir(), (int)L - 4, e->d_name);
        ur_err er = {{0}};
        REQUIRE(ur_synth_write(&r->sp, model, &er) == 0);
        ur_model *m = ur_model_load(model, &er);
        REQUIRE(m);
        ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = r->rows.n_tok, .n_threads = 2}, &er);
        REQUIRE(c);
        const int nv = m->hp.n_vocab;
        float *lg = malloc(sizeof(float) * (size_t)nv * (size_t)r->rows.n_tok);
        REQUIRE(ur_decode(c, r->rows.tok, r->rows.n_tok, lg, 1, &er) == 0);
        const double scale = ref_scale(&r->rows);
        double worst = 0;
        int agree = 0;
        for (int p = 0; p < r->rows.n_tok; p++) worst = fmax(worst, err[p] = ref_row_err(&r->rows, p, lg, nv, scale, &agree));
        char key[40];
        snprintf(key, sizeof key, "%s/%s", r->arch, ur_type_name(r->sp.type));
        group_add(group_for(types, &ntypes, ur_type_name(r->sp.type), r->sp.type), err, r->rows.n_tok, agree);
        if (!strcmp(r->arch, "llama") || !strcmp(r->arch, "qwen2")) {
            snprintf(key, sizeof key, "llama+qwen2/%s", ur_type_name(r->sp.type));
            group_add(group_for(legacy, &nlegacy, key, r->sp.type), err, r->rows.n_tok, agree);
            snprintf(key, sizeof key, "%s/%s", r->arch, ur_type_name(r->sp.type));
        }
        group_add(group_for(archs, &narchs, key, r->sp.type), err, r->rows.n_tok, agree);
        double sorted[MAXPOS];
        memcpy(sorted, err, sizeof(double) * (size_t)r->rows.n_tok);
        qsort(sorted, (size_t)r->rows.n_tok, sizeof(double), cmp_double);
        printf("INFO reference/%s: argmax %d/%d, relative difference median %.1e, max %.2e (scale %.3f)\n",
               e->d_name, agree, r->rows.n_tok, sorted[r->rows.n_tok / 2], worst, scale);
        const double bound = bound_for(m, r->sp.type);
        CHECKF(worst <= bound, "%s: relative logit difference %.2e > %.0e", e->d_name, worst, bound);
        free(lg);
        ur_ctx_free(c);
        ur_model_free(m);
        nfiles++;
    }
    closedir(d);
    free(r);
    CHECK(nfiles >= 60);
    for (int k = 0; k < narchs; k++) {
        group_print("arch/type", &archs[k]);
        CHECKF(archs[k].agree * 100 >= archs[k].pos * 90, "%s: argmax agrees at %d of %d positions", archs[k].key,
               archs[k].agree, archs[k].pos);
    }
    for (int k = 0; k < ntypes; k++) group_print("type", &types[k]);
    for (int k = 0; k < nlegacy; k++) {
        group_print("type", &legacy[k]);
        CHECKF(legacy[k].agree * 100 >= legacy[k].pos * 99, "%s: argmax agrees at %d of %d positions", legacy[k].key,
               legacy[k].agree, legacy[k].pos);
    }
    free(types);
    free(archs);
    free(legacy);
}

int main(void) {
    th_suite = "reference";
    RUN(matches_llamacpp);
    TEST_MAIN_END();
}
