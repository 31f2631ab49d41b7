/*
 * test_cq_rebuild.c — the result record -> job record mapping of the store
 * rebuild (cq_rebuild.h) and its TTL rule, without Kafka or Redis.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cq_rebuild.h"

#include <stdlib.h>
#include <string.h>

static cq_contract_t *contract;

static cq_job_result_msg_t sample(void)
{
    cq_job_result_msg_t m = {
        .job_id = "0190a6f2-7c1e-7b3a-9d4e-1a2b3c4d5e6f",
        .tenant_id = "tenant-a",
        .user_id = "user-1",
        .operation = "alignment-check",
        .status = "succeeded",
        .attempts = 2,
        .created_at = 1700000000000,
        .started_at = 1700000000100,
        .finished_at = 1700000000900,
        .batch_id = "batch-1",
        .custom_id = "row-7",
    };
    m.engine = json_pack("{s:s, s:I}", "name", "builtin", "latencyMs", (json_int_t)3);
    m.result = json_pack("{s:f, s:[s]}", "score", 0.5, "notes", "ok");
    return m;
}

static void test_rebuild_record_maps_every_field(void **state)
{
    cq_job_result_msg_t m = sample();
    cq_job_record_t rec;
    memset(&rec, 0, sizeof(rec));
    char err[256];
    assert_int_equal(cq_rebuild_record(&m, contract, &rec, err, sizeof(err)), CQ_ERR_OK);
    assert_string_equal(rec.job_id, m.job_id);
    assert_string_equal(rec.tenant_id, "tenant-a");
    assert_string_equal(rec.user_id, "user-1");
    assert_string_equal(rec.operation, "alignment-check");
    assert_string_equal(rec.kind, "alignment"); /* from the contract */
    assert_string_equal(rec.batch_id, "batch-1");
    assert_string_equal(rec.custom_id, "row-7");
    assert_int_equal(rec.status, CQ_JOB_SUCCEEDED);
    assert_int_equal(rec.attempts, 2);
    assert_int_equal(rec.created_at, 1700000000000);
    assert_int_equal(rec.started_at, 1700000000100);
    assert_int_equal(rec.finished_at, 1700000000900);
    /* Compact JSON text, as the worker stores them. */
    assert_string_equal(rec.engine, "{\"name\":\"builtin\",\"latencyMs\":3}");
    assert_string_equal(rec.result, "{\"score\":0.5,\"notes\":[\"ok\"]}");
    assert_null(rec.error_code);
    assert_null(rec.error_message);
    cq_job_record_clear(&rec);
    json_decref(m.engine);
    json_decref(m.result);
}

static void test_rebuild_record_failed_and_never_started(void **state)
{
    cq_job_result_msg_t m = {
        .job_id = "0190a6f2-7c1e-7b3a-9d4e-1a2b3c4d5e70",
        .tenant_id = "tenant-b",
        .user_id = "",
        .operation = "no-such-operation",
        .status = "failed",
        .attempts = 0,
        .created_at = 1700000000000,
        .finished_at = 1700000000500,
        .error_code = "UNKNOWN_OPERATION",
        .error_message = "not an operation of this kind",
    };
    cq_job_record_t rec;
    memset(&rec, 0, sizeof(rec));
    char err[256];
    assert_int_equal(cq_rebuild_record(&m, contract, &rec, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(rec.status, CQ_JOB_FAILED);
    assert_null(rec.user_id); /* "" is unset, as in the store */
    assert_null(rec.kind);    /* an operation the contract does not know */
    assert_int_equal(rec.started_at, 0);
    assert_null(rec.engine);
    assert_null(rec.result);
    assert_null(rec.batch_id);
    assert_string_equal(rec.error_code, "UNKNOWN_OPERATION");
    assert_string_equal(rec.error_message, "not an operation of this kind");
    cq_job_record_clear(&rec);

    m.status = "cancelled";
    m.error_code = "JOB_CANCELLED";
    assert_int_equal(cq_rebuild_record(&m, NULL, &rec, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(rec.status, CQ_JOB_CANCELLED);
    cq_job_record_clear(&rec);
}

static void test_rebuild_record_refuses_what_no_worker_writes(void **state)
{
    char err[256];
    cq_job_record_t rec;
    memset(&rec, 0, sizeof(rec));
    for (int i = 0; i < 6; i++) {
        cq_job_result_msg_t m = sample();
        json_decref(m.engine);
        json_decref(m.result);
        m.engine = m.result = NULL;
        switch (i) {
        case 0:
            m.job_id = "";
            break;
        case 1:
            m.tenant_id = NULL;
            break;
        case 2:
            m.operation = "";
            break;
        case 3:
            m.status = "running";
            break;
        case 4:
            m.status = "bogus";
            break;
        case 5:
            m.finished_at = 0;
            break;
        }
        err[0] = '\0';
        assert_int_equal(cq_rebuild_record(&m, contract, &rec, err, sizeof(err)),
                         CQ_ERR_VALIDATION_ERROR);
        assert_true(err[0] != '\0');
        assert_null(rec.job_id);
    }
}

/* Through the real codec: what a worker encodes comes back as it stored it. */
static void test_rebuild_record_after_avro_round_trip(void **state)
{
    char err[512];
    cq_avro_t *avro = cq_avro_new(cq_contract_document(contract), err, sizeof(err));
    assert_non_null(avro);
    cq_job_result_msg_t m = {
        .job_id = "0190a6f2-7c1e-7b3a-9d4e-1a2b3c4d5e71",
        .tenant_id = "tenant-c",
        .user_id = "u",
        .operation = "alignment-check",
        .status = "failed",
        .attempts = 3,
        .created_at = 1700000000000,
        .started_at = 1700000000010,
        .finished_at = 1700000000020,
        .error_code = "AI_SERVICE_UNAVAILABLE",
        .error_message = "down",
        .custom_id = "c-1",
    };
    m.engine = json_pack("{s:s, s:s, s:s}", "name", "llm", "provider", "ollama", "model", "m");
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(cq_avro_result_encode(avro, &m, &buf, &len, err, sizeof(err)), CQ_ERR_OK);
    json_decref(m.engine);
    cq_job_result_msg_t back;
    memset(&back, 0, sizeof(back));
    assert_int_equal(cq_avro_result_decode(avro, buf, len, &back, err, sizeof(err)), CQ_ERR_OK);
    free(buf);
    cq_job_record_t rec;
    memset(&rec, 0, sizeof(rec));
    assert_int_equal(cq_rebuild_record(&back, contract, &rec, err, sizeof(err)), CQ_ERR_OK);
    assert_string_equal(rec.tenant_id, "tenant-c");
    assert_string_equal(rec.kind, "alignment");
    assert_int_equal(rec.status, CQ_JOB_FAILED);
    assert_int_equal(rec.attempts, 3);
    assert_int_equal(rec.started_at, 1700000000010);
    assert_string_equal(rec.custom_id, "c-1");
    assert_null(rec.batch_id);
    json_t *engine = json_loads(rec.engine, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(engine, "provider")), "ollama");
    assert_null(json_object_get(engine, "promptTokens")); /* absent, not null */
    json_decref(engine);
    assert_string_equal(rec.error_code, "AI_SERVICE_UNAVAILABLE");
    assert_string_equal(rec.error_message, "down");
    cq_job_record_clear(&rec);
    cq_job_result_msg_clear(&back);
    cq_avro_destroy(avro);
}

static void test_rebuild_ttl_counts_from_the_finish(void **state)
{
    const int64_t day = 24LL * 3600 * 1000;
    assert_int_equal(cq_rebuild_ttl(1000, 1000 + 3600000, day), day - 3600000);
    assert_int_equal(cq_rebuild_ttl(1000, 1000 + day, day), 0);     /* just expired */
    assert_int_equal(cq_rebuild_ttl(1000, 1000 + 2 * day, day), 0); /* long gone */
    assert_int_equal(cq_rebuild_ttl(1000, 1000 + day - 1, day), 1); /* last millisecond */
    assert_int_equal(cq_rebuild_ttl(5000, 1000, day), day);         /* clock skew */
}

static int setup(void **state)
{
    char err[512];
    cq_config_t *conf = cq_config_new();
    contract = cq_contract_new(conf, err, sizeof(err));
    cq_config_destroy(conf);
    return contract ? 0 : -1;
}

static int teardown(void **state)
{
    cq_contract_destroy(contract);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebuild_record_maps_every_field),
        cmocka_unit_test(test_rebuild_record_failed_and_never_started),
        cmocka_unit_test(test_rebuild_record_refuses_what_no_worker_writes),
        cmocka_unit_test(test_rebuild_record_after_avro_round_trip),
        cmocka_unit_test(test_rebuild_ttl_counts_from_the_finish),
    };
    return cmocka_run_group_tests_name("cq_rebuild", tests, setup, teardown);
}
