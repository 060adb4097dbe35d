/* urial — token distribution shift (TDS): what alignment tuning changed, token by token.
 *
 * For a query q and an aligned model's answer o = o_1..o_T, the context at step t
 * is x_t = input + o_<t, and P_align / P_base are the next-token distributions of
 * the aligned and the base model on x_t (Lin et al., "The Unlocking Spell on Base
 * LLMs", 2023). Per step:
 *   - the base rank η_t of o_t under P_base: 1 + the number of tokens whose base
 *     logit is larger than o_t's, + the number with an equal logit and a lower id
 *     (ties are broken by id, as greedy decoding and `urial logits` break them, so
 *     a greedy base token always has η = 1);
 *   - the class: unshifted (η = 1), marginal (1 < η <= 3), shifted (η > 3);
 *   - P_base(o_t), P_align(o_t), the base's three most likely tokens and their
 *     probabilities, and KL(P_align ‖ P_base) in nats.
 * Softmax, probabilities and KL are computed in double from the float logits,
 * max-subtracted, over the whole vocabulary.
 *
 * Scoring is one batched, teacher-forced forward per model over input + o: the
 * sequence goes through each model in the same chunks of n_batch tokens that one
 * ur_decode(all = 1) call over all of it would use (so the logits are bit-identical
 * to `urial logits`), alternating the two models chunk by chunk so that only
 * n_batch x n_vocab logits per model are alive at a time (a 2k-token answer with a
 * 32k vocabulary would otherwise take 256 MB per model); each logits row is reduced
 * to the statistics above as soon as both models have produced it.
 *
 * Positions are 0-based in the API and the files: pos 0 is o_1, the first output
 * token. */
#ifndef URIAL_TDS_H
#define URIAL_TDS_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"
#include "urial/chat.h"
#include "urial/dataset.h"
#include "urial/job.h"
#include "urial/model.h"
#include "urial/tokenizer.h"

enum ur_tds_class { UR_TDS_UNSHIFTED = 0, UR_TDS_MARGINAL = 1, UR_TDS_SHIFTED = 2 };
const char *ur_tds_class_name(int cls); /* "unshifted", "marginal", "shifted" */
int ur_tds_class_of(int rank);          /* the class of a base rank η >= 1 */

#define UR_TDS_TOP 3

typedef struct ur_tds_pos {
    int32_t token;  /* o_t */
    int rank;       /* η_t >= 1; 0 when only rank_gt is known (a remote base, below) */
    int rank_gt;    /* 0, or K: η_t > K (o_t is not in a remote base's top K) */
    int cls;        /* enum ur_tds_class */
    double p_base;  /* P_base(o_t) */
    double p_align; /* P_align(o_t) */
    double kl;      /* KL(P_align ‖ P_base) >= 0, nats; NAN when not known (a remote base) */
    int32_t top[UR_TDS_TOP]; /* the base's most likely tokens, best first (ties: lower id first) */
    double top_p[UR_TDS_TOP];
} ur_tds_pos;

/* The statistics of one position from the two models' logits rows (n_vocab floats
 * each) and the aligned token. */
void ur_tds_row(const float *base, const float *aligned, int n_vocab, int32_t token, ur_tds_pos *out);

/* The two models must share their tokenizer: the same number of tokens and, for
 * every id, the same piece and type, and the same BOS/EOS ids. Returns 0, or -1
 * with one line naming both files and the first difference. */
int ur_tds_same_vocab(const ur_model *base, const ur_model *aligned, ur_err *err);

/* Score o = seq[n_context..n) given the context seq[0..n_context) (n_context >= 1,
 * n > n_context): out[0..n - n_context) gets the statistics of each output token.
 * Both contexts are emptied first and must hold n - 1 tokens; they are left
 * holding seq[0..n-1). The rows of a chunk are reduced on the base context's
 * threads. */
int ur_tds_score(ur_ctx *base, ur_ctx *aligned, const int32_t *seq, int n, int n_context, ur_tds_pos *out,
                 ur_err *err);

/* ---- a remote base model (src/tds/remote.c) -------------------------------------
 * urial tds --backend openai: the aligned model runs here, the base model on an
 * OpenAI-compatible server (urial serve, vLLM) that returns prompt logprobs:
 * /v1/completions with the sequence as token ids, "echo": true, "max_tokens": 0,
 * "logprobs": K and vLLM's "return_tokens_as_token_ids" (top-K entries keyed
 * "token_id:ID", so tokens with the same text stay apart). Per answer position the
 * server gives log P_base(o_t) and the base's top K: η is exact when o_t is among
 * them (1 + the entries with a larger logprob, or an equal one and a lower id),
 * else only η > K is known (rank 0, rank_gt K); the class is exact for K >= 3.
 * KL needs the whole base distribution: NAN. */

/* The aligned side alone: out[t].token and p_align (as ur_tds_score computes it,
 * bit for bit), the base's fields unknown (rank 0, p_base and kl NAN, no top).
 * The context is emptied first and left holding seq[0..n-1). */
int ur_tds_score_aligned(ur_ctx *aligned, const int32_t *seq, int n, int n_context, ur_tds_pos *out, ur_err *err);

/* The request body (malloc'ed JSON): prompt = seq[0..n) as ids; max_tokens as given
 * (0; 1 for servers that refuse 0). */
char *ur_tds_remote_body(const char *model, const int32_t *seq, int n, int k, int max_tokens);

/* Fill the base's fields of out[0..n - n_context) (after ur_tds_score_aligned)
 * from the server's completion: choices[0].logprobs with "token_id:ID" tokens,
 * which must echo seq. -1 with one line when the answer is not that. */
int ur_tds_remote_parse(const char *json, size_t len, const int32_t *seq, int n, int n_context, int k,
                        ur_tds_pos *out, ur_err *err);

/* ---- building an example's sequence ------------------------------------------- */
/* input + o as tokens: ids[0..n_context) the input, ids[n_context..n) the answer o. */
typedef struct ur_tds_seq {
    int32_t *ids;
    int n, n_context;
} ur_tds_seq;
void ur_tds_seq_free(ur_tds_seq *s);

/* From a rendered prompt and an answer's text. The text prompt + answer is
 * tokenized as one piece (add_bos, parse_special as for the prompt), so that the
 * tokens at the seam are the ones a model reading that text sees (e.g. a prompt
 * ending in "[/INST] " and an answer "Thank" give "]" then "▁Thank", not "▁" then
 * "▁Thank"); the input is the longest common prefix of that and the prompt's own
 * tokens. An answer ending in the vocabulary's EOS text (e.g. "</s>", as in the
 * TDS authors' files) or with `eos` set ends with the EOS token: the aligned model
 * chose to stop there, and the base model's rank of that choice is scored too.
 * Fails when the answer is empty or the prompt gives no input token. */
int ur_tds_seq_text(const ur_vocab *v, const char *prompt, size_t plen, const char *answer, size_t alen, int add_bos,
                    int parse_special, int eos, ur_tds_seq *out, ur_err *err);

/* The text a chat format puts between its generation prompt and the answer: " "
 * for llama-2 ("[/INST] answer </s>"), "" for URIAL and most templates. Found by
 * rendering a user turn with the generation prompt and the same turn with an
 * answer. Appends to *out. */
int ur_tds_answer_sep(const ur_chat *f, ur_buf *out, ur_err *err);

/* A token as text for files and the report: its bytes when they are valid UTF-8
 * on their own (" Thank", "\n", "</s>"), else its piece ("<0xE2>": one byte of a
 * character split over byte tokens). Appends to *out. */
void ur_tds_token_text(const ur_vocab *v, int32_t id, ur_buf *out);

/* The per-position array of a tokens.jsonl record:
 *   [{"pos":0,"token":3374,"text":" Thank","rank":1,"class":"unshifted","p_base":0.61,
 *     "p_align":0.93,"kl":0.21,"top":[[3374," Thank",0.61],[...],[...]]}, ...]
 * Probabilities and KL with 6 significant digits. A remote base: "kl":null, and
 * when o_t is not in the base's top K "rank":null,"rank_gt":K. Appends to *out. */
void ur_tds_tokens_json(const ur_vocab *v, const ur_tds_pos *pos, int n, ur_buf *out);

/* ---- summary and report ------------------------------------------------------- */
/* From tokens.jsonl records (JSON lines as `urial tds` writes them, each example
 * once, in any order): summary.json's text (see docs/tds.md "Output files")
 * and, when html is not NULL, the self-contained report.html. Records are taken in
 * "input_index" order, so shards merged in any order give the same bytes. `name`
 * (the file) is used in messages. */
int ur_tds_summarize(const char *name, const char *const *records, int n, ur_buf *summary, ur_buf *html,
                     ur_err *err);

/* ---- the prefix experiment ------------------------------------------------------- */
/* Given the first k tokens of an aligned answer o (forced into the base model's
 * context after the input), the base model continues greedily; its j-th token
 * (j >= 0) is compared with o_{k+j}. A `urial tds prefix` record holds, per k,
 *   {"k":5,"compared":T-k,"matched":M,"exact":E,"match":"1101...","continuation":[ids]}
 * (E: the length of the initial run of matches; "match" has one 0/1 per compared
 * position). prefix.json: per k, the answers long enough (T > k), the positions
 * compared and matched, the agreement ratio, the mean exact run, and the agreement
 * by position after the prefix; prefix.html: that as a table and one SVG plot
 * (#prefix-plot: agreement against the position after the prefix, a line per k). */
int ur_tds_prefix_summarize(const char *name, const char *const *records, int n, ur_buf *json, ur_buf *html,
                            ur_err *err);

/* ---- the jobs: `urial tds` and `urial tds prefix` (src/tds/job.c, run.c) ----------------
 * Units are the dataset's items (after --limit, then --shard); each becomes input +
 * answer tokens (rendered with fmt, or the item's own "input" in the TDS authors'
 * files; the answer from outputs, or decoded greedily by the aligned model with the
 * format's stop strings) and one record in OUT_DIR/tokens.jsonl (tds) or
 * OUT_DIR/prefix.jsonl (prefix), on the job runner (urial/job.h): resumable, shardable.
 * Items are skipped with a note when they have no answer in outputs, an empty
 * answer, or do not fit the context. */
struct ur_remote;
typedef struct ur_tds_params {
    const ur_dataset *ds;      /* single-turn */
    const char *outputs;       /* the aligned model's answers matched by id: a JSON array (just-eval,
                                  the TDS authors' files: "output" a string or a list, its first), or
                                  urial run's JSONL; NULL: decoded greedily */
    const ur_chat *fmt;        /* NULL: the items' rendered "input" (UR_DATA_ALIGNTDS) */
    ur_ctx *base, *aligned;    /* base: NULL when the base model is on a server */
    const char *base_name;     /* the base model's file, or its name on the server (config) */
    const char *aligned_name;  /* the aligned model's file (config) */
    struct ur_remote *client;  /* the base's server, or NULL */
    int top_k;                 /* logprobs asked of the server (>= 3) */
    int max_tokens;            /* answer tokens scored at most: -1 all (default with outputs), else N
                                  (default 1024 generated) */
    ur_job_select sel;
    const char *out_dir;       /* created if missing */
    const int *ks;             /* prefix: the prefix lengths */
    int n_ks;
    /* optional, with hook_user: progress; one-line notes (skipped items, resuming) */
    void (*progress)(void *hook_user, const ur_job_progress *p);
    void (*note)(void *hook_user, const char *line);
    void *hook_user;
} ur_tds_params;

typedef struct ur_tds_summary {
    ur_job_progress p;
    long scored_tokens;  /* tokens through both models (local), or answer tokens (remote) */
    double t_score;      /* seconds of that */
    int max_tokens;      /* the max_tokens the run used (its default resolved) */
} ur_tds_summary;

/* Score every unit not yet in OUT_DIR/tokens.jsonl: the base model's ranks of the
 * aligned answer's tokens, locally or (client set) from the server's logprobs, with
 * up to the client's concurrency of requests in flight. 0 when every unit finished
 * (recorded or skipped), -1 with err; records appended stay. */
int ur_tds_run(const ur_tds_params *p, ur_tds_summary *s, ur_err *err);
/* The prefix experiment for every unit not yet in OUT_DIR/prefix.jsonl (local only). */
int ur_tds_prefix_run(const ur_tds_params *p, ur_tds_summary *s, ur_err *err);

/* Rewrite OUT_DIR's summary.json and report.html from tokens.jsonl (prefix: prefix.json
 * and prefix.html from prefix.jsonl), atomically. *summary gets the summary's JSON,
 * *n the number of records read, *note (if not NULL) what reading found (an
 * incomplete last line skipped). */
int ur_tds_write_reports(const char *dir, int prefix, ur_buf *summary, int *n, ur_buf *note, ur_err *err);

#endif
