/*
 * cq_align_kpi.h — the built-in engine of kpi-recommendations
 * (POST /coaching/kpi-recommendations).
 */
#ifndef CQ_ALIGN_KPI_H
#define CQ_ALIGN_KPI_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/*
 * Recommends KPIs for a goal from the KPI catalogue (data/kpis.json): by
 * goal type and keyword match with the goal and its strategies, without
 * the KPIs the business already tracks, with the leading/lagging mix the
 * preferences ask for and benchmarks for the business's industry when the
 * catalogue has them. request is a KpiRecommendationsRequest; every
 * optional field may be absent. now_ms is unused. On success *result is a
 * new KpiRecommendationsResult (caller decrefs). Errors:
 * CQ_ERR_INSUFFICIENT_CONTEXT when the goal intent has no usable words or
 * every catalogue KPI is already tracked, CQ_ERR_INTERNAL_ERROR when the
 * catalogue is missing. Reentrant.
 */
cq_err_t cq_align_kpi_compute(const json_t *request, int64_t now_ms, json_t **result, char *errstr,
                              size_t errstr_size);

#endif
