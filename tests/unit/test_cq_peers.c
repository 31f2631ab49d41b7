/*
 * Unit tests of cq_peers: the per-address cap, the reserve kept for
 * addresses that hold nothing, and the table staying usable under churn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "cq_peers.h"

static void test_peers_caps_one_address(void **state)
{
    (void)state;
    cq_peers_t *peers = cq_peers_new(64, 3, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cq_peers_enter(peers, "10.0.0.1"), CQ_PEERS_ADMITTED);
    assert_int_equal(cq_peers_enter(peers, "10.0.0.1"), CQ_PEERS_OVER_PEER);
    /* Another address is not affected. */
    assert_int_equal(cq_peers_enter(peers, "10.0.0.2"), CQ_PEERS_ADMITTED);
    assert_int_equal(cq_peers_count(peers, "10.0.0.1"), 3);
    assert_int_equal(cq_peers_count(peers, NULL), 4);
    /* A closed connection frees its place. */
    cq_peers_leave(peers, "10.0.0.1");
    assert_int_equal(cq_peers_enter(peers, "10.0.0.1"), CQ_PEERS_ADMITTED);
    assert_int_equal(cq_peers_enter(peers, "10.0.0.1"), CQ_PEERS_OVER_PEER);
    cq_peers_destroy(peers);
}

static void test_peers_no_cap_when_zero(void **state)
{
    (void)state;
    cq_peers_t *peers = cq_peers_new(100, 0, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(cq_peers_enter(peers, "::1"), CQ_PEERS_ADMITTED);
    /* Never more than the slots, whatever the address. */
    assert_int_equal(cq_peers_enter(peers, "::1"), CQ_PEERS_OVER_TOTAL);
    assert_int_equal(cq_peers_enter(peers, "::2"), CQ_PEERS_OVER_TOTAL);
    cq_peers_destroy(peers);
}

static void test_peers_reserve_is_for_newcomers(void **state)
{
    (void)state;
    /* 10 slots, the last 2 only for addresses holding none. */
    cq_peers_t *peers = cq_peers_new(10, 0, 2);
    for (int i = 0; i < 8; i++)
        assert_int_equal(cq_peers_enter(peers, "192.0.2.1"), CQ_PEERS_ADMITTED);
    assert_int_equal(cq_peers_enter(peers, "192.0.2.1"), CQ_PEERS_OVER_TOTAL);
    /* A probe from an address holding nothing still gets in... */
    assert_int_equal(cq_peers_enter(peers, "192.0.2.9"), CQ_PEERS_ADMITTED);
    /* ...but not a second one from the same address. */
    assert_int_equal(cq_peers_enter(peers, "192.0.2.9"), CQ_PEERS_OVER_TOTAL);
    assert_int_equal(cq_peers_enter(peers, "192.0.2.10"), CQ_PEERS_ADMITTED);
    assert_int_equal(cq_peers_enter(peers, "192.0.2.11"), CQ_PEERS_OVER_TOTAL);
    assert_int_equal(cq_peers_count(peers, NULL), 10);
    cq_peers_destroy(peers);
}

static void test_peers_leave_of_unknown_address_is_harmless(void **state)
{
    (void)state;
    cq_peers_t *peers = cq_peers_new(4, 1, 0);
    cq_peers_leave(peers, "198.51.100.7");
    assert_int_equal(cq_peers_count(peers, NULL), 0);
    assert_int_equal(cq_peers_enter(peers, "198.51.100.7"), CQ_PEERS_ADMITTED);
    cq_peers_leave(peers, "198.51.100.7");
    cq_peers_leave(peers, "198.51.100.7");
    assert_int_equal(cq_peers_count(peers, "198.51.100.7"), 0);
    assert_int_equal(cq_peers_count(peers, NULL), 0);
    cq_peers_destroy(peers);
}

/* Many distinct addresses come and go (far more than the table holds at
 * once): counts stay right and every address is admitted again. */
static void test_peers_churn_keeps_counts(void **state)
{
    (void)state;
    cq_peers_t *peers = cq_peers_new(32, 2, 0);
    char addr[48];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 16; i++) {
            snprintf(addr, sizeof(addr), "10.%d.%d.1", round, i);
            assert_int_equal(cq_peers_enter(peers, addr), CQ_PEERS_ADMITTED);
            assert_int_equal(cq_peers_enter(peers, addr), CQ_PEERS_ADMITTED);
            assert_int_equal(cq_peers_enter(peers, addr), CQ_PEERS_OVER_PEER);
        }
        assert_int_equal(cq_peers_count(peers, NULL), 32);
        for (int i = 0; i < 16; i++) {
            snprintf(addr, sizeof(addr), "10.%d.%d.1", round, i);
            cq_peers_leave(peers, addr);
            assert_int_equal(cq_peers_count(peers, addr), 1);
            cq_peers_leave(peers, addr);
        }
        assert_int_equal(cq_peers_count(peers, NULL), 0);
    }
    cq_peers_destroy(peers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peers_caps_one_address),
        cmocka_unit_test(test_peers_no_cap_when_zero),
        cmocka_unit_test(test_peers_reserve_is_for_newcomers),
        cmocka_unit_test(test_peers_leave_of_unknown_address_is_harmless),
        cmocka_unit_test(test_peers_churn_keeps_counts),
    };
    return cmocka_run_group_tests_name("peers", tests, NULL, NULL);
}
