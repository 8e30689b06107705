/* The load-balancing module: finds the load balancer by Host, applies the first matching
 * rule, orders the candidate pools with the steering policy, honours session affinity, and
 * picks an origin; retries come back here with the failed origins excluded. */
#include "lb/lb.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "config/config.h"
#include "geo/geo.h"
#include "health/state.h"
#include "lb/policy.h"
#include "modules.h"
#include "proxy/proxy.h"

#define AFF_COOKIE "__mrdlb"

uint64_t mrd_lb_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int lb_method_match(const struct mrd_cfg_rule *r, const char *method)
{
    if (!r->n_methods)
        return 1;
    for (size_t i = 0; i < r->n_methods; i++)
        if (!strcmp(r->methods[i], method))
            return 1;
    return 0;
}

static int lb_host_match(const char *pat, const char *host)
{
    if (pat[0] == '*' && pat[1] == '.') {
        size_t pl = strlen(pat + 1), hl = strlen(host);
        return hl > pl && !strcasecmp(host + hl - pl, pat + 1);
    }
    return !strcasecmp(pat, host);
}

static int lb_on_route(struct mrd_txn *txn)
{
    const struct mrd_cfg *cfg = txn->gen->cfg;
    static const char no_lb[] = "no load balancer serves this host\n";

    txn->lb = mrd_cfg_find_lb(cfg, txn->host, strlen(txn->host));
    if (!txn->lb) {
        txn->error = "no_route";
        mrd_txn_respond(txn, 404, "text/plain", no_lb, sizeof(no_lb) - 1);
        return MRD_PHASE_DONE;
    }
    txn->pools = (const struct mrd_cfg_pool **)txn->lb->default_pools;
    txn->n_pools = txn->lb->n_default_pools;
    size_t plen = strcspn(txn->path, "?");
    for (size_t i = 0; i < txn->lb->n_rules; i++) {
        const struct mrd_cfg_rule *r = &txn->lb->rules[i];
        if (r->path && !mrd_cfg_glob_match(r->path, txn->path, plen))
            continue;
        if (r->host && !lb_host_match(r->host, txn->host))
            continue;
        if (!lb_method_match(r, txn->method))
            continue;
        txn->rule = r;
        if (r->action == MRD_RULE_FIXED) {
            mrd_txn_respond(txn, r->fixed.status, r->fixed.content_type, r->fixed.body,
                            r->fixed.body_len);
            return MRD_PHASE_DONE;
        }
        txn->pools = (const struct mrd_cfg_pool **)r->pools;
        txn->n_pools = r->n_pools;
        break;
    }
    return MRD_PHASE_NEXT;
}

/* ---------------------------------------------------------------- affinity */

/* Finds "__mrdlb=<16 hex>" in the request's Cookie headers. */
static bool lb_cookie_id(const struct mrd_h1_msg *m, uint64_t *id)
{
    const size_t nl = sizeof(AFF_COOKIE) - 1;
    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        if (!mrd_h1_span_ieq(m->base, m->hdrs[i].name, "cookie"))
            continue;
        const char *v = m->base + m->hdrs[i].value.off, *e = v + m->hdrs[i].value.len;
        while (v < e) {
            while (v < e && (*v == ' ' || *v == ';'))
                v++;
            const char *end = memchr(v, ';', (size_t)(e - v));
            if (!end)
                end = e;
            if ((size_t)(end - v) > nl && !memcmp(v, AFF_COOKIE, nl) && v[nl] == '=') {
                const char *val = v + nl + 1;
                size_t vl = (size_t)(end - val);
                while (vl && val[vl - 1] == ' ')
                    vl--;
                if (!mrd_affinity_decode(val, vl, id))
                    return true;
            }
            v = end;
        }
    }
    return false;
}

/* Hash of the named headers' values (session_affinity: header); false when none is there. */
static bool lb_header_key(const struct mrd_cfg_lb *lb, const struct mrd_h1_msg *m, uint64_t *key)
{
    uint64_t h = 0x6d72646166660000ULL;
    bool any = false;
    for (size_t n = 0; n < lb->n_affinity_headers; n++)
        for (uint32_t i = 0; i < m->n_hdrs; i++)
            if (mrd_h1_span_ieq(m->base, m->hdrs[i].name, lb->affinity_headers[n])) {
                h = XXH3_64bits_withSeed(m->base + m->hdrs[i].value.off, m->hdrs[i].value.len,
                                         h + n);
                any = true;
            }
    if (any)
        *key = h;
    return any;
}

static bool lb_tried(const struct mrd_txn *t, uint32_t flat)
{
    for (size_t i = 0; i < t->n_tried; i++)
        if (t->tried[i] == flat)
            return true;
    return false;
}

/* A pinned origin takes the request if it is up, or draining (pinned sessions finish there). */
static bool lb_pinned_ok(const struct mrd_txn *t, const struct mrd_cfg_origin *o, uint64_t now)
{
    return mrd_origin_enabled(o) && mrd_origin_weight(o) && mrd_origin_healthy(o, now) &&
           mrd_origin_has_room(o) && !lb_tried(t, o->flat);
}

static void lb_choose(struct mrd_txn *t, const struct mrd_cfg_pool *p, int oi)
{
    t->pool = p;
    t->origin = &p->origins[oi];
    t->origin_flat = p->origins[oi].flat;
}

/* The session's pinned origin among the candidate pools (and the fallback), or false. */
static bool lb_find_pinned(struct mrd_txn *t, uint64_t now)
{
    const struct mrd_cfg_lb *lb = t->lb;
    for (size_t i = 0; i <= t->n_order; i++) {
        const struct mrd_cfg_pool *p = i < t->n_order ? t->order[i] : lb->fallback_pool;
        if (!p)
            continue;
        int oi = mrd_policy_find_origin(p, t->aff_cookie_id);
        if (oi < 0)
            continue;
        if (!lb_pinned_ok(t, &p->origins[oi], now))
            return false;
        lb_choose(t, p, oi);
        return true;
    }
    return false;
}

/* Sets the affinity cookie for the chosen origin when the session is new or moves. */
static void lb_affinity_cookie(struct mrd_txn *t, bool pinned)
{
    const struct mrd_cfg_lb *lb = t->lb;
    if (lb->session_affinity != MRD_AFF_COOKIE && lb->session_affinity != MRD_AFF_IP_COOKIE)
        return;
    if (pinned)
        return;
    /* temporary: the session returns to its origin once that is back, so the cookie stays */
    if (t->aff_cookie_valid && lb->zero_downtime_failover == MRD_ZDF_TEMPORARY)
        return;
    char hex[MRD_AFFINITY_HEX_LEN + 1];
    mrd_affinity_encode(mrd_affinity_id(t->pool, t->origin), hex);
    char *v = mrd_arena_alloc(t->arena, 128);
    if (!v)
        return;
    snprintf(v, 128, AFF_COOKIE "=%s; Max-Age=%llu; Path=/; HttpOnly; SameSite=Lax", hex,
             (unsigned long long)(lb->session_affinity_ttl_ms / 1000));
    t->set_cookie = v;
}

/* ---------------------------------------------------------------- steering */

static uint64_t lb_ip_key(const struct mrd_txn *t)
{
    const struct sockaddr_storage *ss = t->peer;
    if (ss && ss->ss_family == AF_INET)
        return XXH3_64bits(&((const struct sockaddr_in *)ss)->sin_addr, 4);
    if (ss && ss->ss_family == AF_INET6)
        return XXH3_64bits(&((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    return XXH3_64bits(t->client_ip, strlen(t->client_ip));
}

/* Picks from <p> with its policy, or with rendezvous hashing of the affinity key. */
static int lb_pick(struct mrd_txn *t, const struct mrd_cfg_pool *p, struct mrd_pick *pk)
{
    pk->rr = &t->gen->rr_current[t->gen->pool_base[p->index]];
    if (t->aff_has_key)
        pk->key = t->aff_key;
    else if (p->origin_steering == MRD_STEER_HASH)
        pk->key = lb_ip_key(t); /* only hashing needs it: not on every request */
    if (!t->aff_has_key || p->origin_steering == MRD_STEER_HASH)
        return mrd_policy_pick_origin(p, pk);
    /* header / ip_cookie affinity: the key decides, whatever the pool's own policy */
    struct mrd_cfg_pool hp = *p;
    hp.origin_steering = MRD_STEER_HASH;
    pk->key = t->aff_key;
    return mrd_policy_pick_origin(&hp, pk);
}

/* First attempt: where the client is, the pool order, the affinity inputs. */
static int lb_prepare(struct mrd_txn *t)
{
    const struct mrd_cfg *cfg = t->gen->cfg;
    const struct mrd_cfg_lb *lb = t->lb;

    if (cfg->geo.db && t->peer)
        t->geo_known = mrd_geo_lookup(cfg->geo.db, (const struct sockaddr *)t->peer, &t->geo) == 1;
    size_t cap = t->n_pools + cfg->n_pools + 1;
    t->order = mrd_arena_alloc(t->arena, cap * sizeof(*t->order));
    if (!t->order)
        return -1;
    bool from_rule = t->pools != (const struct mrd_cfg_pool **)lb->default_pools;
    t->n_order = mrd_policy_order_pools(lb, t->pools, t->n_pools, from_rule,
                                        t->geo_known ? &t->geo : NULL, t->w->loop.now_ms,
                                        &t->w->rng, t->order, cap);
    t->aff_cookie_valid = false;
    if (lb->session_affinity == MRD_AFF_COOKIE || lb->session_affinity == MRD_AFF_IP_COOKIE)
        t->aff_cookie_valid = lb_cookie_id(t->req, &t->aff_cookie_id);
    if (lb->session_affinity == MRD_AFF_HEADER)
        t->aff_has_key = lb_header_key(lb, t->req, &t->aff_key);
    else if (lb->session_affinity == MRD_AFF_IP_COOKIE && !t->aff_cookie_valid) {
        t->aff_key = lb_ip_key(t);
        t->aff_has_key = true;
    }
    return 0;
}

int mrd_lb_steer(struct mrd_txn *t, const struct mrd_cfg_pool *only)
{
    const struct mrd_cfg_lb *lb = t->lb;
    uint64_t now = t->w->loop.now_ms;
    struct mrd_pick pk = {
        .now_ms = now,
        .rng = &t->w->rng,
        .exclude = t->tried,
        .n_exclude = t->n_tried,
    };

    if (!t->order && lb_prepare(t) < 0)
        return -1;
    /* A pinned session: its origin, while it is up (first attempt; on a retry only when the
     * session may move: sticky or temporary). */
    if (t->aff_cookie_valid && !only && lb_find_pinned(t, now))
        return 0;
    for (size_t i = 0; i < t->n_order; i++) {
        const struct mrd_cfg_pool *p = t->order[i];
        if (only && p != only)
            continue;
        if (!only && !mrd_pool_healthy(p, now))
            continue;
        /* -1 here also means every candidate is at max_in_flight: spill to the next pool */
        int oi = lb_pick(t, p, &pk);
        if (oi >= 0) {
            lb_choose(t, p, oi);
            lb_affinity_cookie(t, false);
            return 0;
        }
    }
    if (only) {
        int oi = lb_pick(t, only, &pk);
        if (oi >= 0) {
            lb_choose(t, only, oi);
            lb_affinity_cookie(t, false);
            return 0;
        }
        return -1;
    }
    /* Every pool is unhealthy or full: the fallback pool takes the traffic anyway, healthy
     * origins first. */
    const struct mrd_cfg_pool *fb = lb->fallback_pool;
    if (fb) {
        int oi = lb_pick(t, fb, &pk);
        if (oi < 0) {
            pk.ignore_health = true;
            oi = lb_pick(t, fb, &pk);
        }
        if (oi >= 0) {
            lb_choose(t, fb, oi);
            lb_affinity_cookie(t, false);
            return 0;
        }
    }
    /* Unhealthy pools still beat an error when nothing else is left. */
    for (size_t i = 0; i < t->n_order; i++) {
        int oi = lb_pick(t, t->order[i], &pk);
        if (oi >= 0) {
            lb_choose(t, t->order[i], oi);
            lb_affinity_cookie(t, false);
            return 0;
        }
    }
    return -1;
}

static int lb_on_steer(struct mrd_txn *txn)
{
    static const char none[] = "no origin is available for this request\n";

    if (mrd_lb_steer(txn, NULL) == 0)
        return MRD_PHASE_NEXT;
    txn->error = "no_origin";
    mrd_txn_respond(txn, 503, "text/plain", none, sizeof(none) - 1);
    return MRD_PHASE_DONE;
}

const struct mrd_module mrd_lb_module = {
    .name = "lb",
    .on_route = lb_on_route,
    .on_steer = lb_on_steer,
};
