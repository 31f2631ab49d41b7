/*
 * Integration: the operations worker's text engines end to end — gateway,
 * real Kafka and Redis, coachq-operations-worker — for strategic-alignment,
 * root-cause-suggestions, action-suggestions and the deprecated
 * operations-analysis: built-in answers that fit the contract and name the
 * request's own terms, requests as the real product sends them (free-text
 * status), the deprecated endpoint's Deprecation/Sunset/Link headers as the
 * contract gives them, and the LLM path through the fake LLM (a success
 * with the operation's own prompt and schema, and an invalid first answer
 * repaired by the second).
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

#include "cq_config.h"
#include "cq_contract.h"
#include "cq_embedded.h"
#include "cq_it.h"

static cq_it_stack_t stack;
static cq_it_proc_t fake;
static int fake_port;
static cq_config_t *conf;
static cq_contract_t *contract;

static const char *const json_h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-o",
                                     "Prefer: wait=40", NULL};

#define ALIGN_BODY                                                                                 \
    "{\"actions\": [{\"id\": \"a1\", \"title\": \"Launch a sourdough subscription\","              \
    " \"description\": \"Weekly bread box delivered to families\", \"priority\": \"high\","        \
    " \"status\": \"open\"}, {\"id\": \"a2\", \"title\": \"Repaint the storage room\","            \
    " \"description\": \"Fresh paint in the back room\", \"priority\": \"critical\","              \
    " \"status\": \"In Progress\"}],"                                                              \
    " \"goals\": [{\"id\": \"g1\", \"intent\": \"Grow recurring bread sales to local families\","  \
    " \"strategies\": [\"Subscriptions and home delivery of fresh bread\"]},"                      \
    " {\"id\": \"g2\", \"intent\": \"Cut energy costs of the ovens\", \"strategies\": []}],"       \
    " \"businessFoundation\": {\"vision\": \"The neighborhood's favourite bakery\","               \
    " \"purpose\": \"Bring people together over handmade food\", \"coreValues\": [\"Quality\"]}}"

#define ROOT_BODY                                                                                  \
    "{\"issueTitle\": \"Late deliveries to restaurant customers\", \"issueDescription\":"          \
    " \"38 deliveries arrived late last month because the van breaks down. The van breaks down"    \
    " because maintenance was skipped; 12 orders were missing items.\", \"businessImpact\":"       \
    " \"Two restaurants threatened to cancel.\"}"

#define ACTIONS_BODY                                                                               \
    "{\"issue\": {\"title\": \"Stock-outs of flour on Fridays\", \"description\": \"The supplier"  \
    " delivers flour late every Friday and the morning bake stops.\", \"impact\": \"Lost sales"    \
    " every Friday morning.\"}, \"constraints\": {\"timeline\": \"2 weeks\", \"budget\": 3000,"    \
    " \"availableResources\": [\"Purchasing manager\", \"Head baker\"]}}"

#define ANALYSIS_BODY                                                                              \
    "{\"analysisType\": \"swot\", \"description\": \"Our bakers are experienced. The shop lacks"   \
    " an online ordering system. Office parks keep asking for catering. A supermarket chain is"    \
    " opening a cheaper bakery counter.\"}"

static const char *str(json_t *j, const char *path)
{
    const char *s = json_string_value(cq_it_get(j, path));
    return s ? s : "";
}

static bool contains(const json_t *v, const char *needle)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    bool found = text && strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* POSTs body to path and returns the response (caller frees). */
static cq_it_resp_t post(const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", stack.base, path);
    return cq_it_http("POST", url, json_h, body, strlen(body));
}

/* The job resource of a response's X-Job-Id (new reference). */
static json_t *job_of(const cq_it_resp_t *r)
{
    char id[64] = "", url[256];
    assert_true(cq_it_header(r, "X-Job-Id", id, sizeof(id)));
    snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, id);
    const char *const h[] = {"X-Tenant-Id: tenant-o", "Prefer: wait=40", NULL};
    cq_it_resp_t jr = cq_it_http("GET", url, h, NULL, 0);
    assert_int_equal(jr.status, 200);
    json_t *job = json_incref(jr.json);
    cq_it_resp_free(&jr);
    return job;
}

static void builtin_worker(void)
{
    cq_it_stop(&stack.worker, SIGTERM);
    assert_true(cq_it_start_worker(&stack, "operations", NULL));
}

static void llm_worker(void)
{
    cq_it_stop(&stack.worker, SIGTERM);
    assert_true(cq_it_fake_reset(fake_port));
    char base[128];
    snprintf(base, sizeof(base), "llm.base_url=http://127.0.0.1:%d/v1", fake_port);
    const char *opts[] = {"llm.provider=openai",  base,
                          "llm.api_key=test-key", "llm.model=test-model",
                          "llm.timeout=20s",      NULL};
    assert_true(cq_it_start_worker(&stack, "operations", opts));
}

/* ---- built-in ----------------------------------------------------------------- */

static void test_it_ops_text_strategic_alignment_builtin(void **state)
{
    builtin_worker();
    cq_it_resp_t r = post("/operations/strategic-alignment", ALIGN_BODY);
    assert_int_equal(r.status, 200); /* "open" and "In Progress" are accepted */
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "StrategicAlignmentResult"));
    assert_string_equal(str(data, "alignmentAnalysis.0.strategicConnections.0.goalId"), "g1");
    assert_true(contains(cq_it_get(data, "insights"), "Repaint the storage room"));
    assert_true(contains(cq_it_get(data, "insights"), "Cut energy costs of the ovens"));
    json_t *job = job_of(&r);
    assert_string_equal(str(job, "engine.name"), "builtin");
    json_decref(job);
    cq_it_resp_free(&r);
}

static void test_it_ops_text_root_cause_builtin(void **state)
{
    builtin_worker();
    cq_it_resp_t r = post("/operations/root-cause-suggestions", ROOT_BODY);
    assert_int_equal(r.status, 200);
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "RootCauseSuggestionsResult"));
    assert_true(contains(data, "\"five_whys\""));
    assert_true(contains(data, "\"pareto\"")); /* 38 and 12 are counts */
    assert_true(contains(data, "maintenance was skipped"));
    cq_it_resp_free(&r);
}

static void test_it_ops_text_action_suggestions_builtin(void **state)
{
    builtin_worker();
    cq_it_resp_t r = post("/operations/action-suggestions", ACTIONS_BODY);
    assert_int_equal(r.status, 200);
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "ActionSuggestionsResult"));
    assert_int_equal(json_array_size(data), 4);
    assert_true(contains(data, "Stock-outs of flour on Fridays"));
    assert_true(contains(data, "Purchasing manager"));
    cq_it_resp_free(&r);
}

static void test_it_ops_text_operations_analysis_builtin_and_headers(void **state)
{
    builtin_worker();
    const cq_operation_t *op = cq_contract_find(contract, "operations-analysis");
    assert_non_null(op);
    assert_true(op->deprecated);
    cq_it_resp_t r = post("/analysis/operations", ANALYSIS_BODY);
    assert_int_equal(r.status, 200);
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "OperationsAnalysisResult"));
    assert_string_equal(str(data, "analysisType"), "swot");
    assert_true(contains(cq_it_get(data, "findings.threats"), "supermarket chain"));
    /* The deprecation headers are the contract's. */
    char dep[128] = "", sunset[128] = "", link[512] = "";
    assert_true(cq_it_header(&r, "Deprecation", dep, sizeof(dep)));
    assert_true(cq_it_header(&r, "Sunset", sunset, sizeof(sunset)));
    assert_true(cq_it_header(&r, "Link", link, sizeof(link)));
    assert_string_equal(dep, op->deprecation);
    assert_string_equal(sunset, op->sunset);
    assert_non_null(strstr(link, "/operations/root-cause-suggestions>; rel=\"successor-version\""));
    assert_non_null(strstr(link, "/operations/action-suggestions>; rel=\"successor-version\""));
    cq_it_resp_free(&r);

    /* root_cause delegates to the successor engine and wraps its result. */
    const char *root = "{\"analysisType\": \"root_cause\", \"description\": \"Complaints doubled"
                       " because tickets wait three days for an answer.\"}";
    r = post("/analysis/operations", root);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "OperationsAnalysisResult"));
    assert_string_equal(str(r.json, "data.findings.rootCauses.0.method"), "five_whys");
    assert_true(contains(cq_it_get(r.json, "data"), "tickets wait three days"));
    assert_true(cq_it_header(&r, "Deprecation", dep, sizeof(dep)));
    cq_it_resp_free(&r);
}

/* ---- LLM ------------------------------------------------------------------------ */

static void test_it_ops_text_llm_success(void **state)
{
    llm_worker();
    cq_it_resp_t r = post("/operations/strategic-alignment", ALIGN_BODY);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "StrategicAlignmentResult"));
    json_t *job = job_of(&r);
    assert_string_equal(str(job, "engine.name"), "llm");
    assert_int_equal(json_integer_value(cq_it_get(job, "engine.attempts")), 1);
    json_decref(job);
    cq_it_resp_free(&r);
    json_t *calls = cq_it_fake_requests(fake_port);
    assert_int_equal(json_array_size(calls), 1);
    /* The operation's own prompt and result schema, the request as data. */
    assert_string_equal(str(calls, "0.body.response_format.json_schema.name"),
                        "strategic-alignment");
    assert_non_null(strstr(str(calls, "0.body.messages.0.content"), "operations coach"));
    assert_non_null(strstr(str(calls, "0.body.messages.1.content"), "<user_data>"));
    assert_non_null(strstr(str(calls, "0.body.messages.1.content"), "sourdough subscription"));
    json_decref(calls);
}

/* Other operations of this file go to the model with their own prompt and
 * result schema too, and a schema-valid answer comes back. (Not
 * action-suggestions: strict structured output cannot carry its minItems 3,
 * and the fake's generic answer has one item, so it fails as it should.) */
static void test_it_ops_text_llm_answers_each_operation(void **state)
{
    static const struct {
        const char *path, *body, *operation, *schema;
    } cases[] = {
        {"/operations/root-cause-suggestions", ROOT_BODY, "root-cause-suggestions",
         "RootCauseSuggestionsResult"},
        {"/analysis/operations", ANALYSIS_BODY, "operations-analysis", "OperationsAnalysisResult"},
    };
    llm_worker();
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        assert_true(cq_it_fake_reset(fake_port));
        cq_it_resp_t r = post(cases[i].path, cases[i].body);
        if (r.status != 200)
            fail_msg("%s answered %ld: %s", cases[i].operation, r.status, r.body);
        assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), cases[i].schema));
        json_t *job = job_of(&r);
        assert_string_equal(str(job, "engine.name"), "llm");
        json_decref(job);
        cq_it_resp_free(&r);
        json_t *calls = cq_it_fake_requests(fake_port);
        assert_true(json_array_size(calls) >= 1);
        assert_string_equal(str(calls, "0.body.response_format.json_schema.name"),
                            cases[i].operation);
        assert_non_null(strstr(str(calls, "0.body.messages.1.content"), "<user_data>"));
        json_decref(calls);
    }
}

static void test_it_ops_text_llm_invalid_then_repaired(void **state)
{
    llm_worker();
    assert_true(cq_it_fake_script(fake_port, "{\"steps\": [{\"kind\": \"invalid\"}]}"));
    cq_it_resp_t r = post("/operations/strategic-alignment", ALIGN_BODY);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "StrategicAlignmentResult"));
    json_t *job = job_of(&r);
    assert_string_equal(str(job, "status"), "succeeded");
    assert_string_equal(str(job, "engine.name"), "llm");
    assert_int_equal(json_integer_value(cq_it_get(job, "engine.attempts")), 2);
    json_decref(job);
    cq_it_resp_free(&r);
    /* The second call carried the invalid answer and what was wrong with it. */
    json_t *calls = cq_it_fake_requests(fake_port);
    assert_int_equal(json_array_size(calls), 2);
    assert_string_equal(str(calls, "0.kind"), "invalid");
    assert_true(json_array_size(cq_it_get(calls, "1.body.messages")) >
                json_array_size(cq_it_get(calls, "0.body.messages")));
    json_decref(calls);
}

static int setup(void **state)
{
    char err[256];
    conf = cq_config_new();
    contract = cq_contract_new(conf, err, sizeof(err));
    if (!contract)
        return -1;
    cq_it_stack_init(&stack, "opstext");
    if (!cq_it_start_fake("fake_llm.py", &fake, &fake_port))
        return -1;
    return cq_it_start_gateway(&stack, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    cq_it_stop(&fake, SIGTERM);
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_ops_text_strategic_alignment_builtin),
        cmocka_unit_test(test_it_ops_text_root_cause_builtin),
        cmocka_unit_test(test_it_ops_text_action_suggestions_builtin),
        cmocka_unit_test(test_it_ops_text_operations_analysis_builtin_and_headers),
        cmocka_unit_test(test_it_ops_text_llm_success),
        cmocka_unit_test(test_it_ops_text_llm_answers_each_operation),
        cmocka_unit_test(test_it_ops_text_llm_invalid_then_repaired),
    };
    return cmocka_run_group_tests_name("integration.ops_text", tests, setup, teardown);
}
