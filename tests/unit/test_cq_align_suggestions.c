/*
 * test_cq_align_suggestions.c — the built-in alignment-suggestions engine:
 * 3-5 suggestions that name the goal's words and its weakest parts, a
 * measured impact (the score after applying them), different answers for
 * different goals, and results valid against AlignmentSuggestionsResult.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_suggestions.h"
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
    return cq_test_run_engine("alignment-suggestions", cq_align_suggestions_compute, 0,
                              request_text, checked);
}

static json_t *run(const char *request_text)
{
    return run_as(request_text, true);
}

static const json_t *suggestions(const json_t *result)
{
    return json_object_get(result, "suggestions");
}

static const char *impact(const json_t *result)
{
    return json_string_value(json_object_get(result, "impactAnalysis"));
}

/* Whether any string of arr contains needle. */
static bool any_contains(const json_t *arr, const char *needle)
{
    const json_t *item;
    size_t i;
    json_array_foreach(arr, i, item) if (strstr(json_string_value(item), needle)) return true;
    return false;
}

static void test_align_suggestions_address_the_weak_parts_by_name(void **state)
{
    json_t *result = run_as(bakery_goal, false);
    print(result);
    const json_t *s = suggestions(result);
    assert_in_range(json_array_size(s), 3, 5);
    assert_true(any_contains(s, "Grow weekday bread sales"));
    assert_true(any_contains(s, "Quality"));
    assert_true(any_contains(s, "Run a radio advert"));
    json_decref(result);
}

static void test_align_suggestions_measure_their_impact(void **state)
{
    json_t *result = run(bare_goal);
    print(result);
    /* a goal far from the foundation gains when the fixes are applied */
    int before = -1, after = -1;
    assert_int_equal(sscanf(impact(result), "Today the goal scores %d/100", &before), 1);
    const char *about = strstr(impact(result), "to about ");
    assert_non_null(about);
    assert_int_equal(sscanf(about, "to about %d/100", &after), 1);
    assert_true(after > before);
    assert_true(any_contains(suggestions(result), "PostgreSQL"));
    json_decref(result);
}

static void test_align_suggestions_differ_between_goals(void **state)
{
    json_t *a = run_as(bakery_goal, false), *b = run(solar_goal), *c = run(bare_goal);
    assert_false(json_equal(suggestions(a), suggestions(b)));
    assert_false(json_equal(suggestions(b), suggestions(c)));
    assert_string_not_equal(impact(a), impact(b));
    assert_true(any_contains(suggestions(b), "rooftop") || any_contains(suggestions(b), "solar"));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_align_suggestions_are_deterministic(void **state)
{
    json_t *a = run(solar_goal), *b = run(solar_goal);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align_suggestions_address_the_weak_parts_by_name),
        cmocka_unit_test(test_align_suggestions_measure_their_impact),
        cmocka_unit_test(test_align_suggestions_differ_between_goals),
        cmocka_unit_test(test_align_suggestions_are_deterministic),
    };
    return cmocka_run_group_tests_name("cq_align_suggestions", tests, setup, teardown);
}
