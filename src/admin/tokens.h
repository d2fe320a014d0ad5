/* API tokens: "slk_" + 32 hex digits (128 random bits from getrandom()),
 * kept only as a SHA-256 hash (OpenSSL libcrypto) in the state store,
 * compared in constant time, shown once at creation.
 *
 * Threads: any; the registry has its own mutex (verification does not
 * wait for a change in progress). */
#ifndef SL_ADMIN_TOKENS_H
#define SL_ADMIN_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/change.h" /* enum sl_scope, struct sl_change_err */

struct sl_store;
struct sl_tokens;

#define SL_TOKEN_ID_MAX     32 /* "tok_" + 12 hex, NUL included */
#define SL_TOKEN_NAME_MAX   64
#define SL_TOKEN_SECRET_MAX 40 /* "slk_" + 32 hex, NUL included */

struct sl_token_info {
    char id[SL_TOKEN_ID_MAX];
    char name[SL_TOKEN_NAME_MAX];
    enum sl_scope scope;
    int64_t created;   /* unix seconds */
    int64_t last_used; /* unix seconds, 0: never */
};

/* Loads the tokens of <store> (borrowed; it must outlive the registry).
 * 0 or -1 with err set. */
int sl_tokens_open(struct sl_store *store, struct sl_tokens **out, char *err, size_t errlen);
void sl_tokens_close(struct sl_tokens *t);

/* On a first start (no token at all): creates an admin token named
 * "bootstrap" and writes its secret, mode 0600, to <path> (a file that
 * exists is refused, nothing is created). *created says whether it did.
 * 0 or -1 with err set. The secret is never logged. */
int sl_tokens_bootstrap(struct sl_tokens *t, const char *path, bool *created, char *err,
                        size_t errlen);

/* Creates a token: 0 with its info and the secret (to show once), or -1
 * with e set (400 invalid_field for a bad scope or name). */
int sl_tokens_create(struct sl_tokens *t, enum sl_scope scope, const char *name,
                     struct sl_token_info *info, char secret[SL_TOKEN_SECRET_MAX],
                     struct sl_change_err *e);
/* true when <secret>[0..len) is a live token; *info gets it and its
 * last-use time is updated (in memory; stored at most once a minute). */
bool sl_tokens_verify(struct sl_tokens *t, const char *secret, size_t len,
                      struct sl_token_info *info);
/* [{id, name, scope, created, last_used}] (never a secret or a hash). */
json_t *sl_tokens_list(struct sl_tokens *t);
/* 0, or -1 with e set: 404 not_found, 409 in_use for the last admin
 * token. */
int sl_tokens_revoke(struct sl_tokens *t, const char *id, struct sl_change_err *e);

const char *sl_scope_name(enum sl_scope s);            /* "read", "agent", "admin" */
int sl_scope_parse(const char *s, enum sl_scope *out); /* 0 or -1 */

#endif /* SL_ADMIN_TOKENS_H */
