/* The overlay: what the admin API changed, as records of whole objects
 * (store.h: kind service / backend / endpoint, value JSON or a null
 * tombstone), kept in memory in (kind, key) order and replayed over the
 * config file's tree. A record the file no longer supports (its service
 * is gone, its route names a removed service...) is kept but inactive,
 * with the reason; it becomes active again at the replay that can take
 * it. Control thread only (under the control's lock). */
#ifndef SL_CONTROL_OVERLAY_H
#define SL_CONTROL_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "control/config.h"
#include "control/store.h"
#include "control/ytree.h"

/* Replay order: services first (backends and routes need them). */
enum sl_ov_kind { SL_OV_SERVICE = 0, SL_OV_BACKEND, SL_OV_ENDPOINT };

struct sl_ov_rec {
    enum sl_ov_kind kind;
    char *key;     /* service name, "SERVICE/NAME" or endpoint pattern */
    json_t *value; /* json null: tombstone */
    bool inactive;
    char *reason; /* why inactive, else NULL */
};

struct sl_overlay {
    struct sl_ov_rec *recs; /* sorted by (kind, key) */
    size_t n;
    size_t cap;
};

/* One wanted change of a record: set <value> (taken: a new reference), or
 * erase the record when <value> is NULL. */
struct sl_ov_edit {
    enum sl_ov_kind kind;
    const char *key;
    json_t *value;
};

const char *sl_overlay_kind_name(enum sl_ov_kind k);

/* Fills <ov> (empty) from the store's service/backend/endpoint records.
 * 0, or -1 with err set (a record that does not parse names itself). */
int sl_overlay_load(struct sl_overlay *ov, struct sl_store *s, char *err, size_t errlen);
void sl_overlay_fini(struct sl_overlay *ov);

/* The record (kind, key) or NULL. */
struct sl_ov_rec *sl_overlay_find(const struct sl_overlay *ov, enum sl_ov_kind k, const char *key);

/* A copy of <ov> (values shared by reference) with edits[0..n) applied,
 * the records they set active. 0 or -1 (out of memory). */
int sl_overlay_with(const struct sl_overlay *ov, const struct sl_ov_edit *edits, size_t n,
                    struct sl_overlay *out);

/* Merges one record into <root> (a map). 0, or -1 with why[len]. */
int sl_overlay_merge(struct sl_ynode *root, const struct sl_ov_rec *r, char *why, size_t len);

/* <base> + every active record, validated as a whole (strict: the admin
 * API's check of a change). On success *<cfg> and *<merged> (the tree)
 * are the caller's; otherwise <diag> says why (merge problems as
 * "<kind> <key>: ..."). */
int sl_overlay_build(const struct sl_overlay *ov, const struct sl_ynode *base, const char *path,
                     struct sl_config **cfg, struct sl_ynode **merged, struct sl_diag *diag);

/* The replay of a start or a reload: like sl_overlay_build(), but each
 * record that makes the whole invalid is skipped, marked inactive with its
 * reason and reported in <diag> as a warning; the others are active. */
int sl_overlay_replay(struct sl_overlay *ov, const struct sl_ynode *base, const char *path,
                      struct sl_config **cfg, struct sl_ynode **merged, struct sl_diag *diag);

/* The first error of <d> without its "FILE:LINE: " prefix (NULL if none). */
const char *sl_overlay_first_error(const struct sl_diag *d, const char *path);

#endif /* SL_CONTROL_OVERLAY_H */
