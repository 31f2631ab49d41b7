/*
 * cq_job.c — the life of one job inside a worker (see cq_worker_int.h).
 *
 * Steps: claim in Redis (a terminal job is not run again; its stored record
 * is published again unless the job is marked published, i.e. the broker
 * acknowledged that record once; for a job the LLM would answer, the same offloaded
 * call reads its tenant's token use of the day), check the request, start
 * the operation's engine (the LLM engine when a provider is configured and
 * the operation has prompts, else the registered one; see cq_engine.h; for
 * a tenant past its token budget the registered one with
 * llm.fallback_builtin, else a TOKEN_BUDGET_EXCEEDED failure), which ends the job
 * through cq_job_done, now or later; check the answer against the contract,
 * store it, publish the record to the reply topic (and to the dead-letter
 * topic when it failed for good), and report the offset done once every
 * record is acknowledged. A step that fails on Redis or Kafka is retried
 * after a jittered backoff, alone: an answer already computed is kept.
 *
 * How the job ends (store, publish, dead-letter, retry, commit) is in
 * cq_job_end.c.
 *
 * Runs on the worker loop thread only (LLM callbacks and delivery reports
 * come from polls made on it).
 */
#include "cq_worker_int.h"
#include "cq_log.h"
#include "cq_prompt.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cq_worker_opdef_t *cq_worker_find_op(const cq_worker_t *w, const char *name)
{
    for (size_t i = 0; i < w->op_count; i++)
        if (strcmp(w->ops[i].cop->name, name) == 0)
            return &w->ops[i];
    return NULL;
}

static void cq_worker_metrics_llm(cq_worker_t *w, const cq_llm_result_t *res)
{
    atomic_fetch_add(&w->stats.llm_calls, (uint64_t)res->attempts);
    atomic_fetch_add(&w->stats.prompt_tokens, (uint64_t)res->prompt_tokens);
    atomic_fetch_add(&w->stats.completion_tokens, (uint64_t)res->completion_tokens);
    if (res->err != CQ_ERR_OK)
        atomic_fetch_add(&w->stats.llm_failures, 1);
}

/* A copy of result whose x-coachq-stamp members (listed on the result
 * schema, e.g. lastUpdated) hold the time the service finished the job:
 * what a model writes there is not to be trusted. */
static json_t *cq_job_stamp(cq_job_t *job, const json_t *result)
{
    const json_t *stamp = job->cop->stamp;
    json_t *copy = json_copy((json_t *)result);
    if (!json_is_object(copy) || !stamp)
        return copy;
    char now[40];
    cq_time_iso8601(cq_now_ms(), now, sizeof(now));
    size_t i;
    json_t *name;
    json_array_foreach(stamp, i, name)
    {
        if (json_is_string(name))
            json_object_set_new(copy, json_string_value(name), json_string(now));
    }
    return copy;
}

/* An engine answered: check the answer against the contract, then store it. */
static void cq_job_complete(cq_job_t *job, const json_t *answer, char *engine)
{
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    /* The LLM engine's check already stamped and validated this very answer. */
    json_t *result = job->checked ? json_incref((json_t *)answer) : cq_job_stamp(job, answer);
    if (!job->checked && !cq_schema_validate(job->cop->result, result, &errors)) {
        char err[512];
        snprintf(err, sizeof(err), "The result does not match the schema: %s %s",
                 errors.count ? errors.items[0].path : "",
                 errors.count ? errors.items[0].message : "");
        cq_job_fail(job, CQ_ERR_INVALID_AI_RESPONSE, err);
        free(engine);
    } else {
        job->stage = CQ_JOB_STAGE_STORE;
        job->result_text = json_dumps(result, JSON_COMPACT | JSON_REAL_PRECISION(15));
        json_decref(job->result_json);
        job->result_json = json_incref(result); /* publish need not parse the text back */
        job->engine = engine;
        cq_job_store_result(job);
    }
    json_decref(result);
    cq_schema_errors_clear(&errors);
}

static void cq_job_requeue_work(cq_offload_item_t *item)
{
    cq_job_t *job = item->arg;
    /* Best effort: the record says queued again until the retry claims it. */
    cq_store_requeue(job->w->store, job->env.job_id, cq_err_name(job->fail_err), job->fail_message);
}

static void cq_job_requeue_done(cq_offload_item_t *item)
{
    cq_job_t *job = cq_job_of(item);
    cq_job_schedule_retry(job, cq_worker_backoff(job->w, job->claimed.attempts));
    cq_job_settle(job);
}

/* The engine's answer (cq_job_done): check, store and publish it, or fail
 * or retry the job. */
static void cq_job_engine_done(cq_engine_ctx_t *ctx, cq_err_t err, json_t *result,
                               const char *message)
{
    cq_job_t *job = (cq_job_t *)((char *)ctx - offsetof(cq_job_t, ctx));
    cq_worker_t *w = job->w;
    job->in_engine = false;
    if (err == CQ_ERR_OK) {
        char *engine_text = job->llm_engine;
        job->llm_engine = NULL;
        if (!engine_text) {
            json_t *engine =
                json_pack("{s:s, s:I, s:i}", "name", "builtin", "latencyMs",
                          (json_int_t)(cq_mono_ms() - job->engine_started), "attempts", 1);
            if (job->fallback)
                json_object_set_new(engine, "fallback", json_true());
            engine_text = json_dumps(engine, JSON_COMPACT);
            json_decref(engine);
        }
        cq_job_complete(job, result, engine_text);
        json_decref(result);
    } else if (cq_err_retriable(err) && !job->llm_engine &&
               job->claimed.attempts < w->conf->jobs_max_attempts) {
        CQ_LOG_CODE(CQ_LOG_WARN, "worker", job->env.job_id, cq_err_name(err),
                    "attempt %d failed: %s; retrying", job->claimed.attempts, message);
        job->fail_err = err;
        free(job->fail_message);
        job->fail_message = cq_strdup(message ? message : cq_err_desc(err));
        cq_job_offload(job, cq_job_requeue_work, cq_job_requeue_done);
    } else {
        /* The LLM engine already retried what was worth retrying. */
        free(job->llm_engine);
        job->llm_engine = NULL;
        cq_job_fail(job, err, message && *message ? message : cq_err_desc(err));
    }
    /* An engine that answered inside its start is settled by the step that
     * started it. */
    if (!job->in_start)
        cq_job_settle(job);
}

static bool cq_job_ask_llm(cq_engine_ctx_t *ctx, json_t *input, json_t *fallback);

/* Readies the job's engine context for one start. */
static void cq_job_arm(cq_job_t *job)
{
    cq_engine_ctx_t *ctx = &job->ctx;
    ctx->job_id = job->env.job_id;
    ctx->tenant = job->env.tenant_id ? job->env.tenant_id : "";
    ctx->user = job->env.user_id;
    ctx->operation = job->env.operation;
    ctx->credentials = job->env.authorization; /* a secret: never logged */
    ctx->attempt = job->claimed.attempts;
    ctx->env = &job->w->env;
    ctx->log_ctx = &job->log_ctx;
    job->checked = false;
    ctx->done = cq_job_engine_done;
    ctx->ask = cq_job_ask_llm;
    cq_engine_ctx_clear(ctx); /* what an earlier attempt left */
    cq_engine_ctx_arm(ctx);
    job->in_engine = true;
    job->engine_started = cq_mono_ms();
}

/* Starts the operation's registered engine (fallback: in place of the LLM
 * while its circuit is open). */
static void cq_job_run_engine(cq_job_t *job, bool fallback)
{
    const cq_worker_op_t *reg = job->op->reg;
    if (!reg) {
        char err[256];
        snprintf(err, sizeof(err),
                 fallback ? "The AI provider is unavailable and operation %s has no built-in "
                            "engine to fall back on"
                          : "Operation %s has no built-in engine: it needs an LLM provider "
                            "(llm.provider)",
                 job->cop->name);
        cq_job_fail(job, fallback ? CQ_ERR_AI_SERVICE_UNAVAILABLE : CQ_ERR_NOT_IMPLEMENTED, err);
        return;
    }
    job->fallback = fallback;
    job->engine_kind = fallback ? "fallback" : "builtin";
    cq_job_arm(job);
    job->in_start = true;
    if (reg->builtin)
        cq_engine_run_builtin(&job->ctx, reg->builtin, job->env.payload);
    else
        reg->start(&job->ctx, job->env.payload);
    job->in_start = false;
}

/* Decodes the request again from the message kept for the dead-letter
 * topic (it was dropped while the LLM call ran). */
static bool cq_job_reload_payload(cq_job_t *job)
{
    if (job->env.payload)
        return true;
    cq_job_envelope_t env;
    memset(&env, 0, sizeof(env));
    char err[256];
    if (cq_avro_envelope_decode(job->w->avro, job->raw, job->raw_len, &env, err, sizeof(err)) !=
        CQ_ERR_OK) {
        /* It decoded when it arrived: only a bug can get here. */
        cq_job_fail(job, CQ_ERR_INTERNAL_ERROR, err);
        return false;
    }
    job->env.payload = env.payload;
    env.payload = NULL;
    cq_job_envelope_clear(&env);
    return true;
}

/* Tokens an LLM call used: the provider's count, or when its replies had
 * none, an estimate from the bytes sent (each attempt) and received. */
static int64_t cq_job_tokens_used(const cq_job_t *job, const cq_llm_result_t *res)
{
    int64_t reported = res->prompt_tokens + res->completion_tokens;
    if (reported > 0 || res->attempts <= 0)
        return reported;
    int64_t n = cq_limit_estimate_tokens(job->prompt_bytes) * res->attempts;
    char *text = res->content ? json_dumps(res->content, JSON_COMPACT) : NULL;
    if (text)
        n += cq_limit_estimate_tokens(strlen(text));
    free(text);
    return n;
}

/* The message of a job refused for its tenant's token budget. */
static void cq_job_budget_message(const cq_job_t *job, char *out, size_t out_size)
{
    const char *tenant = job->env.tenant_id ? job->env.tenant_id : "";
    snprintf(out, out_size,
             "Tenant %s has used its daily LLM token budget (%lld tokens); it renews at 00:00 UTC",
             tenant, (long long)cq_limit_budget_of(job->w->limits, tenant));
}

/* The tenant is past its budget: the builtin engine answers with
 * llm.fallback_builtin (the job says fallback), else the job fails. */
static void cq_job_over_budget(cq_job_t *job)
{
    cq_worker_t *w = job->w;
    atomic_fetch_add(&w->stats.budget_exceeded, 1);
    if (w->conf->llm_fallback_builtin && job->op->reg) {
        CQ_LOG(CQ_LOG_INFO, "worker", job->env.job_id,
               "tenant %s is past its daily token budget: answering with the builtin engine",
               job->env.tenant_id ? job->env.tenant_id : "");
        atomic_fetch_add(&w->stats.llm_fallbacks, 1);
        cq_job_run_engine(job, true);
        return;
    }
    char msg[256];
    cq_job_budget_message(job, msg, sizeof(msg));
    cq_job_fail(job, CQ_ERR_TOKEN_BUDGET_EXCEEDED, msg);
}

/* An answer of the LLM path (the model's, or the preparing engine's
 * fallback): it ends the job, or goes back to the engine that asked with
 * cq_engine_ask_llm_then, which ends the job itself (checked again then). */
static void cq_job_llm_answer(cq_job_t *job, json_t *answer, bool from_model)
{
    cq_engine_answer_fn answered = job->ctx.answered;
    if (!answered) {
        cq_job_done(&job->ctx, CQ_ERR_OK, answer, NULL);
        return;
    }
    job->ctx.answered = NULL;
    job->checked = false;
    answered(&job->ctx, answer, from_model);
}

/* The LLM engine's answer. */
static void cq_job_llm_done(void *opaque, const cq_llm_result_t *res)
{
    cq_job_t *job = opaque;
    cq_worker_t *w = job->w;
    if (res->circuit_open && w->conf->llm_fallback_builtin && job->op->reg &&
        job->op->reg->prepares_llm_input) {
        /* The engine ran already and left its own answer. */
        CQ_LOG(CQ_LOG_INFO, "worker", job->env.job_id,
               "LLM circuit open: answering with the builtin engine's answer");
        atomic_fetch_add(&w->stats.llm_fallbacks, 1);
        json_t *fallback = job->llm_fallback;
        job->llm_fallback = NULL;
        job->fallback = true;
        job->engine_kind = "fallback";
        if (fallback)
            cq_job_llm_answer(job, fallback, false);
        else
            cq_job_done(&job->ctx, CQ_ERR_AI_SERVICE_UNAVAILABLE, NULL,
                        "The AI provider is unavailable");
        return;
    }
    if (res->circuit_open && w->conf->llm_fallback_builtin) {
        CQ_LOG(CQ_LOG_INFO, "worker", job->env.job_id,
               "LLM circuit open: answering with the builtin engine");
        atomic_fetch_add(&w->stats.llm_fallbacks, 1);
        job->in_engine = false;
        if (cq_job_reload_payload(job))
            cq_job_run_engine(job, true);
        cq_job_settle(job);
        return;
    }
    cq_worker_metrics_llm(w, res);
    job->tokens_due += cq_job_tokens_used(job, res); /* charged when the job is stored */
    json_t *engine =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:i}", "name", "llm", "provider", res->provider,
                  "model", res->model, "promptTokens", (json_int_t)res->prompt_tokens,
                  "completionTokens", (json_int_t)res->completion_tokens, "latencyMs",
                  (json_int_t)res->latency_ms, "attempts", res->attempts);
    job->llm_engine = json_dumps(engine, JSON_COMPACT);
    json_decref(engine);
    if (res->err == CQ_ERR_OK)
        cq_job_llm_answer(job, json_incref(res->content), true);
    else
        cq_job_done(&job->ctx, res->err, NULL, res->message);
}

/* Judges an LLM answer the way cq_job_complete will: stamped, then valid. */
static bool cq_job_llm_check(void *opaque, json_t *content, cq_schema_errors_t *errors)
{
    cq_job_t *job = opaque;
    json_t *stamped = cq_job_stamp(job, content);
    if (json_is_object(stamped) && json_is_object(content))
        json_object_update(content, stamped);
    json_decref(stamped);
    job->checked = cq_schema_validate(job->cop->result, content, errors);
    return job->checked;
}

/* Sends the operation's prompts, rendered with input, and its result
 * schema to the provider; it comes back through cq_job_llm_done. False
 * (nothing started) when the prompt cannot be rendered. */
static bool cq_job_call_llm(cq_job_t *job, const json_t *input, char *err, size_t err_size)
{
    const cq_worker_opdef_t *op = job->op;
    char *user = cq_prompt_render(op->user, input, err, err_size);
    if (!user)
        return false;
    job->prompt_bytes = strlen(op->system) + strlen(user);
    cq_llm_call(job->w->llm, op->system, user, op->cop->name, op->schema, cq_job_llm_check,
                cq_job_llm_done, job);
    free(user);
    return true;
}

/* cq_engine_ask_llm of a job's context. */
static bool cq_job_ask_llm(cq_engine_ctx_t *ctx, json_t *input, json_t *fallback)
{
    cq_job_t *job = (cq_job_t *)((char *)ctx - offsetof(cq_job_t, ctx));
    if (!job->op->system || cq_llm_is_builtin(job->w->llm))
        return false;
    if (job->over_budget) {
        json_decref(input);
        atomic_fetch_add(&job->w->stats.budget_exceeded, 1);
        if (job->w->conf->llm_fallback_builtin && fallback) {
            atomic_fetch_add(&job->w->stats.llm_fallbacks, 1);
            job->fallback = true;
            cq_job_llm_answer(job, fallback, false);
        } else {
            char msg[256];
            cq_job_budget_message(job, msg, sizeof(msg));
            json_decref(fallback);
            cq_job_done(ctx, CQ_ERR_TOKEN_BUDGET_EXCEEDED, NULL, msg);
        }
        return true;
    }
    char err[256];
    if (!cq_job_call_llm(job, input, err, sizeof(err))) {
        CQ_LOG(CQ_LOG_ERROR, "worker", job->env.job_id, "prompt: %s", err);
        json_decref(input);
        json_decref(fallback);
        cq_job_done(ctx, CQ_ERR_INTERNAL_ERROR, NULL, "The prompt could not be built");
        return true;
    }
    job->engine_kind = "llm";
    json_decref(input); /* the rendered prompt is all the call keeps */
    json_decref(job->llm_fallback);
    job->llm_fallback = fallback;
    return true;
}

/* The LLM engine: the operation's prompts and result schema sent to the
 * provider; it comes back through cq_job_llm_done. */
static void cq_job_run_llm(cq_job_t *job)
{
    char err[256];
    job->fallback = false;
    job->engine_kind = "llm";
    cq_job_arm(job);
    if (!cq_job_call_llm(job, job->env.payload, err, sizeof(err))) {
        job->in_engine = false;
        cq_job_fail(job, CQ_ERR_INTERNAL_ERROR, err);
        return;
    }
    /* While the (slow) call runs, the rendered prompt is all it needs; the
     * parsed request is dropped and decoded again from the message only if
     * the builtin engine has to answer instead. */
    json_decref(job->env.payload);
    job->env.payload = NULL;
}

/* On the claim's offload thread (reads only what is fixed after start):
 * for a job the LLM would answer, whether its tenant is past its daily
 * token budget. A read Redis does not answer lets the job go on (counted):
 * the budget bounds spending, and one failed read costs at most one call. */
static void cq_job_budget_read(cq_job_t *job)
{
    cq_worker_t *w = job->w;
    const cq_worker_opdef_t *op = cq_worker_find_op(w, job->env.operation);
    const char *tenant = job->env.tenant_id ? job->env.tenant_id : "";
    int64_t budget = cq_limit_budget_of(w->limits, tenant);
    if (!op || !op->system || cq_llm_is_builtin(w->llm) || budget <= 0)
        return;
    char day[9];
    cq_limit_day(cq_now_ms(), day);
    int64_t used = 0;
    if (cq_store_tokens_used(w->store, tenant, day, &used) != CQ_ERR_OK) {
        atomic_fetch_add(&w->stats.budget_errors, 1);
        return;
    }
    job->over_budget = used >= budget;
}

/* On the offload thread: the claim, sent with the other store calls of its
 * batch. */
static cq_store_call_t *cq_job_claim_prepare(cq_offload_item_t *item)
{
    cq_job_t *job = item->arg;
    cq_job_envelope_t *env = &job->env;
    cq_job_record_t want;
    memset(&want, 0, sizeof(want));
    want.job_id = env->job_id;
    want.tenant_id = env->tenant_id;
    want.user_id = env->user_id;
    want.operation = env->operation;
    want.kind = (char *)job->w->kind->kind;
    want.batch_id = env->batch_id;
    want.custom_id = env->custom_id;
    want.created_at = env->created_at;
    want.status = CQ_JOB_QUEUED;
    return cq_store_claim_call(job->w->store, &want);
}

static void cq_job_claim_work(cq_offload_item_t *item)
{
    cq_job_t *job = item->arg;
    job->io_rc = cq_store_call_end(item->call, &job->claimed);
    item->call = NULL;
    job->over_budget = false;
    if (job->io_rc == CQ_ERR_OK)
        cq_job_budget_read(job);
}

/* The claim answered: check the job, then start its engine. */
static void cq_job_claimed(cq_job_t *job)
{
    cq_worker_t *w = job->w;
    cq_job_envelope_t *env = &job->env;
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    char err[1024] = "";

    cq_err_t rc = job->io_rc;
    if (rc == CQ_ERR_JOB_ALREADY_TERMINAL && job->claimed.published) {
        /* The broker acknowledged its result record once: done. */
        CQ_LOG(CQ_LOG_INFO, "worker", env->job_id, "already %s and published: nothing to do",
               cq_job_status_name(job->claimed.status));
        atomic_fetch_add(&w->stats.republish_skipped, 1);
        goto out;
    }
    if (rc == CQ_ERR_JOB_ALREADY_TERMINAL) {
        /* Whether its record reached the broker is not known: at least once. */
        CQ_LOG(CQ_LOG_INFO, "worker", env->job_id, "already %s: publishing its record again",
               cq_job_status_name(job->claimed.status));
        atomic_fetch_add(&w->stats.republished, 1);
        cq_job_publish(job, &job->claimed);
        goto out;
    }
    if (rc != CQ_ERR_OK) {
        CQ_LOG(CQ_LOG_WARN, "worker", env->job_id, "cannot claim: %s; retrying", cq_err_name(rc));
        cq_job_schedule_retry(job, cq_worker_backoff(w, 1));
        goto out;
    }
    job->cop = cq_contract_find(w->contract, env->operation);
    job->op = cq_worker_find_op(w, env->operation);
    if (!job->cop || !job->op || strcmp(job->cop->kind, w->kind->kind) != 0) {
        snprintf(err, sizeof(err), "The %s worker does not run operation \"%s\"", w->kind->kind,
                 env->operation);
        cq_job_fail(job, CQ_ERR_UNKNOWN_OPERATION, err);
        goto out;
    }
    if (env->deadline > 0 && cq_now_ms() > env->deadline) {
        cq_job_fail(job, CQ_ERR_JOB_TIMEOUT, "The job was not started before its deadline");
        goto out;
    }
    /* A retry after an LLM call had dropped the parsed request. */
    if (job->cop->request && !env->payload && !cq_job_reload_payload(job))
        goto out;
    /* Jobs may come straight from other services: the request is checked here too. */
    if (job->cop->request && !env->payload) {
        cq_job_fail(job, CQ_ERR_VALIDATION_ERROR, "The job carries no request");
        goto out;
    }
    if (job->cop->request && !cq_schema_validate(job->cop->request, env->payload, &errors)) {
        snprintf(err, sizeof(err), "The request does not match the schema: %s %s",
                 errors.count ? errors.items[0].path : "",
                 errors.count ? errors.items[0].message : "");
        cq_job_fail(job, CQ_ERR_VALIDATION_ERROR, err);
        goto out;
    }
    if (job->op->system && !cq_llm_is_builtin(w->llm) &&
        !(job->op->reg && job->op->reg->prepares_llm_input)) {
        if (job->over_budget)
            cq_job_over_budget(job);
        else
            cq_job_run_llm(job);
    } else {
        cq_job_run_engine(job, false);
    }
out:
    cq_schema_errors_clear(&errors);
}

static void cq_job_claim_done(cq_offload_item_t *item)
{
    cq_job_t *job = cq_job_of(item);
    cq_job_claimed(job);
    cq_job_settle(job);
}

/* Claims the job in the store; cq_job_claimed follows. */
static void cq_job_start(cq_job_t *job)
{
    cq_job_offload_call(job, cq_job_claim_prepare, cq_job_claim_work, cq_job_claim_done);
}

/* One step of a job: the first run, or a retry of the step that failed. */
static void cq_job_step(cq_job_t *job)
{
    if (job->stage == CQ_JOB_STAGE_STORE)
        cq_job_store_result(job);
    else
        cq_job_start(job);
    cq_job_settle(job);
}

void cq_job_on_message(cq_worker_t *w, cq_kafka_msg_t *msg)
{
    cq_job_t *job = cq_calloc(1, sizeof(*job));
    job->w = w;
    job->lnext = w->live;
    if (w->live)
        w->live->lprev = job;
    w->live = job;
    job->topic = cq_strdup(msg->topic);
    job->partition = msg->partition;
    job->offset = msg->offset;
    job->raw = cq_malloc(msg->len ? msg->len : 1);
    memcpy(job->raw, msg->value, msg->len);
    job->raw_len = msg->len;
    cq_offsets_track(w->offsets, job->topic, job->partition, job->offset);

    char err[512];
    size_t fp_len = 0;
    const char *fp = cq_kafka_msg_header(msg, "coachq-fingerprint", &fp_len);
    const char *want = cq_avro_fingerprint(w->avro, "JobEnvelope");
    if (fp && (fp_len != strlen(want) || memcmp(fp, want, fp_len) != 0)) {
        CQ_LOG(CQ_LOG_WARN, "worker", NULL,
               "%s[%d]@%lld written with another envelope schema; decoding anyway", msg->topic,
               msg->partition, (long long)msg->offset);
    }
    if (!msg->value || cq_avro_envelope_decode(w->avro, msg->value, msg->len, &job->env, err,
                                               sizeof(err)) != CQ_ERR_OK) {
        CQ_LOG(CQ_LOG_WARN, "worker", NULL, "%s[%d]@%lld undecodable: %s; dead-lettered",
               msg->topic, msg->partition, (long long)msg->offset, err);
        /* The dead letter names the job its source header named, if any. */
        size_t id_len = 0;
        const char *id = cq_kafka_msg_header(msg, "coachq-job-id", &id_len);
        if (id && id_len <= 64)
            job->env.job_id = cq_strndup(id, id_len);
        cq_job_dead_letter(job, CQ_ERR_UNDECODABLE_MESSAGE, err);
        cq_job_settle(job);
        return;
    }
    job->decoded = true;
    cq_log_ctx_t *lc = &job->log_ctx;
    CQ_LOG_CTX_PUT(lc->job_id, job->env.job_id);
    CQ_LOG_CTX_PUT(lc->tenant, job->env.tenant_id);
    CQ_LOG_CTX_PUT(lc->operation, job->env.operation);
    if (!cq_trace_parse(job->env.trace_parent, &lc->trace)) {
        /* A job another service put on Kafka may carry its trace as a
         * header only (as OpenTelemetry's Kafka instrumentation does). */
        size_t tp_len = 0;
        const char *tp = cq_kafka_msg_header(msg, "traceparent", &tp_len);
        char header[CQ_TRACE_HEADER_LEN + 64];
        if (tp && tp_len < sizeof(header)) {
            memcpy(header, tp, tp_len);
            header[tp_len] = '\0';
            cq_trace_parse(header, &lc->trace); /* none: the trace stays empty */
        }
    }
    cq_job_log_enter(job);
    cq_job_step(job);
}

int cq_job_run_due(cq_worker_t *w)
{
    int64_t now = cq_mono_ms(), next = now + 100;
    cq_job_t *due = NULL;
    for (cq_job_t **pp = &w->retries; *pp;) {
        cq_job_t *job = *pp;
        if (job->retry_at <= now) {
            *pp = job->next;
            job->next = due;
            due = job;
        } else {
            if (job->retry_at < next)
                next = job->retry_at;
            pp = &job->next;
        }
    }
    while (due) {
        cq_job_t *job = due;
        due = job->next;
        job->next = NULL;
        job->retry_at = 0;
        cq_job_log_enter(job);
        if (job->decoded) {
            cq_job_step(job);
        } else {
            cq_job_dead_letter(job, CQ_ERR_UNDECODABLE_MESSAGE, "undecodable message");
            cq_job_settle(job);
        }
        cq_log_ctx_set(NULL);
    }
    return (int)(next - now);
}
