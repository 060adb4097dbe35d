/* libFuzzer target for urial serve's request handling (make fuzz-api). The first
 * byte picks what the rest is:
 *  - even: a request body for /v1/chat/completions (bit 1 set) or /v1/completions,
 *    parsed and checked by the API handler (srv_parse_request: every field, stops,
 *    logprobs, messages rendered with the chat template and tokenized); a request
 *    it accepts gets its response, stream chunks and final event written;
 *  - odd: raw bytes sent over loopback to a real server (libmicrohttpd's parser and
 *    ours behind it: Host, URL, method, key, size and type checks, bodies, routing,
 *    generation of at most 2 tokens), then the write side closed and the answer read.
 * The model is the bundled demo base (URIAL_FUZZ_MODEL overrides), loaded once. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/serve_int.h"

#define ASSERT(c)                   \
    do {                            \
        if (!(c)) __builtin_trap(); \
    } while (0)

static ur_model *M;
static ur_chat *F;
static srv_api API;
static ur_server *S;
static int PORT;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *path = getenv("URIAL_FUZZ_MODEL");
    ur_err err = {{0}};
    M = ur_model_load(path ? path : "models/urial-demo-base.gguf", &err);
    F = M ? ur_chat_template("zephyr", &err) : NULL;
    if (!F) {
        fprintf(stderr, "fuzz_api: %s\n", err.msg);
        exit(1);
    }
    API = (srv_api){M, F, "urial-demo-base", 256, 2, 0};
    ur_server_params p;
    ur_server_defaults(&p);
    p.port = 0, p.n_threads = 1, p.n_ctx = 256, p.max_tokens = 2, p.parallel = 1, p.queue = 4;
    p.header_timeout = 1, p.body_timeout = 1, p.max_body = 65536;
    if (!(S = ur_server_start(M, F, &p, &err))) {
        fprintf(stderr, "fuzz_api: %s\n", err.msg);
        exit(1);
    }
    PORT = ur_server_port(S);
    return 0;
}

static void api(int chat, const char *body, size_t len) {
    srv_req r;
    ur_engine_job *j = NULL;
    srv_error e;
    memset(&e, 0, sizeof e);
    if (srv_parse_request(&API, chat, body, len, &r, &j, &e)) {
        ASSERT(e.status >= 400 && e.status < 600 && !strchr(e.msg, '\n'));
        ur_buf b = {0};
        srv_error_json(&e, &b);
        json_t *o = json_loadb(b.data, b.len, 0, NULL); /* the error is valid JSON */
        ASSERT(o);
        json_decref(o);
        ur_buf_free(&b);
        return;
    }
    ASSERT(j);
    ur_buf b = {0};
    srv_response_json(&API, &r, j, &b);
    srv_chunk_json(&API, &r, "x", 1, 1, &b);
    srv_chunk_final(&API, &r, j, &b);
    ur_buf_free(&b);
    ur_engine_job_release(NULL, j);
    srv_req_free(&r);
}

static void http(const uint8_t *d, size_t n) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)PORT),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        (void)send(fd, d, n, MSG_NOSIGNAL);
        shutdown(fd, SHUT_WR);
        char buf[4096];
        struct pollfd p = {fd, POLLIN, 0};
        while (poll(&p, 1, 3000) > 0 && recv(fd, buf, sizeof buf, 0) > 0) {
        }
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1) http(data + 1, size - 1);
    else api((data[0] >> 1) & 1, (const char *)data + 1, size - 1);
    return 0;
}
