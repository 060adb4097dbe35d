/* MT19937 as CPython's _randommodule.c runs it (Matsumoto and Nishimura's reference
 * algorithm, init_by_array seeding), so that our draws equal Python's for a seed. */
#include "base/pyrandom.h"

enum { N = 624, M = 397 };
#define MATRIX_A 0x9908b0dfU
#define UPPER 0x80000000U
#define LOWER 0x7fffffffU

static void init_genrand(ur_pyrandom *r, uint32_t s) {
    r->mt[0] = s;
    for (int i = 1; i < N; i++) r->mt[i] = 1812433253U * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = N;
}

static void init_by_array(ur_pyrandom *r, const uint32_t *key, int len) {
    init_genrand(r, 19650218U);
    int i = 1, j = 0;
    for (int k = N > len ? N : len; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525U)) + key[j] + (uint32_t)j;
        i++, j++;
        if (i >= N) r->mt[0] = r->mt[N - 1], i = 1;
        if (j >= len) j = 0;
    }
    for (int k = N - 1; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941U)) - (uint32_t)i;
        i++;
        if (i >= N) r->mt[0] = r->mt[N - 1], i = 1;
    }
    r->mt[0] = 0x80000000U; /* a non-zero initial state is assured */
}

void ur_pyrandom_seed(ur_pyrandom *r, uint64_t n) {
    /* Python: the key is |n| in 32-bit words, least significant first, at least one word */
    uint32_t key[2] = {(uint32_t)n, (uint32_t)(n >> 32)};
    init_by_array(r, key, key[1] ? 2 : 1);
}

static void refill(ur_pyrandom *r) {
    static const uint32_t mag01[2] = {0, MATRIX_A};
    int k;
    uint32_t y;
    for (k = 0; k < N - M; k++) {
        y = (r->mt[k] & UPPER) | (r->mt[k + 1] & LOWER);
        r->mt[k] = r->mt[k + M] ^ (y >> 1) ^ mag01[y & 1];
    }
    for (; k < N - 1; k++) {
        y = (r->mt[k] & UPPER) | (r->mt[k + 1] & LOWER);
        r->mt[k] = r->mt[k + (M - N)] ^ (y >> 1) ^ mag01[y & 1];
    }
    y = (r->mt[N - 1] & UPPER) | (r->mt[0] & LOWER);
    r->mt[N - 1] = r->mt[M - 1] ^ (y >> 1) ^ mag01[y & 1];
    r->mti = 0;
}

uint32_t ur_pyrandom_u32(ur_pyrandom *r) {
    if (r->mti >= N) refill(r);
    uint32_t y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
}

double ur_pyrandom_random(ur_pyrandom *r) {
    uint32_t a = ur_pyrandom_u32(r) >> 5, b = ur_pyrandom_u32(r) >> 6; /* 27 + 26 bits */
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}
