/*
 * Unit tests of the consumer's group membership (cq_kafka): member slots on
 * one host are distinct among live processes and come back to a process
 * that restarts, the instance id setting maps to group.instance.id, and
 * commit settings that would break at-least-once are refused.
 * No broker is needed: a consumer is made against an unreachable address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cq_config.h"
#include "cq_kafka.h"

static char dir[64];

static int setup(void **state)
{
    cq_strlcpy(dir, "/tmp/cq-kafka-test.XXXXXX", sizeof(dir));
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void expect_slot(const char *id, int slot)
{
    char host[256] = "";
    gethostname(host, sizeof(host));
    char want[300];
    snprintf(want, sizeof(want), "%s-%d", host, slot);
    assert_string_equal(id, want);
}

static void test_kafka_member_slots_are_distinct_and_reused(void **state)
{
    char a[300], b[300], c[300], err[256];
    int fa = cq_kafka_member_claim(dir, "coachq-alignment", a, sizeof(a), err, sizeof(err));
    int fb = cq_kafka_member_claim(dir, "coachq-alignment", b, sizeof(b), err, sizeof(err));
    assert_true(fa >= 0 && fb >= 0);
    expect_slot(a, 0);
    expect_slot(b, 1);
    /* Another group has its own slots. */
    int fo = cq_kafka_member_claim(dir, "coachq-operations", c, sizeof(c), err, sizeof(err));
    assert_true(fo >= 0);
    expect_slot(c, 0);
    close(fo);
    /* The lowest free slot is taken: a restarted member gets its id back. */
    close(fa);
    int fc = cq_kafka_member_claim(dir, "coachq-alignment", c, sizeof(c), err, sizeof(err));
    assert_true(fc >= 0);
    expect_slot(c, 0);
    close(fb);
    close(fc);
}

static void test_kafka_member_slot_of_killed_process_is_free(void **state)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char id[300], err[256];
        int fd = cq_kafka_member_claim(dir, "g", id, sizeof(id), err, sizeof(err));
        char ok = fd >= 0 ? 'y' : 'n';
        (void)!write(ready[1], &ok, 1);
        pause();
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    char id[300], err[256];
    int fd = cq_kafka_member_claim(dir, "g", id, sizeof(id), err, sizeof(err));
    assert_true(fd >= 0);
    expect_slot(id, 1);
    close(fd);
    /* SIGKILL runs no code of the child: the kernel drops its lock. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fd = cq_kafka_member_claim(dir, "g", id, sizeof(id), err, sizeof(err));
    assert_true(fd >= 0);
    expect_slot(id, 0);
    close(fd);
    close(ready[0]);
    close(ready[1]);
}

static void test_kafka_member_claim_fails_when_slots_run_out(void **state)
{
    int fds[64];
    char id[300], err[256] = "";
    for (int i = 0; i < 64; i++) {
        fds[i] = cq_kafka_member_claim(dir, "full", id, sizeof(id), err, sizeof(err));
        assert_true(fds[i] >= 0);
    }
    expect_slot(id, 63);
    assert_int_equal(cq_kafka_member_claim(dir, "full", id, sizeof(id), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no free member slot"));
    for (int i = 0; i < 64; i++)
        close(fds[i]);
    /* A directory that is not there: no slot, an error, no crash. */
    assert_int_equal(
        cq_kafka_member_claim("/nonexistent/dir", "g", id, sizeof(id), err, sizeof(err)), -1);
}

static void test_kafka_member_group_name_is_made_file_safe(void **state)
{
    char id[300], err[256], path[256];
    int fd = cq_kafka_member_claim(dir, "a/b c", id, sizeof(id), err, sizeof(err));
    assert_true(fd >= 0);
    snprintf(path, sizeof(path), "%s/coachq-member-a_b_c-0.lock", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    close(fd);
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
        cmocka_unit_test(test_kafka_member_slots_are_distinct_and_reused),
        cmocka_unit_test(test_kafka_member_slot_of_killed_process_is_free),
        cmocka_unit_test(test_kafka_member_claim_fails_when_slots_run_out),
        cmocka_unit_test(test_kafka_member_group_name_is_made_file_safe),
        cmocka_unit_test(test_kafka_consumer_instance_id_setting),
        cmocka_unit_test(test_kafka_consumer_refuses_commit_overrides),
    };
    return cmocka_run_group_tests_name("unit.cq_kafka", tests, setup, teardown);
}
