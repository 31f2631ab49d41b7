/*
 * test_cq_align_check.c — the built-in alignment-check engine: calibration
 * (restated vision high, unrelated goal low), component behaviour, result
 * shape, determinism, missing parts, insufficient context and big inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_check.h"

#define NOW_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static const char *const bakery_foundation =
    "{\"vision\": \"To be the neighborhood's favourite bakery, baking fresh bread every "
    "morning for our community\","
    " \"purpose\": \"Bring people together over honest, handmade food\","
    " \"coreValues\": [\"Quality\", \"Community\", \"Warm hospitality\"],"
    " \"targetMarket\": \"Families and office workers within walking distance\","
    " \"valueProposition\": \"Handmade bread baked fresh every morning, a few steps from "
    "home\"}";

static const char *const saas_foundation =
    "{\"vision\": \"Help small businesses grow by making accounting effortless\","
    " \"purpose\": \"Give founders time back to focus on their customers\","
    " \"coreValues\": [\"Simplicity\", \"Customer obsession\", \"Integrity\"],"
    " \"targetMarket\": \"Small businesses and freelancers\","
    " \"valueProposition\": \"Accounting software that does the bookkeeping for you\"}";

static const char *const restated_intent =
    "Become the neighborhood's favourite bakery by baking fresh bread every morning for our "
    "community";
static const char *const restated_strategies =
    "[\"Bake fresh sourdough and pastries every morning\","
    " \"Host monthly community baking classes in the neighborhood\"]";
static const char *const restated_kpis =
    "[\"Number of fresh loaves sold per morning\", \"Community class attendance\"]";

static const char *const db_intent = "Migrate our database to PostgreSQL";
static const char *const db_strategies = "[\"Set up streaming replication and nightly backups\","
                                         " \"Move reporting queries off the primary server\"]";
static const char *const db_kpis = "[\"Query latency p95\", \"Downtime minutes per month\"]";

/* ---- helpers ------------------------------------------------------------ */

static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    if (!json)
        fail_msg("bad test JSON: %s: %s", error.text, text);
    return json;
}

/* A request; NULL arrays leave the field out. */
static json_t *request(const char *intent, const char *strategies, const char *kpis,
                       const char *foundation)
{
    json_t *req = json_object();
    json_object_set_new(req, "goalIntent", json_string(intent));
    if (strategies)
        json_object_set_new(req, "strategies", parse(strategies));
    if (kpis)
        json_object_set_new(req, "kpis", parse(kpis));
    if (foundation)
        json_object_set_new(req, "businessFoundation", parse(foundation));
    return req;
}

static int get_int(const json_t *result, const char *path_a, const char *path_b)
{
    const json_t *v = json_object_get(result, path_a);
    if (path_b)
        v = json_object_get(v, path_b);
    assert_true(json_is_integer(v));
    return (int)json_integer_value(v);
}

static size_t count_sentences(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        if (*p == '.' && (p[1] == ' ' || p[1] == '\0'))
            n++;
    return n;
}

/* Checks the result against the AlignmentCheckResult contract. */
static void assert_result_shape(const json_t *result)
{
    static const char *const keys[] = {"alignmentScore",  "explanation", "suggestions",
                                       "componentScores", "breakdown",   "lastUpdated"};
    assert_true(json_is_object(result));
    assert_int_equal(json_object_size(result), CQ_ARRAY_SIZE(keys));
    for (size_t i = 0; i < CQ_ARRAY_SIZE(keys); i++)
        assert_non_null(json_object_get(result, keys[i]));

    int score = get_int(result, "alignmentScore", NULL);
    assert_in_range(score, 0, 100);
    const json_t *cs = json_object_get(result, "componentScores");
    assert_int_equal(json_object_size(cs), 3);
    assert_in_range(get_int(result, "componentScores", "intentAlignment"), 0, 100);
    assert_in_range(get_int(result, "componentScores", "strategyAlignment"), 0, 100);
    assert_in_range(get_int(result, "componentScores", "kpiRelevance"), 0, 100);
    const json_t *bd = json_object_get(result, "breakdown");
    assert_int_equal(json_object_size(bd), 3);
    assert_in_range(get_int(result, "breakdown", "visionAlignment"), 0, 100);
    assert_in_range(get_int(result, "breakdown", "purposeAlignment"), 0, 100);
    assert_in_range(get_int(result, "breakdown", "valuesAlignment"), 0, 100);

    const char *explanation = json_string_value(json_object_get(result, "explanation"));
    assert_non_null(explanation);
    assert_in_range(count_sentences(explanation), 2, 4);

    const json_t *suggestions = json_object_get(result, "suggestions");
    assert_true(json_is_array(suggestions));
    assert_in_range(json_array_size(suggestions), 1, 3);
    for (size_t i = 0; i < json_array_size(suggestions); i++) {
        const char *s = json_string_value(json_array_get(suggestions, i));
        assert_non_null(s);
        assert_true(strlen(s) > 10);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(s, json_string_value(json_array_get(suggestions, k)));
    }

    const char *when = json_string_value(json_object_get(result, "lastUpdated"));
    assert_non_null(when);
    assert_int_equal(strlen(when), strlen("2026-01-01T00:00:00.000Z"));
    assert_int_equal(when[10], 'T');
    assert_int_equal(when[23], 'Z');
}

/* Runs the engine; the result is shape-checked and owned by the caller. */
static json_t *run(json_t *req)
{
    json_t *result = NULL;
    char errstr[256] = "";
    cq_err_t err = cq_align_check_compute(req, NOW_MS, &result, errstr, sizeof(errstr));
    if (err != CQ_ERR_OK)
        fail_msg("alignment check failed: %s: %s", cq_err_name(err), errstr);
    assert_result_shape(result);
    return result;
}

static json_t *run_new(const char *intent, const char *strategies, const char *kpis,
                       const char *foundation)
{
    json_t *req = request(intent, strategies, kpis, foundation);
    json_t *result = run(req);
    json_decref(req);
    return result;
}

static bool any_suggestion_contains(const json_t *result, const char *needle)
{
    const json_t *suggestions = json_object_get(result, "suggestions");
    for (size_t i = 0; i < json_array_size(suggestions); i++)
        if (strstr(json_string_value(json_array_get(suggestions, i)), needle))
            return true;
    return false;
}

/* ---- calibration ---------------------------------------------------------- */

static void test_align_check_restated_vision_scores_high(void **state)
{
    (void)state;
    json_t *result =
        run_new(restated_intent, restated_strategies, restated_kpis, bakery_foundation);
    int score = get_int(result, "alignmentScore", NULL);
    assert_true(score >= 80);
    assert_true(get_int(result, "breakdown", "visionAlignment") >= 80);
    assert_true(get_int(result, "componentScores", "intentAlignment") >= 80);
    /* the explanation names what the goal shares with the foundation */
    const char *explanation = json_string_value(json_object_get(result, "explanation"));
    assert_non_null(strstr(explanation, "strongly aligned"));
    assert_true(strstr(explanation, "\u201c"
                                    "community"
                                    "\u201d") ||
                strstr(explanation, "\u201c"
                                    "bread"
                                    "\u201d") ||
                strstr(explanation, "\u201c"
                                    "fresh"
                                    "\u201d"));
    /* the purpose is not reflected: that is what gets suggested */
    assert_true(get_int(result, "breakdown", "purposeAlignment") < 50);
    assert_true(any_suggestion_contains(result, "purpose"));
    json_decref(result);
}

static void test_align_check_unrelated_goal_scores_low(void **state)
{
    (void)state;
    json_t *restated =
        run_new(restated_intent, restated_strategies, restated_kpis, bakery_foundation);
    json_t *unrelated = run_new(db_intent, db_strategies, db_kpis, bakery_foundation);
    int high = get_int(restated, "alignmentScore", NULL);
    int low = get_int(unrelated, "alignmentScore", NULL);
    assert_true(low <= 30);
    assert_true(high > low + 40);
    assert_true(get_int(unrelated, "componentScores", "intentAlignment") <= 30);
    assert_true(get_int(unrelated, "breakdown", "visionAlignment") <= 30);
    const char *explanation = json_string_value(json_object_get(unrelated, "explanation"));
    assert_non_null(strstr(explanation, "shares no themes"));
    assert_non_null(strstr(explanation, "goal intent"));
    /* a core value that the goal ignores is named */
    assert_true(any_suggestion_contains(unrelated, "\u201cQuality\u201d") ||
                strstr(explanation, "\u201cQuality\u201d"));
    json_decref(restated);
    json_decref(unrelated);
}

static void test_align_check_partial_goal_scores_in_between(void **state)
{
    (void)state;
    json_t *partial =
        run_new("Reduce customer churn among small business accounts by 15%",
                "[\"Launch an onboarding program for new small business customers\","
                " \"Add automated reminders for overdue invoices\"]",
                "[\"Monthly churn rate\", \"Onboarding completion rate\"]", saas_foundation);
    json_t *unrelated = run_new("Open a second bakery downtown with a wood-fired oven", "[]", "[]",
                                saas_foundation);
    int mid = get_int(partial, "alignmentScore", NULL);
    assert_in_range(mid, 40, 90);
    assert_true(mid > get_int(unrelated, "alignmentScore", NULL) + 30);
    json_decref(partial);
    json_decref(unrelated);
}

/* ---- components ------------------------------------------------------------ */

static void test_align_check_irrelevant_strategies_lower_component(void **state)
{
    (void)state;
    json_t *good = run_new(restated_intent, restated_strategies, restated_kpis, bakery_foundation);
    json_t *bad = run_new(restated_intent, db_strategies, restated_kpis, bakery_foundation);
    int g = get_int(good, "componentScores", "strategyAlignment");
    int b = get_int(bad, "componentScores", "strategyAlignment");
    assert_true(b <= 30);
    assert_true(g > b + 40);
    assert_true(get_int(good, "alignmentScore", NULL) > get_int(bad, "alignmentScore", NULL));
    /* the suggestion points at the strategy that does not connect */
    assert_true(any_suggestion_contains(bad, "Rework the strategy"));
    json_decref(good);
    json_decref(bad);
}

static void test_align_check_irrelevant_kpis_lower_component(void **state)
{
    (void)state;
    json_t *good = run_new(restated_intent, restated_strategies, restated_kpis, bakery_foundation);
    json_t *bad = run_new(restated_intent, restated_strategies, db_kpis, bakery_foundation);
    int g = get_int(good, "componentScores", "kpiRelevance");
    int b = get_int(bad, "componentScores", "kpiRelevance");
    assert_true(b <= 30);
    assert_true(g > b + 40);
    assert_true(any_suggestion_contains(bad, "KPI"));
    json_decref(good);
    json_decref(bad);
}

static void test_align_check_values_named_raise_values(void **state)
{
    (void)state;
    const char *strategies = "[\"Open a second shop near the train station\"]";
    const char *kpis = "[\"Weekly sales of the new shop\"]";
    json_t *plain =
        run_new("Open a second shop near the station", strategies, kpis, bakery_foundation);
    json_t *valued = run_new("Open a second shop near the station that brings our quality "
                             "and warm hospitality to a new community",
                             strategies, kpis, bakery_foundation);
    int p = get_int(plain, "breakdown", "valuesAlignment");
    int v = get_int(valued, "breakdown", "valuesAlignment");
    assert_true(v > p + 30);
    assert_true(v >= 70);
    /* an unreflected value is what the plain goal is told about */
    assert_true(any_suggestion_contains(plain, "core value"));
    json_decref(plain);
    json_decref(valued);
}

static void test_align_check_synonyms_count_partially(void **state)
{
    (void)state;
    const char *foundation = "{\"vision\": \"Delight every customer with excellent service\","
                             " \"purpose\": \"Make daily life easier\", \"coreValues\": []}";
    json_t *exact =
        run_new("Delight every customer with excellent service", "[]", "[]", foundation);
    json_t *synonyms =
        run_new("Make clients happy through outstanding support", "[]", "[]", foundation);
    json_t *none = run_new("Migrate the database to PostgreSQL", "[]", "[]", foundation);
    int e = get_int(exact, "breakdown", "visionAlignment");
    int s = get_int(synonyms, "breakdown", "visionAlignment");
    int n = get_int(none, "breakdown", "visionAlignment");
    assert_true(e > s);
    assert_true(s > n);
    assert_int_equal(n, 0);
    json_decref(exact);
    json_decref(synonyms);
    json_decref(none);
}

static void test_align_check_fully_aligned_goal_still_suggests(void **state)
{
    (void)state;
    json_t *result =
        run_new("Fresh bread for every table", "[\"Bake fresh bread for every table\"]",
                "[\"Fresh bread tables served\"]",
                "{\"vision\": \"Fresh bread for every table\","
                " \"coreValues\": [\"Fresh bread\"]}");
    assert_true(get_int(result, "alignmentScore", NULL) >= 90);
    assert_int_equal(json_array_size(json_object_get(result, "suggestions")), 1);
    const char *explanation = json_string_value(json_object_get(result, "explanation"));
    assert_non_null(strstr(explanation, "is solid"));
    json_decref(result);
}

/* ---- robustness -------------------------------------------------------------- */

static void test_align_check_deterministic(void **state)
{
    (void)state;
    json_t *req = request(restated_intent, restated_strategies, restated_kpis, bakery_foundation);
    json_t *a = NULL, *b = NULL;
    assert_int_equal(cq_align_check_compute(req, NOW_MS, &a, NULL, 0), CQ_ERR_OK);
    assert_int_equal(cq_align_check_compute(req, NOW_MS + 86400000, &b, NULL, 0), CQ_ERR_OK);
    assert_string_equal(json_string_value(json_object_get(a, "lastUpdated")),
                        "2026-01-01T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(b, "lastUpdated")),
                        "2026-01-02T00:00:00.000Z");
    json_object_del(a, "lastUpdated");
    json_object_del(b, "lastUpdated");
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);

    /* the wall-clock variant gives the same answer */
    assert_int_equal(cq_align_check_builtin(req, &b, NULL, 0), CQ_ERR_OK);
    assert_result_shape(b);
    a = run(req);
    json_object_del(a, "lastUpdated");
    json_object_del(b, "lastUpdated");
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    json_decref(req);
}

static void test_align_check_empty_or_missing_arrays(void **state)
{
    (void)state;
    json_t *empty = run_new("Grow revenue from fresh bread", "[]", "[]", bakery_foundation);
    assert_true(get_int(empty, "componentScores", "strategyAlignment") <= 20);
    assert_true(get_int(empty, "componentScores", "kpiRelevance") <= 20);
    assert_true(any_suggestion_contains(empty, "KPI") ||
                any_suggestion_contains(empty, "strategies"));
    const char *explanation = json_string_value(json_object_get(empty, "explanation"));
    assert_true(strstr(explanation, "no strategies are given") ||
                strstr(explanation, "no KPIs are given"));

    json_t *missing = run_new("Grow revenue from fresh bread", NULL, NULL, bakery_foundation);
    assert_true(json_equal(empty, missing));

    /* non-string items and items without words are ignored */
    json_t *junk = run_new("Grow revenue from fresh bread", "[1, null, \"...\", {}]",
                           "[true, \"  \"]", bakery_foundation);
    assert_true(json_equal(empty, junk));

    /* a foundation with only a vision still works */
    json_t *vision_only =
        run_new("Bake fresh bread", "[]", "[]", "{\"vision\": \"Fresh bread for every table\"}");
    assert_true(get_int(vision_only, "breakdown", "visionAlignment") > 50);
    assert_int_equal(get_int(vision_only, "breakdown", "valuesAlignment"), 0);

    json_decref(empty);
    json_decref(missing);
    json_decref(junk);
    json_decref(vision_only);
}

static void test_align_check_insufficient_context(void **state)
{
    (void)state;
    static const char *const foundations[] = {
        "{\"vision\": \"\", \"purpose\": \"\", \"coreValues\": []}",
        "{\"vision\": \"The!\", \"purpose\": \"to be, or not to be\", \"coreValues\": [\"...\"]}",
        "{\"vision\": 42, \"purpose\": null, \"coreValues\": \"x\"}",
        "{}",
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(foundations); i++) {
        json_t *req = request(restated_intent, "[]", "[]", foundations[i]);
        json_t *result = (json_t *)0x1;
        char errstr[128] = "";
        assert_int_equal(cq_align_check_compute(req, NOW_MS, &result, errstr, sizeof(errstr)),
                         CQ_ERR_INSUFFICIENT_CONTEXT);
        assert_null(result);
        assert_non_null(strstr(errstr, "foundation"));
        json_decref(req);
    }
    /* no foundation at all, an intent without words, a request that is not an object */
    json_t *req = request(restated_intent, "[]", "[]", NULL);
    json_t *result = NULL;
    assert_int_equal(cq_align_check_compute(req, NOW_MS, &result, NULL, 0),
                     CQ_ERR_INSUFFICIENT_CONTEXT);
    json_decref(req);
    req = request("?!", "[]", "[]", bakery_foundation);
    assert_int_equal(cq_align_check_compute(req, NOW_MS, &result, NULL, 0),
                     CQ_ERR_INSUFFICIENT_CONTEXT);
    assert_null(result);
    json_decref(req);
    req = json_array();
    assert_int_equal(cq_align_check_compute(req, NOW_MS, &result, NULL, 0), CQ_ERR_BAD_REQUEST);
    assert_null(result);
    json_decref(req);
}

static void test_align_check_large_input_bounded(void **state)
{
    (void)state;
    size_t size = 100 * 1024;
    char *big = malloc(size + 1);
    assert_non_null(big);
    static const char *const words[] = {"fresh ",     "bread ",  "community ", "quality ",
                                        "database ",  "serve ",  "morning ",   "grow ",
                                        "customers ", "bakery ", "replicas ",  "warm "};
    size_t o = 0;
    for (size_t i = 0; o + 16 < size; i++) {
        const char *w = words[(i * 7) % CQ_ARRAY_SIZE(words)];
        memcpy(big + o, w, strlen(w));
        o += strlen(w);
        if (i % 5 == 0) { /* distinct words too */
            o += (size_t)snprintf(big + o, 16, "x%zu ", i);
        }
    }
    big[o] = '\0';

    json_t *req = json_object();
    json_object_set_new(req, "goalIntent", json_string(big));
    json_t *strategies = json_array(), *kpis = json_array(), *values = json_array();
    for (size_t i = 0; i < 80; i++) {
        json_array_append_new(strategies, json_string(big));
        json_array_append_new(kpis, json_string(big));
        json_array_append_new(values, json_string(big));
    }
    json_object_set_new(req, "strategies", strategies);
    json_object_set_new(req, "kpis", kpis);
    json_object_set_new(req, "businessFoundation",
                        json_pack("{s:s, s:s, s:o, s:s, s:s}", "vision", big, "purpose", big,
                                  "coreValues", values, "targetMarket", big, "valueProposition",
                                  big));
    /* The engine reads a bounded prefix of each field: this ends in
     * milliseconds (a regression to unbounded work is caught by ctest's
     * per-test timeout, not by a clock here). */
    json_t *result = run(req);
    /* quoted user text in prose is excerpted, not copied whole */
    assert_true(strlen(json_string_value(json_object_get(result, "explanation"))) < 2048);
    const json_t *suggestions = json_object_get(result, "suggestions");
    for (size_t i = 0; i < json_array_size(suggestions); i++)
        assert_true(strlen(json_string_value(json_array_get(suggestions, i))) < 400);
    json_decref(result);
    json_decref(req);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align_check_restated_vision_scores_high),
        cmocka_unit_test(test_align_check_unrelated_goal_scores_low),
        cmocka_unit_test(test_align_check_partial_goal_scores_in_between),
        cmocka_unit_test(test_align_check_irrelevant_strategies_lower_component),
        cmocka_unit_test(test_align_check_irrelevant_kpis_lower_component),
        cmocka_unit_test(test_align_check_values_named_raise_values),
        cmocka_unit_test(test_align_check_synonyms_count_partially),
        cmocka_unit_test(test_align_check_fully_aligned_goal_still_suggests),
        cmocka_unit_test(test_align_check_deterministic),
        cmocka_unit_test(test_align_check_empty_or_missing_arrays),
        cmocka_unit_test(test_align_check_insufficient_context),
        cmocka_unit_test(test_align_check_large_input_bounded),
    };
    return cmocka_run_group_tests_name("cq_align_check", tests, NULL, NULL);
}
