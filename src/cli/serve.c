/* urial serve -m MODEL [--urial NAME|FILE | --template NAME|auto] [--host H] [--port P]
 * [--parallel N] [--api-key KEY] [--ctx N] [--threads N] — an OpenAI-compatible
 * server (include/urial/serve.h) until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/serve.h"

static const char USAGE[] =
    "usage: urial serve -m MODEL.gguf [--urial NAME|FILE | --template NAME|auto] [options]\n"
    "An OpenAI-compatible server: POST /v1/chat/completions (the conversation rendered with the URIAL\n"
    "prompt, or with --template an aligned model's template), POST /v1/completions (raw prompt; logprobs,\n"
    "echo), GET /v1/models, GET /health, and a chat page at GET /. Ctrl-C (SIGINT) or SIGTERM stops it.\n";
static const char EPILOG[] = "Memory: (parallel + a little) KV caches of --ctx tokens, printed at start.\n";

/* The key in the first line of a file (kept out of argv, where other users see it). */
static const char *read_key(const char *path, ur_buf *b) {
    ur_err err = {{0}};
    if (ur_read_file(path, "API key file", 4096, b, &err)) return ur_buf_free(b), cli_fail("%s", err.msg), NULL;
    b->data[strcspn(b->data, "\r\n")] = 0;
    char *k = b->data;
    while (*k == ' ' || *k == '\t') k++;
    size_t n = strlen(k);
    while (n && (k[n - 1] == ' ' || k[n - 1] == '\t')) k[--n] = 0;
    if (!*k) return ur_buf_free(b), cli_fail("serve: --api-key-file %s: the first line is empty", path), NULL;
    return k;
}

int cmd_serve(int argc, char **argv) {
    const char *keyenv = NULL, *keyfile = NULL;
    ur_buf keybuf = {0};
    ur_server_params sp;
    ur_server_defaults(&sp);
    int max_body = (int)sp.max_body;
    cli_engine eng;
    cli_engine_init(&eng, "the model", "context per slot (default: the model's, at most 4096)");
    eng.opts[2].help = "threads of the engine's forward passes (default: all cores)";
    cli_format fmt;
    cli_format_init(&fmt);
    fmt.refuse = CLI_FORMAT_NO_PREFIX;
    fmt.why = "a server's requests have no aligned answers to continue (use urial run)";
    cli_cache cache;
    cli_cache_init(&cache, 0);
    const cli_opt opts[] = {
        OPT_GROUP(eng.opts), OPT_GROUP(fmt.opts),
        OPT_STR("host", 0, "ADDR", &sp.host, "address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: all)"),
        OPT_INT("port", 0, "N", 0, 65535, &sp.port, "port (default 8080; 0 = any free port, printed at start)"),
        OPT_INT("parallel", 0, "N", 1, 256, &sp.parallel,
                "slots: requests generated at once, batched into one forward pass (default 2)"),
        OPT_INT("queue", 0, "N", 1, 1 << 20, &sp.queue, "requests waiting for a slot at most; more get HTTP 503 (default 64)"),
        OPT_STR("api-key", 0, "KEY", &sp.api_key, "require \"Authorization: Bearer KEY\" on /v1/ (default: none)"),
        OPT_STR("api-key-env", 0, "VAR", &keyenv, "the same, with the key read from the environment variable VAR"),
        OPT_STR("api-key-file", 0, "FILE", &keyfile, "the same, with the key read from FILE (its first line)"),
        OPT_INT("max-tokens", 0, "N", 1, 1 << 24, &sp.max_tokens,
                "tokens per answer at most; larger requests are lowered (default 2048)"),
        OPT_INT("max-body", 0, "BYTES", 1024, 1 << 30, &max_body,
                "request body size at most; larger get HTTP 413 (default 1048576)"),
        OPT_INT("max-connections", 0, "N", 1, 1 << 16, &sp.max_connections, "open connections at most (default 256)"),
        OPT_INT("max-client-connections", 0, "N", 1, 1 << 16, &sp.max_client_connections,
                "open connections from one IP address at most (default 64)"),
        OPT_REAL("header-timeout", 0, "S", 0.1, 86400, &sp.header_timeout,
                 "seconds for a request's headers to arrive, from the connection's start or\n"
                 "its last answer; slower connections are closed (default 15)"),
        OPT_REAL("body-timeout", 0, "S", 0.1, 86400, &sp.body_timeout,
                 "seconds for a request's body to arrive after its headers (default 60)"),
        OPT_STR("name", 0, "NAME", &sp.model_name, "the model's id in the API (default: the file name without .gguf)"),
        OPT_GROUP(cache.opts), OPT_END};
    const cli_cmd cmd = {"serve", USAGE, opts, EPILOG, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    const char *model = eng.model;
    sp.max_body = (size_t)max_body;
    sp.cache_dir = cache.dir;
    sp.n_threads = eng.threads;
    if (!model) return cli_fail("serve: -m MODEL is required (see urial serve --help)");
    if (cli_format_check(&fmt, "serve")) return 1;
    if (!!sp.api_key + !!keyenv + !!keyfile > 1)
        return cli_fail("serve: give one of --api-key, --api-key-env and --api-key-file");
    if (sp.api_key)
        fprintf(stderr, "urial: note: --api-key shows the key to every user of this machine (ps); --api-key-file FILE "
                        "or --api-key-env VAR keep it out of the command line\n");
    if (keyenv && (!(sp.api_key = getenv(keyenv)) || !*sp.api_key))
        return cli_fail("serve: --api-key-env %s: the environment variable is not set", keyenv);
    if (keyfile && !(sp.api_key = read_key(keyfile, &keybuf))) return 1;
    if (!ur_server_host_is_loopback(sp.host) && !sp.api_key)
        fprintf(stderr, "urial: warning: serving on %s without an API key: anyone who can reach this address can "
                        "use the model (--api-key-file FILE requires a key)\n", sp.host);

    ur_model *m = cli_load_model(model);
    ur_chat *f = m ? cli_format_open(&fmt, "serve", model, m->gguf) : NULL;
    if (!f) {
        ur_model_free(m);
        ur_buf_free(&keybuf);
        return 1;
    }
    cli_format_note_aligned(&fmt, m);
    sp.n_ctx = eng.ctx ? eng.ctx : cli_default_ctx(m);
    cli_ctx_warn(m, sp.n_ctx);

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
        ur_buf_free(&keybuf);
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
    ur_buf_free(&keybuf);
    return 0;
}
