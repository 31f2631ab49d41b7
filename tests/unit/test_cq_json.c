/*
 * Unit tests of the JSON nesting check that runs before untrusted text is
 * parsed on a gateway thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cq_json.h"

static int depth(const char *s)
{
    return cq_json_depth(s, strlen(s), 100);
}

static void test_json_depth_counts_nesting(void **state)
{
    assert_int_equal(depth("1"), 0);
    assert_int_equal(depth("{}"), 1);
    assert_int_equal(depth("{\"a\": [1, {\"b\": []}]}"), 4);
    assert_int_equal(depth("[[], [[]], []]"), 3);
}

static void test_json_depth_ignores_brackets_in_strings(void **state)
{
    assert_int_equal(depth("{\"a\": \"[[[{{{\"}"), 1);
    assert_int_equal(depth("[\"\\\"[[[\"]"), 1);    /* an escaped quote does not end the string */
    assert_int_equal(depth("[\"\\\\\", [[]]]"), 3); /* an escaped backslash does */
}

static void test_json_depth_stops_at_limit(void **state)
{
    size_t n = 1000000;
    char *deep = malloc(n);
    memset(deep, '[', n);
    assert_int_equal(cq_json_depth(deep, n, 64), 65);
    free(deep);
    /* malformed text is measured as far as it goes */
    assert_int_equal(depth("]]]{"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_depth_counts_nesting),
        cmocka_unit_test(test_json_depth_ignores_brackets_in_strings),
        cmocka_unit_test(test_json_depth_stops_at_limit),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
