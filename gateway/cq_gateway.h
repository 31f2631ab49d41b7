/*
 * cq_gateway.h — the gateway's context and its request dispatcher.
 *
 * One cq_gateway_t per process, built by main.c, shared read-only by every
 * HTTP thread except for the counters, which are atomics.
 */
#ifndef CQ_GATEWAY_H
#define CQ_GATEWAY_H

#include <pthread.h>
#include <stdatomic.h>

#include "cq_auth.h"
#include "cq_avro.h"
#include "cq_bdrefresh.h"
#include "cq_config.h"
#include "cq_contract.h"
#include "cq_histo.h"
#include "cq_http.h"
#include "cq_kafka.h"
#include "cq_limit.h"
#include "cq_store.h"

/* Tenants counted by name on /metrics when refused by the rate limit. */
#define CQ_RATELIMIT_TENANTS 64

/* Sends of an envelope the broker took without acknowledging it, after
 * the first (cq_submit.c, cq_batch.c). */
#define CQ_SUBMIT_RESENDS 2

/* How a business-data request was answered (the answer-time histogram's
 * outcome label). */
typedef enum {
    CQ_BIZDATA_OUTCOME_HIT,        /* a fresh copy from the cache */
    CQ_BIZDATA_OUTCOME_REVALIDATE, /* a copy past freshness, within the grace, refreshed */
    CQ_BIZDATA_OUTCOME_MISS,       /* a job ran, or was joined */
    CQ_BIZDATA_OUTCOMES
} cq_bizdata_outcome_t;

typedef struct cq_gateway_s {
    const cq_config_t *conf;
    cq_contract_t *contract;
    cq_schema_t *batch_schema;                                /* the contract's BatchRequest */
    cq_schema_t *insights_list_schema, *insight_patch_schema; /* InsightsListRequest, ...Patch... */
    cq_auth_t *auth;
    cq_avro_t *avro;
    cq_store_t *store;
    cq_kafka_producer_t *producer;
    cq_http_server_t *server;
    cq_http_server_t *admin_server; /* gateway.admin_listen: health and metrics; may be NULL */
    /* Requests parked waiting for a job; capped so waits never take every
     * thread and starve submissions, polls and health checks. */
    atomic_int waiters;
    int max_waiters;
    /* Counters for /metrics. */
    atomic_uint_fast64_t responses[6]; /* by status class: [2] = 2xx ... [5] = 5xx */
    atomic_uint_fast64_t jobs_submitted, jobs_not_queued;
    /* Business data: answers from the cache, misses (a job ran or was
     * joined), misses that joined a job already under way, answers with a
     * stale source. */
    atomic_uint_fast64_t bd_hits, bd_misses, bd_flight_waits, bd_stale;
    /* Of the hits, those answered past the copy's freshness, within the
     * grace (stale-while-revalidate). */
    atomic_uint_fast64_t bd_revalidated;
    /* The refresh thread of refresh-ahead and stale-while-revalidate hits
     * (NULL in contexts built by hand: no refresh). */
    cq_bdrefresh_t *bd_refresh;
    /* Business-data answer time by cq_bizdata_outcome_t: bd_series[o] is
     * the label set of outcome o. */
    cq_histo_t *bd_seconds;
    int bd_series[CQ_BIZDATA_OUTCOMES];
    /* Per-tenant rate limit (cq_ratelimit.c): policies, checks made, jobs
     * refused, checks Redis could not answer (let through), and the
     * refusals of the first CQ_RATELIMIT_TENANTS tenants refused, by tenant
     * (later ones are counted as "_other"), under limited_lock. */
    cq_limit_t *limits;
    atomic_uint_fast64_t rate_checks, rate_limited, rate_errors;
    pthread_mutex_t limited_lock;
    char *limited_tenants[CQ_RATELIMIT_TENANTS];
    uint64_t limited_counts[CQ_RATELIMIT_TENANTS], limited_other;
    size_t limited_count;
    /* Request duration by route (the contract's path template) and status
     * class: routes[i] are the contract's paths and "other" (last);
     * route_series[i * 5 + class - 1] is the histogram's label set for it,
     * -1 until first used. */
    cq_histo_t *request_seconds;
    char **routes;
    size_t route_count;
    atomic_int *route_series;
    int64_t started_ms;
} cq_gateway_t;

/* Builds the gateway: contract, Avro codec, Redis store, Kafka producer
 * (creating topics when topics.create), then the HTTP server. Caller destroys. */
cq_gateway_t *cq_gateway_new(const cq_config_t *conf, char *errstr, size_t errstr_size);
void cq_gateway_destroy(cq_gateway_t *gw);

/* The request-duration histogram and its route labels (the contract's
 * paths and "other"), made from gw->contract; _new calls it, _destroy
 * the term. For tests that build a context by hand. */
void cq_gateway_metrics_init(cq_gateway_t *gw);
void cq_gateway_metrics_term(cq_gateway_t *gw);

/* The one HTTP handler: routing, auth, then the endpoint. Any HTTP thread. */
void cq_gateway_handle(void *opaque, const cq_http_req_t *req, cq_http_resp_t *resp);
/* The admin listener's handler: health and metrics, 404 for the rest. */
void cq_gateway_handle_admin(void *opaque, const cq_http_req_t *req, cq_http_resp_t *resp);

/* Tries to take a waiter slot; false when the cap is reached. */
bool cq_gateway_waiter_enter(cq_gateway_t *gw);
void cq_gateway_waiter_leave(cq_gateway_t *gw);

/* The caller's Authorization header to put in the job of op: only for an
 * operation marked x-coachq-forward-credentials, only a bearer token of
 * sane length; NULL otherwise. Borrowed from req. Never log it. */
const char *cq_gateway_forwarded_credentials(const cq_operation_t *op, const cq_http_req_t *req);

/* Parses Prefer: sets *async for respond-async, *wait_ms for wait=N
 * (bounded by gateway.max_wait); leaves them as they were otherwise. */
void cq_gateway_parse_prefer(const cq_gateway_t *gw, const cq_http_req_t *req, bool *async,
                             int64_t *wait_ms);

/* Endpoints (each in its own file). */
void cq_submit_handle(cq_gateway_t *gw, const cq_operation_t *op, const cq_principal_t *who,
                      const cq_http_req_t *req, cq_http_resp_t *resp);
/* The same with the job id chosen by the caller (a single-flight key names
 * it before the job exists); NULL: a new one. */
void cq_submit_handle_as(cq_gateway_t *gw, const cq_operation_t *op, const cq_principal_t *who,
                         const cq_http_req_t *req, cq_http_resp_t *resp, const char *chosen_id);
/* Waits (bounded by wait_ms unless async) for a job and answers with its
 * result or its resource, as a submission does. */
void cq_submit_answer(cq_gateway_t *gw, const char *job_id, bool async, int64_t wait_ms,
                      const cq_http_req_t *req, cq_http_resp_t *resp);
/* Charges cost jobs to the caller's tenant (cq_ratelimit.c). Over its
 * limit: fills resp with 429 RATE_LIMITED and Retry-After and returns
 * false. Otherwise true. Either way *decision is what the caller puts on
 * its answer with cq_ratelimit_headers (decision->reset_us < 0: nothing,
 * no check was made). Redis failing: true (fail-open). */
bool cq_ratelimit_check(cq_gateway_t *gw, const cq_principal_t *who, int64_t cost,
                        const cq_http_req_t *req, cq_http_resp_t *resp,
                        cq_limit_decision_t *decision);
/* Adds RateLimit-Policy and RateLimit for a decision of cq_ratelimit_check. */
void cq_ratelimit_headers(cq_gateway_t *gw, const cq_principal_t *who,
                          const cq_limit_decision_t *decision, cq_http_resp_t *resp);
/* Appends the rate limit's Prometheus lines to out (NUL-terminated); returns
 * the bytes written, never more than out_size - 1. */
size_t cq_ratelimit_metrics(cq_gateway_t *gw, char *out, size_t out_size);
/* GET /insights and PATCH /insights/{id}: the tenant's stored insights
 * (cq_insights.c). */
void cq_insights_list(cq_gateway_t *gw, const cq_principal_t *who, const cq_http_req_t *req,
                      cq_http_resp_t *resp);
void cq_insights_patch(cq_gateway_t *gw, const char *id, const cq_principal_t *who,
                       const cq_http_req_t *req, cq_http_resp_t *resp);
/* GET business-data: the tenant's cached copy, or one job per tenant
 * (cq_bizdata.c). started_ns (cq_gateway_now_ns) is when the request's
 * handling began: its answer time goes to gw->bd_seconds. */
void cq_bizdata_handle(cq_gateway_t *gw, const cq_operation_t *op, const cq_principal_t *who,
                       const cq_http_req_t *req, cq_http_resp_t *resp, int64_t started_ns);
/* Monotonic clock in nanoseconds, for the answer-time histograms. */
int64_t cq_gateway_now_ns(void);
void cq_jobs_handle(cq_gateway_t *gw, const char *job_id, const cq_principal_t *who,
                    const cq_http_req_t *req, cq_http_resp_t *resp);
/* How a job record is answered. */
typedef enum {
    CQ_JOBS_POLL,     /* GET /jobs/{id}: 200 with the job resource */
    CQ_JOBS_ACCEPTED, /* Prefer: respond-async: 202 with the job resource, whatever its state */
    CQ_JOBS_RESULT,   /* a POST that waited: 200 {success,data}, the job's problem, or 202 */
} cq_jobs_answer_t;

/* Fills resp for a job record as `answer` says; every answer carries X-Job-Id. */
void cq_jobs_respond(cq_gateway_t *gw, const cq_job_record_t *job, cq_jobs_answer_t answer,
                     const cq_http_req_t *req, cq_http_resp_t *resp);
json_t *cq_jobs_resource(const cq_job_record_t *job);
void cq_health_handle(cq_gateway_t *gw, const char *path, const cq_http_req_t *req,
                      cq_http_resp_t *resp);
/* GET /docs and /docs/<file>: Swagger UI (cq_docs.c); rest is what follows
 * "/docs" in the path ("" for the page). */
void cq_docs_handle(cq_gateway_t *gw, const char *rest, const cq_http_req_t *req,
                    cq_http_resp_t *resp);
/* POST /jobs/batch. */
void cq_batch_submit(cq_gateway_t *gw, const cq_principal_t *who, const cq_http_req_t *req,
                     cq_http_resp_t *resp);
/* GET /jobs/batch/{id} (results false) and /jobs/batch/{id}/results (true). */
void cq_batch_get(cq_gateway_t *gw, const char *batch_id, bool results, const cq_principal_t *who,
                  const cq_http_req_t *req, cq_http_resp_t *resp);

#endif
