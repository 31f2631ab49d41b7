/*
 * cq_align_kpi.c — built-in engine of kpi-recommendations.
 *
 * How it decides. The goal is classified into goal types (cq_align_goaltype:
 * intent 1.0, strategies with their categories 0.6). Every KPI of
 * data/kpis.json scores
 *   the strength of its best goal type (best type = 1)
 *   + 0.8 * min(2, keyword weight the intent (1.0) and strategies (0.8) earn),
 * so that a KPI needs its own keywords in the goal to beat its type peers.
 * KPIs the business already tracks are left out (a current KPI covering
 * half of a catalogue KPI's name, or the name covering half of it), and
 * so are kinds the preferences exclude (leading or lagging; both false
 * means no preference). The best are kept: three (if they score at all),
 * then those scoring at least half the best, at most five; when both kinds
 * are wanted and one is missing, the best KPI of that kind replaces the
 * last pick. The business's industry (industry and business type against
 * data/industries.json) selects the benchmark; a KPI without one for that
 * industry gets the cross-industry figure, labelled so. Descriptions name
 * the goal's focus phrase; rationales quote the goal and the strategy the
 * KPI follows (the one sharing most of its keywords) with its category.
 * The reasoning says how the goal was read, the leading/lagging mix, where
 * the benchmarks come from, the KPIs already tracked and the strategies no
 * recommended KPI follows.
 *
 * Threads: none of its own; reentrant (the data is read-only).
 */
#include "cq_align_kpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_data.h"
#include "cq_align_goaltype.h"
#include "cq_align_industry.h"
#include "cq_align_prose.h"
#include "cq_align_terms.h"

#define CQ_ALIGN_KPI_CATALOGUE 64
#define CQ_ALIGN_KPI_PICK      5
#define CQ_ALIGN_KPI_MIN       3
#define CQ_ALIGN_KPI_ITEMS     50

typedef struct {
    const json_t *kpi;
    cq_termvec_t *keywords;
    double score;
    bool leading, tracked, excluded;
    size_t order;
} cq_align_kpi_item_t;

typedef struct {
    const json_t *catalogue, *request, *context, *prefs;
    cq_termvec_t *intent, *strategies;
    cq_termvec_t *strategy[CQ_ALIGN_KPI_ITEMS], *current[CQ_ALIGN_KPI_ITEMS];
    size_t nstrategy, ncurrent;
    cq_align_goaltypes_t types;
    cq_align_kpi_item_t items[CQ_ALIGN_KPI_CATALOGUE];
    size_t nitems, ntracked;
    const char *industry_id, *industry_label;
    bool want_leading, want_lagging;
    const char *focus;
    char phrase[CQ_ALIGN_PHRASE_MAX], intent_quote[CQ_ALIGN_QUOTE_MAX + 16];
} cq_align_kpi_t;

static void cq_align_kpi_free(cq_align_kpi_t *k)
{
    cq_termvec_destroy(k->intent);
    cq_termvec_destroy(k->strategies);
    for (size_t i = 0; i < k->nstrategy; i++)
        cq_termvec_destroy(k->strategy[i]);
    for (size_t i = 0; i < k->ncurrent; i++)
        cq_termvec_destroy(k->current[i]);
    for (size_t i = 0; i < k->nitems; i++)
        cq_termvec_destroy(k->items[i].keywords);
}

static void cq_align_kpi_read(cq_align_kpi_t *k, const json_t *request)
{
    k->request = request;
    k->context = json_object_get(request, "businessContext");
    k->prefs = json_object_get(request, "preferences");
    const char *intent = cq_align_data_str(request, "goalIntent");
    k->intent = cq_align_terms_vec(intent);
    k->strategies = cq_termvec_new();
    const json_t *s;
    size_t i;
    json_array_foreach(json_object_get(request, "strategies"), i, s)
    {
        if (k->nstrategy >= CQ_ALIGN_KPI_ITEMS)
            break;
        cq_termvec_t *vec = cq_align_terms_vec(cq_align_data_str(s, "description"));
        cq_termvec_add_text(vec, cq_align_data_str(s, "category"), 1.0);
        cq_termvec_add_vec(k->strategies, vec, 1.0);
        k->strategy[k->nstrategy++] = vec;
    }
    const json_t *current = json_object_get(k->context, "currentKPIs");
    for (i = 0; i < json_array_size(current) && k->ncurrent < CQ_ALIGN_KPI_ITEMS; i++)
        k->current[k->ncurrent++] =
            cq_align_terms_vec(json_string_value(json_array_get(current, i)));

    /* both false is read as "no preference", not "nothing" */
    bool leading = json_is_true(json_object_get(k->prefs, "leadingIndicators"));
    bool lagging = json_is_true(json_object_get(k->prefs, "laggingIndicators"));
    bool prefs = k->prefs && (leading || lagging);
    k->want_leading = prefs ? leading : true;
    k->want_lagging = prefs ? lagging : true;

    const char *focus[1];
    if (cq_align_terms_focus_text(intent, k->intent, focus, 1)) {
        cq_align_terms_phrase(intent, focus[0], k->phrase, sizeof(k->phrase));
        k->focus = k->phrase[0] ? k->phrase : focus[0];
    }
    char quote[CQ_ALIGN_QUOTE_MAX + 8];
    cq_align_terms_quote(intent, quote, sizeof(quote));
    snprintf(k->intent_quote, sizeof(k->intent_quote), "\u201c%s\u201d", quote);
    if (!k->focus)
        k->focus = quote[0] ? k->intent_quote : "the goal";
}

static void cq_align_kpi_industry(cq_align_kpi_t *k)
{
    char text[512];
    snprintf(text, sizeof(text), "%s %s", cq_align_data_str(k->context, "industry"),
             cq_align_data_str(k->context, "businessType"));
    const json_t *ind = cq_align_industry_match(text);
    k->industry_id = ind ? cq_align_data_str(ind, "id") : NULL;
    k->industry_label = ind ? cq_align_data_str(ind, "label")
                            : cq_align_data_str(cq_align_industry_default(), "label");
}

static void cq_align_kpi_score(cq_align_kpi_t *k)
{
    const cq_termvec_t *docs[] = {k->intent, k->strategies};
    const double weights[] = {1.0, 0.8};
    const json_t *kpi;
    size_t i;
    json_array_foreach(json_object_get(k->catalogue, "kpis"), i, kpi)
    {
        if (k->nitems >= CQ_ALIGN_KPI_CATALOGUE)
            break;
        cq_align_kpi_item_t *it = &k->items[k->nitems];
        *it = (cq_align_kpi_item_t){.kpi = kpi, .order = k->nitems};
        it->keywords = cq_align_terms_vec(cq_align_data_str(kpi, "keywords"));
        it->leading = json_is_true(json_object_get(kpi, "isLeading"));
        double type = 0;
        const json_t *id;
        size_t t;
        json_array_foreach(json_object_get(kpi, "goalTypes"), t, id)
        {
            double s = cq_align_goaltype_strength(&k->types, json_string_value(id));
            if (s > type)
                type = s;
        }
        double matched = 0;
        cq_termvec_coverage_multi(it->keywords, docs, weights, 2, &matched);
        it->score = 1.0 * type + 0.8 * (matched < 2 ? matched : 2);

        cq_termvec_t *name = cq_align_terms_vec(cq_align_data_str(kpi, "name"));
        for (size_t c = 0; c < k->ncurrent && !it->tracked; c++) {
            it->tracked = cq_termvec_total(k->current[c]) > 0 &&
                          (cq_termvec_coverage(k->current[c], name) >= 0.5 ||
                           cq_termvec_coverage(name, k->current[c]) >= 0.5);
        }
        cq_termvec_destroy(name);
        k->ntracked += it->tracked;
        it->excluded = it->tracked || (it->leading ? !k->want_leading : !k->want_lagging);
        k->nitems++;
    }
}

static int cq_align_kpi_cmp(const void *x, const void *y)
{
    const cq_align_kpi_item_t *a = x, *b = y;
    if (a->excluded != b->excluded)
        return a->excluded ? 1 : -1;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Picks indexes into k->items (sorted); returns how many. */
static size_t cq_align_kpi_pick(const cq_align_kpi_t *k, size_t *pick)
{
    size_t n = 0;
    double best = k->nitems ? k->items[0].score : 0;
    for (size_t i = 0; i < k->nitems && n < CQ_ALIGN_KPI_PICK; i++) {
        const cq_align_kpi_item_t *it = &k->items[i];
        if (it->excluded || !(it->score > 0) || (n >= CQ_ALIGN_KPI_MIN && it->score < 0.5 * best))
            break;
        pick[n++] = i;
    }
    if (n >= 2 && k->want_leading && k->want_lagging) {
        bool has[2] = {false, false};
        for (size_t i = 0; i < n; i++)
            has[k->items[pick[i]].leading] = true;
        for (int kind = 0; kind < 2; kind++) {
            if (has[kind])
                continue;
            for (size_t i = n; i < k->nitems; i++) {
                if (!k->items[i].excluded && k->items[i].leading == (bool)kind &&
                    k->items[i].score > 0) {
                    pick[n - 1] = i;
                    break;
                }
            }
        }
    }
    return n;
}

static json_t *cq_align_kpi_item(const cq_align_kpi_t *k, const cq_align_kpi_item_t *it)
{
    const json_t *kpi = it->kpi, *text = json_object_get(k->catalogue, "text");
    /* the strategy the KPI follows: the one covering most of its keywords */
    int best = -1;
    double best_cov = 0;
    for (size_t i = 0; i < k->nstrategy; i++) {
        double c = cq_termvec_coverage(it->keywords, k->strategy[i]);
        if (c > best_cov) {
            best_cov = c;
            best = (int)i;
        }
    }
    char strategy[CQ_ALIGN_QUOTE_MAX + 8] = "";
    if (best >= 0)
        cq_align_terms_quote(
            cq_align_data_str(
                json_array_get(json_object_get(k->request, "strategies"), (size_t)best),
                "description"),
            strategy, sizeof(strategy));
    char category[CQ_ALIGN_QUOTE_MAX + 32] = "";
    const char *cat =
        best >= 0 ? json_string_value(json_object_get(
                        json_array_get(json_object_get(k->request, "strategies"), (size_t)best),
                        "category"))
                  : NULL;
    if (cat) {
        char quote[CQ_ALIGN_QUOTE_MAX + 8];
        cq_align_terms_quote(cat, quote, sizeof(quote));
        snprintf(category, sizeof(category), " (%s)", quote);
    }
    const cq_align_var_t vars[] = {
        {"definition", cq_align_data_str(kpi, "definition")},
        {"angle", cq_align_data_str(kpi, "angle")},
        {"focus", k->focus},
        {"intent", NULL},
        {"strategy", strategy},
        {"category", category},
    };
    /* the templates quote {intent} themselves */
    char intent[CQ_ALIGN_QUOTE_MAX + 8];
    cq_align_terms_quote(cq_align_data_str(k->request, "goalIntent"), intent, sizeof(intent));
    cq_align_var_t v[CQ_ARRAY_SIZE(vars)];
    memcpy(v, vars, sizeof(vars));
    v[3].value = intent;
    const size_t nv = CQ_ARRAY_SIZE(v);

    cq_align_prose_t rationale = {.buf = NULL};
    cq_align_prose_fill(
        &rationale, cq_align_data_str(text, best >= 0 ? "rationale_strategy" : "rationale_goal"), v,
        nv);
    cq_align_prose_fill(
        &rationale,
        cq_align_data_str(text, it->leading ? "rationale_leading" : "rationale_lagging"), v, nv);

    const json_t *benchmarks = json_object_get(kpi, "benchmarks");
    const json_t *bench = k->industry_id ? json_object_get(benchmarks, k->industry_id) : NULL;
    const char *industry =
        bench ? k->industry_label : cq_align_data_str(cq_align_industry_default(), "label");
    if (!bench)
        bench = json_object_get(benchmarks, "default");
    const char *typical = json_string_value(json_array_get(bench, 0));
    const char *excellent = json_string_value(json_array_get(bench, 1));

    return json_pack(
        "{s:s, s:o, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:s, s:s}, s:b, s:s, s:s, s:s}", "name",
        cq_align_data_str(kpi, "name"), "description",
        cq_align_fill_json(cq_align_data_str(text, "description"), v, nv, 2000), "category",
        cq_align_data_str(kpi, "category"), "unit", cq_align_data_str(kpi, "unit"), "direction",
        cq_align_data_str(kpi, "direction"), "formula", cq_align_data_str(kpi, "formula"),
        "rationale", cq_align_prose_take(&rationale, 2000), "benchmark", "industry", industry,
        "typical", typical ? typical : "not known", "excellent",
        excellent ? excellent : "not known", "isLeading", it->leading, "frequency",
        cq_align_data_str(kpi, "frequency"), "difficulty", cq_align_data_str(kpi, "difficulty"),
        "dataSource", cq_align_data_str(kpi, "dataSource"));
}

static json_t *cq_align_kpi_reasoning(const cq_align_kpi_t *k, size_t count, size_t leading)
{
    const json_t *text = json_object_get(k->catalogue, "text");
    const cq_align_goaltype_t *top = k->types.n ? &k->types.types[0] : NULL;
    bool typed = top && top->matched > 0;
    const char *words[4];
    size_t nwords = typed ? cq_align_goaltype_words(top, k->intent, words, 4) : 0;
    if (typed && nwords == 0)
        nwords = cq_align_goaltype_words(top, k->strategies, words, 4);
    cq_align_prose_t matched = {.buf = NULL}, mix = {.buf = NULL}, industry = {.buf = NULL};
    cq_align_prose_list(&matched, words, nwords, " and ");
    char count_s[24], leading_s[24], lagging_s[24];
    snprintf(count_s, sizeof(count_s), "%zu", count);
    snprintf(leading_s, sizeof(leading_s), "%zu", leading);
    snprintf(lagging_s, sizeof(lagging_s), "%zu", count - leading);
    const cq_align_var_t parts[] = {
        {"leading", leading_s},
        {"lagging", lagging_s},
        {"industry", k->industry_label},
    };
    cq_align_prose_fill(&mix, cq_align_data_str(text, "mix"), parts, CQ_ARRAY_SIZE(parts));
    if (k->industry_id)
        cq_align_prose_fill(&industry, cq_align_data_str(text, "industry"), parts,
                            CQ_ARRAY_SIZE(parts));
    const cq_align_var_t vars[] = {
        {"intent", k->intent_quote},
        {"type", typed ? top->label : k->types.fallback_label},
        {"matched", matched.buf},
        {"count", count_s},
        {"mix", mix.buf},
        {"industry", industry.buf},
        {"focus", k->focus},
    };
    cq_align_prose_t p = {.buf = NULL};
    cq_align_prose_fill(&p, cq_align_data_str(text, typed ? "reasoning" : "untyped"), vars,
                        CQ_ARRAY_SIZE(vars));
    /* the templates leave the full stop to the last part */
    cq_align_prose_printf(&p, ".");
    cq_align_prose_clear(&matched);
    cq_align_prose_clear(&mix);
    cq_align_prose_clear(&industry);
    return cq_align_prose_take(&p, 4000);
}

/* Quotes up to max strings of arr (only those with keep[i], when keep is
 * not NULL) as a list into p. Returns how many. */
static size_t cq_align_kpi_list(cq_align_prose_t *p, const json_t *arr, const char *key,
                                const bool *keep, size_t max)
{
    char quoted[3][CQ_ALIGN_QUOTE_MAX + 8];
    const char *items[3];
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(arr) && n < max && n < 3; i++) {
        const json_t *item = json_array_get(arr, i);
        const char *s =
            key ? json_string_value(json_object_get(item, key)) : json_string_value(item);
        if (!s || (keep && !keep[i]))
            continue;
        cq_align_terms_quote(s, quoted[n], sizeof(quoted[n]));
        items[n] = quoted[n];
        n++;
    }
    cq_align_prose_list(p, items, n, " and ");
    return n;
}

/* The reasoning, then how the picks meet the context: where the
 * benchmarks come from, the KPIs already tracked, the strategies no
 * recommended KPI follows. */
static json_t *cq_align_kpi_explain(const cq_align_kpi_t *k, const size_t *pick, size_t n,
                                    size_t leading)
{
    const json_t *text = json_object_get(k->catalogue, "text");
    json_t *reasoning = cq_align_kpi_reasoning(k, n, leading);
    cq_align_prose_t p = {.buf = NULL}, list = {.buf = NULL};
    cq_align_prose_printf(&p, "%s", json_string_value(reasoning));
    json_decref(reasoning);
    char from[2 * CQ_ALIGN_QUOTE_MAX + 32] = "";
    const char *industry = json_string_value(json_object_get(k->context, "industry"));
    const char *type = json_string_value(json_object_get(k->context, "businessType"));
    if (industry || type) {
        char a[CQ_ALIGN_QUOTE_MAX + 8] = "", b[CQ_ALIGN_QUOTE_MAX + 8] = "";
        cq_align_terms_quote(industry, a, sizeof(a));
        cq_align_terms_quote(type, b, sizeof(b));
        snprintf(from, sizeof(from), "\u201c%s%s%s\u201d", a, a[0] && b[0] ? ", " : "", b);
        const cq_align_var_t vars[] = {{"from", from},
                                       {"industry", k->industry_id ? k->industry_label : NULL}};
        cq_align_prose_fill(
            &p, cq_align_data_str(text, k->industry_id ? "industry_from" : "industry_unknown"),
            vars, 2);
    }
    const json_t *current = json_object_get(k->context, "currentKPIs");
    if (cq_align_kpi_list(&list, current, NULL, NULL, 3)) {
        const cq_align_var_t vars[] = {{"current", list.buf}};
        cq_align_prose_fill(&p, cq_align_data_str(text, "current"), vars, 1);
    }
    cq_align_prose_clear(&list);
    bool unfollowed[CQ_ALIGN_KPI_ITEMS] = {false};
    size_t nunfollowed = 0;
    for (size_t i = 0; i < k->nstrategy; i++) {
        bool followed = false;
        for (size_t j = 0; j < n && !followed; j++)
            followed = cq_termvec_coverage(k->items[pick[j]].keywords, k->strategy[i]) > 0;
        unfollowed[i] = !followed && cq_termvec_total(k->strategy[i]) > 0;
        nunfollowed += unfollowed[i];
    }
    if (nunfollowed && cq_align_kpi_list(&list, json_object_get(k->request, "strategies"),
                                         "description", unfollowed, 3)) {
        const cq_align_var_t vars[] = {{"strategies", list.buf}};
        cq_align_prose_fill(&p, cq_align_data_str(text, "unfollowed"), vars, 1);
    }
    cq_align_prose_clear(&list);
    return cq_align_prose_take(&p, 4000);
}

cq_err_t cq_align_kpi_compute(const json_t *request, int64_t now_ms, json_t **result, char *errstr,
                              size_t errstr_size)
{
    CQ_UNUSED(now_ms);
    *result = NULL;
    cq_err_t err = CQ_ERR_OK;
    cq_align_kpi_t *k = cq_calloc(1, sizeof(*k));
    k->catalogue = cq_align_data("kpis");
    if (!k->catalogue || !cq_align_data("goal_types")) {
        cq_errstr_set(errstr, errstr_size, "KPI catalogue data is missing");
        err = CQ_ERR_INTERNAL_ERROR;
        goto free_k;
    }
    cq_align_kpi_read(k, request);
    if (!(cq_termvec_total(k->intent) > 0)) {
        cq_errstr_set(errstr, errstr_size, "the goal intent has no usable words");
        err = CQ_ERR_INSUFFICIENT_CONTEXT;
        goto free_k;
    }
    const cq_termvec_t *docs[] = {k->intent, k->strategies};
    const double weights[] = {1.0, 0.6};
    cq_align_goaltype_classify(docs, weights, 2, &k->types);
    cq_align_kpi_industry(k);
    cq_align_kpi_score(k);
    qsort(k->items, k->nitems, sizeof(k->items[0]), cq_align_kpi_cmp);

    size_t pick[CQ_ALIGN_KPI_PICK];
    size_t n = cq_align_kpi_pick(k, pick), leading = 0;
    if (n == 0) {
        cq_errstr_set(errstr, errstr_size,
                      "every catalogue KPI of the wanted kind is already tracked");
        err = CQ_ERR_INSUFFICIENT_CONTEXT;
        goto free_k;
    }
    json_t *recommendations = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(recommendations, cq_align_kpi_item(k, &k->items[pick[i]]));
        leading += k->items[pick[i]].leading;
    }
    const cq_align_goaltype_t *top = k->types.n ? &k->types.types[0] : NULL;
    double clarity = top ? fmin(1.0, top->matched / 2.0) : 0;
    double confidence = 0.3 + 0.4 * clarity + (k->industry_id ? 0.1 : 0) + (k->nstrategy ? 0.1 : 0);
    confidence = round(fmin(0.9, confidence) * 100) / 100;
    *result = json_pack("{s:o, s:f, s:o}", "recommendations", recommendations, "confidence",
                        confidence, "reasoning", cq_align_kpi_explain(k, pick, n, leading));
    if (!*result) {
        cq_errstr_set(errstr, errstr_size, "could not build the kpi-recommendations result");
        err = CQ_ERR_INTERNAL_ERROR;
    }
free_k:
    cq_align_kpi_free(k);
    free(k);
    return err;
}
