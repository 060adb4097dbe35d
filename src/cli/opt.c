/* Table-driven option parsing and --help (src/cli/opt.h). */
#include "cli/opt.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_OPTS 160

/* The options of a table and of the groups it includes, depth first, with the
 * help-only lines; NULL-terminated count in *n. Returns -1 if there are too many. */
static int flatten(const cli_opt *t, const cli_opt **out, int *n, int with_text) {
    for (; t->kind != CLI_END; t++) {
        if (t->kind == CLI_GROUP) {
            if (flatten(t->dst, out, n, with_text)) return -1;
            continue;
        }
        if (t->kind == CLI_TEXT && !with_text) continue;
        if (*n == MAX_OPTS) return -1;
        out[(*n)++] = t;
    }
    return 0;
}

static int in_range(const cli_opt *o, const char *v, double x, int integer) {
    if (x >= o->min && x <= o->max) return 0;
    if (integer) cli_fail("option --%s: '%s' is not an integer in [%.0f, %.0f]", o->name, v, o->min, o->max);
    else cli_fail("option --%s: '%s' is not a number in [%g, %g]", o->name, v, o->min, o->max);
    return -1;
}

/* "a|b|c" -> "a, b or c" */
static void alternatives(const char *choices, char *out, size_t cap) {
    int bars = 0, k = 0;
    for (const char *p = choices; *p; p++) bars += *p == '|';
    size_t o = 0;
    out[0] = 0;
    for (const char *p = choices; *p && o + 8 < cap; p++) {
        if (*p != '|') {
            out[o++] = *p;
            out[o] = 0;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "%s", ++k == bars ? " or " : ", ");
        }
    }
}

/* Store one option's value; 0, or -1 after printing the error. */
static int store(const cli_cmd *c, const cli_opt *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case CLI_FLAG: *(int *)o->dst = 1; break;
    case CLI_STR: *(const char **)o->dst = v; break;
    case CLI_STRS: {
        cli_strs *s = o->dst;
        if (s->n == (int)(sizeof s->v / sizeof s->v[0]))
            return cli_fail("%s: --%s is given more than %d times", c->name, o->name, s->n), -1;
        s->v[s->n++] = v;
        break;
    }
    case CLI_INT:
    case CLI_LONG: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end) {
            cli_fail("option --%s: '%s' is not an integer in [%.0f, %.0f]", o->name, v, o->min, o->max);
            return -1;
        }
        if (in_range(o, v, (double)x, 1)) return -1;
        if (o->kind == CLI_INT) *(int *)o->dst = (int)x;
        else *(long *)o->dst = x;
        break;
    }
    case CLI_REAL:
    case CLI_FLOAT: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x)) {
            cli_fail("option --%s: '%s' is not a number in [%g, %g]", o->name, v, o->min, o->max);
            return -1;
        }
        if (in_range(o, v, x, 0)) return -1;
        if (o->kind == CLI_REAL) *(double *)o->dst = x;
        else *(float *)o->dst = (float)x;
        break;
    }
    case CLI_U64: {
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end || *v == '-')
            return cli_fail("option --%s: '%s' is not a non-negative integer", o->name, v), -1;
        *(uint64_t *)o->dst = x;
        break;
    }
    case CLI_CHOICE: {
        size_t n = strlen(v);
        int i = 0;
        for (const char *p = o->choices;; i++) {
            const char *bar = strchr(p, '|');
            size_t l = bar ? (size_t)(bar - p) : strlen(p);
            if (l == n && !strncmp(p, v, n)) break;
            if (!bar) {
                char alts[160];
                alternatives(o->choices, alts, sizeof alts);
                return cli_fail("%s: --%s must be %s, not '%s'", c->name, o->name, alts, v), -1;
            }
            p = bar + 1;
        }
        *(int *)o->dst = i;
        break;
    }
    case CLI_FN:
        if (o->fn(o->dst, v)) return -1;
        break;
    default: break;
    }
    if (o->seen) *o->seen = 1;
    return 0;
}

/* --max-input SIZE (every command): bytes, or a number with K, M or G (binary units). */
static int set_max_input(const cli_cmd *c, const char *v) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    const double unit = *end == 'K' || *end == 'k' ? 1024.0 : *end == 'M' || *end == 'm' ? 1048576.0
                        : *end == 'G' || *end == 'g' ? 1073741824.0 : 1.0;
    if (unit > 1) end++;
    if (errno || end == v || *end || !(x > 0) || x * unit > 1e18)
        return cli_fail("%s: --max-input: '%s' is not a size (bytes, or a number with K, M or G)", c->name, v), -1;
    ur_input_cap_set((uint64_t)(x * unit));
    return 0;
}

int cli_parse(const cli_cmd *c, int argc, char **argv) {
    const cli_opt *all[MAX_OPTS];
    int n = 0;
    if (flatten(c->opts, all, &n, 0)) return cli_fail("%s: too many options (a bug)", c->name), -1;
    struct option lo[MAX_OPTS + 3];
    char shorts[2 * MAX_OPTS + 8] = ":";
    size_t ns = 1;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++)
            if (!strcmp(all[k]->name, all[i]->name) || (all[i]->sh && all[k]->sh == all[i]->sh))
                return cli_fail("%s: option --%s is declared twice (a bug)", c->name, all[i]->name), -1;
        lo[i] = (struct option){all[i]->name, all[i]->kind == CLI_FLAG ? no_argument : required_argument, 0, 256 + i};
        if (all[i]->sh) {
            shorts[ns++] = (char)all[i]->sh;
            if (all[i]->kind != CLI_FLAG) shorts[ns++] = ':';
        }
    }
    lo[n] = (struct option){"help", no_argument, 0, 'h'};
    lo[n + 1] = (struct option){"max-input", required_argument, 0, 255};
    lo[n + 2] = (struct option){0, 0, 0, 0};
    shorts[ns++] = 'h';
    shorts[ns] = 0;
    optind = 1;
    opterr = 0;
    for (;;) {
        int o = getopt_long(argc, argv, shorts, lo, NULL);
        if (o == -1) break;
        if (o == 'h') {
            cli_help(c);
            return 0;
        }
        if (o == '?' || o == ':') {
            if (optopt && optopt < 256 && strchr(shorts + 1, optopt) && o == ':')
                cli_fail("%s: option -%c needs a value (see urial %s --help)", c->name, optopt, c->name);
            else
                cli_fail("%s: option '%s' is unknown or needs a value (see urial %s --help)", c->name, argv[optind - 1],
                         c->name);
            return -1;
        }
        if (o == 255) {
            if (set_max_input(c, optarg)) return -1;
            continue;
        }
        const cli_opt *opt = NULL;
        if (o >= 256) opt = all[o - 256];
        else
            for (int i = 0; i < n && !opt; i++)
                if (all[i]->sh == o) opt = all[i];
        if (!opt || store(c, opt, optarg)) return -1;
    }
    int np = argc - optind;
    if (np > c->max_args) return cli_fail("%s: unexpected argument '%s'", c->name, argv[optind + c->max_args]), -1;
    if (np < c->min_args) return cli_fail("%s: missing arguments (see urial %s --help)", c->name, c->name), -1;
    return optind;
}

void cli_help(const cli_cmd *c) {
    const cli_opt *all[MAX_OPTS];
    int n = 0;
    flatten(c->opts, all, &n, 1);
    fputs(c->usage, stdout);
    for (int i = 0; i < n; i++) {
        const cli_opt *o = all[i];
        if (o->kind == CLI_TEXT) {
            fputs(o->help, stdout);
            fputc('\n', stdout);
            continue;
        }
        char left[96];
        int l = snprintf(left, sizeof left, "  %s%c%s--%s%s%s", o->sh ? "-" : "", o->sh ? o->sh : ' ',
                         o->sh ? ", " : "", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        if (!o->sh) l = snprintf(left, sizeof left, "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fputs(left, stdout);
        const char *h = o->help ? o->help : "";
        for (int first = 1;; first = 0) {
            const char *nl = strchr(h, '\n');
            int len = nl ? (int)(nl - h) : (int)strlen(h);
            if (first) printf("%*s%.*s\n", l < 24 ? 24 - l : 1, "", len, h);
            else printf("%24s%.*s\n", "", len, h);
            if (!nl) break;
            h = nl + 1;
        }
    }
    printf("  --max-input SIZE      the largest input file read (datasets, results, text; default 1G;\n"
           "                        a FIFO or device is never an input)\n");
    if (c->epilog) fputs(c->epilog, stdout);
}
