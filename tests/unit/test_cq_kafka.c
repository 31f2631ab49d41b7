/*
 * Unit tests of the consumer's group membership settings (cq_kafka): the
 * instance id setting maps to group.instance.id ("auto" ids of two live
 * consumers differ), and commit settings that would break at-least-once are
 * refused. No broker is needed: consumers are made against an unreachable
 * address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "cq_config.h"
#include "cq_kafka.h"

static cq_kafka_consumer_t *consumer_with(const char *instance_id, const char *kafka_id)
{
    char err[512];
    cq_config_t *conf = cq_config_new();
    /* Nothing listens there: the consumer is made but never joins. */
    assert_int_equal(
        cq_config_set(conf, "kafka.bootstrap.servers", "127.0.0.1:1", err, sizeof(err)), CQ_ERR_OK);
    if (kafka_id)
        assert_int_equal(cq_config_set(conf, "kafka.group.instance.id", kafka_id, err, sizeof(err)),
                         CQ_ERR_OK);
    const char *topics[] = {"t"};
    cq_kafka_consumer_t *c = cq_kafka_consumer_new_member(conf, "cq-unit-group", instance_id,
                                                          topics, 1, NULL, NULL, err, sizeof(err));
    cq_config_destroy(conf);
    assert_non_null(c);
    return c;
}

static void test_kafka_consumer_instance_id_setting(void **state)
{
    cq_kafka_consumer_t *c = consumer_with("none", NULL);
    assert_string_equal(cq_kafka_consumer_instance_id(c), "");
    cq_kafka_consumer_destroy(c);
    c = consumer_with("", NULL);
    assert_string_equal(cq_kafka_consumer_instance_id(c), "");
    cq_kafka_consumer_destroy(c);
    c = consumer_with("worker-a", NULL);
    assert_string_equal(cq_kafka_consumer_instance_id(c), "worker-a");
    cq_kafka_consumer_destroy(c);
    c = consumer_with("worker-a", "from-kafka-key");
    assert_string_equal(cq_kafka_consumer_instance_id(c), "from-kafka-key");
    cq_kafka_consumer_destroy(c);
    /* auto: two live consumers of one group on this host never share an id. */
    cq_kafka_consumer_t *a = consumer_with("auto", NULL);
    cq_kafka_consumer_t *b = consumer_with("auto", NULL);
    char host[256] = "";
    gethostname(host, sizeof(host));
    assert_memory_equal(cq_kafka_consumer_instance_id(a), host, strlen(host));
    assert_memory_equal(cq_kafka_consumer_instance_id(b), host, strlen(host));
    assert_string_not_equal(cq_kafka_consumer_instance_id(a), cq_kafka_consumer_instance_id(b));
    cq_kafka_consumer_destroy(a);
    cq_kafka_consumer_destroy(b);
}

/* Only offsets the owner stored are committed: settings that would commit
 * what was merely fetched, or nothing at all, are refused. */
static void test_kafka_consumer_refuses_commit_overrides(void **state)
{
    const char *bad[][2] = {{"kafka.enable.auto.offset.store", "true"},
                            {"kafka.enable.auto.commit", "false"}};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(bad); i++) {
        char err[512] = "";
        cq_config_t *conf = cq_config_new();
        assert_int_equal(
            cq_config_set(conf, "kafka.bootstrap.servers", "127.0.0.1:1", err, sizeof(err)),
            CQ_ERR_OK);
        assert_int_equal(cq_config_set(conf, bad[i][0], bad[i][1], err, sizeof(err)), CQ_ERR_OK);
        const char *topics[] = {"t"};
        cq_kafka_consumer_t *c = cq_kafka_consumer_new_member(conf, "g", "none", topics, 1, NULL,
                                                              NULL, err, sizeof(err));
        assert_null(c);
        assert_non_null(strstr(err, bad[i][0] + strlen("kafka.")));
        cq_config_destroy(conf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_consumer_instance_id_setting),
        cmocka_unit_test(test_kafka_consumer_refuses_commit_overrides),
    };
    return cmocka_run_group_tests_name("unit.cq_kafka", tests, NULL, NULL);
}
