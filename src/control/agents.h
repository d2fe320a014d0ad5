/* Agents: backends that register themselves over the admin API and keep
 * their registration alive with heartbeats, under a lease.
 *
 * A registration is an overlay backend record (store.h) of origin "agent"
 * and owner the token's id, with the agent's id and location beside the
 * backend, so it survives a restart. What changes at every heartbeat
 * (the last heartbeat's monotonic time, the reported load, since when it
 * is connected) lives in memory only: 1,000 agents at one heartbeat a
 * second must not write the store. Only registration, deregistration and
 * expiry write.
 *
 * Lease: no heartbeat for agents.lease -> the backend is out of rotation
 * (state "disconnected"); the next heartbeat brings it back through its
 * health checks; no heartbeat for agents.expire -> removed. Backends
 * loaded from the store at start begin disconnected.
 *
 * Threads: any thread; every call takes the control's lock, except
 * sl_agents_tick()/sl_agents_start()/sl_agents_find() which run with it
 * held (control.c, query.c). */
#ifndef SL_CONTROL_AGENTS_H
#define SL_CONTROL_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/change.h"

#define SL_AGENT_ID_LEN 24 /* "ag_" + 16 hex digits + NUL, rounded up */

/* One agent's run-time lease state. */
struct sl_agent {
    char id[SL_AGENT_ID_LEN];
    char *svc;
    char *name;
    char *owner;          /* token id; NULL when none */
    uint64_t last_ms;     /* monotonic: last heartbeat or registration */
    int64_t connected_at; /* wall seconds: since this connection */
    uint32_t load;        /* last reported load */
    bool load_set;        /* a heartbeat reported one */
    bool disconnected;    /* the lease ran out (or loaded at start) */
    bool marked_down;     /* the agent said healthy: false */
    char remote[64];      /* where its last call came from ("ip:port") */
};

struct sl_agents {
    struct sl_agent *a;
    size_t n;
    size_t cap;
};

/* POST /v1/agents: <body> {service, name, target, labels, weight,
 * location}. name defaults to the target with every character a name
 * cannot hold turned into '-'. 0 with *<created> true (a new agent) or
 * false (the same owner registered the same name again: same id, lease
 * refreshed) and id[SL_AGENT_ID_LEN], *<lease_ms>, *<name> (malloc'd); or
 * -1 with e (409 name_in_use when another owner or the file has the
 * name). */
int sl_agent_register(struct sl_control *c, const json_t *body, const struct sl_change_who *who,
                      const char *remote, char *id, uint32_t *lease_ms, char **name, bool *created,
                      struct sl_change_err *e);

/* <remote> (both calls): the caller's "ip:port", kept in memory for the
 * query (NULL: unknown). */
/* POST /v1/agents/{id}/heartbeat: <body> {load (integer >= 0), healthy
 * (bool)}. 0 with *<lease_ms>; -1 with e (404 not_found: unknown id, the
 * agent registers again; 403 another token's agent). */
int sl_agent_heartbeat(struct sl_control *c, const char *id, const json_t *body,
                       const struct sl_change_who *who, const char *remote, uint32_t *lease_ms,
                       struct sl_change_err *e);

/* DELETE /v1/agents/{id}: drains the backend, then removes it (requests
 * in flight finish). 0, or -1 with e (404, 403). */
int sl_agent_delete(struct sl_control *c, const char *id, const struct sl_change_who *who,
                    struct sl_change_err *e);

/* Lock held. Lease and expiry, from sl_control_tick(). */
void sl_agents_tick(struct sl_control *c, uint64_t now_ms);
/* Lock held. At open: the agent records of the overlay become agents,
 * disconnected until their next heartbeat. */
void sl_agents_start(struct sl_control *c);
/* Lock held. After a change or reload went live: a backend the lb built
 * anew (its target changed...) gets its out bit and load again. */
void sl_agents_reapply(struct sl_control *c);
/* Lock held. The agent of backend <svc>/<name>, or NULL. */
const struct sl_agent *sl_agents_find(const struct sl_control *c, const char *svc,
                                      const char *name);
void sl_agents_fini(struct sl_agents *ag);

#endif /* SL_CONTROL_AGENTS_H */
