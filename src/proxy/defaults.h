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

/* Service `health:` (score options default to the library's). */
#define SL_DEFAULT_HEALTH_INTERVAL_MS 2000u
#define SL_DEFAULT_HEALTH_TIMEOUT_MS  1000u
#define SL_DEFAULT_HEALTH_PATH        "/"
#define SL_DEFAULT_HEALTH_EXPECT_LO   200 /* expect: 200-399 */
#define SL_DEFAULT_HEALTH_EXPECT_HI   399
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
