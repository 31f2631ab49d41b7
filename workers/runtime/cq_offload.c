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

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CQ_OFFLOAD_THREADS_MAX 16

struct cq_offload_s {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    cq_offload_item_t *todo, **todo_tail;
    cq_offload_item_t *finished, **finished_tail;
    bool stopping;
    size_t pending; /* loop thread only */
    void (*wake)(void *);
    void *wake_opaque;
    int nthreads;
    pthread_t threads[CQ_OFFLOAD_THREADS_MAX];
};

static void *cq_offload_thread(void *opaque)
{
    cq_offload_t *q = opaque;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->todo && !q->stopping)
            pthread_cond_wait(&q->ready, &q->lock);
        if (q->stopping)
            break;
        cq_offload_item_t *item = q->todo;
        q->todo = item->next;
        if (!q->todo)
            q->todo_tail = &q->todo;
        pthread_mutex_unlock(&q->lock);

        item->work(item);

        pthread_mutex_lock(&q->lock);
        /* One wake per batch: while completions wait undrained, the loop
         * has been woken already or does not wait (a partial drain). */
        bool first = q->finished == NULL;
        item->next = NULL;
        *q->finished_tail = item;
        q->finished_tail = &item->next;
        pthread_mutex_unlock(&q->lock);
        if (first && q->wake)
            q->wake(q->wake_opaque);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

cq_offload_t *cq_offload_new(int threads, void (*wake)(void *), void *wake_opaque)
{
    assert(threads >= 1 && threads <= CQ_OFFLOAD_THREADS_MAX);
    cq_offload_t *q = cq_calloc(1, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    q->todo_tail = &q->todo;
    q->finished_tail = &q->finished;
    q->wake = wake;
    q->wake_opaque = wake_opaque;
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
    free(q);
}

void cq_offload_submit(cq_offload_t *q, cq_offload_item_t *item)
{
    assert(item->work && item->done);
    item->next = NULL;
    q->pending++;
    pthread_mutex_lock(&q->lock);
    *q->todo_tail = item;
    q->todo_tail = &item->next;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

size_t cq_offload_drain(cq_offload_t *q, size_t max)
{
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
        item->done(item);
    }
    return n;
}

size_t cq_offload_pending(const cq_offload_t *q)
{
    return q->pending;
}
