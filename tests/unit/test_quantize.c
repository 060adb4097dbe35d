/* Quantizing: the encoders' error against F32 within the bounds each block format
 * implies, llama.cpp's mixture rules, the streaming file quantizer, and its files
 * against llama.cpp: tests/ref/gen_quant_logits.sh recorded llama.cpp's top-10 logits
 * on files `urial quantize` wrote; this test writes the same files again with
 * ur_quantize_file and compares urial's logits on them. */
#include <dirent.h>
#include <math.h>

#include "harness.h"
#include "ref_logits.h"
#include "urial/gguf.h"
#include "urial/model.h"
#include "urial/quantize.h"
#include "urial/tensor.h"

static uint64_t rng = 88172645463325252ull;
static double uniform(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static float gauss(void) { return (float)(sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform())); }

/* Quantize n values as `type`, decode, and return the RMS error over the RMS value;
 * *worst gets the largest |error| relative to the largest |x| of its 32-block. */
static double rel_rms(int type, const float *x, int64_t n, double *worst) {
    void *q = malloc(ur_row_size(type, n));
    float *y = malloc(sizeof(float) * (size_t)n);
    if (ur_quantize_row(type, x, q, n)) {
        free(q), free(y);
        return INFINITY;
    }
    ur_dequantize_row(type, q, y, n);
    double e2 = 0, x2 = 0;
    *worst = 0;
    for (int64_t b = 0; b < n; b += 32) {
        double amax = 0;
        for (int i = 0; i < 32; i++) amax = fmax(amax, fabs(x[b + i]));
        for (int i = 0; i < 32; i++) {
            const double e = (double)y[b + i] - x[b + i];
            e2 += e * e, x2 += (double)x[b + i] * x[b + i];
            if (amax > 0) *worst = fmax(*worst, fabs(e) / amax);
        }
    }
    free(q);
    free(y);
    return sqrt(e2 / x2);
}

/* The bounds, from the formats (Gaussian data, 32 values have |x|max ≈ 2.1σ):
 *   Q8_0: step amax/127, rounding error ≤ amax/254, plus the f16 scale's rounding (2^-11
 *         relative) times |q| ≤ 127: ≤ amax (1/254 + 1/2048);
 *         RMS ≈ step/√12 ≈ 0.005σ.
 *   Q4_0: step amax/8 with 16 levels [-8, 7]: the value of largest magnitude sits on -8,
 *         others round to ≤ step/2, except at the far side, clamped at 7: ≤ one step,
 *         amax/8; RMS ≈ 0.075σ.
 *   Q4_K: 16 levels over each 32-value [min, max] (≈ 4.2σ / 15), 6-bit scales; RMS ≈ 0.08σ.
 *   Q5_K: 32 levels, half Q4_K's step: RMS ≈ 0.04σ.
 *   Q6_K: 64 levels over 16 values (amax ≈ 1.8σ, step amax/32): RMS ≈ 0.016σ.
 * The limits below are those figures with ~20% room; measured values print as INFO. */
static void error_bounds(void) {
    enum { N = 256 * 64 };
    float *x = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) x[i] = 0.02f * gauss();
    const struct { int type; double rms, worst; } T[] = {
        {UR_TYPE_Q8_0, 0.006, 1.0 / 254 + 1.0 / 2048}, {UR_TYPE_Q4_0, 0.09, 1.0 / 8 + 1.0 / 2048},
        {UR_TYPE_Q4_K, 0.095, 0.2},                {UR_TYPE_Q5_K, 0.048, 0.1},
        {UR_TYPE_Q6_K, 0.02, 0.04},                {UR_TYPE_F16, 1e-3, 1e-3},
        {UR_TYPE_BF16, 5e-3, 5e-3},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        double worst, rms = rel_rms(T[i].type, x, N, &worst);
        printf("INFO quantize %-5s: RMS error %.4f of RMS value (bound %.4f), worst %.4f of the block's max (bound %.4f)\n",
               ur_type_name(T[i].type), rms, T[i].rms, worst, T[i].worst);
        CHECKF(rms <= T[i].rms, "%s: RMS error %.4f > %.4f", ur_type_name(T[i].type), rms, T[i].rms);
        CHECKF(worst <= T[i].worst, "%s: worst error %.4f > %.4f", ur_type_name(T[i].type), worst, T[i].worst);
    }
    /* rows with outliers and with constant, zero and one-signed sub-blocks */
    for (int i = 0; i < N; i++) x[i] = i % 997 == 0 ? 1.0f : 0.02f * gauss();
    for (int i = 0; i < 256; i++) x[i] = 0, x[256 + i] = 0.5f, x[512 + i] = fabsf(x[512 + i]) + 0.1f;
    const int kt[3] = {UR_TYPE_Q4_K, UR_TYPE_Q5_K, UR_TYPE_Q6_K};
    const double kb[3] = {0.2, 0.1, 0.05};
    for (int i = 0; i < 3; i++) {
        double worst, rms = rel_rms(kt[i], x, N, &worst);
        printf("INFO quantize %-5s with outliers: RMS error %.4f, worst %.4f\n", ur_type_name(kt[i]), rms, worst);
        CHECKF(rms <= kb[i] && isfinite(rms), "%s with outliers: RMS error %.4f", ur_type_name(kt[i]), rms);
    }
    free(x);
}

/* Which tensor gets which type: llama.cpp's rules for 32 layers (Llama-2-7B). */
static void mixture_rules(void) {
    ur_err err = {{0}};
    ur_qmix m;
    REQUIRE(ur_qmix_init(&m, "Q4_K", 0, &err) == 0);
    CHECK(!strcmp(m.name, "q4_K_M") && m.ftype == 15);
    ur_qmix_begin(&m, 32, 1);
    /* more bits: i < 4, i >= 28, (i - 4) % 3 == 2 */
    const char *six = "0 1 2 3 6 9 12 15 18 21 24 27 28 29 30 31";
    char got_v[200] = "", got_d[200] = "";
    for (int l = 0; l < 32; l++) {
        char nm[64];
        snprintf(nm, sizeof nm, "blk.%d.attn_q.weight", l);
        CHECK(ur_qmix_type(&m, nm, 2, 4096, UR_TYPE_F16) == UR_TYPE_Q4_K);
        snprintf(nm, sizeof nm, "blk.%d.attn_v.weight", l);
        if (ur_qmix_type(&m, nm, 2, 4096, UR_TYPE_F16) == UR_TYPE_Q6_K)
            snprintf(got_v + strlen(got_v), sizeof got_v - strlen(got_v), "%s%d", *got_v ? " " : "", l);
        snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", l);
        if (ur_qmix_type(&m, nm, 2, 11008, UR_TYPE_F16) == UR_TYPE_Q6_K)
            snprintf(got_d + strlen(got_d), sizeof got_d - strlen(got_d), "%s%d", *got_d ? " " : "", l);
        snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", l);
        CHECK(ur_qmix_type(&m, nm, 1, 4096, UR_TYPE_F32) == UR_TYPE_F32);
    }
    CHECKF(!strcmp(got_v, six), "attn_v in Q6_K: %s", got_v);
    CHECKF(!strcmp(got_d, six), "ffn_down in Q6_K: %s", got_d);
    CHECK(ur_qmix_type(&m, "output.weight", 2, 4096, UR_TYPE_F16) == UR_TYPE_Q6_K);
    CHECK(ur_qmix_type(&m, "token_embd.weight", 2, 4096, UR_TYPE_F16) == UR_TYPE_Q4_K);
    CHECK(ur_qmix_type(&m, "blk.0.attn_qkv.weight", 2, 4096, UR_TYPE_F16) == UR_TYPE_Q5_K);
    CHECK(ur_qmix_type(&m, "blk.0.ffn_gate.weight", 2, 4000, UR_TYPE_F16) == UR_TYPE_Q8_0); /* 4000 % 256 */
    CHECK(ur_qmix_type(&m, "blk.0.ffn_gate.weight", 2, 4004, UR_TYPE_F16) == UR_TYPE_F16);  /* 4004 % 32 */
    ur_qmix_begin(&m, 32, 0); /* tied: token_embd is the output */
    CHECK(ur_qmix_type(&m, "token_embd.weight", 2, 4096, UR_TYPE_F16) == UR_TYPE_Q6_K);
    REQUIRE(ur_qmix_init(&m, "q4_K_S", 0, &err) == 0);
    ur_qmix_begin(&m, 32, 1);
    int n5 = 0;
    for (int l = 0; l < 32; l++) {
        char nm[64];
        snprintf(nm, sizeof nm, "blk.%d.attn_v.weight", l);
        n5 += (ur_qmix_type(&m, nm, 2, 4096, UR_TYPE_F16) == UR_TYPE_Q5_K) * (l < 4 ? 1 : 100);
        snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", l);
        n5 += (ur_qmix_type(&m, nm, 2, 11008, UR_TYPE_F16) == UR_TYPE_Q5_K) * (l < 4 ? 1 : 100);
    }
    CHECKF(n5 == 8, "q4_K_S: %d", n5);
    REQUIRE(ur_qmix_init(&m, "q8_0", 0, &err) == 0);
    ur_qmix_begin(&m, 32, 1);
    CHECK(ur_qmix_type(&m, "output.weight", 2, 4096, UR_TYPE_F16) == UR_TYPE_Q8_0);
    REQUIRE(ur_qmix_init(&m, "q4_0", 0, &err) == 0);
    ur_qmix_begin(&m, 32, 1);
    CHECK(ur_qmix_type(&m, "output.weight", 2, 4096, UR_TYPE_F16) == UR_TYPE_Q6_K);
    REQUIRE(ur_qmix_init(&m, "q5_K_M", 1, &err) == 0); /* pure */
    ur_qmix_begin(&m, 32, 1);
    CHECK(ur_qmix_type(&m, "output.weight", 2, 4096, UR_TYPE_F16) == UR_TYPE_Q5_K);
    CHECK(ur_qmix_type(&m, "blk.0.attn_v.weight", 2, 4096, UR_TYPE_F16) == UR_TYPE_Q5_K);
    CHECK(ur_qmix_init(&m, "q3_K_M", 0, &err) == -1 && strstr(err.msg, "unknown type 'q3_K_M'"));
}

/* ---- the files against llama.cpp ----------------------------------------------------------------- */
typedef struct {
    ur_synth_params sp;
    char arch[16], qtype[16];
    int pure;
    ref_rows rows;
} qref;

/* "# synth ARGS" with the options gen_quant_logits.sh uses */
static int parse_synth(qref *r, char *line) {
    ur_synth_defaults(&r->sp);
    char *save = NULL;
    strtok_r(line, " \n", &save);
    strtok_r(NULL, " \n", &save);
    for (char *a = strtok_r(NULL, " \n", &save); a; a = strtok_r(NULL, " \n", &save)) {
        if (!strcmp(a, "--tied")) { r->sp.tied = 1; continue; }
        char *v = strtok_r(NULL, " \n", &save);
        if (!v) return -1;
        if (!strcmp(a, "--arch")) snprintf(r->arch, sizeof r->arch, "%s", v), r->sp.arch = r->arch;
        else if (!strcmp(a, "--layers")) r->sp.n_layers = atoi(v);
        else if (!strcmp(a, "--heads")) r->sp.n_heads = atoi(v);
        else if (!strcmp(a, "--kv-heads")) r->sp.n_kv_heads = atoi(v);
        else if (!strcmp(a, "--window")) r->sp.swa_window = atoi(v);
        else if (!strcmp(a, "--seed")) r->sp.seed = strtoull(v, NULL, 10);
        else return -1;
    }
    return 0;
}

static int load_qref(const char *path, qref *r) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    int rc = getline(&line, &cap, f) > 0 && !strncmp(line, "# synth", 7) && !parse_synth(r, line) &&
                     getline(&line, &cap, f) > 0 && sscanf(line, "# quantize %15s", r->qtype) == 1 &&
                     ((r->pure = strstr(line, "--pure") != NULL), 1)
                 ? ref_read_rows(f, &line, &cap, &r->rows)
                 : -1;
    free(line);
    fclose(f);
    return rc;
}

/* One file: the largest logit difference over llama.cpp's top 10, relative to the
 * largest |logit|, and how many positions have the same argmax. */
static double compare_file(const qref *r, const char *model, int *agree) {
    ur_err er = {{0}};
    *agree = 0;
    ur_model *m = ur_model_load(model, &er);
    if (!m) return INFINITY;
    ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = r->rows.n_tok, .n_threads = 2}, &er);
    const int nv = m->hp.n_vocab;
    float *lg = malloc(sizeof(float) * (size_t)nv * (size_t)r->rows.n_tok);
    if (!c || ur_decode(c, r->rows.tok, r->rows.n_tok, lg, 1, &er)) {
        free(lg), ur_ctx_free(c), ur_model_free(m);
        return INFINITY;
    }
    const double scale = ref_scale(&r->rows);
    double worst = 0;
    for (int p = 0; p < r->rows.n_tok; p++) worst = fmax(worst, ref_row_err(&r->rows, p, lg, nv, scale, agree));
    free(lg);
    ur_ctx_free(c);
    ur_model_free(m);
    return worst;
}

static void matches_llamacpp(void) {
    DIR *d = opendir("tests/ref/quant");
    REQUIRE(d);
    qref *r = malloc(sizeof *r);
    struct dirent *e;
    int nfiles = 0;
    while ((e = readdir(d))) {
        size_t L = strlen(e->d_name);
        if (L < 5 || strcmp(e->d_name + L - 4, ".txt")) continue;
        char path[600], f32[600], out[600];
        snprintf(path, sizeof path, "tests/ref/quant/%s", e->d_name);
        REQUIRE(load_qref(path, r) == 0);
        snprintf(f32, sizeof f32, "%s/f32-%.*s.gguf", th_tmpdir(), (int)L - 4, e->d_name);
        snprintf(out, sizeof out, "%s/%.*s.gguf", th_tmpdir(), (int)L - 4, e->d_name);
        ur_err er = {{0}};
        REQUIRE(ur_synth_write(&r->sp, f32, &er) == 0);
        ur_qmix mix;
        REQUIRE(ur_qmix_init(&mix, r->qtype, r->pure, &er) == 0);
        ur_quantize_stats st;
        REQUIRE(ur_quantize_file(f32, out, &mix, 2, &st, &er) == 0);
        int agree;
        const double worst = compare_file(r, out, &agree);
        printf("INFO quantize reference/%s: argmax %d/%d, relative difference max %.2e\n", e->d_name, agree, r->rows.n_tok,
               worst);
        /* the bound of test_reference.c for quantized weights: the weights are the same
         * bytes, only the activations' rounding differs */
        CHECKF(worst <= 3e-2, "%s: relative logit difference %.2e", e->d_name, worst);
        /* random weights leave near-ties at the top, which last-bit differences flip: the
         * per-group floor of test_reference.c */
        CHECKF(agree * 100 >= r->rows.n_tok * 90, "%s: argmax agrees at %d of %d positions", e->d_name, agree, r->rows.n_tok);
        nfiles++;
    }
    closedir(d);
    free(r);
    CHECKF(nfiles >= 20, "%d reference files", nfiles);
}

/* The quantized model against its F32 original: logits close, by type. */
static void close_to_f32(void) {
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.n_layers = 4;
    char f32[512], q[512];
    snprintf(f32, sizeof f32, "%s/orig.gguf", th_tmpdir());
    ur_err er = {{0}};
    REQUIRE(ur_synth_write(&sp, f32, &er) == 0);
    int32_t tok[64];
    for (int i = 0; i < 64; i++) tok[i] = 3 + (i * 37) % 300;
    float *ref = NULL, *lg = NULL;
    const char *types[] = {"f32", "f16", "q8_0", "q6_K", "q5_K_M", "q4_K_M", "q4_0"};
    /* a random-weight network amplifies weight noise (measured: f16 0.0008, q8_0 0.019,
     * q6_K 0.059, q5_K_M 0.11, q4_K_M 0.24, q4_0 0.26); the bounds are those with 50%
     * room, and fewer bits must never do better than more */
    const double bounds[] = {0, 0.002, 0.03, 0.09, 0.16, 0.36, 0.39};
    double prev = 0;
    for (int t = 0; t < 7; t++) {
        ur_qmix mix;
        ur_quantize_stats st;
        REQUIRE(ur_qmix_init(&mix, types[t], 0, &er) == 0);
        snprintf(q, sizeof q, "%s/%s.gguf", th_tmpdir(), types[t]);
        REQUIRE(ur_quantize_file(f32, q, &mix, 1 + t % 2, &st, &er) == 0);
        ur_model *m = ur_model_load(q, &er);
        REQUIRE(m);
        ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = 64, .n_threads = 1}, &er);
        const int nv = m->hp.n_vocab;
        float *out = malloc(sizeof(float) * (size_t)nv * 64);
        REQUIRE(ur_decode(c, tok, 64, out, 1, &er) == 0);
        if (!ref) ref = out;
        else lg = out;
        if (lg) {
            double num = 0, den = 0;
            for (int i = 0; i < nv * 64; i++) num += (lg[i] - ref[i]) * (lg[i] - ref[i]), den += ref[i] * ref[i];
            const double rel = sqrt(num / den);
            printf("INFO quantize %s logits vs f32: RMS difference %.4f of RMS logit (%.1f MiB)\n", types[t], rel,
                   st.bytes_out / 1048576.0);
            CHECKF(rel <= bounds[t], "%s: %.4f", types[t], rel);
            CHECKF(rel > prev, "%s: %.4f is not above the previous type's %.4f", types[t], rel, prev);
            prev = rel;
            free(lg);
            lg = NULL;
        }
        ur_ctx_free(c);
        ur_model_free(m);
    }
    free(ref);
}

/* The streaming writer: a fill that fails ends the write with its message and leaves no file;
 * fills are called in tensor order with the bytes the shape needs. */
static int fill_count(void *arg, void *dst, uint64_t nbytes, ur_err *err) {
    int *calls = arg;
    (void)err;
    memset(dst, (*calls)++, (size_t)nbytes);
    return 0;
}
static int fill_fail(void *arg, void *dst, uint64_t nbytes, ur_err *err) {
    (void)arg, (void)dst, (void)nbytes;
    return ur_errf(err, "tensor b: the source is gone");
}

static void fill_writer(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/fill.gguf", th_tmpdir());
    ur_err er = {{0}};
    int calls = 0;
    const int64_t ne[2] = {64, 3};
    ur_gguf_writer *w = ur_gguf_writer_new();
    REQUIRE(ur_gguf_w_tensor_fill(w, "a", UR_TYPE_Q8_0, 2, ne, fill_count, &calls, &er) == 0);
    REQUIRE(ur_gguf_w_tensor_fill(w, "b", UR_TYPE_F32, 1, ne, fill_count, &calls, &er) == 0);
    CHECK(ur_gguf_w_tensor_fill(w, "c", UR_TYPE_Q4_K, 2, ne, fill_count, &calls, &er) == -1 && strstr(er.msg, "q4_K"));
    REQUIRE(ur_gguf_write(w, path, &er) == 0);
    ur_gguf_writer_free(w);
    CHECK(calls == 2);
    ur_gguf *g = ur_gguf_open(path, &er);
    REQUIRE(g);
    const ur_gguf_tensor *a = ur_gguf_find_tensor(g, "a"), *b = ur_gguf_find_tensor(g, "b");
    CHECK(a && a->nbytes == 3 * 68 && ((const uint8_t *)a->data)[100] == 0);
    CHECK(b && b->nbytes == 64 * 4 && ((const uint8_t *)b->data)[10] == 1);
    ur_gguf_close(g);
    remove(path);
    w = ur_gguf_writer_new();
    REQUIRE(ur_gguf_w_tensor_fill(w, "a", UR_TYPE_F32, 1, ne, fill_count, &calls, &er) == 0);
    REQUIRE(ur_gguf_w_tensor_fill(w, "b", UR_TYPE_F32, 1, ne, fill_fail, NULL, &er) == 0);
    CHECK(ur_gguf_write(w, path, &er) == -1 && !strcmp(er.msg, "tensor b: the source is gone"));
    ur_gguf_writer_free(w);
    FILE *f = fopen(path, "r");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *ft = fopen(tmp, "r");
    CHECK(!f && !ft);
    if (f) fclose(f);
    if (ft) fclose(ft);
}

static void file_errors(void) {
    ur_err er = {{0}};
    ur_qmix mix;
    ur_quantize_stats st;
    REQUIRE(ur_qmix_init(&mix, "q8_0", 0, &er) == 0);
    char out[512], bad[512];
    snprintf(out, sizeof out, "%s/x.gguf", th_tmpdir());
    snprintf(bad, sizeof bad, "%s/notgguf.gguf", th_tmpdir());
    CHECK(ur_quantize_file("/nonexistent/in.gguf", out, &mix, 1, &st, &er) == -1 && strstr(er.msg, "/nonexistent/in.gguf"));
    FILE *f = fopen(bad, "w");
    fputs("not a gguf file at all", f);
    fclose(f);
    CHECK(ur_quantize_file(bad, out, &mix, 1, &st, &er) == -1 && strstr(er.msg, "notgguf.gguf"));
    CHECK(ur_quantize_file(bad, bad, &mix, 1, &st, &er) == -1);
}

int main(void) {
    th_suite = "quantize";
    RUN(error_bounds);
    RUN(mixture_rules);
    RUN(close_to_f32);
    RUN(matches_llamacpp);
    RUN(fill_writer);
    RUN(file_errors);
    TEST_MAIN_END();
}
