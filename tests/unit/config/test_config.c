/* Unit tests of src/config: the YAML loader (every error path, locations, defaults, a full
 * round-trip) and the pure value parsers and matchers (durations, sizes, addresses, CIDRs,
 * globs, Host -> load balancer precedence). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "test.h"
#include "cfg_check.h"

#define LISTEN "server:\n  listen:\n    - address: \"127.0.0.1:8080\"\n"
#define POOL "pools:\n  p1:\n    origins:\n      - { name: a, address: \"127.0.0.1:9001\" }\n"
#define LB "load_balancers:\n  lb1:\n    hostnames: [\"example.com\"]\n    default_pools: [p1]\n"


/* ---- value parsers ---- */

static void test_duration(void)
{
    uint64_t v = 7;

    CHECK(mrd_cfg_parse_duration("0", &v) == 0 && v == 0);
    CHECK(mrd_cfg_parse_duration("5", &v) == 0 && v == 5000);
    CHECK(mrd_cfg_parse_duration("250ms", &v) == 0 && v == 250);
    CHECK(mrd_cfg_parse_duration("5s", &v) == 0 && v == 5000);
    CHECK(mrd_cfg_parse_duration("2m", &v) == 0 && v == 120000);
    CHECK(mrd_cfg_parse_duration("1h", &v) == 0 && v == 3600000);
    CHECK(mrd_cfg_parse_duration("1d", &v) == 0 && v == 86400000);
    CHECK(mrd_cfg_parse_duration("18446744073709551615ms", &v) == 0 && v == UINT64_MAX);
    v = 7;
    CHECK_EQ_INT(mrd_cfg_parse_duration("", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration(NULL, &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("-1s", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("+1s", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("5x", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("5 s", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration(" 5s", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("1.5s", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("s", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("5S", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("5sec", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("1h30m", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_duration("18446744073709551616ms", &v), -1); /* 2^64 */
    CHECK_EQ_INT(mrd_cfg_parse_duration("18446744073709551615", &v), -1);   /* * 1000 */
    CHECK_EQ_INT(mrd_cfg_parse_duration("213503982335d", &v), -1);
    CHECK_EQ_INT(v, 7); /* untouched on failure */
}

static void test_size(void)
{
    uint64_t v = 7;

    CHECK(mrd_cfg_parse_size("0", &v) == 0 && v == 0);
    CHECK(mrd_cfg_parse_size("512", &v) == 0 && v == 512);
    CHECK(mrd_cfg_parse_size("16KiB", &v) == 0 && v == 16384);
    CHECK(mrd_cfg_parse_size("100MiB", &v) == 0 && v == 104857600);
    CHECK(mrd_cfg_parse_size("1GiB", &v) == 0 && v == 1073741824);
    CHECK(mrd_cfg_parse_size("1KB", &v) == 0 && v == 1000);
    CHECK(mrd_cfg_parse_size("2MB", &v) == 0 && v == 2000000);
    CHECK(mrd_cfg_parse_size("3GB", &v) == 0 && v == 3000000000ull);
    CHECK(mrd_cfg_parse_size("18446744073709551615", &v) == 0 && v == UINT64_MAX);
    v = 7;
    CHECK_EQ_INT(mrd_cfg_parse_size("", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size(NULL, &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("-1", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("1kib", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("1KIB", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("1kb", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("1 KiB", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("1B", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("1TiB", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("KiB", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("1.5MiB", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("18446744073709551616", &v), -1);
    CHECK_EQ_INT(mrd_cfg_parse_size("18014398509481984KiB", &v), -1); /* 2^54 KiB = 2^64 */
    CHECK_EQ_INT(mrd_cfg_parse_size("17179869184GiB", &v), -1);
    CHECK_EQ_INT(v, 7);
}

/* Port of a parsed address, host order. */
static int addr_port(const struct mrd_cfg_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

static void test_addr(void)
{
    struct mrd_cfg_addr a;
    const char *why = NULL;
    static const char *const bad[] = {
        "", "1.2.3.4", ":80", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:99999999999999999999",
        "1.2.3.4:8a", "1.2.3.4:+80", "1.2.3.4:-1", "::1:80", "[::1]80", "[::1]", "[::1", "[]:80",
        "[1.2.3.4]:80", "[zz::1]:80", "bad_host!:80", "a b:80", "host.invalid.:",
    };

    CHECK_EQ_INT(mrd_cfg_parse_addr("1.2.3.4:80", &a, &why), 0);
    CHECK_EQ_INT(a.ss.ss_family, AF_INET);
    CHECK_EQ_INT(a.len, sizeof(struct sockaddr_in));
    CHECK_EQ_INT(addr_port(&a), 80);
    CHECK_EQ_INT(ntohl(((struct sockaddr_in *)&a.ss)->sin_addr.s_addr), 0x01020304);
    CHECK_STR(a.text, "1.2.3.4:80");

    CHECK_EQ_INT(mrd_cfg_parse_addr("[::1]:443", &a, &why), 0);
    CHECK_EQ_INT(a.ss.ss_family, AF_INET6);
    CHECK_EQ_INT(a.len, sizeof(struct sockaddr_in6));
    CHECK_EQ_INT(addr_port(&a), 443);
    CHECK(memcmp(&((struct sockaddr_in6 *)&a.ss)->sin6_addr, &in6addr_loopback, 16) == 0);

    CHECK_EQ_INT(mrd_cfg_parse_addr("0.0.0.0:65535", &a, &why), 0);
    CHECK_EQ_INT(addr_port(&a), 65535);
    CHECK_EQ_INT(mrd_cfg_parse_addr("[::]:1", &a, &why), 0);
    CHECK_EQ_INT(addr_port(&a), 1);

    /* host names resolve now; IPv4 is preferred */
    CHECK_EQ_INT(mrd_cfg_parse_addr("localhost:8080", &a, &why), 0);
    CHECK_EQ_INT(addr_port(&a), 8080);
    CHECK(a.ss.ss_family == AF_INET || a.ss.ss_family == AF_INET6);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        int rc = mrd_cfg_parse_addr(bad[i], &a, &why);
        CHECK_EQ_INT(rc, -1);
        CHECK(why != NULL && why[0] != 0);
        if (rc != -1)
            fprintf(stderr, "  accepted bad address \"%s\"\n", bad[i]);
    }
    mrd_cfg_parse_addr("1.2.3.4:0", &a, &why);
    CHECK(strstr(why, "1..65535") != NULL);
    mrd_cfg_parse_addr("::1:80", &a, &why);
    CHECK(strstr(why, "brackets") != NULL);
    CHECK_EQ_INT(mrd_cfg_parse_addr(NULL, &a, NULL), -1); /* why is optional */
}

/* Fills <ss> with an address of <family> parsed from <ip>. */
static struct sockaddr_storage ss_of(int family, const char *ip)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)family;
    if (family == AF_INET)
        inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
    else
        inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
    return ss;
}

static void test_cidr(void)
{
    struct mrd_cfg_cidr c;
    struct sockaddr_storage ss;
    static const char *const bad[] = {
        "", "x", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/0008",
        "10.0.0.0/8/8", "10.0.0/8", "256.0.0.0/8", "::1/129", "10.0.0.0 /8", "10.0.0.0/8 ",
    };

    CHECK_EQ_INT(mrd_cfg_parse_cidr("10.0.0.0/8", &c), 0);
    CHECK_EQ_INT(c.family, AF_INET);
    CHECK_EQ_INT(c.prefix, 8);
    CHECK_EQ_INT(c.addr[0], 10);
    CHECK_EQ_INT(mrd_cfg_parse_cidr("10.1.2.3/8", &c), 0); /* host bits are cleared */
    CHECK(c.addr[0] == 10 && c.addr[1] == 0 && c.addr[3] == 0);
    CHECK_EQ_INT(mrd_cfg_parse_cidr("192.0.2.7", &c), 0);
    CHECK_EQ_INT(c.prefix, 32);
    CHECK_EQ_INT(mrd_cfg_parse_cidr("::1", &c), 0);
    CHECK_EQ_INT(c.family, AF_INET6);
    CHECK_EQ_INT(c.prefix, 128);
    CHECK_EQ_INT(mrd_cfg_parse_cidr("0.0.0.0/0", &c), 0);
    CHECK_EQ_INT(c.prefix, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = mrd_cfg_parse_cidr(bad[i], &c);
        CHECK_EQ_INT(rc, -1);
        if (rc != -1)
            fprintf(stderr, "  accepted bad CIDR \"%s\"\n", bad[i]);
    }
    CHECK_EQ_INT(mrd_cfg_parse_cidr(NULL, &c), -1);

    mrd_cfg_parse_cidr("10.0.0.0/8", &c);
    ss = ss_of(AF_INET, "10.200.3.4");
    CHECK(mrd_cfg_cidr_contains(&c, &ss));
    ss = ss_of(AF_INET, "11.0.0.1");
    CHECK(!mrd_cfg_cidr_contains(&c, &ss));
    ss = ss_of(AF_INET6, "::ffff:10.9.9.9"); /* dual-stack socket view of an IPv4 peer */
    CHECK(mrd_cfg_cidr_contains(&c, &ss));
    ss = ss_of(AF_INET6, "::ffff:11.9.9.9");
    CHECK(!mrd_cfg_cidr_contains(&c, &ss));
    ss = ss_of(AF_INET6, "::a00:1"); /* not v4-mapped: no match */
    CHECK(!mrd_cfg_cidr_contains(&c, &ss));

    mrd_cfg_parse_cidr("192.168.1.128/25", &c);
    ss = ss_of(AF_INET, "192.168.1.200");
    CHECK(mrd_cfg_cidr_contains(&c, &ss));
    ss = ss_of(AF_INET, "192.168.1.127");
    CHECK(!mrd_cfg_cidr_contains(&c, &ss));

    mrd_cfg_parse_cidr("fd00::/8", &c);
    ss = ss_of(AF_INET6, "fd12:3456::1");
    CHECK(mrd_cfg_cidr_contains(&c, &ss));
    ss = ss_of(AF_INET6, "fe80::1");
    CHECK(!mrd_cfg_cidr_contains(&c, &ss));
    ss = ss_of(AF_INET, "10.0.0.1");
    CHECK(!mrd_cfg_cidr_contains(&c, &ss));

    mrd_cfg_parse_cidr("0.0.0.0/0", &c);
    ss = ss_of(AF_INET, "203.0.113.9");
    CHECK(mrd_cfg_cidr_contains(&c, &ss));
    ss.ss_family = AF_UNIX;
    CHECK(!mrd_cfg_cidr_contains(&c, &ss));
    CHECK(!mrd_cfg_cidr_contains(NULL, &ss));
}

/* Glob match of a NUL-terminated string. */
static int gm(const char *glob, const char *s)
{
    return mrd_cfg_glob_match(glob, s, strlen(s));
}

static void test_glob(void)
{
    CHECK(gm("*", ""));
    CHECK(gm("*", "/anything/at/all"));
    CHECK(gm("/api/*", "/api/"));
    CHECK(gm("/api/*", "/api/v1/users"));
    CHECK(!gm("/api/*", "/api"));
    CHECK(!gm("/api/*", "/apix/1"));
    CHECK(gm("/maintenance", "/maintenance"));
    CHECK(!gm("/maintenance", "/maintenance/"));
    CHECK(!gm("/maintenance", "/maintenanc"));
    CHECK(!gm("/Maintenance", "/maintenance")); /* paths are case-sensitive */
    CHECK(gm("/a?c", "/abc"));
    CHECK(!gm("/a?c", "/ac"));
    CHECK(!gm("/a?c", "/abbc"));
    CHECK(gm("/a*b*c", "/axxbyybzzc"));
    CHECK(!gm("/a*b*c", "/axxbyybzz"));
    CHECK(gm("*.png", "/img/x.png"));
    CHECK(!gm("*.png", "/img/x.png.txt"));
    CHECK(gm("/**", "/x"));
    CHECK(gm("", ""));
    CHECK(!gm("", "/"));
    CHECK(!gm("/?", "/"));
    /* a slice of a larger buffer: only <len> bytes count */
    CHECK(mrd_cfg_glob_match("/hello", "/hello?x=1", 6));
    CHECK(!mrd_cfg_glob_match("/hello*1", "/hello?x=1", 6));
    CHECK(mrd_cfg_glob_match("*", NULL, 0));
    /* pathological pattern stays fast (would be exponential with naive recursion) */
    char s[4096];
    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = 0;
    CHECK(!gm("*a*a*a*a*a*a*a*a*a*a*a*a*a*ab", s));
}

/* ---- loader: valid files ---- */

static void test_defaults(void)
{
    struct mrd_cfg *cfg = LOAD_OK(LISTEN);
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (!cfg)
        return;
    CHECK_EQ_INT(atomic_load(&cfg->refs), 1);
    CHECK_STR(cfg->file, "t.yaml");
    CHECK_EQ_INT(cfg->server.workers, n < 1 ? 1 : n > 256 ? 256 : n);
    CHECK_EQ_INT(cfg->server.n_listen, 1);
    CHECK_STR(cfg->server.listen[0].addr.text, "127.0.0.1:8080");
    CHECK_EQ_INT(cfg->server.listen[0].loc.line, 3);
    CHECK_EQ_INT(cfg->server.listen[0].loc.col, 7);
    CHECK_STR(cfg->server.listen[0].loc.file, "t.yaml");
    CHECK_EQ_INT(cfg->server.n_trusted_proxies, 0);
    CHECK_EQ_INT(cfg->server.limits.header_timeout_ms, 10000);
    CHECK_EQ_INT(cfg->server.limits.body_timeout_ms, 60000);
    CHECK_EQ_INT(cfg->server.limits.idle_timeout_ms, 75000);
    CHECK_EQ_INT(cfg->server.limits.websocket_idle_timeout_ms, 3600000);
    CHECK_EQ_INT(cfg->server.limits.connect_timeout_ms, 5000);
    CHECK_EQ_INT(cfg->server.limits.upstream_timeout_ms, 60000);
    CHECK_EQ_INT(cfg->server.limits.max_header_bytes, 16384);
    CHECK_EQ_INT(cfg->server.limits.max_headers, 100);
    CHECK_EQ_INT(cfg->server.limits.max_body_bytes, 100 * 1024 * 1024);
    CHECK_EQ_INT(cfg->server.limits.max_connections, 100000);
    CHECK_EQ_INT(cfg->server.limits.max_connections_per_ip, 512);
    CHECK_STR(cfg->log.access, "stdout");
    CHECK_STR(cfg->log.error, "stderr");
    CHECK_EQ_INT(cfg->log.level, MRD_LOG_INFO);
    CHECK_EQ_INT(cfg->n_pools, 0);
    CHECK_EQ_INT(cfg->n_lbs, 0);
    mrd_cfg_unref(cfg);

    /* pool, origin, rule defaults */
    cfg = LOAD_OK(LISTEN POOL "load_balancers:\n  lb1:\n    hostnames: [\"*\"]\n"
                  "    default_pools: [p1]\n    rules:\n      - match: {}\n"
                  "        fixed_response: { status: 204 }\n");
    if (!cfg)
        return;
    CHECK_EQ_INT(cfg->pools[0].origin_steering, MRD_STEER_RANDOM);
    CHECK_EQ_INT(cfg->pools[0].keepalive.max_idle, 64);
    CHECK_EQ_INT(cfg->pools[0].keepalive.idle_timeout_ms, 60000);
    CHECK_EQ_INT(cfg->pools[0].origins[0].weight, 1);
    CHECK(cfg->pools[0].origins[0].enabled);
    CHECK_EQ_INT(cfg->lbs[0].n_rules, 1);
    CHECK_EQ_INT(cfg->lbs[0].rules[0].action, MRD_RULE_FIXED);
    CHECK_EQ_INT(cfg->lbs[0].rules[0].fixed.status, 204);
    CHECK_STR(cfg->lbs[0].rules[0].fixed.content_type, "text/plain");
    CHECK_STR(cfg->lbs[0].rules[0].fixed.body, "");
    CHECK_EQ_INT(cfg->lbs[0].rules[0].fixed.body_len, 0);
    CHECK(cfg->lbs[0].rules[0].path == NULL && cfg->lbs[0].rules[0].host == NULL);
    CHECK_EQ_INT(cfg->lbs[0].rules[0].n_methods, 0);
    mrd_cfg_unref(cfg);
}

static const char full_yaml[] =
    "# every implemented key\n"                                   /* 1 */
    "server:\n"                                                    /* 2 */
    "  workers: 3\n"                                               /* 3 */
    "  listen:\n"                                                  /* 4 */
    "    - address: \"127.0.0.1:18080\"\n"                         /* 5 */
    "    - address: \"[::1]:18443\"\n"                             /* 6 */
    "  trusted_proxies: [\"10.0.0.0/8\", \"fd00::/8\", 192.0.2.7]\n" /* 7 */
    "  limits:\n"                                                  /* 8 */
    "    header_timeout: 3s\n"
    "    body_timeout: 250ms\n"
    "    idle_timeout: 2m\n"
    "    websocket_idle_timeout: 1d\n"
    "    connect_timeout: 1500ms\n"
    "    upstream_timeout: 90\n"
    "    max_header_bytes: 32KiB\n"
    "    max_headers: 50\n"
    "    max_body_bytes: 0\n"
    "    max_connections: 2000\n"
    "    max_connections_per_ip: 0\n"
    "log:\n"
    "  access: /var/log/meridian/access.log\n"
    "  error: stdout\n"
    "  level: debug\n"
    "pools:\n"                                                     /* 24 */
    "  eu-west:\n"                                                 /* 25 */
    "    origin_steering: round_robin\n"
    "    keepalive: { max_idle: 8, idle_timeout: 90s }\n"
    "    origins:\n"
    "      - { name: eu-1, address: \"127.0.0.1:9001\", weight: 3 }\n"   /* 29 */
    "      - name: eu-2\n"                                                /* 30 */
    "        address: \"127.0.0.1:9002\"\n"
    "        weight: 0\n"
    "        enabled: false\n"
    "  ap-southeast:\n"
    "    origins:\n"
    "      - { name: sg-1, address: \"localhost:9003\" }\n"
    "load_balancers:\n"
    "  chat:\n"
    "    hostnames: [\"Chat.Example.COM\", \"*.chat.example.com\"]\n"
    "    default_pools: [eu-west, ap-southeast]\n"
    "    rules:\n"
    "      - match: { path: \"/socket/*\", method: GET }\n"                 /* 42 */
    "        pools: [ap-southeast, eu-west]\n"
    "      - match: { path: \"/maintenance\", host: \"Ops.Example.com\", method: [GET, HEAD] }\n"
    "        fixed_response: { status: 503, content_type: \"text/html\", body: \"<b>back</b>\\0!\" }\n"
    "  default:\n"
    "    hostnames: [\"*\"]\n"
    "    default_pools: [ap-southeast]\n";

static void test_full(void)
{
    struct mrd_cfg *cfg = LOAD_OK(full_yaml);
    const struct mrd_cfg_pool *p;
    const struct mrd_cfg_lb *lb;
    const struct mrd_cfg_rule *r;

    if (!cfg)
        return;
    CHECK_EQ_INT(cfg->server.workers, 3);
    CHECK_EQ_INT(cfg->server.n_listen, 2);
    CHECK_EQ_INT(cfg->server.listen[1].addr.ss.ss_family, AF_INET6);
    CHECK_EQ_INT(addr_port(&cfg->server.listen[1].addr), 18443);
    CHECK_EQ_INT(cfg->server.listen[1].loc.line, 6);
    CHECK_EQ_INT(cfg->server.n_trusted_proxies, 3);
    CHECK_EQ_INT(cfg->server.trusted_proxies[1].family, AF_INET6);
    CHECK_EQ_INT(cfg->server.trusted_proxies[2].prefix, 32);
    CHECK_EQ_INT(cfg->server.limits.header_timeout_ms, 3000);
    CHECK_EQ_INT(cfg->server.limits.body_timeout_ms, 250);
    CHECK_EQ_INT(cfg->server.limits.idle_timeout_ms, 120000);
    CHECK_EQ_INT(cfg->server.limits.websocket_idle_timeout_ms, 86400000);
    CHECK_EQ_INT(cfg->server.limits.connect_timeout_ms, 1500);
    CHECK_EQ_INT(cfg->server.limits.upstream_timeout_ms, 90000);
    CHECK_EQ_INT(cfg->server.limits.max_header_bytes, 32768);
    CHECK_EQ_INT(cfg->server.limits.max_headers, 50);
    CHECK_EQ_INT(cfg->server.limits.max_body_bytes, 0);
    CHECK_EQ_INT(cfg->server.limits.max_connections, 2000);
    CHECK_EQ_INT(cfg->server.limits.max_connections_per_ip, 0);
    CHECK_STR(cfg->log.access, "/var/log/meridian/access.log");
    CHECK_STR(cfg->log.error, "stdout");
    CHECK_EQ_INT(cfg->log.level, MRD_LOG_DEBUG);

    CHECK_EQ_INT(cfg->n_pools, 2);
    p = &cfg->pools[0];
    CHECK_STR(p->name, "eu-west");
    CHECK_EQ_INT(p->loc.line, 25);
    CHECK_EQ_INT(p->loc.col, 3);
    CHECK_EQ_INT(p->origin_steering, MRD_STEER_ROUND_ROBIN);
    CHECK_EQ_INT(p->keepalive.max_idle, 8);
    CHECK_EQ_INT(p->keepalive.idle_timeout_ms, 90000);
    CHECK_EQ_INT(p->n_origins, 2);
    CHECK_STR(p->origins[0].name, "eu-1");
    CHECK_EQ_INT(p->origins[0].weight, 3);
    CHECK(p->origins[0].enabled);
    CHECK_EQ_INT(p->origins[0].loc.line, 29);
    CHECK_EQ_INT(addr_port(&p->origins[0].addr), 9001);
    CHECK_STR(p->origins[1].name, "eu-2");
    CHECK_STR(p->origins[1].addr.text, "127.0.0.1:9002");
    CHECK_EQ_INT(p->origins[1].weight, 0);
    CHECK(!p->origins[1].enabled);
    CHECK_EQ_INT(p->origins[1].loc.line, 30);
    CHECK_STR(cfg->pools[1].name, "ap-southeast");
    CHECK_EQ_INT(addr_port(&cfg->pools[1].origins[0].addr), 9003);

    CHECK_EQ_INT(cfg->n_lbs, 2);
    lb = &cfg->lbs[0];
    CHECK_STR(lb->name, "chat");
    CHECK_EQ_INT(lb->n_hostnames, 2);
    CHECK_STR(lb->hostnames[0], "chat.example.com"); /* lower-cased */
    CHECK_STR(lb->hostnames[1], "*.chat.example.com");
    CHECK_EQ_INT(lb->n_default_pools, 2);
    CHECK(lb->default_pools[0] == &cfg->pools[0]);
    CHECK(lb->default_pools[1] == &cfg->pools[1]);
    CHECK_EQ_INT(lb->n_rules, 2);
    r = &lb->rules[0];
    CHECK_EQ_INT(r->loc.line, 42);
    CHECK_EQ_INT(r->action, MRD_RULE_POOLS);
    CHECK_STR(r->path, "/socket/*");
    CHECK_EQ_INT(r->n_methods, 1);
    CHECK_STR(r->methods[0], "GET");
    CHECK_EQ_INT(r->n_pools, 2);
    CHECK(r->pools[0] == &cfg->pools[1] && r->pools[1] == &cfg->pools[0]);
    r = &lb->rules[1];
    CHECK_EQ_INT(r->action, MRD_RULE_FIXED);
    CHECK_STR(r->host, "ops.example.com");
    CHECK_EQ_INT(r->n_methods, 2);
    CHECK_STR(r->methods[1], "HEAD");
    CHECK_EQ_INT(r->fixed.status, 503);
    CHECK_STR(r->fixed.content_type, "text/html");
    CHECK_EQ_INT(r->fixed.body_len, 13);
    CHECK(memcmp(r->fixed.body, "<b>back</b>\0!", 13) == 0);
    CHECK_STR(cfg->lbs[1].name, "default");
    CHECK_STR(cfg->lbs[1].hostnames[0], "*");

    CHECK(mrd_cfg_find_lb(cfg, "CHAT.example.com", 16) == lb);
    CHECK(mrd_cfg_find_lb(cfg, "other.org", 9) == &cfg->lbs[1]);

    /* refcount: the generation survives until its last holder lets go (ASan checks the rest) */
    CHECK(mrd_cfg_ref(cfg) == cfg);
    CHECK_EQ_INT(atomic_load(&cfg->refs), 2);
    mrd_cfg_unref(cfg);
    CHECK_STR(cfg->pools[0].name, "eu-west");
    mrd_cfg_unref(cfg);
    mrd_cfg_unref(NULL);
    CHECK(mrd_cfg_ref(NULL) == NULL);
}

static void test_quickstart_file(void)
{
    struct mrd_cfg_errors e = { 0 };
    struct mrd_cfg *cfg;

    /* The Makefile runs unit tests from the repository root. */
    if (access("examples/quickstart.yaml", R_OK) != 0) {
        fprintf(stderr, "note: examples/quickstart.yaml not found from here; not checked\n");
        return;
    }
    cfg = mrd_cfg_load_file("examples/quickstart.yaml", &e);
    CHECK(cfg != NULL);
    mrd_cfg_errors_print(&e, stderr);
    if (cfg) {
        const struct mrd_cfg_lb *lb = mrd_cfg_find_lb(cfg, "anything.test", 13);
        CHECK(lb != NULL && strcmp(lb->name, "demo") == 0);
        CHECK_EQ_INT(cfg->pools[0].n_origins, 2);
        CHECK(lb && lb->n_rules == 2 && lb->rules[1].fixed.status == 200 &&
              strcmp(lb->rules[1].fixed.body, "hello from meridian\n") == 0);
        CHECK(lb && lb->rules[0].fixed.status == 503 &&
              mrd_cfg_glob_match(lb->rules[0].path, "/maintenance", 12));
    }
    mrd_cfg_unref(cfg);
    mrd_cfg_errors_free(&e);
}

static void test_find_lb(void)
{
    struct mrd_cfg *cfg = LOAD_OK(
        LISTEN POOL
        "load_balancers:\n"
        "  any:   { hostnames: [\"*\"], default_pools: [p1] }\n"
        "  deep:  { hostnames: [\"*.b.example.com\"], default_pools: [p1] }\n"
        "  exact: { hostnames: [\"a.example.com\", \"example.com\"], default_pools: [p1] }\n"
        "  wide:  { hostnames: [\"*.example.com\"], default_pools: [p1] }\n");
    const struct mrd_cfg_lb *any, *wide, *exact, *deep;
    static const char buf[] = "a.example.com:8080";

    if (!cfg)
        return;
    any = &cfg->lbs[0];
    deep = &cfg->lbs[1]; /* before "wide", so order alone cannot pick the longest suffix */
    exact = &cfg->lbs[2];
    wide = &cfg->lbs[3];
#define FIND(h) mrd_cfg_find_lb(cfg, h, strlen(h))
    CHECK(FIND("a.example.com") == exact);
    CHECK(FIND("A.Example.COM") == exact);
    CHECK(FIND("a.example.com.") == exact); /* trailing dot: same name */
    CHECK(FIND("example.com") == exact);
    CHECK(FIND("x.example.com") == wide);
    CHECK(FIND("x.a.example.com") == wide);
    CHECK(FIND("b.example.com") == wide); /* "*.b.example.com" needs one more label */
    CHECK(FIND("x.b.example.com") == deep); /* longest suffix wins */
    CHECK(FIND("y.x.B.EXAMPLE.com") == deep);
    CHECK(FIND("xexample.com") == any);    /* suffix match is on a label boundary */
    CHECK(FIND("other.org") == any);
    CHECK(FIND("") == any);
    CHECK(FIND(".example.com") == any);
    CHECK(mrd_cfg_find_lb(cfg, buf, 13) == exact); /* length, not NUL, ends the host */
    CHECK(mrd_cfg_find_lb(cfg, NULL, 0) == any);
    CHECK(mrd_cfg_find_lb(NULL, "a", 1) == NULL);
    mrd_cfg_unref(cfg);

    cfg = LOAD_OK(LISTEN POOL LB);
    if (!cfg)
        return;
    CHECK(FIND("example.com") == &cfg->lbs[0]);
    CHECK(FIND("www.example.com") == NULL); /* no "*": nothing */
    CHECK(FIND("other") == NULL);
#undef FIND
    mrd_cfg_unref(cfg);
}

static void test_aliases(void)
{
    /* anchors and aliases work; the shared block is validated where it is used */
    struct mrd_cfg *cfg = LOAD_OK(
        LISTEN
        "pools:\n"
        "  p1:\n"
        "    keepalive: &ka { max_idle: 5, idle_timeout: 5s }\n"
        "    origins: [{ name: a, address: \"127.0.0.1:1\" }]\n"
        "  p2:\n"
        "    keepalive: *ka\n"
        "    origins: [{ name: a, address: \"127.0.0.1:2\" }]\n");
    if (cfg) {
        CHECK_EQ_INT(cfg->pools[1].keepalive.max_idle, 5);
        CHECK_EQ_INT(cfg->pools[1].keepalive.idle_timeout_ms, 5000);
    }
    mrd_cfg_unref(cfg);
    EXPECT_ERR_AT(LISTEN "pools:\n  p1:\n    origins: *nope\n", 6, 14,
                  "alias *\"nope\" refers to no earlier anchor");
    EXPECT_ERR_AT(LISTEN "pools:\n  p1: &p { origins: [{ name: a, address: \"127.0.0.1:1\" }] }\n"
                  "  p2:\n    <<: *p\n", 7, 5, "merge keys ('<<') are not supported in pools.p2");
}

/* ---- loader: errors ---- */

static void test_unknown_keys(void)
{
    EXPECT_ERR_AT(LISTEN "bogus: 1\n", 4, 1,
                  "unknown key 'bogus' in the top level; expected one of: server, admin, log, geo, "
                  "monitors, pools, load_balancers");
    EXPECT_ERR_AT("server:\n  listen: [{ address: \"127.0.0.1:1\" }]\n  wokers: 2\n", 3, 3,
                  "unknown key 'wokers' in server; expected one of: workers, listen, "
                  "trusted_proxies, limits");
    EXPECT_ERR("server:\n  listen: [{ address: \"127.0.0.1:1\", port: 80 }]\n",
               "unknown key 'port' in server.listen[0]; expected one of: address");
    EXPECT_ERR(LISTEN "  limits: { idle: 5s }\n",
               "unknown key 'idle' in server.limits; expected one of: header_timeout, body_timeout");
    {
        /* the longest list still fits; an even longer message is cut with "..." */
        struct mrd_cfg_errors e = { 0 };
        load(LISTEN "  limits: { bogus: 1 }\n", &e);
        CHECK(e.n == 1 && strstr(e.v[0].msg, "max_connections, max_connections_per_ip") != NULL);
        mrd_cfg_errors_free(&e);
        load(LISTEN "  limits: { bogus_bogus_bogus_bogus_bogus_bogus_bogus_bogus: 1 }\n", &e);
        CHECK(e.n == 1 && strlen(e.v[0].msg) == 255 && strcmp(e.v[0].msg + 252, "...") == 0);
        mrd_cfg_errors_free(&e);
    }
    EXPECT_ERR(LISTEN "log: { format: json }\n",
               "unknown key 'format' in log; expected one of: access, error, level");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"1.2.3.4:1\" }]\n"
               "    steering: random\n",
               "unknown key 'steering' in pools.p1; expected one of: region, latitude, longitude, "
               "monitor, minimum_origins, keepalive, origin_steering, origins, passive_health");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"1.2.3.4:1\", host: x }]\n",
               "unknown key 'host' in pools.p1.origins[0]; expected one of: name, address, weight, enabled, "
               "max_in_flight");
    EXPECT_ERR(LISTEN POOL "    keepalive: { max: 1 }\n",
               "unknown key 'max' in pools.p1.keepalive; expected one of: min_idle, max_idle, idle_timeout");
    EXPECT_ERR(LISTEN POOL LB "    hostname: x\n",
               "unknown key 'hostname' in load_balancers.lb1; expected one of: hostnames, "
               "default_pools, fallback_pool, steering_policy");
    EXPECT_ERR(LISTEN POOL LB "    rules:\n      - { match: {}, pools: [p1], cache_it: 1 }\n",
               "unknown key 'cache_it' in load_balancers.lb1.rules[0]; expected one of: match, "
               "pools, fixed_response");
    EXPECT_ERR(LISTEN POOL LB "    rules:\n      - { match: { uri: /x }, pools: [p1] }\n",
               "unknown key 'uri' in load_balancers.lb1.rules[0].match; expected one of: path, "
               "host, method");
    EXPECT_ERR(LISTEN POOL LB "    rules:\n      - match: {}\n        fixed_response: { status: 200, "
               "headers: {} }\n",
               "unknown key 'headers' in load_balancers.lb1.rules[0].fixed_response; expected one "
               "of: status, content_type, body");
}

static void test_not_supported(void)
{
    static const struct { const char *yaml; const char *key; } t[] = {
        { LISTEN "cache: { memory: 1GiB }\n", "cache" },
        { LISTEN "rate_limits: {}\n", "rate_limits" },
        { LISTEN "security: {}\n", "security" },
        { LISTEN "cluster: {}\n", "cluster" },
        { LISTEN "pools:\n  p:\n    origins: [{ name: a, address: \"1.2.3.4:1\", version: v2 }]\n",
          "version" },
        { LISTEN POOL LB "    versions: {}\n", "versions" },
        { LISTEN POOL LB "    rules: [{ match: { path: /x }, cache: bypass }]\n", "cache" },
        { LISTEN POOL LB "    rules: [{ match: { path: /x }, pools: [p1], rate_limit: api }]\n",
          "rate_limit" },
        { LISTEN POOL LB "    rules: [{ match: { header: {} }, pools: [p1] }]\n", "header" },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "'%s' is not supported yet by this version", t[i].key);
        expect_err_at(__LINE__, t[i].yaml, 0, 0, want);
    }
    /* exact form and place of one */
    EXPECT_ERR_AT(LISTEN "cache: { memory: 1GiB }\n", 4, 1, "'cache' is not supported yet by this version");
    {
        struct mrd_cfg_errors e = { 0 };
        load(LISTEN POOL LB "    versions: {}\n", &e);
        CHECK_EQ_INT(e.n, 1);
        CHECK(e.n == 1 && strcmp(e.v[0].msg, "'versions' is not supported yet by this version") == 0);
        CHECK(e.n == 1 && e.v[0].loc.line == 12 && e.v[0].loc.col == 5);
        mrd_cfg_errors_free(&e);
    }
    EXPECT_ERR_AT("server:\n  listen:\n    - address: \"0.0.0.0:8443\"\n      tls: {}\n", 4, 12,
                  "server.listen[0].tls: missing required key 'certificates'");
    /* a rule whose only action is planned gets no extra "needs an action" error */
    {
        struct mrd_cfg_errors e = { 0 };
        load(LISTEN POOL LB "    rules: [{ match: { path: /x }, cache: bypass }]\n", &e);
        CHECK_EQ_INT(e.n, 1);
        mrd_cfg_errors_free(&e);
    }
}

static void test_wrong_types(void)
{
    EXPECT_ERR_AT("- a\n- b\n", 1, 1, "expected a mapping at the top level");
    EXPECT_ERR("just a string\n", "expected a mapping at the top level");
    EXPECT_ERR_AT("server: [1]\n", 1, 9, "server: expected a mapping, got a sequence");
    EXPECT_ERR_AT("server:\n", 1, 1, "server: expected a mapping, got nothing (null)");
    EXPECT_ERR_AT("server:\n  listen: \"0.0.0.0:80\"\n", 2, 11,
                  "server.listen: expected a sequence, got \"0.0.0.0:80\"");
    EXPECT_ERR("server:\n  listen: { address: \"0.0.0.0:80\" }\n",
               "server.listen: expected a sequence, got a mapping");
    EXPECT_ERR("server:\n  listen: [\"0.0.0.0:80\"]\n",
               "server.listen[0]: expected a mapping, got \"0.0.0.0:80\"");
    EXPECT_ERR("server:\n  listen: [{ address: [1] }]\n",
               "server.listen[0].address: expected an address such as \"127.0.0.1:8080\", got a sequence");
    EXPECT_ERR(LISTEN "  trusted_proxies: 10.0.0.0/8\n",
               "server.trusted_proxies: expected a sequence, got \"10.0.0.0/8\"");
    EXPECT_ERR(LISTEN "  trusted_proxies: [{}]\n",
               "server.trusted_proxies[0]: expected a string, got a mapping");
    EXPECT_ERR(LISTEN "  limits: [1]\n", "server.limits: expected a mapping, got a sequence");
    EXPECT_ERR(LISTEN "  limits: { idle_timeout: {} }\n",
               "server.limits.idle_timeout: expected a duration such as 5s, got a mapping");
    EXPECT_ERR(LISTEN "  limits: { max_body_bytes: [1] }\n",
               "server.limits.max_body_bytes: expected a size such as 16KiB, got a sequence");
    EXPECT_ERR(LISTEN "  limits: { max_headers: }\n",
               "server.limits.max_headers: expected an integer, got nothing (null)");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"1.2.3.4:1\", enabled: {} }]\n",
               "pools.p1.origins[0].enabled: expected true or false, got a mapping");
    EXPECT_ERR(LISTEN "  workers: [1]\n",
               "server.workers: bad value a sequence; expected auto or an integer 1..256");
    EXPECT_ERR(LISTEN "log: stdout\n", "log: expected a mapping, got \"stdout\"");
    EXPECT_ERR(LISTEN "log: { access: [a] }\n", "log.access: expected a string, got a sequence");
    EXPECT_ERR(LISTEN "log: { level: }\n", "log.level: expected a string, got nothing (null)");
    EXPECT_ERR(LISTEN "pools: [p1]\n", "pools: expected a mapping, got a sequence");
    EXPECT_ERR(LISTEN "pools:\n  p1: [a]\n", "pools.p1: expected a mapping, got a sequence");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: { a: 1 }\n",
               "pools.p1.origins: expected a sequence, got a mapping");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [\"1.2.3.4:80\"]\n",
               "pools.p1.origins[0]: expected a mapping, got \"1.2.3.4:80\"");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: [a], address: \"1.2.3.4:1\" }]\n",
               "pools.p1.origins[0].name: expected a string, got a sequence");
    EXPECT_ERR(LISTEN POOL "    keepalive: 5\n", "pools.p1.keepalive: expected a mapping, got \"5\"");
    EXPECT_ERR(LISTEN POOL "load_balancers: [a]\n", "load_balancers: expected a mapping, got a sequence");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: x\n",
               "load_balancers.lb1: expected a mapping, got \"x\"");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: x.com, default_pools: [p1] }\n",
               "load_balancers.lb1.hostnames: expected a sequence, got \"x.com\"");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [x.com], default_pools: p1 }\n",
               "load_balancers.lb1.default_pools: expected a sequence, got \"p1\"");
    EXPECT_ERR(LISTEN POOL LB "    rules: { a: 1 }\n",
               "load_balancers.lb1.rules: expected a sequence, got a mapping");
    EXPECT_ERR(LISTEN POOL LB "    rules: [x]\n",
               "load_balancers.lb1.rules[0]: expected a mapping, got \"x\"");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: /x, pools: [p1] }]\n",
               "load_balancers.lb1.rules[0].match: expected a mapping, got \"/x\"");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: {}, pools: p1 }]\n",
               "load_balancers.lb1.rules[0].pools: expected a sequence, got \"p1\"");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: {}, fixed_response: [200] }]\n",
               "load_balancers.lb1.rules[0].fixed_response: expected a mapping, got a sequence");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: { method: { a: 1 } }, pools: [p1] }]\n",
               "load_balancers.lb1.rules[0].match.method: expected a method or a list of methods");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: { path: [a] }, pools: [p1] }]\n",
               "load_balancers.lb1.rules[0].match.path: expected a string, got a sequence");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: {}, fixed_response: { status: 200, body: [] } }]\n",
               "fixed_response.body: expected a string, got a sequence");
    EXPECT_ERR(LISTEN "[a]: 1\n", "mapping keys must be plain strings");
}

static void test_bad_values(void)
{
    EXPECT_ERR(LISTEN "  workers: 0\n", "server.workers: \"0\" is out of range; expected an integer 1..256");
    EXPECT_ERR(LISTEN "  workers: 257\n", "server.workers: \"257\" is out of range");
    EXPECT_ERR(LISTEN "  workers: 99999999999999999999999\n", "is out of range");
    EXPECT_ERR(LISTEN "  workers: -1\n", "server.workers: bad value \"-1\"; expected auto or an integer 1..256");
    EXPECT_ERR(LISTEN "  workers: many\n", "server.workers: bad value \"many\"; expected auto or an integer");
    EXPECT_ERR(LISTEN "  workers: 2x\n", "server.workers: bad value \"2x\"; expected an integer 1..256");
    EXPECT_ERR("server:\n  listen: [{ address: \"0.0.0.0\" }]\n",
               "server.listen[0].address: bad address \"0.0.0.0\" (missing port); expected \"IP:port\", "
               "\"[IPv6]:port\" or \"host:port\"");
    EXPECT_ERR("server:\n  listen: [{ address: \"0.0.0.0:0\" }]\n", "port must be an integer 1..65535");
    EXPECT_ERR("server:\n  listen: [{ address: \"0.0.0.0:65536\" }]\n", "port must be an integer 1..65535");
    EXPECT_ERR("server:\n  listen: [{ address: \"::1:80\" }]\n", "IPv6 addresses need brackets");
    EXPECT_ERR("server:\n  listen: [{ address: \":80\" }]\n", "missing host");
    EXPECT_ERR("server:\n  listen: [{ address: \"no_such host:80\" }]\n", "bad host name");
    EXPECT_ERR("server:\n  listen: [{ address: \"a\\0b:80\" }]\n", "contains a NUL byte");
    EXPECT_ERR(LISTEN "  trusted_proxies: [\"10.0.0.0/33\"]\n",
               "server.trusted_proxies[0]: bad CIDR \"10.0.0.0/33\"; expected e.g. 10.0.0.0/8");
    EXPECT_ERR(LISTEN "  limits: { idle_timeout: 5x }\n",
               "server.limits.idle_timeout: bad duration \"5x\"; expected e.g. 250ms, 5s, 2m, 1h, 1d");
    EXPECT_ERR(LISTEN "  limits: { header_timeout: -5s }\n", "server.limits.header_timeout: bad duration \"-5s\"");
    EXPECT_ERR(LISTEN "  limits: { body_timeout: \"\" }\n", "server.limits.body_timeout: bad duration \"\"");
    EXPECT_ERR(LISTEN "  limits: { connect_timeout: 0 }\n",
               "server.limits.connect_timeout: duration \"0\" is out of range; expected 1ms..7d");
    EXPECT_ERR(LISTEN "  limits: { upstream_timeout: 8d }\n", "duration \"8d\" is out of range");
    EXPECT_ERR(LISTEN "  limits: { websocket_idle_timeout: 99999999999999999999d }\n",
               "bad duration");
    EXPECT_ERR(LISTEN "  limits: { max_header_bytes: 16kb }\n",
               "server.limits.max_header_bytes: bad size \"16kb\"; expected e.g. 512, 16KiB, 100MiB, 1GiB");
    EXPECT_ERR(LISTEN "  limits: { max_header_bytes: 512 }\n",
               "server.limits.max_header_bytes: size \"512\" is out of range; expected 1KiB..64KiB (one I/O buffer)");
    EXPECT_ERR(LISTEN "  limits: { max_header_bytes: 2MiB }\n", "is out of range");
    EXPECT_ERR(LISTEN "  limits: { max_header_bytes: 65KiB }\n", "is out of range");
    EXPECT_ERR(LISTEN "  limits: { max_body_bytes: 1.5GiB }\n", "bad size \"1.5GiB\"");
    EXPECT_ERR(LISTEN "  limits: { max_headers: 0 }\n",
               "server.limits.max_headers: \"0\" is out of range; expected an integer 1..1000");
    EXPECT_ERR(LISTEN "  limits: { max_headers: 1001 }\n", "expected an integer 1..1000");
    EXPECT_ERR(LISTEN "  limits: { max_connections: 0 }\n", "server.limits.max_connections: \"0\" is out of range");
    EXPECT_ERR(LISTEN "  limits: { max_connections_per_ip: -1 }\n",
               "server.limits.max_connections_per_ip: \"-1\" is out of range");
    EXPECT_ERR(LISTEN "  limits: { max_connections_per_ip: lots }\n", "bad value \"lots\"");
    EXPECT_ERR(LISTEN "log: { level: verbose }\n",
               "log.level: bad value \"verbose\"; expected debug, info, warn or error");
    EXPECT_ERR(LISTEN "log: { access: \"\" }\n", "log.access: empty");
    EXPECT_ERR(LISTEN "log: { error: off }\n", "the error log cannot be turned off");
    EXPECT_ERR(LISTEN POOL "    origin_steering: hashed\n",
               "pools.p1.origin_steering: bad value \"hashed\"; expected random, round_robin, "
               "least_outstanding_requests, least_connections or hash");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"1.2.3.4:1\", weight: 1000001 }]\n",
               "pools.p1.origins[0].weight: \"1000001\" is out of range; expected an integer 0..1000000");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"1.2.3.4:1\", weight: -1 }]\n",
               "out of range");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"1.2.3.4:1\", enabled: maybe }]\n",
               "pools.p1.origins[0].enabled: bad value \"maybe\"; expected true or false");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"1.2.3.4:99999\" }]\n",
               "pools.p1.origins[0].address: bad address \"1.2.3.4:99999\"");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: a, address: \"no.such.host.invalid:80\" }]\n",
               "pools.p1.origins[0].address: bad address \"no.such.host.invalid:80\" (");
    EXPECT_ERR(LISTEN "pools:\n  p1:\n    origins: [{ name: \"a b\", address: \"1.2.3.4:1\" }]\n",
               "pools.p1.origins[0].name: bad name \"a b\"; expected 1..64 letters, digits");
    EXPECT_ERR(LISTEN "pools:\n  \"bad/name\":\n    origins: [{ name: a, address: \"1.2.3.4:1\" }]\n",
               "pools.bad/name: bad name \"bad/name\"");
    EXPECT_ERR(LISTEN POOL "    keepalive: { max_idle: 10001 }\n",
               "pools.p1.keepalive.max_idle: \"10001\" is out of range; expected an integer 0..10000");
    EXPECT_ERR(LISTEN POOL "    keepalive: { idle_timeout: soon }\n",
               "pools.p1.keepalive.idle_timeout: bad duration \"soon\"");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [\"a..com\"], default_pools: [p1] }\n",
               "load_balancers.lb1.hostnames[0]: bad hostname \"a..com\"; expected e.g. example.com, "
               "*.example.com or *");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [\"a*.com\"], default_pools: [p1] }\n",
               "bad hostname \"a*.com\"");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [\"*.\"], default_pools: [p1] }\n",
               "bad hostname \"*.\"");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [\"x.com:80\"], default_pools: [p1] }\n",
               "bad hostname \"x.com:80\"");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [\"\"], default_pools: [p1] }\n",
               "bad hostname \"\"");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: { path: api/* }, pools: [p1] }]\n",
               "load_balancers.lb1.rules[0].match.path: bad path glob \"api/*\"; expected '*' or a path "
               "starting with '/'");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: { path: \"/a b\" }, pools: [p1] }]\n",
               "bad path glob \"/a b\"");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: { host: \"bad host\" }, pools: [p1] }]\n",
               "load_balancers.lb1.rules[0].match.host: bad hostname \"bad host\"");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: { method: get }, pools: [p1] }]\n",
               "load_balancers.lb1.rules[0].match.method: bad method \"get\"; expected an upper-case "
               "method");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: { method: [GET, \"PO ST\"] }, pools: [p1] }]\n",
               "load_balancers.lb1.rules[0].match.method[1]: bad method \"PO ST\"");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: { method: [] }, pools: [p1] }]\n",
               "expected a method or a list of methods, e.g. [GET, HEAD], got an empty list");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: {}, fixed_response: { status: 99 } }]\n",
               "load_balancers.lb1.rules[0].fixed_response.status: \"99\" is out of range; expected an "
               "integer 100..599");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: {}, fixed_response: { status: 600 } }]\n",
               "expected an integer 100..599");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: {}, fixed_response: { status: ok } }]\n",
               "fixed_response.status: bad value \"ok\"");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: {}, fixed_response: { status: 200, "
               "content_type: \"text/plain\\r\\nX: y\" } }]\n",
               "fixed_response.content_type: bad content type \"text/plain\\x0d\\nX: y\"");
    /* long and odd values are shortened and escaped in messages */
    EXPECT_ERR(LISTEN "  limits: { idle_timeout: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" }\n",
               "bad duration \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"; expected");
}

static void test_missing(void)
{
    EXPECT_ERR_AT("log: { level: info }\n", 1, 1,
                  "the top level: missing required key 'server'");
    EXPECT_ERR_AT("server:\n  workers: 2\n", 2, 3,
                  "server: missing required key 'listen' (at least one listener is required)");
    EXPECT_ERR_AT("server:\n  listen: []\n", 2, 11, "server.listen: at least one listener is required");
    EXPECT_ERR_AT("server:\n  listen:\n    - {}\n", 3, 7,
                  "server.listen[0]: missing required key 'address'");
    EXPECT_ERR_AT(LISTEN "pools:\n  p1:\n    origin_steering: random\n", 6, 5,
                  "pools.p1: missing required key 'origins'");
    EXPECT_ERR_AT(LISTEN "pools:\n  p1:\n    origins: []\n", 6, 14,
                  "pools.p1.origins: a pool needs at least one origin");
    EXPECT_ERR_AT(LISTEN "pools:\n  p1:\n    origins:\n      - address: \"1.2.3.4:1\"\n", 7, 9,
                  "pools.p1.origins[0]: missing required key 'name'");
    EXPECT_ERR_AT(LISTEN "pools:\n  p1:\n    origins:\n      - name: a\n", 7, 9,
                  "pools.p1.origins[0]: missing required key 'address'");
    EXPECT_ERR_AT(LISTEN POOL "load_balancers:\n  lb1:\n    default_pools: [p1]\n", 10, 5,
                  "load_balancers.lb1: missing required key 'hostnames'");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [], default_pools: [p1] }\n",
               "load_balancers.lb1.hostnames: expected at least one hostname");
    EXPECT_ERR_AT(LISTEN POOL "load_balancers:\n  lb1:\n    hostnames: [a.com]\n", 10, 5,
                  "load_balancers.lb1: missing required key 'default_pools'");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [a.com], default_pools: [] }\n",
               "load_balancers.lb1.default_pools: expected at least one pool name");
    EXPECT_ERR_AT(LISTEN POOL LB "    rules:\n      - pools: [p1]\n", 13, 9,
                  "load_balancers.lb1.rules[0]: missing required key 'match'");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: {}, fixed_response: { body: x } }]\n",
               "load_balancers.lb1.rules[0].fixed_response: missing required key 'status'");
}

static void test_references(void)
{
    /* dangling references are reported at the reference itself */
    EXPECT_ERR_AT(LISTEN POOL "load_balancers:\n  lb1:\n    hostnames: [a.com]\n"
                  "    default_pools: [p1, nope]\n", 11, 25,
                  "load_balancers.lb1.default_pools[1]: no pool named \"nope\"; define it under pools:");
    EXPECT_ERR_AT(LISTEN POOL LB "    rules:\n      - match: { path: /x }\n        pools: [ghost]\n",
                  14, 17, "load_balancers.lb1.rules[0].pools[0]: no pool named \"ghost\"");
    /* load balancers may come before pools in the file */
    struct mrd_cfg *cfg = LOAD_OK(LISTEN LB POOL);
    CHECK(cfg && cfg->lbs[0].default_pools[0] == &cfg->pools[0]);
    mrd_cfg_unref(cfg);
    /* a pool with a bad body still exists for references: only its own error */
    {
        struct mrd_cfg_errors e = { 0 };
        CHECK(load(LISTEN "pools:\n  p1:\n    origins: []\n" LB, &e) == NULL);
        CHECK_EQ_INT(e.n, 1);
        mrd_cfg_errors_free(&e);
    }
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [a.com], default_pools: [p1, p1] }\n",
               "load_balancers.lb1.default_pools[1]: pool 'p1' is listed twice");
}

static void test_duplicates(void)
{
    EXPECT_ERR_AT(LISTEN "log: { level: info }\nlog: { level: warn }\n", 5, 1,
                  "duplicate key \"log\" (first defined at line 4, column 1)");
    {
        /* the repeated value is not validated as well: one error, not two */
        struct mrd_cfg_errors e = { 0 };
        CHECK(load(LISTEN "log: { level: info }\nlog: { level: bogus }\n", &e) == NULL);
        CHECK_EQ_INT(e.n, 1);
        mrd_cfg_errors_free(&e);
    }
    EXPECT_ERR_AT(LISTEN "log:\n  level: info\n  level: debug\n", 6, 3,
                  "duplicate key \"level\" (first defined at line 5, column 3)");
    EXPECT_ERR_AT(LISTEN POOL "  p1:\n    origins: [{ name: b, address: \"1.2.3.4:1\" }]\n", 8, 3,
                  "duplicate key \"p1\"");
    EXPECT_ERR_AT("server:\n  listen:\n    - address: \"127.0.0.1:80\"\n    - address: \"127.0.0.1:80\"\n",
                  4, 16, "server.listen[1].address: duplicate listen address \"127.0.0.1:80\" (also at line 3)");
    EXPECT_ERR("server:\n  listen:\n    - address: \"[::1]:80\"\n    - address: \"[0::1]:80\"\n",
               "duplicate listen address");
    EXPECT_ERR_AT(LISTEN "pools:\n  p1:\n    origins:\n      - { name: a, address: \"1.2.3.4:1\" }\n"
                  "      - { name: a, address: \"1.2.3.4:2\" }\n", 8, 17,
                  "pools.p1.origins[1].name: duplicate origin name 'a' in pool 'p1' (also at line 7)");
    EXPECT_ERR_AT(LISTEN POOL LB "  lb2:\n    hostnames: [\"EXAMPLE.com\"]\n    default_pools: [p1]\n",
                  13, 17, "load_balancers.lb2.hostnames[0]: hostname 'example.com' is already used by "
                  "load balancer 'lb1' (line 9)");
    EXPECT_ERR(LISTEN POOL "load_balancers:\n  lb1: { hostnames: [a.com, A.com], default_pools: [p1] }\n",
               "load_balancers.lb1.hostnames[1]: hostname 'a.com' is listed twice");
    /* two listeners on different ports are fine; a duplicate is reported once */
    struct mrd_cfg *cfg = LOAD_OK("server:\n  listen:\n    - address: \"127.0.0.1:80\"\n"
                                  "    - address: \"127.0.0.1:81\"\n");
    mrd_cfg_unref(cfg);
}

static void test_rule_actions(void)
{
    EXPECT_ERR_AT(LISTEN POOL LB "    rules:\n      - match: { path: /x }\n", 13, 9,
                  "load_balancers.lb1.rules[0]: a rule needs one action: pools: [...] or fixed_response: {...}");
    EXPECT_ERR_AT(LISTEN POOL LB "    rules:\n      - match: { path: /x }\n        pools: [p1]\n"
                  "        fixed_response: { status: 200 }\n", 15, 9,
                  "load_balancers.lb1.rules[0]: a rule has exactly one action; it has both pools and "
                  "fixed_response");
    EXPECT_ERR(LISTEN POOL LB "    rules: [{ match: {}, pools: [] }]\n",
               "load_balancers.lb1.rules[0].pools: expected at least one pool name");
}

/* Body text of the first rule of a config whose fixed_response body is <scalar>. */
static void expect_body(int tline, const char *scalar, const char *want, size_t want_len)
{
    char y[1024];
    struct mrd_cfg *cfg;

    snprintf(y, sizeof(y), LISTEN POOL LB "    rules:\n      - match: {}\n        fixed_response:\n"
             "          status: 200\n          body: %s\n", scalar);
    cfg = load_ok(tline, y);
    if (!cfg)
        return;
    const struct mrd_cfg_rule *r = &cfg->lbs[0].rules[0];
    int ok = r->fixed.body_len == want_len && memcmp(r->fixed.body, want, want_len) == 0;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  test line %d: body of %s is \"%.*s\"\n", tline, scalar,
                (int)r->fixed.body_len, r->fixed.body);
    mrd_cfg_unref(cfg);
}
#define EXPECT_BODY(scalar, want) expect_body(__LINE__, scalar, want, sizeof(want) - 1)

static void test_scalars(void)
{
    /* single-quoted: libfyaml 0.7.12 decodes runs of '' wrongly (and leaks); ours must not */
    EXPECT_BODY("''", "");
    EXPECT_BODY("'it''s'", "it's");
    EXPECT_BODY("''''", "'");
    EXPECT_BODY("''''''", "''");
    EXPECT_BODY("''''''''''''", "'''''");
    EXPECT_BODY("'a''''b'", "a''b");
    EXPECT_BODY("' lead and trail '", " lead and trail ");
    EXPECT_BODY("'multi  \n            line'", "multi line");
    EXPECT_BODY("'para\n\n            graph'", "para\ngraph");
    EXPECT_BODY("'a\n   \n\n            b'", "a\n\nb");
    EXPECT_BODY("'crlf\r\n            end'", "crlf end");
    /* the other styles come from libfyaml */
    EXPECT_BODY("\"tab\\there\\n\\u00e9\"", "tab\there\n\xc3\xa9");
    EXPECT_BODY("\"nul\\0byte\"", "nul\0byte");
    EXPECT_BODY("|\n            line one\n            line two\n", "line one\nline two\n");
    EXPECT_BODY(">-\n            folded\n            text\n", "folded text");
    EXPECT_BODY("plain words", "plain words");
}

static void test_yaml_errors(void)
{
    struct mrd_cfg_errors e = { 0 };
    struct mrd_cfg *cfg;

    /* syntax errors are located and not printed by libfyaml itself */
    EXPECT_ERR_AT(LISTEN "log: { level: info\n", 5, 1, "YAML syntax error: ");
    EXPECT_ERR_AT("server:\n\tlisten: []\n", 2, 1, "YAML syntax error: ");
    EXPECT_ERR_AT(LISTEN "log:\n  access: \"\\q\"\n", 5, 12, "YAML syntax error: invalid escape");
    CHECK(load("a: [\n", &e) == NULL);
    CHECK_EQ_INT(e.n, 1);
    CHECK(e.n && strncmp(e.v[0].msg, "YAML syntax error: ", 19) == 0 && e.v[0].loc.line > 0);
    mrd_cfg_errors_free(&e);
    EXPECT_ERR_AT(LISTEN "---\nlog: {}\n", 4, 1, "only one YAML document per file is supported");
    EXPECT_ERR_AT("", 1, 1, "the file is empty");
    EXPECT_ERR("# only a comment\n", "the file is empty");
    EXPECT_ERR("~\n", "the file is empty");
    /* input libfyaml would cut short or skip is refused, located */
    EXPECT_ERR_AT(LISTEN "\xff\xfe: 1\n", 4, 1, "invalid UTF-8 byte 0xff; the file must be UTF-8 text");
    EXPECT_ERR_AT(LISTEN "log: { level: \"\xc3\x28\" }\n", 4, 16, "invalid UTF-8 byte 0xc3");
    EXPECT_ERR_AT(LISTEN "log: { level: \"\xed\xa0\x80\" }\n", 4, 16, "invalid UTF-8"); /* surrogate */
    EXPECT_ERR_AT(LISTEN "log: { level: \"\xc0\xaf\" }\n", 4, 16, "invalid UTF-8"); /* overlong */
    EXPECT_ERR_AT(LISTEN "\x01log: {}\n", 4, 1, "control character 0x01 is not allowed");
    EXPECT_ERR_AT(LISTEN "log: { level: \"\xc3\xa9\x7f\" }\n", 4, 17, "control character 0x7f");
    /* multi-byte characters count as one column; a BOM and CRLF line ends are fine */
    EXPECT_ERR_AT(LISTEN "log: { level: \"\xc3\xa9\" }\n", 4, 15, "log.level: bad value \"\xc3\xa9\"");
    cfg = LOAD_OK("\xef\xbb\xbfserver:\r\n  listen:\r\n    - address: \"127.0.0.1:8080\"\r\n");
    mrd_cfg_unref(cfg);
    /* a document that is just an explicit start works like an implicit one */
    cfg = LOAD_OK("---\n" LISTEN);
    mrd_cfg_unref(cfg);
    /* NUL bytes in the input do not crash anything */
    static const char nul[] = "server:\n  listen: [{ address: \"1.2.3.4:1\" }]\0garbage";
    CHECK(mrd_cfg_load_string("t.yaml", nul, sizeof(nul) - 1, &e) == NULL);
    CHECK_EQ_INT(e.n, 1);
    CHECK(e.n == 1 && e.v[0].loc.line == 2 && e.v[0].loc.col == 37 &&
          strstr(e.v[0].msg, "control character 0x00 is not allowed in the file (NUL byte)"));
    mrd_cfg_errors_free(&e);
}

static void test_locations(void)
{
    /* block and flow values, quoted and plain: line:col point at the value (the quote) */
    EXPECT_ERR_AT("server:\n  listen:\n    - address: \"127.0.0.1:8080\"\n  limits:\n"
                  "    idle_timeout: 5x\n", 5, 19, "server.limits.idle_timeout: bad duration \"5x\"");
    EXPECT_ERR_AT(LISTEN "  limits: { max_headers: '0' }\n", 4, 26, "max_headers: \"0\" is out of range");
    EXPECT_ERR_AT(LISTEN "  workers: abc\n", 4, 12, "server.workers: bad value \"abc\"");
    EXPECT_ERR_AT(LISTEN "  limits:\n    bogus: 1\n", 5, 5, "unknown key 'bogus' in server.limits");
    /* columns count characters, not bytes */
    EXPECT_ERR_AT(LISTEN "log: { access: \"\xc3\xa9\xc3\xa9\xc3\xa9\", level: x }\n", 4, 30,
                  "log.level: bad value \"x\"");
}

static void test_all_errors_reported(void)
{
    /* seven independent problems: one run reports all of them, sorted by place */
    static const char yaml[] =
        "server:\n"
        "  workers: 0\n"                                         /* 1: 2:12 */
        "  listen:\n"
        "    - address: \"1.2.3.4\"\n"                           /* 2: 4:16 */
        "  limits: { idle_timeout: 5x, max_headers: 0 }\n"       /* 3, 4: 5:27, 5:44 */
        "log: { level: loud }\n"                                 /* 5: 6:15 */
        "pools:\n"
        "  p1:\n"
        "    origins: [{ name: a, address: \"1.2.3.4:1\" }]\n"
        "load_balancers:\n"
        "  lb1:\n"
        "    hostnames: [\"*\"]\n"
        "    default_pools: [p2]\n"                              /* 6: 13:21 */
        "cache: {}\n";                                            /* 7: 14:1 */
    static const int where[][2] = { { 2, 12 }, { 4, 16 }, { 5, 27 }, { 5, 44 }, { 6, 15 },
                                    { 13, 21 }, { 14, 1 } };
    struct mrd_cfg_errors e = { 0 };

    CHECK(load(yaml, &e) == NULL);
    CHECK_EQ_INT(e.n, 7);
    for (size_t i = 0; i < e.n && i < 7; i++) {
        CHECK_EQ_INT(e.v[i].loc.line, where[i][0]);
        CHECK_EQ_INT(e.v[i].loc.col, where[i][1]);
    }
    /* a second load appends to the same list */
    CHECK(load(yaml, &e) == NULL);
    CHECK_EQ_INT(e.n, 14);
    mrd_cfg_errors_free(&e);
    CHECK(e.v == NULL && e.n == 0);
    /* errs may be NULL: still refused */
    CHECK(mrd_cfg_load_string("t.yaml", yaml, sizeof(yaml) - 1, NULL) == NULL);
}

static void test_too_many_errors(void)
{
    size_t cap = 256 + 1300 * 8, o = 0;
    char *y = malloc(cap);
    struct mrd_cfg_errors e = { 0 };

    o += (size_t)snprintf(y + o, cap - o, LISTEN "  trusted_proxies:\n");
    for (int i = 0; i < 1300; i++)
        o += (size_t)snprintf(y + o, cap - o, "    - x\n");
    CHECK(mrd_cfg_load_string("t.yaml", y, o, &e) == NULL);
    CHECK_EQ_INT(e.n, 1001);
    CHECK(e.n == 1001 && strstr(e.v[1000].msg, "too many errors") != NULL);
    CHECK(e.n == 1001 && e.v[1000].loc.line == 0);
    mrd_cfg_errors_free(&e);
    free(y);
}

static void test_alias_bomb(void)
{
    /* aliases can multiply work; the loader stops at a budget instead of running away */
    char *y = malloc(1 << 16);
    size_t o = 0;
    struct mrd_cfg_errors e = { 0 };

    o += (size_t)sprintf(y + o, LISTEN POOL "x:\n  m: &m [GET");
    for (int i = 0; i < 99; i++)
        o += (size_t)sprintf(y + o, ", GET");
    o += (size_t)sprintf(y + o, "]\n  r: &r { match: { method: *m }, pools: [p1] }\n  rs: &rs [*r");
    for (int i = 0; i < 99; i++)
        o += (size_t)sprintf(y + o, ", *r");
    o += (size_t)sprintf(y + o, "]\nload_balancers:\n");
    for (int i = 0; i < 200; i++)
        o += (size_t)sprintf(y + o, "  l%d: { hostnames: [h%d.com], default_pools: [p1], rules: *rs }\n", i, i);
    CHECK(mrd_cfg_load_string("t.yaml", y, o, &e) == NULL);
    CHECK(has_err(&e, 0, 0, "configuration too large"));
    mrd_cfg_errors_free(&e);
    free(y);
}

static void test_missing_file(void)
{
    struct mrd_cfg_errors e = { 0 };
    char *out = NULL;
    size_t outlen = 0;
    FILE *f;
    char want[256];

    CHECK(mrd_cfg_load_file("/nonexistent/meridian.yaml", &e) == NULL);
    CHECK_EQ_INT(e.n, 1);
    if (e.n != 1)
        return;
    CHECK_STR(e.v[0].loc.file, "/nonexistent/meridian.yaml");
    CHECK_EQ_INT(e.v[0].loc.line, 0);
    snprintf(want, sizeof(want), "cannot read config file: %s", strerror(ENOENT));
    CHECK_STR(e.v[0].msg, want);
    f = open_memstream(&out, &outlen);
    mrd_cfg_errors_print(&e, f);
    fclose(f);
    snprintf(want, sizeof(want), "/nonexistent/meridian.yaml: cannot read config file: %s\n",
             strerror(ENOENT));
    CHECK_STR(out, want);
    free(out);
    mrd_cfg_errors_free(&e);

    CHECK(mrd_cfg_load_file("/", &e) == NULL); /* a directory */
    CHECK(e.n == 1 && strstr(e.v[0].msg, strerror(EISDIR)) != NULL);
    mrd_cfg_errors_free(&e);
    CHECK(mrd_cfg_load_file(NULL, &e) == NULL);
    CHECK_EQ_INT(e.n, 1);
    mrd_cfg_errors_free(&e);
}

static void test_file_and_print(void)
{
    char path[] = "/tmp/mrd_cfg_test_XXXXXX";
    int fd = mkstemp(path);
    static const char yaml[] = LISTEN "  workers: nope\n";
    struct mrd_cfg_errors e = { 0 };
    char *out = NULL, want[512];
    size_t outlen = 0;
    FILE *f;

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, yaml, sizeof(yaml) - 1) == (ssize_t)(sizeof(yaml) - 1));
    close(fd);
    CHECK(mrd_cfg_load_file(path, &e) == NULL);
    f = open_memstream(&out, &outlen);
    mrd_cfg_errors_print(&e, f);
    fclose(f);
    snprintf(want, sizeof(want),
             "%s:4:12: server.workers: bad value \"nope\"; expected auto or an integer 1..256\n", path);
    CHECK_STR(out, want);
    free(out);
    mrd_cfg_errors_free(&e);

    /* the same file, fixed, loads; its objects carry the path */
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && write(fd, LISTEN, strlen(LISTEN)) == (ssize_t)strlen(LISTEN));
    close(fd);
    struct mrd_cfg *cfg = mrd_cfg_load_file(path, &e);
    CHECK(cfg != NULL);
    CHECK(cfg && strcmp(cfg->server.listen[0].loc.file, path) == 0);
    mrd_cfg_unref(cfg);
    mrd_cfg_errors_free(&e);
    unlink(path);
}

TEST_MAIN(
    test_duration();
    test_size();
    test_addr();
    test_cidr();
    test_glob();
    test_defaults();
    test_full();
    test_quickstart_file();
    test_find_lb();
    test_aliases();
    test_unknown_keys();
    test_not_supported();
    test_wrong_types();
    test_bad_values();
    test_missing();
    test_references();
    test_duplicates();
    test_rule_actions();
    test_scalars();
    test_yaml_errors();
    test_locations();
    test_all_errors_reported();
    test_too_many_errors();
    test_alias_bomb();
    test_missing_file();
    test_file_and_print()
)
