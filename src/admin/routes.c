/* The admin API's request handler: authentication, routing and the JSON endpoints. It maps a
 * parsed request to a buffered response and touches no socket, so unit tests drive it
 * directly; server.c does the I/O. */
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin-int.h"
#include "config/config.h"
#include "core/log.h"
#include "health/state.h"
#include "proxy/proxy.h"

#define ALLOW_GET   "GET, HEAD"
#define ALLOW_PATCH "GET, HEAD, PATCH"

static struct {
    struct mrd_admin_ctx ctx;
    char                *token; /* NULL = no token configured: no authentication */
    size_t               token_len;
} admin_st;

void mrd_admin_set_ctx(const struct mrd_admin_ctx *ctx)
{
    admin_st.ctx = *ctx;
    if (!admin_st.ctx.start_wall_ms)
        admin_st.ctx.start_wall_ms = mrd_rt_wall_ms();
    if (!admin_st.ctx.version)
        admin_st.ctx.version = "unknown";
}

int mrd_admin_set_token(const char *token, size_t len)
{
    char *copy = NULL;
    if (token && len) {
        if (!(copy = malloc(len + 1)))
            return -ENOMEM;
        memcpy(copy, token, len);
        copy[len] = '\0';
    }
    if (admin_st.token)
        memset(admin_st.token, 0, admin_st.token_len); /* do not leave it in freed memory */
    free(admin_st.token);
    admin_st.token = copy;
    admin_st.token_len = copy ? len : 0;
    return 0;
}

bool mrd_admin_has_token(void)
{
    return admin_st.token != NULL;
}

/* ---- responses ---- */

void mrd_admin_rsp_init(struct mrd_admin_rsp *rsp)
{
    memset(rsp, 0, sizeof(*rsp));
    rsp->status = 200;
    rsp->ctype = "application/json";
    mrd_json_init(&rsp->body, MRD_ADMIN_MAX_RSP);
}

void mrd_admin_rsp_free(struct mrd_admin_rsp *rsp)
{
    mrd_json_free(&rsp->body);
}

void mrd_admin_error_details(struct mrd_admin_rsp *rsp, int status, const char *code,
                             const char *msg, const struct mrd_admin_detail *d, size_t n)
{
    struct mrd_json *j = &rsp->body;

    mrd_json_reset(j);
    rsp->status = status;
    rsp->ctype = "application/json";
    mrd_json_obj(j);
    mrd_json_key(j, "error");
    mrd_json_obj(j);
    mrd_json_key(j, "code");
    mrd_json_str(j, code);
    mrd_json_key(j, "message");
    mrd_json_str(j, msg);
    mrd_json_key(j, "details");
    mrd_json_arr(j);
    for (size_t i = 0; i < n; i++) {
        mrd_json_obj(j);
        if (d[i].field[0]) {
            mrd_json_key(j, "field");
            mrd_json_str(j, d[i].field);
        }
        mrd_json_key(j, "message");
        mrd_json_str(j, d[i].message);
        mrd_json_obj_end(j);
    }
    mrd_json_arr_end(j);
    mrd_json_obj_end(j);
    mrd_json_obj_end(j);
    mrd_json_raw(j, "\n", 1);
}

void mrd_admin_error(struct mrd_admin_rsp *rsp, int status, const char *code, const char *msg)
{
    mrd_admin_error_details(rsp, status, code, msg, NULL, 0);
}

/* A body that did not fit (or ran out of memory) becomes a short 500 the client can read. */
static void rsp_check(struct mrd_admin_rsp *rsp)
{
    if (!rsp->body.err)
        return;
    int err = rsp->body.err;
    mrd_log_error("admin: response not built: %s", err == -E2BIG ? "larger than the bound"
                                                                  : "out of memory");
    mrd_admin_error(rsp, 500, "internal",
                    err == -E2BIG ? "the response is larger than the admin API's bound"
                                  : "out of memory while building the response");
}

/* ---- authentication ---- */

/* 1 if <req> carries "Authorization: Bearer <the token>" (or no token is configured). */
static bool auth_ok(const struct mrd_admin_req *req)
{
    if (!admin_st.token)
        return true;
    if (!req->has_auth)
        return false;
    const char *v = req->auth;
    size_t n = req->auth_len;
    if (n < 7 || strncasecmp(v, "bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t'))
        return false;
    v += 7, n -= 7;
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return mrd_admin_token_eq(v, n, admin_st.token, admin_st.token_len);
}

/* ---- routing ---- */

#define MAX_SEGS 8

struct route_path {
    const char *seg[MAX_SEGS]; /* into the request target, not decoded */
    size_t      len[MAX_SEGS];
    size_t      n;
    bool        too_deep;
};

/* Splits the path of <target> (before any '?') at '/'. false if it is not origin-form. */
static bool route_split(const char *target, size_t tlen, struct route_path *rp)
{
    const char *q = memchr(target, '?', tlen);
    size_t plen = q ? (size_t)(q - target) : tlen;

    memset(rp, 0, sizeof(*rp));
    if (!plen || target[0] != '/')
        return false;
    size_t i = 1;
    while (i <= plen) {
        const char *s = target + i;
        const char *e = memchr(s, '/', plen - i);
        size_t l = e ? (size_t)(e - s) : plen - i;
        if (rp->n == MAX_SEGS) {
            rp->too_deep = true;
            break;
        }
        rp->seg[rp->n] = s;
        rp->len[rp->n++] = l;
        i += l + 1;
    }
    return true;
}

static bool seg_is(const struct route_path *rp, size_t i, const char *lit)
{
    return i < rp->n && rp->len[i] == strlen(lit) && !memcmp(rp->seg[i], lit, rp->len[i]);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes a path segment into <out> (NUL-terminated). -1 on a bad escape, an
 * encoded NUL or a name longer than MRD_ADMIN_MAX_NAME. */
static int seg_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3)
                return -1;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h | l) == 0)
                return -1;
            c = h << 4 | l;
            i += 2;
        }
        if (o == MRD_ADMIN_MAX_NAME)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

static bool method_is(const struct mrd_admin_req *req, const char *m)
{
    return req->method_len == strlen(m) && !memcmp(req->method, m, req->method_len);
}

/* ---- endpoint helpers ---- */

static const char *steering_name(enum mrd_cfg_origin_steering s)
{
    switch (s) {
    case MRD_STEER_RANDOM: return "random";
    case MRD_STEER_ROUND_ROBIN: return "round_robin";
    case MRD_STEER_LOR: return "least_outstanding_requests";
    case MRD_STEER_LEAST_CONN: return "least_connections";
    case MRD_STEER_HASH: return "hash";
    }
    return "unknown";
}

static uint64_t workers_conns(void)
{
    uint64_t n = 0;
    for (int i = 0; admin_st.ctx.workers && i < admin_st.ctx.n_workers; i++)
        n += __atomic_load_n(&admin_st.ctx.workers[i].n_conns, __ATOMIC_RELAXED);
    return n;
}

/* What one origin's runtime state says, copied under its lock so the JSON is written
 * without holding it. */
struct origin_view {
    struct mrd_probe_result probes[MRD_PROBE_HISTORY]; /* newest first */
    unsigned                n_probes;
    char                    reason[128];
};

static void origin_view_take(const struct mrd_cfg_origin *o, struct origin_view *v)
{
    struct mrd_origin_rt *rt = o->rt;
    pthread_mutex_lock(&rt->lock);
    v->n_probes = rt->n_probes < MRD_PROBE_HISTORY ? rt->n_probes : MRD_PROBE_HISTORY;
    /* probe_head is where the next result goes, so the newest sits just before it */
    for (unsigned i = 0; i < v->n_probes; i++)
        v->probes[i] = rt->probes[(rt->probe_head + 2 * MRD_PROBE_HISTORY - 1 - i) %
                                  MRD_PROBE_HISTORY];
    memcpy(v->reason, rt->reason, sizeof(v->reason));
    v->reason[sizeof(v->reason) - 1] = '\0';
    pthread_mutex_unlock(&rt->lock);
}

static void origin_json(struct mrd_json *j, const struct mrd_cfg_origin *o, uint64_t now)
{
    struct mrd_origin_rt *rt = o->rt;
    struct origin_view v;
    uint64_t until = atomic_load_explicit(&rt->ejected_until_ms, memory_order_relaxed);
    int ov_en = atomic_load_explicit(&rt->admin_enabled, memory_order_relaxed);
    int ov_w = atomic_load_explicit(&rt->admin_weight, memory_order_relaxed);
    uint64_t ewma = atomic_load_explicit(&rt->rtt_ewma_us, memory_order_relaxed);

    origin_view_take(o, &v);
    mrd_json_obj(j);
    mrd_json_key(j, "name");
    mrd_json_str(j, o->name);
    mrd_json_key(j, "address");
    mrd_json_str(j, o->addr.text);
    mrd_json_key(j, "healthy");
    mrd_json_bool(j, mrd_origin_healthy(o, now));
    mrd_json_key(j, "enabled");
    mrd_json_bool(j, mrd_origin_enabled(o));
    mrd_json_key(j, "weight");
    mrd_json_uint(j, mrd_origin_weight(o));
    mrd_json_key(j, "draining");
    mrd_json_bool(j, atomic_load_explicit(&rt->draining, memory_order_relaxed));
    mrd_json_key(j, "usable");
    mrd_json_bool(j, mrd_origin_usable(o, now));
    mrd_json_key(j, "in_flight");
    mrd_json_int(j, atomic_load_explicit(&rt->in_flight, memory_order_relaxed));
    mrd_json_key(j, "tunnels");
    mrd_json_int(j, atomic_load_explicit(&rt->tunnels, memory_order_relaxed));
    /* rules[].websocket.auto_response: frames the gateway answered on its tunnels, and when
     * it last did (a liveness signal while the origin itself sees nothing) */
    uint64_t answered = 0, last = atomic_load_explicit(&rt->ws_answered_ms, memory_order_relaxed);
    for (int w = 0; w < MRD_MAX_WORKERS; w++)
        answered += __atomic_load_n(&rt->ctr[w].ws_answered, __ATOMIC_RELAXED);
    mrd_json_key(j, "ws_answered");
    mrd_json_uint(j, answered);
    mrd_json_key(j, "ws_last_answer_ms");
    if (last)
        mrd_json_uint(j, last);
    else
        mrd_json_null(j);
    mrd_json_key(j, "max_in_flight");
    mrd_json_uint(j, o->max_in_flight);
    mrd_json_key(j, "monitor_healthy");
    mrd_json_bool(j, atomic_load_explicit(&rt->mon_healthy, memory_order_relaxed));
    mrd_json_key(j, "ejected");
    mrd_json_bool(j, until > now);
    mrd_json_key(j, "ejected_for_ms");
    mrd_json_uint(j, until > now ? until - now : 0);
    mrd_json_key(j, "ejections");
    mrd_json_uint(j, atomic_load_explicit(&rt->ejections, memory_order_relaxed));
    mrd_json_key(j, "rtt_ewma_ms");
    if (ewma)
        mrd_json_num(j, (double)ewma / 1000.0);
    else
        mrd_json_null(j);
    mrd_json_key(j, "configured");
    mrd_json_obj(j);
    mrd_json_key(j, "enabled");
    mrd_json_bool(j, o->enabled);
    mrd_json_key(j, "weight");
    mrd_json_uint(j, o->weight);
    mrd_json_obj_end(j);
    mrd_json_key(j, "overrides");
    mrd_json_obj(j);
    mrd_json_key(j, "enabled");
    if (ov_en >= 0)
        mrd_json_bool(j, ov_en == 1);
    else
        mrd_json_null(j);
    mrd_json_key(j, "weight");
    if (ov_w >= 0)
        mrd_json_int(j, ov_w);
    else
        mrd_json_null(j);
    mrd_json_obj_end(j);
    mrd_json_key(j, "reason");
    mrd_json_str(j, v.reason);
    mrd_json_key(j, "last_probes");
    mrd_json_arr(j);
    for (unsigned i = 0; i < v.n_probes; i++) {
        const struct mrd_probe_result *p = &v.probes[i];
        mrd_json_obj(j);
        mrd_json_key(j, "ts");
        mrd_json_uint(j, p->ts_ms);
        mrd_json_key(j, "ok");
        mrd_json_bool(j, p->ok);
        mrd_json_key(j, "status");
        mrd_json_int(j, p->status);
        mrd_json_key(j, "rtt_ms");
        mrd_json_num(j, p->rtt_ms);
        mrd_json_key(j, "error");
        mrd_json_strn(j, p->error, strnlen(p->error, sizeof(p->error)));
        mrd_json_obj_end(j);
    }
    mrd_json_arr_end(j);
    mrd_json_obj_end(j);
}

static void pool_json(struct mrd_json *j, const struct mrd_cfg_pool *p, uint64_t now)
{
    uint32_t n_healthy = 0;
    for (size_t i = 0; i < p->n_origins; i++)
        n_healthy += mrd_origin_healthy(&p->origins[i], now);
    uint64_t ewma = atomic_load_explicit(&p->rt->rtt_ewma_us, memory_order_relaxed);

    mrd_json_obj(j);
    mrd_json_key(j, "name");
    mrd_json_str(j, p->name);
    mrd_json_key(j, "healthy");
    mrd_json_bool(j, mrd_pool_healthy(p, now));
    mrd_json_key(j, "minimum_origins");
    mrd_json_uint(j, p->minimum_origins ? p->minimum_origins : 1);
    mrd_json_key(j, "healthy_origins");
    mrd_json_uint(j, n_healthy);
    mrd_json_key(j, "monitor");
    mrd_json_str(j, p->monitor ? p->monitor->name : NULL);
    mrd_json_key(j, "origin_steering");
    mrd_json_str(j, steering_name(p->origin_steering));
    mrd_json_key(j, "rtt_ewma_ms");
    if (ewma)
        mrd_json_num(j, (double)ewma / 1000.0);
    else
        mrd_json_null(j);
    mrd_json_key(j, "origins");
    mrd_json_arr(j);
    for (size_t i = 0; i < p->n_origins; i++)
        origin_json(j, &p->origins[i], now);
    mrd_json_arr_end(j);
    mrd_json_obj_end(j);
}

static const struct mrd_cfg_pool *find_pool(const struct mrd_cfg *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_pools; i++)
        if (!strcmp(cfg->pools[i].name, name))
            return &cfg->pools[i];
    return NULL;
}

static const struct mrd_cfg_origin *find_origin(const struct mrd_cfg_pool *p, const char *name)
{
    for (size_t i = 0; i < p->n_origins; i++)
        if (!strcmp(p->origins[i].name, name))
            return &p->origins[i];
    return NULL;
}

/* ---- endpoints ---- */

static void ep_healthz(struct mrd_admin_rsp *rsp)
{
    mrd_json_raw(&rsp->body, "{\"status\":\"ok\"}\n", 16);
}

static void ep_status(struct mrd_admin_rsp *rsp, const struct mrd_cfg *cfg)
{
    struct mrd_json *j = &rsp->body;
    uint64_t now = mrd_rt_now_ms(), wall = mrd_rt_wall_ms();
    uint64_t tunnels = 0, pools_up = 0, origins_up = 0;

    for (size_t i = 0; cfg && i < cfg->n_pools; i++) {
        const struct mrd_cfg_pool *p = &cfg->pools[i];
        pools_up += mrd_pool_healthy(p, now);
        for (size_t k = 0; k < p->n_origins; k++) {
            int t = atomic_load_explicit(&p->origins[k].rt->tunnels, memory_order_relaxed);
            tunnels += t > 0 ? (uint64_t)t : 0;
            origins_up += mrd_origin_healthy(&p->origins[k], now);
        }
    }
    mrd_json_obj(j);
    mrd_json_key(j, "version");
    mrd_json_str(j, admin_st.ctx.version);
    mrd_json_key(j, "uptime_s");
    mrd_json_uint(j, wall > admin_st.ctx.start_wall_ms ? (wall - admin_st.ctx.start_wall_ms) / 1000
                                                       : 0);
    mrd_json_key(j, "generation");
    mrd_json_uint(j, cfg->generation);
    mrd_json_key(j, "workers");
    mrd_json_int(j, admin_st.ctx.n_workers);
    mrd_json_key(j, "connections");
    mrd_json_uint(j, workers_conns());
    mrd_json_key(j, "tunnels");
    mrd_json_uint(j, tunnels);
    mrd_json_key(j, "pools");
    mrd_json_uint(j, cfg->n_pools);
    mrd_json_key(j, "pools_healthy");
    mrd_json_uint(j, pools_up);
    mrd_json_key(j, "origins");
    mrd_json_uint(j, cfg->n_origins);
    mrd_json_key(j, "origins_healthy");
    mrd_json_uint(j, origins_up);
    mrd_json_key(j, "load_balancers");
    mrd_json_uint(j, cfg->n_lbs);
    mrd_json_key(j, "config_file");
    mrd_json_str(j, admin_st.ctx.config_path ? admin_st.ctx.config_path : cfg->file);
    mrd_json_key(j, "started_at_ms");
    mrd_json_uint(j, admin_st.ctx.start_wall_ms);
    mrd_json_obj_end(j);
    mrd_json_raw(j, "\n", 1);
}

static void ep_pools(struct mrd_admin_rsp *rsp, const struct mrd_cfg *cfg)
{
    struct mrd_json *j = &rsp->body;
    uint64_t now = mrd_rt_now_ms();

    mrd_json_obj(j);
    mrd_json_key(j, "generation");
    mrd_json_uint(j, cfg->generation);
    mrd_json_key(j, "pools");
    mrd_json_arr(j);
    for (size_t i = 0; i < cfg->n_pools; i++)
        pool_json(j, &cfg->pools[i], now);
    mrd_json_arr_end(j);
    mrd_json_obj_end(j);
    mrd_json_raw(j, "\n", 1);
}

static void ep_events(struct mrd_admin_rsp *rsp)
{
    enum { MAX_EVENTS = 1024 }; /* the size of the event ring */
    struct mrd_event_rec *ev = malloc(MAX_EVENTS * sizeof(*ev));
    struct mrd_json *j = &rsp->body;

    if (!ev) {
        mrd_admin_error(rsp, 500, "internal", "out of memory while copying events");
        return;
    }
    size_t n = mrd_events_copy(ev, MAX_EVENTS);
    mrd_json_obj(j);
    mrd_json_key(j, "events");
    mrd_json_arr(j);
    for (size_t i = 0; i < n; i++) {
        mrd_json_obj(j);
        mrd_json_key(j, "seq");
        mrd_json_uint(j, ev[i].seq);
        mrd_json_key(j, "ts");
        mrd_json_uint(j, ev[i].ts_ms);
        mrd_json_key(j, "kind");
        mrd_json_strn(j, ev[i].kind, strnlen(ev[i].kind, sizeof(ev[i].kind)));
        mrd_json_key(j, "message");
        mrd_json_strn(j, ev[i].msg, strnlen(ev[i].msg, sizeof(ev[i].msg)));
        mrd_json_obj_end(j);
    }
    mrd_json_arr_end(j);
    mrd_json_obj_end(j);
    mrd_json_raw(j, "\n", 1);
    free(ev);
}

static void ep_metrics(struct mrd_admin_rsp *rsp, const struct mrd_cfg *cfg)
{
    rsp->ctype = "text/plain; version=0.0.4; charset=utf-8";
    mrd_admin_metrics(&rsp->body, cfg, &admin_st.ctx);
}

static void ep_openapi(struct mrd_admin_rsp *rsp)
{
    mrd_json_raw(&rsp->body, mrd_admin_openapi, strlen(mrd_admin_openapi));
}

/* Applies a validated patch: every field is checked before the first store, so a request
 * either changes all it names or nothing. */
static void origin_apply(const struct mrd_cfg_origin *o, const struct mrd_admin_patch *pt)
{
    struct mrd_origin_rt *rt = o->rt;
    char what[160];
    size_t n = 0;

    what[0] = '\0';
    if (pt->has_enabled) {
        atomic_store(&rt->admin_enabled, pt->enabled);
        n += (size_t)snprintf(what + n, sizeof(what) - n, " enabled=%s",
                              pt->enabled < 0 ? "configured" : pt->enabled ? "true" : "false");
    }
    if (pt->has_weight) {
        atomic_store(&rt->admin_weight, pt->weight);
        if (pt->weight < 0)
            n += (size_t)snprintf(what + n, sizeof(what) - n, " weight=configured");
        else
            n += (size_t)snprintf(what + n, sizeof(what) - n, " weight=%d", pt->weight);
    }
    if (pt->has_drain) {
        atomic_store(&rt->draining, pt->drain);
        snprintf(what + n, sizeof(what) - n, " drain=%s", pt->drain ? "true" : "false");
    }
    mrd_log_info("admin: origin %s:%s", rt->key, what);
    mrd_event("admin", "origin %s:%s", rt->key, what);
}

/* GET, HEAD or PATCH /v1/pools/{pool}/origins/{origin}, or GET /v1/pools/{pool}. */
static void ep_pool_item(const struct mrd_admin_req *req, struct mrd_admin_rsp *rsp,
                         const struct mrd_cfg *cfg, const struct route_path *rp)
{
    char pname[MRD_ADMIN_MAX_NAME + 1], oname[MRD_ADMIN_MAX_NAME + 1];
    bool is_origin = rp->n == 5;
    bool patch = method_is(req, "PATCH");

    if (seg_decode(rp->seg[2], rp->len[2], pname) ||
        (is_origin && seg_decode(rp->seg[4], rp->len[4], oname))) {
        mrd_admin_error(rsp, 400, "bad_request", "a path segment has a bad percent-escape or "
                                                 "is longer than 256 bytes");
        return;
    }
    const struct mrd_cfg_pool *p = find_pool(cfg, pname);
    if (!p) {
        char msg[MRD_ADMIN_MAX_NAME + 64];
        snprintf(msg, sizeof(msg), "no pool named '%s' (see GET /v1/pools)", pname);
        mrd_admin_error(rsp, 404, "not_found", msg);
        return;
    }
    if (!is_origin) {
        pool_json(&rsp->body, p, mrd_rt_now_ms());
        mrd_json_raw(&rsp->body, "\n", 1);
        return;
    }
    const struct mrd_cfg_origin *o = find_origin(p, oname);
    if (!o) {
        char msg[2 * MRD_ADMIN_MAX_NAME + 64];
        snprintf(msg, sizeof(msg), "pool '%s' has no origin named '%s'", pname, oname);
        mrd_admin_error(rsp, 404, "not_found", msg);
        return;
    }
    if (patch) {
        struct mrd_admin_patch pt;
        if (req->has_ctype) {
            /* application/json, with parameters, or the merge-patch flavour of it */
            size_t l = req->ctype_len;
            const char *semi = memchr(req->ctype, ';', l);
            if (semi)
                l = (size_t)(semi - req->ctype);
            while (l && (req->ctype[l - 1] == ' ' || req->ctype[l - 1] == '\t'))
                l--;
            if (!((l == 16 && !strncasecmp(req->ctype, "application/json", 16)) ||
                  (l == 28 && !strncasecmp(req->ctype, "application/merge-patch+json", 28)))) {
                mrd_admin_error(rsp, 415, "unsupported_media_type",
                                "send the body as Content-Type: application/json");
                return;
            }
        }
        if (mrd_admin_parse_patch(req->body, req->body_len, &pt, rsp))
            return;
        origin_apply(o, &pt);
    }
    origin_json(&rsp->body, o, mrd_rt_now_ms());
    mrd_json_raw(&rsp->body, "\n", 1);
}

/* ---- the handler ---- */

enum route_id { R_NONE, R_HEALTHZ, R_STATUS, R_POOLS, R_POOL, R_ORIGIN, R_EVENTS, R_METRICS,
                R_OPENAPI };

static enum route_id route_find(const struct route_path *rp)
{
    if (rp->too_deep)
        return R_NONE;
    if (rp->n == 1) {
        if (seg_is(rp, 0, "healthz"))
            return R_HEALTHZ;
        if (seg_is(rp, 0, "metrics"))
            return R_METRICS;
        if (seg_is(rp, 0, "openapi.json"))
            return R_OPENAPI;
        return R_NONE;
    }
    if (!seg_is(rp, 0, "v1"))
        return R_NONE;
    if (rp->n == 2)
        return seg_is(rp, 1, "status") ? R_STATUS
               : seg_is(rp, 1, "pools") ? R_POOLS
               : seg_is(rp, 1, "events") ? R_EVENTS
                                         : R_NONE;
    if (!seg_is(rp, 1, "pools") || !rp->len[2])
        return R_NONE;
    if (rp->n == 3)
        return R_POOL;
    if (rp->n == 5 && seg_is(rp, 3, "origins") && rp->len[4])
        return R_ORIGIN;
    return R_NONE;
}

static void route_run(const struct mrd_admin_req *req, struct mrd_admin_rsp *rsp,
                      enum route_id r, const struct route_path *rp)
{
    struct mrd_cfg *cfg = NULL;

    if (r != R_HEALTHZ && r != R_EVENTS && r != R_OPENAPI && r != R_METRICS &&
        !(cfg = mrd_rt_current_cfg())) {
        mrd_admin_error(rsp, 503, "unavailable", "no configuration generation is live yet");
        return;
    }
    if (r == R_METRICS)
        cfg = mrd_rt_current_cfg(); /* may be NULL: process metrics still make sense */
    switch (r) {
    case R_HEALTHZ: ep_healthz(rsp); break;
    case R_STATUS: ep_status(rsp, cfg); break;
    case R_POOLS: ep_pools(rsp, cfg); break;
    case R_POOL:
    case R_ORIGIN: ep_pool_item(req, rsp, cfg, rp); break;
    case R_EVENTS: ep_events(rsp); break;
    case R_METRICS: ep_metrics(rsp, cfg); break;
    case R_OPENAPI: ep_openapi(rsp); break;
    case R_NONE: break;
    }
    mrd_cfg_unref(cfg);
}

void mrd_admin_handle(const struct mrd_admin_req *req, struct mrd_admin_rsp *rsp)
{
    struct route_path rp;

    if (!route_split(req->target, req->target_len, &rp)) {
        mrd_admin_error(rsp, 400, "bad_request", "the request target must be a path ('/...')");
        return;
    }
    enum route_id r = route_find(&rp);
    bool is_head = method_is(req, "HEAD");
    bool is_get = is_head || method_is(req, "GET");

    if (r != R_HEALTHZ && !auth_ok(req)) {
        rsp->auth_challenge = true;
        mrd_admin_error(rsp, 401, "unauthorized",
                        req->has_auth ? "the bearer token is not the admin token"
                                      : "send Authorization: Bearer <admin token>");
        return;
    }
    if (r == R_NONE) {
        mrd_admin_error(rsp, 404, "not_found", "no such endpoint (see GET /openapi.json)");
        return;
    }
    if (!is_get && !(r == R_ORIGIN && method_is(req, "PATCH"))) {
        rsp->allow = r == R_ORIGIN ? ALLOW_PATCH : ALLOW_GET;
        mrd_admin_error(rsp, 405, "method_not_allowed",
                        r == R_ORIGIN ? "this endpoint takes GET, HEAD or PATCH"
                                      : "this endpoint takes GET or HEAD");
        return;
    }
    route_run(req, rsp, r, &rp);
    rsp_check(rsp);
    rsp->no_body = is_head;
}
