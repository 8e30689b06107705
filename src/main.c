/* Program entry: command line, start-up, and the control thread (signals, reloads). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config/config.h"
#include "core/log.h"
#include "proxy/proxy.h"

#define MERIDIAN_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out, "usage: meridian -c FILE        run the gateway in the foreground\n"
                 "       meridian -t -c FILE     check a configuration file\n"
                 "       meridian --version      print the version\n");
}

/* 1 if both generations listen on the same addresses (listeners are bound at start). */
static int same_listeners(const struct mrd_cfg *a, const struct mrd_cfg *b)
{
    if (a->server.n_listen != b->server.n_listen)
        return 0;
    for (size_t i = 0; i < a->server.n_listen; i++)
        if (strcmp(a->server.listen[i].addr.text, b->server.listen[i].addr.text))
            return 0;
    return 1;
}

/* Loads <path> as the next generation; on any error the running one stays. */
static struct mrd_cfg *reload(const char *path, struct mrd_cfg *cur, struct mrd_worker *ws,
                              int n)
{
    struct mrd_cfg_errors errs = { 0 };
    struct mrd_cfg *cfg = mrd_cfg_load_file(path, &errs);

    if (!cfg) {
        mrd_log_error("reload refused: %s has %zu error(s); generation %llu keeps serving", path,
                      errs.n, (unsigned long long)cur->generation);
        for (size_t i = 0; i < errs.n; i++)
            mrd_log_error("reload refused: %s:%d:%d: %s", errs.v[i].loc.file ? errs.v[i].loc.file : path,
                          errs.v[i].loc.line, errs.v[i].loc.col, errs.v[i].msg);
        mrd_cfg_errors_free(&errs);
        return cur;
    }
    mrd_cfg_errors_free(&errs);
    cfg->generation = cur->generation + 1;
    if (!same_listeners(cur, cfg))
        mrd_log_warn("reload: listener changes need a restart; the current listeners stay");
    if (cfg->server.workers != cur->server.workers)
        mrd_log_warn("reload: a new worker count needs a restart; %d workers stay",
                     cur->server.workers);
    mrd_log_set_level(cfg->log.level);
    mrd_workers_publish(ws, n, cfg);
    mrd_log_info("reload: generation %llu from %s is live", (unsigned long long)cfg->generation,
                 path);
    mrd_cfg_unref(cur);
    return cfg;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int check = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "-t")) {
            check = 1;
        } else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
            printf("meridian %s\n", MERIDIAN_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "meridian: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    if (!path) {
        fprintf(stderr, "meridian: no configuration file given (-c FILE)\n");
        usage(stderr);
        return 1;
    }

    struct mrd_cfg_errors errs = { 0 };
    struct mrd_cfg *cfg = mrd_cfg_load_file(path, &errs);
    if (!cfg) {
        mrd_cfg_errors_print(&errs, stderr);
        mrd_cfg_errors_free(&errs);
        return 1;
    }
    mrd_cfg_errors_free(&errs);
    if (check) {
        printf("%s: configuration is valid\n", path);
        mrd_cfg_unref(cfg);
        return 0;
    }
    cfg->generation = 1;

    int err = mrd_log_open(cfg->log.error, cfg->log.level);
    if (err < 0) {
        fprintf(stderr, "meridian: cannot open error log %s: %s\n", cfg->log.error, strerror(-err));
        return 2;
    }
    int alog_fd = mrd_accesslog_open(cfg->log.access);
    if (alog_fd < -1) {
        mrd_log_error("cannot open access log %s: %s", cfg->log.access, strerror(-(alog_fd + 1000)));
        return 2;
    }

    /* Each worker has its own connections; use the whole fd allowance. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);

    int nw = cfg->server.workers;
    int nl = (int)cfg->server.n_listen;
    int *fds = calloc((size_t)nw * (size_t)nl, sizeof(int));
    struct mrd_worker *ws = calloc((size_t)nw, sizeof(*ws));
    if (!fds || !ws) {
        mrd_log_error("out of memory at start");
        return 2;
    }
    for (int w = 0; w < nw; w++) {
        for (int l = 0; l < nl; l++) {
            int fd = mrd_listen_socket(&cfg->server.listen[l].addr);
            if (fd < 0) {
                mrd_log_error("cannot listen on %s: %s", cfg->server.listen[l].addr.text,
                              strerror(-fd));
                for (int k = 0; k < w * nl + l; k++)
                    close(fds[k]);
                free(fds);
                free(ws);
                mrd_cfg_unref(cfg);
                return 2;
            }
            fds[w * nl + l] = fd;
        }
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask */
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        mrd_log_error("signalfd: %s", strerror(errno));
        return 2;
    }
    err = mrd_workers_start(ws, nw, cfg, fds, nl, alog_fd);
    if (err < 0) {
        mrd_log_error("cannot start workers: %s", strerror(-err));
        return 2;
    }
    free(fds);
    for (int l = 0; l < nl; l++)
        mrd_log_info("listening on %s", cfg->server.listen[l].addr.text);
    mrd_log_info("meridian %s started: %d worker(s), generation 1 from %s", MERIDIAN_VERSION, nw,
                 path);

    for (;;) {
        struct signalfd_siginfo si;
        ssize_t r = read(sfd, &si, sizeof(si));
        if (r != sizeof(si)) {
            if (r < 0 && errno == EINTR)
                continue;
            mrd_log_error("signalfd read: %s", strerror(errno));
            break;
        }
        if (si.ssi_signo == SIGHUP) {
            cfg = reload(path, cfg, ws, nw);
        } else {
            int fast = si.ssi_signo == SIGINT;
            mrd_log_info("%s: draining (%s)", fast ? "SIGINT" : "SIGTERM",
                         fast ? "fast" : "graceful");
            mrd_workers_drain(ws, nw, fast ? 2 : 1);
            break;
        }
    }
    /* A second signal during the drain makes it fast; the workers end by themselves. */
    mrd_workers_join(ws, nw);
    mrd_log_info("stopped");
    close(sfd);
    free(ws);
    mrd_cfg_unref(cfg);
    return 0;
}
