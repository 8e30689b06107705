/* The timer wheel; see timer.h for the lazy re-arm scheme. */
#include "core/timer.h"

static struct mrd_list *wheel_slot(struct mrd_wheel *w, uint64_t ms)
{
    return &w->slots[(ms / MRD_TIMER_RES_MS) % MRD_TIMER_SLOTS];
}

void mrd_wheel_init(struct mrd_wheel *w, uint64_t now_ms)
{
    for (int i = 0; i < MRD_TIMER_SLOTS; i++)
        mrd_list_init(&w->slots[i]);
    w->cursor_ms = now_ms - now_ms % MRD_TIMER_RES_MS;
    w->armed = 0;
}

void mrd_timer_init(struct mrd_timer *t, mrd_timer_cb cb)
{
    mrd_list_init(&t->link);
    t->slot_ms = 0;
    t->deadline = 0;
    t->cb = cb;
}

static void wheel_link(struct mrd_wheel *w, struct mrd_timer *t)
{
    uint64_t at = t->deadline;
    if (at < w->cursor_ms)
        at = w->cursor_ms; /* already due: the next run picks it up */
    t->slot_ms = at;
    mrd_list_add_tail(wheel_slot(w, at), &t->link);
    w->armed++;
}

void mrd_timer_set(struct mrd_wheel *w, struct mrd_timer *t, uint64_t deadline)
{
    if (!deadline) {
        mrd_timer_stop(w, t);
        return;
    }
    if (mrd_list_linked(&t->link)) {
        t->deadline = deadline;
        if (deadline >= t->slot_ms)
            return; /* fires early, then re-arms itself */
        mrd_list_del(&t->link);
        w->armed--;
    }
    t->deadline = deadline;
    wheel_link(w, t);
}

void mrd_timer_stop(struct mrd_wheel *w, struct mrd_timer *t)
{
    if (mrd_list_linked(&t->link)) {
        mrd_list_del(&t->link);
        w->armed--;
    }
    t->deadline = 0;
}

void mrd_wheel_run(struct mrd_wheel *w, uint64_t now_ms)
{
    /* Walk every slot from the cursor up to now, at most one full turn. */
    uint64_t end = now_ms - now_ms % MRD_TIMER_RES_MS;
    uint64_t steps = (end - w->cursor_ms) / MRD_TIMER_RES_MS + 1;
    if (end < w->cursor_ms)
        return;
    if (steps > MRD_TIMER_SLOTS)
        steps = MRD_TIMER_SLOTS;
    /* The cursor moves to the last slot first: a timer armed already due by a callback
     * lands there and fires in this run, not in a slot this run has passed. */
    w->cursor_ms = end;
    if (!w->armed)
        return;
    for (uint64_t s = 0; s < steps; s++) {
        uint64_t slot_time = end - (steps - 1 - s) * MRD_TIMER_RES_MS;
        struct mrd_list *head = wheel_slot(w, slot_time);
        struct mrd_list pending;

        /* Detach the slot first: callbacks may arm timers into this same slot. */
        if (mrd_list_empty(head))
            continue;
        pending = *head;
        pending.next->prev = &pending;
        pending.prev->next = &pending;
        mrd_list_init(head);
        while (!mrd_list_empty(&pending)) {
            struct mrd_timer *t = MRD_CONTAINER_OF(pending.next, struct mrd_timer, link);
            mrd_list_del(&t->link);
            w->armed--;
            if (t->deadline && t->deadline <= now_ms) {
                t->deadline = 0;
                t->cb(t, now_ms);
            } else if (t->deadline) {
                wheel_link(w, t);
            }
        }
    }
}

int mrd_wheel_next_ms(const struct mrd_wheel *w, uint64_t now_ms, int cap)
{
    if (!w->armed)
        return -1;
    uint64_t base = now_ms - now_ms % MRD_TIMER_RES_MS;
    int max_slots = cap / MRD_TIMER_RES_MS + 1;
    for (int i = 0; i < max_slots && i < MRD_TIMER_SLOTS; i++) {
        uint64_t at = base + (uint64_t)i * MRD_TIMER_RES_MS;
        const struct mrd_list *head = &w->slots[(at / MRD_TIMER_RES_MS) % MRD_TIMER_SLOTS];
        if (!mrd_list_empty(head)) {
            uint64_t due = at + MRD_TIMER_RES_MS;
            return due <= now_ms ? 0 : (int)(due - now_ms);
        }
    }
    return cap;
}
