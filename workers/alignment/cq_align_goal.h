/*
 * cq_align_goal.h — what the alignment-explanation and
 * alignment-suggestions engines know about a goal ({goal{intent,
 * strategies[{description}], kpis[{sharedKpiId?, name?}]},
 * businessFoundation, alignmentScore?}): the alignment-check scores of it
 * and the words behind them.
 */
#ifndef CQ_ALIGN_GOAL_H
#define CQ_ALIGN_GOAL_H

#include <jansson.h>

#include "cq_err.h"
#include "cq_termvec.h"

/* Under this an item (strategy, KPI, core value) counts as not linked. */
#define CQ_ALIGN_GOAL_WEAK 0.35

typedef struct {
    json_t *check; /* alignment-check result of the goal (owned) */
    int overall, intent, strategies, kpis, vision, purpose, values;
    int given; /* the request's alignmentScore, -1 when absent */
    const char *intent_text;
    size_t nstrategy, nkpi, nkpi_unnamed; /* KPIs with a name; KPIs known by id only */
    cq_termvec_t *intent_vec, *goal_vec, *vision_vec, *foundation_vec, *strategies_vec;
    const char *shared[3]; /* themes goal and foundation share */
    size_t nshared;
    const char *missing[3]; /* vision (else foundation) words the goal misses */
    size_t nmissing;
    const char *focus[2]; /* the intent's focus terms */
    size_t nfocus;
    char phrase[96]; /* the phrase around focus[0] ("" without focus) */
    /* Texts of the request (borrowed) that link least, NULL when every one
     * reaches CQ_ALIGN_GOAL_WEAK; strong_strategy links best. */
    const char *weak_value, *weak_strategy, *weak_kpi, *strong_strategy;
    const char *strong_kpi;
    const char *linked_kpis[3]; /* KPIs reaching CQ_ALIGN_GOAL_WEAK, in order */
    size_t nlinked_kpis;
    const char *linked_strategies[3]; /* strategies reaching CQ_ALIGN_GOAL_WEAK, in order */
    size_t nlinked_strategies;
    const char *weak_values[5]; /* every unreflected core value, weakest first */
    size_t nweak_values;
    const char *reflected_values[5]; /* core values the goal reflects, in order */
    size_t nreflected;
    /* Target market and value proposition (NULL when absent) and the goal
     * words they share with the goal. */
    const char *market_text, *vp_text;
    const char *market_shared[2], *vp_shared[2];
    size_t nmarket_shared, nvp_shared;
    /* sharedKpiId of every KPI; those of KPIs without a name first */
    const char *kpi_ids[5];
    size_t nkpi_ids;
} cq_align_goal_t;

/*
 * Reads and measures a goal request into g (zeroed by the call). Strings
 * point into request, which must outlive g. Errors as alignment-check
 * (CQ_ERR_INSUFFICIENT_CONTEXT when intent or foundation has no usable
 * words). On failure g needs no clearing.
 */
cq_err_t cq_align_goal_read(cq_align_goal_t *g, const json_t *request, char *errstr,
                            size_t errstr_size);
/* Frees what cq_align_goal_read allocated. */
void cq_align_goal_clear(cq_align_goal_t *g);

/* The alignment-check request of a goal request: goalIntent, strategy
 * descriptions, KPI names (KPIs known only by id are left out) and the
 * foundation. New reference. */
json_t *cq_align_goal_check_request(const json_t *request);

/* Name of the weakest of the three goal components ("goal intent",
 * "strategy alignment", "KPI relevance") and its score. */
const char *cq_align_goal_weakest(const cq_align_goal_t *g, int *score);

#endif
