/* Inside src/tls: the connection object that server.c (accept side, and the calls both sides
 * use) and upstream.c (connect side) share. Nothing outside src/tls includes this. */
#ifndef MRD_TLS_INT_H
#define MRD_TLS_INT_H
#include <openssl/ssl.h>

#include "tls/tls.h"

#define MRD_TLS_ERR_CAP 128

struct mrd_tls_conn {
    SSL                       *ssl;
    struct mrd_tls_server     *srv;        /* accept side: holds one reference; else NULL */
    struct mrd_tls_client_ctx *cli;        /* connect side: holds one reference; else NULL */
    uint64_t                   name_hash;  /* connect side: session cache key (SNI) */
    int                        fatal;      /* -errno once the connection is unusable; else 0 */
    bool                       want_write; /* the last -EAGAIN waits for POLLOUT */
    bool                       eof_clean;  /* read 0 came with close_notify */
    bool                       shut;       /* close_notify tried */
    char                       err[MRD_TLS_ERR_CAP];
};
#endif
