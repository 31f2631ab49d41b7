/*
 * test_cq_bd_llm.c — the LLM path of insights-generate, its pure parts: the
 * prompt's input carries the request's paging and filters, the business
 * data and only the context fields the prompt names, and renders with the
 * operation's own templates; the model's items get the service's ids
 * (stable per tenant, finding and month), dates and status, duplicates
 * dropped, ordered by priority; every stored item valid against the
 * contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_bd_llm.h"
#include "cq_embedded.h"
#include "cq_prompt.h"
#include "cq_schema.h"

#define NOW_MS     1764622800000LL /* 2025-12-01T21:00:00Z */
#define NEXT_MONTH (NOW_MS + 31LL * 86400 * 1000)

static cq_schema_t *insight_schema;

static int setup(void **state)
{
    char err[256];
    size_t len = 0;
    const char *text = cq_embedded_get("schemas/openapi.json", &len);
    json_t *doc = text ? json_loadb(text, len, 0, NULL) : NULL;
    if (!doc)
        return -1;
    insight_schema = cq_schema_new(doc, "/components/schemas/Insight", err, sizeof(err));
    json_decref(doc);
    return insight_schema ? 0 : -1;
}

static int teardown(void **state)
{
    cq_schema_destroy(insight_schema);
    return 0;
}

static json_t *business_data(void)
{
    return json_pack("{s:{s:f, s:f, s:s, s:f}, s:{s:s, s:s}, s:b, s:s}", "revenue", "current",
                     50000.0, "previous", 100000.0, "trend", "down", "changePercent", -50.0,
                     "sources", "account", "ok", "traction", "unavailable", "cached", 0,
                     "generatedAt", "2025-12-01T21:00:00.000Z");
}

static void test_bd_llm_input_has_request_data_and_named_context_only(void **state)
{
    cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
    memset(replies, 0, sizeof(replies));
    replies[CQ_BD_SRC_FOUNDATION].state = CQ_BD_REPLY_OK;
    replies[CQ_BD_SRC_FOUNDATION].data =
        json_pack("{s:s, s:[s], s:s}", "vision", "Solar on every roof", "coreValues", "Integrity",
                  "internalNotes", "not for the model");
    replies[CQ_BD_SRC_PEOPLE].state = CQ_BD_REPLY_OK;
    replies[CQ_BD_SRC_PEOPLE].data =
        json_pack("{s:[{s:s}], s:i}", "items", "name", "Ada Lovelace", "total", 12);
    replies[CQ_BD_SRC_MEASURES].state = CQ_BD_REPLY_UNAVAILABLE;
    json_t *request = json_pack("{s:i, s:s}", "pageSize", 5, "category", "finance");
    json_t *data = business_data();
    json_t *in = cq_bd_llm_input(request, data, replies);

    assert_int_equal(json_integer_value(json_object_get(in, "pageSize")), 5);
    assert_string_equal(json_string_value(json_object_get(in, "category")), "finance");
    assert_null(json_object_get(in, "page"));
    assert_null(json_object_get(in, "priority"));
    json_t *bd = json_object_get(in, "businessData");
    assert_null(json_object_get(bd, "cached"));
    assert_true(json_equal(json_object_get(bd, "revenue"), json_object_get(data, "revenue")));
    json_t *ctx = json_object_get(in, "context");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ctx, "foundation"), "vision")),
        "Solar on every roof");
    assert_null(json_object_get(json_object_get(ctx, "foundation"), "internalNotes"));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(ctx, "people"), "headCount")), 12);
    assert_null(json_object_get(json_object_get(ctx, "people"), "items")); /* no names */
    assert_null(json_object_get(ctx, "measures"));                         /* unavailable */

    /* It renders with the operation's templates, the figures inside the data block. */
    char *system = NULL, *user = NULL;
    assert_int_equal(
        cq_prompt_load("workers/business_data/prompts", "insights-generate", &system, &user),
        CQ_ERR_OK);
    char err[256];
    char *text = cq_prompt_render(user, in, err, sizeof(err));
    assert_non_null(text);
    assert_non_null(strstr(text, "50000"));
    assert_non_null(strstr(text, "Solar on every roof"));
    assert_null(strstr(text, "Ada Lovelace"));
    assert_null(strstr(text, "not for the model"));
    free(text);
    free(system);
    free(user);

    /* Without context sources (a cached copy, no provider fetch): none. */
    json_t *bare = cq_bd_llm_input(NULL, data, NULL);
    assert_null(json_object_get(bare, "context"));
    assert_non_null(json_object_get(bare, "businessData"));
    json_decref(bare);
    json_decref(in);
    json_decref(data);
    json_decref(request);
    cq_bd_reply_clear(&replies[CQ_BD_SRC_FOUNDATION]);
    cq_bd_reply_clear(&replies[CQ_BD_SRC_PEOPLE]);
}

static json_t *model_item(const char *title, const char *category, const char *priority)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s}], s:s}", "id",
                     "placeholder", "title", title, "description",
                     "Revenue halved: 50000 vs 100000.", "category", category, "priority", priority,
                     "status", "dismissed", "suggestedActions", "title",
                     "Call the ten largest accounts", "description", "Ask what changed.", "effort",
                     "low", "impact", "high", "createdAt", "1999-01-01T00:00:00Z");
}

static void test_bd_llm_items_get_service_ids_dates_status_and_order(void **state)
{
    json_t *answer = json_pack("{s:[o, o, o, o], s:{s:i, s:i, s:i, s:i}}", "items",
                               model_item("Low one", "strategy", "low"),
                               model_item("Revenue halved", "finance", "critical"),
                               model_item("Revenue halved", "finance", "critical"), /* said twice */
                               model_item("Team stretched", "leadership", "high"), "pagination",
                               "page", 1, "pageSize", 20, "total", 4, "totalPages", 1);
    json_t *items = cq_bd_llm_items(answer, "tenant-a", NOW_MS);
    assert_int_equal(json_array_size(items), 3);
    const char *order[] = {"Revenue halved", "Team stretched", "Low one"};
    for (size_t i = 0; i < 3; i++) {
        json_t *it = json_array_get(items, i);
        assert_string_equal(json_string_value(json_object_get(it, "title")), order[i]);
        const char *id = json_string_value(json_object_get(it, "id"));
        assert_true(strncmp(id, "ins-", 4) == 0 && strlen(id) == 20);
        assert_string_equal(json_string_value(json_object_get(it, "status")), "active");
        assert_string_equal(json_string_value(json_object_get(it, "createdAt")),
                            "2025-12-01T21:00:00.000Z");
        cq_schema_errors_t errors = {0};
        if (!cq_schema_validate(insight_schema, it, &errors))
            fail_msg("item %zu: %s %s", i, errors.items[0].path, errors.items[0].message);
        cq_schema_errors_clear(&errors);
    }
    /* Same finding, same tenant, same month: same id; else another. */
    json_t *again = cq_bd_llm_items(answer, "tenant-a", NOW_MS + 3600 * 1000);
    json_t *other = cq_bd_llm_items(answer, "tenant-b", NOW_MS);
    json_t *later = cq_bd_llm_items(answer, "tenant-a", NEXT_MONTH);
    const char *id = json_string_value(json_object_get(json_array_get(items, 0), "id"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(again, 0), "id")), id);
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(other, 0), "id")), id);
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(later, 0), "id")), id);
    json_decref(again);
    json_decref(other);
    json_decref(later);
    json_decref(items);
    json_decref(answer);

    json_t *empty = json_pack("{s:[], s:{s:i, s:i, s:i, s:i}}", "items", "pagination", "page", 1,
                              "pageSize", 20, "total", 0, "totalPages", 0);
    items = cq_bd_llm_items(empty, "tenant-a", NOW_MS);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    json_decref(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bd_llm_input_has_request_data_and_named_context_only),
        cmocka_unit_test(test_bd_llm_items_get_service_ids_dates_status_and_order),
    };
    return cmocka_run_group_tests_name("unit.cq_bd_llm", tests, setup, teardown);
}
