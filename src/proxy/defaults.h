/* Defaults of the data plane: what a setting is when neither the backend
 * nor its service (nor the listener) sets it. One list, so the proxies,
 * the config loader and docs/configuration.md cannot drift apart (the
 * config loader reads every default of a config key from here); a value
 * changed here changes for every one of them. Plain constants: no code. */
#ifndef SL_PROXY_DEFAULTS_H
#define SL_PROXY_DEFAULTS_H

/* Service `timeouts:` (a backend's own setting overrides each). */
#define SL_DEFAULT_CONNECT_TIMEOUT_MS  2000u  /* connect: the TCP handshake */
#define SL_DEFAULT_RESPONSE_TIMEOUT_MS 30000u /* response: request sent -> first byte */
/* idle: HTTP, between two bytes of one response; TCP, a whole session
 * with no byte either way. */
#define SL_DEFAULT_IDLE_TIMEOUT_MS 60000u
/* Service `retries:`: other backends tried after a failed attempt. */
#define SL_DEFAULT_RETRIES 2u

/* Listener `timeouts:` and limits (HTTP). */
#define SL_DEFAULT_HEADER_TIMEOUT_MS      10000u /* header: a request head's arrival */
#define SL_DEFAULT_CLIENT_IDLE_TIMEOUT_MS 60000u /* idle: keep-alive between requests */
#define SL_DEFAULT_MAX_HEADER_SIZE        16384u /* max_header_size, bytes */
/* body: the longest wait between two reads of a request body. Shorter
 * than nginx's client_body_timeout (60s): a client that sends nothing for
 * 30 s mid-upload is stalled, not slow, and each one holds a connection
 * (and, streaming, a backend connection). */
#define SL_DEFAULT_BODY_TIMEOUT_MS 30000u
/* min_body_rate, bytes/s: 0 is off (as Apache's mod_reqtimeout without
 * MinRate). When on, the average since the head arrived is checked every
 * SL_BODY_RATE_CHECK_MS once SL_BODY_RATE_GRACE_MS passed, so a client's
 * slow start (TCP slow start, a 100 Continue round trip) is forgiven. */
#define SL_DEFAULT_MIN_BODY_RATE 0u
#define SL_BODY_RATE_GRACE_MS    5000u
#define SL_BODY_RATE_CHECK_MS    1000u
/* max_body_size, bytes: 0 is unlimited. */
#define SL_DEFAULT_MAX_BODY_SIZE 0u

/* Service `buffer_request_body:`, bytes: 0 is off (the body streams to the
 * backend as it arrives); at most SL_MAX_BUFFER_REQUEST_BODY. */
#define SL_DEFAULT_BUFFER_REQUEST_BODY 0u
#define SL_MAX_BUFFER_REQUEST_BODY     (64u << 20)

/* Service `health:` (score options default to the library's). */
#define SL_DEFAULT_HEALTH_INTERVAL_MS 2000u
#define SL_DEFAULT_HEALTH_TIMEOUT_MS  1000u
#define SL_DEFAULT_HEALTH_PATH        "/"
#define SL_DEFAULT_HEALTH_EXPECT_LO   200 /* expect: 200-399 */
#define SL_DEFAULT_HEALTH_EXPECT_HI   399
#define SL_DEFAULT_HEALTH_METHOD      "GET"
#define SL_DEFAULT_PANIC_THRESHOLD    50u /* percent */
#define SL_DEFAULT_SLOW_START_MS      0u
#define SL_DEFAULT_EJECT_MS           5000u
#define SL_DEFAULT_EJECT_MAX_MS       300000u
/* Service `queue_timeout:` and `provider:`. */
#define SL_DEFAULT_QUEUE_TIMEOUT_MS   15000u
#define SL_DEFAULT_MAX_INSTANCES      1u
#define SL_DEFAULT_TARGET_CONCURRENCY 10u
#define SL_DEFAULT_INSTANCE_IDLE_MS   60000u
#define SL_DEFAULT_INSTANCE_START_MS  10000u
/* Backend and route `weight:`. */
#define SL_DEFAULT_WEIGHT 1u

/* Top level: `drain_timeout:`, `agents: {lease, expire}`. */
#define SL_DEFAULT_DRAIN_TIMEOUT_MS 10000u
#define SL_DEFAULT_AGENT_LEASE_MS   10000u
#define SL_DEFAULT_AGENT_EXPIRE_MS  300000u

#endif /* SL_PROXY_DEFAULTS_H */
