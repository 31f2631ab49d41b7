/*
 * cq_align_check.h — the built-in (model-free) engine of the
 * alignment-check operation (POST /coaching/alignment-check).
 */
#ifndef CQ_ALIGN_CHECK_H
#define CQ_ALIGN_CHECK_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/* Items of each request array that are read; the rest is ignored. */
#define CQ_ALIGN_CHECK_ITEMS_MAX 50

/*
 * Scores how well a goal fits the business foundation, deterministically
 * and without a model. request is the operation's request body
 * ({goalIntent, strategies[], kpis[], businessFoundation{vision, purpose,
 * coreValues[], targetMarket?, valueProposition?}}); missing or mistyped
 * optional parts are treated as absent. now_ms (ms since the epoch) becomes
 * lastUpdated; everything else in the result depends on request only.
 *
 * On success *result is a new AlignmentCheckResult object (caller decrefs).
 * Errors: CQ_ERR_BAD_REQUEST when request is not an object,
 * CQ_ERR_INSUFFICIENT_CONTEXT when the foundation or the goal intent has no
 * usable words; errstr says why. Reentrant; any thread.
 */
cq_err_t cq_align_check_compute(const json_t *request, int64_t now_ms, json_t **result,
                                char *errstr, size_t errstr_size);

/* Whether a stem is one of the verbs that open goal statements
 * ("grow", "launch", "double", ...): they say what to do with a goal's main
 * term, they are not it. The other alignment engines pick focus terms with
 * it. Any thread. */
bool cq_align_check_is_opening_verb(const char *stem);

/* cq_align_check_compute with the wall clock: the worker's built-in
 * function for the operation. */
cq_err_t cq_align_check_builtin(const json_t *request, json_t **result, char *errstr,
                                size_t errstr_size);

#endif
