/* Unit tests of src/admin/json: commas and nesting, string escaping (control characters,
 * quotes, valid and invalid UTF-8), numbers, the size bound and sticky failures. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "admin/json.h"
#include "test.h"

static void test_structure(void)
{
    struct mrd_json j;
    mrd_json_init(&j, 1 << 20);
    mrd_json_obj(&j);
    mrd_json_key(&j, "a");
    mrd_json_int(&j, -5);
    mrd_json_key(&j, "b");
    mrd_json_arr(&j);
    mrd_json_bool(&j, true);
    mrd_json_null(&j);
    mrd_json_obj(&j);
    mrd_json_obj_end(&j);
    mrd_json_arr(&j);
    mrd_json_arr_end(&j);
    mrd_json_uint(&j, 18446744073709551615ull);
    mrd_json_arr_end(&j);
    mrd_json_key(&j, "c");
    mrd_json_obj(&j);
    mrd_json_key(&j, "d");
    mrd_json_str(&j, "x");
    mrd_json_obj_end(&j);
    mrd_json_key(&j, "e");
    mrd_json_str(&j, NULL);
    mrd_json_obj_end(&j);
    CHECK_EQ_INT(j.err, 0);
    CHECK_EQ_INT(j.depth, 0);
    CHECK_STR(j.p, "{\"a\":-5,\"b\":[true,null,{},[],18446744073709551615],\"c\":{\"d\":\"x\"},"
                   "\"e\":null}");
    CHECK_EQ_INT(j.len, strlen(j.p));

    /* reset keeps nothing of the old document, comma state included */
    mrd_json_reset(&j);
    mrd_json_arr(&j);
    mrd_json_int(&j, 1);
    mrd_json_int(&j, 2);
    mrd_json_arr_end(&j);
    CHECK_STR(j.p, "[1,2]");
    /* two top-level values in a row get a comma too (a caller bug, but deterministic) */
    mrd_json_free(&j);
    CHECK(j.p == NULL);
}

static const char *esc(struct mrd_json *j, const char *s, size_t n)
{
    mrd_json_reset(j);
    mrd_json_strn(j, s, n);
    return j->p;
}

static void test_escaping(void)
{
    struct mrd_json j;
    mrd_json_init(&j, 1 << 20);
    CHECK_STR(esc(&j, "plain", 5), "\"plain\"");
    CHECK_STR(esc(&j, "q\"b\\s/", 6), "\"q\\\"b\\\\s/\"");
    CHECK_STR(esc(&j, "\b\t\n\f\r", 5), "\"\\b\\t\\n\\f\\r\"");
    CHECK_STR(esc(&j, "\x01\x0b\x1f\x7f", 4), "\"\\u0001\\u000b\\u001f\\u007f\"");
    /* an embedded NUL is data, not the end */
    CHECK_STR(esc(&j, "a\0b", 3), "\"a\\u0000b\"");
    /* valid UTF-8 passes through: 2, 3 and 4 byte forms */
    CHECK_STR(esc(&j, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14),
              "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* malformed bytes become U+FFFD, one per bad byte, and the rest continues */
    CHECK_STR(esc(&j, "a\xff" "b", 3), "\"a\\ufffdb\"");
    CHECK_STR(esc(&j, "\x80", 1), "\"\\ufffd\"");                       /* lone continuation */
    CHECK_STR(esc(&j, "\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");            /* overlong '/' */
    CHECK_STR(esc(&j, "\xe0\x80\xaf", 3), "\"\\ufffd\\ufffd\\ufffd\""); /* overlong 3-byte */
    CHECK_STR(esc(&j, "\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    CHECK_STR(esc(&j, "\xf4\x90\x80\x80", 4),
              "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");                      /* above U+10FFFF */
    CHECK_STR(esc(&j, "\xe2\x82", 2), "\"\\ufffd\\ufffd\"");            /* truncated */
    CHECK_STR(esc(&j, "x\xe2\x82", 3), "\"x\\ufffd\\ufffd\"");
    /* line separators are escaped for JavaScript readers */
    CHECK_STR(esc(&j, "\xe2\x80\xa8\xe2\x80\xa9", 6), "\"\\u2028\\u2029\"");
    /* keys are escaped like values */
    mrd_json_reset(&j);
    mrd_json_obj(&j);
    mrd_json_key(&j, "k\"\n");
    mrd_json_int(&j, 1);
    mrd_json_obj_end(&j);
    CHECK_STR(j.p, "{\"k\\\"\\n\":1}");
    mrd_json_free(&j);
}

static void test_utf8_len(void)
{
    CHECK_EQ_INT(mrd_json_utf8_len((const unsigned char *)"a", 1), 1);
    CHECK_EQ_INT(mrd_json_utf8_len((const unsigned char *)"\xc3\xa9", 2), 2);
    CHECK_EQ_INT(mrd_json_utf8_len((const unsigned char *)"\xc3\xa9", 1), 0);
    CHECK_EQ_INT(mrd_json_utf8_len((const unsigned char *)"\xef\xbf\xbd", 3), 3);
    CHECK_EQ_INT(mrd_json_utf8_len((const unsigned char *)"\xf4\x8f\xbf\xbf", 4), 4);
    CHECK_EQ_INT(mrd_json_utf8_len((const unsigned char *)"\xf5\x80\x80\x80", 4), 0);
    CHECK_EQ_INT(mrd_json_utf8_len((const unsigned char *)"\xc1\xbf", 2), 0);
    CHECK_EQ_INT(mrd_json_utf8_len((const unsigned char *)"\xc3\x28", 2), 0);
    CHECK_EQ_INT(mrd_json_utf8_len((const unsigned char *)"\xf0\x8f\xbf\xbf", 4), 0);
}

static void test_numbers(void)
{
    struct mrd_json j;
    mrd_json_init(&j, 1024);
    mrd_json_arr(&j);
    mrd_json_num(&j, 1.5);
    mrd_json_num(&j, 0.25);
    mrd_json_num(&j, NAN);
    mrd_json_num(&j, INFINITY);
    mrd_json_num(&j, 1e-7);
    mrd_json_int(&j, INT64_MIN);
    mrd_json_arr_end(&j);
    CHECK_STR(j.p, "[1.5,0.25,null,null,1e-07,-9223372036854775808]");
    mrd_json_free(&j);
}

static void test_bound(void)
{
    struct mrd_json j;
    mrd_json_init(&j, 10);
    mrd_json_raw(&j, "0123456789", 10); /* exactly the bound fits */
    CHECK_EQ_INT(j.err, 0);
    CHECK_EQ_INT(j.len, 10);
    mrd_json_raw(&j, "x", 1);
    CHECK_EQ_INT(j.err, -E2BIG);
    CHECK_EQ_INT(j.len, 10);
    /* sticky: nothing more is written even if it would fit after a reset of len */
    mrd_json_str(&j, "");
    CHECK_EQ_INT(j.len, 10);
    CHECK(j.cap <= 11);
    mrd_json_reset(&j);
    CHECK_EQ_INT(j.err, 0);
    mrd_json_str(&j, "abc");
    CHECK_STR(j.p, "\"abc\"");
    mrd_json_free(&j);

    /* a long printf goes straight into the buffer */
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mrd_json_init(&j, 1 << 20);
    mrd_json_printf(&j, "<%s>", big);
    CHECK_EQ_INT(j.len, 1001);
    CHECK(j.p[0] == '<' && j.p[1000] == '>' && j.p[1001] == '\0');
    mrd_json_free(&j);
    mrd_json_init(&j, 500);
    mrd_json_printf(&j, "<%s>", big);
    CHECK_EQ_INT(j.err, -E2BIG);
    CHECK_EQ_INT(j.len, 0);
    mrd_json_free(&j);
}

static void test_misuse(void)
{
    struct mrd_json j;
    mrd_json_init(&j, 1 << 20);
    mrd_json_obj_end(&j); /* unbalanced */
    CHECK(j.err != 0);
    mrd_json_free(&j);

    mrd_json_init(&j, 1 << 20);
    for (int i = 0; i < MRD_JSON_MAX_DEPTH + 5; i++)
        mrd_json_arr(&j);
    CHECK_EQ_INT(j.err, -E2BIG);
    CHECK(j.depth < MRD_JSON_MAX_DEPTH);
    mrd_json_free(&j);
}

TEST_MAIN(test_structure(); test_escaping(); test_utf8_len(); test_numbers(); test_bound();
          test_misuse())
