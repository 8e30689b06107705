/* The https monitors' TLS client: OpenSSL over a caller-owned non-blocking socket. Two
 * process-wide contexts (verifying against the system CAs, and not verifying for
 * allow_insecure) are made on first use, by the control thread only. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls/tls.h"

struct mrd_tls_probe {
    SSL *ssl;
};

static SSL_CTX *tls_probe_ctx[2]; /* [verify] */

static SSL_CTX *tls_probe_ctx_get(bool verify)
{
    SSL_CTX **slot = &tls_probe_ctx[verify ? 1 : 0];
    if (*slot)
        return *slot;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return *slot = ctx;
}

void mrd_tls_probe_warm(void)
{
    tls_probe_ctx_get(true);
}

static bool tls_is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

struct mrd_tls_probe *mrd_tls_probe_new(int fd, const char *host, bool verify, char *err,
                                        size_t cap)
{
    SSL_CTX *ctx = tls_probe_ctx_get(verify);
    struct mrd_tls_probe *t = ctx ? calloc(1, sizeof(*t)) : NULL;
    if (!t || !(t->ssl = SSL_new(ctx))) {
        snprintf(err, cap, "tls: cannot create a session");
        free(t);
        return NULL;
    }
    bool ip = tls_is_ip(host);
    int ok = SSL_set_fd(t->ssl, fd);
    if (ok && !ip && *host)
        ok = SSL_set_tlsext_host_name(t->ssl, host);
    if (ok && verify && *host) {
        if (ip)
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
        else
            ok = SSL_set1_host(t->ssl, host);
    }
    if (ok != 1) {
        snprintf(err, cap, "tls: cannot set up the session for '%.30s'", host);
        mrd_tls_probe_free(t);
        return NULL;
    }
    SSL_set_connect_state(t->ssl);
    return t;
}

/* Maps an SSL_ERROR_* to 0 (wait), or fills <err> and returns -1. */
static int tls_probe_error(struct mrd_tls_probe *t, int ret, const char *what, char *err,
                           size_t cap)
{
    int e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    long vr = SSL_get_verify_result(t->ssl);
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (vr != X509_V_OK)
        snprintf(err, cap, "tls %s: certificate: %s", what, X509_verify_cert_error_string(vr));
    else if (code)
        snprintf(err, cap, "tls %s: %s", what, ERR_reason_error_string(code) ?
                                                   ERR_reason_error_string(code) : "error");
    else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
        snprintf(err, cap, "tls %s: connection closed", what);
    else
        snprintf(err, cap, "tls %s failed", what);
    return -1;
}

int mrd_tls_probe_handshake(struct mrd_tls_probe *t, char *err, size_t cap)
{
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1)
        return 1;
    return tls_probe_error(t, r, "handshake", err, cap);
}

long mrd_tls_probe_read(struct mrd_tls_probe *t, void *buf, size_t len)
{
    size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(t->ssl, buf, len, &n) == 1)
        return (long)n;
    int e = SSL_get_error(t->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -EAGAIN;
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    /* A peer that closes without close_notify ends a close-delimited body the same way. */
    if (e == SSL_ERROR_SYSCALL && !ERR_peek_error())
        return errno == ECONNRESET ? -ECONNRESET : 0;
    ERR_clear_error();
    return -EPROTO;
}

long mrd_tls_probe_write(struct mrd_tls_probe *t, const void *buf, size_t len)
{
    size_t n = 0;
    ERR_clear_error();
    if (SSL_write_ex(t->ssl, buf, len, &n) == 1)
        return (long)n;
    int e = SSL_get_error(t->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -EAGAIN;
    ERR_clear_error();
    return e == SSL_ERROR_SYSCALL ? -EPIPE : -EPROTO;
}

void mrd_tls_probe_free(struct mrd_tls_probe *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}
