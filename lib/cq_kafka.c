/*
 * cq_kafka.c — librdkafka wrappers (see cq_kafka.h).
 *
 * Threads: a producer is shared by any number of threads (librdkafka is
 * thread-safe); with background_poll one extra thread serves its delivery
 * reports. A consumer belongs to the one thread that polls it; rebalance
 * callbacks run inside cq_kafka_consumer_poll on that thread.
 *
 * Guarantees: producers are idempotent with acks=all, so a delivery report
 * with no error means the job is durably in the log. Consumers commit only
 * what the owner stored as finished (enable.auto.offset.store=false); the
 * store is committed by librdkafka's timer, which skips rebalances.
 *
 * Groups: assignment is cooperative-sticky, so a member joining or leaving
 * moves only the partitions that change owner while the others keep being
 * consumed; a static member (group.instance.id) that restarts within the
 * session timeout gets its own partitions back with no rebalance at all.
 *
 * A bounded producer (the gateway's) gives every message a final report
 * within its bound (message.timeout.ms), so a message its caller was told
 * "not delivered" is never delivered later. While it knows no broker
 * answers (all connections down, or a message timed out unsent) it refuses
 * at once and purges what is queued unsent; its poll thread probes the
 * cluster every second and lifts that as soon as a broker answers.
 */
#include "cq_kafka.h"
#include "cq_log.h"
#include "cq_member.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

/* How often a producer that knows its brokers are down asks again, and how
 * long it waits for the answer (on its poll thread). */
#define CQ_KAFKA_PROBE_INTERVAL_MS 1000
#define CQ_KAFKA_PROBE_TIMEOUT_MS  500
/* How long past its timeout a waiter waits for the final delivery reports
 * (librdkafka scans message timeouts about once a second). */
#define CQ_KAFKA_REPORT_GRACE_MS 2000

struct cq_kafka_producer_s {
    rd_kafka_t *rk;
    pthread_t poll_thread;
    bool background;
    volatile bool stop;
    pthread_mutex_t ready_lock;
    int64_t ready_checked_ms;
    bool ready_cached;
    atomic_bool down;         /* no broker answers: refuse at once (bounded producers) */
    atomic_bool probe_wanted; /* something suggests the brokers are gone: probe now */
    int64_t last_probe_ms;    /* poll thread only */
};

struct cq_kafka_consumer_s {
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue; /* the consumer queue cq_kafka_consumer_poll waits on */
    cq_kafka_rebalance_cb_t *rebalance_cb;
    void *opaque;
    char instance_id[256]; /* "" for a dynamic member */
    int member_lock;       /* descriptor of the claimed member slot, -1 if none */
    bool fatal_logged;
    rd_kafka_topic_partition_list_t *owned; /* our assignment, kept by the rebalance callback */
};

/* What rides along with each produced message until its delivery report:
 * a caller's cb, or produce_many's outcome_cb. */
typedef struct {
    cq_kafka_delivery_cb_t *cb;
    void (*outcome_cb)(void *opaque, cq_kafka_outcome_t outcome);
    void *opaque;
} cq_kafka_dr_t;

typedef struct {
    cq_kafka_msg_t pub; /* first: a cq_kafka_msg_t * points here */
    rd_kafka_message_t *rkm;
} cq_kafka_msg_impl_t;

static void cq_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* syslog levels: 0-3 errors, 4 warning, 5-6 info, 7 debug */
    cq_log_level_t lvl = level <= 3   ? CQ_LOG_ERROR
                         : level == 4 ? CQ_LOG_WARN
                         : level <= 6 ? CQ_LOG_INFO
                                      : CQ_LOG_DEBUG;
    CQ_LOG(lvl, "kafka", NULL, "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

static void cq_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    /* Transient broker errors are retried by librdkafka itself; a fatal one
     * (idempotence state lost) makes the producer unusable. */
    cq_log_level_t lvl = err == RD_KAFKA_RESP_ERR__FATAL ? CQ_LOG_ERROR : CQ_LOG_WARN;
    CQ_LOG(lvl, "kafka", NULL, "%s: %s: %s", rd_kafka_name(rk),
           rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static rd_kafka_conf_t *cq_kafka_conf_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    for (size_t i = 0; i < conf->kafka_count; i++) {
        char err[512];
        if (rd_kafka_conf_set(kconf, conf->kafka_names[i], conf->kafka_values[i], err,
                              sizeof(err)) != RD_KAFKA_CONF_OK) {
            cq_errstr_set(errstr, errstr_size, "kafka.%s: %s", conf->kafka_names[i], err);
            rd_kafka_conf_destroy(kconf);
            return NULL;
        }
    }
    rd_kafka_conf_set_log_cb(kconf, cq_kafka_log_cb);
    rd_kafka_conf_set_error_cb(kconf, cq_kafka_error_cb);
    return kconf;
}

/* Sets a property our guarantees depend on, refusing a conflicting override. */
static bool cq_kafka_conf_require(rd_kafka_conf_t *kconf, const cq_config_t *conf, const char *name,
                                  const char *value, char *errstr, size_t errstr_size)
{
    const char *user = cq_config_kafka_get(conf, name);
    if (user && strcmp(user, value) != 0) {
        cq_errstr_set(errstr, errstr_size,
                      "kafka.%s=%s is not allowed: coachq needs %s=%s for its delivery "
                      "guarantees",
                      name, user, name, value);
        return false;
    }
    char err[512];
    if (rd_kafka_conf_set(kconf, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        cq_errstr_set(errstr, errstr_size, "kafka.%s: %s", name, err);
        return false;
    }
    return true;
}

/* Producers only (consumers keep cq_kafka_error_cb): losing every broker
 * connection makes the poll thread probe the cluster. */
static void cq_kafka_producer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    cq_kafka_producer_t *producer = opaque;
    cq_kafka_error_cb(rk, err, reason, opaque);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&producer->probe_wanted, true);
}

static void cq_kafka_dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    cq_kafka_producer_t *producer = opaque;
    cq_kafka_dr_t *dr = rkm->_private;
    cq_kafka_outcome_t outcome = CQ_KAFKA_ACKED;
    if (rkm->err) {
        /* Only a message never sent is surely not in the log. */
        outcome = rd_kafka_message_status(rkm) == RD_KAFKA_MSG_STATUS_NOT_PERSISTED
                      ? CQ_KAFKA_NOT_DELIVERED
                      : CQ_KAFKA_MAYBE_DELIVERED;
        CQ_LOG(CQ_LOG_WARN, "kafka", NULL, "delivery to %s failed (%s): %s",
               rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "?",
               outcome == CQ_KAFKA_NOT_DELIVERED ? "not delivered" : "possibly delivered",
               rd_kafka_err2str(rkm->err));
        if (rkm->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
            atomic_store(&producer->probe_wanted, true);
    } else {
        atomic_store(&producer->down, false);
    }
    if (!dr)
        return;
    if (dr->outcome_cb) {
        dr->outcome_cb(dr->opaque, outcome);
    } else if (dr->cb) {
        cq_err_t err = rkm->err ? CQ_ERR_KAFKA_UNAVAILABLE : CQ_ERR_OK;
        dr->cb(dr->opaque, err, rkm->err ? rd_kafka_err2str(rkm->err) : NULL);
    }
    free(dr);
}

/* Whether a broker answers a metadata request now; sets producer->down. */
static bool cq_kafka_probe(cq_kafka_producer_t *producer)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(producer->rk, 0, NULL, &md, CQ_KAFKA_PROBE_TIMEOUT_MS);
    bool up = err == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->broker_cnt > 0;
    if (md)
        rd_kafka_metadata_destroy(md);
    bool was_down = atomic_exchange(&producer->down, !up);
    if (was_down && up)
        CQ_LOG(CQ_LOG_INFO, "kafka", NULL, "a broker answers again: producing");
    else if (!was_down && !up) {
        CQ_LOG(CQ_LOG_WARN, "kafka", NULL,
               "no broker answers: submissions are refused until one does");
        /* What is still queued was never sent: report it not delivered now
         * rather than at its timeout (what is in flight is left alone, the
         * broker may have it). */
        rd_kafka_purge(producer->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
    }
    return up;
}

static void *cq_kafka_poll_main(void *arg)
{
    cq_kafka_producer_t *producer = arg;
    while (!producer->stop) {
        rd_kafka_poll(producer->rk, 100);
        int64_t now = cq_mono_ms();
        if (atomic_exchange(&producer->probe_wanted, false) ||
            (atomic_load(&producer->down) &&
             now - producer->last_probe_ms >= CQ_KAFKA_PROBE_INTERVAL_MS)) {
            cq_kafka_probe(producer);
            producer->last_probe_ms = cq_mono_ms();
        }
    }
    return NULL;
}

/* message.timeout.ms (or its alias delivery.timeout.ms) at most bound_ms:
 * an operator's smaller value stands, a larger one is refused. */
static bool cq_kafka_conf_bound_timeout(rd_kafka_conf_t *kconf, const cq_config_t *conf,
                                        int64_t bound_ms, char *errstr, size_t errstr_size)
{
    static const char *const names[] = {"message.timeout.ms", "delivery.timeout.ms"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(names); i++) {
        const char *user = cq_config_kafka_get(conf, names[i]);
        if (!user)
            continue;
        char *end;
        long long v = strtoll(user, &end, 10);
        if (*end || end == user || v <= 0 || v > bound_ms) {
            cq_errstr_set(errstr, errstr_size,
                          "kafka.%s=%s is not allowed: it must be at most gateway.produce_timeout "
                          "(%lld ms), or a job answered 503 could still be delivered later",
                          names[i], user, (long long)bound_ms);
            return false;
        }
        return true;
    }
    char value[32], err[512];
    snprintf(value, sizeof(value), "%lld", (long long)bound_ms);
    if (rd_kafka_conf_set(kconf, "message.timeout.ms", value, err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
        cq_errstr_set(errstr, errstr_size, "kafka.message.timeout.ms: %s", err);
        return false;
    }
    return true;
}

static cq_kafka_producer_t *cq_kafka_producer_create(const cq_config_t *conf, bool background_poll,
                                                     int64_t bound_ms, char *errstr,
                                                     size_t errstr_size)
{
    rd_kafka_conf_t *kconf = cq_kafka_conf_new(conf, errstr, errstr_size);
    if (!kconf)
        return NULL;
    if (!cq_kafka_conf_require(kconf, conf, "enable.idempotence", "true", errstr, errstr_size) ||
        !cq_kafka_conf_require(kconf, conf, "acks", "all", errstr, errstr_size) ||
        (bound_ms > 0 &&
         !cq_kafka_conf_bound_timeout(kconf, conf, bound_ms, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kconf);
        return NULL;
    }
    cq_kafka_producer_t *producer = cq_calloc(1, sizeof(*producer));
    rd_kafka_conf_set_dr_msg_cb(kconf, cq_kafka_dr_msg_cb);
    rd_kafka_conf_set_error_cb(kconf, cq_kafka_producer_error_cb);
    rd_kafka_conf_set_opaque(kconf, producer);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, err, sizeof(err));
    if (!rk) {
        cq_errstr_set(errstr, errstr_size, "kafka producer: %s", err);
        rd_kafka_conf_destroy(kconf);
        free(producer);
        return NULL;
    }
    producer->rk = rk;
    producer->background = background_poll;
    pthread_mutex_init(&producer->ready_lock, NULL);
    if (background_poll &&
        pthread_create(&producer->poll_thread, NULL, cq_kafka_poll_main, producer) != 0) {
        cq_errstr_set(errstr, errstr_size, "kafka producer: cannot start poll thread");
        rd_kafka_destroy(rk);
        pthread_mutex_destroy(&producer->ready_lock);
        free(producer);
        return NULL;
    }
    return producer;
}

cq_kafka_producer_t *cq_kafka_producer_new(const cq_config_t *conf, bool background_poll,
                                           char *errstr, size_t errstr_size)
{
    return cq_kafka_producer_create(conf, background_poll, 0, errstr, errstr_size);
}

cq_kafka_producer_t *cq_kafka_producer_new_bounded(const cq_config_t *conf, int64_t bound_ms,
                                                   char *errstr, size_t errstr_size)
{
    return cq_kafka_producer_create(conf, true, bound_ms, errstr, errstr_size);
}

bool cq_kafka_producer_down(cq_kafka_producer_t *producer)
{
    return producer->background && atomic_load(&producer->down);
}

void cq_kafka_producer_destroy(cq_kafka_producer_t *producer, int timeout_ms)
{
    if (!producer)
        return;
    rd_kafka_resp_err_t err = rd_kafka_flush(producer->rk, timeout_ms);
    if (err)
        CQ_LOG(CQ_LOG_WARN, "kafka", NULL, "%d messages not delivered at shutdown: %s",
               rd_kafka_outq_len(producer->rk), rd_kafka_err2str(err));
    if (producer->background) {
        producer->stop = true;
        pthread_join(producer->poll_thread, NULL);
    }
    rd_kafka_destroy(producer->rk);
    pthread_mutex_destroy(&producer->ready_lock);
    free(producer);
}

/* Queues one message; takes dr (freed here on failure, by the report otherwise). */
static cq_err_t cq_kafka_produce_dr(cq_kafka_producer_t *producer, const char *topic,
                                    const void *key, size_t key_len, const void *value, size_t len,
                                    const cq_kafka_header_t *headers, size_t header_count,
                                    cq_kafka_dr_t *dr)
{
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(header_count ? header_count : 1);
    for (size_t i = 0; i < header_count; i++)
        rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value, (ssize_t)headers[i].len);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(dr), RD_KAFKA_V_END);
    if (err) {
        /* On failure the headers and the opaque are still ours. */
        rd_kafka_headers_destroy(hdrs);
        free(dr);
        CQ_LOG(CQ_LOG_WARN, "kafka", NULL, "produce to %s failed: %s", topic,
               rd_kafka_err2str(err));
        return CQ_ERR_KAFKA_UNAVAILABLE;
    }
    return CQ_ERR_OK;
}

cq_err_t cq_kafka_produce(cq_kafka_producer_t *producer, const char *topic, const void *key,
                          size_t key_len, const void *value, size_t len,
                          const cq_kafka_header_t *headers, size_t header_count,
                          cq_kafka_delivery_cb_t *cb, void *opaque)
{
    cq_kafka_dr_t *dr = cq_calloc(1, sizeof(*dr));
    dr->cb = cb;
    dr->opaque = opaque;
    return cq_kafka_produce_dr(producer, topic, key, key_len, value, len, headers, header_count,
                               dr);
}

/* The meeting point of cq_kafka_produce_many (and so of produce_sync), freed by
 * whoever lets go last (the waiter, or the last delivery report). */
typedef struct cq_kafka_many_s cq_kafka_many_t;
typedef struct {
    cq_kafka_many_t *many;
    size_t index;
} cq_kafka_many_slot_t;
struct cq_kafka_many_s {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t refs, remaining;
    cq_kafka_outcome_t *outcomes;
    cq_kafka_many_slot_t *slots;
};

static void cq_kafka_many_release(cq_kafka_many_t *many)
{
    pthread_mutex_lock(&many->lock);
    size_t refs = --many->refs;
    pthread_mutex_unlock(&many->lock);
    if (refs == 0) {
        pthread_mutex_destroy(&many->lock);
        pthread_cond_destroy(&many->cond);
        free(many->outcomes);
        free(many->slots);
        free(many);
    }
}

static void cq_kafka_many_cb(void *opaque, cq_kafka_outcome_t outcome)
{
    cq_kafka_many_slot_t *slot = opaque;
    cq_kafka_many_t *many = slot->many;
    pthread_mutex_lock(&many->lock);
    many->outcomes[slot->index] = outcome;
    if (--many->remaining == 0)
        pthread_cond_signal(&many->cond);
    pthread_mutex_unlock(&many->lock);
    cq_kafka_many_release(many);
}

size_t cq_kafka_produce_many(cq_kafka_producer_t *producer, const cq_kafka_message_t *msgs,
                             size_t count, int timeout_ms, cq_kafka_outcome_t *outcomes)
{
    if (count == 0)
        return 0;
    if (cq_kafka_producer_down(producer)) {
        for (size_t i = 0; i < count; i++)
            outcomes[i] = CQ_KAFKA_NOT_DELIVERED;
        return 0;
    }
    cq_kafka_many_t *many = cq_calloc(1, sizeof(*many));
    pthread_mutex_init(&many->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&many->cond, &attr);
    pthread_condattr_destroy(&attr);
    many->outcomes = cq_calloc(count, sizeof(cq_kafka_outcome_t));
    many->slots = cq_calloc(count, sizeof(cq_kafka_many_slot_t));
    many->refs = 1;
    /* Until its report: queued but not acknowledged, so maybe delivered. */
    for (size_t i = 0; i < count; i++)
        many->outcomes[i] = CQ_KAFKA_MAYBE_DELIVERED;
    for (size_t i = 0; i < count; i++) {
        many->slots[i].many = many;
        many->slots[i].index = i;
        pthread_mutex_lock(&many->lock);
        many->refs++;
        many->remaining++;
        pthread_mutex_unlock(&many->lock);
        cq_kafka_dr_t *dr = cq_calloc(1, sizeof(*dr));
        dr->outcome_cb = cq_kafka_many_cb;
        dr->opaque = &many->slots[i];
        if (cq_kafka_produce_dr(producer, msgs[i].topic, msgs[i].key, msgs[i].key_len,
                                msgs[i].value, msgs[i].len, msgs[i].headers, msgs[i].header_count,
                                dr) != CQ_ERR_OK) {
            pthread_mutex_lock(&many->lock);
            many->outcomes[i] = CQ_KAFKA_NOT_DELIVERED;
            many->refs--;
            many->remaining--;
            pthread_mutex_unlock(&many->lock);
        }
    }
    /* A bounded producer's reports all come by timeout_ms (plus the scan
     * interval): wait for them, so the answer is the final one. */
    int64_t wait_ms = (int64_t)timeout_ms + CQ_KAFKA_REPORT_GRACE_MS;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    size_t acked = 0;
    pthread_mutex_lock(&many->lock);
    while (many->remaining > 0)
        if (pthread_cond_timedwait(&many->cond, &many->lock, &deadline) != 0)
            break;
    for (size_t i = 0; i < count; i++) {
        outcomes[i] = many->outcomes[i];
        if (outcomes[i] == CQ_KAFKA_ACKED)
            acked++;
    }
    pthread_mutex_unlock(&many->lock);
    cq_kafka_many_release(many);
    return acked;
}

cq_err_t cq_kafka_produce_sync(cq_kafka_producer_t *producer, const char *topic, const void *key,
                               size_t key_len, const void *value, size_t len,
                               const cq_kafka_header_t *headers, size_t header_count,
                               int timeout_ms, char *errstr, size_t errstr_size)
{
    cq_kafka_message_t msg = {topic, key, key_len, value, len, headers, header_count};
    cq_kafka_outcome_t outcome;
    if (cq_kafka_produce_many(producer, &msg, 1, timeout_ms, &outcome) == 1)
        return CQ_ERR_OK;
    cq_errstr_set(errstr, errstr_size, "the job queue %s in %d ms (see the kafka log lines)",
                  outcome == CQ_KAFKA_NOT_DELIVERED ? "refused the message or did not take it"
                                                    : "took the message but did not acknowledge it",
                  timeout_ms);
    return CQ_ERR_KAFKA_UNAVAILABLE;
}

void cq_kafka_producer_poll(cq_kafka_producer_t *producer, int timeout_ms)
{
    rd_kafka_poll(producer->rk, timeout_ms);
}

int cq_kafka_producer_outq_len(cq_kafka_producer_t *producer)
{
    return rd_kafka_outq_len(producer->rk);
}

bool cq_kafka_topic_exists(cq_kafka_producer_t *producer, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(producer->rk, topic, NULL);
    if (!rkt)
        return false;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer->rk, 0, rkt, &md, timeout_ms);
    bool exists = err == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->topic_cnt == 1 &&
                  md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                  md->topics[0].partition_cnt > 0;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return exists;
}

bool cq_kafka_producer_ready(cq_kafka_producer_t *producer, int timeout_ms)
{
    if (cq_kafka_producer_down(producer))
        return false; /* known without asking; the poll thread keeps probing */
    pthread_mutex_lock(&producer->ready_lock);
    int64_t now = cq_mono_ms();
    if (producer->ready_checked_ms && now - producer->ready_checked_ms < 1000) {
        bool ready = producer->ready_cached;
        pthread_mutex_unlock(&producer->ready_lock);
        return ready;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer->rk, 0, NULL, &md, timeout_ms);
    bool ready = err == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->broker_cnt > 0;
    if (md)
        rd_kafka_metadata_destroy(md);
    producer->ready_cached = ready;
    producer->ready_checked_ms = cq_mono_ms();
    pthread_mutex_unlock(&producer->ready_lock);
    return ready;
}

/* ---- consumer ---- */

static void cq_kafka_notify(cq_kafka_consumer_t *consumer, bool assigned,
                            const rd_kafka_topic_partition_list_t *parts)
{
    if (!consumer->rebalance_cb || parts->cnt == 0)
        return;
    int32_t *ids = cq_malloc(sizeof(int32_t) * (size_t)parts->cnt);
    /* One call per topic, partitions of that topic together. */
    for (int i = 0; i < parts->cnt; i++) {
        const char *topic = parts->elems[i].topic;
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(parts->elems[j].topic, topic) == 0;
        if (seen)
            continue;
        size_t n = 0;
        for (int j = i; j < parts->cnt; j++)
            if (strcmp(parts->elems[j].topic, topic) == 0)
                ids[n++] = parts->elems[j].partition;
        consumer->rebalance_cb(consumer->opaque, assigned, topic, ids, n);
    }
    free(ids);
}

/* "topic[0,2,5]" of a sorted partition list, for the rebalance log. */
static void cq_kafka_parts_str(const rd_kafka_topic_partition_list_t *parts, char *out,
                               size_t out_size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < parts->cnt && n < out_size; i++) {
        const char *topic = parts->elems[i].topic;
        if (i == 0 || strcmp(parts->elems[i - 1].topic, topic) != 0)
            n += (size_t)snprintf(out + n, out_size - n, "%s%s[%d", i ? "] " : "", topic,
                                  parts->elems[i].partition);
        else
            n += (size_t)snprintf(out + n, out_size - n, ",%d", parts->elems[i].partition);
    }
    if (parts->cnt > 0 && n + 1 < out_size)
        snprintf(out + n, out_size - n, "]");
}

static void cq_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    cq_kafka_consumer_t *consumer = opaque;
    /* Cooperative: parts is only what changes owner, and the rest keeps
     * being consumed during the rebalance. Eager (a configured range or
     * roundrobin): parts is everything, and everything stops. */
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    bool lost = !assign && rd_kafka_assignment_lost(rk);
    rd_kafka_topic_partition_list_sort(parts, NULL, NULL);
    char list[512], owns[512] = "";
    cq_kafka_parts_str(parts, list, sizeof(list));
    /* What we own is tracked here: rd_kafka_assignment() inside this
     * callback deadlocks when it runs within rd_kafka_consumer_close. */
    rd_kafka_topic_partition_list_t *owned = consumer->owned;
    if (assign) {
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        if (!cooperative) { /* an eager assignment replaces the last one */
            rd_kafka_topic_partition_list_destroy(owned);
            owned = consumer->owned = rd_kafka_topic_partition_list_new(parts->cnt);
        }
        for (int i = 0; i < parts->cnt; i++)
            if (!rd_kafka_topic_partition_list_find(owned, parts->elems[i].topic,
                                                    parts->elems[i].partition))
                rd_kafka_topic_partition_list_add(owned, parts->elems[i].topic,
                                                  parts->elems[i].partition);
        rd_kafka_topic_partition_list_sort(owned, NULL, NULL);
        cq_kafka_notify(consumer, true, parts);
    } else {
        /* Lost (our session expired): another member may own them already
         * and our commits of them fail; they are forgotten all the same. */
        cq_kafka_notify(consumer, false, parts);
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
        for (int i = 0; i < parts->cnt; i++)
            rd_kafka_topic_partition_list_del(owned, parts->elems[i].topic,
                                              parts->elems[i].partition);
    }
    cq_kafka_parts_str(consumer->owned, owns, sizeof(owns));
    /* A cooperative member hears of every rebalance, mostly with nothing new. */
    CQ_LOG(parts->cnt > 0 ? CQ_LOG_INFO : CQ_LOG_DEBUG, "kafka", NULL,
           "%s %d partitions%s%s: %s; owns now: %s", assign ? "assigned" : "revoked", parts->cnt,
           cooperative ? " (incremental)" : "", lost ? " (lost)" : "", list, *owns ? owns : "none");
}

cq_kafka_consumer_t *cq_kafka_consumer_new(const cq_config_t *conf, const char *group,
                                           const char *const *topics, size_t topic_count,
                                           cq_kafka_rebalance_cb_t *rebalance_cb, void *opaque,
                                           char *errstr, size_t errstr_size)
{
    return cq_kafka_consumer_new_member(conf, group, NULL, topics, topic_count, rebalance_cb,
                                        opaque, errstr, errstr_size);
}

const char *cq_kafka_consumer_instance_id(const cq_kafka_consumer_t *consumer)
{
    return consumer->instance_id;
}

/* Sets group.instance.id from the instance_id setting (see cq_kafka.h);
 * may claim a member slot into *member_lock. */
static bool cq_kafka_conf_member(rd_kafka_conf_t *kconf, const cq_config_t *conf, const char *group,
                                 const char *instance_id, char *id, size_t id_size,
                                 int *member_lock, char *errstr, size_t errstr_size)
{
    const char *configured = cq_config_kafka_get(conf, "group.instance.id");
    id[0] = '\0';
    if (configured) {
        cq_strlcpy(id, configured, id_size);
        return true; /* already in kconf */
    }
    if (!instance_id || !*instance_id || strcmp(instance_id, "none") == 0)
        return true;
    if (strcmp(instance_id, "auto") == 0) {
        char e[512];
        *member_lock = cq_member_claim("/tmp", group, id, id_size, e, sizeof(e));
        if (*member_lock < 0) {
            /* Dynamic membership is always safe, only slower to recover. */
            CQ_LOG(CQ_LOG_WARN, "kafka", NULL, "static membership off: %s", e);
            id[0] = '\0';
            return true;
        }
    } else {
        cq_strlcpy(id, instance_id, id_size);
    }
    char err[512];
    if (rd_kafka_conf_set(kconf, "group.instance.id", id, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        cq_errstr_set(errstr, errstr_size, "group.instance.id: %s", err);
        return false;
    }
    return true;
}

cq_kafka_consumer_t *cq_kafka_consumer_new_member(const cq_config_t *conf, const char *group,
                                                  const char *instance_id,
                                                  const char *const *topics, size_t topic_count,
                                                  cq_kafka_rebalance_cb_t *rebalance_cb,
                                                  void *opaque, char *errstr, size_t errstr_size)
{
    cq_kafka_consumer_t *consumer = cq_calloc(1, sizeof(*consumer));
    consumer->rebalance_cb = rebalance_cb;
    consumer->opaque = opaque;
    consumer->member_lock = -1;
    consumer->owned = rd_kafka_topic_partition_list_new(8);
    if (errstr && errstr_size)
        errstr[0] = '\0';
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *kconf = cq_kafka_conf_new(conf, errstr, errstr_size);
    if (!kconf)
        goto fail_free_consumer;
    char err[512] = "";
    /* Only offsets the owner stored (jobs it finished) are ever committed. */
    if (!cq_kafka_conf_require(kconf, conf, "enable.auto.offset.store", "false", errstr,
                               errstr_size) ||
        !cq_kafka_conf_require(kconf, conf, "enable.auto.commit", "true", errstr, errstr_size) ||
        rd_kafka_conf_set(kconf, "group.id", group, err, sizeof(err)) != RD_KAFKA_CONF_OK ||
        (!cq_config_kafka_get(conf, "auto.offset.reset") &&
         rd_kafka_conf_set(kconf, "auto.offset.reset", "earliest", err, sizeof(err)) !=
             RD_KAFKA_CONF_OK)) {
        if (!errstr || !*errstr)
            cq_errstr_set(errstr, errstr_size, "kafka consumer: %s", err);
        goto fail_destroy_conf;
    }
    if (!cq_kafka_conf_member(kconf, conf, group, instance_id, consumer->instance_id,
                              sizeof(consumer->instance_id), &consumer->member_lock, errstr,
                              errstr_size))
        goto fail_destroy_conf;
    /* A worker that dies holds its partitions until the broker gives up on
     * it; librdkafka's 45 s default would stall those jobs that long. A
     * static member that comes back sooner takes them back without any
     * rebalance, one that does not is replaced after these 10 s. */
    static const char *const defaults[][2] = {
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "2000"},
        /* How stale the committed offsets of a member that crashes are, at most. */
        {"auto.commit.interval.ms", "25"},
        /* A joining or leaving member moves only the
         * partitions that change owner; the others
         * keep running through the rebalance. */
        {"partition.assignment.strategy", "cooperative-sticky"},
        /* librdkafka prefetches up to 64 MiB per
         * consumer by default: a worker only needs
         * enough to keep its in-flight cap full. */
        {"queued.max.messages.kbytes", "2048"},
        /* Jobs are small; a larger one still comes
         * whole (the broker always returns at least
         * one message per fetch). */
        {"max.partition.fetch.bytes", "262144"},
        {"fetch.max.bytes", "1048576"}};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(defaults); i++) {
        if (!cq_config_kafka_get(conf, defaults[i][0]) &&
            rd_kafka_conf_set(kconf, defaults[i][0], defaults[i][1], err, sizeof(err)) !=
                RD_KAFKA_CONF_OK) {
            cq_errstr_set(errstr, errstr_size, "kafka consumer: %s", err);
            goto fail_destroy_conf;
        }
    }
    rd_kafka_conf_set_opaque(kconf, consumer);
    rd_kafka_conf_set_rebalance_cb(kconf, cq_kafka_rebalance_cb);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, err, sizeof(err));
    if (!rk) {
        cq_errstr_set(errstr, errstr_size, "kafka consumer: %s", err);
        goto fail_destroy_conf;
    }
    consumer->rk = rk; /* owns kconf from here */
    rd_kafka_poll_set_consumer(rk);
    consumer->queue = rd_kafka_queue_get_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new((int)topic_count);
    for (size_t i = 0; i < topic_count; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t rerr = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (rerr) {
        cq_errstr_set(errstr, errstr_size, "kafka subscribe: %s", rd_kafka_err2str(rerr));
        goto fail_destroy_rk;
    }
    return consumer;

fail_destroy_rk:
    rd_kafka_destroy(rk);
    kconf = NULL;
fail_destroy_conf:
    if (kconf)
        rd_kafka_conf_destroy(kconf);
fail_free_consumer:
    if (consumer->member_lock >= 0)
        close(consumer->member_lock);
    rd_kafka_topic_partition_list_destroy(consumer->owned);
    free(consumer);
    return NULL;
}

void cq_kafka_consumer_destroy(cq_kafka_consumer_t *consumer)
{
    if (!consumer)
        return;
    if (consumer->queue)
        rd_kafka_queue_destroy(consumer->queue);
    rd_kafka_consumer_close(consumer->rk);
    rd_kafka_destroy(consumer->rk);
    /* The slot is free again only once the member is gone from this process. */
    if (consumer->member_lock >= 0)
        close(consumer->member_lock);
    rd_kafka_topic_partition_list_destroy(consumer->owned);
    free(consumer);
}

void cq_kafka_consumer_wake(cq_kafka_consumer_t *consumer)
{
    if (consumer && consumer->queue)
        rd_kafka_queue_yield(consumer->queue);
}

cq_err_t cq_kafka_consumer_poll(cq_kafka_consumer_t *consumer, int timeout_ms, cq_kafka_msg_t **msg)
{
    *msg = NULL;
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(consumer->rk, timeout_ms);
    if (!rkm)
        return CQ_ERR_OK;
    if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
        /* In a worker this is almost always a second live member with our
         * group.instance.id: the broker fenced the older one for good. */
        char reason[256];
        rd_kafka_fatal_error(consumer->rk, reason, sizeof(reason));
        if (!consumer->fatal_logged)
            CQ_LOG(CQ_LOG_ERROR, "kafka", NULL, "consumer stopped for good: %s%s%s%s", reason,
                   *consumer->instance_id ? " (group.instance.id " : "", consumer->instance_id,
                   *consumer->instance_id ? ": give every live worker of a kind its own "
                                            "worker.instance_id)"
                                          : "");
        consumer->fatal_logged = true;
        rd_kafka_message_destroy(rkm);
        /* Every later poll fails at once: wait as an idle poll would. */
        if (timeout_ms > 0)
            usleep((useconds_t)timeout_ms * 1000);
        return CQ_ERR_KAFKA_UNAVAILABLE;
    }
    if (rkm->err) {
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            CQ_LOG(CQ_LOG_WARN, "kafka", NULL, "consumer: %s", rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
        return CQ_ERR_OK;
    }
    cq_kafka_msg_impl_t *m = cq_calloc(1, sizeof(*m));
    m->rkm = rkm;
    m->pub.topic = rd_kafka_topic_name(rkm->rkt);
    m->pub.partition = rkm->partition;
    m->pub.offset = rkm->offset;
    m->pub.key = rkm->key;
    m->pub.key_len = rkm->key_len;
    m->pub.value = rkm->payload;
    m->pub.len = rkm->len;
    *msg = &m->pub;
    return CQ_ERR_OK;
}

const void *cq_kafka_msg_header(const cq_kafka_msg_t *msg, const char *name, size_t *len)
{
    const cq_kafka_msg_impl_t *m = (const cq_kafka_msg_impl_t *)msg;
    rd_kafka_headers_t *hdrs = NULL;
    const void *value = NULL;
    size_t size = 0;
    if (rd_kafka_message_headers(m->rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (len)
        *len = size;
    return value;
}

void cq_kafka_msg_destroy(cq_kafka_msg_t *msg)
{
    if (!msg)
        return;
    cq_kafka_msg_impl_t *m = (cq_kafka_msg_impl_t *)msg;
    rd_kafka_message_destroy(m->rkm);
    free(m);
}

cq_err_t cq_kafka_consumer_commit(cq_kafka_consumer_t *consumer, const char *topic,
                                  int32_t partition, int64_t next_offset, bool async)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(list, topic, partition);
    tp->offset = next_offset;
    /* librdkafka commits what is stored: every auto.commit.interval.ms while
     * the group is steady, and for partitions it gives up. A commit of our
     * own in the middle of a rebalance that meets ILLEGAL_GENERATION makes
     * librdkafka 2.0 drop the member's whole assignment (fixed in 2.8), so
     * async commits leave the timing to it. A partition no longer assigned
     * is refused (its next owner starts from the last commit). */
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer->rk, list);
    if (err == RD_KAFKA_RESP_ERR__INVALID_ARG && tp->err)
        err = tp->err;
    if (!err && !async)
        err = rd_kafka_commit(consumer->rk, list, 0);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        CQ_LOG(err == RD_KAFKA_RESP_ERR__STATE ? CQ_LOG_DEBUG : CQ_LOG_WARN, "kafka", NULL,
               "commit %s[%d]@%lld failed: %s", topic, partition, (long long)next_offset,
               rd_kafka_err2str(err));
        return CQ_ERR_KAFKA_UNAVAILABLE;
    }
    return CQ_ERR_OK;
}

cq_err_t cq_kafka_consumer_pause(cq_kafka_consumer_t *consumer, bool pause)
{
    /* Our own record of the assignment: this runs inside rebalance callbacks too. */
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_copy(consumer->owned);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (parts->cnt > 0)
        err = pause ? rd_kafka_pause_partitions(consumer->rk, parts)
                    : rd_kafka_resume_partitions(consumer->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return err ? CQ_ERR_KAFKA_UNAVAILABLE : CQ_ERR_OK;
}

cq_err_t cq_kafka_create_topics(const cq_config_t *conf, const char *const *topics, size_t count,
                                int partitions, char *errstr, size_t errstr_size)
{
    cq_err_t rc = CQ_ERR_KAFKA_UNAVAILABLE;
    rd_kafka_conf_t *kconf = cq_kafka_conf_new(conf, errstr, errstr_size);
    if (!kconf)
        return CQ_ERR_CONFIG;
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, err, sizeof(err));
    if (!rk) {
        cq_errstr_set(errstr, errstr_size, "kafka admin: %s", err);
        rd_kafka_conf_destroy(kconf);
        return CQ_ERR_CONFIG;
    }
    rd_kafka_NewTopic_t **nt = cq_calloc(count, sizeof(*nt));
    for (size_t i = 0; i < count; i++) {
        nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, -1, err, sizeof(err));
        if (!nt[i]) {
            cq_errstr_set(errstr, errstr_size, "topic %s: %s", topics[i], err);
            for (size_t j = 0; j < i; j++)
                rd_kafka_NewTopic_destroy(nt[j]);
            free(nt);
            rd_kafka_destroy(rk);
            return CQ_ERR_CONFIG;
        }
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 15000, err, sizeof(err));
    rd_kafka_AdminOptions_set_request_timeout(opts, 20000, err, sizeof(err));
    rd_kafka_CreateTopics(rk, nt, count, opts, queue);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, 25000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res) {
        cq_errstr_set(errstr, errstr_size, "kafka admin: %s",
                      ev ? rd_kafka_event_error_string(ev) : "no answer from the broker");
        goto out;
    }
    size_t n = 0;
    const rd_kafka_topic_result_t **tres = rd_kafka_CreateTopics_result_topics(res, &n);
    rc = CQ_ERR_OK;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(tres[i]);
        if (terr && terr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            cq_errstr_set(errstr, errstr_size, "create topic %s: %s",
                          rd_kafka_topic_result_name(tres[i]),
                          rd_kafka_topic_result_error_string(tres[i]));
            rc = CQ_ERR_KAFKA_UNAVAILABLE;
        }
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(queue);
    for (size_t i = 0; i < count; i++)
        rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    rd_kafka_destroy(rk);
    return rc;
}
