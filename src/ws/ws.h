/* WebSocket (RFC 6455) protocol pieces as pure code: the upgrade handshake checks, an
 * incremental frame parser that never copies or allocates, frame builders for the frames the
 * gateway says itself (close, pong, auto-response), and the token bucket that paces 1012
 * closes. No I/O and no clock here: the proxy feeds bytes and passes now_ms in. */
#ifndef MRD_WS_WS_H
#define MRD_WS_WS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ handshake */

/* The one protocol version there is (RFC 6455 4.1). A request for another version is refused
 * with 426 and this header, which lists what we speak (RFC 6455 4.4). */
#define MRD_WS_VERSION     "13"
#define MRD_WS_VERSION_HDR "Sec-WebSocket-Version: 13"

/* What the handshake checks learned from a head's header fields, fed one by one with
 * mrd_ws_hs_hdr(). Values are only inspected, never kept. */
struct mrd_ws_hs {
    uint8_t upgrade_ws;    /* Upgrade lists the token "websocket" */
    uint8_t upgrade_other; /* Upgrade lists something else too (e.g. "h2c, websocket") */
    uint8_t conn_upgrade;  /* Connection lists the token "upgrade" */
    uint8_t n_version;     /* Sec-WebSocket-Version fields seen (saturates at 255) */
    uint8_t version_13;    /* the (single) version field is exactly "13" */
    uint8_t n_key;         /* Sec-WebSocket-Key fields seen (saturates) */
    uint8_t key_ok;        /* the (single) key is 22 base64 chars and "==": 16 bytes */
    uint8_t n_accept;      /* Sec-WebSocket-Accept fields seen (saturates) */
    uint8_t accept_ok;     /* the (single) accept is 27 base64 chars and "=": 20 bytes */
    uint8_t rsv_flags;     /* MRD_WS_ALLOW_RSV* the listed extensions may use: RSV1 for
                            * permessage-deflate, all three for an extension we do not know */
};

/* Starts collecting a new head. */
void mrd_ws_hs_init(struct mrd_ws_hs *hs);
/* Looks at one header field of the request or the response; names ignore case, values are
 * trimmed of spaces and tabs. Fields that repeat a list header (Upgrade, Connection) add up. */
void mrd_ws_hs_hdr(struct mrd_ws_hs *hs, const char *name, size_t name_len, const char *value,
                   size_t value_len);
/* 1 if the request asks for a WebSocket at all (Upgrade lists "websocket"). The proxy calls
 * mrd_ws_check_upgrade() only then; other upgrades are not tunnelled. */
bool mrd_ws_hs_wants_ws(const struct mrd_ws_hs *hs);
/* Checks an upgrade request (RFC 6455 4.1 and 4.2.1): method GET, HTTP/1.1 or later,
 * Upgrade lists "websocket", Connection lists "upgrade", one Sec-WebSocket-Version that is
 * exactly "13", one Sec-WebSocket-Key that is the base64 of 16 bytes. Returns
 *   0    a valid upgrade: forward it to the origin;
 *   400  not valid; *why is a static sentence for the error page and the log;
 *   426  only the version is wrong (or absent: 400); the answer must carry
 *        MRD_WS_VERSION_HDR so the client can retry with a version we speak (RFC 6455 4.4).
 * The accept key is not recomputed here: the origin answers the key, we only pass it on. */
int mrd_ws_check_upgrade(const struct mrd_ws_hs *hs, const char *method, size_t method_len,
                         int http_major, int http_minor, const char **why);
/* Checks the origin's answer before the tunnel opens: status 101, Upgrade lists "websocket",
 * Connection lists "upgrade", one Sec-WebSocket-Accept of the right shape (its value is the
 * origin's business and the client checks it). 0 ok, else -1 and a static *why (answer 502).
 * Then hs->rsv_flags go to both parsers of the tunnel (extensions the origin accepted). */
int mrd_ws_check_accept(const struct mrd_ws_hs *hs, int status, const char **why);

/* ------------------------------------------------------------------ frames */

enum mrd_ws_opcode {
    MRD_WS_OP_CONT  = 0x0,
    MRD_WS_OP_TEXT  = 0x1,
    MRD_WS_OP_BIN   = 0x2,
    MRD_WS_OP_CLOSE = 0x8,
    MRD_WS_OP_PING  = 0x9,
    MRD_WS_OP_PONG  = 0xA,
};

/* Close codes the gateway uses or reports (RFC 6455 7.4.1, IANA registry). */
#define MRD_WS_CLOSE_NORMAL     1000
#define MRD_WS_CLOSE_GOING_AWAY 1001 /* SIGTERM drain */
#define MRD_WS_CLOSE_PROTOCOL   1002 /* a frame broke the protocol */
#define MRD_WS_CLOSE_NO_STATUS  1005 /* never sent: a close frame without a code */
#define MRD_WS_CLOSE_BAD_DATA   1007 /* text that is not UTF-8 */
#define MRD_WS_CLOSE_TOO_BIG    1009 /* message over the configured maximum */
#define MRD_WS_CLOSE_RESTART    1012 /* origin down or drained (on_origin_down: close) */

#define MRD_WS_MAX_HDR     14  /* 2 + 8 (64-bit length) + 4 (mask) */
#define MRD_WS_MAX_CONTROL 125 /* payload bytes of a control frame */
#define MRD_WS_MAX_REASON  123 /* close reason bytes after the 2-byte code */
#define MRD_WS_CLOSE_MAX   (2 + 4 + MRD_WS_MAX_CONTROL) /* biggest close frame we build */

/* Parser modes (mrd_ws_parser_init flags). */
#define MRD_WS_FROM_CLIENT   0x01 /* frames must be masked (else: must not be, from a server) */
#define MRD_WS_VALIDATE_UTF8 0x02 /* text messages and close reasons must be UTF-8 (1007) */
#define MRD_WS_ALLOW_RSV1    0x40 /* an extension uses RSV1 (permessage-deflate negotiated); */
#define MRD_WS_ALLOW_RSV2    0x20 /* the values are the RSV bits' places in the first */
#define MRD_WS_ALLOW_RSV3    0x10 /* header byte */

/* Why a stream was refused; mrd_ws_strerror() spells each one. */
enum mrd_ws_err {
    MRD_WS_OK,
    MRD_WS_E_RSV,            /* 1002 reserved bit set with no extension for it */
    MRD_WS_E_OPCODE,         /* 1002 opcode 3-7 or 0xB-0xF */
    MRD_WS_E_CTL_LEN,        /* 1002 control frame over 125 bytes */
    MRD_WS_E_CTL_FRAGMENTED, /* 1002 control frame without FIN */
    MRD_WS_E_UNMASKED,       /* 1002 client frame not masked */
    MRD_WS_E_MASKED,         /* 1002 server frame masked */
    MRD_WS_E_LEN64,          /* 1002 64-bit length with the top bit set */
    MRD_WS_E_CONT,           /* 1002 continuation with no message open */
    MRD_WS_E_NOT_CONT,       /* 1002 new data frame while a fragmented message is open */
    MRD_WS_E_CLOSE_LEN,      /* 1002 close payload of 1 byte */
    MRD_WS_E_CLOSE_CODE,     /* 1002 close code that may not be sent */
    MRD_WS_E_UTF8,           /* 1007 text or close reason not UTF-8 (validating mode) */
    MRD_WS_E_TOO_BIG,        /* 1009 message over max_msg */
};

/* Incremental frame parser for one direction of one tunnel: 32 bytes, no buffer. It keeps
 * only what a frame boundary needs across reads, so a hibernating tunnel keeps it too. */
struct mrd_ws_parser {
    uint64_t left;      /* header: the length being read; payload: bytes still to come */
    uint32_t msg_bytes; /* payload of the open message so far (counted only with max_msg) */
    uint32_t max_msg;   /* message size limit, summed over fragments; 0 = none */
    uint8_t  mask[4];   /* this frame's key (zero when unmasked) */
    uint16_t close_code; /* close frame: the code read so far; after an error: code to send */
    uint8_t  state;     /* WS_S_* in ws.c */
    uint8_t  need;      /* header bytes still to read in this state */
    uint8_t  b0;        /* first header byte: FIN, RSV1-3, opcode */
    uint8_t  flags;     /* MRD_WS_FROM_CLIENT | MRD_WS_VALIDATE_UTF8 | MRD_WS_ALLOW_RSV* */
    uint8_t  msg_op;    /* opcode of the open fragmented message; 0 = none open */
    uint8_t  utf8;      /* UTF-8 state of the open text message */
    uint8_t  utf8_ctl;  /* UTF-8 state of the close reason being read */
    uint8_t  err;       /* enum mrd_ws_err once failed (sticky) */
    uint8_t  mask_pos;  /* index into mask[] of the next payload byte */
    uint8_t  close_have; /* close code bytes read so far (0..2) */
};

enum mrd_ws_ev_type {
    MRD_WS_EV_NEED_MORE, /* every byte given was used; call again with more */
    MRD_WS_EV_HEADER,    /* a frame header is complete: opcode, fin, rsv, masked, len, mask */
    MRD_WS_EV_PAYLOAD,   /* data/len: payload bytes as they are on the wire (still masked) */
    MRD_WS_EV_FRAME_END, /* the frame is complete (also right after a 0-length header) */
    MRD_WS_EV_ERROR,     /* the stream is refused: see err and close_code; sticky */
};

/* What one mrd_ws_parse() call found. Fields that do not apply to <type> are zero. */
struct mrd_ws_event {
    enum mrd_ws_ev_type type;
    uint8_t             opcode;   /* of the current frame (HEADER, PAYLOAD, FRAME_END) */
    bool                fin;
    uint8_t             rsv;      /* RSV1-3 as 0x4/0x2/0x1 */
    bool                masked;
    bool                msg_end;  /* FRAME_END of a FIN data frame or of any control frame */
    uint64_t            len;      /* HEADER: payload length; PAYLOAD: bytes at data */
    const uint8_t      *data;     /* PAYLOAD: inside the caller's buffer */
    uint8_t             mask[4];  /* HEADER, PAYLOAD: the frame's key */
    uint8_t             mask_pos; /* PAYLOAD: key index of data[0], for mrd_ws_unmask() */
    uint16_t            close_code; /* FRAME_END of a close frame: its code, 1005 when none;
                                     * ERROR: the code to close with (1002, 1007, 1009) */
    enum mrd_ws_err     err;      /* ERROR */
};

/* Prepares <p> for a new stream. <flags> is a mix of MRD_WS_FROM_CLIENT,
 * MRD_WS_VALIDATE_UTF8 and MRD_WS_ALLOW_RSV*; <max_msg> bounds a message's payload summed
 * over its fragments (0 = no bound; 1..4 GiB-1). */
void mrd_ws_parser_init(struct mrd_ws_parser *p, unsigned flags, uint32_t max_msg);
/* Parses buf[0, len) up to the next event and returns how many bytes it used. Call it in a
 * loop until it reports MRD_WS_EV_NEED_MORE (all <len> bytes used) or MRD_WS_EV_ERROR; any
 * split of the stream, down to one byte per call, yields the same events (payload chunks
 * follow the splits). Bytes are never written: the caller forwards them as they are.
 * Text is checked byte by byte, so a UTF-8 error shows as soon as a byte makes the text
 * invalid (RFC 6455 8.1 allows failing fast), or at the message's end for a cut character.
 * Non-minimal length encodings are accepted, as most peers do. */
size_t mrd_ws_parse(struct mrd_ws_parser *p, const uint8_t *buf, size_t len,
                    struct mrd_ws_event *ev);
/* 1 when the parser sits between two frames: a control frame (a close, a pong) may be
 * injected into the stream there, even inside a fragmented message. */
bool mrd_ws_parser_at_boundary(const struct mrd_ws_parser *p);
/* 1 while a fragmented data message is open (its final frame is still to come). */
bool mrd_ws_parser_in_message(const struct mrd_ws_parser *p);
/* XORs <len> bytes of <src> with <mask> starting at key index <pos> into <dst> (dst == src
 * unmasks in place). Masking and unmasking are the same operation. */
void mrd_ws_unmask(const uint8_t mask[4], unsigned pos, uint8_t *dst, const uint8_t *src,
                   size_t len);
/* A sentence for <err> (static). */
const char *mrd_ws_strerror(enum mrd_ws_err err);
/* The close code that goes with <err> (1002, 1007 or 1009; 1000 for MRD_WS_OK). */
uint16_t mrd_ws_err_code(enum mrd_ws_err err);
/* 1 if <code> may travel in a close frame (1000-1003, 1007-1014, 3000-4999). */
bool mrd_ws_close_code_ok(unsigned code);
/* 1 if s[0, len) is complete, well-formed UTF-8 (no surrogates, no overlongs, <= U+10FFFF). */
bool mrd_ws_utf8_ok(const uint8_t *s, size_t len);

/* ------------------------------------------------------------------ builders */

/* Writes one unfragmented frame (FIN set) into out[0, cap): <opcode>, <payload>/<len>, masked
 * with <mask> when it is not NULL (frames to an origin; the key comes from the caller's RNG),
 * unmasked otherwise (frames to a client). Returns the frame's size, or 0 when it does not fit
 * in <cap> (at most len + MRD_WS_MAX_HDR is needed) or a control frame is over 125 bytes. */
size_t mrd_ws_build_frame(uint8_t *out, size_t cap, unsigned opcode, const uint8_t *payload,
                          size_t len, const uint8_t *mask);
/* Writes a close frame with <code> (0 = no code, empty payload) and <reason> (NULL or
 * NUL-terminated; cut to 123 bytes at a UTF-8 character boundary). <mask> as above: 1001 and
 * 1012 go to clients unmasked, a close to an origin is masked. <cap> >= MRD_WS_CLOSE_MAX is
 * always enough. Returns the size, or 0 when it does not fit or <code> may not be sent. */
size_t mrd_ws_build_close(uint8_t *out, size_t cap, uint16_t code, const char *reason,
                          const uint8_t *mask);
/* rules[].websocket.auto_response: when the unmasked payload of a complete, unfragmented,
 * uncompressed text frame is exactly <req>/<req_len>, writes the unmasked text frame carrying
 * <rsp>/<rsp_len> to the client into out[0, cap) and returns its size; 0 when the payload does
 * not match (forward the frame) or the answer does not fit. The frame stays out of the origin's
 * sight, so an idle tunnel with a chatty client keeps its origin asleep. */
size_t mrd_ws_auto_response(const uint8_t *payload, size_t len, const char *req, size_t req_len,
                            const char *rsp, size_t rsp_len, uint8_t *out, size_t cap);

/* ------------------------------------------------------------------ pacing */

/* Token bucket for 1012 closes: <rate> per second, burst = rate, starting full. Pure: the
 * caller passes a monotonic now_ms. Tokens are counted in thousandths so any rate from 1 to
 * 100000 per second is exact over time. One bucket per worker: give each worker
 * ceil(close_rate / workers) so the process stays near close_rate. */
struct mrd_ws_pacer {
    uint64_t last_ms; /* when the bucket was last filled */
    uint32_t rate;    /* tokens per second, 1..MRD_WS_PACER_MAX_RATE */
    uint32_t milli;   /* tokens x 1000, 0..rate x 1000 */
};
#define MRD_WS_PACER_MAX_RATE 100000

/* Starts a full bucket; <rate> is clamped to 1..MRD_WS_PACER_MAX_RATE. */
void mrd_ws_pacer_init(struct mrd_ws_pacer *pc, uint32_t rate, uint64_t now_ms);
/* Takes up to <want> tokens at <now_ms>; returns how many were granted (0..want). */
uint32_t mrd_ws_pacer_take(struct mrd_ws_pacer *pc, uint32_t want, uint64_t now_ms);
/* Milliseconds from <now_ms> until one token is there (0 = now): when to arm the timer. */
uint64_t mrd_ws_pacer_wait_ms(struct mrd_ws_pacer *pc, uint64_t now_ms);
#endif
