/*
 * Integration: the per-tenant limits against the real Kafka broker and
 * Redis. The request rate at the gateway: a tenant with a small limit gets
 * 429 RATE_LIMITED with Retry-After and the RateLimit fields once its burst
 * is spent (a batch charged for its items), while another tenant submits
 * on, and the gateway counts it; an idempotent replay is not charged, and
 * a refused Idempotency-Key is given back. The daily token budget in the alignment
 * worker, against the fake LLM (which reports usage): once a tenant's
 * charged tokens reach its budget, its next job fails TOKEN_BUDGET_EXCEEDED
 * (a waiting POST answers 429 with that code), or with
 * llm.fallback_builtin is answered by the builtin engine marked fallback;
 * another tenant's jobs still go to the model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cq_it.h"

static cq_it_stack_t stack;
static cq_it_proc_t fake;
static int fake_port;
static int metrics_port;

#define BODY                                                                                       \
    "{\"goalIntent\": \"Grow recurring revenue from maintenance plans\","                          \
    " \"strategies\": [\"Sell plans at handover\"], \"kpis\": [\"Plan attach rate\"],"             \
    " \"businessFoundation\": {\"vision\": \"Clean energy in every home\","                        \
    " \"purpose\": \"Make solar simple\", \"coreValues\": [\"Integrity\"]}}"

/* POSTs the standard request; key: an Idempotency-Key, or NULL. */
static cq_it_resp_t submit_keyed(const char *tenant, const char *prefer, const char *key)
{
    char url[256], th[128], ph[64], kh[128];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", stack.base);
    snprintf(th, sizeof(th), "X-Tenant-Id: %s", tenant);
    snprintf(ph, sizeof(ph), "Prefer: %s", prefer);
    snprintf(kh, sizeof(kh), "Idempotency-Key: %s", key ? key : "");
    const char *const h[] = {"Content-Type: application/json", th, ph, key ? kh : NULL, NULL};
    return cq_it_http("POST", url, h, BODY, strlen(BODY));
}

static cq_it_resp_t submit(const char *tenant, const char *prefer)
{
    return submit_keyed(tenant, prefer, NULL);
}

static const char *str(json_t *j, const char *path)
{
    const char *s = json_string_value(cq_it_get(j, path));
    return s ? s : "";
}

static char *metrics(const char *url)
{
    cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
    if (r.status != 200)
        fprintf(stderr, "GET %s: %ld\n", url, r.status);
    assert_int_equal(r.status, 200);
    char *text = strdup(r.body);
    cq_it_resp_free(&r);
    return text;
}

/* The job resource of the job a POST answered for (after it ended). */
static json_t *job_of(const cq_it_resp_t *post, const char *tenant)
{
    char job_id[64] = "", url[256], th[128];
    assert_true(cq_it_header(post, "X-Job-Id", job_id, sizeof(job_id)));
    snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, job_id);
    snprintf(th, sizeof(th), "X-Tenant-Id: %s", tenant);
    const char *const h[] = {th, "Prefer: wait=40", NULL};
    cq_it_resp_t r = cq_it_http("GET", url, h, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *job = json_incref(r.json);
    cq_it_resp_free(&r);
    return job;
}

static void test_it_limits_rate_limited_tenant_gets_429(void **state)
{
    /* tenant-small: 6 jobs a minute (one per 10 s), 2 at once. */
    char rl[128], pol[128], first_job[64] = "", id[64];
    for (int i = 0; i < 2; i++) {
        cq_it_resp_t r = submit_keyed("tenant-small", "respond-async", i == 0 ? "key-1" : NULL);
        if (i == 0)
            assert_true(cq_it_header(&r, "X-Job-Id", first_job, sizeof(first_job)));
        assert_int_equal(r.status, 202);
        assert_true(cq_it_header(&r, "RateLimit-Policy", pol, sizeof(pol)));
        assert_string_equal(pol, "\"tenant\";q=2;w=20");
        assert_true(cq_it_header(&r, "RateLimit", rl, sizeof(rl)));
        /* t counts down from 10 s per job taken: a slow machine may have
         * spent a second or two between these requests. */
        int left = -1, reset = -1;
        assert_int_equal(sscanf(rl, "\"tenant\";r=%d;t=%d", &left, &reset), 2);
        assert_int_equal(left, 1 - i);
        assert_true(reset <= 10 * (i + 1) && reset >= 10 * (i + 1) - 3);
        cq_it_resp_free(&r);
    }
    cq_it_resp_t r = submit_keyed("tenant-small", "respond-async", "key-2");
    assert_int_equal(r.status, 429);
    char ct[128], ra[32];
    assert_true(cq_it_header(&r, "Content-Type", ct, sizeof(ct)));
    assert_non_null(strstr(ct, "application/problem+json"));
    assert_string_equal(str(r.json, "code"), "RATE_LIMITED");
    assert_int_equal(json_integer_value(cq_it_get(r.json, "status")), 429);
    assert_true(cq_it_matches_schema(r.json, "Problem"));
    assert_true(cq_it_header(&r, "Retry-After", ra, sizeof(ra)));
    assert_true(atoi(ra) >= 7 && atoi(ra) <= 10); /* less the time these requests took */
    assert_true(cq_it_header(&r, "RateLimit", rl, sizeof(rl)));
    assert_non_null(strstr(rl, "\"tenant\";r=0;t="));
    assert_true(cq_it_header(&r, "RateLimit-Policy", pol, sizeof(pol)));
    assert_false(cq_it_header(&r, "X-Job-Id", ct, sizeof(ct))); /* no job was made */
    cq_it_resp_free(&r);

    /* A batch is charged for its items: refused whole while the bucket is empty. */
    char url[256];
    snprintf(url, sizeof(url), "%s/jobs/batch", stack.base);
    const char *batch =
        "[{\"customId\": \"a\", \"operation\": \"alignment-check\", \"body\": " BODY "}]";
    const char *const bh[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-small", NULL};
    r = cq_it_http("POST", url, bh, batch, strlen(batch));
    assert_int_equal(r.status, 429);
    assert_string_equal(str(r.json, "code"), "RATE_LIMITED");
    cq_it_resp_free(&r);

    /* Another tenant, on the default limit, is not affected. */
    for (int i = 0; i < 5; i++) {
        r = submit("tenant-big", "respond-async");
        assert_int_equal(r.status, 202);
        assert_true(cq_it_header(&r, "RateLimit", rl, sizeof(rl)));
        /* 1000 at once, refilling one per 100 ms while the jobs are queued
         * (on a slow machine the bucket may refill between two requests). */
        const char *rem = strstr(rl, "\"tenant\";r=");
        assert_non_null(rem);
        assert_true(atoi(rem + 11) >= 990 - i && atoi(rem + 11) <= 999);
        cq_it_resp_free(&r);
    }
    r = cq_it_http(
        "POST", url,
        (const char *const[]){"Content-Type: application/json", "X-Tenant-Id: tenant-big", NULL},
        batch, strlen(batch));
    assert_int_equal(r.status, 202);
    cq_it_resp_free(&r);

    snprintf(url, sizeof(url), "%s/metrics", stack.base);
    char *m = metrics(url);
    assert_non_null(strstr(m, "coachq_gateway_rate_limited_total 2\n"));
    assert_non_null(
        strstr(m, "coachq_gateway_rate_limited_by_tenant_total{tenant=\"tenant-small\"} 2\n"));
    assert_null(strstr(m, "tenant=\"tenant-big\""));
    assert_non_null(strstr(m, "coachq_gateway_rate_limit_errors_total 0\n"));
    free(m);

    /* A replay makes no job and is not charged: it passes an empty bucket. */
    r = submit_keyed("tenant-small", "respond-async", "key-1");
    assert_int_equal(r.status, 202);
    assert_true(cq_it_header(&r, "X-Job-Id", id, sizeof(id)));
    assert_string_equal(id, first_job);
    cq_it_resp_free(&r);
    /* The refused key was given back: after Retry-After it makes a new job. */
    sleep((unsigned int)atoi(ra));
    r = submit_keyed("tenant-small", "respond-async", "key-2");
    assert_int_equal(r.status, 202);
    assert_true(cq_it_header(&r, "X-Job-Id", id, sizeof(id)));
    assert_string_not_equal(id, first_job);
    cq_it_resp_free(&r);
}

/* Starts the alignment worker against the fake (openai) with extra options. */
static void worker(const char *const *more)
{
    cq_it_stop(&stack.worker, SIGTERM);
    char base[128], ml[64];
    snprintf(base, sizeof(base), "llm.base_url=http://127.0.0.1:%d/v1", fake_port);
    metrics_port = cq_it_free_port();
    snprintf(ml, sizeof(ml), "worker.metrics_listen=127.0.0.1:%d", metrics_port);
    const char *opts[16] = {"llm.provider=openai",  base, "llm.api_key=test-key",
                            "llm.model=test-model", ml,   "llm.token_budgets=tenant-poor=1"};
    size_t n = 6;
    for (; more && *more && n < 15; more++)
        opts[n++] = *more;
    opts[n] = NULL;
    assert_true(cq_it_start_worker(&stack, "alignment", opts));
}

static void test_it_limits_token_budget(void **state)
{
    worker(NULL);
    /* The first job is answered by the model and charged (budget: 1 token). */
    cq_it_resp_t r = submit("tenant-poor", "wait=40");
    assert_int_equal(r.status, 200);
    json_t *job = job_of(&r, "tenant-poor");
    assert_string_equal(str(job, "engine.name"), "llm");
    json_decref(job);
    cq_it_resp_free(&r);
    /* Over budget, no fallback: the job fails TOKEN_BUDGET_EXCEEDED (429). */
    r = submit("tenant-poor", "wait=40");
    assert_int_equal(r.status, 429);
    assert_string_equal(str(r.json, "code"), "TOKEN_BUDGET_EXCEEDED");
    assert_true(cq_it_matches_schema(r.json, "Problem"));
    job = job_of(&r, "tenant-poor");
    assert_string_equal(str(job, "status"), "failed");
    assert_string_equal(str(job, "error.code"), "TOKEN_BUDGET_EXCEEDED");
    json_decref(job);
    cq_it_resp_free(&r);
    /* Another tenant still gets the model. */
    r = submit("tenant-rich", "wait=40");
    assert_int_equal(r.status, 200);
    job = job_of(&r, "tenant-rich");
    assert_string_equal(str(job, "engine.name"), "llm");
    json_decref(job);
    cq_it_resp_free(&r);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", metrics_port);
    char *m = metrics(url);
    assert_non_null(strstr(m, "coachq_worker_token_budget_exceeded_total{kind=\"alignment\"} 1\n"));
    assert_null(strstr(m, "coachq_worker_tokens_charged_total{kind=\"alignment\"} 0\n"));
    free(m);

    /* With fallback on, the builtin engine answers and the job says so. */
    worker((const char *const[]){"llm.fallback_builtin=true", NULL});
    r = submit("tenant-poor", "wait=40");
    assert_int_equal(r.status, 200);
    job = job_of(&r, "tenant-poor");
    assert_string_equal(str(job, "status"), "succeeded");
    assert_string_equal(str(job, "engine.name"), "builtin");
    assert_true(json_is_true(cq_it_get(job, "engine.fallback")));
    json_decref(job);
    cq_it_resp_free(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", metrics_port); /* the new worker's */
    m = metrics(url);
    assert_non_null(strstr(m, "coachq_worker_token_budget_exceeded_total{kind=\"alignment\"} 1\n"));
    assert_non_null(strstr(m, "coachq_worker_llm_fallbacks_total{kind=\"alignment\"} 1\n"));
    free(m);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "limits");
    if (!cq_it_start_fake("fake_llm.py", &fake, &fake_port))
        return -1;
    const char *const gw[] = {"ratelimit.tenants=tenant-small=6/2", NULL};
    return cq_it_start_gateway(&stack, gw) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    cq_it_stop(&fake, SIGTERM);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_limits_rate_limited_tenant_gets_429),
        cmocka_unit_test(test_it_limits_token_budget),
    };
    return cmocka_run_group_tests_name("integration.limits", tests, setup, teardown);
}
