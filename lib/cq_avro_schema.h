/*
 * cq_avro_schema.h — generation of coachq's Avro schemas from the OpenAPI
 * document, used by cq_avro.c. Besides the Avro schema JSON it yields a node
 * graph that says how each Avro type maps back to JSON (which strings hold
 * JSON text, which fields are optional, the JSON name of each field), so the
 * codec never re-derives the mapping.
 *
 * Everything here is built once and read-only afterwards; no avro-c types.
 */
#ifndef CQ_AVRO_SCHEMA_H
#define CQ_AVRO_SCHEMA_H

#include <jansson.h>

#include "cq_common.h"

typedef enum {
    CQ_AVRO_NULL,
    CQ_AVRO_BOOLEAN,
    CQ_AVRO_INT,
    CQ_AVRO_LONG,
    CQ_AVRO_DOUBLE,
    CQ_AVRO_STRING,
    CQ_AVRO_JSON_TEXT, /* Avro string holding any JSON value as compact JSON text */
    CQ_AVRO_ENUM,
    CQ_AVRO_ARRAY,
    CQ_AVRO_RECORD,
    CQ_AVRO_UNION,
} cq_avro_kind_t;

typedef struct cq_avro_node_s cq_avro_node_t;

typedef struct {
    char *name;      /* Avro field name */
    char *json_name; /* property name in JSON */
    cq_avro_node_t *type;
    bool optional; /* not required in JSON: absent <-> null (type is a union, null first) */
} cq_avro_field_t;

struct cq_avro_node_s {
    cq_avro_kind_t kind;
    char *name;   /* records and enums: short name (namespace io.coachq) */
    size_t count; /* fields, symbols or branches */
    cq_avro_field_t *fields;
    char **symbols;
    cq_avro_node_t **branches;
    cq_avro_node_t *items;
    json_t *konst; /* STRING: the JSON Schema const, used to pick a union branch */
    bool wrapper;  /* RECORD whose one field "value" holds the whole JSON value */
    cq_avro_node_t *next_alloc; /* every node of a graph, for freeing */
};

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
