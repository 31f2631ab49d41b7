/*
 * cq_contract.h — the HTTP contract as the programs see it: the OpenAPI
 * document of schemas/ (built in, or the file named by schemas.openapi),
 * its job operations and their compiled request and result schemas.
 *
 * A job operation is an OpenAPI operation object carrying
 * x-coachq-operation (stable name), x-coachq-kind (worker kind and topic),
 * x-coachq-request-schema and x-coachq-result-schema (JSON Pointers into the
 * document). Adding an operation to the document adds its route to the
 * gateway; no C field list repeats the schemas.
 *
 * Built once at start; read-only afterwards, so any thread may use it.
 */
#ifndef CQ_CONTRACT_H
#define CQ_CONTRACT_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"
#include "cq_schema.h"

typedef struct cq_contract_s cq_contract_t;

typedef struct {
    const char *name;   /* x-coachq-operation, e.g. "alignment-check" */
    const char *kind;   /* x-coachq-kind, e.g. "alignment" */
    const char *method; /* "POST" or "GET" */
    const char *path;   /* relative to the base path, e.g. "/coaching/alignment-check" */
    bool deprecated;
    const char *deprecation;    /* Deprecation header value (x-coachq-deprecation), or NULL */
    const char *sunset;         /* Sunset header value (x-coachq-sunset), or NULL */
    const char *successors;     /* x-coachq-successors paths, comma-separated, or NULL */
    bool request_from_query;    /* x-coachq-request-from-query: the request comes from the query */
    bool forward_credentials;   /* x-coachq-forward-credentials: the job carries the caller's
                                   Authorization to call upstream services on its behalf */
    bool tenant_cache;          /* x-coachq-tenant-cache: the gateway answers from the tenant's
                                   cached result, one job per tenant refreshing it */
    const cq_schema_t *request; /* NULL for operations without a body */
    const cq_schema_t *result;
    const char *request_pointer; /* "/components/schemas/AlignmentCheckRequest" or NULL */
    const char *result_pointer;
    const json_t *stamp; /* the result schema's x-coachq-stamp member names, or NULL */
} cq_operation_t;

/* Loads and checks the document, compiles every operation's schemas.
 * NULL with errstr on any inconsistency (missing extension, dangling ref, ...). */
cq_contract_t *cq_contract_new(const cq_config_t *conf, char *errstr, size_t errstr_size);
void cq_contract_destroy(cq_contract_t *contract);

/* The whole document (borrowed) and its compact serialization (for /openapi.json). */
json_t *cq_contract_document(const cq_contract_t *contract);
const char *cq_contract_text(const cq_contract_t *contract, size_t *len);

/* The distinct worker kinds the operations name, in document order. */
size_t cq_contract_kind_count(const cq_contract_t *contract);
const char *cq_contract_kind_at(const cq_contract_t *contract, size_t i);

size_t cq_contract_count(const cq_contract_t *contract);
const cq_operation_t *cq_contract_at(const cq_contract_t *contract, size_t i);
/* The values of an enum the document publishes as a list at method and path
 * (x-coachq-enum on a GET operation), borrowed; NULL if that is no such route. */
const json_t *cq_contract_enum_route(const cq_contract_t *contract, const char *method,
                                     const char *path);

/* By stable name; NULL if unknown. */
const cq_operation_t *cq_contract_find(const cq_contract_t *contract, const char *name);
/* By method and path. NULL if none; *path_known tells whether the path
 * exists with another method (405). */
const cq_operation_t *cq_contract_match(const cq_contract_t *contract, const char *method,
                                        const char *path, bool *path_known);

#endif
