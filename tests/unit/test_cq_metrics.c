/*
 * test_cq_metrics.c — the engines' counters of a worker: series by name
 * and labels, rendered as Prometheus text with HELP and TYPE once per name
 * and the kind label first, from several threads at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cq_metrics.h"

static void test_metrics_series_count_apart_and_render_once_per_name(void **state)
{
    cq_metrics_t *m = cq_metrics_new();
    cq_metrics_add(m, "b_total", "Bees.", "source=\"x\"", 2);
    cq_metrics_add(m, "a_total", "Ayes.", "", 1);
    cq_metrics_add(m, "b_total", "ignored help", "source=\"y\"", 5);
    cq_metrics_add(m, "b_total", NULL, "source=\"x\"", 3);
    assert_int_equal(cq_metrics_get(m, "b_total", "source=\"x\""), 5);
    assert_int_equal(cq_metrics_get(m, "b_total", "source=\"y\""), 5);
    assert_int_equal(cq_metrics_get(m, "b_total", "source=\"z\""), 0);
    char *text = cq_metrics_render(m, "business-data");
    const char *want = "# HELP coachq_worker_a_total Ayes.\n"
                       "# TYPE coachq_worker_a_total counter\n"
                       "coachq_worker_a_total{kind=\"business-data\"} 1\n"
                       "# HELP coachq_worker_b_total Bees.\n"
                       "# TYPE coachq_worker_b_total counter\n"
                       "coachq_worker_b_total{kind=\"business-data\",source=\"x\"} 5\n"
                       "coachq_worker_b_total{kind=\"business-data\",source=\"y\"} 5\n";
    assert_string_equal(text, want);
    free(text);
    cq_metrics_destroy(m);
    cq_metrics_destroy(NULL);
}

static void test_metrics_histogram_renders_cumulative_buckets(void **state)
{
    cq_metrics_t *m = cq_metrics_new();
    static const double bounds[] = {0.01, 0.1, 1};
    static const double values[] = {0.005, 0.05, 0.05, 0.5, 3};
    for (size_t i = 0; i < 5; i++)
        cq_metrics_observe(m, "lat_seconds", "Latency.", "source=\"s\"", bounds, 3, values[i]);
    assert_int_equal(cq_metrics_get(m, "lat_seconds", "source=\"s\""), 5);
    char *text = cq_metrics_render(m, "k");
    const char *want = "# HELP coachq_worker_lat_seconds Latency.\n"
                       "# TYPE coachq_worker_lat_seconds histogram\n"
                       "coachq_worker_lat_seconds_bucket{kind=\"k\",source=\"s\",le=\"0.01\"} 1\n"
                       "coachq_worker_lat_seconds_bucket{kind=\"k\",source=\"s\",le=\"0.1\"} 3\n"
                       "coachq_worker_lat_seconds_bucket{kind=\"k\",source=\"s\",le=\"1\"} 4\n"
                       "coachq_worker_lat_seconds_bucket{kind=\"k\",source=\"s\",le=\"+Inf\"} 5\n"
                       "coachq_worker_lat_seconds_sum{kind=\"k\",source=\"s\"} 3.605000\n"
                       "coachq_worker_lat_seconds_count{kind=\"k\",source=\"s\"} 5\n";
    assert_string_equal(text, want);
    free(text);
    /* a name used as a histogram does not count as a counter too */
    cq_metrics_add(m, "lat_seconds", NULL, "source=\"s\"", 7);
    assert_int_equal(cq_metrics_get(m, "lat_seconds", "source=\"s\""), 5);
    cq_metrics_destroy(m);
}

static void *adder(void *opaque)
{
    for (int i = 0; i < 10000; i++)
        cq_metrics_add(opaque, "c_total", "Cees.", i % 2 ? "k=\"odd\"" : "k=\"even\"", 1);
    return NULL;
}

static void test_metrics_concurrent_adds_lose_nothing(void **state)
{
    cq_metrics_t *m = cq_metrics_new();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, adder, m), 0);
    for (int i = 0; i < 4; i++) {
        char *text = cq_metrics_render(m, "k"); /* while adding */
        free(text);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(cq_metrics_get(m, "c_total", "k=\"odd\""), 20000);
    assert_int_equal(cq_metrics_get(m, "c_total", "k=\"even\""), 20000);
    cq_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_series_count_apart_and_render_once_per_name),
        cmocka_unit_test(test_metrics_histogram_renders_cumulative_buckets),
        cmocka_unit_test(test_metrics_concurrent_adds_lose_nothing),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
