/* Conversations: roles, an owning message array, and JSON conversation files
 * (read with Debian's jansson). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "urial/chat.h"

static const char *const ROLES[] = {"system", "user", "assistant"};

const char *ur_role_name(int role) { return role >= 0 && role <= 2 ? ROLES[role] : "unknown"; }

int ur_role_from_name(const char *name) {
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, ROLES[i])) return i;
    return -1;
}

void ur_conv_add(ur_conv *c, int role, const char *text, size_t len) {
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 8;
        ur_msg *m = ur_xrealloc(c->msgs, sizeof *m * (size_t)cap);
        c->msgs = m;
        c->cap = cap;
    }
    char *s = ur_xmalloc(len + 1);
    if (len) memcpy(s, text, len);
    s[len] = 0;
    c->msgs[c->n++] = (ur_msg){role, s, len};
}

void ur_conv_truncate(ur_conv *c, int n) {
    if (n < 0) n = 0;
    while (c->n > n) free(c->msgs[--c->n].content);
}

void ur_conv_free(ur_conv *c) {
    ur_conv_truncate(c, 0);
    free(c->msgs);
    memset(c, 0, sizeof *c);
}

int ur_conv_parse_json(ur_conv *c, const char *json, size_t len, const char *name, ur_err *err) {
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &je);
    if (!root) return ur_errf(err, "%s: not valid JSON: %s (line %d, column %d)", name, je.text, je.line, je.column);
    json_t *arr = root;
    int rc = 0;
    if (json_is_object(root)) {
        arr = json_object_get(root, "messages");
        if (!arr) {
            rc = ur_errf(err, "%s: a JSON object must hold the conversation as an array under \"messages\"", name);
            goto out;
        }
    }
    if (!json_is_array(arr)) {
        rc = ur_errf(err, "%s: expected an array of {\"role\": ..., \"content\": ...} messages, or {\"messages\": [...]}",
                     name);
        goto out;
    }
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) { /* check everything before appending anything */
        json_t *m = json_array_get(arr, i), *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_object(m)) {
            rc = ur_errf(err, "%s: message %zu is not a JSON object", name, i + 1);
            goto out;
        }
        if (!json_is_string(role) || ur_role_from_name(json_string_value(role)) < 0) {
            rc = ur_errf(err, "%s: message %zu: \"role\" must be \"system\", \"user\" or \"assistant\"", name, i + 1);
            goto out;
        }
        if (!json_is_string(content)) {
            rc = ur_errf(err, "%s: message %zu: \"content\" must be a string", name, i + 1);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(arr, i), *content = json_object_get(m, "content");
        ur_conv_add(c, ur_role_from_name(json_string_value(json_object_get(m, "role"))), json_string_value(content),
                    json_string_length(content));
    }
out:
    json_decref(root);
    return rc;
}

int ur_conv_load_json(ur_conv *c, const char *path, ur_err *err) {
    ur_buf b = {0};
    int rc = ur_read_file(path, "conversation file", 0, &b, err) ? -1 : ur_conv_parse_json(c, b.data, b.len, path, err);
    ur_buf_free(&b);
    return rc;
}
