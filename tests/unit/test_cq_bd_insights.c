/*
 * test_cq_bd_insights.c — the built-in insights engine: each rule fires
 * past its threshold and not before it, priority escalates with severity,
 * absent or undefined figures fire nothing, ids are stable per tenant and
 * period, paging and filters, invalid rule documents refused; every item
 * and page valid against the contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_bd_aggregate.h"
#include "cq_bd_insights.h"
#include "cq_embedded.h"
#include "cq_schema.h"

#define NOW_MS      1764622800000LL /* 2025-12-01T21:00:00Z */
#define NEXT_MONTH  (NOW_MS + 31LL * 86400 * 1000)
#define LATER_TODAY (NOW_MS + 2LL * 3600 * 1000)

static cq_bd_insights_t *engine;
static cq_schema_t *insight_schema, *page_schema;

static int setup(void **state)
{
    char err[256];
    engine = cq_bd_insights_new_builtin(err, sizeof(err));
    if (!engine) {
        fprintf(stderr, "rules: %s\n", err);
        return -1;
    }
    size_t len = 0;
    const char *text = cq_embedded_get("schemas/openapi.json", &len);
    json_t *doc = text ? json_loadb(text, len, 0, NULL) : NULL;
    if (!doc)
        return -1;
    insight_schema = cq_schema_new(doc, "/components/schemas/Insight", err, sizeof(err));
    page_schema =
        cq_schema_new(doc, "/components/schemas/InsightsGenerateResult", err, sizeof(err));
    json_decref(doc);
    return insight_schema && page_schema ? 0 : -1;
}

static int teardown(void **state)
{
    cq_schema_destroy(insight_schema);
    cq_schema_destroy(page_schema);
    cq_bd_insights_destroy(engine);
    return 0;
}

static void assert_valid(const cq_schema_t *schema, const json_t *value)
{
    cq_schema_errors_t errors = {0};
    if (!cq_schema_validate(schema, value, &errors)) {
        char *text = json_dumps(value, JSON_SORT_KEYS);
        fail_msg("breaks the contract at %s: %s\n%s", errors.items[0].path, errors.items[0].message,
                 text);
    }
}

/* A healthy business: no rule fires. */
static json_t *healthy(void)
{
    return json_pack("{s:{s:f, s:f, s:s, s:f}, s:{s:i, s:i, s:i, s:f}, s:{s:i, s:i, s:i},"
                     " s:{s:i, s:f, s:f}, s:{s:s, s:s}, s:s, s:b}",
                     "revenue", "current", 103000.0, "previous", 100000.0, "trend", "up",
                     "changePercent", 3.0, "customers", "total", 400, "new", 20, "churned", 5,
                     "retentionRate", 98.7, "operations", "activeGoals", 5, "completedActions", 20,
                     "openIssues", 3, "team", "size", 12, "utilization", 70.0, "satisfaction", 80.0,
                     "sources", "account", "ok", "traction", "ok", "generatedAt",
                     "2025-12-01T21:00:00.000Z", "cached", 0);
}

static void set(json_t *data, const char *section, const char *field, json_t *value)
{
    json_object_set_new(json_object_get(data, section), field, value);
}

/* Generates for data, checks every item against the contract, returns them. */
static json_t *generate(const char *tenant, const json_t *data, int64_t now_ms)
{
    json_t *items = cq_bd_insights_generate(engine, tenant, data, now_ms);
    assert_true(json_is_array(items));
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) assert_valid(insight_schema, item);
    return items;
}

/* The item of rule (by its id) in items, or NULL. */
static const json_t *find(const json_t *items, const char *tenant, const char *rule, int64_t at)
{
    char id[21];
    cq_bd_insights_id(tenant, rule, "month", at, id);
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "id")), id) == 0)
            return item;
    }
    return NULL;
}

/* ---- tests -------------------------------------------------------------- */

static void test_bd_insights_healthy_business_has_none(void **state)
{
    json_t *data = healthy();
    json_t *items = generate("acme", data, NOW_MS);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    json_decref(data);
}

/* One figure moved to just past (fires) and just before (does not) the
 * first threshold of a rule, and to its most severe level. */
static const struct {
    const char *rule, *section, *field;
    double before, past, severe;
    const char *severe_priority, *category;
} triggers[] = {
    {"revenue-falling", "revenue", "changePercent", -4.99, -5, -31, "critical", "finance"},
    {"open-issues-many", "operations", "openIssues", 9, 10, 50, "critical", "operations"},
    {"team-over-utilized", "team", "utilization", 84.9, 85, 99, "high", "leadership"},
    {"team-satisfaction-low", "team", "satisfaction", 60, 59.9, 12, "critical", "leadership"},
    {"retention-low", "customers", "retentionRate", 90, 89.99, 65, "critical", "marketing"},
};

static void test_bd_insights_each_threshold_rule(void **state)
{
    for (size_t t = 0; t < CQ_ARRAY_SIZE(triggers); t++) {
        json_t *data = healthy();
        set(data, triggers[t].section, triggers[t].field, json_real(triggers[t].before));
        json_t *items = generate("acme", data, NOW_MS);
        if (find(items, "acme", triggers[t].rule, NOW_MS))
            fail_msg("%s fired at %g", triggers[t].rule, triggers[t].before);
        json_decref(items);

        set(data, triggers[t].section, triggers[t].field, json_real(triggers[t].past));
        items = generate("acme", data, NOW_MS);
        const json_t *item = find(items, "acme", triggers[t].rule, NOW_MS);
        if (!item || json_array_size(items) != 1)
            fail_msg("%s: %zu items at %g", triggers[t].rule, json_array_size(items),
                     triggers[t].past);
        assert_string_equal(json_string_value(json_object_get(item, "priority")), "medium");
        assert_string_equal(json_string_value(json_object_get(item, "category")),
                            triggers[t].category);
        assert_string_equal(json_string_value(json_object_get(item, "status")), "active");
        assert_true(json_array_size(json_object_get(item, "suggestedActions")) >= 1);
        json_decref(items);

        set(data, triggers[t].section, triggers[t].field, json_real(triggers[t].severe));
        items = generate("acme", data, NOW_MS);
        item = find(items, "acme", triggers[t].rule, NOW_MS);
        assert_non_null(item);
        assert_string_equal(json_string_value(json_object_get(item, "priority")),
                            triggers[t].severe_priority);
        json_decref(items);
        json_decref(data);
    }
}

static json_t *with_customers(json_int_t total, json_int_t added, json_int_t churned)
{
    json_t *data = healthy();
    set(data, "customers", "total", json_integer(total));
    set(data, "customers", "new", json_integer(added));
    set(data, "customers", "churned", json_integer(churned));
    return data;
}

static void test_bd_insights_customer_rules(void **state)
{
    /* start 100: churn 5 % fires churn-high; net 0 does not shrink */
    json_t *data = with_customers(100, 5, 5);
    json_t *items = generate("acme", data, NOW_MS);
    assert_non_null(find(items, "acme", "churn-high", NOW_MS));
    assert_null(find(items, "acme", "customers-shrinking", NOW_MS));
    json_decref(items);
    json_decref(data);
    /* start 101, churn 4.95 %: no; net -4: shrinking */
    data = with_customers(97, 1, 5);
    items = generate("acme", data, NOW_MS);
    assert_null(find(items, "acme", "churn-high", NOW_MS));
    const json_t *item = find(items, "acme", "customers-shrinking", NOW_MS);
    assert_non_null(item);
    assert_string_equal(json_string_value(json_object_get(item, "title")),
                        "More customers left than joined (-4 net)");
    json_decref(items);
    json_decref(data);
    /* no customers at the start: churn rate undefined, never fires */
    data = with_customers(0, 0, 0);
    items = generate("acme", data, NOW_MS);
    assert_null(find(items, "acme", "churn-high", NOW_MS));
    json_decref(items);
    json_decref(data);
}

static void test_bd_insights_goals_without_progress(void **state)
{
    json_t *data = healthy();
    set(data, "operations", "completedActions", json_integer(5)); /* 1 per goal: fine */
    json_t *items = generate("acme", data, NOW_MS);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    set(data, "operations", "completedActions", json_integer(4)); /* 0.8 per goal */
    items = generate("acme", data, NOW_MS);
    const json_t *item = find(items, "acme", "goals-without-progress", NOW_MS);
    assert_non_null(item);
    assert_string_equal(json_string_value(json_object_get(item, "priority")), "medium");
    json_decref(items);
    set(data, "operations", "completedActions", json_integer(0));
    items = generate("acme", data, NOW_MS);
    item = find(items, "acme", "goals-without-progress", NOW_MS);
    assert_string_equal(json_string_value(json_object_get(item, "priority")), "high");
    json_decref(items);
    /* no active goal: nothing to say about progress */
    set(data, "operations", "activeGoals", json_integer(0));
    items = generate("acme", data, NOW_MS);
    assert_null(find(items, "acme", "goals-without-progress", NOW_MS));
    json_decref(items);
    json_decref(data);
}

static void test_bd_insights_absent_sections_fire_nothing(void **state)
{
    /* every figure bad, then each section removed: its rules go quiet */
    json_t *bad = healthy();
    set(bad, "revenue", "changePercent", json_real(-50));
    set(bad, "customers", "churned", json_integer(300));
    set(bad, "customers", "retentionRate", json_real(20));
    set(bad, "operations", "openIssues", json_integer(80));
    set(bad, "operations", "completedActions", json_integer(0));
    set(bad, "team", "utilization", json_real(100));
    set(bad, "team", "satisfaction", json_real(10));
    json_t *items = generate("acme", bad, NOW_MS);
    assert_int_equal(json_array_size(items), 8); /* every rule */
    json_decref(items);
    static const char *const sections[] = {"revenue", "customers", "operations", "team"};
    static const size_t left[] = {7, 5, 6, 6};
    for (size_t s = 0; s < CQ_ARRAY_SIZE(sections); s++) {
        json_t *data = json_deep_copy(bad);
        json_object_del(data, sections[s]);
        items = generate("acme", data, NOW_MS);
        if (json_array_size(items) != left[s])
            fail_msg("without %s: %zu insights", sections[s], json_array_size(items));
        json_decref(items);
        json_decref(data);
    }
    json_t *none =
        json_pack("{s:{s:s, s:s}}", "sources", "account", "unavailable", "traction", "unavailable");
    items = generate("acme", none, NOW_MS);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    json_decref(none);
    json_decref(bad);
}

static void test_bd_insights_sorted_by_priority_then_rule(void **state)
{
    json_t *data = healthy();
    set(data, "revenue", "changePercent", json_real(-6));    /* medium */
    set(data, "operations", "openIssues", json_integer(60)); /* critical */
    set(data, "team", "utilization", json_real(96));         /* high */
    set(data, "team", "satisfaction", json_real(55));        /* medium */
    json_t *items = generate("acme", data, NOW_MS);
    static const char *const order[] = {"critical", "high", "medium", "medium"};
    assert_int_equal(json_array_size(items), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(items, i), "priority")), order[i]);
    /* equal priority: rule order of the data file (revenue before satisfaction) */
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 2), "category")),
                        "finance");
    const char *title = json_string_value(json_object_get(json_array_get(items, 2), "title"));
    assert_string_equal(title, "Revenue fell 6% from the previous period");
    json_decref(items);
    json_decref(data);
}

static void test_bd_insights_ids_stable_per_tenant_and_period(void **state)
{
    json_t *data = healthy();
    set(data, "team", "satisfaction", json_real(40));
    json_t *a = generate("acme", data, NOW_MS);
    json_t *again = generate("acme", data, LATER_TODAY);
    json_t *other = generate("globex", data, NOW_MS);
    json_t *next = generate("acme", data, NEXT_MONTH);
    const char *id = json_string_value(json_object_get(json_array_get(a, 0), "id"));
    assert_int_equal(strlen(id), 20);
    assert_memory_equal(id, "ins-", 4);
    assert_string_equal(id, json_string_value(json_object_get(json_array_get(again, 0), "id")));
    assert_string_not_equal(id, json_string_value(json_object_get(json_array_get(other, 0), "id")));
    assert_string_not_equal(id, json_string_value(json_object_get(json_array_get(next, 0), "id")));
    /* createdAt is the generation time */
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "createdAt")),
                        "2025-12-01T21:00:00.000Z");
    json_decref(a);
    json_decref(again);
    json_decref(other);
    json_decref(next);
    json_decref(data);
    /* separators: tenant "ab" + rule "c" is not tenant "a" + rule "bc" */
    char x[21], y[21], d1[21], d2[21];
    cq_bd_insights_id("ab", "c", "month", NOW_MS, x);
    cq_bd_insights_id("a", "bc", "month", NOW_MS, y);
    assert_string_not_equal(x, y);
    cq_bd_insights_id("a", "bc", "day", NOW_MS, d1);
    cq_bd_insights_id("a", "bc", "day", NOW_MS + 86400LL * 1000, d2);
    assert_string_not_equal(d1, d2);
}

static void test_bd_insights_page_and_filters(void **state)
{
    json_t *data = healthy();
    set(data, "revenue", "changePercent", json_real(-40));
    set(data, "customers", "churned", json_integer(100));
    set(data, "customers", "retentionRate", json_real(75));
    set(data, "operations", "openIssues", json_integer(30));
    set(data, "team", "utilization", json_real(90));
    set(data, "team", "satisfaction", json_real(50));
    json_t *items = generate("acme", data, NOW_MS);
    size_t n = json_array_size(items);
    assert_int_equal(n, 7);
    static const struct {
        const char *request;
        json_int_t count, total, pages;
    } cases[] = {
        {"{}", 7, 7, 1},
        {"{\"pageSize\": 3}", 3, 7, 3},
        {"{\"pageSize\": 3, \"page\": 3}", 1, 7, 3},
        {"{\"pageSize\": 3, \"page\": 4}", 0, 7, 3},
        {"{\"category\": \"marketing\"}", 3, 3, 1},
        {"{\"priority\": \"high\"}", 3, 3, 1},
        {"{\"category\": \"marketing\", \"priority\": \"high\"}", 2, 2, 1},
        {"{\"category\": \"technology\"}", 0, 0, 0},
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        json_t *req = json_loads(cases[i].request, 0, NULL);
        json_t *page = cq_bd_insights_page(items, req);
        assert_valid(page_schema, page);
        const json_t *p = json_object_get(page, "pagination");
        if ((json_int_t)json_array_size(json_object_get(page, "items")) != cases[i].count ||
            json_integer_value(json_object_get(p, "total")) != cases[i].total ||
            json_integer_value(json_object_get(p, "totalPages")) != cases[i].pages)
            fail_msg("%s: %s", cases[i].request, json_dumps(p, 0));
        json_decref(page);
        json_decref(req);
    }
    /* the third page of three continues where the second stopped */
    json_t *req = json_pack("{s:i, s:i}", "page", 2, "pageSize", 3);
    json_t *page = cq_bd_insights_page(items, req);
    assert_true(
        json_equal(json_array_get(json_object_get(page, "items"), 0), json_array_get(items, 3)));
    json_decref(page);
    json_decref(req);
    json_decref(items);
    json_decref(data);
}

static void test_bd_insights_bad_rules_refused(void **state)
{
    static const struct {
        const char *edit; /* merged into the first rule */
        const char *why;
    } cases[] = {
        {"{\"metric\": \"revenue.mood\"}", "unknown metric"},
        {"{\"op\": \"eq\"}", "op is not"},
        {"{\"levels\": [{\"at\": -5, \"priority\": \"high\"}, {\"at\": -1, \"priority\": "
         "\"critical\"}]}",
         "not more severe"},
        {"{\"levels\": [{\"at\": -5, \"priority\": \"urgent\"}]}", "priority"},
        {"{\"levels\": []}", "levels"},
        {"{\"category\": \"sales\"}", "unknown category"},
        {"{\"title\": \"Revenue {drop}\"}", "title"},
        {"{\"title\": \"\"}", "title"},
        {"{\"actions\": [{\"title\": \"t\", \"description\": \"d\", \"effort\": \"huge\","
         " \"impact\": \"low\"}]}",
         "actions"},
        {"{\"actions\": [1, 2, 3, 4, 5, 6]}", "actions"},
        {"{\"id\": \"churn-high\"}", "id used twice"},
    };
    size_t len = 0;
    const char *text = cq_embedded_get(CQ_BD_INSIGHTS_DATA, &len);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        json_t *doc = json_loadb(text, len, 0, NULL);
        json_t *edit = json_loads(cases[i].edit, 0, NULL);
        json_object_update(json_array_get(json_object_get(doc, "rules"), 0), edit);
        char err[256] = "";
        cq_bd_insights_t *bad = cq_bd_insights_new(doc, err, sizeof(err));
        if (bad || !strstr(err, cases[i].why))
            fail_msg("%s: accepted or wrong reason \"%s\"", cases[i].edit, err);
        json_decref(edit);
        json_decref(doc);
    }
    /* a title that could outgrow the contract's 200 characters */
    json_t *doc = json_loadb(text, len, 0, NULL);
    char title[200];
    memset(title, 'a', 190);
    memcpy(title + 190, "{value}", 8);
    json_object_set_new(json_array_get(json_object_get(doc, "rules"), 0), "title",
                        json_string(title));
    char err[256] = "";
    assert_null(cq_bd_insights_new(doc, err, sizeof(err)));
    json_object_set_new(doc, "period", json_string("week"));
    assert_null(cq_bd_insights_new(doc, err, sizeof(err)));
    assert_non_null(strstr(err, "period"));
    json_decref(doc);
}

/* Replies -> aggregate (Traction down) -> insights -> page: the whole pure
 * path of insights-generate, valid against the contract at the end. */
static void test_bd_insights_from_partial_aggregate(void **state)
{
    char err[256];
    cq_bd_upstream_t *upstream = cq_bd_upstream_new(err, sizeof(err));
    assert_non_null(upstream);
    static const struct {
        cq_bd_source_id_t id;
        const char *body;
    } bodies[] = {
        {CQ_BD_SRC_REVENUE, "{\"current\": 70000, \"previous\": 100000}"},
        {CQ_BD_SRC_CUSTOMERS, "{\"total\": 200, \"new\": 4, \"churned\": 30}"},
        {CQ_BD_SRC_TEAM, "{\"size\": 9, \"utilization\": 97,"
                         " \"satisfaction\": {\"score\": 2, \"min\": 1, \"max\": 5}}"},
    };
    cq_bd_reply_t replies[CQ_BD_SRC_COUNT] = {0};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(bodies); i++)
        assert_true(cq_bd_upstream_validate(upstream, bodies[i].id, bodies[i].body,
                                            strlen(bodies[i].body), &replies[bodies[i].id]));
    cq_bd_reply_unavailable(&replies[CQ_BD_SRC_GOALS], "status 503");
    json_t *data = cq_bd_aggregate("acme", replies, NOW_MS, NULL);
    json_t *items = generate("acme", data, NOW_MS);
    /* revenue -30 % critical; churn 30/226 = 13.27 % high; net -26 high;
     * retention 86.73 medium; utilization 97 high; satisfaction 25 critical;
     * nothing from the operations rules, whose figures are unavailable */
    assert_int_equal(json_array_size(items), 6);
    assert_null(find(items, "acme", "open-issues-many", NOW_MS));
    assert_null(find(items, "acme", "goals-without-progress", NOW_MS));
    assert_string_equal(
        json_string_value(json_object_get(find(items, "acme", "churn-high", NOW_MS), "title")),
        "13.27% of customers were lost this period");
    json_t *req = json_pack("{s:s}", "priority", "critical");
    json_t *page = cq_bd_insights_page(items, req);
    assert_valid(page_schema, page);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
    json_decref(page);
    json_decref(req);
    json_decref(items);
    json_decref(data);
    for (int id = 0; id < CQ_BD_SRC_COUNT; id++)
        cq_bd_reply_clear(&replies[id]);
    cq_bd_upstream_destroy(upstream);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bd_insights_healthy_business_has_none),
        cmocka_unit_test(test_bd_insights_each_threshold_rule),
        cmocka_unit_test(test_bd_insights_customer_rules),
        cmocka_unit_test(test_bd_insights_goals_without_progress),
        cmocka_unit_test(test_bd_insights_absent_sections_fire_nothing),
        cmocka_unit_test(test_bd_insights_sorted_by_priority_then_rule),
        cmocka_unit_test(test_bd_insights_ids_stable_per_tenant_and_period),
        cmocka_unit_test(test_bd_insights_page_and_filters),
        cmocka_unit_test(test_bd_insights_bad_rules_refused),
        cmocka_unit_test(test_bd_insights_from_partial_aggregate),
    };
    return cmocka_run_group_tests_name("cq_bd_insights", tests, setup, teardown);
}
