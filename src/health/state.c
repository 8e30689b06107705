/* Runtime state registries and the health predicates the data path asks on every request.
 * The registries are touched only when a generation is bound or freed (control thread, or
 * the worker dropping the last reference), under one mutex. */
#include "health/state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "lb/policy.h"
#include "tls/tls.h"

const double mrd_hist_bounds_s[MRD_HIST_BUCKETS - 1] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mrd_origin_rt *origins_head;
static struct mrd_pool_rt *pools_head;
static struct mrd_lb_rt *lbs_head;

uint64_t mrd_rt_now_ms(void)
{
    return mrd_clock_ms();
}

uint64_t mrd_rt_wall_ms(void)
{
    return mrd_clock_wall_us() / 1000;
}

static struct mrd_origin_rt *origin_rt_get(const char *pool, const char *name)
{
    size_t pl = strlen(pool), nl = strlen(name);
    for (struct mrd_origin_rt *r = origins_head; r; r = r->next)
        if (!strncmp(r->key, pool, pl) && r->key[pl] == '/' && !strcmp(r->key + pl + 1, name)) {
            r->refs++;
            return r;
        }
    struct mrd_origin_rt *r = calloc(1, sizeof(*r));
    char *key = malloc(pl + nl + 2);
    char *copy = malloc(pl + nl + 2);
    if (!r || !key || !copy) {
        free(r);
        free(key);
        free(copy);
        return NULL;
    }
    snprintf(key, pl + nl + 2, "%s/%s", pool, name);
    memcpy(copy, key, pl + nl + 2);
    copy[pl] = '\0';
    r->key = key;
    r->pool_name = copy;
    r->name = copy + pl + 1;
    r->refs = 1;
    atomic_init(&r->admin_enabled, -1);
    atomic_init(&r->admin_weight, -1);
    atomic_init(&r->mon_healthy, true); /* healthy until probes say otherwise */
    pthread_mutex_init(&r->lock, NULL);
    r->next = origins_head;
    origins_head = r;
    return r;
}

static void origin_rt_put(struct mrd_origin_rt *r)
{
    if (!r || --r->refs)
        return;
    for (struct mrd_origin_rt **p = &origins_head; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    pthread_mutex_destroy(&r->lock);
    mrd_tls_client_ctx_unref(r->tls_ctx);
    free(r->key);
    free(r->pool_name);
    free(r);
}

#define RT_GET(type, head, nm)                                                                     \
    do {                                                                                           \
        for (struct type *r = head; r; r = r->next)                                                \
            if (!strcmp(r->name, nm)) {                                                            \
                r->refs++;                                                                         \
                return r;                                                                          \
            }                                                                                      \
        struct type *r = calloc(1, sizeof(*r));                                                    \
        if (!r || !(r->name = strdup(nm))) {                                                       \
            free(r);                                                                               \
            return NULL;                                                                           \
        }                                                                                          \
        r->refs = 1;                                                                               \
        r->next = head;                                                                            \
        head = r;                                                                                  \
        return r;                                                                                  \
    } while (0)

#define RT_PUT(type, head, x)                                                                      \
    do {                                                                                           \
        if (!(x) || --(x)->refs)                                                                   \
            return;                                                                                \
        for (struct type **p = &head; *p; p = &(*p)->next)                                         \
            if (*p == (x)) {                                                                       \
                *p = (x)->next;                                                                    \
                break;                                                                             \
            }                                                                                      \
        free((x)->name);                                                                           \
        free(x);                                                                                   \
    } while (0)

static struct mrd_pool_rt *pool_rt_get(const char *name)
{
    RT_GET(mrd_pool_rt, pools_head, name);
}

static void pool_rt_put(struct mrd_pool_rt *x)
{
    RT_PUT(mrd_pool_rt, pools_head, x);
}

static struct mrd_lb_rt *lb_rt_get(const char *name)
{
    RT_GET(mrd_lb_rt, lbs_head, name);
}

static void lb_rt_put(struct mrd_lb_rt *x)
{
    RT_PUT(mrd_lb_rt, lbs_head, x);
}

static void unbind_locked(struct mrd_cfg *cfg)
{
    if (cfg->tls_servers) {
        for (size_t i = 0; i < cfg->server.n_listen; i++)
            mrd_tls_server_unref(cfg->tls_servers[i]);
        free(cfg->tls_servers);
        cfg->tls_servers = NULL;
    }
    for (size_t i = 0; i < cfg->n_pools; i++) {
        struct mrd_cfg_pool *p = &cfg->pools[i];
        for (size_t j = 0; j < p->n_origins; j++) {
            mrd_tls_client_ctx_unref(p->origins[j].tls_ctx);
            p->origins[j].tls_ctx = NULL;
            origin_rt_put(p->origins[j].rt);
            p->origins[j].rt = NULL;
        }
        pool_rt_put(p->rt);
        p->rt = NULL;
    }
    for (size_t i = 0; i < cfg->n_lbs; i++) {
        lb_rt_put(cfg->lbs[i].rt);
        cfg->lbs[i].rt = NULL;
    }
}

/* The TLS contexts of a generation: one server per TLS listener (certificates are read now,
 * so a reload picks up new files) and a client context per HTTPS origin. */
static int bind_tls(struct mrd_cfg *cfg)
{
    char err[256];

    cfg->tls_servers = calloc(cfg->server.n_listen + 1, sizeof(*cfg->tls_servers));
    if (!cfg->tls_servers)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->server.n_listen; i++) {
        const struct mrd_cfg_listen *l = &cfg->server.listen[i];
        if (!l->tls)
            continue;
        cfg->tls_servers[i] = mrd_tls_server_new(l->tls, err, sizeof(err));
        if (!cfg->tls_servers[i]) {
            mrd_log_error("tls listener %s: %s", l->addr.text, err);
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < cfg->n_pools; i++)
        for (size_t j = 0; j < cfg->pools[i].n_origins; j++) {
            struct mrd_cfg_origin *o = &cfg->pools[i].origins[j];
            if (!o->tls)
                continue;
            /* the context of an earlier generation is kept (its session cache resumes) as
             * long as allow_insecure did not change; each generation holds its own reference,
             * since workers still on an older one keep using theirs */
            bool verify = !o->allow_insecure;
            if (!o->rt->tls_ctx || mrd_tls_client_ctx_verifies(o->rt->tls_ctx) != verify) {
                struct mrd_tls_client_ctx *x = mrd_tls_client_ctx_new(verify, NULL, err,
                                                                      sizeof(err));
                if (!x) {
                    mrd_log_error("tls origin %s: %s", o->rt->key, err);
                    return -EINVAL;
                }
                mrd_tls_client_ctx_unref(o->rt->tls_ctx);
                o->rt->tls_ctx = x;
            }
            o->tls_ctx = mrd_tls_client_ctx_ref(o->rt->tls_ctx);
        }
    return 0;
}

int mrd_rt_bind(struct mrd_cfg *cfg)
{
    int err = 0;

    pthread_mutex_lock(&rt_lock);
    for (size_t i = 0; i < cfg->n_pools && !err; i++) {
        struct mrd_cfg_pool *p = &cfg->pools[i];
        if (!(p->rt = pool_rt_get(p->name)))
            err = -ENOMEM;
        for (size_t j = 0; j < p->n_origins && !err; j++)
            if (!(p->origins[j].rt = origin_rt_get(p->name, p->origins[j].name)))
                err = -ENOMEM;
        if (!p->monitor)
            for (size_t j = 0; j < p->n_origins && !err; j++)
                atomic_store(&p->origins[j].rt->mon_healthy, true);
    }
    for (size_t i = 0; i < cfg->n_lbs && !err; i++)
        if (!(cfg->lbs[i].rt = lb_rt_get(cfg->lbs[i].name)))
            err = -ENOMEM;
    if (!err)
        err = bind_tls(cfg);
    if (err)
        unbind_locked(cfg);
    pthread_mutex_unlock(&rt_lock);
    return err;
}

void mrd_rt_unbind(struct mrd_cfg *cfg)
{
    if (!cfg)
        return;
    pthread_mutex_lock(&rt_lock);
    unbind_locked(cfg);
    pthread_mutex_unlock(&rt_lock);
}

uint32_t mrd_origin_weight(const struct mrd_cfg_origin *o)
{
    int w = atomic_load_explicit(&o->rt->admin_weight, memory_order_relaxed);
    return w >= 0 ? (uint32_t)w : o->weight;
}

bool mrd_origin_enabled(const struct mrd_cfg_origin *o)
{
    int e = atomic_load_explicit(&o->rt->admin_enabled, memory_order_relaxed);
    return e >= 0 ? e == 1 : o->enabled;
}

bool mrd_origin_healthy(const struct mrd_cfg_origin *o, uint64_t now_ms)
{
    const struct mrd_origin_rt *r = o->rt;
    return atomic_load_explicit(&r->mon_healthy, memory_order_relaxed) &&
           atomic_load_explicit(&r->ejected_until_ms, memory_order_relaxed) <= now_ms;
}

bool mrd_origin_usable(const struct mrd_cfg_origin *o, uint64_t now_ms)
{
    return mrd_origin_enabled(o) && mrd_origin_weight(o) &&
           !atomic_load_explicit(&o->rt->draining, memory_order_relaxed) &&
           mrd_origin_healthy(o, now_ms);
}

bool mrd_origin_has_room(const struct mrd_cfg_origin *o)
{
    return !o->max_in_flight ||
           atomic_load_explicit(&o->rt->in_flight, memory_order_relaxed) < (int)o->max_in_flight;
}

bool mrd_pool_healthy(const struct mrd_cfg_pool *p, uint64_t now_ms)
{
    uint32_t n = 0;
    for (size_t i = 0; i < p->n_origins; i++) {
        const struct mrd_cfg_origin *o = &p->origins[i];
        if (mrd_origin_enabled(o) && !atomic_load_explicit(&o->rt->draining, memory_order_relaxed) &&
            mrd_origin_healthy(o, now_ms))
            n++;
    }
    return n >= (p->minimum_origins ? p->minimum_origins : 1);
}

/* Healthy origins of <p> other than <except>. */
static uint32_t others_healthy(const struct mrd_cfg_pool *p, const struct mrd_cfg_origin *except,
                               uint64_t now_ms)
{
    uint32_t n = 0;
    for (size_t i = 0; i < p->n_origins; i++)
        if (&p->origins[i] != except && mrd_origin_enabled(&p->origins[i]) &&
            mrd_origin_healthy(&p->origins[i], now_ms))
            n++;
    return n;
}

void mrd_passive_error(const struct mrd_cfg_pool *p, const struct mrd_cfg_origin *o,
                       enum mrd_upstream_err kind, bool is_5xx, uint64_t now_ms)
{
    struct mrd_origin_rt *r = o->rt;
    const struct mrd_cfg_passive *pc = &p->passive;

    if (!pc->consecutive_errors || (is_5xx && !pc->count_5xx) ||
        (!is_5xx && kind != MRD_UERR_CONNECT && kind != MRD_UERR_TIMEOUT))
        return;
    unsigned fails = atomic_fetch_add(&r->passive_fails, 1) + 1;
    if (fails < pc->consecutive_errors)
        return;
    if (atomic_load(&r->ejected_until_ms) > now_ms)
        return; /* already out */
    if (!others_healthy(p, o, now_ms))
        return; /* never the last healthy origin of a pool on passive signals alone */
    unsigned n = atomic_fetch_add(&r->ejections, 1) + 1;
    uint64_t ms = mrd_ejection_ms(n, pc->base_ejection_ms, pc->max_ejection_ms);
    uint64_t until = now_ms + ms;
    uint64_t old = atomic_load(&r->ejected_until_ms);
    if (old > now_ms || !atomic_compare_exchange_strong(&r->ejected_until_ms, &old, until))
        return; /* another worker ejected it first */
    atomic_store(&r->passive_fails, 0);
    const char *why = is_5xx ? "5xx answers" : kind == MRD_UERR_CONNECT ? "connect errors" : "timeouts";
    pthread_mutex_lock(&r->lock);
    snprintf(r->reason, sizeof(r->reason), "passive: %u %s in a row; ejected for %llu s (ejection %u)",
             fails, why, (unsigned long long)(ms / 1000), n);
    pthread_mutex_unlock(&r->lock);
    mrd_log_warn("origin %s ejected for %llu ms after %u %s in a row", r->key,
                 (unsigned long long)ms, fails, why);
    mrd_event("health", "%s: ejected for %llu ms after %u %s in a row (ejection %u)", r->key,
              (unsigned long long)ms, fails, why, n);
}

void mrd_passive_ok(const struct mrd_cfg_origin *o)
{
    struct mrd_origin_rt *r = o->rt;
    if (atomic_load_explicit(&r->passive_fails, memory_order_relaxed))
        atomic_store_explicit(&r->passive_fails, 0, memory_order_relaxed);
    /* The back-off resets once an ejection has passed and the origin answers again. */
    if (atomic_load_explicit(&r->ejections, memory_order_relaxed) &&
        atomic_load_explicit(&r->ejected_until_ms, memory_order_relaxed) <= mrd_rt_now_ms())
        atomic_store_explicit(&r->ejections, 0, memory_order_relaxed);
}

void mrd_rt_latency_sample(const struct mrd_cfg_pool *p, const struct mrd_cfg_origin *o,
                           uint64_t us)
{
    /* Racy read-modify-write across workers: a lost sample only slows the average. */
    if (o) {
        uint64_t v = atomic_load_explicit(&o->rt->rtt_ewma_us, memory_order_relaxed);
        atomic_store_explicit(&o->rt->rtt_ewma_us, mrd_ewma_us(v, us), memory_order_relaxed);
    }
    if (p) {
        uint64_t v = atomic_load_explicit(&p->rt->rtt_ewma_us, memory_order_relaxed);
        atomic_store_explicit(&p->rt->rtt_ewma_us, mrd_ewma_us(v, us), memory_order_relaxed);
    }
}

/* ---- events ---- */

#define EVENTS_MAX 1024
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mrd_event_rec ev_ring[EVENTS_MAX];
static uint64_t ev_seq; /* events ever recorded */

void mrd_event(const char *kind, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&ev_lock);
    struct mrd_event_rec *e = &ev_ring[ev_seq % EVENTS_MAX];
    e->seq = ++ev_seq;
    e->ts_ms = mrd_rt_wall_ms();
    snprintf(e->kind, sizeof(e->kind), "%s", kind);
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&ev_lock);
}

size_t mrd_events_copy(struct mrd_event_rec *out, size_t max)
{
    pthread_mutex_lock(&ev_lock);
    size_t n = ev_seq < EVENTS_MAX ? (size_t)ev_seq : EVENTS_MAX;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = ev_ring[(ev_seq - n + i) % EVENTS_MAX];
    pthread_mutex_unlock(&ev_lock);
    return n;
}

/* ---- the generation the control thread serves ---- */

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mrd_cfg *cur_cfg;

struct mrd_cfg *mrd_rt_current_cfg(void)
{
    pthread_mutex_lock(&cur_lock);
    struct mrd_cfg *c = cur_cfg ? mrd_cfg_ref(cur_cfg) : NULL;
    pthread_mutex_unlock(&cur_lock);
    return c;
}

void mrd_rt_set_current_cfg(struct mrd_cfg *cfg)
{
    pthread_mutex_lock(&cur_lock);
    struct mrd_cfg *old = cur_cfg;
    cur_cfg = cfg ? mrd_cfg_ref(cfg) : NULL;
    pthread_mutex_unlock(&cur_lock);
    mrd_cfg_unref(old); /* outside the lock: the last unref takes rt_lock */
}
