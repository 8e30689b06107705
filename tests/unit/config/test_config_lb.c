/* Unit tests of the load-balancing sections of src/config: admin, geo, monitors, the new pool
 * and load balancer keys. Every default is checked, and every bad value gives its exact
 * located error. test_config.c covers the loader itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "geo/geo.h"
#include "health/state.h"
#include "test.h"
#include "cfg_check.h"

#define LISTEN "server:\n  listen:\n    - address: \"127.0.0.1:8080\"\n"
/* 4..7 */
#define POOL "pools:\n  p1:\n    origins:\n      - { name: a, address: \"127.0.0.1:9001\" }\n"
/* 8..11 */
#define LB "load_balancers:\n  lb1:\n    hostnames: [\"example.com\"]\n    default_pools: [p1]\n"
/* 4..6: a monitor named m */
#define MON "monitors:\n  m:\n    path: /healthz\n"

/* Writes <text> to a new temporary file; returns its path in <path>. */
static int write_tmp(char *path, const char *text, size_t len)
{
    int fd;

    strcpy(path, "/tmp/mrd_cfg_lb_XXXXXX");
    if ((fd = mkstemp(path)) < 0)
        return -1;
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- value parsers ---- */

static void test_parsers(void)
{
    struct mrd_cfg_code_range r;
    struct mrd_cfg_monitor m;
    struct mrd_cfg_addr a;
    double d = 7;

    CHECK(mrd_cfg_parse_code_range("200", 3, &r) == 0 && r.lo == 200 && r.hi == 200);
    CHECK(mrd_cfg_parse_code_range("599", 3, &r) == 0 && r.lo == 599 && r.hi == 599);
    CHECK(mrd_cfg_parse_code_range("100", 3, &r) == 0 && r.lo == 100);
    CHECK(mrd_cfg_parse_code_range("2xx", 3, &r) == 0 && r.lo == 200 && r.hi == 299);
    CHECK(mrd_cfg_parse_code_range("5XX", 3, &r) == 0 && r.lo == 500 && r.hi == 599);
    CHECK(mrd_cfg_parse_code_range("1xx", 3, &r) == 0 && r.lo == 100 && r.hi == 199);
    CHECK(mrd_cfg_parse_code_range("2005", 3, &r) == 0 && r.lo == 200); /* only <len> bytes */
    static const char *const bad[] = { "", "20", "2000", "099", "600", "6xx", "0xx", "2x0", "x00",
                                       "2xz", "-20", " 20" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_INT(mrd_cfg_parse_code_range(bad[i], strlen(bad[i]), &r), -1);
    CHECK_EQ_INT(mrd_cfg_parse_code_range(NULL, 3, &r), -1);

    struct mrd_cfg_code_range codes[2] = { { 200, 299 }, { 301, 301 } };
    memset(&m, 0, sizeof(m));
    m.codes = codes;
    m.n_codes = 2;
    CHECK(mrd_cfg_code_expected(&m, 200) && mrd_cfg_code_expected(&m, 299));
    CHECK(mrd_cfg_code_expected(&m, 301));
    CHECK(!mrd_cfg_code_expected(&m, 300) && !mrd_cfg_code_expected(&m, 302));
    CHECK(!mrd_cfg_code_expected(&m, 199) && !mrd_cfg_code_expected(NULL, 200));

    CHECK(mrd_cfg_is_token("X-Session-Id", 12));
    CHECK(mrd_cfg_is_token("GET", 3));
    CHECK(mrd_cfg_is_token("a!#$%&'*+-.^_`|~9", 17));
    CHECK(!mrd_cfg_is_token("", 0) && !mrd_cfg_is_token(NULL, 0));
    CHECK(!mrd_cfg_is_token("a b", 3) && !mrd_cfg_is_token("a:b", 3));
    CHECK(!mrd_cfg_is_token("a\r", 2) && !mrd_cfg_is_token("a\0b", 3));
    CHECK(!mrd_cfg_is_token("a(b)", 4) && !mrd_cfg_is_token("\xc3\xa9", 2));

    CHECK(mrd_cfg_parse_number("48.86", &d) == 0 && d > 48.859 && d < 48.861);
    CHECK(mrd_cfg_parse_number("-180", &d) == 0 && d == -180);
    CHECK(mrd_cfg_parse_number("+1.5", &d) == 0 && d == 1.5);
    CHECK(mrd_cfg_parse_number("0", &d) == 0 && d == 0);
    d = 7;
    static const char *const badn[] = { "", "-", ".5", "5.", "1e3", "0x10", "inf", "nan", "1,5",
                                        " 1", "1 ", "--1", "1.2.3" };
    for (size_t i = 0; i < sizeof(badn) / sizeof(badn[0]); i++)
        CHECK_EQ_INT(mrd_cfg_parse_number(badn[i], &d), -1);
    CHECK_EQ_INT(mrd_cfg_parse_number(NULL, &d), -1);
    CHECK(d == 7);

    CHECK(mrd_cfg_parse_addr("127.0.0.1:1", &a, NULL) == 0 && mrd_cfg_addr_is_loopback(&a));
    CHECK(mrd_cfg_parse_addr("127.200.3.4:1", &a, NULL) == 0 && mrd_cfg_addr_is_loopback(&a));
    CHECK(mrd_cfg_parse_addr("[::1]:1", &a, NULL) == 0 && mrd_cfg_addr_is_loopback(&a));
    CHECK(mrd_cfg_parse_addr("[::ffff:127.0.0.9]:1", &a, NULL) == 0 && mrd_cfg_addr_is_loopback(&a));
    CHECK(mrd_cfg_parse_addr("0.0.0.0:1", &a, NULL) == 0 && !mrd_cfg_addr_is_loopback(&a));
    CHECK(mrd_cfg_parse_addr("128.0.0.1:1", &a, NULL) == 0 && !mrd_cfg_addr_is_loopback(&a));
    CHECK(mrd_cfg_parse_addr("[::]:1", &a, NULL) == 0 && !mrd_cfg_addr_is_loopback(&a));
    CHECK(mrd_cfg_parse_addr("[::2]:1", &a, NULL) == 0 && !mrd_cfg_addr_is_loopback(&a));
    CHECK(!mrd_cfg_addr_is_loopback(NULL));
}

/* ---- defaults ---- */

static void test_defaults(void)
{
    struct mrd_cfg *cfg = LOAD_OK(LISTEN POOL LB);
    const struct mrd_cfg_pool *p;
    const struct mrd_cfg_lb *lb;

    if (!cfg)
        return;
    CHECK(!cfg->admin.enabled);
    CHECK(cfg->geo.db == NULL && cfg->geo.mmdb == NULL && cfg->geo.n_networks == 0);
    CHECK_EQ_INT(cfg->n_monitors, 0);
    CHECK_EQ_INT(cfg->n_origins, 1);
    p = &cfg->pools[0];
    CHECK_EQ_INT(p->index, 0);
    CHECK_EQ_INT(p->region, -1);
    CHECK(!p->has_coords);
    CHECK(p->monitor == NULL);
    CHECK_EQ_INT(p->minimum_origins, 1);
    CHECK_EQ_INT(p->keepalive.min_idle, 0);
    CHECK_EQ_INT(p->keepalive.max_idle, 64);
    CHECK_EQ_INT(p->passive.consecutive_errors, 3);
    CHECK(!p->passive.count_5xx);
    CHECK_EQ_INT(p->passive.base_ejection_ms, 30000);
    CHECK_EQ_INT(p->passive.max_ejection_ms, 300000);
    CHECK_EQ_INT(p->origins[0].max_in_flight, 0);
    CHECK_EQ_INT(p->origins[0].flat, 0);
    CHECK(p->rt == NULL && p->origins[0].rt == NULL);
    lb = &cfg->lbs[0];
    CHECK_EQ_INT(lb->index, 0);
    CHECK(lb->fallback_pool == NULL);
    CHECK_EQ_INT(lb->steering_policy, MRD_POOLS_OFF);
    CHECK_EQ_INT(lb->n_region_pools, 0);
    CHECK_EQ_INT(lb->n_country_pools, 0);
    CHECK(lb->random_steering.default_weight == 1);
    CHECK(lb->random_steering.pool_weights != NULL && lb->random_steering.pool_weights[0] == 1);
    CHECK_EQ_INT(lb->session_affinity, MRD_AFF_NONE);
    CHECK_EQ_INT(lb->session_affinity_ttl_ms, 23ull * 3600 * 1000);
    CHECK_EQ_INT(lb->zero_downtime_failover, MRD_ZDF_NONE);
    CHECK_EQ_INT(lb->n_affinity_headers, 0);
    CHECK(!lb->failover_across_pools);
    CHECK_EQ_INT(lb->retry_attempts, 2);
    CHECK_EQ_INT(lb->retry_budget_percent, 20);
    mrd_cfg_unref(cfg);

    /* a monitor with nothing but a name */
    cfg = LOAD_OK(LISTEN "monitors:\n  m: {}\n");
    if (!cfg)
        return;
    const struct mrd_cfg_monitor *m = &cfg->monitors[0];
    CHECK_EQ_INT(cfg->n_monitors, 1);
    CHECK_STR(m->name, "m");
    CHECK_EQ_INT(m->loc.line, 5);
    CHECK_EQ_INT(m->type, MRD_MON_HTTP);
    CHECK_STR(m->method, "GET");
    CHECK_STR(m->path, "/");
    CHECK(m->host == NULL && m->n_hdrs == 0 && m->expected_body == NULL);
    CHECK(m->n_codes == 1 && m->codes[0].lo == 200 && m->codes[0].hi == 299);
    CHECK_EQ_INT(m->interval_ms, 60000);
    CHECK_EQ_INT(m->timeout_ms, 5000);
    CHECK_EQ_INT(m->retries, 2);
    CHECK_EQ_INT(m->consecutive_up, 1);
    CHECK_EQ_INT(m->consecutive_down, 1);
    CHECK(!m->allow_insecure);
    mrd_cfg_unref(cfg);

    /* an empty geo section still opens a (networks-only, empty) lookup */
    cfg = LOAD_OK(LISTEN "geo: {}\n");
    CHECK(cfg && cfg->geo.db != NULL);
    mrd_cfg_unref(cfg);
}

/* ---- everything at once ---- */

static void test_full(void)
{
    char tok[64], yaml[8192];
    struct mrd_cfg *cfg;
    const struct mrd_cfg_monitor *m;
    const struct mrd_cfg_pool *p;
    const struct mrd_cfg_lb *lb;
    struct mrd_geo_info gi;
    struct sockaddr_in sin;

    if (write_tmp(tok, "s3cret\n", 7) < 0) {
        CHECK(0);
        return;
    }
    snprintf(yaml, sizeof(yaml),
             LISTEN
             "admin:\n"
             "  address: \"0.0.0.0:9901\"\n"
             "  token_file: \"%s\"\n"
             "geo:\n"
             "  networks:\n"
             "    - { cidr: \"127.0.0.2/32\", region: SEAS, country: sg, latitude: 1.35, longitude: 103.82 }\n"
             "    - { cidr: \"10.0.0.0/8\", country: FR }\n"
             "    - { cidr: \"fd00::/8\", region: weu }\n"
             "monitors:\n"
             "  http-ok:\n"
             "    type: https\n"
             "    method: HEAD\n"
             "    path: /healthz?full=1\n"
             "    header: { Host: [\"chat.example.com\", \"ignored\"], X-Probe: meridian, Accept: [\"*/*\"] }\n"
             "    expected_codes: [\"2xx, 301\", 418]\n"
             "    expected_body: ok\n"
             "    interval: 5s\n"
             "    timeout: 2s\n"
             "    retries: 1\n"
             "    consecutive_up: 2\n"
             "    consecutive_down: 3\n"
             "    allow_insecure: true\n"
             "  tcp-only: { type: tcp, interval: 250ms, timeout: 100ms }\n"
             "pools:\n"
             "  eu-west:\n"
             "    region: WEU\n"
             "    latitude: 48.86\n"
             "    longitude: -2.35\n"
             "    monitor: http-ok\n"
             "    minimum_origins: 2\n"
             "    keepalive: { min_idle: 2, max_idle: 8, idle_timeout: 30s }\n"
             "    origin_steering: least_outstanding_requests\n"
             "    passive_health: { consecutive_errors: 5, count_5xx: true, base_ejection: 10s, max_ejection: 2m }\n"
             "    origins:\n"
             "      - { name: eu-1, address: \"127.0.0.1:9001\", max_in_flight: 1000 }\n"
             "      - { name: eu-2, address: \"127.0.0.1:9002\", max_in_flight: 0 }\n"
             "  ap-southeast:\n"
             "    region: seas\n"
             "    latitude: 1.35\n"
             "    longitude: 103.82\n"
             "    monitor: tcp-only\n"
             "    origin_steering: hash\n"
             "    origins: [{ name: sg-1, address: \"127.0.0.1:9003\" }]\n"
             "  spare:\n"
             "    latitude: 0\n"
             "    longitude: 0\n"
             "    origin_steering: least_connections\n"
             "    origins: [{ name: s-1, address: \"127.0.0.1:9004\" }, { name: s-2, address: \"127.0.0.1:9005\" }]\n"
             "load_balancers:\n"
             "  chat:\n"
             "    hostnames: [\"chat.example.com\"]\n"
             "    default_pools: [eu-west, ap-southeast]\n"
             "    fallback_pool: spare\n"
             "    steering_policy: proximity\n"
             "    region_pools: { SEAS: [ap-southeast, eu-west], oc: [ap-southeast] }\n"
             "    country_pools: { jp: [ap-southeast, eu-west] }\n"
             "    random_steering: { default_weight: 2, pool_weights: { ap-southeast: 0.5, spare: 0 } }\n"
             "    session_affinity: header\n"
             "    session_affinity_ttl: 1h\n"
             "    session_affinity_attributes: { headers: [X-Session-Id, x-user] }\n"
             "    adaptive_routing: { failover_across_pools: true }\n"
             "    retries: { attempts: 0, budget_percent: 100 }\n"
             "  other:\n"
             "    hostnames: [\"*\"]\n"
             "    default_pools: [spare]\n"
             "    steering_policy: dynamic_latency\n"
             "    session_affinity: ip_cookie\n"
             "    session_affinity_attributes: { zero_downtime_failover: sticky, headers: [] }\n",
             tok);
    cfg = LOAD_OK(yaml);
    unlink(tok);
    if (!cfg)
        return;

    CHECK(cfg->admin.enabled);
    CHECK_STR(cfg->admin.addr.text, "0.0.0.0:9901");
    CHECK_STR(cfg->admin.token_file, tok);
    CHECK_EQ_INT(cfg->admin.loc.line, 4);

    CHECK(cfg->geo.mmdb == NULL && cfg->geo.db != NULL);
    CHECK_EQ_INT(cfg->geo.n_networks, 3);
    CHECK_EQ_INT(cfg->geo.networks[0].region, MRD_REGION_SEAS);
    CHECK_STR(cfg->geo.networks[0].country, "SG");
    CHECK(cfg->geo.networks[0].has_coords && cfg->geo.networks[0].longitude > 103.8);
    CHECK_EQ_INT(cfg->geo.networks[0].cidr.prefix, 32);
    CHECK_EQ_INT(cfg->geo.networks[0].loc.line, 9);
    CHECK_EQ_INT(cfg->geo.networks[1].region, -1); /* from the country at lookup */
    CHECK_STR(cfg->geo.networks[1].country, "FR");
    CHECK(!cfg->geo.networks[1].has_coords);
    CHECK_EQ_INT(cfg->geo.networks[2].region, MRD_REGION_WEU);
    CHECK(cfg->geo.networks[2].country == NULL);
    /* the opened lookup serves the networks */
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(0x7f000002);
    CHECK(mrd_geo_lookup(cfg->geo.db, (struct sockaddr *)&sin, &gi) == 1 &&
          strcmp(gi.country, "SG") == 0 && gi.region == MRD_REGION_SEAS);

    CHECK_EQ_INT(cfg->n_monitors, 2);
    m = &cfg->monitors[0];
    CHECK_STR(m->name, "http-ok");
    CHECK_EQ_INT(m->type, MRD_MON_HTTPS);
    CHECK_STR(m->method, "HEAD");
    CHECK_STR(m->path, "/healthz?full=1");
    CHECK_STR(m->host, "chat.example.com");
    CHECK_EQ_INT(m->n_hdrs, 2);
    if (m->n_hdrs == 2) {
        CHECK_STR(m->hdr_names[0], "X-Probe");
        CHECK_STR(m->hdr_values[0], "meridian");
        CHECK_STR(m->hdr_names[1], "Accept");
        CHECK_STR(m->hdr_values[1], "*/*");
    }
    CHECK_EQ_INT(m->n_codes, 3);
    if (m->n_codes == 3) {
        CHECK(m->codes[0].lo == 200 && m->codes[0].hi == 299);
        CHECK(m->codes[1].lo == 301 && m->codes[1].hi == 301);
        CHECK(m->codes[2].lo == 418 && m->codes[2].hi == 418);
    }
    CHECK(mrd_cfg_code_expected(m, 204) && !mrd_cfg_code_expected(m, 302));
    CHECK_STR(m->expected_body, "ok");
    CHECK_EQ_INT(m->interval_ms, 5000);
    CHECK_EQ_INT(m->timeout_ms, 2000);
    CHECK_EQ_INT(m->retries, 1);
    CHECK_EQ_INT(m->consecutive_up, 2);
    CHECK_EQ_INT(m->consecutive_down, 3);
    CHECK(m->allow_insecure);
    CHECK_EQ_INT(cfg->monitors[1].type, MRD_MON_TCP);
    CHECK_EQ_INT(cfg->monitors[1].interval_ms, 250);
    CHECK_EQ_INT(cfg->monitors[1].timeout_ms, 100);

    CHECK_EQ_INT(cfg->n_pools, 3);
    CHECK_EQ_INT(cfg->n_origins, 5);
    p = &cfg->pools[0];
    CHECK_EQ_INT(p->index, 0);
    CHECK_EQ_INT(p->region, MRD_REGION_WEU);
    CHECK(p->has_coords && p->latitude > 48.85 && p->latitude < 48.87 && p->longitude < -2.34);
    CHECK(p->monitor == &cfg->monitors[0]);
    CHECK_EQ_INT(p->minimum_origins, 2);
    CHECK_EQ_INT(p->keepalive.min_idle, 2);
    CHECK_EQ_INT(p->keepalive.max_idle, 8);
    CHECK_EQ_INT(p->origin_steering, MRD_STEER_LOR);
    CHECK_EQ_INT(p->passive.consecutive_errors, 5);
    CHECK(p->passive.count_5xx);
    CHECK_EQ_INT(p->passive.base_ejection_ms, 10000);
    CHECK_EQ_INT(p->passive.max_ejection_ms, 120000);
    CHECK_EQ_INT(p->origins[0].max_in_flight, 1000);
    CHECK_EQ_INT(p->origins[0].flat, 0);
    CHECK_EQ_INT(p->origins[1].flat, 1);
    p = &cfg->pools[1];
    CHECK_EQ_INT(p->index, 1);
    CHECK_EQ_INT(p->region, MRD_REGION_SEAS);
    CHECK(p->monitor == &cfg->monitors[1]);
    CHECK_EQ_INT(p->origin_steering, MRD_STEER_HASH);
    CHECK_EQ_INT(p->origins[0].flat, 2);
    p = &cfg->pools[2];
    CHECK_EQ_INT(p->index, 2);
    CHECK(p->has_coords && p->latitude == 0 && p->longitude == 0);
    CHECK_EQ_INT(p->origin_steering, MRD_STEER_LEAST_CONN);
    CHECK_EQ_INT(p->origins[0].flat, 3);
    CHECK_EQ_INT(p->origins[1].flat, 4);

    CHECK_EQ_INT(cfg->n_lbs, 2);
    lb = &cfg->lbs[0];
    CHECK_EQ_INT(lb->index, 0);
    CHECK(lb->fallback_pool == &cfg->pools[2]);
    CHECK_EQ_INT(lb->steering_policy, MRD_POOLS_PROXIMITY);
    CHECK_EQ_INT(lb->n_region_pools, 2);
    if (lb->n_region_pools == 2) {
        CHECK_STR(lb->region_pools[0].key, "SEAS");
        CHECK_EQ_INT(lb->region_pools[0].region, MRD_REGION_SEAS);
        CHECK_EQ_INT(lb->region_pools[0].n_pools, 2);
        CHECK(lb->region_pools[0].pools[0] == &cfg->pools[1]);
        CHECK(lb->region_pools[0].pools[1] == &cfg->pools[0]);
        CHECK_STR(lb->region_pools[1].key, "OC");
        CHECK_EQ_INT(lb->region_pools[1].region, MRD_REGION_OC);
    }
    CHECK_EQ_INT(lb->n_country_pools, 1);
    if (lb->n_country_pools == 1) {
        CHECK_STR(lb->country_pools[0].key, "JP");
        CHECK_EQ_INT(lb->country_pools[0].region, -1);
        CHECK_EQ_INT(lb->country_pools[0].n_pools, 2);
    }
    CHECK(lb->random_steering.default_weight == 2);
    CHECK(lb->random_steering.pool_weights[0] == 2);
    CHECK(lb->random_steering.pool_weights[1] == 0.5);
    CHECK(lb->random_steering.pool_weights[2] == 0);
    CHECK_EQ_INT(lb->session_affinity, MRD_AFF_HEADER);
    CHECK_EQ_INT(lb->session_affinity_ttl_ms, 3600000);
    CHECK_EQ_INT(lb->zero_downtime_failover, MRD_ZDF_TEMPORARY); /* header affinity's default */
    CHECK_EQ_INT(lb->n_affinity_headers, 2);
    if (lb->n_affinity_headers == 2) {
        CHECK_STR(lb->affinity_headers[0], "X-Session-Id");
        CHECK_STR(lb->affinity_headers[1], "x-user");
    }
    CHECK(lb->failover_across_pools);
    CHECK_EQ_INT(lb->retry_attempts, 0);
    CHECK_EQ_INT(lb->retry_budget_percent, 100);
    lb = &cfg->lbs[1];
    CHECK_EQ_INT(lb->index, 1);
    CHECK_EQ_INT(lb->steering_policy, MRD_POOLS_DYNAMIC_LATENCY);
    CHECK_EQ_INT(lb->session_affinity, MRD_AFF_IP_COOKIE);
    CHECK_EQ_INT(lb->zero_downtime_failover, MRD_ZDF_STICKY);
    CHECK_EQ_INT(lb->n_affinity_headers, 0);
    CHECK(lb->random_steering.pool_weights[1] == 1);
    mrd_cfg_unref(cfg);
}

static void test_enums(void)
{
    static const char *const steer[] = { "random", "round_robin", "least_outstanding_requests",
                                         "least_connections", "hash" };
    static const char *const pol[] = { "off", "random", "geo", "proximity", "dynamic_latency",
                                       "least_outstanding_requests", "least_connections" };
    static const char *const aff[] = { "none", "cookie", "ip_cookie", "header" };
    static const char *const zdf[] = { "none", "temporary", "sticky" };
    char y[1024];
    struct mrd_cfg *cfg;

    for (int i = 0; i < 5; i++) {
        snprintf(y, sizeof(y), LISTEN POOL "    origin_steering: %s\n", steer[i]);
        cfg = LOAD_OK(y);
        CHECK(cfg && (int)cfg->pools[0].origin_steering == i);
        mrd_cfg_unref(cfg);
    }
    for (int i = 0; i < 7; i++) {
        /* proximity needs coordinates on the default pools */
        snprintf(y, sizeof(y), LISTEN POOL "    latitude: 1\n    longitude: 2\n" LB
                 "    steering_policy: %s\n", pol[i]);
        cfg = LOAD_OK(y);
        CHECK(cfg && (int)cfg->lbs[0].steering_policy == i);
        mrd_cfg_unref(cfg);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(y, sizeof(y), LISTEN POOL LB "    session_affinity: %s\n"
                 "    session_affinity_attributes: { headers: [%s] }\n", aff[i],
                 i == 3 ? "X-Id" : "");
        cfg = LOAD_OK(y);
        CHECK(cfg && (int)cfg->lbs[0].session_affinity == i);
        mrd_cfg_unref(cfg);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(y, sizeof(y), LISTEN POOL LB "    session_affinity: header\n"
                 "    session_affinity_attributes: { zero_downtime_failover: %s, headers: [X] }\n",
                 zdf[i]);
        cfg = LOAD_OK(y);
        CHECK(cfg && (int)cfg->lbs[0].zero_downtime_failover == i);
        mrd_cfg_unref(cfg);
    }
    /* geo steering without any region_pools/country_pools is allowed (it acts like off) */
    cfg = LOAD_OK(LISTEN POOL LB "    steering_policy: geo\n");
    CHECK(cfg && cfg->lbs[0].steering_policy == MRD_POOLS_GEO);
    mrd_cfg_unref(cfg);
}

/* ---- admin ---- */

static void test_admin(void)
{
    char tok[64], y[1024];
    struct mrd_cfg *cfg;
    const char *saved = getenv("MERIDIAN_ADMIN_TOKEN");
    char *keep = saved ? strdup(saved) : NULL;

    unsetenv("MERIDIAN_ADMIN_TOKEN");
    cfg = LOAD_OK(LISTEN "admin: { address: \"127.0.0.1:9901\" }\n");
    CHECK(cfg && cfg->admin.enabled && cfg->admin.token_file == NULL);
    mrd_cfg_unref(cfg);
    cfg = LOAD_OK(LISTEN "admin: { address: \"127.9.9.9:9901\" }\n");
    mrd_cfg_unref(cfg);
    cfg = LOAD_OK(LISTEN "admin: { address: \"[::1]:9901\" }\n");
    mrd_cfg_unref(cfg);
    cfg = LOAD_OK(LISTEN "admin: { address: \"localhost:9901\" }\n");
    mrd_cfg_unref(cfg);

    /* non-loopback: refused without a token ... */
    EXPECT_ONLY(LISTEN "admin:\n  address: \"0.0.0.0:9901\"\n", 5, 12,
                "admin.address: refusing a non-loopback admin address without a token "
                "(token_file or MERIDIAN_ADMIN_TOKEN)");
    EXPECT_ONLY(LISTEN "admin: { address: \"[::]:9901\" }\n", 4, 19,
                "admin.address: refusing a non-loopback admin address without a token "
                "(token_file or MERIDIAN_ADMIN_TOKEN)");
    setenv("MERIDIAN_ADMIN_TOKEN", "", 1); /* empty counts as unset */
    EXPECT_ERR_AT(LISTEN "admin:\n  address: \"0.0.0.0:9901\"\n", 5, 12,
                  "refusing a non-loopback admin address");
    /* ... and accepted with one from the environment or a file */
    setenv("MERIDIAN_ADMIN_TOKEN", "t0k", 1);
    cfg = LOAD_OK(LISTEN "admin:\n  address: \"0.0.0.0:9901\"\n");
    mrd_cfg_unref(cfg);
    unsetenv("MERIDIAN_ADMIN_TOKEN");
    if (write_tmp(tok, "  tok\n", 6) == 0) {
        snprintf(y, sizeof(y), LISTEN "admin:\n  address: \"0.0.0.0:9901\"\n  token_file: %s\n", tok);
        cfg = LOAD_OK(y);
        CHECK(cfg && strcmp(cfg->admin.token_file, tok) == 0);
        mrd_cfg_unref(cfg);
        unlink(tok);
        /* gone now: a located error at the key, and no second one about the address */
        snprintf(y, sizeof(y), LISTEN "admin:\n  address: \"0.0.0.0:9901\"\n  token_file: %s\n", tok);
        char want[256];
        snprintf(want, sizeof(want), "admin.token_file: cannot read %s: %s", tok, strerror(ENOENT));
        EXPECT_ONLY(y, 6, 3, want);
    }
    if (write_tmp(tok, "", 0) == 0) {
        char want[256];
        snprintf(y, sizeof(y), LISTEN "admin:\n  address: \"127.0.0.1:9901\"\n  token_file: %s\n", tok);
        snprintf(want, sizeof(want), "admin.token_file: %s is empty; write the admin token into it",
                 tok);
        EXPECT_ERR_AT(y, 6, 3, want);
        unlink(tok);
    }
    if (write_tmp(tok, " \n\t\r\n", 5) == 0) { /* only blanks: no token either */
        snprintf(y, sizeof(y), LISTEN "admin:\n  address: \"127.0.0.1:9901\"\n  token_file: %s\n", tok);
        EXPECT_ERR_AT(y, 6, 3, "is empty");
        unlink(tok);
    }
    snprintf(y, sizeof(y), "admin.token_file: cannot read /tmp: %s", strerror(EISDIR));
    EXPECT_ONLY(LISTEN "admin:\n  address: \"127.0.0.1:9901\"\n  token_file: /tmp\n", 6, 3, y);
    /* a device or a FIFO would never end a read (or block the open) */
    EXPECT_ONLY(LISTEN "admin:\n  address: \"127.0.0.1:9901\"\n  token_file: /dev/zero\n", 6, 3,
                "admin.token_file: cannot read /dev/zero: not a regular file");
    EXPECT_ONLY(LISTEN "admin:\n  address: \"127.0.0.1:9901\"\n  token_file: \"\"\n", 6, 15,
                "admin.token_file: empty; expected the path of a file that holds the admin token");

    EXPECT_ERR_AT(LISTEN "admin:\n  token_file: x\n", 5, 3,
                "admin: missing required key 'address' (e.g. address: \"127.0.0.1:9901\")");
    EXPECT_ERR_AT(LISTEN "admin: { address: \"127.0.0.1\" }\n", 4, 19,
                  "admin.address: bad address \"127.0.0.1\" (missing port)");
    EXPECT_ERR_AT(LISTEN "admin: { address: \"127.0.0.1:9901\", port: 1 }\n", 4, 37,
                  "unknown key 'port' in admin; expected one of: address, token_file");
    EXPECT_ERR_AT(LISTEN "admin: \"127.0.0.1:9901\"\n", 4, 8,
                  "admin: expected a mapping, got \"127.0.0.1:9901\"");
    EXPECT_ERR_AT(LISTEN "admin: { address: \"127.0.0.1:8080\" }\n", 4, 19,
                  "admin.address: \"127.0.0.1:8080\" is also a server.listen address (line 3)");
    if (keep) {
        setenv("MERIDIAN_ADMIN_TOKEN", keep, 1);
        free(keep);
    }
}

/* ---- geo ---- */

static void test_geo(void)
{
    char path[64], y[1024], want[256];
    struct mrd_cfg *cfg;

    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", region: MARS }\n", 6, 37,
                "geo.networks[0].region: unknown region code \"MARS\"; expected one of WNAM ENAM "
                "WEU EEU NSAM SSAM OC ME NAF SAF SAS SEAS NEAS");
    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", country: XX }\n", 6, 38,
                "geo.networks[0].country: unknown country code \"XX\"; expected an assigned ISO "
                "3166-1 alpha-2 code such as US, FR or JP");
    EXPECT_ERR_AT(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", country: FRA }\n", 6, 38,
                  "unknown country code \"FRA\"");
    EXPECT_ERR_AT(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", country: \"\" }\n", 6, 38,
                  "unknown country code \"\"");
    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/33\" }\n", 6, 15,
                "geo.networks[0].cidr: bad CIDR \"10.0.0.0/33\"; expected e.g. 203.0.113.0/24, "
                "192.0.2.7 or 2001:db8::/32");
    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { region: WEU }\n", 6, 7,
                "geo.networks[0]: missing required key 'cidr' (e.g. cidr: \"203.0.113.0/24\")");
    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\" }\n    - { cidr: \"10.1.2.3/8\" }\n",
                7, 15, "geo.networks[1].cidr: network 10.0.0.0/8 is listed twice (also at line 6)");
    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", latitude: 1 }\n", 6, 29,
                "geo.networks[0].latitude: latitude and longitude go together; longitude is missing");
    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", longitude: 1 }\n", 6, 29,
                "geo.networks[0].longitude: latitude and longitude go together; latitude is missing");
    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", latitude: 90.5, longitude: 0 }\n",
                6, 39, "geo.networks[0].latitude: \"90.5\" is out of range; expected a number -90..90");
    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", latitude: 0, longitude: -181 }\n",
                6, 53, "geo.networks[0].longitude: \"-181\" is out of range; expected a number -180..180");
    EXPECT_ONLY(LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", latitude: 1e1, longitude: 0 }\n",
                6, 39, "geo.networks[0].latitude: bad value \"1e1\"; expected a number -90..90");
    EXPECT_ERR_AT(LISTEN "geo:\n  networks: { cidr: x }\n", 5, 13,
                  "geo.networks: expected a sequence, got a mapping");
    EXPECT_ERR_AT(LISTEN "geo:\n  mmdb: \"\"\n", 5, 9, "geo.mmdb: empty");
    EXPECT_ERR_AT(LISTEN "geo:\n  mdb: x\n", 5, 3, "unknown key 'mdb' in geo; expected one of: mmdb, networks");

    /* an mmdb that cannot be read: at the mmdb key */
    EXPECT_ONLY(LISTEN "geo:\n  mmdb: /nonexistent/x.mmdb\n", 5, 3,
                "geo.mmdb: cannot open /nonexistent/x.mmdb: No such file or directory");
    EXPECT_ONLY(LISTEN "geo:\n  mmdb: /dev/null\n", 5, 3,
                "geo.mmdb: cannot open /dev/null: not a regular file");
    EXPECT_ONLY(LISTEN "geo:\n  mmdb: /tmp\n", 5, 3, "geo.mmdb: cannot open /tmp: Is a directory");
    if (write_tmp(path, "this is not a MaxMind database\n", 31) == 0) {
        snprintf(y, sizeof(y), LISTEN "geo:\n  networks:\n    - { cidr: \"10.0.0.0/8\", country: FR }\n"
                 "  mmdb: %s\n", path);
        snprintf(want, sizeof(want), "geo.mmdb: cannot open %s: ", path);
        EXPECT_ERR_AT(y, 7, 3, want);
        {
            struct mrd_cfg_errors e = { 0 };
            CHECK(load(y, &e) == NULL);
            CHECK_EQ_INT(e.n, 1);
            mrd_cfg_errors_free(&e);
        }
        unlink(path);
    }
    /* other errors of the same file are reported with it */
    {
        struct mrd_cfg_errors e = { 0 };
        CHECK(load(LISTEN "geo:\n  mmdb: /nonexistent/x.mmdb\n  networks: [{ cidr: x }]\n", &e) == NULL);
        CHECK_EQ_INT(e.n, 2);
        mrd_cfg_errors_free(&e);
    }
    /* a real database (built by tools/mkmmdb.pl when perl has MaxMind::DB::Writer) opens */
    if (system("perl -MMaxMind::DB::Writer::Tree -e 1 >/dev/null 2>&1") == 0 &&
        write_tmp(path, "", 0) == 0) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "perl tools/mkmmdb.pl %s 127.0.0.5/32=JP,35.68,139.69", path);
        CHECK_EQ_INT(system(cmd), 0);
        snprintf(y, sizeof(y), LISTEN "geo:\n  mmdb: %s\n", path);
        cfg = LOAD_OK(y);
        if (cfg) {
            struct mrd_geo_info gi;
            struct sockaddr_in sin;
            memset(&sin, 0, sizeof(sin));
            sin.sin_family = AF_INET;
            sin.sin_addr.s_addr = htonl(0x7f000005);
            CHECK_STR(cfg->geo.mmdb, path);
            CHECK(cfg->geo.db && mrd_geo_lookup(cfg->geo.db, (struct sockaddr *)&sin, &gi) == 1 &&
                  strcmp(gi.country, "JP") == 0);
        }
        mrd_cfg_unref(cfg); /* closes the database (ASan sees a leak otherwise) */
        unlink(path);
    } else {
        printf("note: perl MaxMind::DB::Writer missing; a valid mmdb is not loaded\n");
    }
    /* lower-case codes are accepted and stored in canonical form */
    cfg = LOAD_OK(LISTEN "geo:\n  networks:\n    - { cidr: \"192.0.2.0/24\", region: neas, country: jp }\n");
    CHECK(cfg && cfg->geo.networks[0].region == MRD_REGION_NEAS &&
          strcmp(cfg->geo.networks[0].country, "JP") == 0);
    mrd_cfg_unref(cfg);
}

/* ---- monitors ---- */

#define MONP(body) LISTEN "monitors:\n  m:\n" body /* body from line 6 */

static void test_monitors(void)
{
    struct mrd_cfg *cfg;

    EXPECT_ONLY(MONP("    type: udp\n"), 6, 11,
                "monitors.m.type: bad value \"udp\"; expected http, https or tcp");
    /* timeout >= interval: at the timeout when given, else at the interval */
    EXPECT_ONLY(MONP("    interval: 5s\n    timeout: 5s\n"), 7, 14,
                "monitors.m.timeout: the timeout (5000ms) must be shorter than the interval (5000ms)");
    EXPECT_ONLY(MONP("    interval: 2s\n    timeout: 3s\n"), 7, 14,
                "monitors.m.timeout: the timeout (3000ms) must be shorter than the interval (2000ms)");
    EXPECT_ONLY(MONP("    interval: 1s\n"), 6, 15,
                "monitors.m.interval: the timeout (5000ms) must be shorter than the interval "
                "(1000ms); the default timeout is 5s, set a shorter one");
    EXPECT_ONLY(MONP("    interval: 50ms\n    timeout: 10ms\n"), 6, 15,
                "monitors.m.interval: duration \"50ms\" is out of range; expected 100ms..1h");
    EXPECT_ERR_AT(MONP("    interval: 2h\n"), 6, 15, "expected 100ms..1h");
    EXPECT_ERR_AT(MONP("    timeout: 0\n"), 6, 14,
                  "monitors.m.timeout: duration \"0\" is out of range; expected 1ms..1h");
    EXPECT_ONLY(MONP("    retries: 11\n"), 6, 14,
                "monitors.m.retries: \"11\" is out of range; expected an integer 0..10");
    EXPECT_ERR_AT(MONP("    consecutive_up: 0\n"), 6, 21,
                  "monitors.m.consecutive_up: \"0\" is out of range; expected an integer 1..100");
    EXPECT_ERR_AT(MONP("    consecutive_down: 101\n"), 6, 23,
                  "monitors.m.consecutive_down: \"101\" is out of range; expected an integer 1..100");
    EXPECT_ERR_AT(MONP("    allow_insecure: yes\n"), 6, 21,
                  "monitors.m.allow_insecure: bad value \"yes\"; expected true or false");
    EXPECT_ONLY(MONP("    path: healthz\n"), 6, 11,
                "monitors.m.path: bad path \"healthz\"; expected a path starting with '/' (at most "
                "2048 bytes, no spaces or control characters), e.g. /healthz");
    EXPECT_ERR_AT(MONP("    path: \"/a b\"\n"), 6, 11, "monitors.m.path: bad path \"/a b\"");
    EXPECT_ONLY(MONP("    method: \"GE T\"\n"), 6, 13,
                "monitors.m.method: bad method \"GE T\"; expected a method such as GET or HEAD");
    EXPECT_ONLY(MONP("    type: tcp\n    path: /x\n"), 7, 5,
                "monitors.m.path: only http and https monitors send a request; remove it or set "
                "type: http");
    EXPECT_ERR_AT(MONP("    type: tcp\n    expected_codes: 2xx\n"), 7, 5,
                  "monitors.m.expected_codes: only http and https monitors send a request");
    {
        /* expected_body is bounded: probes read a bounded body */
        char y[2048];
        int o = snprintf(y, sizeof(y), MONP("    expected_body: \""));
        memset(y + o, 'x', 1025);
        snprintf(y + o + 1025, sizeof(y) - (size_t)o - 1025, "\"\n");
        EXPECT_ONLY(y, 6, 20, "monitors.m.expected_body: longer than 1024 bytes");
        y[o + 1] = '"'; /* 1 byte */
        y[o + 2] = '\n';
        y[o + 3] = 0;
        struct mrd_cfg *c = LOAD_OK(y);
        CHECK(c && strcmp(c->monitors[0].expected_body, "x") == 0);
        mrd_cfg_unref(c);
    }
    EXPECT_ERR_AT(LISTEN "monitors:\n  \"bad name\": {}\n", 5, 3,
                  "monitors.bad?name: bad name \"bad name\"");
    EXPECT_ERR_AT(LISTEN "monitors: [m]\n", 4, 11, "monitors: expected a mapping, got a sequence");
    EXPECT_ERR_AT(MONP("    interval_s: 5\n"), 6, 5,
                  "unknown key 'interval_s' in monitors.m; expected one of: type, method, path");

    /* expected_codes: every accepted spelling ... */
    static const struct { const char *v; size_t n; uint16_t lo0, hi0, lo1; } good[] = {
        { "200", 1, 200, 200, 0 },       { "\"2xx\"", 1, 200, 299, 0 },
        { "\"200,301\"", 2, 200, 200, 301 }, { "\"2xx, 301\"", 2, 200, 299, 301 },
        { "[200, 3xx]", 2, 200, 200, 300 }, { "[\"200,204\", 5XX]", 3, 200, 200, 204 },
        { "\" 404 \"", 1, 404, 404, 0 },
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char y[512];
        snprintf(y, sizeof(y), MONP("    expected_codes: %s\n"), good[i].v);
        cfg = LOAD_OK(y);
        if (!cfg)
            continue;
        const struct mrd_cfg_monitor *m = &cfg->monitors[0];
        CHECK_EQ_INT(m->n_codes, good[i].n);
        CHECK(m->codes[0].lo == good[i].lo0 && m->codes[0].hi == good[i].hi0);
        CHECK(good[i].n < 2 || m->codes[1].lo == good[i].lo1);
        mrd_cfg_unref(cfg);
    }
    /* ... and the bad ones, at the value (the list item for a list) */
    EXPECT_ONLY(MONP("    expected_codes: \"20\"\n"), 6, 21,
                "monitors.m.expected_codes: bad status code \"20\"; expected a code 100..599 or a "
                "class 1xx..5xx, e.g. \"200\", \"2xx\" or \"200,301\"");
    EXPECT_ERR_AT(MONP("    expected_codes: 600\n"), 6, 21, "bad status code \"600\"");
    EXPECT_ERR_AT(MONP("    expected_codes: 6xx\n"), 6, 21, "bad status code \"6xx\"");
    EXPECT_ERR_AT(MONP("    expected_codes: \"200,,301\"\n"), 6, 21, "bad status code \"\"");
    EXPECT_ERR_AT(MONP("    expected_codes: \"200,\"\n"), 6, 21, "bad status code \"\"");
    EXPECT_ERR_AT(MONP("    expected_codes: \"2xx;301\"\n"), 6, 21, "bad status code \"2xx;301\"");
    EXPECT_ERR_AT(MONP("    expected_codes: [200, ok]\n"), 6, 27,
                  "monitors.m.expected_codes[1]: bad status code \"ok\"");
    EXPECT_ERR_AT(MONP("    expected_codes: []\n"), 6, 21,
                  "monitors.m.expected_codes: expected at least one status code");
    EXPECT_ERR_AT(MONP("    expected_codes: { a: 1 }\n"), 6, 21,
                  "monitors.m.expected_codes: expected status codes such as \"2xx\" or \"200,301\", "
                  "got a mapping");

    /* header */
    cfg = LOAD_OK(MONP("    header: { host: example.org, X-A: \"\", X-B: [\"1\", \"2\"] }\n"));
    if (cfg) {
        const struct mrd_cfg_monitor *m = &cfg->monitors[0];
        CHECK_STR(m->host, "example.org");
        CHECK(m->n_hdrs == 2 && strcmp(m->hdr_values[0], "") == 0 &&
              strcmp(m->hdr_values[1], "1") == 0);
    }
    mrd_cfg_unref(cfg);
    EXPECT_ONLY(MONP("    header: { \"Bad Name\": x }\n"), 6, 15,
                "monitors.m.header.Bad?Name: bad header name \"Bad Name\"; expected 1..128 letters, "
                "digits or !#$%&'*+-.^_`|~, e.g. X-Session-Id");
    EXPECT_ONLY(MONP("    header: { X-A: \"a\\r\\nX-Evil: 1\" }\n"), 6, 20,
                "monitors.m.header.X-A: bad header value \"a\\x0d\\nX-Evil: 1\"; expected at most "
                "4096 bytes without CR, LF or other control characters");
    EXPECT_ERR_AT(MONP("    header: { Host: [\"a\\nb\"] }\n"), 6, 22,
                  "monitors.m.header.Host[0]: bad header value");
    EXPECT_ERR_AT(MONP("    header: { X-A: a, x-a: b }\n"), 6, 23,
                  "monitors.m.header.x-a: header 'x-a' is given twice (names ignore case)");
    EXPECT_ERR_AT(MONP("    header: { Host: a, HOST: b }\n"), 6, 24, "header 'HOST' is given twice");
    EXPECT_ERR_AT(MONP("    header: { Host: [] }\n"), 6, 21,
                  "monitors.m.header.Host: expected a value or a list of values, got an empty list");
    EXPECT_ERR_AT(MONP("    header: { Host: \"\" }\n"), 6, 21, "the Host header cannot be empty");
    EXPECT_ERR_AT(MONP("    header: [Host]\n"), 6, 13, "monitors.m.header: expected a mapping");
}

/* ---- pools ---- */

#define POOL2(extra) LISTEN MON "pools:\n  p1:\n" extra \
    "    origins:\n      - { name: a, address: \"127.0.0.1:9001\" }\n"

static void test_pools(void)
{
    struct mrd_cfg *cfg;

    /* the monitor reference resolves, wherever monitors sit in the file */
    cfg = LOAD_OK(LISTEN POOL "    monitor: m\n" MON);
    CHECK(cfg && cfg->pools[0].monitor == &cfg->monitors[0]);
    mrd_cfg_unref(cfg);
    EXPECT_ONLY(POOL2("    monitor: nope\n"), 9, 14,
                "pools.p1.monitor: no monitor named \"nope\"; define it under monitors:");
    EXPECT_ONLY(POOL2("    region: MARS\n"), 9, 13,
                "pools.p1.region: unknown region code \"MARS\"; expected one of WNAM ENAM WEU EEU "
                "NSAM SSAM OC ME NAF SAF SAS SEAS NEAS");
    EXPECT_ONLY(POOL2("    latitude: 1\n"), 9, 5,
                "pools.p1.latitude: latitude and longitude go together; longitude is missing");
    EXPECT_ONLY(POOL2("    latitude: -91\n    longitude: 0\n"), 9, 15,
                "pools.p1.latitude: \"-91\" is out of range; expected a number -90..90");
    EXPECT_ERR_AT(POOL2("    latitude: north\n    longitude: 0\n"), 9, 15,
                  "pools.p1.latitude: bad value \"north\"; expected a number -90..90");
    EXPECT_ONLY(POOL2("    minimum_origins: 2\n"), 9, 22,
                "pools.p1.minimum_origins: \"2\" is more than the pool's 1 origin; expected 1..1");
    EXPECT_ONLY(POOL2("    minimum_origins: 0\n"), 9, 22,
                "pools.p1.minimum_origins: \"0\" is out of range; expected an integer 1..1000000");
    cfg = LOAD_OK(LISTEN "pools:\n  p1:\n    minimum_origins: 2\n    origins:\n"
                  "      - { name: a, address: \"127.0.0.1:9001\" }\n"
                  "      - { name: b, address: \"127.0.0.1:9002\" }\n");
    CHECK(cfg && cfg->pools[0].minimum_origins == 2);
    mrd_cfg_unref(cfg);
    EXPECT_ONLY(POOL2("    keepalive: { min_idle: 5, max_idle: 4 }\n"), 9, 28,
                "pools.p1.keepalive.min_idle: \"5\" is more than max_idle (4); expected 0..max_idle");
    EXPECT_ONLY(POOL2("    keepalive: { min_idle: 65 }\n"), 9, 28,
                "pools.p1.keepalive.min_idle: \"65\" is more than max_idle (64, the default); "
                "expected 0..max_idle");
    cfg = LOAD_OK(POOL2("    keepalive: { min_idle: 4, max_idle: 4 }\n"));
    CHECK(cfg && cfg->pools[0].keepalive.min_idle == 4);
    mrd_cfg_unref(cfg);
    EXPECT_ERR_AT(POOL2("    keepalive: { min_idle: -1 }\n"), 9, 28,
                  "pools.p1.keepalive.min_idle: \"-1\" is out of range; expected an integer 0..10000");
    EXPECT_ONLY(POOL2("    origin_steering: fastest\n"), 9, 22,
                "pools.p1.origin_steering: bad value \"fastest\"; expected random, round_robin, "
                "least_outstanding_requests, least_connections or hash");
    cfg = LOAD_OK(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"127.0.0.1:1\", "
                  "max_in_flight: 10000000 }]\n");
    CHECK(cfg && cfg->pools[0].origins[0].max_in_flight == 10000000);
    mrd_cfg_unref(cfg);
    EXPECT_ONLY(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"127.0.0.1:1\", "
                "max_in_flight: 10000001 }]\n", 6, 65,
                "pools.p1.origins[0].max_in_flight: \"10000001\" is out of range; expected an "
                "integer 0..10000000");

    /* a pool with no origins */
    EXPECT_ONLY(LISTEN "pools:\n  p1:\n    origins: []\n", 6, 14,
                "pools.p1.origins: a pool needs at least one origin, e.g. - { name: a, address: "
                "\"10.0.0.1:8080\" }");
    EXPECT_ONLY(LISTEN "pools:\n  p1:\n    origins:\n", 6, 5,
                "pools.p1.origins: a pool needs at least one origin, e.g. - { name: a, address: "
                "\"10.0.0.1:8080\" }");
    EXPECT_ONLY(LISTEN "pools:\n  p1:\n    region: WEU\n", 6, 5,
                "pools.p1: missing required key 'origins' (a pool needs at least one origin)");
    EXPECT_ERR_AT(LISTEN "pools:\n  p1: {}\n", 5, 7, "pools.p1: missing required key 'origins'");

    /* passive_health */
    cfg = LOAD_OK(POOL2("    passive_health: { consecutive_errors: 0 }\n"));
    CHECK(cfg && cfg->pools[0].passive.consecutive_errors == 0 &&
          cfg->pools[0].passive.base_ejection_ms == 30000);
    mrd_cfg_unref(cfg);
    EXPECT_ONLY(POOL2("    passive_health: { consecutive_errors: 1001 }\n"), 9, 43,
                "pools.p1.passive_health.consecutive_errors: \"1001\" is out of range; expected an "
                "integer 0..1000");
    EXPECT_ONLY(POOL2("    passive_health: { base_ejection: 1m, max_ejection: 30s }\n"), 9, 56,
                "pools.p1.passive_health.max_ejection: max_ejection (30000ms) must not be shorter "
                "than base_ejection (60000ms)");
    EXPECT_ONLY(POOL2("    passive_health: { base_ejection: 10m }\n"), 9, 38,
                "pools.p1.passive_health.base_ejection: max_ejection (300000ms) must not be "
                "shorter than base_ejection (600000ms)");
    EXPECT_ERR_AT(POOL2("    passive_health: { count_5xx: sometimes }\n"), 9, 34,
                  "pools.p1.passive_health.count_5xx: bad value \"sometimes\"; expected true or false");
    EXPECT_ERR_AT(POOL2("    passive_health: { enabled: true }\n"), 9, 23,
                  "unknown key 'enabled' in pools.p1.passive_health; expected one of: "
                  "consecutive_errors, count_5xx, base_ejection, max_ejection");

    /* origins are numbered across pools in file order; failed ones are not counted */
    cfg = LOAD_OK(LISTEN "pools:\n"
                  "  b: { origins: [{ name: x, address: \"127.0.0.1:1\" }, { name: y, address: \"127.0.0.1:2\" }] }\n"
                  "  a: { origins: [{ name: x, address: \"127.0.0.1:3\" }] }\n");
    CHECK(cfg && cfg->n_origins == 3 && cfg->pools[1].origins[0].flat == 2 &&
          cfg->pools[1].index == 1 && strcmp(cfg->pools[1].name, "a") == 0);
    mrd_cfg_unref(cfg);
}

/* ---- load balancers ---- */

/* Two pools (p1 without, p2 with coordinates) and lb1 over p1 (lines 8.. as in LB). */
#define POOLS2 "pools:\n  p1:\n    origins: [{ name: a, address: \"127.0.0.1:9001\" }]\n" \
    "  p2:\n    latitude: 1\n    longitude: 2\n    origins: [{ name: a, address: \"127.0.0.1:9002\" }]\n"
#define LB2 "load_balancers:\n  lb1:\n    hostnames: [\"example.com\"]\n    default_pools: [p2, p1]\n"
/* LISTEN POOLS2 LB2: lb1's keys continue at line 15 */

static void test_lbs(void)
{
    struct mrd_cfg *cfg;

    EXPECT_ONLY(LISTEN POOLS2 LB2 "    fallback_pool: ghost\n", 15, 20,
                "load_balancers.lb1.fallback_pool: no pool named \"ghost\"; define it under pools:");
    EXPECT_ERR_AT(LISTEN POOLS2 LB2 "    fallback_pool: [p1]\n", 15, 20,
                  "load_balancers.lb1.fallback_pool: expected a string, got a sequence");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    steering_policy: nearest\n", 15, 22,
                "load_balancers.lb1.steering_policy: bad value \"nearest\"; expected off, random, "
                "geo, proximity, dynamic_latency, least_outstanding_requests or least_connections");
    /* proximity: every default pool needs coordinates; the error names the pool */
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    steering_policy: proximity\n", 15, 22,
                "load_balancers.lb1.steering_policy: proximity needs latitude and longitude on "
                "every default pool; pool 'p1' has none");

    /* region_pools / country_pools */
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    region_pools: { SEAS: [p1], MARS: [p2] }\n", 15, 33,
                "load_balancers.lb1.region_pools.MARS: unknown region code \"MARS\"; expected one "
                "of WNAM ENAM WEU EEU NSAM SSAM OC ME NAF SAF SAS SEAS NEAS");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    region_pools: { SEAS: [p1], seas: [p2] }\n", 15, 33,
                "load_balancers.lb1.region_pools.seas: 'SEAS' is listed twice (also at line 15)");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    region_pools: { SEAS: [ghost] }\n", 15, 28,
                "load_balancers.lb1.region_pools.SEAS[0]: no pool named \"ghost\"; define it under "
                "pools:");
    EXPECT_ERR_AT(LISTEN POOLS2 LB2 "    region_pools: { SEAS: [] }\n", 15, 27,
                  "load_balancers.lb1.region_pools.SEAS: expected at least one pool name");
    EXPECT_ERR_AT(LISTEN POOLS2 LB2 "    region_pools: [SEAS]\n", 15, 19,
                  "load_balancers.lb1.region_pools: expected a mapping, got a sequence");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    country_pools: { XX: [p1] }\n", 15, 22,
                "load_balancers.lb1.country_pools.XX: unknown country code \"XX\"; expected an "
                "assigned ISO 3166-1 alpha-2 code such as US, FR or JP");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    country_pools: { JP: [p1], jp: [p2] }\n", 15, 32,
                "load_balancers.lb1.country_pools.jp: 'JP' is listed twice (also at line 15)");
    cfg = LOAD_OK(LISTEN POOLS2 LB2 "    steering_policy: geo\n    region_pools: {}\n"
                  "    country_pools: { us: [p1, p2] }\n");
    CHECK(cfg && cfg->lbs[0].n_region_pools == 0 && cfg->lbs[0].n_country_pools == 1 &&
          strcmp(cfg->lbs[0].country_pools[0].key, "US") == 0 &&
          cfg->lbs[0].country_pools[0].pools[1] == &cfg->pools[1]);
    mrd_cfg_unref(cfg);

    /* random_steering */
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    random_steering: { pool_weights: { ghost: 1 } }\n", 15, 40,
                "load_balancers.lb1.random_steering.pool_weights.ghost: no pool named \"ghost\"; "
                "define it under pools:");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    random_steering: { pool_weights: { p1: 1000.5 } }\n", 15, 44,
                "load_balancers.lb1.random_steering.pool_weights.p1: \"1000.5\" is out of range; "
                "expected a number 0..1000");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    random_steering: { default_weight: -1 }\n", 15, 40,
                "load_balancers.lb1.random_steering.default_weight: \"-1\" is out of range; "
                "expected a number 0..1000");
    cfg = LOAD_OK(LISTEN POOLS2 LB2 "    random_steering: { pool_weights: { p2: 3 }, default_weight: 0 }\n");
    CHECK(cfg && cfg->lbs[0].random_steering.pool_weights[0] == 0 &&
          cfg->lbs[0].random_steering.pool_weights[1] == 3);
    mrd_cfg_unref(cfg);

    /* session affinity */
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    session_affinity: sticky\n", 15, 23,
                "load_balancers.lb1.session_affinity: bad value \"sticky\"; expected none, cookie, "
                "ip_cookie or header");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    session_affinity_ttl: 0s\n", 15, 27,
                "load_balancers.lb1.session_affinity_ttl: duration \"0s\" is out of range; "
                "expected 1s..365d");
    EXPECT_ERR_AT(LISTEN POOLS2 LB2 "    session_affinity_ttl: 366d\n", 15, 27, "expected 1s..365d");
    cfg = LOAD_OK(LISTEN POOLS2 LB2 "    session_affinity_ttl: 365d\n");
    CHECK(cfg && cfg->lbs[0].session_affinity_ttl_ms == 365ull * 86400000);
    mrd_cfg_unref(cfg);
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    session_affinity: header\n", 15, 23,
                "load_balancers.lb1.session_affinity: header affinity needs "
                "load_balancers.lb1.session_affinity_attributes.headers, e.g. headers: "
                "[\"X-Session-Id\"]");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    session_affinity: header\n"
                "    session_affinity_attributes: { headers: [] }\n", 16, 45,
                "load_balancers.lb1.session_affinity_attributes.headers: session_affinity: header "
                "needs at least one header name, e.g. [\"X-Session-Id\"]");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    session_affinity: header\n"
                "    session_affinity_attributes: { zero_downtime_failover: none }\n", 16, 34,
                "load_balancers.lb1.session_affinity_attributes: missing required key 'headers' "
                "(session_affinity: header needs at least one header name)");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    session_affinity: cookie\n"
                "    session_affinity_attributes: { headers: [X-Id] }\n", 16, 36,
                "load_balancers.lb1.session_affinity_attributes.headers: headers are only used "
                "with session_affinity: header");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    session_affinity: header\n"
                "    session_affinity_attributes: { headers: [\"X Id\"] }\n", 16, 46,
                "load_balancers.lb1.session_affinity_attributes.headers[0]: bad header name "
                "\"X Id\"; expected 1..128 letters, digits or !#$%&'*+-.^_`|~, e.g. X-Session-Id");
    EXPECT_ERR_AT(LISTEN POOLS2 LB2 "    session_affinity: header\n"
                  "    session_affinity_attributes: { headers: [X-Id, x-id] }\n", 16, 52,
                  "headers[1]: header 'x-id' is listed twice (names ignore case)");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    session_affinity_attributes: { zero_downtime_failover: maybe }\n",
                15, 60, "load_balancers.lb1.session_affinity_attributes.zero_downtime_failover: bad "
                "value \"maybe\"; expected none, temporary or sticky");
    /* header affinity with an explicit zero_downtime_failover keeps it */
    cfg = LOAD_OK(LISTEN POOLS2 LB2 "    session_affinity: header\n"
                  "    session_affinity_attributes: { headers: [X-Id], zero_downtime_failover: none }\n");
    CHECK(cfg && cfg->lbs[0].zero_downtime_failover == MRD_ZDF_NONE);
    mrd_cfg_unref(cfg);

    /* adaptive_routing, retries */
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    adaptive_routing: { failover_across_pools: 1 }\n", 15, 48,
                "load_balancers.lb1.adaptive_routing.failover_across_pools: bad value \"1\"; "
                "expected true or false");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    retries: { attempts: 11 }\n", 15, 26,
                "load_balancers.lb1.retries.attempts: \"11\" is out of range; expected an integer 0..10");
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    retries: { budget_percent: 101 }\n", 15, 32,
                "load_balancers.lb1.retries.budget_percent: \"101\" is out of range; expected an "
                "integer 0..100");
    EXPECT_ERR_AT(LISTEN POOLS2 LB2 "    retries: 3\n", 15, 14,
                  "load_balancers.lb1.retries: expected a mapping, got \"3\"");
    /* still planned */
    EXPECT_ONLY(LISTEN POOLS2 LB2 "    versions: {}\n", 15, 5,
                "'versions' is not supported yet by this version");
}

/* ---- generations and runtime state ---- */

static void test_unref_unbinds(void)
{
    struct mrd_cfg *a = LOAD_OK(LISTEN POOL LB), *b;

    if (!a)
        return;
    CHECK_EQ_INT(mrd_rt_bind(a), 0);
    CHECK(a->pools[0].origins[0].rt != NULL);
    if (!a->pools[0].origins[0].rt) {
        mrd_cfg_unref(a);
        return;
    }
    atomic_store(&a->pools[0].origins[0].rt->ejections, 5);
    /* a second holder keeps the state */
    b = LOAD_OK(LISTEN POOL LB);
    if (!b) {
        mrd_cfg_unref(a);
        return;
    }
    CHECK_EQ_INT(mrd_rt_bind(b), 0);
    CHECK(b->pools[0].origins[0].rt == a->pools[0].origins[0].rt);
    mrd_cfg_unref(a);
    CHECK_EQ_INT(atomic_load(&b->pools[0].origins[0].rt->ejections), 5);
    mrd_cfg_unref(b);
    /* the last generation naming it is gone: unref unbound it, so the state starts over */
    a = LOAD_OK(LISTEN POOL LB);
    if (!a)
        return;
    CHECK_EQ_INT(mrd_rt_bind(a), 0);
    CHECK(a->pools[0].origins[0].rt && atomic_load(&a->pools[0].origins[0].rt->ejections) == 0);
    mrd_cfg_unref(a);
}

static void test_examples(void)
{
    static const char *const files[] = { "examples/quickstart.yaml" }; /* bench/ needs tools/bench.sh */

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct mrd_cfg_errors e = { 0 };
        struct mrd_cfg *cfg;
        if (access(files[i], R_OK) != 0)
            continue; /* run from elsewhere than the repository root */
        cfg = mrd_cfg_load_file(files[i], &e);
        CHECK(cfg != NULL);
        mrd_cfg_errors_print(&e, stderr);
        mrd_cfg_unref(cfg);
        mrd_cfg_errors_free(&e);
    }
}

TEST_MAIN(
    test_parsers();
    test_defaults();
    test_full();
    test_enums();
    test_admin();
    test_geo();
    test_monitors();
    test_pools();
    test_lbs();
    test_unref_unbinds();
    test_examples()
)
