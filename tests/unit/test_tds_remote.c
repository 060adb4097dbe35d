/* TDS with a remote base (src/tds/remote.c): the request body, reading ranks from a
 * server's prompt logprobs (in the top K with a tie, beyond the top K, malformed
 * answers), and records with "rank":null / "kl":null through the summary and page.
 * End to end against urial serve: tests/cli/test_tds_remote.sh. */
#include <math.h>

#include "harness.h"
#include "urial/tds.h"

static void request_body(void) {
    const int32_t seq[4] = {1, 5, 7, 9};
    char *b = ur_tds_remote_body("b", seq, 4, 3, 0);
    REQUIRE(b);
    CHECKF(strstr(b, "\"model\":\"b\"") && strstr(b, "\"prompt\":[1,5,7,9]") && strstr(b, "\"max_tokens\":0") &&
               strstr(b, "\"echo\":true") && strstr(b, "\"logprobs\":3") && strstr(b, "\"return_tokens_as_token_ids\":true"),
           "%s", b);
    free(b);
}

/* seq 1 5 | 7 9: the answer is 7 (in the top 3, tied with the lower id 3: η = 3) and
 * 9 (not in the top 3: the server adds it as a 4th entry, η > 3) */
static const char RESP[] =
    "{\"choices\":[{\"text\":\"x\",\"logprobs\":{\"tokens\":[\"token_id:1\",\"token_id:5\",\"token_id:7\",\"token_id:9\"],"
    "\"token_logprobs\":[null,-2,-1,-5],\"top_logprobs\":[null,{\"token_id:5\":-2},"
    "{\"token_id:4\":-0.5,\"token_id:7\":-1,\"token_id:3\":-1},"
    "{\"token_id:2\":-0.1,\"token_id:4\":-0.2,\"token_id:6\":-0.3,\"token_id:9\":-5}]}}]}";

/* the aligned side as ur_tds_score_aligned leaves it: the written tokens 7 and 9 ranked
 * (as --rank given, or an aligned model whose top tokens they are); top-k lists empty */
static ur_tds_topk TK[2];
static void fill(ur_tds_pos *pos, int n, const int32_t *ranked) {
    for (int i = 0; i < n; i++) {
        memset(&pos[i], 0, sizeof pos[i]);
        pos[i].token = i ? 9 : 7;
        pos[i].ranked = ranked ? ranked[i] : pos[i].token;
        pos[i].aligned_top = pos[i].ranked;
        pos[i].p_align = 0.5;
        pos[i].kl_ab = pos[i].kl_ba = pos[i].kl_topk = pos[i].tp = pos[i].p_base = NAN;
        for (int j = 0; j < UR_TDS_TOPK; j++) TK[i].id[j] = -1;
    }
}

static void ranks_from_top_k(void) {
    int32_t seq[4] = {1, 5, 7, 9};
    const ur_tds_seq S = {seq, 4, 2};
    ur_tds_pos pos[2];
    ur_err err = {{0}};
    fill(pos, 2, NULL);
    REQUIRE(ur_tds_remote_parse(RESP, sizeof RESP - 1, &S, 3, TK, pos, &err) == 0);
    CHECK(pos[0].rank == 3 && pos[0].rank_gt == 0 && pos[0].cls == UR_TDS_MARGINAL);
    CHECK(fabs(pos[0].p_base - exp(-1.0)) < 1e-12 && isnan(pos[0].kl_ab) && isnan(pos[0].kl_topk) && pos[0].p_align == 0.5);
    CHECK(pos[0].top[0] == 4 && pos[0].top[1] == 3 && pos[0].top[2] == 7); /* ties: lower id first */
    CHECK(fabs(pos[0].top_p[0] - exp(-0.5)) < 1e-12);
    CHECK(pos[1].rank == 0 && pos[1].rank_gt == 3 && pos[1].cls == UR_TDS_SHIFTED);
    CHECK(fabs(pos[1].p_base - exp(-5.0)) < 1e-12 && pos[1].top[0] == 2 && pos[1].top[1] == 4 && pos[1].top[2] == 6);
    /* with K = 20 the 4 entries hold the token: η = 4 exactly */
    fill(pos, 2, NULL);
    REQUIRE(ur_tds_remote_parse(RESP, sizeof RESP - 1, &S, 20, TK, pos, &err) == 0);
    CHECK(pos[1].rank == 4 && pos[1].rank_gt == 0 && pos[1].cls == UR_TDS_SHIFTED);
    /* ranking the aligned model's top tokens 4 and 6 instead: 4 is the base's first at
     * position 2 (η 1), 6 its third at position 3 (η 3), P_base from the top entries */
    const int32_t ranked[2] = {4, 6};
    fill(pos, 2, ranked);
    REQUIRE(ur_tds_remote_parse(RESP, sizeof RESP - 1, &S, 3, TK, pos, &err) == 0);
    CHECK(pos[0].rank == 1 && pos[0].cls == UR_TDS_UNSHIFTED && fabs(pos[0].p_base - exp(-0.5)) < 1e-12);
    CHECK(pos[1].rank == 3 && pos[1].cls == UR_TDS_MARGINAL && fabs(pos[1].p_base - exp(-0.3)) < 1e-12);
    /* a ranked token beyond the top K that is not the written one: η > K, P_base unknown */
    const int32_t far[2] = {11, 12};
    fill(pos, 2, far);
    REQUIRE(ur_tds_remote_parse(RESP, sizeof RESP - 1, &S, 3, TK, pos, &err) == 0);
    CHECK(pos[0].rank == 0 && pos[0].rank_gt == 3 && pos[0].cls == UR_TDS_SHIFTED && isnan(pos[0].p_base));
}

/* With K >= 30 the base's top-30 list is known: AlignTDS's top-k KL and TP from the
 * server's logprobs (renormalised over the list: the constant log Σ drops out). */
static void topk_kl_from_logprobs(void) {
    ur_buf r = {0};
    ur_buf_puts(&r, "{\"choices\":[{\"logprobs\":{\"tokens\":[\"token_id:1\",\"token_id:5\",\"token_id:7\"],"
                    "\"token_logprobs\":[null,-2,-3.5],\"top_logprobs\":[null,{\"token_id:5\":-2},{\"token_id:7\":-3.5");
    for (int j = 0; j < 30; j++) ur_buf_printf(&r, ",\"token_id:%d\":%g", 100 + j, -0.1 * (j + 1));
    ur_buf_puts(&r, "}]}}]}");
    int32_t seq[3] = {1, 5, 7};
    const ur_tds_seq S = {seq, 3, 2};
    ur_tds_pos pos[2];
    ur_err err = {{0}};
    fill(pos, 1, NULL);
    double sa = 0, sb = 0, kl = 0;
    for (int j = 0; j < 30; j++) sa += exp(-0.2 * (j + 1)), sb += exp(-0.1 * (j + 1));
    for (int j = 0; j < UR_TDS_TOPK; j++) TK[0].id[j] = 100 + j, TK[0].lw[j] = -0.2 * (j + 1) - log(sa);
    for (int j = 0; j < 30; j++) {
        double lwb = -0.1 * (j + 1) - log(sb);
        kl += exp(lwb) * (lwb - TK[0].lw[j]);
    }
    REQUIRE(ur_tds_remote_parse(r.data, r.len, &S, 31, TK, pos, &err) == 0);
    CHECKF(pos[0].rank == 31 && fabs(pos[0].kl_topk - kl) < 1e-9 && pos[0].tp == 0, "rank %d kl_topk %.9g (want %.9g) tp %g",
           pos[0].rank, pos[0].kl_topk, kl, pos[0].tp);
    ur_buf_free(&r);
}

static void malformed_answers(void) {
    int32_t seq[4] = {1, 5, 7, 9}, other[4] = {1, 5, 8, 9};
    const ur_tds_seq S = {seq, 4, 2}, O = {other, 4, 2}, S21 = {seq, 2, 1};
    ur_tds_pos pos[2];
    ur_err err = {{0}};
    fill(pos, 2, NULL);
    CHECK(ur_tds_remote_parse(RESP, sizeof RESP - 1, &O, 3, TK, pos, &err) == -1 &&
          strstr(err.msg, "echoed token 7 at prompt position 2, not the 8 sent"));
    static const char text[] = "{\"choices\":[{\"logprobs\":{\"tokens\":[\"<s>\",\"a\"],\"token_logprobs\":[null,-1],"
                               "\"top_logprobs\":[null,{\"a\":-1}]}}]}";
    CHECK(ur_tds_remote_parse(text, sizeof text - 1, &S21, 3, TK, pos, &err) == -1 &&
          strstr(err.msg, "return_tokens_as_token_ids"));
    static const char none[] = "{\"choices\":[{\"text\":\"x\",\"logprobs\":null}]}";
    CHECK(ur_tds_remote_parse(none, sizeof none - 1, &S, 3, TK, pos, &err) == -1 &&
          strstr(err.msg, "no prompt logprobs for the 4 tokens sent"));
    static const char short_[] = "{\"choices\":[{\"logprobs\":{\"tokens\":[\"token_id:1\",\"token_id:5\"],"
                                 "\"token_logprobs\":[null,-1],\"top_logprobs\":[null,{\"token_id:5\":-1}]}}]}";
    CHECK(ur_tds_remote_parse(short_, sizeof short_ - 1, &S, 3, TK, pos, &err) == -1);
    static const char badkey[] = "{\"choices\":[{\"logprobs\":{\"tokens\":[\"token_id:1\",\"token_id:5\"],"
                                 "\"token_logprobs\":[null,-1],\"top_logprobs\":[null,{\"five\":-1}]}}]}";
    CHECK(ur_tds_remote_parse(badkey, sizeof badkey - 1, &S21, 3, TK, pos, &err) == -1 &&
          strstr(err.msg, "entry 'five' that is not"));
}

/* records of a remote base: "rank":null,"rank_gt":K and "kl":null, summarized */
static void null_rank_and_kl(void) {
    ur_buf t = {0}, rec = {0}, s = {0}, html = {0};
    /* the form ur_tds_tokens_json writes (checked on real records by tests/cli/test_tds_remote.sh) */
    const char *want0 = "\"aligned_top\":65,\"rank\":2,\"class\":\"marginal\",\"p_base\":0.25,\"p_align\":0.5,\"tp\":null,"
                        "\"kl_align_base\":null,\"kl_base_align\":null,\"kl_topk\":null,";
    const char *want1 = "\"aligned_top\":66,\"rank\":null,\"rank_gt\":20,\"class\":\"shifted\",\"p_base\":0.001,"
                        "\"p_align\":0.5,\"tp\":null,\"kl_align_base\":null,\"kl_base_align\":null,\"kl_topk\":null,";
    ur_buf_printf(&rec, "{\"id\":1,\"input_index\":0,\"instruction\":\"q\",\"config\":{\"base\":\"b\",\"aligned\":\"a\",\"rank\":\"aligned\"},"
                        "\"tokens\":[{\"pos\":0,\"token\":65,\"text\":\"A\",%s\"top\":[[66,\"B\",0.5],[65,\"A\",0.25]]},"
                        "{\"pos\":1,\"token\":66,\"text\":\"B\",%s\"top\":[[67,\"C\",0.3],[68,\"D\",0.2],[69,\"E\",0.1]]}]}",
                  want0, want1);
    const char *recs[1] = {rec.data};
    ur_err err = {{0}};
    REQUIRE(ur_tds_summarize("r.jsonl", recs, 1, &s, &html, &err) == 0);
    CHECKF(strstr(s.data, "\"counts\": {\"unshifted\": 0, \"marginal\": 1, \"shifted\": 1}") &&
               strstr(s.data, "\"align_base\": {\"mean\": null,") &&
               strstr(s.data, "\"kl_available\": false,\n  \"ranks_beyond_top_k\": 1,") &&
               strstr(s.data, "\"shifted\": 0.5, \"mean_kl_align_base\": null}") &&
               strstr(s.data, "\"kl_align_base\": null,") && strstr(s.data, "\"mean_kl_align_base\":null}"),
           "%s", s.data);
    CHECK(strstr(html.data, "KL not available with a remote base") && strstr(html.data, "\"rank_gt\":20,\"no_kl\":true"));
    ur_buf_free(&t), ur_buf_free(&rec), ur_buf_free(&s), ur_buf_free(&html);
}

int main(void) {
    th_suite = "tds_remote";
    RUN(request_body);
    RUN(ranks_from_top_k);
    RUN(topk_kl_from_logprobs);
    RUN(malformed_answers);
    RUN(null_rank_and_kl);
    TEST_MAIN_END();
}
