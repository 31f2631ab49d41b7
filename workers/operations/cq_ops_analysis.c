/*
 * cq_ops_analysis.c — built-in engine of the deprecated operations-analysis.
 *
 * swot: every sentence of the description is placed in the quadrant whose
 * cue words it carries most (cq_ops_swot_build, data/swot.json; a
 * negated strength is a weakness, ties go to weaknesses and threats).
 * Recommendations pair the first item of each quadrant the usual way
 * (strength x opportunity, weakness x opportunity, strength x threat,
 * weakness x threat), then name each quadrant's lead item; priority actions
 * are the weaknesses to fix, threats to mitigate and opportunities to
 * explore, in that order. A description without cue words gets one
 * recommendation saying how to write it so it can be placed.
 *
 * root_cause and action_plan: the request becomes the successor's request
 * (cq_ops_analysis_successor_request), the successor engine runs, and its
 * result is wrapped as findings.rootCauses / findings.actions. The
 * recommendations and priority actions are read from that result
 * (countermeasures, likely root causes and vital few; the actions' titles
 * by priority), so they say the same as the successor.
 *
 * The deprecation headers are not made here: the gateway sets them from
 * the contract (x-coachq-deprecation, x-coachq-sunset, successors).
 * Reentrant.
 */
#include "cq_ops_analysis.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_ops_actions.h"
#include "cq_ops_rootcause.h"
#include "cq_ops_swot.h"
#include "cq_ops_text.h"

#define CQ_OA_QUOTE       100
#define CQ_OA_TITLE_BYTES 190
#define CQ_OA_DESC_BYTES  4990 /* the successor's 5000-character limit, with "…" */
#define CQ_OA_LIST_MAX    10

static void cq_an_push(json_t *arr, const char *text, size_t max)
{
    if (json_array_size(arr) >= CQ_OA_LIST_MAX || !text || !text[0])
        return;
    char *cut = cq_ops_text_excerpt(text, max);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (strcmp(json_string_value(json_array_get(arr, i)), cut) == 0) {
            free(cut);
            return;
        }
    }
    json_array_append_new(arr, json_string(cut));
    free(cut);
}

/* ---- swot ---------------------------------------------------------------------- */

static char *cq_an_first(const json_t *swot, const char *quadrant)
{
    const char *s = json_string_value(json_array_get(json_object_get(swot, quadrant), 0));
    return s ? cq_ops_text_excerpt(s, CQ_OA_QUOTE) : NULL;
}

static cq_err_t cq_an_swot(const json_t *request, json_t **result, char *errstr, size_t errstr_size)
{
    const json_t *data = cq_ops_text_data("swot.json");
    const json_t *recs_t = json_object_get(data, "recommendations");
    const json_t *acts_t = json_object_get(data, "priorityActions");
    json_t *swot =
        cq_ops_swot_build(json_string_value(json_object_get(request, "description")), NULL);
    if (!swot || !recs_t || !acts_t) {
        json_decref(swot);
        cq_errstr_set(errstr, errstr_size, "SWOT data file is missing or invalid");
        return CQ_ERR_INTERNAL_ERROR;
    }
    char *s = cq_an_first(swot, "strengths"), *w = cq_an_first(swot, "weaknesses");
    char *o = cq_an_first(swot, "opportunities"), *t = cq_an_first(swot, "threats");
    const char *keys[] = {"s", "w", "o", "t"};
    const char *vals[] = {s, w, o, t};
    static const struct {
        const char *name;
        bool s, w, o, t;
    } rules[] = {
        {"so", 1, 0, 1, 0}, {"wo", 0, 1, 1, 0}, {"st", 1, 0, 0, 1}, {"wt", 0, 1, 0, 1},
        {"w", 0, 1, 0, 0},  {"t", 0, 0, 0, 1},  {"o", 0, 0, 1, 0},  {"s", 1, 0, 0, 0},
    };
    json_t *recs = json_array(), *actions = json_array();
    for (size_t i = 0; i < CQ_ARRAY_SIZE(rules); i++) {
        if ((rules[i].s && !s) || (rules[i].w && !w) || (rules[i].o && !o) || (rules[i].t && !t))
            continue;
        char *r = cq_ops_text_fill(json_string_value(json_object_get(recs_t, rules[i].name)), keys,
                                   vals, 4);
        cq_an_push(recs, r, 1000);
        free(r);
    }
    if (!s && !w && !o && !t)
        cq_an_push(recs, json_string_value(json_object_get(recs_t, "none")), 1000);
    static const struct {
        const char *quadrant, *tmpl;
        size_t max;
    } pa[] = {{"weaknesses", "w", 3}, {"threats", "t", 3}, {"opportunities", "o", 2}};
    for (size_t q = 0; q < CQ_ARRAY_SIZE(pa); q++) {
        const json_t *items = json_object_get(swot, pa[q].quadrant);
        for (size_t i = 0; i < json_array_size(items) && i < pa[q].max; i++) {
            char *item = cq_ops_text_excerpt(json_string_value(json_array_get(items, i)), 300);
            const char *k[] = {pa[q].tmpl};
            const char *v[] = {item};
            char *a =
                cq_ops_text_fill(json_string_value(json_object_get(acts_t, pa[q].tmpl)), k, v, 1);
            cq_an_push(actions, a, 500);
            free(a);
            free(item);
        }
    }
    free(s);
    free(w);
    free(o);
    free(t);
    *result = json_pack("{s:s, s:o, s:o, s:o}", "analysisType", "swot", "findings", swot,
                        "recommendations", recs, "priorityActions", actions);
    return CQ_ERR_OK;
}

/* ---- successors ------------------------------------------------------------------- */

/* The first sentence of the description that names an impact cue word. */
static char *cq_an_impact(const char *description)
{
    const json_t *sev = json_object_get(cq_ops_text_data("actions.json"), "severity");
    static const char *const levels[] = {"critical", "high"};
    cq_ops_sentence_t s[64];
    size_t n = cq_ops_text_sentences(description, s, CQ_ARRAY_SIZE(s));
    for (size_t i = 0; i < n; i++) {
        char *sentence = cq_ops_text_sentence_dup(&s[i], 1000);
        for (size_t l = 0; l < CQ_ARRAY_SIZE(levels); l++) {
            const json_t *words = json_object_get(sev, levels[l]);
            for (size_t k = 0; k < json_array_size(words); k++) {
                const char *w = json_string_value(json_array_get(words, k));
                if (w && cq_ops_text_contains(sentence, w))
                    return sentence;
            }
        }
        free(sentence);
    }
    return cq_strdup("Not stated: the description names no business impact.");
}

/* Cuts title before its first causal cue when at least two words stay. */
static void cq_an_cut_cause(char *title)
{
    const json_t *cues = json_object_get(cq_ops_text_data("rootcause.json"), "causalCues");
    char *cut = NULL;
    for (size_t i = 0; i < json_array_size(cues); i++) {
        const char *cue = json_string_value(json_array_get(cues, i));
        size_t cl = strlen(cue);
        for (char *p = title + 1; *p; p++) {
            if (p[-1] == ' ' && strncasecmp(p, cue, cl) == 0 && !isalnum((unsigned char)p[cl])) {
                if (!cut || p < cut)
                    cut = p;
                break;
            }
        }
    }
    if (!cut)
        return;
    size_t words = 0;
    for (char *p = title; p < cut; p++)
        words += isalnum((unsigned char)*p) && (p == title || !isalnum((unsigned char)p[-1]));
    if (words < 2)
        return;
    while (cut > title && (cut[-1] == ' ' || cut[-1] == ','))
        cut--;
    *cut = '\0';
}

static void cq_an_copy(json_t *dst, const char *dst_key, const json_t *ctx, const char *key)
{
    json_t *v = json_object_get(ctx, key);
    if (v)
        json_object_set(dst, dst_key, v);
}

static json_t *cq_an_array_or_empty(const json_t *ctx, const char *key)
{
    json_t *v = json_object_get(ctx, key);
    return json_is_array(v) ? json_incref(v) : json_array();
}

json_t *cq_ops_analysis_successor_request(const json_t *request)
{
    const char *type = json_string_value(json_object_get(request, "analysisType"));
    const char *description = json_string_value(json_object_get(request, "description"));
    const json_t *ctx = json_object_get(request, "context");
    bool root = type && strcmp(type, "root_cause") == 0;
    if (!description || !type || (!root && strcmp(type, "action_plan") != 0))
        return NULL;

    char *title = NULL;
    const char *given = json_string_value(json_object_get(ctx, "title"));
    if (given) {
        title = cq_strdup(given);
    } else {
        /* The first sentence, without the cause it may state ("Complaints
         * doubled because tickets wait" -> "Complaints doubled"). */
        cq_ops_sentence_t s[1];
        title = cq_ops_text_sentences(description, s, 1)
                    ? cq_ops_text_sentence_dup(s, CQ_OA_TITLE_BYTES)
                    : cq_ops_text_excerpt(description, CQ_OA_TITLE_BYTES);
        cq_an_cut_cause(title);
    }
    char *desc = cq_ops_text_excerpt(description, CQ_OA_DESC_BYTES);
    const char *impact_given = json_string_value(json_object_get(ctx, "businessImpact"));
    char *impact = impact_given ? cq_strdup(impact_given) : cq_an_impact(description);

    json_t *out = NULL;
    if (root) {
        out = json_pack("{s:s, s:s, s:s}", "issueTitle", title, "issueDescription", desc,
                        "businessImpact", impact);
        if (json_object_get(ctx, "relatedActions") || json_object_get(ctx, "affectedAreas"))
            json_object_set_new(out, "context",
                                json_pack("{s:o, s:o}", "relatedActions",
                                          cq_an_array_or_empty(ctx, "relatedActions"),
                                          "affectedAreas",
                                          cq_an_array_or_empty(ctx, "affectedAreas")));
    } else {
        out = json_pack("{s:{s:s, s:s, s:s}}", "issue", "title", title, "description", desc,
                        "impact", impact);
        if (json_object_get(ctx, "timeline") || json_object_get(ctx, "budget") ||
            json_object_get(ctx, "availableResources")) {
            json_t *c = json_pack("{s:o}", "availableResources",
                                  cq_an_array_or_empty(ctx, "availableResources"));
            cq_an_copy(c, "timeline", ctx, "timeline");
            cq_an_copy(c, "budget", ctx, "budget");
            json_object_set_new(out, "constraints", c);
        }
        if (json_object_get(ctx, "relatedGoals") || json_object_get(ctx, "businessPriorities"))
            json_object_set_new(out, "context",
                                json_pack("{s:o, s:[], s:o}", "relatedGoals",
                                          cq_an_array_or_empty(ctx, "relatedGoals"),
                                          "currentActions", "businessPriorities",
                                          cq_an_array_or_empty(ctx, "businessPriorities")));
    }
    free(title);
    free(desc);
    free(impact);
    return out;
}

static void cq_an_root_advice(const json_t *causes, json_t *recs, json_t *actions)
{
    for (size_t i = 0; i < json_array_size(causes); i++) {
        const json_t *c = json_array_get(causes, i);
        const char *method = json_string_value(json_object_get(c, "method"));
        const json_t *sug = json_object_get(c, "suggestions");
        if (strcmp(method, "five_whys") == 0) {
            cq_an_push(recs, json_string_value(json_object_get(sug, "rootCause")), 1000);
            const json_t *cm = json_object_get(sug, "countermeasures");
            for (size_t k = 0; k < json_array_size(cm); k++) {
                cq_an_push(recs, json_string_value(json_array_get(cm, k)), 1000);
                if (k < 3)
                    cq_an_push(actions, json_string_value(json_array_get(cm, k)), 500);
            }
        } else if (strcmp(method, "fishbone") == 0) {
            const json_t *likely = json_object_get(sug, "likelyRootCauses");
            for (size_t k = 0; k < json_array_size(likely); k++) {
                char *r =
                    cq_asprintf("Investigate %s", json_string_value(json_array_get(likely, k)));
                cq_an_push(recs, r, 1000);
                free(r);
            }
        } else if (strcmp(method, "pareto") == 0) {
            const json_t *vital = json_object_get(sug, "vitalFew");
            for (size_t k = 0; k < json_array_size(vital); k++) {
                char *r =
                    cq_asprintf("Tackle first: %s", json_string_value(json_array_get(vital, k)));
                cq_an_push(actions, r, 500);
                free(r);
            }
        }
    }
}

static void cq_an_plan_advice(const json_t *plan, json_t *recs, json_t *actions)
{
    static const char *const order[] = {"critical", "high", "medium", "low"};
    for (size_t i = 0; i < json_array_size(plan); i++) {
        const json_t *a = json_array_get(plan, i);
        char *r = cq_asprintf("%s: %s", json_string_value(json_object_get(a, "title")),
                              json_string_value(json_object_get(a, "expectedOutcome")));
        cq_an_push(recs, r, 1000);
        free(r);
    }
    for (size_t p = 0; p < CQ_ARRAY_SIZE(order) && json_array_size(actions) < 3; p++)
        for (size_t i = 0; i < json_array_size(plan); i++) {
            const json_t *a = json_array_get(plan, i);
            if (strcmp(json_string_value(json_object_get(a, "priority")), order[p]) == 0)
                cq_an_push(actions, json_string_value(json_object_get(a, "title")), 500);
        }
}

/* ---- entry point ---------------------------------------------------------------------- */

cq_err_t cq_ops_analysis_compute(const json_t *request, int64_t now_ms, json_t **result,
                                 char *errstr, size_t errstr_size)
{
    *result = NULL;
    const char *type = json_string_value(json_object_get(request, "analysisType"));
    if (!json_is_object(request) || !type) {
        cq_errstr_set(errstr, errstr_size, "operations-analysis request has no analysisType");
        return CQ_ERR_BAD_REQUEST;
    }
    if (strcmp(type, "swot") == 0)
        return cq_an_swot(request, result, errstr, errstr_size);
    json_t *sub = cq_ops_analysis_successor_request(request);
    if (!sub) {
        cq_errstr_set(errstr, errstr_size, "unknown analysisType \u201c%s\u201d", type);
        return CQ_ERR_BAD_REQUEST;
    }
    bool root = strcmp(type, "root_cause") == 0;
    json_t *found = NULL;
    cq_err_t err = root ? cq_ops_rootcause_compute(sub, now_ms, &found, errstr, errstr_size)
                        : cq_ops_actions_compute(sub, now_ms, &found, errstr, errstr_size);
    json_decref(sub);
    if (err != CQ_ERR_OK)
        return err;
    json_t *recs = json_array(), *actions = json_array();
    if (root)
        cq_an_root_advice(found, recs, actions);
    else
        cq_an_plan_advice(found, recs, actions);
    *result = json_pack("{s:s, s:{s:o}, s:o, s:o}", "analysisType", type, "findings",
                        root ? "rootCauses" : "actions", found, "recommendations", recs,
                        "priorityActions", actions);
    return CQ_ERR_OK;
}
