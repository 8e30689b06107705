/* Unit tests of src/http/h1: the llhttp glue (spans, limits, pipelining, split feeds,
 * bodies) and every strict framing rule it adds, for requests (4xx/5xx) and responses
 * (502), plus the small pure helpers (Host, request id, reason phrases). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1.h"
#include "test.h"

#define MAXH 16

struct px {
    struct mrd_h1_msg m;
    struct mrd_h1_hdr h[MAXH];
    const char       *buf;
    uint32_t          len, pos;
    int               saw_headers;
};

static void px_init(struct px *p, llhttp_type_t type, const char *s, size_t len, uint32_t max_h,
                    uint32_t max_head, uint64_t max_body)
{
    memset(p, 0, sizeof(*p));
    mrd_h1_init(&p->m, type, p->h, max_h, max_head, max_body);
    p->buf = s;
    p->len = (uint32_t)len;
    p->pos = 0;
}

/* Feeds everything: returns at COMPLETE, FAIL, or NEED_MORE (input exhausted).
 * With <stop_at_headers>, also returns at HEADERS. */
static enum mrd_h1_ret px_run(struct px *p, int stop_at_headers)
{
    for (;;) {
        enum mrd_h1_ret r = mrd_h1_feed(&p->m, p->buf, &p->pos, p->len);
        CHECK(p->pos <= p->len);
        if (r == MRD_H1_HEADERS) {
            p->saw_headers = 1;
            CHECK(p->m.head_end <= p->pos);
            if (stop_at_headers)
                return r;
            continue;
        }
        return r;
    }
}

/* Feeds up to <end>, going on past HEADERS; stops at COMPLETE, FAIL, or input exhausted. */
static enum mrd_h1_ret px_feed_to(struct px *p, uint32_t end)
{
    enum mrd_h1_ret r;
    do
        r = mrd_h1_feed(&p->m, p->buf, &p->pos, end);
    while (r == MRD_H1_HEADERS);
    return r;
}

/* Span text as a NUL-terminated string (static rotating buffers). */
static const char *sp(const struct px *p, struct mrd_h1_span s)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ & 3];
    size_t n = s.len < 511 ? s.len : 511;
    CHECK(s.off + s.len <= p->len);
    memcpy(b, p->buf + s.off, n);
    b[n] = 0;
    return b;
}

/* Parses a whole request or response (head and body) and expects FAIL with <status>. */
static void expect_fail_at(int line, llhttp_type_t type, const char *s, size_t len, int status)
{
    struct px p;
    px_init(&p, type, s, len, MAXH, 8192, 0);
    enum mrd_h1_ret r = px_run(&p, 0);
    int ok = r == MRD_H1_FAIL && p.m.error_status == status && p.m.state == MRD_H1_ERROR &&
             p.m.why != NULL;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  test line %d: ret %d status %d why %s (wanted FAIL %d)\n", line, r,
                p.m.error_status, p.m.why ? p.m.why : "-", status);
    /* once failed, it stays failed */
    CHECK_EQ_INT(mrd_h1_feed(&p.m, p.buf, &p.pos, p.len), r == MRD_H1_FAIL ? MRD_H1_FAIL : r);
}
/* <s> must be a string literal (it may hold NULs) */
#define REQ_FAIL(s, st) expect_fail_at(__LINE__, HTTP_REQUEST, s, sizeof(s) - 1, st)
#define RSP_FAIL(s) expect_fail_at(__LINE__, HTTP_RESPONSE, s, sizeof(s) - 1, 502)

/* Parses a whole message and expects it to complete, consuming all of <s>. */
static void expect_ok_at(int line, llhttp_type_t type, const char *s, size_t len)
{
    struct px p;
    px_init(&p, type, s, len, MAXH, 8192, 0);
    enum mrd_h1_ret r = px_run(&p, 0);
    int ok = r == MRD_H1_COMPLETE && p.saw_headers && p.pos == p.len;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  test line %d: ret %d status %d why %s pos %u/%u\n", line, r,
                p.m.error_status, p.m.why ? p.m.why : "-", p.pos, p.len);
}
#define REQ_OK(s) expect_ok_at(__LINE__, HTTP_REQUEST, s, sizeof(s) - 1)
#define RSP_OK(s) expect_ok_at(__LINE__, HTTP_RESPONSE, s, sizeof(s) - 1)

#define H "Host: example.com\r\n"

/* ---- requests: the basics ---- */

static void test_simple_get(void)
{
    static const char s[] = "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n"
                            "Accept:   */*  \r\n\r\n";
    struct px p;
    px_init(&p, HTTP_REQUEST, s, sizeof(s) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(p.m.state, MRD_H1_HEAD);
    CHECK_EQ_INT(p.m.content_length, -1);
    CHECK_EQ_INT(p.m.host_idx, -1);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.state, MRD_H1_BODY);
    CHECK_EQ_INT(p.pos, sizeof(s) - 1);
    CHECK_EQ_INT(p.m.head_end, sizeof(s) - 1);
    CHECK_EQ_INT(p.m.start, 0);
    CHECK(p.m.base == s);
    CHECK_STR(sp(&p, p.m.method), "GET");
    CHECK_STR(sp(&p, p.m.target), "/a/b?x=1");
    CHECK_EQ_INT(p.m.major, 1);
    CHECK_EQ_INT(p.m.minor, 1);
    CHECK_EQ_INT(p.m.n_hdrs, 3);
    CHECK_STR(sp(&p, p.h[0].name), "Host");
    CHECK_STR(sp(&p, p.h[0].value), "example.com");
    CHECK_STR(sp(&p, p.h[1].name), "User-Agent");
    CHECK_STR(sp(&p, p.h[1].value), "t");
    CHECK_STR(sp(&p, p.h[2].name), "Accept");
    CHECK_STR(sp(&p, p.h[2].value), "*/*"); /* leading OWS skipped, trailing trimmed */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(p.h[i].skip, 0);
    CHECK_EQ_INT(p.m.host_idx, 0);
    CHECK(p.m.keep_alive);
    CHECK(!p.m.conn_close);
    CHECK(!p.m.chunked);
    CHECK(!p.m.upgrade);
    CHECK(!p.m.expect_continue);
    CHECK_EQ_INT(p.m.content_length, -1);
    CHECK_EQ_INT(mrd_h1_find(&p.m, "host"), 0);
    CHECK_EQ_INT(mrd_h1_find(&p.m, "accept"), 2);
    CHECK_EQ_INT(mrd_h1_find(&p.m, "user-agent"), 1);
    CHECK_EQ_INT(mrd_h1_find(&p.m, "cookie"), -1);
    CHECK(mrd_h1_span_ieq(s, p.h[1].name, "user-agent"));
    CHECK(!mrd_h1_span_ieq(s, p.h[1].name, "user-agen"));
    /* no body: a zero-length feed right after the head completes the message */
    CHECK_EQ_INT(mrd_h1_feed(&p.m, s, &p.pos, p.len), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.state, MRD_H1_DONE);
    CHECK_EQ_INT(p.pos, sizeof(s) - 1);
    CHECK_EQ_INT(p.m.body_bytes, 0);
    /* DONE is sticky until mrd_h1_next */
    CHECK_EQ_INT(mrd_h1_feed(&p.m, s, &p.pos, p.len), MRD_H1_COMPLETE);
    CHECK_EQ_INT(mrd_h1_eof(&p.m), MRD_H1_COMPLETE);
}

static void test_host_idx_and_methods(void)
{
    static const char s[] = "POST /x HTTP/1.1\r\nA: 1\r\nB: 2\r\nhOsT: h.example:8080\r\n"
                            "Content-Length: 0\r\n\r\n";
    struct px p;
    px_init(&p, HTTP_REQUEST, s, sizeof(s) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_STR(sp(&p, p.m.method), "POST");
    CHECK_EQ_INT(p.m.host_idx, 2);
    CHECK_STR(sp(&p, p.h[2].value), "h.example:8080");
    CHECK_EQ_INT(p.m.content_length, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);

    REQ_OK("OPTIONS * HTTP/1.1\r\n" H "\r\n");
    REQ_OK("OPTIONS /x HTTP/1.1\r\n" H "\r\n");
    REQ_OK("DELETE /x HTTP/1.1\r\n" H "\r\n");
    REQ_OK("PUT /x HTTP/1.1\r\n" H "Content-Length: 3\r\n\r\nabc");
    REQ_OK("GET http://example.com/x?y HTTP/1.1\r\n" H "\r\n");
    REQ_OK("GET https://example.com:8443 HTTP/1.1\r\n" H "\r\n");
    REQ_OK("GET http://[::1]:80/ HTTP/1.1\r\n" H "\r\n");
    REQ_OK("GET / HTTP/1.0\r\n\r\n"); /* Host is optional in 1.0 */
}

static void test_http10_keepalive(void)
{
    static const char *const cases[] = {
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: Keep-Alive, foo\r\n\r\n",
        "GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n",
        "GET / HTTP/1.1\r\n" H "Connection: foo, CLOSE\r\n\r\n",
        "GET / HTTP/1.1\r\n" H "Connection: keep-alive\r\n\r\n",
    };
    static const int ka[] = { 0, 1, 1, 0, 0, 1 };
    static const int cl[] = { 0, 0, 0, 1, 1, 0 };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct px p;
        px_init(&p, HTTP_REQUEST, cases[i], strlen(cases[i]), MAXH, 8192, 0);
        CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
        CHECK_EQ_INT(p.m.keep_alive, ka[i]);
        CHECK_EQ_INT(p.m.conn_close, cl[i]);
        CHECK_EQ_INT(p.m.major, 1);
        CHECK_EQ_INT(p.m.minor, i < 3 ? 0 : 1);
        if (i < 3)
            CHECK_EQ_INT(p.m.host_idx, -1);
        CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    }
}

static void test_pipelined(void)
{
    static const char s[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                            "POST /b HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\nhi"
                            "GET /c HTTP/1.1\r\nHost: c\r\nX: y\r\n\r\n";
    struct px p;
    uint32_t len = sizeof(s) - 1;
    px_init(&p, HTTP_REQUEST, s, len, MAXH, 8192, 0);

    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    uint32_t end1 = (uint32_t)(strstr(s, "POST") - s);
    CHECK_EQ_INT(p.pos, end1);
    CHECK_STR(sp(&p, p.m.target), "/a");
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, end1); /* stops at the end of the first message */

    mrd_h1_next(&p.m, p.pos);
    CHECK_EQ_INT(p.m.start, end1);
    CHECK_EQ_INT(p.m.state, MRD_H1_HEAD);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_STR(sp(&p, p.m.method), "POST");
    CHECK_STR(sp(&p, p.m.target), "/b");
    CHECK_EQ_INT(p.m.n_hdrs, 2);
    CHECK_STR(sp(&p, p.h[0].value), "b");
    CHECK_EQ_INT(p.m.host_idx, 0);
    CHECK_EQ_INT(p.m.content_length, 2);
    uint32_t end2 = (uint32_t)(strstr(s, "GET /c") - s);
    CHECK_EQ_INT(p.m.head_end, end2 - 2);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, end2);
    CHECK_EQ_INT(p.m.body_bytes, 2);

    mrd_h1_next(&p.m, p.pos);
    CHECK_EQ_INT(p.m.body_bytes, 0);
    CHECK_EQ_INT(p.m.content_length, -1);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_STR(sp(&p, p.m.method), "GET");
    CHECK_STR(sp(&p, p.m.target), "/c");
    CHECK_EQ_INT(p.m.n_hdrs, 2);
    CHECK_STR(sp(&p, p.h[1].name), "X");
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, len);

    /* a fourth, bad message after the good ones fails on its own */
    static const char t[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    px_init(&p, HTTP_REQUEST, t, sizeof(t) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    mrd_h1_next(&p.m, p.pos);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 400);
    mrd_h1_next(&p.m, p.len); /* next clears the error */
    CHECK_EQ_INT(p.m.state, MRD_H1_HEAD);
    CHECK_EQ_INT(p.m.error_status, 0);
    CHECK(p.m.why == NULL);
}

/* Feeds <s> one byte at a time (end grows by one each call) and checks the result is the
 * same as feeding it whole. */
static void test_byte_by_byte(void)
{
    static const char s[] = "POST /upload?q=%20 HTTP/1.1\r\nHost: example.com:81\r\n"
                            "X-Long-Header-Name: some value with spaces   \r\n"
                            "Empty:\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n";
    uint32_t len = sizeof(s) - 1;
    struct px whole, p;

    px_init(&whole, HTTP_REQUEST, s, len, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&whole, 1), MRD_H1_HEADERS);

    px_init(&p, HTTP_REQUEST, s, len, MAXH, 8192, 0);
    enum mrd_h1_ret r = MRD_H1_NEED_MORE;
    uint32_t end;
    int calls = 0;
    for (end = 0; end <= len && r == MRD_H1_NEED_MORE; end++) {
        r = mrd_h1_feed(&p.m, s, &p.pos, end);
        calls++;
    }
    CHECK(calls > 50);
    CHECK_EQ_INT(r, MRD_H1_HEADERS);
    CHECK_EQ_INT(p.pos, whole.pos);
    CHECK_EQ_INT(p.m.head_end, whole.m.head_end);
    CHECK_EQ_INT(p.m.n_hdrs, whole.m.n_hdrs);
    CHECK_EQ_INT(p.m.n_hdrs, 4);
    CHECK_EQ_INT(p.m.method.off, whole.m.method.off);
    CHECK_EQ_INT(p.m.method.len, whole.m.method.len);
    CHECK_EQ_INT(p.m.target.off, whole.m.target.off);
    CHECK_EQ_INT(p.m.target.len, whole.m.target.len);
    CHECK_STR(sp(&p, p.m.target), "/upload?q=%20");
    for (uint32_t i = 0; i < p.m.n_hdrs && i < whole.m.n_hdrs; i++) {
        CHECK_EQ_INT(p.h[i].name.off, whole.h[i].name.off);
        CHECK_EQ_INT(p.h[i].name.len, whole.h[i].name.len);
        CHECK_EQ_INT(p.h[i].value.off, whole.h[i].value.off);
        CHECK_EQ_INT(p.h[i].value.len, whole.h[i].value.len);
    }
    CHECK_STR(sp(&p, p.h[1].name), "X-Long-Header-Name");
    CHECK_STR(sp(&p, p.h[1].value), "some value with spaces");
    CHECK_STR(sp(&p, p.h[2].name), "Empty");
    CHECK_EQ_INT(p.h[2].value.len, 0);
    CHECK_EQ_INT(p.m.host_idx, 0);
    CHECK(p.m.chunked);
    CHECK_EQ_INT(p.m.content_length, -1);

    /* the body, byte by byte too */
    r = MRD_H1_NEED_MORE;
    for (end = p.pos; end <= len && r == MRD_H1_NEED_MORE; end++)
        r = mrd_h1_feed(&p.m, s, &p.pos, end);
    CHECK_EQ_INT(r, MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, len);
    CHECK_EQ_INT(p.m.body_bytes, 9);

    /* and split at every single point into two feeds */
    int bad = 0;
    for (uint32_t cut = 0; cut <= len; cut++) {
        struct px q;
        px_init(&q, HTTP_REQUEST, s, len, MAXH, 8192, 0);
        r = px_feed_to(&q, cut);
        if (r == MRD_H1_NEED_MORE)
            r = px_feed_to(&q, len);
        if (r != MRD_H1_COMPLETE || q.pos != len || q.m.body_bytes != 9 ||
            q.m.head_end != whole.m.head_end)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_bodies(void)
{
    static const char cl[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
    struct px p;
    px_init(&p, HTTP_REQUEST, cl, sizeof(cl) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.content_length, 10);
    CHECK(!p.m.chunked);
    CHECK_EQ_INT(p.m.body_bytes, 0);
    /* body in pieces */
    uint32_t full = p.len;
    p.len = p.pos + 3;
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_NEED_MORE);
    CHECK_EQ_INT(p.m.body_bytes, 3);
    CHECK_EQ_INT(p.m.state, MRD_H1_BODY);
    p.len = full;
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.body_bytes, 10);
    CHECK_EQ_INT(p.pos, full);

    static const char ch[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nGET";
    px_init(&p, HTTP_REQUEST, ch, sizeof(ch) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK(p.m.chunked);
    CHECK_EQ_INT(p.m.content_length, -1);
    CHECK(p.m.keep_alive);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.body_bytes, 31);
    CHECK_EQ_INT(p.pos, sizeof(ch) - 4); /* "GET" is left for the next message */

    /* TE codings before chunked are allowed; case-insensitive */
    REQ_OK("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n0\r\n\r\n");
    /* chunk extensions */
    REQ_OK("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3;a=b\r\nabc\r\n0\r\n\r\n");
    /* trailers */
    REQ_OK("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
}

static void test_limits(void)
{
    struct px p;
    /* Content-Length over max_body_bytes: refused with the head */
    static const char cl[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
    px_init(&p, HTTP_REQUEST, cl, sizeof(cl) - 1, MAXH, 8192, 10);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_FAIL);
    CHECK(!p.saw_headers);
    CHECK_EQ_INT(p.m.error_status, 413);
    /* at the limit: fine */
    static const char cl10[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
    px_init(&p, HTTP_REQUEST, cl10, sizeof(cl10) - 1, MAXH, 8192, 10);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.body_bytes, 10);

    /* chunked over the limit: refused while streaming */
    static const char ch[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n";
    px_init(&p, HTTP_REQUEST, ch, sizeof(ch) - 1, MAXH, 8192, 10);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 413);
    CHECK(p.m.body_bytes > 10);
    px_init(&p, HTTP_REQUEST, ch, sizeof(ch) - 1, MAXH, 8192, 11);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.body_bytes, 11);

    /* response bodies over the limit: 502 */
    static const char rsp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "8\r\n01234567\r\n0\r\n\r\n";
    px_init(&p, HTTP_RESPONSE, rsp, sizeof(rsp) - 1, MAXH, 8192, 4);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 502);

    /* max_headers: exactly at the limit passes, one more is 431 */
    static const char hd[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    px_init(&p, HTTP_REQUEST, hd, sizeof(hd) - 1, 3, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    px_init(&p, HTTP_REQUEST, hd, sizeof(hd) - 1, 2, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 431);
    CHECK(p.m.n_hdrs <= 2);
    px_init(&p, HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", 31, 1, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 502);

    /* max_head_bytes: a complete head over the limit */
    uint32_t hl = sizeof(hd) - 1;
    px_init(&p, HTTP_REQUEST, hd, hl, MAXH, hl, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    px_init(&p, HTTP_REQUEST, hd, hl, MAXH, hl - 1, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 431);
    /* ... and an incomplete one that has already grown past it */
    static const char big[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    px_init(&p, HTTP_REQUEST, big, sizeof(big) - 1, MAXH, 32, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 431);
    px_init(&p, HTTP_REQUEST, big, sizeof(big) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_NEED_MORE);
    /* the limit counts from the message's start (pipelining) */
    static const char two[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    px_init(&p, HTTP_REQUEST, two, sizeof(two) - 1, MAXH, 27, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    mrd_h1_next(&p.m, p.pos);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, sizeof(two) - 1);
    /* response head over the limit: 502 */
    px_init(&p, HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nA: 1\r\n\r\n", 25, MAXH, 10, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 502);
}

/* ---- requests: strict rejections ---- */

static void test_strict_framing(void)
{
    /* CL + TE */
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400);
    /* duplicate CL, same and different */
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\nhello", 400);
    /* invalid CL */
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: abc\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: +1\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 1.0\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999999\r\n\r\n", 400);
    /* TE not ending in chunked */
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, gzip\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunkedx\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n", 400);
    /* TE in HTTP/1.0 */
    REQ_FAIL("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    /* obs-fold, with space and with tab */
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: one\r\n two\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: one\r\n\ttwo\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n" H "\r\n", 400);
    /* bare CR / bare LF */
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: a\rb\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: a\r\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r" H "\r\n", 400);
    /* llhttp 8 accepts a bare LF ending the request line and as the blank line ending the
     * head (RFC 9112 2.2 lets a recipient do so; the head is rebuilt, not forwarded) */
    REQ_OK("GET / HTTP/1.1\n" H "\r\n");
    REQ_OK("GET / HTTP/1.1\r\n" H "\n");
    /* ... but not ending a header field line */
    REQ_FAIL("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400);
    /* CONNECT without Host: the missing Host is reported first (400, not 501) */
    REQ_FAIL("CONNECT example.com:443 HTTP/1.1\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: a\n\r\n", 400);
    /* NUL, other CTLs, DEL in a value */
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: a\0b\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: a\001b\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: a\033b\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: a\177b\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A: \177\r\n\r\n", 400);
    /* tab and obs-text inside a value are fine */
    REQ_OK("GET / HTTP/1.1\r\n" H "X-A: a\tb \xe9\xff\r\n\r\n");
    /* whitespace before the colon, empty or bad names */
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A : a\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A\t: a\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H ": a\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X(A): a\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X@A: a\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "X-A\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H " X-A: a\r\n\r\n", 400);
    /* Host */
    REQ_FAIL("GET / HTTP/1.1\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nX: y\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\nHost:\r\n\r\n", 400);
    REQ_OK("GET / HTTP/1.0\r\nHost: a,b\r\n\r\n"); /* ',' is a sub-delim */
    /* request-targets */
    REQ_FAIL("GET foo HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET foo/bar HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET /a b HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET /a#frag HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET * HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("POST * HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n", 400);
    REQ_FAIL("GET http:// HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET http:///x HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET http://user@example.com/ HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET http://exa mple.com/ HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET ftp://example.com/ HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET /\x7f HTTP/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("CONNECT example.com:443 HTTP/1.1\r\n" H "\r\n", 501);
    /* Connection naming framing headers */
    REQ_FAIL("GET / HTTP/1.1\r\n" H "Connection: content-length\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "Connection: close, Host\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/1.1\r\n" H "Connection: Transfer-Encoding\r\n\r\n", 400);
    /* Expect */
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Expect: 100-continue, x\r\nContent-Length: 1\r\n\r\nx", 417);
    /* bad methods and request lines */
    REQ_FAIL("G@T / HTTP/1.1\r\n" H "\r\n", 400);
    REQ_OK("GET  / HTTP/1.1\r\n" H "\r\n"); /* llhttp 8 tolerates the extra SP */
    REQ_FAIL("GET / HTTP/1.1 \r\n" H "\r\n", 400);
    REQ_FAIL("GET / HTTX/1.1\r\n" H "\r\n", 400);
    REQ_FAIL("GET /\r\n\r\n", 505); /* HTTP/0.9-style request line */
}

static void test_versions(void)
{
    static const char *const bad[] = {
        "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        "GET / HTTP/0.9\r\nHost: a\r\n\r\n",
        "GET / HTTP/3.0\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct px p;
        px_init(&p, HTTP_REQUEST, bad[i], strlen(bad[i]), MAXH, 8192, 0);
        CHECK_EQ_INT(px_run(&p, 0), MRD_H1_FAIL);
        CHECK(p.m.error_status == 505 || p.m.error_status == 400);
        if (p.m.error_status != 505 && p.m.error_status != 400)
            fprintf(stderr, "  version case %zu: status %d\n", i, p.m.error_status);
    }
    /* What the code does today: llhttp 8 itself refuses 1.2 (400); 2.0 and 0.9 get past
     * llhttp and are refused by the glue with 505. */
    REQ_FAIL("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 400);
    REQ_FAIL("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    REQ_FAIL("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
    RSP_FAIL("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n");
}

static void test_chunk_errors(void)
{
#define CH "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
    REQ_FAIL(CH "z\r\n", 400);
    REQ_FAIL(CH "5 \r\nhello\r\n0\r\n\r\n", 400);
    REQ_FAIL(CH "-5\r\nhello\r\n0\r\n\r\n", 400);
    REQ_FAIL(CH "0x5\r\nhello\r\n0\r\n\r\n", 400);
    REQ_FAIL(CH "5\r\nhelloXX0\r\n\r\n", 400);     /* missing CRLF after data */
    REQ_FAIL(CH "5\r\nhello\n0\r\n\r\n", 400);     /* LF only after data */
    REQ_FAIL(CH "5\nhello\r\n0\r\n\r\n", 400);     /* LF only after size */
    REQ_FAIL(CH "5\rhello\r\n0\r\n\r\n", 400);     /* CR without LF */
    REQ_FAIL(CH "\r\nhello\r\n0\r\n\r\n", 400);    /* empty size */
    REQ_FAIL(CH "10000000000000000\r\n", 400);     /* 2^64: overflow */
    REQ_FAIL(CH "fffffffffffffffff\r\n", 400);     /* 17 hex digits */
    REQ_FAIL(CH "0\r\nX\r\n\r\n", 400);           /* bad trailer */
    REQ_FAIL(CH "0\r\nX: y\n\r\n", 400);        /* bare LF ending a trailer field */
    REQ_FAIL(CH "0\n\r\n", 400);                /* bare LF after the last chunk's size */
    RSP_FAIL("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX");
    RSP_FAIL("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n");
#undef CH
}

/* ---- hop-by-hop marks ---- */

static void test_hop_by_hop(void)
{
    static const char s[] =
        "GET / HTTP/1.1\r\n"
        "Host: a\r\n"                             /* 0 */
        "Connection: keep-alive, X-Foo ,x-bar\r\n" /* 1 */
        "Keep-Alive: timeout=5\r\n"               /* 2 */
        "Proxy-Connection: keep-alive\r\n"        /* 3 */
        "TE: trailers\r\n"                        /* 4 */
        "Upgrade: websocket\r\n"                  /* 5 */
        "X-Foo: 1\r\n"                            /* 6 */
        "X-Bar: 2\r\n"                            /* 7 */
        "X-Baz: 3  \t \r\n"                       /* 8 */
        "x-foo: 4\r\n"                            /* 9 */
        "Expect: 100-continue\r\n"                /* 10 */
        "Content-Length: 1\r\n"                   /* 11 */
        "\r\nx";
    static const int skip[] = { 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0 };
    struct px p;
    px_init(&p, HTTP_REQUEST, s, sizeof(s) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.n_hdrs, 12);
    for (int i = 0; i < 12; i++) {
        CHECK_EQ_INT(p.h[i].skip, skip[i]);
        if (p.h[i].skip != skip[i])
            fprintf(stderr, "  header %d (%s)\n", i, sp(&p, p.h[i].name));
    }
    CHECK_STR(sp(&p, p.h[8].value), "3"); /* trailing SP/HTAB trimmed */
    CHECK_STR(sp(&p, p.h[1].value), "keep-alive, X-Foo ,x-bar");
    CHECK(p.m.expect_continue);
    CHECK(p.m.keep_alive);
    CHECK(!p.m.conn_close);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);

    /* Upgrade + Connection: upgrade */
    static const char u[] = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                            "Upgrade: websocket\r\n\r\n";
    px_init(&p, HTTP_REQUEST, u, sizeof(u) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK(p.m.upgrade);
    CHECK_EQ_INT(p.h[1].skip, 1);
    CHECK_EQ_INT(p.h[2].skip, 1);

    /* the same in a response */
    static const char r[] = "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\n"
                            "Keep-Alive: 1\r\nX-End: e \r\nContent-Length: 0\r\n\r\n";
    px_init(&p, HTTP_RESPONSE, r, sizeof(r) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.h[0].skip, 1);
    CHECK_EQ_INT(p.h[1].skip, 1);
    CHECK_EQ_INT(p.h[2].skip, 1);
    CHECK_EQ_INT(p.h[3].skip, 0);
    CHECK_EQ_INT(p.h[4].skip, 0);
    CHECK_STR(sp(&p, p.h[3].value), "e");
    CHECK(p.m.conn_close);
    CHECK(!p.m.keep_alive);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
}

/* ---- responses ---- */

static void test_responses(void)
{
    static const char s[] = "HTTP/1.1 201 Created Here\r\nContent-Length: 3\r\nX: y\r\n\r\nabc";
    struct px p;
    px_init(&p, HTTP_RESPONSE, s, sizeof(s) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.status, 201);
    CHECK_STR(sp(&p, p.m.status_text), "Created Here");
    CHECK_EQ_INT(p.m.content_length, 3);
    CHECK_EQ_INT(p.m.host_idx, -1);
    CHECK(p.m.keep_alive);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.body_bytes, 3);
    CHECK_EQ_INT(p.pos, p.len);

    /* strictness: the same rules, status 502 */
    RSP_FAIL("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
    RSP_FAIL("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello");
    RSP_FAIL("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n");
    RSP_FAIL("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nX: a\0b\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nX: a\177\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\n: a\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n");
    RSP_FAIL("HTTP/1.1 20 OK\r\n\r\n");
    RSP_FAIL("HTTP/1.1 abc OK\r\n\r\n");
    RSP_FAIL("HTTPS/1.1 200 OK\r\n\r\n");
    /* a response needs no Host, and Expect is not checked on responses */
    RSP_OK("HTTP/1.1 200 OK\r\nExpect: whatever\r\nContent-Length: 0\r\n\r\n");
    RSP_OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
}

static void test_response_no_body(void)
{
    struct px p;
    /* 204 and 304: no body even with a Content-Length (304) */
    static const char s204[] = "HTTP/1.1 204 No Content\r\nX: y\r\n\r\nHTTP/1.1 200 OK\r\n";
    px_init(&p, HTTP_RESPONSE, s204, sizeof(s204) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.status, 204);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, (uint32_t)(strstr(s204, "\r\n\r\n") - s204) + 4);
    CHECK_EQ_INT(p.m.body_bytes, 0);

    static const char s304[] = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n";
    px_init(&p, HTTP_RESPONSE, s304, sizeof(s304) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.status, 304);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, p.len);
    /* a 304 (or 204) with a Content-Length: llhttp 8 would wait for that many bytes; the
     * caller (conn.c u_on_head) calls mrd_h1_skip_body for 204/304/1xx, as h1.h asks */
    static const char c304[] = "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n";
    px_init(&p, HTTP_RESPONSE, c304, sizeof(c304) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_NEED_MORE);
    px_init(&p, HTTP_RESPONSE, c304, sizeof(c304) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    mrd_h1_skip_body(&p.m);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, p.len);
    CHECK_EQ_INT(p.m.body_bytes, 0);

    /* HEAD: the caller skips the body the headers announce */
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    px_init(&p, HTTP_RESPONSE, head, sizeof(head) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.content_length, 100);
    mrd_h1_skip_body(&p.m);
    CHECK_EQ_INT(p.m.content_length, -1);
    CHECK(!p.m.chunked);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, p.m.head_end);
    CHECK_EQ_INT(p.m.body_bytes, 0);
    mrd_h1_next(&p.m, p.pos);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK(p.m.chunked);
    mrd_h1_skip_body(&p.m);
    CHECK(!p.m.chunked);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    mrd_h1_next(&p.m, p.pos);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.body_bytes, 2);
    CHECK_EQ_INT(p.pos, p.len);

    /* skip_body on a close-delimited response */
    static const char eofh[] = "HTTP/1.1 200 OK\r\n\r\n";
    px_init(&p, HTTP_RESPONSE, eofh, sizeof(eofh) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    mrd_h1_skip_body(&p.m);
    CHECK(!p.m.needs_eof);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
}

static void test_response_eof(void)
{
    struct px p;
    static const char s[] = "HTTP/1.1 200 OK\r\nX: y\r\n\r\nsome body bytes";
    px_init(&p, HTTP_RESPONSE, s, sizeof(s) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.content_length, -1);
    CHECK(!p.m.chunked);
    CHECK(!p.m.keep_alive);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_NEED_MORE);
    CHECK_EQ_INT(p.m.body_bytes, 15);
    CHECK_EQ_INT(p.m.state, MRD_H1_BODY);
    CHECK_EQ_INT(mrd_h1_eof(&p.m), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.state, MRD_H1_DONE);
    CHECK_EQ_INT(mrd_h1_eof(&p.m), MRD_H1_COMPLETE);

    /* HTTP/1.0 without a length: close-delimited too */
    static const char s10[] = "HTTP/1.0 200 OK\r\n\r\nxyz";
    px_init(&p, HTTP_RESPONSE, s10, sizeof(s10) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_NEED_MORE);
    CHECK_EQ_INT(mrd_h1_eof(&p.m), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.body_bytes, 3);

    /* EOF inside a length-delimited or chunked body, or inside a head: fail (502) */
    static const char cl[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    px_init(&p, HTTP_RESPONSE, cl, sizeof(cl) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_NEED_MORE);
    CHECK_EQ_INT(mrd_h1_eof(&p.m), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 502);
    CHECK_EQ_INT(mrd_h1_eof(&p.m), MRD_H1_FAIL);
    CHECK_EQ_INT(mrd_h1_feed(&p.m, p.buf, &p.pos, p.len), MRD_H1_FAIL);
    static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
    px_init(&p, HTTP_RESPONSE, ch, sizeof(ch) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_NEED_MORE);
    CHECK_EQ_INT(mrd_h1_eof(&p.m), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 502);
    static const char hd[] = "HTTP/1.1 200 OK\r\nContent-Le";
    px_init(&p, HTTP_RESPONSE, hd, sizeof(hd) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_NEED_MORE);
    CHECK_EQ_INT(mrd_h1_eof(&p.m), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 502);
    /* a request cut short: 400 */
    static const char rq[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab";
    px_init(&p, HTTP_REQUEST, rq, sizeof(rq) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_NEED_MORE);
    CHECK_EQ_INT(mrd_h1_eof(&p.m), MRD_H1_FAIL);
    CHECK_EQ_INT(p.m.error_status, 400);
}

static void test_1xx(void)
{
    static const char s[] = "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
    struct px p;
    px_init(&p, HTTP_RESPONSE, s, sizeof(s) - 1, MAXH, 8192, 0);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.status, 100);
    CHECK_STR(sp(&p, p.m.status_text), "Continue");
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.pos, 25);
    mrd_h1_next(&p.m, p.pos);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.status, 103);
    CHECK_EQ_INT(p.m.n_hdrs, 1);
    CHECK_STR(sp(&p, p.h[0].value), "</a>");
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    mrd_h1_next(&p.m, p.pos);
    CHECK_EQ_INT(px_run(&p, 1), MRD_H1_HEADERS);
    CHECK_EQ_INT(p.m.status, 200);
    CHECK_STR(sp(&p, p.m.status_text), "OK");
    CHECK_EQ_INT(px_run(&p, 0), MRD_H1_COMPLETE);
    CHECK_EQ_INT(p.m.body_bytes, 4);
    CHECK_EQ_INT(p.pos, p.len);
}

/* ---- pure helpers ---- */

static int host_ok(const char *s) { return mrd_h1_host_ok(s, strlen(s)); }
static int rid_ok(const char *s) { return mrd_h1_request_id_ok(s, strlen(s)); }

static void test_host_ok(void)
{
    CHECK(host_ok("example.com"));
    CHECK(host_ok("EXAMPLE.com"));
    CHECK(host_ok("a"));
    CHECK(host_ok("a:80"));
    CHECK(host_ok("a:65535"));
    CHECK(host_ok("a:")); /* empty port is allowed by RFC 3986 */
    CHECK(host_ok("127.0.0.1"));
    CHECK(host_ok("127.0.0.1:8080"));
    CHECK(host_ok("[::1]"));
    CHECK(host_ok("[::1]:443"));
    CHECK(host_ok("[2001:db8::a:b]:1"));
    CHECK(host_ok("[::ffff:1.2.3.4]"));
    CHECK(host_ok("x_y-z~1.example"));
    CHECK(host_ok("a%20b"));
    CHECK(host_ok("a!$&'()*+,;=b"));
    CHECK(!mrd_h1_host_ok("", 0));
    CHECK(!mrd_h1_host_ok("example.com", 0));
    CHECK(mrd_h1_host_ok("example.com:80", 11)); /* only len bytes are looked at */
    CHECK(!host_ok(":80"));
    CHECK(!host_ok("a:123456"));
    CHECK(!host_ok("a:8x"));
    CHECK(!host_ok("a:-1"));
    CHECK(!host_ok("a:80:80"));
    CHECK(!host_ok("a b"));
    CHECK(!host_ok("a/b"));
    CHECK(!host_ok("a?b"));
    CHECK(!host_ok("a#b"));
    CHECK(!host_ok("u@a"));
    CHECK(!host_ok("a\tb"));
    CHECK(!host_ok("\xc3\xa9.example"));
    CHECK(!host_ok("a[b]"));
    CHECK(!host_ok("["));
    CHECK(!host_ok("[]"));
    CHECK(!host_ok("[:]"));
    CHECK(!host_ok("[::1"));
    CHECK(!host_ok("[::1]x"));
    CHECK(!host_ok("[::1]:x"));
    CHECK(!host_ok("[::g]"));
    CHECK(!host_ok("[::1%eth0]"));
    CHECK(!host_ok("[v1.x]"));
    CHECK(!host_ok("::1"));
    char big[300];
    memset(big, 'a', sizeof(big));
    CHECK(mrd_h1_host_ok(big, 255));
    CHECK(mrd_h1_host_ok(big, 261));
    CHECK(!mrd_h1_host_ok(big, 262));
    CHECK(!mrd_h1_host_ok(big, 300));
}

static void test_request_id_ok(void)
{
    CHECK(rid_ok("a"));
    CHECK(rid_ok("0123456789abcdef"));
    CHECK(rid_ok("550e8400-e29b-41d4-a716-446655440000"));
    CHECK(rid_ok("Root=1-5759e988-bd862e3fe1be46a994272793") == 0); /* '=' */
    CHECK(rid_ok("a.b:c-d"));
    CHECK(!rid_ok(""));
    CHECK(!rid_ok("a b"));
    CHECK(!rid_ok("a/b"));
    CHECK(!rid_ok("a\"b"));
    CHECK(!rid_ok("a\nb"));
    CHECK(!rid_ok("\xc3\xa9"));
    CHECK(!mrd_h1_request_id_ok("a\0b", 3));
    char big[200];
    memset(big, 'x', sizeof(big));
    CHECK(mrd_h1_request_id_ok(big, 1));
    CHECK(mrd_h1_request_id_ok(big, 128));
    CHECK(!mrd_h1_request_id_ok(big, 129));
    CHECK(!mrd_h1_request_id_ok(big, 0));
#if 1 /* fixed; kept as a regression test */
    /* BUG (src/http/h1.c mrd_h1_request_id_ok): h1.h documents the accepted set as
     * [A-Za-z0-9._:-], but '_' is refused, so ids like "req_123" are replaced. */
    CHECK(rid_ok("req_123"));
    CHECK(rid_ok("_"));
#endif
}

static void test_reason(void)
{
    CHECK_STR(mrd_h1_reason(200), "OK");
    CHECK_STR(mrd_h1_reason(100), "Continue");
    CHECK_STR(mrd_h1_reason(204), "No Content");
    CHECK_STR(mrd_h1_reason(304), "Not Modified");
    CHECK_STR(mrd_h1_reason(400), "Bad Request");
    CHECK_STR(mrd_h1_reason(404), "Not Found");
    CHECK_STR(mrd_h1_reason(413), "Content Too Large");
    CHECK_STR(mrd_h1_reason(417), "Expectation Failed");
    CHECK_STR(mrd_h1_reason(431), "Request Header Fields Too Large");
    CHECK_STR(mrd_h1_reason(501), "Not Implemented");
    CHECK_STR(mrd_h1_reason(502), "Bad Gateway");
    CHECK_STR(mrd_h1_reason(503), "Service Unavailable");
    CHECK_STR(mrd_h1_reason(504), "Gateway Timeout");
    CHECK_STR(mrd_h1_reason(505), "HTTP Version Not Supported");
    CHECK_STR(mrd_h1_reason(0), "");
    CHECK_STR(mrd_h1_reason(299), "");
    CHECK_STR(mrd_h1_reason(-1), "");
    CHECK_STR(mrd_h1_reason(999), "");
    /* every status the parser can report has a reason */
    static const int st[] = { 400, 413, 417, 431, 501, 502, 505 };
    for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
        CHECK(mrd_h1_reason(st[i])[0] != 0);
}

/* ---- known bugs (see the report): disabled until src/ is fixed ---- */

static void test_known_bugs(void)
{
#if 1 /* fixed; kept as a regression test */
    /* BUG (src/http/h1.c h1_check_head, the content_length assignment): a Content-Length
     * above INT64_MAX (llhttp accepts up to UINT64_MAX) is cast to a negative int64_t, so
     * the message reports content_length < 0 ("absent") while llhttp expects that many
     * body bytes, and the max_body_bytes check at HEADERS (content_length > 0) is skipped. */
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 18446744073709551615\r\n\r\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Content-Length: 9223372036854775808\r\n\r\n", 400);
#endif
#if 1 /* fixed; kept as a regression test */
    /* BUG (src/http/h1.c: no check on top of llhttp 8.1): a bare LF as the blank line that
     * ends a chunked body's trailer section ("0\r\n\n", or "0\r\nX: y\r\n\n") completes
     * the message. Body bytes are forwarded verbatim (conn.c), so a peer that requires CRLF
     * sees an unterminated chunked body followed by whatever comes next: a desync risk.
     * Today: COMPLETE. Wanted: FAIL 400 (502 for a response). */
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0\r\n\n", 400);
    REQ_FAIL("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n\n", 400);
    RSP_FAIL("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n");
#endif
}

TEST_MAIN(test_simple_get(); test_host_idx_and_methods(); test_http10_keepalive();
          test_pipelined(); test_byte_by_byte(); test_bodies(); test_limits();
          test_strict_framing(); test_versions(); test_chunk_errors(); test_hop_by_hop();
          test_responses(); test_response_no_body(); test_response_eof(); test_1xx();
          test_host_ok(); test_request_id_ok(); test_reason(); test_known_bugs())
