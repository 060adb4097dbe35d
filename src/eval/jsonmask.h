/* Constrained decoding for the local judge: the JSON answer a schema asks for as a
 * sequence of segments (a deterministic byte automaton), and a token mask over a
 * vocabulary that lets through only tokens whose bytes keep the answer on it.
 *
 * Segments: optional whitespace (at most ws_max bytes), literal text, free text
 * (printable ASCII except '"' and '\\', at most a given length, ended by the
 * closing '"'), one of a few options (prefix-free, e.g. "1".."5"), and the end.
 * Every byte string the automaton accepts up to the end is valid JSON that
 * ur_judge_parse accepts for the schema. */
#ifndef URIAL_JSONMASK_H
#define URIAL_JSONMASK_H

#include <stddef.h>
#include <stdint.h>

#include "urial/eval.h"
#include "urial/generate.h"
#include "urial/tokenizer.h"

#define JM_WS_MAX 12 /* the default */
#define JM_OPT_MAX 10

enum { JM_WS = 0, JM_LIT = 1, JM_STR = 2, JM_ENUM = 3, JM_END = 4 };

typedef struct jm_seg {
    int kind;
    char *lit;   /* JM_LIT */
    int len;     /* JM_LIT: bytes; JM_STR, JM_WS: most bytes */
    int n_opts;  /* JM_ENUM */
    const char *opts[JM_OPT_MAX];
} jm_seg;

typedef struct jm_shape {
    char scores[10][2]; /* a numeric scale's scores as text, for its JM_ENUM */
    jm_seg *segs;
    int n;
    size_t max_bytes; /* the longest accepted answer */
    int ws_max;
} jm_shape;

typedef struct jm_state {
    int seg;
    int pos;    /* bytes consumed in the segment */
    char buf[UR_JUDGE_LABEL_LEN]; /* JM_ENUM: those bytes */
} jm_state;

/* reason_max: longest free text; ws_max: most whitespace between tokens (0: JM_WS_MAX) */
int jm_shape_init(jm_shape *sh, const ur_judge_schema *s, int reason_max, int ws_max);
void jm_shape_free(jm_shape *sh);
/* Feed bytes: 0 if the answer stays valid (st advanced), -1 if not (st unchanged). */
int jm_feed(const jm_shape *sh, jm_state *st, const char *b, size_t n);
int jm_complete(const jm_shape *sh, const jm_state *st);

/* The mask for ur_gen_params.mask: tokens of `v` whose bytes the automaton takes
 * from the current state; at the end only end-of-generation tokens. */
typedef struct jm_mask {
    const ur_vocab *v;
    int n_vocab;
    char **bytes;   /* each token's bytes (NUL-terminated), as generation prints them */
    int *len;
    const jm_shape *shape;
    jm_state st;
    int rejected;   /* accept() got a token the mask did not allow */
    int shared;     /* bytes/len belong to another mask (jm_mask_share) */
    ur_logit_mask hook;
} jm_mask;
int jm_mask_init(jm_mask *m, const ur_vocab *v);
/* A mask with its own state on the token tables of `from` (which must outlive it). */
void jm_mask_share(jm_mask *m, const jm_mask *from);
void jm_mask_start(jm_mask *m, const jm_shape *sh); /* a new answer */
void jm_mask_free(jm_mask *m);

#endif
