/*
 * Integration: a terminal job whose envelope is delivered again (its worker
 * died before the offset was committed) publishes its result record again
 * only when the store does not say the broker acknowledged it once. The
 * worker marks a job published after the acknowledgement; a job with the
 * mark is not published again, one without it (a mark never written) is.
 * The redelivery is made by a second worker in a group of its own, which
 * reads the jobs topic from its start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cq_it.h"
#include "cq_kafka.h"

#define JOBS   6
#define MARKED 3 /* jobs 0..MARKED-1 keep their mark; the others lose it */

static cq_it_stack_t stack;

static const char *const tenant_h[] = {"X-Tenant-Id: tenant-redelivery", NULL};

static redisContext *redis_side(void)
{
    redisContext *c = redisConnect("127.0.0.1", stack.redis_port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

/* The job's published field in Redis ("" when absent). */
static void published_field(const char *id, char *out, size_t out_size)
{
    redisContext *c = redis_side();
    redisReply *r = redisCommand(c, "HGET %s:job:%s published", stack.prefix, id);
    out[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING)
        cq_strlcpy(out, r->str, out_size);
    freeReplyObject(r);
    redisFree(c);
}

static void unmark(const char *id)
{
    redisContext *c = redis_side();
    redisReply *r = redisCommand(c, "HDEL %s:job:%s published", stack.prefix, id);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
}

static void submit(char ids[][64])
{
    for (int i = 0; i < JOBS; i++) {
        assert_int_equal(cq_it_submit_check(&stack, "tenant-redelivery", "", i, ids[i]), 202);
        assert_true(ids[i][0]);
    }
}

/* Waits (up to 10 s) for the job's published mark. */
static void expect_marked(const char *id)
{
    char mark[8];
    int64_t until = cq_mono_ms() + 10000;
    do {
        published_field(id, mark, sizeof(mark));
        if (strcmp(mark, "1") != 0)
            usleep(50 * 1000);
    } while (strcmp(mark, "1") != 0 && cq_mono_ms() < until);
    assert_string_equal(mark, "1");
}

static bool all_succeeded(char ids[][64])
{
    for (int i = 0; i < JOBS; i++) {
        char url[256];
        snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, ids[i]);
        cq_it_resp_t r = cq_it_http("GET", url, tenant_h, NULL, 0);
        const char *status = json_string_value(cq_it_get(r.json, "status"));
        bool ok = status && strcmp(status, "succeeded") == 0;
        cq_it_resp_free(&r);
        if (!ok)
            return false;
    }
    return true;
}

/* Whether the log since `from` has a line naming id and saying what. */
static bool logged(long from, const char *id, const char *what)
{
    char *text = cq_it_worker_log_since(&stack, from);
    bool found = false;
    for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n"))
        found = strstr(line, id) && strstr(line, what);
    free(text);
    return found;
}

/* Counts the result records of each job on the results topic: reads until
 * counts[i] >= want[i] for every job, then 2 s more (a record beyond them
 * would show), or until timeout_ms. */
static void count_results(char ids[][64], const int *want, int *counts, int timeout_ms)
{
    cq_config_t *conf = cq_config_new();
    char err[512], topic[128], group[128];
    cq_config_set(conf, "kafka.bootstrap.servers", stack.kafka, err, sizeof(err));
    snprintf(topic, sizeof(topic), "%s.results", stack.prefix);
    snprintf(group, sizeof(group), "%s-counter-%ld", stack.prefix, (long)cq_mono_ms());
    const char *topics[] = {topic};
    cq_kafka_consumer_t *c =
        cq_kafka_consumer_new(conf, group, topics, 1, NULL, NULL, err, sizeof(err));
    assert_non_null(c);
    memset(counts, 0, JOBS * sizeof(*counts));
    int64_t until = cq_mono_ms() + timeout_ms, settled_at = 0;
    while (cq_mono_ms() < until && (!settled_at || cq_mono_ms() < settled_at + 2000)) {
        cq_kafka_msg_t *msg = NULL;
        cq_kafka_consumer_poll(c, 200, &msg);
        if (msg) {
            size_t len = 0;
            const char *id = cq_kafka_msg_header(msg, "coachq-job-id", &len);
            for (int i = 0; id && i < JOBS; i++)
                if (strlen(ids[i]) == len && memcmp(ids[i], id, len) == 0)
                    counts[i]++;
            cq_kafka_msg_destroy(msg);
        }
        bool all = true;
        for (int i = 0; i < JOBS; i++)
            all = all && counts[i] >= want[i];
        if (all && !settled_at)
            settled_at = cq_mono_ms();
    }
    cq_kafka_consumer_destroy(c);
    cq_config_destroy(conf);
}

static void test_it_redelivery_published_job_is_not_published_again(void **state)
{
    (void)state;
    static char ids[JOBS][64];
    assert_true(cq_it_start_worker(&stack, "alignment", NULL));
    submit(ids);
    int64_t until = cq_mono_ms() + 60000;
    while (!all_succeeded(ids) && cq_mono_ms() < until)
        usleep(100 * 1000);
    assert_true(all_succeeded(ids));

    /* Each job is marked once the broker acknowledged its result record. */
    for (int i = 0; i < JOBS; i++)
        expect_marked(ids[i]);
    int once[JOBS], counts[JOBS];
    for (int i = 0; i < JOBS; i++)
        once[i] = 1;
    count_results(ids, once, counts, 30000);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(counts[i], 1);

    /* The later jobs' marks were never written (say Redis did not take them). */
    for (int i = MARKED; i < JOBS; i++)
        unmark(ids[i]);

    /* Every envelope is delivered again, to a worker of a new group. */
    cq_it_stop(&stack.worker, SIGTERM);
    char *text = cq_it_worker_log_since(&stack, 0);
    long from = (long)strlen(text);
    free(text);
    char group[128];
    snprintf(group, sizeof(group), "worker.group_prefix=%s-again-", stack.prefix);
    const char *const again[] = {group, NULL};
    assert_true(cq_it_start_worker(&stack, "alignment", again));
    until = cq_mono_ms() + 60000;
    bool seen = false;
    while (!seen && cq_mono_ms() < until) {
        seen = true;
        for (int i = 0; i < JOBS && seen; i++)
            seen =
                logged(from, ids[i],
                       i < MARKED ? "and published: nothing to do" : "publishing its record again");
        if (!seen)
            usleep(200 * 1000);
    }
    assert_true(seen);

    int want[JOBS];
    for (int i = 0; i < JOBS; i++)
        want[i] = i < MARKED ? 1 : 2;
    count_results(ids, want, counts, 30000);
    for (int i = 0; i < JOBS; i++) {
        fprintf(stderr, "job %d (%s): %d result records\n", i, i < MARKED ? "marked" : "unmarked",
                counts[i]);
        assert_int_equal(counts[i], want[i]);
    }
    /* A republished job is marked again once that record is acknowledged. */
    for (int i = MARKED; i < JOBS; i++)
        expect_marked(ids[i]);
}

static int setup(void **state)
{
    (void)state;
    cq_it_stack_init(&stack, "redeliv");
    mkdir(stack.log_dir, 0755); /* the log is read back: it must be a file */
    return cq_it_start_gateway(&stack, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cq_it_stack_stop(&stack);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_redelivery_published_job_is_not_published_again),
    };
    return cmocka_run_group_tests_name("integration.redelivery", tests, setup, teardown);
}
