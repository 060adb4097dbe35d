/* urial — sampling and the generation loop.
 *
 * Sampler order (the Hugging Face one, which URIAL's and LIMA's decoding used):
 * repetition penalty -> (temperature <= 0: argmax) -> top-k -> temperature ->
 * softmax -> top-p -> min-p -> draw. Repetition penalty divides a positive logit
 * by R and multiplies a negative one by R, once per distinct token in the
 * history: the whole history (prompt included) when repeat_last_n = -1 (Hugging
 * Face / vLLM `repetition_penalty`), or only the last N tokens (llama.cpp's
 * `--repeat-penalty` with `--repeat-last-n N`). */
#ifndef URIAL_GENERATE_H
#define URIAL_GENERATE_H

#include <stdint.h>

#include "urial/base.h"
#include "urial/model.h"

typedef struct ur_sampler_params {
    float temp;           /* <= 0: greedy */
    int top_k;            /* 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off; 0 (UR_PENALTY_DEFAULT): the chat format's default
                             (ur_chat_decoding in urial/chat.h), off without a format */
    int repeat_last_n;    /* -1: all previous tokens (HF); N > 0: last N (llama.cpp) */
    uint64_t seed;
} ur_sampler_params;

#define UR_PENALTY_DEFAULT 0.0f
void ur_sampler_defaults(ur_sampler_params *p); /* greedy, the format's penalty (none without one), seed 0 */

typedef struct ur_sampler ur_sampler;
ur_sampler *ur_sampler_new(const ur_sampler_params *p, int n_vocab);
void ur_sampler_free(ur_sampler *s);
/* Add a token to the penalty history (prompt tokens and sampled ones). */
void ur_sampler_accept(ur_sampler *s, int32_t tok);
void ur_sampler_reset(ur_sampler *s);
/* Pick the next token from n_vocab logits (the array is modified). */
int32_t ur_sample(ur_sampler *s, float *logits);

enum ur_stop_reason {
    UR_STOP_LENGTH = 0, /* max_tokens reached */
    UR_STOP_EOG = 1,    /* end-of-generation token */
    UR_STOP_STRING = 2, /* a stop string appeared */
    UR_STOP_CONTEXT = 3,/* the context is full */
    UR_STOP_CANCEL = 4, /* the callback asked to stop */
};
const char *ur_stop_reason_name(int reason);

/* Constrained decoding (e.g. a grammar): before each token is drawn, apply() sets
 * the logits of every token that may not come next to -INFINITY, and returns 0,
 * or -1 when no token may come (generation then fails with the message it put in
 * err). Then accept() is told the token chosen. End-of-generation tokens stop
 * generation as usual when the mask lets them through. */
typedef struct ur_logit_mask {
    void *user;
    int (*apply)(void *user, float *logits, int n_vocab, ur_err *err);
    void (*accept)(void *user, int32_t tok);
} ur_logit_mask;

typedef struct ur_gen_params {
    int max_tokens;         /* < 0: until the context is full */
    const char *const *stop;/* stop strings (may span tokens; never part of the output) */
    int n_stop;
    int ignore_eog;         /* keep going past end-of-generation tokens */
    ur_sampler_params sampler;
    const ur_logit_mask *mask; /* NULL: unconstrained */
    /* Optional, caller-owned (NULL = not wanted): the ids of the generated tokens in
     * order, at most tokens_cap of them, followed by the end-of-generation token when
     * that stopped generation (stop_reason UR_STOP_EOG; it is not counted in n_gen):
     * min(n_gen + (stop_reason == UR_STOP_EOG), tokens_cap) ids. */
    int32_t *tokens;
    int tokens_cap;
} ur_gen_params;
void ur_gen_defaults(ur_gen_params *p);

/* Streamed text: complete UTF-8 only, never any part of a stop string. Return
 * non-zero to cancel. */
typedef int (*ur_gen_cb)(void *user, const char *text, size_t len);

typedef struct ur_gen_result {
    int n_prompt;      /* prompt tokens */
    int n_reused;      /* of which already in the KV cache (shared prefix) */
    int n_gen;         /* tokens generated */
    double t_prompt;   /* seconds for the prompt */
    double t_gen;      /* seconds for generation */
    int stop_reason;
    ur_buf text;       /* the whole output text (caller frees with ur_buf_free) */
} ur_gen_result;

/* Generate a continuation of `prompt` in context c. The KV cache is reused for
 * the longest common prefix of the prompt and what the context already holds. */
int ur_generate(ur_ctx *c, const int32_t *prompt, int n_prompt, const ur_gen_params *gp, ur_gen_cb cb, void *user,
                ur_gen_result *res, ur_err *err);

/* ---- generation one token at a time --------------------------------------------------
 * For callers that run the forward pass themselves, e.g. a server decoding several
 * sequences in one batch (ur_decode_batch); ur_generate is this loop:
 *     g = ur_gen_begin(m, prompt, n_prompt, &gp, cb, user, &err);   // prompt already decoded
 *     while ((st = ur_gen_step(g, logits, room, &tok, &err)) == 1)   // logits after the last token
 *         decode tok -> logits;
 *     ur_gen_end(g, &res);
 * Stop strings, streaming, the mask and gp->tokens behave exactly as in ur_generate. */
typedef struct ur_gen_state ur_gen_state;
/* prompt[0..n_prompt): the tokens in the context (the repetition penalty's history). */
ur_gen_state *ur_gen_begin(const ur_model *m, const int32_t *prompt, int n_prompt, const ur_gen_params *gp, ur_gen_cb cb,
                           void *user, ur_err *err);
/* Sample from logits (n_vocab floats after the context's last token; modified) and
 * stream the new text. room: the context can take one more token. Returns 1 with
 * *next the token to decode next, 0 when generation has ended (stop reason in
 * ur_gen_peek), -1 on error (the mask's). */
int ur_gen_step(ur_gen_state *g, float *logits, int room, int32_t *next, ur_err *err);
/* The result so far (n_gen, stop_reason, text); t_* and n_reused are not set. */
const ur_gen_result *ur_gen_peek(const ur_gen_state *g);
/* The token the last step sampled (an end-of-generation token too), or -1. */
int32_t ur_gen_last_token(const ur_gen_state *g);
/* Bytes of the text given to the callback so far (the rest is held back). */
size_t ur_gen_emitted(const ur_gen_state *g);
/* Free the state; res (if not NULL) takes the result (the caller frees res->text). */
void ur_gen_end(ur_gen_state *g, ur_gen_result *res);

/* ---- log-probabilities ----------------------------------------------------------------
 * log-softmax of one row of n_vocab logits (in double, max-subtracted): returns the
 * log-probability of `token` (0 if token < 0) and writes the k most likely tokens
 * and their log-probabilities to top_ids / top_lps (most likely first; equal logits:
 * the lower id first, as greedy decoding picks). k may be 0 (then top_* unused). */
double ur_logprobs_row(const float *logits, int n_vocab, int32_t token, int k, int32_t *top_ids, float *top_lps);

#endif
