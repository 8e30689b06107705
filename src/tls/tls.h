/* TLS for Meridian; the only folder that includes OpenSSL headers. Today: the small
 * non-blocking client the https health monitors use. */
#ifndef MRD_TLS_H
#define MRD_TLS_H
#include <stdbool.h>
#include <stddef.h>

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
#endif
