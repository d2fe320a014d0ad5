/* The state store in one SQLite file: a table records(kind, key, value).
 *
 * Durability: WAL with synchronous=FULL, so a COMMIT returns only once
 * the WAL is fsync'd; one apply is one BEGIN IMMEDIATE ... COMMIT. A
 * kill -9 at any moment leaves the last committed transaction readable
 * (SQLite replays or ignores the WAL tail on the next open).
 *
 * The schema's version is PRAGMA user_version: 0 is a new file, which
 * this version initialises; a greater one than it knows is refused before
 * anything is written, so that an older sluice never damages a newer
 * store. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "control/store.h"
#include "net/log.h"

#define SL_STORE_SCHEMA  1
#define SL_STORE_BUSY_MS 5000
/* VACUUM rewrites the whole file: worth it only when a quarter of it is
 * free and that is more than a few pages. */
#define SL_STORE_VACUUM_PAGES 64

struct sl_store {
    sqlite3 *db;
    sqlite3_stmt *put;
    sqlite3_stmt *erase;
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
    sqlite3_stmt *rollback;
    sqlite3_stmt *savepoint; /* one apply inside a group */
    sqlite3_stmt *release;
    sqlite3_stmt *rollback_to;
    bool in_group;
    pthread_mutex_t lock; /* the callers serialise, but tokens and changes
                           * share one store: a transaction must not
                           * interleave with another thread's; recursive:
                           * a group holds it across its applies */
    char *path;
};

static void fail(const struct sl_store *s, const char *path, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        (void)snprintf(err, errlen, "%s: %s", path,
                       s->db != NULL ? sqlite3_errmsg(s->db) : "no memory");
}

static int exec(struct sl_store *s, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    fail(s, s->path, err, errlen);
    return -1;
}

/* Prepares <sql> and steps it to its first row: the statement, or NULL
 * with err set. */
static sqlite3_stmt *first_row(struct sl_store *s, const char *sql, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return st;
    fail(s, s->path, err, errlen);
    sqlite3_finalize(st);
    return NULL;
}

/* The single integer a PRAGMA answers (user_version, page_count, ...). */
static int pragma_int(struct sl_store *s, const char *sql, long long *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = first_row(s, sql, err, errlen);

    if (st == NULL)
        return -1;
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* A file that is not a database, or a damaged one, fails here (SQLite
 * reads lazily: opening alone would succeed). */
static int check_file(struct sl_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    long long version;
    const char *res;
    int ret = 0;

    if (pragma_int(s, "PRAGMA user_version", &version, err, errlen) != 0)
        return -1;
    if (version > SL_STORE_SCHEMA) {
        (void)snprintf(err, errlen,
                       "%s: schema version %lld is newer than this sluice knows (%d): "
                       "use the sluice that wrote it",
                       s->path, version, SL_STORE_SCHEMA);
        return -1;
    }
    st = first_row(s, "PRAGMA quick_check(1)", err, errlen);
    if (st == NULL)
        return -1;
    res = (const char *)sqlite3_column_text(st, 0);
    if (res == NULL || strcmp(res, "ok") != 0) {
        (void)snprintf(err, errlen, "%s: damaged: %s", s->path, res != NULL ? res : "?");
        ret = -1;
    }
    sqlite3_finalize(st);
    return ret;
}

static int init_schema(struct sl_store *s, char *err, size_t errlen)
{
    long long version;

    /* The journal mode is kept in the file, so set before the first
     * write; synchronous is per connection. */
    if (exec(s, "PRAGMA journal_mode=WAL", err, errlen) != 0 ||
        exec(s, "PRAGMA synchronous=FULL", err, errlen) != 0)
        return -1;
    if (pragma_int(s, "PRAGMA user_version", &version, err, errlen) != 0)
        return -1;
    if (version == SL_STORE_SCHEMA)
        return 0;
    if (exec(s,
             "BEGIN IMMEDIATE;"
             "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL,"
             " value TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;"
             "PRAGMA user_version=1;"
             "COMMIT",
             err, errlen) != 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int prepare(struct sl_store *s, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
        return 0;
    fail(s, s->path, err, errlen);
    return -1;
}

/* A read-only open must leave the directory as it found it. SQLite
 * creates -wal and -shm even for a read-only connection to a WAL
 * database; when there is no -wal (nobody has the store open and it was
 * closed cleanly) the file alone is the whole store, so it is opened
 * immutable, which needs neither. (A serve starting between the check and
 * the read could make this read stale or fail: sluice check is a look at
 * a moment, run it again.) */
static int open_readonly(struct sl_store *s, const char *path)
{
    char wal[4096];
    char *uri;
    int rc;
    int wlen = snprintf(wal, sizeof(wal), "%s-wal", path);

    /* A -wal name too long to check: open the plain way, which needs no
     * guess about whether there is one. */
    if (wlen < 0 || (size_t)wlen >= sizeof(wal) || access(wal, F_OK) == 0)
        return sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY, NULL);
    /* %q would not escape what a URI needs escaped: "?" and "#" and "%". */
    uri = sqlite3_mprintf("file:%s?immutable=1", path);
    if (uri == NULL)
        return SQLITE_NOMEM;
    for (const char *p = path; *p != '\0'; p++)
        if (*p == '?' || *p == '#' || *p == '%') {
            sqlite3_free(uri);
            return sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY, NULL);
        }
    rc = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    sqlite3_free(uri);
    return rc;
}

/* The store holds token hashes: create it 0600 before SQLite opens it
 * (SQLite would create it 0644 under the usual umask), and SQLite gives its
 * -wal and -shm the database file's mode. An existing file keeps its mode:
 * the operator chose it. */
static int create_private(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd >= 0) {
        (void)close(fd);
        return 0;
    }
    if (errno == EEXIST) /* created since access(): SQLite opens that one */
        return 0;
    (void)snprintf(err, errlen, "%s: %s", path, sl_errstr(errno));
    return -1;
}

int sl_store_open(const char *path, bool readonly, struct sl_store **out, char *err, size_t errlen)
{
    bool existed = access(path, F_OK) == 0;
    int saved = errno;
    struct sl_store *s = calloc(1, sizeof(*s));
    pthread_mutexattr_t attr;
    int rc;

    *out = NULL;
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        (void)snprintf(err, errlen, "%s: out of memory", path);
        free(s);
        return -1;
    }
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (readonly && !existed) {
        (void)snprintf(err, errlen, "%s: %s (a read-only open does not create the store)", path,
                       sl_errstr(saved));
        sl_store_close(s);
        return -1;
    }
    if (!readonly && !existed && create_private(path, err, errlen) != 0) {
        sl_store_close(s);
        return -1;
    }
    if (readonly) {
        rc = open_readonly(s, path);
    } else {
        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    }
    if (rc != SQLITE_OK) {
        fail(s, path, err, errlen);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, SL_STORE_BUSY_MS);
    if (check_file(s, err, errlen) != 0)
        goto fail;
    if (!readonly) {
        if (init_schema(s, err, errlen) != 0 ||
            prepare(s,
                    "INSERT INTO records (kind, key, value) VALUES (?1, ?2, ?3)"
                    " ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                    &s->put, err, errlen) != 0 ||
            prepare(s, "DELETE FROM records WHERE kind = ?1 AND key = ?2", &s->erase, err,
                    errlen) != 0 ||
            prepare(s, "BEGIN IMMEDIATE", &s->begin, err, errlen) != 0 ||
            prepare(s, "COMMIT", &s->commit, err, errlen) != 0 ||
            prepare(s, "ROLLBACK", &s->rollback, err, errlen) != 0 ||
            prepare(s, "SAVEPOINT apply", &s->savepoint, err, errlen) != 0 ||
            prepare(s, "RELEASE apply", &s->release, err, errlen) != 0 ||
            prepare(s, "ROLLBACK TO apply", &s->rollback_to, err, errlen) != 0)
            goto fail;
    }
    *out = s;
    return 0;

fail:
    sl_store_close(s);
    /* A failed first open must not leave an empty file behind. */
    if (!existed && !readonly) {
        static const char *const suffixes[] = {"-wal", "-shm"};
        char side[4096];

        unlink(path);
        /* A name cut short would be another file's: never unlink that. */
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
            int n = snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);

            if (n >= 0 && (size_t)n < sizeof(side))
                unlink(side);
        }
    }
    return -1;
}

int sl_store_load(struct sl_store *s, int (*each)(void *arg, const struct sl_store_rec *r),
                  void *arg, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    pthread_mutex_lock(&s->lock);
    rc = sqlite3_prepare_v2(s->db, "SELECT kind, key, value FROM records ORDER BY kind, key", -1,
                            &st, NULL);
    if (rc != SQLITE_OK) {
        /* A store that was never written (read-only open of a new file)
         * has no table yet: it holds nothing. */
        long long version = -1;

        pthread_mutex_unlock(&s->lock);
        if (pragma_int(s, "PRAGMA user_version", &version, err, errlen) == 0 && version == 0)
            return 0;
        fail(s, s->path, err, errlen);
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct sl_store_rec r = {
            .kind = (const char *)sqlite3_column_text(st, 0),
            .key = (const char *)sqlite3_column_text(st, 1),
            .value = (const char *)sqlite3_column_text(st, 2),
        };

        if (r.kind == NULL || r.key == NULL || r.value == NULL) {
            (void)snprintf(err, errlen, "%s: a record has no kind, key or value", s->path);
            ret = -1;
            break;
        }
        ret = each(arg, &r);
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        fail(s, s->path, err, errlen);
        ret = -1;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int apply_one(struct sl_store *s, const struct sl_store_op *op, size_t i, char *err,
                     size_t errlen)
{
    sqlite3_stmt *st = op->value != NULL ? s->put : s->erase;

    if (op->kind == NULL || op->key == NULL) {
        (void)snprintf(err, errlen, "%s: op %zu has no %s", s->path, i,
                       op->kind == NULL ? "kind" : "key");
        return -1;
    }
    if (sqlite3_bind_text(st, 1, op->kind, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, op->key, -1, SQLITE_STATIC) != SQLITE_OK ||
        (op->value != NULL &&
         sqlite3_bind_text(st, 3, op->value, -1, SQLITE_STATIC) != SQLITE_OK) ||
        step_reset(st) != 0) {
        fail(s, s->path, err, errlen);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return -1;
    }
    return 0;
}

/* Inside a group's transaction: a savepoint makes this apply all or
 * nothing without ending the group. */
static int apply_in_group(struct sl_store *s, const struct sl_store_op *ops, size_t n, char *err,
                          size_t errlen)
{
    if (step_reset(s->savepoint) != 0) {
        fail(s, s->path, err, errlen);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (apply_one(s, &ops[i], i, err, errlen) != 0) {
            (void)step_reset(s->rollback_to);
            (void)step_reset(s->release);
            return -1;
        }
    if (step_reset(s->release) != 0) {
        fail(s, s->path, err, errlen);
        (void)step_reset(s->rollback_to);
        (void)step_reset(s->release);
        return -1;
    }
    return 0;
}

int sl_store_group_begin(struct sl_store *s, char *err, size_t errlen)
{
    if (s->put == NULL) {
        (void)snprintf(err, errlen, "%s: opened read-only", s->path);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    if (s->in_group) {
        (void)snprintf(err, errlen, "%s: a group is already open", s->path);
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    if (step_reset(s->begin) != 0) {
        fail(s, s->path, err, errlen);
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    s->in_group = true;
    return 0; /* the lock stays held until sl_store_group_commit() */
}

int sl_store_group_commit(struct sl_store *s, char *err, size_t errlen)
{
    int ret = 0;

    pthread_mutex_lock(&s->lock);
    if (!s->in_group) {
        (void)snprintf(err, errlen, "%s: no group is open", s->path);
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    s->in_group = false;
    if (step_reset(s->commit) != 0) {
        fail(s, s->path, err, errlen);
        if (!sqlite3_get_autocommit(s->db))
            (void)step_reset(s->rollback);
        ret = -1;
    }
    pthread_mutex_unlock(&s->lock); /* this call's */
    pthread_mutex_unlock(&s->lock); /* group_begin's */
    return ret;
}

int sl_store_apply(struct sl_store *s, const struct sl_store_op *ops, size_t n, char *err,
                   size_t errlen)
{
    int ret = -1;

    if (s->put == NULL) {
        (void)snprintf(err, errlen, "%s: opened read-only", s->path);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    if (s->in_group) {
        ret = apply_in_group(s, ops, n, err, errlen);
        goto out;
    }
    if (step_reset(s->begin) != 0) {
        fail(s, s->path, err, errlen);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (apply_one(s, &ops[i], i, err, errlen) != 0)
            goto rollback;
    /* COMMIT returns after the WAL's fsync (synchronous=FULL). */
    if (step_reset(s->commit) == 0) {
        ret = 0;
        goto out;
    }
    fail(s, s->path, err, errlen);
rollback:
    /* A failed COMMIT may have rolled back already: then this fails, which
     * is fine. */
    if (!sqlite3_get_autocommit(s->db))
        (void)step_reset(s->rollback);
out:
    pthread_mutex_unlock(&s->lock);
    return ret;
}

int sl_store_compact(struct sl_store *s, char *err, size_t errlen)
{
    long long pages, free_pages;
    int ret = -1;

    if (s->put == NULL)
        return 0; /* read-only: nothing to reclaim */
    pthread_mutex_lock(&s->lock);
    if (exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", err, errlen) != 0 ||
        pragma_int(s, "PRAGMA page_count", &pages, err, errlen) != 0 ||
        pragma_int(s, "PRAGMA freelist_count", &free_pages, err, errlen) != 0)
        goto out;
    if (free_pages >= SL_STORE_VACUUM_PAGES && free_pages * 4 >= pages &&
        (exec(s, "VACUUM", err, errlen) != 0 ||
         exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", err, errlen) != 0))
        goto out;
    ret = 0;
out:
    pthread_mutex_unlock(&s->lock);
    return ret;
}

const char *sl_store_path(const struct sl_store *s)
{
    return s->path;
}

void sl_store_close(struct sl_store *s)
{
    if (s == NULL)
        return;
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->erase);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    sqlite3_finalize(s->rollback);
    sqlite3_finalize(s->savepoint);
    sqlite3_finalize(s->release);
    sqlite3_finalize(s->rollback_to);
    sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}
