/* WebSocket tunnels: after the origin's 101 the two connections relay bytes unchanged, each
 * direction with its own buffer and backpressure (a side reads only once what it read has
 * been written). A buffer is taken from the worker's pool when bytes arrive and given back
 * as soon as they have been written, so an idle tunnel ("hibernated") holds no buffer: only
 * its two sockets and the connection structs. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config/config.h"
#include "core/log.h"
#include "health/state.h"
#include "proxy/conn.h"
#include "proxy/proxy.h"
#include "tls/tls.h"

/* One direction of a tunnel. */
struct t_dir {
    int              rfd, wfd;
    struct mrd_tls_conn *rt, *wt; /* TLS on the reading / writing side, or NULL */
    bool            *rd_ready, *rd_eof, *rdhup, *wr_blocked, *shut;
    struct mrd_buf **buf;
    struct mrd_ws_parser *ws; /* follows frame headers; payload is skipped, never copied */
    struct mrd_cconn     *c;
    bool                  edge_out; /* toward the client on an auto_response route */
};

/* Writes b[head, end) to the direction's writer. 1 some written, 0 blocked, -1 broken. */
static int t_write(struct t_dir *d, struct mrd_buf *b, uint32_t end, uint64_t *bytes)
{
    if (*d->wr_blocked)
        return 0;
    struct iovec iov = { b->data + b->head, end - b->head };
    ssize_t n = mrd_io_writev(d->wfd, d->wt, &iov, 1);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            *d->wr_blocked = true;
            return 0;
        }
        return -1;
    }
    b->head += (uint32_t)n;
    if (bytes)
        *bytes += (uint64_t)n;
    return 1;
}

/* Reads into b->data from <off> to the end. The bytes read (b->tail moves), 0 when there are
 * none now (EAGAIN, or the end: rd_eof), -1 broken. */
static ssize_t t_read(struct t_dir *d, struct mrd_buf *b, uint32_t off)
{
    ssize_t n = mrd_io_read(d->rfd, d->rt, b->data + off, MRD_BUF_SIZE - off);

    b->tail = off + (n > 0 ? (uint32_t)n : 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        *d->rd_ready = false;
        return 0;
    }
    if (n == 0) {
        *d->rd_eof = true;
        *d->rd_ready = false;
        return 0;
    }
    if ((size_t)n < MRD_BUF_SIZE - off && !*d->rdhup && !d->rt)
        *d->rd_ready = false; /* drained: the next edge will tell */
    return n;
}

/* Passes a close on to the direction's writer (once). 1 if it did now. */
static int t_shut(struct t_dir *d)
{
    if (*d->shut)
        return 0;
    if (d->wt)
        mrd_tls_shutdown(d->wt);
    shutdown(d->wfd, SHUT_WR);
    *d->shut = true;
    return 1;
}

/* rules[].websocket.auto_response. The client's frames are parsed in place in the c2o buffer,
 * which is compacted as frames are taken out of the stream:
 *
 *   data: [head ... start ... out)  [in ... tail)
 *          forwardable  |  held    |   not parsed yet
 *
 * A frame that may be answered (a text frame of the request's length, a ping) or whose header
 * is not complete yet is held from <start> until its end decides: answered (dropped) or
 * forwarded. Its bytes never exceed EDGE_HOLD_MAX, so a frame split over reads is carried to
 * the next read in <hold> and put back in front of it, in the headroom left for it.
 * Answers wait in <reply> until the origin's stream is between two frames. */
#define EDGE_HOLD_MAX   (MRD_WS_MAX_HDR + MRD_CFG_WS_AUTO_MAX)
#define EDGE_ANSWER_MAX (MRD_WS_MAX_HDR + MRD_CFG_WS_AUTO_MAX)

struct mrd_tun_edge {
    const char     *req, *rsp;      /* the rule's texts (the tunnel holds their generation) */
    uint32_t        req_len, rsp_len;
    struct mrd_buf *hold;           /* a held frame's first bytes, between two reads */
    struct mrd_buf *reply;          /* frames for the client; NULL when none */
    uint32_t        hold_len;
    uint32_t        in, out, start; /* positions in c->rx, see above */
    uint32_t        hdr_len;        /* the held frame's header bytes */
    uint8_t         mask[4];        /* the held frame's key */
    uint8_t         op;             /* the held frame's opcode */
    bool            in_hdr, cand;   /* a header is incomplete / a frame may be answered */
    bool            parsed;         /* c->rx is parsed to its end (the parser wants more) */
    bool            shut_sent;      /* failed: the origin side was shut */
    uint16_t        fail_code;      /* the client broke the protocol: close code; 0 = fine */
};

struct mrd_tun_edge *mrd_tunnel_edge_new(const struct mrd_cfg_rule *rule)
{
    struct mrd_tun_edge *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->req = rule->websocket.auto_request;
    e->req_len = (uint32_t)rule->websocket.auto_request_len;
    e->rsp = rule->websocket.auto_response;
    e->rsp_len = (uint32_t)rule->websocket.auto_response_len;
    return e;
}

void mrd_tunnel_edge_start(struct mrd_cconn *c, struct mrd_tun_edge *e, uint32_t pos)
{
    e->in = e->out = e->start = pos;
    e->parsed = !c->rx;
    c->tun_edge = e;
}

void mrd_tunnel_edge_free(struct mrd_cconn *c)
{
    struct mrd_tun_edge *e = c->tun_edge;

    if (!e)
        return;
    if (e->hold)
        mrd_buf_put(&c->w->bufs, e->hold);
    if (e->reply)
        mrd_buf_put(&c->w->bufs, e->reply);
    free(e);
    c->tun_edge = NULL;
}

static bool edge_reply_pending(const struct mrd_tun_edge *e)
{
    return e->reply && e->reply->head < e->reply->tail;
}

/* The held frame is complete: answer it (and drop it from the stream) or let it through. */
static void edge_answer(struct mrd_cconn *c, struct mrd_tun_edge *e, struct mrd_buf *b)
{
    struct mrd_worker *w = c->w;
    uint8_t pl[MRD_CFG_WS_AUTO_MAX];
    uint32_t off = e->start + e->hdr_len, len = e->out - off;
    size_t n;

    if (len > sizeof(pl))
        return; /* cannot happen: candidates are at most that long */
    if (!e->reply && !(e->reply = mrd_buf_get(&w->bufs)))
        return; /* no buffer: the frame goes to the origin as it is */
    if (e->reply->head == e->reply->tail)
        e->reply->head = e->reply->tail = 0;
    mrd_ws_unmask(e->mask, 0, pl, (const uint8_t *)b->data + off, len);
    uint8_t *o = (uint8_t *)e->reply->data + e->reply->tail;
    size_t room = MRD_BUF_SIZE - e->reply->tail;
    if (e->op == MRD_WS_OP_PING)
        n = mrd_ws_build_frame(o, room, MRD_WS_OP_PONG, pl, len, NULL);
    else
        n = mrd_ws_auto_response(pl, len, e->req, e->req_len, e->rsp, e->rsp_len, o, room);
    if (!n)
        return; /* not the request text: forwarded */
    e->reply->tail += (uint32_t)n;
    e->out = e->start; /* the origin never sees it */
    c->tun_last_ms = w->loop.now_ms;
    if (c->tun_origin) {
        MRD_CTR_ADD(mrd_origin_ctr(c->tun_origin, w->id)->ws_answered, 1);
        atomic_store_explicit(&c->tun_origin->rt->ws_answered_ms, mrd_rt_wall_ms(),
                              memory_order_relaxed);
    }
}

/* Parses what c->rx holds past <in>, compacting the stream and collecting answers, until the
 * parser wants more bytes (e->parsed). Stops early when the reply buffer has no room for one
 * more answer: false then, the client reads its answers slowly and we wait. */
static bool edge_filter(struct mrd_cconn *c, struct mrd_tun_edge *e, struct mrd_buf *b)
{
    struct mrd_ws_parser *p = &c->tun_p_up;

    for (;;) {
        if (e->reply && MRD_BUF_SIZE - e->reply->tail < EDGE_ANSWER_MAX &&
            e->reply->head < e->reply->tail)
            return false;
        if (mrd_ws_parser_at_boundary(p)) {
            e->start = e->out;
            e->in_hdr = true;
        }
        struct mrd_ws_event ev;
        size_t used = mrd_ws_parse(p, (const uint8_t *)b->data + e->in, b->tail - e->in, &ev);
        if (used) {
            if (e->out != e->in)
                memmove(b->data + e->out, b->data + e->in, used);
            e->out += (uint32_t)used;
            e->in += (uint32_t)used;
        }
        switch (ev.type) {
        case MRD_WS_EV_HEADER:
            e->in_hdr = false;
            e->hdr_len = e->out - e->start;
            e->op = ev.opcode;
            memcpy(e->mask, ev.mask, 4);
            e->cand = ev.opcode == MRD_WS_OP_PING ||
                      (ev.opcode == MRD_WS_OP_TEXT && ev.fin && !ev.rsv && ev.len == e->req_len);
            break;
        case MRD_WS_EV_FRAME_END:
            if (e->cand)
                edge_answer(c, e, b);
            e->cand = false;
            break;
        case MRD_WS_EV_ERROR:
            /* The bad frame goes nowhere; what came before it still reaches the origin. */
            e->fail_code = ev.close_code ? ev.close_code : MRD_WS_CLOSE_PROTOCOL;
            e->out = e->start;
            e->in = b->tail;
            e->cand = e->in_hdr = false;
            mrd_log_info("websocket from %s closed with %u: %s", c->peer_ip, e->fail_code,
                         mrd_ws_strerror(ev.err));
            e->parsed = true;
            return true;
        case MRD_WS_EV_NEED_MORE:
            e->parsed = true;
            return true;
        default:
            break;
        }
    }
}

/* The client broke the protocol: once what came before the bad frame is written, the origin
 * side is shut (it sees the client leave) and the close frame is queued for the client, to be
 * sent between two of the origin's frames. What either peer sends after that is dropped. */
static int edge_fail(struct mrd_cconn *c, struct mrd_tun_edge *e, struct t_dir *c2o)
{
    uint8_t f[MRD_WS_CLOSE_MAX];

    if (e->shut_sent)
        return 0;
    e->shut_sent = true;
    t_shut(c2o);
    size_t n = mrd_ws_build_close(f, sizeof(f), e->fail_code, NULL, NULL);
    if (!e->reply && !(e->reply = mrd_buf_get(&c->w->bufs)))
        return -1;
    if (e->reply->head == e->reply->tail)
        e->reply->head = e->reply->tail = 0;
    if (MRD_BUF_SIZE - e->reply->tail < n)
        return -1; /* cannot happen: the filter keeps room for one answer */
    memcpy(e->reply->data + e->reply->tail, f, n);
    e->reply->tail += (uint32_t)n;
    return 1;
}

/* The client-to-origin direction of an auto_response tunnel (t_dir_pump with the filter). */
static int t_edge_pump(struct mrd_worker *w, struct mrd_cconn *c, struct t_dir *d,
                       uint64_t *bytes)
{
    struct mrd_tun_edge *e = c->tun_edge;
    int progress = 0;

    for (;;) {
        struct mrd_buf *b = c->rx;
        if (b) {
            uint32_t end = (e->cand || e->in_hdr) ? e->start : e->out;
            if (e->fail_code && e->shut_sent)
                b->head = end = e->out = e->in = b->tail; /* dropped: the tunnel is closing */
            if (b->head < end) {
                int r = t_write(d, b, end, bytes);
                if (r <= 0)
                    return r < 0 ? -1 : progress;
                progress = 1;
                continue;
            }
            if (!e->parsed && !e->fail_code) {
                if (!edge_filter(c, e, b))
                    return progress; /* waiting for the client to read its answers */
                continue;
            }
            if (e->cand || e->in_hdr) { /* a frame split over reads: carry its first bytes */
                uint32_t n = e->out - e->start;
                if (n && !e->hold && !(e->hold = mrd_buf_get(&w->bufs)))
                    return -1;
                if (n)
                    memcpy(e->hold->data, b->data + e->start, n);
                e->hold_len = n;
            }
            mrd_buf_put(&w->bufs, b);
            c->rx = NULL;
        }
        if (e->fail_code) {
            int r = edge_fail(c, e, d);
            if (r < 0)
                return -1;
            progress |= r;
        }
        if (*d->rd_eof) /* pass the close on (the bytes of a frame cut short are not) */
            return t_shut(d) | progress;
        if (!*d->rd_ready)
            return progress;
        if (!(b = mrd_buf_get(&w->bufs)))
            return -1;
        c->rx = b;
        uint32_t base = EDGE_HOLD_MAX, h = e->hold_len;
        if (h) { /* the split frame's first bytes go back in front of the rest */
            memcpy(b->data + base - h, e->hold->data, h);
            e->hold_len = 0;
        }
        if (e->hold) {
            mrd_buf_put(&w->bufs, e->hold);
            e->hold = NULL;
        }
        e->start = base - h;
        e->parsed = false;
        b->head = base - h;
        e->out = e->in = base;
        ssize_t n = t_read(d, b, base);
        if (n < 0)
            return -1;
        if (n > 0)
            progress = 1;
    }
}

/* Writes the gateway's answers to the client, only between two of the origin's frames and
 * with nothing of the origin's pending. 1 all written, 0 not now (blocked or mid-frame),
 * -1 broken. After a failure's close frame, the client side is shut. */
static int t_edge_flush(struct mrd_cconn *c, struct t_dir *d)
{
    struct mrd_tun_edge *e = c->tun_edge;

    if (!edge_reply_pending(e))
        return 1;
    if (!mrd_ws_parser_at_boundary(d->ws) || *d->wr_blocked)
        return 0;
    while (e->reply->head < e->reply->tail) {
        int r = t_write(d, e->reply, e->reply->tail, NULL);
        if (r <= 0)
            return r;
    }
    mrd_buf_put(&c->w->bufs, e->reply);
    e->reply = NULL;
    if (e->fail_code && e->shut_sent)
        t_shut(d);
    return 1;
}

/* Feeds what was read to the direction's frame tracker. A stream it cannot follow (the peers
 * agreed on something it does not know) just stops close injection; bytes pass unchanged. */
void mrd_tunnel_track(struct mrd_ws_parser *p, const uint8_t *b, size_t n)
{
    struct mrd_ws_event ev;
    for (;;) { /* until every byte is used and the last frame's end is reported */
        size_t used = mrd_ws_parse(p, b, n, &ev);
        if (ev.type == MRD_WS_EV_ERROR || ev.type == MRD_WS_EV_NEED_MORE)
            return;
        b += used;
        n -= used;
    }
}

/* Moves what can be moved in one direction. 1 progress, 0 none, -1 the tunnel is broken. */
static int t_dir_pump(struct mrd_worker *w, struct t_dir *d, uint64_t *bytes)
{
    int progress = 0;
    for (;;) {
        struct mrd_buf *b = *d->buf;
        if (b && b->head < b->tail) {
            int r = t_write(d, b, b->tail, bytes);
            if (r <= 0)
                return r < 0 ? -1 : progress;
            progress = 1;
            continue;
        }
        if (b) { /* everything written: hibernate this direction */
            mrd_buf_put(&w->bufs, b);
            *d->buf = NULL;
        }
        if (d->edge_out && edge_reply_pending(d->c->tun_edge)) {
            int r = t_edge_flush(d->c, d);
            if (r < 0)
                return -1;
            if (r > 0)
                progress = 1;
            else if (mrd_ws_parser_at_boundary(d->ws))
                return progress; /* blocked between frames: the answers go first */
            /* else mid-frame: relay on until the frame's end */
        }
        if (*d->rd_eof)
            return t_shut(d) | progress; /* pass the close on */
        if (!*d->rd_ready)
            return progress;
        b = mrd_buf_get(&w->bufs);
        if (!b)
            return -1;
        *d->buf = b;
        b->head = 0;
        ssize_t n = t_read(d, b, 0);
        if (n < 0)
            return -1;
        if (n == 0)
            continue;
        mrd_tunnel_track(d->ws, (const uint8_t *)b->data, (size_t)n);
        if (*d->shut && d->edge_out)
            b->head = b->tail; /* the gateway closed this side: the rest is dropped */
        progress = 1;
    }
}

int mrd_tunnel_pump(struct mrd_cconn *c)
{
    struct mrd_uconn *u = c->u;
    struct mrd_worker *w = c->w;
    uint64_t up_bytes = 0, down_bytes = 0;
    struct mrd_tun_edge *e = c->tun_edge;
    struct t_dir c2o = { c->io.fd, u->io.fd, c->tls, u->tls, &c->rd_ready, &c->eof, &c->rdhup,
                         &u->wr_blocked, &c->tun_shut_up, &c->rx, &c->tun_p_up, c, false };
    struct t_dir o2c = { u->io.fd, c->io.fd, u->tls, c->tls, &u->rd_ready, &u->eof, &u->rdhup,
                         &c->wr_blocked, &c->tun_shut_down, &u->rx, &c->tun_p_down, c, e != NULL };

    for (int rounds = 0; rounds < 64; rounds++) {
        int a = e ? t_edge_pump(w, c, &c2o, &up_bytes) : t_dir_pump(w, &c2o, &up_bytes);
        int b = t_dir_pump(w, &o2c, &down_bytes);
        if (a < 0 || b < 0)
            return -1;
        if (!a && !b)
            break;
    }
    if (up_bytes || down_bytes)
        c->tun_last_ms = w->loop.now_ms;
    c->tun_bytes_up += up_bytes;
    c->tun_bytes_down += down_bytes;
    /* both sides closed and everything passed on: the tunnel is over */
    if (c->eof && u->eof && c->tun_shut_up && c->tun_shut_down)
        return -1;
    /* the gateway closed a tunnel whose client broke the protocol: the client's end is enough */
    if (e && e->fail_code && c->eof && c->tun_shut_down)
        return -1;
    return 0;
}

/* A close frame (RFC 6455 5.5.1) with <code>; masked (toward an origin) or not. */
static size_t t_close_frame(uint8_t *o, uint16_t code, bool masked, uint64_t *rng)
{
    o[0] = 0x88;
    o[1] = (uint8_t)(2 | (masked ? 0x80 : 0));
    uint8_t p[2] = { (uint8_t)(code >> 8), (uint8_t)code };
    if (!masked) {
        o[2] = p[0];
        o[3] = p[1];
        return 4;
    }
    uint64_t x = *rng ^ (*rng << 13);
    *rng = x ^ (x >> 7) ^ (x << 17);
    memcpy(o + 2, &x, 4);
    o[6] = p[0] ^ o[2];
    o[7] = p[1] ^ o[3];
    return 8;
}

bool mrd_tunnel_close_with(struct mrd_cconn *c, uint16_t code)
{
    struct mrd_uconn *u = c->u;
    uint8_t f[8];

    /* Only between frames: nothing pending either way, and both streams at a frame boundary
     * (a frame split over reads has nothing pending while half sent). */
    if (!u || c->rx || u->rx || c->tun_shut_down || c->tun_shut_up || c->tun_closing ||
        (c->tun_edge && (edge_reply_pending(c->tun_edge) || c->tun_edge->hold_len)) ||
        !mrd_ws_parser_at_boundary(&c->tun_p_up) || !mrd_ws_parser_at_boundary(&c->tun_p_down))
        return false;
    c->tun_closing = true;
    struct iovec iov = { f, t_close_frame(f, code, false, &c->w->rng) };
    if (mrd_io_writev(c->io.fd, c->tls, &iov, 1) != (ssize_t)iov.iov_len)
        return false;
    iov.iov_len = t_close_frame(f, code, true, &c->w->rng);
    if (mrd_io_writev(u->io.fd, u->tls, &iov, 1) != (ssize_t)iov.iov_len)
        return false;
    /* Nothing more goes either way; the peers' answers end the tunnel (or the idle timer). */
    if (c->tls)
        mrd_tls_shutdown(c->tls);
    if (u->tls)
        mrd_tls_shutdown(u->tls);
    shutdown(c->io.fd, SHUT_WR);
    shutdown(u->io.fd, SHUT_WR);
    c->tun_shut_up = c->tun_shut_down = true;
    c->tun_last_ms = c->w->loop.now_ms;
    return true;
}
