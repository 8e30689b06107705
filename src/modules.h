/* The ordered module table: each subsystem plugs into the request path through one
 * descriptor, and the proxy core runs the hooks in table order. */
#ifndef MRD_MODULES_H
#define MRD_MODULES_H
#include "config/config-t.h"
#include "proxy/txn.h"

struct mrd_module {
    const char *name;
    /* Phase hooks; NULL when unused. A hook returns MRD_PHASE_NEXT or MRD_PHASE_DONE (it
     * answered the request with mrd_txn_respond). */
    int (*on_route)(struct mrd_txn *txn);   /* host → load balancer, rules */
    int (*on_access)(struct mrd_txn *txn);  /* shield: limits, challenge (later) */
    int (*on_steer)(struct mrd_txn *txn);   /* pools → origin */
    /* A request asking for a protocol switch (Upgrade + Connection: upgrade). A module that
     * takes it returns MRD_PHASE_DONE and owns the tunnel once the origin answers 101; when
     * none does, the request goes on as plain HTTP without its Upgrade header. */
    int (*on_upgrade)(struct mrd_txn *txn);
    void (*on_log)(struct mrd_txn *txn);    /* after the response */
};

extern const struct mrd_module *const mrd_modules[];

/* Runs the hook at <offset> of every module in order; stops at the first MRD_PHASE_DONE. */
int mrd_modules_run(struct mrd_txn *txn, int phase);
void mrd_modules_log(struct mrd_txn *txn);

enum { MRD_HOOK_ROUTE, MRD_HOOK_ACCESS, MRD_HOOK_STEER, MRD_HOOK_UPGRADE };
#endif
