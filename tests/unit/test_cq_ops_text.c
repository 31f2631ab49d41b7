/*
 * test_cq_ops_text.c — helpers of the operations text engines: templates,
 * sentences, the bounded builder (never cuts a UTF-8 character), lexicons
 * and the data files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cq_ops_text.h"

static void test_ops_text_fill_replaces_known_keys(void **state)
{
    const char *keys[] = {"a", "bb"};
    const char *vals[] = {"one", NULL};
    char *s = cq_ops_text_fill("{a}-{bb}-{c}-{a}{", keys, vals, 2);
    assert_string_equal(s, "one--{c}-one{");
    free(s);
    const char *big[] = {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    s = cq_ops_text_fill("{a}{a}{a}{a}{a}{a}{a}{a}{a}", keys, big, 1);
    assert_int_equal(strlen(s), 9 * strlen(big[0]));
    free(s);
}

static void test_ops_text_sentences_split_and_trim(void **state)
{
    cq_ops_sentence_t s[8];
    size_t n =
        cq_ops_text_sentences("First one. Second: v1.2 stays!  Third; fourth\n\n  ...  ", s, 8);
    assert_int_equal(n, 4);
    char *t = cq_ops_text_sentence_dup(&s[1], 100);
    assert_string_equal(t, "Second: v1.2 stays");
    free(t);
    t = cq_ops_text_sentence_dup(&s[3], 100);
    assert_string_equal(t, "fourth");
    free(t);
    assert_int_equal(cq_ops_text_sentences("Only words here", s, 8), 1);
    assert_int_equal(cq_ops_text_sentences(NULL, s, 8), 0);
    assert_int_equal(cq_ops_text_sentences("a. b. c. d.", s, 2), 2);
}

static void test_ops_text_buf_never_cuts_a_character(void **state)
{
    cq_ops_buf_t b = {.len = 0};
    for (int i = 0; i < 1000; i++)
        cq_ops_buf_printf(&b, "\u201c");
    assert_true(b.len < sizeof(b.buf));
    assert_int_equal(b.len % 3, 0); /* whole 3-byte characters only */
    assert_int_equal(strlen(b.buf), b.len);
}

static void test_ops_text_lexicon_and_data(void **state)
{
    json_t *classes =
        json_pack("{s:[s,s], s:[s]}", "people", "Staff", "training", "tools", "machines");
    json_t *stems = cq_ops_text_lexicon_new(classes);
    assert_int_equal(cq_ops_text_lexicon_class(stems, "trained"), 0);
    assert_int_equal(cq_ops_text_lexicon_class(stems, "staff"), 0);
    assert_int_equal(cq_ops_text_lexicon_class(stems, "machine"), 1);
    assert_int_equal(cq_ops_text_lexicon_class(stems, "bread"), -1);
    json_decref(stems);
    json_decref(classes);
    const json_t *data = cq_ops_text_data("rootcause.json");
    assert_non_null(data);
    assert_ptr_equal(data, cq_ops_text_data("rootcause.json")); /* parsed once */
    assert_null(cq_ops_text_data("no-such-file.json"));
    assert_true(cq_ops_text_contains("Because Of", "because of"));
    assert_false(cq_ops_text_contains("cause", "because"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_text_fill_replaces_known_keys),
        cmocka_unit_test(test_ops_text_sentences_split_and_trim),
        cmocka_unit_test(test_ops_text_buf_never_cuts_a_character),
        cmocka_unit_test(test_ops_text_lexicon_and_data),
    };
    return cmocka_run_group_tests_name("ops_text", tests, NULL, NULL);
}
