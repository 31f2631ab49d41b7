/*
 * cq_bdrefresh.h — background refreshes of a tenant's business data.
 *
 * A hit that finds its copy late in its freshness (refresh-ahead) or past
 * it but within the grace (stale-while-revalidate) is answered from the
 * cache at once and hands the refresh to this module: its thread takes the
 * tenant's flight key and submits one job (single flight, as a miss does),
 * so neither the key nor the submission (a Redis write, the rate limit, a
 * Kafka produce) is in any request's latency.
 */
#ifndef CQ_BDREFRESH_H
#define CQ_BDREFRESH_H

#include <stdatomic.h>

#include "cq_auth.h"
#include "cq_contract.h"
#include "cq_http.h"

struct cq_gateway_s;

typedef struct cq_bdrefresh_s cq_bdrefresh_t;

/* What became of the refreshes handed over, for /metrics (atomics). */
typedef struct {
    atomic_uint_fast64_t submitted; /* a job was queued */
    atomic_uint_fast64_t skipped;   /* a refresh was under way, or the copy already renewed */
    atomic_uint_fast64_t refused;   /* the submission was refused (rate limit, queue down) */
    atomic_uint_fast64_t dropped;   /* not taken: the tenant already waiting, or the queue full */
} cq_bdrefresh_counts_t;

/* Starts the refresh thread. It submits through gw (store, producer,
 * contract, config), which must outlive it; at most capacity refreshes
 * wait for it. NULL with errstr when the thread cannot start. Caller
 * destroys. */
cq_bdrefresh_t *cq_bdrefresh_new(struct cq_gateway_s *gw, size_t capacity, char *errstr,
                                 size_t errstr_size);
/* Stops the thread after the refresh it is running; those still waiting
 * are dropped (none holds a key yet). NULL is a no-op. Call once no HTTP
 * thread can call cq_bdrefresh_queue. */
void cq_bdrefresh_destroy(cq_bdrefresh_t *refresh);

/* Hands over a refresh of who's tenant, whose complete copy stored at
 * stored_at (ms) the caller's hit read: the thread takes the flight key,
 * gives it back at once when that copy was renewed meanwhile, else submits
 * an asynchronous business-data job with the caller's credentials (req's
 * headers but Idempotency-Key, Prefer, Cache-Control and Pragma) and the
 * caller's log context (request id, trace). req and who are copied; op is
 * borrowed (the contract's). Any HTTP thread; never waits for I/O. false
 * when dropped: a refresh of the tenant already waits, or the queue is
 * full (the copy then expires as it would have). */
bool cq_bdrefresh_queue(cq_bdrefresh_t *refresh, const cq_operation_t *op,
                        const cq_principal_t *who, const cq_http_req_t *req, int64_t stored_at);

/* The counters (valid until _destroy). */
const cq_bdrefresh_counts_t *cq_bdrefresh_counts(const cq_bdrefresh_t *refresh);

#endif
