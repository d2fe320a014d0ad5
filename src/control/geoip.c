/* agents.geoip_db: the lookup behind an agent's location (geoip.h). */
#include "control/geoip.h"

#include <sys/stat.h>

#include <errno.h>
#include <maxminddb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/log.h"

/* The open DB and the file it came from: a config rebuild that names the
 * same unchanged file keeps it. */
static struct {
    pthread_mutex_t mu;
    bool open;
    MMDB_s db;
    char *path;
    struct stat st;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* GeoIP2/GeoLite2 City paths, mapped to the location keys agents report
 * (docs/api.md). */
static const struct field {
    const char *key;
    const char *const path[5];
} fields[] = {
    {"city", {"city", "names", "en", NULL}},
    {"country", {"country", "iso_code", NULL}},
    {"country_name", {"country", "names", "en", NULL}},
    {"continent", {"continent", "code", NULL}},
    {"continent_name", {"continent", "names", "en", NULL}},
    {"region", {"subdivisions", "0", "iso_code", NULL}},
    {"region_name", {"subdivisions", "0", "names", "en", NULL}},
    {"lat", {"location", "latitude", NULL}},
    {"lon", {"location", "longitude", NULL}},
};

static bool same_file(const char *path, const struct stat *st)
{
    return g.open && strcmp(g.path, path) == 0 && g.st.st_dev == st->st_dev &&
           g.st.st_ino == st->st_ino && g.st.st_size == st->st_size &&
           g.st.st_mtim.tv_sec == st->st_mtim.tv_sec && g.st.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}

static int open_locked(const char *path, char *err, size_t cap)
{
    struct stat st;
    MMDB_s db;
    char *copy;
    int rc;

    if (stat(path, &st) != 0) {
        (void)snprintf(err, cap, "%s", sl_errstr(errno));
        return -1;
    }
    if (same_file(path, &st))
        return 0;
    rc = MMDB_open(path, MMDB_MODE_MMAP, &db);
    if (rc != MMDB_SUCCESS) {
        int saved = errno;

        if (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR)
            (void)snprintf(err, cap, "%s (%s)", MMDB_strerror(rc), sl_errstr(saved));
        else
            (void)snprintf(err, cap, "%s", MMDB_strerror(rc));
        return -1;
    }
    if ((copy = strdup(path)) == NULL) {
        MMDB_close(&db);
        (void)snprintf(err, cap, "out of memory");
        return -1;
    }
    if (g.open) {
        MMDB_close(&g.db);
        free(g.path);
    }
    g.db = db;
    g.path = copy;
    g.st = st;
    g.open = true;
    return 0;
}

int sl_geoip_open(const char *path, char *err, size_t cap)
{
    pthread_mutex_lock(&g.mu);
    int rc = open_locked(path, err, cap);

    /* A file gone bad under a running daemon must not fail every change
     * (each rebuilds the config): the DB read before stays. */
    if (rc != 0 && g.open && strcmp(g.path, path) == 0)
        rc = 1;

    pthread_mutex_unlock(&g.mu);
    return rc;
}

int sl_geoip_host(const char *remote, char *out, size_t cap)
{
    const char *start = remote, *end;

    if (remote == NULL)
        return -1;
    if (remote[0] == '[') {
        start = remote + 1;
        end = strchr(start, ']');
    } else {
        end = strrchr(remote, ':');
        /* A bare IPv6 address has more than one ':' and no port. */
        if (end != NULL && strchr(remote, ':') != end)
            end = NULL;
    }
    if (end == NULL)
        end = remote + strlen(remote);
    if (end == start || (size_t)(end - start) >= cap)
        return -1;
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return 0;
}

static json_t *entry_value(MMDB_entry_s *entry, const struct field *f)
{
    MMDB_entry_data_s d;

    if (MMDB_aget_value(entry, &d, f->path) != MMDB_SUCCESS || !d.has_data)
        return NULL;
    switch (d.type) {
    case MMDB_DATA_TYPE_UTF8_STRING:
        return json_stringn(d.utf8_string, d.data_size);
    case MMDB_DATA_TYPE_DOUBLE:
        return json_real(d.double_value);
    case MMDB_DATA_TYPE_FLOAT:
        return json_real((double)d.float_value);
    default:
        return NULL;
    }
}

/* Lock held. Adds the fields <loc> lacks from the record of <ip>. */
static void fill_locked(const char *ip, json_t *loc)
{
    int gai = 0, mmdb = 0;
    MMDB_lookup_result_s r = MMDB_lookup_string(&g.db, ip, &gai, &mmdb);

    if (gai != 0 || mmdb != MMDB_SUCCESS || !r.found_entry)
        return;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v;

        if (json_object_get(loc, fields[i].key) != NULL)
            continue;
        v = entry_value(&r.entry, &fields[i]);
        if (v != NULL)
            json_object_set_new(loc, fields[i].key, v);
    }
}

json_t *sl_geoip_locate(const char *path, const char *remote, const json_t *reported)
{
    char ip[64], err[256];
    json_t *loc = json_is_object(reported) ? json_deep_copy(reported) : json_object();

    if (loc == NULL)
        return NULL;
    if (path != NULL && sl_geoip_host(remote, ip, sizeof(ip)) == 0) {
        pthread_mutex_lock(&g.mu);
        /* The config checked it; a file gone bad since only loses the
         * lookup, never the registration. */
        if ((g.open && strcmp(g.path, path) == 0) || open_locked(path, err, sizeof(err)) == 0)
            fill_locked(ip, loc);
        pthread_mutex_unlock(&g.mu);
    }
    if (json_object_size(loc) == 0) {
        json_decref(loc);
        return NULL;
    }
    return loc;
}
