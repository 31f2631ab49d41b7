/*
 * cq_rebuild.h — rebuilding the Redis job store from the results topic
 * after Redis lost its data (coachq-rebuild; docs/OPERATIONS.md).
 *
 * Every result record of topics.results is read from the beginning of each
 * partition (cq_kafka_reader.h: no group, no commits), decoded, mapped back
 * to the terminal job record the worker had stored, and written with
 * cq_store_restore: a job Redis holds as terminal is left alone, the TTL is
 * what is left of jobs.result_ttl counted from the record's finish time,
 * and records already past it are skipped.
 *
 * A result record lacks what the job record never needed to publish:
 * kind is derived from the operation through the contract; idempotency keys,
 * batch documents and the request itself are not in it and not rebuilt.
 */
#ifndef CQ_REBUILD_H
#define CQ_REBUILD_H

#include "cq_avro.h"
#include "cq_common.h"
#include "cq_config.h"
#include "cq_contract.h"
#include "cq_err.h"
#include "cq_store.h"

/* What a rebuild did, one count per record read. */
typedef struct {
    size_t read;        /* records read off the topic */
    size_t restored;    /* written: the job was absent */
    size_t replaced;    /* written over a queued or running record */
    size_t kept;        /* the job was terminal in Redis already (or an earlier record won) */
    size_t expired;     /* finished more than jobs.result_ttl ago: skipped */
    size_t undecodable; /* not a JobResult this build can read, or not a terminal job */
} cq_rebuild_stats_t;

/* Maps a decoded result record to the job record it came from (out must be
 * zeroed or cleared; caller clears it): identity, times, attempts, engine
 * and result as compact JSON text (as the worker stores them), error.
 * contract (may be NULL) gives kind from the operation. CQ_ERR_VALIDATION_ERROR
 * (errstr says why, out cleared) for a record no worker could have written:
 * job id, tenant or operation empty, status not terminal, no finish time. */
cq_err_t cq_rebuild_record(const cq_job_result_msg_t *msg, const cq_contract_t *contract,
                           cq_job_record_t *out, char *errstr, size_t errstr_size);

/* What is left of result_ttl_ms at now_ms for a job finished at
 * finished_at_ms; <= 0 when expired. A finish time in the future (clock
 * skew) gives the whole result_ttl_ms. */
int64_t cq_rebuild_ttl(int64_t finished_at_ms, int64_t now_ms, int64_t result_ttl_ms);

/* Rebuilds the store from conf's topics.results (see above); stats (may
 * be NULL) gets the counts. CQ_ERR_REDIS_UNAVAILABLE stops at the first
 * record Redis did not take (a rerun is harmless: it keeps what it wrote);
 * Kafka and config errors as cq_kafka_read_topic. Blocks. */
cq_err_t cq_rebuild_run(const cq_config_t *conf, cq_rebuild_stats_t *stats, char *errstr,
                        size_t errstr_size);

#endif
