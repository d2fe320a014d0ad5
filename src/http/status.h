/* Reason phrases of the status codes sluice answers itself (the proxy's
 * own errors, the admin API). Any thread; static strings. */
#ifndef SL_HTTP_STATUS_H
#define SL_HTTP_STATUS_H

/* RFC 9110's reason phrase for <status>, or "Status" for a code sluice
 * never sends itself. */
const char *sl_http_reason(int status);

#endif /* SL_HTTP_STATUS_H */
