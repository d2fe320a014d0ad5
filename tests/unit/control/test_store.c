/* The SQLite state store: records round-trip in (kind, key) order, an
 * apply is all or nothing, a bad file is refused with its name and
 * SQLite's reason (and nothing is created), a read-only open creates
 * nothing, and a kill -9 at any moment loses no apply that returned 0. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "control/store.h"

struct dir {
    char path[256];
    char db[300];
};

static int setup(void **state)
{
    struct dir *d = calloc(1, sizeof(*d));

    snprintf(d->path, sizeof(d->path), "/tmp/sluice_store_XXXXXX");
    if (d == NULL || mkdtemp(d->path) == NULL)
        return -1;
    snprintf(d->db, sizeof(d->db), "%s/sluice.db", d->path);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    struct dir *d = *state;
    char cmd[400];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
    if (system(cmd) != 0)
        return -1;
    free(d);
    return 0;
}

static bool exists(const char *dir, const char *name)
{
    char p[400];

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Every record as "kind key value\n", in load order. */
struct dump {
    char text[1 << 16];
    size_t len;
    int n;
};

static int dump_each(void *arg, const struct sl_store_rec *r)
{
    struct dump *d = arg;

    d->len += (size_t)snprintf(d->text + d->len, sizeof(d->text) - d->len, "%s %s %s\n", r->kind,
                               r->key, r->value);
    d->n++;
    return 0;
}

static void load(struct sl_store *s, struct dump *d)
{
    char err[512];

    memset(d, 0, sizeof(*d));
    assert_int_equal(sl_store_load(s, dump_each, d, err, sizeof(err)), 0);
}

static void open_rw(const char *path, struct sl_store **s)
{
    char err[512];

    if (sl_store_open(path, false, s, err, sizeof(err)) != 0)
        fail_msg("open %s: %s", path, err);
}

static void test_roundtrip_order(void **state)
{
    struct dir *d = *state;
    struct sl_store *s;
    struct dump out;
    char err[512];
    const struct sl_store_op ops[] = {
        {"service", "web", "{\"strategy\":\"round_robin\"}"},
        {"backend", "web/b2", "{\"backend\":{\"name\":\"b2\"}}"},
        {"backend", "api/b1", "{\"backend\":{\"name\":\"b1\"}}"},
        {"endpoint", "example.com/blog", "{\"routes\":[]}"},
    };

    open_rw(d->db, &s);
    assert_string_equal(sl_store_path(s), d->db);
    assert_int_equal(sl_store_apply(s, ops, 4, err, sizeof(err)), 0);
    load(s, &out);
    assert_string_equal(out.text, "backend api/b1 {\"backend\":{\"name\":\"b1\"}}\n"
                                  "backend web/b2 {\"backend\":{\"name\":\"b2\"}}\n"
                                  "endpoint example.com/blog {\"routes\":[]}\n"
                                  "service web {\"strategy\":\"round_robin\"}\n");
    /* A put replaces. */
    const struct sl_store_op put = {"service", "web", "{\"strategy\":\"random\"}"};
    assert_int_equal(sl_store_apply(s, &put, 1, err, sizeof(err)), 0);
    load(s, &out);
    assert_non_null(strstr(out.text, "service web {\"strategy\":\"random\"}\n"));
    assert_int_equal(out.n, 4);
    sl_store_close(s);

    /* Reopened: the same records. */
    open_rw(d->db, &s);
    load(s, &out);
    assert_int_equal(out.n, 4);
    assert_non_null(strstr(out.text, "service web {\"strategy\":\"random\"}\n"));
    assert_int_equal(sl_store_compact(s, err, sizeof(err)), 0);
    sl_store_close(s);
    sl_store_close(NULL);
}

static void test_tombstone_vs_erase(void **state)
{
    struct dir *d = *state;
    struct sl_store *s;
    struct dump out;
    char err[512];
    const struct sl_store_op put[] = {{"service", "a", "{}"}, {"service", "b", "{}"}};
    const struct sl_store_op del[] = {{"service", "a", "null"}, {"service", "b", NULL}};

    open_rw(d->db, &s);
    assert_int_equal(sl_store_apply(s, put, 2, err, sizeof(err)), 0);
    assert_int_equal(sl_store_apply(s, del, 2, err, sizeof(err)), 0);
    load(s, &out);
    assert_string_equal(out.text, "service a null\n");
    /* Erasing what is not there is not an error. */
    assert_int_equal(sl_store_apply(s, &del[1], 1, err, sizeof(err)), 0);
    sl_store_close(s);
}

static void test_apply_atomic(void **state)
{
    struct dir *d = *state;
    struct sl_store *s;
    struct dump out;
    char err[512] = "";
    const struct sl_store_op ops[] = {
        {"service", "a", "{}"}, {"service", "b", "{}"}, {NULL, "c", "{}"}};

    open_rw(d->db, &s);
    assert_int_equal(sl_store_apply(s, ops, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "op 2 has no kind"));
    assert_non_null(strstr(err, d->db));
    load(s, &out);
    assert_int_equal(out.n, 0);
    /* Still usable afterwards. */
    assert_int_equal(sl_store_apply(s, ops, 2, err, sizeof(err)), 0);
    load(s, &out);
    assert_int_equal(out.n, 2);
    sl_store_close(s);
}

static void test_group_commit(void **state)
{
    struct dir *d = *state;
    struct sl_store *s;
    struct dump out;
    char err[512];
    const struct sl_store_op a = {"service", "a", "{}"};
    const struct sl_store_op bad[] = {{"service", "b", "{}"}, {"service", NULL, "{}"}};
    const struct sl_store_op c = {"service", "c", "{}"};

    open_rw(d->db, &s);
    assert_int_equal(sl_store_group_commit(s, err, sizeof(err)), -1);
    assert_int_equal(sl_store_group_begin(s, err, sizeof(err)), 0);
    assert_int_equal(sl_store_group_begin(s, err, sizeof(err)), -1);
    assert_int_equal(sl_store_apply(s, &a, 1, err, sizeof(err)), 0);
    assert_int_equal(sl_store_apply(s, bad, 2, err, sizeof(err)), -1);
    assert_int_equal(sl_store_apply(s, &c, 1, err, sizeof(err)), 0);
    assert_int_equal(sl_store_group_commit(s, err, sizeof(err)), 0);
    sl_store_close(s);
    open_rw(d->db, &s);
    load(s, &out);
    assert_string_equal(out.text, "service a {}\nservice c {}\n");
    sl_store_close(s);
}

static void write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void test_not_a_database(void **state)
{
    struct dir *d = *state;
    struct sl_store *s = (struct sl_store *)1;
    char err[512];
    static const char text[] = "services:\n  web: {}\n# this is a config file, not a store\n"
                               "..............................................................."
                               "...............................................................\n";

    write_file(d->db, text, sizeof(text) - 1);
    for (int ro = 0; ro < 2; ro++) {
        assert_int_equal(sl_store_open(d->db, ro, &s, err, sizeof(err)), -1);
        assert_null(s);
        assert_non_null(strstr(err, d->db));
        assert_non_null(strstr(err, "not a database"));
    }
    assert_false(exists(d->path, "sluice.db-wal"));
    assert_false(exists(d->path, "sluice.db-shm"));
    /* Untouched. */
    struct stat st;
    assert_int_equal(stat(d->db, &st), 0);
    assert_int_equal(st.st_size, sizeof(text) - 1);
}

static void test_truncated(void **state)
{
    struct dir *d = *state;
    struct sl_store *s;
    char err[512], value[2048];
    struct stat st;

    /* Enough records for several pages, then cut the file in half. */
    open_rw(d->db, &s);
    memset(value, 'x', sizeof(value));
    value[0] = '"';
    value[sizeof(value) - 2] = '"';
    value[sizeof(value) - 1] = '\0';
    for (int i = 0; i < 50; i++) {
        char key[16];

        snprintf(key, sizeof(key), "k%02d", i);
        const struct sl_store_op op = {"meta", key, value};
        assert_int_equal(sl_store_apply(s, &op, 1, err, sizeof(err)), 0);
    }
    assert_int_equal(sl_store_compact(s, err, sizeof(err)), 0);
    sl_store_close(s);
    assert_false(exists(d->path, "sluice.db-wal"));
    assert_int_equal(stat(d->db, &st), 0);
    assert_true(st.st_size > 8192);
    assert_int_equal(truncate(d->db, st.st_size / 2), 0);
    for (int ro = 0; ro < 2; ro++) {
        s = NULL;
        assert_int_equal(sl_store_open(d->db, ro, &s, err, sizeof(err)), -1);
        assert_null(s);
        assert_non_null(strstr(err, d->db));
    }
    /* Cut inside the header: "not a database" or malformed, but no crash. */
    assert_int_equal(truncate(d->db, 50), 0);
    assert_int_equal(sl_store_open(d->db, false, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, d->db));
    print_message("truncated: %s\n", err);
}

static void test_readonly(void **state)
{
    struct dir *d = *state;
    struct sl_store *s = (struct sl_store *)1;
    struct dump out;
    char err[512];
    const struct sl_store_op op = {"service", "a", "{}"};

    assert_int_equal(sl_store_open(d->db, true, &s, err, sizeof(err)), -1);
    assert_null(s);
    assert_non_null(strstr(err, d->db));
    assert_non_null(strstr(err, "No such file"));
    assert_false(exists(d->path, "sluice.db"));

    open_rw(d->db, &s);
    assert_int_equal(sl_store_apply(s, &op, 1, err, sizeof(err)), 0);
    sl_store_close(s);
    assert_false(exists(d->path, "sluice.db-wal"));

    /* Closed cleanly: a read-only open reads it and creates nothing. */
    assert_int_equal(sl_store_open(d->db, true, &s, err, sizeof(err)), 0);
    load(s, &out);
    assert_string_equal(out.text, "service a {}\n");
    assert_int_equal(sl_store_apply(s, &op, 1, err, sizeof(err)), -1);
    sl_store_close(s);
    assert_false(exists(d->path, "sluice.db-wal"));
    assert_false(exists(d->path, "sluice.db-shm"));

    /* Open by a writer (as when serve runs): sees what it committed. */
    struct sl_store *w;
    const struct sl_store_op op2 = {"service", "b", "{}"};
    open_rw(d->db, &w);
    assert_int_equal(sl_store_apply(w, &op2, 1, err, sizeof(err)), 0);
    assert_int_equal(sl_store_open(d->db, true, &s, err, sizeof(err)), 0);
    load(s, &out);
    assert_string_equal(out.text, "service a {}\nservice b {}\n");
    sl_store_close(s);
    sl_store_close(w);
}

static void test_schema_newer(void **state)
{
    struct dir *d = *state;
    struct sl_store *s;
    sqlite3 *db;
    char err[512];

    open_rw(d->db, &s);
    sl_store_close(s);
    assert_int_equal(sqlite3_open(d->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    for (int ro = 0; ro < 2; ro++) {
        assert_int_equal(sl_store_open(d->db, ro, &s, err, sizeof(err)), -1);
        assert_non_null(strstr(err, d->db));
        assert_non_null(strstr(err, "schema version 7 is newer"));
    }
}

static void test_missing_directory(void **state)
{
    struct dir *d = *state;
    struct sl_store *s;
    char err[512], path[400];

    snprintf(path, sizeof(path), "%s/nope/sluice.db", d->path);
    assert_int_equal(sl_store_open(path, false, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
}

static mode_t mode_of(const char *db, const char *suffix)
{
    char p[400];
    struct stat st;

    snprintf(p, sizeof(p), "%s%s", db, suffix);
    if (stat(p, &st) != 0)
        fail_msg("stat %s: %s", p, strerror(errno));
    return st.st_mode & 07777;
}

/* The store holds token hashes: its files are the owner's only, whatever
 * the umask (here the usual 022, under which SQLite alone makes 0644). */
static void test_private_modes(void **state)
{
    struct dir *d = *state;
    struct sl_store *s;
    char err[512];
    const struct sl_store_op put = {"token", "t1", "{}"};
    mode_t old = umask(022);

    open_rw(d->db, &s);
    umask(old);
    assert_int_equal(sl_store_apply(s, &put, 1, err, sizeof(err)), 0);
    assert_int_equal(mode_of(d->db, ""), 0600);
    assert_int_equal(mode_of(d->db, "-wal"), 0600);
    assert_int_equal(mode_of(d->db, "-shm"), 0600);
    sl_store_close(s);
    /* An existing file keeps the mode its operator gave it. */
    assert_int_equal(chmod(d->db, 0640), 0);
    open_rw(d->db, &s);
    assert_int_equal(mode_of(d->db, ""), 0640);
    sl_store_close(s);
}

/* The child applies two ops per apply (key N/a and N/b) and reports N on
 * the pipe only once sl_store_apply() returned 0. */
static void crash_child(const char *db, int round, int wfd)
{
    struct sl_store *s;
    char err[512];

    if (sl_store_open(db, false, &s, err, sizeof(err)) != 0)
        _exit(3);
    for (int i = 0;; i++) {
        char ka[32], kb[32], v[32];

        snprintf(ka, sizeof(ka), "%02d/%06d/a", round, i);
        snprintf(kb, sizeof(kb), "%02d/%06d/b", round, i);
        snprintf(v, sizeof(v), "{\"i\":%d}", i);
        const struct sl_store_op ops[] = {{"crash", ka, v}, {"crash", kb, v}};
        if (sl_store_apply(s, ops, 2, err, sizeof(err)) != 0)
            _exit(4);
        if (write(wfd, &i, sizeof(i)) != sizeof(i))
            _exit(5);
    }
}

struct crash_check {
    int round;
    int max_done; /* the child reported 0..max_done */
    int seen_a, seen_b;
};

static int crash_each(void *arg, const struct sl_store_rec *r)
{
    struct crash_check *c = arg;
    int round, i;
    char ab;

    if (strcmp(r->kind, "crash") != 0 || sscanf(r->key, "%d/%d/%c", &round, &i, &ab) != 3 ||
        round != c->round)
        return 0;
    if (ab == 'a')
        c->seen_a++;
    else
        c->seen_b++;
    return 0;
}

static void test_kill9(void **state)
{
    struct dir *d = *state;
    unsigned seed = (unsigned)time(NULL);
    int total = 0;

    for (int round = 0; round < 20; round++) {
        int fds[2], status, i;
        pid_t pid;
        struct crash_check c = {.round = round, .max_done = -1};
        struct sl_store *s;
        char err[512];

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(d->db, round, fds[1]);
        }
        close(fds[1]);
        usleep(5000 + (useconds_t)(rand_r(&seed) % 60000));
        kill(pid, SIGKILL);
        while (read(fds[0], &i, sizeof(i)) == sizeof(i))
            c.max_done = i;
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));

        if (sl_store_open(d->db, false, &s, err, sizeof(err)) != 0)
            fail_msg("round %d: reopen: %s", round, err);
        assert_int_equal(sl_store_load(s, crash_each, &c, err, sizeof(err)), 0);
        sl_store_close(s);
        /* Every reported apply is there, both of its ops; at most the one
         * in flight beyond that, and never half of it. */
        assert_int_equal(c.seen_a, c.seen_b);
        assert_true(c.seen_a >= c.max_done + 1);
        assert_true(c.seen_a <= c.max_done + 2);
        total += c.max_done + 1;
    }
    /* The child had time to apply (a machine too slow for even one would
     * make this test prove nothing). */
    print_message("kill -9: %d applies reported over 20 rounds\n", total);
    assert_true(total > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_vs_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_newer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
