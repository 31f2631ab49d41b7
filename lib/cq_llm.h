/*
 * cq_llm.h — the LLM engine of a worker: many calls in flight at once over
 * the worker's fetch layer (cq_fetch), never a thread per call.
 *
 * A call is a small state machine: build the provider request
 * (cq_llm_proto), send it through the fetch (which retries transient
 * failures after a jittered backoff or the server's Retry-After, up to
 * llm.max_attempts tries), interpret the reply, then either finish or —
 * once — ask the model to repair an answer that broke the result schema.
 * The answer is asked for in the provider's structured-output mode
 * (llm.structured_output); under auto, a server that refuses a mode moves
 * the engine to the next one for good. The fetch's circuit breaker of the
 * provider's destination (llm.breaker_failures, llm.breaker_cooldown)
 * stops calls while the provider is failing; with llm.fallback_builtin the
 * caller is told to use the builtin engine instead.
 *
 * Observability: a call keeps the caller's log context (cq_log.h) from
 * cq_llm_call: each HTTP attempt sends its trace on as a traceparent (same
 * trace id, a new span id), and the completion callback runs with that
 * context set again. Call durations go to a histogram by provider (and,
 * as the fetch's calls, to the fetch's histogram by destination).
 *
 * Not thread-safe: the worker loop thread owns the engine and drives it
 * with cq_llm_poll (which drives the fetch too); completion callbacks run
 * inside cq_llm_poll.
 */
#ifndef CQ_LLM_H
#define CQ_LLM_H

#include <jansson.h>
#include <stdio.h>

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"
#include "cq_fetch.h"
#include "cq_schema.h"

typedef struct cq_llm_s cq_llm_t;

typedef struct {
    cq_err_t err;      /* CQ_ERR_OK with content, else why it failed */
    bool circuit_open; /* refused by the open breaker (no call was made) */
    json_t *content;   /* the validated answer (borrowed during the callback) */
    char message[256];
    const char *provider;
    const char *model;
    int attempts; /* HTTP calls made, repairs included */
    int64_t prompt_tokens, completion_tokens;
    int64_t latency_ms; /* from the call's start to its end, retries included */
} cq_llm_result_t;

typedef void(cq_llm_done_fn)(void *opaque, const cq_llm_result_t *result);

/* Checks an answer (and may complete it in place, e.g. stamp server-set
 * fields): true if it is acceptable, else errors say why, for the repair
 * prompt. Called with the call's opaque. */
typedef bool(cq_llm_check_fn)(void *opaque, json_t *content, cq_schema_errors_t *errors);

/* NULL with errstr on a bad configuration (unknown provider, missing model
 * or key where required, a bad llm.base_url). For llm.provider=builtin
 * returns an engine that is_builtin and makes no calls (fetch may be NULL).
 * Calls go through fetch (borrowed: it must outlive the engine), which it
 * gives the provider's breaker settings. Caller destroys. */
cq_llm_t *cq_llm_new(const cq_config_t *conf, cq_fetch_t *fetch, char *errstr, size_t errstr_size);
/* Aborts calls still in flight (cancels their fetch calls) without calling
 * their callbacks. Before the fetch is destroyed. NULL is a no-op. */
void cq_llm_destroy(cq_llm_t *llm);

bool cq_llm_is_builtin(const cq_llm_t *llm);
const char *cq_llm_provider(const cq_llm_t *llm);
/* The structured-output mode calls use now ("json_schema", "json_object",
 * "tool", "prompt"; "auto" for builtin): it moves on when the server
 * refuses it under llm.structured_output=auto. */
const char *cq_llm_structured_output(const cq_llm_t *llm);
/* "closed", "open" or "half_open". */
const char *cq_llm_circuit_state(cq_llm_t *llm);

/* Starts a call. system and schema are borrowed and must outlive the call
 * (they belong to the operation, not the job); user is copied. schema is
 * the result's JSON Schema, self-contained (refs inlined), sent as
 * structured output; check judges each answer. done is always called exactly once, later,
 * from cq_llm_poll (even for a call refused at once). */
void cq_llm_call(cq_llm_t *llm, const char *system, const char *user, const char *schema_name,
                 const json_t *schema, cq_llm_check_fn *check, cq_llm_done_fn *done, void *opaque);

/* Drives the fetch (all its calls, the LLM's and others') for up to
 * timeout_ms, reads the replies that arrived and calls callbacks of
 * finished calls (at most 32 of each per poll). Returns at once when work
 * is ready. */
void cq_llm_poll(cq_llm_t *llm, int timeout_ms);

/* As cq_llm_poll, and the wait also ends when one of the fd_count
 * descriptors becomes readable (watched, never read), so the caller's loop
 * waits on its other sources in the same place. */
void cq_llm_poll_fds(cq_llm_t *llm, int timeout_ms, const int *fds, size_t fd_count);

/* The LLM call-duration histogram (coachq_worker_llm_call_duration_seconds)
 * in Prometheus text; first_labels (e.g. kind="alignment") go before its
 * own. Any thread (the metrics server's). */
void cq_llm_metrics_write(cq_llm_t *llm, const char *first_labels, FILE *out);

/* Calls started and not finished. */
size_t cq_llm_in_flight(const cq_llm_t *llm);
/* Peak of cq_llm_in_flight since start (for metrics and benchmarks). */
size_t cq_llm_peak_in_flight(const cq_llm_t *llm);

#endif
