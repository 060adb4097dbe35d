/* urial chat -m MODEL [--urial NAME|FILE | --template NAME|auto] — a terminal chat.
 * Lines come from stdin (a terminal or a pipe); each answer streams to stdout as it
 * is generated, already cleaned (the URIAL fences and stop text never show). The
 * conversation grows turn by turn; the session keeps the format's prefix and the
 * earlier turns in the KV cache (UR_REUSE_ALL), so a turn computes only what is new. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "urial/remote.h"
#include "urial/run.h"
#include "urial/session.h"

static const char USAGE[] =
    "usage: urial chat -m MODEL.gguf [--urial NAME|FILE | --template NAME|auto] [options]\n"
    "Chat with a model in the terminal. Type a message and press Enter; the answer streams back.\n"
    "Lines are read from stdin, so a pipe works too (one message per line). A line ending in \\\n"
    "continues on the next line; a line starting with // sends the text after the first /.\n"
    "Commands: /reset  start a new conversation     /prompt  print the rendered prompt so far\n"
    "          /help   list the commands            /quit    leave (so does end of input or Ctrl-D)\n"
    "While an answer streams in a terminal, Ctrl-C stops it. With --backend openai the answers come\n"
    "from a server and are shown when complete.\n";

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* Streams the cleaned answer (ur_chat_stream) to stdout. */
typedef struct streamer {
    ur_chat_stream cs;
    ur_buf out;
} streamer;

static void show(streamer *st) {
    if (st->out.len) {
        fwrite(st->out.data, 1, st->out.len, stdout);
        fflush(stdout);
        st->out.len = 0;
    }
}

static int on_text(void *user, const char *text, size_t len) {
    streamer *st = user;
    ur_chat_stream_push(&st->cs, text, len, &st->out);
    show(st);
    return interrupted ? 1 : 0;
}

/* Read one message (joining lines that end in a backslash). Returns 0 at the end
 * of input. */
static int read_message(ur_buf *msg, int tty) {
    char *line = NULL;
    size_t cap = 0;
    msg->len = 0;
    ur_buf_put(msg, "", 0);
    for (;;) {
        if (tty) {
            fputs(msg->len ? ". " : "> ", stdout);
            fflush(stdout);
        }
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) {
            free(line);
            return msg->len > 0; /* a continued message at the end of input is still sent */
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (n > 0 && line[n - 1] == '\\') {
            ur_buf_put(msg, line, (size_t)n - 1);
            ur_buf_put(msg, "\n", 1);
            continue;
        }
        ur_buf_put(msg, line, (size_t)n);
        free(line);
        return 1;
    }
}

/* --backend openai: one answer from the server (the conversation rendered here,
 * sent to /v1/completions with the format's stop strings), cleaned. Returns 0, or
 * -1 after printing the error line. */
static int answer_remote(ur_remote *client, const char *model, const ur_chat *f, const ur_conv *conv,
                         const ur_gen_params *gp, ur_buf *clean, int quiet) {
    ur_gen_task t = {.msgs = conv->msgs, .n_msgs = conv->n, .gp = *gp};
    ur_buf resp = {0};
    ur_err err = {{0}};
    double t0 = ur_now();
    char *body = ur_gen_task_body(f, model, &t, &err);
    int rc = !body || ur_remote_request(client, f ? "/completions" : "/chat/completions", body, &resp, &err) ||
                     ur_gen_task_answer(f, &t, resp.data, resp.len, &err)
                 ? -1
                 : 0;
    free(body);
    if (rc) {
        cli_fail("%s", err.msg);
    } else {
        ur_buf_put(clean, t.text.data ? t.text.data : "", t.text.len);
        if (!quiet)
            fprintf(stderr, "urial: [prompt %d tokens, %d cached; %d generated in %.1f s; stop: %s]\n", t.n_prompt,
                    t.n_cached, t.n_gen, ur_now() - t0, ur_stop_reason_name(t.stop_reason));
    }
    ur_gen_task_free(&t);
    ur_buf_free(&resp);
    return rc;
}

static void print_prompt(const ur_chat *f, const ur_conv *conv) {
    ur_buf out = {0};
    ur_err err = {{0}};
    if (ur_chat_render(f, conv->msgs, conv->n, 0, &out, &err)) {
        cli_fail("%s", err.msg);
    } else {
        fwrite(out.data, 1, out.len, stdout);
        if (!out.len || out.data[out.len - 1] != '\n') fputc('\n', stdout);
        fflush(stdout);
    }
    ur_buf_free(&out);
}

/* What a chat needs while it runs. */
typedef struct chatter {
    const ur_chat *f;
    ur_session *s;           /* local */
    int n_ctx;
    ur_remote *client;       /* remote */
    const char *remote_model;
    ur_gen_params gp;
    int quiet;
    ur_conv conv;
} chatter;

/* A /command; returns 1 when the chat ends. */
static int command(chatter *c, const char *cmd) {
    if (!strcmp(cmd, "/quit") || !strcmp(cmd, "/exit")) return 1;
    if (!strcmp(cmd, "/reset")) {
        ur_conv_truncate(&c->conv, 0);
        fprintf(stderr, "urial: new conversation\n");
    } else if (!strcmp(cmd, "/prompt")) {
        if (c->f) print_prompt(c->f, &c->conv);
        else fprintf(stderr, "urial: --backend openai-chat: the server renders the prompt with the model's template\n");
    } else if (!strcmp(cmd, "/help")) {
        fprintf(stderr, "urial: /reset starts a new conversation, /prompt prints the rendered prompt so far, "
                        "/quit leaves; a line ending in \\ continues\n");
    } else {
        fprintf(stderr, "urial: unknown command '%.40s' (/help lists them; start with // to send a line "
                        "beginning with /)\n", cmd);
    }
    return 0;
}

/* The answer to the conversation's last message, streamed (local) or shown when
 * complete (remote), added to the conversation; on failure the message is removed. */
static void answer(chatter *c) {
    ur_conv *conv = &c->conv;
    if (c->client) {
        ur_buf clean = {0};
        if (answer_remote(c->client, c->remote_model, c->f, conv, &c->gp, &clean, c->quiet)) {
            ur_conv_truncate(conv, conv->n - 1);
        } else {
            fwrite(clean.data ? clean.data : "", 1, clean.len, stdout);
            fputc('\n', stdout);
            fflush(stdout);
            ur_conv_add(conv, UR_ROLE_ASSISTANT, clean.data ? clean.data : "", clean.len);
        }
        ur_buf_free(&clean);
        return;
    }
    streamer st = {0};
    ur_chat_stream_init(&st.cs, c->f);
    ur_answer ans;
    ur_err err = {{0}};
    interrupted = 0;
    if (ur_session_answer(c->s, conv->msgs, conv->n, &c->gp, on_text, &st, &ans, &err)) {
        ur_conv_truncate(conv, conv->n - 1);
        if (ans.too_long)
            fprintf(stderr, "urial: %s: the conversation no longer fits; /reset starts a new one (or use a larger "
                            "--ctx)\n", err.msg);
        else
            fprintf(stderr, "urial: %s\n", err.msg);
        ur_chat_stream_free(&st.cs);
        ur_buf_free(&st.out);
        return;
    }
    /* what the streaming held back (a tail that stayed text after all) */
    if (ans.gen.text.len > st.cs.raw.len) /* a tail held back when Ctrl-C stopped it */
        ur_chat_stream_push(&st.cs, ans.gen.text.data + st.cs.raw.len, ans.gen.text.len - st.cs.raw.len, &st.out);
    ur_chat_stream_end(&st.cs, &st.out);
    show(&st);
    ur_buf_free(&st.out);
    fputc('\n', stdout);
    fflush(stdout);
    ur_conv_add(conv, UR_ROLE_ASSISTANT, ans.text.data, ans.text.len);
    const ur_gen_result *g = &ans.gen;
    if (g->stop_reason == UR_STOP_CONTEXT)
        fprintf(stderr, "urial: the context is full (%d tokens): the answer was cut; /reset starts a new "
                        "conversation\n", c->n_ctx);
    else if (g->stop_reason == UR_STOP_CANCEL)
        fprintf(stderr, "urial: stopped\n");
    if (!c->quiet)
        fprintf(stderr, "urial: [prompt %d tokens, %d cached; %d generated at %.1f tok/s; stop: %s]\n", g->n_prompt,
                ans.n_cached, g->n_gen, g->t_gen > 0 ? g->n_gen / g->t_gen : 0.0, ur_stop_reason_name(g->stop_reason));
    ur_chat_stream_free(&st.cs);
    ur_answer_free(&ans);
}

/* Messages from stdin until its end or /quit. */
static void chat_loop(chatter *c, int tty) {
    if (tty) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint; /* no SA_RESTART: Ctrl-C at the prompt ends the chat */
        sigaction(SIGINT, &sa, NULL);
    }
    ur_buf msg = {0};
    while (read_message(&msg, tty)) {
        const char *text = msg.data;
        if (text[0] == '/' && text[1] != '/') {
            if (command(c, text)) break;
            continue;
        }
        if (text[0] == '/') text++; /* "//..." sends "/..." */
        if (!*text) continue;
        ur_conv_add(&c->conv, UR_ROLE_USER, text, strlen(text));
        answer(c);
    }
    if (tty) fputc('\n', stdout);
    ur_buf_free(&msg);
}

int cmd_chat(int argc, char **argv) {
    int quiet = 0;
    cli_engine eng;
    cli_engine_init(&eng, "the model (with --backend openai: its name on the server)", NULL);
    cli_format fmt;
    cli_format_init(&fmt);
    fmt.refuse = CLI_FORMAT_NO_PREFIX;
    fmt.why = "a chat has no aligned answers to continue (use urial prompt or urial run)";
    cli_decoding dec;
    cli_decoding_init(&dec, 1024, "tokens per answer at most (default 1024; -1 = until the context is full)");
    cli_cache cache;
    cli_cache_init(&cache, 0);
    cli_remote rem;
    cli_remote_init(&rem, "remote backend (answers from an OpenAI-compatible server: vLLM, urial serve, ...):");
    const cli_opt opts[] = {OPT_GROUP(eng.opts), OPT_GROUP(fmt.opts), OPT_GROUP(cache.opts),
                            OPT_FLAG("quiet", 'q', &quiet, "no statistics line (stderr) after each answer"),
                            OPT_GROUP(dec.opts), OPT_GROUP(rem.opts), OPT_END};
    const cli_cmd cmd = {"chat", USAGE, opts, NULL, 0, 0};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    const char *model = eng.model;
    if (!model) return cli_fail("chat: -m MODEL is required (see urial chat --help)");
    if (cli_format_check(&fmt, "chat")) return 1;

    const int chat_api = rem.on == CLI_BACKEND_OPENAI_CHAT; /* the server applies the template */
    if (chat_api && (fmt.urial || fmt.tmpl))
        return cli_fail("chat: --backend openai-chat: the server applies the model's chat template; --urial and "
                        "--template do not apply (use --backend openai to send a prompt rendered here)");
    const int tty = isatty(0) && isatty(1);
    ur_remote *client = NULL;
    if (rem.on && !(client = cli_remote_open(&rem, "chat", model))) return 1;
    ur_model *m = client ? NULL : cli_load_model(model);
    if (!m && !client) return 1;
    int rc = 1;
    ur_err err = {{0}};
    ur_chat *f = chat_api ? NULL : cli_format_open(&fmt, "chat", model, m ? m->gguf : NULL);
    cli_format_note_aligned(&fmt, m);
    ur_ctx *ctx = f && m ? cli_new_ctx(m, eng.ctx, eng.threads, 0) : NULL;
    ur_session_params sp = {UR_REUSE_ALL, cache.dir};
    ur_session *s = ctx ? ur_session_new(ctx, f, &sp, &err) : NULL;
    if (ctx && !s) cli_fail("%s", err.msg);
    if (!s && !(client && (f || chat_api))) goto out;

    /* the prefix is computed (or loaded) before the first message, so that the first
     * answer is as quick as the others */
    double t0 = ur_now();
    int how = s ? ur_session_warm(s, &err) : UR_PREFIX_PRESENT;
    const char *note = s ? ur_session_take_note(s) : NULL;
    if (note) fprintf(stderr, "urial: %s\n", note);
    if (how < 0) {
        cli_fail("%s", err.msg);
        goto out;
    }
    if (how == UR_PREFIX_COMPUTED && !quiet)
        fprintf(stderr, "urial: computed the %d-token prompt prefix of %s in %.2f s\n", ur_session_prefix_len(s),
                ur_chat_name(f), ur_now() - t0);
    if (tty)
        fprintf(stderr, "urial: chatting with %s (%s %s); /help lists the commands\n", m ? m->name : rem.model,
                !f ? "the server's" : ur_chat_kind(f) == UR_CHAT_URIAL ? "URIAL prompt" : "template",
                f ? ur_chat_name(f) : "chat template");
    chatter c = {.f = f, .s = s, .client = client, .remote_model = rem.model, .gp = dec.gp, .quiet = quiet,
                 .n_ctx = ctx ? ur_ctx_n_ctx(ctx) : 0};
    chat_loop(&c, tty);
    ur_conv_free(&c.conv);
    rc = 0;
out:
    ur_session_free(s);
    ur_ctx_free(ctx);
    ur_chat_free(f);
    ur_model_free(m);
    ur_remote_free(client);
    return rc;
}
