/* Runtime state: binding across generations, health predicates, passive ejection. */
#include <stdlib.h>

#include "config/config.h"
#include "health/state.h"
#include "test.h"

static const char *CFG2 =
    "server: {listen: [{address: \"127.0.0.1:18999\"}]}\n"
    "pools:\n"
    "  p:\n"
    "    minimum_origins: 1\n"
    "    origins:\n"
    "      - {name: a, address: \"127.0.0.1:1\"}\n"
    "      - {name: b, address: \"127.0.0.1:2\", weight: 3}\n"
    "load_balancers:\n"
    "  lb: {hostnames: [\"*\"], default_pools: [p]}\n";

static struct mrd_cfg *load(const char *text)
{
    struct mrd_cfg_errors errs = { 0 };
    struct mrd_cfg *cfg = mrd_cfg_load_string("t.yaml", text, strlen(text), &errs);
    if (!cfg)
        mrd_cfg_errors_print(&errs, stderr);
    mrd_cfg_errors_free(&errs);
    return cfg;
}

static void test_bind_survives_reload(void)
{
    struct mrd_cfg *a = load(CFG2), *b = load(CFG2);
    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_EQ_INT(mrd_rt_bind(a), 0);
    struct mrd_cfg_origin *oa = &a->pools[0].origins[1];
    atomic_store(&oa->rt->admin_weight, 7);
    atomic_store(&oa->rt->draining, true);
    CHECK_EQ_INT(mrd_rt_bind(b), 0);
    struct mrd_cfg_origin *ob = &b->pools[0].origins[1];
    CHECK(ob->rt == oa->rt); /* same name, same state */
    CHECK(a->lbs[0].rt == b->lbs[0].rt);
    CHECK(a->pools[0].rt == b->pools[0].rt);
    mrd_cfg_unref(a);
    CHECK_EQ_INT(mrd_origin_weight(ob), 7);
    CHECK(!mrd_origin_usable(ob, mrd_rt_now_ms()));
    CHECK(mrd_origin_healthy(ob, mrd_rt_now_ms())); /* draining is not unhealthy */
    atomic_store(&ob->rt->admin_weight, -1);
    CHECK_EQ_INT(mrd_origin_weight(ob), 3);
    mrd_cfg_unref(b);
    /* every generation gone: a new one starts fresh */
    struct mrd_cfg *c = load(CFG2);
    CHECK_EQ_INT(mrd_rt_bind(c), 0);
    CHECK(!atomic_load(&c->pools[0].origins[1].rt->draining));
    mrd_cfg_unref(c);
}

static void test_passive(void)
{
    struct mrd_cfg *cfg = load(CFG2);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_EQ_INT(mrd_rt_bind(cfg), 0);
    struct mrd_cfg_pool *p = &cfg->pools[0];
    struct mrd_cfg_origin *a = &p->origins[0], *b = &p->origins[1];
    uint64_t now = 1000000;
    CHECK_EQ_INT(p->passive.consecutive_errors, 3);
    CHECK_EQ_INT(p->passive.base_ejection_ms, 30000);
    CHECK_EQ_INT(p->passive.max_ejection_ms, 300000);
    /* resets are not counted; connect errors and timeouts are */
    for (int i = 0; i < 5; i++)
        mrd_passive_error(p, a, MRD_UERR_RESET, false, now);
    CHECK(mrd_origin_healthy(a, now));
    mrd_passive_error(p, a, MRD_UERR_CONNECT, false, now);
    mrd_passive_error(p, a, MRD_UERR_TIMEOUT, false, now);
    CHECK(mrd_origin_healthy(a, now));
    mrd_passive_error(p, a, MRD_UERR_CONNECT, false, now);
    CHECK(!mrd_origin_healthy(a, now));
    CHECK(!mrd_origin_healthy(a, now + 29999));
    CHECK(mrd_origin_healthy(a, now + 30000));
    CHECK(mrd_pool_healthy(p, now)); /* b is still there */
    /* b may not be ejected: it is the last healthy origin */
    for (int i = 0; i < 10; i++)
        mrd_passive_error(p, b, MRD_UERR_CONNECT, false, now);
    CHECK(mrd_origin_healthy(b, now));
    /* a second ejection of a lasts twice as long; the cap holds */
    now += 30000;
    for (int i = 0; i < 3; i++)
        mrd_passive_error(p, a, MRD_UERR_CONNECT, false, now);
    CHECK(!mrd_origin_healthy(a, now + 59999));
    CHECK(mrd_origin_healthy(a, now + 60000));
    for (int n = 3; n <= 12; n++) {
        now += 400000;
        for (int i = 0; i < 3; i++)
            mrd_passive_error(p, a, MRD_UERR_CONNECT, false, now);
    }
    CHECK(!mrd_origin_healthy(a, now + 299999));
    CHECK(mrd_origin_healthy(a, now + 300000));
    /* 5xx only counts when configured */
    now += 400000;
    for (int i = 0; i < 5; i++)
        mrd_passive_error(p, a, MRD_UERR_PROTOCOL, true, now);
    CHECK(mrd_origin_healthy(a, now));
    p->passive.count_5xx = true;
    for (int i = 0; i < 3; i++)
        mrd_passive_error(p, a, MRD_UERR_PROTOCOL, true, now);
    CHECK(!mrd_origin_healthy(a, now));
    /* a good answer resets the run (b's run from above is still counting until then) */
    now += 400000;
    mrd_passive_ok(b);
    mrd_passive_error(p, b, MRD_UERR_CONNECT, false, now);
    mrd_passive_error(p, b, MRD_UERR_CONNECT, false, now);
    mrd_passive_ok(b);
    mrd_passive_error(p, b, MRD_UERR_CONNECT, false, now);
    CHECK(mrd_origin_healthy(b, now));
    mrd_cfg_unref(cfg);
}

static void test_pool_minimum(void)
{
    struct mrd_cfg *cfg = load(CFG2);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_EQ_INT(mrd_rt_bind(cfg), 0);
    struct mrd_cfg_pool *p = &cfg->pools[0];
    uint64_t now = 5000;
    p->minimum_origins = 2;
    CHECK(mrd_pool_healthy(p, now));
    atomic_store(&p->origins[0].rt->mon_healthy, false);
    CHECK(!mrd_pool_healthy(p, now));
    atomic_store(&p->origins[0].rt->mon_healthy, true);
    atomic_store(&p->origins[1].rt->admin_enabled, 0);
    CHECK(!mrd_pool_healthy(p, now));
    CHECK(!mrd_origin_usable(&p->origins[1], now));
    atomic_store(&p->origins[1].rt->admin_enabled, -1);
    p->origins[0].max_in_flight = 2;
    atomic_store(&p->origins[0].rt->in_flight, 2);
    CHECK(!mrd_origin_has_room(&p->origins[0]));
    atomic_store(&p->origins[0].rt->in_flight, 1);
    CHECK(mrd_origin_has_room(&p->origins[0]));
    mrd_cfg_unref(cfg);
}

static void test_events(void)
{
    struct mrd_event_rec ev[4];
    for (int i = 0; i < 1030; i++)
        mrd_event("test", "event %d", i);
    size_t n = mrd_events_copy(ev, 4);
    CHECK_EQ_INT(n, 4);
    CHECK_STR(ev[3].msg, "event 1029");
    CHECK_STR(ev[0].msg, "event 1026");
    CHECK(ev[3].seq == ev[0].seq + 3);
    CHECK_STR(ev[0].kind, "test");
}

TEST_MAIN(test_bind_survives_reload(); test_passive(); test_pool_minimum(); test_events())
