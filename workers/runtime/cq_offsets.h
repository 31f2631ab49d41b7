/*
 * cq_offsets.h — which offsets a worker may commit.
 *
 * Jobs of one partition finish out of order (a slow LLM call, a retry
 * waiting for its backoff), but a Kafka commit says "everything before this
 * offset is done". So each partition keeps its unfinished offsets in order,
 * and its commit point only moves past the lowest unfinished one.
 *
 * Not thread-safe: owned by the worker loop thread.
 */
#ifndef CQ_OFFSETS_H
#define CQ_OFFSETS_H

#include "cq_common.h"

typedef struct cq_offsets_s cq_offsets_t;

cq_offsets_t *cq_offsets_new(void);
void cq_offsets_destroy(cq_offsets_t *offsets);

/* A message of this partition started. Offsets of one partition arrive in
 * increasing order (a lower one, after a rebalance, restarts the partition). */
void cq_offsets_track(cq_offsets_t *offsets, const char *topic, int32_t partition, int64_t offset);

/* The job at offset is finished. Returns true when the partition's commit
 * point advanced, with *commit_next the offset to commit (next to read).
 * Unknown partitions or offsets (revoked meanwhile) return false. */
bool cq_offsets_done(cq_offsets_t *offsets, const char *topic, int32_t partition, int64_t offset,
                     int64_t *commit_next);

/* Jobs started and not finished, over every partition. */
size_t cq_offsets_in_flight(const cq_offsets_t *offsets);

/* Forgets a partition (revoked). Returns its commit point if something was
 * finished and not yet reported by cq_offsets_done's commits, else -1. */
int64_t cq_offsets_forget(cq_offsets_t *offsets, const char *topic, int32_t partition);

/* Calls fn for each partition whose last reported commit point is known. */
typedef void(cq_offsets_each_fn)(void *opaque, const char *topic, int32_t partition,
                                 int64_t commit_next);
void cq_offsets_each(const cq_offsets_t *offsets, cq_offsets_each_fn *fn, void *opaque);

#endif
