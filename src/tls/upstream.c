/* HTTPS to origins: client contexts (verifying against a CA file or the system store, which is
 * loaded once per process and shared) and client connections, with a small per-context
 * session cache so repeat connections to an origin resume instead of a full handshake. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/tls-int.h"

#define TLS_CLIENT_SLOTS 256 /* sessions kept per context: one per SNI, direct-mapped */

struct tls_client_slot {
    uint64_t     name_hash; /* of the SNI it was made for */
    SSL_SESSION *sess;      /* owned; NULL = empty */
};

struct mrd_tls_client_ctx {
    atomic_uint            refs;
    SSL_CTX               *ctx;
    bool                   verify;
    pthread_mutex_t        lock; /* guards slots: workers connect concurrently */
    struct tls_client_slot slots[TLS_CLIENT_SLOTS];
};

/* ---- the system CA store ---- */

static pthread_once_t tls_store_once = PTHREAD_ONCE_INIT;
static X509_STORE *tls_store; /* shared by every verifying context; NULL if it failed */

/* Reads the system bundle once, as a whole, so no verification reads the disk later (a
 * hashed directory would be read certificate by certificate from the worker threads). */
static void tls_store_load(void)
{
    const char *env = getenv(X509_get_default_cert_file_env());
    const char *file = env && *env ? env : X509_get_default_cert_file();
    X509_STORE *st = X509_STORE_new();

    if (st && X509_STORE_load_file(st, file) != 1 && X509_STORE_set_default_paths(st) != 1) {
        X509_STORE_free(st);
        st = NULL;
    }
    ERR_clear_error();
    tls_store = st;
}

/* ---- sessions ---- */

/* Hashes the SNI and the checked name: a resumed session skips the certificate check, so a
 * session is only offered again for the very same pair. */
static uint64_t tls_name_hash(const char *sni, const char *host)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *s = sni; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        h = (h ^ (ch >= 'A' && ch <= 'Z' ? ch + 32u : ch)) * 1099511628211ull;
    }
    h = (h ^ 0xff) * 1099511628211ull; /* a separator no name contains */
    for (const char *s = host; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        h = (h ^ (ch >= 'A' && ch <= 'Z' ? ch + 32u : ch)) * 1099511628211ull;
    }
    return h;
}

/* OpenSSL's new-session callback: keeps the newest resumable session of this name (TLS 1.3
 * tickets arrive after the handshake, so this is the one place that sees them). */
static int tls_client_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct mrd_tls_conn *c = SSL_get_app_data(ssl);
    struct tls_client_slot *slot;
    SSL_SESSION *old;

    if (!c || !c->cli || !SSL_SESSION_is_resumable(sess))
        return 0;
    slot = &c->cli->slots[c->name_hash % TLS_CLIENT_SLOTS];
    pthread_mutex_lock(&c->cli->lock);
    old = slot->sess;
    slot->sess = sess;
    slot->name_hash = c->name_hash;
    pthread_mutex_unlock(&c->cli->lock);
    SSL_SESSION_free(old);
    return 1; /* we keep the reference */
}

/* Offers the cached session for this name, if any. */
static void tls_client_resume(struct mrd_tls_client_ctx *x, struct mrd_tls_conn *c)
{
    struct tls_client_slot *slot = &x->slots[c->name_hash % TLS_CLIENT_SLOTS];
    SSL_SESSION *sess = NULL;

    pthread_mutex_lock(&x->lock);
    if (slot->sess && slot->name_hash == c->name_hash && SSL_SESSION_is_resumable(slot->sess) &&
        SSL_SESSION_up_ref(slot->sess) == 1)
        sess = slot->sess;
    pthread_mutex_unlock(&x->lock);
    if (sess) {
        SSL_set_session(c->ssl, sess); /* takes its own reference */
        SSL_SESSION_free(sess);
    }
}

/* ---- contexts ---- */

struct mrd_tls_client_ctx *mrd_tls_client_ctx_new(bool verify, const char *ca_file, char *err,
                                                  size_t cap)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    struct mrd_tls_client_ctx *x = calloc(1, sizeof(*x));
    SSL_CTX *ctx;

    if (!x || !(ctx = x->ctx = SSL_CTX_new(TLS_client_method()))) {
        free(x);
        snprintf(err, cap, "tls: cannot create a client context");
        ERR_clear_error();
        return NULL;
    }
    atomic_init(&x->refs, 1);
    pthread_mutex_init(&x->lock, NULL);
    x->verify = verify;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1); /* as on the listener side: see tls_cert_ctx_new() */
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, tls_client_new_session);
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (verify && ca_file) {
        if (SSL_CTX_load_verify_file(ctx, ca_file) != 1) {
            const char *why = ERR_reason_error_string(ERR_peek_last_error());
            snprintf(err, cap, "tls: cannot load the CA file %s: %s", ca_file,
                     why ? why : "not PEM certificates");
            goto fail;
        }
    } else if (verify) {
        pthread_once(&tls_store_once, tls_store_load);
        if (!tls_store) {
            snprintf(err, cap, "tls: cannot load the system CA certificates (%s)",
                     X509_get_default_cert_file());
            goto fail;
        }
        SSL_CTX_set1_cert_store(ctx, tls_store);
    }
    ERR_clear_error();
    return x;
fail:
    ERR_clear_error();
    mrd_tls_client_ctx_unref(x);
    return NULL;
}

bool mrd_tls_conn_made_with(const struct mrd_tls_conn *c, const struct mrd_tls_client_ctx *x)
{
    return c->cli == x;
}

bool mrd_tls_client_ctx_verifies(const struct mrd_tls_client_ctx *x)
{
    return x->verify;
}

struct mrd_tls_client_ctx *mrd_tls_client_ctx_ref(struct mrd_tls_client_ctx *x)
{
    atomic_fetch_add_explicit(&x->refs, 1, memory_order_relaxed);
    return x;
}

void mrd_tls_client_ctx_unref(struct mrd_tls_client_ctx *x)
{
    if (!x || atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < TLS_CLIENT_SLOTS; i++)
        SSL_SESSION_free(x->slots[i].sess);
    SSL_CTX_free(x->ctx);
    x->ctx = NULL;
    pthread_mutex_destroy(&x->lock);
    free(x);
}

/* ---- connections ---- */

static bool tls_is_ip(const char *host)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Sets SNI and the name the certificate must carry. */
static int tls_client_names(struct mrd_tls_client_ctx *x, SSL *ssl, const char *sni,
                            const char *host)
{
    if (sni && *sni && !tls_is_ip(sni) && SSL_set_tlsext_host_name(ssl, sni) != 1)
        return -1;
    if (!x->verify)
        return 0;
    if (tls_is_ip(host))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}

struct mrd_tls_conn *mrd_tls_connect(struct mrd_tls_client_ctx *x, int fd, const char *sni,
                                     const char *verify_host)
{
    const char *host = verify_host && *verify_host ? verify_host : sni;
    struct mrd_tls_conn *c;

    /* Verifying without a name would accept any valid certificate: refuse instead. */
    if (x->verify && (!host || !*host))
        return NULL;
    if (!(c = calloc(1, sizeof(*c))))
        return NULL;
    if (!(c->ssl = SSL_new(x->ctx)) || SSL_set_fd(c->ssl, fd) != 1 ||
        tls_client_names(x, c->ssl, sni, host) < 0) {
        ERR_clear_error();
        SSL_free(c->ssl);
        free(c);
        return NULL;
    }
    c->cli = mrd_tls_client_ctx_ref(x);
    c->name_hash = tls_name_hash(sni, host);
    SSL_set_app_data(c->ssl, c);
    SSL_set_connect_state(c->ssl);
    tls_client_resume(x, c);
    return c;
}
