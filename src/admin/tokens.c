/* The token registry: every token of the store in memory (id, name,
 * scope, the SHA-256 of its secret), so that a verification is a hash and
 * a table walk under the registry's own mutex, never a store read.
 *
 * The secret itself is never kept: it leaves sl_tokens_create() (and the
 * bootstrap file) once, and only its hash reaches the store. */
#include "admin/tokens.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "control/store.h"
#include "net/log.h"

#define SECRET_PREFIX "slk_"
#define SECRET_LEN    36 /* "slk_" + 32 hex */
#define ID_PREFIX     "tok_"
#define HASH_LEN      32
/* last_used reaches the store at most this often per token: a write per
 * request would make every authenticated call an fsync. */
#define LAST_USED_SECS 60

struct token {
    struct sl_token_info info;
    unsigned char hash[HASH_LEN];
    int64_t stored_last_used; /* what the store holds */
};

/* Two locks, so that a verification never waits for an fsync: <lock>
 * guards the table and is held only for memory work; <write_lock>
 * serialises the registry's store writes (create, revoke, last_used) and
 * whoever holds it is the only one to add or remove entries. Order:
 * write_lock, then lock. */
struct sl_tokens {
    pthread_mutex_t lock;
    pthread_mutex_t write_lock;
    struct sl_store *store;
    struct token *v;
    size_t n, cap;
};

static void set_err(struct sl_change_err *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(struct sl_change_err *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;

    e->status = status;
    /* An error message cut at the buffer's end still says what failed. */
    (void)snprintf(e->code, sizeof(e->code), "%s", code);
    va_start(ap, fmt);
    (void)vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

const char *sl_scope_name(enum sl_scope s)
{
    switch (s) {
    case SL_SCOPE_READ:
        return "read";
    case SL_SCOPE_AGENT:
        return "agent";
    case SL_SCOPE_ADMIN:
        return "admin";
    }
    return "?";
}

int sl_scope_parse(const char *s, enum sl_scope *out)
{
    static const enum sl_scope all[] = {SL_SCOPE_READ, SL_SCOPE_AGENT, SL_SCOPE_ADMIN};

    for (size_t i = 0; s != NULL && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(s, sl_scope_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;

        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];

            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int sha256(const char *s, size_t len, unsigned char out[HASH_LEN])
{
    unsigned int outlen = 0;

    return EVP_Digest(s, len, out, &outlen, EVP_sha256(), NULL) == 1 && outlen == HASH_LEN ? 0 : -1;
}

/* <n> random bytes as 2n hex digits after <prefix>, into out[cap]. */
static int random_hex(const char *prefix, size_t n, char *out, size_t cap)
{
    unsigned char b[16];
    size_t plen = strlen(prefix);
    size_t got = 0;

    if (n > sizeof(b) || plen + 2 * n >= cap) {
        errno = ENOBUFS;
        return -1;
    }
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);

        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0)
            got += (size_t)r;
    }
    memcpy(out, prefix, plen + 1); /* hex() then writes from the NUL on */
    hex(b, n, out + plen);
    return 0;
}

static char *record(const struct token *t)
{
    char h[2 * HASH_LEN + 1];
    json_t *v;
    char *text;

    hex(t->hash, HASH_LEN, h);
    v = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", t->info.name, "scope",
                  sl_scope_name(t->info.scope), "hash", h, "created", (json_int_t)t->info.created,
                  "last_used", (json_int_t)t->info.last_used);
    if (v == NULL)
        return NULL;
    text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(v);
    return text;
}

static int store_put(struct sl_tokens *t, const struct token *tok, char *err, size_t errlen)
{
    char *text = record(tok);
    int ret;

    if (text == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    const struct sl_store_op op = {"token", tok->info.id, text};
    ret = sl_store_apply(t->store, &op, 1, err, errlen);
    free(text);
    return ret;
}

static int push(struct sl_tokens *t, const struct token *tok)
{
    if (t->n == t->cap) {
        size_t cap = t->cap != 0 ? 2 * t->cap : 8;
        struct token *v = realloc(t->v, cap * sizeof(*v));

        if (v == NULL)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = *tok;
    return 0;
}

struct load_ctx {
    struct sl_tokens *t;
    char *err;
    size_t errlen;
};

static int load_each(void *arg, const struct sl_store_rec *r)
{
    struct load_ctx *c = arg;
    struct token tok = {0};
    const char *name, *scope, *hash;
    json_int_t created = 0, last_used = 0;
    json_t *v;
    int bad;

    if (strcmp(r->kind, "token") != 0)
        return 0;
    v = json_loads(r->value, 0, NULL);
    bad =
        v == NULL || json_unpack(v, "{s:s, s:s, s:s, s?I, s?I}", "name", &name, "scope", &scope,
                                 "hash", &hash, "created", &created, "last_used", &last_used) != 0;
    if (!bad)
        bad = strlen(r->key) >= sizeof(tok.info.id) || strlen(name) >= sizeof(tok.info.name) ||
              sl_scope_parse(scope, &tok.info.scope) != 0 || unhex(hash, tok.hash, HASH_LEN) != 0;
    if (!bad) {
        /* Both lengths were checked above: neither copy truncates. */
        (void)snprintf(tok.info.id, sizeof(tok.info.id), "%s", r->key);
        (void)snprintf(tok.info.name, sizeof(tok.info.name), "%s", name);
        tok.info.created = created;
        tok.info.last_used = last_used;
        tok.stored_last_used = last_used;
    }
    json_decref(v);
    if (bad) {
        (void)snprintf(c->err, c->errlen, "%s: token %s: not a token record",
                       sl_store_path(c->t->store), r->key);
        return -1;
    }
    if (push(c->t, &tok) != 0) {
        (void)snprintf(c->err, c->errlen, "out of memory");
        return -1;
    }
    return 0;
}

int sl_tokens_open(struct sl_store *store, struct sl_tokens **out, char *err, size_t errlen)
{
    struct sl_tokens *t = calloc(1, sizeof(*t));
    struct load_ctx c = {t, err, errlen};

    *out = NULL;
    if (t == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->write_lock, NULL);
    t->store = store;
    if (sl_store_load(store, load_each, &c, err, errlen) != 0) {
        sl_tokens_close(t);
        return -1;
    }
    *out = t;
    return 0;
}

void sl_tokens_close(struct sl_tokens *t)
{
    if (t == NULL)
        return;
    OPENSSL_cleanse(t->v, t->cap * sizeof(*t->v));
    free(t->v);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->write_lock);
    free(t);
}

static bool name_ok(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;

    if (len == 0 || len >= SL_TOKEN_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    /* It goes into JSON: jansson refuses what is not UTF-8. */
    json_t *j = json_string(name);
    json_decref(j);
    return j != NULL;
}

/* The index of token <id>, or t->n; the caller holds <lock>. */
static size_t find(const struct sl_tokens *t, const char *id)
{
    size_t i;

    for (i = 0; i < t->n && strcmp(t->v[i].info.id, id) != 0; i++)
        ;
    return i;
}

/* Makes a token (id, secret, hash), stores it, then adds it to the table;
 * the caller holds <write_lock>. */
static int create_locked(struct sl_tokens *t, enum sl_scope scope, const char *name,
                         struct token *tok, char secret[SL_TOKEN_SECRET_MAX], char *err,
                         size_t errlen)
{
    bool taken;
    int ret;

    memset(tok, 0, sizeof(*tok));
    do {
        if (random_hex(ID_PREFIX, 6, tok->info.id, sizeof(tok->info.id)) != 0) {
            (void)snprintf(err, errlen, "getrandom: %s", sl_errstr(errno));
            return -1;
        }
        /* 48 bits make a repeat unlikely, not impossible. */
        pthread_mutex_lock(&t->lock);
        taken = find(t, tok->info.id) < t->n;
        pthread_mutex_unlock(&t->lock);
    } while (taken);
    if (random_hex(SECRET_PREFIX, 16, secret, SL_TOKEN_SECRET_MAX) != 0) {
        (void)snprintf(err, errlen, "getrandom: %s", sl_errstr(errno));
        return -1;
    }
    if (sha256(secret, SECRET_LEN, tok->hash) != 0) {
        (void)snprintf(err, errlen, "SHA-256 failed");
        OPENSSL_cleanse(secret, SL_TOKEN_SECRET_MAX);
        return -1;
    }
    /* The callers pass a name of fewer than SL_TOKEN_NAME_MAX bytes
     * (name_ok(), "bootstrap"): it fits. */
    (void)snprintf(tok->info.name, sizeof(tok->info.name), "%s", name);
    tok->info.scope = scope;
    tok->info.created = (int64_t)time(NULL);
    if (store_put(t, tok, err, errlen) != 0) {
        OPENSSL_cleanse(secret, SL_TOKEN_SECRET_MAX);
        return -1;
    }
    pthread_mutex_lock(&t->lock);
    ret = push(t, tok);
    pthread_mutex_unlock(&t->lock);
    if (ret != 0) {
        const struct sl_store_op op = {"token", tok->info.id, NULL};
        char ignored[512];

        (void)sl_store_apply(t->store, &op, 1, ignored, sizeof(ignored));
        (void)snprintf(err, errlen, "out of memory");
        OPENSSL_cleanse(secret, SL_TOKEN_SECRET_MAX);
        return -1;
    }
    return 0;
}

int sl_tokens_create(struct sl_tokens *t, enum sl_scope scope, const char *name,
                     struct sl_token_info *info, char secret[SL_TOKEN_SECRET_MAX],
                     struct sl_change_err *e)
{
    struct token tok;
    char err[512] = "";
    int ret;

    if (scope != SL_SCOPE_READ && scope != SL_SCOPE_AGENT && scope != SL_SCOPE_ADMIN) {
        set_err(e, 400, "invalid_field", "scope: must be read, agent or admin");
        return -1;
    }
    if (!name_ok(name)) {
        set_err(e, 400, "invalid_field",
                "name: must be 1 to %d bytes of UTF-8, no control characters",
                SL_TOKEN_NAME_MAX - 1);
        return -1;
    }
    pthread_mutex_lock(&t->write_lock);
    ret = create_locked(t, scope, name, &tok, secret, err, sizeof(err));
    pthread_mutex_unlock(&t->write_lock);
    if (ret != 0) {
        set_err(e, 500, "store_error", "%s", err);
        return -1;
    }
    if (info != NULL)
        *info = tok.info;
    return 0;
}

/* Writes token <id>'s last use to the store (when it still exists). */
static void store_last_used(struct sl_tokens *t, const char *id)
{
    struct token copy;
    char err[512];
    size_t i;
    bool present;
    int ret = -1;

    pthread_mutex_lock(&t->write_lock);
    pthread_mutex_lock(&t->lock);
    i = find(t, id);
    present = i < t->n;
    if (present)
        copy = t->v[i];
    pthread_mutex_unlock(&t->lock);
    /* Not present: revoked meanwhile, and writing would bring it back.
     * <present> rather than t->n again: <copy> is set only if it is. */
    if (present)
        ret = store_put(t, &copy, err, sizeof(err));
    if (ret != 0 && present) {
        /* Best effort: a later use tries again. */
        pthread_mutex_lock(&t->lock);
        i = find(t, id);
        if (i < t->n)
            t->v[i].stored_last_used = 0;
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&t->write_lock);
    OPENSSL_cleanse(&copy, sizeof(copy));
}

bool sl_tokens_verify(struct sl_tokens *t, const char *secret, size_t len,
                      struct sl_token_info *info)
{
    unsigned char h[HASH_LEN];
    struct token *found = NULL;
    char id[SL_TOKEN_ID_MAX];
    bool due;
    int64_t now;

    if (secret == NULL || len != SECRET_LEN || memcmp(secret, SECRET_PREFIX, 4) != 0 ||
        sha256(secret, len, h) != 0)
        return false;
    now = (int64_t)time(NULL);
    pthread_mutex_lock(&t->lock);
    /* Every entry is compared, in constant time each: how long this takes
     * says nothing of how close a guess came. */
    for (size_t i = 0; i < t->n; i++)
        if (CRYPTO_memcmp(h, t->v[i].hash, HASH_LEN) == 0)
            found = &t->v[i];
    if (found == NULL) {
        pthread_mutex_unlock(&t->lock);
        return false;
    }
    found->info.last_used = now;
    due = now - found->stored_last_used >= LAST_USED_SECS;
    if (due)
        found->stored_last_used = now; /* so that one caller writes it */
    if (info != NULL)
        *info = found->info;
    memcpy(id, found->info.id, sizeof(id));
    pthread_mutex_unlock(&t->lock);
    if (due)
        store_last_used(t, id);
    return true;
}

json_t *sl_tokens_list(struct sl_tokens *t)
{
    json_t *a = json_array();

    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; a != NULL && i < t->n; i++) {
        const struct sl_token_info *in = &t->v[i].info;
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "id", in->id, "name", in->name, "scope",
                              sl_scope_name(in->scope), "created", (json_int_t)in->created,
                              "last_used", (json_int_t)in->last_used);

        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return a;
}

/* Erases token <id> from the store, then from the table; the caller holds
 * <write_lock>. */
static int forget_locked(struct sl_tokens *t, const char *id, char *err, size_t errlen)
{
    const struct sl_store_op op = {"token", id, NULL};
    size_t i;

    if (sl_store_apply(t->store, &op, 1, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&t->lock);
    i = find(t, id);
    if (i < t->n) {
        OPENSSL_cleanse(&t->v[i], sizeof(t->v[i]));
        memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
        t->n--;
    }
    pthread_mutex_unlock(&t->lock);
    return 0;
}

int sl_tokens_revoke(struct sl_tokens *t, const char *id, struct sl_change_err *e)
{
    size_t i, admins = 0;
    bool is_admin = false;
    char err[512] = "";
    int ret = -1;

    pthread_mutex_lock(&t->write_lock);
    pthread_mutex_lock(&t->lock);
    i = find(t, id);
    for (size_t k = 0; k < t->n; k++)
        admins += t->v[k].info.scope == SL_SCOPE_ADMIN;
    if (i < t->n)
        is_admin = t->v[i].info.scope == SL_SCOPE_ADMIN;
    pthread_mutex_unlock(&t->lock);
    if (i == t->n)
        set_err(e, 404, "not_found", "token %s: no such token", id);
    else if (is_admin && admins == 1)
        set_err(e, 409, "in_use", "the last admin token cannot be revoked");
    else if (forget_locked(t, id, err, sizeof(err)) != 0)
        set_err(e, 500, "store_error", "%s", err);
    else
        ret = 0;
    pthread_mutex_unlock(&t->write_lock);
    return ret;
}

/* fsync the directory holding <path>, so that the file's name survives a
 * crash as well as its bytes. */
static int sync_dir(const char *path)
{
    char *copy = strdup(path);
    const char *dir = copy;
    char *slash;
    int fd, ret = -1;

    if (copy == NULL)
        return -1;
    /* dirname(3) by hand: POSIX lets dirname() return static storage.
     * <path> names a file just created, so it has no trailing '/'. */
    slash = strrchr(copy, '/');
    if (slash == NULL)
        dir = ".";
    else if (slash == copy)
        dir = "/";
    else
        *slash = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ret = fsync(fd);
        close(fd);
    }
    free(copy);
    return ret;
}

static int write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, s, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        len -= (size_t)w;
    }
    return 0;
}

int sl_tokens_bootstrap(struct sl_tokens *t, const char *path, bool *created, char *err,
                        size_t errlen)
{
    char secret[SL_TOKEN_SECRET_MAX + 1] = "";
    struct token tok;
    bool empty;
    int fd, ret = -1;

    *created = false;
    pthread_mutex_lock(&t->write_lock);
    pthread_mutex_lock(&t->lock);
    empty = t->n == 0;
    pthread_mutex_unlock(&t->lock);
    if (!empty) {
        pthread_mutex_unlock(&t->write_lock);
        return 0;
    }
    /* O_EXCL: an existing file may hold another store's token; it is the
     * operator's to remove, never ours to overwrite. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            (void)snprintf(err, errlen,
                           "%s: already exists but the state store has no token: remove it "
                           "(or restore the store that holds its token) and start again",
                           path);
        else
            (void)snprintf(err, errlen, "%s: %s", path, sl_errstr(errno));
        pthread_mutex_unlock(&t->write_lock);
        return -1;
    }
    /* The mode given to open() is masked by the umask; this is not. */
    if (fchmod(fd, 0600) != 0) {
        (void)snprintf(err, errlen, "%s: chmod: %s", path, sl_errstr(errno));
        goto out;
    }
    err[0] = '\0';
    if (create_locked(t, SL_SCOPE_ADMIN, "bootstrap", &tok, secret, err, errlen) != 0)
        goto out;
    secret[SECRET_LEN] = '\n';
    if (write_all(fd, secret, SECRET_LEN + 1) != 0 || fsync(fd) != 0 || sync_dir(path) != 0) {
        char ignored[512];

        (void)snprintf(err, errlen, "%s: %s", path, sl_errstr(errno));
        /* A token nobody can read would stop the next start from making
         * one: forget it. */
        (void)forget_locked(t, tok.info.id, ignored, sizeof(ignored));
        goto out;
    }
    ret = 0;
    *created = true;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    close(fd);
    if (ret != 0)
        unlink(path);
    pthread_mutex_unlock(&t->write_lock);
    return ret;
}
