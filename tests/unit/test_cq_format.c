/*
 * test_cq_format.c — the string formats: calendar dates, RFC 3339
 * date-times, absolute URIs, email addresses, UUIDs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cq_format.h"

#include <string.h>

typedef bool (*check_fn)(const char *s, size_t len);

static void expect(check_fn check, const char *s, bool want)
{
    if (check(s, strlen(s)) != want)
        fail_msg("\"%s\" should be %s", s, want ? "accepted" : "refused");
}

static void test_format_date(void **state)
{
    expect(cq_format_is_date, "2024-02-29", true); /* leap year */
    expect(cq_format_is_date, "2000-02-29", true); /* divisible by 400 */
    expect(cq_format_is_date, "2024-12-31", true);
    expect(cq_format_is_date, "0001-01-01", true);
    expect(cq_format_is_date, "2023-02-29", false);
    expect(cq_format_is_date, "1900-02-29", false); /* divisible by 100 */
    expect(cq_format_is_date, "2024-02-30", false);
    expect(cq_format_is_date, "2024-04-31", false);
    expect(cq_format_is_date, "2024-13-01", false);
    expect(cq_format_is_date, "2024-00-10", false);
    expect(cq_format_is_date, "2024-01-00", false);
    expect(cq_format_is_date, "2024-1-01", false);
    expect(cq_format_is_date, "24-01-01", false);
    expect(cq_format_is_date, "2024/01/01", false);
    expect(cq_format_is_date, "2024-01-01T00:00:00Z", false);
    expect(cq_format_is_date, "2024-0a-01", false);
    expect(cq_format_is_date, "", false);
    assert_false(cq_format_is_date("2024-01-01\0", 11));
}

static void test_format_date_time(void **state)
{
    expect(cq_format_is_date_time, "2024-01-31T09:30:00Z", true);
    expect(cq_format_is_date_time, "2024-01-31t09:30:00z", true);
    expect(cq_format_is_date_time, "2024-01-31T09:30:00.123456Z", true);
    expect(cq_format_is_date_time, "2024-01-31T09:30:00+05:30", true);
    expect(cq_format_is_date_time, "2024-01-31T09:30:00-08:00", true);
    expect(cq_format_is_date_time, "2016-12-31T23:59:60Z", true);      /* leap second */
    expect(cq_format_is_date_time, "2016-12-31T15:59:60-08:00", true); /* 23:59:60 UTC */
    expect(cq_format_is_date_time, "2016-12-31T22:59:60Z", false);
    expect(cq_format_is_date_time, "2024-01-31T09:30:00", false); /* no offset */
    expect(cq_format_is_date_time, "2024-01-31 09:30:00Z", false);
    expect(cq_format_is_date_time, "2024-01-31T24:00:00Z", false);
    expect(cq_format_is_date_time, "2024-01-31T09:60:00Z", false);
    expect(cq_format_is_date_time, "2024-01-31T09:30Z", false);
    expect(cq_format_is_date_time, "2024-01-31T09:30:00.Z", false);
    expect(cq_format_is_date_time, "2024-01-31T09:30:00+0530", false);
    expect(cq_format_is_date_time, "2024-01-31T09:30:00+24:00", false);
    expect(cq_format_is_date_time, "2024-02-30T09:30:00Z", false);
    expect(cq_format_is_date_time, "2024-01-31T09:30:00Zjunk", false);
    expect(cq_format_is_date_time, "2024-01-31", false);
}

static void test_format_uri(void **state)
{
    expect(cq_format_is_uri, "https://example.com", true);
    expect(cq_format_is_uri, "http://example.com:8080/a/b?c=d&e=%20f#frag", true);
    expect(cq_format_is_uri, "https://user:pw@example.com/", true);
    expect(cq_format_is_uri, "https://[2001:db8::1]:443/x", true);
    expect(cq_format_is_uri, "https://192.168.0.1/", true);
    expect(cq_format_is_uri, "ftp://files.example.com/pub/file.txt", true);
    expect(cq_format_is_uri, "urn+x.y-z://h", true);
    expect(cq_format_is_uri, "example.com", false);
    expect(cq_format_is_uri, "/relative/path", false);
    expect(cq_format_is_uri, "https://", false);
    expect(cq_format_is_uri, "https:///path", false);
    expect(cq_format_is_uri, "mailto:ana@example.com", false); /* no host part */
    expect(cq_format_is_uri, "https://exa mple.com", false);
    expect(cq_format_is_uri, "https://example.com/a b", false);
    expect(cq_format_is_uri, "https://example.com/%zz", false);
    expect(cq_format_is_uri, "https://example.com/\xC3\xA9", false);
    expect(cq_format_is_uri, "https://example.com:80a/", false);
    expect(cq_format_is_uri, "https://example.com/#a#b", false);
    expect(cq_format_is_uri, "https://a@b@example.com", false);
    expect(cq_format_is_uri, "1http://example.com", false);
    expect(cq_format_is_uri, "https://[]/", false);
    expect(cq_format_is_uri, "", false);
}

static void test_format_email(void **state)
{
    expect(cq_format_is_email, "ana@example.com", true);
    expect(cq_format_is_email, "first.last+tag@mail.example.co.uk", true);
    expect(cq_format_is_email, "o'brien@example.ie", true);
    expect(cq_format_is_email, "admin@localhost", true);
    expect(cq_format_is_email, "a@b-c.d", true);
    expect(cq_format_is_email, "ana.example.com", false);
    expect(cq_format_is_email, "@example.com", false);
    expect(cq_format_is_email, "ana@", false);
    expect(cq_format_is_email, ".ana@example.com", false);
    expect(cq_format_is_email, "ana.@example.com", false);
    expect(cq_format_is_email, "a..b@example.com", false);
    expect(cq_format_is_email, "ana@-example.com", false);
    expect(cq_format_is_email, "ana@example-.com", false);
    expect(cq_format_is_email, "ana@example..com", false);
    expect(cq_format_is_email, "ana@example.com.", false);
    expect(cq_format_is_email, "an a@example.com", false);
    expect(cq_format_is_email, "ana@exa_mple.com", false);
    expect(cq_format_is_email, "ana@[127.0.0.1]", false);
    expect(cq_format_is_email, "an@a@example.com", false);
    expect(cq_format_is_email, "\xC3\xA9@example.com", false);
    char local[80];
    memset(local, 'a', 65);
    strcpy(local + 65, "@example.com");
    expect(cq_format_is_email, local, false); /* local part over 64 */
}

static void test_format_uuid(void **state)
{
    expect(cq_format_is_uuid, "0190b8e4-7c1a-7d3e-9f00-1234567890ab", true);
    expect(cq_format_is_uuid, "123E4567-E89B-12D3-A456-426614174000", true);
    expect(cq_format_is_uuid, "00000000-0000-0000-0000-000000000000", true);
    expect(cq_format_is_uuid, "0190b8e47c1a7d3e9f001234567890ab", false);
    expect(cq_format_is_uuid, "0190b8e4-7c1a-7d3e-9f00-1234567890a", false);
    expect(cq_format_is_uuid, "0190b8e4-7c1a-7d3e-9f00-1234567890abc", false);
    expect(cq_format_is_uuid, "0190b8e4-7c1a-7d3e-9f00_1234567890ab", false);
    expect(cq_format_is_uuid, "g190b8e4-7c1a-7d3e-9f00-1234567890ab", false);
    expect(cq_format_is_uuid, "{0190b8e4-7c1a-7d3e-9f00-1234567890}", false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_date), cmocka_unit_test(test_format_date_time),
        cmocka_unit_test(test_format_uri),  cmocka_unit_test(test_format_email),
        cmocka_unit_test(test_format_uuid),
    };
    return cmocka_run_group_tests_name("cq_format", tests, NULL, NULL);
}
