/* Unit tests of the admin request handler (src/admin/routes.c, patch.c, token.c, metrics.c,
 * openapi.c) without sockets: authentication, routing, errors and their JSON shape, PATCH
 * validation (all-or-nothing), the JSON endpoints on a real generation, and /metrics. */
#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin-int.h"
#include "config/config.h"
#include "health/state.h"
#include "test.h"

#define TOKEN "s3cret-token"

static const char yaml[] =
    "server:\n  listen:\n    - address: \"127.0.0.1:8080\"\n"
    "monitors:\n  hc:\n    type: http\n    path: /health\n    interval: 1s\n    timeout: 500ms\n"
    "pools:\n"
    "  p1:\n    monitor: hc\n    origins:\n"
    "      - { name: a, address: \"127.0.0.1:9001\", weight: 3 }\n"
    "      - { name: b, address: \"127.0.0.1:9002\" }\n"
    "  p2:\n    origins:\n      - { name: c, address: \"127.0.0.1:9003\", enabled: false }\n"
    "load_balancers:\n  lb1:\n    hostnames: [\"example.com\"]\n    default_pools: [p1, p2]\n"
    "  lb2:\n    hostnames: [\"other.example\"]\n    default_pools: [p2]\n";

static struct mrd_cfg *cfg;

/* ---- helpers ---- */

struct call {
    struct mrd_admin_rsp rsp;
    struct fy_document  *doc; /* the body parsed as JSON, NULL if it is not JSON */
};

static void call_free(struct call *c)
{
    if (c->doc)
        fy_document_destroy(c->doc);
    mrd_admin_rsp_free(&c->rsp);
    memset(c, 0, sizeof(*c));
}

static void call_do(struct call *c, const char *method, const char *target, const char *auth,
                    const char *ctype, const char *body)
{
    struct mrd_admin_req req = { 0 };
    struct fy_parse_cfg pc = { .flags = FYPCF_QUIET | FYPCF_JSON_FORCE };

    memset(c, 0, sizeof(*c));
    req.method = method;
    req.method_len = strlen(method);
    req.target = target;
    req.target_len = strlen(target);
    if (auth) {
        req.has_auth = true;
        req.auth = auth;
        req.auth_len = strlen(auth);
    }
    if (ctype) {
        req.has_ctype = true;
        req.ctype = ctype;
        req.ctype_len = strlen(ctype);
    }
    if (body) {
        req.body = body;
        req.body_len = strlen(body);
    }
    mrd_admin_rsp_init(&c->rsp);
    mrd_admin_handle(&req, &c->rsp);
    if (c->rsp.body.p && !strncmp(c->rsp.ctype, "application/json", 16))
        c->doc = fy_document_build_from_string(&pc, c->rsp.body.p, c->rsp.body.len);
}

static void call_auth(struct call *c, const char *method, const char *target, const char *body)
{
    call_do(c, method, target, "Bearer " TOKEN, body ? "application/json" : NULL, body);
}

/* The scalar at JSON pointer <path> of the response, or NULL. */
static const char *jget(struct call *c, const char *path)
{
    static char out[256];
    if (!c->doc)
        return NULL;
    struct fy_node *n = fy_node_by_path(fy_document_root(c->doc), path, (size_t)-1,
                                        FYNWF_DONT_FOLLOW);
    size_t len;
    const char *s = n && fy_node_get_type(n) == FYNT_SCALAR ? fy_node_get_scalar(n, &len) : NULL;
    if (!s)
        return NULL;
    snprintf(out, sizeof(out), "%.*s", (int)len, s);
    return out;
}

static int jcount(struct call *c, const char *path)
{
    if (!c->doc)
        return -1;
    struct fy_node *n = fy_node_by_path(fy_document_root(c->doc), path, (size_t)-1,
                                        FYNWF_DONT_FOLLOW);
    if (!n)
        return -1;
    return fy_node_get_type(n) == FYNT_SEQUENCE ? fy_node_sequence_item_count(n)
           : fy_node_get_type(n) == FYNT_MAPPING ? fy_node_mapping_item_count(n)
                                                 : -1;
}

/* Checks the documented error shape: exactly {"error": {code, message, details[]}}. */
static void check_error(struct call *c, int status, const char *code)
{
    CHECK_EQ_INT(c->rsp.status, status);
    CHECK(c->doc != NULL);
    CHECK_EQ_INT(jcount(c, "/"), 1);
    CHECK_STR(jget(c, "/error/code"), code);
    const char *m = jget(c, "/error/message");
    CHECK(m && *m);
    CHECK(jcount(c, "/error/details") >= 0);
}

static struct mrd_cfg_origin *origin(const char *pool, const char *name)
{
    for (size_t i = 0; i < cfg->n_pools; i++)
        for (size_t k = 0; k < cfg->pools[i].n_origins; k++)
            if (!strcmp(cfg->pools[i].name, pool) && !strcmp(cfg->pools[i].origins[k].name, name))
                return &cfg->pools[i].origins[k];
    return NULL;
}

static void setup(void)
{
    struct mrd_cfg_errors e = { 0 };
    cfg = mrd_cfg_load_string("t.yaml", yaml, strlen(yaml), &e);
    if (!cfg) {
        mrd_cfg_errors_print(&e, stderr);
        mrd_cfg_errors_free(&e);
        exit(1);
    }
    mrd_cfg_errors_free(&e);
    cfg->generation = 7;
    if (mrd_rt_bind(cfg))
        exit(1);
    mrd_rt_set_current_cfg(cfg);
    struct mrd_admin_ctx ctx = { .n_workers = 2, .version = "9.9.9", .config_path = "t.yaml" };
    mrd_admin_set_ctx(&ctx);
    mrd_admin_set_token(TOKEN, strlen(TOKEN));
}

/* ---- tests ---- */

static void test_token_eq(void)
{
    CHECK(mrd_admin_token_eq("abc", 3, "abc", 3));
    CHECK(!mrd_admin_token_eq("abd", 3, "abc", 3));
    CHECK(!mrd_admin_token_eq("ab", 2, "abc", 3));
    CHECK(!mrd_admin_token_eq("abcabc", 6, "abc", 3)); /* the modulo walk must not match */
    CHECK(!mrd_admin_token_eq("abcd", 4, "abc", 3));
    CHECK(!mrd_admin_token_eq("", 0, "abc", 3));
    CHECK(!mrd_admin_token_eq("", 0, "", 0));
    CHECK(!mrd_admin_token_eq("Abc", 3, "abc", 3));
}

static void test_read_token(void)
{
    struct mrd_cfg c = { 0 };
    char path[] = "/tmp/mrd-admin-tokenXXXXXX";
    char *tok;
    size_t len;
    const char *why;
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    CHECK(write(fd, "  tok-123\r\n\n", 12) == 12);
    close(fd);
    c.admin.token_file = path;
    CHECK_EQ_INT(mrd_admin_read_token(&c, &tok, &len, &why), 0);
    CHECK_STR(tok, "tok-123");
    CHECK_EQ_INT(len, 7);
    free(tok);

    /* the file wins over the environment */
    setenv("MERIDIAN_ADMIN_TOKEN", "from-env", 1);
    CHECK_EQ_INT(mrd_admin_read_token(&c, &tok, &len, &why), 0);
    CHECK_STR(tok, "tok-123");
    free(tok);
    c.admin.token_file = NULL;
    CHECK_EQ_INT(mrd_admin_read_token(&c, &tok, &len, &why), 0);
    CHECK_STR(tok, "from-env");
    free(tok);
    unsetenv("MERIDIAN_ADMIN_TOKEN");
    CHECK_EQ_INT(mrd_admin_read_token(&c, &tok, &len, &why), 0);
    CHECK(tok == NULL);

    /* two words, or nothing but whitespace, are refused */
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, "two words\n", 10) == 10);
    close(fd);
    c.admin.token_file = path;
    CHECK_EQ_INT(mrd_admin_read_token(&c, &tok, &len, &why), -EINVAL);
    CHECK(tok == NULL && why != NULL);
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, " \n", 2) == 2);
    close(fd);
    CHECK_EQ_INT(mrd_admin_read_token(&c, &tok, &len, &why), -EINVAL);
    /* bigger than the bound */
    fd = open(path, O_WRONLY | O_TRUNC);
    char big[MRD_ADMIN_MAX_TOKEN + 10];
    memset(big, 'k', sizeof(big));
    CHECK(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big));
    close(fd);
    CHECK_EQ_INT(mrd_admin_read_token(&c, &tok, &len, &why), -EFBIG);
    unlink(path);
    CHECK_EQ_INT(mrd_admin_read_token(&c, &tok, &len, &why), -ENOENT);
}

static void test_auth(void)
{
    struct call c;
    call_do(&c, "GET", "/healthz", NULL, NULL, NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK_STR(jget(&c, "/status"), "ok");
    call_free(&c);

    call_do(&c, "GET", "/v1/status", NULL, NULL, NULL);
    check_error(&c, 401, "unauthorized");
    CHECK(c.rsp.auth_challenge);
    call_free(&c);
    call_do(&c, "GET", "/v1/status", "Bearer wrong", NULL, NULL);
    check_error(&c, 401, "unauthorized");
    call_free(&c);
    call_do(&c, "GET", "/v1/status", "Bearer " TOKEN "x", NULL, NULL);
    check_error(&c, 401, "unauthorized");
    call_free(&c);
    call_do(&c, "GET", "/v1/status", "Basic " TOKEN, NULL, NULL);
    check_error(&c, 401, "unauthorized");
    call_free(&c);
    call_do(&c, "GET", "/v1/status", "Bearer", NULL, NULL);
    check_error(&c, 401, "unauthorized");
    call_free(&c);
    /* unknown paths are not revealed without the token */
    call_do(&c, "GET", "/nope", NULL, NULL, NULL);
    check_error(&c, 401, "unauthorized");
    call_free(&c);
    /* the scheme is case-insensitive and extra blanks are fine */
    call_do(&c, "GET", "/v1/status", "bearer   " TOKEN "  ", NULL, NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK(!c.rsp.auth_challenge);
    call_free(&c);
    /* an unauthenticated PATCH applies nothing */
    call_do(&c, "PATCH", "/v1/pools/p1/origins/a", NULL, "application/json", "{\"weight\": 9}");
    check_error(&c, 401, "unauthorized");
    CHECK_EQ_INT(mrd_origin_weight(origin("p1", "a")), 3);
    call_free(&c);

    /* no token configured: everything serves */
    mrd_admin_set_token(NULL, 0);
    call_do(&c, "GET", "/v1/pools", NULL, NULL, NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    call_free(&c);
    mrd_admin_set_token(TOKEN, strlen(TOKEN));
}

static void test_routing(void)
{
    struct call c;
    call_auth(&c, "GET", "/v1/nothing", NULL);
    check_error(&c, 404, "not_found");
    call_free(&c);
    call_auth(&c, "GET", "/v1/pools/", NULL);
    check_error(&c, 404, "not_found");
    call_free(&c);
    call_auth(&c, "GET", "/v1/pools/p1/origins/a/extra", NULL);
    check_error(&c, 404, "not_found");
    call_free(&c);
    call_auth(&c, "GET", "/a/b/c/d/e/f/g/h/i/j/k", NULL);
    check_error(&c, 404, "not_found");
    call_free(&c);
    call_auth(&c, "GET", "*", NULL);
    check_error(&c, 400, "bad_request");
    call_free(&c);
    call_auth(&c, "GET", "/v1/pools/zz/origins/a", NULL);
    check_error(&c, 404, "not_found");
    call_free(&c);
    call_auth(&c, "GET", "/v1/pools/p1/origins/zz", NULL);
    check_error(&c, 404, "not_found");
    call_free(&c);
    call_auth(&c, "GET", "/v1/pools/p1/origins/%zz", NULL);
    check_error(&c, 400, "bad_request");
    call_free(&c);
    call_auth(&c, "GET", "/v1/pools/p1/origins/%00", NULL);
    check_error(&c, 400, "bad_request");
    call_free(&c);
    call_auth(&c, "GET", "/v1/pools/p1/origins/%6", NULL);
    check_error(&c, 400, "bad_request");
    call_free(&c);
    /* percent-encoded names and a query string are fine */
    call_auth(&c, "GET", "/v1/pools/%70%31/origins/%61?x=1", NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK_STR(jget(&c, "/name"), "a");
    call_free(&c);
    call_auth(&c, "GET", "/v1/pools/p2", NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK_STR(jget(&c, "/name"), "p2");
    call_free(&c);

    /* methods */
    call_auth(&c, "POST", "/v1/pools", NULL);
    check_error(&c, 405, "method_not_allowed");
    CHECK_STR(c.rsp.allow, "GET, HEAD");
    call_free(&c);
    call_auth(&c, "DELETE", "/v1/pools/p1/origins/a", NULL);
    check_error(&c, 405, "method_not_allowed");
    CHECK_STR(c.rsp.allow, "GET, HEAD, PATCH");
    call_free(&c);
    call_do(&c, "POST", "/healthz", NULL, NULL, NULL);
    check_error(&c, 405, "method_not_allowed");
    call_free(&c);
    call_auth(&c, "HEAD", "/v1/status", NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK(c.rsp.no_body);
    CHECK(c.rsp.body.len > 0); /* Content-Length still describes the GET body */
    call_free(&c);
}

static void test_status(void)
{
    struct call c;
    call_auth(&c, "GET", "/v1/status", NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK_STR(c.rsp.ctype, "application/json");
    CHECK_STR(jget(&c, "/version"), "9.9.9");
    CHECK_STR(jget(&c, "/generation"), "7");
    CHECK_STR(jget(&c, "/workers"), "2");
    CHECK_STR(jget(&c, "/connections"), "0");
    CHECK_STR(jget(&c, "/tunnels"), "0");
    CHECK_STR(jget(&c, "/pools"), "2");
    CHECK_STR(jget(&c, "/origins"), "3");
    CHECK(jget(&c, "/uptime_s") != NULL);
    call_free(&c);
}

static void test_pools(void)
{
    struct mrd_origin_rt *rt = origin("p1", "a")->rt;
    struct call c;

    /* two probes, the newest one failed */
    pthread_mutex_lock(&rt->lock);
    rt->probes[0] = (struct mrd_probe_result){ .ts_ms = 1000, .ok = true, .status = 200,
                                               .rtt_ms = 1.5 };
    rt->probes[1] = (struct mrd_probe_result){ .ts_ms = 2000, .ok = false, .status = 503,
                                               .rtt_ms = 2.25, .error = "status 503" };
    rt->n_probes = 2;
    rt->probe_head = 2;
    snprintf(rt->reason, sizeof(rt->reason), "monitor: \"503\"\nx");
    pthread_mutex_unlock(&rt->lock);
    atomic_store(&rt->in_flight, 4);
    atomic_store(&rt->tunnels, 2);

    call_auth(&c, "GET", "/v1/pools", NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK_EQ_INT(jcount(&c, "/pools"), 2);
    CHECK_STR(jget(&c, "/pools/0/name"), "p1");
    CHECK_STR(jget(&c, "/pools/0/healthy"), "true");
    CHECK_STR(jget(&c, "/pools/0/monitor"), "hc");
    CHECK_EQ_INT(jcount(&c, "/pools/0/origins"), 2);
    CHECK_STR(jget(&c, "/pools/0/origins/0/name"), "a");
    CHECK_STR(jget(&c, "/pools/0/origins/0/address"), "127.0.0.1:9001");
    CHECK_STR(jget(&c, "/pools/0/origins/0/healthy"), "true");
    CHECK_STR(jget(&c, "/pools/0/origins/0/enabled"), "true");
    CHECK_STR(jget(&c, "/pools/0/origins/0/weight"), "3");
    CHECK_STR(jget(&c, "/pools/0/origins/0/in_flight"), "4");
    CHECK_STR(jget(&c, "/pools/0/origins/0/tunnels"), "2");
    CHECK_STR(jget(&c, "/pools/0/origins/0/reason"), "monitor: \"503\"\nx");
    CHECK_EQ_INT(jcount(&c, "/pools/0/origins/0/last_probes"), 2);
    CHECK_STR(jget(&c, "/pools/0/origins/0/last_probes/0/ts"), "2000"); /* newest first */
    CHECK_STR(jget(&c, "/pools/0/origins/0/last_probes/0/ok"), "false");
    CHECK_STR(jget(&c, "/pools/0/origins/0/last_probes/0/status"), "503");
    CHECK_STR(jget(&c, "/pools/0/origins/0/last_probes/0/rtt_ms"), "2.25");
    CHECK_STR(jget(&c, "/pools/0/origins/0/last_probes/0/error"), "status 503");
    CHECK_STR(jget(&c, "/pools/0/origins/0/last_probes/1/ts"), "1000");
    CHECK_STR(jget(&c, "/pools/1/origins/0/enabled"), "false");
    CHECK_STR(jget(&c, "/pools/1/healthy"), "false"); /* its only origin is disabled */
    CHECK_STR(jget(&c, "/pools/1/monitor"), "null");
    call_free(&c);

    /* the monitor marks b down: p1 needs 1 of 2, still healthy; then a is ejected too */
    atomic_store(&origin("p1", "b")->rt->mon_healthy, false);
    atomic_store(&rt->ejected_until_ms, mrd_rt_now_ms() + 60000);
    call_auth(&c, "GET", "/v1/pools", NULL);
    CHECK_STR(jget(&c, "/pools/0/origins/1/healthy"), "false");
    CHECK_STR(jget(&c, "/pools/0/origins/0/healthy"), "false");
    CHECK_STR(jget(&c, "/pools/0/origins/0/ejected"), "true");
    CHECK_STR(jget(&c, "/pools/0/healthy"), "false");
    call_free(&c);
    atomic_store(&origin("p1", "b")->rt->mon_healthy, true);
    atomic_store(&rt->ejected_until_ms, 0);
    atomic_store(&rt->in_flight, 0);
    atomic_store(&rt->tunnels, 0);
}

static void test_patch_parse(void)
{
    static const struct {
        const char *body;
        const char *code;   /* NULL = accepted */
        const char *field0; /* first detail's field */
        int         n_details;
    } cases[] = {
        { "{\"enabled\": false}", NULL, NULL, 0 },
        { "{\"weight\": 0, \"drain\": true, \"enabled\": true}", NULL, NULL, 0 },
        { "{\"weight\": 1000000}", NULL, NULL, 0 },
        { "{\"weight\": null, \"enabled\": null}", NULL, NULL, 0 },
        { "{\"weight\": -0}", NULL, NULL, 0 },
        { "", "invalid_json", NULL, 0 },
        { "{not json", "invalid_json", NULL, 0 },
        { "[1, 2]", "invalid_json", NULL, 0 },
        { "\"weight\"", "invalid_json", NULL, 0 },
        { "{\"weight\": 1, \"weight\": 2}", "invalid_json", NULL, 0 },
        { "{}", "invalid_field", NULL, 1 },
        { "{\"bogus\": 1}", "invalid_field", "bogus", 1 },
        { "{\"weight\": 5, \"bogus\": 1}", "invalid_field", "bogus", 1 },
        { "{\"weight\": -1}", "invalid_field", "weight", 1 },
        { "{\"weight\": 1000001}", "invalid_field", "weight", 1 },
        { "{\"weight\": 99999999999999999999999}", "invalid_field", "weight", 1 },
        { "{\"weight\": \"5\"}", "invalid_field", "weight", 1 },
        { "{\"weight\": 1.5}", "invalid_field", "weight", 1 },
        { "{\"weight\": 1e3}", "invalid_field", "weight", 1 },
        { "{\"weight\": true}", "invalid_field", "weight", 1 },
        { "{\"enabled\": \"true\"}", "invalid_field", "enabled", 1 },
        { "{\"enabled\": 1}", "invalid_field", "enabled", 1 },
        { "{\"drain\": null}", "invalid_field", "drain", 1 },
        { "{\"drain\": {}}", "invalid_field", "drain", 1 },
        { "{\"enabled\": \"no\", \"weight\": 5, \"drain\": 1}", "invalid_field", "enabled", 2 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mrd_admin_rsp rsp;
        struct mrd_admin_patch pt;
        mrd_admin_rsp_init(&rsp);
        int r = mrd_admin_parse_patch(cases[i].body, strlen(cases[i].body), &pt, &rsp);
        if (!cases[i].code) {
            if (r)
                fprintf(stderr, "case %zu (%s): %s\n", i, cases[i].body, rsp.body.p);
            CHECK_EQ_INT(r, 0);
        } else {
            struct call c = { .rsp = rsp };
            struct fy_parse_cfg pc = { .flags = FYPCF_QUIET | FYPCF_JSON_FORCE };
            c.doc = fy_document_build_from_string(&pc, rsp.body.p, rsp.body.len);
            if (r != 400 || !jget(&c, "/error/code") || strcmp(jget(&c, "/error/code"), cases[i].code))
                fprintf(stderr, "case %zu (%s): %s\n", i, cases[i].body, rsp.body.p);
            check_error(&c, 400, cases[i].code);
            CHECK_EQ_INT(r, 400);
            if (cases[i].field0)
                CHECK_STR(jget(&c, "/error/details/0/field"), cases[i].field0);
            if (cases[i].n_details)
                CHECK_EQ_INT(jcount(&c, "/error/details"), cases[i].n_details);
            fy_document_destroy(c.doc);
        }
        mrd_admin_rsp_free(&rsp);
    }
    /* what an accepted body says */
    struct mrd_admin_rsp rsp;
    struct mrd_admin_patch pt;
    mrd_admin_rsp_init(&rsp);
    CHECK_EQ_INT(mrd_admin_parse_patch("{\"weight\": 42, \"enabled\": null}", 31, &pt, &rsp), 0);
    CHECK(pt.has_weight && pt.weight == 42);
    CHECK(pt.has_enabled && pt.enabled == -1);
    CHECK(!pt.has_drain);
    mrd_admin_rsp_free(&rsp);
}

static void test_patch_apply(void)
{
    struct mrd_cfg_origin *a = origin("p1", "a");
    struct mrd_event_rec ev[4];
    struct call c;

    call_auth(&c, "PATCH", "/v1/pools/p1/origins/a", "{\"weight\": 5, \"bogus\": 1}");
    check_error(&c, 400, "invalid_field");
    CHECK_EQ_INT(mrd_origin_weight(a), 3); /* nothing applied */
    call_free(&c);
    call_auth(&c, "PATCH", "/v1/pools/p1/origins/a", "{\"weight\": 5, \"enabled\": 2}");
    check_error(&c, 400, "invalid_field");
    CHECK_EQ_INT(mrd_origin_weight(a), 3);
    CHECK(mrd_origin_enabled(a));
    call_free(&c);

    call_auth(&c, "PATCH", "/v1/pools/p1/origins/a",
              "{\"weight\": 5, \"enabled\": false, \"drain\": true}");
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK_STR(jget(&c, "/name"), "a");
    CHECK_STR(jget(&c, "/weight"), "5");
    CHECK_STR(jget(&c, "/enabled"), "false");
    CHECK_STR(jget(&c, "/draining"), "true");
    CHECK_STR(jget(&c, "/configured/weight"), "3");
    CHECK_STR(jget(&c, "/overrides/weight"), "5");
    CHECK_EQ_INT(mrd_origin_weight(a), 5);
    CHECK(!mrd_origin_enabled(a));
    CHECK(atomic_load(&a->rt->draining));
    call_free(&c);
    size_t n = mrd_events_copy(ev, 4);
    CHECK(n >= 1);
    if (n) {
        CHECK_STR(ev[n - 1].kind, "admin");
        CHECK(strstr(ev[n - 1].msg, "p1/a") && strstr(ev[n - 1].msg, "weight=5"));
    }
    /* the pool went unhealthy: its only other origin counts, minimum 1, so still healthy */
    CHECK(mrd_pool_healthy(&cfg->pools[0], mrd_rt_now_ms()));

    /* content types: JSON with parameters and none at all are taken, others refused */
    call_do(&c, "PATCH", "/v1/pools/p1/origins/a", "Bearer " TOKEN,
            "application/json; charset=utf-8", "{\"drain\": false}");
    CHECK_EQ_INT(c.rsp.status, 200);
    call_free(&c);
    call_do(&c, "PATCH", "/v1/pools/p1/origins/a", "Bearer " TOKEN, NULL, "{\"weight\": null}");
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK_EQ_INT(mrd_origin_weight(a), 3);
    call_free(&c);
    call_do(&c, "PATCH", "/v1/pools/p1/origins/a", "Bearer " TOKEN,
            "application/x-www-form-urlencoded", "{\"enabled\": true}");
    check_error(&c, 415, "unsupported_media_type");
    CHECK(!mrd_origin_enabled(a));
    call_free(&c);
    call_auth(&c, "PATCH", "/v1/pools/p1/origins/a", "{\"enabled\": null}");
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK(mrd_origin_enabled(a));
    CHECK_STR(jget(&c, "/overrides/enabled"), "null");
    call_free(&c);
    /* unknown pool or origin: 404 even with a valid body */
    call_auth(&c, "PATCH", "/v1/pools/nope/origins/a", "{\"weight\": 5}");
    check_error(&c, 404, "not_found");
    call_free(&c);
}

static void test_events(void)
{
    struct call c;
    mrd_event("test", "hello \"world\"\n");
    call_auth(&c, "GET", "/v1/events", NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    int n = jcount(&c, "/events");
    CHECK(n >= 1);
    char path[64];
    snprintf(path, sizeof(path), "/events/%d/kind", n - 1);
    CHECK_STR(jget(&c, path), "test");
    snprintf(path, sizeof(path), "/events/%d/message", n - 1);
    CHECK_STR(jget(&c, path), "hello \"world\"\n");
    snprintf(path, sizeof(path), "/events/%d/seq", n - 1);
    CHECK(jget(&c, path) != NULL);
    call_free(&c);
}

static void test_openapi(void)
{
    struct call c;
    call_auth(&c, "GET", "/openapi.json", NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK(c.doc != NULL);
    CHECK_STR(jget(&c, "/openapi"), "3.1.0");
    static const char *const paths[] = { "/healthz", "/v1/status", "/v1/pools", "/v1/events",
                                         "/metrics", "/openapi.json" };
    struct fy_node *p = c.doc ? fy_node_by_path(fy_document_root(c.doc), "/paths", (size_t)-1,
                                                FYNWF_DONT_FOLLOW)
                              : NULL;
    CHECK(p != NULL);
    for (size_t i = 0; p && i < sizeof(paths) / sizeof(paths[0]); i++)
        CHECK(fy_node_mapping_lookup_by_string(p, paths[i], (size_t)-1) != NULL);
    CHECK(p && fy_node_mapping_lookup_by_string(p, "/v1/pools/{pool}/origins/{origin}",
                                                (size_t)-1) != NULL);
    call_free(&c);
}

/* The line of <text> that starts with <prefix>, or NULL. */
static const char *line_of(const char *text, const char *prefix)
{
    static char out[512];
    size_t pl = strlen(prefix);
    for (const char *s = text; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l >= pl && !memcmp(s, prefix, pl) && l < sizeof(out)) {
            memcpy(out, s, l);
            out[l] = '\0';
            return out;
        }
        s = e ? e + 1 : NULL;
    }
    return NULL;
}

static void test_metrics(void)
{
    struct mrd_cfg_origin *a = origin("p1", "a");
    struct mrd_lb_rt *lb = cfg->lbs[0].rt;
    struct call c;

    a->rt->ctr[0].req_by_class[2] = 7;
    a->rt->ctr[1].req_by_class[2] = 3;
    a->rt->ctr[1].req_by_class[5] = 1;
    a->rt->ctr[1].err_timeout = 2;
    lb->ctr[0].hist[0] = 1;  /* <= 5ms */
    lb->ctr[1].hist[3] = 2;  /* <= 50ms */
    lb->ctr[0].hist[MRD_HIST_BUCKETS - 1] = 1; /* > 10s */
    lb->ctr[0].sum_us = 12500000;
    lb->ctr[0].count = 4;
    pthread_mutex_lock(&a->rt->lock);
    a->rt->probe_sum_us = 3000;
    a->rt->probe_count = 2;
    pthread_mutex_unlock(&a->rt->lock);

    call_auth(&c, "GET", "/metrics", NULL);
    const char *t = c.rsp.body.p;
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK_STR(c.rsp.ctype, "text/plain; version=0.0.4; charset=utf-8");
    CHECK(t != NULL);
    if (!t)
        return;
    static const char *const families[][2] = {
        { "meridian_requests_total", "counter" },
        { "meridian_upstream_errors_total", "counter" },
        { "meridian_origin_healthy", "gauge" },
        { "meridian_pool_healthy", "gauge" },
        { "meridian_health_probe_duration_seconds", "summary" },
        { "meridian_request_duration_seconds", "histogram" },
        { "meridian_connections", "gauge" },
        { "meridian_websocket_tunnels", "gauge" },
        { "meridian_config_generation", "gauge" },
    };
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        char want[128];
        snprintf(want, sizeof(want), "# TYPE %s %s", families[i][0], families[i][1]);
        CHECK(line_of(t, want) != NULL);
        snprintf(want, sizeof(want), "# HELP %s ", families[i][0]);
        CHECK(line_of(t, want) != NULL);
    }
    CHECK_STR(line_of(t, "meridian_requests_total{lb=\"lb1\",pool=\"p1\",origin=\"a\",code=\"2xx\"}"),
              "meridian_requests_total{lb=\"lb1\",pool=\"p1\",origin=\"a\",code=\"2xx\"} 10");
    CHECK_STR(line_of(t, "meridian_requests_total{lb=\"lb1\",pool=\"p1\",origin=\"a\",code=\"5xx\"}"),
              "meridian_requests_total{lb=\"lb1\",pool=\"p1\",origin=\"a\",code=\"5xx\"} 1");
    CHECK_STR(line_of(t, "meridian_upstream_errors_total{pool=\"p1\",origin=\"a\",kind=\"timeout\"}"),
              "meridian_upstream_errors_total{pool=\"p1\",origin=\"a\",kind=\"timeout\"} 2");
    CHECK_STR(line_of(t, "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"0.005\"}"),
              "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"0.005\"} 1");
    CHECK_STR(line_of(t, "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"0.025\"}"),
              "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"0.025\"} 1");
    CHECK_STR(line_of(t, "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"0.05\"}"),
              "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"0.05\"} 3");
    CHECK_STR(line_of(t, "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"10\"}"),
              "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"10\"} 3");
    CHECK_STR(line_of(t, "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"+Inf\"}"),
              "meridian_request_duration_seconds_bucket{lb=\"lb1\",le=\"+Inf\"} 4");
    CHECK_STR(line_of(t, "meridian_request_duration_seconds_count{lb=\"lb1\"}"),
              "meridian_request_duration_seconds_count{lb=\"lb1\"} 4");
    CHECK_STR(line_of(t, "meridian_request_duration_seconds_sum{lb=\"lb1\"}"),
              "meridian_request_duration_seconds_sum{lb=\"lb1\"} 12.500000");
    CHECK_STR(line_of(t, "meridian_health_probe_duration_seconds_count{pool=\"p1\",origin=\"a\"}"),
              "meridian_health_probe_duration_seconds_count{pool=\"p1\",origin=\"a\"} 2");
    CHECK_STR(line_of(t, "meridian_health_probe_duration_seconds_sum{pool=\"p1\",origin=\"a\"}"),
              "meridian_health_probe_duration_seconds_sum{pool=\"p1\",origin=\"a\"} 0.003000");
    /* p2 has no monitor: no probe series for it */
    CHECK(line_of(t, "meridian_health_probe_duration_seconds_count{pool=\"p2\"") == NULL);
    /* p2 is shared by lb1 and lb2: its per-origin counters cannot name one */
    CHECK_STR(line_of(t, "meridian_requests_total{lb=\"\",pool=\"p2\",origin=\"c\",code=\"2xx\"}"),
              "meridian_requests_total{lb=\"\",pool=\"p2\",origin=\"c\",code=\"2xx\"} 0");
    CHECK_STR(line_of(t, "meridian_pool_healthy{pool=\"p2\"}"), "meridian_pool_healthy{pool=\"p2\"} 0");
    CHECK_STR(line_of(t, "meridian_origin_healthy{pool=\"p1\",origin=\"b\"}"),
              "meridian_origin_healthy{pool=\"p1\",origin=\"b\"} 1");
    CHECK_STR(line_of(t, "meridian_config_generation"), "meridian_config_generation 7");
    CHECK_STR(line_of(t, "meridian_connections{"), "meridian_connections{state=\"active\"} 0");
    /* only workers below n_workers (2) are summed */
    a->rt->ctr[2].req_by_class[2] = 100;
    call_free(&c);
    call_auth(&c, "GET", "/metrics", NULL);
    CHECK_STR(line_of(c.rsp.body.p, "meridian_requests_total{lb=\"lb1\",pool=\"p1\",origin=\"a\",code=\"2xx\"}"),
              "meridian_requests_total{lb=\"lb1\",pool=\"p1\",origin=\"a\",code=\"2xx\"} 10");
    /* every sample line is "name{labels} value" or "name value" */
    for (const char *s = c.rsp.body.p; s && *s;) {
        const char *e = strchr(s, '\n');
        CHECK(e != NULL);
        if (!e)
            break;
        if (*s != '#') {
            const char *sp = memchr(s, ' ', (size_t)(e - s));
            CHECK(sp && sp + 1 < e);
        }
        s = e + 1;
    }
    call_free(&c);
}

/* Label values with a quote, a backslash and a newline, on a hand-built generation. */
static void test_metrics_escaping(void)
{
    struct mrd_origin_rt *ort = calloc(1, sizeof(*ort));
    struct mrd_pool_rt prt = { 0 };
    struct mrd_cfg_origin o = { .name = "o\"1", .rt = ort };
    struct mrd_cfg_pool p = { .name = "we\\ird\npool", .origins = &o, .n_origins = 1, .rt = &prt };
    struct mrd_cfg fake = { .generation = 3, .pools = &p, .n_pools = 1, .n_origins = 1 };
    struct mrd_admin_ctx ctx = { .n_workers = 1 };
    struct mrd_json out;

    if (!ort)
        return;
    pthread_mutex_init(&ort->lock, NULL);
    atomic_init(&ort->admin_enabled, -1);
    atomic_init(&ort->admin_weight, -1);
    atomic_init(&ort->mon_healthy, true);
    mrd_json_init(&out, 1 << 20);
    mrd_admin_metrics(&out, &fake, &ctx);
    CHECK_EQ_INT(out.err, 0);
    CHECK(line_of(out.p, "meridian_origin_healthy{pool=\"we\\\\ird\\npool\",origin=\"o\\\"1\"} 1") !=
          NULL);
    mrd_json_free(&out);
    pthread_mutex_destroy(&ort->lock);
    free(ort);
}

static void test_no_generation(void)
{
    struct call c;
    mrd_rt_set_current_cfg(NULL);
    call_auth(&c, "GET", "/v1/pools", NULL);
    check_error(&c, 503, "unavailable");
    call_free(&c);
    call_auth(&c, "GET", "/metrics", NULL);
    CHECK_EQ_INT(c.rsp.status, 200);
    CHECK(line_of(c.rsp.body.p, "meridian_config_generation 0") != NULL);
    call_free(&c);
    mrd_rt_set_current_cfg(cfg);
}

TEST_MAIN(setup(); test_token_eq(); test_read_token(); test_auth(); test_routing(); test_status();
          test_pools(); test_patch_parse(); test_patch_apply(); test_events(); test_openapi();
          test_metrics(); test_metrics_escaping(); test_no_generation();
          mrd_rt_set_current_cfg(NULL); mrd_cfg_unref(cfg); mrd_admin_set_token(NULL, 0))
