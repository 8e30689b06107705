/* libFuzzer target for the WebSocket frame parser in src/ws/ws.c. The first byte picks the
 * mode (client or server stream, UTF-8 checks, RSV1 allowed, a message size limit), the rest
 * is the stream. It is parsed in one feed and again in pieces (sizes from the input); both
 * must give the same events, and every event must keep the parser's promises. Then the
 * builders' frames must parse back to what went in. Invariants trap. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TRAP_IF(c) do { if (c) __builtin_trap(); } while (0)

/* What a stream produced, independent of how it was split. */
struct result {
    uint64_t events;   /* hash of the non-payload events */
    uint64_t payload;  /* hash of every unmasked payload byte */
    size_t   used;
    int      err;
    unsigned frames;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

/* The open text message, kept to check it is UTF-8 once complete (validating mode). */
struct text {
    uint8_t *b;
    size_t   n;
    bool     on;
};

/* Checks one event against the frame it belongs to; <got> counts the frame's payload. */
static void check_event(const struct mrd_ws_event *ev, unsigned flags, uint64_t *want,
                        uint64_t *got, unsigned *op)
{
    switch (ev->type) {
    case MRD_WS_EV_HEADER:
        TRAP_IF(ev->len >> 63);
        TRAP_IF(ev->opcode >= 8 && (ev->len > MRD_WS_MAX_CONTROL || !ev->fin));
        TRAP_IF((ev->opcode >= 3 && ev->opcode <= 7) || ev->opcode > 0xA);
        TRAP_IF(ev->masked != !!(flags & MRD_WS_FROM_CLIENT));
        TRAP_IF(ev->rsv & ~((flags >> 4) & 7));
        *want = ev->len;
        *got = 0;
        *op = ev->opcode;
        break;
    case MRD_WS_EV_PAYLOAD:
        TRAP_IF(ev->len == 0 || *got + ev->len > *want || ev->mask_pos != (*got & 3));
        *got += ev->len;
        break;
    case MRD_WS_EV_FRAME_END:
        TRAP_IF(*got != *want || ev->opcode != *op);
        if (*op == MRD_WS_OP_CLOSE)
            TRAP_IF(ev->close_code != MRD_WS_CLOSE_NO_STATUS &&
                    !mrd_ws_close_code_ok(ev->close_code));
        break;
    case MRD_WS_EV_ERROR:
        TRAP_IF(ev->close_code != 1002 && ev->close_code != 1007 && ev->close_code != 1009);
        TRAP_IF(ev->close_code != mrd_ws_err_code(ev->err));
        TRAP_IF(ev->close_code == 1007 && !(flags & MRD_WS_VALIDATE_UTF8));
        break;
    default:
        break;
    }
}

/* UTF-8 check written differently from ws.c's state machine: decode each code point, then
 * reject overlongs, surrogates and values above U+10FFFF. */
static bool utf8_decode_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
        uint32_t cp = k == 0 ? c : k == 1 ? c & 0x1F : k == 2 ? c & 0x0F : c & 0x07;
        static const uint32_t min[] = { 0, 0x80, 0x800, 0x10000 };
        if (k == 9 || n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

/* Keeps the text of uncompressed text messages; checks it when the message ends. */
static void track_text(struct text *t, const struct mrd_ws_event *ev, unsigned flags)
{
    if (!(flags & MRD_WS_VALIDATE_UTF8))
        return;
    if (ev->type == MRD_WS_EV_HEADER && ev->opcode == MRD_WS_OP_TEXT) {
        t->on = !(ev->rsv & 4);
        t->n = 0;
    } else if (ev->type == MRD_WS_EV_HEADER && ev->opcode != MRD_WS_OP_CONT) {
        if (ev->opcode == MRD_WS_OP_BIN)
            t->on = false;
    } else if (ev->type == MRD_WS_EV_PAYLOAD && t->on && ev->opcode <= MRD_WS_OP_TEXT) {
        mrd_ws_unmask(ev->mask, ev->mask_pos, t->b + t->n, ev->data, ev->len);
        t->n += ev->len;
    } else if (ev->type == MRD_WS_EV_FRAME_END && t->on && ev->opcode <= MRD_WS_OP_TEXT &&
               ev->fin) {
        TRAP_IF(!utf8_decode_ok(t->b, t->n));
        t->on = false;
    }
}

/* Parses buf[0, n) in pieces of 1..16 bytes drawn from <pieces> (none: all at once). */
static struct result parse(const uint8_t *buf, size_t n, unsigned flags, uint32_t max,
                           const uint8_t *pieces, size_t n_pieces, uint8_t *text_buf)
{
    struct mrd_ws_parser p;
    struct mrd_ws_event ev;
    struct result r = { 0 };
    struct text t = { text_buf, 0, false };
    uint64_t want = 0, got = 0;
    unsigned op = 0;
    size_t pos = 0, k = 0;

    mrd_ws_parser_init(&p, flags, max);
    while (!r.err) {
        size_t end = n_pieces ? pos + 1 + pieces[k++ % n_pieces] % 16 : n;
        if (end > n)
            end = n;
        for (;;) {
            size_t used = mrd_ws_parse(&p, buf + pos, end - pos, &ev);
            TRAP_IF(used > end - pos);
            if (ev.type == MRD_WS_EV_PAYLOAD)
                TRAP_IF(used != ev.len || ev.data != buf + pos);
            else if (ev.type != MRD_WS_EV_ERROR && ev.type != MRD_WS_EV_NEED_MORE)
                TRAP_IF(ev.type == MRD_WS_EV_FRAME_END && used != 0);
            pos += used;
            check_event(&ev, flags, &want, &got, &op);
            track_text(&t, &ev, flags);
            if (ev.type == MRD_WS_EV_NEED_MORE) {
                TRAP_IF(pos != end);
                break;
            }
            if (ev.type == MRD_WS_EV_ERROR) {
                r.err = ev.err;
                r.events = mix(r.events, 1000 + ev.close_code);
                break;
            }
            if (ev.type == MRD_WS_EV_PAYLOAD) {
                for (size_t i = 0; i < ev.len; i++)
                    r.payload = mix(r.payload, ev.data[i] ^ ev.mask[(ev.mask_pos + i) & 3]);
                continue;
            }
            r.events = mix(r.events, (uint64_t)ev.type << 56 | (uint64_t)ev.opcode << 48 |
                           (uint64_t)ev.fin << 40 | (uint64_t)ev.close_code << 24 | ev.len);
            if (ev.type == MRD_WS_EV_FRAME_END) {
                r.frames++;
                TRAP_IF(!mrd_ws_parser_at_boundary(&p));
            }
        }
        if (pos >= n)
            break;
    }
    /* an error stays */
    if (r.err) {
        TRAP_IF(mrd_ws_parse(&p, buf, n, &ev) != 0 || ev.type != MRD_WS_EV_ERROR ||
                (int)ev.err != r.err);
    }
    r.used = pos;
    return r;
}

/* Builds a frame from <payload> and checks it parses back whole and unchanged. */
static void round_trip(const uint8_t *payload, size_t len, unsigned opcode, bool masked)
{
    static const uint8_t key[4] = { 0xa5, 0x00, 0x5a, 0xff };
    size_t cap = len + MRD_WS_MAX_HDR;
    uint8_t *frame = malloc(cap ? cap : 1), *back = malloc(len ? len : 1);
    size_t n = mrd_ws_build_frame(frame, cap, opcode, payload, len, masked ? key : NULL);
    struct mrd_ws_parser p;
    struct mrd_ws_event ev;
    size_t pos = 0, got = 0;

    TRAP_IF(opcode >= 8 && len > MRD_WS_MAX_CONTROL ? n != 0 : n == 0);
    if (n) {
        mrd_ws_parser_init(&p, masked ? MRD_WS_FROM_CLIENT : 0, 0);
        for (;;) {
            pos += mrd_ws_parse(&p, frame + pos, n - pos, &ev);
            TRAP_IF(ev.type == MRD_WS_EV_ERROR);
            if (ev.type == MRD_WS_EV_NEED_MORE)
                break;
            if (ev.type == MRD_WS_EV_HEADER)
                TRAP_IF(ev.len != len || ev.opcode != opcode || !ev.fin);
            if (ev.type == MRD_WS_EV_PAYLOAD) {
                mrd_ws_unmask(ev.mask, ev.mask_pos, back + got, ev.data, ev.len);
                got += ev.len;
            }
        }
        TRAP_IF(pos != n || got != len || (len && memcmp(back, payload, len)));
    }
    free(frame);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned modes[] = { 0, MRD_WS_FROM_CLIENT };
    unsigned flags;
    uint32_t max;
    uint8_t *text;

    if (size < 1 || size > 1 << 20)
        return 0;
    flags = modes[data[0] & 1] | (data[0] & 2 ? MRD_WS_VALIDATE_UTF8 : 0) |
            (data[0] & 4 ? MRD_WS_ALLOW_RSV1 : 0);
    max = data[0] & 8 ? (uint32_t)(data[0] >> 4) * 16 : 0;
    data++;
    size--;
    text = malloc(size ? size : 1);

    struct result a = parse(data, size, flags, max, NULL, 0, text);
    struct result b = parse(data, size, flags, max, data, size, text);
    TRAP_IF(a.err != b.err || a.events != b.events || a.frames != b.frames);
    if (!a.err)
        TRAP_IF(a.payload != b.payload || a.used != size || b.used != size);
    free(text);
    TRAP_IF(mrd_ws_utf8_ok(data, size) != utf8_decode_ok(data, size));

    /* builders: the input as the payload of each frame kind */
    round_trip(data, size, MRD_WS_OP_BIN, size & 1);
    round_trip(data, size < 200 ? size : 200, MRD_WS_OP_PING, !(size & 1));
    if (size >= 2) {
        uint8_t out[MRD_WS_CLOSE_MAX];
        char reason[MRD_WS_MAX_CONTROL + 20];
        size_t rl = size - 2 < sizeof(reason) - 1 ? size - 2 : sizeof(reason) - 1;
        unsigned code = (unsigned)data[0] << 8 | data[1];
        memcpy(reason, data + 2, rl);
        reason[rl] = 0;
        size_t n = mrd_ws_build_close(out, sizeof(out), (uint16_t)code, reason, NULL);
        TRAP_IF(code && !mrd_ws_close_code_ok(code) ? n != 0 : n == 0);
        TRAP_IF(n > MRD_WS_CLOSE_MAX);
    }
    return 0;
}
