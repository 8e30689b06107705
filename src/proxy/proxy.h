/* The proxy core: worker threads, client and upstream connections, the phase driver. */
#ifndef MRD_PROXY_H
#define MRD_PROXY_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config-t.h"
#include "core/buf.h"
#include "core/list.h"
#include "core/loop.h"

/* Per-worker view of one config generation. Only its worker touches it, so the reference
 * count is a plain integer: requests take one, the worker holds one while current. */
struct mrd_wgen {
    struct mrd_cfg    *cfg;        /* holds one cfg reference */
    unsigned           refs;
    uint32_t          *pool_base;  /* flat index of each pool's first origin */
    int64_t           *rr_current; /* smooth weighted round robin state, per flat origin */
    struct mrd_upool **upools;     /* per flat origin; owned by the worker, survive reloads */
};

/* Idle keep-alive connections to one origin address (per worker). Matched across reloads
 * by pool name, origin name and address. */
struct mrd_upool {
    struct mrd_list         link;   /* in worker->upools */
    char                   *key;    /* "pool/origin/address", malloc'ed */
    struct sockaddr_storage ss;
    socklen_t               sslen;
    struct mrd_list         idle;   /* struct mrd_uconn.link */
    uint32_t                n_idle;
    uint32_t                max_idle;
    uint64_t                idle_timeout_ms;
    uint32_t                min_idle;   /* warm connections to keep (keepalive.min_idle) */
    bool                    warm;       /* the origin is usable: keep min_idle open */
    uint64_t                warm_backoff_ms, warm_next_ms; /* after failed warm connects */
    struct mrd_tls_client_ctx *tls_ctx; /* HTTPS origin: one reference; NULL = plain */
    char                   *tls_name;   /* SNI and the name verified */
};

struct mrd_listener {
    struct mrd_io io;
    struct mrd_worker *w;
};

struct mrd_worker {
    int                  id;
    pthread_t            thread;
    struct mrd_loop      loop;
    struct mrd_buf_pool  bufs;
    struct mrd_wgen     *gen;          /* current generation */
    struct mrd_listener *listeners;
    int                  n_listeners;
    struct mrd_list      conns;        /* client connections */
    struct mrd_list      tunnels;      /* client connections in WebSocket tunnel mode */
    uint32_t             n_tunnels;
    uint32_t             orphan_ticks; /* ticks since the last full scan for 1012 closes */
    uint32_t             n_conns;
    uint32_t             max_conns;
    struct mrd_list      upools;
    struct mrd_list      flush;        /* client connections with writes held for the batch end */
    int                  defer_writes; /* 1 while events are dispatched: writes are batched so
                                        * peers wake once per burst, not once per request */
    struct mrd_list      dead_c, dead_u; /* closed client/upstream connections, freed after
                                          * the event batch (events may still name them) */
    /* mailbox from the control thread */
    struct mrd_io        mbox_io;      /* eventfd */
    pthread_mutex_t      mbox_lock;
    struct mrd_cfg      *mbox_cfg;     /* new generation to adopt, one ref */
    int                  mbox_drain;   /* 1 = SIGTERM, 2 = SIGINT */
    int                  draining;
    atomic_bool          done;         /* set when the worker has left its loop and cleaned up */
    uint64_t             drain_deadline;
    struct mrd_timer     tick;         /* access log flush, drain checks */
    /* access log */
    int                  alog_fd;      /* -1 = off */
    char                *alog_buf;
    uint32_t             alog_len;
    /* request ids */
    uint64_t             rid_prefix, rid_seq;
    uint64_t             rng;          /* xorshift state for steering */
};

/* Drops one reference on a worker's generation view; frees it (and its cfg reference) at 0. */
void mrd_wgen_put(struct mrd_wgen *g);

/* Starts <n> workers on <cfg> with listening sockets fds[w * n_listen + i]. 0 or -errno. */
int mrd_workers_start(struct mrd_worker *ws, int n, struct mrd_cfg *cfg, int *fds, int n_listen,
                      int alog_fd);
/* Hands a new generation to every worker (each takes its own reference). */
void mrd_workers_publish(struct mrd_worker *ws, int n, struct mrd_cfg *cfg);
/* Asks every worker to drain: 1 graceful (SIGTERM), 2 fast (SIGINT). */
void mrd_workers_drain(struct mrd_worker *ws, int n, int how);
void mrd_workers_join(struct mrd_worker *ws, int n);
/* 1 once every worker has finished (a drain ended); never blocks. */
int mrd_workers_done(struct mrd_worker *ws, int n);

/* Creates a listening socket for <addr> with SO_REUSEPORT. fd or -errno. */
int mrd_listen_socket(const struct mrd_cfg_addr *addr);
#endif
