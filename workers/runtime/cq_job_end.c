/*
 * cq_job_end.c — how a job leaves the worker (see cq_worker_int.h): its
 * records out (the result to the reply topic, the envelope to the
 * dead-letter topic), its terminal state into the store, retries after a
 * backoff, and its offset reported done once every record is acknowledged
 * (then the job is marked published: cq_marks.h). The blocking store and
 * broker calls run offloaded (cq_offload.h).
 *
 * Runs on the worker loop thread only (delivery reports and offloaded
 * completions come from polls and drains made on it).
 */
#include "cq_log.h"
#include "cq_worker_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cq_job_free(cq_job_t *job)
{
    if (job->lprev)
        job->lprev->lnext = job->lnext;
    else
        job->w->live = job->lnext;
    if (job->lnext)
        job->lnext->lprev = job->lprev;
    cq_engine_ctx_clear(&job->ctx);
    cq_job_envelope_clear(&job->env);
    cq_job_record_clear(&job->claimed);
    cq_job_record_clear(&job->stored);
    free(job->fail_message);
    json_decref(job->llm_fallback);
    free(job->llm_engine);
    free(job->result_text);
    json_decref(job->result_json);
    free(job->engine);
    free(job->topic);
    free(job->raw);
    free(job);
}

/* The job's records are all acknowledged: its offset may be committed, and
 * a terminal job's result is marked published (after the fact, not holding
 * the commit up: a mark not written only means a redelivery publishes the
 * record again). */
static void cq_job_finished(cq_job_t *job)
{
    cq_worker_t *w = job->w;
    int64_t next;
    if (job->mark_due && job->decoded && job->env.job_id)
        cq_marks_add(w->marks, job->env.job_id);
    if (cq_offsets_done(w->offsets, job->topic, job->partition, job->offset, &next))
        cq_worker_commit(w, job->topic, job->partition, next, true);
    cq_job_free(job);
}

void cq_job_schedule_retry(cq_job_t *job, int64_t delay_ms)
{
    atomic_fetch_add(&job->w->stats.job_retries, 1);
    job->retry_at = cq_mono_ms() + delay_ms;
    job->next = job->w->retries;
    job->w->retries = job;
}

/* After a step of a job: nothing more in flight and no retry planned means
 * it is finished, unless a record could not even be queued. */
void cq_job_settle(cq_job_t *job)
{
    if (job->retry_at != 0 || job->pending != 0 || job->in_engine || job->io_busy)
        return;
    if (job->produce_failed) {
        job->produce_failed = false;
        cq_job_schedule_retry(job, job->w->conf->worker_retry_backoff);
        return;
    }
    cq_job_finished(job);
}

/* Runs work (a blocking store or broker call) off the loop; done follows
 * on the loop thread, and the job is settled after it. */
void cq_job_offload(cq_job_t *job, cq_offload_fn work, cq_offload_fn done)
{
    cq_job_offload_call(job, NULL, work, done);
}

void cq_job_offload_call(cq_job_t *job, cq_offload_prepare_fn prepare, cq_offload_fn work,
                         cq_offload_fn done)
{
    assert(!job->io_busy); /* one call at a time: every path waits for the last */
    job->io.prepare = prepare;
    job->io.call = NULL;
    job->io.work = work;
    job->io.done = done;
    job->io.arg = job;
    job->io_busy = true;
    cq_offload_submit(job->w->offload, &job->io);
}

cq_job_t *cq_job_of(cq_offload_item_t *item)
{
    cq_job_t *job = item->arg;
    job->io_busy = false;
    cq_job_log_enter(job);
    return job;
}

void cq_job_log_enter(cq_job_t *job)
{
    cq_log_ctx_set(&job->log_ctx);
}

void cq_job_observe_end(cq_job_t *job, const char *status)
{
    if (!job->decoded || job->env.created_at <= 0)
        return;
    char labels[CQ_HISTO_MAX_LABELS];
    /* Names from the contract and constants only: bounded label sets. */
    snprintf(labels, sizeof(labels), "operation=\"%s\",engine=\"%s\",status=\"%s\"",
             job->cop ? job->cop->name : "unknown", job->engine_kind ? job->engine_kind : "none",
             status);
    cq_histo_observe(job->w->job_seconds, labels,
                     (double)(cq_now_ms() - job->env.created_at) / 1000.0);
}

static void cq_job_delivered(void *opaque, cq_err_t err, const char *errstr)
{
    cq_job_t *job = opaque;
    cq_job_log_enter(job);
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
void cq_job_dead_letter(cq_job_t *job, cq_err_t err, const char *message)
{
    atomic_fetch_add(&job->w->stats.dead_letters, 1);
    char partition[16], offset[24];
    snprintf(partition, sizeof(partition), "%d", job->partition);
    snprintf(offset, sizeof(offset), "%lld", (long long)job->offset);
    const char *code = cq_err_name(err);
    const char *job_id = job->env.job_id ? job->env.job_id : "";
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

/* Encodes the record and produces it to the reply topic (to_reply: the
 * job's reply_to is a topic of the cluster). */
static void cq_job_publish_to(cq_job_t *job, const cq_job_record_t *rec, bool to_reply)
{
    cq_worker_t *w = job->w;
    json_t *engine = rec->engine ? json_loads(rec->engine, 0, NULL) : NULL;
    /* The result this worker just stored is at hand; a record from an
     * earlier run (or another worker) is parsed from its text. */
    json_t *result = rec->result && job->result_json && job->result_text &&
                             strcmp(rec->result, job->result_text) == 0
                         ? json_incref(job->result_json)
                     : rec->result ? json_loads(rec->result, 0, NULL)
                                   : NULL;
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
    /* A reply_to that is not a topic of the cluster would make the record
     * undeliverable forever: the result goes to the results topic instead,
     * saying where it was meant to go. */
    const char *reply_to = job->env.reply_to;
    if (reply_to && !to_reply)
        CQ_LOG(CQ_LOG_WARN, "worker", rec->job_id,
               "reply_to \"%.64s\" is not a topic here: result sent to %s", reply_to,
               w->conf->topics_results);
    const char *topic = to_reply ? reply_to : w->conf->topics_results;
    const char *fp = cq_avro_fingerprint(w->avro, "JobResult");
    cq_kafka_header_t headers[4] = {
        {CQ_AVRO_SCHEMA_HEADER, CQ_AVRO_RESULT_FULL_NAME, strlen(CQ_AVRO_RESULT_FULL_NAME)},
        {"coachq-fingerprint", fp, strlen(fp)},
        {"coachq-job-id", rec->job_id, strlen(rec->job_id)},
    };
    size_t header_count = 3;
    if (reply_to && !to_reply)
        headers[header_count++] =
            (cq_kafka_header_t){"coachq-reply-to-unavailable", reply_to, strlen(reply_to)};
    job->mark_due = cq_job_status_terminal(rec->status);
    cq_job_produce(job, topic, buf, len, headers, header_count);
    free(buf);
}

static void cq_job_topic_work(cq_offload_item_t *item)
{
    cq_job_t *job = item->arg;
    job->io_flag = cq_kafka_topic_exists(job->w->producer, job->env.reply_to, 5000);
}

static void cq_job_topic_done(cq_offload_item_t *item)
{
    cq_job_t *job = cq_job_of(item);
    cq_worker_reply_topic_learn(job->w, job->env.reply_to, job->io_flag);
    const cq_job_record_t *rec = job->publishing;
    job->publishing = NULL;
    cq_job_publish_to(job, rec, job->io_flag);
    cq_job_settle(job);
}

/* Publishes a record of the job (job->claimed or job->stored) to its reply
 * topic, once it is known whether the job's reply_to exists. */
void cq_job_publish(cq_job_t *job, const cq_job_record_t *rec)
{
    const char *reply_to = job->env.reply_to;
    if (!reply_to || !cq_worker_topic_ok(reply_to)) {
        cq_job_publish_to(job, rec, false);
        return;
    }
    int known = cq_worker_reply_topic_known(job->w, reply_to);
    if (known >= 0) {
        cq_job_publish_to(job, rec, known == 1);
        return;
    }
    job->publishing = rec;
    cq_job_offload(job, cq_job_topic_work, cq_job_topic_done);
}

/* On the offload thread, before the job's terminal state is stored: adds
 * the LLM tokens it used to its tenant's count of the UTC day (kept a day
 * past its own, so yesterday's use can still be read). A charge Redis does
 * not take is counted and, if the finish fails too, tried again with it. */
static void cq_job_charge_tokens(cq_job_t *job)
{
    if (job->tokens_due <= 0)
        return;
    int64_t now = cq_now_ms();
    char day[9];
    cq_limit_day(now, day);
    int64_t ttl = cq_limit_day_left_ms(now) + 86400000;
    if (cq_store_tokens_add(job->w->store, job->env.tenant_id ? job->env.tenant_id : "", day,
                            job->tokens_due, ttl, NULL) == CQ_ERR_OK) {
        atomic_fetch_add(&job->w->stats.tokens_charged, (uint64_t)job->tokens_due);
        job->tokens_due = 0;
    } else {
        atomic_fetch_add(&job->w->stats.budget_errors, 1);
    }
}

/* The finish of a failed job as a store call sent with others; none while
 * tokens are due, whose charge must come first (alone, in the work). */
static cq_store_call_t *cq_job_fail_prepare(cq_offload_item_t *item)
{
    cq_job_t *job = item->arg;
    if (job->tokens_due > 0)
        return NULL;
    return cq_store_finish_call(job->w->store, job->env.job_id, CQ_JOB_FAILED, NULL, NULL,
                                cq_err_name(job->fail_err), job->fail_message);
}

static void cq_job_fail_work(cq_offload_item_t *item)
{
    cq_job_t *job = item->arg;
    cq_job_record_clear(&job->stored);
    if (item->call) {
        job->io_rc = cq_store_call_end(item->call, &job->stored);
        item->call = NULL;
        return;
    }
    cq_job_charge_tokens(job);
    job->io_rc = cq_store_finish(job->w->store, job->env.job_id, CQ_JOB_FAILED, NULL, NULL,
                                 cq_err_name(job->fail_err), job->fail_message, &job->stored);
}

static void cq_job_fail_done(cq_offload_item_t *item)
{
    cq_job_t *job = cq_job_of(item);
    cq_worker_t *w = job->w;
    cq_err_t rc = job->io_rc;
    if (rc == CQ_ERR_REDIS_UNAVAILABLE) {
        /* Not stored: the whole job runs again later; nothing is lost. */
        job->stage = CQ_JOB_STAGE_RUN;
        cq_job_schedule_retry(job, w->conf->worker_retry_backoff);
        cq_job_settle(job);
        return;
    }
    if (rc == CQ_ERR_OK || rc == CQ_ERR_JOB_ALREADY_TERMINAL) {
        cq_job_observe_end(job, cq_job_status_name(job->stored.status));
        cq_job_publish(job, &job->stored);
    } else {
        cq_job_observe_end(job, "failed");
        cq_job_record_t *c = &job->claimed;
        c->status = CQ_JOB_FAILED;
        free(c->error_code);
        free(c->error_message);
        c->error_code = cq_strdup(cq_err_name(job->fail_err));
        c->error_message = cq_strdup(job->fail_message);
        if (!c->job_id)
            c->job_id = cq_strdup(job->env.job_id);
        cq_job_publish(job, c);
    }
    if (rc == CQ_ERR_OK)
        cq_job_dead_letter(job, job->fail_err, job->fail_message);
    cq_job_settle(job);
}

/* Ends a job as failed: stored, published, dead-lettered. */
void cq_job_fail(cq_job_t *job, cq_err_t err, const char *message)
{
    CQ_LOG_CODE(CQ_LOG_WARN, "worker", job->env.job_id, cq_err_name(err), "failed: %s", message);
    atomic_fetch_add(&job->w->stats.jobs_failed, 1);
    job->fail_err = err;
    free(job->fail_message);
    job->fail_message = cq_strdup(message);
    cq_job_offload_call(job, cq_job_fail_prepare, cq_job_fail_work, cq_job_fail_done);
}

int64_t cq_worker_backoff(cq_worker_t *w, int attempt)
{
    int64_t delay = w->conf->worker_retry_backoff;
    for (int i = 1; i < attempt && delay < w->conf->worker_retry_backoff_max; i++)
        delay *= 2;
    if (delay > w->conf->worker_retry_backoff_max)
        delay = w->conf->worker_retry_backoff_max;
    /* Full jitter in [delay/2, delay]: retries of many jobs spread out. */
    return delay / 2 + (int64_t)(rand_r(&w->seed) % (unsigned int)(delay / 2 + 1));
}

/* As cq_job_fail_prepare, for a succeeded job. */
static cq_store_call_t *cq_job_store_prepare(cq_offload_item_t *item)
{
    cq_job_t *job = item->arg;
    if (job->tokens_due > 0)
        return NULL;
    return cq_store_finish_call(job->w->store, job->env.job_id, CQ_JOB_SUCCEEDED, job->engine,
                                job->result_text, NULL, NULL);
}

static void cq_job_store_work(cq_offload_item_t *item)
{
    cq_job_t *job = item->arg;
    cq_job_record_clear(&job->stored);
    if (item->call) {
        job->io_rc = cq_store_call_end(item->call, &job->stored);
        item->call = NULL;
        return;
    }
    cq_job_charge_tokens(job);
    job->io_rc = cq_store_finish(job->w->store, job->env.job_id, CQ_JOB_SUCCEEDED, job->engine,
                                 job->result_text, NULL, NULL, &job->stored);
}

static void cq_job_store_done(cq_offload_item_t *item)
{
    cq_job_t *job = cq_job_of(item);
    cq_worker_t *w = job->w;
    cq_err_t rc = job->io_rc;
    const cq_job_record_t *rec = &job->stored;
    if (rc == CQ_ERR_OK || rc == CQ_ERR_JOB_ALREADY_TERMINAL) {
        /* Succeeded, or cancelled meanwhile: publish what the store now says. */
        CQ_LOG(CQ_LOG_INFO, "worker", job->env.job_id, "%s %s", job->env.operation,
               cq_job_status_name(rec->status));
        atomic_fetch_add(rec->status == CQ_JOB_SUCCEEDED ? &w->stats.jobs_succeeded
                                                         : &w->stats.jobs_cancelled,
                         1);
        cq_job_observe_end(job, cq_job_status_name(rec->status));
        cq_job_publish(job, rec);
    } else if (rc == CQ_ERR_NOT_FOUND) {
        /* The record is gone (Redis lost its data): run the job afresh. */
        CQ_LOG(CQ_LOG_WARN, "worker", job->env.job_id, "job record lost; running it again");
        job->stage = CQ_JOB_STAGE_RUN;
        cq_job_schedule_retry(job, cq_worker_backoff(w, 1));
    } else {
        /* Redis down: this step alone runs again. */
        cq_job_schedule_retry(job, cq_worker_backoff(w, 1));
    }
    cq_job_settle(job);
}

/* Stores the finished result and publishes the stored record. On a Redis
 * failure the job retries this step alone: the (possibly costly) answer is
 * kept, not computed again. */
void cq_job_store_result(cq_job_t *job)
{
    cq_job_offload_call(job, cq_job_store_prepare, cq_job_store_work, cq_job_store_done);
}
