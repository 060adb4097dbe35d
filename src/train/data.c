/* Training data (train.h, "datasets"): SFT conversations from JSONL, rendered with
 * a chat template and masked so that only assistant tokens carry a loss, and raw
 * text for pretraining, cut into fixed windows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "urial/train.h"

void ur_tdata_free(ur_tdata *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) free(d->seqs[i].tok), free(d->seqs[i].prompt), free(d->seqs[i].answer),
                                     free(d->seqs[i].question);
    free(d->seqs);
    memset(d, 0, sizeof *d);
}

static ur_tseq *push_seq(ur_tdata *d) {
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->seqs = ur_xrealloc(d->seqs, sizeof *d->seqs * (size_t)d->cap);
    }
    ur_tseq *s = &d->seqs[d->n++];
    memset(s, 0, sizeof *s);
    return s;
}


/* ---- one conversation from a JSONL line ------------------------------------------------- */
/* {"messages": [{"role", "content"}, ...]}   (OpenAI style; multi-turn)
 * {"conversations": ["user text", "assistant text", ...]}   (LIMA's release)
 * {"instruction": ..., "input": optional, "output": ...}     (Alpaca style) */
static int parse_conv(ur_conv *c, const char *line, size_t len, const char *where, ur_err *err) {
    json_error_t je;
    json_t *root = json_loadb(line, len, 0, &je);
    if (!root) return ur_errf(err, "%s: not valid JSON: %s", where, je.text);
    int rc = 0;
    json_t *msgs = json_object_get(root, "messages"), *convs = json_object_get(root, "conversations");
    json_t *ins = json_object_get(root, "instruction"), *outp = json_object_get(root, "output");
    if (msgs && !json_is_array(msgs)) {
        rc = ur_errf(err, "%s: \"messages\" must be an array of {\"role\", \"content\"} objects", where);
    } else if (msgs) {
        char *s = json_dumps(msgs, 0);
        rc = ur_conv_parse_json(c, s, strlen(s), where, err);
        free(s);
    } else if (convs) {
        if (!json_is_array(convs)) rc = ur_errf(err, "%s: \"conversations\" must be an array of strings", where);
        for (size_t i = 0; !rc && i < json_array_size(convs); i++) {
            json_t *m = json_array_get(convs, i);
            if (json_is_object(m)) { /* ShareGPT style {"from": "human"/"gpt", "value"} */
                json_t *v = json_object_get(m, "value");
                if (!json_is_string(v)) v = json_object_get(m, "content");
                if (!json_is_string(v)) {
                    rc = ur_errf(err, "%s: conversation turn %zu has no string \"value\"", where, i + 1);
                    break;
                }
                ur_conv_add(c, i % 2 ? UR_ROLE_ASSISTANT : UR_ROLE_USER, json_string_value(v), json_string_length(v));
            } else if (json_is_string(m)) {
                ur_conv_add(c, i % 2 ? UR_ROLE_ASSISTANT : UR_ROLE_USER, json_string_value(m), json_string_length(m));
            } else {
                rc = ur_errf(err, "%s: conversation turn %zu is not a string", where, i + 1);
            }
        }
    } else if (json_is_string(ins) && json_is_string(outp)) {
        json_t *in = json_object_get(root, "input");
        ur_buf u = {0};
        ur_buf_put(&u, json_string_value(ins), json_string_length(ins));
        if (json_is_string(in) && json_string_length(in)) {
            ur_buf_puts(&u, "\n\n");
            ur_buf_put(&u, json_string_value(in), json_string_length(in));
        }
        ur_conv_add(c, UR_ROLE_USER, u.data, u.len);
        ur_conv_add(c, UR_ROLE_ASSISTANT, json_string_value(outp), json_string_length(outp));
        ur_buf_free(&u);
    } else {
        rc = ur_errf(err, "%s: expected \"messages\", \"conversations\", or \"instruction\" and \"output\"", where);
    }
    json_decref(root);
    if (!rc && (c->n < 2 || c->msgs[c->n - 1].role != UR_ROLE_ASSISTANT))
        rc = ur_errf(err, "%s: a conversation must end with an assistant message", where);
    return rc;
}

/* Byte offset in the rendered text where each token starts: the streaming
 * detokenizer gives back exactly the text (for valid UTF-8), the tokenizer's
 * leading spaces removed (special tokens spelled as text, as templates spell
 * them), so the bytes it has produced (plus any it holds back) before a token is
 * pushed are that token's start. */
static int token_offsets(const ur_vocab *v, const int32_t *ids, int n, int first, size_t text_len, size_t *off) {
    ur_detok d;
    ur_detok_init(&d, v, 1, 1);
    ur_buf out = {0};
    for (int i = 0; i < first && i < n; i++) off[i] = 0; /* a BOS the tokenizer added: not in the text */
    for (int i = first; i < n; i++) {
        off[i] = out.len + (size_t)d.n_pending;
        ur_detok_push(&d, ids[i], &out);
    }
    ur_detok_flush(&d, &out);
    int ok = out.len == text_len;
    ur_buf_free(&out);
    return ok ? 0 : -1;
}

/* Render c, tokenize it and mark the assistant spans: target[t] = tok[t + 1] when
 * token t + 1 starts inside an assistant message (its text and the end-of-turn
 * marker the template puts after it), -1 otherwise. */
static int encode_conv(ur_tseq *s, const ur_conv *c, const ur_vocab *v, const ur_chat *fmt, int max_len,
                       const char *where, int *truncated, ur_err *err) {
    ur_buf full = {0}, pre = {0};
    int32_t *ids = NULL;
    size_t *off = NULL;
    int rc = -1;
    if (ur_chat_render(fmt, c->msgs, c->n, 0, &full, err)) goto out;
    /* assistant spans [start, end) in bytes */
    size_t spans[512][2];
    int n_sp = 0;
    for (int i = 0; i < c->n && n_sp < 512; i++) {
        if (c->msgs[i].role != UR_ROLE_ASSISTANT) continue;
        pre.len = 0;
        if (ur_chat_render(fmt, c->msgs, i, 1, &pre, err)) goto out;
        size_t start = pre.len;
        pre.len = 0;
        if (ur_chat_render(fmt, c->msgs, i + 1, 0, &pre, err)) goto out;
        if (pre.len > full.len || memcmp(pre.data, full.data, pre.len) || start > pre.len) {
            ur_errf(err, "%s: template '%s' does not render a conversation's start as a prefix of the whole", where,
                    ur_chat_name(fmt));
            goto out;
        }
        spans[n_sp][0] = start, spans[n_sp][1] = pre.len;
        n_sp++;
    }
    int add_bos = ur_chat_add_bos(fmt) && ur_vocab_add_bos(v);
    int n = ur_tokenize_alloc(v, full.data, full.len, add_bos, ur_chat_parse_special(fmt), &ids, err);
    if (n < 0) goto out;
    off = ur_xmalloc(sizeof *off * (size_t)(n + 1));
    if (token_offsets(v, ids, n, add_bos && n > 0 && ids[0] == ur_vocab_bos(v), full.len, off)) {
        ur_errf(err, "%s: the tokens do not spell the rendered text (invalid UTF-8?)", where);
        goto out;
    }
    if (n > max_len + 1) *truncated = 1, n = max_len + 1;
    s->n = n - 1;
    s->tok = ur_xmalloc(sizeof(int32_t) * 2 * (size_t)(n > 1 ? n : 1));
    s->tgt = s->tok + (n > 1 ? n - 1 : 0);
    memcpy(s->tok, ids, sizeof(int32_t) * (size_t)s->n);
    int sp = 0;
    for (int t = 0; t < s->n; t++) {
        size_t o = off[t + 1];
        while (sp < n_sp && o >= spans[sp][1]) sp++;
        int in = sp < n_sp && o >= spans[sp][0];
        s->tgt[t] = in ? ids[t + 1] : -1;
    }
    /* the prompt of the last turn (for sample generations) and its reference answer */
    pre.len = 0;
    if (ur_chat_render(fmt, c->msgs, c->n - 1, 1, &pre, err)) goto out;
    int np = ur_tokenize_alloc(v, pre.data, pre.len, add_bos, ur_chat_parse_special(fmt), &s->prompt, err);
    if (np < 0) goto out;
    s->n_prompt = np;
    s->answer = ur_xstrndup(c->msgs[c->n - 1].content, c->msgs[c->n - 1].len);
    s->question = ur_xstrndup(c->msgs[c->n - 2].content, c->msgs[c->n - 2].len);
    rc = 0;
out:
    free(ids);
    free(off);
    ur_buf_free(&full);
    ur_buf_free(&pre);
    return rc;
}

int ur_tdata_load_sft(ur_tdata *d, const char *path, const ur_vocab *v, const ur_chat *fmt, int max_len,
                      ur_err *err) {
    memset(d, 0, sizeof *d);
    ur_buf b = {0};
    if (ur_read_file(path, "training data", 0, &b, err)) return -1;
    int rc = 0, lineno = 0;
    char where[600];
    for (size_t p = 0; p < b.len && !rc;) {
        size_t e = p;
        while (e < b.len && b.data[e] != '\n') e++;
        lineno++;
        size_t q = p;
        while (q < e && (b.data[q] == ' ' || b.data[q] == '\t' || b.data[q] == '\r')) q++;
        if (q < e) {
            snprintf(where, sizeof where, "%s:%d", path, lineno);
            ur_conv c = {0};
            rc = parse_conv(&c, b.data + p, e - p, where, err);
            int trunc = 0;
            if (!rc) {
                ur_tseq *s = push_seq(d);
                rc = encode_conv(s, &c, v, fmt, max_len, where, &trunc, err);
                if (rc) d->n--;
                else {
                    d->n_truncated += trunc;
                    d->n_tokens += s->n;
                    for (int t = 0; t < s->n; t++) d->n_targets += s->tgt[t] >= 0;
                }
            }
            ur_conv_free(&c);
        }
        p = e + 1;
    }
    ur_buf_free(&b);
    if (!rc && d->n == 0) rc = ur_errf(err, "%s: no examples", path);
    if (rc) ur_tdata_free(d);
    return rc;
}

/* ---- raw text ------------------------------------------------------------------------------ */
/* documents [i0, i1): ids[i] (malloc'ed) and lens[i] (-1 on failure) */
typedef struct doc_job {
    const ur_vocab *v;
    const char *text;
    size_t (*docs)[2];
    int32_t **ids;
    int *lens;
} doc_job;

static void doc_body(void *arg, int64_t i0, int64_t i1, int tid) {
    const doc_job *j = arg;
    (void)tid;
    for (int64_t i = i0; i < i1; i++) {
        ur_err e2;
        j->lens[i] = ur_tokenize_alloc(j->v, j->text + j->docs[i][0], j->docs[i][1] - j->docs[i][0],
                                       ur_vocab_add_bos(j->v), 0, &j->ids[i], &e2);
    }
}

int ur_tdata_load_text(ur_tdata *d, const char *path, const ur_vocab *v, int ctx, ur_err *err) {
    memset(d, 0, sizeof *d);
    ur_buf b = {0};
    if (ur_read_file(path, "text", 0, &b, err)) return -1;
    /* documents: runs of non-blank lines, separated by blank lines (empty or "\r") */
    size_t n_docs = 0, cap = 1024;
    size_t (*docs)[2] = ur_xmalloc(sizeof *docs * cap);
    size_t doc_start = 0, doc_end = 0;
    int in_doc = 0;
    for (size_t p = 0; p <= b.len;) {
        size_t e = p;
        while (e < b.len && b.data[e] != '\n') e++;
        int blank = e == p || (e == p + 1 && b.data[p] == '\r');
        if (!blank && p < b.len) {
            if (!in_doc) doc_start = p, in_doc = 1;
            doc_end = e > p && b.data[e - 1] == '\r' ? e - 1 : e;
        }
        if ((blank || e >= b.len) && in_doc) {
            if (n_docs == cap) {
                docs = ur_xrealloc(docs, sizeof *docs * (cap *= 2));
            }
            docs[n_docs][0] = doc_start, docs[n_docs][1] = doc_end;
            n_docs++;
            in_doc = 0;
        }
        p = e + 1;
    }
    int32_t **ids = ur_xcalloc(n_docs ? n_docs : 1, sizeof *ids);
    int *lens = ur_xcalloc(n_docs ? n_docs : 1, sizeof *lens);
    const int32_t eos = ur_vocab_eos(v);
    /* documents tokenized on all cores, for this load only (NULL: on this thread) */
    doc_job dj = {v, b.data, docs, ids, lens};
    ur_pool *pool = ur_pool_new(0, NULL);
    ur_pool_for(pool, (int64_t)n_docs, 16, doc_body, &dj);
    ur_pool_free(pool);
    int fail = 0;
    for (size_t i = 0; i < n_docs; i++) fail |= lens[i] < 0;
    int rc = 0;
    if (fail) {
        rc = ur_errf(err, "%s: tokenization failed", path);
        goto out;
    }
    size_t total = 0;
    for (size_t i = 0; i < n_docs; i++) total += (size_t)lens[i] + (eos >= 0);
    if (total < (size_t)ctx + 1) {
        rc = ur_errf(err, "%s: %zu tokens are fewer than one window of %d + 1", path, total, ctx);
        goto out;
    }
    /* one stream (documents each followed by EOS), windows of ctx inputs + 1 */
    int32_t *stream = ur_xmalloc(sizeof(int32_t) * total);
    size_t k = 0;
    for (size_t i = 0; i < n_docs; i++) {
        memcpy(stream + k, ids[i], sizeof(int32_t) * (size_t)lens[i]);
        k += (size_t)lens[i];
        if (eos >= 0) stream[k++] = eos;
    }
    const size_t n_win = (total - 1) / (size_t)ctx;
    for (size_t w = 0; w < n_win; w++) {
        ur_tseq *s = push_seq(d);
        s->n = ctx;
        s->tok = ur_xmalloc(sizeof(int32_t) * 2 * (size_t)ctx);
        s->tgt = s->tok + ctx;
        memcpy(s->tok, stream + w * (size_t)ctx, sizeof(int32_t) * (size_t)ctx);
        memcpy(s->tgt, stream + w * (size_t)ctx + 1, sizeof(int32_t) * (size_t)ctx);
        d->n_tokens += ctx;
        d->n_targets += ctx;
    }
    d->n_docs = (int64_t)n_docs;
    d->n_stream = (int64_t)total;
    free(stream);
out:
    for (size_t i = 0; i < n_docs; i++) free(ids[i]);
    free(ids);
    free(lens);
    free(docs);
    ur_buf_free(&b);
    if (rc) ur_tdata_free(d);
    return rc;
}

/* Move the last `n` sequences of d into dev (a held-out split). */
int ur_tdata_split(ur_tdata *d, ur_tdata *dev, int n) {
    memset(dev, 0, sizeof *dev);
    if (n <= 0 || n >= d->n) return -1;
    for (int i = d->n - n; i < d->n; i++) {
        ur_tseq *s = push_seq(dev);
        *s = d->seqs[i];
        dev->n_tokens += s->n;
        d->n_tokens -= s->n;
        for (int t = 0; t < s->n; t++) {
            int has = s->tgt[t] >= 0;
            dev->n_targets += has;
            d->n_targets -= has;
        }
    }
    d->n -= n;
    return 0;
}
