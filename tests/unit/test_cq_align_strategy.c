/*
 * test_cq_align_strategy.c — the built-in strategy-suggestions engine:
 * strategies chosen by goal type, adapted to the goal's words, never
 * repeating an existing strategy, respecting budget and timeline, and
 * valid against StrategySuggestionsResult.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_strategy.h"
#include "cq_test_engine.h"

static const char *const bakery =
    "{\"goalIntent\": \"Get more regulars to come back for sourdough every week\","
    " \"businessContext\": {\"industry\": \"Bakery\", \"targetMarket\": \"Families in the "
    "neighbourhood\", \"currentChallenges\": [\"Customers try us once and do not return\"],"
    " \"coreValues\": [\"Community\", \"Craft\"]},"
    " \"existingStrategies\": [\"Loyalty card with a reward for regulars\"]}";

static const char *const saas =
    "{\"goalIntent\": \"Win 200 new accounting clients among freelancers\","
    " \"businessContext\": {\"industry\": \"SaaS\", \"businessType\": \"B2B SaaS\","
    " \"targetMarket\": \"Freelancers and small agencies\"},"
    " \"existingStrategies\": [\"Referral rewards for current clients\"],"
    " \"constraints\": {\"budget\": 2000, \"timeline\": \"3 months\", \"resources\":"
    " [\"Two sales people\", \"A CRM\"]}}";

static const char *const migration =
    "{\"goalIntent\": \"Migrate the payroll database to PostgreSQL without downtime\","
    " \"businessContext\": {}, \"existingStrategies\": []}";

/* Runs the engine on a request, checks the result against the result
 * schema. The request must pass the request schema when checked is set;
 * requests with KPIs known only by sharedKpiId are run unchecked, as the
 * contract is about to allow them (the engine must cope either way). */
static json_t *run_as(const char *request_text, bool checked)
{
    return cq_test_run_engine("strategy-suggestions", cq_align_strategy_compute, 0, request_text,
                              checked);
}

static json_t *run(const char *request_text)
{
    return run_as(request_text, true);
}

static const json_t *suggestion(const json_t *result, size_t i)
{
    return json_array_get(json_object_get(result, "suggestions"), i);
}

static const char *field(const json_t *s, const char *key)
{
    return json_string_value(json_object_get(s, key));
}

/* Whether any suggestion's key field contains needle. */
static bool any_field(const json_t *result, const char *key, const char *needle)
{
    const json_t *s;
    size_t i;
    json_array_foreach(json_object_get(result, "suggestions"), i, s)
    {
        if (strstr(field(s, key), needle))
            return true;
    }
    return false;
}

static void test_align_strategy_fits_the_goal_type_and_skips_existing(void **state)
{
    json_t *result = run(bakery);
    print(result);
    size_t n = json_array_size(json_object_get(result, "suggestions"));
    assert_in_range(n, 3, 5);
    /* the goal's focus names the strategies */
    assert_true(any_field(result, "title", "regulars") || any_field(result, "title", "sourdough"));
    assert_true(any_field(result, "description", "Families in the neighbourhood"));
    /* the loyalty card exists already: no loyalty programme again */
    assert_false(any_field(result, "title", "Loyalty"));
    assert_non_null(strstr(field(result, "reasoning"), "Loyalty card"));
    /* the challenge is answered by name */
    assert_true(any_field(result, "rationale", "do not return"));
    json_decref(result);
}

static void test_align_strategy_respects_constraints(void **state)
{
    json_t *result = run(saas);
    print(result);
    assert_true(any_field(result, "rationale", "3 months"));
    assert_true(any_field(result, "rationale", "budget of 2000"));
    /* given resources that fit a strategy are listed for it */
    bool listed = false;
    const json_t *s;
    size_t i;
    json_array_foreach(json_object_get(result, "suggestions"), i, s)
    {
        assert_true(json_number_value(json_object_get(s, "estimatedCost")) >= 0);
        const json_t *r;
        size_t k;
        json_array_foreach(json_object_get(s, "requiredResources"), k, r)
        {
            listed |= strstr(json_string_value(r), "Your ") != NULL;
        }
    }
    assert_true(listed);
    assert_non_null(strstr(field(result, "reasoning"), "customer acquisition"));
    /* referrals are in place already: no referral programme */
    assert_false(any_field(result, "title", "Referral"));
    json_decref(result);
}

static void test_align_strategy_differs_between_goals(void **state)
{
    json_t *a = run(bakery), *b = run(saas), *c = run(migration);
    print(c);
    assert_string_not_equal(field(suggestion(a, 0), "title"), field(suggestion(b, 0), "title"));
    assert_string_not_equal(field(suggestion(b, 0), "title"), field(suggestion(c, 0), "title"));
    assert_true(any_field(c, "title", "payroll") || any_field(c, "title", "database"));
    assert_true(any_field(c, "title", "migration") || any_field(c, "title", "Migrat"));
    /* richer context gives more confidence */
    assert_true(json_number_value(json_object_get(b, "confidence")) >
                json_number_value(json_object_get(c, "confidence")));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_align_strategy_is_deterministic(void **state)
{
    json_t *a = run(saas), *b = run(saas);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

static void test_align_strategy_reads_timelines(void **state)
{
    assert_true(fabs(cq_align_strategy_timeline_months("6 months") - 6) < 1e-9);
    assert_true(fabs(cq_align_strategy_timeline_months("within 1 year") - 12) < 1e-9);
    assert_true(fabs(cq_align_strategy_timeline_months("12 weeks") - 2.76) < 0.01);
    assert_true(cq_align_strategy_timeline_months("asap") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align_strategy_fits_the_goal_type_and_skips_existing),
        cmocka_unit_test(test_align_strategy_respects_constraints),
        cmocka_unit_test(test_align_strategy_differs_between_goals),
        cmocka_unit_test(test_align_strategy_is_deterministic),
        cmocka_unit_test(test_align_strategy_reads_timelines),
    };
    return cmocka_run_group_tests_name("cq_align_strategy", tests, setup, teardown);
}
