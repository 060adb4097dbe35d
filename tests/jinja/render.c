/* urial's Jinja interpreter (src/chat/jinja*.c) over the cases tests/jinja/prepare.mjs
 * writes: the same JSON as the Hugging Face renderings it writes beside them, for
 * tests/jinja/compare.mjs to compare byte for byte (tests/cli/test_chat_ref.sh).
 *   build/tests/jinja_render CASES.json  ->  [text | {"error": message}, ...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define JJ_INTERNAL
#include "chat/jinja.h"

static jv from_json(jj_ctx *c, json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jv d = jj_ctx_dict(c);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) jj_ctx_put(c, d, k, from_json(c, v));
        return d;
    }
    case JSON_ARRAY: {
        jv l = jj_ctx_list(c);
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) jj_ctx_push(c, l, from_json(c, v));
        return l;
    }
    case JSON_STRING: return jj_ctx_str(c, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return jv_int(json_integer_value(j));
    case JSON_REAL: return jv_float(json_real_value(j));
    case JSON_TRUE: return jv_bool(1);
    case JSON_FALSE: return jv_bool(0);
    default: return jv_none();
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: jinja_render CASES.json\n");
        return 2;
    }
    json_error_t je;
    json_t *cases = json_load_file(argv[1], JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!json_is_array(cases)) {
        fprintf(stderr, "jinja_render: %s: %s\n", argv[1], je.text);
        return 2;
    }
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        ur_err err = {{0}};
        json_t *t = json_object_get(c, "template");
        jj_tmpl *tm = jj_parse(json_string_value(t), json_string_length(t), &err);
        ur_buf b = {0};
        ur_buf_put(&b, "", 0);
        int rc = -1;
        if (tm) {
            jj_ctx *ctx = jj_ctx_new();
            jj_ctx_set(ctx, "messages", from_json(ctx, json_object_get(c, "messages")));
            jj_ctx_set(ctx, "add_generation_prompt", jv_bool(json_is_true(json_object_get(c, "add_generation_prompt"))));
            const char *k;
            json_t *v;
            json_t *vars = json_object_get(c, "vars");
            if (vars) json_object_foreach(vars, k, v) jj_ctx_set(ctx, k, from_json(ctx, v));
            static const char *const toks[] = {"bos_token", "eos_token"};
            for (int n = 0; n < 2; n++)
                if (json_is_string(json_object_get(c, toks[n]))) jj_ctx_set(ctx, toks[n], from_json(ctx, json_object_get(c, toks[n])));
            rc = jj_render(tm, ctx, &b, &err);
            jj_ctx_free(ctx);
            jj_free(tm);
        }
        if (rc) json_array_append_new(out, json_pack("{s:s}", "error", err.msg));
        else json_array_append_new(out, json_stringn(b.data, b.len));
        ur_buf_free(&b);
    }
    char *s = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
    fputs(s, stdout);
    free(s);
    json_decref(out);
    json_decref(cases);
    return 0;
}
