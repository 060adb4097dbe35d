/* urial train --text CORPUS.txt --config SHAPE --tokenizer VOCAB.gguf --out DIR —
 * pretraining a small llama model from scratch (loss on every token). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/train_common.h"
#include "urial/tensor.h"

static const char USAGE[] =
    "usage: urial train --text CORPUS.txt --config SHAPE --tokenizer VOCAB.gguf --out DIR [options]\n"
    "Pretrain a llama-architecture model from scratch on plain text (documents separated by blank\n"
    "lines, each tokenized with BOS and closed with EOS, the stream cut into windows of ctx tokens;\n"
    "loss on every token). The tokenizer (and vocabulary size) come from VOCAB.gguf's tokenizer.* keys,\n"
    "which are copied into the checkpoints. Writes DIR/epoch-NNN.gguf (and step-N.gguf when --max-steps\n"
    "ends mid-epoch), DIR/report.md, DIR/log.jsonl, DIR/state.gguf (--resume).\n"
    "Defaults: --epochs 1 --batch 16 (windows per step) --lr 1e-3 --lr-end 1e-4 --sched cosine\n"
    "  --warmup 100 (at most a tenth of the steps) --weight-decay 0.1 --beta2 0.95 --clip 1 --dropout 0\n"
    "  --samples 3 --micro-tokens = batch x ctx, at most 8192\n";

/* Parse a SHAPE string into hp (dims and ctx) and *tied; -1 with a message on error. */
static int parse_config(const char *s, ur_hparams *hp, int *tied) {
    static const struct { const char *name, *spec; } presets[] = {
        {"tiny", "dim=64,layers=2,heads=4,kv_heads=2,ff=192,ctx=128"},
        {"small", "dim=256,layers=6,heads=8,kv_heads=4,ff=768,ctx=512"},
        {"medium", "dim=384,layers=8,heads=6,kv_heads=2,ff=1024,ctx=512"},
    };
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            size_t i = 0;
            while (i < 3 && strcmp(item, presets[i].name)) i++;
            if (i == 3) return cli_fail("--config: '%s' is not a preset (tiny, small, medium) or key=value", item), -1;
            if (parse_config(presets[i].spec, hp, tied)) return -1;
            continue;
        }
        *eq = 0;
        const char *k = item, *v = eq + 1;
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end || !(x >= 0) || x > 1e9)
            return cli_fail("--config: '%s=%s' needs a non-negative number", k, v), -1;
        int iv = (int)x;
        if (!strcmp(k, "dim")) hp->dim = iv;
        else if (!strcmp(k, "layers")) hp->n_layers = iv;
        else if (!strcmp(k, "heads")) hp->n_heads = iv;
        else if (!strcmp(k, "kv_heads")) hp->n_kv_heads = iv;
        else if (!strcmp(k, "ff")) hp->ff = iv;
        else if (!strcmp(k, "ctx")) hp->n_ctx_train = iv;
        else if (!strcmp(k, "tied")) *tied = iv != 0;
        else if (!strcmp(k, "rope_base")) hp->rope_base = (float)x;
        else if (!strcmp(k, "eps")) hp->rms_eps = (float)x;
        else return cli_fail("--config: unknown key '%s' (dim layers heads kv_heads ff ctx tied rope_base eps)", k), -1;
    }
    return 0;
}

int cmd_train(int argc, char **argv) {
    cli_train t;
    cli_train_init(&t);
    ur_train_opts *o = &t.o;
    o->epochs = 1, o->batch = 16, o->n_samples = 3, o->sample_tokens = 48;
    o->sched = (ur_sched){UR_SCHED_COSINE, 1e-3f, 1e-4f, 100};
    const char *text = NULL, *config = NULL, *tokp = NULL, *devtext = NULL;
    double dev_frac = 0.01;
    cli_strs prompts = {{0}, 0};
    const cli_opt opts[] = {
        OPT_STR("text", 0, "CORPUS.txt", &text, "plain text, documents separated by blank lines"),
        OPT_STR("config", 0, "SHAPE", &config,
                "a preset (tiny, small, medium) and/or key=value pairs, e.g.\n"
                "\"dim=256,layers=6,heads=8,kv_heads=4,ff=768,ctx=512\" or \"small,ctx=256\";\n"
                "keys: dim layers heads kv_heads ff ctx tied(0/1) rope_base eps\n"
                "tiny   = dim=64,layers=2,heads=4,kv_heads=2,ff=192,ctx=128\n"
                "small  = dim=256,layers=6,heads=8,kv_heads=4,ff=768,ctx=512\n"
                "medium = dim=384,layers=8,heads=6,kv_heads=2,ff=1024,ctx=512"),
        OPT_STR("tokenizer", 0, "VOCAB.gguf", &tokp, "the tokenizer (tokenizer.* keys of any GGUF)"),
        OPT_STR("out", 0, "DIR", &o->out_dir, "the run's directory"),
        OPT_STR("dev-text", 0, "FILE", &devtext, "dev text (default: hold out --dev-frac of the windows)"),
        OPT_REAL("dev-frac", 0, "X", 0, 0.5, &dev_frac, "fraction of windows held out as dev data (default 0.01; 0 = none)"),
        OPT_STRS("sample-prompt", 0, "TEXT", &prompts,
                 "continue TEXT greedily at every checkpoint (repeatable; default: the\n"
                 "first words of three dev windows)"),
        OPT_TEXT("Options shared with urial sft:"), OPT_GROUP(t.opts), OPT_END};
    const cli_cmd cmd = {"train", USAGE, opts, NULL, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (!text || !config || !tokp || !o->out_dir)
        return cli_fail("train: --text, --config, --tokenizer and --out are required (see urial train --help)");
    const char *prompt_v[64];
    int n_prompts = prompts.n;
    memcpy(prompt_v, prompts.v, sizeof prompts.v);
    ur_hparams hp = {0};
    int tied = 0;
    if (parse_config(config, &hp, &tied)) return 1;
    ur_err err = {{0}};
    ur_gguf *tg = ur_gguf_open(tokp, &err);
    if (!tg) return cli_fail("%s", err.msg);
    ur_vocab *voc = ur_vocab_load(tg, &err);
    int rc = 1;
    ur_tnet *n = NULL;
    ur_tdata tr = {0}, dev = {0};
    int have_dev = 0;
    char sp[3][256];
    if (!voc) {
        cli_fail("%s", err.msg);
        goto out;
    }
    hp.n_vocab = ur_vocab_size(voc);
    n = ur_tnet_new(&hp, tied, o->seed, &err);
    if (!n) {
        cli_fail("train: --config '%s': %s", config, err.msg);
        goto out;
    }
    const int ctx = n->hp.n_ctx_train;
    double t0 = ur_now();
    if (ur_tdata_load_text(&tr, text, voc, ctx, &err)) {
        cli_fail("%s", err.msg);
        goto out;
    }
    fprintf(stderr, "urial: %s: %lld documents, %lld tokens, %d windows of %d (tokenized in %.1f s)\n", text,
            (long long)tr.n_docs, (long long)tr.n_stream, tr.n, ctx, ur_now() - t0);
    if (devtext) {
        if (ur_tdata_load_text(&dev, devtext, voc, ctx, &err)) {
            cli_fail("%s", err.msg);
            goto out;
        }
        have_dev = 1;
    } else if (dev_frac > 0) {
        int k = (int)floor(tr.n * dev_frac);
        if (k < 1 && tr.n >= 20) k = 1;
        if (k >= 1 && !ur_tdata_split(&tr, &dev, k)) have_dev = 1;
    }
    if (!n_prompts && have_dev)
        for (int i = 0; i < 3 && i < dev.n; i++) {
            int32_t *t = dev.seqs[i].tok;
            int k = t[0] == ur_vocab_bos(voc) ? 1 : 0;
            ur_detokenize(voc, t + k, 8, 0, sp[i], sizeof sp[i]);
            prompt_v[n_prompts++] = sp[i];
        }
    o->sample_prompts = prompt_v, o->n_sample_prompts = n_prompts;
    if (!o->micro_tokens) {
        o->micro_tokens = o->batch * ctx;
        if (o->micro_tokens > 8192) o->micro_tokens = 8192 / ctx * ctx;
        if (o->micro_tokens < ctx) o->micro_tokens = ctx;
    }
    if (!t.warmup_set) {
        int64_t total = (int64_t)o->epochs * ((tr.n + o->batch - 1) / o->batch);
        if (o->max_steps > 0 && o->max_steps < total) total = o->max_steps;
        if (o->sched.warmup > total / 10) o->sched.warmup = total / 10;
    }
    char name[256];
    if (!o->save.name) {
        snprintf(name, sizeof name, "urial-base-d%d-l%d", n->hp.dim, n->hp.n_layers);
        o->save.name = name;
    }
    o->save.tok_src = tg;
    o->kind = "pretrain";
    rc = cli_train_go(&t, n, &tr, have_dev ? &dev : NULL, argc, argv);
out:
    ur_tnet_free(n);
    ur_tdata_free(&tr);
    ur_tdata_free(&dev);
    ur_vocab_free(voc);
    ur_gguf_close(tg);
    return rc;
}
