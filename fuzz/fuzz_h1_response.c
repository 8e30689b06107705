/* libFuzzer target for the HTTP/1.1 response parser glue (src/http/h1.c): the input is a
 * response stream from an upstream, parsed message after message until FAIL or the end,
 * then mrd_h1_eof (close-delimited bodies). The first byte picks the limits, a split
 * point, and when to call mrd_h1_skip_body: never, always (responses to HEAD), or as the
 * proxy does (1xx/204/304). Invariants trap on violation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TRAP_IF(c) do { if (c) __builtin_trap(); } while (0)

static void span_ok(struct mrd_h1_span s, uint32_t lo, uint32_t hi)
{
    TRAP_IF(s.len && (s.off < lo || s.off > hi || s.len > hi - s.off));
}

static void check_msg(const struct mrd_h1_msg *m, uint32_t pos, uint32_t end, uint32_t max_h)
{
    TRAP_IF(pos > end);
    TRAP_IF(m->n_hdrs > max_h);
    span_ok(m->status_text, m->start, end);
    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        span_ok(m->hdrs[i].name, m->start, end);
        span_ok(m->hdrs[i].value, m->start, end);
    }
    TRAP_IF(m->host_idx < -1 || m->host_idx >= (int)m->n_hdrs);
}

static void check_head(const struct mrd_h1_msg *m, uint32_t pos, uint32_t max_h, uint32_t max_head)
{
    TRAP_IF(m->head_end > pos || m->head_end <= m->start);
    TRAP_IF(m->head_end - m->start > max_head);
    TRAP_IF(m->n_hdrs > max_h);
    span_ok(m->status_text, m->start, m->head_end);
    for (uint32_t i = 0; i < m->n_hdrs; i++) {
        span_ok(m->hdrs[i].name, m->start, m->head_end);
        span_ok(m->hdrs[i].value, m->start, m->head_end);
        TRAP_IF(m->hdrs[i].name.len == 0);
    }
    TRAP_IF(m->status < 100 || m->status > 599);
    TRAP_IF(m->major != 1 || m->minor > 1);
    TRAP_IF(m->chunked && m->content_length >= 0);
    TRAP_IF(m->body_bytes != 0);
}

static void parse(const char *buf, uint32_t n, uint32_t split, int skip_mode, uint32_t max_h,
                  uint32_t max_head, uint64_t max_body)
{
    struct mrd_h1_hdr *hdrs = malloc(sizeof(*hdrs) * (max_h ? max_h : 1));
    struct mrd_h1_msg m;
    uint32_t pos = 0, end = split, msgs = 0;
    int skipped = 0;

    mrd_h1_init(&m, HTTP_RESPONSE, hdrs, max_h, max_head, max_body);
    for (;;) {
        uint32_t before = pos;
        enum mrd_h1_ret ret = mrd_h1_feed(&m, buf, &pos, end);
        TRAP_IF(pos < before);
        check_msg(&m, pos, end, max_h);
        if (ret == MRD_H1_NEED_MORE) {
            TRAP_IF(pos != end);
            if (end < n) {
                end = n;
                continue;
            }
            int st = m.state;
            enum mrd_h1_ret e = mrd_h1_eof(&m);
            TRAP_IF(e != MRD_H1_COMPLETE && e != MRD_H1_FAIL);
            if (e == MRD_H1_COMPLETE) {
                /* only a body without length or chunking ends at EOF */
                TRAP_IF(st != MRD_H1_BODY || m.chunked || m.content_length >= 0 || skipped);
                TRAP_IF(m.state != MRD_H1_DONE);
            } else {
                TRAP_IF(m.error_status != 502 || !m.why || m.state != MRD_H1_ERROR);
            }
            TRAP_IF(mrd_h1_eof(&m) != e);
            break;
        }
        if (ret == MRD_H1_FAIL) {
            TRAP_IF(m.state != MRD_H1_ERROR || !m.why);
            TRAP_IF(m.error_status != 502);
            TRAP_IF(mrd_h1_feed(&m, buf, &pos, end) != MRD_H1_FAIL);
            TRAP_IF(mrd_h1_eof(&m) != MRD_H1_FAIL);
            break;
        }
        if (ret == MRD_H1_HEADERS) {
            TRAP_IF(m.state != MRD_H1_BODY);
            check_head(&m, pos, max_h, max_head);
            int st = m.status;
            skipped = skip_mode == 1 || (skip_mode == 2 && (st < 200 || st == 204 || st == 304));
            if (skipped) {
                mrd_h1_skip_body(&m);
                TRAP_IF(m.chunked || m.content_length != -1 || m.needs_eof);
            }
            continue;
        }
        /* COMPLETE */
        TRAP_IF(m.state != MRD_H1_DONE);
        TRAP_IF(m.head_end > pos || pos <= m.start);
        TRAP_IF(m.body_bytes > pos - m.head_end);
        TRAP_IF(max_body && m.body_bytes > max_body);
        if (skipped || m.status < 200 || m.status == 204 || m.status == 304)
            TRAP_IF(m.body_bytes != 0 && skipped);
        if (m.content_length >= 0)
            TRAP_IF(m.body_bytes != (uint64_t)m.content_length);
        TRAP_IF(++msgs > n);
        mrd_h1_next(&m, pos);
        skipped = 0;
    }
    free(hdrs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 20)
        return 0;
    uint8_t ctl = data[0];
    uint32_t n = (uint32_t)size - 1;
    char *buf = malloc(n ? n : 1);
    memcpy(buf, data + 1, n);

    uint32_t split = n ? (uint32_t)(((uint64_t)ctl * n) / 255) : 0;
    int skip_mode = ctl % 3; /* 0 never, 1 always (HEAD), 2 like the proxy */
    uint32_t max_h = (ctl & 8) ? 4 : 64;
    uint32_t max_head = (ctl & 16) ? 256 : 8192;
    uint64_t max_body = (ctl & 32) ? 16 : 0;

    parse(buf, n, n, skip_mode, max_h, max_head, max_body);
    parse(buf, n, split, skip_mode, max_h, max_head, max_body);
    free(buf);
    return 0;
}
