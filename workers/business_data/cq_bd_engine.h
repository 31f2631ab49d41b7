/*
 * cq_bd_engine.h — the engines of business-data and insights-generate: the
 * upstream sources of a job fetched in parallel, aggregated, cached per
 * tenant, and (insights) turned into stored insights.
 */
#ifndef CQ_BD_ENGINE_H
#define CQ_BD_ENGINE_H

#include "cq_engine.h"

/* .start of business-data. */
void cq_bd_engine_business_data(cq_engine_ctx_t *ctx, const json_t *request);
/* .start of insights-generate. */
void cq_bd_engine_insights(cq_engine_ctx_t *ctx, const json_t *request);

#endif
