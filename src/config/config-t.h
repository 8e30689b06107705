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

/* One certificate of a TLS listener (server.listen[].tls.certificates[]). */
struct mrd_cfg_tls_cert {
    const char        *cert; /* PEM file: the leaf first, then its intermediates */
    const char        *key;  /* PEM private key file (not encrypted) */
    const char        *ocsp; /* extension: DER OCSP response to staple; NULL = none */
    struct mrd_cfg_loc loc;
};

/* server.listen[].tls: checked at load (files readable, cert and key match), built into a
 * struct mrd_tls_server (tls/tls.h) by whoever opens the listener. */
struct mrd_cfg_tls {
    struct mrd_cfg_tls_cert *certs;       /* >= 1, picked by SNI; the first is the default */
    size_t                   n_certs;
    uint16_t                 min_version; /* 0x0303 = TLS 1.2 (default) or 0x0304 = TLS 1.3 */
    const char             **alpn;        /* protocol ids in preference order; default http/1.1 */
    size_t                   n_alpn;
    bool                     tickets;     /* extension session_tickets; default true */
    struct mrd_cfg_loc       loc;
};

struct mrd_cfg_listen {
    struct mrd_cfg_addr addr;
    struct mrd_cfg_tls *tls; /* NULL = plain HTTP */
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

enum mrd_cfg_origin_steering {
    MRD_STEER_RANDOM,      /* weighted random (default) */
    MRD_STEER_ROUND_ROBIN, /* smooth weighted round robin */
    MRD_STEER_LOR,         /* least_outstanding_requests: weighted power of two choices */
    MRD_STEER_LEAST_CONN,  /* least_connections: in-flight requests + open tunnels */
    MRD_STEER_HASH,        /* consistent hash of the client IP or affinity key, bounded load */
};

struct mrd_origin_rt; /* runtime state (health, load, counters); health/state.h */
struct mrd_tls_client_ctx; /* tls/tls.h */
struct mrd_tls_server;  /* tls/tls.h */
struct mrd_pool_rt;
struct mrd_lb_rt;

struct mrd_cfg_origin {
    const char         *name;      /* unique inside its pool */
    struct mrd_cfg_addr addr;
    uint32_t            weight;    /* default 1; 0..1000000; 0 = takes no new traffic */
    bool                enabled;   /* default true */
    uint32_t            max_in_flight; /* 0 = unlimited (default); beyond it the pool spills */
    uint32_t            flat;      /* index over every origin of every pool, in file order */
    bool                tls;       /* HTTPS to this origin; default false */
    const char         *sni;       /* sent as SNI and verified; NULL = the address's host name */
    bool                allow_insecure; /* tls without certificate checks; default false */
    struct mrd_origin_rt *rt;      /* bound by mrd_rt_bind() before the generation is used */
    struct mrd_tls_client_ctx *tls_ctx; /* tls: this generation's client context (one
                                         * reference, bound by mrd_rt_bind()) */
    struct mrd_cfg_loc  loc;
};

struct mrd_cfg_keepalive {
    uint32_t min_idle;        /* warm connections kept per origin per worker; default 0; <= max_idle */
    uint32_t max_idle;        /* idle connections kept per origin per worker; default 64 */
    uint64_t idle_timeout_ms; /* default 60s; warm connections are replaced before this */
};

enum mrd_cfg_monitor_type { MRD_MON_HTTP, MRD_MON_HTTPS, MRD_MON_TCP };

struct mrd_cfg_code_range { uint16_t lo, hi; }; /* "200" -> 200..200, "2xx" -> 200..299 */

struct mrd_cfg_monitor {
    const char               *name;
    enum mrd_cfg_monitor_type type;          /* default http */
    const char               *method;        /* default GET */
    const char               *path;          /* default "/"; must start with '/' */
    const char               *host;          /* header: { Host: [..] }; NULL = origin address */
    const char              **hdr_names;     /* other headers from `header` (first value each) */
    const char              **hdr_values;
    size_t                    n_hdrs;
    struct mrd_cfg_code_range *codes;        /* default "2xx" */
    size_t                    n_codes;
    const char               *expected_body; /* NULL or "" = any body */
    uint64_t                  interval_ms;   /* default 60s; 100ms..1h */
    uint64_t                  timeout_ms;    /* default 5s; < interval */
    uint32_t                  retries;       /* default 2; 0..10 */
    uint32_t                  consecutive_up;   /* default 1; 1..100 */
    uint32_t                  consecutive_down; /* default 1; 1..100 */
    bool                      allow_insecure;   /* default false */
    struct mrd_cfg_loc        loc;
};

struct mrd_cfg_passive {                     /* extension: pools.<p>.passive_health */
    uint32_t consecutive_errors; /* connect errors/timeouts in a row to eject; default 3; 0 = off */
    bool     count_5xx;          /* origin 5xx counts as an error; default false */
    uint64_t base_ejection_ms;   /* default 30s; ejection n lasts n x this */
    uint64_t max_ejection_ms;    /* default 300s */
};

struct mrd_cfg_pool {
    const char                  *name;
    uint32_t                     index;           /* position in cfg->pools */
    enum mrd_cfg_origin_steering origin_steering; /* default random */
    struct mrd_cfg_origin       *origins;         /* array, n_origins >= 1 */
    size_t                       n_origins;
    struct mrd_cfg_keepalive     keepalive;
    int                          region;          /* MRD_REGION_* index, -1 = none; geo/geo.h */
    bool                         has_coords;
    double                       latitude, longitude; /* -90..90, -180..180 */
    const struct mrd_cfg_monitor *monitor;        /* borrowed from cfg->monitors; NULL = none */
    uint32_t                     minimum_origins; /* default 1; 1..n_origins */
    struct mrd_cfg_passive       passive;
    struct mrd_pool_rt          *rt;              /* bound by mrd_rt_bind() */
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
    struct {                         /* websocket: tunnels opened by requests of this rule */
        const char *auto_request;    /* auto_response.request; NULL = no auto-response;
                                      * 1..MRD_CFG_WS_AUTO_MAX bytes of UTF-8 */
        size_t      auto_request_len;
        const char *auto_response;   /* auto_response.response; 0..MRD_CFG_WS_AUTO_MAX bytes */
        size_t      auto_response_len;
    } websocket;
    struct mrd_cfg_loc   loc;
};

/* Longest auto_response request or response: a matching client frame is held back whole
 * until it is known to match, so this bounds what a tunnel buffers for it. */
#define MRD_CFG_WS_AUTO_MAX 1024

/* load_balancers.<lb>.websocket.on_origin_down */
enum mrd_cfg_ws_down {
    MRD_WS_DOWN_KEEP,  /* tunnels stay open on an origin that goes down or drains (default) */
    MRD_WS_DOWN_CLOSE, /* they are closed with 1012, at most close_rate per second */
};

enum mrd_cfg_steering {
    MRD_POOLS_OFF,             /* failover order (default) */
    MRD_POOLS_RANDOM,          /* weighted by random_steering */
    MRD_POOLS_GEO,             /* country_pools, region_pools, default_pools */
    MRD_POOLS_PROXIMITY,       /* great-circle distance to the pool's coordinates */
    MRD_POOLS_DYNAMIC_LATENCY, /* EWMA of probe RTT and live time to first byte */
    MRD_POOLS_LOR,             /* least_outstanding_requests */
    MRD_POOLS_LEAST_CONN,      /* least_connections (in-flight + tunnels) */
};

enum mrd_cfg_affinity { MRD_AFF_NONE, MRD_AFF_COOKIE, MRD_AFF_IP_COOKIE, MRD_AFF_HEADER };
enum mrd_cfg_zdf { MRD_ZDF_NONE, MRD_ZDF_TEMPORARY, MRD_ZDF_STICKY };

/* A key -> ordered pool list (country_pools: key "JP"; region_pools: key "SEAS"). */
struct mrd_cfg_pool_map {
    const char           *key;   /* upper-case country code or region code */
    int                   region; /* region_pools: MRD_REGION_* index; country_pools: -1 */
    struct mrd_cfg_pool **pools; /* borrowed */
    size_t                n_pools;
    struct mrd_cfg_loc    loc;
};

struct mrd_cfg_lb {
    const char           *name;
    uint32_t              index;         /* position in cfg->lbs */
    const char          **hostnames;     /* "a.example", "*.example", "*" */
    size_t                n_hostnames;
    struct mrd_cfg_pool **default_pools; /* failover order; borrowed; >= 1 */
    size_t                n_default_pools;
    struct mrd_cfg_pool  *fallback_pool; /* borrowed; NULL = none */
    enum mrd_cfg_steering steering_policy;
    struct mrd_cfg_pool_map *region_pools;
    size_t                n_region_pools;
    struct mrd_cfg_pool_map *country_pools;
    size_t                n_country_pools;
    struct {
        double  default_weight; /* default 1; 0..1000 */
        double *pool_weights;   /* per cfg->pools index (n = cfg->n_pools); default_weight if unset */
    } random_steering;
    enum mrd_cfg_affinity session_affinity;   /* default none */
    uint64_t              session_affinity_ttl_ms; /* default 23h */
    enum mrd_cfg_zdf      zero_downtime_failover;  /* default none (temporary for header) */
    const char          **affinity_headers;   /* session_affinity: header; >= 1 then */
    size_t                n_affinity_headers;
    bool                  failover_across_pools; /* adaptive_routing; default false */
    uint32_t              retry_attempts;        /* retries.attempts; default 2; 0..10 */
    uint32_t              retry_budget_percent;  /* retries.budget_percent; default 20; 0..100 */
    struct {
        enum mrd_cfg_ws_down on_origin_down; /* default keep */
        uint32_t             close_rate;     /* 1012 closes per second; default 200; 1..100000 */
    } websocket;
    struct mrd_cfg_rule  *rules;         /* ordered */
    size_t                n_rules;
    struct mrd_lb_rt     *rt;            /* bound by mrd_rt_bind() */
    struct mrd_cfg_loc    loc;
};

struct mrd_cfg_geo_net {
    struct mrd_cfg_cidr cidr;
    const char         *country; /* upper-case ISO 3166 alpha-2 or NULL */
    int                 region;  /* MRD_REGION_* index; -1 = from country (or none) */
    bool                has_coords;
    double              latitude, longitude;
    struct mrd_cfg_loc  loc;
};

struct mrd_geo;

struct mrd_cfg_geo {
    const char             *mmdb;       /* NULL = none; opened at load (geo/geo.h) */
    struct mrd_geo         *db;         /* networks + mmdb, opened at load, closed with the cfg;
                                         * NULL when the geo section is absent */
    struct mrd_cfg_geo_net *networks;   /* most specific prefix wins */
    size_t                  n_networks;
};

struct mrd_cfg_admin {
    bool                enabled;     /* true when the admin section is present */
    struct mrd_cfg_addr addr;        /* address */
    const char         *token_file;  /* NULL = none (MERIDIAN_ADMIN_TOKEN may still give one) */
    struct mrd_cfg_loc  loc;
};

struct mrd_cfg {
    atomic_uint           refs;       /* one per holder; freed at zero */
    uint64_t              generation; /* set by whoever installs it */
    const char           *file;
    struct mrd_arena      arena;      /* owns every string and array below */
    struct mrd_cfg_server server;
    struct mrd_cfg_log    log;
    struct mrd_tls_server **tls_servers; /* per listener (NULL = plain); bound by mrd_rt_bind */
    struct mrd_cfg_admin  admin;
    struct mrd_cfg_geo    geo;
    struct mrd_cfg_monitor *monitors;
    size_t                n_monitors;
    struct mrd_cfg_pool  *pools;
    size_t                n_pools;
    size_t                n_origins;  /* over every pool (the range of mrd_cfg_origin.flat) */
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
