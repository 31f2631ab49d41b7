/*
 * coachq-alignment-worker — strategic planning and onboarding operations.
 * The kind is its registry of engines (the contract gives its operations;
 * those without an engine here are answered by an LLM through their
 * prompts); the runtime does everything else.
 */
#include "cq_align_check.h"
#include "cq_align_scan.h"
#include "cq_worker.h"

static const cq_worker_op_t cq_alignment_ops[] = {
    {.name = "alignment-check", .builtin = cq_align_check_compute},
    {.name = "website-scan", .start = cq_align_scan_start},
};

static const cq_worker_kind_t cq_alignment_kind = {
    .kind = "alignment",
    .ops = cq_alignment_ops,
    .op_count = CQ_ARRAY_SIZE(cq_alignment_ops),
};

int main(int argc, char **argv)
{
    return cq_worker_main(&cq_alignment_kind, argc, argv);
}
