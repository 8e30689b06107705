/* Pure value parsers and matchers of the config subsystem: durations, sizes, numbers, socket
 * addresses, CIDRs, HTTP tokens, expected status codes, path globs and the per-request
 * Host -> load balancer lookup. No YAML here; config.c calls these while it walks the file. */
#include "config/config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Reads a run of decimal digits at <s> into <v>; returns the end, or NULL on none/overflow. */
static const char *cfg_digits(const char *s, uint64_t *v)
{
    uint64_t n = 0;
    const char *p = s;

    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return NULL;
        n = n * 10 + d;
    }
    if (p == s)
        return NULL;
    *v = n;
    return p;
}

/* Multiplies with overflow check; 0 ok, -1 on overflow. */
static int cfg_mul(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b && a > UINT64_MAX / b)
        return -1;
    *out = a * b;
    return 0;
}

struct cfg_unit {
    const char *sfx;
    uint64_t    mul;
};

/* Parses digits followed by one of <units>' suffixes into value * multiplier. */
static int cfg_parse_units(const char *s, const struct cfg_unit *units, size_t n, uint64_t *out)
{
    uint64_t v;
    const char *end;

    if (!s || !(end = cfg_digits(s, &v)))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(end, units[i].sfx) == 0)
            return cfg_mul(v, units[i].mul, out);
    return -1;
}

int mrd_cfg_parse_duration(const char *s, uint64_t *ms)
{
    static const struct cfg_unit units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
        { "", 1000 }, /* bare number: seconds */
    };
    return cfg_parse_units(s, units, sizeof(units) / sizeof(units[0]), ms);
}

int mrd_cfg_parse_size(const char *s, uint64_t *bytes)
{
    static const struct cfg_unit units[] = {
        { "", 1 },
        { "KiB", 1024ull }, { "MiB", 1024ull * 1024 }, { "GiB", 1024ull * 1024 * 1024 },
        { "KB", 1000ull }, { "MB", 1000ull * 1000 }, { "GB", 1000ull * 1000 * 1000 },
    };
    return cfg_parse_units(s, units, sizeof(units) / sizeof(units[0]), bytes);
}

/* 1 if <h> is a syntactically plausible DNS name (letters, digits, '-', '_', '.'). */
static int cfg_hostname_chars(const char *h, size_t len)
{
    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* Resolves <host> (NUL-terminated) with getaddrinfo, preferring IPv4; 0 ok, else -1 + why.
 * MERIDIAN_CFG_NUMERIC_ONLY=1 (set by the fuzz target) turns name resolution off. */
static int cfg_resolve(const char *host, int numeric, struct mrd_cfg_addr *out, const char **why)
{
    struct addrinfo hints, *res = NULL, *pick = NULL;
    const char *env = getenv("MERIDIAN_CFG_NUMERIC_ONLY");
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = numeric ? AI_NUMERICHOST : 0;
    if (!numeric && env && strcmp(env, "1") == 0) {
        *why = "host names are not resolved while MERIDIAN_CFG_NUMERIC_ONLY=1";
        return -1;
    }
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        *why = numeric ? "bad IPv6 address" : gai_strerror(rc);
        return -1;
    }
    /* IPv4 first: "localhost" origins usually listen on 127.0.0.1 only. */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET && !pick)
            pick = ai;
    for (struct addrinfo *ai = res; ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            pick = ai;
    if (!pick || pick->ai_addrlen > sizeof(out->ss)) {
        freeaddrinfo(res);
        *why = "no IPv4 or IPv6 address for this host";
        return -1;
    }
    memcpy(&out->ss, pick->ai_addr, pick->ai_addrlen);
    out->len = (socklen_t)pick->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int mrd_cfg_parse_addr(const char *s, struct mrd_cfg_addr *out, const char **why)
{
    char host[256];
    const char *hs, *he, *ps;
    uint64_t port;
    const char *end;
    int bracket = 0;
    const char *dummy;

    if (!why)
        why = &dummy;
    memset(out, 0, sizeof(*out));
    if (!s || !*s) {
        *why = "empty address";
        return -1;
    }
    if (s[0] == '[') {
        hs = s + 1;
        he = strchr(hs, ']');
        if (!he) {
            *why = "missing ']' after the IPv6 address";
            return -1;
        }
        if (he[1] != ':') {
            *why = "missing port after ']'";
            return -1;
        }
        ps = he + 2;
        bracket = 1;
    } else {
        he = strrchr(s, ':');
        if (!he) {
            *why = "missing port";
            return -1;
        }
        hs = s;
        ps = he + 1;
        if (memchr(hs, ':', (size_t)(he - hs))) {
            *why = "IPv6 addresses need brackets, e.g. [::1]:8080";
            return -1;
        }
    }
    if (he == hs) {
        *why = "missing host (use 0.0.0.0 or [::] for every address)";
        return -1;
    }
    if ((size_t)(he - hs) >= sizeof(host)) {
        *why = "host name too long";
        return -1;
    }
    end = cfg_digits(ps, &port);
    if (!end || *end || port < 1 || port > 65535) {
        *why = "port must be an integer 1..65535";
        return -1;
    }
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = 0;

    if (bracket) {
        if (!strchr(host, ':')) {
            *why = "brackets are only for IPv6 addresses";
            return -1;
        }
        if (cfg_resolve(host, 1, out, why) < 0)
            return -1;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
        if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            out->len = sizeof(*sin);
        } else {
            if (!cfg_hostname_chars(host, strlen(host))) {
                *why = "bad host name";
                return -1;
            }
            if (cfg_resolve(host, 0, out, why) < 0)
                return -1;
        }
    }
    if (out->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&out->ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&out->ss)->sin6_port = htons((uint16_t)port);
    /* Borrowed from <s>; the loader replaces it with a copy in the config arena. */
    out->text = (char *)(uintptr_t)s;
    return 0;
}

/* Clears the bits of <addr> beyond <prefix>. */
static void cfg_mask(uint8_t *addr, int nbytes, int prefix)
{
    for (int i = 0; i < nbytes; i++) {
        int bits = prefix - i * 8;
        if (bits >= 8)
            continue;
        addr[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
    }
}

int mrd_cfg_parse_cidr(const char *s, struct mrd_cfg_cidr *out)
{
    char ip[64];
    const char *slash;
    size_t iplen;
    uint64_t prefix = 0;
    int have_prefix = 0, max;

    if (!s)
        return -1;
    memset(out, 0, sizeof(*out));
    slash = strchr(s, '/');
    iplen = slash ? (size_t)(slash - s) : strlen(s);
    if (iplen == 0 || iplen >= sizeof(ip))
        return -1;
    memcpy(ip, s, iplen);
    ip[iplen] = 0;
    if (slash) {
        const char *end = cfg_digits(slash + 1, &prefix);
        if (!end || *end || end - (slash + 1) > 3)
            return -1;
        have_prefix = 1;
    }
    if (inet_pton(AF_INET, ip, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    if (!have_prefix)
        prefix = (uint64_t)max;
    if (prefix > (uint64_t)max)
        return -1;
    out->prefix = (uint8_t)prefix;
    cfg_mask(out->addr, max / 8, (int)prefix);
    return 0;
}

/* 1 if the first <prefix> bits of <a> and <b> agree. */
static int cfg_prefix_eq(const uint8_t *a, const uint8_t *b, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;

    if (memcmp(a, b, (size_t)full) != 0)
        return 0;
    if (rest) {
        uint8_t m = (uint8_t)(0xff << (8 - rest));
        if ((a[full] & m) != (b[full] & m))
            return 0;
    }
    return 1;
}

int mrd_cfg_cidr_contains(const struct mrd_cfg_cidr *c, const struct sockaddr_storage *ss)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    const uint8_t *a;

    if (!c || !ss)
        return 0;
    if (ss->ss_family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
        return c->family == AF_INET && cfg_prefix_eq(a, c->addr, c->prefix);
    }
    if (ss->ss_family != AF_INET6)
        return 0;
    a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
    if (c->family == AF_INET6)
        return cfg_prefix_eq(a, c->addr, c->prefix);
    /* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d. */
    return c->family == AF_INET && memcmp(a, v4mapped, 12) == 0 &&
           cfg_prefix_eq(a + 12, c->addr, c->prefix);
}

int mrd_cfg_glob_match(const char *glob, const char *str, size_t len)
{
    const char *g = glob, *star = NULL;
    size_t i = 0, star_i = 0;

    if (!glob || (!str && len))
        return 0;
    /* Greedy with one backtrack point: linear in practice, never exponential. */
    while (i < len) {
        if (*g == '*') {
            star = ++g;
            star_i = i;
        } else if (*g && (*g == '?' || *g == str[i])) {
            g++;
            i++;
        } else if (star) {
            g = star;
            i = ++star_i;
        } else {
            return 0;
        }
    }
    while (*g == '*')
        g++;
    return *g == 0;
}

/* ASCII lower-case, independent of the locale. */
static inline unsigned char cfg_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* 1 if host[0..len) equals the lower-case <name> of exactly <len> bytes, ignoring case. */
static int cfg_host_eq(const char *name, const char *host, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] != cfg_lower((unsigned char)host[i]))
            return 0;
    return 1;
}

const struct mrd_cfg_lb *mrd_cfg_find_lb(const struct mrd_cfg *cfg, const char *host, size_t len)
{
    const struct mrd_cfg_lb *best = NULL, *any = NULL;
    size_t best_len = 0;

    if (!cfg || (!host && len))
        return NULL;
    if (len && host[len - 1] == '.') /* "example.com." is the same name */
        len--;
    for (size_t i = 0; i < cfg->n_lbs; i++) {
        const struct mrd_cfg_lb *lb = &cfg->lbs[i];
        for (size_t j = 0; j < lb->n_hostnames; j++) {
            const char *h = lb->hostnames[j];
            if (h[0] == '*' && h[1] == 0) {
                if (!any)
                    any = lb;
            } else if (h[0] == '*') {
                size_t sl = strlen(h + 1); /* ".example.com" */
                if (len > sl && sl > best_len && cfg_host_eq(h + 1, host + len - sl, sl)) {
                    best = lb;
                    best_len = sl;
                }
            } else if (strlen(h) == len && cfg_host_eq(h, host, len)) {
                return lb; /* hostnames are unique across load balancers */
            }
        }
    }
    return best ? best : any;
}

int mrd_cfg_is_token(const char *s, size_t len)
{
    if (!s || len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c && strchr("!#$%&'*+-.^_`|~", c))))
            return 0;
    }
    return 1;
}

int mrd_cfg_parse_code_range(const char *s, size_t len, struct mrd_cfg_code_range *out)
{
    unsigned v = 0;

    if (!s || len != 3 || s[0] < '1' || s[0] > '5')
        return -1;
    /* "2xx": a whole class; 'X' too, as people write it either way */
    if ((s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')) {
        out->lo = (uint16_t)((s[0] - '0') * 100);
        out->hi = (uint16_t)(out->lo + 99);
        return 0;
    }
    for (size_t i = 0; i < 3; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    out->lo = out->hi = (uint16_t)v; /* 100..599 by the first digit */
    return 0;
}

int mrd_cfg_code_expected(const struct mrd_cfg_monitor *m, int status)
{
    for (size_t i = 0; m && i < m->n_codes; i++)
        if (status >= m->codes[i].lo && status <= m->codes[i].hi)
            return 1;
    return 0;
}

int mrd_cfg_parse_number(const char *s, double *out)
{
    const char *p = s;
    char *end;
    double v;

    /* Plain decimal only: strtod alone would also take "inf", "nan", hex and exponents. */
    if (!s)
        return -1;
    if (*p == '-' || *p == '+')
        p++;
    if (!(*p >= '0' && *p <= '9'))
        return -1;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p || p - s > 40)
        return -1;
    v = strtod(s, &end);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int mrd_cfg_addr_is_loopback(const struct mrd_cfg_addr *a)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    const uint8_t *b;

    if (!a)
        return 0;
    if (a->ss.ss_family == AF_INET)
        return ((const uint8_t *)&((const struct sockaddr_in *)&a->ss)->sin_addr)[0] == 127;
    if (a->ss.ss_family != AF_INET6)
        return 0;
    b = ((const struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr;
    if (memcmp(b, &in6addr_loopback, 16) == 0)
        return 1;
    return memcmp(b, v4mapped, 12) == 0 && b[12] == 127;
}
