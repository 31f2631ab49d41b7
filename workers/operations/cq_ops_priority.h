/*
 * cq_ops_priority.h — the built-in (model-free) engine of the
 * prioritization-suggestions operation (POST /operations/prioritization-suggestions).
 */
#ifndef CQ_OPS_PRIORITY_H
#define CQ_OPS_PRIORITY_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/* Bounds of what is read (the contract's limits); more is refused. */
#define CQ_OPS_PRIORITY_ACTIONS_MAX 200
#define CQ_OPS_PRIORITY_GOALS_MAX   50

/* Score thresholds of the suggested priorities (see the .c). */
#define CQ_OPS_PRIORITY_CRITICAL 12.0
#define CQ_OPS_PRIORITY_HIGH     6.0
#define CQ_OPS_PRIORITY_MEDIUM   3.0

/*
 * Scores every action of a PrioritizationSuggestionsRequest ({actions[],
 * businessContext{currentGoals[], constraints[], urgentDeadlines[]}}) with
 * a WSJF-like model against today (the UTC day of now_ms) and returns a
 * PrioritizationSuggestionsResult: one entry per action, highest score
 * first (ties by id). impact, effort and status may be any of the words,
 * numbers, t-shirt sizes or durations cq_ops_input reads; what is missing
 * or not understood is assumed medium and lowers confidence.
 * recommendedAction is escalate / maintain / de-prioritize exactly when the
 * suggested priority is above / equal to / below the current one.
 *
 * On success *result is a new array (caller decrefs). Errors:
 * CQ_ERR_BAD_REQUEST when request is not an object, CQ_ERR_VALIDATION_ERROR
 * for no actions, too many, or an action without id or currentPriority.
 * Deterministic; reentrant; any thread.
 */
cq_err_t cq_ops_priority_compute(const json_t *request, int64_t now_ms, json_t **result,
                                 char *errstr, size_t errstr_size);

#endif
