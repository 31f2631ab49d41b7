/*
 * cq_worker.h — the one worker loop every worker kind uses.
 *
 * A worker kind is a table of operations; the runtime does the rest:
 * consume the kind's job topic, decode the Avro envelope, claim the job in
 * Redis, validate the request, run the operation, validate its result
 * against the contract, store the terminal state, publish the result record
 * to the reply topic, and only then commit the offset.
 */
#ifndef CQ_WORKER_H
#define CQ_WORKER_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/* A deterministic implementation of an operation. request has passed the
 * operation's request schema. On success *result is a new reference the
 * runtime checks against the result schema. now_ms stamps lastUpdated-like
 * fields, so tests can fix it. */
typedef cq_err_t(cq_builtin_fn)(const json_t *request, int64_t now_ms, json_t **result,
                                char *errstr, size_t errstr_size);

typedef struct {
    const char *name;       /* x-coachq-operation of the contract */
    cq_builtin_fn *builtin; /* NULL: only an LLM answers it (prompt files required) */
} cq_worker_op_t;

typedef struct {
    const char *kind; /* x-coachq-kind; the topic is topics.jobs_prefix + kind */
    const cq_worker_op_t *ops;
    size_t op_count;
} cq_worker_kind_t;

/* Runs a worker program: parses the command line like every coachq program,
 * then consumes until SIGINT or SIGTERM. Returns the process exit code. */
int cq_worker_main(const cq_worker_kind_t *kind, int argc, char **argv);

#endif
