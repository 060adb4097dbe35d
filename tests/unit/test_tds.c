/* Token distribution shift: the per-position statistics against hand-computed
 * values (ranks with ties, top 3, probabilities, KL), the two sanity checks of the
 * issue (a model against itself: all unshifted, KL = 0; a model against a copy with
 * output rows swapped: every rank known by construction), the tokenizer check, the
 * seam between prompt and answer, and the summary. The CLI tests (tests/cli/
 * test_tds.sh) cover ranks against `urial logits`, resume, shards and the report. */
#include <math.h>

#include "harness.h"
#include "urial/generate.h"
#include "urial/model.h"
#include "urial/tds.h"
#include "urial/tensor.h"

static int near(double a, double b, double tol) { return fabs(a - b) <= tol * (1 + fabs(b)); }

/* ---- one row ------------------------------------------------------------------ */
static void row_statistics(void) {
    /* base logits: ids 2 and 5 tie at 3.0 (2 ranks first), then 1.0 at id 0 */
    float b[6] = {1.0f, -2.0f, 3.0f, 0.5f, -1.0f, 3.0f};
    ur_tds_pos p;
    ur_tds_row(b, b, 6, 5, UR_TDS_RANK_GIVEN, &p);
    CHECK(p.rank == 2 && p.cls == UR_TDS_MARGINAL);
    CHECK(p.top[0] == 2 && p.top[1] == 5 && p.top[2] == 0);
    CHECK(p.kl_ab == 0.0 && p.kl_ba == 0.0 && p.kl_topk == 0.0); /* identical rows: exactly zero */
    double z = 0;
    for (int i = 0; i < 6; i++) z += exp((double)b[i]);
    CHECK(near(p.p_base, exp(3.0) / z, 1e-12) && near(p.p_align, p.p_base, 1e-15));
    CHECK(near(p.top_p[2], exp(1.0) / z, 1e-12));
    ur_tds_row(b, b, 6, 2, UR_TDS_RANK_GIVEN, &p);
    CHECK(p.rank == 1 && p.cls == UR_TDS_UNSHIFTED);
    ur_tds_row(b, b, 6, 3, UR_TDS_RANK_GIVEN, &p);
    CHECK(p.rank == 4 && p.cls == UR_TDS_SHIFTED);
    ur_tds_row(b, b, 6, 1, UR_TDS_RANK_GIVEN, &p);
    CHECK(p.rank == 6);
    CHECK(ur_tds_class_of(1) == UR_TDS_UNSHIFTED && ur_tds_class_of(3) == UR_TDS_MARGINAL &&
          ur_tds_class_of(4) == UR_TDS_SHIFTED && !strcmp(ur_tds_class_name(UR_TDS_SHIFTED), "shifted"));

    /* two tokens: KL(a || b) = sum a_i ln(a_i / b_i) by hand; large logits stay finite */
    float lb[2] = {1000.0f, 1000.0f + logf(3.0f)}, la[2] = {-50.0f, -50.0f + logf(1.0f / 3.0f)};
    ur_tds_row(lb, la, 2, 0, UR_TDS_RANK_GIVEN, &p);
    /* the exact softmax of the float logits (1000 + ln 3 is rounded to float's 6e-5 spacing) */
    double db = (double)lb[1] - lb[0], da = (double)la[1] - la[0];
    double pb0 = 1 / (1 + exp(db)), pb1 = 1 - pb0, pa0 = 1 / (1 + exp(da)), pa1 = 1 - pa0;
    CHECKF(near(p.kl_ab, pa0 * log(pa0 / pb0) + pa1 * log(pa1 / pb1), 1e-9) && near(p.kl_ab, 0.5 * log(3.0), 1e-4),
           "kl %.9g", p.kl_ab);
    CHECKF(near(p.kl_ba, pb0 * log(pb0 / pa0) + pb1 * log(pb1 / pa1), 1e-9), "kl_ba %.9g", p.kl_ba);
    /* two tokens: both top-30 lists hold both, so the top-k KL is the full KL(base || aligned) */
    CHECKF(near(p.kl_topk, p.kl_ba, 1e-9) && near(p.tp, p.p_base, 1e-9), "kl_topk %.9g tp %.9g", p.kl_topk, p.tp);
    CHECK(near(p.p_base, pb0, 1e-9) && near(p.p_align, pa0, 1e-9) && p.rank == 2);
    CHECK(p.top[0] == 1 && p.top[1] == 0 && p.top[2] == -1 && p.top_p[2] == 0);
    /* ranking the aligned model's own top token: aligned logits peak at id 0 */
    ur_tds_row(lb, la, 2, 1, UR_TDS_RANK_ALIGNED, &p);
    CHECK(p.token == 1 && p.aligned_top == 0 && p.ranked == 0 && p.rank == 2 && p.cls == UR_TDS_MARGINAL);
    CHECK(near(p.p_align, pa0, 1e-9) && near(p.p_base, pb0, 1e-9));
    CHECK(ur_tds_tr(1) == 0 && ur_tds_tr(30) == 29 && ur_tds_tr(31) == UR_TDS_TR_ABSENT);
}

/* AlignTDS's top-k KL against a hand computation: 40 tokens, the base's top 30 are
 * ids 0..29, the aligned model's 10..39 (shared 10..29); the weights are each list's
 * softmax, the sum runs over the shared tokens, w_base ln(w_base / w_align). */
static void topk_kl_by_hand(void) {
    float b[40], a[40];
    for (int i = 0; i < 40; i++) b[i] = i < 30 ? 2.0f - 0.05f * i : -50.0f, a[i] = i >= 10 ? 1.0f + 0.03f * (i % 7) : -60.0f;
    ur_tds_pos p;
    ur_tds_row(b, a, 40, 12, UR_TDS_RANK_GIVEN, &p);
    double sb = 0, sa = 0, kl = 0;
    for (int i = 0; i < 30; i++) sb += exp((double)b[i]);
    for (int i = 10; i < 40; i++) sa += exp((double)a[i]);
    for (int i = 10; i < 30; i++) {
        double wb = exp((double)b[i]) / sb, wa = exp((double)a[i]) / sa;
        kl += wb * log(wb / wa);
    }
    CHECKF(near(p.kl_topk, kl, 1e-9), "kl_topk %.12g, by hand %.12g", p.kl_topk, kl);
    CHECKF(near(p.tp, exp((double)b[12]) / sb, 1e-12), "tp %.12g", p.tp);
    /* the aligned top token (ties by id: 13, 20, 27 share the largest logit; 13 first) ranked under the base */
    ur_tds_row(b, a, 40, 12, UR_TDS_RANK_ALIGNED, &p);
    CHECKF(p.aligned_top == 13 && p.ranked == 13 && p.rank == 14 && p.cls == UR_TDS_SHIFTED, "top %d rank %d",
           p.aligned_top, p.rank);
    CHECK(near(p.tp, exp((double)b[13]) / sb, 1e-12) && near(p.kl_topk, kl, 1e-12));
    /* a ranked token outside the base's top 30: TP 0, TR 50 */
    for (int i = 0; i < 40; i++) a[i] = i >= 30 ? 1.0f : -60.0f;
    ur_tds_row(b, a, 40, 35, UR_TDS_RANK_ALIGNED, &p);
    CHECK(p.aligned_top == 30 && p.tp == 0 && p.rank == 31 && ur_tds_tr(p.rank) == UR_TDS_TR_ABSENT);
}

/* ---- models --------------------------------------------------------------------- */
static const char *synth_model(const char *name, uint64_t seed, const char *vocab) {
    static char paths[4][512];
    static int k;
    char *p = paths[k++ % 4];
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.dim = 64, sp.n_layers = 2, sp.n_heads = 4, sp.n_kv_heads = 2, sp.ff = 128, sp.n_ctx = 256;
    sp.type = UR_TYPE_F32; /* untied, F32 output.weight: rows can be swapped in place */
    sp.scale = 0.3f;
    sp.seed = seed;
    sp.vocab_path = vocab;
    return th_synth(&sp, name, p, 512);
}

/* Copy `src` to `dst` with rows x<->y of output.weight swapped for each pair. */
static int swap_rows(const char *src, const char *dst, const int32_t (*pairs)[2], int n) {
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(src, &err);
    if (!g) return -1;
    const ur_gguf_tensor *t = ur_gguf_find_tensor(g, "output.weight");
    size_t len = g->size;
    char *buf = malloc(len);
    if (!t || !buf) return ur_gguf_close(g), free(buf), -1;
    memcpy(buf, g->base, len);
    const size_t row = t->nbytes / (size_t)t->ne[1], off = g->data_offset + t->offset;
    char tmp[4096];
    for (int i = 0; i < n && row <= sizeof tmp; i++) {
        char *a = buf + off + (size_t)pairs[i][0] * row, *b = buf + off + (size_t)pairs[i][1] * row;
        memcpy(tmp, a, row), memcpy(a, b, row), memcpy(b, tmp, row);
    }
    ur_gguf_close(g);
    FILE *f = fopen(dst, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f) fclose(f);
    free(buf);
    return ok ? 0 : -1;
}

/* rank of `tok` in a logits row: 1 + larger + (equal with a lower id) */
static int rank_in(const float *row, int nv, int tok) {
    int r = 1;
    for (int i = 0; i < nv; i++) r += row[i] > row[tok] || (row[i] == row[tok] && i < tok);
    return r;
}

/* The aligned model A against (1) itself and (2) B = A with output rows X<->Y and
 * X2<->Z swapped. B's hidden states are A's, so B's logits are A's with those
 * entries exchanged: the base rank of o_t is A's rank of pi(o_t), and KL is
 * sum_i pA_i ln(pA_i / pA_pi(i)). Y is A's runner-up where o_t = X first occurs
 * (so eta = 2 there: marginal), Z its 10th where X2 first occurs (eta = 10: shifted). */
static void self_and_swapped_rows(void) {
    const char *pa = synth_model("a.gguf", 11, NULL);
    REQUIRE(pa);
    ur_err err = {{0}};
    ur_model *A = ur_model_load(pa, &err);
    REQUIRE(A);
    const int nv = A->hp.n_vocab, np = 6, T = 40;
    ur_ctx *ca = ur_ctx_new(A, (ur_ctx_params){.n_ctx = 128, .n_threads = 2}, &err);
    ur_ctx *cs = ur_ctx_new(A, (ur_ctx_params){.n_ctx = 128, .n_threads = 2}, &err);
    REQUIRE(ca && cs);
    int32_t seq[6 + 41] = {1, 72, 101, 108, 108, 111};
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = T;
    gp.ignore_eog = 1;
    gp.tokens = seq + np;
    gp.tokens_cap = T;
    ur_gen_result r;
    REQUIRE(ur_generate(ca, seq, np, &gp, NULL, NULL, &r, &err) == 0 && r.n_gen == T);
    ur_buf_free(&r.text);
    const int n = np + T;

    /* (1) A against A on its own greedy answer: unshifted everywhere, KL exactly 0 */
    ur_tds_pos pos[40];
    const ur_tds_seq S = {seq, n, np};
    for (int mode = 0; mode < 2; mode++) {
        REQUIRE(ur_tds_score(cs, ca, &S, &S, mode, pos, &err) == 0);
        int all1 = 1, kl0 = 1;
        for (int t = 0; t < T; t++)
            all1 &= pos[t].rank == 1 && pos[t].token == seq[np + t] && pos[t].aligned_top == seq[np + t],
                kl0 &= pos[t].kl_ab == 0.0 && pos[t].kl_ba == 0.0 && pos[t].kl_topk == 0.0;
        CHECKF(all1 && kl0, "mode %d", mode);
    }

    /* A's teacher-forced logits, the reference for (2) */
    float *L = malloc(sizeof(float) * (size_t)n * nv);
    REQUIRE(L);
    ur_ctx_truncate(ca, 0);
    REQUIRE(ur_decode(ca, seq, n - 1, L, 1, &err) == 0);
    const float *row = NULL;
    int32_t X = seq[np], X2 = -1, Y = -1, Z = -1, t0 = 0, t1 = -1;
    row = L + (size_t)(np - 1 + t0) * nv;
    for (int i = 0; i < nv; i++)
        if (rank_in(row, nv, i) == 2) Y = i;
    for (int t = 1; t < T && t1 < 0; t++)
        if (seq[np + t] != X && seq[np + t] != Y) t1 = t, X2 = seq[np + t];
    REQUIRE(Y >= 0 && t1 > 0);
    row = L + (size_t)(np - 1 + t1) * nv;
    for (int i = 0; i < nv; i++)
        if (rank_in(row, nv, i) == 10) Z = i;
    REQUIRE(Z >= 0 && Z != X && Z != Y);
    int32_t pairs[2][2] = {{X, Y}, {X2, Z}};
    char pb[600];
    snprintf(pb, sizeof pb, "%s/b.gguf", th_tmpdir());
    REQUIRE(swap_rows(pa, pb, (const int32_t(*)[2])pairs, 2) == 0);
    ur_model *B = ur_model_load(pb, &err);
    REQUIRE(B);
    ur_ctx *cb = ur_ctx_new(B, (ur_ctx_params){.n_ctx = 128, .n_threads = 2}, &err);
    REQUIRE(cb);
    REQUIRE(ur_tds_score(cb, ca, &S, &S, UR_TDS_RANK_GIVEN, pos, &err) == 0);
    int bad = -1, cls[3] = {0, 0, 0};
    for (int t = 0; t < T && bad < 0; t++) {
        const float *ra = L + (size_t)(np - 1 + t) * nv;
        int o = seq[np + t];
        int pi_o = o == X ? Y : o == Y ? X : o == X2 ? Z : o == Z ? X2 : o;
        double lse = -INFINITY, m = ra[0];
        for (int i = 0; i < nv; i++) m = fmax(m, ra[i]);
        double s = 0;
        for (int i = 0; i < nv; i++) s += exp(ra[i] - m);
        lse = m + log(s);
        double kl = 0;
        for (int k = 0; k < 2; k++) { /* only the swapped entries contribute */
            double p1 = exp(ra[pairs[k][0]] - lse), p2 = exp(ra[pairs[k][1]] - lse);
            kl += (p1 - p2) * (log(p1) - log(p2));
        }
        int want = rank_in(ra, nv, pi_o);
        if (pos[t].rank != want || pos[t].cls != ur_tds_class_of(want) || !near(pos[t].kl_ab, kl, 1e-6) ||
            !near(pos[t].p_base, exp(ra[pi_o] - lse), 1e-6) || !near(pos[t].p_align, exp(ra[o] - lse), 1e-9))
            bad = t;
        cls[pos[t].cls]++;
    }
    CHECKF(bad < 0, "position %d: rank %d kl %g", bad, bad >= 0 ? pos[bad].rank : 0, bad >= 0 ? pos[bad].kl_ab : 0);
    /* the hand-checked positions: t0 marginal (eta 2), t1 shifted (eta 10), and some unshifted */
    CHECKF(pos[t0].rank == 2 && pos[t0].cls == UR_TDS_MARGINAL, "t0 rank %d", pos[t0].rank);
    CHECKF(pos[t1].rank == 10 && pos[t1].cls == UR_TDS_SHIFTED, "t1 rank %d", pos[t1].rank);
    CHECKF(cls[0] > 0 && cls[1] > 0 && cls[2] > 0, "classes %d %d %d", cls[0], cls[1], cls[2]);

    /* errors: nothing to score; an answer token out of range */
    const ur_tds_seq E = {seq, np, np};
    CHECK(ur_tds_score(cb, ca, &E, &E, 0, pos, &err) == -1 && strstr(err.msg, "nothing to score"));
    int32_t badseq[3] = {1, 5, nv};
    const ur_tds_seq Bad = {badseq, 3, 2};
    CHECK(ur_tds_score(cb, ca, &Bad, &Bad, 0, pos, &err) == -1 && strstr(err.msg, "out of range"));
    const ur_tds_seq Other = {seq, n - 1, np}; /* another answer length */
    CHECK(ur_tds_score(cb, ca, &Other, &S, 0, pos, &err) == -1 && strstr(err.msg, "same answer tokens"));
    free(L);
    ur_ctx_free(ca), ur_ctx_free(cs), ur_ctx_free(cb);
    ur_model_free(A), ur_model_free(B);
}

/* Two contexts: the base reads a 5-token input, the aligned model a 9-token one, then
 * the same 40 answer tokens; answer position t must pair the base row after its
 * input + o_<t with the aligned row after its input + o_<t. Checked against
 * ur_tds_row on each sequence's own teacher-forced logits, with chunks of 7 tokens
 * (so the two sequences' chunks never line up) and of 256. */
static void two_contexts(void) {
    const char *pa = synth_model("c1.gguf", 21, NULL), *pb = synth_model("c2.gguf", 22, NULL);
    REQUIRE(pa && pb);
    ur_err err = {{0}};
    ur_model *A = ur_model_load(pa, &err), *B = ur_model_load(pb, &err);
    REQUIRE(A && B);
    const int nv = A->hp.n_vocab, T = 40;
    int32_t sb[5 + 40] = {1, 80, 81, 82, 83}, sa[9 + 40] = {1, 65, 66, 67, 68, 69, 70, 71, 72};
    for (int t = 0; t < T; t++) sb[5 + t] = sa[9 + t] = 97 + (t * 7) % 26;
    const ur_tds_seq Sb = {sb, 5 + T, 5}, Sa = {sa, 9 + T, 9};
    for (int nbat = 7; nbat <= 256; nbat += 249) {
        ur_ctx *ca = ur_ctx_new(A, (ur_ctx_params){.n_ctx = 128, .n_threads = 2, .n_batch = nbat}, &err);
        ur_ctx *cb = ur_ctx_new(B, (ur_ctx_params){.n_ctx = 128, .n_threads = 2, .n_batch = nbat}, &err);
        REQUIRE(ca && cb);
        float *La = malloc(sizeof(float) * (size_t)Sa.n * nv), *Lb = malloc(sizeof(float) * (size_t)Sb.n * nv);
        REQUIRE(La && Lb);
        REQUIRE(ur_decode(ca, sa, Sa.n - 1, La, 1, &err) == 0 && ur_decode(cb, sb, Sb.n - 1, Lb, 1, &err) == 0);
        ur_tds_pos pos[40], want;
        for (int mode = 0; mode < 2; mode++) {
            REQUIRE(ur_tds_score(cb, ca, &Sb, &Sa, mode, pos, &err) == 0);
            int bad = -1;
            for (int t = 0; t < T && bad < 0; t++) {
                ur_tds_row(Lb + (size_t)(4 + t) * nv, La + (size_t)(8 + t) * nv, nv, sa[9 + t], mode, &want);
                if (pos[t].token != want.token || pos[t].aligned_top != want.aligned_top || pos[t].rank != want.rank ||
                    pos[t].p_base != want.p_base || pos[t].p_align != want.p_align || pos[t].kl_ab != want.kl_ab ||
                    pos[t].kl_ba != want.kl_ba || pos[t].kl_topk != want.kl_topk || pos[t].tp != want.tp ||
                    pos[t].top[0] != want.top[0])
                    bad = t;
            }
            CHECKF(bad < 0, "n_batch %d mode %d: position %d differs", nbat, mode, bad);
        }
        free(La), free(Lb);
        ur_ctx_free(ca), ur_ctx_free(cb);
    }
    ur_model_free(A), ur_model_free(B);
}

/* Different tokenizers are refused with one line naming both files. */
static void refuses_other_vocab(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    char v[4300];
    snprintf(v, sizeof v, "%s/tokenizer/llama-spm/vocab-llama-spm.gguf", fx);
    const char *p1 = synth_model("v1.gguf", 1, NULL), *p2 = synth_model("v2.gguf", 2, NULL);
    const char *p3 = synth_model("v3.gguf", 3, v);
    REQUIRE(p1 && p2 && p3);
    ur_err err = {{0}};
    ur_model *a = ur_model_load(p1, &err), *b = ur_model_load(p2, &err), *c = ur_model_load(p3, &err);
    REQUIRE(a && b && c);
    CHECK(ur_tds_same_vocab(a, b, &err) == 0);
    CHECK(ur_tds_same_vocab(a, c, &err) == -1 && strstr(err.msg, "v1.gguf") && strstr(err.msg, "v3.gguf") &&
          strstr(err.msg, "different tokenizers") && !strchr(err.msg, '\n'));
    ur_model_free(a), ur_model_free(b), ur_model_free(c);
}

/* The seam between prompt and answer, EOS text, the format's separator, token texts. */
static void answer_tokens(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    char p[4300];
    snprintf(p, sizeof p, "%s/tokenizer/llama-spm/vocab-llama-spm.gguf", fx);
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(p, &err);
    REQUIRE(g);
    ur_vocab *v = ur_vocab_load(g, &err);
    REQUIRE(v);
    const char *prompt = "<s>[INST] Hi [/INST] ", *ans = "Thank you!</s>";
    ur_tds_seq s;
    REQUIRE(ur_tds_seq_text(v, prompt, strlen(prompt), ans, strlen(ans), 0, 1, 0, UR_TDS_JOINT, &s, &err) == 0);
    /* the prompt's trailing space joins the answer's first word: "]" ends the input */
    size_t len;
    const char *last = ur_vocab_piece(v, s.ids[s.n_context - 1], &len);
    CHECK(len == 1 && last[0] == ']' && s.ids[0] == 1);
    const char *first = ur_vocab_piece(v, s.ids[s.n_context], &len);
    CHECKF(len == 8 && !memcmp(first, "\xE2\x96\x81Thank", 8), "first answer token '%.*s'", (int)len, first);
    CHECK(s.ids[s.n - 1] == ur_vocab_eos(v) && s.n - s.n_context == 4); /* ▁Thank ▁you ! </s> */
    ur_tds_seq_free(&s);
    CHECK(ur_tds_seq_text(v, prompt, strlen(prompt), "", 0, 0, 1, 0, UR_TDS_JOINT, &s, &err) == -1 &&
          strstr(err.msg, "empty"));
    /* separate, as Hugging Face's encode: BOS added before the spelled-out <s> (two BOS), the
     * prompt ends in a lone "▁", the answer alone starts with "▁Thank" */
    REQUIRE(ur_tds_seq_text(v, prompt, strlen(prompt), ans, strlen(ans), 1, 1, 0, UR_TDS_SEPARATE, &s, &err) == 0);
    last = ur_vocab_piece(v, s.ids[s.n_context - 1], &len);
    CHECKF(s.ids[0] == 1 && s.ids[1] == 1 && len == 3 && !memcmp(last, "\xE2\x96\x81", 3), "ids %d %d, last '%.*s'", s.ids[0],
           s.ids[1], (int)len, last);
    first = ur_vocab_piece(v, s.ids[s.n_context], &len);
    CHECK(len == 8 && !memcmp(first, "\xE2\x96\x81Thank", 8) && s.n - s.n_context == 4 && s.ids[s.n - 1] == 2);
    ur_tds_seq_free(&s);
    ur_buf w = {0};
    ur_tds_aligntds_prompt("Hi?", 3, &w);
    CHECK(w.len == strlen("# Query: \n ```Hi?``` \n\n \n# Answer: \n ```") &&
          !strcmp(w.data, "# Query: \n ```Hi?``` \n\n \n# Answer: \n ```"));
    ur_buf_free(&w);

    ur_buf t = {0};
    ur_tds_token_text(v, 3 + 0x0A, &t); /* <0x0A>: a byte token that is valid UTF-8 on its own */
    CHECK(t.len == 1 && t.data[0] == '\n');
    t.len = 0;
    ur_tds_token_text(v, 0xE2 + 3, &t); /* a lone byte of a multi-byte character: its piece */
    CHECK(t.len == 6 && !memcmp(t.data, "<0xE2>", 6));
    t.len = 0;
    ur_tds_token_text(v, 2, &t);
    CHECK(t.len == 4 && !memcmp(t.data, "</s>", 4));
    ur_buf_free(&t);

    ur_chat *f = ur_chat_template("llama-2", &err), *u = ur_chat_urial("urial-k0", &err);
    REQUIRE(f && u);
    ur_buf sep = {0};
    CHECK(ur_tds_answer_sep(f, &sep, &err) == 0 && sep.len == 1 && sep.data[0] == ' ');
    sep.len = 0;
    CHECK(ur_tds_answer_sep(u, &sep, &err) == 0 && sep.len == 0);
    ur_buf_free(&sep);
    ur_chat_free(f), ur_chat_free(u);
    ur_vocab_free(v);
    ur_gguf_close(g);
}

/* ---- summary ---------------------------------------------------------------------- */
#define CFG "\"config\":{\"base\":\"b\",\"aligned\":\"a\",\"rank\":\"aligned\"}"
#define POS(p, tok, text, top, rank, kab, kba, ktop, tp)                                                               \
    "{\"pos\":" #p ",\"token\":" #tok ",\"text\":\"" text "\",\"aligned_top\":" #top ",\"rank\":" #rank                   \
    ",\"p_base\":0.1,\"p_align\":0.6,\"tp\":" #tp ",\"kl_align_base\":" #kab ",\"kl_base_align\":" #kba                  \
    ",\"kl_topk\":" #ktop ",\"top\":[[5,\"A\",0.5],[7,\"C\",0.2],[8,\"D\",0.1]]}"
static const char *REC[3] = {
    "{\"id\":7,\"input_index\":1," CFG ",\"instruction\":\"q7\",\"tokens\":[" POS(0, 5, "A", 5, 1, 0.25, 0.2, 0.1, 0.6)
    "," "{\"pos\":1,\"token\":6,\"text\":\"B\",\"aligned_top\":9,\"aligned_top_text\":\" Well\",\"rank\":9,\"p_base\":0.01,"
    "\"p_align\":0.9,\"tp\":0,\"kl_align_base\":1.5,\"kl_base_align\":1,\"kl_topk\":-0.1,\"top\":[[5,\"A\",0.5]]}]}",
    "{\"id\":\"x\",\"input_index\":0," CFG ",\"instruction\":\"</script>\",\"tokens\":[" POS(0, 6, "B", 6, 3, 0.5, 0.4, 0.2, 0.1)
    "," POS(1, 6, "B", 6, 4, 0.75, 0.5, 0.3, 0.05) "," POS(2, 5, "A", 5, 1, 0, 0, 0, 0.9) "]}",
    "{\"id\":9,\"input_index\":2," CFG ",\"tokens\":[]}",
};

static void summary_numbers(void) {
    ur_buf s1 = {0}, s2 = {0}, html = {0};
    ur_err err = {{0}};
    REQUIRE(ur_tds_summarize("t.jsonl", REC, 3, &s1, &html, &err) == 0);
    const char *rev[3] = {REC[2], REC[0], REC[1]};
    REQUIRE(ur_tds_summarize("t.jsonl", rev, 3, &s2, NULL, &err) == 0);
    CHECK(s1.len == s2.len && !memcmp(s1.data, s2.data, s1.len)); /* any order: the same bytes */
    const char *want[] = {
        "\"examples\": 3,", "\"positions\": 5,", "\"counts\": {\"unshifted\": 2, \"marginal\": 1, \"shifted\": 2}",
        "\"ratios\": {\"unshifted\": 0.4, \"marginal\": 0.2, \"shifted\": 0.4}",
        "\"written_is_aligned_top\": {\"positions\": 5, \"count\": 4, \"ratio\": 0.8}",
        "\"align_base\": {\"mean\": 0.6,", "\"base_align\": {\"mean\": 0.42,", "\"aligntds_topk\": {\"mean\": 0.1,",
        "\"mean_tp\": 0.33,", "\"mean_tr\": 2.6,",
        "{\"n\": 5, \"positions\": 5, \"shifted\": 2, \"shifted_ratio\": 0.4, \"share_of_shifted\": 1}",
        "{\"from\": 0, \"to\": 4, \"positions\": 5, \"unshifted\": 0.4, \"marginal\": 0.2, \"shifted\": 0.4, "
        "\"mean_kl_align_base\": 0.6}",
        "\"by_position\": {\n    \"positions\": [2,2,1]", "\"shifted\": [0,1,0]", "\"kl_align_base\": [0.375,1.125,0]",
        "\"tr\": [1,5.5,0]", "\"by_relative_position\": {\n    \"positions\": [2,0,0,1,0,1,1,0,0,0]",
        "\"top_shifted\": [\n    {\"token\":6,\"text\":\"B\",\"count\":1},\n    {\"token\":9,\"text\":\" Well\",\"count\":1}\n  ]",
        "\"top_unshifted\": [\n    {\"token\":5,\"text\":\"A\",\"count\":2}\n  ]",
        "\"shifted_words\": [\n    {\"word\":\"BBA\",\"count\":1},\n    {\"word\":\"Well\",\"count\":1}\n  ]",
        "{\"id\":\"x\",\"input_index\":0,\"positions\":3,\"unshifted\":1,\"marginal\":1,\"shifted\":1,",
        "\"written_is_aligned_top\":1,\"mean_kl_align_base\":0.416667}", "{\"id\":9,\"input_index\":2,\"positions\":0,",
        "\"config\": {\"base\":\"b\",\"aligned\":\"a\",\"rank\":\"aligned\"}",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECKF(strstr(s1.data, want[i]), "missing %s in\n%s", want[i], s1.data);
    /* the page: the figures, the data with '<' escaped, the script */
    const char *figs[] = {"<svg id=\"fig-classes-1\"", "<svg id=\"fig-shifted-1\"", "<svg id=\"fig-words-1\"",
                          "<svg id=\"fig-shift-pos\"", "<svg id=\"fig-shift-rel\"", "<svg id=\"fig-tp\"",
                          "<svg id=\"fig-tr\"", "<svg id=\"fig-kl\"", "<table class=\"nums\" id=\"nums\">"};
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) CHECKF(strstr(html.data, figs[i]), "no %s", figs[i]);
    CHECK(strstr(html.data, "\\u003c/script>") && !strstr(html.data, "\"</script>"));
    CHECK(strstr(html.data, "<title>TDS: b vs a</title>") && strstr(html.data, "</html>"));
    ur_buf_free(&s1), ur_buf_free(&s2), ur_buf_free(&html);

    const char *bad[1] = {"{\"id\":1,\"tokens\":[{\"pos\":0,\"token\":1}]}"};
    ur_buf s = {0};
    CHECK(ur_tds_summarize("t.jsonl", bad, 1, &s, NULL, &err) == -1 && strstr(err.msg, "t.jsonl: example 1: position 0"));
    const char *bad2[1] = {"{\"id\":1}"};
    CHECK(ur_tds_summarize("t.jsonl", bad2, 1, &s, NULL, &err) == -1 && strstr(err.msg, "not a TDS record"));
    ur_buf_free(&s);
}

/* Two pairs in one page: a column and a series each, both in every legend. */
static void pairs_page(void) {
    const char *other[1] = {REC[1]};
    ur_tds_pair_records pr[2] = {{"pair one", "a.jsonl", REC, 3}, {"pair two", "b.jsonl", other, 1}};
    ur_buf s[2] = {{0}, {0}}, html = {0};
    ur_err err = {{0}};
    REQUIRE(ur_tds_summarize_pairs(pr, 2, s, &html, &err) == 0);
    CHECK(strstr(s[0].data, "\"examples\": 3,") && strstr(s[1].data, "\"examples\": 1,"));
    CHECK(strstr(html.data, "<svg id=\"fig-classes-2\"") && strstr(html.data, "<svg id=\"fig-words-2\""));
    const char *tp = strstr(html.data, "<svg id=\"fig-tp\"");
    REQUIRE(tp);
    const char *end = strstr(tp, "</svg>");
    int entries = 0;
    for (const char *q = tp; (q = strstr(q, "class=\"legend-entry\"")) && q < end; q++) entries++;
    CHECKF(entries == 4, "%d legend entries in fig-tp (2 pairs x P_base, TP)", entries); /* 2 pairs x 2 quantities */
    CHECK(strstr(tp, "pair two: TP (base top-30 renormalised)"));
    ur_buf_free(&s[0]), ur_buf_free(&s[1]), ur_buf_free(&html);
}

static void prefix_numbers(void) {
    const char *recs[2] = {
        "{\"id\":1,\"prefix\":[{\"k\":5,\"match\":\"1101\"},{\"k\":10,\"match\":\"\"}]}",
        "{\"id\":2,\"prefix\":[{\"k\":5,\"match\":\"0111\"},{\"k\":10,\"match\":\"11\"}]}",
    };
    ur_buf j = {0}, h = {0};
    ur_err err = {{0}};
    REQUIRE(ur_tds_prefix_summarize("p.jsonl", recs, 2, &j, &h, &err) == 0);
    CHECKF(strstr(j.data, "{\"k\": 5, \"answers\": 2, \"positions\": 8, \"matched\": 6, \"agreement\": 0.75, "
                          "\"mean_exact_run\": 1,") && strstr(j.data, "\"positions\": [2,2,2,2], \"agreement\": [0.5,1,0.5,1]") &&
           strstr(j.data, "{\"k\": 10, \"answers\": 1, \"positions\": 2, \"matched\": 2, \"agreement\": 1,"), "%s", j.data);
    CHECK(strstr(h.data, "<svg id=\"prefix-plot\"") && strstr(h.data, "data-k=\"10\""));
    ur_buf_free(&j), ur_buf_free(&h);
}

int main(void) {
    th_suite = "tds";
    RUN(row_statistics);
    RUN(topk_kl_by_hand);
    RUN(self_and_swapped_rows);
    RUN(two_contexts);
    RUN(refuses_other_vocab);
    RUN(answer_tokens);
    RUN(summary_numbers);
    RUN(pairs_page);
    RUN(prefix_numbers);
    TEST_MAIN_END();
}
