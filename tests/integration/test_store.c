/*
 * test_store.c — the job store against a real Redis (127.0.0.1, port from
 * COACHQ_IT_REDIS_PORT; exit 77 = skipped when unset).
 *
 * Self-contained for now (cmocka + libcoachq + hiredis for a side connection
 * that inspects TTLs and kills clients). Keys use a prefix unique to the run.
 * Note: the reconnect test kills every normal and pub/sub client of that Redis.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cq_bdcache.h"
#include "cq_store.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RESULT_TTL_MS 3600000LL
#define IDEM_TTL_MS   7200000LL
#define SAFETY_TTL_MS (7LL * 24 * 3600 * 1000)

static int redis_port;
static char prefix[64];
static redisContext *admin; /* the test's own connection */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static cq_store_t *store_new_with(int pool_size, const char *password, const char *db)
{
    cq_config_t *conf = cq_config_new();
    char errstr[256], buf[32];
    assert_int_equal(cq_config_set(conf, "redis.password", password, errstr, sizeof(errstr)),
                     CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "redis.db", db, errstr, sizeof(errstr)), CQ_ERR_OK);
    snprintf(buf, sizeof(buf), "%d", redis_port);
    assert_int_equal(cq_config_set(conf, "redis.port", buf, errstr, sizeof(errstr)), CQ_ERR_OK);
    snprintf(buf, sizeof(buf), "%d", pool_size);
    assert_int_equal(cq_config_set(conf, "redis.pool_size", buf, errstr, sizeof(errstr)),
                     CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "redis.prefix", prefix, errstr, sizeof(errstr)),
                     CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "jobs.result_ttl", "1h", errstr, sizeof(errstr)),
                     CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "jobs.idempotency_ttl", "2h", errstr, sizeof(errstr)),
                     CQ_ERR_OK);
    cq_store_t *store = cq_store_new(conf, errstr, sizeof(errstr));
    cq_config_destroy(conf);
    assert_non_null(store);
    return store;
}

static cq_store_t *store_new(int pool_size)
{
    return store_new_with(pool_size, "", "0");
}

static long long admin_int(const char *fmt, const char *arg)
{
    redisReply *r = redisCommand(admin, fmt, arg);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* PTTL of <prefix><suffix>. */
static long long pttl(const char *suffix)
{
    char key[256];
    snprintf(key, sizeof(key), "%s%s", prefix, suffix);
    return admin_int("PTTL %s", key);
}

static void admin_ok(const char *cmd)
{
    redisReply *r = redisCommand(admin, cmd);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", cmd, r->str);
    freeReplyObject(r);
}

static cq_job_record_t job_of(const char *job_id)
{
    return (cq_job_record_t){.job_id = (char *)job_id,
                             .tenant_id = (char *)"tenant-a",
                             .user_id = (char *)"user-1",
                             .operation = (char *)"align.score",
                             .kind = (char *)"alignment"};
}

static void test_store_create_get(void **state)
{
    cq_store_t *store = store_new(4);
    cq_job_record_t job = job_of("cg-1"), out = {0};
    job.batch_id = (char *)"batch-9";
    job.custom_id = (char *)"custom \"7\"\n";
    job.created_at = 1700000000123LL;
    job.status = CQ_JOB_FAILED; /* ignored: a new job is queued, without outcome */
    job.result = (char *)"{}";
    job.error_code = (char *)"X";
    job.finished_at = 5;

    assert_int_equal(cq_store_ping(store), CQ_ERR_OK);
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(cq_store_get(store, "cg-1", &out), CQ_ERR_OK);
    assert_string_equal(out.job_id, "cg-1");
    assert_string_equal(out.tenant_id, "tenant-a");
    assert_string_equal(out.user_id, "user-1");
    assert_string_equal(out.operation, "align.score");
    assert_string_equal(out.kind, "alignment");
    assert_string_equal(out.batch_id, "batch-9");
    assert_string_equal(out.custom_id, "custom \"7\"\n");
    assert_int_equal(out.status, CQ_JOB_QUEUED);
    assert_int_equal(out.created_at, 1700000000123LL);
    assert_int_equal(out.started_at, 0);
    assert_int_equal(out.finished_at, 0);
    assert_int_equal(out.attempts, 0);
    assert_null(out.engine);
    assert_null(out.result);
    assert_null(out.error_code);
    long long ttl = pttl("job:cg-1");
    assert_true(ttl > SAFETY_TTL_MS - 60000 && ttl <= SAFETY_TTL_MS);

    /* An id is never overwritten. */
    job.tenant_id = (char *)"tenant-b";
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_INTERNAL_ERROR);
    assert_int_equal(cq_store_get(store, "cg-1", &out), CQ_ERR_OK);
    assert_string_equal(out.tenant_id, "tenant-a");

    /* created_at 0 means now. */
    job = job_of("cg-2");
    int64_t before = cq_now_ms();
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(cq_store_get(store, "cg-2", &out), CQ_ERR_OK);
    assert_true(out.created_at >= before && out.created_at <= cq_now_ms());
    assert_null(out.batch_id);

    assert_int_equal(cq_store_get(store, "cg-absent", &out), CQ_ERR_NOT_FOUND);
    assert_null(out.job_id);
    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

static void test_store_claim(void **state)
{
    cq_store_t *store = store_new(4);
    cq_job_record_t job = job_of("cl-absent"), out = {0};

    /* Absent: created as running from the job. */
    job.created_at = 1700000000000LL;
    int64_t before = cq_now_ms();
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_OK);
    assert_string_equal(out.job_id, "cl-absent");
    assert_string_equal(out.tenant_id, "tenant-a");
    assert_string_equal(out.operation, "align.score");
    assert_int_equal(out.status, CQ_JOB_RUNNING);
    assert_int_equal(out.attempts, 1);
    assert_int_equal(out.created_at, 1700000000000LL);
    assert_true(out.started_at >= before);
    assert_true(pttl("job:cl-absent") > SAFETY_TTL_MS - 60000);

    /* Queued: running, attempts + 1; a redelivery claims again. */
    job = job_of("cl-queued");
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    job.tenant_id = (char *)"ignored-when-present";
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_RUNNING);
    assert_int_equal(out.attempts, 1);
    assert_string_equal(out.tenant_id, "tenant-a");
    int64_t first_start = out.started_at;
    sleep_ms(5);
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_OK);
    assert_int_equal(out.attempts, 2);
    assert_true(out.started_at > first_start);

    /* Terminal: refused, record untouched and returned. */
    assert_int_equal(cq_store_finish(store, "cl-queued", CQ_JOB_SUCCEEDED, "{\"e\":1}", "{\"r\":2}",
                                     NULL, NULL, NULL),
                     CQ_ERR_OK);
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_JOB_ALREADY_TERMINAL);
    assert_int_equal(out.status, CQ_JOB_SUCCEEDED);
    assert_int_equal(out.attempts, 2);
    assert_string_equal(out.result, "{\"r\":2}");
    long long ttl = pttl("job:cl-queued");
    assert_true(ttl > RESULT_TTL_MS - 60000 && ttl <= RESULT_TTL_MS);

    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

static void test_store_finish_only_once(void **state)
{
    cq_store_t *store = store_new(4);
    cq_job_record_t job = job_of("fin-1"), out = {0};
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_OK);
    int64_t before = cq_now_ms();
    assert_int_equal(cq_store_finish(store, "fin-1", CQ_JOB_SUCCEEDED, "{\"name\":\"builtin\"}",
                                     "{\"score\":0.5}", NULL, NULL, &out),
                     CQ_ERR_OK);
    /* finish hands back the record it left, in the same round trip */
    assert_int_equal(out.status, CQ_JOB_SUCCEEDED);
    assert_string_equal(out.result, "{\"score\":0.5}");
    assert_true(out.finished_at >= before);
    assert_int_equal(
        cq_store_finish(store, "fin-1", CQ_JOB_FAILED, NULL, NULL, "INTERNAL_ERROR", "late", &out),
        CQ_ERR_JOB_ALREADY_TERMINAL);
    assert_int_equal(out.status, CQ_JOB_SUCCEEDED); /* the record that stands */
    assert_int_equal(cq_store_get(store, "fin-1", &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_SUCCEEDED);
    assert_string_equal(out.engine, "{\"name\":\"builtin\"}");
    assert_string_equal(out.result, "{\"score\":0.5}");
    assert_null(out.error_code);
    assert_null(out.error_message);
    assert_true(out.finished_at >= before);
    long long ttl = pttl("job:fin-1");
    assert_true(ttl > RESULT_TTL_MS - 60000 && ttl <= RESULT_TTL_MS);

    /* A failure straight from queued, with an error. */
    job = job_of("fin-2");
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(cq_store_finish(store, "fin-2", CQ_JOB_FAILED, NULL, NULL,
                                     "INVALID_AI_RESPONSE", "bad json", NULL),
                     CQ_ERR_OK);
    assert_int_equal(cq_store_get(store, "fin-2", &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_FAILED);
    assert_string_equal(out.error_code, "INVALID_AI_RESPONSE");
    assert_string_equal(out.error_message, "bad json");
    assert_null(out.result);

    assert_int_equal(
        cq_store_finish(store, "fin-absent", CQ_JOB_SUCCEEDED, NULL, "{}", NULL, NULL, NULL),
        CQ_ERR_NOT_FOUND);
    assert_int_equal(pttl("job:fin-absent"), -2); /* finish never creates a record */
    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

/* Claims and finishes of several jobs in one round trip: each answered as
 * its call alone would be, in its own slot; a call refused while prepared is
 * not sent; a flushed script cache is no failure; Redis down fails them all. */
static void test_store_run_pipelines_calls(void **state)
{
    cq_store_t *store = store_new(1);
    cq_job_record_t a = job_of("pl-a"), b = job_of("pl-b"), bad = job_of("pl-bad"), out = {0};
    bad.tenant_id = NULL; /* no tenant: refused before anything is sent */
    assert_int_equal(cq_store_create(store, &b), CQ_ERR_OK);
    assert_int_equal(
        cq_store_finish(store, "pl-b", CQ_JOB_SUCCEEDED, NULL, "{\"r\":1}", NULL, NULL, NULL),
        CQ_ERR_OK);
    admin_ok("SCRIPT FLUSH");
    cq_store_call_t *calls[] = {
        cq_store_claim_call(store, &a),
        cq_store_claim_call(store, &b),
        cq_store_claim_call(store, &bad),
        cq_store_finish_call(store, "pl-absent", CQ_JOB_FAILED, NULL, NULL, "X", "x"),
    };
    cq_store_run(store, calls, 4);
    assert_int_equal(cq_store_call_end(calls[0], &out), CQ_ERR_OK);
    assert_string_equal(out.job_id, "pl-a");
    assert_int_equal(out.status, CQ_JOB_RUNNING);
    assert_int_equal(cq_store_call_end(calls[1], &out), CQ_ERR_JOB_ALREADY_TERMINAL);
    assert_string_equal(out.job_id, "pl-b");
    assert_string_equal(out.result, "{\"r\":1}");
    assert_int_equal(cq_store_call_end(calls[2], &out), CQ_ERR_BAD_REQUEST);
    assert_int_equal(cq_store_call_end(calls[3], NULL), CQ_ERR_NOT_FOUND);
    assert_int_equal(pttl("job:pl-bad"), -2);

    /* Finishes in one round trip, and the claim they follow. */
    cq_store_call_t *fin[] = {
        cq_store_finish_call(store, "pl-a", CQ_JOB_SUCCEEDED, "{\"e\":2}", "{\"r\":2}", NULL, NULL),
        cq_store_finish_call(store, "pl-b", CQ_JOB_FAILED, NULL, NULL, "X", "late"),
    };
    cq_store_run(store, fin, 2);
    assert_int_equal(cq_store_call_end(fin[0], &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_SUCCEEDED);
    assert_string_equal(out.result, "{\"r\":2}");
    assert_int_equal(cq_store_call_end(fin[1], &out), CQ_ERR_JOB_ALREADY_TERMINAL);
    assert_int_equal(out.status, CQ_JOB_SUCCEEDED);
    long long ttl = pttl("job:pl-a");
    assert_true(ttl > RESULT_TTL_MS - 60000 && ttl <= RESULT_TTL_MS);

    /* A call never run, and a store whose Redis does not answer. */
    cq_job_record_t c = job_of("pl-c");
    assert_int_equal(cq_store_call_end(cq_store_claim_call(store, &c), &out),
                     CQ_ERR_REDIS_UNAVAILABLE);
    cq_store_destroy(store);
    int port = redis_port;
    redis_port = 1; /* nothing listens there */
    store = store_new(1);
    redis_port = port;
    cq_store_call_t *down[] = {
        cq_store_claim_call(store, &c),
        cq_store_finish_call(store, "pl-c", CQ_JOB_FAILED, NULL, NULL, "X", "x")};
    cq_store_run(store, down, 2);
    assert_int_equal(cq_store_call_end(down[0], &out), CQ_ERR_REDIS_UNAVAILABLE);
    assert_int_equal(cq_store_call_end(down[1], &out), CQ_ERR_REDIS_UNAVAILABLE);
    assert_int_equal(pttl("job:pl-c"), -2);
    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

static void test_store_mark_published_marks_terminal_jobs_only(void **state)
{
    cq_store_t *store = store_new(2);
    cq_job_record_t job = job_of("mark-done"), out = {0};
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(
        cq_store_finish(store, "mark-done", CQ_JOB_SUCCEEDED, NULL, "{}", NULL, NULL, &out),
        CQ_ERR_OK);
    assert_false(out.published); /* a finish never marks */
    job = job_of("mark-running");
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_OK);
    long long ttl_before = pttl("job:mark-done");

    /* The script is not in the server's cache yet: the pipeline falls back to EVAL. */
    admin_ok("SCRIPT FLUSH");
    const char *ids[] = {"mark-done", "mark-running", "mark-absent"};
    size_t marked = 99;
    assert_int_equal(cq_store_mark_published(store, ids, 3, &marked), CQ_ERR_OK);
    assert_int_equal(marked, 1);
    assert_int_equal(cq_store_get(store, "mark-done", &out), CQ_ERR_OK);
    assert_true(out.published);
    long long ttl_after = pttl("job:mark-done");
    assert_true(ttl_after <= ttl_before && ttl_after > ttl_before - 60000); /* TTL kept */
    /* A claim of the terminal job hands the mark back. */
    job = job_of("mark-done");
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_JOB_ALREADY_TERMINAL);
    assert_true(out.published);
    assert_int_equal(cq_store_get(store, "mark-running", &out), CQ_ERR_OK);
    assert_false(out.published);
    assert_int_equal(pttl("job:mark-absent"), -2); /* never creates a record */

    /* Many in one pipeline, by EVALSHA now; none is an empty batch. */
    char many[600][32];
    const char *many_ids[600];
    for (int i = 0; i < 600; i++) {
        snprintf(many[i], sizeof(many[i]), "mark-many-%d", i);
        many_ids[i] = many[i];
        job = job_of(many[i]);
        assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
        if (i % 2 == 0)
            assert_int_equal(
                cq_store_finish(store, many[i], CQ_JOB_FAILED, NULL, NULL, "X", "y", NULL),
                CQ_ERR_OK);
    }
    assert_int_equal(cq_store_mark_published(store, many_ids, 600, &marked), CQ_ERR_OK);
    assert_int_equal(marked, 300);
    assert_int_equal(cq_store_mark_published(store, many_ids, 0, &marked), CQ_ERR_OK);
    assert_int_equal(marked, 0);
    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

static void test_store_cancel(void **state)
{
    cq_store_t *store = store_new(4);
    cq_job_record_t job = job_of("can-1"), out = {0};
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);

    assert_int_equal(cq_store_cancel(store, "can-1", "tenant-b", &out), CQ_ERR_NOT_FOUND);
    assert_null(out.job_id); /* nothing of another tenant's job leaks */
    assert_int_equal(cq_store_get(store, "can-1", &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_QUEUED);

    assert_int_equal(cq_store_cancel(store, "can-1", "tenant-a", &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_CANCELLED);
    assert_string_equal(out.error_code, "JOB_CANCELLED");
    assert_true(out.finished_at > 0);
    long long ttl = pttl("job:can-1");
    assert_true(ttl > RESULT_TTL_MS - 60000 && ttl <= RESULT_TTL_MS);

    cq_err_t err = cq_store_cancel(store, "can-1", "tenant-a", &out);
    assert_int_equal(err, CQ_ERR_JOB_ALREADY_TERMINAL);
    assert_int_equal(cq_err_http_status(err), 409);
    assert_int_equal(out.status, CQ_JOB_CANCELLED);
    /* The worker's late result is refused. */
    assert_int_equal(
        cq_store_finish(store, "can-1", CQ_JOB_SUCCEEDED, NULL, "{}", NULL, NULL, NULL),
        CQ_ERR_JOB_ALREADY_TERMINAL);

    /* Running jobs can be cancelled too; out may be NULL. */
    job = job_of("can-2");
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_OK);
    assert_int_equal(cq_store_cancel(store, "can-2", "tenant-a", NULL), CQ_ERR_OK);
    assert_int_equal(cq_store_get(store, "can-2", &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_CANCELLED);

    assert_int_equal(cq_store_cancel(store, "can-absent", "tenant-a", &out), CQ_ERR_NOT_FOUND);
    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

static void test_store_requeue(void **state)
{
    cq_store_t *store = store_new(4);
    cq_job_record_t job = job_of("rq-1"), out = {0};
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_OK);
    assert_int_equal(cq_store_requeue(store, "rq-1", "AI_SERVICE_UNAVAILABLE", "503 from LLM"),
                     CQ_ERR_OK);
    assert_int_equal(cq_store_get(store, "rq-1", &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_QUEUED);
    assert_int_equal(out.attempts, 1);
    assert_string_equal(out.error_code, "AI_SERVICE_UNAVAILABLE");
    assert_string_equal(out.error_message, "503 from LLM");

    /* Repeated requeue: already queued, unchanged. */
    assert_int_equal(cq_store_requeue(store, "rq-1", "OTHER", NULL), CQ_ERR_OK);
    assert_int_equal(cq_store_get(store, "rq-1", &out), CQ_ERR_OK);
    assert_string_equal(out.error_code, "AI_SERVICE_UNAVAILABLE");

    /* The retry claims, succeeds, and the old error disappears. */
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_RUNNING);
    assert_int_equal(out.attempts, 2);
    assert_int_equal(cq_store_finish(store, "rq-1", CQ_JOB_SUCCEEDED, NULL, "{}", NULL, NULL, NULL),
                     CQ_ERR_OK);
    assert_int_equal(cq_store_get(store, "rq-1", &out), CQ_ERR_OK);
    assert_null(out.error_code);
    assert_null(out.error_message);

    assert_int_equal(cq_store_requeue(store, "rq-1", "X", "y"), CQ_ERR_JOB_ALREADY_TERMINAL);
    assert_int_equal(cq_store_requeue(store, "rq-absent", "X", "y"), CQ_ERR_NOT_FOUND);
    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

static void test_store_idempotency(void **state)
{
    cq_store_t *store = store_new(4);
    char *existing = (char *)"garbage";
    assert_int_equal(cq_store_idempotency(store, "tenant-a", "key-1", "hash-1", "job-A", &existing),
                     CQ_ERR_OK);
    assert_null(existing);
    long long ttl = pttl("idem:8:tenant-a:key-1");
    assert_true(ttl > IDEM_TTL_MS - 60000 && ttl <= IDEM_TTL_MS);

    /* Same body: the first job. */
    assert_int_equal(cq_store_idempotency(store, "tenant-a", "key-1", "hash-1", "job-B", &existing),
                     CQ_ERR_OK);
    assert_non_null(existing);
    assert_string_equal(existing, "job-A");
    free(existing);

    /* Different body: refused. */
    assert_int_equal(cq_store_idempotency(store, "tenant-a", "key-1", "hash-2", "job-C", &existing),
                     CQ_ERR_IDEMPOTENCY_KEY_REUSED);
    assert_null(existing);

    /* Keys are per tenant, and tenant/key pairs cannot collide through ':'. */
    assert_int_equal(cq_store_idempotency(store, "tenant-b", "key-1", "hash-2", "job-D", &existing),
                     CQ_ERR_OK);
    assert_null(existing);
    assert_int_equal(cq_store_idempotency(store, "a:b", "c", "h", "job-E", &existing), CQ_ERR_OK);
    assert_null(existing);
    assert_int_equal(cq_store_idempotency(store, "a", "b:c", "h2", "job-F", &existing), CQ_ERR_OK);
    assert_null(existing);

    /* Release only removes the key of the named job. */
    assert_int_equal(cq_store_idempotency_release(store, "tenant-a", "key-1", "job-B"), CQ_ERR_OK);
    assert_int_equal(cq_store_idempotency(store, "tenant-a", "key-1", "hash-1", "job-G", &existing),
                     CQ_ERR_OK);
    assert_string_equal(existing, "job-A");
    free(existing);
    assert_int_equal(cq_store_idempotency_release(store, "tenant-a", "key-1", "job-A"), CQ_ERR_OK);
    assert_int_equal(cq_store_idempotency(store, "tenant-a", "key-1", "hash-3", "job-H", &existing),
                     CQ_ERR_OK);
    assert_null(existing);
    cq_store_destroy(store);
}

typedef struct {
    cq_store_t *store;
    const char *job_id;
    int delay_ms;
    bool cancel;
} finisher_t;

static void *finisher(void *arg)
{
    finisher_t *f = arg;
    sleep_ms(f->delay_ms);
    if (f->cancel)
        assert_int_equal(cq_store_cancel(f->store, f->job_id, "tenant-a", NULL), CQ_ERR_OK);
    else
        assert_int_equal(
            cq_store_finish(f->store, f->job_id, CQ_JOB_SUCCEEDED, NULL, "{}", NULL, NULL, NULL),
            CQ_ERR_OK);
    return NULL;
}

/* Waits (timeout 10 s) while another thread finishes the job after 300 ms; the
 * wait must end well before the 1 s re-read, i.e. through the notification. */
static void expect_prompt_wakeup(cq_store_t *store, const char *job_id)
{
    cq_job_record_t job = job_of(job_id), out = {0};
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    finisher_t f = {store, job_id, 300, false};
    pthread_t t;
    int64_t t0 = cq_mono_ms();
    assert_int_equal(pthread_create(&t, NULL, finisher, &f), 0);
    assert_int_equal(cq_store_wait(store, job_id, 10000, &out), CQ_ERR_OK);
    int64_t elapsed = cq_mono_ms() - t0;
    pthread_join(t, NULL);
    assert_int_equal(out.status, CQ_JOB_SUCCEEDED);
    if (elapsed < 290 || elapsed > 800)
        fail_msg("woken after %lld ms, expected about 300", (long long)elapsed);
    cq_job_record_clear(&out);
}

static void test_store_wait_wakes_on_finish(void **state)
{
    cq_store_t *store = store_new(4);
    expect_prompt_wakeup(store, "w-1");
    expect_prompt_wakeup(store, "w-2");
    cq_store_destroy(store);
}

static void test_store_wait_times_out(void **state)
{
    cq_store_t *store = store_new(4);
    cq_job_record_t job = job_of("wt-1"), out = {0};
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    int64_t t0 = cq_mono_ms();
    assert_int_equal(cq_store_wait(store, "wt-1", 1500, &out), CQ_ERR_OK);
    int64_t elapsed = cq_mono_ms() - t0;
    assert_int_equal(out.status, CQ_JOB_QUEUED);
    assert_string_equal(out.job_id, "wt-1");
    if (elapsed < 1500 || elapsed > 2200)
        fail_msg("timed out after %lld ms, expected 1500", (long long)elapsed);

    /* Terminal or absent: at once. */
    assert_int_equal(cq_store_finish(store, "wt-1", CQ_JOB_FAILED, NULL, NULL, "X", "y", NULL),
                     CQ_ERR_OK);
    t0 = cq_mono_ms();
    assert_int_equal(cq_store_wait(store, "wt-1", 5000, &out), CQ_ERR_OK);
    assert_int_equal(out.status, CQ_JOB_FAILED);
    assert_int_equal(cq_store_wait(store, "wt-absent", 5000, &out), CQ_ERR_NOT_FOUND);
    assert_true(cq_mono_ms() - t0 < 200);
    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

#define WAITERS   200
#define WAIT_JOBS 50

static pthread_barrier_t waiters_ready;

typedef struct {
    cq_store_t *store;
    char job_id[32];
    cq_err_t err;
    cq_job_status_t status;
    int64_t returned_at;
} waiter_t;

static void *waiter(void *arg)
{
    waiter_t *w = arg;
    cq_job_record_t out = {0};
    pthread_barrier_wait(&waiters_ready);
    w->err = cq_store_wait(w->store, w->job_id, 20000, &out);
    w->status = out.status;
    w->returned_at = cq_mono_ms();
    cq_job_record_clear(&out);
    return NULL;
}

static void test_store_wait_many(void **state)
{
    cq_store_t *store = store_new(16);
    static waiter_t waiters[WAITERS];
    static pthread_t threads[WAITERS];
    int64_t finished_at[WAIT_JOBS];
    for (int j = 0; j < WAIT_JOBS; j++) {
        char id[32];
        snprintf(id, sizeof(id), "many-%d", j);
        cq_job_record_t job = job_of(id);
        assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    assert_int_equal(pthread_barrier_init(&waiters_ready, NULL, WAITERS + 1), 0);
    for (int i = 0; i < WAITERS; i++) {
        waiters[i].store = store;
        snprintf(waiters[i].job_id, sizeof(waiters[i].job_id), "many-%d", i % WAIT_JOBS);
        assert_int_equal(pthread_create(&threads[i], &attr, waiter, &waiters[i]), 0);
    }
    pthread_attr_destroy(&attr);
    pthread_barrier_wait(&waiters_ready); /* all 200 start waiting now */
    /* Finish 1.3 s later: after each waiter's first 1 s re-read (once its first read
     * is done), so the next re-read is about 700 ms away and only the notification can
     * wake them sooner. */
    sleep_ms(1300);
    for (int j = 0; j < WAIT_JOBS; j++) {
        char id[32];
        snprintf(id, sizeof(id), "many-%d", j);
        if (j % 2)
            assert_int_equal(cq_store_cancel(store, id, "tenant-a", NULL), CQ_ERR_OK);
        else
            assert_int_equal(
                cq_store_finish(store, id, CQ_JOB_SUCCEEDED, NULL, "{}", NULL, NULL, NULL),
                CQ_ERR_OK);
        finished_at[j] = cq_mono_ms();
    }
    int64_t worst = 0;
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(waiters[i].err, CQ_ERR_OK);
        assert_int_equal(waiters[i].status,
                         (i % WAIT_JOBS) % 2 ? CQ_JOB_CANCELLED : CQ_JOB_SUCCEEDED);
        int64_t latency = waiters[i].returned_at - finished_at[i % WAIT_JOBS];
        if (latency > worst)
            worst = latency;
    }
    pthread_barrier_destroy(&waiters_ready);
    /* Under 600 ms proves the notification woke them (the re-read was ~700 ms
     * away) while leaving room for a loaded CI machine. */
    if (worst > 600)
        fail_msg("slowest waiter woke %lld ms after its job finished", (long long)worst);
    cq_store_destroy(store);
}

typedef struct {
    cq_store_t *store;
    int failures;
} hammer_t;

static void *hammer(void *arg)
{
    hammer_t *h = arg;
    cq_job_record_t out = {0};
    for (int i = 0; i < 30; i++)
        if (cq_store_get(h->store, "kill-1", &out) != CQ_ERR_OK)
            h->failures++;
    cq_job_record_clear(&out);
    return NULL;
}

/* Runs 8 threads of gets at once: fills the pool; returns the failures. */
static int hammer_store(cq_store_t *store)
{
    hammer_t h[8];
    pthread_t t[8];
    int failures = 0;
    for (int i = 0; i < 8; i++) {
        h[i] = (hammer_t){store, 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        failures += h[i].failures;
    }
    return failures;
}

static long long pubsub_clients(void)
{
    redisReply *r = redisCommand(admin, "CLIENT LIST TYPE pubsub");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    long long n = 0;
    for (const char *p = r->str; (p = strstr(p, "id=")); p++)
        n++;
    freeReplyObject(r);
    return n;
}

static void test_store_reconnects_after_client_kill(void **state)
{
    cq_store_t *store = store_new(4);
    cq_job_record_t job = job_of("kill-1"), out = {0};
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(hammer_store(store), 0);
    assert_int_equal(cq_store_wait(store, "kill-1", 50, &out), CQ_ERR_OK); /* subscriber up */
    /* Stores leaked by an earlier failed test may subscribe too: count, not 1. */
    for (int i = 0; i < 100 && pubsub_clients() == 0; i++)
        sleep_ms(20);
    long long subscribers = pubsub_clients();
    assert_true(subscribers >= 1);

    long long killed = admin_int("CLIENT KILL TYPE %s SKIPME yes", "normal");
    assert_true(killed >= 2); /* the pool had several connections */
    assert_int_equal(admin_int("CLIENT KILL TYPE %s", "pubsub"), subscribers);
    sleep_ms(100);

    /* Dead idle connections are replaced before use: no call fails. */
    assert_int_equal(cq_store_ping(store), CQ_ERR_OK);
    assert_int_equal(hammer_store(store), 0);
    assert_int_equal(cq_store_get(store, "kill-1", &out), CQ_ERR_OK);

    /* The subscriber came back and notifications flow again. */
    for (int i = 0; i < 100 && pubsub_clients() < subscribers; i++)
        sleep_ms(20);
    assert_int_equal(pubsub_clients(), subscribers);
    expect_prompt_wakeup(store, "kill-2");

    /* The script cache was flushed: EVALSHA falls back to EVAL. */
    admin_ok("SCRIPT FLUSH");
    job = job_of("kill-3");
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(cq_store_claim(store, &job, &out), CQ_ERR_OK);
    assert_int_equal(out.attempts, 1);
    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

static void test_store_auth_and_db(void **state)
{
    admin_ok("CONFIG SET requirepass it-s3cret");
    cq_store_t *store = store_new_with(2, "it-s3cret", "3");
    cq_job_record_t job = job_of("auth-1"), out = {0};
    assert_int_equal(cq_store_create(store, &job), CQ_ERR_OK);
    assert_int_equal(cq_store_get(store, "auth-1", &out), CQ_ERR_OK);
    assert_int_equal(pttl("job:auth-1"), -2); /* not in db 0 */
    admin_ok("SELECT 3");
    long long ttl = pttl("job:auth-1");
    admin_ok("SELECT 0");
    assert_true(ttl > 0);
    cq_store_destroy(store);

    store = store_new_with(2, "wrong", "0");
    assert_int_equal(cq_store_ping(store), CQ_ERR_REDIS_UNAVAILABLE);
    assert_int_equal(cq_store_get(store, "auth-1", &out), CQ_ERR_REDIS_UNAVAILABLE);
    cq_job_record_clear(&out);
    cq_store_destroy(store);
}

static int teardown_auth(void **state)
{
    redisReply *r = redisCommand(admin, "CONFIG SET requirepass %s", "");
    freeReplyObject(r);
    r = redisCommand(admin, "SELECT 0");
    freeReplyObject(r);
    return 0;
}

static void test_store_cache(void **state)
{
    cq_store_t *store = store_new(4);
    char *value = NULL;
    assert_int_equal(cq_store_cache_get(store, "business_data:t1", &value), CQ_ERR_NOT_FOUND);
    assert_null(value);
    assert_int_equal(cq_store_cache_set(store, "business_data:t1", "{\"a\":1}", 300000), CQ_ERR_OK);
    assert_int_equal(cq_store_cache_get(store, "business_data:t1", &value), CQ_ERR_OK);
    assert_string_equal(value, "{\"a\":1}");
    free(value);
    long long ttl = pttl("cache:business_data:t1");
    assert_true(ttl > 290000 && ttl <= 300000);

    assert_int_equal(cq_store_cache_set(store, "short", "x", 100), CQ_ERR_OK);
    sleep_ms(250);
    assert_int_equal(cq_store_cache_get(store, "short", &value), CQ_ERR_NOT_FOUND);
    cq_store_destroy(store);
}

static void test_store_cache_add_is_single_flight(void **state)
{
    cq_store_t *store = store_new(4);
    char *held = NULL;
    assert_int_equal(cq_store_cache_add(store, "flight:t1", "job-a", 300000, &held), CQ_ERR_OK);
    assert_null(held);
    assert_int_equal(cq_store_cache_add(store, "flight:t1", "job-b", 300000, &held), CQ_ERR_OK);
    assert_non_null(held);
    assert_string_equal(held, "job-a");
    free(held);
    /* a delete naming another holder leaves the key; the holder's removes it */
    assert_int_equal(cq_store_cache_del(store, "flight:t1", "job-b"), CQ_ERR_OK);
    char *value = NULL;
    assert_int_equal(cq_store_cache_get(store, "flight:t1", &value), CQ_ERR_OK);
    assert_string_equal(value, "job-a");
    free(value);
    assert_int_equal(cq_store_cache_del(store, "flight:t1", "job-a"), CQ_ERR_OK);
    assert_int_equal(cq_store_cache_get(store, "flight:t1", &value), CQ_ERR_NOT_FOUND);
    assert_int_equal(cq_store_cache_add(store, "flight:t1", "job-c", 300000, &held), CQ_ERR_OK);
    assert_null(held);
    assert_int_equal(cq_store_cache_del(store, "flight:t1", NULL), CQ_ERR_OK);
    assert_int_equal(cq_store_cache_get(store, "flight:t1", &value), CQ_ERR_NOT_FOUND);
    cq_store_destroy(store);
}

static void test_store_cache_swap_loses_no_update(void **state)
{
    cq_store_t *store = store_new(4);
    bool swapped = true;
    /* absent: only a swap expecting absence stores */
    assert_int_equal(cq_store_cache_swap(store, "swap:t1", "v0", "v1", 300000, &swapped),
                     CQ_ERR_OK);
    assert_false(swapped);
    assert_int_equal(cq_store_cache_swap(store, "swap:t1", NULL, "v1", 300000, &swapped),
                     CQ_ERR_OK);
    assert_true(swapped);
    /* a writer that read v1 wins once; one that read it too must read again */
    assert_int_equal(cq_store_cache_swap(store, "swap:t1", "v1", "v2", 300000, &swapped),
                     CQ_ERR_OK);
    assert_true(swapped);
    assert_int_equal(cq_store_cache_swap(store, "swap:t1", "v1", "v2-lost", 300000, &swapped),
                     CQ_ERR_OK);
    assert_false(swapped);
    char *value = NULL;
    assert_int_equal(cq_store_cache_get(store, "swap:t1", &value), CQ_ERR_OK);
    assert_string_equal(value, "v2");
    free(value);
    cq_store_cache_del(store, "swap:t1", NULL);
    cq_store_destroy(store);
}

static void test_bdcache_never_serves_a_copy_to_another_tenant(void **state)
{
    cq_store_t *store = store_new(4);
    json_t *data = json_pack("{s:{s:s, s:s}}", "sources", "account", "ok", "traction", "ok");
    assert_int_equal(cq_bdcache_put(store, "tenant-a", data, 1000, 300000), CQ_ERR_OK);
    json_t *got = NULL;
    int64_t at = 0;
    assert_int_equal(cq_bdcache_get(store, "tenant-a", &got, &at), CQ_ERR_OK);
    assert_true(json_equal(got, data));
    assert_int_equal(at, 1000);
    json_decref(got);
    assert_int_equal(cq_bdcache_get(store, "tenant-b", &got, &at), CQ_ERR_NOT_FOUND);
    /* a's copy under b's key (a bug, a bad restore): still not b's */
    char *raw = NULL;
    assert_int_equal(cq_store_cache_get(store, "business_data:tenant-a", &raw), CQ_ERR_OK);
    assert_int_equal(cq_store_cache_set(store, "business_data:tenant-b", raw, 300000), CQ_ERR_OK);
    free(raw);
    assert_int_equal(cq_bdcache_get(store, "tenant-b", &got, &at), CQ_ERR_NOT_FOUND);
    assert_null(got);
    json_decref(data);
    cq_store_destroy(store);
}

int main(void)
{
    const char *port = getenv("COACHQ_IT_REDIS_PORT");
    if (!port || !*port) {
        printf("SKIP: COACHQ_IT_REDIS_PORT not set\n");
        return 77;
    }
    redis_port = atoi(port);
    snprintf(prefix, sizeof(prefix), "cqit:%ld:%lld:", (long)getpid(), (long long)cq_now_ms());
    struct timeval tv = {5, 0};
    admin = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
    if (!admin || admin->err) {
        fprintf(stderr, "cannot connect to Redis on port %d\n", redis_port);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_create_get),
        cmocka_unit_test(test_store_claim),
        cmocka_unit_test(test_store_finish_only_once),
        cmocka_unit_test(test_store_run_pipelines_calls),
        cmocka_unit_test(test_store_mark_published_marks_terminal_jobs_only),
        cmocka_unit_test(test_store_cancel),
        cmocka_unit_test(test_store_requeue),
        cmocka_unit_test(test_store_idempotency),
        cmocka_unit_test(test_store_wait_wakes_on_finish),
        cmocka_unit_test(test_store_wait_times_out),
        cmocka_unit_test(test_store_wait_many),
        cmocka_unit_test(test_store_reconnects_after_client_kill),
        cmocka_unit_test(test_store_cache),
        cmocka_unit_test(test_store_cache_add_is_single_flight),
        cmocka_unit_test(test_store_cache_swap_loses_no_update),
        cmocka_unit_test(test_bdcache_never_serves_a_copy_to_another_tenant),
        cmocka_unit_test_teardown(test_store_auth_and_db, teardown_auth),
    };
    int rc = cmocka_run_group_tests_name("store", tests, NULL, NULL);
    redisFree(admin);
    return rc;
}
