/* urial sft --model BASE.gguf --data TRAIN.jsonl --out DIR — supervised
 * fine-tuning with LIMA's recipe as the defaults, full or LoRA. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/train_common.h"
#include "urial/chat.h"
#include "urial/tensor.h"

static const char USAGE[] =
    "usage: urial sft --model BASE.gguf --data TRAIN.jsonl --out DIR [--dev DEV.jsonl] [options]\n"
    "Supervised fine-tuning (LIMA-style) of a GGUF (llama, qwen2, qwen3, gemma2, gemma3, olmo2, phi3; full\n"
    "or LoRA on a frozen, possibly quantized base). One conversation per line of\n"
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
    "               (--eot new: a new token, <|eot|>, added to the vocabulary as LIMA did)\n"
    "  --clip 1 (not in LIMA's paper; Hugging Face's default)\n";

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

/* The marker --eot new replaces in a template's Jinja text, or NULL. */
static const char *eot_marker(const char *name) {
    return !strcmp(name, "zephyr") ? "eos_token" : !strcmp(name, "chatml") ? "'<|im_end|>'" : NULL;
}

/* --eot new: the template with the new token, the vocabulary that has it (*vg keeps its
 * mapping) and the format rendering turns with it; prints the error and returns -1. */
static int eot_setup(const char *tmpl, const char *text, const ur_model *m, char **jinja, ur_vocab **v, ur_gguf **vg,
                     ur_chat **fmt) {
    const char *marker = eot_marker(tmpl);
    if (!marker) return cli_fail("sft: --eot new needs --template zephyr or chatml (their end-of-turn marker is replaced)");
    if (!(*jinja = ur_jinja_with_eot(jinja_for(tmpl), marker, text)))
        return cli_fail("sft: --eot-text '%s': the token's text must not hold quotes, backslashes, braces, %% or newlines",
                        text);
    ur_err err = {{0}};
    if (!(*v = ur_vocab_with_eot(m->gguf, text, vg, &err))) return cli_fail("sft: %s", err.msg);
    size_t bl = 0, el = 0;
    const char *bos = ur_vocab_bos(*v) >= 0 ? ur_vocab_piece(*v, ur_vocab_bos(*v), &bl) : NULL;
    const char *eos = ur_vocab_eos(*v) >= 0 ? ur_vocab_piece(*v, ur_vocab_eos(*v), &el) : NULL;
    char *b = bos ? ur_xstrndup(bos, bl) : NULL, *e = eos ? ur_xstrndup(eos, el) : NULL;
    char name[64];
    snprintf(name, sizeof name, "%s+eot", tmpl);
    *fmt = ur_chat_jinja(name, *jinja, strlen(*jinja), b, e, &err);
    free(b), free(e);
    return *fmt ? 0 : cli_fail("sft: %s", err.msg);
}

static int parse_targets(void *dst, const char *v) {
    if ((*(int *)dst = ur_lora_targets_parse(v)) < 0)
        return cli_fail("sft: --lora-targets '%s': expected q,k,v,o,gate,up,down or all", v), -1;
    return 0;
}

int cmd_sft(int argc, char **argv) {
    cli_train t;
    cli_train_init(&t);
    ur_train_opts *o = &t.o;
    o->epochs = 15, o->batch = 32, o->n_samples = 5;
    o->sched = (ur_sched){UR_SCHED_LINEAR, 1e-5f, 1e-6f, 0};
    const char *model = NULL, *data = NULL, *devp = NULL, *tmpl = "zephyr", *eot_text = "<|eot|>";
    int max_len = 0, rank = 0, dev_split = 0, export = 0, targets = UR_LORA_ALL, eot = 0;
    double alpha = 0;
    const cli_opt opts[] = {
        OPT_STR("model", 'm', "BASE.gguf", &model, "the base model (any type; full training keeps an F32 master copy)"),
        OPT_STR("data", 0, "FILE", &data, "the training conversations (JSONL)"),
        OPT_STR("dev", 0, "FILE", &devp, "dev conversations (JSONL)"),
        OPT_STR("out", 0, "DIR", &o->out_dir, "the run's directory"),
        OPT_INT("dev-split", 0, "N", 0, 1 << 30, &dev_split,
                "without --dev: hold out the last N training examples as dev data"),
        OPT_STR("template", 0, "NAME", &tmpl,
                "chat template (urial prompt --list); its Jinja text is written to the\n"
                "checkpoints for zephyr and chatml"),
        OPT_CHOICE("eot", 0, "eos|new", &eot,
                   "the end-of-turn token: the vocabulary's EOS (default), or a new token added to\n"
                   "the vocabulary (LIMA), its embedding and output rows trained (with --lora too);\n"
                   "zephyr and chatml close every turn with it, checkpoints carry it"),
        OPT_STR("eot-text", 0, "TEXT", &eot_text, "--eot new: the new token's text (default <|eot|>)"),
        OPT_INT("max-len", 0, "N", 2, 1 << 24, &max_len, "tokens per example (capped at the model's context)"),
        OPT_INT("lora", 0, "R", 1, 4096, &rank,
                "train rank-R LoRA adapters on a frozen base (which may be quantized) instead\n"
                "of every weight; defaults then --lr 1e-4 --lr-end 1e-5"),
        OPT_REAL("lora-alpha", 0, "A", 1e-6, 1e6, &alpha, "scale alpha/R (default 2R)"),
        OPT_FN("lora-targets", 0, "LIST", parse_targets, &targets, "q,k,v,o,gate,up,down or all (default all)"),
        OPT_CHOICE("export", 0, "merged|adapter|both", &export,
                   "LoRA checkpoints: merged (default: a full model per epoch), adapter\n"
                   "(DIR/adapter-NNN.gguf in llama.cpp's LoRA format only), or both"),
        OPT_TEXT("Training options (shared with urial train):"), OPT_GROUP(t.opts), OPT_END};
    const cli_cmd cmd = {"sft", USAGE, opts, NULL, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (!model || !data || !o->out_dir)
        return cli_fail("sft: --model, --data and --out are required (see urial sft --help)");
    if (eot && rank && export)
        return cli_fail("sft: --eot new writes merged checkpoints only (a llama.cpp adapter cannot add a token)");
    ur_err err = {{0}};
    ur_chat *fmt = eot ? NULL : ur_chat_template(tmpl, &err);
    if (!eot && !fmt) return cli_fail("sft: %s", err.msg);
    ur_model *m = cli_load_model(model);
    if (!m) {
        ur_chat_free(fmt);
        return 1;
    }
    int rc = 1;
    ur_tnet *n = NULL;
    char *jinja = NULL;
    ur_vocab *vocab = m->vocab, *ev = NULL;
    ur_gguf *evg = NULL;
    if (eot && eot_setup(tmpl, eot_text, m, &jinja, &ev, &evg, &fmt)) goto out;
    if (ev) vocab = ev;
    ur_tdata tr = {0}, dev = {0};
    int have_dev = 0;
    if (!max_len) max_len = 2048 < m->hp.n_ctx_train ? 2048 : m->hp.n_ctx_train;
    if (max_len > m->hp.n_ctx_train) {
        fprintf(stderr, "urial: --max-len %d capped at the model's context %d\n", max_len, m->hp.n_ctx_train);
        max_len = m->hp.n_ctx_train;
    }
    if (ur_tdata_load_sft(&tr, data, vocab, fmt, (int)max_len, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    if (devp) {
        if (ur_tdata_load_sft(&dev, devp, vocab, fmt, (int)max_len, &err)) {
            cli_fail("%s", err.msg);
            goto out;
        }
        have_dev = 1;
    } else if (dev_split > 0) {
        if (ur_tdata_split(&tr, &dev, dev_split)) {
            cli_fail("sft: --dev-split %d: the data has only %d examples", dev_split, tr.n);
            goto out;
        }
        have_dev = 1;
    }
    if (rank) {
        if (!t.lr_set) o->sched.lr = 1e-4f;
        if (!t.lr_end_set) o->sched.lr_end = 1e-5f;
        n = ur_tnet_lora_grown(m, (int)rank, alpha > 0 ? (float)alpha : 2.0f * (float)rank, (unsigned)targets, o->seed,
                               eot, &err);
    } else {
        n = ur_tnet_from_model_grown(m, eot, &err);
    }
    if (!n) {
        cli_fail("%s", err.msg);
        goto out;
    }
    if (!t.dropout_set) o->dropout = m->n_params >= 30000000000ull ? 0.3f : 0.2f;
    if (!o->micro_tokens) {
        int longest = 0;
        for (int i = 0; i < tr.n; i++) longest = tr.seqs[i].n > longest ? tr.seqs[i].n : longest;
        for (int i = 0; i < dev.n; i++) longest = dev.seqs[i].n > longest ? dev.seqs[i].n : longest;
        o->micro_tokens = longest > 2048 ? longest : 2048;
    }
    char name[256];
    if (!o->save.name) {
        const char *b = strrchr(model, '/');
        snprintf(name, sizeof name, "%s-sft-%s", b ? b + 1 : model, tmpl);
        char *dot = strstr(name, ".gguf");
        if (dot) memmove(dot, dot + 5, strlen(dot + 5) + 1);
        o->save.name = name;
    }
    o->save.tok_src = m->gguf;
    o->save.chat_template = jinja ? jinja : jinja_for(tmpl);
    o->save.eot_text = eot ? eot_text : NULL;
    o->fmt = fmt;
    o->kind = rank ? "lora" : "sft";
    o->export_adapter = !rank ? 0 : export == 0 ? 0 : export == 2 ? 1 : 2; /* merged, adapter, both */
    rc = cli_train_go(&t, n, &tr, have_dev ? &dev : NULL, argc, argv);
out:
    ur_tnet_free(n);
    ur_tdata_free(&tr);
    ur_tdata_free(&dev);
    ur_model_free(m);
    ur_chat_free(fmt);
    ur_vocab_free(ev);
    ur_gguf_close(evg);
    free(jinja);
    return rc;
}
