/*
 * Integration: the alignment worker calling an LLM — our fake LLM server
 * (tests/fake/fake_llm.py) in OpenAI, Anthropic and Bedrock shapes — with
 * the real Kafka broker and Redis. One test per behaviour of the LLM layer:
 * success per provider, 429 with Retry-After honoured, 5xx retried, a hang
 * cut by the timeout and retried, a malformed answer repaired, an answer
 * that stays invalid failing the job onto the dead-letter topic, the circuit
 * breaker with fallback to the builtin engine, the Bedrock request's
 * SigV4 signature recomputed independently, a llama-cpp-python-like server
 * that refuses json_schema (fallback to json_object, remembered), and
 * provider error text kept out of what clients see.
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

#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static cq_it_stack_t stack;
static cq_it_proc_t fake;
static int fake_port;
static int metrics_port;

#define BODY                                                                                       \
    "{\"goalIntent\": \"Grow recurring revenue from maintenance plans\","                          \
    " \"strategies\": [\"Sell plans at handover\"], \"kpis\": [\"Plan attach rate\"],"             \
    " \"businessFoundation\": {\"vision\": \"Clean energy in every home\","                        \
    " \"purpose\": \"Make solar simple\", \"coreValues\": [\"Integrity\"]}}"

static const char *const json_h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-l",
                                     "Prefer: wait=40", NULL};

/* Starts the worker against the fake with a provider and extra options. */
static void worker(const char *provider, const char *const *more)
{
    cq_it_stop(&stack.worker, SIGTERM);
    assert_true(cq_it_fake_reset(fake_port));
    char base[128], prov[64];
    const char *path = strcmp(provider, "openai") == 0 ? "/v1" : "";
    snprintf(base, sizeof(base), "llm.base_url=http://127.0.0.1:%d%s", fake_port, path);
    snprintf(prov, sizeof(prov), "llm.provider=%s", provider);
    char metrics[64];
    metrics_port = cq_it_free_port();
    snprintf(metrics, sizeof(metrics), "worker.metrics_listen=127.0.0.1:%d", metrics_port);
    const char *opts[24] = {prov,
                            base,
                            "llm.api_key=test-key",
                            "llm.model=test-model",
                            "llm.retry_after_max=5s",
                            "llm.timeout=20s",
                            metrics};
    size_t n = 7;
    for (; more && *more && n < 22; more++)
        opts[n++] = *more;
    opts[n] = NULL;
    assert_true(cq_it_start_worker(&stack, "alignment", opts));
}

/* Submits the standard request and returns the job resource after it ends. */
static json_t *run_job(long *post_status)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", stack.base);
    cq_it_resp_t r = cq_it_http("POST", url, json_h, BODY, strlen(BODY));
    *post_status = r.status;
    char job_id[64] = "";
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);
    snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, job_id);
    const char *const poll[] = {"X-Tenant-Id: tenant-l", "Prefer: wait=40", NULL};
    r = cq_it_http("GET", url, poll, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *job = json_incref(r.json);
    cq_it_resp_free(&r);
    return job;
}

static const char *str(json_t *j, const char *path)
{
    const char *s = json_string_value(cq_it_get(j, path));
    return s ? s : "";
}

static json_int_t num(json_t *j, const char *path)
{
    return json_integer_value(cq_it_get(j, path));
}

static void test_it_llm_openai_success(void **state)
{
    worker("openai", NULL);
    long status;
    json_t *job = run_job(&status);
    assert_int_equal(status, 200);
    assert_string_equal(str(job, "status"), "succeeded");
    assert_string_equal(str(job, "engine.name"), "llm");
    assert_string_equal(str(job, "engine.provider"), "openai");
    assert_string_equal(str(job, "engine.model"), "test-model");
    assert_true(num(job, "engine.promptTokens") > 0);
    assert_int_equal(num(job, "engine.attempts"), 1);
    json_decref(job);
    json_t *calls = cq_it_fake_requests(fake_port);
    json_t *last = json_array_get(calls, json_array_size(calls) - 1);
    assert_string_equal(str(last, "route"), "openai");
    assert_string_equal(str(last, "body.response_format.type"), "json_schema");
    assert_true(json_is_true(cq_it_get(last, "body.response_format.json_schema.strict")));
    assert_string_equal(str(last, "headers.authorization"), "Bearer test-key");
    json_decref(calls);
    /* The worker counts what the call cost. */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", metrics_port);
    cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "coachq_worker_llm_calls_total{kind=\"alignment\"} 1\n"));
    assert_non_null(strstr(r.body, "coachq_worker_jobs_succeeded_total{kind=\"alignment\"} 1\n"));
    assert_null(strstr(r.body, "coachq_worker_llm_prompt_tokens_total{kind=\"alignment\"} 0\n"));
    cq_it_resp_free(&r);
}

static void test_it_llm_answers_llm_only_operations(void **state)
{
    /* Operations with prompts but no built-in engine are answered by the LLM. */
    worker("openai", NULL);
    char url[256];
    snprintf(url, sizeof(url), "%s/coaching/alignment-explanation", stack.base);
    const char *body = "{\"goal\": {\"intent\": \"Grow repeat business\", \"strategies\":"
                       " [{\"description\": \"Loyalty card\"}], \"kpis\": [{\"name\":"
                       " \"Repeat rate\"}]}, \"businessFoundation\": {\"vision\": \"v\","
                       " \"purpose\": \"p\", \"coreValues\": [\"Care\"]}}";
    cq_it_resp_t r = cq_it_http("POST", url, json_h, body, strlen(body));
    assert_int_equal(r.status, 200);
    assert_true(strlen(str(r.json, "data.explanation")) > 0);
    assert_true(json_is_array(cq_it_get(r.json, "data.keyFactors")));
    cq_it_resp_free(&r);
    json_t *calls = cq_it_fake_requests(fake_port);
    json_t *last = json_array_get(calls, json_array_size(calls) - 1);
    /* The request carried that operation's prompt and result schema. */
    assert_string_equal(str(last, "body.response_format.json_schema.name"),
                        "alignment-explanation");
    assert_non_null(strstr(str(last, "body.messages.0.content"), "You explain"));
    json_decref(calls);
}

static void test_it_llm_anthropic_success(void **state)
{
    worker("anthropic", NULL);
    long status;
    json_t *job = run_job(&status);
    assert_int_equal(status, 200);
    assert_string_equal(str(job, "engine.provider"), "anthropic");
    assert_true(num(job, "result.alignmentScore") >= 0);
    json_decref(job);
    json_t *calls = cq_it_fake_requests(fake_port);
    json_t *last = json_array_get(calls, json_array_size(calls) - 1);
    assert_string_equal(str(last, "route"), "anthropic");
    assert_string_equal(str(last, "headers.x-api-key"), "test-key");
    assert_string_equal(str(last, "body.tool_choice.type"), "tool");
    assert_non_null(cq_it_get(last, "body.tools.0.input_schema"));
    json_decref(calls);
}

static void test_it_llm_429_retry_after_honoured(void **state)
{
    worker("openai", NULL);
    assert_true(cq_it_fake_script(
        fake_port, "{\"steps\": [{\"kind\": \"status\", \"code\": 429, \"retry_after\": 2}]}"));
    long status;
    json_t *job = run_job(&status);
    assert_string_equal(str(job, "status"), "succeeded");
    assert_int_equal(num(job, "engine.attempts"), 2);
    json_decref(job);
    json_t *calls = cq_it_fake_requests(fake_port);
    assert_int_equal(json_array_size(calls), 2);
    double t0 = json_number_value(cq_it_get(calls, "0.received_at"));
    double t1 = json_number_value(cq_it_get(calls, "1.received_at"));
    assert_true(t1 - t0 >= 1.9); /* waited the 2 s the server asked for */
    json_decref(calls);
}

static void test_it_llm_5xx_retried_then_success(void **state)
{
    worker("openai", NULL);
    assert_true(cq_it_fake_script(fake_port, "{\"steps\": [{\"kind\": \"status\", \"code\": 500},"
                                             " {\"kind\": \"status\", \"code\": 503}]}"));
    long status;
    json_t *job = run_job(&status);
    assert_string_equal(str(job, "status"), "succeeded");
    assert_int_equal(num(job, "engine.attempts"), 3);
    json_decref(job);
}

static void test_it_llm_hang_times_out_and_retries(void **state)
{
    const char *more[] = {"llm.timeout=1500ms", NULL};
    worker("openai", more);
    assert_true(cq_it_fake_script(fake_port, "{\"steps\": [{\"kind\": \"hang\"}]}"));
    long status;
    json_t *job = run_job(&status);
    assert_string_equal(str(job, "status"), "succeeded");
    assert_int_equal(num(job, "engine.attempts"), 2);
    assert_true(num(job, "engine.latencyMs") >= 1400);
    json_decref(job);
}

static void test_it_llm_malformed_then_repaired(void **state)
{
    worker("openai", NULL);
    assert_true(cq_it_fake_script(
        fake_port, "{\"steps\": [{\"kind\": \"malformed\", \"variant\": \"content\"}]}"));
    long status;
    json_t *job = run_job(&status);
    assert_string_equal(str(job, "status"), "succeeded");
    assert_int_equal(num(job, "engine.attempts"), 2);
    json_decref(job);
    /* The second call carried the model's broken answer and what was wrong. */
    json_t *calls = cq_it_fake_requests(fake_port);
    assert_int_equal(json_array_size(calls), 2);
    json_t *first = cq_it_get(calls, "0.body.messages");
    json_t *second = cq_it_get(calls, "1.body.messages");
    assert_true(json_array_size(second) > json_array_size(first));
    json_decref(calls);
}

static void test_it_llm_always_invalid_fails_to_dlq(void **state)
{
    worker("openai", NULL);
    assert_true(cq_it_fake_script(fake_port, "{\"steps\": [], \"then\": {\"kind\": \"invalid\"}}"));
    long status;
    json_t *job = run_job(&status);
    assert_int_equal(status, 502);
    assert_string_equal(str(job, "status"), "failed");
    assert_string_equal(str(job, "error.code"), "INVALID_AI_RESPONSE");
    char topic[128];
    snprintf(topic, sizeof(topic), "%s.dlq", stack.prefix);
    const char *ids[] = {str(job, "jobId")};
    assert_int_equal(cq_it_consume_ids(&stack, topic, ids, 1, 30000, NULL), 1);
    json_decref(job);
}

static void test_it_llm_breaker_opens_and_falls_back(void **state)
{
    const char *more[] = {"llm.breaker_failures=2", "llm.max_attempts=1",
                          "llm.breaker_cooldown=60s", "llm.fallback_builtin=true", NULL};
    worker("openai", more);
    assert_true(cq_it_fake_script(fake_port, "{\"steps\": [], \"then\": {\"kind\": \"status\","
                                             " \"code\": 500}}"));
    long status;
    for (int i = 0; i < 2; i++) {
        json_t *job = run_job(&status);
        assert_string_equal(str(job, "status"), "failed");
        assert_string_equal(str(job, "error.code"), "AI_SERVICE_UNAVAILABLE");
        json_decref(job);
    }
    /* The circuit is open now: no call is made and the builtin engine answers. */
    json_t *job = run_job(&status);
    assert_int_equal(status, 200);
    assert_string_equal(str(job, "status"), "succeeded");
    assert_string_equal(str(job, "engine.name"), "builtin");
    assert_true(json_is_true(cq_it_get(job, "engine.fallback")));
    json_decref(job);
    json_t *calls = cq_it_fake_requests(fake_port);
    assert_int_equal(json_array_size(calls), 2);
    json_decref(calls);
    /* The gateway's readiness reports the open circuit, still serving. */
    char url[256];
    snprintf(url, sizeof(url), "%s/health/ready", stack.base);
    cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "degraded");
    assert_string_equal(str(r.json, "checks.llm.circuit"), "open");
    assert_string_equal(str(r.json, "checks.llm.status"), "degraded");
    assert_true(cq_it_matches_schema(r.json, "HealthStatus"));
    cq_it_resp_free(&r);
}

static void test_it_llm_sigterm_drains_calls_in_flight(void **state)
{
    worker("openai", NULL);
    assert_true(
        cq_it_fake_script(fake_port, "{\"steps\": [{\"kind\": \"ok\", \"latency_ms\": 3000}]}"));
    char url[256];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", stack.base);
    const char *const async_h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-l",
                                   "Prefer: respond-async", NULL};
    cq_it_resp_t r = cq_it_http("POST", url, async_h, BODY, strlen(BODY));
    assert_int_equal(r.status, 202);
    char path[160];
    snprintf(path, sizeof(path), "%s/jobs/%s", stack.base, str(r.json, "jobId"));
    cq_it_resp_free(&r);
    /* Wait until the call is at the fake, then stop the worker politely. */
    json_t *calls = NULL;
    for (int i = 0; i < 100 && json_array_size(calls) == 0; i++) {
        json_decref(calls);
        usleep(100 * 1000);
        calls = cq_it_fake_requests(fake_port);
    }
    assert_int_equal(json_array_size(calls), 1);
    json_decref(calls);
    cq_it_stop(&stack.worker, SIGTERM);
    /* The worker finished the call before exiting: the job is done, once. */
    const char *const h[] = {"X-Tenant-Id: tenant-l", NULL};
    r = cq_it_http("GET", path, h, NULL, 0);
    assert_string_equal(str(r.json, "status"), "succeeded");
    assert_int_equal(num(r.json, "engine.attempts"), 1);
    cq_it_resp_free(&r);
    calls = cq_it_fake_requests(fake_port);
    assert_int_equal(json_array_size(calls), 1);
    json_decref(calls);
}

static void test_it_llm_bedrock_sigv4_verifies(void **state)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET, 1);
    setenv("AWS_SESSION_TOKEN", "session-token-example", 1);
    const char *more[] = {"llm.model=anthropic.claude-3-5-sonnet-20240620-v1:0",
                          "llm.aws_region=eu-west-1", NULL};
    worker("bedrock", more);
    long status;
    json_t *job = run_job(&status);
    assert_int_equal(status, 200);
    assert_string_equal(str(job, "engine.provider"), "bedrock");
    json_decref(job);
    json_t *calls = cq_it_fake_requests(fake_port);
    json_t *last = json_array_get(calls, json_array_size(calls) - 1);
    assert_string_equal(str(last, "route"), "bedrock");
    assert_string_equal(str(last, "headers.x-amz-security-token"), "session-token-example");
    assert_non_null(strstr(str(last, "headers.authorization"), "Credential=AKIDEXAMPLE/"));
    assert_non_null(strstr(str(last, "headers.authorization"), "/eu-west-1/bedrock/aws4_request"));
    /* Recompute the signature with an independent implementation. */
    char path[] = "/tmp/cq_sigv4_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    json_dumpf(last, fp, 0);
    fclose(fp);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "python3 %s/tests/fake/sigv4_check.py '%s' < %s",
             getenv("COACHQ_SOURCE_DIR"), AWS_SECRET, path);
    int rc = system(cmd);
    unlink(path);
    assert_int_equal(rc, 0);
    json_decref(calls);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
}

/* The fake's llama route behaves like llama-cpp-python's server. */
static void llama_worker(const char *const *more)
{
    char base[128];
    snprintf(base, sizeof(base), "llm.base_url=http://127.0.0.1:%d/llama/v1", fake_port);
    const char *opts[8] = {base};
    size_t n = 1;
    for (; more && *more && n < 7; more++)
        opts[n++] = *more;
    opts[n] = NULL;
    worker("openai", opts);
}

/* Whether a length or item bound above the grammar shape's is in v. */
static bool has_big_bound(const json_t *v)
{
    static const char *const bounds[] = {"minLength", "maxLength", "minItems", "maxItems"};
    if (json_is_object(v)) {
        for (size_t i = 0; i < CQ_ARRAY_SIZE(bounds); i++)
            if (json_integer_value(json_object_get(v, bounds[i])) > (i < 2 ? 256 : 20))
                return true;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it))
            if (has_big_bound(json_object_iter_value(it)))
                return true;
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (has_big_bound(json_array_get(v, i)))
                return true;
    }
    return false;
}

/* A server that refuses json_schema with a 500 (llama-cpp-python): the job
 * succeeds through json_object with a grammar-friendly schema, and the
 * worker remembers, so the next job goes straight to json_object. */
static void test_it_llm_llama_server_falls_back_to_json_object(void **state)
{
    llama_worker(NULL);
    long status;
    json_t *job = run_job(&status);
    assert_int_equal(status, 200);
    assert_string_equal(str(job, "status"), "succeeded");
    assert_int_equal(num(job, "engine.attempts"), 2);
    json_decref(job);
    job = run_job(&status);
    assert_string_equal(str(job, "status"), "succeeded");
    assert_int_equal(num(job, "engine.attempts"), 1);
    json_decref(job);

    json_t *calls = cq_it_fake_requests(fake_port);
    assert_int_equal(json_array_size(calls), 3);
    assert_string_equal(str(calls, "0.route"), "llama");
    assert_string_equal(str(calls, "0.kind"), "rejected");
    assert_string_equal(str(calls, "0.body.response_format.type"), "json_schema");
    for (size_t i = 1; i < 3; i++) {
        json_t *c = json_array_get(calls, i);
        assert_string_equal(str(c, "kind"), "ok");
        assert_string_equal(str(c, "body.response_format.type"), "json_object");
        json_t *schema = cq_it_get(c, "body.response_format.schema");
        assert_string_equal(str(schema, "type"), "object");
        /* The contract's maxLength 2000 and the like are not sent (the
         * fake's grammar, like llama.cpp's, gives up above 1000). */
        assert_false(has_big_bound(schema));
    }
    json_decref(calls);
}

/* With the mode pinned to json_schema there is no fallback: the job fails,
 * and neither the problem detail nor the job's error repeats the server's
 * text (which names a file on the server). */
static void test_it_llm_provider_error_text_not_passed_on(void **state)
{
    const char *const more[] = {"llm.structured_output=json_schema", "llm.max_attempts=1", NULL};
    llama_worker(more);
    char url[256];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", stack.base);
    cq_it_resp_t r = cq_it_http("POST", url, json_h, BODY, strlen(BODY));
    assert_true(r.status >= 500);
    assert_non_null(strstr(r.body, "HTTP 500"));
    assert_null(strstr(r.body, "llama_cpp"));
    assert_null(strstr(r.body, "/opt/"));
    assert_null(strstr(r.body, "Traceback"));
    char job_id[64] = "";
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);
    snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, job_id);
    const char *const poll[] = {"X-Tenant-Id: tenant-l", NULL};
    r = cq_it_http("GET", url, poll, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "failed");
    assert_null(strstr(r.body, "llama_cpp"));
    assert_null(strstr(r.body, "/opt/"));
    cq_it_resp_free(&r);
    json_t *calls = cq_it_fake_requests(fake_port);
    for (size_t i = 0; i < json_array_size(calls); i++)
        assert_string_equal(str(json_array_get(calls, i), "body.response_format.type"),
                            "json_schema");
    json_decref(calls);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "llm");
    if (!cq_it_start_fake("fake_llm.py", &fake, &fake_port))
        return -1;
    return cq_it_start_gateway(&stack, NULL) ? 0 : -1;
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
        cmocka_unit_test(test_it_llm_openai_success),
        cmocka_unit_test(test_it_llm_answers_llm_only_operations),
        cmocka_unit_test(test_it_llm_anthropic_success),
        cmocka_unit_test(test_it_llm_429_retry_after_honoured),
        cmocka_unit_test(test_it_llm_5xx_retried_then_success),
        cmocka_unit_test(test_it_llm_hang_times_out_and_retries),
        cmocka_unit_test(test_it_llm_malformed_then_repaired),
        cmocka_unit_test(test_it_llm_always_invalid_fails_to_dlq),
        cmocka_unit_test(test_it_llm_breaker_opens_and_falls_back),
        cmocka_unit_test(test_it_llm_sigterm_drains_calls_in_flight),
        cmocka_unit_test(test_it_llm_bedrock_sigv4_verifies),
        cmocka_unit_test(test_it_llm_llama_server_falls_back_to_json_object),
        cmocka_unit_test(test_it_llm_provider_error_text_not_passed_on),
    };
    return cmocka_run_group_tests_name("integration.llm", tests, setup, teardown);
}
