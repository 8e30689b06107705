/* Active health monitors: one target per origin of every pool that names a monitor, probed
 * from the control thread's loop with non-blocking sockets and the loop's timers. Results go
 * into the origin's runtime state (health/state.h); the counting rules are in health/probe.c.
 *
 * Bounds: at most one probe in flight per origin (the target owns it). A probe holds one
 * socket, its request text (method, path and headers from the config), at most 16 KiB of
 * response head (MON_HEAD_MAX, parsed in a stack-sized shared read buffer, never stored) and,
 * only when expected_body is set, at most 64 KiB of body (MON_BODY_MAX, malloc'ed per
 * probe). Every attempt ends within the monitor's timeout; the socket is closed on every
 * path through mon_finish(). */
#include "health/monitor.h"

#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/list.h"
#include "core/log.h"
#include "health/probe.h"
#include "health/state.h"
#include "tls/tls.h"

#define MON_HEAD_MAX (16 * 1024)
#define MON_BODY_MAX (64 * 1024)
#define MON_UA       "meridian-monitor"

enum mon_phase { MON_IDLE, MON_CONNECT, MON_TLS, MON_SEND, MON_RECV };

/* One monitored origin. Identity across generations is the runtime state pointer: the same
 * "pool/origin" name gives the same rt, so schedule and counters survive a reload. */
struct mon_target {
    struct mrd_list       link;   /* in mon.targets, or mon.dead once removed */
    struct mrd_origin_rt *rt;     /* kept alive by mon.cfg (or by the probe's cfg) */
    const struct mrd_cfg_pool   *pool;   /* in mon.cfg */
    const struct mrd_cfg_origin *origin; /* in mon.cfg */
    struct mrd_probe_sm   sm;
    struct mrd_timer      timer;  /* idle: next probe; in flight: the attempt's deadline */
    uint64_t              cycle_start; /* monotonic ms the current probe (first attempt) began */
    bool                  seen;   /* reload mark */
    /* the probe in flight (phase != MON_IDLE) */
    enum mon_phase        phase;
    struct mrd_io         io;     /* fd -1 when no socket */
    struct mrd_cfg       *pcfg;   /* generation the probe started on; one ref */
    const struct mrd_cfg_monitor *m;     /* in pcfg */
    const struct mrd_cfg_pool    *ppool; /* in pcfg */
    const struct mrd_cfg_origin  *porig; /* in pcfg */
    uint64_t              start_us;
    struct mrd_tls_probe *tls;    /* https only */
    char                 *req;    /* request text, malloc'ed */
    size_t                req_len, req_off;
    llhttp_t              parser;
    uint32_t              head_bytes; /* fed before the head completed */
    bool                  head_done, msg_done;
    char                 *body;   /* expected_body only: first MON_BODY_MAX bytes, malloc'ed */
    uint32_t              body_len;
};

static struct {
    struct mrd_loop *loop;  /* NULL when stopped */
    struct mrd_cfg  *cfg;   /* generation the targets point into; one ref */
    struct mrd_list  targets, dead;
    struct mrd_timer reaper; /* frees mon.dead after the event batch that removed them */
    uint64_t         rng;
    char             rx[MON_HEAD_MAX]; /* read buffer; control thread only */
} mon;

static uint64_t mon_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- recording and publishing ---------------------------------------------------------- */

static void mon_record(struct mon_target *t, bool ok, int status, uint64_t rtt_us, const char *err)
{
    struct mrd_origin_rt *rt = t->rt;
    pthread_mutex_lock(&rt->lock);
    /* probes[probe_head] is the next slot written; the newest is the one before it. */
    struct mrd_probe_result *r = &rt->probes[rt->probe_head % MRD_PROBE_HISTORY];
    r->ts_ms = mrd_rt_wall_ms();
    r->ok = ok;
    r->status = status;
    r->rtt_ms = (double)rtt_us / 1000.0;
    snprintf(r->error, sizeof(r->error), "%s", ok ? "" : err);
    rt->probe_head = (rt->probe_head + 1) % MRD_PROBE_HISTORY;
    if (rt->n_probes < MRD_PROBE_HISTORY)
        rt->n_probes++;
    rt->probe_last_ms = r->rtt_ms;
    rt->probe_sum_us += rtt_us;
    rt->probe_count++;
    pthread_mutex_unlock(&rt->lock);
}

static void mon_set_reason(struct mrd_origin_rt *rt, const char *reason)
{
    pthread_mutex_lock(&rt->lock);
    snprintf(rt->reason, sizeof(rt->reason), "%s", reason);
    pthread_mutex_unlock(&rt->lock);
}

/* Publishes a flip: the atomic workers read, the reason /v1/pools shows, an event, a log line. */
static void mon_publish_flip(struct mon_target *t, const struct mrd_cfg_monitor *m, bool up,
                             const char *err)
{
    char reason[128];
    if (up)
        snprintf(reason, sizeof(reason), "monitor %s: %u successful probe%s", m->name,
                 t->sm.ok_run, t->sm.ok_run == 1 ? "" : "s");
    else
        snprintf(reason, sizeof(reason), "monitor %s: %u failed probe%s: %s", m->name,
                 t->sm.fail_run, t->sm.fail_run == 1 ? "" : "s", err);
    atomic_store(&t->rt->mon_healthy, up);
    mon_set_reason(t->rt, reason);
    const char *from = up ? "unhealthy" : "healthy", *to = up ? "healthy" : "unhealthy";
    mrd_event("health", "pool %s origin %s %s -> %s: %s", t->rt->pool_name, t->rt->name, from,
              to, reason);
    if (up)
        mrd_log_info("health: pool %s origin %s is healthy again (%s)", t->rt->pool_name,
                     t->rt->name, reason);
    else
        mrd_log_warn("health: pool %s origin %s is unhealthy (%s)", t->rt->pool_name,
                     t->rt->name, reason);
}

/* A probe that passes disproves a passive ejection (the origin answers its monitor again), so
 * the ejection ends now rather than after its back-off; Envoy does the same by default
 * (successful_active_health_check_uneject_host). The back-off count stays, so an origin that
 * keeps failing live traffic is ejected for longer next time. */
static void mon_lift_ejection(struct mon_target *t, const struct mrd_cfg_monitor *m)
{
    struct mrd_origin_rt *rt = t->rt;
    uint64_t until = atomic_load(&rt->ejected_until_ms);
    if (!until || until <= mrd_rt_now_ms())
        return;
    if (!atomic_compare_exchange_strong(&rt->ejected_until_ms, &until, 0))
        return; /* changed under us: a worker's newer decision wins */
    atomic_store(&rt->passive_fails, 0);
    char reason[128];
    snprintf(reason, sizeof(reason), "monitor %s: probe passed; passive ejection lifted", m->name);
    mon_set_reason(rt, reason);
    mrd_log_info("health: pool %s origin %s: %s", rt->pool_name, rt->name, reason);
    mrd_event("health", "pool %s origin %s ejected -> healthy: %s", rt->pool_name, rt->name,
              reason);
}

/* ---- the probe's end ------------------------------------------------------------------- */

/* Releases everything the probe in flight holds; safe to call when idle. */
static void mon_probe_close(struct mon_target *t)
{
    if (t->io.fd >= 0) {
        if (mon.loop)
            mrd_loop_del(mon.loop, &t->io);
        close(t->io.fd);
        t->io.fd = -1; /* the loop skips events of this batch that still name it */
    }
    mrd_tls_probe_free(t->tls);
    t->tls = NULL;
    free(t->req);
    t->req = NULL;
    free(t->body);
    t->body = NULL;
    mrd_cfg_unref(t->pcfg);
    t->pcfg = NULL;
    t->phase = MON_IDLE;
}

/* Ends the attempt in flight with <out>: records it, counts it, schedules what comes next. */
static void mon_finish(struct mon_target *t, enum mrd_probe_outcome out, int status,
                       const char *err)
{
    uint64_t rtt_us = mon_now_us() - t->start_us;
    const struct mrd_cfg_monitor *m = t->m;
    bool ok = out == MRD_PROBE_OK;

    if (ok)
        mrd_rt_latency_sample(t->ppool, t->porig, rtt_us);
    mon_record(t, ok, status, rtt_us, err);
    mrd_log_debug("health: pool %s origin %s probe %s%s%s (%.1f ms)", t->rt->pool_name,
                  t->rt->name, ok ? "ok" : "failed", ok ? "" : ": ", ok ? "" : err,
                  (double)rtt_us / 1000.0);

    enum mrd_probe_verdict v = mrd_probe_account(&t->sm, m, out);
    t->rt->mon_ok_run = t->sm.ok_run;
    t->rt->mon_fail_run = t->sm.fail_run;
    if (v == MRD_PROBE_WENT_DOWN || v == MRD_PROBE_WENT_UP)
        mon_publish_flip(t, m, v == MRD_PROBE_WENT_UP, err);
    if (ok && t->sm.healthy)
        mon_lift_ejection(t, m);

    uint64_t now = mon.loop->now_ms;
    uint64_t next;
    if (v == MRD_PROBE_RETRY) {
        next = now; /* a new attempt right away, from the timer: never inside this event batch */
    } else {
        /* The probe's cadence counts from its first attempt; the monitor in force is the
         * target's current one (it may have changed by a reload while the probe ran). */
        next = t->cycle_start + mrd_probe_next_delay(&t->sm, t->pool->monitor, &mon.rng);
        if (next < now)
            next = now;
    }
    mon_probe_close(t);
    mrd_timer_set(&mon.loop->wheel, &t->timer, next ? next : 1);
}

static void mon_fail_errno(struct mon_target *t, const char *what, int err)
{
    char text[64];
    if (err == ECONNREFUSED)
        snprintf(text, sizeof(text), "%s refused", what);
    else if (err == ECONNRESET || err == EPIPE)
        snprintf(text, sizeof(text), "connection reset");
    else
        snprintf(text, sizeof(text), "%s failed: %s", what, strerror(err));
    mon_finish(t, MRD_PROBE_FAIL, 0, text);
}

/* The response is complete enough to judge (head, and body when one is expected). */
static void mon_judge(struct mon_target *t)
{
    const struct mrd_cfg_monitor *m = t->m;
    int status = t->parser.status_code;
    char text[64];

    if (!mrd_probe_code_ok(m, status)) {
        char codes[40];
        mrd_probe_codes_text(m, codes, sizeof(codes));
        snprintf(text, sizeof(text), "status %d not in %s", status, codes);
        mon_finish(t, MRD_PROBE_FAIL, status, text);
        return;
    }
    if (m->expected_body && *m->expected_body &&
        !mrd_probe_body_has(t->body, t->body_len, m->expected_body)) {
        snprintf(text, sizeof(text), "body does not contain '%.30s'", m->expected_body);
        mon_finish(t, MRD_PROBE_FAIL, status, text);
        return;
    }
    mon_finish(t, MRD_PROBE_OK, status, "");
}

/* ---- HTTP response parsing (llhttp with probe-only callbacks: status and body) ----------- */

static int mon_on_headers_complete(llhttp_t *p)
{
    struct mon_target *t = p->data;
    t->head_done = true;
    if (!t->body)
        return HPE_PAUSED; /* the status is all we need */
    if (t->m->method && !strcmp(t->m->method, "HEAD"))
        return 1; /* no body follows */
    return 0;
}

static int mon_on_body(llhttp_t *p, const char *at, size_t len)
{
    struct mon_target *t = p->data;
    size_t room = MON_BODY_MAX - t->body_len;
    size_t n = len < room ? len : room;
    memcpy(t->body + t->body_len, at, n);
    t->body_len += (uint32_t)n;
    return t->body_len >= MON_BODY_MAX ? HPE_PAUSED : 0; /* enough to judge */
}

static int mon_on_message_complete(llhttp_t *p)
{
    struct mon_target *t = p->data;
    t->msg_done = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t mon_http_settings = {
    .on_headers_complete = mon_on_headers_complete,
    .on_body = mon_on_body,
    .on_message_complete = mon_on_message_complete,
};

/* Feeds <n> received bytes. Returns 1 when the probe has ended, 0 to read on. */
static int mon_feed(struct mon_target *t, const char *buf, size_t n)
{
    bool was_head = t->head_done;
    llhttp_errno_t err = llhttp_execute(&t->parser, buf, n);
    if (!was_head && !t->head_done)
        t->head_bytes += (uint32_t)n;
    if (err != HPE_OK && err != HPE_PAUSED) {
        char text[64];
        snprintf(text, sizeof(text), "invalid response: %s", llhttp_errno_name(err));
        mon_finish(t, MRD_PROBE_FAIL, t->head_done ? t->parser.status_code : 0, text);
        return 1;
    }
    if (!t->head_done && t->head_bytes > MON_HEAD_MAX) {
        mon_finish(t, MRD_PROBE_FAIL, 0, "response head larger than 16 KiB");
        return 1;
    }
    if (t->head_done && (!t->body || t->msg_done || t->body_len >= MON_BODY_MAX)) {
        mon_judge(t);
        return 1;
    }
    return 0;
}

/* The peer closed: judge what arrived, or fail when the head never did. */
static void mon_eof(struct mon_target *t)
{
    if (!t->head_done) {
        mon_finish(t, MRD_PROBE_FAIL, 0,
                   t->head_bytes ? "connection closed inside the response head"
                                 : "connection closed without a response");
        return;
    }
    llhttp_finish(&t->parser); /* a close-delimited body ends here; a short one is judged as is */
    mon_judge(t);
}

/* ---- I/O ---------------------------------------------------------------------------------- */

/* Reads and sends through TLS when the probe has it. >0, 0 = closed, -EAGAIN or -errno. */
static long mon_read(struct mon_target *t, char *buf, size_t cap)
{
    if (t->tls)
        return mrd_tls_probe_read(t->tls, buf, cap);
    ssize_t r = recv(t->io.fd, buf, cap, 0);
    return r >= 0 ? r : errno == EINTR ? -EAGAIN : errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

static long mon_write(struct mon_target *t, const char *buf, size_t len)
{
    if (t->tls)
        return mrd_tls_probe_write(t->tls, buf, len);
    ssize_t r = send(t->io.fd, buf, len, MSG_NOSIGNAL);
    return r >= 0 ? r : errno == EINTR ? -EAGAIN : errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

/* Host name for SNI and certificate checks: the monitor's Host, else the origin's host part
 * (no port, no brackets). */
static void mon_tls_host(const struct mon_target *t, char *out, size_t cap)
{
    const char *h = t->m->host ? t->m->host : t->porig->addr.text;
    size_t n = strlen(h);
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        n = e ? (size_t)(e - h - 1) : n - 1;
        h++;
    } else {
        const char *c = strrchr(h, ':');
        if (c && strchr(h, ':') == c)
            n = (size_t)(c - h); /* one colon: host:port; more would be a bare IPv6 */
    }
    snprintf(out, cap, "%.*s", (int)n, h);
}

static int mon_step_connect(struct mon_target *t)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(t->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        mon_fail_errno(t, "connect", err);
        return 1;
    }
    if (t->m->type == MRD_MON_TCP) {
        mon_finish(t, MRD_PROBE_OK, 0, "");
        return 1;
    }
    if (t->m->type == MRD_MON_HTTPS) {
        char host[256], text[64] = "";
        mon_tls_host(t, host, sizeof(host));
        t->tls = mrd_tls_probe_new(t->io.fd, host, !t->m->allow_insecure, text, sizeof(text));
        if (!t->tls) {
            mon_finish(t, MRD_PROBE_FAIL, 0, text);
            return 1;
        }
        t->phase = MON_TLS;
        return 0;
    }
    t->phase = MON_SEND;
    return 0;
}

static int mon_step_tls(struct mon_target *t)
{
    char text[64] = "";
    int r = mrd_tls_probe_handshake(t->tls, text, sizeof(text));
    if (r < 0) {
        mon_finish(t, MRD_PROBE_FAIL, 0, text);
        return 1;
    }
    if (r == 0)
        return -1; /* wait for the socket */
    t->phase = MON_SEND;
    return 0;
}

static int mon_step_send(struct mon_target *t)
{
    while (t->req_off < t->req_len) {
        long w = mon_write(t, t->req + t->req_off, t->req_len - t->req_off);
        if (w == -EAGAIN)
            return -1;
        if (w <= 0) {
            mon_fail_errno(t, "send", w < 0 ? (int)-w : ECONNRESET);
            return 1;
        }
        t->req_off += (size_t)w;
    }
    t->phase = MON_RECV;
    return 0;
}

static int mon_step_recv(struct mon_target *t)
{
    for (;;) {
        size_t cap = sizeof(mon.rx);
        if (!t->head_done && cap > MON_HEAD_MAX + 1 - t->head_bytes)
            cap = MON_HEAD_MAX + 1 - t->head_bytes; /* never read past the head bound */
        long r = mon_read(t, mon.rx, cap);
        if (r == -EAGAIN)
            return -1;
        if (r == 0) {
            mon_eof(t);
            return 1;
        }
        if (r < 0) {
            mon_fail_errno(t, "receive", (int)-r);
            return 1;
        }
        if (mon_feed(t, mon.rx, (size_t)r))
            return 1;
    }
}

/* Edge-triggered: run the phases until one must wait for the socket or the probe ends. */
static void mon_on_io(struct mrd_io *io, uint32_t events)
{
    struct mon_target *t = MRD_CONTAINER_OF(io, struct mon_target, io);
    for (;;) {
        int r;
        switch (t->phase) {
        case MON_CONNECT:
            if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                return;
            r = mon_step_connect(t);
            break;
        case MON_TLS:
            r = mon_step_tls(t);
            break;
        case MON_SEND:
            r = mon_step_send(t);
            break;
        case MON_RECV:
            r = mon_step_recv(t);
            break;
        default:
            return;
        }
        if (r != 0)
            return;
    }
}

/* ---- starting a probe ------------------------------------------------------------------ */

/* The request text: method, path, Host, configured headers, our User-Agent, close. */
static char *mon_build_req(const struct mrd_cfg_monitor *m, const struct mrd_cfg_origin *o,
                           size_t *len)
{
    bool own_ua = false;
    const char *method = m->method ? m->method : "GET", *path = m->path ? m->path : "/";
    size_t cap = strlen(method) + strlen(path) + 64 + sizeof(MON_UA) + 40;
    const char *host = m->host ? m->host : o->addr.text;
    cap += strlen(host);
    for (size_t i = 0; i < m->n_hdrs; i++) {
        cap += strlen(m->hdr_names[i]) + strlen(m->hdr_values[i]) + 4;
        if (!strcasecmp(m->hdr_names[i], "user-agent"))
            own_ua = true;
    }
    char *req = malloc(cap);
    if (!req)
        return NULL;
    size_t n = (size_t)snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host);
    for (size_t i = 0; i < m->n_hdrs && n < cap; i++)
        n += (size_t)snprintf(req + n, cap - n, "%s: %s\r\n", m->hdr_names[i], m->hdr_values[i]);
    if (n < cap && !own_ua)
        n += (size_t)snprintf(req + n, cap - n, "User-Agent: " MON_UA "\r\n");
    if (n < cap)
        n += (size_t)snprintf(req + n, cap - n, "Connection: close\r\n\r\n");
    if (n >= cap) {
        free(req);
        return NULL; /* cannot happen: cap counts every piece */
    }
    *len = n;
    return req;
}

/* Opens the socket and starts connecting; failures end the attempt at once. */
static void mon_probe_begin(struct mon_target *t)
{
    const struct mrd_cfg_monitor *m = t->pool->monitor;
    t->pcfg = mrd_cfg_ref(mon.cfg);
    t->m = m;
    t->ppool = t->pool;
    t->porig = t->origin;
    t->start_us = mon_now_us();
    t->phase = MON_CONNECT;
    t->head_bytes = 0;
    t->head_done = t->msg_done = false;
    t->body_len = 0;
    t->req_off = 0;
    mrd_timer_set(&mon.loop->wheel, &t->timer, mon.loop->now_ms + m->timeout_ms);

    if (m->type != MRD_MON_TCP) {
        t->req = mon_build_req(m, t->origin, &t->req_len);
        if (m->expected_body && *m->expected_body)
            t->body = malloc(MON_BODY_MAX);
        if (!t->req || (m->expected_body && *m->expected_body && !t->body)) {
            mon_finish(t, MRD_PROBE_FAIL, 0, "out of memory");
            return;
        }
        llhttp_init(&t->parser, HTTP_RESPONSE, &mon_http_settings);
        t->parser.data = t;
    }
    const struct mrd_cfg_addr *a = &t->origin->addr;
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        mon_fail_errno(t, "socket", errno);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    t->io.fd = fd;
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno != EINPROGRESS) {
        mon_fail_errno(t, "connect", errno);
        return;
    }
    int err = mrd_loop_add(mon.loop, &t->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    if (err < 0) {
        close(t->io.fd);
        t->io.fd = -1;
        mon_fail_errno(t, "epoll", -err);
    }
}

static void mon_on_timer(struct mrd_timer *tm, uint64_t now)
{
    struct mon_target *t = MRD_CONTAINER_OF(tm, struct mon_target, timer);
    (void)now;
    if (t->phase == MON_IDLE) {
        if (t->sm.attempt == 0)
            t->cycle_start = mon.loop->now_ms;
        mon_probe_begin(t);
        return;
    }
    char text[64];
    snprintf(text, sizeof(text), "timeout after %llu ms", (unsigned long long)t->m->timeout_ms);
    mon_finish(t, MRD_PROBE_TIMEOUT, 0, text);
}

/* ---- targets and generations ----------------------------------------------------------- */

static void mon_reap(struct mrd_timer *tm, uint64_t now)
{
    (void)tm;
    (void)now;
    while (!mrd_list_empty(&mon.dead)) {
        struct mon_target *t = MRD_CONTAINER_OF(mon.dead.next, struct mon_target, link);
        mrd_list_del(&t->link);
        free(t);
    }
}

/* Stops probing <t>; its memory goes when the current event batch is over. */
static void mon_target_drop(struct mon_target *t)
{
    mon_probe_close(t);
    mrd_timer_stop(&mon.loop->wheel, &t->timer);
    mrd_list_del(&t->link);
    mrd_list_add_tail(&mon.dead, &t->link);
    mrd_timer_set(&mon.loop->wheel, &mon.reaper, mon.loop->now_ms);
}

static int mon_cmp_rt(const void *a, const void *b)
{
    const struct mrd_origin_rt *x = (*(struct mon_target *const *)a)->rt;
    const struct mrd_origin_rt *y = (*(struct mon_target *const *)b)->rt;
    return x < y ? -1 : x > y;
}

/* The target of <rt> in <idx> (n targets sorted by rt), or NULL. */
static struct mon_target *mon_find(struct mon_target **idx, size_t n, struct mrd_origin_rt *rt)
{
    struct mon_target key = { .rt = rt }, *kp = &key;
    struct mon_target **hit = n ? bsearch(&kp, idx, n, sizeof(*idx), mon_cmp_rt) : NULL;
    return hit ? *hit : NULL;
}

static int mon_target_add(const struct mrd_cfg_pool *p, const struct mrd_cfg_origin *o)
{
    struct mon_target *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->rt = o->rt;
    t->pool = p;
    t->origin = o;
    t->io.fd = -1;
    t->io.cb = mon_on_io;
    t->seen = true;
    mrd_probe_sm_init(&t->sm, atomic_load(&o->rt->mon_healthy));
    t->sm.ok_run = o->rt->mon_ok_run;
    t->sm.fail_run = o->rt->mon_fail_run;
    mrd_timer_init(&t->timer, mon_on_timer);
    mrd_list_add_tail(&mon.targets, &t->link);
    mrd_timer_set(&mon.loop->wheel, &t->timer,
                  mon.loop->now_ms + 1 + mrd_probe_first_delay(p->monitor, &mon.rng));
    return 0;
}

/* The origin's monitor went away with a reload: it serves again unless other state says no. */
static void mon_target_unmonitor(struct mon_target *t)
{
    /* mrd_rt_bind() has already stored true; the target still knows what was published. */
    if (!t->sm.healthy) {
        mrd_log_info("health: pool %s origin %s is no longer monitored; healthy",
                     t->rt->pool_name, t->rt->name);
        mrd_event("health", "pool %s origin %s unhealthy -> healthy: monitor removed",
                  t->rt->pool_name, t->rt->name);
    }
    atomic_store(&t->rt->mon_healthy, true);
    t->rt->mon_ok_run = t->rt->mon_fail_run = 0;
    mon_set_reason(t->rt, "");
}

static size_t mon_count(void)
{
    size_t n = 0;
    for (struct mrd_list *e = mon.targets.next; e != &mon.targets; e = e->next)
        n++;
    return n;
}

/* Makes the target list match <cfg>: keeps matching targets (repointed into <cfg>), adds
 * new ones, drops the rest. */
static int mon_sync(struct mrd_cfg *cfg)
{
    int err = 0;
    /* Matching by rt through a sorted index keeps a reload O(n log n) in the origins. */
    size_t n = 0, cap = mon_count();
    struct mon_target **idx = cap ? malloc(cap * sizeof(*idx)) : NULL;
    if (cap && !idx)
        return -ENOMEM; /* nothing changed: the old targets keep probing */
    for (struct mrd_list *e = mon.targets.next; e != &mon.targets; e = e->next) {
        idx[n] = MRD_CONTAINER_OF(e, struct mon_target, link);
        idx[n++]->seen = false;
    }
    if (n)
        qsort(idx, n, sizeof(*idx), mon_cmp_rt);
    for (size_t i = 0; i < cfg->n_pools; i++) {
        const struct mrd_cfg_pool *p = &cfg->pools[i];
        if (!p->monitor)
            continue;
        if (p->monitor->type == MRD_MON_HTTPS && !p->monitor->allow_insecure)
            mrd_tls_probe_warm();
        for (size_t j = 0; j < p->n_origins; j++) {
            const struct mrd_cfg_origin *o = &p->origins[j];
            struct mon_target *t = o->rt ? mon_find(idx, n, o->rt) : NULL;
            if (t) {
                t->pool = p;
                t->origin = o;
                t->seen = true;
            } else if (o->rt && !err) {
                err = mon_target_add(p, o);
            }
        }
    }
    free(idx);
    struct mrd_list *e = mon.targets.next;
    while (e != &mon.targets) {
        struct mon_target *t = MRD_CONTAINER_OF(e, struct mon_target, link);
        e = e->next;
        if (t->seen)
            continue;
        /* Still named by the new generation (its pool lost the monitor): healthy again. */
        for (size_t i = 0; i < cfg->n_pools; i++)
            for (size_t j = 0; j < cfg->pools[i].n_origins; j++)
                if (cfg->pools[i].origins[j].rt == t->rt)
                    mon_target_unmonitor(t);
        mon_target_drop(t);
    }
    return err;
}

int mrd_monitors_start(struct mrd_loop *loop, struct mrd_cfg *cfg)
{
    mon.loop = loop;
    mrd_list_init(&mon.targets);
    mrd_list_init(&mon.dead);
    mrd_timer_init(&mon.reaper, mon_reap);
    if (getrandom(&mon.rng, sizeof(mon.rng), 0) != sizeof(mon.rng))
        mon.rng = mon_now_us();
    mon.rng |= 1; /* xorshift must not start at 0 */
    mon.cfg = mrd_cfg_ref(cfg);
    int err = mon_sync(cfg);
    if (err < 0) {
        mrd_monitors_stop();
        return err;
    }
    if (mon_count())
        mrd_log_info("health: monitoring %zu origin(s)", mon_count());
    return 0;
}

void mrd_monitors_reload(struct mrd_cfg *cfg)
{
    if (!mon.loop)
        return;
    struct mrd_cfg *old = mon.cfg;
    mon.cfg = mrd_cfg_ref(cfg);
    if (mon_sync(cfg) < 0)
        mrd_log_error("health: out of memory starting monitors of generation %llu; some origins "
                      "are not probed",
                      (unsigned long long)cfg->generation);
    mrd_cfg_unref(old); /* targets point into the new generation now */
}

void mrd_monitors_stop(void)
{
    if (!mon.loop)
        return;
    while (!mrd_list_empty(&mon.targets))
        mon_target_drop(MRD_CONTAINER_OF(mon.targets.next, struct mon_target, link));
    mrd_timer_stop(&mon.loop->wheel, &mon.reaper);
    mon_reap(&mon.reaper, 0); /* stop runs outside event dispatch (after the loop or its timers) */
    mrd_cfg_unref(mon.cfg);
    mon.cfg = NULL;
    mon.loop = NULL;
}
