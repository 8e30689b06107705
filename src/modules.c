/* The ordered module table. A new subsystem adds its descriptor here, in phase order. */
#include "modules.h"

#include <stddef.h>

#include "lb/lb.h"
#include "proxy/accesslog.h"

const struct mrd_module *const mrd_modules[] = {
    &mrd_lb_module,
    &mrd_accesslog_module,
    NULL,
};

int mrd_modules_run(struct mrd_txn *txn, int phase)
{
    for (size_t i = 0; mrd_modules[i]; i++) {
        const struct mrd_module *m = mrd_modules[i];
        int (*hook)(struct mrd_txn *) = phase == MRD_HOOK_ROUTE    ? m->on_route
                                        : phase == MRD_HOOK_ACCESS ? m->on_access
                                        : phase == MRD_HOOK_STEER  ? m->on_steer
                                                                   : m->on_upgrade;
        if (hook && hook(txn) == MRD_PHASE_DONE)
            return MRD_PHASE_DONE;
    }
    return MRD_PHASE_NEXT;
}

void mrd_modules_log(struct mrd_txn *txn)
{
    for (size_t i = 0; mrd_modules[i]; i++)
        if (mrd_modules[i]->on_log)
            mrd_modules[i]->on_log(txn);
}
