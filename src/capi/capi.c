/* The flat C API for bindings (include/urial/capi.h): each function is the library
 * calls the matching command makes, with plain types at the boundary. */
#include "urial/capi.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/chat.h"
#include "urial/generate.h"
#include "urial/model.h"
#include "urial/tds.h"
#include "urial/tokenizer.h"

static void put_err(char *err, int errn, const ur_err *e) {
    if (err && errn > 0) snprintf(err, (size_t)errn, "%s", e->msg[0] ? e->msg : "failed");
}

void *urial_model_load(const char *path, char *err, int errn) {
    ur_err e = {{0}};
    ur_model *m = ur_model_load(path, &e);
    if (!m) put_err(err, errn, &e);
    return m;
}

void urial_model_free(void *model) { ur_model_free(model); }
int urial_n_vocab(const void *model) { return ((const ur_model *)model)->hp.n_vocab; }
void urial_free(void *p) { free(p); }
const char *urial_version(void) { return "urial C API 1"; }

int urial_tokenize(const void *model, const char *text, int add_bos, int special, int32_t *out, int max, char *err,
                   int errn) {
    const ur_model *m = model;
    ur_err e = {{0}};
    int n = ur_tokenize(m->vocab, text, strlen(text), add_bos && ur_vocab_add_bos(m->vocab), special, out, max, &e);
    if (n < 0) put_err(err, errn, &e);
    return n;
}

int urial_logits(const void *model, const int32_t *tokens, int n, int threads, float *out, char *err, int errn) {
    ur_err e = {{0}};
    ur_ctx *c = ur_ctx_new(model, (ur_ctx_params){.n_ctx = n > 0 ? n : 1, .n_threads = threads}, &e);
    int rc = c ? ur_decode(c, tokens, n, out, 1, &e) : -1;
    if (rc) put_err(err, errn, &e);
    ur_ctx_free(c);
    return rc ? -1 : 0;
}

static ur_ctx *default_ctx(const ur_model *m, int n_ctx, int threads, ur_err *e) {
    if (n_ctx <= 0) n_ctx = m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096; /* as the commands */
    return ur_ctx_new(m, (ur_ctx_params){.n_ctx = n_ctx, .n_threads = threads}, e);
}

/* The prompt as a query in URIAL prompt f: text, BOS and special parsing, stops, decoding. */
static int render_query(const ur_chat *f, const char *query, ur_buf *text, ur_err *e) {
    ur_conv conv = {0};
    ur_conv_add(&conv, UR_ROLE_USER, query, strlen(query));
    int rc = ur_chat_render(f, conv.msgs, conv.n, 1, text, e);
    ur_conv_free(&conv);
    return rc;
}

char *urial_generate(const void *model, const char *prompt, const char *urial_prompt, int max_tokens, float temp,
                     int top_k, float top_p, float repeat_penalty, uint64_t seed, int n_ctx, int threads, char *err,
                     int errn) {
    const ur_model *m = model;
    ur_err e = {{0}};
    ur_gen_params gp;
    ur_gen_defaults(&gp);
    gp.max_tokens = max_tokens;
    gp.sampler.temp = temp, gp.sampler.top_k = top_k, gp.sampler.top_p = top_p, gp.sampler.seed = seed;
    gp.sampler.repeat_penalty = repeat_penalty;
    gp.sampler.repeat_last_n = UR_LAST_N_DEFAULT; /* the format's or the model's recorded one, else -1 */
    ur_chat *f = NULL;
    ur_buf text = {0};
    int32_t *ids = NULL;
    char *out = NULL;
    int add_bos = ur_vocab_add_bos(m->vocab), special = 0;
    ur_ctx *c = default_ctx(m, n_ctx, threads, &e);
    if (!c) goto done;
    if (urial_prompt) {
        if (!(f = ur_chat_urial(urial_prompt, &e)) || render_query(f, prompt, &text, &e)) goto done;
        prompt = text.data;
        add_bos &= ur_chat_add_bos(f);
        special = ur_chat_parse_special(f);
        gp.stop = ur_chat_stops(f, &gp.n_stop);
        ur_chat_recorded_decoding(f, m->gguf); /* as the urial commands: the model's recorded decoding */
        ur_chat_decoding(f, &gp.sampler);
    }
    int n = ur_tokenize_alloc(m->vocab, prompt, strlen(prompt), add_bos, special, &ids, &e);
    ur_gen_result res;
    if (n < 0 || ur_generate(c, ids, n, &gp, NULL, NULL, &res, &e)) goto done;
    out = ur_xstrndup(res.text.data ? res.text.data : "", res.text.len);
    ur_buf_free(&res.text);
done:
    if (!out) put_err(err, errn, &e);
    free(ids);
    ur_buf_free(&text);
    ur_chat_free(f);
    ur_ctx_free(c);
    return out;
}

char *urial_render_query(const char *urial_prompt, const char *query, char *err, int errn) {
    ur_err e = {{0}};
    ur_buf text = {0};
    ur_chat *f = ur_chat_urial(urial_prompt, &e);
    char *out = NULL;
    if (f && !render_query(f, query, &text, &e)) out = ur_xstrndup(text.data ? text.data : "", text.len);
    else put_err(err, errn, &e);
    ur_chat_free(f);
    ur_buf_free(&text);
    return out;
}

static json_t *real_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

static json_t *tds_json(const ur_model *bm, const ur_tds_pos *pos, int T) {
    json_t *o = json_object(), *ps = json_array();
    int cnt[3] = {0, 0, 0};
    for (int t = 0; t < T; t++) {
        const ur_tds_pos *p = &pos[t];
        char piece[256];
        int len = ur_token_to_bytes(bm->vocab, p->token, 1, piece, (int)sizeof piece - 1);
        piece[len < 0 ? 0 : len < (int)sizeof piece ? len : (int)sizeof piece - 1] = 0;
        cnt[p->cls]++;
        json_t *r = json_object(), *top = json_array();
        for (int k = 0; k < UR_TDS_TOP; k++) json_array_append_new(top, json_integer(p->top[k]));
        json_object_set_new(r, "pos", json_integer(t));
        json_object_set_new(r, "token", json_integer(p->token));
        json_t *js = json_stringn(piece, len > 0 ? strlen(piece) : 0); /* NULL for bytes that are not UTF-8 */
        json_object_set_new(r, "text", js ? js : json_string(""));
        json_object_set_new(r, "rank", json_integer(p->rank));
        json_object_set_new(r, "class", json_string(ur_tds_class_name(p->cls)));
        json_object_set_new(r, "p_base", real_or_null(p->p_base));
        json_object_set_new(r, "p_align", real_or_null(p->p_align));
        json_object_set_new(r, "kl", real_or_null(p->kl_ab));
        json_object_set_new(r, "base_top", top);
        json_array_append_new(ps, r);
    }
    json_object_set_new(o, "tokens", json_integer(T));
    for (int k = 0; k < 3; k++) json_object_set_new(o, ur_tds_class_name(k), json_integer(cnt[k]));
    json_object_set_new(o, "positions", ps);
    return o;
}

char *urial_tds(const void *base, const void *aligned, const char *prompt_base, const char *prompt_aligned,
                const char *answer, int threads, char *err, int errn) {
    const ur_model *bm = base, *am = aligned;
    ur_err e = {{0}};
    ur_tds_seq b = {0}, a = {0};
    ur_ctx *bc = NULL, *ac = NULL;
    ur_tds_pos *pos = NULL;
    char *out = NULL;
    if (ur_tds_same_vocab(bm, am, &e) ||
        ur_tds_seq_text(bm->vocab, prompt_base, strlen(prompt_base), answer, strlen(answer),
                        ur_vocab_add_bos(bm->vocab), 0, 0, UR_TDS_JOINT, &b, &e) ||
        ur_tds_seq_text(am->vocab, prompt_aligned, strlen(prompt_aligned), answer, strlen(answer),
                        ur_vocab_add_bos(am->vocab), 0, 0, UR_TDS_JOINT, &a, &e))
        goto done;
    const int T = b.n - b.n_context;
    if (T != a.n - a.n_context) {
        ur_errf(&e, "the answer tokenizes differently after the two prompts");
        goto done;
    }
    bc = ur_ctx_new(bm, (ur_ctx_params){.n_ctx = b.n, .n_threads = threads}, &e);
    ac = bc ? ur_ctx_new(am, (ur_ctx_params){.n_ctx = a.n, .n_threads = threads}, &e) : NULL;
    pos = ur_xcalloc((size_t)T + 1, sizeof *pos);
    if (!ac || ur_tds_score(bc, ac, &b, &a, UR_TDS_RANK_ALIGNED, pos, &e)) goto done;
    json_t *o = tds_json(bm, pos, T);
    out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
done:
    if (!out) put_err(err, errn, &e);
    free(pos);
    ur_ctx_free(bc);
    ur_ctx_free(ac);
    ur_tds_seq_free(&b);
    ur_tds_seq_free(&a);
    return out;
}
