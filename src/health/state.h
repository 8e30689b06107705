/* Runtime state that outlives config generations: per origin health, admin overrides, load
 * and counters; per pool latency; per load balancer retry accounting and histograms.
 * Matched across reloads by name ("pool/origin", "pool", "lb"). The control thread writes
 * health and overrides; workers read them with relaxed atomics and update load and their
 * own counter slot. */
#ifndef MRD_HEALTH_STATE_H
#define MRD_HEALTH_STATE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config-t.h"
#include "ws/ws.h"

#define MRD_MAX_WORKERS 256 /* server.workers upper bound */
#define MRD_PROBE_HISTORY 5  /* last probes kept per origin for /v1/pools */

struct mrd_probe_result {
    uint64_t ts_ms;      /* wall clock, ms since the epoch */
    bool     ok;
    int      status;     /* HTTP status, 0 for tcp or no answer */
    double   rtt_ms;
    char     error[64];  /* "" when ok */
};

/* Counters one worker keeps for one origin; read (summed) by /metrics. Only the owning worker
 * writes its slot, so increments are relaxed load+store, never locked. */
struct mrd_origin_ctr {
    uint64_t req_by_class[6];   /* [1..5] = 1xx..5xx answered by this origin; [0] = no answer */
    uint64_t err_connect, err_timeout, err_reset, err_protocol;
    uint64_t retries;
    uint64_t ws_answered; /* WebSocket frames answered by the gateway (auto_response, pongs) */
} __attribute__((aligned(64)));

enum mrd_upstream_err { MRD_UERR_CONNECT, MRD_UERR_TIMEOUT, MRD_UERR_RESET, MRD_UERR_PROTOCOL };

struct mrd_origin_rt {
    char           *key;       /* "pool/origin", malloc'ed */
    char           *pool_name, *name; /* point into key copies */
    unsigned        refs;      /* registry lock */
    struct mrd_origin_rt *next; /* registry chain */
    /* admin overrides; written by the control thread */
    atomic_int      admin_enabled; /* -1 = as configured, 0 or 1 */
    atomic_int      admin_weight;  /* -1 = as configured, else 0..1000000 */
    atomic_bool     draining;      /* no new requests or sessions; pinned ones finish */
    /* active health (monitor); healthy until probes say otherwise */
    atomic_bool     mon_healthy;
    uint32_t        mon_ok_run, mon_fail_run; /* control thread only */
    /* passive health; written by workers */
    atomic_uint     passive_fails;  /* consecutive connect errors / timeouts (/5xx if counted) */
    atomic_uint     ejections;      /* consecutive ejections: the n of n x base */
    atomic_uint_fast64_t ejected_until_ms; /* monotonic ms; 0 = not ejected */
    /* load, across every worker */
    atomic_int      in_flight;      /* requests sent or being sent to it */
    atomic_int      tunnels;        /* open WebSocket tunnels */
    atomic_uint_fast64_t ws_answered_ms; /* wall ms of the gateway's last answer on one of
                                          * its tunnels (auto_response): liveness; 0 = never */
    atomic_uint_fast64_t rtt_ewma_us; /* probe RTT / live time to first byte; 0 = no data */
    struct mrd_tls_client_ctx *tls_ctx; /* tls origins: the client context (one reference) */
    /* why: last probes and the last transition reason; under lock */
    pthread_mutex_t lock;
    struct mrd_probe_result probes[MRD_PROBE_HISTORY];
    unsigned        n_probes, probe_head;
    char            reason[128];
    double          probe_last_ms;  /* for meridian_health_probe_duration_seconds */
    uint64_t        probe_sum_us, probe_count;
    struct mrd_origin_ctr ctr[MRD_MAX_WORKERS];
};

struct mrd_pool_rt {
    char           *name;
    unsigned        refs;
    struct mrd_pool_rt *next;
    atomic_uint_fast64_t rtt_ewma_us; /* dynamic_latency: 0 = no data yet */
    atomic_bool     healthy_last;     /* last published state, for events */
};

#define MRD_HIST_BUCKETS 12 /* request duration histogram: 5ms .. 10s, +Inf */
extern const double mrd_hist_bounds_s[MRD_HIST_BUCKETS - 1];

struct mrd_lb_ctr {
    uint64_t hist[MRD_HIST_BUCKETS]; /* not cumulative; /metrics makes them so */
    uint64_t sum_us, count;
    struct mrd_ws_pacer close_pacer; /* websocket.on_origin_down: this worker's 1012 closes */
    uint32_t close_pacer_rate;       /* the rate it was set up for; 0 = not yet */
} __attribute__((aligned(64)));

struct mrd_lb_rt {
    char           *name;
    unsigned        refs;
    struct mrd_lb_rt *next;
    atomic_int      active;         /* requests in progress (retry budget base) */
    atomic_int      active_retries; /* retries in progress */
    struct mrd_lb_ctr ctr[MRD_MAX_WORKERS];
};

/* Gives every pool, origin and load balancer of <cfg> its runtime state, reusing the one of
 * the same name from earlier generations, and applies admin overrides that still match.
 * Called once per generation before it is published. 0 or -ENOMEM. */
int mrd_rt_bind(struct mrd_cfg *cfg);
/* Drops the generation's references (states no generation names any more are freed).
 * Called from mrd_cfg_unref's last reference. */
void mrd_rt_unbind(struct mrd_cfg *cfg);

/* Monotonic ms and wall-clock ms (tests may replace the clock). */
uint64_t mrd_rt_now_ms(void);
uint64_t mrd_rt_wall_ms(void);

/* The effective weight and enabled flag (admin override, else config). */
uint32_t mrd_origin_weight(const struct mrd_cfg_origin *o);
bool mrd_origin_enabled(const struct mrd_cfg_origin *o);
/* Healthy: monitor says up and not passively ejected at <now_ms>. */
bool mrd_origin_healthy(const struct mrd_cfg_origin *o, uint64_t now_ms);
/* Takes new traffic: enabled, weight > 0, not draining, healthy. */
bool mrd_origin_usable(const struct mrd_cfg_origin *o, uint64_t now_ms);
/* Below max_in_flight (or unlimited). */
bool mrd_origin_has_room(const struct mrd_cfg_origin *o);
/* Healthy origins (enabled, not draining) >= minimum_origins. */
bool mrd_pool_healthy(const struct mrd_cfg_pool *p, uint64_t now_ms);

/* Passive health, from a worker: an upstream attempt to <o> ended with <kind> (or with a 5xx
 * when <is_5xx>); may eject <o> unless it is the last healthy origin of <p>. */
void mrd_passive_error(const struct mrd_cfg_pool *p, const struct mrd_cfg_origin *o,
                       enum mrd_upstream_err kind, bool is_5xx, uint64_t now_ms);
/* A good answer resets the error run (and the back-off once the ejection has passed). */
void mrd_passive_ok(const struct mrd_cfg_origin *o);

/* Live time to first byte (and probe RTT) into the origin's and its pool's EWMA. */
void mrd_rt_latency_sample(const struct mrd_cfg_pool *p, const struct mrd_cfg_origin *o,
                           uint64_t us);

/* Counter slot of worker <wid> (0-based) for <o>. */
static inline struct mrd_origin_ctr *mrd_origin_ctr(const struct mrd_cfg_origin *o, int wid);
/* Relaxed single-writer increment. */
#define MRD_CTR_ADD(field, n) \
    __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)

/* Events (/v1/events): a bounded ring of the last 1024, any thread. */
void mrd_event(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes the events newer than <since_seq> as a JSON array into <out> (malloc'ed). */
struct mrd_event_rec {
    uint64_t seq, ts_ms;
    char     kind[24];
    char     msg[200];
};
/* Copies up to <max> most recent events, oldest first; returns the count. */
size_t mrd_events_copy(struct mrd_event_rec *out, size_t max);

/* The config generation the control thread serves (admin reads it); refs held by caller. */
struct mrd_cfg *mrd_rt_current_cfg(void);
void mrd_rt_set_current_cfg(struct mrd_cfg *cfg);

#include "health/state-inl.h"
#endif
