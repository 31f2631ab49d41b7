/*
 * cq_align_strategy.h — the built-in engine of strategy-suggestions
 * (POST /coaching/strategy-suggestions).
 */
#ifndef CQ_ALIGN_STRATEGY_H
#define CQ_ALIGN_STRATEGY_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/*
 * Suggests 3-5 strategies for a goal from the strategy catalogue
 * (data/strategies.json), chosen by goal type and context, adapted to the
 * goal's words and constraints, and never repeating an existing strategy.
 * request is a StrategySuggestionsRequest; every businessContext and
 * constraints field is optional. now_ms is unused. On success *result is a
 * new StrategySuggestionsResult (caller decrefs). Errors:
 * CQ_ERR_INSUFFICIENT_CONTEXT when the goal intent has no usable words,
 * CQ_ERR_INTERNAL_ERROR when the catalogue is missing. Reentrant.
 */
cq_err_t cq_align_strategy_compute(const json_t *request, int64_t now_ms, json_t **result,
                                   char *errstr, size_t errstr_size);

/* Months in a timeline text ("6 months", "1 year", "12 weeks", "90
 * days"): the first number with a unit; 0 when none is found. */
double cq_align_strategy_timeline_months(const char *timeline);

#endif
