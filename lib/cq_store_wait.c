/*
 * cq_store_wait.c — long-poll waits on jobs (see cq_store.h and the design
 * comment of cq_store.c: one events channel, a waiter table keyed by job id,
 * a generation per entry, re-reads at least every second).
 *
 * Threads: any thread waits; the store's listener thread only notifies.
 */
#include "cq_store_int.h"
#include "cq_log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void cq_store_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

/* Waits on cond until the monotonic deadline (ms); ETIMEDOUT once past it. */
static int cq_store_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    return pthread_cond_timedwait(cond, lock, &ts);
}

static size_t cq_store_bucket(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return (size_t)(h % CQ_STORE_BUCKETS);
}

/* Needs wait_lock. */
static cq_store_waiter_t *cq_store_waiter_find(cq_store_t *store, const char *job_id, size_t len)
{
    for (cq_store_waiter_t *w = store->buckets[cq_store_bucket(job_id, len)]; w; w = w->next)
        if (w->job_id_len == len && memcmp(w->job_id, job_id, len) == 0)
            return w;
    return NULL;
}

/* Registers one more waiter of job_id; needs wait_lock. */
static cq_store_waiter_t *cq_store_waiter_get(cq_store_t *store, const char *job_id)
{
    size_t len = strlen(job_id);
    cq_store_waiter_t *w = cq_store_waiter_find(store, job_id, len);
    if (!w) {
        w = cq_calloc(1, sizeof(*w));
        w->job_id = cq_strdup(job_id);
        w->job_id_len = len;
        cq_store_cond_init(&w->cond);
        size_t b = cq_store_bucket(job_id, len);
        w->next = store->buckets[b];
        store->buckets[b] = w;
    }
    w->refs++;
    return w;
}

/* Unregisters a waiter, freeing the entry with the last one; needs wait_lock. */
static void cq_store_waiter_put(cq_store_t *store, cq_store_waiter_t *w)
{
    if (--w->refs > 0)
        return;
    cq_store_waiter_t **p = &store->buckets[cq_store_bucket(w->job_id, w->job_id_len)];
    while (*p != w)
        p = &(*p)->next;
    *p = w->next;
    pthread_cond_destroy(&w->cond);
    free(w->job_id);
    free(w);
}

/* Wakes the waiters of one job, or of every job when job_id is NULL. */
static void cq_store_notify(cq_store_t *store, const char *job_id, size_t len)
{
    pthread_mutex_lock(&store->wait_lock);
    if (job_id) {
        cq_store_waiter_t *w = cq_store_waiter_find(store, job_id, len);
        if (w) {
            w->gen++;
            pthread_cond_broadcast(&w->cond);
        }
    } else {
        for (int i = 0; i < CQ_STORE_BUCKETS; i++) {
            for (cq_store_waiter_t *w = store->buckets[i]; w; w = w->next) {
                w->gen++;
                pthread_cond_broadcast(&w->cond);
            }
        }
    }
    pthread_mutex_unlock(&store->wait_lock);
}

/* Listener callback (listener thread): a finished job id, or NULL after a
 * (re)subscription, when any job may have finished unheard. */
static void cq_store_on_event(void *arg, const char *job_id, size_t len)
{
    cq_store_notify(arg, job_id, len);
}

/* The wait proper: w is registered; gen its generation when the record was
 * last known non-terminal (read_first: not known at all, read at once). */
static cq_err_t cq_store_wait_on(cq_store_t *store, cq_store_waiter_t *w, uint64_t gen,
                                 bool read_first, int64_t timeout_ms, cq_job_record_t *out)
{
    if (timeout_ms > CQ_STORE_WAIT_MAX_MS)
        timeout_ms = CQ_STORE_WAIT_MAX_MS;
    int64_t deadline = cq_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    bool read = read_first;
    cq_err_t err = CQ_ERR_OK;
    for (;;) {
        if (read) {
            /* Generation first: a message between the read and the sleep is not lost. */
            pthread_mutex_lock(&store->wait_lock);
            gen = w->gen;
            pthread_mutex_unlock(&store->wait_lock);
            cq_job_record_clear(out);
            err = cq_store_get(store, w->job_id, out);
            int64_t now = cq_mono_ms();
            if (err != CQ_ERR_OK || cq_job_status_terminal(out->status) || now >= deadline)
                break;
        }
        read = true;
        int64_t now = cq_mono_ms();
        int64_t wake_at = now + CQ_STORE_REREAD_MS < deadline ? now + CQ_STORE_REREAD_MS : deadline;
        pthread_mutex_lock(&store->wait_lock);
        while (w->gen == gen &&
               cq_store_cond_wait_until(&w->cond, &store->wait_lock, wake_at) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&store->wait_lock);
    }
    pthread_mutex_lock(&store->wait_lock);
    cq_store_waiter_put(store, w);
    pthread_mutex_unlock(&store->wait_lock);
    return err;
}

cq_err_t cq_store_wait(cq_store_t *store, const char *job_id, int64_t timeout_ms,
                       cq_job_record_t *out)
{
    if (!store || !job_id || !out)
        return CQ_ERR_INTERNAL_ERROR;
    cq_job_record_clear(out);
    if (!job_id[0])
        return CQ_ERR_NOT_FOUND;
    /* Started once; if it cannot run, waiters still re-read every second. */
    cq_redis_listen(store->redis, store->events, cq_store_on_event, store);
    pthread_mutex_lock(&store->wait_lock);
    cq_store_waiter_t *w = cq_store_waiter_get(store, job_id);
    pthread_mutex_unlock(&store->wait_lock);
    return cq_store_wait_on(store, w, 0, true, timeout_ms, out);
}

void cq_store_wait_register(cq_store_t *store, const char *job_id, cq_store_ticket_t *ticket)
{
    ticket->waiter = NULL;
    ticket->gen = 0;
    if (!store || !job_id || !job_id[0])
        return;
    cq_redis_listen(store->redis, store->events, cq_store_on_event, store);
    pthread_mutex_lock(&store->wait_lock);
    cq_store_waiter_t *w = cq_store_waiter_get(store, job_id);
    ticket->waiter = w;
    ticket->gen = w->gen;
    pthread_mutex_unlock(&store->wait_lock);
}

cq_err_t cq_store_wait_ticket(cq_store_t *store, cq_store_ticket_t *ticket, int64_t timeout_ms,
                              cq_job_record_t *out)
{
    if (!store || !ticket || !ticket->waiter || !out)
        return CQ_ERR_INTERNAL_ERROR;
    cq_job_record_clear(out);
    cq_store_waiter_t *w = ticket->waiter;
    ticket->waiter = NULL;
    return cq_store_wait_on(store, w, ticket->gen, false, timeout_ms, out);
}

void cq_store_wait_drop(cq_store_t *store, cq_store_ticket_t *ticket)
{
    if (!store || !ticket || !ticket->waiter)
        return;
    pthread_mutex_lock(&store->wait_lock);
    cq_store_waiter_put(store, ticket->waiter);
    pthread_mutex_unlock(&store->wait_lock);
    ticket->waiter = NULL;
}
