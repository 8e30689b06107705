/* Worker threads: each owns an epoll loop, its SO_REUSEPORT listeners, its upstream pools
 * and its view of the config generation. The control thread talks to it only through the
 * mailbox (a mutex-guarded slot plus an eventfd). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "config/config.h"
#include "core/log.h"
#include "health/state.h"
#include "lb/lb.h"
#include "lb/policy.h"
#include "proxy/accesslog.h"
#include "proxy/conn.h"
#include "proxy/proxy.h"
#include "tls/tls.h"

#define WORKER_TICK_MS 200
#define DRAIN_TERM_MS  30000 /* SIGTERM: in-flight work gets this long */
#define DRAIN_INT_MS   3000  /* SIGINT: the fast variant */
#define ALOG_BATCH     (64 * 1024)
#define WARM_PER_TICK  64    /* warm connections a worker opens per tick, at most */

int mrd_listen_socket(const struct mrd_cfg_addr *addr)
{
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (addr->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 || listen(fd, 4096) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* HTTPS origins: the client context and the name sent as SNI and verified (the `sni` key, else
 * the host part of the address). A generation that turns TLS off drops them; one that changes
 * the context (allow_insecure) also closes the idle connections made with the old one. */
static void worker_upool_tls(struct mrd_upool *up, const struct mrd_cfg_origin *o)
{
    struct mrd_tls_client_ctx *x = o->tls ? o->tls_ctx : NULL;
    if (x != up->tls_ctx) {
        mrd_upool_close_idle(up);
        mrd_tls_client_ctx_unref(up->tls_ctx);
        up->tls_ctx = x ? mrd_tls_client_ctx_ref(x) : NULL;
    }
    free(up->tls_name);
    up->tls_name = NULL;
    if (!o->tls)
        return;
    if (o->sni) {
        up->tls_name = strdup(o->sni);
        return;
    }
    const char *a = o->addr.text, *e;
    if (a[0] == '[') {
        a++;
        e = strchr(a, ']');
    } else {
        e = strrchr(a, ':');
    }
    up->tls_name = e ? strndup(a, (size_t)(e - a)) : strdup(a);
}

/* Finds or creates the worker's pool of idle connections for one origin. */
static struct mrd_upool *worker_upool(struct mrd_worker *w, const struct mrd_cfg_pool *p,
                                      const struct mrd_cfg_origin *o)
{
    size_t klen = strlen(p->name) + strlen(o->name) + strlen(o->addr.text) + 3;
    char *key = malloc(klen);
    if (!key)
        return NULL;
    snprintf(key, klen, "%s/%s/%s", p->name, o->name, o->addr.text);
    for (struct mrd_list *l = w->upools.next; l != &w->upools; l = l->next) {
        struct mrd_upool *up = MRD_CONTAINER_OF(l, struct mrd_upool, link);
        if (!strcmp(up->key, key)) {
            free(key);
            worker_upool_tls(up, o);
            up->max_idle = p->keepalive.max_idle;
            up->min_idle = p->keepalive.min_idle;
            up->idle_timeout_ms = p->keepalive.idle_timeout_ms;
            return up;
        }
    }
    struct mrd_upool *up = calloc(1, sizeof(*up));
    if (!up) {
        free(key);
        return NULL;
    }
    up->key = key;
    memcpy(&up->ss, &o->addr.ss, sizeof(up->ss));
    up->sslen = o->addr.len;
    mrd_list_init(&up->idle);
    up->max_idle = p->keepalive.max_idle;
    up->min_idle = p->keepalive.min_idle;
    up->idle_timeout_ms = p->keepalive.idle_timeout_ms;
    worker_upool_tls(up, o);
    mrd_list_add_tail(&w->upools, &up->link);
    return up;
}

/* Builds this worker's view of <cfg> (takes over one cfg reference). */
static struct mrd_wgen *worker_adopt(struct mrd_worker *w, struct mrd_cfg *cfg)
{
    struct mrd_wgen *g = calloc(1, sizeof(*g));
    size_t total = 0;
    if (!g)
        return NULL;
    for (size_t i = 0; i < cfg->n_pools; i++)
        total += cfg->pools[i].n_origins;
    g->pool_base = calloc(cfg->n_pools + 1, sizeof(*g->pool_base));
    g->rr_current = calloc(total + 1, sizeof(*g->rr_current));
    g->upools = calloc(total + 1, sizeof(*g->upools));
    if (!g->pool_base || !g->rr_current || !g->upools)
        goto fail;
    uint32_t k = 0;
    for (size_t i = 0; i < cfg->n_pools; i++) {
        g->pool_base[i] = k;
        for (size_t j = 0; j < cfg->pools[i].n_origins; j++, k++) {
            g->upools[k] = worker_upool(w, &cfg->pools[i], &cfg->pools[i].origins[j]);
            if (!g->upools[k])
                goto fail;
        }
    }
    /* Start each worker's round robin at a different origin, so workers do not all send
     * their first requests to the same one. */
    for (size_t i = 0; i < cfg->n_pools; i++) {
        struct mrd_pick pk = {
            .now_ms = w->loop.now_ms,
            .rng = &w->rng,
            .rr = &g->rr_current[g->pool_base[i]],
        };
        if (cfg->pools[i].origin_steering != MRD_STEER_ROUND_ROBIN)
            continue;
        for (int step = 0; step < w->id % (int)(cfg->pools[i].n_origins ? cfg->pools[i].n_origins : 1); step++)
            mrd_policy_pick_origin(&cfg->pools[i], &pk);
    }
    g->cfg = cfg;
    g->refs = 1;
    return g;
fail:
    free(g->pool_base);
    free(g->rr_current);
    free(g->upools);
    free(g);
    return NULL;
}

void mrd_wgen_put(struct mrd_wgen *g)
{
    if (--g->refs == 0) {
        mrd_cfg_unref(g->cfg);
        free(g->pool_base);
        free(g->rr_current);
        free(g->upools);
        free(g);
    }
}

static void worker_close_listeners(struct mrd_worker *w)
{
    for (int i = 0; i < w->n_listeners; i++) {
        if (w->listeners[i].io.fd >= 0) {
            close(w->listeners[i].io.fd);
            w->listeners[i].io.fd = -1;
        }
    }
}

static void worker_accept(struct mrd_io *io, uint32_t ev)
{
    struct mrd_listener *l = MRD_CONTAINER_OF(io, struct mrd_listener, io);
    struct mrd_worker *w = l->w;
    (void)ev;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                mrd_log_warn("worker %d: accept: %s", w->id, strerror(errno));
            return;
        }
        if (w->n_conns >= w->max_conns) {
            close(fd); /* over server.limits.max_connections */
            continue;
        }
        int li = (int)(l - w->listeners);
        struct mrd_tls_server **ts = w->gen->cfg->tls_servers;
        mrd_conn_accept(w, fd, &ss, ts ? ts[li] : NULL);
    }
}

static void worker_start_drain(struct mrd_worker *w, int how)
{
    if (w->draining && how != 2)
        return;
    /* Take what is already queued, then stop listening. */
    for (int i = 0; i < w->n_listeners; i++)
        if (w->listeners[i].io.fd >= 0)
            worker_accept(&w->listeners[i].io, EPOLLIN);
    worker_close_listeners(w);
    w->draining = how;
    uint64_t deadline = w->loop.now_ms + (how == 2 ? DRAIN_INT_MS : DRAIN_TERM_MS);
    if (!w->drain_deadline || deadline < w->drain_deadline)
        w->drain_deadline = deadline;
    mrd_conn_drain(w, how == 2);
}

static void worker_mbox(struct mrd_io *io, uint32_t ev)
{
    struct mrd_worker *w = MRD_CONTAINER_OF(io, struct mrd_worker, mbox_io);
    uint64_t v;
    (void)ev;
    while (read(io->fd, &v, sizeof(v)) > 0)
        ;
    pthread_mutex_lock(&w->mbox_lock);
    struct mrd_cfg *cfg = w->mbox_cfg;
    int drain = w->mbox_drain;
    w->mbox_cfg = NULL;
    pthread_mutex_unlock(&w->mbox_lock);
    if (cfg) {
        struct mrd_wgen *g = worker_adopt(w, cfg);
        if (g) {
            struct mrd_wgen *old = w->gen;
            w->gen = g;
            mrd_wgen_put(old); /* transactions on it keep it alive */
        } else {
            mrd_log_error("worker %d: out of memory adopting generation %llu; keeping the old one",
                          w->id, (unsigned long long)cfg->generation);
            mrd_cfg_unref(cfg);
        }
    }
    if (drain)
        worker_start_drain(w, drain);
}

/* Keeps keepalive.min_idle connections open to every usable origin, so the first request
 * after a quiet period, a reload or a failback pays no handshake. */
static void worker_warm(struct mrd_worker *w, uint64_t now)
{
    const struct mrd_cfg *cfg = w->gen->cfg;
    int budget = WARM_PER_TICK;

    for (size_t i = 0; i < cfg->n_pools; i++) {
        const struct mrd_cfg_pool *p = &cfg->pools[i];
        for (size_t j = 0; j < p->n_origins; j++) {
            struct mrd_upool *up = w->gen->upools[p->origins[j].flat];
            up->warm = p->keepalive.min_idle && mrd_origin_usable(&p->origins[j], now);
            if (up->warm && budget > 0)
                budget -= mrd_conn_warm(w, up, p->keepalive.min_idle, budget);
        }
    }
}

/* websocket.on_origin_down: close: tunnels of an origin that is down, disabled or draining
 * get close code 1012, at most close_rate per second over the process (each worker takes its
 * share), so clients do not all reconnect at once. A tunnel mid-frame waits for the next tick. */
static void worker_close_orphan_tunnels(struct mrd_worker *w, uint64_t now)
{
    int nw = w->gen->cfg->server.workers > 0 ? w->gen->cfg->server.workers : 1;
    for (struct mrd_list *l = w->tunnels.next; l != &w->tunnels; l = l->next) {
        struct mrd_cconn *c = MRD_CONTAINER_OF(l, struct mrd_cconn, tun_link);
        const struct mrd_cfg_lb *lb = c->tun_lb;
        const struct mrd_cfg_origin *o = c->tun_origin;
        if (!lb || !o || c->tun_closing || lb->websocket.on_origin_down != MRD_WS_DOWN_CLOSE)
            continue;
        if (mrd_origin_usable(o, now))
            continue;
        struct mrd_lb_ctr *lc = &lb->rt->ctr[w->id];
        uint32_t rate = (lb->websocket.close_rate + (uint32_t)nw - 1) / (uint32_t)nw;
        if (lc->close_pacer_rate != rate) {
            mrd_ws_pacer_init(&lc->close_pacer, rate, now);
            lc->close_pacer_rate = rate;
        }
        if (!mrd_ws_pacer_take(&lc->close_pacer, 1, now))
            continue; /* over the rate: the next tick */
        if (!mrd_tunnel_close_with(c, MRD_WS_CLOSE_RESTART))
            lc->close_pacer.milli += 1000; /* not sent (mid-frame): give the token back */
    }
}

/* 1 if an origin of the current generation has tunnels but takes no new traffic, under a
 * load balancer that closes such tunnels: only then is the list worth a scan. */
static bool worker_orphans_possible(const struct mrd_worker *w, uint64_t now)
{
    const struct mrd_cfg *cfg = w->gen->cfg;
    bool closing = false;

    for (size_t i = 0; i < cfg->n_lbs && !closing; i++)
        closing = cfg->lbs[i].websocket.on_origin_down == MRD_WS_DOWN_CLOSE;
    if (!closing)
        return false;
    for (size_t i = 0; i < cfg->n_pools; i++)
        for (size_t k = 0; k < cfg->pools[i].n_origins; k++) {
            const struct mrd_cfg_origin *o = &cfg->pools[i].origins[k];
            if (atomic_load_explicit(&o->rt->tunnels, memory_order_relaxed) > 0 &&
                !mrd_origin_usable(o, now))
                return true;
        }
    return false;
}

/* Scanning every tunnel each tick would cost 100k cache misses 5 times a second on a busy
 * worker; the per-origin check above is a few dozen loads. Tunnels of origins that only an
 * older generation names are covered by a full scan every WORKER_ORPHAN_SCAN_TICKS. */
#define WORKER_ORPHAN_SCAN_TICKS 25

static void worker_tick(struct mrd_timer *t, uint64_t now)
{
    struct mrd_worker *w = MRD_CONTAINER_OF(t, struct mrd_worker, tick);
    mrd_accesslog_flush(w);
    if (!w->draining) {
        worker_warm(w, now);
        if (w->n_tunnels && (++w->orphan_ticks >= WORKER_ORPHAN_SCAN_TICKS ||
                             worker_orphans_possible(w, now))) {
            w->orphan_ticks = 0;
            worker_close_orphan_tunnels(w, now);
        }
    }
    if (w->draining) {
        /* tunnels that were mid-frame at the drain get their 1001 close when between frames */
        for (struct mrd_list *l = w->tunnels.next; l != &w->tunnels; l = l->next)
            mrd_tunnel_close_with(MRD_CONTAINER_OF(l, struct mrd_cconn, tun_link), 1001);
        if (now >= w->drain_deadline && w->n_conns) {
            mrd_log_warn("worker %d: drain deadline reached; closing %u connections", w->id,
                         w->n_conns);
            mrd_conn_close_all(w);
        }
        if (!w->n_conns) {
            w->loop.stop = 1;
            return;
        }
    }
    mrd_timer_set(&w->loop.wheel, t, now + (w->draining ? 50 : WORKER_TICK_MS));
}

static void worker_after_batch(struct mrd_loop *l, void *arg)
{
    (void)l;
    mrd_conn_flush(arg);
    mrd_conn_reap(arg);
}

static void *worker_main(void *arg)
{
    struct mrd_worker *w = arg;
    mrd_timer_set(&w->loop.wheel, &w->tick, w->loop.now_ms + WORKER_TICK_MS);
    mrd_loop_run(&w->loop, worker_after_batch, w);
    mrd_conn_flush(w);
    w->defer_writes = 0;
    mrd_accesslog_flush(w);
    mrd_conn_close_all(w);
    mrd_conn_close_idle_upstreams(w);
    mrd_conn_reap(w);
    atomic_store_explicit(&w->done, true, memory_order_release);
    return NULL;
}

int mrd_workers_done(struct mrd_worker *ws, int n)
{
    for (int i = 0; i < n; i++)
        if (!atomic_load_explicit(&ws[i].done, memory_order_acquire))
            return 0;
    return 1;
}

int mrd_workers_start(struct mrd_worker *ws, int n, struct mrd_cfg *cfg, int *fds, int n_listen,
                      int alog_fd)
{
    for (int i = 0; i < n; i++) {
        struct mrd_worker *w = &ws[i];
        memset(w, 0, sizeof(*w));
        w->id = i;
        int err = mrd_loop_init(&w->loop);
        if (err < 0)
            return err;
        mrd_list_init(&w->conns);
        mrd_list_init(&w->upools);
        mrd_list_init(&w->tunnels);
        mrd_list_init(&w->dead_c);
        mrd_list_init(&w->flush);
        w->defer_writes = 1;
        mrd_list_init(&w->dead_u);
        pthread_mutex_init(&w->mbox_lock, NULL);
        mrd_timer_init(&w->tick, worker_tick);
        w->max_conns = cfg->server.limits.max_connections / (uint32_t)n + 1;
        w->alog_fd = alog_fd;
        w->alog_buf = malloc(ALOG_BATCH);
        if (!w->alog_buf)
            return -ENOMEM;
        if (getrandom(&w->rid_prefix, sizeof(w->rid_prefix), 0) != sizeof(w->rid_prefix))
            w->rid_prefix = (uint64_t)w->loop.now_ms * 2654435761u + (uint64_t)i;
        w->rid_prefix ^= (uint64_t)i << 40;
        w->rng = w->rid_prefix | 1;
        w->gen = worker_adopt(w, mrd_cfg_ref(cfg));
        if (!w->gen)
            return -ENOMEM;
        w->mbox_io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->mbox_io.cb = worker_mbox;
        if (w->mbox_io.fd < 0 || mrd_loop_add(&w->loop, &w->mbox_io, EPOLLIN | EPOLLET) < 0)
            return -errno;
        w->listeners = calloc((size_t)n_listen, sizeof(*w->listeners));
        if (!w->listeners)
            return -ENOMEM;
        w->n_listeners = n_listen;
        for (int j = 0; j < n_listen; j++) {
            w->listeners[j].io.fd = fds[i * n_listen + j];
            w->listeners[j].io.cb = worker_accept;
            w->listeners[j].w = w;
            if (mrd_loop_add(&w->loop, &w->listeners[j].io, EPOLLIN | EPOLLET) < 0)
                return -errno;
        }
    }
    for (int i = 0; i < n; i++) {
        int err = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
        if (err)
            return -err;
    }
    return 0;
}

static void worker_notify(struct mrd_worker *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->mbox_io.fd, &one, sizeof(one));
    (void)r;
}

void mrd_workers_publish(struct mrd_worker *ws, int n, struct mrd_cfg *cfg)
{
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&ws[i].mbox_lock);
        if (ws[i].mbox_cfg)
            mrd_cfg_unref(ws[i].mbox_cfg); /* superseded before it was adopted */
        ws[i].mbox_cfg = mrd_cfg_ref(cfg);
        pthread_mutex_unlock(&ws[i].mbox_lock);
        worker_notify(&ws[i]);
    }
}

void mrd_workers_drain(struct mrd_worker *ws, int n, int how)
{
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&ws[i].mbox_lock);
        if (how > ws[i].mbox_drain)
            ws[i].mbox_drain = how;
        pthread_mutex_unlock(&ws[i].mbox_lock);
        worker_notify(&ws[i]);
    }
}

void mrd_workers_join(struct mrd_worker *ws, int n)
{
    for (int i = 0; i < n; i++) {
        struct mrd_worker *w = &ws[i];
        pthread_join(w->thread, NULL);
        worker_close_listeners(w);
        if (w->mbox_cfg)
            mrd_cfg_unref(w->mbox_cfg);
        mrd_wgen_put(w->gen);
        while (!mrd_list_empty(&w->upools)) {
            struct mrd_upool *up = MRD_CONTAINER_OF(w->upools.next, struct mrd_upool, link);
            mrd_list_del(&up->link);
            mrd_tls_client_ctx_unref(up->tls_ctx);
            free(up->tls_name);
            free(up->key);
            free(up);
        }
        mrd_buf_pool_drain(&w->bufs);
        close(w->mbox_io.fd);
        mrd_loop_close(&w->loop);
        free(w->listeners);
        free(w->alog_buf);
        pthread_mutex_destroy(&w->mbox_lock);
    }
}
