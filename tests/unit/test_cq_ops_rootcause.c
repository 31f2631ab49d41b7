/*
 * test_cq_ops_rootcause.c — the built-in root-cause-suggestions engine:
 * which methods it picks for which texts, that their content comes from
 * the issue's own words (causal chain, fishbone terms, pareto shares,
 * SWOT sentences), that every result passes the contract's result schema,
 * and determinism.
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
#include "cq_ops_rootcause.h"
#include "cq_ops_swot.h"

static const char *const delivery_issue =
    "{\"issueTitle\": \"Late deliveries to restaurant customers\","
    " \"issueDescription\": \"Over the last month 38 deliveries arrived late. Most late "
    "deliveries happen because the van breaks down on Mondays. The van breaks down because "
    "maintenance was skipped after our mechanic left. Drivers also wait 40 minutes at the "
    "warehouse due to a manual loading checklist; 12 orders were missing items.\","
    " \"businessImpact\": \"Two restaurant customers threatened to cancel their contracts.\","
    " \"context\": {\"relatedActions\": [\"Hire a second driver\"], \"affectedAreas\": "
    "[\"Logistics\"]}}";

static const char *const market_issue =
    "{\"issueTitle\": \"Losing market share to a new competitor\","
    " \"issueDescription\": \"A new competitor opened two blocks away with cheaper prices. Our "
    "loyal customers still love our handmade bread. Our online ordering is outdated and slow. "
    "There is growing demand for gluten-free products that nobody in town serves.\","
    " \"businessImpact\": \"Revenue dropped and growth has stalled.\"}";

static const char *const returns_issue =
    "{\"issueTitle\": \"Too many returns of online orders\","
    " \"issueDescription\": \"60% of returns are wrong sizes, 25% are damaged parcels and 15% "
    "are late deliveries.\","
    " \"businessImpact\": \"Returns cost us the margin on every fifth order.\"}";

/* Runs the engine on a request text; the result is valid by contract. */
static json_t *run(const char *text)
{
    return cq_test_run_engine("root-cause-suggestions", cq_ops_rootcause_compute, 0, text, true);
}

static const json_t *method(const json_t *result, const char *name)
{
    for (size_t i = 0; i < json_array_size(result); i++) {
        const json_t *m = json_array_get(result, i);
        if (strcmp(json_string_value(json_object_get(m, "method")), name) == 0)
            return json_object_get(m, "suggestions");
    }
    return NULL;
}

static bool contains(const json_t *v, const char *needle)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    bool found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_ops_rootcause_chain_follows_stated_causes(void **state)
{
    json_t *result = run(delivery_issue);
    const json_t *fw = method(result, "five_whys");
    assert_non_null(fw);
    const json_t *whys = json_object_get(fw, "whys");
    assert_in_range(json_array_size(whys), 3, 5);
    /* The chain: late -> the van breaks down -> maintenance was skipped. */
    const char *a0 = json_string_value(json_object_get(json_array_get(whys, 0), "answer"));
    const char *a1 = json_string_value(json_object_get(json_array_get(whys, 1), "answer"));
    const char *q1 = json_string_value(json_object_get(json_array_get(whys, 1), "question"));
    assert_non_null(strstr(a0, "van breaks down"));
    assert_non_null(strstr(a1, "maintenance was skipped"));
    assert_non_null(strstr(q1, "van breaks down")); /* the question quotes the answer before */
    assert_non_null(strstr(json_string_value(json_object_get(fw, "rootCause")), "maintenance"));
    /* The related action is questioned among the countermeasures. */
    assert_true(contains(json_object_get(fw, "countermeasures"), "Hire a second driver"));
    json_decref(result);
}

static void test_ops_rootcause_fishbone_places_terms(void **state)
{
    json_t *result = run(delivery_issue);
    const json_t *fb = method(result, "fishbone");
    assert_non_null(fb);
    const json_t *cats = json_object_get(fb, "categories");
    bool equipment = false, people = false;
    for (size_t i = 0; i < json_array_size(cats); i++) {
        const json_t *c = json_array_get(cats, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        if (strcmp(name, "Equipment / Technology") == 0)
            equipment = contains(json_object_get(c, "causes"), "van");
        if (strcmp(name, "People") == 0)
            people = contains(json_object_get(c, "causes"), "Drivers");
    }
    assert_true(equipment);
    assert_true(people);
    assert_true(json_array_size(json_object_get(fb, "likelyRootCauses")) > 0);
    json_decref(result);
}

static void test_ops_rootcause_pareto_from_counts(void **state)
{
    json_t *result = run(delivery_issue);
    const json_t *pa = method(result, "pareto");
    assert_non_null(pa);
    const json_t *factors = json_object_get(pa, "factors");
    /* 38 late deliveries and 12 orders with missing items (the 40 minutes are
     * a duration, not a count): 76 % and 24 %. */
    assert_int_equal(json_array_size(factors), 2);
    const json_t *f0 = json_array_get(factors, 0);
    assert_non_null(strstr(json_string_value(json_object_get(f0, "cause")), "38 deliveries"));
    assert_true(json_number_value(json_object_get(f0, "impactPercent")) == 76.0);
    const json_t *f1 = json_array_get(factors, 1);
    assert_true(json_number_value(json_object_get(f1, "cumulativePercent")) == 100.0);
    json_decref(result);
}

static void test_ops_rootcause_stated_percentages_are_kept(void **state)
{
    json_t *result = run(returns_issue);
    const json_t *pa = method(result, "pareto");
    assert_non_null(pa);
    const json_t *factors = json_object_get(pa, "factors");
    assert_int_equal(json_array_size(factors), 3);
    const double want[] = {60, 25, 15}, cum[] = {60, 85, 100};
    for (size_t i = 0; i < 3; i++) {
        const json_t *f = json_array_get(factors, i);
        assert_true(json_number_value(json_object_get(f, "impactPercent")) == want[i]);
        assert_true(json_number_value(json_object_get(f, "cumulativePercent")) == cum[i]);
    }
    /* The vital few reach 80 %: sizes and damaged parcels. */
    const json_t *vital = json_object_get(pa, "vitalFew");
    assert_int_equal(json_array_size(vital), 2);
    assert_non_null(strstr(json_string_value(json_array_get(vital, 0)), "wrong sizes"));
    json_decref(result);
}

static void test_ops_rootcause_strategic_issue_gets_swot(void **state)
{
    json_t *result = run(market_issue);
    const json_t *sw = method(result, "swot");
    assert_non_null(sw);
    assert_true(contains(json_object_get(sw, "threats"), "competitor opened two blocks away"));
    assert_true(contains(json_object_get(sw, "strengths"), "loyal customers"));
    assert_true(contains(json_object_get(sw, "weaknesses"), "online ordering is outdated"));
    assert_true(contains(json_object_get(sw, "opportunities"), "gluten-free"));
    /* No counts in the text: no pareto. And the delivery issue is not strategic. */
    assert_null(method(result, "pareto"));
    json_t *delivery = run(delivery_issue);
    assert_null(method(delivery, "swot"));
    json_decref(delivery);
    json_decref(result);
}

static void test_ops_rootcause_different_issues_differ(void **state)
{
    json_t *a = run(delivery_issue), *b = run(market_issue);
    assert_false(json_equal(a, b));
    assert_true(contains(a, "van"));
    assert_false(contains(b, "van"));
    assert_true(contains(b, "competitor"));
    assert_false(contains(a, "competitor"));
    json_decref(a);
    json_decref(b);
}

static void test_ops_rootcause_plain_issue_gets_five_whys_only(void **state)
{
    json_t *result = run("{\"issueTitle\": \"Morale is low\", \"issueDescription\": \"Everyone "
                         "seems tired and unhappy lately.\", \"businessImpact\": \"Hard to "
                         "say.\"}");
    assert_int_equal(json_array_size(result), 1);
    const json_t *fw = method(result, "five_whys");
    assert_non_null(fw);
    assert_int_equal(json_array_size(json_object_get(fw, "whys")), 3);
    assert_true(contains(fw, "Morale is low"));
    json_decref(result);
}

static void test_ops_rootcause_deterministic(void **state)
{
    json_t *a = run(delivery_issue), *b = run(delivery_issue);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

static void test_ops_rootcause_swot_negated_strength_is_weakness(void **state)
{
    size_t placed = 0;
    json_t *sw = cq_ops_swot_build("Our staff is not experienced. Our staff is experienced. "
                                   "The weather was nice.",
                                   &placed);
    assert_non_null(sw);
    assert_int_equal(placed, 2);
    assert_true(contains(json_object_get(sw, "weaknesses"), "not experienced"));
    assert_true(contains(json_object_get(sw, "strengths"), "Our staff is experienced"));
    json_decref(sw);
}

static void test_ops_rootcause_refuses_non_object(void **state)
{
    json_t *result = NULL, *req = json_string("x");
    char err[128] = "";
    assert_int_equal(cq_ops_rootcause_compute(req, 0, &result, err, sizeof(err)),
                     CQ_ERR_BAD_REQUEST);
    assert_null(result);
    json_decref(req);
}

/* A description at the 5000-character limit, full of counts and causes:
 * every list stays within the result schema's limits. */
static void test_ops_rootcause_longest_issue_fits_schema(void **state)
{
    char desc[5001];
    size_t len = 0;
    for (int i = 1; len + 120 < sizeof(desc); i++)
        len += (size_t)snprintf(desc + len, sizeof(desc) - len,
                                "%d orders from the market failed because staff skipped the "
                                "checklist, %d complaints. ",
                                i * 3, i);
    json_t *req =
        json_pack("{s:s, s:s, s:s, s:{s:[s,s,s,s,s,s], s:[s]}}", "issueTitle",
                  "Orders fail and competitors grow", "issueDescription", desc, "businessImpact",
                  "Growth of market share stalls", "context", "relatedActions", "a", "b", "c", "d",
                  "e", "f", "affectedAreas", "Sales");
    char *text = json_dumps(req, 0);
    json_t *result = run(text);
    assert_in_range(json_array_size(result), 1, 3);
    const json_t *pa = method(result, "pareto");
    assert_non_null(pa);
    assert_int_equal(json_array_size(json_object_get(pa, "factors")), 20);
    free(text);
    json_decref(result);
    json_decref(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_rootcause_chain_follows_stated_causes),
        cmocka_unit_test(test_ops_rootcause_fishbone_places_terms),
        cmocka_unit_test(test_ops_rootcause_pareto_from_counts),
        cmocka_unit_test(test_ops_rootcause_stated_percentages_are_kept),
        cmocka_unit_test(test_ops_rootcause_strategic_issue_gets_swot),
        cmocka_unit_test(test_ops_rootcause_different_issues_differ),
        cmocka_unit_test(test_ops_rootcause_plain_issue_gets_five_whys_only),
        cmocka_unit_test(test_ops_rootcause_deterministic),
        cmocka_unit_test(test_ops_rootcause_swot_negated_strength_is_weakness),
        cmocka_unit_test(test_ops_rootcause_refuses_non_object),
        cmocka_unit_test(test_ops_rootcause_longest_issue_fits_schema),
    };
    return cmocka_run_group_tests_name("ops_rootcause", tests, setup, teardown);
}
