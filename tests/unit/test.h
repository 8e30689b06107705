/* Minimal unit-test harness: CHECK records a failure and goes on; TEST_MAIN prints
 * "unit: N passed, N failed" which tools/run-unit.sh sums up. */
#ifndef MRD_TEST_H
#define MRD_TEST_H
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;
#define CHECK(cond) do { if (cond) t_pass++; else { t_fail++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a == _b) t_pass++; else { t_fail++; \
    fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a, _b); } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
    if (_a && _b && strcmp(_a, _b) == 0) t_pass++; else { t_fail++; \
    fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
            _a ? _a : "(null)", _b ? _b : "(null)"); } } while (0)
#define TEST_MAIN(...) int main(void) { __VA_ARGS__; \
    printf("unit: %d passed, %d failed\n", t_pass, t_fail); return t_fail ? 1 : 0; }
#endif
