/* Loading and checking configuration files. */
#ifndef MRD_CONFIG_H
#define MRD_CONFIG_H
#include <stdio.h>

#include "config/config-t.h"

/* Parses and validates <path>. Returns a config with refs == 1, or NULL with every
 * problem appended to <errs> (file:line:col located whenever the YAML gives a place). */
struct mrd_cfg *mrd_cfg_load_file(const char *path, struct mrd_cfg_errors *errs);
/* Same from a memory buffer; <name> is used as the file name in errors. */
struct mrd_cfg *mrd_cfg_load_string(const char *name, const char *text, size_t len,
                                    struct mrd_cfg_errors *errs);
/* Prints each error as "FILE:LINE:COL: message" on its own line. */
void mrd_cfg_errors_print(const struct mrd_cfg_errors *errs, FILE *out);
void mrd_cfg_errors_free(struct mrd_cfg_errors *errs);

/* Takes one more reference. */
struct mrd_cfg *mrd_cfg_ref(struct mrd_cfg *cfg);
/* Drops one reference; frees the generation at zero. Safe on NULL. */
void mrd_cfg_unref(struct mrd_cfg *cfg);

/* Finds the load balancer for a Host value (port already stripped, any case):
 * exact name first, then the longest "*.suffix", then "*". NULL if none. */
const struct mrd_cfg_lb *mrd_cfg_find_lb(const struct mrd_cfg *cfg, const char *host, size_t len);
/* Matches <str> against a glob with '*' and '?'. */
int mrd_cfg_glob_match(const char *glob, const char *str, size_t len);
/* Parses "250ms", "5s", "2m", "1h", "1d" (a bare number is seconds) into ms; 0 ok, -1 bad. */
int mrd_cfg_parse_duration(const char *s, uint64_t *ms);
/* Parses "512", "16KiB", "100MiB", "1GiB" (also KB/MB/GB as powers of 1000) into bytes. */
int mrd_cfg_parse_size(const char *s, uint64_t *bytes);
/* Parses "IP:port", "[IPv6]:port" or "host:port" (resolved now). 0 ok, else -1 and <why> set. */
int mrd_cfg_parse_addr(const char *s, struct mrd_cfg_addr *out, const char **why);
/* Parses "10.0.0.0/8" or an address alone (full-length prefix). */
int mrd_cfg_parse_cidr(const char *s, struct mrd_cfg_cidr *out);
/* 1 if the address <ss> is inside <c>. */
int mrd_cfg_cidr_contains(const struct mrd_cfg_cidr *c, const struct sockaddr_storage *ss);
#endif
