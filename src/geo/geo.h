/* Where a client is: the static `geo.networks` table first, then a MaxMind-format .mmdb
 * (libmaxminddb), with a built-in ISO 3166 country -> load-balancing region table. */
#ifndef MRD_GEO_H
#define MRD_GEO_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config/config-t.h"

/* The load-balancing regions, in this order (index = MRD_REGION_*). */
enum {
    MRD_REGION_WNAM, MRD_REGION_ENAM, MRD_REGION_WEU, MRD_REGION_EEU, MRD_REGION_NSAM,
    MRD_REGION_SSAM, MRD_REGION_OC, MRD_REGION_ME, MRD_REGION_NAF, MRD_REGION_SAF,
    MRD_REGION_SAS, MRD_REGION_SEAS, MRD_REGION_NEAS, MRD_REGION_COUNT
};

/* "WEU" (any case) -> MRD_REGION_WEU; -1 when it is not a region code. */
int mrd_geo_region_parse(const char *code);
/* MRD_REGION_* -> "WEU"; "" for -1 or out of range. */
const char *mrd_geo_region_name(int region);
/* ISO 3166-1 alpha-2 code (any case) -> its region; -1 when the code is not assigned. */
int mrd_geo_country_region(const char *cc);

struct mrd_geo_info {
    char   country[3]; /* upper-case, "" = unknown */
    int    region;     /* -1 = unknown */
    bool   has_coords;
    double latitude, longitude;
};

/* Opens the geo view of <cfg> (its networks, and its mmdb when set). NULL with a reason in
 * <err> when the mmdb cannot be opened or read. */
struct mrd_geo *mrd_geo_open(const struct mrd_cfg_geo *cfg, char *err, size_t errlen);
void mrd_geo_close(struct mrd_geo *g);
/* Looks <sa> up: the most specific `networks` entry, else the mmdb. 1 when something is
 * known (<out> filled; a region is derived from the country when the entry has none), 0 when
 * nothing is. Thread-safe; never blocks (the mmdb is mmap'ed). */
int mrd_geo_lookup(const struct mrd_geo *g, const struct sockaddr *sa, struct mrd_geo_info *out);
/* Great-circle distance in km (haversine, mean Earth radius 6371 km). */
double mrd_geo_distance_km(double lat1, double lon1, double lat2, double lon2);
#endif
