/*
 * cq_ops_actions.h — built-in engine of action-suggestions
 * (POST /operations/action-suggestions).
 */
#ifndef CQ_OPS_ACTIONS_H
#define CQ_OPS_ACTIONS_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/*
 * Three to five actions for an issue, most important first, from the
 * issue, its root cause and the constraints (timeline, budget, resources).
 * request is an ActionSuggestionsRequest (already validated); on success
 * *result is a new ActionSuggestionsResult array (caller decrefs). now_ms
 * is unused (cq_builtin_fn signature). Errors: CQ_ERR_BAD_REQUEST when
 * request or its issue is not an object, CQ_ERR_INSUFFICIENT_CONTEXT when
 * the issue title has no usable words, CQ_ERR_INTERNAL_ERROR when a data
 * file is missing. Reentrant.
 */
cq_err_t cq_ops_actions_compute(const json_t *request, int64_t now_ms, json_t **result,
                                char *errstr, size_t errstr_size);

/* Hours a timeline such as "2 weeks", "10 working days", "1-2 months" or
 * "36 hours" allows for one person (8 h a day, 40 a week, 160 a month;
 * a range counts its lower end), or 0 when it gives no duration. */
double cq_ops_actions_timeline_hours(const char *timeline);

#endif
