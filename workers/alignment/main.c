/*
 * coachq-alignment-worker — strategic planning and onboarding operations.
 * The kind is its registry of engines (the contract gives its operations;
 * with an LLM provider, those with prompts are answered by the model and
 * these engines are the fallback); the runtime does everything else.
 */
#include "cq_align_check.h"
#include "cq_align_coaching.h"
#include "cq_align_explanation.h"
#include "cq_align_kpi.h"
#include "cq_align_onboarding.h"
#include "cq_align_scan.h"
#include "cq_align_strategy.h"
#include "cq_align_suggestions.h"
#include "cq_worker.h"

static const cq_worker_op_t cq_alignment_ops[] = {
    {.name = "alignment-check", .builtin = cq_align_check_compute},
    {.name = "alignment-explanation", .builtin = cq_align_explanation_compute},
    {.name = "alignment-suggestions", .builtin = cq_align_suggestions_compute},
    {.name = "strategy-suggestions", .builtin = cq_align_strategy_compute},
    {.name = "kpi-recommendations", .builtin = cq_align_kpi_compute},
    {.name = "onboarding-suggestions", .builtin = cq_align_onboarding_compute},
    {.name = "onboarding-coaching", .builtin = cq_align_coaching_compute},
    {.name = "website-scan", .start = cq_align_scan_start, .prepares_llm_input = true},
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
