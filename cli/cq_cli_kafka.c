/*
 * cq_cli_kafka.c — the command line's topic reader (see cq_cli_kafka.h).
 *
 * The consumer never joins a group: partitions are assigned by hand
 * (rd_kafka_assign), offset commits are off, and the group id it must have
 * is unique to the process, so neither the workers' groups nor another
 * operator's reader see it. Log lines go through cq_log (warn by default
 * for the command line).
 */
#include "cq_cli_kafka.h"
#include "cq_log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

struct cq_cli_reader_s {
    rd_kafka_t *rk;
    char *topic;
    int partitions;
    int64_t *end;  /* snapshot: the offset each partition had at its end */
    int64_t *next; /* the next offset to read per partition */
    bool snapshot;
};

static void cq_cli_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    CQ_LOG(level <= 3   ? CQ_LOG_ERROR
           : level == 4 ? CQ_LOG_WARN
                        : CQ_LOG_DEBUG,
           "kafka", NULL, "%s: %s", fac, buf);
}

static bool cq_cli_kafka_set(rd_kafka_conf_t *kconf, const char *name, const char *value,
                             char *errstr, size_t errstr_size)
{
    char err[512];
    if (rd_kafka_conf_set(kconf, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        cq_errstr_set(errstr, errstr_size, "kafka.%s: %s", name, err);
        return false;
    }
    return true;
}

cq_cli_reader_t *cq_cli_reader_new(const cq_config_t *conf, const char *topic, bool from_beginning,
                                   bool snapshot, char *errstr, size_t errstr_size)
{
    cq_cli_reader_t *r = cq_calloc(1, sizeof(*r));
    r->topic = cq_strdup(topic);
    r->snapshot = snapshot;
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    for (size_t i = 0; i < conf->kafka_count; i++) {
        /* Producer-only properties would only make librdkafka warn. */
        if (strcmp(conf->kafka_names[i], "enable.idempotence") == 0 ||
            strcmp(conf->kafka_names[i], "acks") == 0)
            continue;
        if (!cq_cli_kafka_set(kconf, conf->kafka_names[i], conf->kafka_values[i], errstr,
                              errstr_size))
            goto fail_conf;
    }
    char group[96];
    snprintf(group, sizeof(group), "coachq-cli-%d-%lld", (int)getpid(), (long long)cq_now_ms());
    if (!cq_cli_kafka_set(kconf, "group.id", group, errstr, errstr_size) ||
        !cq_cli_kafka_set(kconf, "enable.auto.commit", "false", errstr, errstr_size) ||
        !cq_cli_kafka_set(kconf, "enable.auto.offset.store", "false", errstr, errstr_size) ||
        !cq_cli_kafka_set(kconf, "enable.partition.eof", "false", errstr, errstr_size))
        goto fail_conf;
    rd_kafka_conf_set_log_cb(kconf, cq_cli_kafka_log);
    char err[512];
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, err, sizeof(err));
    if (!r->rk) {
        cq_errstr_set(errstr, errstr_size, "kafka: %s", err);
        goto fail_conf;
    }
    kconf = NULL; /* owned by rk now */
    rd_kafka_poll_set_consumer(r->rk);

    rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(r->rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err ||
        md->topics[0].partition_cnt == 0) {
        cq_errstr_set(errstr, errstr_size, "topic %s: %s", topic,
                      kerr ? rd_kafka_err2str(kerr)
                      : md && md->topic_cnt == 1 && md->topics[0].err
                          ? rd_kafka_err2str(md->topics[0].err)
                          : "no partitions");
        if (md)
            rd_kafka_metadata_destroy(md);
        goto fail_rk;
    }
    r->partitions = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    r->end = cq_calloc((size_t)r->partitions, sizeof(*r->end));
    r->next = cq_calloc((size_t)r->partitions, sizeof(*r->next));
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(r->partitions);
    for (int p = 0; p < r->partitions; p++) {
        int64_t lo = 0, hi = 0;
        kerr = rd_kafka_query_watermark_offsets(r->rk, topic, p, &lo, &hi, 10000);
        if (kerr) {
            cq_errstr_set(errstr, errstr_size, "topic %s partition %d: %s", topic, p,
                          rd_kafka_err2str(kerr));
            rd_kafka_topic_partition_list_destroy(list);
            goto fail_rk;
        }
        r->end[p] = hi;
        r->next[p] = from_beginning ? lo : hi;
        /* Explicit offsets: the snapshot's accounting starts where reading does. */
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = r->next[p];
    }
    kerr = rd_kafka_assign(r->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr) {
        cq_errstr_set(errstr, errstr_size, "assign %s: %s", topic, rd_kafka_err2str(kerr));
        goto fail_rk;
    }
    return r;
fail_rk:
    cq_cli_reader_destroy(r);
    return NULL;
fail_conf:
    rd_kafka_conf_destroy(kconf);
    free(r->topic);
    free(r);
    return NULL;
}

void cq_cli_reader_destroy(cq_cli_reader_t *r)
{
    if (!r)
        return;
    if (r->rk) {
        rd_kafka_assign(r->rk, NULL);
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    free(r->end);
    free(r->next);
    free(r->topic);
    free(r);
}

static bool cq_cli_reader_at_end(const cq_cli_reader_t *r)
{
    for (int p = 0; p < r->partitions; p++)
        if (r->next[p] < r->end[p])
            return false;
    return true;
}

cq_cli_read_t cq_cli_reader_next(cq_cli_reader_t *r, int timeout_ms, cq_cli_record_t *rec,
                                 char *errstr, size_t errstr_size)
{
    memset(rec, 0, sizeof(*rec));
    int64_t deadline = cq_mono_ms() + timeout_ms;
    for (;;) {
        if (r->snapshot && cq_cli_reader_at_end(r))
            return CQ_CLI_READ_END;
        int64_t left = deadline - cq_mono_ms();
        if (left < 0)
            return CQ_CLI_READ_IDLE;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, (int)(left > 200 ? 200 : left));
        if (!m)
            continue;
        if (m->err) {
            bool fatal = m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                         m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                         m->err == RD_KAFKA_RESP_ERR__FATAL;
            if (fatal) {
                cq_errstr_set(errstr, errstr_size, "%s: %s", r->topic, rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return CQ_CLI_READ_ERROR;
            }
            CQ_LOG(CQ_LOG_DEBUG, "kafka", NULL, "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->partition >= 0 && m->partition < r->partitions)
            r->next[m->partition] = m->offset + 1;
        rec->partition = m->partition;
        rec->offset = m->offset;
        rd_kafka_timestamp_type_t tstype;
        rec->timestamp = rd_kafka_message_timestamp(m, &tstype);
        rec->value = m->payload;
        rec->len = m->len;
        rec->priv = m;
        return CQ_CLI_READ_RECORD;
    }
}

const char *cq_cli_record_header(const cq_cli_record_t *rec, const char *name, char *buf,
                                 size_t buf_size)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *value = NULL;
    size_t len = 0;
    if (!rec->priv || rd_kafka_message_headers(rec->priv, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, name, &value, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (len >= buf_size)
        len = buf_size - 1;
    if (value)
        memcpy(buf, value, len);
    buf[len] = '\0';
    return buf;
}

void cq_cli_record_release(cq_cli_record_t *rec)
{
    if (rec->priv)
        rd_kafka_message_destroy(rec->priv);
    memset(rec, 0, sizeof(*rec));
}
