/* Defaults of the data plane: what a setting is when neither the backend
 * nor its service (nor the listener) sets it. One list, so the proxies,
 * the config loader and docs/configuration.md cannot drift apart; a value
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

#endif /* SL_PROXY_DEFAULTS_H */
