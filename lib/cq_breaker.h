/*
 * cq_breaker.h — a circuit breaker for one LLM provider.
 *
 * closed: calls go through; llm.breaker_failures consecutive failures open
 * it. open: calls are refused until llm.breaker_cooldown has passed, then
 * the next allow() turns it half-open and lets that one call through as a
 * trial. half-open: other calls are refused; the trial's success closes
 * the circuit, its failure opens it again for another cooldown. A trial
 * whose outcome is never recorded (a cancelled job) does not wedge the
 * circuit: after another cooldown the next call becomes the trial.
 *
 * Time is passed in (monotonic milliseconds), so tests drive the clock.
 * Thread-safe: the worker's engine calls allow/record, the gateway's
 * readiness check reads the state; one mutex, held briefly.
 */
#ifndef CQ_BREAKER_H
#define CQ_BREAKER_H

#include "cq_common.h"

typedef struct cq_breaker_s cq_breaker_t;

typedef enum { CQ_BREAKER_CLOSED, CQ_BREAKER_OPEN, CQ_BREAKER_HALF_OPEN } cq_breaker_state_t;

/* A closed breaker that opens after `failures` consecutive failures (at
 * least 1) and stays open cooldown_ms (at least 1). Caller destroys. */
cq_breaker_t *cq_breaker_new(int failures, int64_t cooldown_ms);
void cq_breaker_destroy(cq_breaker_t *b);

/* Whether a call may start now. In the open state past the cooldown this
 * makes the caller the half-open trial: it must record the outcome. */
bool cq_breaker_allow(cq_breaker_t *b, int64_t now_ms);

/* Records the outcome of a call that allow() let through. Only failures
 * that say something about the provider count (timeouts, 5xx, 429, ...);
 * an answer the schema rejects is a success here. A failure while open
 * (a call that started before the circuit opened) changes nothing; any
 * success closes the circuit (the provider answered). */
void cq_breaker_record(cq_breaker_t *b, bool success, int64_t now_ms);

cq_breaker_state_t cq_breaker_state(cq_breaker_t *b);
/* "closed", "open" or "half_open" (static strings; the circuit values of
 * the contract's HealthCheck). */
const char *cq_breaker_state_name(cq_breaker_t *b);

#endif
