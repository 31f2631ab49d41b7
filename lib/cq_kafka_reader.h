/*
 * cq_kafka_reader.h — reads a whole topic once, from the beginning of every
 * partition up to the end it had when the read started, outside any
 * consumer group: partitions are assigned, nothing is ever committed, so
 * the groups of the workers are never disturbed. For one-shot tools (the
 * rebuild of the job store from the results topic).
 */
#ifndef CQ_KAFKA_READER_H
#define CQ_KAFKA_READER_H

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"
#include "cq_kafka.h"

/* Called once per message, in offset order within a partition. msg->key
 * may be NULL; msg and its bytes are valid during the call only (headers
 * cannot be read: cq_kafka_msg_header does not apply). Returning anything
 * but CQ_ERR_OK stops the read with that error. */
typedef cq_err_t(cq_kafka_read_cb_t)(void *opaque, const cq_kafka_msg_t *msg);

/* Reads topic (its partitions from the broker's metadata) from the low
 * watermark to the high watermark each partition had at the start, calling
 * cb for every message. *count (may be NULL) gets how many messages cb saw.
 * CQ_ERR_KAFKA_UNAVAILABLE when the topic is unknown or the broker does not
 * answer, or when no message arrived for idle_ms while some partition was
 * not read to its end; CQ_ERR_CONFIG for a bad kafka.* setting; else cb's
 * error. Blocks the calling thread. */
cq_err_t cq_kafka_read_topic(const cq_config_t *conf, const char *topic, int idle_ms,
                             cq_kafka_read_cb_t *cb, void *opaque, size_t *count, char *errstr,
                             size_t errstr_size);

#endif
