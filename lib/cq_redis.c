/*
 * cq_redis.c — the Redis connection pool and pub/sub listener (see cq_redis.h).
 *
 * Pool. hiredis contexts are not thread-safe and are dead after an error, so
 * the pool keeps redis.pool_size slots behind a mutex and a condvar. A thread
 * takes a free slot (waiting up to redis.timeout, else REDIS_UNAVAILABLE),
 * connects it if empty, uses it alone, and gives it back; after an I/O error
 * or an error reply the context is freed and the slot left empty, so the next
 * user reconnects. Before reusing an idle context a zero-timeout poll() checks
 * that the server has not closed it (CLIENT KILL, idle timeout, restart): such
 * a context is replaced before the command is sent, so callers see no failure
 * for a connection that died while idle. Commands are never retried: one whose
 * connection broke mid-way may or may not have run, and the store's claims
 * and finishes are not idempotent. The slot wait, connect, AUTH, SELECT and
 * each command are each bounded by redis.timeout, so a call takes at most
 * about (2 + its round trips) x redis.timeout (host name lookup aside), and
 * fails at once when the connection is refused. Every argument goes through
 * redisCommandArgv with explicit lengths: caller text is never formatted into
 * a command. Scripts go by EVALSHA (SHA1 computed once) and by EVAL when the
 * server's script cache lacks them (restart, SCRIPT FLUSH, failover). A
 * pipelined batch of script calls (cq_redis_script_each) takes one
 * connection, appends every call, then reads every reply: one round trip,
 * each reply bounded by redis.timeout.
 *
 * Signals. hiredis write()s without MSG_NOSIGNAL, and writing to a connection
 * the server reset raises SIGPIPE, whose default action kills the process. So
 * a calling thread blocks SIGPIPE around Redis I/O and consumes a SIGPIPE it
 * raised; the process's signal dispositions are left alone. The listener
 * thread blocks every signal, so signals stay with the program's own threads.
 *
 * Listener. One thread per pool, started on demand, owns a context outside the
 * pool, SUBSCRIBEs, and poll()s its socket and a self-pipe, so destroy stops it
 * at once (or after a connect in progress). It hands each message to the
 * callback and signals every (re)subscription, reconnects at once after a loss
 * and then with backoff, and gives up on a connection whose SUBSCRIBE is not
 * confirmed within redis.timeout. A silently dead peer is found by TCP
 * keepalive. Connection failures are logged at most once a second.
 */
#define _GNU_SOURCE /* pipe2 */
#include "cq_redis.h"
#include "cq_log.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

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

#define CQ_REDIS_BACKOFF_MIN_MS 100
#define CQ_REDIS_BACKOFF_MAX_MS 2000
#define CQ_REDIS_MAX_ARGS       64
#define CQ_REDIS_COMPONENT      "redis"

struct cq_redis_s {
    char *host, *password;
    int port, db, pool_size;
    int64_t timeout_ms;

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    redisContext **conns; /* pool_size slots, NULL = not connected */
    int *free_slots;      /* stack of free slot numbers */
    int n_free;

    pthread_mutex_t listen_lock; /* listening, channel, callback */
    bool listening;
    char *channel;
    cq_redis_message_cb callback;
    void *callback_arg;
    atomic_bool stop;
    pthread_t thread;
    int stop_pipe[2];

    atomic_llong log_after_ms;
};

typedef struct {
    int slot;
    redisContext *ctx;
    bool broken;
} cq_redis_conn_t;

static bool cq_redis_log_gate(cq_redis_t *redis)
{
    long long now = cq_mono_ms(), after = atomic_load(&redis->log_after_ms);
    return now >= after && atomic_compare_exchange_strong(&redis->log_after_ms, &after, now + 1000);
}

static struct timeval cq_redis_tv(int64_t ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* ---- SIGPIPE guard ------------------------------------------------------------------------- */

typedef struct {
    sigset_t old;
    bool pending_before;
} cq_redis_sigpipe_t;

static void cq_redis_sigpipe_block(cq_redis_sigpipe_t *g)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    g->pending_before = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void cq_redis_sigpipe_restore(cq_redis_sigpipe_t *g)
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

/* ---- connections --------------------------------------------------------------------------- */

/* Passes a good reply through; NULL for an I/O error (NULL in) or an error reply
 * (logged and freed): either way the context must not be reused. */
static redisReply *cq_redis_checked(redisReply *reply, const char *cmd, size_t cmd_len)
{
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        CQ_LOG(CQ_LOG_WARN, CQ_REDIS_COMPONENT, NULL, "%.*s: %.200s", (int)cmd_len, cmd,
               reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

/* A new context with AUTH (and SELECT) done, or NULL with why filled. */
static redisContext *cq_redis_connect(cq_redis_t *redis, bool select_db, char *why, size_t why_size)
{
    struct timeval tv = cq_redis_tv(redis->timeout_ms);
    bool unix_socket = redis->host[0] == '/';
    redisContext *ctx = unix_socket ? redisConnectUnixWithTimeout(redis->host, tv)
                                    : redisConnectWithTimeout(redis->host, redis->port, tv);
    redisReply *reply;
    if (!ctx) {
        cq_errstr_set(why, why_size, "cannot allocate a Redis context");
        return NULL;
    }
    if (ctx->err || redisSetTimeout(ctx, tv) != REDIS_OK ||
        (!unix_socket && redisEnableKeepAlive(ctx) != REDIS_OK))
        goto fail;
    if (redis->password[0]) {
        const char *argv[] = {"AUTH", redis->password};
        size_t lens[] = {4, strlen(redis->password)};
        if (!(reply = cq_redis_checked(redisCommandArgv(ctx, 2, argv, lens), argv[0], lens[0])))
            goto fail;
        freeReplyObject(reply);
    }
    if (select_db && redis->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", redis->db);
        const char *argv[] = {"SELECT", db};
        size_t lens[] = {6, strlen(db)};
        if (!(reply = cq_redis_checked(redisCommandArgv(ctx, 2, argv, lens), argv[0], lens[0])))
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
static bool cq_redis_idle_alive(redisContext *ctx)
{
    struct pollfd pfd = {.fd = ctx->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 0;
}

static void cq_redis_release(cq_redis_t *redis, cq_redis_conn_t *conn)
{
    if (conn->broken && conn->ctx) {
        redisFree(conn->ctx);
        conn->ctx = NULL;
    }
    pthread_mutex_lock(&redis->pool_lock);
    redis->conns[conn->slot] = conn->ctx;
    redis->free_slots[redis->n_free++] = conn->slot;
    pthread_cond_signal(&redis->pool_cond);
    pthread_mutex_unlock(&redis->pool_lock);
}

/* Takes a slot (waiting up to redis.timeout) and makes sure it is connected. */
static cq_err_t cq_redis_acquire(cq_redis_t *redis, cq_redis_conn_t *conn)
{
    int64_t deadline = cq_mono_ms() + redis->timeout_ms;
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    pthread_mutex_lock(&redis->pool_lock);
    while (redis->n_free == 0) {
        if (pthread_cond_timedwait(&redis->pool_cond, &redis->pool_lock, &ts) == ETIMEDOUT &&
            redis->n_free == 0) {
            pthread_mutex_unlock(&redis->pool_lock);
            if (cq_redis_log_gate(redis))
                CQ_LOG(CQ_LOG_WARN, CQ_REDIS_COMPONENT, NULL,
                       "no free Redis connection within %lld ms (redis.pool_size %d)",
                       (long long)redis->timeout_ms, redis->pool_size);
            return CQ_ERR_REDIS_UNAVAILABLE;
        }
    }
    conn->slot = redis->free_slots[--redis->n_free];
    conn->ctx = redis->conns[conn->slot];
    conn->broken = false;
    pthread_mutex_unlock(&redis->pool_lock);

    if (conn->ctx && !cq_redis_idle_alive(conn->ctx)) {
        CQ_LOG(CQ_LOG_INFO, CQ_REDIS_COMPONENT, NULL, "idle Redis connection closed, reconnecting");
        redisFree(conn->ctx);
        conn->ctx = NULL;
    }
    if (!conn->ctx) {
        char why[160];
        conn->ctx = cq_redis_connect(redis, true, why, sizeof(why));
        if (!conn->ctx) {
            if (cq_redis_log_gate(redis))
                CQ_LOG(CQ_LOG_WARN, CQ_REDIS_COMPONENT, NULL, "cannot connect to Redis %s:%d: %s",
                       redis->host, redis->port, why);
            cq_redis_release(redis, conn);
            return CQ_ERR_REDIS_UNAVAILABLE;
        }
    }
    return CQ_ERR_OK;
}

/* Runs a command (script NULL) or a script with nkeys keys first in argv. */
static cq_err_t cq_redis_run(cq_redis_t *redis, const cq_redis_script_t *script, int nkeys,
                             int argc, const char **argv, const size_t *lens,
                             cq_redis_reply_t **out)
{
    const char *all[CQ_REDIS_MAX_ARGS + 3]; /* EVALSHA|EVAL, sha|source, numkeys, argv */
    size_t all_lens[CQ_REDIS_MAX_ARGS + 3];
    char nk[12];
    cq_redis_sigpipe_t guard;
    cq_redis_conn_t conn;
    redisReply *reply = NULL;
    cq_err_t err;
    *out = NULL;
    if (!redis || argc < 0 || argc > CQ_REDIS_MAX_ARGS || (!script && argc < 1) || nkeys < 0 ||
        nkeys > argc)
        return CQ_ERR_INTERNAL_ERROR;
    if (script) {
        snprintf(nk, sizeof(nk), "%d", nkeys);
        all[2] = nk;
        all_lens[2] = strlen(nk);
        memcpy(all + 3, argv, (size_t)argc * sizeof(*argv));
        memcpy(all_lens + 3, lens, (size_t)argc * sizeof(*lens));
    }
    cq_redis_sigpipe_block(&guard);
    if ((err = cq_redis_acquire(redis, &conn)) != CQ_ERR_OK)
        goto out;
    if (script && script->sha[0]) {
        all[0] = "EVALSHA";
        all[1] = script->sha;
        all_lens[0] = 7;
        all_lens[1] = 40;
        reply = redisCommandArgv(conn.ctx, argc + 3, all, all_lens);
        if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(reply);
            reply = NULL;
        }
    }
    if (script && !reply && !conn.ctx->err) {
        all[0] = "EVAL";
        all[1] = script->src;
        all_lens[0] = 4;
        all_lens[1] = strlen(script->src);
        reply = redisCommandArgv(conn.ctx, argc + 3, all, all_lens);
    }
    if (!script)
        reply = redisCommandArgv(conn.ctx, argc, argv, lens);
    if (script)
        reply = cq_redis_checked(reply, all[0], all_lens[0]);
    else
        reply = cq_redis_checked(reply, argv[0], lens[0]);
    if (!reply) {
        conn.broken = true;
        if (conn.ctx->err && cq_redis_log_gate(redis))
            CQ_LOG(CQ_LOG_WARN, CQ_REDIS_COMPONENT, NULL, "Redis connection lost: %s",
                   conn.ctx->errstr);
        err = CQ_ERR_REDIS_UNAVAILABLE;
    }
    *out = (cq_redis_reply_t *)reply;
    cq_redis_release(redis, &conn);
out:
    cq_redis_sigpipe_restore(&guard);
    return err;
}

cq_err_t cq_redis_command(cq_redis_t *redis, int argc, const char **argv, const size_t *lens,
                          cq_redis_reply_t **reply)
{
    return cq_redis_run(redis, NULL, 0, argc, argv, lens, reply);
}

cq_err_t cq_redis_script(cq_redis_t *redis, const cq_redis_script_t *script, int nkeys, int argc,
                         const char **argv, const size_t *lens, cq_redis_reply_t **reply)
{
    if (!script) {
        *reply = NULL;
        return CQ_ERR_INTERNAL_ERROR;
    }
    return cq_redis_run(redis, script, nkeys, argc, argv, lens, reply);
}

/* Queues one script call on ctx (by EVALSHA, or by EVAL when !by_sha). */
static bool cq_redis_append_script(redisContext *ctx, const cq_redis_script_t *script, bool by_sha,
                                   int nkeys, const cq_redis_call_t *call)
{
    const char *all[CQ_REDIS_MAX_ARGS + 3];
    size_t all_lens[CQ_REDIS_MAX_ARGS + 3];
    char nk[12];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    all[0] = by_sha ? "EVALSHA" : "EVAL";
    all_lens[0] = strlen(all[0]);
    all[1] = by_sha ? script->sha : script->src;
    all_lens[1] = strlen(all[1]);
    all[2] = nk;
    all_lens[2] = strlen(nk);
    memcpy(all + 3, call->argv, (size_t)call->argc * sizeof(*call->argv));
    memcpy(all_lens + 3, call->lens, (size_t)call->argc * sizeof(*call->lens));
    return redisAppendCommandArgv(ctx, call->argc + 3, all, all_lens) == REDIS_OK;
}

/* Reads the replies of the calls queued on ctx whose want[i] is set (all
 * when want is NULL) into replies; a NOSCRIPT answer sets (*noscript)[i]
 * (allocated on the first). False on an I/O error. */
static bool cq_redis_read_each(cq_redis_conn_t *conn, size_t n, const bool *want,
                               cq_redis_reply_t **replies, bool **noscript)
{
    for (size_t i = 0; i < n; i++) {
        if (want && !want[i])
            continue;
        void *got = NULL;
        if (redisGetReply(conn->ctx, &got) != REDIS_OK || !got)
            return false;
        redisReply *r = got;
        if (r->type == REDIS_REPLY_ERROR) {
            if (noscript && strncmp(r->str, "NOSCRIPT", 8) == 0) {
                if (!*noscript)
                    *noscript = cq_calloc(n, sizeof(bool));
                (*noscript)[i] = true;
            } else {
                CQ_LOG(CQ_LOG_WARN, CQ_REDIS_COMPONENT, NULL, "EVALSHA: %.200s", r->str);
                conn->broken = true; /* as after any error reply: not reused */
            }
            freeReplyObject(r);
            r = NULL;
        }
        replies[i] = (cq_redis_reply_t *)r;
    }
    return true;
}

cq_err_t cq_redis_script_each(cq_redis_t *redis, const cq_redis_script_t *script, int nkeys,
                              size_t n, const cq_redis_call_t *calls, cq_redis_reply_t **replies)
{
    cq_redis_sigpipe_t guard;
    cq_redis_conn_t conn;
    bool *noscript = NULL;
    cq_err_t err = CQ_ERR_OK;
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (n == 0)
        return CQ_ERR_OK;
    if (!redis || !script || nkeys < 0)
        return CQ_ERR_INTERNAL_ERROR;
    for (size_t i = 0; i < n; i++)
        if (calls[i].argc < nkeys || calls[i].argc > CQ_REDIS_MAX_ARGS)
            return CQ_ERR_INTERNAL_ERROR;
    bool by_sha = script->sha[0] != '\0';
    cq_redis_sigpipe_block(&guard);
    if ((err = cq_redis_acquire(redis, &conn)) != CQ_ERR_OK)
        goto out_restore;
    for (size_t i = 0; i < n; i++)
        if (!cq_redis_append_script(conn.ctx, script, by_sha, nkeys, &calls[i]))
            goto err_lost;
    if (!cq_redis_read_each(&conn, n, NULL, replies, by_sha ? &noscript : NULL))
        goto err_lost;
    if (noscript) {
        for (size_t i = 0; i < n; i++)
            if (noscript[i] && !cq_redis_append_script(conn.ctx, script, false, nkeys, &calls[i]))
                goto err_lost;
        if (!cq_redis_read_each(&conn, n, noscript, replies, NULL))
            goto err_lost;
    }
    goto out_release;
err_lost:
    conn.broken = true;
    if (conn.ctx->err && cq_redis_log_gate(redis))
        CQ_LOG(CQ_LOG_WARN, CQ_REDIS_COMPONENT, NULL, "Redis connection lost: %s",
               conn.ctx->errstr);
    for (size_t i = 0; i < n; i++) {
        cq_redis_reply_free(replies[i]);
        replies[i] = NULL;
    }
    err = CQ_ERR_REDIS_UNAVAILABLE;
out_release:
    cq_redis_release(redis, &conn);
out_restore:
    cq_redis_sigpipe_restore(&guard);
    free(noscript);
    return err;
}

void cq_redis_script_init(cq_redis_script_t *script, const char *src)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    script->src = src;
    script->sha[0] = '\0';
    if (!EVP_Digest(src, strlen(src), md, &md_len, EVP_sha1(), NULL) || md_len != 20)
        return; /* e.g. SHA1 disabled by policy: plain EVAL */
    for (unsigned i = 0; i < md_len; i++)
        snprintf(script->sha + (size_t)2 * i, 3, "%02x", md[i]);
}

/* ---- replies ------------------------------------------------------------------------------- */

void cq_redis_reply_free(cq_redis_reply_t *reply)
{
    freeReplyObject(reply);
}

cq_redis_type_t cq_redis_reply_type(const cq_redis_reply_t *reply)
{
    const redisReply *r = (const redisReply *)reply;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return CQ_REDIS_STRING;
    case REDIS_REPLY_INTEGER:
        return CQ_REDIS_INTEGER;
    case REDIS_REPLY_ARRAY:
        return CQ_REDIS_ARRAY;
    default:
        return CQ_REDIS_NIL;
    }
}

const char *cq_redis_reply_str(const cq_redis_reply_t *reply, size_t *len)
{
    const redisReply *r = (const redisReply *)reply;
    if (cq_redis_reply_type(reply) != CQ_REDIS_STRING) {
        *len = 0;
        return NULL;
    }
    *len = r->len;
    return r->str;
}

long long cq_redis_reply_integer(const cq_redis_reply_t *reply)
{
    const redisReply *r = (const redisReply *)reply;
    return r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

size_t cq_redis_reply_count(const cq_redis_reply_t *reply)
{
    const redisReply *r = (const redisReply *)reply;
    return r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
}

const cq_redis_reply_t *cq_redis_reply_at(const cq_redis_reply_t *reply, size_t i)
{
    return (const cq_redis_reply_t *)((const redisReply *)reply)->element[i];
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

cq_redis_t *cq_redis_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    const char *bad = NULL;
    if (!conf)
        bad = "no configuration";
    else if (!conf->redis_host || !conf->redis_host[0])
        bad = "redis.host is empty";
    else if (conf->redis_host[0] != '/' && (conf->redis_port < 1 || conf->redis_port > 65535))
        bad = "redis.port must be 1..65535";
    else if (conf->redis_db < 0 || conf->redis_db > INT_MAX)
        bad = "redis.db must not be negative";
    else if (conf->redis_timeout < 1)
        bad = "redis.timeout must be positive";
    else if (conf->redis_pool_size < 1 || conf->redis_pool_size > 4096)
        bad = "redis.pool_size must be 1..4096";
    if (bad) {
        cq_errstr_set(errstr, errstr_size, "%s", bad);
        return NULL;
    }
    cq_redis_t *redis = cq_calloc(1, sizeof(*redis));
    redis->host = cq_strdup(conf->redis_host);
    redis->password = cq_strdup(conf->redis_password ? conf->redis_password : "");
    redis->port = (int)conf->redis_port;
    redis->db = (int)conf->redis_db;
    redis->pool_size = (int)conf->redis_pool_size;
    redis->timeout_ms = conf->redis_timeout;

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&redis->pool_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&redis->pool_lock, NULL);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    redis->conns = cq_calloc((size_t)redis->pool_size, sizeof(*redis->conns));
    redis->free_slots = cq_calloc((size_t)redis->pool_size, sizeof(*redis->free_slots));
    for (int i = 0; i < redis->pool_size; i++)
        redis->free_slots[i] = redis->pool_size - 1 - i;
    redis->n_free = redis->pool_size;

    pthread_mutex_init(&redis->listen_lock, NULL);
    atomic_init(&redis->stop, false);
    atomic_init(&redis->log_after_ms, 0);
    redis->stop_pipe[0] = redis->stop_pipe[1] = -1;
    return redis;
}

void cq_redis_destroy(cq_redis_t *redis)
{
    if (!redis)
        return;
    if (redis->listening) {
        atomic_store(&redis->stop, true);
        ssize_t n;
        do
            n = write(redis->stop_pipe[1], "x", 1);
        while (n < 0 && errno == EINTR);
        pthread_join(redis->thread, NULL);
    }
    if (redis->stop_pipe[0] >= 0) {
        close(redis->stop_pipe[0]);
        close(redis->stop_pipe[1]);
    }
    pthread_mutex_destroy(&redis->listen_lock);
    for (int i = 0; i < redis->pool_size; i++)
        if (redis->conns[i])
            redisFree(redis->conns[i]);
    free(redis->conns);
    free(redis->free_slots);
    pthread_cond_destroy(&redis->pool_cond);
    pthread_mutex_destroy(&redis->pool_lock);
    free(redis->channel);
    free(redis->host);
    free(redis->password);
    free(redis);
}

/* ---- listener ------------------------------------------------------------------------------ */

/* Sleeps up to ms on the stop pipe; true when destroy asked the thread to stop. */
static bool cq_redis_listen_sleep(cq_redis_t *redis, int ms)
{
    struct pollfd pfd = {.fd = redis->stop_pipe[0], .events = POLLIN};
    poll(&pfd, 1, ms);
    return atomic_load(&redis->stop);
}

/* Connects and sends SUBSCRIBE; the confirmation arrives later. */
static redisContext *cq_redis_listen_connect(cq_redis_t *redis)
{
    char why[160];
    redisContext *ctx = cq_redis_connect(redis, false, why, sizeof(why));
    if (!ctx) {
        CQ_LOG(CQ_LOG_WARN, CQ_REDIS_COMPONENT, NULL, "listener cannot connect to Redis: %s", why);
        return NULL;
    }
    const char *argv[] = {"SUBSCRIBE", redis->channel};
    size_t lens[] = {9, strlen(redis->channel)};
    int done = 0;
    if (redisAppendCommandArgv(ctx, 2, argv, lens) != REDIS_OK)
        goto fail;
    while (!done)
        if (redisBufferWrite(ctx, &done) != REDIS_OK)
            goto fail;
    return ctx;
fail:
    CQ_LOG(CQ_LOG_WARN, CQ_REDIS_COMPONENT, NULL, "listener cannot SUBSCRIBE: %s", ctx->errstr);
    redisFree(ctx);
    return NULL;
}

/* Handles one pushed reply; true for the subscription's confirmation. */
static bool cq_redis_listen_handle(cq_redis_t *redis, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return false;
    const redisReply *kind = r->element[0], *payload = r->element[2];
    if (kind->len == 7 && memcmp(kind->str, "message", 7) == 0 &&
        payload->type == REDIS_REPLY_STRING) {
        redis->callback(redis->callback_arg, payload->str, payload->len);
    } else if (kind->len == 9 && memcmp(kind->str, "subscribe", 9) == 0) {
        CQ_LOG(CQ_LOG_INFO, CQ_REDIS_COMPONENT, NULL, "subscribed to %s", redis->channel);
        redis->callback(redis->callback_arg, NULL, 0);
        return true;
    }
    return false;
}

static void *cq_redis_listen_main(void *arg)
{
    cq_redis_t *redis = arg;
    redisContext *ctx = NULL;
    int backoff_ms = 0;
    bool subscribed = false;
    while (!atomic_load(&redis->stop)) {
        if (!ctx) {
            if (backoff_ms && cq_redis_listen_sleep(redis, backoff_ms))
                break;
            backoff_ms = backoff_ms ? backoff_ms * 2 : CQ_REDIS_BACKOFF_MIN_MS;
            if (backoff_ms > CQ_REDIS_BACKOFF_MAX_MS)
                backoff_ms = CQ_REDIS_BACKOFF_MAX_MS;
            if (!(ctx = cq_redis_listen_connect(redis)))
                continue;
            subscribed = false;
        }
        void *reply = NULL;
        while (redisGetReplyFromReader(ctx, &reply) == REDIS_OK && reply) {
            if (cq_redis_listen_handle(redis, reply)) {
                subscribed = true;
                backoff_ms = 0; /* a later loss reconnects at once */
            }
            freeReplyObject(reply);
        }
        const char *lost = ctx->err ? ctx->errstr : NULL;
        if (!lost) {
            /* Sleeps until a message or destroy; the confirmation must come in time. */
            struct pollfd pfd[2] = {{.fd = ctx->fd, .events = POLLIN},
                                    {.fd = redis->stop_pipe[0], .events = POLLIN}};
            int n = poll(pfd, 2, subscribed ? -1 : (int)redis->timeout_ms);
            if (n < 0 && errno != EINTR)
                lost = strerror(errno);
            else if (n == 0)
                lost = "no SUBSCRIBE confirmation in time";
            else if (n > 0 && pfd[0].revents && redisBufferRead(ctx) != REDIS_OK)
                lost = ctx->errstr;
        }
        if (lost) {
            CQ_LOG(CQ_LOG_WARN, CQ_REDIS_COMPONENT, NULL, "listener lost Redis: %s", lost);
            redisFree(ctx);
            ctx = NULL;
        }
    }
    if (ctx)
        redisFree(ctx);
    return NULL;
}

bool cq_redis_listen(cq_redis_t *redis, const char *channel, cq_redis_message_cb callback,
                     void *arg)
{
    if (!redis || !channel || !callback)
        return false;
    pthread_mutex_lock(&redis->listen_lock);
    if (redis->listening)
        goto out;
    if (redis->stop_pipe[0] < 0 && pipe2(redis->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        redis->stop_pipe[0] = redis->stop_pipe[1] = -1;
        CQ_LOG(CQ_LOG_ERROR, CQ_REDIS_COMPONENT, NULL, "cannot create the listener pipe: %s",
               strerror(errno));
        goto out;
    }
    free(redis->channel);
    redis->channel = cq_strdup(channel);
    redis->callback = callback;
    redis->callback_arg = arg;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&redis->thread, NULL, cq_redis_listen_main, redis);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        CQ_LOG(CQ_LOG_ERROR, CQ_REDIS_COMPONENT, NULL, "cannot start the listener: %s",
               strerror(rc));
    else
        redis->listening = true;
out:;
    bool listening = redis->listening;
    pthread_mutex_unlock(&redis->listen_lock);
    return listening;
}
