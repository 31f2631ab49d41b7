/*
 * cq_align_explanation.h — the built-in engine of alignment-explanation
 * (POST /coaching/alignment-explanation).
 */
#ifndef CQ_ALIGN_EXPLANATION_H
#define CQ_ALIGN_EXPLANATION_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/*
 * Explains how a goal fits the business foundation, deterministically.
 * request is an AlignmentExplanationRequest; KPIs may carry a name, a
 * sharedKpiId or both. now_ms is unused (the result has no time stamp).
 * On success *result is a new AlignmentExplanationResult (caller decrefs).
 * Errors: CQ_ERR_INSUFFICIENT_CONTEXT when the intent or the foundation has
 * no usable words, CQ_ERR_INTERNAL_ERROR when the wording data is missing.
 * Reentrant; any thread.
 */
cq_err_t cq_align_explanation_compute(const json_t *request, int64_t now_ms, json_t **result,
                                      char *errstr, size_t errstr_size);

#endif
