/*
 * Unit tests of the circuit breaker with an injected clock: opening after
 * N consecutive failures, the cooldown, the single half-open trial and its
 * two outcomes, a lost trial, and concurrent callers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "cq_breaker.h"

static void fail_times(cq_breaker_t *b, int n, int64_t now)
{
    for (int i = 0; i < n; i++) {
        assert_true(cq_breaker_allow(b, now));
        cq_breaker_record(b, false, now);
    }
}

static void test_breaker_opens_after_consecutive_failures(void **state)
{
    cq_breaker_t *b = cq_breaker_new(5, 30000);
    assert_string_equal(cq_breaker_state_name(b), "closed");
    fail_times(b, 4, 1000);
    cq_breaker_record(b, true, 1000); /* a success resets the count */
    fail_times(b, 4, 1000);
    assert_int_equal(cq_breaker_state(b), CQ_BREAKER_CLOSED);
    fail_times(b, 1, 2000);
    assert_int_equal(cq_breaker_state(b), CQ_BREAKER_OPEN);
    assert_string_equal(cq_breaker_state_name(b), "open");
    assert_false(cq_breaker_allow(b, 2000));
    assert_false(cq_breaker_allow(b, 31999));
    cq_breaker_destroy(b);
}

static void test_breaker_half_open_lets_one_trial_through(void **state)
{
    cq_breaker_t *b = cq_breaker_new(2, 30000);
    fail_times(b, 2, 0);
    assert_true(cq_breaker_allow(b, 30000)); /* the trial */
    assert_int_equal(cq_breaker_state(b), CQ_BREAKER_HALF_OPEN);
    assert_string_equal(cq_breaker_state_name(b), "half_open");
    assert_false(cq_breaker_allow(b, 30000));
    assert_false(cq_breaker_allow(b, 45000));
    cq_breaker_record(b, true, 46000);
    assert_int_equal(cq_breaker_state(b), CQ_BREAKER_CLOSED);
    assert_true(cq_breaker_allow(b, 46001));
    assert_true(cq_breaker_allow(b, 46001));
    /* Closed again with a fresh count: one failure does not reopen it. */
    fail_times(b, 1, 47000);
    assert_int_equal(cq_breaker_state(b), CQ_BREAKER_CLOSED);
    cq_breaker_destroy(b);
}

static void test_breaker_failed_trial_reopens(void **state)
{
    cq_breaker_t *b = cq_breaker_new(1, 10000);
    fail_times(b, 1, 0);
    assert_true(cq_breaker_allow(b, 10000));
    cq_breaker_record(b, false, 12000);
    assert_int_equal(cq_breaker_state(b), CQ_BREAKER_OPEN);
    /* A new cooldown counted from the failed trial. */
    assert_false(cq_breaker_allow(b, 21999));
    assert_true(cq_breaker_allow(b, 22000));
    assert_int_equal(cq_breaker_state(b), CQ_BREAKER_HALF_OPEN);
    cq_breaker_destroy(b);
}

static void test_breaker_lost_trial_is_replaced(void **state)
{
    cq_breaker_t *b = cq_breaker_new(1, 10000);
    fail_times(b, 1, 0);
    assert_true(cq_breaker_allow(b, 10000)); /* trial whose outcome never comes */
    assert_false(cq_breaker_allow(b, 19999));
    assert_true(cq_breaker_allow(b, 20000));
    assert_false(cq_breaker_allow(b, 20001));
    cq_breaker_destroy(b);
}

static void test_breaker_late_results_while_open(void **state)
{
    cq_breaker_t *b = cq_breaker_new(1, 10000);
    fail_times(b, 1, 0);
    /* A failure of a call that started earlier does not extend the cooldown. */
    cq_breaker_record(b, false, 9000);
    assert_true(cq_breaker_allow(b, 10000));
    cq_breaker_record(b, false, 10000);
    /* A late success proves the provider answers: closed. */
    cq_breaker_record(b, true, 11000);
    assert_int_equal(cq_breaker_state(b), CQ_BREAKER_CLOSED);
    cq_breaker_destroy(b);
}

static void test_breaker_clamps_arguments(void **state)
{
    cq_breaker_t *b = cq_breaker_new(0, -5);
    assert_true(cq_breaker_allow(b, 100));
    cq_breaker_record(b, false, 100);
    assert_int_equal(cq_breaker_state(b), CQ_BREAKER_OPEN);
    assert_true(cq_breaker_allow(b, 101));
    assert_false(cq_breaker_allow(b, 101));
    cq_breaker_destroy(b);
    cq_breaker_destroy(NULL);
}

#define THREADS    4
#define PER_THREAD 1000

static void *record_failures(void *arg)
{
    cq_breaker_t *b = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        cq_breaker_allow(b, 0);
        cq_breaker_record(b, false, 0);
        (void)cq_breaker_state_name(b);
    }
    return NULL;
}

typedef struct {
    cq_breaker_t *b;
    pthread_barrier_t *barrier;
    bool allowed;
} racer_t;

static void *race_for_trial(void *arg)
{
    racer_t *r = arg;
    pthread_barrier_wait(r->barrier);
    r->allowed = cq_breaker_allow(r->b, 50000);
    return NULL;
}

static void test_breaker_concurrent_callers(void **state)
{
    /* No failure is lost: exactly THREADS * PER_THREAD failures open a
     * breaker with that threshold, one fewer would not. */
    for (int extra = 0; extra <= 1; extra++) {
        cq_breaker_t *b = cq_breaker_new(THREADS * PER_THREAD + extra, 1000);
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++)
            pthread_create(&t[i], NULL, record_failures, b);
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        assert_int_equal(cq_breaker_state(b), extra ? CQ_BREAKER_CLOSED : CQ_BREAKER_OPEN);
        cq_breaker_destroy(b);
    }

    /* Many callers at the end of the cooldown: one trial. */
    cq_breaker_t *b = cq_breaker_new(1, 1000);
    fail_times(b, 1, 0);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 8);
    racer_t racers[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        racers[i] = (racer_t){b, &barrier, false};
        pthread_create(&t[i], NULL, race_for_trial, &racers[i]);
    }
    int allowed = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        allowed += racers[i].allowed;
    }
    assert_int_equal(allowed, 1);
    pthread_barrier_destroy(&barrier);
    cq_breaker_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breaker_opens_after_consecutive_failures),
        cmocka_unit_test(test_breaker_half_open_lets_one_trial_through),
        cmocka_unit_test(test_breaker_failed_trial_reopens),
        cmocka_unit_test(test_breaker_lost_trial_is_replaced),
        cmocka_unit_test(test_breaker_late_results_while_open),
        cmocka_unit_test(test_breaker_clamps_arguments),
        cmocka_unit_test(test_breaker_concurrent_callers),
    };
    return cmocka_run_group_tests_name("breaker", tests, NULL, NULL);
}
