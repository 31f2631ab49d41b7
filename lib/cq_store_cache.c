/*
 * cq_store_cache.c — the job store's TTL cache (see cq_store.h): plain
 * get and set, and the set-if-absent, delete-if-value and compare-and-set
 * primitives single flight is built on (one Lua script each, so two
 * processes never both win). Keys live under "<prefix>cache:".
 *
 * Threads: any thread (the store's pool hands each call its connection).
 */
#include "cq_store_int.h"
#include "cq_log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

cq_err_t cq_store_cache_get(cq_store_t *store, const char *key, char **value)
{
    if (!value)
        return CQ_ERR_INTERNAL_ERROR;
    *value = NULL;
    if (!store || !key)
        return CQ_ERR_INTERNAL_ERROR;
    char *ckey = cq_asprintf("%scache:%s", store->prefix, key);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, "GET");
    cq_store_args_add(&args, ckey);
    cq_err_t err = cq_store_exec(store, -1, 0, &args, &reply);
    size_t len;
    const char *str = err == CQ_ERR_OK ? cq_redis_reply_str(reply, &len) : NULL;
    if (str)
        *value = cq_strndup(str, len);
    else if (err == CQ_ERR_OK)
        err = cq_redis_reply_type(reply) == CQ_REDIS_NIL ? CQ_ERR_NOT_FOUND : CQ_ERR_INTERNAL_ERROR;
    cq_redis_reply_free(reply);
    free(ckey);
    return err;
}

cq_err_t cq_store_cache_set(cq_store_t *store, const char *key, const char *value, int64_t ttl_ms)
{
    if (!store || !key || !value || ttl_ms <= 0)
        return CQ_ERR_INTERNAL_ERROR;
    char *ckey = cq_asprintf("%scache:%s", store->prefix, key);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, "SET");
    cq_store_args_add(&args, ckey);
    cq_store_args_add(&args, value);
    cq_store_args_add(&args, "PX");
    cq_store_args_add_int(&args, ttl_ms);
    cq_err_t err = cq_store_exec(store, -1, 0, &args, &reply);
    cq_redis_reply_free(reply);
    free(ckey);
    return err;
}

cq_err_t cq_store_cache_add(cq_store_t *store, const char *key, const char *value, int64_t ttl_ms,
                            char **existing)
{
    if (!existing)
        return CQ_ERR_INTERNAL_ERROR;
    *existing = NULL;
    if (!store || !key || !value || ttl_ms <= 0)
        return CQ_ERR_INTERNAL_ERROR;
    char *ckey = cq_asprintf("%scache:%s", store->prefix, key);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, ckey);
    cq_store_args_add(&args, value);
    cq_store_args_add_int(&args, ttl_ms);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_CACHE_ADD, 1, &args, &reply);
    if (err == CQ_ERR_OK && cq_redis_reply_count(reply) == 2) {
        size_t len;
        const char *str = cq_redis_reply_str(cq_redis_reply_at(reply, 1), &len);
        if (str)
            *existing = cq_strndup(str, len);
        else
            err = CQ_ERR_INTERNAL_ERROR;
    } else if (err == CQ_ERR_OK && cq_redis_reply_count(reply) != 1) {
        err = CQ_ERR_INTERNAL_ERROR;
    }
    cq_redis_reply_free(reply);
    free(ckey);
    return err;
}

cq_err_t cq_store_cache_del(cq_store_t *store, const char *key, const char *if_value)
{
    if (!store || !key)
        return CQ_ERR_INTERNAL_ERROR;
    char *ckey = cq_asprintf("%scache:%s", store->prefix, key);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_err_t err;
    if (if_value) {
        cq_store_args_add(&args, ckey);
        cq_store_args_add(&args, if_value);
        err = cq_store_exec(store, CQ_SCRIPT_CACHE_DEL_IF, 1, &args, &reply);
    } else {
        cq_store_args_add(&args, "DEL");
        cq_store_args_add(&args, ckey);
        err = cq_store_exec(store, -1, 0, &args, &reply);
    }
    cq_redis_reply_free(reply);
    free(ckey);
    return err;
}

cq_err_t cq_store_cache_swap(cq_store_t *store, const char *key, const char *expected,
                             const char *value, int64_t ttl_ms, bool *swapped)
{
    *swapped = false;
    if (!store || !key || !value || ttl_ms <= 0)
        return CQ_ERR_INTERNAL_ERROR;
    char *ckey = cq_asprintf("%scache:%s", store->prefix, key);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, ckey);
    cq_store_args_add(&args, expected ? expected : "");
    cq_store_args_add(&args, value);
    cq_store_args_add_int(&args, ttl_ms);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_CACHE_SWAP, 1, &args, &reply);
    if (err == CQ_ERR_OK)
        *swapped = cq_redis_reply_integer(reply) == 1;
    cq_redis_reply_free(reply);
    free(ckey);
    return err;
}
