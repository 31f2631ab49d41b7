/*
 * test_cq_ops_analysis.c — the deprecated operations-analysis engine:
 * sentence-level SWOT with paired recommendations, and root_cause /
 * action_plan delegating to their successor engines with a request that
 * passes the successor's schema and a result wrapped as the contract says.
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
#include "cq_ops_analysis.h"
#include "cq_ops_rootcause.h"

static const char *const swot_request =
    "{\"analysisType\": \"swot\", \"description\": \"Our bakers are experienced and our "
    "sourdough has a loyal following. The shop lacks an online ordering system and deliveries "
    "are often late. Office parks nearby keep asking for catering, a new opportunity. A "
    "supermarket chain is opening a cheaper bakery counter next month.\"}";

static const char *const root_request =
    "{\"analysisType\": \"root_cause\", \"description\": \"Customer complaints doubled this "
    "quarter because support tickets wait three days for an answer. Tickets wait because the "
    "helpdesk software assigns them to agents who are on leave.\", \"context\": "
    "{\"affectedAreas\": [\"Support\"]}}";

static const char *const plan_request =
    "{\"analysisType\": \"action_plan\", \"description\": \"Stock-outs of flour every Friday "
    "stop the morning bake; the supplier delivers late.\", \"context\": {\"timeline\": \"2 "
    "weeks\", \"budget\": 2000, \"availableResources\": [\"Head baker\", \"Purchasing "
    "manager\"], \"relatedGoals\": [\"Bake every morning without gaps\"]}}";

static void assert_valid(const char *op_name, bool request, const json_t *v)
{
    const cq_operation_t *op = cq_contract_find(contract, op_name);
    assert_non_null(op);
    cq_schema_errors_t errors = {0};
    bool ok = cq_schema_validate(request ? op->request : op->result, v, &errors);
    for (size_t i = 0; i < errors.count; i++)
        fprintf(stderr, "%s: %s\n", errors.items[i].path, errors.items[i].message);
    cq_schema_errors_clear(&errors);
    assert_true(ok);
}

static json_t *run(const char *text)
{
    return cq_test_run_engine("operations-analysis", cq_ops_analysis_compute, 0, text, true);
}

static bool contains(const json_t *v, const char *needle)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    bool found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_ops_analysis_swot_places_sentences(void **state)
{
    json_t *result = run(swot_request);
    const json_t *f = json_object_get(result, "findings");
    assert_string_equal(json_string_value(json_object_get(result, "analysisType")), "swot");
    assert_true(contains(json_object_get(f, "strengths"), "bakers are experienced"));
    assert_true(contains(json_object_get(f, "weaknesses"), "lacks an online ordering"));
    assert_true(contains(json_object_get(f, "opportunities"), "asking for catering"));
    assert_true(contains(json_object_get(f, "threats"), "supermarket chain"));
    /* Strength x opportunity first, then the other pairs. */
    const char *first =
        json_string_value(json_array_get(json_object_get(result, "recommendations"), 0));
    assert_non_null(strstr(first, "bakers are experienced"));
    assert_non_null(strstr(first, "catering"));
    const json_t *pa = json_object_get(result, "priorityActions");
    assert_non_null(strstr(json_string_value(json_array_get(pa, 0)), "Fix:"));
    assert_non_null(strstr(json_string_value(json_array_get(pa, 0)), "online ordering"));
    json_decref(result);
}

static void test_ops_analysis_swot_without_cues_says_how(void **state)
{
    json_t *result = run("{\"analysisType\": \"swot\", \"description\": \"We sell bread and "
                         "cake in town.\"}");
    const json_t *f = json_object_get(result, "findings");
    assert_int_equal(json_array_size(json_object_get(f, "strengths")) +
                         json_array_size(json_object_get(f, "weaknesses")) +
                         json_array_size(json_object_get(f, "opportunities")) +
                         json_array_size(json_object_get(f, "threats")),
                     0);
    assert_int_equal(json_array_size(json_object_get(result, "recommendations")), 1);
    assert_true(contains(result, "separate sentences"));
    json_decref(result);
}

static void test_ops_analysis_root_cause_delegates(void **state)
{
    json_t *req = parse(root_request);
    json_t *sub = cq_ops_analysis_successor_request(req);
    assert_non_null(sub);
    assert_valid("root-cause-suggestions", true, sub);
    /* The title is the first sentence without its cause. */
    assert_string_equal(json_string_value(json_object_get(sub, "issueTitle")),
                        "Customer complaints doubled this quarter");
    assert_true(contains(json_object_get(sub, "context"), "Support"));

    json_t *direct = NULL;
    char err[128];
    assert_int_equal(cq_ops_rootcause_compute(sub, 0, &direct, err, sizeof(err)), CQ_ERR_OK);
    json_t *result = run(root_request);
    assert_string_equal(json_string_value(json_object_get(result, "analysisType")), "root_cause");
    assert_true(
        json_equal(json_object_get(json_object_get(result, "findings"), "rootCauses"), direct));
    /* Its advice is the successor's: the deepest stated cause, countermeasures. */
    assert_true(contains(json_object_get(result, "recommendations"), "helpdesk software"));
    assert_true(json_array_size(json_object_get(result, "priorityActions")) > 0);
    json_decref(result);
    json_decref(direct);
    json_decref(sub);
    json_decref(req);
}

static void test_ops_analysis_action_plan_delegates(void **state)
{
    json_t *req = parse(plan_request);
    json_t *sub = cq_ops_analysis_successor_request(req);
    assert_non_null(sub);
    assert_valid("action-suggestions", true, sub);
    const json_t *c = json_object_get(sub, "constraints");
    assert_string_equal(json_string_value(json_object_get(c, "timeline")), "2 weeks");
    assert_true(json_number_value(json_object_get(c, "budget")) == 2000);
    assert_true(contains(json_object_get(sub, "context"), "Bake every morning"));

    json_t *direct = NULL;
    char err[128];
    assert_int_equal(cq_ops_actions_compute(sub, 0, &direct, err, sizeof(err)), CQ_ERR_OK);
    json_t *result = run(plan_request);
    const json_t *actions = json_object_get(json_object_get(result, "findings"), "actions");
    assert_true(json_equal(actions, direct));
    /* Materials: flour, stock, supplier. */
    assert_true(contains(actions, "Secure reliable"));
    assert_true(contains(actions, "Purchasing manager"));
    const json_t *pa = json_object_get(result, "priorityActions");
    assert_true(json_array_size(pa) > 0);
    assert_string_equal(json_string_value(json_array_get(pa, 0)),
                        json_string_value(json_object_get(json_array_get(actions, 0), "title")));
    json_decref(result);
    json_decref(direct);
    json_decref(sub);
    json_decref(req);
}

static void test_ops_analysis_different_descriptions_differ(void **state)
{
    json_t *a = run(swot_request);
    json_t *b = run("{\"analysisType\": \"swot\", \"description\": \"Our engineers are "
                    "skilled. Cloud costs are rising and a competitor undercut our price.\"}");
    assert_false(json_equal(a, b));
    assert_true(contains(b, "engineers are skilled"));
    assert_false(contains(a, "engineers"));
    json_t *c = run(swot_request);
    assert_true(json_equal(a, c));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_ops_analysis_successor_request_only_for_delegated(void **state)
{
    json_t *req = parse(swot_request);
    assert_null(cq_ops_analysis_successor_request(req));
    json_decref(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_analysis_swot_places_sentences),
        cmocka_unit_test(test_ops_analysis_swot_without_cues_says_how),
        cmocka_unit_test(test_ops_analysis_root_cause_delegates),
        cmocka_unit_test(test_ops_analysis_action_plan_delegates),
        cmocka_unit_test(test_ops_analysis_different_descriptions_differ),
        cmocka_unit_test(test_ops_analysis_successor_request_only_for_delegated),
    };
    return cmocka_run_group_tests_name("ops_analysis", tests, setup, teardown);
}
