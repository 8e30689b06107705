/* Intrusive doubly-linked circular lists (the kernel/HAProxy idiom). */
#ifndef MRD_CORE_LIST_H
#define MRD_CORE_LIST_H
#include <stddef.h>

struct mrd_list {
    struct mrd_list *next, *prev;
};

#define MRD_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void mrd_list_init(struct mrd_list *l) { l->next = l->prev = l; }
static inline int mrd_list_empty(const struct mrd_list *l) { return l->next == l; }
/* 1 if <e> is linked somewhere (init'ed elements point to themselves). */
static inline int mrd_list_linked(const struct mrd_list *e) { return e->next != e; }

static inline void mrd_list_add_tail(struct mrd_list *head, struct mrd_list *e)
{
    e->prev = head->prev;
    e->next = head;
    head->prev->next = e;
    head->prev = e;
}

static inline void mrd_list_add_head(struct mrd_list *head, struct mrd_list *e)
{
    e->next = head->next;
    e->prev = head;
    head->next->prev = e;
    head->next = e;
}

/* Unlinks <e> and leaves it self-linked, so a second del is harmless. */
static inline void mrd_list_del(struct mrd_list *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->next = e->prev = e;
}
#endif
