/* Hashed timer wheel with lazy re-arming. Connections move their deadline on every
 * request; that is a field write here. The wheel entry only moves when the new
 * deadline is earlier than the slot it sits in, or when it fires early and re-arms. */
#ifndef MRD_CORE_TIMER_H
#define MRD_CORE_TIMER_H
#include <stdint.h>

#include "core/list.h"

#define MRD_TIMER_RES_MS 16    /* slot width */
#define MRD_TIMER_SLOTS  1024  /* one turn = 16.4 s; longer timers go round again */

struct mrd_timer;
typedef void (*mrd_timer_cb)(struct mrd_timer *t, uint64_t now_ms);

struct mrd_timer {
    struct mrd_list link;     /* in a slot while armed */
    uint64_t        slot_ms;  /* expiry the slot was chosen for */
    uint64_t        deadline; /* when to fire; 0 = disarmed */
    mrd_timer_cb    cb;
};

struct mrd_wheel {
    struct mrd_list slots[MRD_TIMER_SLOTS];
    uint64_t        cursor_ms; /* every slot before this time has been run */
    uint64_t        armed;     /* timers linked in slots */
};

void mrd_wheel_init(struct mrd_wheel *w, uint64_t now_ms);
void mrd_timer_init(struct mrd_timer *t, mrd_timer_cb cb);
/* Makes <t> fire at <deadline> (absolute ms; 0 disarms). Cheap when moving later. */
void mrd_timer_set(struct mrd_wheel *w, struct mrd_timer *t, uint64_t deadline);
/* Disarms <t>. */
void mrd_timer_stop(struct mrd_wheel *w, struct mrd_timer *t);
/* Fires every timer whose deadline is <= now; re-arms those whose deadline moved on. */
void mrd_wheel_run(struct mrd_wheel *w, uint64_t now_ms);
/* Milliseconds until the next non-empty slot (at most <cap>); -1 if nothing is armed. */
int mrd_wheel_next_ms(const struct mrd_wheel *w, uint64_t now_ms, int cap);
#endif
