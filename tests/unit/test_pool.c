/* The thread pool: every index exactly once for many sizes, chunks and thread
 * counts; nested and concurrent calls; reductions independent of the thread count;
 * the workers really take part; many short jobs back to back (races, lost wakes). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "harness.h"
#include "urial/pool.h"

/* ---- coverage ------------------------------------------------------------------- */
typedef struct cover {
    atomic_int *hits;
    int64_t n;
    int nt;
    atomic_int bad; /* a range out of [0, n), empty, or a tid out of range */
} cover;

static void cover_body(void *arg, int64_t i0, int64_t i1, int tid) {
    cover *c = arg;
    if (i0 < 0 || i1 > c->n || i0 >= i1 || tid < 0 || tid >= c->nt) atomic_store(&c->bad, 1);
    for (int64_t i = i0; i < i1 && i < c->n; i++)
        if (i >= 0) atomic_fetch_add(&c->hits[i], 1);
}

/* every index once, for p (NULL allowed) over n items in chunks of `chunk` */
static int covers_once(ur_pool *p, int64_t n, int64_t chunk) {
    cover c = {calloc((size_t)n + 1, sizeof(atomic_int)), n, ur_pool_threads(p), 0};
    if (!c.hits) abort();
    ur_pool_for(p, n, chunk, cover_body, &c);
    int ok = !atomic_load(&c.bad);
    for (int64_t i = 0; i < n; i++) ok &= atomic_load(&c.hits[i]) == 1;
    free(c.hits);
    return ok;
}

static void every_index_once(void) {
    const int nts[] = {1, 2, 3, 4, 8};
    const int64_t ns[] = {0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, 4097};
    const int64_t chunks[] = {0, 1, 2, 3, 7, 64, 5000};
    for (size_t a = 0; a < sizeof nts / sizeof *nts; a++) {
        ur_err err;
        ur_pool *p = ur_pool_new(nts[a], &err);
        REQUIRE(p);
        CHECK(ur_pool_threads(p) == nts[a]);
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++)
                CHECKF(covers_once(p, ns[b], chunks[c]), "threads %d, n %lld, chunk %lld", nts[a], (long long)ns[b],
                       (long long)chunks[c]);
        ur_pool_free(p);
    }
    CHECK(ur_pool_threads(NULL) == 1);
    CHECK(covers_once(NULL, 1000, 7));
}

/* n smaller than the thread count, and a pool of 0 (= the number of cores) */
static void small_n_and_default_size(void) {
    ur_pool *p = ur_pool_new(8, NULL);
    REQUIRE(p);
    for (int64_t n = 1; n <= 8; n++) CHECKF(covers_once(p, n, 1), "n %lld", (long long)n);
    ur_pool_free(p);
    p = ur_pool_new(0, NULL);
    REQUIRE(p);
    CHECK(ur_pool_threads(p) == ur_n_cores());
    CHECK(covers_once(p, 100, 3));
    ur_pool_free(p);
    ur_pool_free(NULL);
}

/* ---- nested calls ---------------------------------------------------------------- */
typedef struct nest {
    ur_pool *same, *other;
    atomic_int ok, inner_tid_nonzero;
} nest;

static void inner_tid_body(void *arg, int64_t i0, int64_t i1, int tid) {
    nest *s = arg;
    (void)i0, (void)i1;
    if (tid != 0) atomic_store(&s->inner_tid_nonzero, 1);
}

static void nest_body(void *arg, int64_t i0, int64_t i1, int tid) {
    nest *s = arg;
    (void)tid;
    for (int64_t i = i0; i < i1; i++) {
        /* inner loops on the same pool and on another one run inline on this thread */
        if (!covers_once(s->same, 50 + i, 3) || !covers_once(s->other, 10 + i, 1)) atomic_store(&s->ok, 0);
        ur_pool_for(s->same, 20, 1, inner_tid_body, s);
        ur_pool_for(s->other, 20, 1, inner_tid_body, s);
    }
}

static void nested_calls_run_inline(void) {
    nest s = {ur_pool_new(3, NULL), ur_pool_new(2, NULL), 1, 0};
    REQUIRE(s.same && s.other);
    ur_pool_for(s.same, 40, 1, nest_body, &s);
    CHECK(atomic_load(&s.ok));
    CHECK(!atomic_load(&s.inner_tid_nonzero));
    ur_pool_free(s.same);
    ur_pool_free(s.other);
}

/* ---- reductions ----------------------------------------------------------------- */
static double term(int64_t i) { /* a wide dynamic range, so the order of additions shows */
    return ((i % 7) - 3) * (1.0 / (double)(i + 1)) * ((i % 5 == 0) ? 1e12 : 1.0);
}

static double sum_body(void *arg, int64_t i0, int64_t i1, int tid) {
    (void)arg, (void)tid;
    double s = 0;
    for (int64_t i = i0; i < i1; i++) s += term(i);
    return s;
}

static void reductions_independent_of_threads(void) {
    const int nts[] = {1, 2, 3, 8};
    const int64_t ns[] = {1, 2, 5, 100, 10007};
    const int64_t chunks[] = {1, 4, 64};
    for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
        for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
            /* the expected value: chunk sums added in chunk order, sequentially */
            double want = 0;
            for (int64_t i0 = 0; i0 < ns[b]; i0 += chunks[c])
                want += sum_body(NULL, i0, i0 + chunks[c] < ns[b] ? i0 + chunks[c] : ns[b], 0);
            CHECK(ur_pool_sum(NULL, ns[b], chunks[c], sum_body, NULL) == want);
            for (size_t a = 0; a < sizeof nts / sizeof *nts; a++) {
                ur_pool *p = ur_pool_new(nts[a], NULL);
                REQUIRE(p);
                for (int rep = 0; rep < 3; rep++) {
                    double got = ur_pool_sum(p, ns[b], chunks[c], sum_body, NULL);
                    CHECKF(!memcmp(&got, &want, sizeof got), "threads %d n %lld chunk %lld: %.17g != %.17g", nts[a],
                           (long long)ns[b], (long long)chunks[c], got, want);
                }
                ur_pool_free(p);
            }
        }
    /* chunk 1 equals the plain loop */
    double plain = 0;
    for (int64_t i = 0; i < 999; i++) plain += term(i);
    ur_pool *p = ur_pool_new(3, NULL);
    REQUIRE(p);
    CHECK(ur_pool_sum(p, 999, 1, sum_body, NULL) == plain);
    CHECK(ur_pool_sum(p, 0, 1, sum_body, NULL) == 0.0);
    ur_pool_free(p);
}

/* ---- the workers take part -------------------------------------------------------- */
typedef struct meet {
    atomic_int tid_of[2];
} meet;

/* Two chunks; each waits (up to 10 s) until the other has started, so they must run
 * on two threads at once. */
static void meet_body(void *arg, int64_t i0, int64_t i1, int tid) {
    meet *m = arg;
    (void)i1;
    atomic_store(&m->tid_of[i0], tid + 1);
    const struct timespec ms = {0, 1000000};
    for (int w = 0; w < 10000 && !atomic_load(&m->tid_of[1 - i0]); w++) nanosleep(&ms, NULL);
}

static void workers_take_part(void) {
    ur_pool *p = ur_pool_new(2, NULL);
    REQUIRE(p);
    for (int spin = 0; spin < 2; spin++) { /* a worker that spins, then one that sleeps at once */
        ur_pool_set_spin(p, spin ? 0 : UR_POOL_SPIN_US);
        const struct timespec idle = {0, 20000000}; /* let the worker fall asleep */
        nanosleep(&idle, NULL);
        meet m = {{0, 0}};
        ur_pool_for(p, 2, 1, meet_body, &m);
        int a = atomic_load(&m.tid_of[0]), b = atomic_load(&m.tid_of[1]);
        CHECKF(a && b && a != b, "spin %d: chunks ran on threads %d and %d", spin, a - 1, b - 1);
    }
    ur_pool_free(p);
}

/* ---- many short jobs; concurrent callers -------------------------------------------- */
static void many_short_jobs(void) {
    ur_pool *p = ur_pool_new(3, NULL);
    REQUIRE(p);
    atomic_int hits[16];
    int ok = 1;
    for (int spin = 0; spin < 2; spin++) {
        ur_pool_set_spin(p, spin ? 0 : UR_POOL_SPIN_US);
        for (int j = 0; j < 5000 && ok; j++) {
            const int64_t n = 1 + j % 16;
            for (int i = 0; i < 16; i++) atomic_init(&hits[i], 0);
            cover c = {hits, n, 3, 0};
            ur_pool_for(p, n, 1 + j % 3, cover_body, &c);
            ok &= !atomic_load(&c.bad);
            for (int64_t i = 0; i < n; i++) ok &= atomic_load(&hits[i]) == 1;
        }
    }
    CHECK(ok);
    ur_pool_free(p);
}

typedef struct caller {
    ur_pool *p;
    int ok;
} caller;

static void *caller_main(void *arg) {
    caller *c = arg;
    c->ok = 1;
    for (int j = 0; j < 300; j++) c->ok &= covers_once(c->p, 200 + j, 1 + j % 5);
    return NULL;
}

/* two threads calling into one pool: one of them runs inline whenever the other holds it */
static void concurrent_callers(void) {
    ur_pool *p = ur_pool_new(2, NULL);
    REQUIRE(p);
    caller a = {p, 0}, b = {p, 0};
    pthread_t ta, tb;
    REQUIRE(!pthread_create(&ta, NULL, caller_main, &a));
    REQUIRE(!pthread_create(&tb, NULL, caller_main, &b));
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(a.ok && b.ok);
    ur_pool_free(p);
}

/* pools created and freed at once, and a 1-thread pool (no thread started) */
static void create_and_free(void) {
    for (int i = 0; i < 50; i++) ur_pool_free(ur_pool_new(1 + i % 4, NULL));
    ur_pool *p = ur_pool_new(1, NULL);
    REQUIRE(p);
    CHECK(ur_pool_threads(p) == 1);
    CHECK(covers_once(p, 77, 2));
    ur_pool_free(p);
}

int main(void) {
    th_suite = "pool";
    RUN(every_index_once);
    RUN(small_n_and_default_size);
    RUN(nested_calls_run_inline);
    RUN(reductions_independent_of_threads);
    RUN(workers_take_part);
    RUN(many_short_jobs);
    RUN(concurrent_callers);
    RUN(create_and_free);
    TEST_MAIN_END();
}
