/* The training loop (train.h, ur_train_run): seeded epoch order, gradient
 * accumulation over packed micro-batches, clipping, AdamW, checkpoints with dev
 * loss and sample generations, the training state for --resume. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "train/trainer.h"
#include "urial/generate.h"

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The order of epoch e: a Fisher-Yates shuffle driven by (seed, e). */
static void epoch_order(int *perm, int n, uint64_t seed, int e) {
    for (int i = 0; i < n; i++) perm[i] = i;
    uint64_t s = mix64(seed ^ mix64((uint64_t)e + 0x632BE59BD9B4E019ull));
    for (int i = n - 1; i > 0; i--) {
        s = mix64(s + 0x9E3779B97F4A7C15ull);
        int j = (int)(s % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

/* ---- micro-batches ---------------------------------------------------------------------- */
typedef struct packer {
    int cap;
    int32_t *tok, *tgt, *pos, *seg;
} packer;

/* Pack seqs idx[*i..] into b up to cap tokens; advances *i. */
static void pack(packer *pk, const ur_tdata *d, const int *idx, int count, int *i, ur_tbatch *b) {
    int n = 0;
    while (*i < count) {
        const ur_tseq *s = &d->seqs[idx[*i]];
        if (n > 0 && n + s->n > pk->cap) break;
        memcpy(pk->tok + n, s->tok, sizeof(int32_t) * (size_t)s->n);
        memcpy(pk->tgt + n, s->tgt, sizeof(int32_t) * (size_t)s->n);
        for (int t = 0; t < s->n; t++) pk->pos[n + t] = t, pk->seg[n + t] = n;
        n += s->n;
        (*i)++;
    }
    *b = (ur_tbatch){.n = n, .tokens = pk->tok, .targets = pk->tgt, .pos = pk->pos, .seg = pk->seg};
}

static double evaluate(ur_tctx *c, const ur_tnet *n, packer *pk, const ur_tdata *d, int64_t *targets) {
    int *idx = ur_xmalloc(sizeof(int) * (size_t)d->n);
    for (int i = 0; i < d->n; i++) idx[i] = i;
    double nll = 0;
    int64_t tg = 0;
    for (int i = 0; i < d->n;) {
        ur_tbatch b;
        pack(pk, d, idx, d->n, &i, &b);
        int got = 0;
        if (b.n) nll += ur_tctx_eval(c, n, &b, &got);
        tg += got;
    }
    free(idx);
    *targets = tg;
    return nll;
}

/* ---- files ------------------------------------------------------------------------------ */
int tr_jsonl_append(const char *path, const char *line, ur_err *err) {
    FILE *f = fopen(path, "a");
    if (!f) return ur_errf(err, "%s: cannot append: %s", path, strerror(errno));
    int bad = fputs(line, f) < 0 || fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (fclose(f) != 0) bad = 1;
    return bad ? ur_errf(err, "%s: write error", path) : 0;
}

int tr_jsonl_truncate_steps(const char *path, int64_t step, ur_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0; /* nothing written yet */
    ur_buf keep = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)len, 0, NULL);
        json_t *s = j ? json_object_get(j, "step") : NULL;
        if (s && json_integer_value(s) <= step) ur_buf_put(&keep, line, (size_t)len);
        json_decref(j);
    }
    free(line);
    fclose(f);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "wb");
    int rc = 0;
    if (!f || (keep.len && fwrite(keep.data, 1, keep.len, f) != keep.len) || fflush(f) || fsync(fileno(f)))
        rc = ur_errf(err, "%s: cannot rewrite", path);
    if (f && fclose(f)) rc = ur_errf(err, "%s: cannot rewrite", path);
    if (!rc && rename(tmp, path)) rc = ur_errf(err, "%s: cannot rename: %s", path, strerror(errno));
    ur_buf_free(&keep);
    return rc;
}

static void path_in(char *out, size_t n, const char *dir, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* ---- samples ---------------------------------------------------------------------------- */
/* Greedy generations of the checkpoint at `path` (loaded as `urial generate` would). */
static json_t *samples(const char *path, const ur_train_opts *o, const ur_tdata *src, ur_err *err) {
    json_t *arr = json_array();
    int n = o->n_samples;
    if (n <= 0) return arr;
    ur_model *m = ur_model_load(path, err);
    if (!m) goto fail;
    ur_ctx *c = ur_ctx_new(m, (ur_ctx_params){.n_threads = o->threads}, err);
    if (!c) {
        ur_model_free(m);
        goto fail;
    }
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = o->sample_tokens;
    if (o->fmt) gp.stop = ur_chat_stops(o->fmt, &gp.n_stop);
    int done = 0;
    for (int i = 0; done < n && i < (o->n_sample_prompts ? o->n_sample_prompts : src ? src->n : 0); i++) {
        int32_t *ids = NULL;
        int n_ids = 0;
        const char *question = NULL, *reference = NULL;
        if (o->n_sample_prompts) {
            const char *t = o->sample_prompts[i];
            n_ids = ur_tokenize_alloc(m->vocab, t, strlen(t), ur_vocab_add_bos(m->vocab), 0, &ids, err);
            question = t;
        } else {
            const ur_tseq *s = &src->seqs[i];
            if (!s->prompt) continue;
            n_ids = s->n_prompt;
            ids = ur_xmalloc(sizeof(int32_t) * (size_t)(n_ids + 1));
            memcpy(ids, s->prompt, sizeof(int32_t) * (size_t)n_ids);
            question = s->question, reference = s->answer;
        }
        if (n_ids <= 0 || n_ids >= ur_ctx_n_ctx(c)) {
            free(ids);
            continue;
        }
        ur_gen_result res;
        ur_ctx_truncate(c, 0);
        int rc = ur_generate(c, ids, n_ids, &gp, NULL, NULL, &res, err);
        free(ids);
        if (rc) break;
        ur_buf clean = {0};
        if (o->fmt) ur_chat_clean(o->fmt, res.text.data, res.text.len, &clean);
        else ur_buf_put(&clean, res.text.data ? res.text.data : "", res.text.len);
        ur_buf_put(&clean, "", 0);
        json_t *rec = json_object();
        json_object_set_new(rec, "prompt", json_string(question ? question : ""));
        json_object_set_new(rec, "output", json_stringn(clean.data, clean.len));
        if (reference) json_object_set_new(rec, "reference", json_string(reference));
        json_array_append_new(arr, rec);
        ur_buf_free(&clean);
        ur_buf_free(&res.text);
        done++;
    }
    ur_ctx_free(c);
    ur_model_free(m);
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

/* ---- the run ------------------------------------------------------------------------------ */
/* A step whose loss or gradient norm is NaN or infinite stops the run (one line naming the
 * step); the weights and the saved state are those of the step before. */
static int tr_diverged(int64_t step, double nll, double gnorm, ur_err *err) {
    if (isfinite(nll) && isfinite(gnorm)) return 0;
    const double bad = isfinite(nll) ? gnorm : nll;
    return ur_errf(err, "step %lld: the %s is %s: training diverged (a lower --lr?); stopped before applying the step",
                   (long long)step, isfinite(nll) ? "gradient norm" : "loss", isnan(bad) ? "nan" : "inf");
}

uint64_t ur_train_mem(const ur_tnet *n, const ur_train_opts *o) {
    return 4ull * sizeof(float) * n->n_params + ur_tctx_bytes(n, o->micro_tokens, o->recompute, o->threads);
}

static void fingerprint(char *fp, size_t len, const ur_tnet *n, const ur_tdata *d, const ur_train_opts *o) {
    snprintf(fp, len,
             "kind=%s;params=%zu;layers=%d;dim=%d;lora=%d/%u;examples=%d;tokens=%lld;targets=%lld;epochs=%d;"
             "max_steps=%lld;batch=%d;micro_tokens=%d;sched=%d;lr=%.9g;lr_end=%.9g;warmup=%lld;beta1=%.9g;"
             "beta2=%.9g;eps=%.9g;wd=%.9g;clip=%.9g;dropout=%.9g;seed=%llu",
             o->kind ? o->kind : "", n->n_params, n->hp.n_layers, n->hp.dim, n->lora, n->lora_targets, d->n,
             (long long)d->n_tokens, (long long)d->n_targets, o->epochs, (long long)o->max_steps, o->batch,
             o->micro_tokens, o->sched.kind, o->sched.lr, o->sched.lr_end, (long long)o->sched.warmup,
             o->adamw.beta1, o->adamw.beta2, o->adamw.eps, o->adamw.weight_decay, o->clip, o->dropout,
             (unsigned long long)o->seed);
}

static void about_md(ur_buf *b, const ur_tnet *n, const ur_tdata *tr, const ur_tdata *dev, const ur_train_opts *o,
                     int64_t total, int spe) {
    const ur_hparams *hp = &n->hp;
    ur_buf_printf(b, "| | |\n|---|---|\n");
    ur_buf_printf(b, "| mode | %s |\n", o->kind ? o->kind : "");
    ur_buf_printf(b, "| model | llama, dim %d, %d layers, %d/%d heads, ff %d, vocab %d, context %d%s |\n", hp->dim,
                  hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->ff, hp->n_vocab, hp->n_ctx_train,
                  n->tied ? ", tied output" : "");
    if (n->lora)
        ur_buf_printf(b, "| trainable | LoRA rank %d, alpha %g: %zu parameters |\n", n->lora, n->lora_alpha,
                      n->n_params);
    else ur_buf_printf(b, "| trainable | every weight (F32 master copy): %zu parameters |\n", n->n_params);
    ur_buf_printf(b, "| training data | %d sequences, %lld tokens, %lld with a loss%s |\n", tr->n,
                  (long long)tr->n_tokens, (long long)tr->n_targets, tr->n_truncated ? " (some truncated)" : "");
    if (dev) ur_buf_printf(b, "| dev data | %d sequences, %lld target tokens |\n", dev->n, (long long)dev->n_targets);
    ur_buf_printf(b, "| schedule | %d epochs x %d steps = %lld steps; batch %d sequences, micro-batches of <= %d tokens |\n",
                  o->epochs, spe, (long long)total, o->batch, o->micro_tokens);
    static const char *const sk[3] = {"linear", "cosine", "constant"};
    ur_buf_printf(b, "| optimizer | AdamW beta1 %g, beta2 %g, eps %g, weight decay %g; lr %g -> %g (%s, warmup %lld); clip %g |\n",
                  o->adamw.beta1, o->adamw.beta2, o->adamw.eps, o->adamw.weight_decay, o->sched.lr, o->sched.lr_end,
                  sk[o->sched.kind], (long long)o->sched.warmup, o->clip);
    ur_buf_printf(b, "| residual dropout | 0 (bottom layer) -> %g (top layer) |\n| seed | %llu |\n", o->dropout,
                  (unsigned long long)o->seed);
}

int ur_train_run(ur_tnet *n, const ur_tdata *train, const ur_tdata *dev, const ur_train_opts *o, ur_train_cb cb,
                 void *user, ur_err *err) {
    const int nt = o->threads > 0 ? o->threads : ur_n_cores();
    if (train->n <= 0) return ur_errf(err, "no training data");
    for (int i = 0; i < train->n; i++)
        if (train->seqs[i].n > o->micro_tokens || train->seqs[i].n > n->hp.n_ctx_train)
            return ur_errf(err, "training sequence %d has %d tokens: more than the micro-batch (%d) or the context (%d)",
                           i + 1, train->seqs[i].n, o->micro_tokens, n->hp.n_ctx_train);
    if (o->keep == UR_KEEP_BEST && !dev) return ur_errf(err, "--keep best needs dev data (the lowest dev loss)");
    if (ur_train_check_out(o, err)) return -1;
    if (mkdir(o->out_dir, 0777) && errno != EEXIST) return ur_errf(err, "%s: cannot create: %s", o->out_dir, strerror(errno));
    if (o->overwrite && tr_outdir_clear(o->out_dir, err)) return -1;
    const int batch = o->batch > 0 ? o->batch : 1;
    const int spe = (train->n + batch - 1) / batch;
    int64_t total = (int64_t)o->epochs * spe;
    if (o->max_steps > 0 && o->max_steps < total) total = o->max_steps;
    char fp[1024], state_path[4200], log_path[4200], ck_path[4200];
    fingerprint(fp, sizeof fp, n, train, o);
    path_in(state_path, sizeof state_path, o->out_dir, "state.gguf");
    path_in(log_path, sizeof log_path, o->out_dir, "log.jsonl");
    path_in(ck_path, sizeof ck_path, o->out_dir, "checkpoints.jsonl");

    float *m = ur_xcalloc(n->n_params, sizeof(float)), *v = ur_xcalloc(n->n_params, sizeof(float));
    int *perm = ur_xmalloc(sizeof(int) * (size_t)train->n);
    packer pk = {.cap = o->micro_tokens};
    pk.tok = ur_xmalloc(sizeof(int32_t) * 4 * (size_t)o->micro_tokens);
    pk.tgt = pk.tok + o->micro_tokens, pk.pos = pk.tgt + o->micro_tokens, pk.seg = pk.pos + o->micro_tokens;
    ur_buf about = {0};
    about_md(&about, n, train, dev, o, total, spe);
    tr_progress pr = {0};
    ur_tctx *c = NULL;
    int rc = -1;
    if (o->resume) {
        if (tr_state_load(state_path, n, m, v, &pr, fp, err)) goto out;
        if (tr_jsonl_truncate_steps(log_path, pr.step, err) || tr_jsonl_truncate_steps(ck_path, pr.step, err))
            goto out;
    } else {
        /* a fresh run: earlier logs in the directory would mix with this one's */
        remove(log_path), remove(ck_path);
    }
    c = ur_tctx_new(n, o->micro_tokens, o->recompute, nt, err);
    if (!c) goto out;
    ur_train_event ev = {.kind = UR_TEV_START, .total_steps = total, .epochs = (int)((total + spe - 1) / spe),
                         .mem_bytes = ur_train_mem(n, o), .resumed_from = pr.step, .step = pr.step};
    if (cb) cb(user, &ev);

    const double t0 = ur_now();
    double t_train = 0, last_save = t0;
    int64_t tokens_done = 0, steps_done = 0;
    int perm_epoch = -1;
    while (pr.step < total) {
        const int e = (int)(pr.step / spe), s_in = (int)(pr.step % spe);
        if (perm_epoch != e) epoch_order(perm, train->n, o->seed, e), perm_epoch = e;
        const int i0 = s_in * batch, cnt = i0 + batch <= train->n ? batch : train->n - i0;
        const int *idx = perm + i0;
        int64_t targets = 0;
        for (int i = 0; i < cnt; i++)
            for (int t = 0; t < train->seqs[idx[i]].n; t++) targets += train->seqs[idx[i]].tgt[t] >= 0;
        const double ts = ur_now();
        ur_grad_zero(n);
        double nll = 0;
        int micro = 0;
        for (int i = 0; i < cnt; micro++) {
            ur_tbatch b;
            pack(&pk, train, idx, cnt, &i, &b);
            ur_tdrop drop = {o->dropout, mix64(o->seed ^ mix64((uint64_t)pr.step * 1000003u + (uint64_t)micro))};
            int got;
            nll += ur_tctx_step(c, n, &b, targets ? 1.0f / (float)targets : 0.0f, drop, &got);
            tokens_done += b.n;
        }
        const double gnorm = ur_grad_norm(n, ur_tctx_pool(c));
        if (tr_diverged(pr.step + 1, nll, gnorm, err)) goto out; /* before the update touches the weights */
        if (o->clip > 0 && gnorm > o->clip) ur_grad_scale(n, (float)(o->clip / gnorm), ur_tctx_pool(c));
        const float lr = ur_sched_lr(&o->sched, pr.step, total);
        ur_adamw_step(n, m, v, pr.step + 1, lr, &o->adamw, ur_tctx_pool(c));
        pr.step++, steps_done++;
        pr.epoch_nll += nll, pr.epoch_targets += targets;
        t_train += ur_now() - ts;
        const double loss = targets ? nll / (double)targets : 0.0;
        const double per_step = t_train / (double)steps_done;
        ev = (ur_train_event){.kind = UR_TEV_STEP, .step = pr.step, .total_steps = total, .epoch = e + 1,
                              .epochs = (int)((total + spe - 1) / spe), .loss = loss, .lr = lr, .gnorm = gnorm,
                              .tok_s = tokens_done / t_train, .eta_s = per_step * (double)(total - pr.step),
                              .elapsed_s = ur_now() - t0, .dev_loss = NAN};
        if (cb) cb(user, &ev);
        char line[512];
        snprintf(line, sizeof line,
                 "{\"step\":%lld,\"epoch\":%d,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6g,\"tokens_per_s\":%.1f}",
                 (long long)pr.step, e + 1, loss, lr, gnorm, ev.tok_s);
        if (tr_jsonl_append(log_path, line, err)) goto out;

        const int epoch_end = pr.step % spe == 0, last = pr.step == total;
        double dev_loss = NAN;
        const int ckpt_next = last || (epoch_end && (pr.step / spe) % (o->ckpt_every > 0 ? o->ckpt_every : 1) == 0);
        if (dev && (ckpt_next || (o->eval_every > 0 && pr.step % o->eval_every == 0))) {
            int64_t dtg;
            double dn = evaluate(c, n, &pk, dev, &dtg);
            dev_loss = dtg ? dn / (double)dtg : NAN;
            ev.kind = UR_TEV_EVAL, ev.dev_loss = dev_loss;
            if (cb) cb(user, &ev);
            snprintf(line, sizeof line, "{\"step\":%lld,\"epoch\":%d,\"dev_loss\":%.6f,\"dev_ppl\":%.4f}",
                     (long long)pr.step, e + 1, dev_loss, exp(dev_loss));
            if (tr_jsonl_append(log_path, line, err)) goto out;
        }
        const int ckpt = ckpt_next;
        if (epoch_end && !ckpt) pr.epoch_nll = 0, pr.epoch_targets = 0; /* the table shows checkpoint epochs */
        if (ckpt) {
            char name[64], path[4200];
            if (epoch_end) snprintf(name, sizeof name, "epoch-%03d.gguf", e + 1);
            else snprintf(name, sizeof name, "step-%06lld.gguf", (long long)pr.step);
            path_in(path, sizeof path, o->out_dir, name);
            if (ur_tnet_save(n, &o->save, path, err)) goto out;
            if (o->export_adapter && n->lora) {
                char an[80], ap[4200];
                snprintf(an, sizeof an, "adapter-%s", name + (epoch_end ? 6 : 5));
                path_in(ap, sizeof ap, o->out_dir, an);
                if (ur_tnet_save_adapter(n, ap, err)) goto out;
            }
            json_t *sm = samples(path, o, o->n_sample_prompts ? NULL : dev ? dev : train, err);
            if (!sm) goto out;
            if (o->export_adapter == 2 && n->lora) { /* adapters only: the merged model served the samples */
                char an[80];
                snprintf(an, sizeof an, "adapter-%s", epoch_end ? name + 6 : name + 5);
                remove(path);
                snprintf(name, sizeof name, "%.63s", an);
            }
            json_t *rec = json_object();
            json_object_set_new(rec, "step", json_integer(pr.step));
            json_object_set_new(rec, "epoch", json_integer(e + 1));
            json_object_set_new(rec, "file", json_string(name));
            json_object_set_new(rec, "train_loss", json_real(pr.epoch_targets ? pr.epoch_nll / (double)pr.epoch_targets : 0));
            if (dev) {
                json_object_set_new(rec, "dev_loss", json_real(dev_loss));
                json_object_set_new(rec, "dev_ppl", json_real(exp(dev_loss)));
            }
            json_object_set_new(rec, "samples_from", json_string(o->n_sample_prompts ? "prompts" : dev ? "dev" : "train"));
            json_object_set_new(rec, "samples", sm);
            char *s = json_dumps(rec, JSON_COMPACT);
            json_decref(rec);
            int bad = tr_jsonl_append(ck_path, s, err);
            free(s);
            if (bad || tr_report_write(o->out_dir, o->title, about.data, err)) goto out;
            tr_keep_prune(o->out_dir, ck_path, o->keep);
            ev.kind = UR_TEV_CKPT, ev.path = path, ev.dev_loss = dev_loss;
            if (cb) cb(user, &ev);
            if (epoch_end) pr.epoch_nll = 0, pr.epoch_targets = 0;
        }
        const double now = ur_now();
        if (ckpt || (o->save_every > 0 && pr.step % o->save_every == 0) ||
            (o->save_minutes > 0 && now - last_save >= 60.0 * o->save_minutes)) {
            if (tr_state_save(state_path, n, m, v, &pr, fp, err)) goto out;
            last_save = now;
            ev.kind = UR_TEV_SAVE, ev.path = state_path;
            if (cb) cb(user, &ev);
        }
    }
    if (steps_done == 0 && tr_report_write(o->out_dir, o->title, about.data, err)) goto out;
    char rp[4200];
    path_in(rp, sizeof rp, o->out_dir, "report.md");
    ev = (ur_train_event){.kind = UR_TEV_DONE, .step = pr.step, .total_steps = total, .path = rp,
                          .elapsed_s = ur_now() - t0, .tok_s = t_train > 0 ? tokens_done / t_train : 0};
    if (cb) cb(user, &ev);
    rc = 0;
out:
    ur_tctx_free(c);
    ur_buf_free(&about);
    free(m), free(v), free(perm), free(pk.tok);
    return rc;
}
