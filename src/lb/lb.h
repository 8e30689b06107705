/* Routing (Host → load balancer → rules) and steering (pools → origin) for the request path. */
#ifndef MRD_LB_H
#define MRD_LB_H
#include <stdint.h>

#include "config/config-t.h"

struct mrd_module;
struct mrd_txn;
extern const struct mrd_module mrd_lb_module;

/* Chooses txn->pool/origin: the pinned origin of a session when it is up, else the first
 * healthy pool in policy order with a candidate (full pools spill to the next), else the
 * fallback pool, healthy origins first. Origins in txn->tried are skipped. With <only>, a
 * retry stays in that pool. 0, or -1 when nothing is left. */
int mrd_lb_steer(struct mrd_txn *txn, const struct mrd_cfg_pool *only);
/* xorshift64*: fast, per-worker, good enough for load spreading. */
uint64_t mrd_lb_rand(uint64_t *state);
#endif
