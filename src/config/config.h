/* Loading and checking configuration files. */
#ifndef MRD_CONFIG_H
#define MRD_CONFIG_H
#include <stdio.h>

#include "config/config-t.h"

/* Parses and validates <path>. Returns a config with refs == 1, or NULL with every
 * problem appended to <errs> (file:line:col located whenever the YAML gives a place).
 * Reads admin.token_file and opens geo (its mmdb) on the way, so a file that cannot be used
 * fails the load. The result is not bound to runtime state yet (mrd_rt_bind). */
struct mrd_cfg *mrd_cfg_load_file(const char *path, struct mrd_cfg_errors *errs);
/* Same from a memory buffer; <name> is used as the file name in errors. */
struct mrd_cfg *mrd_cfg_load_string(const char *name, const char *text, size_t len,
                                    struct mrd_cfg_errors *errs);
/* Prints each error as "FILE:LINE:COL: message" on its own line. */
void mrd_cfg_errors_print(const struct mrd_cfg_errors *errs, FILE *out);
void mrd_cfg_errors_free(struct mrd_cfg_errors *errs);

/* Takes one more reference. */
struct mrd_cfg *mrd_cfg_ref(struct mrd_cfg *cfg);
/* Drops one reference; at zero, unbinds the generation's runtime state (mrd_rt_unbind),
 * closes its geo lookup and frees it. Safe on NULL. */
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
/* 1 if s[0..len) is a non-empty HTTP token (RFC 9110 tchar): header names, methods. */
int mrd_cfg_is_token(const char *s, size_t len);
/* Parses one expected status, "200" (100..599) or a class "2xx" (1xx..5xx), of exactly
 * <len> bytes. 0 ok, -1 bad. */
int mrd_cfg_parse_code_range(const char *s, size_t len, struct mrd_cfg_code_range *out);
/* 1 if <status> is one of the monitor's expected codes. */
int mrd_cfg_code_expected(const struct mrd_cfg_monitor *m, int status);
/* Parses a plain decimal number ("-12", "48.86"); no exponent, hex, inf or nan. 0 ok, -1 bad. */
int mrd_cfg_parse_number(const char *s, double *out);
/* 1 if <a> is a loopback address: 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. */
int mrd_cfg_addr_is_loopback(const struct mrd_cfg_addr *a);
#endif
