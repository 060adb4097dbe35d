/* urial run -m MODEL --data FILE --out FILE [...] — answer every instruction of a
 * dataset into an append-only JSONL file, resumable after a crash, shardable: the
 * options, the model (or server) and one call of ur_run (include/urial/run.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/engine.h"
#include "urial/remote.h"
#include "urial/run.h"
#include "urial/session.h"

static const char USAGE[] =
    "usage: urial run -m MODEL.gguf --data FILE --out FILE [--urial NAME|FILE | --template NAME|auto |\n"
    "                 --zero-shot | --retrieve POOL --k K] [--prefix-from FILE --prefix-words K] [options]\n"
    "Answer every instruction of a dataset, appending one JSON record per answer to --out.\n";

static const char EPILOG[] =
    "Records: the input's fields, with \"id\", \"instruction\", \"output\" (the cleaned answer), \"generator\",\n"
    "\"input_index\", MT-Bench's \"turn\" (and \"history\", the earlier turns), \"config\" (model, prompt,\n"
    "decoding: must match to resume) and \"stats\" (tokens, cached tokens, seconds, stop reason); with\n"
    "--retrieve \"retrieved\" (the examples' ids, most similar first); with --prefix-from \"prefix\" and\n"
    "\"continuation\" (\"output\" is prefix + \" \" + continuation). Baselines: docs/baselines.md.\n"
    "Kill it at any time and rerun the same command: finished records are kept, an incomplete last line\n"
    "is dropped, nothing is generated twice. urial merge joins shards into one JSON array.\n"
    "The sampling seed of an item is --seed mixed with its id: outputs do not depend on order or sharding.\n";

/* The records' default "generator": MODEL (without .gguf), +PROMPT with a URIAL prompt. */
static char *default_generator(const char *model, const ur_chat *f) {
    ur_buf g = {0};
    const char *mb = ur_base_name(model);
    size_t ml = strlen(mb);
    ur_buf_put(&g, mb, ml > 5 && !strcmp(mb + ml - 5, ".gguf") ? ml - 5 : ml);
    if (f && ur_chat_kind(f) == UR_CHAT_URIAL) ur_buf_printf(&g, "+%s", ur_base_name(ur_chat_name(f)));
    return g.data;
}

/* --prefix-from: every selected item has an answer under its id, to the same
 * instruction (the authors assert the same). 0, or -1 (printed). */
static int check_prefixes(const ur_chat *f, const ur_dataset *ds, const ur_job_select *sel, const char *file) {
    for (int i = 0; i < ds->n; i++) {
        if (!ur_job_selects(sel, i)) continue;
        const ur_item *it = &ds->items[i];
        const char *ins = ur_chat_answer_instruction(f, it->id);
        if (!ins)
            return cli_fail("run: %s: no answer with id %.64s (item %d of %s); --prefix-from needs the aligned "
                            "model's answers to the same items", file, it->id, it->index, ds->path), -1;
        if (strcmp(ins, it->turns[0]))
            return cli_fail("run: %s: the answer with id %.64s is to another instruction than item %d of %s", file,
                            it->id, it->index, ds->path), -1;
    }
    return 0;
}

int cmd_run(int argc, char **argv) {
    const char *data = NULL, *out = NULL, *gen = NULL;
    int turns = 0, parallel = 0, format = 0;
    cli_engine eng;
    cli_engine_init(&eng, "the model (with --backend openai: its name on the server)", NULL);
    cli_format fmt;
    cli_format_init(&fmt);
    cli_decoding dec;
    cli_decoding_init(&dec, 1024, "tokens per answer at most (default 1024, as the paper's just-eval runs)");
    cli_cache cache;
    cli_cache_init(&cache, 1);
    cli_select sel;
    cli_select_init(&sel);
    cli_remote rem;
    cli_remote_init(&rem, "remote backend (generation on an OpenAI-compatible server: vLLM, urial serve, ...):");
    const cli_opt opts[] = {
        OPT_STR("data", 0, "FILE", &data,
                "just-eval-instruct JSON (array with \"id\", \"instruction\", ...), AlpacaEval JSON\n"
                "(array without ids: the id is the position, 0-based), MT-Bench JSONL\n"
                "(\"question_id\", \"turns\"), or JSONL with \"instruction\" and optionally \"id\""),
        OPT_STR("out", 0, "FILE", &out, "JSONL results: created, or resumed (records already there are skipped)"),
        OPT_CHOICE("format", 0, "records|fastchat", &format,
                   "records (default): one record per answer; fastchat (MT-Bench): --out is FastChat's\n"
                   "model_answer JSONL (question_id, answer_id, model_id, choices[0].turns, tstamp) that\n"
                   "its judge reads, rebuilt after every run from the resumable turn records in\n"
                   "FILE.turns.jsonl"),
        OPT_GROUP(eng.opts), OPT_GROUP(fmt.opts), OPT_GROUP(sel.opts),
        OPT_INT("mt-turns", 0, "N", 1, 64, &turns, "MT-Bench: answer the first N turns (default: all)"),
        OPT_STR("generator", 0, "NAME", &gen, "the records' \"generator\" (default MODEL+PROMPT, or MODEL with a template)"),
        OPT_INT("parallel", 0, "N", 1, 256, &parallel, CLI_PARALLEL_HELP),
        OPT_GROUP(cache.opts), OPT_GROUP(dec.opts), OPT_GROUP(rem.opts), OPT_END};
    const cli_cmd cmd = {"run", USAGE, opts, EPILOG, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (!eng.model || !data || !out)
        return cli_fail("run: -m MODEL, --data FILE and --out FILE are required (see urial run --help)");
    if (cli_format_check(&fmt, "run")) return 1;
    if (cli_cache_check(&cache, "run")) return 1;
    if (cache.off && parallel > 1)
        return cli_fail("run: --no-prefix-cache computes every prompt alone (the uncached reference): give --parallel 1");

    int rc = 1;
    ur_err err = {{0}};
    ur_dataset ds = {0};
    ur_remote *client = NULL;
    ur_model *m = NULL;
    ur_chat *f = NULL;
    ur_ctx *ctx = NULL;
    ur_session *s = NULL;
    ur_exec *x = NULL;
    int n_ctx = 0;
    char *genbuf = NULL;
    ur_buf turns_out = {0};
    const int chat_api = rem.on == CLI_BACKEND_OPENAI_CHAT; /* the server applies the template */
    if (chat_api && (fmt.urial || fmt.tmpl))
        return cli_fail("run: --backend openai-chat: the server applies the model's chat template; --urial and "
                        "--template do not apply (use --backend openai to send a prompt rendered here)");
    if (rem.on && !(client = cli_remote_open(&rem, "run", eng.model))) return 1;
    if (ur_dataset_load(data, &ds, &err)) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (fmt.prefix_from && ds.format == UR_DATA_MT_BENCH) {
        cli_fail("run: --prefix-from continues single answers; %s is MT-Bench (multi-turn)", data);
        goto done;
    }
    if (format == 1 && ds.format != UR_DATA_MT_BENCH) {
        cli_fail("run: %s: --format fastchat needs MT-Bench questions (\"question_id\", \"turns\"), not %s", data,
                 ur_data_format_name(ds.format));
        goto done;
    }
    if (format == 1) ur_buf_printf(&turns_out, "%s.turns.jsonl", out);
    /* remote: no model here (--template auto reads -m's GGUF if it is a file) */
    if (!client && !(m = cli_load_model(eng.model))) goto done;
    if (!chat_api && !(f = cli_format_open(&fmt, "run", eng.model, m ? m->gguf : NULL))) goto done;
    if (f) cli_format_note_aligned(&fmt, m);
    if (f && fmt.prefix_from && check_prefixes(f, &ds, &sel.sel, fmt.prefix_from)) goto done;
    cli_job_view view;
    cli_job_init_view(&view);
    view.name = "run", view.every = sel.progress_every;
    if (client) {
        x = ur_exec_gen_remote_new(client, rem.model, f);
    } else if (cache.off) { /* the uncached reference: each prompt computed in full, one at a time */
        if (!(ctx = cli_new_ctx(m, eng.ctx, eng.threads, 0))) goto done;
        ur_session_params sp = {UR_REUSE_NONE, NULL};
        if (!(s = ur_session_new(ctx, f, &sp, &err))) {
            cli_fail("%s", err.msg);
            goto done;
        }
        x = ur_exec_gen_local_new(s, cli_job_note, &view);
    } else {
        ur_engine_params ep;
        cli_engine_params(m, &eng, parallel, cache.dir, &ep);
        n_ctx = ep.n_ctx;
        x = ur_exec_gen_engine_new(m, f, &ep, cli_job_note, &view);
    }
    ur_run_params p = {.ds = &ds, .out = format == 1 ? turns_out.data : out, .sel = sel.sel, .mt_turns = turns,
                       .fmt = f, .gp = dec.gp,
                       .generator = gen ? gen : (genbuf = default_generator(eng.model, f)),
                       .model = client ? rem.model : eng.model, .model_size = m ? m->gguf->size : 0,
                       .n_ctx = ctx ? ur_ctx_n_ctx(ctx) : n_ctx,
                       .progress = cli_job_progress, .note = cli_job_note, .hook_user = &view};
    ur_job_progress pg;
    int r = ur_run(&p, x, &pg, &err);
    cli_job_end_view(&view);
    if (r) {
        cli_fail("%s", err.msg);
        goto done;
    }
    fprintf(stderr, "urial: run: %d of %d done (%d generated now, %d skipped) in %.1f s; %ld tokens at %.1f tok/s; %s\n",
            pg.kept + pg.recorded, pg.total, pg.recorded, pg.skipped, ur_now() - pg.t0, pg.tokens, cli_job_rate(&pg),
            p.out);
    int n_fc = 0;
    if (format == 1 && ur_run_fastchat(&p, p.out, out, &n_fc, &err)) {
        cli_fail("%s", err.msg);
        goto done;
    }
    if (format == 1) fprintf(stderr, "urial: run: %d questions with every turn answered in %s (FastChat)\n", n_fc, out);
    rc = pg.kept + pg.recorded == pg.total ? 0 : 1;
done:
    ur_exec_free(x);
    ur_session_free(s);
    ur_ctx_free(ctx);
    ur_chat_free(f);
    ur_model_free(m);
    ur_remote_free(client);
    ur_dataset_free(&ds);
    free(genbuf);
    ur_buf_free(&turns_out);
    return rc;
}
