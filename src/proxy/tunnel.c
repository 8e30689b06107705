/* WebSocket tunnels: after the origin's 101 the two connections relay bytes unchanged, each
 * direction with its own buffer and backpressure (a side reads only once what it read has
 * been written). A buffer is taken from the worker's pool when bytes arrive and given back
 * as soon as they have been written, so an idle tunnel ("hibernated") holds no buffer: only
 * its two sockets and the connection structs. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

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
};

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
            if (*d->wr_blocked)
                return progress;
            struct iovec iov = { b->data + b->head, b->tail - b->head };
            ssize_t n = mrd_io_writev(d->wfd, d->wt, &iov, 1);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    *d->wr_blocked = true;
                    return progress;
                }
                return -1;
            }
            b->head += (uint32_t)n;
            *bytes += (uint64_t)n;
            progress = 1;
            continue;
        }
        if (b) { /* everything written: hibernate this direction */
            mrd_buf_put(&w->bufs, b);
            *d->buf = NULL;
        }
        if (*d->rd_eof) {
            if (!*d->shut) {
                if (d->wt)
                    mrd_tls_shutdown(d->wt);
                shutdown(d->wfd, SHUT_WR); /* pass the close on */
                *d->shut = true;
                progress = 1;
            }
            return progress;
        }
        if (!*d->rd_ready)
            return progress;
        b = mrd_buf_get(&w->bufs);
        if (!b)
            return -1;
        *d->buf = b;
        ssize_t n = mrd_io_read(d->rfd, d->rt, b->data, MRD_BUF_SIZE);
        b->head = 0;
        b->tail = n > 0 ? (uint32_t)n : 0;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                *d->rd_ready = false;
                continue;
            }
            return -1;
        }
        if (n == 0) {
            *d->rd_eof = true;
            *d->rd_ready = false;
            continue;
        }
        mrd_tunnel_track(d->ws, (const uint8_t *)b->data, (size_t)n);
        if ((size_t)n < MRD_BUF_SIZE && !*d->rdhup && !d->rt)
            *d->rd_ready = false; /* drained: the next edge will tell */
        progress = 1;
    }
}

int mrd_tunnel_pump(struct mrd_cconn *c)
{
    struct mrd_uconn *u = c->u;
    struct mrd_worker *w = c->w;
    uint64_t up_bytes = 0, down_bytes = 0;
    struct t_dir c2o = { c->io.fd, u->io.fd, c->tls, u->tls, &c->rd_ready, &c->eof, &c->rdhup,
                         &u->wr_blocked, &c->tun_shut_up, &c->rx, &c->tun_p_up };
    struct t_dir o2c = { u->io.fd, c->io.fd, u->tls, c->tls, &u->rd_ready, &u->eof, &u->rdhup,
                         &c->wr_blocked, &c->tun_shut_down, &u->rx, &c->tun_p_down };

    for (int rounds = 0; rounds < 64; rounds++) {
        int a = t_dir_pump(w, &c2o, &up_bytes);
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
