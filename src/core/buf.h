/* Fixed-size I/O buffers from a per-thread free list. A connection holds a buffer only
 * while bytes are in flight; idle connections hold none. The list is capped
 * (MRD_BUF_POOL_MAX) so memory goes back to malloc after a burst. */
#ifndef MRD_CORE_BUF_H
#define MRD_CORE_BUF_H
#include <stddef.h>
#include <stdint.h>

#define MRD_BUF_SIZE     (72 * 1024) /* a 64 KiB body and its head in one read: big reads halve syscalls */
#define MRD_BUF_POOL_MAX 256         /* free buffers kept per worker (16 MiB) */

struct mrd_buf {
    struct mrd_buf *next_free; /* free-list link while pooled */
    uint32_t        head;      /* first unconsumed byte */
    uint32_t        tail;      /* first free byte */
    char            data[MRD_BUF_SIZE];
};

struct mrd_buf_pool {
    struct mrd_buf *free;
    uint32_t        n_free;
    uint64_t        allocated; /* live buffers (in use), for metrics and leak tests */
    uint64_t        alloc_failures;
};

/* Takes an empty buffer; NULL when memory is exhausted (the caller fails one request). */
struct mrd_buf *mrd_buf_get(struct mrd_buf_pool *p);
/* Returns <b> to the pool; safe on NULL. */
void mrd_buf_put(struct mrd_buf_pool *p, struct mrd_buf *b);
/* Frees every pooled buffer. */
void mrd_buf_pool_drain(struct mrd_buf_pool *p);

static inline uint32_t mrd_buf_len(const struct mrd_buf *b) { return b->tail - b->head; }
static inline uint32_t mrd_buf_room(const struct mrd_buf *b) { return MRD_BUF_SIZE - b->tail; }
/* Moves unconsumed bytes to the front so the room at the end is as large as possible. */
void mrd_buf_compact(struct mrd_buf *b);
#endif
