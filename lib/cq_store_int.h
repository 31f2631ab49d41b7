/*
 * cq_store_int.h — what the job store's files share: cq_store.c (records,
 * scripts, jobs, idempotency), cq_store_cache.c (the TTL cache and its
 * single-flight primitives), cq_store_wait.c (long-poll waits),
 * cq_store_limit.c (per-tenant rate and token counters) and cq_store_mark.c
 * (the published mark of terminal jobs). Private
 * to lib/.
 */
#ifndef CQ_STORE_INT_H
#define CQ_STORE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "cq_redis.h"
#include "cq_store.h"

#define CQ_STORE_SAFETY_TTL_MS (7LL * 24 * 3600 * 1000)
#define CQ_STORE_REREAD_MS     1000
#define CQ_STORE_WAIT_MAX_MS   (24LL * 3600 * 1000) /* keeps deadlines far from overflow */
#define CQ_STORE_BUCKETS       256
#define CQ_STORE_MAX_ARGS      48
#define CQ_STORE_COMPONENT     "store"

/* Arguments of one command or script call. The sizes fit the largest call (claim:
 * 3 + 2 x 16 arguments, 5 numbers); going past them is a bug caught by the tests. */
typedef struct {
    const char *argv[CQ_STORE_MAX_ARGS];
    size_t lens[CQ_STORE_MAX_ARGS];
    int argc;
    char nums[12][24];
    int n_nums;
} cq_store_args_t;

void cq_store_args_init(cq_store_args_t *a);
void cq_store_args_add(cq_store_args_t *a, const char *s);
void cq_store_args_add_int(cq_store_args_t *a, int64_t v);

/* The Lua scripts of the store (cq_store.c), loaded once per connection. */
enum {
    CQ_SCRIPT_CREATE,
    CQ_SCRIPT_CLAIM,
    CQ_SCRIPT_REQUEUE,
    CQ_SCRIPT_FINISH,
    CQ_SCRIPT_CANCEL,
    CQ_SCRIPT_RESTORE,
    CQ_SCRIPT_IDEM,
    CQ_SCRIPT_IDEM_RELEASE,
    CQ_SCRIPT_CACHE_ADD,
    CQ_SCRIPT_CACHE_DEL_IF,
    CQ_SCRIPT_CACHE_SWAP,
    CQ_SCRIPT_RATE,
    CQ_SCRIPT_TOKENS_ADD,
    CQ_SCRIPT_MARK_PUBLISHED,
    CQ_SCRIPT__COUNT
};

/* The scripts of the per-tenant limits (cq_store_limit.c). */
extern const char cq_store_script_rate[];
extern const char cq_store_script_tokens_add[];
/* The published mark's script (cq_store_mark.c). */
extern const char cq_store_script_mark_published[];

/* "<prefix>job:<id>" (new string). */
char *cq_store_job_key(const cq_store_t *store, const char *job_id);

typedef struct cq_store_waiter_s {
    struct cq_store_waiter_s *next;
    char *job_id;
    size_t job_id_len;
    unsigned refs;
    uint64_t gen; /* bumped on every notification */
    pthread_cond_t cond;
} cq_store_waiter_t;

struct cq_store_s {
    cq_redis_t *redis;
    char *prefix, *events;
    int64_t result_ttl_ms, idem_ttl_ms;
    cq_redis_script_t scripts[CQ_SCRIPT__COUNT];

    pthread_mutex_t wait_lock; /* the waiter table and every waiter's condvar */
    cq_store_waiter_t *buckets[CQ_STORE_BUCKETS];
};

/* Runs a plain command (script < 0) or one of the scripts with nkeys keys first. On
 * CQ_ERR_OK *reply is set (caller frees); on error it is NULL. */
cq_err_t cq_store_exec(cq_store_t *store, int script, int nkeys, cq_store_args_t *args,
                       cq_redis_reply_t **reply);

#endif
