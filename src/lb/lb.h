/* Routing (Host → load balancer → rules) and origin steering inside a pool. */
#ifndef MRD_LB_H
#define MRD_LB_H
#include <stdint.h>

#include "config/config-t.h"

struct mrd_module;
extern const struct mrd_module mrd_lb_module;

/* Picks an enabled origin with weight > 0 from <pool>: smooth weighted round robin over
 * <rr> (one slot per origin) or weighted random from <rng>. Returns its index or -1. */
int mrd_lb_pick_origin(const struct mrd_cfg_pool *pool, int64_t *rr, uint64_t *rng);
/* xorshift64*: fast, per-worker, good enough for load spreading. */
uint64_t mrd_lb_rand(uint64_t *state);
#endif
