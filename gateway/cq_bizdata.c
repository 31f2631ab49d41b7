/*
 * cq_bizdata.c — GET /multitenant/conversations/business-data: the
 * tenant's cached copy when fresh, else one job per tenant.
 *
 * A copy younger than business_data.cache_ttl is answered here without a
 * job: {success, data} with data.cached true and an Age header (seconds);
 * without one, a partial answer (a source unavailable or stale, kept by the
 * worker in its own key) younger than business_data.partial_ttl and newer
 * than the complete copy is answered the same way, its sources marks as
 * they were. A hit on a complete copy in the last business_data.
 * refresh_ahead percent of its freshness also submits one background job
 * refreshing it (single flight, through the same flight key), so a tenant
 * asked often never finds its copy expired.
 * A miss, or Cache-Control: no-cache, needs a job, and however many
 * requests of one tenant miss at once only one job runs (single flight):
 * the first takes the tenant's flight key (cq_bdcache, set-if-absent,
 * business_data.inflight_ttl) naming the job id it then submits; the
 * others find the key and wait for that job with the store's wait, as a
 * submission waits for its own. A key naming a job that has ended, or one
 * still unrecorded after 2 s (its submitter died), is stale: it is given
 * back and taken again. The worker gives
 * the key back when the job's outcome is final. Tenancy: every key and
 * copy is the caller's tenant's (cq_bdcache checks the tenant inside).
 *
 * Runs on any HTTP thread; uses only thread-safe parts of the context.
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include "cq_bdcache.h"
#include "cq_gateway.h"
#include "cq_log.h"
#include "cq_uuid.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* How long a flight key may name a job not recorded yet: 100 x 20 ms. */
#define CQ_BIZDATA_RECORD_POLLS   100
#define CQ_BIZDATA_RECORD_POLL_MS 20

/* Whether the client asked for a refresh (Cache-Control or Pragma no-cache). */
static bool cq_bizdata_no_cache(const cq_http_req_t *req)
{
    const char *cc = cq_http_header(req, "Cache-Control");
    const char *pragma = cq_http_header(req, "Pragma");
    return (cc && strcasestr(cc, "no-cache")) || (pragma && strcasestr(pragma, "no-cache"));
}

/* Answers from a copy (data taken) of the given age and freshness. */
static void cq_bizdata_answer_copy(cq_gateway_t *gw, json_t *data, int64_t age, int64_t fresh_ms,
                                   cq_http_resp_t *resp)
{
    json_object_set_new(data, "cached", json_true());
    cq_http_resp_json(resp, 200, json_pack("{s:b, s:o}", "success", 1, "data", data));
    cq_http_resp_header(resp, "Age", "%lld", (long long)(age / 1000));
    cq_http_resp_header(resp, "Cache-Control", "private, max-age=%lld",
                        (long long)((fresh_ms - age) / 1000));
    atomic_fetch_add(&gw->bd_hits, 1);
}

/* Headers of the client's request a background refresh does not carry:
 * its own answer is not waited for, and an Idempotency-Key names the
 * client's request, not this job. */
static bool cq_bizdata_refresh_drops(const char *name)
{
    static const char *const drop[] = {"Idempotency-Key", "Prefer", "Cache-Control", "Pragma"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(drop); i++)
        if (strcasecmp(name, drop[i]) == 0)
            return true;
    return false;
}

/* Refresh-ahead: a hit on a copy in the last business_data.refresh_ahead
 * percent of its freshness starts one job refreshing it, single flight as a
 * miss (the tenant's flight key: if a refresh is under way, nothing more),
 * submitted asynchronously with the caller's credentials; its answer is
 * dropped, the worker's copy is what counts. Best effort: a refusal (rate
 * limit, queue down) gives the key back and the copy expires as usual.
 * stored_at is the copy the hit read: a refresh that ended between that
 * read and the key (it wrote a newer copy, then gave the key back) is not
 * followed by another. */
static void cq_bizdata_refresh_ahead(cq_gateway_t *gw, const cq_operation_t *op,
                                     const cq_principal_t *who, const cq_http_req_t *req,
                                     int64_t stored_at)
{
    char job_id[CQ_UUID_STR_LEN + 1];
    cq_uuid_v7(job_id);
    char *holder = NULL;
    if (cq_bdcache_flight_take(gw->store, who->tenant_id, job_id,
                               gw->conf->business_data_inflight_ttl, &holder) != CQ_ERR_OK ||
        holder) {
        free(holder);
        return;
    }
    json_t *now_data = NULL;
    int64_t now_at = 0;
    cq_err_t rc = cq_bdcache_get(gw->store, who->tenant_id, &now_data, &now_at);
    json_decref(now_data);
    if (rc != CQ_ERR_OK || now_at != stored_at) {
        cq_bdcache_flight_release(gw->store, who->tenant_id, job_id);
        return;
    }
    cq_http_req_t bg = *req;
    bg.header_count = 0;
    for (int i = 0; i < req->header_count && bg.header_count < CQ_HTTP_MAX_HEADERS - 1; i++) {
        if (cq_bizdata_refresh_drops(req->header_names[i]))
            continue;
        bg.header_names[bg.header_count] = req->header_names[i];
        bg.header_values[bg.header_count++] = req->header_values[i];
    }
    bg.header_names[bg.header_count] = "Prefer";
    bg.header_values[bg.header_count++] = "respond-async";
    cq_http_resp_t scratch;
    memset(&scratch, 0, sizeof(scratch));
    cq_submit_handle_as(gw, op, who, &bg, &scratch, job_id);
    if (scratch.status >= 400) {
        CQ_LOG(CQ_LOG_INFO, "business-data", job_id, "refresh-ahead not queued: %d",
               scratch.status);
        cq_bdcache_flight_release(gw->store, who->tenant_id, job_id);
    }
    cq_http_resp_clear(&scratch);
}

/* Answers from the tenant's complete copy if it is fresh, else from its
 * partial one if that is fresh (business_data.partial_ttl) and newer;
 * false when neither is. With op (NULL: never), a hit late in the complete
 * copy's freshness also refreshes it ahead. */
static bool cq_bizdata_from_cache(cq_gateway_t *gw, const cq_operation_t *op,
                                  const cq_principal_t *who, const cq_http_req_t *req,
                                  cq_http_resp_t *resp)
{
    const cq_config_t *conf = gw->conf;
    json_t *data = NULL;
    int64_t stored_at = 0, now = cq_now_ms();
    if (cq_bdcache_get(gw->store, who->tenant_id, &data, &stored_at) == CQ_ERR_OK) {
        int64_t age = now - stored_at < 0 ? 0 : now - stored_at;
        if (age < conf->business_data_cache_ttl && json_is_object(data)) {
            cq_bizdata_answer_copy(gw, data, age, conf->business_data_cache_ttl, resp);
            int64_t ahead = conf->business_data_cache_ttl * conf->business_data_refresh_ahead / 100;
            if (op && ahead > 0 && age >= conf->business_data_cache_ttl - ahead)
                cq_bizdata_refresh_ahead(gw, op, who, req, stored_at);
            return true;
        }
        json_decref(data);
        data = NULL;
    }
    int64_t part_at = 0;
    if (cq_bdcache_get_partial(gw->store, who->tenant_id, &data, &part_at) != CQ_ERR_OK)
        return false;
    int64_t fresh = conf->business_data_partial_ttl < conf->business_data_cache_ttl
                        ? conf->business_data_partial_ttl
                        : conf->business_data_cache_ttl;
    int64_t age = now - part_at < 0 ? 0 : now - part_at;
    if (part_at <= stored_at || age >= fresh || !json_is_object(data)) {
        json_decref(data);
        return false;
    }
    cq_bizdata_answer_copy(gw, data, age, fresh, resp);
    return true;
}

static void cq_bizdata_count_stale(cq_gateway_t *gw, const cq_http_resp_t *resp)
{
    if (resp->status == 200 && resp->body && memmem(resp->body, resp->body_len, "\"stale\"", 7))
        atomic_fetch_add(&gw->bd_stale, 1);
}

/* Whether the job a flight key names is still to come: queued or running,
 * or not recorded yet (the holder records it just after taking the key, so
 * a missing record is given a moment before the key counts as abandoned). */
static bool cq_bizdata_holder_running(cq_gateway_t *gw, const char *holder)
{
    for (int i = 0; i < CQ_BIZDATA_RECORD_POLLS; i++) {
        cq_job_record_t job;
        memset(&job, 0, sizeof(job));
        cq_err_t rc = cq_store_get(gw->store, holder, &job);
        bool terminal = rc == CQ_ERR_OK && cq_job_status_terminal(job.status);
        cq_job_record_clear(&job);
        if (rc == CQ_ERR_OK)
            return !terminal;
        if (rc != CQ_ERR_NOT_FOUND)
            return true; /* cannot tell: waiting is the safe side */
        struct timespec ts = {0, CQ_BIZDATA_RECORD_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

void cq_bizdata_handle(cq_gateway_t *gw, const cq_operation_t *op, const cq_principal_t *who,
                       const cq_http_req_t *req, cq_http_resp_t *resp)
{
    bool refresh = cq_bizdata_no_cache(req);
    if (!refresh && cq_bizdata_from_cache(gw, op, who, req, resp))
        return;
    atomic_fetch_add(&gw->bd_misses, 1);

    char job_id[CQ_UUID_STR_LEN + 1];
    cq_uuid_v7(job_id);
    bool took = false;
    for (int tries = 0; tries < 3 && !took; tries++) {
        char *holder = NULL;
        cq_err_t rc = cq_bdcache_flight_take(gw->store, who->tenant_id, job_id,
                                             gw->conf->business_data_inflight_ttl, &holder);
        if (rc != CQ_ERR_OK)
            break; /* Redis trouble: the submission reports it */
        if (!holder) {
            took = true;
            break;
        }
        if (cq_bizdata_holder_running(gw, holder)) {
            bool async = false;
            int64_t wait_ms = gw->conf->gateway_default_wait;
            cq_gateway_parse_prefer(gw, req, &async, &wait_ms);
            atomic_fetch_add(&gw->bd_flight_waits, 1);
            cq_submit_answer(gw, holder, async, wait_ms, req, resp);
            cq_bizdata_count_stale(gw, resp);
            free(holder);
            return;
        }
        cq_bdcache_flight_release(gw->store, who->tenant_id, holder);
        free(holder);
    }
    /* A job that finished between the cache read and the key: its copy. */
    if (took && !refresh && cq_bizdata_from_cache(gw, NULL, who, req, resp)) {
        cq_bdcache_flight_release(gw->store, who->tenant_id, job_id);
        return;
    }
    cq_submit_handle_as(gw, op, who, req, resp, job_id);
    cq_bizdata_count_stale(gw, resp);
    /* Refused before it was queued (a bad or reused Idempotency-Key, a
     * replay, the rate limit: 4xx) or not queued (5xx): nobody may wait for
     * this job id, so the key goes back now instead of going stale in 2 s.
     * A job that ran and failed gave it back already; this is a no-op then. */
    if (took && resp->status >= 400)
        cq_bdcache_flight_release(gw->store, who->tenant_id, job_id);
}
