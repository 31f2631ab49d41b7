/*
 * Integration: two workers of one kind are static members of their group
 * (worker.instance_id). One is killed with SIGKILL: the other keeps running
 * its own jobs, and the killed one, restarted with the same id, gets its own
 * partitions back at once, long before its session (30 s here) would have
 * timed out, while the other member's partitions are never revoked. A member
 * fenced by another consumer with its id joins again in the same process.
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

#include "cq_it.h"

#define TENANTS    12
#define SESSION_MS 30000

static cq_it_stack_t stack;   /* gateway and worker A */
static cq_it_stack_t stack_b; /* the same stack; worker B, its log in a folder of its own */
static cq_it_stack_t stack_c; /* the same stack; an intruder with A's instance id */

static const char *const opts_a[] = {"worker.instance_id=it-member-a",
                                     "kafka.session.timeout.ms=30000", NULL};
static const char *const opts_b[] = {"worker.instance_id=it-member-b",
                                     "kafka.session.timeout.ms=30000", NULL};

/* How long the worker's log is now. */
static long log_size(const cq_it_stack_t *s)
{
    char *text = cq_it_worker_log_since(s, 0);
    long n = (long)strlen(text);
    free(text);
    return n;
}

/* What the worker owned after its last rebalance in the log since `from`
 * ("topic[0,2]", "none"), or "" if it had no rebalance there. */
static void owned(const cq_it_stack_t *s, long from, char *out, size_t out_size)
{
    char *text = cq_it_worker_log_since(s, from);
    out[0] = '\0';
    for (const char *p = text; (p = strstr(p, "; owns now: ")) != NULL; p++) {
        const char *list = p + strlen("; owns now: ");
        const char *eol = strchr(list, '\n');
        if (!eol)
            break;
        size_t len = (size_t)(eol - list) < out_size - 1 ? (size_t)(eol - list) : out_size - 1;
        memcpy(out, list, len);
        out[len] = '\0';
    }
    free(text);
}

/* Waits up to timeout_ms until the worker owns partitions (log since `from`). */
static bool wait_owned(const cq_it_stack_t *s, long from, char *out, size_t out_size,
                       int timeout_ms)
{
    int64_t until = cq_mono_ms() + timeout_ms;
    while (cq_mono_ms() < until) {
        owned(s, from, out, out_size);
        if (*out && strcmp(out, "none") != 0)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

/* Submits one job for each of TENANTS tenants (spread over the partitions). */
static void submit(char ids[][64], const char *tag)
{
    for (int i = 0; i < TENANTS; i++) {
        char tenant[64];
        snprintf(tenant, sizeof(tenant), "tenant-g%d", i);
        assert_int_equal(cq_it_submit_check(&stack, tenant, tag, i, ids[i]), 202);
        assert_true(ids[i][0]);
    }
}

/* How many of the jobs have succeeded (one look, no waiting). */
static int succeeded(char ids[][64])
{
    int done = 0;
    for (int i = 0; i < TENANTS; i++) {
        char url[256], tenant[64];
        snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, ids[i]);
        snprintf(tenant, sizeof(tenant), "X-Tenant-Id: tenant-g%d", i);
        const char *const h[] = {tenant, NULL};
        cq_it_resp_t r = cq_it_http("GET", url, h, NULL, 0);
        const char *status = json_string_value(cq_it_get(r.json, "status"));
        done += status && strcmp(status, "succeeded") == 0;
        cq_it_resp_free(&r);
    }
    return done;
}

static void test_it_group_restarted_member_takes_back_its_partitions(void **state)
{
    char before_a[256], before_b[256], after_b[256], now_a[256];
    assert_true(cq_it_start_worker(&stack, "alignment", opts_a));
    assert_true(cq_it_start_worker(&stack_b, "alignment", opts_b));
    /* Both members own partitions, and the group has settled. */
    assert_true(wait_owned(&stack_b, 0, before_b, sizeof(before_b), 60000));
    assert_true(wait_owned(&stack, 0, before_a, sizeof(before_a), 60000));
    sleep(3);
    owned(&stack, 0, before_a, sizeof(before_a));
    owned(&stack_b, 0, before_b, sizeof(before_b));
    fprintf(stderr, "A owns %s, B owns %s\n", before_a, before_b);
    assert_string_not_equal(before_a, "none");
    assert_string_not_equal(before_b, "none");

    long a_mark = log_size(&stack);
    int64_t killed_at = cq_mono_ms();
    cq_it_stop(&stack_b.worker, SIGKILL);

    /* While B is dead, the jobs of A's partitions still run. */
    static char ids[TENANTS][64];
    submit(ids, "while-b-is-dead");
    int done = 0;
    for (int64_t until = cq_mono_ms() + 8000; cq_mono_ms() < until; usleep(200 * 1000))
        if ((done = succeeded(ids)) > 0)
            break;
    fprintf(stderr, "%d of %d jobs done while B was dead\n", done, TENANTS);
    assert_true(done > 0);

    /* B comes back as the same member: its own partitions, no rebalance. */
    long b_mark = log_size(&stack_b);
    assert_true(cq_it_start_worker(&stack_b, "alignment", opts_b));
    assert_true(wait_owned(&stack_b, b_mark, after_b, sizeof(after_b), 15000));
    fprintf(stderr, "restarted B owns %s after %lld ms from the kill\n", after_b,
            (long long)(cq_mono_ms() - killed_at));
    assert_string_equal(after_b, before_b);
    /* Every job, B's included, finishes well before B's old session expired. */
    while (succeeded(ids) < TENANTS && cq_mono_ms() - killed_at < SESSION_MS - 5000)
        usleep(200 * 1000);
    assert_int_equal(succeeded(ids), TENANTS);
    assert_true(cq_mono_ms() - killed_at < SESSION_MS - 5000);
    /* A never lost or gained a partition: no rebalance reached it. */
    owned(&stack, a_mark, now_a, sizeof(now_a));
    assert_string_equal(now_a, "");
    cq_it_stop(&stack_b.worker, SIGTERM);
}

/* Where `what` first appears in the worker's log at or after byte `from`, or -1. */
static long log_find(const cq_it_stack_t *s, long from, const char *what)
{
    char *text = cq_it_worker_log_since(s, from);
    const char *at = strstr(text, what);
    long pos = at ? from + (long)(at - text) : -1;
    free(text);
    return pos;
}

/* Whether the process still runs (a child that exited is reaped here). */
static bool alive(cq_it_proc_t *proc)
{
    int status;
    if (proc->pid <= 0 || waitpid(proc->pid, &status, WNOHANG) == 0)
        return proc->pid > 0;
    fprintf(stderr, "%s exited (status %d)\n", proc->name,
            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    proc->pid = 0;
    return false;
}

/* A consumer that stops for good (fenced: another consumer took its
 * group.instance.id, as librdkafka was seen to do to itself after a broker
 * restart) is replaced inside the worker process: no supervisor needed. */
static void test_it_group_fenced_member_joins_again_in_process(void **state)
{
    char now_a[256], now_b[256], now_c[256];
    if (!stack.worker.pid)
        assert_true(cq_it_start_worker(&stack, "alignment", opts_a));
    if (!stack_b.worker.pid)
        assert_true(cq_it_start_worker(&stack_b, "alignment", opts_b));
    assert_true(wait_owned(&stack, 0, now_a, sizeof(now_a), 60000));
    assert_true(wait_owned(&stack_b, 0, now_b, sizeof(now_b), 60000));
    long a_mark = log_size(&stack);

    /* An intruder with A's instance id: the broker maps the id to it, and
     * A is fenced at its next heartbeat or commit. */
    assert_true(cq_it_start_worker(&stack_c, "alignment", opts_a));
    assert_true(wait_owned(&stack_c, 0, now_c, sizeof(now_c), 30000));
    cq_it_stop(&stack_c.worker, SIGKILL);
    fprintf(stderr, "the intruder owned %s\n", now_c);

    long rejoined = -1;
    for (int64_t until = cq_mono_ms() + 40000; cq_mono_ms() < until; usleep(200 * 1000))
        if ((rejoined = log_find(&stack, a_mark, "joined the group again")) >= 0)
            break;
    assert_true(log_find(&stack, a_mark, "the consumer stopped for good") >= 0);
    assert_true(rejoined >= 0);
    assert_true(alive(&stack.worker)); /* the same process */
    assert_true(wait_owned(&stack, rejoined, now_a, sizeof(now_a), 30000));
    fprintf(stderr, "A joined again and owns %s\n", now_a);

    /* And every job runs, A's partitions' included. */
    static char ids[TENANTS][64];
    submit(ids, "after-the-fence");
    for (int64_t until = cq_mono_ms() + 30000; cq_mono_ms() < until; usleep(200 * 1000))
        if (succeeded(ids) == TENANTS)
            break;
    assert_int_equal(succeeded(ids), TENANTS);
    assert_true(alive(&stack.worker));
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "group");
    stack_b = stack;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s-member-b", stack.log_dir, stack.prefix);
    cq_strlcpy(stack_b.log_dir, dir, sizeof(stack_b.log_dir));
    stack_c = stack;
    snprintf(dir, sizeof(dir), "%s/%s-intruder", stack.log_dir, stack.prefix);
    cq_strlcpy(stack_c.log_dir, dir, sizeof(stack_c.log_dir));
    mkdir(stack.log_dir, 0755); /* the logs are read back: they must be files */
    mkdir(stack_b.log_dir, 0755);
    mkdir(stack_c.log_dir, 0755);
    return cq_it_start_gateway(&stack, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    if (stack_b.worker.pid)
        cq_it_stop(&stack_b.worker, SIGKILL);
    if (stack_c.worker.pid)
        cq_it_stop(&stack_c.worker, SIGKILL);
    cq_it_stack_stop(&stack);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_group_restarted_member_takes_back_its_partitions),
        cmocka_unit_test(test_it_group_fenced_member_joins_again_in_process),
    };
    return cmocka_run_group_tests_name("integration.group", tests, setup, teardown);
}
