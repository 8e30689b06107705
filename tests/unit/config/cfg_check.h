/* Shared checks of the config unit tests: load a YAML text under the name "t.yaml" and
 * compare what the loader says with what the test expects. Include after test.h. */
#ifndef MRD_TEST_CFG_CHECK_H
#define MRD_TEST_CFG_CHECK_H
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static inline struct mrd_cfg *load(const char *yaml, struct mrd_cfg_errors *e)
{
    return mrd_cfg_load_string("t.yaml", yaml, strlen(yaml), e);
}

/* 1 if some error contains <sub> (and sits at line:col when line > 0). */
static inline int has_err(const struct mrd_cfg_errors *e, int line, int col, const char *sub)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->v[i].msg, sub) && (line <= 0 || (e->v[i].loc.line == line &&
                                                       e->v[i].loc.col == col)))
            return 1;
    return 0;
}

/* <yaml> is refused with an error containing <sub> (at line:col if line > 0); every error is
 * located in the buffer's name. */
static inline void expect_err_at(int tline, const char *yaml, int line, int col, const char *sub)
{
    struct mrd_cfg_errors e = { 0 };
    struct mrd_cfg *cfg = load(yaml, &e);
    int ok = cfg == NULL && has_err(&e, line, col, sub);

    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  test line %d: wanted \"%s\" at %d:%d; got:\n", tline, sub, line, col);
        mrd_cfg_errors_print(&e, stderr);
    }
    for (size_t i = 0; i < e.n; i++)
        CHECK(e.v[i].loc.file && strcmp(e.v[i].loc.file, "t.yaml") == 0);
    mrd_cfg_unref(cfg);
    mrd_cfg_errors_free(&e);
}
#define EXPECT_ERR(yaml, sub) expect_err_at(__LINE__, yaml, 0, 0, sub)
#define EXPECT_ERR_AT(yaml, line, col, sub) expect_err_at(__LINE__, yaml, line, col, sub)

/* <yaml> fails with exactly one error, equal to <msg>, at line:col (anywhere if line is 0). */
static inline void expect_only(int tline, const char *yaml, int line, int col, const char *msg)
{
    struct mrd_cfg_errors e = { 0 };
    struct mrd_cfg *cfg = load(yaml, &e);
    int ok = cfg == NULL && e.n == 1 && strcmp(e.v[0].msg, msg) == 0 &&
             (line == 0 || (e.v[0].loc.line == line && e.v[0].loc.col == col));

    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  test line %d: wanted only %d:%d: %s; got:\n", tline, line, col, msg);
        mrd_cfg_errors_print(&e, stderr);
    }
    mrd_cfg_unref(cfg);
    mrd_cfg_errors_free(&e);
}
#define EXPECT_ONLY(yaml, line, col, msg) expect_only(__LINE__, yaml, line, col, msg)

/* <yaml> fails with <n> errors, one of them containing <sub>. */
static inline void expect_n(int tline, const char *yaml, size_t n, const char *sub)
{
    struct mrd_cfg_errors e = { 0 };
    struct mrd_cfg *cfg = load(yaml, &e);
    int ok = cfg == NULL && e.n == n && has_err(&e, 0, 0, sub);

    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  test line %d: wanted %zu errors with \"%s\"; got:\n", tline, n, sub);
        mrd_cfg_errors_print(&e, stderr);
    }
    mrd_cfg_unref(cfg);
    mrd_cfg_errors_free(&e);
}
#define EXPECT_N(yaml, n, sub) expect_n(__LINE__, yaml, n, sub)

/* <yaml> is valid (the errors are printed otherwise); the caller unrefs the result. */
static inline struct mrd_cfg *load_ok(int tline, const char *yaml)
{
    struct mrd_cfg_errors e = { 0 };
    struct mrd_cfg *cfg = load(yaml, &e);

    CHECK(cfg != NULL);
    CHECK_EQ_INT(e.n, 0);
    if (!cfg) {
        fprintf(stderr, "  test line %d: unexpected errors:\n", tline);
        mrd_cfg_errors_print(&e, stderr);
    }
    mrd_cfg_errors_free(&e);
    return cfg;
}
#define LOAD_OK(yaml) load_ok(__LINE__, yaml)
#endif
