/*
 * cq_rebuild.c — the job store rebuilt from the results topic (see
 * cq_rebuild.h).
 *
 * Order and duplicates. A job's records sit in one partition in publish
 * order. The first one restored wins; later copies (a republish after a
 * worker crash) find the job terminal and count as kept, which is also what
 * happens to every record whose job Redis still has. A job run again after
 * the loss (its envelope redelivered) may hold a newer terminal record
 * already: kept too. A job Redis has as queued or running (being run again
 * right now) takes the terminal record from the topic; its worker then finds
 * it terminal and publishes that record again.
 *
 * Time: one clock reading per record (TTL from the finish time).
 *
 * Threads: one, the caller's.
 */
#include "cq_rebuild.h"
#include "cq_kafka_reader.h"
#include "cq_log.h"

#include <stdlib.h>
#include <string.h>

#define CQ_REBUILD_IDLE_MS 30000

static char *cq_rebuild_strdup(const char *s)
{
    return s && s[0] ? cq_strdup(s) : NULL;
}

cq_err_t cq_rebuild_record(const cq_job_result_msg_t *msg, const cq_contract_t *contract,
                           cq_job_record_t *out, char *errstr, size_t errstr_size)
{
    cq_job_record_clear(out);
    cq_job_status_t status = CQ_JOB_QUEUED;
    const char *bad = NULL;
    if (!msg->job_id || !msg->job_id[0])
        bad = "no job id";
    else if (!msg->tenant_id || !msg->tenant_id[0])
        bad = "no tenant";
    else if (!msg->operation || !msg->operation[0])
        bad = "no operation";
    else if (!cq_job_status_parse(msg->status, &status) || !cq_job_status_terminal(status))
        bad = "status is not terminal";
    else if (msg->finished_at <= 0 || msg->created_at < 0 || msg->started_at < 0)
        bad = "no finish time";
    else if (msg->attempts < 0)
        bad = "negative attempts";
    if (bad) {
        cq_errstr_set(errstr, errstr_size, "%s", bad);
        return CQ_ERR_VALIDATION_ERROR;
    }
    const cq_operation_t *op = contract ? cq_contract_find(contract, msg->operation) : NULL;
    out->job_id = cq_strdup(msg->job_id);
    out->tenant_id = cq_strdup(msg->tenant_id);
    out->user_id = cq_rebuild_strdup(msg->user_id);
    out->operation = cq_strdup(msg->operation);
    out->kind = op && op->kind ? cq_strdup(op->kind) : NULL;
    out->batch_id = cq_rebuild_strdup(msg->batch_id);
    out->custom_id = cq_rebuild_strdup(msg->custom_id);
    out->status = status;
    out->created_at = msg->created_at;
    out->started_at = msg->started_at;
    out->finished_at = msg->finished_at;
    out->attempts = msg->attempts;
    /* The worker stores both as compact JSON text (cq_job.c). */
    out->engine = msg->engine ? json_dumps(msg->engine, JSON_COMPACT) : NULL;
    out->result =
        msg->result ? json_dumps(msg->result, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    out->error_code = cq_rebuild_strdup(msg->error_code);
    out->error_message = out->error_code ? cq_rebuild_strdup(msg->error_message) : NULL;
    return CQ_ERR_OK;
}

int64_t cq_rebuild_ttl(int64_t finished_at_ms, int64_t now_ms, int64_t result_ttl_ms)
{
    if (finished_at_ms >= now_ms)
        return result_ttl_ms;
    int64_t age = now_ms - finished_at_ms;
    return age >= result_ttl_ms ? 0 : result_ttl_ms - age;
}

typedef struct {
    cq_avro_t *avro;
    cq_contract_t *contract;
    cq_store_t *store;
    int64_t result_ttl_ms;
    cq_rebuild_stats_t stats;
} cq_rebuild_t;

static cq_err_t cq_rebuild_one(void *opaque, const cq_kafka_msg_t *kmsg)
{
    cq_rebuild_t *rb = opaque;
    cq_job_result_msg_t msg;
    cq_job_record_t rec;
    memset(&msg, 0, sizeof(msg));
    memset(&rec, 0, sizeof(rec));
    char err[512];
    rb->stats.read++;
    cq_err_t rc = cq_avro_result_decode(rb->avro, kmsg->value, kmsg->len, &msg, err, sizeof(err));
    if (rc == CQ_ERR_OK)
        rc = cq_rebuild_record(&msg, rb->contract, &rec, err, sizeof(err));
    if (rc != CQ_ERR_OK) {
        CQ_LOG(CQ_LOG_WARN, "rebuild", NULL, "%s [%d] offset %lld skipped: %s", kmsg->topic,
               (int)kmsg->partition, (long long)kmsg->offset, err);
        rb->stats.undecodable++;
        rc = CQ_ERR_OK;
        goto clear_msg;
    }
    int64_t ttl = cq_rebuild_ttl(rec.finished_at, cq_now_ms(), rb->result_ttl_ms);
    if (ttl <= 0) {
        rb->stats.expired++;
        goto clear_rec;
    }
    cq_store_restore_t how = CQ_STORE_RESTORE_KEPT;
    rc = cq_store_restore(rb->store, &rec, ttl, &how);
    if (rc == CQ_ERR_BAD_REQUEST) {
        rb->stats.undecodable++;
        rc = CQ_ERR_OK;
    } else if (rc == CQ_ERR_OK) {
        if (how == CQ_STORE_RESTORE_WRITTEN)
            rb->stats.restored++;
        else if (how == CQ_STORE_RESTORE_REPLACED)
            rb->stats.replaced++;
        else
            rb->stats.kept++;
    }
clear_rec:
    cq_job_record_clear(&rec);
clear_msg:
    cq_job_result_msg_clear(&msg);
    return rc;
}

cq_err_t cq_rebuild_run(const cq_config_t *conf, cq_rebuild_stats_t *stats, char *errstr,
                        size_t errstr_size)
{
    cq_rebuild_t rb;
    memset(&rb, 0, sizeof(rb));
    rb.result_ttl_ms = conf->jobs_result_ttl;
    cq_err_t rc = CQ_ERR_CONFIG;
    if (!(rb.contract = cq_contract_new(conf, errstr, errstr_size)))
        goto destroy;
    if (!(rb.avro = cq_avro_new(cq_contract_document(rb.contract), errstr, errstr_size)))
        goto destroy;
    if (!(rb.store = cq_store_new(conf, errstr, errstr_size)))
        goto destroy;
    if ((rc = cq_store_ping(rb.store)) != CQ_ERR_OK) {
        cq_errstr_set(errstr, errstr_size, "Redis does not answer");
        goto destroy;
    }
    rc = cq_kafka_read_topic(conf, conf->topics_results, CQ_REBUILD_IDLE_MS, cq_rebuild_one, &rb,
                             NULL, errstr, errstr_size);
destroy:
    cq_store_destroy(rb.store);
    cq_avro_destroy(rb.avro);
    cq_contract_destroy(rb.contract);
    if (stats)
        *stats = rb.stats;
    return rc;
}
