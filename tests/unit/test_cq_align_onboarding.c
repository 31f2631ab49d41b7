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
#include "cq_contract.h"

static cq_config_t *conf;
static cq_contract_t *contract;

#define BAKERY_CONTEXT                                                                             \
    "\"context\": {\"businessName\": \"Rise & Crumb\", \"industry\": \"Bakery\", \"products\":"    \
    " [\"Sourdough bread\", \"Cinnamon buns\"]}"
#define SOLAR_CONTEXT                                                                              \
    "\"context\": {\"businessName\": \"Valley Sun\", \"industry\": \"Solar installation\","        \
    " \"products\": [\"Rooftop solar panels\"]}"

static int setup(void **state)
{
    char err[512];
    conf = cq_config_new();
    contract = cq_contract_new(conf, err, sizeof(err));
    if (!contract)
        fprintf(stderr, "contract: %s\n", err);
    return contract ? 0 : -1;
}

static int teardown(void **state)
{
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    return 0;
}

static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    if (!json)
        fail_msg("bad test JSON: %s: %s", error.text, text);
    return json;
}

/* Runs the engine on a request, checks the result against the result
 * schema. The request must pass the request schema when checked is set;
 * requests with KPIs known only by sharedKpiId are run unchecked, as the
 * contract is about to allow them (the engine must cope either way). */
static json_t *run_as(const char *request_text, bool checked)
{
    const cq_operation_t *op = cq_contract_find(contract, "onboarding-suggestions");
    assert_non_null(op);
    json_t *request = parse(request_text);
    if (checked)
        assert_true(cq_schema_validate(op->request, request, NULL));
    json_t *result = NULL;
    char err[256] = "";
    cq_err_t rc = cq_align_onboarding_compute(request, 0, &result, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("engine failed: %s", err);
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    if (!cq_schema_validate(op->result, result, &errors)) {
        char *dump = json_dumps(result, JSON_INDENT(1));
        fail_msg("result invalid at %s: %s\n%s", errors.items[0].path, errors.items[0].message,
                 dump);
    }
    cq_schema_errors_clear(&errors);
    json_decref(request);
    return result;
}

static json_t *run(const char *request_text)
{
    return run_as(request_text, true);
}

static void print(const json_t *result)
{
    if (getenv("CQ_TEST_PRINT")) {
        char *dump = json_dumps(result, JSON_INDENT(2));
        printf("%s\n", dump);
        free(dump);
    }
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
