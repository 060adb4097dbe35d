/* The Jinja interpreter (src/chat/jinja*.c): lexer, parser and evaluator semantics as
 * @huggingface/jinja has them, errors with their positions, raise_exception, the
 * bounds that keep hostile templates harmless, a model's template as a chat format
 * (stops, BOS, prefix) and the built-in templates against their reference Jinja
 * (tests/jinja/builtin). tests/cli/test_chat_ref.sh checks the same against Hugging
 * Face's renderer itself; these run without node. */
#include <stdint.h>

#include "harness.h"
#define JJ_INTERNAL
#include "chat/jinja.h"
#include "urial/chat.h"

/* Render `tmpl` with messages [system "Sys", user " Hi ", assistant "Yo", user "Q?"],
 * bos "<s>", eos "</s>", add_generation_prompt true and a few variables. Returns the
 * text (malloc'ed) or NULL with err set. */
static char *R(const char *tmpl, ur_err *err) {
    jj_tmpl *t = jj_parse(tmpl, strlen(tmpl), err);
    if (!t) return NULL;
    jj_ctx *c = jj_ctx_new();
    static const char *const msgs[][2] = {{"system", "Sys"}, {"user", " Hi "}, {"assistant", "Yo"}, {"user", "Q?"}};
    jv l = jj_ctx_list(c);
    for (int i = 0; i < 4; i++) {
        jv d = jj_ctx_dict(c);
        jj_ctx_put(c, d, "role", jj_ctx_str(c, msgs[i][0], strlen(msgs[i][0])));
        jj_ctx_put(c, d, "content", jj_ctx_str(c, msgs[i][1], strlen(msgs[i][1])));
        jj_ctx_push(c, l, d);
    }
    jj_ctx_set(c, "messages", l);
    jj_ctx_set(c, "bos_token", jj_ctx_str(c, "<s>", 3));
    jj_ctx_set(c, "eos_token", jj_ctx_str(c, "</s>", 4));
    jj_ctx_set(c, "add_generation_prompt", jv_bool(1));
    jj_ctx_set(c, "n", jv_int(3));
    jj_ctx_set(c, "f", jv_float(2.5));
    ur_buf out = {0};
    ur_buf_put(&out, "", 0);
    int rc = jj_render(t, c, &out, err);
    jj_ctx_free(c);
    jj_free(t);
    if (rc) {
        ur_buf_free(&out);
        return NULL;
    }
    return out.data;
}

static const struct { const char *tmpl, *want; } CASES[] = {
    /* text, whitespace control, trim_blocks / lstrip_blocks as transformers sets them */
    {"a\n", "a"},
    {"  {% if true %}\nx\n  {% endif %}\nend", "x\nend"},
    {"a  {{- 'b' -}}  c", "abc"},
    {"x {# c #}\ny", "x y"},
    {"{{ 'a' }}\n{{ 'b' }}", "a\nb"},
    {"{% generation %}g{% endgeneration %}", "g"},
    {"\xe2\x80\x83{%- if 1 %}x{% endif %}", "x"}, /* an em space is JavaScript whitespace */
    /* values as HF prints them */
    {"{{ 1 }} {{ 1.0 }} {{ 1.5 }} {{ true }} {{ none }}|{{ nothing }}|", "1 1.0 1.5 true ||"},
    {"{{ [1, 'a', none, 2.0] }} {{ {'k': [true]} }}", "[1, \"a\", null, 2] {\"k\": [true]}"},
    {"{{ 10 / 4 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 0.1 + 0.2 }}", "2.5 3 -4 -1 1024 0.30000000000000004"},
    {"{{ 'a' ~ 1 ~ 2.0 ~ true }} {{ 'a' + 2.0 }}", "a12true a2"},
    /* precedence: filters bind tighter than +, not looser than ==, `if` lowest */
    {"{{ 'x' + ' y ' | trim }}", "xy"},
    {"{{ 1 + 2 * 3 }} {{ not 1 == 2 }} {{ 'a' if n > 2 else 'b' }}", "7 true a"},
    {"{{ 1 == 1.0 }} {{ '1' == 1 }} {{ [] == [] }} {{ messages == messages }}", "true true false true"},
    {"{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'role' in messages[0] }} {{ 'x' not in nothing }}", "true true true true"},
    /* members, slices, methods */
    {"{{ messages[1:][0].content }}|{{ messages[-1]['role'] }}|{{ messages[::-1][0].content }}", " Hi |user|Q?"},
    {"{{ 'h\xc3\xa9llo'[1:3] }} {{ 'abc'[::-1] }} {{ 'abc'[-1] }} {{ 'abc'.length }}", "\xc3\xa9l cba c 3"},
    {"{{ ' a b '.strip() }}|{{ 'x\\n'.rstrip('\\n') }}|{{ 'a,b'.split(',') }}|{{ 'aXa'.replace('a', 'b') }}",
     "a b|x|[\"a\", \"b\"]|bXb"},
    {"{{ 'hello wor-ld'.title() }} {{ 'abc'.upper() }} {{ 'ab'.startswith(('x', 'a')) }}", "Hello Wor-Ld ABC true"},
    /* filters */
    {"{{ messages | length }} {{ messages | map(attribute='role') | join(',') }}", "4 system,user,assistant,user"},
    {"{{ messages | selectattr('role', 'equalto', 'user') | list | length }}", "2"},
    {"{{ messages | selectattr('tool_calls', 'undefined') | list | length }}", "0"}, /* HF: a missing attribute never passes */
    {"{{ {'b': 1, 'a': [1, 2]} | tojson }}|{{ {'a': {}} | tojson(indent=2) }}", "{\"b\": 1, \"a\": [1, 2]}|{\n  \"a\": {}\n}"},
    {"{{ 'caf\xc3\xa9\\n' | tojson }} {{ nothing | tojson }} {{ nothing | default('d') }}", "\"caf\xc3\xa9\\n\" null d"},
    {"{{ [3, 1, 2] | sort | reverse | first }} {{ '42x' | int }} {{ 3.9 | int }}", "3 42 3"},
    /* tests */
    {"{{ n is defined }} {{ nothing is defined }} {{ none is none }} {{ 'a' is string }} {{ n is not number }}",
     "true false true true false"},
    {"{{ messages[0] is mapping }} {{ messages is iterable }} {{ messages[0] is iterable }}", "true true false"},
    /* statements */
    {"{% set a, b = [1, 2] %}{{ a + b }}", "3"},
    {"{% for x in [1, 2] %}{% set y = x %}{% endfor %}[{{ y }}]", "[]"},
    {"{% set ns = namespace(s=0) %}{% for x in [1, 2, 3] %}{% set ns.s = ns.s + x %}{% endfor %}{{ ns.s }}", "6"},
    {"{% for m in messages if m.role != 'system' %}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
     "1truefalse3;2falsefalse3;3falsetrue3;"},
    {"{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% endfor %}{% for x in [] %}{% else %}E{% endfor %}", "a=1E"},
    {"{% for x in [1, 2, 3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}", "1"},
    {"{% if 0 %}a{% elif '' %}b{% else %}c{% endif %}", "c"},
    {"{% macro g(name, p='!') %}Hi {{ name }}{{ p }}{% endmacro %}{{ g('A') }} {{ g(p='?', name='B') }}", "Hi A! Hi B?"},
    {"{% macro m() %}[{{ caller() }}]{% endmacro %}{% call m() %}in{% endcall %}", "[in]"},
    {"{% set x %}blk{% endset %}{{ x }}{% filter upper %}up{% endfilter %}", "blkUP"},
};

static void test_semantics(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        ur_err err = {{0}};
        char *got = R(CASES[i].tmpl, &err);
        CHECKF(got && !strcmp(got, CASES[i].want), "case %zu %s: got '%s' (%s)", i, CASES[i].tmpl, got ? got : "", err.msg);
        free(got);
    }
}

/* errors: one line, the place in the original text (columns in characters), what */
static void test_errors(void) {
    static const struct { const char *tmpl, *want; } E[] = {
        {"ok\n{{ 1 + }}", "line 2, column 8: expected an expression, found '}}'"},
        {"  {% if true %}\n  x", "the template ends inside a {% if %} block"},
        {"{% include 'x' %}", "line 1, column 4: unknown statement '{% include %}'"},
        {"\xc3\xa9\xc3\xa9 {{ 'a' + none }}", "line 1, column 11: cannot use '+' with none"},
        {"{{ raise_exception('Roles must alternate\\nreally') }}",
         "line 1, column 4: the template raised an exception: Roles must alternate really"},
        {"{{ x | nosuch }}", "cannot apply the filter 'nosuch' to undefined"},
        {"{{ 'a' | nosuch }}", "line 1, column 10: unknown filter 'nosuch' for a string"},
        {"{{ 'unterminated }}", "line 1, column 4: the string is not closed"},
        {"{% for x in 'abc' %}{% endfor %}", "cannot loop over a string"},
        {"{% break %}", "'break' or 'continue' outside a for loop"},
        {"{{ 1 // 0 }}", "integer division by zero"},
    };
    for (size_t i = 0; i < sizeof E / sizeof E[0]; i++) {
        ur_err err = {{0}};
        char *got = R(E[i].tmpl, &err);
        CHECKF(!got && strstr(err.msg, E[i].want) && !strchr(err.msg, '\n'), "case %zu: '%s' (want '%s')", i,
               got ? got : err.msg, E[i].want);
        free(got);
    }
}

/* hostile templates end in an error, fast, within the stack */
static void test_bounds(void) {
    ur_buf deep = {0};
    ur_buf_puts(&deep, "{{ ");
    for (int i = 0; i < 100000; i++) ur_buf_puts(&deep, "(");
    ur_buf_puts(&deep, "1 }}");
    static const char *const hostile[] = {
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{{ range(100000000) | length }}",
        "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{{ 'x' | indent(1000000000000) }}",
        NULL};
    for (int i = 0; i < 6; i++) {
        ur_err err = {{0}};
        double t0 = ur_now();
        char *got = R(i == 5 ? deep.data : hostile[i], &err);
        CHECKF(!got && err.msg[0] && ur_now() - t0 < 30, "hostile %d: %s (%.1f s)", i, got ? "rendered" : err.msg, ur_now() - t0);
        free(got);
    }
    ur_buf_free(&deep);
}

/* Random edits of real templates: every result is a rendering or one error line. */
static void test_garbage(void) {
    static const char *const seeds[] = {
        "{%- if messages[0]['role'] == 'system' %}{%- set s = messages[0]['content'] %}{%- endif %}{{- bos_token }}"
        "{%- for m in messages %}{%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('x') }}"
        "{%- endif %}{{ '[INST] ' + m['content'] | trim + ' [/INST]' if m.role == 'user' else m.content + eos_token }}"
        "{%- endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
        "{% set ns = namespace(a=[1, 2], d={'k': 'v'}) %}{% macro f(x, y=2) %}{{ x ~ y }}{% endmacro %}"
        "{% for k, v in ns.d.items() %}{{ f(k) }}{{ v | tojson(indent=2) }}{{ ns.a[::-1] | join(',') }}{% endfor %}",
    };
    uint64_t s = 42;
    int n_err = 0, n_ok = 0;
    for (int it = 0; it < 3000; it++) {
        const char *seed = seeds[it % 2];
        size_t n = strlen(seed);
        char buf[1024];
        memcpy(buf, seed, n);
        for (int k = 0; k < 1 + it % 4; k++) { /* a few byte edits: change, delete, duplicate */
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(s >> 33) % n;
            int op = (int)(s >> 20) % 3;
            static const char alphabet[] = "{}%#-()[]'\",.|:=~+*/ aZ09\n\\";
            if (op == 0) buf[at] = alphabet[(s >> 40) % (sizeof alphabet - 1)];
            else if (op == 1 && n > 1) memmove(buf + at, buf + at + 1, n - at - 1), n--;
            else if (n + 1 < sizeof buf) memmove(buf + at + 1, buf + at, n - at), n++;
        }
        buf[n] = 0;
        ur_err err = {{0}};
        char *got = R(buf, &err);
        if (got) n_ok++;
        else {
            n_err++;
            CHECKF(!strncmp(err.msg, "line ", 5) && !strchr(err.msg, '\n'), "edit %d: '%s'", it, err.msg);
        }
        free(got);
    }
    CHECKF(n_ok > 20 && n_err > 100, "%d rendered, %d failed", n_ok, n_err);
}

/* A model's template as a chat format: stops, BOS, prefix and the conversation checks
 * left to the template. */
static void test_chat_format(void) {
    static const char LLAMA3[] =
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
        "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
    ur_err err = {{0}};
    ur_chat *f = ur_chat_jinja("llama3", LLAMA3, sizeof LLAMA3 - 1, "<|begin_of_text|>", "<|end_of_text|>", &err);
    REQUIRE(f);
    int n;
    const char *const *st = ur_chat_stops(f, &n);
    CHECKF(n == 2 && !strcmp(st[0], "<|eot_id|>") && !strcmp(st[1], "<|end_of_text|>"), "%d %s", n, n ? st[0] : "");
    CHECK(ur_chat_add_bos(f) == 0 && ur_chat_parse_special(f) == 1 && ur_chat_kind(f) == UR_CHAT_TEMPLATE);
    ur_buf p = {0};
    CHECK(!ur_chat_prefix(f, NULL, 0, &p, &err) &&
          !strcmp(p.data, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"));
    ur_buf_free(&p);
    ur_msg two[2] = {{UR_ROLE_USER, "a", 1}, {UR_ROLE_USER, "b", 1}}; /* llama-3's template allows it */
    ur_buf r = {0};
    CHECKF(!ur_chat_render(f, two, 2, 0, &r, &err) && strstr(r.data, "a<|eot_id|><|start_header_id|>user"), "%s", err.msg);
    ur_buf_free(&r);
    ur_buf c = {0};
    ur_chat_clean(f, " Sure!<|eot_id|>junk", 20, &c);
    CHECK(c.data && !strcmp(c.data, "Sure!"));
    ur_buf_free(&c);
    ur_chat_free(f);

    /* Mistral's newer templates put the system message into the last user turn: the
     * prefix must stop before it */
    static const char NEMO[] = "{%- if messages[0]['role'] == 'system' %}{%- set s = messages[0]['content'] %}"
                               "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}"
                               "{%- endif %}{{- bos_token }}{%- for m in loop_messages %}{%- if m['role'] == 'user' %}"
                               "{%- if loop.last and s is defined %}{{- '[INST]' + s + '\\n\\n' + m['content'] + '[/INST]' }}"
                               "{%- else %}{{- '[INST]' + m['content'] + '[/INST]' }}{%- endif %}{%- else %}"
                               "{{- m['content'] + eos_token }}{%- endif %}{%- endfor %}";
    f = ur_chat_jinja("nemo", NEMO, sizeof NEMO - 1, "<s>", "</s>", &err);
    REQUIRE(f);
    ur_msg sys = {UR_ROLE_SYSTEM, "S", 1};
    CHECK(!ur_chat_prefix(f, &sys, 1, &p, &err) && !strcmp(p.data, "<s>[INST]"));
    ur_buf_free(&p);
    st = ur_chat_stops(f, &n);
    CHECKF(n == 1 && !strcmp(st[0], "</s>"), "%d", n);
    CHECK(ur_chat_add_bos(f) == 0);
    ur_chat_free(f);

    /* raise_exception is reported as such, with the template's name and place */
    f = ur_chat_jinja("t.jinja", "{{ raise_exception('no system') if messages[0].role == 'system' }}x", 66, NULL, NULL, &err);
    REQUIRE(f);
    CHECK(ur_chat_add_bos(f) == 1);
    CHECK(ur_chat_render(f, &sys, 1, 1, &r, &err) && !strcmp(err.msg, "t.jinja: line 1, column 4: the template raised an exception: no system"));
    ur_buf_free(&r);
    ur_chat_free(f);
    CHECK(!ur_chat_jinja("bad", "{% if %}", 8, NULL, NULL, &err) && !strncmp(err.msg, "bad: line 1, column 7: ", 23));
}

/* The built-in templates render byte-identically to their reference Jinja (the texts
 * and their sources: tests/jinja/builtin, builtin.json). */
static void test_builtins_vs_reference(void) {
    static const struct { const char *name, *bos, *eos; int system; } B[] = {
        {"llama-2", "<s>", "</s>", 1},        {"llama-2-default-system", "<s>", "</s>", 1},
        {"mistral-instruct", "<s>", "</s>", 1}, {"mistral-instruct-legacy", "<s>", "</s>", 0},
        {"vicuna-v1.1", "<s>", "</s>", 1},    {"zephyr", "<s>", "</s>", 1},
        {"tulu", "<s>", "</s>", 1},           {"chatml", "<s>", "<|im_end|>", 1},
        {"llama-3", "<|begin_of_text|>", "<|eot_id|>", 1}, {"gemma", "<bos>", "<end_of_turn>", 1}};
    ur_msg conv[] = {{UR_ROLE_SYSTEM, "Be brief.\nReally.", 17}, {UR_ROLE_USER, " Hello\t", 7},
                     {UR_ROLE_ASSISTANT, "  Hi there!  ", 13}, {UR_ROLE_USER, "na\xc3\xafve <s> {{ x }}", 19}};
    int n_list;
    ur_chat_list(UR_CHAT_TEMPLATE, &n_list);
    CHECK(n_list == (int)(sizeof B / sizeof B[0]));
    for (size_t i = 0; i < sizeof B / sizeof B[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/jinja/builtin/%s.jinja", B[i].name);
        size_t len;
        char *text = th_read_file(path, &len);
        CHECKF(text, "cannot read %s", path);
        if (!text) continue;
        ur_err err = {{0}};
        ur_chat *ref = ur_chat_jinja(path, text, len, B[i].bos, B[i].eos, &err), *f = ur_chat_template(B[i].name, &err);
        CHECKF(ref && f, "%s: %s", B[i].name, err.msg);
        for (int first = B[i].system ? 0 : 1; ref && f && first < 2; first++)
            for (int n = first + 1; n <= 4; n += 2)
                for (int gen = 0; gen < 2; gen++) {
                    ur_buf a = {0}, b = {0};
                    int ra = ur_chat_render(f, conv + first, n - first, gen, &a, &err);
                    int rb = ur_chat_render(ref, conv + first, n - first, gen, &b, &err);
                    CHECKF(!ra && !rb && a.len == b.len && !memcmp(a.data, b.data, a.len), "%s (%d..%d, gen %d): '%s' vs '%s' %s",
                           B[i].name, first, n, gen, a.data ? a.data : "", b.data ? b.data : "", err.msg);
                    ur_buf_free(&a);
                    ur_buf_free(&b);
                }
        ur_chat_free(ref);
        ur_chat_free(f);
        free(text);
    }
}

static void test_family(void) {
    CHECK(!strcmp(ur_chat_family("{{ 'Cutting Knowledge Date' }}<|start_header_id|>"), "llama-3.1"));
    CHECK(!strcmp(ur_chat_family("{%- if tools %}<|im_start|>{{ '<think>' }}"), "qwen3"));
    CHECK(!strcmp(ur_chat_family("{{'<|im_start|>' + message['role'] + '\\n'}}"), "chatml"));
    CHECK(!ur_chat_family("{{ messages }}") && !ur_chat_family(""));
}

int main(void) {
    th_suite = "jinja";
    RUN(test_semantics);
    RUN(test_errors);
    RUN(test_bounds);
    RUN(test_garbage);
    RUN(test_chat_format);
    RUN(test_builtins_vs_reference);
    RUN(test_family);
    TEST_MAIN_END();
}
