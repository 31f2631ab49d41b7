/*
 * cq_bd_insights.h — the built-in insights engine: documented rules over
 * the business data (workers/business_data/data/insights.json) produce the
 * contract's Insight items, and a page of them (InsightsGenerateResult).
 */
#ifndef CQ_BD_INSIGHTS_H
#define CQ_BD_INSIGHTS_H

#include <jansson.h>

#include "cq_common.h"

#define CQ_BD_INSIGHTS_DATA "workers/business_data/data/insights.json"

/* Compiled rules; read-only once built, so any thread may generate. */
typedef struct cq_bd_insights_s cq_bd_insights_t;

/* Compiles the rules document (borrowed; see insights.json for its form):
 * NULL and errstr on an unknown metric or op, levels out of order for their
 * op, a category, priority or level outside the contract's enums, texts
 * that could exceed the contract's lengths, more than 5 actions, an unknown
 * period. Caller destroys. */
cq_bd_insights_t *cq_bd_insights_new(const json_t *rules, char *errstr, size_t errstr_size);
/* The same from the built-in CQ_BD_INSIGHTS_DATA. */
cq_bd_insights_t *cq_bd_insights_new_builtin(char *errstr, size_t errstr_size);
void cq_bd_insights_destroy(cq_bd_insights_t *insights);

/* The insights the rules find in business_data (a BusinessDataResult) for
 * tenant_id at now_ms, as a new array of Insight objects (status "active",
 * createdAt now_ms), highest priority first, then in rule order. A rule
 * whose metric is absent (its section missing, or undefined: a churn rate
 * with no customers at the start, actions per goal with no active goal)
 * does not fire. An insight's id is "ins-" + 16 hex digits of a hash of
 * tenant, rule and period (UTC month or day of now_ms): regenerating in
 * the same period gives the same id. Pure; any thread. */
json_t *cq_bd_insights_generate(const cq_bd_insights_t *insights, const char *tenant_id,
                                const json_t *business_data, int64_t now_ms);

/* A page of items (an array of Insight) for request (an
 * InsightsGenerateRequest: page default 1, pageSize default 20, optional
 * category and priority filters) as a new InsightsGenerateResult. A page
 * past the end has no items. Pure; any thread. */
json_t *cq_bd_insights_page(const json_t *items, const json_t *request);

/* The id of the insight of rule for tenant_id at now_ms in the given
 * period ("month" or "day") into out (21 bytes). */
void cq_bd_insights_id(const char *tenant_id, const char *rule, const char *period, int64_t now_ms,
                       char out[21]);

#endif
