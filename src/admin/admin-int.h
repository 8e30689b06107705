/* Internal pieces of the admin API shared by its files and its unit tests: the bounds, a
 * parsed request, a buffered response, and the pure handler that maps one to the other. */
#ifndef MRD_ADMIN_INT_H
#define MRD_ADMIN_INT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin/admin.h"
#include "admin/json.h"

#define MRD_ADMIN_MAX_CONNS 64                /* open admin connections; more get a 503 */
#define MRD_ADMIN_MAX_HEAD  (16 * 1024)       /* request head; beyond it 431 */
#define MRD_ADMIN_MAX_HDRS  64                /* header fields; beyond them 431 */
#define MRD_ADMIN_MAX_BODY  (64 * 1024)       /* request body; beyond it 413 */
#define MRD_ADMIN_RECV_MS   10000             /* to receive a whole request; then 408 */
#define MRD_ADMIN_SEND_MS   10000             /* to write the response; then the conn closes */
#define MRD_ADMIN_LINGER_MS 2000              /* reading leftovers after the answer, so the
                                               * close does not reset the response away */
#define MRD_ADMIN_MAX_RSP   (32 * 1024 * 1024) /* a response body; beyond it 500 */
#define MRD_ADMIN_MAX_TOKEN 4096              /* bytes in the token file */
#define MRD_ADMIN_MAX_NAME  256               /* a decoded pool or origin name in a path */
#define MRD_ADMIN_MAX_ERRS  16                /* details listed in one error */

/* One request, as spans into the connection's receive buffer (not NUL-terminated). */
struct mrd_admin_req {
    const char *method, *target, *auth, *ctype, *body;
    size_t      method_len, target_len, auth_len, ctype_len, body_len;
    bool        has_auth, has_ctype;
};

struct mrd_admin_rsp {
    int             status;
    const char     *ctype;          /* static; "application/json" unless set */
    const char     *allow;          /* static; sent as Allow when set (405, OPTIONS) */
    bool            auth_challenge; /* 401: adds WWW-Authenticate: Bearer */
    bool            no_body;        /* HEAD: Content-Length of the body, no body bytes */
    struct mrd_json body;
};

/* Prepares <rsp> for a handler: status 200, JSON, an empty body bounded by MRD_ADMIN_MAX_RSP. */
void mrd_admin_rsp_init(struct mrd_admin_rsp *rsp);
void mrd_admin_rsp_free(struct mrd_admin_rsp *rsp);
/* One entry of an error's details: the field it is about ("" = none) and what is wrong. */
struct mrd_admin_detail {
    char field[64];
    char message[160];
};
/* Replaces the body with {"error": {"code", "message", "details": [...]}} and sets <status>. */
void mrd_admin_error_details(struct mrd_admin_rsp *rsp, int status, const char *code,
                             const char *msg, const struct mrd_admin_detail *d, size_t n);
void mrd_admin_error(struct mrd_admin_rsp *rsp, int status, const char *code, const char *msg);

/* Answers <req> into <rsp>: authentication, routing, the endpoint. Never fails: problems
 * become error responses. Runs on the control thread. */
void mrd_admin_handle(const struct mrd_admin_req *req, struct mrd_admin_rsp *rsp);

/* The process-wide admin state the handler reads. */
void mrd_admin_set_ctx(const struct mrd_admin_ctx *ctx);
/* Installs the token (copied; NULL or len 0 = none: no authentication). 0 or -ENOMEM. */
int mrd_admin_set_token(const char *token, size_t len);
bool mrd_admin_has_token(void);
/* Reads the token of <cfg>: its token_file, else MERIDIAN_ADMIN_TOKEN. 0 with *token
 * malloc'ed (NULL when neither gives one), or -errno with <why> set. */
int mrd_admin_read_token(const struct mrd_cfg *cfg, char **token, size_t *len, const char **why);
/* Compares a presented token with the expected one in time that depends only on the
 * presented length, never on where the two differ or on the expected length. */
bool mrd_admin_token_eq(const char *given, size_t glen, const char *want, size_t wlen);

/* PATCH /v1/pools/{pool}/origins/{origin}: the fields a body sets. */
struct mrd_admin_patch {
    bool has_enabled, has_weight, has_drain;
    int  enabled;  /* -1 = back to the configured value (JSON null), else 0 or 1 */
    int  weight;   /* -1 = back to the configured value, else 0..1000000 */
    bool drain;
};
/* Parses and validates a PATCH body. 0, or the HTTP status of the error written into <rsp>
 * (400 invalid_json / invalid_field); every bad field is listed in the details. */
int mrd_admin_parse_patch(const char *body, size_t len, struct mrd_admin_patch *out,
                          struct mrd_admin_rsp *rsp);

/* Writes the Prometheus text exposition of <cfg>'s runtime state into <out>. */
void mrd_admin_metrics(struct mrd_json *out, const struct mrd_cfg *cfg,
                       const struct mrd_admin_ctx *ctx);

/* The OpenAPI 3.1 description of the admin API (a NUL-terminated JSON document). */
extern const char mrd_admin_openapi[];

/* The bound port of the admin listener (tests bind port 0); -1 when not listening. */
int mrd_admin_port(void);
/* Admin connections open now (a slot is busy from accept to close). */
int mrd_admin_open_conns(void);
#endif
