/* The admin API: JSON over HTTP/1.1 on admin.address, served by the control thread. */
#ifndef MRD_ADMIN_H
#define MRD_ADMIN_H
#include <stdint.h>

#include "config/config-t.h"
#include "core/loop.h"

struct mrd_worker;

struct mrd_admin_ctx {
    struct mrd_worker *workers;     /* for connection / tunnel counts */
    int                n_workers;
    uint64_t           start_wall_ms;
    const char        *version;     /* "0.1.0" */
    const char        *config_path;
};

/* Binds cfg->admin.addr (when cfg->admin.enabled) and serves it on <loop>. The token comes from
 * cfg->admin.token_file, else MERIDIAN_ADMIN_TOKEN. 0, or -errno with the reason logged. */
int mrd_admin_start(struct mrd_loop *loop, const struct mrd_cfg *cfg, const struct mrd_admin_ctx *ctx);
/* A reloaded generation: re-reads the token file. */
void mrd_admin_reload(const struct mrd_cfg *cfg);
void mrd_admin_stop(void);
#endif
