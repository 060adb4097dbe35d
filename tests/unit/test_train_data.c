/* Training data: the three SFT formats, the loss mask (assistant tokens and their
 * end-of-turn marker only), truncation, and pretraining text windows. */
#include <stdint.h>

#include "harness.h"
#include "urial/chat.h"
#include "urial/model.h"
#include "urial/train.h"

static ur_model *model(void) {
    static char path[300];
    snprintf(path, sizeof path, "%s/m.gguf", th_tmpdir());
    ur_synth_params p;
    ur_synth_defaults(&p);
    p.dim = 32, p.n_heads = 2, p.n_kv_heads = 1, p.ff = 32, p.n_ctx = 128;
    ur_err err;
    if (ur_synth_write(&p, path, &err)) return NULL;
    return ur_model_load(path, &err);
}

static const char *write_tmp(const char *name, const char *text) {
    static char path[8][300];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 300, "%s/%s", th_tmpdir(), name);
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
    return p;
}

/* The text of the target tokens of s, in order (special tokens spelled). */
static void targets_text(const ur_vocab *v, const ur_tseq *s, char *out, int n) {
    int32_t ids[1024];
    int k = 0;
    for (int t = 0; t < s->n && k < 1024; t++)
        if (s->tgt[t] >= 0) ids[k++] = s->tgt[t];
    ur_detokenize(v, ids, k, 1, out, n);
}

static void test_sft_mask_multi_turn(void) {
    ur_model *m = model();
    REQUIRE(m);
    ur_err err;
    ur_chat *f = ur_chat_template("zephyr", &err);
    const char *p = write_tmp("a.jsonl",
                              "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                              "{\"role\":\"user\",\"content\":\"hi there\"},{\"role\":\"assistant\",\"content\":\"Hello!\"},"
                              "{\"role\":\"user\",\"content\":\"and?\"},{\"role\":\"assistant\",\"content\":\"Bye now.\"}]}\n");
    ur_tdata d;
    REQUIRE(ur_tdata_load_sft(&d, p, m->vocab, f, 1000, &err) == 0);
    REQUIRE(d.n == 1);
    const ur_tseq *s = &d.seqs[0];
    char txt[2048];
    targets_text(m->vocab, s, txt, sizeof txt);
    CHECKF(!strcmp(txt, "Hello!</s>\nBye now.</s>\n"), "targets spell '%s'", txt);
    /* inputs are the whole conversation: BOS, then the rendered text */
    CHECK(s->tok[0] == ur_vocab_bos(m->vocab));
    char all[4096];
    ur_detokenize(m->vocab, s->tok + 1, s->n - 1, 1, all, sizeof all);
    CHECKF(!strcmp(all, "<|system|>\nBe brief.</s>\n<|user|>\nhi there</s>\n<|assistant|>\nHello!</s>\n<|user|>\nand?</s>\n<|assistant|>\nBye now.</s>"),
           "inputs spell '%s'", all);
    /* each target is the next input */
    for (int t = 0; t + 1 < s->n; t++) CHECK(s->tgt[t] < 0 || s->tgt[t] == s->tok[t + 1]);
    CHECK(d.n_targets > 0 && d.n_targets < d.n_tokens);
    /* the sample prompt: the conversation up to the last assistant turn, generation prompt included */
    ur_detokenize(m->vocab, s->prompt + 1, s->n_prompt - 1, 1, all, sizeof all);
    CHECKF(!strcmp(all, "<|system|>\nBe brief.</s>\n<|user|>\nhi there</s>\n<|assistant|>\nHello!</s>\n<|user|>\nand?</s>\n<|assistant|>\n"),
           "prompt '%s'", all);
    CHECK(!strcmp(s->question, "and?") && !strcmp(s->answer, "Bye now."));
    ur_tdata_free(&d);
    ur_chat_free(f);
    ur_model_free(m);
}

static void test_sft_formats_agree(void) {
    ur_model *m = model();
    REQUIRE(m);
    ur_err err;
    ur_chat *f = ur_chat_template("zephyr", &err);
    const char *p = write_tmp("b.jsonl",
                              "{\"messages\":[{\"role\":\"user\",\"content\":\"Name a colour.\\n\\nOne word.\"},"
                              "{\"role\":\"assistant\",\"content\":\"Blue \\u00e9t\\u00e9.\"}]}\n"
                              "{\"conversations\":[\"Name a colour.\\n\\nOne word.\",\"Blue \\u00e9t\\u00e9.\"],\"source\":\"x\"}\n"
                              "\n"
                              "{\"instruction\":\"Name a colour.\",\"input\":\"One word.\",\"output\":\"Blue \\u00e9t\\u00e9.\"}\n"
                              "{\"conversations\":[{\"from\":\"human\",\"value\":\"Name a colour.\\n\\nOne word.\"},{\"from\":\"gpt\",\"value\":\"Blue \\u00e9t\\u00e9.\"}]}\n");
    ur_tdata d;
    REQUIRE(ur_tdata_load_sft(&d, p, m->vocab, f, 1000, &err) == 0);
    REQUIRE(d.n == 4);
    for (int i = 1; i < 4; i++) {
        CHECK(d.seqs[i].n == d.seqs[0].n);
        CHECK(!memcmp(d.seqs[i].tok, d.seqs[0].tok, sizeof(int32_t) * 2 * (size_t)d.seqs[0].n));
    }
    char txt[512];
    targets_text(m->vocab, &d.seqs[0], txt, sizeof txt);
    CHECKF(!strcmp(txt, "Blue \xc3\xa9t\xc3\xa9.</s>\n"), "targets '%s'", txt); /* multi-byte UTF-8 as byte tokens */
    ur_tdata_free(&d);
    /* truncation: max_len 10 keeps the first 10 inputs */
    REQUIRE(ur_tdata_load_sft(&d, p, m->vocab, f, 10, &err) == 0);
    CHECK(d.seqs[0].n == 10 && d.n_truncated == 4);
    ur_tdata dev;
    CHECK(ur_tdata_split(&d, &dev, 1) == 0 && d.n == 3 && dev.n == 1);
    ur_tdata_free(&dev);
    ur_tdata_free(&d);
    /* errors name file:line */
    p = write_tmp("c.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}\n{\"foo\":1}\n");
    CHECK(ur_tdata_load_sft(&d, p, m->vocab, f, 100, &err) == -1 && strstr(err.msg, "c.jsonl:2: expected"));
    ur_chat_free(f);
    ur_model_free(m);
}

static void test_text_windows(void) {
    ur_model *m = model();
    REQUIRE(m);
    const char *p = write_tmp("t.txt", "first doc\nline two\n\n\nsecond doc\r\n\r\nthird\n");
    ur_tdata d;
    ur_err err;
    REQUIRE(ur_tdata_load_text(&d, p, m->vocab, 8, &err) == 0);
    CHECK(d.n_docs == 3);
    /* the stream: BOS doc EOS BOS doc EOS ...; windows of 8 with next-token targets */
    int32_t stream[256];
    int k = 0;
    const char *docs[3] = {"first doc\nline two", "second doc", "third"};
    for (int i = 0; i < 3; i++) {
        k += ur_tokenize(m->vocab, docs[i], strlen(docs[i]), 1, 0, stream + k, 256 - k, &err);
        stream[k++] = ur_vocab_eos(m->vocab);
    }
    CHECK(d.n_stream == k && d.n == (k - 1) / 8);
    for (int w = 0; w < d.n; w++)
        for (int t = 0; t < 8; t++) CHECK(d.seqs[w].tok[t] == stream[w * 8 + t] && d.seqs[w].tgt[t] == stream[w * 8 + t + 1]);
    ur_tdata_free(&d);
    CHECK(ur_tdata_load_text(&d, p, m->vocab, 1000, &err) == -1 && strstr(err.msg, "fewer than one window"));
    ur_model_free(m);
}

int main(void) {
    th_suite = "train_data";
    RUN(test_sft_mask_multi_turn);
    RUN(test_sft_formats_agree);
    RUN(test_text_windows);
    TEST_MAIN_END();
}
