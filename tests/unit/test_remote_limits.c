/* The remote client's bounds (issue 21): a server that never ends its answer body
 * fails the request once the body passes the cap, within seconds, instead of
 * buffering until the process runs out of memory. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "urial/remote.h"

typedef struct endless {
    int fd, port;
    long long sent;
} endless;

/* Answer every connection with a 200 and a body that never ends (until the client hangs up). */
static void *endless_main(void *arg) {
    endless *e = arg;
    for (;;) {
        int c = accept(e->fd, NULL, NULL);
        if (c < 0) return NULL;
        char req[4096];
        if (recv(c, req, sizeof req, 0) <= 0) {
            close(c);
            continue;
        }
        const char *hd = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"choices\":[";
        send(c, hd, strlen(hd), MSG_NOSIGNAL);
        char chunk[65536];
        memset(chunk, ' ', sizeof chunk);
        ssize_t w;
        while ((w = send(c, chunk, sizeof chunk, MSG_NOSIGNAL)) > 0) e->sent += w;
        close(c);
    }
}

static int endless_start(endless *e, pthread_t *th) {
    memset(e, 0, sizeof *e);
    e->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (e->fd < 0 || bind(e->fd, (struct sockaddr *)&a, sizeof a) || listen(e->fd, 4) ||
        getsockname(e->fd, (struct sockaddr *)&a, &al))
        return -1;
    e->port = ntohs(a.sin_port);
    return pthread_create(th, NULL, endless_main, e);
}

static void endless_body_is_cut(size_t cap, const char *want) {
    endless e;
    pthread_t th;
    REQUIRE(endless_start(&e, &th) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", e.port);
    ur_remote_params p;
    ur_remote_defaults(&p);
    p.url = url, p.max_retries = 0, p.timeout = 60, p.max_body = cap;
    ur_err err = {{0}};
    ur_remote *r = ur_remote_new(&p, &err);
    REQUIRE(r);
    ur_buf out = {0};
    const double t0 = ur_now();
    int rc = ur_remote_request(r, "/completions", "{}", &out, &err);
    const double took = ur_now() - t0;
    CHECK(rc == -1);
    CHECKF(strstr(err.msg, want) != NULL, "error '%s' lacks '%s'", err.msg, want);
    CHECKF(took < 30, "took %.1f s", took);
    CHECKF(out.len <= cap, "buffered %zu bytes", out.len);
    ur_buf_free(&out);
    ur_remote_free(r);
    shutdown(e.fd, SHUT_RDWR);
    close(e.fd);
    pthread_join(th, NULL);
}

static void test_endless_body_cut_at_cap(void) { endless_body_is_cut(1u << 20, "the answer passed 1 MiB; stopped reading it"); }

static void test_endless_body_default_cap(void) { endless_body_is_cut(0, "the answer passed 64 MiB; stopped reading it"); }

static void test_judge_cap_smaller(void) { CHECK(UR_JUDGE_MAX_BODY < UR_REMOTE_MAX_BODY); }

int main(void) {
    th_suite = "remote_limits";
    RUN(test_endless_body_cut_at_cap);
    RUN(test_endless_body_default_cap);
    RUN(test_judge_cap_smaller);
    return th_fails != 0;
}
