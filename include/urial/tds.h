/* urial — token distribution shift (TDS): what alignment tuning changed, token by token.
 *
 * For a query q and an aligned model's answer o = o_1..o_T, each model reads its
 * own input followed by the same answer tokens (Lin et al., "The Unlocking Spell on
 * Base LLMs", 2023, and the authors' AlignTDS code): the aligned model its chat
 * template (x_a), the base model by default the authors' zero-shot wrapper of the
 * plain query (x_b). At step t, P_align is the aligned model's next-token
 * distribution after x_a + o_<t, P_base the base model's after x_b + o_<t. Per step:
 *   - the ranked token: by default the aligned model's own most likely token
 *     (the paper's o_t; ties broken by id), or with UR_TDS_RANK_GIVEN the token
 *     written in the answer (the context always advances with the written token);
 *   - its base rank η_t: 1 + the number of tokens whose base logit is larger, + the
 *     number with an equal logit and a lower id (ties broken by id, as greedy
 *     decoding and `urial logits` break them, so a greedy base token has η = 1);
 *   - the class: unshifted (η = 1), marginal (1 < η <= 3), shifted (η > 3);
 *   - P_base and P_align of the ranked token, the base's three most likely tokens;
 *   - KL(P_align ‖ P_base) and KL(P_base ‖ P_align) over the whole vocabulary, and
 *     AlignTDS's variant (src/compute_dist_diff.py): both models' top UR_TDS_TOPK
 *     logits renormalised by a softmax over each list, then sum over the tokens in
 *     both lists of w_base ln(w_base / w_align) (not a divergence: it can be < 0);
 *     and AlignTDS's TP: the base's renormalised top-k probability of the ranked
 *     token (0 when it is not in the list).
 * Softmax, probabilities and KL are computed in double from the float logits,
 * max-subtracted.
 *
 * Scoring is one teacher-forced forward per model over its own sequence (input +
 * o): each sequence goes through its model in the chunks of n_batch tokens that one
 * ur_decode(all = 1) call over it would use (so the logits are bit-identical to
 * `urial logits`), the two models alternating so that only n_batch x n_vocab logits
 * per model are alive at a time (a 2k-token answer with a 128k vocabulary would
 * otherwise take 1 GB per model); each answer position is reduced to the statistics
 * above as soon as both models have produced its row.
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

/* Which token is ranked at each position. */
enum ur_tds_rank { UR_TDS_RANK_ALIGNED = 0, UR_TDS_RANK_GIVEN = 1 };
const char *ur_tds_rank_name(int mode); /* "aligned", "given" */

#define UR_TDS_TOP 3
/* AlignTDS's top_k (logit_analysis.py stores the top 30 of each model), and the
 * rank its TR gives a token missing from the base's list (compute_dist_diff.py). */
#define UR_TDS_TOPK 30
#define UR_TDS_TR_ABSENT 50

typedef struct ur_tds_pos {
    int32_t token;       /* o_t as written (the context advances with it) */
    int32_t aligned_top; /* the aligned model's most likely token (ties: lower id) */
    int32_t ranked;      /* the token ranked: aligned_top or token (enum ur_tds_rank) */
    int rank;            /* η_t >= 1; 0 when only rank_gt is known (a remote base, below) */
    int rank_gt;         /* 0, or K: η_t > K (the ranked token is not in a remote base's top K) */
    int cls;             /* enum ur_tds_class */
    double p_base;       /* P_base(ranked); NAN when not known (a remote base, beyond its top K) */
    double p_align;      /* P_align(ranked) */
    double tp;           /* AlignTDS's TP (see above); NAN when not known */
    double kl_ab;        /* KL(P_align ‖ P_base) >= 0, nats; NAN when not known (a remote base) */
    double kl_ba;        /* KL(P_base ‖ P_align) >= 0; NAN likewise */
    double kl_topk;      /* AlignTDS's top-k KL(base ‖ aligned); NAN when not known */
    int32_t top[UR_TDS_TOP]; /* the base's most likely tokens, best first (ties: lower id first) */
    double top_p[UR_TDS_TOP];
} ur_tds_pos;

/* AlignTDS's TR of a base rank: η - 1 when η <= UR_TDS_TOPK, else UR_TDS_TR_ABSENT. */
int ur_tds_tr(int rank);

/* The statistics of one position from the two models' logits rows (n_vocab floats
 * each), the written token and the ranking mode. */
void ur_tds_row(const float *base, const float *aligned, int n_vocab, int32_t token, int rank_mode, ur_tds_pos *out);

/* The two models must share their tokenizer: the same number of tokens and, for
 * every id, the same piece and type, and the same BOS/EOS ids (the answer's tokens
 * are shared, so both models must read them as the same text). Returns 0, or -1
 * with one line naming both files and the first difference. */
int ur_tds_same_vocab(const ur_model *base, const ur_model *aligned, ur_err *err);

/* ---- an example's two sequences --------------------------------------------------- */
/* A model's input followed by the answer: ids[0..n_context) the input, ids[n_context..n)
 * the answer o. The base's and the aligned model's sequences of an example hold the
 * same answer tokens; answer position t pairs the base row after ids_b[0..n_context_b
 * + t) with the aligned row after ids_a[0..n_context_a + t). */
typedef struct ur_tds_seq {
    int32_t *ids;
    int n, n_context;
} ur_tds_seq;
void ur_tds_seq_free(ur_tds_seq *s);

/* How a prompt text and an answer text become tokens.
 *  UR_TDS_JOINT: prompt + answer is tokenized as one text (add_bos, parse_special as
 *    for the prompt), so that the tokens at the seam are the ones a model reading that
 *    text sees (a prompt ending in "[/INST] " and an answer "Thank" give "]" then
 *    "▁Thank", not "▁" then "▁Thank"); the input is the longest common prefix of that
 *    and the prompt's own tokens.
 *  UR_TDS_SEPARATE: as AlignTDS (Hugging Face's encode): the prompt alone, the answer
 *    alone without BOS (an SPM vocabulary gives it its leading "▁"), special tokens
 *    parsed in both. */
enum ur_tds_tokenize { UR_TDS_JOINT = 0, UR_TDS_SEPARATE = 1 };
const char *ur_tds_tokenize_name(int mode); /* "joint", "separate" */

/* An answer ending in the vocabulary's EOS text (e.g. "</s>", as in the TDS
 * authors' files) or with `eos` set ends with the EOS token: the aligned model
 * chose to stop there, and the base model's rank of that choice is scored too.
 * Fails when the answer is empty or the prompt gives no input token. */
int ur_tds_seq_text(const ur_vocab *v, const char *prompt, size_t plen, const char *answer, size_t alen, int add_bos,
                    int parse_special, int eos, int tokenize, ur_tds_seq *out, ur_err *err);

/* The text a chat format puts between its generation prompt and the answer: " "
 * for llama-2 ("[/INST] answer </s>"), "" for URIAL and most templates. Found by
 * rendering a user turn with the generation prompt and the same turn with an
 * answer. Appends to *out. */
int ur_tds_answer_sep(const ur_chat *f, ur_buf *out, ur_err *err);

/* AlignTDS's zero-shot wrapper of a query for the base model (logit_analysis.py,
 * i2b with --enable_template), byte for byte:
 *   "# Query: \n ```QUERY``` \n\n \n# Answer: \n ```"
 * Appends to *out. */
void ur_tds_aligntds_prompt(const char *query, size_t len, ur_buf *out);

/* ---- scoring ----------------------------------------------------------------------- */
/* Score the answer shared by b (the base's sequence) and a (the aligned model's):
 * out[0..T) with T = b->n - b->n_context = a->n - a->n_context, the answer tokens
 * equal. Both contexts are emptied first; each is left holding its sequence but the
 * last token. The rows are reduced on the base context's threads. */
int ur_tds_score(ur_ctx *base, ur_ctx *aligned, const ur_tds_seq *b, const ur_tds_seq *a, int rank_mode,
                 ur_tds_pos *out, ur_err *err);

/* ---- a remote base model (src/tds/remote.c) -------------------------------------
 * urial tds --backend openai: the aligned model runs here, the base model on an
 * OpenAI-compatible server (urial serve, vLLM) that returns prompt logprobs:
 * /v1/completions with the base's sequence as token ids, "echo": true,
 * "max_tokens": 0, "logprobs": K and vLLM's "return_tokens_as_token_ids" (top-K
 * entries keyed "token_id:ID", so tokens with the same text stay apart). Per answer
 * position the server gives log P_base of the written token and the base's top K:
 * η of the ranked token is exact when it is among them (1 + the entries with a
 * larger logprob, or an equal one and a lower id), else only η > K is known (rank
 * 0, rank_gt K; P_base unknown unless it is the written token); the class is exact
 * for K >= 3. The full-vocabulary KLs need the whole base distribution: NAN; the
 * top-k KL and TP are exact when K >= UR_TDS_TOPK (logprobs differ from logits by
 * a constant, which the renormalisation removes), else NAN. */

/* The aligned side's top-k list of every position, kept for the remote parse:
 * ids and log-weights (log-softmax over the list), UR_TDS_TOPK per position. */
typedef struct ur_tds_topk {
    int32_t id[UR_TDS_TOPK];
    double lw[UR_TDS_TOPK];
} ur_tds_topk;

/* The aligned side alone: out[t].token, aligned_top, ranked and p_align (as
 * ur_tds_score computes them, bit for bit), the base's fields unknown (rank 0,
 * p_base, tp and the KLs NAN, no top); topk[t] the aligned top-k list. The context
 * is emptied first and left holding the sequence but its last token. */
int ur_tds_score_aligned(ur_ctx *aligned, const ur_tds_seq *a, int rank_mode, ur_tds_pos *out, ur_tds_topk *topk,
                         ur_err *err);

/* The request body (malloc'ed JSON): prompt = seq[0..n) as ids; max_tokens as given
 * (0; 1 for servers that refuse 0). */
char *ur_tds_remote_body(const char *model, const int32_t *seq, int n, int k, int max_tokens);

/* Fill the base's fields of out[0..n - n_context) (after ur_tds_score_aligned, with
 * its topk) from the server's completion of the base's sequence b: choices[0].logprobs
 * with "token_id:ID" tokens, which must echo b. -1 with one line when the answer is
 * not that. */
int ur_tds_remote_parse(const char *json, size_t len, const ur_tds_seq *b, int k, const ur_tds_topk *topk,
                        ur_tds_pos *out, ur_err *err);

/* A token as text for files and the report: its bytes when they are valid UTF-8
 * on their own (" Thank", "\n", "</s>"), else its piece ("<0xE2>": one byte of a
 * character split over byte tokens). Appends to *out. */
void ur_tds_token_text(const ur_vocab *v, int32_t id, ur_buf *out);

/* The per-position array of a tokens.jsonl record:
 *   [{"pos":0,"token":3374,"text":" Thank","aligned_top":3374,"rank":1,"class":"unshifted",
 *     "p_base":0.61,"p_align":0.93,"tp":0.64,"kl_align_base":0.21,"kl_base_align":0.18,
 *     "kl_topk":0.05,"top":[[3374," Thank",0.61],[...],[...]]}, ...]
 * "aligned_top" is followed by "aligned_top_text" when it is not the written token.
 * Probabilities and KL with 6 significant digits; an unknown one is null (a remote
 * base), and when the ranked token is not in a remote base's top K
 * "rank":null,"rank_gt":K. Appends to *out. */
void ur_tds_tokens_json(const ur_vocab *v, const ur_tds_pos *pos, int n, ur_buf *out);

/* ---- summary and report ------------------------------------------------------- */
/* From tokens.jsonl records (JSON lines as `urial tds` writes them, each example
 * once, in any order): summary.json's text (see docs/tds.md "Output files")
 * and, when html is not NULL, the self-contained report.html. Records are taken in
 * "input_index" order, so shards merged in any order give the same bytes. `name`
 * (the file) is used in messages. */
int ur_tds_summarize(const char *name, const char *const *records, int n, ur_buf *summary, ur_buf *html,
                     ur_err *err);

/* The same numbers (summary.json into *summary) and, into *html, only the report's
 * numbers table and figures (no page head, answers or script: for another page,
 * e.g. urial study's report, which includes ur_tds_report_css in its style). */
int ur_tds_figures(const char *name, const char *const *records, int n, ur_buf *summary, ur_buf *html, ur_err *err);
const char *ur_tds_report_css(size_t *len);

/* Several pairs (or runs) in one report, side by side: each pair's records, a label
 * for the page and a name for messages. summaries[i] gets pair i's summary.json. */
typedef struct ur_tds_pair_records {
    const char *label, *name;
    const char *const *records;
    int n;
} ur_tds_pair_records;
int ur_tds_summarize_pairs(const ur_tds_pair_records *pairs, int n_pairs, ur_buf *summaries, ur_buf *html,
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
 * Units are the dataset's items (after --limit, then --shard); each becomes the two
 * sequences (each model's prompt, the shared answer from outputs or decoded greedily
 * by the aligned model after its prompt with the format's stop strings) and one
 * record in OUT_DIR/tokens.jsonl (tds) or
 * OUT_DIR/prefix.jsonl (prefix), on the job runner (urial/job.h): resumable, shardable.
 * Items are skipped with a note when they have no answer in outputs, an empty
 * answer, or do not fit the context. */
struct ur_remote;
/* What a model reads before the answer. */
enum ur_tds_prompt_kind {
    UR_TDS_PROMPT_FORMAT = 0,   /* the query rendered with a chat template or a URIAL prompt (fmt) */
    UR_TDS_PROMPT_INPUT = 1,    /* the TDS authors' rendered "input" (their file only) */
    UR_TDS_PROMPT_ALIGNTDS = 2, /* the authors' zero-shot wrapper of the query (ur_tds_aligntds_prompt) */
    UR_TDS_PROMPT_PLAIN = 3,    /* the query alone (AlignTDS's i2b without --enable_template) */
    UR_TDS_PROMPT_SAME = 4,     /* base only: exactly the aligned model's input tokens */
};
typedef struct ur_tds_prompt {
    int kind;            /* enum ur_tds_prompt_kind */
    const ur_chat *fmt;  /* UR_TDS_PROMPT_FORMAT */
} ur_tds_prompt;
/* The prompt's name in records: "aligntds", "plain", "same", "input", or the format's name. */
const char *ur_tds_prompt_name(const ur_tds_prompt *p);

typedef struct ur_tds_params {
    const ur_dataset *ds;      /* single-turn; the query is the item's instruction ("pure_input"
                                  in the TDS authors' files) */
    const char *outputs;       /* the aligned model's answers matched by id: a JSON array (just-eval,
                                  the TDS authors' files: "output" a string or a list, its first), or
                                  urial run's JSONL; NULL: decoded greedily */
    ur_tds_prompt aligned_prompt; /* not SAME */
    ur_tds_prompt base_prompt;
    int tokenize;              /* enum ur_tds_tokenize */
    int rank;                  /* enum ur_tds_rank */
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

/* Rewrite each of dirs[0..n_dirs)'s summary.json from its tokens.jsonl and write
 * the report: DIR/report.html of the one dir (html NULL), or the page html that puts
 * the dirs side by side (prefix: prefix.json and prefix.html from prefix.jsonl, one
 * dir), each file atomically. summaries[i] gets dir i's summary JSON, n[i] the
 * number of records read, *note (if not NULL) what reading found (an incomplete
 * last line skipped). */
int ur_tds_write_reports(const char *const *dirs, int n_dirs, int prefix, const char *html, ur_buf *summaries, int *n,
                         ur_buf *note, ur_err *err);

#endif
