/*
 * cq_health.c — service endpoints that need no auth: liveness, readiness
 * (Kafka and Redis answer), Prometheus metrics and the OpenAPI document
 * (the API reference page is cq_docs.c).
 *
 * Runs on any HTTP thread.
 */
#include "cq_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Milliseconds a check took, for the HealthCheck's latencyMs. */
static json_t *cq_health_check(bool up, int64_t started, const char *detail)
{
    json_t *c = json_pack("{s:s, s:I}", "status", up ? "up" : "down", "latencyMs",
                          (json_int_t)(cq_mono_ms() - started));
    if (!up && detail)
        json_object_set_new(c, "detail", json_string(detail));
    return c;
}

/* The LLM circuit as the workers last published it (cq_worker writes
 * "llm-circuit:<kind>" to the cache): the worst state over the kinds. NULL
 * when no worker has said anything recently. */
static json_t *cq_health_llm(cq_gateway_t *gw, bool *degraded)
{
    static const char *const rank[] = {"closed", "half_open", "open"};
    int worst = -1;
    bool fallback = true;
    for (size_t i = 0; i < cq_contract_kind_count(gw->contract); i++) {
        const char *kind = cq_contract_kind_at(gw->contract, i);
        char key[96];
        snprintf(key, sizeof(key), "llm-circuit:%s", kind);
        char *value = NULL;
        if (cq_store_cache_get(gw->store, key, &value) != CQ_ERR_OK)
            continue;
        json_t *state = json_loads(value, 0, NULL);
        free(value);
        const char *circuit = json_string_value(json_object_get(state, "circuit"));
        for (int r = 0; circuit && r < 3; r++) {
            if (strcmp(circuit, rank[r]) != 0)
                continue;
            if (r > worst)
                worst = r;
            if (r == 2) /* open: serving only if that kind falls back to builtin */
                fallback &= json_is_true(json_object_get(state, "fallback"));
        }
        json_decref(state);
    }
    if (worst < 0)
        return NULL;
    const char *status = worst == 0 ? "up" : worst == 2 && !fallback ? "down" : "degraded";
    if (worst > 0)
        *degraded = true;
    return json_pack("{s:s, s:s}", "status", status, "circuit", rank[worst]);
}

void cq_health_handle(cq_gateway_t *gw, const char *path, const cq_http_req_t *req,
                      cq_http_resp_t *resp)
{
    char now[40];
    cq_time_iso8601(cq_now_ms(), now, sizeof(now));
    bool failed = cq_kafka_producer_failed(gw->producer, NULL, 0); /* logged when it happened */
    if (strcmp(path, "/health") == 0) {
        /* Alive unless the producer failed for good: then every job would be
         * refused until the process is restarted, so say so to the
         * supervisor (a liveness probe) instead of lingering. */
        json_t *body =
            json_pack("{s:s, s:s, s:s, s:s, s:I}", "status", failed ? "failed" : "ok", "service",
                      "coachq-gateway", "version", CQ_VERSION, "time", now, "uptimeSeconds",
                      (json_int_t)((cq_now_ms() - gw->started_ms) / 1000));
        if (failed)
            json_object_set_new(body, "error",
                                json_string("the Kafka producer failed for good; restart"));
        cq_http_resp_json(resp, failed ? 503 : 200, body);
    } else if (strcmp(path, "/health/ready") == 0) {
        int64_t t0 = cq_mono_ms();
        bool kafka = !failed && cq_kafka_producer_ready(gw->producer, 2000);
        json_t *kafka_check = cq_health_check(kafka, t0,
                                              failed ? "the Kafka producer failed for good; restart"
                                                     : "no broker answered");
        t0 = cq_mono_ms();
        bool redis = cq_store_ping(gw->store) == CQ_ERR_OK;
        json_t *checks = json_pack("{s:o, s:o}", "kafka", kafka_check, "redis",
                                   cq_health_check(redis, t0, "Redis did not answer"));
        bool degraded = false;
        json_t *llm = redis ? cq_health_llm(gw, &degraded) : NULL;
        if (llm)
            json_object_set_new(checks, "llm", llm);
        bool ready = kafka && redis;
        const char *status = !ready ? "unavailable" : degraded ? "degraded" : "ok";
        cq_http_resp_json(
            resp, ready ? 200 : 503,
            json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "status", status, "service",
                      "coachq-gateway", "version", CQ_VERSION, "time", now, "uptimeSeconds",
                      (json_int_t)((cq_now_ms() - gw->started_ms) / 1000), "checks", checks));
        if (!ready)
            cq_http_resp_header(resp, "Retry-After", "%lld",
                                (long long)gw->conf->gateway_retry_after);
    } else if (strcmp(path, "/metrics") == 0) {
        const cq_bdrefresh_counts_t *refresh =
            gw->bd_refresh ? cq_bdrefresh_counts(gw->bd_refresh) : NULL;
        char text[6144];
        int n = snprintf(
            text, sizeof(text),
            "# HELP coachq_gateway_responses_total HTTP answers by status class.\n"
            "# TYPE coachq_gateway_responses_total counter\n"
            "coachq_gateway_responses_total{class=\"2xx\"} %llu\n"
            "coachq_gateway_responses_total{class=\"4xx\"} %llu\n"
            "coachq_gateway_responses_total{class=\"5xx\"} %llu\n"
            "# HELP coachq_gateway_jobs_submitted_total Jobs the broker acknowledged.\n"
            "# TYPE coachq_gateway_jobs_submitted_total counter\n"
            "coachq_gateway_jobs_submitted_total %llu\n"
            "# HELP coachq_gateway_jobs_not_queued_total Submissions the broker refused (503).\n"
            "# TYPE coachq_gateway_jobs_not_queued_total counter\n"
            "coachq_gateway_jobs_not_queued_total %llu\n"
            "# HELP coachq_gateway_waiting_requests Requests waiting for a job.\n"
            "# TYPE coachq_gateway_waiting_requests gauge\n"
            "coachq_gateway_waiting_requests %d\n"
            "# HELP coachq_gateway_business_data_total Business-data requests: answered from the "
            "cache (hit), needing a job (miss), joining a job under way (flight_wait), answered "
            "with a stale source (stale); of the hits, those past freshness within the grace "
            "(revalidate).\n"
            "# TYPE coachq_gateway_business_data_total counter\n"
            "coachq_gateway_business_data_total{outcome=\"hit\"} %llu\n"
            "coachq_gateway_business_data_total{outcome=\"miss\"} %llu\n"
            "coachq_gateway_business_data_total{outcome=\"flight_wait\"} %llu\n"
            "coachq_gateway_business_data_total{outcome=\"stale\"} %llu\n"
            "coachq_gateway_business_data_total{outcome=\"revalidate\"} %llu\n"
            "# HELP coachq_gateway_business_data_refreshes_total Background refreshes handed "
            "over by refresh-ahead and stale-while-revalidate hits: a job submitted, skipped (one "
            "under way, or the copy already renewed), refused (rate limit, queue down), dropped "
            "(the tenant already waiting, or the queue full).\n"
            "# TYPE coachq_gateway_business_data_refreshes_total counter\n"
            "coachq_gateway_business_data_refreshes_total{result=\"submitted\"} %llu\n"
            "coachq_gateway_business_data_refreshes_total{result=\"skipped\"} %llu\n"
            "coachq_gateway_business_data_refreshes_total{result=\"refused\"} %llu\n"
            "coachq_gateway_business_data_refreshes_total{result=\"dropped\"} %llu\n"
            "# HELP coachq_gateway_uptime_seconds Seconds since start.\n"
            "# TYPE coachq_gateway_uptime_seconds counter\n"
            "coachq_gateway_uptime_seconds %lld\n",
            (unsigned long long)atomic_load(&gw->responses[2]),
            (unsigned long long)atomic_load(&gw->responses[4]),
            (unsigned long long)atomic_load(&gw->responses[5]),
            (unsigned long long)atomic_load(&gw->jobs_submitted),
            (unsigned long long)atomic_load(&gw->jobs_not_queued), atomic_load(&gw->waiters),
            (unsigned long long)atomic_load(&gw->bd_hits),
            (unsigned long long)atomic_load(&gw->bd_misses),
            (unsigned long long)atomic_load(&gw->bd_flight_waits),
            (unsigned long long)atomic_load(&gw->bd_stale),
            (unsigned long long)atomic_load(&gw->bd_revalidated),
            (unsigned long long)(refresh ? atomic_load(&refresh->submitted) : 0),
            (unsigned long long)(refresh ? atomic_load(&refresh->skipped) : 0),
            (unsigned long long)(refresh ? atomic_load(&refresh->refused) : 0),
            (unsigned long long)(refresh ? atomic_load(&refresh->dropped) : 0),
            (long long)((cq_now_ms() - gw->started_ms) / 1000));
        if (n < 0 || (size_t)n >= sizeof(text))
            n = 0;
        char *all = NULL;
        size_t all_len = 0;
        FILE *out = open_memstream(&all, &all_len);
        fwrite(text, 1, (size_t)n, out);
        size_t extra = 24576; /* the rate limit's lines, by-tenant table included */
        char *limits = cq_malloc(extra);
        fwrite(limits, 1, cq_ratelimit_metrics(gw, limits, extra), out);
        free(limits);
        cq_histo_write(gw->request_seconds, NULL, out);
        if (gw->bd_seconds)
            cq_histo_write(gw->bd_seconds, NULL, out);
        fclose(out);
        cq_http_resp_body(resp, 200, "text/plain; version=0.0.4", all, all_len);
        free(all);
    } else {
        size_t len = 0;
        const char *text = cq_contract_text(gw->contract, &len);
        cq_http_resp_body(resp, 200, "application/json", text, len);
    }
}
