/*
 * test_cq_ops_actions.c — the built-in action-suggestions engine: how many
 * steps for which constraints, dependencies among the suggested actions,
 * fixes named from the root cause's words, owners from the listed
 * resources, durations fitted to the timeline, costs within the budget,
 * severity, contract validity and determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_test_engine.h"
#include "cq_ops_actions.h"

static const char *const van_request =
    "{\"issue\": {\"title\": \"Late deliveries to restaurant customers\","
    " \"description\": \"Over the last month 38 deliveries arrived late because the van breaks "
    "down.\", \"impact\": \"Two restaurant customers threatened to cancel their contracts.\","
    " \"rootCause\": \"The delivery van has not been serviced since our mechanic left\"},"
    " \"constraints\": {\"timeline\": \"3 weeks\", \"budget\": 5000, \"availableResources\": "
    "[\"Fleet technician\", \"Operations manager\", \"Delivery drivers\"]},"
    " \"context\": {\"relatedGoals\": [\"Keep every restaurant contract this year\"],"
    " \"currentActions\": [\"Repair the delivery van brakes\"], \"businessPriorities\": "
    "[\"Customer retention\"]}}";

static const char *const billing_request =
    "{\"issue\": {\"title\": \"New hires make billing errors\", \"description\": \"Invoices sent "
    "by new staff in accounting often have wrong tax rates; customers complain.\","
    " \"impact\": \"Refunds and a minor loss of trust.\"},"
    " \"constraints\": {\"timeline\": \"5 days\", \"availableResources\": []}}";

static json_t *run(const char *text)
{
    return cq_test_run_engine("action-suggestions", cq_ops_actions_compute, 0, text, true);
}

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    assert_non_null(s);
    return s;
}

static bool contains(const json_t *v, const char *needle)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    bool found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* Titles are distinct and every dependency names an earlier action. */
static void assert_dependencies_point_back(const json_t *plan)
{
    for (size_t i = 0; i < json_array_size(plan); i++) {
        const json_t *a = json_array_get(plan, i);
        const json_t *deps = json_object_get(a, "dependencies");
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(str(a, "title"), str(json_array_get(plan, k), "title"));
        for (size_t d = 0; d < json_array_size(deps); d++) {
            bool earlier = false;
            for (size_t k = 0; k < i && !earlier; k++)
                earlier = strcmp(json_string_value(json_array_get(deps, d)),
                                 str(json_array_get(plan, k), "title")) == 0;
            assert_true(earlier);
        }
    }
}

/* ---- tests ---------------------------------------------------------------- */

static void test_ops_actions_plan_uses_cause_resources_and_budget(void **state)
{
    json_t *plan = run(van_request);
    /* Related goals are given: the full plan of five, measure included. */
    assert_int_equal(json_array_size(plan), 5);
    assert_dependencies_point_back(plan);
    const json_t *fix = json_array_get(plan, 2);
    /* The root cause's words (van, serviced, mechanic) are equipment. */
    assert_string_equal(str(fix, "title"), "Repair or replace the van");
    assert_string_equal(str(fix, "assignmentSuggestion"), "Fleet technician");
    assert_int_equal(json_array_size(json_object_get(fix, "dependencies")), 1);
    assert_true(contains(json_object_get(fix, "risks"), "Repair the delivery van brakes"));
    assert_true(contains(json_array_get(plan, 1), "not been serviced"));
    assert_true(contains(json_array_get(plan, 4), "Keep every restaurant contract"));
    double cost = 0;
    for (size_t i = 0; i < json_array_size(plan); i++) {
        const json_t *a = json_array_get(plan, i);
        assert_true(json_is_number(json_object_get(a, "estimatedCost")));
        cost += json_number_value(json_object_get(a, "estimatedCost"));
        assert_string_equal(str(a, "priority"), i < 3 ? "high" : "medium");
    }
    assert_true(cost <= 5000 * 0.9 && cost > 5000 * 0.85);
    json_decref(plan);
}

static void test_ops_actions_short_timeline_gives_three(void **state)
{
    json_t *plan = run(billing_request);
    assert_int_equal(json_array_size(plan), 3);
    assert_dependencies_point_back(plan);
    const json_t *fix = json_array_get(plan, 2);
    /* Staff, new hires: a people fix; no resources and no root cause are risks. */
    assert_non_null(strstr(str(fix, "title"), "Train"));
    assert_true(contains(json_object_get(fix, "risks"), "No resources were listed"));
    assert_true(contains(json_object_get(fix, "risks"), "No root cause was given"));
    for (size_t i = 0; i < 3; i++)
        assert_null(json_object_get(json_array_get(plan, i), "estimatedCost"));
    assert_true(contains(json_array_get(plan, 1), "Find the root cause"));
    json_decref(plan);
}

static void test_ops_actions_tight_timeline_scales_durations(void **state)
{
    json_t *plan = run("{\"issue\": {\"title\": \"Website checkout crashes\", \"description\": "
                       "\"The payment page crashes for every mobile user since the update.\", "
                       "\"impact\": \"Online sales stopped.\"}, \"constraints\": {\"timeline\": "
                       "\"1 day\", \"availableResources\": [\"Web developer\"]}}");
    double hours = 0;
    for (size_t i = 0; i < json_array_size(plan); i++)
        hours += json_number_value(json_object_get(json_array_get(plan, i), "estimatedDuration"));
    assert_true(hours <= 8.0 + 1e-9);
    assert_true(
        contains(json_object_get(json_array_get(plan, 2), "risks"), "1 day\u201d is tight"));
    assert_true(contains(json_array_get(plan, 2), "Web developer"));
    json_decref(plan);
}

static void test_ops_actions_severity_sets_priority(void **state)
{
    json_t *plan = run("{\"issue\": {\"title\": \"Forklift near misses\", \"description\": "
                       "\"Twice this week a forklift almost hit a worker in aisle 4.\", "
                       "\"impact\": \"A safety incident could injure staff.\"}}");
    assert_string_equal(str(json_array_get(plan, 0), "priority"), "critical");
    json_t *minor = run("{\"issue\": {\"title\": \"Logo slightly blurry\", \"description\": "
                        "\"The logo on the menu is a bit blurry.\", \"impact\": \"A minor "
                        "cosmetic annoyance.\"}}");
    assert_string_equal(str(json_array_get(minor, 0), "priority"), "low");
    json_decref(minor);
    json_decref(plan);
}

static void test_ops_actions_different_issues_differ(void **state)
{
    json_t *a = run(van_request), *b = run(billing_request);
    assert_false(json_equal(a, b));
    assert_true(contains(a, "Late deliveries"));
    assert_false(contains(b, "Late deliveries"));
    assert_true(contains(b, "billing errors"));
    json_t *c = run(van_request);
    assert_true(json_equal(a, c));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_ops_actions_timeline_hours(void **state)
{
    assert_true(cq_ops_actions_timeline_hours("2 weeks") == 80);
    assert_true(cq_ops_actions_timeline_hours("10 working days") == 80);
    assert_true(cq_ops_actions_timeline_hours("1-2 months") == 160);
    assert_true(cq_ops_actions_timeline_hours("36 hours") == 36);
    assert_true(cq_ops_actions_timeline_hours("within 3d") == 24);
    assert_true(cq_ops_actions_timeline_hours("asap") == 0);
    assert_true(cq_ops_actions_timeline_hours("Q3") == 0);
    assert_true(cq_ops_actions_timeline_hours(NULL) == 0);
}

static void test_ops_actions_refuses_missing_issue(void **state)
{
    json_t *req = parse("{\"constraints\": {\"availableResources\": []}}"), *result = NULL;
    char err[128] = "";
    assert_int_equal(cq_ops_actions_compute(req, 0, &result, err, sizeof(err)), CQ_ERR_BAD_REQUEST);
    assert_null(result);
    json_decref(req);
}

/* The longest texts and most resources the contract allows still give a
 * plan within the result schema's limits. */
static void test_ops_actions_longest_request_fits_schema(void **state)
{
    char desc[5001], impact[2001], cause[2001], res[201];
    memset(desc, 0, sizeof(desc));
    for (size_t len = 0; len + 40 < sizeof(desc) - 1;)
        len +=
            (size_t)snprintf(desc + len, sizeof(desc) - len, "the supplier ships damaged parts ");
    snprintf(impact, sizeof(impact), "%.1990s", desc);
    snprintf(cause, sizeof(cause), "%.1990s", desc);
    memset(res, 'r', 200);
    res[200] = '\0';
    json_t *resources = json_array();
    for (int i = 0; i < 20; i++)
        json_array_append_new(resources, json_string(res));
    json_t *req = json_pack("{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:f, s:o}}", "issue", "title",
                            "Damaged parts from the supplier", "description", desc, "impact",
                            impact, "rootCause", cause, "constraints", "timeline", "6 months",
                            "budget", 1e12, "availableResources", resources);
    char *text = json_dumps(req, 0);
    json_t *plan = run(text);
    assert_int_equal(json_array_size(plan), 5);
    assert_dependencies_point_back(plan);
    free(text);
    json_decref(plan);
    json_decref(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_actions_plan_uses_cause_resources_and_budget),
        cmocka_unit_test(test_ops_actions_short_timeline_gives_three),
        cmocka_unit_test(test_ops_actions_tight_timeline_scales_durations),
        cmocka_unit_test(test_ops_actions_severity_sets_priority),
        cmocka_unit_test(test_ops_actions_different_issues_differ),
        cmocka_unit_test(test_ops_actions_timeline_hours),
        cmocka_unit_test(test_ops_actions_refuses_missing_issue),
        cmocka_unit_test(test_ops_actions_longest_request_fits_schema),
    };
    return cmocka_run_group_tests_name("ops_actions", tests, setup, teardown);
}
