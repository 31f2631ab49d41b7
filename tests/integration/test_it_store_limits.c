/*
 * Integration: the store's per-tenant counters against the real Redis.
 * The rate script computes exactly what cq_limit_gcra computes (a long
 * pseudo-random run of times and costs, the clock faked), stores share one
 * bucket atomically (several stores, as several gateways, race for one
 * tenant's burst and win it exactly once per job), buckets of tenants are
 * apart, and the daily token counters add up, expire and keep days and
 * tenants apart. Prints the time of one rate check (one round trip).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cq_it.h"
#include "cq_store.h"

static cq_it_stack_t stack;

#define T0 1764633600000000LL
#define MS 1000LL

static cq_store_t *store_new(void)
{
    cq_config_t *conf = cq_config_new();
    char err[256], buf[32];
    snprintf(buf, sizeof(buf), "%d", stack.redis_port);
    assert_int_equal(cq_config_set(conf, "redis.port", buf, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "redis.prefix", stack.prefix, err, sizeof(err)),
                     CQ_ERR_OK);
    cq_store_t *store = cq_store_new(conf, err, sizeof(err));
    cq_config_destroy(conf);
    assert_non_null(store);
    return store;
}

static void test_it_store_limits_script_matches_the_c_arithmetic(void **state)
{
    cq_store_t *store = store_new();
    cq_limit_rate_t rate = {.rate = 600, .burst = 5}; /* 100 ms per job */
    unsigned int seed = 42;
    int64_t now = T0, tat = 0;
    int allowed = 0, refused = 0;
    for (int i = 0; i < 400; i++) {
        now += (rand_r(&seed) % 250) * MS + rand_r(&seed) % 1000;
        int64_t cost = 1 + rand_r(&seed) % 3;
        if (i % 97 == 0)
            cost = 6; /* larger than the burst */
        cq_limit_decision_t want, got;
        cq_limit_gcra(tat, now, rate, cost, &want);
        assert_int_equal(cq_store_rate_take(store, "tenant-a", rate, cost, now, &got), CQ_ERR_OK);
        if (got.allowed != want.allowed || got.remaining != want.remaining ||
            got.reset_us != want.reset_us || got.retry_after_us != want.retry_after_us ||
            got.tat_us != want.tat_us)
            fail_msg("step %d (now +%lld us, cost %lld): script {%d, %lld, %lld, %lld, %lld} "
                     "C {%d, %lld, %lld, %lld, %lld}",
                     i, (long long)(now - T0), (long long)cost, got.allowed,
                     (long long)got.remaining, (long long)got.reset_us,
                     (long long)got.retry_after_us, (long long)got.tat_us, want.allowed,
                     (long long)want.remaining, (long long)want.reset_us,
                     (long long)want.retry_after_us, (long long)want.tat_us);
        tat = want.tat_us;
        if (want.allowed)
            allowed++;
        else
            refused++;
    }
    /* The run exercised both outcomes. */
    assert_true(allowed > 50);
    assert_true(refused > 50);
    /* Another tenant's bucket is its own: full. */
    cq_limit_decision_t d;
    assert_int_equal(cq_store_rate_take(store, "tenant-b", rate, 5, now, &d), CQ_ERR_OK);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 0);
    cq_store_destroy(store);
}

typedef struct {
    int64_t now;
    int allowed;
} cq_racer_t;

static void *racer(void *arg)
{
    cq_racer_t *r = arg;
    cq_store_t *store = store_new();                 /* its own connections, as another gateway */
    cq_limit_rate_t rate = {.rate = 1, .burst = 50}; /* no refill during the race */
    for (int i = 0; i < 20; i++) {
        cq_limit_decision_t d;
        if (cq_store_rate_take(store, "tenant-race", rate, 1, r->now, &d) == CQ_ERR_OK && d.allowed)
            r->allowed++;
    }
    cq_store_destroy(store);
    return NULL;
}

static void test_it_store_limits_replicas_share_one_bucket(void **state)
{
    enum { N = 8 };
    pthread_t threads[N];
    cq_racer_t racers[N];
    for (int i = 0; i < N; i++) {
        racers[i] = (cq_racer_t){.now = T0 + i};
        pthread_create(&threads[i], NULL, racer, &racers[i]);
    }
    int allowed = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        allowed += racers[i].allowed;
    }
    assert_int_equal(allowed, 50); /* 160 asked, the burst given out exactly once */
}

static void test_it_store_limits_token_counters(void **state)
{
    cq_store_t *store = store_new();
    int64_t used = -1, total = 0;
    assert_int_equal(cq_store_tokens_used(store, "tenant-t", "20251202", &used), CQ_ERR_OK);
    assert_int_equal(used, 0);
    assert_int_equal(cq_store_tokens_add(store, "tenant-t", "20251202", 700, 60000, &total),
                     CQ_ERR_OK);
    assert_int_equal(total, 700);
    assert_int_equal(cq_store_tokens_add(store, "tenant-t", "20251202", 300, 60000, NULL),
                     CQ_ERR_OK);
    assert_int_equal(cq_store_tokens_used(store, "tenant-t", "20251202", &used), CQ_ERR_OK);
    assert_int_equal(used, 1000);
    /* Another day, another tenant: apart. */
    assert_int_equal(cq_store_tokens_used(store, "tenant-t", "20251203", &used), CQ_ERR_OK);
    assert_int_equal(used, 0);
    assert_int_equal(cq_store_tokens_used(store, "tenant-u", "20251202", &used), CQ_ERR_OK);
    assert_int_equal(used, 0);
    assert_int_not_equal(cq_store_tokens_add(store, "tenant-t", "20251202", 0, 60000, NULL),
                         CQ_ERR_OK);
    /* The counter expires (a short TTL here). */
    assert_int_equal(cq_store_tokens_add(store, "tenant-v", "20251202", 5, 200, NULL), CQ_ERR_OK);
    usleep(400 * 1000);
    assert_int_equal(cq_store_tokens_used(store, "tenant-v", "20251202", &used), CQ_ERR_OK);
    assert_int_equal(used, 0);
    cq_store_destroy(store);
}

static void test_it_store_limits_check_cost(void **state)
{
    cq_store_t *store = store_new();
    cq_limit_rate_t rate = {.rate = 60000000, .burst = 1000000};
    enum { N = 2000 };
    int64_t t0 = cq_mono_ms();
    for (int i = 0; i < N; i++) {
        cq_limit_decision_t d;
        assert_int_equal(cq_store_rate_take(store, "tenant-cost", rate, 1, T0 + i, &d), CQ_ERR_OK);
    }
    int64_t ms = cq_mono_ms() - t0;
    fprintf(stderr, "rate check: %d sequential checks in %lld ms, %.1f us each (one EVALSHA)\n", N,
            (long long)ms, (double)ms * 1000.0 / N);
    cq_store_destroy(store);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "storelimits");
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_store_limits_script_matches_the_c_arithmetic),
        cmocka_unit_test(test_it_store_limits_replicas_share_one_bucket),
        cmocka_unit_test(test_it_store_limits_token_counters),
        cmocka_unit_test(test_it_store_limits_check_cost),
    };
    return cmocka_run_group_tests_name("integration.store_limits", tests, setup, NULL);
}
