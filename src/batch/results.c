/* Append-only JSONL result files with crash-safe resume. See include/urial/results.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "urial/dataset.h"
#include "urial/results.h"

struct ur_results {
    char *path;
    int fd;      /* -1 in READ mode */
    off_t size;  /* bytes of complete lines */
    ur_record *recs;
    int n, cap;
    ur_keymap index; /* record i has key number i */
    int n_dups;
    int lines;   /* complete lines */
    char note[UR_ERR_MAX];
};

const ur_record *ur_results_find(const ur_results *r, const char *key) {
    int s = ur_keymap_find(&r->index, key);
    return s >= 0 ? &r->recs[s] : NULL;
}

int ur_results_count(const ur_results *r) { return r->n; }
const ur_record *ur_results_get(const ur_results *r, int i) { return i >= 0 && i < r->n ? &r->recs[i] : NULL; }
const char *ur_results_note(const ur_results *r) { return r->note[0] ? r->note : NULL; }

static void note_add(ur_results *r, const char *msg) {
    size_t n = strlen(r->note);
    snprintf(r->note + n, sizeof r->note - n, "%s%s", n ? "; " : "", msg);
}

/* Parse one line into a record (its key and fields). Returns 0 or -1. */
static int parse_record(const ur_results *r, const char *json, size_t len, int line, ur_record *rec, ur_err *err) {
    memset(rec, 0, sizeof *rec);
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je);
    if (!o) return ur_errf(err, "%s: line %d is not valid JSON (%s, column %d)", r->path, line, je.text, je.column);
    json_t *id = json_object_get(o, "id"), *turn = json_object_get(o, "turn"), *out = json_object_get(o, "output");
    json_t *idx = json_object_get(o, "input_index");
    int rc = 0;
    if (!json_is_object(o) || (!json_is_integer(id) && !json_is_string(id))) {
        rc = ur_errf(err, "%s: line %d is not a result record (a JSON object with an integer or string \"id\")",
                     r->path, line);
    } else if (turn && (!json_is_integer(turn) || json_integer_value(turn) < 1 || json_integer_value(turn) > 1000)) {
        rc = ur_errf(err, "%s: line %d: \"turn\" must be an integer from 1 to 1000", r->path, line);
    } else {
        char *ids = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
        ur_buf key = {0};
        rec->turn = turn ? (int)json_integer_value(turn) : 0;
        ur_record_key(ids, rec->turn, &key);
        free(ids);
        rec->key = key.data;
        rec->json = ur_xmalloc(len + 1);
        memcpy(rec->json, json, len);
        rec->json[len] = 0;
        rec->output = json_is_string(out) ? ur_xstrdup(json_string_value(out)) : NULL;
        rec->index = json_is_integer(idx) ? (long)json_integer_value(idx) : -1;
        rec->line = line;
    }
    json_decref(o);
    return rc;
}

static void free_record(ur_record *rec) { free(rec->key), free(rec->json), free(rec->output); }

/* Add a parsed record; a key seen before is counted as a duplicate and dropped. */
static void insert(ur_results *r, ur_record *rec) {
    if (ur_results_find(r, rec->key)) {
        r->n_dups++;
        free_record(rec);
        return;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->recs = ur_xrealloc(r->recs, sizeof *r->recs * (size_t)r->cap);
    }
    r->recs[r->n++] = *rec;
    ur_keymap_add(&r->index, rec->key);
}

void ur_results_close(ur_results *r) {
    if (!r) return;
    if (r->fd >= 0) close(r->fd); /* also releases the lock */
    for (int i = 0; i < r->n; i++) free_record(&r->recs[i]);
    free(r->recs);
    ur_keymap_free(&r->index);
    free(r->path);
    free(r);
}

/* fsync the directory holding path, so that a newly created or renamed file's
 * name survives a crash. */
static int sync_dir(const char *path) {
    char *d = ur_xstrdup(path);
    if (!d) return -1;
    int fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(d);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Whether the text is a JSON array (its first non-blank byte is '['). */
static int is_array(const ur_buf *b) {
    size_t q = 0;
    while (q < b->len && (b->data[q] == ' ' || b->data[q] == '\t' || b->data[q] == '\r' || b->data[q] == '\n')) q++;
    return q < b->len && b->data[q] == '[';
}

/* The records of a JSON array, item i as "line" i (1-based). */
static int parse_array(ur_results *r, const ur_buf *b, ur_err *err) {
    json_error_t je;
    json_t *a = json_loadb(b->data, b->len, 0, &je);
    if (!json_is_array(a)) {
        json_decref(a);
        return ur_errf(err, "%s: line %d: not a valid JSON array of records (%s)", r->path, je.line, je.text);
    }
    int rc = 0;
    for (size_t i = 0; i < json_array_size(a) && !rc; i++) {
        char *s = json_dumps(json_array_get(a, i), JSON_COMPACT | JSON_ENCODE_ANY);
        ur_record rec;
        rc = !s ? ur_errf(err, "%s: item %zu cannot be encoded", r->path, i + 1)
                : parse_record(r, s, strlen(s), (int)i + 1, &rec, err);
        if (!rc) insert(r, &rec);
        free(s);
    }
    r->lines = (int)json_array_size(a);
    json_decref(a);
    if (!rc && r->n_dups) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: %d records repeat an earlier record's id (the first one counts)", r->path, r->n_dups);
        note_add(r, msg);
    }
    return rc;
}

ur_results *ur_results_open(const char *path, int mode, ur_err *err) {
    ur_results *r = ur_xcalloc(1, sizeof *r);
    r->path = ur_xstrdup(path);
    r->fd = -1;
    int fd, created = 0;
    if (mode == UR_RESULTS_APPEND) {
        fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            created = fd >= 0;
        }
    } else {
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    }
    if (fd < 0) {
        ur_errf(err, "%s: cannot open results file: %s", path, strerror(errno));
        goto fail;
    }
    if (ur_check_input_fd(fd, path, "results file", 0, NULL, err)) { /* /dev/full, a FIFO: not read forever */
        if (mode != UR_RESULTS_APPEND) close(fd);
        else r->fd = fd;
        goto fail;
    }
    if (mode == UR_RESULTS_APPEND) {
        r->fd = fd;
        if (flock(fd, LOCK_EX | LOCK_NB)) {
            ur_errf(err, "%s: another process is writing this file (it is locked); wait for it or use another file",
                    path);
            goto fail;
        }
        if (created && sync_dir(path)) {
            ur_errf(err, "%s: cannot sync its directory: %s", path, strerror(errno));
            goto fail;
        }
    }

    /* read it all */
    ur_buf b = {0};
    char chunk[1 << 16];
    ssize_t got;
    off_t off = 0;
    while ((got = pread(fd, chunk, sizeof chunk, off)) > 0 && (uint64_t)off <= ur_input_cap())
        ur_buf_put(&b, chunk, (size_t)got), off += got;
    if ((uint64_t)off > ur_input_cap()) got = -1, errno = EFBIG;
    if (got < 0) {
        ur_errf(err, "%s: cannot read results file: %s", path, strerror(errno));
        ur_buf_free(&b);
        goto fail;
    }
    if (mode == UR_RESULTS_READ) close(fd);
    if (mode == UR_RESULTS_READ && is_array(&b)) { /* urial merge's output, just-eval's files: one JSON array */
        int bad = parse_array(r, &b, err);
        ur_buf_free(&b);
        if (bad) goto fail;
        return r;
    }
    size_t p = 0;
    int line = 1, bad = 0;
    while (p < b.len && !bad) {
        const char *nl = memchr(b.data + p, '\n', b.len - p);
        if (!nl) break; /* an incomplete last line */
        size_t e = (size_t)(nl - b.data), q = p;
        while (q < e && (b.data[q] == ' ' || b.data[q] == '\t' || b.data[q] == '\r')) q++;
        ur_record rec;
        if (q < e) {
            bad = parse_record(r, b.data + p, e - p, line, &rec, err) < 0;
            if (!bad) insert(r, &rec);
        }
        p = e + 1;
        line++;
    }
    r->size = (off_t)p;
    r->lines = line - 1;
    if (!bad && p < b.len) {
        char msg[512];
        size_t torn = b.len - p;
        if (mode == UR_RESULTS_APPEND) {
            if (ftruncate(fd, (off_t)p) || fsync(fd)) {
                ur_errf(err, "%s: cannot cut off its incomplete last line: %s", path, strerror(errno));
                bad = 1;
            }
            snprintf(msg, sizeof msg, "%s: dropped an incomplete last line (%zu bytes, a record whose write was cut short); "
                     "its item is generated again", path, torn);
        } else {
            snprintf(msg, sizeof msg, "%s: ignored an incomplete last line (%zu bytes, a record whose write was cut short)",
                     path, torn);
        }
        note_add(r, msg);
    }
    if (!bad && r->n_dups) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: %d records repeat an earlier record's id (the first one counts)", path, r->n_dups);
        note_add(r, msg);
    }
    ur_buf_free(&b);
    if (bad) goto fail;
    return r;
fail:
    ur_results_close(r);
    return NULL;
}

int ur_results_append(ur_results *r, const char *json, size_t len, ur_err *err) {
    if (r->fd < 0) return ur_errf(err, "%s: not open for appending", r->path);
    if (memchr(json, '\n', len)) return ur_errf(err, "%s: a record must be one line", r->path);
    ur_record rec;
    if (parse_record(r, json, len, r->lines + 1, &rec, err)) return -1;
    if (ur_results_find(r, rec.key)) {
        ur_errf(err, "%s: a record with id %.64s is already in the file", r->path, rec.key);
        free_record(&rec);
        return -1;
    }
    ur_buf line = {0};
    ur_buf_put(&line, json, len);
    ur_buf_put(&line, "\n", 1);
    size_t done = 0;
    int e = 0;
    while (done < line.len && !e) { /* one write(2) unless the kernel takes less */
        ssize_t w = write(r->fd, line.data + done, line.len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) e = w < 0 ? errno : EIO;
        else done += (size_t)w;
    }
    ur_buf_free(&line);
    if (!e && fsync(r->fd)) e = errno;
    if (e) {
        /* cut back a partial line; if even that fails, the next open drops it */
        if (ftruncate(r->fd, r->size) == 0) (void)fsync(r->fd);
        free_record(&rec);
        return ur_errf(err, "%s: cannot append a record: %s", r->path, strerror(e));
    }
    r->size += (off_t)len + 1;
    r->lines++;
    insert(r, &rec);
    return 0;
}

int ur_write_file_atomic(const char *path, const void *data, size_t len, ur_err *err) {
    size_t n = strlen(path) + 32;
    char *tmp = ur_xmalloc(n);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        ur_errf(err, "%s: cannot write: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *p = data;
    size_t done = 0;
    int e = 0;
    while (done < len && !e) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) e = w < 0 ? errno : EIO;
        else done += (size_t)w;
    }
    if (!e && fsync(fd)) e = errno;
    if (close(fd) && !e) e = errno;
    if (!e && rename(tmp, path)) e = errno;
    if (e) unlink(tmp);
    free(tmp);
    if (e) return ur_errf(err, "%s: cannot write: %s", path, strerror(e));
    sync_dir(path);
    return 0;
}
