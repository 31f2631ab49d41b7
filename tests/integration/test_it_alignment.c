/*
 * Integration: every alignment operation except website-scan end to end
 * through the gateway, Kafka, the alignment worker's built-in engines and
 * Redis, without an LLM. Each operation gets two different requests: both
 * answer 200 with a result its contract schema accepts, each answer names
 * a term of its own request, and the two answers differ. One job is also
 * followed asynchronously to show the engine that answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_it.h"

static cq_it_stack_t stack;

static const char *const json_a[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-a",
                                     "X-User-Id: alice", NULL};

#define SOLAR_FOUNDATION                                                                           \
    "\"businessFoundation\": {\"vision\": \"Every home in the valley runs on clean, affordable "   \
    "energy\", \"purpose\": \"We make going solar simple and honest for homeowners\","             \
    " \"coreValues\": [\"Integrity\", \"Craftsmanship\"], \"targetMarket\": \"Homeowners in the "  \
    "valley\"}"
#define BAKERY_FOUNDATION                                                                          \
    "\"businessFoundation\": {\"vision\": \"To be the neighbourhood's favourite bakery, baking "   \
    "fresh bread every morning\", \"purpose\": \"Bring people together over honest, handmade "     \
    "food\", \"coreValues\": [\"Quality\", \"Community\"]}"

typedef struct {
    const char *path;   /* under the base path */
    const char *schema; /* result component */
    const char *body[2];
    const char *term[2]; /* a word of each request its answer must name */
} cq_it_alignment_case_t;

static const cq_it_alignment_case_t cases[] = {
    {"/coaching/alignment-check",
     "AlignmentCheckResult",
     {"{\"goalIntent\": \"Install rooftop solar on 500 valley homes\", \"strategies\":"
      " [\"Offer honest fixed-price quotes to homeowners\"], \"kpis\": [\"Homes "
      "installed\"], " SOLAR_FOUNDATION "}",
      "{\"goalIntent\": \"Bake fresh sourdough for the neighbourhood every morning\","
      " \"strategies\": [\"Open at 6am with bread from the oven\"], \"kpis\": [\"Loaves "
      "sold\"], " BAKERY_FOUNDATION "}"},
     {"valley", "Loaves sold"}},
    {"/coaching/alignment-explanation",
     "AlignmentExplanationResult",
     {"{\"goal\": {\"intent\": \"Install rooftop solar on 500 valley homes\", \"strategies\":"
      " [{\"description\": \"Offer honest fixed-price quotes to homeowners\"}], \"kpis\":"
      " [{\"name\": \"Homes installed\", \"sharedKpiId\": \"kpi-homes\"}]}, " SOLAR_FOUNDATION
      ", \"alignmentScore\": 70}",
      "{\"goal\": {\"intent\": \"Grow weekday bread sales to office workers\", \"strategies\":"
      " [{\"description\": \"Run a radio advert\"}], \"kpis\": [{\"name\": \"Weekday loaves "
      "sold\"}]}, " BAKERY_FOUNDATION "}"},
     {"rooftop solar", "Run a radio advert"}},
    {"/coaching/alignment-suggestions",
     "AlignmentSuggestionsResult",
     {"{\"goal\": {\"intent\": \"Install rooftop solar on 500 valley homes\", \"strategies\": [],"
      " \"kpis\": []}, " SOLAR_FOUNDATION "}",
      "{\"goal\": {\"intent\": \"Grow weekday bread sales to office workers\", \"strategies\":"
      " [{\"description\": \"Run a radio advert\"}], \"kpis\": [{\"name\": \"Weekday loaves "
      "sold\"}]}, " BAKERY_FOUNDATION "}"},
     {"rooftop solar", "weekday bread sales"}},
    {"/coaching/strategy-suggestions",
     "StrategySuggestionsResult",
     {"{\"goalIntent\": \"Win 200 new accounting clients among freelancers\", \"businessContext\":"
      " {\"industry\": \"SaaS\", \"targetMarket\": \"Freelancers and small agencies\"},"
      " \"existingStrategies\": [], \"constraints\": {\"budget\": 2000, \"timeline\": \"3 "
      "months\"}}",
      "{\"goalIntent\": \"Get more regulars to come back for sourdough every week\","
      " \"businessContext\": {\"industry\": \"Bakery\", \"currentChallenges\": [\"Customers try "
      "us once and do not return\"]}, \"existingStrategies\": [\"Loyalty card for regulars\"]}"},
     {"new accounting clients", "do not return"}},
    {"/coaching/kpi-recommendations",
     "KpiRecommendationsResult",
     {"{\"goalIntent\": \"Reduce subscriber churn for the accounting app\", \"strategies\":"
      " [{\"description\": \"Improve onboarding emails for new subscribers\"}],"
      " \"businessContext\": {\"industry\": \"SaaS\"}}",
      "{\"goalIntent\": \"Migrate the payroll database to PostgreSQL without downtime\","
      " \"strategies\": [], \"businessContext\": {}}"},
     {"subscriber churn", "payroll database"}},
    {"/suggestions/onboarding",
     "OnboardingSuggestionsResult",
     {"{\"kind\": \"niche\", \"context\": {\"businessName\": \"Rise & Crumb\", \"industry\":"
      " \"Bakery\", \"products\": [\"Sourdough bread\", \"Cinnamon buns\"]}}",
      "{\"kind\": \"valueProposition\", \"current\": \"We install solar panels\", \"context\":"
      " {\"businessName\": \"Valley Sun\", \"industry\": \"Solar installation\"}}"},
     {"Cinnamon buns", "We install solar panels"}},
    {"/coaching/onboarding",
     "OnboardingCoachingResult",
     {"{\"topic\": \"vision\", \"message\": \"Help me write my vision: we bake sourdough bread "
      "for the neighbourhood\", \"context\": {\"businessName\": \"Rise & Crumb\"}}",
      "{\"topic\": \"coreValues\", \"message\": \"Are these right?\", \"context\":"
      " {\"businessName\": \"Valley Sun\", \"currentDraft\": \"Craft, Honesty and Grit\"}}"},
     {"sourdough", "Grit"}},
};

static cq_it_resp_t post(const char *path, const char *const *headers, const char *body)
{
    char *u = cq_asprintf("%s%s", stack.base, path);
    cq_it_resp_t r = cq_it_http("POST", u, headers, body, strlen(body));
    free(u);
    return r;
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "alignment");
    if (!cq_it_start_worker(&stack, "alignment", NULL) || !cq_it_start_gateway(&stack, NULL))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    return 0;
}

static void test_it_alignment_every_operation_answers_from_its_builtin_engine(void **state)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        char *answer[2] = {NULL, NULL};
        for (size_t k = 0; k < 2; k++) {
            cq_it_resp_t r = post(cases[i].path, json_a, cases[i].body[k]);
            if (r.status != 200)
                fail_msg("%s request %zu: HTTP %ld: %s", cases[i].path, k, r.status,
                         r.body ? r.body : "");
            json_t *data = cq_it_get(r.json, "data");
            assert_non_null(data);
            if (!cq_it_matches_schema(data, cases[i].schema))
                fail_msg("%s request %zu: result does not match %s", cases[i].path, k,
                         cases[i].schema);
            answer[k] = json_dumps(data, JSON_SORT_KEYS);
            if (!strstr(answer[k], cases[i].term[k]))
                fail_msg("%s request %zu: the answer does not name \"%s\": %s", cases[i].path, k,
                         cases[i].term[k], answer[k]);
            cq_it_resp_free(&r);
        }
        if (strcmp(answer[0], answer[1]) == 0)
            fail_msg("%s: two different requests got the same answer", cases[i].path);
        free(answer[0]);
        free(answer[1]);
    }
}

static void test_it_alignment_async_job_names_the_builtin_engine(void **state)
{
    const char *const async[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-a",
                                 "Prefer: respond-async", NULL};
    cq_it_resp_t r = post("/coaching/strategy-suggestions", async, cases[3].body[0]);
    assert_int_equal(r.status, 202);
    char location[256];
    assert_true(cq_it_header(&r, "Location", location, sizeof(location)));
    cq_it_resp_free(&r);
    const char *const poll[] = {"X-Tenant-Id: tenant-a", "Prefer: wait=20", NULL};
    char *u = cq_asprintf("http://127.0.0.1:%d%s", stack.port, location);
    r = cq_it_http("GET", u, poll, NULL, 0);
    free(u);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(cq_it_get(r.json, "status")), "succeeded");
    assert_string_equal(json_string_value(cq_it_get(r.json, "engine.name")), "builtin");
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "result"), "StrategySuggestionsResult"));
    cq_it_resp_free(&r);
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_alignment_every_operation_answers_from_its_builtin_engine),
        cmocka_unit_test(test_it_alignment_async_job_names_the_builtin_engine),
    };
    return cmocka_run_group_tests_name("integration.alignment", tests, setup, teardown);
}
