/* Unit tests of HTTPS to origins (src/tls/upstream.c): mrd_tls_connect() against
 * mrd_tls_accept() over a socketpair, with certificates made at test time. Verification
 * success and each kind of failure with its reason, SNI, data both ways, and client-side
 * session resumption per name. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-t.h"
#include "test.h"
#include "tls/testcerts.h"
#include "tls/tlspair.h"

static struct mrd_tls_server *server_with(const char *cert, const char *key)
{
    static struct mrd_cfg_tls_cert c;
    struct mrd_cfg_tls t;
    char err[256] = "";
    struct mrd_tls_server *s;

    memset(&t, 0, sizeof(t));
    c.cert = cert;
    c.key = key;
    t.certs = &c;
    t.n_certs = 1;
    t.min_version = 0x0303;
    t.tickets = true;
    s = mrd_tls_server_new(&t, err, sizeof(err));
    CHECK(s != NULL);
    if (!s)
        fprintf(stderr, "  mrd_tls_server_new: %s\n", err);
    return s;
}

static struct mrd_tls_client_ctx *client(bool verify, const char *ca)
{
    char err[256] = "";
    struct mrd_tls_client_ctx *x = mrd_tls_client_ctx_new(verify, ca, err, sizeof(err));

    CHECK(x != NULL);
    if (!x)
        fprintf(stderr, "  mrd_tls_client_ctx_new: %s\n", err);
    return x;
}

/* Connects <x> to <s>: the pair result (1 ok, -2 client failed, -1 server failed). */
static int connect_to(struct pair *p, struct mrd_tls_server *s, struct mrd_tls_client_ctx *x,
                      const char *sni, const char *host)
{
    if (pair_sockets(p) < 0 || !(p->srv = mrd_tls_accept(s, p->sfd)) ||
        !(p->ucli = mrd_tls_connect(x, p->cfd, sni, host)))
        return -3;
    return pair_handshake(p);
}

/* Expects the client to refuse the server with "certificate verify failed: <why>". */
static void expect_verify_fail(int line, struct mrd_tls_server *s, struct mrd_tls_client_ctx *x,
                               const char *sni, const char *host, const char *why)
{
    struct pair p;
    char want[160];
    int r = connect_to(&p, s, x, sni, host);

    snprintf(want, sizeof(want), "certificate verify failed: %s", why);
    CHECK_EQ_INT(r, -2);
    CHECK_STR(p.cli_err, want);
    if (strcmp(p.cli_err, want) != 0)
        fprintf(stderr, "  test line %d\n", line);
    pair_close(&p);
}

/* A round trip of data both ways; lets TLS 1.3 tickets reach the client. */
static void exchange(struct pair *p)
{
    struct iovec req[2] = { { "GET / HTTP/1.1\r\n", 16 }, { "Host: a\r\n\r\n", 11 } };
    struct iovec rsp = { "HTTP/1.1 204 No Content\r\n\r\n", 27 };
    char buf[64];

    CHECK_EQ_INT(mrd_tls_writev(p->ucli, req, 2), 27);
    CHECK_EQ_INT(mrd_tls_read(p->srv, buf, sizeof(buf)), 27);
    CHECK(memcmp(buf, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27) == 0);
    CHECK_EQ_INT(mrd_tls_writev(p->srv, &rsp, 1), 27);
    CHECK_EQ_INT(mrd_tls_read(p->ucli, buf, sizeof(buf)), 27);
    CHECK(memcmp(buf, "HTTP/1.1 204", 12) == 0);
    CHECK_EQ_INT(mrd_tls_read(p->ucli, buf, sizeof(buf)), -EAGAIN);
}

static void test_verify(void)
{
    struct mrd_tls_server *s = server_with(tc_path("ec.crt"), tc_path("ec.key"));
    struct mrd_tls_server *self = server_with(tc_path("self.crt"), tc_path("self.key"));
    struct mrd_tls_client_ctx *x = client(true, tc_path("ca.crt"));
    struct mrd_tls_client_ctx *sys = client(true, NULL);
    struct mrd_tls_client_ctx *insecure = client(false, NULL);
    struct pair p;
    size_t len;
    char err[256];

    if (!s || !self || !x || !sys || !insecure)
        goto out;
    CHECK_EQ_INT(connect_to(&p, s, x, "a.example.com", NULL), 1);
    CHECK_STR(mrd_tls_sni(p.srv), "a.example.com");
    CHECK(mrd_tls_alpn(p.srv, &len) && len == 8);
    CHECK_STR(mrd_tls_version(p.ucli), "TLSv1.3");
    CHECK_STR(mrd_tls_error(p.ucli), "");
    exchange(&p);
    CHECK_EQ_INT(mrd_tls_shutdown(p.ucli), 1);
    CHECK_EQ_INT(mrd_tls_read(p.srv, err, sizeof(err)), 0);
    CHECK(mrd_tls_eof_clean(p.srv));
    pair_close(&p);

    /* the wildcard covers one label */
    CHECK_EQ_INT(connect_to(&p, s, x, "x.wild.example.com", NULL), 1);
    pair_close(&p);
    expect_verify_fail(__LINE__, s, x, "y.x.wild.example.com", NULL, "hostname mismatch");
    /* SNI and the checked name can differ */
    CHECK_EQ_INT(connect_to(&p, s, x, "b.example.com", "a.example.com"), 1);
    pair_close(&p);
    expect_verify_fail(__LINE__, s, x, "a.example.com", "b.example.com", "hostname mismatch");
    /* an IP is not sent as SNI, and is checked against IP SANs */
    expect_verify_fail(__LINE__, s, x, "127.0.0.1", NULL, "IP address mismatch");
    expect_verify_fail(__LINE__, self, x, "self.example.com", NULL, "self-signed certificate");
    expect_verify_fail(__LINE__, s, sys, "a.example.com", NULL,
                       "unable to get local issuer certificate");

    /* allow_insecure: anything goes, even without a name */
    CHECK_EQ_INT(connect_to(&p, self, insecure, "other.example.com", NULL), 1);
    exchange(&p);
    pair_close(&p);
    CHECK_EQ_INT(connect_to(&p, self, insecure, NULL, NULL), 1);
    CHECK(mrd_tls_sni(p.srv) == NULL);
    pair_close(&p);

    /* verifying without a name would accept any certificate: refused */
    CHECK(mrd_tls_connect(x, 0, NULL, NULL) == NULL);
    CHECK(mrd_tls_connect(x, 0, "", "") == NULL);

    CHECK(mrd_tls_client_ctx_new(true, tc_path("junk.pem"), err, sizeof(err)) == NULL);
    CHECK(strncmp(err, "tls: cannot load the CA file ", 29) == 0);
out:
    mrd_tls_server_unref(s);
    mrd_tls_server_unref(self);
    mrd_tls_client_ctx_unref(x);
    mrd_tls_client_ctx_unref(sys);
    mrd_tls_client_ctx_unref(insecure);
}

/* Connects with <sni> and reports whether the session resumed (client and server agree). */
static int resumed(struct mrd_tls_server *s, struct mrd_tls_client_ctx *x, const char *sni)
{
    struct pair p;
    int r = -1;

    if (connect_to(&p, s, x, sni, NULL) == 1) {
        exchange(&p);
        r = mrd_tls_resumed(p.ucli);
        CHECK_EQ_INT(mrd_tls_resumed(p.srv), r);
    }
    pair_close(&p);
    return r;
}

static void test_resumption(void)
{
    struct mrd_tls_server *s = server_with(tc_path("ec.crt"), tc_path("ec.key"));
    struct mrd_tls_client_ctx *x = client(true, tc_path("ca.crt"));
    struct mrd_tls_client_ctx *y = client(true, tc_path("ca.crt"));

    if (!s || !x || !y)
        goto out;
    CHECK_EQ_INT(resumed(s, x, "a.example.com"), 0);
    CHECK_EQ_INT(resumed(s, x, "a.example.com"), 1);
    CHECK_EQ_INT(resumed(s, x, "a.example.com"), 1); /* the renewed ticket resumes too */
    /* per name, and per context */
    CHECK_EQ_INT(resumed(s, x, "x.wild.example.com"), 0);
    CHECK_EQ_INT(resumed(s, y, "a.example.com"), 0);
    CHECK_EQ_INT(resumed(s, x, "x.wild.example.com"), 1);
    /* a failed verification stores nothing */
    expect_verify_fail(__LINE__, s, x, "nope.example.com", NULL, "hostname mismatch");
    CHECK_EQ_INT(resumed(s, x, "a.example.com"), 1);
out:
    mrd_tls_server_unref(s);
    mrd_tls_client_ctx_unref(x);
    mrd_tls_client_ctx_unref(y);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does */
    if (!tc_make()) {
        printf("unit: 0 passed, 1 failed\n");
        return 1;
    }
    test_verify();
    test_resumption();
    mrd_tls_session_cache_flush();
    tc_cleanup();
    printf("unit: %d passed, %d failed\n", t_pass, t_fail);
    return t_fail ? 1 : 0;
}
