/* HTTP/1.1 message heads over llhttp: bytes in, a validated head struct out.
 * Pure code (no I/O): the proxy feeds buffers, this records where the head's parts are
 * (as offsets into the caller's buffer) and enforces strict framing rules on top of llhttp. */
#ifndef MRD_HTTP_H1_H
#define MRD_HTTP_H1_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

struct mrd_h1_span {
    uint32_t off, len; /* into the buffer the message is parsed from */
};

struct mrd_h1_hdr {
    struct mrd_h1_span name, value;
    uint8_t            skip; /* 1: hop-by-hop or replaced, not forwarded */
};

enum mrd_h1_state {
    MRD_H1_HEAD,   /* reading the head */
    MRD_H1_BODY,   /* head done (parser paused there once), reading the body */
    MRD_H1_DONE,   /* message complete (parser paused there) */
    MRD_H1_ERROR,  /* framing error: see status/why */
};

/* Result of mrd_h1_feed(). */
enum mrd_h1_ret {
    MRD_H1_NEED_MORE,  /* consumed everything given */
    MRD_H1_HEADERS,    /* head complete; caller inspects, then calls feed again */
    MRD_H1_COMPLETE,   /* message complete; bytes after it belong to the next message */
    MRD_H1_FAIL,       /* see msg->status and msg->why */
};

struct mrd_h1_msg {
    llhttp_t           parser;
    const char        *base;     /* buffer the spans point into (set by mrd_h1_feed) */
    enum mrd_h1_state  state;
    /* limits */
    uint32_t           max_head_bytes;
    uint32_t           max_headers;
    uint64_t           max_body_bytes; /* 0 = unlimited */
    /* the head */
    uint32_t           start;    /* offset of the first byte of this message */
    uint32_t           head_end; /* offset just past the blank line */
    struct mrd_h1_span method, target, status_text;
    int                status;   /* response status */
    uint8_t            major, minor;
    struct mrd_h1_hdr *hdrs;     /* caller-provided array of max_headers entries */
    uint32_t           n_hdrs;
    int8_t             last_cb;  /* 1 = field, 2 = value: merges split callbacks */
    /* framing facts, filled at headers-complete */
    int64_t            content_length; /* -1 when absent */
    bool               chunked;
    bool               keep_alive;     /* llhttp_should_keep_alive */
    bool               conn_close;     /* Connection: close */
    bool               upgrade;        /* Upgrade + Connection: upgrade */
    bool               expect_continue;
    bool               needs_eof;      /* response body runs to close (set by the proxy, which knows the request) */
    int                host_idx;       /* index of the Host header, -1 none */
    uint64_t           body_bytes;     /* decoded body bytes seen so far */
    /* the failure, when state == MRD_H1_ERROR */
    int                error_status;   /* 400, 413, 431, 501, 505, or 502 for responses */
    const char        *why;            /* static text for logs and error pages */
};

/* Prepares <m> for a request (type HTTP_REQUEST) or response (HTTP_RESPONSE) stream. */
void mrd_h1_init(struct mrd_h1_msg *m, llhttp_type_t type, struct mrd_h1_hdr *hdrs,
                 uint32_t max_headers, uint32_t max_head_bytes, uint64_t max_body_bytes);
/* Starts the next message at offset <start> of the buffer (keep-alive, pipelining). */
void mrd_h1_next(struct mrd_h1_msg *m, uint32_t start);
/* Parses buf[*pos, end). Advances *pos past what was consumed and stops at the head's end and
 * at the message's end, so the caller sees each. buf must stay at the same address while a
 * head is being read (spans are offsets, but llhttp may keep partial state). */
enum mrd_h1_ret mrd_h1_feed(struct mrd_h1_msg *m, const char *buf, uint32_t *pos, uint32_t end);
/* Tells the parser the peer closed: completes an EOF-delimited body, or fails. */
enum mrd_h1_ret mrd_h1_eof(struct mrd_h1_msg *m);
/* For a response to HEAD (or a 1xx/204/304 the caller knows has no body): call right after
 * MRD_H1_HEADERS, before feeding again. */
void mrd_h1_skip_body(struct mrd_h1_msg *m);

/* Case-insensitive compare of a span with a NUL-terminated lowercase token. */
bool mrd_h1_span_ieq(const char *base, struct mrd_h1_span s, const char *lower);
/* Index of the first header named <lower>, or -1. */
int mrd_h1_find(const struct mrd_h1_msg *m, const char *lower);
/* 1 if <s> is a well-formed request id we forward as is: 1-128 of [A-Za-z0-9._:-]. */
bool mrd_h1_request_id_ok(const char *s, size_t len);
/* 1 if <s> is a valid Host value: reg-name / IPv4 / [IPv6], optional :port. */
bool mrd_h1_host_ok(const char *s, size_t len);
/* Standard reason phrase for <status> ("" for unknown ones). */
const char *mrd_h1_reason(int status);
#endif
