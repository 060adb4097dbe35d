/* Python's `random` module, bit for bit: the Mersenne Twister MT19937 seeded as
 * random.seed(n) seeds it for an integer n (init_by_array over the 32-bit words of
 * |n|, least significant first), and random.random()'s 53-bit double from two
 * 32-bit draws. Used where a published script draws with random.seed(42) and we
 * must reproduce its choices (the URIAL authors' random A/B order in pairwise
 * judging: evaluate/eval.py draws random.random() < 0.5 once per item). */
#ifndef URIAL_BASE_PYRANDOM_H
#define URIAL_BASE_PYRANDOM_H

#include <stdint.h>

typedef struct ur_pyrandom {
    uint32_t mt[624];
    int mti;
} ur_pyrandom;

/* random.seed(n) for a non-negative integer n < 2^64 */
void ur_pyrandom_seed(ur_pyrandom *r, uint64_t n);
/* the next 32-bit output of MT19937 (genrand_uint32) */
uint32_t ur_pyrandom_u32(ur_pyrandom *r);
/* random.random(): [0, 1), 53 bits */
double ur_pyrandom_random(ur_pyrandom *r);

#endif
