/*
 * cq_test_engine.h — what the unit tests of the built-in engines share: the
 * built-in contract (setup/teardown for a cmocka group), JSON from test text,
 * and one engine run whose result must pass the operation's result schema.
 * Included once by a test program, after cmocka.h; everything here is static.
 */
#ifndef CQ_TEST_ENGINE_H
#define CQ_TEST_ENGINE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_contract.h"
#include "cq_worker.h"

static cq_config_t *conf;
static cq_contract_t *contract;

static int setup(void **state)
{
    char err[512];
    conf = cq_config_new();
    contract = cq_contract_new(conf, err, sizeof(err));
    if (!contract)
        fprintf(stderr, "contract: %s\n", err);
    return contract ? 0 : -1;
}

static int teardown(void **state)
{
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    return 0;
}

static inline json_t *parse(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    if (!json)
        fail_msg("bad test JSON: %s: %s", error.text, text);
    return json;
}

/* With CQ_TEST_PRINT set, prints a result (for reading what an engine says). */
static inline void print(const json_t *result)
{
    if (getenv("CQ_TEST_PRINT")) {
        char *dump = json_dumps(result, JSON_INDENT(2));
        printf("%s\n", dump);
        free(dump);
    }
}

/* Runs fn (the engine of operation) on request_text with the clock at
 * now_ms; the request must pass the request schema when checked is set,
 * the result always passes the result schema. New reference. */
static inline json_t *cq_test_run_engine(const char *operation, cq_builtin_fn *fn, int64_t now_ms,
                                         const char *request_text, bool checked)
{
    const cq_operation_t *op = cq_contract_find(contract, operation);
    assert_non_null(op);
    json_t *request = parse(request_text);
    if (checked)
        assert_true(cq_schema_validate(op->request, request, NULL));
    json_t *result = NULL;
    char err[256] = "";
    cq_err_t rc = fn(request, now_ms, &result, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("engine failed: %s", err);
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    if (!cq_schema_validate(op->result, result, &errors)) {
        char *dump = json_dumps(result, JSON_INDENT(1));
        fail_msg("result invalid at %s: %s\n%s", errors.items[0].path, errors.items[0].message,
                 dump);
    }
    cq_schema_errors_clear(&errors);
    json_decref(request);
    return result;
}

#endif
