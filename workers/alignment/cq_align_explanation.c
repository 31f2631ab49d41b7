/*
 * cq_align_explanation.c — built-in engine of alignment-explanation.
 *
 * How it decides. The goal is scored by the alignment-check engine
 * (cq_align_goal, so the explanation never contradicts a check of the same
 * goal) and the words behind the scores are found: shared themes, vision
 * words the goal misses, the reflected and unreflected core values, the
 * best and the least linked strategy and KPI, whether the goal speaks to
 * the target market and builds on the value proposition, shared KPI ids.
 * Three paragraphs follow from those measures, worded by
 * data/alignment_text.json:
 *   1. verdict: level word by overall score, the earlier score if given,
 *      shared themes, the foundation part reflected most, market and
 *      value proposition;
 *   2. components: intent, strategies, KPIs; the weakest and why; KPIs
 *      known only by id;
 *   3. what to take up: missing vision words and the unreflected value.
 * keyFactors are the shared themes, the strongest part, the linked
 * strategy, reflected values, the market link, KPIs shared across goals
 * and the components scoring 60 or more; improvementAreas the components
 * under 60, the missing words, unreflected values, the unlinked strategy
 * and KPI, KPIs known only by id, an unaddressed market or value
 * proposition. Every paragraph quotes the goal or the foundation, so two
 * different goals get different answers.
 *
 * Threads: none of its own; reentrant (the data is read-only).
 */
#include "cq_align_explanation.h"

#include <stdio.h>
#include <string.h>

#include "cq_align_data.h"
#include "cq_align_goal.h"
#include "cq_align_prose.h"
#include "cq_align_terms.h"

#define CQ_ALIGN_EXPLANATION_MAX 6000
#define CQ_ALIGN_FACTOR_MAX      500
#define CQ_ALIGN_FACTORS         10
#define CQ_ALIGN_GOOD            60

static const char *cq_align_level(const json_t *text, int score)
{
    const json_t *level;
    size_t i;
    json_array_foreach(json_object_get(text, "levels"), i, level)
    {
        if (score >= json_integer_value(json_object_get(level, "min")))
            return cq_align_data_str(level, "word");
    }
    return "";
}

/* The foundation part the goal reflects most: its label and score. */
static const char *cq_align_best_part(const json_t *text, const cq_align_goal_t *g, int *score)
{
    const json_t *parts = json_object_get(text, "parts");
    const char *key = "vision";
    *score = g->vision;
    if (g->purpose > *score) {
        key = "purpose";
        *score = g->purpose;
    }
    if (g->values > *score) {
        key = "values";
        *score = g->values;
    }
    return cq_align_data_str(parts, key);
}

/* The reason the weakest component is weak, filled (caller decrefs). */
static json_t *cq_align_why(const json_t *text, const cq_align_goal_t *g, const char *weakest,
                            const cq_align_var_t *vars, size_t nvars)
{
    char key[64];
    bool none = (strcmp(weakest, "strategy alignment") == 0 && g->nstrategy == 0) ||
                (strcmp(weakest, "KPI relevance") == 0 && g->nkpi == 0);
    snprintf(key, sizeof(key), "%s%s", weakest, none ? " none" : "");
    return cq_align_fill_json(cq_align_data_str(json_object_get(text, "why"), key), vars, nvars,
                              CQ_ALIGN_FACTOR_MAX);
}

/* Appends a filled template to arr unless it is full; vars are the
 * caller's plus extra (term, part, score, component). */
static void cq_align_add_item(json_t *arr, const char *tmpl, const cq_align_var_t *vars,
                              size_t nvars, const cq_align_var_t *extra, size_t nextra)
{
    if (json_array_size(arr) >= CQ_ALIGN_FACTORS)
        return;
    cq_align_prose_t p = {.buf = NULL};
    cq_align_var_t all[32];
    size_t n = 0;
    for (size_t i = 0; i < nextra && n < CQ_ARRAY_SIZE(all); i++)
        all[n++] = extra[i];
    for (size_t i = 0; i < nvars && n < CQ_ARRAY_SIZE(all); i++)
        all[n++] = vars[i];
    cq_align_prose_fill(&p, tmpl, all, n);
    json_t *s = cq_align_prose_take(&p, CQ_ALIGN_FACTOR_MAX);
    if (json_string_length(s) > 0)
        json_array_append_new(arr, s);
    else
        json_decref(s);
}

typedef struct {
    const char *name;
    int score;
} cq_align_component_t;

static void cq_align_factors(const json_t *text, const json_t *request, const cq_align_goal_t *g,
                             const cq_align_var_t *vars, size_t nvars, const char *best_part,
                             int best_score, json_t *factors)
{
    const json_t *kf = json_object_get(text, "keyFactors");
    char score[16];
    for (size_t i = 0; i < g->nshared && i < 2; i++) {
        const cq_align_var_t extra[] = {{"term", g->shared[i]}};
        cq_align_add_item(factors, cq_align_data_str(kf, "shared"), vars, nvars, extra, 1);
    }
    if (best_score > 0) {
        snprintf(score, sizeof(score), "%d", best_score);
        const cq_align_var_t extra[] = {{"part", best_part}, {"score", score}};
        cq_align_add_item(factors, cq_align_data_str(kf, "part"), vars, nvars, extra, 2);
    }
    if (g->strong_strategy && g->strong_strategy != g->weak_strategy)
        cq_align_add_item(factors, cq_align_data_str(kf, "strong_strategy"), vars, nvars, NULL, 0);
    for (size_t i = 0; i < g->nreflected && i < 2; i++) {
        char value[CQ_ALIGN_QUOTE_MAX + 8];
        cq_align_terms_quote(g->reflected_values[i], value, sizeof(value));
        const cq_align_var_t extra[] = {{"value", value}};
        cq_align_add_item(factors, cq_align_data_str(kf, "value"), vars, nvars, extra, 1);
    }
    if (g->nmarket_shared)
        cq_align_add_item(factors, cq_align_data_str(kf, "market"), vars, nvars, NULL, 0);
    /* named KPIs that are shared across goals */
    const json_t *item;
    size_t k;
    json_array_foreach(json_object_get(json_object_get(request, "goal"), "kpis"), k, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *id = json_string_value(json_object_get(item, "sharedKpiId"));
        if (!name || !id)
            continue;
        char kpi[CQ_ALIGN_QUOTE_MAX + 8], idq[CQ_ALIGN_QUOTE_MAX + 8];
        cq_align_terms_quote(name, kpi, sizeof(kpi));
        cq_align_terms_quote(id, idq, sizeof(idq));
        const cq_align_var_t extra[] = {{"kpi", kpi}, {"id", idq}};
        cq_align_add_item(factors, cq_align_data_str(kf, "shared_kpi"), vars, nvars, extra, 2);
    }
    const cq_align_component_t comps[] = {{"Goal intent", g->intent},
                                          {"Strategy alignment", g->strategies},
                                          {"KPI relevance", g->kpis}};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(comps); i++) {
        if (comps[i].score < CQ_ALIGN_GOOD)
            continue;
        snprintf(score, sizeof(score), "%d", comps[i].score);
        const cq_align_var_t extra[] = {{"component", comps[i].name}, {"score", score}};
        cq_align_add_item(factors, cq_align_data_str(kf, "component"), vars, nvars, extra, 2);
    }
}

static void cq_align_areas(const json_t *text, const cq_align_goal_t *g, const cq_align_var_t *vars,
                           size_t nvars, json_t *areas)
{
    const json_t *ia = json_object_get(text, "improvementAreas");
    const char *const keys[] = {"goal intent", "strategy alignment", "KPI relevance"};
    const char *const names[] = {"Goal intent", "Strategy alignment", "KPI relevance"};
    const int scores[] = {g->intent, g->strategies, g->kpis};
    char score[16];
    for (size_t i = 0; i < CQ_ARRAY_SIZE(keys); i++) {
        if (scores[i] >= CQ_ALIGN_GOOD)
            continue;
        json_t *why = cq_align_why(text, g, keys[i], vars, nvars);
        snprintf(score, sizeof(score), "%d", scores[i]);
        const cq_align_var_t extra[] = {
            {"component", names[i]}, {"score", score}, {"why", json_string_value(why)}};
        cq_align_add_item(areas, cq_align_data_str(ia, "weak_component"), vars, nvars, extra, 3);
        json_decref(why);
    }
    for (size_t i = 0; i < g->nmissing; i++) {
        const cq_align_var_t extra[] = {{"term", g->missing[i]}};
        cq_align_add_item(areas, cq_align_data_str(ia, "missing"), vars, nvars, extra, 1);
    }
    for (size_t i = 0; i < g->nweak_values; i++) {
        char value[CQ_ALIGN_QUOTE_MAX + 8];
        cq_align_terms_quote(g->weak_values[i], value, sizeof(value));
        const cq_align_var_t extra[] = {{"value", value}};
        cq_align_add_item(areas, cq_align_data_str(ia, "value"), vars, nvars, extra, 1);
    }
    if (g->weak_strategy)
        cq_align_add_item(areas, cq_align_data_str(ia, "strategy"), vars, nvars, NULL, 0);
    if (g->weak_kpi)
        cq_align_add_item(areas, cq_align_data_str(ia, "kpi"), vars, nvars, NULL, 0);
    if (g->nkpi_unnamed)
        cq_align_add_item(areas, cq_align_data_str(ia, "unnamed"), vars, nvars, NULL, 0);
    if (g->market_text && !g->nmarket_shared)
        cq_align_add_item(areas, cq_align_data_str(ia, "market"), vars, nvars, NULL, 0);
    if (g->vp_text && !g->nvp_shared)
        cq_align_add_item(areas, cq_align_data_str(ia, "vp"), vars, nvars, NULL, 0);
}

cq_err_t cq_align_explanation_compute(const json_t *request, int64_t now_ms, json_t **result,
                                      char *errstr, size_t errstr_size)
{
    CQ_UNUSED(now_ms);
    *result = NULL;
    const json_t *text = cq_align_data("alignment_text");
    if (!text) {
        cq_errstr_set(errstr, errstr_size, "alignment wording data is missing");
        return CQ_ERR_INTERNAL_ERROR;
    }
    cq_align_goal_t g;
    cq_err_t err = cq_align_goal_read(&g, request, errstr, errstr_size);
    if (err != CQ_ERR_OK)
        return err;

    const json_t *ex = json_object_get(text, "explanation");
    char intent[CQ_ALIGN_QUOTE_MAX + 8], strategy[CQ_ALIGN_QUOTE_MAX + 8];
    char value[CQ_ALIGN_QUOTE_MAX + 8], weak_strategy[CQ_ALIGN_QUOTE_MAX + 8];
    char kpi[CQ_ALIGN_QUOTE_MAX + 8];
    char overall[16], given[16], best_score_s[16], intent_s[16], strategy_s[16], kpi_s[16];
    char weakest_s[16], count[24];
    cq_align_terms_quote(g.intent_text, intent, sizeof(intent));
    cq_align_terms_quote(g.strong_strategy, strategy, sizeof(strategy));
    cq_align_terms_quote(g.weak_value, value, sizeof(value));
    cq_align_terms_quote(g.weak_strategy, weak_strategy, sizeof(weak_strategy));
    cq_align_terms_quote(g.weak_kpi, kpi, sizeof(kpi));
    int best_score, weakest_score;
    const char *best_part = cq_align_best_part(text, &g, &best_score);
    const char *weakest = cq_align_goal_weakest(&g, &weakest_score);
    snprintf(overall, sizeof(overall), "%d", g.overall);
    snprintf(given, sizeof(given), "%d", g.given);
    snprintf(best_score_s, sizeof(best_score_s), "%d", best_score);
    snprintf(intent_s, sizeof(intent_s), "%d", g.intent);
    snprintf(strategy_s, sizeof(strategy_s), "%d", g.strategies);
    snprintf(kpi_s, sizeof(kpi_s), "%d", g.kpis);
    snprintf(weakest_s, sizeof(weakest_s), "%d", weakest_score);
    snprintf(count, sizeof(count), "%zu", g.nkpi_unnamed);

    cq_align_prose_t shared = {.buf = NULL}, missing = {.buf = NULL};
    cq_align_prose_t market_shared = {.buf = NULL}, vp_shared = {.buf = NULL}, ids = {.buf = NULL};
    cq_align_prose_list(&shared, g.shared, g.nshared, " and ");
    cq_align_prose_list(&missing, g.missing, g.nmissing, " and ");
    cq_align_prose_list(&market_shared, g.market_shared, g.nmarket_shared, " and ");
    cq_align_prose_list(&vp_shared, g.vp_shared, g.nvp_shared, " and ");
    cq_align_prose_list(&ids, g.kpi_ids, g.nkpi_unnamed < g.nkpi_ids ? g.nkpi_unnamed : g.nkpi_ids,
                        " and ");
    char market[CQ_ALIGN_QUOTE_MAX + 8], vp[CQ_ALIGN_QUOTE_MAX + 8];
    cq_align_terms_quote(g.market_text, market, sizeof(market));
    cq_align_terms_quote(g.vp_text, vp, sizeof(vp));
    const char *focus = g.phrase[0] ? g.phrase : g.nfocus ? g.focus[0] : intent;
    cq_align_var_t vars[] = {
        {"why", NULL}, /* filled below, from the others */
        {"intent", intent},
        {"level", cq_align_level(text, g.overall)},
        {"overall", overall},
        {"given", given},
        {"shared", shared.buf},
        {"best_part", best_part},
        {"best_score", best_score_s},
        {"intent_score", intent_s},
        {"strategy_score", strategy_s},
        {"kpi_score", kpi_s},
        {"weakest", weakest},
        {"weakest_score", weakest_s},
        {"count", count},
        {"missing", missing.buf},
        {"value", value},
        {"focus", focus},
        {"kpi", kpi},
        {"market", market},
        {"vp", vp},
        {"market_shared", market_shared.buf},
        {"vp_shared", vp_shared.buf},
        {"ids", ids.buf},
        {"strategy", strategy},
    };
    const size_t nvars = CQ_ARRAY_SIZE(vars);
    json_t *why = cq_align_why(text, &g, weakest, vars, nvars);
    vars[0].value = json_string_value(why);

    /* The explanation: verdict, components, what to take up. */
    cq_align_prose_t p = {.buf = NULL};
    cq_align_prose_fill(&p, cq_align_data_str(ex, "opening"), vars, nvars);
    if (g.given >= 0)
        cq_align_prose_fill(
            &p, cq_align_data_str(ex, g.given == g.overall ? "given_same" : "given_differs"), vars,
            nvars);
    cq_align_prose_fill(&p, cq_align_data_str(ex, g.nshared ? "shared" : "no_shared"), vars, nvars);
    if (g.market_text)
        cq_align_prose_fill(
            &p, cq_align_data_str(ex, g.nmarket_shared ? "market_yes" : "market_no"), vars, nvars);
    if (g.vp_text)
        cq_align_prose_fill(&p, cq_align_data_str(ex, g.nvp_shared ? "vp_yes" : "vp_no"), vars,
                            nvars);
    cq_align_prose_printf(&p, "\n\n");
    cq_align_prose_fill(&p, cq_align_data_str(ex, "components"), vars, nvars);
    cq_align_prose_fill(&p, cq_align_data_str(ex, weakest_score >= 70 ? "solid" : "weakest"), vars,
                        nvars);
    if (g.strong_strategy && g.nstrategy > 1)
        cq_align_prose_fill(&p, cq_align_data_str(ex, "strong_strategy"), vars, nvars);
    if (g.nkpi_unnamed)
        cq_align_prose_fill(&p, cq_align_data_str(ex, "unnamed_kpis"), vars, nvars);
    cq_align_prose_printf(&p, "\n\n");
    if (g.nmissing)
        cq_align_prose_fill(&p, cq_align_data_str(ex, "closing_missing"), vars, nvars);
    if (g.weak_value)
        cq_align_prose_fill(&p, cq_align_data_str(ex, "closing_value"), vars, nvars);
    if (!g.nmissing && !g.weak_value)
        cq_align_prose_fill(&p, cq_align_data_str(ex, "closing_fine"), vars, nvars);
    json_t *explanation = cq_align_prose_take(&p, CQ_ALIGN_EXPLANATION_MAX);

    json_t *factors = json_array(), *areas = json_array();
    cq_align_factors(text, request, &g, vars, nvars, best_part, best_score, factors);
    /* weak strategy: quote it under the name the template uses */
    for (size_t i = 0; i < nvars; i++)
        if (strcmp(vars[i].key, "strategy") == 0)
            vars[i].value = weak_strategy;
    cq_align_areas(text, &g, vars, nvars, areas);

    *result = json_pack("{s:o, s:o, s:o}", "explanation", explanation, "keyFactors", factors,
                        "improvementAreas", areas);
    json_decref(why);
    cq_align_prose_clear(&shared);
    cq_align_prose_clear(&missing);
    cq_align_prose_clear(&market_shared);
    cq_align_prose_clear(&vp_shared);
    cq_align_prose_clear(&ids);
    cq_align_goal_clear(&g);
    if (!*result) {
        cq_errstr_set(errstr, errstr_size, "could not build the alignment-explanation result");
        return CQ_ERR_INTERNAL_ERROR;
    }
    return CQ_ERR_OK;
}
