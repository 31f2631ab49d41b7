/*
 * Unit tests of the fetch layer's retry arithmetic: both Retry-After forms
 * and their cap, the jittered exponential backoff's bounds, and the
 * classes of curl results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "cq_fetch_retry.h"

static void test_fetch_retry_after_forms(void **state)
{
    int64_t now = 1445412480000; /* Wed, 21 Oct 2015 07:28:00 GMT */
    assert_int_equal(cq_fetch_retry_after_ms("1", now, 60000), 1000);
    assert_int_equal(cq_fetch_retry_after_ms("120 ", now, 60000), 60000); /* capped */
    assert_int_equal(cq_fetch_retry_after_ms("0", now, 60000), 0);
    assert_int_equal(cq_fetch_retry_after_ms("99999999999999999999", now, 30000), 30000);
    assert_int_equal(cq_fetch_retry_after_ms("Wed, 21 Oct 2015 07:28:10 GMT", now, 60000), 10000);
    assert_int_equal(cq_fetch_retry_after_ms("Wed, 21 Oct 2015 07:00:00 GMT", now, 60000), 0);
    assert_int_equal(cq_fetch_retry_after_ms("soon", now, 60000), -1);
    assert_int_equal(cq_fetch_retry_after_ms("-5", now, 60000), -1);
    assert_int_equal(cq_fetch_retry_after_ms("1.5", now, 60000), -1);
    assert_int_equal(cq_fetch_retry_after_ms("", now, 60000), -1);
    assert_int_equal(cq_fetch_retry_after_ms(NULL, now, 60000), -1);
}

static void test_fetch_retry_backoff_doubles_with_jitter_and_caps(void **state)
{
    unsigned int seed = 7;
    for (int round = 0; round < 200; round++) {
        for (int tries = 1; tries <= 12; tries++) {
            int64_t d = 100;
            for (int i = 1; i < tries && d < 5000; i++)
                d *= 2;
            if (d > 5000)
                d = 5000;
            int64_t got = cq_fetch_backoff_ms(100, 5000, tries, &seed);
            assert_true(got >= d / 2 && got <= d);
        }
    }
    assert_int_equal(cq_fetch_backoff_ms(0, 5000, 3, &seed), 0);
    assert_int_equal(cq_fetch_backoff_ms(100, 0, 3, &seed), 0);
    /* Not every value the same: there is jitter. */
    int64_t first = cq_fetch_backoff_ms(1000, 1000, 1, &seed);
    bool differs = false;
    for (int i = 0; i < 50 && !differs; i++)
        differs = cq_fetch_backoff_ms(1000, 1000, 1, &seed) != first;
    assert_true(differs);
}

static void test_fetch_retry_fail_classes_from_curl(void **state)
{
    assert_int_equal(cq_fetch_fail_from_curl(CURLE_OK), CQ_FETCH_OK);
    assert_int_equal(cq_fetch_fail_from_curl(CURLE_OPERATION_TIMEDOUT), CQ_FETCH_TIMEOUT);
    assert_int_equal(cq_fetch_fail_from_curl(CURLE_COULDNT_CONNECT), CQ_FETCH_CONNECT);
    assert_int_equal(cq_fetch_fail_from_curl(CURLE_COULDNT_RESOLVE_HOST), CQ_FETCH_CONNECT);
    assert_int_equal(cq_fetch_fail_from_curl(CURLE_RECV_ERROR), CQ_FETCH_RESET);
    assert_int_equal(cq_fetch_fail_from_curl(CURLE_GOT_NOTHING), CQ_FETCH_RESET);
    assert_int_equal(cq_fetch_fail_from_curl(CURLE_PEER_FAILED_VERIFICATION), CQ_FETCH_TLS);
    assert_int_equal(cq_fetch_fail_from_curl(CURLE_UNSUPPORTED_PROTOCOL), CQ_FETCH_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_retry_after_forms),
        cmocka_unit_test(test_fetch_retry_backoff_doubles_with_jitter_and_caps),
        cmocka_unit_test(test_fetch_retry_fail_classes_from_curl),
    };
    return cmocka_run_group_tests_name("fetch_retry", tests, NULL, NULL);
}
