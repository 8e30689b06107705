/* Active health: monitors probe every origin of every pool that names one, from the control
 * thread, without blocking, and publish the result in the origin's runtime state. */
#ifndef MRD_HEALTH_MONITOR_H
#define MRD_HEALTH_MONITOR_H
#include "config/config-t.h"
#include "core/loop.h"

/* Starts probing the origins of <cfg> on <loop>. 0 or -errno. */
int mrd_monitors_start(struct mrd_loop *loop, struct mrd_cfg *cfg);
/* Switches to a new generation: origins that still exist keep their state and schedule. */
void mrd_monitors_reload(struct mrd_cfg *cfg);
void mrd_monitors_stop(void);
#endif
