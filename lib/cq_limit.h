/*
 * cq_limit.h — per-tenant limits: the request rate the gateway allows each
 * tenant (GCRA, a token bucket without a refill timer) and the daily LLM
 * token budget the workers enforce.
 *
 * This module is pure: policies parsed from config, the rate arithmetic
 * with the clock passed in, header texts, day stamps and token estimates.
 * The state lives in Redis (cq_store.h: cq_store_rate_take runs the same
 * arithmetic as cq_limit_gcra in one Lua script; cq_store_tokens_*), so the
 * limits hold across gateway and worker replicas.
 *
 * A cq_limit_t is built once at start and read-only afterwards: any thread
 * may read it without locks.
 */
#ifndef CQ_LIMIT_H
#define CQ_LIMIT_H

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"

/* A tenant's request rate: rate jobs per minute sustained, burst at once.
 * rate 0: not limited. */
typedef struct {
    int64_t rate, burst;
} cq_limit_rate_t;

/* What one rate check decided. Times in microseconds. */
typedef struct {
    bool allowed;
    int64_t remaining;      /* jobs that could still be submitted now */
    int64_t reset_us;       /* until the bucket is full again */
    int64_t retry_after_us; /* refused: until the same request would pass; else 0 */
    int64_t tat_us;         /* the bucket's state after the check (theoretical arrival time) */
} cq_limit_decision_t;

typedef struct cq_limit_s cq_limit_t;

/* Builds the limits from conf: ratelimit.rate/.burst/.tenants and
 * llm.token_budget/.token_budgets. NULL with errstr naming the key and the
 * entry when a list does not parse. Caller destroys. */
cq_limit_t *cq_limit_new(const cq_config_t *conf, char *errstr, size_t errstr_size);
void cq_limit_destroy(cq_limit_t *limit);

/* The tenant's rate policy (its override, else the default). */
cq_limit_rate_t cq_limit_rate_of(const cq_limit_t *limit, const char *tenant);
/* The tenant's daily token budget (its override, else the default); 0: none. */
int64_t cq_limit_budget_of(const cq_limit_t *limit, const char *tenant);

/* Parses "tenant=rate/burst,tenant=rate/burst" (spaces around entries
 * allowed, an empty list is fine) into parallel arrays the caller frees
 * (names with each string). burst must be >= 1, rate >= 0; a tenant named
 * twice is refused. */
cq_err_t cq_limit_parse_rates(const char *list, char ***tenants, cq_limit_rate_t **rates,
                              size_t *count, char *errstr, size_t errstr_size);
/* Parses "tenant=tokens,..." likewise (tokens >= 0; 0: unlimited). */
cq_err_t cq_limit_parse_budgets(const char *list, char ***tenants, int64_t **budgets, size_t *count,
                                char *errstr, size_t errstr_size);

/* The emission interval of a policy: microseconds one job costs (rate > 0). */
int64_t cq_limit_interval_us(cq_limit_rate_t rate);

/*
 * GCRA: a bucket of `burst` jobs refilled at `rate` per minute, its state
 * one number, tat_us (0: never used). A check of cost jobs at now_us passes
 * when the bucket holds them; then the state moves on by cost intervals.
 * A refused check leaves the state as it was. A cost larger than the burst
 * never passes. The Lua script of cq_store_rate_take is this function.
 */
void cq_limit_gcra(int64_t tat_us, int64_t now_us, cq_limit_rate_t rate, int64_t cost,
                   cq_limit_decision_t *out);

/*
 * The header values of draft-ietf-httpapi-ratelimit-headers-10 (structured
 * fields, one policy named "tenant"):
 *   RateLimit-Policy: "tenant";q=<burst>;w=<seconds to refill the burst>
 *   RateLimit: "tenant";r=<remaining>;t=<seconds until the bucket is full>
 * and Retry-After in whole seconds (at least 1) for a refused check.
 */
void cq_limit_policy_header(cq_limit_rate_t rate, char *out, size_t out_size);
void cq_limit_state_header(const cq_limit_decision_t *d, char *out, size_t out_size);
int64_t cq_limit_retry_after_s(const cq_limit_decision_t *d);

/* The UTC day of a time as YYYYMMDD (budgets count per UTC day). */
void cq_limit_day(int64_t now_ms, char out[9]);
/* Milliseconds from now_ms to the next UTC midnight. */
int64_t cq_limit_day_left_ms(int64_t now_ms);

/* Tokens of a text when the provider reported none: one per 4 bytes,
 * rounded up (the usual ratio for English text with BPE tokenizers; it
 * over-counts JSON punctuation slightly, which errs on the budget's side). */
int64_t cq_limit_estimate_tokens(size_t bytes);

#endif
