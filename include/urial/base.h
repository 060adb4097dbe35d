/* urial — base: errors as values, small utilities shared by every module.
 *
 * Convention: a function that can fail takes `ur_err *err` last and returns 0 on
 * success, -1 on failure (or NULL for constructors), after filling err->msg with
 * ONE line that names the file or request and says what is wrong, e.g.
 *     "model.gguf: tensor 'blk.0.attn_q.weight': data offset 123 is not aligned to 32".
 * Library code never prints and never calls exit(); the CLI prints "urial: <msg>".
 * err may be NULL when the caller does not care about the message.
 *
 * Out of memory, one policy everywhere:
 *  - an allocation whose size comes from the input (a model's weights, a KV cache,
 *    a file read whole, a dataset, logits rows for a long sequence) is checked and
 *    fails as an error value naming what could not be allocated and its size;
 *  - every other allocation (bookkeeping: buffers, records, small tables) goes
 *    through ur_xmalloc and friends, which never return NULL: on failure they call
 *    ur_oom(), which prints "urial: out of memory (N bytes)" once to stderr and
 *    aborts. A process that cannot get a few kilobytes cannot report anything
 *    better; what it already appended to a results file stays (each record is
 *    written whole and fsync'ed). */
#ifndef URIAL_BASE_H
#define URIAL_BASE_H

#include <stddef.h>
#include <stdint.h>

#define UR_ERR_MAX 1024

typedef struct ur_err {
    char msg[UR_ERR_MAX];
} ur_err;

/* printf into err->msg (if err is non-NULL); always returns -1 so that callers
 * can write `return ur_errf(err, "%s: bad thing", path);`. */
int ur_errf(ur_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Control characters (a newline in a quoted input, a parser's message about one) become
 * spaces, so that a message stays one line; ur_errf applies it. */
void ur_one_line(char *s);

/* Overflow-checked size arithmetic: return 0 and set *out, or return -1 on overflow. */
static inline int ur_mul_size(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int ur_add_size(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

/* Allocation that cannot fail (see "Out of memory" above). */
void *ur_xmalloc(size_t n);
void *ur_xcalloc(size_t n, size_t size);
void *ur_xrealloc(void *p, size_t n);
char *ur_xstrdup(const char *s);
char *ur_xstrndup(const char *s, size_t n);
_Noreturn void ur_oom(size_t n); /* n: the size asked for, 0 when unknown (a library's NULL) */

/* FNV-1a, 64 bits: file fingerprints, cache names, hash tables, per-item seeds. */
uint64_t ur_hash64(const void *data, size_t n, uint64_t h);
#define UR_HASH64_INIT 1469598103934665603ull
static inline uint64_t ur_hash64_str(const char *s) {
    uint64_t h = UR_HASH64_INIT;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Strings numbered in the order they were added (0, 1, ...), found by hashing
 * (open addressing; the keys are copied). Zero-initialise to start empty. */
typedef struct ur_keymap {
    char **keys;
    int *slots; /* key number per slot; -1 = empty */
    int n, cap, n_slots;
} ur_keymap;
/* The key's number: a new one (n before the call) or the one it already has. */
int ur_keymap_add(ur_keymap *m, const char *key);
int ur_keymap_find(const ur_keymap *m, const char *key); /* -1 when absent */
void ur_keymap_free(ur_keymap *m);

/* The last component of a path ("a/b/c.gguf" -> "c.gguf"). */
const char *ur_base_name(const char *path);

/* Wall-clock seconds from a monotonic clock. */
double ur_now(void);

/* Number of online CPU cores (at least 1). */
int ur_n_cores(void);

/* Append `s` (n bytes) to the growable buffer as a JSON string literal with quotes
 * and escapes; invalid UTF-8 bytes are written as \u00XX of the byte value. */
typedef struct ur_buf {
    char *data;
    size_t len, cap;
} ur_buf;
void ur_buf_put(ur_buf *b, const void *s, size_t n);
void ur_buf_puts(ur_buf *b, const char *s);
void ur_buf_printf(ur_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ur_buf_json_str(ur_buf *b, const char *s, size_t n);
/* Append s[0..n) with every byte that is not part of valid UTF-8, and every NUL,
 * replaced by U+FFFD (a model can emit any byte; files and JSON want text). */
void ur_buf_put_utf8(ur_buf *b, const char *s, size_t n);
/* Length of the valid UTF-8 sequence at s (at most n bytes; 1 for ASCII), 0 if invalid. */
size_t ur_utf8_len(const char *s, size_t n);
void ur_buf_free(ur_buf *b);

/* Inputs are regular files no larger than the input cap: a FIFO, a device (/dev/zero) or a
 * socket is refused, not read forever. The cap is the one process-wide setting of the
 * library (the CLI's --max-input sets it): 1 GiB unless raised. */
#define UR_INPUT_CAP_DEFAULT (1ull << 30)
uint64_t ur_input_cap(void);
void ur_input_cap_set(uint64_t bytes); /* 0: back to the default */
/* Open path for reading (a FIFO does not block the open) and check what it is: a regular
 * file of at most max_bytes (0: the input cap). Returns the descriptor, or -1 with err
 * ("PATH: not a regular file, cannot be a WHAT", "PATH: WHAT is larger than ..."). */
int ur_open_input(const char *path, const char *what, uint64_t max_bytes, ur_err *err);
/* The same checks on an open descriptor (size: the file's size, if wanted). */
int ur_check_input_fd(int fd, const char *path, const char *what, uint64_t max_bytes, uint64_t *size, ur_err *err);

/* Read a whole file into out (NUL-terminated; out->len excludes the NUL). `what`
 * names the file's role in messages ("PATH: cannot read WHAT: reason"); a
 * directory, a file that is not regular, or one over max_bytes (0 = the input cap) is an
 * error too. */
int ur_read_file(const char *path, const char *what, size_t max_bytes, ur_buf *out, ur_err *err);

#endif
