/* The load-balancing module: finds the load balancer by Host, applies the first matching
 * rule, and steers to an origin of the first pool that has one available. */
#include "lb/lb.h"

#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "modules.h"
#include "proxy/proxy.h"

uint64_t mrd_lb_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int mrd_lb_pick_origin(const struct mrd_cfg_pool *pool, int64_t *rr, uint64_t *rng)
{
    int64_t total = 0;
    int best = -1;

    if (pool->origin_steering == MRD_STEER_ROUND_ROBIN) {
        /* Smooth weighted round robin: each pick adds every weight to its counter, takes
         * the largest and subtracts the total from it; spreads heavy origins out evenly. */
        for (size_t i = 0; i < pool->n_origins; i++) {
            const struct mrd_cfg_origin *o = &pool->origins[i];
            if (!o->enabled || !o->weight)
                continue;
            rr[i] += o->weight;
            total += o->weight;
            if (best < 0 || rr[i] > rr[best])
                best = (int)i;
        }
        if (best >= 0)
            rr[best] -= total;
        return best;
    }
    for (size_t i = 0; i < pool->n_origins; i++)
        if (pool->origins[i].enabled)
            total += pool->origins[i].weight;
    if (!total)
        return -1;
    uint64_t r = mrd_lb_rand(rng) % (uint64_t)total;
    for (size_t i = 0; i < pool->n_origins; i++) {
        const struct mrd_cfg_origin *o = &pool->origins[i];
        if (!o->enabled)
            continue;
        if (r < o->weight)
            return (int)i;
        r -= o->weight;
    }
    return -1;
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

static int lb_on_steer(struct mrd_txn *txn)
{
    static const char none[] = "no origin is available for this request\n";
    const struct mrd_cfg *cfg = txn->gen->cfg;

    for (size_t p = 0; p < txn->n_pools; p++) {
        const struct mrd_cfg_pool *pool = txn->pools[p];
        size_t pi = (size_t)(pool - cfg->pools);
        uint32_t base = txn->gen->pool_base[pi];
        int oi = mrd_lb_pick_origin(pool, &txn->gen->rr_current[base], &txn->w->rng);
        if (oi < 0)
            continue;
        txn->pool = pool;
        txn->origin = &pool->origins[oi];
        txn->origin_flat = base + (uint32_t)oi;
        return MRD_PHASE_NEXT;
    }
    txn->error = "no_origin";
    mrd_txn_respond(txn, 503, "text/plain", none, sizeof(none) - 1);
    return MRD_PHASE_DONE;
}

const struct mrd_module mrd_lb_module = {
    .name = "lb",
    .on_route = lb_on_route,
    .on_steer = lb_on_steer,
};
