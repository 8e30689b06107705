/* A TLS connection over a non-blocking socketpair for the unit tests: a mrd_tls_conn on the
 * server side (mrd_tls_accept, or any conn) and either a plain OpenSSL client or another
 * mrd_tls_conn on the other, driven in turns without threads. */
#ifndef MRD_TEST_TLS_PAIR_H
#define MRD_TEST_TLS_PAIR_H
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls/tls.h"

struct pair {
    int                  sfd, cfd;
    struct mrd_tls_conn *srv;
    SSL                 *cli;      /* plain OpenSSL client, or NULL */
    struct mrd_tls_conn *ucli;     /* or our own client (mrd_tls_connect) */
    char                 cli_err[160];
};

static inline int pair_sockets(struct pair *p)
{
    int sv[2];

    memset(p, 0, sizeof(*p));
    p->sfd = p->cfd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -1;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    p->sfd = sv[0];
    p->cfd = sv[1];
    return 0;
}

/* Server from <s>, OpenSSL client from <cctx> with <sni> (NULL = none) and <sess>. */
static inline int pair_open(struct pair *p, struct mrd_tls_server *s, SSL_CTX *cctx, const char *sni,
                     SSL_SESSION *sess)
{
    if (pair_sockets(p) < 0 || !(p->srv = mrd_tls_accept(s, p->sfd)) ||
        !(p->cli = SSL_new(cctx)))
        return -1;
    SSL_set_fd(p->cli, p->cfd);
    SSL_set_connect_state(p->cli);
    if (sni)
        SSL_set_tlsext_host_name(p->cli, sni);
    if (sess)
        SSL_set_session(p->cli, sess);
    return 0;
}

/* One client handshake step: 1 done, 0 again, -1 failed (reason in cli_err). */
static inline int pair_cli_step(struct pair *p)
{
    if (p->ucli) {
        int r = mrd_tls_handshake(p->ucli);
        if (r < 0)
            snprintf(p->cli_err, sizeof(p->cli_err), "%s", mrd_tls_error(p->ucli));
        return r;
    }
    int r = SSL_do_handshake(p->cli);
    if (r == 1)
        return 1;
    int e = SSL_get_error(p->cli, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    unsigned long code = ERR_get_error();
    snprintf(p->cli_err, sizeof(p->cli_err), "%s",
             code ? ERR_reason_error_string(code) : "closed");
    ERR_clear_error();
    return -1;
}

/* Drives both handshakes: 1 both done, -1 server failed, -2 client failed. */
static inline int pair_handshake(struct pair *p)
{
    int cd = 0, sd = 0;

    for (int i = 0; i < 200 && !(cd && sd); i++) {
        if (!cd && (cd = pair_cli_step(p)) < 0) {
            /* let the server read the alert, so its side says why too */
            if (!sd)
                mrd_tls_handshake(p->srv);
            return -2;
        }
        if (!sd && (sd = mrd_tls_handshake(p->srv)) < 0)
            return -1;
    }
    return cd && sd ? 1 : -1;
}

/* Reads what the plain client can get now into buf (appending at *got, up to cap). */
static inline void pair_cli_drain(struct pair *p, char *buf, size_t cap, size_t *got)
{
    size_t n;

    while (*got < cap && SSL_read_ex(p->cli, buf + *got, cap - *got, &n) == 1)
        *got += n;
    ERR_clear_error();
}

static inline void pair_close(struct pair *p)
{
    mrd_tls_free(p->srv);
    p->srv = NULL;
    mrd_tls_free(p->ucli);
    p->ucli = NULL;
    if (p->cli && SSL_is_init_finished(p->cli))
        SSL_set_shutdown(p->cli, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN); /* stays resumable */
    SSL_free(p->cli);
    p->cli = NULL;
    if (p->sfd >= 0)
        close(p->sfd);
    if (p->cfd >= 0)
        close(p->cfd);
    p->sfd = p->cfd = -1;
}
#endif
