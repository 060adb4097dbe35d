/* The whole trainable model: loss and every parameter gradient against PyTorch
 * (the files in tests/ref/train/, written by tests/ref/train/gen.sh), recomputation and
 * thread counts giving identical gradients, LoRA gradients against the full
 * gradient at the merged weights, saved GGUFs read back by the inference engine,
 * and AdamW / schedules against their formulas. */
#include <math.h>
#include <stdint.h>

#include "harness.h"
#include "urial/model.h"
#include "urial/tensor.h"
#include "urial/train.h"

/* ---- reference files ----------------------------------------------------------------- */
typedef struct ref {
    char synth[512];
    int n;
    int32_t tok[256], tgt[256], pos[256], seg[256];
    double loss;
    int n_g;
    struct { char name[96]; long n; double v[13]; } g[128];
} ref;

/* Pools of 1..8 threads, started on first use and kept for the whole binary. */
static ur_pool *g_pools[9];
static ur_pool *tpool(int nt) {
    if (!g_pools[nt]) g_pools[nt] = ur_pool_new(nt, NULL);
    return g_pools[nt];
}

static int parse_ints(const char *s, int32_t *out) {
    int n = 0;
    while (*s && n < 256) {
        out[n++] = (int32_t)strtol(s, (char **)&s, 10);
        if (*s == ',') s++;
        else break;
    }
    return n;
}

static int load_ref(const char *name, ref *r) {
    char path[512];
    snprintf(path, sizeof path, "tests/ref/train/%s.txt", name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    memset(r, 0, sizeof *r);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "synth ", 6)) snprintf(r->synth, sizeof r->synth, "%s", line + 6);
        else if (!strncmp(line, "tokens ", 7)) r->n = parse_ints(line + 7, r->tok);
        else if (!strncmp(line, "targets ", 8)) parse_ints(line + 8, r->tgt);
        else if (!strncmp(line, "pos ", 4)) parse_ints(line + 4, r->pos);
        else if (!strncmp(line, "seg ", 4)) parse_ints(line + 4, r->seg);
        else if (!strncmp(line, "loss ", 5)) r->loss = strtod(line + 5, NULL);
        else if (!strncmp(line, "G ", 2) && r->n_g < 128) {
            char *p = line + 2;
            size_t k = strcspn(p, " ");
            snprintf(r->g[r->n_g].name, sizeof r->g[0].name, "%.*s", (int)k, p);
            p += k;
            r->g[r->n_g].n = strtol(p, &p, 10);
            for (int i = 0; i < 13; i++) r->g[r->n_g].v[i] = strtod(p, &p);
            r->n_g++;
        }
    }
    fclose(f);
    return r->n > 0 && r->n_g > 0 ? 0 : -1;
}

/* Rebuild the model from "--dim 64 --layers 2 ..." with ur_synth_write. */
static int synth_from_args(const char *args, const char *path) {
    ur_synth_params p;
    ur_synth_defaults(&p);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", args);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *val = NULL;
        if (strcmp(tok, "--tied") && strcmp(tok, "--rope-freqs")) val = strtok_r(NULL, " ", &save);
        if (!strcmp(tok, "--dim")) p.dim = atoi(val);
        else if (!strcmp(tok, "--layers")) p.n_layers = atoi(val);
        else if (!strcmp(tok, "--heads")) p.n_heads = atoi(val);
        else if (!strcmp(tok, "--kv-heads")) p.n_kv_heads = atoi(val);
        else if (!strcmp(tok, "--ff")) p.ff = atoi(val);
        else if (!strcmp(tok, "--ctx")) p.n_ctx = atoi(val);
        else if (!strcmp(tok, "--seed")) p.seed = strtoull(val, NULL, 10);
        else if (!strcmp(tok, "--scale")) p.scale = (float)atof(val);
        else if (!strcmp(tok, "--tied")) p.tied = 1;
        else if (!strcmp(tok, "--rope-freqs")) p.rope_freqs = 1;
        else return -1;
    }
    ur_err err;
    return ur_synth_write(&p, path, &err);
}

static double sign_k(int k, uint64_t i) { /* as signs() in ref_grads.py */
    uint64_t z = ((uint64_t)k << 32) + i + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 40) / 8388608.0 - 1.0;
}

static ur_tbatch ref_batch(const ref *r) {
    return (ur_tbatch){.n = r->n, .tokens = r->tok, .targets = r->tgt, .pos = r->pos, .seg = r->seg};
}

/* The worst error of the gradient fingerprints, relative to the scale each is measured on. */
static double compare_grads(const ur_tnet *n, const ref *r, char *worst, size_t wn) {
    double maxe = 0;
    for (int i = 0; i < r->n_g; i++) {
        const ur_ttensor *t = ur_tnet_find(n, r->g[i].name);
        if (!t || t->ne0 * t->ne1 != r->g[i].n) {
            snprintf(worst, wn, "tensor %s missing or of another size", r->g[i].name);
            return 1e9;
        }
        const float *g = n->grads + t->off;
        const long cnt = r->g[i].n;
        double s = 0, ss = 0, mx = 0, p1 = 0, p2 = 0;
        for (long j = 0; j < cnt; j++) {
            s += g[j], ss += (double)g[j] * g[j], mx = fmax(mx, fabs(g[j]));
            p1 += g[j] * sign_k(1, (uint64_t)j), p2 += g[j] * sign_k(2, (uint64_t)j);
        }
        const double *v = r->g[i].v, norm = sqrt(v[1]);
        double e[13] = {fabs(s - v[0]) / norm, fabs(ss - v[1]) / v[1], fabs(mx - v[2]) / v[2], fabs(p1 - v[3]) / norm,
                        fabs(p2 - v[4]) / norm};
        for (int j = 0; j < 8; j++) e[5 + j] = fabs(g[(j * 7919 + 13) % cnt] - v[5 + j]) / v[2];
        for (int j = 0; j < 13; j++)
            if (e[j] > maxe) {
                maxe = e[j];
                snprintf(worst, wn, "%s figure %d: relative error %.3g", r->g[i].name, j, e[j]);
            }
    }
    return maxe;
}

static void check_against_pytorch(const char *name) {
    ref *r = malloc(sizeof *r);
    REQUIRE(r);
    if (load_ref(name, r)) {
        free(r);
        CHECKF(0, "cannot read tests/ref/train/%s.txt", name);
        return;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/%s.gguf", th_tmpdir(), name);
    REQUIRE(synth_from_args(r->synth, path) == 0);
    ur_err err;
    ur_model *m = ur_model_load(path, &err);
    REQUIRE(m);
    ur_tnet *n = ur_tnet_from_model(m, &err);
    REQUIRE(n);
    ur_tbatch b = ref_batch(r);
    int ntg = 0;
    for (int t = 0; t < r->n; t++) ntg += r->tgt[t] >= 0;
    float *g1 = malloc(sizeof(float) * n->n_params);
    for (int mode = 0; mode < 3; mode++) { /* 2 threads; 1 thread; 2 threads with recompute */
        ur_tctx *c = ur_tctx_new(n, 64, mode == 2, mode == 1 ? 1 : 2, &err);
        REQUIRE(c);
        ur_grad_zero(n);
        int got = 0;
        double nll = ur_tctx_step(c, n, &b, 1.0f / (float)ntg, (ur_tdrop){0}, &got);
        CHECK(got == ntg);
        CHECKF(fabs(nll / ntg - r->loss) <= 1e-6 * r->loss, "%s: loss %.9g, PyTorch %.9g", name, nll / ntg, r->loss);
        char worst[256] = "";
        double e = compare_grads(n, r, worst, sizeof worst);
        CHECKF(e <= 1e-4, "%s (mode %d): %s", name, mode, worst);
        if (mode == 0)
            printf("# %s: loss relative error %.2g; worst gradient figure: %s\n", name,
                   fabs(nll / ntg - r->loss) / r->loss, worst);
        if (mode == 0) memcpy(g1, n->grads, sizeof(float) * n->n_params);
        else CHECKF(!memcmp(g1, n->grads, sizeof(float) * n->n_params), "%s: mode %d gradients differ", name, mode);
        /* forward-only evaluation gives the same loss */
        double ev = ur_tctx_eval(c, n, &b, &got);
        CHECK(ev == nll);
        ur_tctx_free(c);
    }
    free(g1);
    ur_tnet_free(n);
    ur_model_free(m);
    free(r);
}

static void test_grads_match_pytorch_untied(void) { check_against_pytorch("llama-untied"); }
static void test_grads_match_pytorch_tied(void) { check_against_pytorch("llama-tied"); }

/* LoRA: with y = x (W + s B A)^T, dL/dA = s B^T G and dL/dB = s G A^T where G is
 * the full gradient at the merged weight; the merged model is written with
 * ur_tnet_save and its full gradients computed by the full trainer. */
static void test_lora_grads_match_merged(void) {
    ref *r = malloc(sizeof *r);
    REQUIRE(r && load_ref("llama-untied", r) == 0);
    char path[300], merged[300];
    snprintf(path, sizeof path, "%s/lora-base.gguf", th_tmpdir());
    snprintf(merged, sizeof merged, "%s/lora-merged.gguf", th_tmpdir());
    REQUIRE(synth_from_args(r->synth, path) == 0);
    ur_err err;
    ur_model *m = ur_model_load(path, &err);
    REQUIRE(m);
    ur_tnet *ln = ur_tnet_lora(m, 4, 8.0f, UR_LORA_ALL, 3, &err);
    REQUIRE(ln);
    /* B = 0 at init; make it non-zero so both products matter */
    for (int i = 0; i < ln->n_tensors; i++)
        if (strstr(ln->tensors[i].name, "lora_b"))
            for (int64_t j = 0; j < ln->tensors[i].ne0 * ln->tensors[i].ne1; j++)
                ln->params[ln->tensors[i].off + (size_t)j] = 0.05f * sinf((float)(j + i));
    ur_tbatch b = ref_batch(r);
    ur_tctx *c = ur_tctx_new(ln, 64, 0, 2, &err);
    REQUIRE(c);
    int got;
    ur_grad_zero(ln);
    double l_lora = ur_tctx_step(c, ln, &b, 1.0f, (ur_tdrop){0}, &got);
    ur_tctx_free(c);
    ur_tsave_opts so = {.name = "merged", .type = UR_TYPE_F32, .tok_src = m->gguf};
    REQUIRE(ur_tnet_save(ln, &so, merged, &err) == 0);
    ur_model *mm = ur_model_load(merged, &err);
    REQUIRE(mm);
    ur_tnet *fn = ur_tnet_from_model(mm, &err);
    REQUIRE(fn);
    c = ur_tctx_new(fn, 64, 0, 2, &err);
    ur_grad_zero(fn);
    double l_full = ur_tctx_step(c, fn, &b, 1.0f, (ur_tdrop){0}, &got);
    ur_tctx_free(c);
    CHECKF(fabs(l_lora - l_full) < 1e-4 * fabs(l_full), "loss %g vs merged %g", l_lora, l_full);
    /* frozen parts have no gradient buffer: only adapters are trainable */
    CHECK(ln->n_tensors == 2 * 7 * ln->hp.n_layers);
    double worst = 0;
    for (int l = 0; l < ln->hp.n_layers; l++) {
        const ur_tlin *ls[7] = {&ln->layers[l].q, &ln->layers[l].k, &ln->layers[l].v, &ln->layers[l].o,
                                &ln->layers[l].gate, &ln->layers[l].up, &ln->layers[l].down};
        const ur_tlin *fs[7] = {&fn->layers[l].q, &fn->layers[l].k, &fn->layers[l].v, &fn->layers[l].o,
                                &fn->layers[l].gate, &fn->layers[l].up, &fn->layers[l].down};
        for (int j = 0; j < 7; j++) {
            const ur_tlin *a = ls[j];
            const float *G = fs[j]->gw;
            double gmax = 1e-30;
            for (int e = 0; e < a->r * a->in; e++) gmax = fmax(gmax, fabs(a->ga[e]));
            for (int i = 0; i < a->r; i++)
                for (int k = 0; k < a->in; k++) { /* gA[i][k] = s sum_o B[o][i] G[o][k] */
                    double s = 0;
                    for (int o = 0; o < a->out; o++) s += (double)a->b[o * a->r + i] * G[(size_t)o * a->in + k];
                    worst = fmax(worst, fabs(a->ga[i * a->in + k] - a->s * s) / gmax);
                }
            gmax = 1e-30;
            for (int e = 0; e < a->out * a->r; e++) gmax = fmax(gmax, fabs(a->gb[e]));
            for (int o = 0; o < a->out; o++)
                for (int i = 0; i < a->r; i++) { /* gB[o][i] = s sum_k G[o][k] A[i][k] */
                    double s = 0;
                    for (int k = 0; k < a->in; k++) s += (double)G[(size_t)o * a->in + k] * a->a[i * a->in + k];
                    worst = fmax(worst, fabs(a->gb[o * a->r + i] - a->s * s) / gmax);
                }
        }
    }
    CHECKF(worst < 1e-4, "LoRA gradient vs s B^T G / s G A^T: relative error %g", worst);
    ur_tnet_free(fn);
    ur_model_free(mm);
    ur_tnet_free(ln);
    ur_model_free(m);
    free(r);
}

/* A saved model means the same thing to the inference engine: its teacher-forced
 * logits give the training loss (up to the F16 KV cache's rounding). */
static void test_saved_model_loss_matches_inference(void) {
    ref *r = malloc(sizeof *r);
    REQUIRE(r && load_ref("llama-untied", r) == 0);
    char path[300], out[300];
    snprintf(path, sizeof path, "%s/inf-base.gguf", th_tmpdir());
    snprintf(out, sizeof out, "%s/inf-saved.gguf", th_tmpdir());
    REQUIRE(synth_from_args(r->synth, path) == 0);
    ur_err err;
    ur_model *m = ur_model_load(path, &err);
    ur_tnet *n = ur_tnet_from_model(m, &err);
    REQUIRE(n);
    ur_tsave_opts so = {.name = "saved", .type = UR_TYPE_F32, .tok_src = m->gguf};
    REQUIRE(ur_tnet_save(n, &so, out, &err) == 0);
    ur_model *m2 = ur_model_load(out, &err);
    REQUIRE(m2);
    CHECK(m2->hp.dim == m->hp.dim && m2->hp.n_kv_heads == m->hp.n_kv_heads && m2->rope_freqs != NULL);
    /* first segment only (the engine runs one sequence) */
    int L = 0;
    while (L < r->n && r->seg[L] == 0) L++;
    ur_tbatch b = {.n = L, .tokens = r->tok, .targets = r->tgt, .pos = r->pos, .seg = r->seg};
    ur_tctx *c = ur_tctx_new(n, 64, 0, 2, &err);
    int got;
    double nll = ur_tctx_eval(c, n, &b, &got);
    ur_ctx *ic = ur_ctx_new(m2, (ur_ctx_params){.n_ctx = 64, .n_threads = 2}, &err);
    REQUIRE(ic);
    const int V = m2->hp.n_vocab;
    float *lg = malloc(sizeof(float) * (size_t)(L * V));
    REQUIRE(ur_decode(ic, r->tok, L, lg, 1, &err) == 0);
    double inf = 0;
    for (int t = 0; t < L; t++) {
        if (r->tgt[t] < 0) continue;
        double mx = -1e30, s = 0;
        for (int i = 0; i < V; i++) mx = fmax(mx, lg[t * V + i]);
        for (int i = 0; i < V; i++) s += exp(lg[t * V + i] - mx);
        inf += mx + log(s) - lg[t * V + r->tgt[t]];
    }
    CHECKF(fabs(inf - nll) < 1e-3 * fabs(nll), "training %g vs inference %g", nll, inf);
    free(lg);
    ur_ctx_free(ic);
    ur_tctx_free(c);
    ur_model_free(m2);
    ur_tnet_free(n);
    ur_model_free(m);
    free(r);
}

static void test_adamw_and_schedules(void) {
    ur_hparams hp = {0};
    hp.n_vocab = 8, hp.dim = 16, hp.n_layers = 1, hp.n_heads = 2, hp.n_kv_heads = 1, hp.ff = 16, hp.n_ctx_train = 8;
    ur_err err;
    ur_tnet *n = ur_tnet_new(&hp, 0, 5, &err);
    REQUIRE(n);
    float *m = calloc(n->n_params, sizeof(float)), *v = calloc(n->n_params, sizeof(float));
    float *p0 = malloc(sizeof(float) * n->n_params);
    memcpy(p0, n->params, sizeof(float) * n->n_params);
    for (size_t i = 0; i < n->n_params; i++) n->grads[i] = 0.01f * (float)((int)(i % 7) - 3);
    ur_adamw o = {0.9f, 0.95f, 1e-8f, 0.1f};
    ur_adamw_step(n, m, v, 1, 1e-3f, &o, tpool(2));
    ur_adamw_step(n, m, v, 2, 5e-4f, &o, tpool(1));
    /* two steps by the formula in double, for one decayed and one undecayed element */
    const ur_ttensor *w = ur_tnet_find(n, "blk.0.attn_q.weight"), *nw = ur_tnet_find(n, "blk.0.attn_norm.weight");
    for (int which = 0; which < 2; which++) {
        size_t i = (which ? nw : w)->off + 3;
        int decay = which == 0;
        double p = p0[i], g = n->grads[i], mm = 0, vv = 0;
        const double lrs[2] = {1e-3, 5e-4};
        for (int t = 1; t <= 2; t++) {
            double lr = lrs[t - 1];
            if (decay) p *= 1 - lr * 0.1;
            mm = 0.9 * mm + 0.1 * g, vv = 0.95 * vv + 0.05 * g * g;
            p -= lr * (mm / (1 - pow(0.9, t))) / (sqrt(vv / (1 - pow(0.95, t))) + 1e-8);
        }
        CHECKF(fabs(n->params[i] - p) < 1e-6 * fabs(p) + 1e-9, "element %zu: %.9g vs %.9g", i, n->params[i], p);
    }
    double gn = ur_grad_norm(n, tpool(2)), ref = 0;
    for (size_t i = 0; i < n->n_params; i++) ref += (double)n->grads[i] * n->grads[i];
    CHECK(fabs(gn - sqrt(ref)) < 1e-9 * sqrt(ref));
    /* the same bytes for any thread count (4096-element partial sums added in order) */
    const double gn0 = ur_grad_norm(n, NULL);
    for (int nt = 1; nt <= 3; nt++) {
        double g = ur_grad_norm(n, tpool(nt));
        CHECKF(!memcmp(&g, &gn0, sizeof g), "%d threads: %.17g vs %.17g", nt, g, gn0);
    }
    free(m), free(v), free(p0);
    ur_tnet_free(n);
    /* schedules: LIMA's linear 1e-5 -> 1e-6 without warmup; cosine with warmup */
    ur_sched s = {UR_SCHED_LINEAR, 1e-5f, 1e-6f, 0};
    CHECK(fabsf(ur_sched_lr(&s, 0, 100) - 1e-5f) < 1e-12f && fabsf(ur_sched_lr(&s, 99, 100) - 1e-6f) < 1e-12f);
    CHECK(fabsf(ur_sched_lr(&s, 33, 100) - (1e-5f - 9e-6f / 3)) < 1e-11f);
    ur_sched cs = {UR_SCHED_COSINE, 1e-3f, 1e-4f, 10};
    CHECK(fabsf(ur_sched_lr(&cs, 0, 110) - 1e-4f) < 1e-9f && fabsf(ur_sched_lr(&cs, 9, 110) - 1e-3f) < 1e-9f);
    CHECK(fabsf(ur_sched_lr(&cs, 10, 110) - 1e-3f) < 1e-9f && fabsf(ur_sched_lr(&cs, 109, 110) - 1e-4f) < 1e-9f);
    CHECK(fabsf(ur_sched_lr(&cs, 60, 110) - 5.5e-4f) < 1e-5f);
    CHECK(ur_sched_parse("cosine") == UR_SCHED_COSINE && ur_sched_parse("nope") == -1);
}

int main(void) {
    th_suite = "train_model";
    RUN(test_grads_match_pytorch_untied);
    RUN(test_grads_match_pytorch_tied);
    RUN(test_lora_grads_match_merged);
    RUN(test_saved_model_loss_matches_inference);
    RUN(test_adamw_and_schedules);
    for (int i = 0; i < 9; i++) ur_pool_free(g_pools[i]);
    TEST_MAIN_END();
}
