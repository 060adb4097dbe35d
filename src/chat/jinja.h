/* A Jinja interpreter for chat templates (tokenizer.chat_template).
 *
 * The reference is Hugging Face's @huggingface/jinja (what transformers.js renders
 * chat templates with): its lexer, grammar and runtime semantics, quirks included,
 * because a prompt must be byte-identical to what Hugging Face gives. In brief:
 *
 *   text preprocessing  one trailing "\n" dropped; lstrip_blocks and trim_blocks as
 *                       transformers sets them (spaces/tabs before "{%"/"{#" at a line
 *                       start, the "\n" right after "%}"/"#}"/"-}"); {% generation %}
 *                       and {% endgeneration %} tags removed; "{%-", "-%}" etc. strip
 *                       JavaScript whitespace (String.prototype.trim's set).
 *   statements          text, {{ expr }}, set (also `set a, b = ...`, `set ns.x = ...`,
 *                       `{% set x %}...{% endset %}`), if/elif/else, for (tuple targets,
 *                       `for x in xs if cond`, else, loop.index/index0/first/last/length/
 *                       revindex/revindex0/previtem/nextitem), break, continue, macro
 *                       (defaults, varargs, kwargs, caller), call blocks, filter blocks,
 *                       comments. Anything else is an error naming the statement.
 *   expressions         HF's precedence: ternary / `x if c`, or, and, not, comparisons
 *                       and in / not in (left-assoc, no chaining), + - ~, * / // %, **,
 *                       `is [not] test`, `| filter(args)`, unary -/+, calls (keyword args,
 *                       *args, **kwargs), member access, subscripts, slices [a:b:c];
 *                       literals: ints, floats, strings (adjacent ones joined), lists,
 *                       tuples, dicts.
 *   values              undefined, none, bool, int, float, string (UTF-8), list (or
 *                       tuple), dict (ordered), namespace, callable; JavaScript meanings
 *                       where HF has them: `==` is JS loose equality (identity for lists
 *                       and dicts), true prints "true", none prints "", floats print as
 *                       JS numbers ("3.0" for integral ones), lists/dicts print as JSON.
 *   builtins            HF's filters, tests, string and dict methods, namespace(),
 *                       range(), raise_exception(), strftime_now().
 *
 * Errors: one line, "line L, column C: what" (1-based, columns in characters of the
 * original template text); a template's raise_exception(msg) gives
 * "line L, column C: the template raised an exception: msg".
 *
 * Bounds (so that no template can crash or hang the caller): nesting depth, macro
 * recursion, evaluation steps and memory per rendering are capped, and exceeding a
 * cap is an ordinary error. */
#ifndef URIAL_CHAT_JINJA_H
#define URIAL_CHAT_JINJA_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"

/* ---- values ------------------------------------------------------------------------ */
enum jv_type { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT, JV_NS, JV_FUNC };

typedef struct jj_str {
    size_t len;
    char s[]; /* len bytes, then a NUL */
} jj_str;

typedef struct jv jv;
typedef struct jj_list jj_list;
typedef struct jj_dict jj_dict;
typedef struct jj_func jj_func;

struct jv {
    int t; /* enum jv_type */
    union {
        int b;
        int64_t i;
        double f;
        jj_str *s;
        jj_list *l; /* JV_LIST */
        jj_dict *d; /* JV_DICT, JV_NS */
        jj_func *fn;
    } u;
};

struct jj_list {
    int n, cap;
    int tuple; /* HF's TupleValue: a list that is not "iterable" and has no JSON form */
    jv *v;
};

struct jj_dict {
    int n, cap;
    jj_str **k;
    jv *v;
};

/* ---- templates -------------------------------------------------------------------------- */
typedef struct jj_tmpl jj_tmpl;

/* Parse a template; NULL with err = "line L, column C: what" on a syntax error. */
jj_tmpl *jj_parse(const char *src, size_t len, ur_err *err);
void jj_free(jj_tmpl *t);

/* A rendering's context: the variables a template sees besides the globals. Values
 * live in the context's arena, which also holds everything the rendering makes. */
typedef struct jj_ctx jj_ctx;
jj_ctx *jj_ctx_new(void);
void jj_ctx_free(jj_ctx *c);
jv jj_ctx_str(jj_ctx *c, const char *s, size_t n); /* a string value (copied) */
jv jj_ctx_list(jj_ctx *c);
jv jj_ctx_dict(jj_ctx *c);
void jj_ctx_push(jj_ctx *c, jv list, jv item);                 /* append to a list */
void jj_ctx_put(jj_ctx *c, jv dict, const char *key, jv value); /* set a dict key */
void jj_ctx_set(jj_ctx *c, const char *name, jv value);         /* a template variable */

/* Render t with the context's variables; appends to *out. Every call starts from
 * the same globals; a context may be rendered with once. */
int jj_render(const jj_tmpl *t, jj_ctx *c, ur_buf *out, ur_err *err);

/* ---- internals shared by jinja_*.c ---------------------------------------------------------- */
#ifdef JJ_INTERNAL
#include "chat/jinja_int.h"
#endif

#endif
