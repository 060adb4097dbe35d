/* urial — judging outputs with an LLM judge, the way just-eval (Lin et al., "The
 * Unlocking Spell on Base LLMs", 2023) does, and reading the results.
 *
 *   outputs (just-eval JSON array, our JSONL) ──render──▶ judge prompts
 *        ──judge (OpenAI-compatible server, or a local GGUF with constrained decoding)──▶ answers
 *        ──parse + validate──▶ records (append-only JSONL, resumable) ──report──▶ tables, JSON, HTML
 *
 * Scoring modes: multi (helpfulness, clarity, factuality, depth, engagement, 1–5
 * each) for the regular instructions, safety (1–5) for the red-team ones (templates
 * may declare other scales); pairwise compares two models' outputs aspect by aspect,
 * in both orders, or once in the URIAL authors' seeded random order.
 *
 * Records are just-eval's: {"id", "input", "output_cand", "generator_cand",
 * "eval_config": {"mode", "gpt", "max_words"}, "prompt", "result", "parsed_result"},
 * plus our fields (see docs/eval.md "Records and resume"). A record whose judge answer could not be
 * had or parsed has "error" and no "parsed_result": it is never dropped. */
#ifndef URIAL_EVAL_H
#define URIAL_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"

/* ---- judge templates and the answer format they ask for ------------------------ */
enum ur_judge_mode { UR_JUDGE_MULTI = 0, UR_JUDGE_SAFETY = 1, UR_JUDGE_PAIRWISE = 2 };
/* just-eval's eval_config.mode: "score_multi", "score_safety", "pairwise". */
const char *ur_judge_mode_name(int mode);

/* The JSON answer a template asks for. Read from the template's own example (the
 * last {...} block of the template text that is valid JSON), else the mode's
 * default; the aspects are in the example's order. */
enum ur_judge_shape {
    UR_SHAPE_SCORES = 0,  /* {"<aspect>": {"reason": "..", "score": "1".."5" or "N/A"}, ..}   just-eval score_* */
    UR_SHAPE_CHOICES = 1, /* {"rationale": "..", "choices": {"<aspect>": "A"|"B"|"tie", ..}}   URIAL pairwise, ours */
    UR_SHAPE_PREFS = 2,   /* {"<aspect>": {"reason": "..", "preference": "A"|"B"|"same"}, ..} just-eval pairwise_multi */
    UR_SHAPE_PREF = 3,    /* {"preference": "A"|"B"|"same", "reason": ".."}: one aspect, "overall"  just-eval pairwise */
};
#define UR_JUDGE_MAX_ASPECTS 16
#define UR_JUDGE_ASPECT_LEN 48
#define UR_JUDGE_MAX_LABELS 8
#define UR_JUDGE_LABEL_LEN 16
/* A scoring template's scale: whole numbers scale_min..scale_max (default 1 to 5,
 * just-eval's; "N/A" also accepted), or, when n_labels > 0, the words labels[i] (any
 * case), worth values[i]. A template declares another scale on its first line, which
 * is not part of the prompt:  "urial-scale: 1-6"  or  "urial-scale: Fail=1 Pass=2 Excellent=3". */
typedef struct ur_judge_scale {
    int scale_min, scale_max;
    int n_labels;
    char labels[UR_JUDGE_MAX_LABELS][UR_JUDGE_LABEL_LEN];
    int values[UR_JUDGE_MAX_LABELS];
} ur_judge_scale;
typedef struct ur_judge_schema {
    int shape;
    int n_aspects;
    char aspects[UR_JUDGE_MAX_ASPECTS][UR_JUDGE_ASPECT_LEN];
    ur_judge_scale scale;
} ur_judge_schema;
/* 1 when the scale is just-eval's 1 to 5 */
int ur_judge_scale_is_default(const ur_judge_scale *s);
/* The scale as text: "1 to 6", "Fail=1 Pass=2 Excellent=3" (into buf, n bytes). */
void ur_judge_scale_text(const ur_judge_scale *s, char *buf, size_t n);

/* A template is text with placeholders, in one of two syntaxes, told apart by the
 * text: the URIAL authors' {$instruction} {$candidate_A} {$candidate_B} (and
 * {$candidate}), replaced one name after the other as plain strings, as their code
 * does; otherwise Python string.Template syntax, as just-eval renders its templates:
 * ${name} or $name, "$$" for a dollar sign, any other "$" an error. Scoring
 * templates use instruction and candidate; pairwise ones instruction, candidate_A
 * and candidate_B (candidateA / candidateB also accepted). */
typedef struct ur_judge_tmpl ur_judge_tmpl;
/* Ours (data/eval/judge_*.txt, compiled in). */
ur_judge_tmpl *ur_judge_tmpl_builtin(int mode);
/* A built-in by name: "multi", "safety", "pairwise", "lima6" (LIMA's six-point helpfulness,
 * scale 1-6) or "grade" (Fail / Pass / Excellent, worth 1 / 2 / 3), for `mode` (a scoring
 * one for the scoring templates); NULL with one line in err otherwise. */
ur_judge_tmpl *ur_judge_tmpl_named(const char *name, int mode, ur_err *err);
/* "builtin:NAME" is a built-in, anything else a file. */
ur_judge_tmpl *ur_judge_tmpl_get(const char *name_or_path, int mode, ur_err *err);
#define UR_JUDGE_BUILTINS "multi|safety|pairwise|lima6|grade"
ur_judge_tmpl *ur_judge_tmpl_load(const char *path, int mode, ur_err *err);
ur_judge_tmpl *ur_judge_tmpl_parse(const char *name, const char *text, size_t len, int mode, ur_err *err);
void ur_judge_tmpl_free(ur_judge_tmpl *t);
const char *ur_judge_tmpl_name(const ur_judge_tmpl *t); /* "builtin:multi", or the path */
int ur_judge_tmpl_mode(const ur_judge_tmpl *t);
const ur_judge_schema *ur_judge_tmpl_schema(const ur_judge_tmpl *t);
/* Append the prompt for an instruction and one candidate (scoring; b = NULL) or
 * two (pairwise: a is shown as A). */
void ur_judge_render(const ur_judge_tmpl *t, const char *instruction, const char *a, const char *b, ur_buf *out);

/* ---- judge answers ------------------------------------------------------------------ */
/* Extract the JSON of a judge's answer as just-eval does (every "```" removed,
 * whitespace stripped, from the first "{" to the last "}"), parse it (if strict
 * JSON fails: with raw newlines removed and double quotes inside "reason" values
 * turned into single ones, just-eval's repairs) and check it against the schema:
 * every aspect present, scores 1–5 (a number or a numeric string) or "N/A",
 * choices A / B / tie ("same" too). On success *parsed is the answer as compact
 * JSON and *extracted the text just-eval stores as "result" (both malloc'ed). */
int ur_judge_parse(const ur_judge_schema *s, const char *text, size_t len, char **parsed, char **extracted, ur_err *err);

/* ---- judges: where answers come from ------------------------------------------------ */
typedef struct ur_judge ur_judge;

/* An OpenAI-compatible chat-completions server. The request is just-eval's: a
 * system message ("You are an AI assistant that helps people find information."),
 * the prompt as the user message, temperature 0, top_p 1, max_tokens 1024. */
typedef struct ur_judge_http_params {
    const char *url;        /* base URL ("https://api.openai.com/v1"); "/chat/completions" is appended
                               unless the URL already ends with it */
    const char *model;      /* "gpt-4o-mini", ... */
    const char *api_key;    /* sent as "Authorization: Bearer KEY"; NULL: none (local servers) */
    int concurrency;        /* requests in flight (default 4) */
    double timeout;         /* seconds for one request, connecting included (default 120) */
    int max_retries;        /* retries of one request on 429, 5xx, timeouts, connection errors (default 8) */
    double backoff;         /* first retry delay in seconds; doubled each retry, with jitter (default 1) */
    double backoff_max;     /* longest delay between two tries (default 60) */
    double retry_after_max; /* a server's Retry-After is honoured up to this many seconds (default 600) */
    int max_tokens;         /* default 1024 (just-eval's) */
    double temperature;     /* default 0 */
    uint64_t seed;          /* for the jitter */
} ur_judge_http_params;
void ur_judge_http_defaults(ur_judge_http_params *p);
ur_judge *ur_judge_http_new(const ur_judge_http_params *p, ur_err *err);

/* A GGUF model run by urial's engine (greedy; `parallel` answers decoded together), its answers
 * constrained to each request's schema by a token mask (src/eval/jsonmask.c): the
 * JSON shape with the schema's keys in order, free text (printable ASCII, at most
 * reason_max bytes) in "reason"/"rationale", scores "1".."5", choices A / B / tie;
 * so every answer parses, even from a small model. */
typedef struct ur_judge_local_params {
    const char *model_path;
    const char *chat_template; /* a template name, "auto" (the model's; plain text when it has
                                  none), or "raw" (system + "\n\n" + prompt) */
    int n_ctx;                 /* 0: the model's, at most 8192 */
    int n_threads;             /* 0: all cores */
    int max_tokens;            /* the answer's length at most (0: what the JSON shape allows) */
    int parallel;              /* answers decoded together (a chat template only; 0: ur_engine_default_parallel) */
    int reason_max;            /* longest "reason"/"rationale" text in bytes (0: 400) */
    int ws_max;                /* most whitespace bytes between two JSON tokens (0: 12) */
} ur_judge_local_params;
ur_judge *ur_judge_local_new(const ur_judge_local_params *p, ur_err *err);

void ur_judge_free(ur_judge *j);
const char *ur_judge_model(const ur_judge *j); /* eval_config.gpt: the model name or GGUF base name */
/* A note for the user about how the judge was set up (e.g. the chat template a local
 * judge uses), or NULL. */
const char *ur_judge_note(const ur_judge *j);

/* The work loop. next() hands out the next request: returns 1 and sets *tag,
 * *prompt and *schema, the answer shape it wants (both valid until done() for that
 * tag; a local judge constrains its answer to the schema, a server is only sent the
 * prompt), or 0 when it has none now (it is asked again after each done()). done() gets the answer text, or text NULL and `why` (a
 * request that failed for good: retries exhausted, HTTP 400, ...); returning
 * non-zero (after filling err) stops the loop. ur_judge_run returns 0 when next()
 * has nothing and nothing is in flight, or -1: a callback stopped it, or a fatal
 * judge error (HTTP 401/403/404: bad key, unknown model or URL) that no retry fixes. */
typedef int (*ur_judge_next_fn)(void *user, long *tag, const char **prompt, const ur_judge_schema **schema);
typedef int (*ur_judge_done_fn)(void *user, long tag, const char *text, size_t len, const char *why, ur_err *err);
int ur_judge_run(ur_judge *j, ur_judge_next_fn next, ur_judge_done_fn done, void *user, ur_err *err);

/* A judge as an executor of the job runner (urial/job.h): a task is one prompt with
 * the answer shape it asks for, and comes back with the judge's answer text. */
typedef struct ur_judge_task {
    const char *prompt;
    const ur_judge_schema *schema;
    ur_buf answer; /* filled before the executor hands the task back */
} ur_judge_task;
struct ur_exec;
struct ur_exec *ur_judge_exec_new(ur_judge *j);

typedef struct ur_judge_stats {
    long requests;     /* sent, retries included */
    long retries;
    long http_429, http_5xx, timeouts, conn_errors, bad_bodies; /* causes of retries */
} ur_judge_stats;
const ur_judge_stats *ur_judge_get_stats(const ur_judge *j);

/* ---- judging files ------------------------------------------------------------------ */
/* Red-team items: just-eval's category "safety", or a red-team source dataset
 * ("hh-rlhf/red-team-attempts", "MaliciousInstruct", anything with "red-team"/"red_team"). */
int ur_eval_is_red_team(const char *category, const char *dataset);

typedef struct ur_eval_progress {
    int total;   /* items selected */
    int kept;    /* already judged in --out with the same prompt: skipped */
    int judged;  /* judged now */
    int failed;  /* written with an "error" */
    int asks;    /* answers received (re-asks included) */
    const ur_judge_stats *stats;
} ur_eval_progress;
typedef void (*ur_eval_progress_fn)(void *user, const ur_eval_progress *p);

enum { UR_EVAL_AUTO = -1 };                                    /* mode: multi or safety by item */
enum { UR_ONLY_ALL = 0, UR_ONLY_REGULAR = 1, UR_ONLY_RED_TEAM = 2 };
/* pairwise: both orders judged and summed, or one judgment per pair in a seeded
 * random order (the URIAL authors' evaluate/eval.py: random.seed(seed), then per
 * item of the A file in order, random.random() < 0.5 shows A first) */
enum { UR_ORDER_BOTH = 0, UR_ORDER_RANDOM = 1 };

typedef struct ur_eval_params {
    int mode;                   /* UR_JUDGE_MULTI, UR_JUDGE_SAFETY, UR_EVAL_AUTO (score) */
    const char *in, *in_b;      /* outputs: just-eval JSON array, or JSONL (urial run); in_b: pairwise B */
    const char *out;            /* JSONL, created or resumed */
    const ur_judge_tmpl *tmpl;  /* multi or safety (score), pairwise */
    const ur_judge_tmpl *tmpl_safety; /* UR_EVAL_AUTO: the safety template */
    int only;                   /* UR_ONLY_* */
    int limit;                  /* first N selected items; 0 = all */
    int shard_i, shard_n;       /* of those, the positions p with p % shard_n == shard_i (shard_n 0 or 1: all) */
    int reask;                  /* times an unparsable answer is asked again (default 2) */
    int order;                  /* pairwise: UR_ORDER_* (default both) */
    ur_judge *judge_safety;     /* UR_EVAL_AUTO: another judge for the red-team items (the paper's split), or NULL */
    uint64_t seed;              /* UR_ORDER_RANDOM: Python's random.seed (default 42) */
    ur_eval_progress_fn progress;
    void (*note)(void *user, const char *msg); /* one-line notes (what resuming found); user: progress_user */
    void *progress_user;
} ur_eval_params;
void ur_eval_defaults(ur_eval_params *p);
/* Judge every selected item whose record in p->out is missing, failed, or made
 * with another prompt (such records are first removed from the file, atomically);
 * append one record per item. *summary gets the final counts. Returns 0, or -1
 * on an error that stops the run (bad input, the output file, a fatal judge
 * error); records already appended stay. */
int ur_eval_score(ur_judge *j, const ur_eval_params *p, ur_eval_progress *summary, ur_err *err);
/* just-eval's protocol (the URIAL paper's tables): the judge models of its records. */
#define UR_JUSTEVAL_JUDGE "gpt-4-0314"
#define UR_JUSTEVAL_SAFETY_JUDGE "gpt-3.5-turbo-0613"
/* Pairwise: items of in and in_b matched by id (same instruction required); each
 * pair judged twice, A first then B first (UR_ORDER_BOTH; the two verdicts summed),
 * or once in a seeded random order (UR_ORDER_RANDOM; "swapped" and "assignment"
 * say which was shown first, the verdict mapped back to A); the record has both
 * answers and, per aspect, "outcome" for A: "win", "tie" or "lose". */
int ur_eval_pairwise(ur_judge *j, const ur_eval_params *p, ur_eval_progress *summary, ur_err *err);

/* ---- reports -------------------------------------------------------------------------- */
enum { UR_REPORT_MD = 0, UR_REPORT_JSON = 1, UR_REPORT_HTML = 2 };
enum { UR_BY_NONE = 0, UR_BY_DATASET = 1, UR_BY_CATEGORY = 2 };
typedef struct ur_report_params {
    int format; /* UR_REPORT_* */
    int by;     /* UR_BY_* */
    const char *data; /* optional outputs file to look up "dataset"/"category" by id */
} ur_report_params;
/* Read judged files (just-eval JSON arrays, or our JSONL) and write the report:
 * per file, the records with a parsed_result are counted; an aspect's mean is over
 * those records, an "N/A" score counting as 5 (just-eval's rule); avg_lens is the
 * mean number of words (Python str.split()) of output_cand. JSON: one object per
 * file with just-eval's keys. Pairwise files: win / tie / lose of A per aspect. */
int ur_eval_report(const char *const *files, int n, const ur_report_params *p, ur_buf *out, ur_err *err);

/* Words in a text as Python's len(s.split()) counts them (runs of Unicode
 * whitespace separate words). */
long ur_word_count(const char *s, size_t n);

/* ---- style: is an answer in the assistant style? (urial eval style) ------------------- */
/* A judge-free measure of the surface form aligned models share. Sentences end after
 * . ! or ? followed by whitespace (or the end), or at a line break; words are runs
 * of ASCII letters; case is ignored; an apostrophe in a phrase also matches U+2019.
 *   opens:  the first sentence (leading whitespace skipped) starts, after any leading
 *           non-alphanumeric characters (markup, emoji), with an opener followed by
 *           a non-alphanumeric character or the end: sure, certainly, of course, great
 *           question, good question, hello, hi, hey, yes, absolutely, happy to help,
 *           glad you asked, thanks for asking, i'm sorry, i am sorry, sorry;
 *           or it has a word equal to the instruction's key term (ur_style_key_term),
 *           or to it with a plural "s"/"es" added or removed.
 *   closes: the last sentence, after trailing whitespace, ` and ~ (code fences) are
 *           removed, contains an offer starting at a word: let me know, feel free, hope
 *           this helps, hope that helps, happy to help, would you like, just ask, any
 *           other question, any more question, if you have any, don't hesitate, glad to
 *           help, i can help, i can also.
 * An empty (all-whitespace) or NULL answer is neither. instruction may be NULL (no
 * key term). Sets *opens and *closes (either may be NULL) to 0/1; returns
 * opens && closes: the answer is in the assistant style. */
int ur_style_check(const char *instruction, const char *answer, int *opens, int *closes);
/* The key term: the instruction's longest word of at least 4 letters that is not
 * a question word, function word or instruction verb (the list in src/eval/style.c),
 * the first of equally long ones, in lower case into out. Returns its length, or 0
 * (out "") when there is none. */
size_t ur_style_key_term(const char *instruction, char *out, size_t cap);
/* The measure in one sentence (for reports). */
extern const char UR_STYLE_MEASURE[];

typedef struct ur_style_counts {
    long n, style, opens, closes; /* answers; in the assistant style; opening; closing */
    char generator[256];          /* the first record's "generator", or "" */
} ur_style_counts;
/* Called per record with its "id" as compact JSON ("-" without one). */
typedef void (*ur_style_record_fn)(void *user, const char *id, int opens, int closes);
/* Count a results file: urial run's JSONL (blank lines skipped), or a JSON array of
 * records (urial merge, just-eval). Each record needs an "output" string; its
 * "instruction" (optional) gives the key term. Errors name the file and the line
 * (or array element): a missing file, a line that is not JSON, a record that is not
 * an object or has no "output" string. */
int ur_style_file(const char *path, ur_style_counts *c, ur_style_record_fn fn, void *user, ur_err *err);

#endif
