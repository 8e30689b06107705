/* Client location: the built-in ISO 3166 country -> load-balancing region table, the static
 * `geo.networks` prefix table and the optional .mmdb (libmaxminddb, mmap'ed). Everything here
 * is read-only after mrd_geo_open(), so worker threads share one struct mrd_geo unlocked. */
#include "geo/geo.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- countries and regions ---------------------------------------------------------------- */

static const char *const geo_region_names[MRD_REGION_COUNT] = {
    "WNAM", "ENAM", "WEU", "EEU", "NSAM", "SSAM", "OC", "ME", "NAF", "SAF", "SAS", "SEAS", "NEAS",
};

/* Every assigned ISO 3166-1 alpha-2 code (249), listed under its region. A country is one
 * region as a whole, so the choices for countries that span two are:
 * - US and CA are ENAM (most of their people and exchange points are east of the Rockies);
 *   a deployment that wants WNAM for its western clients lists those ranges in geo.networks.
 * - WNAM is Mexico: it peers mostly with the US south-west.
 * - NSAM is the northern half of South America with Central America and the Caribbean (incl.
 *   PR and VI), the usual CDN grouping; SSAM is the southern cone (BR AR CL UY PY BO) with
 *   the South Atlantic islands and Antarctica (most stations are reached via Chile/Argentina).
 * - WEU includes the Nordics; EEU includes the Baltics, the Balkans, Greece, Cyprus and
 *   Russia. ME includes Turkey, Iran and the South Caucasus.
 * - NAF is North Africa, the Sahel and West Africa; SAF is Central, East and Southern Africa
 *   with the Indian Ocean islands off it. SAS includes Afghanistan and Central Asia.
 * - The Australian Indian Ocean islands (CX, CC) are SEAS, being next to Indonesia. */
static const char *const geo_region_countries[MRD_REGION_COUNT] = {
    [MRD_REGION_WNAM] = "MX",
    [MRD_REGION_ENAM] = "US CA BM GL PM",
    [MRD_REGION_WEU] = "GB FR DE ES IT NL BE PT IE CH AT LU MC AD LI SM VA MT IS NO SE DK FI "
                       "FO GI GG JE IM AX SJ",
    [MRD_REGION_EEU] = "PL CZ SK HU RO BG UA RU BY MD LT LV EE SI HR BA RS ME MK AL GR CY",
    [MRD_REGION_NSAM] = "CO VE EC GY SR GF PE BZ GT SV HN NI CR PA AG AI AW BB BL BQ BS CU CW "
                        "DM DO GD GP HT JM KN KY LC MF MQ MS PR SX TC TT VC VG VI",
    [MRD_REGION_SSAM] = "BR AR CL UY PY BO FK GS BV AQ",
    [MRD_REGION_OC] = "AU NZ FJ PG SB VU NC PF WS TO TV KI NR MH FM PW GU MP AS CK NU TK WF "
                      "PN NF UM HM",
    [MRD_REGION_ME] = "AE SA QA KW BH OM YE IQ IR IL JO LB SY PS TR AM AZ GE",
    [MRD_REGION_NAF] = "EG MA DZ TN LY SD EH MR ML NE TD SN GM GW GN SL LR CI BF GH TG BJ NG CV "
                       "CM CF",
    [MRD_REGION_SAF] = "ZA NA BW ZW ZM MZ MW AO CD CG GA GQ ST KE TZ UG RW BI ET SO DJ ER SS MG "
                       "MU RE YT KM SC LS SZ SH TF",
    [MRD_REGION_SAS] = "IN PK BD LK NP BT MV AF KZ KG TJ TM UZ IO",
    [MRD_REGION_SEAS] = "SG MY TH ID PH VN KH LA MM BN TL CX CC",
    [MRD_REGION_NEAS] = "JP KR KP CN TW HK MO MN",
};

/* 26x26 index by letter pair; -1 = not assigned. Built once from the lists above. */
static signed char geo_cc_table[26][26];
static pthread_once_t geo_cc_once = PTHREAD_ONCE_INIT;

static void geo_cc_build(void)
{
    memset(geo_cc_table, -1, sizeof(geo_cc_table));
    for (int r = 0; r < MRD_REGION_COUNT; r++)
        for (const char *p = geo_region_countries[r]; p[0] && p[1]; p += p[2] ? 3 : 2)
            geo_cc_table[p[0] - 'A'][p[1] - 'A'] = (signed char)r;
}

int mrd_geo_region_parse(const char *code)
{
    if (!code)
        return -1;
    for (int r = 0; r < MRD_REGION_COUNT; r++)
        if (!strcasecmp(code, geo_region_names[r]))
            return r;
    return -1;
}

const char *mrd_geo_region_name(int region)
{
    return region >= 0 && region < MRD_REGION_COUNT ? geo_region_names[region] : "";
}

int mrd_geo_country_region(const char *cc)
{
    if (!cc || !isalpha((unsigned char)cc[0]) || !isalpha((unsigned char)cc[1]) || cc[2])
        return -1;
    pthread_once(&geo_cc_once, geo_cc_build);
    return geo_cc_table[toupper((unsigned char)cc[0]) - 'A'][toupper((unsigned char)cc[1]) - 'A'];
}

/* ---- the networks table ------------------------------------------------------------------- */

/* Longest-prefix match without a trie: entries are sorted by prefix length (longest first),
 * then by masked address, and a lookup binary-searches each distinct length in turn. That is
 * at most 33 (IPv4) or 129 (IPv6) searches of log2(n) steps, and memory is one small record
 * per configured network; the table holds exactly cfg->n_networks entries
 * (at most MRD_GEO_MAX_NETWORKS). */
#define MRD_GEO_MAX_NETWORKS (1u << 20)

struct geo_net {
    uint8_t                       addr[16]; /* masked to prefix; IPv4 in the first 4 bytes */
    uint8_t                       prefix;
    uint32_t                      order;    /* config order: first wins among duplicates */
    const struct mrd_cfg_geo_net *cfg;      /* borrowed from the generation's arena */
};

/* A run of entries with one prefix length, within one family's sorted array. */
struct geo_span {
    uint8_t  prefix;
    uint32_t start, n;
};

struct geo_family {
    struct geo_net  *nets;  /* owned; sorted, see above */
    size_t           n;
    struct geo_span *spans; /* owned; one per distinct prefix length, longest first */
    size_t           n_spans;
    unsigned         bytes; /* 4 or 16 */
};

struct mrd_geo {
    struct geo_family v4, v6;
    bool              has_mmdb;
    MMDB_s            mmdb;
};

static void geo_mask(uint8_t *a, unsigned bytes, unsigned prefix)
{
    for (unsigned i = 0; i < bytes; i++) {
        unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
        if (bits < 8)
            a[i] &= (uint8_t)(0xff00u >> bits);
    }
}

static int geo_net_cmp(const void *pa, const void *pb)
{
    const struct geo_net *a = pa, *b = pb;
    if (a->prefix != b->prefix)
        return a->prefix > b->prefix ? -1 : 1;
    int c = memcmp(a->addr, b->addr, 16);
    if (c)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int geo_family_build(struct geo_family *f, const struct mrd_cfg_geo *cfg, int family)
{
    f->bytes = family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < cfg->n_networks; i++)
        f->n += cfg->networks[i].cidr.family == family;
    if (!f->n)
        return 0;
    f->nets = calloc(f->n, sizeof(*f->nets));
    f->spans = calloc(f->n, sizeof(*f->spans));
    if (!f->nets || !f->spans)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < cfg->n_networks; i++) {
        const struct mrd_cfg_geo_net *cn = &cfg->networks[i];
        if (cn->cidr.family != family)
            continue;
        struct geo_net *e = &f->nets[k++];
        unsigned max = f->bytes * 8;
        memcpy(e->addr, cn->cidr.addr, f->bytes);
        e->prefix = (uint8_t)(cn->cidr.prefix > max ? max : cn->cidr.prefix);
        geo_mask(e->addr, f->bytes, e->prefix);
        e->order = (uint32_t)i;
        e->cfg = cn;
    }
    qsort(f->nets, f->n, sizeof(*f->nets), geo_net_cmp);
    for (size_t i = 0; i < f->n; i++) {
        struct geo_span *s = f->n_spans ? &f->spans[f->n_spans - 1] : NULL;
        if (!s || s->prefix != f->nets[i].prefix) {
            s = &f->spans[f->n_spans++];
            s->prefix = f->nets[i].prefix;
            s->start = (uint32_t)i;
        }
        s->n++;
    }
    return 0;
}

/* The first (in config order) entry of <s> equal to <key>, or NULL. */
static const struct geo_net *geo_span_find(const struct geo_family *f, const struct geo_span *s,
                                           const uint8_t *key)
{
    size_t lo = s->start, hi = (size_t)s->start + s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(f->nets[mid].addr, key, f->bytes) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < (size_t)s->start + s->n && !memcmp(f->nets[lo].addr, key, f->bytes))
        return &f->nets[lo];
    return NULL;
}

static const struct geo_net *geo_family_match(const struct geo_family *f, const uint8_t *addr)
{
    for (size_t i = 0; i < f->n_spans; i++) {
        uint8_t key[16];
        memcpy(key, addr, f->bytes);
        geo_mask(key, f->bytes, f->spans[i].prefix);
        const struct geo_net *e = geo_span_find(f, &f->spans[i], key);
        if (e)
            return e;
    }
    return NULL;
}

static void geo_family_free(struct geo_family *f)
{
    free(f->nets);
    f->nets = NULL;
    free(f->spans);
    f->spans = NULL;
    f->n = f->n_spans = 0;
}

/* ---- open / close ------------------------------------------------------------------------- */

static int geo_mmdb_open(struct mrd_geo *g, const char *path, char *err, size_t errlen)
{
    errno = 0;
    int st = MMDB_open(path, MMDB_MODE_MMAP, &g->mmdb);
    if (st == MMDB_SUCCESS) {
        g->has_mmdb = true;
        return 0;
    }
    if (st == MMDB_FILE_OPEN_ERROR || st == MMDB_IO_ERROR)
        snprintf(err, errlen, "geo.mmdb \"%s\": cannot read it: %s", path,
                 errno ? strerror(errno) : MMDB_strerror(st));
    else
        snprintf(err, errlen,
                 "geo.mmdb \"%s\": not a usable MaxMind-format database (%s); give a "
                 "GeoIP2/GeoLite2 City or Country .mmdb file",
                 path, MMDB_strerror(st));
    return -1;
}

struct mrd_geo *mrd_geo_open(const struct mrd_cfg_geo *cfg, char *err, size_t errlen)
{
    if (cfg->n_networks > MRD_GEO_MAX_NETWORKS) {
        snprintf(err, errlen, "geo.networks: %zu entries, at most %u are supported",
                 cfg->n_networks, MRD_GEO_MAX_NETWORKS);
        return NULL;
    }
    struct mrd_geo *g = calloc(1, sizeof(*g));
    if (!g || geo_family_build(&g->v4, cfg, AF_INET) < 0 ||
        geo_family_build(&g->v6, cfg, AF_INET6) < 0) {
        snprintf(err, errlen, "geo: out of memory building the networks table");
        mrd_geo_close(g);
        return NULL;
    }
    if (cfg->mmdb && geo_mmdb_open(g, cfg->mmdb, err, errlen) < 0) {
        mrd_geo_close(g);
        return NULL;
    }
    return g;
}

void mrd_geo_close(struct mrd_geo *g)
{
    if (!g)
        return;
    geo_family_free(&g->v4);
    geo_family_free(&g->v6);
    if (g->has_mmdb)
        MMDB_close(&g->mmdb);
    free(g);
}

/* ---- lookup ------------------------------------------------------------------------------- */

static void geo_info_clear(struct mrd_geo_info *out)
{
    memset(out, 0, sizeof(*out));
    out->region = -1;
}

/* Copies a two-letter code upper-cased; anything else leaves the country unknown. */
static void geo_set_country(struct mrd_geo_info *out, const char *cc, size_t len)
{
    if (len != 2 || !isalpha((unsigned char)cc[0]) || !isalpha((unsigned char)cc[1]))
        return;
    out->country[0] = (char)toupper((unsigned char)cc[0]);
    out->country[1] = (char)toupper((unsigned char)cc[1]);
    out->country[2] = '\0';
}

/* A networks entry answers on its own: its region, else its country's; no mmdb merging. */
static int geo_from_net(const struct mrd_cfg_geo_net *cn, struct mrd_geo_info *out)
{
    if (cn->country)
        geo_set_country(out, cn->country, strlen(cn->country));
    if (cn->region >= 0 && cn->region < MRD_REGION_COUNT)
        out->region = cn->region;
    else if (out->country[0])
        out->region = mrd_geo_country_region(out->country);
    if (cn->has_coords) {
        out->has_coords = true;
        out->latitude = cn->latitude;
        out->longitude = cn->longitude;
    }
    return 1;
}

static bool geo_mmdb_string(MMDB_entry_s *ent, const char *k1, const char *k2, MMDB_entry_data_s *d)
{
    return MMDB_get_value(ent, d, k1, k2, NULL) == MMDB_SUCCESS && d->has_data &&
           d->type == MMDB_DATA_TYPE_UTF8_STRING;
}

/* Reads a coordinate; the City databases store doubles, hand-made ones may store floats. */
static bool geo_mmdb_coord(MMDB_entry_s *ent, const char *key, double *v)
{
    MMDB_entry_data_s d;
    if (MMDB_get_value(ent, &d, "location", key, NULL) != MMDB_SUCCESS || !d.has_data)
        return false;
    if (d.type == MMDB_DATA_TYPE_DOUBLE)
        *v = d.double_value;
    else if (d.type == MMDB_DATA_TYPE_FLOAT)
        *v = d.float_value;
    else
        return false;
    return isfinite(*v);
}

static int geo_from_mmdb(const struct mrd_geo *g, const struct sockaddr *sa,
                         struct mrd_geo_info *out)
{
    int st = 0;
    /* MMDB_lookup_sockaddr only reads the mmap'ed tree; the cast drops a const the library
     * does not declare. */
    MMDB_lookup_result_s res = MMDB_lookup_sockaddr((MMDB_s *)&g->mmdb, sa, &st);
    if (st != MMDB_SUCCESS || !res.found_entry)
        return 0;
    MMDB_entry_data_s d;
    if (geo_mmdb_string(&res.entry, "country", "iso_code", &d) ||
        geo_mmdb_string(&res.entry, "registered_country", "iso_code", &d))
        geo_set_country(out, d.utf8_string, d.data_size);
    if (out->country[0])
        out->region = mrd_geo_country_region(out->country);
    double lat, lon;
    if (geo_mmdb_coord(&res.entry, "latitude", &lat) &&
        geo_mmdb_coord(&res.entry, "longitude", &lon) && fabs(lat) <= 90 && fabs(lon) <= 180) {
        out->has_coords = true;
        out->latitude = lat;
        out->longitude = lon;
    }
    return out->country[0] || out->has_coords;
}

int mrd_geo_lookup(const struct mrd_geo *g, const struct sockaddr *sa, struct mrd_geo_info *out)
{
    geo_info_clear(out);
    if (!g || !sa)
        return 0;
    struct sockaddr_in v4;
    const uint8_t *a4 = NULL, *a6 = NULL;
    if (sa->sa_family == AF_INET) {
        a4 = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(in6)) {
            /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; they are IPv4
             * clients for both the networks table and the mmdb. */
            memset(&v4, 0, sizeof(v4));
            v4.sin_family = AF_INET;
            memcpy(&v4.sin_addr, in6->s6_addr + 12, 4);
            sa = (const struct sockaddr *)&v4;
            a4 = (const uint8_t *)&v4.sin_addr;
        } else {
            a6 = in6->s6_addr;
        }
    } else {
        return 0;
    }
    const struct geo_net *e = a4 ? geo_family_match(&g->v4, a4) : geo_family_match(&g->v6, a6);
    if (e)
        return geo_from_net(e->cfg, out);
    if (g->has_mmdb && geo_from_mmdb(g, sa, out))
        return 1;
    geo_info_clear(out);
    return 0;
}

double mrd_geo_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double h = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    if (h > 1)
        h = 1; /* rounding near antipodes */
    return 2 * 6371.0 * asin(sqrt(h));
}
