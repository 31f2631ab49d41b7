/*
 * Integration: jobs another service puts straight on Kafka (no gateway).
 * They run like any job, are visible through GET /jobs/{id} for their
 * tenant, and their result goes to the envelope's reply_to, or to the
 * results topic when reply_to is not a topic of the cluster. Messages that
 * cannot be decoded, and requests that break the schema, end on the
 * dead-letter topic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cq_avro.h"
#include "cq_config.h"
#include "cq_contract.h"
#include "cq_it.h"
#include "cq_kafka.h"
#include "cq_uuid.h"

static cq_it_stack_t stack;
static cq_config_t *conf;
static cq_contract_t *contract;
static cq_avro_t *avro;
static cq_kafka_producer_t *producer;

#define REQUEST                                                                                    \
    "{\"goalIntent\": \"Grow recurring revenue with maintenance plans\","                          \
    " \"strategies\": [\"Sell plans at handover\"], \"kpis\": [\"Plan attach rate\"],"             \
    " \"businessFoundation\": {\"vision\": \"Clean energy in every home\","                        \
    " \"purpose\": \"Make solar simple\", \"coreValues\": [\"Integrity\"]}}"

static char *topic_of(const char *suffix)
{
    return cq_asprintf("%s.%s", stack.prefix, suffix);
}

/* Produces an alignment-check envelope as another service would. */
static void produce_job(char job_id[CQ_UUID_STR_LEN + 1], const char *reply_to, const char *request)
{
    cq_uuid_v7(job_id);
    json_t *payload = json_loads(request, 0, NULL);
    assert_non_null(payload);
    cq_job_envelope_t env = {.job_id = job_id,
                             .tenant_id = "tenant-d",
                             .user_id = "svc",
                             .operation = "alignment-check",
                             .created_at = cq_now_ms(),
                             .deadline = cq_now_ms() + 600000,
                             .reply_to = (char *)reply_to,
                             .payload = payload};
    void *buf = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(cq_avro_envelope_encode(avro, &env, &buf, &len, err, sizeof(err)), CQ_ERR_OK);
    char *topic = topic_of("jobs.alignment");
    cq_kafka_header_t h[] = {{"coachq-job-id", job_id, strlen(job_id)}};
    assert_int_equal(cq_kafka_produce_sync(producer, topic, "tenant-d", 8, buf, len, h, 1, 10000,
                                           err, sizeof(err)),
                     CQ_ERR_OK);
    free(topic);
    free(buf);
    json_decref(payload);
}

static json_t *job_state(const char *job_id, const char *tenant)
{
    char url[256], hdr[64];
    snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, job_id);
    snprintf(hdr, sizeof(hdr), "X-Tenant-Id: %s", tenant);
    const char *const h[] = {hdr, "Prefer: wait=20", NULL};
    /* A job sent straight to Kafka has no record until the worker claims
     * it: 404 until then (for its own tenant, a short while). */
    int64_t until = cq_mono_ms() + (strcmp(tenant, "tenant-d") == 0 ? 20000 : 0);
    for (;;) {
        cq_it_resp_t r = cq_it_http("GET", url, h, NULL, 0);
        if (r.status != 404 || cq_mono_ms() >= until) {
            json_t *out = json_pack("{s:I, s:O?}", "status", (json_int_t)r.status, "body", r.json);
            cq_it_resp_free(&r);
            return out;
        }
        cq_it_resp_free(&r);
        usleep(100 * 1000);
    }
}

static void test_it_direct_job_replies_to_its_topic(void **state)
{
    char job_id[CQ_UUID_STR_LEN + 1];
    char *replies = topic_of("replies");
    produce_job(job_id, replies, REQUEST);
    const char *ids[] = {job_id};
    assert_int_equal(cq_it_consume_ids(&stack, replies, ids, 1, 60000, NULL), 1);
    json_t *st = job_state(job_id, "tenant-d");
    assert_int_equal(json_integer_value(cq_it_get(st, "status")), 200);
    assert_non_null(json_string_value(cq_it_get(st, "body.status")));
    assert_string_equal(json_string_value(cq_it_get(st, "body.status")), "succeeded");
    json_decref(st);
    st = job_state(job_id, "tenant-e");
    assert_int_equal(json_integer_value(cq_it_get(st, "status")), 404);
    json_decref(st);
    free(replies);
}

static void test_it_direct_unknown_reply_topic_falls_back(void **state)
{
    char job_id[CQ_UUID_STR_LEN + 1];
    char *nowhere = topic_of("nowhere");
    produce_job(job_id, nowhere, REQUEST);
    char *results = topic_of("results");
    const char *ids[] = {job_id};
    assert_int_equal(cq_it_consume_ids(&stack, results, ids, 1, 60000, NULL), 1);
    free(results);
    free(nowhere);
}

static void test_it_direct_invalid_request_is_dead_lettered(void **state)
{
    /* Avro carries it, but goalIntent breaks the contract (minLength 1). */
    char job_id[CQ_UUID_STR_LEN + 1];
    produce_job(job_id, NULL,
                "{\"goalIntent\": \"\", \"strategies\": [], \"kpis\": [],"
                " \"businessFoundation\": {\"vision\": \"v\", \"purpose\": \"p\","
                " \"coreValues\": [\"x\"]}}");
    json_t *st = job_state(job_id, "tenant-d");
    assert_non_null(json_string_value(cq_it_get(st, "body.status")));
    assert_string_equal(json_string_value(cq_it_get(st, "body.status")), "failed");
    assert_non_null(json_string_value(cq_it_get(st, "body.error.code")));
    assert_string_equal(json_string_value(cq_it_get(st, "body.error.code")), "VALIDATION_ERROR");
    json_decref(st);
    char *dlq = topic_of("dlq");
    const char *ids[] = {job_id};
    assert_int_equal(cq_it_consume_ids(&stack, dlq, ids, 1, 30000, NULL), 1);
    free(dlq);
}

static void test_it_direct_garbage_is_dead_lettered_untouched(void **state)
{
    char marker[64];
    snprintf(marker, sizeof(marker), "not avro %lld", (long long)cq_now_ms());
    char *topic = topic_of("jobs.alignment");
    char err[256];
    /* The undecodable message names its job: the dead letter must say which. */
    const char *source_id = "01920f3e-7c1a-7b3e-9f2d-5a6b7c8d9e0f";
    cq_kafka_header_t h[] = {{"coachq-job-id", source_id, strlen(source_id)}};
    assert_int_equal(cq_kafka_produce_sync(producer, topic, NULL, 0, marker, strlen(marker), h, 1,
                                           10000, err, sizeof(err)),
                     CQ_ERR_OK);
    free(topic);
    /* Read the dead-letter topic until the same bytes appear with their reason. */
    char *dlq = topic_of("dlq");
    char group[96];
    snprintf(group, sizeof(group), "%s-dlq-reader", stack.prefix);
    const char *topics[] = {dlq};
    cq_kafka_consumer_t *c =
        cq_kafka_consumer_new(conf, group, topics, 1, NULL, NULL, err, sizeof(err));
    assert_non_null(c);
    bool found = false, id_kept = false;
    int64_t until = cq_mono_ms() + 30000;
    while (!found && cq_mono_ms() < until) {
        cq_kafka_msg_t *msg = NULL;
        cq_kafka_consumer_poll(c, 200, &msg);
        if (!msg)
            continue;
        size_t n = 0;
        const char *code = cq_kafka_msg_header(msg, "coachq-error-code", &n);
        found = msg->len == strlen(marker) && memcmp(msg->value, marker, msg->len) == 0 && code &&
                n == strlen("UNDECODABLE_MESSAGE") && memcmp(code, "UNDECODABLE_MESSAGE", n) == 0;
        const char *id = found ? cq_kafka_msg_header(msg, "coachq-job-id", &n) : NULL;
        id_kept = id && n == strlen(source_id) && memcmp(id, source_id, n) == 0;
        cq_kafka_msg_destroy(msg);
    }
    cq_kafka_consumer_destroy(c);
    free(dlq);
    assert_true(found);
    assert_true(id_kept);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "direct");
    char err[256];
    conf = cq_config_new();
    cq_config_set(conf, "kafka.bootstrap.servers", stack.kafka, err, sizeof(err));
    contract = cq_contract_new(conf, err, sizeof(err));
    avro = contract ? cq_avro_new(cq_contract_document(contract), err, sizeof(err)) : NULL;
    producer = avro ? cq_kafka_producer_new(conf, true, err, sizeof(err)) : NULL;
    if (!producer) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    if (!cq_it_start_worker(&stack, "alignment", NULL) || !cq_it_start_gateway(&stack, NULL))
        return -1;
    char *replies = topic_of("replies");
    const char *topics[] = {replies};
    cq_err_t rc = cq_kafka_create_topics(conf, topics, 1, 1, err, sizeof(err));
    free(replies);
    return rc == CQ_ERR_OK ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    cq_kafka_producer_destroy(producer, 5000);
    cq_avro_destroy(avro);
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_direct_job_replies_to_its_topic),
        cmocka_unit_test(test_it_direct_unknown_reply_topic_falls_back),
        cmocka_unit_test(test_it_direct_invalid_request_is_dead_lettered),
        cmocka_unit_test(test_it_direct_garbage_is_dead_lettered_untouched),
    };
    return cmocka_run_group_tests_name("integration.direct", tests, setup, teardown);
}
