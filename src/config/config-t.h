/* Typed configuration: what the YAML file becomes once parsed and validated.
 * A whole generation lives in one arena (cfg->arena) and is freed in one call
 * when its last reference goes away. Every object keeps its file:line:col. */
#ifndef MRD_CONFIG_T_H
#define MRD_CONFIG_T_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/arena.h"

struct mrd_cfg_loc {
    const char *file; /* borrowed from the generation's arena */
    int         line; /* 1-based; 0 = unknown */
    int         col;  /* 1-based */
};

/* A resolved socket address ("1.2.3.4:80", "[::1]:80", "localhost:80"). */
struct mrd_cfg_addr {
    char                   *text; /* as written */
    struct sockaddr_storage ss;
    socklen_t               len;
};

struct mrd_cfg_cidr {
    int      family; /* AF_INET or AF_INET6 */
    uint8_t  addr[16];
    uint8_t  prefix; /* bits */
};

enum mrd_cfg_log_level { MRD_LOG_DEBUG, MRD_LOG_INFO, MRD_LOG_WARN, MRD_LOG_ERROR };

struct mrd_cfg_listen {
    struct mrd_cfg_addr addr;
    struct mrd_cfg_loc  loc;
};

struct mrd_cfg_limits {
    uint64_t header_timeout_ms;          /* default 10s */
    uint64_t body_timeout_ms;            /* default 60s */
    uint64_t idle_timeout_ms;            /* default 75s */
    uint64_t websocket_idle_timeout_ms;  /* default 1h */
    uint64_t connect_timeout_ms;         /* default 5s (extension: upstream connect) */
    uint64_t upstream_timeout_ms;        /* default 60s (extension: max wait for origin bytes) */
    uint64_t max_header_bytes;           /* default 16KiB; 1KiB..1MiB */
    uint32_t max_headers;                /* default 100; 1..1000 */
    uint64_t max_body_bytes;             /* default 100MiB; 0 = unlimited */
    uint32_t max_connections;            /* default 100000 */
    uint32_t max_connections_per_ip;     /* default 512; 0 = unlimited */
};

struct mrd_cfg_server {
    int                    workers;  /* resolved: "auto" becomes the CPU count */
    struct mrd_cfg_listen *listen;   /* array, n_listen >= 1 */
    size_t                 n_listen;
    struct mrd_cfg_cidr   *trusted_proxies;
    size_t                 n_trusted_proxies;
    struct mrd_cfg_limits  limits;
};

struct mrd_cfg_log {
    const char            *access; /* "stdout", "stderr", "off" or a file path; default "stdout" */
    const char            *error;  /* "stderr", "stdout" or a file path; default "stderr" */
    enum mrd_cfg_log_level level;  /* default info */
};

enum mrd_cfg_origin_steering { MRD_STEER_RANDOM, MRD_STEER_ROUND_ROBIN };

struct mrd_cfg_origin {
    const char         *name;      /* unique inside its pool */
    struct mrd_cfg_addr addr;
    uint32_t            weight;    /* default 1; 0..1000000; 0 = takes no new traffic */
    bool                enabled;   /* default true */
    struct mrd_cfg_loc  loc;
};

struct mrd_cfg_keepalive {
    uint32_t max_idle;        /* idle connections kept per origin per worker; default 64 */
    uint64_t idle_timeout_ms; /* default 60s */
};

struct mrd_cfg_pool {
    const char                  *name;
    enum mrd_cfg_origin_steering origin_steering; /* default random */
    struct mrd_cfg_origin       *origins;         /* array, n_origins >= 1 */
    size_t                       n_origins;
    struct mrd_cfg_keepalive     keepalive;
    struct mrd_cfg_loc           loc;
};

enum mrd_cfg_rule_action { MRD_RULE_POOLS, MRD_RULE_FIXED };

struct mrd_cfg_rule {
    /* match: every given field must match; NULL = any */
    const char          *path;    /* glob: '*' any run of chars, '?' one char */
    const char          *host;    /* exact or "*.suffix", case-insensitive */
    const char         **methods; /* "method: GET" or "method: [GET, HEAD]" */
    size_t               n_methods;
    enum mrd_cfg_rule_action action;
    struct mrd_cfg_pool **pools;  /* MRD_RULE_POOLS: borrowed from cfg->pools */
    size_t               n_pools;
    struct {
        int         status;       /* 100..599 */
        const char *content_type; /* default "text/plain" */
        const char *body;         /* default "" */
        size_t      body_len;
    } fixed;
    struct mrd_cfg_loc   loc;
};

struct mrd_cfg_lb {
    const char           *name;
    const char          **hostnames;     /* "a.example", "*.example", "*" */
    size_t                n_hostnames;
    struct mrd_cfg_pool **default_pools; /* failover order; borrowed; >= 1 */
    size_t                n_default_pools;
    struct mrd_cfg_rule  *rules;         /* ordered */
    size_t                n_rules;
    struct mrd_cfg_loc    loc;
};

struct mrd_cfg {
    atomic_uint           refs;       /* one per holder; freed at zero */
    uint64_t              generation; /* set by whoever installs it */
    const char           *file;
    struct mrd_arena      arena;      /* owns every string and array below */
    struct mrd_cfg_server server;
    struct mrd_cfg_log    log;
    struct mrd_cfg_pool  *pools;
    size_t                n_pools;
    struct mrd_cfg_lb    *lbs;
    size_t                n_lbs;
};

/* One validation problem; a run collects all of them. */
struct mrd_cfg_error {
    struct mrd_cfg_loc loc;
    char               msg[256];
};

struct mrd_cfg_errors {
    struct mrd_cfg_error *v;   /* malloc'ed */
    size_t                n, cap;
};
#endif
