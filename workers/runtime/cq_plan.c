/*
 * cq_plan.c — a kind's operations, from the contract (see cq_worker_int.h).
 *
 * The contract says which operations a kind runs; the kind's registry says
 * which engines it has; the prompt folder says which operations an LLM can
 * answer. This matches the three once at start and refuses a worker that
 * could only fail some of its jobs: an operation nothing can answer, or an
 * engine for an operation that is not the kind's (a misspelt name, or one
 * the contract moved to another kind).
 *
 * Threads: called once at start, before the loop.
 */
#include "cq_worker_int.h"
#include "cq_prompt.h"

#include <stdlib.h>
#include <string.h>

char *cq_worker_prompt_dir(const char *kind)
{
    char *dir = cq_asprintf("workers/%s/prompts", kind);
    for (char *p = dir + strlen("workers/"); *p && *p != '/'; p++)
        if (*p == '-')
            *p = '_';
    return dir;
}

static const cq_worker_op_t *cq_worker_plan_find(const cq_worker_kind_t *kind, const char *name)
{
    for (size_t i = 0; i < kind->op_count; i++)
        if (strcmp(kind->ops[i].name, name) == 0)
            return &kind->ops[i];
    return NULL;
}

void cq_worker_plan_free(cq_worker_opdef_t *ops, size_t count)
{
    for (size_t i = 0; ops && i < count; i++) {
        free(ops[i].system);
        free(ops[i].user);
        json_decref(ops[i].schema);
    }
    free(ops);
}

bool cq_worker_plan(const cq_worker_kind_t *kind, const cq_contract_t *contract,
                    cq_worker_opdef_t **ops_out, size_t *count_out, char *errstr,
                    size_t errstr_size)
{
    *ops_out = NULL;
    *count_out = 0;
    for (size_t i = 0; i < kind->op_count; i++) {
        const cq_worker_op_t *reg = &kind->ops[i];
        const cq_operation_t *cop = cq_contract_find(contract, reg->name);
        if (!cop || strcmp(cop->kind, kind->kind) != 0) {
            cq_errstr_set(errstr, errstr_size,
                          "the %s worker has an engine for \"%s\", which the contract does not "
                          "give the %s kind",
                          kind->kind, reg->name, kind->kind);
            return false;
        }
        if (!reg->builtin == !reg->start) {
            cq_errstr_set(errstr, errstr_size,
                          "the engine of %s must set exactly one of builtin and start", reg->name);
            return false;
        }
    }

    char *dir = cq_worker_prompt_dir(kind->kind);
    size_t total = cq_contract_count(contract), count = 0;
    cq_worker_opdef_t *ops = cq_calloc(total ? total : 1, sizeof(*ops));
    bool ok = true;
    for (size_t i = 0; i < total; i++) {
        const cq_operation_t *cop = cq_contract_at(contract, i);
        if (strcmp(cop->kind, kind->kind) != 0)
            continue;
        cq_worker_opdef_t *op = &ops[count++];
        op->cop = cop;
        op->reg = cq_worker_plan_find(kind, cop->name);
        if (cq_prompt_load(dir, cop->name, &op->system, &op->user) != CQ_ERR_OK && !op->reg) {
            cq_errstr_set(errstr, errstr_size,
                          "operation %s of the %s kind has no engine and no prompt files "
                          "(%s/%s.system.txt and .user.txt)",
                          cop->name, kind->kind, dir, cop->name);
            ok = false;
            break;
        }
    }
    free(dir);
    if (!ok || count == 0) {
        if (ok)
            cq_errstr_set(errstr, errstr_size, "the contract gives the %s kind no operation",
                          kind->kind);
        cq_worker_plan_free(ops, count);
        return false;
    }
    *ops_out = ops;
    *count_out = count;
    return true;
}
