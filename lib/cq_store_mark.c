/*
 * cq_store_mark.c — the published mark of terminal jobs (see cq_store.h).
 *
 * A worker stores a job's terminal state, then publishes its result record;
 * the offset is committed later, once every earlier offset of the partition
 * is done too. A job redelivered in between (its worker died) finds the
 * record terminal and would publish it again, not knowing whether the first
 * record reached the broker. The mark tells it: the field published = "1"
 * in the job's hash, written after the broker acknowledged the record. The
 * claim's HGETALL returns it, so reading it costs nothing.
 *
 * Writing it is one EVALSHA per job (a script, so an expired or deleted job
 * is not brought back as a hash without TTL), sent for a batch of jobs in one
 * pipelined round trip: the worker batches the marks of every job
 * acknowledged since its last batch.
 *
 * Threads: any thread (the store's pool hands each call its connection).
 */
#include "cq_store_int.h"

#include <stdlib.h>
#include <string.h>

/* clang-format off */
/* KEYS[1] job. 1 = marked; 0 = absent or not terminal, untouched. */
const char cq_store_script_mark_published[] =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if st == 'succeeded' or st == 'failed' or st == 'cancelled' then\n"
    "  redis.call('HSET', KEYS[1], 'published', '1')\n"
    "  return 1\n"
    "end\n"
    "return 0\n";
/* clang-format on */

cq_err_t cq_store_mark_published(cq_store_t *store, const char *const *job_ids, size_t count,
                                 size_t *marked)
{
    if (marked)
        *marked = 0;
    if (!store || (count && !job_ids))
        return CQ_ERR_INTERNAL_ERROR;
    if (count == 0)
        return CQ_ERR_OK;
    char **keys = cq_calloc(count, sizeof(*keys));
    size_t *lens = cq_calloc(count, sizeof(*lens));
    cq_redis_call_t *calls = cq_calloc(count, sizeof(*calls));
    for (size_t i = 0; i < count; i++) {
        keys[i] = cq_store_job_key(store, job_ids[i]);
        lens[i] = strlen(keys[i]);
        calls[i] = (cq_redis_call_t){.script = &store->scripts[CQ_SCRIPT_MARK_PUBLISHED],
                                     .nkeys = 1,
                                     .argc = 1,
                                     .argv = (const char **)&keys[i],
                                     .lens = &lens[i]};
    }
    cq_redis_pipeline(store->redis, calls, count);
    cq_err_t err = CQ_ERR_OK;
    for (size_t i = 0; i < count; i++) {
        if (calls[i].err != CQ_ERR_OK)
            err = calls[i].err;
        else if (marked && cq_redis_reply_type(calls[i].reply) == CQ_REDIS_INTEGER &&
                 cq_redis_reply_integer(calls[i].reply) == 1)
            (*marked)++;
        cq_redis_reply_free(calls[i].reply);
        free(keys[i]);
    }
    free(calls);
    free(lens);
    free(keys);
    return err;
}
