/* Client and upstream connections and the per-connection pump that moves bytes between them. */
#ifndef MRD_PROXY_CONN_H
#define MRD_PROXY_CONN_H
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/list.h"
#include "core/loop.h"
#include "http/h1.h"
#include "proxy/txn.h"
#include "ws/ws.h"

struct mrd_worker;
struct mrd_upool;
struct mrd_cconn;
struct mrd_tls_conn;
struct mrd_tls_server;

struct mrd_uconn {
    struct mrd_io      io;
    struct mrd_worker *w;
    struct mrd_upool  *up;        /* borrowed; pools outlive connections */
    struct mrd_list    link;      /* in up->idle while idle */
    struct mrd_timer   timer;     /* idle expiry while pooled */
    struct mrd_cconn  *c;         /* owner while busy; NULL while idle */
    struct mrd_buf    *rx;        /* owned; NULL while idle */
    uint32_t           parse_pos; /* response bytes parsed up to */
    uint32_t           fwd_pos;   /* response body bytes sent to the client up to */
    struct mrd_h1_msg  rsp;
    uint64_t           connect_start;
    bool               connecting, reused, rd_ready, got_bytes, eof, keep;
    bool               head_held; /* final head parsed, not yet sent on */
    bool               rdhup;     /* peer's FIN is queued: read to EOF, not to a short read */
    bool               sent;      /* a byte of the current request reached the socket */
    bool               connect_failed; /* the connect itself failed (nothing was sent) */
    int                connect_err;
    bool               wr_blocked; /* tunnels: the socket said EAGAIN on write */
    struct mrd_tls_conn *tls;     /* HTTPS origin; NULL = plain */
    bool               hs;        /* TLS handshake still under way */
    const char        *tls_why;   /* why the handshake failed (the owner's arena) */
    uint32_t           n_served;  /* requests sent on this connection before the current one */
};

struct mrd_cconn {
    struct mrd_io           io;
    struct mrd_worker      *w;
    struct mrd_list         link;      /* in w->conns */
    struct mrd_list         flush_link; /* in w->flush while writes wait for the batch end */
    struct mrd_timer        timer;
    struct mrd_buf         *rx;        /* owned; NULL while idle */
    uint32_t                parse_pos; /* request bytes parsed up to */
    uint32_t                fwd_pos;   /* request body bytes sent upstream up to */
    struct mrd_h1_msg       req;
    struct mrd_arena        arena;     /* per transaction; the first chunk is kept */
    struct mrd_h1_hdr      *req_hdrs, *rsp_hdrs; /* arena */
    char                    peer_ip[INET6_ADDRSTRLEN];
    struct sockaddr_storage peer;      /* as accepted; matched against trusted_proxies */
    char                   *cout;      /* bytes for the client: heads, local responses */
    uint32_t                cout_len, cout_off;
    char                   *uout;      /* request head for the origin */
    uint32_t                uout_len, uout_off;
    struct mrd_uconn       *u;         /* owned while set */
    struct mrd_txn          txn;
    uint64_t                head_start_ms, last_rd_ms, last_up_ms, last_wr_ms;
    bool in_txn, rd_ready, wr_blocked, eof, close_after, lingering, rdhup;
    bool req_done, rsp_started, rsp_done, local, head_req;
    uint32_t                body_start;    /* where the request body begins in rx */
    bool                    body_recycled; /* rx was reused under the body: it cannot be replayed */
    bool                    stale_replayed; /* the one free replay of a stale pooled connection */
    struct mrd_tls_conn    *tls;       /* TLS listener; NULL = plain */
    bool                    hs;        /* TLS handshake still under way */
    /* WebSocket: the upgrade was validated and goes to the origin; then the tunnel */
    bool                    ws_upgrade, tunnel, tun_shut_up, tun_shut_down, tun_closing;
    struct mrd_wgen        *tun_gen;    /* one reference while the tunnel lives */
    const struct mrd_cfg_origin *tun_origin; /* counts this tunnel in its rt->tunnels */
    const struct mrd_cfg_lb *tun_lb;
    struct mrd_list         tun_link;   /* in w->tunnels */
    uint64_t                tun_last_ms, tun_bytes_up, tun_bytes_down;
    /* frame boundaries of each direction, so a close frame is injected only between frames */
    struct mrd_ws_parser    tun_p_up, tun_p_down;
    /* rules[].websocket.auto_response: the gateway answers some client frames itself */
    struct mrd_tun_edge    *tun_edge;   /* NULL on other routes */
};

/* read(2) / writev(2) on a socket, through TLS when <t> is set: -1 with errno on failure. */
ssize_t mrd_io_read(int fd, struct mrd_tls_conn *t, void *buf, size_t len);
struct iovec;
ssize_t mrd_io_writev(int fd, struct mrd_tls_conn *t, const struct iovec *iov, int n);

/* Tunnel mode (tunnel.c): moves bytes both ways; -1 when the tunnel is over or broken. */
int mrd_tunnel_pump(struct mrd_cconn *c);
/* Feeds bytes of one direction to its frame-boundary tracker. */
void mrd_tunnel_track(struct mrd_ws_parser *p, const uint8_t *b, size_t n);
/* rules[].websocket.auto_response on a tunnel about to open: the client's frames are parsed
 * (and those already in c->rx from <pos>). Allocates a small struct; NULL when out of memory. */
struct mrd_tun_edge *mrd_tunnel_edge_new(const struct mrd_cfg_rule *rule);
void mrd_tunnel_edge_start(struct mrd_cconn *c, struct mrd_tun_edge *e, uint32_t pos);
/* Gives back the edge state and its buffers (the tunnel is being freed). */
void mrd_tunnel_edge_free(struct mrd_cconn *c);
/* Sends close frames with <code> both ways (1001 going away, 1012 service restart) when no
 * frame is half relayed; false when that is not the case now (try again later). */
bool mrd_tunnel_close_with(struct mrd_cconn *c, uint16_t code);

/* Takes over an accepted socket. */
void mrd_conn_accept(struct mrd_worker *w, int fd, const struct sockaddr_storage *peer,
                     struct mrd_tls_server *tls);
/* Closes idle client connections and marks busy ones to close after their response. */
void mrd_conn_drain(struct mrd_worker *w, bool fast);
/* Closes every connection now (end of a drain deadline). */
void mrd_conn_close_all(struct mrd_worker *w);
/* Runs the writes held during the event batch. */
void mrd_conn_flush(struct mrd_worker *w);
/* Frees connections closed during the last event batch. */
void mrd_conn_reap(struct mrd_worker *w);
/* Closes every idle upstream connection of <w>. */
void mrd_conn_close_idle_upstreams(struct mrd_worker *w);
/* Opens connections to <up> until it holds <min_idle> idle or connecting ones (warm pool).
 * Opens at most <budget> now; returns how many it opened. */
int mrd_conn_warm(struct mrd_worker *w, struct mrd_upool *up, uint32_t min_idle, int budget);
/* Closes every idle connection of <up> (its TLS context changed). */
void mrd_upool_close_idle(struct mrd_upool *up);
#endif
/* Closes every idle connection of <up> (its TLS context changed). */
void mrd_upool_close_idle(struct mrd_upool *up);
