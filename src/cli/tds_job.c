/* The parts of urial tds and urial tds prefix that pick the models, the data and
 * the answers, and turn a dataset item into input + answer tokens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/tds_job.h"
#include "urial/remote.h"

const char TDS_JOB_HELP[] =
    "  --base BASE.gguf      the base model\n"
    "  --aligned ALIGNED.gguf  the aligned model (same tokenizer; a different one is refused)\n"
    "  --data FILE           the instructions: just-eval-instruct JSON, AlpacaEval JSON, JSONL with\n"
    "                        \"instruction\", or the TDS authors' file (\"pure_input\", \"input\", \"output\")\n"
    "  --outputs FILE        the aligned model's answers, matched to --data by id: just-eval JSON\n"
    "                        (\"output\" a string), the TDS authors' file (\"output\" a list: the first),\n"
    "                        or urial run's JSONL. Without it the aligned model answers greedily.\n"
    "  --template NAME|auto  render the instruction with this chat template (default: the aligned\n"
    "                        model's, read from its GGUF; the TDS authors' file: its rendered \"input\")\n"
    "  --urial NAME|FILE     render it with a URIAL prompt instead\n"
    "  -n, --max-tokens N    answer tokens at most (default: all of a given answer; 1024 generated)\n"
    "  --limit N             only the first N items      --shard I/N   items p (after --limit) with p % N == I\n"
    "  --ctx N               context length (default: the models', at most 4096)\n"
    "  -t, --threads N       threads (default: all cores)\n"
    "  --out DIR             the output directory (created; resumed when it holds a run)\n";

void tds_job_init(tds_job *j) {
    memset(j, 0, sizeof *j);
    j->max_tokens = -2; /* not given */
    j->limit = -1;
    j->shard_n = 1;
    cli_remote_init(&j->rem);
    j->top_k = 20;
}

int tds_job_opt(tds_job *j, int c, const char *arg) {
    switch (c) {
    case TDS_O_BASE: j->base_path = arg; return 1;
    case TDS_O_ALIGNED: j->aligned_path = arg; return 1;
    case TDS_O_DATA: j->data_path = arg; return 1;
    case TDS_O_OUTPUTS: j->outputs_path = arg; return 1;
    case TDS_O_URIAL: j->urial = arg; return 1;
    case TDS_O_TEMPLATE: j->tmpl = arg; return 1;
    case TDS_O_OUT: j->out_dir = arg; return 1;
    case TDS_O_LIMIT: return cli_int("--limit", arg, 0, 1L << 30, &j->limit) ? -1 : 1;
    case TDS_O_CTX: return cli_int("--ctx", arg, 16, 1 << 24, &j->n_ctx) ? -1 : 1;
    case 'n': return cli_int("--max-tokens", arg, 1, 1 << 24, &j->max_tokens) ? -1 : 1;
    case 't': return cli_int("--threads", arg, 1, 1024, &j->threads) ? -1 : 1;
    case TDS_O_SHARD:
        if (cli_parse_shard(arg, &j->shard_i, &j->shard_n)) {
            cli_fail("tds: --shard '%s' is not I/N with 0 <= I < N (e.g. 0/4)", arg);
            return -1;
        }
        return 1;
    }
    return 0;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* --outputs: id JSON -> answer text. A JSON array (just-eval, the TDS authors'
 * files) or JSON lines with "id" and "output" (urial run's results). */
static json_t *load_outputs(const char *path) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je), *map = json_object();
    if (json_is_array(root)) {
        size_t i;
        json_t *o;
        json_array_foreach(root, i, o) {
            json_t *id = json_object_get(o, "id"), *out = json_object_get(o, "output");
            if (json_is_array(out)) out = json_array_get(out, 0);
            if ((!json_is_integer(id) && !json_is_string(id)) || !json_is_string(out)) {
                cli_fail("%s: item %zu has no id or no \"output\" (a string, or a list whose first element is one)",
                         path, i);
                json_decref(root), json_decref(map);
                return NULL;
            }
            char *key = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
            json_object_set(map, key, out);
            free(key);
        }
        json_decref(root);
        return map;
    }
    json_decref(root);
    ur_err err = {{0}};
    ur_results *r = ur_results_open(path, UR_RESULTS_READ, &err);
    if (!r) {
        cli_fail("%s", err.msg);
        json_decref(map);
        return NULL;
    }
    for (int i = 0; i < ur_results_count(r); i++) {
        const ur_record *rec = ur_results_get(r, i);
        if (rec->output) json_object_set_new(map, rec->key, json_string(rec->output));
    }
    ur_results_close(r);
    return map;
}

int tds_job_open(tds_job *j, const char *cmd) {
    ur_err err = {{0}};
    if (!j->base_path || !j->aligned_path || !j->data_path || !j->out_dir)
        return cli_fail("%s: --base, --aligned, --data and --out are required (see urial %s --help)", cmd, cmd), -1;
    if (j->urial && j->tmpl) return cli_fail("%s: give either --urial or --template, not both", cmd), -1;
    /* the base on a server: its options are checked before anything is read */
    if (j->rem.on && !(j->client = cli_remote_open(&j->rem, cmd, j->base_path))) return -1;
    if (ur_dataset_load(j->data_path, &j->ds, &err)) return cli_fail("%s", err.msg), -1;
    if (j->ds.format == UR_DATA_MT_BENCH)
        return cli_fail("%s: %s: multi-turn (MT-Bench) data is not supported: give single-turn instructions", cmd,
                        j->data_path), -1;
    if (j->outputs_path && !(j->outputs = load_outputs(j->outputs_path))) return -1;
    int n = j->limit >= 0 && j->limit < j->ds.n ? (int)j->limit : j->ds.n;
    j->sel = malloc(sizeof *j->sel * (size_t)(n ? n : 1));
    if (!j->sel) abort();
    for (int i = 0; i < n; i++)
        if (i % j->shard_n == j->shard_i) j->sel[j->n_sel++] = i;

    if (j->rem.on) { /* the base on a server: scored on the aligned model's token ids */
        if (!(j->ma = cli_load_model(j->aligned_path))) return -1;
    } else {
        if (!(j->mb = cli_load_model(j->base_path)) || !(j->ma = cli_load_model(j->aligned_path))) return -1;
        if (ur_tds_same_vocab(j->mb, j->ma, &err)) return cli_fail("%s", err.msg), -1;
    }
    if (j->urial || j->tmpl) j->fmt = cli_open_format(cmd, j->urial, j->tmpl, j->aligned_path, j->ma->gguf);
    else if (j->ds.format != UR_DATA_ALIGNTDS) j->fmt = cli_open_format(cmd, NULL, "auto", j->aligned_path, j->ma->gguf);
    if ((j->urial || j->tmpl || j->ds.format != UR_DATA_ALIGNTDS) && !j->fmt) return -1;
    if (j->fmt && ur_tds_answer_sep(j->fmt, &j->sep, &err)) return cli_fail("%s", err.msg), -1;
    if (j->max_tokens == -2) j->max_tokens = j->outputs ? -1 : 1024;
    int ca = cli_default_ctx(j->ma), cb = j->mb ? cli_default_ctx(j->mb) : ca;
    int n_ctx = j->n_ctx ? (int)j->n_ctx : cb < ca ? cb : ca;
    if ((j->mb && !(j->cb = cli_new_ctx(j->mb, n_ctx, (int)j->threads, 0))) ||
        !(j->ca = cli_new_ctx(j->ma, n_ctx, (int)j->threads, 0)))
        return -1;
    return 0;
}

void tds_job_close(tds_job *j) {
    ur_ctx_free(j->cb), ur_ctx_free(j->ca);
    ur_remote_free(j->client);
    ur_model_free(j->mb), ur_model_free(j->ma);
    ur_chat_free(j->fmt);
    ur_buf_free(&j->sep);
    json_decref(j->outputs);
    free(j->sel);
    ur_dataset_free(&j->ds);
    memset(j, 0, sizeof *j);
}

json_t *tds_job_config(const tds_job *j, const char *cmd) {
    json_t *c = json_object();
    json_object_set_new(c, "command", json_string(cmd));
    if (j->client) { /* the base on a server: its name there and K (the URL may change between runs) */
        json_object_set_new(c, "base", json_string(j->rem.model));
        json_object_set_new(c, "backend", json_string("openai"));
        json_object_set_new(c, "top_logprobs", json_integer(j->top_k));
    } else {
        json_object_set_new(c, "base", json_string(base_name(j->base_path)));
        json_object_set_new(c, "base_size", json_integer((json_int_t)j->mb->gguf->size));
    }
    json_object_set_new(c, "aligned", json_string(base_name(j->aligned_path)));
    json_object_set_new(c, "aligned_size", json_integer((json_int_t)j->ma->gguf->size));
    json_object_set_new(c, "prompt", json_string(j->fmt ? base_name(ur_chat_name(j->fmt)) : "input"));
    json_object_set_new(c, "answers", json_string(j->outputs_path ? base_name(j->outputs_path) : "greedy"));
    json_object_set_new(c, "max_tokens", json_integer(j->max_tokens));
    return c;
}

int tds_check_configs(const ur_results *res, const char *path, json_t *mine, const char *cmd) {
    for (int i = 0; i < ur_results_count(res); i++) {
        const ur_record *rec = ur_results_get(res, i);
        json_t *o = json_loads(rec->json, 0, NULL), *theirs = json_object_get(o, "config"), *mv;
        if (json_equal(theirs, mine)) {
            json_decref(o);
            continue;
        }
        const char *key = "config", *k;
        char *a = NULL, *b = NULL;
        json_object_foreach(mine, k, mv) if (!json_equal(json_object_get(theirs, k), mv)) {
            key = k;
            a = json_dumps(json_object_get(theirs, k), JSON_ENCODE_ANY | JSON_COMPACT);
            b = json_dumps(mv, JSON_ENCODE_ANY | JSON_COMPACT);
            break;
        }
        cli_fail("%s: %s: line %d was made with another %s (%s, now %s); use another --out to keep both", cmd, path,
                 rec->line, key, a ? a : "missing", b ? b : "?");
        free(a), free(b);
        json_decref(o);
        return -1;
    }
    return 0;
}

int tds_mkdir(const char *dir, const char *cmd) {
    if (mkdir(dir, 0777) && errno != EEXIST) return cli_fail("%s: %s: cannot create the directory: %s", cmd, dir, strerror(errno)), -1;
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return cli_fail("%s: %s is not a directory", cmd, dir), -1;
    return 0;
}

/* ---- one item -------------------------------------------------------------------- */
static int skip(const ur_item *it, int tty, const char *why) {
    fprintf(stderr, "%surial: tds: item %s skipped: %s\n", tty ? "\n" : "", it->id, why);
    return 1;
}

/* The prompt text, and how to tokenize it. */
static int render(tds_job *j, const ur_item *it, ur_buf *prompt, int *add_bos, int *special) {
    const ur_vocab *v = j->ma->vocab;
    ur_err err = {{0}};
    if (j->fmt) {
        ur_msg m = {UR_ROLE_USER, it->turns[0], strlen(it->turns[0])};
        if (ur_chat_render(j->fmt, &m, 1, 1, prompt, &err)) return cli_fail("%s", err.msg), -1;
        *add_bos = ur_chat_add_bos(j->fmt) && ur_vocab_add_bos(v);
        *special = ur_chat_parse_special(j->fmt);
        return 0;
    }
    /* the TDS authors' "input": already rendered, special tokens spelled out */
    json_t *o = json_loads(it->fields, 0, NULL), *in = json_object_get(o, "input");
    if (!json_is_string(in)) {
        json_decref(o);
        return cli_fail("tds: %s: item %s has no rendered \"input\" (use --template or --urial)", j->data_path, it->id), -1;
    }
    ur_buf_put(prompt, json_string_value(in), json_string_length(in));
    json_decref(o);
    char bos[32];
    int32_t b = ur_vocab_bos(v);
    int bl = b >= 0 ? ur_token_to_bytes(v, b, 1, bos, sizeof bos) : 0;
    int spelled = bl > 0 && bl <= (int)sizeof bos && prompt->len >= (size_t)bl && !memcmp(prompt->data, bos, (size_t)bl);
    *add_bos = !spelled && ur_vocab_add_bos(v);
    *special = 1;
    return 0;
}

int tds_job_example(tds_job *j, const ur_item *it, ur_tds_seq *seq, ur_buf *answer, const char **stop, int tty) {
    const ur_vocab *v = j->ma->vocab;
    const int n_ctx = j->cb && ur_ctx_n_ctx(j->cb) < ur_ctx_n_ctx(j->ca) ? ur_ctx_n_ctx(j->cb) : ur_ctx_n_ctx(j->ca);
    ur_buf prompt = {0};
    ur_err err = {{0}};
    int add_bos, special, rc = 0;
    memset(seq, 0, sizeof *seq);
    if (render(j, it, &prompt, &add_bos, &special)) return -1;
    if (j->outputs) {
        json_t *out = json_object_get(j->outputs, it->id);
        if (!out) {
            ur_buf_free(&prompt);
            return skip(it, tty, "no answer for this id in --outputs");
        }
        ur_buf_put(answer, json_string_value(out), json_string_length(out));
        ur_buf_put(&prompt, j->sep.data ? j->sep.data : "", j->sep.len);
        if (ur_tds_seq_text(v, prompt.data, prompt.len, answer->data ? answer->data : "", answer->len, add_bos, special, 0,
                            seq, &err))
            rc = skip(it, tty, err.msg);
        else if (j->max_tokens >= 0 && seq->n - seq->n_context > j->max_tokens)
            seq->n = seq->n_context + (int)j->max_tokens;
        *stop = "given";
    } else {
        /* greedy from the aligned model, with the format's stop strings */
        int32_t *p = NULL;
        int np = cli_tokenize(v, prompt.data, add_bos, special, &p);
        if (np < 0) {
            ur_buf_free(&prompt);
            return -1;
        }
        int cap = (j->max_tokens >= 0 ? (int)j->max_tokens : n_ctx) + 1;
        seq->ids = malloc(sizeof *seq->ids * (size_t)(np + cap));
        if (!seq->ids) abort();
        memcpy(seq->ids, p, sizeof *p * (size_t)np);
        free(p);
        ur_gen_params gp;
        ur_gen_defaults(&gp);
        gp.max_tokens = cap - 1;
        if (j->fmt) gp.stop = ur_chat_stops(j->fmt, &gp.n_stop);
        gp.tokens = seq->ids + np;
        gp.tokens_cap = cap;
        ur_gen_result res;
        if (np + 1 >= n_ctx) {
            rc = skip(it, tty, "the prompt does not fit the context (use a larger --ctx)");
        } else if (ur_generate(j->ca, seq->ids, np, &gp, NULL, NULL, &res, &err)) {
            cli_fail("%s", err.msg);
            rc = -1;
        } else {
            int n = res.n_gen + (res.stop_reason == UR_STOP_EOG);
            if (res.stop_reason == UR_STOP_STRING) { /* keep the tokens whose text is before the stop string */
                ur_detok d;
                ur_buf t = {0};
                ur_detok_init(&d, v, 0, 0);
                int keep = 0;
                for (int i = 0; i < n; i++) {
                    ur_detok_push(&d, seq->ids[np + i], &t);
                    if (t.len > res.text.len) break;
                    keep = i + 1;
                }
                ur_buf_free(&t);
                n = keep;
            }
            seq->n = np + n;
            seq->n_context = np;
            *stop = ur_stop_reason_name(res.stop_reason);
            if (j->fmt) ur_chat_clean(j->fmt, res.text.data ? res.text.data : "", res.text.len, answer);
            else ur_buf_put(answer, res.text.data ? res.text.data : "", res.text.len);
            if (!n) rc = skip(it, tty, "the aligned model's answer is empty");
            ur_buf_free(&res.text);
        }
    }
    ur_buf_free(&prompt);
    if (!rc && seq->n - 1 > n_ctx) rc = skip(it, tty, "input + answer do not fit the context (use a larger --ctx or --max-tokens)");
    if (rc) ur_tds_seq_free(seq);
    return rc;
}
