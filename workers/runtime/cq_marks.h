/*
 * cq_marks.h — the worker's batch of "published" marks: jobs whose result
 * record the broker acknowledged, to be marked in the store
 * (cq_store_mark_published) so that a redelivery of the job does not
 * publish the record again.
 *
 * A mark is best effort and never delays a job: the job's offset is done
 * when its records are acknowledged, whether or not its mark was written.
 * Marks are written off the loop (cq_offload), at most one batch at a time,
 * each batch one pipelined round trip; a batch Redis does not take is
 * dropped (counted): those jobs are published again if they are redelivered.
 *
 * Threads: every function on the worker loop thread; the counters are
 * atomic for the metrics endpoint.
 */
#ifndef CQ_MARKS_H
#define CQ_MARKS_H

#include <stdatomic.h>

#include "cq_offload.h"
#include "cq_store.h"

/* Most marks one round trip carries; more wait for the next batch. */
#define CQ_MARKS_BATCH 512
/* A batch goes once this many marks wait, or once the oldest waited
 * CQ_MARKS_WAIT_MS: fewer round trips taken from the claims and finishes
 * that share the offload threads, for a mark a few ms later. */
#define CQ_MARKS_MIN     64
#define CQ_MARKS_WAIT_MS 5

typedef struct cq_marks_s cq_marks_t;

/* Marks written through store, their calls run on offload (both must
 * outlive the batch: destroy offload before cq_marks_destroy). Never NULL. */
cq_marks_t *cq_marks_new(cq_store_t *store, cq_offload_t *offload);
/* Frees the batches, written or not. Call after the offload is destroyed
 * (a batch in flight is then never done). NULL is a no-op. */
void cq_marks_destroy(cq_marks_t *marks);

/* Queues the mark of job_id (copied). */
void cq_marks_add(cq_marks_t *marks, const char *job_id);
/* Sends the queued marks (up to CQ_MARKS_BATCH) unless a batch is in flight
 * or too few waited too briefly (CQ_MARKS_MIN, CQ_MARKS_WAIT_MS). */
void cq_marks_flush(cq_marks_t *marks);

/* Marks written, and marks whose write failed (Redis down), since start. */
uint64_t cq_marks_written(const cq_marks_t *marks);
uint64_t cq_marks_failed(const cq_marks_t *marks);

#endif
