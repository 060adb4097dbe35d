/* A minimal test harness: one binary per module, one line per test.
 *   PASS suite/name
 *   FAIL suite/name: file:line: what failed
 *   SKIP suite/name: why
 * tests/run.sh counts these lines across all binaries and shell tests. */
#ifndef URIAL_TEST_HARNESS_H
#define URIAL_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/model.h"

static const char *th_suite = "unit";
static int th_failed_now, th_skipped_now, th_fails;
static char th_msg[1024];

#define CHECK(cond)                                                                                   \
    do {                                                                                              \
        if (!(cond) && !th_failed_now) {                                                              \
            snprintf(th_msg, sizeof th_msg, "%s:%d: CHECK(%s)", __FILE__, __LINE__, #cond);           \
            th_failed_now = 1;                                                                        \
        }                                                                                             \
    } while (0)

#define CHECKF(cond, ...)                                                                             \
    do {                                                                                              \
        if (!(cond) && !th_failed_now) {                                                              \
            int th_n = snprintf(th_msg, sizeof th_msg, "%s:%d: ", __FILE__, __LINE__);                 \
            snprintf(th_msg + th_n, sizeof th_msg - (size_t)th_n, __VA_ARGS__);                        \
            th_failed_now = 1;                                                                        \
        }                                                                                             \
    } while (0)

/* Stop the current test early (after a failed CHECK that later code depends on). */
#define REQUIRE(cond)                                                                                 \
    do {                                                                                              \
        if (!(cond)) {                                                                                \
            CHECK(cond);                                                                              \
            return;                                                                                   \
        }                                                                                             \
    } while (0)

#define SKIP(...)                                                                                     \
    do {                                                                                              \
        snprintf(th_msg, sizeof th_msg, __VA_ARGS__);                                                 \
        th_skipped_now = 1;                                                                           \
        return;                                                                                       \
    } while (0)

#define RUN(fn)                                                                                       \
    do {                                                                                              \
        th_failed_now = th_skipped_now = 0;                                                           \
        th_msg[0] = 0;                                                                                \
        fn();                                                                                         \
        if (th_failed_now) {                                                                          \
            printf("FAIL %s/%s: %s\n", th_suite, #fn, th_msg);                                        \
            th_fails++;                                                                               \
        } else if (th_skipped_now) {                                                                  \
            printf("SKIP %s/%s: %s\n", th_suite, #fn, th_msg);                                        \
        } else {                                                                                      \
            printf("PASS %s/%s\n", th_suite, #fn);                                                    \
        }                                                                                             \
        fflush(stdout);                                                                               \
    } while (0)

#define TEST_MAIN_END() return th_fails ? 1 : 0

/* Third-party fixtures live in ../shared/fixtures (URIAL_FIXTURES overrides).
 * Returns NULL when absent; callers SKIP then (run.sh fails skips under CI=true). */
static inline const char *th_fixtures(void) {
    static char buf[4096];
    const char *f = getenv("URIAL_FIXTURES");
    snprintf(buf, sizeof buf, "%s", f && *f ? f : "../shared/fixtures");
    FILE *probe;
    char p[4200];
    snprintf(p, sizeof p, "%s/tokenizer/llama-spm/cases.inp", buf);
    probe = fopen(p, "rb");
    if (!probe) return NULL;
    fclose(probe);
    return buf;
}

/* A scratch directory for this test binary (created once). */
static inline const char *th_tmpdir(void) {
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/urial-test-XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(2); }
    }
    return dir;
}

/* A random-weight model written by ur_synth_write to th_tmpdir()/name; its path (in
 * path[0..n)), or NULL after printing why. */
static inline const char *th_synth(const ur_synth_params *sp, const char *name, char *path, size_t n) {
    snprintf(path, n, "%s/%s", th_tmpdir(), name);
    ur_err err = {{0}};
    if (ur_synth_write(sp, path, &err)) {
        fprintf(stderr, "synth: %s\n", err.msg);
        return NULL;
    }
    return path;
}

/* Read a whole file; returns malloc'ed buffer (NUL-terminated) or NULL. */
static inline char *th_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) { b[n] = 0; if (len) *len = (size_t)n; }
    return b;
}

#endif
