/*
 * cq_ops_align.c — built-in engine of strategic-alignment: how well each
 * action serves each goal and the business foundation, deterministically,
 * with the text analysis of lib/ (cq_termvec over cq_text) and the same
 * measures and calibration as the alignment-check engine
 * (workers/alignment/cq_align_check.c).
 *
 * Vectors. An action is its title (weight 1) plus description (0.7); a
 * goal is its intent (standing 1.0) and its strategies (0.7); the
 * foundation is vision, purpose and core values (1), value proposition
 * (0.8) and target market (0.6).
 *
 * Measures, raw in [0, 1]:
 *   touch(a -> docs)  0.5 * coverage + 0.5 * (1 - e^-matched): the share of
 *                     the action's words the documents carry, and how much
 *                     weight matched at all (a short action with two strong
 *                     links already counts);
 *   goal(a, g)        0.45 * coverage(a -> {intent, strategies}) +
 *                     0.25 * (1 - e^(-matched / 1.5)) +
 *                     0.30 * coverage(intent -> a): the action speaks the
 *                     goal's language and addresses its intent; the matched
 *                     weight counts less than in touch so that one shared
 *                     word ("fresh paint" vs "fresh bread") stays below a link;
 *   foundation(a)     touch(a -> foundation);
 *   action(a)         0.75 * best goal(a, g) + 0.25 * foundation(a).
 * Reported integers are 100 * (1 - e^(-3x)) / (1 - e^-3) of x (concave, as
 * word overlap understates meaning). A goal scoring CQ_OPS_ALIGN_LINK or
 * more is a connection (impact high from 70, medium from 50); connections
 * are sorted by score (ties: goal order). overallAlignment is the mean
 * action score (cancelled actions left out) times 0.8 + 0.2 * the share of
 * goals served by some action.
 *
 * Words. Recommendations and insights come from the measures and the
 * templates of data/align.json: actions tied to no goal (with the closest
 * goal), goals no action serves (also on the action closest to them), the
 * shared and missing terms of a weak link, priorities out of line with
 * alignment, blocked actions that serve goals. Statuses are free text
 * mapped through the same file.
 *
 * Reentrant: the data file is parsed once; vectors are per call. Arrays are
 * bounded by the request schema (100 actions, 50 goals).
 */
#include "cq_ops_align.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_ops_text.h"
#include "cq_termvec.h"

#define CQ_OPS_ALIGN_ACTIONS_MAX 100
#define CQ_OPS_ALIGN_GOALS_MAX   50
#define CQ_OPS_ALIGN_QUOTE       80
#define CQ_OPS_ALIGN_EXPLICIT    60 /* a best link below this gets "make it explicit" */
#define CQ_OPS_ALIGN_WEAK_FOUND  30
#define CQ_OPS_ALIGN_LOW_CUT     40
#define CQ_OPS_ALIGN_HIGH_CUT    70

typedef struct {
    const char *id, *title, *priority, *status_text;
    cq_ops_status_t status;
    cq_termvec_t *vec;
    double found_raw, raw;
    int score, found_score;
    int goal_score[CQ_OPS_ALIGN_GOALS_MAX];
    double goal_raw[CQ_OPS_ALIGN_GOALS_MAX];
    size_t best; /* goal index of the best link */
} cq_oa_action_t;

typedef struct {
    const char *id, *intent;
    cq_termvec_t *intent_vec, *strat_vec;
    size_t served; /* actions linked */
} cq_oa_goal_t;

typedef struct {
    const json_t *data;
    cq_oa_action_t action[CQ_OPS_ALIGN_ACTIONS_MAX];
    cq_oa_goal_t goal[CQ_OPS_ALIGN_GOALS_MAX];
    size_t naction, ngoal;
    cq_termvec_t *foundation;
} cq_oa_t;

/* ---- status ------------------------------------------------------------------ */

static void cq_oa_norm(const char *in, char *out, size_t size)
{
    size_t k = 0;
    for (; in && *in && k + 1 < size; in++)
        out[k++] = (char)(*in == ' ' || *in == '-' ? '_' : tolower((unsigned char)*in));
    out[k] = '\0';
}

cq_ops_status_t cq_ops_align_status(const char *status)
{
    static const char *const classes[] = {"planned", "active", "blocked", "done", "cancelled"};
    const json_t *map = json_object_get(cq_ops_text_data("align.json"), "statuses");
    char want[64], have[64];
    cq_oa_norm(status, want, sizeof(want));
    for (size_t c = 0; c < CQ_ARRAY_SIZE(classes); c++) {
        const json_t *arr = json_object_get(map, classes[c]);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            cq_oa_norm(json_string_value(json_array_get(arr, i)), have, sizeof(have));
            if (strcmp(want, have) == 0)
                return (cq_ops_status_t)(c + 1);
        }
    }
    return CQ_OPS_STATUS_UNKNOWN;
}

/* ---- scoring ------------------------------------------------------------------- */

static int cq_oa_calibrate(double raw)
{
    if (!(raw > 0))
        return 0;
    if (raw > 1)
        raw = 1;
    long r = lround(100.0 * (1.0 - exp(-3.0 * raw)) / (1.0 - exp(-3.0)));
    return r < 0 ? 0 : r > 100 ? 100 : (int)r;
}

static double cq_oa_touch(const cq_termvec_t *item, const cq_termvec_t *const *docs,
                          const double *weights, size_t ndocs)
{
    double matched = 0;
    double share = cq_termvec_coverage_multi(item, docs, weights, ndocs, &matched);
    return 0.5 * share + 0.5 * (1.0 - exp(-matched));
}

static const char *cq_oa_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static void cq_oa_read(cq_oa_t *oa, const json_t *request)
{
    const json_t *actions = json_object_get(request, "actions");
    const json_t *goals = json_object_get(request, "goals");
    const json_t *bf = json_object_get(request, "businessFoundation");
    for (size_t i = 0; i < json_array_size(goals) && oa->ngoal < CQ_OPS_ALIGN_GOALS_MAX; i++) {
        const json_t *g = json_array_get(goals, i);
        cq_oa_goal_t *goal = &oa->goal[oa->ngoal++];
        goal->id = cq_oa_str(g, "id");
        goal->intent = cq_oa_str(g, "intent");
        goal->intent_vec = cq_termvec_new();
        cq_termvec_add_text(goal->intent_vec, goal->intent, 1.0);
        goal->strat_vec = cq_termvec_new();
        const json_t *st = json_object_get(g, "strategies");
        for (size_t k = 0; k < json_array_size(st); k++)
            cq_termvec_add_text(goal->strat_vec, json_string_value(json_array_get(st, k)), 1.0);
    }
    for (size_t i = 0; i < json_array_size(actions) && oa->naction < CQ_OPS_ALIGN_ACTIONS_MAX;
         i++) {
        const json_t *a = json_array_get(actions, i);
        cq_oa_action_t *act = &oa->action[oa->naction++];
        act->id = cq_oa_str(a, "id");
        act->title = cq_oa_str(a, "title");
        act->priority = cq_oa_str(a, "priority");
        act->status_text = cq_oa_str(a, "status");
        act->status = cq_ops_align_status(act->status_text);
        act->vec = cq_termvec_new();
        cq_termvec_add_text(act->vec, act->title, 1.0);
        cq_termvec_add_text(act->vec, cq_oa_str(a, "description"), 0.7);
    }
    oa->foundation = cq_termvec_new();
    cq_termvec_add_text(oa->foundation, cq_oa_str(bf, "vision"), 1.0);
    cq_termvec_add_text(oa->foundation, cq_oa_str(bf, "purpose"), 1.0);
    const json_t *values = json_object_get(bf, "coreValues");
    for (size_t k = 0; k < json_array_size(values); k++)
        cq_termvec_add_text(oa->foundation, json_string_value(json_array_get(values, k)), 1.0);
    cq_termvec_add_text(oa->foundation, cq_oa_str(bf, "valueProposition"), 0.8);
    cq_termvec_add_text(oa->foundation, cq_oa_str(bf, "targetMarket"), 0.6);
}

static void cq_oa_free(cq_oa_t *oa)
{
    for (size_t i = 0; i < oa->naction; i++)
        cq_termvec_destroy(oa->action[i].vec);
    for (size_t i = 0; i < oa->ngoal; i++) {
        cq_termvec_destroy(oa->goal[i].intent_vec);
        cq_termvec_destroy(oa->goal[i].strat_vec);
    }
    cq_termvec_destroy(oa->foundation);
}

static void cq_oa_score(cq_oa_t *oa)
{
    const double weights[] = {1.0, 0.7};
    const cq_termvec_t *found[] = {oa->foundation};
    const double found_w[] = {1.0};
    for (size_t a = 0; a < oa->naction; a++) {
        cq_oa_action_t *act = &oa->action[a];
        double best = -1;
        for (size_t g = 0; g < oa->ngoal; g++) {
            const cq_termvec_t *docs[] = {oa->goal[g].intent_vec, oa->goal[g].strat_vec};
            double matched = 0;
            double share = cq_termvec_coverage_multi(act->vec, docs, weights, 2, &matched);
            double raw = 0.45 * share + 0.25 * (1.0 - exp(-matched / 1.5)) +
                         0.30 * cq_termvec_coverage(oa->goal[g].intent_vec, act->vec);
            act->goal_raw[g] = raw;
            act->goal_score[g] = cq_oa_calibrate(raw);
            if (raw > best) {
                best = raw;
                act->best = g;
            }
            if (act->goal_score[g] >= CQ_OPS_ALIGN_LINK && act->status != CQ_OPS_STATUS_CANCELLED)
                oa->goal[g].served++;
        }
        act->found_raw =
            cq_termvec_total(oa->foundation) > 0 ? cq_oa_touch(act->vec, found, found_w, 1) : 0;
        act->found_score = cq_oa_calibrate(act->found_raw);
        act->raw = 0.75 * (best > 0 ? best : 0) + 0.25 * act->found_raw;
        act->score = cq_oa_calibrate(act->raw);
    }
}

/* ---- words ----------------------------------------------------------------------- */

/* Fills a template of data/align.json (section.name) with key/value pairs. */
static char *cq_oa_text(const cq_oa_t *oa, const char *section, const char *name,
                        const char *const *keys, const char *const *vals, size_t n)
{
    const char *tmpl = json_string_value(json_object_get(json_object_get(oa->data, section), name));
    return cq_ops_text_fill(tmpl ? tmpl : name, keys, vals, n);
}

static void cq_oa_push(json_t *arr, char *text, size_t max, size_t cap)
{
    if (json_array_size(arr) < cap) {
        char *cut = cq_ops_text_excerpt(text, max);
        json_array_append_new(arr, json_string(cut));
        free(cut);
    }
    free(text);
}

/* “a”, “b” and 3 more: a quoted list of up to five names. */
static void cq_oa_names(cq_ops_buf_t *b, const char *const *names, size_t n)
{
    char quoted[5][CQ_OPS_ALIGN_QUOTE + 8];
    const char *q[5];
    size_t shown = n < 5 ? n : 5;
    for (size_t i = 0; i < shown; i++) {
        cq_text_excerpt(names[i], CQ_OPS_ALIGN_QUOTE, quoted[i], sizeof(quoted[i]));
        q[i] = quoted[i];
    }
    cq_ops_buf_list(b, q, shown, n > shown ? ", " : " and ");
    if (n > shown)
        cq_ops_buf_printf(b, " and %zu more", n - shown);
}

static json_t *cq_oa_recommend(const cq_oa_t *oa, size_t a)
{
    const cq_oa_action_t *act = &oa->action[a];
    const cq_oa_goal_t *goal = &oa->goal[act->best];
    json_t *recs = json_array();
    char score[16], gscore[16], title[CQ_OPS_ALIGN_QUOTE + 8], intent[CQ_OPS_ALIGN_QUOTE + 8];
    snprintf(score, sizeof(score), "%d", act->score);
    snprintf(gscore, sizeof(gscore), "%d", act->goal_score[act->best]);
    cq_text_excerpt(act->title, CQ_OPS_ALIGN_QUOTE, title, sizeof(title));
    cq_text_excerpt(goal->intent, CQ_OPS_ALIGN_QUOTE, intent, sizeof(intent));
    const char *keys[] = {"action", "goal", "score", "priority", "status", "shared", "missing"};
    const char *vals[] = {title, intent, gscore, act->priority, act->status_text, "", ""};
    bool linked = act->goal_score[act->best] >= CQ_OPS_ALIGN_LINK;
    cq_ops_buf_t bs = {.len = 0}, bm = {.len = 0};

    if (act->status == CQ_OPS_STATUS_CANCELLED)
        return recs;
    if (!linked) {
        cq_oa_push(recs,
                   cq_oa_text(oa, "recommendations",
                              act->goal_score[act->best] > 0 ? "orphan" : "orphanNone", keys, vals,
                              7),
                   500, 5);
    } else if (act->status == CQ_OPS_STATUS_DONE) {
        cq_oa_push(recs, cq_oa_text(oa, "recommendations", "done", keys, vals, 7), 500, 5);
        return recs;
    } else if (act->goal_score[act->best] < CQ_OPS_ALIGN_EXPLICIT) {
        const char *shared[3], *missing[3];
        size_t ns = cq_termvec_shared_terms(act->vec, goal->intent_vec, shared, 3);
        size_t nm = cq_termvec_missing_terms(goal->intent_vec, act->vec, missing, 3);
        if (ns == 0)
            ns = cq_termvec_shared_terms(act->vec, goal->strat_vec, shared, 3);
        if (ns > 0 && nm > 0) {
            cq_ops_buf_list(&bs, shared, ns, " and ");
            cq_ops_buf_list(&bm, missing, nm, " or ");
            vals[5] = bs.buf;
            vals[6] = bm.buf;
            cq_oa_push(recs, cq_oa_text(oa, "recommendations", "explicit", keys, vals, 7), 500, 5);
        }
    }
    if (act->status == CQ_OPS_STATUS_BLOCKED && linked)
        cq_oa_push(recs, cq_oa_text(oa, "recommendations", "blocked", keys, vals, 7), 500, 5);
    bool high = strcmp(act->priority, "high") == 0 || strcmp(act->priority, "critical") == 0;
    vals[2] = score;
    if (high && act->score < CQ_OPS_ALIGN_LOW_CUT)
        cq_oa_push(recs, cq_oa_text(oa, "recommendations", "priorityHigh", keys, vals, 7), 500, 5);
    if (strcmp(act->priority, "low") == 0 && act->score >= CQ_OPS_ALIGN_HIGH_CUT)
        cq_oa_push(recs, cq_oa_text(oa, "recommendations", "priorityLow", keys, vals, 7), 500, 5);
    if (act->found_score < CQ_OPS_ALIGN_WEAK_FOUND) {
        const char *missing[3];
        size_t nm = cq_termvec_missing_terms(oa->foundation, act->vec, missing, 3);
        if (nm > 0) {
            bm.len = 0;
            bm.buf[0] = '\0';
            cq_ops_buf_list(&bm, missing, nm, " or ");
            vals[6] = bm.buf;
            cq_oa_push(recs, cq_oa_text(oa, "recommendations", "foundation", keys, vals, 7), 500,
                       5);
        }
    }
    /* Goals no action serves: named on the action closest to them. */
    for (size_t g = 0; g < oa->ngoal; g++) {
        if (oa->goal[g].served > 0)
            continue;
        size_t nearest = 0;
        for (size_t k = 1; k < oa->naction; k++)
            if (oa->action[k].goal_raw[g] > oa->action[nearest].goal_raw[g])
                nearest = k;
        if (nearest != a || act->goal_score[g] == 0)
            continue;
        char uncovered[CQ_OPS_ALIGN_QUOTE + 8], us[16];
        cq_text_excerpt(oa->goal[g].intent, CQ_OPS_ALIGN_QUOTE, uncovered, sizeof(uncovered));
        snprintf(us, sizeof(us), "%d", act->goal_score[g]);
        const char *uk[] = {"goal", "score"};
        const char *uv[] = {uncovered, us};
        cq_oa_push(recs, cq_oa_text(oa, "recommendations", "uncoveredNearest", uk, uv, 2), 500, 5);
    }
    if (json_array_size(recs) == 0 && linked)
        cq_oa_push(recs, cq_oa_text(oa, "recommendations", "strong", keys, vals, 7), 500, 5);
    return recs;
}

static json_t *cq_oa_connections(const cq_oa_t *oa, const cq_oa_action_t *act)
{
    size_t order[CQ_OPS_ALIGN_GOALS_MAX], n = 0;
    for (size_t g = 0; g < oa->ngoal; g++)
        if (act->goal_score[g] >= CQ_OPS_ALIGN_LINK)
            order[n++] = g;
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && act->goal_score[order[k]] > act->goal_score[order[k - 1]];
             k--) {
            size_t t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        int s = act->goal_score[order[i]];
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:i, s:s}", "goalId", oa->goal[order[i]].id, "goalTitle",
                           oa->goal[order[i]].intent, "alignmentScore", s, "impact",
                           s >= 70   ? "high"
                           : s >= 50 ? "medium"
                                     : "low"));
    }
    return arr;
}

static json_t *cq_oa_insights(const cq_oa_t *oa, int overall, double mean, size_t counted)
{
    json_t *out = json_array();
    const char *orphans[CQ_OPS_ALIGN_ACTIONS_MAX], *uncovered[CQ_OPS_ALIGN_GOALS_MAX];
    const char *unknown[CQ_OPS_ALIGN_ACTIONS_MAX];
    size_t norphan = 0, nuncovered = 0, nunknown = 0, linked = 0, high_low = 0, low_high = 0,
           blocked = 0;
    for (size_t a = 0; a < oa->naction; a++) {
        const cq_oa_action_t *act = &oa->action[a];
        bool is_linked = act->goal_score[act->best] >= CQ_OPS_ALIGN_LINK;
        if (act->status == CQ_OPS_STATUS_CANCELLED)
            continue;
        if (is_linked)
            linked++;
        else
            orphans[norphan++] = act->title;
        if (act->status == CQ_OPS_STATUS_UNKNOWN) {
            bool dup = false;
            for (size_t k = 0; k < nunknown && !dup; k++)
                dup = strcmp(unknown[k], act->status_text) == 0;
            if (!dup)
                unknown[nunknown++] = act->status_text;
        }
        bool high = strcmp(act->priority, "high") == 0 || strcmp(act->priority, "critical") == 0;
        high_low += high && act->score < CQ_OPS_ALIGN_LOW_CUT;
        low_high += strcmp(act->priority, "low") == 0 && act->score >= CQ_OPS_ALIGN_HIGH_CUT;
        blocked += act->status == CQ_OPS_STATUS_BLOCKED && is_linked;
    }
    size_t best_goal = 0;
    for (size_t g = 0; g < oa->ngoal; g++) {
        if (oa->goal[g].served == 0)
            uncovered[nuncovered++] = oa->goal[g].intent;
        if (oa->goal[g].served > oa->goal[best_goal].served)
            best_goal = g;
    }

    char s_overall[24], s_linked[16], s_actions[16], s_mean[16];
    snprintf(s_overall, sizeof(s_overall), "%d", overall);
    snprintf(s_linked, sizeof(s_linked), "%zu", linked);
    snprintf(s_actions, sizeof(s_actions), "%zu", counted);
    snprintf(s_mean, sizeof(s_mean), "%.0f", mean);
    const char *k1[] = {"overall", "linked", "actions", "mean"};
    const char *v1[] = {s_overall, s_linked, s_actions, s_mean};
    cq_oa_push(out, cq_oa_text(oa, "insights", "overall", k1, v1, 4), 1000, 10);

    cq_ops_buf_t b = {.len = 0};
    const char *kl[] = {"list"};
    const char *vl[] = {b.buf};
    if (norphan > 0) {
        cq_oa_names(&b, orphans, norphan);
        cq_oa_push(out, cq_oa_text(oa, "insights", "orphans", kl, vl, 1), 1000, 10);
    } else {
        cq_oa_push(out, cq_oa_text(oa, "insights", "noOrphans", NULL, NULL, 0), 1000, 10);
    }
    b.len = 0;
    b.buf[0] = '\0';
    if (nuncovered > 0) {
        cq_oa_names(&b, uncovered, nuncovered);
        cq_oa_push(out, cq_oa_text(oa, "insights", "uncovered", kl, vl, 1), 1000, 10);
    } else {
        cq_oa_push(out, cq_oa_text(oa, "insights", "covered", NULL, NULL, 0), 1000, 10);
    }
    if (oa->goal[best_goal].served > 0) {
        size_t strongest = 0;
        for (size_t a = 1; a < oa->naction; a++)
            if (oa->action[a].goal_raw[best_goal] > oa->action[strongest].goal_raw[best_goal])
                strongest = a;
        char goal[CQ_OPS_ALIGN_QUOTE + 8], action[CQ_OPS_ALIGN_QUOTE + 8], count[24], score[24];
        cq_text_excerpt(oa->goal[best_goal].intent, CQ_OPS_ALIGN_QUOTE, goal, sizeof(goal));
        cq_text_excerpt(oa->action[strongest].title, CQ_OPS_ALIGN_QUOTE, action, sizeof(action));
        snprintf(count, sizeof(count), "%zu", oa->goal[best_goal].served);
        snprintf(score, sizeof(score), "%d", oa->action[strongest].goal_score[best_goal]);
        const char *k[] = {"goal", "count", "action", "score"};
        const char *v[] = {goal, count, action, score};
        cq_oa_push(out, cq_oa_text(oa, "insights", "best", k, v, 4), 1000, 10);
    }
    if (high_low + low_high > 0) {
        char h[24], l[24], lc[24], hc[24];
        snprintf(h, sizeof(h), "%zu", high_low);
        snprintf(l, sizeof(l), "%zu", low_high);
        snprintf(lc, sizeof(lc), "%d", CQ_OPS_ALIGN_LOW_CUT);
        snprintf(hc, sizeof(hc), "%d", CQ_OPS_ALIGN_HIGH_CUT);
        const char *k[] = {"high", "low", "low_cut", "high_cut"};
        const char *v[] = {h, l, lc, hc};
        cq_oa_push(out, cq_oa_text(oa, "insights", "mismatch", k, v, 4), 1000, 10);
    }
    if (blocked > 0) {
        char c[24];
        snprintf(c, sizeof(c), "%zu", blocked);
        const char *k[] = {"count"};
        const char *v[] = {c};
        cq_oa_push(out, cq_oa_text(oa, "insights", "blocked", k, v, 1), 1000, 10);
    }
    if (nunknown > 0) {
        b.len = 0;
        b.buf[0] = '\0';
        cq_oa_names(&b, unknown, nunknown);
        cq_oa_push(out, cq_oa_text(oa, "insights", "unknown", kl, vl, 1), 1000, 10);
    }
    return out;
}

/* ---- entry point -------------------------------------------------------------------- */

cq_err_t cq_ops_align_compute(const json_t *request, int64_t now_ms, json_t **result, char *errstr,
                              size_t errstr_size)
{
    cq_err_t err = CQ_ERR_OK;
    CQ_UNUSED(now_ms);
    *result = NULL;
    if (!json_is_object(request)) {
        cq_errstr_set(errstr, errstr_size, "strategic-alignment request is not a JSON object");
        return CQ_ERR_BAD_REQUEST;
    }
    cq_oa_t *oa = cq_calloc(1, sizeof(*oa));
    oa->data = cq_ops_text_data("align.json");
    if (!oa->data) {
        cq_errstr_set(errstr, errstr_size, "strategic-alignment data file is missing or invalid");
        err = CQ_ERR_INTERNAL_ERROR;
        goto free_oa;
    }
    cq_oa_read(oa, request);
    bool goal_words = false, action_words = false;
    for (size_t g = 0; g < oa->ngoal; g++)
        goal_words = goal_words || cq_termvec_total(oa->goal[g].intent_vec) > 0;
    for (size_t a = 0; a < oa->naction; a++)
        action_words = action_words || cq_termvec_total(oa->action[a].vec) > 0;
    if (!goal_words || !action_words) {
        cq_errstr_set(errstr, errstr_size, "%s",
                      !goal_words ? "no goal intent has usable words"
                                  : "no action title or description has usable words");
        err = CQ_ERR_INSUFFICIENT_CONTEXT;
        goto free_oa;
    }
    cq_oa_score(oa);

    json_t *analysis = json_array();
    double sum = 0;
    size_t counted = 0, served = 0;
    for (size_t a = 0; a < oa->naction; a++) {
        const cq_oa_action_t *act = &oa->action[a];
        if (act->status != CQ_OPS_STATUS_CANCELLED) {
            sum += act->score;
            counted++;
        }
        json_array_append_new(
            analysis, json_pack("{s:s, s:i, s:o, s:o}", "actionId", act->id, "alignmentScore",
                                act->score, "strategicConnections", cq_oa_connections(oa, act),
                                "recommendations", cq_oa_recommend(oa, a)));
    }
    for (size_t g = 0; g < oa->ngoal; g++)
        served += oa->goal[g].served > 0;
    double mean = counted ? sum / (double)counted : 0;
    long overall = lround(mean * (0.8 + 0.2 * (double)served / (double)oa->ngoal));
    overall = overall < 0 ? 0 : overall > 100 ? 100 : overall;
    *result = json_pack("{s:o, s:i, s:o}", "alignmentAnalysis", analysis, "overallAlignment",
                        (int)overall, "insights", cq_oa_insights(oa, (int)overall, mean, counted));
    if (!*result) {
        cq_errstr_set(errstr, errstr_size, "could not build the strategic-alignment result");
        err = CQ_ERR_INTERNAL_ERROR;
    }
free_oa:
    cq_oa_free(oa);
    free(oa);
    return err;
}
