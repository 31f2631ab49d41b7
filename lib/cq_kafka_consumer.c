/*
 * cq_kafka_consumer.c — the consumer (see cq_kafka.h and cq_kafka.c's
 * design comment): group membership, rebalances, polling, commits through
 * the offset store, pause.
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

#include <jansson.h>
#include <librdkafka/rdkafka.h>

struct cq_kafka_consumer_s {
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue; /* the consumer queue cq_kafka_consumer_poll reads */
    int event_fd[2];         /* written by librdkafka when the queue stops being empty */
    cq_kafka_rebalance_cb_t *rebalance_cb;
    void *opaque;
    char instance_id[256]; /* "" for a dynamic member */
    int member_lock;       /* descriptor of the claimed member slot, -1 if none */
    bool fatal_logged;
    rd_kafka_topic_partition_list_t *owned; /* our assignment, kept by the rebalance callback */
    /* Lag per partition from the last statistics (the polling thread
     * writes, the metrics threads read). */
    pthread_mutex_t lag_lock;
    cq_kafka_lag_t *lag;
    size_t lag_count;
};

/* Most partitions whose lag is kept. */
#define CQ_KAFKA_LAG_MAX 256

/* librdkafka's statistics (JSON), on the polling thread: keep each
 * assigned partition's consumer_lag (watermark - committed offset). */
static int cq_kafka_stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    cq_kafka_consumer_t *consumer = opaque;
    json_t *stats = json_loadb(json, json_len, 0, NULL);
    cq_kafka_lag_t *lag = cq_calloc(CQ_KAFKA_LAG_MAX, sizeof(*lag));
    size_t n = 0;
    const char *topic;
    json_t *t;
    json_object_foreach(json_object_get(stats, "topics"), topic, t)
    {
        const char *key;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), key, p)
        {
            json_int_t partition = json_integer_value(json_object_get(p, "partition"));
            json_t *desired = json_object_get(p, "desired");
            if (partition < 0 || n == CQ_KAFKA_LAG_MAX || (desired && !json_is_true(desired)))
                continue; /* not ours */
            json_int_t value = json_integer_value(json_object_get(p, "consumer_lag"));
            json_int_t hi = json_integer_value(json_object_get(p, "hi_offset"));
            json_int_t lo = json_integer_value(json_object_get(p, "lo_offset"));
            /* No commit yet (a new group, a partition never finished): the
             * group starts from the log start (auto.offset.reset=earliest),
             * so everything from there on is waiting. */
            if (!json_is_integer(json_object_get(p, "consumer_lag")) || value < 0)
                value = json_integer_value(json_object_get(p, "committed_offset")) < 0 && hi >= 0 &&
                                lo >= 0 && hi >= lo
                            ? hi - lo
                            : -1;
            if (value < 0)
                continue;
            cq_strlcpy(lag[n].topic, topic, sizeof(lag[n].topic));
            lag[n].partition = (int32_t)partition;
            lag[n].lag = (int64_t)value;
            n++;
        }
    }
    json_decref(stats);
    pthread_mutex_lock(&consumer->lag_lock);
    free(consumer->lag);
    consumer->lag = lag;
    consumer->lag_count = n;
    pthread_mutex_unlock(&consumer->lag_lock);
    return 0; /* librdkafka frees json */
}

size_t cq_kafka_consumer_lag(cq_kafka_consumer_t *consumer, cq_kafka_lag_t *out, size_t max)
{
    pthread_mutex_lock(&consumer->lag_lock);
    size_t n = consumer->lag_count < max ? consumer->lag_count : max;
    if (n)
        memcpy(out, consumer->lag, n * sizeof(*out));
    pthread_mutex_unlock(&consumer->lag_lock);
    return n;
}

typedef struct {
    cq_kafka_msg_t pub; /* first: a cq_kafka_msg_t * points here */
    rd_kafka_message_t *rkm;
} cq_kafka_msg_impl_t;

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
    consumer->event_fd[0] = consumer->event_fd[1] = -1;
    consumer->owned = rd_kafka_topic_partition_list_new(8);
    pthread_mutex_init(&consumer->lag_lock, NULL);
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
        /* Prefetch per partition: librdkafka's default
         * is 64 MiB. 2 MiB holds a 20,000-job backlog
         * whole (5 MB of the LLM benchmark's 71 MB peak
         * RSS), but every smaller bound tried (1 MiB,
         * 256-512 KiB, or queued.min.messages 500-2,000)
         * slowed librdkafka 2.0.2's refills: 1,500-4,100
         * built-in jobs/s instead of 5,500. */
        {"queued.max.messages.kbytes", "2048"},
        /* Jobs are small; a larger one still comes
         * whole (the broker always returns at least
         * one message per fetch). */
        {"max.partition.fetch.bytes", "262144"},
        {"fetch.max.bytes", "1048576"},
        /* Statistics carry each partition's lag (cq_kafka_consumer_lag). */
        {"statistics.interval.ms", "5000"}};
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
    rd_kafka_conf_set_stats_cb(kconf, cq_kafka_stats_cb);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, err, sizeof(err));
    if (!rk) {
        cq_errstr_set(errstr, errstr_size, "kafka consumer: %s", err);
        goto fail_destroy_conf;
    }
    consumer->rk = rk; /* owns kconf from here */
    rd_kafka_poll_set_consumer(rk);
    consumer->queue = rd_kafka_queue_get_consumer(rk);
    /* A descriptor the owner's loop can wait on beside its others. */
    if (pipe2(consumer->event_fd, O_NONBLOCK | O_CLOEXEC) == 0)
        rd_kafka_queue_io_event_enable(consumer->queue, consumer->event_fd[1], "1", 1);
    else
        consumer->event_fd[0] = consumer->event_fd[1] = -1;
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
    pthread_mutex_destroy(&consumer->lag_lock);
    free(consumer);
    return NULL;
}

void cq_kafka_consumer_destroy(cq_kafka_consumer_t *consumer)
{
    if (!consumer)
        return;
    if (consumer->queue) {
        rd_kafka_queue_io_event_enable(consumer->queue, -1, NULL, 0);
        rd_kafka_queue_destroy(consumer->queue);
    }
    for (int i = 0; i < 2; i++)
        if (consumer->event_fd[i] >= 0)
            close(consumer->event_fd[i]);
    rd_kafka_consumer_close(consumer->rk);
    rd_kafka_destroy(consumer->rk);
    /* The slot is free again only once the member is gone from this process. */
    if (consumer->member_lock >= 0)
        close(consumer->member_lock);
    rd_kafka_topic_partition_list_destroy(consumer->owned);
    pthread_mutex_destroy(&consumer->lag_lock);
    free(consumer->lag);
    free(consumer);
}

int cq_kafka_consumer_fd(const cq_kafka_consumer_t *consumer)
{
    return consumer->event_fd[0];
}

void cq_kafka_consumer_fd_clear(cq_kafka_consumer_t *consumer)
{
    char buf[256];
    while (consumer->event_fd[0] >= 0 && read(consumer->event_fd[0], buf, sizeof(buf)) > 0)
        ;
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
