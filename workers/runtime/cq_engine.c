/*
 * cq_engine.c — the engine context (see cq_engine.h): accessors, the one
 * way a job ends (cq_job_done), and pure engines run as engines.
 *
 * The context does not know the worker: cq_job_done hands the answer to the
 * context's done function (the runtime's, or a test's), after checking that
 * the pointer is a context and that the job is not being ended twice, the
 * two mistakes an engine juggling callbacks can make.
 *
 * Threads: the worker loop thread only.
 */
#include "cq_engine_int.h"

#include <assert.h>
#include <stdlib.h>

static void cq_engine_check(const cq_engine_ctx_t *ctx)
{
    assert(ctx != NULL && ctx->magic == CQ_ENGINE_CTX_MAGIC);
    (void)ctx;
}

void cq_job_done(cq_engine_ctx_t *ctx, cq_err_t err, json_t *result, const char *message)
{
    cq_engine_check(ctx);
    assert(!ctx->finished);
    ctx->finished = true;
    if (err != CQ_ERR_OK) {
        json_decref(result);
        result = NULL;
    } else if (!result) {
        err = CQ_ERR_INTERNAL_ERROR;
        message = "The engine finished without a result";
    }
    ctx->done(ctx, err, result, message);
}

bool cq_engine_ask_llm(cq_engine_ctx_t *ctx, json_t *input, json_t *fallback)
{
    cq_engine_check(ctx);
    assert(!ctx->finished);
    return ctx->ask && ctx->ask(ctx, input, fallback);
}

bool cq_engine_ask_llm_then(cq_engine_ctx_t *ctx, json_t *input, json_t *fallback,
                            cq_engine_answer_fn answered)
{
    cq_engine_check(ctx);
    assert(!ctx->finished);
    if (!ctx->ask)
        return false;
    ctx->answered = answered;
    bool asked = ctx->ask(ctx, input, fallback);
    if (!asked)
        ctx->answered = NULL;
    return asked;
}

const char *cq_engine_job_id(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->job_id;
}

const char *cq_engine_tenant(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->tenant;
}

const char *cq_engine_user(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->user;
}

const char *cq_engine_operation(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->operation;
}

int cq_engine_attempt(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->attempt;
}

const char *cq_engine_credentials(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->credentials;
}

int64_t cq_engine_now_ms(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    const cq_engine_env_t *env = ctx->env;
    return env && env->clock ? env->clock(env->clock_opaque) : cq_now_ms();
}

const cq_config_t *cq_engine_config(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->env ? ctx->env->conf : NULL;
}

cq_store_t *cq_engine_store(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->env ? ctx->env->store : NULL;
}

cq_fetch_t *cq_engine_fetch(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->env ? ctx->env->fetch : NULL;
}

void cq_engine_offload(cq_engine_ctx_t *ctx, cq_offload_item_t *item)
{
    cq_engine_check(ctx);
    assert(ctx->env && ctx->env->offload);
    item->log_ctx = ctx->log_ctx;
    cq_offload_submit(ctx->env->offload, item);
}

void cq_engine_state_set(cq_engine_ctx_t *ctx, void *state, void (*state_free)(void *))
{
    cq_engine_check(ctx);
    cq_engine_ctx_clear(ctx);
    ctx->state = state;
    ctx->state_free = state_free;
}

void *cq_engine_state(const cq_engine_ctx_t *ctx)
{
    cq_engine_check(ctx);
    return ctx->state;
}

void cq_engine_ctx_arm(cq_engine_ctx_t *ctx)
{
    ctx->magic = CQ_ENGINE_CTX_MAGIC;
    ctx->finished = false;
    ctx->answered = NULL;
}

void cq_engine_ctx_clear(cq_engine_ctx_t *ctx)
{
    if (ctx->state && ctx->state_free)
        ctx->state_free(ctx->state);
    ctx->state = NULL;
    ctx->state_free = NULL;
}

void cq_engine_run_builtin(cq_engine_ctx_t *ctx, cq_builtin_fn *fn, const json_t *request)
{
    json_t *result = NULL;
    char err[1024] = "";
    cq_err_t rc = fn(request, cq_engine_now_ms(ctx), &result, err, sizeof(err));
    if (rc != CQ_ERR_OK) {
        json_decref(result);
        cq_job_done(ctx, rc, NULL, err[0] ? err : cq_err_desc(rc));
        return;
    }
    cq_job_done(ctx, CQ_ERR_OK, result, NULL);
}

void cq_engine_count(cq_engine_ctx_t *ctx, const char *name, const char *help, const char *labels,
                     uint64_t delta)
{
    cq_engine_check(ctx);
    if (ctx->env && ctx->env->metrics)
        cq_metrics_add(ctx->env->metrics, name, help, labels, delta);
}

void cq_engine_observe(cq_engine_ctx_t *ctx, const char *name, const char *help, const char *labels,
                       const double *bounds, size_t bound_count, double value)
{
    cq_engine_check(ctx);
    if (ctx->env && ctx->env->metrics)
        cq_metrics_observe(ctx->env->metrics, name, help, labels, bounds, bound_count, value);
}
