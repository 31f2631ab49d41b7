/*
 * test_cq_bd_aggregate.c — BusinessDataResult from upstream replies: the
 * derived figures, every source missing or unavailable in turn (its
 * section absent, never a default), undefined figures dropped, a reply for
 * another tenant refused; every result valid against the contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_bd_aggregate.h"
#include "cq_embedded.h"
#include "cq_schema.h"

#define NOW_MS 1764622800000LL /* 2025-12-01T21:00:00Z */

static cq_bd_upstream_t *upstream;
static cq_schema_t *result_schema;

static int setup(void **state)
{
    char err[256];
    upstream = cq_bd_upstream_new(err, sizeof(err));
    size_t len = 0;
    const char *text = cq_embedded_get("schemas/openapi.json", &len);
    json_t *doc = text ? json_loadb(text, len, 0, NULL) : NULL;
    if (!upstream || !doc)
        return -1;
    result_schema = cq_schema_new(doc, "/components/schemas/BusinessDataResult", err, sizeof(err));
    json_decref(doc);
    return result_schema ? 0 : -1;
}

static int teardown(void **state)
{
    cq_schema_destroy(result_schema);
    cq_bd_upstream_destroy(upstream);
    return 0;
}

static const char *const good[CQ_BD_SRC_COUNT] = {
    [CQ_BD_SRC_PROFILE] = "{\"tenantId\": \"acme\"}",
    [CQ_BD_SRC_FOUNDATION] = "{\"vision\": \"Bread for all\", \"coreValues\": [\"Quality\"],"
                             " \"secretNotes\": \"not for prompts\"}",
    [CQ_BD_SRC_REVENUE] = "{\"current\": 184250, \"previous\": 171900}",
    [CQ_BD_SRC_CUSTOMERS] = "{\"total\": 412, \"new\": 31, \"churned\": 9}",
    [CQ_BD_SRC_TEAM] = "{\"size\": 14, \"utilization\": 82.5,"
                       " \"satisfaction\": {\"score\": 4.1, \"min\": 1, \"max\": 5}}",
    [CQ_BD_SRC_GOALS] = "{\"active\": 6}",
    [CQ_BD_SRC_ACTIONS] = "{\"items\": [{\"status\": \"completed\"}, {\"status\": \"open\"},"
                          " {\"status\": \"completed\"}], \"total\": 3}",
    [CQ_BD_SRC_ISSUES] = "{\"items\": [{\"status\": \"open\"}], \"total\": 7}",
    [CQ_BD_SRC_PEOPLE] = "{\"total\": 15}",
    [CQ_BD_SRC_MEASURES] = "{\"onTrack\": 5, \"offTrack\": 2}",
};

static void load(cq_bd_reply_t *replies, cq_bd_source_id_t id, const char *text)
{
    if (!cq_bd_upstream_validate(upstream, id, text, strlen(text), &replies[id]))
        fail_msg("%s: %s", cq_bd_source(id)->name, replies[id].reason);
}

static void load_all(cq_bd_reply_t *replies)
{
    memset(replies, 0, CQ_BD_SRC_COUNT * sizeof(*replies));
    for (int id = 0; id < CQ_BD_SRC_COUNT; id++)
        load(replies, id, good[id]);
}

static void clear_all(cq_bd_reply_t *replies)
{
    for (int id = 0; id < CQ_BD_SRC_COUNT; id++)
        cq_bd_reply_clear(&replies[id]);
}

/* Aggregates, checks the result against the contract, returns it. */
static json_t *aggregate(const cq_bd_reply_t *replies, json_t **notes)
{
    json_t *result = cq_bd_aggregate("acme", replies, NOW_MS, notes);
    cq_schema_errors_t errors = {0};
    if (!cq_schema_validate(result_schema, result, &errors)) {
        char *text = json_dumps(result, JSON_SORT_KEYS);
        fail_msg("result breaks the contract at %s: %s\n%s", errors.items[0].path,
                 errors.items[0].message, text);
    }
    return result;
}

static double num(const json_t *result, const char *section, const char *field)
{
    const json_t *v = json_object_get(json_object_get(result, section), field);
    if (!json_is_number(v))
        fail_msg("%s.%s is not a number", section, field);
    return json_number_value(v);
}

static const char *str(const json_t *result, const char *section, const char *field)
{
    return json_string_value(json_object_get(json_object_get(result, section), field));
}

/* ---- tests -------------------------------------------------------------- */

static void test_bd_aggregate_all_sources_ok(void **state)
{
    cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
    load_all(replies);
    json_t *notes = NULL;
    json_t *r = aggregate(replies, &notes);
    assert_int_equal(json_array_size(notes), 0);
    assert_float_equal(num(r, "revenue", "current"), 184250, 0);
    assert_float_equal(num(r, "revenue", "previous"), 171900, 0);
    assert_float_equal(num(r, "revenue", "changePercent"), 7.18, 1e-9); /* 12350 / 171900 */
    assert_string_equal(str(r, "revenue", "trend"), "up");
    assert_float_equal(num(r, "customers", "total"), 412, 0);
    assert_float_equal(num(r, "customers", "new"), 31, 0);
    assert_float_equal(num(r, "customers", "churned"), 9, 0);
    /* start = 412 - 31 + 9 = 390, of whom 381 stayed */
    assert_float_equal(num(r, "customers", "retentionRate"), 97.69, 1e-9);
    assert_float_equal(num(r, "team", "size"), 14, 0);
    assert_float_equal(num(r, "team", "utilization"), 82.5, 0);
    assert_float_equal(num(r, "team", "satisfaction"), 77.5, 1e-9); /* 4.1 on 1-5 */
    assert_float_equal(num(r, "operations", "activeGoals"), 6, 0);
    assert_float_equal(num(r, "operations", "completedActions"), 2, 0);
    assert_float_equal(num(r, "operations", "openIssues"), 7, 0); /* total, not the page */
    assert_string_equal(str(r, "sources", "account"), "ok");
    assert_string_equal(str(r, "sources", "traction"), "ok");
    assert_string_equal(json_string_value(json_object_get(r, "generatedAt")),
                        "2025-12-01T21:00:00.000Z");
    assert_true(json_is_false(json_object_get(r, "cached")));
    /* pure: the same replies give the same result */
    json_t *again = cq_bd_aggregate("acme", replies, NOW_MS, NULL);
    assert_true(json_equal(r, again));
    json_decref(again);
    json_decref(r);
    json_decref(notes);
    clear_all(replies);
}

/* Which section each aggregate source feeds. */
static const struct {
    cq_bd_source_id_t id;
    const char *section;
    const char *service;
} feeds[] = {
    {CQ_BD_SRC_REVENUE, "revenue", "account"},     {CQ_BD_SRC_CUSTOMERS, "customers", "account"},
    {CQ_BD_SRC_TEAM, "team", "account"},           {CQ_BD_SRC_GOALS, "operations", "traction"},
    {CQ_BD_SRC_ACTIONS, "operations", "traction"}, {CQ_BD_SRC_ISSUES, "operations", "traction"},
};

static void test_bd_aggregate_each_source_missing(void **state)
{
    static const char *const sections[] = {"revenue", "customers", "team", "operations"};
    for (size_t f = 0; f < CQ_ARRAY_SIZE(feeds); f++) {
        cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
        load_all(replies);
        cq_bd_reply_clear(&replies[feeds[f].id]);
        json_t *notes = NULL;
        json_t *r = aggregate(replies, &notes);
        for (size_t s = 0; s < CQ_ARRAY_SIZE(sections); s++) {
            bool gone = strcmp(sections[s], feeds[f].section) == 0;
            if (gone == (json_object_get(r, sections[s]) != NULL))
                fail_msg("%s missing: section %s %s", cq_bd_source(feeds[f].id)->name, sections[s],
                         gone ? "present" : "absent");
        }
        /* Traction has one section, so it is unavailable; Account keeps two */
        bool traction = strcmp(feeds[f].service, "traction") == 0;
        assert_string_equal(str(r, "sources", "traction"), traction ? "unavailable" : "ok");
        assert_string_equal(str(r, "sources", "account"), "ok");
        assert_true(json_array_size(notes) >= 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(notes, 0), "section")),
                            feeds[f].section);
        json_decref(r);
        json_decref(notes);
        clear_all(replies);
    }
}

static void test_bd_aggregate_each_source_unavailable(void **state)
{
    for (size_t f = 0; f < CQ_ARRAY_SIZE(feeds); f++) {
        cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
        load_all(replies);
        /* the wrong shape for this very source */
        assert_false(cq_bd_upstream_validate(upstream, feeds[f].id, "{\"total\": \"x\"}", 14,
                                             &replies[feeds[f].id]));
        json_t *notes = NULL;
        json_t *r = aggregate(replies, &notes);
        assert_null(json_object_get(r, feeds[f].section));
        const char *reason = json_string_value(json_object_get(json_array_get(notes, 0), "reason"));
        assert_non_null(strstr(reason, cq_bd_source(feeds[f].id)->name));
        assert_non_null(strstr(reason, "wrong shape"));
        json_decref(r);
        json_decref(notes);
        clear_all(replies);
    }
}

static void test_bd_aggregate_nothing_available(void **state)
{
    cq_bd_reply_t replies[CQ_BD_SRC_COUNT] = {0};
    json_t *notes = NULL;
    json_t *r = aggregate(replies, &notes);
    assert_int_equal(json_object_size(r), 3); /* sources, generatedAt, cached */
    assert_string_equal(str(r, "sources", "account"), "unavailable");
    assert_string_equal(str(r, "sources", "traction"), "unavailable");
    assert_int_equal(json_array_size(notes), 6); /* 3 Account sections + 3 Traction replies */
    json_decref(r);
    json_decref(notes);
}

static void test_bd_aggregate_whole_account_down(void **state)
{
    cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
    load_all(replies);
    for (int id = 0; id < CQ_BD_SRC_COUNT; id++)
        if (cq_bd_source(id)->service == CQ_BD_SERVICE_ACCOUNT)
            cq_bd_reply_unavailable(&replies[id], "connection reset");
    json_t *r = aggregate(replies, NULL);
    assert_null(json_object_get(r, "revenue"));
    assert_null(json_object_get(r, "customers"));
    assert_null(json_object_get(r, "team"));
    assert_non_null(json_object_get(r, "operations"));
    assert_string_equal(str(r, "sources", "account"), "unavailable");
    assert_string_equal(str(r, "sources", "traction"), "ok");
    json_decref(r);
    clear_all(replies);
}

static void test_bd_aggregate_revenue_trend_and_zero_previous(void **state)
{
    static const struct {
        const char *body;
        const char *trend; /* NULL: no revenue section */
        double change;
    } cases[] = {
        {"{\"current\": 80, \"previous\": 100}", "down", -20},
        {"{\"current\": 100.4, \"previous\": 100}", "flat", 0.4},
        {"{\"current\": 99.5, \"previous\": 100}", "down", -0.5},
        {"{\"current\": 0, \"previous\": 0}", "flat", 0},
        {"{\"current\": 5000, \"previous\": 0}", NULL, 0},
        {"{\"current\": 0, \"previous\": 250}", "down", -100},
        {"{\"current\": 1e15, \"previous\": 1e-300}", NULL, 0},
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
        load_all(replies);
        load(replies, CQ_BD_SRC_REVENUE, cases[i].body);
        json_t *notes = NULL;
        json_t *r = aggregate(replies, &notes);
        if (!cases[i].trend) {
            assert_null(json_object_get(r, "revenue"));
            assert_string_equal(str(r, "sources", "account"), "ok"); /* customers, team */
            assert_int_equal(json_array_size(notes), 1);
        } else {
            assert_string_equal(str(r, "revenue", "trend"), cases[i].trend);
            assert_float_equal(num(r, "revenue", "changePercent"), cases[i].change, 1e-9);
        }
        json_decref(r);
        json_decref(notes);
        clear_all(replies);
    }
}

static void test_bd_aggregate_retention_edges(void **state)
{
    static const struct {
        const char *body;
        double retention;
    } cases[] = {
        {"{\"total\": 0, \"new\": 0, \"churned\": 0}", 100},   /* no customers at all */
        {"{\"total\": 12, \"new\": 12, \"churned\": 0}", 100}, /* all new: nobody to lose */
        {"{\"total\": 0, \"new\": 0, \"churned\": 40}", 0},    /* everyone left */
        {"{\"total\": 90, \"new\": 0, \"churned\": 10}", 90},
        {"{\"total\": 2, \"new\": 1, \"churned\": 2}", 33.33}, /* start 3, 1 stayed */
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
        load_all(replies);
        load(replies, CQ_BD_SRC_CUSTOMERS, cases[i].body);
        json_t *r = aggregate(replies, NULL);
        assert_float_equal(num(r, "customers", "retentionRate"), cases[i].retention, 1e-9);
        json_decref(r);
        clear_all(replies);
    }
}

static void test_bd_aggregate_satisfaction_scales(void **state)
{
    static const struct {
        const char *sat;
        double normalised;
    } cases[] = {
        {"{\"score\": 1, \"min\": 1, \"max\": 5}", 0},
        {"{\"score\": 5, \"min\": 1, \"max\": 5}", 100},
        {"{\"score\": 7, \"min\": 0, \"max\": 10}", 70},
        {"{\"score\": 0, \"min\": -100, \"max\": 100}", 50},
        {"{\"score\": 64.5, \"min\": 0, \"max\": 100}", 64.5},
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        char body[200];
        snprintf(body, sizeof(body), "{\"size\": 4, \"utilization\": 60, \"satisfaction\": %s}",
                 cases[i].sat);
        cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
        load_all(replies);
        load(replies, CQ_BD_SRC_TEAM, body);
        json_t *r = aggregate(replies, NULL);
        assert_float_equal(num(r, "team", "satisfaction"), cases[i].normalised, 1e-9);
        json_decref(r);
        clear_all(replies);
    }
}

static void test_bd_aggregate_profile_of_other_tenant_drops_account(void **state)
{
    cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
    load_all(replies);
    load(replies, CQ_BD_SRC_PROFILE, "{\"tenantId\": \"globex\"}");
    json_t *notes = NULL;
    json_t *r = aggregate(replies, &notes);
    assert_null(json_object_get(r, "revenue"));
    assert_null(json_object_get(r, "customers"));
    assert_null(json_object_get(r, "team"));
    assert_string_equal(str(r, "sources", "account"), "unavailable");
    assert_string_equal(str(r, "sources", "traction"), "ok");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(notes, 0), "reason")),
                           "another tenant"));
    json_decref(r);
    json_decref(notes);
    /* a profile we could not read proves nothing either way: figures stay */
    cq_bd_reply_unavailable(&replies[CQ_BD_SRC_PROFILE], "status 503");
    r = aggregate(replies, NULL);
    assert_non_null(json_object_get(r, "revenue"));
    assert_string_equal(str(r, "sources", "account"), "ok");
    json_decref(r);
    clear_all(replies);
}

static void test_bd_aggregate_prompt_context_copies_only_read_fields(void **state)
{
    cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
    load_all(replies);
    json_t *ctx = cq_bd_prompt_context(replies);
    clear_all(replies); /* the context owns copies */
    json_t *want = json_loads("{\"foundation\": {\"vision\": \"Bread for all\", \"coreValues\":"
                              " [\"Quality\"]}, \"people\": {\"total\": 15},"
                              " \"measures\": {\"onTrack\": 5, \"offTrack\": 2}}",
                              0, NULL);
    assert_true(json_equal(ctx, want));
    json_decref(want);
    json_decref(ctx);
    cq_bd_reply_t none[CQ_BD_SRC_COUNT] = {0};
    ctx = cq_bd_prompt_context(none);
    assert_int_equal(json_object_size(ctx), 0);
    json_decref(ctx);
}

/* Every prefix of every good reply, and replies with bytes changed at
 * random (fixed seed): never a crash, a prefix is never usable, and
 * whatever validates still aggregates into a result the contract accepts. */
static void test_bd_aggregate_mangled_replies_never_break_the_result(void **state)
{
    uint32_t seed = 12345;
    static const char noise[] = "{}[]\",:-.0123456789eE truenullfalse\\\x01\xff";
    for (int id = 0; id < CQ_BD_SRC_COUNT; id++) {
        size_t len = strlen(good[id]);
        for (size_t cut = 0; cut < len; cut++) {
            cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
            load_all(replies);
            assert_false(cq_bd_upstream_validate(upstream, id, good[id], cut, &replies[id]));
            json_decref(aggregate(replies, NULL));
            clear_all(replies);
        }
        char *text = cq_malloc(len + 1);
        for (int round = 0; round < 300; round++) {
            memcpy(text, good[id], len + 1);
            for (int k = 0; k < 1 + round % 3; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % len;
                seed = seed * 1103515245u + 12345u;
                text[at] = noise[(seed >> 8) % (sizeof(noise) - 1)];
            }
            cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
            load_all(replies);
            cq_bd_upstream_validate(upstream, id, text, len, &replies[id]);
            json_decref(aggregate(replies, NULL));
            clear_all(replies);
        }
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bd_aggregate_all_sources_ok),
        cmocka_unit_test(test_bd_aggregate_each_source_missing),
        cmocka_unit_test(test_bd_aggregate_each_source_unavailable),
        cmocka_unit_test(test_bd_aggregate_nothing_available),
        cmocka_unit_test(test_bd_aggregate_whole_account_down),
        cmocka_unit_test(test_bd_aggregate_revenue_trend_and_zero_previous),
        cmocka_unit_test(test_bd_aggregate_retention_edges),
        cmocka_unit_test(test_bd_aggregate_satisfaction_scales),
        cmocka_unit_test(test_bd_aggregate_profile_of_other_tenant_drops_account),
        cmocka_unit_test(test_bd_aggregate_prompt_context_copies_only_read_fields),
        cmocka_unit_test(test_bd_aggregate_mangled_replies_never_break_the_result),
    };
    return cmocka_run_group_tests_name("cq_bd_aggregate", tests, setup, teardown);
}
