/* The monitor state machine, without I/O: counting probe results, deciding when an origin
 * flips, when to probe next, and whether a response passes. Clock and RNG are the caller's,
 * so tests drive it directly. */
#ifndef MRD_HEALTH_PROBE_H
#define MRD_HEALTH_PROBE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h"

/* After a flip, or while a run towards a flip is under way, the next probe comes after
 * min(interval, MRD_PROBE_FAST_MS) so recovery and confirmation take seconds, not intervals
 * (HAProxy's "fastinter" idea). */
#define MRD_PROBE_FAST_MS 1000

/* Counting state of one origin's monitor; kept across reloads with the origin. */
struct mrd_probe_sm {
    bool     healthy;      /* what was last published */
    bool     just_flipped; /* the next probe confirms a flip */
    uint32_t ok_run;       /* successes in a row */
    uint32_t fail_run;     /* failures in a row (a timed-out probe counts once, after retries) */
    uint32_t attempt;      /* timed-out attempts of the probe in progress */
};

enum mrd_probe_outcome { MRD_PROBE_OK, MRD_PROBE_FAIL, MRD_PROBE_TIMEOUT };

enum mrd_probe_verdict {
    MRD_PROBE_RETRY,     /* a timeout with retries left: probe again now, nothing counted */
    MRD_PROBE_COUNTED,   /* counted; the state did not change */
    MRD_PROBE_WENT_DOWN, /* healthy -> unhealthy */
    MRD_PROBE_WENT_UP,   /* unhealthy -> healthy */
};

/* Starts healthy (origins serve until probes say otherwise). */
void mrd_probe_sm_init(struct mrd_probe_sm *sm, bool healthy);
/* Counts one probe attempt of monitor <m>; see enum mrd_probe_verdict. */
enum mrd_probe_verdict mrd_probe_account(struct mrd_probe_sm *sm, const struct mrd_cfg_monitor *m,
                                         enum mrd_probe_outcome out);
/* xorshift64; <*rng> must not be 0. */
uint64_t mrd_probe_rand(uint64_t *rng);
/* Delay before an origin's first probe: uniform in [0, interval), so a reload or a start does
 * not fire every probe in the same millisecond. */
uint64_t mrd_probe_first_delay(const struct mrd_cfg_monitor *m, uint64_t *rng);
/* Delay from one probe's start to the next: interval +- 10 %, or the fast delay +- 10 %
 * (see MRD_PROBE_FAST_MS). Never 0. */
uint64_t mrd_probe_next_delay(const struct mrd_probe_sm *sm, const struct mrd_cfg_monitor *m,
                              uint64_t *rng);
/* 1 if <status> is in m->codes (2xx when the list is empty). */
bool mrd_probe_code_ok(const struct mrd_cfg_monitor *m, int status);
/* Writes m->codes as "2xx", "200", "200-204" joined by ','; truncates to <cap>. */
void mrd_probe_codes_text(const struct mrd_cfg_monitor *m, char *out, size_t cap);
/* 1 if body[0, len) contains <needle> ignoring ASCII case; an empty needle always matches.
 * The body may hold NUL bytes. */
bool mrd_probe_body_has(const char *body, size_t len, const char *needle);
#endif
