/*
 * cq_align_suggestions.c — built-in engine of alignment-suggestions.
 *
 * How it decides. cq_align_goal scores the goal with the alignment-check
 * engine and finds the words behind the scores. Candidates, each attached
 * to the score of the part it improves:
 *   intent      name the vision words the goal misses (goal intent score);
 *   values      a strategy for the unreflected core values (values score);
 *   strategies  add some, or rework the least linked one (strategy score);
 *   KPIs        add one on the focus phrase, or replace the least relevant,
 *               or name the KPIs known only by id (KPI score);
 *   purpose     say how the focus serves the purpose (purpose score);
 *   market, VP  say how the goal serves the target market, ties to the
 *               value proposition, when it does not yet (intent score);
 * then two that always apply (a leading indicator, a quarterly review),
 * at score 100. Sorted by score (ties in that order), the first five are
 * kept — at least three always exist.
 *
 * Impact is measured, not asserted: the first suggestions that change the
 * goal's wording are applied to a copy of the alignment-check request (the
 * missing vision words appended to the intent, a strategy per weak value, a
 * KPI on the focus phrase) and scored again; impactAnalysis gives the score
 * before and after and the component that gained most, then what to keep
 * as it is (linked strategies, the best KPI, reflected values, the market
 * and promise the goal already speaks to) and which KPIs are shared with
 * other goals, so a change to them reaches those goals too.
 *
 * Threads: none of its own; reentrant.
 */
#include "cq_align_suggestions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_check.h"
#include "cq_align_data.h"
#include "cq_align_goal.h"
#include "cq_align_prose.h"
#include "cq_align_terms.h"

#define CQ_ALIGN_SUGGESTION_MAX 500
#define CQ_ALIGN_IMPACT_MAX     4000
#define CQ_ALIGN_SUGGESTIONS    5
#define CQ_ALIGN_CANDIDATES     14
#define CQ_ALIGN_NAMED_VALUES   3 /* unreflected values one suggestion names */

typedef struct {
    int score;
    size_t order;
    json_t *text;
} cq_align_candidate_t;

typedef struct {
    cq_align_candidate_t items[CQ_ALIGN_CANDIDATES];
    size_t n;
} cq_align_candidates_t;

static void cq_align_candidate(cq_align_candidates_t *c, int score, const char *tmpl,
                               const cq_align_var_t *vars, size_t nvars)
{
    if (c->n >= CQ_ALIGN_CANDIDATES || !tmpl[0])
        return;
    json_t *text = cq_align_fill_json(tmpl, vars, nvars, CQ_ALIGN_SUGGESTION_MAX);
    c->items[c->n] = (cq_align_candidate_t){.score = score, .order = c->n, .text = text};
    c->n++;
}

static int cq_align_candidate_cmp(const void *x, const void *y)
{
    const cq_align_candidate_t *a = x, *b = y;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* The alignment-check request with the wording changes applied; *applied
 * receives what was applied, for the impact text. */
static json_t *cq_align_improved(const json_t *request, const cq_align_goal_t *g,
                                 const json_t *impact, const cq_align_var_t *vars, size_t nvars,
                                 cq_align_prose_t *applied)
{
    json_t *check = cq_align_goal_check_request(request);
    size_t napplied = 0;
    if (g->nmissing) {
        cq_align_prose_t intent = {.buf = NULL};
        cq_align_prose_printf(&intent, "%s", g->intent_text);
        for (size_t i = 0; i < g->nmissing; i++)
            cq_align_prose_printf(&intent, " %s", g->missing[i]);
        json_t *text = cq_align_prose_take(&intent, 500);
        json_object_set_new(check, "goalIntent", text);
        cq_align_prose_fill(applied, cq_align_data_str(impact, "applied_intent"), vars, nvars);
        napplied++;
    }
    json_t *strategies = json_object_get(check, "strategies");
    json_t *kpis = json_object_get(check, "kpis");
    /* the values suggestion names up to two values: one strategy each */
    char quoted[CQ_ALIGN_NAMED_VALUES][CQ_ALIGN_QUOTE_MAX + 8];
    const char *values[CQ_ALIGN_NAMED_VALUES];
    size_t nvalues = 0;
    for (size_t i = 0;
         i < g->nweak_values && i < CQ_ALIGN_NAMED_VALUES && json_array_size(strategies) < 20;
         i++) {
        cq_align_terms_quote(g->weak_values[i], quoted[i], sizeof(quoted[i]));
        values[nvalues++] = quoted[i];
        json_array_append_new(strategies,
                              json_sprintf("Put %s into practice while pursuing %s", quoted[i],
                                           g->nfocus ? g->phrase : g->intent_text));
    }
    if (nvalues) {
        cq_align_prose_t list = {.buf = NULL};
        cq_align_prose_list(&list, values, nvalues, " and ");
        const cq_align_var_t extra[] = {{"values", list.buf}};
        cq_align_prose_printf(applied, "%s", napplied ? ", " : "");
        cq_align_prose_fill(applied, cq_align_data_str(impact, "applied_value"), extra, 1);
        cq_align_prose_clear(&list);
        napplied++;
    }
    if (g->nstrategy == 0 && g->nfocus && json_array_size(strategies) < 20) {
        json_array_append_new(strategies,
                              json_sprintf("Pursue %s in the way the vision describes", g->phrase));
        cq_align_prose_printf(applied, "%s", napplied ? ", " : "");
        cq_align_prose_fill(applied, cq_align_data_str(impact, "applied_strategy"), vars, nvars);
        napplied++;
    }
    if ((g->nkpi == 0 || g->weak_kpi) && g->nfocus && json_array_size(kpis) < 20) {
        json_array_append_new(kpis, json_string(g->phrase));
        cq_align_prose_printf(applied, "%s", napplied ? " and " : "");
        cq_align_prose_fill(applied, cq_align_data_str(impact, "applied_kpi"), vars, nvars);
    }
    return check;
}

/* Name of the component that gained most between two check results. */
static const char *cq_align_gain_part(const json_t *before, const json_t *after)
{
    static const char *const keys[][3] = {
        {"componentScores", "intentAlignment", "goal intent"},
        {"componentScores", "strategyAlignment", "strategy alignment"},
        {"componentScores", "kpiRelevance", "KPI relevance"},
        {"breakdown", "visionAlignment", "vision alignment"},
        {"breakdown", "valuesAlignment", "values alignment"},
    };
    const char *best = keys[0][2];
    json_int_t best_gain = -1000;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(keys); i++) {
        json_int_t gain =
            json_integer_value(json_object_get(json_object_get(after, keys[i][0]), keys[i][1])) -
            json_integer_value(json_object_get(json_object_get(before, keys[i][0]), keys[i][1]));
        if (gain > best_gain) {
            best_gain = gain;
            best = keys[i][2];
        }
    }
    return best;
}

/* Appends what already works (the linked strategies and KPIs, the reflected
 * values, the market and promise the goal speaks to), so it is not
 * reworked by mistake, and the shared KPIs whose change reaches other
 * goals. */
static void cq_align_keep(const cq_align_goal_t *g, const json_t *impact, cq_align_prose_t *p)
{
    const char *sources[3 + CQ_ARRAY_SIZE(g->linked_strategies) + CQ_ARRAY_SIZE(g->linked_kpis) +
                        CQ_ARRAY_SIZE(g->reflected_values)];
    size_t n = 0;
    for (size_t i = 0; i < g->nlinked_strategies; i++)
        sources[n++] = g->linked_strategies[i];
    for (size_t i = 0; i < g->nlinked_kpis; i++)
        if (g->linked_kpis[i] != g->weak_kpi)
            sources[n++] = g->linked_kpis[i];
    if (!g->nlinked_kpis && g->strong_kpi)
        sources[n++] = g->strong_kpi;
    for (size_t i = 0; i < g->nreflected; i++)
        sources[n++] = g->reflected_values[i];
    if (g->market_text && g->nmarket_shared)
        sources[n++] = g->market_text;
    if (g->vp_text && g->nvp_shared)
        sources[n++] = g->vp_text;
    char quoted[CQ_ARRAY_SIZE(sources)][CQ_ALIGN_QUOTE_MAX + 8];
    const char *texts[CQ_ARRAY_SIZE(sources)];
    for (size_t i = 0; i < n; i++) {
        cq_align_terms_quote(sources[i], quoted[i], sizeof(quoted[i]));
        texts[i] = quoted[i];
    }
    if (n) {
        cq_align_prose_t keep = {.buf = NULL};
        cq_align_prose_list(&keep, texts, n, " and ");
        const cq_align_var_t vars[] = {{"keep", keep.buf}};
        cq_align_prose_fill(p, cq_align_data_str(impact, "keep"), vars, 1);
        cq_align_prose_clear(&keep);
    }
    size_t named = g->nkpi_ids - (g->nkpi_unnamed < g->nkpi_ids ? g->nkpi_unnamed : g->nkpi_ids);
    if (named) {
        cq_align_prose_t ids = {.buf = NULL};
        cq_align_prose_list(&ids, g->kpi_ids + (g->nkpi_ids - named), named, " and ");
        const cq_align_var_t vars[] = {{"ids", ids.buf}};
        cq_align_prose_fill(p, cq_align_data_str(impact, "shared_kpis"), vars, 1);
        cq_align_prose_clear(&ids);
    }
}

cq_err_t cq_align_suggestions_compute(const json_t *request, int64_t now_ms, json_t **result,
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

    const json_t *sg = json_object_get(text, "suggestions");
    const json_t *bf = json_object_get(request, "businessFoundation");
    char intent[CQ_ALIGN_QUOTE_MAX + 8], strategy[CQ_ALIGN_QUOTE_MAX + 8];
    char kpi[CQ_ALIGN_QUOTE_MAX + 8], purpose[CQ_ALIGN_QUOTE_MAX + 8], count[24];
    cq_align_terms_quote(g.intent_text, intent, sizeof(intent));
    cq_align_terms_quote(g.weak_strategy, strategy, sizeof(strategy));
    cq_align_terms_quote(g.weak_kpi, kpi, sizeof(kpi));
    cq_align_terms_quote(json_string_value(json_object_get(bf, "purpose")), purpose,
                         sizeof(purpose));
    snprintf(count, sizeof(count), "%zu", g.nkpi_unnamed);
    cq_align_prose_t shared = {.buf = NULL}, missing = {.buf = NULL};
    if (g.nshared)
        cq_align_prose_list(&shared, g.shared, g.nshared, " and ");
    else
        cq_align_prose_printf(&shared, "the vision");
    cq_align_prose_list(&missing, g.missing, g.nmissing, " and ");
    cq_align_prose_t ids = {.buf = NULL};
    cq_align_prose_list(&ids, g.kpi_ids, g.nkpi_unnamed < g.nkpi_ids ? g.nkpi_unnamed : g.nkpi_ids,
                        " and ");
    char market[CQ_ALIGN_QUOTE_MAX + 8], vp[CQ_ALIGN_QUOTE_MAX + 8];
    cq_align_terms_quote(g.market_text, market, sizeof(market));
    cq_align_terms_quote(g.vp_text, vp, sizeof(vp));
    const char *focus = g.phrase[0] ? g.phrase : g.nfocus ? g.focus[0] : intent;
    const cq_align_var_t vars[] = {
        {"intent", intent},
        {"strategy", strategy},
        {"kpi", kpi},
        {"purpose", purpose},
        {"count", count},
        {"shared", shared.buf},
        {"missing", missing.buf},
        {"focus", focus},
        {"ids", ids.buf},
        {"market", market},
        {"vp", vp},
    };
    const size_t nvars = CQ_ARRAY_SIZE(vars);

    cq_align_candidates_t c = {.n = 0};
    if (g.nmissing)
        cq_align_candidate(&c, g.intent, cq_align_data_str(sg, "intent_missing"), vars, nvars);
    if (g.nweak_values) {
        /* one suggestion for the unreflected values, naming up to three */
        char quoted[CQ_ALIGN_NAMED_VALUES][CQ_ALIGN_QUOTE_MAX + 8];
        const char *values[CQ_ALIGN_NAMED_VALUES];
        size_t nvalues =
            g.nweak_values < CQ_ALIGN_NAMED_VALUES ? g.nweak_values : CQ_ALIGN_NAMED_VALUES;
        for (size_t i = 0; i < nvalues; i++) {
            cq_align_terms_quote(g.weak_values[i], quoted[i], sizeof(quoted[i]));
            values[i] = quoted[i];
        }
        cq_align_prose_t list = {.buf = NULL};
        cq_align_prose_list(&list, values, nvalues, " and ");
        cq_align_var_t with_values[CQ_ARRAY_SIZE(vars) + 1];
        memcpy(with_values, vars, sizeof(vars));
        with_values[nvars] = (cq_align_var_t){"values", list.buf};
        cq_align_candidate(&c, g.values, cq_align_data_str(sg, nvalues > 1 ? "values" : "value"),
                           with_values, nvars + 1);
        cq_align_prose_clear(&list);
    }
    if (g.nstrategy == 0)
        cq_align_candidate(&c, g.strategies, cq_align_data_str(sg, "no_strategies"), vars, nvars);
    else if (g.weak_strategy)
        cq_align_candidate(&c, g.strategies, cq_align_data_str(sg, "strategy"), vars, nvars);
    if (g.nkpi == 0)
        cq_align_candidate(&c, g.kpis, cq_align_data_str(sg, "no_kpis"), vars, nvars);
    else if (g.weak_kpi)
        cq_align_candidate(&c, g.kpis, cq_align_data_str(sg, "kpi"), vars, nvars);
    if (g.nkpi_unnamed)
        cq_align_candidate(&c, g.kpis, cq_align_data_str(sg, "unnamed"), vars, nvars);
    if (purpose[0])
        cq_align_candidate(&c, g.purpose, cq_align_data_str(sg, "purpose"), vars, nvars);
    /* the audience and the promise: scored like the intent, as they are
     * fixed in its wording */
    if (g.market_text && !g.nmarket_shared)
        cq_align_candidate(&c, g.intent, cq_align_data_str(sg, "market"), vars, nvars);
    if (g.vp_text && !g.nvp_shared)
        cq_align_candidate(&c, g.intent, cq_align_data_str(sg, "vp"), vars, nvars);
    cq_align_candidate(&c, 100, cq_align_data_str(sg, "leading"), vars, nvars);
    cq_align_candidate(&c, 100, cq_align_data_str(sg, "review"), vars, nvars);
    qsort(c.items, c.n, sizeof(c.items[0]), cq_align_candidate_cmp);

    json_t *suggestions = json_array();
    for (size_t i = 0; i < c.n; i++) {
        if (json_array_size(suggestions) < CQ_ALIGN_SUGGESTIONS &&
            json_string_length(c.items[i].text))
            json_array_append(suggestions, c.items[i].text);
        json_decref(c.items[i].text);
    }

    /* Measured impact. */
    const json_t *impact = json_object_get(text, "impact");
    cq_align_prose_t applied = {.buf = NULL};
    json_t *improved_request = cq_align_improved(request, &g, impact, vars, nvars, &applied);
    json_t *improved = NULL;
    char ignored[128];
    int projected = g.overall;
    if (cq_align_check_compute(improved_request, 0, &improved, ignored, sizeof(ignored)) ==
        CQ_ERR_OK)
        projected = (int)json_integer_value(json_object_get(improved, "alignmentScore"));
    int weakest_score;
    const char *weakest = cq_align_goal_weakest(&g, &weakest_score);
    char overall[16], projected_s[16], gain[16], weakest_s[16];
    snprintf(overall, sizeof(overall), "%d", g.overall);
    snprintf(projected_s, sizeof(projected_s), "%d", projected);
    snprintf(gain, sizeof(gain), "%d", projected - g.overall);
    snprintf(weakest_s, sizeof(weakest_s), "%d", weakest_score);
    if (!applied.buf)
        cq_align_prose_printf(&applied, "%s", cq_align_data_str(impact, "applied_none"));
    const cq_align_var_t impact_vars[] = {
        {"overall", overall},
        {"projected", projected_s},
        {"gain", gain},
        {"weakest", weakest},
        {"weakest_score", weakest_s},
        {"applied", applied.buf},
        {"gain_part", improved ? cq_align_gain_part(g.check, improved) : weakest},
    };
    cq_align_prose_t analysis_text = {.buf = NULL};
    cq_align_prose_fill(&analysis_text,
                        cq_align_data_str(impact, projected > g.overall ? "gain" : "flat"),
                        impact_vars, CQ_ARRAY_SIZE(impact_vars));
    cq_align_keep(&g, impact, &analysis_text);
    json_t *analysis = cq_align_prose_take(&analysis_text, CQ_ALIGN_IMPACT_MAX);

    *result = json_pack("{s:o, s:o}", "suggestions", suggestions, "impactAnalysis", analysis);
    json_decref(improved);
    json_decref(improved_request);
    cq_align_prose_clear(&applied);
    cq_align_prose_clear(&ids);
    cq_align_prose_clear(&shared);
    cq_align_prose_clear(&missing);
    cq_align_goal_clear(&g);
    if (!*result) {
        cq_errstr_set(errstr, errstr_size, "could not build the alignment-suggestions result");
        return CQ_ERR_INTERNAL_ERROR;
    }
    return CQ_ERR_OK;
}
