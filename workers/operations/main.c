/*
 * coachq-operations-worker — operations AI (strategic alignment of actions,
 * prioritisation, scheduling, root causes, actions for an issue) and the
 * deprecated operations analysis. The kind is its registry of engines (the
 * contract gives its operations); the runtime does everything else.
 */
#include "cq_ops_actions.h"
#include "cq_ops_align.h"
#include "cq_ops_analysis.h"
#include "cq_ops_priority.h"
#include "cq_ops_rootcause.h"
#include "cq_ops_schedule.h"
#include "cq_worker.h"

static const cq_worker_op_t cq_operations_ops[] = {
    {.name = "strategic-alignment", .builtin = cq_ops_align_compute},
    {.name = "prioritization-suggestions", .builtin = cq_ops_priority_compute},
    {.name = "scheduling-suggestions", .builtin = cq_ops_schedule_compute},
    {.name = "root-cause-suggestions", .builtin = cq_ops_rootcause_compute},
    {.name = "action-suggestions", .builtin = cq_ops_actions_compute},
    {.name = "operations-analysis", .builtin = cq_ops_analysis_compute},
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
