/* Bump allocator over malloc'ed chunks; see arena.h. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mrd_arena_chunk {
    struct mrd_arena_chunk *next;
    size_t                  size; /* payload bytes */
    size_t                  used;
    _Alignas(16) unsigned char data[];
};

void mrd_arena_init(struct mrd_arena *a, size_t chunk)
{
    a->head = NULL;
    a->chunk = chunk ? chunk : 4096;
    a->total = 0;
}

void *mrd_arena_alloc(struct mrd_arena *a, size_t n)
{
    struct mrd_arena_chunk *c = a->head;
    size_t need = (n + 15) & ~(size_t)15;

    if (need < n || need > SIZE_MAX / 2)
        return NULL; /* overflow, or a size no malloc can meet */
    if (!c || c->size - c->used < need) {
        size_t size = need > a->chunk ? need : a->chunk;
        c = malloc(sizeof(*c) + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        /* An oversized chunk goes behind the current one so the current keeps filling. */
        if (a->head && size > a->chunk) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    return p;
}

void *mrd_arena_calloc(struct mrd_arena *a, size_t n)
{
    void *p = mrd_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *mrd_arena_strndup(struct mrd_arena *a, const char *s, size_t n)
{
    char *p = mrd_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *mrd_arena_strdup(struct mrd_arena *a, const char *s)
{
    return mrd_arena_strndup(a, s, strlen(s));
}

void mrd_arena_reset(struct mrd_arena *a)
{
    struct mrd_arena_chunk *keep = NULL, *c = a->head, *next;

    for (; c; c = next) {
        next = c->next;
        if (!keep && c->size == a->chunk) {
            keep = c;
            continue;
        }
        free(c);
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
    a->total = 0;
}

void mrd_arena_free(struct mrd_arena *a)
{
    struct mrd_arena_chunk *c = a->head, *next;
    for (; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->total = 0;
}
