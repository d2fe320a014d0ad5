/* The state store: what the admin API changed, kept durably so that nothing
 * an API call was told succeeded is lost on a restart or a kill -9.
 *
 * A store holds records (kind, key) -> value, the value a JSON text:
 *   kind "service"  key service name        value: the service as the API's
 *                                            PUT body, or null: deleted
 *   kind "backend"  key "SERVICE/NAME"      value: {"backend": {...},
 *                                            "origin": "dynamic", "owner":
 *                                            TOKEN_ID}, or null: deleted
 *   kind "endpoint" key the pattern         value: the endpoint, or null
 *   kind "token"    key the token id        value: {"name","scope","hash",
 *                                            "created","last_used"}
 *   kind "meta"     key e.g. "schema"       value: anything
 * A JSON null value is a tombstone (the overlay deletes what the config
 * file has); erasing a record forgets it altogether.
 *
 * An interface, so that a later version can keep the same records in etcd
 * for several nodes; sl_store_open() picks the implementation (SQLite for
 * a file path: WAL, synchronous=FULL, one transaction per apply).
 *
 * Threads: one store is used by one thread at a time (the control plane
 * serialises its callers). */
#ifndef SL_CONTROL_STORE_H
#define SL_CONTROL_STORE_H

#include <stdbool.h>
#include <stddef.h>

struct sl_store;

struct sl_store_rec {
    const char *kind;
    const char *key;
    const char *value; /* JSON text; "null" is a tombstone */
};

/* One write of sl_store_apply(): put <value> at (kind, key), or erase the
 * record when <value> is NULL. */
struct sl_store_op {
    const char *kind;
    const char *key;
    const char *value;
};

/* Opens (creating when absent and not <readonly>) the store at <path>.
 * Returns 0, or -1 with a message naming the file and the engine's reason
 * in err[errlen] ("sluice.db: file is not a database"). A store that
 * cannot be read, or whose schema is newer than this version knows, is an
 * error: nothing is created or changed then. */
int sl_store_open(const char *path, bool readonly, struct sl_store **out, char *err, size_t errlen);

/* Calls <each> for every record, in (kind, key) order; stops at the first
 * non-zero return of <each> and returns it. -1 with err set on a read
 * error. The strings live for the call only. */
int sl_store_load(struct sl_store *s, int (*each)(void *arg, const struct sl_store_rec *r),
                  void *arg, char *err, size_t errlen);

/* Writes ops[0..n) in one durable transaction: when it returns 0 every op
 * is on disk (fsync'd), when it returns -1 (err set) none is. */
int sl_store_apply(struct sl_store *s, const struct sl_store_op *ops, size_t n, char *err,
                   size_t errlen);

/* Group commit (optional; sl_store_apply alone is always correct). One
 * fsync per apply caps the writes a second at what the disk's fsync
 * allows; a caller that holds several calls' writes at once (8 clients
 * whose requests arrived together) can make them durable with one fsync:
 *   sl_store_group_begin(); sl_store_apply() per call (each still all or
 *   nothing: a failing apply leaves none of its own ops, the others stay);
 *   sl_store_group_commit().
 * Inside a group, apply returns before its ops are durable: answer the
 * calls only after group_commit returned 0; when it returns -1 none of the
 * group's applies is stored. The store's lock is held from begin to
 * commit (same thread). 0 or -1 with err set. */
int sl_store_group_begin(struct sl_store *s, char *err, size_t errlen);
int sl_store_group_commit(struct sl_store *s, char *err, size_t errlen);

/* Reclaims space (checkpoints the WAL, vacuums when worth it). Optional:
 * 0 or -1 with err set; the store stays usable either way. */
int sl_store_compact(struct sl_store *s, char *err, size_t errlen);

/* The path it was opened with (for messages). */
const char *sl_store_path(const struct sl_store *s);

/* Closes; NULL is a no-op. */
void sl_store_close(struct sl_store *s);

#endif /* SL_CONTROL_STORE_H */
