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
    ur_tds_row(b, b, 6, 5, &p);
    CHECK(p.rank == 2 && p.cls == UR_TDS_MARGINAL);
    CHECK(p.top[0] == 2 && p.top[1] == 5 && p.top[2] == 0);
    CHECK(p.kl == 0.0); /* identical rows: exactly zero */
    double z = 0;
    for (int i = 0; i < 6; i++) z += exp((double)b[i]);
    CHECK(near(p.p_base, exp(3.0) / z, 1e-12) && near(p.p_align, p.p_base, 1e-15));
    CHECK(near(p.top_p[2], exp(1.0) / z, 1e-12));
    ur_tds_row(b, b, 6, 2, &p);
    CHECK(p.rank == 1 && p.cls == UR_TDS_UNSHIFTED);
    ur_tds_row(b, b, 6, 3, &p);
    CHECK(p.rank == 4 && p.cls == UR_TDS_SHIFTED);
    ur_tds_row(b, b, 6, 1, &p);
    CHECK(p.rank == 6);
    CHECK(ur_tds_class_of(1) == UR_TDS_UNSHIFTED && ur_tds_class_of(3) == UR_TDS_MARGINAL &&
          ur_tds_class_of(4) == UR_TDS_SHIFTED && !strcmp(ur_tds_class_name(UR_TDS_SHIFTED), "shifted"));

    /* two tokens: KL(a || b) = sum a_i ln(a_i / b_i) by hand; large logits stay finite */
    float lb[2] = {1000.0f, 1000.0f + logf(3.0f)}, la[2] = {-50.0f, -50.0f + logf(1.0f / 3.0f)};
    ur_tds_row(lb, la, 2, 0, &p);
    /* the exact softmax of the float logits (1000 + ln 3 is rounded to float's 6e-5 spacing) */
    double db = (double)lb[1] - lb[0], da = (double)la[1] - la[0];
    double pb0 = 1 / (1 + exp(db)), pb1 = 1 - pb0, pa0 = 1 / (1 + exp(da)), pa1 = 1 - pa0;
    CHECKF(near(p.kl, pa0 * log(pa0 / pb0) + pa1 * log(pa1 / pb1), 1e-9) && near(p.kl, 0.5 * log(3.0), 1e-4), "kl %.9g",
           p.kl);
    CHECK(near(p.p_base, pb0, 1e-9) && near(p.p_align, pa0, 1e-9) && p.rank == 2);
    CHECK(p.top[0] == 1 && p.top[1] == 0 && p.top[2] == -1 && p.top_p[2] == 0);
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
    snprintf(p, 512, "%s/%s", th_tmpdir(), name);
    ur_err err = {{0}};
    if (ur_synth_write(&sp, p, &err)) {
        fprintf(stderr, "synth: %s\n", err.msg);
        return NULL;
    }
    return p;
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
    REQUIRE(ur_tds_score(cs, ca, seq, n, np, pos, &err) == 0);
    int all1 = 1, kl0 = 1;
    for (int t = 0; t < T; t++) all1 &= pos[t].rank == 1 && pos[t].token == seq[np + t], kl0 &= pos[t].kl == 0.0;
    CHECK(all1 && kl0);

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
    REQUIRE(ur_tds_score(cb, ca, seq, n, np, pos, &err) == 0);
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
        if (pos[t].rank != want || pos[t].cls != ur_tds_class_of(want) || !near(pos[t].kl, kl, 1e-6) ||
            !near(pos[t].p_base, exp(ra[pi_o] - lse), 1e-6) || !near(pos[t].p_align, exp(ra[o] - lse), 1e-9))
            bad = t;
        cls[pos[t].cls]++;
    }
    CHECKF(bad < 0, "position %d: rank %d kl %g", bad, bad >= 0 ? pos[bad].rank : 0, bad >= 0 ? pos[bad].kl : 0);
    /* the hand-checked positions: t0 marginal (eta 2), t1 shifted (eta 10), and some unshifted */
    CHECKF(pos[t0].rank == 2 && pos[t0].cls == UR_TDS_MARGINAL, "t0 rank %d", pos[t0].rank);
    CHECKF(pos[t1].rank == 10 && pos[t1].cls == UR_TDS_SHIFTED, "t1 rank %d", pos[t1].rank);
    CHECKF(cls[0] > 0 && cls[1] > 0 && cls[2] > 0, "classes %d %d %d", cls[0], cls[1], cls[2]);

    /* errors: nothing to score; an answer token out of range */
    CHECK(ur_tds_score(cb, ca, seq, np, np, pos, &err) == -1 && strstr(err.msg, "nothing to score"));
    int32_t badseq[3] = {1, 5, nv};
    CHECK(ur_tds_score(cb, ca, badseq, 3, 2, pos, &err) == -1 && strstr(err.msg, "out of range"));
    free(L);
    ur_ctx_free(ca), ur_ctx_free(cs), ur_ctx_free(cb);
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
    REQUIRE(ur_tds_seq_text(v, prompt, strlen(prompt), ans, strlen(ans), 0, 1, 0, &s, &err) == 0);
    /* the prompt's trailing space joins the answer's first word: "]" ends the input */
    size_t len;
    const char *last = ur_vocab_piece(v, s.ids[s.n_context - 1], &len);
    CHECK(len == 1 && last[0] == ']' && s.ids[0] == 1);
    const char *first = ur_vocab_piece(v, s.ids[s.n_context], &len);
    CHECKF(len == 8 && !memcmp(first, "\xE2\x96\x81Thank", 8), "first answer token '%.*s'", (int)len, first);
    CHECK(s.ids[s.n - 1] == ur_vocab_eos(v) && s.n - s.n_context == 4); /* ▁Thank ▁you ! </s> */
    ur_tds_seq_free(&s);
    CHECK(ur_tds_seq_text(v, prompt, strlen(prompt), "", 0, 0, 1, 0, &s, &err) == -1 && strstr(err.msg, "empty"));

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
static const char *REC[3] = {
    "{\"id\":7,\"input_index\":1,\"config\":{\"base\":\"b\",\"aligned\":\"a\"},\"instruction\":\"q7\",\"tokens\":["
    "{\"pos\":0,\"token\":5,\"text\":\"A\",\"rank\":1,\"p_base\":0.5,\"p_align\":0.6,\"kl\":0.25,\"top\":[[5,\"A\",0.5],[6,\"B\",0.2],[7,\"C\",0.1]]},"
    "{\"pos\":1,\"token\":6,\"text\":\"B\",\"rank\":9,\"p_base\":0.01,\"p_align\":0.9,\"kl\":1.5,\"top\":[[5,\"A\",0.5],[7,\"C\",0.2],[8,\"D\",0.1]]}]}",
    "{\"id\":\"x\",\"input_index\":0,\"config\":{\"base\":\"b\",\"aligned\":\"a\"},\"instruction\":\"</script>\",\"tokens\":["
    "{\"pos\":0,\"token\":6,\"text\":\"B\",\"rank\":3,\"p_base\":0.1,\"p_align\":0.7,\"kl\":0.5,\"top\":[[5,\"A\",0.5],[7,\"C\",0.2],[6,\"B\",0.1]]},"
    "{\"pos\":1,\"token\":6,\"text\":\"B\",\"rank\":4,\"p_base\":0.05,\"p_align\":0.7,\"kl\":0.75,\"top\":[[5,\"A\",0.5],[7,\"C\",0.2],[8,\"D\",0.1]]},"
    "{\"pos\":2,\"token\":5,\"text\":\"A\",\"rank\":1,\"p_base\":0.9,\"p_align\":0.9,\"kl\":0,\"top\":[[5,\"A\",0.9],[7,\"C\",0.05],[8,\"D\",0.01]]}]}",
    "{\"id\":9,\"input_index\":2,\"tokens\":[]}",
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
        "\"ratios\": {\"unshifted\": 0.4, \"marginal\": 0.2, \"shifted\": 0.4}", "\"mean_kl\": 0.6,",
        "{\"n\": 5, \"positions\": 5, \"shifted\": 2, \"shifted_ratio\": 0.4, \"share_of_shifted\": 1}",
        "{\"from\": 0, \"to\": 4, \"positions\": 5, \"unshifted\": 0.4, \"marginal\": 0.2, \"shifted\": 0.4, \"mean_kl\": 0.6}",
        "\"positions\": [2,2,1]", "\"shifted\": [0,1,0]", "\"mean_kl\": [0.375,1.125,0]",
        "\"top_shifted\": [\n    {\"token\":6,\"text\":\"B\",\"count\":2}\n  ]",
        "\"top_unshifted\": [\n    {\"token\":5,\"text\":\"A\",\"count\":2}\n  ]",
        "{\"id\":\"x\",\"input_index\":0,\"positions\":3,\"unshifted\":1,\"marginal\":1,\"shifted\":1,",
        "{\"id\":9,\"input_index\":2,\"positions\":0,", "\"config\": {\"base\":\"b\",\"aligned\":\"a\"}",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECKF(strstr(s1.data, want[i]), "missing %s in\n%s", want[i], s1.data);
    /* the page: both plots, the data with '<' escaped, the script */
    CHECK(strstr(html.data, "<svg id=\"ratio-plot\"") && strstr(html.data, "<svg id=\"shifted-plot\""));
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
    RUN(self_and_swapped_rows);
    RUN(refuses_other_vocab);
    RUN(answer_tokens);
    RUN(summary_numbers);
    RUN(prefix_numbers);
    TEST_MAIN_END();
}
