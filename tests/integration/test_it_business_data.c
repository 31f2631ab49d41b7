/*
 * Integration: business-data end to end against the fake Account and
 * Traction services (tests/fake/fake_upstream.py, which counts calls per
 * tenant and path): a fresh hit answered without a job, a miss as one
 * job, 100 concurrent cold requests as one call per upstream path, each
 * fault class on each service as partial data with the right sources
 * marks, stale and 503 answers when both are down, refresh-ahead,
 * stale-while-revalidate (a copy in the grace answered and refreshed once,
 * past it a miss, an outage found by its refresh marked stale), no-cache
 * refreshes, tenant isolation, and stored insights (list, filters, paging,
 * PATCH).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cq_it.h"

static cq_it_stack_t stack;
static cq_it_proc_t upstream;
static int upstream_port;
static int worker_metrics_port;

/* The paths the aggregate reads (cq_bd_upstream.c, CQ_BD_USE_AGGREGATE). */
static const char *const aggregate_paths[] = {
    "/user/profile", "/metrics/revenue",    "/metrics/customers", "/metrics/team",
    "/goals/stats",  "/operations/actions", "/api/issues",
};

static const char *str(json_t *root, const char *path)
{
    const char *s = json_string_value(cq_it_get(root, path));
    return s ? s : "";
}

static cq_it_resp_t get_bd(const char *tenant, const char *extra_header)
{
    char url[256], tenant_h[128];
    snprintf(url, sizeof(url), "%s/multitenant/conversations/business-data", stack.base);
    snprintf(tenant_h, sizeof(tenant_h), "X-Tenant-Id: %s", tenant);
    const char *headers[] = {tenant_h, "Authorization: Bearer it-token", extra_header, NULL};
    return cq_it_http("GET", url, headers, NULL, 0);
}

/* Calls the fake received for tenant on path since the last reset. */
static long calls(const char *tenant, const char *path)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/_control/counts", upstream_port);
    cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
    long n = (long)json_integer_value(json_object_get(json_object_get(r.json, tenant), path));
    cq_it_resp_free(&r);
    return n;
}

static void script(const char *route, const char *behaviour)
{
    char doc[512];
    if (route)
        snprintf(doc, sizeof(doc), "{\"route\": \"%s\", \"then\": %s}", route, behaviour);
    else
        snprintf(doc, sizeof(doc), "{\"then\": %s}", behaviour);
    assert_true(cq_it_fake_script(upstream_port, doc));
}

/* A tenant id never used before in this run. */
static void fresh_tenant(char *out, size_t size, const char *what)
{
    static int n;
    snprintf(out, size, "%s-%s-%d", stack.prefix, what, ++n);
    for (char *p = out; *p; p++)
        if (*p == ':' || *p == '.' || *p == '_')
            *p = '-';
}

static void test_it_bd_miss_is_one_job_then_a_fresh_hit_needs_none(void **state)
{
    char t[96];
    fresh_tenant(t, sizeof(t), "hit");
    cq_it_fake_reset(upstream_port);
    cq_it_resp_t r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    char job[64];
    assert_true(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "BusinessDataResult"));
    assert_false(json_is_true(cq_it_get(data, "cached")));
    assert_string_equal(str(data, "sources.account"), "ok");
    assert_string_equal(str(data, "sources.traction"), "ok");
    assert_non_null(cq_it_get(data, "revenue.changePercent"));
    assert_non_null(cq_it_get(data, "operations.openIssues"));
    json_t *first = json_deep_copy(data);
    cq_it_resp_free(&r);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(aggregate_paths); i++)
        assert_int_equal(calls(t, aggregate_paths[i]), 1);
    assert_int_equal(calls(t, "/people"), 0); /* prompt-only sources are not read */

    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    char age[32];
    assert_true(cq_it_header(&r, "Age", age, sizeof(age)));
    assert_true(atoi(age) >= 0 && atoi(age) <= 2);
    assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
    /* The same figures; generatedAt may differ by the milliseconds between
     * the aggregate and the runtime's stamp of the job's result. */
    json_object_set_new(first, "cached", json_true());
    json_object_del(first, "generatedAt");
    json_t *second = json_deep_copy(cq_it_get(r.json, "data"));
    json_object_del(second, "generatedAt");
    assert_true(json_equal(second, first));
    json_decref(second);
    json_decref(first);
    cq_it_resp_free(&r);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(aggregate_paths); i++)
        assert_int_equal(calls(t, aggregate_paths[i]), 1);
}

typedef struct {
    const char *tenant;
    long status;
    bool job;
} cold_arg_t;

static void *cold_get(void *opaque)
{
    cold_arg_t *a = opaque;
    cq_it_resp_t r = get_bd(a->tenant, NULL);
    a->status = r.status;
    char job[64];
    a->job = cq_it_header(&r, "X-Job-Id", job, sizeof(job));
    if (r.status != 200)
        fprintf(stderr, "cold request: %ld %s\n", r.status, r.body ? r.body : "");
    cq_it_resp_free(&r);
    return NULL;
}

static void test_it_bd_100_concurrent_cold_requests_make_one_call_per_path(void **state)
{
    char t[96];
    fresh_tenant(t, sizeof(t), "cold");
    cq_it_fake_reset(upstream_port);
    /* Slow enough that every request arrives while the one job runs. */
    script(NULL, "{\"kind\": \"ok\", \"latency_ms\": 400}");
    enum { N = 100 };
    pthread_t threads[N];
    cold_arg_t args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (cold_arg_t){.tenant = t};
        assert_int_equal(pthread_create(&threads[i], NULL, cold_get, &args[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        ok += args[i].status == 200;
    }
    assert_int_equal(ok, N);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(aggregate_paths); i++) {
        if (calls(t, aggregate_paths[i]) != 1)
            fail_msg("%s called %ld times", aggregate_paths[i], calls(t, aggregate_paths[i]));
    }
    cq_it_fake_reset(upstream_port);
}

/* One fault on one service: the other's figures stay, the faulty one is unavailable. */
static void test_it_bd_each_fault_class_on_each_service_gives_partial_data(void **state)
{
    static const struct {
        const char *name, *behaviour;
    } faults[] = {
        {"slow", "{\"kind\": \"ok\", \"latency_ms\": 1500}"},
        {"429", "{\"kind\": \"status\", \"code\": 429, \"retry_after\": 1}"},
        {"5xx", "{\"kind\": \"status\", \"code\": 502}"},
        {"malformed", "{\"kind\": \"malformed\"}"},
        {"wrong-shape", "{\"kind\": \"invalid\"}"},
        {"hang", "{\"kind\": \"hang\"}"},
        {"reset", "{\"kind\": \"reset\"}"},
    };
    static const char *const services[] = {"account", "traction"};
    for (size_t f = 0; f < CQ_ARRAY_SIZE(faults); f++) {
        for (size_t s = 0; s < 2; s++) {
            char t[96];
            fresh_tenant(t, sizeof(t), faults[f].name);
            cq_it_fake_reset(upstream_port);
            script(services[s], faults[f].behaviour);
            cq_it_resp_t r = get_bd(t, NULL);
            if (r.status != 200)
                fail_msg("%s on %s: %ld %s", faults[f].name, services[s], r.status, r.body);
            json_t *data = cq_it_get(r.json, "data");
            assert_true(cq_it_matches_schema(data, "BusinessDataResult"));
            const char *bad = services[s], *good = services[1 - s];
            char key[64];
            snprintf(key, sizeof(key), "sources.%s", bad);
            if (strcmp(str(data, key), "unavailable") != 0)
                fail_msg("%s on %s: %s is %s", faults[f].name, bad, key, str(data, key));
            snprintf(key, sizeof(key), "sources.%s", good);
            assert_string_equal(str(data, key), "ok");
            bool account_bad = s == 0;
            assert_true((cq_it_get(data, "revenue") == NULL) == account_bad);
            assert_true((cq_it_get(data, "customers") == NULL) == account_bad);
            assert_true((cq_it_get(data, "team") == NULL) == account_bad);
            assert_true((cq_it_get(data, "operations") == NULL) == !account_bad);
            cq_it_resp_free(&r);
        }
    }
    cq_it_fake_reset(upstream_port);
}

static void test_it_bd_one_path_failing_drops_only_its_section(void **state)
{
    char t[96];
    fresh_tenant(t, sizeof(t), "onepath");
    cq_it_fake_reset(upstream_port);
    script("account.revenue", "{\"kind\": \"status\", \"code\": 500}");
    cq_it_resp_t r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_null(cq_it_get(r.json, "data.revenue"));
    assert_non_null(cq_it_get(r.json, "data.customers"));
    assert_string_equal(str(r.json, "data.sources.account"), "ok");
    cq_it_resp_free(&r);
    cq_it_fake_reset(upstream_port);
}

static void test_it_bd_both_down_serves_the_stale_copy_or_503(void **state)
{
    char t[96];
    fresh_tenant(t, sizeof(t), "stale");
    cq_it_fake_reset(upstream_port);
    cq_it_resp_t r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    json_t *good = json_deep_copy(cq_it_get(r.json, "data"));
    cq_it_resp_free(&r);
    usleep(4300 * 1000); /* past cache_ttl and stale_while_revalidate (2 s + 2 s here) */
    /* One service down: fresh figures of the other, the copy's of the failed one. */
    script("traction", "{\"kind\": \"status\", \"code\": 503}");
    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "data.sources.account"), "ok");
    assert_string_equal(str(r.json, "data.sources.traction"), "stale");
    assert_true(
        json_equal(cq_it_get(r.json, "data.operations"), json_object_get(good, "operations")));
    cq_it_resp_free(&r);
    /* Such an answer is cached for business_data.partial_ttl (1 s here)
     * only, marks included; the good copy stays for the stale fallback. */
    script(NULL, "{\"kind\": \"status\", \"code\": 503}");
    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    char job[64];
    assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
    assert_string_equal(str(r.json, "data.sources.traction"), "stale");
    cq_it_resp_free(&r);
    usleep(1200 * 1000); /* past it: a job again */
    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "BusinessDataResult"));
    assert_string_equal(str(data, "sources.account"), "stale");
    assert_string_equal(str(data, "sources.traction"), "stale");
    assert_true(json_equal(cq_it_get(data, "revenue"), json_object_get(good, "revenue")));
    assert_true(json_equal(cq_it_get(data, "operations"), json_object_get(good, "operations")));
    cq_it_resp_free(&r);
    json_decref(good);

    /* Another tenant, never fetched: nothing to fall back on. */
    char other[96];
    fresh_tenant(other, sizeof(other), "nocopy");
    r = get_bd(other, NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(str(r.json, "code"), "UPSTREAM_UNAVAILABLE");
    char retry[16];
    assert_true(cq_it_header(&r, "Retry-After", retry, sizeof(retry)));
    cq_it_resp_free(&r);
    /* The flight key was given back: the next request is a new job that succeeds. */
    cq_it_fake_reset(upstream_port);
    r = get_bd(other, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "data.sources.account"), "ok");
    cq_it_resp_free(&r);
}

/* Calls of tenant on every aggregate path, summed. */
static long all_calls(const char *tenant)
{
    long n = 0;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(aggregate_paths); i++)
        n += calls(tenant, aggregate_paths[i]);
    return n;
}

static void test_it_bd_partial_answer_is_cached_for_the_partial_ttl(void **state)
{
    char t[96], job[64];
    fresh_tenant(t, sizeof(t), "partial");
    cq_it_fake_reset(upstream_port);
    script("account", "{\"kind\": \"status\", \"code\": 503}");
    cq_it_resp_t r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_string_equal(str(r.json, "data.sources.account"), "unavailable");
    assert_string_equal(str(r.json, "data.sources.traction"), "ok");
    cq_it_resp_free(&r);
    long before = all_calls(t);
    assert_true(before >= (long)CQ_ARRAY_SIZE(aggregate_paths));
    /* Within business_data.partial_ttl (1 s here): from the cache, no job,
     * no upstream call, the marks as they were. */
    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "BusinessDataResult"));
    assert_string_equal(str(r.json, "data.sources.account"), "unavailable");
    assert_string_equal(str(r.json, "data.sources.traction"), "ok");
    assert_null(cq_it_get(r.json, "data.revenue"));
    cq_it_resp_free(&r);
    assert_int_equal(all_calls(t), before);
    /* Past it, the service back: a job, whose complete answer replaces it. */
    usleep(1200 * 1000);
    cq_it_fake_reset(upstream_port);
    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_string_equal(str(r.json, "data.sources.account"), "ok");
    cq_it_resp_free(&r);
    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
    assert_string_equal(str(r.json, "data.sources.account"), "ok");
    assert_non_null(cq_it_get(r.json, "data.revenue"));
    cq_it_resp_free(&r);
    assert_int_equal(calls(t, "/metrics/revenue"), 1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_until(int64_t at_ms)
{
    int64_t now = now_ms();
    if (at_ms > now)
        usleep((useconds_t)(at_ms - now) * 1000);
}

/* business_data.refresh_ahead (40 % and cache_ttl 2 s here): hits in the
 * copy's last 800 ms are answered from the cache and start one refresh
 * job, so the copy is renewed before it expires. */
static void test_it_bd_refresh_ahead_renews_a_copy_before_it_expires(void **state)
{
    char t[96], job[64];
    fresh_tenant(t, sizeof(t), "ahead");
    cq_it_fake_reset(upstream_port);
    int64_t t0 = now_ms();
    cq_it_resp_t r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    cq_it_resp_free(&r);
    int64_t t1 = now_ms(); /* the copy was stored between t0 and t1 */
    assert_int_equal(calls(t, "/metrics/revenue"), 1);
    /* Early in the freshness: a plain hit. */
    r = get_bd(t, NULL);
    assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
    cq_it_resp_free(&r);
    usleep(300 * 1000);
    assert_int_equal(calls(t, "/metrics/revenue"), 1);
    /* Late in it: still hits (no job in the answer), and one refresh for all three. */
    sleep_until(t1 + 1300);
    if (now_ms() - t0 >= 1950)
        fail_msg("too slow to test: the first job took %lld ms", (long long)(t1 - t0));
    for (int i = 0; i < 3; i++) {
        r = get_bd(t, NULL);
        assert_int_equal(r.status, 200);
        assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
        assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
        cq_it_resp_free(&r);
    }
    for (int i = 0; i < 100 && calls(t, "/goals/stats") < 1 + 1; i++)
        usleep(20 * 1000);
    usleep(300 * 1000); /* its copy written */
    for (size_t i = 0; i < CQ_ARRAY_SIZE(aggregate_paths); i++)
        assert_int_equal(calls(t, aggregate_paths[i]), 2);
    /* Past the first copy's expiry: the renewed copy answers, young. */
    sleep_until(t1 + 2300);
    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
    char age[16];
    assert_true(cq_it_header(&r, "Age", age, sizeof(age)));
    assert_true(atoi(age) <= 1);
    cq_it_resp_free(&r);
    assert_int_equal(calls(t, "/metrics/revenue"), 2);
}

/* The first copy of a new tenant, by a job; *stored_by is a time (now_ms)
 * after it was stored. */
static void first_copy(const char *t, int64_t *stored_by)
{
    cq_it_resp_t r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    char job[64];
    assert_true(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_string_equal(str(r.json, "data.sources.account"), "ok");
    cq_it_resp_free(&r);
    *stored_by = now_ms();
    assert_int_equal(calls(t, "/metrics/revenue"), 1);
}

/* Waits (at most 3 s) until tenant's calls on every aggregate path reach
 * want, then a little more for the job's copy to be written. */
static void await_calls(const char *t, long want)
{
    for (int i = 0; i < 150 && calls(t, "/api/issues") < want; i++)
        usleep(20 * 1000);
    usleep(400 * 1000);
}

/* business_data.stale_while_revalidate (2 s here, cache_ttl 2 s): a copy
 * past its freshness but within the grace is answered at once from the
 * cache, says so (Age past max-age, stale-while-revalidate), and one
 * background job refreshes it. */
static void test_it_bd_stale_copy_in_the_grace_is_answered_and_refreshed(void **state)
{
    char t[96], job[64], age[16], cc[128];
    fresh_tenant(t, sizeof(t), "swr");
    cq_it_fake_reset(upstream_port);
    int64_t t0 = now_ms(), t1;
    first_copy(t, &t1);
    cq_it_resp_t r = get_bd(t, NULL);
    json_t *first = json_deep_copy(cq_it_get(r.json, "data"));
    assert_true(cq_it_header(&r, "Cache-Control", cc, sizeof(cc)));
    assert_string_equal(cc, "private, max-age=2, stale-while-revalidate=2");
    cq_it_resp_free(&r);
    sleep_until(t1 + 2300);
    if (now_ms() - t0 >= 3800)
        fail_msg("too slow to test: the first job took %lld ms", (long long)(t1 - t0));
    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
    assert_true(cq_it_header(&r, "Age", age, sizeof(age)));
    assert_true(atoi(age) >= 2 && atoi(age) < 4);
    assert_true(cq_it_header(&r, "Cache-Control", cc, sizeof(cc)));
    assert_string_equal(cc, "private, max-age=2, stale-while-revalidate=2");
    /* The copy as it was, its marks included. */
    assert_true(json_equal(cq_it_get(r.json, "data"), first));
    cq_it_resp_free(&r);
    json_decref(first);
    /* One refresh, in the background: soon the copy is young again (the
     * hits meanwhile answered from the old one, starting nothing more). */
    bool renewed = false;
    for (int i = 0; i < 60 && !renewed; i++) {
        r = get_bd(t, NULL);
        assert_int_equal(r.status, 200);
        assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
        assert_true(cq_it_header(&r, "Age", age, sizeof(age)));
        renewed = atoi(age) <= 1;
        cq_it_resp_free(&r);
        if (!renewed)
            usleep(25 * 1000);
    }
    assert_true(renewed);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(aggregate_paths); i++)
        assert_int_equal(calls(t, aggregate_paths[i]), 2);
}

static void test_it_bd_copy_past_the_grace_is_a_miss(void **state)
{
    char t[96], job[64];
    fresh_tenant(t, sizeof(t), "pastgrace");
    cq_it_fake_reset(upstream_port);
    int64_t t1;
    first_copy(t, &t1);
    sleep_until(t1 + 4300); /* past cache_ttl + stale_while_revalidate */
    cq_it_resp_t r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_header(&r, "X-Job-Id", job, sizeof(job))); /* the job, waited for */
    assert_false(json_is_true(cq_it_get(r.json, "data.cached")));
    cq_it_resp_free(&r);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(aggregate_paths); i++)
        assert_int_equal(calls(t, aggregate_paths[i]), 2);
}

typedef struct {
    const char *tenant;
    long status;
    bool job, cached;
} grace_arg_t;

static void *grace_get(void *opaque)
{
    grace_arg_t *a = opaque;
    cq_it_resp_t r = get_bd(a->tenant, NULL);
    char job[64];
    a->status = r.status;
    a->job = cq_it_header(&r, "X-Job-Id", job, sizeof(job));
    a->cached = json_is_true(cq_it_get(r.json, "data.cached"));
    cq_it_resp_free(&r);
    return NULL;
}

static void test_it_bd_many_hits_in_the_grace_start_one_refresh(void **state)
{
    char t[96];
    fresh_tenant(t, sizeof(t), "swrmany");
    cq_it_fake_reset(upstream_port);
    int64_t t0 = now_ms(), t1;
    first_copy(t, &t1);
    /* A slow refresh, so that the hits arrive while it runs. */
    script(NULL, "{\"kind\": \"ok\", \"latency_ms\": 300}");
    sleep_until(t1 + 2200);
    if (now_ms() - t0 >= 3000)
        fail_msg("too slow to test: the first job took %lld ms", (long long)(t1 - t0));
    enum { N = 40 };
    pthread_t threads[N];
    grace_arg_t args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (grace_arg_t){.tenant = t};
        assert_int_equal(pthread_create(&threads[i], NULL, grace_get, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].status, 200);
        assert_false(args[i].job);
        assert_true(args[i].cached);
    }
    await_calls(t, 2);
    usleep(300 * 1000);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(aggregate_paths); i++)
        if (calls(t, aggregate_paths[i]) != 2)
            fail_msg("%s called %ld times", aggregate_paths[i], calls(t, aggregate_paths[i]));
    cq_it_fake_reset(upstream_port);
}

/* An outage found by the grace's refresh: the stale fallback answers as it
 * did without the grace (the failed services marked stale), first from the
 * partial copy, then, that expired, by a job; never again the old complete
 * copy as if all were well. */
static void test_it_bd_refresh_in_the_grace_finding_an_outage_marks_it_stale(void **state)
{
    char t[96], job[64];
    fresh_tenant(t, sizeof(t), "swrdown");
    cq_it_fake_reset(upstream_port);
    int64_t t0 = now_ms(), t1;
    first_copy(t, &t1);
    script(NULL, "{\"kind\": \"status\", \"code\": 503}");
    sleep_until(t1 + 2100);
    if (now_ms() - t0 >= 2700)
        fail_msg("too slow to test: the first job took %lld ms", (long long)(t1 - t0));
    cq_it_resp_t r = get_bd(t, NULL); /* nothing known yet: the copy, refreshed */
    assert_int_equal(r.status, 200);
    assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_string_equal(str(r.json, "data.sources.account"), "ok");
    cq_it_resp_free(&r);
    /* Once the refresh ended: its answer, from the partial key (until
     * then the copy again, its refresh under way, nothing more started). */
    int64_t seen = 0;
    for (int i = 0; i < 60 && !seen; i++) {
        r = get_bd(t, NULL);
        assert_int_equal(r.status, 200);
        assert_false(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
        assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
        if (strcmp(str(r.json, "data.sources.account"), "stale") == 0) {
            assert_string_equal(str(r.json, "data.sources.traction"), "stale");
            seen = now_ms();
        } else {
            assert_string_equal(str(r.json, "data.sources.account"), "ok");
        }
        cq_it_resp_free(&r);
        if (!seen)
            usleep(25 * 1000);
    }
    if (!seen)
        fail_msg("the refresh in the grace answered nothing");
    /* That expired (partial_ttl 1 s), the complete copy still in the grace. */
    sleep_until(seen + 1100);
    if (now_ms() - t0 >= 3950) /* t0 is before the copy was stored: it is younger */
        fail_msg("too slow to test: the refresh took until %lld ms", (long long)(seen - t0));
    r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_string_equal(str(r.json, "data.sources.account"), "stale");
    assert_string_equal(str(r.json, "data.sources.traction"), "stale");
    cq_it_resp_free(&r);
    cq_it_fake_reset(upstream_port);
}

static void test_it_bd_no_cache_forces_a_refresh(void **state)
{
    char t[96];
    fresh_tenant(t, sizeof(t), "nocache");
    cq_it_fake_reset(upstream_port);
    cq_it_resp_t r = get_bd(t, NULL);
    assert_int_equal(r.status, 200);
    cq_it_resp_free(&r);
    r = get_bd(t, "Cache-Control: no-cache");
    assert_int_equal(r.status, 200);
    char job[64];
    assert_true(cq_it_header(&r, "X-Job-Id", job, sizeof(job)));
    assert_false(json_is_true(cq_it_get(r.json, "data.cached")));
    cq_it_resp_free(&r);
    assert_int_equal(calls(t, "/metrics/revenue"), 2);
    r = get_bd(t, NULL);
    assert_true(json_is_true(cq_it_get(r.json, "data.cached")));
    cq_it_resp_free(&r);
    assert_int_equal(calls(t, "/metrics/revenue"), 2);
}

static void test_it_bd_tenants_never_share_a_copy(void **state)
{
    char a[96], b[96];
    fresh_tenant(a, sizeof(a), "iso-a");
    fresh_tenant(b, sizeof(b), "iso-b");
    cq_it_fake_reset(upstream_port);
    cq_it_resp_t ra = get_bd(a, NULL);
    assert_int_equal(ra.status, 200);
    cq_it_resp_t rb = get_bd(b, NULL);
    assert_int_equal(rb.status, 200);
    char job[64];
    assert_true(cq_it_header(&rb, "X-Job-Id", job, sizeof(job))); /* b's own job, not a's copy */
    assert_false(json_is_true(cq_it_get(rb.json, "data.cached")));
    /* The fake's figures differ per tenant: b got its own. */
    assert_false(
        json_equal(cq_it_get(ra.json, "data.revenue"), cq_it_get(rb.json, "data.revenue")));
    cq_it_resp_free(&ra);
    cq_it_resp_free(&rb);
    assert_int_equal(calls(a, "/metrics/revenue"), 1);
    assert_int_equal(calls(b, "/metrics/revenue"), 1);
}

static cq_it_resp_t insights_req(const char *method, const char *tenant, const char *path_query,
                                 const char *body)
{
    char url[512], tenant_h[128];
    snprintf(url, sizeof(url), "%s%s", stack.base, path_query);
    snprintf(tenant_h, sizeof(tenant_h), "X-Tenant-Id: %s", tenant);
    const char *headers[] = {tenant_h, "Authorization: Bearer it-token",
                             "Content-Type: application/json", NULL};
    return cq_it_http(method, url, headers, body, body ? strlen(body) : 0);
}

/* Figures that make most rules fire (revenue -50 %, churn, retention, open
 * issues, an over-used and unhappy team). */
static void script_troubled_business(void)
{
    script("account.revenue", "{\"kind\": \"content\", \"value\": {\"current\": 50000, "
                              "\"previous\": 100000}}");
    script("account.customers", "{\"kind\": \"content\", \"value\": {\"total\": 100, "
                                "\"new\": 2, \"churned\": 30}}");
    script("account.team", "{\"kind\": \"content\", \"value\": {\"size\": 10, "
                           "\"utilization\": 98, \"satisfaction\": {\"score\": 1.2, "
                           "\"min\": 1, \"max\": 5}}}");
    script("traction.issues", "{\"kind\": \"content\", \"value\": {\"items\": [{\"id\": "
                              "\"i1\", \"status\": \"open\"}], \"total\": 60}}");
}

static long total_of(const cq_it_resp_t *r)
{
    return (long)json_integer_value(cq_it_get(r->json, "data.pagination.total"));
}

static void test_it_bd_insights_are_stored_listed_filtered_paged_and_patched(void **state)
{
    char t[96], other[96];
    fresh_tenant(t, sizeof(t), "ins");
    fresh_tenant(other, sizeof(other), "ins-other");
    cq_it_fake_reset(upstream_port);
    script_troubled_business();
    cq_it_resp_t r = insights_req("POST", t, "/insights/generate?pageSize=100", NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "InsightsGenerateResult"));
    long generated = total_of(&r);
    assert_true(generated >= 6);
    cq_it_resp_free(&r);

    r = insights_req("GET", t, "/insights", NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "InsightsGenerateResult"));
    assert_int_equal(total_of(&r), generated);
    assert_string_equal(str(r.json, "data.items.0.priority"), "critical");
    cq_it_resp_free(&r);

    /* filters */
    r = insights_req("GET", t, "/insights?category=marketing", NULL);
    assert_int_equal(r.status, 200);
    long marketing = total_of(&r);
    assert_true(marketing >= 2);
    for (size_t i = 0; i < json_array_size(cq_it_get(r.json, "data.items")); i++)
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(cq_it_get(r.json, "data.items"), i), "category")),
                            "marketing");
    cq_it_resp_free(&r);
    r = insights_req("GET", t, "/insights?priority=critical&category=finance", NULL);
    assert_int_equal(total_of(&r), 1);
    assert_string_equal(str(r.json, "data.items.0.category"), "finance");
    char id[64];
    snprintf(id, sizeof(id), "%s", str(r.json, "data.items.0.id"));
    cq_it_resp_free(&r);

    /* paging */
    r = insights_req("GET", t, "/insights?pageSize=2&page=2", NULL);
    assert_int_equal(json_array_size(cq_it_get(r.json, "data.items")), 2);
    assert_int_equal(json_integer_value(cq_it_get(r.json, "data.pagination.totalPages")),
                     (generated + 1) / 2);
    cq_it_resp_free(&r);
    r = insights_req("GET", t, "/insights?pageSize=100&page=9", NULL);
    assert_int_equal(json_array_size(cq_it_get(r.json, "data.items")), 0);
    assert_int_equal(total_of(&r), generated);
    cq_it_resp_free(&r);
    r = insights_req("GET", t, "/insights?pageSize=0", NULL);
    assert_int_equal(r.status, 422);
    cq_it_resp_free(&r);
    r = insights_req("GET", t, "/insights?status=gone", NULL);
    assert_int_equal(r.status, 422);
    cq_it_resp_free(&r);

    /* PATCH, then a filter by status, and a regeneration keeps it */
    char path[128];
    snprintf(path, sizeof(path), "/insights/%s", id);
    r = insights_req("PATCH", t, path, "{\"status\": \"dismissed\"}");
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "Insight"));
    assert_string_equal(str(r.json, "data.status"), "dismissed");
    assert_string_equal(str(r.json, "data.id"), id);
    cq_it_resp_free(&r);
    r = insights_req("GET", t, "/insights?status=dismissed", NULL);
    assert_int_equal(total_of(&r), 1);
    assert_string_equal(str(r.json, "data.items.0.id"), id);
    cq_it_resp_free(&r);
    r = insights_req("POST", t, "/insights/generate?category=finance", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "data.items.0.id"), id);
    assert_string_equal(str(r.json, "data.items.0.status"), "dismissed");
    cq_it_resp_free(&r);
    r = insights_req("GET", t, "/insights?status=active", NULL);
    assert_int_equal(total_of(&r), generated - 1);
    cq_it_resp_free(&r);

    r = insights_req("PATCH", t, path, "{\"status\": \"done\"}");
    assert_int_equal(r.status, 422);
    cq_it_resp_free(&r);
    r = insights_req("PATCH", t, "/insights/ins-0000000000000000", "{\"status\": \"active\"}");
    assert_int_equal(r.status, 404);
    cq_it_resp_free(&r);

    /* another tenant sees none of it and cannot change it */
    r = insights_req("GET", other, "/insights", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(total_of(&r), 0);
    cq_it_resp_free(&r);
    r = insights_req("PATCH", other, path, "{\"status\": \"acknowledged\"}");
    assert_int_equal(r.status, 404);
    cq_it_resp_free(&r);
    r = insights_req("GET", t, "/insights?status=dismissed", NULL);
    assert_int_equal(total_of(&r), 1);
    cq_it_resp_free(&r);
    cq_it_fake_reset(upstream_port);
}

static void test_it_bd_metrics_count_hits_misses_and_waits(void **state)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", stack.base);
    cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "coachq_gateway_business_data_total{outcome=\"hit\"}"));
    long hits = -1, waits = -1;
    const char *p = strstr(r.body, "outcome=\"hit\"} ");
    if (p)
        hits = atol(p + strlen("outcome=\"hit\"} "));
    p = strstr(r.body, "outcome=\"flight_wait\"} ");
    if (p)
        waits = atol(p + strlen("outcome=\"flight_wait\"} "));
    assert_true(hits >= 2);
    assert_true(waits >= 90); /* most of the 100 cold requests joined the one job */
    cq_it_resp_free(&r);

    /* The worker's: upstream outcomes by source and class, answers by kind. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", worker_metrics_port);
    r = cq_it_http("GET", url, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    static const char *const want[] = {
        "coachq_worker_business_data_upstream_calls_total{kind=\"business-data\","
        "source=\"account.revenue\",outcome=\"ok\"}",
        "source=\"account.revenue\",outcome=\"timeout\"}",
        "source=\"traction.goals\",outcome=\"status_429\"}",
        "source=\"traction.goals\",outcome=\"status_5xx\"}",
        "source=\"traction.goals\",outcome=\"invalid\"}",
        "source=\"account.team\",outcome=\"reset\"}",
        "coachq_worker_business_data_answers_total{kind=\"business-data\","
        "operation=\"business-data\",data=\"stale\"}",
        "operation=\"business-data\",data=\"partial\"}",
        "operation=\"business-data\",data=\"unavailable\"}",
        "operation=\"business-data\",data=\"complete\"}",
        "# TYPE coachq_worker_business_data_upstream_seconds histogram",
        "coachq_worker_business_data_upstream_seconds_bucket{kind=\"business-data\","
        "source=\"traction.issues\",le=\"+Inf\"}",
        "coachq_worker_business_data_upstream_seconds_count{kind=\"business-data\","
        "source=\"account.revenue\"}",
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(want); i++)
        if (!strstr(r.body, want[i]))
            fail_msg("worker /metrics lacks %s", want[i]);
    cq_it_resp_free(&r);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "bizdata");
    if (!cq_it_start_fake("fake_upstream.py", &upstream, &upstream_port))
        return -1;
    char account[128], traction[128];
    snprintf(account, sizeof(account), "upstream.account.url=http://127.0.0.1:%d", upstream_port);
    snprintf(traction, sizeof(traction), "upstream.traction.url=http://127.0.0.1:%d/",
             upstream_port);
    char metrics[96];
    worker_metrics_port = cq_it_free_port();
    snprintf(metrics, sizeof(metrics), "worker.metrics_listen=127.0.0.1:%d", worker_metrics_port);
    const char *worker[] = {account,
                            metrics,
                            traction,
                            "upstream.timeout=700ms",
                            "fetch.max_attempts=2",
                            "fetch.retry_backoff=50ms",
                            "fetch.retry_after_max=300ms",
                            "fetch.breaker_failures=1000",
                            "jobs.max_attempts=1",
                            "business_data.cache_ttl=2s",
                            "business_data.partial_ttl=1s",
                            "business_data.stale_while_revalidate=2s",
                            NULL};
    if (!cq_it_start_worker(&stack, "business-data", worker))
        return -1;
    const char *gateway[] = {"business_data.cache_ttl=2s", "business_data.partial_ttl=1s",
                             "business_data.refresh_ahead=40",
                             "business_data.stale_while_revalidate=2s", NULL};
    return cq_it_start_gateway(&stack, gateway) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    cq_it_stop(&upstream, SIGTERM);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_bd_miss_is_one_job_then_a_fresh_hit_needs_none),
        cmocka_unit_test(test_it_bd_100_concurrent_cold_requests_make_one_call_per_path),
        cmocka_unit_test(test_it_bd_each_fault_class_on_each_service_gives_partial_data),
        cmocka_unit_test(test_it_bd_one_path_failing_drops_only_its_section),
        cmocka_unit_test(test_it_bd_both_down_serves_the_stale_copy_or_503),
        cmocka_unit_test(test_it_bd_partial_answer_is_cached_for_the_partial_ttl),
        cmocka_unit_test(test_it_bd_refresh_ahead_renews_a_copy_before_it_expires),
        cmocka_unit_test(test_it_bd_stale_copy_in_the_grace_is_answered_and_refreshed),
        cmocka_unit_test(test_it_bd_copy_past_the_grace_is_a_miss),
        cmocka_unit_test(test_it_bd_many_hits_in_the_grace_start_one_refresh),
        cmocka_unit_test(test_it_bd_refresh_in_the_grace_finding_an_outage_marks_it_stale),
        cmocka_unit_test(test_it_bd_no_cache_forces_a_refresh),
        cmocka_unit_test(test_it_bd_tenants_never_share_a_copy),
        cmocka_unit_test(test_it_bd_insights_are_stored_listed_filtered_paged_and_patched),
        cmocka_unit_test(test_it_bd_metrics_count_hits_misses_and_waits),
    };
    return cmocka_run_group_tests_name("integration.business_data", tests, setup, teardown);
}
