/* base: error formatting, clocks, growable buffers. */
#include "urial/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ur_errf(ur_err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        ur_one_line(err->msg);
    }
    return -1;
}

void ur_one_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

_Noreturn void ur_oom(size_t n) {
    /* no stdio buffers: write(2) what can be said, then stop */
    char msg[96];
    int k = n ? snprintf(msg, sizeof msg, "urial: out of memory (%zu bytes)\n", n)
              : snprintf(msg, sizeof msg, "urial: out of memory\n");
    if (k > 0 && write(2, msg, (size_t)k)) { /* nothing more to do */ }
    abort();
}

void *ur_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) ur_oom(n);
    return p;
}

void *ur_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) ur_oom(n * size);
    return p;
}

void *ur_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) ur_oom(n);
    return q;
}

char *ur_xstrdup(const char *s) { return ur_xstrndup(s, strlen(s)); }

char *ur_xstrndup(const char *s, size_t n) {
    size_t l = strnlen(s, n);
    char *d = ur_xmalloc(l + 1);
    memcpy(d, s, l);
    d[l] = 0;
    return d;
}

uint64_t ur_hash64(const void *data, size_t n, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int keymap_slot(const ur_keymap *m, const char *key) {
    size_t mask = (size_t)m->n_slots - 1, i = (size_t)ur_hash64_str(key) & mask;
    while (m->slots[i] >= 0 && strcmp(m->keys[m->slots[i]], key)) i = (i + 1) & mask;
    return (int)i;
}

int ur_keymap_find(const ur_keymap *m, const char *key) { return m->n_slots ? m->slots[keymap_slot(m, key)] : -1; }

int ur_keymap_add(ur_keymap *m, const char *key) {
    int have = ur_keymap_find(m, key);
    if (have >= 0) return have;
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->keys = ur_xrealloc(m->keys, sizeof *m->keys * (size_t)m->cap);
    }
    m->keys[m->n++] = ur_xstrdup(key);
    if (2 * m->n > m->n_slots) { /* grow: at most half full */
        m->n_slots = m->n_slots ? 2 * m->n_slots : 64;
        free(m->slots);
        m->slots = ur_xmalloc(sizeof *m->slots * (size_t)m->n_slots);
        for (int i = 0; i < m->n_slots; i++) m->slots[i] = -1;
        for (int i = 0; i < m->n; i++) m->slots[keymap_slot(m, m->keys[i])] = i;
    } else {
        m->slots[keymap_slot(m, key)] = m->n - 1;
    }
    return m->n - 1;
}

void ur_keymap_free(ur_keymap *m) {
    for (int i = 0; i < m->n; i++) free(m->keys[i]);
    free(m->keys), free(m->slots);
    memset(m, 0, sizeof *m);
}

const char *ur_base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

double ur_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int ur_n_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void buf_reserve(ur_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = ur_xrealloc(b->data, cap);
    b->cap = cap;
}

void ur_buf_put(ur_buf *b, const void *s, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void ur_buf_puts(ur_buf *b, const char *s) { ur_buf_put(b, s, strlen(s)); }

void ur_buf_printf(ur_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t ur_utf8_len(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) len = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000;
    else return 0;
    if (len > n) return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

void ur_buf_json_str(ur_buf *b, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    ur_buf_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            ur_buf_put(b, e, 2);
            i++;
        } else if (c == '\n') { ur_buf_put(b, "\\n", 2); i++; }
        else if (c == '\r') { ur_buf_put(b, "\\r", 2); i++; }
        else if (c == '\t') { ur_buf_put(b, "\\t", 2); i++; }
        else if (c < 0x20 || c == 0x7F) { ur_buf_printf(b, "\\u%04x", c); i++; }
        else if (c < 0x80) { ur_buf_put(b, s + i, 1); i++; }
        else {
            size_t l = ur_utf8_len(s + i, n - i);
            if (l) { ur_buf_put(b, s + i, l); i += l; }
            else { ur_buf_printf(b, "\\u%04x", c); i++; }
        }
    }
    ur_buf_put(b, "\"", 1);
}

void ur_buf_put_utf8(ur_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t l = s[i] ? ur_utf8_len(s + i, n - i) : 0;
        if (l) ur_buf_put(b, s + i, l), i += l;
        else ur_buf_put(b, "\xEF\xBF\xBD", 3), i++;
    }
}

void ur_buf_free(ur_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static uint64_t input_cap = UR_INPUT_CAP_DEFAULT;
uint64_t ur_input_cap(void) { return input_cap; }
void ur_input_cap_set(uint64_t bytes) { input_cap = bytes ? bytes : UR_INPUT_CAP_DEFAULT; }

/* "1.0 GiB", "64 MiB", "512 KiB", "100 bytes" */
static void fmt_size(char *b, size_t n, uint64_t v) {
    if (v >= (1ull << 30)) snprintf(b, n, "%.1f GiB", (double)v / (1ull << 30));
    else if (v >= (1ull << 20)) snprintf(b, n, "%.0f MiB", (double)v / (1ull << 20));
    else if (v >= 1024) snprintf(b, n, "%.0f KiB", (double)v / 1024);
    else snprintf(b, n, "%llu bytes", (unsigned long long)v);
}

int ur_check_input_fd(int fd, const char *path, const char *what, uint64_t max_bytes, uint64_t *size, ur_err *err) {
    struct stat st;
    if (fstat(fd, &st)) return ur_errf(err, "%s: cannot read %s: %s", path, what, strerror(errno));
    if (S_ISDIR(st.st_mode)) return ur_errf(err, "%s: is a directory, not a %s", path, what);
    if (!S_ISREG(st.st_mode))
        return ur_errf(err, "%s: not a regular file (a %s must be a file, not a pipe, device or socket)", path, what);
    const uint64_t cap = max_bytes ? max_bytes : input_cap;
    if ((uint64_t)st.st_size > cap) {
        char a[32], b[32];
        fmt_size(a, sizeof a, (uint64_t)st.st_size), fmt_size(b, sizeof b, cap);
        return ur_errf(err, "%s: %s is %s, over the input cap of %s%s", path, what, a, b,
                       max_bytes ? "" : " (raise it with --max-input)");
    }
    if (size) *size = (uint64_t)st.st_size;
    return 0;
}

int ur_open_input(const char *path, const char *what, uint64_t max_bytes, ur_err *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return ur_errf(err, "%s: cannot read %s: %s", path, what, strerror(errno));
    if (ur_check_input_fd(fd, path, what, max_bytes, NULL, err)) {
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int ur_read_file(const char *path, const char *what, size_t max_bytes, ur_buf *out, ur_err *err) {
    const int fd = ur_open_input(path, what, max_bytes, err);
    if (fd < 0) return -1;
    const uint64_t cap = max_bytes ? max_bytes : input_cap;
    out->len = 0;
    char chunk[65536];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) != 0) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int e = errno;
            close(fd);
            return ur_errf(err, "%s: cannot read %s: %s", path, what, strerror(e));
        }
        ur_buf_put(out, chunk, (size_t)got);
        if (out->len > cap) { /* it grew while we read */
            close(fd);
            return ur_errf(err, "%s: %s grew over the input cap while it was read", path, what);
        }
    }
    close(fd);
    ur_buf_put(out, "", 0); /* data is never NULL, even for an empty file */
    return 0;
}
