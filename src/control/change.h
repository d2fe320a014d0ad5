/* Run-time changes to the routing table (the admin API's writes) and the
 * query of it (its reads).
 *
 * The config file is the base; what the API changes is an overlay of whole
 * objects (a service, a backend of a service, an endpoint with its routes)
 * kept in the state store (store.h) and replayed over the file at start and
 * after every reload. Every change goes the way a reload goes: the new
 * whole (file + overlay + this change) is validated, the overlay records
 * are written to the store in one durable transaction, the lb is changed
 * in one transaction and one table is published; only then does the call
 * return 0. A refused call changes nothing and says why in <e>.
 *
 * JSON shapes are the config file's (docs/configuration.md), in JSON.
 *
 * Threads: any thread. Every function takes the control plane's lock (a
 * mutex that reloads and ticks take too; the data plane never does). */
#ifndef SL_CONTROL_CHANGE_H
#define SL_CONTROL_CHANGE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "control/control.h"

/* Why a call was refused: the HTTP status the API answers, a stable code
 * and a message naming the field ("services.api.backends[0].target: ...").
 * Codes: invalid_json, invalid_field, unknown_field, invalid_target,
 * not_found, name_in_use, in_use (409: still referred to), forbidden
 * (403: the scope, or an agent and another token's backend), disallowed
 * (403: admin.dynamic_backends is false), conflict, store_error (500), nomem (500). */
struct sl_change_err {
    int status;
    char code[32];
    char message[512];
};

/* Token scopes, weakest first. */
enum sl_scope { SL_SCOPE_READ = 1, SL_SCOPE_AGENT = 2, SL_SCOPE_ADMIN = 3 };

/* Who asks: a token's id and scope. An agent-scope caller may add backends
 * (owned by its token) and change or remove only backends its token owns
 * (403 otherwise); admin may do everything. */
struct sl_change_who {
    const char *token_id;
    enum sl_scope scope;
};

/* Services. PUT registers or replaces <svc> with <body> (strategy,
 * hash_key, health, timeouts, retries, backends, ...: the config's service
 * object); it replaces the service's backends too, so overlay backends of
 * it go. DELETE unregisters it: 409 in_use while a route or a listener
 * names it. GET returns the service as configured now plus each backend's
 * run-time state (new reference; NULL with e set). */
int sl_change_service_put(struct sl_control *c, const char *svc, const json_t *body,
                          const struct sl_change_who *who, struct sl_change_err *e);
int sl_change_service_delete(struct sl_control *c, const char *svc, const struct sl_change_who *who,
                             struct sl_change_err *e);
json_t *sl_query_service(struct sl_control *c, const char *svc, struct sl_change_err *e);

/* Backends of a service. ADD: <body> {name, target, weight, labels,
 * connect_timeout, first_byte_timeout, between_bytes_timeout,
 * override_host}; origin "dynamic", owner who->token_id; 403 disallowed
 * when admin.dynamic_backends is false; 409 name_in_use; 400
 * invalid_target. *<created> (when not NULL) gets the backend as query
 * shows it. PATCH: {weight, drain (bool), health ("healthy"|"unhealthy":
 * a mark, not stored)}. DELETE: no new request goes to it from the
 * publication on; requests in flight finish. */
int sl_change_backend_add(struct sl_control *c, const char *svc, const json_t *body,
                          const struct sl_change_who *who, json_t **created,
                          struct sl_change_err *e);
int sl_change_backend_patch(struct sl_control *c, const char *svc, const char *name,
                            const json_t *body, const struct sl_change_who *who,
                            struct sl_change_err *e);
int sl_change_backend_delete(struct sl_control *c, const char *svc, const char *name,
                             const struct sl_change_who *who, struct sl_change_err *e);

/* Endpoints (by pattern, as written: "example.com/blog") and their routes.
 * PUT creates or replaces the endpoint ({routes: [...]}); route ids are
 * kept when given, else assigned (the next free routeNNN). ROUTE ADD:
 * {service, selector, weight} -> the new id in id[idlen]. ROUTE PATCH:
 * {service, selector, weight}. SHAPE: {"route000": 90, "route001": 10}
 * sets every route's weight at once: 404 for an unknown route, 400 when a
 * route of the endpoint is missing or every weight is 0. */
int sl_change_endpoint_put(struct sl_control *c, const char *pattern, const json_t *body,
                           const struct sl_change_who *who, struct sl_change_err *e);
int sl_change_endpoint_delete(struct sl_control *c, const char *pattern,
                              const struct sl_change_who *who, struct sl_change_err *e);
int sl_change_route_add(struct sl_control *c, const char *pattern, const json_t *body,
                        const struct sl_change_who *who, char *id, size_t idlen,
                        struct sl_change_err *e);
int sl_change_route_patch(struct sl_control *c, const char *pattern, const char *id,
                          const json_t *body, const struct sl_change_who *who,
                          struct sl_change_err *e);
int sl_change_route_delete(struct sl_control *c, const char *pattern, const char *id,
                           const struct sl_change_who *who, struct sl_change_err *e);
int sl_change_shape(struct sl_control *c, const char *pattern, const json_t *body,
                    const struct sl_change_who *who, struct sl_change_err *e);

/* GET /v1/query: {"endpoints": [{pattern, routes: [{id, service, selector,
 * weight, backends: [names selected now]}]}], "backends": [{name, service,
 * origin, owner, labels, target, weight, state, health, score, failures,
 * active, requests, rps, load, location, remote_addr, connected_at}], "conflicts":
 * [...]}. Filters (NULL: none) narrow it: a service name, an endpoint
 * pattern, a label selector. New reference, or NULL with e set (400 for a
 * bad selector). */
struct sl_query_filter {
    const char *service;
    const char *endpoint;
    const char *selector;
    /* One backend by name: only its row (no endpoints), so an answer about
     * one backend costs one row, not the whole table. Not an API filter. */
    const char *backend;
};
json_t *sl_query(struct sl_control *c, const struct sl_query_filter *f, struct sl_change_err *e);

#endif /* SL_CONTROL_CHANGE_H */
