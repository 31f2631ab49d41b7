/*
 * Integration: the operations worker's planning operations end to end —
 * gateway, Kafka, operations worker, Redis — with the built-in engines
 * (scheduling-suggestions and prioritization-suggestions answer 200 with
 * results computed from the request; a dependency cycle is a 422
 * DEPENDENCY_CYCLE naming the ids), and both through the fake LLM
 * (tests/fake/fake_llm.py, OpenAI and Anthropic shapes) with their own
 * prompts and result schemas.
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
#include <time.h>

#include "cq_embedded.h"
#include "cq_it.h"

static cq_it_stack_t stack;
static cq_it_proc_t fake;
static int fake_port;

static const char *const json_h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-o",
                                     "Prefer: wait=40", NULL};

/* build waits for design; launch waits for build and copy. */
#define SCHEDULE_BODY                                                                              \
    "{\"actions\": ["                                                                              \
    " {\"id\": \"launch\", \"title\": \"Launch onboarding\", \"estimatedDuration\": 4,"            \
    "  \"dependencies\": [\"build\", \"copy\"], \"priority\": \"critical\"},"                      \
    " {\"id\": \"design\", \"title\": \"Design the onboarding flow\", \"estimatedDuration\": 24,"  \
    "  \"dependencies\": [], \"assignedTo\": \"ana\", \"priority\": \"high\"},"                    \
    " {\"id\": \"build\", \"title\": \"Build the onboarding flow\", \"estimatedDuration\": 40,"    \
    "  \"dependencies\": [\"design\"], \"assignedTo\": \"ben\", \"priority\": \"high\"},"          \
    " {\"id\": \"copy\", \"title\": \"Write help texts\", \"estimatedDuration\": 12,"              \
    "  \"dependencies\": [\"design\"], \"assignedTo\": \"ana\", \"priority\": \"medium\"}],"       \
    " \"constraints\": {\"teamCapacity\": 60, \"criticalDeadlines\": [],"                          \
    "  \"teamAvailability\": [{\"personId\": \"ana\", \"hoursPerWeek\": 32,"                       \
    "   \"unavailableDates\": []}, {\"personId\": \"ben\", \"hoursPerWeek\": 40,"                  \
    "   \"unavailableDates\": []}]}}"

static char *url(const char *path)
{
    return cq_asprintf("%s%s", stack.base, path);
}

static cq_it_resp_t post(const char *path, const char *body)
{
    char *u = url(path);
    cq_it_resp_t r = cq_it_http("POST", u, json_h, body, strlen(body));
    free(u);
    return r;
}

static const char *str(json_t *root, const char *path)
{
    const char *s = json_string_value(cq_it_get(root, path));
    return s ? s : "";
}

/* The job resource of a response's X-Job-Id (new reference). */
static json_t *job_of(const cq_it_resp_t *r)
{
    char job_id[64] = "", path[128];
    assert_true(cq_it_header(r, "X-Job-Id", job_id, sizeof(job_id)));
    snprintf(path, sizeof(path), "/jobs/%s", job_id);
    char *u = url(path);
    const char *const h[] = {"X-Tenant-Id: tenant-o", NULL};
    cq_it_resp_t job = cq_it_http("GET", u, h, NULL, 0);
    free(u);
    assert_int_equal(job.status, 200);
    json_t *out = json_incref(job.json);
    cq_it_resp_free(&job);
    return out;
}

static json_t *find(json_t *list, const char *id)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(str(json_array_get(list, i), "actionId"), id) == 0)
            return json_array_get(list, i);
    fail_msg("no %s in the answer", id);
    return NULL;
}

static size_t pos(json_t *list, const char *id)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(str(json_array_get(list, i), "actionId"), id) == 0)
            return i;
    return SIZE_MAX;
}

static void today(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static void test_it_ops_plan_schedule_builtin(void **state)
{
    cq_it_resp_t r = post("/operations/scheduling-suggestions", SCHEDULE_BODY);
    if (r.status != 200)
        fprintf(stderr, "%ld: %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "SchedulingSuggestionsResult"));
    assert_int_equal(json_array_size(data), 4);
    /* A valid execution order with the dates that go with it. */
    assert_true(pos(data, "design") < pos(data, "build"));
    assert_true(pos(data, "build") < pos(data, "launch"));
    assert_true(pos(data, "copy") < pos(data, "launch"));
    char day[11];
    today(day);
    assert_true(strcmp(str(find(data, "design"), "suggestedStartDate"), day) >= 0);
    assert_true(strcmp(str(find(data, "build"), "suggestedStartDate"),
                       str(find(data, "design"), "suggestedDueDate")) > 0);
    assert_true(strcmp(str(find(data, "launch"), "suggestedStartDate"),
                       str(find(data, "build"), "suggestedDueDate")) > 0);
    assert_true(strcmp(str(find(data, "launch"), "suggestedStartDate"),
                       str(find(data, "copy"), "suggestedDueDate")) > 0);
    /* The reasoning names what it waits for and whose hours it uses. */
    assert_non_null(strstr(str(find(data, "build"), "reasoning"), "waits for design"));
    assert_non_null(strstr(str(find(data, "build"), "reasoning"), "ben works 8.0 h per day"));
    assert_string_equal(str(find(data, "launch"), "dependencies.0"), "build");
    json_t *job = job_of(&r);
    assert_string_equal(str(job, "engine.name"), "builtin");
    json_decref(job);
    cq_it_resp_free(&r);
}

static void test_it_ops_plan_cycle_is_422_naming_ids(void **state)
{
    const char *body = "{\"actions\": ["
                       " {\"id\": \"alpha\", \"title\": \"A\", \"estimatedDuration\": 2,"
                       "  \"dependencies\": [\"gamma\"], \"priority\": \"low\"},"
                       " {\"id\": \"beta\", \"title\": \"B\", \"estimatedDuration\": 2,"
                       "  \"dependencies\": [\"alpha\"], \"priority\": \"low\"},"
                       " {\"id\": \"gamma\", \"title\": \"C\", \"estimatedDuration\": 2,"
                       "  \"dependencies\": [\"beta\"], \"priority\": \"low\"}],"
                       " \"constraints\": {\"teamCapacity\": 40, \"criticalDeadlines\": [],"
                       "  \"teamAvailability\": []}}";
    cq_it_resp_t r = post("/operations/scheduling-suggestions", body);
    assert_int_equal(r.status, 422);
    assert_string_equal(str(r.json, "code"), "DEPENDENCY_CYCLE");
    const char *detail = str(r.json, "detail");
    assert_non_null(strstr(detail, "\"alpha\""));
    assert_non_null(strstr(detail, "\"beta\""));
    assert_non_null(strstr(detail, "\"gamma\""));
    cq_it_resp_free(&r);

    /* An unknown dependency id is a validation error that names it. */
    r = post("/operations/scheduling-suggestions",
             "{\"actions\": [{\"id\": \"a\", \"title\": \"A\", \"estimatedDuration\": 2,"
             " \"dependencies\": [\"nowhere-42\"], \"priority\": \"low\"}],"
             " \"constraints\": {\"teamCapacity\": 40, \"criticalDeadlines\": [],"
             " \"teamAvailability\": []}}");
    assert_int_equal(r.status, 422);
    assert_string_equal(str(r.json, "code"), "VALIDATION_ERROR");
    assert_non_null(strstr(str(r.json, "detail"), "nowhere-42"));
    cq_it_resp_free(&r);
}

static void test_it_ops_plan_priority_builtin(void **state)
{
    const char *body = "{\"actions\": ["
                       " {\"id\": \"late\", \"title\": \"Fix the checkout bug\","
                       "  \"currentPriority\": \"medium\", \"dueDate\": \"2020-01-06\","
                       "  \"impact\": \"high\", \"effort\": \"low\", \"status\": \"not_started\","
                       "  \"linkedGoals\": [\"Grow online sales\"]},"
                       " {\"id\": \"old\", \"title\": \"Archive old invoices\","
                       "  \"currentPriority\": \"high\", \"impact\": \"low\","
                       "  \"effort\": \"medium\", \"status\": \"completed\", \"linkedGoals\": []}],"
                       " \"businessContext\": {\"currentGoals\": [\"Grow online sales\"],"
                       "  \"constraints\": [], \"urgentDeadlines\": []}}";
    cq_it_resp_t r = post("/operations/prioritization-suggestions", body);
    if (r.status != 200)
        fprintf(stderr, "%ld: %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "PrioritizationSuggestionsResult"));
    assert_string_equal(str(data, "0.actionId"), "late");
    assert_string_equal(str(data, "0.suggestedPriority"), "critical");
    assert_string_equal(str(data, "0.recommendedAction"), "escalate");
    assert_non_null(strstr(str(data, "0.urgencyFactors.0"), "Overdue by"));
    assert_string_equal(str(data, "1.actionId"), "old");
    assert_string_equal(str(data, "1.recommendedAction"), "de-prioritize");
    json_t *job = job_of(&r);
    assert_string_equal(str(job, "engine.name"), "builtin");
    json_decref(job);
    cq_it_resp_free(&r);
}

/* Restarts the operations worker against the fake LLM with a provider. */
static void llm_worker(const char *provider)
{
    cq_it_stop(&stack.worker, SIGTERM);
    assert_true(cq_it_fake_reset(fake_port));
    char base[128], prov[64];
    snprintf(base, sizeof(base), "llm.base_url=http://127.0.0.1:%d%s", fake_port,
             strcmp(provider, "openai") == 0 ? "/v1" : "");
    snprintf(prov, sizeof(prov), "llm.provider=%s", provider);
    const char *opts[] = {
        prov, base, "llm.api_key=test-key", "llm.model=test-model", "llm.timeout=20s", NULL};
    assert_true(cq_it_start_worker(&stack, "operations", opts));
}

static void builtin_worker(void)
{
    cq_it_stop(&stack.worker, SIGTERM);
    assert_true(cq_it_start_worker(&stack, "operations", NULL));
}

static void test_it_ops_plan_priority_through_fake_llm(void **state)
{
    llm_worker("anthropic");
    const char *body = "{\"actions\": [{\"id\": \"a1\", \"title\": \"Fix the checkout bug\","
                       " \"currentPriority\": \"medium\", \"status\": \"in_progress\","
                       " \"linkedGoals\": []}], \"businessContext\": {\"currentGoals\": [],"
                       " \"constraints\": [], \"urgentDeadlines\": []}}";
    cq_it_resp_t r = post("/operations/prioritization-suggestions", body);
    if (r.status != 200)
        fprintf(stderr, "%ld: %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "PrioritizationSuggestionsResult"));
    json_t *job = job_of(&r);
    assert_string_equal(str(job, "engine.name"), "llm");
    assert_string_equal(str(job, "engine.provider"), "anthropic");
    json_decref(job);
    cq_it_resp_free(&r);

    /* The call carried this operation's prompt, schema and delimited data. */
    json_t *calls = cq_it_fake_requests(fake_port);
    json_t *last = json_array_get(calls, json_array_size(calls) - 1);
    assert_string_equal(str(last, "route"), "anthropic");
    assert_string_equal(str(last, "body.tools.0.name"), "prioritization-suggestions");
    assert_non_null(strstr(str(last, "body.system"), "WSJF"));
    const char *user = str(last, "body.messages.0.content");
    assert_non_null(strstr(user, "<user_data>"));
    assert_non_null(strstr(user, "Fix the checkout bug"));
    json_decref(calls);
    builtin_worker();
}

static void test_it_ops_plan_schedule_through_fake_llm(void **state)
{
    llm_worker("openai");
    /* The structured-output schema cannot carry "format" (it becomes a hint
     * in the description), so the fake is given the model's answer. */
    const char *answer =
        "{\"steps\": [{\"kind\": \"content\", \"value\": [{\"actionId\": \"design\","
        " \"suggestedStartDate\": \"2030-01-07\", \"suggestedDueDate\": \"2030-01-10\","
        " \"reasoning\": \"Nothing to wait for.\", \"confidence\": 0.7, \"dependencies\": [],"
        " \"resourceConsiderations\": [\"ana\"], \"risks\": [], \"alternativeSchedules\": []}]}]}";
    assert_true(cq_it_fake_script(fake_port, answer));
    cq_it_resp_t r = post("/operations/scheduling-suggestions", SCHEDULE_BODY);
    if (r.status != 200)
        fprintf(stderr, "%ld: %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    json_t *data = cq_it_get(r.json, "data");
    assert_true(cq_it_matches_schema(data, "SchedulingSuggestionsResult"));
    assert_string_equal(str(data, "0.suggestedStartDate"), "2030-01-07");
    json_t *job = job_of(&r);
    assert_string_equal(str(job, "engine.name"), "llm");
    assert_string_equal(str(job, "engine.provider"), "openai");
    json_decref(job);
    cq_it_resp_free(&r);

    json_t *calls = cq_it_fake_requests(fake_port);
    json_t *last = json_array_get(calls, json_array_size(calls) - 1);
    assert_string_equal(str(last, "route"), "openai");
    assert_string_equal(str(last, "body.response_format.json_schema.name"),
                        "scheduling-suggestions");
    assert_non_null(strstr(str(last, "body.messages.0.content"), "operations planner"));
    const char *user = str(last, "body.messages.1.content");
    assert_non_null(strstr(user, "<user_data>"));
    assert_non_null(strstr(user, "Design the onboarding flow"));
    json_decref(calls);
    builtin_worker();
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "opsplan");
    if (!cq_it_start_fake("fake_llm.py", &fake, &fake_port))
        return -1;
    if (!cq_it_start_worker(&stack, "operations", NULL) || !cq_it_start_gateway(&stack, NULL))
        return -1;
    return 0;
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
        cmocka_unit_test(test_it_ops_plan_schedule_builtin),
        cmocka_unit_test(test_it_ops_plan_cycle_is_422_naming_ids),
        cmocka_unit_test(test_it_ops_plan_priority_builtin),
        cmocka_unit_test(test_it_ops_plan_priority_through_fake_llm),
        cmocka_unit_test(test_it_ops_plan_schedule_through_fake_llm),
    };
    return cmocka_run_group_tests_name("integration.ops_plan", tests, setup, teardown);
}
