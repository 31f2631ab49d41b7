/*
 * Integration: Redis lost, nothing lost. Jobs finished through the gateway
 * and a worker; Redis wiped (FLUSHALL); every job answers 404; coachq-rebuild
 * reads the results topic and every job is readable again with its result,
 * for its own tenant only. Also: a rebuild honours jobs.result_ttl, a second
 * rebuild changes nothing, a restored record replaces a running one but
 * never a terminal one, and jobs still uncommitted on the job topic when
 * Redis was lost simply run again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cq_it.h"
#include "cq_store.h"

#define JOBS 12

static cq_it_stack_t stack;

static const char *tenant_of(int i)
{
    return i % 3 == 0 ? "tenant-rb-b" : "tenant-rb-a";
}

static void submit(char ids[][64], int from, int to)
{
    for (int i = from; i < to; i++) {
        assert_int_equal(cq_it_submit_check(&stack, tenant_of(i), "", i, ids[i]), 202);
        assert_true(ids[i][0]);
    }
}

/* GET /jobs/{id} as tenant (Prefer: wait=N when wait > 0). */
static cq_it_resp_t get_job(const char *id, const char *tenant, int wait)
{
    char url[256], th[96], wh[32];
    snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, id);
    snprintf(th, sizeof(th), "X-Tenant-Id: %s", tenant);
    snprintf(wh, sizeof(wh), "Prefer: wait=%d", wait);
    const char *const h[] = {th, wait > 0 ? wh : NULL, NULL};
    return cq_it_http("GET", url, h, NULL, 0);
}

/* Waits until every job succeeded; keeps each job's result as JSON text. */
static void wait_succeeded(char ids[][64], int from, int to, char **results)
{
    int64_t until = cq_mono_ms() + 120000;
    for (int i = from; i < to; i++) {
        cq_it_resp_t r = get_job(ids[i], tenant_of(i), 20);
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
        if (results)
            results[i] = json_dumps(cq_it_get(r.json, "result"), JSON_COMPACT | JSON_SORT_KEYS);
        cq_it_resp_free(&r);
    }
}

static redisContext *redis_side(void)
{
    redisContext *c = redisConnect("127.0.0.1", stack.redis_port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

static void redis_flushall(void)
{
    redisContext *c = redis_side();
    redisReply *r = redisCommand(c, "FLUSHALL");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(c);
}

static long long redis_pttl(const char *id)
{
    redisContext *c = redis_side();
    redisReply *r = redisCommand(c, "PTTL %s:job:%s", stack.prefix, id);
    assert_non_null(r);
    long long ttl = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return ttl;
}

/* Runs coachq-rebuild with the stack's options plus extra (may be NULL);
 * returns its one-line JSON report (new reference) after checking exit 0. */
static json_t *run_rebuild(const char *extra)
{
    const char *bin_dir = getenv("COACHQ_BIN_DIR");
    char path[512], log[512];
    snprintf(path, sizeof(path), "%s/coachq-rebuild", bin_dir ? bin_dir : ".");
    snprintf(log, sizeof(log), "%s/%s-coachq-rebuild.log", stack.log_dir, stack.prefix);
    char opts[6][256];
    snprintf(opts[0], 256, "kafka.bootstrap.servers=%s", stack.kafka);
    snprintf(opts[1], 256, "redis.port=%d", stack.redis_port);
    snprintf(opts[2], 256, "redis.prefix=%s:", stack.prefix);
    snprintf(opts[3], 256, "topics.results=%s.results", stack.prefix);
    snprintf(opts[4], 256, "topics.jobs_prefix=%s.jobs.", stack.prefix);
    snprintf(opts[5], 256, "%s", extra ? extra : "log.level=info");
    const char *argv[16];
    int a = 0;
    argv[a++] = path;
    for (int i = 0; i < 6; i++) {
        argv[a++] = "-o";
        argv[a++] = opts[i];
    }
    argv[a] = NULL;
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execv(path, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(out[1]);
    char buf[1024];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(buf) - 1 && (k = read(out[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    close(out[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    fprintf(stderr, "coachq-rebuild: %s", buf);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    json_t *report = json_loads(buf, 0, NULL);
    assert_non_null(report);
    assert_true(json_is_true(json_object_get(report, "ok")));
    return report;
}

static long long count(const json_t *report, const char *name)
{
    return (long long)json_integer_value(json_object_get(report, name));
}

static void test_it_rebuild_brings_finished_jobs_back(void **state)
{
    static char ids[JOBS][64];
    char *results[JOBS] = {0};
    submit(ids, 0, JOBS);
    wait_succeeded(ids, 0, JOBS, results);
    /* Every result record is on the topic before Redis goes. */
    char topic[128];
    snprintf(topic, sizeof(topic), "%s.results", stack.prefix);
    const char *idp[JOBS];
    for (int i = 0; i < JOBS; i++)
        idp[i] = ids[i];
    assert_int_equal(cq_it_consume_ids(&stack, topic, idp, JOBS, 60000, NULL), JOBS);

    redis_flushall();
    for (int i = 0; i < JOBS; i++) {
        cq_it_resp_t r = get_job(ids[i], tenant_of(i), 0);
        assert_int_equal(r.status, 404);
        cq_it_resp_free(&r);
    }

    /* A result TTL shorter than the jobs' age: every record is expired. */
    sleep(2);
    json_t *report = run_rebuild("jobs.result_ttl=1s");
    assert_true(count(report, "read") >= JOBS);
    assert_int_equal(count(report, "expired"), count(report, "read"));
    assert_int_equal(count(report, "restored"), 0);
    json_decref(report);
    cq_it_resp_t gone = get_job(ids[0], tenant_of(0), 0);
    assert_int_equal(gone.status, 404);
    cq_it_resp_free(&gone);

    report = run_rebuild(NULL);
    assert_int_equal(count(report, "restored"), JOBS);
    assert_int_equal(count(report, "undecodable"), 0);
    json_decref(report);
    for (int i = 0; i < JOBS; i++) {
        cq_it_resp_t r = get_job(ids[i], tenant_of(i), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(cq_it_get(r.json, "jobId")), ids[i]);
        assert_string_equal(json_string_value(cq_it_get(r.json, "status")), "succeeded");
        assert_string_equal(json_string_value(cq_it_get(r.json, "operation")), "alignment-check");
        assert_non_null(cq_it_get(r.json, "finishedAt"));
        assert_non_null(cq_it_get(r.json, "engine.name"));
        char *result = json_dumps(cq_it_get(r.json, "result"), JSON_COMPACT | JSON_SORT_KEYS);
        assert_non_null(result);
        assert_string_equal(result, results[i]);
        free(result);
        cq_it_resp_free(&r);
        /* Tenant isolation holds for a rebuilt job. */
        const char *other =
            strcmp(tenant_of(i), "tenant-rb-a") == 0 ? "tenant-rb-b" : "tenant-rb-a";
        r = get_job(ids[i], other, 0);
        assert_int_equal(r.status, 404);
        cq_it_resp_free(&r);
        /* The TTL is what is left of jobs.result_ttl (24 h) from the finish. */
        long long ttl = redis_pttl(ids[i]);
        assert_true(ttl > 24LL * 3600 * 1000 - 300000 && ttl <= 24LL * 3600 * 1000);
        free(results[i]);
    }

    /* Rebuilding again changes nothing: terminal jobs are never overwritten. */
    report = run_rebuild(NULL);
    assert_int_equal(count(report, "restored"), 0);
    assert_int_equal(count(report, "replaced"), 0);
    assert_true(count(report, "kept") >= JOBS);
    json_decref(report);
}

/* The store's side: a restored terminal record replaces a running one,
 * never a terminal one, and refuses what is not a finished job. */
static void test_it_rebuild_restore_never_overwrites_terminal(void **state)
{
    char err[256], prefix[96];
    snprintf(prefix, sizeof(prefix), "redis.prefix=%s:store:", stack.prefix);
    cq_config_t *conf = cq_config_new();
    char port[32];
    snprintf(port, sizeof(port), "%d", stack.redis_port);
    assert_int_equal(cq_config_set(conf, "redis.port", port, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "redis.prefix", strchr(prefix, '=') + 1, err, sizeof(err)),
                     CQ_ERR_OK);
    cq_store_t *store = cq_store_new(conf, err, sizeof(err));
    assert_non_null(store);
    cq_job_record_t job = {.job_id = "0190a6f2-0000-7000-8000-000000000001",
                           .tenant_id = "t1",
                           .operation = "alignment-check"};
    cq_job_record_t got;
    memset(&got, 0, sizeof(got));
    assert_int_equal(cq_store_claim(store, &job, &got), CQ_ERR_OK);
    assert_int_equal(got.status, CQ_JOB_RUNNING);
    cq_job_record_clear(&got);

    cq_job_record_t done = job;
    done.status = CQ_JOB_SUCCEEDED;
    done.created_at = 1000;
    done.finished_at = cq_now_ms();
    done.attempts = 1;
    done.result = "{\"a\":1}";
    cq_store_restore_t how;
    assert_int_equal(cq_store_restore(store, &done, 60000, &how), CQ_ERR_OK);
    assert_int_equal(how, CQ_STORE_RESTORE_REPLACED);
    assert_int_equal(cq_store_get(store, job.job_id, &got), CQ_ERR_OK);
    assert_int_equal(got.status, CQ_JOB_SUCCEEDED);
    assert_string_equal(got.result, "{\"a\":1}");
    assert_string_equal(got.tenant_id, "t1");
    cq_job_record_clear(&got);

    cq_job_record_t other = done;
    other.status = CQ_JOB_FAILED;
    other.result = NULL;
    other.error_code = "INTERNAL_ERROR";
    assert_int_equal(cq_store_restore(store, &other, 60000, &how), CQ_ERR_OK);
    assert_int_equal(how, CQ_STORE_RESTORE_KEPT);
    assert_int_equal(cq_store_get(store, job.job_id, &got), CQ_ERR_OK);
    assert_int_equal(got.status, CQ_JOB_SUCCEEDED);
    assert_null(got.error_code);
    cq_job_record_clear(&got);

    other.job_id = "0190a6f2-0000-7000-8000-000000000002";
    assert_int_equal(cq_store_restore(store, &other, 0, &how), CQ_ERR_BAD_REQUEST);
    other.status = CQ_JOB_RUNNING;
    assert_int_equal(cq_store_restore(store, &other, 60000, &how), CQ_ERR_BAD_REQUEST);
    assert_int_equal(cq_store_get(store, other.job_id, &got), CQ_ERR_NOT_FOUND);
    cq_store_destroy(store);
    cq_config_destroy(conf);
}

/* Jobs whose envelopes were not consumed yet when Redis was lost run again
 * as usual: the worker's claim creates the missing record. */
static void test_it_rebuild_uncommitted_jobs_run_again(void **state)
{
    static char ids[4][64];
    cq_it_stop(&stack.worker, SIGTERM);
    submit(ids, 0, 4);
    redis_flushall();
    for (int i = 0; i < 4; i++) {
        cq_it_resp_t r = get_job(ids[i], tenant_of(i), 0);
        assert_int_equal(r.status, 404);
        cq_it_resp_free(&r);
    }
    assert_true(cq_it_start_worker(&stack, "alignment", NULL));
    int64_t until = cq_mono_ms() + 60000;
    for (int i = 0; i < 4; i++) {
        cq_it_resp_t r = get_job(ids[i], tenant_of(i), 0);
        if (r.status == 404 && cq_mono_ms() < until) {
            cq_it_resp_free(&r);
            usleep(200 * 1000);
            i--;
            continue;
        }
        cq_it_resp_free(&r);
    }
    wait_succeeded(ids, 0, 4, NULL);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "rebuild");
    if (!cq_it_start_gateway(&stack, NULL))
        return -1;
    return cq_it_start_worker(&stack, "alignment", NULL) ? 0 : -1;
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
        cmocka_unit_test(test_it_rebuild_brings_finished_jobs_back),
        cmocka_unit_test(test_it_rebuild_restore_never_overwrites_terminal),
        cmocka_unit_test(test_it_rebuild_uncommitted_jobs_run_again),
    };
    return cmocka_run_group_tests_name("integration.rebuild", tests, setup, teardown);
}
