/* Internals of the Jinja interpreter (jinja_*.c): the arena, tokens, the AST and the
 * evaluator's state. Include "chat/jinja.h" with JJ_INTERNAL defined. */
#ifndef URIAL_CHAT_JINJA_INT_H
#define URIAL_CHAT_JINJA_INT_H

#include <stdarg.h>
#include <errno.h>

/* ---- arena: everything a parse or a rendering allocates, freed at once -------------------- */
typedef struct jj_chunk jj_chunk;
typedef struct jj_arena {
    jj_chunk *head;
    size_t used;   /* bytes handed out */
    size_t budget; /* a rendering fails once used passes this (checked by the evaluator) */
} jj_arena;
void *ja_alloc(jj_arena *a, size_t n); /* zeroed, 16-byte aligned; never NULL (base.h's policy) */
void ja_free(jj_arena *a);
int ja_room(const jj_arena *a, size_t n); /* 1 when n more bytes stay within the budget */
jj_str *ja_str(jj_arena *a, const char *s, size_t n);

/* Limits (see jinja.h "Bounds"). */
#define JJ_MEM_BUDGET ((size_t)256 << 20) /* bytes per rendering */
#define JJ_MAX_DEPTH 400                  /* nested expressions/statements, parse and run time */
#define JJ_MAX_STEPS 20000000L            /* evaluation steps per rendering */

/* ---- tokens ------------------------------------------------------------------------------------- */
enum jj_tok_type {
    TK_TEXT, TK_NUM, TK_STR, TK_NAME, TK_EQUALS, TK_LP, TK_RP, TK_OS, TK_CS, TK_OE, TK_CE, TK_LB, TK_RB, TK_LC,
    TK_RC, TK_COMMA, TK_DOT, TK_COLON, TK_PIPE, TK_ADD, TK_MUL, TK_POW, TK_CMP, TK_UNARY, TK_COMMENT, TK_EOF
};
typedef struct jj_tok {
    int t;        /* enum jj_tok_type */
    uint32_t pos; /* byte offset in the original template text */
    jj_str *v;    /* the token's text (string literals decoded) */
} jj_tok;

/* Preprocess and tokenize src as @huggingface/jinja does (jinja_lex.c); the last token is TK_EOF. */
int jj_lex(const char *src, size_t len, jj_arena *a, jj_tok **toks, int *n, ur_err *err);
/* "line L, column C" of a byte offset (columns count UTF-8 characters), into buf. */
void jj_where(const char *src, size_t len, uint32_t pos, char *buf, size_t cap);

/* ---- the syntax tree ------------------------------------------------------------------------------ */
enum jn_kind {
    /* expressions */
    N_INT, N_FLOAT, N_STR, N_NAME, N_LIST, N_TUPLE, N_DICT, N_MEMBER, N_SLICE, N_CALL, N_KWARG, N_SPREAD,
    N_KWSPREAD, N_FILTER, N_TEST, N_BIN, N_NOT, N_NEG, N_POS, N_TERNARY, N_SELECT,
    /* statements (an expression in a body is an output {{ }}) */
    N_TEXT, N_IF, N_FOR, N_SET, N_MACRO, N_CALLBLOCK, N_FILTERBLOCK, N_BREAK, N_CONTINUE
};
enum jn_op {
    OP_OR, OP_AND, OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_IN, OP_NOTIN, OP_ADD, OP_SUB, OP_CAT, OP_MUL, OP_DIV,
    OP_FLOORDIV, OP_MOD, OP_POW
};

typedef struct jj_node jj_node;
struct jj_node {
    uint8_t k;    /* enum jn_kind */
    uint8_t op;   /* N_BIN: enum jn_op; N_TEST: negated; N_FILTER: called with (); N_MEMBER: computed */
    uint32_t pos; /* where it starts in the original text */
    jj_node *a, *b, *c;
    jj_node **v; /* main list: body, arguments, elements, dict keys, slice parts (3, may be NULL) */
    int n;
    jj_node **w; /* second list: else body, macro parameters, dict values */
    int m;
    jj_str *s; /* name, string literal, text */
    int64_t i;
    double f;
};
/* Field use per kind:
 *   N_MEMBER a[b] / a.b (b: N_STR or N_INT when not computed)   N_SLICE a[v0:v1:v2]
 *   N_CALL a(v...)  N_KWARG s=a  N_SPREAD *a  N_KWSPREAD **a    N_FILTER a|s(v...)   N_TEST a is [not] s
 *   N_BIN a op b    N_NOT/N_NEG/N_POS a    N_TERNARY b if a else c    N_SELECT b if a
 *   N_IF if a: v else w    N_FOR for a in b [if c]: v else w    N_SET a = b | a = body v
 *   N_MACRO s(w...): v    N_CALLBLOCK call(w...) a: v    N_FILTERBLOCK filter a (N_FILTER with a=NULL): v */

struct jj_tmpl {
    jj_arena arena; /* the tree and its strings */
    jj_node **body;
    int n;
    char *src; /* the original text, for error positions */
    size_t len;
};

/* ---- evaluation ------------------------------------------------------------------------------------- */
typedef struct jj_scope jj_scope;
struct jj_scope {
    jj_scope *up;
    jj_dict vars;
    int call_block; /* a call block's scope: where a macro finds `caller` */
};

enum jj_func_kind { JF_BUILTIN, JF_METHOD, JF_MACRO, JF_CALLER };
struct jj_func {
    int kind;
    int id;          /* builtin / method id */
    jv self;         /* the method's object */
    const jj_node *node;  /* macro or call block */
    jj_scope *scope; /* where it was defined */
};

typedef struct jj_args {
    jv *pos;
    int npos;
    jj_dict *kw; /* NULL when none */
} jj_args;

typedef struct jj_ev {
    const jj_tmpl *t;
    jj_arena *a;
    ur_err *err;
    int depth;
    long steps;
    jj_scope *globals;
} jj_ev;

struct jj_ctx {
    jj_arena arena;
    jj_dict vars;
};

/* errors: "line L, column C: what", always -1 */
int jj_fail(jj_ev *ev, const jj_node *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* values (jinja_value.c) */
static inline jv jv_undef(void) { return (jv){.t = JV_UNDEF}; }
static inline jv jv_none(void) { return (jv){.t = JV_NONE}; }
static inline jv jv_bool(int b) { return (jv){.t = JV_BOOL, .u.b = !!b}; }
static inline jv jv_int(int64_t i) { return (jv){.t = JV_INT, .u.i = i}; }
static inline jv jv_float(double f) { return (jv){.t = JV_FLOAT, .u.f = f}; }
jv jv_str(jj_arena *a, const char *s, size_t n);
jv jv_strz(jj_arena *a, const char *s);
jv jv_list(jj_arena *a, int cap);
jv jv_dict(jj_arena *a, int cap, int type);
void jl_push(jj_arena *a, jj_list *l, jv v);
void jd_set(jj_arena *a, jj_dict *d, jj_str *key, jv v);
jv *jd_get(const jj_dict *d, const char *key, size_t n); /* NULL when absent */
const char *jv_type_name(const jv *v);                  /* HF's names: "StringValue", ... */
int jv_truthy(const jv *v);
int jv_is_num(const jv *v); /* int or float */
double jv_num(const jv *v);
int jv_loose_eq(const jv *a, const jv *b);  /* JavaScript == on the values */
int jv_strict_eq(const jv *a, const jv *b); /* JavaScript === on the values */
/* Text forms: display is HF's toString() ({{ x }}, |string); js is JavaScript's
 * String(x.value) (what + and ~ concatenate); JSON as JSON.stringify / tojson. */
int jv_display(jj_ev *ev, const jj_node *at, const jv *v, ur_buf *out);
int jv_js(jj_ev *ev, const jj_node *at, const jv *v, ur_buf *out);
typedef struct jj_json_opts {
    int indent; /* 0: none */
    int ensure_ascii, sort_keys, undef_null;
    const char *item_sep, *key_sep; /* NULL: the defaults */
} jj_json_opts;
int jv_json(jj_ev *ev, const jj_node *at, const jv *v, const jj_json_opts *o, int depth, ur_buf *out);
void js_number(double x, ur_buf *out);    /* JavaScript Number#toString */
int jv_to_str(jj_ev *ev, const jj_node *at, const jv *v, int display, jv *out); /* the text form as a string value */

/* UTF-8 and JavaScript string helpers (jinja_str.c) */
int ju_space(uint32_t c); /* JavaScript whitespace (\s, trim) */
size_t ju_decode(const char *s, size_t n, uint32_t *cp); /* one code point (invalid byte: U+FFFD, 1) */
void ju_encode(ur_buf *b, uint32_t cp);
size_t ju_count(const char *s, size_t n);    /* code points */
size_t ju_utf16_len(const char *s, size_t n); /* JavaScript .length */
void ju_trim(const char *s, size_t n, int left, int right, size_t *b, size_t *e);
void ju_case(const char *s, size_t n, int upper, ur_buf *out);
uint32_t ju_case_cp(uint32_t c, int upper);

/* builtins (jinja_builtins.c, jinja_filters.c) */
int jj_global_names(jj_ev *ev, jj_scope *g);
int jj_call_builtin(jj_ev *ev, const jj_node *at, const jj_func *f, jj_args *args, jv *out);
int jj_member(jj_ev *ev, const jj_node *at, const jv *obj, const jv *key, jv *out);
int jj_filter(jj_ev *ev, const jj_node *node, const jv *operand, jj_scope *sc, jv *out);
int jj_test(jj_ev *ev, const jj_node *at, const char *name, const jv *v, const jv *arg, int nargs, int *out);
int jj_slice(jj_ev *ev, const jj_node *at, const jv *obj, const jv *start, const jv *stop, const jv *step, jv *out);
const jv *jj_arg(const jj_args *a, int i, const char *name); /* positional i, else keyword name, else NULL */
int jj_sort(jj_ev *ev, const jj_node *at, jv *v, int n, int case_sensitive, int reverse, const char *attr, int by_value);
jv jj_attr_path(jj_ev *ev, const jv *item, const char *path);
jv jj_dict_items(jj_ev *ev, const jj_dict *d, int what); /* 0 items, 1 keys, 2 values */
int jj_dict_method_id(const char *name);                 /* get items keys values dictsort, else -1 */
int jj_dict_method(jj_ev *ev, const jj_node *at, int id, const jj_dict *d, jj_args *a, jv *out);
jv jj_method_value(jj_ev *ev, int id, const jv *self);

/* evaluator (jinja_eval.c) */
int jj_eval(jj_ev *ev, const jj_node *e, jj_scope *sc, jv *out);
int jj_eval_args(jj_ev *ev, jj_node *const *args, int n, jj_scope *sc, jj_args *out);
int jj_call(jj_ev *ev, const jj_node *at, const jv *fn, jj_args *args, jj_scope *sc, jv *out);
jj_scope *jj_scope_new(jj_ev *ev, jj_scope *up);
void jj_scope_set(jj_ev *ev, jj_scope *sc, jj_str *name, jv v);
int jj_compare(jj_ev *ev, const jj_node *at, const jv *a, const jv *b, int case_sensitive, int *out);

#endif
