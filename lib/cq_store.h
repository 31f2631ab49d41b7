/*
 * cq_store.h — the Redis job store: job records, claims, terminal states,
 * cancellation, idempotency keys, long-poll waits and a small TTL cache.
 *
 * One cq_store_t per process, shared by every thread: all functions are
 * thread-safe. Every Redis failure (refused, timed out, connection lost, error
 * reply) gives CQ_ERR_REDIS_UNAVAILABLE; no call blocks much longer than a few
 * redis.timeout (see cq_redis.c for the exact bound), except cq_store_wait,
 * which blocks up to its own timeout by design.
 *
 * Strings are binary-safe C strings; in a stored record an empty string and
 * NULL are the same (unset).
 */
#ifndef CQ_STORE_H
#define CQ_STORE_H

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"
#include "cq_limit.h"

typedef enum {
    CQ_JOB_QUEUED,
    CQ_JOB_RUNNING,
    CQ_JOB_SUCCEEDED,
    CQ_JOB_FAILED,
    CQ_JOB_CANCELLED
} cq_job_status_t;

/* Stable lower-case name ("queued", "running", "succeeded", "failed", "cancelled");
 * "unknown" for a value outside the enum. */
const char *cq_job_status_name(cq_job_status_t s);
/* Looks a status up by its exact name; false (out untouched) when unknown or NULL. */
bool cq_job_status_parse(const char *name, cq_job_status_t *out);
/* Whether a job in this status never changes again (succeeded, failed, cancelled). */
bool cq_job_status_terminal(cq_job_status_t s);

/* A job as stored. Plain data: every string is owned by the struct (free with
 * cq_job_record_clear); NULL means unset. Times are ms since the epoch, 0 = unset. */
typedef struct {
    char *job_id, *tenant_id, *user_id, *operation, *kind, *batch_id, *custom_id;
    cq_job_status_t status;
    int64_t created_at, started_at, finished_at;
    int attempts;
    char *engine; /* JSON text or NULL */
    char *result; /* JSON text or NULL */
    char *error_code, *error_message;
    /* Terminal jobs only: its result record was acknowledged by the broker
     * once (cq_store_mark_published), so a redelivery need not publish it
     * again. Never set by create, claim or finish. */
    bool published;
} cq_job_record_t;

/* Frees the record's strings and zeroes it (status becomes CQ_JOB_QUEUED).
 * NULL is a no-op; a cleared record may be cleared again. */
void cq_job_record_clear(cq_job_record_t *job);

typedef struct cq_store_s cq_store_t;

/* Makes a store from conf (redis.host/port/password/db/timeout/pool_size/prefix,
 * jobs.result_ttl, jobs.idempotency_ttl; values are copied, conf may be destroyed
 * afterwards). Connects lazily: fails only on a bad config, never because Redis is
 * down. redis.host starting with '/' is a Unix socket path. Caller destroys. */
cq_store_t *cq_store_new(const cq_config_t *conf, char *errstr, size_t errstr_size);

/* Stops the subscriber thread, closes every connection, frees the store. No other
 * thread may use the store during or after the call. NULL is a no-op. */
void cq_store_destroy(cq_store_t *store);

/* Round trip to Redis (readiness checks). */
cq_err_t cq_store_ping(cq_store_t *store);

/* Records a new job as queued, from job's identity fields (job_id, tenant_id and
 * operation required, else CQ_ERR_BAD_REQUEST; user_id, kind, batch_id, custom_id,
 * attempts; created_at 0 means now). Status, started/finished times, engine, result
 * and error are not taken from job: a new job has no outcome. Never overwrites: an
 * existing id gives CQ_ERR_INTERNAL_ERROR. The record gets a 7-day safety TTL. */
cq_err_t cq_store_create(cq_store_t *store, const cq_job_record_t *job);

/* Reads a job into out (caller clears it, also on error). CQ_ERR_NOT_FOUND when
 * absent or expired; CQ_ERR_INTERNAL_ERROR when the stored record is unreadable. */
cq_err_t cq_store_get(cq_store_t *store, const char *job_id, cq_job_record_t *out);

/* Worker side, atomic. Absent: created as running from job's identity fields (as
 * cq_store_create) with started_at = now and attempts = job->attempts + 1.
 * Terminal: CQ_ERR_JOB_ALREADY_TERMINAL, not changed. Queued or running (a
 * redelivery): status = running, started_at = now, attempts += 1; job's other fields
 * are ignored. out gets the record after the claim, also for JOB_ALREADY_TERMINAL
 * (caller clears it). */
cq_err_t cq_store_claim(cq_store_t *store, const cq_job_record_t *job, cq_job_record_t *out);

/* Worker side: a running job goes back to queued for a retry, remembering why
 * (error_code/error_message may be NULL). Already queued: CQ_ERR_OK, unchanged (a
 * repeated requeue). Terminal: CQ_ERR_JOB_ALREADY_TERMINAL. Absent: CQ_ERR_NOT_FOUND. */
cq_err_t cq_store_requeue(cq_store_t *store, const char *job_id, const char *error_code,
                          const char *error_message);

/* Worker side: moves a queued or running job to the terminal status (succeeded,
 * failed or cancelled; anything else is CQ_ERR_INTERNAL_ERROR), sets finished_at,
 * engine, result and error exactly as given (NULL clears a field), sets the TTL
 * jobs.result_ttl and wakes cq_store_wait callers. Already terminal (e.g. cancelled
 * meanwhile): CQ_ERR_JOB_ALREADY_TERMINAL, unchanged. Absent: CQ_ERR_NOT_FOUND.
 * out (may be NULL) gets the record as it stands afterwards, on OK and on
 * ALREADY_TERMINAL: in the same round trip, so a worker need not read it again. */
cq_err_t cq_store_finish(cq_store_t *store, const char *job_id, cq_job_status_t status,
                         const char *engine_json, const char *result_json, const char *error_code,
                         const char *error_message, cq_job_record_t *out);

/* Claims and finishes run together: each is prepared as a call, any number
 * of calls are sent in one round trip by cq_store_run (they must concern
 * different jobs), and each call is then answered by cq_store_call_end, with
 * exactly the outcome cq_store_claim or cq_store_finish gives (those are one
 * call run alone). The strings given to a call must live until it has run.
 * Threads: a call belongs to one thread at a time. */
typedef struct cq_store_call_s cq_store_call_t;

/* cq_store_claim, prepared. Never NULL. */
cq_store_call_t *cq_store_claim_call(cq_store_t *store, const cq_job_record_t *job);
/* cq_store_finish, prepared. Never NULL. */
cq_store_call_t *cq_store_finish_call(cq_store_t *store, const char *job_id, cq_job_status_t status,
                                      const char *engine_json, const char *result_json,
                                      const char *error_code, const char *error_message);
/* Sends the n calls (a call refused while prepared is not sent) in one round
 * trip on one connection and reads their replies. */
void cq_store_run(cq_store_t *store, cq_store_call_t *const *calls, size_t n);
/* The call's outcome, as its plain function gives it (out, which may be NULL
 * for a finish, gets the record; caller clears it); frees the call. A call
 * never run fails with CQ_ERR_REDIS_UNAVAILABLE. */
cq_err_t cq_store_call_end(cq_store_call_t *call, cq_job_record_t *out);

/* Worker side: marks terminal jobs "published" (their result record was
 * acknowledged by the broker), one short script per job, all pipelined in
 * one round trip (each touches its own key). A job that is absent or not
 * terminal is left alone: no key is created and no TTL changed. *marked (may
 * be NULL) = how many were marked. On an error some may have been marked. */
cq_err_t cq_store_mark_published(cq_store_t *store, const char *const *job_ids, size_t count,
                                 size_t *marked);

/* What cq_store_restore did. */
typedef enum {
    CQ_STORE_RESTORE_WRITTEN,  /* the job was absent: written */
    CQ_STORE_RESTORE_REPLACED, /* it was queued or running: replaced by the terminal record */
    CQ_STORE_RESTORE_KEPT,     /* it was terminal already: left as it was */
} cq_store_restore_t;

/* Rebuild side (coachq-rebuild): writes a terminal job record recovered from
 * the results topic, every member of job as given (job_id, tenant_id and
 * operation required, status terminal, finished_at set, else
 * CQ_ERR_BAD_REQUEST), with TTL ttl_ms (> 0: what is left of
 * jobs.result_ttl, else CQ_ERR_BAD_REQUEST). A job Redis holds as terminal
 * is never overwritten (a terminal job never changes); a queued or running
 * one (run again after the loss) is replaced whole, and waiters are woken.
 * *how (may be NULL) says which happened. */
cq_err_t cq_store_restore(cq_store_t *store, const cq_job_record_t *job, int64_t ttl_ms,
                          cq_store_restore_t *how);

/* Gateway side: cancels a queued or running job of tenant_id (status cancelled,
 * error JOB_CANCELLED, TTL jobs.result_ttl) and wakes waiters. Absent or another
 * tenant's: CQ_ERR_NOT_FOUND. Terminal: CQ_ERR_JOB_ALREADY_TERMINAL. out (may be
 * NULL) gets the record after the call when the job is the tenant's (caller clears). */
cq_err_t cq_store_cancel(cq_store_t *store, const char *job_id, const char *tenant_id,
                         cq_job_record_t *out);

/* Gateway side: takes the idempotency key (tenant_id, key) for job_id and
 * body_hash, for jobs.idempotency_ttl. First use: CQ_ERR_OK, *existing_job_id NULL.
 * Key held with the same body_hash: CQ_ERR_OK, *existing_job_id = the holder's job id
 * (caller frees; equals job_id for a repeated call). Different hash:
 * CQ_ERR_IDEMPOTENCY_KEY_REUSED. *existing_job_id is NULL on every error. */
cq_err_t cq_store_idempotency(cq_store_t *store, const char *tenant_id, const char *key,
                              const char *body_hash, const char *job_id, char **existing_job_id);

/* Gateway side: gives the key back if it still names job_id, for a submission
 * that failed after cq_store_idempotency took it (so a retry is not sent to a job
 * that never reached the queue). CQ_ERR_OK whether or not a key was removed. */
cq_err_t cq_store_idempotency_release(cq_store_t *store, const char *tenant_id, const char *key,
                                      const char *job_id);

/* Gateway side (long poll): waits until the job is terminal or timeout_ms passes,
 * then fills out with the latest record: CQ_ERR_OK either way (check out->status).
 * CQ_ERR_NOT_FOUND when absent; a Redis failure while waiting returns at once.
 * Sleeps on a condition variable woken by the store's subscriber thread (started on
 * the first call), re-reading the record at least every second. Caller clears out. */
cq_err_t cq_store_wait(cq_store_t *store, const char *job_id, int64_t timeout_ms,
                       cq_job_record_t *out);

/* A wait registered before its job could end (before it is produced): the
 * finish cannot come before the registration, so the wait sleeps first and
 * reads the record only when woken (or after a second), saving the read of a
 * record that is surely still queued. */
typedef struct {
    void *waiter; /* the store's entry; NULL: not registered */
    uint64_t gen; /* its generation when registered */
} cq_store_ticket_t;

/* Registers a wait on job_id (starting the subscriber thread if needed).
 * Every ticket ends with exactly one cq_store_wait_ticket or cq_store_wait_drop. */
void cq_store_wait_register(cq_store_t *store, const char *job_id, cq_store_ticket_t *ticket);
/* cq_store_wait for a registered ticket (then released). */
cq_err_t cq_store_wait_ticket(cq_store_t *store, cq_store_ticket_t *ticket, int64_t timeout_ms,
                              cq_job_record_t *out);
/* Releases a ticket that will not be waited on; a NULL waiter is a no-op. */
void cq_store_wait_drop(cq_store_t *store, cq_store_ticket_t *ticket);

/* Cache: *value = the text stored under key (caller frees), CQ_ERR_NOT_FOUND when
 * absent or expired. Keys live under "<prefix>cache:". */
cq_err_t cq_store_cache_get(cq_store_t *store, const char *key, char **value);
/* Cache: stores value under key for ttl_ms (> 0, else CQ_ERR_INTERNAL_ERROR). */
cq_err_t cq_store_cache_set(cq_store_t *store, const char *key, const char *value, int64_t ttl_ms);
/* Cache, atomic set-if-absent (single flight): stores value under key for
 * ttl_ms when the key is absent (*existing NULL: the caller holds it), else
 * leaves it and *existing = the value held (caller frees). */
cq_err_t cq_store_cache_add(cq_store_t *store, const char *key, const char *value, int64_t ttl_ms,
                            char **existing);
/* Cache, atomic compare-and-set (read-modify-write without lost updates):
 * stores value for ttl_ms only while key holds expected (NULL: while it is
 * absent); *swapped says whether it did. */
cq_err_t cq_store_cache_swap(cq_store_t *store, const char *key, const char *expected,
                             const char *value, int64_t ttl_ms, bool *swapped);
/* Cache: deletes key, only while it holds if_value when that is not NULL
 * (atomic). CQ_ERR_OK whether or not a key was removed. */
cq_err_t cq_store_cache_del(cq_store_t *store, const char *key, const char *if_value);

/* Gateway side, atomic (one Lua script, one round trip): charges cost jobs
 * to the tenant's rate bucket <prefix>rate:<len>:<tenant> at now_us (the
 * caller's clock, microseconds) under policy rate, exactly as cq_limit_gcra
 * computes it; out says whether it passed and what is left. A refused
 * check changes nothing. rate.rate 0 passes without a call. */
cq_err_t cq_store_rate_take(cq_store_t *store, const char *tenant, cq_limit_rate_t rate,
                            int64_t cost, int64_t now_us, cq_limit_decision_t *out);

/* Worker side: *used = the tokens the tenant used on day (YYYYMMDD, UTC),
 * 0 when nothing was counted. Key <prefix>tokens:<day>:<len>:<tenant>. */
cq_err_t cq_store_tokens_used(cq_store_t *store, const char *tenant, const char *day,
                              int64_t *used);
/* Worker side, atomic: adds tokens (> 0) to the tenant's count of day; the
 * key expires ttl_ms after its first count. *total (may be NULL) = the new count. */
cq_err_t cq_store_tokens_add(cq_store_t *store, const char *tenant, const char *day, int64_t tokens,
                             int64_t ttl_ms, int64_t *total);

#endif
