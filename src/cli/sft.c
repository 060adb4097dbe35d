/* urial sft --model BASE.gguf --data TRAIN.jsonl --out DIR — supervised
 * fine-tuning with LIMA's recipe as the defaults, full or LoRA. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/train_common.h"
#include "urial/chat.h"
#include "urial/tensor.h"

static const char *HELP =
    "usage: urial sft --model BASE.gguf --data TRAIN.jsonl --out DIR [--dev DEV.jsonl] [options]\n"
    "Supervised fine-tuning (LIMA-style) of a llama-architecture GGUF. One conversation per line of\n"
    "TRAIN.jsonl: {\"messages\":[{\"role\":..,\"content\":..},...]}, {\"conversations\":[\"user\",\"assistant\",...]}\n"
    "(LIMA's release) or {\"instruction\":..,\"input\":..,\"output\":..}. Conversations are rendered with a\n"
    "chat template whose end-of-turn token closes every message; the loss is on assistant tokens only.\n"
    "Writes DIR/epoch-NNN.gguf per epoch (loads in urial and llama.cpp, with the template recorded),\n"
    "DIR/report.md (dev loss/perplexity per epoch and greedy samples on dev prompts, to pick an epoch),\n"
    "DIR/log.jsonl, DIR/state.gguf (--resume).\n"
    "LIMA's recipe is the default:\n"
    "  --epochs 15  --batch 32 (examples per step)  --max-len 2048 (tokens per example; longer are cut)\n"
    "  --lr 1e-5 --lr-end 1e-6 --sched linear --warmup 0   AdamW --beta1 0.9 --beta2 0.95 --weight-decay 0.1\n"
    "  --dropout 0.2 (0.3 for models of 30B+ parameters): residual dropout from 0 at the bottom layer\n"
    "                rising linearly to this at the top\n"
    "  --template zephyr: <|user|>\\n...</s>\\n<|assistant|>\\n...</s>\\n, EOS as the end-of-turn token\n"
    "  --clip 1 (not in LIMA's paper; Hugging Face's default)\n"
    "Options:\n"
    "  -m, --model BASE.gguf  the base model (any type; full training keeps an F32 master copy)\n"
    "  --data FILE  --dev FILE  --out DIR\n"
    "  --dev-split N         without --dev: hold out the last N training examples as dev data\n"
    "  --template NAME       chat template (urial prompt --list); its Jinja text is written to the\n"
    "                        checkpoints for zephyr and chatml\n"
    "  --max-len N           tokens per example (capped at the model's context)\n"
    "  --lora R              train rank-R LoRA adapters on a frozen base (which may be quantized) instead\n"
    "                        of every weight; defaults then --lr 1e-4 --lr-end 1e-5\n"
    "  --lora-alpha A        scale alpha/R (default 2R)\n"
    "  --lora-targets LIST   q,k,v,o,gate,up,down or all (default all)\n"
    "  --export WHAT         LoRA checkpoints: merged (default: a full model per epoch), adapter\n"
    "                        (DIR/adapter-NNN.gguf in llama.cpp's LoRA format only), or both\n"
    "  --samples N           dev prompts to generate per checkpoint (default 5)\n";

/* Jinja chat templates written into checkpoints, so that urial (`--template auto`)
 * and llama.cpp pick the template the model was trained with. */
static const char *jinja_for(const char *name) {
    if (!strcmp(name, "zephyr"))
        return "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
               "{{ '<|user|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n"
               "{{ '<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n"
               "{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n"
               "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
    if (!strcmp(name, "chatml"))
        return "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
               "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
               "{% endif %}";
    return NULL;
}

int cmd_sft(int argc, char **argv) {
    enum { O_DATA = 256, O_DEV, O_OUT, O_TEMPLATE, O_MAXLEN, O_LORA, O_ALPHA, O_TARGETS, O_EXPORT, O_DEVSPLIT };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},     {"data", required_argument, 0, O_DATA},
        {"dev", required_argument, 0, O_DEV},     {"out", required_argument, 0, O_OUT},
        {"template", required_argument, 0, O_TEMPLATE}, {"max-len", required_argument, 0, O_MAXLEN},
        {"lora", required_argument, 0, O_LORA},   {"lora-alpha", required_argument, 0, O_ALPHA},
        {"lora-targets", required_argument, 0, O_TARGETS}, {"export", required_argument, 0, O_EXPORT},
        {"dev-split", required_argument, 0, O_DEVSPLIT}, {"help", no_argument, 0, 'h'},
        CLI_TRAIN_LONGOPTS,                       {0, 0, 0, 0}};
    ur_train_opts o;
    cli_train_defaults(&o);
    o.epochs = 15, o.batch = 32, o.n_samples = 5;
    o.sched = (ur_sched){UR_SCHED_LINEAR, 1e-5f, 1e-6f, 0};
    cli_train_extra x = {0};
    const char *model = NULL, *data = NULL, *devp = NULL, *tmpl = "zephyr", *export = "merged";
    long max_len = 0, rank = 0, dev_split = 0, v;
    double alpha = 0;
    int targets = UR_LORA_ALL, c;
    while ((c = cli_getopt(argc, argv, "m:t:h", opts, "sft")) != -1) {
        int r = cli_train_opt(c, optarg, &o, &x);
        if (r < 0) return 1;
        if (r) continue;
        switch (c) {
        case 'm': model = optarg; break;
        case O_DATA: data = optarg; break;
        case O_DEV: devp = optarg; break;
        case O_OUT: o.out_dir = optarg; break;
        case O_TEMPLATE: tmpl = optarg; break;
        case O_MAXLEN: if (cli_int("--max-len", optarg, 2, 1 << 24, &max_len)) return 1; break;
        case O_LORA: if (cli_int("--lora", optarg, 1, 4096, &rank)) return 1; break;
        case O_ALPHA: if (cli_float("--lora-alpha", optarg, 1e-6, 1e6, &alpha)) return 1; break;
        case O_TARGETS:
            if ((targets = ur_lora_targets_parse(optarg)) < 0)
                return cli_fail("sft: --lora-targets '%s': expected q,k,v,o,gate,up,down or all", optarg);
            break;
        case O_EXPORT:
            if (strcmp(optarg, "merged") && strcmp(optarg, "adapter") && strcmp(optarg, "both"))
                return cli_fail("sft: --export '%s': expected merged, adapter or both", optarg);
            export = optarg;
            break;
        case O_DEVSPLIT: if (cli_int("--dev-split", optarg, 0, 1 << 30, &dev_split)) return 1; break;
        case 'h': printf("%s%s", HELP, CLI_TRAIN_HELP_COMMON); return 0;
        default: return 1;
        }
    }
    if (!model || !data || !o.out_dir)
        return cli_fail("sft: --model, --data and --out are required (see urial sft --help)");
    if (optind != argc) return cli_fail("sft: unexpected argument '%s'", argv[optind]);
    (void)v;
    ur_err err = {{0}};
    ur_chat *fmt = ur_chat_template(tmpl, &err);
    if (!fmt) return cli_fail("sft: %s", err.msg);
    ur_model *m = cli_load_model(model);
    if (!m) {
        ur_chat_free(fmt);
        return 1;
    }
    int rc = 1;
    ur_tnet *n = NULL;
    ur_tdata tr = {0}, dev = {0};
    int have_dev = 0;
    if (!max_len) max_len = 2048 < m->hp.n_ctx_train ? 2048 : m->hp.n_ctx_train;
    if (max_len > m->hp.n_ctx_train) {
        fprintf(stderr, "urial: --max-len %ld capped at the model's context %d\n", max_len, m->hp.n_ctx_train);
        max_len = m->hp.n_ctx_train;
    }
    if (ur_tdata_load_sft(&tr, data, m->vocab, fmt, (int)max_len, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    if (devp) {
        if (ur_tdata_load_sft(&dev, devp, m->vocab, fmt, (int)max_len, &err)) {
            cli_fail("%s", err.msg);
            goto out;
        }
        have_dev = 1;
    } else if (dev_split > 0) {
        if (ur_tdata_split(&tr, &dev, (int)dev_split)) {
            cli_fail("sft: --dev-split %ld: the data has only %d examples", dev_split, tr.n);
            goto out;
        }
        have_dev = 1;
    }
    if (rank) {
        if (!x.lr_set) o.sched.lr = 1e-4f;
        if (!x.lr_end_set) o.sched.lr_end = 1e-5f;
        n = ur_tnet_lora(m, (int)rank, alpha > 0 ? (float)alpha : 2.0f * (float)rank, (unsigned)targets, o.seed, &err);
    } else {
        n = ur_tnet_from_model(m, &err);
    }
    if (!n) {
        cli_fail("%s", err.msg);
        goto out;
    }
    if (!x.dropout_set) o.dropout = m->n_params >= 30000000000ull ? 0.3f : 0.2f;
    if (!o.micro_tokens) {
        int longest = 0;
        for (int i = 0; i < tr.n; i++) longest = tr.seqs[i].n > longest ? tr.seqs[i].n : longest;
        for (int i = 0; i < dev.n; i++) longest = dev.seqs[i].n > longest ? dev.seqs[i].n : longest;
        o.micro_tokens = longest > 2048 ? longest : 2048;
    }
    char name[256];
    if (!o.save.name) {
        const char *b = strrchr(model, '/');
        snprintf(name, sizeof name, "%s-sft-%s", b ? b + 1 : model, tmpl);
        char *dot = strstr(name, ".gguf");
        if (dot) memmove(dot, dot + 5, strlen(dot + 5) + 1);
        o.save.name = name;
    }
    o.save.tok_src = m->gguf;
    o.save.chat_template = jinja_for(tmpl);
    o.fmt = fmt;
    o.kind = rank ? "lora" : "sft";
    o.export_adapter = !rank || !strcmp(export, "merged") ? 0 : !strcmp(export, "both") ? 1 : 2;
    ur_buf title = {0};
    for (int i = 0; i < argc; i++) ur_buf_printf(&title, "%s%s", i ? " " : "urial ", argv[i]);
    o.title = title.data;
    cli_train_print_plan(n, &o, &tr, have_dev ? &dev : NULL);
    if (ur_train_run(n, &tr, have_dev ? &dev : NULL, &o, cli_train_progress, &x, &err)) cli_fail("%s", err.msg);
    else rc = 0;
    ur_buf_free(&title);
out:
    ur_tnet_free(n);
    ur_tdata_free(&tr);
    ur_tdata_free(&dev);
    ur_model_free(m);
    ur_chat_free(fmt);
    return rc;
}
