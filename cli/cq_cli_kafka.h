/*
 * cq_cli_kafka.h — a read-only view of one topic for the command line:
 * every partition assigned to a consumer of its own (no group membership,
 * nothing committed, so no other consumer of the topic is disturbed),
 * read from the beginning or from the end, optionally only up to the end
 * the topic had when the reader was made. No librdkafka type leaves it.
 * Single threaded.
 */
#ifndef CQ_CLI_KAFKA_H
#define CQ_CLI_KAFKA_H

#include "cq_cli.h"

typedef struct cq_cli_reader_s cq_cli_reader_t;

/* One record; valid until cq_cli_record_release. */
typedef struct {
    int32_t partition;
    int64_t offset;
    int64_t timestamp; /* ms since the epoch, -1 if unknown */
    const void *value;
    size_t len;
    void *priv;
} cq_cli_record_t;

typedef enum {
    CQ_CLI_READ_RECORD, /* *rec filled */
    CQ_CLI_READ_IDLE,   /* nothing within the timeout */
    CQ_CLI_READ_END,    /* (snapshot mode) every partition read to its end */
    CQ_CLI_READ_ERROR,  /* errstr says why */
} cq_cli_read_t;

/* A reader of topic (kafka.* keys of conf). from_beginning: start at each
 * partition's first record, else at its end. snapshot: report
 * CQ_CLI_READ_END once the ends the partitions had now are reached. NULL
 * with errstr when the cluster cannot be reached or the topic does not
 * exist. Caller destroys. */
cq_cli_reader_t *cq_cli_reader_new(const cq_config_t *conf, const char *topic, bool from_beginning,
                                   bool snapshot, char *errstr, size_t errstr_size);
void cq_cli_reader_destroy(cq_cli_reader_t *reader);

cq_cli_read_t cq_cli_reader_next(cq_cli_reader_t *reader, int timeout_ms, cq_cli_record_t *rec,
                                 char *errstr, size_t errstr_size);
/* A header's value as a string (copied into buf, truncated); NULL if absent. */
const char *cq_cli_record_header(const cq_cli_record_t *rec, const char *name, char *buf,
                                 size_t buf_size);
void cq_cli_record_release(cq_cli_record_t *rec);

#endif
