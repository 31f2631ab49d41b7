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
#include "cq_contract.h"

static cq_config_t *conf;
static cq_contract_t *contract;

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
    const cq_operation_t *op = cq_contract_find(contract, "strategy-suggestions");
    assert_non_null(op);
    json_t *request = parse(request_text);
    if (checked)
        assert_true(cq_schema_validate(op->request, request, NULL));
    json_t *result = NULL;
    char err[256] = "";
    cq_err_t rc = cq_align_strategy_compute(request, 0, &result, err, sizeof(err));
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

static void print(const json_t *result)
{
    if (getenv("CQ_TEST_PRINT")) {
        char *dump = json_dumps(result, JSON_INDENT(2));
        printf("%s\n", dump);
        free(dump);
    }
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
