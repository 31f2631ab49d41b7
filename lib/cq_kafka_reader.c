/*
 * cq_kafka_reader.c — a whole topic read once (see cq_kafka_reader.h).
 *
 * How. A consumer handle with group.id "coachq-reader" (librdkafka wants
 * one) that never subscribes: the partitions are assigned by hand, so it
 * never joins that group, and auto-commit and the offset store are off, so
 * it never commits. The end of each partition is its high watermark queried
 * before the read; messages produced afterwards are not read (a caller
 * rereads if it needs them). A partition is done when a message at or past
 * its last offset arrived, or librdkafka reports its end (partition EOF),
 * which also covers offsets removed by retention or compaction.
 *
 * Threads: everything on the caller's thread; librdkafka's own threads
 * come and go with the call.
 */
#include "cq_kafka_reader.h"
#include "cq_kafka_int.h"
#include "cq_log.h"

#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#define CQ_READER_META_MS 10000

typedef struct {
    int64_t end; /* high watermark at the start: offsets below it are read */
    bool done;
} cq_reader_part_t;

/* The partition count of topic from the broker's metadata; 0 when unknown. */
static int cq_reader_partitions(rd_kafka_t *rk, const char *topic, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, CQ_READER_META_MS);
    int n = 0;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        cq_errstr_set(errstr, errstr_size, "metadata of %s: %s", topic, rd_kafka_err2str(err));
    else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
             md->topics[0].partition_cnt == 0)
        cq_errstr_set(errstr, errstr_size, "topic %s: %s", topic,
                      md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
    else
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static rd_kafka_t *cq_reader_handle(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kconf = cq_kafka_conf_new(conf, errstr, errstr_size);
    if (!kconf)
        return NULL;
    static const char *const props[][2] = {
        {"group.id", "coachq-reader"},         {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"}, {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
    };
    char err[512];
    for (size_t i = 0; i < CQ_ARRAY_SIZE(props); i++) {
        if (rd_kafka_conf_set(kconf, props[i][0], props[i][1], err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
            cq_errstr_set(errstr, errstr_size, "kafka.%s: %s", props[i][0], err);
            rd_kafka_conf_destroy(kconf);
            return NULL;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, err, sizeof(err));
    if (!rk) {
        cq_errstr_set(errstr, errstr_size, "kafka reader: %s", err);
        rd_kafka_conf_destroy(kconf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Handles one polled message, marking its partition done at its end; cb's error. */
static cq_err_t cq_reader_message(rd_kafka_message_t *rkm, cq_reader_part_t *parts, int n,
                                  cq_kafka_read_cb_t *cb, void *opaque, size_t *seen, char *errstr,
                                  size_t errstr_size)
{
    int p = rkm->partition;
    if (p < 0 || p >= n)
        return CQ_ERR_OK;
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        parts[p].done = true;
        return CQ_ERR_OK;
    }
    if (rkm->err) {
        CQ_LOG(CQ_LOG_WARN, "kafka", NULL, "reading %s [%d]: %s",
               rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "?", p, rd_kafka_message_errstr(rkm));
        return CQ_ERR_OK;
    }
    if (parts[p].done || rkm->offset >= parts[p].end)
        return CQ_ERR_OK;
    cq_kafka_msg_t msg = {
        .topic = rd_kafka_topic_name(rkm->rkt),
        .partition = p,
        .offset = rkm->offset,
        .key = rkm->key,
        .key_len = rkm->key_len,
        .value = rkm->payload,
        .len = rkm->len,
    };
    (*seen)++;
    cq_err_t rc = cb(opaque, &msg);
    if (rc != CQ_ERR_OK && errstr[0] == '\0')
        cq_errstr_set(errstr, errstr_size, "stopped at %s [%d] offset %lld: %s", msg.topic, p,
                      (long long)msg.offset, cq_err_name(rc));
    if (rkm->offset >= parts[p].end - 1)
        parts[p].done = true;
    return rc;
}

cq_err_t cq_kafka_read_topic(const cq_config_t *conf, const char *topic, int idle_ms,
                             cq_kafka_read_cb_t *cb, void *opaque, size_t *count, char *errstr,
                             size_t errstr_size)
{
    size_t seen = 0;
    cq_err_t rc = CQ_ERR_KAFKA_UNAVAILABLE;
    cq_reader_part_t *parts = NULL;
    rd_kafka_topic_partition_list_t *list = NULL;
    if (errstr_size)
        errstr[0] = '\0';
    rd_kafka_t *rk = cq_reader_handle(conf, errstr, errstr_size);
    if (!rk) {
        rc = CQ_ERR_CONFIG;
        goto done;
    }
    int n = cq_reader_partitions(rk, topic, errstr, errstr_size);
    if (n <= 0)
        goto close_handle;
    parts = cq_calloc((size_t)n, sizeof(*parts));
    list = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, CQ_READER_META_MS);
        if (err) {
            cq_errstr_set(errstr, errstr_size, "watermarks of %s [%d]: %s", topic, p,
                          rd_kafka_err2str(err));
            goto close_handle;
        }
        parts[p].end = hi;
        parts[p].done = hi <= lo;
        if (!parts[p].done)
            rd_kafka_topic_partition_list_add(list, topic, p)->offset = lo;
    }
    rc = CQ_ERR_OK;
    if (list->cnt == 0)
        goto close_handle;
    if (rd_kafka_assign(rk, list) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cq_errstr_set(errstr, errstr_size, "cannot assign the partitions of %s", topic);
        rc = CQ_ERR_KAFKA_UNAVAILABLE;
        goto close_handle;
    }
    int64_t last = cq_mono_ms();
    for (;;) {
        int left = 0;
        for (int p = 0; p < n; p++)
            left += !parts[p].done;
        if (left == 0)
            break;
        if (cq_mono_ms() - last > idle_ms) {
            cq_errstr_set(errstr, errstr_size,
                          "%s: nothing read for %d ms with %d partition(s) unfinished", topic,
                          idle_ms, left);
            rc = CQ_ERR_KAFKA_UNAVAILABLE;
            break;
        }
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 200);
        if (!rkm)
            continue;
        last = cq_mono_ms();
        rc = cq_reader_message(rkm, parts, n, cb, opaque, &seen, errstr, errstr_size);
        rd_kafka_message_destroy(rkm);
        if (rc != CQ_ERR_OK)
            break;
    }
    rd_kafka_assign(rk, NULL);
close_handle:
    if (list)
        rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
done:
    free(parts);
    if (count)
        *count = seen;
    return rc;
}
