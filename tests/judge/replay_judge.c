/* The replay judge (tests/unit/replay.h) as a program, for the CLI tests:
 *   replay_judge --port-file F [--records FILE]... [--script S] [--every N] [--slow SECS]
 *                [--synth] [--api-key KEY] [--stats-file S]
 * It writes its port to F once it listens, and serves until SIGTERM or SIGINT; then
 * it writes its counts to S: "requests N answered N faults N unknown N". */
#include <signal.h>
#include <unistd.h>

#include "replay.h"

int main(int argc, char **argv) {
    replay r;
    replay_init(&r);
    const char *port_file = NULL, *stats_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--synth")) {
            r.synth = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "replay_judge: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--port-file")) port_file = v;
        else if (!strcmp(a, "--records")) {
            if (replay_add_file(&r, v)) {
                fprintf(stderr, "replay_judge: %s: not a JSON array of judge records\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--script")) replay_script(&r, v);
        else if (!strcmp(a, "--every")) r.every = (unsigned)atoi(v) ? (unsigned)atoi(v) : 1;
        else if (!strcmp(a, "--slow")) r.slow = atof(v);
        else if (!strcmp(a, "--api-key")) r.api_key = v;
        else if (!strcmp(a, "--stats-file")) stats_file = v;
        else {
            fprintf(stderr, "replay_judge: unknown option %s\n", a);
            return 2;
        }
    }
    /* the server's threads inherit the blocked signals; the main thread waits for them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (replay_start(&r)) {
        fprintf(stderr, "replay_judge: cannot start the server\n");
        return 1;
    }
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f) return 1;
        fprintf(f, "%d\n", r.port);
        fclose(f);
        rename(tmp, port_file);
    }
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(r.d);
    r.d = NULL;
    if (stats_file) {
        FILE *f = fopen(stats_file, "w");
        if (f) {
            fprintf(f, "requests %ld answered %ld faults %ld unknown %ld\n", r.requests, r.answered, r.faults, r.unknown);
            fclose(f);
        }
    }
    replay_stop(&r);
    return 0;
}
