/* The control plane: the only writer. It loads the configuration, applies it
 * to the lb (services, backends, label views) keeping the state of backends
 * that stay, builds the immutable routing table and publishes it to the
 * workers. Control-thread only (the thread that opened it), except
 * sl_control_slot(), whose slot the workers read lock-free, and the
 * changes and queries of control/change.h, which any thread may call:
 * they, sl_control_reload() and sl_control_tick() take the control's
 * mutex. */
#ifndef SL_CONTROL_CONTROL_H
#define SL_CONTROL_CONTROL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/router.h"
#include "sluice.h"

/* Diagnostics: every message a validation produced, each already carrying
 * "FILE:LINE: " when it comes from a file. */
struct sl_diag {
    char **msgs;
    size_t n;
    size_t cap;
};

void sl_diag_init(struct sl_diag *d);
void sl_diag_add(struct sl_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_diag_fini(struct sl_diag *d);
void sl_diag_addv(struct sl_diag *d, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Warnings are messages starting with "warning: " (then "FILE:LINE: " when
 * they come from a file); everything else is an error. */
bool sl_diag_is_warning(const char *msg);
/* How many messages are errors (not warnings). */
size_t sl_diag_errors(const struct sl_diag *d);

struct sl_control;
struct sl_config;

/* Loads and validates <path>, opens its state store (a store that cannot
 * be opened: SLUICE_ERR_IO, the message naming the file) and replays the
 * store's overlay over the file (control/overlay.h); on success builds the
 * lb and the first table and publishes it. On failure returns
 * SLUICE_ERR_CONFIG (or NOMEM, IO) with every problem in <diag>, and *out
 * untouched. */
int sl_control_open(const char *path, struct sl_control **out, struct sl_diag *diag);

/* Validates <path> only (sluice check): 0 or SLUICE_ERR_CONFIG with diag;
 * an existing state store is opened read-only (SLUICE_ERR_IO when it
 * cannot be) and its overlay replayed, conflicts as warnings. */
int sl_control_check(const char *path, struct sl_diag *diag);

/* Re-reads the file it was opened with and applies it as a whole: services,
 * backends, endpoints and routes; backends whose target stays keep their
 * score and counters. On error nothing changes. Listener changes (bind,
 * mode) cannot be applied to running workers: they are reported in <diag>
 * as warnings prefixed "warning: " and the rest is applied (return 0). The
 * old table is released once every worker has moved on. */
int sl_control_reload(struct sl_control *c, struct sl_diag *diag);

/* The state store it opened (`state`, default sluice.db beside the
 * file), for the admin API's token registry; owned by the control. After
 * open only the admin thread uses it (every change runs there), which
 * keeps store.h's one thread at a time. */
struct sl_store;
struct sl_store *sl_control_store(struct sl_control *c);

/* The publication slot the workers read (stable for the control's life). */
struct sl_router_slot *sl_control_slot(struct sl_control *c);
/* The lb holding every service (owned by the control). */
sluice_lb_t *sl_control_lb(struct sl_control *c);
/* Worker threads the config asks for (auto: one per online CPU, capped at
 * SL_ROUTER_MAX_WORKERS). */
unsigned sl_control_workers(const struct sl_control *c);
/* Must be called once, before the first publish is quiesced, with the
 * number of workers that will sync from the slot. */
void sl_control_set_workers(struct sl_control *c, size_t nworkers);
/* Optional: <notify>(<arg>) runs on the control thread right after each
 * publish, e.g. to wake the workers' loops so they sync at once and the
 * old table is released without waiting for their next timer tick. */
void sl_control_set_notify(struct sl_control *c, void (*notify)(void *arg), void *arg);
/* How long a reload waits for every worker to adopt the new table
 * (default 5000 ms). Past it, the old table is parked and released at a
 * later reload or at close: never freed while a worker may reach it. */
void sl_control_set_quiesce_ms(struct sl_control *c, uint32_t ms);
/* Old tables parked that way, still waiting for a slow worker. */
size_t sl_control_pending(const struct sl_control *c);
/* Grace period for in-flight requests on SIGTERM (config `drain_timeout`,
 * default 10 s). */
uint32_t sl_control_drain_timeout_ms(const struct sl_control *c);

/* The validated model currently applied (control/config.h), borrowed until
 * the next reload or close. For the admin API and store of later issues. */
const struct sl_config *sl_control_config(const struct sl_control *c);

/* Housekeeping: the daemon calls it about once a second from the control
 * thread with a monotonic <now_ms>. Releases parked tables whose grace
 * period has passed, and old tables no request holds any more, then
 * unregisters the services and views only they still used (a request
 * started on an old table may retry there). Ejection ends are the
 * workers' (http/health.h), not this. */
void sl_control_tick(struct sl_control *c, uint64_t now_ms);

/* Stops the checker, releases the current table and frees everything. The
 * workers must have stopped. NULL is a no-op. */
void sl_control_close(struct sl_control *c);

#endif /* SL_CONTROL_CONTROL_H */
