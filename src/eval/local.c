/* The judge as a local GGUF model on urial's engine: each prompt is rendered with
 * the model's chat template (system message + prompt as the user's turn), or as
 * plain text, and answered greedily (just-eval's temperature 0) with the answer
 * constrained to the request's schema by a token mask (jsonmask.c). The prompts of
 * a run share their template's head, so ur_generate reuses its KV cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"
#include "eval/jsonmask.h"
#include "urial/chat.h"
#include "urial/generate.h"
#include "urial/model.h"

#define MAX_SHAPES 4

typedef struct local_judge {
    ur_judge base;
    ur_model *m;
    ur_ctx *ctx;
    ur_chat *fmt; /* NULL: plain text */
    jm_mask mask;
    int reason_max, ws_max;
    struct {
        ur_judge_schema schema;
        jm_shape shape;
    } shapes[MAX_SHAPES];
    int n_shapes;
} local_judge;

static const jm_shape *shape_for(local_judge *j, const ur_judge_schema *s) {
    for (int i = 0; i < j->n_shapes; i++)
        if (!memcmp(&j->shapes[i].schema, s, sizeof *s)) return &j->shapes[i].shape;
    if (j->n_shapes == MAX_SHAPES) jm_shape_free(&j->shapes[--j->n_shapes].shape);
    j->shapes[j->n_shapes].schema = *s;
    jm_shape_init(&j->shapes[j->n_shapes].shape, &j->shapes[j->n_shapes].schema, j->reason_max, j->ws_max);
    return &j->shapes[j->n_shapes++].shape;
}

/* The text the model sees for a judge prompt. */
static int render(local_judge *j, const char *prompt, ur_buf *out, ur_err *err) {
    if (!j->fmt) {
        ur_buf_printf(out, "%s\n\n%s\n", UR_JUDGE_SYSTEM, prompt);
        return 0;
    }
    ur_conv c = {0};
    ur_conv_add(&c, UR_ROLE_SYSTEM, UR_JUDGE_SYSTEM, strlen(UR_JUDGE_SYSTEM));
    ur_conv_add(&c, UR_ROLE_USER, prompt, strlen(prompt));
    int rc = ur_chat_render(j->fmt, c.msgs, c.n, 1, out, NULL);
    if (rc) { /* a template without a system role: the system text opens the user's turn */
        ur_conv_free(&c);
        ur_buf u = {0};
        ur_buf_printf(&u, "%s\n\n%s", UR_JUDGE_SYSTEM, prompt);
        ur_conv_add(&c, UR_ROLE_USER, u.data, u.len);
        ur_buf_free(&u);
        out->len = 0;
        rc = ur_chat_render(j->fmt, c.msgs, c.n, 1, out, err);
    }
    ur_conv_free(&c);
    return rc;
}

static int tokenize(local_judge *j, const char *text, size_t len, int32_t **ids, ur_err *err) {
    const ur_vocab *v = j->m->vocab;
    int add_bos = (!j->fmt || ur_chat_add_bos(j->fmt)) && ur_vocab_add_bos(v);
    int special = j->fmt ? ur_chat_parse_special(j->fmt) : 0;
    return ur_tokenize_alloc(v, text, len, add_bos, special, ids, err);
}

/* Stop as soon as the answer is complete (no need to wait for an end token). */
static int stop_when_complete(void *user, const char *text, size_t len) {
    (void)text, (void)len;
    jm_mask *m = user;
    return jm_complete(m->shape, &m->st);
}

static int local_run(ur_judge *base, ur_judge_next_fn next, ur_judge_done_fn done, void *user, ur_err *err) {
    local_judge *j = (local_judge *)base;
    long tag;
    const char *prompt;
    const ur_judge_schema *schema;
    while (next(user, &tag, &prompt, &schema) == 1) {
        j->base.stats.requests++;
        const jm_shape *sh = shape_for(j, schema);
        ur_buf text = {0};
        int32_t *ids = NULL;
        int n = render(j, prompt, &text, err) ? -1 : tokenize(j, text.data, text.len, &ids, err);
        ur_buf_free(&text);
        if (n < 0) {
            free(ids);
            return -1;
        }
        char why[256];
        int need = n + (int)sh->max_bytes + 2;
        if (need > ur_ctx_n_ctx(j->ctx)) {
            free(ids);
            snprintf(why, sizeof why, "%s: the prompt has %d tokens and the answer may take %zu: more than the "
                     "context of %d (--ctx)", j->m->gguf->path, n, sh->max_bytes, ur_ctx_n_ctx(j->ctx));
            if (done(user, tag, NULL, 0, why, err)) return -1;
            continue;
        }
        ur_gen_params gp;
        ur_gen_defaults(&gp);
        gp.max_tokens = (int)sh->max_bytes + 1; /* every allowed token spells at least one byte */
        gp.mask = &j->mask.hook;
        jm_mask_start(&j->mask, sh);
        ur_gen_result res;
        int rc = ur_generate(j->ctx, ids, n, &gp, stop_when_complete, &j->mask, &res, err);
        free(ids);
        if (rc) {
            ur_buf_free(&res.text);
            return -1;
        }
        if (done(user, tag, res.text.data ? res.text.data : "", res.text.len, NULL, err)) {
            ur_buf_free(&res.text);
            return -1;
        }
        ur_buf_free(&res.text);
    }
    return 0;
}

static void local_destroy(ur_judge *base) {
    local_judge *j = (local_judge *)base;
    for (int i = 0; i < j->n_shapes; i++) jm_shape_free(&j->shapes[i].shape);
    jm_mask_free(&j->mask);
    ur_chat_free(j->fmt);
    ur_ctx_free(j->ctx);
    ur_model_free(j->m);
}

ur_judge *ur_judge_local_new(const ur_judge_local_params *p, ur_err *err) {
    ur_model *m = ur_model_load(p->model_path, err);
    if (!m) return NULL;
    local_judge *j = ur_xcalloc(1, sizeof *j);
    j->m = m;
    j->base.run = local_run;
    j->base.destroy = local_destroy;
    j->reason_max = p->reason_max > 0 ? p->reason_max : 400;
    j->ws_max = p->ws_max;
    const char *b = strrchr(p->model_path, '/');
    b = b ? b + 1 : p->model_path;
    size_t bl = strlen(b);
    j->base.model = ur_xstrndup(b, bl > 5 && !strcmp(b + bl - 5, ".gguf") ? bl - 5 : bl);
    const char *t = p->chat_template ? p->chat_template : "auto";
    ur_buf note = {0};
    if (!strcmp(t, "auto")) {
        j->fmt = ur_chat_template_auto(m->gguf, NULL);
        if (j->fmt) ur_buf_printf(&note, "%s: judging with chat template %s", p->model_path, ur_chat_name(j->fmt));
        else
            ur_buf_printf(&note, "%s: no chat template recognised in the model: the judge prompt is given as plain "
                                 "text (--judge-template NAME to choose one)", p->model_path);
    } else if (strcmp(t, "raw") && !(j->fmt = ur_chat_template(t, err))) {
        ur_judge_free(&j->base);
        return NULL;
    }
    j->base.note = note.data;
    int n_ctx = p->n_ctx > 0 ? p->n_ctx : m->hp.n_ctx_train < 8192 ? m->hp.n_ctx_train : 8192;
    ur_ctx_params cp = {.n_ctx = n_ctx, .n_threads = p->n_threads};
    if (!(j->ctx = ur_ctx_new(m, cp, err))) {
        ur_judge_free(&j->base);
        return NULL;
    }
    jm_mask_init(&j->mask, m->vocab);
    return &j->base;
}
