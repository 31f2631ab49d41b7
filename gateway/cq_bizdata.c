/*
 * cq_bizdata.c — GET /multitenant/conversations/business-data: the
 * tenant's cached copy when it may be answered, else one job per tenant.
 *
 * A copy younger than business_data.cache_ttl is answered here without a
 * job: {success, data} with data.cached true, an Age header (seconds) and
 * Cache-Control max-age (its freshness lifetime; with the grace below,
 * stale-while-revalidate too). Without one, a partial answer (a source
 * unavailable or stale, kept by the worker in its own key) younger than
 * business_data.partial_ttl and newer than the complete copy is answered
 * the same way, its sources marks as they were. Past its freshness, a
 * complete copy is still answered at once within business_data.
 * stale_while_revalidate (RFC 5861: Age then exceeds max-age), its sources
 * marks as they were when it was made, and its refresh handed to the
 * refresh thread (cq_bdrefresh: one job per tenant, through the flight
 * key, outside this request's latency) — unless a partial copy newer than
 * it shows a refresh since found an upstream down: then a job answers,
 * with the stale fallback's marks. A hit on a complete copy in the last
 * business_data.refresh_ahead percent of its freshness (off by default)
 * also hands over a refresh.
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

/* What the cache answered. */
typedef enum {
    CQ_BIZDATA_NONE,       /* nothing usable: a job is needed */
    CQ_BIZDATA_FRESH,      /* a fresh complete copy, or a fresh partial one */
    CQ_BIZDATA_REVALIDATE, /* a complete copy past its freshness, within the grace */
} cq_bizdata_found_t;

/* Answers from a copy (data taken) of the given age (ms): fresh for
 * fresh_ms, then servable while revalidated for grace_ms (0: not). The
 * headers are HTTP caching's (RFC 9111, RFC 5861): max-age is the copy's
 * freshness lifetime and Age its age, so Age >= max-age says it is stale,
 * and stale-while-revalidate the grace in which such a copy is answered
 * while it is refreshed. */
static void cq_bizdata_answer_copy(cq_gateway_t *gw, json_t *data, int64_t age, int64_t fresh_ms,
                                   int64_t grace_ms, cq_http_resp_t *resp)
{
    json_object_set_new(data, "cached", json_true());
    cq_http_resp_json(resp, 200, json_pack("{s:b, s:o}", "success", 1, "data", data));
    cq_http_resp_header(resp, "Age", "%lld", (long long)(age / 1000));
    if (grace_ms > 0)
        cq_http_resp_header(resp, "Cache-Control",
                            "private, max-age=%lld, stale-while-revalidate=%lld",
                            (long long)(fresh_ms / 1000), (long long)(grace_ms / 1000));
    else
        cq_http_resp_header(resp, "Cache-Control", "private, max-age=%lld",
                            (long long)(fresh_ms / 1000));
    atomic_fetch_add(&gw->bd_hits, 1);
}

/* Hands a refresh of the copy stored at stored_at to the refresh thread
 * (cq_bdrefresh: single flight, outside this request's latency). */
static void cq_bizdata_refresh(cq_gateway_t *gw, const cq_operation_t *op,
                               const cq_principal_t *who, const cq_http_req_t *req,
                               int64_t stored_at)
{
    if (gw->bd_refresh)
        cq_bdrefresh_queue(gw->bd_refresh, op, who, req, stored_at);
}

/* Answers from the tenant's cache when it can: its complete copy while
 * fresh (a hit in the last business_data.refresh_ahead percent of that
 * also refreshes it ahead); else its partial copy while that is fresh
 * (business_data.partial_ttl) and newer; else, with op (NULL: never), the
 * complete copy within business_data.stale_while_revalidate past its
 * freshness, refreshing it in the background, unless a partial copy newer
 * than it says a refresh since found an upstream down (then the stale
 * fallback's marks must be answered, by a job). */
static cq_bizdata_found_t cq_bizdata_from_cache(cq_gateway_t *gw, const cq_operation_t *op,
                                                const cq_principal_t *who, const cq_http_req_t *req,
                                                cq_http_resp_t *resp)
{
    const cq_config_t *conf = gw->conf;
    const int64_t ttl = conf->business_data_cache_ttl;
    const int64_t grace = conf->business_data_stale_while_revalidate;
    json_t *data = NULL;
    int64_t stored_at = 0, now = cq_now_ms();
    bool have = cq_bdcache_get(gw->store, who->tenant_id, &data, &stored_at) == CQ_ERR_OK &&
                json_is_object(data);
    if (!have)
        stored_at = 0;
    int64_t age = now - stored_at < 0 ? 0 : now - stored_at;
    if (have && age < ttl) {
        cq_bizdata_answer_copy(gw, data, age, ttl, grace, resp);
        int64_t ahead = ttl * conf->business_data_refresh_ahead / 100;
        if (op && ahead > 0 && age >= ttl - ahead)
            cq_bizdata_refresh(gw, op, who, req, stored_at);
        return CQ_BIZDATA_FRESH;
    }
    json_t *part = NULL;
    int64_t part_at = 0;
    bool have_part =
        cq_bdcache_get_partial(gw->store, who->tenant_id, &part, &part_at) == CQ_ERR_OK &&
        json_is_object(part) && part_at > stored_at;
    int64_t part_fresh =
        conf->business_data_partial_ttl < ttl ? conf->business_data_partial_ttl : ttl;
    int64_t part_age = now - part_at < 0 ? 0 : now - part_at;
    if (have_part && part_age < part_fresh) {
        json_decref(data);
        cq_bizdata_answer_copy(gw, part, part_age, part_fresh, 0, resp);
        return CQ_BIZDATA_FRESH;
    }
    json_decref(part);
    if (op && have && !have_part && grace > 0 && age < ttl + grace) {
        cq_bizdata_answer_copy(gw, data, age, ttl, grace, resp);
        atomic_fetch_add(&gw->bd_revalidated, 1);
        cq_bizdata_refresh(gw, op, who, req, stored_at);
        return CQ_BIZDATA_REVALIDATE;
    }
    json_decref(data);
    return CQ_BIZDATA_NONE;
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

/* Answers req; returns which kind of answer it was, for the histogram. */
static cq_bizdata_outcome_t cq_bizdata_answer(cq_gateway_t *gw, const cq_operation_t *op,
                                              const cq_principal_t *who, const cq_http_req_t *req,
                                              cq_http_resp_t *resp)
{
    bool refresh = cq_bizdata_no_cache(req);
    if (!refresh) {
        cq_bizdata_found_t found = cq_bizdata_from_cache(gw, op, who, req, resp);
        if (found == CQ_BIZDATA_FRESH)
            return CQ_BIZDATA_OUTCOME_HIT;
        if (found == CQ_BIZDATA_REVALIDATE)
            return CQ_BIZDATA_OUTCOME_REVALIDATE;
    }
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
            return CQ_BIZDATA_OUTCOME_MISS;
        }
        cq_bdcache_flight_release(gw->store, who->tenant_id, holder);
        free(holder);
    }
    /* A job that finished between the cache read and the key: its copy. */
    if (took && !refresh && cq_bizdata_from_cache(gw, NULL, who, req, resp) != CQ_BIZDATA_NONE) {
        cq_bdcache_flight_release(gw->store, who->tenant_id, job_id);
        return CQ_BIZDATA_OUTCOME_HIT;
    }
    cq_submit_handle_as(gw, op, who, req, resp, job_id);
    cq_bizdata_count_stale(gw, resp);
    /* Refused before it was queued (a bad or reused Idempotency-Key, a
     * replay, the rate limit: 4xx) or not queued (5xx): nobody may wait for
     * this job id, so the key goes back now instead of going stale in 2 s.
     * A job that ran and failed gave it back already; this is a no-op then. */
    if (took && resp->status >= 400)
        cq_bdcache_flight_release(gw->store, who->tenant_id, job_id);
    return CQ_BIZDATA_OUTCOME_MISS;
}

void cq_bizdata_handle(cq_gateway_t *gw, const cq_operation_t *op, const cq_principal_t *who,
                       const cq_http_req_t *req, cq_http_resp_t *resp, int64_t started_ns)
{
    cq_bizdata_outcome_t outcome = cq_bizdata_answer(gw, op, who, req, resp);
    if (gw->bd_seconds)
        cq_histo_observe_at(gw->bd_seconds, gw->bd_series[outcome],
                            (double)(cq_gateway_now_ns() - started_ns) / 1e9);
}
