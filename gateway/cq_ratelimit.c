/*
 * cq_ratelimit.c — the per-tenant request rate limit of job submissions.
 *
 * Every new job is charged to its tenant before it is recorded or queued:
 * a single POST costs 1, a batch costs its item count (a batch of 500 puts
 * 500 jobs on the queues; counting it once would let a tenant bypass the
 * limit by batching). Idempotent replays that return an existing job and
 * business-data answers from the cache create no job and are not charged.
 * The bucket is in Redis (cq_store_rate_take: one Lua script, one round
 * trip), so every gateway replica shares it.
 *
 * Over the limit: 429 problem+json RATE_LIMITED with Retry-After and the
 * RateLimit-Policy / RateLimit fields of draft-ietf-httpapi-ratelimit-
 * headers-10; answers that pass carry the two fields too.
 *
 * Redis not answering: fail-open. The limit shields the queues from one
 * tenant's flood; it is not a security boundary. Failing closed would turn
 * a Redis blip into 429s for every tenant, blaming them for our outage,
 * while the submission itself needs Redis next (the job record) and fails
 * with its own 503 REDIS_UNAVAILABLE if Redis is really down. The skipped
 * checks are counted (coachq_gateway_rate_limit_errors_total).
 *
 * Metrics: totals of checks, refusals and errors, plus refusals by tenant
 * for the first CQ_RATELIMIT_TENANTS tenants ever refused (the rest as
 * "_other"): tenants that are never limited add no series, and a flood of
 * distinct tenant ids cannot grow the page without bound.
 *
 * Threads: any HTTP thread; the by-tenant table is under limited_lock.
 */
#include "cq_gateway.h"
#include "cq_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cq_ratelimit_count_tenant(cq_gateway_t *gw, const char *tenant)
{
    pthread_mutex_lock(&gw->limited_lock);
    size_t i = 0;
    while (i < gw->limited_count && strcmp(gw->limited_tenants[i], tenant) != 0)
        i++;
    if (i == gw->limited_count && i < CQ_RATELIMIT_TENANTS) {
        gw->limited_tenants[i] = cq_strdup(tenant);
        gw->limited_counts[i] = 0;
        gw->limited_count++;
    }
    if (i < gw->limited_count)
        gw->limited_counts[i]++;
    else
        gw->limited_other++;
    pthread_mutex_unlock(&gw->limited_lock);
}

bool cq_ratelimit_check(cq_gateway_t *gw, const cq_principal_t *who, int64_t cost,
                        const cq_http_req_t *req, cq_http_resp_t *resp,
                        cq_limit_decision_t *decision)
{
    memset(decision, 0, sizeof(*decision));
    decision->reset_us = -1;
    cq_limit_rate_t rate = cq_limit_rate_of(gw->limits, who->tenant_id);
    if (rate.rate <= 0)
        return true;
    atomic_fetch_add(&gw->rate_checks, 1);
    cq_err_t rc =
        cq_store_rate_take(gw->store, who->tenant_id, rate, cost, cq_now_ms() * 1000, decision);
    if (rc != CQ_ERR_OK) {
        atomic_fetch_add(&gw->rate_errors, 1);
        CQ_LOG(CQ_LOG_WARN, "ratelimit", NULL,
               "cannot check tenant %s's rate (%s): letting the request through", who->tenant_id,
               cq_err_name(rc));
        memset(decision, 0, sizeof(*decision));
        decision->reset_us = -1;
        return true;
    }
    if (decision->allowed)
        return true;
    atomic_fetch_add(&gw->rate_limited, 1);
    cq_ratelimit_count_tenant(gw, who->tenant_id);
    char detail[256];
    if (cost > rate.burst)
        snprintf(detail, sizeof(detail),
                 "A batch of %lld jobs is larger than the tenant's burst of %lld: split it",
                 (long long)cost, (long long)rate.burst);
    else
        snprintf(detail, sizeof(detail),
                 "The tenant may submit %lld jobs per minute (burst %lld); retry in %lld s",
                 (long long)rate.rate, (long long)rate.burst,
                 (long long)cq_limit_retry_after_s(decision));
    cq_http_resp_problem(resp, req, CQ_ERR_RATE_LIMITED, detail, NULL);
    cq_http_resp_header(resp, "Retry-After", "%lld", (long long)cq_limit_retry_after_s(decision));
    CQ_LOG(CQ_LOG_INFO, "ratelimit", NULL, "tenant %s limited (%lld jobs asked)", who->tenant_id,
           (long long)cost);
    return false;
}

void cq_ratelimit_headers(cq_gateway_t *gw, const cq_principal_t *who,
                          const cq_limit_decision_t *decision, cq_http_resp_t *resp)
{
    if (decision->reset_us < 0)
        return;
    char value[128];
    cq_limit_policy_header(cq_limit_rate_of(gw->limits, who->tenant_id), value, sizeof(value));
    cq_http_resp_header(resp, "RateLimit-Policy", "%s", value);
    cq_limit_state_header(decision, value, sizeof(value));
    cq_http_resp_header(resp, "RateLimit", "%s", value);
}

/* Appends to out at *n, never past out_size - 1. */
static void cq_ratelimit_put(char *out, size_t out_size, size_t *n, const char *fmt, ...)
    CQ_PRINTF(4, 5);
static void cq_ratelimit_put(char *out, size_t out_size, size_t *n, const char *fmt, ...)
{
    if (*n + 1 >= out_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + *n, out_size - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n += (size_t)w < out_size - *n ? (size_t)w : out_size - *n - 1;
}

size_t cq_ratelimit_metrics(cq_gateway_t *gw, char *out, size_t out_size)
{
    size_t n = 0;
    if (out_size)
        out[0] = '\0';
    cq_ratelimit_put(
        out, out_size, &n,
        "# HELP coachq_gateway_rate_limit_checks_total Submissions checked against their "
        "tenant's rate limit.\n"
        "# TYPE coachq_gateway_rate_limit_checks_total counter\n"
        "coachq_gateway_rate_limit_checks_total %llu\n"
        "# HELP coachq_gateway_rate_limited_total Submissions refused 429 RATE_LIMITED.\n"
        "# TYPE coachq_gateway_rate_limited_total counter\n"
        "coachq_gateway_rate_limited_total %llu\n"
        "# HELP coachq_gateway_rate_limit_errors_total Checks Redis could not answer (the "
        "submission was let through).\n"
        "# TYPE coachq_gateway_rate_limit_errors_total counter\n"
        "coachq_gateway_rate_limit_errors_total %llu\n"
        "# HELP coachq_gateway_rate_limited_by_tenant_total Refusals by tenant, for the first "
        "64 tenants refused; later ones count as _other.\n"
        "# TYPE coachq_gateway_rate_limited_by_tenant_total counter\n",
        (unsigned long long)atomic_load(&gw->rate_checks),
        (unsigned long long)atomic_load(&gw->rate_limited),
        (unsigned long long)atomic_load(&gw->rate_errors));
    pthread_mutex_lock(&gw->limited_lock);
    for (size_t i = 0; i < gw->limited_count; i++) {
        char label[2 * sizeof(((cq_principal_t *)0)->tenant_id) + 1];
        size_t l = 0;
        for (const char *c = gw->limited_tenants[i]; *c && l + 2 < sizeof(label); c++) {
            if (*c == '\\' || *c == '"' || *c == '\n') {
                label[l++] = '\\';
                label[l++] = (char)(*c == '\n' ? 'n' : *c);
            } else {
                label[l++] = *c;
            }
        }
        label[l] = '\0';
        cq_ratelimit_put(out, out_size, &n,
                         "coachq_gateway_rate_limited_by_tenant_total{tenant=\"%s\"} %llu\n", label,
                         (unsigned long long)gw->limited_counts[i]);
    }
    if (gw->limited_other)
        cq_ratelimit_put(out, out_size, &n,
                         "coachq_gateway_rate_limited_by_tenant_total{tenant=\"_other\"} %llu\n",
                         (unsigned long long)gw->limited_other);
    pthread_mutex_unlock(&gw->limited_lock);
    return n;
}
