/*
 * fuzz_avro.c — the Avro codec of Kafka messages (lib/cq_avro*.c) on
 * untrusted bytes.
 *
 * Input: one byte, even for a job envelope (what a worker decodes off a job
 * topic), odd for a result record (what the gateway and the rebuild read off
 * coachq.results), then the message. Like the worker, a decoded envelope's
 * payload is validated against its operation's request schema. What decodes
 * is encoded again (decode must only accept what encode can write) and
 * decoded once more: the same payload/result must come back.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "cq_avro.h"
#include "fuzz_contract.h"

static cq_config_t *conf;
static cq_contract_t *contract;
static cq_avro_t *avro;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    contract = fuzz_contract_load(&conf);
    avro = cq_avro_new(cq_contract_document(contract), err, sizeof(err));
    if (!avro) {
        fprintf(stderr, "fuzz_avro: cq_avro_new: %s\n", err);
        exit(1);
    }
    return 0;
}

static bool same_json(const json_t *a, const json_t *b)
{
    return (!a && !b) || (a && b && json_equal(a, b));
}

static void envelope(const uint8_t *buf, size_t len)
{
    char err[512];
    cq_job_envelope_t env = {0}, again = {0};
    if (cq_avro_envelope_decode(avro, buf, len, &env, err, sizeof(err)) != CQ_ERR_OK)
        return;
    const cq_operation_t *op = cq_contract_find(contract, env.operation);
    if (op && op->request && env.payload) {
        cq_schema_errors_t errors = {0};
        cq_schema_validate(op->request, env.payload, &errors);
        cq_schema_errors_clear(&errors);
    }
    void *out = NULL;
    size_t out_len = 0;
    if (cq_avro_envelope_encode(avro, &env, &out, &out_len, err, sizeof(err)) == CQ_ERR_OK) {
        if (cq_avro_envelope_decode(avro, out, out_len, &again, err, sizeof(err)) != CQ_ERR_OK ||
            !same_json(env.payload, again.payload) || strcmp(env.job_id, again.job_id) != 0 ||
            env.created_at != again.created_at)
            __builtin_trap(); /* what we wrote does not read back */
        cq_job_envelope_clear(&again);
    }
    free(out);
    cq_job_envelope_clear(&env);
}

static void result(const uint8_t *buf, size_t len)
{
    char err[512];
    cq_job_result_msg_t msg = {0}, again = {0};
    if (cq_avro_result_decode(avro, buf, len, &msg, err, sizeof(err)) != CQ_ERR_OK)
        return;
    void *out = NULL;
    size_t out_len = 0;
    if (cq_avro_result_encode(avro, &msg, &out, &out_len, err, sizeof(err)) == CQ_ERR_OK) {
        if (cq_avro_result_decode(avro, out, out_len, &again, err, sizeof(err)) != CQ_ERR_OK ||
            !same_json(msg.result, again.result) || !same_json(msg.engine, again.engine) ||
            strcmp(msg.status, again.status) != 0)
            __builtin_trap();
        cq_job_result_msg_clear(&again);
    }
    free(out);
    cq_job_result_msg_clear(&msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        result(data + 1, size - 1);
    else
        envelope(data + 1, size - 1);
    return 0;
}
