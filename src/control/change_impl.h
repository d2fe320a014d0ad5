/* Internal to change*.c and query.c: refusing with a reason, committing a
 * change through the store and the lb, and the config model as JSON. */
#ifndef SL_CONTROL_CHANGE_IMPL_H
#define SL_CONTROL_CHANGE_IMPL_H

#include "control/change.h"
#include "control/control_impl.h"

/* Fills <e> and returns -1. */
int sl_chg_fail(struct sl_change_err *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 403 forbidden unless <who> has at least <need>. */
int sl_chg_need(const struct sl_change_who *who, enum sl_scope need, struct sl_change_err *e);

/* <body> must be an object whose keys are all in <known> (NULL-ended):
 * 400 invalid_field / unknown_field. */
int sl_chg_keys(const json_t *body, const char *const *known, const char *what,
                struct sl_change_err *e);

/* The whole change path (lock held): the overlay with edits[0..n), merged
 * and validated (400 with the loader's message), written to the store in
 * one transaction (500 store_error), applied to the lb and published (on
 * failure the old records are written back: 500). 0 when live. The
 * edits' values stay the caller's. */
int sl_chg_commit(struct sl_control *c, const struct sl_ov_edit *edits, size_t n,
                  struct sl_change_err *e);

/* A backend / an endpoint of the model in the config's shape (new
 * references; NULL when out of memory). */
json_t *sl_chg_backend_json(const struct sl_cfg_backend *b);
json_t *sl_chg_endpoint_json(const struct sl_cfg_endpoint *ep);
const struct sl_cfg_endpoint *sl_chg_endpoint(const struct sl_config *cfg, const char *pattern);

/* Whether the file (with the overlay's service records) has it, so that
 * removing it needs a tombstone rather than erasing a record. */
bool sl_chg_base_has_service(const struct sl_control *c, const char *svc);
bool sl_chg_base_has_backend(const struct sl_control *c, const char *svc, const char *name);
bool sl_chg_base_has_endpoint(const struct sl_control *c, const char *pattern);

/* Where backend <svc>/<name> came from: "static" (the file), "dynamic"
 * (the API); *<owner> the token that added it or NULL. */
const char *sl_chg_origin(const struct sl_control *c, const char *svc, const char *name,
                          const char **owner);

/* query.c: one backend as the query shows it (lock held); NULL if absent. */
json_t *sl_query_backend(struct sl_control *c, const char *svc, const char *name);

#endif /* SL_CONTROL_CHANGE_IMPL_H */
