/* The token registry: secrets verify and wrong ones do not, revocation
 * keeps the last admin token, the bootstrap file is 0600 and never
 * overwritten, tokens survive a reopen, and no secret reaches the store. */
#include <sys/stat.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "admin/tokens.h"
#include "control/store.h"

struct fx {
    char dir[256];
    char db[300];
    char tokfile[300];
    struct sl_store *store;
    struct sl_tokens *tokens;
};

static void reopen(struct fx *f)
{
    char err[512];

    sl_tokens_close(f->tokens);
    sl_store_close(f->store);
    if (sl_store_open(f->db, false, &f->store, err, sizeof(err)) != 0 ||
        sl_tokens_open(f->store, &f->tokens, err, sizeof(err)) != 0)
        fail_msg("open: %s", err);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/sluice_tokens_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->db, sizeof(f->db), "%s/sluice.db", f->dir);
    snprintf(f->tokfile, sizeof(f->tokfile), "%s/admin.token", f->dir);
    reopen(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[400];

    sl_tokens_close(f->tokens);
    sl_store_close(f->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

static void create(struct fx *f, enum sl_scope scope, const char *name, struct sl_token_info *info,
                   char secret[SL_TOKEN_SECRET_MAX])
{
    struct sl_change_err e;

    if (sl_tokens_create(f->tokens, scope, name, info, secret, &e) != 0)
        fail_msg("create: %d %s %s", e.status, e.code, e.message);
}

static void test_scopes(void **state)
{
    enum sl_scope s;

    (void)state;
    assert_string_equal(sl_scope_name(SL_SCOPE_READ), "read");
    assert_string_equal(sl_scope_name(SL_SCOPE_AGENT), "agent");
    assert_string_equal(sl_scope_name(SL_SCOPE_ADMIN), "admin");
    assert_int_equal(sl_scope_parse("agent", &s), 0);
    assert_int_equal(s, SL_SCOPE_AGENT);
    assert_int_equal(sl_scope_parse("admin", &s), 0);
    assert_int_equal(s, SL_SCOPE_ADMIN);
    assert_int_equal(sl_scope_parse("Admin", &s), -1);
    assert_int_equal(sl_scope_parse("", &s), -1);
    assert_int_equal(sl_scope_parse(NULL, &s), -1);
}

static void test_create_verify(void **state)
{
    struct fx *f = *state;
    struct sl_token_info info, got;
    char secret[SL_TOKEN_SECRET_MAX], wrong[SL_TOKEN_SECRET_MAX];
    struct sl_change_err e;

    create(f, SL_SCOPE_READ, "dashboard", &info, secret);
    assert_int_equal(strlen(secret), 36);
    assert_memory_equal(secret, "slk_", 4);
    assert_true(all_hex(secret + 4, 32));
    assert_int_equal(strlen(info.id), 16);
    assert_memory_equal(info.id, "tok_", 4);
    assert_true(all_hex(info.id + 4, 12));
    assert_string_equal(info.name, "dashboard");
    assert_int_equal(info.scope, SL_SCOPE_READ);
    assert_true(info.created > 0);
    assert_int_equal(info.last_used, 0);

    assert_true(sl_tokens_verify(f->tokens, secret, strlen(secret), &got));
    assert_string_equal(got.id, info.id);
    assert_int_equal(got.scope, SL_SCOPE_READ);
    assert_true(got.last_used > 0);

    memcpy(wrong, secret, sizeof(wrong));
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    assert_false(sl_tokens_verify(f->tokens, wrong, strlen(wrong), &got));
    assert_false(sl_tokens_verify(f->tokens, secret, strlen(secret) - 1, &got));
    assert_false(sl_tokens_verify(f->tokens, "", 0, &got));
    assert_false(sl_tokens_verify(f->tokens, NULL, 0, &got));

    /* Two tokens never share a secret or an id. */
    char secret2[SL_TOKEN_SECRET_MAX];
    struct sl_token_info info2;
    create(f, SL_SCOPE_AGENT, "agent-1", &info2, secret2);
    assert_string_not_equal(secret, secret2);
    assert_string_not_equal(info.id, info2.id);
    assert_true(sl_tokens_verify(f->tokens, secret2, strlen(secret2), &got));
    assert_int_equal(got.scope, SL_SCOPE_AGENT);

    /* Bad input. */
    assert_int_equal(sl_tokens_create(f->tokens, (enum sl_scope)7, "x", &info, secret, &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.code, "invalid_field");
    assert_non_null(strstr(e.message, "scope"));
    assert_int_equal(sl_tokens_create(f->tokens, SL_SCOPE_READ, "", &info, secret, &e), -1);
    assert_int_equal(e.status, 400);
    assert_non_null(strstr(e.message, "name"));
    assert_int_equal(sl_tokens_create(f->tokens, SL_SCOPE_READ, "a\nb", &info, secret, &e), -1);
    char longname[100];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(sl_tokens_create(f->tokens, SL_SCOPE_READ, longname, &info, secret, &e), -1);
}

static void test_list(void **state)
{
    struct fx *f = *state;
    struct sl_token_info info;
    char secret[SL_TOKEN_SECRET_MAX];
    json_t *l;
    char *text;

    create(f, SL_SCOPE_ADMIN, "ops", &info, secret);
    l = sl_tokens_list(f->tokens);
    assert_non_null(l);
    assert_int_equal(json_array_size(l), 1);
    json_t *o = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(o, "id")), info.id);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "ops");
    assert_string_equal(json_string_value(json_object_get(o, "scope")), "admin");
    assert_int_equal(json_integer_value(json_object_get(o, "created")), info.created);
    assert_non_null(json_object_get(o, "last_used"));
    assert_null(json_object_get(o, "hash"));
    text = json_dumps(l, 0);
    assert_null(strstr(text, secret));
    free(text);
    json_decref(l);
}

static void test_revoke(void **state)
{
    struct fx *f = *state;
    struct sl_token_info a1, a2, r;
    char s1[SL_TOKEN_SECRET_MAX], s2[SL_TOKEN_SECRET_MAX], sr[SL_TOKEN_SECRET_MAX];
    struct sl_change_err e;

    create(f, SL_SCOPE_ADMIN, "a1", &a1, s1);
    create(f, SL_SCOPE_READ, "r", &r, sr);
    assert_int_equal(sl_tokens_revoke(f->tokens, "tok_000000000000", &e), -1);
    assert_int_equal(e.status, 404);
    assert_string_equal(e.code, "not_found");

    /* The only admin token: refused, still valid. */
    assert_int_equal(sl_tokens_revoke(f->tokens, a1.id, &e), -1);
    assert_int_equal(e.status, 409);
    assert_string_equal(e.code, "in_use");
    assert_string_equal(e.message, "the last admin token cannot be revoked");
    assert_true(sl_tokens_verify(f->tokens, s1, strlen(s1), NULL));

    assert_int_equal(sl_tokens_revoke(f->tokens, r.id, &e), 0);
    assert_false(sl_tokens_verify(f->tokens, sr, strlen(sr), NULL));
    assert_int_equal(sl_tokens_revoke(f->tokens, r.id, &e), -1);
    assert_int_equal(e.status, 404);

    create(f, SL_SCOPE_ADMIN, "a2", &a2, s2);
    assert_int_equal(sl_tokens_revoke(f->tokens, a1.id, &e), 0);
    assert_false(sl_tokens_verify(f->tokens, s1, strlen(s1), NULL));
    assert_int_equal(sl_tokens_revoke(f->tokens, a2.id, &e), -1);
    assert_int_equal(e.status, 409);

    /* Revocations are durable. */
    reopen(f);
    assert_false(sl_tokens_verify(f->tokens, s1, strlen(s1), NULL));
    assert_false(sl_tokens_verify(f->tokens, sr, strlen(sr), NULL));
    assert_true(sl_tokens_verify(f->tokens, s2, strlen(s2), NULL));
}

static void read_file(const char *path, char *buf, size_t len, size_t *got)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, len);
    assert_true(n >= 0);
    *got = (size_t)n;
    close(fd);
}

static void test_bootstrap(void **state)
{
    struct fx *f = *state;
    char buf[128], err[512];
    struct sl_token_info info;
    struct stat st;
    bool created = true;
    size_t n;
    mode_t old = umask(0);

    assert_int_equal(sl_tokens_bootstrap(f->tokens, f->tokfile, &created, err, sizeof(err)), 0);
    umask(old);
    assert_true(created);
    assert_int_equal(stat(f->tokfile, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    read_file(f->tokfile, buf, sizeof(buf), &n);
    assert_int_equal(n, 37);
    assert_int_equal(buf[36], '\n');
    assert_true(sl_tokens_verify(f->tokens, buf, 36, &info));
    assert_string_equal(info.name, "bootstrap");
    assert_int_equal(info.scope, SL_SCOPE_ADMIN);

    /* Not empty any more: nothing to do, the file is left alone. */
    assert_int_equal(sl_tokens_bootstrap(f->tokens, f->tokfile, &created, err, sizeof(err)), 0);
    assert_false(created);
    reopen(f);
    assert_int_equal(sl_tokens_bootstrap(f->tokens, f->tokfile, &created, err, sizeof(err)), 0);
    assert_false(created);
    assert_true(sl_tokens_verify(f->tokens, buf, 36, NULL));
}

static void test_bootstrap_file_exists(void **state)
{
    struct fx *f = *state;
    char err[512], buf[64];
    bool created = true;
    size_t n;
    int fd = open(f->tokfile, O_WRONLY | O_CREAT, 0644);
    json_t *l;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep me\n", 8), 8);
    close(fd);
    assert_int_equal(sl_tokens_bootstrap(f->tokens, f->tokfile, &created, err, sizeof(err)), -1);
    assert_false(created);
    assert_non_null(strstr(err, f->tokfile));
    assert_non_null(strstr(err, "already exists"));
    read_file(f->tokfile, buf, sizeof(buf), &n);
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "keep me\n", 8);
    l = sl_tokens_list(f->tokens);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);

    /* A directory that does not exist: the path and the reason. */
    char bad[400];
    snprintf(bad, sizeof(bad), "%s/nope/admin.token", f->dir);
    assert_int_equal(sl_tokens_bootstrap(f->tokens, bad, &created, err, sizeof(err)), -1);
    assert_non_null(strstr(err, bad));
}

static void test_persistence(void **state)
{
    struct fx *f = *state;
    struct sl_token_info info, got;
    char secret[SL_TOKEN_SECRET_MAX];

    create(f, SL_SCOPE_AGENT, "agent-7", &info, secret);
    /* The first use is written at once (last_used 0 in the store). */
    assert_true(sl_tokens_verify(f->tokens, secret, strlen(secret), &got));
    reopen(f);
    assert_true(sl_tokens_verify(f->tokens, secret, strlen(secret), &got));
    assert_string_equal(got.id, info.id);
    assert_string_equal(got.name, "agent-7");
    assert_int_equal(got.scope, SL_SCOPE_AGENT);
    assert_int_equal(got.created, info.created);
    assert_true(got.last_used >= info.created);
    reopen(f);
    json_t *l = sl_tokens_list(f->tokens);
    assert_true(json_integer_value(json_object_get(json_array_get(l, 0), "last_used")) > 0);
    json_decref(l);
}

static bool file_has(const char *path, const char *needle)
{
    static char buf[1 << 20];
    size_t n = 0;
    int fd = open(path, O_RDONLY);

    if (fd < 0)
        return false;
    ssize_t r;
    while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
        n += (size_t)r;
    close(fd);
    return memmem(buf, n, needle, strlen(needle)) != NULL;
}

static void test_no_secret_in_store(void **state)
{
    struct fx *f = *state;
    char secret[SL_TOKEN_SECRET_MAX], side[400], err[512];
    struct sl_token_info info;

    create(f, SL_SCOPE_ADMIN, "ops", &info, secret);
    assert_true(sl_tokens_verify(f->tokens, secret, strlen(secret), NULL));
    /* Before and after a checkpoint: the WAL, then the main file. */
    snprintf(side, sizeof(side), "%s-wal", f->db);
    assert_true(file_has(side, info.id) || file_has(f->db, info.id));
    assert_false(file_has(side, secret));
    assert_false(file_has(side, secret + 4));
    assert_false(file_has(f->db, secret + 4));
    assert_int_equal(sl_store_compact(f->store, err, sizeof(err)), 0);
    assert_true(file_has(f->db, info.id));
    assert_false(file_has(f->db, secret + 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scopes),
        cmocka_unit_test_setup_teardown(test_create_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_file_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_secret_in_store, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
