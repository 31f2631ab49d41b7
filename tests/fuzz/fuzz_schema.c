/*
 * fuzz_schema.c — JSON Schema validation of untrusted JSON (lib/cq_schema*.c,
 * lib/cq_regex.c, lib/cq_format.c) as the gateway does it for a request
 * body and the worker for an LLM's answer.
 *
 * Input: one byte choosing the schema (fuzz_contract.h: every operation's
 * request schema, then its result schema), then the JSON text. The text
 * passes the gateway's checks first (size cap gateway.max_body_bytes,
 * nesting cq_json_depth <= CQ_JSON_MAX_DEPTH, jansson with
 * JSON_REJECT_DUPLICATES); what is left is validated twice, collecting every
 * error (and turning them into the problem answer's JSON) and stopping at
 * the first one, and the two verdicts must agree.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "cq_json.h"
#include "cq_schema.h"
#include "fuzz_contract.h"

static cq_config_t *conf;
static cq_contract_t *contract;
static fuzz_target_t targets[FUZZ_MAX_TARGETS];
static size_t target_count;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    contract = fuzz_contract_load(&conf);
    target_count = fuzz_targets(contract, targets);
    if (target_count == 0) {
        fprintf(stderr, "fuzz_schema: the contract has no schema\n");
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const fuzz_target_t *t = &targets[data[0] % target_count];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (len > (size_t)conf->gateway_max_body_bytes ||
        cq_json_depth(text, len, CQ_JSON_MAX_DEPTH) > CQ_JSON_MAX_DEPTH)
        return 0;
    json_error_t jerr;
    json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        return 0;
    cq_schema_errors_t errors = {0};
    bool valid = cq_schema_validate(t->schema, body, &errors);
    if (valid != (errors.count == 0))
        __builtin_trap(); /* "valid" with errors, or invalid without one */
    json_t *problem = cq_schema_errors_to_json(&errors);
    json_decref(problem);
    cq_schema_errors_clear(&errors);
    if (cq_schema_validate(t->schema, body, NULL) != valid)
        __builtin_trap(); /* stopping at the first error changed the verdict */
    json_decref(body);
    return 0;
}
