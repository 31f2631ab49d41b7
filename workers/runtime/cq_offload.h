/*
 * cq_offload.h — calls that may block (Redis round trips, broker metadata
 * requests) run on a few helper threads, so the worker loop never waits on
 * them; their completions come back to the loop thread.
 *
 * The caller owns each item (jobs embed theirs: no allocation per call) and
 * must not touch it between submit and its done callback. Finished calls
 * make a descriptor readable (cq_offload_fd), so the loop's wait returns
 * and drains them at once.
 *
 * Under load, a helper thread takes the run of queued items that carry a
 * store call (up to 32) at once and sends their calls in one round trip:
 * what a job costs in Redis round trips and wake-ups falls as load rises.
 *
 * Threads: submit, hold, kick, release, drain and pending on the loop
 * thread only; prepare and work run on a helper thread, done on the loop
 * thread inside cq_offload_drain.
 */
#ifndef CQ_OFFLOAD_H
#define CQ_OFFLOAD_H

#include "cq_common.h"
#include "cq_log.h"
#include "cq_store.h"

typedef struct cq_offload_s cq_offload_t;
typedef struct cq_offload_item_s cq_offload_item_t;

typedef void (*cq_offload_fn)(cq_offload_item_t *item);
typedef cq_store_call_t *(*cq_offload_prepare_fn)(cq_offload_item_t *item);

struct cq_offload_item_s {
    cq_offload_fn work; /* on a helper thread: the blocking call */
    cq_offload_fn done; /* on the loop thread: what follows it */
    /* Optional (NULL: none), for an item whose blocking call is one store
     * claim or finish: on the helper thread, before work, makes that call
     * (or returns NULL: none after all). The calls of the items a helper
     * thread takes together go to Redis in one round trip (cq_store_run);
     * then work runs with the answer in call, which it ends. */
    cq_offload_prepare_fn prepare;
    cq_store_call_t *call;   /* what prepare made, for work */
    void *arg;               /* the caller's */
    cq_offload_item_t *next; /* the queue's */
    /* The log context done runs in (cq_log.h), or NULL: none. It must live
     * until done runs (the job's, for an engine's call). */
    const cq_log_ctx_t *log_ctx;
};

/* threads helper threads (1..16); store runs the items' prepared calls (NULL:
 * they fail as with Redis down). Never NULL. */
cq_offload_t *cq_offload_new(int threads, cq_store_t *store);
/* Stops the threads after the call each is running; calls still queued
 * are not run and no done callback runs. NULL is a no-op. */
void cq_offload_destroy(cq_offload_t *q);

/* Queues item->work; item->done runs later in cq_offload_drain. */
void cq_offload_submit(cq_offload_t *q, cq_offload_item_t *item);
/* Queues item->work ahead of every call queued (not of those running):
 * for a short call that must not wait behind a backlog. */
void cq_offload_submit_first(cq_offload_t *q, cq_offload_item_t *item);
/* Wake-ups in bursts. Between cq_offload_hold and cq_offload_release,
 * submits queue their items without waking a helper thread; each
 * cq_offload_kick (and the release) wakes helpers for what was queued
 * since. A loop that submits dozens of calls in one pass wakes the helpers
 * once instead of once per call, so they take the calls as one run (one
 * Redis round trip) and preempt the loop less. A helper still awake
 * (ending a call) takes queued items without a kick; none waits past the
 * next kick, and the holder kicks before it waits. */
void cq_offload_hold(cq_offload_t *q);
void cq_offload_kick(cq_offload_t *q);
void cq_offload_release(cq_offload_t *q);
/* Runs the done callbacks of up to max calls that finished (0: all);
 * returns how many ran. Fewer than max means none is left. */
size_t cq_offload_drain(cq_offload_t *q, size_t max);
/* Readable while finished calls wait for cq_offload_drain (an eventfd). */
int cq_offload_fd(const cq_offload_t *q);
/* Calls submitted whose done callback has not run yet. */
size_t cq_offload_pending(const cq_offload_t *q);

#endif
