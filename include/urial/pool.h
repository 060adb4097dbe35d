/* urial — a thread pool for data-parallel loops.
 *
 * A pool of n threads is the caller plus n - 1 persistent worker threads. One call,
 * ur_pool_for, runs a loop over [0, n_items): the items are cut into chunks of
 * `chunk` consecutive items, and every participating thread takes the next chunk
 * from a shared atomic counter until none is left. The caller takes part and
 * returns when every chunk is done. Because work is taken, never assigned, a
 * thread that keeps its core does the chunks of one that lost it (to another
 * process, say): the loop finishes with the threads that are running instead of
 * waiting for a fixed half.
 *
 * Between loops the workers spin for a bounded time (UR_POOL_SPIN_US, below:
 * back-to-back loops, as in a forward pass, then start without a system call),
 * then sleep in the kernel (a futex) so that an idle or descheduled pool costs
 * nothing. The caller waits for the last running chunk the same way.
 *
 * Numerics: which thread runs which chunk varies from run to run; a loop body must
 * write each output from one item's computation alone (as every caller in urial
 * does: rows of a matmul, heads of attention), so results do not depend on the
 * thread count or the schedule. ur_pool_sum adds per-chunk partial sums in chunk
 * order, so with a fixed chunk size it too is the same for any thread count.
 *
 * Ownership: a pool belongs to the object that computes with it (an inference or
 * training context); only one thread may call into a pool at a time. Safety nets:
 * a call from inside a running loop (nested), a call while another thread's loop
 * holds the pool, a NULL pool, a 1-thread pool and a loop of one chunk all run the
 * loop on the calling thread alone (tid 0), in chunk order. */
#ifndef URIAL_POOL_H
#define URIAL_POOL_H

#include <stdint.h>

#include "urial/base.h"

/* How long (microseconds) an idle worker, or a caller waiting for the last chunk,
 * spins before sleeping: long enough to bridge the serial gaps between the loops of
 * one decode step (a few microseconds each), short enough that a thread whose partner
 * was descheduled soon gives its core back. Measured on 2 cores with TinyLlama-shaped
 * models (bench/THREADS.md, --spins): 0 loses ~15% of idle decode speed, 20 to 200
 * are level when idle, and next to a busy process 20 kept the most. */
#ifndef UR_POOL_SPIN_US
#define UR_POOL_SPIN_US 20
#endif

typedef struct ur_pool ur_pool;

/* A pool of n_threads (>= 1; the caller counts as one, so n_threads - 1 threads are
 * started; 0 = ur_n_cores()). NULL with err filled when a thread cannot be started. */
ur_pool *ur_pool_new(int n_threads, ur_err *err);
/* Stops and joins the workers. NULL is a no-op. Never call it from a loop body. */
void ur_pool_free(ur_pool *p);
/* Threads in the pool, caller included; 1 for NULL. Per-thread scratch is sized
 * by this and indexed by a body's tid. */
int ur_pool_threads(const ur_pool *p);
/* The spin bound in microseconds (0: sleep at once); for tuning and benchmarks. */
void ur_pool_set_spin(ur_pool *p, int us);

/* A loop body: items [i0, i1) (one chunk, or the whole range when run inline) on
 * the thread `tid` in [0, ur_pool_threads) (0 is the caller). */
typedef void (*ur_pool_fn)(void *arg, int64_t i0, int64_t i1, int tid);
/* Run fn over [0, n_items) in chunks of `chunk` items (chunk <= 0: about 8 chunks
 * per thread) and return when all are done. */
void ur_pool_for(ur_pool *p, int64_t n_items, int64_t chunk, ur_pool_fn fn, void *arg);

/* A reduction body: returns the sum of items [i0, i1) of one chunk. */
typedef double (*ur_pool_sum_fn)(void *arg, int64_t i0, int64_t i1, int tid);
/* Sum over [0, n_items): fn per chunk of `chunk` items (chunk <= 0 means 1), the
 * partial sums added in chunk order: (((0 + s_0) + s_1) + ...). The result depends on
 * chunk, never on the thread count; with chunk 1 and a body returning one item's
 * value it equals the plain sequential loop. */
double ur_pool_sum(ur_pool *p, int64_t n_items, int64_t chunk, ur_pool_sum_fn fn, void *arg);

#endif
