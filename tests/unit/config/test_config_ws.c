/* Unit tests of the WebSocket keys of src/config: load_balancers.<lb>.websocket
 * (on_origin_down, close_rate) and rules[].websocket.auto_response, their defaults, bounds
 * and every error with its place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "test.h"
#include "cfg_check.h"

#define LISTEN "server:\n  listen:\n    - address: \"127.0.0.1:8080\"\n"
#define POOL "pools:\n  p1:\n    origins:\n      - { name: a, address: \"127.0.0.1:9001\" }\n"
#define LB "load_balancers:\n  lb1:\n    hostnames: [\"example.com\"]\n    default_pools: [p1]\n"
#define BASE LISTEN POOL LB /* 11 lines: what a test appends starts at line 12 */

static void test_lb_defaults(void)
{
    struct mrd_cfg *cfg = LOAD_OK(BASE);

    if (!cfg)
        return;
    CHECK_EQ_INT(cfg->lbs[0].websocket.on_origin_down, MRD_WS_DOWN_KEEP);
    CHECK_EQ_INT(cfg->lbs[0].websocket.close_rate, 200);
    mrd_cfg_unref(cfg);
    cfg = LOAD_OK(BASE "    websocket: {}\n");
    if (cfg)
        CHECK(cfg->lbs[0].websocket.on_origin_down == MRD_WS_DOWN_KEEP &&
              cfg->lbs[0].websocket.close_rate == 200);
    mrd_cfg_unref(cfg);
}

static void test_lb_values(void)
{
    struct mrd_cfg *cfg = LOAD_OK(BASE "    websocket:\n      on_origin_down: close\n"
                                       "      close_rate: 100000\n");

    if (cfg)
        CHECK(cfg->lbs[0].websocket.on_origin_down == MRD_WS_DOWN_CLOSE &&
              cfg->lbs[0].websocket.close_rate == 100000);
    mrd_cfg_unref(cfg);
    cfg = LOAD_OK(BASE "    websocket: { on_origin_down: keep, close_rate: 1 }\n");
    if (cfg)
        CHECK(cfg->lbs[0].websocket.on_origin_down == MRD_WS_DOWN_KEEP &&
              cfg->lbs[0].websocket.close_rate == 1);
    mrd_cfg_unref(cfg);

    EXPECT_ONLY(BASE "    websocket: { on_origin_down: drop }\n", 12, 34,
                "load_balancers.lb1.websocket.on_origin_down: bad value \"drop\"; expected keep "
                "or close");
    EXPECT_ONLY(BASE "    websocket: { close_rate: 0 }\n", 12, 30,
                "load_balancers.lb1.websocket.close_rate: \"0\" is out of range; expected an "
                "integer 1..100000");
    EXPECT_ONLY(BASE "    websocket: { close_rate: 100001 }\n", 12, 30,
                "load_balancers.lb1.websocket.close_rate: \"100001\" is out of range; expected "
                "an integer 1..100000");
    EXPECT_ONLY(BASE "    websocket: { close_rate: 2.5 }\n", 12, 30,
                "load_balancers.lb1.websocket.close_rate: bad value \"2.5\"; expected an integer "
                "1..100000");
    EXPECT_ONLY(BASE "    websocket: close\n", 12, 16,
                "load_balancers.lb1.websocket: expected a mapping, got \"close\"");
    EXPECT_N(BASE "    websocket: { on_origin_down: close, close_rat: 5 }\n", 1,
             "unknown key 'close_rat' in load_balancers.lb1.websocket; expected one of: "
             "on_origin_down, close_rate");
    /* both bad: both reported in one run */
    EXPECT_N(BASE "    websocket: { on_origin_down: 1, close_rate: -3 }\n", 2, "close_rate");
}

static void test_rule_auto_response(void)
{
    struct mrd_cfg *ar = LOAD_OK(BASE "    rules:\n"
                                      "      - match: { path: \"/socket/*\" }\n"
                                      "        pools: [p1]\n"
                                      "        websocket: { auto_response: { request: \"ping\", "
                                      "response: \"\" } }\n");
    if (ar) {
        const struct mrd_cfg_rule *r = &ar->lbs[0].rules[0];
        CHECK(r->websocket.auto_request && r->websocket.auto_request_len == 4 &&
              !memcmp(r->websocket.auto_request, "ping", 4));
        CHECK(r->websocket.auto_response && r->websocket.auto_response_len == 0);
    }
    mrd_cfg_unref(ar);
    /* a rule with an empty websocket section loads */
    struct mrd_cfg *cfg = LOAD_OK(BASE "    rules:\n"
                                       "      - match: { path: \"/plain\" }\n"
                                       "        pools: [p1]\n"
                                       "        websocket: {}\n");
    if (cfg)
        CHECK(cfg->lbs[0].rules[0].websocket.auto_request == NULL);
    mrd_cfg_unref(cfg);
}

static void test_rule_errors(void)
{
    EXPECT_ONLY(BASE "    rules: [{ match: {}, pools: [p1], websocket: { auto_response: "
                "{ request: \"\", response: \"x\" } } }]\n", 12, 78,
                "load_balancers.lb1.rules[0].websocket.auto_response.request: 0 bytes; expected "
                "1..1024 bytes of text");
    EXPECT_ONLY(BASE "    rules: [{ match: {}, pools: [p1], websocket: { auto_response: "
                "{ response: \"x\" } } }]\n", 12, 67,
                "load_balancers.lb1.rules[0].websocket.auto_response: missing required key "
                "'request' (e.g. auto_response: { request: \"ping\", response: \"pong\" })");
    EXPECT_N(BASE "    rules: [{ match: {}, pools: [p1], websocket: { auto_response: {} } }]\n", 2,
             "missing required key 'response'");
    EXPECT_ONLY(BASE "    rules: [{ match: {}, pools: [p1], websocket: { auto_response: "
                "{ request: [a], response: \"x\" } } }]\n", 12, 78,
                "load_balancers.lb1.rules[0].websocket.auto_response.request: expected a "
                "string, got a sequence");
    EXPECT_N(BASE "    rules: [{ match: {}, pools: [p1], websocket: { auto_reply: {} } }]\n", 1,
             "unknown key 'auto_reply' in load_balancers.lb1.rules[0].websocket; expected one "
             "of: auto_response");
    EXPECT_N(BASE "    rules: [{ match: {}, pools: [p1], websocket: { auto_response: "
             "{ request: a, response: b, extra: c } } }]\n", 1, "unknown key 'extra'");
    EXPECT_ONLY(BASE "    rules: [{ match: {}, pools: [p1], websocket: true }]\n", 12, 50,
                "load_balancers.lb1.rules[0].websocket: expected a mapping, got \"true\"");
    /* websocket settings need a proxied action */
    EXPECT_ONLY(BASE "    rules: [{ match: {}, fixed_response: { status: 200 }, websocket: {} }]\n",
                12, 59, "load_balancers.lb1.rules[0]: websocket settings apply to proxied "
                "tunnels; a rule with fixed_response never opens one, so remove one of the two");
    EXPECT_ONLY(BASE "    rules: [{ match: {}, websocket: {} }]\n", 12, 13,
                "load_balancers.lb1.rules[0]: a rule needs one action: pools: [...] or "
                "fixed_response: {...} (websocket: settings go with pools:)");
}

TEST_MAIN(test_lb_defaults(); test_lb_values(); test_rule_auto_response(); test_rule_errors())
