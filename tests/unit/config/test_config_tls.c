/* Unit tests of the TLS keys of src/config: server.listen[].tls (certificates checked at load
 * through mrd_tls_check_cert, min_version, alpn, session_tickets) and the origins' tls, sni
 * and allow_insecure. Certificates are made at test time with the openssl CLI. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "test.h"
#include "cfg_check.h"
#include "tls/testcerts.h"

#define POOL "pools:\n  p1:\n    origins:\n"

static const char *listener(char *buf, size_t cap, const char *tls)
{
    snprintf(buf, cap, "server:\n  listen:\n    - address: \"127.0.0.1:8443\"\n      tls: %s\n",
             tls);
    return buf;
}

static void test_listener_ok(void)
{
    char y[2048], t[1024];
    struct mrd_cfg *cfg;

    /* defaults, and a plain listener next to it */
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"%s\", key: \"%s\" }] }\n"
             "    - address: \"127.0.0.1:8080\"", tc_path("ec.crt"), tc_path("ec.key"));
    cfg = load_ok(__LINE__, listener(y, sizeof(y), t));
    if (cfg) {
        const struct mrd_cfg_tls *tls = cfg->server.listen[0].tls;
        CHECK(tls != NULL);
        CHECK_EQ_INT(tls->n_certs, 1);
        CHECK_STR(tls->certs[0].cert, tc_path("ec.crt"));
        CHECK_STR(tls->certs[0].key, tc_path("ec.key"));
        CHECK(tls->certs[0].ocsp == NULL);
        CHECK_EQ_INT(tls->certs[0].loc.line, 4);
        CHECK_EQ_INT(tls->min_version, 0x0303);
        CHECK_EQ_INT(tls->n_alpn, 1);
        CHECK_STR(tls->alpn[0], "http/1.1");
        CHECK(tls->tickets);
        CHECK(cfg->server.listen[1].tls == NULL);
    }
    mrd_cfg_unref(cfg);

    /* every key set */
    snprintf(t, sizeof(t), "\n        certificates:\n"
             "          - { cert: \"%s\", key: \"%s\" }\n"
             "          - { cert: \"%s\", key: \"%s\", ocsp: \"%s\" }\n"
             "        min_version: \"1.3\"\n        alpn: [\"http/1.1\"]\n"
             "        session_tickets: false", tc_path("rsa.crt"), tc_path("rsa.key"),
             tc_path("ec.crt"), tc_path("ec.key"), tc_path("ocsp.der"));
    cfg = load_ok(__LINE__, listener(y, sizeof(y), t));
    if (cfg) {
        const struct mrd_cfg_tls *tls = cfg->server.listen[0].tls;
        CHECK_EQ_INT(tls->n_certs, 2);
        CHECK_STR(tls->certs[0].cert, tc_path("rsa.crt"));
        CHECK_STR(tls->certs[1].ocsp, tc_path("ocsp.der"));
        CHECK_EQ_INT(tls->min_version, 0x0304);
        CHECK(!tls->tickets);
        CHECK_EQ_INT(tls->loc.line, 5);
    }
    mrd_cfg_unref(cfg);
    /* an unquoted 1.2 is the same */
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"%s\", key: \"%s\" }], min_version: 1.2 }",
             tc_path("ec.crt"), tc_path("ec.key"));
    cfg = load_ok(__LINE__, listener(y, sizeof(y), t));
    CHECK(cfg && cfg->server.listen[0].tls->min_version == 0x0303);
    mrd_cfg_unref(cfg);
}

static void test_listener_errors(void)
{
    char y[4096], t[1024], m[2048];

    EXPECT_ONLY(listener(y, sizeof(y), "{}"), 4, 12,
                "server.listen[0].tls: missing required key 'certificates' (e.g. certificates: "
                "[{ cert: site.crt, key: site.key }])");
    EXPECT_ONLY(listener(y, sizeof(y), "true"), 4, 12,
                "server.listen[0].tls: expected a mapping, got \"true\"");
    EXPECT_ONLY(listener(y, sizeof(y), "{ certificates: [] }"), 4, 28,
                "server.listen[0].tls.certificates: expected 1..10000 certificates, e.g. - { "
                "cert: site.crt, key: site.key }");
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"%s\" }] }", tc_path("ec.crt"));
    EXPECT_ONLY(listener(y, sizeof(y), t), 4, 29,
                "server.listen[0].tls.certificates[0]: missing required key 'key' (a PEM private "
                "key file)");

    /* unreadable files, at the value */
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"/nonexistent/x.crt\", key: \"%s\" }] }",
             tc_path("ec.key"));
    EXPECT_ONLY(listener(y, sizeof(y), t), 4, 37,
                "server.listen[0].tls.certificates[0].cert: cannot read /nonexistent/x.crt: No "
                "such file or directory");
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"%s\", key: \"/tmp\" }] }",
             tc_path("ec.crt"));
    snprintf(m, sizeof(m), "server.listen[0].tls.certificates[0].key: cannot read /tmp: Is a "
             "directory");
    EXPECT_ONLY(listener(y, sizeof(y), t), 0, 0, m);

    /* cert and key that do not go together, at the key */
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"%s\", key: \"%s\" }] }",
             tc_path("ec.crt"), tc_path("other.key"));
    listener(y, sizeof(y), t);
    EXPECT_ONLY(y, 4, (int)(strstr(y, "key:") - strstr(y, "      tls:")) + 6,
                "server.listen[0].tls.certificates[0].key: the private key does not match the "
                "certificate");
    /* not a certificate, at the cert */
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"%s\", key: \"%s\" }] }",
             tc_path("junk.pem"), tc_path("ec.key"));
    {
        struct mrd_cfg_errors e = { 0 };
        CHECK(load(listener(y, sizeof(y), t), &e) == NULL);
        CHECK(e.n == 1 && e.v[0].loc.line == 4 && e.v[0].loc.col == 37 &&
              strstr(e.v[0].msg, "certificates[0].cert: cannot use the certificate: no start "
                                 "line (expected PEM, the leaf first)"));
        mrd_cfg_errors_free(&e);
    }
    /* a bad OCSP file */
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"%s\", key: \"%s\", ocsp: \"%s\" }] }",
             tc_path("ec.crt"), tc_path("ec.key"), tc_path("junk.pem"));
    EXPECT_ONLY(listener(y, sizeof(y), t), 0, 0,
                "server.listen[0].tls.certificates[0].ocsp: not a DER OCSP response (e.g. from "
                "openssl ocsp -respout)");

    /* min_version, alpn, session_tickets */
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"%s\", key: \"%s\" }], min_version: ",
             tc_path("ec.crt"), tc_path("ec.key"));
    snprintf(m, sizeof(m), "%s\"1.1\" }", t);
    EXPECT_ONLY(listener(y, sizeof(y), m), 0, 0,
                "server.listen[0].tls.min_version: TLS 1.1 is not offered (insecure); expected "
                "\"1.2\" or \"1.3\"");
    snprintf(m, sizeof(m), "%s\"tls1.2\" }", t);
    EXPECT_ONLY(listener(y, sizeof(y), m), 0, 0,
                "server.listen[0].tls.min_version: bad value \"tls1.2\"; expected 1.2 or 1.3");
    snprintf(t, sizeof(t), "{ certificates: [{ cert: \"%s\", key: \"%s\" }], ",
             tc_path("ec.crt"), tc_path("ec.key"));
    snprintf(m, sizeof(m), "%salpn: [\"h2\", \"http/1.1\"] }", t);
    EXPECT_ONLY(listener(y, sizeof(y), m), 0, 0,
                "server.listen[0].tls.alpn[0]: 'h2' is not supported yet by this version; "
                "expected http/1.1");
    snprintf(m, sizeof(m), "%salpn: [\"spdy/3\"] }", t);
    EXPECT_ONLY(listener(y, sizeof(y), m), 0, 0,
                "server.listen[0].tls.alpn[0]: bad value \"spdy/3\"; expected http/1.1");
    snprintf(m, sizeof(m), "%salpn: [\"http/1.1\", \"http/1.1\"] }", t);
    EXPECT_ONLY(listener(y, sizeof(y), m), 0, 0,
                "server.listen[0].tls.alpn[1]: \"http/1.1\" is listed twice");
    snprintf(m, sizeof(m), "%salpn: [] }", t);
    EXPECT_ONLY(listener(y, sizeof(y), m), 0, 0,
                "server.listen[0].tls.alpn: expected 1..8 protocols, e.g. [\"http/1.1\"]");
    snprintf(m, sizeof(m), "%ssession_tickets: maybe }", t);
    EXPECT_ONLY(listener(y, sizeof(y), m), 0, 0,
                "server.listen[0].tls.session_tickets: bad value \"maybe\"; expected true or "
                "false");
    snprintf(m, sizeof(m), "%sciphers: \"RC4\" }", t);
    EXPECT_ONLY(listener(y, sizeof(y), m), 0, 0,
                "unknown key 'ciphers' in server.listen[0].tls; expected one of: certificates, "
                "min_version, alpn, session_tickets");
}

static void test_origins(void)
{
    struct mrd_cfg *cfg;
    const char *base = "server:\n  listen:\n    - address: \"127.0.0.1:8080\"\n" POOL;
    char y[1024];

    snprintf(y, sizeof(y), "%s      - { name: a, address: \"127.0.0.1:9001\" }\n"
             "      - { name: b, address: \"127.0.0.1:9443\", tls: true }\n"
             "      - { name: c, address: \"127.0.0.1:9443\", tls: true, sni: Origin.Example.com,"
             " allow_insecure: true }\n", base);
    cfg = load_ok(__LINE__, y);
    if (cfg) {
        const struct mrd_cfg_origin *o = cfg->pools[0].origins;
        CHECK(!o[0].tls && o[0].sni == NULL && !o[0].allow_insecure);
        CHECK(o[1].tls && o[1].sni == NULL && !o[1].allow_insecure);
        CHECK(o[2].tls && o[2].allow_insecure);
        CHECK_STR(o[2].sni, "origin.example.com");
    }
    mrd_cfg_unref(cfg);

    snprintf(y, sizeof(y), "%s      - { name: a, address: \"127.0.0.1:1\", sni: x.example }\n", base);
    EXPECT_ONLY(y, 7, 44, "pools.p1.origins[0].sni: only applies to HTTPS origins; add tls: true "
                "(or remove it)");
    snprintf(y, sizeof(y), "%s      - { name: a, address: \"127.0.0.1:1\", allow_insecure: true }\n",
             base);
    EXPECT_ONLY(y, 7, 44, "pools.p1.origins[0].allow_insecure: only applies to HTTPS origins; "
                "add tls: true (or remove it)");
    snprintf(y, sizeof(y), "%s      - { name: a, address: \"127.0.0.1:1\", tls: yes }\n", base);
    EXPECT_ONLY(y, 7, 49, "pools.p1.origins[0].tls: bad value \"yes\"; expected true or false");
    snprintf(y, sizeof(y), "%s      - { name: a, address: \"127.0.0.1:1\", tls: true, sni: "
             "\"*.example.com\" }\n", base);
    EXPECT_ONLY(y, 7, 60, "pools.p1.origins[0].sni: \"*.example.com\" is not a host name; "
                "expected the origin's DNS name, e.g. origin.example.com");
    snprintf(y, sizeof(y), "%s      - { name: a, address: \"127.0.0.1:1\", tls: true, sni: "
             "10.0.0.1 }\n", base);
    EXPECT_ONLY(y, 7, 60, "pools.p1.origins[0].sni: \"10.0.0.1\" is not a host name; "
                "expected the origin's DNS name, e.g. origin.example.com");
    snprintf(y, sizeof(y), "%s      - { name: a, address: \"127.0.0.1:1\", tls: true, sni: "
             "\"a b\" }\n", base);
    EXPECT_ONLY(y, 7, 60, "pools.p1.origins[0].sni: bad hostname \"a b\"; expected e.g. "
                "example.com, *.example.com or *");
    /* version stays planned */
    snprintf(y, sizeof(y), "%s      - { name: a, address: \"127.0.0.1:1\", version: v2 }\n", base);
    EXPECT_ONLY(y, 7, 44, "'version' is not supported yet by this version");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (!tc_make()) {
        printf("unit: 0 passed, 1 failed\n");
        return 1;
    }
    test_listener_ok();
    test_listener_errors();
    test_origins();
    tc_cleanup();
    printf("unit: %d passed, %d failed\n", t_pass, t_fail);
    return t_fail ? 1 : 0;
}
