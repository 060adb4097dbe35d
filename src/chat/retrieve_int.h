/* The retriever's insides, shared by retrieve.c (the pool, BM25, the top K) and
 * retrieve_embed.c (similarity by a model's mean-pooled last hidden states). */
#ifndef URIAL_CHAT_RETRIEVE_INT_H
#define URIAL_CHAT_RETRIEVE_INT_H

#include "urial/retrieve.h"

typedef struct embedder embedder; /* retrieve_embed.c */

struct ur_retriever {
    char *path;
    uint64_t hash;
    int n;
    char **ids, **ins, **out, **inp; /* [n] each */
    unsigned char *eligible;         /* [n] 0: never retrieved (an "input" longer than one character) */
    size_t *sb, *se;                 /* [n] the instruction without surrounding whitespace */
    /* the index: term t's postings are pdoc/ptf[off[t] .. off[t+1]), by document */
    ur_keymap terms;
    uint32_t *off, *pdoc, *ptf, *dlen;
    float *idf, *norm; /* [n_terms]; [n]: k1 * (1 - b + b * dl / avgdl) */
    embedder *emb;     /* set: similarity by embeddings instead of BM25 */
};

/* d's instruction (stripped) equals s[0..n) */
int retrieve_same_text(const ur_retriever *r, int d, const char *s, size_t n);
/* The top k by score[] with the exclusions and ties of urial/retrieve.h; returns how many. */
int retrieve_select(const ur_retriever *r, const float *score, const char *query, size_t len, int k, int *out);
/* Embeddings: score[d] = cosine(query, item d); 0, or -1 (the query could not be embedded:
 * every score stays 0). */
int embed_scores(const ur_retriever *r, const char *query, size_t len, float *score);
void embed_free(embedder *e);
const char *embed_method(const embedder *e); /* "embed(MODEL.gguf,mean,cosine)" */

#endif
