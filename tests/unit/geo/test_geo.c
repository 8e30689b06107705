/* Tests for src/geo: the country -> region table, longest-prefix match over geo.networks,
 * haversine distance, and .mmdb lookups against a database built at run time by
 * tools/mkmmdb.pl (skipped with a note when perl or MaxMind::DB::Writer is missing). */
#include "geo/geo.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static struct mrd_cfg_geo_net net(const char *cidr, const char *cc, int region)
{
    struct mrd_cfg_geo_net n;
    char ip[64];
    const char *slash = strchr(cidr, '/');
    size_t len = (size_t)(slash - cidr);

    memset(&n, 0, sizeof(n));
    memcpy(ip, cidr, len);
    ip[len] = '\0';
    n.cidr.family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(n.cidr.family, ip, n.cidr.addr) != 1)
        fprintf(stderr, "test bug: bad cidr %s\n", cidr);
    n.cidr.prefix = (uint8_t)atoi(slash + 1);
    n.country = cc;
    n.region = region;
    return n;
}

static struct mrd_cfg_geo_net net_at(const char *cidr, const char *cc, int region, double lat,
                                     double lon)
{
    struct mrd_cfg_geo_net n = net(cidr, cc, region);
    n.has_coords = true;
    n.latitude = lat;
    n.longitude = lon;
    return n;
}

/* Looks <ip> (IPv4, IPv6, or "::ffff:a.b.c.d") up; returns mrd_geo_lookup's result. */
static int look(const struct mrd_geo *g, const char *ip, struct mrd_geo_info *out)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s4->sin_addr);
    }
    return mrd_geo_lookup(g, (struct sockaddr *)&ss, out);
}

/* The country that <ip> resolves to, "-" when nothing is known. */
static const char *cc_of(const struct mrd_geo *g, const char *ip)
{
    static char buf[4];
    struct mrd_geo_info gi;
    if (!look(g, ip, &gi))
        return "-";
    snprintf(buf, sizeof(buf), "%s", gi.country);
    return buf;
}

/* ---- regions and countries ---------------------------------------------------------------- */

static void test_regions(void)
{
    for (int r = 0; r < MRD_REGION_COUNT; r++) {
        const char *name = mrd_geo_region_name(r);
        CHECK(name[0] != '\0');
        CHECK_EQ_INT(mrd_geo_region_parse(name), r);
    }
    CHECK_STR(mrd_geo_region_name(MRD_REGION_WEU), "WEU");
    CHECK_STR(mrd_geo_region_name(MRD_REGION_NEAS), "NEAS");
    CHECK_STR(mrd_geo_region_name(-1), "");
    CHECK_STR(mrd_geo_region_name(MRD_REGION_COUNT), "");
    CHECK_EQ_INT(mrd_geo_region_parse("weu"), MRD_REGION_WEU);
    CHECK_EQ_INT(mrd_geo_region_parse("SeAs"), MRD_REGION_SEAS);
    CHECK_EQ_INT(mrd_geo_region_parse("EU"), -1);
    CHECK_EQ_INT(mrd_geo_region_parse("WEUX"), -1);
    CHECK_EQ_INT(mrd_geo_region_parse(""), -1);
    CHECK_EQ_INT(mrd_geo_region_parse(NULL), -1);
}

static void test_countries(void)
{
    int per[MRD_REGION_COUNT] = {0}, n = 0;
    char cc[3] = {0};
    for (char a = 'A'; a <= 'Z'; a++)
        for (char b = 'A'; b <= 'Z'; b++) {
            cc[0] = a, cc[1] = b;
            int r = mrd_geo_country_region(cc);
            CHECK(r >= -1 && r < MRD_REGION_COUNT);
            if (r >= 0)
                per[r]++, n++;
        }
    CHECK_EQ_INT(n, 249); /* every assigned ISO 3166-1 alpha-2 code, each exactly once */
    for (int r = 0; r < MRD_REGION_COUNT; r++)
        if (!per[r])
            fprintf(stderr, "region %s has no country\n", mrd_geo_region_name(r));
    for (int r = 0; r < MRD_REGION_COUNT; r++)
        CHECK(per[r] > 0);

    CHECK_EQ_INT(mrd_geo_country_region("US"), MRD_REGION_ENAM);
    CHECK_EQ_INT(mrd_geo_country_region("CA"), MRD_REGION_ENAM);
    CHECK_EQ_INT(mrd_geo_country_region("MX"), MRD_REGION_WNAM);
    CHECK_EQ_INT(mrd_geo_country_region("FR"), MRD_REGION_WEU);
    CHECK_EQ_INT(mrd_geo_country_region("GB"), MRD_REGION_WEU);
    CHECK_EQ_INT(mrd_geo_country_region("PL"), MRD_REGION_EEU);
    CHECK_EQ_INT(mrd_geo_country_region("JP"), MRD_REGION_NEAS);
    CHECK_EQ_INT(mrd_geo_country_region("CN"), MRD_REGION_NEAS);
    CHECK_EQ_INT(mrd_geo_country_region("SG"), MRD_REGION_SEAS);
    CHECK_EQ_INT(mrd_geo_country_region("AU"), MRD_REGION_OC);
    CHECK_EQ_INT(mrd_geo_country_region("NZ"), MRD_REGION_OC);
    CHECK_EQ_INT(mrd_geo_country_region("BR"), MRD_REGION_SSAM);
    CHECK_EQ_INT(mrd_geo_country_region("CO"), MRD_REGION_NSAM);
    CHECK_EQ_INT(mrd_geo_country_region("ZA"), MRD_REGION_SAF);
    CHECK_EQ_INT(mrd_geo_country_region("IN"), MRD_REGION_SAS);
    CHECK_EQ_INT(mrd_geo_country_region("AE"), MRD_REGION_ME);
    CHECK_EQ_INT(mrd_geo_country_region("TR"), MRD_REGION_ME);
    CHECK_EQ_INT(mrd_geo_country_region("EG"), MRD_REGION_NAF);
    CHECK_EQ_INT(mrd_geo_country_region("NG"), MRD_REGION_NAF);
    /* any case */
    CHECK_EQ_INT(mrd_geo_country_region("fr"), MRD_REGION_WEU);
    CHECK_EQ_INT(mrd_geo_country_region("jP"), MRD_REGION_NEAS);
    /* not assigned, or not a code at all */
    CHECK_EQ_INT(mrd_geo_country_region("XK"), -1);
    CHECK_EQ_INT(mrd_geo_country_region("UK"), -1);
    CHECK_EQ_INT(mrd_geo_country_region("ZZ"), -1);
    CHECK_EQ_INT(mrd_geo_country_region("EU"), -1);
    CHECK_EQ_INT(mrd_geo_country_region("F"), -1);
    CHECK_EQ_INT(mrd_geo_country_region("FRA"), -1);
    CHECK_EQ_INT(mrd_geo_country_region("1A"), -1);
    CHECK_EQ_INT(mrd_geo_country_region("\xc3\xa9\xc3"), -1);
    CHECK_EQ_INT(mrd_geo_country_region(""), -1);
    CHECK_EQ_INT(mrd_geo_country_region(NULL), -1);
}

/* ---- networks ----------------------------------------------------------------------------- */

static void test_networks(void)
{
    struct mrd_cfg_geo_net nets[] = {
        net("10.0.0.0/8", "US", -1),
        net_at("10.1.0.0/16", "FR", -1, 48.86, 2.35),
        net_at("10.1.2.3/32", "JP", MRD_REGION_SEAS, 35.68, 139.69), /* region overrides */
        net("192.168.7.9/16", NULL, MRD_REGION_OC),                  /* host bits ignored */
        net("172.16.0.0/12", "DE", -1),
        net("172.16.0.0/12", "GB", -1), /* duplicate: the first one wins */
        net("2001:db8::/32", "SG", -1),
        net("2001:db8:1::/48", "AU", -1),
        net("2001:db8:1::7/128", "BR", -1),
        net("::/0", "ZA", -1), /* IPv6 default; must not catch IPv4 clients */
    };
    struct mrd_cfg_geo cfg = {.networks = nets, .n_networks = sizeof(nets) / sizeof(nets[0])};
    char err[256] = "";
    struct mrd_geo *g = mrd_geo_open(&cfg, err, sizeof(err));
    struct mrd_geo_info gi;

    CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "mrd_geo_open: %s\n", err);
        return;
    }
    /* /8, /16, /32 overlap: the most specific wins */
    CHECK_STR(cc_of(g, "10.200.0.1"), "US");
    CHECK_STR(cc_of(g, "10.1.9.9"), "FR");
    CHECK_STR(cc_of(g, "10.1.2.3"), "JP");
    CHECK_STR(cc_of(g, "10.1.2.4"), "FR");
    CHECK_STR(cc_of(g, "10.0.255.255"), "US");
    CHECK_STR(cc_of(g, "11.0.0.0"), "-");
    CHECK_STR(cc_of(g, "9.255.255.255"), "-");
    CHECK_STR(cc_of(g, "172.31.255.255"), "DE");
    CHECK_STR(cc_of(g, "172.32.0.0"), "-");

    CHECK_EQ_INT(look(g, "10.200.0.1", &gi), 1);
    CHECK_EQ_INT(gi.region, MRD_REGION_ENAM); /* from the country */
    CHECK(!gi.has_coords);
    CHECK_EQ_INT(look(g, "10.1.9.9", &gi), 1);
    CHECK_EQ_INT(gi.region, MRD_REGION_WEU);
    CHECK(gi.has_coords && fabs(gi.latitude - 48.86) < 1e-9 && fabs(gi.longitude - 2.35) < 1e-9);
    CHECK_EQ_INT(look(g, "10.1.2.3", &gi), 1);
    CHECK_EQ_INT(gi.region, MRD_REGION_SEAS);
    CHECK_EQ_INT(look(g, "192.168.200.1", &gi), 1);
    CHECK_STR(gi.country, "");
    CHECK_EQ_INT(gi.region, MRD_REGION_OC);
    CHECK_EQ_INT(look(g, "192.169.0.1", &gi), 0);
    CHECK_EQ_INT(gi.region, -1);
    CHECK_STR(gi.country, "");
    CHECK(!gi.has_coords);

    /* IPv4-mapped IPv6 clients are IPv4 clients */
    CHECK_STR(cc_of(g, "::ffff:10.1.2.3"), "JP");
    CHECK_STR(cc_of(g, "::ffff:10.9.9.9"), "US");
    CHECK_STR(cc_of(g, "::ffff:11.0.0.1"), "-");

    /* IPv6 */
    CHECK_STR(cc_of(g, "2001:db8:ffff::1"), "SG");
    CHECK_STR(cc_of(g, "2001:db8:1:ffff::1"), "AU");
    CHECK_STR(cc_of(g, "2001:db8:1::7"), "BR");
    CHECK_STR(cc_of(g, "2001:db8:1::8"), "AU");
    CHECK_STR(cc_of(g, "2001:db9::1"), "ZA");
    CHECK_STR(cc_of(g, "::1"), "ZA");

    /* not an IP family */
    struct sockaddr un = {.sa_family = AF_UNIX};
    CHECK_EQ_INT(mrd_geo_lookup(g, &un, &gi), 0);
    CHECK_EQ_INT(mrd_geo_lookup(NULL, &un, &gi), 0);
    mrd_geo_close(g);
    g = NULL;

    /* an empty geo section opens and knows nothing */
    struct mrd_cfg_geo empty = {0};
    g = mrd_geo_open(&empty, err, sizeof(err));
    CHECK(g != NULL);
    CHECK_STR(cc_of(g, "10.1.2.3"), "-");
    CHECK_STR(cc_of(g, "2001:db8::1"), "-");
    mrd_geo_close(g);
    mrd_geo_close(NULL);
}

/* Many prefixes of every length: the match must be the longest one, as a linear scan says. */
static void test_networks_many(void)
{
    enum { N = 300 };
    static struct mrd_cfg_geo_net nets[N];
    static const char *ccs[] = {"US", "FR", "JP", "SG", "AU", "BR", "ZA", "IN", "AE", "EG"};
    uint64_t s = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        memset(&nets[i], 0, sizeof(nets[i]));
        nets[i].cidr.family = AF_INET;
        uint32_t a = htonl(0x0a000000u | (uint32_t)(s & 0x00ffffffu)); /* inside 10/8 */
        memcpy(nets[i].cidr.addr, &a, 4);
        nets[i].cidr.prefix = (uint8_t)(8 + (s >> 32) % 25);
        nets[i].country = ccs[i % 10];
        nets[i].region = -1;
    }
    struct mrd_cfg_geo cfg = {.networks = nets, .n_networks = N};
    char err[256];
    struct mrd_geo *g = mrd_geo_open(&cfg, err, sizeof(err));
    CHECK(g != NULL);
    if (!g)
        return;
    int bad = 0;
    for (int k = 0; k < 2000; k++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        /* half the probes near a configured network, half anywhere in 10/8 */
        uint32_t base;
        memcpy(&base, nets[s % N].cidr.addr, 4);
        uint32_t ip = k & 1 ? (ntohl(base) ^ (uint32_t)((s >> 40) & 0xff))
                            : 0x0a000000u | (uint32_t)((s >> 16) & 0xffffff);
        int best = -1;
        for (int i = 0; i < N; i++) {
            uint32_t na;
            memcpy(&na, nets[i].cidr.addr, 4);
            uint32_t mask = nets[i].cidr.prefix ? ~0u << (32 - nets[i].cidr.prefix) : 0;
            if (((ip ^ ntohl(na)) & mask) == 0 &&
                (best < 0 || nets[i].cidr.prefix > nets[best].cidr.prefix))
                best = i;
        }
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip)};
        struct mrd_geo_info gi;
        int found = mrd_geo_lookup(g, (struct sockaddr *)&sin, &gi);
        if (found != (best >= 0) || (best >= 0 && strcmp(gi.country, nets[best].country)))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    mrd_geo_close(g);
}

/* ---- distance ----------------------------------------------------------------------------- */

static void test_distance(void)
{
    double d = mrd_geo_distance_km(48.8566, 2.3522, 1.3521, 103.8198); /* Paris - Singapore */
    CHECK(fabs(d - 10700) < 107);
    CHECK(fabs(mrd_geo_distance_km(1.3521, 103.8198, 48.8566, 2.3522) - d) < 1e-6);
    d = mrd_geo_distance_km(40.7128, -74.0060, 51.5074, -0.1278); /* New York - London */
    CHECK(fabs(d - 5570) < 56);
    CHECK(mrd_geo_distance_km(35.68, 139.69, 35.68, 139.69) < 1e-9);
    d = mrd_geo_distance_km(0, 0, 0, 180); /* antipodes: half the circumference */
    CHECK(fabs(d - M_PI * 6371) < 1);
    d = mrd_geo_distance_km(0, 179.5, 0, -179.5); /* across the date line: short way round */
    CHECK(fabs(d - 111.2) < 1);
}

/* ---- mmdb --------------------------------------------------------------------------------- */

static int have_writer(void)
{
    return system("perl -MMaxMind::DB::Writer::Tree -e 1 >/dev/null 2>&1") == 0;
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

struct lookup_job {
    const struct mrd_geo *g;
    int                   bad;
};

static void *lookup_thread(void *arg)
{
    struct lookup_job *j = arg;
    for (int i = 0; i < 5000; i++) {
        struct mrd_geo_info gi;
        const char *ip = i % 3 == 0 ? "127.0.0.5" : i % 3 == 1 ? "10.1.2.3" : "2001:db8::9";
        const char *want = i % 3 == 0 ? "JP" : i % 3 == 1 ? "BR" : "SG";
        if (look(j->g, ip, &gi) != 1 || strcmp(gi.country, want))
            j->bad++;
    }
    return NULL;
}

static void test_mmdb_lookups(const char *db)
{
    struct mrd_cfg_geo_net nets[] = {net("127.0.0.0/24", "AU", -1)};
    struct mrd_cfg_geo cfg = {.mmdb = db, .networks = nets, .n_networks = 0};
    char err[256] = "";
    struct mrd_geo *g = mrd_geo_open(&cfg, err, sizeof(err));
    struct mrd_geo_info gi;

    CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "mrd_geo_open(%s): %s\n", db, err);
        return;
    }
    CHECK_EQ_INT(look(g, "127.0.0.5", &gi), 1);
    CHECK_STR(gi.country, "JP");
    CHECK_EQ_INT(gi.region, MRD_REGION_NEAS);
    CHECK(gi.has_coords && fabs(gi.latitude - 35.68) < 1e-6 && fabs(gi.longitude - 139.69) < 1e-6);
    CHECK_EQ_INT(look(g, "::ffff:127.0.0.5", &gi), 1);
    CHECK_STR(gi.country, "JP");
    /* no coordinates in the record */
    CHECK_EQ_INT(look(g, "10.200.1.1", &gi), 1);
    CHECK_STR(gi.country, "FR");
    CHECK_EQ_INT(gi.region, MRD_REGION_WEU);
    CHECK(!gi.has_coords);
    /* more specific record inside the /8 */
    CHECK_EQ_INT(look(g, "10.1.2.3", &gi), 1);
    CHECK_STR(gi.country, "BR");
    CHECK_EQ_INT(gi.region, MRD_REGION_SSAM);
    CHECK(gi.has_coords && fabs(gi.latitude + 23.55) < 1e-6);
    CHECK_EQ_INT(look(g, "2001:db8::9", &gi), 1);
    CHECK_STR(gi.country, "SG");
    CHECK_EQ_INT(gi.region, MRD_REGION_SEAS);
    /* outside every record */
    CHECK_EQ_INT(look(g, "127.0.0.6", &gi), 0);
    CHECK_EQ_INT(gi.region, -1);
    CHECK_STR(gi.country, "");
    CHECK_EQ_INT(look(g, "8.8.8.8", &gi), 0);
    CHECK_EQ_INT(look(g, "2001:db9::1", &gi), 0);
    CHECK_EQ_INT(look(g, "::ffff:11.0.0.1", &gi), 0);

    /* shared by several threads */
    struct lookup_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct lookup_job){.g = g};
        pthread_create(&th[i], NULL, lookup_thread, &jobs[i]);
    }
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad;
    }
    CHECK_EQ_INT(bad, 0);
    mrd_geo_close(g);

    /* a networks entry is checked before the mmdb */
    cfg.n_networks = 1;
    g = mrd_geo_open(&cfg, err, sizeof(err));
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_STR(cc_of(g, "127.0.0.5"), "AU");
    CHECK_STR(cc_of(g, "127.0.1.5"), "-");
    CHECK_STR(cc_of(g, "10.1.2.3"), "BR");
    mrd_geo_close(g);
}

static void test_mmdb_bad_files(const char *good)
{
    char err[256] = "", path[] = "/tmp/mrd-geo-bad-XXXXXX";
    struct mrd_cfg_geo cfg = {.mmdb = "/nonexistent/meridian/GeoLite2-City.mmdb"};

    CHECK(mrd_geo_open(&cfg, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "/nonexistent/meridian/GeoLite2-City.mmdb") != NULL);
    CHECK(strstr(err, "No such file") != NULL);
    printf("ok missing file: %s\n", err);

    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    cfg.mmdb = path;
    static const char junk[] = "this is not a MaxMind database, only some text\n";
    unsigned char noise[4096];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof(noise); i++)
        s = s * 1103515245u + 12345u, noise[i] = (unsigned char)(s >> 16);

    const struct {
        const void *p;
        size_t      n;
    } bad[] = {{junk, sizeof(junk) - 1}, {noise, sizeof(noise)}, {"", 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_EQ_INT(write_file(path, bad[i].p, bad[i].n), 0);
        struct mrd_geo *g = mrd_geo_open(&cfg, err, sizeof(err));
        CHECK(g == NULL);
        mrd_geo_close(g);
        CHECK(strstr(err, path) != NULL);
        if (i == 0)
            printf("ok garbage file: %s\n", err);
    }

    /* a real database cut in half has lost its metadata */
    if (good) {
        FILE *f = fopen(good, "rb");
        unsigned char buf[1 << 16];
        size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
        if (f)
            fclose(f);
        CHECK(n > 64 && n < sizeof(buf));
        CHECK_EQ_INT(write_file(path, buf, n / 2), 0);
        err[0] = '\0';
        struct mrd_geo *g = mrd_geo_open(&cfg, err, sizeof(err));
        CHECK(g == NULL);
        mrd_geo_close(g);
        CHECK(err[0] != '\0');
    }
    unlink(path);
}

static void test_mmdb(void)
{
    char db[] = "/tmp/mrd-geo-XXXXXX";
    if (!have_writer()) {
        printf("note: perl or MaxMind::DB::Writer::Tree missing; skipping the mmdb lookups\n");
        test_mmdb_bad_files(NULL);
        return;
    }
    int fd = mkstemp(db);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "perl tools/mkmmdb.pl %s 127.0.0.5/32=JP,35.68,139.69 10.0.0.0/8=fr "
             "10.1.2.0/24=BR,-23.55,-46.63 2001:db8::/32=SG,1.35,103.82",
             db);
    int rc = system(cmd);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        test_mmdb_lookups(db);
    test_mmdb_bad_files(rc == 0 ? db : NULL);
    unlink(db);
}

TEST_MAIN(test_regions(); test_countries(); test_networks(); test_networks_many();
          test_distance(); test_mmdb())
