/* urial — retrieval of in-context examples (the URIAL paper's "retrieval ICL"
 * baseline): a pool of instruction/answer pairs and, per query, the K pool items
 * whose instructions are most similar to it.
 *
 * Similarity is BM25 (Okapi, Lucene's variant: k1 = 1.2, b = 0.75,
 * idf = ln(1 + (N - df + 0.5) / (df + 0.5))) over the instructions, tokenised into
 * lowercase words: maximal runs of ASCII letters and digits (lowercased) and bytes
 * >= 0x80 (UTF-8 letters kept as they are); everything else separates words. A
 * query's score for a document sums over the query's words, a repeated word counting
 * each time (as rank_bm25's get_scores does).
 *
 * Determinism: scores are summed in the query's word order; equal scores are ordered
 * by pool position (the earlier item first). Never retrieved: an item whose
 * instruction equals the query (both stripped of surrounding whitespace: the query
 * itself when the pool holds the evaluation set), a second item with the same
 * instruction as one already retrieved (exact duplicates), and items with an
 * "input" longer than one character (the URIAL authors' retrieval code skips them).
 *
 * The index (vocabulary, postings, document lengths) is cached in a file next to
 * the pool, POOL.bm25, which records the pool file's hash: a pool that changed
 * (another hash) has its index rebuilt and the file rewritten (atomically). When the
 * file cannot be written the index is built in memory each time (a note says so). */
#ifndef URIAL_RETRIEVE_H
#define URIAL_RETRIEVE_H

#include <stddef.h>
#include <stdint.h>

#include "urial/base.h"

#define UR_BM25_K1 1.2f
#define UR_BM25_B 0.75f

typedef struct ur_retriever ur_retriever;

/* Load a pool: a JSON array or JSON lines of objects with an instruction (the
 * fields the dataset loader reads: "instruction", or AlignTDS's "pure_input") and an
 * "output" (a string, or a list whose first element is used), optionally "id" and
 * "input". Then load or build its index. note (optional) gets one line when the
 * index was built or rebuilt (and why), or could not be cached. Errors name the file
 * and the item. */
ur_retriever *ur_retriever_open(const char *pool_path, ur_buf *note, ur_err *err);
void ur_retriever_free(ur_retriever *r);

int ur_retriever_size(const ur_retriever *r);          /* items in the pool */
uint64_t ur_retriever_pool_hash(const ur_retriever *r); /* FNV-1a of the pool file's bytes */
const char *ur_retriever_path(const ur_retriever *r);
/* "bm25(k1=1.2,b=0.75)", or "embed(MODEL.gguf,mean,cosine)" */
const char *ur_retriever_method(const ur_retriever *r);

/* Similarity by embeddings instead of BM25: each instruction's embedding is the mean
 * of the last hidden states (after the final norm) of model's forward pass over its
 * tokens (BOS as the vocabulary says, at most UR_EMBED_MAX_TOKENS), L2-normalised;
 * a query scores the cosine with it. Any model urial runs. The pool's embeddings are
 * cached next to it in POOL.emb-HASH (HASH of the model file's name, size and
 * modification time), with the pool's hash: rebuilt when either changes. The
 * retriever loads and owns the model (n_threads: 0 = all cores). note as for
 * ur_retriever_open. Queries are embedded one at a time (a lock). */
#define UR_EMBED_MAX_TOKENS 512
int ur_retriever_use_embeddings(ur_retriever *r, const char *model_path, int n_threads, ur_buf *note, ur_err *err);

/* The up to k pool items most similar to the query, most similar first, as pool
 * positions in out[0..k); returns how many (fewer than k only when the pool has
 * fewer items that may be retrieved). Safe to call from several threads at once. */
int ur_retriever_query(const ur_retriever *r, const char *query, size_t len, int k, int *out);

/* A pool item's fields (valid while r lives): its id as compact JSON (7, "abc"),
 * instruction, output and input ("" when absent). */
const char *ur_retriever_id(const ur_retriever *r, int i);
const char *ur_retriever_instruction(const ur_retriever *r, int i);
const char *ur_retriever_output(const ur_retriever *r, int i);
const char *ur_retriever_input(const ur_retriever *r, int i);

/* The index file used for a pool: POOL.bm25 (malloc'ed). */
char *ur_retriever_index_path(const char *pool_path);

#endif
