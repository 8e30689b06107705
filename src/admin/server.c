/* The admin API's HTTP/1.1 server on the control thread's loop: one listener, a fixed table of
 * MRD_ADMIN_MAX_CONNS connections, one request per connection (answered with Connection:
 * close). Reads and writes never block; every stage has a deadline; the request is framed by
 * the same strict parser as the proxy (http/h1). Slots are static, so an event that epoll
 * already returned for a connection closed earlier in the same batch lands on a valid slot
 * (possibly reused by then); that is harmless because every handler acts on what read()
 * and write() say (EAGAIN), never on the event flags alone. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "admin/admin-int.h"
#include "config/config.h"
#include "core/log.h"
#include "http/h1.h"
#include "proxy/proxy.h"

enum conn_state {
    CONN_FREE,   /* unused slot */
    CONN_READ,   /* receiving the request */
    CONN_WRITE,  /* sending the buffered response */
    CONN_LINGER, /* answered and shut down for writing; discarding what the client still sends */
};

struct admin_conn {
    struct mrd_io        io;
    struct mrd_timer     timer;    /* the deadline of the current state */
    enum conn_state      state;
    char                *rx;       /* owned; MRD_ADMIN_MAX_HEAD + 1, grown to hold the body */
    uint32_t             rx_len, rx_cap, pos;
    struct mrd_h1_msg    msg;
    struct mrd_h1_hdr    hdrs[MRD_ADMIN_MAX_HDRS];
    char                 head[512]; /* the response head */
    size_t               head_len, head_off;
    struct mrd_admin_rsp rsp;       /* owns the response body */
    size_t               body_off, body_len;
};

static struct {
    struct mrd_loop  *loop;       /* borrowed: the control thread's */
    struct mrd_io     lsn;        /* fd -1 when not listening */
    char             *addr_text;  /* what lsn is bound to, malloc'ed */
    struct mrd_cfg_addr bound;    /* its address (text = addr_text) */
    struct admin_conn conns[MRD_ADMIN_MAX_CONNS];
    int               n_open;
    int               port;
} srv = { .lsn = { .fd = -1 }, .port = -1 };

static void conn_io(struct mrd_io *io, uint32_t events);

int mrd_admin_port(void)
{
    return srv.lsn.fd >= 0 ? srv.port : -1;
}

int mrd_admin_open_conns(void)
{
    return srv.n_open;
}

/* ---- connection lifetime ---- */

static void conn_close(struct admin_conn *c)
{
    if (c->state == CONN_FREE)
        return;
    mrd_loop_del(srv.loop, &c->io);
    close(c->io.fd);
    c->io.fd = -1;
    mrd_timer_stop(&srv.loop->wheel, &c->timer);
    free(c->rx);
    c->rx = NULL;
    mrd_admin_rsp_free(&c->rsp);
    c->state = CONN_FREE;
    srv.n_open--;
}

static void conn_timeout(struct mrd_timer *t, uint64_t now_ms);

static struct admin_conn *conn_slot(void)
{
    for (int i = 0; i < MRD_ADMIN_MAX_CONNS; i++)
        if (srv.conns[i].state == CONN_FREE)
            return &srv.conns[i];
    return NULL;
}

/* Over the connection bound: a best-effort 503 on the fresh socket (its send buffer is empty,
 * so a short write is all but impossible; if it happens the client just sees a close). */
static void refuse_busy(int fd)
{
    static const char body[] = "{\"error\":{\"code\":\"unavailable\",\"message\":\"too many admin "
                               "connections; retry later\",\"details\":[]}}\n";
    char rsp[512];
    int n = snprintf(rsp, sizeof(rsp),
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\nRetry-After: 1\r\n\r\n%s",
                     sizeof(body) - 1, body);
    ssize_t r = write(fd, rsp, (size_t)n);
    (void)r;
    close(fd);
}

static void conn_open(int fd)
{
    struct admin_conn *c = conn_slot();
    if (!c) {
        refuse_busy(fd);
        return;
    }
    memset(c, 0, sizeof(*c));
    c->io.fd = fd;
    c->io.cb = conn_io;
    mrd_timer_init(&c->timer, conn_timeout);
    mrd_admin_rsp_init(&c->rsp);
    c->rx_cap = MRD_ADMIN_MAX_HEAD + 1;
    c->rx = malloc(c->rx_cap);
    if (!c->rx || mrd_loop_add(srv.loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
        free(c->rx);
        c->rx = NULL;
        close(fd);
        c->io.fd = -1;
        mrd_log_warn("admin: cannot take a connection: out of memory or epoll failure");
        return;
    }
    mrd_h1_init(&c->msg, HTTP_REQUEST, c->hdrs, MRD_ADMIN_MAX_HDRS, MRD_ADMIN_MAX_HEAD,
                MRD_ADMIN_MAX_BODY);
    c->state = CONN_READ;
    srv.n_open++;
    mrd_timer_set(&srv.loop->wheel, &c->timer, srv.loop->now_ms + MRD_ADMIN_RECV_MS);
}

static void lsn_accept(struct mrd_io *io, uint32_t events)
{
    (void)events;
    for (;;) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                mrd_log_warn("admin: accept: %s", strerror(errno));
            return;
        }
        conn_open(fd);
    }
}

/* ---- responses ---- */

static const char *status_code_name(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 408: return "request_timeout";
    case 411: return "length_required";
    case 413: return "payload_too_large";
    case 417: return "expectation_failed";
    case 431: return "headers_too_large";
    case 501: return "not_implemented";
    case 505: return "http_version_not_supported";
    default: return "bad_request";
    }
}

static void conn_flush(struct admin_conn *c);
static void conn_drain(struct admin_conn *c);

/* Serialises the head for c->rsp and starts writing. */
static void conn_respond(struct admin_conn *c)
{
    struct mrd_admin_rsp *r = &c->rsp;
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                     "Connection: close\r\n%s%s%s%s\r\n",
                     r->status, mrd_h1_reason(r->status), r->ctype, r->body.len,
                     r->allow ? "Allow: " : "", r->allow ? r->allow : "", r->allow ? "\r\n" : "",
                     r->auth_challenge ? "WWW-Authenticate: Bearer realm=\"meridian-admin\"\r\n"
                                       : "");
    c->head_len = n > 0 && (size_t)n < sizeof(c->head) ? (size_t)n : 0;
    c->head_off = 0;
    c->body_off = 0;
    c->body_len = r->no_body ? 0 : r->body.len;
    c->state = CONN_WRITE;
    mrd_timer_set(&srv.loop->wheel, &c->timer, srv.loop->now_ms + MRD_ADMIN_SEND_MS);
    conn_flush(c);
}

/* A protocol-level error (framing, limits, timeout): a JSON error, then close. */
static void conn_fail(struct admin_conn *c, int status, const char *why)
{
    mrd_admin_error(&c->rsp, status, status_code_name(status), why);
    conn_respond(c);
}

/* All sent: stop writing, read what the client still sends until it closes (or the linger
 * deadline), so unread request bytes do not turn the close into a reset that could destroy
 * the response in flight. */
static void conn_linger(struct admin_conn *c)
{
    shutdown(c->io.fd, SHUT_WR);
    c->state = CONN_LINGER;
    free(c->rx);
    c->rx = NULL;
    mrd_admin_rsp_free(&c->rsp);
    mrd_timer_set(&srv.loop->wheel, &c->timer, srv.loop->now_ms + MRD_ADMIN_LINGER_MS);
    conn_drain(c); /* bytes may be waiting already, and no new edge would announce them */
}

static void conn_flush(struct admin_conn *c)
{
    while (c->head_off < c->head_len || c->body_off < c->body_len) {
        struct iovec iov[2];
        int n = 0;
        if (c->head_off < c->head_len)
            iov[n++] = (struct iovec){ c->head + c->head_off, c->head_len - c->head_off };
        if (c->body_off < c->body_len)
            iov[n++] = (struct iovec){ c->rsp.body.p + c->body_off, c->body_len - c->body_off };
        ssize_t w = writev(c->io.fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                conn_close(c); /* the client went away */
            return;            /* EAGAIN: EPOLLOUT brings us back */
        }
        size_t left = (size_t)w, h = c->head_len - c->head_off;
        size_t take = left < h ? left : h;
        c->head_off += take;
        c->body_off += left - take;
    }
    conn_linger(c);
}

/* ---- requests ---- */

/* A header's value by lower-case name, or false. */
static bool req_hdr(const struct admin_conn *c, const char *name, const char **v, size_t *n)
{
    int i = mrd_h1_find(&c->msg, name);
    if (i < 0)
        return false;
    *v = c->rx + c->msg.hdrs[i].value.off;
    *n = c->msg.hdrs[i].value.len;
    return true;
}

static void conn_dispatch(struct admin_conn *c)
{
    struct mrd_admin_req req = { 0 };
    const struct mrd_h1_msg *m = &c->msg;

    req.method = c->rx + m->method.off;
    req.method_len = m->method.len;
    req.target = c->rx + m->target.off;
    req.target_len = m->target.len;
    req.has_auth = req_hdr(c, "authorization", &req.auth, &req.auth_len);
    req.has_ctype = req_hdr(c, "content-type", &req.ctype, &req.ctype_len);
    if (m->content_length > 0) {
        req.body = c->rx + m->head_end;
        req.body_len = (size_t)m->content_length;
    }
    mrd_admin_handle(&req, &c->rsp);
    if (c->rsp.status >= 400 && c->rsp.status != 404)
        mrd_log_debug("admin: %.*s %.*s -> %d", (int)req.method_len, req.method,
                      (int)(req.target_len > 200 ? 200 : req.target_len), req.target,
                      c->rsp.status);
    conn_respond(c);
}

/* The head is in: size the buffer for the body and answer Expect: 100-continue. */
static bool conn_head_done(struct admin_conn *c)
{
    if (c->msg.chunked) {
        conn_fail(c, 411, "send the body with Content-Length (chunked bodies are not taken)");
        return false;
    }
    uint64_t need = (uint64_t)c->msg.head_end + (c->msg.content_length > 0
                                                     ? (uint64_t)c->msg.content_length : 0);
    if (need > c->rx_cap) {
        char *p = realloc(c->rx, need);
        if (!p) {
            mrd_admin_error(&c->rsp, 500, "internal", "out of memory for the request body");
            conn_respond(c);
            return false;
        }
        c->rx = p;
        c->rx_cap = (uint32_t)need;
    }
    if (c->msg.expect_continue && c->msg.content_length > 0 && c->rx_len < need) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        ssize_t r = write(c->io.fd, cont, sizeof(cont) - 1); /* clients send anyway if lost */
        (void)r;
    }
    return true;
}

/* Feeds what has arrived to the parser; acts on a complete request or a framing error. */
static void conn_parse(struct admin_conn *c)
{
    for (;;) {
        enum mrd_h1_ret r = mrd_h1_feed(&c->msg, c->rx, &c->pos, c->rx_len);
        switch (r) {
        case MRD_H1_NEED_MORE:
            return;
        case MRD_H1_HEADERS:
            if (!conn_head_done(c))
                return;
            continue;
        case MRD_H1_COMPLETE:
            conn_dispatch(c);
            return;
        case MRD_H1_FAIL:
            conn_fail(c, c->msg.error_status ? c->msg.error_status : 400,
                      c->msg.why ? c->msg.why : "malformed request");
            return;
        }
    }
}

static void conn_read(struct admin_conn *c)
{
    while (c->state == CONN_READ) {
        if (c->rx_len == c->rx_cap) {
            /* a full head buffer fails in the parser (431); a full body buffer is complete */
            conn_parse(c);
            if (c->state == CONN_READ)
                conn_fail(c, 400, "more bytes than the request announced");
            return;
        }
        ssize_t n = read(c->io.fd, c->rx + c->rx_len, c->rx_cap - c->rx_len);
        if (n > 0) {
            c->rx_len += (uint32_t)n;
            conn_parse(c);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        conn_close(c); /* closed or reset before a whole request: nobody to answer */
        return;
    }
}

/* Discards whatever still arrives after the response; closes at EOF or error. */
static void conn_drain(struct admin_conn *c)
{
    char sink[4096];
    for (;;) {
        ssize_t n = read(c->io.fd, sink, sizeof(sink));
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        conn_close(c);
        return;
    }
}

static void conn_io(struct mrd_io *io, uint32_t events)
{
    struct admin_conn *c = MRD_CONTAINER_OF(io, struct admin_conn, io);

    if (c->state == CONN_READ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        conn_read(c);
    if (c->state == CONN_WRITE && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        conn_flush(c);
    if (c->state == CONN_LINGER && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        conn_drain(c);
}

static void conn_timeout(struct mrd_timer *t, uint64_t now_ms)
{
    struct admin_conn *c = MRD_CONTAINER_OF(t, struct admin_conn, timer);
    (void)now_ms;
    if (c->state == CONN_READ)
        conn_fail(c, 408, "the request did not arrive within 10 s");
    else
        conn_close(c); /* a write or linger deadline */
}

/* ---- listener ---- */

static int lsn_open(const struct mrd_cfg_addr *a)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 64) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static int lsn_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

static void lsn_close(void)
{
    if (srv.lsn.fd < 0)
        return;
    mrd_loop_del(srv.loop, &srv.lsn);
    close(srv.lsn.fd);
    srv.lsn.fd = -1;
    free(srv.addr_text);
    srv.addr_text = NULL;
}

/* Binds <cfg>'s admin address (in place of any current listener). */
static int lsn_bind(const struct mrd_cfg *cfg)
{
    const char *text = cfg->admin.addr.text ? cfg->admin.addr.text : "?";
    char *copy = strdup(text);
    int fd = copy ? lsn_open(&cfg->admin.addr) : -ENOMEM;

    if (fd < 0) {
        free(copy);
        mrd_log_error("admin: cannot listen on %s: %s", text, strerror(-fd));
        return fd;
    }
    lsn_close();
    srv.lsn.fd = fd;
    srv.lsn.cb = lsn_accept;
    int err = mrd_loop_add(srv.loop, &srv.lsn, EPOLLIN | EPOLLET);
    if (err < 0) {
        close(fd);
        srv.lsn.fd = -1;
        free(copy);
        mrd_log_error("admin: epoll: %s", strerror(-err));
        return err;
    }
    srv.addr_text = copy;
    srv.bound = cfg->admin.addr;
    srv.bound.text = copy;
    srv.port = lsn_port(fd);
    mrd_log_info("admin API listening on %s%s", text,
                 mrd_admin_has_token() ? "" : " (no token configured: no authentication)");
    return 0;
}

/* ---- tokens ---- */

static bool addr_is_loopback(const struct mrd_cfg_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr) >> 24) == 127;
    if (a->ss.ss_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(v6) ||
               (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
    }
    return false;
}

/* Loads <cfg>'s token and installs it; without one, <where> must be a loopback address.
 * On failure the current token stays. */
static int token_load(const struct mrd_cfg *cfg, const struct mrd_cfg_addr *where)
{
    char *tok;
    size_t len;
    const char *why;
    int err = mrd_admin_read_token(cfg, &tok, &len, &why);

    if (err) {
        mrd_log_error("admin: %s%s%s: %s", why, cfg->admin.token_file ? " " : "",
                      cfg->admin.token_file ? cfg->admin.token_file : "", strerror(-err));
        return err;
    }
    if (!tok && !addr_is_loopback(where)) {
        mrd_log_error("admin: %s is not a loopback address and no token is configured; set "
                      "admin.token_file or MERIDIAN_ADMIN_TOKEN", where->text);
        return -EPERM;
    }
    err = mrd_admin_set_token(tok, len);
    if (tok) {
        memset(tok, 0, len);
        free(tok);
    }
    return err;
}

/* ---- the public API ---- */

int mrd_admin_start(struct mrd_loop *loop, const struct mrd_cfg *cfg, const struct mrd_admin_ctx *ctx)
{
    srv.loop = loop;
    mrd_admin_set_ctx(ctx);
    if (!cfg->admin.enabled)
        return 0;
    int err = token_load(cfg, &cfg->admin.addr);
    if (err)
        return err;
    return lsn_bind(cfg);
}

void mrd_admin_reload(const struct mrd_cfg *cfg)
{
    /* The listener stays where it was bound (an address change needs a restart, as the
     * control thread warns); only the token follows the new generation. A generation without
     * an admin section keeps the old token: the API is still listening. */
    if (!srv.loop || srv.lsn.fd < 0 || !cfg->admin.enabled)
        return;
    if (token_load(cfg, &srv.bound))
        mrd_log_error("admin: reload keeps the previous token");
}

void mrd_admin_stop(void)
{
    if (!srv.loop)
        return;
    lsn_close();
    for (int i = 0; i < MRD_ADMIN_MAX_CONNS; i++)
        conn_close(&srv.conns[i]);
    mrd_admin_set_token(NULL, 0);
    srv.loop = NULL;
}
