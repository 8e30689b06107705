/* Error log with levels (one line per message, timestamped) and the buffered access log. */
#ifndef MRD_CORE_LOG_H
#define MRD_CORE_LOG_H
#include <stddef.h>

#include "config/config-t.h"

/* Opens the error log target ("stderr", "stdout" or a path) at <level>. 0 or -errno. */
int mrd_log_open(const char *target, enum mrd_cfg_log_level level);
void mrd_log_set_level(enum mrd_cfg_log_level level);
void mrd_log(enum mrd_cfg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define mrd_log_debug(...) mrd_log(MRD_LOG_DEBUG, __VA_ARGS__)
#define mrd_log_info(...)  mrd_log(MRD_LOG_INFO, __VA_ARGS__)
#define mrd_log_warn(...)  mrd_log(MRD_LOG_WARN, __VA_ARGS__)
#define mrd_log_error(...) mrd_log(MRD_LOG_ERROR, __VA_ARGS__)
extern enum mrd_cfg_log_level mrd_log_level;

/* Access log: "stdout", "stderr", "off" or a path (O_APPEND). Returns an fd, -1 for off,
 * or -errno - 1000 on failure (so callers can tell "off" from an error). */
int mrd_accesslog_open(const char *target);
/* Writes <len> bytes of whole lines to <fd> under a process-wide lock, so workers' lines
 * never interleave. */
void mrd_accesslog_write(int fd, const char *buf, size_t len);
#endif
