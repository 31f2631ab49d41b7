/*
 * test_cq_termvec.c — term vectors: building, soft cosine, coverage, term
 * listings and bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_termvec.h"

static cq_termvec_t *vec_of(const char *text)
{
    cq_termvec_t *vec = cq_termvec_new();
    cq_termvec_add_text(vec, text, 1.0);
    return vec;
}

static bool contains(const char *const *list, size_t n, const char *word)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], word) == 0)
            return true;
    return false;
}

static void test_termvec_add_text(void **state)
{
    (void)state;
    cq_termvec_t *vec = vec_of("The vision of our business and the people in it");
    assert_true(cq_termvec_weight(vec, "vision") == 1.0);
    assert_true(cq_termvec_weight(vec, "people") == 1.0);
    assert_true(cq_termvec_weight(vec, "the") == 0); /* stopwords are left out */
    assert_true(cq_termvec_weight(vec, "our") == 0);
    assert_true(cq_termvec_weight(vec, "business") < 0.5); /* planning filler */
    assert_int_equal(cq_termvec_size(vec), 3);

    /* inflections share a term; weights add up */
    cq_termvec_add_text(vec, "Visions, visionary? VISION!", 2.0);
    assert_true(cq_termvec_weight(vec, "visions") == 5.0);
    assert_true(cq_termvec_weight(vec, "visionary") == 2.0);
    cq_termvec_add_text(vec, "ignored", 0.0);
    cq_termvec_add_text(vec, NULL, 1.0);
    assert_int_equal(cq_termvec_size(vec), 4);
    cq_termvec_destroy(vec);
    cq_termvec_destroy(NULL);
}

static void test_termvec_cosine(void **state)
{
    (void)state;
    cq_termvec_t *a = vec_of("Loyal customers love our fresh sourdough bread");
    cq_termvec_t *a2 = vec_of("Loyal customers love our fresh sourdough bread");
    cq_termvec_t *disjoint = vec_of("Migrate the database to PostgreSQL");
    cq_termvec_t *syn = vec_of("clients");
    cq_termvec_t *cust = vec_of("customers");
    cq_termvec_t *empty = vec_of("the and of");

    assert_true(fabs(cq_termvec_cosine(a, a2) - 1.0) < 1e-9);
    assert_true(fabs(cq_termvec_cosine(a, a) - 1.0) < 1e-9);
    assert_true(cq_termvec_cosine(a, disjoint) == 0.0);
    double s = cq_termvec_cosine(syn, cust);
    assert_true(s > 0.0 && s < 1.0);
    assert_true(cq_termvec_cosine(a, syn) > 0.0); /* clients ~ customers */
    assert_true(cq_termvec_cosine(a, empty) == 0.0);
    assert_true(cq_termvec_cosine(empty, empty) == 0.0);
    /* inflections meet through the stemmer */
    cq_termvec_t *inflected = vec_of("loyalty? no: loyal customer loving fresh sourdough breads");
    assert_true(cq_termvec_cosine(a, inflected) > 0.8);

    cq_termvec_destroy(a);
    cq_termvec_destroy(a2);
    cq_termvec_destroy(disjoint);
    cq_termvec_destroy(syn);
    cq_termvec_destroy(cust);
    cq_termvec_destroy(empty);
    cq_termvec_destroy(inflected);
}

static void test_termvec_coverage(void **state)
{
    (void)state;
    cq_termvec_t *q = vec_of("customer growth");
    cq_termvec_t *exact = vec_of("our customer growth plan");
    cq_termvec_t *syn = vec_of("client growth");
    cq_termvec_t *none = vec_of("database migration");

    assert_true(fabs(cq_termvec_coverage(q, exact) - 1.0) < 1e-9);
    assert_true(fabs(cq_termvec_coverage(q, syn) - (1.0 + CQ_TEXT_CONCEPT_SIM) / 2) < 1e-9);
    assert_true(cq_termvec_coverage(q, none) == 0.0);
    assert_true(cq_termvec_coverage(none, q) == 0.0);

    /* several documents: each term takes its best weighted match */
    const cq_termvec_t *docs[] = {none, syn, NULL};
    const double weights[] = {1.0, 0.5, 1.0};
    double matched = 0;
    double share = cq_termvec_coverage_multi(q, docs, weights, 3, &matched);
    assert_true(fabs(share - (0.5 * CQ_TEXT_CONCEPT_SIM + 0.5) / 2) < 1e-9);
    assert_true(fabs(matched - (0.5 * CQ_TEXT_CONCEPT_SIM + 0.5)) < 1e-9);

    cq_termvec_destroy(q);
    cq_termvec_destroy(exact);
    cq_termvec_destroy(syn);
    cq_termvec_destroy(none);
}

static void test_termvec_shared_missing_top_terms(void **state)
{
    (void)state;
    cq_termvec_t *a = vec_of("Loyal customers love fresh bread, fresh bread every morning");
    cq_termvec_t *b = vec_of("Fresh bread for our clients");
    const char *out[8];

    size_t n = cq_termvec_shared_terms(a, b, out, 8);
    assert_int_equal(n, 3);
    assert_string_equal(out[0], "fresh"); /* heaviest first, ties in text order */
    assert_string_equal(out[1], "bread");
    assert_string_equal(out[2], "customers"); /* concept label for clients ~ customers */
    assert_int_equal(cq_termvec_shared_terms(a, b, out, 1), 1);

    n = cq_termvec_missing_terms(a, b, out, 8);
    assert_int_equal(n, 3);
    assert_true(contains(out, n, "loyal") && contains(out, n, "love") &&
                contains(out, n, "morning"));
    assert_false(contains(out, n, "customers"));

    n = cq_termvec_top_terms(a, out, 2);
    assert_int_equal(n, 2);
    assert_string_equal(out[0], "fresh");
    assert_string_equal(out[1], "bread");

    cq_termvec_t *empty = cq_termvec_new();
    assert_int_equal(cq_termvec_shared_terms(empty, a, out, 8), 0);
    assert_int_equal(cq_termvec_top_terms(empty, out, 8), 0);
    cq_termvec_add_vec(empty, b, 2.0);
    assert_true(fabs(cq_termvec_weight(empty, "bread") - 2.0) < 1e-9);
    assert_true(fabs(cq_termvec_total(empty) - 2 * cq_termvec_total(b)) < 1e-9);

    cq_termvec_destroy(a);
    cq_termvec_destroy(b);
    cq_termvec_destroy(empty);
}

/* Fills text (size bytes) with distinct words starting with prefix. */
static void distinct_words(char *text, size_t size, char prefix)
{
    size_t o = 0;
    for (unsigned i = 0; o + 12 < size; i++) {
        char word[12];
        int len = snprintf(word, sizeof(word), "%c%x ", prefix, i * 2654435761u);
        memcpy(text + o, word, (size_t)len);
        o += (size_t)len;
    }
    text[o] = '\0';
}

static void test_termvec_long_input_bounded(void **state)
{
    (void)state;
    /* 100 KB of distinct words: only CQ_TEXT_INPUT_MAX bytes are read and a
     * vector never holds more than CQ_TERMVEC_TERMS_MAX terms. */
    size_t size = 100 * 1024;
    char *text = malloc(size + 1);
    assert_non_null(text);

    distinct_words(text, size, 'w');
    cq_termvec_t *vec = vec_of(text);
    size_t n = cq_termvec_size(vec);
    assert_true(n > 1000);
    assert_true(n * 4 <= CQ_TEXT_INPUT_MAX); /* words of >= 4 bytes from 32 KB at most */
    for (char prefix = 'a'; prefix < 'f'; prefix++) {
        distinct_words(text, size, prefix);
        cq_termvec_t *more = vec_of(text);
        cq_termvec_add_vec(vec, more, 1.0);
        cq_termvec_destroy(more);
    }
    assert_int_equal(cq_termvec_size(vec), CQ_TERMVEC_TERMS_MAX);
    cq_termvec_add_text(vec, "one more brand new term", 1.0);
    assert_int_equal(cq_termvec_size(vec), CQ_TERMVEC_TERMS_MAX);

    distinct_words(text, size, 'w'); /* the first words are all kept */
    cq_termvec_t *other = vec_of(text);
    assert_true(fabs(cq_termvec_cosine(vec, vec) - 1.0) < 1e-9);
    assert_true(fabs(cq_termvec_coverage(other, vec) - 1.0) < 1e-9);
    const char *out[8];
    assert_int_equal(cq_termvec_top_terms(vec, out, 8), 8);
    assert_int_equal(cq_termvec_shared_terms(vec, other, out, 8), 8);
    cq_termvec_destroy(other);
    cq_termvec_destroy(vec);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_termvec_add_text),
        cmocka_unit_test(test_termvec_cosine),
        cmocka_unit_test(test_termvec_coverage),
        cmocka_unit_test(test_termvec_shared_missing_top_terms),
        cmocka_unit_test(test_termvec_long_input_bounded),
    };
    return cmocka_run_group_tests_name("cq_termvec", tests, NULL, NULL);
}
