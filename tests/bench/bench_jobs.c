/*
 * bench_jobs — feeds a worker fleet with jobs straight through Kafka (as
 * another service would) and times their results on the result topic.
 *
 *   bench_jobs BOOTSTRAP JOBS_TOPIC RESULTS_TOPIC COUNT [OPERATION REQUEST.json]
 *
 * Produces COUNT envelopes (alignment-check with a built-in request, or
 * OPERATION with the request read from REQUEST.json) for a tenant unique to this run,
 * then reads the result topic until COUNT results of that tenant arrived.
 * Prints produce time, time to the last result and the sustained rate.
 * A benchmark, not a test: it asserts nothing and is not run by ctest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cq_avro.h"
#include "cq_config.h"
#include "cq_contract.h"
#include "cq_kafka.h"
#include "cq_uuid.h"

static const char *const payload_text =
    "{\"goalIntent\": \"Grow recurring revenue from maintenance plans by 30 percent\","
    " \"strategies\": [\"Sell a plan at every handover\", \"Win back older customers\"],"
    " \"kpis\": [\"Monthly recurring revenue\", \"Plan attach rate\"],"
    " \"businessFoundation\": {\"vision\": \"Clean affordable energy in every home\","
    " \"purpose\": \"Make going solar simple and honest\","
    " \"coreValues\": [\"Integrity\", \"Craftsmanship\"]}}";

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 7) {
        fprintf(stderr,
                "usage: %s BOOTSTRAP JOBS_TOPIC RESULTS_TOPIC COUNT [OPERATION REQUEST.json]\n",
                argv[0]);
        return 2;
    }
    const char *operation = argc == 7 ? argv[5] : "alignment-check";
    long count = atol(argv[4]);
    char err[512];
    cq_config_t *conf = cq_config_new();
    cq_config_set(conf, "kafka.bootstrap.servers", argv[1], err, sizeof(err));
    cq_config_set(conf, "kafka.linger.ms", "20", err, sizeof(err));
    cq_contract_t *contract = cq_contract_new(conf, err, sizeof(err));
    cq_avro_t *avro =
        contract ? cq_avro_new(cq_contract_document(contract), err, sizeof(err)) : NULL;
    cq_kafka_producer_t *producer =
        avro ? cq_kafka_producer_new(conf, true, err, sizeof(err)) : NULL;
    if (!producer) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }
    char tenant[64];
    snprintf(tenant, sizeof(tenant), "bench-%d-%lld", (int)getpid(), (long long)cq_now_ms());
    json_t *payload =
        argc == 7 ? json_load_file(argv[6], 0, NULL) : json_loads(payload_text, 0, NULL);
    if (!payload) {
        fprintf(stderr, "cannot read the request\n");
        return 1;
    }
    const char *fp = cq_avro_fingerprint(avro, "JobEnvelope");
    int64_t t0 = cq_mono_ms();
    for (long i = 0; i < count; i++) {
        char id[CQ_UUID_STR_LEN + 1];
        cq_uuid_v7(id);
        cq_job_envelope_t env = {.job_id = id,
                                 .tenant_id = tenant,
                                 .user_id = "bench",
                                 .operation = (char *)operation,
                                 .created_at = cq_now_ms(),
                                 .deadline = cq_now_ms() + 3600000,
                                 .payload = payload};
        void *buf = NULL;
        size_t len = 0;
        if (cq_avro_envelope_encode(avro, &env, &buf, &len, err, sizeof(err)) != CQ_ERR_OK) {
            fprintf(stderr, "encode: %s\n", err);
            return 1;
        }
        cq_kafka_header_t headers[] = {{"coachq-fingerprint", fp, strlen(fp)},
                                       {"coachq-job-id", id, strlen(id)}};
        while (cq_kafka_produce(producer, argv[2], tenant, strlen(tenant), buf, len, headers, 2,
                                NULL, NULL) != CQ_ERR_OK)
            usleep(1000); /* local queue full: let it drain */
        free(buf);
    }
    cq_kafka_producer_destroy(producer, 60000);
    int64_t produced = cq_mono_ms() - t0;
    printf("produced %ld jobs in %lld ms\n", count, (long long)produced);
    fflush(stdout);

    char group[96];
    snprintf(group, sizeof(group), "%s-reader", tenant);
    const char *topics[] = {argv[3]};
    cq_kafka_consumer_t *consumer =
        cq_kafka_consumer_new(conf, group, topics, 1, NULL, NULL, err, sizeof(err));
    long seen = 0;
    int64_t first = 0, last = 0, idle_since = cq_mono_ms();
    while (seen < count && cq_mono_ms() - idle_since < 120000) {
        cq_kafka_msg_t *msg = NULL;
        cq_kafka_consumer_poll(consumer, 200, &msg);
        if (!msg)
            continue;
        if (msg->key_len == strlen(tenant) && memcmp(msg->key, tenant, msg->key_len) == 0) {
            seen++;
            last = cq_mono_ms();
            if (!first)
                first = last;
            idle_since = last;
        }
        cq_kafka_msg_destroy(msg);
    }
    cq_kafka_consumer_destroy(consumer);
    double total_s = (double)(last - t0) / 1000.0;
    double window_s = (double)(last - first) / 1000.0;
    printf("results: %ld of %ld\n", seen, count);
    printf("first result after %.2f s, last after %.2f s\n", (double)(first - t0) / 1000.0,
           total_s);
    printf("sustained: %.0f jobs/s over the whole run, %.0f jobs/s first-to-last result\n",
           total_s > 0 ? (double)seen / total_s : 0.0,
           window_s > 0 ? (double)(seen - 1) / window_s : 0.0);
    json_decref(payload);
    cq_avro_destroy(avro);
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    return seen == count ? 0 : 1;
}
