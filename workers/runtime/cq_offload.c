/*
 * cq_offload.c — blocking calls off the worker loop (see cq_offload.h).
 *
 * Two intrusive FIFO lists under one mutex: todo (submitted, not started)
 * and finished (ran, done not yet called). Helper threads sleep on a
 * condition variable; the loop never sleeps here: drain takes the whole
 * finished list at once and runs the callbacks without the lock, so a
 * callback may submit again.
 */
#include "cq_offload.h"
#include "cq_log.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CQ_OFFLOAD_THREADS_MAX 16
/* Most items with store calls one helper thread takes at once. */
#define CQ_OFFLOAD_BATCH 32

struct cq_offload_s {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    cq_offload_item_t *todo, **todo_tail;
    cq_offload_item_t *finished, **finished_tail;
    bool stopping;
    cq_store_t *store; /* runs the items' prepared calls */
    size_t pending;    /* loop thread only */
    /* Wake-ups held back (cq_offload_hold): loop thread only. */
    bool held;
    size_t unwoken; /* items submitted while held, not yet announced */
    int event_fd;   /* counts batches of finished calls; read by drain */
    int nthreads;
    pthread_t threads[CQ_OFFLOAD_THREADS_MAX];
};

/* Takes from the head of todo (locked, not empty): one item, or the run of
 * items with a store call, at most CQ_OFFLOAD_BATCH. Returns how many. */
static size_t cq_offload_take(cq_offload_t *q, cq_offload_item_t **batch)
{
    size_t n = 0;
    do {
        batch[n] = q->todo;
        q->todo = batch[n]->next;
        n++;
    } while (q->todo && batch[0]->prepare && q->todo->prepare && n < CQ_OFFLOAD_BATCH);
    if (!q->todo)
        q->todo_tail = &q->todo;
    return n;
}

static void *cq_offload_thread(void *opaque)
{
    cq_offload_t *q = opaque;
    cq_offload_item_t *batch[CQ_OFFLOAD_BATCH];
    cq_store_call_t *calls[CQ_OFFLOAD_BATCH];
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->todo && !q->stopping)
            pthread_cond_wait(&q->ready, &q->lock);
        if (q->stopping)
            break;
        size_t n = cq_offload_take(q, batch), ncalls = 0;
        pthread_mutex_unlock(&q->lock);

        for (size_t i = 0; i < n; i++) {
            cq_offload_item_t *item = batch[i];
            item->call = item->prepare ? item->prepare(item) : NULL;
            if (item->call)
                calls[ncalls++] = item->call;
        }
        if (ncalls)
            cq_store_run(q->store, calls, ncalls);
        for (size_t i = 0; i < n; i++)
            batch[i]->work(batch[i]);

        pthread_mutex_lock(&q->lock);
        /* One wake per batch: while completions wait undrained, the loop
         * has been woken already or does not wait (a partial drain). */
        bool first = q->finished == NULL;
        for (size_t i = 0; i < n; i++) {
            batch[i]->next = NULL;
            *q->finished_tail = batch[i];
            q->finished_tail = &batch[i]->next;
        }
        pthread_mutex_unlock(&q->lock);
        if (first) {
            uint64_t one = 1;
            ssize_t w = write(q->event_fd, &one, sizeof(one));
            CQ_UNUSED(w); /* an eventfd only refuses past 2^64 - 2 */
        }
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

cq_offload_t *cq_offload_new(int threads, cq_store_t *store)
{
    assert(threads >= 1 && threads <= CQ_OFFLOAD_THREADS_MAX);
    cq_offload_t *q = cq_calloc(1, sizeof(*q));
    q->store = store;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    q->todo_tail = &q->todo;
    q->finished_tail = &q->finished;
    q->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->event_fd < 0) {
        fprintf(stderr, "coachq: cannot make an eventfd\n");
        abort();
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&q->threads[i], NULL, cq_offload_thread, q) != 0) {
            fprintf(stderr, "coachq: cannot start an offload thread\n");
            abort();
        }
        q->nthreads++;
    }
    return q;
}

void cq_offload_destroy(cq_offload_t *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    pthread_cond_destroy(&q->ready);
    pthread_mutex_destroy(&q->lock);
    close(q->event_fd);
    free(q);
}

/* A new item is queued (locked): wakes a helper now, or counts it for the
 * next cq_offload_kick while wake-ups are held. */
static void cq_offload_wake_locked(cq_offload_t *q)
{
    if (q->held)
        q->unwoken++;
    else
        pthread_cond_signal(&q->ready);
}

void cq_offload_submit(cq_offload_t *q, cq_offload_item_t *item)
{
    assert(item->work && item->done);
    item->next = NULL;
    q->pending++;
    pthread_mutex_lock(&q->lock);
    *q->todo_tail = item;
    q->todo_tail = &item->next;
    cq_offload_wake_locked(q);
    pthread_mutex_unlock(&q->lock);
}

void cq_offload_submit_first(cq_offload_t *q, cq_offload_item_t *item)
{
    assert(item->work && item->done);
    q->pending++;
    pthread_mutex_lock(&q->lock);
    item->next = q->todo;
    q->todo = item;
    if (q->todo_tail == &q->todo)
        q->todo_tail = &item->next;
    cq_offload_wake_locked(q);
    pthread_mutex_unlock(&q->lock);
}

void cq_offload_hold(cq_offload_t *q)
{
    q->held = true;
}

void cq_offload_kick(cq_offload_t *q)
{
    if (!q->unwoken)
        return;
    /* One helper per item, as many as there are helpers: a helper takes a
     * run of store calls at once, and one that finds nothing left sleeps
     * again. */
    size_t n = q->unwoken < (size_t)q->nthreads ? q->unwoken : (size_t)q->nthreads;
    q->unwoken = 0;
    pthread_mutex_lock(&q->lock);
    if (n > 1)
        pthread_cond_broadcast(&q->ready);
    else
        pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

void cq_offload_release(cq_offload_t *q)
{
    q->held = false;
    cq_offload_kick(q);
}

size_t cq_offload_drain(cq_offload_t *q, size_t max)
{
    uint64_t count;
    ssize_t r = read(q->event_fd, &count, sizeof(count)); /* cleared before the list is taken */
    CQ_UNUSED(r);
    pthread_mutex_lock(&q->lock);
    cq_offload_item_t *list = q->finished, *last = NULL;
    size_t n = 0;
    /* Take up to max from the head; the rest stays for the next drain. */
    for (cq_offload_item_t *it = list; it && (max == 0 || n < max); it = it->next) {
        last = it;
        n++;
    }
    if (last) {
        q->finished = last->next;
        if (!q->finished)
            q->finished_tail = &q->finished;
        last->next = NULL;
    } else {
        list = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    n = 0;
    while (list) {
        cq_offload_item_t *item = list;
        list = item->next;
        item->next = NULL;
        q->pending--;
        n++;
        if (item->log_ctx)
            cq_log_ctx_set(item->log_ctx);
        item->done(item);
        cq_log_ctx_set(NULL); /* a job's done sets its own log context */
    }
    return n;
}

int cq_offload_fd(const cq_offload_t *q)
{
    return q->event_fd;
}

size_t cq_offload_pending(const cq_offload_t *q)
{
    return q->pending;
}
