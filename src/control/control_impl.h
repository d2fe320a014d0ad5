/* Internal to control*.c, change*.c and query.c: the control plane
 * object, and the one way a new configuration goes live. */
#ifndef SL_CONTROL_CONTROL_IMPL_H
#define SL_CONTROL_CONTROL_IMPL_H

#include <pthread.h>

#include "control/agents.h"
#include "control/apply_config.h"
#include "control/config.h"
#include "control/control.h"
#include "control/overlay.h"
#include "control/rps.h"
#include "control/store.h"
#include "control/ytree.h"

struct pending {
    struct sl_router *r;
    uint64_t gen; /* every worker must have seen this before r can go */
};

struct sl_control {
    char *path;
    sluice_lb_t *lb;
    struct sl_config *cfg;  /* applied now: the file with the overlay */
    struct sl_config *boot; /* as opened: its listeners are the ones running */
    struct sl_ynode *base;  /* the file's tree, as last loaded */
    struct sl_ynode *tree;  /* base + the active overlay: what cfg came from */
    struct sl_overlay ov;
    struct sl_store *store;
    struct sl_rps rps;
    struct sl_agents agents; /* lease state of agent backends (agents.h) */
    pthread_mutex_t mu;      /* reload, tick, changes and queries */
    struct sl_apply_state st;
    struct pending *pending; /* old tables whose quiesce timed out */
    size_t npending;
    size_t cap;
    /* Old tables every worker has left, still held by control until the
     * requests that started on them end: a retry there looks its service
     * up by name, so pruning waits for them (see reap_retired()). */
    struct sl_router **retired;
    size_t nretired;
    size_t capretired;
    uint32_t quiesce_ms;
    void (*notify)(void *arg);
    void *notify_arg;
    struct sl_router_slot slot;
};

/* Applies <ncfg> (from tree <tree>) to the lb in one transaction, builds
 * and publishes its table, as a reload does. On success takes both (the
 * old ones are freed); on failure (diag says why) the caller keeps them
 * and the old table stays published. Lock held. */
int sl_control_install(struct sl_control *c, struct sl_config *ncfg, struct sl_ynode *tree,
                       struct sl_diag *diag);

#endif /* SL_CONTROL_CONTROL_IMPL_H */
