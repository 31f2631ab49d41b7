/*
 * cq_fetch_dest.h — the circuit breakers of the fetch layer, one per
 * destination ("host:port"), created on first use.
 *
 * A call holds a reference to the destination of its current hop. When the
 * table holds max_entries destinations, the next new one first drops every
 * destination that no call holds and whose circuit is closed: all such an
 * entry remembers is a count of recent failures, so the table stays bounded
 * however many different hosts users name. Configured destinations
 * (cq_fetch_dests_configure) are never dropped.
 *
 * Not thread-safe: the fetch's loop thread owns the table (the breakers
 * themselves are thread-safe).
 */
#ifndef CQ_FETCH_DEST_H
#define CQ_FETCH_DEST_H

#include "cq_breaker.h"
#include "cq_common.h"
#include "cq_histo.h"

typedef struct cq_fetch_dests_s cq_fetch_dests_t;
typedef struct cq_fetch_dest_s cq_fetch_dest_t;

/* Breakers open after `failures` consecutive failures for cooldown_ms
 * (see cq_breaker_new); max_entries >= 1. Caller destroys. */
cq_fetch_dests_t *cq_fetch_dests_new(int failures, int64_t cooldown_ms, size_t max_entries);
/* Frees every destination, held or not. NULL is a no-op. */
void cq_fetch_dests_destroy(cq_fetch_dests_t *dests);

/* The destination called name, created (closed) if new, with one more
 * reference held by the caller until cq_fetch_dests_release. */
cq_fetch_dest_t *cq_fetch_dests_acquire(cq_fetch_dests_t *dests, const char *name);
/* Gives the destination called name (created if new) a breaker of its
 * own that opens after `failures` consecutive failures for cooldown_ms,
 * and keeps it in the table for good: for destinations from configuration
 * (an LLM provider) whose settings differ from the table's. Replaces its
 * breaker: call before any call holds it. */
void cq_fetch_dests_configure(cq_fetch_dests_t *dests, const char *name, int failures,
                              int64_t cooldown_ms);
/* Drops a reference taken by acquire. NULL is a no-op. */
void cq_fetch_dests_release(cq_fetch_dest_t *dest);
/* The destination's breaker (valid while the reference is held). */
cq_breaker_t *cq_fetch_dest_breaker(cq_fetch_dest_t *dest);

/* "closed", "open" or "half_open"; "closed" for an unknown name. */
const char *cq_fetch_dests_state(cq_fetch_dests_t *dests, const char *name);
/* Destinations in the table. */
size_t cq_fetch_dests_count(const cq_fetch_dests_t *dests);

/* The call-duration histogram of a fetch
 * (coachq_worker_upstream_call_duration_seconds by destination and
 * outcome): at most CQ_FETCH_DEST_MAX_SERIES label sets, then
 * destination="other". Caller destroys it (cq_histo_destroy). */
#define CQ_FETCH_DEST_MAX_SERIES 160
cq_histo_t *cq_fetch_dest_histo_new(void);
/* Records one call that ended: its destination ("host:port"; a URL a user
 * gave is counted as destination="user-url", whatever its host, so users
 * cannot grow the label sets), its outcome (the status class, or the
 * failure's name when no response came) and its duration. Any thread. */
void cq_fetch_dest_observe(cq_histo_t *histo, const char *dest, bool user_url, long status,
                           const char *fail_name, int64_t latency_ms);

#endif
