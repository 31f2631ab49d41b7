/*
 * test_cq_ops_priority.c — the built-in prioritization-suggestions engine
 * and the free-form inputs it reads (cq_ops_input): words, numbers,
 * t-shirt sizes and durations; the scoring model on examples; and property
 * tests on random requests: an action that is overdue, high-impact or
 * goal-linked (any non-empty subset, all three included) never ranks below
 * an otherwise identical one that lacks those qualities, and
 * recommendedAction always agrees with the two priorities. Every result is
 * validated against the contract's result schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_contract.h"
#include "cq_ops_input.h"
#include "cq_ops_priority.h"

#define NOW_MS    1767225600000LL /* 2026-01-01T00:00:00Z */
#define ITERATION 500

static cq_config_t *conf;
static cq_contract_t *contract;
static const cq_schema_t *result_schema;

static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    if (!json)
        fail_msg("bad test JSON: %s: %s", error.text, text);
    return json;
}

static void assert_contract(const json_t *result)
{
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    if (!cq_schema_validate(result_schema, result, &errors)) {
        char *text = json_dumps(result, JSON_INDENT(1));
        fprintf(stderr, "result breaks the contract at %s: %s\n%s\n",
                errors.count ? errors.items[0].path : "-",
                errors.count ? errors.items[0].message : "-", text);
        free(text);
        cq_schema_errors_clear(&errors);
        fail();
    }
}

static const char *const prio_names[] = {"low", "medium", "high", "critical"};

static int rank_of(const char *p)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(p, prio_names[i]) == 0)
            return i;
    fail_msg("not a priority: %s", p);
    return -1;
}

/* recommendedAction agrees with suggested against current, for every item. */
static void assert_actions_agree(const json_t *result)
{
    for (size_t i = 0; i < json_array_size(result); i++) {
        const json_t *it = json_array_get(result, i);
        int s = rank_of(json_string_value(json_object_get(it, "suggestedPriority")));
        int c = rank_of(json_string_value(json_object_get(it, "currentPriority")));
        const char *want = s > c ? "escalate" : s < c ? "de-prioritize" : "maintain";
        assert_string_equal(json_string_value(json_object_get(it, "recommendedAction")), want);
    }
}

static json_t *prioritise(json_t *req)
{
    json_t *result = NULL;
    char err[512] = "";
    if (cq_ops_priority_compute(req, NOW_MS, &result, err, sizeof(err)) != CQ_ERR_OK)
        fail_msg("prioritise failed: %s", err);
    assert_contract(result);
    assert_actions_agree(result);
    return result;
}

static const json_t *item(const json_t *result, const char *id, size_t *pos)
{
    for (size_t i = 0; i < json_array_size(result); i++) {
        const json_t *it = json_array_get(result, i);
        if (strcmp(json_string_value(json_object_get(it, "actionId")), id) == 0) {
            if (pos)
                *pos = i;
            return it;
        }
    }
    fail_msg("no item %s", id);
    return NULL;
}

static bool list_mentions(const json_t *it, const char *list, const char *word)
{
    const json_t *arr = json_object_get(it, list);
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (strstr(json_string_value(json_array_get(arr, i)), word))
            return true;
    return false;
}

/* ---- inputs -------------------------------------------------------------------- */

static double impact_of(json_t *v)
{
    double out = -1;
    bool ok = cq_ops_input_impact(v, &out);
    json_decref(v);
    return ok ? out : -1;
}

static double effort_of(json_t *v, double *hours)
{
    double out = -1;
    bool ok = cq_ops_input_effort(v, &out, hours);
    json_decref(v);
    return ok ? out : -1;
}

static void test_ops_input_reads_impact_words_and_numbers(void **state)
{
    assert_true(impact_of(json_string("low")) < impact_of(json_string("medium")));
    assert_true(impact_of(json_string("Medium")) < impact_of(json_string("HIGH")));
    assert_true(impact_of(json_string("high")) < impact_of(json_string("critical")));
    assert_int_equal(impact_of(json_string("very-high")), 9);
    assert_int_equal(impact_of(json_integer(7)), 7);
    assert_int_equal(impact_of(json_string("7")), 7);
    assert_int_equal(impact_of(json_string("4/5")), 8);
    assert_int_equal(impact_of(json_string("4 out of 5")), 8);
    assert_int_equal(impact_of(json_string("60%")), 6);
    assert_int_equal(impact_of(json_string("banana")), -1);
    assert_int_equal(impact_of(json_string("12")), -1); /* past the 1-10 scale */
    assert_int_equal(impact_of(json_null()), -1);
}

static void test_ops_input_reads_effort_sizes_and_durations(void **state)
{
    double h;
    assert_true(effort_of(json_string("xs"), &h) < effort_of(json_string("S"), &h));
    assert_true(effort_of(json_string("s"), &h) < effort_of(json_string("m"), &h));
    assert_true(effort_of(json_string("m"), &h) < effort_of(json_string("L"), &h));
    assert_true(effort_of(json_string("l"), &h) < effort_of(json_string("XL"), &h));
    assert_int_equal(h, -1);
    assert_int_equal(effort_of(json_string("3h"), &h), 2);
    assert_int_equal(h, 3);
    assert_int_equal(effort_of(json_string("2 days"), &h), 4);
    assert_int_equal(h, 16);
    assert_int_equal(effort_of(json_string("1 week"), &h), 6);
    assert_int_equal(h, 40);
    assert_true(effort_of(json_string("3 months"), &h) > effort_of(json_string("1 week"), NULL));
    assert_int_equal(effort_of(json_string("low"), &h), 2);
    assert_int_equal(effort_of(json_string("2 parsecs"), &h), -1);
}

static void test_ops_input_reads_status_words(void **state)
{
    static const struct {
        const char *word;
        cq_ops_status_t want;
    } cases[] = {
        {"open", CQ_OPS_STATUS_OPEN},          {"not_started", CQ_OPS_STATUS_OPEN},
        {"Pending", CQ_OPS_STATUS_OPEN},       {"in progress", CQ_OPS_STATUS_ACTIVE},
        {"in_progress", CQ_OPS_STATUS_ACTIVE}, {"In-Progress", CQ_OPS_STATUS_ACTIVE},
        {"blocked", CQ_OPS_STATUS_BLOCKED},    {"on_hold", CQ_OPS_STATUS_ON_HOLD},
        {"done", CQ_OPS_STATUS_DONE},          {"Completed", CQ_OPS_STATUS_DONE},
        {"canceled", CQ_OPS_STATUS_CANCELLED}, {"whatever", CQ_OPS_STATUS_UNKNOWN},
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        json_t *v = json_string(cases[i].word);
        assert_int_equal(cq_ops_input_status(v), cases[i].want);
        json_decref(v);
    }
}

static void test_ops_input_text_fit_keeps_whole_characters(void **state)
{
    const char *s = "a\xc3\xa9\xe6\x97\xa5z"; /* a, e-acute (2 bytes), U+65E5 (3 bytes), z */
    assert_int_equal(cq_ops_text_fit(s, 0), 0);
    assert_int_equal(cq_ops_text_fit(s, 1), 1);
    assert_int_equal(cq_ops_text_fit(s, 2), 1);
    assert_int_equal(cq_ops_text_fit(s, 3), 3);
    assert_int_equal(cq_ops_text_fit(s, 5), 3);
    assert_int_equal(cq_ops_text_fit(s, 6), 6);
    assert_int_equal(cq_ops_text_fit(s, 100), 7);
}

static void test_ops_input_dates_round_trip(void **state)
{
    int64_t day;
    char out[CQ_OPS_DATE_SIZE];
    assert_true(cq_ops_date_parse("2026-01-01", &day));
    assert_int_equal(day, NOW_MS / 86400000);
    assert_int_equal(cq_ops_date_weekday(day), 3); /* Thursday */
    assert_true(cq_ops_date_parse("2024-02-29", &day));
    cq_ops_date_format(day, out);
    assert_string_equal(out, "2024-02-29");
    assert_false(cq_ops_date_parse("2025-02-29", &day));
    assert_false(cq_ops_date_parse("2025-13-01", &day));
    assert_false(cq_ops_date_parse("2025-1-01", &day));
    for (int64_t d = -800000; d < 800000; d += 997) {
        int64_t back;
        cq_ops_date_format(d, out);
        if (out[0] == '0' && out[1] == '0' && out[2] == '0' && out[3] == '0')
            continue; /* clamped years */
        assert_true(cq_ops_date_parse(out, &back));
        assert_int_equal(back, d);
    }
}

/* ---- the model on examples ------------------------------------------------------------ */

static void test_ops_priority_overdue_linked_high_impact_escalates(void **state)
{
    json_t *req = parse(
        "{\"actions\": ["
        " {\"id\": \"late\", \"title\": \"Fix checkout bug\", \"currentPriority\": \"medium\","
        "  \"dueDate\": \"2025-12-20\", \"impact\": \"high\", \"effort\": \"2 days\","
        "  \"status\": \"open\", \"linkedGoals\": [\"Grow online sales\"]},"
        " {\"id\": \"done\", \"title\": \"Old report\", \"currentPriority\": \"high\","
        "  \"impact\": \"medium\", \"effort\": \"s\", \"status\": \"completed\","
        "  \"linkedGoals\": []},"
        " {\"id\": \"vague\", \"title\": \"Something\", \"currentPriority\": \"medium\","
        "  \"status\": \"open\", \"linkedGoals\": []}],"
        " \"businessContext\": {\"currentGoals\": [\"Grow online sales by 20%\"],"
        "  \"constraints\": [], \"urgentDeadlines\": []}}");
    json_t *r = prioritise(req);
    size_t pos;
    const json_t *late = item(r, "late", &pos);
    assert_int_equal(pos, 0);
    assert_string_equal(json_string_value(json_object_get(late, "suggestedPriority")), "critical");
    assert_string_equal(json_string_value(json_object_get(late, "recommendedAction")), "escalate");
    assert_true(list_mentions(late, "urgencyFactors", "Overdue by 12 day(s)"));
    assert_true(list_mentions(late, "impactFactors", "Serves the current goal"));
    assert_true(list_mentions(late, "impactFactors", "read as 16.0 h"));
    assert_non_null(json_object_get(late, "estimatedBusinessValue"));

    const json_t *done = item(r, "done", &pos);
    assert_int_equal(pos, 2);
    assert_string_equal(json_string_value(json_object_get(done, "suggestedPriority")), "low");
    assert_string_equal(json_string_value(json_object_get(done, "recommendedAction")),
                        "de-prioritize");

    /* Missing impact: no business value is made up, confidence falls. */
    const json_t *vague = item(r, "vague", NULL);
    assert_null(json_object_get(vague, "estimatedBusinessValue"));
    assert_true(json_number_value(json_object_get(vague, "confidence")) <
                json_number_value(json_object_get(late, "confidence")));
    assert_true(list_mentions(vague, "impactFactors", "No impact given"));
    json_decref(r);
    json_decref(req);
}

static void test_ops_priority_urgent_deadline_text_raises_urgency(void **state)
{
    json_t *req = parse(
        "{\"actions\": ["
        " {\"id\": \"a1\", \"title\": \"Prepare the tax filing\", \"currentPriority\": \"low\","
        "  \"impact\": \"medium\", \"effort\": \"medium\", \"status\": \"in progress\","
        "  \"linkedGoals\": []},"
        " {\"id\": \"a2\", \"title\": \"Repaint the office\", \"currentPriority\": \"low\","
        "  \"impact\": \"medium\", \"effort\": \"medium\", \"status\": \"in progress\","
        "  \"linkedGoals\": []}],"
        " \"businessContext\": {\"currentGoals\": [], \"constraints\": [],"
        "  \"urgentDeadlines\": [\"Tax filing due 2026-01-05\"]}}");
    json_t *r = prioritise(req);
    size_t p1, p2;
    const json_t *a1 = item(r, "a1", &p1);
    item(r, "a2", &p2);
    assert_true(p1 < p2);
    assert_true(list_mentions(a1, "urgencyFactors", "Tax filing due 2026-01-05"));
    assert_true(list_mentions(a1, "urgencyFactors", "In progress"));
    json_decref(r);
    json_decref(req);
}

static void test_ops_priority_blocked_is_lowered_and_says_why(void **state)
{
    json_t *req = parse(
        "{\"actions\": ["
        " {\"id\": \"b\", \"title\": \"Integrate supplier API\", \"currentPriority\": \"high\","
        "  \"impact\": 8, \"effort\": \"L\", \"status\": \"blocked\", \"linkedGoals\": [],"
        "  \"dueDate\": \"2026-03-01\"},"
        " {\"id\": \"o\", \"title\": \"Integrate supplier API\", \"currentPriority\": \"high\","
        "  \"impact\": 8, \"effort\": \"L\", \"status\": \"open\", \"linkedGoals\": [],"
        "  \"dueDate\": \"2026-03-01\"}],"
        " \"businessContext\": {\"currentGoals\": [\"Cut costs\"], \"constraints\": [],"
        "  \"urgentDeadlines\": []}}");
    json_t *r = prioritise(req);
    size_t pb, po;
    const json_t *b = item(r, "b", &pb);
    item(r, "o", &po);
    assert_true(po < pb);
    assert_true(list_mentions(b, "urgencyFactors", "Blocked"));
    json_decref(r);
    json_decref(req);
}

static void test_ops_priority_refuses_bad_requests(void **state)
{
    json_t *result = NULL;
    char err[256];
    json_t *req = parse("{\"actions\": [], \"businessContext\": {\"currentGoals\": [],"
                        " \"constraints\": [], \"urgentDeadlines\": []}}");
    assert_int_equal(cq_ops_priority_compute(req, NOW_MS, &result, err, sizeof(err)),
                     CQ_ERR_VALIDATION_ERROR);
    assert_null(result);
    json_decref(req);
    req = json_string("x");
    assert_int_equal(cq_ops_priority_compute(req, NOW_MS, &result, err, sizeof(err)),
                     CQ_ERR_BAD_REQUEST);
    json_decref(req);
}

/* ---- random requests ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int rnd_int(int lo, int hi)
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static const char *pick(const char *const *list, size_t n)
{
    return list[rnd() % n];
}

#define PICK(list) pick(list, CQ_ARRAY_SIZE(list))

static const char *const goals[] = {"Grow online sales", "Open a second shop",
                                    "Reduce staff turnover", "Launch the loyalty card"};
static const char *const statuses[] = {"open",    "not_started", "in progress",
                                       "blocked", "on_hold",     "pending",
                                       "done",    "cancelled",   "weird"};
static const char *const efforts[] = {"xs",   "s",  "m",      "l",      "xl", "low", "medium",
                                      "high", "3h", "2 days", "1 week", "4",  "?",   ""};
static const char *const plain_impacts[] = {"low", "medium", "minor",   "2", "5",
                                            "2/5", "40%",    "unclear", ""};
static const char *const high_impacts[] = {"high", "critical", "major", "9", "5/5", "very high"};
static const char *const titles[] = {"Fix checkout bug", "Hire a baker", "Tax filing",
                                     "Repaint the office", "Loyalty card design"};

static json_t *random_action(const char *id, const char *title, const char *effort,
                             const char *status, const char *current)
{
    json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:[]}", "id", id, "title", title, "currentPriority",
                          current, "status", status, "linkedGoals");
    if (*effort)
        json_object_set_new(a, "effort", json_string(effort));
    return a;
}

static void set_date(json_t *a, int days_from_now)
{
    char d[CQ_OPS_DATE_SIZE];
    cq_ops_date_format(NOW_MS / 86400000 + days_from_now, d);
    json_object_set_new(a, "dueDate", json_string(d));
}

static void test_ops_priority_better_action_never_ranks_below(void **state)
{
    rng_state = 0xA0761D6478BD642FULL;
    for (int iter = 0; iter < ITERATION; iter++) {
        json_t *actions = json_array();
        /* Noise around the pair. */
        int noise = rnd_int(0, 30);
        for (int i = 0; i < noise; i++) {
            char id[16];
            snprintf(id, sizeof(id), "n%d", i);
            json_t *a =
                random_action(id, PICK(titles), PICK(efforts), PICK(statuses), PICK(prio_names));
            if (rnd_int(0, 1))
                json_object_set_new(a, "impact", json_string(PICK(high_impacts)));
            if (rnd_int(0, 1))
                set_date(a, rnd_int(-30, 100));
            if (rnd_int(0, 1))
                json_array_append_new(json_object_get(a, "linkedGoals"), json_string(PICK(goals)));
            json_array_append_new(actions, a);
        }
        /* The pair: same title, effort, status and current priority; the good
         * one is better in a random non-empty subset of {overdue, high impact,
         * tied to a current goal} and equal in the others. */
        const char *title = PICK(titles), *effort = PICK(efforts), *status = PICK(statuses),
                   *current = PICK(prio_names);
        int better = rnd_int(1, 7);
        /* Ids chosen so that the id tie-break favours the plain one. */
        json_t *good = random_action("z-good", title, effort, status, current);
        json_t *plain = random_action("a-plain", title, effort, status, current);
        int when = rnd_int(0, 2), days = when == 1 ? 0 : rnd_int(1, 200);
        if (better & 1)
            set_date(good, -rnd_int(1, 60));
        else if (when > 0)
            set_date(good, days);
        if (when > 0)
            set_date(plain, days);
        const char *imp = PICK(plain_impacts);
        if (better & 2)
            json_object_set_new(good, "impact", json_string(PICK(high_impacts)));
        else if (*imp)
            json_object_set_new(good, "impact", json_string(imp));
        if (*imp)
            json_object_set_new(plain, "impact", json_string(imp));
        bool old_goal = rnd_int(0, 1);
        if (better & 4)
            json_array_append_new(json_object_get(good, "linkedGoals"),
                                  json_string(goals[rnd_int(0, 2)]));
        else if (old_goal)
            json_array_append_new(json_object_get(good, "linkedGoals"),
                                  json_string("Some old goal"));
        if (old_goal)
            json_array_append_new(json_object_get(plain, "linkedGoals"),
                                  json_string("Some old goal"));
        size_t at = (size_t)rnd_int(0, (int)json_array_size(actions));
        json_array_insert_new(actions, at, plain);
        json_array_insert_new(actions, (size_t)rnd_int(0, (int)json_array_size(actions)), good);

        /* goals[3] is not a current goal. */
        json_t *req = json_pack("{s:o, s:{s:[s, s, s], s:[], s:[s]}}", "actions", actions,
                                "businessContext", "currentGoals", goals[0], goals[1], goals[2],
                                "constraints", "urgentDeadlines", "Loyalty card launch in March");
        json_t *r = prioritise(req);
        size_t pg, pp;
        const json_t *g = item(r, "z-good", &pg), *p = item(r, "a-plain", &pp);
        if (pg > pp) {
            char *text = json_dumps(r, JSON_INDENT(1));
            fprintf(stderr, "%s\n", text);
            free(text);
            fail_msg("iteration %d: the better action ranks %zu, the plain one %zu", iter, pg, pp);
        }
        assert_true(rank_of(json_string_value(json_object_get(g, "suggestedPriority"))) >=
                    rank_of(json_string_value(json_object_get(p, "suggestedPriority"))));
        /* Deterministic. */
        json_t *again = prioritise(req);
        assert_true(json_equal(r, again));
        json_decref(again);
        json_decref(r);
        json_decref(req);
    }
}

static int setup(void **state)
{
    char err[512];
    conf = cq_config_new();
    contract = cq_contract_new(conf, err, sizeof(err));
    if (!contract) {
        fprintf(stderr, "contract: %s\n", err);
        return -1;
    }
    const cq_operation_t *op = cq_contract_find(contract, "prioritization-suggestions");
    result_schema = op ? op->result : NULL;
    return result_schema ? 0 : -1;
}

static int teardown(void **state)
{
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_input_reads_impact_words_and_numbers),
        cmocka_unit_test(test_ops_input_reads_effort_sizes_and_durations),
        cmocka_unit_test(test_ops_input_reads_status_words),
        cmocka_unit_test(test_ops_input_text_fit_keeps_whole_characters),
        cmocka_unit_test(test_ops_input_dates_round_trip),
        cmocka_unit_test(test_ops_priority_overdue_linked_high_impact_escalates),
        cmocka_unit_test(test_ops_priority_urgent_deadline_text_raises_urgency),
        cmocka_unit_test(test_ops_priority_blocked_is_lowered_and_says_why),
        cmocka_unit_test(test_ops_priority_refuses_bad_requests),
        cmocka_unit_test(test_ops_priority_better_action_never_ranks_below),
    };
    return cmocka_run_group_tests_name("unit.cq_ops_priority", tests, setup, teardown);
}
