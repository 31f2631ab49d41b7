/*
 * test_cq_align_coaching.c — the built-in onboarding-coaching engine for
 * its three topics: answers quote the user's words and the business,
 * name what the draft has and lacks, ask about the first gap, split core
 * values, differ between messages, and validate against
 * OnboardingCoachingResult.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_coaching.h"
#include "cq_test_engine.h"

/* Runs the engine on a request, checks the result against the result
 * schema. The request must pass the request schema when checked is set;
 * requests with KPIs known only by sharedKpiId are run unchecked, as the
 * contract is about to allow them (the engine must cope either way). */
static json_t *run_as(const char *request_text, bool checked)
{
    return cq_test_run_engine("onboarding-coaching", cq_align_coaching_compute, 0, request_text,
                              checked);
}

static json_t *run(const char *request_text)
{
    return run_as(request_text, true);
}

static const char *response(const json_t *result)
{
    return json_string_value(json_object_get(result, "response"));
}

static bool any_contains(const json_t *arr, const char *needle)
{
    const json_t *item;
    size_t i;
    json_array_foreach(arr, i, item) if (strstr(json_string_value(item), needle)) return true;
    return false;
}

static void test_align_coaching_vision_names_strengths_and_gaps(void **state)
{
    json_t *result = run("{\"topic\": \"vision\", \"message\": \"Can you help me write my "
                         "vision? We bake sourdough bread for the neighbourhood.\", \"context\":"
                         " {\"businessName\": \"Rise & Crumb\", \"industry\": \"Bakery\"}}");
    print(result);
    const char *text = response(result);
    /* the user's words, not the request words */
    assert_non_null(strstr(text, "sourdough"));
    assert_null(strstr(text, "\u201chelp\u201d"));
    assert_non_null(strstr(text, "Rise & Crumb"));
    /* it names its reach (neighbourhood) but not a time: the question asks for one */
    assert_non_null(strstr(text, "names its reach"));
    assert_non_null(strstr(text, "in ten years"));
    assert_true(any_contains(json_object_get(result, "suggestions"), "for sourdough bread"));
    /* the user's own statement, strengthened where it falls short */
    assert_true(any_contains(json_object_get(result, "suggestions"),
                             "\u201cWe bake sourdough bread for the neighbourhood, ten years from "
                             "now"));
    json_decref(result);

    /* a year counts as looking ahead, "every" as ambition */
    result = run("{\"topic\": \"vision\", \"message\": \"Every home in the valley on solar by "
                 "2035\", \"context\": {}}");
    assert_non_null(strstr(response(result), "looks ahead to a point in time"));
    assert_non_null(strstr(response(result), "is ambitious"));
    json_decref(result);
}

static void test_align_coaching_values_are_split_and_tested(void **state)
{
    json_t *result = run("{\"topic\": \"coreValues\", \"message\": \"Are these good?\","
                         " \"context\": {\"businessName\": \"Valley Sun\", \"currentDraft\":"
                         " \"Quality, Craft and Honesty\"}}");
    print(result);
    assert_non_null(strstr(response(result), "3 value(s)"));
    const json_t *s = json_object_get(result, "suggestions");
    assert_true(any_contains(s, "\u201cCraft\u201d"));
    assert_true(any_contains(s, "\u201cHonesty\u201d"));
    /* craft and honesty are the team's own words, not generic ones */
    assert_null(strstr(response(result), "generic words"));
    json_decref(result);

    /* generic values only: the coach asks for words of their own */
    result = run("{\"topic\": \"coreValues\", \"message\": \"Our values\", \"context\":"
                 " {\"currentDraft\": \"Quality, Integrity, Excellence, Innovation, Respect, "
                 "Teamwork\"}}");
    print(result);
    assert_non_null(strstr(response(result), "generic words"));
    assert_non_null(strstr(response(result), "6 value(s)"));
    json_decref(result);
}

static void test_align_coaching_differs_between_messages(void **state)
{
    json_t *a = run("{\"topic\": \"purpose\", \"message\": \"We install rooftop solar so "
                    "homeowners pay less for clean energy\", \"context\": {}}");
    json_t *b = run("{\"topic\": \"purpose\", \"message\": \"We do payroll for small "
                    "restaurants\", \"context\": {}}");
    print(a);
    assert_string_not_equal(response(a), response(b));
    assert_non_null(strstr(response(a), "solar"));
    assert_non_null(strstr(response(b), "payroll"));
    assert_false(json_equal(json_object_get(a, "suggestions"), json_object_get(b, "suggestions")));
    json_decref(a);
    json_decref(b);
}

static void test_align_coaching_splits_value_lists(void **state)
{
    char values[8][48];
    size_t n =
        cq_align_coaching_split_values("Craft, honesty and warmth;\nCare & grit.", values, 8);
    assert_int_equal(n, 5);
    assert_string_equal(values[0], "Craft");
    assert_string_equal(values[2], "warmth");
    assert_string_equal(values[4], "grit");
    assert_int_equal(cq_align_coaching_split_values("We always treat every customer like a "
                                                    "neighbour and a friend",
                                                    values, 8),
                     1);
}

static void test_align_coaching_is_deterministic(void **state)
{
    const char *body = "{\"topic\": \"vision\", \"message\": \"Every home in the valley on "
                       "solar by 2035\", \"context\": {\"industry\": \"Solar\"}}";
    json_t *a = run(body), *b = run(body);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align_coaching_vision_names_strengths_and_gaps),
        cmocka_unit_test(test_align_coaching_values_are_split_and_tested),
        cmocka_unit_test(test_align_coaching_differs_between_messages),
        cmocka_unit_test(test_align_coaching_splits_value_lists),
        cmocka_unit_test(test_align_coaching_is_deterministic),
    };
    return cmocka_run_group_tests_name("cq_align_coaching", tests, setup, teardown);
}
