/* The study's methods: a table from a name to a generation configuration, so that
 * each of the paper's baselines is one entry. */
#include <stdio.h>
#include <string.h>

#include "urial/study.h"

static const ur_study_method METHODS[] = {
    {"urial-k0", UR_STUDY_BASE, UR_STUDY_URIAL, "urial-k0", "base model, URIAL preamble only (K=0)"},
    {"urial-k1", UR_STUDY_BASE, UR_STUDY_URIAL, "urial-k1", "base model, URIAL with 1 example (K=1)"},
    {"urial-k3", UR_STUDY_BASE, UR_STUDY_URIAL, "urial-k3", "base model, URIAL with 3 examples (K=3)"},
    {"urial-k8", UR_STUDY_BASE, UR_STUDY_URIAL, "urial-k8", "base model, URIAL with 8 examples (K=8)"},
    {"urial-k3-safe", UR_STUDY_BASE, UR_STUDY_URIAL, "urial-k3-safe", "base model, URIAL K=3 with a refusal example"},
    {"aligned", UR_STUDY_ALIGNED, UR_STUDY_TEMPLATE, "auto", "aligned model, its own chat template"},
    {"zero-shot", UR_STUDY_BASE, UR_STUDY_ZERO_SHOT, "", "base model, the query alone in the zero-shot wrapper"},
    {"urial-legacy", UR_STUDY_BASE, UR_STUDY_URIAL_LEGACY, "urial-k3", "base model, URIAL K=3 in the paper-era format"},
    /* retrieval ICL and prefix decoding: see enum ur_study_prompt */
};
#define N_METHODS ((int)(sizeof METHODS / sizeof METHODS[0]))
static const char DEFAULT[] = "urial-k0,urial-k1,urial-k3,aligned";

static int valid_name(const char *s, size_t n) {
    if (!n || n >= sizeof METHODS[0].name) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '-' || s[i] == '_' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return s[0] != '.';
}

/* One entry of the list: a table name, or NAME=FILE. */
static int one(const char *s, size_t n, ur_study_method *m, ur_err *err) {
    const char *eq = memchr(s, '=', n);
    if (eq) {
        size_t nl = (size_t)(eq - s), fl = n - nl - 1;
        if (!valid_name(s, nl) || !fl || fl >= sizeof m->arg)
            return ur_errf(err, "--methods: '%.*s' is not NAME=FILE (NAME of letters, digits, '-', '_', '.')", (int)n, s);
        memset(m, 0, sizeof *m);
        memcpy(m->name, s, nl);
        memcpy(m->arg, eq + 1, fl);
        m->model = UR_STUDY_BASE;
        m->prompt = UR_STUDY_URIAL;
        snprintf(m->what, sizeof m->what, "base model, URIAL prompt %.120s", m->arg);
        return 0;
    }
    for (int i = 0; i < N_METHODS; i++)
        if (strlen(METHODS[i].name) == n && !memcmp(METHODS[i].name, s, n)) {
            *m = METHODS[i];
            return 0;
        }
    ur_buf names = {0};
    for (int i = 0; i < N_METHODS; i++) ur_buf_printf(&names, "%s%s", i ? ", " : "", METHODS[i].name);
    ur_errf(err, "--methods: unknown method '%.*s' (%s, or NAME=FILE for a URIAL prompt file)", (int)n, s, names.data);
    ur_buf_free(&names);
    return -1;
}

int ur_study_methods(const char *list, ur_study_method *out, int max, ur_err *err) {
    if (!list || !*list) list = DEFAULT;
    int n = 0;
    for (const char *p = list;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == max) return ur_errf(err, "--methods: more than %d methods", max);
        if (one(p, len, &out[n], err)) return -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(out[i].name, out[n].name)) return ur_errf(err, "--methods: '%s' is given twice", out[n].name);
        n++;
        if (!e) break;
        p = e + 1;
    }
    return n;
}

void ur_study_methods_help(ur_buf *out) {
    for (int i = 0; i < N_METHODS; i++) ur_buf_printf(out, "  %-14s %s\n", METHODS[i].name, METHODS[i].what);
    ur_buf_puts(out, "  NAME=FILE      base model, the URIAL prompt in FILE, reported as NAME\n");
}
