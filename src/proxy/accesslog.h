/* The JSON access log, one object per line, batched per worker. */
#ifndef MRD_PROXY_ACCESSLOG_H
#define MRD_PROXY_ACCESSLOG_H
struct mrd_module;
struct mrd_worker;
extern const struct mrd_module mrd_accesslog_module;
/* Writes the worker's batch out. */
void mrd_accesslog_flush(struct mrd_worker *w);
#endif
