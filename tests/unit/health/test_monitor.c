/* The monitor state machine (health/probe.h): flips, retries, jitter, code and body checks. */
#include <stdbool.h>

#include "health/probe.h"
#include "test.h"

static struct mrd_cfg_monitor mon(uint32_t up, uint32_t down, uint32_t retries)
{
    return (struct mrd_cfg_monitor){ .name = "m",
                                     .interval_ms = 5000,
                                     .timeout_ms = 2000,
                                     .retries = retries,
                                     .consecutive_up = up,
                                     .consecutive_down = down };
}

static void test_flip_down_after_exactly_n(void)
{
    struct mrd_cfg_monitor m = mon(2, 3, 0);
    struct mrd_probe_sm sm;
    mrd_probe_sm_init(&sm, true);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_COUNTED);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_COUNTED);
    CHECK(sm.healthy);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_WENT_DOWN);
    CHECK(!sm.healthy);
    CHECK_EQ_INT(sm.fail_run, 3);
    /* further failures do not flip again */
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_COUNTED);
    CHECK(!sm.healthy);
}

static void test_success_breaks_failure_run(void)
{
    struct mrd_cfg_monitor m = mon(1, 2, 0);
    struct mrd_probe_sm sm;
    mrd_probe_sm_init(&sm, true);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_COUNTED);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_COUNTED);
    CHECK_EQ_INT(sm.fail_run, 0);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_COUNTED);
    CHECK(sm.healthy);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_WENT_DOWN);
}

static void test_recovery_after_consecutive_up(void)
{
    struct mrd_cfg_monitor m = mon(3, 1, 0);
    struct mrd_probe_sm sm;
    mrd_probe_sm_init(&sm, true);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_WENT_DOWN);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_COUNTED);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_COUNTED);
    /* a failure in between restarts the run */
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_COUNTED);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_COUNTED);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_COUNTED);
    CHECK(!sm.healthy);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_WENT_UP);
    CHECK(sm.healthy);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_COUNTED);
}

static void test_starts_healthy_and_zero_thresholds(void)
{
    struct mrd_cfg_monitor m = mon(0, 0, 0); /* treated as 1 */
    struct mrd_probe_sm sm;
    mrd_probe_sm_init(&sm, true);
    CHECK(sm.healthy);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_COUNTED);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_WENT_DOWN);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_WENT_UP);
}

static void test_retries_on_timeout(void)
{
    struct mrd_cfg_monitor m = mon(1, 1, 2);
    struct mrd_probe_sm sm;
    mrd_probe_sm_init(&sm, true);
    /* two timeouts are retried without counting; the third counts as one failure */
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_TIMEOUT), MRD_PROBE_RETRY);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_TIMEOUT), MRD_PROBE_RETRY);
    CHECK_EQ_INT(sm.fail_run, 0);
    CHECK(sm.healthy);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_TIMEOUT), MRD_PROBE_WENT_DOWN);
    CHECK_EQ_INT(sm.fail_run, 1);
    CHECK_EQ_INT(sm.attempt, 0);
    /* a success on a retry ends the probe: the next timeout starts fresh retries */
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_TIMEOUT), MRD_PROBE_RETRY);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_OK), MRD_PROBE_WENT_UP);
    CHECK_EQ_INT(sm.attempt, 0);
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_TIMEOUT), MRD_PROBE_RETRY);
    /* other failures are never retried */
    struct mrd_probe_sm sm2;
    mrd_probe_sm_init(&sm2, true);
    CHECK_EQ_INT(mrd_probe_account(&sm2, &m, MRD_PROBE_FAIL), MRD_PROBE_WENT_DOWN);
    /* retries = 0: a timeout counts at once */
    struct mrd_cfg_monitor m0 = mon(1, 1, 0);
    mrd_probe_sm_init(&sm2, true);
    CHECK_EQ_INT(mrd_probe_account(&sm2, &m0, MRD_PROBE_TIMEOUT), MRD_PROBE_WENT_DOWN);
}

static void test_jitter_bounds(void)
{
    struct mrd_cfg_monitor m = mon(2, 2, 0);
    struct mrd_probe_sm sm;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    uint64_t lo = UINT64_MAX, hi = 0, first_lo = UINT64_MAX, first_hi = 0;
    mrd_probe_sm_init(&sm, true);
    for (int i = 0; i < 20000; i++) {
        uint64_t d = mrd_probe_next_delay(&sm, &m, &rng);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        uint64_t f = mrd_probe_first_delay(&m, &rng);
        first_lo = f < first_lo ? f : first_lo;
        first_hi = f > first_hi ? f : first_hi;
    }
    CHECK(lo >= 4500 && hi <= 5500);
    CHECK(lo < 4600 && hi > 5400); /* the jitter really spreads */
    CHECK(first_hi < 5000);
    CHECK(first_lo < 500 && first_hi > 4500);
}

static void test_fast_delay_after_flip_and_during_runs(void)
{
    struct mrd_cfg_monitor m = mon(2, 2, 0);
    struct mrd_probe_sm sm;
    uint64_t rng = 12345;
    mrd_probe_sm_init(&sm, true);
    mrd_probe_account(&sm, &m, MRD_PROBE_FAIL); /* a run towards down: confirm quickly */
    for (int i = 0; i < 100; i++) {
        uint64_t d = mrd_probe_next_delay(&sm, &m, &rng);
        CHECK(d >= 900 && d <= 1100);
    }
    CHECK_EQ_INT(mrd_probe_account(&sm, &m, MRD_PROBE_FAIL), MRD_PROBE_WENT_DOWN);
    uint64_t d = mrd_probe_next_delay(&sm, &m, &rng);
    CHECK(d >= 900 && d <= 1100); /* just flipped */
    mrd_probe_account(&sm, &m, MRD_PROBE_FAIL); /* still down: back to the interval */
    d = mrd_probe_next_delay(&sm, &m, &rng);
    CHECK(d >= 4500 && d <= 5500);
    mrd_probe_account(&sm, &m, MRD_PROBE_OK); /* a run towards up */
    d = mrd_probe_next_delay(&sm, &m, &rng);
    CHECK(d >= 900 && d <= 1100);
    /* an interval shorter than the fast delay is kept */
    m.interval_ms = 300;
    for (int i = 0; i < 100; i++) {
        d = mrd_probe_next_delay(&sm, &m, &rng);
        CHECK(d >= 270 && d <= 330);
    }
    m.interval_ms = 0; /* never 0 */
    CHECK(mrd_probe_next_delay(&sm, &m, &rng) >= 1);
}

static void test_detection_bound(void)
{
    /* Worst case from the origin's failure to the flip, refused connections, no retries:
     * one full (jittered) interval, then consecutive_down - 1 fast probes. */
    struct mrd_cfg_monitor m = mon(1, 3, 0);
    m.interval_ms = 1000;
    m.timeout_ms = 500;
    uint64_t rng = 777;
    for (int trial = 0; trial < 200; trial++) {
        struct mrd_probe_sm sm;
        mrd_probe_sm_init(&sm, true);
        uint64_t t = mrd_probe_next_delay(&sm, &m, &rng); /* first probe after the failure */
        while (mrd_probe_account(&sm, &m, MRD_PROBE_FAIL) != MRD_PROBE_WENT_DOWN)
            t += mrd_probe_next_delay(&sm, &m, &rng);
        CHECK(t <= m.consecutive_down * m.interval_ms + m.timeout_ms);
    }
}

static void test_codes(void)
{
    struct mrd_cfg_code_range r2xx[] = { { 200, 299 } };
    struct mrd_cfg_code_range list[] = { { 200, 200 }, { 301, 301 }, { 500, 599 } };
    struct mrd_cfg_monitor m = mon(1, 1, 0);
    char text[40];

    CHECK(mrd_probe_code_ok(&m, 200)); /* no list: 2xx */
    CHECK(mrd_probe_code_ok(&m, 299));
    CHECK(!mrd_probe_code_ok(&m, 300));
    CHECK(!mrd_probe_code_ok(&m, 199));
    mrd_probe_codes_text(&m, text, sizeof(text));
    CHECK_STR(text, "2xx");

    m.codes = r2xx;
    m.n_codes = 1;
    CHECK(mrd_probe_code_ok(&m, 204));
    CHECK(!mrd_probe_code_ok(&m, 503));
    CHECK(!mrd_probe_code_ok(&m, 0));

    m.codes = list;
    m.n_codes = 3;
    CHECK(mrd_probe_code_ok(&m, 200));
    CHECK(!mrd_probe_code_ok(&m, 201));
    CHECK(mrd_probe_code_ok(&m, 301));
    CHECK(!mrd_probe_code_ok(&m, 302));
    CHECK(mrd_probe_code_ok(&m, 503));
    mrd_probe_codes_text(&m, text, sizeof(text));
    CHECK_STR(text, "200,301,5xx");

    struct mrd_cfg_code_range odd[] = { { 200, 204 } };
    m.codes = odd;
    m.n_codes = 1;
    mrd_probe_codes_text(&m, text, sizeof(text));
    CHECK_STR(text, "200-204");
    char tiny[4];
    m.codes = list;
    m.n_codes = 3;
    mrd_probe_codes_text(&m, tiny, sizeof(tiny)); /* truncates, stays terminated */
    CHECK(strlen(tiny) < sizeof(tiny));
}

static void test_body_match(void)
{
    const char body[] = "{\"status\": \"OK\"}";
    CHECK(mrd_probe_body_has(body, sizeof(body) - 1, "ok"));
    CHECK(mrd_probe_body_has(body, sizeof(body) - 1, "STATUS"));
    CHECK(mrd_probe_body_has(body, sizeof(body) - 1, "\"ok\"}"));
    CHECK(!mrd_probe_body_has(body, sizeof(body) - 1, "okay"));
    CHECK(!mrd_probe_body_has(body, 5, "status")); /* only the first len bytes count */
    CHECK(mrd_probe_body_has(body, sizeof(body) - 1, ""));
    CHECK(mrd_probe_body_has(NULL, 0, ""));
    CHECK(!mrd_probe_body_has(NULL, 0, "x"));
    const char bin[] = { 'a', '\0', 'U', 'p' };
    CHECK(mrd_probe_body_has(bin, sizeof(bin), "up")); /* NUL bytes do not end the body */
    CHECK(!mrd_probe_body_has("o", 1, "ok"));
}

TEST_MAIN(test_flip_down_after_exactly_n(); test_success_breaks_failure_run();
          test_recovery_after_consecutive_up(); test_starts_healthy_and_zero_thresholds();
          test_retries_on_timeout(); test_jitter_bounds();
          test_fast_delay_after_flip_and_during_runs(); test_detection_bound(); test_codes();
          test_body_match())
