/* WebSocket protocol pieces (RFC 6455): handshake checks, the incremental frame parser, the
 * builders for frames the gateway sends itself, and the 1012 close pacer. Pure code: nothing
 * here allocates, blocks or reads a clock, so the proxy can call it on the data path. */
#include "ws/ws.h"

#include <string.h>

/* ================================================================== handshake */

/* Lower-case ASCII. */
static inline char ws_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* 1 if s[0, len) equals the lower-case <lit>, ignoring case. */
static bool ws_ieq(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);

    if (len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ws_lower(s[i]) != lit[i])
            return false;
    return true;
}

/* Trims spaces and tabs (HTTP OWS) around s[0, *len); returns the new start. */
static const char *ws_trim(const char *s, size_t *len)
{
    size_t n = *len;

    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *len = n;
    return s;
}

static inline bool ws_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* 1 if s[0, len) is <chars> base64 characters followed by <pad> '=' and nothing else. Bits
 * past the data in the last character are not checked, as common servers do not either. */
static bool ws_b64_shape(const char *s, size_t len, size_t chars, size_t pad)
{
    if (len != chars + pad)
        return false;
    for (size_t i = 0; i < chars; i++)
        if (!ws_b64_char(s[i]))
            return false;
    for (size_t i = chars; i < len; i++)
        if (s[i] != '=')
            return false;
    return true;
}

typedef void (*ws_token_fn)(struct mrd_ws_hs *hs, const char *tok, size_t len);

/* Calls <fn> with each non-empty element of a comma-separated list, trimmed, cut at ';'
 * (extension parameters). Quoted commas are not expected in these fields. */
static void ws_each_token(struct mrd_ws_hs *hs, const char *v, size_t len, ws_token_fn fn)
{
    size_t i = 0;

    while (i < len) {
        size_t start = i, tl;
        while (i < len && v[i] != ',')
            i++;
        tl = i - start;
        const char *semi = memchr(v + start, ';', tl);
        if (semi)
            tl = (size_t)(semi - (v + start));
        const char *t = ws_trim(v + start, &tl);
        if (tl)
            fn(hs, t, tl);
        i++; /* past the comma */
    }
}

static void ws_upgrade_token(struct mrd_ws_hs *hs, const char *t, size_t len)
{
    if (ws_ieq(t, len, "websocket"))
        hs->upgrade_ws = 1;
    else
        hs->upgrade_other = 1;
}

static void ws_conn_token(struct mrd_ws_hs *hs, const char *t, size_t len)
{
    if (ws_ieq(t, len, "upgrade"))
        hs->conn_upgrade = 1;
}

/* permessage-deflate uses RSV1 (RFC 7692); what another extension uses is unknown, so all. */
static void ws_ext_token(struct mrd_ws_hs *hs, const char *t, size_t len)
{
    if (ws_ieq(t, len, "permessage-deflate"))
        hs->rsv_flags |= MRD_WS_ALLOW_RSV1;
    else
        hs->rsv_flags |= MRD_WS_ALLOW_RSV1 | MRD_WS_ALLOW_RSV2 | MRD_WS_ALLOW_RSV3;
}

static inline uint8_t ws_sat_inc(uint8_t n)
{
    return n == 255 ? n : (uint8_t)(n + 1);
}

void mrd_ws_hs_init(struct mrd_ws_hs *hs)
{
    memset(hs, 0, sizeof(*hs));
}

void mrd_ws_hs_hdr(struct mrd_ws_hs *hs, const char *name, size_t name_len, const char *value,
                   size_t value_len)
{
    const char *v = ws_trim(value, &value_len);

    if (ws_ieq(name, name_len, "upgrade")) {
        ws_each_token(hs, v, value_len, ws_upgrade_token);
    } else if (ws_ieq(name, name_len, "connection")) {
        ws_each_token(hs, v, value_len, ws_conn_token);
    } else if (ws_ieq(name, name_len, "sec-websocket-version")) {
        hs->n_version = ws_sat_inc(hs->n_version);
        hs->version_13 = value_len == 2 && v[0] == '1' && v[1] == '3';
    } else if (ws_ieq(name, name_len, "sec-websocket-key")) {
        hs->n_key = ws_sat_inc(hs->n_key);
        hs->key_ok = ws_b64_shape(v, value_len, 22, 2);
    } else if (ws_ieq(name, name_len, "sec-websocket-accept")) {
        hs->n_accept = ws_sat_inc(hs->n_accept);
        hs->accept_ok = ws_b64_shape(v, value_len, 27, 1);
    } else if (ws_ieq(name, name_len, "sec-websocket-extensions")) {
        ws_each_token(hs, v, value_len, ws_ext_token);
    }
}

bool mrd_ws_hs_wants_ws(const struct mrd_ws_hs *hs)
{
    return hs->upgrade_ws;
}

int mrd_ws_check_upgrade(const struct mrd_ws_hs *hs, const char *method, size_t method_len,
                         int http_major, int http_minor, const char **why)
{
    const char *w = NULL;
    int status = 400;

    if (method_len != 3 || memcmp(method, "GET", 3) != 0)
        w = "WebSocket upgrade refused: the request must use GET";
    else if (http_major < 1 || (http_major == 1 && http_minor < 1))
        w = "WebSocket upgrade refused: it needs HTTP/1.1";
    else if (!hs->upgrade_ws)
        w = "WebSocket upgrade refused: the Upgrade header must list \"websocket\"";
    else if (!hs->conn_upgrade)
        w = "WebSocket upgrade refused: the Connection header must list \"upgrade\"";
    else if (hs->n_version == 0)
        w = "WebSocket upgrade refused: Sec-WebSocket-Version is missing; send 13";
    else if (hs->n_version > 1 || !hs->version_13) {
        w = "WebSocket upgrade refused: this server speaks Sec-WebSocket-Version 13 only";
        status = 426;
    } else if (hs->n_key == 0)
        w = "WebSocket upgrade refused: Sec-WebSocket-Key is missing";
    else if (hs->n_key > 1)
        w = "WebSocket upgrade refused: Sec-WebSocket-Key appears more than once";
    else if (!hs->key_ok)
        w = "WebSocket upgrade refused: Sec-WebSocket-Key must be the base64 of 16 random bytes "
            "(24 characters ending in \"==\")";
    if (!w)
        return 0;
    if (why)
        *why = w;
    return status;
}

int mrd_ws_check_accept(const struct mrd_ws_hs *hs, int status, const char **why)
{
    const char *w = NULL;

    if (status != 101)
        w = "origin did not switch protocols (status is not 101)";
    else if (!hs->upgrade_ws)
        w = "origin's 101 answer lacks Upgrade: websocket";
    else if (!hs->conn_upgrade)
        w = "origin's 101 answer lacks Connection: upgrade";
    else if (hs->n_accept != 1 || !hs->accept_ok)
        w = "origin's 101 answer lacks a well-formed Sec-WebSocket-Accept";
    if (!w)
        return 0;
    if (why)
        *why = w;
    return -1;
}

/* ================================================================== UTF-8 */

/* States of the incremental UTF-8 check (RFC 3629): what the next byte must be. */
enum {
    U8_OK,   /* at a character boundary */
    U8_1,    /* one more 80..BF */
    U8_2,    /* two more 80..BF */
    U8_3,    /* three more 80..BF */
    U8_E0,   /* A0..BF then one more (no overlong 3-byte form) */
    U8_ED,   /* 80..9F then one more (no surrogates) */
    U8_F0,   /* 90..BF then two more (no overlong 4-byte form) */
    U8_F4,   /* 80..8F then two more (nothing above U+10FFFF) */
    U8_BAD,
};

/* Advances the UTF-8 state <s> by byte <c>. */
static uint8_t ws_utf8_step(uint8_t s, uint8_t c)
{
    switch (s) {
    case U8_OK:
        if (c < 0x80)
            return U8_OK;
        if (c >= 0xC2 && c <= 0xDF)
            return U8_1;
        if (c == 0xE0)
            return U8_E0;
        if (c == 0xED)
            return U8_ED;
        if (c >= 0xE1 && c <= 0xEF)
            return U8_2;
        if (c == 0xF0)
            return U8_F0;
        if (c >= 0xF1 && c <= 0xF3)
            return U8_3;
        if (c == 0xF4)
            return U8_F4;
        return U8_BAD;
    case U8_1:
    case U8_2:
    case U8_3:
        return c >= 0x80 && c <= 0xBF ? (uint8_t)(s - 1) : U8_BAD;
    case U8_E0:
        return c >= 0xA0 && c <= 0xBF ? U8_1 : U8_BAD;
    case U8_ED:
        return c >= 0x80 && c <= 0x9F ? U8_1 : U8_BAD;
    case U8_F0:
        return c >= 0x90 && c <= 0xBF ? U8_2 : U8_BAD;
    case U8_F4:
        return c >= 0x80 && c <= 0x8F ? U8_2 : U8_BAD;
    default:
        return U8_BAD;
    }
}

/* Runs the UTF-8 check over <len> wire bytes unmasked with <mask> from key index <pos>. */
static uint8_t ws_utf8_run(uint8_t s, const uint8_t *b, size_t len, const uint8_t mask[4],
                           unsigned pos)
{
    for (size_t i = 0; i < len && s != U8_BAD; i++)
        s = ws_utf8_step(s, b[i] ^ mask[(pos + i) & 3]);
    return s;
}

bool mrd_ws_utf8_ok(const uint8_t *s, size_t len)
{
    static const uint8_t zero[4];

    return ws_utf8_run(U8_OK, s, len, zero, 0) == U8_OK;
}

/* ================================================================== parser */

enum { WS_S_B0, WS_S_B1, WS_S_LEN, WS_S_MASK, WS_S_PAYLOAD, WS_S_ERROR };

#define WS_MSG_DEFLATED 0x80 /* in msg_op: the open message is compressed (RSV1) */

static inline unsigned ws_op(const struct mrd_ws_parser *p) { return p->b0 & 0x0F; }
static inline bool ws_fin(const struct mrd_ws_parser *p) { return p->b0 & 0x80; }
static inline bool ws_is_control(unsigned op) { return op & 0x8; }

const char *mrd_ws_strerror(enum mrd_ws_err err)
{
    switch (err) {
    case MRD_WS_OK: return "no error";
    case MRD_WS_E_RSV: return "reserved bit set without an extension that uses it";
    case MRD_WS_E_OPCODE: return "unknown opcode";
    case MRD_WS_E_CTL_LEN: return "control frame longer than 125 bytes";
    case MRD_WS_E_CTL_FRAGMENTED: return "fragmented control frame";
    case MRD_WS_E_UNMASKED: return "client frame is not masked";
    case MRD_WS_E_MASKED: return "server frame is masked";
    case MRD_WS_E_LEN64: return "64-bit frame length with the top bit set";
    case MRD_WS_E_CONT: return "continuation frame with no message to continue";
    case MRD_WS_E_NOT_CONT: return "new data frame while a fragmented message is open";
    case MRD_WS_E_CLOSE_LEN: return "close frame with a 1-byte payload";
    case MRD_WS_E_CLOSE_CODE: return "close frame with a code that may not be sent";
    case MRD_WS_E_UTF8: return "text is not valid UTF-8";
    case MRD_WS_E_TOO_BIG: return "message larger than the configured maximum";
    }
    return "unknown error";
}

uint16_t mrd_ws_err_code(enum mrd_ws_err err)
{
    switch (err) {
    case MRD_WS_OK: return MRD_WS_CLOSE_NORMAL;
    case MRD_WS_E_UTF8: return MRD_WS_CLOSE_BAD_DATA;
    case MRD_WS_E_TOO_BIG: return MRD_WS_CLOSE_TOO_BIG;
    default: return MRD_WS_CLOSE_PROTOCOL;
    }
}

bool mrd_ws_close_code_ok(unsigned code)
{
    /* 1004-1006 and 1015 are reserved or never sent; 1016-2999 are unassigned. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

void mrd_ws_unmask(const uint8_t mask[4], unsigned pos, uint8_t *dst, const uint8_t *src,
                   size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = src[i] ^ mask[(pos + i) & 3];
}

void mrd_ws_parser_init(struct mrd_ws_parser *p, unsigned flags, uint32_t max_msg)
{
    memset(p, 0, sizeof(*p));
    p->flags = (uint8_t)flags;
    p->max_msg = max_msg;
}

bool mrd_ws_parser_at_boundary(const struct mrd_ws_parser *p)
{
    return p->state == WS_S_B0;
}

bool mrd_ws_parser_in_message(const struct mrd_ws_parser *p)
{
    return p->msg_op != 0;
}

/* Fails the stream with <err>; the error is sticky. */
static size_t ws_fail(struct mrd_ws_parser *p, enum mrd_ws_err err, size_t used,
                      struct mrd_ws_event *ev)
{
    p->state = WS_S_ERROR;
    p->err = (uint8_t)err;
    p->close_code = mrd_ws_err_code(err);
    ev->type = MRD_WS_EV_ERROR;
    ev->err = err;
    ev->close_code = p->close_code;
    return used;
}

/* Checks the first header byte: reserved bits, opcode and fragmentation order. */
static enum mrd_ws_err ws_check_b0(struct mrd_ws_parser *p)
{
    unsigned op = ws_op(p), rsv = p->b0 & 0x70, allowed = p->flags & 0x70;

    /* permessage-deflate marks only the first frame of a data message (RFC 7692 6.1) */
    if (op == MRD_WS_OP_CONT || ws_is_control(op))
        allowed &= ~(unsigned)MRD_WS_ALLOW_RSV1;
    if (rsv & ~allowed)
        return MRD_WS_E_RSV;
    if ((op >= 3 && op <= 7) || op >= 0xB)
        return MRD_WS_E_OPCODE;
    if (ws_is_control(op))
        return ws_fin(p) ? MRD_WS_OK : MRD_WS_E_CTL_FRAGMENTED;
    if (op == MRD_WS_OP_CONT)
        return p->msg_op ? MRD_WS_OK : MRD_WS_E_CONT;
    return p->msg_op ? MRD_WS_E_NOT_CONT : MRD_WS_OK;
}

/* Checks the second header byte: the mask bit against the direction, control lengths. */
static enum mrd_ws_err ws_check_b1(struct mrd_ws_parser *p, uint8_t c)
{
    bool masked = c & 0x80, from_client = p->flags & MRD_WS_FROM_CLIENT;
    unsigned len7 = c & 0x7F, op = ws_op(p);

    if (from_client && !masked)
        return MRD_WS_E_UNMASKED;
    if (!from_client && masked)
        return MRD_WS_E_MASKED;
    if (ws_is_control(op) && len7 > MRD_WS_MAX_CONTROL)
        return MRD_WS_E_CTL_LEN;
    if (op == MRD_WS_OP_CLOSE && len7 == 1)
        return MRD_WS_E_CLOSE_LEN;
    return MRD_WS_OK;
}

/* The length is known: counts it against max_msg for data frames. */
static enum mrd_ws_err ws_check_len(struct mrd_ws_parser *p)
{
    if (ws_is_control(ws_op(p)) || !p->max_msg)
        return MRD_WS_OK;
    if ((uint64_t)p->msg_bytes + p->left > p->max_msg)
        return MRD_WS_E_TOO_BIG;
    p->msg_bytes += (uint32_t)p->left;
    return MRD_WS_OK;
}

/* Fills the frame facts every event carries. */
static void ws_event(const struct mrd_ws_parser *p, enum mrd_ws_ev_type type,
                     struct mrd_ws_event *ev)
{
    ev->type = type;
    ev->opcode = (uint8_t)ws_op(p);
    ev->fin = ws_fin(p);
    ev->rsv = (p->b0 >> 4) & 7;
    ev->masked = p->flags & MRD_WS_FROM_CLIENT;
    memcpy(ev->mask, p->mask, 4);
}

/* The header is complete: opens a fragmented message and reports the header. */
static void ws_header_done(struct mrd_ws_parser *p, struct mrd_ws_event *ev)
{
    unsigned op = ws_op(p);

    if (!ws_fin(p) && (op == MRD_WS_OP_TEXT || op == MRD_WS_OP_BIN))
        p->msg_op = (uint8_t)(op | ((p->b0 & 0x40) ? WS_MSG_DEFLATED : 0));
    if (op == MRD_WS_OP_TEXT || op == MRD_WS_OP_BIN)
        p->utf8 = U8_OK;
    p->utf8_ctl = U8_OK;
    p->close_have = 0;
    p->close_code = 0;
    p->mask_pos = 0;
    p->state = WS_S_PAYLOAD;
    ws_event(p, MRD_WS_EV_HEADER, ev);
    ev->len = p->left;
}

/* After the length: the mask follows, or the header is done. */
static enum mrd_ws_err ws_after_len(struct mrd_ws_parser *p, bool *done)
{
    enum mrd_ws_err e = ws_check_len(p);

    if (e)
        return e;
    if (p->flags & MRD_WS_FROM_CLIENT) {
        p->state = WS_S_MASK;
        p->need = 4;
    } else {
        *done = true;
    }
    return MRD_WS_OK;
}

/* Reads header bytes until the header is complete or <len> runs out. */
static size_t ws_parse_header(struct mrd_ws_parser *p, const uint8_t *buf, size_t len,
                              struct mrd_ws_event *ev)
{
    size_t i = 0;
    enum mrd_ws_err e = MRD_WS_OK;
    bool done = false;

    while (i < len && !done) {
        uint8_t c = buf[i++];
        switch (p->state) {
        case WS_S_B0:
            p->b0 = c;
            memset(p->mask, 0, 4);
            if (!(e = ws_check_b0(p)))
                p->state = WS_S_B1;
            break;
        case WS_S_B1:
            if ((e = ws_check_b1(p, c)))
                break;
            p->left = c & 0x7F;
            if (p->left >= 126) {
                p->need = p->left == 126 ? 2 : 8;
                p->left = 0;
                p->state = WS_S_LEN;
            } else {
                e = ws_after_len(p, &done);
            }
            break;
        case WS_S_LEN:
            if (p->need == 8 && (c & 0x80)) {
                e = MRD_WS_E_LEN64;
                break;
            }
            p->left = p->left << 8 | c;
            if (--p->need == 0)
                e = ws_after_len(p, &done);
            break;
        case WS_S_MASK:
            p->mask[4 - p->need] = c;
            done = --p->need == 0;
            break;
        }
        if (e)
            return ws_fail(p, e, i, ev);
    }
    if (done)
        ws_header_done(p, ev);
    else
        ev->type = MRD_WS_EV_NEED_MORE;
    return i;
}

/* 1 if the current frame's payload is text that must be checked for UTF-8. */
static bool ws_checks_text(const struct mrd_ws_parser *p)
{
    unsigned op = ws_op(p);

    if (!(p->flags & MRD_WS_VALIDATE_UTF8))
        return false;
    if (op == MRD_WS_OP_TEXT)
        return !(p->b0 & 0x40); /* compressed text is checked by whoever inflates it */
    return op == MRD_WS_OP_CONT && p->msg_op == MRD_WS_OP_TEXT;
}

/* Looks at a close frame's payload bytes: the code (checked once whole), then the reason. */
static enum mrd_ws_err ws_close_bytes(struct mrd_ws_parser *p, const uint8_t *b, size_t n)
{
    size_t i = 0;

    for (; i < n && p->close_have < 2; i++, p->close_have++) {
        uint8_t c = b[i] ^ p->mask[(p->mask_pos + i) & 3];
        p->close_code = (uint16_t)(p->close_code << 8 | c);
        if (p->close_have == 1 && !mrd_ws_close_code_ok(p->close_code))
            return MRD_WS_E_CLOSE_CODE;
    }
    if (i < n && (p->flags & MRD_WS_VALIDATE_UTF8)) {
        p->utf8_ctl = ws_utf8_run(p->utf8_ctl, b + i, n - i, p->mask, (p->mask_pos + i) & 3);
        if (p->utf8_ctl == U8_BAD)
            return MRD_WS_E_UTF8;
    }
    return MRD_WS_OK;
}

/* Ends the current frame: closes the message on FIN and reports the close code. */
static size_t ws_frame_end(struct mrd_ws_parser *p, struct mrd_ws_event *ev)
{
    unsigned op = ws_op(p);

    if (op == MRD_WS_OP_CLOSE && (p->flags & MRD_WS_VALIDATE_UTF8) && p->utf8_ctl != U8_OK)
        return ws_fail(p, MRD_WS_E_UTF8, 0, ev);
    if (!ws_is_control(op) && ws_fin(p)) {
        if (ws_checks_text(p) && p->utf8 != U8_OK)
            return ws_fail(p, MRD_WS_E_UTF8, 0, ev);
        p->msg_op = 0;
        p->msg_bytes = 0;
    }
    ws_event(p, MRD_WS_EV_FRAME_END, ev);
    ev->msg_end = ws_fin(p);
    if (op == MRD_WS_OP_CLOSE)
        ev->close_code = p->close_have == 2 ? p->close_code : MRD_WS_CLOSE_NO_STATUS;
    p->state = WS_S_B0;
    return 0;
}

/* Reports the next payload chunk (checked on the way), or the frame's end. */
static size_t ws_parse_payload(struct mrd_ws_parser *p, const uint8_t *buf, size_t len,
                               struct mrd_ws_event *ev)
{
    size_t n;
    enum mrd_ws_err e = MRD_WS_OK;

    if (p->left == 0)
        return ws_frame_end(p, ev);
    if (len == 0) {
        ev->type = MRD_WS_EV_NEED_MORE;
        return 0;
    }
    n = p->left < len ? (size_t)p->left : len;
    if (ws_op(p) == MRD_WS_OP_CLOSE) {
        e = ws_close_bytes(p, buf, n);
    } else if (ws_checks_text(p)) {
        p->utf8 = ws_utf8_run(p->utf8, buf, n, p->mask, p->mask_pos);
        if (p->utf8 == U8_BAD)
            e = MRD_WS_E_UTF8;
    }
    if (e)
        return ws_fail(p, e, n, ev);
    ws_event(p, MRD_WS_EV_PAYLOAD, ev);
    ev->data = buf;
    ev->len = n;
    ev->mask_pos = p->mask_pos;
    p->mask_pos = (uint8_t)((p->mask_pos + n) & 3);
    p->left -= n;
    return n;
}

size_t mrd_ws_parse(struct mrd_ws_parser *p, const uint8_t *buf, size_t len,
                    struct mrd_ws_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    switch (p->state) {
    case WS_S_ERROR:
        ev->type = MRD_WS_EV_ERROR;
        ev->err = (enum mrd_ws_err)p->err;
        ev->close_code = p->close_code;
        return 0;
    case WS_S_PAYLOAD:
        return ws_parse_payload(p, buf, len, ev);
    default:
        return ws_parse_header(p, buf, len, ev);
    }
}

/* ================================================================== builders */

/* Writes a FIN frame header for <opcode>/<len>, with <mask> if given; returns its size. */
static size_t ws_put_header(uint8_t *out, unsigned opcode, uint64_t len, const uint8_t *mask)
{
    size_t o = 2;

    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
    } else if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        o = 4;
    } else {
        out[1] = 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        o = 10;
    }
    if (mask) {
        out[1] |= 0x80;
        memcpy(out + o, mask, 4);
        o += 4;
    }
    return o;
}

static size_t ws_header_size(uint64_t len, bool masked)
{
    return (len < 126 ? 2 : len <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0);
}

size_t mrd_ws_build_frame(uint8_t *out, size_t cap, unsigned opcode, const uint8_t *payload,
                          size_t len, const uint8_t *mask)
{
    size_t h = ws_header_size(len, mask != NULL);

    if (opcode > 0xF || (ws_is_control(opcode) && len > MRD_WS_MAX_CONTROL))
        return 0;
    if (cap < h || cap - h < len)
        return 0;
    ws_put_header(out, opcode, len, mask);
    if (len)
        memmove(out + h, payload, len);
    if (mask)
        mrd_ws_unmask(mask, 0, out + h, out + h, len);
    return h + len;
}

size_t mrd_ws_build_close(uint8_t *out, size_t cap, uint16_t code, const char *reason,
                          const uint8_t *mask)
{
    uint8_t pl[MRD_WS_MAX_CONTROL];
    size_t n = 0, rl = reason ? strlen(reason) : 0;

    if (code) {
        if (!mrd_ws_close_code_ok(code))
            return 0;
        pl[0] = (uint8_t)(code >> 8);
        pl[1] = (uint8_t)code;
        if (rl > MRD_WS_MAX_REASON) {
            rl = MRD_WS_MAX_REASON;
            /* cut before a continuation byte so the reason stays UTF-8 */
            while (rl && ((uint8_t)reason[rl] & 0xC0) == 0x80)
                rl--;
        }
        if (rl)
            memcpy(pl + 2, reason, rl);
        n = 2 + rl;
    }
    return mrd_ws_build_frame(out, cap, MRD_WS_OP_CLOSE, pl, n, mask);
}

size_t mrd_ws_auto_response(const uint8_t *payload, size_t len, const char *req, size_t req_len,
                            const char *rsp, size_t rsp_len, uint8_t *out, size_t cap)
{
    if (len != req_len || (len && memcmp(payload, req, len) != 0))
        return 0;
    return mrd_ws_build_frame(out, cap, MRD_WS_OP_TEXT, (const uint8_t *)rsp, rsp_len, NULL);
}

/* ================================================================== pacing */

/* Adds the tokens earned since the last fill. A clock that goes back earns nothing. */
static void ws_pacer_fill(struct mrd_ws_pacer *pc, uint64_t now_ms)
{
    uint32_t full = pc->rate * 1000;

    if (now_ms <= pc->last_ms)
        return;
    if (now_ms - pc->last_ms >= 1000) {
        pc->milli = full; /* a whole second refills any bucket */
    } else {
        uint32_t add = (uint32_t)(now_ms - pc->last_ms) * pc->rate; /* < 1e8 */
        pc->milli = full - pc->milli < add ? full : pc->milli + add;
    }
    pc->last_ms = now_ms;
}

void mrd_ws_pacer_init(struct mrd_ws_pacer *pc, uint32_t rate, uint64_t now_ms)
{
    pc->rate = rate < 1 ? 1 : rate > MRD_WS_PACER_MAX_RATE ? MRD_WS_PACER_MAX_RATE : rate;
    pc->milli = pc->rate * 1000;
    pc->last_ms = now_ms;
}

uint32_t mrd_ws_pacer_take(struct mrd_ws_pacer *pc, uint32_t want, uint64_t now_ms)
{
    uint32_t have;

    ws_pacer_fill(pc, now_ms);
    have = pc->milli / 1000;
    if (want > have)
        want = have;
    pc->milli -= want * 1000;
    return want;
}

uint64_t mrd_ws_pacer_wait_ms(struct mrd_ws_pacer *pc, uint64_t now_ms)
{
    ws_pacer_fill(pc, now_ms);
    if (pc->milli >= 1000)
        return 0;
    return (1000 - pc->milli + pc->rate - 1) / pc->rate;
}
