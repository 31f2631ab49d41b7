/*
 * cq_store.c — the Redis job store (see cq_store.h).
 *
 * Data. A job is the hash <prefix>job:<id>, one field per record member, all
 * plain strings (times and attempts in decimal, status by name, engine and
 * result as JSON text); unset members are absent fields, so "" and NULL are
 * the same. Unknown fields are ignored on read, so a newer writer does not
 * break an older reader. A terminal job may carry published = "1" (written
 * by cq_store_mark.c, never by the scripts here). Queued and running jobs
 * carry a safety TTL of 7 days (set on create and refreshed on claim and
 * requeue) so a job whose worker vanished cannot leak; a terminal job gets
 * jobs.result_ttl. Idempotency keys are hashes
 * <prefix>idem:<len(tenant)>:<tenant>:<key> {job_id, body_hash} with
 * jobs.idempotency_ttl (the length keeps tenant "a:b" + key "c" apart from
 * "a" + "b:c"); cache entries are strings <prefix>cache:<key>; the
 * per-tenant limits' keys are cq_store_limit.c's.
 *
 * State changes. Each one that reads before it writes is a short Lua script
 * touching one key (so Redis Cluster works), sent by EVALSHA with EVAL as
 * fallback on NOSCRIPT; the SHA1s are computed once in cq_store_new. Create
 * never overwrites an id (UUIDv7 ids do not collide; an existing one is a
 * bug). Claim creates an absent job (sent to Kafka by another service) and
 * refuses a terminal one. Requeue of a queued job is a no-op success, so a
 * worker may repeat it. Finish and cancel set every outcome field, deleting
 * those not given, so a success after a requeue carries no stale error;
 * cancel records the error JOB_CANCELLED. Restore (the rebuild from the
 * results topic) writes a whole terminal record unless the job is terminal
 * already, replacing a queued or running one. Times come from the calling host's
 * clock, like created_at from the gateway. Every argument goes through
 * redisCommandArgv with explicit lengths: caller text is never formatted into
 * a command.
 *
 * Redis. Connections, timeouts, reconnection, SIGPIPE safety, script sending
 * and the pub/sub listener thread are cq_redis.c's; every failure there is
 * CQ_ERR_REDIS_UNAVAILABLE here. Calls are never retried: a command whose
 * connection broke mid-way may or may not have run, and claims and finishes
 * are not idempotent.
 *
 * Waiting. Finish and cancel PUBLISH the job id on <prefix>events, one channel
 * for all jobs (every gateway hears every finish: a few bytes each). The first
 * cq_store_wait starts the pool's listener on that channel. Waiters register
 * in a hash table keyed by job id (one entry and condvar per job, shared by
 * all its waiters, under wait_lock); a message bumps the entry's generation
 * and broadcasts. A waiter reads the generation before reading the record, so
 * a message between the read and the sleep is not lost, and re-reads the
 * record at least once a second anyway because pub/sub drops messages while
 * the listener is disconnected (so 1000 waiters cost up to 1000 HGETALL/s). On
 * each (re)subscription every waiter is woken to re-read.
 *
 * Threads: any thread may call any function except cq_store_destroy; the
 * listener thread only touches the waiter table.
 */
#include "cq_store_int.h"
#include "cq_log.h"
#include "cq_redis.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- job status ---------------------------------------------------------------------------- */

static const char *const cq_job_status_names[] = {"queued", "running", "succeeded", "failed",
                                                  "cancelled"};

const char *cq_job_status_name(cq_job_status_t s)
{
    if ((unsigned)s >= CQ_ARRAY_SIZE(cq_job_status_names))
        return "unknown";
    return cq_job_status_names[s];
}

bool cq_job_status_parse(const char *name, cq_job_status_t *out)
{
    if (!name)
        return false;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_job_status_names); i++) {
        if (strcmp(name, cq_job_status_names[i]) == 0) {
            *out = (cq_job_status_t)i;
            return true;
        }
    }
    return false;
}

bool cq_job_status_terminal(cq_job_status_t s)
{
    return s == CQ_JOB_SUCCEEDED || s == CQ_JOB_FAILED || s == CQ_JOB_CANCELLED;
}

/* ---- record <-> hash fields ---------------------------------------------------------------- */

typedef enum {
    CQ_FIELD_STR,
    CQ_FIELD_TIME,
    CQ_FIELD_INT,
    CQ_FIELD_STATUS,
    CQ_FIELD_FLAG, /* bool: "1" when set, absent when not */
} cq_store_field_type_t;

/* The one list of stored fields: used to write and to read a record. */
static const struct {
    const char *name;
    cq_store_field_type_t type;
    size_t offset;
} cq_store_fields[] = {
/* clang-format off */
#define CQ_F(name, type) {#name, CQ_FIELD_##type, offsetof(cq_job_record_t, name)}
    CQ_F(job_id, STR),     CQ_F(tenant_id, STR),   CQ_F(user_id, STR),     CQ_F(operation, STR),
    CQ_F(kind, STR),       CQ_F(batch_id, STR),    CQ_F(custom_id, STR),   CQ_F(status, STATUS),
    CQ_F(created_at, TIME), CQ_F(started_at, TIME), CQ_F(finished_at, TIME), CQ_F(attempts, INT),
    CQ_F(engine, STR),     CQ_F(result, STR),      CQ_F(error_code, STR),  CQ_F(error_message, STR),
    CQ_F(published, FLAG),
#undef CQ_F
    /* clang-format on */
};

void cq_job_record_clear(cq_job_record_t *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_store_fields); i++)
        if (cq_store_fields[i].type == CQ_FIELD_STR)
            free(*(char **)((char *)job + cq_store_fields[i].offset));
    memset(job, 0, sizeof(*job));
}

void cq_store_args_init(cq_store_args_t *a)
{
    a->argc = 0;
    a->n_nums = 0;
}

void cq_store_args_add(cq_store_args_t *a, const char *s)
{
    if (a->argc >= CQ_STORE_MAX_ARGS)
        abort(); /* a call site outgrew CQ_STORE_MAX_ARGS */
    a->argv[a->argc] = s ? s : "";
    a->lens[a->argc] = strlen(a->argv[a->argc]);
    a->argc++;
}

void cq_store_args_add_int(cq_store_args_t *a, int64_t v)
{
    if (a->n_nums >= (int)CQ_ARRAY_SIZE(a->nums))
        abort(); /* a call site outgrew nums */
    snprintf(a->nums[a->n_nums], sizeof(a->nums[0]), "%lld", (long long)v);
    cq_store_args_add(a, a->nums[a->n_nums++]);
}

/* Appends "field value" pairs for every set member of job. */
static void cq_store_args_record(cq_store_args_t *a, const cq_job_record_t *job)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_store_fields); i++) {
        const void *p = (const char *)job + cq_store_fields[i].offset;
        switch (cq_store_fields[i].type) {
        case CQ_FIELD_STR:
            if (*(char *const *)p && **(char *const *)p) {
                cq_store_args_add(a, cq_store_fields[i].name);
                cq_store_args_add(a, *(char *const *)p);
            }
            break;
        case CQ_FIELD_TIME:
            if (*(const int64_t *)p) {
                cq_store_args_add(a, cq_store_fields[i].name);
                cq_store_args_add_int(a, *(const int64_t *)p);
            }
            break;
        case CQ_FIELD_INT:
            cq_store_args_add(a, cq_store_fields[i].name);
            cq_store_args_add_int(a, *(const int *)p);
            break;
        case CQ_FIELD_STATUS:
            cq_store_args_add(a, cq_store_fields[i].name);
            cq_store_args_add(a, cq_job_status_name(*(const cq_job_status_t *)p));
            break;
        case CQ_FIELD_FLAG:
            if (*(const bool *)p) {
                cq_store_args_add(a, cq_store_fields[i].name);
                cq_store_args_add(a, "1");
            }
            break;
        }
    }
}

static bool cq_store_parse_int(const char *str, size_t len, int64_t min, int64_t max, int64_t *out)
{
    char buf[24];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, str, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long n = strtoll(buf, &end, 10);
    if (errno || *end || n < min || n > max)
        return false;
    *out = n;
    return true;
}

/* Fills out from an HGETALL reply. NOT_FOUND for an empty hash, INTERNAL_ERROR for
 * a record this code cannot read (someone else wrote the key). */
static cq_err_t cq_store_parse_record(const cq_redis_reply_t *r, const char *job_id,
                                      cq_job_record_t *out)
{
    cq_job_record_clear(out);
    size_t count = cq_redis_reply_count(r);
    if (cq_redis_reply_type(r) != CQ_REDIS_ARRAY || count % 2)
        goto bad;
    if (count == 0)
        return CQ_ERR_NOT_FOUND;
    bool have_status = false;
    for (size_t i = 0; i < count; i += 2) {
        size_t klen, vlen;
        const char *k = cq_redis_reply_str(cq_redis_reply_at(r, i), &klen);
        const char *v = cq_redis_reply_str(cq_redis_reply_at(r, i + 1), &vlen);
        if (!k || !v)
            goto bad;
        for (size_t f = 0; f < CQ_ARRAY_SIZE(cq_store_fields); f++) {
            if (strlen(cq_store_fields[f].name) != klen ||
                memcmp(cq_store_fields[f].name, k, klen) != 0)
                continue;
            void *p = (char *)out + cq_store_fields[f].offset;
            int64_t n;
            switch (cq_store_fields[f].type) {
            case CQ_FIELD_STR:
                free(*(char **)p);
                *(char **)p = vlen ? cq_strndup(v, vlen) : NULL;
                break;
            case CQ_FIELD_TIME:
                if (!cq_store_parse_int(v, vlen, 0, INT64_MAX, &n))
                    goto bad;
                *(int64_t *)p = n;
                break;
            case CQ_FIELD_INT:
                if (!cq_store_parse_int(v, vlen, 0, INT_MAX, &n))
                    goto bad;
                *(int *)p = (int)n;
                break;
            case CQ_FIELD_STATUS: {
                char name[16];
                if (vlen >= sizeof(name))
                    goto bad;
                memcpy(name, v, vlen);
                name[vlen] = '\0';
                if (!cq_job_status_parse(name, (cq_job_status_t *)p))
                    goto bad;
                have_status = true;
                break;
            }
            case CQ_FIELD_FLAG:
                *(bool *)p = vlen == 1 && v[0] == '1';
                break;
            }
            break;
        }
    }
    if (!have_status || !out->job_id)
        goto bad;
    return CQ_ERR_OK;
bad:
    CQ_LOG(CQ_LOG_ERROR, CQ_STORE_COMPONENT, job_id, "unreadable job record in Redis");
    cq_job_record_clear(out);
    return CQ_ERR_INTERNAL_ERROR;
}

/* ---- Lua scripts --------------------------------------------------------------------------- */

/* clang-format off */
#define CQ_LUA_TERMINAL "(st == 'succeeded' or st == 'failed' or st == 'cancelled')"
/* Sets the ARGV field/value pairs from index i on; an empty value deletes the field. */
#define CQ_LUA_SET_PAIRS(i)                                                   \
    "for i = " #i ", #ARGV, 2 do\n"                                           \
    "  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i])\n"      \
    "  else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"          \
    "end\n"

static const char *const cq_store_scripts[CQ_SCRIPT__COUNT] = {
    /* KEYS[1] job; ARGV[1] TTL ms, ARGV[2..] field/value pairs.
     * 1 = created; 0 = the id exists (never overwritten). */
    [CQ_SCRIPT_CREATE] =
        "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
        "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
        "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
        "return 1\n",
    /* KEYS[1] job; ARGV[1] now, ARGV[2] TTL ms, ARGV[3..] pairs of the running record
     * to create when absent. {0, record} = terminal, untouched; {1, record} = claimed. */
    [CQ_SCRIPT_CLAIM] =
        "local st = redis.call('HGET', KEYS[1], 'status')\n"
        "if st and " CQ_LUA_TERMINAL " then\n"
        "  return {0, redis.call('HGETALL', KEYS[1])}\n"
        "elseif st then\n"
        "  redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1])\n"
        "  redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
        "else\n"
        "  redis.call('HSET', KEYS[1], unpack(ARGV, 3))\n"
        "end\n"
        "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
        "return {1, redis.call('HGETALL', KEYS[1])}\n",
    /* KEYS[1] job; ARGV[1] TTL ms, ARGV[2..] error pairs.
     * -1 absent, 0 terminal, 1 requeued, 2 already queued (unchanged). */
    [CQ_SCRIPT_REQUEUE] =
        "local st = redis.call('HGET', KEYS[1], 'status')\n"
        "if not st then return -1 end\n"
        "if " CQ_LUA_TERMINAL " then return 0 end\n"
        "if st == 'queued' then return 2 end\n"
        "redis.call('HSET', KEYS[1], 'status', 'queued')\n"
        CQ_LUA_SET_PAIRS(2)
        "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
        "return 1\n",
    /* KEYS[1] job; ARGV[1] channel, ARGV[2] job id, ARGV[3] TTL ms, ARGV[4..] pairs.
     * {-1} absent, {0, record} already terminal, {1, record} finished and published. */
    [CQ_SCRIPT_FINISH] =
        "local st = redis.call('HGET', KEYS[1], 'status')\n"
        "if not st then return {-1} end\n"
        "if " CQ_LUA_TERMINAL " then return {0, redis.call('HGETALL', KEYS[1])} end\n"
        CQ_LUA_SET_PAIRS(4)
        "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
        "redis.call('PUBLISH', ARGV[1], ARGV[2])\n"
        "return {1, redis.call('HGETALL', KEYS[1])}\n",
    /* As finish, plus ARGV[4] the tenant that must match; pairs from ARGV[5].
     * {-1} absent or another tenant's, {0, record} terminal, {1, record} cancelled. */
    [CQ_SCRIPT_CANCEL] =
        "local st = redis.call('HGET', KEYS[1], 'status')\n"
        "if not st or redis.call('HGET', KEYS[1], 'tenant_id') ~= ARGV[4] then\n"
        "  return {-1}\n"
        "end\n"
        "if " CQ_LUA_TERMINAL " then return {0, redis.call('HGETALL', KEYS[1])} end\n"
        CQ_LUA_SET_PAIRS(5)
        "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
        "redis.call('PUBLISH', ARGV[1], ARGV[2])\n"
        "return {1, redis.call('HGETALL', KEYS[1])}\n",
    /* KEYS[1] job; ARGV[1] TTL ms, ARGV[2] channel, ARGV[3] job id, ARGV[4..] pairs of the
     * terminal record. 0 = terminal already, untouched; 1 = written; 2 = replaced a queued
     * or running record. */
    [CQ_SCRIPT_RESTORE] =
        "local st = redis.call('HGET', KEYS[1], 'status')\n"
        "if st and " CQ_LUA_TERMINAL " then return 0 end\n"
        "redis.call('DEL', KEYS[1])\n"
        "redis.call('HSET', KEYS[1], unpack(ARGV, 4))\n"
        "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
        "redis.call('PUBLISH', ARGV[2], ARGV[3])\n"
        "if st then return 2 end\n"
        "return 1\n",
    /* KEYS[1] idempotency key; ARGV[1] job id, ARGV[2] body hash, ARGV[3] TTL ms.
     * nil = taken by this call; else {job id, body hash} of the holder. */
    [CQ_SCRIPT_IDEM] =
        "if redis.call('HSETNX', KEYS[1], 'job_id', ARGV[1]) == 1 then\n"
        "  redis.call('HSET', KEYS[1], 'body_hash', ARGV[2])\n"
        "  redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
        "  return false\n"
        "end\n"
        "return redis.call('HMGET', KEYS[1], 'job_id', 'body_hash')\n",
    /* KEYS[1] idempotency key; ARGV[1] job id. Deletes the key only if it names the job. */
    [CQ_SCRIPT_IDEM_RELEASE] =
        "if redis.call('HGET', KEYS[1], 'job_id') == ARGV[1] then\n"
        "  return redis.call('DEL', KEYS[1])\n"
        "end\n"
        "return 0\n",
    /* KEYS[1] cache key; ARGV[1] value, ARGV[2] TTL ms. {1} = set; {0, value} = held. */
    [CQ_SCRIPT_CACHE_ADD] =
        "local v = redis.call('GET', KEYS[1])\n"
        "if v then return {0, v} end\n"
        "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
        "return {1}\n",
    /* KEYS[1] cache key; ARGV[1] the value it must hold to be deleted. */
    [CQ_SCRIPT_CACHE_DEL_IF] =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
        "return 0\n",
    /* KEYS[1] cache key; ARGV[1] the value it must hold ('' = absent), ARGV[2] the new
     * value, ARGV[3] TTL ms. 1 = swapped; 0 = it held something else. */
    [CQ_SCRIPT_CACHE_SWAP] =
        "if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end\n"
        "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
        "return 1\n",
    [CQ_SCRIPT_RATE] = cq_store_script_rate,
    [CQ_SCRIPT_TOKENS_ADD] = cq_store_script_tokens_add,
    [CQ_SCRIPT_MARK_PUBLISHED] = cq_store_script_mark_published,
};
/* clang-format on */

/* ---- the store ----------------------------------------------------------------------------- */

cq_err_t cq_store_exec(cq_store_t *store, int script, int nkeys, cq_store_args_t *args,
                       cq_redis_reply_t **reply)
{
    if (script < 0)
        return cq_redis_command(store->redis, args->argc, args->argv, args->lens, reply);
    return cq_redis_script(store->redis, &store->scripts[script], nkeys, args->argc, args->argv,
                           args->lens, reply);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

cq_store_t *cq_store_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    const char *bad = NULL;
    if (!conf)
        bad = "no configuration";
    else if (!conf->redis_prefix)
        bad = "redis.prefix is not set";
    else if (conf->jobs_result_ttl < 1 || conf->jobs_idempotency_ttl < 1)
        bad = "jobs.result_ttl and jobs.idempotency_ttl must be positive";
    if (bad) {
        cq_errstr_set(errstr, errstr_size, "%s", bad);
        return NULL;
    }
    cq_redis_t *redis = cq_redis_new(conf, errstr, errstr_size);
    if (!redis)
        return NULL;
    cq_store_t *store = cq_calloc(1, sizeof(*store));
    store->redis = redis;
    store->prefix = cq_strdup(conf->redis_prefix);
    store->events = cq_asprintf("%sevents", conf->redis_prefix);
    store->result_ttl_ms = conf->jobs_result_ttl;
    store->idem_ttl_ms = conf->jobs_idempotency_ttl;
    for (int i = 0; i < CQ_SCRIPT__COUNT; i++)
        cq_redis_script_init(&store->scripts[i], cq_store_scripts[i]);
    pthread_mutex_init(&store->wait_lock, NULL);
    return store;
}

void cq_store_destroy(cq_store_t *store)
{
    if (!store)
        return;
    cq_redis_destroy(store->redis); /* first: stops the listener that notifies waiters */
    for (int i = 0; i < CQ_STORE_BUCKETS; i++) {
        /* Waiters outliving the store are a caller bug; free what is left anyway. */
        for (cq_store_waiter_t *w = store->buckets[i], *next; w; w = next) {
            next = w->next;
            pthread_cond_destroy(&w->cond);
            free(w->job_id);
            free(w);
        }
    }
    pthread_mutex_destroy(&store->wait_lock);
    free(store->prefix);
    free(store->events);
    free(store);
}

/* ---- jobs ---------------------------------------------------------------------------------- */

char *cq_store_job_key(const cq_store_t *store, const char *job_id)
{
    return cq_asprintf("%sjob:%s", store->prefix, job_id);
}

/* Whether a caller's job can start a record: ids, tenant and operation set, no
 * negative numbers. */
static bool cq_store_job_valid(const cq_job_record_t *job)
{
    return job->job_id && job->job_id[0] && job->tenant_id && job->tenant_id[0] && job->operation &&
           job->operation[0] && job->created_at >= 0 && job->attempts >= 0 &&
           job->attempts < INT_MAX;
}

/* The record a new job starts as: the caller's identity fields, no outcome yet.
 * Shallow: the strings stay the caller's. */
static cq_job_record_t cq_store_job_new(const cq_job_record_t *job, cq_job_status_t status,
                                        int64_t now)
{
    cq_job_record_t rec = *job;
    rec.status = status;
    rec.created_at = job->created_at ? job->created_at : now;
    rec.started_at = status == CQ_JOB_RUNNING ? now : 0;
    rec.finished_at = 0;
    rec.attempts = status == CQ_JOB_RUNNING ? job->attempts + 1 : job->attempts;
    rec.engine = rec.result = rec.error_code = rec.error_message = NULL;
    return rec;
}

cq_err_t cq_store_ping(cq_store_t *store)
{
    if (!store)
        return CQ_ERR_INTERNAL_ERROR;
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, "PING");
    cq_err_t err = cq_store_exec(store, -1, 0, &args, &reply);
    cq_redis_reply_free(reply);
    return err;
}

cq_err_t cq_store_create(cq_store_t *store, const cq_job_record_t *job)
{
    if (!store || !job)
        return CQ_ERR_INTERNAL_ERROR;
    if (!cq_store_job_valid(job))
        return CQ_ERR_BAD_REQUEST;
    cq_job_record_t rec = cq_store_job_new(job, CQ_JOB_QUEUED, cq_now_ms());
    char *key = cq_store_job_key(store, job->job_id);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add_int(&args, CQ_STORE_SAFETY_TTL_MS);
    cq_store_args_record(&args, &rec);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_CREATE, 1, &args, &reply);
    if (err == CQ_ERR_OK && cq_redis_reply_integer(reply) != 1) {
        CQ_LOG(CQ_LOG_ERROR, CQ_STORE_COMPONENT, job->job_id, "job id exists already");
        err = CQ_ERR_INTERNAL_ERROR;
    }
    cq_redis_reply_free(reply);
    free(key);
    return err;
}

cq_err_t cq_store_get(cq_store_t *store, const char *job_id, cq_job_record_t *out)
{
    if (!store || !job_id || !out)
        return CQ_ERR_INTERNAL_ERROR;
    cq_job_record_clear(out);
    if (!job_id[0])
        return CQ_ERR_NOT_FOUND;
    char *key = cq_store_job_key(store, job_id);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, "HGETALL");
    cq_store_args_add(&args, key);
    cq_err_t err = cq_store_exec(store, -1, 0, &args, &reply);
    if (err == CQ_ERR_OK)
        err = cq_store_parse_record(reply, job_id, out);
    cq_redis_reply_free(reply);
    free(key);
    return err;
}

/* Reads a {state, HGETALL} script reply into *state and out (when a record came). */
static cq_err_t cq_store_state_record(const cq_redis_reply_t *reply, const char *job_id,
                                      long long *state, cq_job_record_t *out)
{
    size_t count = cq_redis_reply_count(reply);
    if (count < 1 || cq_redis_reply_type(cq_redis_reply_at(reply, 0)) != CQ_REDIS_INTEGER)
        return CQ_ERR_INTERNAL_ERROR;
    *state = cq_redis_reply_integer(cq_redis_reply_at(reply, 0));
    if (count < 2 || !out)
        return CQ_ERR_OK;
    return cq_store_parse_record(cq_redis_reply_at(reply, 1), job_id, out);
}

/* ---- calls run together (cq_store_run) ----------------------------------------------------- */

static void cq_store_args_terminal(cq_store_args_t *a, cq_job_status_t status,
                                   const char *engine_json, const char *result_json,
                                   const char *error_code, const char *error_message);

typedef enum { CQ_STORE_CALL_CLAIM, CQ_STORE_CALL_FINISH } cq_store_call_kind_t;

struct cq_store_call_s {
    cq_store_t *store;
    cq_store_call_kind_t kind;
    cq_err_t err; /* a refusal found while preparing (not run), else the outcome */
    bool ready;   /* to be sent */
    char *key, *job_id;
    cq_store_args_t args; /* points into key, job_id and the caller's strings */
    cq_redis_call_t call;
};

static cq_store_call_t *cq_store_call_new(cq_store_t *store, cq_store_call_kind_t kind,
                                          const char *job_id, cq_err_t refused)
{
    cq_store_call_t *c = cq_calloc(1, sizeof(*c));
    c->store = store;
    c->kind = kind;
    c->err = refused;
    c->ready = refused == CQ_ERR_OK;
    c->job_id = cq_strdup(job_id ? job_id : "");
    cq_store_args_init(&c->args);
    if (c->ready) {
        c->key = cq_store_job_key(store, c->job_id);
        cq_store_args_add(&c->args, c->key);
    }
    return c;
}

cq_store_call_t *cq_store_claim_call(cq_store_t *store, const cq_job_record_t *job)
{
    cq_err_t refused = !store || !job             ? CQ_ERR_INTERNAL_ERROR
                       : !cq_store_job_valid(job) ? CQ_ERR_BAD_REQUEST
                                                  : CQ_ERR_OK;
    cq_store_call_t *c =
        cq_store_call_new(store, CQ_STORE_CALL_CLAIM, job ? job->job_id : NULL, refused);
    if (!c->ready)
        return c;
    int64_t now = cq_now_ms();
    cq_job_record_t rec = cq_store_job_new(job, CQ_JOB_RUNNING, now); /* when absent */
    cq_store_args_add_int(&c->args, now);
    cq_store_args_add_int(&c->args, CQ_STORE_SAFETY_TTL_MS);
    cq_store_args_record(&c->args, &rec);
    return c;
}

cq_store_call_t *cq_store_finish_call(cq_store_t *store, const char *job_id, cq_job_status_t status,
                                      const char *engine_json, const char *result_json,
                                      const char *error_code, const char *error_message)
{
    cq_err_t refused = !store || !job_id || !cq_job_status_terminal(status) ? CQ_ERR_INTERNAL_ERROR
                       : !job_id[0]                                         ? CQ_ERR_NOT_FOUND
                                                                            : CQ_ERR_OK;
    cq_store_call_t *c = cq_store_call_new(store, CQ_STORE_CALL_FINISH, job_id, refused);
    if (!c->ready)
        return c;
    cq_store_args_add(&c->args, store->events);
    cq_store_args_add(&c->args, c->job_id);
    cq_store_args_add_int(&c->args, store->result_ttl_ms);
    cq_store_args_terminal(&c->args, status, engine_json, result_json, error_code, error_message);
    return c;
}

void cq_store_run(cq_store_t *store, cq_store_call_t *const *calls, size_t n)
{
    cq_redis_call_t *batch = cq_calloc(n ? n : 1, sizeof(*batch));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        cq_store_call_t *c = calls[i];
        if (!c->ready)
            continue;
        int script = c->kind == CQ_STORE_CALL_CLAIM ? CQ_SCRIPT_CLAIM : CQ_SCRIPT_FINISH;
        batch[m++] = (cq_redis_call_t){
            .script = &c->store->scripts[script],
            .nkeys = 1,
            .argc = c->args.argc,
            .argv = c->args.argv,
            .lens = c->args.lens,
        };
    }
    cq_redis_pipeline(store ? store->redis : NULL, batch, m);
    m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!calls[i]->ready)
            continue;
        calls[i]->call = batch[m++];
        calls[i]->ready = false;
        calls[i]->err = calls[i]->call.err;
    }
    free(batch);
}

cq_err_t cq_store_call_end(cq_store_call_t *c, cq_job_record_t *out)
{
    if (!c)
        return CQ_ERR_INTERNAL_ERROR;
    cq_job_record_clear(out);
    cq_err_t err = c->ready ? CQ_ERR_REDIS_UNAVAILABLE : c->err; /* never run: not sent */
    long long state = -1;
    if (err == CQ_ERR_OK && c->call.reply)
        err = cq_store_state_record(c->call.reply, c->job_id, &state, out);
    /* Both scripts answer 0 for a terminal job; only a finish -1 for an absent one. */
    if (err == CQ_ERR_OK && state == 0)
        err = CQ_ERR_JOB_ALREADY_TERMINAL;
    else if (err == CQ_ERR_OK && state < 0 && c->kind == CQ_STORE_CALL_FINISH)
        err = CQ_ERR_NOT_FOUND;
    cq_redis_reply_free(c->call.reply);
    free(c->key);
    free(c->job_id);
    free(c);
    return err;
}

/* One call alone: prepared, run and answered. */
static cq_err_t cq_store_call_once(cq_store_t *store, cq_store_call_t *c, cq_job_record_t *out)
{
    cq_store_run(store, &c, 1);
    return cq_store_call_end(c, out);
}

cq_err_t cq_store_claim(cq_store_t *store, const cq_job_record_t *job, cq_job_record_t *out)
{
    if (!out)
        return CQ_ERR_INTERNAL_ERROR;
    return cq_store_call_once(store, cq_store_claim_call(store, job), out);
}

/* Maps the -1 / 0 / other answers of requeue and finish. */
static cq_err_t cq_store_int_answer(const cq_redis_reply_t *reply)
{
    if (cq_redis_reply_type(reply) != CQ_REDIS_INTEGER)
        return CQ_ERR_INTERNAL_ERROR;
    long long n = cq_redis_reply_integer(reply);
    if (n < 0)
        return CQ_ERR_NOT_FOUND;
    return n == 0 ? CQ_ERR_JOB_ALREADY_TERMINAL : CQ_ERR_OK;
}

cq_err_t cq_store_requeue(cq_store_t *store, const char *job_id, const char *error_code,
                          const char *error_message)
{
    if (!store || !job_id)
        return CQ_ERR_INTERNAL_ERROR;
    if (!job_id[0])
        return CQ_ERR_NOT_FOUND;
    char *key = cq_store_job_key(store, job_id);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add_int(&args, CQ_STORE_SAFETY_TTL_MS);
    cq_store_args_add(&args, "error_code");
    cq_store_args_add(&args, error_code);
    cq_store_args_add(&args, "error_message");
    cq_store_args_add(&args, error_message);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_REQUEUE, 1, &args, &reply);
    if (err == CQ_ERR_OK)
        err = cq_store_int_answer(reply);
    cq_redis_reply_free(reply);
    free(key);
    return err;
}

/* Runs a terminal transition script ({-1} absent, {0, record} already
 * terminal, {1, record} done) and maps its answer; out gets the record. */
static cq_err_t cq_store_transition(cq_store_t *store, int script, cq_store_args_t *args,
                                    const char *job_id, cq_job_record_t *out)
{
    cq_redis_reply_t *reply;
    long long state = -1;
    cq_err_t err = cq_store_exec(store, script, 1, args, &reply);
    if (err == CQ_ERR_OK)
        err = cq_store_state_record(reply, job_id, &state, out);
    if (err == CQ_ERR_OK && state < 0)
        err = CQ_ERR_NOT_FOUND;
    else if (err == CQ_ERR_OK && state == 0)
        err = CQ_ERR_JOB_ALREADY_TERMINAL;
    cq_redis_reply_free(reply);
    return err;
}

/* Appends the pairs every terminal transition sets ("" deletes in the scripts). */
static void cq_store_args_terminal(cq_store_args_t *a, cq_job_status_t status,
                                   const char *engine_json, const char *result_json,
                                   const char *error_code, const char *error_message)
{
    cq_store_args_add(a, "status");
    cq_store_args_add(a, cq_job_status_name(status));
    cq_store_args_add(a, "finished_at");
    cq_store_args_add_int(a, cq_now_ms());
    cq_store_args_add(a, "engine");
    cq_store_args_add(a, engine_json);
    cq_store_args_add(a, "result");
    cq_store_args_add(a, result_json);
    cq_store_args_add(a, "error_code");
    cq_store_args_add(a, error_code);
    cq_store_args_add(a, "error_message");
    cq_store_args_add(a, error_message);
}

cq_err_t cq_store_finish(cq_store_t *store, const char *job_id, cq_job_status_t status,
                         const char *engine_json, const char *result_json, const char *error_code,
                         const char *error_message, cq_job_record_t *out)
{
    return cq_store_call_once(store,
                              cq_store_finish_call(store, job_id, status, engine_json, result_json,
                                                   error_code, error_message),
                              out);
}

cq_err_t cq_store_cancel(cq_store_t *store, const char *job_id, const char *tenant_id,
                         cq_job_record_t *out)
{
    if (!store || !job_id || !tenant_id)
        return CQ_ERR_INTERNAL_ERROR;
    cq_job_record_clear(out);
    if (!job_id[0] || !tenant_id[0])
        return CQ_ERR_NOT_FOUND;
    char *key = cq_store_job_key(store, job_id);
    cq_store_args_t args;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add(&args, store->events);
    cq_store_args_add(&args, job_id);
    cq_store_args_add_int(&args, store->result_ttl_ms);
    cq_store_args_add(&args, tenant_id);
    cq_store_args_terminal(&args, CQ_JOB_CANCELLED, NULL, NULL, cq_err_name(CQ_ERR_JOB_CANCELLED),
                           cq_err_desc(CQ_ERR_JOB_CANCELLED));
    cq_err_t err = cq_store_transition(store, CQ_SCRIPT_CANCEL, &args, job_id, out);
    free(key);
    return err;
}

cq_err_t cq_store_restore(cq_store_t *store, const cq_job_record_t *job, int64_t ttl_ms,
                          cq_store_restore_t *how)
{
    if (!store || !job)
        return CQ_ERR_INTERNAL_ERROR;
    if (!cq_store_job_valid(job) || !cq_job_status_terminal(job->status) || job->finished_at <= 0 ||
        ttl_ms <= 0)
        return CQ_ERR_BAD_REQUEST;
    char *key = cq_store_job_key(store, job->job_id);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add_int(&args, ttl_ms);
    cq_store_args_add(&args, store->events);
    cq_store_args_add(&args, job->job_id);
    cq_store_args_record(&args, job);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_RESTORE, 1, &args, &reply);
    if (err == CQ_ERR_OK && cq_redis_reply_type(reply) != CQ_REDIS_INTEGER)
        err = CQ_ERR_INTERNAL_ERROR;
    if (err == CQ_ERR_OK && how) {
        long long n = cq_redis_reply_integer(reply);
        *how = n == 0   ? CQ_STORE_RESTORE_KEPT
               : n == 2 ? CQ_STORE_RESTORE_REPLACED
                        : CQ_STORE_RESTORE_WRITTEN;
    }
    cq_redis_reply_free(reply);
    free(key);
    return err;
}

/* ---- idempotency ----------------------------------------------------------------- */

static char *cq_store_idem_key(const cq_store_t *store, const char *tenant_id, const char *key)
{
    return cq_asprintf("%sidem:%zu:%s:%s", store->prefix, strlen(tenant_id), tenant_id, key);
}

cq_err_t cq_store_idempotency(cq_store_t *store, const char *tenant_id, const char *key,
                              const char *body_hash, const char *job_id, char **existing_job_id)
{
    if (!existing_job_id)
        return CQ_ERR_INTERNAL_ERROR;
    *existing_job_id = NULL;
    if (!store || !tenant_id || !key || !body_hash || !job_id || !job_id[0])
        return CQ_ERR_INTERNAL_ERROR;
    char *idem = cq_store_idem_key(store, tenant_id, key);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, idem);
    cq_store_args_add(&args, job_id);
    cq_store_args_add(&args, body_hash);
    cq_store_args_add_int(&args, store->idem_ttl_ms);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_IDEM, 1, &args, &reply);
    if (err != CQ_ERR_OK || cq_redis_reply_type(reply) == CQ_REDIS_NIL)
        goto done;
    size_t id_len = 0, hash_len = 0;
    const char *id = NULL, *hash = NULL;
    if (cq_redis_reply_count(reply) == 2) {
        id = cq_redis_reply_str(cq_redis_reply_at(reply, 0), &id_len);
        hash = cq_redis_reply_str(cq_redis_reply_at(reply, 1), &hash_len);
    }
    if (!id) {
        err = CQ_ERR_INTERNAL_ERROR;
        goto done;
    }
    if (!hash || hash_len != strlen(body_hash) || memcmp(hash, body_hash, hash_len) != 0) {
        err = CQ_ERR_IDEMPOTENCY_KEY_REUSED;
        goto done;
    }
    *existing_job_id = cq_strndup(id, id_len);
done:
    cq_redis_reply_free(reply);
    free(idem);
    return err;
}

cq_err_t cq_store_idempotency_release(cq_store_t *store, const char *tenant_id, const char *key,
                                      const char *job_id)
{
    if (!store || !tenant_id || !key || !job_id)
        return CQ_ERR_INTERNAL_ERROR;
    char *idem = cq_store_idem_key(store, tenant_id, key);
    cq_store_args_t args;
    cq_redis_reply_t *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, idem);
    cq_store_args_add(&args, job_id);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_IDEM_RELEASE, 1, &args, &reply);
    cq_redis_reply_free(reply);
    free(idem);
    return err;
}
