/*
 * cq_bdcache.h — the Redis keys the business-data worker and the gateway
 * share, in one place: a tenant's cached business data, the single-flight
 * key naming the job that refreshes it, and the tenant's stored insights.
 *
 * Keys (under the store's cache prefix): business_data:{tenant} (the last
 * complete answer), business_data_partial:{tenant} (the last partial or
 * stale answer, kept business_data.partial_ttl), business_data_flight:{tenant},
 * insights:{tenant}. Every value names its
 * tenant too and a read checks it, so a copy is never served to another
 * tenant even if a key were mixed up.
 *
 * Every function blocks on Redis (cq_store): call from an HTTP thread or
 * an offloaded call, never from a worker's loop thread. Thread-safe.
 */
#ifndef CQ_BDCACHE_H
#define CQ_BDCACHE_H

#include <jansson.h>

#include "cq_store.h"

/* Where a stored insight sorts by its priority: critical 0, high, medium,
 * low 3; a missing or unknown one last (4). The one order of the lists. */
int cq_bdcache_priority_rank(const json_t *insight);

/* How long stored insights are kept after their last change. */
#define CQ_BDCACHE_INSIGHTS_TTL_MS (90LL * 24 * 3600 * 1000)

/* The tenant's cached business data: *data a new reference (a
 * BusinessDataResult as the worker computed it, cached false), *stored_at
 * when it was computed (ms). CQ_ERR_NOT_FOUND when absent, expired,
 * unreadable or another tenant's. */
cq_err_t cq_bdcache_get(cq_store_t *store, const char *tenant, json_t **data, int64_t *stored_at);

/* Stores data (borrowed) as computed at now_ms, kept keep_ms (the stale
 * TTL: fresh or not is the reader's judgement of its age). */
cq_err_t cq_bdcache_put(cq_store_t *store, const char *tenant, const json_t *data, int64_t now_ms,
                        int64_t keep_ms);

/* The tenant's last partial answer (a source unavailable or stale), as
 * cq_bdcache_get; kept keep_ms (cache_ttl + stale_while_revalidate: while
 * the complete copy before it could be answered in the grace), fresh for
 * partial_ttl: the reader judges by storedAt. A complete answer stored
 * later wins: the reader compares the two storedAt. */
cq_err_t cq_bdcache_get_partial(cq_store_t *store, const char *tenant, json_t **data,
                                int64_t *stored_at);
cq_err_t cq_bdcache_put_partial(cq_store_t *store, const char *tenant, const json_t *data,
                                int64_t now_ms, int64_t keep_ms);

/* Single flight: takes the tenant's refresh key for job_id for ttl_ms.
 * *holder NULL: taken; else the job id of the refresh under way (caller
 * frees). */
cq_err_t cq_bdcache_flight_take(cq_store_t *store, const char *tenant, const char *job_id,
                                int64_t ttl_ms, char **holder);
/* Gives the refresh key back if job_id still holds it. */
cq_err_t cq_bdcache_flight_release(cq_store_t *store, const char *tenant, const char *job_id);

/* The tenant's stored insights: *items a new array of Insight objects
 * (empty when none). */
cq_err_t cq_bdcache_insights_get(cq_store_t *store, const char *tenant, json_t **items);
/* Changes the tenant's stored insights without losing a concurrent
 * change: fn gets the current items (an array, maybe empty, fn may change
 * it in place) and returns CQ_ERR_OK to store them, or another code to
 * leave them as they are (then returned). When another writer changed them
 * meanwhile, reads again and calls fn again (a few times, then
 * CQ_ERR_SERVICE_UNAVAILABLE). */
typedef cq_err_t (*cq_bdcache_insights_fn)(json_t *items, void *arg);
cq_err_t cq_bdcache_insights_update(cq_store_t *store, const char *tenant,
                                    cq_bdcache_insights_fn fn, void *arg);

#endif
