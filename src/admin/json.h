/* A bounded, growable JSON writer for admin responses. Commas and nesting are tracked so the
 * callers only say what comes next; strings are escaped (control characters, and bytes that
 * are not valid UTF-8 become U+FFFD), so any C string is safe to emit. The same buffer takes
 * raw text too (the Prometheus exposition). */
#ifndef MRD_ADMIN_JSON_H
#define MRD_ADMIN_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MRD_JSON_MAX_DEPTH 64 /* nesting levels; one bit each in has_items */

struct mrd_json {
    char    *p;         /* malloc'ed; NUL-terminated after every write that succeeded */
    size_t   len, cap;
    size_t   max;       /* len never exceeds it: a write that would is dropped and err set */
    int      err;       /* 0, or the first failure (-ENOMEM, -E2BIG); later writes are ignored */
    uint32_t depth;
    uint64_t has_items; /* bit d: the container at depth d already holds a member */
    bool     after_key; /* a key was written; its value takes no comma */
};

/* Prepares an empty writer whose output may grow to <max> bytes. Allocates nothing yet. */
void mrd_json_init(struct mrd_json *j, size_t max);
void mrd_json_free(struct mrd_json *j);
/* Empties the output (keeps the memory) and clears err, depth and the comma state. */
void mrd_json_reset(struct mrd_json *j);

/* Raw bytes, as they are (no comma or escaping). */
void mrd_json_raw(struct mrd_json *j, const char *s, size_t n);
void mrd_json_printf(struct mrd_json *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void mrd_json_obj(struct mrd_json *j);
void mrd_json_obj_end(struct mrd_json *j);
void mrd_json_arr(struct mrd_json *j);
void mrd_json_arr_end(struct mrd_json *j);
/* A member name inside an object; the next value call writes its value. */
void mrd_json_key(struct mrd_json *j, const char *key);

void mrd_json_str(struct mrd_json *j, const char *s); /* NULL writes null */
void mrd_json_strn(struct mrd_json *j, const char *s, size_t n);
void mrd_json_int(struct mrd_json *j, int64_t v);
void mrd_json_uint(struct mrd_json *j, uint64_t v);
void mrd_json_num(struct mrd_json *j, double v); /* NaN and infinities write null */
void mrd_json_bool(struct mrd_json *j, bool v);
void mrd_json_null(struct mrd_json *j);

/* The escaped form of <s> without quotes, appended raw: for text formats that share JSON's
 * string escapes. */
void mrd_json_escape(struct mrd_json *j, const char *s, size_t n);
/* Length of the well-formed UTF-8 sequence at <s> (at most <n> bytes), 0 if malformed:
 * overlong forms, surrogates and code points above U+10FFFF are malformed. */
size_t mrd_json_utf8_len(const unsigned char *s, size_t n);
#endif
