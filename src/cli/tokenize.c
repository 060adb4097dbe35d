/* urial tokenize -m MODEL (--text TEXT | --batch FILE) [--no-bos] [--special] [--json] [--pieces] */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/tokenizer.h"

static const char USAGE[] =
    "usage: urial tokenize -m MODEL.gguf --text TEXT [--no-bos] [--special] [--json] [--pieces]\n"
    "       urial tokenize -m MODEL.gguf --batch FILE.jsonl [--no-bos] [--special]\n"
    "Token ids of TEXT under the model's tokenizer (a vocab-only GGUF works too). --batch reads one JSON\n"
    "object a line, {\"text\": \"...\"} or {\"hex\": \"...\"} for bytes that need not be UTF-8, and prints one\n"
    "JSON array of ids a line.\n";

static int hexval(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One case's bytes into *b; -1 with a message when the line is not a case. */
static int case_bytes(const char *line, ur_buf *b, char *msg, size_t n) {
    json_error_t je;
    json_t *o = json_loads(line, JSON_ALLOW_NUL, &je);
    b->len = 0;
    if (!o || !json_is_object(o)) {
        snprintf(msg, n, "not a JSON object (%s)", o ? "another JSON value" : je.text);
        json_decref(o);
        return -1;
    }
    json_t *t = json_object_get(o, "text"), *h = json_object_get(o, "hex");
    int rc = 0;
    if (json_is_string(t)) {
        ur_buf_put(b, json_string_value(t), json_string_length(t));
    } else if (json_is_string(h) && json_string_length(h) % 2 == 0) {
        const char *s = json_string_value(h);
        for (size_t i = 0; s[i] && rc == 0; i += 2) {
            int hi = hexval(s[i]), lo = hexval(s[i + 1]);
            if (hi < 0 || lo < 0) rc = -1;
            else {
                char c = (char)(hi * 16 + lo);
                ur_buf_put(b, &c, 1);
            }
        }
        if (rc) snprintf(msg, n, "\"hex\" is not hexadecimal");
    } else {
        snprintf(msg, n, "expected a \"text\" string or an even-length \"hex\" string");
        rc = -1;
    }
    json_decref(o);
    return rc;
}

static int run_batch(const ur_vocab *v, const char *path, int add_bos, int special) {
    ur_err oerr = {{0}};
    const int fd = strcmp(path, "-") ? ur_open_input(path, "test-case file", 0, &oerr) : 0;
    if (fd < 0) return cli_fail("%s", oerr.msg);
    FILE *f = fd ? fdopen(fd, "rb") : stdin;
    if (!f) return cli_fail("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    ur_buf text = {0}, out = {0};
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        char msg[200];
        if (case_bytes(line, &text, msg, sizeof msg) < 0) {
            rc = cli_fail("%s:%ld: %s", path, lineno, msg);
            break;
        }
        int32_t *ids = NULL;
        ur_err err = {{0}};
        int n = ur_tokenize_alloc(v, text.data ? text.data : "", text.len, add_bos, special, &ids, &err);
        if (n < 0) {
            rc = cli_fail("%s:%ld: %s", path, lineno, err.msg);
            break;
        }
        out.len = 0;
        ur_buf_puts(&out, "[");
        for (int i = 0; i < n; i++) ur_buf_printf(&out, i ? ",%d" : "%d", ids[i]);
        ur_buf_puts(&out, "]\n");
        fwrite(out.data, 1, out.len, stdout);
        free(ids);
    }
    free(line);
    ur_buf_free(&text);
    ur_buf_free(&out);
    if (f != stdin) fclose(f);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *batch = NULL;
    int no_bos = 0, special = 0, json = 0, pieces = 0;
    const cli_opt opts[] = {
        OPT_STR("model", 'm', "MODEL.gguf", &model, "the model, or a vocab-only GGUF"),
        OPT_STR("text", 0, "TEXT", &text, "the text"),
        OPT_STR("batch", 0, "FILE", &batch, "tokenize every case of a JSONL file (- for stdin), one id array a line"),
        OPT_FLAG("no-bos", 0, &no_bos, "do not prepend the BOS token (added by default when the model asks for it)"),
        OPT_FLAG("special", 0, &special,
                 "parse special-token text such as <s>, [INST] or <|eot_id|> into those tokens"),
        OPT_FLAG("json", 0, &json, "print a JSON array of ids"),
        OPT_FLAG("pieces", 0, &pieces, "print one 'id<TAB>piece' line per token"), OPT_END};
    const cli_cmd cmd = {"tokenize", USAGE, opts, NULL, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (!model || !!text == !!batch)
        return cli_fail("tokenize: -m MODEL and one of --text TEXT or --batch FILE are required (see urial tokenize --help)");
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(model, &err);
    ur_vocab *v = g ? ur_vocab_load(g, &err) : NULL;
    if (!v) {
        ur_gguf_close(g);
        return cli_fail("%s", err.msg);
    }
    int add_bos = !no_bos && ur_vocab_add_bos(v);
    if (batch) {
        int rc = run_batch(v, batch, add_bos, special);
        ur_vocab_free(v);
        ur_gguf_close(g);
        return rc;
    }
    int32_t *ids = NULL;
    int n = cli_tokenize(v, text, add_bos, special, &ids);
    int rc = n < 0;
    if (n >= 0) {
        ur_buf b = {0};
        if (json) ur_buf_puts(&b, "[");
        for (int i = 0; i < n; i++) {
            if (pieces) {
                size_t pl;
                const char *p = ur_vocab_piece(v, ids[i], &pl);
                ur_buf_printf(&b, "%d\t%.*s\n", ids[i], (int)pl, p);
            } else {
                ur_buf_printf(&b, json ? "%s%d" : "%s%d", i ? (json ? "," : " ") : "", ids[i]);
            }
        }
        if (!pieces) ur_buf_puts(&b, json ? "]\n" : "\n");
        fwrite(b.data, 1, b.len, stdout);
        ur_buf_free(&b);
    }
    free(ids);
    ur_vocab_free(v);
    ur_gguf_close(g);
    return rc;
}
