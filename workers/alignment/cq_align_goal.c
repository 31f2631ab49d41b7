/*
 * cq_align_goal.c — measures a goal for the explanation and suggestion
 * engines by the alignment-check engine itself (so the three operations
 * never disagree on a score), then finds the words behind the scores: the
 * themes goal and foundation share, the vision words the goal misses, and
 * the core value, strategy and KPI that link least, by the measures of
 * cq_align_check.c: a value's coverage by the goal, a strategy's touch of
 * intent and foundation, a KPI's touch of intent and strategies.
 *
 * Threads: none of its own; reentrant.
 */
#include "cq_align_goal.h"

#include <math.h>
#include <string.h>

#include "cq_align_check.h"
#include "cq_align_terms.h"

json_t *cq_align_goal_check_request(const json_t *request)
{
    const json_t *goal = json_object_get(request, "goal");
    json_t *strategies = json_array(), *kpis = json_array();
    const json_t *item;
    size_t i;
    json_array_foreach(json_object_get(goal, "strategies"), i, item)
    {
        const char *d = json_string_value(json_object_get(item, "description"));
        if (d)
            json_array_append_new(strategies, json_string(d));
    }
    json_array_foreach(json_object_get(goal, "kpis"), i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (name)
            json_array_append_new(kpis, json_string(name));
    }
    const json_t *bf = json_object_get(request, "businessFoundation");
    const char *intent = json_string_value(json_object_get(goal, "intent"));
    return json_pack("{s:s, s:o, s:o, s:O}", "goalIntent", intent ? intent : "", "strategies",
                     strategies, "kpis", kpis, "businessFoundation",
                     bf ? (json_t *)bf : json_object());
}

static int cq_align_goal_int(const json_t *check, const char *a, const char *b)
{
    const json_t *v = json_object_get(check, a);
    if (b)
        v = json_object_get(v, b);
    return (int)json_integer_value(v);
}

/* The text of arr (objects' key) that touches docs least, as
 * cq_align_check.c measures a strategy or KPI; *raw receives its touch and
 * *best_text the text that touches most. */
static const char *cq_align_goal_least(const json_t *arr, const char *key,
                                       const cq_termvec_t *const *docs, const double *weights,
                                       size_t ndocs, double *raw, const char **best_text,
                                       const char **linked, size_t *nlinked, size_t max_linked)
{
    const char *low = NULL, *best = NULL;
    double low_raw = 2, best_raw = -1;
    const json_t *item;
    size_t i;
    json_array_foreach(arr, i, item)
    {
        const char *text =
            key ? json_string_value(json_object_get(item, key)) : json_string_value(item);
        if (!text)
            continue;
        cq_termvec_t *vec = cq_align_terms_vec(text);
        if (cq_termvec_total(vec) > 0) {
            /* the alignment-check "touch": a strategy or KPI carries its own
             * "how" words, so one or two strong links already count */
            double matched = 0;
            double share = cq_termvec_coverage_multi(vec, docs, weights, ndocs, &matched);
            double c = 0.5 * share + 0.5 * (1.0 - exp(-matched));
            if (linked && c >= CQ_ALIGN_GOAL_WEAK && *nlinked < max_linked)
                linked[(*nlinked)++] = text;
            if (c < low_raw) {
                low_raw = c;
                low = text;
            }
            if (c > best_raw) {
                best_raw = c;
                best = text;
            }
        }
        cq_termvec_destroy(vec);
    }
    *raw = low_raw;
    if (best_text)
        *best_text = best;
    return low;
}

/* The core values the goal reflects under CQ_ALIGN_GOAL_WEAK, weakest
 * first (ties in the foundation's order). */
static void cq_align_goal_weak_values(cq_align_goal_t *g, const json_t *values)
{
    double raws[CQ_ARRAY_SIZE(g->weak_values)];
    const json_t *item;
    size_t i;
    json_array_foreach(values, i, item)
    {
        const char *text = json_string_value(item);
        if (!text)
            continue;
        cq_termvec_t *vec = cq_align_terms_vec(text);
        double raw = cq_termvec_coverage(vec, g->goal_vec);
        bool usable = cq_termvec_total(vec) > 0;
        cq_termvec_destroy(vec);
        if (usable && raw >= CQ_ALIGN_GOAL_WEAK &&
            g->nreflected < CQ_ARRAY_SIZE(g->reflected_values))
            g->reflected_values[g->nreflected++] = text;
        if (!usable || raw >= CQ_ALIGN_GOAL_WEAK)
            continue;
        size_t at = g->nweak_values;
        while (at > 0 && raws[at - 1] > raw)
            at--;
        if (at >= CQ_ARRAY_SIZE(g->weak_values))
            continue;
        size_t last =
            g->nweak_values < CQ_ARRAY_SIZE(g->weak_values) ? g->nweak_values : g->nweak_values - 1;
        for (size_t k = last; k > at; k--) {
            g->weak_values[k] = g->weak_values[k - 1];
            raws[k] = raws[k - 1];
        }
        g->weak_values[at] = text;
        raws[at] = raw;
        if (g->nweak_values < CQ_ARRAY_SIZE(g->weak_values))
            g->nweak_values++;
    }
}

cq_err_t cq_align_goal_read(cq_align_goal_t *g, const json_t *request, char *errstr,
                            size_t errstr_size)
{
    memset(g, 0, sizeof(*g));
    json_t *check_request = cq_align_goal_check_request(request);
    cq_err_t err = cq_align_check_compute(check_request, 0, &g->check, errstr, errstr_size);
    json_decref(check_request);
    if (err != CQ_ERR_OK)
        return err;

    g->overall = cq_align_goal_int(g->check, "alignmentScore", NULL);
    g->intent = cq_align_goal_int(g->check, "componentScores", "intentAlignment");
    g->strategies = cq_align_goal_int(g->check, "componentScores", "strategyAlignment");
    g->kpis = cq_align_goal_int(g->check, "componentScores", "kpiRelevance");
    g->vision = cq_align_goal_int(g->check, "breakdown", "visionAlignment");
    g->purpose = cq_align_goal_int(g->check, "breakdown", "purposeAlignment");
    g->values = cq_align_goal_int(g->check, "breakdown", "valuesAlignment");
    const json_t *given = json_object_get(request, "alignmentScore");
    g->given = json_is_integer(given) ? (int)json_integer_value(given) : -1;

    const json_t *goal = json_object_get(request, "goal");
    const json_t *bf = json_object_get(request, "businessFoundation");
    const json_t *item;
    size_t i;
    const char *intent = json_string_value(json_object_get(goal, "intent"));
    g->intent_text = intent ? intent : "";
    g->intent_vec = cq_align_terms_vec(g->intent_text);
    g->strategies_vec = cq_termvec_new();
    json_array_foreach(json_object_get(goal, "strategies"), i, item)
    {
        const char *d = json_string_value(json_object_get(item, "description"));
        if (d) {
            cq_termvec_add_text(g->strategies_vec, d, 1.0);
            g->nstrategy++;
        }
    }
    cq_termvec_t *kpis = cq_termvec_new();
    json_array_foreach(json_object_get(goal, "kpis"), i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (name) {
            cq_termvec_add_text(kpis, name, 1.0);
            g->nkpi++;
        } else {
            g->nkpi_unnamed++;
        }
    }
    g->goal_vec = cq_termvec_new();
    cq_termvec_add_vec(g->goal_vec, g->intent_vec, 1.0);
    cq_termvec_add_vec(g->goal_vec, g->strategies_vec, 0.6);
    cq_termvec_add_vec(g->goal_vec, kpis, 0.3);

    g->vision_vec = cq_align_terms_vec(json_string_value(json_object_get(bf, "vision")));
    g->foundation_vec = cq_termvec_new();
    cq_termvec_add_vec(g->foundation_vec, g->vision_vec, 1.0);
    cq_termvec_add_text(g->foundation_vec, json_string_value(json_object_get(bf, "purpose")), 1.0);
    cq_align_terms_add_array(g->foundation_vec, json_object_get(bf, "coreValues"), 50, 1.0);
    const char *vp = json_string_value(json_object_get(bf, "valueProposition"));
    const char *market = json_string_value(json_object_get(bf, "targetMarket"));
    if (vp)
        cq_termvec_add_text(g->foundation_vec, vp, 0.8);
    if (market)
        cq_termvec_add_text(g->foundation_vec, market, 0.6);

    g->nshared = cq_termvec_shared_terms(g->goal_vec, g->foundation_vec, g->shared, 3);
    const cq_termvec_t *vision =
        cq_termvec_total(g->vision_vec) > 0 ? g->vision_vec : g->foundation_vec;
    g->nmissing = cq_termvec_missing_terms(vision, g->goal_vec, g->missing, 3);
    g->nfocus = cq_align_terms_focus_text(g->intent_text, g->intent_vec, g->focus, 2);
    if (g->nfocus)
        cq_align_terms_phrase(g->intent_text, g->focus[0], g->phrase, sizeof(g->phrase));

    double raw;
    cq_align_goal_weak_values(g, json_object_get(bf, "coreValues"));
    g->weak_value = g->nweak_values ? g->weak_values[0] : NULL;
    const cq_termvec_t *strategy_docs[] = {g->intent_vec, g->foundation_vec};
    const double strategy_weights[] = {1.0, 1.0};
    g->weak_strategy =
        cq_align_goal_least(json_object_get(goal, "strategies"), "description", strategy_docs,
                            strategy_weights, 2, &raw, &g->strong_strategy, g->linked_strategies,
                            &g->nlinked_strategies, CQ_ARRAY_SIZE(g->linked_strategies));
    if (raw >= CQ_ALIGN_GOAL_WEAK)
        g->weak_strategy = NULL;
    const cq_termvec_t *kpi_docs[] = {g->intent_vec, g->strategies_vec};
    const double kpi_weights[] = {1.0, 0.8};
    g->weak_kpi = cq_align_goal_least(json_object_get(goal, "kpis"), "name", kpi_docs, kpi_weights,
                                      2, &raw, &g->strong_kpi, g->linked_kpis, &g->nlinked_kpis,
                                      CQ_ARRAY_SIZE(g->linked_kpis));
    if (raw >= CQ_ALIGN_GOAL_WEAK)
        g->weak_kpi = NULL;
    if (g->weak_kpi && g->nfocus) {
        /* a KPI naming the goal's focus measures it, whatever else it says */
        cq_termvec_t *vec = cq_align_terms_vec(g->weak_kpi);
        if (cq_termvec_weight(vec, g->focus[0]) > 0)
            g->weak_kpi = NULL;
        cq_termvec_destroy(vec);
    }
    if (g->strong_kpi == g->weak_kpi)
        g->strong_kpi = NULL;

    /* shared KPI ids: those without a name first, as they need naming */
    for (int pass = 0; pass < 2; pass++) {
        json_array_foreach(json_object_get(goal, "kpis"), i, item)
        {
            const char *id = json_string_value(json_object_get(item, "sharedKpiId"));
            bool named = json_object_get(item, "name") != NULL;
            if (id && named == (pass == 1) && g->nkpi_ids < CQ_ARRAY_SIZE(g->kpi_ids))
                g->kpi_ids[g->nkpi_ids++] = id;
        }
    }

    /* does the goal speak to the market and build on the value proposition? */
    g->market_text = market;
    g->vp_text = vp;
    if (market) {
        cq_termvec_t *vec = cq_align_terms_vec(market);
        g->nmarket_shared = cq_termvec_shared_terms(g->goal_vec, vec, g->market_shared, 2);
        cq_termvec_destroy(vec);
    }
    if (vp) {
        cq_termvec_t *vec = cq_align_terms_vec(vp);
        g->nvp_shared = cq_termvec_shared_terms(g->goal_vec, vec, g->vp_shared, 2);
        cq_termvec_destroy(vec);
    }
    cq_termvec_destroy(kpis);
    return CQ_ERR_OK;
}

void cq_align_goal_clear(cq_align_goal_t *g)
{
    json_decref(g->check);
    cq_termvec_destroy(g->intent_vec);
    cq_termvec_destroy(g->goal_vec);
    cq_termvec_destroy(g->vision_vec);
    cq_termvec_destroy(g->foundation_vec);
    cq_termvec_destroy(g->strategies_vec);
    memset(g, 0, sizeof(*g));
}

const char *cq_align_goal_weakest(const cq_align_goal_t *g, int *score)
{
    const char *name = "goal intent";
    int s = g->intent;
    if (g->strategies < s) {
        name = "strategy alignment";
        s = g->strategies;
    }
    if (g->kpis < s) {
        name = "KPI relevance";
        s = g->kpis;
    }
    *score = s;
    return name;
}
