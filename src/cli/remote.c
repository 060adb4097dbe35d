/* --backend openai: the options that send urial run and chat work to an
 * OpenAI-compatible server (vLLM, urial serve, ...) instead of the local engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/remote.h"

const char CLI_REMOTE_HELP[] =
    "remote backend (generation on an OpenAI-compatible server: vLLM, urial serve, ...):\n"
    "  --backend local|openai  where the model runs (default local)\n"
    "  --base-url URL          the server's API, e.g. http://127.0.0.1:8000/v1 (vLLM's default port)\n"
    "  -m, --model NAME        with --backend openai: the model's name on the server (a path ending in\n"
    "                          .gguf: its base name without .gguf, as urial serve names it)\n"
    "  --api-key-env VAR       send the key in environment variable VAR (\"Authorization: Bearer ...\")\n"
    "  --concurrency N         requests in flight (default 4)\n"
    "  --timeout S             seconds per request (default 600)\n"
    "  --retries N             retries of a request on 429, 5xx, timeouts, broken connections (default 8)\n";

void cli_remote_init(cli_remote *r) {
    memset(r, 0, sizeof *r);
    r->concurrency = 4;
    r->timeout = 600;
    r->retries = 8;
}

int cli_remote_opt(cli_remote *r, int c, const char *arg) {
    switch (c) {
    case CLI_O_BACKEND:
        if (!strcmp(arg, "openai")) r->on = 1;
        else if (!strcmp(arg, "local")) r->on = 0;
        else return cli_fail("--backend '%s': give local or openai", arg), -1;
        return 1;
    case CLI_O_BASEURL: r->url = arg; return 1;
    case CLI_O_KEYENV: r->key_env = arg; return 1;
    case CLI_O_CONC: return cli_int("--concurrency", arg, 1, 1024, &r->concurrency) ? -1 : 1;
    case CLI_O_RETRIES: return cli_int("--retries", arg, 0, 1000, &r->retries) ? -1 : 1;
    case CLI_O_TIMEOUT: return cli_float("--timeout", arg, 0.001, 1e6, &r->timeout) ? -1 : 1;
    }
    return 0;
}

struct ur_remote *cli_remote_open(cli_remote *r, const char *cmd, const char *model) {
    if (!r->url) return cli_fail("%s: --backend openai needs --base-url URL (e.g. http://127.0.0.1:8000/v1)", cmd), NULL;
    if (!model) return cli_fail("%s: --backend openai needs -m NAME, the model's name on the server", cmd), NULL;
    const char *b = strrchr(model, '/');
    size_t n = strlen(model);
    if (n > 5 && !strcmp(model + n - 5, ".gguf")) { /* a GGUF path: urial serve's name for it */
        b = b ? b + 1 : model;
        snprintf(r->model, sizeof r->model, "%.*s", (int)(model + n - 5 - b), b);
    } else {
        snprintf(r->model, sizeof r->model, "%s", model);
    }
    const char *key = NULL;
    if (r->key_env && !(key = getenv(r->key_env)))
        return cli_fail("%s: --api-key-env %s: the environment variable is not set", cmd, r->key_env), NULL;
    ur_remote_params p;
    ur_remote_defaults(&p);
    p.url = r->url;
    p.api_key = key;
    p.hint_404 = "check --base-url and -m, the model's name on the server";
    p.concurrency = (int)r->concurrency;
    p.timeout = r->timeout;
    p.max_retries = (int)r->retries;
    ur_err err = {{0}};
    struct ur_remote *c = ur_remote_new(&p, &err);
    if (!c) cli_fail("%s: %s", cmd, err.msg);
    return c;
}
