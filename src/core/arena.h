/* Per-request and per-config bump allocator: many small allocations, one free.
 * Chunks come from malloc; a chunk bigger than the default is allocated on its own. */
#ifndef MRD_CORE_ARENA_H
#define MRD_CORE_ARENA_H
#include <stddef.h>

struct mrd_arena_chunk;

struct mrd_arena {
    struct mrd_arena_chunk *head;  /* owned list, newest first */
    size_t                  chunk; /* default chunk payload size */
    size_t                  total; /* bytes handed out, for limits and tests */
};

/* Prepares <a> with <chunk>-byte chunks; allocates nothing yet. */
void mrd_arena_init(struct mrd_arena *a, size_t chunk);
/* Returns <n> bytes aligned to 16, or NULL when malloc fails. */
void *mrd_arena_alloc(struct mrd_arena *a, size_t n);
/* Returns zeroed memory for <n> bytes, or NULL. */
void *mrd_arena_calloc(struct mrd_arena *a, size_t n);
/* Copies <n> bytes of <s> and a NUL; NULL on failure. */
char *mrd_arena_strndup(struct mrd_arena *a, const char *s, size_t n);
char *mrd_arena_strdup(struct mrd_arena *a, const char *s);
/* Frees every chunk but keeps the first one for reuse (a keep-alive connection's next request). */
void mrd_arena_reset(struct mrd_arena *a);
/* Frees everything. */
void mrd_arena_free(struct mrd_arena *a);
#endif
