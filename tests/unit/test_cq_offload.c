/*
 * Unit tests of the offload queue: calls run in the order queued, except a
 * call queued first (cq_offload_submit_first), which runs before every call
 * still waiting; each done callback runs on the draining thread. Calls
 * submitted while wake-ups are held wait for the next kick, and every one
 * of them runs after it (on each of several helper threads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "cq_offload.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_bool blocker_running;
static char order[16];
static atomic_int order_len;
static int done_count;

static void work_blocker(cq_offload_item_t *item)
{
    (void)item;
    atomic_store(&blocker_running, true);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void work_note(cq_offload_item_t *item)
{
    order[atomic_fetch_add(&order_len, 1)] = *(const char *)item->arg;
}

static void done_count_one(cq_offload_item_t *item)
{
    (void)item;
    done_count++;
}

/* Drains until n done callbacks have run in all. */
static void drain_until(cq_offload_t *q, int n)
{
    while (done_count < n) {
        cq_offload_drain(q, 0);
        usleep(1000);
    }
}

static void test_offload_submit_first_jumps_the_queue(void **state)
{
    (void)state;
    cq_offload_t *q = cq_offload_new(1, NULL);
    cq_offload_item_t blocker = {.work = work_blocker, .done = done_count_one};
    cq_offload_item_t a = {.work = work_note, .done = done_count_one, .arg = "a"};
    cq_offload_item_t b = {.work = work_note, .done = done_count_one, .arg = "b"};
    cq_offload_item_t c = {.work = work_note, .done = done_count_one, .arg = "c"};
    cq_offload_item_t d = {.work = work_note, .done = done_count_one, .arg = "d"};
    cq_offload_submit(q, &blocker);
    while (!atomic_load(&blocker_running))
        usleep(1000);
    cq_offload_submit(q, &a);
    cq_offload_submit(q, &b);
    cq_offload_submit_first(q, &c); /* ahead of a and b, not of the blocker */
    assert_int_equal(cq_offload_pending(q), 4);
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    drain_until(q, 4);
    assert_int_equal(atomic_load(&order_len), 3);
    assert_memory_equal(order, "cab", 3);
    /* On an empty queue the first call is also the last: the next one follows it. */
    cq_offload_submit(q, &blocker);
    cq_offload_submit_first(q, &d);
    cq_offload_submit(q, &a);
    drain_until(q, 7);
    assert_memory_equal(order, "cabda", 5);
    assert_int_equal(cq_offload_pending(q), 0);
    cq_offload_destroy(q);
}

static void test_offload_held_calls_wait_for_the_kick(void **state)
{
    (void)state;
    atomic_store(&order_len, 0);
    done_count = 0;
    cq_offload_t *q = cq_offload_new(2, NULL);
    cq_offload_item_t a = {.work = work_note, .done = done_count_one, .arg = "a"};
    cq_offload_item_t b = {.work = work_note, .done = done_count_one, .arg = "b"};
    cq_offload_item_t c = {.work = work_note, .done = done_count_one, .arg = "c"};
    usleep(100 * 1000); /* both helpers asleep: an awake one takes queued calls unwoken */
    cq_offload_hold(q);
    cq_offload_submit(q, &a);
    cq_offload_submit_first(q, &b);
    usleep(100 * 1000); /* a helper woken by either submit would have run it by now */
    assert_int_equal(atomic_load(&order_len), 0);
    assert_int_equal(cq_offload_drain(q, 0), 0);
    cq_offload_kick(q);
    drain_until(q, 2);
    assert_int_equal(atomic_load(&order_len), 2);
    /* Still held after a kick; the release wakes for what came since. */
    cq_offload_submit(q, &c);
    usleep(100 * 1000);
    assert_int_equal(atomic_load(&order_len), 2);
    cq_offload_release(q);
    drain_until(q, 3);
    /* Released: a submit wakes a helper at once again. */
    cq_offload_submit(q, &a);
    drain_until(q, 4);
    assert_int_equal(atomic_load(&order_len), 4);
    assert_int_equal(cq_offload_pending(q), 0);
    cq_offload_destroy(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offload_submit_first_jumps_the_queue),
        cmocka_unit_test(test_offload_held_calls_wait_for_the_kick),
    };
    return cmocka_run_group_tests_name("offload", tests, NULL, NULL);
}
