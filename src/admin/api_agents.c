/* /v1/agents (registration, heartbeat, deregistration) and GET /q, the
 * whole state in the hosted balancer's query shape. */
#include <stdlib.h>
#include <string.h>

#include "admin/api.h"
#include "control/agents.h"

void sl_api_agent_register(struct sl_api_call *k)
{
    struct sl_change_err e = {0};
    char id[SL_AGENT_ID_LEN];
    uint32_t lease_ms = 0;
    char *name = NULL;
    bool created = false;

    if (sl_agent_register(k->ctx->c, k->body, &k->who, k->req->remote, id, &lease_ms, &name,
                          &created, &e) != 0) {
        sl_api_change_error(k->resp, &e);
        return;
    }
    struct sl_query_filter f = {.service = json_string_value(json_object_get(k->body, "service")),
                                .backend = name};
    json_t *b = sl_api_query_find(k->ctx->c, &f, "backends", "name", name);

    sl_api_json(k->resp, created ? 201 : 200,
                json_pack("{s:s, s:I, s:o}", "id", id, "lease_ms", (json_int_t)lease_ms, "backend",
                          b != NULL ? b : json_pack("{s:s}", "name", name)));
    free(name);
}

void sl_api_agent_heartbeat(struct sl_api_call *k)
{
    struct sl_change_err e = {0};
    uint32_t lease_ms = 0;

    if (sl_agent_heartbeat(k->ctx->c, k->seg[2], k->body, &k->who, k->req->remote, &lease_ms, &e) !=
        0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 200, json_pack("{s:I}", "lease_ms", (json_int_t)lease_ms));
}

void sl_api_agent_delete(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_agent_delete(k->ctx->c, k->seg[2], &k->who, &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 204, NULL);
}

/* GET /q's names for the location an agent reports (docs/api.md). */
static json_t *q_location(const json_t *loc)
{
    static const char *const map[][2] = {
        {"lat", "Latitude"},
        {"lon", "Longitude"},
        {"city", "CityName"},
        {"country", "CountryCode"},
        {"country_name", "CountryName"},
        {"continent", "ContinentCode"},
        {"continent_name", "ContinentName"},
        {"region", "RegionCode"},
        {"region_name", "RegionName"},
    };
    json_t *o = json_object();

    for (size_t i = 0; o != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        const json_t *v = json_object_get(loc, map[i][0]);
        bool num = i < 2;

        json_object_set_new(o, map[i][1],
                            v != NULL ? json_copy((json_t *)v)
                                      : (num ? json_real(0) : json_string("")));
    }
    return o;
}

/* Labels as one "k=v,k2=v2" string, as the hosted balancer keeps them. */
static json_t *raw_labels(const json_t *labels)
{
    const char *key;
    const json_t *v;
    size_t len = 1, at = 0;
    char *s;

    json_object_foreach((json_t *)labels, key, v)
    {
        len += strlen(key) + 2 + json_string_length(v);
    }
    if ((s = malloc(len)) == NULL)
        return NULL;
    s[0] = '\0';
    json_object_foreach((json_t *)labels, key, v)
    {
        at += (size_t)snprintf(s + at, len - at, "%s%s=%s", at > 0 ? "," : "", key,
                               json_string_value(v) != NULL ? json_string_value(v) : "");
    }
    json_t *j = json_string(s);

    free(s);
    return j;
}

static json_t *q_backend(const json_t *b)
{
    const json_t *load = json_object_get(b, "load");
    const char *remote = json_string_value(json_object_get(b, "remote_addr"));

    return json_pack(
        "{s:O, s:O, s:o, s:I, s:s, s:O, s:o, s:O, s:O}", "ID", json_object_get(b, "name"), "Owner",
        json_object_get(b, "owner"), "RawLabels", raw_labels(json_object_get(b, "labels")), "Load",
        json_is_integer(load) ? json_integer_value(load) : (json_int_t)0, "RemoteAddr",
        remote != NULL ? remote : "", "ConnectedAt", json_object_get(b, "connected_at"), "Location",
        q_location(json_object_get(b, "location")), "RequestsPerSecond", json_object_get(b, "rps"),
        "State", json_object_get(b, "state"));
}

/* The strategy of <svc>, looked up once per service per call. */
static const char *strategy(struct sl_control *c, json_t *cache, const char *svc)
{
    json_t *s = json_object_get(cache, svc);

    if (s == NULL) {
        struct sl_change_err e = {0};
        json_t *q = sl_query_service(c, svc, &e);
        const json_t *v = json_object_get(q, "strategy");

        s = json_string(json_is_string(v) ? json_string_value(v) : "");
        json_object_set_new(cache, svc, s);
        json_decref(q);
    }
    return json_string_value(s);
}

static json_t *q_endpoint(struct sl_control *c, json_t *cache, const json_t *ep)
{
    json_t *routes = json_array();
    const json_t *r;
    size_t i;

    json_array_foreach(json_object_get(ep, "routes"), i, r)
    {
        const char *svc = json_string_value(json_object_get(r, "service"));

        json_array_append_new(routes,
                              json_pack("{s:O, s:O, s:O, s:s, s:O}", "ID", json_object_get(r, "id"),
                                        "RawSelector", json_object_get(r, "selector"), "Weight",
                                        json_object_get(r, "weight"), "Strategy",
                                        strategy(c, cache, svc != NULL ? svc : ""), "Backends",
                                        json_object_get(r, "backends")));
    }
    return json_pack("{s:O, s:s, s:n, s:o}", "Pattern", json_object_get(ep, "pattern"), "Owner", "",
                     "CreatedAt", "Routes", routes);
}

void sl_api_q(struct sl_api_call *k)
{
    struct sl_change_err e = {0};
    struct sl_query_filter f = {0};
    json_t *q = sl_query(k->ctx->c, &f, &e);
    json_t *eps = json_array(), *bes = json_array(), *cache = json_object();
    const json_t *v;
    size_t i;

    if (q == NULL) {
        sl_api_change_error(k->resp, &e);
        goto out;
    }
    json_array_foreach(json_object_get(q, "endpoints"), i, v)
    {
        json_array_append_new(eps, q_endpoint(k->ctx->c, cache, v));
    }
    json_array_foreach(json_object_get(q, "backends"), i, v)
    {
        json_array_append_new(bes, q_backend(v));
    }
    sl_api_json(
        k->resp, 200,
        json_pack("{s:s?, s:O, s:O}", "Token", k->who.token_id, "Endpoints", eps, "Backends", bes));
out:
    json_decref(q);
    json_decref(eps);
    json_decref(bes);
    json_decref(cache);
}
