/* Python's random module reproduced (src/base/pyrandom.c): the draws recorded from
 * CPython by tests/ref/pyrandom/gen.py (tests/ref/pyrandom/draws.txt) for several
 * seeds, 32-bit outputs, random() values bit for bit, and the URIAL authors'
 * A/B coins for random.seed(42). */
#include "harness.h"

#include <stdint.h>

#include "base/pyrandom.h"

#define DRAWS "tests/ref/pyrandom/draws.txt"

static char *next_line(FILE *f, char *buf, size_t n, const char *tag) {
    if (!fgets(buf, (int)n, f)) return NULL;
    size_t k = strlen(tag);
    if (strncmp(buf, tag, k) || buf[k] != ' ') return NULL;
    return buf + k + 1;
}

static void recorded_seeds(void) {
    FILE *f = fopen(DRAWS, "r");
    REQUIRE(f);
    char line[4096];
    int seeds = 0;
    char *p;
    while ((p = next_line(f, line, sizeof line, "seed"))) {
        uint64_t seed = strtoull(p, NULL, 10);
        ur_pyrandom r;
        ur_pyrandom_seed(&r, seed);
        char *q = next_line(f, line, sizeof line, "u32");
        REQUIRE(q);
        for (int i = 0; i < 8; i++) {
            unsigned long want = strtoul(q, &q, 10);
            uint32_t got = ur_pyrandom_u32(&r);
            CHECKF(got == want, "seed %llu: u32[%d] = %u, Python %lu", (unsigned long long)seed, i, got, want);
        }
        ur_pyrandom_seed(&r, seed);
        q = next_line(f, line, sizeof line, "random");
        REQUIRE(q);
        for (int i = 0; i < 8; i++) {
            double want = strtod(q, &q), got = ur_pyrandom_random(&r);
            CHECKF(got == want, "seed %llu: random()[%d] = %.17g, Python %.17g", (unsigned long long)seed, i, got, want);
        }
        for (int i = 8; i < 999; i++) ur_pyrandom_random(&r);
        q = next_line(f, line, sizeof line, "random1000");
        REQUIRE(q);
        double want = strtod(q, NULL), got = ur_pyrandom_random(&r);
        CHECKF(got == want, "seed %llu: random() #1000 = %.17g, Python %.17g", (unsigned long long)seed, got, want);
        seeds++;
    }
    CHECKF(seeds == 8, "%d seeds read from " DRAWS, seeds);
    fclose(f);
}

static void urial_coins(void) {
    FILE *f = fopen(DRAWS, "r");
    REQUIRE(f);
    char line[4096], want[64] = "";
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "coins42 ", 8)) sscanf(line + 8, "%63s", want);
    fclose(f);
    REQUIRE(strlen(want) == 40);
    ur_pyrandom r;
    ur_pyrandom_seed(&r, 42);
    char got[41];
    for (int i = 0; i < 40; i++) got[i] = ur_pyrandom_random(&r) < 0.5 ? 'A' : 'B';
    got[40] = 0;
    CHECKF(!strcmp(got, want), "coins %s, Python %s", got, want);
}

int main(void) {
    th_suite = "pyrandom";
    RUN(recorded_seeds);
    RUN(urial_coins);
    TEST_MAIN_END();
}
