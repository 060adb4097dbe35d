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
#include "urial/model.h"
#include "urial/tensor.h"

#define TOPN 10
#define MAXPOS 256

typedef struct {
    ur_synth_params sp;
    char arch[16];
    int n_tok;
    int32_t tok[MAXPOS];
    int32_t id[MAXPOS][TOPN];
    float logit[MAXPOS][TOPN];
} ref_file;

/* Parse "# synth --arch A --type T ..." */
static int parse_synth(ref_file *r, char *line) {
    ur_synth_defaults(&r->sp);
    char *save = NULL;
    strtok_r(line, " \n", &save); /* # */
    strtok_r(NULL, " \n", &save); /* synth */
    for (char *a = strtok_r(NULL, " \n", &save); a; a = strtok_r(NULL, " \n", &save)) {
        if (!strcmp(a, "--tied")) { r->sp.tied = 1; continue; }
        if (!strcmp(a, "--rope-freqs")) { r->sp.rope_freqs = 1; continue; }
        char *v = strtok_r(NULL, " \n", &save);
        if (!v) return -1;
        if (!strcmp(a, "--arch")) snprintf(r->arch, sizeof r->arch, "%s", v), r->sp.arch = r->arch;
        else if (!strcmp(a, "--seed")) r->sp.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--heads")) r->sp.n_heads = atoi(v);
        else if (!strcmp(a, "--kv-heads")) r->sp.n_kv_heads = atoi(v);
        else if (!strcmp(a, "--layers")) r->sp.n_layers = atoi(v);
        else if (!strcmp(a, "--type") || !strcmp(a, "--output-type")) {
            int t = -1;
            const int ids[] = {UR_TYPE_F32, UR_TYPE_F16, UR_TYPE_BF16, UR_TYPE_Q4_0, UR_TYPE_Q8_0,
                               UR_TYPE_Q4_K, UR_TYPE_Q5_K, UR_TYPE_Q6_K};
            for (int i = 0; i < 8; i++)
                if (!strcmp(v, ur_type_name(ids[i]))) t = ids[i];
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
    int row = 0, ok = 0;
    if (getline(&line, &cap, f) > 0 && !strncmp(line, "# synth", 7) && !parse_synth(r, line) &&
        getline(&line, &cap, f) > 0 && !strncmp(line, "# tokens ", 9)) {
        r->n_tok = 0;
        for (char *p = line + 9; *p && *p != '\n' && r->n_tok < MAXPOS;) {
            r->tok[r->n_tok++] = (int32_t)strtol(p, &p, 10);
            if (*p == ',') p++;
        }
        ok = 1;
        while (ok && getline(&line, &cap, f) > 0 && row < r->n_tok) {
            char *p = line;
            if (strtol(p, &p, 10) != row) ok = 0;
            for (int j = 0; ok && j < TOPN; j++) {
                r->id[row][j] = (int32_t)strtol(p, &p, 10);
                if (*p++ != ':') ok = 0;
                r->logit[row][j] = strtof(p, &p);
            }
            row++;
        }
    }
    free(line);
    fclose(f);
    return ok && row == r->n_tok ? 0 : -1;
}

/* Bounds on the relative logit difference, per weight type. Float weights give
 * near-identical sums; with quantized activations (Q8_0, Q8_K, and the F16/BF16
 * roundings) a last-bit difference in a summation order now and then flips one
 * rounded activation, which moves that position's logits by up to ~1e-2 of
 * their range while the other positions stay at ~1e-6. */
static double bound_for(int type) {
    switch (type) {
    case UR_TYPE_F32: return 1e-4;
    case UR_TYPE_F16: return 1e-3;
    case UR_TYPE_BF16: return 5e-3;
    default: return 3e-2;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void matches_llamacpp(void) {
    DIR *d = opendir("tests/ref/logits");
    REQUIRE(d);
    struct { int type, pos, agree; double worst; double err[4096]; } *per = calloc(16, sizeof *per);
    int ntypes = 0, nfiles = 0;
    struct dirent *e;
    ref_file *r = malloc(sizeof *r);
    while ((e = readdir(d))) {
        size_t L = strlen(e->d_name);
        if (L < 5 || strcmp(e->d_name + L - 4, ".txt")) continue;
        char path[600], model[600];
        snprintf(path, sizeof path, "tests/ref/logits/%s", e->d_name);
        REQUIRE(load_ref(path, r) == 0);
        snprintf(model, sizeof model, "%s/%.*s.gguf", th_tmpdir(), (int)L - 4, e->d_name);
        ur_err err = {{0}};
        REQUIRE(ur_synth_write(&r->sp, model, &err) == 0);
        ur_model *m = ur_model_load(model, &err);
        REQUIRE(m);
        ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = r->n_tok, .n_threads = 2}, &err);
        REQUIRE(c);
        const int nv = m->hp.n_vocab;
        float *lg = malloc(sizeof(float) * (size_t)nv * (size_t)r->n_tok);
        REQUIRE(ur_decode(c, r->tok, r->n_tok, lg, 1, &err) == 0);
        double scale = 0, worst = 0;
        int agree = 0;
        for (int p = 0; p < r->n_tok; p++)
            for (int j = 0; j < TOPN; j++) scale = fmax(scale, fabs(r->logit[p][j]));
        for (int p = 0; p < r->n_tok; p++) {
            const float *row = lg + (size_t)p * nv;
            int best = 0;
            for (int i = 1; i < nv; i++)
                if (row[i] > row[best]) best = i;
            agree += best == r->id[p][0];
            double e = 0;
            for (int j = 0; j < TOPN; j++) e = fmax(e, fabs(row[r->id[p][j]] - r->logit[p][j]) / scale);
            worst = fmax(worst, e);
            int k = 0;
            while (k < ntypes && per[k].type != r->sp.type) k++;
            if (k == ntypes) per[ntypes++].type = r->sp.type;
            if (per[k].pos + p < 4096) per[k].err[per[k].pos + p] = e;
        }
        int k = 0;
        while (per[k].type != r->sp.type) k++;
        per[k].pos += r->n_tok;
        per[k].agree += agree;
        per[k].worst = fmax(per[k].worst, worst);
        printf("INFO reference/%s: argmax %d/%d, max |dlogit| / max |logit| = %.2e (scale %.3f)\n", e->d_name, agree,
               r->n_tok, worst, scale);
        CHECKF(worst <= bound_for(r->sp.type), "%s: relative logit difference %.2e > %.0e", e->d_name, worst,
               bound_for(r->sp.type));
        free(lg);
        ur_ctx_free(c);
        ur_model_free(m);
        nfiles++;
    }
    closedir(d);
    free(r);
    CHECK(nfiles >= 16);
    for (int k = 0; k < ntypes; k++) {
        int n = per[k].pos < 4096 ? per[k].pos : 4096;
        qsort(per[k].err, (size_t)n, sizeof(double), cmp_double);
        printf("INFO reference type %-5s: argmax %d/%d (%.1f%%); relative difference median %.1e, p90 %.1e, max %.1e\n",
               ur_type_name(per[k].type), per[k].agree, per[k].pos, 100.0 * per[k].agree / per[k].pos,
               per[k].err[n / 2], per[k].err[n * 9 / 10], per[k].worst);
        CHECKF(per[k].agree * 100 >= per[k].pos * 99, "type %s: argmax agrees at %d of %d positions",
               ur_type_name(per[k].type), per[k].agree, per[k].pos);
    }
    free(per);
}

int main(void) {
    th_suite = "reference";
    RUN(matches_llamacpp);
    TEST_MAIN_END();
}
