/* GET /metrics: the Prometheus text exposition (format 0.0.4). Per-worker counter slots are
 * summed at scrape time with relaxed loads; gauges read the runtime state's atomics. Series
 * follow the live generation's pools, origins and load balancers (their counters survive
 * reloads because the runtime state is matched by name). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin-int.h"
#include "health/state.h"
#include "proxy/proxy.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void m_head(struct mrd_json *o, const char *name, const char *type, const char *help)
{
    mrd_json_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped, as the format asks. */
static void m_label(struct mrd_json *o, const char *name, const char *v, bool first)
{
    mrd_json_printf(o, "%s%s=\"", first ? "" : ",", name);
    size_t run = 0, i = 0;
    for (; v[i]; i++) {
        const char *esc = v[i] == '\\' ? "\\\\" : v[i] == '"' ? "\\\"" : v[i] == '\n' ? "\\n" : NULL;
        if (!esc) {
            run++;
            continue;
        }
        mrd_json_raw(o, v + i - run, run);
        mrd_json_raw(o, esc, 2);
        run = 0;
    }
    mrd_json_raw(o, v + i - run, run);
    mrd_json_raw(o, "\"", 1);
}

/* "name{pool="..",origin=".."" without the closing brace. */
static void m_origin_series(struct mrd_json *o, const char *metric, const struct mrd_cfg_pool *p,
                            const struct mrd_cfg_origin *org)
{
    mrd_json_printf(o, "%s{", metric);
    m_label(o, "pool", p->name, true);
    m_label(o, "origin", org->name, false);
}

static int n_slots(const struct mrd_admin_ctx *ctx)
{
    int n = ctx->n_workers;
    return n < 0 ? 0 : n > MRD_MAX_WORKERS ? MRD_MAX_WORKERS : n;
}

/* The origin counters are per origin, not per (load balancer, origin). A pool that only one
 * load balancer names (default, fallback, region, country or rule pools) gets that one as
 * its lb label; a pool several share, or none names, gets lb="" (Prometheus reads an empty
 * label as an absent one). */
static const char *AMBIGUOUS = "";

static void pool_owner_mark(const char **owner, const struct mrd_cfg_pool *p, const char *lb)
{
    if (!p)
        return;
    const char **o = &owner[p->index];
    *o = !*o || !strcmp(*o, lb) ? lb : AMBIGUOUS;
}

static void pool_owner_list(const char **owner, struct mrd_cfg_pool *const *v, size_t n,
                            const char *lb)
{
    for (size_t i = 0; i < n; i++)
        pool_owner_mark(owner, v[i], lb);
}

/* owner[pool index] = the name of the only load balancer using it, or "". NULL on OOM. */
static const char **pool_owners(const struct mrd_cfg *cfg)
{
    const char **owner = calloc(cfg->n_pools ? cfg->n_pools : 1, sizeof(*owner));
    if (!owner)
        return NULL;
    for (size_t i = 0; i < cfg->n_lbs; i++) {
        const struct mrd_cfg_lb *lb = &cfg->lbs[i];
        pool_owner_list(owner, lb->default_pools, lb->n_default_pools, lb->name);
        pool_owner_mark(owner, lb->fallback_pool, lb->name);
        for (size_t k = 0; k < lb->n_region_pools; k++)
            pool_owner_list(owner, lb->region_pools[k].pools, lb->region_pools[k].n_pools,
                            lb->name);
        for (size_t k = 0; k < lb->n_country_pools; k++)
            pool_owner_list(owner, lb->country_pools[k].pools, lb->country_pools[k].n_pools,
                            lb->name);
        for (size_t k = 0; k < lb->n_rules; k++)
            pool_owner_list(owner, lb->rules[k].pools, lb->rules[k].n_pools, lb->name);
    }
    return owner;
}

static void m_requests(struct mrd_json *o, const struct mrd_cfg *cfg, int nw)
{
    static const char *const cls[6] = { "", "1xx", "2xx", "3xx", "4xx", "5xx" };
    const char **owner = pool_owners(cfg);

    m_head(o, "meridian_requests_total", "counter",
           "Requests answered by an origin, by status class; lb is the load balancer using the "
           "pool, empty when several share it.");
    for (size_t i = 0; i < cfg->n_pools; i++) {
        const struct mrd_cfg_pool *p = &cfg->pools[i];
        const char *lb = owner && owner[i] ? owner[i] : "";
        for (size_t k = 0; k < p->n_origins; k++) {
            const struct mrd_cfg_origin *org = &p->origins[k];
            uint64_t sum[6] = { 0 };
            for (int w = 0; w < nw; w++)
                for (int c = 1; c < 6; c++)
                    sum[c] += LOAD(org->rt->ctr[w].req_by_class[c]);
            for (int c = 1; c < 6; c++) {
                mrd_json_raw(o, "meridian_requests_total{", 24);
                m_label(o, "lb", lb, true);
                m_label(o, "pool", p->name, false);
                m_label(o, "origin", org->name, false);
                m_label(o, "code", cls[c], false);
                mrd_json_printf(o, "} %llu\n", (unsigned long long)sum[c]);
            }
        }
    }
    free(owner);
}

static void m_errors(struct mrd_json *o, const struct mrd_cfg *cfg, int nw)
{
    static const char *const kinds[4] = { "connect", "timeout", "reset", "protocol" };

    m_head(o, "meridian_upstream_errors_total", "counter",
           "Upstream attempts that failed, by kind.");
    for (size_t i = 0; i < cfg->n_pools; i++) {
        const struct mrd_cfg_pool *p = &cfg->pools[i];
        for (size_t k = 0; k < p->n_origins; k++) {
            const struct mrd_cfg_origin *org = &p->origins[k];
            uint64_t sum[4] = { 0 };
            for (int w = 0; w < nw; w++) {
                const struct mrd_origin_ctr *c = &org->rt->ctr[w];
                sum[0] += LOAD(c->err_connect);
                sum[1] += LOAD(c->err_timeout);
                sum[2] += LOAD(c->err_reset);
                sum[3] += LOAD(c->err_protocol);
            }
            for (int e = 0; e < 4; e++) {
                m_origin_series(o, "meridian_upstream_errors_total", p, org);
                m_label(o, "kind", kinds[e], false);
                mrd_json_printf(o, "} %llu\n", (unsigned long long)sum[e]);
            }
        }
    }
    m_head(o, "meridian_websocket_answered_total", "counter",
           "WebSocket frames the gateway answered itself (auto_response, pongs).");
    for (size_t i = 0; i < cfg->n_pools; i++) {
        const struct mrd_cfg_pool *p = &cfg->pools[i];
        for (size_t k = 0; k < p->n_origins; k++) {
            uint64_t sum = 0;
            for (int w = 0; w < nw; w++)
                sum += LOAD(p->origins[k].rt->ctr[w].ws_answered);
            m_origin_series(o, "meridian_websocket_answered_total", p, &p->origins[k]);
            mrd_json_printf(o, "} %llu\n", (unsigned long long)sum);
        }
    }
    m_head(o, "meridian_websocket_last_answer_timestamp_seconds", "gauge",
           "When the gateway last answered a frame on the origin's tunnels (0 = never).");
    for (size_t i = 0; i < cfg->n_pools; i++) {
        const struct mrd_cfg_pool *p = &cfg->pools[i];
        for (size_t k = 0; k < p->n_origins; k++) {
            uint64_t ms = atomic_load_explicit(&p->origins[k].rt->ws_answered_ms,
                                               memory_order_relaxed);
            m_origin_series(o, "meridian_websocket_last_answer_timestamp_seconds", p,
                            &p->origins[k]);
            mrd_json_printf(o, "} %llu.%03u\n", (unsigned long long)(ms / 1000),
                            (unsigned)(ms % 1000));
        }
    }
    m_head(o, "meridian_upstream_retries_total", "counter",
           "Retries sent to an origin after an earlier attempt failed.");
    for (size_t i = 0; i < cfg->n_pools; i++) {
        const struct mrd_cfg_pool *p = &cfg->pools[i];
        for (size_t k = 0; k < p->n_origins; k++) {
            uint64_t sum = 0;
            for (int w = 0; w < nw; w++)
                sum += LOAD(p->origins[k].rt->ctr[w].retries);
            m_origin_series(o, "meridian_upstream_retries_total", p, &p->origins[k]);
            mrd_json_printf(o, "} %llu\n", (unsigned long long)sum);
        }
    }
}

/* Gauges read from one atomic per origin. */
static void m_origin_gauges(struct mrd_json *o, const struct mrd_cfg *cfg, uint64_t now)
{
    m_head(o, "meridian_origin_healthy", "gauge",
           "1 when the origin is healthy (monitor up and not passively ejected).");
    for (size_t i = 0; i < cfg->n_pools; i++)
        for (size_t k = 0; k < cfg->pools[i].n_origins; k++) {
            m_origin_series(o, "meridian_origin_healthy", &cfg->pools[i], &cfg->pools[i].origins[k]);
            mrd_json_printf(o, "} %d\n", mrd_origin_healthy(&cfg->pools[i].origins[k], now));
        }
    m_head(o, "meridian_origin_in_flight", "gauge", "Requests in flight to the origin.");
    for (size_t i = 0; i < cfg->n_pools; i++)
        for (size_t k = 0; k < cfg->pools[i].n_origins; k++) {
            const struct mrd_cfg_origin *org = &cfg->pools[i].origins[k];
            m_origin_series(o, "meridian_origin_in_flight", &cfg->pools[i], org);
            mrd_json_printf(o, "} %d\n", atomic_load_explicit(&org->rt->in_flight,
                                                              memory_order_relaxed));
        }
    m_head(o, "meridian_websocket_tunnels", "gauge", "Open WebSocket tunnels to the origin.");
    for (size_t i = 0; i < cfg->n_pools; i++)
        for (size_t k = 0; k < cfg->pools[i].n_origins; k++) {
            const struct mrd_cfg_origin *org = &cfg->pools[i].origins[k];
            m_origin_series(o, "meridian_websocket_tunnels", &cfg->pools[i], org);
            mrd_json_printf(o, "} %d\n", atomic_load_explicit(&org->rt->tunnels,
                                                              memory_order_relaxed));
        }
    m_head(o, "meridian_pool_healthy", "gauge",
           "1 when at least minimum_origins of the pool's origins are healthy and enabled.");
    for (size_t i = 0; i < cfg->n_pools; i++) {
        mrd_json_raw(o, "meridian_pool_healthy{", 22);
        m_label(o, "pool", cfg->pools[i].name, true);
        mrd_json_printf(o, "} %d\n", mrd_pool_healthy(&cfg->pools[i], now));
    }
}

/* A summary without quantiles: _sum and _count of every probe's duration. */
static void m_probes(struct mrd_json *o, const struct mrd_cfg *cfg)
{
    m_head(o, "meridian_health_probe_duration_seconds", "summary",
           "Duration of health probes (pools with a monitor).");
    for (size_t i = 0; i < cfg->n_pools; i++) {
        const struct mrd_cfg_pool *p = &cfg->pools[i];
        if (!p->monitor)
            continue;
        for (size_t k = 0; k < p->n_origins; k++) {
            struct mrd_origin_rt *rt = p->origins[k].rt;
            pthread_mutex_lock(&rt->lock);
            uint64_t sum_us = rt->probe_sum_us, count = rt->probe_count;
            pthread_mutex_unlock(&rt->lock);
            m_origin_series(o, "meridian_health_probe_duration_seconds_sum", p, &p->origins[k]);
            mrd_json_printf(o, "} %.6f\n", (double)sum_us / 1e6);
            m_origin_series(o, "meridian_health_probe_duration_seconds_count", p, &p->origins[k]);
            mrd_json_printf(o, "} %llu\n", (unsigned long long)count);
        }
    }
}

/* Per load balancer; the workers' buckets are per range, the format wants them cumulative. */
static void m_durations(struct mrd_json *o, const struct mrd_cfg *cfg, int nw)
{
    m_head(o, "meridian_request_duration_seconds", "histogram",
           "Time from a request's head to the end of its response, per load balancer.");
    for (size_t i = 0; i < cfg->n_lbs; i++) {
        const struct mrd_cfg_lb *lb = &cfg->lbs[i];
        uint64_t b[MRD_HIST_BUCKETS] = { 0 }, sum_us = 0, cum = 0;
        for (int w = 0; w < nw; w++) {
            for (int k = 0; k < MRD_HIST_BUCKETS; k++)
                b[k] += LOAD(lb->rt->ctr[w].hist[k]);
            sum_us += LOAD(lb->rt->ctr[w].sum_us);
        }
        for (int k = 0; k < MRD_HIST_BUCKETS; k++) {
            char le[32];
            cum += b[k];
            if (k < MRD_HIST_BUCKETS - 1)
                snprintf(le, sizeof(le), "%g", mrd_hist_bounds_s[k]);
            else
                snprintf(le, sizeof(le), "+Inf");
            mrd_json_raw(o, "meridian_request_duration_seconds_bucket{", 41);
            m_label(o, "lb", lb->name, true);
            m_label(o, "le", le, false);
            mrd_json_printf(o, "} %llu\n", (unsigned long long)cum);
        }
        /* _count is the +Inf bucket, so the two agree even while workers are counting */
        mrd_json_raw(o, "meridian_request_duration_seconds_sum{", 38);
        m_label(o, "lb", lb->name, true);
        mrd_json_printf(o, "} %.6f\n", (double)sum_us / 1e6);
        mrd_json_raw(o, "meridian_request_duration_seconds_count{", 40);
        m_label(o, "lb", lb->name, true);
        mrd_json_printf(o, "} %llu\n", (unsigned long long)cum);
    }
}

static void m_process(struct mrd_json *o, const struct mrd_cfg *cfg,
                      const struct mrd_admin_ctx *ctx)
{
    uint64_t conns = 0;
    for (int i = 0; ctx->workers && i < ctx->n_workers; i++)
        conns += LOAD(ctx->workers[i].n_conns);
    m_head(o, "meridian_connections", "gauge", "Client connections, by state.");
    mrd_json_printf(o, "meridian_connections{state=\"active\"} %llu\n", (unsigned long long)conns);
    m_head(o, "meridian_config_generation", "gauge", "The live configuration generation.");
    mrd_json_printf(o, "meridian_config_generation %llu\n",
                    (unsigned long long)(cfg ? cfg->generation : 0));
}

void mrd_admin_metrics(struct mrd_json *out, const struct mrd_cfg *cfg,
                       const struct mrd_admin_ctx *ctx)
{
    int nw = n_slots(ctx);

    m_process(out, cfg, ctx);
    if (!cfg)
        return;
    m_requests(out, cfg, nw);
    m_durations(out, cfg, nw);
    m_errors(out, cfg, nw);
    m_origin_gauges(out, cfg, mrd_rt_now_ms());
    m_probes(out, cfg);
}
