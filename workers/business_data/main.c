/*
 * coachq-business-data-worker — the tenant's business data (Account and
 * Traction services aggregated) and insights generated from it.
 *
 * Both operations need upstream I/O (the fetch layer of the worker
 * runtime), so neither has a pure built-in engine yet: the pieces that need
 * no I/O are cq_bd_upstream (sources, reply validation), cq_bd_aggregate
 * (replies -> BusinessDataResult) and cq_bd_insights (business data ->
 * insights), ready for an engine that fetches. Until then the runtime
 * answers business-data 501, and insights-generate through its LLM prompt
 * only when an LLM is configured.
 */
#include "cq_worker.h"

static const cq_worker_op_t cq_business_data_ops[] = {
    {.name = "business-data"},
    {.name = "insights-generate"},
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
