/* libFuzzer target for the Jinja interpreter (make fuzz-jinja).
 *
 * The input is a template: it is parsed and, when it parses, rendered with a small
 * conversation and a few variables of every kind. Every outcome must be a text or
 * one error line starting with "line L, column C: "; the bounds (depth, steps,
 * memory) keep hostile templates from hanging or exhausting the process. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JJ_INTERNAL
#include "chat/jinja.h"

#define ASSERT(c)                   \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

static void check_err(const ur_err *e) {
    ASSERT(!strncmp(e->msg, "line ", 5));
    ASSERT(!strchr(e->msg, '\n'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ur_err err = {{0}};
    jj_tmpl *t = jj_parse((const char *)data, size, &err);
    if (!t) {
        check_err(&err);
        return 0;
    }
    jj_ctx *c = jj_ctx_new();
    jv msgs = jj_ctx_list(c);
    static const char *const m[][2] = {{"system", "S"}, {"user", " u\n"}, {"assistant", "a"}, {"user", "q"}};
    for (int i = 0; i < 4; i++) {
        jv d = jj_ctx_dict(c);
        jj_ctx_put(c, d, "role", jj_ctx_str(c, m[i][0], strlen(m[i][0])));
        jj_ctx_put(c, d, "content", jj_ctx_str(c, m[i][1], strlen(m[i][1])));
        jj_ctx_push(c, msgs, d);
    }
    jj_ctx_set(c, "messages", msgs);
    jj_ctx_set(c, "bos_token", jj_ctx_str(c, "<s>", 3));
    jj_ctx_set(c, "add_generation_prompt", jv_bool(1));
    jj_ctx_set(c, "n", jv_int(3));
    jj_ctx_set(c, "f", jv_float(-2.5));
    jj_ctx_set(c, "nothing", jv_none());
    ur_buf out = {0};
    if (jj_render(t, c, &out, &err)) check_err(&err);
    ur_buf_free(&out);
    jj_ctx_free(c);
    jj_free(t);
    return 0;
}
