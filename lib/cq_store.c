/*
 * cq_store.c — the Redis job store (see cq_store.h).
 *
 * Data. A job is the hash <prefix>job:<id>, one field per record member, all
 * plain strings (times and attempts in decimal, status by name, engine and
 * result as JSON text); unset members are absent fields, so "" and NULL are
 * the same. Unknown fields are ignored on read, so a newer writer does not
 * break an older reader. Queued and running jobs carry a safety TTL of 7 days
 * (set on create and refreshed on claim and requeue) so a job whose worker
 * vanished cannot leak; a terminal job gets jobs.result_ttl. Idempotency keys
 * are hashes <prefix>idem:<len(tenant)>:<tenant>:<key> {job_id, body_hash}
 * with jobs.idempotency_ttl (the length keeps tenant "a:b" + key "c" apart
 * from "a" + "b:c"); cache entries are strings <prefix>cache:<key>.
 *
 * State changes. Each one that reads before it writes is a short Lua script
 * touching one key (so Redis Cluster works), sent by EVALSHA with EVAL as
 * fallback on NOSCRIPT; the SHA1s are computed once in cq_store_new. Create
 * never overwrites an id (UUIDv7 ids do not collide; an existing one is a
 * bug). Claim creates an absent job (sent to Kafka by another service) and
 * refuses a terminal one. Requeue of a queued job is a no-op success, so a
 * worker may repeat it. Finish and cancel set every outcome field, deleting
 * those not given, so a success after a requeue carries no stale error;
 * cancel records the error JOB_CANCELLED. Times come from the calling host's
 * clock, like created_at from the gateway. Every argument goes through
 * redisCommandArgv with explicit lengths: caller text is never formatted into
 * a command.
 *
 * Pool. hiredis contexts are not thread-safe and are dead after an error, so
 * the store keeps redis.pool_size slots behind a mutex and a condvar. A thread
 * takes a free slot (waiting up to redis.timeout, else REDIS_UNAVAILABLE),
 * connects it if empty, uses it alone, and gives it back; after an I/O error
 * or an error reply the context is freed and the slot left empty, so the next
 * user reconnects. Before reusing an idle context a zero-timeout poll() checks
 * that the server has not closed it (CLIENT KILL, idle timeout, restart): such
 * a context is replaced before the command is sent, so callers see no failure
 * for a connection that died while idle. Calls are never retried: a command
 * whose connection broke mid-way may or may not have run, and claims and
 * finishes are not idempotent. The slot wait, connect, AUTH, SELECT and each
 * command are each bounded by redis.timeout, so a call takes at most about
 * (2 + its round trips) x redis.timeout (host name lookup aside), and fails at
 * once when the connection is refused. hiredis write()s without MSG_NOSIGNAL,
 * so the calling thread blocks SIGPIPE around Redis I/O and consumes a SIGPIPE
 * it raised: a dead peer never kills the process, and the process's signal
 * dispositions are left alone. Connection failures are logged at most once a
 * second.
 *
 * Waiting. Finish and cancel PUBLISH the job id on <prefix>events, one channel
 * for all jobs (every gateway hears every finish: a few bytes each). One
 * subscriber thread per store, started by the first cq_store_wait with every
 * signal blocked, owns a context outside the pool, SUBSCRIBEs, and poll()s its
 * socket and a self-pipe, so destroy stops it at once (or after a connect in
 * progress, at most redis.timeout). Waiters register in a hash table keyed by
 * job id (one entry and condvar per job, shared by all its waiters, under
 * wait_lock); a message bumps the entry's generation and broadcasts. A waiter
 * reads the generation before reading the record, so a message between the
 * read and the sleep is not lost, and re-reads the record at least once a
 * second anyway because pub/sub drops messages while the subscriber is
 * disconnected (so 1000 waiters cost up to 1000 HGETALL/s). On each
 * (re)subscription the subscriber wakes every waiter to re-read. It reconnects
 * at once after a loss, then with backoff (100 ms doubling to 2 s), and gives
 * up on a connection whose SUBSCRIBE is not confirmed within redis.timeout.
 *
 * Threads: any thread may call any function except cq_store_destroy; the
 * subscriber thread only reads its own context and touches the waiter table.
 */
#define _GNU_SOURCE /* pipe2 */
#include "cq_store.h"
#include "cq_log.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CQ_STORE_SAFETY_TTL_MS  (7LL * 24 * 3600 * 1000)
#define CQ_STORE_REREAD_MS      1000
#define CQ_STORE_WAIT_MAX_MS    (24LL * 3600 * 1000) /* keeps deadlines far from overflow */
#define CQ_STORE_BUCKETS        256
#define CQ_STORE_BACKOFF_MIN_MS 100
#define CQ_STORE_BACKOFF_MAX_MS 2000
#define CQ_STORE_MAX_ARGS       48
#define CQ_STORE_ARGS_RESERVED  3 /* EVALSHA sha numkeys */
#define CQ_STORE_COMPONENT      "store"

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

typedef enum { CQ_FIELD_STR, CQ_FIELD_TIME, CQ_FIELD_INT, CQ_FIELD_STATUS } cq_store_field_type_t;

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

/* Arguments of one command; slots before CQ_STORE_ARGS_RESERVED are for EVALSHA. */
typedef struct {
    const char *argv[CQ_STORE_MAX_ARGS];
    size_t lens[CQ_STORE_MAX_ARGS];
    int argc;
    char nums[12][24];
    int n_nums;
} cq_store_args_t;

static void cq_store_args_init(cq_store_args_t *a)
{
    a->argc = CQ_STORE_ARGS_RESERVED;
    a->n_nums = 0;
}

static void cq_store_args_set(cq_store_args_t *a, int i, const char *s)
{
    a->argv[i] = s;
    a->lens[i] = strlen(s);
}

static void cq_store_args_add(cq_store_args_t *a, const char *s)
{
    assert(a->argc < CQ_STORE_MAX_ARGS);
    a->argv[a->argc] = s ? s : "";
    a->lens[a->argc] = strlen(a->argv[a->argc]);
    a->argc++;
}

static void cq_store_args_add_int(cq_store_args_t *a, int64_t v)
{
    assert(a->n_nums < (int)CQ_ARRAY_SIZE(a->nums));
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
        }
    }
}

static bool cq_store_parse_int(const redisReply *v, int64_t min, int64_t max, int64_t *out)
{
    char buf[24];
    if (v->len == 0 || v->len >= sizeof(buf))
        return false;
    memcpy(buf, v->str, v->len);
    buf[v->len] = '\0';
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
static cq_err_t cq_store_parse_record(const redisReply *r, const char *job_id, cq_job_record_t *out)
{
    cq_job_record_clear(out);
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        goto bad;
    if (r->elements == 0)
        return CQ_ERR_NOT_FOUND;
    bool have_status = false;
    for (size_t i = 0; i < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            goto bad;
        for (size_t f = 0; f < CQ_ARRAY_SIZE(cq_store_fields); f++) {
            if (strlen(cq_store_fields[f].name) != k->len ||
                memcmp(cq_store_fields[f].name, k->str, k->len) != 0)
                continue;
            void *p = (char *)out + cq_store_fields[f].offset;
            int64_t n;
            switch (cq_store_fields[f].type) {
            case CQ_FIELD_STR:
                free(*(char **)p);
                *(char **)p = v->len ? cq_strndup(v->str, v->len) : NULL;
                break;
            case CQ_FIELD_TIME:
                if (!cq_store_parse_int(v, 0, INT64_MAX, &n))
                    goto bad;
                *(int64_t *)p = n;
                break;
            case CQ_FIELD_INT:
                if (!cq_store_parse_int(v, 0, INT_MAX, &n))
                    goto bad;
                *(int *)p = (int)n;
                break;
            case CQ_FIELD_STATUS: {
                char name[16];
                if (v->len >= sizeof(name))
                    goto bad;
                memcpy(name, v->str, v->len);
                name[v->len] = '\0';
                if (!cq_job_status_parse(name, (cq_job_status_t *)p))
                    goto bad;
                have_status = true;
                break;
            }
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

enum {
    CQ_SCRIPT_CREATE,
    CQ_SCRIPT_CLAIM,
    CQ_SCRIPT_REQUEUE,
    CQ_SCRIPT_FINISH,
    CQ_SCRIPT_CANCEL,
    CQ_SCRIPT_IDEM,
    CQ_SCRIPT_IDEM_RELEASE,
    CQ_SCRIPT__COUNT
};

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
     * -1 absent, 0 already terminal, 1 finished and published. */
    [CQ_SCRIPT_FINISH] =
        "local st = redis.call('HGET', KEYS[1], 'status')\n"
        "if not st then return -1 end\n"
        "if " CQ_LUA_TERMINAL " then return 0 end\n"
        CQ_LUA_SET_PAIRS(4)
        "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
        "redis.call('PUBLISH', ARGV[1], ARGV[2])\n"
        "return 1\n",
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
};
/* clang-format on */

/* ---- the store ----------------------------------------------------------------------------- */

typedef struct cq_store_waiter_s {
    struct cq_store_waiter_s *next;
    char *job_id;
    size_t job_id_len;
    unsigned refs;
    uint64_t gen; /* bumped on every notification */
    pthread_cond_t cond;
} cq_store_waiter_t;

struct cq_store_s {
    char *host, *password, *prefix, *events;
    int port, db, pool_size;
    int64_t timeout_ms, result_ttl_ms, idem_ttl_ms;
    char sha[CQ_SCRIPT__COUNT][41]; /* "" when SHA1 is unavailable: plain EVAL */

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    redisContext **conns; /* pool_size slots, NULL = not connected */
    int *free_slots;
    int n_free;

    pthread_mutex_t wait_lock; /* waiter table, every waiter's condvar, sub_started */
    cq_store_waiter_t *buckets[CQ_STORE_BUCKETS];
    bool sub_started;
    atomic_bool sub_stop;
    pthread_t sub_thread;
    int sub_pipe[2];

    atomic_llong log_after_ms; /* connection failures are logged at most once a second */
};

typedef struct {
    int slot;
    redisContext *ctx;
    bool broken;
} cq_store_conn_t;

static void cq_store_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

/* Waits on cond until the monotonic deadline (ms); returns ETIMEDOUT once past it. */
static int cq_store_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    return pthread_cond_timedwait(cond, lock, &ts);
}

static struct timeval cq_store_tv(int64_t ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

static bool cq_store_log_gate(cq_store_t *store)
{
    long long now = cq_mono_ms(), after = atomic_load(&store->log_after_ms);
    return now >= after && atomic_compare_exchange_strong(&store->log_after_ms, &after, now + 1000);
}

/* SIGPIPE guard: hiredis write()s without MSG_NOSIGNAL. */
typedef struct {
    sigset_t old;
    bool pending_before;
} cq_store_sigpipe_t;

static void cq_store_sigpipe_block(cq_store_sigpipe_t *g)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    g->pending_before = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void cq_store_sigpipe_restore(cq_store_sigpipe_t *g)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    if (!g->pending_before && sigismember(&pending, SIGPIPE)) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Passes a good reply through; NULL for an I/O error (NULL in) or an error reply
 * (logged and freed): either way the context must not be reused. */
static redisReply *cq_store_checked(redisReply *reply, const char *cmd, size_t cmd_len)
{
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        CQ_LOG(CQ_LOG_WARN, CQ_STORE_COMPONENT, NULL, "Redis %.*s: %.200s", (int)cmd_len, cmd,
               reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

/* A new context with AUTH and SELECT done, or NULL with why filled. */
static redisContext *cq_store_connect(cq_store_t *store, bool select_db, char *why, size_t why_size)
{
    struct timeval tv = cq_store_tv(store->timeout_ms);
    bool unix_socket = store->host[0] == '/';
    redisContext *ctx = unix_socket ? redisConnectUnixWithTimeout(store->host, tv)
                                    : redisConnectWithTimeout(store->host, store->port, tv);
    redisReply *reply = NULL;
    if (!ctx) {
        cq_errstr_set(why, why_size, "cannot allocate a Redis context");
        return NULL;
    }
    if (ctx->err || redisSetTimeout(ctx, tv) != REDIS_OK ||
        (!unix_socket && redisEnableKeepAlive(ctx) != REDIS_OK))
        goto fail;
    if (store->password[0]) {
        const char *argv[] = {"AUTH", store->password};
        size_t lens[] = {4, strlen(store->password)};
        if (!(reply = cq_store_checked(redisCommandArgv(ctx, 2, argv, lens), argv[0], lens[0])))
            goto fail;
        freeReplyObject(reply);
    }
    if (select_db && store->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", store->db);
        const char *argv[] = {"SELECT", db};
        size_t lens[] = {6, strlen(db)};
        if (!(reply = cq_store_checked(redisCommandArgv(ctx, 2, argv, lens), argv[0], lens[0])))
            goto fail;
        freeReplyObject(reply);
    }
    return ctx;
fail:
    cq_errstr_set(why, why_size, "%s", ctx->err ? ctx->errstr : "AUTH or SELECT refused");
    redisFree(ctx);
    return NULL;
}

/* Whether an idle context still looks connected: an idle RESP2 connection has
 * nothing to read, so readability means EOF, reset or garbage. */
static bool cq_store_idle_alive(redisContext *ctx)
{
    struct pollfd pfd = {.fd = ctx->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 0;
}

static void cq_store_release(cq_store_t *store, cq_store_conn_t *conn)
{
    if (conn->broken && conn->ctx) {
        redisFree(conn->ctx);
        conn->ctx = NULL;
    }
    pthread_mutex_lock(&store->pool_lock);
    store->conns[conn->slot] = conn->ctx;
    store->free_slots[store->n_free++] = conn->slot;
    pthread_cond_signal(&store->pool_cond);
    pthread_mutex_unlock(&store->pool_lock);
}

/* Takes a slot (waiting up to redis.timeout) and makes sure it is connected. */
static cq_err_t cq_store_acquire(cq_store_t *store, cq_store_conn_t *conn)
{
    int64_t deadline = cq_mono_ms() + store->timeout_ms;
    pthread_mutex_lock(&store->pool_lock);
    while (store->n_free == 0) {
        if (cq_store_cond_wait_until(&store->pool_cond, &store->pool_lock, deadline) == ETIMEDOUT &&
            store->n_free == 0) {
            pthread_mutex_unlock(&store->pool_lock);
            if (cq_store_log_gate(store))
                CQ_LOG(CQ_LOG_WARN, CQ_STORE_COMPONENT, NULL,
                       "no free Redis connection within %lld ms (redis.pool_size %d)",
                       (long long)store->timeout_ms, store->pool_size);
            return CQ_ERR_REDIS_UNAVAILABLE;
        }
    }
    conn->slot = store->free_slots[--store->n_free];
    conn->ctx = store->conns[conn->slot];
    conn->broken = false;
    pthread_mutex_unlock(&store->pool_lock);

    if (conn->ctx && !cq_store_idle_alive(conn->ctx)) {
        CQ_LOG(CQ_LOG_INFO, CQ_STORE_COMPONENT, NULL, "idle Redis connection closed, reconnecting");
        redisFree(conn->ctx);
        conn->ctx = NULL;
    }
    if (!conn->ctx) {
        char why[160];
        conn->ctx = cq_store_connect(store, true, why, sizeof(why));
        if (!conn->ctx) {
            if (cq_store_log_gate(store))
                CQ_LOG(CQ_LOG_WARN, CQ_STORE_COMPONENT, NULL, "cannot connect to Redis %s:%d: %s",
                       store->host, store->port, why);
            cq_store_release(store, conn);
            return CQ_ERR_REDIS_UNAVAILABLE;
        }
    }
    return CQ_ERR_OK;
}

/* Runs one command on a pooled connection: a plain command (script < 0) from
 * args->argv[CQ_STORE_ARGS_RESERVED..], or a script with nkeys keys first. On
 * CQ_ERR_OK *reply is a non-error reply (caller frees); else REDIS_UNAVAILABLE. */
static cq_err_t cq_store_exec(cq_store_t *store, int script, int nkeys, cq_store_args_t *args,
                              redisReply **reply)
{
    cq_store_sigpipe_t guard;
    cq_store_conn_t conn;
    cq_err_t err;
    *reply = NULL;
    cq_store_sigpipe_block(&guard);
    if ((err = cq_store_acquire(store, &conn)) != CQ_ERR_OK)
        goto out;
    const char **argv = args->argv + CQ_STORE_ARGS_RESERVED;
    size_t *lens = args->lens + CQ_STORE_ARGS_RESERVED;
    int argc = args->argc - CQ_STORE_ARGS_RESERVED;
    char nk[12];
    if (script >= 0) {
        snprintf(nk, sizeof(nk), "%d", nkeys);
        cq_store_args_set(args, 2, nk);
        argv = args->argv;
        lens = args->lens;
        argc = args->argc;
        if (store->sha[script][0]) {
            cq_store_args_set(args, 0, "EVALSHA");
            cq_store_args_set(args, 1, store->sha[script]);
            *reply = redisCommandArgv(conn.ctx, argc, argv, lens);
            if (*reply && (*reply)->type == REDIS_REPLY_ERROR &&
                strncmp((*reply)->str, "NOSCRIPT", 8) == 0) {
                freeReplyObject(*reply);
                *reply = NULL;
            }
        }
        if (!*reply && !conn.ctx->err) {
            cq_store_args_set(args, 0, "EVAL");
            cq_store_args_set(args, 1, cq_store_scripts[script]);
            *reply = redisCommandArgv(conn.ctx, argc, argv, lens);
        }
    } else {
        *reply = redisCommandArgv(conn.ctx, argc, argv, lens);
    }
    *reply = cq_store_checked(*reply, argv[0], lens[0]);
    if (!*reply) {
        conn.broken = true;
        if (conn.ctx->err && cq_store_log_gate(store))
            CQ_LOG(CQ_LOG_WARN, CQ_STORE_COMPONENT, NULL, "Redis connection lost: %s",
                   conn.ctx->errstr);
        err = CQ_ERR_REDIS_UNAVAILABLE;
    }
    cq_store_release(store, &conn);
out:
    cq_store_sigpipe_restore(&guard);
    return err;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void cq_store_sha1_hex(const char *src, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    out[0] = '\0';
    if (!EVP_Digest(src, strlen(src), md, &md_len, EVP_sha1(), NULL) || md_len != 20)
        return; /* e.g. SHA1 disabled by policy: fall back to plain EVAL */
    for (unsigned i = 0; i < md_len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

cq_store_t *cq_store_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    if (!conf) {
        cq_errstr_set(errstr, errstr_size, "no configuration");
        return NULL;
    }
    const char *bad = NULL;
    if (!conf->redis_host || !conf->redis_host[0])
        bad = "redis.host is empty";
    else if (conf->redis_host[0] != '/' && (conf->redis_port < 1 || conf->redis_port > 65535))
        bad = "redis.port must be 1..65535";
    else if (conf->redis_db < 0 || conf->redis_db > INT_MAX)
        bad = "redis.db must not be negative";
    else if (conf->redis_timeout < 1)
        bad = "redis.timeout must be positive";
    else if (conf->redis_pool_size < 1 || conf->redis_pool_size > 4096)
        bad = "redis.pool_size must be 1..4096";
    else if (!conf->redis_prefix)
        bad = "redis.prefix is not set";
    else if (conf->jobs_result_ttl < 1 || conf->jobs_idempotency_ttl < 1)
        bad = "jobs.result_ttl and jobs.idempotency_ttl must be positive";
    if (bad) {
        cq_errstr_set(errstr, errstr_size, "%s", bad);
        return NULL;
    }

    cq_store_t *store = cq_calloc(1, sizeof(*store));
    store->host = cq_strdup(conf->redis_host);
    store->password = cq_strdup(conf->redis_password ? conf->redis_password : "");
    store->prefix = cq_strdup(conf->redis_prefix);
    store->events = cq_asprintf("%sevents", conf->redis_prefix);
    store->port = (int)conf->redis_port;
    store->db = (int)conf->redis_db;
    store->pool_size = (int)conf->redis_pool_size;
    store->timeout_ms = conf->redis_timeout;
    store->result_ttl_ms = conf->jobs_result_ttl;
    store->idem_ttl_ms = conf->jobs_idempotency_ttl;
    for (int i = 0; i < CQ_SCRIPT__COUNT; i++)
        cq_store_sha1_hex(cq_store_scripts[i], store->sha[i]);

    pthread_mutex_init(&store->pool_lock, NULL);
    cq_store_cond_init(&store->pool_cond);
    store->conns = cq_calloc((size_t)store->pool_size, sizeof(*store->conns));
    store->free_slots = cq_calloc((size_t)store->pool_size, sizeof(*store->free_slots));
    for (int i = 0; i < store->pool_size; i++)
        store->free_slots[i] = store->pool_size - 1 - i;
    store->n_free = store->pool_size;

    pthread_mutex_init(&store->wait_lock, NULL);
    atomic_init(&store->sub_stop, false);
    atomic_init(&store->log_after_ms, 0);
    store->sub_pipe[0] = store->sub_pipe[1] = -1;
    return store;
}

void cq_store_destroy(cq_store_t *store)
{
    if (!store)
        return;
    if (store->sub_started) {
        atomic_store(&store->sub_stop, true);
        ssize_t n;
        do
            n = write(store->sub_pipe[1], "x", 1);
        while (n < 0 && errno == EINTR);
        pthread_join(store->sub_thread, NULL);
    }
    if (store->sub_pipe[0] >= 0) {
        close(store->sub_pipe[0]);
        close(store->sub_pipe[1]);
    }
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
    for (int i = 0; i < store->pool_size; i++)
        if (store->conns[i])
            redisFree(store->conns[i]);
    free(store->conns);
    free(store->free_slots);
    pthread_cond_destroy(&store->pool_cond);
    pthread_mutex_destroy(&store->pool_lock);
    free(store->host);
    free(store->password);
    free(store->prefix);
    free(store->events);
    free(store);
}

/* ---- jobs ---------------------------------------------------------------------------------- */

static char *cq_store_job_key(const cq_store_t *store, const char *job_id)
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
    redisReply *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, "PING");
    cq_err_t err = cq_store_exec(store, -1, 0, &args, &reply);
    freeReplyObject(reply);
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
    redisReply *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add_int(&args, CQ_STORE_SAFETY_TTL_MS);
    cq_store_args_record(&args, &rec);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_CREATE, 1, &args, &reply);
    if (err == CQ_ERR_OK && (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1)) {
        CQ_LOG(CQ_LOG_ERROR, CQ_STORE_COMPONENT, job->job_id, "job id exists already");
        err = CQ_ERR_INTERNAL_ERROR;
    }
    freeReplyObject(reply);
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
    redisReply *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, "HGETALL");
    cq_store_args_add(&args, key);
    cq_err_t err = cq_store_exec(store, -1, 0, &args, &reply);
    if (err == CQ_ERR_OK)
        err = cq_store_parse_record(reply, job_id, out);
    freeReplyObject(reply);
    free(key);
    return err;
}

/* Reads a {state, HGETALL} script reply into *state and out (when a record came). */
static cq_err_t cq_store_state_record(const redisReply *reply, const char *job_id, long long *state,
                                      cq_job_record_t *out)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER)
        return CQ_ERR_INTERNAL_ERROR;
    *state = reply->element[0]->integer;
    if (reply->elements < 2 || !out)
        return CQ_ERR_OK;
    return cq_store_parse_record(reply->element[1], job_id, out);
}

cq_err_t cq_store_claim(cq_store_t *store, const cq_job_record_t *job, cq_job_record_t *out)
{
    if (!store || !job || !out)
        return CQ_ERR_INTERNAL_ERROR;
    cq_job_record_clear(out);
    if (!cq_store_job_valid(job))
        return CQ_ERR_BAD_REQUEST;
    int64_t now = cq_now_ms();
    cq_job_record_t rec = cq_store_job_new(job, CQ_JOB_RUNNING, now); /* when absent */
    char *key = cq_store_job_key(store, job->job_id);
    cq_store_args_t args;
    redisReply *reply;
    long long state = 0;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add_int(&args, now);
    cq_store_args_add_int(&args, CQ_STORE_SAFETY_TTL_MS);
    cq_store_args_record(&args, &rec);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_CLAIM, 1, &args, &reply);
    if (err == CQ_ERR_OK)
        err = cq_store_state_record(reply, job->job_id, &state, out);
    if (err == CQ_ERR_OK && state == 0)
        err = CQ_ERR_JOB_ALREADY_TERMINAL;
    freeReplyObject(reply);
    free(key);
    return err;
}

/* Maps the -1 / 0 / other answers of requeue and finish. */
static cq_err_t cq_store_int_answer(const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_INTEGER)
        return CQ_ERR_INTERNAL_ERROR;
    if (reply->integer < 0)
        return CQ_ERR_NOT_FOUND;
    return reply->integer == 0 ? CQ_ERR_JOB_ALREADY_TERMINAL : CQ_ERR_OK;
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
    redisReply *reply;
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
    freeReplyObject(reply);
    free(key);
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
                         const char *error_message)
{
    if (!store || !job_id || !cq_job_status_terminal(status))
        return CQ_ERR_INTERNAL_ERROR;
    if (!job_id[0])
        return CQ_ERR_NOT_FOUND;
    char *key = cq_store_job_key(store, job_id);
    cq_store_args_t args;
    redisReply *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add(&args, store->events);
    cq_store_args_add(&args, job_id);
    cq_store_args_add_int(&args, store->result_ttl_ms);
    cq_store_args_terminal(&args, status, engine_json, result_json, error_code, error_message);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_FINISH, 1, &args, &reply);
    if (err == CQ_ERR_OK)
        err = cq_store_int_answer(reply);
    freeReplyObject(reply);
    free(key);
    return err;
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
    redisReply *reply;
    long long state = -1;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add(&args, store->events);
    cq_store_args_add(&args, job_id);
    cq_store_args_add_int(&args, store->result_ttl_ms);
    cq_store_args_add(&args, tenant_id);
    cq_store_args_terminal(&args, CQ_JOB_CANCELLED, NULL, NULL, cq_err_name(CQ_ERR_JOB_CANCELLED),
                           cq_err_desc(CQ_ERR_JOB_CANCELLED));
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_CANCEL, 1, &args, &reply);
    if (err == CQ_ERR_OK)
        err = cq_store_state_record(reply, job_id, &state, out);
    if (err == CQ_ERR_OK && state < 0)
        err = CQ_ERR_NOT_FOUND;
    else if (err == CQ_ERR_OK && state == 0)
        err = CQ_ERR_JOB_ALREADY_TERMINAL;
    freeReplyObject(reply);
    free(key);
    return err;
}

/* ---- idempotency and cache ----------------------------------------------------------------- */

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
    redisReply *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, idem);
    cq_store_args_add(&args, job_id);
    cq_store_args_add(&args, body_hash);
    cq_store_args_add_int(&args, store->idem_ttl_ms);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_IDEM, 1, &args, &reply);
    if (err != CQ_ERR_OK || reply->type == REDIS_REPLY_NIL)
        goto done;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        err = CQ_ERR_INTERNAL_ERROR;
        goto done;
    }
    const redisReply *hash = reply->element[1];
    if (hash->type != REDIS_REPLY_STRING || hash->len != strlen(body_hash) ||
        memcmp(hash->str, body_hash, hash->len) != 0) {
        err = CQ_ERR_IDEMPOTENCY_KEY_REUSED;
        goto done;
    }
    *existing_job_id = cq_strndup(reply->element[0]->str, reply->element[0]->len);
done:
    freeReplyObject(reply);
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
    redisReply *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, idem);
    cq_store_args_add(&args, job_id);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_IDEM_RELEASE, 1, &args, &reply);
    freeReplyObject(reply);
    free(idem);
    return err;
}

cq_err_t cq_store_cache_get(cq_store_t *store, const char *key, char **value)
{
    if (!value)
        return CQ_ERR_INTERNAL_ERROR;
    *value = NULL;
    if (!store || !key)
        return CQ_ERR_INTERNAL_ERROR;
    char *ckey = cq_asprintf("%scache:%s", store->prefix, key);
    cq_store_args_t args;
    redisReply *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, "GET");
    cq_store_args_add(&args, ckey);
    cq_err_t err = cq_store_exec(store, -1, 0, &args, &reply);
    if (err == CQ_ERR_OK && reply->type == REDIS_REPLY_STRING)
        *value = cq_strndup(reply->str, reply->len);
    else if (err == CQ_ERR_OK)
        err = reply->type == REDIS_REPLY_NIL ? CQ_ERR_NOT_FOUND : CQ_ERR_INTERNAL_ERROR;
    freeReplyObject(reply);
    free(ckey);
    return err;
}

cq_err_t cq_store_cache_set(cq_store_t *store, const char *key, const char *value, int64_t ttl_ms)
{
    if (!store || !key || !value || ttl_ms <= 0)
        return CQ_ERR_INTERNAL_ERROR;
    char *ckey = cq_asprintf("%scache:%s", store->prefix, key);
    cq_store_args_t args;
    redisReply *reply;
    cq_store_args_init(&args);
    cq_store_args_add(&args, "SET");
    cq_store_args_add(&args, ckey);
    cq_store_args_add(&args, value);
    cq_store_args_add(&args, "PX");
    cq_store_args_add_int(&args, ttl_ms);
    cq_err_t err = cq_store_exec(store, -1, 0, &args, &reply);
    freeReplyObject(reply);
    free(ckey);
    return err;
}

/* ---- waiting ------------------------------------------------------------------------------- */

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

/* Sleeps up to ms on the stop pipe; true when destroy asked the thread to stop. */
static bool cq_store_sub_sleep(cq_store_t *store, int ms)
{
    struct pollfd pfd = {.fd = store->sub_pipe[0], .events = POLLIN};
    poll(&pfd, 1, ms);
    return atomic_load(&store->sub_stop);
}

/* Connects the subscriber and sends SUBSCRIBE; the confirmation arrives later. */
static redisContext *cq_store_sub_connect(cq_store_t *store)
{
    char why[160];
    redisContext *ctx = cq_store_connect(store, false, why, sizeof(why));
    if (!ctx) {
        CQ_LOG(CQ_LOG_WARN, CQ_STORE_COMPONENT, NULL, "subscriber cannot connect to Redis: %s",
               why);
        return NULL;
    }
    const char *argv[] = {"SUBSCRIBE", store->events};
    size_t lens[] = {9, strlen(store->events)};
    int done = 0;
    if (redisAppendCommandArgv(ctx, 2, argv, lens) != REDIS_OK)
        goto fail;
    while (!done)
        if (redisBufferWrite(ctx, &done) != REDIS_OK)
            goto fail;
    return ctx;
fail:
    CQ_LOG(CQ_LOG_WARN, CQ_STORE_COMPONENT, NULL, "subscriber cannot SUBSCRIBE: %s", ctx->errstr);
    redisFree(ctx);
    return NULL;
}

/* Handles one pushed reply: "message" wakes one job's waiters; the "subscribe"
 * confirmation wakes all (messages may have been missed before it) and returns true. */
static bool cq_store_sub_handle(cq_store_t *store, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return false;
    const redisReply *kind = r->element[0], *payload = r->element[2];
    if (kind->len == 7 && memcmp(kind->str, "message", 7) == 0 &&
        payload->type == REDIS_REPLY_STRING) {
        cq_store_notify(store, payload->str, payload->len);
    } else if (kind->len == 9 && memcmp(kind->str, "subscribe", 9) == 0) {
        CQ_LOG(CQ_LOG_INFO, CQ_STORE_COMPONENT, NULL, "subscribed to %s", store->events);
        cq_store_notify(store, NULL, 0);
        return true;
    }
    return false;
}

static void *cq_store_sub_main(void *arg)
{
    cq_store_t *store = arg;
    redisContext *ctx = NULL;
    int backoff_ms = 0;
    bool subscribed = false;
    while (!atomic_load(&store->sub_stop)) {
        if (!ctx) {
            if (backoff_ms && cq_store_sub_sleep(store, backoff_ms))
                break;
            backoff_ms = backoff_ms ? backoff_ms * 2 : CQ_STORE_BACKOFF_MIN_MS;
            if (backoff_ms > CQ_STORE_BACKOFF_MAX_MS)
                backoff_ms = CQ_STORE_BACKOFF_MAX_MS;
            if (!(ctx = cq_store_sub_connect(store)))
                continue;
            subscribed = false;
        }
        void *reply = NULL;
        while (redisGetReplyFromReader(ctx, &reply) == REDIS_OK && reply) {
            if (cq_store_sub_handle(store, reply)) {
                subscribed = true;
                backoff_ms = 0; /* a later loss reconnects at once */
            }
            freeReplyObject(reply);
        }
        const char *lost = ctx->err ? ctx->errstr : NULL;
        if (!lost) {
            /* Sleeps until a message or destroy; the confirmation must come in time. */
            struct pollfd pfd[2] = {{.fd = ctx->fd, .events = POLLIN},
                                    {.fd = store->sub_pipe[0], .events = POLLIN}};
            int n = poll(pfd, 2, subscribed ? -1 : (int)store->timeout_ms);
            if (n < 0 && errno != EINTR)
                lost = strerror(errno);
            else if (n == 0)
                lost = "no SUBSCRIBE confirmation in time";
            else if (n > 0 && pfd[0].revents && redisBufferRead(ctx) != REDIS_OK)
                lost = ctx->errstr;
        }
        if (lost) {
            CQ_LOG(CQ_LOG_WARN, CQ_STORE_COMPONENT, NULL, "subscriber lost Redis: %s", lost);
            redisFree(ctx);
            ctx = NULL;
        }
    }
    if (ctx)
        redisFree(ctx);
    return NULL;
}

/* Starts the subscriber thread once. If it cannot start, waiters still poll. */
static void cq_store_sub_start(cq_store_t *store)
{
    pthread_mutex_lock(&store->wait_lock);
    if (store->sub_started)
        goto out;
    if (store->sub_pipe[0] < 0 && pipe2(store->sub_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        store->sub_pipe[0] = store->sub_pipe[1] = -1;
        CQ_LOG(CQ_LOG_ERROR, CQ_STORE_COMPONENT, NULL, "cannot create the subscriber pipe: %s",
               strerror(errno));
        goto out;
    }
    /* The thread blocks every signal: signals stay with the program's own threads, and
     * a SIGPIPE from a dead Redis cannot kill the process. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&store->sub_thread, NULL, cq_store_sub_main, store);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        CQ_LOG(CQ_LOG_ERROR, CQ_STORE_COMPONENT, NULL, "cannot start the subscriber: %s",
               strerror(rc));
    else
        store->sub_started = true;
out:
    pthread_mutex_unlock(&store->wait_lock);
}

cq_err_t cq_store_wait(cq_store_t *store, const char *job_id, int64_t timeout_ms,
                       cq_job_record_t *out)
{
    if (!store || !job_id || !out)
        return CQ_ERR_INTERNAL_ERROR;
    cq_job_record_clear(out);
    if (!job_id[0])
        return CQ_ERR_NOT_FOUND;
    cq_store_sub_start(store);
    if (timeout_ms > CQ_STORE_WAIT_MAX_MS)
        timeout_ms = CQ_STORE_WAIT_MAX_MS;
    int64_t deadline = cq_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&store->wait_lock);
    cq_store_waiter_t *w = cq_store_waiter_get(store, job_id);
    pthread_mutex_unlock(&store->wait_lock);
    cq_err_t err;
    for (;;) {
        /* Generation first: a message between the read and the sleep is not lost. */
        pthread_mutex_lock(&store->wait_lock);
        uint64_t gen = w->gen;
        pthread_mutex_unlock(&store->wait_lock);
        err = cq_store_get(store, job_id, out);
        int64_t now = cq_mono_ms();
        if (err != CQ_ERR_OK || cq_job_status_terminal(out->status) || now >= deadline)
            break;
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
