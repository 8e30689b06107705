/* The connection engine. Each event only records readiness and calls conn_pump(), which
 * moves bytes in every direction that can make progress until none can. Reads and writes
 * are attempted only when the kernel said they may succeed, so a small keep-alive request
 * costs two reads and two writes. */
#include "proxy/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config/config.h"
#include "core/log.h"
#include "health/state.h"
#include "lb/lb.h"
#include "lb/policy.h"
#include "modules.h"
#include "proxy/proxy.h"
#include "tls/tls.h"

#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define CONN_ARENA_CHUNK 8192
#define CONN_LINGER_MS 1000
#define WARM_BACKOFF_MAX_MS 10000 /* a warm pool whose connects fail retries at most this often */

static void conn_pump(struct mrd_cconn *c);
static void conn_free(struct mrd_cconn *c);
static void c_attempt_begin(struct mrd_cconn *c);
static void c_attempt_end(struct mrd_cconn *c);

/* ---------------------------------------------------------------- I/O, plain or TLS */

/* read(2)/writev(2) semantics (-1 and errno) whether or not <t> wraps the socket. */
ssize_t mrd_io_read(int fd, struct mrd_tls_conn *t, void *buf, size_t len)
{
    if (!t)
        return read(fd, buf, len);
    ssize_t r = mrd_tls_read(t, buf, len);
    if (r >= 0)
        return r;
    errno = (int)-r;
    return -1;
}

ssize_t mrd_io_writev(int fd, struct mrd_tls_conn *t, const struct iovec *iov, int n)
{
    if (!t)
        return writev(fd, iov, n);
    ssize_t r = mrd_tls_writev(t, iov, n);
    if (r >= 0)
        return r;
    errno = (int)-r;
    return -1;
}

/* ---------------------------------------------------------------- upstream side */

static void up_close(struct mrd_uconn *u)
{
    struct mrd_worker *w = u->w;
    if (u->io.fd >= 0) {
        close(u->io.fd); /* closing removes it from epoll */
        u->io.fd = -1;
    }
    mrd_timer_stop(&w->loop.wheel, &u->timer);
    if (mrd_list_linked(&u->link)) {
        mrd_list_del(&u->link);
        u->up->n_idle--;
    }
    mrd_buf_put(&w->bufs, u->rx);
    u->rx = NULL;
    u->c = NULL;
    mrd_tls_free(u->tls);
    u->tls = NULL;
    mrd_list_add_tail(&w->dead_u, &u->link); /* freed by mrd_conn_reap */
}

void mrd_upool_close_idle(struct mrd_upool *up)
{
    while (!mrd_list_empty(&up->idle))
        up_close(MRD_CONTAINER_OF(up->idle.next, struct mrd_uconn, link));
}

static struct mrd_uconn *up_connect(struct mrd_worker *w, struct mrd_upool *up);
static void up_park(struct mrd_uconn *u);

/* An idle connection reached the pool's idle_timeout. A warm pool replaces it first, so the
 * next request still finds an open connection: the operator sets idle_timeout below the
 * origin's own keep-alive timeout, and the origin never sees it idle for longer. */
static void up_idle_expired(struct mrd_timer *t, uint64_t now)
{
    struct mrd_uconn *u = MRD_CONTAINER_OF(t, struct mrd_uconn, timer);
    struct mrd_upool *up = u->up;
    struct mrd_worker *w = u->w;

    (void)now;
    up_close(u);
    if (up->warm && up->n_idle < up->min_idle && !w->draining) {
        struct mrd_uconn *n = up_connect(w, up);
        if (n)
            up_park(n);
    }
}

/* A warm connection's connect failed: back off before the pool tries again. */
static void up_warm_failed(struct mrd_uconn *u)
{
    struct mrd_upool *up = u->up;
    uint64_t b = up->warm_backoff_ms ? up->warm_backoff_ms * 2 : 200;
    up->warm_backoff_ms = b > WARM_BACKOFF_MAX_MS ? WARM_BACKOFF_MAX_MS : b;
    up->warm_next_ms = u->w->loop.now_ms + up->warm_backoff_ms;
    up_close(u);
}

static void up_on_io(struct mrd_io *io, uint32_t ev)
{
    struct mrd_uconn *u = MRD_CONTAINER_OF(io, struct mrd_uconn, io);
    if (!u->c) {
        if (u->hs && !u->connecting) {
            /* a warm HTTPS connection finishes its handshake in the pool */
            int r = mrd_tls_handshake(u->tls);
            if (r < 0) {
                mrd_log_warn("warm connection to %s: %s", u->up->key, mrd_tls_error(u->tls));
                up_warm_failed(u);
            } else if (r > 0) {
                u->hs = false;
            }
            return;
        }
        if (u->connecting && !(ev & (EPOLLIN | EPOLLRDHUP))) {
            /* a warm connection finished connecting in the pool */
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(u->io.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err || (ev & (EPOLLERR | EPOLLHUP)))
                up_warm_failed(u);
            else if (ev & EPOLLOUT) {
                u->connecting = false;
                u->up->warm_backoff_ms = 0;
                if (u->hs && mrd_tls_handshake(u->tls) < 0)
                    up_warm_failed(u);
            }
            return;
        }
        /* An idle pooled connection that became readable: the origin closed it or sent
         * bytes nobody asked for. Either way it cannot be reused. */
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
            if (u->connecting)
                up_warm_failed(u);
            else
                up_close(u);
        }
        return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        u->rd_ready = true;
    if (ev & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        u->rdhup = true;
    if (ev & EPOLLOUT)
        u->wr_blocked = false;
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
        if (u->connecting) {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(u->io.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                u->eof = true; /* handled as a failed attempt by the pump */
                u->rd_ready = true;
                u->connect_failed = true;
                u->connect_err = err;
            }
            u->connecting = false;
        }
    }
    conn_pump(u->c);
}

/* Opens a new connection to <up>. NULL with errno set on failure. */
static struct mrd_uconn *up_connect(struct mrd_worker *w, struct mrd_upool *up)
{
    struct mrd_uconn *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    int fd = socket(up->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        free(u);
        errno = e;
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    u->io.fd = fd;
    u->io.cb = up_on_io;
    u->w = w;
    u->up = up;
    mrd_list_init(&u->link);
    mrd_timer_init(&u->timer, up_idle_expired);
    u->connect_start = w->loop.now_ms;
    if (connect(fd, (struct sockaddr *)&up->ss, up->sslen) < 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            free(u);
            errno = e;
            return NULL;
        }
        u->connecting = true;
    }
    if (up->tls_ctx) {
        u->tls = mrd_tls_connect(up->tls_ctx, fd, up->tls_name, up->tls_name);
        if (!u->tls) {
            close(fd);
            free(u);
            errno = ENOMEM;
            return NULL;
        }
        u->hs = true;
    }
    if (mrd_loop_add(&w->loop, &u->io, CONN_EVENTS) < 0) {
        int e = errno;
        mrd_tls_free(u->tls);
        close(fd);
        free(u);
        errno = e;
        return NULL;
    }
    return u;
}

/* Puts an idle (or still connecting, warm) connection in its pool with its idle deadline. */
static void up_park(struct mrd_uconn *u)
{
    struct mrd_worker *w = u->w;
    struct mrd_upool *up = u->up;

    mrd_buf_put(&w->bufs, u->rx); /* idle connections hold no buffer */
    u->rx = NULL;
    u->rd_ready = false;
    mrd_list_add_head(&up->idle, &u->link);
    up->n_idle++;
    mrd_timer_set(&w->loop.wheel, &u->timer, w->loop.now_ms + up->idle_timeout_ms);
}

/* Parks a finished connection in its pool, or closes it when the pool is full. */
static void up_release(struct mrd_uconn *u, bool keep)
{
    struct mrd_worker *w = u->w;
    struct mrd_upool *up = u->up;

    u->c = NULL;
    u->n_served++;
    /* a reload may have changed the origin's TLS (on, off, allow_insecure) while it ran */
    bool stale_tls = u->tls ? !mrd_tls_conn_made_with(u->tls, up->tls_ctx) : up->tls_ctx != NULL;
    if (!keep || w->draining || up->n_idle >= up->max_idle || u->eof || stale_tls) {
        up_close(u);
        return;
    }
    up_park(u);
}

int mrd_conn_warm(struct mrd_worker *w, struct mrd_upool *up, uint32_t min_idle, int budget)
{
    int opened = 0;

    if (w->loop.now_ms < up->warm_next_ms)
        return 0;
    while (up->n_idle < min_idle && up->n_idle < up->max_idle && opened < budget) {
        struct mrd_uconn *u = up_connect(w, up);
        if (!u)
            break;
        up_park(u);
        opened++;
    }
    return opened;
}

void mrd_conn_close_idle_upstreams(struct mrd_worker *w)
{
    struct mrd_list *l;
    for (l = w->upools.next; l != &w->upools; l = l->next) {
        struct mrd_upool *up = MRD_CONTAINER_OF(l, struct mrd_upool, link);
        while (!mrd_list_empty(&up->idle))
            up_close(MRD_CONTAINER_OF(up->idle.next, struct mrd_uconn, link));
    }
}

/* ---------------------------------------------------------------- output helpers */

/* Appends <len> bytes to the client output, keeping what has not been written yet. */
static int c_out_append(struct mrd_cconn *c, const char *data, uint32_t len)
{
    uint32_t pending = c->cout_len - c->cout_off;
    char *n = mrd_arena_alloc(&c->arena, pending + len);
    if (!n)
        return -1;
    if (pending)
        memcpy(n, c->cout + c->cout_off, pending);
    memcpy(n + pending, data, len);
    c->cout = n;
    c->cout_len = pending + len;
    c->cout_off = 0;
    return 0;
}

static bool c_wants_close(const struct mrd_cconn *c)
{
    return c->close_after || c->w->draining || !c->req.keep_alive || c->req.conn_close;
}

/* Builds a whole response made by the gateway (fixed responses and errors). */
static void c_local_response_x(struct mrd_cconn *c, int status, const char *ctype,
                               const char *body, size_t len, const char *extra)
{
    char head[512];
    struct mrd_txn *t = &c->txn;

    if (c->u) {
        up_close(c->u); /* whatever it was doing is abandoned */
        c->u = NULL;
    }
    if (c->local)
        return; /* one answer per request: the first one stands */
    c->local = true;
    c->rsp_started = true;
    c->rsp_done = true;
    c->last_wr_ms = c->w->loop.now_ms; /* the write phase starts: see c_arm_timer */
    t->status = status;
    if (!c->req_done) {
        if (c->req.state == MRD_H1_BODY && !c->req.chunked && c->req.content_length <= 0)
            c->req_done = true; /* no body: the head was the whole request */
        else
            c->close_after = true; /* the rest of the request body is not read */
    }
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "X-Request-Id: %s\r\nCache-Control: no-store\r\n%s%s\r\n",
                     status, mrd_h1_reason(status), ctype ? ctype : "text/plain", len,
                     t->request_id[0] ? t->request_id : "-", extra ? extra : "",
                     c_wants_close(c) ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(head))
        n = 0;
    if (c_out_append(c, head, (uint32_t)n) < 0 ||
        (!c->head_req && len && c_out_append(c, body, (uint32_t)len) < 0)) {
        c->close_after = true;
        return;
    }
    t->bytes_out += 0; /* counted when written */
}

static void c_local_response(struct mrd_cconn *c, int status, const char *ctype,
                             const char *body, size_t len)
{
    c_local_response_x(c, status, ctype, body, len, NULL);
}

void mrd_txn_respond(struct mrd_txn *txn, int status, const char *ctype, const char *body,
                     size_t len)
{
    txn->local_status = status;
    txn->local_ctype = ctype;
    txn->local_body = body;
    txn->local_body_len = len;
}

/* A gateway error page: says what happened and carries the request id. */
/* A gateway error page: <extra> is NULL or whole header lines ("Name: value\r\n"). */
static void c_error_x(struct mrd_cconn *c, int status, const char *why, const char *extra)
{
    char body[512];
    int n = snprintf(body, sizeof(body), "%d %s: %s\nrequest id: %s\n", status,
                     mrd_h1_reason(status), why ? why : "error",
                     c->txn.request_id[0] ? c->txn.request_id : "-");
    if (!c->txn.error)
        c->txn.error = "gateway_error";
    if (status == 400 || status == 408 || status == 413 || status == 431 || status == 505 ||
        status == 501 || status == 417 || status == 426)
        c->close_after = true;
    c_local_response_x(c, status, "text/plain", body, n > 0 ? (size_t)n : 0, extra);
}

static void c_error(struct mrd_cconn *c, int status, const char *why)
{
    c_error_x(c, status, why, NULL);
}

/* ---------------------------------------------------------------- transactions */

static void c_gen_request_id(struct mrd_cconn *c)
{
    struct mrd_worker *w = c->w;
    snprintf(c->txn.request_id, sizeof(c->txn.request_id), "%012llx%08llx",
             (unsigned long long)(w->rid_prefix & 0xffffffffffffULL),
             (unsigned long long)(++w->rid_seq & 0xffffffffULL));
}

/* Starts a transaction for a request whose head is not complete yet (errors need one). */
static void c_txn_begin(struct mrd_cconn *c)
{
    struct mrd_txn *t = &c->txn;
    struct mrd_worker *w = c->w;

    memset(t, 0, sizeof(*t));
    t->w = w;
    t->gen = w->gen;
    t->gen->refs++;
    t->arena = &c->arena;
    t->req = &c->req;
    t->client_ip = c->peer_ip;
    t->peer = &c->peer;
    t->start_ms = w->loop.now_ms;
    t->start_wall_us = mrd_clock_wall_us();
    c->in_txn = true;
    c->req_done = c->rsp_started = c->rsp_done = c->local = c->head_req = false;
    c->cout = c->uout = NULL;
    c->cout_len = c->cout_off = c->uout_len = c->uout_off = 0;
}

/* Copies request facts the phases and the log need into the arena. */
static int c_txn_facts(struct mrd_cconn *c)
{
    struct mrd_txn *t = &c->txn;
    struct mrd_h1_msg *m = &c->req;
    const char *base = m->base;
    const char *tg = base + m->target.off;
    uint32_t tl = m->target.len;
    const char *hs = NULL;
    uint32_t hl = 0;

    t->method = llhttp_method_name((llhttp_method_t)m->parser.method);
    c->head_req = m->parser.method == HTTP_HEAD;
    if (tl > 7 && (tg[0] == 'h' || tg[0] == 'H')) {
        /* absolute-form: the authority wins over Host (RFC 9112 3.2.2) */
        const char *a = tg + (tg[4] == ':' ? 7 : 8);
        const char *e = tg + tl;
        const char *p = a;
        while (p < e && *p != '/' && *p != '?')
            p++;
        hs = a;
        hl = (uint32_t)(p - a);
        tl = (uint32_t)(e - p);
        tg = tl ? p : "/";
        if (!tl)
            tl = 1;
        if (m->host_idx >= 0)
            m->hdrs[m->host_idx].skip = 1;
    } else if (m->host_idx >= 0) {
        hs = base + m->hdrs[m->host_idx].value.off;
        hl = m->hdrs[m->host_idx].value.len;
    }
    char *host = mrd_arena_strndup(&c->arena, hs ? hs : "", hl);
    char *path = mrd_arena_strndup(&c->arena, tg, tl);
    if (!host || !path)
        return -1;
    /* strip the port and lower-case for matching; keep the raw authority for Host */
    char *colon = host[0] == '[' ? strchr(host, ']') : host;
    colon = colon ? strchr(colon, ':') : NULL;
    char *raw = mrd_arena_strndup(&c->arena, host, hl);
    if (!raw)
        return -1;
    if (colon)
        *colon = 0;
    for (char *p = host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    t->host = host;
    t->path = path;
    /* the raw authority is kept at host + strlen + 1 ... simpler: remember it here */
    c->txn.local_ctype = NULL;
    c->uout = raw; /* temporarily: consumed by c_build_upstream_head */
    c->uout_len = hl;

    int rid = mrd_h1_find(m, "x-request-id");
    if (rid >= 0 && mrd_h1_request_id_ok(base + m->hdrs[rid].value.off, m->hdrs[rid].value.len))
        memcpy(t->request_id, base + m->hdrs[rid].value.off, m->hdrs[rid].value.len);
    else
        c_gen_request_id(c);
    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        struct mrd_h1_span nm = m->hdrs[i].name;
        if (mrd_h1_span_ieq(base, nm, "x-request-id") ||
            mrd_h1_span_ieq(base, nm, "meridian-client-country") ||
            mrd_h1_span_ieq(base, nm, "meridian-client-region") ||
            mrd_h1_span_ieq(base, nm, "x-forwarded-proto") ||
            mrd_h1_span_ieq(base, nm, "x-forwarded-host") ||
            mrd_h1_span_ieq(base, nm, "x-forwarded-for"))
            m->hdrs[i].skip = 1;
    }
    return 0;
}

static bool c_peer_trusted(const struct mrd_cconn *c)
{
    const struct mrd_cfg_server *s = &c->txn.gen->cfg->server;
    for (size_t i = 0; i < s->n_trusted_proxies; i++)
        if (mrd_cfg_cidr_contains(&s->trusted_proxies[i], &c->peer))
            return true;
    return false;
}

/* Writes one "Name: value\r\n" line from a parsed head; returns its length. The caller
 * sized <o> from the head's spans. */
static size_t h1_put_header(char *o, const char *base, const struct mrd_h1_hdr *h)
{
    size_t n = h->name.len;
    memcpy(o, base + h->name.off, n);
    o[n++] = ':';
    o[n++] = ' ';
    memcpy(o + n, base + h->value.off, h->value.len);
    n += h->value.len;
    o[n++] = '\r';
    o[n++] = '\n';
    return n;
}

/* Serializes the request head for the origin: hop-by-hop headers dropped, forwarding
 * headers added. */
static int c_build_upstream_head(struct mrd_cconn *c)
{
    struct mrd_h1_msg *m = &c->req;
    struct mrd_txn *t = &c->txn;
    const char *base = m->base;
    const char *auth = c->uout;
    uint32_t auth_len = c->uout_len;
    size_t size = 64 + strlen(t->method) + strlen(t->path) + auth_len * 2 + 352 +
                  strlen(c->peer_ip) + strlen(t->request_id);
    int xff = -1;

    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        size += m->hdrs[i].name.len + m->hdrs[i].value.len + 4;
        if (mrd_h1_span_ieq(base, m->hdrs[i].name, "x-forwarded-for"))
            xff = (int)i; /* the last one; several are joined below */
    }
    char *o = mrd_arena_alloc(&c->arena, size);
    if (!o)
        return -1;
    size_t n = 0;
    n += (size_t)sprintf(o + n, "%s %s HTTP/1.%d\r\n", t->method, t->path,
                         m->minor == 0 ? 0 : 1);
    bool host_sent = false;
    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        const struct mrd_h1_hdr *h = &m->hdrs[i];
        if (h->skip)
            continue;
        if ((int)i == m->host_idx)
            host_sent = true;
        n += h1_put_header(o + n, base, h);
    }
    if (!host_sent && auth_len)
        n += (size_t)sprintf(o + n, "Host: %.*s\r\n", (int)auth_len, auth);
    /* X-Forwarded-For: every earlier value joined, then the peer (unless trusted). */
    bool first = true;
    size_t xff_start = n;
    n += (size_t)sprintf(o + n, "X-Forwarded-For: ");
    for (uint32_t i = 0; xff >= 0 && i < m->n_hdrs; i++) {
        if (!mrd_h1_span_ieq(base, m->hdrs[i].name, "x-forwarded-for") || !m->hdrs[i].value.len)
            continue;
        if (!first) {
            o[n++] = ',';
            o[n++] = ' ';
        }
        memcpy(o + n, base + m->hdrs[i].value.off, m->hdrs[i].value.len);
        n += m->hdrs[i].value.len;
        first = false;
    }
    if (first || !c_peer_trusted(c))
        n += (size_t)sprintf(o + n, "%s%s", first ? "" : ", ", c->peer_ip);
    (void)xff_start;
    n += (size_t)sprintf(o + n, "\r\nX-Forwarded-Proto: %s\r\n", c->tls ? "https" : "http");
    if (auth_len)
        n += (size_t)sprintf(o + n, "X-Forwarded-Host: %.*s\r\n", (int)auth_len, auth);
    n += (size_t)sprintf(o + n, "X-Request-Id: %s\r\n", t->request_id);
    if (t->geo_known && t->geo.country[0])
        n += (size_t)sprintf(o + n, "Meridian-Client-Country: %s\r\n", t->geo.country);
    if (t->geo_known && t->geo.region >= 0)
        n += (size_t)sprintf(o + n, "Meridian-Client-Region: %s\r\n",
                             mrd_geo_region_name(t->geo.region));
    if (m->minor == 0)
        n += (size_t)sprintf(o + n, "Connection: close\r\n");
    else if (c->ws_upgrade)
        n += (size_t)sprintf(o + n, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    o[n++] = '\r';
    o[n++] = '\n';
    c->uout = o;
    c->uout_len = (uint32_t)n;
    c->uout_off = 0;
    return 0;
}

/* Gets a connection to the chosen origin: an idle pooled one if any, else a new one. */
static int c_attach_upstream(struct mrd_cconn *c, bool fresh)
{
    struct mrd_worker *w = c->w;
    struct mrd_upool *up = c->txn.gen->upools[c->txn.origin_flat];
    struct mrd_uconn *u = NULL;

    if (!fresh && !mrd_list_empty(&up->idle)) {
        u = MRD_CONTAINER_OF(up->idle.next, struct mrd_uconn, link);
        mrd_list_del(&u->link);
        up->n_idle--;
        mrd_timer_stop(&w->loop.wheel, &u->timer);
        u->reused = u->n_served > 0; /* a warm connection that never served is fresh */
        u->rd_ready = !u->connecting; /* a FIN may have arrived without a fresh edge */
    } else {
        u = up_connect(w, up);
        if (!u)
            return -errno;
        u->reused = false;
    }
    u->c = c;
    u->got_bytes = u->eof = u->keep = u->head_held = u->rdhup = false;
    u->sent = u->connect_failed = false;
    u->connect_err = 0;
    u->tls_why = NULL;
    u->parse_pos = u->fwd_pos = 0;
    mrd_h1_init(&u->rsp, HTTP_RESPONSE, c->rsp_hdrs, 256, MRD_BUF_SIZE, 0);
    mrd_h1_next(&u->rsp, 0);
    c->u = u;
    c->uout_off = 0;
    c->last_up_ms = w->loop.now_ms;
    if (!c->txn.upstream_start_ms)
        c->txn.upstream_start_ms = w->loop.now_ms;
    return 0;
}

/* Feeds every header field of <m> to the WebSocket handshake checks. */
static void c_ws_hs_of(struct mrd_ws_hs *hs, const struct mrd_h1_msg *m)
{
    mrd_ws_hs_init(hs);
    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        const struct mrd_h1_hdr *h = &m->hdrs[i];
        mrd_ws_hs_hdr(hs, m->base + h->name.off, h->name.len, m->base + h->value.off,
                      h->value.len);
    }
}

/* The request head is complete: run the phases and start the upstream exchange. */
static void c_on_request_head(struct mrd_cconn *c)
{
    struct mrd_txn *t = &c->txn;

    c->rsp_hdrs = mrd_arena_alloc(&c->arena, 256 * sizeof(struct mrd_h1_hdr));
    if (!c->rsp_hdrs || c_txn_facts(c) < 0) {
        c_error(c, 503, "out of memory");
        return;
    }
    struct mrd_ws_hs hs;
    if (c->req.upgrade)
        c_ws_hs_of(&hs, &c->req);
    if (c->req.upgrade && mrd_ws_hs_wants_ws(&hs)) {
        const char *why = NULL, *meth = llhttp_method_name((llhttp_method_t)c->req.parser.method);
        int st = mrd_ws_check_upgrade(&hs, meth, strlen(meth), c->req.major, c->req.minor, &why);
        if (st) { /* RFC 6455 4.4: a version we do not speak gets the one we do */
            c_error_x(c, st, why, st == 426 ? MRD_WS_VERSION_HDR "\r\n" : NULL);
            return;
        }
        c->ws_upgrade = true; /* tunnel mode once the origin answers 101 */
        c->close_after = true; /* if it refuses: llhttp ends the stream after an upgrade */
    } else if (c->req.upgrade && mrd_modules_run(t, MRD_HOOK_UPGRADE) == MRD_PHASE_NEXT) {
        /* No module tunnels this protocol: plain HTTP, the Upgrade header already dropped as
         * hop-by-hop. llhttp stops after an upgrade request, so the connection ends with it. */
        c->close_after = true;
    }
    if (mrd_modules_run(t, MRD_HOOK_ROUTE) == MRD_PHASE_DONE ||
        mrd_modules_run(t, MRD_HOOK_ACCESS) == MRD_PHASE_DONE ||
        mrd_modules_run(t, MRD_HOOK_STEER) == MRD_PHASE_DONE) {
        if (t->error) {
            /* a gateway error: the standard page, with the request id */
            char why[256];
            size_t n = t->local_body_len < sizeof(why) - 1 ? t->local_body_len : sizeof(why) - 1;
            memcpy(why, t->local_body, n);
            while (n && why[n - 1] == '\n')
                n--;
            why[n] = 0;
            c_error(c, t->local_status, why);
            return;
        }
        c_local_response(c, t->local_status, t->local_ctype, t->local_body, t->local_body_len);
        return;
    }
    if (c_build_upstream_head(c) < 0) {
        c_error(c, 503, "out of memory");
        return;
    }
    c_attempt_begin(c);
    int err = c_attach_upstream(c, false);
    if (err < 0) {
        t->error = "connect";
        c_error(c, 502, strerror(-err));
        return;
    }
    if (c->req.expect_continue && (c->req.chunked || c->req.content_length > 0))
        c_out_append(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

/* Releases the transaction's load counts and adds it to the per-worker counters. */
static void c_txn_account(struct mrd_cconn *c)
{
    struct mrd_txn *t = &c->txn;
    int wid = c->w->id;

    c_attempt_end(c);
    if (t->counted_active)
        atomic_fetch_sub_explicit(&t->lb->rt->active, 1, memory_order_relaxed);
    if (t->counted_retry)
        atomic_fetch_sub_explicit(&t->lb->rt->active_retries, 1, memory_order_relaxed);
    t->counted_active = t->counted_retry = false;
    if (t->origin) {
        int cls = t->upstream_first_ms && t->status >= 100 && t->status < 600 ? t->status / 100 : 0;
        struct mrd_origin_ctr *ctr = mrd_origin_ctr(t->origin, wid);
        MRD_CTR_ADD(ctr->req_by_class[cls], 1);
    }
    if (t->lb) {
        struct mrd_lb_ctr *lc = &t->lb->rt->ctr[wid];
        uint64_t us = (c->w->loop.now_ms - t->start_ms) * 1000;
        size_t b = 0;
        while (b < MRD_HIST_BUCKETS - 1 && (double)us / 1e6 > mrd_hist_bounds_s[b])
            b++;
        MRD_CTR_ADD(lc->hist[b], 1);
        MRD_CTR_ADD(lc->sum_us, us);
        MRD_CTR_ADD(lc->count, 1);
    }
}

/* Ends the transaction once both directions are through. */
static void c_txn_end(struct mrd_cconn *c)
{
    struct mrd_txn *t = &c->txn;

    t->bytes_in = c->req.body_bytes;
    c_txn_account(c);
    mrd_modules_log(t);
    if (c->u) {
        struct mrd_uconn *u = c->u;
        c->u = NULL;
        up_release(u, u->keep && c->req_done);
    }
    if (!c->req_done)
        c->close_after = true;
    if (!c->req.keep_alive || c->req.conn_close)
        c->close_after = true;
    mrd_wgen_put(t->gen);
    t->gen = NULL;
    c->in_txn = false;
    mrd_arena_reset(&c->arena);
    c->cout = c->uout = NULL;
    c->req_hdrs = c->rsp_hdrs = NULL;
    c->cout_len = c->cout_off = c->uout_len = c->uout_off = 0;
    if (c->rx) {
        /* Keep pipelined bytes, drop the finished request. */
        c->rx->head = c->parse_pos;
        mrd_buf_compact(c->rx);
        c->parse_pos = c->fwd_pos = 0;
        if (!mrd_buf_len(c->rx)) {
            mrd_buf_put(&c->w->bufs, c->rx);
            c->rx = NULL;
        } else {
            c->head_start_ms = c->w->loop.now_ms;
        }
    }
}

/* ---------------------------------------------------------------- the pump */

/* The access-log code for a failed connect. */
static const char *c_connect_why(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return "connect_refused";
    case ENETUNREACH:
    case EHOSTUNREACH:
        return "connect_unreachable";
    case ETIMEDOUT:
        return "connect_timeout";
    default:
        return "connect_error";
    }
}

/* How far the current attempt got: decides whether it may be replayed (see lb/policy.h). */
static enum mrd_attempt_state c_attempt_state(const struct mrd_cconn *c)
{
    const struct mrd_uconn *u = c->u;
    if (c->rsp_started || (u && u->got_bytes))
        return MRD_ATTEMPT_RESPONSE_STARTED;
    if (!u || u->connect_failed || !u->sent)
        return MRD_ATTEMPT_NOT_SENT;
    return MRD_ATTEMPT_SENT_NO_RESPONSE;
}

/* The request can be sent again: its body, if any, is still whole in rx. */
static bool c_body_replayable(const struct mrd_cconn *c)
{
    bool has_body = c->req.chunked || c->req.content_length > 0;
    return !has_body || (!c->body_recycled && c->rx);
}

/* Rewinds the request for another attempt: head from its start, body from body_start. */
static void c_rewind_request(struct mrd_cconn *c)
{
    c->uout_off = 0;
    if (c->req.chunked || c->req.content_length > 0)
        c->fwd_pos = c->body_start;
}

/* Gives the attempt back its in-flight slot on the origin. */
static void c_attempt_end(struct mrd_cconn *c)
{
    struct mrd_txn *t = &c->txn;
    if (t->inflight) {
        atomic_fetch_sub_explicit(&t->inflight->rt->in_flight, 1, memory_order_relaxed);
        t->inflight = NULL;
    }
}

static void c_attempt_begin(struct mrd_cconn *c)
{
    struct mrd_txn *t = &c->txn;
    c_attempt_end(c);
    if (!t->counted_active && t->lb) {
        atomic_fetch_add_explicit(&t->lb->rt->active, 1, memory_order_relaxed);
        t->counted_active = true;
    }
    if (t->origin) {
        atomic_fetch_add_explicit(&t->origin->rt->in_flight, 1, memory_order_relaxed);
        t->inflight = t->origin;
    }
}

/* Upstream counters and passive health for a failed attempt. */
static void c_note_failure(struct mrd_cconn *c, enum mrd_upstream_err kind)
{
    struct mrd_txn *t = &c->txn;
    if (!t->origin)
        return;
    struct mrd_origin_ctr *ctr = mrd_origin_ctr(t->origin, c->w->id);
    switch (kind) {
    case MRD_UERR_CONNECT:
        MRD_CTR_ADD(ctr->err_connect, 1);
        break;
    case MRD_UERR_TIMEOUT:
        MRD_CTR_ADD(ctr->err_timeout, 1);
        break;
    case MRD_UERR_RESET:
        MRD_CTR_ADD(ctr->err_reset, 1);
        break;
    case MRD_UERR_PROTOCOL:
        MRD_CTR_ADD(ctr->err_protocol, 1);
        break;
    }
    mrd_passive_error(t->pool, t->origin, kind, false, c->w->loop.now_ms);
}

/* Tries the request again after a failed attempt, when that is safe: see c_upstream_failed.
 * Returns true when a new attempt is under way. */
static bool c_retry(struct mrd_cconn *c, const char *why, enum mrd_upstream_err kind)
{
    struct mrd_txn *t = &c->txn;
    struct mrd_uconn *u = c->u;
    const struct mrd_cfg_lb *lb = t->lb;
    enum mrd_attempt_state st = c_attempt_state(c);

    bool replayable = lb && t->origin && st != MRD_ATTEMPT_RESPONSE_STARTED &&
                      c_body_replayable(c) && mrd_retry_allowed(st, t->method);
    /* A pooled connection the origin had already closed: that is not the origin failing.
     * Replay once on a fresh connection to the same origin, outside the retry budget. */
    if (replayable && u && u->reused && kind == MRD_UERR_RESET && !c->stale_replayed) {
        c->stale_replayed = true;
        up_close(u);
        c->u = NULL;
        c_rewind_request(c);
        return c_attach_upstream(c, true) == 0;
    }
    c_note_failure(c, kind);
    if (!replayable)
        return false;
    if (t->retries >= (int)lb->retry_attempts || t->n_tried >= MRD_MAX_ATTEMPTS - 1)
        return false;
    /* A pinned session with zero_downtime_failover none does not move within a request. */
    if (t->aff_cookie_valid && lb->zero_downtime_failover == MRD_ZDF_NONE &&
        mrd_affinity_id(t->pool, t->origin) == t->aff_cookie_id)
        return false;
    int active = atomic_load_explicit(&lb->rt->active, memory_order_relaxed);
    int retrying = atomic_load_explicit(&lb->rt->active_retries, memory_order_relaxed);
    if (!t->counted_retry && !mrd_retry_budget_ok(active, retrying, lb->retry_budget_percent)) {
        mrd_log_debug("retry budget of %s exhausted (%d retries for %d requests)", lb->name,
                      retrying, active);
        return false;
    }
    const struct mrd_cfg_pool *failed_pool = t->pool;
    const struct mrd_cfg_origin *failed = t->origin;
    t->tried[t->n_tried++] = failed->flat;
    if (mrd_lb_steer(t, lb->failover_across_pools ? NULL : failed_pool) < 0) {
        t->pool = failed_pool; /* the log names the origin that failed */
        t->origin = failed;
        return false;
    }
    if (u) {
        up_close(u);
        c->u = NULL;
    }
    if (!t->counted_retry) {
        atomic_fetch_add_explicit(&lb->rt->active_retries, 1, memory_order_relaxed);
        t->counted_retry = true;
    }
    t->retries++;
    MRD_CTR_ADD(mrd_origin_ctr(failed, c->w->id)->retries, 1);
    char *r = mrd_arena_alloc(&c->arena, 160);
    if (r) {
        snprintf(r, 160, "%s/%s: %s (%s)", failed_pool->name, failed->name, why,
                 mrd_attempt_state_name(st));
        t->retry_reason = r;
    }
    c_rewind_request(c);
    c_attempt_begin(c);
    if (c_attach_upstream(c, false) < 0)
        return false;
    return true;
}

/* Fails the attempt on the current upstream. <kind> < 0: not the origin's fault (the gateway
 * or the client), never retried. Otherwise it is retried on another origin when that is
 * safe: any request that was never sent, an idempotent one that got no response byte, never
 * once the response started; within retries.attempts and the retry budget. */
static void c_upstream_failed(struct mrd_cconn *c, const char *why, int status, int kind)
{
    if (kind >= 0 && !c->rsp_started) {
        if (c_retry(c, why, (enum mrd_upstream_err)kind))
            return;
    } else if (kind >= 0) {
        c_note_failure(c, (enum mrd_upstream_err)kind);
    }
    if (!c->rsp_started) {
        c->txn.error = why;
        c_error(c, status,
                !strcmp(why, "connect_timeout")    ? "connecting to the origin timed out"
                : !strcmp(why, "upstream_timeout") ? "the origin did not answer in time"
                                                   : why);
        return;
    }
    /* Response bytes already went out: the only honest signal left is closing. */
    c->txn.error = why;
    c->close_after = true;
    c->rsp_done = true;
    c->eof = true;
    if (c->u) {
        up_close(c->u);
        c->u = NULL;
    }
    c->cout_off = c->cout_len;
    c->lingering = false;
    c->req_done = false;
    c->wr_blocked = true; /* stop writing; conn_pump closes it */
}

/* Writes pending client output (gateway bytes, then relayed body). Returns progress. */
/* Holds <c>'s writes until the end of the event batch. Returns true if they were held. */
static bool c_defer(struct mrd_cconn *c)
{
    if (!c->w->defer_writes)
        return false;
    if (!mrd_list_linked(&c->flush_link))
        mrd_list_add_tail(&c->w->flush, &c->flush_link);
    return true;
}

static bool c_write(struct mrd_cconn *c)
{
    struct iovec iov[2];
    int n = 0;
    uint32_t body = 0;

    if (c->wr_blocked)
        return false;
    if (c->cout_off < c->cout_len) {
        iov[n].iov_base = c->cout + c->cout_off;
        iov[n++].iov_len = c->cout_len - c->cout_off;
    }
    if (c->u && c->u->rx && c->u->fwd_pos < c->u->parse_pos && c->rsp_started) {
        body = c->u->parse_pos - c->u->fwd_pos;
        iov[n].iov_base = c->u->rx->data + c->u->fwd_pos;
        iov[n++].iov_len = body;
    }
    if (!n || c_defer(c))
        return false;
    ssize_t w = mrd_io_writev(c->io.fd, c->tls, iov, n);
    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            c->wr_blocked = true;
            return false;
        }
        c->txn.error = "client_write";
        c->eof = true;
        c->close_after = true;
        c->wr_blocked = true;
        c->rsp_done = true;
        c->req_done = false;
        return true;
    }
    c->last_wr_ms = c->w->loop.now_ms;
    c->txn.bytes_out += (uint64_t)w;
    uint32_t head = c->cout_len - c->cout_off;
    if ((uint32_t)w <= head) {
        c->cout_off += (uint32_t)w;
    } else {
        c->cout_off = c->cout_len;
        c->u->fwd_pos += (uint32_t)w - head;
    }
    if ((size_t)w < (size_t)head + body)
        c->wr_blocked = true;
    return true;
}

/* Writes the request head and body bytes to the origin. Returns progress. */
static bool u_write(struct mrd_cconn *c)
{
    struct mrd_uconn *u = c->u;
    struct iovec iov[2];
    int n = 0;
    uint32_t body = 0;

    if (!u || u->connecting || u->eof)
        return false;
    if (u->hs) {
        int r = mrd_tls_handshake(u->tls);
        if (r == 0)
            return false;
        if (r < 0) {
            /* a failed handshake: nothing was sent; the read side reports it */
            char *why = mrd_arena_alloc(&c->arena, 160);
            if (why)
                snprintf(why, 160, "tls: %s", mrd_tls_error(u->tls));
            u->tls_why = why ? why : "tls handshake failed";
            u->eof = u->rd_ready = u->connect_failed = true;
            return true;
        }
        u->hs = false;
    }
    if (c->uout_off < c->uout_len) {
        iov[n].iov_base = c->uout + c->uout_off;
        iov[n++].iov_len = c->uout_len - c->uout_off;
    }
    if (c->rx && c->fwd_pos < c->parse_pos && c->req.state != MRD_H1_HEAD) {
        body = c->parse_pos - c->fwd_pos;
        iov[n].iov_base = c->rx->data + c->fwd_pos;
        iov[n++].iov_len = body;
    }
    if (!n || c_defer(c))
        return false;
    ssize_t w = mrd_io_writev(u->io.fd, u->tls, iov, n);
    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return false;
        u->eof = true;
        u->rd_ready = true; /* let the read side classify the failure */
        return true;
    }
    u->sent = true;
    uint32_t head = c->uout_len - c->uout_off;
    if ((uint32_t)w <= head) {
        c->uout_off += (uint32_t)w;
    } else {
        c->uout_off = c->uout_len;
        c->fwd_pos += (uint32_t)w - head;
    }
    return true;
}

/* Reads and parses request bytes. Returns progress. */
static bool c_read(struct mrd_cconn *c)
{
    struct mrd_worker *w = c->w;
    bool progress = false;

    if (c->lingering) {
        char sink[4096];
        while (c->rd_ready) {
            ssize_t r = mrd_io_read(c->io.fd, c->tls, sink, sizeof(sink));
            if (r <= 0) {
                c->rd_ready = false;
                if (r == 0 || (errno != EAGAIN && errno != EINTR))
                    c->eof = true;
            }
        }
        return false;
    }
    bool settle = false; /* one more parse right after a head, even with no bytes */
    for (;;) {
        /* parse what is buffered first */
        if (c->rx && (c->parse_pos < c->rx->tail || settle) && !c->close_after &&
            (!c->in_txn || (!c->req_done && !c->local))) {
            if (!c->in_txn) {
                c_txn_begin(c);
                c->req_hdrs = mrd_arena_alloc(&c->arena, w->gen->cfg->server.limits.max_headers *
                                                            sizeof(struct mrd_h1_hdr));
                if (!c->req_hdrs) {
                    c_error(c, 503, "out of memory");
                    return true;
                }
                const struct mrd_cfg_limits *lim = &c->txn.gen->cfg->server.limits;
                c->req.hdrs = c->req_hdrs;
                c->req.max_headers = lim->max_headers;
                c->req.max_head_bytes = (uint32_t)lim->max_header_bytes;
                c->req.max_body_bytes = lim->max_body_bytes;
                mrd_h1_next(&c->req, c->parse_pos);
            }
            /* body bytes wait while earlier ones are still unsent (backpressure) */
            if (c->req.state == MRD_H1_BODY && c->fwd_pos < c->parse_pos)
                break;
            uint32_t before = c->parse_pos;
            settle = false;
            enum mrd_h1_ret r = mrd_h1_feed(&c->req, c->rx->data, &c->parse_pos, c->rx->tail);
            if (c->parse_pos != before)
                progress = true;
            if (r == MRD_H1_FAIL) {
                if (!c->txn.request_id[0])
                    c_gen_request_id(c);
                if (c->rsp_started) {
                    c_upstream_failed(c, c->req.why, 400, -1);
                } else {
                    c->txn.error = c->req.why;
                    c_error(c, c->req.error_status, c->req.why);
                }
                return true;
            }
            if (r == MRD_H1_HEADERS) {
                c->fwd_pos = c->body_start = c->parse_pos;
                c->body_recycled = c->stale_replayed = false;
                c_on_request_head(c);
                progress = true;
                settle = true;
                continue;
            }
            if (r == MRD_H1_COMPLETE) {
                c->req_done = true;
                progress = true;
            }
            if (r == MRD_H1_NEED_MORE || r == MRD_H1_COMPLETE) {
                if (c->req.state == MRD_H1_BODY || c->req.state == MRD_H1_DONE)
                    continue; /* forward first */
            }
        }
        if (!c->rd_ready || c->eof)
            break;
        /* read more, if there is room and the current stage wants it */
        if (c->in_txn && (c->req_done || c->local))
            break; /* pipelined bytes wait in the kernel until this response is done */
        if (!c->rx) {
            c->rx = mrd_buf_get(&w->bufs);
            if (!c->rx) {
                c->eof = true;
                c->close_after = true;
                return true;
            }
            c->parse_pos = c->fwd_pos = 0;
        }
        if (c->in_txn && c->req.state == MRD_H1_BODY && c->fwd_pos == c->parse_pos &&
            c->parse_pos == c->rx->tail) {
            c->rx->head = c->rx->tail = 0; /* everything forwarded: reuse the room */
            c->parse_pos = c->fwd_pos = 0;
            c->body_recycled = true; /* the body is streamed now: it cannot be replayed */
        }
        uint32_t room = mrd_buf_room(c->rx);
        if (!room) {
            if (!c->in_txn || c->req.state == MRD_H1_HEAD) {
                if (!c->in_txn)
                    c_txn_begin(c);
                c_gen_request_id(c);
                c_error(c, 431, "request head larger than the buffer");
                return true;
            }
            break;
        }
        ssize_t r = mrd_io_read(c->io.fd, c->tls, c->rx->data + c->rx->tail, room);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                c->rd_ready = false;
                break;
            }
            c->eof = true;
            c->rd_ready = false;
            break;
        }
        if (r == 0) {
            c->eof = true;
            c->rd_ready = false;
            break;
        }
        if (!c->in_txn && c->rx->tail == 0)
            c->head_start_ms = w->loop.now_ms;
        c->rx->tail += (uint32_t)r;
        c->last_rd_ms = w->loop.now_ms;
        progress = true;
        if ((uint32_t)r < room && !c->rdhup && !c->tls)
            c->rd_ready = false; /* drained: the next edge will tell (TLS reads one record) */
    }
    return progress;
}

/* Rewrites the origin's response head for the client: hop-by-hop headers dropped, the
 * request id added, and Connection set for how this client connection continues. */
static int c_response_head(struct mrd_cconn *c, struct mrd_h1_msg *m)
{
    const char *base = m->base;
    size_t size = 160 + m->status_text.len + strlen(c->txn.request_id) +
                  (c->txn.set_cookie ? strlen(c->txn.set_cookie) + 16 : 0);
    bool interim = m->status < 200;

    for (uint32_t i = 0; i < m->n_hdrs; i++)
        size += m->hdrs[i].name.len + m->hdrs[i].value.len + 4;
    char *o = mrd_arena_alloc(&c->arena, size);
    if (!o)
        return -1;
    size_t n = (size_t)sprintf(o, "HTTP/1.1 %d ", m->status);
    memcpy(o + n, base + m->status_text.off, m->status_text.len);
    n += m->status_text.len;
    o[n++] = '\r';
    o[n++] = '\n';
    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        const struct mrd_h1_hdr *h = &m->hdrs[i];
        if (h->skip || (!interim && mrd_h1_span_ieq(base, h->name, "x-request-id")))
            continue;
        n += h1_put_header(o + n, base, h);
    }
    if (!interim) {
        n += (size_t)sprintf(o + n, "X-Request-Id: %s\r\n", c->txn.request_id);
        if (c->txn.set_cookie)
            n += (size_t)sprintf(o + n, "Set-Cookie: %s\r\n", c->txn.set_cookie);
        if (c_wants_close(c) || m->needs_eof) {
            c->close_after = true;
            n += (size_t)sprintf(o + n, "Connection: close\r\n");
        } else if (c->req.minor == 0) {
            n += (size_t)sprintf(o + n, "Connection: keep-alive\r\n");
        }
    }
    o[n++] = '\r';
    o[n++] = '\n';
    return c_out_append(c, o, (uint32_t)n);
}

/* The origin accepted the upgrade: relay its 101 and switch both connections to tunnel mode.
 * The transaction is logged now; the tunnel keeps a generation reference (for its origin's
 * tunnel count) but gives back the arena, so it costs only its structs while idle. */
static int c_enter_tunnel(struct mrd_cconn *c, struct mrd_uconn *u, unsigned rsv)
{
    struct mrd_txn *t = &c->txn;
    const struct mrd_h1_msg *m = &u->rsp;
    struct mrd_worker *w = c->w;
    struct mrd_buf *b = mrd_buf_get(&w->bufs);
    uint32_t rest = u->rx->tail - u->parse_pos;
    size_t n = 0;
    const struct mrd_cfg_rule *rule = t->rule;
    struct mrd_tun_edge *edge = NULL;

    if (!b || (rule && rule->websocket.auto_request && !(edge = mrd_tunnel_edge_new(rule)))) {
        if (b)
            mrd_buf_put(&w->bufs, b);
        c_upstream_failed(c, "out of memory", 503, -1);
        return -1;
    }
    n += (size_t)snprintf(b->data, MRD_BUF_SIZE, "HTTP/1.1 101 Switching Protocols\r\n");
    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        const struct mrd_h1_hdr *h = &m->hdrs[i];
        if (h->skip || mrd_h1_span_ieq(m->base, h->name, "x-request-id"))
            continue;
        if (n + h->name.len + h->value.len + 4 + 128 + rest > MRD_BUF_SIZE)
            break; /* cannot happen with a head that fit the response buffer */
        n += h1_put_header(b->data + n, m->base, h);
    }
    n += (size_t)snprintf(b->data + n, MRD_BUF_SIZE - n,
                          "X-Request-Id: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                          t->request_id);
    if (n + rest > MRD_BUF_SIZE) {
        mrd_buf_put(&w->bufs, b);
        free(edge); /* not started: it holds no buffer yet */
        c_upstream_failed(c, "101 head and first frames larger than the buffer", 502,
                          MRD_UERR_PROTOCOL);
        return -1;
    }
    memcpy(b->data + n, u->rx->data + u->parse_pos, rest); /* frames sent right after 101 */
    b->head = 0;
    b->tail = (uint32_t)(n + rest);
    mrd_buf_put(&w->bufs, u->rx);
    u->rx = b;

    t->status = 101;
    c->rsp_started = c->rsp_done = true;
    c_txn_account(c);
    mrd_modules_log(t);
    c->tunnel = true;
    /* the reserved bits the extensions of the 101 may use (all three for one we do not know) */
    mrd_ws_parser_init(&c->tun_p_up, MRD_WS_FROM_CLIENT | rsv, 0);
    mrd_ws_parser_init(&c->tun_p_down, rsv, 0);
    if (rest)
        mrd_tunnel_track(&c->tun_p_down, (const uint8_t *)b->data + n, rest);
    if (!edge && c->rx && c->parse_pos < c->rx->tail)
        mrd_tunnel_track(&c->tun_p_up, (const uint8_t *)c->rx->data + c->parse_pos,
                        c->rx->tail - c->parse_pos);
    c->tun_gen = t->gen; /* the transaction's reference moves to the tunnel */
    t->gen = NULL;
    c->tun_origin = t->origin;
    c->tun_lb = t->lb;
    c->tun_last_ms = w->loop.now_ms;
    if (t->origin)
        atomic_fetch_add_explicit(&t->origin->rt->tunnels, 1, memory_order_relaxed);
    mrd_list_add_tail(&w->tunnels, &c->tun_link);
    w->n_tunnels++;
    c->in_txn = false;
    if (c->rx) {
        c->rx->head = c->parse_pos; /* client frames sent right after the request */
        if (c->rx->head >= c->rx->tail) {
            mrd_buf_put(&w->bufs, c->rx);
            c->rx = NULL;
        }
    }
    if (edge)
        mrd_tunnel_edge_start(c, edge, c->rx ? c->rx->head : 0);
    c->cout = c->uout = NULL;
    c->cout_len = c->cout_off = c->uout_len = c->uout_off = 0;
    c->req_hdrs = c->rsp_hdrs = NULL;
    mrd_arena_free(&c->arena);
    u->wr_blocked = false;
    return 1;
}

/* Handles a parsed response head. Returns 0 to go on, -1 if the attempt failed. */
static int u_on_head(struct mrd_cconn *c, struct mrd_uconn *u)
{
    struct mrd_h1_msg *m = &u->rsp;
    int st = m->status;

    if (st == 101) {
        const char *why = "unexpected 101 Switching Protocols";
        struct mrd_ws_hs hs;
        if (c->ws_upgrade) {
            c_ws_hs_of(&hs, m);
            if (!mrd_ws_check_accept(&hs, st, &why))
                return c_enter_tunnel(c, u, hs.rsv_flags);
        }
        c_upstream_failed(c, why, 502, MRD_UERR_PROTOCOL);
        return -1;
    }
    if (c->head_req || st == 204 || st == 304 || st < 200)
        mrd_h1_skip_body(m);
    m->needs_eof = st >= 200 && !m->chunked && m->content_length < 0 && !c->head_req &&
                   st != 204 && st != 304;
    if (st >= 200 && c->txn.origin) {
        struct mrd_txn *t = &c->txn;
        if (st >= 500)
            mrd_passive_error(t->pool, t->origin, MRD_UERR_PROTOCOL, true, c->w->loop.now_ms);
        else
            mrd_passive_ok(t->origin);
        if (!t->retries && t->upstream_first_ms >= t->upstream_start_ms)
            mrd_rt_latency_sample(t->pool, t->origin,
                                  (t->upstream_first_ms - t->upstream_start_ms) * 1000 + 500);
    }
    if (st >= 200) {
        u->head_held = true; /* see u_flush_head */
        u->fwd_pos = u->parse_pos;
        return 0;
    }
    if (c_response_head(c, m) < 0) {
        c_upstream_failed(c, "out of memory", 503, -1);
        return -1;
    }
    u->fwd_pos = u->parse_pos; /* the head goes out rewritten, not relayed */
    if (st < 200)
        return 0; /* interim: the final response follows on the same stream */
    c->txn.status = st;
    c->rsp_started = true;
    return 0;
}

/* Sends on a final head whose rewrite was held back until the bytes read with it had been
 * parsed, so a body framing error in the same read still becomes a clean 502. */
static int u_flush_head(struct mrd_cconn *c, struct mrd_uconn *u)
{
    uint32_t parsed = u->parse_pos;
    if (c_response_head(c, &u->rsp) < 0) {
        c_upstream_failed(c, "out of memory", 503, -1);
        return -1;
    }
    u->fwd_pos = u->rsp.head_end;
    u->parse_pos = parsed;
    c->txn.status = u->rsp.status;
    c->rsp_started = true;
    u->head_held = false;
    return 0;
}

/* Reads and parses response bytes from the origin. Returns progress. */
static bool u_read(struct mrd_cconn *c)
{
    struct mrd_worker *w = c->w;
    bool progress = false;

    for (;;) {
        struct mrd_uconn *u = c->u;
        if (!u || !u->rd_ready || u->connecting || c->rsp_done || (u->hs && !u->eof))
            break;
        /* what was received must be sent on before more is read (backpressure) */
        if (u->rx && u->fwd_pos < u->parse_pos)
            break;
        if (!u->rx) {
            u->rx = mrd_buf_get(&w->bufs);
            if (!u->rx) {
                c_upstream_failed(c, "out of memory", 503, -1);
                return true;
            }
        }
        if (u->fwd_pos == u->parse_pos && u->parse_pos == u->rx->tail &&
            u->rsp.state != MRD_H1_HEAD) {
            u->rx->head = u->rx->tail = 0;
            u->parse_pos = u->fwd_pos = 0;
        }
        uint32_t room = mrd_buf_room(u->rx);
        ssize_t r;
        if (u->eof)
            r = 0;
        else if (!room) {
            c_upstream_failed(c, "response head larger than the buffer", 502, MRD_UERR_PROTOCOL);
            return true;
        } else
            r = mrd_io_read(u->io.fd, u->tls, u->rx->data + u->rx->tail, room);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            u->rd_ready = false;
            break;
        }
        progress = true;
        if (r <= 0) {
            u->eof = true;
            u->rd_ready = false;
            if (u->rsp.state == MRD_H1_BODY && mrd_h1_eof(&u->rsp) == MRD_H1_COMPLETE) {
                if (u->head_held && u_flush_head(c, u) < 0)
                    return true;
                c->rsp_done = true;
                u->keep = false;
                break;
            }
            if (u->connect_failed)
                c_upstream_failed(c, u->tls_why ? u->tls_why : c_connect_why(u->connect_err), 502,
                                  MRD_UERR_CONNECT);
            else
                c_upstream_failed(c, r < 0 ? "upstream_reset"
                                           : (u->got_bytes ? "upstream_truncated" : "upstream_closed"),
                                  502, u->got_bytes ? MRD_UERR_PROTOCOL : MRD_UERR_RESET);
            return true;
        }
        u->rx->tail += (uint32_t)r;
        if (!c->txn.upstream_first_ms)
            c->txn.upstream_first_ms = w->loop.now_ms;
        u->got_bytes = true;
        c->last_up_ms = w->loop.now_ms;
        if ((uint32_t)r < room && !u->rdhup && !u->tls)
            u->rd_ready = false;
        for (;;) {
            enum mrd_h1_ret pr = mrd_h1_feed(&u->rsp, u->rx->data, &u->parse_pos, u->rx->tail);
            if (pr == MRD_H1_FAIL) {
                c_upstream_failed(c, u->rsp.why ? u->rsp.why : "invalid response", 502, MRD_UERR_PROTOCOL);
                return true;
            }
            if (pr == MRD_H1_HEADERS) {
                int hr = u_on_head(c, u);
                if (hr != 0)
                    return true; /* failed, or the connection is a tunnel now */
                continue;
            }
            if (pr == MRD_H1_COMPLETE) {
                if (u->rsp.status < 200) {
                    mrd_h1_next(&u->rsp, u->parse_pos);
                    continue;
                }
                c->rsp_done = true;
                u->keep = u->rsp.keep_alive && !u->rsp.conn_close && !u->rsp.needs_eof &&
                          u->parse_pos == u->rx->tail;
            }
            break;
        }
        if (u->head_held && u_flush_head(c, u) < 0)
            return true;
        if (c->rsp_done)
            break;
    }
    return progress;
}

static void c_close(struct mrd_cconn *c)
{
    conn_free(c);
}

/* Starts a lingering close: the response is out, the write side is shut, and what the
 * client still sends is read and dropped for a while, so the kernel does not answer it with
 * a reset that could destroy the response before the client read it. */
static void c_linger(struct mrd_cconn *c)
{
    c->lingering = true;
    if (c->tls)
        mrd_tls_shutdown(c->tls);
    shutdown(c->io.fd, SHUT_WR);
    mrd_timer_set(&c->w->loop.wheel, &c->timer, c->w->loop.now_ms + CONN_LINGER_MS);
}

static bool c_txn_finished(const struct mrd_cconn *c)
{
    if (!c->rsp_done || c->cout_off < c->cout_len)
        return false;
    if (c->u && c->u->rx && c->u->fwd_pos < c->u->parse_pos)
        return false;
    return true;
}

/* Picks the next deadline for this connection from its state. */
/* How long a tunnel may stay silent: websocket_idle_timeout, or once close frames are out
 * (idle timeout, drain, on_origin_down), the grace for the peers' close answers. */
#define C_TUN_CLOSE_GRACE_MS 5000
static uint64_t c_tun_idle_ms(const struct mrd_cconn *c)
{
    uint64_t idle = c->tun_gen->cfg->server.limits.websocket_idle_timeout_ms;
    return c->tun_closing && idle > C_TUN_CLOSE_GRACE_MS ? C_TUN_CLOSE_GRACE_MS : idle;
}

static void c_arm_timer(struct mrd_cconn *c)
{
    const struct mrd_cfg_limits *lim = &c->w->gen->cfg->server.limits;
    uint64_t d;

    if (c->lingering)
        return;
    if (c->hs) {
        d = c->head_start_ms + lim->header_timeout_ms; /* the handshake is part of the head */
        mrd_timer_set(&c->w->loop.wheel, &c->timer, d);
        return;
    }
    if (c->tunnel) {
        d = c->tun_last_ms + c_tun_idle_ms(c);
        mrd_timer_set(&c->w->loop.wheel, &c->timer, d);
        return;
    }
    if (!c->in_txn) {
        if (c->rx && mrd_buf_len(c->rx))
            d = c->head_start_ms + lim->header_timeout_ms;
        else
            d = (c->last_wr_ms > c->last_rd_ms ? c->last_wr_ms : c->last_rd_ms) +
                lim->idle_timeout_ms;
    } else {
        lim = &c->txn.gen->cfg->server.limits;
        if (c->local)
            d = c->last_wr_ms + lim->idle_timeout_ms; /* only the client's reading is left */
        else if (c->req.state == MRD_H1_HEAD)
            d = c->head_start_ms + lim->header_timeout_ms;
        else if (c->wr_blocked)
            d = c->last_wr_ms + lim->idle_timeout_ms;
        else if (c->u && c->u->connecting)
            d = c->u->connect_start + lim->connect_timeout_ms;
        else if (!c->req_done && !c->local)
            d = c->last_rd_ms + lim->body_timeout_ms;
        else if (c->u && !c->rsp_done)
            d = c->last_up_ms + lim->upstream_timeout_ms;
        else
            d = c->w->loop.now_ms + lim->idle_timeout_ms;
    }
    mrd_timer_set(&c->w->loop.wheel, &c->timer, d ? d : 1);
}

static void c_on_timer(struct mrd_timer *t, uint64_t now)
{
    struct mrd_cconn *c = MRD_CONTAINER_OF(t, struct mrd_cconn, timer);
    const struct mrd_cfg_limits *lim;

    if (c->lingering) {
        c_close(c);
        return;
    }
    if (c->hs) {
        if (now >= c->head_start_ms + c->w->gen->cfg->server.limits.header_timeout_ms) {
            c_close(c); /* a TLS handshake that does not finish */
            return;
        }
        conn_pump(c);
        return;
    }
    if (c->tunnel) {
        if (now >= c->tun_last_ms + c_tun_idle_ms(c)) {
            /* idle: say so with 1001 both ways when between frames, then give the peers
             * the close handshake's grace; a tunnel already closing (or mid-frame) just ends */
            if (!c->tun_closing && mrd_tunnel_close_with(c, MRD_WS_CLOSE_GOING_AWAY)) {
                c_arm_timer(c);
                return;
            }
            c_close(c);
            return;
        }
        conn_pump(c);
        return;
    }
    if (!c->in_txn) {
        lim = &c->w->gen->cfg->server.limits;
        if (c->rx && mrd_buf_len(c->rx)) {
            if (now >= c->head_start_ms + lim->header_timeout_ms) {
                c_txn_begin(c);
                c_gen_request_id(c);
                c->req.keep_alive = false;
                c_error(c, 408, "request head not received in time");
            }
        } else if (now >= (c->last_wr_ms > c->last_rd_ms ? c->last_wr_ms : c->last_rd_ms) +
                              lim->idle_timeout_ms) {
            c_close(c);
            return;
        }
        conn_pump(c);
        return;
    }
    lim = &c->txn.gen->cfg->server.limits;
    if (c->local) {
        if (now >= c->last_wr_ms + lim->idle_timeout_ms) {
            c_close(c); /* the client does not read the gateway's answer */
            return;
        }
    } else if (c->req.state == MRD_H1_HEAD) {
        if (now >= c->head_start_ms + lim->header_timeout_ms) {
            c_gen_request_id(c);
            c_error(c, 408, "request head not received in time");
        }
    } else if (c->wr_blocked) {
        if (now >= c->last_wr_ms + lim->idle_timeout_ms) {
            c_close(c); /* the client stopped reading */
            return;
        }
    } else if (c->u && c->u->connecting) {
        if (now >= c->u->connect_start + lim->connect_timeout_ms) {
            c_upstream_failed(c, "connect_timeout", 504, MRD_UERR_TIMEOUT);
        }
    } else if (!c->req_done && !c->local) {
        if (now >= c->last_rd_ms + lim->body_timeout_ms) {
            if (c->rsp_started) {
                c_close(c);
                return;
            }
            c->txn.error = "body_timeout";
            c_error(c, 408, "request body not received in time");
        }
    } else if (c->u && !c->rsp_done) {
        if (now >= c->last_up_ms + lim->upstream_timeout_ms) {
            if (c->rsp_started) {
                c->txn.error = "upstream_timeout";
                c_close(c);
                return;
            }
            c_upstream_failed(c, "upstream_timeout", 504, MRD_UERR_TIMEOUT);
        }
    }
    conn_pump(c);
}

/* Advances the client's TLS handshake. false while it is not done (or the connection closed). */
static bool c_handshake(struct mrd_cconn *c)
{
    int r = mrd_tls_handshake(c->tls);
    if (r > 0) {
        c->hs = false;
        c->rd_ready = true; /* the first request may already be decrypted and buffered */
        return true;
    }
    if (r < 0) {
        mrd_log_warn("tls handshake from %s failed: %s", c->peer_ip, mrd_tls_error(c->tls));
        c_close(c);
        return false;
    }
    c_arm_timer(c);
    return false;
}

static void conn_pump(struct mrd_cconn *c)
{
    if (c->hs && !c_handshake(c))
        return;
    for (int rounds = 0; rounds < 64; rounds++) {
        if (c->tunnel) {
            if (mrd_tunnel_pump(c) < 0)
                c_close(c);
            else
                c_arm_timer(c);
            return;
        }
        bool p = false;
        p |= c_read(c);
        p |= u_write(c);
        p |= u_read(c);
        if (c->tunnel)
            continue; /* the origin's 101 arrived: tunnel mode from here */
        p |= c_write(c);
        if (c->in_txn && c_txn_finished(c)) {
            bool aborted = c->txn.error && c->rsp_started && !c->local && c->eof;
            c_txn_end(c);
            if (aborted) {
                c_close(c);
                return;
            }
            p = true;
        }
        if (!c->in_txn && !c->lingering) {
            if (c->close_after || c->w->draining) {
                if (c->eof) {
                    c_close(c);
                    return;
                }
                c_linger(c);
                p = true;
            } else if (c->eof && (!c->rx || !mrd_buf_len(c->rx))) {
                c_close(c);
                return;
            } else if (c->eof && c->rx && c->parse_pos >= c->rx->tail) {
                c_close(c); /* a partial head and then EOF */
                return;
            }
        }
        if (c->lingering && c->eof) {
            c_close(c);
            return;
        }
        if (c->in_txn && c->eof && !c->req_done && !c->rsp_started && !c->local &&
            (!c->rx || c->parse_pos >= c->rx->tail)) {
            /* the client went away before its request was complete */
            c->txn.error = "client_closed";
            c->txn.status = 499;
            if (c->u) {
                up_close(c->u);
                c->u = NULL;
            }
            c->rsp_done = true;
            c->cout_off = c->cout_len;
            c_txn_end(c);
            c_close(c);
            return;
        }
        if (c->in_txn && c->eof && c->wr_blocked && c->rsp_done && c->cout_off == c->cout_len &&
            !c->u) {
            c_txn_end(c);
            c_close(c);
            return;
        }
        if (!p)
            break;
    }
    c_arm_timer(c);
}

static void c_on_io(struct mrd_io *io, uint32_t ev)
{
    struct mrd_cconn *c = MRD_CONTAINER_OF(io, struct mrd_cconn, io);
    if (c->hs && (ev & (EPOLLERR | EPOLLHUP))) {
        /* Reset (or fully shut) before the handshake finished: nothing can reach the peer
         * any more, so finishing it (verifying Finished, minting tickets) is wasted CPU. */
        mrd_log_debug("tls handshake from %s abandoned: the client reset the connection",
                      c->peer_ip);
        c_close(c);
        return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->rd_ready = true;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->rdhup = true;
    if (ev & EPOLLOUT)
        c->wr_blocked = false;
    if (ev & EPOLLERR) {
        c->eof = true;
        c->wr_blocked = true;
    }
    conn_pump(c);
}

static void conn_free(struct mrd_cconn *c)
{
    struct mrd_worker *w = c->w;
    if (c->in_txn) {
        if (!c->txn.status)
            c->txn.status = 499;
        c->rsp_done = true;
        c_txn_end(c);
    }
    if (c->u) {
        up_close(c->u);
        c->u = NULL;
    }
    if (c->tunnel) {
        if (c->tun_origin)
            atomic_fetch_sub_explicit(&c->tun_origin->rt->tunnels, 1, memory_order_relaxed);
        mrd_list_del(&c->tun_link);
        w->n_tunnels--;
        mrd_tunnel_edge_free(c);
        mrd_wgen_put(c->tun_gen);
        c->tun_gen = NULL;
        c->tunnel = false;
    }
    mrd_timer_stop(&w->loop.wheel, &c->timer);
    mrd_list_del(&c->flush_link);
    mrd_tls_free(c->tls);
    c->tls = NULL;
    close(c->io.fd);
    c->io.fd = -1;
    mrd_buf_put(&w->bufs, c->rx);
    c->rx = NULL;
    mrd_arena_free(&c->arena);
    mrd_list_del(&c->link);
    w->n_conns--;
    mrd_list_add_tail(&w->dead_c, &c->link); /* freed by mrd_conn_reap */
}

void mrd_conn_flush(struct mrd_worker *w)
{
    w->defer_writes = 0;
    while (!mrd_list_empty(&w->flush)) {
        struct mrd_cconn *c = MRD_CONTAINER_OF(w->flush.next, struct mrd_cconn, flush_link);
        mrd_list_del(&c->flush_link);
        conn_pump(c);
    }
    w->defer_writes = 1;
}

void mrd_conn_reap(struct mrd_worker *w)
{
    while (!mrd_list_empty(&w->dead_c)) {
        struct mrd_list *l = w->dead_c.next;
        mrd_list_del(l);
        free(MRD_CONTAINER_OF(l, struct mrd_cconn, link));
    }
    while (!mrd_list_empty(&w->dead_u)) {
        struct mrd_list *l = w->dead_u.next;
        mrd_list_del(l);
        free(MRD_CONTAINER_OF(l, struct mrd_uconn, link));
    }
}

void mrd_conn_accept(struct mrd_worker *w, int fd, const struct sockaddr_storage *peer,
                     struct mrd_tls_server *tls)
{
    struct mrd_cconn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->io.fd = fd;
    c->io.cb = c_on_io;
    c->w = w;
    mrd_arena_init(&c->arena, CONN_ARENA_CHUNK);
    mrd_list_init(&c->flush_link);
    mrd_list_init(&c->tun_link);
    mrd_timer_init(&c->timer, c_on_timer);
    mrd_h1_init(&c->req, HTTP_REQUEST, NULL, 0, 0, 0);
    memcpy(&c->peer, peer, sizeof(c->peer));
    if (peer->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, c->peer_ip,
                  sizeof(c->peer_ip));
    else if (peer->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, c->peer_ip,
                  sizeof(c->peer_ip));
    else
        strcpy(c->peer_ip, "unknown");
    c->last_rd_ms = c->last_wr_ms = c->head_start_ms = w->loop.now_ms;
    if (tls) {
        c->tls = mrd_tls_accept(tls, fd);
        if (!c->tls) {
            close(fd);
            mrd_arena_free(&c->arena);
            free(c);
            return;
        }
        c->hs = true;
    }
    mrd_list_add_tail(&w->conns, &c->link);
    w->n_conns++;
    if (mrd_loop_add(&w->loop, &c->io, CONN_EVENTS) < 0) {
        mrd_list_del(&c->link);
        w->n_conns--;
        close(fd);
        mrd_arena_free(&c->arena);
        free(c);
        return;
    }
    /* Data usually arrives with or right after the handshake; the edge will tell. */
    c_arm_timer(c);
}

void mrd_conn_drain(struct mrd_worker *w, bool fast)
{
    struct mrd_list *l, *next;
    for (l = w->conns.next; l != &w->conns; l = next) {
        struct mrd_cconn *c = MRD_CONTAINER_OF(l, struct mrd_cconn, link);
        next = l->next;
        c->close_after = true;
        if (c->tunnel)
            mrd_tunnel_close_with(c, 1001); /* going away; retried by the drain tick */
        else if (!c->in_txn && (!c->rx || !mrd_buf_len(c->rx)))
            c_close(c);
        else if (fast && !c->rsp_started)
            conn_pump(c);
    }
    mrd_conn_close_idle_upstreams(w);
}

void mrd_conn_close_all(struct mrd_worker *w)
{
    while (!mrd_list_empty(&w->conns))
        c_close(MRD_CONTAINER_OF(w->conns.next, struct mrd_cconn, link));
}
