/*
 * Unit tests of the lock-free histograms: Prometheus text (cumulative
 * buckets, +Inf, sum, count, labels joined), bounds inclusive, the series
 * cap with its overflow set, label escaping, and writers on many threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cq_histo.h"

static char *render(cq_histo_t *h, const char *first)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cq_histo_write(h, first, out);
    fclose(out);
    return text;
}

static void test_histo_renders_cumulative_buckets(void **state)
{
    const double bounds[] = {0.1, 0.5, 1};
    cq_histo_t *h = cq_histo_new("coachq_x_seconds", "X.", bounds, 3, 8, NULL);
    cq_histo_observe(h, "route=\"/a\"", 0.05);
    cq_histo_observe(h, "route=\"/a\"", 0.1); /* a bound is inclusive (le) */
    cq_histo_observe(h, "route=\"/a\"", 0.7);
    cq_histo_observe(h, "route=\"/a\"", 3);
    cq_histo_observe(h, "route=\"/a\"", -1); /* clock skew: counted as 0 */
    char *text = render(h, "kind=\"k\"");
    const char *want = "# HELP coachq_x_seconds X.\n"
                       "# TYPE coachq_x_seconds histogram\n"
                       "coachq_x_seconds_bucket{kind=\"k\",route=\"/a\",le=\"0.1\"} 3\n"
                       "coachq_x_seconds_bucket{kind=\"k\",route=\"/a\",le=\"0.5\"} 3\n"
                       "coachq_x_seconds_bucket{kind=\"k\",route=\"/a\",le=\"1\"} 4\n"
                       "coachq_x_seconds_bucket{kind=\"k\",route=\"/a\",le=\"+Inf\"} 5\n"
                       "coachq_x_seconds_sum{kind=\"k\",route=\"/a\"} 3.850000\n"
                       "coachq_x_seconds_count{kind=\"k\",route=\"/a\"} 5\n";
    assert_string_equal(text, want);
    free(text);
    assert_int_equal(cq_histo_count(h, "route=\"/a\""), 5);
    assert_int_equal(cq_histo_count(h, "route=\"/b\""), 0);
    cq_histo_destroy(h);
}

static void test_histo_without_labels_and_empty_sets(void **state)
{
    const double bounds[] = {1};
    cq_histo_t *h = cq_histo_new("h", "H.", bounds, 1, 4, NULL);
    int idx = cq_histo_series(h, "a=\"1\""); /* made, never observed: zeros */
    assert_int_equal(idx, 0);
    assert_int_equal(cq_histo_series(h, "a=\"1\""), 0);
    cq_histo_observe(h, NULL, 2);
    char *text = render(h, NULL);
    assert_non_null(strstr(text, "h_bucket{a=\"1\",le=\"1\"} 0\n"));
    assert_non_null(strstr(text, "h_count{a=\"1\"} 0\n"));
    assert_non_null(strstr(text, "h_bucket{le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(text, "h_sum 2.000000\n"));
    free(text);
    cq_histo_destroy(h);
}

static void test_histo_caps_series_into_overflow(void **state)
{
    const double bounds[] = {1};
    cq_histo_t *h = cq_histo_new("h", "H.", bounds, 1, 2, "destination=\"other\"");
    cq_histo_observe(h, "destination=\"a:1\"", 0.5);
    cq_histo_observe(h, "destination=\"b:1\"", 0.5);
    cq_histo_observe(h, "destination=\"c:1\"", 0.5);
    cq_histo_observe(h, "destination=\"d:1\"", 0.5);
    assert_int_equal(cq_histo_count(h, "destination=\"c:1\""), 0);
    assert_int_equal(cq_histo_count(h, "destination=\"other\""), 2);
    char *text = render(h, "");
    assert_non_null(strstr(text, "h_count{destination=\"other\"} 2\n"));
    assert_null(strstr(text, "c:1"));
    free(text);
    cq_histo_destroy(h);
    /* Without an overflow set, values past the cap are dropped. */
    h = cq_histo_new("h", "H.", bounds, 1, 1, NULL);
    cq_histo_observe(h, "a=\"1\"", 0.5);
    assert_int_equal(cq_histo_series(h, "a=\"2\""), -1);
    cq_histo_observe(h, "a=\"2\"", 0.5);
    assert_int_equal(cq_histo_count(h, "a=\"2\""), 0);
    cq_histo_destroy(h);
}

static void test_histo_label_value_escapes(void **state)
{
    char out[64];
    cq_histo_label_value("a\"b\\c\nd", out, sizeof(out));
    assert_string_equal(out, "a\\\"b\\\\c\\nd");
    cq_histo_label_value("h\xc3\xa9llo", out, 3); /* room for "h" + half of é: cut before it */
    assert_string_equal(out, "h");
    cq_histo_label_value("ab\"", out, 4); /* an escape is written whole or not at all */
    assert_string_equal(out, "ab");
}

typedef struct {
    cq_histo_t *h;
    int id;
} worker_arg_t;

static void *writer(void *p)
{
    worker_arg_t *a = p;
    char labels[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(labels, sizeof(labels), "t=\"%d\"", (a->id + i) % 6);
        cq_histo_observe(a->h, labels, (double)(i % 4) * 0.25);
    }
    return NULL;
}

static void test_histo_many_writers_lose_nothing(void **state)
{
    const double bounds[] = {0.1, 0.3, 0.6};
    cq_histo_t *h = cq_histo_new("h", "H.", bounds, 3, 4, "t=\"other\"");
    pthread_t threads[4];
    worker_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg_t){h, i};
        pthread_create(&threads[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    uint64_t total = cq_histo_count(h, "t=\"other\"");
    for (int i = 0; i < 6; i++) {
        char labels[32];
        snprintf(labels, sizeof(labels), "t=\"%d\"", i);
        total += cq_histo_count(h, labels);
    }
    assert_int_equal(total, 80000);
    char *text = render(h, "");
    /* Six label values over four slots: two went to the overflow set. */
    assert_non_null(strstr(text, "t=\"other\""));
    free(text);
    cq_histo_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histo_renders_cumulative_buckets),
        cmocka_unit_test(test_histo_without_labels_and_empty_sets),
        cmocka_unit_test(test_histo_caps_series_into_overflow),
        cmocka_unit_test(test_histo_label_value_escapes),
        cmocka_unit_test(test_histo_many_writers_lose_nothing),
    };
    return cmocka_run_group_tests_name("histo", tests, NULL, NULL);
}
