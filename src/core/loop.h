/* One edge-triggered epoll loop per thread, with its timer wheel and cached clock. */
#ifndef MRD_CORE_LOOP_H
#define MRD_CORE_LOOP_H
#include <stdint.h>
#include <sys/epoll.h>

#include "core/timer.h"

struct mrd_io;
typedef void (*mrd_io_cb)(struct mrd_io *io, uint32_t events);

/* Embedded in every object that owns a file descriptor. */
struct mrd_io {
    int       fd;
    mrd_io_cb cb;
};

struct mrd_loop {
    int              epfd;
    uint64_t         now_ms;  /* CLOCK_MONOTONIC, refreshed after each epoll_wait */
    struct mrd_wheel wheel;
    int              stop;    /* set to leave mrd_loop_run */
};

/* Monotonic milliseconds (vDSO clock_gettime, no syscall). */
uint64_t mrd_clock_ms(void);
/* Wall clock in microseconds since the epoch, for logs. */
uint64_t mrd_clock_wall_us(void);

int mrd_loop_init(struct mrd_loop *l);
void mrd_loop_close(struct mrd_loop *l);
/* Registers <io> edge-triggered for <events> (EPOLLIN|EPOLLOUT|EPOLLRDHUP...). 0 or -errno. */
int mrd_loop_add(struct mrd_loop *l, struct mrd_io *io, uint32_t events);
int mrd_loop_mod(struct mrd_loop *l, struct mrd_io *io, uint32_t events);
int mrd_loop_del(struct mrd_loop *l, struct mrd_io *io);
/* Runs until l->stop; calls <tick> after every wake-up when non-NULL. */
void mrd_loop_run(struct mrd_loop *l, void (*tick)(struct mrd_loop *l, void *arg), void *arg);
#endif
