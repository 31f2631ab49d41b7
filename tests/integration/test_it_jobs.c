/*
 * Integration: the gateway and the alignment worker against the real Kafka
 * broker and Redis the harness started. Covers the synchronous and
 * asynchronous shapes, long-poll, every error class, tenancy, cancellation,
 * idempotency, a kind without consumers, and the result record on Kafka.
 */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cq_it.h"

static cq_it_stack_t stack;

#define BODY                                                                                       \
    "{\"goalIntent\": \"Every home in the valley runs on clean affordable solar energy\","         \
    " \"strategies\": [\"Offer affordable solar financing to every homeowner\"],"                  \
    " \"kpis\": [\"Homes running on solar energy\"],"                                              \
    " \"businessFoundation\": {\"vision\": \"Every home in the valley runs on clean, affordable "  \
    "energy\", \"purpose\": \"We make going solar simple and honest for homeowners\","             \
    " \"coreValues\": [\"Integrity\", \"Sustainability\"]}}"

#define UNRELATED_BODY                                                                             \
    "{\"goalIntent\": \"Migrate the payroll database to a new server\","                           \
    " \"strategies\": [\"Hire a database contractor\"], \"kpis\": [\"Migration downtime\"],"       \
    " \"businessFoundation\": {\"vision\": \"Every home in the valley runs on clean, affordable "  \
    "energy\", \"purpose\": \"We make going solar simple and honest for homeowners\","             \
    " \"coreValues\": [\"Integrity\", \"Sustainability\"]}}"

static const char *const json_a[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-a",
                                     "X-User-Id: alice", NULL};
static const char *const async_a[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-a",
                                      "Prefer: respond-async", NULL};

static char *url(const char *path)
{
    return cq_asprintf("%s%s", stack.base, path);
}

static cq_it_resp_t post(const char *path, const char *const *headers, const char *body)
{
    char *u = url(path);
    cq_it_resp_t r = cq_it_http("POST", u, headers, body, body ? strlen(body) : 0);
    free(u);
    return r;
}

static cq_it_resp_t get(const char *path, const char *const *headers)
{
    char *u = url(path);
    cq_it_resp_t r = cq_it_http("GET", u, headers, NULL, 0);
    free(u);
    return r;
}

static const char *str(json_t *root, const char *path)
{
    return json_string_value(cq_it_get(root, path));
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "jobs");
    const char *gw_opts[] = {"gateway.max_body_bytes=4KiB", NULL};
    if (!cq_it_start_worker(&stack, "alignment", NULL) || !cq_it_start_gateway(&stack, gw_opts))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    return 0;
}

static void test_it_sync_answers_200_with_result(void **state)
{
    cq_it_resp_t r = post("/coaching/alignment-check", json_a, BODY);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(cq_it_get(r.json, "success")));
    json_int_t score = json_integer_value(cq_it_get(r.json, "data.alignmentScore"));
    assert_true(score >= 70 && score <= 100);
    assert_non_null(str(r.json, "data.explanation"));
    char job_id[64];
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);

    /* The engine discriminates: an unrelated goal scores far lower. */
    r = post("/coaching/alignment-check", json_a, UNRELATED_BODY);
    assert_int_equal(r.status, 200);
    json_int_t low = json_integer_value(cq_it_get(r.json, "data.alignmentScore"));
    assert_true(low + 30 < score);
    cq_it_resp_free(&r);
}

static void test_it_async_then_poll_reaches_same_result(void **state)
{
    cq_it_resp_t sync = post("/coaching/alignment-check", json_a, BODY);
    assert_int_equal(sync.status, 200);

    cq_it_resp_t r = post("/coaching/alignment-check", async_a, BODY);
    assert_int_equal(r.status, 202);
    char location[256], retry[16], job_id[64];
    assert_true(cq_it_header(&r, "Location", location, sizeof(location)));
    assert_true(cq_it_header(&r, "Retry-After", retry, sizeof(retry)));
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    assert_string_equal(str(r.json, "jobId"), job_id);
    assert_non_null(strstr(location, job_id));
    cq_it_resp_free(&r);

    const char *const poll[] = {"X-Tenant-Id: tenant-a", "Prefer: wait=20", NULL};
    char *u = cq_asprintf("http://127.0.0.1:%d%s", stack.port, location);
    r = cq_it_http("GET", u, poll, NULL, 0);
    free(u);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "succeeded");
    assert_string_equal(str(r.json, "operation"), "alignment-check");
    assert_string_equal(str(r.json, "engine.name"), "builtin");
    assert_true(json_integer_value(cq_it_get(r.json, "attempts")) >= 1);
    assert_int_equal(json_integer_value(cq_it_get(r.json, "result.alignmentScore")),
                     json_integer_value(cq_it_get(sync.json, "data.alignmentScore")));
    assert_string_equal(str(r.json, "result.explanation"), str(sync.json, "data.explanation"));
    cq_it_resp_free(&r);
    cq_it_resp_free(&sync);
}

typedef struct {
    char path[128];
    cq_it_resp_t resp;
    int64_t took_ms;
} poll_arg_t;

static void *long_poll(void *arg)
{
    poll_arg_t *p = arg;
    const char *const headers[] = {"X-Tenant-Id: tenant-a", "Prefer: wait=30", NULL};
    int64_t t0 = cq_mono_ms();
    p->resp = get(p->path, headers);
    p->took_ms = cq_mono_ms() - t0;
    return NULL;
}

static void test_it_long_poll_wakes_when_job_finishes(void **state)
{
    /* With the worker down the job stays queued; the long-poll must hold
     * until the worker comes back and finishes it, not time out. */
    cq_it_stop(&stack.worker, SIGTERM);
    cq_it_resp_t r = post("/coaching/alignment-check", async_a, BODY);
    assert_int_equal(r.status, 202);
    poll_arg_t p;
    memset(&p, 0, sizeof(p));
    snprintf(p.path, sizeof(p.path), "/jobs/%s", str(r.json, "jobId"));
    cq_it_resp_free(&r);

    cq_it_resp_t now = get(p.path, json_a);
    assert_int_equal(now.status, 200);
    assert_string_equal(str(now.json, "status"), "queued");
    cq_it_resp_free(&now);

    pthread_t t;
    pthread_create(&t, NULL, long_poll, &p);
    usleep(1500 * 1000);
    assert_true(cq_it_start_worker(&stack, "alignment", NULL));
    pthread_join(t, NULL);
    assert_int_equal(p.resp.status, 200);
    assert_string_equal(str(p.resp.json, "status"), "succeeded");
    assert_true(p.took_ms >= 1000); /* it did wait ... */
    assert_true(p.took_ms < 29000); /* ... and woke before its bound */
    cq_it_resp_free(&p.resp);
}

static void test_it_error_classes(void **state)
{
    cq_it_resp_t r = post("/coaching/alignment-check", json_a, "{\"goalIntent\": ");
    assert_int_equal(r.status, 400);
    assert_string_equal(str(r.json, "code"), "MALFORMED_JSON");
    cq_it_resp_free(&r);

    const char *const text[] = {"Content-Type: text/plain", "X-Tenant-Id: tenant-a", NULL};
    r = post("/coaching/alignment-check", text, BODY);
    assert_int_equal(r.status, 415);
    assert_string_equal(str(r.json, "code"), "UNSUPPORTED_MEDIA_TYPE");
    cq_it_resp_free(&r);

    char *big = cq_malloc(8192);
    memset(big, ' ', 8191);
    big[0] = '{';
    big[8190] = '}';
    big[8191] = '\0';
    r = post("/coaching/alignment-check", json_a, big);
    free(big);
    assert_int_equal(r.status, 413);
    assert_string_equal(str(r.json, "code"), "PAYLOAD_TOO_LARGE");
    cq_it_resp_free(&r);

    r = post("/coaching/alignment-check", json_a,
             "{\"goalIntent\": \"\", \"strategies\": \"x\", \"kpis\": [],"
             " \"businessFoundation\": {\"vision\": \"v\", \"purpose\": \"p\","
             " \"coreValues\": [\"a\"]}}");
    assert_int_equal(r.status, 422);
    assert_string_equal(str(r.json, "code"), "VALIDATION_ERROR");
    assert_string_equal(str(r.json, "errors.0.path"), "/goalIntent");
    assert_string_equal(str(r.json, "errors.1.path"), "/strategies");
    cq_it_resp_free(&r);

    r = get("/coaching/alignment-check", json_a);
    assert_int_equal(r.status, 405);
    char allow[32];
    assert_true(cq_it_header(&r, "Allow", allow, sizeof(allow)));
    assert_string_equal(allow, "POST");
    cq_it_resp_free(&r);

    r = get("/no/such/thing", json_a);
    assert_int_equal(r.status, 404);
    assert_string_equal(str(r.json, "code"), "NOT_FOUND");
    cq_it_resp_free(&r);

    r = get("/jobs/01920f3e-7c1a-7b3e-9f2d-5a6b7c8d9e0f", json_a);
    assert_int_equal(r.status, 404);
    cq_it_resp_free(&r);

    const char *const nobody[] = {"Content-Type: application/json", NULL};
    r = post("/coaching/alignment-check", nobody, BODY);
    assert_int_equal(r.status, 401);
    assert_string_equal(str(r.json, "code"), "TOKEN_MISSING");
    cq_it_resp_free(&r);
}

static void test_it_other_tenant_sees_404(void **state)
{
    cq_it_resp_t r = post("/coaching/alignment-check", json_a, BODY);
    assert_int_equal(r.status, 200);
    char job_id[64], path[128];
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);
    snprintf(path, sizeof(path), "/jobs/%s", job_id);
    const char *const b[] = {"X-Tenant-Id: tenant-b", NULL};
    r = get(path, b);
    assert_int_equal(r.status, 404);
    cq_it_resp_free(&r);
    char *u = url(path);
    r = cq_it_http("DELETE", u, b, NULL, 0);
    assert_int_equal(r.status, 404);
    cq_it_resp_free(&r);
    /* Its owner cannot cancel a finished job either: 409. */
    r = cq_it_http("DELETE", u, json_a, NULL, 0);
    assert_int_equal(r.status, 409);
    assert_string_equal(str(r.json, "code"), "JOB_ALREADY_TERMINAL");
    cq_it_resp_free(&r);
    free(u);
}

static void test_it_cancel_queued_job(void **state)
{
    cq_it_stop(&stack.worker, SIGTERM);
    char key[96];
    snprintf(key, sizeof(key), "Idempotency-Key: %s-cancelled", stack.prefix);
    const char *const async_key[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-a",
                                     "Prefer: respond-async", key, NULL};
    cq_it_resp_t r = post("/coaching/alignment-check", async_key, BODY);
    assert_int_equal(r.status, 202);
    char path[128], job_id[64];
    cq_strlcpy(job_id, str(r.json, "jobId"), sizeof(job_id));
    snprintf(path, sizeof(path), "/jobs/%s", job_id);
    cq_it_resp_free(&r);
    char *u = url(path);
    r = cq_it_http("DELETE", u, json_a, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "cancelled");
    cq_it_resp_free(&r);
    /* A synchronous replay of the cancelled job: 409 JOB_CANCELLED (in the
     * contract of every job operation). */
    const char *const sync_key[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-a", key,
                                    NULL};
    r = post("/coaching/alignment-check", sync_key, BODY);
    assert_int_equal(r.status, 409);
    assert_string_equal(str(r.json, "code"), "JOB_CANCELLED");
    assert_string_equal(str(r.json, "jobId"), job_id);
    assert_true(cq_it_matches_schema(r.json, "Problem"));
    cq_it_resp_free(&r);
    /* The worker sees the job later and must not run it. */
    assert_true(cq_it_start_worker(&stack, "alignment", NULL));
    sleep(3);
    r = cq_it_http("GET", u, json_a, NULL, 0);
    assert_string_equal(str(r.json, "status"), "cancelled");
    assert_null(cq_it_get(r.json, "result"));
    cq_it_resp_free(&r);
    free(u);
}

/* Whether the tenant's business-data flight key (cq_bdcache) is in Redis. */
static bool bd_flight_key_held(const char *tenant)
{
    struct timeval tv = {2, 0};
    redisContext *redis = redisConnectWithTimeout("127.0.0.1", stack.redis_port, tv);
    assert_true(redis && !redis->err);
    redisReply *reply =
        redisCommand(redis, "EXISTS %s:cache:business_data_flight:%s", stack.prefix, tenant);
    assert_non_null(reply);
    bool held = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    freeReplyObject(reply);
    redisFree(redis);
    return held;
}

/* What the business-data GET answers before any job (in its contract), and
 * that such a refusal gives the tenant's flight key back at once (it used
 * to stay until it went stale, holding the tenant's next miss for 2 s). */
static void test_it_business_data_idempotency_answers(void **state)
{
    char key[300];
    snprintf(key, sizeof(key), "Idempotency-Key: %0256d", 7);
    const char *const long_key[] = {"X-Tenant-Id: tenant-a", key, NULL};
    cq_it_resp_t r = get("/multitenant/conversations/business-data", long_key);
    assert_int_equal(r.status, 400);
    assert_string_equal(str(r.json, "code"), "BAD_REQUEST");
    cq_it_resp_free(&r);
    assert_false(bd_flight_key_held("tenant-a"));
    /* A key already used for another operation. */
    snprintf(key, sizeof(key), "Idempotency-Key: %s-bd-reused", stack.prefix);
    const char *const h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-a", key, NULL};
    r = post("/coaching/alignment-check", h, BODY);
    assert_int_equal(r.status, 200);
    cq_it_resp_free(&r);
    r = get("/multitenant/conversations/business-data", h);
    assert_int_equal(r.status, 422);
    assert_string_equal(str(r.json, "code"), "IDEMPOTENCY_KEY_REUSED");
    cq_it_resp_free(&r);
    assert_false(bd_flight_key_held("tenant-a"));
}

static void test_it_idempotency_key(void **state)
{
    char key[96];
    snprintf(key, sizeof(key), "Idempotency-Key: %s-key-1", stack.prefix);
    const char *const h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-a", key, NULL};
    cq_it_resp_t r1 = post("/coaching/alignment-check", h, BODY);
    cq_it_resp_t r2 = post("/coaching/alignment-check", h, BODY);
    assert_int_equal(r1.status, 200);
    assert_int_equal(r2.status, 200);
    char id1[64], id2[64];
    assert_true(cq_it_header(&r1, "X-Job-Id", id1, sizeof(id1)));
    assert_true(cq_it_header(&r2, "X-Job-Id", id2, sizeof(id2)));
    assert_string_equal(id1, id2);
    cq_it_resp_free(&r1);
    cq_it_resp_free(&r2);
    cq_it_resp_t r3 = post("/coaching/alignment-check", h, UNRELATED_BODY);
    assert_int_equal(r3.status, 422);
    assert_string_equal(str(r3.json, "code"), "IDEMPOTENCY_KEY_REUSED");
    cq_it_resp_free(&r3);
}

static void test_it_kind_without_consumer_still_202(void **state)
{
    /* No operations worker runs: the job waits in Kafka, never a 500. */
    const char *body = "{\"issueTitle\": \"Late deliveries\", \"issueDescription\":"
                       " \"Deliveries to our largest customers were late three weeks in a "
                       "row.\", \"businessImpact\": \"Two customers threatened to leave\"}";
    const char *const h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-a",
                             "Prefer: wait=1", NULL};
    cq_it_resp_t r = post("/operations/root-cause-suggestions", h, body);
    if (r.status == 422)
        fprintf(stderr, "422: %s\n", r.body);
    assert_int_equal(r.status, 202);
    assert_string_equal(str(r.json, "status"), "queued");
    cq_it_resp_free(&r);
}

static void test_it_batch_runs_every_item(void **state)
{
    const char *items =
        "[{\"customId\": \"a\", \"operation\": \"alignment-check\", \"body\": " BODY
        "}, {\"customId\": \"b\", \"operation\": \"alignment-check\", \"body\": " UNRELATED_BODY
        "}, {\"customId\": \"c\", \"operation\": \"root-cause-suggestions\", \"body\":"
        " {\"issueTitle\": \"Late deliveries\", \"issueDescription\": \"Deliveries"
        " were late three weeks in a row.\", \"businessImpact\": \"Churn risk\"}}]";
    cq_it_resp_t r = post("/jobs/batch", json_a, items);
    assert_int_equal(r.status, 202);
    assert_true(cq_it_matches_schema(r.json, "BatchResource"));
    assert_int_equal(json_integer_value(cq_it_get(r.json, "counts.total")), 3);
    assert_int_equal(json_integer_value(cq_it_get(r.json, "counts.queued")), 3);
    char location[256];
    assert_true(cq_it_header(&r, "Location", location, sizeof(location)));
    char *path = cq_strdup(location + strlen("/coaching/api/v1"));
    cq_it_resp_free(&r);
    /* The two alignment items finish; the operations item waits (no worker of that kind). */
    json_int_t succeeded = 0;
    for (int i = 0; i < 100 && succeeded < 2; i++) {
        r = get(path, json_a);
        assert_int_equal(r.status, 200);
        succeeded = json_integer_value(cq_it_get(r.json, "counts.succeeded"));
        if (succeeded == 2) {
            assert_string_equal(str(r.json, "status"), "running");
            assert_int_equal(json_integer_value(cq_it_get(r.json, "counts.queued")), 1);
        }
        cq_it_resp_free(&r);
        if (succeeded < 2)
            usleep(200 * 1000);
    }
    assert_int_equal(succeeded, 2);
    char *results = cq_asprintf("%s/results", path);
    r = get(results, json_a);
    assert_int_equal(r.status, 200);
    int lines = 0;
    for (char *line = strtok(r.body, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        assert_true(cq_it_matches_schema(j, "BatchResultLine"));
        const char *custom = str(j, "customId");
        if (strcmp(custom, "c") == 0)
            assert_string_equal(str(j, "status"), "queued");
        else
            assert_true(json_integer_value(cq_it_get(j, "result.alignmentScore")) >= 0);
        json_decref(j);
        lines++;
    }
    assert_int_equal(lines, 3);
    cq_it_resp_free(&r);
    /* The same lines as one JSON array when Accept prefers application/json;
     * JSON Lines stay the answer when JSON Lines rank higher. */
    const char *const accept_json[] = {"X-Tenant-Id: tenant-a", "Accept: application/json", NULL};
    r = get(results, accept_json);
    assert_int_equal(r.status, 200);
    assert_non_null(strcasestr(r.headers, "Content-Type: application/json"));
    assert_true(json_is_array(r.json));
    assert_true(cq_it_matches_schema(r.json, "BatchResults"));
    assert_int_equal(json_array_size(r.json), 3);
    assert_string_equal(str(json_array_get(r.json, 0), "customId"), "a");
    assert_true(json_integer_value(cq_it_get(json_array_get(r.json, 0), "result.alignmentScore")) >=
                0);
    cq_it_resp_free(&r);
    const char *const accept_lines[] = {
        "X-Tenant-Id: tenant-a", "Accept: application/json;q=0.5, application/x-ndjson", NULL};
    r = get(results, accept_lines);
    assert_int_equal(r.status, 200);
    assert_non_null(strcasestr(r.headers, "Content-Type: application/x-ndjson"));
    assert_null(r.json);
    cq_it_resp_free(&r);
    /* Another tenant sees nothing. */
    const char *const b[] = {"X-Tenant-Id: tenant-b", NULL};
    r = get(path, b);
    assert_int_equal(r.status, 404);
    cq_it_resp_free(&r);
    free(results);
    free(path);
}

static void test_it_batch_as_json_lines(void **state)
{
    const char *const h[] = {"Content-Type: application/x-ndjson", "X-Tenant-Id: tenant-a", NULL};
    const char *lines =
        "{\"customId\": \"x1\", \"operation\": \"alignment-check\", \"body\": " BODY
        "}\n\n{\"customId\": \"x2\", \"operation\": \"alignment-check\", \"body\": " BODY "}\n";
    cq_it_resp_t r = post("/jobs/batch", h, lines);
    assert_int_equal(r.status, 202);
    assert_int_equal(json_integer_value(cq_it_get(r.json, "counts.total")), 2);
    char path[160];
    snprintf(path, sizeof(path), "/jobs/batch/%s", str(r.json, "batchId"));
    cq_it_resp_free(&r);
    const char *status = NULL;
    for (int i = 0; i < 100; i++) {
        r = get(path, json_a);
        status = str(r.json, "status");
        bool completed = strcmp(status, "completed") == 0;
        if (completed)
            assert_int_equal(json_integer_value(cq_it_get(r.json, "counts.succeeded")), 2);
        cq_it_resp_free(&r);
        if (completed)
            break;
        usleep(200 * 1000);
    }
    r = get(path, json_a);
    assert_string_equal(str(r.json, "status"), "completed");
    assert_non_null(cq_it_get(r.json, "finishedAt"));
    assert_true(cq_it_matches_schema(r.json, "BatchResource"));
    cq_it_resp_free(&r);
}

static void test_it_explanation_without_llm_answers_from_builtin(void **state)
{
    /* alignment-explanation used to need an LLM (501 NOT_IMPLEMENTED without
     * one); every operation of the alignment worker now has a built-in
     * engine, so without a provider it answers 200 from that engine. */
    const char *body = "{\"goal\": {\"intent\": \"Grow repeat business\", \"strategies\":"
                       " [{\"description\": \"Loyalty card\"}], \"kpis\": [{\"name\":"
                       " \"Repeat rate\"}]}, \"businessFoundation\": {\"vision\": \"v\","
                       " \"purpose\": \"p\", \"coreValues\": [\"Care\"]}}";
    cq_it_resp_t r = post("/coaching/alignment-explanation", json_a, body);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "AlignmentExplanationResult"));
    assert_non_null(strstr(str(r.json, "data.explanation"), "Grow repeat business"));
    cq_it_resp_free(&r);

    r = post("/coaching/alignment-explanation", async_a, body);
    assert_int_equal(r.status, 202);
    char location[256];
    assert_true(cq_it_header(&r, "Location", location, sizeof(location)));
    cq_it_resp_free(&r);
    const char *const poll[] = {"X-Tenant-Id: tenant-a", "Prefer: wait=20", NULL};
    char *u = cq_asprintf("http://127.0.0.1:%d%s", stack.port, location);
    r = cq_it_http("GET", u, poll, NULL, 0);
    free(u);
    assert_string_equal(str(r.json, "status"), "succeeded");
    assert_string_equal(str(r.json, "engine.name"), "builtin");
    cq_it_resp_free(&r);
}

static void test_it_health_answers_match_the_contract(void **state)
{
    cq_it_resp_t r = get("/health", NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(r.json, "HealthStatus"));
    cq_it_resp_free(&r);
    r = get("/health/ready", NULL);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(r.json, "HealthStatus"));
    assert_string_equal(str(r.json, "checks.kafka.status"), "up");
    assert_string_equal(str(r.json, "checks.redis.status"), "up");
    cq_it_resp_free(&r);
    r = get("/openapi.json", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "openapi"), "3.1.0");
    cq_it_resp_free(&r);
}

static void test_it_result_record_on_kafka(void **state)
{
    cq_it_resp_t r = post("/coaching/alignment-check", json_a, BODY);
    assert_int_equal(r.status, 200);
    char job_id[64];
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);
    char topic[128];
    snprintf(topic, sizeof(topic), "%s.results", stack.prefix);
    const char *ids[] = {job_id};
    /* Saved for the contract check that decodes it with Apache Avro's tools. */
    const char *dump = getenv("COACHQ_IT_RESULT_DUMP");
    assert_int_equal(cq_it_consume_ids(&stack, topic, ids, 1, 30000, dump), 1);
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_sync_answers_200_with_result),
        cmocka_unit_test(test_it_async_then_poll_reaches_same_result),
        cmocka_unit_test(test_it_long_poll_wakes_when_job_finishes),
        cmocka_unit_test(test_it_error_classes),
        cmocka_unit_test(test_it_other_tenant_sees_404),
        cmocka_unit_test(test_it_cancel_queued_job),
        cmocka_unit_test(test_it_idempotency_key),
        cmocka_unit_test(test_it_business_data_idempotency_answers),
        cmocka_unit_test(test_it_kind_without_consumer_still_202),
        cmocka_unit_test(test_it_batch_runs_every_item),
        cmocka_unit_test(test_it_batch_as_json_lines),
        cmocka_unit_test(test_it_explanation_without_llm_answers_from_builtin),
        cmocka_unit_test(test_it_health_answers_match_the_contract),
        cmocka_unit_test(test_it_result_record_on_kafka),
    };
    return cmocka_run_group_tests_name("integration.jobs", tests, setup, teardown);
}
