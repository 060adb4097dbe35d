/* urial serve -m MODEL [--urial NAME|FILE | --template NAME|auto] [--host H] [--port P]
 * [--parallel N] [--api-key KEY] [--ctx N] [--threads N] — an OpenAI-compatible
 * server (include/urial/serve.h) until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/serve.h"

static const char *HELP =
    "usage: urial serve -m MODEL.gguf [--urial NAME|FILE | --template NAME|auto] [options]\n"
    "An OpenAI-compatible server: POST /v1/chat/completions (the conversation rendered with the URIAL\n"
    "prompt, or with --template an aligned model's template), POST /v1/completions (raw prompt; logprobs,\n"
    "echo), GET /v1/models, GET /health, and a chat page at GET /. Ctrl-C (SIGINT) or SIGTERM stops it.\n"
    "  --urial NAME|FILE     URIAL prompt for a base model (default urial-k3)\n"
    "  --template NAME|auto  an aligned model's chat template instead\n"
    "  --host ADDR           address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: all)\n"
    "  --port N              port (default 8080; 0 = any free port, printed at start)\n"
    "  --parallel N          slots: requests generated at once, batched into one forward pass (default 2)\n"
    "  --queue N             requests waiting for a slot at most; more get HTTP 503 (default 64)\n"
    "  --api-key KEY         require \"Authorization: Bearer KEY\" on /v1/ (default: none)\n"
    "  --api-key-env VAR     the same, with the key read from the environment variable VAR\n"
    "  --max-tokens N        tokens per answer at most; larger requests are lowered (default 2048)\n"
    "  --max-body BYTES      request body size at most; larger get HTTP 413 (default 1048576)\n"
    "  --max-connections N   open connections at most (default 256)\n"
    "  --name NAME           the model's id in the API (default: the file name without .gguf)\n"
    "  --prompt-cache DIR    keep the prompt prefix's KV cache in DIR (computed once, loaded afterwards)\n"
    "  --ctx N               context per slot (default: the model's, at most 4096)\n"
    "  -t, --threads N       threads of the engine's forward passes (default: all cores)\n"
    "Memory: (parallel + a little) KV caches of --ctx tokens, printed at start.\n";

int cmd_serve(int argc, char **argv) {
    enum { O_URIAL = 256, O_TEMPLATE, O_HOST, O_PORT, O_PAR, O_QUEUE, O_KEY, O_KEYENV, O_MAXT, O_BODY, O_CONN, O_NAME,
           O_CACHE, O_CTX };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},         {"urial", required_argument, 0, O_URIAL},
        {"template", required_argument, 0, O_TEMPLATE}, {"host", required_argument, 0, O_HOST},
        {"port", required_argument, 0, O_PORT},       {"parallel", required_argument, 0, O_PAR},
        {"queue", required_argument, 0, O_QUEUE},     {"api-key", required_argument, 0, O_KEY},
        {"api-key-env", required_argument, 0, O_KEYENV}, {"max-tokens", required_argument, 0, O_MAXT},
        {"max-body", required_argument, 0, O_BODY},   {"max-connections", required_argument, 0, O_CONN},
        {"name", required_argument, 0, O_NAME},       {"prompt-cache", required_argument, 0, O_CACHE},
        {"ctx", required_argument, 0, O_CTX},         {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    const char *model = NULL, *urial = NULL, *tmpl = NULL, *keyenv = NULL;
    ur_server_params sp;
    ur_server_defaults(&sp);
    long v;
    int c;
    while ((c = cli_getopt(argc, argv, "m:t:h", opts, "serve")) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case O_URIAL: urial = optarg; break;
        case O_TEMPLATE: tmpl = optarg; break;
        case O_HOST: sp.host = optarg; break;
        case O_PORT: if (cli_int("--port", optarg, 0, 65535, &v)) return 1; sp.port = (int)v; break;
        case O_PAR: if (cli_int("--parallel", optarg, 1, 256, &v)) return 1; sp.parallel = (int)v; break;
        case O_QUEUE: if (cli_int("--queue", optarg, 1, 1 << 20, &v)) return 1; sp.queue = (int)v; break;
        case O_KEY: sp.api_key = optarg; break;
        case O_KEYENV: keyenv = optarg; break;
        case O_MAXT: if (cli_int("--max-tokens", optarg, 1, 1 << 24, &v)) return 1; sp.max_tokens = (int)v; break;
        case O_BODY: if (cli_int("--max-body", optarg, 1024, 1L << 30, &v)) return 1; sp.max_body = (size_t)v; break;
        case O_CONN: if (cli_int("--max-connections", optarg, 1, 1 << 16, &v)) return 1; sp.max_connections = (int)v; break;
        case O_NAME: sp.model_name = optarg; break;
        case O_CACHE: sp.cache_dir = optarg; break;
        case O_CTX: if (cli_int("--ctx", optarg, 16, 1 << 24, &v)) return 1; sp.n_ctx = (int)v; break;
        case 't': if (cli_int("--threads", optarg, 1, 1024, &v)) return 1; sp.n_threads = (int)v; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return 1;
        }
    }
    if (!model) return cli_fail("serve: -m MODEL is required (see urial serve --help)");
    if (optind != argc) return cli_fail("serve: unexpected argument '%s'", argv[optind]);
    if (urial && tmpl) return cli_fail("serve: give either --urial or --template, not both");
    if (keyenv) {
        if (sp.api_key) return cli_fail("serve: give either --api-key or --api-key-env, not both");
        if (!(sp.api_key = getenv(keyenv)) || !*sp.api_key)
            return cli_fail("serve: --api-key-env %s: the environment variable is not set", keyenv);
    }

    ur_model *m = cli_load_model(model);
    if (!m) return 1;
    ur_chat *f = cli_open_format("serve", urial, tmpl, model, m->gguf);
    if (!f) {
        ur_model_free(m);
        return 1;
    }
    cli_note_aligned(m, urial, tmpl);
    if (!sp.n_ctx) sp.n_ctx = cli_default_ctx(m);

    /* SIGINT/SIGTERM are taken with sigwait here; blocked before any thread starts,
     * so that every thread inherits the mask and none is interrupted */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    ur_err err = {{0}};
    double t0 = ur_now();
    ur_server *s = ur_server_start(m, f, &sp, &err);
    if (!s) {
        cli_fail("%s", err.msg);
        ur_chat_free(f);
        ur_model_free(m);
        return 1;
    }
    if (ur_server_note(s)) fprintf(stderr, "urial: %s\n", ur_server_note(s));
    const char *host = sp.host;
    int v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "urial: serving %s (%s %s) on http://%s%s%s:%d/ with %d slots of %d tokens%s; ready in %.1f s\n",
            m->name, ur_chat_kind(f) == UR_CHAT_URIAL ? "URIAL prompt" : "template", ur_chat_name(f), v6 ? "[" : "",
            host, v6 ? "]" : "", ur_server_port(s), sp.parallel, sp.n_ctx, sp.api_key ? ", API key required" : "",
            ur_now() - t0);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "urial: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    ur_server_stop(s);
    ur_chat_free(f);
    ur_model_free(m);
    return 0;
}
