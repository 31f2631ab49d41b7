/*
 * test_cq_align_onboarding.c — the built-in onboarding-suggestions engine
 * for its three kinds: drafts built from the business's own name,
 * industry and products, fixes for what a draft lacks, different answers
 * for different businesses, and results valid against
 * OnboardingSuggestionsResult.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_onboarding.h"
#include "cq_test_engine.h"

#define BAKERY_CONTEXT                                                                             \
    "\"context\": {\"businessName\": \"Rise & Crumb\", \"industry\": \"Bakery\", \"products\":"    \
    " [\"Sourdough bread\", \"Cinnamon buns\"]}"
#define SOLAR_CONTEXT                                                                              \
    "\"context\": {\"businessName\": \"Valley Sun\", \"industry\": \"Solar installation\","        \
    " \"products\": [\"Rooftop solar panels\"]}"

/* Runs the engine on a request, checks the result against the result
 * schema. The request must pass the request schema when checked is set;
 * requests with KPIs known only by sharedKpiId are run unchecked, as the
 * contract is about to allow them (the engine must cope either way). */
static json_t *run_as(const char *request_text, bool checked)
{
    return cq_test_run_engine("onboarding-suggestions", cq_align_onboarding_compute, 0,
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

static bool any_contains(const json_t *arr, const char *needle)
{
    const json_t *item;
    size_t i;
    json_array_foreach(arr, i, item) if (strstr(json_string_value(item), needle)) return true;
    return false;
}

static void test_align_onboarding_niche_uses_the_business(void **state)
{
    json_t *result = run("{\"kind\": \"niche\", " BAKERY_CONTEXT "}");
    print(result);
    assert_in_range(json_array_size(suggestions(result)), 3, 5);
    assert_true(any_contains(suggestions(result), "Sourdough bread"));
    assert_true(any_contains(suggestions(result), "Cinnamon buns"));
    assert_non_null(
        strstr(json_string_value(json_object_get(result, "reasoning")), "Rise & Crumb"));
    json_decref(result);
}

static void test_align_onboarding_fixes_what_the_draft_lacks(void **state)
{
    /* a value proposition without an audience or a difference */
    json_t *result = run(
        "{\"kind\": \"valueProposition\", \"current\": \"We bake sourdough\", " BAKERY_CONTEXT "}");
    print(result);
    const char *first = json_string_value(json_array_get(suggestions(result), 0));
    assert_non_null(strstr(first, "We bake sourdough"));
    assert_non_null(
        strstr(json_string_value(json_object_get(result, "reasoning")), "does not yet"));
    json_decref(result);
}

static void test_align_onboarding_kinds_and_businesses_differ(void **state)
{
    json_t *a = run("{\"kind\": \"ica\", " BAKERY_CONTEXT "}");
    json_t *b = run("{\"kind\": \"ica\", " SOLAR_CONTEXT "}");
    json_t *c = run("{\"kind\": \"niche\", " SOLAR_CONTEXT "}");
    json_t *d = run("{\"kind\": \"valueProposition\"}");
    print(b);
    print(d);
    assert_false(json_equal(suggestions(a), suggestions(b)));
    assert_false(json_equal(suggestions(b), suggestions(c)));
    assert_true(any_contains(suggestions(b), "Rooftop solar panels"));
    /* industry wording: homeowners for an installer, not for a bakery */
    assert_true(any_contains(suggestions(b), "homeowners"));
    assert_false(any_contains(suggestions(a), "homeowners"));
    /* nothing known: still three or more, and the reasoning says why */
    assert_in_range(json_array_size(suggestions(d)), 3, 5);
    assert_non_null(strstr(json_string_value(json_object_get(d, "reasoning")), "not recognised"));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}

static void test_align_onboarding_every_kind_answers_with_nothing_known(void **state)
{
    static const char *const kinds[] = {"niche", "ica", "valueProposition"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(kinds); i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"kind\": \"%s\"}", kinds[i]);
        json_t *result = run(body);
        assert_in_range(json_array_size(suggestions(result)), 3, 5);
        json_decref(result);
    }
}

static void test_align_onboarding_one_product_is_not_named_twice(void **state)
{
    json_t *result = run("{\"kind\": \"niche\", \"context\": {\"industry\": \"Bakery\","
                         " \"products\": [\"Sourdough bread\"]}}");
    assert_false(any_contains(suggestions(result), "Sourdough bread and Sourdough bread"));
    assert_true(any_contains(suggestions(result), "Sourdough bread"));
    json_decref(result);
}

static void test_align_onboarding_is_deterministic(void **state)
{
    json_t *a = run("{\"kind\": \"niche\", " SOLAR_CONTEXT "}");
    json_t *b = run("{\"kind\": \"niche\", " SOLAR_CONTEXT "}");
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align_onboarding_niche_uses_the_business),
        cmocka_unit_test(test_align_onboarding_fixes_what_the_draft_lacks),
        cmocka_unit_test(test_align_onboarding_kinds_and_businesses_differ),
        cmocka_unit_test(test_align_onboarding_every_kind_answers_with_nothing_known),
        cmocka_unit_test(test_align_onboarding_one_product_is_not_named_twice),
        cmocka_unit_test(test_align_onboarding_is_deterministic),
    };
    return cmocka_run_group_tests_name("cq_align_onboarding", tests, setup, teardown);
}
