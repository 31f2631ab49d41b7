/*
 * cq_avro.h — the Avro codec of coachq's Kafka messages.
 *
 * The job envelope (io.coachq.JobEnvelope) and the result record
 * (io.coachq.JobResult) are generated at start-up from the OpenAPI document,
 * the one source of truth (see cq_avro_schema.c for the JSON Schema -> Avro
 * rules). Callers see plain structs and jansson values; no avro-c type leaves
 * this module.
 *
 * One cq_avro_t is built per process and shared: after cq_avro_new() it is
 * read-only, and every function below may be called from any number of
 * threads at once without locking.
 */
#ifndef CQ_AVRO_H
#define CQ_AVRO_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/* Decoding refuses any message larger than this before looking at it. Encoding
 * refuses to produce one. */
#define CQ_AVRO_MAX_MESSAGE ((size_t)8 * 1024 * 1024)
/* Deepest nesting of records/arrays/unions accepted (recursive schemas). */
#define CQ_AVRO_MAX_DEPTH 128
/* Most array items, all arrays together, in one message (and never more
 * than the message has bytes): bounds what decoding allocates. */
#define CQ_AVRO_MAX_ITEMS 100000
/* Kafka header that carries cq_avro_fingerprint() of the writer schema. */
#define CQ_AVRO_FINGERPRINT_HEADER "coachq-fingerprint"
/* The coachq-schema header of each record: the record's full Avro name. */
#define CQ_AVRO_SCHEMA_HEADER      "coachq-schema"
#define CQ_AVRO_ENVELOPE_FULL_NAME "io.coachq.JobEnvelope"
#define CQ_AVRO_RESULT_FULL_NAME   "io.coachq.JobResult"

typedef struct cq_avro_s cq_avro_t;

/* Generates both schemas from the OpenAPI document (borrowed; not kept) and
 * prepares the codec. NULL with errstr filled when the document breaks a
 * project rule or maps to an invalid Avro schema. Caller destroys. */
cq_avro_t *cq_avro_new(json_t *openapi, char *errstr, size_t errstr_size);
/* Frees everything; NULL is a no-op. No call on avro may be running. */
void cq_avro_destroy(cq_avro_t *avro);

/* The generated Avro schema of "JobEnvelope" or "JobResult" as JSON; NULL
 * for any other name. Borrowed: valid until cq_avro_destroy(), read-only. */
json_t *cq_avro_schema_json(const cq_avro_t *avro, const char *record);
/* Lower-case hex SHA-256 (64 characters) of the Avro Parsing Canonical Form
 * of that schema (the fingerprint Apache Avro's SchemaNormalization gives):
 * equal fingerprints mean equal binary layouts. Producers put it in the
 * CQ_AVRO_FINGERPRINT_HEADER header. NULL for an unknown name. Borrowed. */
const char *cq_avro_fingerprint(const cq_avro_t *avro, const char *record);

/* A job envelope. Every pointer is owned by the struct (freed by _clear).
 * reply_to, trace_parent, batch_id, custom_id, payload and authorization
 * may be NULL (absent). payload is the operation's request object, NULL for
 * operations without a request body. authorization is the caller's
 * Authorization header value, forwarded for operations marked
 * x-coachq-forward-credentials: a secret, never to be logged. */
typedef struct {
    char *job_id, *tenant_id, *user_id, *operation;
    int32_t attempt;
    int64_t created_at, deadline; /* ms since the Unix epoch */
    char *reply_to, *trace_parent, *batch_id, *custom_id;
    json_t *payload;
    char *authorization;
} cq_job_envelope_t;

/* Frees every member and zeroes the struct (it may be reused). */
void cq_job_envelope_clear(cq_job_envelope_t *env);

/* A job's result record. Every pointer is owned by the struct.
 * status is "succeeded", "failed" or "cancelled". started_at == 0 means the
 * job never started (Avro null). engine is NULL or an object {name, provider?,
 * model?, promptTokens?, completionTokens?, latencyMs?}. result is NULL or the
 * operation's result object. error_code NULL means no error (error_message is
 * then ignored on encode). batch_id, custom_id may be NULL. */
typedef struct {
    char *job_id, *tenant_id, *user_id, *operation, *status;
    int32_t attempts;
    int64_t created_at, started_at, finished_at; /* ms since the Unix epoch */
    json_t *engine;
    json_t *result;
    char *error_code, *error_message, *batch_id, *custom_id;
} cq_job_result_msg_t;

/* Frees every member and zeroes the struct (it may be reused). */
void cq_job_result_msg_clear(cq_job_result_msg_t *msg);

/* Encodes env (borrowed) into a new buffer *buf of *len bytes (caller frees).
 * Errors: CQ_ERR_UNKNOWN_OPERATION when env->operation is not in the
 * document; CQ_ERR_VALIDATION_ERROR when a field or the payload does not fit
 * the schema (errstr names the JSON path and why); CQ_ERR_INTERNAL_ERROR when
 * avro-c fails. *buf is NULL on failure. */
cq_err_t cq_avro_envelope_encode(cq_avro_t *avro, const cq_job_envelope_t *env, void **buf,
                                 size_t *len, char *errstr, size_t errstr_size);
/* Decodes one untrusted message into env (which must be zeroed or cleared;
 * caller clears it after success). Any malformed, truncated, oversized or
 * trailing-byte input gives CQ_ERR_UNDECODABLE_MESSAGE and leaves env
 * cleared. What is allocated is bounded by len and CQ_AVRO_MAX_ITEMS before
 * avro-c reads anything. */
cq_err_t cq_avro_envelope_decode(cq_avro_t *avro, const void *buf, size_t len,
                                 cq_job_envelope_t *env, char *errstr, size_t errstr_size);

/* Encodes msg (borrowed); same contract as cq_avro_envelope_encode(), except
 * that an operation missing from the document is accepted when msg->result
 * is NULL (a worker failing a job of an operation it does not know). */
cq_err_t cq_avro_result_encode(cq_avro_t *avro, const cq_job_result_msg_t *msg, void **buf,
                               size_t *len, char *errstr, size_t errstr_size);
/* Decodes one untrusted result message; same contract as
 * cq_avro_envelope_decode(). */
cq_err_t cq_avro_result_decode(cq_avro_t *avro, const void *buf, size_t len,
                               cq_job_result_msg_t *msg, char *errstr, size_t errstr_size);

#endif
