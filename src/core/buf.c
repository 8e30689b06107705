/* The buffer pool; see buf.h. With MRD_POOL_MALLOC (sanitizer builds) every get/put is a
 * real malloc/free so ASan sees each buffer's lifetime. */
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

struct mrd_buf *mrd_buf_get(struct mrd_buf_pool *p)
{
    struct mrd_buf *b = p->free;

    if (b) {
        p->free = b->next_free;
        p->n_free--;
    } else {
        b = malloc(sizeof(*b));
        if (!b) {
            p->alloc_failures++;
            return NULL;
        }
    }
    b->next_free = NULL;
    b->head = b->tail = 0;
    p->allocated++;
    return b;
}

void mrd_buf_put(struct mrd_buf_pool *p, struct mrd_buf *b)
{
    if (!b)
        return;
    p->allocated--;
#ifndef MRD_POOL_MALLOC
    if (p->n_free < MRD_BUF_POOL_MAX) {
        b->next_free = p->free;
        p->free = b;
        p->n_free++;
        return;
    }
#endif
    free(b);
}

void mrd_buf_pool_drain(struct mrd_buf_pool *p)
{
    while (p->free) {
        struct mrd_buf *b = p->free;
        p->free = b->next_free;
        free(b);
    }
    p->n_free = 0;
}

void mrd_buf_compact(struct mrd_buf *b)
{
    if (b->head == 0)
        return;
    uint32_t n = b->tail - b->head;
    if (n)
        memmove(b->data, b->data + b->head, n);
    b->head = 0;
    b->tail = n;
}
