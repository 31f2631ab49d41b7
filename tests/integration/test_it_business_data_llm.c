/*
 * Integration: the LLM path of insights-generate against the fake Account
 * and Traction services (tests/fake/fake_upstream.py) and the fake LLM
 * provider (tests/fake/fake_llm.py, OpenAI shape): the model reads the
 * tenant's business data and context, its insights (with the service's ids)
 * are what the job answers, what is stored and what GET /insights lists; a
 * model that keeps answering off the schema fails the job as every kind's
 * LLM path does (INVALID_AI_RESPONSE) and stores nothing; with the
 * provider's circuit open and llm.fallback_builtin, the built-in rules'
 * insights are answered and stored instead.
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
static cq_it_proc_t upstream, llm;
static int upstream_port, llm_port;

static const char *str(json_t *root, const char *path)
{
    const char *s = json_string_value(cq_it_get(root, path));
    return s ? s : "";
}

/* (Re)starts the business-data worker against both fakes, with more options. */
static void worker(const char *const *more)
{
    cq_it_stop(&stack.worker, SIGTERM);
    char account[128], traction[128], base[128];
    snprintf(account, sizeof(account), "upstream.account.url=http://127.0.0.1:%d", upstream_port);
    snprintf(traction, sizeof(traction), "upstream.traction.url=http://127.0.0.1:%d",
             upstream_port);
    snprintf(base, sizeof(base), "llm.base_url=http://127.0.0.1:%d/v1", llm_port);
    const char *opts[24] = {account,
                            traction,
                            base,
                            "llm.provider=openai",
                            "llm.api_key=test-key",
                            "llm.model=test-model",
                            "llm.timeout=20s",
                            "upstream.timeout=2s",
                            "jobs.max_attempts=1",
                            "business_data.cache_ttl=2s"};
    size_t n = 10;
    for (; more && *more && n < 22; more++)
        opts[n++] = *more;
    opts[n] = NULL;
    assert_true(cq_it_start_worker(&stack, "business-data", opts));
}

static cq_it_resp_t insights_req(const char *method, const char *tenant, const char *path_query)
{
    char url[512], tenant_h[128];
    snprintf(url, sizeof(url), "%s%s", stack.base, path_query);
    snprintf(tenant_h, sizeof(tenant_h), "X-Tenant-Id: %s", tenant);
    const char *headers[] = {tenant_h, "Authorization: Bearer it-token", "Prefer: wait=40", NULL};
    return cq_it_http(method, url, headers, NULL, 0);
}

static void fresh_tenant(char *out, size_t size, const char *what)
{
    static int n;
    snprintf(out, size, "%s-%s-%d", stack.prefix, what, ++n);
    for (char *p = out; *p; p++)
        if (*p == ':' || *p == '.' || *p == '_')
            *p = '-';
}

/* Revenue halved: the built-in rules would find it (critical, finance). */
static void script_upstream(void)
{
    assert_true(cq_it_fake_reset(upstream_port));
    assert_true(cq_it_fake_script(upstream_port,
                                  "{\"route\": \"account.revenue\", \"then\": {\"kind\": "
                                  "\"content\", \"value\": {\"current\": 43210, "
                                  "\"previous\": 86420}}}"));
}

#define MODEL_ITEM(title, category, priority)                                                      \
    "{\"id\": \"x\", \"title\": \"" title "\", \"description\": \"Revenue fell from 86420 to "     \
    "43210.\", \"category\": \"" category "\", \"priority\": \"" priority "\", \"status\": "       \
    "\"active\", \"suggestedActions\": [{\"title\": \"Call lapsed customers\", \"description\": "  \
    "\"Phone the twenty largest this week.\", \"effort\": \"low\", \"impact\": \"high\"}], "       \
    "\"createdAt\": \"2000-01-01T00:00:00Z\"}"

static void test_it_bd_llm_model_insights_are_answered_stored_and_listed(void **state)
{
    worker(NULL);
    char t[96];
    fresh_tenant(t, sizeof(t), "llm");
    script_upstream();
    assert_true(cq_it_fake_reset(llm_port));
    assert_true(cq_it_fake_script(
        llm_port,
        "{\"steps\": [{\"kind\": \"content\", \"value\": {\"items\": [" MODEL_ITEM(
            "Model: win back lapsed customers", "marketing",
            "high") ", " MODEL_ITEM("Model: revenue halved", "finance",
                                    "critical") "], "
                                                "\"pagination\": {\"page\": 1, \"pageSize\": 20, "
                                                "\"total\": 2, \"totalPages\": 1}}}]}"));
    cq_it_resp_t r = insights_req("POST", t, "/insights/generate");
    if (r.status != 200)
        fail_msg("POST: %ld %s", r.status, r.body ? r.body : "");
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "InsightsGenerateResult"));
    assert_int_equal(json_array_size(cq_it_get(data, "items")), 2);
    /* Highest priority first; the service's ids and dates, not the model's. */
    assert_string_equal(str(data, "items.0.title"), "Model: revenue halved");
    assert_string_equal(str(data, "items.1.title"), "Model: win back lapsed customers");
    assert_true(strncmp(str(data, "items.0.id"), "ins-", 4) == 0);
    assert_string_not_equal(str(data, "items.0.createdAt"), "2000-01-01T00:00:00Z");
    char job_id[64], url[256];
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);
    snprintf(url, sizeof(url), "/jobs/%s", job_id);
    r = insights_req("GET", t, url);
    assert_string_equal(str(r.json, "engine.name"), "llm");
    cq_it_resp_free(&r);

    /* The model read the tenant's figures and the context. */
    json_t *calls = cq_it_fake_requests(llm_port);
    assert_int_equal(json_array_size(calls), 1);
    char *prompt = json_dumps(cq_it_get(calls, "0.body.messages"), 0);
    assert_non_null(strstr(prompt, "43210"));
    assert_non_null(strstr(prompt, "our customers recommend first")); /* the foundation */
    assert_non_null(strstr(prompt, "headCount"));                     /* people */
    assert_non_null(strstr(prompt, "onTrack"));                       /* measures */
    free(prompt);
    json_decref(calls);

    /* Stored per tenant: the list is the model's two, not the rules'. */
    r = insights_req("GET", t, "/insights");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(cq_it_get(r.json, "data.pagination.total")), 2);
    assert_string_equal(str(r.json, "data.items.0.title"), "Model: revenue halved");
    assert_string_equal(str(r.json, "data.items.1.title"), "Model: win back lapsed customers");
    cq_it_resp_free(&r);
    char other[96];
    fresh_tenant(other, sizeof(other), "llm-other");
    r = insights_req("GET", other, "/insights");
    assert_int_equal(json_integer_value(cq_it_get(r.json, "data.pagination.total")), 0);
    cq_it_resp_free(&r);
}

static void test_it_bd_llm_reply_off_the_schema_fails_and_stores_nothing(void **state)
{
    worker(NULL);
    char t[96];
    fresh_tenant(t, sizeof(t), "llm-bad");
    script_upstream();
    assert_true(cq_it_fake_reset(llm_port));
    assert_true(cq_it_fake_script(
        llm_port,
        "{\"steps\": [], \"then\": {\"kind\": \"malformed\", \"variant\": \"content\"}}"));
    cq_it_resp_t r = insights_req("POST", t, "/insights/generate");
    assert_int_equal(r.status, 502);
    assert_string_equal(str(r.json, "code"), "INVALID_AI_RESPONSE");
    cq_it_resp_free(&r);
    json_t *calls = cq_it_fake_requests(llm_port);
    assert_true(json_array_size(calls) >= 2); /* a repair was asked for */
    json_decref(calls);
    r = insights_req("GET", t, "/insights");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(cq_it_get(r.json, "data.pagination.total")), 0);
    cq_it_resp_free(&r);

    /* A reply that parses but breaks the schema: the same. */
    assert_true(cq_it_fake_script(llm_port, "{\"steps\": [], \"then\": {\"kind\": \"invalid\"}}"));
    r = insights_req("POST", t, "/insights/generate");
    assert_int_equal(r.status, 502);
    assert_string_equal(str(r.json, "code"), "INVALID_AI_RESPONSE");
    cq_it_resp_free(&r);
    r = insights_req("GET", t, "/insights");
    assert_int_equal(json_integer_value(cq_it_get(r.json, "data.pagination.total")), 0);
    cq_it_resp_free(&r);
}

static void test_it_bd_llm_open_circuit_falls_back_to_stored_rules(void **state)
{
    const char *more[] = {"llm.breaker_failures=1", "llm.max_attempts=1",
                          "llm.breaker_cooldown=60s", "llm.fallback_builtin=true", NULL};
    worker(more);
    char t[96];
    fresh_tenant(t, sizeof(t), "llm-down");
    script_upstream();
    assert_true(cq_it_fake_reset(llm_port));
    assert_true(cq_it_fake_script(
        llm_port, "{\"steps\": [], \"then\": {\"kind\": \"status\", \"code\": 503}}"));
    /* The first job's failure opens the circuit; later ones get the rules. */
    cq_it_resp_t r = insights_req("POST", t, "/insights/generate");
    cq_it_resp_free(&r);
    r = insights_req("POST", t, "/insights/generate?pageSize=100");
    if (r.status != 200)
        fail_msg("POST with the circuit open: %ld %s", r.status, r.body ? r.body : "");
    json_t *items = cq_it_get(r.json, "data.items");
    assert_true(json_array_size(items) >= 1);
    bool revenue = false;
    for (size_t i = 0; i < json_array_size(items); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(items, i), "category")),
                   "finance") == 0)
            revenue = true;
    assert_true(revenue);
    long answered = (long)json_array_size(items);
    char job_id[64], url[256];
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);
    snprintf(url, sizeof(url), "/jobs/%s", job_id);
    r = insights_req("GET", t, url);
    assert_true(json_is_true(cq_it_get(r.json, "engine.fallback")));
    cq_it_resp_free(&r);
    r = insights_req("GET", t, "/insights?pageSize=100");
    assert_int_equal(json_integer_value(cq_it_get(r.json, "data.pagination.total")), answered);
    cq_it_resp_free(&r);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "bizllm");
    if (!cq_it_start_fake("fake_upstream.py", &upstream, &upstream_port) ||
        !cq_it_start_fake("fake_llm.py", &llm, &llm_port))
        return -1;
    const char *gateway[] = {"business_data.cache_ttl=2s", NULL};
    return cq_it_start_gateway(&stack, gateway) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    cq_it_stop(&upstream, SIGTERM);
    cq_it_stop(&llm, SIGTERM);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_bd_llm_model_insights_are_answered_stored_and_listed),
        cmocka_unit_test(test_it_bd_llm_reply_off_the_schema_fails_and_stores_nothing),
        cmocka_unit_test(test_it_bd_llm_open_circuit_falls_back_to_stored_rules),
    };
    return cmocka_run_group_tests_name("integration.business_data_llm", tests, setup, teardown);
}
