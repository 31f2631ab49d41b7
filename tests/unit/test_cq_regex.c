/*
 * test_cq_regex.c — ECMA-262 patterns translated to POSIX ERE: what each
 * construct becomes, that matching behaves as ECMA would for the supported
 * subset, and that the rest is refused with a message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cq_regex.h"

#include <stdlib.h>
#include <string.h>

static void expect_translation(const char *pattern, const char *want)
{
    char errstr[160] = "";
    char *ere = cq_regex_translate(pattern, errstr, sizeof(errstr));
    if (!ere)
        fail_msg("%s: refused: %s", pattern, errstr);
    if (strcmp(ere, want) != 0)
        fail_msg("%s: became \"%s\", wanted \"%s\"", pattern, ere, want);
    free(ere);
}

static void expect_refused(const char *pattern, const char *want)
{
    char errstr[160] = "";
    cq_regex_t *regex = cq_regex_new(pattern, errstr, sizeof(errstr));
    if (regex)
        fail_msg("%s: accepted, expected \"%s\"", pattern, want);
    if (!strstr(errstr, want))
        fail_msg("%s: error \"%s\" lacks \"%s\"", pattern, errstr, want);
}

/* Whether pattern matches s (a C string). */
static bool matches(const char *pattern, const char *s)
{
    char errstr[160] = "";
    cq_regex_t *regex = cq_regex_new(pattern, errstr, sizeof(errstr));
    if (!regex)
        fail_msg("%s: refused: %s", pattern, errstr);
    bool ok = cq_regex_match(regex, s, strlen(s));
    assert_string_equal(cq_regex_source(regex), pattern);
    cq_regex_destroy(regex);
    return ok;
}

static void test_regex_translation(void **state)
{
    expect_translation("abc", "abc");
    expect_translation("^a|b$", "^a|b$");
    expect_translation("\\d", "[0123456789]");
    expect_translation("\\D", "[^0123456789]");
    expect_translation("\\s", "[\t\n\v\f\r ]");
    expect_translation("\\w", "[0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz]");
    expect_translation("a.b", "a[^\n\r]b");
    expect_translation("(?:ab)+?c*?d??", "(ab)+c*d?");
    expect_translation("a{2,3}?b{2}c{1,}", "a{2,3}b{2}c{1,}");
    expect_translation("{x}", "\\{x\\}");
    expect_translation("a{,2}", "a\\{,2\\}");
    expect_translation("[a-e]", "[abcde]");
    expect_translation("[^a-c]", "[^abc]");
    expect_translation("[\\]a]", "[]a]");
    expect_translation("[-a]", "[a-]");
    expect_translation("[a\\-z]", "[az-]");
    expect_translation("[\\^]", "\\^");
    expect_translation("[\\^-]", "[-^]");
    expect_translation("[\\[:]", "[:[]");
    expect_translation("[\\d.]", "[.0123456789]");
    expect_translation("[\\d-x]", "[0123456789x-]"); /* "-" after a class is a member */
    expect_translation("\\.\\/\\-\\$", "\\./-\\$");
    expect_translation("\\t\\x41\\u0042", "\tAB");
    expect_translation("\xC3\xA9+", "(\xC3\xA9)+");
    expect_translation("\\u00e9", "(\xC3\xA9)");
    expect_translation("a]", "a]");
}

static void test_regex_matching(void **state)
{
    assert_true(matches("^[A-Z]{2}\\d+$", "AB12"));
    assert_false(matches("^[A-Z]{2}\\d+$", "Ab12"));
    assert_false(matches("^[A-Z]{2}\\d+$", "AB"));
    assert_true(matches("b", "abc")); /* not anchored */
    assert_true(matches("^\\S+$", "no-space"));
    assert_false(matches("^\\S+$", "a space"));
    assert_true(matches("^\\w+$", "snake_case_9"));
    assert_false(matches("^\\w+$", "kebab-case"));
    assert_true(matches("^[\\[\\]]+$", "[]]["));
    assert_true(matches("^[^\\^]+$", "abc"));
    assert_false(matches("^[^\\^]+$", "a^c"));
    assert_true(matches("^a.c$", "abc"));
    assert_false(matches("^a.c$", "a\nc")); /* "." stops at line ends, as in ECMA */
    assert_false(matches("^abc$", "abc\nx"));
    assert_true(matches("^(?:ab)+$", "abab"));
    assert_true(matches("^\xC3\xA9+$", "\xC3\xA9\xC3\xA9")); /* é+ repeats the whole é */
    assert_true(matches("^https?://", "http://x"));
    assert_true(matches("^a{2}$", "aa"));
    assert_false(matches("^a{2}$", "aaa"));
    assert_true(matches("^x{y}$", "x{y}"));
    assert_true(matches("^\\d{4}-\\d{2}-\\d{2}$", "2024-01-31"));

    /* subjects may hold NUL bytes; matching sees the whole length */
    char errstr[160];
    cq_regex_t *regex = cq_regex_new("^[a-z]*$", errstr, sizeof(errstr));
    assert_non_null(regex);
    assert_true(cq_regex_match(regex, "abc", 3));
    assert_false(cq_regex_match(regex, "ab\0cd", 5));
    assert_true(cq_regex_match(regex, "abXX", 2)); /* only len bytes count */
    cq_regex_destroy(regex);
    cq_regex_destroy(NULL);
}

static void test_regex_refused(void **state)
{
    expect_refused("(?=a)", "lookaround");
    expect_refused("(?!a)", "lookaround");
    expect_refused("(?<name>a)", "named groups");
    expect_refused("(a)\\1", "backreferences");
    expect_refused("\\bword", "word boundaries");
    expect_refused("\\p{L}", "escape \\p is not supported");
    expect_refused("[\xC3\xA9]", "non-ASCII");
    expect_refused("[\\u00e9]", "only ASCII");
    expect_refused("[\\D]", "\\D inside [...]");
    expect_refused("abc\\", "ends with a backslash");
    expect_refused("[abc", "unterminated character class");
    expect_refused("[]", "empty character class");
    expect_refused("[z-a]", "range out of order");
    expect_refused("\\x4", "needs 2 hex digits");
    expect_refused("\\u0000", "NUL");
    expect_refused("(a", "invalid pattern");
    expect_refused("a{3,1}", "invalid pattern");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex_translation),
        cmocka_unit_test(test_regex_matching),
        cmocka_unit_test(test_regex_refused),
    };
    return cmocka_run_group_tests_name("cq_regex", tests, NULL, NULL);
}
