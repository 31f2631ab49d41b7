/*
 * cq_kafka.c — librdkafka wrappers (see cq_kafka.h): the configuration
 * and logging the producer (cq_kafka_producer.c) and the consumer
 * (cq_kafka_consumer.c) share, and topic administration.
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
#include "cq_kafka_int.h"
#include "cq_log.h"
#include "cq_member.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

void cq_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* syslog levels: 0-3 errors, 4 warning, 5-6 info, 7 debug */
    cq_log_level_t lvl = level <= 3   ? CQ_LOG_ERROR
                         : level == 4 ? CQ_LOG_WARN
                         : level <= 6 ? CQ_LOG_INFO
                                      : CQ_LOG_DEBUG;
    CQ_LOG(lvl, "kafka", NULL, "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

void cq_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    /* Transient broker errors are retried by librdkafka itself; a fatal one
     * (idempotence state lost) makes the producer unusable. */
    cq_log_level_t lvl = err == RD_KAFKA_RESP_ERR__FATAL ? CQ_LOG_ERROR : CQ_LOG_WARN;
    CQ_LOG(lvl, "kafka", NULL, "%s: %s: %s", rd_kafka_name(rk),
           rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

rd_kafka_conf_t *cq_kafka_conf_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
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
bool cq_kafka_conf_require(rd_kafka_conf_t *kconf, const cq_config_t *conf, const char *name,
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
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
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
