/*
 * cq_engine.h — what an engine sees of the job it answers.
 *
 * An engine starts a job and finishes it later, on the worker loop thread:
 * the runtime calls its start function with a context and the request, and
 * the engine calls cq_job_done exactly once, either before start returns
 * (a pure computation) or later from a callback of I/O the loop drives (an
 * LLM or upstream call, a page fetch). Between the two the engine must not
 * block: the loop runs every other job meanwhile.
 *
 * The context gives the job's identity (job, tenant, user, operation,
 * attempt), the caller's forwarded credentials, the worker's clock
 * (injectable in tests), the store, the configuration and a place for the
 * engine's own per-job state, which the runtime frees with the job (also
 * when the worker stops before the job finished).
 *
 * Threads: the loop thread only. A context is valid from start until the
 * job is freed; after cq_job_done the engine must not touch it again.
 */
#ifndef CQ_ENGINE_H
#define CQ_ENGINE_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"

typedef struct cq_engine_ctx_s cq_engine_ctx_t;
typedef struct cq_store_s cq_store_t;
typedef struct cq_offload_item_s cq_offload_item_t;
typedef struct cq_fetch_s cq_fetch_t;

/* Starts answering one job. request (borrowed) has passed the operation's
 * request schema and stays valid until cq_job_done. */
typedef void (*cq_engine_start_fn)(cq_engine_ctx_t *ctx, const json_t *request);

/* A clock: milliseconds since the epoch. */
typedef int64_t (*cq_clock_fn)(void *opaque);

/*
 * Ends the job the engine was answering. On CQ_ERR_OK result is the answer
 * (the runtime takes the reference, checks it against the result schema,
 * stores and publishes it); otherwise result is NULL and message says what
 * went wrong in words fit for the client (never a provider's raw text).
 * A retriable error (lib/cq_err.h) runs the job again after a backoff,
 * until jobs.max_attempts. Must be called exactly once per start.
 */
void cq_job_done(cq_engine_ctx_t *ctx, cq_err_t err, json_t *result, const char *message);

/*
 * For an engine that prepares what the model reads (registered with
 * .prepares_llm_input, e.g. a page fetched and reduced to its text): when an
 * LLM provider is configured and the operation has prompt files, renders
 * the prompts with input instead of the request and hands the job to the
 * LLM engine, which then ends it with the model's checked answer. While the
 * provider's circuit is open and llm.fallback_builtin is on, the job ends
 * with fallback instead (the engine's own answer; may be NULL: then it
 * fails AI_SERVICE_UNAVAILABLE). Takes both references when it returns
 * true; returns false, taking nothing, when no model answers this
 * operation: the engine ends the job itself.
 */
bool cq_engine_ask_llm(cq_engine_ctx_t *ctx, json_t *input, json_t *fallback);

/* An answer of the LLM path handed back to the engine: the model's, already
 * checked against the result schema (from_model), or the engine's own
 * fallback given to cq_engine_ask_llm_then (open circuit, token budget). A
 * reference the function takes. The engine then ends the job itself
 * (cq_job_done, later if it does I/O first, e.g. storing what the answer
 * says); what it ends with is checked against the result schema again. */
typedef void (*cq_engine_answer_fn)(cq_engine_ctx_t *ctx, json_t *answer, bool from_model);

/* cq_engine_ask_llm whose answer (model or fallback) goes to answered
 * instead of ending the job; a failure of the model still ends the job as
 * with cq_engine_ask_llm. answered may run before this returns. */
bool cq_engine_ask_llm_then(cq_engine_ctx_t *ctx, json_t *input, json_t *fallback,
                            cq_engine_answer_fn answered);

/* The job's identity; strings valid while the context is. tenant is never
 * NULL; user may be. attempt counts from 1. */
const char *cq_engine_job_id(const cq_engine_ctx_t *ctx);
const char *cq_engine_tenant(const cq_engine_ctx_t *ctx);
const char *cq_engine_user(const cq_engine_ctx_t *ctx);
const char *cq_engine_operation(const cq_engine_ctx_t *ctx);
int cq_engine_attempt(const cq_engine_ctx_t *ctx);
/* The caller's Authorization header value to forward to upstream services,
 * or NULL when the job carries none (jobs put straight on Kafka by another
 * service, or a gateway that forwards nothing). */
const char *cq_engine_credentials(const cq_engine_ctx_t *ctx);

/* Now, by the worker's clock (the wall clock unless a test injected one). */
int64_t cq_engine_now_ms(const cq_engine_ctx_t *ctx);
const cq_config_t *cq_engine_config(const cq_engine_ctx_t *ctx);
/* The worker's job store (cache, single-flight keys). Its calls block:
 * make them inside an offloaded call (cq_engine_offload), never directly. */
cq_store_t *cq_engine_store(const cq_engine_ctx_t *ctx);
/* Runs item->work (a blocking call: Redis, a file) on one of the worker's
 * offload threads; item->done follows on the loop thread. The item
 * (cq_offload.h) belongs to the engine and must live until done runs,
 * e.g. inside the engine's per-job state. */
void cq_engine_offload(cq_engine_ctx_t *ctx, cq_offload_item_t *item);

/* The worker's HTTP client (lib/cq_fetch.h), polled by the loop: calls to
 * upstream services and to URLs users supply (with .user_url, under the
 * address policy of fetch.allow). Its callbacks run on the loop thread. */
cq_fetch_t *cq_engine_fetch(const cq_engine_ctx_t *ctx);

/* Adds delta to the engine's counter name{labels} on the worker's
 * /metrics (coachq_worker_<name>; see cq_metrics.h for the forms). */
void cq_engine_count(cq_engine_ctx_t *ctx, const char *name, const char *help, const char *labels,
                     uint64_t delta);

/* Records value in the engine's histogram name{labels} (cq_metrics.h). */
void cq_engine_observe(cq_engine_ctx_t *ctx, const char *name, const char *help, const char *labels,
                       const double *bounds, size_t bound_count, double value);

/* Hands the engine's per-job state to the context: the runtime calls
 * free_fn(state) when the job is freed. One state per job; a second call
 * frees the first. state_free may be NULL for state the engine frees. */
void cq_engine_state_set(cq_engine_ctx_t *ctx, void *state, void (*state_free)(void *));
/* The state set above, or NULL. */
void *cq_engine_state(const cq_engine_ctx_t *ctx);

#endif
