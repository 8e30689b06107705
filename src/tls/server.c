/* Edge TLS termination: a listener's certificate contexts and SNI table, the process-wide
 * session cache and ticket keys every listener shares (so resumption survives reloads and
 * works across workers and certificates), and the per-connection calls both the accept and
 * the connect side use (handshake, read, writev, shutdown). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "config/config-t.h"
#include "tls/tls-int.h"

/* Mozilla "intermediate": ECDHE key exchange and AEAD ciphers only, client's order. */
#define TLS_CIPHERS_12                                                                     \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                           \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                           \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_SUITES_13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS    "X25519:P-256:P-384"
#define TLS_SID_CTX   "meridian" /* same in every context: a session resumes under any cert */

#define TLS_RECORD        16384     /* plaintext bytes of a full TLS record */
#define TLS_MAX_OCSP      (64u << 10)
#define TLS_MAX_SESS_DER  2048      /* larger sessions (none expected) are not cached */
#define TLS_SESS_BUCKETS  8192      /* power of two */
#define TLS_MAX_NAMES     100000    /* SNI names over all certificates of a listener */
#define TLS_MAX_ALPN_WIRE 255

struct tls_cert_ctx {
    SSL_CTX       *ctx;
    unsigned char *ocsp; /* DER response to staple; NULL = none */
    size_t         ocsp_len;
};

struct tls_name {
    char    *name; /* lower case, no trailing dot; "*.example.com" for a wildcard */
    uint32_t cert; /* index into certs; the first certificate naming it wins */
};

struct mrd_tls_server {
    atomic_uint          refs;
    struct tls_cert_ctx *certs; /* [0] is the default */
    size_t               n_certs;
    struct tls_name     *names; /* sorted by name, then cert */
    size_t               n_names;
    unsigned char        alpn[TLS_MAX_ALPN_WIRE]; /* wire format, preference order */
    size_t               alpn_len;
};

/* ---- errors ---- */

/* Fills c->err from the OpenSSL error queue, the verify result or errno, then clears the
 * queue (it is per thread: whatever is left would be blamed on the next connection). */
static void tls_fail(struct mrd_tls_conn *c, int ssl_err, int saved_errno, const char *what)
{
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long code = ERR_peek_error();
    const char *why = code ? ERR_reason_error_string(code) : NULL;

    if (vr != X509_V_OK)
        snprintf(c->err, sizeof(c->err), "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    else if (why)
        snprintf(c->err, sizeof(c->err), "%s: %s", what, why);
    else if (ssl_err == SSL_ERROR_SYSCALL && saved_errno)
        snprintf(c->err, sizeof(c->err), "%s: %s", what, strerror(saved_errno));
    else if (ssl_err == SSL_ERROR_SYSCALL || ssl_err == SSL_ERROR_ZERO_RETURN || code)
        snprintf(c->err, sizeof(c->err), "%s: connection closed by the peer", what);
    else
        snprintf(c->err, sizeof(c->err), "%s failed", what);
    ERR_clear_error();
}

/* The reason of the oldest queued error (the root cause: "no start line" rather than "PEM
 * lib"), or <dflt>; clears the queue. */
static const char *tls_reason(const char *dflt)
{
    unsigned long code = ERR_peek_error();
    const char *why = code ? ERR_reason_error_string(code) : NULL;

    ERR_clear_error();
    return why ? why : dflt;
}

/* Never prompts for a pass phrase: an encrypted key fails to load instead of blocking. */
static int tls_no_pass(char *buf, int size, int rwflag, void *u)
{
    return 0;
}

/* ---- checks for the config loader ---- */

/* Loads <cert> and <key> into <ctx>; which file failed, with the reason in <err>. */
static enum mrd_tls_check tls_load_pair(SSL_CTX *ctx, const char *cert, const char *key,
                                        char *err, size_t cap)
{
    unsigned long code;

    SSL_CTX_set_default_passwd_cb(ctx, tls_no_pass);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, cap, "cannot use the certificate: %s (expected PEM, the leaf first)",
                 tls_reason("not a PEM certificate"));
        return MRD_TLS_CHECK_CERT;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        code = ERR_peek_last_error();
        if (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH ||
            ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH) {
            ERR_clear_error();
            snprintf(err, cap, "the private key does not match the certificate");
        } else {
            snprintf(err, cap, "cannot use the private key: %s (expected an unencrypted PEM key)",
                     tls_reason("not a PEM private key"));
        }
        return MRD_TLS_CHECK_KEY;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(err, cap, "the private key does not match the certificate");
        return MRD_TLS_CHECK_KEY;
    }
    return MRD_TLS_CHECK_OK;
}

enum mrd_tls_check mrd_tls_check_cert(const char *cert, const char *key, char *err, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    enum mrd_tls_check r;

    if (!ctx) {
        snprintf(err, cap, "cannot create a TLS context: %s", tls_reason("out of memory"));
        return MRD_TLS_CHECK_CERT;
    }
    r = tls_load_pair(ctx, cert, key, err, cap);
    SSL_CTX_free(ctx);
    return r;
}

/* Reads a whole small file (at most <max> bytes) into a malloc'ed buffer. */
static unsigned char *tls_read_file(const char *path, size_t max, size_t *len, char *err,
                                    size_t cap)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t n = 0;

    if (!f) {
        snprintf(err, cap, "cannot read it: %s", strerror(errno));
        return NULL;
    }
    buf = malloc(max + 1);
    if (buf)
        n = fread(buf, 1, max + 1, f);
    if (!buf || ferror(f) || n > max || n == 0) {
        snprintf(err, cap, !buf ? "out of memory" : ferror(f) ? "cannot read it"
                           : n == 0 ? "the file is empty" : "larger than 64 KiB");
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Checks that buf[0..len) is a DER OCSP response with status "successful". */
static int tls_ocsp_parse(const unsigned char *buf, size_t len, char *err, size_t cap)
{
    const unsigned char *p = buf;
    OCSP_RESPONSE *rsp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    int st;

    if (!rsp) {
        ERR_clear_error();
        snprintf(err, cap, "not a DER OCSP response (e.g. from openssl ocsp -respout)");
        return -1;
    }
    st = OCSP_response_status(rsp);
    OCSP_RESPONSE_free(rsp);
    if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        snprintf(err, cap, "the OCSP response status is '%s', expected 'successful'",
                 OCSP_response_status_str(st));
        return -1;
    }
    return 0;
}

int mrd_tls_check_ocsp(const char *path, char *err, size_t cap)
{
    size_t len;
    unsigned char *buf = tls_read_file(path, TLS_MAX_OCSP, &len, err, cap);
    int r;

    if (!buf)
        return -1;
    r = tls_ocsp_parse(buf, len, err, cap);
    free(buf);
    return r;
}

/* ---- process-wide ticket keys ---- */

struct tls_ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    time_t        born; /* monotonic seconds */
};

static struct {
    pthread_mutex_t       lock;
    struct tls_ticket_key cur, prev;
    bool                  have_prev;
    EVP_CIPHER           *aes; /* fetched once: no per-handshake algorithm lookup */
} tls_tk = { .lock = PTHREAD_MUTEX_INITIALIZER };

static time_t tls_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* New random key material into <k>. Caller holds the lock. */
static int tls_ticket_fresh(struct tls_ticket_key *k)
{
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
        RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
        return -1;
    k->born = tls_now();
    return 0;
}

/* Makes the current key the previous one and starts a new one. Caller holds the lock. */
static void tls_ticket_rotate_locked(void)
{
    struct tls_ticket_key next;

    if (tls_ticket_fresh(&next) < 0)
        return; /* keep the old key rather than none; tried again on the next ticket */
    tls_tk.prev = tls_tk.cur;
    tls_tk.have_prev = true;
    tls_tk.cur = next;
    OPENSSL_cleanse(&next, sizeof(next));
}

void mrd_tls_ticket_rotate(void)
{
    pthread_mutex_lock(&tls_tk.lock);
    tls_ticket_rotate_locked();
    pthread_mutex_unlock(&tls_tk.lock);
}

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static bool tls_init_ok;

/* First key and the cipher; run once, from the first mrd_tls_server_new(). */
static void tls_init(void)
{
    pthread_mutex_lock(&tls_tk.lock);
    tls_tk.aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    tls_init_ok = tls_tk.aes && tls_ticket_fresh(&tls_tk.cur) == 0;
    pthread_mutex_unlock(&tls_tk.lock);
}

/* Copies the key to encrypt with into <k>, rotating first when it is old. */
static void tls_ticket_current(struct tls_ticket_key *k)
{
    pthread_mutex_lock(&tls_tk.lock);
    if (tls_now() - tls_tk.cur.born >= MRD_TLS_TICKET_ROTATE_S)
        tls_ticket_rotate_locked();
    *k = tls_tk.cur;
    pthread_mutex_unlock(&tls_tk.lock);
}

/* Copies the key called <name> into <k>: 1 current, 2 previous (renew the ticket), 0 none. */
static int tls_ticket_find(const unsigned char *name, struct tls_ticket_key *k)
{
    int r = 0;

    pthread_mutex_lock(&tls_tk.lock);
    if (memcmp(name, tls_tk.cur.name, sizeof(tls_tk.cur.name)) == 0) {
        *k = tls_tk.cur;
        r = 1;
    } else if (tls_tk.have_prev && memcmp(name, tls_tk.prev.name, sizeof(tls_tk.prev.name)) == 0) {
        *k = tls_tk.prev;
        r = 2;
    }
    pthread_mutex_unlock(&tls_tk.lock);
    return r;
}

static int tls_ticket_mac(EVP_MAC_CTX *hctx, unsigned char *key)
{
    OSSL_PARAM p[3];

    p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32);
    p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    p[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(hctx, p) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback: AES-256-CBC + HMAC-SHA256 under the shared keys. */
static int tls_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct tls_ticket_key k;
    int r = 1;

    if (enc) {
        tls_ticket_current(&k);
        memcpy(name, k.name, sizeof(k.name));
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(tls_tk.aes)) != 1 ||
            EVP_EncryptInit_ex(cctx, tls_tk.aes, NULL, k.aes, iv) != 1)
            r = -1;
    } else {
        r = tls_ticket_find(name, &k);
        if (r == 0)
            return 0; /* unknown or expired key: a full handshake, and a new ticket */
        /* Clients use a TLS 1.3 ticket once (RFC 8446 C.4; OpenSSL does): without a fresh one
         * the next connection would be a full handshake again. */
        if (SSL_version(ssl) >= TLS1_3_VERSION)
            r = 2;
        if (EVP_DecryptInit_ex(cctx, tls_tk.aes, NULL, k.aes, iv) != 1)
            r = -1;
    }
    if (r > 0 && tls_ticket_mac(hctx, k.hmac) < 0)
        r = -1;
    OPENSSL_cleanse(&k, sizeof(k));
    return r;
}

/* ---- process-wide session cache (resumption by session id) ---- */

/* One session, serialized: a few hundred bytes instead of a live SSL_SESSION. */
struct tls_sess {
    struct tls_sess *next;   /* hash chain */
    size_t           ring;   /* slot in tls_sc.ring */
    time_t           expire; /* monotonic seconds */
    unsigned         id_len, der_len;
    unsigned char    id[SSL_MAX_SSL_SESSION_ID_LENGTH];
    unsigned char    der[];
};

static struct {
    pthread_mutex_t  lock;
    struct tls_sess *bucket[TLS_SESS_BUCKETS];
    struct tls_sess *ring[MRD_TLS_SESSION_CACHE_MAX]; /* insertion order; NULL = free */
    size_t           next;                            /* next ring slot to fill */
} tls_sc = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t tls_sess_hash(const unsigned char *id, unsigned len)
{
    uint64_t h = 1469598103934665603ull;

    for (unsigned i = 0; i < len; i++)
        h = (h ^ id[i]) * 1099511628211ull;
    return (size_t)(h & (TLS_SESS_BUCKETS - 1));
}

/* The link pointing at the entry with <id>, or at the chain's NULL end. Lock held. */
static struct tls_sess **tls_sess_slot(const unsigned char *id, unsigned len)
{
    struct tls_sess **pp = &tls_sc.bucket[tls_sess_hash(id, len)];

    while (*pp && ((*pp)->id_len != len || memcmp((*pp)->id, id, len) != 0))
        pp = &(*pp)->next;
    return pp;
}

/* Unlinks and frees the entry *pp points at. Lock held. */
static void tls_sess_drop(struct tls_sess **pp)
{
    struct tls_sess *e = *pp;

    *pp = e->next;
    tls_sc.ring[e->ring] = NULL;
    OPENSSL_cleanse(e->der, e->der_len);
    free(e);
}

/* Stores <e>, replacing an entry with the same id and evicting the oldest when full. */
static void tls_sess_put(struct tls_sess *e)
{
    struct tls_sess **pp;

    pthread_mutex_lock(&tls_sc.lock);
    if (*(pp = tls_sess_slot(e->id, e->id_len)))
        tls_sess_drop(pp);
    e->ring = tls_sc.next;
    tls_sc.next = (tls_sc.next + 1) % MRD_TLS_SESSION_CACHE_MAX;
    if (tls_sc.ring[e->ring]) {
        struct tls_sess *old = tls_sc.ring[e->ring];
        tls_sess_drop(tls_sess_slot(old->id, old->id_len));
    }
    tls_sc.ring[e->ring] = e;
    pp = &tls_sc.bucket[tls_sess_hash(e->id, e->id_len)];
    e->next = *pp;
    *pp = e;
    pthread_mutex_unlock(&tls_sc.lock);
}

/* OpenSSL's new-session callback: keeps sessions that resume by id (TLS 1.2, and TLS 1.3
 * when tickets are off); TLS 1.3 stateless tickets carry the session themselves. */
static int tls_sess_new_cb(SSL *ssl, SSL_SESSION *sess)
{
    unsigned id_len;
    const unsigned char *id = SSL_SESSION_get_id(sess, &id_len);
    int der_len;
    struct tls_sess *e;
    unsigned char *p;

    if (SSL_version(ssl) >= TLS1_3_VERSION && !(SSL_get_options(ssl) & SSL_OP_NO_TICKET))
        return 0;
    der_len = i2d_SSL_SESSION(sess, NULL);
    if (id_len == 0 || id_len > SSL_MAX_SSL_SESSION_ID_LENGTH || der_len <= 0 ||
        der_len > TLS_MAX_SESS_DER || !(e = malloc(sizeof(*e) + (size_t)der_len)))
        return 0;
    p = e->der;
    e->der_len = (unsigned)i2d_SSL_SESSION(sess, &p);
    e->id_len = id_len;
    memcpy(e->id, id, id_len);
    e->expire = tls_now() + MRD_TLS_SESSION_TIMEOUT_S;
    tls_sess_put(e);
    return 0; /* the SSL_SESSION itself is not kept */
}

/* OpenSSL's lookup callback: a fresh SSL_SESSION from the stored bytes, or NULL. */
static SSL_SESSION *tls_sess_get_cb(SSL *ssl, const unsigned char *id, int len, int *copy)
{
    unsigned char der[TLS_MAX_SESS_DER];
    const unsigned char *p = der;
    struct tls_sess **pp;
    long n = 0;

    *copy = 0; /* the returned session's one reference goes to OpenSSL */
    if (len <= 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH)
        return NULL;
    pthread_mutex_lock(&tls_sc.lock);
    if (*(pp = tls_sess_slot(id, (unsigned)len))) {
        if ((*pp)->expire <= tls_now()) {
            tls_sess_drop(pp);
        } else {
            n = (*pp)->der_len;
            memcpy(der, (*pp)->der, (size_t)n);
        }
    }
    pthread_mutex_unlock(&tls_sc.lock);
    SSL_SESSION *s = n ? d2i_SSL_SESSION(NULL, &p, n) : NULL;
    OPENSSL_cleanse(der, sizeof(der));
    return s;
}

/* OpenSSL's removal callback (a session that failed or expired). */
static void tls_sess_remove_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
    unsigned len;
    const unsigned char *id = SSL_SESSION_get_id(sess, &len);
    struct tls_sess **pp;

    if (len == 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH)
        return;
    pthread_mutex_lock(&tls_sc.lock);
    if (*(pp = tls_sess_slot(id, len)))
        tls_sess_drop(pp);
    pthread_mutex_unlock(&tls_sc.lock);
}

void mrd_tls_session_cache_flush(void)
{
    pthread_mutex_lock(&tls_sc.lock);
    for (size_t i = 0; i < MRD_TLS_SESSION_CACHE_MAX; i++)
        if (tls_sc.ring[i])
            tls_sess_drop(tls_sess_slot(tls_sc.ring[i]->id, tls_sc.ring[i]->id_len));
    pthread_mutex_unlock(&tls_sc.lock);
}

/* ---- SNI ---- */

static int tls_name_cmp(const void *a, const void *b)
{
    const struct tls_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : (x->cert > y->cert) - (x->cert < y->cert);
}

/* The certificate for <name> (already lower case), or -1: the first entry not below it. */
static int tls_name_find(const struct mrd_tls_server *s, const char *name)
{
    size_t lo = 0, hi = s->n_names;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->names[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_names && strcmp(s->names[lo].name, name) == 0 ? (int)s->names[lo].cert : -1;
}

/* The certificate for the client's SNI: exact name, then "*." + all but the first label. */
static int tls_sni_pick(const struct mrd_tls_server *s, const char *sni)
{
    char buf[256 + 2];
    size_t len = strlen(sni);
    const char *dot;
    int i;

    if (len > 0 && sni[len - 1] == '.')
        len--;
    if (len == 0 || len > 253)
        return -1;
    for (size_t k = 0; k < len; k++)
        buf[k + 1] = (sni[k] >= 'A' && sni[k] <= 'Z') ? (char)(sni[k] + 32) : sni[k];
    buf[len + 1] = 0;
    if ((i = tls_name_find(s, buf + 1)) >= 0)
        return i;
    dot = memchr(buf + 1, '.', len);
    if (!dot || dot == buf + 1 || dot[1] == 0)
        return -1;
    char *w = (char *)dot - 1; /* "*" right before the first dot */
    *w = '*';
    return tls_name_find(s, w);
}

/* OpenSSL's servername callback: switches to the certificate's context; unknown names keep
 * the default certificate rather than failing (clients that send no SNI get it too). */
static int tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
    const struct mrd_tls_server *s = arg;
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    int i = sni ? tls_sni_pick(s, sni) : -1;

    if (i > 0 && !SSL_set_SSL_CTX(ssl, s->certs[i].ctx))
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
}

/* Adds one DNS name of certificate <cert> to the table (lower-cased; skips odd ones). */
static int tls_name_add(struct mrd_tls_server *s, size_t *cap, const unsigned char *n, int len,
                        uint32_t cert)
{
    char *c;

    if (len <= 0 || len > 253 || memchr(n, 0, (size_t)len) || s->n_names >= TLS_MAX_NAMES)
        return 0;
    if (s->n_names == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct tls_name *v = realloc(s->names, nc * sizeof(*v));
        if (!v)
            return -1;
        s->names = v;
        *cap = nc;
    }
    if (!(c = malloc((size_t)len + 1)))
        return -1;
    for (int i = 0; i < len; i++)
        c[i] = (n[i] >= 'A' && n[i] <= 'Z') ? (char)(n[i] + 32) : (char)n[i];
    c[len] = 0;
    s->names[s->n_names].name = c;
    s->names[s->n_names++].cert = cert;
    return 0;
}

/* Adds the DNS names of the leaf in <ctx>: its SAN DNS entries, else its subject CN. */
static int tls_names_of(struct mrd_tls_server *s, size_t *cap, SSL_CTX *ctx, uint32_t cert)
{
    X509 *x = SSL_CTX_get0_certificate(ctx);
    GENERAL_NAMES *gens = x ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
    int found = 0, r = 0;

    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && r == 0; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        r = tls_name_add(s, cap, ASN1_STRING_get0_data(g->d.dNSName),
                         ASN1_STRING_length(g->d.dNSName), cert);
        found++;
    }
    GENERAL_NAMES_free(gens);
    if (!found && x && r == 0) {
        X509_NAME *subj = X509_get_subject_name(x);
        int at = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
        ASN1_STRING *cn = at >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, at)) : NULL;
        if (cn)
            r = tls_name_add(s, cap, ASN1_STRING_get0_data(cn), ASN1_STRING_length(cn), cert);
    }
    return r;
}

/* ---- ALPN and OCSP ---- */

/* OpenSSL's ALPN callback: our first protocol the client also offers. A client with none in
 * common goes on without ALPN (as HAProxy does) instead of being refused. */
static int tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    const struct mrd_tls_server *s = arg;
    unsigned char *sel = NULL;

    if (SSL_select_next_proto(&sel, outlen, s->alpn, (unsigned)s->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* OpenSSL's status callback: staples the certificate's response when the client asks. */
static int tls_ocsp_cb(SSL *ssl, void *arg)
{
    const struct tls_cert_ctx *cc = arg;
    unsigned char *copy;

    if (!cc->ocsp || !(copy = OPENSSL_memdup(cc->ocsp, cc->ocsp_len)))
        return SSL_TLSEXT_ERR_NOACK;
    /* OpenSSL frees what it is given, so each handshake gets its own copy. */
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)cc->ocsp_len) != 1) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* Builds the wire-format ALPN list. */
static int tls_alpn_wire(struct mrd_tls_server *s, const struct mrd_cfg_tls *cfg, char *err,
                         size_t cap)
{
    static const char *const dflt[] = { "http/1.1" };
    const char *const *v = cfg->n_alpn ? cfg->alpn : dflt;
    size_t n = cfg->n_alpn ? cfg->n_alpn : 1;

    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);
        if (l == 0 || l > 255 || s->alpn_len + 1 + l > sizeof(s->alpn)) {
            snprintf(err, cap, "tls: alpn: bad protocol list");
            return -1;
        }
        s->alpn[s->alpn_len++] = (unsigned char)l;
        memcpy(s->alpn + s->alpn_len, v[i], l);
        s->alpn_len += l;
    }
    return 0;
}

/* ---- contexts ---- */

/* One certificate's context: profile, callbacks, cert and key, OCSP response. */
static int tls_cert_ctx_new(struct mrd_tls_server *s, const struct mrd_cfg_tls *cfg, size_t i,
                            char *err, size_t cap)
{
    const struct mrd_cfg_tls_cert *cc = &cfg->certs[i];
    struct tls_cert_ctx *t = &s->certs[i];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    uint64_t opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
    char why[192];

    if (!(t->ctx = ctx)) {
        snprintf(err, cap, "tls: cannot create a context: %s", tls_reason("out of memory"));
        return -1;
    }
    if (!cfg->tickets)
        opts |= SSL_OP_NO_TICKET;
    SSL_CTX_set_options(ctx, opts);
    SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* One read() takes whatever the socket holds instead of a 5-byte header and then the
     * body: half the read syscalls. The proxy reads a TLS connection until SSL says
     * WANT_READ, so records buffered here are never stranded under edge-triggered epoll. */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* One TLS 1.3 ticket per handshake instead of OpenSSL's two: each costs a session copy,
     * an HKDF and the encryption (~8 % of a full handshake), and every resumption brings a
     * fresh one, so a client always holds a ticket (Go's crypto/tls sends one too). */
    SSL_CTX_set_num_tickets(ctx, 1);
    if (SSL_CTX_set_min_proto_version(ctx, cfg->min_version ? cfg->min_version
                                                            : TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, TLS_SUITES_13) != 1 ||
        SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1 ||
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)TLS_SID_CTX,
                                       sizeof(TLS_SID_CTX) - 1) != 1) {
        snprintf(err, cap, "tls: cannot apply the cipher profile: %s", tls_reason("unknown"));
        return -1;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL |
                                            SSL_SESS_CACHE_NO_AUTO_CLEAR);
    SSL_CTX_set_timeout(ctx, MRD_TLS_SESSION_TIMEOUT_S);
    SSL_CTX_sess_set_new_cb(ctx, tls_sess_new_cb);
    SSL_CTX_sess_set_get_cb(ctx, tls_sess_get_cb);
    SSL_CTX_sess_set_remove_cb(ctx, tls_sess_remove_cb);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
    SSL_CTX_set_tlsext_servername_callback(ctx, tls_sni_cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, s);
    SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, s);
    if (tls_load_pair(ctx, cc->cert, cc->key, why, sizeof(why)) != MRD_TLS_CHECK_OK) {
        snprintf(err, cap, "tls: %s: %s", cc->cert, why);
        return -1;
    }
    if (cc->ocsp) {
        if (!(t->ocsp = tls_read_file(cc->ocsp, TLS_MAX_OCSP, &t->ocsp_len, why, sizeof(why))) ||
            tls_ocsp_parse(t->ocsp, t->ocsp_len, why, sizeof(why)) < 0) {
            snprintf(err, cap, "tls: ocsp %s: %s", cc->ocsp, why);
            return -1;
        }
        SSL_CTX_set_tlsext_status_cb(ctx, tls_ocsp_cb);
        SSL_CTX_set_tlsext_status_arg(ctx, t);
    }
    return 0;
}

/* Frees what mrd_tls_server_new() built so far. */
static void tls_server_free(struct mrd_tls_server *s)
{
    for (size_t i = 0; s->certs && i < s->n_certs; i++) {
        SSL_CTX_free(s->certs[i].ctx);
        free(s->certs[i].ocsp);
    }
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i].name);
    free(s->names);
    s->names = NULL;
    free(s->certs);
    s->certs = NULL;
    free(s);
}

struct mrd_tls_server *mrd_tls_server_new(const struct mrd_cfg_tls *cfg, char *err, size_t cap)
{
    struct mrd_tls_server *s;
    size_t names_cap = 0;

    pthread_once(&tls_once, tls_init);
    if (!tls_init_ok) {
        snprintf(err, cap, "tls: cannot set up the session ticket keys");
        return NULL;
    }
    if (!cfg || cfg->n_certs == 0) {
        snprintf(err, cap, "tls: at least one certificate is needed");
        return NULL;
    }
    if (!(s = calloc(1, sizeof(*s))) || !(s->certs = calloc(cfg->n_certs, sizeof(*s->certs)))) {
        free(s);
        snprintf(err, cap, "tls: out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->n_certs = cfg->n_certs;
    if (tls_alpn_wire(s, cfg, err, cap) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->n_certs; i++) {
        if (tls_cert_ctx_new(s, cfg, i, err, cap) < 0)
            goto fail;
        if (tls_names_of(s, &names_cap, s->certs[i].ctx, (uint32_t)i) < 0) {
            snprintf(err, cap, "tls: out of memory");
            goto fail;
        }
    }
    if (s->n_names)
        qsort(s->names, s->n_names, sizeof(*s->names), tls_name_cmp);
    return s;
fail:
    ERR_clear_error();
    tls_server_free(s);
    return NULL;
}

struct mrd_tls_server *mrd_tls_server_ref(struct mrd_tls_server *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void mrd_tls_server_unref(struct mrd_tls_server *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        tls_server_free(s);
}

/* ---- connections (both sides) ---- */

struct mrd_tls_conn *mrd_tls_accept(struct mrd_tls_server *s, int fd)
{
    struct mrd_tls_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    if (!(c->ssl = SSL_new(s->certs[0].ctx)) || SSL_set_fd(c->ssl, fd) != 1) {
        ERR_clear_error();
        SSL_free(c->ssl);
        free(c);
        return NULL;
    }
    SSL_set_app_data(c->ssl, c);
    SSL_set_accept_state(c->ssl);
    c->srv = mrd_tls_server_ref(s);
    return c;
}

/* Maps a failed call's SSL_ERROR_* to -EAGAIN (noting the direction) or records a fatal
 * error and returns <fatal_errno>. */
static int tls_io_error(struct mrd_tls_conn *c, int ret, const char *what, int fatal_errno)
{
    int saved = errno;
    int e = SSL_get_error(c->ssl, ret);

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->want_write = e == SSL_ERROR_WANT_WRITE;
        return -EAGAIN;
    }
    tls_fail(c, e, saved, what);
    if (e == SSL_ERROR_SYSCALL && (saved == ECONNRESET || saved == EPIPE))
        fatal_errno = -saved;
    c->fatal = fatal_errno;
    return fatal_errno;
}

int mrd_tls_handshake(struct mrd_tls_conn *c)
{
    int r;

    if (c->fatal)
        return -1;
    ERR_clear_error();
    errno = 0;
    r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->want_write = false;
        return 1;
    }
    return tls_io_error(c, r, "handshake", -EPROTO) == -EAGAIN ? 0 : -1;
}

ssize_t mrd_tls_read(struct mrd_tls_conn *c, void *buf, size_t len)
{
    size_t n = 0;
    unsigned long code;
    int e;

    if (c->fatal)
        return c->fatal;
    ERR_clear_error();
    errno = 0;
    if (SSL_read_ex(c->ssl, buf, len, &n) == 1)
        return (ssize_t)n;
    e = SSL_get_error(c->ssl, 0);
    if (e == SSL_ERROR_ZERO_RETURN) {
        c->eof_clean = true;
        return 0;
    }
    code = ERR_peek_error();
    /* A TCP close without close_notify: the end too, but an unclean one. */
    if ((e == SSL_ERROR_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
        (e == SSL_ERROR_SYSCALL && !code && errno == 0)) {
        ERR_clear_error();
        c->eof_clean = false;
        return 0;
    }
    return tls_io_error(c, 0, "read", -EPROTO);
}

/* Where the next SSL_write_ex() takes its bytes from: in place when the rest of the current
 * buffer is a full record or the last bytes offered, else gathered into <tmp>. */
static const void *tls_chunk(const struct iovec *iov, int n, int i, size_t off,
                             unsigned char *tmp, size_t *len)
{
    size_t rest = iov[i].iov_len - off, got = 0;
    bool last = true;

    for (int j = i + 1; j < n && last; j++)
        last = iov[j].iov_len == 0;
    if (rest >= TLS_RECORD || last) {
        *len = rest;
        return (const char *)iov[i].iov_base + off;
    }
    for (int j = i; j < n && got < TLS_RECORD; j++, off = 0) {
        size_t take = iov[j].iov_len - off;
        if (take > TLS_RECORD - got)
            take = TLS_RECORD - got;
        if (take)
            memcpy(tmp + got, (const char *)iov[j].iov_base + off, take);
        got += take;
    }
    *len = got;
    return tmp;
}

ssize_t mrd_tls_writev(struct mrd_tls_conn *c, const struct iovec *iov, int n)
{
    unsigned char tmp[TLS_RECORD];
    ssize_t done = 0;
    size_t off = 0;
    int i = 0, r;

    if (c->fatal)
        return c->fatal;
    while (i < n) {
        size_t len, wrote = 0;
        const void *p;
        if (off == iov[i].iov_len) {
            i++;
            off = 0;
            continue;
        }
        p = tls_chunk(iov, n, i, off, tmp, &len);
        ERR_clear_error();
        errno = 0;
        if (SSL_write_ex(c->ssl, p, len, &wrote) != 1) {
            r = tls_io_error(c, 0, "write", -EPROTO);
            return done > 0 ? done : r; /* a fatal error shows again on the next call */
        }
        done += (ssize_t)wrote;
        while (wrote > 0 && i < n) {
            size_t take = iov[i].iov_len - off < wrote ? iov[i].iov_len - off : wrote;
            off += take;
            wrote -= take;
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
            }
        }
    }
    return done;
}

bool mrd_tls_wants_write(const struct mrd_tls_conn *c)
{
    return c->want_write;
}

int mrd_tls_shutdown(struct mrd_tls_conn *c)
{
    int r;

    if (c->fatal || c->shut || !SSL_is_init_finished(c->ssl))
        return -1;
    c->shut = true;
    ERR_clear_error();
    r = SSL_shutdown(c->ssl);
    if (r >= 0)
        return 1;
    r = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    return r == SSL_ERROR_WANT_WRITE || r == SSL_ERROR_WANT_READ ? 0 : -1;
}

void mrd_tls_free(struct mrd_tls_conn *c)
{
    if (!c)
        return;
    /* Closing without close_notify makes OpenSSL forget the session; but idle timeouts and
     * clients that just close are normal, so a connection that ended well stays resumable
     * (as nginx and HAProxy do). After a fatal error OpenSSL has already dropped it. */
    if (!c->fatal && SSL_is_init_finished(c->ssl))
        SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c->ssl);
    c->ssl = NULL;
    mrd_tls_server_unref(c->srv);
    c->srv = NULL;
    mrd_tls_client_ctx_unref(c->cli);
    c->cli = NULL;
    free(c);
}

const char *mrd_tls_error(const struct mrd_tls_conn *c)
{
    return c->err;
}

const char *mrd_tls_version(const struct mrd_tls_conn *c)
{
    return SSL_get_version(c->ssl);
}

const char *mrd_tls_cipher(const struct mrd_tls_conn *c)
{
    return SSL_get_cipher_name(c->ssl);
}

const char *mrd_tls_sni(const struct mrd_tls_conn *c)
{
    return SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
}

const char *mrd_tls_alpn(const struct mrd_tls_conn *c, size_t *len)
{
    const unsigned char *p = NULL;
    unsigned l = 0;

    SSL_get0_alpn_selected(c->ssl, &p, &l);
    *len = l;
    return l ? (const char *)p : NULL;
}

bool mrd_tls_resumed(const struct mrd_tls_conn *c)
{
    return SSL_session_reused(c->ssl) == 1;
}

bool mrd_tls_eof_clean(const struct mrd_tls_conn *c)
{
    return c->eof_clean;
}
