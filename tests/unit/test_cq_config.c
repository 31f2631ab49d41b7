/*
 * Unit tests of the config table: defaults, parsing, ranges, files with
 * line numbers, environment overrides, kafka.* pass-through, and that the
 * committed docs/CONFIG.md is what the table generates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cq_config.h"

static void test_config_defaults(void **state)
{
    cq_config_t *conf = cq_config_new();
    assert_int_equal(conf->redis_port, 6379);
    assert_int_equal(conf->gateway_default_wait, 25000);
    assert_int_equal(conf->jobs_result_ttl, 24LL * 3600 * 1000);
    assert_false(conf->gateway_dev_auth);
    assert_string_equal(conf->topics_results, "coachq.results");
    assert_string_equal(cq_config_kafka_get(conf, "bootstrap.servers"), "127.0.0.1:9092");
    cq_config_destroy(conf);
}

static void test_config_set_types_and_ranges(void **state)
{
    cq_config_t *conf = cq_config_new();
    char err[256];
    assert_int_equal(cq_config_set(conf, "gateway.default_wait", "3s", err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(conf->gateway_default_wait, 3000);
    assert_int_equal(cq_config_set(conf, "jobs.result_ttl", "2h", err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(conf->jobs_result_ttl, 7200000);
    assert_int_equal(cq_config_set(conf, "redis.timeout", "250ms", err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(conf->redis_timeout, 250);
    assert_int_equal(cq_config_set(conf, "gateway.dev_auth", "true", err, sizeof(err)), CQ_ERR_OK);
    assert_true(conf->gateway_dev_auth);

    assert_int_equal(cq_config_set(conf, "redis.port", "70000", err, sizeof(err)), CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "outside"));
    assert_int_equal(cq_config_set(conf, "redis.port", "12ab", err, sizeof(err)), CQ_ERR_CONFIG);
    assert_int_equal(cq_config_set(conf, "gateway.default_wait", "5 weeks", err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_int_equal(cq_config_set(conf, "gateway.dev_auth", "yes", err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_int_equal(cq_config_set(conf, "no.such.key", "1", err, sizeof(err)), CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "no.such.key"));
    assert_int_equal(conf->redis_port, 6379); /* failed sets change nothing */

    assert_int_equal(cq_config_set(conf, "kafka.linger.ms", "7", err, sizeof(err)), CQ_ERR_OK);
    assert_string_equal(cq_config_kafka_get(conf, "linger.ms"), "7");
    cq_config_destroy(conf);
}

/* "-o llm.timeout=180" written by someone meaning three minutes used to give
 * 180 ms: a bare number is refused, and the message names the key and units. */
static void test_config_durations_and_sizes_need_a_unit(void **state)
{
    cq_config_t *conf = cq_config_new();
    char err[256];
    assert_int_equal(cq_config_set(conf, "llm.timeout", "180", err, sizeof(err)), CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "llm.timeout"));
    assert_non_null(strstr(err, "ms, s, m or h"));
    assert_int_equal(conf->llm_timeout, 120000); /* unchanged */
    assert_int_equal(cq_config_set(conf, "llm.timeout", "3m", err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(conf->llm_timeout, 180000);
    const char *bad_durations[] = {"0", "10 s", "10S", "1.5s", "-5s", "s", "10sec", "+10s", ""};
    for (size_t i = 0; i < sizeof(bad_durations) / sizeof(*bad_durations); i++)
        assert_int_equal(
            cq_config_set(conf, "gateway.default_wait", bad_durations[i], err, sizeof(err)),
            CQ_ERR_CONFIG);
    assert_int_equal(cq_config_set(conf, "gateway.default_wait", "0s", err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(conf->gateway_default_wait, 0);

    assert_int_equal(conf->gateway_max_body_bytes, 1048576);
    assert_int_equal(cq_config_set(conf, "gateway.max_body_bytes", "4096", err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "gateway.max_body_bytes"));
    assert_non_null(strstr(err, "B, KiB, MiB or GiB"));
    const char *bad_sizes[] = {"4KB", "1MB", "1M", "4k", "1 MiB", "1.5MiB", "-4KiB"};
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(*bad_sizes); i++)
        assert_int_equal(
            cq_config_set(conf, "gateway.max_body_bytes", bad_sizes[i], err, sizeof(err)),
            CQ_ERR_CONFIG);
    assert_int_equal(cq_config_set(conf, "gateway.max_body_bytes", "4KiB", err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(conf->gateway_max_body_bytes, 4096);
    assert_int_equal(cq_config_set(conf, "gateway.max_body_bytes", "2MiB", err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(conf->gateway_max_body_bytes, 2 * 1048576);
    assert_int_equal(cq_config_set(conf, "gateway.max_body_bytes", "5000B", err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(conf->gateway_max_body_bytes, 5000);
    /* Ranges are told in the key's own units. */
    assert_int_equal(cq_config_set(conf, "gateway.max_body_bytes", "1GiB", err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "1GiB is outside 1KiB..64MiB"));
    assert_int_equal(
        cq_config_set(conf, "gateway.produce_timeout", "99999999999h", err, sizeof(err)),
        CQ_ERR_CONFIG);
    cq_config_destroy(conf);
}

static void test_config_file_errors_have_line_numbers(void **state)
{
    char path[] = "/tmp/cq_config_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fputs("# comment\n\nredis.port = 6380\n  gateway.listen=0.0.0.0:9000  \nredis.db = x\n", fp);
    fclose(fp);
    cq_config_t *conf = cq_config_new();
    char err[256];
    assert_int_equal(cq_config_load_file(conf, path, err, sizeof(err)), CQ_ERR_CONFIG);
    char want[300];
    snprintf(want, sizeof(want), "%s:5:", path);
    assert_non_null(strstr(err, want));
    assert_int_equal(conf->redis_port, 6380);
    assert_string_equal(conf->gateway_listen, "0.0.0.0:9000");
    cq_config_destroy(conf);
    unlink(path);
}

static void test_config_env_overrides(void **state)
{
    char *env[] = {"PATH=/bin", "COACHQ_REDIS_PORT=6390", "COACHQ_GATEWAY_DEV_AUTH=true",
                   "COACHQ_KAFKA_BOOTSTRAP_SERVERS=10.0.0.1:9092", NULL};
    cq_config_t *conf = cq_config_new();
    char err[256];
    assert_int_equal(cq_config_load_env(conf, env, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(conf->redis_port, 6390);
    assert_true(conf->gateway_dev_auth);
    assert_string_equal(cq_config_kafka_get(conf, "bootstrap.servers"), "10.0.0.1:9092");
    /* The scripts' own variables are not config. */
    char *scripts[] = {"COACHQ_STACK_KAFKA_PORT=29092",
                       "COACHQ_IT_REDIS_PORT=1",
                       "COACHQ_BIN_DIR=/x",
                       "COACHQ_URL=http://gw:8080",
                       "COACHQ_TOKEN=t",
                       "COACHQ_TENANT=a",
                       "COACHQ_USER=b",
                       NULL};
    assert_int_equal(cq_config_load_env(conf, scripts, err, sizeof(err)), CQ_ERR_OK);
    char *bad[] = {"COACHQ_NOPE=1", NULL};
    assert_int_equal(cq_config_load_env(conf, bad, err, sizeof(err)), CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "COACHQ_NOPE"));
    cq_config_destroy(conf);
}

static void test_config_args_order(void **state)
{
    cq_config_t *conf = cq_config_new();
    char err[256];
    bool exit_now = true;
    char *argv[] = {"prog", "-o", "redis.port=7000", "-o", "log.level=debug", NULL};
    assert_int_equal(cq_config_from_args(conf, "prog", 5, argv, &exit_now, err, sizeof(err)),
                     CQ_ERR_OK);
    assert_false(exit_now);
    assert_int_equal(conf->redis_port, 7000);
    char *bad[] = {"prog", "--bogus", NULL};
    assert_int_equal(cq_config_from_args(conf, "prog", 2, bad, &exit_now, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    char *badlevel[] = {"prog", "-o", "log.level=loud", NULL};
    assert_int_equal(cq_config_from_args(conf, "prog", 3, badlevel, &exit_now, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    cq_config_destroy(conf);
}

/* docs/CONFIG.md is generated from the table; a key added without
 * regenerating it fails here. COACHQ_UPDATE_GOLDEN=1 rewrites it. */
static void test_config_reference_is_committed(void **state)
{
    const char *src = getenv("COACHQ_SOURCE_DIR");
    assert_non_null(src);
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/CONFIG.md", src);
    char *generated = NULL;
    size_t generated_len = 0;
    FILE *mem = open_memstream(&generated, &generated_len);
    cq_config_write_reference(mem);
    fclose(mem);
    const char *update = getenv("COACHQ_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        FILE *out = fopen(path, "w");
        assert_non_null(out);
        fwrite(generated, 1, generated_len, out);
        fclose(out);
    }
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char *committed = calloc(1, generated_len + 2);
    size_t n = fread(committed, 1, generated_len + 1, fp);
    fclose(fp);
    assert_int_equal(n, generated_len);
    assert_memory_equal(committed, generated, generated_len);
    free(committed);
    free(generated);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_set_types_and_ranges),
        cmocka_unit_test(test_config_durations_and_sizes_need_a_unit),
        cmocka_unit_test(test_config_file_errors_have_line_numbers),
        cmocka_unit_test(test_config_env_overrides),
        cmocka_unit_test(test_config_args_order),
        cmocka_unit_test(test_config_reference_is_committed),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
