/*
 * cq_kafka.h — the only door to librdkafka: an idempotent producer, a
 * consumer that commits only the offsets its owner finished, with
 * pause/resume, and topic creation.
 * No librdkafka type leaves this module.
 *
 * Every kafka.* config key goes to librdkafka unchanged; coachq sets only what
 * its guarantees need (idempotence, acks=all, commits of finished offsets
 * only: enable.auto.offset.store=false) and refuses
 * overrides that would break them.
 */
#ifndef CQ_KAFKA_H
#define CQ_KAFKA_H

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"

typedef struct cq_kafka_producer_s cq_kafka_producer_t;
typedef struct cq_kafka_consumer_s cq_kafka_consumer_t;

typedef struct {
    const char *name;
    const void *value;
    size_t len;
} cq_kafka_header_t;

/* Called once per message when the broker acknowledged it (err CQ_ERR_OK) or
 * delivery finally failed. Runs on the thread that polls the producer. */
typedef void(cq_kafka_delivery_cb_t)(void *opaque, cq_err_t err, const char *errstr);

/* An idempotent producer (enable.idempotence=true, acks=all). With
 * background_poll a producer thread serves delivery reports, which
 * cq_kafka_produce_sync needs; without it the owner calls
 * cq_kafka_producer_poll from its own loop. Caller destroys. */
cq_kafka_producer_t *cq_kafka_producer_new(const cq_config_t *conf, bool background_poll,
                                           char *errstr, size_t errstr_size);
/* A background-polled producer for callers that wait for their messages
 * (the gateway): librdkafka's message.timeout.ms is set to bound_ms (an
 * operator's kafka.message.timeout.ms or kafka.delivery.timeout.ms may be
 * smaller, a larger one is refused), so every message gets its final report
 * within bound_ms and one reported undelivered is never delivered later.
 * While no broker answers (see cq_kafka_producer_down) cq_kafka_produce_many
 * refuses at once. Caller destroys. */
cq_kafka_producer_t *cq_kafka_producer_new_bounded(const cq_config_t *conf, int64_t bound_ms,
                                                   char *errstr, size_t errstr_size);
/* Whether a background-polled producer knows that no broker answers: every
 * connection was lost or a message timed out unsent, and the probe its poll
 * thread runs every second has not reached a broker since. It clears itself
 * when a broker answers. Any thread. */
bool cq_kafka_producer_down(cq_kafka_producer_t *producer);
/* Flushes outstanding messages (up to timeout_ms), then frees. NULL is a no-op. */
void cq_kafka_producer_destroy(cq_kafka_producer_t *producer, int timeout_ms);

/* Queues a message; cb (may be NULL) learns its fate. Key, value and headers
 * are copied. CQ_ERR_KAFKA_UNAVAILABLE if the local queue is full or the
 * topic unknown. Thread-safe. */
cq_err_t cq_kafka_produce(cq_kafka_producer_t *producer, const char *topic, const void *key,
                          size_t key_len, const void *value, size_t len,
                          const cq_kafka_header_t *headers, size_t header_count,
                          cq_kafka_delivery_cb_t *cb, void *opaque);

/* Produces and waits until the broker acknowledged the message or timeout_ms
 * passed. CQ_ERR_KAFKA_UNAVAILABLE when not acknowledged, whether or not
 * it may still be delivered (cq_kafka_produce_many tells these apart).
 * Needs background_poll. Thread-safe; many threads may wait at once. */
cq_err_t cq_kafka_produce_sync(cq_kafka_producer_t *producer, const char *topic, const void *key,
                               size_t key_len, const void *value, size_t len,
                               const cq_kafka_header_t *headers, size_t header_count,
                               int timeout_ms, char *errstr, size_t errstr_size);

/* One message of cq_kafka_produce_many. */
typedef struct {
    const char *topic;
    const void *key;
    size_t key_len;
    const void *value;
    size_t len;
    const cq_kafka_header_t *headers;
    size_t header_count;
} cq_kafka_message_t;

/* What became of a produced message. */
typedef enum {
    CQ_KAFKA_ACKED,           /* in the log (acks=all) */
    CQ_KAFKA_NOT_DELIVERED,   /* final: refused, or timed out before it was sent */
    CQ_KAFKA_MAYBE_DELIVERED, /* sent but not acknowledged, or no report yet: it may be
                                 in the log */
} cq_kafka_outcome_t;

/* Produces count messages at once and waits for their delivery reports:
 * until every one came, or timeout_ms plus a short grace for the last
 * reports passed; outcomes[i] gets message i's. With a bounded producer
 * (bound <= timeout_ms) the outcomes are final. Refuses every message at
 * once (NOT_DELIVERED) while cq_kafka_producer_down. Returns how many were
 * acknowledged. Needs background_poll. Thread-safe. */
size_t cq_kafka_produce_many(cq_kafka_producer_t *producer, const cq_kafka_message_t *msgs,
                             size_t count, int timeout_ms, cq_kafka_outcome_t *outcomes);

/* For a producer without background poll: a descriptor that becomes
 * readable when delivery reports wait (after there were none), so the
 * owner's loop can wait on it and then call cq_kafka_producer_poll(0).
 * Clear it (cq_kafka_producer_fd_clear) before that poll. -1 for a
 * background-poll producer or when it could not be made. */
int cq_kafka_producer_fd(const cq_kafka_producer_t *producer);
void cq_kafka_producer_fd_clear(cq_kafka_producer_t *producer);

/* Serves delivery reports for producers without background_poll. */
void cq_kafka_producer_poll(cq_kafka_producer_t *producer, int timeout_ms);

/* Messages queued or in flight, not yet reported. */
int cq_kafka_producer_outq_len(cq_kafka_producer_t *producer);

/* Whether the cluster has the topic (with partitions), asking the broker for
 * its metadata (waits up to timeout_ms). Any thread. */
bool cq_kafka_topic_exists(cq_kafka_producer_t *producer, const char *topic, int timeout_ms);

/* Whether a broker answered a metadata request within timeout_ms (cached for
 * 1 s); false at once while cq_kafka_producer_down or once it failed. */
bool cq_kafka_producer_ready(cq_kafka_producer_t *producer, int timeout_ms);

/* Whether the producer failed for good: librdkafka raised a fatal error (an
 * idempotent producer that lost its sequence state). Every later produce
 * fails; only a new producer, in practice a restarted process, recovers.
 * reason (may be NULL) gets librdkafka's words. NULL: false. Any thread. */
bool cq_kafka_producer_failed(cq_kafka_producer_t *producer, char *reason, size_t reason_size);

/* For tests: raises a fatal error as librdkafka would (rd_kafka_test_fatal_error). */
void cq_kafka_producer_fail_for_test(cq_kafka_producer_t *producer, const char *reason);

/* A consumed message. Valid until cq_kafka_msg_destroy. */
typedef struct cq_kafka_msg_s {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key;
    size_t key_len;
    const void *value;
    size_t len;
} cq_kafka_msg_t;

/* Header value by name (last one wins), NULL if absent. */
const void *cq_kafka_msg_header(const cq_kafka_msg_t *msg, const char *name, size_t *len);
void cq_kafka_msg_destroy(cq_kafka_msg_t *msg);

/* Told when partitions are assigned (assigned=true) or about to be revoked,
 * on the thread that calls cq_kafka_consumer_poll. On revoke the owner
 * should commit what is done; after return the partitions are gone. */
typedef void(cq_kafka_rebalance_cb_t)(void *opaque, bool assigned, const char *topic,
                                      const int32_t *partitions, size_t count);

/* A consumer in `group` subscribed to topics that commits only the offsets
 * given to cq_kafka_consumer_commit (enable.auto.offset.store=false),
 * auto.offset.reset=earliest (a job is never skipped) and cooperative-sticky
 * assignment (a rebalance moves only the partitions that change owner; the
 * callback hears only those). Dynamic membership. Caller destroys.
 * Not thread-safe: one thread polls, commits, pauses. */
cq_kafka_consumer_t *cq_kafka_consumer_new(const cq_config_t *conf, const char *group,
                                           const char *const *topics, size_t topic_count,
                                           cq_kafka_rebalance_cb_t *rebalance_cb, void *opaque,
                                           char *errstr, size_t errstr_size);
/* The same consumer as a static member of its group (KIP-345) when
 * instance_id is not empty: a member that restarts with the same id within
 * kafka.session.timeout.ms takes back its own partitions and the group does
 * not rebalance. instance_id is:
 *   ""/"none"  dynamic membership (a restart rebalances the group);
 *   "auto"     "<hostname>-<slot>", slot the lowest n this process could
 *              claim with cq_member_claim in /tmp (held until destroy):
 *              stable across restarts, never shared by two live processes
 *              of one host that share /tmp;
 *   otherwise  used as it is (it must be unique among the group's live
 *              members: of two members with one id the older is fenced).
 * kafka.group.instance.id, when configured, wins over all three. Either way
 * the assignment is cooperative-sticky unless
 * kafka.partition.assignment.strategy says otherwise. */
cq_kafka_consumer_t *cq_kafka_consumer_new_member(const cq_config_t *conf, const char *group,
                                                  const char *instance_id,
                                                  const char *const *topics, size_t topic_count,
                                                  cq_kafka_rebalance_cb_t *rebalance_cb,
                                                  void *opaque, char *errstr, size_t errstr_size);
/* The consumer's group.instance.id, "" for a dynamic member. */
const char *cq_kafka_consumer_instance_id(const cq_kafka_consumer_t *consumer);

/* Commits what was stored, leaves the group and frees. NULL is a no-op.
 * A static member does not leave: its partitions wait for it (up to
 * kafka.session.timeout.ms) instead of moving at once. */
void cq_kafka_consumer_destroy(cq_kafka_consumer_t *consumer);

/* Waits up to timeout_ms for one message: CQ_ERR_OK with *msg set (caller
 * destroys), or with *msg NULL on timeout or a transient event;
 * CQ_ERR_KAFKA_UNAVAILABLE once the consumer failed for good (e.g. fenced by
 * a newer member with its group.instance.id), logged once. */
cq_err_t cq_kafka_consumer_poll(cq_kafka_consumer_t *consumer, int timeout_ms,
                                cq_kafka_msg_t **msg);

/* A descriptor that becomes readable when the consumer's queue (messages,
 * rebalances, errors) receives something after it was empty, so the owner
 * can wait on it beside other descriptors and then poll with timeout 0.
 * Only a queue polled until it gave nothing is "empty": an owner that stops
 * polling with messages left must not wait on this. -1 if it could not be
 * made. Clear it (cq_kafka_consumer_fd_clear) before polling the queue. */
int cq_kafka_consumer_fd(const cq_kafka_consumer_t *consumer);
void cq_kafka_consumer_fd_clear(cq_kafka_consumer_t *consumer);

/* Commits `next_offset` (the offset of the next message to read) of one
 * partition. async: stored, and committed within kafka.auto.commit.interval.ms
 * (25 ms) while the group is steady, or when the partition is revoked or the
 * consumer closes. Otherwise committed now, waiting for the broker.
 * CQ_ERR_KAFKA_UNAVAILABLE for a partition no longer assigned. */
cq_err_t cq_kafka_consumer_commit(cq_kafka_consumer_t *consumer, const char *topic,
                                  int32_t partition, int64_t next_offset, bool async);

/* The lag of one assigned partition: the high watermark minus the group's
 * committed offset, as librdkafka last measured it. */
typedef struct {
    char topic[128];
    int32_t partition;
    int64_t lag;
} cq_kafka_lag_t;

/* Copies up to max partitions' lag into out; returns how many. Taken from
 * librdkafka's statistics (kafka.statistics.interval.ms, 5 s unless set;
 * 0 turns them off and this returns 0), which it hands over on the polling
 * thread, so measuring costs the loop no broker round trip. A partition
 * with no committed offset yet counts from the log start (where
 * auto.offset.reset=earliest starts it); one whose watermarks are not known
 * yet is left out. Any thread: a mutex guards the copy. */
size_t cq_kafka_consumer_lag(cq_kafka_consumer_t *consumer, cq_kafka_lag_t *out, size_t max);

/* Stops or restarts fetching from every assigned partition (polling goes on). */
cq_err_t cq_kafka_consumer_pause(cq_kafka_consumer_t *consumer, bool pause);

/* Creates missing topics (existing ones are fine). */
cq_err_t cq_kafka_create_topics(const cq_config_t *conf, const char *const *topics, size_t count,
                                int partitions, char *errstr, size_t errstr_size);

#endif
