/*
 * fuzz_contract.h — what the contract fuzzers and the seed writer agree on:
 * the built-in contract, and the list of schemas an input's first byte
 * chooses from (each operation's request schema, then its result schema,
 * in document order). fuzz_seeds.c writes seeds with the same numbering.
 */
#ifndef FUZZ_CONTRACT_H
#define FUZZ_CONTRACT_H
#include <stdio.h>
#include <stdlib.h>

#include "cq_config.h"
#include "cq_contract.h"

#define FUZZ_MAX_TARGETS 128

typedef struct {
    const cq_operation_t *op;
    bool result; /* the result schema (an LLM's answer), else the request body's */
    const cq_schema_t *schema;
} fuzz_target_t;

/* The built-in contract (schemas/openapi.json, embedded); exits when it
 * does not load: that is a broken build, not an input. */
static inline cq_contract_t *fuzz_contract_load(cq_config_t **conf)
{
    char err[512];
    *conf = cq_config_new();
    cq_contract_t *contract = cq_contract_new(*conf, err, sizeof(err));
    if (!contract) {
        fprintf(stderr, "fuzz: the built-in contract does not load: %s\n", err);
        exit(1);
    }
    return contract;
}

static inline size_t fuzz_targets(const cq_contract_t *contract, fuzz_target_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < cq_contract_count(contract) && n + 2 <= FUZZ_MAX_TARGETS; i++) {
        const cq_operation_t *op = cq_contract_at(contract, i);
        if (op->request)
            out[n++] = (fuzz_target_t){.op = op, .result = false, .schema = op->request};
        if (op->result)
            out[n++] = (fuzz_target_t){.op = op, .result = true, .schema = op->result};
    }
    return n;
}
#endif
