/* Chat formats: URIAL prompts (built-in and the authors' 26 files), multi-turn
 * rendering, the cacheable prefix, cleaning, the aligned-model templates (exact
 * renderings), auto detection, JSON conversations, and errors. */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>

#include "harness.h"
#include "urial/chat.h"
#include "urial/gguf.h"
#include "urial/tokenizer.h"

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fwrite(data, 1, n, f);
    fclose(f);
}

/* Render a conversation given as alternating role/content pairs, terminated by -1. */
static char *render(const ur_chat *f, int gen, ur_err *err, ...) {
    ur_conv c = {0};
    va_list ap;
    va_start(ap, err);
    for (int role; (role = va_arg(ap, int)) >= 0;) {
        const char *s = va_arg(ap, const char *);
        ur_conv_add(&c, role, s, strlen(s));
    }
    va_end(ap);
    ur_buf b = {0};
    int rc = ur_chat_render(f, c.msgs, c.n, gen, &b, err);
    ur_conv_free(&c);
    if (rc) { ur_buf_free(&b); return NULL; }
    return b.data;
}
#define U UR_ROLE_USER
#define A UR_ROLE_ASSISTANT
#define S UR_ROLE_SYSTEM

/* ---- URIAL: the authors' prompt files ------------------------------------------- */
/* Reference: the URIAL authors' apply_template (Re-Align/URIAL src/unified_utils.py)
 * reads the file with datasets' "text" loader (sample_by="document": the whole file)
 * and renders it with fastchat_conversation.py's "urial_backticks" template. The
 * length and FNV-1a hash below were computed from that reference rendering (the
 * same steps in Python: open(path, encoding="utf-8").read() + the template). */
static void test_urial_inst_1k_v4_help_exact_bytes(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    char path[4300];
    snprintf(path, sizeof path, "%s/urial/prompts/inst_1k_v4.help.txt", fx);
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial(path, &err);
    REQUIRE(f);
    char *p = render(f, 1, &err, U, "Write a haiku about the sea.\nMake it calm \xe2\x80\x94 and mention \xe2\x98\x80.", -1);
    REQUIRE(p);
    size_t n = strlen(p);
    CHECKF(n == 5598, "length %zu", n);
    CHECKF(fnv1a(p, n) == 0xa63bf36915720fb1ull, "hash %llx", (unsigned long long)fnv1a(p, n));
    CHECK(!strncmp(p, "# Instruction\n\nBelow is a list of conversations between a human and an AI assistant (you).", 89));
    const char *tail = " instructions and guidelines for your specific fryer model.\n```\n\n# Query:\n```\nWrite a haiku about "
                       "the sea.\nMake it calm \xe2\x80\x94 and mention \xe2\x98\x80.\n```\n\n# Answer:\n```\n";
    CHECK(n > strlen(tail) && !strcmp(p + n - strlen(tail), tail));
    CHECK(ur_chat_add_bos(f) == 1 && ur_chat_parse_special(f) == 0 && !ur_chat_warning(f));
    free(p);
    ur_chat_free(f);
}

/* All 26 files load and render: the file text (newlines normalised), then the query
 * in the style the authors pick by file name. */
static void test_urial_all_fixture_files(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/urial/prompts", fx);
    DIR *d = opendir(dir);
    REQUIRE(d);
    int files = 0, warned = 0, v5 = 0, v6 = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ur_err err = {{0}};
        ur_chat *f = ur_chat_urial(path, &err);
        CHECKF(f, "%s: %s", e->d_name, err.msg);
        if (!f) continue;
        files++;
        size_t flen = 0;
        char *file = th_read_file(path, &flen);
        char *p = render(f, 1, &err, U, "Q?", -1);
        CHECKF(p && file, "%s: %s", e->d_name, err.msg);
        if (p && file) {
            CHECKF(!strncmp(p, file, flen), "%s: prompt text not kept verbatim", e->d_name);
            const char *want = strstr(e->d_name, "inst_help_v5") ? (v5++, "\n# User:\n\nQ?\n\n\n# Assistant:\n\n")
                               : strstr(e->d_name, "inst_help_v6") ? (v6++, "\n\n# User:\nQ?\n\n\n# Assistant:\n")
                                                                   : "\n# Query:\n```\nQ?\n```\n\n# Answer:\n```\n";
            CHECKF(!strcmp(p + flen, want), "%s: suffix '%s'", e->d_name, p + flen);
        }
        if (ur_chat_warning(f)) {
            warned++;
            CHECKF(flen == 0 && strstr(ur_chat_warning(f), "empty"), "%s: %s", e->d_name, ur_chat_warning(f));
        }
        free(p);
        free(file);
        ur_chat_free(f);
    }
    closedir(d);
    CHECKF(files == 26, "%d files", files);
    CHECKF(warned == 1 && v5 == 2 && v6 == 2, "warned %d v5 %d v6 %d", warned, v5, v6);
}

/* Universal newlines (as Python's text mode), and strict UTF-8. */
static void test_urial_file_reading(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/crlf.txt", th_tmpdir());
    write_file(path, "a\r\nb\rc\n\xef\xbb\xbf", 10);
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial(path, &err);
    REQUIRE(f);
    size_t n;
    const char *t = ur_chat_urial_prompt(f, &n);
    CHECK(n == 9 && !memcmp(t, "a\nb\nc\n\xef\xbb\xbf", 9)); /* a BOM is kept, as Python's utf-8 codec does */
    ur_chat_free(f);
    snprintf(path, sizeof path, "%s/bad.txt", th_tmpdir());
    write_file(path, "ok \xc0\xaf", 5); /* an overlong '/' */
    CHECK(!ur_chat_urial(path, &err));
    CHECKF(strstr(err.msg, path) && strstr(err.msg, "not valid UTF-8 (byte offset 3)"), "%s", err.msg);
    write_file(path, "\xed\xa0\x80", 3); /* a surrogate */
    CHECK(!ur_chat_urial(path, &err) && strstr(err.msg, "byte offset 0"));
}

/* The v5 / v6 layouts on a tiny prompt, with a second turn. */
static void test_urial_v5_v6(void) {
    char p5[512], p6[512];
    snprintf(p5, sizeof p5, "%s/my_inst_help_v5.txt", th_tmpdir());
    snprintf(p6, sizeof p6, "%s/inst_help_v6-x.txt", th_tmpdir());
    write_file(p5, "SYS", 3);
    write_file(p6, "SYS", 3);
    ur_err err = {{0}};
    ur_chat *f5 = ur_chat_urial(p5, &err), *f6 = ur_chat_urial(p6, &err);
    REQUIRE(f5 && f6);
    char *a = render(f5, 1, &err, U, "q1", A, "a1", U, "q2", -1);
    char *b = render(f6, 1, &err, U, "\nq1\n", A, "a1", U, "q2", -1);
    CHECKF(a && !strcmp(a, "SYS\n# User:\n\nq1\n\n\n# Assistant:\n\na1\n\n\n# User:\n\nq2\n\n\n# Assistant:\n\n"), "%s", a);
    CHECKF(b && !strcmp(b, "SYS\n\n# User:\nq1\n\n\n# Assistant:\na1\n\n\n# User:\nq2\n\n\n# Assistant:\n"), "%s", b);
    int n;
    const char *const *st = ur_chat_stops(f5, &n);
    CHECK(n == 1 && !strcmp(st[0], "# User"));
    free(a);
    free(b);
    ur_chat_free(f5);
    ur_chat_free(f6);
}

/* ---- URIAL: built-in prompts ---------------------------------------------------- */
static int count_str(const char *s, const char *needle) {
    int c = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++) c++;
    return c;
}

static void test_urial_builtins(void) {
    static const struct { const char *name; int k; } want[] = {
        {"urial-k0", 0}, {"urial-k1", 1}, {"urial-k3", 3}, {"urial-k3-safe", 3}, {"urial-k8", 8}};
    int n;
    const ur_chat_info *list = ur_chat_list(UR_CHAT_URIAL, &n);
    CHECK(n == 5);
    for (int i = 0; i < 5; i++) {
        CHECK(!strcmp(list[i].name, want[i].name) && list[i].desc[0]);
        ur_err err = {{0}};
        ur_chat *f = ur_chat_urial(want[i].name, &err);
        CHECKF(f, "%s", err.msg);
        if (!f) continue;
        size_t len;
        const char *t = ur_chat_urial_prompt(f, &len);
        CHECK(strlen(t) == len && !strncmp(t, "# Guidelines\n\n", 14));
        CHECKF(count_str(t, "# Query:\n```\n") == want[i].k && count_str(t, "# Answer:\n```\n") == want[i].k, "%s",
               want[i].name);
        CHECK(len > 2 && t[len - 1] == '\n' && t[len - 2] != '\n');
        if (want[i].k) CHECK(!strcmp(t + len - 5, "\n```\n"));
        CHECK(!strstr(t, "\r") && !strstr(t, "\t"));
        CHECK((strstr(t, "I'm sorry, but I can't help") != NULL) == !strcmp(want[i].name, "urial-k3-safe"));
        /* every example answer greets and closes with an offer of more help */
        CHECK(count_str(t, "# Answer:\n```\nH") == want[i].k);
        char *p = render(f, 1, &err, U, "Hi", -1);
        CHECK(p && !strncmp(p, t, len) && !strcmp(p + len, "\n# Query:\n```\nHi\n```\n\n# Answer:\n```\n"));
        free(p);
        ur_chat_free(f);
    }
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial(UR_URIAL_DEFAULT, &err);
    CHECK(f && !strcmp(ur_chat_name(f), "urial-k3"));
    ur_chat_free(f);
}

/* The compiled-in text equals the files in data/urial/ (tests run from the repo root). */
static void test_urial_builtin_matches_data_files(void) {
    static const char *k3[] = {"system", "ex-vaccines", "ex-interview", "ex-palindrome"};
    ur_buf b = {0};
    for (int i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, "data/urial/%s.txt", k3[i]);
        size_t n;
        char *t = th_read_file(path, &n);
        REQUIRE(t);
        while (n && t[n - 1] == '\n') n--;
        if (i) ur_buf_puts(&b, "\n\n");
        ur_buf_put(&b, t, n);
        free(t);
    }
    ur_buf_puts(&b, "\n");
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial("urial-k3", &err);
    size_t len;
    const char *t = ur_chat_urial_prompt(f, &len);
    CHECK(len == b.len && !memcmp(t, b.data, len));
    ur_buf_free(&b);
    ur_chat_free(f);
}

/* Sizes under the Llama-2 tokenizer (the authors call their 1.5k-token inst_1k "1k"). */
static void test_urial_builtin_token_counts(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    char path[4300];
    snprintf(path, sizeof path, "%s/tokenizer/llama-spm/vocab-llama-spm.gguf", fx);
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(path, &err);
    ur_vocab *v = g ? ur_vocab_load(g, &err) : NULL;
    REQUIRE(v);
    static const struct { const char *name; int lo, hi; } want[] = {
        {"urial-k0", 150, 300}, {"urial-k1", 450, 750}, {"urial-k3", 1100, 1500}, {"urial-k3-safe", 1100, 1500},
        {"urial-k8", 2800, 3500}};
    for (int i = 0; i < 5; i++) {
        ur_chat *f = ur_chat_urial(want[i].name, &err);
        size_t len;
        const char *t = ur_chat_urial_prompt(f, &len);
        int n = ur_tokenize(v, t, len, 0, 0, NULL, 0, &err);
        CHECKF(n >= want[i].lo && n <= want[i].hi, "%s: %d tokens", want[i].name, n);
        ur_chat_free(f);
    }
    ur_vocab_free(v);
    ur_gguf_close(g);
}

/* The cacheable prefix tokenizes to a prefix of every full prompt's tokens (what a
 * prefix KV cache relies on), for our default prompt and the authors' file. */
static int tokenize_all(const ur_vocab *v, const char *s, int32_t **out) {
    ur_err err = {{0}};
    int n = ur_tokenize(v, s, strlen(s), 1, 0, NULL, 0, &err);
    *out = malloc(sizeof **out * (size_t)(n > 0 ? n : 1));
    return ur_tokenize(v, s, strlen(s), 1, 0, *out, n, &err);
}

static void test_urial_prefix_tokens(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("no fixtures");
    char path[4300], file[4300];
    snprintf(path, sizeof path, "%s/tokenizer/llama-spm/vocab-llama-spm.gguf", fx);
    snprintf(file, sizeof file, "%s/urial/prompts/inst_1k_v4.help.txt", fx);
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(path, &err);
    ur_vocab *v = g ? ur_vocab_load(g, &err) : NULL;
    REQUIRE(v);
    const char *names[] = {"urial-k3", file};
    const char *queries[] = {"What is 2+2?", " leading space", "\xc3\xa9t\xc3\xa9 \xe2\x98\x80", "```nested```", "\n\nnewlines"};
    for (int i = 0; i < 2; i++) {
        ur_chat *f = ur_chat_urial(names[i], &err);
        REQUIRE(f);
        ur_buf pre = {0};
        REQUIRE(!ur_chat_prefix(f, NULL, 0, &pre, &err));
        int32_t *tp, *tf;
        int np = tokenize_all(v, pre.data, &tp);
        for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
            char *full = render(f, 1, &err, U, queries[q], -1);
            int nf = tokenize_all(v, full, &tf);
            CHECKF(np > 0 && nf > np && !memcmp(tp, tf, sizeof *tp * (size_t)np), "%s, query %zu", names[i], q);
            free(tf);
            free(full);
        }
        free(tp);
        ur_buf_free(&pre);
        ur_chat_free(f);
    }
    ur_vocab_free(v);
    ur_gguf_close(g);
}

/* ---- URIAL: multi-turn, prefix, stops, cleaning --------------------------------- */
static void test_urial_multiturn(void) {
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial_text("t", "PROMPT", 6, &err);
    REQUIRE(f);
    char *p = render(f, 1, &err, U, "q1", A, "a1\n\nmore", U, "q2", -1);
    CHECKF(p && !strcmp(p, "PROMPT\n# Query:\n```\nq1\n```\n\n# Answer:\n```\na1\n\nmore\n```\n\n# Query:\n```\nq2"
                           "\n```\n\n# Answer:\n```\n"), "%s", p);
    free(p);
    p = render(f, 0, &err, U, "q1", -1); /* no generation prompt */
    CHECK(p && !strcmp(p, "PROMPT\n# Query:\n```\nq1\n```\n"));
    free(p);
    ur_chat_free(f);
}

static void test_urial_prefix(void) {
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial("urial-k1", &err);
    size_t len;
    const char *t = ur_chat_urial_prompt(f, &len);
    ur_buf pre = {0};
    REQUIRE(!ur_chat_prefix(f, NULL, 0, &pre, &err));
    CHECK(pre.len == len + 14 && !strncmp(pre.data, t, len) && !strcmp(pre.data + len, "\n# Query:\n```\n"));
    char *a = render(f, 1, &err, U, "first query", -1), *b = render(f, 1, &err, U, "another", A, "x", U, "y", -1);
    CHECK(a && b && !strncmp(a, pre.data, pre.len) && !strncmp(b, pre.data, pre.len));
    free(a);
    free(b);
    /* after earlier turns the prefix grows to the start of the next query */
    ur_conv c = {0};
    ur_conv_add(&c, U, "q1", 2);
    ur_conv_add(&c, A, "a1", 2);
    pre.len = 0;
    REQUIRE(!ur_chat_prefix(f, c.msgs, c.n, &pre, &err));
    CHECK(!strcmp(pre.data + len, "\n# Query:\n```\nq1\n```\n\n# Answer:\n```\na1\n```\n\n# Query:\n```\n"));
    ur_conv_free(&c);
    ur_buf_free(&pre);
    ur_chat_free(f);
    /* templates: the system turn is shared by every query */
    f = ur_chat_template("chatml", &err);
    ur_msg sys = {S, "Be kind.", 8};
    REQUIRE(!ur_chat_prefix(f, &sys, 1, &pre, &err));
    CHECKF(!strcmp(pre.data, "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n"), "%s", pre.data);
    ur_buf_free(&pre);
    ur_chat_free(f);
}

static char *clean(const ur_chat *f, const char *s) {
    ur_buf b = {0};
    ur_chat_clean(f, s, strlen(s), &b);
    return b.data;
}

/* The authors' clear_output: drop every ```, <|endoftext|> -> " ", strip (Python). */
static void test_urial_clean(void) {
    ur_err err = {{0}};
    ur_chat *f = ur_chat_urial("urial-k0", &err);
    static const char *cases[][2] = {
        {"Hello! Here you go.\n```\n\n", "Hello! Here you go."},
        {"Answer text\n```\n\n# Query:\n```\nnext", "Answer text"}, /* a backend that did not stop */
        {"Code:\n```python\nprint(1)\n```\nDone.\n```", "Code:\npython\nprint(1)\n\nDone."},
        {"a````b", "a`b"},
        {"x<|endoftext|>y<|endoftext|>", "x y"},
        {"<|endof```text|>", ""}, /* the two replaces run in order, as in Python */
        {" \t\xe3\x80\x80\xc2\xa0 text \xe2\x80\xa8\n", "text"},
        {"\xe2\x80\x8b zero-width space is not whitespace", "\xe2\x80\x8b zero-width space is not whitespace"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *c = clean(f, cases[i][0]);
        CHECKF(c && !strcmp(c, cases[i][1]), "case %zu: '%s'", i, c ? c : "(null)");
        free(c);
    }
    int n;
    const char *const *st = ur_chat_stops(f, &n);
    CHECK(n == 1 && !strcmp(st[0], "# Query"));
    ur_buf b = {0};
    ur_chat_clean(f, NULL, 0, &b);
    CHECK(b.len == 0);
    ur_buf_free(&b);
    ur_chat_free(f);
    f = ur_chat_template("chatml", &err);
    char *c = clean(f, "  Sure!  <|im_end|>\n<|im_start|>user");
    CHECK(c && !strcmp(c, "Sure!"));
    free(c);
    ur_chat_free(f);
}

/* ---- templates -------------------------------------------------------------------- */
/* One conversation (system, user, assistant with surrounding spaces, user), rendered
 * with the generation prompt. The expected strings are what each family's reference
 * template gives, rendered with jinja2 as transformers does (trim_blocks,
 * lstrip_blocks) from the tokenizer_config.json chat_template of:
 *   llama-2                 meta-llama/Llama-2-7b-chat-hf
 *   llama-2-default-system  transformers LlamaTokenizer default_chat_template, use_default_system_prompt=True
 *   mistral-instruct        mistralai/Mistral-7B-Instruct-v0.2 ("v1" template; also pinned in llama.cpp's
 *                           tests/test-chat-template.cpp)
 *   mistral-instruct-legacy Mistral-7B-Instruct-v0.1's original template (no system role)
 *   zephyr                  HuggingFaceH4/zephyr-7b-beta
 *   tulu                    allenai/tulu-2-dpo-70b (+ "<|system|>\n" + content + "\n" as open-instruct)
 *   chatml                  teknium/OpenHermes-2.5-Mistral-7B
 *   llama-3                 meta-llama/Meta-Llama-3-8B-Instruct
 *   gemma                   google/gemma-2-9b-it without a system message, google/gemma-3-*-it with one
 * and vicuna-v1.1 from FastChat's conversation.py (template "vicuna_v1.1"). */
static const struct {
    const char *name;
    int system; /* the conversation starts with the system message */
    const char *want;
} TEMPLATE_CASES[] = {
    {"llama-2", 1,
     "<s>[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there! </s><s>[INST] Who are you? "
     "[/INST]"},
    {"llama-2-default-system", 1,
     "<s>[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there! </s><s>[INST] Who are you? "
     "[/INST]"},
    {"llama-2-default-system", 0,
     "<s>[INST] <<SYS>>\nYou are a helpful, respectful and honest assistant. Always answer as helpfully as possible, "
     "while being safe. Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or "
     "illegal content. Please ensure that your responses are socially unbiased and positive in nature.\n\nIf a "
     "question does not make any sense, or is not factually coherent, explain why instead of answering something not "
     "correct. If you don't know the answer to a question, please don't share false information.\n<</SYS>>\n\nHello "
     "[/INST] Hi there! </s><s>[INST] Who are you? [/INST]"},
    {"mistral-instruct", 1,
     "<s> [INST] You are a helpful assistant\n\nHello [/INST]   Hi there!  </s> [INST] Who are you? [/INST]"},
    {"mistral-instruct", 0, "<s> [INST] Hello [/INST]   Hi there!  </s> [INST] Who are you? [/INST]"},
    {"mistral-instruct-legacy", 0, "<s>[INST] Hello [/INST]  Hi there!  </s>[INST] Who are you? [/INST]"},
    {"vicuna-v1.1", 1, "You are a helpful assistant USER: Hello ASSISTANT:   Hi there!  </s>USER: Who are you? ASSISTANT:"},
    {"vicuna-v1.1", 0,
     "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, "
     "and polite answers to the user's questions. USER: Hello ASSISTANT:   Hi there!  </s>USER: Who are you? "
     "ASSISTANT:"},
    {"zephyr", 1,
     "<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\n  Hi there!  </s>\n<|user|>\n"
     "Who are you?</s>\n<|assistant|>\n"},
    {"tulu", 1,
     "<|system|>\nYou are a helpful assistant\n<|user|>\nHello\n<|assistant|>\n  Hi there!  </s>\n<|user|>\nWho are "
     "you?\n<|assistant|>\n"},
    {"tulu", 0, "<|user|>\nHello\n<|assistant|>\n  Hi there!  </s>\n<|user|>\nWho are you?\n<|assistant|>\n"},
    {"chatml", 1,
     "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>"
     "assistant\n  Hi there!  <|im_end|>\n<|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n"},
    {"llama-3", 1,
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
     "Hi there!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you?<|eot_id|><|start_header_id|>"
     "assistant<|end_header_id|>\n\n"},
    {"gemma", 1,
     "<bos><start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there!"
     "<end_of_turn>\n<start_of_turn>user\nWho are you?<end_of_turn>\n<start_of_turn>model\n"},
    {"gemma", 0,
     "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there!<end_of_turn>\n<start_of_turn>"
     "user\nWho are you?<end_of_turn>\n<start_of_turn>model\n"},
};

static void test_templates_exact(void) {
    int covered[16] = {0}, n_list;
    const ur_chat_info *list = ur_chat_list(UR_CHAT_TEMPLATE, &n_list);
    for (size_t i = 0; i < sizeof TEMPLATE_CASES / sizeof TEMPLATE_CASES[0]; i++) {
        ur_err err = {{0}};
        ur_chat *f = ur_chat_template(TEMPLATE_CASES[i].name, &err);
        CHECKF(f, "%s", err.msg);
        if (!f) continue;
        char *p = TEMPLATE_CASES[i].system
                      ? render(f, 1, &err, S, "You are a helpful assistant", U, "Hello", A, "  Hi there!  ", U,
                               "Who are you?", -1)
                      : render(f, 1, &err, U, "Hello", A, "  Hi there!  ", U, "Who are you?", -1);
        CHECKF(p && !strcmp(p, TEMPLATE_CASES[i].want), "%s: got '%s' (%s)", TEMPLATE_CASES[i].name, p ? p : "",
               err.msg);
        for (int k = 0; k < n_list; k++)
            if (!strcmp(list[k].name, TEMPLATE_CASES[i].name)) covered[k] = 1;
        free(p);
        ur_chat_free(f);
    }
    for (int k = 0; k < n_list; k++) CHECKF(covered[k], "template %s has no exact-rendering case", list[k].name);
}

/* BOS: spelled in the text by llama-2, mistral, llama-3 and gemma (the tokenizer
 * must not add another); special-token parsing on for every template. */
static void test_template_flags(void) {
    static const struct { const char *name, *stop; int add_bos; } want[] = {
        {"llama-2", "</s>", 0},      {"llama-2-default-system", "</s>", 0}, {"mistral-instruct", "</s>", 0},
        {"mistral-instruct-legacy", "</s>", 0}, {"vicuna-v1.1", "</s>", 1}, {"zephyr", "</s>", 1},
        {"tulu", "</s>", 1},         {"chatml", "<|im_end|>", 1},           {"llama-3", "<|eot_id|>", 0},
        {"gemma", "<end_of_turn>", 0}};
    int n_list;
    ur_chat_list(UR_CHAT_TEMPLATE, &n_list);
    CHECK(n_list == 10);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ur_err err = {{0}};
        ur_chat *f = ur_chat_template(want[i].name, &err);
        REQUIRE(f);
        int n;
        const char *const *st = ur_chat_stops(f, &n);
        CHECKF(ur_chat_add_bos(f) == want[i].add_bos && ur_chat_parse_special(f) == 1 && n == 1 &&
                   !strcmp(st[0], want[i].stop) && ur_chat_kind(f) == UR_CHAT_TEMPLATE && !ur_chat_urial_prompt(f, NULL),
               "%s", want[i].name);
        /* without a generation prompt, the templates that have one leave it out */
        char *a = render(f, 1, &err, U, "q", -1), *b = render(f, 0, &err, U, "q", -1);
        CHECK(a && b && !strncmp(a, b, strlen(b)));
        free(a);
        free(b);
        ur_chat_free(f);
    }
}

/* ---- auto detection ------------------------------------------------------------------ */
static void test_detect(void) {
    /* distinctive pieces of each family's Jinja source */
    static const char *cases[][3] = {
        {"{{ bos_token + '[INST] ' + content.strip() }}<<SYS>>", NULL, "llama-2"},
        {"{% set system_message = 'You are a helpful, respectful and honest assistant.' %}<<SYS>>[INST]", NULL,
         "llama-2-default-system"},
        {"{{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}", NULL, "mistral-instruct"},
        {"{{ '[INST] ' + message['content'] + ' [/INST]' }}{{ message['content'] + eos_token}}", NULL,
         "mistral-instruct-legacy"},
        {"[AVAILABLE_TOOLS][INST]", NULL, NULL},
        {"'<|user|>\\n' + message['content'] + eos_token '<|system|>\\n' + eos_token '<|assistant|>\\n' + eos_token",
         NULL, "zephyr"},
        {"'<|user|>\\n' + message['content'] '<|assistant|>\\n' + message['content'] + eos_token", NULL, "tulu"},
        {"'<|user|>' + '\\n' + message['content'] + '<|end|>' '<|assistant|>'", NULL, NULL}, /* Phi-3 */
        {"{{'<|im_start|>' + message['role'] + '\\n'}}", NULL, "chatml"},
        {"<|im_start|>system\\nYou are a helpful assistant.<|im_end|>", NULL, NULL}, /* default system */
        {"'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'", NULL, "llama-3"},
        {"'<start_of_turn>' + role + '\\n'", NULL, "gemma"},
        {"{% for m in messages %}{{ m['content'] }}{% endfor %}", "Llama-2-7b-chat-hf", "llama-2"},
        {NULL, "Meta-Llama-3-8B-Instruct", "llama-3"},
        {NULL, "mistralai_mistral-7b-instruct-v0.2", "mistral-instruct"},
        {NULL, "vicuna-7b-v1.5", "vicuna-v1.1"},
        {NULL, "tulu-2-dpo-7b", "tulu"},
        {NULL, "zephyr-7b-beta", "zephyr"},
        {NULL, "gemma-2-2b-it", "gemma"},
        {NULL, "OpenHermes-2.5-Mistral-7B", "chatml"},
        {NULL, "LLaMA v2", NULL},  /* a base model */
        {NULL, "Mistral-7B-v0.1", NULL},
        {"", "", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = ur_chat_detect(cases[i][0], cases[i][1]);
        CHECKF((!got && !cases[i][2]) || (got && cases[i][2] && !strcmp(got, cases[i][2])), "case %zu: %s", i,
               got ? got : "NULL");
    }
}

static void write_gguf(const char *path, const char *name, const char *tmpl) {
    ur_gguf_writer *w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "general.architecture", "llama");
    if (name) ur_gguf_w_str(w, "general.name", name);
    if (tmpl) ur_gguf_w_str(w, "tokenizer.chat_template", tmpl);
    ur_err err = {{0}};
    if (ur_gguf_write(w, path, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    ur_gguf_writer_free(w);
}

/* auto: the model's own template through the Jinja interpreter; without one, the
 * built-in template general.name names; a template that does not parse is an error
 * naming the file and the place. */
static void test_template_auto(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/m.gguf", th_tmpdir());
    ur_err err = {{0}};
    write_gguf(path, "whatever", "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}{% endfor %}");
    ur_gguf *g = ur_gguf_open(path, &err);
    REQUIRE(g);
    ur_chat *f = ur_chat_template_auto(g, &err);
    CHECKF(f && !strcmp(ur_chat_name(f), "tokenizer.chat_template") && ur_chat_kind(f) == UR_CHAT_TEMPLATE, "%s", err.msg);
    char *p = f ? render(f, 1, &err, U, "Hi", -1) : NULL;
    CHECKF(p && !strcmp(p, "<|im_start|>user\n"), "%s", p ? p : err.msg);
    free(p);
    ur_chat_free(f);
    ur_gguf_close(g);
    write_gguf(path, "zephyr-7b-beta", NULL);
    g = ur_gguf_open(path, &err);
    f = g ? ur_chat_template_auto(g, &err) : NULL;
    CHECK(f && !strcmp(ur_chat_name(f), "zephyr"));
    ur_chat_free(f);
    ur_gguf_close(g);
    write_gguf(path, "TinyLlama base", NULL);
    g = ur_gguf_open(path, &err);
    f = g ? ur_chat_template_auto(g, &err) : NULL;
    CHECK(!f);
    CHECKF(strstr(err.msg, path) && strstr(err.msg, "no tokenizer.chat_template") && strstr(err.msg, "TinyLlama base") &&
               strstr(err.msg, "--template") && !strchr(err.msg, '\n'),
           "%s", err.msg);
    ur_gguf_close(g);
    write_gguf(path, "x", "line one\n{% for m in messages %}{{ m.content }\n");
    g = ur_gguf_open(path, &err);
    f = g ? ur_chat_template_auto(g, &err) : NULL;
    CHECK(!f);
    CHECKF(strstr(err.msg, path) && strstr(err.msg, "tokenizer.chat_template: line 2, column ") && !strchr(err.msg, '\n'),
           "%s", err.msg);
    ur_gguf_close(g);
}

/* ---- conversations from JSON ----------------------------------------------------------- */
static void test_conv_json(void) {
    ur_conv c = {0};
    ur_err err = {{0}};
    const char *j1 = "[{\"role\":\"user\",\"content\":\"hi \\u00e9\"},{\"role\":\"assistant\",\"content\":\"yo\\n\"}]";
    REQUIRE(!ur_conv_parse_json(&c, j1, strlen(j1), "h.json", &err));
    CHECK(c.n == 2 && c.msgs[0].role == U && !strcmp(c.msgs[0].content, "hi \xc3\xa9") && c.msgs[0].len == 5 &&
          c.msgs[1].role == A && !strcmp(c.msgs[1].content, "yo\n"));
    const char *j2 = "{\"model\":\"x\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"}]}";
    REQUIRE(!ur_conv_parse_json(&c, j2, strlen(j2), "h.json", &err));
    CHECK(c.n == 3 && c.msgs[2].role == S);
    static const char *bad[][2] = {
        {"[{\"role\":\"user\",", "h.json: not valid JSON: "},
        {"{\"turns\":[]}", "h.json: a JSON object must hold the conversation as an array under \"messages\""},
        {"\"hello\"", "h.json: expected an array"},
        {"[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"bot\",\"content\":\"b\"}]",
         "h.json: message 2: \"role\" must be"},
        {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]", "h.json: message 1: \"content\" must be a string"},
        {"[3]", "h.json: message 1 is not a JSON object"},
        {"[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]", "h.json: not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        CHECKF(ur_conv_parse_json(&c, bad[i][0], strlen(bad[i][0]), "h.json", &err) == -1 &&
                   !strncmp(err.msg, bad[i][1], strlen(bad[i][1])) && !strchr(err.msg, '\n'),
               "case %zu: %s", i, err.msg);
    }
    CHECK(c.n == 3); /* nothing appended on error */
    ur_conv_truncate(&c, 1);
    CHECK(c.n == 1);
    ur_conv_free(&c);
    char path[512];
    snprintf(path, sizeof path, "%s/none.json", th_tmpdir());
    CHECK(ur_conv_load_json(&c, path, &err) == -1 && strstr(err.msg, path) && strstr(err.msg, "No such file"));
    CHECK(ur_role_from_name("assistant") == A && ur_role_from_name("bot") == -1 && !strcmp(ur_role_name(S), "system"));
}

/* ---- errors ------------------------------------------------------------------------------ */
static void test_errors(void) {
    ur_err err = {{0}};
    char path[512];
    snprintf(path, sizeof path, "%s/missing.txt", th_tmpdir());
    CHECK(!ur_chat_urial(path, &err));
    CHECKF(strstr(err.msg, path) && strstr(err.msg, "No such file"), "%s", err.msg);
    CHECK(!ur_chat_urial("urial-k4", &err));
    CHECKF(strstr(err.msg, "unknown URIAL prompt 'urial-k4'") && strstr(err.msg, "urial-k3-safe"), "%s", err.msg);
    CHECK(!ur_chat_urial(th_tmpdir(), &err) && strstr(err.msg, "is a directory"));
    CHECK(!ur_chat_urial("", &err));
    CHECK(!ur_chat_template("llama2", &err));
    CHECKF(strstr(err.msg, "unknown template 'llama2'") && strstr(err.msg, "llama-2, "), "%s", err.msg);
    CHECK(!ur_chat_template("auto", &err) && strstr(err.msg, "-m MODEL"));
    /* an empty file loads, with a warning */
    snprintf(path, sizeof path, "%s/empty.txt", th_tmpdir());
    write_file(path, "", 0);
    ur_chat *f = ur_chat_urial(path, &err);
    REQUIRE(f);
    CHECKF(ur_chat_warning(f) && strstr(ur_chat_warning(f), path) && strstr(ur_chat_warning(f), "empty"), "%s",
           ur_chat_warning(f));
    char *p = render(f, 1, &err, U, "q", -1);
    CHECK(p && !strcmp(p, "\n# Query:\n```\nq\n```\n\n# Answer:\n```\n"));
    free(p);
    ur_chat_free(f);
    /* role order */
    f = ur_chat_urial("urial-k0", &err);
    CHECK(!render(f, 1, &err, S, "sys", U, "q", -1));
    CHECKF(strstr(err.msg, "urial-k0: message 1 is a system message") && strstr(err.msg, "system preamble"), "%s",
           err.msg);
    CHECK(!render(f, 1, &err, U, "q", U, "q2", -1));
    CHECKF(strstr(err.msg, "urial-k0: message 2 is a user message where an assistant message was expected"), "%s",
           err.msg);
    CHECK(!render(f, 1, &err, A, "a", -1) && strstr(err.msg, "message 1 is an assistant message where a user"));
    ur_chat_free(f);
    f = ur_chat_template("zephyr", &err);
    CHECK(!render(f, 1, &err, U, "q", S, "s", -1) && strstr(err.msg, "message 2 is a system message; a system message "
                                                                     "may only come first"));
    ur_chat_free(f);
    f = ur_chat_template("mistral-instruct-legacy", &err);
    CHECK(!render(f, 1, &err, S, "s", U, "q", -1) && strstr(err.msg, "no place for"));
    ur_chat_free(f);
}

/* Cleaning while streaming: the pieces, for raw text cut anywhere, add up to
 * ur_chat_clean of the whole (fences split across pieces, <|endoftext|>, spaces).
 * The raw text holds no stop string: the generator holds those back. */
static void test_clean_streaming(void) {
    const char *raws[] = {"  Hello ``` there\n```python\nx = 1\n```\n<|endoftext|> done  \n```\n",
                          "```\n\n  ``a`` <|endof text <|endoftext|>", "", "   ", "plain answer"};
    ur_err err = {{0}};
    ur_chat *fs[2] = {ur_chat_urial("urial-k0", &err), ur_chat_template("chatml", &err)};
    for (int k = 0; k < 2; k++) {
        REQUIRE(fs[k]);
        for (size_t r = 0; r < sizeof raws / sizeof raws[0]; r++) {
            size_t n = strlen(raws[r]);
            ur_buf want = {0};
            ur_chat_clean(fs[k], raws[r], n, &want);
            for (size_t step = 1; step <= 5; step++) {
                ur_chat_stream cs;
                ur_chat_stream_init(&cs, fs[k]);
                ur_buf got = {0};
                for (size_t i = 0; i < n; i += step) ur_chat_stream_push(&cs, raws[r] + i, i + step < n ? step : n - i, &got);
                ur_chat_stream_end(&cs, &got);
                CHECKF(got.len == want.len && (!got.len || !memcmp(got.data, want.data, got.len)),
                       "format %d, text %zu, step %zu: '%.*s' vs '%.*s'", k, r, step, (int)got.len, got.data ? got.data : "",
                       (int)want.len, want.data ? want.data : "");
                ur_chat_stream_free(&cs);
                ur_buf_free(&got);
            }
            ur_buf_free(&want);
        }
        ur_chat_free(fs[k]);
    }
}

int main(void) {
    th_suite = "chat";
    RUN(test_clean_streaming);
    RUN(test_urial_inst_1k_v4_help_exact_bytes);
    RUN(test_urial_all_fixture_files);
    RUN(test_urial_file_reading);
    RUN(test_urial_v5_v6);
    RUN(test_urial_builtins);
    RUN(test_urial_builtin_matches_data_files);
    RUN(test_urial_builtin_token_counts);
    RUN(test_urial_prefix_tokens);
    RUN(test_urial_multiturn);
    RUN(test_urial_prefix);
    RUN(test_urial_clean);
    RUN(test_templates_exact);
    RUN(test_template_flags);
    RUN(test_detect);
    RUN(test_template_auto);
    RUN(test_conv_json);
    RUN(test_errors);
    TEST_MAIN_END();
}
