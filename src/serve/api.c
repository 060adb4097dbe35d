/* The OpenAI API's JSON: requests checked and turned into jobs, and the responses
 * (completion objects, stream chunks, errors, the model list) written from jobs.
 *
 * Requests follow OpenAI's chat-completions and (legacy) completions APIs, with
 * vLLM's extensions repetition_penalty, top_k, min_p and return_tokens_as_token_ids, and
 * urial's repeat_last_n (the penalty's window: -1 = the whole context, as vLLM).
 * Decoding defaults: chat completions decode as `urial chat` does (greedy; with a
 * URIAL prompt the Hugging Face repetition penalty 1.1, the URIAL paper's setting),
 * completions as OpenAI's (temperature 1, max_tokens 16, no penalty). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_int.h"
#include "urial/tds.h"
#include "urial/tokenizer.h"

int srv_fail(srv_error *e, int status, const char *type, const char *code, const char *param, const char *fmt, ...) {
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    ur_one_line(e->msg); /* a field or parser message quoted from the body may hold a newline */
    return -1;
}

void srv_error_json(const srv_error *e, ur_buf *out) {
    ur_buf_puts(out, "{\"error\":{\"message\":");
    ur_buf_json_str(out, e->msg, strlen(e->msg));
    ur_buf_printf(out, ",\"type\":\"%s\",\"param\":", e->type);
    if (e->param[0]) ur_buf_json_str(out, e->param, strlen(e->param));
    else ur_buf_puts(out, "null");
    ur_buf_puts(out, ",\"code\":");
    if (e->code) ur_buf_printf(out, "\"%s\"", e->code);
    else ur_buf_puts(out, "null");
    ur_buf_puts(out, "}}");
}

void srv_req_free(srv_req *r) {
    free(r->echo_text);
    memset(r, 0, sizeof *r);
}

/* ---- reading fields ----------------------------------------------------------------- */
#define BAD(e, key, ...) srv_fail(e, 400, "invalid_request_error", NULL, key, __VA_ARGS__)

/* Each getter leaves *out alone when the field is absent or null. */
static int get_bool(json_t *o, const char *k, int *out, srv_error *e) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return BAD(e, k, "'%s' must be true or false", k);
    *out = json_is_true(v);
    return 0;
}

static int get_int(json_t *o, const char *k, long lo, long hi, long *out, srv_error *e) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : NAN;
    if (isnan(d) || d != floor(d)) return BAD(e, k, "'%s' must be an integer", k);
    if (d < (double)lo || d > (double)hi) return BAD(e, k, "'%s' must be between %ld and %ld", k, lo, hi);
    *out = (long)d;
    return 0;
}

static int get_num(json_t *o, const char *k, double lo, double hi, double *out, srv_error *e) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return BAD(e, k, "'%s' must be a number", k);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) return BAD(e, k, "'%s' must be between %g and %g", k, lo, hi);
    *out = d;
    return 0;
}

/* A message's content: a string, or an array of {"type": "text", "text": ...} parts. */
static int content_text(json_t *c, int i, ur_buf *out, srv_error *e) {
    char key[48];
    snprintf(key, sizeof key, "messages[%d].content", i);
    if (json_is_string(c)) {
        ur_buf_put(out, json_string_value(c), json_string_length(c));
        return 0;
    }
    if (json_is_null(c)) return 0;
    if (!json_is_array(c)) return BAD(e, key, "'%s' must be a string or an array of text parts", key);
    size_t k;
    json_t *part;
    json_array_foreach(c, k, part) {
        json_t *t = json_object_get(part, "text");
        const char *type = json_string_value(json_object_get(part, "type"));
        if (!type || strcmp(type, "text") || !json_is_string(t))
            return BAD(e, key, "'%s' part %zu is not {\"type\": \"text\", \"text\": ...} (only text is supported)", key, k);
        ur_buf_put(out, json_string_value(t), json_string_length(t));
    }
    return 0;
}

/* messages -> the prompt text of the server's chat format */
static int render_messages(const srv_api *a, json_t *msgs, ur_buf *text, srv_error *e) {
    if (!json_is_array(msgs) || !json_array_size(msgs))
        return BAD(e, "messages", "'messages' must be a non-empty array of {\"role\", \"content\"} objects");
    ur_conv conv = {0};
    size_t i;
    json_t *m;
    int rc = 0;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        char key[40];
        snprintf(key, sizeof key, "messages[%zu].role", i);
        if (!json_is_object(m) || !role) {
            rc = BAD(e, key, "messages[%zu] must be an object with a string 'role'", i);
            break;
        }
        int r = !strcmp(role, "developer") ? UR_ROLE_SYSTEM : ur_role_from_name(role);
        if (r < 0) {
            rc = BAD(e, key, "messages[%zu]: role '%.40s' is not system, developer, user or assistant", i, role);
            break;
        }
        /* a URIAL prompt is the system prompt: a client's own system message is left out */
        if (r == UR_ROLE_SYSTEM && ur_chat_kind(a->fmt) == UR_CHAT_URIAL) continue;
        ur_buf c = {0};
        if (content_text(json_object_get(m, "content"), (int)i, &c, e)) {
            ur_buf_free(&c);
            rc = -1;
            break;
        }
        ur_conv_add(&conv, r, c.data ? c.data : "", c.len);
        ur_buf_free(&c);
    }
    if (!rc && (!conv.n || conv.msgs[conv.n - 1].role != UR_ROLE_USER))
        rc = BAD(e, "messages", "the last message must be the user's");
    ur_err err = {{0}};
    if (!rc && ur_chat_render(a->fmt, conv.msgs, conv.n, 1, text, &err)) rc = BAD(e, "messages", "%s", err.msg);
    ur_conv_free(&conv);
    return rc;
}

static int tokenize(const ur_vocab *v, const char *s, size_t n, int add_bos, int special, int32_t **out, srv_error *e) {
    ur_err err = {{0}};
    int k = ur_tokenize_alloc(v, s, n, add_bos, special, out, &err);
    if (k < 0) return srv_fail(e, 400, "invalid_request_error", NULL, NULL, "%s", err.msg);
    return k;
}

/* A completions prompt: a string, [string], [ids] or [[ids]] (one prompt). Text is
 * tokenized as vLLM does: special tokens parsed, BOS added (unless the text already
 * starts with it); ids are used as given. */
static int completion_prompt(const srv_api *a, json_t *p, srv_req *r, int32_t **toks, srv_error *e) {
    const ur_vocab *v = a->m->vocab;
    if (json_is_array(p) && json_array_size(p) == 1 && (json_is_string(json_array_get(p, 0)) || json_is_array(json_array_get(p, 0))))
        p = json_array_get(p, 0);
    if (json_is_string(p)) {
        const char *s = json_string_value(p);
        size_t n = json_string_length(p);
        char bos[32];
        int32_t b = ur_vocab_bos(v);
        int bl = b >= 0 ? ur_token_to_bytes(v, b, 1, bos, sizeof bos) : 0;
        int spelled = bl > 0 && bl <= (int)sizeof bos && n >= (size_t)bl && !memcmp(s, bos, (size_t)bl);
        r->echo_text = ur_xstrndup(s, n);
        return tokenize(v, s, n, !spelled && ur_vocab_add_bos(v), 1, toks, e);
    }
    if (json_is_array(p) && json_array_size(p) > 0 && json_is_integer(json_array_get(p, 0))) {
        size_t n = json_array_size(p);
        *toks = ur_xmalloc(sizeof(int32_t) * n);
        for (size_t i = 0; i < n; i++) {
            json_t *t = json_array_get(p, i);
            if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= ur_vocab_size(v)) {
                free(*toks);
                *toks = NULL;
                return BAD(e, "prompt", "'prompt' token %zu is not a token id in [0, %d)", i, ur_vocab_size(v));
            }
            (*toks)[i] = (int32_t)json_integer_value(t);
        }
        int len = ur_detokenize(v, *toks, (int)n, 0, NULL, 0);
        if (len < 0) len = 0;
        r->echo_text = ur_xmalloc((size_t)len + 1);
        ur_detokenize(v, *toks, (int)n, 0, r->echo_text, len + 1);
        return (int)n;
    }
    if (json_is_array(p) && json_array_size(p) > 1)
        return BAD(e, "prompt", "one prompt per request: 'prompt' has %zu (send them as separate requests)",
                   json_array_size(p));
    return BAD(e, "prompt", "'prompt' must be a string or an array of token ids");
}

static int add_stops(json_t *o, ur_engine_job *j, srv_error *e) {
    json_t *s = json_object_get(o, "stop");
    if (!s || json_is_null(s)) return 0;
    json_t *one[1] = {s};
    size_t n = json_is_array(s) ? json_array_size(s) : 1;
    if (n > UR_ENGINE_MAX_STOPS) return BAD(e, "stop", "'stop' has %zu strings, at most %d", n, UR_ENGINE_MAX_STOPS);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_is_array(s) ? json_array_get(s, i) : one[0];
        if (!json_is_string(t) || !json_string_length(t) || json_string_length(t) > 256)
            return BAD(e, "stop", "'stop' must be a string or an array of strings of 1 to 256 bytes");
        j->stops[j->n_stops++] = ur_xstrndup(json_string_value(t), json_string_length(t));
    }
    return 0;
}

static uint64_t next_random(void) {
    static _Atomic uint64_t ctr;
    uint64_t z = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull + atomic_fetch_add(&ctr, 0x632BE59BD9B4E019ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A "model" other than the served one is a 404, as OpenAI and vLLM answer (absent or null: this one). */
static int wrong_model(const srv_api *a, json_t *o, srv_error *e) {
    json_t *m = json_object_get(o, "model");
    if (!m || json_is_null(m)) return 0;
    if (!json_is_string(m)) return BAD(e, "model", "'model' must be a string");
    if (!strcmp(json_string_value(m), a->model_name)) return 0;
    return srv_fail(e, 404, "invalid_request_error", "model_not_found", "model",
                    "The model `%.200s` does not exist (this server serves `%.200s`)", json_string_value(m), a->model_name);
}

int srv_parse_request(const srv_api *a, int chat, const char *body, size_t len, srv_req *r, ur_engine_job **out, srv_error *e) {
    memset(r, 0, sizeof *r);
    *out = NULL;
    json_error_t je;
    json_t *o = json_loadb(body, len, 0, &je);
    if (!o) return BAD(e, NULL, "the body is not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    if (!json_is_object(o)) {
        json_decref(o);
        return BAD(e, NULL, "the body must be a JSON object");
    }
    if (wrong_model(a, o, e)) {
        json_decref(o);
        return -1;
    }
    ur_engine_job *j = ur_engine_job_new();
    r->chat = j->chat = chat;
    r->created = (long)time(NULL);
    snprintf(r->id, sizeof r->id, "%s-%016llx", chat ? "chatcmpl" : "cmpl", (unsigned long long)next_random());
    long max_tokens = chat ? a->max_tokens : 16, n = 1, seed = -1, top_k = -1, k_lp = -1, last_n = -1;
    double temp = chat ? 0 : 1, top_p = 1, min_p = 0, freq = 0, pres = 0, rp = -1;
    int lp = 0, rc = -1;
    json_t *mt = json_object_get(o, "max_completion_tokens");
    const char *mt_key = mt && !json_is_null(mt) ? "max_completion_tokens" : "max_tokens";
    json_t *so = json_object_get(o, "stream_options");
    if (get_int(o, mt_key, 0, 1L << 30, &max_tokens, e) || get_int(o, "n", 1, 1 << 20, &n, e) ||
        get_int(o, "seed", -(1L << 62), 1L << 62, &seed, e) || get_int(o, "top_k", -1, 1 << 30, &top_k, e) ||
        get_int(o, "repeat_last_n", -1, 1 << 30, &last_n, e) ||
        get_num(o, "temperature", 0, 2, &temp, e) || get_num(o, "top_p", 0, 1, &top_p, e) ||
        get_num(o, "min_p", 0, 1, &min_p, e) || get_num(o, "frequency_penalty", -2, 2, &freq, e) ||
        get_num(o, "presence_penalty", -2, 2, &pres, e) || get_num(o, "repetition_penalty", 0.01, 100, &rp, e) ||
        get_bool(o, "stream", &r->stream, e) || get_bool(o, "echo", &r->echo, e) ||
        get_bool(o, "return_tokens_as_token_ids", &r->token_ids, e) || add_stops(o, j, e))
        goto out;
    if (so && !json_is_null(so) && (!json_is_object(so) || get_bool(so, "include_usage", &r->include_usage, e))) {
        if (!json_is_object(so)) BAD(e, "stream_options", "'stream_options' must be an object");
        goto out;
    }
    if (n != 1) {
        BAD(e, "n", "'n' must be 1 (one answer per request)");
        goto out;
    }
    if (chat) {
        if (get_bool(o, "logprobs", &lp, e) || get_int(o, "top_logprobs", 0, UR_ENGINE_MAX_LOGPROBS, &k_lp, e)) goto out;
        if (k_lp >= 0 && !lp) {
            BAD(e, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
            goto out;
        }
        if (lp && k_lp < 0) k_lp = 0;
    } else if (get_int(o, "logprobs", 0, UR_ENGINE_MAX_LOGPROBS, &k_lp, e)) {
        goto out;
    }
    if (k_lp >= 0 && r->stream) {
        BAD(e, "logprobs", "logprobs are not available when streaming (use \"stream\": false)");
        goto out;
    }
    r->top_logprobs = (int)k_lp;
    j->logprobs = (int)k_lp;

    /* the prompt */
    const ur_vocab *v = a->m->vocab;
    int np;
    if (chat) {
        ur_buf text = {0};
        if (render_messages(a, json_object_get(o, "messages"), &text, e)) {
            ur_buf_free(&text);
            goto out;
        }
        np = tokenize(v, text.data, text.len, ur_chat_add_bos(a->fmt) && ur_vocab_add_bos(v), ur_chat_parse_special(a->fmt),
                      &j->prompt, e);
        ur_buf_free(&text);
    } else {
        json_t *p = json_object_get(o, "prompt");
        if (!p) {
            BAD(e, "prompt", "'prompt' is required");
            goto out;
        }
        np = completion_prompt(a, p, r, &j->prompt, e);
    }
    if (np < 0) goto out;
    j->n_prompt = np;
    if (np == 0) {
        BAD(e, "prompt", "the prompt is empty");
        goto out;
    }
    if (np >= a->n_ctx) {
        srv_fail(e, 400, "invalid_request_error", "context_length_exceeded", chat ? "messages" : "prompt",
                 "This model's maximum context length is %d tokens, but the prompt has %d%s tokens", a->n_ctx, np,
                 np > a->n_ctx ? " or more" : "");
        goto out;
    }
    j->prompt_logprobs = !chat && r->echo && k_lp >= 0;

    /* decoding */
    ur_gen_params *gp = &j->gp;
    gp->max_tokens = (int)(max_tokens < a->max_tokens ? max_tokens : a->max_tokens);
    ur_sampler_params *sp = &gp->sampler;
    sp->temp = (float)temp;
    sp->top_p = (float)top_p;
    sp->min_p = (float)min_p;
    sp->top_k = top_k > 0 ? (int)top_k : 0;
    sp->repeat_penalty = rp > 0 ? (float)rp : UR_PENALTY_DEFAULT;
    if (chat) ur_chat_decoding(a->fmt, sp);
    sp->repeat_last_n = (int)last_n;
    sp->seed = seed >= 0 ? (uint64_t)seed : next_random();
    j->freq_pen = (float)freq;
    j->pres_pen = (float)pres;
    if (chat) { /* the format's stop strings first */
        int nfs;
        const char *const *fs = ur_chat_stops(a->fmt, &nfs);
        for (int i = 0; i < nfs && j->n_stops < UR_ENGINE_MAX_STOPS + 4; i++) j->stops[j->n_stops++] = ur_xstrdup(fs[i]);
    }
    gp->stop = (const char *const *)j->stops;
    gp->n_stop = j->n_stops;
    rc = 0;
out:
    json_decref(o);
    if (rc) {
        ur_engine_job_release(NULL, j);
        srv_req_free(r);
    } else {
        *out = j;
    }
    return rc;
}

/* ---- responses ------------------------------------------------------------------------ */
const char *srv_finish_reason(const ur_engine_job *j) {
    switch (j->stop_reason) {
    case UR_STOP_EOG:
    case UR_STOP_STRING: return "stop";
    case UR_STOP_CANCEL: return "cancelled";
    default: return "length"; /* max_tokens, or the context is full */
    }
}

static void put_num(ur_buf *b, double x) {
    if (!isfinite(x)) x = x < 0 ? -9999.0 : 0.0;
    ur_buf_printf(b, "%.9g", x);
}

/* A token as the API shows it: its text (bytes that are valid UTF-8, else its piece,
 * e.g. "<0xE2>"), or "token_id:ID" (vLLM's return_tokens_as_token_ids). */
static void token_str(const srv_api *a, const srv_req *r, int32_t id, ur_buf *out) {
    ur_buf t = {0};
    if (r->token_ids) ur_buf_printf(&t, "token_id:%d", id);
    else ur_tds_token_text(a->m->vocab, id, &t);
    ur_buf_json_str(out, t.data ? t.data : "", t.len);
    ur_buf_free(&t);
}

/* {"tok": lp, ...}: the top k and the token itself, each text once */
static void top_dict(const srv_api *a, const srv_req *r, const ur_engine_lp *lp, ur_buf *out) {
    ur_buf_puts(out, "{");
    int n = 0, self = 0;
    for (int i = 0; i <= lp->k; i++) {
        int32_t id = i < lp->k ? lp->top[i] : lp->token;
        float v = i < lp->k ? lp->top_lp[i] : lp->lp;
        if (i == lp->k && self) break;
        if (id == lp->token) self = 1;
        int dup = 0; /* two tokens with the same text: the first (more likely) one stays */
        if (!r->token_ids) {
            ur_buf ti = {0}, tj = {0};
            ur_tds_token_text(a->m->vocab, id, &ti);
            for (int k = 0; k < i && !dup; k++) {
                tj.len = 0;
                ur_tds_token_text(a->m->vocab, lp->top[k], &tj);
                dup = ti.len == tj.len && (!ti.len || !memcmp(ti.data, tj.data, ti.len));
            }
            ur_buf_free(&ti), ur_buf_free(&tj);
        }
        if (dup) continue;
        if (n++) ur_buf_puts(out, ",");
        token_str(a, r, id, out);
        ur_buf_puts(out, ":");
        put_num(out, v);
    }
    ur_buf_puts(out, "}");
}

/* The completions API's logprobs object: the prompt's tokens first with echo. */
static void completion_logprobs(const srv_api *a, const srv_req *r, const ur_engine_job *j, ur_buf *out) {
    ur_buf toks = {0}, lps = {0}, tops = {0}, offs = {0}, text = {0};
    int n = 0;
    if (j->prompt_logprobs && j->prompt_lp) {
        /* a token's offset: the length of the prompt's text before it, detokenized as
         * the echoed text is (SentencePiece's leading space of the first word dropped) */
        ur_detok d;
        ur_detok_init(&d, a->m->vocab, 0, 1);
        for (int i = 0; i < j->n_prompt; i++, n++) {
            const char *sep = n ? "," : "";
            ur_buf_puts(&toks, sep), ur_buf_puts(&lps, sep), ur_buf_puts(&tops, sep);
            token_str(a, r, j->prompt[i], &toks);
            if (i == 0) {
                ur_buf_puts(&lps, "null"), ur_buf_puts(&tops, "null");
            } else {
                put_num(&lps, j->prompt_lp[i].lp);
                top_dict(a, r, &j->prompt_lp[i], &tops);
            }
            ur_buf_printf(&offs, "%s%zu", sep, text.len);
            ur_detok_push(&d, j->prompt[i], &text);
        }
    }
    size_t base = r->echo && r->echo_text ? strlen(r->echo_text) : 0;
    for (int i = 0; i < j->n_gen_lp; i++, n++) {
        const char *sep = n ? "," : "";
        ur_buf_puts(&toks, sep), ur_buf_puts(&lps, sep), ur_buf_puts(&tops, sep);
        token_str(a, r, j->gen_lp[i].token, &toks);
        put_num(&lps, j->gen_lp[i].lp);
        top_dict(a, r, &j->gen_lp[i], &tops);
        ur_buf_printf(&offs, "%s%zu", sep, base + j->gen_lp[i].offset);
    }
    ur_buf_puts(out, "{\"tokens\":[");
    ur_buf_put(out, toks.data ? toks.data : "", toks.len);
    ur_buf_puts(out, "],\"token_logprobs\":[");
    ur_buf_put(out, lps.data ? lps.data : "", lps.len);
    ur_buf_puts(out, "],\"top_logprobs\":[");
    ur_buf_put(out, tops.data ? tops.data : "", tops.len);
    ur_buf_puts(out, "],\"text_offset\":[");
    ur_buf_put(out, offs.data ? offs.data : "", offs.len);
    ur_buf_puts(out, "]}");
    ur_buf_free(&toks), ur_buf_free(&lps), ur_buf_free(&tops), ur_buf_free(&offs), ur_buf_free(&text);
}

/* The chat API's logprobs object: {"content": [{"token", "logprob", "bytes", "top_logprobs"}]} */
static void token_entry(const srv_api *a, const srv_req *r, int32_t id, float lp, ur_buf *out) {
    ur_buf_puts(out, "{\"token\":");
    token_str(a, r, id, out);
    ur_buf_puts(out, ",\"logprob\":");
    put_num(out, lp);
    ur_buf_puts(out, ",\"bytes\":[");
    char tb[256];
    int tl = ur_token_to_bytes(a->m->vocab, id, 1, tb, sizeof tb);
    for (int i = 0; i < tl && i < (int)sizeof tb; i++) ur_buf_printf(out, "%s%d", i ? "," : "", (unsigned char)tb[i]);
    ur_buf_puts(out, "]");
}

static void chat_logprobs(const srv_api *a, const srv_req *r, const ur_engine_job *j, ur_buf *out) {
    ur_buf_puts(out, "{\"content\":[");
    for (int i = 0; i < j->n_gen_lp; i++) {
        const ur_engine_lp *lp = &j->gen_lp[i];
        if (i) ur_buf_puts(out, ",");
        token_entry(a, r, lp->token, lp->lp, out);
        ur_buf_puts(out, ",\"top_logprobs\":[");
        for (int k = 0; k < lp->k; k++) {
            if (k) ur_buf_puts(out, ",");
            token_entry(a, r, lp->top[k], lp->top_lp[k], out);
            ur_buf_puts(out, "}");
        }
        ur_buf_puts(out, "]}");
    }
    ur_buf_puts(out, "]}");
}

static void usage_json(const ur_engine_job *j, ur_buf *out) {
    ur_buf_printf(out,
                  "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d,"
                  "\"prompt_tokens_details\":{\"cached_tokens\":%d}}",
                  j->n_prompt, j->n_gen, j->n_prompt + j->n_gen, j->n_cached);
}

static void head_json(const srv_api *a, const srv_req *r, const char *object, ur_buf *out) {
    ur_buf_printf(out, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":", r->id, object, r->created);
    ur_buf_json_str(out, a->model_name, strlen(a->model_name));
}

void srv_response_json(const srv_api *a, const srv_req *r, const ur_engine_job *j, ur_buf *out) {
    const char *text = j->text.data ? j->text.data : "";
    head_json(a, r, r->chat ? "chat.completion" : "text_completion", out);
    ur_buf_puts(out, ",\"choices\":[{\"index\":0,");
    if (r->chat) {
        ur_buf clean = {0};
        ur_chat_clean(a->fmt, text, j->text.len, &clean);
        ur_buf_puts(out, "\"message\":{\"role\":\"assistant\",\"content\":");
        ur_buf_json_str(out, clean.data ? clean.data : "", clean.len);
        ur_buf_puts(out, "},\"logprobs\":");
        ur_buf_free(&clean);
        if (r->top_logprobs >= 0) chat_logprobs(a, r, j, out);
        else ur_buf_puts(out, "null");
    } else {
        ur_buf t = {0};
        if (r->echo && r->echo_text) ur_buf_puts(&t, r->echo_text);
        ur_buf_put(&t, text, j->text.len);
        ur_buf_puts(out, "\"text\":");
        ur_buf_json_str(out, t.data ? t.data : "", t.len);
        ur_buf_free(&t);
        ur_buf_puts(out, ",\"logprobs\":");
        if (r->top_logprobs >= 0) completion_logprobs(a, r, j, out);
        else ur_buf_puts(out, "null");
    }
    ur_buf_printf(out, ",\"finish_reason\":\"%s\"}],\"usage\":", srv_finish_reason(j));
    usage_json(j, out);
    ur_buf_puts(out, "}");
}

void srv_chunk_json(const srv_api *a, const srv_req *r, const char *delta, size_t len, int first, ur_buf *out) {
    ur_buf_puts(out, "data: ");
    head_json(a, r, r->chat ? "chat.completion.chunk" : "text_completion", out);
    if (r->chat) {
        ur_buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":{");
        if (first) ur_buf_puts(out, "\"role\":\"assistant\",");
        ur_buf_puts(out, "\"content\":");
        ur_buf_json_str(out, delta, len);
        ur_buf_puts(out, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    } else {
        ur_buf_puts(out, ",\"choices\":[{\"index\":0,\"text\":");
        ur_buf_json_str(out, delta, len);
        ur_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    }
}

void srv_chunk_final(const srv_api *a, const srv_req *r, const ur_engine_job *j, ur_buf *out) {
    ur_buf_puts(out, "data: ");
    head_json(a, r, r->chat ? "chat.completion.chunk" : "text_completion", out);
    if (r->chat) ur_buf_puts(out, ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null");
    else ur_buf_puts(out, ",\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null");
    ur_buf_printf(out, ",\"finish_reason\":\"%s\"}]}\n\n", srv_finish_reason(j));
    if (r->include_usage) {
        ur_buf_puts(out, "data: ");
        head_json(a, r, r->chat ? "chat.completion.chunk" : "text_completion", out);
        ur_buf_puts(out, ",\"choices\":[],\"usage\":");
        usage_json(j, out);
        ur_buf_puts(out, "}\n\n");
    }
    ur_buf_puts(out, "data: [DONE]\n\n");
}

void srv_models_json(const srv_api *a, ur_buf *out) {
    const ur_model *m = a->m;
    int urial = ur_chat_kind(a->fmt) == UR_CHAT_URIAL;
    ur_buf_puts(out, "{\"object\":\"list\",\"data\":[{\"id\":");
    ur_buf_json_str(out, a->model_name, strlen(a->model_name));
    ur_buf_printf(out, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"urial\",\"max_model_len\":%d,\"meta\":{",
                  a->created, a->n_ctx);
    ur_buf_printf(out, "\"mode\":\"%s\",\"format\":", urial ? "urial" : "template");
    const char *fn = ur_chat_name(a->fmt), *slash = strrchr(fn, '/');
    ur_buf_json_str(out, slash ? slash + 1 : fn, strlen(slash ? slash + 1 : fn));
    ur_buf_printf(out, ",\"arch\":\"%s\",\"n_params\":%llu,\"n_ctx\":%d,\"n_vocab\":%d,\"max_tokens\":%d}}]}",
                  ur_arch_name(m->hp.arch), (unsigned long long)m->n_params, a->n_ctx, m->hp.n_vocab, a->max_tokens);
}
