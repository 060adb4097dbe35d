/* urial — conversations and the text a model sees for them.
 *
 * A *chat format* turns a conversation (system / user / assistant messages) into
 * prompt text, and says how to tokenize that text, where generation stops and how
 * to clean the generated answer. There are two kinds:
 *
 *  - URIAL (in-context alignment of a base model): a prompt text (a system
 *    preamble and K example query/answer pairs; built in, or a file in the URIAL
 *    authors' format) followed by the conversation in the authors'
 *    `urial_backticks` format:
 *        PROMPT_TEXT + "\n# Query:\n```\n" + query + "\n```\n" + "\n# Answer:\n```\n"
 *    Earlier turns become further "# Query:" / "# Answer:" pairs, each answer
 *    closed the way a generated one ends ("\n```\n"). Generation stops at
 *    "# Query"; the answer is cleaned as the authors' clear_output does.
 *
 *  - an aligned model's chat template: the model's own tokenizer.chat_template,
 *    rendered by urial's Jinja interpreter byte for byte as Hugging Face renders it
 *    (src/chat/jinja.h; `--template auto`), or a built-in one (llama-2,
 *    mistral-instruct, vicuna-v1.1, zephyr, tulu, chatml, llama-3, gemma, ...),
 *    byte-exact to the Jinja template the model family ships (sources cited in
 *    src/chat/templates.c, reference texts in tests/jinja/builtin/), for models
 *    that carry none.
 *
 * Typical use (one query after K examples, then generate):
 *     ur_chat *f = ur_chat_urial("urial-k3", &err);              // or ur_chat_template("zephyr", &err)
 *     ur_conv c = {0};  ur_conv_add(&c, UR_ROLE_USER, q, strlen(q));
 *     ur_buf p = {0};   ur_chat_render(f, c.msgs, c.n, 1, &p, &err);
 *     ur_tokenize(v, p.data, p.len, ur_chat_add_bos(f) && ur_vocab_add_bos(v), ur_chat_parse_special(f), ...);
 *     gp.stop = ur_chat_stops(f, &gp.n_stop);   ... ur_generate(...) ...
 *     ur_chat_clean(f, res.text.data, res.text.len, &answer);
 * All strings are UTF-8; rendering never changes message bytes except where the
 * reference template itself trims them. */
#ifndef URIAL_CHAT_H
#define URIAL_CHAT_H

#include <stddef.h>

#include "urial/base.h"
#include "urial/generate.h"
#include "urial/gguf.h"

/* ---- conversations ----------------------------------------------------------- */
enum ur_role { UR_ROLE_SYSTEM = 0, UR_ROLE_USER = 1, UR_ROLE_ASSISTANT = 2 };
const char *ur_role_name(int role);      /* "system", "user", "assistant" */
int ur_role_from_name(const char *name); /* -1 if not one of those three */

typedef struct ur_msg {
    int role;      /* enum ur_role */
    char *content; /* NUL-terminated UTF-8 (owned by the conversation) */
    size_t len;    /* bytes of content */
} ur_msg;

/* A conversation owns copies of its messages. Zero-initialise, add, free. */
typedef struct ur_conv {
    ur_msg *msgs;
    int n, cap;
} ur_conv;
void ur_conv_add(ur_conv *c, int role, const char *text, size_t len); /* copies text */
void ur_conv_truncate(ur_conv *c, int n);                              /* keep the first n messages */
void ur_conv_free(ur_conv *c);

/* Append the messages of a JSON conversation: an array of {"role","content"}
 * objects, or an object with such an array under "messages" (OpenAI style).
 * `name` (a file name) is used in messages. On error nothing is appended. */
int ur_conv_parse_json(ur_conv *c, const char *json, size_t len, const char *name, ur_err *err);
int ur_conv_load_json(ur_conv *c, const char *path, ur_err *err);

/* ---- chat formats -------------------------------------------------------------- */
typedef struct ur_chat ur_chat;

enum ur_chat_kind { UR_CHAT_URIAL = 0, UR_CHAT_TEMPLATE = 1 };
#define UR_URIAL_DEFAULT "urial-k3"

/* URIAL prompt by built-in name (see ur_chat_list) or else as a file in the
 * authors' format. A file is read as the authors read it (Hugging Face datasets
 * "text" loader, sample_by="document": the whole file, bytes unchanged except
 * that \r\n and \r become \n; it must be UTF-8). As in the authors' code, files
 * whose name contains "inst_help_v5" / "inst_help_v6" use their "# User:" /
 * "# Assistant:" variants of the format; every other file uses urial_backticks.
 * An empty file loads (it gives a zero-shot prompt) and sets a warning. */
ur_chat *ur_chat_urial(const char *name_or_path, ur_err *err);
/* URIAL prompt from text in memory (`name` is used in messages; backticks format). */
ur_chat *ur_chat_urial_text(const char *name, const char *text, size_t len, ur_err *err);
/* Template by name; "auto" is not accepted here (use ur_chat_template_auto). */
ur_chat *ur_chat_template(const char *name, ur_err *err);
/* Template for a model: its tokenizer.chat_template rendered by the Jinja interpreter
 * when it has one (bos_token / eos_token: the pieces of tokenizer.ggml.bos_token_id /
 * eos_token_id; the name is "tokenizer.chat_template"); else the built-in template
 * general.name names. Fails with one line naming the file: a template that does not
 * parse ("M.gguf: tokenizer.chat_template: line L, column C: what"), or no template
 * and no known name. Reads metadata only: no tokenizer is loaded. */
ur_chat *ur_chat_template_auto(const ur_gguf *g, ur_err *err);
/* A Jinja chat template from text (`name` in messages; bos / eos may be NULL:
 * undefined in the template). Errors as above. */
ur_chat *ur_chat_jinja(const char *name, const char *text, size_t len, const char *bos, const char *eos, ur_err *err);
/* The built-in template name for a Jinja chat_template text and/or a model name
 * (either may be NULL); NULL when nothing matches. */
const char *ur_chat_detect(const char *chat_template, const char *model_name);
/* A display name for the family of a Jinja chat template ("llama-3.1", "qwen3",
 * "chatml", a built-in name, ...), NULL when unrecognised; for `urial info`. */
const char *ur_chat_family(const char *chat_template);
void ur_chat_free(ur_chat *f);

int ur_chat_kind(const ur_chat *f);
const char *ur_chat_name(const ur_chat *f); /* "urial-k3", the file path, "llama-2", ... */
/* A one-line note the caller should show (e.g. "FILE: the prompt file is empty ..."), or NULL. */
const char *ur_chat_warning(const ur_chat *f);
/* URIAL: the prompt text (system preamble + examples) and its length; NULL for templates. */
const char *ur_chat_urial_prompt(const ur_chat *f, size_t *len);

/* Render msgs[0..n) (an optional system message first, then user and assistant
 * messages alternating, starting with user) and, when add_generation_prompt, the
 * text that opens the assistant's next turn. Appends to *out (NUL-terminated).
 * Fails with one line naming the message and what is wrong (bad role order; a
 * system message given to a URIAL format or a template that has no system role). */
int ur_chat_render(const ur_chat *f, const ur_msg *msgs, int n, int add_generation_prompt, ur_buf *out, ur_err *err);

/* The text every rendering of a conversation that starts with msgs[0..n) (e.g.
 * nothing, or a system message, or earlier turns) shares, whatever comes next: the
 * part whose KV cache can be computed once and reused. For URIAL with n = 0 it is
 * PROMPT_TEXT + "\n# Query:\n```\n", identical for every query. Appends to *out.
 * (Token boundaries: reuse the longest common *token* prefix of the full prompt and
 * the cached tokens, as ur_generate does. The URIAL prefix ends in "\n", a byte
 * token of the Llama-2 vocabulary that nothing merges with, so its tokens are a
 * prefix of every full prompt's tokens; tests/unit/test_chat.c checks this.) */
int ur_chat_prefix(const ur_chat *f, const ur_msg *msgs, int n, ur_buf *out, ur_err *err);

/* Tokenizing the rendered text: ur_chat_add_bos() is 0 when the text already
 * spells the BOS token ("<s>", "<bos>", "<|begin_of_text|>"), so the tokenizer must
 * not add another; otherwise 1 (then add BOS if the vocabulary asks for it).
 * ur_chat_parse_special() is 1 for templates (their markers are special tokens)
 * and 0 for URIAL (plain text; a query that contains "</s>" stays text). */
int ur_chat_add_bos(const ur_chat *f);
int ur_chat_parse_special(const ur_chat *f);

/* Stop strings for ur_gen_params.stop (valid while f lives). URIAL: "# Query" (the
 * authors' stop; "# User" for the v5/v6 variants). Templates: the end-of-turn text
 * (e.g. "</s>", "<|im_end|>"), which matters when a model writes it as plain text;
 * normally the end-of-turn token already stops generation. */
const char *const *ur_chat_stops(const ur_chat *f, int *n);

/* The decoding a format implies where the caller left the default: a repetition
 * penalty of UR_PENALTY_DEFAULT becomes 1.1 (Hugging Face's kind, over the whole
 * context) with a URIAL prompt, the URIAL paper's setting for its just-eval runs,
 * and 1 (off) with a template, as the authors ran their aligned baselines. The
 * session (ur_session_answer), the server and the batch runs all decode through
 * this, so `urial generate --urial`, `chat`, `run` and `serve` agree. */
void ur_chat_decoding(const ur_chat *f, ur_sampler_params *p);
/* repeat_last_n's "not given" (callers that let a format or a model decide); any
 * negative value means the whole context to the sampler. */
#define UR_LAST_N_DEFAULT (-2)
/* Decoding defaults of the format's own, which ur_chat_decoding applies where the
 * caller left UR_PENALTY_DEFAULT / UR_LAST_N_DEFAULT (e.g. a model's recorded ones:
 * ur_chat_recorded_decoding). penalty <= 0 or last_n == UR_LAST_N_DEFAULT: unset. */
void ur_chat_set_decoding(ur_chat *f, float repeat_penalty, int repeat_last_n);

/* ---- defaults a model records in its GGUF (keys under "urial.") ------------------------
 *   urial.prompt          string  a URIAL prompt (the text of a prompt file)
 *   urial.repeat_penalty  f32     the repetition penalty to decode with
 *   urial.repeat_last_n   i32     ... over the last N tokens (-1: the whole context)
 * `urial defaults MODEL.gguf` shows and writes them. ur_chat_recorded: the URIAL
 * format of urial.prompt (named "MODEL.gguf: urial.prompt"), or NULL without an error
 * when the model records none; ur_chat_recorded_decoding: the recorded decoding onto f
 * (nothing when none is recorded). Both read g only. */
ur_chat *ur_chat_recorded(const ur_gguf *g, ur_err *err);
void ur_chat_recorded_decoding(ur_chat *f, const ur_gguf *g);

/* The final answer from generated text. Both kinds cut at the first stop string
 * (for output from a backend that did not stop there). URIAL then does what the
 * authors' clear_output does: remove every "```", replace "<|endoftext|>" by a
 * space, strip whitespace at both ends (Python str.strip()). Templates strip. */
void ur_chat_clean(const ur_chat *f, const char *text, size_t len, ur_buf *out);

/* Cleaning an answer while it streams (a chat in the terminal, a server's stream):
 * push the raw generated text as it comes; each push appends to *out what the
 * cleaned answer gained (a tail that may still change — trailing backticks, the
 * start of "<|endoftext|>" — is held back); ur_chat_stream_end appends the rest.
 * All the pieces together are ur_chat_clean of the whole raw text, which must come
 * as ur_generate streams it: never any part of a stop string. */
typedef struct ur_chat_stream {
    const ur_chat *f;
    ur_buf raw;   /* the raw text so far */
    size_t shown; /* bytes of the cleaned text passed on */
} ur_chat_stream;
void ur_chat_stream_init(ur_chat_stream *s, const ur_chat *f);
void ur_chat_stream_push(ur_chat_stream *s, const char *text, size_t len, ur_buf *out);
void ur_chat_stream_end(ur_chat_stream *s, ur_buf *out);
void ur_chat_stream_free(ur_chat_stream *s);

/* ---- the URIAL paper's tuning-free baselines (src/chat/baselines.c) ------------------
 * Formats of the URIAL kind (plain text, BOS, cleaned as URIAL answers are) that the
 * authors' paper-era code (Re-Align/URIAL src/adapt_utils.py, preprocess()) renders;
 * every string below is theirs, byte for byte (docs/baselines.md):
 *  - zero-shot (adapt_mode "zero_shot"), the query alone in their wrapper:
 *        "# Query: \n ```" + query + "``` \n\n \n# Answer: \n ``` "
 *  - retrieval ICL (adapt_mode "retrieve"): K pool examples, the most similar last,
 *        "# Query: \n ``` " + instruction + " " + input + " ``` \n"
 *        + "\n \n# Answer: \n ``` " + shorten(output) + " ``` " + "\n --- \n"
 *    each (shorten: the first 300 space-separated words + " ... " when longer), then
 *        "# Query: \n ```" + query + " ``` \n" + "\n \n# Answer: \n ``` "
 *  - the paper-era URIAL format (adapt_mode "urial"), the query inline in the fence:
 *        PROMPT_TEXT + "\n# Query:\n```" + query + "```\n\n# Answer:\n```\n"
 * Earlier turns of a conversation, which their code never renders, are ours: the
 * query's wrapper, the answer, then " ``` \n --- \n" (zero-shot, retrieval) or
 * "\n```\n" (legacy). Generation stops at "# Query" (and at "\n --- \n", the examples'
 * separator, for zero-shot and retrieval). */
ur_chat *ur_chat_zero_shot(void);
/* Retrieval ICL with the k (>= 1) most similar examples of r (taken: freed with the format). */
struct ur_retriever;
ur_chat *ur_chat_retrieval(struct ur_retriever *r, int k);
/* A URIAL prompt rendered in the paper-era format (legacy != 0) or today's
 * urial_backticks (0). Fails for templates, the other baselines and the authors'
 * "# User:" variants (inst_help_v5 / v6 files), which have no legacy form. */
int ur_chat_set_urial_format(ur_chat *f, int legacy, ur_err *err);
/* Prefix decoding (the authors' prefix_ref): the model continues after the first
 * `words` words of an aligned model's answer to the same instruction, appended to the
 * rendered prompt (their `prompt + prefix`). The answers: a JSON array or JSON lines
 * with an instruction ("instruction" or "pure_input") and an "output" (a string or a
 * list: the first), and ids (urial run's JSONL, just-eval JSON, AlignTDS's file).
 * prefix = " ".join(output.split(" ")[:words]) (Python's split on single spaces).
 * The final answer is prefix + " " + continuation (ur_chat_join_answer). A query not in
 * the file gets no prefix: callers check with ur_chat_answer_prefix first. The
 * format's name gains "+prefixK". */
int ur_chat_set_answer_prefix(ur_chat *f, const char *aligned_outputs, int words, ur_err *err);

/* "urial", "template", "zero-shot" or "retrieve". */
const char *ur_chat_kind_name(const ur_chat *f);
/* What else identifies the format for a job's config, as a JSON object ("{}" for a
 * URIAL prompt in today's format or a template): the legacy format, the pool (name,
 * hash, k, method), the answer file (name, hash) and the prefix's words. Appends to out. */
void ur_chat_params_json(const ur_chat *f, ur_buf *out);
/* Retrieval: the ids (JSON) of the examples retrieved for a query, most similar first,
 * as a JSON array appended to out; returns 1, or 0 (nothing appended) for other formats. */
int ur_chat_retrieved(const ur_chat *f, const char *query, size_t len, ur_buf *out);
/* Prefix decoding: the answer prefix for a query (appended to out): 1, 0 when the
 * query is not in the answer file, -1 when the format has no answer prefixes. */
int ur_chat_answer_prefix(const ur_chat *f, const char *query, size_t len, ur_buf *out);
/* The instruction of the answer file's item with this id (JSON: 7, "abc"), or NULL. */
const char *ur_chat_answer_instruction(const ur_chat *f, const char *id_json);
/* prefix + " " + continuation, as the authors' postprocess joins them. */
void ur_chat_join_answer(const char *prefix, size_t plen, const char *cont, size_t clen, ur_buf *out);

/* Built-in names with a one-line description, for --help and `urial prompt --list`. */
typedef struct ur_chat_info {
    const char *name;
    const char *desc;
} ur_chat_info;
const ur_chat_info *ur_chat_list(int kind, int *n);

#endif
