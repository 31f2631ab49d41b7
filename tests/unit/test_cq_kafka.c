/*
 * Unit tests of cq_kafka that need no broker (the bootstrap address is a
 * loopback port nothing listens on):
 * - the producer's outage behaviour: a bounded producer refuses a message
 *   timeout longer than its bound, gives a final "not delivered" within the
 *   bound when no broker answers, then knows it is down and refuses at once;
 * - the consumer's group membership settings: the instance id setting maps
 *   to group.instance.id ("auto" ids of two live consumers differ), and
 *   commit settings that would break at-least-once are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cq_config.h"
#include "cq_kafka.h"

/* A loopback port nobody listens on: bound, never listened, then closed. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

static cq_config_t *dead_broker_config(void)
{
    cq_config_t *conf = cq_config_new();
    char bootstrap[64], err[256];
    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", dead_port());
    cq_config_set(conf, "kafka.bootstrap.servers", bootstrap, err, sizeof(err));
    cq_config_set(conf, "log.level", "error", err, sizeof(err));
    return conf;
}

static void test_kafka_bounded_producer_refuses_longer_message_timeout(void **state)
{
    char err[512];
    cq_config_t *conf = dead_broker_config();
    cq_config_set(conf, "kafka.message.timeout.ms", "300000", err, sizeof(err));
    cq_kafka_producer_t *producer = cq_kafka_producer_new_bounded(conf, 10000, err, sizeof(err));
    assert_null(producer);
    assert_non_null(strstr(err, "message.timeout.ms"));
    cq_config_destroy(conf);

    conf = dead_broker_config();
    cq_config_set(conf, "kafka.delivery.timeout.ms", "20000", err, sizeof(err));
    assert_null(cq_kafka_producer_new_bounded(conf, 10000, err, sizeof(err)));
    cq_config_destroy(conf);

    conf = dead_broker_config();
    cq_config_set(conf, "kafka.message.timeout.ms", "5000", err, sizeof(err));
    producer = cq_kafka_producer_new_bounded(conf, 10000, err, sizeof(err));
    assert_non_null(producer);
    cq_kafka_producer_destroy(producer, 0);
    cq_config_destroy(conf);
}

/* The first message waits its bound and is reported not delivered (the old
 * producer kept it queued for librdkafka's 5 minutes and delivered it when a
 * broker came back); from then on the producer is down and refuses at once. */
static void test_kafka_no_broker_gives_final_answer_then_refuses_at_once(void **state)
{
    char err[512];
    cq_config_t *conf = dead_broker_config();
    cq_kafka_producer_t *producer = cq_kafka_producer_new_bounded(conf, 1500, err, sizeof(err));
    assert_non_null(producer);
    cq_kafka_message_t msg = {"coachq.test", "k", 1, "v", 1, NULL, 0};
    cq_kafka_outcome_t outcome = CQ_KAFKA_ACKED;
    int64_t t0 = cq_mono_ms();
    assert_int_equal(cq_kafka_produce_many(producer, &msg, 1, 1500, &outcome), 0);
    int64_t first_ms = cq_mono_ms() - t0;
    assert_int_equal(outcome, CQ_KAFKA_NOT_DELIVERED);
    assert_true(first_ms < 1500 + 3000);
    /* Nothing is left to be delivered later. The out queue also counts
     * events (a connection error) the poll thread has not served yet, so it
     * may take a moment to reach 0. */
    for (int i = 0; i < 10 && cq_kafka_producer_outq_len(producer) > 0; i++)
        usleep(50 * 1000);
    assert_int_equal(cq_kafka_producer_outq_len(producer), 0);

    /* Connection refused or the timeout: the poll thread's probe says down. */
    for (int i = 0; i < 50 && !cq_kafka_producer_down(producer); i++)
        usleep(100 * 1000);
    assert_true(cq_kafka_producer_down(producer));
    assert_false(cq_kafka_producer_ready(producer, 2000));
    t0 = cq_mono_ms();
    outcome = CQ_KAFKA_ACKED;
    assert_int_equal(cq_kafka_produce_many(producer, &msg, 1, 1500, &outcome), 0);
    assert_int_equal(outcome, CQ_KAFKA_NOT_DELIVERED);
    assert_true(cq_mono_ms() - t0 < 500);
    cq_kafka_producer_destroy(producer, 0);
    cq_config_destroy(conf);
}

/* A producer librdkafka failed for good (a fatal error, as an idempotent
 * producer that lost its sequence state raises) says so, is not ready, and
 * produces nothing: the health checks build on this. */
static void test_kafka_producer_failed_for_good_says_so(void **state)
{
    char err[512], why[256] = "";
    cq_config_t *conf = dead_broker_config();
    cq_kafka_producer_t *producer = cq_kafka_producer_new_bounded(conf, 1500, err, sizeof(err));
    assert_non_null(producer);
    assert_false(cq_kafka_producer_failed(producer, why, sizeof(why)));
    cq_kafka_producer_fail_for_test(producer, "sequence lost");
    assert_true(cq_kafka_producer_failed(producer, why, sizeof(why)));
    assert_non_null(strstr(why, "sequence lost"));
    assert_true(cq_kafka_producer_failed(producer, NULL, 0));
    assert_false(cq_kafka_producer_ready(producer, 2000));
    cq_kafka_message_t msg = {"coachq.test", "k", 1, "v", 1, NULL, 0};
    cq_kafka_outcome_t outcome = CQ_KAFKA_ACKED;
    assert_int_equal(cq_kafka_produce_many(producer, &msg, 1, 1500, &outcome), 0);
    assert_int_not_equal(outcome, CQ_KAFKA_ACKED);
    cq_kafka_producer_destroy(producer, 0);
    cq_config_destroy(conf);
}

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
        cmocka_unit_test(test_kafka_bounded_producer_refuses_longer_message_timeout),
        cmocka_unit_test(test_kafka_no_broker_gives_final_answer_then_refuses_at_once),
        cmocka_unit_test(test_kafka_producer_failed_for_good_says_so),
        cmocka_unit_test(test_kafka_consumer_instance_id_setting),
        cmocka_unit_test(test_kafka_consumer_refuses_commit_overrides),
    };
    return cmocka_run_group_tests_name("cq_kafka", tests, NULL, NULL);
}
