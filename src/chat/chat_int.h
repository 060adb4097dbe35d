/* Internals shared by the chat-format sources (chat.c, urial.c, templates.c). */
#ifndef URIAL_CHAT_INT_H
#define URIAL_CHAT_INT_H

#include <stddef.h>

#include "urial/chat.h"

/* The three ways the URIAL authors' code lays out the conversation after the
 * prompt text (their fastchat_conversation.py templates "urial_backticks",
 * "urial_v5" and "urial_v6", picked by the prompt file's name). */
enum urial_style { URIAL_BACKTICKS = 0, URIAL_V5 = 1, URIAL_V6 = 2,
                   /* the URIAL paper's era and baselines (baselines.c; the authors' src/adapt_utils.py) */
                   URIAL_LEGACY = 3, URIAL_ZERO_SHOT = 4, URIAL_RETRIEVE = 5 };

typedef struct ur_retriever ur_retriever; /* urial/retrieve.h */
typedef struct answer_prefixes answer_prefixes; /* --prefix-from (baselines.c) */

typedef struct tmpl_def tmpl_def; /* one aligned-model template (templates.c) */
typedef struct jj_tmpl jj_tmpl;   /* a parsed Jinja template (jinja.h) */

struct ur_chat {
    int kind;           /* enum ur_chat_kind */
    char *name;         /* built-in name, file path or template name */
    char *warning;      /* NULL or one line */
    /* URIAL */
    int style;          /* enum urial_style */
    char *prompt;       /* the prompt text, NUL-terminated */
    size_t prompt_len;
    /* built-in templates */
    const tmpl_def *tmpl;
    /* a Jinja template, the model's own (jinja_chat.c): tmpl is NULL */
    jj_tmpl *jinja;
    char *where;     /* "MODEL.gguf: tokenizer.chat_template", for messages */
    char *bos, *eos; /* bos_token / eos_token; NULL: undefined */
    char *stop[3];   /* end-of-turn text, then EOS; NULL-terminated */
    int n_stop;
    int jinja_add_bos;
    /* decoding defaults of its own (ur_chat_set_decoding): penalty <= 0 / last_n == UR_LAST_N_DEFAULT: unset */
    float def_penalty;
    int def_last_n;
    /* the paper's baselines (baselines.c) */
    ur_retriever *ret; /* retrieval ICL (style URIAL_RETRIEVE): the pool, owned */
    int ret_k;
    answer_prefixes *ap; /* the first words of an aligned model's answers, continued by this format */
};

/* URIAL (urial.c). bare: without what depends on the query beyond its text (the
 * retrieved examples), for the cacheable prefix. */
int urial_render(const ur_chat *f, const ur_msg *m, int n, int gen, int bare, ur_buf *out);
const char *const *urial_stops(const ur_chat *f, int *n);
const ur_chat_info *urial_list(int *n);

/* templates (templates.c) */
const tmpl_def *tmpl_find(const char *name);
const char *tmpl_name(const tmpl_def *t);
int tmpl_has_system(const tmpl_def *t);
int tmpl_add_bos(const tmpl_def *t);
void tmpl_render(const tmpl_def *t, const ur_msg *m, int n, int gen, ur_buf *out);
const char *const *tmpl_stops(const tmpl_def *t, int *n);
const ur_chat_info *tmpl_list(int *n);

/* Jinja templates (jinja_chat.c) */
ur_chat *jinja_chat_from_gguf(const ur_gguf *g, const ur_str *tmpl, ur_err *err);
int jinja_render_msgs(const ur_chat *f, const ur_msg *m, int n, int gen, ur_buf *out, ur_err *err);
void jinja_chat_free(ur_chat *f);

/* the paper's baselines (baselines.c): a turn of the legacy, zero-shot and retrieval
 * formats; the retrieved examples before a query; the answer prefix after a prompt;
 * freeing their parts. */
void legacy_turn(const ur_chat *f, ur_buf *out, int role, const char *msg, size_t len);
void retrieval_examples(const ur_chat *f, const char *query, size_t len, ur_buf *out);
void answer_prefix_put(const ur_chat *f, const ur_msg *m, int n, ur_buf *out);
void baselines_free(ur_chat *f);

/* chat.c */
ur_chat *chat_new(int kind, const char *name);
/* Python's str.strip() (what Jinja's trim filter and the URIAL authors' .strip()
 * call): sets [*b, *e) to s[0..n) without leading and trailing Unicode whitespace
 * (str.isspace(): \t\n\v\f\r, \x1c-\x1f, space, U+0085, U+00A0, U+1680,
 * U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). */
void py_strip(const char *s, size_t n, size_t *b, size_t *e);
void buf_put_stripped(ur_buf *out, const char *s, size_t n);

#endif
