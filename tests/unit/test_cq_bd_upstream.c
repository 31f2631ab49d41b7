/*
 * test_cq_bd_upstream.c — upstream replies of the business-data worker as
 * untrusted input: good replies (with extra fields) are usable; wrong
 * shape, malformed, too big, too deep, duplicate keys and inconsistent
 * figures are unavailable with a reason, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_bd_upstream.h"

static cq_bd_upstream_t *upstream;

static int setup(void **state)
{
    char err[256];
    upstream = cq_bd_upstream_new(err, sizeof(err));
    if (!upstream) {
        fprintf(stderr, "cq_bd_upstream_new: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    cq_bd_upstream_destroy(upstream);
    return 0;
}

/* Validates text as a reply of id; returns the state, reason in reply. */
static cq_bd_reply_state_t check(cq_bd_source_id_t id, const char *text, cq_bd_reply_t *reply)
{
    cq_bd_upstream_validate(upstream, id, text, text ? strlen(text) : 0, reply);
    return reply->state;
}

static void assert_unavailable(cq_bd_source_id_t id, const char *text, const char *why)
{
    cq_bd_reply_t reply = {0};
    assert_int_equal(check(id, text, &reply), CQ_BD_REPLY_UNAVAILABLE);
    assert_null(reply.data);
    if (!strstr(reply.reason, why))
        fail_msg("%s: reason \"%s\" does not say \"%s\"", cq_bd_source(id)->name, reply.reason,
                 why);
    cq_bd_reply_clear(&reply);
}

static const char *const good[CQ_BD_SRC_COUNT] = {
    [CQ_BD_SRC_PROFILE] = "{\"tenantId\": \"acme\", \"email\": \"a@acme.test\"}",
    [CQ_BD_SRC_FOUNDATION] = "{\"vision\": \"Bread for all\", \"coreValues\": [\"Quality\"]}",
    [CQ_BD_SRC_REVENUE] = "{\"current\": 184250.5, \"previous\": 171900, \"currency\": \"EUR\"}",
    [CQ_BD_SRC_CUSTOMERS] = "{\"total\": 412, \"new\": 31, \"churned\": 9}",
    [CQ_BD_SRC_TEAM] = "{\"size\": 14, \"utilization\": 82.5,"
                       " \"satisfaction\": {\"score\": 4.1, \"min\": 1, \"max\": 5}}",
    [CQ_BD_SRC_GOALS] = "{\"active\": 6, \"completed\": 2, \"total\": 8}",
    [CQ_BD_SRC_ACTIONS] = "{\"items\": [{\"id\": \"a1\", \"status\": \"completed\"},"
                          " {\"id\": \"a2\", \"status\": \"open\"}], \"total\": 2}",
    [CQ_BD_SRC_ISSUES] = "{\"items\": [{\"id\": \"i1\", \"status\": \"open\"}], \"total\": 7}",
    [CQ_BD_SRC_PEOPLE] = "{\"items\": [{\"id\": \"p1\"}], \"total\": 1}",
    [CQ_BD_SRC_MEASURES] = "{\"onTrack\": 5, \"offTrack\": 2}",
};

/* ---- tests -------------------------------------------------------------- */

static void test_bd_upstream_table_is_complete(void **state)
{
    for (int id = 0; id < CQ_BD_SRC_COUNT; id++) {
        const cq_bd_source_t *src = cq_bd_source(id);
        assert_non_null(src);
        assert_non_null(src->name);
        assert_int_equal(src->default_path[0], '/');
        assert_non_null(strstr(src->path_key, "upstream."));
        assert_non_null(strstr(src->name, cq_bd_service_name(src->service)));
        for (int j = 0; j < id; j++) {
            assert_string_not_equal(src->name, cq_bd_source(j)->name);
            assert_string_not_equal(src->path_key, cq_bd_source(j)->path_key);
        }
    }
    assert_null(cq_bd_source(CQ_BD_SRC_COUNT));
}

static void test_bd_upstream_good_replies_are_ok(void **state)
{
    for (int id = 0; id < CQ_BD_SRC_COUNT; id++) {
        cq_bd_reply_t reply = {0};
        if (check(id, good[id], &reply) != CQ_BD_REPLY_OK)
            fail_msg("%s: %s", cq_bd_source(id)->name, reply.reason);
        assert_true(json_is_object(reply.data));
        cq_bd_reply_clear(&reply);
        assert_int_equal(reply.state, CQ_BD_REPLY_MISSING);
        assert_null(reply.data);
    }
}

static void test_bd_upstream_wrong_types_are_unavailable(void **state)
{
    assert_unavailable(CQ_BD_SRC_REVENUE, "{\"current\": \"184250\", \"previous\": 1}",
                       "wrong shape: /current");
    assert_unavailable(CQ_BD_SRC_REVENUE, "{\"current\": true, \"previous\": 1}", "wrong shape");
    assert_unavailable(CQ_BD_SRC_REVENUE, "{\"current\": null, \"previous\": 1}", "wrong shape");
    assert_unavailable(CQ_BD_SRC_CUSTOMERS, "{\"total\": \"many\", \"new\": 1, \"churned\": 0}",
                       "/total");
    assert_unavailable(CQ_BD_SRC_CUSTOMERS, "{\"total\": 4.5, \"new\": 1, \"churned\": 0}",
                       "/total");
    assert_unavailable(CQ_BD_SRC_TEAM, "{\"size\": 3, \"utilization\": 50, \"satisfaction\": 80}",
                       "/satisfaction");
    assert_unavailable(CQ_BD_SRC_ACTIONS, "{\"items\": {\"status\": \"completed\"}, \"total\": 1}",
                       "/items");
    assert_unavailable(CQ_BD_SRC_ACTIONS, "{\"items\": [{\"status\": 3}], \"total\": 1}",
                       "/items/0/status");
    assert_unavailable(CQ_BD_SRC_PROFILE, "{\"tenantId\": 42}", "/tenantId");
    /* a root of another type */
    assert_unavailable(CQ_BD_SRC_GOALS, "[{\"active\": 3}]", "wrong shape");
    assert_unavailable(CQ_BD_SRC_GOALS, "3", "JSON"); /* jansson refuses a scalar root */
}

static void test_bd_upstream_missing_fields_are_unavailable(void **state)
{
    assert_unavailable(CQ_BD_SRC_REVENUE, "{\"current\": 1}", "previous");
    assert_unavailable(CQ_BD_SRC_GOALS, "{\"activeGoals\": 6}", "active");
    assert_unavailable(CQ_BD_SRC_ISSUES, "{\"items\": []}", "total");
    assert_unavailable(CQ_BD_SRC_TEAM,
                       "{\"size\": 3, \"utilization\": 50, \"satisfaction\": {\"score\": 3}}",
                       "/satisfaction");
    assert_unavailable(CQ_BD_SRC_MEASURES, "{}", "onTrack");
}

static void test_bd_upstream_out_of_range_is_unavailable(void **state)
{
    assert_unavailable(CQ_BD_SRC_REVENUE, "{\"current\": -5, \"previous\": 1}", "/current");
    assert_unavailable(CQ_BD_SRC_REVENUE, "{\"current\": 1e300, \"previous\": 1}", "/current");
    assert_unavailable(CQ_BD_SRC_CUSTOMERS, "{\"total\": 10, \"new\": -1, \"churned\": 0}", "/new");
    assert_unavailable(CQ_BD_SRC_TEAM,
                       "{\"size\": 3, \"utilization\": 120,"
                       " \"satisfaction\": {\"score\": 3, \"min\": 1, \"max\": 5}}",
                       "/utilization");
    /* an integer too big for jansson is malformed, not wrapped */
    assert_unavailable(CQ_BD_SRC_GOALS, "{\"active\": 99999999999999999999999}", "malformed");
}

static void test_bd_upstream_malformed_is_unavailable(void **state)
{
    assert_unavailable(CQ_BD_SRC_REVENUE, "{\"current\": 12", "malformed JSON");
    assert_unavailable(CQ_BD_SRC_REVENUE, "<html>502 Bad Gateway</html>", "malformed JSON");
    assert_unavailable(CQ_BD_SRC_REVENUE, "{\"current\": 1, \"previous\": 2} trailing",
                       "malformed JSON");
    assert_unavailable(CQ_BD_SRC_REVENUE, "", "empty body");
    assert_unavailable(CQ_BD_SRC_REVENUE, NULL, "empty body");
    /* which "current" would we believe? */
    assert_unavailable(CQ_BD_SRC_REVENUE, "{\"current\": 1, \"previous\": 2, \"current\": 900}",
                       "malformed JSON");
    /* a NUL byte inside the body */
    cq_bd_reply_t reply = {0};
    static const char nul[] = "{\"current\": 1,\0 \"previous\": 2}";
    assert_false(
        cq_bd_upstream_validate(upstream, CQ_BD_SRC_REVENUE, nul, sizeof(nul) - 1, &reply));
    assert_int_equal(reply.state, CQ_BD_REPLY_UNAVAILABLE);
    cq_bd_reply_clear(&reply);
}

static void test_bd_upstream_too_big_is_unavailable(void **state)
{
    /* a valid reply padded past the cap with an ignored extra field */
    size_t len = CQ_BD_REPLY_MAX_BYTES + 100;
    char *text = cq_malloc(len + 1);
    int head = snprintf(text, len, "{\"active\": 3, \"pad\": \"");
    memset(text + head, 'x', len - (size_t)head - 2);
    memcpy(text + len - 2, "\"}", 3);
    assert_unavailable(CQ_BD_SRC_GOALS, text, "exceeds");
    /* the same shape under the cap is fine */
    size_t small = 64 * 1024;
    memcpy(text + small - 2, "\"}", 3);
    cq_bd_reply_t reply = {0};
    assert_int_equal(check(CQ_BD_SRC_GOALS, text, &reply), CQ_BD_REPLY_OK);
    cq_bd_reply_clear(&reply);
    free(text);
}

static void test_bd_upstream_too_deep_is_unavailable(void **state)
{
    /* deep nesting in a field we do not even read is refused before parsing */
    char text[512];
    int n = snprintf(text, sizeof(text), "{\"active\": 3, \"x\": ");
    for (int i = 0; i < 40; i++)
        text[n++] = '[';
    for (int i = 0; i < 40; i++)
        text[n++] = ']';
    text[n++] = '}';
    text[n] = '\0';
    assert_unavailable(CQ_BD_SRC_GOALS, text, "nested deeper");
}

static void test_bd_upstream_inconsistent_is_unavailable(void **state)
{
    assert_unavailable(CQ_BD_SRC_CUSTOMERS, "{\"total\": 10, \"new\": 11, \"churned\": 0}",
                       "new (11) exceeds total (10)");
    assert_unavailable(CQ_BD_SRC_TEAM,
                       "{\"size\": 3, \"utilization\": 50,"
                       " \"satisfaction\": {\"score\": 7, \"min\": 1, \"max\": 5}}",
                       "outside its scale");
    assert_unavailable(CQ_BD_SRC_TEAM,
                       "{\"size\": 3, \"utilization\": 50,"
                       " \"satisfaction\": {\"score\": 5, \"min\": 5, \"max\": 5}}",
                       "max <= min");
    assert_unavailable(CQ_BD_SRC_ACTIONS,
                       "{\"items\": [{\"status\": \"completed\"}], \"total\": 40}",
                       "a page, not the whole list");
    assert_unavailable(CQ_BD_SRC_ISSUES,
                       "{\"items\": [{\"status\": \"open\"}, {\"status\": \"closed\"}],"
                       " \"total\": 2}",
                       "the status filter was ignored");
    assert_unavailable(CQ_BD_SRC_ISSUES,
                       "{\"items\": [{\"status\": \"open\"}, {\"status\": \"open\"}],"
                       " \"total\": 1}",
                       "more items than total");
}

static void test_bd_upstream_integral_reals_are_integers(void **state)
{
    cq_bd_reply_t reply = {0};
    assert_int_equal(
        check(CQ_BD_SRC_CUSTOMERS, "{\"total\": 412.0, \"new\": 31, \"churned\": 9}", &reply),
        CQ_BD_REPLY_OK);
    assert_int_equal(cq_bd_json_int(json_object_get(reply.data, "total")), 412);
    cq_bd_reply_clear(&reply);
    /* 2.0 items of 2.0: consistent */
    assert_int_equal(
        check(CQ_BD_SRC_ACTIONS,
              "{\"items\": [{\"status\": \"a\"}, {\"status\": \"b\"}], \"total\": 2.0}", &reply),
        CQ_BD_REPLY_OK);
    cq_bd_reply_clear(&reply);
}

static void test_bd_upstream_unavailable_frees_data(void **state)
{
    cq_bd_reply_t reply = {0};
    assert_int_equal(check(CQ_BD_SRC_REVENUE, good[CQ_BD_SRC_REVENUE], &reply), CQ_BD_REPLY_OK);
    cq_bd_reply_unavailable(&reply, "timeout after %d ms", 3000);
    assert_int_equal(reply.state, CQ_BD_REPLY_UNAVAILABLE);
    assert_null(reply.data);
    assert_string_equal(reply.reason, "timeout after 3000 ms");
    /* validating again replaces an earlier outcome */
    assert_int_equal(check(CQ_BD_SRC_REVENUE, good[CQ_BD_SRC_REVENUE], &reply), CQ_BD_REPLY_OK);
    assert_int_equal(check(CQ_BD_SRC_REVENUE, "{", &reply), CQ_BD_REPLY_UNAVAILABLE);
    assert_null(reply.data);
    cq_bd_reply_clear(&reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bd_upstream_table_is_complete),
        cmocka_unit_test(test_bd_upstream_good_replies_are_ok),
        cmocka_unit_test(test_bd_upstream_wrong_types_are_unavailable),
        cmocka_unit_test(test_bd_upstream_missing_fields_are_unavailable),
        cmocka_unit_test(test_bd_upstream_out_of_range_is_unavailable),
        cmocka_unit_test(test_bd_upstream_malformed_is_unavailable),
        cmocka_unit_test(test_bd_upstream_too_big_is_unavailable),
        cmocka_unit_test(test_bd_upstream_too_deep_is_unavailable),
        cmocka_unit_test(test_bd_upstream_inconsistent_is_unavailable),
        cmocka_unit_test(test_bd_upstream_integral_reals_are_integers),
        cmocka_unit_test(test_bd_upstream_unavailable_frees_data),
    };
    return cmocka_run_group_tests_name("cq_bd_upstream", tests, setup, teardown);
}
