/*
 * coachq-operations-worker — operations AI (strategic alignment of actions,
 * prioritisation, scheduling, root causes, actions for an issue) and the
 * deprecated operations analysis. The kind is its registry of engines (the
 * contract gives its operations); the runtime does everything else.
 */
#include "cq_ops_priority.h"
#include "cq_ops_schedule.h"
#include "cq_worker.h"

static const cq_worker_op_t cq_operations_ops[] = {
    {.name = "prioritization-suggestions", .builtin = cq_ops_priority_compute},
    {.name = "scheduling-suggestions", .builtin = cq_ops_schedule_compute},
};

static const cq_worker_kind_t cq_operations_kind = {
    .kind = "operations",
    .ops = cq_operations_ops,
    .op_count = CQ_ARRAY_SIZE(cq_operations_ops),
};

int main(int argc, char **argv)
{
    return cq_worker_main(&cq_operations_kind, argc, argv);
}
