/*
 * cq_avro_schema.h — the two generated Avro schemas of coachq's Kafka
 * messages (JobEnvelope, JobResult), their operations and fingerprints;
 * internal to the Avro codec (cq_avro.c). Built once, read-only after;
 * no avro-c types.
 */
#ifndef CQ_AVRO_SCHEMA_H
#define CQ_AVRO_SCHEMA_H

#include <jansson.h>

#include "cq_avro_map.h"
#include "cq_common.h"

/* One job operation of the document, in document order. */
typedef struct {
    char *name;         /* x-coachq-operation */
    char *kind;         /* x-coachq-kind */
    int request_branch; /* branch of JobEnvelope.payload, 0 (null) when no request */
    int result_branch;  /* branch of JobResult.result, 0 (null) when no result */
} cq_avro_op_t;

typedef struct {
    json_t *json;         /* the Avro schema */
    cq_avro_node_t *root; /* its top-level record */
    cq_avro_node_t *nodes;
    char fingerprint[65]; /* hex SHA-256 of the Parsing Canonical Form */
} cq_avro_gen_schema_t;

typedef struct {
    cq_avro_gen_schema_t envelope, result;
    cq_avro_op_t *ops;
    size_t op_count;
} cq_avro_schema_t;

/* Field positions of the generated top-level records (fixed order). */
enum {
    CQ_AVRO_ENV_JOB_ID,
    CQ_AVRO_ENV_TENANT_ID,
    CQ_AVRO_ENV_USER_ID,
    CQ_AVRO_ENV_OPERATION,
    CQ_AVRO_ENV_ATTEMPT,
    CQ_AVRO_ENV_CREATED_AT,
    CQ_AVRO_ENV_DEADLINE,
    CQ_AVRO_ENV_REPLY_TO,
    CQ_AVRO_ENV_TRACE_PARENT,
    CQ_AVRO_ENV_BATCH_ID,
    CQ_AVRO_ENV_CUSTOM_ID,
    CQ_AVRO_ENV_PAYLOAD,
    CQ_AVRO_ENV_AUTHORIZATION,
    CQ_AVRO_ENV__COUNT
};
enum {
    CQ_AVRO_RES_JOB_ID,
    CQ_AVRO_RES_TENANT_ID,
    CQ_AVRO_RES_USER_ID,
    CQ_AVRO_RES_OPERATION,
    CQ_AVRO_RES_STATUS,
    CQ_AVRO_RES_ATTEMPTS,
    CQ_AVRO_RES_CREATED_AT,
    CQ_AVRO_RES_STARTED_AT,
    CQ_AVRO_RES_FINISHED_AT,
    CQ_AVRO_RES_ENGINE,
    CQ_AVRO_RES_RESULT,
    CQ_AVRO_RES_ERROR,
    CQ_AVRO_RES_BATCH_ID,
    CQ_AVRO_RES_CUSTOM_ID,
    CQ_AVRO_RES__COUNT
};

/* Builds both schemas from the document (borrowed). NULL with errstr filled
 * when the document breaks a project rule. Caller destroys. */
cq_avro_schema_t *cq_avro_schema_new(json_t *openapi, char *errstr, size_t errstr_size);
/* Frees everything; NULL is a no-op. */
void cq_avro_schema_destroy(cq_avro_schema_t *schema);
/* The operation named name, or NULL. */
const cq_avro_op_t *cq_avro_schema_op(const cq_avro_schema_t *schema, const char *name);
/* Avro Parsing Canonical Form of an Avro schema given as JSON (names made
 * full, only type/name/fields/symbols/items/values/size kept, in that order,
 * no whitespace). Caller frees; NULL when the JSON is not an Avro schema. */
char *cq_avro_schema_canonical(const json_t *schema);

#endif
