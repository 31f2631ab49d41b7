/*
 * cq_marks.c — the worker's batch of "published" marks (see cq_marks.h).
 *
 * Two lists of job ids: the queue the loop adds to, and the batch in flight
 * on an offload thread. A flush with no batch in flight, and with
 * CQ_MARKS_MIN ids queued or the oldest queued CQ_MARKS_WAIT_MS ago, moves
 * up to CQ_MARKS_BATCH ids from the queue into the batch and submits it;
 * its done callback frees the ids. So at most one round trip is in flight,
 * carrying the jobs acknowledged while the last one ran or waited.
 *
 * Threads: add, flush and the done callback on the loop thread; the write
 * on an offload thread, which touches only the batch (not the queue).
 */
#include "cq_marks.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char **ids;
    size_t count, cap;
} cq_marks_list_t;

struct cq_marks_s {
    cq_store_t *store;
    cq_offload_t *offload;
    cq_marks_list_t queue; /* loop thread */
    int64_t queued_at;     /* monotonic ms the oldest queued mark came */
    cq_marks_list_t batch; /* the offload thread's while busy */
    bool busy;
    size_t batch_marked; /* written by the work, read by done */
    cq_err_t batch_rc;
    cq_offload_item_t io;
    atomic_uint_fast64_t written, failed;
};

static void cq_marks_list_clear(cq_marks_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->ids[i]);
    list->count = 0;
}

cq_marks_t *cq_marks_new(cq_store_t *store, cq_offload_t *offload)
{
    cq_marks_t *marks = cq_calloc(1, sizeof(*marks));
    marks->store = store;
    marks->offload = offload;
    return marks;
}

void cq_marks_destroy(cq_marks_t *marks)
{
    if (!marks)
        return;
    cq_marks_list_clear(&marks->queue);
    cq_marks_list_clear(&marks->batch);
    free(marks->queue.ids);
    free(marks->batch.ids);
    free(marks);
}

void cq_marks_add(cq_marks_t *marks, const char *job_id)
{
    cq_marks_list_t *q = &marks->queue;
    if (q->count == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->ids = cq_realloc(q->ids, q->cap * sizeof(*q->ids));
    }
    if (q->count == 0)
        marks->queued_at = cq_mono_ms();
    q->ids[q->count++] = cq_strdup(job_id);
}

static void cq_marks_work(cq_offload_item_t *item)
{
    cq_marks_t *marks = item->arg;
    marks->batch_rc = cq_store_mark_published(marks->store, (const char *const *)marks->batch.ids,
                                              marks->batch.count, &marks->batch_marked);
}

static void cq_marks_done(cq_offload_item_t *item)
{
    cq_marks_t *marks = item->arg;
    if (marks->batch_rc == CQ_ERR_OK) {
        atomic_fetch_add(&marks->written, marks->batch_marked);
    } else {
        atomic_fetch_add(&marks->failed, marks->batch.count);
        CQ_LOG(CQ_LOG_DEBUG, "worker", NULL,
               "%zu published marks not written (%s): those jobs are published again if "
               "redelivered",
               marks->batch.count, cq_err_name(marks->batch_rc));
    }
    cq_marks_list_clear(&marks->batch);
    marks->busy = false;
}

void cq_marks_flush(cq_marks_t *marks)
{
    cq_marks_list_t *q = &marks->queue, *b = &marks->batch;
    if (marks->busy || q->count == 0 ||
        (q->count < CQ_MARKS_MIN && cq_mono_ms() - marks->queued_at < CQ_MARKS_WAIT_MS))
        return;
    size_t n = q->count < CQ_MARKS_BATCH ? q->count : CQ_MARKS_BATCH;
    if (b->cap < n) {
        b->cap = n;
        b->ids = cq_realloc(b->ids, b->cap * sizeof(*b->ids));
    }
    /* The oldest first; the rest move up. */
    memcpy(b->ids, q->ids, n * sizeof(*q->ids));
    b->count = n;
    memmove(q->ids, q->ids + n, (q->count - n) * sizeof(*q->ids));
    q->count -= n;
    marks->queued_at = cq_mono_ms(); /* those past a full batch wait a little more */
    marks->busy = true;
    marks->batch_marked = 0;
    marks->io = (cq_offload_item_t){.work = cq_marks_work, .done = cq_marks_done, .arg = marks};
    /* Ahead of the claims and finishes queued: under a backlog they wait
     * hundreds of ms, and a mark that late loses the race with a crash. */
    cq_offload_submit_first(marks->offload, &marks->io);
}

uint64_t cq_marks_written(const cq_marks_t *marks)
{
    return atomic_load(&marks->written);
}

uint64_t cq_marks_failed(const cq_marks_t *marks)
{
    return atomic_load(&marks->failed);
}
