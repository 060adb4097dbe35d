/* The URIAL paper's tuning-free baselines (src/chat/baselines.c, src/chat/retrieve.c):
 * zero-shot, the paper-era URIAL format, retrieval ICL (BM25, its index file) and
 * prefix decoding, pinned against the authors' strings.
 *
 * The expected bytes come from Re-Align/URIAL src/adapt_utils.py (commit 1daee528),
 * preprocess():
 *   zero_shot:  in_text = f"# Query: \n ```{in_text}``` \n\n \n# Answer: \n ``` "
 *   urial:      in_text = f"{urial_prefix}\n# Query:\n```{in_text}```\n\n# Answer:\n```\n"
 *   retrieve:   _user = "# Query:"; _assistant = "\n \n# Answer:"
 *               in_text = f"{_user} \n ```{in_text} ``` \n"; in_text += f"{_assistant} \n ``` "
 *               demo = f"{_user} \n ``` {r['instruction'] + ' ' + r.get('input', '')} ``` \n"
 *               demo += f"{_assistant} \n ``` {shorten(r['output'])} ``` "; demo += "\n --- \n"
 *               in_text = demo + in_text   (for r in rex, the most similar first: it ends up last)
 *   shorten(s, n=300): ws = s.split(" "); s if len(ws) <= n else " ".join(ws[:n]) + " ... "
 * and postprocess() (prefix_ref): prefix = " ".join(chat_output.split(" ")[:K]);
 * output_text = prefix + " " + output_text; src/models.py ("prefix" mode): prompt + prefix. */
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "urial/chat.h"
#include "urial/model.h"
#include "urial/retrieve.h"
#include "urial/tensor.h"
#include "urial/tokenizer.h"

static void write_file(const char *path, const char *data) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fputs(data, f);
    fclose(f);
}

static char *tmp_path(const char *name) {
    static char p[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(p[i], sizeof p[i], "%s/%s", th_tmpdir(), name);
    return p[i];
}

/* the rendering of one query (add_generation_prompt) */
static char *render1(const ur_chat *f, const char *q) {
    ur_msg m = {UR_ROLE_USER, (char *)q, strlen(q)};
    ur_buf b = {0};
    ur_err err = {{0}};
    if (ur_chat_render(f, &m, 1, 1, &b, &err)) {
        fprintf(stderr, "render: %s\n", err.msg);
        ur_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ---- zero-shot ---------------------------------------------------------------------------- */
static void test_zero_shot_exact(void) {
    ur_chat *f = ur_chat_zero_shot();
    char *p = render1(f, "What is a compiler?");
    /* f"# Query: \n ```{in_text}``` \n\n \n# Answer: \n ``` " */
    CHECKF(p && !strcmp(p, "# Query: \n ```What is a compiler?``` \n\n \n# Answer: \n ``` "), "got '%s'", p);
    CHECK(!strcmp(ur_chat_kind_name(f), "zero-shot") && !strcmp(ur_chat_name(f), "zero-shot"));
    ur_buf pre = {0};
    ur_err err = {{0}};
    CHECK(!ur_chat_prefix(f, NULL, 0, &pre, &err) && !strcmp(pre.data, "# Query: \n ```"));
    int n;
    const char *const *stops = ur_chat_stops(f, &n);
    CHECK(n == 2 && !strcmp(stops[0], "# Query") && !strcmp(stops[1], "\n --- \n"));
    ur_buf c = {0};
    ur_chat_clean(f, "A program that translates code. ``` \n --- \n# Query", 51, &c);
    CHECKF(!strcmp(c.data, "A program that translates code."), "clean '%s'", c.data);
    ur_buf_free(&c), ur_buf_free(&pre);
    free(p);
    ur_chat_free(f);
}

/* an earlier turn (ours: the authors render single queries) */
static void test_zero_shot_history(void) {
    ur_chat *f = ur_chat_zero_shot();
    ur_conv c = {0};
    ur_conv_add(&c, UR_ROLE_USER, "Hi", 2);
    ur_conv_add(&c, UR_ROLE_ASSISTANT, "Hello!", 6);
    ur_conv_add(&c, UR_ROLE_USER, "Bye", 3);
    ur_buf b = {0};
    ur_err err = {{0}};
    CHECK(!ur_chat_render(f, c.msgs, c.n, 1, &b, &err));
    CHECKF(!strcmp(b.data, "# Query: \n ```Hi``` \n\n \n# Answer: \n ``` Hello! ``` \n --- \n"
                           "# Query: \n ```Bye``` \n\n \n# Answer: \n ``` "), "got '%s'", b.data);
    ur_buf_free(&b);
    ur_conv_free(&c);
    ur_chat_free(f);
}

/* ---- the paper-era URIAL format ---------------------------------------------------------- */
static void test_legacy_all_fixture_files(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    const char *names[] = {"inst_1k.txt", "inst_1k_v4.help.txt", "inst_help.txt", "inst_only.txt", "inst_1shot.txt",
                           "inst_2k.txt", "basic_icl.txt", "inst_help_v2.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/urial/prompts/%s", fx, names[i]);
        ur_err err = {{0}};
        ur_chat *f = ur_chat_urial(path, &err);
        CHECKF(f, "%s", err.msg);
        if (!f) continue;
        size_t flen = 0;
        char *file = th_read_file(path, &flen);
        REQUIRE(file);
        CHECK(!ur_chat_set_urial_format(f, 1, &err));
        char *p = render1(f, "Q?");
        /* f"{urial_prefix}\n# Query:\n```{in_text}```\n\n# Answer:\n```\n" (the file read in text mode) */
        ur_buf want = {0};
        ur_buf_put(&want, file, flen);
        ur_buf_puts(&want, "\n# Query:\n```Q?```\n\n# Answer:\n```\n");
        CHECKF(p && !strcmp(p, want.data), "%s: legacy rendering differs", names[i]);
        /* and back to today's urial_backticks */
        CHECK(!ur_chat_set_urial_format(f, 0, &err));
        char *q = render1(f, "Q?");
        CHECKF(q && !strcmp(q + flen, "\n# Query:\n```\nQ?\n```\n\n# Answer:\n```\n"), "%s: backticks", names[i]);
        ur_buf pre = {0};
        CHECK(!ur_chat_set_urial_format(f, 1, &err) && !ur_chat_prefix(f, NULL, 0, &pre, &err));
        CHECK(pre.len == flen + strlen("\n# Query:\n```") && !strncmp(p, pre.data, pre.len));
        ur_buf b = {0};
        ur_chat_params_json(f, &b);
        CHECKF(!strcmp(b.data, "{\"urial_format\":\"legacy\"}"), "%s", b.data);
        ur_buf_free(&b), ur_buf_free(&pre), ur_buf_free(&want);
        free(p), free(q), free(file);
        ur_chat_free(f);
    }
}

static void test_legacy_refusals(void) {
    const char *fx = th_fixtures();
    ur_err err = {{0}};
    ur_chat *t = ur_chat_template("zephyr", &err);
    CHECK(t && ur_chat_set_urial_format(t, 1, &err) && strstr(err.msg, "--urial-format legacy"));
    ur_chat_free(t);
    ur_chat *z = ur_chat_zero_shot();
    CHECK(ur_chat_set_urial_format(z, 1, &err));
    ur_chat_free(z);
    if (!fx) SKIP("no fixtures");
    char path[4400];
    snprintf(path, sizeof path, "%s/urial/prompts/inst_help_v5-1k.txt", fx);
    ur_chat *f = ur_chat_urial(path, &err);
    REQUIRE(f);
    CHECK(ur_chat_set_urial_format(f, 1, &err) && strstr(err.msg, "inst_help_v5"));
    ur_chat_free(f);
}

/* ---- retrieval ------------------------------------------------------------------------------- */
static ur_retriever *open_pool(const char *path, ur_buf *note) {
    ur_err err = {{0}};
    ur_retriever *r = ur_retriever_open(path, note, &err);
    if (!r) fprintf(stderr, "pool: %s\n", err.msg);
    return r;
}

/* BM25 by hand: docs "apple banana" (dl 2), "apple apple cherry" (3), "banana cherry date" (3);
 * avgdl 8/3; for "apple": doc 1 scores idf*2.2*2/(2 + 1.2*(0.25 + 0.75*3/(8/3))) = idf*1.3283,
 * doc 0 idf*2.2/(1 + 1.2*(0.25 + 0.75*2/(8/3))) = idf*1.1139, doc 2 nothing. */
static void test_bm25_order(void) {
    char *pool = tmp_path("abc.jsonl");
    write_file(pool, "{\"instruction\":\"apple banana\",\"output\":\"a\"}\n"
                     "{\"instruction\":\"Apple APPLE, cherry!\",\"output\":\"b\"}\n"
                     "{\"instruction\":\"banana cherry date\",\"output\":\"c\"}\n");
    ur_retriever *r = open_pool(pool, NULL);
    REQUIRE(r);
    int out[3];
    CHECK(ur_retriever_query(r, "apple", 5, 3, out) == 3);
    CHECKF(out[0] == 1 && out[1] == 0 && out[2] == 2, "%d %d %d", out[0], out[1], out[2]);
    /* "date": only doc 2 matches; the rest tie at 0, by pool order */
    CHECK(ur_retriever_query(r, "Date?", 5, 3, out) == 3 && out[0] == 2 && out[1] == 0 && out[2] == 1);
    /* no shared word at all: the first items */
    CHECK(ur_retriever_query(r, "zebra", 5, 2, out) == 2 && out[0] == 0 && out[1] == 1);
    CHECK(!strcmp(ur_retriever_id(r, 1), "1") && ur_retriever_size(r) == 3);
    ur_retriever_free(r);
}

/* the query itself and exact duplicates are never retrieved; items with an input are skipped */
static void test_retrieve_exclusions(void) {
    char *pool = tmp_path("dup.jsonl");
    write_file(pool, "{\"id\":\"q\",\"instruction\":\"how to bake bread\",\"output\":\"self\"}\n"
                     "{\"id\":\"a\",\"instruction\":\"bake bread at home\",\"output\":\"A\"}\n"
                     "{\"id\":\"b\",\"instruction\":\"bake bread at home\",\"output\":\"B\"}\n"
                     "{\"id\":\"c\",\"instruction\":\"bread bake\",\"input\":\"flour\",\"output\":\"C\"}\n"
                     "{\"id\":\"d\",\"instruction\":\"bread\",\"output\":\"D\"}\n");
    ur_retriever *r = open_pool(pool, NULL);
    REQUIRE(r);
    int out[4];
    int n = ur_retriever_query(r, "  how to bake bread\n", 20, 4, out);
    CHECKF(n == 2 && out[0] == 1 && out[1] == 4, "n %d: %d %d", n, out[0], out[1]);
    ur_retriever_free(r);
}

/* a pool with known scores: the exact retrieval rendering, most similar last */
static void test_retrieve_render_exact(void) {
    char *pool = tmp_path("render.json");
    ur_buf longout = {0};
    for (int i = 0; i < 310; i++) ur_buf_printf(&longout, "%sw%d", i ? " " : "", i);
    ur_buf text = {0};
    ur_buf_printf(&text, "[{\"instruction\":\"tell me about cats\",\"input\":\"x\",\"output\":\"Cats purr.\"},"
                         "{\"instruction\":\"cats and dogs\",\"output\":\"%s\"},"
                         "{\"instruction\":\"unrelated thing\",\"output\":\"no\"}]", longout.data);
    write_file(pool, text.data);
    ur_retriever *r = open_pool(pool, NULL);
    REQUIRE(r);
    ur_chat *f = ur_chat_retrieval(r, 2);
    char *p = render1(f, "Tell me about cats");
    /* ranks: item 0 (cats, input "x" of one character: kept, appended), then item 1 */
    ur_buf want = {0};
    ur_buf short1 = {0};
    for (int i = 0; i < 300; i++) ur_buf_printf(&short1, "%sw%d", i ? " " : "", i);
    ur_buf_puts(&short1, " ... ");
    ur_buf_printf(&want, "# Query: \n ``` cats and dogs  ``` \n\n \n# Answer: \n ``` %s ``` \n --- \n", short1.data);
    ur_buf_puts(&want, "# Query: \n ``` tell me about cats x ``` \n\n \n# Answer: \n ``` Cats purr. ``` \n --- \n");
    ur_buf_puts(&want, "# Query: \n ```Tell me about cats ``` \n\n \n# Answer: \n ``` ");
    CHECKF(p && !strcmp(p, want.data), "got '%.400s'", p ? p : "(null)");
    ur_buf ids = {0};
    CHECK(ur_chat_retrieved(f, "Tell me about cats", 18, &ids) == 1 && !strcmp(ids.data, "[0,1]"));
    ur_buf pre = {0};
    ur_err err = {{0}};
    CHECK(!ur_chat_prefix(f, NULL, 0, &pre, &err) && p && !strncmp(p, pre.data, pre.len) && pre.len > 0);
    ur_buf pj = {0};
    ur_chat_params_json(f, &pj);
    CHECKF(strstr(pj.data, "\"pool\":\"render.json\",\"pool_hash\":\"") && strstr(pj.data, "\"k\":2") &&
               strstr(pj.data, "bm25(k1=1.2,b=0.75)"), "%s", pj.data);
    CHECK(!strcmp(ur_chat_kind_name(f), "retrieve") && !strcmp(ur_chat_name(f), "retrieve-k2"));
    ur_buf_free(&pj), ur_buf_free(&pre), ur_buf_free(&ids), ur_buf_free(&want), ur_buf_free(&short1);
    ur_buf_free(&text), ur_buf_free(&longout);
    free(p);
    ur_chat_free(f);
}

/* the index file: built, loaded, rebuilt when the pool changes or the file is damaged */
static void test_index_cache(void) {
    char *pool = tmp_path("cache.jsonl");
    write_file(pool, "{\"instruction\":\"red apple\",\"output\":\"1\"}\n{\"instruction\":\"green pear\",\"output\":\"2\"}\n");
    char *ipath = ur_retriever_index_path(pool);
    unlink(ipath);
    ur_buf note = {0};
    ur_retriever *r = open_pool(pool, &note);
    REQUIRE(r);
    CHECKF(strstr(note.data, " built "), "%s", note.data);
    int a[2], b[2];
    ur_retriever_query(r, "pear", 4, 2, a);
    ur_retriever_free(r);
    note.len = 0;
    r = open_pool(pool, &note);
    REQUIRE(r);
    CHECKF(!note.len, "%s", note.data); /* loaded: nothing to say */
    ur_retriever_query(r, "pear", 4, 2, b);
    CHECK(a[0] == 1 && b[0] == 1 && a[1] == b[1]);
    ur_retriever_free(r);
    /* another pool under the same name */
    write_file(pool, "{\"instruction\":\"green pear\",\"output\":\"2\"}\n{\"instruction\":\"red apple\",\"output\":\"1\"}\n");
    note.len = 0;
    r = open_pool(pool, &note);
    REQUIRE(r);
    CHECKF(strstr(note.data, "rebuilt (the pool or the parameters changed)"), "%s", note.data);
    ur_retriever_query(r, "pear", 4, 2, a);
    CHECK(a[0] == 0);
    ur_retriever_free(r);
    /* a damaged file */
    FILE *fp = fopen(ipath, "r+b");
    REQUIRE(fp);
    fseek(fp, 50, SEEK_SET);
    fputc('X', fp);
    fclose(fp);
    note.len = 0;
    r = open_pool(pool, &note);
    REQUIRE(r);
    CHECKF(strstr(note.data, "rebuilt (the index file was damaged)"), "%s", note.data);
    ur_retriever_free(r);
    ur_buf_free(&note);
    free(ipath);
}

static void test_retrieve_errors(void) {
    ur_err err = {{0}};
    CHECK(!ur_retriever_open(tmp_path("missing.jsonl"), NULL, &err) && strstr(err.msg, "missing.jsonl"));
    char *p = tmp_path("noout.jsonl");
    write_file(p, "{\"instruction\":\"a\",\"output\":\"x\"}\n{\"instruction\":\"b\"}\n");
    CHECK(!ur_retriever_open(p, NULL, &err) && strstr(err.msg, "noout.jsonl: item 1") && strstr(err.msg, "output"));
    p = tmp_path("bad.json");
    write_file(p, "[{\"instruction\":");
    CHECK(!ur_retriever_open(p, NULL, &err) && strstr(err.msg, "bad.json: not valid JSON"));
}

/* The just-eval fixture as a pool (1000 items), every query its own instruction: never
 * retrieved, k examples each, deterministic. */
static void test_retrieve_just_eval(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    char src[4400];
    snprintf(src, sizeof src, "%s/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json", fx);
    size_t n;
    char *text = th_read_file(src, &n);
    REQUIRE(text);
    char *pool = tmp_path("je.json");
    write_file(pool, text);
    free(text);
    ur_retriever *r = open_pool(pool, NULL);
    REQUIRE(r);
    CHECK(ur_retriever_size(r) == 1000);
    for (int i = 0; i < 1000; i += 37) {
        const char *q = ur_retriever_instruction(r, i);
        int a[5], b[5];
        int na = ur_retriever_query(r, q, strlen(q), 5, a), nb = ur_retriever_query(r, q, strlen(q), 5, b);
        CHECK(na == 5 && nb == 5 && !memcmp(a, b, sizeof a));
        for (int j = 0; j < na; j++) CHECKF(strcmp(ur_retriever_instruction(r, a[j]), q), "item %d retrieved itself", i);
    }
    ur_retriever_free(r);
}

/* ---- prefix decoding -------------------------------------------------------------------------- */
static void test_prefix_from_aligntds(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    char path[4400];
    snprintf(path, sizeof path, "%s/aligntds/Llama-2-7b-chat-hf.json", fx);
    ur_err err = {{0}};
    ur_chat *f = ur_chat_zero_shot();
    REQUIRE(!ur_chat_set_answer_prefix(f, path, 5, &err));
    const char *q = "What are the names of some famous actors that started their careers on Broadway?";
    char *p = render1(f, q);
    /* the answer: "Thank you for your question! I'm happy to help. ..." -> its first 5 words */
    const char *prefix = "Thank you for your question!";
    ur_buf want = {0};
    ur_buf_printf(&want, "# Query: \n ```%s``` \n\n \n# Answer: \n ``` %s", q, prefix);
    CHECKF(p && !strcmp(p, want.data), "got '%s'", p);
    ur_buf b = {0};
    CHECK(ur_chat_answer_prefix(f, q, strlen(q), &b) == 1 && !strcmp(b.data, prefix));
    b.len = 0;
    CHECK(ur_chat_answer_prefix(f, "not there", 9, &b) == 0 && !b.len);
    CHECK(ur_chat_answer_instruction(f, "0") && !strcmp(ur_chat_answer_instruction(f, "0"), q));
    CHECK(!ur_chat_answer_instruction(f, "100000"));
    CHECK(!strcmp(ur_chat_name(f), "zero-shot+prefix5"));
    /* the cacheable prefix ignores the answer prefix */
    ur_buf pre = {0};
    CHECK(!ur_chat_prefix(f, NULL, 0, &pre, &err) && !strcmp(pre.data, "# Query: \n ```"));
    ur_buf j = {0};
    ur_chat_join_answer(prefix, strlen(prefix), "I'm happy", 9, &j);
    CHECK(!strcmp(j.data, "Thank you for your question! I'm happy"));
    ur_buf pj = {0};
    ur_chat_params_json(f, &pj);
    CHECKF(strstr(pj.data, "\"prefix_from\":\"Llama-2-7b-chat-hf.json\"") && strstr(pj.data, "\"prefix_words\":5"),
           "%s", pj.data);
    ur_buf_free(&pj), ur_buf_free(&j), ur_buf_free(&pre), ur_buf_free(&b), ur_buf_free(&want);
    free(p);
    ur_chat_free(f);
}

/* Python's split(" "): runs of spaces give empty words, newlines do not split */
static void test_prefix_words_split(void) {
    char *path = tmp_path("aligned.jsonl");
    write_file(path, "{\"id\":1,\"instruction\":\"q1\",\"output\":\"a  b\\nc d e\"}\n"
                     "{\"id\":2,\"instruction\":\"q2\",\"output\":\"short\"}\n");
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial("urial-k0", &err);
    REQUIRE(f && !ur_chat_set_answer_prefix(f, path, 3, &err));
    ur_buf b = {0};
    CHECK(ur_chat_answer_prefix(f, "q1", 2, &b) == 1 && !strcmp(b.data, "a  b\nc"));
    b.len = 0;
    CHECK(ur_chat_answer_prefix(f, "q2", 2, &b) == 1 && !strcmp(b.data, "short"));
    char *p = render1(f, "q1");
    const char *tail = "\n# Query:\n```\nq1\n```\n\n# Answer:\n```\na  b\nc";
    CHECKF(p && strlen(p) > strlen(tail) && !strcmp(p + strlen(p) - strlen(tail), tail), "got '%s'", p);
    free(p);
    ur_buf_free(&b);
    ur_chat_free(f);
}

static void test_prefix_errors(void) {
    ur_err err = {{0}};
    ur_chat *f = ur_chat_zero_shot();
    CHECK(ur_chat_set_answer_prefix(f, tmp_path("nope.json"), 3, &err) && strstr(err.msg, "nope.json"));
    char *p = tmp_path("noans.jsonl");
    write_file(p, "{\"id\":1,\"instruction\":\"q1\"}\n");
    CHECK(ur_chat_set_answer_prefix(f, p, 3, &err) && strstr(err.msg, "noans.jsonl: item 0") && strstr(err.msg, "output"));
    CHECK(ur_chat_set_answer_prefix(f, p, 0, &err) && strstr(err.msg, "at least 1"));
    CHECK(!strcmp(ur_chat_name(f), "zero-shot"));
    ur_chat_free(f);
}


/* ---- retrieval by embeddings ------------------------------------------------------------------ */
static const char *synth_model(void) {
    static char p[512];
    if (p[0]) return p;
    ur_synth_params sp;
    ur_synth_defaults(&sp);
    sp.type = UR_TYPE_F32;
    sp.scale = 0.1f;
    snprintf(p, sizeof p, "%s/embed.gguf", th_tmpdir());
    ur_err err = {{0}};
    if (ur_synth_write(&sp, p, &err)) {
        fprintf(stderr, "synth: %s\n", err.msg);
        return p[0] = 0, NULL;
    }
    return p;
}

/* The last hidden states are what the output matrix reads: the last row times
 * output.weight gives ur_decode's logits; the mean is the rows' mean. */
static void test_decode_hidden(void) {
    const char *path = synth_model();
    REQUIRE(path);
    ur_err err = {{0}};
    ur_model *m = ur_model_load(path, &err);
    REQUIRE(m);
    ur_ctx_params cp = {64, 4, 1, NULL}; /* chunks of 4: the 7 tokens take two */
    ur_ctx *a = ur_ctx_new(m, cp, &err), *b = ur_ctx_new(m, cp, &err);
    REQUIRE(a && b);
    const int32_t toks[7] = {1, 50, 99, 7, 130, 12, 200};
    const int dim = m->hp.dim, nv = m->hp.n_vocab;
    float *rows = malloc(sizeof(float) * 7 * (size_t)dim), *mean = malloc(sizeof(float) * (size_t)dim);
    float *logits = malloc(sizeof(float) * (size_t)nv);
    CHECK(!ur_decode_hidden(a, toks, 7, mean, rows, &err) && ur_ctx_n_past(a) == 7);
    CHECK(!ur_decode(b, toks, 7, logits, 0, &err));
    const ur_weight *w = m->output.data ? &m->output : &m->tok_embd;
    REQUIRE(w->type == UR_TYPE_F32);
    double worst = 0, big = 0;
    for (int v = 0; v < nv; v++) {
        const float *wr = (const float *)((const char *)w->data + (size_t)v * w->row_bytes);
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)rows[6 * dim + d] * wr[d];
        worst = fmax(worst, fabs(s - logits[v]));
        big = fmax(big, fabs(logits[v]));
    }
    CHECKF(worst <= 1e-4 * fmax(big, 1), "hidden x output differs from the logits by %g (max %g)", worst, big);
    double dm = 0;
    for (int d = 0; d < dim; d++) {
        double s = 0;
        for (int t = 0; t < 7; t++) s += rows[t * dim + d];
        dm = fmax(dm, fabs(s / 7 - mean[d]));
    }
    CHECKF(dm < 1e-5, "mean off by %g", dm);
    CHECK(ur_decode_hidden(a, toks, 0, mean, NULL, &err) && strstr(err.msg, "nothing to decode"));
    free(rows), free(mean), free(logits);
    ur_ctx_free(a), ur_ctx_free(b);
    ur_model_free(m);
}

/* the retriever's top K = cosines of mean-pooled embeddings computed here; cached */
static void test_retrieve_embed(void) {
    const char *path = synth_model();
    REQUIRE(path);
    const char *ins[5] = {"alpha beta", "gamma delta epsilon", "alpha beta", "zeta", "eta theta iota kappa"};
    char *pool = tmp_path("emb.jsonl");
    ur_buf t = {0};
    for (int i = 0; i < 5; i++) ur_buf_printf(&t, "{\"instruction\":\"%s\",\"output\":\"o%d\"}\n", ins[i], i);
    write_file(pool, t.data);
    ur_buf_free(&t);
    ur_buf note = {0};
    ur_err err = {{0}};
    ur_retriever *r = open_pool(pool, NULL);
    REQUIRE(r);
    CHECKF(!ur_retriever_use_embeddings(r, path, 1, &note, &err), "%s", err.msg);
    CHECKF(strstr(note.data ? note.data : "", "embeddings of 5 items by embed.gguf computed"), "%s", note.data);
    CHECK(!strcmp(ur_retriever_method(r), "embed(embed.gguf,mean,cosine)"));
    /* by hand */
    ur_model *m = ur_model_load(path, &err);
    REQUIRE(m);
    ur_ctx_params cp = {600, 0, 1, NULL};
    ur_ctx *c = ur_ctx_new(m, cp, &err);
    const int dim = m->hp.dim;
    float e[6][256];
    REQUIRE(dim <= 256);
    const char *q = "gamma delta";
    for (int i = 0; i < 6; i++) {
        const char *s = i < 5 ? ins[i] : q;
        int32_t *ids = NULL;
        int n = ur_tokenize_alloc(m->vocab, s, strlen(s), ur_vocab_add_bos(m->vocab), 0, &ids, &err);
        ur_ctx_truncate(c, 0);
        CHECK(n > 0 && !ur_decode_hidden(c, ids, n, e[i], NULL, &err));
        double ss = 0;
        for (int d = 0; d < dim; d++) ss += (double)e[i][d] * e[i][d];
        for (int d = 0; d < dim; d++) e[i][d] = (float)(e[i][d] / sqrt(ss));
        free(ids);
    }
    float cosv[5];
    for (int i = 0; i < 5; i++) {
        cosv[i] = 0;
        for (int d = 0; d < dim; d++) cosv[i] += e[5][d] * e[i][d];
    }
    /* expected: the order of cosv, ties by index, item 2 (a duplicate of 0) left out */
    int want[4] = {0, 1, 3, 4}, nw = 4;
    for (int i = 0; i < nw; i++)
        for (int j = i + 1; j < nw; j++)
            if (cosv[want[j]] > cosv[want[i]] + 1e-6f) {
                int x = want[i];
                want[i] = want[j], want[j] = x;
            }
    int got[4];
    int n = ur_retriever_query(r, q, strlen(q), 4, got);
    CHECKF(n == 4 && !memcmp(got, want, sizeof got), "got %d %d %d %d, want %d %d %d %d", got[0], got[1], got[2],
           got[3], want[0], want[1], want[2], want[3]);
    /* a query equal to an item never retrieves it */
    n = ur_retriever_query(r, "zeta", 4, 4, got);
    for (int i = 0; i < n; i++) CHECK(got[i] != 3);
    ur_retriever_free(r);
    /* the cache: loaded, the same answer */
    r = open_pool(pool, NULL);
    REQUIRE(r);
    note.len = 0;
    CHECK(!ur_retriever_use_embeddings(r, path, 1, &note, &err) && !note.len);
    int again[4];
    CHECK(ur_retriever_query(r, q, strlen(q), 4, again) == 4 && !memcmp(again, want, sizeof again));
    ur_retriever_free(r);
    r = open_pool(pool, NULL);
    REQUIRE(r);
    CHECK(ur_retriever_use_embeddings(r, tmp_path("none.gguf"), 1, NULL, &err) && strstr(err.msg, "none.gguf"));
    ur_retriever_free(r);
    ur_buf_free(&note);
    ur_ctx_free(c);
    ur_model_free(m);
}

int main(void) {
    th_suite = "baselines";
    RUN(test_zero_shot_exact);
    RUN(test_zero_shot_history);
    RUN(test_legacy_all_fixture_files);
    RUN(test_legacy_refusals);
    RUN(test_bm25_order);
    RUN(test_retrieve_exclusions);
    RUN(test_retrieve_render_exact);
    RUN(test_index_cache);
    RUN(test_retrieve_errors);
    RUN(test_retrieve_just_eval);
    RUN(test_decode_hidden);
    RUN(test_retrieve_embed);
    RUN(test_prefix_from_aligntds);
    RUN(test_prefix_words_split);
    RUN(test_prefix_errors);
    TEST_MAIN_END();
}
