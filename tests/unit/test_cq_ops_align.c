/*
 * test_cq_ops_align.c — the built-in strategic-alignment engine: actions
 * linked to the goals they serve (sorted), actions tied to no goal and
 * goals with no action called out, overallAlignment derived from the
 * scores, free-text statuses mapped, input-specific answers, contract
 * validity (also of requests as the real product sends them) and
 * determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_test_engine.h"
#include "cq_ops_align.h"

static const char *const bakery_request =
    "{\"actions\": ["
    " {\"id\": \"a1\", \"title\": \"Launch a sourdough subscription\", \"description\": \"Weekly "
    "bread box delivered to families in the neighborhood\", \"priority\": \"high\", \"status\": "
    "\"open\"},"
    " {\"id\": \"a2\", \"title\": \"Repaint the storage room\", \"description\": \"Fresh paint in "
    "the back room\", \"priority\": \"critical\", \"status\": \"in progress\"},"
    " {\"id\": \"a3\", \"title\": \"Host community baking classes\", \"description\": \"Monthly "
    "classes for neighbors to bake bread together\", \"priority\": \"low\", \"status\": "
    "\"blocked\"},"
    " {\"id\": \"a4\", \"title\": \"Old loyalty card idea\", \"description\": \"Punch cards for "
    "coffee\", \"priority\": \"medium\", \"status\": \"dropped\"}],"
    " \"goals\": ["
    " {\"id\": \"g1\", \"intent\": \"Grow recurring bread sales to local families\", "
    "\"strategies\": [\"Subscriptions and home delivery of fresh bread\"]},"
    " {\"id\": \"g2\", \"intent\": \"Become the heart of the neighborhood community\", "
    "\"strategies\": [\"Events and classes that bring neighbors together\"]},"
    " {\"id\": \"g3\", \"intent\": \"Cut energy costs of the ovens by 20%\", \"strategies\": []}],"
    " \"businessFoundation\": {\"vision\": \"The neighborhood's favourite bakery, baking fresh "
    "bread every morning\", \"purpose\": \"Bring people together over honest, handmade food\", "
    "\"coreValues\": [\"Quality\", \"Community\"]}}";

static const char *const saas_request =
    "{\"actions\": ["
    " {\"id\": \"s1\", \"title\": \"Automate bank reconciliation\", \"description\": \"Match bank "
    "transactions to invoices without manual bookkeeping\", \"priority\": \"high\", \"status\": "
    "\"not_started\"},"
    " {\"id\": \"s2\", \"title\": \"Sponsor a football team\", \"description\": \"Logo on the "
    "shirts of the local club\", \"priority\": \"high\", \"status\": \"pending\"}],"
    " \"goals\": ["
    " {\"id\": \"k1\", \"intent\": \"Make bookkeeping effortless for freelancers\", "
    "\"strategies\": [\"Automate reconciliation and invoicing\"]}],"
    " \"businessFoundation\": {\"vision\": \"Help small businesses grow by making accounting "
    "effortless\", \"purpose\": \"Give founders time back\", \"coreValues\": [\"Simplicity\"]}}";

static bool is_valid(const char *op_name, bool request, const json_t *v)
{
    const cq_operation_t *op = cq_contract_find(contract, op_name);
    assert_non_null(op);
    cq_schema_errors_t errors = {0};
    bool ok = cq_schema_validate(request ? op->request : op->result, v, &errors);
    for (size_t i = 0; i < errors.count; i++)
        fprintf(stderr, "%s: %s\n", errors.items[i].path, errors.items[i].message);
    cq_schema_errors_clear(&errors);
    return ok;
}

static json_t *run(const char *text)
{
    json_t *req = parse(text), *result = NULL;
    char err[256] = "";
    assert_true(is_valid("strategic-alignment", true, req));
    cq_err_t rc = cq_ops_align_compute(req, 0, &result, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("engine failed: %s", err);
    assert_true(is_valid("strategic-alignment", false, result));
    json_decref(req);
    return result;
}

static const json_t *entry(const json_t *result, const char *action_id)
{
    const json_t *arr = json_object_get(result, "alignmentAnalysis");
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(arr, i), "actionId")),
                   action_id) == 0)
            return json_array_get(arr, i);
    fail_msg("no entry for %s", action_id);
    return NULL;
}

static bool contains(const json_t *v, const char *needle)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    bool found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

static int score(const json_t *obj)
{
    return (int)json_integer_value(json_object_get(obj, "alignmentScore"));
}

/* ---- tests ---------------------------------------------------------------- */

static void test_ops_align_links_actions_to_their_goals(void **state)
{
    json_t *result = run(bakery_request);
    const json_t *a1 = entry(result, "a1"), *a3 = entry(result, "a3");
    const json_t *c1 = json_object_get(a1, "strategicConnections");
    const json_t *c3 = json_object_get(a3, "strategicConnections");
    assert_true(json_array_size(c1) >= 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c1, 0), "goalId")), "g1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(c3, 0), "goalId")), "g2");
    /* Sorted, best first, and every connection reaches the link threshold. */
    for (size_t i = 0; i < json_array_size(c1); i++) {
        assert_true(score(json_array_get(c1, i)) >= CQ_OPS_ALIGN_LINK);
        if (i > 0)
            assert_true(score(json_array_get(c1, i - 1)) >= score(json_array_get(c1, i)));
    }
    /* Serving a goal scores above repainting a room. */
    assert_true(score(a1) > score(entry(result, "a2")) + 20);
    json_decref(result);
}

static void test_ops_align_calls_out_orphans_and_uncovered_goals(void **state)
{
    json_t *result = run(bakery_request);
    const json_t *a2 = entry(result, "a2");
    assert_int_equal(json_array_size(json_object_get(a2, "strategicConnections")), 0);
    assert_true(contains(json_object_get(a2, "recommendations"), "serves none of the goals"));
    const json_t *insights = json_object_get(result, "insights");
    assert_true(
        contains(insights, "Actions tied to no goal: \u201cRepaint the storage room\u201d"));
    assert_true(contains(insights, "Goals no action serves: \u201cCut energy costs"));
    /* The blocked action that serves a goal and the low priority one that
     * aligns strongly are named. */
    assert_true(contains(json_object_get(entry(result, "a3"), "recommendations"), "blocked"));
    assert_true(contains(json_object_get(entry(result, "a3"), "recommendations"), "raising"));
    /* A cancelled action gets no recommendations. */
    assert_int_equal(json_array_size(json_object_get(entry(result, "a4"), "recommendations")), 0);
    json_decref(result);
}

static void test_ops_align_overall_is_derived_from_scores(void **state)
{
    const char *const requests[] = {bakery_request, saas_request};
    for (size_t r = 0; r < 2; r++) {
        json_t *req = parse(requests[r]);
        json_t *result = run(requests[r]);
        const json_t *arr = json_object_get(result, "alignmentAnalysis");
        const json_t *actions = json_object_get(req, "actions");
        size_t ngoals = json_array_size(json_object_get(req, "goals"));
        double sum = 0;
        size_t counted = 0;
        json_t *served = json_object();
        for (size_t i = 0; i < json_array_size(arr); i++) {
            const char *status =
                json_string_value(json_object_get(json_array_get(actions, i), "status"));
            if (cq_ops_align_status(status) == CQ_OPS_STATUS_CANCELLED)
                continue;
            sum += score(json_array_get(arr, i));
            counted++;
            const json_t *conns = json_object_get(json_array_get(arr, i), "strategicConnections");
            for (size_t k = 0; k < json_array_size(conns); k++)
                json_object_set_new(
                    served, json_string_value(json_object_get(json_array_get(conns, k), "goalId")),
                    json_true());
        }
        double mean = sum / (double)counted;
        long want = lround(mean * (0.8 + 0.2 * (double)json_object_size(served) / (double)ngoals));
        assert_int_equal(json_integer_value(json_object_get(result, "overallAlignment")), want);
        json_decref(served);
        json_decref(result);
        json_decref(req);
    }
}

static void test_ops_align_different_inputs_differ(void **state)
{
    json_t *a = run(bakery_request), *b = run(saas_request);
    assert_false(json_equal(a, b));
    assert_true(contains(b, "reconciliation") || contains(b, "bookkeeping"));
    assert_false(contains(a, "bookkeeping"));
    /* The sponsorship serves no goal; the reconciliation does. */
    assert_true(json_array_size(json_object_get(entry(b, "s1"), "strategicConnections")) == 1);
    assert_true(json_array_size(json_object_get(entry(b, "s2"), "strategicConnections")) == 0);
    assert_true(contains(json_object_get(entry(b, "s2"), "recommendations"), "priority"));
    json_t *c = run(bakery_request);
    assert_true(json_equal(a, c));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

static void test_ops_align_status_mapping(void **state)
{
    assert_int_equal(cq_ops_align_status("open"), CQ_OPS_STATUS_PLANNED);
    assert_int_equal(cq_ops_align_status("not_started"), CQ_OPS_STATUS_PLANNED);
    assert_int_equal(cq_ops_align_status("In Progress"), CQ_OPS_STATUS_ACTIVE);
    assert_int_equal(cq_ops_align_status("on-hold"), CQ_OPS_STATUS_BLOCKED);
    assert_int_equal(cq_ops_align_status("DONE"), CQ_OPS_STATUS_DONE);
    assert_int_equal(cq_ops_align_status("wontfix"), CQ_OPS_STATUS_CANCELLED);
    assert_int_equal(cq_ops_align_status("whatever"), CQ_OPS_STATUS_UNKNOWN);
    assert_int_equal(cq_ops_align_status(""), CQ_OPS_STATUS_UNKNOWN);
}

/* Issue 8, item 4: what the product sends is accepted by the contract. */
static void test_ops_align_contract_accepts_real_client_values(void **state)
{
    json_t *req = parse(bakery_request); /* statuses "open", "in progress", "dropped" */
    assert_true(is_valid("strategic-alignment", true, req));
    json_t *long_status = json_string("this status is far longer than fifty characters, too long");
    json_object_set_new(json_array_get(json_object_get(req, "actions"), 0), "status", long_status);
    assert_false(is_valid("strategic-alignment", true, req));
    json_decref(req);

    json_t *prio = parse("{\"actions\": [{\"id\": \"a\", \"title\": \"t\", \"currentPriority\": "
                         "\"high\", \"status\": \"open\", \"impact\": \"5\", \"effort\": \"2 "
                         "days\", \"linkedGoals\": []}], \"businessContext\": {\"currentGoals\": "
                         "[], \"constraints\": [], \"urgentDeadlines\": []}}");
    assert_true(is_valid("prioritization-suggestions", true, prio));
    json_decref(prio);

    json_t *kpi = parse("{\"goal\": {\"intent\": \"Grow\", \"strategies\": [], \"kpis\": "
                        "[{\"sharedKpiId\": \"kpi-mrr\"}, {\"name\": \"Churn\"}]}, "
                        "\"businessFoundation\": {\"vision\": \"v\", \"purpose\": \"p\", "
                        "\"coreValues\": [\"c\"]}}");
    assert_true(is_valid("alignment-explanation", true, kpi));
    assert_true(is_valid("alignment-suggestions", true, kpi));
    json_decref(kpi);
}

static void test_ops_align_refuses_wordless_goals(void **state)
{
    json_t *req = parse("{\"actions\": [{\"id\": \"a\", \"title\": \"Do it\", \"description\": "
                        "\"\", \"priority\": \"low\", \"status\": \"open\"}], \"goals\": [{\"id\": "
                        "\"g\", \"intent\": \"!!!\", \"strategies\": []}], \"businessFoundation\": "
                        "{\"vision\": \"v\", \"purpose\": \"p\", \"coreValues\": [\"c\"]}}");
    json_t *result = NULL;
    char err[128] = "";
    assert_int_equal(cq_ops_align_compute(req, 0, &result, err, sizeof(err)),
                     CQ_ERR_INSUFFICIENT_CONTEXT);
    assert_null(result);
    assert_non_null(strstr(err, "goal"));
    json_decref(req);
}

/* The largest request the contract allows: 100 long actions, 50 goals of
 * 20 strategies. The answer stays within the result schema's limits. */
static void test_ops_align_largest_request_fits_schema(void **state)
{
    static const char *const words[] = {"bread",   "delivery", "community", "energy", "ovens",
                                        "pricing", "staff",    "training",  "online", "catering",
                                        "events",  "families", "quality",   "costs",  "coffee"};
    json_t *req = parse(bakery_request);
    json_t *actions = json_array(), *goals = json_array();
    char text[2001];
    for (size_t i = 0; i < 100; i++) {
        size_t len = 0;
        for (size_t w = 0; len + 12 < sizeof(text) - 1; w++)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%s ",
                                    words[(i * 7 + w * 3) % CQ_ARRAY_SIZE(words)]);
        char id[16], title[64];
        snprintf(id, sizeof(id), "act-%zu", i);
        snprintf(title, sizeof(title), "Improve %s and %s", words[i % 15], words[(i + 4) % 15]);
        json_array_append_new(actions, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "title",
                                                 title, "description", text, "priority", "high",
                                                 "status", i % 3 ? "open" : "blocked"));
    }
    for (size_t g = 0; g < 50; g++) {
        json_t *st = json_array();
        for (size_t k = 0; k < 20; k++)
            json_array_append_new(
                st, json_sprintf("Use %s for %s", words[(g + k) % 15], words[(g * 2 + k) % 15]));
        char id[16];
        snprintf(id, sizeof(id), "goal-%zu", g);
        json_array_append_new(
            goals, json_pack("{s:s, s:o, s:o}", "id", id, "intent",
                             json_sprintf("Grow %s through %s", words[g % 15], words[(g + 5) % 15]),
                             "strategies", st));
    }
    json_object_set_new(req, "actions", actions);
    json_object_set_new(req, "goals", goals);
    char *text_req = json_dumps(req, 0);
    json_t *result = run(text_req); /* validates the request and the result */
    assert_int_equal(json_array_size(json_object_get(result, "alignmentAnalysis")), 100);
    free(text_req);
    json_decref(result);
    json_decref(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_align_links_actions_to_their_goals),
        cmocka_unit_test(test_ops_align_calls_out_orphans_and_uncovered_goals),
        cmocka_unit_test(test_ops_align_overall_is_derived_from_scores),
        cmocka_unit_test(test_ops_align_different_inputs_differ),
        cmocka_unit_test(test_ops_align_status_mapping),
        cmocka_unit_test(test_ops_align_contract_accepts_real_client_values),
        cmocka_unit_test(test_ops_align_refuses_wordless_goals),
        cmocka_unit_test(test_ops_align_largest_request_fits_schema),
    };
    return cmocka_run_group_tests_name("ops_align", tests, setup, teardown);
}
