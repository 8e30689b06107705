/* The monitor state machine (health/probe.h): pure functions over one origin's counters. */
#include "health/probe.h"

#include <stdio.h>

void mrd_probe_sm_init(struct mrd_probe_sm *sm, bool healthy)
{
    *sm = (struct mrd_probe_sm){ .healthy = healthy };
}

static uint32_t probe_threshold(uint32_t v)
{
    return v ? v : 1; /* the config forbids 0; a hand-built monitor must still flip */
}

static uint32_t probe_inc(uint32_t v)
{
    return v < UINT32_MAX ? v + 1 : v;
}

enum mrd_probe_verdict mrd_probe_account(struct mrd_probe_sm *sm, const struct mrd_cfg_monitor *m,
                                         enum mrd_probe_outcome out)
{
    if (out == MRD_PROBE_TIMEOUT && sm->attempt < m->retries) {
        sm->attempt++;
        return MRD_PROBE_RETRY;
    }
    sm->attempt = 0;
    sm->just_flipped = false;
    if (out == MRD_PROBE_OK) {
        sm->fail_run = 0;
        sm->ok_run = probe_inc(sm->ok_run);
        if (sm->healthy || sm->ok_run < probe_threshold(m->consecutive_up))
            return MRD_PROBE_COUNTED;
        sm->healthy = true;
        sm->just_flipped = true;
        return MRD_PROBE_WENT_UP;
    }
    sm->ok_run = 0;
    sm->fail_run = probe_inc(sm->fail_run);
    if (!sm->healthy || sm->fail_run < probe_threshold(m->consecutive_down))
        return MRD_PROBE_COUNTED;
    sm->healthy = false;
    sm->just_flipped = true;
    return MRD_PROBE_WENT_DOWN;
}

uint64_t mrd_probe_rand(uint64_t *rng)
{
    uint64_t x = *rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *rng = x;
}

uint64_t mrd_probe_first_delay(const struct mrd_cfg_monitor *m, uint64_t *rng)
{
    uint64_t iv = m->interval_ms ? m->interval_ms : 1;
    return mrd_probe_rand(rng) % iv;
}

uint64_t mrd_probe_next_delay(const struct mrd_probe_sm *sm, const struct mrd_cfg_monitor *m,
                              uint64_t *rng)
{
    uint64_t base = m->interval_ms ? m->interval_ms : 1;
    bool fast = sm->just_flipped || (sm->healthy ? sm->fail_run : sm->ok_run) > 0;
    if (fast && base > MRD_PROBE_FAST_MS)
        base = MRD_PROBE_FAST_MS;
    uint64_t span = base / 10;
    uint64_t d = base - span + mrd_probe_rand(rng) % (2 * span + 1);
    return d ? d : 1;
}

bool mrd_probe_code_ok(const struct mrd_cfg_monitor *m, int status)
{
    if (!m->n_codes)
        return status >= 200 && status <= 299;
    for (size_t i = 0; i < m->n_codes; i++)
        if (status >= m->codes[i].lo && status <= m->codes[i].hi)
            return true;
    return false;
}

void mrd_probe_codes_text(const struct mrd_cfg_monitor *m, char *out, size_t cap)
{
    size_t len = 0;
    if (!cap)
        return;
    out[0] = '\0';
    if (!m->n_codes) {
        snprintf(out, cap, "2xx");
        return;
    }
    for (size_t i = 0; i < m->n_codes && len < cap; i++) {
        const struct mrd_cfg_code_range *r = &m->codes[i];
        const char *sep = i ? "," : "";
        int n;
        if (r->lo == r->hi)
            n = snprintf(out + len, cap - len, "%s%u", sep, r->lo);
        else if (r->lo % 100 == 0 && r->hi == r->lo + 99)
            n = snprintf(out + len, cap - len, "%s%uxx", sep, r->lo / 100);
        else
            n = snprintf(out + len, cap - len, "%s%u-%u", sep, r->lo, r->hi);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

static unsigned char probe_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

bool mrd_probe_body_has(const char *body, size_t len, const char *needle)
{
    size_t n = 0;
    while (needle[n])
        n++;
    if (!n)
        return true;
    /* Naive scan: bodies are at most 64 KiB and needles a few bytes. */
    for (size_t i = 0; i + n <= len; i++) {
        size_t k = 0;
        while (k < n && probe_lower((unsigned char)body[i + k]) ==
                            probe_lower((unsigned char)needle[k]))
            k++;
        if (k == n)
            return true;
    }
    return false;
}
