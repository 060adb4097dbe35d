/* libFuzzer target for what consumes a parsed GGUF (make fuzz-model).
 *
 * fuzz_gguf.c stops at the container; this goes on: the model loader (the
 * architecture table's hyperparameters, every weight bound to its tensor with its
 * shape and type checked), the vocabulary (tokens, scores, token types, merges, the
 * pre-tokenizer) into the tokenizer, tokenizing and detokenizing a few strings
 * (special tokens parsed, invalid UTF-8, the streaming detokenizer), and the
 * model's chat template (tokenizer.chat_template through the Jinja interpreter)
 * rendered for a short conversation. Each stage runs even when an earlier one
 * refused the file, so a file with a broken weight still reaches the tokenizer.
 * Seeds: tests/fuzz/seeds-model (tiny models of every tokenizer kind: make fuzz-seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "urial/chat.h"
#include "urial/gguf.h"
#include "urial/model.h"
#include "urial/tokenizer.h"

#define ASSERT(c)                   \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

static const char *const TEXTS[] = {
    "Hello world! What is a compiler?",
    "  leading spaces, tabs\tand\nnewlines\n\n",
    "<s>[INST] special <|user|> tokens </s><|im_start|>assistant\n",
    "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 emoji",
    "\xff\xfe invalid \xc3 utf-8 \x80",
    "1234567890 3.14159 x_y-z",
};

static void one_line(const ur_err *e) { ASSERT(!strchr(e->msg, '\n')); }

static void use_vocab(const ur_vocab *v) {
    const int n_vocab = ur_vocab_size(v);
    ASSERT(n_vocab > 0);
    for (size_t t = 0; t < sizeof TEXTS / sizeof TEXTS[0]; t++) {
        for (int special = 0; special < 2; special++) {
            int32_t *ids = NULL;
            ur_err err = {{0}};
            int n = ur_tokenize_alloc(v, TEXTS[t], strlen(TEXTS[t]), 1, special, &ids, &err);
            if (n < 0) {
                one_line(&err);
                continue;
            }
            for (int i = 0; i < n; i++) ASSERT(ids[i] >= 0 && ids[i] < n_vocab);
            char buf[512];
            int len = ur_detokenize(v, ids, n, special, buf, sizeof buf);
            ASSERT(len >= -1);
            ur_detok d;
            ur_buf out = {0};
            ur_detok_init(&d, v, special, 1);
            for (int i = 0; i < n; i++) ur_detok_push(&d, ids[i], &out);
            ur_detok_flush(&d, &out);
            ur_buf_free(&out);
            free(ids);
        }
    }
    /* ids out of range print nothing */
    int32_t odd[4] = {-1, n_vocab, n_vocab - 1, 0};
    char buf[64];
    ASSERT(ur_detokenize(v, odd, 4, 1, buf, sizeof buf) >= -1);
}

static void use_template(const ur_gguf *g) {
    ur_err err = {{0}};
    ur_chat *f = ur_chat_template_auto(g, &err);
    if (!f) {
        one_line(&err);
        return;
    }
    ur_conv c = {0};
    ur_conv_add(&c, UR_ROLE_SYSTEM, "Be brief.", 9);
    ur_conv_add(&c, UR_ROLE_USER, "What is a compiler?", 19);
    ur_conv_add(&c, UR_ROLE_ASSISTANT, "A program.", 10);
    ur_conv_add(&c, UR_ROLE_USER, "Thanks", 6);
    for (int gen = 0; gen < 2; gen++) {
        ur_buf b = {0};
        if (ur_chat_render(f, c.msgs, c.n, gen, &b, &err)) one_line(&err);
        ur_buf_free(&b);
    }
    ur_conv_free(&c);
    ur_chat_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ur_err err = {{0}};
    /* the model loader (hyperparameters, weights bound); it owns and closes its gguf */
    ur_gguf *g = ur_gguf_parse(data, size, "fuzz.gguf", &err);
    if (!g) {
        one_line(&err);
        return 0;
    }
    ur_model *m = ur_model_from_gguf(g, &err);
    if (m) {
        ASSERT(m->hp.n_layers > 0 && m->hp.dim > 0 && m->hp.n_vocab > 0);
        ASSERT(ur_vocab_size(m->vocab) == m->hp.n_vocab);
        ur_model_free(m);
    } else {
        one_line(&err);
    }
    /* the tokenizer and the template on their own, whatever the weights were */
    g = ur_gguf_parse(data, size, "fuzz.gguf", &err);
    ASSERT(g);
    ur_vocab *v = ur_vocab_load(g, &err);
    if (v) {
        use_vocab(v);
        ur_vocab_free(v);
    } else {
        one_line(&err);
    }
    use_template(g);
    ur_gguf_close(g);
    return 0;
}
