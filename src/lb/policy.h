/* Steering policies as pure functions: which origin of a pool, which order of pools, whether
 * a retry may go, how long an ejection lasts, the latency average and the affinity id. The
 * clock (now_ms) and the RNG state (xorshift64*, mrd_lb_rand) are always passed in, so every
 * decision can be replayed by a unit test. Load and health come from health/state.h. */
#ifndef MRD_LB_POLICY_H
#define MRD_LB_POLICY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h"

struct mrd_geo_info; /* geo/geo.h */

/* An order of pools holds at most this many (load balancers name far fewer); the sorting
 * policies keep the best ones when more are given. */
#define MRD_POLICY_MAX_POOLS 64

/* Everything one origin pick needs besides the pool. */
struct mrd_pick {
    uint64_t now_ms;         /* monotonic, for passive ejections */
    uint64_t *rng;           /* xorshift64* state (mrd_lb_rand); must not be NULL */
    int64_t *rr;             /* round_robin: one slot per origin; NULL = weighted random */
    uint64_t key;            /* hash: hash of the client IP or of the affinity key */
    const uint32_t *exclude; /* flat indices (mrd_cfg_origin.flat) already tried */
    size_t n_exclude;
    bool ignore_health; /* fallback pool: health and ejections do not count */
};

/* Picks an origin of <pool> with the pool's origin_steering. A candidate is usable at
 * pk->now_ms (or, with ignore_health, enabled with weight > 0 and not draining), below its
 * max_in_flight and not in pk->exclude. Returns its index in pool->origins, -1 if none.
 *   random             weighted random
 *   round_robin        smooth weighted round robin over pk->rr
 *   least_outstanding  two distinct weighted draws, the lower in_flight/weight wins (tie: first)
 *   least_connections  lowest (in_flight + tunnels)/weight, ties at random
 *   hash               weighted rendezvous hashing of pk->key with bounded load: the best
 *                      scored origin whose load is below ceil(1.25 * (total + 1) / candidates),
 *                      else the best scored one */
int mrd_policy_pick_origin(const struct mrd_cfg_pool *pool, const struct mrd_pick *pk);

/* Orders the candidate pools of one request with lb->steering_policy. <pools>/<n> is the base
 * order: the matched rule's pools (<from_rule>) or lb->default_pools (NULL means the latter).
 * <geo> is the client's location, NULL when unknown; geo maps apply only when !from_rule.
 * Writes up to min(cap, MRD_POLICY_MAX_POOLS) pools into <out>; returns the count.
 *   off              base order
 *   random           first pool drawn by random_steering weights (0 = never first), then the
 *                    rest of the base order
 *   geo              country_pools[country], else region_pools[region], else the base order
 *   proximity        by great-circle distance to the client, pools without coordinates last;
 *                    base order when the client has no coordinates
 *   dynamic_latency  by pool rtt_ewma_us, only when every pool has data; else base order
 *   lor / least_conn by sum of in_flight (+ tunnels) over sum of weights of usable origins;
 *                    pools without a usable origin last
 * Every sort is stable (ties keep the base order). */
size_t mrd_policy_order_pools(const struct mrd_cfg_lb *lb, const struct mrd_cfg_pool *const *pools,
                              size_t n, bool from_rule, const struct mrd_geo_info *geo,
                              uint64_t now_ms, uint64_t *rng, const struct mrd_cfg_pool **out,
                              size_t cap);

/* How far an upstream attempt got; decides whether it may be replayed elsewhere. */
enum mrd_attempt_state {
    MRD_ATTEMPT_NOT_SENT,         /* no request byte left us: always safe to retry */
    MRD_ATTEMPT_SENT_NO_RESPONSE, /* sent, no response byte yet: only idempotent methods */
    MRD_ATTEMPT_RESPONSE_STARTED, /* the client may have seen bytes: never */
};

/* "not_sent", "sent_no_response", "response_started" ("unknown" otherwise). */
const char *mrd_attempt_state_name(enum mrd_attempt_state st);
/* Whether an attempt that ended in <st> may be retried: any method when not sent; the RFC
 * 9110 idempotent methods (GET HEAD OPTIONS TRACE PUT DELETE, case-sensitive) when sent
 * without a response; never once the response started. */
bool mrd_retry_allowed(enum mrd_attempt_state st, const char *method);
/* Retry budget, as Envoy's: a retry may start while active_retries < max(10, active_requests *
 * budget_percent / 100). The floor of 10 concurrent retries lets a quiet load balancer still
 * retry; the percentage keeps a busy one from doubling its load on a bad origin. A budget of
 * 0 turns retries off. */
bool mrd_retry_budget_ok(int active_requests, int active_retries, unsigned budget_percent);
/* Length of ejection number <n> (1-based): n x base_ms, at most max_ms; 0 for n == 0. */
uint64_t mrd_ejection_ms(unsigned n, uint64_t base_ms, uint64_t max_ms);
/* Latency average with alpha 1/4: no data yet (0) takes the sample; never returns 0, which
 * would read as "no data". */
uint64_t mrd_ewma_us(uint64_t old_us, uint64_t sample_us);

/* Session affinity: an origin is named by a 64-bit id (XXH64 of "pool/origin"), stable across
 * reloads and nodes as long as the names are, and carried as 16 lower-case hex digits. */
#define MRD_AFFINITY_HEX_LEN 16

uint64_t mrd_affinity_id(const struct mrd_cfg_pool *p, const struct mrd_cfg_origin *o);
/* Index of the origin of <p> with affinity id <id>, -1 if none. */
int mrd_policy_find_origin(const struct mrd_cfg_pool *p, uint64_t id);
/* Writes the 16 hex digits and a NUL into <out>. */
void mrd_affinity_encode(uint64_t id, char out[MRD_AFFINITY_HEX_LEN + 1]);
/* Parses exactly 16 lower-case hex digits from <s>/<len>; 0, or -1 for anything else. */
int mrd_affinity_decode(const char *s, size_t len, uint64_t *id);
#endif
