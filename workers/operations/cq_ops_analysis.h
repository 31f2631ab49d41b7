/*
 * cq_ops_analysis.h — built-in engine of the deprecated operations-analysis
 * (POST /analysis/operations).
 */
#ifndef CQ_OPS_ANALYSIS_H
#define CQ_OPS_ANALYSIS_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/*
 * analysisType "swot": a sentence-level SWOT of the description
 * (cq_ops_swot_build) with recommendations and priority actions that
 * pair its quadrants. "root_cause" and "action_plan": the request is mapped
 * onto a root-cause-suggestions or action-suggestions request (see
 * cq_ops_analysis_successor_request) and that engine's result is wrapped
 * in findings, as the contract says. request is an OperationsAnalysisRequest
 * (already validated); *result a new OperationsAnalysisResult (caller
 * decrefs). Errors: those of the successor engine, CQ_ERR_BAD_REQUEST for
 * an unknown analysisType, CQ_ERR_INTERNAL_ERROR for a missing data file.
 * Reentrant.
 */
cq_err_t cq_ops_analysis_compute(const json_t *request, int64_t now_ms, json_t **result,
                                 char *errstr, size_t errstr_size);

/*
 * The successor operation's request for a "root_cause" or "action_plan"
 * analysis: issue title = context.title or the description's first
 * sentence (up to 200 bytes, cut on a word), description = the first
 * 5000 bytes of the description, impact = context.businessImpact or a
 * sentence of the description that names an impact word; the other
 * context members are copied where the successor has them. New object
 * (caller decrefs), NULL for any other analysisType.
 */
json_t *cq_ops_analysis_successor_request(const json_t *request);

#endif
