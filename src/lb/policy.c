/* Steering policies (see policy.h). Nothing here allocates, blocks or keeps state of its own:
 * load and health are read from the runtime state each call, so a pick reflects the latest
 * numbers even though other workers change them concurrently (a stale read costs a little
 * balance, never correctness: every loop below copes with a candidate set that shifted). */
#include "lb/policy.h"

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include <math.h>
#include <string.h>
#include <strings.h>

#include "geo/geo.h"
#include "health/state.h"
#include "lb/lb.h"

/* ---- origin candidates ------------------------------------------------------------------ */

static bool policy_excluded(const struct mrd_cfg_origin *o, const struct mrd_pick *pk)
{
    for (size_t i = 0; i < pk->n_exclude; i++)
        if (pk->exclude[i] == o->flat)
            return true;
    return false;
}

/* The weight <o> competes with for this pick, 0 when it is not a candidate. The weight is
 * read once so a concurrent admin change cannot make a candidate count with weight 0. */
static uint32_t policy_weight(const struct mrd_cfg_origin *o, const struct mrd_pick *pk)
{
    uint32_t w = mrd_origin_weight(o);

    if (!w || !mrd_origin_enabled(o) || !mrd_origin_has_room(o) || policy_excluded(o, pk))
        return 0;
    if (atomic_load_explicit(&o->rt->draining, memory_order_relaxed))
        return 0;
    /* The fallback pool serves when every pool is down: health is the one thing it ignores;
     * max_in_flight still protects its origins (a 503 beats a collapsed origin). */
    if (!pk->ignore_health && !mrd_origin_healthy(o, pk->now_ms))
        return 0;
    return w;
}

static uint64_t policy_load(const struct mrd_cfg_origin *o, bool with_tunnels)
{
    int n = atomic_load_explicit(&o->rt->in_flight, memory_order_relaxed);
    if (with_tunnels)
        n += atomic_load_explicit(&o->rt->tunnels, memory_order_relaxed);
    return n > 0 ? (uint64_t)n : 0; /* racy decrements may briefly go below zero */
}

/* a/wa < b/wb without division: loads fit in 32 bits and weights in 20, no overflow. */
static int policy_cmp_ratio(uint64_t a, uint32_t wa, uint64_t b, uint32_t wb)
{
    uint64_t l = a * wb, r = b * wa;
    return l < r ? -1 : l > r;
}

/* Weighted draw among the candidates other than <skip> whose weights sum to <total>. If the
 * candidates changed since <total> was summed, the last one seen stands in. */
static int policy_draw(const struct mrd_cfg_pool *pool, const struct mrd_pick *pk, int skip,
                       uint64_t total)
{
    int last = -1;

    if (!total)
        return -1;
    uint64_t r = mrd_lb_rand(pk->rng) % total;
    for (size_t i = 0; i < pool->n_origins; i++) {
        uint32_t w = (int)i == skip ? 0 : policy_weight(&pool->origins[i], pk);
        if (!w)
            continue;
        if (r < w)
            return (int)i;
        r -= w;
        last = (int)i;
    }
    return last;
}

static uint64_t policy_total_weight(const struct mrd_cfg_pool *pool, const struct mrd_pick *pk)
{
    uint64_t total = 0;
    for (size_t i = 0; i < pool->n_origins; i++)
        total += policy_weight(&pool->origins[i], pk);
    return total;
}

/* ---- origin steering -------------------------------------------------------------------- */

static int pick_random(const struct mrd_cfg_pool *pool, const struct mrd_pick *pk)
{
    return policy_draw(pool, pk, -1, policy_total_weight(pool, pk));
}

/* Smooth weighted round robin (nginx's): every candidate's counter grows by its weight, the
 * largest wins and pays the total back; heavy origins are spread out, not served in bursts.
 * Origins that are not candidates keep their counter, so they rejoin without a burst. */
static int pick_round_robin(const struct mrd_cfg_pool *pool, const struct mrd_pick *pk)
{
    int64_t total = 0;
    int best = -1;

    if (!pk->rr)
        return pick_random(pool, pk);
    for (size_t i = 0; i < pool->n_origins; i++) {
        uint32_t w = policy_weight(&pool->origins[i], pk);
        if (!w)
            continue;
        pk->rr[i] += w;
        total += w;
        if (best < 0 || pk->rr[i] > pk->rr[best])
            best = (int)i;
    }
    if (best >= 0)
        pk->rr[best] -= total;
    return best;
}

/* Power of two choices: two weighted draws, the less loaded per unit of weight wins. Cheap,
 * needs no shared scan order, and avoids herding onto the one least loaded origin that a
 * stale global view would make every worker choose. */
static int pick_lor(const struct mrd_cfg_pool *pool, const struct mrd_pick *pk)
{
    uint64_t total = policy_total_weight(pool, pk);
    int a = policy_draw(pool, pk, -1, total);
    if (a < 0)
        return -1;
    uint32_t wa = policy_weight(&pool->origins[a], pk);
    int b = policy_draw(pool, pk, a, total > wa ? total - wa : 0);
    if (b < 0 || b == a || !wa)
        return a;
    uint32_t wb = policy_weight(&pool->origins[b], pk);
    if (!wb)
        return a;
    uint64_t la = policy_load(&pool->origins[a], false), lb = policy_load(&pool->origins[b], false);
    return policy_cmp_ratio(lb, wb, la, wa) < 0 ? b : a;
}

static int pick_least_conn(const struct mrd_cfg_pool *pool, const struct mrd_pick *pk)
{
    int best = -1;
    uint32_t best_w = 0, ties = 0;
    uint64_t best_l = 0;

    for (size_t i = 0; i < pool->n_origins; i++) {
        uint32_t w = policy_weight(&pool->origins[i], pk);
        if (!w)
            continue;
        uint64_t l = policy_load(&pool->origins[i], true);
        int c = best < 0 ? -1 : policy_cmp_ratio(l, w, best_l, best_w);
        /* Reservoir sampling over ties: each tied origin ends up chosen with equal odds. */
        if (c == 0 && mrd_lb_rand(pk->rng) % ++ties)
            continue;
        if (c < 0)
            ties = 1;
        if (c <= 0) {
            best = (int)i;
            best_w = w;
            best_l = l;
        }
    }
    return best;
}

/* XXH64 of "pool/origin", streamed so no name length limit applies. */
static uint64_t policy_name_hash(const struct mrd_cfg_pool *p, const struct mrd_cfg_origin *o)
{
    XXH64_state_t st;

    XXH64_reset(&st, 0);
    XXH64_update(&st, p->name, strlen(p->name));
    XXH64_update(&st, "/", 1);
    XXH64_update(&st, o->name, strlen(o->name));
    return XXH64_digest(&st);
}

/* Weighted rendezvous score: -w / ln(u), u uniform in (0,1) from the key and the origin.
 * The highest score wins; an origin's share of keys is proportional to its weight, and
 * removing one only moves the keys it held. */
static double policy_hrw_score(uint64_t key, uint64_t origin_id, uint32_t w)
{
    unsigned char k[8];
    for (int i = 0; i < 8; i++)
        k[i] = (unsigned char)(key >> (8 * i)); /* little-endian: same answer on every node */
    uint64_t h = XXH3_64bits_withSeed(k, sizeof(k), origin_id);
    double u = ((double)(h >> 11) + 0.5) * (1.0 / 9007199254740992.0); /* 2^-53, never 0 or 1 */
    return -(double)w / log(u);
}

/* Consistent hashing with bounded load (Mirrokni et al.): a key keeps its origin unless that
 * origin carries more than 1.25x its fair share, so one hot key cannot melt an origin. */
static int pick_hash(const struct mrd_cfg_pool *pool, const struct mrd_pick *pk)
{
    uint64_t total_load = 0, n = 0;
    int best = -1, best_ok = -1;
    double best_s = 0, best_ok_s = 0;

    for (size_t i = 0; i < pool->n_origins; i++)
        if (policy_weight(&pool->origins[i], pk)) {
            n++;
            total_load += policy_load(&pool->origins[i], true);
        }
    if (!n)
        return -1;
    uint64_t bound = (5 * (total_load + 1) + 4 * n - 1) / (4 * n); /* ceil(1.25 (L+1) / n) */
    for (size_t i = 0; i < pool->n_origins; i++) {
        const struct mrd_cfg_origin *o = &pool->origins[i];
        uint32_t w = policy_weight(o, pk);
        if (!w)
            continue;
        double s = policy_hrw_score(pk->key, policy_name_hash(pool, o), w);
        if (best < 0 || s > best_s) {
            best = (int)i;
            best_s = s;
        }
        if (policy_load(o, true) < bound && (best_ok < 0 || s > best_ok_s)) {
            best_ok = (int)i;
            best_ok_s = s;
        }
    }
    return best_ok >= 0 ? best_ok : best;
}

int mrd_policy_pick_origin(const struct mrd_cfg_pool *pool, const struct mrd_pick *pk)
{
    switch (pool->origin_steering) {
    case MRD_STEER_ROUND_ROBIN:
        return pick_round_robin(pool, pk);
    case MRD_STEER_LOR:
        return pick_lor(pool, pk);
    case MRD_STEER_LEAST_CONN:
        return pick_least_conn(pool, pk);
    case MRD_STEER_HASH:
        return pick_hash(pool, pk);
    case MRD_STEER_RANDOM:
    default:
        return pick_random(pool, pk);
    }
}

/* ---- pool steering ---------------------------------------------------------------------- */

static size_t order_copy(const struct mrd_cfg_pool *const *base, size_t n,
                         const struct mrd_cfg_pool **out, size_t cap)
{
    size_t k = n < cap ? n : cap;
    for (size_t i = 0; i < k; i++)
        out[i] = base[i];
    return k;
}

/* country_pools, then region_pools, then the base order. */
static void order_geo_base(const struct mrd_cfg_lb *lb, const struct mrd_geo_info *geo,
                           const struct mrd_cfg_pool *const **base, size_t *n)
{
    if (!geo)
        return;
    if (geo->country[0])
        for (size_t i = 0; i < lb->n_country_pools; i++) {
            const struct mrd_cfg_pool_map *m = &lb->country_pools[i];
            if (m->n_pools && !strcasecmp(m->key, geo->country)) {
                *base = (const struct mrd_cfg_pool *const *)m->pools;
                *n = m->n_pools;
                return;
            }
        }
    if (geo->region >= 0)
        for (size_t i = 0; i < lb->n_region_pools; i++) {
            const struct mrd_cfg_pool_map *m = &lb->region_pools[i];
            if (m->n_pools && m->region == geo->region) {
                *base = (const struct mrd_cfg_pool *const *)m->pools;
                *n = m->n_pools;
                return;
            }
        }
}

static double order_pool_weight(const struct mrd_cfg_lb *lb, const struct mrd_cfg_pool *p)
{
    double w = lb->random_steering.pool_weights ? lb->random_steering.pool_weights[p->index]
                                                : lb->random_steering.default_weight;
    return w > 0 ? w : 0; /* also turns NaN into 0 */
}

static size_t order_random(const struct mrd_cfg_lb *lb, const struct mrd_cfg_pool *const *base,
                           size_t n, uint64_t *rng, const struct mrd_cfg_pool **out, size_t cap)
{
    double total = 0;
    size_t first = n;

    for (size_t i = 0; i < n; i++)
        total += order_pool_weight(lb, base[i]);
    if (total > 0 && cap) {
        double r = (double)(mrd_lb_rand(rng) >> 11) * (1.0 / 9007199254740992.0) * total;
        for (size_t i = 0; i < n; i++) {
            double w = order_pool_weight(lb, base[i]);
            if (!(w > 0))
                continue;
            first = i; /* the last positive one absorbs rounding at the top of the range */
            if (r < w)
                break;
            r -= w;
        }
    }
    if (first == n)
        return order_copy(base, n, out, cap);
    size_t k = 0;
    out[k++] = base[first];
    for (size_t i = 0; i < n && k < cap; i++)
        if (i != first)
            out[k++] = base[i];
    return k;
}

/* Sort key of a pool; INFINITY sorts last. */
typedef double (*order_key_fn)(const struct mrd_cfg_pool *p, const void *ctx);

struct order_ctx {
    const struct mrd_geo_info *geo;
    uint64_t now_ms;
};

static double key_distance(const struct mrd_cfg_pool *p, const void *ctx)
{
    const struct mrd_geo_info *geo = ((const struct order_ctx *)ctx)->geo;
    if (!p->has_coords)
        return INFINITY;
    double d = mrd_geo_distance_km(geo->latitude, geo->longitude, p->latitude, p->longitude);
    return isnan(d) ? INFINITY : d;
}

static double key_latency(const struct mrd_cfg_pool *p, const void *ctx)
{
    return (double)atomic_load_explicit(&p->rt->rtt_ewma_us, memory_order_relaxed);
}

static double key_load(const struct mrd_cfg_pool *p, bool with_tunnels, uint64_t now_ms)
{
    uint64_t load = 0, weight = 0;
    for (size_t i = 0; i < p->n_origins; i++) {
        const struct mrd_cfg_origin *o = &p->origins[i];
        if (!mrd_origin_usable(o, now_ms))
            continue;
        load += policy_load(o, with_tunnels);
        weight += mrd_origin_weight(o);
    }
    return weight ? (double)load / (double)weight : INFINITY;
}

static double key_lor(const struct mrd_cfg_pool *p, const void *ctx)
{
    return key_load(p, false, ((const struct order_ctx *)ctx)->now_ms);
}

static double key_least_conn(const struct mrd_cfg_pool *p, const void *ctx)
{
    return key_load(p, true, ((const struct order_ctx *)ctx)->now_ms);
}

/* Stable insertion of every base pool into out[0..cap) by key: a pool goes after the ones
 * with an equal key, and one that would land past the end is dropped. */
static size_t order_sorted(const struct mrd_cfg_pool *const *base, size_t n, order_key_fn key,
                           const void *ctx, const struct mrd_cfg_pool **out, size_t cap)
{
    double keys[MRD_POLICY_MAX_POOLS];
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        double v = key(base[i], ctx);
        size_t at = k;
        while (at > 0 && v < keys[at - 1])
            at--;
        if (at >= cap)
            continue;
        size_t last = k < cap ? k : cap - 1;
        memmove(&out[at + 1], &out[at], (last - at) * sizeof(*out));
        memmove(&keys[at + 1], &keys[at], (last - at) * sizeof(*keys));
        out[at] = base[i];
        keys[at] = v;
        if (k < cap)
            k++;
    }
    return k;
}

static bool order_all_have_latency(const struct mrd_cfg_pool *const *base, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!base[i]->rt || !atomic_load_explicit(&base[i]->rt->rtt_ewma_us, memory_order_relaxed))
            return false;
    return true;
}

size_t mrd_policy_order_pools(const struct mrd_cfg_lb *lb, const struct mrd_cfg_pool *const *pools,
                              size_t n, bool from_rule, const struct mrd_geo_info *geo,
                              uint64_t now_ms, uint64_t *rng, const struct mrd_cfg_pool **out,
                              size_t cap)
{
    const struct mrd_cfg_pool *const *base = pools;
    struct order_ctx ctx = {.geo = geo, .now_ms = now_ms};

    if (!base) {
        base = (const struct mrd_cfg_pool *const *)lb->default_pools;
        n = lb->n_default_pools;
    }
    if (cap > MRD_POLICY_MAX_POOLS)
        cap = MRD_POLICY_MAX_POOLS;
    switch (lb->steering_policy) {
    case MRD_POOLS_RANDOM:
        return order_random(lb, base, n, rng, out, cap);
    case MRD_POOLS_GEO:
        if (!from_rule)
            order_geo_base(lb, geo, &base, &n);
        break;
    case MRD_POOLS_PROXIMITY:
        if (geo && geo->has_coords)
            return order_sorted(base, n, key_distance, &ctx, out, cap);
        break;
    case MRD_POOLS_DYNAMIC_LATENCY:
        /* Until every pool has been measured, an unmeasured one would look best or worst
         * for no reason: keep the configured order. */
        if (order_all_have_latency(base, n))
            return order_sorted(base, n, key_latency, &ctx, out, cap);
        break;
    case MRD_POOLS_LOR:
        return order_sorted(base, n, key_lor, &ctx, out, cap);
    case MRD_POOLS_LEAST_CONN:
        return order_sorted(base, n, key_least_conn, &ctx, out, cap);
    case MRD_POOLS_OFF:
    default:
        break;
    }
    return order_copy(base, n, out, cap);
}

/* ---- retries, ejections, latency -------------------------------------------------------- */

const char *mrd_attempt_state_name(enum mrd_attempt_state st)
{
    switch (st) {
    case MRD_ATTEMPT_NOT_SENT:
        return "not_sent";
    case MRD_ATTEMPT_SENT_NO_RESPONSE:
        return "sent_no_response";
    case MRD_ATTEMPT_RESPONSE_STARTED:
        return "response_started";
    }
    return "unknown";
}

/* RFC 9110 section 9.2.2; method names are case-sensitive. */
static bool policy_idempotent(const char *method)
{
    static const char *const idem[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    if (!method)
        return false;
    for (size_t i = 0; i < sizeof(idem) / sizeof(idem[0]); i++)
        if (!strcmp(method, idem[i]))
            return true;
    return false;
}

bool mrd_retry_allowed(enum mrd_attempt_state st, const char *method)
{
    switch (st) {
    case MRD_ATTEMPT_NOT_SENT:
        return true;
    case MRD_ATTEMPT_SENT_NO_RESPONSE:
        return policy_idempotent(method);
    case MRD_ATTEMPT_RESPONSE_STARTED:
        break;
    }
    return false;
}

#define MRD_RETRY_MIN_CONCURRENT 10

bool mrd_retry_budget_ok(int active_requests, int active_retries, unsigned budget_percent)
{
    if (!budget_percent)
        return false;
    int64_t reqs = active_requests > 0 ? active_requests : 0;
    int64_t limit = reqs * (int64_t)budget_percent / 100;
    if (limit < MRD_RETRY_MIN_CONCURRENT)
        limit = MRD_RETRY_MIN_CONCURRENT;
    return (int64_t)active_retries < limit;
}

uint64_t mrd_ejection_ms(unsigned n, uint64_t base_ms, uint64_t max_ms)
{
    if (!n)
        return 0;
    if (base_ms > max_ms / n) /* n x base > max, checked without overflowing */
        return max_ms;
    return base_ms * n;
}

uint64_t mrd_ewma_us(uint64_t old_us, uint64_t sample_us)
{
    if (!old_us)
        return sample_us ? sample_us : 1;
    uint64_t v =
        sample_us >= old_us ? old_us + (sample_us - old_us) / 4 : old_us - (old_us - sample_us) / 4;
    return v ? v : 1;
}

/* ---- session affinity ------------------------------------------------------------------- */

uint64_t mrd_affinity_id(const struct mrd_cfg_pool *p, const struct mrd_cfg_origin *o)
{
    return policy_name_hash(p, o);
}

int mrd_policy_find_origin(const struct mrd_cfg_pool *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_origins; i++)
        if (mrd_affinity_id(p, &p->origins[i]) == id)
            return (int)i;
    return -1;
}

void mrd_affinity_encode(uint64_t id, char out[MRD_AFFINITY_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = MRD_AFFINITY_HEX_LEN - 1; i >= 0; i--) {
        out[i] = hex[id & 15];
        id >>= 4;
    }
    out[MRD_AFFINITY_HEX_LEN] = '\0';
}

int mrd_affinity_decode(const char *s, size_t len, uint64_t *id)
{
    uint64_t v = 0;

    if (!s || len != MRD_AFFINITY_HEX_LEN)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return -1; /* upper case too: we only ever write lower case */
        v = v << 4 | d;
    }
    *id = v;
    return 0;
}
