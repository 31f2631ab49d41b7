/*
 * coachq-business-data-worker — the tenant's business data (Account and
 * Traction services aggregated) and insights generated from it.
 *
 * Both operations are I/O engines (cq_bd_engine.c) on the runtime's fetch
 * layer: cq_bd_upstream (sources, reply validation), cq_bd_aggregate
 * (replies -> BusinessDataResult) and cq_bd_insights (business data ->
 * insights) do the pure parts; lib/cq_bdcache holds the Redis keys the
 * worker shares with the gateway.
 */
#include "cq_bd_engine.h"
#include "cq_worker.h"

static const cq_worker_op_t cq_business_data_ops[] = {
    {.name = "business-data", .start = cq_bd_engine_business_data},
    {.name = "insights-generate", .start = cq_bd_engine_insights, .prepares_llm_input = true},
};

static const cq_worker_kind_t cq_business_data_kind = {
    .kind = "business-data",
    .ops = cq_business_data_ops,
    .op_count = CQ_ARRAY_SIZE(cq_business_data_ops),
};

int main(int argc, char **argv)
{
    return cq_worker_main(&cq_business_data_kind, argc, argv);
}
