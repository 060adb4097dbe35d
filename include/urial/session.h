/* urial — answering conversations with a model: a context, a chat format (a URIAL
 * prompt or an aligned model's template) and the format's constant prefix, whose
 * KV cache is computed once and reused by every answer.
 *
 * The prefix is what every rendering of a conversation shares (ur_chat_prefix()
 * with no messages): for URIAL the preamble, the K examples and "\n# Query:\n```\n",
 * ~1.3k Llama-2 tokens for urial-k3; for a template the text before the first user
 * message. A session tokenizes it once, keeps its KV in the context, and starts
 * every answer from it, so a query costs only its own tokens. With a cache
 * directory the prefix's KV is also written to a file there and loaded by later
 * processes instead of being computed (ur_ctx_save_prefix / ur_ctx_load_prefix);
 * a file for another model file or other tokens, or a damaged one, is ignored with
 * a one-line note and rewritten.
 *
 * Typical use:
 *     ur_session *s = ur_session_new(ctx, fmt, &(ur_session_params){UR_REUSE_PREFIX, dir}, &err);
 *     ur_session_warm(s, &err);                    // load or compute the prefix now (optional)
 *     ur_session_answer(s, conv.msgs, conv.n, &gp, stream_cb, user, &ans, &err);
 *     ... ans.text is the cleaned answer; ans.gen has the raw text, counts and timings ... */
#ifndef URIAL_SESSION_H
#define URIAL_SESSION_H

#include <stdint.h>

#include "urial/base.h"
#include "urial/chat.h"
#include "urial/generate.h"
#include "urial/model.h"

/* What an answer may reuse from the KV cache. */
enum ur_reuse {
    /* Exactly the prefix: every answer computes its own tokens the same way, from
     * the same cached prefix, whatever came before it (batch runs: outputs do not
     * depend on the order, the sharding or a resume). */
    UR_REUSE_PREFIX = 0,
    /* The longest common prefix of the prompt and the cache (chat: the earlier turns
     * of the conversation are reused too). */
    UR_REUSE_ALL = 1,
    /* Nothing: each answer computes its whole prompt in an emptied context (the
     * uncached reference). It is computed in the same pieces as UR_REUSE_PREFIX (the
     * prefix, then the rest), so the two give bit-identical logits and outputs. */
    UR_REUSE_NONE = 2,
};

typedef struct ur_session_params {
    int reuse;             /* enum ur_reuse */
    const char *cache_dir; /* directory for the prefix's KV file (created if missing); NULL = none */
} ur_session_params;

typedef struct ur_session ur_session;

/* The context and the format must outlive the session, and nothing else may
 * decode into the context while the session uses it. Fails if the prefix does not
 * fit the context. */
ur_session *ur_session_new(ur_ctx *c, const ur_chat *f, const ur_session_params *p, ur_err *err);
void ur_session_free(ur_session *s);

/* The prefix whose KV is kept: its tokens (BOS included when the model adds one). */
int ur_session_prefix_len(const ur_session *s);
const int32_t *ur_session_prefix_tokens(const ur_session *s);
/* The prefix's cache file (NULL without a cache directory). Its name is
 * MODEL.PROMPT.HASH.kv, HASH covering the model's path and the format's name, so
 * each model and prompt has one file; what is in it is checked on every load. */
const char *ur_session_cache_path(const ur_session *s);

/* Make the context hold the prefix: nothing to do if it does; else load it from
 * the cache file, or compute it (and write the cache file). Returns how (enum
 * below) or -1 on error. A one-line note of what happened with the cache file
 * (loaded, stale and recomputed, could not be written) is kept for
 * ur_session_take_note(). With UR_REUSE_NONE there is nothing to keep (each answer
 * computes its whole prompt): UR_PREFIX_PRESENT. */
enum ur_prefix_how { UR_PREFIX_PRESENT = 0, UR_PREFIX_LOADED = 1, UR_PREFIX_COMPUTED = 2 };
int ur_session_warm(ur_session *s, ur_err *err);
/* The last note (NULL if none since the last call); valid until the next call. */
const char *ur_session_take_note(ur_session *s);

typedef struct ur_answer {
    ur_buf text;       /* the cleaned answer (ur_chat_clean of gen.text) */
    ur_gen_result gen; /* raw text, token counts, timings (t_prompt includes computing the
                          prefix when this answer had to), stop reason */
    int n_cached;      /* prompt tokens not computed for this answer: their KV was in the context
                          or came from the cache file (0 with UR_REUSE_NONE) */
    int too_long;      /* with a -1 return: the prompt does not fit the context */
} ur_answer;
void ur_answer_free(ur_answer *a);

/* Answer the conversation msgs[0..n), which ends with a user message: render it
 * with the generation prompt, tokenize, start from the cached prefix (see enum
 * ur_reuse), generate with gp — the format's stop strings are added to gp's, and
 * its decoding defaults fill what gp leaves at the default (ur_chat_decoding) —
 * and clean. cb gets the raw text as it streams (as for ur_generate). On failure
 * returns -1 with one line in err; too_long tells a prompt that does not fit the
 * context (the session stays usable). */
int ur_session_answer(ur_session *s, const ur_msg *msgs, int n, const ur_gen_params *gp, ur_gen_cb cb, void *user,
                      ur_answer *out, ur_err *err);

#endif
