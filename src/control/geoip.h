/* Where an agent is when it does not say: its remote address looked up in
 * a MaxMind DB (agents.geoip_db, libmaxminddb). One DB is open at a time,
 * kept across config rebuilds (every change rebuilds the config) and
 * reopened only when the path or the file changes, so a reload swaps it
 * and a registration does not reopen it. Used on the control/admin
 * thread only, never on the workers. */
#ifndef SL_CONTROL_GEOIP_H
#define SL_CONTROL_GEOIP_H

#include <stddef.h>

#include <jansson.h>

/* Opens <path> unless it is the DB already open (same path and file).
 * 0; or -1 with libmaxminddb's (or the system's) reason in err[cap]; or 1
 * with the reason when the file cannot be read now but the DB read
 * before from the same path stays in use. */
int sl_geoip_open(const char *path, char *err, size_t cap);

/* The host part of "ip:port", "[ip]:port" or a bare ip into out[cap].
 * 0, or -1 when it does not fit or is empty. */
int sl_geoip_host(const char *remote, char *out, size_t cap);

/* A new location object: <reported> (may be NULL) with each field it
 * lacks filled from the record of <remote> in <path>, field by field (what
 * the agent reports wins). NULL when there is nothing to say (no record
 * and nothing reported) or on failure; the caller owns the result. */
json_t *sl_geoip_locate(const char *path, const char *remote, const json_t *reported);

#endif /* SL_CONTROL_GEOIP_H */
