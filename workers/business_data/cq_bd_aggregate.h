/*
 * cq_bd_aggregate.h — the business-data result (the contract's
 * BusinessDataResult) from validated upstream replies.
 */
#ifndef CQ_BD_AGGREGATE_H
#define CQ_BD_AGGREGATE_H

#include <jansson.h>

#include "cq_bd_upstream.h"

/* Revenue changes smaller than this, in percent either way, are "flat". */
#define CQ_BD_TREND_FLAT_PERCENT 0.5

/* Builds the BusinessDataResult of tenant_id from replies (CQ_BD_SRC_COUNT
 * entries indexed by source id; any may be MISSING or UNAVAILABLE) at
 * now_ms (generatedAt), with cached false.
 *
 * A section is present only when every reply it is computed from is OK:
 *   revenue    account.revenue    current, previous; trend and
 *              changePercent = 100 * (current - previous) / previous,
 *              2 decimals. previous == 0: the percent is undefined, so the
 *              section is absent (unless current is 0 too: flat, 0).
 *   customers  account.customers  total, new, churned; retentionRate =
 *              100 * (start - churned) / start with start = total - new +
 *              churned (customers at the start of the period), 2 decimals;
 *              100 when start is 0 (nobody could be lost).
 *   team       account.team       size, utilization; satisfaction
 *              normalised from its stated scale to 0-100, 2 decimals.
 *   operations traction.goals + traction.actions + traction.issues:
 *              activeGoals, completedActions, openIssues.
 * An OK account.profile naming another tenant than tenant_id drops every
 * Account section (the reply was not for this tenant).
 * sources.account is "ok" when at least one Account section is present,
 * else "unavailable"; sources.traction likewise for operations. ("stale" is
 * the cache's to set.) Nothing is ever filled with a default or zero.
 *
 * When notes is not NULL it receives a new array of {"section", "reason"}
 * for each absent section (for logs and metrics; caller decrefs).
 * Returns a new reference. Pure; any thread. */
json_t *cq_bd_aggregate(const char *tenant_id, const cq_bd_reply_t *replies, int64_t now_ms,
                        json_t **notes);

/* The figures of an OK reply an LLM prompt may use besides the result
 * (foundation, people total, measures on/off track), as a new object of
 * the present ones: {"foundation": {...}, "people": {"total"},
 * "measures": {"onTrack", "offTrack"}}. Pure; any thread. */
json_t *cq_bd_prompt_context(const cq_bd_reply_t *replies);

#endif
