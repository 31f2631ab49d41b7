/*
 * Integration: a worker killed with SIGKILL in the middle of a stream of
 * jobs, then restarted, loses no job: every accepted job ends succeeded and
 * has its result record on the results topic.
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
#include <unistd.h>

#include "cq_it.h"

#define JOBS 60

static cq_it_stack_t stack;

static void submit(char ids[][64], int from, int to)
{
    for (int i = from; i < to; i++) {
        assert_int_equal(cq_it_submit_check(&stack, "tenant-r", "", i, ids[i]), 202);
        assert_true(ids[i][0]);
    }
}

static void test_it_worker_killed_mid_stream_loses_no_job(void **state)
{
    static char ids[JOBS][64];
    submit(ids, 0, JOBS / 3);
    assert_true(cq_it_start_worker(&stack, "alignment", NULL));
    submit(ids, JOBS / 3, 2 * JOBS / 3);
    /* Kill while the second third is being consumed. */
    kill(stack.worker.pid, SIGKILL);
    cq_it_stop(&stack.worker, SIGKILL);
    submit(ids, 2 * JOBS / 3, JOBS);
    assert_true(cq_it_start_worker(&stack, "alignment", NULL));

    /* The restarted worker has the killed one's member id (worker.instance_id
     * auto) and takes its partitions back at once; with dynamic membership
     * they would wait for the old session to time out (10 s). */
    const char *const poll[] = {"X-Tenant-Id: tenant-r", "Prefer: wait=30", NULL};
    int64_t until = cq_mono_ms() + 120000;
    for (int i = 0; i < JOBS; i++) {
        char url[256];
        snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, ids[i]);
        cq_it_resp_t r = cq_it_http("GET", url, poll, NULL, 0);
        assert_int_equal(r.status, 200);
        const char *status = json_string_value(cq_it_get(r.json, "status"));
        if (status && strcmp(status, "succeeded") != 0 && cq_mono_ms() < until) {
            cq_it_resp_free(&r);
            i--;
            continue;
        }
        if (!status || strcmp(status, "succeeded") != 0)
            fprintf(stderr, "job %d: %s\n", i, r.body);
        assert_string_equal(status, "succeeded");
        cq_it_resp_free(&r);
    }
    char topic[128];
    snprintf(topic, sizeof(topic), "%s.results", stack.prefix);
    const char *idp[JOBS];
    for (int i = 0; i < JOBS; i++)
        idp[i] = ids[i];
    assert_int_equal(cq_it_consume_ids(&stack, topic, idp, JOBS, 60000, NULL), JOBS);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "restart");
    return cq_it_start_gateway(&stack, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_worker_killed_mid_stream_loses_no_job),
    };
    return cmocka_run_group_tests_name("integration.restart", tests, setup, teardown);
}
