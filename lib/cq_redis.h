/*
 * cq_redis.h — Redis plumbing under the job store: a pool of hiredis
 * connections shared by every thread, Lua script calls, read-only replies,
 * and one pub/sub listener thread. hiredis types stay inside cq_redis.c.
 *
 * Every failure (refused, timed out, connection lost, error reply) is
 * CQ_ERR_REDIS_UNAVAILABLE. All functions are thread-safe except
 * cq_redis_destroy.
 */
#ifndef CQ_REDIS_H
#define CQ_REDIS_H

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"

typedef struct cq_redis_s cq_redis_t;
/* A reply, read-only; a top-level reply is freed with cq_redis_reply_free. */
typedef struct cq_redis_reply_s cq_redis_reply_t;

typedef enum {
    CQ_REDIS_NIL,
    CQ_REDIS_STRING, /* bulk string or status */
    CQ_REDIS_INTEGER,
    CQ_REDIS_ARRAY,
} cq_redis_type_t;

/* A Lua script: its source and SHA1, made once by cq_redis_script_init. */
typedef struct {
    const char *src; /* not copied: a string literal */
    char sha[41];    /* "" when SHA1 is unavailable: the script is sent by EVAL */
} cq_redis_script_t;

/* Called on the listener thread for each message on the channel (payload and its
 * length), and with payload NULL after each (re)subscription: messages sent while
 * unsubscribed are lost, so the callee should re-check what it waits for. */
typedef void (*cq_redis_message_cb)(void *arg, const char *payload, size_t len);

/* A pool from conf's redis.host/port/password/db/timeout/pool_size (copied).
 * Connects lazily: fails only on a bad config. redis.host starting with '/' is a
 * Unix socket path. Caller destroys. */
cq_redis_t *cq_redis_new(const cq_config_t *conf, char *errstr, size_t errstr_size);

/* Stops the listener thread (waiting at most redis.timeout for a connect in
 * progress) and closes every connection. No other thread may use redis during or
 * after the call. NULL is a no-op. */
void cq_redis_destroy(cq_redis_t *redis);

/* Fills script for src (a string literal that outlives it). */
void cq_redis_script_init(cq_redis_script_t *script, const char *src);

/* Runs one command of argc <= 64 arguments; lens[i] is the byte length of argv[i].
 * On CQ_ERR_OK *reply is a non-error reply the caller frees; else *reply is NULL
 * (CQ_ERR_INTERNAL_ERROR for bad arguments). */
cq_err_t cq_redis_command(cq_redis_t *redis, int argc, const char **argv, const size_t *lens,
                          cq_redis_reply_t **reply);

/* Runs a script (EVALSHA, then EVAL on NOSCRIPT): argv holds its nkeys keys then its
 * arguments (argc <= 64). Reply as cq_redis_command. */
cq_err_t cq_redis_script(cq_redis_t *redis, const cq_redis_script_t *script, int nkeys, int argc,
                         const char **argv, const size_t *lens, cq_redis_reply_t **reply);

/* One call of a pipelined script (cq_redis_script_each): argc <= 64
 * arguments, its keys first; lens[i] is the byte length of argv[i]. */
typedef struct {
    int argc;
    const char *const *argv;
    const size_t *lens;
} cq_redis_call_t;

/* Runs n calls of one script (nkeys keys each) on one connection in one
 * round trip: all are sent, then all replies read (pipelining). Calls the
 * server's script cache lacks (NOSCRIPT) are sent again by EVAL, a second
 * round trip. replies[i] gets call i's reply (caller frees each non-NULL
 * one), NULL when that call got an error reply. CQ_ERR_OK when every call
 * was answered (check replies[i] for the error replies); on any other error
 * every replies[i] is NULL and each call may or may not have run. n 0 is
 * CQ_ERR_OK without a round trip. */
cq_err_t cq_redis_script_each(cq_redis_t *redis, const cq_redis_script_t *script, int nkeys,
                              size_t n, const cq_redis_call_t *calls, cq_redis_reply_t **replies);

/* Starts the listener thread subscribed to channel, once per pool: later calls change
 * nothing (not even the channel or callback). callback runs on that thread, must be
 * quick and thread-safe, and arg must outlive the pool. The thread reconnects by
 * itself (at once, then with backoff from 100 ms to 2 s). Returns whether the
 * listener runs; a failed start is retried by the next call. */
bool cq_redis_listen(cq_redis_t *redis, const char *channel, cq_redis_message_cb callback,
                     void *arg);

void cq_redis_reply_free(cq_redis_reply_t *reply);
cq_redis_type_t cq_redis_reply_type(const cq_redis_reply_t *reply);
/* String or status bytes (not NUL-terminated for our purposes; use len); NULL if not a
 * string. */
const char *cq_redis_reply_str(const cq_redis_reply_t *reply, size_t *len);
/* Integer value; 0 if not an integer. */
long long cq_redis_reply_integer(const cq_redis_reply_t *reply);
/* Number of elements of an array; 0 for anything else. */
size_t cq_redis_reply_count(const cq_redis_reply_t *reply);
/* Element i of an array (i < count), owned by the array. */
const cq_redis_reply_t *cq_redis_reply_at(const cq_redis_reply_t *reply, size_t i);

#endif
