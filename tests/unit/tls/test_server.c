/* Unit tests of edge TLS termination (src/tls/server.c): real handshakes over a socketpair
 * between mrd_tls_accept() and an OpenSSL client, with certificates made at test time. SNI
 * selection, protocol versions and the cipher profile, ALPN, OCSP stapling, resumption by
 * session id and by ticket across two servers (shared cache and keys), ticket key rotation,
 * data both ways with partial writes, end of stream, and the config-time checks. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509.h>

#include "config/config-t.h"
#include "test.h"
#include "tls/testcerts.h"
#include "tls/tlspair.h"

static struct mrd_cfg_tls_cert certs[2];
static const char *alpn_default[] = { "http/1.1" };

/* The test listener: rsa (b.example.com) is the default, ec (a.example.com,
 * *.wild.example.com) carries an OCSP response. */
static struct mrd_cfg_tls make_cfg(uint16_t minv, bool tickets)
{
    struct mrd_cfg_tls t;

    memset(&t, 0, sizeof(t));
    certs[0].cert = tc_path("rsa.crt");
    certs[0].key = tc_path("rsa.key");
    certs[1].cert = tc_path("ec.crt");
    certs[1].key = tc_path("ec.key");
    certs[1].ocsp = tc_path("ocsp.der");
    t.certs = certs;
    t.n_certs = 2;
    t.min_version = minv;
    t.alpn = alpn_default;
    t.n_alpn = 1;
    t.tickets = tickets;
    return t;
}

static struct mrd_tls_server *server(uint16_t minv, bool tickets)
{
    struct mrd_cfg_tls cfg = make_cfg(minv, tickets);
    char err[256] = "";
    struct mrd_tls_server *s = mrd_tls_server_new(&cfg, err, sizeof(err));

    CHECK(s != NULL);
    if (!s)
        fprintf(stderr, "  mrd_tls_server_new: %s\n", err);
    return s;
}

static SSL_CTX *client(int minv, int maxv)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());

    SSL_CTX_set_min_proto_version(c, minv);
    SSL_CTX_set_max_proto_version(c, maxv);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    return c;
}

/* The CN of the certificate the client was shown. */
static const char *peer_cn(SSL *ssl, char *buf, size_t cap)
{
    X509 *x = SSL_get0_peer_certificate(ssl);

    buf[0] = 0;
    if (x)
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)cap);
    return buf;
}

static void test_check(void)
{
    char err[256];

    CHECK_EQ_INT(mrd_tls_check_cert(tc_path("ec.crt"), tc_path("ec.key"), err, sizeof(err)),
                 MRD_TLS_CHECK_OK);
    CHECK_EQ_INT(mrd_tls_check_cert(tc_path("rsa.crt"), tc_path("rsa.key"), err, sizeof(err)),
                 MRD_TLS_CHECK_OK);
    CHECK_EQ_INT(mrd_tls_check_cert(tc_path("ec.crt"), tc_path("other.key"), err, sizeof(err)),
                 MRD_TLS_CHECK_KEY);
    CHECK_STR(err, "the private key does not match the certificate");
    CHECK_EQ_INT(mrd_tls_check_cert(tc_path("rsa.crt"), tc_path("ec.key"), err, sizeof(err)),
                 MRD_TLS_CHECK_KEY);
    CHECK(strstr(err, "does not match") != NULL);
    CHECK_EQ_INT(mrd_tls_check_cert(tc_path("junk.pem"), tc_path("ec.key"), err, sizeof(err)),
                 MRD_TLS_CHECK_CERT);
    CHECK(strncmp(err, "cannot use the certificate: ", 28) == 0);
    CHECK_EQ_INT(mrd_tls_check_cert(tc_path("ec.crt"), tc_path("junk.pem"), err, sizeof(err)),
                 MRD_TLS_CHECK_KEY);
    CHECK(strncmp(err, "cannot use the private key: ", 28) == 0);
    /* the key file given as the certificate */
    CHECK_EQ_INT(mrd_tls_check_cert(tc_path("ec.key"), tc_path("ec.key"), err, sizeof(err)),
                 MRD_TLS_CHECK_CERT);

    CHECK_EQ_INT(mrd_tls_check_ocsp(tc_path("ocsp.der"), err, sizeof(err)), 0);
    CHECK_EQ_INT(mrd_tls_check_ocsp(tc_path("junk.pem"), err, sizeof(err)), -1);
    CHECK(strstr(err, "not a DER OCSP response") != NULL);
    CHECK_EQ_INT(mrd_tls_check_ocsp(tc_path("missing.der"), err, sizeof(err)), -1);
    CHECK(strstr(err, "No such file") != NULL);
}

static void test_server_new_errors(void)
{
    struct mrd_cfg_tls cfg = make_cfg(0x0303, true);
    char err[256];

    cfg.n_certs = 0;
    CHECK(mrd_tls_server_new(&cfg, err, sizeof(err)) == NULL);
    cfg = make_cfg(0x0303, true);
    certs[1].ocsp = tc_path("junk.pem");
    CHECK(mrd_tls_server_new(&cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "ocsp") != NULL);
    cfg = make_cfg(0x0303, true);
    certs[1].key = tc_path("other.key");
    CHECK(mrd_tls_server_new(&cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "does not match") != NULL);
}

/* Handshakes with <sni> and checks which certificate was served. */
static void sni_case(int line, struct mrd_tls_server *s, SSL_CTX *cctx, const char *sni,
                     const char *want_cn)
{
    struct pair p;
    char cn[128];
    int ok = pair_open(&p, s, cctx, sni, NULL) == 0 && pair_handshake(&p) == 1;

    CHECK(ok);
    if (ok) {
        peer_cn(p.cli, cn, sizeof(cn));
        CHECK_STR(cn, want_cn);
        if (strcmp(cn, want_cn) != 0)
            fprintf(stderr, "  line %d: sni %s\n", line, sni ? sni : "(none)");
        if (sni)
            CHECK_STR(mrd_tls_sni(p.srv), sni);
        else
            CHECK(mrd_tls_sni(p.srv) == NULL);
    }
    pair_close(&p);
}

static void test_sni(void)
{
    struct mrd_tls_server *s = server(0x0303, true);
    SSL_CTX *c13 = client(TLS1_2_VERSION, TLS1_3_VERSION), *c12 = client(TLS1_2_VERSION,
                                                                          TLS1_2_VERSION);

    for (int v = 0; v < 2 && s; v++) {
        SSL_CTX *c = v ? c12 : c13;
        sni_case(__LINE__, s, c, NULL, "b.example.com");
        sni_case(__LINE__, s, c, "b.example.com", "b.example.com");
        sni_case(__LINE__, s, c, "a.example.com", "a.example.com");
        sni_case(__LINE__, s, c, "A.Example.COM", "a.example.com");
        sni_case(__LINE__, s, c, "a.example.com.", "a.example.com");
        sni_case(__LINE__, s, c, "x.wild.example.com", "a.example.com");
        sni_case(__LINE__, s, c, "wild.example.com", "b.example.com");    /* not the bare name */
        sni_case(__LINE__, s, c, "y.x.wild.example.com", "b.example.com"); /* one label only */
        sni_case(__LINE__, s, c, "unknown.example.org", "b.example.com");
    }
    SSL_CTX_free(c13);
    SSL_CTX_free(c12);
    mrd_tls_server_unref(s);
}

static void test_versions_and_ciphers(void)
{
    struct mrd_tls_server *s = server(0x0303, true), *s13 = server(0x0304, true);
    SSL_CTX *c12 = client(TLS1_2_VERSION, TLS1_2_VERSION);
    SSL_CTX *c13 = client(TLS1_3_VERSION, TLS1_3_VERSION);
    SSL_CTX *c11 = client(TLS1_VERSION, TLS1_1_VERSION);
    SSL_CTX *weak = client(TLS1_2_VERSION, TLS1_2_VERSION);
    struct pair p;

    SSL_CTX_set_security_level(c11, 0);
    SSL_CTX_set_cipher_list(c11, "AES128-SHA:@SECLEVEL=0");
    SSL_CTX_set_cipher_list(weak, "AES128-SHA:AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256");
    if (!s || !s13)
        goto out;

    CHECK(pair_open(&p, s, c12, "a.example.com", NULL) == 0 && pair_handshake(&p) == 1);
    CHECK_STR(mrd_tls_version(p.srv), "TLSv1.2");
    CHECK_STR(mrd_tls_cipher(p.srv), "ECDHE-ECDSA-AES256-GCM-SHA384");
    CHECK(!mrd_tls_resumed(p.srv));
    pair_close(&p);
    CHECK(pair_open(&p, s, c12, "b.example.com", NULL) == 0 && pair_handshake(&p) == 1);
    CHECK(strncmp(mrd_tls_cipher(p.srv), "ECDHE-RSA-", 10) == 0);
    pair_close(&p);
    CHECK(pair_open(&p, s, c13, "a.example.com", NULL) == 0 && pair_handshake(&p) == 1);
    CHECK_STR(mrd_tls_version(p.srv), "TLSv1.3");
    pair_close(&p);

    /* server preference is off: the client's order decides */
    SSL_CTX_set_ciphersuites(c13, "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256");
    CHECK(pair_open(&p, s, c13, "a.example.com", NULL) == 0 && pair_handshake(&p) == 1);
    CHECK_STR(mrd_tls_cipher(p.srv), "TLS_CHACHA20_POLY1305_SHA256");
    pair_close(&p);

    /* TLS 1.1 and non-ECDHE / non-AEAD suites are refused */
    CHECK(pair_open(&p, s, c11, "a.example.com", NULL) == 0 && pair_handshake(&p) == -1);
    CHECK(strstr(mrd_tls_error(p.srv), "unsupported protocol") != NULL);
    CHECK(strncmp(mrd_tls_error(p.srv), "handshake: ", 11) == 0);
    pair_close(&p);
    CHECK(pair_open(&p, s, weak, "b.example.com", NULL) == 0 && pair_handshake(&p) == -1);
    CHECK_STR(mrd_tls_error(p.srv), "handshake: no shared cipher");
    CHECK_EQ_INT(mrd_tls_handshake(p.srv), -1); /* stays failed */
    pair_close(&p);

    /* min_version 1.3 refuses a TLS 1.2 client and takes a TLS 1.3 one */
    CHECK(pair_open(&p, s13, c12, "a.example.com", NULL) == 0 && pair_handshake(&p) == -1);
    CHECK(strstr(mrd_tls_error(p.srv), "unsupported protocol") != NULL);
    pair_close(&p);
    CHECK(pair_open(&p, s13, c13, "a.example.com", NULL) == 0 && pair_handshake(&p) == 1);
    pair_close(&p);
out:
    SSL_CTX_free(c12);
    SSL_CTX_free(c13);
    SSL_CTX_free(c11);
    SSL_CTX_free(weak);
    mrd_tls_server_unref(s);
    mrd_tls_server_unref(s13);
}

static void test_alpn_ocsp(void)
{
    struct mrd_tls_server *s = server(0x0303, true);
    SSL_CTX *c = client(TLS1_2_VERSION, TLS1_3_VERSION);
    struct pair p;
    const unsigned char *sel, *resp;
    unsigned sel_len;
    size_t len;
    long rlen;
    FILE *f;
    unsigned char want[4096];
    size_t want_len = 0;

    if (!s)
        goto out;
    SSL_CTX_set_alpn_protos(c, (const unsigned char *)"\x02h2\x08http/1.1", 12);
    CHECK(pair_open(&p, s, c, "a.example.com", NULL) == 0 && pair_handshake(&p) == 1);
    CHECK(mrd_tls_alpn(p.srv, &len) && len == 8 && memcmp(mrd_tls_alpn(p.srv, &len), "http/1.1", 8) == 0);
    SSL_get0_alpn_selected(p.cli, &sel, &sel_len);
    CHECK(sel_len == 8 && memcmp(sel, "http/1.1", 8) == 0);
    pair_close(&p);

    /* nothing in common: no ALPN, but the connection goes on */
    SSL_CTX_set_alpn_protos(c, (const unsigned char *)"\x02h2", 3);
    CHECK(pair_open(&p, s, c, "a.example.com", NULL) == 0 && pair_handshake(&p) == 1);
    CHECK(mrd_tls_alpn(p.srv, &len) == NULL && len == 0);
    pair_close(&p);

    /* OCSP: stapled for the certificate that has one, when asked */
    if ((f = fopen(tc_path("ocsp.der"), "rb"))) {
        want_len = fread(want, 1, sizeof(want), f);
        fclose(f);
    }
    CHECK(want_len > 0);
    CHECK(pair_open(&p, s, c, "a.example.com", NULL) == 0);
    SSL_set_tlsext_status_type(p.cli, TLSEXT_STATUSTYPE_ocsp);
    CHECK(pair_handshake(&p) == 1);
    rlen = SSL_get_tlsext_status_ocsp_resp(p.cli, &resp);
    CHECK(rlen == (long)want_len && resp && memcmp(resp, want, want_len) == 0);
    pair_close(&p);
    CHECK(pair_open(&p, s, c, "b.example.com", NULL) == 0);
    SSL_set_tlsext_status_type(p.cli, TLSEXT_STATUSTYPE_ocsp);
    CHECK(pair_handshake(&p) == 1);
    CHECK(SSL_get_tlsext_status_ocsp_resp(p.cli, &resp) == -1);
    pair_close(&p);
out:
    SSL_CTX_free(c);
    mrd_tls_server_unref(s);
}

/* A full handshake on <s>, with a little data from the server so that TLS 1.3 tickets reach
 * the client; returns the client's session. */
static SSL_SESSION *first_session(struct mrd_tls_server *s, SSL_CTX *c)
{
    struct pair p;
    struct iovec iov = { "x", 1 };
    char buf[8];
    size_t got = 0;
    SSL_SESSION *sess = NULL;

    if (pair_open(&p, s, c, "a.example.com", NULL) == 0 && pair_handshake(&p) == 1) {
        CHECK(!mrd_tls_resumed(p.srv));
        CHECK_EQ_INT(mrd_tls_writev(p.srv, &iov, 1), 1);
        pair_cli_drain(&p, buf, sizeof(buf), &got);
        CHECK_EQ_INT(got, 1);
        sess = SSL_get1_session(p.cli);
    }
    pair_close(&p);
    CHECK(sess != NULL);
    return sess;
}

/* Whether <sess> resumes on <s>; both ends must agree. */
static int resumes(struct mrd_tls_server *s, SSL_CTX *c, SSL_SESSION *sess)
{
    struct pair p;
    int r = -1;

    if (pair_open(&p, s, c, "a.example.com", sess) == 0 && pair_handshake(&p) == 1) {
        r = mrd_tls_resumed(p.srv);
        CHECK_EQ_INT(SSL_session_reused(p.cli), r);
    }
    pair_close(&p);
    return r;
}

static void test_resumption(void)
{
    struct mrd_tls_server *a = server(0x0303, true), *b = server(0x0303, true);
    struct mrd_tls_server *na = server(0x0303, false), *nb = server(0x0303, false);
    SSL_CTX *c12 = client(TLS1_2_VERSION, TLS1_2_VERSION);
    SSL_CTX *c12id = client(TLS1_2_VERSION, TLS1_2_VERSION);
    SSL_CTX *c13 = client(TLS1_3_VERSION, TLS1_3_VERSION);
    SSL_SESSION *sess;

    SSL_CTX_set_options(c12id, SSL_OP_NO_TICKET);
    if (!a || !b || !na || !nb)
        goto out;

    /* TLS 1.2 by session id: the cache is shared by the two servers ... */
    sess = first_session(a, c12id);
    CHECK_EQ_INT(resumes(b, c12id, sess), 1);
    CHECK_EQ_INT(resumes(a, c12id, sess), 1);
    /* ... and it really is the cache that resumes it */
    mrd_tls_session_cache_flush();
    CHECK_EQ_INT(resumes(b, c12id, sess), 0);
    SSL_SESSION_free(sess);

    /* TLS 1.2 by ticket, with the cache emptied: the ticket keys are shared */
    sess = first_session(a, c12);
    mrd_tls_session_cache_flush();
    CHECK_EQ_INT(resumes(b, c12, sess), 1);
    SSL_SESSION_free(sess);

    /* TLS 1.3 by ticket, across servers and across one key rotation, not two */
    sess = first_session(a, c13);
    CHECK_EQ_INT(resumes(b, c13, sess), 1);
    mrd_tls_ticket_rotate();
    CHECK_EQ_INT(resumes(b, c13, sess), 1);
    mrd_tls_ticket_rotate();
    CHECK_EQ_INT(resumes(a, c13, sess), 0);
    SSL_SESSION_free(sess);

    /* session_tickets: false; TLS 1.3 resumes from the shared cache instead */
    sess = first_session(na, c13);
    CHECK_EQ_INT(resumes(nb, c13, sess), 1);
    mrd_tls_session_cache_flush();
    CHECK_EQ_INT(resumes(nb, c13, sess), 0);
    SSL_SESSION_free(sess);
    /* and a server without tickets does not take the ticket of one with them */
    sess = first_session(a, c13);
    CHECK_EQ_INT(resumes(na, c13, sess), 0);
    SSL_SESSION_free(sess);
out:
    SSL_CTX_free(c12);
    SSL_CTX_free(c12id);
    SSL_CTX_free(c13);
    mrd_tls_server_unref(a);
    mrd_tls_server_unref(b);
    mrd_tls_server_unref(na);
    mrd_tls_server_unref(nb);
}

static void test_data(void)
{
    enum { BODY = 1 << 20 };
    struct mrd_tls_server *s = server(0x0303, true);
    SSL_CTX *c = client(TLS1_2_VERSION, TLS1_3_VERSION);
    char *body = malloc(BODY), *got = malloc(BODY + 64), small[64];
    static const char head[] = "HTTP/1.1 200 OK\r\n", hdr[] = "Content-Length: 1048576\r\n\r\n";
    size_t total = sizeof(head) - 1 + sizeof(hdr) - 1 + BODY, sent = 0, rcvd = 0, w;
    int eagain = 0, rounds = 0;
    struct pair p;

    if (!s || !body || !got)
        goto out;
    for (size_t i = 0; i < BODY; i++)
        body[i] = (char)(i * 7 + (i >> 11));
    CHECK(pair_open(&p, s, c, "a.example.com", NULL) == 0 && pair_handshake(&p) == 1);
    /* the server drops its reference: the connection keeps the contexts alive */
    mrd_tls_server_unref(s);
    s = NULL;

    /* a gathered head, an empty buffer, a large body; the socket fills up on the way */
    while (sent < total && rounds++ < 10000) {
        struct iovec iov[4] = { { (void *)head, sizeof(head) - 1 }, { (void *)hdr, sizeof(hdr) - 1 },
                                { NULL, 0 }, { body, BODY } };
        struct iovec *v = iov;
        int n = 4;
        size_t skip = sent;
        while (n > 0 && skip >= v->iov_len) {
            skip -= v->iov_len;
            v++;
            n--;
        }
        v->iov_base = (char *)v->iov_base + skip;
        v->iov_len -= skip;
        ssize_t r = mrd_tls_writev(p.srv, v, n);
        if (r == -EAGAIN) {
            eagain++;
            CHECK(mrd_tls_wants_write(p.srv));
            pair_cli_drain(&p, got, BODY + 64, &rcvd);
        } else if (r > 0) {
            sent += (size_t)r;
        } else {
            CHECK(r > 0);
            break;
        }
    }
    while (rcvd < total && rounds++ < 20000)
        pair_cli_drain(&p, got, BODY + 64, &rcvd);
    CHECK_EQ_INT(sent, total);
    CHECK_EQ_INT(rcvd, total);
    CHECK(eagain > 0);
    CHECK(rcvd == total && memcmp(got, head, sizeof(head) - 1) == 0 &&
          memcmp(got + total - BODY, body, BODY) == 0);

    /* client -> server, then nothing: -EAGAIN waiting to read */
    CHECK(SSL_write_ex(p.cli, "GET / HTTP/1.1\r\n\r\n", 18, &w) == 1 && w == 18);
    CHECK_EQ_INT(mrd_tls_read(p.srv, small, 4), 4);
    /* the rest of the record is already decrypted: readable without new socket data */
    CHECK_EQ_INT(mrd_tls_read(p.srv, small + 4, sizeof(small) - 4), 14);
    CHECK(memcmp(small, "GET / HTTP/1.1\r\n\r\n", 18) == 0);
    CHECK_EQ_INT(mrd_tls_read(p.srv, small, sizeof(small)), -EAGAIN);
    CHECK(!mrd_tls_wants_write(p.srv));
    /* close_notify from the client: a clean end; then ours */
    CHECK(SSL_shutdown(p.cli) >= 0);
    CHECK_EQ_INT(mrd_tls_read(p.srv, small, sizeof(small)), 0);
    CHECK(mrd_tls_eof_clean(p.srv));
    CHECK_EQ_INT(mrd_tls_shutdown(p.srv), 1);
    CHECK_EQ_INT(mrd_tls_shutdown(p.srv), -1); /* once */
    pair_close(&p);

    /* a TCP close without close_notify: the end too, but not a clean one */
    s = server(0x0303, true);
    CHECK(s && pair_open(&p, s, c, "a.example.com", NULL) == 0 && pair_handshake(&p) == 1);
    rcvd = 0;
    pair_cli_drain(&p, small, sizeof(small), &rcvd); /* the tickets: unread data means RST */
    SSL_free(p.cli);
    p.cli = NULL;
    close(p.cfd);
    p.cfd = -1;
    CHECK_EQ_INT(mrd_tls_read(p.srv, small, sizeof(small)), 0);
    CHECK(!mrd_tls_eof_clean(p.srv));
    pair_close(&p);

    /* garbage instead of a client hello */
    CHECK(s && pair_sockets(&p) == 0 && (p.srv = mrd_tls_accept(s, p.sfd)) != NULL);
    CHECK(write(p.cfd, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
    CHECK_EQ_INT(mrd_tls_handshake(p.srv), -1);
    CHECK(strncmp(mrd_tls_error(p.srv), "handshake: ", 11) == 0);
    CHECK_EQ_INT(mrd_tls_shutdown(p.srv), -1);
    pair_close(&p);
out:
    free(body);
    free(got);
    SSL_CTX_free(c);
    mrd_tls_server_unref(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does: a write to a closed peer is an error, not death */
    if (!tc_make()) {
        printf("unit: 0 passed, 1 failed\n");
        return 1;
    }
    test_check();
    test_server_new_errors();
    test_sni();
    test_versions_and_ciphers();
    test_alpn_ocsp();
    test_resumption();
    test_data();
    mrd_tls_session_cache_flush();
    tc_cleanup();
    printf("unit: %d passed, %d failed\n", t_pass, t_fail);
    return t_fail ? 1 : 0;
}
