/*
 * cq_worker.h — the one worker loop every worker kind uses.
 *
 * A worker kind is a registry of engines; the runtime does the rest:
 * consume the kind's job topic, decode the Avro envelope, claim the job in
 * Redis, validate the request, start the operation's engine, validate its
 * result against the contract, store the terminal state, publish the
 * result record to the reply topic, and only then commit the offset.
 *
 * The operations a kind runs are the ones the contract (x-coachq-kind) gives
 * it. At start the runtime checks the registry against the contract both
 * ways: an engine for an operation the contract does not give the kind, or
 * an operation of the kind with neither an engine nor prompt files, stops
 * the worker with a message saying which.
 *
 * Which engine answers a job: with an LLM provider configured and prompt
 * files for the operation, the LLM engine (and the registered engine is the
 * fallback while the provider's circuit is open, if llm.fallback_builtin);
 * otherwise the registered engine; an operation with prompt files only
 * fails with NOT_IMPLEMENTED (501) without a provider.
 */
#ifndef CQ_WORKER_H
#define CQ_WORKER_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_engine.h"
#include "cq_err.h"

/* A pure engine: a deterministic computation from the request alone.
 * request has passed the operation's request schema. On success *result is
 * a new reference the runtime checks against the result schema. now_ms is
 * the worker's clock (injectable in tests): it stamps dates and decides
 * what "today" is. The runtime wraps it as an engine that finishes at once. */
typedef cq_err_t(cq_builtin_fn)(const json_t *request, int64_t now_ms, json_t **result,
                                char *errstr, size_t errstr_size);

/* One engine of the registry. Set exactly one of builtin and start. */
typedef struct {
    const char *name;         /* x-coachq-operation of the contract */
    cq_builtin_fn *builtin;   /* a pure engine */
    cq_engine_start_fn start; /* an engine that does I/O and finishes later */
    /* The engine prepares the model's input (cq_engine_ask_llm): it runs
     * first even when an LLM would answer the operation. */
    bool prepares_llm_input;
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
