/* TLS for Meridian; the only folder that includes OpenSSL headers. Three parts: the small
 * non-blocking client the https health monitors use (probe.c), edge TLS termination
 * (server.c) and HTTPS to origins (upstream.c). docs/tls.md describes the behaviour. */
#ifndef MRD_TLS_H
#define MRD_TLS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct mrd_tls_probe;

/* A client session on the connected non-blocking socket <fd> (not owned: the caller closes
 * it). <host> is sent as SNI (unless it is an IP literal) and checked against the
 * certificate when <verify> (system CAs). NULL with a reason in <err> on failure. */
struct mrd_tls_probe *mrd_tls_probe_new(int fd, const char *host, bool verify, char *err,
                                        size_t cap);
/* Advances the handshake: 1 done, 0 waiting for the socket, -1 failed (reason in <err>). */
int mrd_tls_probe_handshake(struct mrd_tls_probe *t, char *err, size_t cap);
/* Bytes moved (> 0), 0 when the peer closed, -EAGAIN when the socket must be waited for,
 * or another -errno (-EPROTO for TLS errors). */
long mrd_tls_probe_read(struct mrd_tls_probe *t, void *buf, size_t len);
long mrd_tls_probe_write(struct mrd_tls_probe *t, const void *buf, size_t len);
/* Loads the verifying context (the system CA store, a one-time disk read) now, so the first
 * https probe does not stall the control loop. */
void mrd_tls_probe_warm(void);
/* Frees the session (NULL is fine); the socket stays open. */
void mrd_tls_probe_free(struct mrd_tls_probe *t);

/* ---- checks the config loader makes (it does not include OpenSSL) ---- */

enum mrd_tls_check {
    MRD_TLS_CHECK_OK,
    MRD_TLS_CHECK_CERT, /* the certificate file is the problem */
    MRD_TLS_CHECK_KEY,  /* the key file is the problem, or it does not match the certificate */
};

/* Loads the PEM chain <cert> and the PEM private key <key> the way a TLS listener will, and
 * checks that they match. Says which file is at fault, with the reason in <err>. */
enum mrd_tls_check mrd_tls_check_cert(const char *cert, const char *key, char *err, size_t cap);
/* Checks that <path> holds a DER OCSP response whose status is "successful". 0, or -1 with
 * the reason in <err>. */
int mrd_tls_check_ocsp(const char *path, char *err, size_t cap);

/* ---- edge TLS termination (server.c) ----
 * Connections write through the socket with write(2): the process must ignore SIGPIPE
 * (main.c does). */

struct mrd_cfg_tls;     /* config/config-t.h */
struct mrd_tls_server;  /* the contexts of one TLS listener of one config generation */
struct mrd_tls_conn;    /* one TLS connection, client or server side */

/* Server-side resumption bounds, process-wide (one cache shared by every listener, every
 * certificate and every config generation). */
#define MRD_TLS_SESSION_CACHE_MAX 20000 /* entries; the oldest is evicted first */
#define MRD_TLS_SESSION_TIMEOUT_S 300   /* resumable for 5 minutes (cache and tickets) */
#define MRD_TLS_TICKET_ROTATE_S   43200 /* a new ticket key every 12 h; the previous one is
                                         * still accepted (and the ticket renewed) */

/* Builds a listener's contexts from <cfg>: one per certificate, picked by SNI against the
 * certificates' DNS names (exact, then "*.rest" for one leading label), the first one for
 * unknown or absent names; Mozilla "intermediate" ciphers and groups, ALPN, OCSP staples,
 * shared session cache and ticket keys. Reads the files now; borrows nothing from <cfg>.
 * Returns a server with one reference, or NULL with the reason in <err>. Control thread. */
struct mrd_tls_server *mrd_tls_server_new(const struct mrd_cfg_tls *cfg, char *err, size_t cap);
/* Takes one more reference (each accepted connection holds one). Any thread. */
struct mrd_tls_server *mrd_tls_server_ref(struct mrd_tls_server *s);
/* Drops one reference; frees the contexts at zero. Safe on NULL. Any thread. */
void mrd_tls_server_unref(struct mrd_tls_server *s);

/* A server-side TLS connection on the accepted non-blocking socket <fd> (not owned: the
 * caller closes it). Holds a reference on <s>, so a reload can drop its own. NULL when out of
 * memory. Drive it with mrd_tls_handshake() until that returns 1. */
struct mrd_tls_conn *mrd_tls_accept(struct mrd_tls_server *s, int fd);
/* Advances the handshake: 1 done, 0 waiting for the socket (readable, or writable when
 * mrd_tls_wants_write()), -1 failed (mrd_tls_error() says why; close without shutdown). */
int mrd_tls_handshake(struct mrd_tls_conn *c);
/* Reads plaintext: bytes (> 0), 0 at the end of the stream (close_notify or TCP EOF; see
 * mrd_tls_eof_clean()), -EAGAIN to wait for the socket (see mrd_tls_wants_write()),
 * -ECONNRESET, or -EPROTO on a TLS error (mrd_tls_error()). Records may already be read
 * from the socket and buffered (read_ahead), so call it until -EAGAIN before waiting for the
 * socket to become readable: the proxy always does. */
ssize_t mrd_tls_read(struct mrd_tls_conn *c, void *buf, size_t len);
/* Encrypts and sends from <n> buffers: bytes taken (> 0, maybe fewer than offered), -EAGAIN
 * to wait for the socket, -EPIPE, -ECONNRESET or -EPROTO. Small buffers are gathered into
 * one record of up to 16 KiB (one copy); a buffer of 16 KiB or more is encrypted in place.
 * After -EAGAIN, call again with at least the same bytes at the front (more may follow):
 * TLS has already encrypted them. */
ssize_t mrd_tls_writev(struct mrd_tls_conn *c, const struct iovec *iov, int n);
/* After -EAGAIN (or handshake 0): true when the socket must become writable, false when
 * readable. A read can need a write (and a write a read) in TLS. */
bool mrd_tls_wants_write(const struct mrd_tls_conn *c);
/* Sends close_notify once, best effort, without waiting for the peer's: 1 sent, 0 the socket
 * was full (nothing more is tried), -1 not possible (handshake not done or a fatal error). */
int mrd_tls_shutdown(struct mrd_tls_conn *c);
/* Frees the connection and drops its reference on the server or client context. The socket
 * stays open. Safe on NULL. */
void mrd_tls_free(struct mrd_tls_conn *c);

/* Why the last call failed, e.g. "handshake: no shared cipher" or "certificate verify
 * failed: self-signed certificate"; "" when nothing failed. Owned by <c>. */
const char *mrd_tls_error(const struct mrd_tls_conn *c);
/* For logs, once the handshake is done: "TLSv1.3", "TLS_AES_128_GCM_SHA256", the SNI the
 * client sent (NULL if none), the ALPN protocol (NULL if none; <len> set), and whether the
 * session was resumed (by session id or ticket). Strings are owned by OpenSSL and <c>. */
const char *mrd_tls_version(const struct mrd_tls_conn *c);
const char *mrd_tls_cipher(const struct mrd_tls_conn *c);
const char *mrd_tls_sni(const struct mrd_tls_conn *c);
const char *mrd_tls_alpn(const struct mrd_tls_conn *c, size_t *len);
bool mrd_tls_resumed(const struct mrd_tls_conn *c);
/* After mrd_tls_read() returned 0: true for close_notify, false for a TCP close without it
 * (a truncated close-delimited body must not be taken as complete). */
bool mrd_tls_eof_clean(const struct mrd_tls_conn *c);

/* Starts a new ticket key now (the current one becomes the previous, the previous is
 * forgotten). Done by itself every MRD_TLS_TICKET_ROTATE_S; exposed for tests and for an
 * operator who wants old tickets gone. Any thread. */
void mrd_tls_ticket_rotate(void);
/* Forgets every cached server session (for tests). Any thread. */
void mrd_tls_session_cache_flush(void);

/* ---- HTTPS to origins (upstream.c) ---- */

struct mrd_tls_client_ctx;

/* A client context: TLS 1.2 or 1.3, ALPN http/1.1, and a small session cache (one session
 * per SNI, 256 slots) so repeat connections to an origin resume. With <verify>, peers are
 * checked against <ca_file> (PEM), or the system CA store when NULL (loaded once per process
 * and shared). Returns one reference, or NULL with the reason in <err>. Control thread. */
struct mrd_tls_client_ctx *mrd_tls_client_ctx_new(bool verify, const char *ca_file, char *err,
                                                  size_t cap);
struct mrd_tls_client_ctx *mrd_tls_client_ctx_ref(struct mrd_tls_client_ctx *x);
/* 1 if the client connection <c> was made with the context <x> (which it holds). */
bool mrd_tls_conn_made_with(const struct mrd_tls_conn *c, const struct mrd_tls_client_ctx *x);
/* 1 if <x> verifies the origins' certificates (it was made with <verify>). */
bool mrd_tls_client_ctx_verifies(const struct mrd_tls_client_ctx *x);
/* Drops one reference; frees at zero. Safe on NULL. Any thread. */
void mrd_tls_client_ctx_unref(struct mrd_tls_client_ctx *x);
/* A client connection on the connected non-blocking socket <fd> (not owned). <sni> is sent
 * unless NULL or an IP literal; with a verifying context the certificate must name
 * <verify_host> (or <sni> when NULL; an IP literal is matched against IP SANs). NULL when out
 * of memory, or when <x> verifies and no name is given. Use mrd_tls_handshake() and the
 * read/write calls above; a failed verification reads "certificate verify failed: <why>". */
struct mrd_tls_conn *mrd_tls_connect(struct mrd_tls_client_ctx *x, int fd, const char *sni,
                                     const char *verify_host);
#endif
