/* Samplers: see urial/generate.h for the order and the two repetition penalties. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "urial/generate.h"

struct ur_sampler {
    ur_sampler_params p;
    int n_vocab;
    uint64_t rng;
    /* penalty history: count of each token in the window, and the window itself */
    int32_t *count;
    int32_t *ring;
    int ring_n, ring_pos;
    /* scratch for candidates */
    int32_t *idx;
    float *prob;
};

void ur_sampler_defaults(ur_sampler_params *p) {
    memset(p, 0, sizeof *p);
    p->temp = 0.0f;
    p->top_p = 1.0f;
    p->repeat_penalty = UR_PENALTY_DEFAULT;
    p->repeat_last_n = -1;
}

static uint64_t next_u64(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

ur_sampler *ur_sampler_new(const ur_sampler_params *p, int n_vocab) {
    ur_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->count = calloc((size_t)n_vocab, sizeof *s->count);
    s->idx = malloc(sizeof *s->idx * (size_t)n_vocab);
    s->prob = malloc(sizeof *s->prob * (size_t)n_vocab);
    if (p->repeat_last_n > 0) s->ring = malloc(sizeof *s->ring * (size_t)p->repeat_last_n);
    if (!s->count || !s->idx || !s->prob || (p->repeat_last_n > 0 && !s->ring)) {
        ur_sampler_free(s);
        return NULL;
    }
    s->rng = p->seed;
    return s;
}

void ur_sampler_free(ur_sampler *s) {
    if (!s) return;
    free(s->count), free(s->ring), free(s->idx), free(s->prob), free(s);
}

void ur_sampler_reset(ur_sampler *s) {
    memset(s->count, 0, sizeof *s->count * (size_t)s->n_vocab);
    s->ring_n = s->ring_pos = 0;
    s->rng = s->p.seed;
}

void ur_sampler_accept(ur_sampler *s, int32_t tok) {
    if (tok < 0 || tok >= s->n_vocab) return;
    if (s->p.repeat_last_n > 0) {
        if (s->ring_n == s->p.repeat_last_n) s->count[s->ring[s->ring_pos]]--;
        else s->ring_n++;
        s->ring[s->ring_pos] = tok;
        s->ring_pos = (s->ring_pos + 1) % s->p.repeat_last_n;
    }
    s->count[tok]++;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static int cmp_desc(const void *a, const void *b, void *ctx) {
    const float *l = ctx;
    float x = l[*(const int32_t *)a], y = l[*(const int32_t *)b];
    if (x != y) return x < y ? 1 : -1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

int32_t ur_sample(ur_sampler *s, float *logits) {
    const int nv = s->n_vocab;
    const ur_sampler_params *p = &s->p;
    if (p->repeat_penalty > 0 && p->repeat_penalty != 1.0f && p->repeat_last_n != 0)
        for (int i = 0; i < nv; i++)
            if (s->count[i] > 0) logits[i] = logits[i] > 0 ? logits[i] / p->repeat_penalty : logits[i] * p->repeat_penalty;
    if (p->temp <= 0.0f) return argmax(logits, nv);

    /* candidates sorted by logit (only the top k when top-k is on) */
    int n = nv;
    for (int i = 0; i < nv; i++) s->idx[i] = i;
    if (p->top_k > 0 && p->top_k < nv) {
        /* quickselect: move the k largest logits to the front, then sort only those */
        n = p->top_k;
        int lo = 0, hi = nv - 1;
        const int k = n - 1;
        while (lo < hi) {
            const float pivot = logits[s->idx[(lo + hi) / 2]];
            int i = lo, j = hi;
            while (i <= j) {
                while (logits[s->idx[i]] > pivot) i++;
                while (logits[s->idx[j]] < pivot) j--;
                if (i <= j) {
                    int32_t t = s->idx[i];
                    s->idx[i++] = s->idx[j];
                    s->idx[j--] = t;
                }
            }
            if (k <= j) hi = j;
            else if (k >= i) lo = i;
            else break;
        }
    }
    qsort_r(s->idx, (size_t)n, sizeof *s->idx, cmp_desc, logits);

    /* softmax with temperature over the candidates */
    const float max = logits[s->idx[0]];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        s->prob[i] = expf((logits[s->idx[i]] - max) / p->temp);
        sum += s->prob[i];
    }
    for (int i = 0; i < n; i++) s->prob[i] = (float)(s->prob[i] / sum);

    /* top-p: the smallest prefix whose mass reaches p (at least one token) */
    if (p->top_p < 1.0f) {
        double cum = 0.0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            cum += s->prob[i];
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    /* min-p: drop tokens below min_p times the top probability */
    if (p->min_p > 0.0f) {
        const float floor_p = p->min_p * s->prob[0];
        int keep = 1;
        while (keep < n && s->prob[keep] >= floor_p) keep++;
        n = keep;
    }
    double total = 0.0;
    for (int i = 0; i < n; i++) total += s->prob[i];
    double r = (double)(next_u64(&s->rng) >> 11) * (1.0 / 9007199254740992.0) * total;
    double acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += s->prob[i];
        if (r < acc) return s->idx[i];
    }
    return s->idx[n - 1];
}
