/* Unit tests of src/ws: the upgrade checks, the frame parser (every length class, masking,
 * fragmentation, every protocol error with its close code, any split of the stream down to one
 * byte), the builders round-tripped through the parser, auto-response and the close pacer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ws/ws.h"

static const uint8_t KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* ---- a stream runner -------------------------------------------------------------------- */

/* What a whole stream produced: a text log of the events (payload chunks left out, since
 * they follow the splits) and the unmasked payload bytes of every frame, back to back. */
struct run {
    char     log[8192];
    size_t   log_len;
    uint8_t *data;
    size_t   data_len, data_cap;
    int      err;        /* enum mrd_ws_err, 0 = none */
    unsigned close_code; /* of the error, or of the last close frame */
    size_t   used;       /* bytes consumed in total */
};

/* Appends to r->log while it has room (the format is a literal at every call). */
#define run_log(r, ...) do { if ((r)->log_len < sizeof((r)->log) - 64) \
    (r)->log_len += (size_t)snprintf((r)->log + (r)->log_len, sizeof((r)->log) - (r)->log_len, \
                                     __VA_ARGS__); } while (0)

static void run_data(struct run *r, const struct mrd_ws_event *ev)
{
    if (r->data_len + ev->len > r->data_cap) {
        r->data_cap = (r->data_len + ev->len) * 2 + 64;
        r->data = realloc(r->data, r->data_cap);
    }
    mrd_ws_unmask(ev->mask, ev->mask_pos, r->data + r->data_len, ev->data, ev->len);
    r->data_len += ev->len;
}

/* xorshift64 for split sizes */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Feeds buf[0, len) in pieces: <piece> bytes each (0 = all at once), or random sizes of
 * 1..<piece> when <seed> is not 0. */
static void run_stream(struct run *r, unsigned flags, uint32_t max_msg, const uint8_t *buf,
                       size_t len, size_t piece, uint64_t seed)
{
    struct mrd_ws_parser p;
    struct mrd_ws_event ev;
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    mrd_ws_parser_init(&p, flags, max_msg);
    while (!r->err) {
        size_t end = len;
        if (piece)
            end = off + (seed ? 1 + rng_next(&seed) % piece : piece);
        if (end > len)
            end = len;
        size_t pos = off;
        for (;;) {
            size_t n = mrd_ws_parse(&p, buf + pos, end - pos, &ev);
            pos += n;
            if (ev.type == MRD_WS_EV_NEED_MORE) {
                if (pos != end)
                    run_log(r, "BADNEED/%zu ", pos);
                break;
            }
            if (ev.type == MRD_WS_EV_ERROR) {
                r->err = ev.err;
                r->close_code = ev.close_code;
                run_log(r, "X%u ", ev.close_code);
                break;
            }
            if (ev.type == MRD_WS_EV_HEADER)
                run_log(r, "H%u:%llu", (unsigned)ev.opcode | (ev.fin ? 0x80u : 0u) |
                        (unsigned)ev.rsv << 4, (unsigned long long)ev.len);
            if (ev.type == MRD_WS_EV_PAYLOAD)
                run_data(r, &ev);
            if (ev.type == MRD_WS_EV_FRAME_END) {
                run_log(r, " E%u/%d ", ev.close_code, ev.msg_end);
                if (ev.opcode == MRD_WS_OP_CLOSE)
                    r->close_code = ev.close_code;
            }
        }
        off = pos;
        if (off >= len)
            break;
    }
    r->used = off;
}

static void run_free(struct run *r)
{
    free(r->data);
    r->data = NULL;
}

/* A growable byte string for building streams. */
struct bytes {
    uint8_t *b;
    size_t   n, cap;
};

static void put(struct bytes *s, const void *p, size_t n)
{
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2 + 64;
        s->b = realloc(s->b, s->cap);
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

/* Appends a raw frame: <b0> as given (FIN/RSV/opcode), <len>, masked with KEY if <masked>. */
static void put_frame(struct bytes *s, uint8_t b0, const void *payload, size_t len, int masked)
{
    uint8_t h[14];
    size_t o = 2;

    h[0] = b0;
    if (len < 126) {
        h[1] = (uint8_t)len;
    } else if (len <= 0xFFFF) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        o = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        o = 10;
    }
    if (masked) {
        h[1] |= 0x80;
        memcpy(h + o, KEY, 4);
        o += 4;
    }
    put(s, h, o);
    size_t at = s->n;
    put(s, payload, len);
    if (masked)
        mrd_ws_unmask(KEY, 0, s->b + at, s->b + at, len);
}

#define FIN 0x80
#define CLIENT (MRD_WS_FROM_CLIENT | MRD_WS_VALIDATE_UTF8)
#define SERVER MRD_WS_VALIDATE_UTF8

/* Runs <s> whole, one byte at a time and in random pieces; all three must agree. Returns the
 * whole run (caller frees). */
static struct run run_all(const struct bytes *s, unsigned flags, uint32_t max)
{
    struct run whole, one, rnd;

    run_stream(&whole, flags, max, s->b, s->n, 0, 0);
    run_stream(&one, flags, max, s->b, s->n, 1, 0);
    CHECK_STR(one.log, whole.log);
    /* payload before an error depends on where the chunk that failed began */
    CHECK(whole.err || (one.data_len == whole.data_len &&
                       (!one.data_len || !memcmp(one.data, whole.data, one.data_len))));
    for (uint64_t seed = 1; seed <= 8; seed++) {
        run_stream(&rnd, flags, max, s->b, s->n, 1 + seed * 7, seed * 0x9e3779b97f4a7c15ull);
        CHECK_STR(rnd.log, whole.log);
        CHECK(whole.err || (rnd.data_len == whole.data_len &&
                           (!rnd.data_len || !memcmp(rnd.data, whole.data, rnd.data_len))));
        run_free(&rnd);
    }
    run_free(&one);
    return whole;
}

/* Expects <s> to be refused with <err> and close code <code>. */
static void expect_error(int line, const struct bytes *s, unsigned flags, uint32_t max,
                         enum mrd_ws_err err, unsigned code)
{
    struct run r = run_all(s, flags, max);

    if (r.err != (int)err || r.close_code != code)
        fprintf(stderr, "  test line %d: got error %d (%u) '%s', wanted %d (%u); log %s\n", line,
                r.err, r.close_code, mrd_ws_strerror((enum mrd_ws_err)r.err), err, code, r.log);
    CHECK_EQ_INT(r.err, err);
    CHECK_EQ_INT(r.close_code, code);
    CHECK_EQ_INT(mrd_ws_err_code(err), code);
    run_free(&r);
}
#define EXPECT_ERROR(s, flags, max, err, code) expect_error(__LINE__, s, flags, max, err, code)

/* ---- length classes --------------------------------------------------------------------- */

static void test_length_classes(void)
{
    static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, (1u << 20) + 12345 };
    uint8_t *payload = malloc(lens[7]);

    for (size_t i = 0; i < lens[7]; i++)
        payload[i] = (uint8_t)(i * 7 + (i >> 8));
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        for (int masked = 0; masked < 2; masked++) {
            size_t len = lens[k], cap = len + MRD_WS_MAX_HDR;
            uint8_t *frame = malloc(cap);
            size_t n = mrd_ws_build_frame(frame, cap, MRD_WS_OP_BIN, payload, len,
                                          masked ? KEY : NULL);
            size_t hdr = (len < 126 ? 2 : len <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0);
            char want[64];
            struct run r;

            CHECK_EQ_INT(n, hdr + len);
            CHECK_EQ_INT(mrd_ws_build_frame(frame, n - 1, MRD_WS_OP_BIN, payload, len,
                                            masked ? KEY : NULL), 0); /* one byte short */
            CHECK_EQ_INT(frame[1] & 0x7F, len < 126 ? len : len <= 0xFFFF ? 126 : 127);
            run_stream(&r, masked ? CLIENT : SERVER, 0, frame, n, 0, 0);
            snprintf(want, sizeof(want), "H130:%zu E0/1 ", len);
            CHECK_STR(r.log, want);
            CHECK_EQ_INT(r.err, 0);
            CHECK_EQ_INT(r.data_len, len);
            CHECK(!len || memcmp(r.data, payload, len) == 0);
            CHECK_EQ_INT(r.used, n);
            run_free(&r);
            if (len <= 65536) { /* the big one: a few random splits are enough */
                struct bytes s = { frame, n, cap };
                r = run_all(&s, masked ? CLIENT : SERVER, 0);
                run_free(&r);
            } else {
                run_stream(&r, masked ? CLIENT : SERVER, 0, frame, n, 4093, 42);
                CHECK_STR(r.log, want);
                CHECK(r.data_len == len && memcmp(r.data, payload, len) == 0);
                run_free(&r);
            }
            free(frame);
        }
    }
    free(payload);
}

/* A 64-bit length above 4 GiB is read exactly (the header alone; no payload follows). */
static void test_huge_length_header(void)
{
    const uint8_t h[] = { 0x82, 0x7F, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05 };
    struct mrd_ws_parser p;
    struct mrd_ws_event ev;

    mrd_ws_parser_init(&p, 0, 0);
    CHECK_EQ_INT(mrd_ws_parse(&p, h, sizeof(h), &ev), sizeof(h));
    CHECK_EQ_INT(ev.type, MRD_WS_EV_HEADER);
    CHECK(ev.len == 0x100000005ull);
    CHECK(!mrd_ws_parser_at_boundary(&p));
    CHECK_EQ_INT(mrd_ws_parse(&p, h, 0, &ev), 0);
    CHECK_EQ_INT(ev.type, MRD_WS_EV_NEED_MORE);
    /* with a limit of 4 GiB - 1 it is too big */
    mrd_ws_parser_init(&p, 0, UINT32_MAX);
    mrd_ws_parse(&p, h, sizeof(h), &ev);
    CHECK_EQ_INT(ev.type, MRD_WS_EV_ERROR);
    CHECK_EQ_INT(ev.close_code, 1009);
}

/* ---- fragmentation, control frames, boundaries ------------------------------------------ */

static void test_fragmentation(void)
{
    struct bytes s = { 0 };
    struct run r;

    /* "Hel" + ping in the middle + "lo" + close 1000 "bye" */
    put_frame(&s, MRD_WS_OP_TEXT, "Hel", 3, 1);
    put_frame(&s, FIN | MRD_WS_OP_PING, "p", 1, 1);
    put_frame(&s, MRD_WS_OP_CONT, "", 0, 1);
    put_frame(&s, FIN | MRD_WS_OP_CONT, "lo", 2, 1);
    put_frame(&s, FIN | MRD_WS_OP_CLOSE, "\x03\xe8" "bye", 5, 1);
    r = run_all(&s, CLIENT, 0);
    CHECK_STR(r.log, "H1:3 E0/0 H137:1 E0/1 H0:0 E0/0 H128:2 E0/1 H136:5 E1000/1 ");
    CHECK_EQ_INT(r.err, 0);
    CHECK(r.data_len == 11 && memcmp(r.data, "Helploo\x03\xe8" "bye", 11) != 0);
    CHECK(r.data_len == 11 && memcmp(r.data, "Helplo\x03\xe8" "bye", 11) == 0);
    CHECK_EQ_INT(r.close_code, 1000);
    run_free(&r);
    free(s.b);
}

static void test_boundaries(void)
{
    struct bytes s = { 0 };
    struct mrd_ws_parser p;
    struct mrd_ws_event ev;
    size_t pos = 0;

    put_frame(&s, MRD_WS_OP_BIN, "ab", 2, 0);
    put_frame(&s, FIN | MRD_WS_OP_CONT, "c", 1, 0);
    mrd_ws_parser_init(&p, 0, 0);
    CHECK(mrd_ws_parser_at_boundary(&p));
    CHECK(!mrd_ws_parser_in_message(&p));
    pos += mrd_ws_parse(&p, s.b, 1, &ev); /* half a header */
    CHECK_EQ_INT(ev.type, MRD_WS_EV_NEED_MORE);
    CHECK(!mrd_ws_parser_at_boundary(&p));
    pos += mrd_ws_parse(&p, s.b + pos, s.n - pos, &ev);
    CHECK_EQ_INT(ev.type, MRD_WS_EV_HEADER);
    CHECK(mrd_ws_parser_in_message(&p));
    pos += mrd_ws_parse(&p, s.b + pos, 1, &ev);
    CHECK_EQ_INT(ev.type, MRD_WS_EV_PAYLOAD);
    CHECK(!mrd_ws_parser_at_boundary(&p));
    pos += mrd_ws_parse(&p, s.b + pos, s.n - pos, &ev);
    CHECK_EQ_INT(ev.type, MRD_WS_EV_PAYLOAD);
    pos += mrd_ws_parse(&p, s.b + pos, s.n - pos, &ev);
    CHECK_EQ_INT(ev.type, MRD_WS_EV_FRAME_END);
    CHECK(!ev.msg_end);
    CHECK(mrd_ws_parser_at_boundary(&p)); /* a control frame may go in here */
    CHECK(mrd_ws_parser_in_message(&p));
    while (ev.type != MRD_WS_EV_NEED_MORE)
        pos += mrd_ws_parse(&p, s.b + pos, s.n - pos, &ev);
    CHECK_EQ_INT(pos, s.n);
    CHECK(mrd_ws_parser_at_boundary(&p));
    CHECK(!mrd_ws_parser_in_message(&p));
    free(s.b);
}

/* ---- every protocol error --------------------------------------------------------------- */

static void test_errors(void)
{
    struct bytes s = { 0 };
    static const uint8_t big[200];
#define CASE(build, flags, max, err, code) do { s.n = 0; build; \
        EXPECT_ERROR(&s, flags, max, err, code); } while (0)

    /* reserved bits without an extension; RSV1 on a continuation or control even with one */
    CASE(put_frame(&s, FIN | 0x40 | MRD_WS_OP_TEXT, "a", 1, 1), CLIENT, 0, MRD_WS_E_RSV, 1002);
    CASE(put_frame(&s, FIN | 0x20 | MRD_WS_OP_BIN, "a", 1, 0), SERVER, 0, MRD_WS_E_RSV, 1002);
    CASE(put_frame(&s, FIN | 0x10 | MRD_WS_OP_BIN, "a", 1, 0), SERVER | MRD_WS_ALLOW_RSV1, 0,
         MRD_WS_E_RSV, 1002);
    CASE(put_frame(&s, FIN | 0x40 | MRD_WS_OP_PING, "", 0, 0), SERVER | MRD_WS_ALLOW_RSV1, 0,
         MRD_WS_E_RSV, 1002);
    CASE((put_frame(&s, 0x40 | MRD_WS_OP_TEXT, "a", 1, 0),
          put_frame(&s, FIN | 0x40 | MRD_WS_OP_CONT, "a", 1, 0)),
         SERVER | MRD_WS_ALLOW_RSV1, 0, MRD_WS_E_RSV, 1002);
    /* unknown opcodes */
    for (uint8_t op = 3; op <= 0xF; op++) {
        if (op >= 8 && op <= 0xA)
            continue;
        CASE(put_frame(&s, FIN | op, "", 0, 0), SERVER, 0, MRD_WS_E_OPCODE, 1002);
    }
    /* control frames: too long (all three length forms), fragmented */
    CASE(put_frame(&s, FIN | MRD_WS_OP_PING, big, 126, 1), CLIENT, 0, MRD_WS_E_CTL_LEN, 1002);
    CASE(put_frame(&s, FIN | MRD_WS_OP_PONG, big, 200, 0), SERVER, 0, MRD_WS_E_CTL_LEN, 1002);
    CASE(put(&s, "\x89\x7f\0\0\0\0\0\0\0\x05", 10), SERVER, 0, MRD_WS_E_CTL_LEN, 1002);
    CASE(put_frame(&s, MRD_WS_OP_PING, "", 0, 1), CLIENT, 0, MRD_WS_E_CTL_FRAGMENTED, 1002);
    CASE(put_frame(&s, MRD_WS_OP_CLOSE, "", 0, 0), SERVER, 0, MRD_WS_E_CTL_FRAGMENTED, 1002);
    /* masking against the direction */
    CASE(put_frame(&s, FIN | MRD_WS_OP_TEXT, "a", 1, 0), CLIENT, 0, MRD_WS_E_UNMASKED, 1002);
    CASE(put_frame(&s, FIN | MRD_WS_OP_TEXT, "a", 1, 1), SERVER, 0, MRD_WS_E_MASKED, 1002);
    /* 64-bit length with the top bit set */
    CASE(put(&s, "\x82\x7f\x80\0\0\0\0\0\0\0", 10), SERVER, 0, MRD_WS_E_LEN64, 1002);
    CASE(put(&s, "\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10), CLIENT, 0, MRD_WS_E_LEN64, 1002);
    /* fragmentation order */
    CASE(put_frame(&s, FIN | MRD_WS_OP_CONT, "a", 1, 1), CLIENT, 0, MRD_WS_E_CONT, 1002);
    CASE(put_frame(&s, MRD_WS_OP_CONT, "a", 1, 0), SERVER, 0, MRD_WS_E_CONT, 1002);
    CASE((put_frame(&s, MRD_WS_OP_TEXT, "a", 1, 1), put_frame(&s, FIN | MRD_WS_OP_TEXT, "b", 1, 1)),
         CLIENT, 0, MRD_WS_E_NOT_CONT, 1002);
    CASE((put_frame(&s, MRD_WS_OP_BIN, "a", 1, 0), put_frame(&s, MRD_WS_OP_BIN, "b", 1, 0)),
         SERVER, 0, MRD_WS_E_NOT_CONT, 1002);
    CASE((put_frame(&s, FIN | MRD_WS_OP_BIN, "a", 1, 0), put_frame(&s, FIN | MRD_WS_OP_CONT, "", 0, 0)),
         SERVER, 0, MRD_WS_E_CONT, 1002);
    /* close frames: 1-byte payload, codes that may not be sent */
    CASE(put_frame(&s, FIN | MRD_WS_OP_CLOSE, "\x03", 1, 1), CLIENT, 0, MRD_WS_E_CLOSE_LEN, 1002);
    static const unsigned bad_codes[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000,
                                          65535 };
    for (size_t i = 0; i < sizeof(bad_codes) / sizeof(bad_codes[0]); i++) {
        uint8_t c[2] = { (uint8_t)(bad_codes[i] >> 8), (uint8_t)bad_codes[i] };
        CASE(put_frame(&s, FIN | MRD_WS_OP_CLOSE, c, 2, 1), CLIENT, 0, MRD_WS_E_CLOSE_CODE, 1002);
    }
    /* UTF-8 (validating mode): overlong, surrogate, above U+10FFFF, stray continuation,
     * truncated at the end of the message, in a close reason */
    CASE(put_frame(&s, FIN | MRD_WS_OP_TEXT, "\xc0\x80", 2, 1), CLIENT, 0, MRD_WS_E_UTF8, 1007);
    CASE(put_frame(&s, FIN | MRD_WS_OP_TEXT, "a\xed\xa0\x80", 4, 0), SERVER, 0, MRD_WS_E_UTF8, 1007);
    CASE(put_frame(&s, FIN | MRD_WS_OP_TEXT, "\xf4\x90\x80\x80", 4, 0), SERVER, 0, MRD_WS_E_UTF8, 1007);
    CASE(put_frame(&s, FIN | MRD_WS_OP_TEXT, "\x80", 1, 1), CLIENT, 0, MRD_WS_E_UTF8, 1007);
    CASE(put_frame(&s, FIN | MRD_WS_OP_TEXT, "ok\xe2\x82", 4, 1), CLIENT, 0, MRD_WS_E_UTF8, 1007);
    CASE((put_frame(&s, MRD_WS_OP_TEXT, "\xe2\x82", 2, 1),
          put_frame(&s, FIN | MRD_WS_OP_CONT, "", 0, 1)), CLIENT, 0, MRD_WS_E_UTF8, 1007);
    CASE(put_frame(&s, FIN | MRD_WS_OP_CLOSE, "\x03\xe8\xff", 3, 1), CLIENT, 0, MRD_WS_E_UTF8, 1007);
    CASE(put_frame(&s, FIN | MRD_WS_OP_CLOSE, "\x03\xe8" "a\xc3", 4, 0), SERVER, 0, MRD_WS_E_UTF8, 1007);
    /* message over the maximum: one frame, and summed over fragments */
    CASE(put_frame(&s, FIN | MRD_WS_OP_BIN, big, 101, 1), CLIENT, 100, MRD_WS_E_TOO_BIG, 1009);
    CASE((put_frame(&s, MRD_WS_OP_TEXT, big, 60, 0), put_frame(&s, FIN | MRD_WS_OP_CONT, big, 41, 0)),
         SERVER, 100, MRD_WS_E_TOO_BIG, 1009);
#undef CASE
    free(s.b);
}

/* What is allowed where the errors above are close by. */
static void test_allowed(void)
{
    struct bytes s = { 0 };
    struct run r;
    static const uint8_t big[200];

    /* every valid close code, and a close with no payload (1005 reported, never sent) */
    static const unsigned good[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                                     1013, 1014, 3000, 4999 };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint8_t c[2] = { (uint8_t)(good[i] >> 8), (uint8_t)good[i] };
        s.n = 0;
        put_frame(&s, FIN | MRD_WS_OP_CLOSE, c, 2, 1);
        r = run_all(&s, CLIENT, 0);
        CHECK_EQ_INT(r.err, 0);
        CHECK_EQ_INT(r.close_code, good[i]);
        run_free(&r);
    }
    s.n = 0;
    put_frame(&s, FIN | MRD_WS_OP_CLOSE, "", 0, 0);
    r = run_all(&s, SERVER, 0);
    CHECK_STR(r.log, "H136:0 E1005/1 ");
    run_free(&r);
    /* control frames of exactly 125 bytes; control frames do not count toward max_msg */
    s.n = 0;
    put_frame(&s, FIN | MRD_WS_OP_PING, big, 125, 1);
    put_frame(&s, FIN | MRD_WS_OP_TEXT, big, 10, 1);
    r = run_all(&s, CLIENT, 10);
    CHECK_EQ_INT(r.err, 0);
    CHECK_STR(r.log, "H137:125 E0/1 H129:10 E0/1 ");
    run_free(&r);
    /* max_msg resets after each message; exactly the maximum is fine */
    s.n = 0;
    put_frame(&s, MRD_WS_OP_BIN, big, 50, 0);
    put_frame(&s, FIN | MRD_WS_OP_CONT, big, 50, 0);
    put_frame(&s, FIN | MRD_WS_OP_BIN, big, 100, 0);
    r = run_all(&s, SERVER, 100);
    CHECK_EQ_INT(r.err, 0);
    run_free(&r);
    /* UTF-8: a character split across fragments and across a ping; 4-byte characters */
    s.n = 0;
    put_frame(&s, MRD_WS_OP_TEXT, "caf\xc3", 4, 1);
    put_frame(&s, FIN | MRD_WS_OP_PING, "\xff", 1, 1); /* binary-safe ping payload */
    put_frame(&s, MRD_WS_OP_CONT, "\xa9 \xf0\x9f", 4, 1);
    put_frame(&s, FIN | MRD_WS_OP_CONT, "\x98\x80", 2, 1);
    put_frame(&s, FIN | MRD_WS_OP_TEXT, "\xf4\x8f\xbf\xbf\xed\x9f\xbf", 7, 1);
    r = run_all(&s, CLIENT, 0);
    CHECK_EQ_INT(r.err, 0);
    run_free(&r);
    /* without validating mode, invalid text passes; binary is never checked */
    s.n = 0;
    put_frame(&s, FIN | MRD_WS_OP_TEXT, "\xc0\x80", 2, 1);
    put_frame(&s, FIN | MRD_WS_OP_CLOSE, "\x03\xe8\xff", 3, 1);
    r = run_all(&s, MRD_WS_FROM_CLIENT, 0);
    CHECK_EQ_INT(r.err, 0);
    run_free(&r);
    s.n = 0;
    put_frame(&s, FIN | MRD_WS_OP_BIN, "\xc0\x80", 2, 0);
    r = run_all(&s, SERVER, 0);
    CHECK_EQ_INT(r.err, 0);
    run_free(&r);
    /* permessage-deflate: RSV1 on the first frame; compressed text is not UTF-8 checked */
    s.n = 0;
    put_frame(&s, 0x40 | MRD_WS_OP_TEXT, "\xff\xfe", 2, 0);
    put_frame(&s, FIN | MRD_WS_OP_CONT, "\xc0", 1, 0);
    r = run_all(&s, SERVER | MRD_WS_ALLOW_RSV1, 0);
    CHECK_EQ_INT(r.err, 0);
    CHECK_STR(r.log, "H65:2 E0/0 H128:1 E0/1 ");
    run_free(&r);
    /* an error is sticky */
    {
        struct mrd_ws_parser p;
        struct mrd_ws_event ev;
        const uint8_t bad[] = { 0x83, 0x00, 0x82, 0x00 };
        mrd_ws_parser_init(&p, 0, 0);
        mrd_ws_parse(&p, bad, sizeof(bad), &ev);
        CHECK_EQ_INT(ev.type, MRD_WS_EV_ERROR);
        CHECK_EQ_INT(mrd_ws_parse(&p, bad + 2, 2, &ev), 0);
        CHECK_EQ_INT(ev.type, MRD_WS_EV_ERROR);
        CHECK_EQ_INT(ev.err, MRD_WS_E_OPCODE);
        CHECK_EQ_INT(ev.close_code, 1002);
    }
    free(s.b);
}

/* ---- random streams: any split gives the same events ------------------------------------ */

static void test_random_streams(void)
{
    uint64_t rng = 0x1234567887654321ull;
    uint8_t payload[300];

    for (int round = 0; round < 300; round++) {
        struct bytes s = { 0 };
        int masked = (int)(rng_next(&rng) & 1), open = 0;
        int frames = 1 + (int)(rng_next(&rng) % 12);
        for (int f = 0; f < frames; f++) {
            size_t len = rng_next(&rng) % 3 == 0 ? rng_next(&rng) % 300 : rng_next(&rng) % 8;
            unsigned pick = (unsigned)(rng_next(&rng) % 6);
            uint8_t b0;
            for (size_t i = 0; i < len; i++)
                payload[i] = (uint8_t)('a' + rng_next(&rng) % 26);
            if (pick == 0) {
                b0 = FIN | MRD_WS_OP_PING;
                len %= 126;
            } else if (open) {
                b0 = (pick & 1 ? FIN : 0) | MRD_WS_OP_CONT;
                open = !(b0 & FIN);
            } else {
                b0 = (pick & 1 ? FIN : 0) | (pick & 2 ? MRD_WS_OP_TEXT : MRD_WS_OP_BIN);
                open = !(b0 & FIN);
            }
            if (rng_next(&rng) % 50 == 0) /* now and then a byte that breaks the stream */
                b0 ^= (uint8_t)(1u << (rng_next(&rng) % 8));
            put_frame(&s, b0, payload, len, masked);
        }
        struct run r = run_all(&s, masked ? CLIENT : SERVER, (uint32_t)(rng_next(&rng) % 2) * 600);
        CHECK(r.err || r.used == s.n);
        run_free(&r);
        free(s.b);
    }
}

/* ---- builders round-trip ---------------------------------------------------------------- */

static void test_builders(void)
{
    uint8_t out[MRD_WS_CLOSE_MAX + 64], tmp[200];
    char reason[200];
    struct run r;
    size_t n;

    /* close to a client (unmasked) and to an origin (masked) */
    n = mrd_ws_build_close(out, sizeof(out), 1001, "going away", NULL);
    CHECK_EQ_INT(n, 2 + 2 + 10);
    CHECK(out[0] == 0x88 && out[1] == 12 && out[2] == 0x03 && out[3] == 0xe9);
    run_stream(&r, SERVER, 0, out, n, 0, 0);
    CHECK_STR(r.log, "H136:12 E1001/1 ");
    CHECK(r.data_len == 12 && memcmp(r.data + 2, "going away", 10) == 0);
    run_free(&r);
    n = mrd_ws_build_close(out, sizeof(out), 1012, "origin restarting", KEY);
    CHECK_EQ_INT(n, 2 + 4 + 2 + 17);
    CHECK(out[1] & 0x80);
    CHECK(memcmp(out + 8, "origin restarting", 17) != 0); /* masked on the wire */
    run_stream(&r, CLIENT, 0, out, n, 1, 0);
    CHECK_STR(r.log, "H136:19 E1012/1 ");
    CHECK(memcmp(r.data + 2, "origin restarting", 17) == 0);
    run_free(&r);
    /* no code: empty payload; a code that may not be sent; too small a buffer */
    n = mrd_ws_build_close(out, sizeof(out), 0, "ignored", NULL);
    CHECK(n == 2 && out[0] == 0x88 && out[1] == 0);
    CHECK_EQ_INT(mrd_ws_build_close(out, sizeof(out), 1005, NULL, NULL), 0);
    CHECK_EQ_INT(mrd_ws_build_close(out, sizeof(out), 1006, NULL, NULL), 0);
    CHECK_EQ_INT(mrd_ws_build_close(out, 3, 1000, NULL, NULL), 0);
    CHECK_EQ_INT(mrd_ws_build_close(out, 4, 1000, NULL, NULL), 4);
    /* a long reason is cut to 123 bytes at a character boundary and stays valid */
    memset(reason, 'x', sizeof(reason));
    memcpy(reason + 121, "\xc3\xa9\xc3\xa9", 4); /* é at 121..122, then at 123..124 */
    reason[150] = 0;
    n = mrd_ws_build_close(out, sizeof(out), 1000, reason, KEY);
    CHECK_EQ_INT(n, 2 + 4 + 2 + 123);
    run_stream(&r, CLIENT, 0, out, n, 0, 0);
    CHECK_EQ_INT(r.err, 0);
    run_free(&r);
    memset(reason, 'x', 150);
    memcpy(reason + 122, "\xc3\xa9", 2); /* now é straddles 122..123: cut before it */
    n = mrd_ws_build_close(out, sizeof(out), 1000, reason, NULL);
    CHECK_EQ_INT(n, 2 + 2 + 122);
    run_stream(&r, SERVER, 0, out, n, 0, 0);
    CHECK_EQ_INT(r.err, 0);
    run_free(&r);
    n = mrd_ws_build_close(out, MRD_WS_CLOSE_MAX, 4999, reason, KEY); /* the bound is enough */
    CHECK(n > 0 && n <= MRD_WS_CLOSE_MAX);
    /* pong echoing a ping's payload; control frames over 125 bytes are refused */
    n = mrd_ws_build_frame(out, sizeof(out), MRD_WS_OP_PONG, (const uint8_t *)"hb", 2, NULL);
    CHECK(n == 4 && memcmp(out, "\x8a\x02hb", 4) == 0);
    memset(tmp, 'p', sizeof(tmp));
    CHECK_EQ_INT(mrd_ws_build_frame(out, sizeof(out), MRD_WS_OP_PING, tmp, 126, NULL), 0);
    CHECK_EQ_INT(mrd_ws_build_frame(out, sizeof(out), MRD_WS_OP_PING, tmp, 125, KEY), 131);
    CHECK_EQ_INT(mrd_ws_build_frame(out, sizeof(out), 0x10, tmp, 1, NULL), 0);
    /* in place: payload already at out + header */
    memcpy(out + 2, "abc", 3);
    n = mrd_ws_build_frame(out, sizeof(out), MRD_WS_OP_TEXT, out + 2, 3, NULL);
    CHECK(n == 5 && memcmp(out, "\x81\x03" "abc", 5) == 0);
}

static void test_auto_response(void)
{
    uint8_t out[64];
    size_t n;

    n = mrd_ws_auto_response((const uint8_t *)"ping", 4, "ping", 4, "pong", 4, out, sizeof(out));
    CHECK(n == 6 && memcmp(out, "\x81\x04pong", 6) == 0);
    CHECK_EQ_INT(mrd_ws_auto_response((const uint8_t *)"Ping", 4, "ping", 4, "pong", 4, out,
                                      sizeof(out)), 0);
    CHECK_EQ_INT(mrd_ws_auto_response((const uint8_t *)"ping!", 5, "ping", 4, "pong", 4, out,
                                      sizeof(out)), 0);
    CHECK_EQ_INT(mrd_ws_auto_response((const uint8_t *)"pin", 3, "ping", 4, "pong", 4, out,
                                      sizeof(out)), 0);
    CHECK_EQ_INT(mrd_ws_auto_response((const uint8_t *)"ping", 4, "ping", 4, "pong", 4, out, 5), 0);
    n = mrd_ws_auto_response((const uint8_t *)"{\"t\":\"hb\"}", 10, "{\"t\":\"hb\"}", 10, "", 0,
                             out, sizeof(out));
    CHECK(n == 2 && out[0] == 0x81 && out[1] == 0);
}

/* ---- handshake -------------------------------------------------------------------------- */

struct hdr {
    const char *name, *value;
};

/* Collects <h> (NULL-terminated) and checks it as a GET HTTP/1.1 upgrade. */
static int upgrade(const struct hdr *h, const char *method, int minor, const char **why)
{
    struct mrd_ws_hs hs;

    mrd_ws_hs_init(&hs);
    for (; h->name; h++)
        mrd_ws_hs_hdr(&hs, h->name, strlen(h->name), h->value, strlen(h->value));
    *why = NULL;
    return mrd_ws_check_upgrade(&hs, method, strlen(method), 1, minor, why);
}

#define GOOD_KEY "dGhlIHNhbXBsZSBub25jZQ=="

static void test_upgrade(void)
{
    const char *why;
    const struct hdr good[] = { { "Host", "x" }, { "Upgrade", "websocket" },
                                { "Connection", "Upgrade" }, { "Sec-WebSocket-Version", "13" },
                                { "Sec-WebSocket-Key", GOOD_KEY }, { NULL, NULL } };
    const struct hdr lists[] = { { "upgrade", " h2c , WebSocket " },
                                 { "CONNECTION", "keep-alive" }, { "connection", "x, upgrade" },
                                 { "sec-websocket-version", " 13\t" },
                                 { "SEC-WEBSOCKET-KEY", "  " GOOD_KEY " " }, { NULL, NULL } };

    CHECK_EQ_INT(upgrade(good, "GET", 1, &why), 0);
    CHECK(why == NULL);
    CHECK_EQ_INT(upgrade(lists, "GET", 1, &why), 0);
    /* wrong method, HTTP/1.0 */
    CHECK_EQ_INT(upgrade(good, "POST", 1, &why), 400);
    CHECK(why && strstr(why, "GET"));
    CHECK_EQ_INT(upgrade(good, "get", 1, &why), 400);
    CHECK_EQ_INT(upgrade(good, "GET", 0, &why), 400);
    CHECK(why && strstr(why, "HTTP/1.1"));
    {
        struct mrd_ws_hs hs;
        mrd_ws_hs_init(&hs);
        for (const struct hdr *h = good; h->name; h++)
            mrd_ws_hs_hdr(&hs, h->name, strlen(h->name), h->value, strlen(h->value));
        CHECK(mrd_ws_hs_wants_ws(&hs));
        CHECK_EQ_INT(mrd_ws_check_upgrade(&hs, "GET", 3, 2, 0, &why), 0); /* "or later" */
        CHECK_EQ_INT(mrd_ws_check_upgrade(&hs, "GET", 3, 0, 9, &why), 400);
    }
    /* each required piece missing or wrong */
    struct {
        int         drop;          /* index of good[] to replace */
        struct hdr  with;
        int         status;
        const char *sub;
    } cases[] = {
        { 1, { "X-Nothing", "" }, 400, "Upgrade" },
        { 1, { "Upgrade", "h2c" }, 400, "Upgrade" },
        { 1, { "Upgrade", "websockets" }, 400, "Upgrade" },
        { 2, { "X-Nothing", "" }, 400, "Connection" },
        { 2, { "Connection", "keep-alive" }, 400, "Connection" },
        { 2, { "Connection", "upgrades" }, 400, "Connection" },
        { 3, { "X-Nothing", "" }, 400, "Version is missing" },
        { 3, { "Sec-WebSocket-Version", "8" }, 426, "13" },
        { 3, { "Sec-WebSocket-Version", "13, 8" }, 426, "13" },
        { 3, { "Sec-WebSocket-Version", "130" }, 426, "13" },
        { 4, { "X-Nothing", "" }, 400, "Key is missing" },
        { 4, { "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ" }, 400, "16" },       /* no pad */
        { 4, { "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=" }, 400, "16" },
        { 4, { "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZXg=" }, 400, "16" },     /* 17 bytes */
        { 4, { "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j" }, 400, "16" },         /* 15 bytes */
        { 4, { "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZ!==" }, 400, "16" },
        { 4, { "Sec-WebSocket-Key", "" }, 400, "16" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct hdr h[6];
        memcpy(h, good, sizeof(h));
        h[cases[i].drop] = cases[i].with;
        int st = upgrade(h, "GET", 1, &why);
        CHECK_EQ_INT(st, cases[i].status);
        CHECK(why && strstr(why, cases[i].sub));
        if (!why || !strstr(why, cases[i].sub))
            fprintf(stderr, "  case %zu: why = %s\n", i, why ? why : "(null)");
    }
    /* a second key or version field */
    const struct hdr two_keys[] = { { "Upgrade", "websocket" }, { "Connection", "upgrade" },
                                    { "Sec-WebSocket-Version", "13" },
                                    { "Sec-WebSocket-Key", GOOD_KEY },
                                    { "Sec-WebSocket-Key", GOOD_KEY }, { NULL, NULL } };
    CHECK_EQ_INT(upgrade(two_keys, "GET", 1, &why), 400);
    CHECK(why && strstr(why, "more than once"));
    const struct hdr two_versions[] = { { "Upgrade", "websocket" }, { "Connection", "upgrade" },
                                        { "Sec-WebSocket-Version", "13" },
                                        { "Sec-WebSocket-Version", "13" },
                                        { "Sec-WebSocket-Key", GOOD_KEY }, { NULL, NULL } };
    CHECK_EQ_INT(upgrade(two_versions, "GET", 1, &why), 426);
    CHECK_STR(MRD_WS_VERSION_HDR, "Sec-WebSocket-Version: 13");
    /* not a WebSocket request at all */
    {
        struct mrd_ws_hs hs;
        mrd_ws_hs_init(&hs);
        mrd_ws_hs_hdr(&hs, "Upgrade", 7, "h2c", 3);
        mrd_ws_hs_hdr(&hs, "Connection", 10, "Upgrade, HTTP2-Settings", 23);
        CHECK(!mrd_ws_hs_wants_ws(&hs));
    }
}

static void test_accept(void)
{
    struct mrd_ws_hs hs;
    const char *why = NULL;

    mrd_ws_hs_init(&hs);
    mrd_ws_hs_hdr(&hs, "Upgrade", 7, "websocket", 9);
    mrd_ws_hs_hdr(&hs, "Connection", 10, "Upgrade", 7);
    mrd_ws_hs_hdr(&hs, "Sec-WebSocket-Accept", 20, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28);
    CHECK_EQ_INT(mrd_ws_check_accept(&hs, 101, &why), 0);
    CHECK_EQ_INT(hs.rsv_flags, 0);
    CHECK_EQ_INT(mrd_ws_check_accept(&hs, 200, &why), -1);
    CHECK(why && strstr(why, "101"));
    mrd_ws_hs_hdr(&hs, "Sec-WebSocket-Extensions", 24,
                  "permessage-deflate; client_max_window_bits=15", 45);
    CHECK_EQ_INT(hs.rsv_flags, MRD_WS_ALLOW_RSV1);
    mrd_ws_hs_hdr(&hs, "Sec-WebSocket-Extensions", 24, "x-custom", 8);
    CHECK_EQ_INT(hs.rsv_flags, MRD_WS_ALLOW_RSV1 | MRD_WS_ALLOW_RSV2 | MRD_WS_ALLOW_RSV3);
    mrd_ws_hs_hdr(&hs, "Sec-WebSocket-Accept", 20, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28);
    CHECK_EQ_INT(mrd_ws_check_accept(&hs, 101, &why), -1); /* twice */

    mrd_ws_hs_init(&hs);
    mrd_ws_hs_hdr(&hs, "Upgrade", 7, "websocket", 9);
    mrd_ws_hs_hdr(&hs, "Connection", 10, "Upgrade", 7);
    CHECK_EQ_INT(mrd_ws_check_accept(&hs, 101, &why), -1);
    CHECK(why && strstr(why, "Accept"));
    mrd_ws_hs_hdr(&hs, "Sec-WebSocket-Accept", 20, "short=", 6);
    CHECK_EQ_INT(mrd_ws_check_accept(&hs, 101, &why), -1);

    mrd_ws_hs_init(&hs);
    mrd_ws_hs_hdr(&hs, "Connection", 10, "Upgrade", 7);
    mrd_ws_hs_hdr(&hs, "Sec-WebSocket-Accept", 20, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28);
    CHECK_EQ_INT(mrd_ws_check_accept(&hs, 101, &why), -1);
    CHECK(why && strstr(why, "Upgrade"));
}

/* ---- UTF-8 and close codes -------------------------------------------------------------- */

static void test_utf8(void)
{
    CHECK(mrd_ws_utf8_ok((const uint8_t *)"", 0));
    CHECK(mrd_ws_utf8_ok((const uint8_t *)"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
    CHECK(mrd_ws_utf8_ok((const uint8_t *)"\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7));
    CHECK(!mrd_ws_utf8_ok((const uint8_t *)"\xc1\xbf", 2));         /* overlong */
    CHECK(!mrd_ws_utf8_ok((const uint8_t *)"\xe0\x9f\xbf", 3));     /* overlong */
    CHECK(!mrd_ws_utf8_ok((const uint8_t *)"\xf0\x8f\xbf\xbf", 4)); /* overlong */
    CHECK(!mrd_ws_utf8_ok((const uint8_t *)"\xed\xbf\xbf", 3));     /* surrogate */
    CHECK(!mrd_ws_utf8_ok((const uint8_t *)"\xf5\x80\x80\x80", 4));
    CHECK(!mrd_ws_utf8_ok((const uint8_t *)"\xc3", 1));             /* truncated */
    CHECK(!mrd_ws_utf8_ok((const uint8_t *)"\xc3\x28", 2));
    CHECK(!mrd_ws_utf8_ok((const uint8_t *)"\xfe", 1));
    CHECK(mrd_ws_close_code_ok(1000) && mrd_ws_close_code_ok(1014) && mrd_ws_close_code_ok(3000));
    CHECK(!mrd_ws_close_code_ok(1004) && !mrd_ws_close_code_ok(1015) && !mrd_ws_close_code_ok(5000));
    CHECK(strcmp(mrd_ws_strerror(MRD_WS_E_TOO_BIG), "unknown error") != 0);
}

/* ---- pacer ------------------------------------------------------------------------------ */

static void test_pacer(void)
{
    struct mrd_ws_pacer pc;
    uint64_t now = 5000;
    uint32_t total = 0;

    /* burst = rate, then rate per second */
    mrd_ws_pacer_init(&pc, 200, now);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, 1000, now), 200);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, 1, now), 0);
    CHECK_EQ_INT(mrd_ws_pacer_wait_ms(&pc, now), 5); /* 1000 / 200 */
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, 10, now + 4), 0);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, 10, now + 5), 1);
    now += 5;
    for (int ms = 1; ms <= 10000; ms++) /* 10 s asked for 1 every ms */
        total += mrd_ws_pacer_take(&pc, 1, now + (uint64_t)ms);
    CHECK_EQ_INT(total, 2000);
    /* a long pause refills to the burst and no further */
    now += 10000;
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, 100000, now + 3600000), 200);
    /* slow rates are exact over time: 3 per second */
    mrd_ws_pacer_init(&pc, 3, 0);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, 10, 0), 3);
    CHECK_EQ_INT(mrd_ws_pacer_wait_ms(&pc, 0), 334);
    total = 0;
    for (uint64_t t = 1; t <= 60000; t += 7)
        total += mrd_ws_pacer_take(&pc, 5, t);
    CHECK(total >= 179 && total <= 180);
    /* the highest rate, and clamping */
    mrd_ws_pacer_init(&pc, 1000000, 0);
    CHECK_EQ_INT(pc.rate, MRD_WS_PACER_MAX_RATE);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, UINT32_MAX, 0), 100000);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, UINT32_MAX, 1), 100);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, UINT32_MAX, 999), 99800);
    mrd_ws_pacer_init(&pc, 0, 0);
    CHECK_EQ_INT(pc.rate, 1);
    /* a clock that goes back earns nothing and breaks nothing */
    mrd_ws_pacer_init(&pc, 10, 1000);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, 10, 1000), 10);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, 10, 500), 0);
    CHECK_EQ_INT(mrd_ws_pacer_take(&pc, 10, 1100), 1);
}

static void test_sizes(void)
{
    CHECK(sizeof(struct mrd_ws_parser) <= 32); /* two per tunnel, kept while hibernating */
    CHECK(sizeof(struct mrd_ws_pacer) <= 16);
}

TEST_MAIN(test_length_classes(); test_huge_length_header(); test_fragmentation();
          test_boundaries(); test_errors(); test_allowed(); test_random_streams(); test_builders();
          test_auto_response(); test_upgrade(); test_accept(); test_utf8(); test_pacer();
          test_sizes())
