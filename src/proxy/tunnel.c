/* WebSocket tunnels: after the origin's 101 the two connections relay bytes unchanged, each
 * direction with its own buffer and backpressure (a side reads only once what it read has
 * been written). A buffer is taken from the worker's pool when bytes arrive and given back
 * as soon as they have been written, so an idle tunnel ("hibernated") holds no buffer: only
 * its two sockets and the connection structs. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "health/state.h"
#include "proxy/conn.h"
#include "proxy/proxy.h"

/* One direction of a tunnel. */
struct t_dir {
    int              rfd, wfd;
    bool            *rd_ready, *rd_eof, *rdhup, *wr_blocked, *shut;
    struct mrd_buf **buf;
};

/* Moves what can be moved in one direction. 1 progress, 0 none, -1 the tunnel is broken. */
static int t_dir_pump(struct mrd_worker *w, struct t_dir *d, uint64_t *bytes)
{
    int progress = 0;
    for (;;) {
        struct mrd_buf *b = *d->buf;
        if (b && b->head < b->tail) {
            if (*d->wr_blocked)
                return progress;
            ssize_t n = write(d->wfd, b->data + b->head, b->tail - b->head);
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
        ssize_t n = read(d->rfd, b->data, MRD_BUF_SIZE);
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
        if ((size_t)n < MRD_BUF_SIZE && !*d->rdhup)
            *d->rd_ready = false; /* drained: the next edge will tell */
        progress = 1;
    }
}

int mrd_tunnel_pump(struct mrd_cconn *c)
{
    struct mrd_uconn *u = c->u;
    struct mrd_worker *w = c->w;
    uint64_t up_bytes = 0, down_bytes = 0;
    struct t_dir c2o = { c->io.fd, u->io.fd, &c->rd_ready, &c->eof, &c->rdhup, &u->wr_blocked,
                         &c->tun_shut_up, &c->rx };
    struct t_dir o2c = { u->io.fd, c->io.fd, &u->rd_ready, &u->eof, &u->rdhup, &c->wr_blocked,
                         &c->tun_shut_down, &u->rx };

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

    /* Only between frames: with bytes still pending either way a frame may be half sent. */
    if (!u || c->rx || u->rx || c->tun_shut_down || c->tun_shut_up || c->tun_closing)
        return false;
    c->tun_closing = true;
    size_t n = t_close_frame(f, code, false, &c->w->rng);
    if (write(c->io.fd, f, n) != (ssize_t)n)
        return false;
    n = t_close_frame(f, code, true, &c->w->rng);
    if (write(u->io.fd, f, n) != (ssize_t)n)
        return false;
    /* Nothing more goes either way; the peers' answers end the tunnel (or the idle timer). */
    shutdown(c->io.fd, SHUT_WR);
    shutdown(u->io.fd, SHUT_WR);
    c->tun_shut_up = c->tun_shut_down = true;
    c->tun_last_ms = c->w->loop.now_ms;
    return true;
}
