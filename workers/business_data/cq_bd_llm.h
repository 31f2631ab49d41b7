/*
 * cq_bd_llm.h — the LLM path of insights-generate, its pure parts: what the
 * model reads (the prompt's input: the request's paging and filters, the
 * tenant's business data and the prompt-only context sources), and the
 * model's checked answer turned into insights the worker stores.
 */
#ifndef CQ_BD_LLM_H
#define CQ_BD_LLM_H

#include <jansson.h>

#include "cq_bd_upstream.h"

/* The input of the insights-generate prompts
 * (workers/business_data/prompts/insights-generate.*.txt) as a new object:
 * page, pageSize, category, priority of request (absent when not given),
 * businessData (a BusinessDataResult, borrowed, copied without "cached")
 * and, when any prompt-only source answered (replies indexed by
 * cq_bd_source_id_t, may be NULL), context {foundation {vision, purpose,
 * coreValues, targetMarket, valueProposition: those given}, people
 * {headCount}, measures {onTrack, offTrack}}. Pure. */
json_t *cq_bd_llm_input(const json_t *request, const json_t *business_data,
                        const cq_bd_reply_t *replies);

/* The items of the model's answer (an InsightsGenerateResult, checked) as
 * the service stores them, a new array: each item's id is the service's
 * ("ins-" + a hash of tenant, "llm:" + category + title, and the UTC month
 * of now_ms, so the same finding regenerated in the month keeps its id and
 * stored status), createdAt now_ms, status "active"; a second item with the
 * same id is dropped; ordered by priority (critical first), the model's
 * order kept within one. Pure. */
json_t *cq_bd_llm_items(const json_t *answer, const char *tenant_id, int64_t now_ms);

#endif
