/*
 * cq_align_strategy.c — built-in engine of strategy-suggestions.
 *
 * How it decides. The goal is classified into goal types
 * (cq_align_goaltype: intent 1.0, challenges 0.6, industry, business type
 * and target market 0.3, vision and purpose 0.3). Every pattern of
 * data/strategies.json is then scored:
 *   2.0 * the strength of its best goal type (best type = 1)
 *   + 0.5 * min(2, keyword weight the intent and context earn)
 *   - 0.5 when its usual minimum duration exceeds the timeline
 *   - 0.7 when its usual cost exceeds the budget (0.3 if the budget is 0
 *     and it costs anything).
 * A pattern is left out when an existing strategy names one of its core
 * words or covers a third of its keywords (it would repeat it). The best
 * patterns are kept: every one scoring at least half the best, at most
 * five, at least three. Each is written from its templates with the goal's
 * focus phrase, quoted intent, target market and industry; notes are
 * appended for the current challenge and core value it serves best (any
 * keyword overlap), the timeline and the budget; given resources that
 * overlap it are listed as required. The reasoning says how the goal was
 * read and then how the picks meet the context: each challenge taken up or
 * left open, the pick closest to the vision and purpose, core values no
 * pick serves, the existing strategies (skipped patterns or kept clear
 * of), the constraints.
 * Confidence grows with how clearly the goal type matched and with how
 * much context was given (0.25..0.9).
 *
 * Threads: none of its own; reentrant (the data is read-only).
 */
#include "cq_align_strategy.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_data.h"
#include "cq_align_goaltype.h"
#include "cq_align_prose.h"
#include "cq_align_terms.h"

#define CQ_ALIGN_STRATEGY_PATTERNS 64
#define CQ_ALIGN_STRATEGY_MIN      3
#define CQ_ALIGN_STRATEGY_MAX      5
#define CQ_ALIGN_STRATEGY_ITEMS    20
#define CQ_ALIGN_REPEAT            0.34

typedef struct {
    const json_t *pattern;
    cq_termvec_t *keywords;
    double score;
    bool repeats;
    size_t order;
} cq_align_pattern_t;

typedef struct {
    const json_t *request, *context, *constraints, *catalogue;
    cq_termvec_t *intent, *context_vec, *vision;
    cq_termvec_t *challenge[CQ_ALIGN_STRATEGY_ITEMS], *value[CQ_ALIGN_STRATEGY_ITEMS];
    cq_termvec_t *resource[CQ_ALIGN_STRATEGY_ITEMS], *existing[CQ_ALIGN_STRATEGY_ITEMS];
    size_t nchallenge, nvalue, nresource, nexisting;
    cq_align_goaltypes_t types;
    cq_align_pattern_t patterns[CQ_ALIGN_STRATEGY_PATTERNS];
    size_t npatterns;
    double timeline_months, budget;
    bool has_budget;
    const char *focus; /* the focus phrase, or NULL */
    char phrase[CQ_ALIGN_PHRASE_MAX];
    char intent_quote[CQ_ALIGN_QUOTE_MAX + 8], market[CQ_ALIGN_QUOTE_MAX + 8];
    char industry[CQ_ALIGN_QUOTE_MAX + 8];
} cq_align_strategy_t;

double cq_align_strategy_timeline_months(const char *timeline)
{
    const char *s = timeline ? timeline : "";
    while (*s) {
        if (!isdigit((unsigned char)*s)) {
            s++;
            continue;
        }
        char *end;
        double n = strtod(s, &end);
        while (*end == ' ' || *end == '-')
            end++;
        char unit[8] = "";
        for (size_t i = 0; i + 1 < sizeof(unit) && isalpha((unsigned char)end[i]); i++)
            unit[i] = (char)tolower((unsigned char)end[i]);
        if (strncmp(unit, "month", 5) == 0 || strcmp(unit, "mo") == 0)
            return n;
        if (strncmp(unit, "year", 4) == 0 || strcmp(unit, "yr") == 0)
            return n * 12;
        if (strncmp(unit, "week", 4) == 0 || strcmp(unit, "wk") == 0)
            return n / 4.345;
        if (strncmp(unit, "day", 3) == 0)
            return n / 30.4;
        s = end;
    }
    return 0;
}

static size_t cq_align_vecs(const json_t *arr, cq_termvec_t **out)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(arr) && n < CQ_ALIGN_STRATEGY_ITEMS; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        out[n++] = cq_align_terms_vec(s);
    }
    return n;
}

static void cq_align_strategy_free(cq_align_strategy_t *st)
{
    cq_termvec_destroy(st->intent);
    cq_termvec_destroy(st->context_vec);
    cq_termvec_destroy(st->vision);
    for (size_t i = 0; i < st->nchallenge; i++)
        cq_termvec_destroy(st->challenge[i]);
    for (size_t i = 0; i < st->nvalue; i++)
        cq_termvec_destroy(st->value[i]);
    for (size_t i = 0; i < st->nresource; i++)
        cq_termvec_destroy(st->resource[i]);
    for (size_t i = 0; i < st->nexisting; i++)
        cq_termvec_destroy(st->existing[i]);
    for (size_t i = 0; i < st->npatterns; i++)
        cq_termvec_destroy(st->patterns[i].keywords);
}

static void cq_align_strategy_read(cq_align_strategy_t *st, const json_t *request)
{
    const json_t *ctx = json_object_get(request, "businessContext");
    st->request = request;
    st->context = ctx;
    st->constraints = json_object_get(request, "constraints");
    const char *intent = cq_align_data_str(request, "goalIntent");
    st->intent = cq_align_terms_vec(intent);
    st->context_vec = cq_termvec_new();
    cq_align_terms_add_array(st->context_vec, json_object_get(ctx, "currentChallenges"),
                             CQ_ALIGN_STRATEGY_ITEMS, 0.6);
    cq_termvec_add_text(st->context_vec, cq_align_data_str(ctx, "targetMarket"), 0.3);
    cq_termvec_add_text(st->context_vec, cq_align_data_str(ctx, "businessType"), 0.3);
    cq_termvec_add_text(st->context_vec, cq_align_data_str(ctx, "industry"), 0.3);
    st->vision = cq_align_terms_vec(cq_align_data_str(ctx, "vision"));
    cq_termvec_add_text(st->vision, cq_align_data_str(ctx, "purpose"), 1.0);
    st->nchallenge = cq_align_vecs(json_object_get(ctx, "currentChallenges"), st->challenge);
    st->nvalue = cq_align_vecs(json_object_get(ctx, "coreValues"), st->value);
    st->nresource = cq_align_vecs(json_object_get(st->constraints, "resources"), st->resource);
    st->nexisting = cq_align_vecs(json_object_get(request, "existingStrategies"), st->existing);

    const json_t *budget = json_object_get(st->constraints, "budget");
    st->has_budget = json_is_number(budget);
    st->budget = json_number_value(budget);
    st->timeline_months =
        cq_align_strategy_timeline_months(cq_align_data_str(st->constraints, "timeline"));

    const char *focus[1];
    if (cq_align_terms_focus_text(intent, st->intent, focus, 1)) {
        cq_align_terms_phrase(intent, focus[0], st->phrase, sizeof(st->phrase));
        st->focus = st->phrase[0] ? st->phrase : focus[0];
    }
    cq_align_terms_quote(intent, st->intent_quote, sizeof(st->intent_quote));
    const json_t *defaults = json_object_get(st->catalogue, "defaults");
    const char *market = cq_align_data_str(ctx, "targetMarket");
    const char *industry = cq_align_data_str(ctx, "industry");
    if (!industry[0])
        industry = cq_align_data_str(ctx, "businessType");
    cq_align_terms_quote(market[0] ? market : cq_align_data_str(defaults, "market"), st->market,
                         sizeof(st->market));
    cq_align_terms_quote(industry[0] ? industry : cq_align_data_str(defaults, "industry"),
                         st->industry, sizeof(st->industry));
}

/* Whether an existing strategy already does what the pattern suggests: it
 * names one of the pattern's core words, or covers a third of its
 * keywords. */
static bool cq_align_pattern_repeats(const json_t *pattern, const cq_termvec_t *keywords,
                                     const cq_termvec_t *existing)
{
    const json_t *word;
    size_t i;
    json_array_foreach(json_object_get(pattern, "core"), i, word)
    {
        if (cq_termvec_weight(existing, json_string_value(word)) > 0)
            return true;
    }
    return cq_termvec_coverage(keywords, existing) >= CQ_ALIGN_REPEAT;
}

static void cq_align_strategy_score(cq_align_strategy_t *st)
{
    const cq_termvec_t *docs[] = {st->intent, st->context_vec};
    const double weights[] = {1.0, 1.0};
    const json_t *pattern;
    size_t i;
    json_array_foreach(json_object_get(st->catalogue, "patterns"), i, pattern)
    {
        if (st->npatterns >= CQ_ALIGN_STRATEGY_PATTERNS)
            break;
        cq_align_pattern_t *p = &st->patterns[st->npatterns];
        *p = (cq_align_pattern_t){.pattern = pattern, .order = st->npatterns};
        p->keywords = cq_align_terms_vec(cq_align_data_str(pattern, "keywords"));
        double type = 0;
        const json_t *id;
        size_t k;
        json_array_foreach(json_object_get(pattern, "goalTypes"), k, id)
        {
            double s = cq_align_goaltype_strength(&st->types, json_string_value(id));
            if (s > type)
                type = s;
        }
        double matched = 0;
        cq_termvec_coverage_multi(p->keywords, docs, weights, 2, &matched);
        p->score = 2.0 * type + 0.5 * (matched < 2 ? matched : 2);
        const json_t *months = json_object_get(pattern, "months");
        double min_months = json_number_value(json_array_get(months, 0));
        double cost = json_number_value(json_object_get(pattern, "cost"));
        if (st->timeline_months > 0 && min_months > st->timeline_months)
            p->score -= 0.5;
        if (st->has_budget && cost > st->budget)
            p->score -= st->budget > 0 ? 0.7 : 0.3;
        for (size_t e = 0; e < st->nexisting && !p->repeats; e++)
            p->repeats = cq_align_pattern_repeats(pattern, p->keywords, st->existing[e]);
        st->npatterns++;
    }
}

/* What a pattern is about: its keywords and description words. Caller
 * destroys. */
static cq_termvec_t *cq_align_pattern_about(const json_t *pattern)
{
    cq_termvec_t *about = cq_align_terms_vec(cq_align_data_str(pattern, "keywords"));
    cq_termvec_add_text(about, cq_align_data_str(pattern, "description"), 0.5);
    return about;
}

static int cq_align_pattern_cmp(const void *x, const void *y)
{
    const cq_align_pattern_t *a = x, *b = y;
    if (a->repeats != b->repeats)
        return a->repeats ? 1 : -1;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Index of the text of arr whose vector overlaps vec most, or -1. */
static int cq_align_best_overlap(cq_termvec_t *const *vecs, size_t n, const cq_termvec_t *vec)
{
    int best = -1;
    double best_cov = 0;
    for (size_t i = 0; i < n; i++) {
        double c = cq_termvec_coverage(vecs[i], vec);
        if (c > best_cov) {
            best_cov = c;
            best = (int)i;
        }
    }
    return best;
}

static const char *cq_align_level_up(const char *level)
{
    return strcmp(level, "low") == 0 ? "medium" : "high";
}

static json_t *cq_align_strategy_item(const cq_align_strategy_t *st, const cq_align_pattern_t *p)
{
    const json_t *pattern = p->pattern;
    const json_t *notes = json_object_get(st->catalogue, "notes");
    const json_t *ctx = st->context;
    char timeline[CQ_ALIGN_QUOTE_MAX + 8], cost_s[32], budget_s[32],
        challenge[CQ_ALIGN_QUOTE_MAX + 8];
    char value[CQ_ALIGN_QUOTE_MAX + 8];
    double cost = json_number_value(json_object_get(pattern, "cost"));
    cq_align_terms_quote(cq_align_data_str(st->constraints, "timeline"), timeline,
                         sizeof(timeline));
    snprintf(cost_s, sizeof(cost_s), "%.0f", cost);
    snprintf(budget_s, sizeof(budget_s), "%.0f", st->budget);
    cq_termvec_t *about = cq_align_pattern_about(pattern);
    int ci = cq_align_best_overlap((cq_termvec_t *const *)st->challenge, st->nchallenge, about);
    int vi = cq_align_best_overlap((cq_termvec_t *const *)st->value, st->nvalue, about);
    cq_align_terms_quote(ci >= 0 ? json_string_value(json_array_get(
                                       json_object_get(ctx, "currentChallenges"), (size_t)ci))
                                 : "",
                         challenge, sizeof(challenge));
    cq_align_terms_quote(
        vi >= 0 ? json_string_value(json_array_get(json_object_get(ctx, "coreValues"), (size_t)vi))
                : "",
        value, sizeof(value));
    const cq_align_var_t vars[] = {
        {"focus", st->focus ? st->focus : st->intent_quote},
        {"intent", NULL},
        {"market", st->market},
        {"industry", st->industry},
        {"challenge", challenge},
        {"value", value},
        {"timeline", timeline},
        {"cost", cost_s},
        {"budget", budget_s},
    };
    char intent[CQ_ALIGN_QUOTE_MAX + 16];
    snprintf(intent, sizeof(intent), "\u201c%s\u201d", st->intent_quote);
    cq_align_var_t v[CQ_ARRAY_SIZE(vars)];
    memcpy(v, vars, sizeof(vars));
    v[1].value = intent;
    const size_t nv = CQ_ARRAY_SIZE(v);

    cq_align_prose_t rationale = {.buf = NULL};
    cq_align_prose_fill(&rationale, cq_align_data_str(pattern, "rationale"), v, nv);
    if (ci >= 0)
        cq_align_prose_fill(&rationale, cq_align_data_str(notes, "challenge"), v, nv);
    if (vi >= 0)
        cq_align_prose_fill(&rationale, cq_align_data_str(notes, "value"), v, nv);
    const json_t *months = json_object_get(pattern, "months");
    double min_months = json_number_value(json_array_get(months, 0));
    double max_months = json_number_value(json_array_get(months, 1));
    bool tight = st->timeline_months > 0 && min_months > st->timeline_months;
    if (st->timeline_months > 0)
        cq_align_prose_fill(
            &rationale, cq_align_data_str(notes, tight ? "timeline_tight" : "timeline_fit"), v, nv);
    if (st->has_budget)
        cq_align_prose_fill(
            &rationale, cq_align_data_str(notes, cost > st->budget ? "budget_tight" : "budget_fit"),
            v, nv);

    char timeframe[64];
    snprintf(timeframe, sizeof(timeframe), "%.0f-%.0f months", min_months, max_months);
    const char *difficulty = cq_align_data_str(pattern, "difficulty");
    if (tight)
        difficulty = cq_align_level_up(difficulty);

    json_t *prerequisites = json_array(), *resources = json_array();
    const json_t *item;
    size_t i;
    json_array_foreach(json_object_get(pattern, "prerequisites"), i, item)
    {
        if (json_array_size(prerequisites) < 10)
            json_array_append_new(prerequisites,
                                  cq_align_fill_json(json_string_value(item), v, nv, 500));
    }
    json_array_foreach(json_object_get(pattern, "resources"), i, item)
    {
        if (json_array_size(resources) < 10)
            json_array_append_new(resources,
                                  cq_align_fill_json(json_string_value(item), v, nv, 200));
    }
    const json_t *given = json_object_get(st->constraints, "resources");
    for (size_t r = 0; r < st->nresource && json_array_size(resources) < 10; r++) {
        if (!(cq_termvec_coverage(st->resource[r], about) > 0))
            continue;
        char res[CQ_ALIGN_QUOTE_MAX + 8];
        cq_align_terms_quote(json_string_value(json_array_get(given, r)), res, sizeof(res));
        const cq_align_var_t rv[] = {{"resource", res}};
        json_array_append_new(resources,
                              cq_align_fill_json(cq_align_data_str(notes, "resource"), rv, 1, 200));
    }
    cq_termvec_destroy(about);

    return json_pack(
        "{s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:f, s:o}", "title",
        cq_align_fill_json(cq_align_data_str(pattern, "title"), v, nv, 200), "description",
        cq_align_fill_json(cq_align_data_str(pattern, "description"), v, nv, 2000), "rationale",
        cq_align_prose_take(&rationale, 2000), "difficulty", difficulty, "timeframe", timeframe,
        "expectedImpact", cq_align_data_str(pattern, "impact"), "prerequisites", prerequisites,
        "estimatedCost", cost, "requiredResources", resources);
}

/* Quotes item i of the request array at path (businessContext member or
 * top-level key) into out. */
static void cq_align_strategy_quote_item(const json_t *arr, size_t i, char *out, size_t size)
{
    char quote[CQ_ALIGN_QUOTE_MAX + 8];
    cq_align_terms_quote(json_string_value(json_array_get(arr, i)), quote, sizeof(quote));
    snprintf(out, size, "\u201c%s\u201d", quote);
}

/*
 * Appends to the reasoning how the chosen strategies (the first nchosen
 * patterns, titled in suggestions) meet the context: each current
 * challenge taken up or left open, the strategy closest to the vision and
 * purpose, core values no strategy serves, the existing strategies kept
 * clear of.
 */
static void cq_align_strategy_notes(const cq_align_strategy_t *st, const json_t *suggestions,
                                    cq_align_prose_t *p)
{
    const json_t *r = json_object_get(st->catalogue, "reasoning");
    size_t nchosen = json_array_size(suggestions);
    cq_termvec_t *about[CQ_ALIGN_STRATEGY_MAX];
    for (size_t j = 0; j < nchosen; j++)
        about[j] = cq_align_pattern_about(st->patterns[j].pattern);
    const json_t *challenges = json_object_get(st->context, "currentChallenges");
    char quote[CQ_ALIGN_QUOTE_MAX + 16];
    for (size_t c = 0; c < st->nchallenge && c < 3; c++) {
        int best = cq_align_best_overlap(about, nchosen, st->challenge[c]);
        double cov = 0;
        for (size_t j = 0; j < nchosen; j++) {
            double v = cq_termvec_coverage(st->challenge[c], about[j]);
            if (v > cov) {
                cov = v;
                best = (int)j;
            }
        }
        cq_align_strategy_quote_item(challenges, c, quote, sizeof(quote));
        const char *title = best >= 0 && cov > 0
                                ? json_string_value(json_object_get(
                                      json_array_get(suggestions, (size_t)best), "title"))
                                : NULL;
        const cq_align_var_t vars[] = {{"challenge", quote}, {"title", title}};
        cq_align_prose_fill(p, cq_align_data_str(r, title ? "challenge_met" : "challenge_open"),
                            vars, 2);
    }
    if (cq_termvec_total(st->vision) > 0) {
        int best = -1;
        double cov = 0;
        for (size_t j = 0; j < nchosen; j++) {
            double v = cq_termvec_coverage(st->vision, about[j]);
            if (v > cov) {
                cov = v;
                best = (int)j;
            }
        }
        cq_align_prose_t foundation = {.buf = NULL};
        const char *parts[2];
        char q[2][CQ_ALIGN_QUOTE_MAX + 8];
        size_t nparts = 0;
        static const char *const keys[] = {"vision", "purpose"};
        for (size_t k = 0; k < 2; k++) {
            const char *text = json_string_value(json_object_get(st->context, keys[k]));
            if (text) {
                cq_align_terms_quote(text, q[nparts], sizeof(q[nparts]));
                parts[nparts] = q[nparts];
                nparts++;
            }
        }
        cq_align_prose_list(&foundation, parts, nparts, " and ");
        const char *words[3];
        size_t nwords = best >= 0 ? cq_termvec_shared_terms(st->vision, about[best], words, 3) : 0;
        cq_align_prose_t shared = {.buf = NULL};
        cq_align_prose_list(&shared, words, nwords, " and ");
        const cq_align_var_t vars[] = {
            {"title", best >= 0 ? json_string_value(json_object_get(
                                      json_array_get(suggestions, (size_t)best), "title"))
                                : NULL},
            {"words", shared.buf},
            {"foundation", foundation.buf},
        };
        cq_align_prose_fill(p, cq_align_data_str(r, nwords ? "vision_link" : "vision_none"), vars,
                            3);
        cq_align_prose_clear(&foundation);
        cq_align_prose_clear(&shared);
    }
    const json_t *values = json_object_get(st->context, "coreValues");
    char vq[3][CQ_ALIGN_QUOTE_MAX + 8];
    const char *open[3];
    size_t nopen = 0;
    for (size_t v = 0; v < st->nvalue && nopen < 3; v++) {
        bool served = false;
        for (size_t j = 0; j < nchosen && !served; j++)
            served = cq_termvec_coverage(st->value[v], about[j]) > 0;
        if (!served && cq_termvec_total(st->value[v]) > 0) {
            cq_align_terms_quote(json_string_value(json_array_get(values, v)), vq[nopen],
                                 sizeof(vq[nopen]));
            open[nopen] = vq[nopen];
            nopen++;
        }
    }
    if (nopen) {
        cq_align_prose_t list = {.buf = NULL};
        cq_align_prose_list(&list, open, nopen, " and ");
        const cq_align_var_t vars[] = {{"values", list.buf}};
        cq_align_prose_fill(p, cq_align_data_str(r, "values_open"), vars, 1);
        cq_align_prose_clear(&list);
    }
    /* the existing strategies, unless the skipped patterns named them already */
    bool skipped = false;
    for (size_t j = 0; j < st->npatterns && !skipped; j++)
        skipped = st->patterns[j].repeats;
    if (st->nexisting && !skipped) {
        const json_t *existing = json_object_get(st->request, "existingStrategies");
        char eq[3][CQ_ALIGN_QUOTE_MAX + 8];
        const char *list_items[3];
        size_t n = 0;
        for (size_t e = 0; e < st->nexisting && n < 3; e++) {
            cq_align_terms_quote(json_string_value(json_array_get(existing, e)), eq[n],
                                 sizeof(eq[n]));
            list_items[n] = eq[n];
            n++;
        }
        cq_align_prose_t list = {.buf = NULL};
        cq_align_prose_list(&list, list_items, n, " and ");
        const cq_align_var_t vars[] = {{"existing", list.buf}};
        cq_align_prose_fill(p, cq_align_data_str(r, "existing"), vars, 1);
        cq_align_prose_clear(&list);
    }
    for (size_t j = 0; j < nchosen; j++)
        cq_termvec_destroy(about[j]);
}

static json_t *cq_align_strategy_reasoning(const cq_align_strategy_t *st, const json_t *suggestions,
                                           size_t skipped, const char *skipped_example)
{
    const json_t *r = json_object_get(st->catalogue, "reasoning");
    const cq_align_goaltype_t *top = st->types.n ? &st->types.types[0] : NULL;
    bool typed = top && top->matched > 0;
    const char *words[4];
    size_t nwords = typed ? cq_align_goaltype_words(top, st->intent, words, 4) : 0;
    if (typed && nwords == 0)
        nwords = cq_align_goaltype_words(top, st->context_vec, words, 4);
    cq_align_prose_t matched = {.buf = NULL}, second = {.buf = NULL}, fields = {.buf = NULL};
    cq_align_prose_t context = {.buf = NULL};
    cq_align_prose_list(&matched, words, nwords, " and ");
    if (typed && st->types.n > 1 && st->types.types[1].matched >= 0.5 * top->matched) {
        const cq_align_var_t tv[] = {{"type2", st->types.types[1].label}};
        cq_align_prose_fill(&second, cq_align_data_str(r, "second"), tv, 1);
    }
    static const char *const names[][2] = {
        {"industry", "industry"},
        {"businessType", "business type"},
        {"targetMarket", "target market"},
        {"currentChallenges", "current challenges"},
        {"vision", "vision"},
        {"purpose", "purpose"},
        {"coreValues", "core values"},
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(names); i++) {
        const json_t *field = json_object_get(st->context, names[i][0]);
        if (!field)
            continue;
        cq_align_prose_printf(&fields, "%s%s", fields.buf ? ", " : "using ", names[i][1]);
        /* short texts are quoted; lists and long texts are discussed below */
        if (json_is_string(field) && i < 3) {
            char quote[CQ_ALIGN_QUOTE_MAX + 8];
            cq_align_terms_quote(json_string_value(field), quote, sizeof(quote));
            cq_align_prose_printf(&fields, " \u201c%s\u201d", quote);
        }
    }
    if (fields.buf) {
        const cq_align_var_t fv[] = {{"fields", fields.buf}};
        cq_align_prose_fill(&context, cq_align_data_str(r, "context"), fv, 1);
    }
    char intent[CQ_ALIGN_QUOTE_MAX + 16], count[24];
    snprintf(intent, sizeof(intent), "\u201c%s\u201d", st->intent_quote);
    snprintf(count, sizeof(count), "%zu", skipped);
    char existing[CQ_ALIGN_QUOTE_MAX + 16];
    char quoted[CQ_ALIGN_QUOTE_MAX + 8];
    cq_align_terms_quote(skipped_example, quoted, sizeof(quoted));
    snprintf(existing, sizeof(existing), "\u201c%s\u201d", quoted);
    const cq_align_var_t vars[] = {
        {"intent", intent},       {"type", typed ? top->label : st->types.fallback_label},
        {"matched", matched.buf}, {"second", second.buf},
        {"context", context.buf}, {"focus", st->focus ? st->focus : st->intent_quote},
        {"count", count},         {"existing", existing},
    };
    cq_align_prose_t p = {.buf = NULL};
    cq_align_prose_fill(&p, cq_align_data_str(r, typed ? "typed" : "untyped"), vars,
                        CQ_ARRAY_SIZE(vars));
    if (skipped)
        cq_align_prose_fill(&p, cq_align_data_str(r, "skipped"), vars, CQ_ARRAY_SIZE(vars));
    cq_align_strategy_notes(st, suggestions, &p);
    cq_align_prose_t constraints = {.buf = NULL};
    if (st->timeline_months > 0)
        cq_align_prose_printf(&constraints, "timeline %s",
                              cq_align_data_str(st->constraints, "timeline"));
    if (st->has_budget)
        cq_align_prose_printf(&constraints, "%sbudget %.0f", constraints.buf ? ", " : "",
                              st->budget);
    if (st->nresource) {
        const json_t *resources = json_object_get(st->constraints, "resources");
        char rq[3][CQ_ALIGN_QUOTE_MAX + 8];
        const char *items[3];
        size_t n = 0;
        for (size_t i = 0; i < st->nresource && n < 3; i++) {
            cq_align_terms_quote(json_string_value(json_array_get(resources, i)), rq[n],
                                 sizeof(rq[n]));
            items[n] = rq[n];
            n++;
        }
        cq_align_prose_printf(&constraints, "%sresources ", constraints.buf ? ", " : "");
        cq_align_prose_list(&constraints, items, n, " and ");
    }
    if (constraints.buf) {
        const cq_align_var_t cv[] = {{"constraints", constraints.buf}};
        cq_align_prose_fill(&p, cq_align_data_str(r, "constraints"), cv, 1);
    }
    cq_align_prose_clear(&constraints);
    cq_align_prose_clear(&matched);
    cq_align_prose_clear(&second);
    cq_align_prose_clear(&fields);
    cq_align_prose_clear(&context);
    return cq_align_prose_take(&p, 4000);
}

cq_err_t cq_align_strategy_compute(const json_t *request, int64_t now_ms, json_t **result,
                                   char *errstr, size_t errstr_size)
{
    CQ_UNUSED(now_ms);
    *result = NULL;
    cq_err_t err = CQ_ERR_OK;
    cq_align_strategy_t *st = cq_calloc(1, sizeof(*st));
    st->catalogue = cq_align_data("strategies");
    if (!st->catalogue || !cq_align_data("goal_types")) {
        cq_errstr_set(errstr, errstr_size, "strategy catalogue data is missing");
        err = CQ_ERR_INTERNAL_ERROR;
        goto free_st;
    }
    cq_align_strategy_read(st, request);
    if (!(cq_termvec_total(st->intent) > 0)) {
        cq_errstr_set(errstr, errstr_size, "the goal intent has no usable words");
        err = CQ_ERR_INSUFFICIENT_CONTEXT;
        goto free_st;
    }
    const cq_termvec_t *docs[] = {st->intent, st->context_vec, st->vision};
    const double weights[] = {1.0, 1.0, 0.3};
    cq_align_goaltype_classify(docs, weights, 3, &st->types);
    cq_align_strategy_score(st);

    /* Skipped repeats, counted before sorting changes the order. */
    size_t skipped = 0;
    const char *skipped_example = NULL;
    for (size_t i = 0; i < st->npatterns; i++) {
        if (!st->patterns[i].repeats)
            continue;
        skipped++;
        for (size_t e = 0; e < st->nexisting && !skipped_example; e++)
            if (cq_align_pattern_repeats(st->patterns[i].pattern, st->patterns[i].keywords,
                                         st->existing[e]))
                skipped_example = json_string_value(
                    json_array_get(json_object_get(request, "existingStrategies"), e));
    }
    qsort(st->patterns, st->npatterns, sizeof(st->patterns[0]), cq_align_pattern_cmp);

    json_t *suggestions = json_array();
    double best = st->npatterns ? st->patterns[0].score : 0;
    for (size_t i = 0; i < st->npatterns && json_array_size(suggestions) < CQ_ALIGN_STRATEGY_MAX;
         i++) {
        const cq_align_pattern_t *p = &st->patterns[i];
        bool enough = json_array_size(suggestions) >= CQ_ALIGN_STRATEGY_MIN;
        if (enough && (p->repeats || p->score < 0.5 * best))
            break;
        json_array_append_new(suggestions, cq_align_strategy_item(st, p));
    }
    if (json_array_size(suggestions) < CQ_ALIGN_STRATEGY_MIN) {
        json_decref(suggestions);
        cq_errstr_set(errstr, errstr_size, "the strategy catalogue has fewer than %d patterns",
                      CQ_ALIGN_STRATEGY_MIN);
        err = CQ_ERR_INTERNAL_ERROR;
        goto free_st;
    }

    const cq_align_goaltype_t *top = st->types.n ? &st->types.types[0] : NULL;
    double clarity = top ? fmin(1.0, top->matched / 2.0) : 0;
    size_t fields = json_object_size(st->context);
    double confidence = 0.25 + 0.4 * clarity + 0.05 * (double)(fields < 5 ? fields : 5);
    confidence = round(fmin(0.9, confidence) * 100) / 100;
    *result = json_pack("{s:o, s:f, s:o}", "suggestions", suggestions, "confidence", confidence,
                        "reasoning",
                        cq_align_strategy_reasoning(st, suggestions, skipped, skipped_example));
    if (!*result) {
        cq_errstr_set(errstr, errstr_size, "could not build the strategy-suggestions result");
        err = CQ_ERR_INTERNAL_ERROR;
    }
free_st:
    cq_align_strategy_free(st);
    free(st);
    return err;
}
