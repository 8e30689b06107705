/* Access log module: formats one JSON line per transaction into the worker's batch
 * (MRD_ALOG_BATCH bytes), written when full and by the worker's 200 ms tick. */
#include "proxy/accesslog.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "geo/geo.h"
#include "modules.h"
#include "proxy/proxy.h"

#define MRD_ALOG_BATCH (64 * 1024)
#define ALOG_LINE_MAX  4096

/* Appends <s> as a JSON string (with quotes), escaping what JSON requires. */
static size_t alog_str(char *o, size_t room, const char *s)
{
    size_t n = 0;
    if (!s) {
        if (room >= 4) {
            memcpy(o, "null", 4);
            return 4;
        }
        return 0;
    }
    if (room < 2)
        return 0;
    o[n++] = '"';
    for (; *s && n + 8 < room; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            o[n++] = '\\';
            o[n++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            n += (size_t)snprintf(o + n, room - n, "\\u%04x", c);
        } else {
            o[n++] = (char)c;
        }
    }
    o[n++] = '"';
    return n;
}

void mrd_accesslog_flush(struct mrd_worker *w)
{
    if (w->alog_fd >= 0 && w->alog_len) {
        mrd_accesslog_write(w->alog_fd, w->alog_buf, w->alog_len);
        w->alog_len = 0;
    }
}

static void alog_on_log(struct mrd_txn *t)
{
    struct mrd_worker *w = t->w;
    char line[ALOG_LINE_MAX];
    size_t n = 0, room = sizeof(line);
    time_t sec = (time_t)(t->start_wall_us / 1000000);
    struct tm tm;

    if (w->alog_fd < 0)
        return;
    gmtime_r(&sec, &tm);
    uint64_t now = w->loop.now_ms;
    n += (size_t)snprintf(line + n, room - n,
                          "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\",\"request_id\":",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                          tm.tm_sec, (unsigned)(t->start_wall_us / 1000 % 1000));
    n += alog_str(line + n, room - n, t->request_id);
    n += (size_t)snprintf(line + n, room - n, ",\"client_ip\":");
    n += alog_str(line + n, room - n, t->client_ip);
    n += (size_t)snprintf(line + n, room - n, ",\"country\":");
    n += alog_str(line + n, room - n, t->geo_known && t->geo.country[0] ? t->geo.country : NULL);
    n += (size_t)snprintf(line + n, room - n, ",\"region\":");
    n += alog_str(line + n, room - n,
                  t->geo_known && t->geo.region >= 0 ? mrd_geo_region_name(t->geo.region) : NULL);
    n += (size_t)snprintf(line + n, room - n, ",\"method\":");
    n += alog_str(line + n, room - n, t->method);
    n += (size_t)snprintf(line + n, room - n, ",\"host\":");
    n += alog_str(line + n, room - n, t->host);
    n += (size_t)snprintf(line + n, room - n, ",\"path\":");
    n += alog_str(line + n, room - n, t->path);
    n += (size_t)snprintf(line + n, room - n,
                          ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%llu,"
                          "\"upstream_ms\":",
                          t->status, (unsigned long long)t->bytes_in,
                          (unsigned long long)t->bytes_out,
                          (unsigned long long)(now - t->start_ms));
    if (t->upstream_start_ms)
        n += (size_t)snprintf(line + n, room - n, "%llu",
                              (unsigned long long)((t->upstream_first_ms ? t->upstream_first_ms
                                                                         : now) -
                                                   t->upstream_start_ms));
    else
        n += (size_t)snprintf(line + n, room - n, "null");
    n += (size_t)snprintf(line + n, room - n, ",\"lb\":");
    n += alog_str(line + n, room - n, t->lb ? t->lb->name : NULL);
    n += (size_t)snprintf(line + n, room - n, ",\"pool\":");
    n += alog_str(line + n, room - n, t->pool ? t->pool->name : NULL);
    n += (size_t)snprintf(line + n, room - n, ",\"origin\":");
    n += alog_str(line + n, room - n, t->origin ? t->origin->name : NULL);
    n += (size_t)snprintf(line + n, room - n,
                          ",\"version\":null,\"cache\":null,\"rate_limit\":null,\"challenge\":null,"
                          "\"retries\":%d,\"error\":",
                          t->retries);
    n += alog_str(line + n, room - n, t->error);
    if (t->retry_reason) {
        n += (size_t)snprintf(line + n, room - n, ",\"retry_reason\":");
        n += alog_str(line + n, room - n, t->retry_reason);
    }
    if (n + 2 > room)
        n = room - 2;
    line[n++] = '}';
    line[n++] = '\n';
    if (w->alog_len + n > MRD_ALOG_BATCH)
        mrd_accesslog_flush(w);
    memcpy(w->alog_buf + w->alog_len, line, n);
    w->alog_len += (uint32_t)n;
}

const struct mrd_module mrd_accesslog_module = {
    .name = "accesslog",
    .on_log = alog_on_log,
};
