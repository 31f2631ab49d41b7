/*
 * cq_kafka_producer.c — the producer (see cq_kafka.h and cq_kafka.c's
 * design comment): idempotent, acks=all; a bounded producer's outage
 * probing; single, many-at-once and synchronous produce.
 */
#define _GNU_SOURCE /* pipe2 */
#include "cq_kafka_int.h"
#include "cq_log.h"
#include "cq_member.h"

#include <fcntl.h>
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
    atomic_bool down;             /* no broker answers: refuse at once (bounded producers) */
    atomic_bool probe_wanted;     /* something suggests the brokers are gone: probe now */
    int64_t last_probe_ms;        /* poll thread only */
    rd_kafka_queue_t *main_queue; /* delivery reports (an owner that polls itself) */
    int event_fd[2];              /* written when main_queue stops being empty */
};

/* What rides along with each produced message until its delivery report:
 * a caller's cb, or produce_many's outcome_cb. */
typedef struct {
    cq_kafka_delivery_cb_t *cb;
    void (*outcome_cb)(void *opaque, cq_kafka_outcome_t outcome);
    void *opaque;
} cq_kafka_dr_t;

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
    producer->event_fd[0] = producer->event_fd[1] = -1;
    if (!background_poll) {
        /* A descriptor the owner's loop can wait on for delivery reports. */
        producer->main_queue = rd_kafka_queue_get_main(rk);
        if (pipe2(producer->event_fd, O_NONBLOCK | O_CLOEXEC) == 0)
            rd_kafka_queue_io_event_enable(producer->main_queue, producer->event_fd[1], "1", 1);
        else
            producer->event_fd[0] = producer->event_fd[1] = -1;
    }
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
    if (producer->main_queue) {
        rd_kafka_queue_io_event_enable(producer->main_queue, -1, NULL, 0);
        rd_kafka_queue_destroy(producer->main_queue);
    }
    rd_kafka_destroy(producer->rk);
    for (int i = 0; i < 2; i++)
        if (producer->event_fd[i] >= 0)
            close(producer->event_fd[i]);
    pthread_mutex_destroy(&producer->ready_lock);
    free(producer);
}

int cq_kafka_producer_fd(const cq_kafka_producer_t *producer)
{
    return producer->event_fd[0];
}

void cq_kafka_producer_fd_clear(cq_kafka_producer_t *producer)
{
    char buf[256];
    while (producer->event_fd[0] >= 0 && read(producer->event_fd[0], buf, sizeof(buf)) > 0)
        ;
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

bool cq_kafka_producer_failed(cq_kafka_producer_t *producer, char *reason, size_t reason_size)
{
    if (!producer)
        return false;
    char scratch[1];
    rd_kafka_resp_err_t err = rd_kafka_fatal_error(producer->rk, reason ? reason : scratch,
                                                   reason ? reason_size : sizeof(scratch));
    return err != RD_KAFKA_RESP_ERR_NO_ERROR;
}

void cq_kafka_producer_fail_for_test(cq_kafka_producer_t *producer, const char *reason)
{
    rd_kafka_test_fatal_error(producer->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason);
}

bool cq_kafka_producer_ready(cq_kafka_producer_t *producer, int timeout_ms)
{
    if (cq_kafka_producer_down(producer) || cq_kafka_producer_failed(producer, NULL, 0))
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
