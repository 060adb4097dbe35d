/* Sessions and the prefix cache: answers that start from the cached prompt prefix
 * are identical to answers computed from scratch (greedy), the prefix really is
 * reused (not recomputed), the prefix's KV survives a save/load round trip and a
 * stale or damaged cache file is refused with a one-line reason. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "urial/session.h"
#include "urial/tensor.h"

#define MAX_Q 5
static const char *QUERIES[MAX_Q] = {"What is 2+2?", " leading space", "\xc3\xa9t\xc3\xa9 \xe2\x98\x80 naïve",
                                     "Write a haiku about the sea.", "```fenced```"};

/* A small random-weight model; with `llama_vocab` the Llama-2 vocabulary (from the
 * fixtures), else the built-in byte vocabulary. scale 0.3 makes the greedy output
 * depend on the query (at 0.02 every query gets nearly the same answer). */
static const char *model(const char *name, int llama_vocab, uint64_t seed, int layers) {
    static char paths[4][512];
    static int k;
    char *p = paths[k++ % 4];
    char vocab[4300];
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.dim = 64, sp.n_layers = layers, sp.n_heads = 4, sp.n_kv_heads = 2, sp.ff = 128, sp.n_ctx = 4096;
    sp.type = UR_TYPE_Q8_0;
    sp.scale = 0.3f;
    sp.seed = seed;
    if (llama_vocab) {
        const char *fx = th_fixtures();
        if (!fx) return NULL;
        snprintf(vocab, sizeof vocab, "%s/tokenizer/llama-spm/vocab-llama-spm.gguf", fx);
        sp.vocab_path = vocab;
    }
    return th_synth(&sp, name, p, 512);
}

static ur_ctx *new_ctx(const ur_model *m, int n_ctx) {
    ur_err err = {{0}};
    ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_ctx = n_ctx, .n_threads = 1}, &err);
    if (!c) fprintf(stderr, "ctx: %s\n", err.msg);
    return c;
}

static ur_gen_params greedy(int n) {
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = n;
    gp.sampler.repeat_penalty = 1.1f;
    return gp;
}

static int answer(ur_session *s, const char *q, int n, ur_answer *a) {
    ur_msg m = {UR_ROLE_USER, (char *)q, strlen(q)};
    ur_gen_params gp = greedy(n);
    ur_err err = {{0}};
    int rc = ur_session_answer(s, &m, 1, &gp, NULL, NULL, a, &err);
    if (rc && !a->too_long) fprintf(stderr, "answer: %s\n", err.msg);
    return rc;
}

/* UR_REUSE_PREFIX (the prefix once, then only the query) against UR_REUSE_NONE
 * (everything from scratch for every query): bit-identical greedy outputs. */
static void check_cached_equals_uncached(const char *path, ur_chat *f, int n_ctx) {
    ur_err err = {{0}};
    ur_model *m = ur_model_load(path, &err);
    REQUIRE(m);
    ur_ctx *ca = new_ctx(m, n_ctx), *cb = new_ctx(m, n_ctx);
    ur_session *sa = ur_session_new(ca, f, &(ur_session_params){UR_REUSE_PREFIX, NULL}, &err);
    ur_session *sb = ur_session_new(cb, f, &(ur_session_params){UR_REUSE_NONE, NULL}, &err);
    REQUIRE(sa && sb);
    const int np = ur_session_prefix_len(sa);
    CHECK(np > 0 && np == ur_session_prefix_len(sb));
    CHECK(ur_session_warm(sa, &err) == UR_PREFIX_COMPUTED && ur_session_warm(sa, &err) == UR_PREFIX_PRESENT);
    int distinct = 0;
    char first[4096] = "";
    for (int q = 0; q < MAX_Q; q++) {
        ur_answer a, b;
        REQUIRE(!answer(sa, QUERIES[q], 12, &a));
        REQUIRE(!answer(sb, QUERIES[q], 12, &b));
        CHECKF(a.gen.n_gen == b.gen.n_gen && a.gen.text.len == b.gen.text.len &&
                   !memcmp(a.gen.text.data, b.gen.text.data, a.gen.text.len),
               "query %d: cached '%s' vs uncached '%s'", q, a.gen.text.data, b.gen.text.data);
        CHECKF(a.n_cached == np && a.gen.n_reused == np, "query %d: reused %d, prefix %d", q, a.n_cached, np);
        CHECKF(b.n_cached == 0, "query %d: the uncached path reports %d cached tokens", q, b.n_cached);
        /* the prefix's tokens are a prefix of the full prompt's: the cache holds them */
        CHECK(ur_ctx_n_past(ca) >= np && !memcmp(ur_ctx_tokens(ca), ur_session_prefix_tokens(sa), sizeof(int32_t) * np));
        if (q == 0) snprintf(first, sizeof first, "%s", a.gen.text.data ? a.gen.text.data : "");
        else distinct += strcmp(first, a.gen.text.data ? a.gen.text.data : "") != 0;
        ur_answer_free(&a);
        ur_answer_free(&b);
    }
    CHECKF(distinct > 0, "every query gave the same answer: the comparison would prove little");
    ur_session_free(sa), ur_session_free(sb);
    ur_ctx_free(ca), ur_ctx_free(cb);
    ur_model_free(m);
}

static void cached_equals_uncached_urial_k3(void) {
    const char *p = model("k3.gguf", 1, 5, 2);
    if (!p) SKIP("no fixtures (the Llama-2 vocabulary)");
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial("urial-k3", &err);
    REQUIRE(f);
    check_cached_equals_uncached(p, f, 4096);
    ur_chat_free(f);
}

/* A template whose prefix ends in a space ("<s>[INST] "): the last token merges
 * with the query's first word, so the session keeps a shorter, stable prefix. */
static void cached_equals_uncached_template(void) {
    const char *p = model("tmpl.gguf", 1, 7, 2);
    if (!p) SKIP("no fixtures (the Llama-2 vocabulary)");
    ur_err err = {{0}};
    ur_chat *f = ur_chat_template("llama-2-default-system", &err);
    REQUIRE(f);
    check_cached_equals_uncached(p, f, 1024);
    ur_chat_free(f);
}

/* Without fixtures: the byte vocabulary and a short URIAL prompt text. */
static void cached_equals_uncached_bytes(void) {
    const char *p = model("bytes.gguf", 0, 3, 2);
    REQUIRE(p);
    static const char text[] = "# Guidelines\nAnswer helpfully.\n\n# Query:\n```\nHi\n```\n\n# Answer:\n```\nHello!\n```\n";
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial_text("tiny", text, sizeof text - 1, &err);
    REQUIRE(f);
    check_cached_equals_uncached(p, f, 512);
    ur_chat_free(f);
}

/* Chat (UR_REUSE_ALL): the second turn reuses the first turn's whole prompt. */
static void multi_turn_reuses_earlier_turns(void) {
    const char *p = model("mt.gguf", 0, 3, 2);
    REQUIRE(p);
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial_text("tiny", "# Guidelines\nBe brief.\n", 23, &err);
    ur_model *m = ur_model_load(p, &err);
    REQUIRE(f && m);
    ur_ctx *c = new_ctx(m, 512);
    ur_session *s = ur_session_new(c, f, &(ur_session_params){UR_REUSE_ALL, NULL}, &err);
    REQUIRE(s);
    ur_conv conv = {0};
    ur_gen_params gp = greedy(8);
    ur_answer a1, a2;
    ur_conv_add(&conv, UR_ROLE_USER, "Hi", 2);
    REQUIRE(!ur_session_answer(s, conv.msgs, conv.n, &gp, NULL, NULL, &a1, &err));
    CHECK(a1.n_cached == 0); /* the prefix was computed for this first answer */
    ur_conv_add(&conv, UR_ROLE_ASSISTANT, a1.text.data, a1.text.len);
    ur_conv_add(&conv, UR_ROLE_USER, "And then?", 9);
    REQUIRE(!ur_session_answer(s, conv.msgs, conv.n, &gp, NULL, NULL, &a2, &err));
    CHECKF(a2.n_cached >= a1.gen.n_prompt, "turn 2 reused %d tokens, turn 1's prompt had %d", a2.n_cached,
           a1.gen.n_prompt);
    ur_answer_free(&a1), ur_answer_free(&a2);
    ur_conv_free(&conv);
    ur_session_free(s);
    ur_ctx_free(c);
    ur_model_free(m);
    ur_chat_free(f);
}

/* A prompt longer than the context is an error that leaves the session usable;
 * generation that fills the context stops with UR_STOP_CONTEXT. */
static void too_long_is_reported(void) {
    const char *p = model("long.gguf", 0, 3, 1);
    REQUIRE(p);
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial_text("tiny", "# Guidelines\nBe brief.\n", 23, &err);
    ur_model *m = ur_model_load(p, &err);
    REQUIRE(f && m);
    ur_ctx *c = new_ctx(m, 64);
    ur_session *s = ur_session_new(c, f, NULL, &err);
    REQUIRE(s);
    ur_answer a;
    char q[200];
    memset(q, 'x', sizeof q - 1);
    q[sizeof q - 1] = 0;
    CHECK(answer(s, q, 4, &a) == -1 && a.too_long);
    CHECK(answer(s, "Hi", 100, &a) == 0 && a.gen.stop_reason == UR_STOP_CONTEXT);
    ur_answer_free(&a);
    /* a prefix that does not fit the context is refused when the session is made */
    ur_chat *big = ur_chat_urial_text("big", q, sizeof q - 1, &err);
    CHECK(!ur_session_new(c, big, NULL, &err) && strstr(err.msg, "prompt prefix of big has"));
    ur_chat_free(big);
    ur_session_free(s);
    ur_ctx_free(c);
    ur_model_free(m);
    ur_chat_free(f);
}

static void copy_file(const char *from, const char *to, long max, long flip_at) {
    size_t n;
    char *b = th_read_file(from, &n);
    if (!b) return;
    if (max >= 0 && (size_t)max < n) n = (size_t)max;
    if (flip_at >= 0 && (size_t)flip_at < n) b[flip_at] ^= 0x5a;
    FILE *f = fopen(to, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
}

/* ur_ctx_load_prefix refuses a file for anything but this model and these tokens. */
static void expect_refused(ur_ctx *c, const char *path, const int32_t *t, int n, const char *why) {
    ur_err err = {{0}};
    int rc = ur_ctx_load_prefix(c, path, t, n, &err);
    CHECKF(rc == -1 && strstr(err.msg, why) && !strchr(err.msg, '\n'), "%s: rc %d, '%s'", why, rc, err.msg);
    CHECKF(ur_ctx_n_past(c) == 0, "%s: the context holds %d tokens after a refused load", why, ur_ctx_n_past(c));
}

static void prefix_cache_file(void) {
    const char *p = model("pc.gguf", 1, 5, 2);
    if (!p) SKIP("no fixtures (the Llama-2 vocabulary)");
    char p1[512], p2[512], p3[512], dir[512], bad[600];
    snprintf(p1, sizeof p1, "%s", p);
    snprintf(p2, sizeof p2, "%s", model("pc-other.gguf", 1, 6, 2)); /* same shape, other weights */
    snprintf(p3, sizeof p3, "%s", model("pc-shape.gguf", 1, 5, 1)); /* one layer */
    snprintf(dir, sizeof dir, "%s/cache", th_tmpdir());
    snprintf(bad, sizeof bad, "%s/bad.kv", th_tmpdir());
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial("urial-k3", &err);
    ur_model *m = ur_model_load(p1, &err), *m2 = ur_model_load(p2, &err), *m3 = ur_model_load(p3, &err);
    REQUIRE(f && m && m2 && m3);
    ur_ctx *c1 = new_ctx(m, 2048), *c2 = new_ctx(m, 2048);
    ur_session_params sp = {UR_REUSE_PREFIX, dir};
    ur_session *s1 = ur_session_new(c1, f, &sp, &err), *s2 = ur_session_new(c2, f, &sp, &err);
    REQUIRE(s1 && s2);
    const char *kv = ur_session_cache_path(s1);
    REQUIRE(kv && !strcmp(kv, ur_session_cache_path(s2)) && !strncmp(kv, dir, strlen(dir)));
    CHECK(strstr(kv, "/pc.urial-k3.") && strstr(kv, ".kv"));
    CHECK(ur_session_warm(s1, &err) == UR_PREFIX_COMPUTED && !ur_session_take_note(s1)); /* nothing to say */
    CHECK(access(kv, R_OK) == 0);
    CHECK(ur_session_warm(s2, &err) == UR_PREFIX_LOADED);
    const char *note = ur_session_take_note(s2);
    CHECK(note && strstr(note, "loaded the") && strstr(note, kv));
    const int np = ur_session_prefix_len(s1);
    const int32_t *pt = ur_session_prefix_tokens(s1);
    CHECK(ur_ctx_n_past(c2) == np && !memcmp(ur_ctx_tokens(c2), pt, sizeof *pt * (size_t)np));
    for (int q = 0; q < 3; q++) { /* computed and loaded prefix: the same answers */
        ur_answer a, b;
        REQUIRE(!answer(s1, QUERIES[q], 10, &a) && !answer(s2, QUERIES[q], 10, &b));
        CHECKF(!strcmp(a.gen.text.data, b.gen.text.data) && b.n_cached == np, "query %d", q);
        ur_answer_free(&a), ur_answer_free(&b);
    }

    ur_ctx *c = new_ctx(m, 2048), *o = new_ctx(m2, 2048), *sh = new_ctx(m3, 2048);
    REQUIRE(c && o && sh);
    int32_t *t = malloc(sizeof *t * (size_t)np);
    memcpy(t, pt, sizeof *t * (size_t)np);
    CHECK(ur_ctx_load_prefix(c, bad, t, np, &err) == 0); /* no such file: not an error */
    CHECK(ur_ctx_load_prefix(c, kv, t, np, &err) == 1 && ur_ctx_n_past(c) == np);
    expect_refused(o, kv, t, np, "written for a different model file");
    expect_refused(sh, kv, t, np, "written for a model with 2 layers");
    t[np / 2] = t[np / 2] == 1 ? 2 : 1;
    ur_ctx_truncate(c, 0);
    expect_refused(c, kv, t, np, "holds the KV of other tokens (first difference at token");
    t[np / 2] = pt[np / 2];
    expect_refused(c, kv, t, np - 1, "another prompt or tokenizer");
    copy_file(kv, bad, 5000, -1);
    expect_refused(c, bad, t, np, "truncated");
    copy_file(kv, bad, 30, -1);
    expect_refused(c, bad, t, np, "truncated");
    copy_file(kv, bad, -1, 100000);
    expect_refused(c, bad, t, np, "checksum mismatch");
    copy_file(kv, bad, -1, 1);
    expect_refused(c, bad, t, np, "not a urial prompt cache file");
    copy_file(kv, bad, -1, 8);
    expect_refused(c, bad, t, np, "format version");
    /* the model file modified in place (same bytes, new mtime) */
    struct timespec ts[2] = {{0, UTIME_NOW}, {12345, 0}};
    REQUIRE(!utimensat(AT_FDCWD, p1, ts, 0));
    expect_refused(c, kv, t, np, "as it was before it was last modified");
    /* ... and a session then says so, recomputes, and rewrites the file */
    ur_ctx *c3 = new_ctx(m, 2048);
    ur_session *s3 = ur_session_new(c3, f, &sp, &err);
    REQUIRE(s3);
    CHECK(ur_session_warm(s3, &err) == UR_PREFIX_COMPUTED);
    note = ur_session_take_note(s3);
    CHECKF(note && strstr(note, "prompt cache ignored: ") && strstr(note, "recomputing the prefix"), "%s", note);
    CHECK(ur_ctx_load_prefix(c, kv, t, np, &err) == 1);
    free(t);
    ur_session_free(s1), ur_session_free(s2), ur_session_free(s3);
    ur_ctx_free(c1), ur_ctx_free(c2), ur_ctx_free(c3), ur_ctx_free(c), ur_ctx_free(o), ur_ctx_free(sh);
    ur_model_free(m), ur_model_free(m2), ur_model_free(m3);
    ur_chat_free(f);
}

int main(void) {
    th_suite = "session";
    RUN(cached_equals_uncached_urial_k3);
    RUN(cached_equals_uncached_template);
    RUN(cached_equals_uncached_bytes);
    RUN(multi_turn_reuses_earlier_turns);
    RUN(too_long_is_reported);
    RUN(prefix_cache_file);
    TEST_MAIN_END();
}
