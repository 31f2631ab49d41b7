/*
 * cq_bd_engine.c — the I/O engines of the business-data kind.
 *
 * One job: (1) read the tenant's cached copy (offloaded Redis call);
 * insights-generate uses a fresh copy as it is. (2) Otherwise every
 * source the aggregate reads is fetched at once through the worker's
 * fetch layer (cq_engine_fetch), each call with upstream.timeout per try,
 * the fetch layer's retries (429 with Retry-After, 5xx, transport) and its
 * breaker per host:port; each body is validated by cq_bd_upstream and the
 * replies aggregated by cq_bd_aggregate. The caller's Authorization and
 * the job's tenant (X-Tenant-Id) go with every call; the tenant is never in
 * the path, and without forwarded credentials no call is made.
 * (3) A service whose figures are unavailable takes them from the cached
 * copy when there is one (younger than business_data.stale_ttl: the key's
 * TTL), marked "stale"; both services unavailable and no copy:
 * UPSTREAM_UNAVAILABLE (503). (4) A complete answer (both services ok) is
 * written to the cache; a partial or stale one to the tenant's partial key
 * (fresh for business_data.partial_ttl, capped by cache_ttl; kept cache_ttl
 * + stale_while_revalidate), so during an outage the gateway answers from
 * it for a while instead of making every request a job, and knows not to
 * answer the older complete copy within the grace, yet it never replaces
 * the good copy the stale fallback reads.
 * insights-generate uses a fresh partial copy as it uses a fresh one.
 * (5) insights-generate, once its business data is known (and the cache
 * written): with an LLM provider configured, the prompt-only sources
 * (foundation, people, measures) were fetched alongside, and the model
 * reads the data and that context (cq_bd_llm_input; the engine is
 * registered .prepares_llm_input, so it runs before the model). Its answer,
 * checked by the runtime against the result schema, comes back through
 * cq_engine_ask_llm_then: its items get the service's ids (cq_bd_llm_items)
 * and are stored like the rules'. The rules' items are the fallback the
 * runtime hands back while the provider's circuit is open (with
 * llm.fallback_builtin) and the answer without a provider; a model that
 * fails or keeps answering off the schema fails the job as on every kind
 * (INVALID_AI_RESPONSE, ...) and nothing is stored. The single-flight key the
 * gateway took for the job is given back once the job's outcome is final (not between attempts:
 * waiters keep waiting for the retry).
 *
 * Threads: the worker's loop thread; the Redis calls run in offloaded
 * work functions that touch only the job's state. The compiled schemas
 * and rules are built once (pthread_once) and read-only after.
 */
#include "cq_bd_engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_bd_aggregate.h"
#include "cq_bd_insights.h"
#include "cq_bd_llm.h"
#include "cq_bd_upstream.h"
#include "cq_bdcache.h"
#include "cq_fetch.h"
#include "cq_log.h"
#include "cq_offload.h"

static cq_bd_upstream_t *cq_bd_schemas;
static cq_bd_insights_t *cq_bd_rules;
static pthread_once_t cq_bd_once = PTHREAD_ONCE_INIT;

static void cq_bd_load(void)
{
    char err[256];
    if (!(cq_bd_schemas = cq_bd_upstream_new(err, sizeof(err))))
        CQ_LOG(CQ_LOG_ERROR, "business-data", NULL, "upstream schemas: %s", err);
    if (!(cq_bd_rules = cq_bd_insights_new_builtin(err, sizeof(err))))
        CQ_LOG(CQ_LOG_ERROR, "business-data", NULL, "insight rules: %s", err);
}

/* Counters of the worker's /metrics (cq_engine_count). */
#define CQ_BD_M_CALLS   "business_data_upstream_calls_total"
#define CQ_BD_M_CALLS_H "Upstream calls by source and outcome (ok or the error class)."
#define CQ_BD_M_LAT     "business_data_upstream_seconds"
#define CQ_BD_M_LAT_H   "Time of an upstream call by source, retries and waits included."
#define CQ_BD_M_ANS     "business_data_answers_total"
#define CQ_BD_M_ANS_H                                                                              \
    "Business data of jobs by what it was: complete, partial, stale (a cached copy filled in), "   \
    "fresh_copy (insights from the cache), unavailable."

#define CQ_BD_M_INS "business_data_insights_runs_total"
#define CQ_BD_M_INS_H                                                                              \
    "insights-generate runs by what produced the insights: llm, fallback, builtin."

/* Stored insights kept per tenant. */
#define CQ_BD_STORED_INSIGHTS_MAX 500

typedef struct cq_bd_job_s cq_bd_job_t;

typedef struct {
    cq_bd_job_t *job;
    cq_bd_source_id_t id;
    cq_fetch_call_t *call; /* in flight, or NULL */
} cq_bd_slot_t;

struct cq_bd_job_s {
    cq_engine_ctx_t *ctx;
    cq_fetch_t *fetch;
    bool insights;
    const json_t *request; /* borrowed: valid until cq_job_done */
    cq_bd_slot_t slots[CQ_BD_SRC_COUNT];
    cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
    int pending;
    cq_offload_item_t item;
    /* Filled by offloaded work, read on the loop thread after it. */
    json_t *copy; /* the cached copy, or NULL */
    int64_t copy_at;
    json_t *partial; /* insights: a partial answer newer than copy, or NULL */
    int64_t partial_at;
    json_t *result;     /* the answer being built */
    bool write_cache;   /* a complete answer: store it */
    bool write_partial; /* a partial or stale answer: store it for partial_ttl */
    bool release;       /* give the single-flight key back */
    json_t *fresh;      /* insights: the cached data used while the context is fetched */
    json_t *builtin;    /* insights: the rules' items (the answer without a model) */
    bool ask_model;     /* insights: the model is yet to be asked */
    json_t *generated;  /* insights: this run's items to store (the model's or the rules') */
    json_t *shown;      /* the same with their stored statuses: the answer */
    cq_err_t io_rc;
};

static void cq_bd_job_free(void *opaque)
{
    cq_bd_job_t *job = opaque;
    for (size_t i = 0; i < CQ_BD_SRC_COUNT; i++) {
        if (job->slots[i].call)
            cq_fetch_cancel(job->fetch, job->slots[i].call);
        cq_bd_reply_clear(&job->replies[i]);
    }
    json_decref(job->copy);
    json_decref(job->partial);
    json_decref(job->result);
    json_decref(job->fresh);
    json_decref(job->builtin);
    json_decref(job->generated);
    json_decref(job->shown);
    free(job);
}

/* The configured path of a source (the table's default otherwise). */
static const char *cq_bd_path(const cq_config_t *conf, cq_bd_source_id_t id)
{
    switch (id) {
    case CQ_BD_SRC_PROFILE:
        return conf->upstream_account_profile_path;
    case CQ_BD_SRC_FOUNDATION:
        return conf->upstream_account_foundation_path;
    case CQ_BD_SRC_REVENUE:
        return conf->upstream_account_revenue_path;
    case CQ_BD_SRC_CUSTOMERS:
        return conf->upstream_account_customers_path;
    case CQ_BD_SRC_TEAM:
        return conf->upstream_account_team_path;
    case CQ_BD_SRC_GOALS:
        return conf->upstream_traction_goals_path;
    case CQ_BD_SRC_ACTIONS:
        return conf->upstream_traction_actions_path;
    case CQ_BD_SRC_ISSUES:
        return conf->upstream_traction_issues_path;
    case CQ_BD_SRC_PEOPLE:
        return conf->upstream_traction_people_path;
    case CQ_BD_SRC_MEASURES:
        return conf->upstream_traction_measures_path;
    default:
        return cq_bd_source(id)->default_path;
    }
}

static bool cq_bd_final_attempt(const cq_bd_job_t *job)
{
    return cq_engine_attempt(job->ctx) >= cq_engine_config(job->ctx)->jobs_max_attempts;
}

/* ---- the end of a job ------------------------------------------------------ */

/* Stored insights (cq_bdcache_insights_update, offloaded): this run's
 * items first (same id: the stored status and creation time win, so a
 * dismissed insight stays dismissed), then the older ones it did not
 * produce again. */
static cq_err_t cq_bd_merge_insights(json_t *stored, void *arg)
{
    cq_bd_job_t *job = arg;
    json_t *merged = json_array();
    size_t i, k;
    json_t *it, *old;
    json_decref(job->shown); /* an earlier try's, if another writer came between */
    job->shown = json_array();
    json_array_foreach(job->generated, i, it)
    {
        it = json_deep_copy(it);
        json_array_append_new(job->shown, it);
        json_array_foreach(stored, k, old)
        {
            if (json_equal(json_object_get(old, "id"), json_object_get(it, "id"))) {
                json_object_set(it, "status", json_object_get(old, "status"));
                json_object_set(it, "createdAt", json_object_get(old, "createdAt"));
            }
        }
        json_array_append(merged, it);
    }
    json_array_foreach(stored, k, old)
    {
        bool again = false;
        json_array_foreach(job->generated, i, it)
        {
            if (json_equal(json_object_get(old, "id"), json_object_get(it, "id")))
                again = true;
        }
        if (!again)
            json_array_append(merged, old);
    }
    /* The oldest go first: a tenant's list stays bounded over the months. */
    while (json_array_size(merged) > CQ_BD_STORED_INSIGHTS_MAX)
        json_array_remove(merged, json_array_size(merged) - 1);
    json_array_clear(stored);
    json_array_extend(stored, merged);
    json_decref(merged);
    return CQ_ERR_OK;
}

static void cq_bd_finish_work(cq_offload_item_t *item)
{
    cq_bd_job_t *job = item->arg;
    cq_store_t *store = cq_engine_store(job->ctx);
    const cq_config_t *conf = cq_engine_config(job->ctx);
    const char *tenant = cq_engine_tenant(job->ctx);
    job->io_rc = CQ_ERR_OK;
    if (job->write_cache) {
        cq_err_t rc = cq_bdcache_put(store, tenant, job->result, cq_engine_now_ms(job->ctx),
                                     conf->business_data_stale_ttl);
        if (rc != CQ_ERR_OK)
            job->io_rc = rc;
    }
    if (job->write_partial) {
        /* Readers judge its freshness (partial_ttl) by its storedAt; it is
         * kept while the complete copy it postdates could still be answered
         * within the grace, so the gateway sees that this refresh found an
         * upstream down and does not answer that copy as if all were well. */
        int64_t keep = conf->business_data_cache_ttl + conf->business_data_stale_while_revalidate;
        cq_err_t rc =
            cq_bdcache_put_partial(store, tenant, job->result, cq_engine_now_ms(job->ctx), keep);
        if (rc != CQ_ERR_OK)
            job->io_rc = rc;
    }
    if (job->generated) {
        cq_err_t rc = cq_bdcache_insights_update(store, tenant, cq_bd_merge_insights, job);
        if (rc != CQ_ERR_OK)
            job->io_rc = rc;
    }
    if (job->release)
        cq_bdcache_flight_release(store, tenant, cq_engine_job_id(job->ctx));
}

static void cq_bd_ask_model(cq_bd_job_t *job);

static void cq_bd_finish_done(cq_offload_item_t *item)
{
    cq_bd_job_t *job = item->arg;
    cq_engine_ctx_t *ctx = job->ctx;
    if (job->io_rc != CQ_ERR_OK)
        CQ_LOG(CQ_LOG_WARN, "business-data", cq_engine_job_id(ctx), "cache not written: %s",
               cq_err_name(job->io_rc));
    if (!job->result) {
        cq_job_done(ctx, CQ_ERR_UPSTREAM_UNAVAILABLE, NULL,
                    "Neither the Account nor the Traction service answered, and no earlier "
                    "copy of the business data is kept");
        return;
    }
    if (job->insights && job->ask_model) {
        job->ask_model = false;
        cq_bd_ask_model(job);
        return;
    }
    if (job->insights) {
        json_t *page = cq_bd_insights_page(job->shown ? job->shown : job->generated, job->request);
        cq_job_done(ctx, CQ_ERR_OK, page, NULL);
        return;
    }
    json_t *result = job->result;
    job->result = NULL;
    cq_job_done(ctx, CQ_ERR_OK, result, NULL);
}

/* Writes what the job has to write (offloaded), then ends it or asks the model. */
static void cq_bd_finish(cq_bd_job_t *job)
{
    if (!job->write_cache && !job->write_partial && !job->release && !job->generated) {
        cq_bd_finish_done(&job->item);
        return;
    }
    job->item.work = cq_bd_finish_work;
    job->item.done = cq_bd_finish_done;
    job->item.arg = job;
    cq_engine_offload(job->ctx, &job->item);
}

/* Sections of each service (cq_bd_aggregate.h). */
static const char *const cq_bd_account_sections[] = {"revenue", "customers", "team"};
static const char *const cq_bd_traction_sections[] = {"operations"};

/* A service the answer lacks takes its sections from the cached copy. */
static void cq_bd_merge_stale(json_t *result, const json_t *copy, const char *service,
                              const char *const *sections, size_t n)
{
    json_t *sources = json_object_get(result, "sources");
    const char *have = json_string_value(json_object_get(sources, service));
    const char *had = json_string_value(json_object_get(json_object_get(copy, "sources"), service));
    if (!have || strcmp(have, "unavailable") != 0 || !had || strcmp(had, "unavailable") == 0)
        return;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        json_t *sec = json_object_get(copy, sections[i]);
        if (sec && !json_object_get(result, sections[i])) {
            json_object_set(result, sections[i], sec);
            any = true;
        }
    }
    if (any)
        json_object_set_new(sources, service, json_string("stale"));
}

static bool cq_bd_source_is(const json_t *result, const char *service, const char *state)
{
    const char *s = json_string_value(json_object_get(json_object_get(result, "sources"), service));
    return s && strcmp(s, state) == 0;
}

/* The business data is known (fetched, or a fresh copy): settle it. */
static void cq_bd_conclude(cq_bd_job_t *job, json_t *data, bool fetched)
{
    cq_engine_ctx_t *ctx = job->ctx;
    if (fetched && job->copy) {
        cq_bd_merge_stale(data, job->copy, "account", cq_bd_account_sections,
                          CQ_ARRAY_SIZE(cq_bd_account_sections));
        cq_bd_merge_stale(data, job->copy, "traction", cq_bd_traction_sections,
                          CQ_ARRAY_SIZE(cq_bd_traction_sections));
    }
    bool none = cq_bd_source_is(data, "account", "unavailable") &&
                cq_bd_source_is(data, "traction", "unavailable");
    job->write_cache = fetched && cq_bd_source_is(data, "account", "ok") &&
                       cq_bd_source_is(data, "traction", "ok");
    job->write_partial = fetched && !none && !job->write_cache;
    const char *what =
        !fetched           ? "fresh_copy"
        : none             ? "unavailable"
        : job->write_cache ? "complete"
        : cq_bd_source_is(data, "account", "stale") || cq_bd_source_is(data, "traction", "stale")
            ? "stale"
            : "partial";
    char labels[96];
    snprintf(labels, sizeof(labels), "operation=\"%s\",data=\"%s\"", cq_engine_operation(ctx),
             what);
    cq_engine_count(ctx, CQ_BD_M_ANS, CQ_BD_M_ANS_H, labels, 1);
    if (none) {
        json_decref(data);
        data = NULL;
        /* A retriable failure runs the job again: the waiters wait for it. */
        job->release = !job->insights && cq_bd_final_attempt(job);
    } else {
        job->release = !job->insights;
    }
    job->result = data;
    if (job->insights && data) {
        job->builtin = cq_bd_rules ? cq_bd_insights_generate(cq_bd_rules, cq_engine_tenant(ctx),
                                                             data, cq_engine_now_ms(ctx))
                                   : json_array();
        job->ask_model = true; /* once the cache is written */
    }
    cq_bd_finish(job);
}

/* Stores items (taken) as this run's insights, then ends the job with them. */
static void cq_bd_store_insights(cq_bd_job_t *job, json_t *items)
{
    json_decref(job->generated);
    job->generated = items;
    job->write_cache = job->write_partial = job->release = false; /* done before */
    cq_bd_finish(job);
}

/* cq_engine_ask_llm_then's: the model's checked answer, or the rules'
 * page handed back as the fallback (open circuit, token budget). */
static void cq_bd_model_answered(cq_engine_ctx_t *ctx, json_t *answer, bool from_model)
{
    cq_bd_job_t *job = cq_engine_state(ctx);
    json_t *items = from_model
                        ? cq_bd_llm_items(answer, cq_engine_tenant(ctx), cq_engine_now_ms(ctx))
                        : json_incref(job->builtin);
    json_decref(answer);
    char labels[96];
    snprintf(labels, sizeof(labels), "engine=\"%s\"", from_model ? "llm" : "fallback");
    cq_engine_count(ctx, CQ_BD_M_INS, CQ_BD_M_INS_H, labels, 1);
    cq_bd_store_insights(job, items);
}

/* insights-generate with its business data known: the model reads it (and
 * the context) when a provider answers the operation, the rules answer
 * otherwise; either way the items are stored before the job ends. */
static void cq_bd_ask_model(cq_bd_job_t *job)
{
    json_t *input = cq_bd_llm_input(job->request, job->result, job->replies);
    json_t *fallback = cq_bd_insights_page(job->builtin, job->request);
    if (cq_engine_ask_llm_then(job->ctx, input, fallback, cq_bd_model_answered))
        return;
    json_decref(input);
    json_decref(fallback);
    cq_engine_count(job->ctx, CQ_BD_M_INS, CQ_BD_M_INS_H, "engine=\"builtin\"", 1);
    cq_bd_store_insights(job, json_incref(job->builtin));
}

/* ---- fetching -------------------------------------------------------------- */

static void cq_bd_all_fetched(cq_bd_job_t *job)
{
    if (job->fresh) { /* only the context was fetched */
        json_t *data = job->fresh;
        job->fresh = NULL;
        cq_bd_conclude(job, data, false);
        return;
    }
    json_t *notes = NULL;
    json_t *data = cq_bd_aggregate(cq_engine_tenant(job->ctx), job->replies,
                                   cq_engine_now_ms(job->ctx), &notes);
    size_t i;
    json_t *note;
    json_array_foreach(notes, i, note)
    {
        CQ_LOG(CQ_LOG_INFO, "business-data", cq_engine_job_id(job->ctx), "%s absent: %s",
               json_string_value(json_object_get(note, "section")),
               json_string_value(json_object_get(note, "reason")));
    }
    json_decref(notes);
    cq_bd_conclude(job, data, true);
}

static void cq_bd_count_call(cq_bd_job_t *job, cq_bd_source_id_t id, const char *outcome,
                             int64_t latency_ms)
{
    char labels[160];
    snprintf(labels, sizeof(labels), "source=\"%s\",outcome=\"%s\"", cq_bd_source(id)->name,
             outcome);
    cq_engine_count(job->ctx, CQ_BD_M_CALLS, CQ_BD_M_CALLS_H, labels, 1);
    if (latency_ms >= 0 && strcmp(outcome, "not_configured") != 0 &&
        strcmp(outcome, "no_credentials") != 0) {
        static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,    2.5,   5,    10,  30};
        snprintf(labels, sizeof(labels), "source=\"%s\"", cq_bd_source(id)->name);
        cq_engine_observe(job->ctx, CQ_BD_M_LAT, CQ_BD_M_LAT_H, labels, bounds,
                          CQ_ARRAY_SIZE(bounds), (double)latency_ms / 1000.0);
    }
}

/* The error class of a call that gave no usable reply. */
static const char *cq_bd_outcome(const cq_fetch_result_t *res, const cq_bd_reply_t *reply)
{
    if (res->err != CQ_ERR_OK)
        return cq_fetch_fail_name(res->fail);
    if (res->status == 429)
        return "status_429";
    if (res->status >= 500)
        return "status_5xx";
    if (res->status != 200)
        return "status_other";
    return reply->state == CQ_BD_REPLY_OK ? "ok" : "invalid";
}

static void cq_bd_fetched(void *opaque, cq_fetch_result_t *res)
{
    cq_bd_slot_t *slot = opaque;
    cq_bd_job_t *job = slot->job;
    slot->call = NULL;
    cq_bd_reply_t *reply = &job->replies[slot->id];
    const char *name = cq_bd_source(slot->id)->name;
    if (res->err != CQ_ERR_OK)
        cq_bd_reply_unavailable(reply, "%s: %s", cq_fetch_fail_name(res->fail), res->message);
    else if (res->status != 200)
        cq_bd_reply_unavailable(reply, "status %ld", res->status);
    else if (!cq_bd_schemas)
        cq_bd_reply_unavailable(reply, "no schemas built in");
    else
        cq_bd_upstream_validate(cq_bd_schemas, slot->id, res->body, res->body_len, reply);
    cq_bd_count_call(job, slot->id, cq_bd_outcome(res, reply), res->latency_ms);
    if (reply->state != CQ_BD_REPLY_OK)
        CQ_LOG(CQ_LOG_INFO, "business-data", cq_engine_job_id(job->ctx),
               "%s unavailable after %d tries, %lld ms: %s", name, res->attempts,
               (long long)res->latency_ms, reply->reason);
    if (--job->pending == 0)
        cq_bd_all_fetched(job);
}

/* Whether insights-generate reads the prompt-only sources: a provider may
 * answer it (the model reads the context; the rules do not). */
static bool cq_bd_wants_context(const cq_bd_job_t *job)
{
    const char *provider = cq_engine_config(job->ctx)->llm_provider;
    return job->insights && provider && strcmp(provider, "builtin") != 0;
}

/* Fetches the aggregate's sources (aggregate) and the prompt-only ones
 * (context) in parallel. */
static void cq_bd_fetch_all(cq_bd_job_t *job, bool aggregate, bool context)
{
    cq_engine_ctx_t *ctx = job->ctx;
    const cq_config_t *conf = cq_engine_config(ctx);
    const char *auth = cq_engine_credentials(ctx);
    char auth_h[8300], tenant_h[200];
    snprintf(auth_h, sizeof(auth_h), "Authorization: %s", auth ? auth : "");
    snprintf(tenant_h, sizeof(tenant_h), "X-Tenant-Id: %s", cq_engine_tenant(ctx));
    const char *headers[] = {auth_h, tenant_h, "Accept: application/json",
                             "User-Agent: coachq-business-data/" CQ_VERSION};
    /* Count first: a call's callback never runs inside cq_fetch_start, but
     * a source settled here must not end the job early. */
    job->pending = 1;
    for (size_t i = 0; i < CQ_BD_SRC_COUNT; i++) {
        const cq_bd_source_t *src = cq_bd_source((cq_bd_source_id_t)i);
        if (!(src->use == CQ_BD_USE_AGGREGATE ? aggregate : context))
            continue;
        const char *base = src->service == CQ_BD_SERVICE_ACCOUNT ? conf->upstream_account_url
                                                                 : conf->upstream_traction_url;
        if (!*base) {
            cq_bd_reply_unavailable(&job->replies[i], "upstream.%s.url is not set",
                                    cq_bd_service_name(src->service));
            cq_bd_count_call(job, (cq_bd_source_id_t)i, "not_configured", 0);
            continue;
        }
        if (!auth) {
            cq_bd_reply_unavailable(&job->replies[i], "the job carries no credentials");
            cq_bd_count_call(job, (cq_bd_source_id_t)i, "no_credentials", 0);
            continue;
        }
        size_t blen = strlen(base);
        while (blen > 0 && base[blen - 1] == '/')
            blen--;
        char *url = cq_asprintf("%.*s%s", (int)blen, base, cq_bd_path(conf, (cq_bd_source_id_t)i));
        cq_fetch_request_t req = cq_fetch_request_defaults(job->fetch);
        req.url = url;
        req.headers = headers;
        req.header_count = CQ_ARRAY_SIZE(headers);
        req.timeout_ms = conf->upstream_timeout;
        if (req.connect_timeout_ms > req.timeout_ms)
            req.connect_timeout_ms = req.timeout_ms;
        req.max_bytes = CQ_BD_REPLY_MAX_BYTES + 1;
        req.max_redirects = 0;
        req.log_id = cq_engine_job_id(ctx);
        job->slots[i] = (cq_bd_slot_t){.job = job, .id = (cq_bd_source_id_t)i};
        job->pending++;
        job->slots[i].call = cq_fetch_start(job->fetch, &req, cq_bd_fetched, &job->slots[i]);
        free(url);
    }
    if (--job->pending == 0)
        cq_bd_all_fetched(job);
}

/* ---- the start --------------------------------------------------------------- */

static void cq_bd_copy_work(cq_offload_item_t *item)
{
    cq_bd_job_t *job = item->arg;
    cq_store_t *store = cq_engine_store(job->ctx);
    const char *tenant = cq_engine_tenant(job->ctx);
    job->io_rc = cq_bdcache_get(store, tenant, &job->copy, &job->copy_at);
    if (!job->insights)
        return;
    /* insights: a partial answer newer than the copy and still fresh will do. */
    json_t *part = NULL;
    int64_t part_at = 0;
    if (cq_bdcache_get_partial(store, tenant, &part, &part_at) == CQ_ERR_OK &&
        (!job->copy || part_at > job->copy_at)) {
        job->partial = part;
        job->partial_at = part_at;
        part = NULL;
    }
    json_decref(part);
}

static void cq_bd_copy_done(cq_offload_item_t *item)
{
    cq_bd_job_t *job = item->arg;
    const cq_config_t *conf = cq_engine_config(job->ctx);
    if (job->io_rc != CQ_ERR_OK && job->io_rc != CQ_ERR_NOT_FOUND)
        CQ_LOG(CQ_LOG_WARN, "business-data", cq_engine_job_id(job->ctx),
               "cached copy not readable: %s", cq_err_name(job->io_rc));
    /* As the gateway answers: a fresh complete copy, else a fresh partial one. */
    int64_t now = cq_engine_now_ms(job->ctx);
    int64_t age = now - job->copy_at, part_age = now - job->partial_at;
    json_t *fresh = NULL;
    if (job->insights && job->copy && age >= 0 && age < conf->business_data_cache_ttl)
        fresh = json_deep_copy(job->copy);
    else if (job->insights && job->partial && part_age >= 0 &&
             part_age < conf->business_data_partial_ttl && part_age < conf->business_data_cache_ttl)
        fresh = json_deep_copy(job->partial);
    if (fresh && cq_bd_wants_context(job)) {
        job->fresh = fresh;
        cq_bd_fetch_all(job, false, true);
        return;
    }
    if (fresh) {
        cq_bd_conclude(job, fresh, false);
        return;
    }
    cq_bd_fetch_all(job, true, cq_bd_wants_context(job));
}

static void cq_bd_start(cq_engine_ctx_t *ctx, const json_t *request, bool insights)
{
    pthread_once(&cq_bd_once, cq_bd_load);
    cq_bd_job_t *job = cq_calloc(1, sizeof(*job));
    job->ctx = ctx;
    job->fetch = cq_engine_fetch(ctx);
    job->insights = insights;
    job->request = request;
    cq_engine_state_set(ctx, job, cq_bd_job_free);
    if (!job->fetch) {
        cq_job_done(ctx, CQ_ERR_INTERNAL_ERROR, NULL, "The worker has no HTTP client");
        return;
    }
    job->item.work = cq_bd_copy_work;
    job->item.done = cq_bd_copy_done;
    job->item.arg = job;
    cq_engine_offload(ctx, &job->item);
}

void cq_bd_engine_business_data(cq_engine_ctx_t *ctx, const json_t *request)
{
    cq_bd_start(ctx, request, false);
}

void cq_bd_engine_insights(cq_engine_ctx_t *ctx, const json_t *request)
{
    cq_bd_start(ctx, request, true);
}
