/*
 * cq_align_check.c — built-in engine of alignment-check: a lexical,
 * deterministic estimate of how well a goal fits the business foundation.
 *
 * Method. Every text becomes a term vector (cq_termvec over cq_text:
 * stopwords removed, Porter2 stems, planning filler down-weighted, related
 * planning words matching partially through concepts). All raw measures are in [0, 1]:
 *
 *   coverage(q -> d)  share of q's weight found in d (cq_termvec_coverage);
 *                     against several documents each term takes its best
 *                     match times the document's standing.
 *   touch(x -> docs)  for one strategy or KPI: 0.5 * coverage +
 *                     0.5 * (1 - e^-matched), where matched is the matched
 *                     weight itself; a strategy or KPI carries its own "how"
 *                     words, so one or two strong links already count.
 *
 *   goal documents D  intent (standing 1.0), strategies (0.7), KPIs (0.4).
 *   vision, purpose   0.6 * coverage(part -> D) + 0.4 * coverage(intent -> part):
 *                     how much of the part the goal carries, and how much of
 *                     the intent speaks about the part.
 *   values            per core value coverage(value -> D); 0.5 * best +
 *                     0.5 * mean (a goal need not live every value).
 *   intent            0.7 * coverage(intent -> foundation) +
 *                     0.3 * soft cosine(intent, foundation).
 *   strategies        mean touch(strategy -> {intent, foundation}); none = 0.
 *   KPIs              0.75 * mean touch(KPI -> {intent 1.0, strategies 0.8})
 *                     + 0.25 * coverage(intent -> KPIs); none = 0.
 *   fit               weighted mean of intent .40, vision .25, purpose .15,
 *                     values .20 over the parts the foundation has.
 *   overall           fit * (0.7 + 0.3 * (0.6 * strategies + 0.4 * KPIs)):
 *                     execution can raise a goal that fits, never rescue one
 *                     that does not.
 *
 * Every reported integer is 100 * (1 - e^(-3x)) / (1 - e^-3) of its raw
 * measure x: monotone, 0 -> 0, 1 -> 100, and concave because word overlap
 * understates meaning (raw 0.5 -> 82, 0.3 -> 62, 0.1 -> 27). The foundation
 * is the foundation text (vision, purpose, values at full weight, value
 * proposition 0.8, target market 0.6).
 *
 * The explanation and suggestions are assembled from what was measured:
 * shared themes, the weakest component, the least reflected core value,
 * the vision words the goal misses, the intent's main term (what a KPI
 * should measure).
 *
 * Reentrant and allocation-bounded: arrays are read up to
 * CQ_ALIGN_CHECK_ITEMS_MAX items and texts up to CQ_TEXT_INPUT_MAX bytes.
 */
#include "cq_align_check.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_termvec.h"

#define CQ_ALIGN_EXCERPT   60   /* bytes of a quoted user text in prose */
#define CQ_ALIGN_SUGGEST   75   /* parts scoring below this get suggestions */
#define CQ_ALIGN_WEAK_ITEM 0.35 /* a strategy/KPI/value below this is "not linked" */

typedef struct {
    const char *text;
    cq_termvec_t *vec;
    double raw;
} cq_align_item_t;

typedef struct {
    cq_termvec_t *intent, *strategies, *kpis, *goal;
    cq_termvec_t *vision, *purpose, *market, *valueprop, *foundation;
    const char *purpose_text;
    cq_align_item_t strategy[CQ_ALIGN_CHECK_ITEMS_MAX];
    cq_align_item_t kpi[CQ_ALIGN_CHECK_ITEMS_MAX];
    cq_align_item_t value[CQ_ALIGN_CHECK_ITEMS_MAX];
    size_t nstrategy, nkpi, nvalue;
    /* raw measures in [0, 1] */
    double intent_raw, strategy_raw, kpi_raw, vision_raw, purpose_raw, values_raw, overall_raw;
    /* calibrated 0..100 */
    int overall, intent_score, strategy_score, kpi_score, vision_score, purpose_score, values_score;
} cq_align_t;

/* ---- reading the request ---------------------------------------------- */

static const char *cq_align_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* Reads an array of strings into items, skipping non-strings and texts
 * without usable words. */
static size_t cq_align_items(const json_t *arr, cq_align_item_t *items)
{
    size_t n = 0;
    if (!json_is_array(arr))
        return 0;
    for (size_t i = 0; i < json_array_size(arr) && i < CQ_ALIGN_CHECK_ITEMS_MAX; i++) {
        const char *text = json_string_value(json_array_get(arr, i));
        if (!text)
            continue;
        cq_termvec_t *vec = cq_termvec_new();
        cq_termvec_add_text(vec, text, 1.0);
        if (cq_termvec_total(vec) > 0) {
            items[n++] = (cq_align_item_t){.text = text, .vec = vec};
        } else {
            cq_termvec_destroy(vec);
        }
    }
    return n;
}

static cq_termvec_t *cq_align_vec(const char *text)
{
    cq_termvec_t *vec = cq_termvec_new();
    cq_termvec_add_text(vec, text, 1.0);
    return vec;
}

static void cq_align_read(cq_align_t *al, const json_t *request)
{
    const json_t *bf = json_object_get(request, "businessFoundation");
    al->intent = cq_align_vec(cq_align_str(request, "goalIntent"));
    al->nstrategy = cq_align_items(json_object_get(request, "strategies"), al->strategy);
    al->nkpi = cq_align_items(json_object_get(request, "kpis"), al->kpi);
    al->vision = cq_align_vec(cq_align_str(bf, "vision"));
    al->purpose_text = cq_align_str(bf, "purpose");
    al->purpose = cq_align_vec(al->purpose_text);
    al->market = cq_align_vec(cq_align_str(bf, "targetMarket"));
    al->valueprop = cq_align_vec(cq_align_str(bf, "valueProposition"));
    al->nvalue = cq_align_items(json_object_get(bf, "coreValues"), al->value);

    al->strategies = cq_termvec_new();
    for (size_t i = 0; i < al->nstrategy; i++)
        cq_termvec_add_vec(al->strategies, al->strategy[i].vec, 1.0);
    al->kpis = cq_termvec_new();
    for (size_t i = 0; i < al->nkpi; i++)
        cq_termvec_add_vec(al->kpis, al->kpi[i].vec, 1.0);
    al->goal = cq_termvec_new();
    cq_termvec_add_vec(al->goal, al->intent, 1.0);
    cq_termvec_add_vec(al->goal, al->strategies, 0.6);
    cq_termvec_add_vec(al->goal, al->kpis, 0.3);
    al->foundation = cq_termvec_new();
    cq_termvec_add_vec(al->foundation, al->vision, 1.0);
    cq_termvec_add_vec(al->foundation, al->purpose, 1.0);
    for (size_t i = 0; i < al->nvalue; i++)
        cq_termvec_add_vec(al->foundation, al->value[i].vec, 1.0);
    cq_termvec_add_vec(al->foundation, al->valueprop, 0.8);
    cq_termvec_add_vec(al->foundation, al->market, 0.6);
}

static void cq_align_free(cq_align_t *al)
{
    cq_termvec_t *vecs[] = {al->intent,  al->strategies, al->kpis,      al->goal,      al->vision,
                            al->purpose, al->market,     al->valueprop, al->foundation};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(vecs); i++)
        cq_termvec_destroy(vecs[i]);
    for (size_t i = 0; i < al->nstrategy; i++)
        cq_termvec_destroy(al->strategy[i].vec);
    for (size_t i = 0; i < al->nkpi; i++)
        cq_termvec_destroy(al->kpi[i].vec);
    for (size_t i = 0; i < al->nvalue; i++)
        cq_termvec_destroy(al->value[i].vec);
}

/* ---- scoring ------------------------------------------------------------ */

static int cq_align_calibrate(double raw)
{
    if (!(raw > 0))
        return 0;
    if (raw > 1)
        raw = 1;
    double v = 100.0 * (1.0 - exp(-3.0 * raw)) / (1.0 - exp(-3.0));
    long r = lround(v);
    return r < 0 ? 0 : r > 100 ? 100 : (int)r;
}

static double cq_align_touch(const cq_termvec_t *item, const cq_termvec_t *const *docs,
                             const double *weights, size_t ndocs)
{
    double matched = 0;
    double share = cq_termvec_coverage_multi(item, docs, weights, ndocs, &matched);
    return 0.5 * share + 0.5 * (1.0 - exp(-matched));
}

/* How much of a foundation part the goal carries, and the intent speaks of. */
static double cq_align_part(const cq_align_t *al, const cq_termvec_t *part)
{
    const cq_termvec_t *docs[] = {al->intent, al->strategies, al->kpis};
    const double weights[] = {1.0, 0.7, 0.4};
    if (!(cq_termvec_total(part) > 0))
        return 0;
    double recall = cq_termvec_coverage_multi(part, docs, weights, 3, NULL);
    double precision = cq_termvec_coverage(al->intent, part);
    return 0.6 * recall + 0.4 * precision;
}

static void cq_align_score(cq_align_t *al)
{
    const cq_termvec_t *goal_docs[] = {al->intent, al->strategies, al->kpis};
    const double goal_weights[] = {1.0, 0.7, 0.4};

    al->intent_raw = 0.7 * cq_termvec_coverage(al->intent, al->foundation) +
                     0.3 * cq_termvec_cosine(al->intent, al->foundation);
    al->vision_raw = cq_align_part(al, al->vision);
    al->purpose_raw = cq_align_part(al, al->purpose);

    double best = 0, sum = 0;
    for (size_t i = 0; i < al->nvalue; i++) {
        al->value[i].raw =
            cq_termvec_coverage_multi(al->value[i].vec, goal_docs, goal_weights, 3, NULL);
        sum += al->value[i].raw;
        if (al->value[i].raw > best)
            best = al->value[i].raw;
    }
    al->values_raw = al->nvalue ? 0.5 * best + 0.5 * sum / (double)al->nvalue : 0;

    const cq_termvec_t *strategy_docs[] = {al->intent, al->foundation};
    const double strategy_weights[] = {1.0, 1.0};
    sum = 0;
    for (size_t i = 0; i < al->nstrategy; i++) {
        al->strategy[i].raw =
            cq_align_touch(al->strategy[i].vec, strategy_docs, strategy_weights, 2);
        sum += al->strategy[i].raw;
    }
    al->strategy_raw = al->nstrategy ? sum / (double)al->nstrategy : 0;

    const cq_termvec_t *kpi_docs[] = {al->intent, al->strategies};
    const double kpi_weights[] = {1.0, 0.8};
    sum = 0;
    for (size_t i = 0; i < al->nkpi; i++) {
        al->kpi[i].raw = cq_align_touch(al->kpi[i].vec, kpi_docs, kpi_weights, 2);
        sum += al->kpi[i].raw;
    }
    al->kpi_raw =
        al->nkpi ? 0.75 * sum / (double)al->nkpi + 0.25 * cq_termvec_coverage(al->intent, al->kpis)
                 : 0;

    /* Fit over the parts the foundation has, so a foundation without core
     * values is not punished for them. */
    double fit = 0.40 * al->intent_raw, fit_weight = 0.40;
    if (cq_termvec_total(al->vision) > 0) {
        fit += 0.25 * al->vision_raw;
        fit_weight += 0.25;
    }
    if (cq_termvec_total(al->purpose) > 0) {
        fit += 0.15 * al->purpose_raw;
        fit_weight += 0.15;
    }
    if (al->nvalue > 0) {
        fit += 0.20 * al->values_raw;
        fit_weight += 0.20;
    }
    fit /= fit_weight;
    double execution = 0.6 * al->strategy_raw + 0.4 * al->kpi_raw;
    al->overall_raw = fit * (0.7 + 0.3 * execution);

    al->overall = cq_align_calibrate(al->overall_raw);
    al->intent_score = cq_align_calibrate(al->intent_raw);
    al->strategy_score = cq_align_calibrate(al->strategy_raw);
    al->kpi_score = cq_align_calibrate(al->kpi_raw);
    al->vision_score = cq_align_calibrate(al->vision_raw);
    al->purpose_score = cq_align_calibrate(al->purpose_raw);
    al->values_score = cq_align_calibrate(al->values_raw);
}

/* ---- prose ------------------------------------------------------------- */

typedef struct {
    char buf[2048];
    size_t len;
} cq_align_text_t;

static void cq_align_printf(cq_align_text_t *t, const char *fmt, ...) CQ_PRINTF(2, 3);

static void cq_align_printf(cq_align_text_t *t, const char *fmt, ...)
{
    if (t->len >= sizeof(t->buf) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n < sizeof(t->buf) - t->len ? (size_t)n : sizeof(t->buf) - 1 - t->len;
}

/* Appends “a”, “a” and “b” or “a”, “b” and “c”. */
static void cq_align_list(cq_align_text_t *t, const char *const *words, size_t n, const char *conj)
{
    for (size_t i = 0; i < n; i++)
        cq_align_printf(t, "%s\u201c%s\u201d", i == 0 ? "" : i + 1 == n ? conj : ", ", words[i]);
}

static const char *cq_align_adverb(int score)
{
    return score >= 80   ? "strongly"
           : score >= 60 ? "well"
           : score >= 40 ? "partly"
           : score >= 20 ? "weakly"
                         : "barely";
}

/* Verbs that open goal statements ("Grow revenue", "Launch a café"): they
 * say what to do with the main term, they are not it. */
static const char *const cq_align_verbs[] = {
    "grow",      "expand",   "scale",      "launch",   "build", "create",    "develop",
    "boost",     "drive",    "maximize",   "minimize", "reach", "double",    "triple",
    "raise",     "cut",      "attract",    "win",      "gain",  "establish", "strengthen",
    "enhance",   "optimize", "accelerate", "enter",    "open",  "maintain",  "keep",
    "introduce", "offer",    "start",
};

/* Their stems, made once: the check runs for every candidate term of every
 * job, and stemming the list each time was a tenth of the engine's time. */
static char cq_align_verb_stems[CQ_ARRAY_SIZE(cq_align_verbs)][CQ_TEXT_TOKEN_MAX];
static pthread_once_t cq_align_verb_once = PTHREAD_ONCE_INIT;

static void cq_align_verb_stems_make(void)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_align_verbs); i++)
        cq_text_stem(cq_align_verbs[i], cq_align_verb_stems[i], sizeof(cq_align_verb_stems[i]));
}

bool cq_align_check_is_opening_verb(const char *stem)
{
    pthread_once(&cq_align_verb_once, cq_align_verb_stems_make);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_align_verb_stems); i++)
        if (strcmp(cq_align_verb_stems[i], stem) == 0)
            return true;
    return false;
}

/* The intent's main term: its heaviest word that is neither filler nor an
 * opening verb, reinforced by the strategies and KPIs (ties: first in the
 * intent); falls back to verbs, then NULL. Valid while al lives. */
static const char *cq_align_main_term(const cq_align_t *al)
{
    const char *top[64];
    size_t n = cq_termvec_top_terms(al->intent, top, CQ_ARRAY_SIZE(top));
    const char *main_term = NULL, *verb = NULL;
    double best = 0, best_verb = 0;
    for (size_t i = 0; i < n; i++) {
        char stem[CQ_TEXT_TOKEN_MAX];
        cq_text_stem(top[i], stem, sizeof(stem));
        if (cq_text_term_weight(stem) < 1.0)
            continue;
        double score = cq_termvec_weight(al->intent, top[i]) +
                       0.5 * cq_termvec_weight(al->strategies, top[i]) +
                       0.3 * cq_termvec_weight(al->kpis, top[i]);
        if (cq_align_check_is_opening_verb(stem)) {
            if (score > best_verb) {
                best_verb = score;
                verb = top[i];
            }
        } else if (score > best) {
            best = score;
            main_term = top[i];
        }
    }
    return main_term ? main_term : verb;
}

/* The lowest-scoring item, or NULL when every item reaches CQ_ALIGN_WEAK_ITEM. */
static const cq_align_item_t *cq_align_weakest(const cq_align_item_t *items, size_t n)
{
    const cq_align_item_t *low = NULL;
    for (size_t i = 0; i < n; i++)
        if (items[i].raw < CQ_ALIGN_WEAK_ITEM && (!low || items[i].raw < low->raw))
            low = &items[i];
    return low;
}

static void cq_align_explain(const cq_align_t *al, cq_align_text_t *t)
{
    cq_align_printf(t,
                    "The goal is %s aligned with the business foundation (alignment score %d/100).",
                    cq_align_adverb(al->overall), al->overall);

    const char *shared[3];
    size_t nshared = cq_termvec_shared_terms(al->goal, al->foundation, shared, 3);
    const char *part = "vision";
    int part_score = al->vision_score;
    if (al->purpose_score > part_score) {
        part = "purpose";
        part_score = al->purpose_score;
    }
    if (al->values_score > part_score) {
        part = "core values";
        part_score = al->values_score;
    }
    if (nshared > 0) {
        cq_align_printf(t, " Its strongest shared %s ", nshared == 1 ? "theme is" : "themes are");
        cq_align_list(t, shared, nshared, " and ");
        if (part_score >= 40)
            cq_align_printf(t, ", and it reflects the %s most (%d/100).", part, part_score);
        else
            cq_align_printf(t,
                            ", but it reflects neither vision, purpose nor core values well "
                            "(best: %s, %d/100).",
                            part, part_score);
    } else {
        cq_align_printf(t, " It shares no themes with the vision, purpose or core values.");
    }

    const char *weak_name = "the goal intent";
    int weak = al->intent_score;
    const char *why = "it uses little of the foundation's language";
    if (al->strategy_score < weak) {
        weak_name = "strategy alignment";
        weak = al->strategy_score;
        why = al->nstrategy ? "the strategies connect little to the intent or the foundation"
                            : "no strategies are given";
    }
    if (al->kpi_score < weak) {
        weak_name = "KPI relevance";
        weak = al->kpi_score;
        why = al->nkpi ? "the KPIs measure little of what the goal is about" : "no KPIs are given";
    }
    if (weak >= 70)
        cq_align_printf(t, " Even its weakest component, %s (%d/100), is solid.", weak_name, weak);
    else
        cq_align_printf(t, " The weakest component is %s (%d/100): %s.", weak_name, weak, why);

    const cq_align_item_t *low = cq_align_weakest(al->value, al->nvalue);
    if (low && al->values_score < 50) {
        char value[CQ_ALIGN_EXCERPT + 8];
        cq_text_excerpt(low->text, CQ_ALIGN_EXCERPT, value, sizeof(value));
        cq_align_printf(t, " Core values such as \u201c%s\u201d are not reflected.", value);
    }
}

typedef struct {
    int score; /* of the part the suggestion improves */
    size_t order;
    char *text;
} cq_align_suggestion_t;

static int cq_align_cmp_suggestion(const void *x, const void *y)
{
    const cq_align_suggestion_t *a = x, *b = y;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Appends a candidate; takes ownership of text. */
static void cq_align_add(cq_align_suggestion_t *cand, size_t *n, int score, char *text)
{
    cand[*n] = (cq_align_suggestion_t){.score = score, .order = *n, .text = text};
    (*n)++;
}

/* Vision words the goal misses that are not in skip[0..nskip). */
static size_t cq_align_missing(const cq_termvec_t *part, const cq_termvec_t *doc,
                               const char *const *skip, size_t nskip, const char **out, size_t max)
{
    const char *words[8];
    size_t n = cq_termvec_missing_terms(part, doc, words, CQ_ARRAY_SIZE(words)), w = 0;
    for (size_t i = 0; i < n && w < max; i++) {
        bool dup = false;
        for (size_t k = 0; k < nskip && !dup; k++)
            dup = strcmp(words[i], skip[k]) == 0;
        if (!dup)
            out[w++] = words[i];
    }
    return w;
}

/*
 * Adds the suggestions (1..3) to arr: one candidate per part that has a
 * concrete fix, weakest part first (ties in the order intent, strategies,
 * KPIs, values, purpose, vision: the goal's own wording first), those
 * scoring under CQ_ALIGN_SUGGEST, and at least the weakest.
 */
static void cq_align_suggest(const cq_align_t *al, json_t *arr)
{
    cq_align_suggestion_t cand[6];
    size_t n = 0;
    char quote[CQ_ALIGN_EXCERPT + 8];
    const char *main_term = cq_align_main_term(al);
    const cq_termvec_t *vision = cq_termvec_total(al->vision) > 0 ? al->vision : al->foundation;
    const char *named[2];
    size_t nnamed = cq_align_missing(vision, al->goal, NULL, 0, named, 2);

    /* Intent: name the vision's themes the goal misses. */
    if (nnamed > 0) {
        cq_align_text_t t = {.len = 0};
        cq_align_printf(&t, "Reword the goal intent so it connects to what %s is about, such as ",
                        vision == al->vision ? "the vision" : "the business foundation");
        cq_align_list(&t, named, nnamed, " and ");
        cq_align_printf(&t, ".");
        cq_align_add(cand, &n, al->intent_score, cq_strdup(t.buf));
    }
    /* Strategies: add some, or rework the least connected one. */
    const cq_align_item_t *strategy = cq_align_weakest(al->strategy, al->nstrategy);
    if (al->nstrategy == 0) {
        cq_align_add(
            cand, &n, al->strategy_score,
            main_term ? cq_asprintf("Add two or three strategies that say how \u201c%s\u201d will "
                                    "be achieved, each tied to the vision.",
                                    main_term)
                      : cq_strdup("Add two or three strategies that say how the goal will be "
                                  "achieved, each tied to the vision."));
    } else if (strategy) {
        cq_text_excerpt(strategy->text, CQ_ALIGN_EXCERPT, quote, sizeof(quote));
        cq_align_add(
            cand, &n, al->strategy_score,
            cq_asprintf("Rework the strategy \u201c%s\u201d: it does not connect to the goal "
                        "intent or the business foundation.",
                        quote));
    }
    /* KPIs: one that measures the intent's main term. */
    const cq_align_item_t *kpi = cq_align_weakest(al->kpi, al->nkpi);
    if (al->nkpi == 0) {
        cq_align_add(cand, &n, al->kpi_score,
                     main_term ? cq_asprintf("Add a KPI that measures \u201c%s\u201d directly, "
                                             "with a baseline and a target.",
                                             main_term)
                               : cq_strdup("Add a KPI that measures the goal's outcome directly, "
                                           "with a baseline and a target."));
    } else if (kpi && main_term) {
        cq_text_excerpt(kpi->text, CQ_ALIGN_EXCERPT, quote, sizeof(quote));
        cq_align_add(
            cand, &n, al->kpi_score,
            cq_asprintf("Replace or complement the KPI \u201c%s\u201d with one that measures "
                        "\u201c%s\u201d, the goal's main focus.",
                        quote, main_term));
    } else if (main_term && cq_termvec_weight(al->kpis, main_term) == 0) {
        cq_align_add(cand, &n, al->kpi_score,
                     cq_asprintf("Add a KPI that measures \u201c%s\u201d, the goal's main "
                                 "focus.",
                                 main_term));
    }
    /* Values: the least reflected one. */
    const cq_align_item_t *value = cq_align_weakest(al->value, al->nvalue);
    if (value) {
        cq_text_excerpt(value->text, CQ_ALIGN_EXCERPT, quote, sizeof(quote));
        cq_align_add(
            cand, &n, al->values_score,
            cq_asprintf("Reflect the core value \u201c%s\u201d in the goal, for example with a "
                        "strategy that puts it into practice.",
                        quote));
    }
    /* Purpose. */
    if (cq_termvec_total(al->purpose) > 0) {
        cq_text_excerpt(al->purpose_text, CQ_ALIGN_EXCERPT, quote, sizeof(quote));
        cq_align_add(
            cand, &n, al->purpose_score,
            cq_asprintf("Spell out how the goal serves the purpose \u201c%s\u201d.", quote));
    }
    /* Vision through the strategies, with words the intent hint did not name. */
    if (al->nstrategy > 0) {
        const char *words[2];
        size_t nwords = cq_align_missing(vision, al->strategies, named, nnamed, words, 2);
        if (nwords > 0) {
            cq_align_text_t t = {.len = 0};
            cq_align_printf(&t, "Link the strategies to the vision: show how at least one of "
                                "them brings ");
            cq_align_list(&t, words, nwords, " and ");
            cq_align_printf(&t, " closer.");
            cq_align_add(cand, &n, al->vision_score, cq_strdup(t.buf));
        }
    }

    /* Nothing is weak: still name the next step for the main term. */
    if (n == 0)
        cq_align_add(cand, &n, 100,
                     main_term ? cq_asprintf("Add a leading indicator for \u201c%s\u201d to the "
                                             "KPIs so progress shows before the outcome does.",
                                             main_term)
                               : cq_strdup("Add a leading indicator to the KPIs so progress shows "
                                           "before the outcome does."));

    qsort(cand, n, sizeof(*cand), cq_align_cmp_suggestion);
    size_t taken = 0;
    for (size_t i = 0; i < n; i++) {
        if (taken < 3 && (cand[i].score < CQ_ALIGN_SUGGEST || taken == 0)) {
            json_array_append_new(arr, json_string(cand[i].text));
            taken++;
        }
        free(cand[i].text);
    }
}

/* ---- entry points -------------------------------------------------------- */

cq_err_t cq_align_check_compute(const json_t *request, int64_t now_ms, json_t **result,
                                char *errstr, size_t errstr_size)
{
    cq_err_t err = CQ_ERR_OK;
    cq_align_t *al = NULL;
    json_t *suggestions = NULL;
    *result = NULL;

    if (!json_is_object(request)) {
        cq_errstr_set(errstr, errstr_size, "alignment-check request is not a JSON object");
        return CQ_ERR_BAD_REQUEST;
    }
    al = cq_calloc(1, sizeof(*al));
    cq_align_read(al, request);
    if (!(cq_termvec_total(al->foundation) > 0)) {
        cq_errstr_set(errstr, errstr_size,
                      "the business foundation (vision, purpose, core values) has no usable words");
        err = CQ_ERR_INSUFFICIENT_CONTEXT;
        goto free_al;
    }
    if (!(cq_termvec_total(al->intent) > 0)) {
        cq_errstr_set(errstr, errstr_size, "the goal intent has no usable words");
        err = CQ_ERR_INSUFFICIENT_CONTEXT;
        goto free_al;
    }
    cq_align_score(al);

    cq_align_text_t explanation = {.len = 0};
    cq_align_explain(al, &explanation);
    suggestions = json_array();
    cq_align_suggest(al, suggestions);
    char when[40];
    cq_time_iso8601(now_ms < 0 ? 0 : now_ms, when, sizeof(when));

    *result =
        json_pack("{s:i, s:s, s:O, s:{s:i, s:i, s:i}, s:{s:i, s:i, s:i}, s:s}", "alignmentScore",
                  al->overall, "explanation", explanation.buf, "suggestions", suggestions,
                  "componentScores", "intentAlignment", al->intent_score, "strategyAlignment",
                  al->strategy_score, "kpiRelevance", al->kpi_score, "breakdown", "visionAlignment",
                  al->vision_score, "purposeAlignment", al->purpose_score, "valuesAlignment",
                  al->values_score, "lastUpdated", when);
    if (!*result) {
        cq_errstr_set(errstr, errstr_size, "could not build the alignment-check result");
        err = CQ_ERR_INTERNAL_ERROR;
    }
    json_decref(suggestions);
free_al:
    cq_align_free(al);
    free(al);
    return err;
}

cq_err_t cq_align_check_builtin(const json_t *request, json_t **result, char *errstr,
                                size_t errstr_size)
{
    return cq_align_check_compute(request, cq_now_ms(), result, errstr, errstr_size);
}
