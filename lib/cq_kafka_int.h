/*
 * cq_kafka_int.h — what the librdkafka wrappers' files share (cq_kafka.c:
 * configuration, logging, topics; cq_kafka_producer.c; cq_kafka_consumer.c).
 * Private to lib/; librdkafka types stay behind it.
 */
#ifndef CQ_KAFKA_INT_H
#define CQ_KAFKA_INT_H

#include "cq_kafka.h"

#include <librdkafka/rdkafka.h>

/* librdkafka's log lines, through our logger. */
void cq_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
/* librdkafka's error events, logged. */
void cq_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);
/* A librdkafka configuration from the kafka.* keys of conf; NULL with errstr. */
rd_kafka_conf_t *cq_kafka_conf_new(const cq_config_t *conf, char *errstr, size_t errstr_size);
/* Sets name=value, a property coachq's guarantees depend on; refuses
 * (false, errstr) a kafka.* value in conf that says otherwise. */
bool cq_kafka_conf_require(rd_kafka_conf_t *kconf, const cq_config_t *conf, const char *name,
                           const char *value, char *errstr, size_t errstr_size);

#endif
