/* Inside the health module (http/health.h): one probe (health_probe.c),
 * driven by the scheduler (health_sched.c), and the HTTP side of a check
 * (health_http.c): the request to send and the verdict on the answer,
 * pure functions over a buffer. */
#ifndef SL_HTTP_HEALTH_INT_H
#define SL_HTTP_HEALTH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parse.h"
#include "http/router.h"
#include "net/loop.h"
#include "sluice.h"

/* An http check reads a head of at most SL_HEALTH_MAX_HEAD bytes and at
 * most SL_HEALTH_MAX_BODY bytes of body (enough for any status page; a
 * longer body is judged on its first SL_HEALTH_MAX_BODY bytes). */
#define SL_HEALTH_MAX_HEAD 16384
#define SL_HEALTH_MAX_BODY 65536
#define SL_HEALTH_BUF      (SL_HEALTH_MAX_HEAD + SL_HEALTH_MAX_BODY)

/* ---- health_http.c ---- */

/* The request of <h> for Host <host> into out[cap]: its length, or 0
 * when it does not fit. */
size_t sl_health_http_request(const struct sl_health_rt *h, const char *host, char *out,
                              size_t cap);

/* Reading the answer. Zero it before the first feed. */
struct sl_health_http {
    bool head_done;
    int status;
    enum sl_http_body framing;
    uint64_t length; /* SL_BODY_LENGTH: the body's */
    struct sl_chunked ch;
    size_t body;     /* body bytes (decoded) at the start of the buffer */
    size_t searched; /* of those, already searched for the substring */
};

#define SL_HEALTH_MORE (-1) /* no verdict yet: read more */

enum sl_health_end {
    SL_HEALTH_OPEN = 0, /* more bytes may come */
    SL_HEALTH_EOF,      /* the backend closed */
    SL_HEALTH_FULL,     /* the buffer is full: judge what is there */
};

/* Judges buf[0..*len) (every byte read so far; the head and chunk framing
 * are removed in place, so *len shrinks) against <h>: SL_HEALTH_MORE, or
 * a result with a reason in why[whylen] ("http status 500 from GET
 * /healthz", "body lacks 'ok'"). */
int sl_health_http_feed(struct sl_health_http *st, const struct sl_health_rt *h, char *buf,
                        size_t *len, enum sl_health_end end, char *why, size_t whylen);

/* ---- health_probe.c ---- */

struct sl_health_probe;
typedef void (*sl_health_probe_cb_t)(struct sl_health_probe *p, sluice_check_result_t r,
                                     uint16_t status, const char *why);

/* One probe slot, reused probe after probe. */
struct sl_health_probe {
    struct sl_loop *loop;
    struct sl_watcher w; /* fd -1 while idle */
    struct sl_timer timer;
    const struct sl_health_rt *h;
    uint64_t start_ms;
    char *buf; /* http: request, then the answer; allocated at the first http probe */
    size_t len, sent;
    bool sending;
    struct sl_health_http st;
    sl_health_probe_cb_t done;
    void *arg;
    char why[192];
};

void sl_health_probe_init(struct sl_health_probe *p, struct sl_loop *loop,
                          sl_health_probe_cb_t done, void *arg);
/* Starts probing <be> as <h> says (<host>: the http Host). 0: started,
 * and done() will be called exactly once (maybe before this returns);
 * -1 with errno: not started and nothing to report (out of descriptors or
 * memory: a soft failure that must not move the score). */
int sl_health_probe_start(struct sl_health_probe *p, const struct sl_health_rt *h,
                          sluice_backend_t *be, const char *host);
/* Aborts a probe in flight without calling done(). */
void sl_health_probe_abort(struct sl_health_probe *p);
/* Aborts and frees the buffer. */
void sl_health_probe_fini(struct sl_health_probe *p);

#endif /* SL_HTTP_HEALTH_INT_H */
