/*
 * test_cq_align_kpi.c — the built-in kpi-recommendations engine: KPIs by
 * goal type and strategies, not repeating tracked KPIs, honouring the
 * leading/lagging preferences, industry benchmarks, input-specific text,
 * and results valid against KpiRecommendationsResult.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_kpi.h"
#include "cq_test_engine.h"

static const char *const cafe =
    "{\"goalIntent\": \"Get more regulars to come back for sourdough every week\","
    " \"strategies\": [{\"description\": \"Stamp card loyalty scheme for regulars\", \"category\":"
    " \"marketing\"}, {\"description\": \"Ask for reviews after each visit\"}],"
    " \"businessContext\": {\"industry\": \"Bakery and cafe\", \"currentKPIs\": [\"Average "
    "order value\"]}}";

static const char *const saas =
    "{\"goalIntent\": \"Reduce subscriber churn for the accounting app\","
    " \"strategies\": [{\"description\": \"Improve onboarding emails for new subscribers\"}],"
    " \"businessContext\": {\"industry\": \"SaaS\", \"currentKPIs\": []},"
    " \"preferences\": {\"quantitative\": true, \"leadingIndicators\": true,"
    " \"laggingIndicators\": false}}";

static const char *const migration =
    "{\"goalIntent\": \"Migrate the payroll database to PostgreSQL without downtime\","
    " \"strategies\": [], \"businessContext\": {}}";

/* Runs the engine on a request, checks the result against the result
 * schema. The request must pass the request schema when checked is set;
 * requests with KPIs known only by sharedKpiId are run unchecked, as the
 * contract is about to allow them (the engine must cope either way). */
static json_t *run_as(const char *request_text, bool checked)
{
    return cq_test_run_engine("kpi-recommendations", cq_align_kpi_compute, 0, request_text,
                              checked);
}

static json_t *run(const char *request_text)
{
    return run_as(request_text, true);
}

static const json_t *rec(const json_t *result, size_t i)
{
    return json_array_get(json_object_get(result, "recommendations"), i);
}

static const char *field(const json_t *s, const char *key)
{
    return json_string_value(json_object_get(s, key));
}

static bool any_field(const json_t *result, const char *key, const char *needle)
{
    const json_t *s;
    size_t i;
    json_array_foreach(json_object_get(result, "recommendations"), i, s)
    {
        if (field(s, key) && strstr(field(s, key), needle))
            return true;
    }
    return false;
}

static void test_align_kpi_fits_goal_and_skips_tracked(void **state)
{
    json_t *result = run(cafe);
    print(result);
    assert_true(any_field(result, "name", "Repeat purchase rate"));
    assert_false(any_field(result, "name", "Average order value"));
    assert_non_null(strstr(field(result, "reasoning"), "Average order value"));
    /* the text names the goal, the strategy followed and the industry */
    assert_true(any_field(result, "description", "regulars"));
    assert_true(any_field(result, "rationale", "Stamp card loyalty scheme"));
    const json_t *bench = json_object_get(rec(result, 0), "benchmark");
    assert_non_null(strstr(field(bench, "industry"), "hospitality") ? bench : NULL);
    /* both kinds are wanted without preferences */
    bool leading = false, lagging = false;
    const json_t *s;
    size_t i;
    json_array_foreach(json_object_get(result, "recommendations"), i, s)
    {
        if (json_is_true(json_object_get(s, "isLeading")))
            leading = true;
        else
            lagging = true;
    }
    assert_true(leading && lagging);
    json_decref(result);
}

static void test_align_kpi_honours_preferences(void **state)
{
    json_t *result = run(saas);
    print(result);
    const json_t *s;
    size_t i;
    json_array_foreach(json_object_get(result, "recommendations"), i, s)
    {
        assert_true(json_is_true(json_object_get(s, "isLeading")));
    }
    assert_true(any_field(result, "description", "subscriber churn"));
    json_decref(result);
}

static void test_align_kpi_differs_between_goals(void **state)
{
    json_t *a = run(cafe), *b = run(saas), *c = run(migration);
    print(c);
    assert_string_not_equal(field(rec(a, 0), "name"), field(rec(c, 0), "name"));
    assert_false(json_equal(a, b));
    assert_true(any_field(c, "name", "downtime") || any_field(c, "name", "Unplanned downtime"));
    assert_true(any_field(c, "description", "payroll database"));
    /* no industry: the cross-industry figures, said so */
    assert_non_null(
        strstr(field(json_object_get(rec(c, 0), "benchmark"), "industry"), "cross-industry"));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_align_kpi_is_deterministic(void **state)
{
    json_t *a = run(cafe), *b = run(cafe);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align_kpi_fits_goal_and_skips_tracked),
        cmocka_unit_test(test_align_kpi_honours_preferences),
        cmocka_unit_test(test_align_kpi_differs_between_goals),
        cmocka_unit_test(test_align_kpi_is_deterministic),
    };
    return cmocka_run_group_tests_name("cq_align_kpi", tests, setup, teardown);
}
