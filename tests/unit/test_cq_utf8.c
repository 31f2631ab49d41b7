/*
 * Unit tests of UTF-8 decoding and encoding: every length, the ill-formed
 * sequences Unicode forbids, and round trips over the code point range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cq_utf8.h"

static size_t dec(const char *s, size_t n, uint32_t *cp)
{
    return cq_utf8_decode((const unsigned char *)s, n, cp);
}

static void test_utf8_decodes_every_length(void **state)
{
    uint32_t cp = 0;
    assert_int_equal(dec("A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(dec("\xC3\xA9", 2, &cp), 2); /* é */
    assert_int_equal(cp, 0xE9);
    assert_int_equal(dec("\xE2\x82\xAC", 3, &cp), 3); /* € */
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(dec("\xF0\x9F\x98\x80", 4, &cp), 4); /* 😀 */
    assert_int_equal(cp, 0x1F600);
}

static void test_utf8_refuses_ill_formed(void **state)
{
    uint32_t cp;
    assert_int_equal(dec("\xC0\xAF", 2, &cp), 0);         /* overlong '/' */
    assert_int_equal(dec("\xE0\x80\xAF", 3, &cp), 0);     /* overlong */
    assert_int_equal(dec("\xED\xA0\x80", 3, &cp), 0);     /* surrogate D800 */
    assert_int_equal(dec("\xF4\x90\x80\x80", 4, &cp), 0); /* beyond U+10FFFF */
    assert_int_equal(dec("\xE2\x82", 2, &cp), 0);         /* cut short */
    assert_int_equal(dec("\xE2\x28\xA1", 3, &cp), 0);     /* bad continuation */
    assert_int_equal(dec("\x80", 1, &cp), 0);             /* lone continuation */
    assert_int_equal(dec("\xFF", 1, &cp), 0);
    assert_int_equal(dec("", 0, &cp), 0);
    assert_int_equal(cq_utf8_seq_len(0xC1), 0);
    assert_int_equal(cq_utf8_seq_len(0xF5), 0);
}

static void test_utf8_round_trips(void **state)
{
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x3000 ? 1 : 97)) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char buf[4];
        size_t n = cq_utf8_encode(cp, buf);
        assert_int_equal(cq_utf8_seq_len((unsigned char)buf[0]), n);
        uint32_t back = 0;
        assert_int_equal(dec(buf, n, &back), n);
        assert_int_equal(back, cp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_decodes_every_length),
        cmocka_unit_test(test_utf8_refuses_ill_formed),
        cmocka_unit_test(test_utf8_round_trips),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
