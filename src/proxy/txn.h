/* A transaction: one request and its response, as the phases see it. */
#ifndef MRD_PROXY_TXN_H
#define MRD_PROXY_TXN_H
#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

#include "config/config-t.h"
#include "core/arena.h"
#include "geo/geo.h"
#include "http/h1.h"

#define MRD_MAX_ATTEMPTS 12 /* retries.attempts is at most 10, plus one stale-connection replay */

struct mrd_worker;
struct mrd_wgen;

struct mrd_txn {
    struct mrd_worker           *w;
    struct mrd_wgen             *gen;    /* one reference for the transaction's life */
    struct mrd_arena            *arena;  /* freed when the transaction ends */
    const struct mrd_h1_msg     *req;    /* the parsed request head */
    const char                  *client_ip;
    const struct sockaddr_storage *peer;  /* the accepted address */
    struct mrd_geo_info          geo;     /* where the client is; geo_known says if it is known */
    bool                         geo_known;
    /* request facts, NUL-terminated copies in the arena */
    const char                  *method;
    const char                  *host;   /* lower-case, port stripped */
    const char                  *path;   /* origin-form target */
    char                         request_id[130]; /* up to 128 kept from the client */
    /* routing */
    const struct mrd_cfg_lb     *lb;
    const struct mrd_cfg_rule   *rule;
    const struct mrd_cfg_pool  **pools;  /* candidate pools in order */
    size_t                       n_pools;
    const struct mrd_cfg_pool   *pool;   /* chosen */
    const struct mrd_cfg_origin *origin;
    uint32_t                     origin_flat; /* index into gen->upools */
    /* steering state across attempts */
    const struct mrd_cfg_pool  **order;  /* pools in policy order (arena) */
    size_t                       n_order;
    uint32_t                     tried[MRD_MAX_ATTEMPTS]; /* flat indices of failed origins */
    size_t                       n_tried;
    uint64_t                     aff_key;     /* hash key for header / ip_cookie affinity */
    bool                         aff_has_key;
    bool                         aff_cookie_valid; /* the client sent a cookie naming an origin */
    uint64_t                     aff_cookie_id;
    const char                  *set_cookie;  /* Set-Cookie value for the response, or NULL */
    bool                         counted_active; /* lb->rt->active taken */
    bool                         counted_retry;  /* lb->rt->active_retries taken */
    const struct mrd_cfg_origin *inflight;       /* origin whose in_flight this attempt holds */
    const char                  *retry_reason;   /* why the last retry happened */
    /* a response the gateway makes itself (fixed_response, errors) */
    int                          local_status;
    const char                  *local_ctype;
    const char                  *local_body;
    size_t                       local_body_len;
    /* outcome */
    int                          status;
    uint64_t                     bytes_in, bytes_out;
    uint64_t                     start_ms, start_wall_us, upstream_start_ms, upstream_first_ms;
    int                          retries;
    const char                  *error;
};

/* Phase results. */
enum { MRD_PHASE_NEXT = 0, MRD_PHASE_DONE = 1 };

/* Makes the gateway answer <txn> itself with <status> and a short text body. */
void mrd_txn_respond(struct mrd_txn *txn, int status, const char *ctype, const char *body,
                     size_t len);
#endif
