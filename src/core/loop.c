/* The epoll loop: waits, dispatches to io callbacks, then runs due timers. */
#include "core/loop.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256
#define LOOP_MAX_WAIT_MS 1000

uint64_t mrd_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t mrd_clock_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int mrd_loop_init(struct mrd_loop *l)
{
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return -errno;
    l->now_ms = mrd_clock_ms();
    l->stop = 0;
    mrd_wheel_init(&l->wheel, l->now_ms);
    return 0;
}

void mrd_loop_close(struct mrd_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

int mrd_loop_add(struct mrd_loop *l, struct mrd_io *io, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = io };
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) ? -errno : 0;
}

int mrd_loop_mod(struct mrd_loop *l, struct mrd_io *io, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = io };
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) ? -errno : 0;
}

int mrd_loop_del(struct mrd_loop *l, struct mrd_io *io)
{
    return epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL) ? -errno : 0;
}

void mrd_loop_run(struct mrd_loop *l, void (*tick)(struct mrd_loop *l, void *arg), void *arg)
{
    struct epoll_event evs[LOOP_MAX_EVENTS];

    while (!l->stop) {
        int timeout = mrd_wheel_next_ms(&l->wheel, l->now_ms, LOOP_MAX_WAIT_MS);
        if (timeout < 0)
            timeout = LOOP_MAX_WAIT_MS;
        int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout);
        l->now_ms = mrd_clock_ms();
        for (int i = 0; i < n; i++) {
            struct mrd_io *io = evs[i].data.ptr;
            /* An object closed earlier in this batch keeps its memory until the batch is
             * over (see the owners' graveyards); its fd is -1 by then. */
            if (io->fd >= 0)
                io->cb(io, evs[i].events);
        }
        mrd_wheel_run(&l->wheel, l->now_ms);
        if (tick)
            tick(l, arg);
    }
}
