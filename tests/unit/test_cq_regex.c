/*
 * test_cq_regex.c — JSON Schema patterns (ECMA-262) on PCRE2: what matches
 * as ECMA says, the constructs the former ERE translation had to refuse,
 * code points rather than bytes, invalid patterns refused with the offset,
 * and a hostile subject bounded by the work limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cq_regex.h"

#include <stdlib.h>
#include <string.h>

static void expect_refused(const char *pattern, const char *want)
{
    char errstr[200] = "";
    cq_regex_t *regex = cq_regex_new(pattern, errstr, sizeof(errstr));
    if (regex)
        fail_msg("%s: accepted, expected \"%s\"", pattern, want);
    if (!strstr(errstr, want))
        fail_msg("%s: error \"%s\" lacks \"%s\"", pattern, errstr, want);
}

/* Whether pattern matches s[0..len). */
static bool matches_n(const char *pattern, const char *s, size_t len)
{
    char errstr[200] = "";
    cq_regex_t *regex = cq_regex_new(pattern, errstr, sizeof(errstr));
    if (!regex)
        fail_msg("%s: refused: %s", pattern, errstr);
    bool ok = cq_regex_match(regex, s, len);
    assert_string_equal(cq_regex_source(regex), pattern);
    cq_regex_destroy(regex);
    return ok;
}

static bool matches(const char *pattern, const char *s)
{
    return matches_n(pattern, s, strlen(s));
}

static void test_regex_matches_as_ecma(void **state)
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
    assert_false(matches("^a.c$", "a\nc")); /* "." stops at line ends */
    assert_false(matches("^a.c$", "a\rc"));
    assert_false(matches("^abc$", "abc\nx"));
    assert_false(matches("^abc$", "abc\n")); /* "$" is the very end, not before a newline */
    assert_true(matches("^(?:ab)+?$", "abab"));
    assert_true(matches("^https?://", "http://x"));
    assert_true(matches("^a{2}$", "aa"));
    assert_false(matches("^a{2}$", "aaa"));
    assert_true(matches("^x{y}$", "x{y}")); /* a brace that is no quantifier is literal */
    assert_true(matches("^\\d{4}-\\d{2}-\\d{2}$", "2024-01-31"));
    assert_true(matches("^\\t\\x41\\u0042$", "\tAB"));
    assert_true(matches("^\\x4$", "x4")); /* \x without two hex digits is "x" */
    assert_false(matches("^[]$", ""));    /* [] matches nothing ... */
    assert_true(matches("^[^]$", "\n"));  /* ... and [^] any character */
    /* ECMA's \d and \w are ASCII; so are they here (Arabic-Indic digit 3) */
    assert_false(matches("^\\d$", "\xD9\xA3"));
}

/* What the ERE translation refused: all of it is ECMA, and works now. */
static void test_regex_full_ecma_syntax(void **state)
{
    assert_true(matches("^(?=.*\\d)[a-z\\d]+$", "abc1"));
    assert_false(matches("^(?=.*\\d)[a-z\\d]+$", "abc"));
    assert_true(matches("^(?!test)\\w+$", "prod"));
    assert_false(matches("^(?!test)\\w+$", "testing"));
    assert_true(matches("^(?<year>\\d{4})-\\k<year>$", "2024-2024"));
    assert_true(matches("^(a)\\1$", "aa"));
    assert_false(matches("^(a)\\1$", "ab"));
    assert_true(matches("\\bgoal\\b", "a goal here"));
    assert_false(matches("\\bgoal\\b", "goals"));
    assert_true(matches("^\\p{L}+$", "Stra\xC3\x9F"
                                     "e"));
    assert_false(matches("^\\p{L}+$", "abc1"));
    assert_true(matches("^[\\d.-]+$", "1.5-2"));
    assert_true(matches("^[^\\D]+$", "123"));
}

/* Code points, not bytes. */
static void test_regex_code_points(void **state)
{
    assert_true(matches("^.$", "\xC3\xA9"));                 /* é is one character */
    assert_true(matches("^\xC3\xA9+$", "\xC3\xA9\xC3\xA9")); /* é+ repeats é */
    assert_true(matches("^[\xC3\xA9"
                        "e]+$",
                        "e\xC3\xA9"));
    assert_true(matches("^[\\u00e0-\\u00ff]$", "\xC3\xA9"));
    assert_true(matches("^.{3}$", "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC")); /* three euro signs */
    /* invalid UTF-8 in a subject: no error, the invalid byte matches nothing */
    assert_false(matches("^.+$", "ab\xFF"));
    assert_true(matches("ab", "ab\xFF"));
    /* subjects may hold NUL bytes; matching sees the whole length, no more */
    assert_true(matches_n("^[a-z]*$", "abc", 3));
    assert_false(matches_n("^[a-z]*$", "ab\0cd", 5));
    assert_true(matches_n("^[a-z]*$", "abXX", 2));
    cq_regex_destroy(NULL);
}

static void test_regex_invalid_refused(void **state)
{
    expect_refused("abc\\", "offset 4");
    expect_refused("[abc", "missing terminating ]");
    expect_refused("(a", "missing closing parenthesis");
    expect_refused("a{3,1}", "out of order");
    expect_refused("[z-a]", "out of order");
    expect_refused("*a", "quantifier does not follow");
    expect_refused("\\k<nope>", "reference to non-existent");
    /* ECMA's Annex B reads "-" after a class escape as a member; PCRE2 refuses */
    expect_refused("[\\d-x]", "invalid range");
}

/* Catastrophic backtracking: the work limit ends the match (as "no match")
 * instead of 2^40 steps. */
static void test_regex_work_bounded(void **state)
{
    char subject[64];
    memset(subject, 'a', 40);
    subject[40] = 'b';
    subject[41] = '\0';
    assert_false(matches("^(a+)+$", subject));
    assert_false(matches("^(a|a)*$", subject));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex_matches_as_ecma), cmocka_unit_test(test_regex_full_ecma_syntax),
        cmocka_unit_test(test_regex_code_points),     cmocka_unit_test(test_regex_invalid_refused),
        cmocka_unit_test(test_regex_work_bounded),
    };
    return cmocka_run_group_tests_name("cq_regex", tests, NULL, NULL);
}
