/*
 * cq_worker.c — the worker loop (see cq_worker.h).
 *
 * One thread does everything: it polls the consumer, runs jobs, serves the
 * producer's delivery reports and commits. A job stays "in flight" from the
 * moment its message arrives until every record it produces (result, and a
 * dead letter when it failed) is acknowledged by the broker; only then may
 * its offset be committed (cq_offsets). A crash at any point therefore
 * redelivers the job; the Redis claim makes the rerun harmless (a terminal
 * job is not run again, its stored result is published again).
 *
 * Back-pressure: at worker.max_in_flight the loop pauses its partitions and
 * keeps polling, so the group never sees it as dead.
 * Retries: retriable failures wait out a jittered exponential backoff in a
 * timer list without blocking the partition's other jobs.
 */
#include "cq_worker.h"
#include "cq_avro.h"
#include "cq_config.h"
#include "cq_contract.h"
#include "cq_kafka.h"
#include "cq_log.h"
#include "cq_offsets.h"
#include "cq_store.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct cq_job_s cq_job_t;

typedef struct {
    const cq_worker_kind_t *kind;
    cq_config_t *conf;
    cq_contract_t *contract;
    cq_avro_t *avro;
    cq_store_t *store;
    cq_kafka_producer_t *producer;
    cq_kafka_consumer_t *consumer;
    cq_offsets_t *offsets;
    cq_job_t *retries; /* jobs waiting for their backoff, unordered */
    bool paused;
    char *topic;
    unsigned int seed;
} cq_worker_t;

struct cq_job_s {
    cq_worker_t *w;
    char *topic;
    int32_t partition;
    int64_t offset;
    void *raw; /* the message as received, for the dead-letter topic */
    size_t raw_len;
    bool decoded;
    cq_job_envelope_t env;
    int pending;      /* produced records not yet acknowledged */
    bool produce_failed;
    int64_t retry_at; /* monotonic ms */
    cq_job_t *next;
};

static volatile sig_atomic_t cq_worker_stop;

static void cq_worker_on_signal(int sig)
{
    cq_worker_stop = sig;
}

static void cq_job_free(cq_job_t *job)
{
    cq_job_envelope_clear(&job->env);
    free(job->topic);
    free(job->raw);
    free(job);
}

static void cq_worker_commit(cq_worker_t *w, const char *topic, int32_t partition,
                             int64_t next, bool async)
{
    if (cq_kafka_consumer_commit(w->consumer, topic, partition, next, async) == CQ_ERR_OK)
        CQ_LOG(CQ_LOG_DEBUG, "worker", NULL, "committed %s[%d]@%lld", topic, partition,
               (long long)next);
}

/* The job's records are all acknowledged: its offset may be committed. */
static void cq_job_finished(cq_job_t *job)
{
    cq_worker_t *w = job->w;
    int64_t next;
    if (cq_offsets_done(w->offsets, job->topic, job->partition, job->offset, &next))
        cq_worker_commit(w, job->topic, job->partition, next, true);
    cq_job_free(job);
}

static void cq_job_schedule_retry(cq_job_t *job, int64_t delay_ms)
{
    job->retry_at = cq_mono_ms() + delay_ms;
    job->next = job->w->retries;
    job->w->retries = job;
}

/* After a step of a job: nothing more in flight and no retry planned means
 * it is finished, unless a record could not even be queued. */
static void cq_job_settle(cq_job_t *job)
{
    if (job->retry_at != 0 || job->pending != 0)
        return;
    if (job->produce_failed) {
        job->produce_failed = false;
        cq_job_schedule_retry(job, job->w->conf->worker_retry_backoff);
        return;
    }
    cq_job_finished(job);
}

static void cq_job_delivered(void *opaque, cq_err_t err, const char *errstr)
{
    cq_job_t *job = opaque;
    if (err != CQ_ERR_OK) {
        CQ_LOG(CQ_LOG_WARN, "worker", job->decoded ? job->env.job_id : NULL,
               "record not delivered: %s", errstr ? errstr : cq_err_name(err));
        job->produce_failed = true;
    }
    /* A failed record is not committed, so never lost: the job runs again
     * (the claim turns a finished job into a republish of its record). */
    job->pending--;
    cq_job_settle(job);
}

static void cq_job_produce(cq_job_t *job, const char *topic, const void *buf, size_t len,
                           const cq_kafka_header_t *headers, size_t header_count)
{
    const char *key = job->decoded ? job->env.tenant_id : NULL;
    job->pending++;
    if (cq_kafka_produce(job->w->producer, topic, key, key ? strlen(key) : 0, buf, len, headers,
                         header_count, cq_job_delivered, job) != CQ_ERR_OK) {
        job->pending--;
        job->produce_failed = true;
    }
}

/* Sends the raw message to the dead-letter topic with why it is there. */
static void cq_job_dead_letter(cq_job_t *job, cq_err_t err, const char *message)
{
    char partition[16], offset[24];
    snprintf(partition, sizeof(partition), "%d", job->partition);
    snprintf(offset, sizeof(offset), "%lld", (long long)job->offset);
    const char *code = cq_err_name(err);
    const char *job_id = job->decoded ? job->env.job_id : "";
    cq_kafka_header_t headers[] = {
        {"coachq-error-code", code, strlen(code)},
        {"coachq-error-message", message, strlen(message)},
        {"coachq-source-topic", job->topic, strlen(job->topic)},
        {"coachq-source-partition", partition, strlen(partition)},
        {"coachq-source-offset", offset, strlen(offset)},
        {"coachq-job-id", job_id, strlen(job_id)},
    };
    cq_job_produce(job, job->w->conf->topics_dlq, job->raw, job->raw_len, headers,
                   CQ_ARRAY_SIZE(headers));
}

static bool cq_worker_topic_ok(const char *topic)
{
    size_t n = strlen(topic);
    if (n == 0 || n > 249)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((topic[i] >= 'a' && topic[i] <= 'z') || (topic[i] >= 'A' && topic[i] <= 'Z') ||
              (topic[i] >= '0' && topic[i] <= '9') || topic[i] == '.' || topic[i] == '_' ||
              topic[i] == '-'))
            return false;
    return true;
}

/* Publishes the job's stored record to its reply topic. */
static void cq_job_publish(cq_job_t *job, const cq_job_record_t *rec)
{
    cq_worker_t *w = job->w;
    json_t *engine = rec->engine ? json_loads(rec->engine, 0, NULL) : NULL;
    json_t *result = rec->result ? json_loads(rec->result, 0, NULL) : NULL;
    cq_job_result_msg_t msg = {
        .job_id = rec->job_id,
        .tenant_id = rec->tenant_id ? rec->tenant_id : job->env.tenant_id,
        .user_id = rec->user_id ? rec->user_id : job->env.user_id,
        .operation = rec->operation ? rec->operation : job->env.operation,
        .status = (char *)cq_job_status_name(rec->status),
        .attempts = rec->attempts,
        .created_at = rec->created_at,
        .started_at = rec->started_at,
        .finished_at = rec->finished_at ? rec->finished_at : cq_now_ms(),
        .engine = engine,
        .result = result,
        .error_code = rec->error_code,
        .error_message = rec->error_message,
        .batch_id = job->env.batch_id,
        .custom_id = job->env.custom_id,
    };
    void *buf = NULL;
    size_t len = 0;
    char err[512];
    cq_err_t rc = cq_avro_result_encode(w->avro, &msg, &buf, &len, err, sizeof(err));
    json_decref(engine);
    json_decref(result);
    if (rc != CQ_ERR_OK) {
        CQ_LOG(CQ_LOG_ERROR, "worker", rec->job_id, "cannot encode result record: %s", err);
        cq_job_dead_letter(job, CQ_ERR_INTERNAL_ERROR, err);
        return;
    }
    const char *topic = job->env.reply_to && cq_worker_topic_ok(job->env.reply_to)
                            ? job->env.reply_to
                            : w->conf->topics_results;
    const char *fp = cq_avro_fingerprint(w->avro, "JobResult");
    cq_kafka_header_t headers[] = {
        {"coachq-schema", "JobResult", strlen("JobResult")},
        {"coachq-fingerprint", fp, strlen(fp)},
        {"coachq-job-id", rec->job_id, strlen(rec->job_id)},
    };
    cq_job_produce(job, topic, buf, len, headers, CQ_ARRAY_SIZE(headers));
    free(buf);
}

/* Ends a job as failed: stored, published, dead-lettered. */
static void cq_job_fail(cq_job_t *job, cq_job_record_t *claimed, cq_err_t err,
                        const char *message)
{
    cq_worker_t *w = job->w;
    CQ_LOG(CQ_LOG_WARN, "worker", job->env.job_id, "failed: %s: %s", cq_err_name(err), message);
    cq_err_t rc = cq_store_finish(w->store, job->env.job_id, CQ_JOB_FAILED, NULL, NULL,
                                  cq_err_name(err), message);
    cq_job_record_t rec;
    memset(&rec, 0, sizeof(rec));
    if (rc == CQ_ERR_REDIS_UNAVAILABLE) {
        cq_job_schedule_retry(job, w->conf->worker_retry_backoff);
        return;
    }
    if (cq_store_get(w->store, job->env.job_id, &rec) == CQ_ERR_OK) {
        cq_job_publish(job, &rec);
    } else {
        claimed->status = CQ_JOB_FAILED;
        free(claimed->error_code);
        free(claimed->error_message);
        claimed->error_code = cq_strdup(cq_err_name(err));
        claimed->error_message = cq_strdup(message);
        cq_job_publish(job, claimed);
    }
    if (rc == CQ_ERR_OK)
        cq_job_dead_letter(job, err, message);
    cq_job_record_clear(&rec);
}

static const cq_worker_op_t *cq_worker_find_op(const cq_worker_t *w, const char *name)
{
    for (size_t i = 0; i < w->kind->op_count; i++)
        if (strcmp(w->kind->ops[i].name, name) == 0)
            return &w->kind->ops[i];
    return NULL;
}

static int64_t cq_worker_backoff(cq_worker_t *w, int attempt)
{
    int64_t delay = w->conf->worker_retry_backoff;
    for (int i = 1; i < attempt && delay < w->conf->worker_retry_backoff_max; i++)
        delay *= 2;
    if (delay > w->conf->worker_retry_backoff_max)
        delay = w->conf->worker_retry_backoff_max;
    /* Full jitter in [delay/2, delay]: retries of many jobs spread out. */
    return delay / 2 + (int64_t)(rand_r(&w->seed) % (unsigned int)(delay / 2 + 1));
}

static void cq_job_run(cq_job_t *job)
{
    cq_worker_t *w = job->w;
    cq_job_envelope_t *env = &job->env;
    cq_job_record_t claimed, want;
    memset(&claimed, 0, sizeof(claimed));
    memset(&want, 0, sizeof(want));
    json_t *result = NULL;
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    char err[1024] = "";

    want.job_id = env->job_id;
    want.tenant_id = env->tenant_id;
    want.user_id = env->user_id;
    want.operation = env->operation;
    want.kind = (char *)w->kind->kind;
    want.batch_id = env->batch_id;
    want.custom_id = env->custom_id;
    want.created_at = env->created_at;
    want.status = CQ_JOB_QUEUED;
    cq_err_t rc = cq_store_claim(w->store, &want, &claimed);
    if (rc == CQ_ERR_JOB_ALREADY_TERMINAL) {
        CQ_LOG(CQ_LOG_INFO, "worker", env->job_id, "already %s: publishing its record again",
               cq_job_status_name(claimed.status));
        cq_job_publish(job, &claimed);
        goto out;
    }
    if (rc != CQ_ERR_OK) {
        CQ_LOG(CQ_LOG_WARN, "worker", env->job_id, "cannot claim: %s; retrying",
               cq_err_name(rc));
        cq_job_schedule_retry(job, cq_worker_backoff(w, 1));
        goto out;
    }
    const cq_operation_t *cop = cq_contract_find(w->contract, env->operation);
    const cq_worker_op_t *op = cq_worker_find_op(w, env->operation);
    if (!cop || !op || strcmp(cop->kind, w->kind->kind) != 0) {
        snprintf(err, sizeof(err), "The %s worker does not run operation \"%s\"", w->kind->kind,
                 env->operation);
        cq_job_fail(job, &claimed, CQ_ERR_UNKNOWN_OPERATION, err);
        goto out;
    }
    if (env->deadline > 0 && cq_now_ms() > env->deadline) {
        cq_job_fail(job, &claimed, CQ_ERR_JOB_TIMEOUT, "The job was not started before its deadline");
        goto out;
    }
    /* Jobs may come straight from other services: the request is checked here too. */
    if (cop->request && !env->payload) {
        cq_job_fail(job, &claimed, CQ_ERR_VALIDATION_ERROR, "The job carries no request");
        goto out;
    }
    if (cop->request && !cq_schema_validate(cop->request, env->payload, &errors)) {
        snprintf(err, sizeof(err), "The request does not match the schema: %s %s",
                 errors.count ? errors.items[0].path : "", errors.count ? errors.items[0].message : "");
        cq_job_fail(job, &claimed, CQ_ERR_VALIDATION_ERROR, err);
        goto out;
    }
    int64_t started = cq_mono_ms();
    rc = op->builtin(env->payload, cq_now_ms(), &result, err, sizeof(err));
    if (rc != CQ_ERR_OK) {
        if (cq_err_retriable(rc) && claimed.attempts < w->conf->jobs_max_attempts) {
            CQ_LOG(CQ_LOG_WARN, "worker", env->job_id, "attempt %d failed: %s; retrying",
                   claimed.attempts, err);
            cq_store_requeue(w->store, env->job_id, cq_err_name(rc), err);
            cq_job_schedule_retry(job, cq_worker_backoff(w, claimed.attempts));
        } else {
            cq_job_fail(job, &claimed, rc, err[0] ? err : cq_err_desc(rc));
        }
        goto out;
    }
    cq_schema_errors_clear(&errors);
    if (!cq_schema_validate(cop->result, result, &errors)) {
        snprintf(err, sizeof(err), "The result does not match the schema: %s %s",
                 errors.count ? errors.items[0].path : "", errors.count ? errors.items[0].message : "");
        cq_job_fail(job, &claimed, CQ_ERR_INVALID_AI_RESPONSE, err);
        goto out;
    }
    char *result_text = json_dumps(result, JSON_COMPACT);
    char engine[128];
    snprintf(engine, sizeof(engine), "{\"name\":\"builtin\",\"latencyMs\":%lld}",
             (long long)(cq_mono_ms() - started));
    rc = cq_store_finish(w->store, env->job_id, CQ_JOB_SUCCEEDED, engine, result_text, NULL,
                         NULL);
    free(result_text);
    if (rc == CQ_ERR_REDIS_UNAVAILABLE) {
        cq_job_schedule_retry(job, cq_worker_backoff(w, 1));
        goto out;
    }
    /* Succeeded, or cancelled meanwhile: publish whatever the store now says. */
    cq_job_record_t rec;
    memset(&rec, 0, sizeof(rec));
    if (cq_store_get(w->store, env->job_id, &rec) == CQ_ERR_OK) {
        CQ_LOG(CQ_LOG_INFO, "worker", env->job_id, "%s %s", env->operation,
               cq_job_status_name(rec.status));
        cq_job_publish(job, &rec);
    } else {
        cq_job_schedule_retry(job, cq_worker_backoff(w, 1));
    }
    cq_job_record_clear(&rec);
out:
    json_decref(result);
    cq_schema_errors_clear(&errors);
    cq_job_record_clear(&claimed);
    cq_job_settle(job);
}

static void cq_worker_on_message(cq_worker_t *w, cq_kafka_msg_t *msg)
{
    cq_job_t *job = cq_calloc(1, sizeof(*job));
    job->w = w;
    job->topic = cq_strdup(msg->topic);
    job->partition = msg->partition;
    job->offset = msg->offset;
    job->raw = cq_malloc(msg->len ? msg->len : 1);
    memcpy(job->raw, msg->value, msg->len);
    job->raw_len = msg->len;
    cq_offsets_track(w->offsets, job->topic, job->partition, job->offset);

    char err[512];
    size_t fp_len = 0;
    const char *fp = cq_kafka_msg_header(msg, "coachq-fingerprint", &fp_len);
    const char *want = cq_avro_fingerprint(w->avro, "JobEnvelope");
    if (fp && (fp_len != strlen(want) || memcmp(fp, want, fp_len) != 0)) {
        CQ_LOG(CQ_LOG_WARN, "worker", NULL,
               "%s[%d]@%lld written with another envelope schema; decoding anyway", msg->topic,
               msg->partition, (long long)msg->offset);
    }
    if (!msg->value || cq_avro_envelope_decode(w->avro, msg->value, msg->len, &job->env, err,
                                               sizeof(err)) != CQ_ERR_OK) {
        CQ_LOG(CQ_LOG_WARN, "worker", NULL, "%s[%d]@%lld undecodable: %s; dead-lettered",
               msg->topic, msg->partition, (long long)msg->offset, err);
        cq_job_dead_letter(job, CQ_ERR_UNDECODABLE_MESSAGE, err);
        cq_job_settle(job);
        return;
    }
    job->decoded = true;
    cq_job_run(job);
}

/* Runs the jobs whose backoff has passed; returns ms until the next one (or 100). */
static int cq_worker_run_retries(cq_worker_t *w)
{
    int64_t now = cq_mono_ms(), next = now + 100;
    cq_job_t *due = NULL;
    for (cq_job_t **pp = &w->retries; *pp;) {
        cq_job_t *job = *pp;
        if (job->retry_at <= now) {
            *pp = job->next;
            job->next = due;
            due = job;
        } else {
            if (job->retry_at < next)
                next = job->retry_at;
            pp = &job->next;
        }
    }
    while (due) {
        cq_job_t *job = due;
        due = job->next;
        job->next = NULL;
        job->retry_at = 0;
        if (job->decoded) {
            cq_job_run(job);
        } else {
            cq_job_dead_letter(job, CQ_ERR_UNDECODABLE_MESSAGE, "undecodable message");
            cq_job_settle(job);
        }
    }
    return (int)(next - now);
}

static void cq_worker_rebalanced(void *opaque, bool assigned, const char *topic,
                                 const int32_t *partitions, size_t count)
{
    cq_worker_t *w = opaque;
    if (assigned) {
        if (w->paused)
            cq_kafka_consumer_pause(w->consumer, true);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        int64_t next = cq_offsets_forget(w->offsets, topic, partitions[i]);
        if (next >= 0)
            cq_worker_commit(w, topic, partitions[i], next, false);
    }
}

static void cq_worker_destroy(cq_worker_t *w)
{
    while (w->retries) {
        cq_job_t *job = w->retries;
        w->retries = job->next;
        cq_job_free(job);
    }
    cq_kafka_consumer_destroy(w->consumer);
    cq_kafka_producer_destroy(w->producer, 10000);
    cq_offsets_destroy(w->offsets);
    cq_store_destroy(w->store);
    cq_avro_destroy(w->avro);
    cq_contract_destroy(w->contract);
    free(w->topic);
}

static bool cq_worker_setup(cq_worker_t *w, char *err, size_t err_size)
{
    char e[512];
    if (!(w->contract = cq_contract_new(w->conf, e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "contract: %s", e);
        return false;
    }
    for (size_t i = 0; i < w->kind->op_count; i++) {
        const cq_operation_t *cop = cq_contract_find(w->contract, w->kind->ops[i].name);
        if (!cop || strcmp(cop->kind, w->kind->kind) != 0) {
            cq_errstr_set(err, err_size, "operation %s is not a %s operation of the contract",
                          w->kind->ops[i].name, w->kind->kind);
            return false;
        }
    }
    if (!(w->avro = cq_avro_new(cq_contract_document(w->contract), e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "avro: %s", e);
        return false;
    }
    if (!(w->store = cq_store_new(w->conf, e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "redis: %s", e);
        return false;
    }
    w->topic = cq_asprintf("%s%s", w->conf->topics_jobs_prefix, w->kind->kind);
    if (w->conf->topics_create) {
        const char *topics[] = {w->topic, w->conf->topics_results, w->conf->topics_dlq};
        if (cq_kafka_create_topics(w->conf, topics, CQ_ARRAY_SIZE(topics),
                                   (int)w->conf->topics_partitions, e, sizeof(e)) != CQ_ERR_OK)
            CQ_LOG(CQ_LOG_WARN, "worker", NULL, "creating topics: %s", e);
    }
    if (!(w->producer = cq_kafka_producer_new(w->conf, false, e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "kafka producer: %s", e);
        return false;
    }
    char *group = cq_asprintf("%s%s", w->conf->worker_group_prefix, w->kind->kind);
    const char *topics[] = {w->topic};
    w->consumer = cq_kafka_consumer_new(w->conf, group, topics, 1, cq_worker_rebalanced, w, e,
                                        sizeof(e));
    free(group);
    if (!w->consumer) {
        cq_errstr_set(err, err_size, "kafka consumer: %s", e);
        return false;
    }
    w->offsets = cq_offsets_new();
    w->seed = (unsigned int)cq_now_ms() ^ (unsigned int)getpid();
    return true;
}

static void cq_worker_commit_each(void *opaque, const char *topic, int32_t partition,
                                  int64_t next)
{
    cq_worker_commit(opaque, topic, partition, next, false);
}

static void cq_worker_loop(cq_worker_t *w)
{
    size_t cap = (size_t)w->conf->worker_max_in_flight;
    while (!cq_worker_stop) {
        int wait = cq_worker_run_retries(w);
        cq_kafka_producer_poll(w->producer, 0);
        size_t in_flight = cq_offsets_in_flight(w->offsets);
        if (!w->paused && in_flight >= cap) {
            CQ_LOG(CQ_LOG_INFO, "worker", NULL, "%zu jobs in flight: pausing", in_flight);
            cq_kafka_consumer_pause(w->consumer, true);
            w->paused = true;
        } else if (w->paused && in_flight < cap) {
            cq_kafka_consumer_pause(w->consumer, false);
            w->paused = false;
        }
        cq_kafka_msg_t *msg = NULL;
        cq_kafka_consumer_poll(w->consumer, wait < 100 ? (wait > 0 ? wait : 0) : 100, &msg);
        if (msg) {
            cq_worker_on_message(w, msg);
            cq_kafka_msg_destroy(msg);
        }
    }
    /* Drain: let acknowledged jobs commit; unfinished ones will be redelivered. */
    CQ_LOG(CQ_LOG_INFO, "worker", NULL, "stopping with %zu jobs in flight",
           cq_offsets_in_flight(w->offsets));
    int64_t until = cq_mono_ms() + 10000;
    while (cq_kafka_producer_outq_len(w->producer) > 0 && cq_mono_ms() < until)
        cq_kafka_producer_poll(w->producer, 100);
    cq_offsets_each(w->offsets, cq_worker_commit_each, w);
}

int cq_worker_main(const cq_worker_kind_t *kind, int argc, char **argv)
{
    char program[64], err[1024];
    snprintf(program, sizeof(program), "coachq-%s-worker", kind->kind);
    bool exit_now = false;
    cq_worker_t w;
    memset(&w, 0, sizeof(w));
    w.kind = kind;
    w.conf = cq_config_new();
    if (cq_config_from_args(w.conf, program, argc, argv, &exit_now, err, sizeof(err)) !=
        CQ_ERR_OK) {
        fprintf(stderr, "%s: %s\n", program, err);
        cq_config_destroy(w.conf);
        return 2;
    }
    if (exit_now) {
        cq_config_destroy(w.conf);
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cq_worker_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    if (!cq_worker_setup(&w, err, sizeof(err))) {
        CQ_LOG(CQ_LOG_ERROR, "worker", NULL, "cannot start: %s", err);
        rc = 1;
    } else {
        CQ_LOG(CQ_LOG_INFO, "worker", NULL, "%s consuming %s (up to %lld jobs in flight)",
               program, w.topic, (long long)w.conf->worker_max_in_flight);
        cq_worker_loop(&w);
    }
    cq_worker_destroy(&w);
    cq_config_destroy(w.conf);
    return rc;
}
