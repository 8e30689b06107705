/* Unit tests of src/core/buf: the per-worker buffer pool (get/put/reuse/cap/drain and
 * its counters) and compaction. Sanitizer builds define MRD_POOL_MALLOC, where every put
 * frees, so the reuse checks adapt. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "test.h"

#ifdef MRD_POOL_MALLOC
#define POOLED 0
#else
#define POOLED 1
#endif

static void test_get_put(void)
{
    struct mrd_buf_pool p = { 0 };
    struct mrd_buf *a = mrd_buf_get(&p);
    CHECK(a != NULL);
    if (!a)
        return;
    CHECK_EQ_INT(a->head, 0);
    CHECK_EQ_INT(a->tail, 0);
    CHECK(a->next_free == NULL);
    CHECK_EQ_INT(mrd_buf_len(a), 0);
    CHECK_EQ_INT(mrd_buf_room(a), MRD_BUF_SIZE);
    CHECK_EQ_INT(p.allocated, 1);
    CHECK_EQ_INT(p.n_free, 0);
    /* the whole data area is usable */
    memset(a->data, 'x', MRD_BUF_SIZE);
    a->tail = MRD_BUF_SIZE;
    a->head = 100;
    CHECK_EQ_INT(mrd_buf_len(a), MRD_BUF_SIZE - 100);
    CHECK_EQ_INT(mrd_buf_room(a), 0);

    mrd_buf_put(&p, a);
    CHECK_EQ_INT(p.allocated, 0);
    CHECK_EQ_INT(p.n_free, POOLED);
    /* reuse: the same buffer comes back, reset */
    struct mrd_buf *b = mrd_buf_get(&p);
    CHECK(b != NULL);
    if (POOLED)
        CHECK(b == a);
    CHECK_EQ_INT(b->head, 0);
    CHECK_EQ_INT(b->tail, 0);
    CHECK(b->next_free == NULL);
    CHECK_EQ_INT(p.n_free, 0);
    CHECK_EQ_INT(p.allocated, 1);
    mrd_buf_put(&p, NULL); /* harmless */
    CHECK_EQ_INT(p.allocated, 1);
    mrd_buf_put(&p, b);
    mrd_buf_pool_drain(&p);
    CHECK_EQ_INT(p.n_free, 0);
    CHECK(p.free == NULL);
    CHECK_EQ_INT(p.allocated, 0);
    CHECK_EQ_INT(p.alloc_failures, 0);
    mrd_buf_pool_drain(&p); /* empty: harmless */
    CHECK_EQ_INT(p.n_free, 0);
}

static void test_lifo_and_cap(void)
{
    enum { N = MRD_BUF_POOL_MAX + 10 };
    static struct mrd_buf *v[N];
    struct mrd_buf_pool p = { 0 };

    for (int i = 0; i < N; i++) {
        v[i] = mrd_buf_get(&p);
        CHECK(v[i] != NULL);
        if (!v[i])
            return;
        v[i]->tail = (uint32_t)i; /* dirty it */
    }
    CHECK_EQ_INT(p.allocated, N);
    /* all distinct */
    int dup = 0;
    for (int i = 1; i < N; i++)
        dup += v[i] == v[i - 1];
    CHECK_EQ_INT(dup, 0);
    for (int i = 0; i < N; i++)
        mrd_buf_put(&p, v[i]);
    CHECK_EQ_INT(p.allocated, 0);
    CHECK_EQ_INT(p.n_free, POOLED ? MRD_BUF_POOL_MAX : 0); /* the rest went back to malloc */
    /* the free list holds exactly n_free entries */
    uint32_t n = 0;
    for (struct mrd_buf *b = p.free; b && n <= MRD_BUF_POOL_MAX; b = b->next_free)
        n++;
    CHECK_EQ_INT(n, p.n_free);
    if (POOLED) {
        /* LIFO: the last pooled buffer is handed out first (cache-warm) */
        struct mrd_buf *b = mrd_buf_get(&p);
        CHECK(b == v[MRD_BUF_POOL_MAX - 1]);
        CHECK_EQ_INT(b->tail, 0);
        CHECK_EQ_INT(p.n_free, MRD_BUF_POOL_MAX - 1);
        mrd_buf_put(&p, b);
    }
    /* take them all again: nothing new is needed up to n_free */
    uint32_t had = p.n_free;
    for (uint32_t i = 0; i < had; i++)
        v[i] = mrd_buf_get(&p);
    CHECK_EQ_INT(p.n_free, 0);
    CHECK(p.free == NULL);
    CHECK_EQ_INT(p.allocated, had);
    for (uint32_t i = 0; i < had; i++)
        mrd_buf_put(&p, v[i]);
    mrd_buf_pool_drain(&p);
    CHECK_EQ_INT(p.n_free, 0);
    CHECK(p.free == NULL);
}

static void test_compact(void)
{
    struct mrd_buf_pool p = { 0 };
    struct mrd_buf *b = mrd_buf_get(&p);
    CHECK(b != NULL);
    if (!b)
        return;
    /* nothing consumed: no-op */
    memcpy(b->data, "hello world", 11);
    b->tail = 11;
    mrd_buf_compact(b);
    CHECK_EQ_INT(b->head, 0);
    CHECK_EQ_INT(b->tail, 11);
    CHECK(memcmp(b->data, "hello world", 11) == 0);
    /* partly consumed: the rest moves to the front */
    b->head = 6;
    mrd_buf_compact(b);
    CHECK_EQ_INT(b->head, 0);
    CHECK_EQ_INT(b->tail, 5);
    CHECK(memcmp(b->data, "world", 5) == 0);
    CHECK_EQ_INT(mrd_buf_room(b), MRD_BUF_SIZE - 5);
    /* all consumed: empty */
    b->head = 5;
    mrd_buf_compact(b);
    CHECK_EQ_INT(b->head, 0);
    CHECK_EQ_INT(b->tail, 0);
    CHECK_EQ_INT(mrd_buf_len(b), 0);
    /* overlapping move of a full buffer */
    for (uint32_t i = 0; i < MRD_BUF_SIZE; i++)
        b->data[i] = (char)(i * 7);
    b->head = 3;
    b->tail = MRD_BUF_SIZE;
    mrd_buf_compact(b);
    CHECK_EQ_INT(b->tail, MRD_BUF_SIZE - 3);
    int bad = 0;
    for (uint32_t i = 0; i < MRD_BUF_SIZE - 3; i++)
        bad += b->data[i] != (char)((i + 3) * 7);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(mrd_buf_room(b), 3);
    mrd_buf_put(&p, b);
    mrd_buf_pool_drain(&p);
}

TEST_MAIN(test_get_put(); test_lifo_and_cap(); test_compact())
