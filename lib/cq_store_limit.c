/*
 * cq_store_limit.c — the job store's per-tenant counters (see cq_store.h):
 * the gateway's request-rate buckets and the workers' daily token counts.
 *
 * Rate. <prefix>rate:<len(tenant)>:<tenant> holds the bucket's theoretical
 * arrival time in microseconds (cq_limit.c explains GCRA). The check is one
 * Lua script, so concurrent gateways never both take the last job of a
 * bucket: one EVALSHA per submission, no other round trip. The key expires
 * when the bucket would be full again (an absent key is a full bucket), so
 * idle tenants cost no memory. The clock is the calling gateway's: replicas
 * must keep their clocks in step (NTP); a skew of s lets a request through
 * up to s early or late, nothing worse.
 *
 * Tokens. <prefix>tokens:<YYYYMMDD>:<len(tenant)>:<tenant> is a counter
 * (INCRBY) with a TTL set on its first count; a new UTC day is a new key.
 *
 * Threads: any thread (the store's pool hands each call its connection).
 */
#include "cq_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
/* KEYS[1] bucket; ARGV[1] now us, ARGV[2] interval us, ARGV[3] burst, ARGV[4] cost.
 * {allowed 0|1, remaining, reset us, retry-after us, tat us as text}: cq_limit_gcra. */
const char cq_store_script_rate[] =
    "local now = tonumber(ARGV[1])\n"
    "local t = tonumber(ARGV[2])\n"
    "local burst = tonumber(ARGV[3])\n"
    "local cost = tonumber(ARGV[4])\n"
    "local limit = t * burst\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "local base = tat\n"
    "if base < now then base = now end\n"
    "local nxt = base + cost * t\n"
    "if cost > burst or nxt - now > limit then\n"
    "  local retry = nxt - now - limit\n"
    "  if cost > burst then retry = base - now end\n"
    "  return {0, math.max(0, math.floor((limit - (base - now)) / t)), base - now, retry,\n"
    "          string.format('%.0f', tat)}\n"
    "end\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX',\n"
    "           math.floor((nxt - now) / 1000) + 1)\n"
    "return {1, math.max(0, math.floor((limit - (nxt - now)) / t)), nxt - now, 0,\n"
    "        string.format('%.0f', nxt)}\n";

/* KEYS[1] counter; ARGV[1] tokens, ARGV[2] TTL ms. The new count. */
const char cq_store_script_tokens_add[] =
    "local n = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
    "return n\n";
/* clang-format on */

static bool cq_store_limit_int(const cq_redis_reply_t *r, int64_t *out)
{
    if (cq_redis_reply_type(r) == CQ_REDIS_INTEGER) {
        *out = cq_redis_reply_integer(r);
        return true;
    }
    size_t len;
    const char *s = cq_redis_reply_str(r, &len);
    char buf[24];
    if (!s || len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

cq_err_t cq_store_rate_take(cq_store_t *store, const char *tenant, cq_limit_rate_t rate,
                            int64_t cost, int64_t now_us, cq_limit_decision_t *out)
{
    if (!store || !tenant || !out || cost < 1)
        return CQ_ERR_INTERNAL_ERROR;
    if (rate.rate <= 0) {
        cq_limit_gcra(0, now_us, rate, cost, out);
        return CQ_ERR_OK;
    }
    memset(out, 0, sizeof(*out));
    char *key = cq_asprintf("%srate:%zu:%s", store->prefix, strlen(tenant), tenant);
    cq_store_args_t args;
    cq_redis_reply_t *reply = NULL;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add_int(&args, now_us);
    cq_store_args_add_int(&args, cq_limit_interval_us(rate));
    cq_store_args_add_int(&args, rate.burst);
    cq_store_args_add_int(&args, cost);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_RATE, 1, &args, &reply);
    if (err != CQ_ERR_OK)
        goto out_free_key;
    int64_t v[5];
    if (cq_redis_reply_count(reply) != 5) {
        err = CQ_ERR_INTERNAL_ERROR;
        goto out_free_reply;
    }
    for (size_t i = 0; i < 5; i++) {
        if (!cq_store_limit_int(cq_redis_reply_at(reply, i), &v[i])) {
            err = CQ_ERR_INTERNAL_ERROR;
            goto out_free_reply;
        }
    }
    out->allowed = v[0] == 1;
    out->remaining = v[1];
    out->reset_us = v[2];
    out->retry_after_us = v[3];
    out->tat_us = v[4];
out_free_reply:
    cq_redis_reply_free(reply);
out_free_key:
    free(key);
    return err;
}

static char *cq_store_tokens_key(const cq_store_t *store, const char *tenant, const char *day)
{
    return cq_asprintf("%stokens:%s:%zu:%s", store->prefix, day, strlen(tenant), tenant);
}

cq_err_t cq_store_tokens_used(cq_store_t *store, const char *tenant, const char *day, int64_t *used)
{
    if (!store || !tenant || !day || !used)
        return CQ_ERR_INTERNAL_ERROR;
    *used = 0;
    char *key = cq_store_tokens_key(store, tenant, day);
    cq_store_args_t args;
    cq_redis_reply_t *reply = NULL;
    cq_store_args_init(&args);
    cq_store_args_add(&args, "GET");
    cq_store_args_add(&args, key);
    cq_err_t err = cq_store_exec(store, -1, 0, &args, &reply);
    if (err == CQ_ERR_OK && cq_redis_reply_type(reply) != CQ_REDIS_NIL &&
        !cq_store_limit_int(reply, used))
        err = CQ_ERR_INTERNAL_ERROR;
    cq_redis_reply_free(reply);
    free(key);
    return err;
}

cq_err_t cq_store_tokens_add(cq_store_t *store, const char *tenant, const char *day, int64_t tokens,
                             int64_t ttl_ms, int64_t *total)
{
    if (!store || !tenant || !day || tokens < 1 || ttl_ms < 1)
        return CQ_ERR_INTERNAL_ERROR;
    char *key = cq_store_tokens_key(store, tenant, day);
    cq_store_args_t args;
    cq_redis_reply_t *reply = NULL;
    cq_store_args_init(&args);
    cq_store_args_add(&args, key);
    cq_store_args_add_int(&args, tokens);
    cq_store_args_add_int(&args, ttl_ms);
    cq_err_t err = cq_store_exec(store, CQ_SCRIPT_TOKENS_ADD, 1, &args, &reply);
    int64_t n = 0;
    if (err == CQ_ERR_OK && !cq_store_limit_int(reply, &n))
        err = CQ_ERR_INTERNAL_ERROR;
    if (total)
        *total = n;
    cq_redis_reply_free(reply);
    free(key);
    return err;
}
