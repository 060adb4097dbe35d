/* The thread pool (include/urial/pool.h).
 *
 * Protocol. A loop ("job") is published by its caller in four steps: write the job
 * fields, reset the chunk counter, open the job (state = OPEN), bump gen. A worker
 * that sees gen change enters the job by incrementing the count in `state`, which
 * it may do only while OPEN is set; inside, it takes chunks from `next` until they
 * run out, then leaves (decrements the count). When the caller has found no chunk
 * left it clears OPEN (no one may enter any more) and waits for the count to reach
 * 0. Only then are the job fields rewritten, so a worker inside a job always reads
 * that job's fields, and a worker that wakes too late enters nothing.
 *
 *   state: bit 31 OPEN | bits 0..30 workers inside       (futex word of the caller)
 *   gen:   jobs published so far                          (futex word of the workers)
 *
 * Waiting, both for a new job (workers) and for the last chunk (caller), spins for
 * spin_ns and then sleeps on the futex word. `sleepers` lets the caller skip the
 * wake system call when every worker is still spinning; the seq_cst pair (caller:
 * bump gen, read sleepers; worker: raise sleepers, read gen) ensures one of the
 * two sees the other, and FUTEX_WAIT rechecks gen in the kernel, so no wake is lost. */
#include "urial/pool.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define OPEN 0x80000000u

typedef struct worker {
    struct ur_pool *p;
    int tid;
} worker;

struct ur_pool {
    int n;       /* threads, caller included */
    int started; /* workers running (n - 1 once ur_pool_new succeeded) */
    atomic_int spin_ns;
    pthread_t *th;
    worker *w;

    atomic_uint gen, state, sleepers;
    atomic_int busy; /* a caller holds the pool (another caller runs inline) */
    atomic_int stop;
    atomic_llong next; /* the next chunk to take */

    /* the job: written by its caller while no worker is inside */
    ur_pool_fn fn;
    ur_pool_sum_fn sfn;
    void *arg;
    int64_t n_items, chunk, n_chunks;
    double *part; /* [n_chunks] partial sums (ur_pool_sum) */
    size_t part_cap;
};

/* Nonzero while this thread runs chunks of some job: a pool call then runs inline
 * (no nested parallelism; it would oversubscribe the cores and could deadlock). */
static _Thread_local int tl_in_job;

/* ---- waiting ------------------------------------------------------------------- */
static void futex_wait(atomic_uint *addr, unsigned val) {
    syscall(SYS_futex, (unsigned *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake(atomic_uint *addr) {
    syscall(SYS_futex, (unsigned *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spin until *addr != val or spin_ns pass; returns the last value read. */
static unsigned spin_while(ur_pool *p, atomic_uint *addr, unsigned val) {
    const int64_t spin = atomic_load_explicit(&p->spin_ns, memory_order_relaxed);
    unsigned v = atomic_load_explicit(addr, memory_order_acquire);
    if (v != val || spin <= 0) return v;
    const int64_t end = now_ns() + spin;
    for (int i = 1;; i++) {
        cpu_relax();
        v = atomic_load_explicit(addr, memory_order_acquire);
        if (v != val) return v;
        if (!(i & 15) && now_ns() >= end) return v; /* a clock read every 16 pauses (~1 us) */
    }
}

/* ---- running chunks -------------------------------------------------------------- */
static void run_chunk(ur_pool *p, int64_t c, int tid) {
    const int64_t i0 = c * p->chunk, i1 = i0 + p->chunk < p->n_items ? i0 + p->chunk : p->n_items;
    if (p->sfn) p->part[c] = p->sfn(p->arg, i0, i1, tid);
    else p->fn(p->arg, i0, i1, tid);
}

static void take_chunks(ur_pool *p, int tid) {
    tl_in_job = 1;
    for (;;) {
        const int64_t c = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (c >= p->n_chunks) break;
        run_chunk(p, c, tid);
    }
    tl_in_job = 0;
}

static void *worker_main(void *arg) {
    const worker *me = arg;
    ur_pool *p = me->p;
    unsigned seen = 0; /* the last gen this worker looked at */
    for (;;) {
        unsigned g = spin_while(p, &p->gen, seen);
        while (g == seen) {
            atomic_fetch_add(&p->sleepers, 1);
            if (atomic_load(&p->gen) == seen) futex_wait(&p->gen, seen);
            atomic_fetch_sub(&p->sleepers, 1);
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        /* enter the open job, if any (it may be a later one than gen g: fine) */
        unsigned s = atomic_load_explicit(&p->state, memory_order_relaxed);
        int in = 0;
        while ((s & OPEN) && !(in = atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acquire,
                                                                          memory_order_relaxed)))
            ;
        if (!in) {
            seen = g; /* that job is over; wait for the next */
            continue;
        }
        seen = atomic_load_explicit(&p->gen, memory_order_relaxed); /* stable while inside */
        take_chunks(p, me->tid);
        /* leave; the last one out of a closed job wakes its caller */
        if (atomic_fetch_sub_explicit(&p->state, 1, memory_order_release) == 1) futex_wake(&p->state);
    }
}

/* ---- the pool ------------------------------------------------------------------- */
ur_pool *ur_pool_new(int n_threads, ur_err *err) {
    if (n_threads <= 0) n_threads = ur_n_cores();
    ur_pool *p = calloc(1, sizeof *p);
    if (!p) abort(); /* out of memory */
    p->n = n_threads;
    atomic_init(&p->spin_ns, UR_POOL_SPIN_US * 1000);
    if (n_threads == 1) return p;
    p->th = calloc((size_t)n_threads, sizeof *p->th);
    p->w = calloc((size_t)n_threads, sizeof *p->w);
    if (!p->th || !p->w) abort();
    /* workers start with every signal blocked, so handlers (the server's SIGINT, say)
     * run on the application's own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (int i = 1; i < n_threads && !rc; i++) {
        p->w[i] = (worker){p, i};
        rc = pthread_create(&p->th[i], NULL, worker_main, &p->w[i]);
        if (!rc) p->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        ur_errf(err, "cannot start thread %d of a pool of %d: %s", p->started + 2, n_threads, strerror(rc));
        ur_pool_free(p);
        return NULL;
    }
    return p;
}

void ur_pool_free(ur_pool *p) {
    if (!p) return;
    if (p->started) {
        atomic_store(&p->stop, 1);
        atomic_fetch_add(&p->gen, 1);
        futex_wake(&p->gen);
        for (int i = 1; i <= p->started; i++) pthread_join(p->th[i], NULL);
    }
    free(p->th);
    free(p->w);
    free(p->part);
    free(p);
}

int ur_pool_threads(const ur_pool *p) { return p ? p->n : 1; }

void ur_pool_set_spin(ur_pool *p, int us) {
    if (p) atomic_store(&p->spin_ns, us > 0 ? us * 1000 : 0);
}

/* Publish the job in p's fields (set by the caller), run chunks with the workers,
 * wait for the last one. */
static void run_job(ur_pool *p) {
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->state, OPEN, memory_order_release);
    atomic_fetch_add(&p->gen, 1); /* seq_cst: see the header comment */
    if (atomic_load(&p->sleepers)) futex_wake(&p->gen);
    take_chunks(p, 0);
    /* close: nobody enters from now on; wait for the workers still inside */
    unsigned s = atomic_fetch_and_explicit(&p->state, ~OPEN, memory_order_acquire) & ~OPEN;
    while (s) {
        s = spin_while(p, &p->state, s);
        if (s) {
            futex_wait(&p->state, s);
            s = atomic_load_explicit(&p->state, memory_order_acquire);
        }
    }
}

/* Claim the pool for one job; 0 when the loop must run inline instead. */
static int claim(ur_pool *p, int64_t n_chunks) {
    if (!p || p->n == 1 || n_chunks <= 1 || tl_in_job) return 0;
    return !atomic_exchange_explicit(&p->busy, 1, memory_order_acquire);
}

void ur_pool_for(ur_pool *p, int64_t n_items, int64_t chunk, ur_pool_fn fn, void *arg) {
    if (n_items <= 0) return;
    const int nt = ur_pool_threads(p);
    if (chunk <= 0) chunk = n_items / (8 * nt) > 0 ? n_items / (8 * nt) : 1;
    const int64_t n_chunks = (n_items + chunk - 1) / chunk;
    if (!claim(p, n_chunks)) {
        const int outer = tl_in_job;
        tl_in_job = 1;
        fn(arg, 0, n_items, 0);
        tl_in_job = outer;
        return;
    }
    p->fn = fn, p->sfn = NULL, p->arg = arg;
    p->n_items = n_items, p->chunk = chunk, p->n_chunks = n_chunks;
    run_job(p);
    atomic_store_explicit(&p->busy, 0, memory_order_release);
}

double ur_pool_sum(ur_pool *p, int64_t n_items, int64_t chunk, ur_pool_sum_fn fn, void *arg) {
    if (n_items <= 0) return 0.0;
    if (chunk <= 0) chunk = 1;
    const int64_t n_chunks = (n_items + chunk - 1) / chunk;
    double total = 0.0;
    if (!claim(p, n_chunks)) {
        const int outer = tl_in_job;
        tl_in_job = 1;
        for (int64_t c = 0; c < n_chunks; c++) {
            const int64_t i0 = c * chunk, i1 = i0 + chunk < n_items ? i0 + chunk : n_items;
            total += fn(arg, i0, i1, 0);
        }
        tl_in_job = outer;
        return total;
    }
    if ((size_t)n_chunks > p->part_cap) {
        free(p->part);
        p->part = malloc(sizeof *p->part * (size_t)n_chunks);
        if (!p->part) abort(); /* out of memory */
        p->part_cap = (size_t)n_chunks;
    }
    p->fn = NULL, p->sfn = fn, p->arg = arg;
    p->n_items = n_items, p->chunk = chunk, p->n_chunks = n_chunks;
    run_job(p);
    for (int64_t c = 0; c < n_chunks; c++) total += p->part[c];
    atomic_store_explicit(&p->busy, 0, memory_order_release);
    return total;
}
