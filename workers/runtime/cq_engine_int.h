/*
 * cq_engine_int.h — the engine context's insides, shared by the runtime
 * (cq_job.c fills one per job) and the unit tests (which drive engines
 * with a context of their own and a fake clock). Not for engines: they
 * use the accessors of cq_engine.h.
 */
#ifndef CQ_ENGINE_INT_H
#define CQ_ENGINE_INT_H

#include "cq_metrics.h"
#include "cq_offload.h"
#include "cq_worker.h"

#define CQ_ENGINE_CTX_MAGIC 0x6a6f6263u /* "jobc" */

/* What every job of a worker shares. */
typedef struct {
    cq_clock_fn clock; /* NULL: the wall clock */
    void *clock_opaque;
    const cq_config_t *conf;
    cq_store_t *store;
    cq_offload_t *offload;
    cq_fetch_t *fetch;
    cq_metrics_t *metrics; /* the engines' counters; NULL: not counted */
} cq_engine_env_t;

/* Takes a prepared LLM input (cq_engine_ask_llm; references taken on true). */
typedef bool (*cq_engine_ask_fn)(cq_engine_ctx_t *ctx, json_t *input, json_t *fallback);

/* Receives the answer of cq_job_done (result: a reference it takes). */
typedef void (*cq_engine_done_fn)(cq_engine_ctx_t *ctx, cq_err_t err, json_t *result,
                                  const char *message);

struct cq_engine_ctx_s {
    unsigned int magic;
    const char *job_id, *tenant, *user, *operation, *credentials; /* borrowed */
    int attempt;
    const cq_engine_env_t *env;
    cq_engine_done_fn done;
    cq_engine_ask_fn ask;         /* NULL: no model answers this job */
    cq_engine_answer_fn answered; /* cq_engine_ask_llm_then's; NULL: the answer ends the job */
    bool finished;                /* cq_job_done was called for the current start */
    void *state;
    void (*state_free)(void *);
    const cq_log_ctx_t *log_ctx; /* the job's: its offloaded calls' callbacks run in it */
};

/* Readies ctx for one start (finished cleared; identity and env as set). */
void cq_engine_ctx_arm(cq_engine_ctx_t *ctx);
/* Frees the engine's state, if any. */
void cq_engine_ctx_clear(cq_engine_ctx_t *ctx);

/* Runs a pure engine as an engine: computes, then calls cq_job_done before
 * returning. */
void cq_engine_run_builtin(cq_engine_ctx_t *ctx, cq_builtin_fn *fn, const json_t *request);

#endif
