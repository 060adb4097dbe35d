/* Training every architecture the engine runs (qwen2's biases, qwen3's q/k head
 * norms, gemma2's GeGLU, post-norms, soft-capping and sliding window, gemma3's
 * local/global rope, olmo2's post-norms and whole-row q/k norms, phi3's fused
 * projections and LongRoPE):
 *   - every tensor's gradient against a central finite difference of the loss
 *     along that gradient's direction (the llama path is held to PyTorch in
 *     test_train_model.c; these variations are held to the loss itself);
 *   - the saved model gives the training loss in the inference engine, which is
 *     held to llama.cpp (test_reference.c): the two forward passes agree;
 *   - LoRA: the adapters' gradients are s B^T G and s G A^T of the merged model's
 *     full gradient G; a fused base matrix gets one block-diagonal adapter;
 *   - LoRA on a quantized base trains (the loss falls). */
#include <math.h>
#include <stdint.h>

#include "harness.h"
#include "urial/model.h"
#include "urial/tensor.h"
#include "urial/train.h"

typedef struct {
    const char *arch;
    int layers, window, head_dim, longrope;
    float rope_base, rope_scale, attn_softcap, final_softcap;
} arch_spec;

static const arch_spec SPECS[] = {
    {"qwen2", 2, 0, 0, 0, 0, 0, -1, -1},
    {"qwen3", 2, 0, 32, 0, 0, 0, -1, -1},
    {"gemma2", 3, 5, 0, 0, 0, 0, 3.0f, 4.0f},
    {"gemma3", 6, 5, 0, 0, 1e6f, 4.0f, -1, 5.0f},
    {"olmo2", 4, 6, 0, 0, 0, 0, -1, -1},
    {"phi3", 2, 0, 0, 16, 0, 0, -1, -1},
};
enum { NSPECS = sizeof SPECS / sizeof SPECS[0] };

static const char *synth(const arch_spec *a, int type, const char *name) {
    static char p[512];
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.arch = a->arch, sp.type = type, sp.dim = 64, sp.n_layers = a->layers, sp.n_heads = 4, sp.n_kv_heads = 2;
    sp.ff = 96, sp.n_ctx = 64, sp.scale = 0.2f, sp.seed = 5, sp.swa_window = a->window, sp.head_dim = a->head_dim;
    sp.longrope_orig = a->longrope, sp.attn_softcap = a->attn_softcap, sp.final_softcap = a->final_softcap;
    if (a->rope_base > 0) sp.rope_base = a->rope_base;
    sp.rope_scale = a->rope_scale;
    if (type != UR_TYPE_F32) sp.dim = 256, sp.ff = 256; /* whole K-quant blocks */
    return th_synth(&sp, name, p, sizeof p);
}

/* Two packed segments of 14 and 10 tokens; every token but each segment's last has a target. */
enum { NT = 24 };
static int32_t g_tok[NT], g_tgt[NT], g_pos[NT], g_seg[NT];
static ur_tbatch batch(int nv) {
    for (int t = 0; t < NT; t++) {
        g_tok[t] = (int32_t)(3 + (t * 131 + 7) % (nv - 3));
        g_seg[t] = t < 14 ? 0 : 14;
        g_pos[t] = t - g_seg[t];
    }
    for (int t = 0; t < NT; t++) g_tgt[t] = t + 1 < NT && g_seg[t + 1] == g_seg[t] ? g_tok[t + 1] : -1;
    return (ur_tbatch){.n = NT, .tokens = g_tok, .targets = g_tgt, .pos = g_pos, .seg = g_seg};
}

static double eval_loss(ur_tctx *c, const ur_tnet *n, const ur_tbatch *b) {
    int got;
    return ur_tctx_eval(c, n, b, &got);
}

/* Every trainable tensor: d/de L(theta + e g/|g|) at 0 is |g|. */
static void full_grads_match_loss(void) {
    for (int si = 0; si < NSPECS; si++) {
        const arch_spec *a = &SPECS[si];
        char name[64];
        snprintf(name, sizeof name, "g-%s.gguf", a->arch);
        const char *p = synth(a, UR_TYPE_F32, name);
        REQUIRE(p);
        ur_err err = {{0}};
        ur_model *m = ur_model_load(p, &err);
        REQUIRE(m);
        ur_tnet *n = ur_tnet_from_model(m, &err);
        REQUIRE(n);
        ur_tctx *c = ur_tctx_new(n, 64, 0, 2, &err);
        REQUIRE(c);
        ur_tbatch b = batch(m->hp.n_vocab);
        int got;
        ur_grad_zero(n);
        ur_tctx_step(c, n, &b, 1.0f, (ur_tdrop){0}, &got);
        double worst = 0;
        const char *worst_name = "";
        float *save = malloc(sizeof(float) * n->n_params);
        memcpy(save, n->params, sizeof(float) * n->n_params);
        for (int i = 0; i < n->n_tensors; i++) {
            const ur_ttensor *t = &n->tensors[i];
            const size_t cnt = (size_t)(t->ne0 * t->ne1);
            const float *g = n->grads + t->off;
            double norm = 0;
            for (size_t j = 0; j < cnt; j++) norm += (double)g[j] * g[j];
            norm = sqrt(norm);
            if (norm < 1e-6) continue;
            const double e = 1e-2;
            double l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                for (size_t j = 0; j < cnt; j++)
                    n->params[t->off + j] = save[t->off + j] + (float)((sgn ? -e : e) * g[j] / norm);
                l[sgn] = eval_loss(c, n, &b);
            }
            memcpy(n->params + t->off, save + t->off, sizeof(float) * cnt);
            const double fd = (l[0] - l[1]) / (2 * e), rel = fabs(fd - norm) / norm;
            if (rel > worst) worst = rel, worst_name = t->name;
        }
        printf("# %s: %d tensors, worst |fd - |g|| / |g| = %.1e (%s)\n", a->arch, n->n_tensors, worst, worst_name);
        CHECKF(worst < 2e-2, "%s: gradient of %s off by %.1e", a->arch, worst_name, worst);
        free(save);
        ur_tctx_free(c);
        ur_tnet_free(n);
        ur_model_free(m);
    }
}

/* A saved model (F32) gives the training loss in the inference engine (one segment:
 * the engine runs one sequence; its F16 KV cache and GeGLU's F16 table round a little). */
static void saved_loss_matches_engine(void) {
    for (int si = 0; si < NSPECS; si++) {
        const arch_spec *a = &SPECS[si];
        char name[64], out[600];
        snprintf(name, sizeof name, "s-%s.gguf", a->arch);
        const char *p = synth(a, UR_TYPE_F32, name);
        REQUIRE(p);
        snprintf(out, sizeof out, "%s/saved-%s.gguf", th_tmpdir(), a->arch);
        ur_err err = {{0}};
        ur_model *m = ur_model_load(p, &err);
        REQUIRE(m);
        ur_tnet *n = ur_tnet_from_model(m, &err);
        REQUIRE(n);
        ur_tsave_opts so = {.name = "saved", .type = UR_TYPE_F32, .tok_src = m->gguf};
        REQUIRE(ur_tnet_save(n, &so, out, &err) == 0);
        ur_model *m2 = ur_model_load(out, &err);
        CHECKF(m2 != NULL, "%s: %s", a->arch, err.msg);
        if (!m2) return;
        CHECK(m2->hp.arch == m->hp.arch && m2->fused_qkv == m->fused_qkv && m2->n_swa_layers == m->n_swa_layers);
        ur_tbatch b = batch(m->hp.n_vocab);
        b.n = 14; /* the first segment */
        ur_tctx *c = ur_tctx_new(n, 64, 0, 2, &err);
        const double nll = eval_loss(c, n, &b);
        /* LongRoPE: training uses the short factors (sequences within the original context),
         * which the engine uses for contexts no longer than that */
        const int n_ctx = m2->rope_long ? m2->hp.n_ctx_orig : 64;
        ur_ctx *ic = ur_ctx_new(m2, (ur_ctx_params){.n_ctx = n_ctx, .n_threads = 2}, &err);
        REQUIRE(ic);
        const int V = m2->hp.n_vocab;
        float *lg = malloc(sizeof(float) * (size_t)(b.n * V));
        REQUIRE(ur_decode(ic, g_tok, b.n, lg, 1, &err) == 0);
        double inf = 0;
        for (int t = 0; t < b.n; t++) {
            if (g_tgt[t] < 0) continue;
            double mx = -1e30, s = 0;
            for (int i = 0; i < V; i++) mx = fmax(mx, lg[t * V + i]);
            for (int i = 0; i < V; i++) s += exp(lg[t * V + i] - mx);
            inf += mx + log(s) - lg[t * V + g_tgt[t]];
        }
        printf("# %s: training loss %.6f, engine %.6f\n", a->arch, nll, inf);
        CHECKF(fabs(inf - nll) < 2e-3 * fabs(nll), "%s: training %g vs engine %g", a->arch, nll, inf);
        free(lg);
        ur_ctx_free(ic);
        ur_tctx_free(c);
        ur_model_free(m2);
        ur_tnet_free(n);
        ur_model_free(m);
    }
}

/* LoRA gradients against the merged model's full gradient, for a post-norm GeGLU
 * model and a fused one; phi3's adapter file: one attn_qkv / ffn_up pair whose
 * (alpha / R) B A is the parts' s B A. */
static void lora_grads_and_fused_adapter(void) {
    const int which[2] = {2, 5}; /* gemma2, phi3 */
    for (int wi = 0; wi < 2; wi++) {
        const arch_spec *a = &SPECS[which[wi]];
        char name[64], merged[600], adapter[600];
        snprintf(name, sizeof name, "l-%s.gguf", a->arch);
        const char *p = synth(a, UR_TYPE_F32, name);
        REQUIRE(p);
        snprintf(merged, sizeof merged, "%s/merged-%s.gguf", th_tmpdir(), a->arch);
        snprintf(adapter, sizeof adapter, "%s/adapter-%s.gguf", th_tmpdir(), a->arch);
        ur_err err = {{0}};
        ur_model *m = ur_model_load(p, &err);
        REQUIRE(m);
        ur_tnet *ln = ur_tnet_lora(m, 3, 6.0f, UR_LORA_ALL & ~UR_LORA_K, 3, &err);
        REQUIRE(ln);
        for (int i = 0; i < ln->n_tensors; i++)
            if (strstr(ln->tensors[i].name, "lora_b"))
                for (int64_t j = 0; j < ln->tensors[i].ne0 * ln->tensors[i].ne1; j++)
                    ln->params[ln->tensors[i].off + (size_t)j] = 0.05f * sinf((float)(j + i));
        ur_tbatch b = batch(m->hp.n_vocab);
        ur_tctx *c = ur_tctx_new(ln, 64, 0, 2, &err);
        int got;
        ur_grad_zero(ln);
        const double l_lora = ur_tctx_step(c, ln, &b, 1.0f, (ur_tdrop){0}, &got);
        ur_tctx_free(c);
        ur_tsave_opts so = {.name = "merged", .type = UR_TYPE_F32, .tok_src = m->gguf};
        REQUIRE(ur_tnet_save(ln, &so, merged, &err) == 0);
        REQUIRE(ur_tnet_save_adapter(ln, adapter, &err) == 0);
        ur_model *mm = ur_model_load(merged, &err);
        REQUIRE(mm);
        ur_tnet *fn = ur_tnet_from_model(mm, &err);
        REQUIRE(fn);
        c = ur_tctx_new(fn, 64, 0, 2, &err);
        ur_grad_zero(fn);
        const double l_full = ur_tctx_step(c, fn, &b, 1.0f, (ur_tdrop){0}, &got);
        ur_tctx_free(c);
        CHECKF(fabs(l_lora - l_full) < 1e-4 * fabs(l_full), "%s: loss %g vs merged %g", a->arch, l_lora, l_full);
        double worst = 0;
        for (int l = 0; l < ln->hp.n_layers; l++) {
            const ur_tlayer *LL = &ln->layers[l], *FL = &fn->layers[l];
            const ur_tlin *ls[7] = {&LL->q, &LL->k, &LL->v, &LL->o, &LL->gate, &LL->up, &LL->down};
            const ur_tlin *fs[7] = {&FL->q, &FL->k, &FL->v, &FL->o, &FL->gate, &FL->up, &FL->down};
            for (int j = 0; j < 7; j++) {
                const ur_tlin *t = ls[j];
                if (!t->r) continue;
                const float *G = fs[j]->gw;
                double gmax = 1e-30;
                for (int e = 0; e < t->r * t->in; e++) gmax = fmax(gmax, fabs(t->ga[e]));
                for (int i = 0; i < t->r; i++)
                    for (int k = 0; k < t->in; k++) {
                        double s = 0;
                        for (int o = 0; o < t->out; o++) s += (double)t->b[o * t->r + i] * G[(size_t)o * t->in + k];
                        worst = fmax(worst, fabs(t->ga[i * t->in + k] - t->s * s) / gmax);
                    }
            }
        }
        CHECKF(worst < 1e-4, "%s: LoRA A gradients vs s B^T G: %g", a->arch, worst);
        /* the adapter as llama.cpp reads it */
        ur_gguf *g = ur_gguf_open(adapter, &err);
        REQUIRE(g);
        ur_str arch;
        CHECK(ur_gguf_get_str(g, "general.architecture", &arch, NULL) == 0 && arch.len == strlen(a->arch) &&
              !memcmp(arch.ptr, a->arch, arch.len));
        if (m->fused_qkv) {
            const ur_gguf_tensor *ta = ur_gguf_find_tensor(g, "blk.1.attn_qkv.weight.lora_a");
            const ur_gguf_tensor *tb = ur_gguf_find_tensor(g, "blk.1.attn_qkv.weight.lora_b");
            CHECK(!ur_gguf_find_tensor(g, "blk.1.attn_q.weight.lora_a") && ta && tb);
            CHECK(ur_gguf_find_tensor(g, "blk.0.ffn_up.weight.lora_a") && !ur_gguf_find_tensor(g, "blk.0.ffn_gate.weight.lora_a"));
            if (ta && tb) {
                const int64_t in = ta->ne[0], R = ta->ne[1], out = tb->ne[1];
                CHECK(R == 6 && in == 64 && out == m->hp.q_dim + 2 * m->hp.kv_dim && tb->ne[0] == R);
                /* (alpha / R) B A equals s B_p A_p on the q rows (k has no adapter: zero rows) */
                const float *A = ta->data, *B = tb->data;
                const ur_tlin *q = &ln->layers[1].q;
                double e = 0, mx = 1e-30;
                for (int o = 0; o < out; o++)
                    for (int i = 0; i < in; i += 5) {
                        double f = 0, want = 0;
                        for (int r = 0; r < R; r++) f += (double)B[o * R + r] * A[r * in + i];
                        f *= 6.0 / (double)R;
                        if (o < q->out)
                            for (int r = 0; r < q->r; r++) want += (double)q->b[o * q->r + r] * q->a[r * in + i];
                        if (o < q->out) want *= q->s;
                        const int is_k = o >= q->out && o < q->out + m->hp.kv_dim;
                        if (is_k) want = 0;
                        if (o >= q->out + m->hp.kv_dim) continue; /* v: checked by symmetry with q */
                        e = fmax(e, fabs(f - want)), mx = fmax(mx, fabs(want));
                    }
                CHECKF(e < 1e-5 * mx + 1e-9, "fused adapter delta differs by %g (max %g)", e, mx);
            }
        }
        ur_gguf_close(g);
        ur_tnet_free(fn);
        ur_model_free(mm);
        ur_tnet_free(ln);
        ur_model_free(m);
    }
}

/* LoRA on a quantized (Q4_K) qwen2 and a Q8_0 gemma3 base: a few AdamW steps on one batch lower
 * the loss. */
static void lora_on_quantized_base_trains(void) {
    const struct { int spec, type; } cases[2] = {{0, UR_TYPE_Q4_K}, {3, UR_TYPE_Q8_0}};
    for (int ci = 0; ci < 2; ci++) {
        const arch_spec *a = &SPECS[cases[ci].spec];
        char name[64];
        snprintf(name, sizeof name, "q-%s.gguf", a->arch);
        const char *p = synth(a, cases[ci].type, name);
        REQUIRE(p);
        ur_err err = {{0}};
        ur_model *m = ur_model_load(p, &err);
        REQUIRE(m);
        ur_tnet *n = ur_tnet_lora(m, 4, 8.0f, UR_LORA_ALL, 1, &err);
        REQUIRE(n);
        ur_tctx *c = ur_tctx_new(n, 64, 0, 2, &err);
        REQUIRE(c);
        ur_tbatch b = batch(m->hp.n_vocab);
        float *mo = calloc(n->n_params, sizeof(float)), *vo = calloc(n->n_params, sizeof(float));
        const ur_adamw opt = {0.9f, 0.999f, 1e-8f, 0.0f};
        double first = 0, last = 0;
        for (int step = 1; step <= 8; step++) {
            int got;
            ur_grad_zero(n);
            const double l = ur_tctx_step(c, n, &b, 1.0f, (ur_tdrop){0}, &got);
            if (step == 1) first = l;
            last = l;
            ur_adamw_step(n, mo, vo, step, 3e-3f, &opt, ur_tctx_pool(c));
        }
        printf("# LoRA on %s %s: loss %.4f -> %.4f\n", ur_type_name(cases[ci].type), a->arch, first, last);
        CHECKF(last < first * 0.97, "%s: loss %g -> %g", a->arch, first, last);
        free(mo), free(vo);
        ur_tctx_free(c);
        ur_tnet_free(n);
        ur_model_free(m);
    }
}

int main(void) {
    th_suite = "train_arch";
    RUN(full_grads_match_loss);
    RUN(saved_loss_matches_engine);
    RUN(lora_grads_and_fused_adapter);
    RUN(lora_on_quantized_base_trains);
    TEST_MAIN_END();
}
