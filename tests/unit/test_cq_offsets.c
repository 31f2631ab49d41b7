/*
 * Unit tests of commit-point tracking: the commit point never passes an
 * unfinished offset, whatever order jobs finish in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "cq_offsets.h"

static void test_offsets_in_order(void **state)
{
    cq_offsets_t *o = cq_offsets_new();
    int64_t next = -1;
    for (int64_t i = 10; i < 13; i++)
        cq_offsets_track(o, "t", 0, i);
    assert_int_equal(cq_offsets_in_flight(o), 3);
    assert_true(cq_offsets_done(o, "t", 0, 10, &next));
    assert_int_equal(next, 11);
    assert_true(cq_offsets_done(o, "t", 0, 11, &next));
    assert_int_equal(next, 12);
    assert_true(cq_offsets_done(o, "t", 0, 12, &next));
    assert_int_equal(next, 13);
    assert_int_equal(cq_offsets_in_flight(o), 0);
    cq_offsets_destroy(o);
}

static void test_offsets_out_of_order_waits_for_lowest(void **state)
{
    cq_offsets_t *o = cq_offsets_new();
    int64_t next = -1;
    for (int64_t i = 0; i < 5; i++)
        cq_offsets_track(o, "t", 1, i);
    assert_false(cq_offsets_done(o, "t", 1, 3, &next));
    assert_false(cq_offsets_done(o, "t", 1, 1, &next));
    assert_false(cq_offsets_done(o, "t", 1, 4, &next));
    assert_true(cq_offsets_done(o, "t", 1, 0, &next));
    assert_int_equal(next, 2); /* 2 is still running */
    assert_true(cq_offsets_done(o, "t", 1, 2, &next));
    assert_int_equal(next, 5);
    /* A second report of the same offset changes nothing. */
    assert_false(cq_offsets_done(o, "t", 1, 2, &next));
    cq_offsets_destroy(o);
}

static void test_offsets_partitions_are_independent(void **state)
{
    cq_offsets_t *o = cq_offsets_new();
    int64_t next = -1;
    cq_offsets_track(o, "a", 0, 100);
    cq_offsets_track(o, "a", 1, 7);
    cq_offsets_track(o, "b", 0, 3);
    assert_true(cq_offsets_done(o, "a", 1, 7, &next));
    assert_int_equal(next, 8);
    assert_int_equal(cq_offsets_in_flight(o), 2);
    assert_false(cq_offsets_done(o, "c", 0, 3, &next)); /* unknown partition */
    cq_offsets_destroy(o);
}

static void test_offsets_forget_returns_commit_point(void **state)
{
    cq_offsets_t *o = cq_offsets_new();
    int64_t next = -1;
    cq_offsets_track(o, "t", 0, 5);
    cq_offsets_track(o, "t", 0, 6);
    assert_true(cq_offsets_done(o, "t", 0, 5, &next));
    assert_int_equal(cq_offsets_forget(o, "t", 0), 6);
    assert_int_equal(cq_offsets_in_flight(o), 0);
    /* A job of the revoked partition finishing later is ignored. */
    assert_false(cq_offsets_done(o, "t", 0, 6, &next));
    assert_int_equal(cq_offsets_forget(o, "t", 0), -1);
    cq_offsets_destroy(o);
}

static void test_offsets_many_grow(void **state)
{
    cq_offsets_t *o = cq_offsets_new();
    int64_t next = -1;
    for (int64_t i = 0; i < 5000; i++)
        cq_offsets_track(o, "t", 0, i);
    for (int64_t i = 4999; i >= 1; i--)
        assert_false(cq_offsets_done(o, "t", 0, i, &next));
    assert_true(cq_offsets_done(o, "t", 0, 0, &next));
    assert_int_equal(next, 5000);
    /* After draining, new offsets reuse the space. */
    cq_offsets_track(o, "t", 0, 5000);
    assert_true(cq_offsets_done(o, "t", 0, 5000, &next));
    assert_int_equal(next, 5001);
    cq_offsets_destroy(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_in_order),
        cmocka_unit_test(test_offsets_out_of_order_waits_for_lowest),
        cmocka_unit_test(test_offsets_partitions_are_independent),
        cmocka_unit_test(test_offsets_forget_returns_commit_point),
        cmocka_unit_test(test_offsets_many_grow),
    };
    return cmocka_run_group_tests_name("offsets", tests, NULL, NULL);
}
