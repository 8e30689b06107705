/* Program entry: command line, start-up, and the control thread: one loop that serves
 * signals (reload, drain), the health monitors and the admin API until the workers are done. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "admin/admin.h"
#include "config/config.h"
#include "core/list.h"
#include "core/log.h"
#include "health/monitor.h"
#include "health/state.h"
#include "proxy/proxy.h"

#define MERIDIAN_VERSION "0.1.0"
#define CTL_DRAIN_POLL_MS 20 /* how often a drain checks whether the workers are done */

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

/* The control thread: signals, reloads, monitors and the admin API on one loop. */
struct ctl {
    struct mrd_loop    loop;
    struct mrd_io      sig_io;      /* signalfd */
    struct mrd_timer   drain_check; /* while draining: have the workers finished? */
    const char        *path;
    struct mrd_cfg    *cfg;         /* the generation this thread installed last; one ref */
    struct mrd_worker *ws;
    int                nw;
    int                draining;    /* 0, 1 = graceful (SIGTERM), 2 = fast (SIGINT or a second signal) */
    bool               admin_on;
    char               admin_addr[128]; /* where the admin API was bound at start */
};

static struct ctl ctl;

/* Gives <cfg> its runtime state and makes it the one the admin API reads. 0 or -errno. */
static int install(struct mrd_cfg *cfg)
{
    int err = mrd_rt_bind(cfg);
    if (err < 0)
        return err;
    mrd_rt_set_current_cfg(cfg);
    return 0;
}

/* Loads <path> as the next generation; on any error the running one stays. */
static void reload(struct ctl *c)
{
    struct mrd_cfg_errors errs = { 0 };
    struct mrd_cfg *cfg = mrd_cfg_load_file(c->path, &errs);
    /* The admin API may have installed a generation since (PUT /v1/config): count from it. */
    struct mrd_cfg *cur = mrd_rt_current_cfg();
    if (!cur)
        cur = mrd_cfg_ref(c->cfg);

    if (!cfg) {
        mrd_log_error("reload refused: %s has %zu error(s); generation %llu keeps serving", c->path,
                      errs.n, (unsigned long long)cur->generation);
        for (size_t i = 0; i < errs.n; i++)
            mrd_log_error("reload refused: %s:%d:%d: %s",
                          errs.v[i].loc.file ? errs.v[i].loc.file : c->path, errs.v[i].loc.line,
                          errs.v[i].loc.col, errs.v[i].msg);
        mrd_cfg_errors_free(&errs);
        mrd_cfg_unref(cur);
        return;
    }
    mrd_cfg_errors_free(&errs);
    cfg->generation = cur->generation + 1;
    int err = install(cfg);
    if (err < 0) {
        mrd_log_error("reload refused: cannot bind runtime state (%s); generation %llu keeps "
                      "serving",
                      strerror(-err), (unsigned long long)cur->generation);
        mrd_cfg_unref(cfg);
        mrd_cfg_unref(cur);
        return;
    }
    if (!same_listeners(cur, cfg))
        mrd_log_warn("reload: listener changes need a restart; the current listeners stay");
    if (cfg->server.workers != cur->server.workers)
        mrd_log_warn("reload: a new worker count needs a restart; %d workers stay", c->nw);
    if (cfg->admin.enabled != c->admin_on ||
        (c->admin_on && strcmp(cfg->admin.addr.text, c->admin_addr)))
        mrd_log_warn("reload: admin address changes need a restart; the admin API stays %s",
                     c->admin_on ? "where it is" : "off");
    mrd_log_set_level(cfg->log.level);
    mrd_workers_publish(c->ws, c->nw, cfg);
    mrd_monitors_reload(cfg);
    if (c->admin_on)
        mrd_admin_reload(cfg);
    mrd_log_info("reload: generation %llu from %s is live", (unsigned long long)cfg->generation,
                 c->path);
    mrd_event("reload", "generation %llu from %s is live", (unsigned long long)cfg->generation,
              c->path);
    mrd_cfg_unref(cur);
    mrd_cfg_unref(c->cfg);
    c->cfg = cfg;
}

static bool workers_done(const struct ctl *c)
{
    return mrd_workers_done(c->ws, c->nw);
}

/* While draining: once the workers are done, stop what the control loop serves, and leave. */
static void on_drain_check(struct mrd_timer *t, uint64_t now)
{
    struct ctl *c = MRD_CONTAINER_OF(t, struct ctl, drain_check);
    if (!workers_done(c)) {
        mrd_timer_set(&c->loop.wheel, t, now + CTL_DRAIN_POLL_MS);
        return;
    }
    mrd_workers_join(c->ws, c->nw);
    mrd_monitors_stop();
    if (c->admin_on)
        mrd_admin_stop();
    c->admin_on = false;
    c->loop.stop = 1;
}

static void start_drain(struct ctl *c, int signo)
{
    if (c->draining) {
        /* A second TERM/INT: the drain becomes the fast one. */
        if (c->draining < 2) {
            mrd_log_info("%s during the drain: draining fast", signo == SIGINT ? "SIGINT" : "SIGTERM");
            c->draining = 2;
            mrd_workers_drain(c->ws, c->nw, 2);
        }
        return;
    }
    int fast = signo == SIGINT;
    mrd_log_info("%s: draining (%s)", fast ? "SIGINT" : "SIGTERM", fast ? "fast" : "graceful");
    c->draining = fast ? 2 : 1;
    mrd_workers_drain(c->ws, c->nw, c->draining);
    mrd_timer_set(&c->loop.wheel, &c->drain_check, c->loop.now_ms + CTL_DRAIN_POLL_MS);
}

static void on_signal(struct mrd_io *io, uint32_t events)
{
    struct ctl *c = MRD_CONTAINER_OF(io, struct ctl, sig_io);
    struct signalfd_siginfo si;
    (void)events;
    for (;;) {
        ssize_t r = read(io->fd, &si, sizeof(si));
        if (r != sizeof(si)) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && errno == EAGAIN)
                return;
            mrd_log_error("signalfd read: %s; draining", r < 0 ? strerror(errno) : "short read");
            start_drain(c, SIGTERM);
            return;
        }
        if (si.ssi_signo == SIGHUP) {
            if (c->draining)
                mrd_log_info("SIGHUP: ignored while draining");
            else
                reload(c);
        } else {
            start_drain(c, (int)si.ssi_signo);
        }
    }
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
    /* Block the control signals before the listeners open: a SIGTERM sent as soon as the port
     * answers (while TLS contexts and CA stores still load) then waits for the signalfd and
     * drains, instead of killing the process. Workers inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

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

    err = install(cfg);
    if (err < 0) {
        mrd_log_error("cannot bind runtime state: %s", strerror(-err));
        return 2;
    }
    struct ctl *c = &ctl;
    c->path = path;
    c->cfg = cfg;
    c->ws = ws;
    c->nw = nw;
    err = mrd_loop_init(&c->loop);
    if (err < 0) {
        mrd_log_error("cannot create the control loop: %s", strerror(-err));
        return 2;
    }
    mrd_timer_init(&c->drain_check, on_drain_check);

    c->sig_io.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    c->sig_io.cb = on_signal;
    if (c->sig_io.fd < 0 || mrd_loop_add(&c->loop, &c->sig_io, EPOLLIN | EPOLLET) < 0) {
        mrd_log_error("signalfd: %s", strerror(errno));
        return 2;
    }
    /* The admin API binds before the workers start, so a busy address fails the start
     * cleanly; it serves once the loop runs. */
    static struct mrd_admin_ctx admin_ctx;
    if (cfg->admin.enabled) {
        admin_ctx = (struct mrd_admin_ctx){ .workers = ws,
                                            .n_workers = nw,
                                            .start_wall_ms = mrd_clock_wall_us() / 1000,
                                            .version = MERIDIAN_VERSION,
                                            .config_path = path };
        err = mrd_admin_start(&c->loop, cfg, &admin_ctx);
        if (err < 0) {
            mrd_log_error("cannot start the admin API on %s: %s", cfg->admin.addr.text,
                          strerror(-err));
            return 2;
        }
        c->admin_on = true;
        snprintf(c->admin_addr, sizeof(c->admin_addr), "%s", cfg->admin.addr.text);
    }
    err = mrd_workers_start(ws, nw, cfg, fds, nl, alog_fd);
    if (err < 0) {
        mrd_log_error("cannot start workers: %s", strerror(-err));
        return 2;
    }
    free(fds);
    err = mrd_monitors_start(&c->loop, cfg);
    if (err < 0) {
        mrd_log_error("cannot start health monitors: %s", strerror(-err));
        return 2;
    }
    for (int l = 0; l < nl; l++)
        mrd_log_info("listening on %s", cfg->server.listen[l].addr.text);
    if (c->admin_on)
        mrd_log_info("admin API on %s", cfg->admin.addr.text);
    mrd_log_info("meridian %s started: %d worker(s), generation 1 from %s", MERIDIAN_VERSION, nw,
                 path);

    /* Monitors and the admin API keep running while the workers drain; the drain check
     * stops them and leaves the loop once the workers are done. */
    mrd_loop_run(&c->loop, NULL, NULL);
    mrd_log_info("stopped");
    close(c->sig_io.fd);
    mrd_loop_close(&c->loop);
    free(ws);
    mrd_rt_set_current_cfg(NULL);
    mrd_cfg_unref(c->cfg);
    return 0;
}
