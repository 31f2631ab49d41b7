/*
 * fuzz_seeds.c — writes the seeds made from the contract's examples
 * (schemas/openapi.json, the built-in copy) for the contract fuzzers:
 *   OUT/fuzz_schema/  byte k (fuzz_contract.h numbering) + each request
 *                     body example of operation k, or each 200 example's
 *                     data for its result schema;
 *   OUT/fuzz_avro/    byte 0 + a job envelope carrying each request
 *                     example, byte 1 + a result record carrying each
 *                     result example (and one failed record per operation).
 * Usage: fuzz_seeds OUT. Exits non-zero when no seed could be written.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cq_avro.h"
#include "fuzz_contract.h"

static size_t written;

static void write_seed(const char *dir, const char *name, uint8_t first, const void *buf,
                       size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputc(first, f) == EOF || (len && fwrite(buf, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    written++;
}

/* The examples' values of operation op's request body (result=false) or
 * 200 answer's data (result=true), as a new array. */
static json_t *examples_of(json_t *doc, const cq_operation_t *op, bool result)
{
    char method[16];
    size_t i;
    for (i = 0; op->method[i] && i + 1 < sizeof(method); i++)
        method[i] = (char)tolower((unsigned char)op->method[i]);
    method[i] = '\0';
    json_t *o = json_object_get(json_object_get(json_object_get(doc, "paths"), op->path), method);
    json_t *media =
        result ? json_object_get(
                     json_object_get(json_object_get(json_object_get(o, "responses"), "200"),
                                     "content"),
                     "application/json")
               : json_object_get(json_object_get(json_object_get(o, "requestBody"), "content"),
                                 "application/json");
    json_t *out = json_array();
    const char *key;
    json_t *ex;
    json_object_foreach(json_object_get(media, "examples"), key, ex)
    {
        json_t *v = json_object_get(ex, "value");
        if (result)
            v = json_object_get(v, "data");
        if (v)
            json_array_append(out, v);
    }
    return out;
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_seeds: cannot create %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
        return 2;
    }
    char schema_dir[900], avro_dir[900], name[256], err[512];
    snprintf(schema_dir, sizeof(schema_dir), "%s/fuzz_schema", argv[1]);
    snprintf(avro_dir, sizeof(avro_dir), "%s/fuzz_avro", argv[1]);
    make_dir(argv[1]);
    make_dir(schema_dir);
    make_dir(avro_dir);

    cq_config_t *conf;
    cq_contract_t *contract = fuzz_contract_load(&conf);
    json_t *doc = cq_contract_document(contract);
    cq_avro_t *avro = cq_avro_new(doc, err, sizeof(err));
    if (!avro) {
        fprintf(stderr, "fuzz_seeds: cq_avro_new: %s\n", err);
        return 1;
    }
    fuzz_target_t targets[FUZZ_MAX_TARGETS];
    size_t count = fuzz_targets(contract, targets);
    for (size_t k = 0; k < count; k++) {
        const fuzz_target_t *t = &targets[k];
        json_t *examples = examples_of(doc, t->op, t->result);
        size_t i;
        json_t *value;
        json_array_foreach(examples, i, value)
        {
            char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
            snprintf(name, sizeof(name), "%s-%s-%zu", t->op->name, t->result ? "result" : "request",
                     i);
            write_seed(schema_dir, name, (uint8_t)k, text, strlen(text));
            free(text);

            void *buf = NULL;
            size_t len = 0;
            cq_err_t rc;
            if (t->result) {
                cq_job_result_msg_t msg = {
                    .job_id = "3f2b8c1e-7d4a-4e5b-9c6d-0a1b2c3d4e5f",
                    .tenant_id = "acme-dental",
                    .user_id = "u-1001",
                    .operation = (char *)t->op->name,
                    .status = "succeeded",
                    .attempts = 1,
                    .created_at = 1800000000000LL,
                    .started_at = 1800000000100LL,
                    .finished_at = 1800000000900LL,
                    .engine = json_pack("{s:s, s:s, s:i}", "name", "llm", "provider", "openai",
                                        "promptTokens", 321),
                    .result = value,
                    .custom_id = "line-7",
                };
                rc = cq_avro_result_encode(avro, &msg, &buf, &len, err, sizeof(err));
                json_decref(msg.engine);
            } else {
                cq_job_envelope_t env = {
                    .job_id = "3f2b8c1e-7d4a-4e5b-9c6d-0a1b2c3d4e5f",
                    .tenant_id = "acme-dental",
                    .user_id = "u-1001",
                    .operation = (char *)t->op->name,
                    .attempt = 1,
                    .created_at = 1800000000000LL,
                    .deadline = 1800000120000LL,
                    .trace_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    .payload = value,
                    .authorization = t->op->forward_credentials ? "Bearer demo-token" : NULL,
                };
                rc = cq_avro_envelope_encode(avro, &env, &buf, &len, err, sizeof(err));
            }
            if (rc != CQ_ERR_OK) {
                fprintf(stderr, "fuzz_seeds: %s: %s\n", name, err);
                return 1;
            }
            write_seed(avro_dir, name, t->result ? 1 : 0, buf, len);
            free(buf);
        }
        json_decref(examples);
        if (t->result) {
            /* A failed job: no result, an error. */
            cq_job_result_msg_t msg = {
                .job_id = "9a1b2c3d-0000-4000-8000-000000000001",
                .tenant_id = "acme-dental",
                .user_id = "u-1001",
                .operation = (char *)t->op->name,
                .status = "failed",
                .attempts = 3,
                .created_at = 1800000000000LL,
                .finished_at = 1800000000900LL,
                .error_code = "AI_SERVICE_UNAVAILABLE",
                .error_message = "The AI provider is unavailable",
                .batch_id = "b-1",
            };
            void *buf = NULL;
            size_t len = 0;
            if (cq_avro_result_encode(avro, &msg, &buf, &len, err, sizeof(err)) == CQ_ERR_OK) {
                snprintf(name, sizeof(name), "%s-failed", t->op->name);
                write_seed(avro_dir, name, 1, buf, len);
            }
            free(buf);
        }
    }
    cq_avro_destroy(avro);
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    printf("fuzz_seeds: %zu seeds in %s\n", written, argv[1]);
    return written ? 0 : 1;
}
