/* Unit tests of src/lb/policy: origin steering, pool steering, retry rules, ejection back-off,
 * latency EWMA and affinity ids. Pools are built by hand with their runtime state; the clock
 * and the RNG are fixed, so every run draws the same numbers. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "geo/geo.h"
#include "health/state.h"
#include "lb/lb.h"
#include "lb/policy.h"
#include "test.h"

#define NOW 1000000 /* ms, the injected clock */
#define DRAWS 10000

/* ---- fixtures --------------------------------------------------------------------------- */

struct tpool {
    struct mrd_cfg_pool pool;
    struct mrd_pool_rt prt;
    struct mrd_origin_rt *rt;
    int64_t rr[16];
};

static uint32_t next_flat; /* flat indices stay unique across every pool of a test */

/* A pool of <n> healthy, enabled origins "o0".."o<n-1>" with <weights> (NULL = all 1). */
static struct tpool *tpool_new(const char *name, size_t n, const uint32_t *weights,
                               enum mrd_cfg_origin_steering steering)
{
    struct tpool *t = calloc(1, sizeof(*t));
    t->pool.name = name;
    t->pool.origin_steering = steering;
    t->pool.n_origins = n;
    t->pool.origins = calloc(n, sizeof(*t->pool.origins));
    t->pool.minimum_origins = 1;
    t->pool.region = -1;
    t->pool.rt = &t->prt;
    t->rt = calloc(n, sizeof(*t->rt));
    for (size_t i = 0; i < n; i++) {
        struct mrd_cfg_origin *o = &t->pool.origins[i];
        char *nm = malloc(24);
        snprintf(nm, 24, "o%zu", i);
        o->name = nm;
        o->weight = weights ? weights[i] : 1;
        o->enabled = true;
        o->flat = next_flat++;
        o->rt = &t->rt[i];
        atomic_store(&t->rt[i].admin_enabled, -1);
        atomic_store(&t->rt[i].admin_weight, -1);
        atomic_store(&t->rt[i].mon_healthy, true);
    }
    return t;
}

static void tpool_free(struct tpool *t)
{
    for (size_t i = 0; i < t->pool.n_origins; i++)
        free((char *)t->pool.origins[i].name);
    free(t->pool.origins);
    free(t->rt);
    free(t);
}

static void set_load(struct tpool *t, size_t i, int in_flight, int tunnels)
{
    atomic_store(&t->rt[i].in_flight, in_flight);
    atomic_store(&t->rt[i].tunnels, tunnels);
}

static struct mrd_pick pick_init(uint64_t *rng, struct tpool *t)
{
    struct mrd_pick pk = {.now_ms = NOW, .rng = rng, .rr = t ? t->rr : NULL};
    return pk;
}

/* Picks DRAWS times and counts the winners in <count> (n + 1 slots, the last one for -1). */
static void draw_many(struct tpool *t, struct mrd_pick *pk, int *count)
{
    memset(count, 0, (t->pool.n_origins + 1) * sizeof(*count));
    for (int i = 0; i < DRAWS; i++) {
        int oi = mrd_policy_pick_origin(&t->pool, pk);
        count[oi < 0 ? (int)t->pool.n_origins : oi]++;
    }
}

/* |share - want| <= 3 points, share of DRAWS. */
static int near_pct(int count, double want_pct, int total)
{
    double got = 100.0 * count / total;
    if (got < want_pct - 3 || got > want_pct + 3) {
        fprintf(stderr, "  share %.2f%%, expected %.2f%% +- 3\n", got, want_pct);
        return 0;
    }
    return 1;
}

static uint64_t splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* ---- origin steering -------------------------------------------------------------------- */

static void test_random_shares(void)
{
    static const uint32_t w[] = {1, 2, 3, 4};
    struct tpool *t = tpool_new("p", 4, w, MRD_STEER_RANDOM);
    uint64_t rng = 42;
    struct mrd_pick pk = pick_init(&rng, t);
    int c[5];

    draw_many(t, &pk, c);
    for (int i = 0; i < 4; i++)
        CHECK(near_pct(c[i], 10.0 * (i + 1), DRAWS));
    CHECK_EQ_INT(c[4], 0);

    /* Admin weight overrides the configured one. */
    atomic_store(&t->rt[0].admin_weight, 6);
    draw_many(t, &pk, c);
    CHECK(near_pct(c[0], 40, DRAWS));
    CHECK(near_pct(c[3], 26.67, DRAWS));
    tpool_free(t);
}

static void test_round_robin(void)
{
    static const uint32_t w[] = {5, 1, 1};
    struct tpool *t = tpool_new("p", 3, w, MRD_STEER_ROUND_ROBIN);
    uint64_t rng = 1;
    struct mrd_pick pk = pick_init(&rng, t);
    int seq[7], c[4];

    /* Smooth: the heavy origin is interleaved (a a b a c a a), never five in a row. */
    static const int want[7] = {0, 0, 1, 0, 2, 0, 0};
    for (int i = 0; i < 7; i++)
        seq[i] = mrd_policy_pick_origin(&t->pool, &pk);
    for (int i = 0; i < 7; i++)
        CHECK_EQ_INT(seq[i], want[i]);

    /* Exact shares over whole rounds (7 picks each; 10003 = 1429 rounds). */
    memset(c, 0, sizeof(c));
    for (int i = 0; i < 7 * 1429; i++)
        c[mrd_policy_pick_origin(&t->pool, &pk)]++;
    CHECK_EQ_INT(c[0], 5 * 1429);
    CHECK_EQ_INT(c[1], 1429);
    CHECK_EQ_INT(c[2], 1429);

    /* An excluded origin is skipped and the others share its turns by weight. */
    uint32_t ex = t->pool.origins[0].flat;
    pk.exclude = &ex;
    pk.n_exclude = 1;
    memset(c, 0, sizeof(c));
    for (int i = 0; i < 100; i++)
        c[mrd_policy_pick_origin(&t->pool, &pk)]++;
    CHECK_EQ_INT(c[0], 0);
    CHECK_EQ_INT(c[1], 50);
    CHECK_EQ_INT(c[2], 50);
    tpool_free(t);
}

static void test_lor(void)
{
    struct tpool *t = tpool_new("p", 4, NULL, MRD_STEER_LOR);
    uint64_t rng = 7;
    struct mrd_pick pk = pick_init(&rng, t);
    int c[5];

    /* The idle origin is in half of the pairs and wins each: ~50% instead of 25%. */
    set_load(t, 0, 0, 0);
    for (int i = 1; i < 4; i++)
        set_load(t, (size_t)i, 10, 0);
    draw_many(t, &pk, c);
    CHECK(near_pct(c[0], 50, DRAWS));

    /* The most loaded origin loses every pair it is in. */
    for (int i = 0; i < 4; i++)
        set_load(t, (size_t)i, i, 0);
    draw_many(t, &pk, c);
    CHECK_EQ_INT(c[3], 0);
    CHECK(c[0] > c[1] && c[1] > c[2]);
    /* Tunnels do not count for least outstanding requests. */
    set_load(t, 3, 3, 0);
    set_load(t, 0, 0, 100);
    draw_many(t, &pk, c);
    CHECK_EQ_INT(c[3], 0);
    CHECK(near_pct(c[0], 50, DRAWS));
    tpool_free(t);

    /* Equal load: the first draw wins the tie, so shares follow the weights. */
    static const uint32_t w13[] = {1, 3};
    t = tpool_new("p", 2, w13, MRD_STEER_LOR);
    pk = pick_init(&rng, t);
    draw_many(t, &pk, c);
    CHECK(near_pct(c[0], 25, DRAWS));
    CHECK(near_pct(c[1], 75, DRAWS));
    /* Load is per unit of weight: 3 on weight 4 beats 1 on weight 1. */
    tpool_free(t);
    static const uint32_t w14[] = {1, 4};
    t = tpool_new("p", 2, w14, MRD_STEER_LOR);
    pk = pick_init(&rng, t);
    set_load(t, 0, 1, 0);
    set_load(t, 1, 3, 0);
    draw_many(t, &pk, c);
    CHECK_EQ_INT(c[1], DRAWS);
    /* One candidate: it, whatever its load. */
    atomic_store(&t->rt[1].draining, true);
    draw_many(t, &pk, c);
    CHECK_EQ_INT(c[0], DRAWS);
    tpool_free(t);
}

static void test_least_conn(void)
{
    struct tpool *t = tpool_new("p", 3, NULL, MRD_STEER_LEAST_CONN);
    uint64_t rng = 99;
    struct mrd_pick pk = pick_init(&rng, t);
    int c[4];

    /* Lowest in_flight + tunnels wins; a tie is split at random. */
    set_load(t, 0, 2, 0);
    set_load(t, 1, 0, 1);
    set_load(t, 2, 1, 0);
    draw_many(t, &pk, c);
    CHECK_EQ_INT(c[0], 0);
    CHECK(near_pct(c[1], 50, DRAWS));
    CHECK(near_pct(c[2], 50, DRAWS));

    /* Three-way tie: a third each (reservoir sampling is fair). */
    for (size_t i = 0; i < 3; i++)
        set_load(t, i, 4, 0);
    draw_many(t, &pk, c);
    for (int i = 0; i < 3; i++)
        CHECK(near_pct(c[i], 33.33, DRAWS));

    /* Tunnels count. */
    set_load(t, 0, 0, 5);
    set_load(t, 1, 0, 0);
    set_load(t, 2, 0, 3);
    draw_many(t, &pk, c);
    CHECK_EQ_INT(c[1], DRAWS);
    tpool_free(t);

    /* Divided by weight: 2 on weight 2 ties with 1 on weight 1; 3 on weight 2 loses. */
    static const uint32_t w[] = {2, 1};
    t = tpool_new("p", 2, w, MRD_STEER_LEAST_CONN);
    pk = pick_init(&rng, t);
    set_load(t, 0, 2, 0);
    set_load(t, 1, 1, 0);
    draw_many(t, &pk, c);
    CHECK(near_pct(c[0], 50, DRAWS));
    set_load(t, 0, 3, 0);
    draw_many(t, &pk, c);
    CHECK_EQ_INT(c[1], DRAWS);
    tpool_free(t);
}

/* Picks for keys 0..DRAWS-1 into <out>. */
static void hash_all(struct tpool *t, int *out)
{
    uint64_t rng = 5;
    struct mrd_pick pk = pick_init(&rng, t);
    for (int i = 0; i < DRAWS; i++) {
        pk.key = splitmix((uint64_t)i);
        out[i] = mrd_policy_pick_origin(&t->pool, &pk);
    }
}

static void test_hash_movement(void)
{
    static int p5[DRAWS], p4[DRAWS], p6[DRAWS];
    struct tpool *t5 = tpool_new("p", 5, NULL, MRD_STEER_HASH);
    struct tpool *t4 = tpool_new("p", 4, NULL, MRD_STEER_HASH);
    struct tpool *t6 = tpool_new("p", 6, NULL, MRD_STEER_HASH);
    int c[5] = {0}, moved = 0, bad = 0;

    hash_all(t5, p5);
    hash_all(t4, p4);
    hash_all(t6, p6);
    for (int i = 0; i < DRAWS; i++)
        c[p5[i]]++;
    for (int i = 0; i < 5; i++)
        CHECK(near_pct(c[i], 20, DRAWS));

    /* Removing o4: exactly the keys it held move, about 1/5 of them. */
    for (int i = 0; i < DRAWS; i++)
        if (p4[i] != p5[i]) {
            moved++;
            bad += p5[i] != 4;
        } else {
            bad += p5[i] == 4;
        }
    CHECK(near_pct(moved, 20, DRAWS));
    CHECK_EQ_INT(bad, 0);

    /* Adding o5: the keys that move all go to it, about 1/6 of them. */
    moved = bad = 0;
    for (int i = 0; i < DRAWS; i++)
        if (p6[i] != p5[i]) {
            moved++;
            bad += p6[i] != 5;
        } else {
            bad += p6[i] == 5;
        }
    CHECK(near_pct(moved, 100.0 / 6, DRAWS));
    CHECK_EQ_INT(bad, 0);

    /* The same key lands on the same origin every time (no RNG involved). */
    int again[DRAWS];
    hash_all(t5, again);
    CHECK(!memcmp(again, p5, sizeof(again)));
    tpool_free(t4);
    tpool_free(t5);
    tpool_free(t6);

    /* Weighted: a weight-3 origin gets three times the keys. */
    static const uint32_t w[] = {1, 3};
    struct tpool *tw = tpool_new("p", 2, w, MRD_STEER_HASH);
    hash_all(tw, p5);
    int c1 = 0;
    for (int i = 0; i < DRAWS; i++)
        c1 += p5[i] == 1;
    CHECK(near_pct(c1, 75, DRAWS));
    tpool_free(tw);
}

static void test_hash_bounded_load(void)
{
    static int base[DRAWS], loaded[DRAWS];
    struct tpool *t = tpool_new("p", 5, NULL, MRD_STEER_HASH);
    int lost = 0, kept_wrong = 0, n_on_2 = 0;

    hash_all(t, base);
    /* o2 carries 10 of 10: bound = ceil(1.25 * 11 / 5) = 3, so it is skipped. */
    set_load(t, 2, 10, 0);
    hash_all(t, loaded);
    for (int i = 0; i < DRAWS; i++) {
        n_on_2 += base[i] == 2;
        lost += loaded[i] == 2;
        kept_wrong += base[i] != 2 && loaded[i] != base[i];
    }
    CHECK(n_on_2 > 0);
    CHECK_EQ_INT(lost, 0);
    CHECK_EQ_INT(kept_wrong, 0); /* the others' keys stay where they were */
    tpool_free(t);

    /* Edges with two origins: loads {3, 1}: bound = ceil(1.25 * 5 / 2) = 4, 3 < 4 keeps it;
     * loads {4, 0}: bound 4, 4 is at the bound and is skipped. */
    t = tpool_new("p", 2, NULL, MRD_STEER_HASH);
    hash_all(t, base);
    int k0 = -1;
    for (int i = 0; i < DRAWS && k0 < 0; i++)
        if (base[i] == 0)
            k0 = i;
    CHECK(k0 >= 0);
    uint64_t rng = 3;
    struct mrd_pick pk = pick_init(&rng, t);
    pk.key = splitmix((uint64_t)k0);
    set_load(t, 0, 3, 0);
    set_load(t, 1, 1, 0);
    CHECK_EQ_INT(mrd_policy_pick_origin(&t->pool, &pk), 0);
    set_load(t, 0, 4, 0);
    set_load(t, 1, 0, 0);
    CHECK_EQ_INT(mrd_policy_pick_origin(&t->pool, &pk), 1);
    /* Tunnels are load too: 3 requests + 1 tunnel against 0 is at the bound. */
    set_load(t, 0, 3, 1);
    CHECK_EQ_INT(mrd_policy_pick_origin(&t->pool, &pk), 1);
    /* Its only rival gone, the loaded origin still serves (bound over one candidate). */
    atomic_store(&t->rt[1].mon_healthy, false);
    CHECK_EQ_INT(mrd_policy_pick_origin(&t->pool, &pk), 0);
    tpool_free(t);
}

/* Every steering policy picks origin <want> of <t>, whatever the key and the draws. */
static int only_one(struct tpool *t, struct mrd_pick *pk, int want)
{
    int c[4];
    int ok = 1;
    for (int s = MRD_STEER_RANDOM; s <= MRD_STEER_HASH; s++) {
        t->pool.origin_steering = (enum mrd_cfg_origin_steering)s;
        memset(c, 0, sizeof(c));
        for (int i = 0; i < 300; i++) {
            pk->key = splitmix((uint64_t)i);
            int oi = mrd_policy_pick_origin(&t->pool, pk);
            c[oi < 0 ? 3 : oi]++;
        }
        if (c[want] != 300) {
            fprintf(stderr, "  steering %d: %d %d %d none %d\n", s, c[0], c[1], c[2], c[3]);
            ok = 0;
        }
    }
    return ok;
}

static int none_left(struct tpool *t, struct mrd_pick *pk)
{
    for (int s = MRD_STEER_RANDOM; s <= MRD_STEER_HASH; s++) {
        t->pool.origin_steering = (enum mrd_cfg_origin_steering)s;
        if (mrd_policy_pick_origin(&t->pool, pk) != -1)
            return 0;
    }
    return 1;
}

enum filt {
    F_UNHEALTHY,
    F_EJECTED,
    F_ADMIN_OFF,
    F_CFG_OFF,
    F_DRAINING,
    F_WEIGHT0,
    F_ADMIN_W0,
    F_FULL,
    F_COUNT
};

static void apply(struct tpool *t, size_t i, enum filt f, bool on)
{
    struct mrd_cfg_origin *o = &t->pool.origins[i];
    struct mrd_origin_rt *r = &t->rt[i];
    switch (f) {
    case F_UNHEALTHY:
        atomic_store(&r->mon_healthy, !on);
        break;
    case F_EJECTED:
        atomic_store(&r->ejected_until_ms, on ? NOW + 1 : 0);
        break;
    case F_ADMIN_OFF:
        atomic_store(&r->admin_enabled, on ? 0 : -1);
        break;
    case F_CFG_OFF:
        o->enabled = !on;
        break;
    case F_DRAINING:
        atomic_store(&r->draining, on);
        break;
    case F_WEIGHT0:
        o->weight = on ? 0 : 1;
        break;
    case F_ADMIN_W0:
        atomic_store(&r->admin_weight, on ? 0 : -1);
        break;
    case F_FULL:
        o->max_in_flight = on ? 2 : 0;
        atomic_store(&r->in_flight, on ? 2 : 0);
        break;
    case F_COUNT:
        break;
    }
}

/* Each filter on origins 0 and 1 of a 3-origin pool leaves only origin 2, under every
 * steering policy; then ignore_health decides whether origin 0 comes back. */
static void test_filters(void)
{
    struct tpool *t = tpool_new("p", 3, NULL, MRD_STEER_RANDOM);
    uint64_t rng = 11;
    struct mrd_pick pk = pick_init(&rng, t);

    for (int f = 0; f < F_COUNT; f++) {
        apply(t, 0, (enum filt)f, true);
        apply(t, 1, (enum filt)f, true);
        int ok = only_one(t, &pk, 2);
        if (!ok)
            fprintf(stderr, "  filter %d\n", f);
        CHECK(ok);
        /* Fallback: health (monitor, ejection) is ignored; nothing else is. */
        pk.ignore_health = true;
        memset(t->rr, 0, sizeof(t->rr));
        int c0 = 0;
        t->pool.origin_steering = MRD_STEER_ROUND_ROBIN;
        for (int i = 0; i < 30; i++)
            c0 += mrd_policy_pick_origin(&t->pool, &pk) == 0;
        if (f == F_UNHEALTHY || f == F_EJECTED)
            CHECK_EQ_INT(c0, 10);
        else
            CHECK_EQ_INT(c0, 0);
        pk.ignore_health = false;
        apply(t, 2, (enum filt)f, true);
        CHECK(none_left(t, &pk));
        for (size_t i = 0; i < 3; i++)
            apply(t, i, (enum filt)f, false);
    }

    /* An ejection ends at ejected_until_ms itself. */
    atomic_store(&t->rt[0].ejected_until_ms, NOW);
    atomic_store(&t->rt[1].ejected_until_ms, NOW + 1);
    atomic_store(&t->rt[2].ejected_until_ms, NOW + 1);
    t->pool.origin_steering = MRD_STEER_RANDOM;
    CHECK_EQ_INT(mrd_policy_pick_origin(&t->pool, &pk), 0);
    for (size_t i = 0; i < 3; i++)
        atomic_store(&t->rt[i].ejected_until_ms, 0);

    /* admin_enabled = 1 overrides enabled: false in the file. */
    t->pool.origins[0].enabled = false;
    t->pool.origins[1].enabled = false;
    atomic_store(&t->rt[1].admin_enabled, 1);
    atomic_store(&t->rt[2].admin_enabled, 0);
    CHECK_EQ_INT(mrd_policy_pick_origin(&t->pool, &pk), 1);
    t->pool.origins[0].enabled = t->pool.origins[1].enabled = true;
    atomic_store(&t->rt[1].admin_enabled, -1);
    atomic_store(&t->rt[2].admin_enabled, -1);

    /* max_in_flight: below it the origin is a candidate. */
    t->pool.origins[0].max_in_flight = 3;
    set_load(t, 0, 2, 0);
    uint32_t ex[2] = {t->pool.origins[1].flat, t->pool.origins[2].flat};
    pk.exclude = ex;
    pk.n_exclude = 2;
    CHECK_EQ_INT(mrd_policy_pick_origin(&t->pool, &pk), 0);
    set_load(t, 0, 3, 0);
    CHECK_EQ_INT(mrd_policy_pick_origin(&t->pool, &pk), -1);
    set_load(t, 0, 0, 0);

    /* Exclusion is by flat index: another pool's origin with the same position is not hit. */
    struct tpool *other = tpool_new("q", 3, NULL, MRD_STEER_RANDOM);
    uint32_t ex_other[3] = {other->pool.origins[0].flat, other->pool.origins[1].flat,
                            other->pool.origins[2].flat};
    pk.exclude = ex_other;
    pk.n_exclude = 3;
    CHECK(mrd_policy_pick_origin(&t->pool, &pk) >= 0);
    CHECK_EQ_INT(mrd_policy_pick_origin(&other->pool, &pk), -1);
    pk.exclude = ex;
    pk.n_exclude = 2;
    CHECK(only_one(t, &pk, 0));
    tpool_free(other);
    tpool_free(t);
}

/* ---- pool steering ---------------------------------------------------------------------- */

struct tlb {
    struct mrd_cfg_lb lb;
    struct tpool *p[4]; /* A, B, C, D */
    struct mrd_cfg_pool *all[4];
    double pw[4];
};

static struct tlb *tlb_new(enum mrd_cfg_steering pol)
{
    static const char *names[] = {"A", "B", "C", "D"};
    struct tlb *t = calloc(1, sizeof(*t));
    for (int i = 0; i < 4; i++) {
        t->p[i] = tpool_new(names[i], 2, NULL, MRD_STEER_RANDOM);
        t->p[i]->pool.index = (uint32_t)i;
        t->all[i] = &t->p[i]->pool;
        t->pw[i] = 1;
    }
    t->lb.name = "lb";
    t->lb.steering_policy = pol;
    t->lb.default_pools = t->all;
    t->lb.n_default_pools = 3; /* A B C; D only in rules and maps */
    t->lb.random_steering.default_weight = 1;
    t->lb.random_steering.pool_weights = t->pw;
    return t;
}

static void tlb_free(struct tlb *t)
{
    for (int i = 0; i < 4; i++)
        tpool_free(t->p[i]);
    free(t);
}

/* The order as a string of pool names, "ABC". */
static const char *order_str(struct tlb *t, const struct mrd_cfg_pool *const *pools, size_t n,
                             bool from_rule, const struct mrd_geo_info *geo, size_t cap)
{
    static char s[MRD_POLICY_MAX_POOLS + 1];
    const struct mrd_cfg_pool *out[MRD_POLICY_MAX_POOLS];
    uint64_t rng = 17;
    size_t k = mrd_policy_order_pools(&t->lb, pools, n, from_rule, geo, NOW, &rng, out, cap);
    for (size_t i = 0; i < k; i++)
        s[i] = out[i]->name[0];
    s[k] = '\0';
    return s;
}

static void test_pools_off(void)
{
    struct tlb *t = tlb_new(MRD_POOLS_OFF);
    const struct mrd_cfg_pool *rule[] = {t->all[3], t->all[0]};
    struct mrd_geo_info sg = {"SG", MRD_REGION_SEAS, true, 1.35, 103.82};

    CHECK_STR(order_str(t, NULL, 0, false, NULL, 8), "ABC");
    CHECK_STR(order_str(t, (const struct mrd_cfg_pool *const *)t->all, 3, false, &sg, 8), "ABC");
    CHECK_STR(order_str(t, rule, 2, true, &sg, 8), "DA");
    CHECK_STR(order_str(t, NULL, 0, false, NULL, 2), "AB");
    CHECK_STR(order_str(t, NULL, 0, false, NULL, 0), "");
    tlb_free(t);
}

static void test_pools_random(void)
{
    struct tlb *t = tlb_new(MRD_POOLS_RANDOM);
    const struct mrd_cfg_pool *out[4];
    uint64_t rng = 23;
    int first[4] = {0}, bad_rest = 0;

    t->pw[0] = 1;
    t->pw[1] = 0; /* never first, still a failover */
    t->pw[2] = 3;
    for (int i = 0; i < DRAWS; i++) {
        size_t k = mrd_policy_order_pools(&t->lb, NULL, 0, false, NULL, NOW, &rng, out, 4);
        if (k != 3) {
            bad_rest++;
            continue;
        }
        first[out[0]->index]++;
        /* the rest keeps the base order */
        char s[4] = {out[0]->name[0], out[1]->name[0], out[2]->name[0], 0};
        bad_rest += strcmp(s, "ABC") && strcmp(s, "CAB");
    }
    CHECK_EQ_INT(bad_rest, 0);
    CHECK_EQ_INT(first[1], 0);
    CHECK(near_pct(first[0], 25, DRAWS));
    CHECK(near_pct(first[2], 75, DRAWS));

    /* Weights come per pool index; a rule's pools are drawn the same way. */
    const struct mrd_cfg_pool *rule[] = {t->all[1], t->all[3]};
    t->pw[3] = 2;
    int d_first = 0;
    for (int i = 0; i < 1000; i++) {
        size_t k = mrd_policy_order_pools(&t->lb, rule, 2, true, NULL, NOW, &rng, out, 4);
        d_first += k == 2 && out[0] == t->all[3] && out[1] == t->all[1];
    }
    CHECK_EQ_INT(d_first, 1000);

    /* Every weight 0: the base order. No weight table: default_weight for all. */
    t->pw[0] = t->pw[1] = t->pw[2] = 0;
    CHECK_STR(order_str(t, NULL, 0, false, NULL, 4), "ABC");
    t->lb.random_steering.pool_weights = NULL;
    memset(first, 0, sizeof(first));
    for (int i = 0; i < DRAWS; i++) {
        mrd_policy_order_pools(&t->lb, NULL, 0, false, NULL, NOW, &rng, out, 4);
        first[out[0]->index]++;
    }
    for (int i = 0; i < 3; i++)
        CHECK(near_pct(first[i], 33.33, DRAWS));
    /* cap 1: only the drawn pool. */
    CHECK_EQ_INT(strlen(order_str(t, NULL, 0, false, NULL, 1)), 1);
    tlb_free(t);
}

static void test_pools_geo(void)
{
    struct tlb *t = tlb_new(MRD_POOLS_GEO);
    struct mrd_cfg_pool *jp[] = {t->all[2], t->all[0]};
    struct mrd_cfg_pool *seas[] = {t->all[1], t->all[3]};
    struct mrd_cfg_pool *weu[] = {t->all[3]};
    struct mrd_cfg_pool_map country[] = {{.key = "JP", .region = -1, .pools = jp, .n_pools = 2}};
    struct mrd_cfg_pool_map region[] = {
        {.key = "WEU", .region = MRD_REGION_WEU, .pools = weu, .n_pools = 1},
        {.key = "SEAS", .region = MRD_REGION_SEAS, .pools = seas, .n_pools = 2},
    };
    t->lb.country_pools = country;
    t->lb.n_country_pools = 1;
    t->lb.region_pools = region;
    t->lb.n_region_pools = 2;

    struct mrd_geo_info g_jp = {"JP", MRD_REGION_NEAS, false, 0, 0};
    struct mrd_geo_info g_jp_seas = {"JP", MRD_REGION_SEAS, false, 0, 0}; /* country wins */
    struct mrd_geo_info g_sg = {"SG", MRD_REGION_SEAS, false, 0, 0};
    struct mrd_geo_info g_region_only = {"", MRD_REGION_WEU, false, 0, 0};
    struct mrd_geo_info g_us = {"US", MRD_REGION_ENAM, false, 0, 0};
    struct mrd_geo_info g_unknown = {"", -1, false, 0, 0};

    CHECK_STR(order_str(t, NULL, 0, false, &g_jp, 8), "CA");
    CHECK_STR(order_str(t, NULL, 0, false, &g_jp_seas, 8), "CA");
    CHECK_STR(order_str(t, NULL, 0, false, &g_sg, 8), "BD");
    CHECK_STR(order_str(t, NULL, 0, false, &g_region_only, 8), "D");
    CHECK_STR(order_str(t, NULL, 0, false, &g_us, 8), "ABC");
    CHECK_STR(order_str(t, NULL, 0, false, &g_unknown, 8), "ABC");
    CHECK_STR(order_str(t, NULL, 0, false, NULL, 8), "ABC");
    /* A rule's pools are the order; geo maps do not apply to them. */
    const struct mrd_cfg_pool *rule[] = {t->all[0], t->all[1]};
    CHECK_STR(order_str(t, rule, 2, true, &g_jp, 8), "AB");
    CHECK_STR(order_str(t, NULL, 0, false, &g_jp, 1), "C");
    tlb_free(t);
}

static void set_coords(struct tpool *p, double lat, double lon)
{
    p->pool.has_coords = true;
    p->pool.latitude = lat;
    p->pool.longitude = lon;
}

static void test_pools_proximity(void)
{
    struct tlb *t = tlb_new(MRD_POOLS_PROXIMITY);
    /* A: no coordinates; B: WEU (Frankfurt); C: SEAS (Singapore); D: ENAM (Ashburn). */
    set_coords(t->p[1], 50.11, 8.68);
    set_coords(t->p[2], 1.35, 103.82);
    set_coords(t->p[3], 39.04, -77.49);
    const struct mrd_cfg_pool *all4[] = {t->all[0], t->all[1], t->all[2], t->all[3]};
    struct mrd_geo_info paris = {"FR", MRD_REGION_WEU, true, 48.86, 2.35};
    struct mrd_geo_info singapore = {"SG", MRD_REGION_SEAS, true, 1.29, 103.85};
    struct mrd_geo_info nyc = {"US", MRD_REGION_ENAM, true, 40.71, -74.01};
    struct mrd_geo_info nocoords = {"FR", MRD_REGION_WEU, false, 0, 0};

    CHECK_STR(order_str(t, NULL, 0, false, &paris, 8), "BCA");
    CHECK_STR(order_str(t, NULL, 0, false, &singapore, 8), "CBA");
    CHECK_STR(order_str(t, all4, 4, true, &paris, 8), "BDCA");
    CHECK_STR(order_str(t, all4, 4, true, &singapore, 8), "CBDA");
    CHECK_STR(order_str(t, all4, 4, true, &nyc, 8), "DBCA");
    /* Unknown location: the base order. */
    CHECK_STR(order_str(t, NULL, 0, false, &nocoords, 8), "ABC");
    CHECK_STR(order_str(t, NULL, 0, false, NULL, 8), "ABC");
    /* cap keeps the nearest ones. */
    CHECK_STR(order_str(t, all4, 4, true, &singapore, 2), "CB");
    /* Same coordinates: stable. */
    set_coords(t->p[3], 50.11, 8.68);
    const struct mrd_cfg_pool *db[] = {t->all[3], t->all[1], t->all[0]};
    CHECK_STR(order_str(t, db, 3, true, &paris, 8), "DBA");
    const struct mrd_cfg_pool *bd[] = {t->all[0], t->all[1], t->all[3]};
    CHECK_STR(order_str(t, bd, 3, true, &paris, 8), "BDA");
    tlb_free(t);
}

static void test_pools_latency(void)
{
    struct tlb *t = tlb_new(MRD_POOLS_DYNAMIC_LATENCY);
    atomic_store(&t->p[0]->prt.rtt_ewma_us, 300);
    atomic_store(&t->p[1]->prt.rtt_ewma_us, 100);
    atomic_store(&t->p[2]->prt.rtt_ewma_us, 0);
    CHECK_STR(order_str(t, NULL, 0, false, NULL, 8), "ABC"); /* C has no data yet */
    atomic_store(&t->p[2]->prt.rtt_ewma_us, 200);
    CHECK_STR(order_str(t, NULL, 0, false, NULL, 8), "BCA");
    atomic_store(&t->p[0]->prt.rtt_ewma_us, 100);
    CHECK_STR(order_str(t, NULL, 0, false, NULL, 8), "ABC"); /* tie A=B keeps the base order */
    const struct mrd_cfg_pool *rule[] = {t->all[2], t->all[1], t->all[0]};
    CHECK_STR(order_str(t, rule, 3, true, NULL, 8), "BAC");
    tlb_free(t);
}

static void test_pools_load(void)
{
    struct tlb *t = tlb_new(MRD_POOLS_LOR);
    /* A: 4+4 over weight 1+1 = 4; B: 2 over weight 2 (+ an unhealthy origin) = 1;
     * C: nothing usable, last; D: 8 over 1+1 = 4, ties with A. */
    set_load(t->p[0], 0, 4, 0);
    set_load(t->p[0], 1, 4, 0);
    t->p[1]->pool.origins[0].weight = 2;
    set_load(t->p[1], 0, 2, 0);
    atomic_store(&t->p[1]->rt[1].mon_healthy, false);
    set_load(t->p[1], 1, 100, 0); /* not usable: its load does not count */
    atomic_store(&t->p[2]->rt[0].mon_healthy, false);
    atomic_store(&t->p[2]->rt[1].draining, true);
    set_load(t->p[3], 0, 8, 0);
    const struct mrd_cfg_pool *cabd[] = {t->all[2], t->all[0], t->all[1], t->all[3]};
    const struct mrd_cfg_pool *cdba[] = {t->all[2], t->all[3], t->all[1], t->all[0]};

    CHECK_STR(order_str(t, cabd, 4, true, NULL, 8), "BADC");
    CHECK_STR(order_str(t, cdba, 4, true, NULL, 8), "BDAC");
    /* Tunnels count for least_connections only. */
    set_load(t->p[1], 0, 2, 10); /* B: 12 / 2 = 6 */
    CHECK_STR(order_str(t, cabd, 4, true, NULL, 8), "BADC");
    t->lb.steering_policy = MRD_POOLS_LEAST_CONN;
    CHECK_STR(order_str(t, cabd, 4, true, NULL, 8), "ADBC");
    /* An ejection makes an origin unusable: D's loaded origin out, D = 0 / 1. */
    atomic_store(&t->p[3]->rt[0].ejected_until_ms, NOW + 5);
    CHECK_STR(order_str(t, cabd, 4, true, NULL, 8), "DABC");
    /* Admin weight counts: A 8 / (1 + 7) = 1, still after D (0) and before B (6). */
    atomic_store(&t->p[0]->rt[1].admin_weight, 7);
    CHECK_STR(order_str(t, cabd, 4, true, NULL, 8), "DABC");
    tlb_free(t);
}

/* ---- retries, ejection, EWMA ------------------------------------------------------------ */

static void test_retry_rules(void)
{
    static const char *idem[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    static const char *not_idem[] = {"POST", "PATCH", "CONNECT", "get", "PROPFIND", ""};

    CHECK_STR(mrd_attempt_state_name(MRD_ATTEMPT_NOT_SENT), "not_sent");
    CHECK_STR(mrd_attempt_state_name(MRD_ATTEMPT_SENT_NO_RESPONSE), "sent_no_response");
    CHECK_STR(mrd_attempt_state_name(MRD_ATTEMPT_RESPONSE_STARTED), "response_started");
    CHECK_STR(mrd_attempt_state_name((enum mrd_attempt_state)9), "unknown");
    for (size_t i = 0; i < 6; i++) {
        CHECK(mrd_retry_allowed(MRD_ATTEMPT_NOT_SENT, idem[i]));
        CHECK(mrd_retry_allowed(MRD_ATTEMPT_SENT_NO_RESPONSE, idem[i]));
        CHECK(!mrd_retry_allowed(MRD_ATTEMPT_RESPONSE_STARTED, idem[i]));
        CHECK(mrd_retry_allowed(MRD_ATTEMPT_NOT_SENT, not_idem[i]));
        CHECK(!mrd_retry_allowed(MRD_ATTEMPT_SENT_NO_RESPONSE, not_idem[i]));
        CHECK(!mrd_retry_allowed(MRD_ATTEMPT_RESPONSE_STARTED, not_idem[i]));
    }
    CHECK(mrd_retry_allowed(MRD_ATTEMPT_NOT_SENT, NULL));
    CHECK(!mrd_retry_allowed(MRD_ATTEMPT_SENT_NO_RESPONSE, NULL));
    CHECK(!mrd_retry_allowed(MRD_ATTEMPT_SENT_NO_RESPONSE, "GETX"));
}

static void test_retry_budget(void)
{
    /* The floor of 10 concurrent retries. */
    CHECK(mrd_retry_budget_ok(0, 0, 20));
    CHECK(mrd_retry_budget_ok(0, 9, 20));
    CHECK(!mrd_retry_budget_ok(0, 10, 20));
    CHECK(mrd_retry_budget_ok(10, 9, 20)); /* 10 x 20% = 2 < 10 */
    CHECK(!mrd_retry_budget_ok(10, 10, 20));
    /* The percentage above it. */
    CHECK(mrd_retry_budget_ok(100, 19, 20));
    CHECK(!mrd_retry_budget_ok(100, 20, 20));
    CHECK(mrd_retry_budget_ok(59, 10, 20)); /* 11.8 rounds down to 11 */
    CHECK(!mrd_retry_budget_ok(59, 11, 20));
    CHECK(mrd_retry_budget_ok(50, 49, 100));
    CHECK(!mrd_retry_budget_ok(50, 50, 100));
    CHECK(mrd_retry_budget_ok(INT_MAX, INT_MAX - 1, 100)); /* no overflow */
    CHECK(!mrd_retry_budget_ok(INT_MAX, INT_MAX, 100));
    /* 0 = no retries at all, even with no traffic. */
    CHECK(!mrd_retry_budget_ok(0, 0, 0));
    CHECK(!mrd_retry_budget_ok(1000, 0, 0));
    /* Racy counters below zero read as zero traffic. */
    CHECK(mrd_retry_budget_ok(-5, -1, 20));
    CHECK(!mrd_retry_budget_ok(-5, 10, 20));
}

static void test_ejection(void)
{
    CHECK_EQ_INT(mrd_ejection_ms(0, 30000, 300000), 0);
    CHECK_EQ_INT(mrd_ejection_ms(1, 30000, 300000), 30000);
    CHECK_EQ_INT(mrd_ejection_ms(3, 30000, 300000), 90000);
    CHECK_EQ_INT(mrd_ejection_ms(10, 30000, 300000), 300000);
    CHECK_EQ_INT(mrd_ejection_ms(11, 30000, 300000), 300000);
    CHECK_EQ_INT(mrd_ejection_ms(1, 500000, 300000), 300000); /* base above the cap */
    CHECK(mrd_ejection_ms(UINT_MAX, UINT64_MAX / 2, UINT64_MAX) == UINT64_MAX);
    CHECK(mrd_ejection_ms(4, 1ULL << 62, UINT64_MAX) == UINT64_MAX); /* 2^64 wraps to 0 */
    CHECK(mrd_ejection_ms(3, 1ULL << 62, UINT64_MAX) == 3ULL << 62);
    CHECK_EQ_INT(mrd_ejection_ms(UINT_MAX, 0, 300000), 0);
}

static void test_ewma(void)
{
    CHECK_EQ_INT(mrd_ewma_us(0, 500), 500);
    CHECK_EQ_INT(mrd_ewma_us(0, 0), 1); /* a 0 us sample is data, not "no data" */
    CHECK_EQ_INT(mrd_ewma_us(100, 200), 125);
    CHECK_EQ_INT(mrd_ewma_us(200, 100), 175);
    CHECK_EQ_INT(mrd_ewma_us(100, 100), 100);
    CHECK_EQ_INT(mrd_ewma_us(4, 0), 3);
    CHECK_EQ_INT(mrd_ewma_us(1, 0), 1);
    CHECK(mrd_ewma_us(UINT64_MAX - 3, UINT64_MAX) == UINT64_MAX - 3); /* no overflow */
    CHECK(mrd_ewma_us(UINT64_MAX, 0) == UINT64_MAX - UINT64_MAX / 4);
    uint64_t v = 100;
    for (int i = 0; i < 40; i++)
        v = mrd_ewma_us(v, 1000);
    CHECK(v >= 997 && v <= 1000);
}

/* ---- affinity ------------------------------------------------------------------------- */

static void test_affinity(void)
{
    struct tpool *t = tpool_new("eu-west", 3, NULL, MRD_STEER_RANDOM);
    struct tpool *again = tpool_new("eu-west", 3, NULL, MRD_STEER_RANDOM); /* a reload */
    struct tpool *other = tpool_new("ap", 3, NULL, MRD_STEER_RANDOM);
    char hex[MRD_AFFINITY_HEX_LEN + 1];
    uint64_t id;

    CHECK(mrd_affinity_id(&t->pool, &t->pool.origins[1]) == XXH64("eu-west/o1", 10, 0));
    CHECK(mrd_affinity_id(&t->pool, &t->pool.origins[0]) !=
          mrd_affinity_id(&t->pool, &t->pool.origins[1]));
    CHECK(mrd_affinity_id(&other->pool, &other->pool.origins[0]) !=
          mrd_affinity_id(&t->pool, &t->pool.origins[0]));
    for (size_t i = 0; i < 3; i++) {
        uint64_t a = mrd_affinity_id(&t->pool, &t->pool.origins[i]);
        CHECK(a == mrd_affinity_id(&again->pool, &again->pool.origins[i]));
        mrd_affinity_encode(a, hex);
        CHECK_EQ_INT(strlen(hex), 16);
        CHECK_EQ_INT(mrd_affinity_decode(hex, strlen(hex), &id), 0);
        CHECK(id == a);
        CHECK_EQ_INT(mrd_policy_find_origin(&again->pool, id), (long long)i);
        CHECK_EQ_INT(mrd_policy_find_origin(&other->pool, id), -1);
    }
    /* Reordered origins: the id follows the name, not the position. */
    struct mrd_cfg_origin tmp = again->pool.origins[0];
    again->pool.origins[0] = again->pool.origins[2];
    again->pool.origins[2] = tmp;
    CHECK_EQ_INT(
        mrd_policy_find_origin(&again->pool, mrd_affinity_id(&t->pool, &t->pool.origins[0])), 2);

    mrd_affinity_encode(0x0123456789abcdefULL, hex);
    CHECK_STR(hex, "0123456789abcdef");
    mrd_affinity_encode(0, hex);
    CHECK_STR(hex, "0000000000000000");
    CHECK_EQ_INT(mrd_affinity_decode("ffffffffffffffff", 16, &id), 0);
    CHECK(id == UINT64_MAX);

    id = 77;
    static const char *bad[] = {
        "0123456789abcde",  "0123456789abcdef0", "0123456789ABCDEF", "0123456789abcdeg",
        " 123456789abcdef", "0x23456789abcdef",  "-123456789abcdef", "",
        "0123456789abcde\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_INT(mrd_affinity_decode(bad[i], strlen(bad[i]), &id), -1);
    CHECK_EQ_INT(mrd_affinity_decode("0123456789abcde\0", 16, &id), -1); /* embedded NUL */
    CHECK_EQ_INT(mrd_affinity_decode(NULL, 16, &id), -1);
    /* A longer buffer is fine as long as the given length is 16. */
    CHECK_EQ_INT(mrd_affinity_decode("00000000000000ffXYZ", 16, &id), 0);
    CHECK(id == 255);
    tpool_free(t);
    tpool_free(again);
    tpool_free(other);
}

TEST_MAIN(test_random_shares(); test_round_robin(); test_lor(); test_least_conn();
          test_hash_movement(); test_hash_bounded_load(); test_filters(); test_pools_off();
          test_pools_random(); test_pools_geo(); test_pools_proximity(); test_pools_latency();
          test_pools_load(); test_retry_rules(); test_retry_budget(); test_ejection(); test_ewma();
          test_affinity())
