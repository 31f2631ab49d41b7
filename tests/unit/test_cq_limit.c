/*
 * Unit tests of the per-tenant limits with a fake clock: the GCRA
 * arithmetic (burst, refill, refusal leaves the state, batch costs, a cost
 * larger than the burst, no limit), the RateLimit header texts and
 * Retry-After rounding, the tenant=rate/burst and tenant=tokens lists
 * (accepted and refused forms, lookups, errors naming the key), UTC days
 * and the token estimate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cq_config.h"
#include "cq_limit.h"

#define T0  1764633600000000LL /* 2025-12-02 00:00:00 UTC, in microseconds */
#define SEC 1000000LL

/* One check against a bucket kept in *tat, as the store keeps it. */
static cq_limit_decision_t take(int64_t *tat, int64_t now, cq_limit_rate_t rate, int64_t cost)
{
    cq_limit_decision_t d;
    cq_limit_gcra(*tat, now, rate, cost, &d);
    *tat = d.tat_us;
    return d;
}

static void test_limit_gcra_allows_the_burst_then_refuses(void **state)
{
    cq_limit_rate_t rate = {.rate = 60, .burst = 3}; /* one per second, three at once */
    int64_t tat = 0;
    for (int i = 0; i < 3; i++) {
        cq_limit_decision_t d = take(&tat, T0, rate, 1);
        assert_true(d.allowed);
        assert_int_equal(d.remaining, 2 - i);
        assert_int_equal(d.reset_us, (i + 1) * SEC);
        assert_int_equal(d.retry_after_us, 0);
    }
    int64_t before = tat;
    cq_limit_decision_t d = take(&tat, T0, rate, 1);
    assert_false(d.allowed);
    assert_int_equal(d.remaining, 0);
    assert_int_equal(d.retry_after_us, SEC);
    assert_int_equal(d.reset_us, 3 * SEC);
    assert_int_equal(tat, before); /* a refusal costs nothing */
    /* Half a second later: still refused, half a second to go. */
    d = take(&tat, T0 + SEC / 2, rate, 1);
    assert_false(d.allowed);
    assert_int_equal(d.retry_after_us, SEC / 2);
}

static void test_limit_gcra_refills_at_the_rate(void **state)
{
    cq_limit_rate_t rate = {.rate = 60, .burst = 3};
    int64_t tat = 0;
    for (int i = 0; i < 3; i++)
        assert_true(take(&tat, T0, rate, 1).allowed);
    /* One interval later exactly one more passes. */
    assert_true(take(&tat, T0 + SEC, rate, 1).allowed);
    assert_false(take(&tat, T0 + SEC, rate, 1).allowed);
    /* Long idle: the bucket is full again, never fuller. */
    cq_limit_decision_t d = take(&tat, T0 + 3600 * SEC, rate, 1);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 2);
    /* Sustained: 60 a minute pass when spaced by the interval. */
    int passed = 0;
    for (int i = 1; i <= 60; i++)
        passed += take(&tat, T0 + 3600 * SEC + i * SEC, rate, 1).allowed;
    assert_int_equal(passed, 60);
}

static void test_limit_gcra_batch_costs_its_items(void **state)
{
    cq_limit_rate_t rate = {.rate = 600, .burst = 10}; /* 100 ms per job */
    int64_t tat = 0;
    cq_limit_decision_t d = take(&tat, T0, rate, 8);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 2);
    /* 3 do not fit in the 2 left: refused, whole, until one more refills. */
    d = take(&tat, T0, rate, 3);
    assert_false(d.allowed);
    assert_int_equal(d.remaining, 2);
    assert_int_equal(d.retry_after_us, SEC / 10);
    assert_true(take(&tat, T0 + SEC / 10, rate, 3).allowed);
}

static void test_limit_gcra_cost_over_burst_never_passes(void **state)
{
    cq_limit_rate_t rate = {.rate = 60, .burst = 5};
    int64_t tat = 0;
    cq_limit_decision_t d = take(&tat, T0, rate, 6);
    assert_false(d.allowed);
    assert_int_equal(d.remaining, 5);
    assert_int_equal(tat, 0);
    d = take(&tat, T0 + 86400 * SEC, rate, 6);
    assert_false(d.allowed);
    assert_int_equal(cq_limit_retry_after_s(&d), 1);
}

static void test_limit_gcra_rate_zero_is_unlimited(void **state)
{
    cq_limit_rate_t rate = {.rate = 0, .burst = 1};
    int64_t tat = 0;
    for (int i = 0; i < 1000; i++)
        assert_true(take(&tat, T0, rate, 1000).allowed);
    assert_int_equal(tat, 0);
}

static void test_limit_headers_follow_the_draft(void **state)
{
    cq_limit_rate_t rate = {.rate = 60, .burst = 3};
    char buf[128];
    cq_limit_policy_header(rate, buf, sizeof(buf));
    assert_string_equal(buf, "\"tenant\";q=3;w=3");
    cq_limit_policy_header((cq_limit_rate_t){.rate = 600, .burst = 1000}, buf, sizeof(buf));
    assert_string_equal(buf, "\"tenant\";q=1000;w=100");
    cq_limit_decision_t d = {.allowed = true, .remaining = 2, .reset_us = SEC + 1};
    cq_limit_state_header(&d, buf, sizeof(buf));
    assert_string_equal(buf, "\"tenant\";r=2;t=2");
    /* Retry-After is whole seconds, rounded up, at least 1. */
    d = (cq_limit_decision_t){.retry_after_us = 1};
    assert_int_equal(cq_limit_retry_after_s(&d), 1);
    d.retry_after_us = 0;
    assert_int_equal(cq_limit_retry_after_s(&d), 1);
    d.retry_after_us = 1200000;
    assert_int_equal(cq_limit_retry_after_s(&d), 2);
    d.retry_after_us = 2 * SEC;
    assert_int_equal(cq_limit_retry_after_s(&d), 2);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void test_limit_parse_rates_accepts_lists(void **state)
{
    char **tenants = NULL;
    cq_limit_rate_t *rates = NULL;
    size_t n = 99;
    char err[256] = "";
    assert_int_equal(cq_limit_parse_rates(" acme=60/10, big-co = 6000/2000 ,t:3=0/1,", &tenants,
                                          &rates, &n, err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(tenants[0], "acme");
    assert_int_equal(rates[0].rate, 60);
    assert_int_equal(rates[0].burst, 10);
    assert_string_equal(tenants[1], "big-co");
    assert_int_equal(rates[1].rate, 6000);
    assert_int_equal(rates[1].burst, 2000);
    assert_string_equal(tenants[2], "t:3");
    assert_int_equal(rates[2].rate, 0);
    free_names(tenants, n);
    free(rates);
    assert_int_equal(cq_limit_parse_rates("", &tenants, &rates, &n, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(n, 0);
    assert_null(tenants);
    assert_null(rates);
}

static void test_limit_parse_rates_refuses_bad_entries(void **state)
{
    static const char *const bad[] = {
        "acme",
        "acme=60",
        "acme=x/1",
        "acme=60/0",
        "=1/1",
        "a b=1/1",
        "a=1/1,a=2/2",
        "acme=-1/2",
        "acme=60/10/",
        "acme=99999999999/1",
        "acme=60/2000000",
        "acme=1/1,,b=1/1",
        "acme= 6 0/1",
        "acme=1.5/2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char **tenants = (char **)1;
        cq_limit_rate_t *rates = (cq_limit_rate_t *)1;
        size_t n = 99;
        char err[256] = "";
        if (cq_limit_parse_rates(bad[i], &tenants, &rates, &n, err, sizeof(err)) == CQ_ERR_OK)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_null(tenants);
        assert_null(rates);
        assert_int_equal(n, 0);
        assert_true(strlen(err) > 0);
    }
}

static void test_limit_parse_budgets(void **state)
{
    char **tenants = NULL;
    int64_t *budgets = NULL;
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(
        cq_limit_parse_budgets("acme=50000,free=0", &tenants, &budgets, &n, err, sizeof(err)),
        CQ_ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(budgets[0], 50000);
    assert_int_equal(budgets[1], 0);
    free_names(tenants, n);
    free(budgets);
    assert_int_not_equal(
        cq_limit_parse_budgets("acme=5k", &tenants, &budgets, &n, err, sizeof(err)), CQ_ERR_OK);
    assert_non_null(strstr(err, "acme=5k"));
}

static void test_limit_new_looks_tenants_up(void **state)
{
    cq_config_t *conf = cq_config_new();
    char err[256] = "";
    assert_int_equal(cq_config_set(conf, "ratelimit.tenants", "small=6/2", err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "llm.token_budgets", "small=100,vip=0", err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "ratelimit.rate", "120", err, sizeof(err)), CQ_ERR_OK);
    cq_limit_t *limit = cq_limit_new(conf, err, sizeof(err));
    assert_non_null(limit);
    assert_int_equal(cq_limit_rate_of(limit, "small").rate, 6);
    assert_int_equal(cq_limit_rate_of(limit, "small").burst, 2);
    assert_int_equal(cq_limit_rate_of(limit, "other").rate, 120);
    assert_int_equal(cq_limit_rate_of(limit, "other").burst, 1000);
    assert_int_equal(cq_limit_rate_of(limit, "smal").rate, 120); /* exact names only */
    assert_int_equal(cq_limit_budget_of(limit, "small"), 100);
    assert_int_equal(cq_limit_budget_of(limit, "vip"), 0);
    assert_int_equal(cq_limit_budget_of(limit, "other"), 1000000);
    cq_limit_destroy(limit);
    cq_limit_destroy(NULL);

    assert_int_equal(cq_config_set(conf, "ratelimit.tenants", "small=6", err, sizeof(err)),
                     CQ_ERR_OK);
    assert_null(cq_limit_new(conf, err, sizeof(err)));
    assert_non_null(strstr(err, "ratelimit.tenants"));
    assert_int_equal(cq_config_set(conf, "ratelimit.tenants", "", err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "llm.token_budgets", "x=-4", err, sizeof(err)), CQ_ERR_OK);
    assert_null(cq_limit_new(conf, err, sizeof(err)));
    assert_non_null(strstr(err, "llm.token_budgets"));
    /* The defaults' ranges come from the config table. */
    assert_int_not_equal(cq_config_set(conf, "ratelimit.burst", "0", err, sizeof(err)), CQ_ERR_OK);
    cq_config_destroy(conf);
}

static void test_limit_days_are_utc(void **state)
{
    char day[9];
    cq_limit_day(0, day);
    assert_string_equal(day, "19700101");
    cq_limit_day(86399999, day);
    assert_string_equal(day, "19700101");
    cq_limit_day(86400000, day);
    assert_string_equal(day, "19700102");
    cq_limit_day(T0 / 1000 - 1, day);
    assert_string_equal(day, "20251201");
    cq_limit_day(T0 / 1000, day);
    assert_string_equal(day, "20251202");
    assert_int_equal(cq_limit_day_left_ms(T0 / 1000), 86400000);
    assert_int_equal(cq_limit_day_left_ms(T0 / 1000 + 86399999), 1);
}

static void test_limit_estimate_tokens(void **state)
{
    assert_int_equal(cq_limit_estimate_tokens(0), 0);
    assert_int_equal(cq_limit_estimate_tokens(1), 1);
    assert_int_equal(cq_limit_estimate_tokens(4), 1);
    assert_int_equal(cq_limit_estimate_tokens(5), 2);
    assert_int_equal(cq_limit_estimate_tokens(4000), 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_gcra_allows_the_burst_then_refuses),
        cmocka_unit_test(test_limit_gcra_refills_at_the_rate),
        cmocka_unit_test(test_limit_gcra_batch_costs_its_items),
        cmocka_unit_test(test_limit_gcra_cost_over_burst_never_passes),
        cmocka_unit_test(test_limit_gcra_rate_zero_is_unlimited),
        cmocka_unit_test(test_limit_headers_follow_the_draft),
        cmocka_unit_test(test_limit_parse_rates_accepts_lists),
        cmocka_unit_test(test_limit_parse_rates_refuses_bad_entries),
        cmocka_unit_test(test_limit_parse_budgets),
        cmocka_unit_test(test_limit_new_looks_tenants_up),
        cmocka_unit_test(test_limit_days_are_utc),
        cmocka_unit_test(test_limit_estimate_tokens),
    };
    return cmocka_run_group_tests_name("limit", tests, NULL, NULL);
}
