/*
 * test_cq_align_explanation.c — the built-in alignment-explanation engine:
 * answers name the goal's own words, differ between goals, follow the
 * alignment-check scores, cope with KPIs known only by id, and validate
 * against the contract's AlignmentExplanationResult.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_explanation.h"
#include "cq_test_engine.h"

#define BAKERY_FOUNDATION                                                                          \
    "\"businessFoundation\": {\"vision\": \"To be the neighborhood's favourite bakery, baking "    \
    "fresh bread every morning for our community\", \"purpose\": \"Bring people together over "    \
    "honest, handmade food\", \"coreValues\": [\"Quality\", \"Community\", \"Sustainability\"]}"

#define SOLAR_FOUNDATION                                                                           \
    "\"businessFoundation\": {\"vision\": \"Every home in the valley runs on clean, affordable "   \
    "energy\", \"purpose\": \"We make going solar simple and honest for homeowners\","             \
    " \"coreValues\": [\"Integrity\", \"Craftsmanship\"], \"targetMarket\": \"Homeowners in the "  \
    "valley\"}"

static const char *const bakery_goal =
    "{\"goal\": {\"intent\": \"Grow weekday bread sales to office workers\", \"strategies\":"
    " [{\"description\": \"Deliver fresh bread to nearby offices every morning\"},"
    " {\"description\": \"Run a radio advert\"}], \"kpis\": [{\"name\": \"Weekday loaves "
    "sold\"}, {\"sharedKpiId\": \"kpi-revenue\"}]}, " BAKERY_FOUNDATION ", \"alignmentScore\": 40}";

static const char *const solar_goal =
    "{\"goal\": {\"intent\": \"Install rooftop solar panels on 500 valley homes\", \"strategies\":"
    " [{\"description\": \"Offer honest fixed-price quotes to homeowners\"}], \"kpis\":"
    " [{\"name\": \"Homes installed per month\", \"sharedKpiId\": "
    "\"kpi-homes\"}]}, " SOLAR_FOUNDATION "}";

static const char *const bare_goal =
    "{\"goal\": {\"intent\": \"Migrate the payroll database to PostgreSQL\", \"strategies\": [],"
    " \"kpis\": []}, " SOLAR_FOUNDATION "}";

/* Runs the engine on a request, checks the result against the result
 * schema. The request must pass the request schema when checked is set;
 * requests with KPIs known only by sharedKpiId are run unchecked, as the
 * contract is about to allow them (the engine must cope either way). */
static json_t *run_as(const char *request_text, bool checked)
{
    return cq_test_run_engine("alignment-explanation", cq_align_explanation_compute, 0,
                              request_text, checked);
}

static json_t *run(const char *request_text)
{
    return run_as(request_text, true);
}

static const char *explanation(const json_t *result)
{
    return json_string_value(json_object_get(result, "explanation"));
}

/* Whether any string of arr contains needle. */
static bool any_contains(const json_t *arr, const char *needle)
{
    const json_t *item;
    size_t i;
    json_array_foreach(arr, i, item) if (strstr(json_string_value(item), needle)) return true;
    return false;
}

static void test_align_explanation_names_the_goal_and_its_weak_parts(void **state)
{
    json_t *result = run_as(bakery_goal, false);
    const char *text = explanation(result);
    print(result);
    assert_non_null(strstr(text, "Grow weekday bread sales to office workers"));
    /* the earlier score is compared, the id-only KPI is said */
    assert_non_null(strstr(text, "40/100"));
    assert_non_null(strstr(text, "shared KPI id"));
    /* the unrelated strategy and the value the goal ignores are areas */
    const json_t *areas = json_object_get(result, "improvementAreas");
    assert_true(any_contains(areas, "Run a radio advert"));
    assert_true(any_contains(areas, "Sustainability"));
    assert_true(json_array_size(json_object_get(result, "keyFactors")) > 0);
    json_decref(result);
}

static void test_align_explanation_differs_between_goals(void **state)
{
    json_t *a = run_as(bakery_goal, false), *b = run(solar_goal), *c = run(bare_goal);
    assert_string_not_equal(explanation(a), explanation(b));
    assert_string_not_equal(explanation(b), explanation(c));
    assert_non_null(strstr(explanation(b), "rooftop solar panels"));
    assert_non_null(strstr(explanation(c), "PostgreSQL"));
    /* a goal without strategies or KPIs says so in its improvement areas */
    const json_t *areas = json_object_get(c, "improvementAreas");
    assert_true(any_contains(areas, "no strategies"));
    assert_true(any_contains(areas, "no KPIs"));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_align_explanation_is_deterministic(void **state)
{
    json_t *a = run(solar_goal), *b = run(solar_goal);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

static void test_align_explanation_without_usable_words_is_insufficient(void **state)
{
    json_t *request = parse("{\"goal\": {\"intent\": \"the and of\", \"strategies\": [], \"kpis\":"
                            " []}, " BAKERY_FOUNDATION "}");
    json_t *result = NULL;
    char err[256] = "";
    assert_int_equal(cq_align_explanation_compute(request, 0, &result, err, sizeof(err)),
                     CQ_ERR_INSUFFICIENT_CONTEXT);
    assert_null(result);
    assert_non_null(strstr(err, "intent"));
    json_decref(request);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align_explanation_names_the_goal_and_its_weak_parts),
        cmocka_unit_test(test_align_explanation_differs_between_goals),
        cmocka_unit_test(test_align_explanation_is_deterministic),
        cmocka_unit_test(test_align_explanation_without_usable_words_is_insufficient),
    };
    return cmocka_run_group_tests_name("cq_align_explanation", tests, setup, teardown);
}
