/*
 * Unit tests of the fetch layer's per-destination breakers: one breaker
 * per name, shared by its callers, and a bounded table that drops only
 * destinations nobody holds whose circuit is closed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "cq_fetch_dest.h"

static void test_fetch_dest_one_breaker_per_name(void **state)
{
    cq_fetch_dests_t *dests = cq_fetch_dests_new(2, 1000, 16);
    cq_fetch_dest_t *a1 = cq_fetch_dests_acquire(dests, "a.example:443");
    cq_fetch_dest_t *a2 = cq_fetch_dests_acquire(dests, "a.example:443");
    cq_fetch_dest_t *b = cq_fetch_dests_acquire(dests, "a.example:80");
    assert_ptr_equal(a1, a2);
    assert_ptr_not_equal(a1, b);
    assert_int_equal(cq_fetch_dests_count(dests), 2);
    cq_breaker_record(cq_fetch_dest_breaker(a1), false, 0);
    cq_breaker_record(cq_fetch_dest_breaker(a2), false, 0);
    assert_string_equal(cq_fetch_dests_state(dests, "a.example:443"), "open");
    assert_string_equal(cq_fetch_dests_state(dests, "a.example:80"), "closed");
    assert_string_equal(cq_fetch_dests_state(dests, "unknown:1"), "closed");
    cq_fetch_dests_release(a1);
    cq_fetch_dests_release(a2);
    cq_fetch_dests_release(b);
    cq_fetch_dests_release(NULL);
    cq_fetch_dests_destroy(dests);
    cq_fetch_dests_destroy(NULL);
}

static void test_fetch_dest_table_stays_bounded(void **state)
{
    cq_fetch_dests_t *dests = cq_fetch_dests_new(1, 60000, 8);
    cq_fetch_dest_t *held = cq_fetch_dests_acquire(dests, "held:1");
    cq_fetch_dest_t *open = cq_fetch_dests_acquire(dests, "open:1");
    cq_breaker_record(cq_fetch_dest_breaker(open), false, 0);
    cq_fetch_dests_release(open); /* not held, but its circuit is open */
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "site%d.example:443", i);
        cq_fetch_dests_release(cq_fetch_dests_acquire(dests, name));
        assert_true(cq_fetch_dests_count(dests) <= 8);
    }
    /* The held one and the open one survived every sweep. */
    assert_ptr_equal(cq_fetch_dests_acquire(dests, "held:1"), held);
    assert_string_equal(cq_fetch_dests_state(dests, "open:1"), "open");
    cq_fetch_dests_release(held);
    cq_fetch_dests_release(held);
    cq_fetch_dests_destroy(dests);
}

/* A configured destination keeps its own thresholds and is never swept. */
static void test_fetch_dest_configured_keeps_its_breaker(void **state)
{
    cq_fetch_dests_t *dests = cq_fetch_dests_new(1, 60000, 4);
    cq_fetch_dests_configure(dests, "llm.example:443", 3, 60000);
    char name[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "site%d.example:443", i);
        cq_fetch_dests_release(cq_fetch_dests_acquire(dests, name));
        assert_true(cq_fetch_dests_count(dests) <= 4);
    }
    cq_fetch_dest_t *llm = cq_fetch_dests_acquire(dests, "llm.example:443");
    cq_breaker_record(cq_fetch_dest_breaker(llm), false, 0);
    cq_breaker_record(cq_fetch_dest_breaker(llm), false, 0);
    /* Two failures open the table's breakers (1), not this one (3). */
    assert_string_equal(cq_fetch_dests_state(dests, "llm.example:443"), "closed");
    cq_breaker_record(cq_fetch_dest_breaker(llm), false, 0);
    assert_string_equal(cq_fetch_dests_state(dests, "llm.example:443"), "open");
    cq_fetch_dests_release(llm);
    cq_fetch_dests_destroy(dests);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_dest_one_breaker_per_name),
        cmocka_unit_test(test_fetch_dest_table_stays_bounded),
        cmocka_unit_test(test_fetch_dest_configured_keeps_its_breaker),
    };
    return cmocka_run_group_tests_name("fetch_dest", tests, NULL, NULL);
}
