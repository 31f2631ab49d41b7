/*
 * Integration: the gateway when the Kafka broker goes away and comes back.
 * A 503 must mean "not queued": a job the gateway refused is never
 * delivered later (librdkafka used to keep it queued for 5 minutes and
 * deliver it when the broker returned, so the worker ran a job the client
 * had been told failed). While the gateway knows the broker is down it must
 * answer 503 with Retry-After at once instead of waiting produce_timeout
 * each time, and it must serve again on its own when the broker is back.
 *
 * The test runs its own single-node KRaft broker on free ports (formatted in
 * a temporary directory, SIGKILLed and restarted on the same data), so the
 * shared test broker stays up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cq_config.h"
#include "cq_it.h"
#include "cq_kafka.h"

/* Long enough that "at once" and "after the wait" cannot be confused. */
#define PRODUCE_TIMEOUT_MS 8000
#define REFUSED_POSTS      6

static cq_it_stack_t stack;
static cq_it_proc_t broker;
static char broker_dir[] = "/tmp/cq-it-kafka-XXXXXX";
static int broker_port, controller_port;

#define BODY                                                                                       \
    "{\"goalIntent\": \"Grow recurring revenue with maintenance plans\","                          \
    " \"strategies\": [\"Sell plans at handover\"], \"kpis\": [\"Plan attach rate\"],"             \
    " \"businessFoundation\": {\"vision\": \"Clean energy in every home\","                        \
    " \"purpose\": \"Make solar simple\", \"coreValues\": [\"Integrity\"]}}"

/* Runs java with the broker's jars; waits for it unless background. */
static pid_t broker_java(const char *const *args, bool background)
{
    const char *src = getenv("COACHQ_SOURCE_DIR");
    char cp[512], log4j[512], log[512];
    snprintf(cp, sizeof(cp), "%s/deploy/kafka/libs/*", src ? src : ".");
    snprintf(log4j, sizeof(log4j), "-Dlog4j.configuration=file:%s/deploy/kafka/%s", src ? src : ".",
             background ? "log4j.properties" : "tools-log4j.properties");
    snprintf(log, sizeof(log), "%s/%s-kafka.log", stack.log_dir, stack.prefix);
    const char *argv[32] = {
        "java", "-Xms256m", "-Xmx256m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
        log4j,  "-cp",      cp};
    int a = 8;
    for (; *args && a < 31; args++)
        argv[a++] = *args;
    argv[a] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execvp("java", (char *const *)argv);
        _exit(127);
    }
    if (background)
        return pid;
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? pid : -1;
}

static bool broker_answers(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "kcat -L -b 127.0.0.1:%d -m 2 >/dev/null 2>&1", broker_port);
    return system(cmd) == 0;
}

static bool broker_start(void)
{
    char props[600];
    snprintf(props, sizeof(props), "%s/server.properties", broker_dir);
    pid_t pid = broker_java((const char *[]){"kafka.Kafka", props, NULL}, true);
    if (pid <= 0)
        return false;
    broker.pid = pid;
    cq_strlcpy(broker.name, "kafka", sizeof(broker.name));
    for (int i = 0; i < 600; i++) {
        if (broker_answers())
            return true;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            broker.pid = 0;
            fprintf(stderr, "the test's broker exited (see its log)\n");
            return false;
        }
        usleep(200 * 1000);
    }
    fprintf(stderr, "the test's broker did not answer in 120 s\n");
    return false;
}

/* Writes the config (one node, broker and controller) and formats storage. */
static bool broker_create(void)
{
    if (!mkdtemp(broker_dir))
        return false;
    broker_port = cq_it_free_port();
    controller_port = cq_it_free_port();
    char props[600];
    snprintf(props, sizeof(props), "%s/server.properties", broker_dir);
    FILE *fp = fopen(props, "w");
    if (!fp)
        return false;
    fprintf(fp,
            "process.roles=broker,controller\nnode.id=1\n"
            "controller.quorum.voters=1@127.0.0.1:%d\n"
            "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d\n"
            "advertised.listeners=PLAINTEXT://127.0.0.1:%d\n"
            "controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n"
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
            "log.dirs=%s/data\nnum.partitions=1\ndefault.replication.factor=1\n"
            "min.insync.replicas=1\noffsets.topic.replication.factor=1\n"
            "offsets.topic.num.partitions=1\ntransaction.state.log.replication.factor=1\n"
            "transaction.state.log.min.isr=1\ntransaction.state.log.num.partitions=1\n"
            "group.initial.rebalance.delay.ms=0\nauto.create.topics.enable=false\n"
            "num.network.threads=1\nnum.io.threads=2\n",
            controller_port, broker_port, controller_port, broker_port, broker_dir);
    fclose(fp);
    /* Any 16 bytes in unpadded base64url make a cluster id. */
    return broker_java((const char *[]){"kafka.tools.StorageTool", "format", "-t",
                                        "Y29hY2hxLWl0LWRvd24hIQ", "-c", props, NULL},
                       false) > 0;
}

static cq_it_resp_t post(const char *tenant, bool async)
{
    char tenant_h[80];
    snprintf(tenant_h, sizeof(tenant_h), "X-Tenant-Id: %s", tenant);
    const char *const h[] = {"Content-Type: application/json", tenant_h,
                             async ? "Prefer: respond-async" : "Prefer: wait=20", NULL};
    char url[256];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", stack.base);
    return cq_it_http("POST", url, h, BODY, strlen(BODY));
}

static long ready_status(void)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/health/ready", stack.base);
    cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
    long status = r.status;
    cq_it_resp_free(&r);
    return status;
}

/* Reads a topic from its beginning for read_ms and counts the records whose
 * key is `key` (jobs and results are keyed by tenant). */
static size_t count_key(const char *topic, const char *key, int read_ms)
{
    cq_config_t *conf = cq_config_new();
    char err[512], group[160];
    cq_config_set(conf, "kafka.bootstrap.servers", stack.kafka, err, sizeof(err));
    snprintf(group, sizeof(group), "%s-count-%lld", stack.prefix, (long long)cq_mono_ms());
    const char *topics[] = {topic};
    cq_kafka_consumer_t *c =
        cq_kafka_consumer_new(conf, group, topics, 1, NULL, NULL, err, sizeof(err));
    size_t n = 0;
    int64_t until = cq_mono_ms() + read_ms;
    while (c && cq_mono_ms() < until) {
        cq_kafka_msg_t *msg = NULL;
        cq_kafka_consumer_poll(c, 200, &msg);
        if (!msg)
            continue;
        if (msg->key_len == strlen(key) && memcmp(msg->key, key, msg->key_len) == 0)
            n++;
        cq_kafka_msg_destroy(msg);
    }
    cq_kafka_consumer_destroy(c);
    cq_config_destroy(conf);
    return n;
}

static void test_it_kafka_down_503_is_not_queued_and_fast(void **state)
{
    /* Up: a job goes through. */
    cq_it_resp_t r = post("tenant-ok", false);
    assert_int_equal(r.status, 200);
    cq_it_resp_free(&r);

    cq_it_stop(&broker, SIGKILL);
    int64_t killed = cq_mono_ms();

    /* Down: every POST answers 503 KAFKA_UNAVAILABLE with Retry-After; the
     * first may wait for the producer to learn the broker is gone, the
     * others are refused at once. */
    char ids[REFUSED_POSTS][64];
    size_t id_count = 0;
    int64_t took[REFUSED_POSTS];
    for (int i = 0; i < REFUSED_POSTS; i++) {
        int64_t t0 = cq_mono_ms();
        r = post("tenant-refused", true);
        took[i] = cq_mono_ms() - t0;
        fprintf(stderr, "POST %d while down: %ld in %lld ms\n", i, r.status, (long long)took[i]);
        assert_int_equal(r.status, 503);
        assert_string_equal(json_string_value(cq_it_get(r.json, "code")), "KAFKA_UNAVAILABLE");
        char retry[16];
        assert_true(cq_it_header(&r, "Retry-After", retry, sizeof(retry)));
        if (cq_it_header(&r, "X-Job-Id", ids[id_count], sizeof(ids[id_count])))
            id_count++;
        cq_it_resp_free(&r);
    }
    fprintf(stderr, "%zu of the 503s named a (failed) job\n", id_count);
    assert_true(took[0] < PRODUCE_TIMEOUT_MS + 10000); /* an answer, not a hang */
    for (int i = 1; i < REFUSED_POSTS; i++)
        assert_true(took[i] < PRODUCE_TIMEOUT_MS / 2); /* well under the produce wait */
    assert_int_equal(ready_status(), 503);

    /* A job the gateway failed says so. */
    for (size_t i = 0; i < id_count; i++) {
        char url[256];
        snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, ids[i]);
        const char *const h[] = {"X-Tenant-Id: tenant-refused", NULL};
        r = cq_it_http("GET", url, h, NULL, 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(cq_it_get(r.json, "status")), "failed");
        cq_it_resp_free(&r);
    }

    /* Back: the same gateway serves again on its own. Wait past the point
     * where the old producer would have delivered what it kept queued. */
    assert_true(broker_start());
    fprintf(stderr, "broker back %lld ms after the kill\n", (long long)(cq_mono_ms() - killed));
    long status = 0;
    for (int i = 0; i < 300 && status != 200; i++) {
        status = ready_status();
        if (status != 200)
            usleep(200 * 1000);
    }
    assert_int_equal(status, 200);
    r = post("tenant-ok", false);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(cq_it_get(r.json, "success")));
    cq_it_resp_free(&r);

    /* No refused job ever reached the job topic or ran (its result would be
     * on the results topic), while both accepted jobs did. */
    char jobs_topic[128], results_topic[128];
    snprintf(jobs_topic, sizeof(jobs_topic), "%s.jobs.alignment", stack.prefix);
    snprintf(results_topic, sizeof(results_topic), "%s.results", stack.prefix);
    assert_int_equal(count_key(jobs_topic, "tenant-refused", 8000), 0);
    assert_int_equal(count_key(results_topic, "tenant-refused", 5000), 0);
    /* (At least: a job redelivered after the broker's restart runs again.) */
    assert_true(count_key(results_topic, "tenant-ok", 5000) >= 2);
    if (id_count) {
        const char *list[REFUSED_POSTS];
        for (size_t i = 0; i < id_count; i++)
            list[i] = ids[i];
        assert_int_equal(cq_it_consume_ids(&stack, results_topic, list, id_count, 3000, NULL), 0);
    }
}

/* A broker that hangs (SIGSTOP) instead of going away: the job's message is
 * sent but never acknowledged, so the gateway cannot know whether it is in
 * the log. A 202 would be a promise it cannot keep (a message the broker
 * never wrote left its job queued for ever: the chaos test found such
 * jobs), so it sends the envelope again; while the broker stays hung that
 * is refused, and the job is recorded failed and answered 503. The copy the
 * broker does write once it resumes is then not run: its record is final.
 * Once the gateway knows no broker answers, the next POSTs get 503 at once,
 * and after the broker resumes the same producer works again (an idempotent
 * producer whose in-flight messages timed out must recover, not fail for
 * good). */
static void test_it_kafka_hung_broker_gives_a_final_answer(void **state)
{
    cq_it_resp_t r = post("tenant-ok", false);
    assert_int_equal(r.status, 200);
    cq_it_resp_free(&r);

    assert_int_equal(kill(broker.pid, SIGSTOP), 0);
    int64_t t0 = cq_mono_ms();
    r = post("tenant-maybe", true);
    int64_t took = cq_mono_ms() - t0;
    fprintf(stderr, "POST to a hung broker: %ld in %lld ms\n", r.status, (long long)took);
    char job_id[64] = "";
    cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id));
    long status = r.status;
    cq_it_resp_free(&r);

    /* Then it knows: refused at once. */
    int64_t fast = -1;
    for (int i = 0; i < 20 && fast < 0; i++) {
        int64_t t1 = cq_mono_ms();
        cq_it_resp_t f = post("tenant-refused-2", true);
        if (f.status == 503)
            fast = cq_mono_ms() - t1;
        cq_it_resp_free(&f);
    }
    kill(broker.pid, SIGCONT);
    assert_int_equal(status, 503);
    assert_true(job_id[0] != '\0');
    assert_true(took < PRODUCE_TIMEOUT_MS + 10000);
    assert_true(fast >= 0 && fast < PRODUCE_TIMEOUT_MS / 2);

    long ready = 0;
    for (int i = 0; i < 300 && ready != 200; i++) {
        ready = ready_status();
        if (ready != 200)
            usleep(200 * 1000);
    }
    assert_int_equal(ready, 200);
    r = post("tenant-ok", false);
    assert_int_equal(r.status, 200);
    cq_it_resp_free(&r);

    /* The job answered 503 is failed, and stays so although the broker has
     * now written its first copy and the worker has had time to take it. */
    char url[256];
    snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, job_id);
    const char *const h[] = {"X-Tenant-Id: tenant-maybe", NULL};
    sleep(3);
    r = cq_it_http("GET", url, h, NULL, 0);
    const char *final = json_string_value(cq_it_get(r.json, "status"));
    fprintf(stderr, "the job the hung broker took ended %s\n", final ? final : "?");
    assert_int_equal(r.status, 200);
    assert_string_equal(final, "failed");
    assert_string_equal(json_string_value(cq_it_get(r.json, "error.code")), "KAFKA_UNAVAILABLE");
    cq_it_resp_free(&r);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "kafkadown");
    if (!broker_create() || !broker_start())
        return -1;
    snprintf(stack.kafka, sizeof(stack.kafka), "127.0.0.1:%d", broker_port);
    if (!cq_it_start_worker(&stack, "alignment", NULL))
        return -1;
    char timeout[64];
    snprintf(timeout, sizeof(timeout), "gateway.produce_timeout=%dms", PRODUCE_TIMEOUT_MS);
    const char *gw[] = {timeout, NULL};
    return cq_it_start_gateway(&stack, gw) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    cq_it_stop(&broker, SIGTERM);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", broker_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", broker_dir);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_kafka_down_503_is_not_queued_and_fast),
        cmocka_unit_test(test_it_kafka_hung_broker_gives_a_final_answer),
    };
    return cmocka_run_group_tests_name("integration.kafka_down", tests, setup, teardown);
}
