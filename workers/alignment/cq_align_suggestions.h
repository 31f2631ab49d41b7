/*
 * cq_align_suggestions.h — the built-in engine of alignment-suggestions
 * (POST /coaching/alignment-suggestions).
 */
#ifndef CQ_ALIGN_SUGGESTIONS_H
#define CQ_ALIGN_SUGGESTIONS_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/*
 * Suggests 3-5 ways to improve a goal's alignment, with the effect
 * measured: the alignment-check engine scores the goal as it is and as it
 * would be with the first suggestions applied. request is an
 * AlignmentSuggestionsRequest (KPIs by name, by sharedKpiId, or both).
 * now_ms is unused. On success *result is a new AlignmentSuggestionsResult
 * (caller decrefs). Errors as cq_align_explanation_compute. Reentrant.
 */
cq_err_t cq_align_suggestions_compute(const json_t *request, int64_t now_ms, json_t **result,
                                      char *errstr, size_t errstr_size);

#endif
