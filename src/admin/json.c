/* The admin JSON writer: a bounded growable buffer plus the comma/nesting bookkeeping and
 * string escaping. Failures are sticky, so a handler writes a whole document and checks
 * j->err once at the end. */
#include "admin/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MIN_CAP 1024

void mrd_json_init(struct mrd_json *j, size_t max)
{
    memset(j, 0, sizeof(*j));
    j->max = max;
}

void mrd_json_free(struct mrd_json *j)
{
    free(j->p);
    j->p = NULL;
    j->len = j->cap = 0;
}

void mrd_json_reset(struct mrd_json *j)
{
    j->len = 0;
    if (j->p)
        j->p[0] = '\0';
    j->err = 0;
    j->depth = 0;
    j->has_items = 0;
    j->after_key = false;
}

/* Makes room for <n> more bytes plus the NUL. false (and err set) when over max or OOM. */
static bool json_room(struct mrd_json *j, size_t n)
{
    if (j->err)
        return false;
    if (n > j->max - j->len) {
        j->err = -E2BIG;
        return false;
    }
    if (j->len + n + 1 <= j->cap)
        return true;
    size_t cap = j->cap ? j->cap : JSON_MIN_CAP;
    while (cap < j->len + n + 1)
        cap *= 2;
    if (cap > j->max + 1)
        cap = j->max + 1;
    char *p = realloc(j->p, cap);
    if (!p) {
        j->err = -ENOMEM;
        return false;
    }
    j->p = p;
    j->cap = cap;
    return true;
}

void mrd_json_raw(struct mrd_json *j, const char *s, size_t n)
{
    if (!json_room(j, n))
        return;
    memcpy(j->p + j->len, s, n);
    j->len += n;
    j->p[j->len] = '\0';
}

void mrd_json_printf(struct mrd_json *j, const char *fmt, ...)
{
    char small[256];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (!j->err)
            j->err = -EINVAL;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        mrd_json_raw(j, small, (size_t)n);
        return;
    }
    /* Longer than the stack buffer: format straight into the output. */
    if (!json_room(j, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(j->p + j->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    j->len += (size_t)n;
}

/* The separator a new value or key needs at the current depth. */
static void json_sep(struct mrd_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    uint64_t bit = 1ull << j->depth;
    if (j->has_items & bit)
        mrd_json_raw(j, ",", 1);
    j->has_items |= bit;
}

static void json_open(struct mrd_json *j, char c)
{
    json_sep(j);
    if (j->depth + 1 >= MRD_JSON_MAX_DEPTH) {
        if (!j->err)
            j->err = -E2BIG;
        return;
    }
    mrd_json_raw(j, &c, 1);
    j->depth++;
    j->has_items &= ~(1ull << j->depth);
}

static void json_close(struct mrd_json *j, char c)
{
    if (!j->depth) {
        if (!j->err)
            j->err = -EINVAL; /* unbalanced: a bug in the caller */
        return;
    }
    j->has_items &= ~(1ull << j->depth);
    j->depth--;
    j->after_key = false;
    mrd_json_raw(j, &c, 1);
}

void mrd_json_obj(struct mrd_json *j) { json_open(j, '{'); }
void mrd_json_obj_end(struct mrd_json *j) { json_close(j, '}'); }
void mrd_json_arr(struct mrd_json *j) { json_open(j, '['); }
void mrd_json_arr_end(struct mrd_json *j) { json_close(j, ']'); }

size_t mrd_json_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0; /* continuation byte, 0xc0/0xc1 overlong lead, or beyond U+10FFFF */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void mrd_json_escape(struct mrd_json *j, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0; /* bytes [i - run, i) are copied as they are */

    while (i < n && !j->err) {
        unsigned c = u[i];
        char esc[8];
        size_t elen = 0, skip = 1;

        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            static const char short_esc[] = "btn\0fr"; /* \b=8 \t=9 \n=10 \f=12 \r=13 */
            if (c >= 8 && c <= 13 && short_esc[c - 8])
                esc[0] = '\\', esc[1] = short_esc[c - 8], elen = 2;
            else
                elen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
        } else if (c >= 0x80) {
            skip = mrd_json_utf8_len(u + i, n - i);
            if (!skip) {
                memcpy(esc, "\\ufffd", 6), elen = 6, skip = 1;
            } else if (skip == 3 && c == 0xe2 && u[i + 1] == 0x80 && (u[i + 2] | 1) == 0xa9) {
                /* U+2028/2029 are valid JSON but end lines in JavaScript */
                elen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", 0x2000 + (u[i + 2] - 0x80));
            }
        }
        if (!elen) {
            i += skip;
            run += skip;
            continue;
        }
        mrd_json_raw(j, s + i - run, run);
        mrd_json_raw(j, esc, elen);
        run = 0;
        i += skip;
    }
    mrd_json_raw(j, s + i - run, run);
}

void mrd_json_strn(struct mrd_json *j, const char *s, size_t n)
{
    json_sep(j);
    mrd_json_raw(j, "\"", 1);
    mrd_json_escape(j, s, n);
    mrd_json_raw(j, "\"", 1);
}

void mrd_json_str(struct mrd_json *j, const char *s)
{
    if (!s)
        mrd_json_null(j);
    else
        mrd_json_strn(j, s, strlen(s));
}

void mrd_json_key(struct mrd_json *j, const char *key)
{
    mrd_json_str(j, key);
    mrd_json_raw(j, ":", 1);
    j->after_key = true;
}

void mrd_json_int(struct mrd_json *j, int64_t v)
{
    json_sep(j);
    mrd_json_printf(j, "%lld", (long long)v);
}

void mrd_json_uint(struct mrd_json *j, uint64_t v)
{
    json_sep(j);
    mrd_json_printf(j, "%llu", (unsigned long long)v);
}

void mrd_json_num(struct mrd_json *j, double v)
{
    if (!isfinite(v)) {
        mrd_json_null(j);
        return;
    }
    json_sep(j);
    /* %.6g never prints a bare "inf" or a trailing dot, and its exponent form is valid JSON */
    mrd_json_printf(j, "%.6g", v);
}

void mrd_json_bool(struct mrd_json *j, bool v)
{
    json_sep(j);
    mrd_json_raw(j, v ? "true" : "false", v ? 4 : 5);
}

void mrd_json_null(struct mrd_json *j)
{
    json_sep(j);
    mrd_json_raw(j, "null", 4);
}
