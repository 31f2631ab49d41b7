/*
 * cq_bdcache.c — business-data cache, single-flight and insights keys on
 * top of cq_store's cache functions.
 *
 * A value is {"tenantId", "storedAt", "data"} as compact JSON; the tenant
 * inside is compared on every read. The cache key's TTL is the stale TTL:
 * a copy's freshness is decided by its storedAt, so one key serves both
 * the gateway's fresh hits and the worker's stale fallback. A partial
 * answer has a key of its own, its freshness also judged by its storedAt:
 * it never replaces the complete copy the stale fallback reads.
 *
 * Threads: any (cq_store is thread-safe); every call blocks on Redis.
 */
#include "cq_bdcache.h"

#include <stdlib.h>
#include <string.h>

static char *cq_bdcache_key(const char *what, const char *tenant)
{
    return cq_asprintf("%s:%s", what, tenant);
}

/* Reads what:{tenant} and unwraps it: the "data" member, a new reference. */
static cq_err_t cq_bdcache_read(cq_store_t *store, const char *what, const char *tenant,
                                json_t **data, int64_t *stored_at)
{
    *data = NULL;
    if (stored_at)
        *stored_at = 0;
    if (!tenant || !*tenant)
        return CQ_ERR_INTERNAL_ERROR;
    char *key = cq_bdcache_key(what, tenant);
    char *text = NULL;
    cq_err_t err = cq_store_cache_get(store, key, &text);
    free(key);
    if (err != CQ_ERR_OK)
        return err;
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    const char *owner = json_string_value(json_object_get(doc, "tenantId"));
    json_t *inner = json_object_get(doc, "data");
    if (!owner || strcmp(owner, tenant) != 0 || !inner) {
        json_decref(doc);
        return CQ_ERR_NOT_FOUND;
    }
    *data = json_incref(inner);
    if (stored_at)
        *stored_at = json_integer_value(json_object_get(doc, "storedAt"));
    json_decref(doc);
    return CQ_ERR_OK;
}

static cq_err_t cq_bdcache_write(cq_store_t *store, const char *what, const char *tenant,
                                 const json_t *data, int64_t now_ms, int64_t keep_ms)
{
    if (!tenant || !*tenant || !data)
        return CQ_ERR_INTERNAL_ERROR;
    json_t *doc = json_pack("{s:s, s:I, s:O}", "tenantId", tenant, "storedAt", (json_int_t)now_ms,
                            "data", (json_t *)data);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char *key = cq_bdcache_key(what, tenant);
    cq_err_t err = cq_store_cache_set(store, key, text, keep_ms);
    free(key);
    free(text);
    return err;
}

cq_err_t cq_bdcache_get(cq_store_t *store, const char *tenant, json_t **data, int64_t *stored_at)
{
    return cq_bdcache_read(store, "business_data", tenant, data, stored_at);
}

cq_err_t cq_bdcache_put(cq_store_t *store, const char *tenant, const json_t *data, int64_t now_ms,
                        int64_t keep_ms)
{
    return cq_bdcache_write(store, "business_data", tenant, data, now_ms, keep_ms);
}

cq_err_t cq_bdcache_get_partial(cq_store_t *store, const char *tenant, json_t **data,
                                int64_t *stored_at)
{
    return cq_bdcache_read(store, "business_data_partial", tenant, data, stored_at);
}

cq_err_t cq_bdcache_put_partial(cq_store_t *store, const char *tenant, const json_t *data,
                                int64_t now_ms, int64_t keep_ms)
{
    return cq_bdcache_write(store, "business_data_partial", tenant, data, now_ms, keep_ms);
}

cq_err_t cq_bdcache_flight_take(cq_store_t *store, const char *tenant, const char *job_id,
                                int64_t ttl_ms, char **holder)
{
    *holder = NULL;
    if (!tenant || !*tenant || !job_id)
        return CQ_ERR_INTERNAL_ERROR;
    char *key = cq_bdcache_key("business_data_flight", tenant);
    cq_err_t err = cq_store_cache_add(store, key, job_id, ttl_ms, holder);
    free(key);
    return err;
}

cq_err_t cq_bdcache_flight_release(cq_store_t *store, const char *tenant, const char *job_id)
{
    if (!tenant || !*tenant || !job_id)
        return CQ_ERR_INTERNAL_ERROR;
    char *key = cq_bdcache_key("business_data_flight", tenant);
    cq_err_t err = cq_store_cache_del(store, key, job_id);
    free(key);
    return err;
}

cq_err_t cq_bdcache_insights_get(cq_store_t *store, const char *tenant, json_t **items)
{
    cq_err_t err = cq_bdcache_read(store, "insights", tenant, items, NULL);
    if (err == CQ_ERR_NOT_FOUND) {
        *items = json_array();
        return CQ_ERR_OK;
    }
    if (err == CQ_ERR_OK && !json_is_array(*items)) {
        json_decref(*items);
        *items = json_array();
    }
    return err;
}

/* Tries of an insights update before giving up on a busy key. */
#define CQ_BDCACHE_SWAP_TRIES 16

cq_err_t cq_bdcache_insights_update(cq_store_t *store, const char *tenant,
                                    cq_bdcache_insights_fn fn, void *arg)
{
    if (!tenant || !*tenant)
        return CQ_ERR_INTERNAL_ERROR;
    char *key = cq_bdcache_key("insights", tenant);
    cq_err_t err = CQ_ERR_SERVICE_UNAVAILABLE;
    for (int i = 0; i < CQ_BDCACHE_SWAP_TRIES; i++) {
        char *old = NULL;
        cq_err_t rc = cq_store_cache_get(store, key, &old);
        if (rc != CQ_ERR_OK && rc != CQ_ERR_NOT_FOUND) {
            err = rc;
            break;
        }
        json_t *doc = old ? json_loads(old, 0, NULL) : NULL;
        const char *owner = json_string_value(json_object_get(doc, "tenantId"));
        json_t *items = json_object_get(doc, "data");
        items = owner && strcmp(owner, tenant) == 0 && json_is_array(items) ? json_incref(items)
                                                                            : json_array();
        json_decref(doc);
        rc = fn(items, arg);
        if (rc != CQ_ERR_OK) {
            json_decref(items);
            free(old);
            err = rc;
            break;
        }
        json_t *next = json_pack("{s:s, s:I, s:o}", "tenantId", tenant, "storedAt",
                                 (json_int_t)cq_now_ms(), "data", items);
        char *text = json_dumps(next, JSON_COMPACT);
        json_decref(next);
        bool swapped = false;
        rc = cq_store_cache_swap(store, key, old, text, CQ_BDCACHE_INSIGHTS_TTL_MS, &swapped);
        free(text);
        free(old);
        if (rc != CQ_ERR_OK) {
            err = rc;
            break;
        }
        if (swapped) {
            err = CQ_ERR_OK;
            break;
        }
    }
    free(key);
    return err;
}

int cq_bdcache_priority_rank(const json_t *insight)
{
    static const char *const order[] = {"critical", "high", "medium", "low"};
    const char *p = json_string_value(json_object_get(insight, "priority"));
    for (int i = 0; p && i < (int)CQ_ARRAY_SIZE(order); i++)
        if (strcmp(p, order[i]) == 0)
            return i;
    return (int)CQ_ARRAY_SIZE(order);
}
