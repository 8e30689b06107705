/* Logging. The error log is written with one write() per line; access-log batches are
 * written under a mutex by whichever worker flushes. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum mrd_cfg_log_level mrd_log_level = MRD_LOG_INFO;
static int log_fd = 2;
static pthread_mutex_t accesslog_lock = PTHREAD_MUTEX_INITIALIZER;

static int log_open_target(const char *target)
{
    if (!strcmp(target, "stderr"))
        return 2;
    if (!strcmp(target, "stdout"))
        return 1;
    int fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int mrd_log_open(const char *target, enum mrd_cfg_log_level level)
{
    int fd = log_open_target(target);
    if (fd < 0)
        return fd;
    if (log_fd > 2 && log_fd != fd)
        close(log_fd);
    log_fd = fd;
    mrd_log_level = level;
    return 0;
}

void mrd_log_set_level(enum mrd_cfg_log_level level) { mrd_log_level = level; }

void mrd_log(enum mrd_cfg_log_level level, const char *fmt, ...)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    char line[1024];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (level < mrd_log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}

int mrd_accesslog_open(const char *target)
{
    if (!strcmp(target, "off"))
        return -1;
    int fd = log_open_target(target);
    return fd < 0 ? fd - 1000 : fd;
}

void mrd_accesslog_write(int fd, const char *buf, size_t len)
{
    pthread_mutex_lock(&accesslog_lock);
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* a full disk or closed pipe must never stall the data path */
        }
        buf += w;
        len -= (size_t)w;
    }
    pthread_mutex_unlock(&accesslog_lock);
}
