/* urial convert-tokenizer tokenizer.json OUT.gguf [--pre NAME] [--arch A] [--name N] [--vocab-size N] */
#include <stdio.h>

#include "cli/cli.h"
#include "urial/tokenizer.h"

static const char USAGE[] =
    "usage: urial convert-tokenizer TOKENIZER.json OUT.gguf [--pre NAME] [--vocab-size N] [--arch A] [--name N]\n"
    "Write a vocab-only GGUF from a Hugging Face tokenizer.json (and the tokenizer_config.json, config.json and\n"
    "chat_template.jinja beside it: special tokens, BOS/EOS rules, chat template), with the tokenizer metadata\n"
    "as llama.cpp's converter writes it. Byte-level BPE (Llama-3, Qwen2/2.5/3, DeepSeek-V3, GPT-2/OLMo,\n"
    "SmolLM) becomes a \"gpt2\" vocab, SentencePiece-style BPE (Gemma, Llama-2) a \"llama\" one. The file\n"
    "tokenizes with urial tokenize and llama.cpp, and urial synth --vocab makes random-weight models on it.\n";

int cmd_convert_tokenizer(int argc, char **argv) {
    ur_convert_opts o = {0};
    long vocab_size = 0;
    const cli_opt opts[] = {
        OPT_STR("pre", 0, "NAME", &o.pre,
                "tokenizer.ggml.pre (default: the one whose regexes the file's pre-tokenizer has; the list is below)"),
        OPT_LONG("vocab-size", 0, "N", 1, 1 << 24, &vocab_size,
                 "pad the token list to N with unused [PAD<id>] tokens (a model's embedding rows;\n"
                 "default: config.json's vocab_size, else the tokenizer's size)"),
        OPT_STR("arch", 0, "A", &o.arch, "general.architecture (default llama)"),
        OPT_STR("name", 0, "N", &o.name, "general.name (default tokenizer)"),
        OPT_END};
    char epilog[2048];
    int head = snprintf(epilog, sizeof epilog, "pre-tokenizers (tokenizer.ggml.pre) urial knows:\n");
    ur_pretok_names(epilog + head, sizeof epilog - (size_t)head);
    const cli_cmd cmd = {"convert-tokenizer", USAGE, opts, epilog, 2, 2};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (a != argc - 2) return cli_fail("convert-tokenizer: expected TOKENIZER.json and OUT.gguf (see urial convert-tokenizer --help)");
    o.vocab_size = vocab_size;
    ur_err err = {{0}};
    if (ur_tokenizer_convert(argv[a], &o, argv[a + 1], &err) < 0) return cli_fail("%s", err.msg);
    /* say what was written, from the file itself */
    ur_gguf *g = ur_gguf_open(argv[a + 1], &err);
    ur_vocab *v = g ? ur_vocab_load(g, &err) : NULL;
    if (!v) {
        ur_gguf_close(g);
        return cli_fail("%s", err.msg);
    }
    fprintf(stderr, "urial: wrote %s (%s, %d tokens%s%s)\n", argv[a + 1], ur_vocab_kind_name(v), ur_vocab_size(v),
            ur_vocab_pre(v) ? ", pre-tokenizer " : "", ur_vocab_pre(v) ? ur_vocab_pre(v) : "");
    ur_vocab_free(v);
    ur_gguf_close(g);
    return 0;
}
