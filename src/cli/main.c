/* urial — command line entry: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef URIAL_VERSION
#define URIAL_VERSION "unknown" /* the Makefile passes the VERSION file and the git commit */
#endif

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} COMMANDS[] = {
    {"info", cmd_info, "describe a GGUF model: architecture, shapes, types, tokenizer"},
    {"tokenize", cmd_tokenize, "turn text into token ids"},
    {"convert-tokenizer", cmd_convert_tokenizer, "write a vocab GGUF from a Hugging Face tokenizer.json"},
    {"generate", cmd_generate, "continue a prompt, streaming the text"},
    {"logits", cmd_logits, "teacher-forced top next-token logits at every position"},
    {"bench", cmd_bench, "prefill and decode speed"},
    {"convert", cmd_convert, "write a Hugging Face checkpoint (safetensors) as a GGUF model"},
    {"quantize", cmd_quantize, "re-encode a model's weights: q8_0, q4_0, q4_K_M, q5_K_M, q6_K, ..."},
    {"synth", cmd_synth, "write a random-weight model (smoke tests, cross-checks)"},
    {"defaults", cmd_defaults, "show or record the URIAL prompt and decoding a model is meant for"},
    {"prompt", cmd_prompt, "print the exact prompt a URIAL prompt or chat template gives for a query"},
    {"sft", cmd_sft, "supervised fine-tuning (LIMA recipe; full or --lora) of a GGUF on chat JSONL"},
    {"train", cmd_train, "pretrain a small llama model from scratch on plain text"},
    {"chat", cmd_chat, "chat in the terminal (URIAL for a base model, or a template)"},
    {"run", cmd_run, "generate answers for a dataset into resumable JSONL (shards, prefix cache)"},
    {"merge", cmd_merge, "join JSONL shards into the JSON array just-eval and AlpacaEval read"},
    {"eval", cmd_eval, "judge outputs with an LLM judge (scores, pairwise) and report, as just-eval; style counts"},
    {"study", cmd_study, "the paper's whole experiment for a pair: methods, judge, TDS, one report (resumable)"},
    {"tds", cmd_tds, "token distribution shift of a base/aligned pair: JSONL, summary, HTML report"},
    {"serve", cmd_serve, "an OpenAI-compatible server (URIAL for a base model) with a web chat page"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: urial COMMAND [options]   (urial COMMAND --help for its options; urial --version)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-17s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("urial %s\n", URIAL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
    return cli_fail("unknown command '%s' (see urial --help)", argv[1]);
}
