/* urial — a flat C API for foreign-function bindings (python/urial uses it through
 * ctypes from build/liburial.so): plain types only (opaque handles, ints, floats,
 * NUL-terminated UTF-8, caller buffers), so a binding needs no struct layouts.
 * Errors: a function that can fail takes err/errn and writes one line there
 * ("FILE: what is wrong"); returned strings are malloc'ed: free them with urial_free. */
#ifndef URIAL_CAPI_H
#define URIAL_CAPI_H

#include <stdint.h>

/* A GGUF model, or NULL. */
void *urial_model_load(const char *path, char *err, int errn);
void urial_model_free(void *model);
int urial_n_vocab(const void *model);
/* Token ids of text (BOS when add_bos and the vocabulary asks for it; special-token text
 * parsed when special): writes at most max ids, returns the count (call again with a
 * larger buffer if > max), or -1. */
int urial_tokenize(const void *model, const char *text, int add_bos, int special, int32_t *out, int max, char *err,
                   int errn);
/* Teacher-forced logits of every position (n x n_vocab floats into out), the batched
 * forward of `urial logits`. 0, or -1. */
int urial_logits(const void *model, const int32_t *tokens, int n, int threads, float *out, char *err, int errn);
/* Continue prompt as `urial generate` does (BOS as the vocabulary asks; context n_ctx,
 * 0: min(n_ctx_train, 4096), as --ctx); urial_prompt non-NULL: render prompt as a query with that
 * URIAL prompt (built-in name or file), its stops and its repetition penalty, as
 * `urial generate --urial NAME`. repeat_penalty 0: the default (1.1 with a URIAL prompt,
 * else 1). The generated text, or NULL. */
char *urial_generate(const void *model, const char *prompt, const char *urial_prompt, int max_tokens, float temp,
                     int top_k, float top_p, float repeat_penalty, uint64_t seed, int n_ctx, int threads, char *err,
                     int errn);
/* The text a URIAL prompt (built-in name or file) gives for one query, as `urial prompt`. */
char *urial_render_query(const char *urial_prompt, const char *query, char *err, int errn);
/* Token distribution shift of one answer: the base model reads prompt_base + answer,
 * the aligned one prompt_aligned + answer (joint tokenization, BOS as each vocabulary
 * asks, the aligned model's top token ranked, as `urial tds` by default); JSON
 * {"tokens": n, "unshifted", "marginal", "shifted": counts, "positions": [{"pos",
 * "token", "text", "rank", "class", "p_base", "p_align", "kl", "base_top"}]}. */
char *urial_tds(const void *base, const void *aligned, const char *prompt_base, const char *prompt_aligned,
                const char *answer, int threads, char *err, int errn);
void urial_free(void *p);
const char *urial_version(void);

#endif
