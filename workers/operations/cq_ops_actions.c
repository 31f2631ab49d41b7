/*
 * cq_ops_actions.c — built-in engine of action-suggestions: a short,
 * dependency-ordered plan for one issue, deterministically.
 *
 * Plan. The steps are data (data/actions.json), in the order contain,
 * confirm, fix, prevent, measure; dependencies among them are fixed by the
 * data (fix after confirm, prevent and measure after fix) and written as
 * the titles of the actions they name. Which steps run:
 *  - 3 (contain, confirm, fix) when the timeline allows a week or less;
 *  - 5 (all) when the request names related goals or business priorities,
 *    or the timeline allows four weeks or more;
 *  - 4 (without measure) otherwise.
 *
 * Words. The title quotes the issue; the fix is named by the fishbone
 * category (data/rootcause.json) that the root cause's words fall into, or
 * the issue's words when no root cause is given ("Redesign the delivery
 * process", "Repair or replace the van"). With a root cause, "confirm"
 * becomes a shorter verification of it.
 *
 * Numbers. Severity (critical, high, medium, low) comes from cue words in
 * the impact and description; the contain/confirm/fix steps take it, later
 * steps one level less. Hours are the steps' base hours (x1.25 for a
 * critical issue); when the timeline gives fewer hours than the plan needs
 * (one person per listed resource, at least one), every duration is scaled
 * to fit and the fix carries a timeline risk. With a budget, 90 % of it is
 * shared over the actions by hours x cost weight (10 % reserve); without
 * one no cost is given. The owner is the listed resource whose words best
 * match the step's role words (soft cosine, cq_termvec), else the step's
 * role. Confidence rises with a stated root cause, constraints and a
 * recognised category, and is lower for the later steps.
 *
 * Reentrant: data files are parsed and lexicons built once (cq_ops_text);
 * everything else is per call and bounded by the request schema.
 */
#include "cq_ops_actions.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_ops_rootcause.h"
#include "cq_ops_text.h"
#include "cq_termvec.h"
#include "cq_text.h"

#define CQ_ACT_STEPS_MAX 5
#define CQ_ACT_QUOTE     120 /* bytes of a quoted user text in a title or prose */
#define CQ_ACT_TITLE_MAX 190
#define CQ_ACT_CATS_MAX  8
#define CQ_ACT_TERMS     4
#define CQ_ACT_RESERVE   0.10
#define CQ_ACT_OVERLAP   0.5

static const char *const cq_act_priorities[] = {"low", "medium", "high", "critical"};

typedef struct {
    const json_t *step; /* its data object */
    const char *key;
    char *title;
    double hours;
    int priority; /* index into cq_act_priorities */
} cq_act_step_t;

typedef struct {
    const json_t *data, *issue, *constraints, *context;
    char *issue_q, *impact_q, *cause_q; /* quoted excerpts */
    bool has_cause;
    const char *category; /* fishbone category of the cause, or NULL */
    char *terms[CQ_ACT_TERMS];
    size_t nterms;
    int severity;
    double timeline_hours; /* 0: not given */
    cq_act_step_t step[CQ_ACT_STEPS_MAX];
    size_t nstep;
} cq_act_t;

static const char *cq_act_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* ---- reading ---------------------------------------------------------------- */

double cq_ops_actions_timeline_hours(const char *timeline)
{
    static const struct {
        const char *unit;
        double hours;
    } units[] = {{"hour", 1},  {"hr", 1},  {"h", 1},  {"day", 8},     {"d", 8},
                 {"week", 40}, {"wk", 40}, {"w", 40}, {"month", 160}, {"quarter", 480}};
    if (!timeline)
        return 0;
    for (const char *p = timeline; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > timeline && isdigit((unsigned char)p[-1])))
            continue;
        char *end = NULL;
        double n = strtod(p, &end);
        /* "1-2 weeks": the unit follows the range. */
        const char *u = end;
        if (*u == '-' || *u == '/') {
            u++;
            while (isdigit((unsigned char)*u) || *u == '.')
                u++;
        }
        while (*u == ' ')
            u++;
        if (strncasecmp(u, "working ", 8) == 0 || strncasecmp(u, "business ", 9) == 0)
            u = strchr(u, ' ') + 1;
        for (size_t i = 0; i < CQ_ARRAY_SIZE(units); i++) {
            size_t ul = strlen(units[i].unit);
            if (strncasecmp(u, units[i].unit, ul) == 0 &&
                (!isalpha((unsigned char)u[ul]) || tolower((unsigned char)u[ul]) == 's'))
                return n > 0 ? n * units[i].hours : 0;
        }
    }
    return 0;
}

/* Severity from cue words of the impact and the description. */
typedef struct {
    const json_t *stems;
    int hits[3]; /* critical, high, low */
} cq_act_sev_ctx_t;

static void cq_act_sev_token(const char *token, size_t len, void *ctx_)
{
    cq_act_sev_ctx_t *ctx = ctx_;
    CQ_UNUSED(len);
    int c = cq_ops_text_lexicon_class(ctx->stems, token);
    if (c >= 0 && c < 3)
        ctx->hits[c]++;
}

static json_t *cq_act_severity_classes(void)
{
    const json_t *sev = json_object_get(cq_ops_text_data("actions.json"), "severity");
    if (!sev)
        return NULL;
    return json_pack("{s:O, s:O, s:O}", "critical", json_object_get(sev, "critical"), "high",
                     json_object_get(sev, "high"), "low", json_object_get(sev, "low"));
}

static int cq_act_severity(const cq_act_t *act)
{
    const json_t *stems = cq_ops_text_lexicon("actions.severity", cq_act_severity_classes);
    cq_act_sev_ctx_t ctx = {.stems = stems};
    cq_text_tokenize(cq_act_str(act->issue, "impact"), cq_act_sev_token, &ctx);
    cq_text_tokenize(cq_act_str(act->issue, "description"), cq_act_sev_token, &ctx);
    if (ctx.hits[0] > 0)
        return 3;
    if (ctx.hits[1] > 0)
        return ctx.hits[2] > ctx.hits[1] ? 1 : 2;
    return ctx.hits[2] > 0 ? 0 : 1;
}

typedef struct {
    const json_t *stems;
    int ncat;
    double weight[CQ_ACT_CATS_MAX];
    char *terms[CQ_ACT_CATS_MAX][CQ_ACT_TERMS];
    size_t nterms[CQ_ACT_CATS_MAX];
} cq_act_cat_ctx_t;

static void cq_act_cat_token(const char *token, size_t len, void *ctx_)
{
    cq_act_cat_ctx_t *ctx = ctx_;
    CQ_UNUSED(len);
    if (cq_text_is_stopword(token))
        return;
    int c = cq_ops_text_lexicon_class(ctx->stems, token);
    if (c < 0 || c >= ctx->ncat)
        return;
    ctx->weight[c] += 1.0;
    for (size_t i = 0; i < ctx->nterms[c]; i++)
        if (strcmp(ctx->terms[c][i], token) == 0)
            return;
    if (ctx->nterms[c] < CQ_ACT_TERMS)
        ctx->terms[c][ctx->nterms[c]++] = cq_strdup(token);
}

/* The fishbone category of the cause (or of the issue without one) and its terms. */
static void cq_act_classify(cq_act_t *act)
{
    const json_t *fish = json_object_get(cq_ops_text_data("rootcause.json"), "fishbone");
    cq_act_cat_ctx_t ctx = {.stems = cq_ops_rootcause_fishbone_stems()};
    ctx.ncat =
        (int)(json_array_size(fish) < CQ_ACT_CATS_MAX ? json_array_size(fish) : CQ_ACT_CATS_MAX);
    if (act->has_cause) {
        cq_text_tokenize(cq_act_str(act->issue, "rootCause"), cq_act_cat_token, &ctx);
        /* The title's words only break ties and fill in when the cause has none. */
        for (int c = 0; c < ctx.ncat; c++)
            ctx.weight[c] *= 3.0;
    }
    cq_text_tokenize(cq_act_str(act->issue, "title"), cq_act_cat_token, &ctx);
    cq_text_tokenize(cq_act_str(act->issue, "description"), cq_act_cat_token, &ctx);
    int best = -1;
    for (int c = 0; c < ctx.ncat; c++)
        if (ctx.weight[c] > 0 && (best < 0 || ctx.weight[c] > ctx.weight[best]))
            best = c;
    if (best >= 0) {
        act->category = cq_act_str(json_array_get(fish, (size_t)best), "name");
        for (size_t i = 0; i < ctx.nterms[best]; i++) {
            act->terms[i] = ctx.terms[best][i];
            ctx.terms[best][i] = NULL;
        }
        act->nterms = ctx.nterms[best];
    }
    for (int c = 0; c < ctx.ncat; c++)
        for (size_t i = 0; i < ctx.nterms[c]; i++)
            free(ctx.terms[c][i]);
}

/* ---- building ------------------------------------------------------------------ */

/* Fills a step template with the plan's words. New string. */
static char *cq_act_fill(const cq_act_t *act, const char *tmpl, const char *goal)
{
    cq_ops_buf_t terms = {.len = 0};
    cq_ops_buf_list(&terms, (const char *const *)act->terms, act->nterms, " and ");
    char category[64] = "process";
    if (act->category) {
        cq_strlcpy(category, act->category, sizeof(category));
        for (char *p = category; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    const char *keys[] = {"issue", "impact", "cause", "category", "terms", "term", "goal"};
    const char *vals[] = {act->issue_q,    act->impact_q, act->cause_q,
                          category,        terms.buf,     act->nterms ? act->terms[0] : "work",
                          goal ? goal : ""};
    return cq_ops_text_fill(tmpl ? tmpl : "", keys, vals, CQ_ARRAY_SIZE(keys));
}

static const cq_act_step_t *cq_act_find(const cq_act_t *act, const char *key)
{
    for (size_t i = 0; i < act->nstep; i++)
        if (strcmp(act->step[i].key, key) == 0)
            return &act->step[i];
    return NULL;
}

/* The listed resource that fits the step best, or NULL. */
static const char *cq_act_owner(const cq_act_t *act, const json_t *step)
{
    const json_t *res = json_object_get(act->constraints, "availableResources");
    cq_termvec_t *role = cq_termvec_new();
    const json_t *words = json_object_get(step, "roleWords");
    for (size_t i = 0; i < json_array_size(words); i++)
        cq_termvec_add_text(role, json_string_value(json_array_get(words, i)), 1.0);
    if (act->category)
        cq_termvec_add_text(role, act->category, 0.5);
    const char *best = NULL;
    double best_sim = 0;
    for (size_t i = 0; i < json_array_size(res); i++) {
        const char *r = json_string_value(json_array_get(res, i));
        cq_termvec_t *v = cq_termvec_new();
        cq_termvec_add_text(v, r, 1.0);
        double sim = cq_termvec_cosine(role, v);
        cq_termvec_destroy(v);
        if (sim > best_sim) {
            best_sim = sim;
            best = r;
        }
    }
    cq_termvec_destroy(role);
    return best;
}

/* The related goal or business priority closest to the issue, as
 * " toward the goal “…”", or NULL. New string. */
static char *cq_act_goal_link(const cq_act_t *act)
{
    cq_termvec_t *issue = cq_termvec_new();
    cq_termvec_add_text(issue, cq_act_str(act->issue, "title"), 1.0);
    cq_termvec_add_text(issue, cq_act_str(act->issue, "impact"), 0.8);
    const char *lists[] = {"relatedGoals", "businessPriorities"};
    const char *best = NULL, *best_kind = NULL;
    double best_sim = -1;
    for (size_t l = 0; l < 2; l++) {
        const json_t *arr = json_object_get(act->context, lists[l]);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            cq_termvec_t *v = cq_termvec_new();
            cq_termvec_add_text(v, json_string_value(json_array_get(arr, i)), 1.0);
            double sim = cq_termvec_cosine(issue, v);
            cq_termvec_destroy(v);
            if (sim > best_sim) {
                best_sim = sim;
                best = json_string_value(json_array_get(arr, i));
                best_kind = l == 0 ? "goal" : "business priority";
            }
        }
    }
    cq_termvec_destroy(issue);
    if (!best)
        return NULL;
    char *q = cq_ops_text_excerpt(best, CQ_ACT_QUOTE);
    char *out =
        cq_asprintf(", reporting it as progress toward the %s \u201c%s\u201d", best_kind, q);
    free(q);
    return out;
}

/* The first current action that covers most of the fix's words, or NULL. */
static const char *cq_act_overlap(const cq_act_t *act, const char *fix_title)
{
    const json_t *cur = json_object_get(act->context, "currentActions");
    cq_termvec_t *fix = cq_termvec_new();
    cq_termvec_add_text(fix, fix_title, 1.0);
    const char *found = NULL;
    for (size_t i = 0; i < json_array_size(cur) && !found; i++) {
        cq_termvec_t *v = cq_termvec_new();
        cq_termvec_add_text(v, json_string_value(json_array_get(cur, i)), 1.0);
        if (cq_termvec_coverage(v, fix) >= CQ_ACT_OVERLAP && cq_termvec_total(v) > 0)
            found = json_string_value(json_array_get(cur, i));
        cq_termvec_destroy(v);
    }
    cq_termvec_destroy(fix);
    return found;
}

static void cq_act_choose_steps(cq_act_t *act)
{
    const json_t *steps = json_object_get(act->data, "steps");
    bool linked = json_array_size(json_object_get(act->context, "relatedGoals")) > 0 ||
                  json_array_size(json_object_get(act->context, "businessPriorities")) > 0;
    size_t count = 4;
    if (act->timeline_hours > 0 && act->timeline_hours <= 40)
        count = 3;
    else if (linked || act->timeline_hours >= 160)
        count = 5;
    for (size_t i = 0; i < json_array_size(steps) && act->nstep < count; i++) {
        const json_t *s = json_array_get(steps, i);
        const char *key = cq_act_str(s, "key");
        if (!key)
            continue;
        cq_act_step_t *st = &act->step[act->nstep++];
        st->step = s;
        st->key = key;
        bool verify = strcmp(key, "confirm") == 0 && act->has_cause;
        const char *tmpl = cq_act_str(s, verify ? "verifyTitle" : "title");
        const json_t *by = json_object_get(s, "byCategory");
        if (by && act->category && act->nterms > 0 && cq_act_str(by, act->category))
            tmpl = cq_act_str(by, act->category);
        char *title = cq_act_fill(act, tmpl, NULL);
        st->title = cq_ops_text_excerpt(title, CQ_ACT_TITLE_MAX);
        free(title);
        st->hours = json_number_value(json_object_get(s, verify ? "verifyHours" : "hours"));
        if (!(st->hours > 0))
            st->hours = 8;
        if (act->severity == 3)
            st->hours *= 1.25;
        int p = act->severity - (int)json_integer_value(json_object_get(s, "priorityDrop"));
        st->priority = p < 0 ? 0 : p;
    }
}

static json_t *cq_act_build(cq_act_t *act)
{
    const json_t *risks_data = json_object_get(act->data, "constraintRisks");
    const json_t *res = json_object_get(act->constraints, "availableResources");
    const json_t *budget = json_object_get(act->constraints, "budget");
    const char *timeline = cq_act_str(act->constraints, "timeline");
    size_t people = json_array_size(res) > 0 ? json_array_size(res) : 1;
    double total = 0, weighted = 0;
    for (size_t i = 0; i < act->nstep; i++)
        total += act->step[i].hours;
    bool tight = act->timeline_hours > 0 && total > act->timeline_hours * (double)people;
    double scale = tight ? act->timeline_hours * (double)people / total : 1.0;
    for (size_t i = 0; i < act->nstep; i++) {
        act->step[i].hours = fmax(1.0, round(act->step[i].hours * scale * 2.0) / 2.0);
        weighted += act->step[i].hours *
                    json_number_value(json_object_get(act->step[i].step, "costWeight"));
    }
    char *goal = cq_act_goal_link(act);
    json_t *out = json_array();
    for (size_t i = 0; i < act->nstep; i++) {
        cq_act_step_t *st = &act->step[i];
        const json_t *s = st->step;
        bool verify = strcmp(st->key, "confirm") == 0 && act->has_cause;
        char *desc =
            cq_act_fill(act, cq_act_str(s, verify ? "verifyDescription" : "description"), goal);
        char *outcome = cq_act_fill(act, cq_act_str(s, "outcome"), NULL);
        json_t *deps = json_array();
        const json_t *dep_keys = json_object_get(s, "dependsOn");
        for (size_t d = 0; d < json_array_size(dep_keys); d++) {
            const cq_act_step_t *dep =
                cq_act_find(act, json_string_value(json_array_get(dep_keys, d)));
            if (dep)
                json_array_append_new(deps, json_string(dep->title));
        }
        json_t *risks = json_array();
        const json_t *own = json_object_get(s, "risks");
        for (size_t r = 0; r < json_array_size(own); r++)
            json_array_append(risks, json_array_get(own, r));
        bool is_fix = strcmp(st->key, "fix") == 0;
        char *extra[4] = {NULL, NULL, NULL, NULL};
        if (is_fix && tight) {
            const char *k[] = {"timeline"};
            const char *v[] = {timeline};
            extra[0] = cq_ops_text_fill(cq_act_str(risks_data, "timeline"), k, v, 1);
        }
        if (is_fix && json_is_number(budget)) {
            char amount[48];
            snprintf(amount, sizeof(amount), "%.0f", json_number_value(budget));
            const char *k[] = {"budget"};
            const char *v[] = {amount};
            extra[1] = cq_ops_text_fill(cq_act_str(risks_data, "budget"), k, v, 1);
        }
        if (is_fix && json_array_size(res) == 0)
            extra[2] = cq_strdup(cq_act_str(risks_data, "noResources"));
        if (is_fix && !act->has_cause)
            extra[3] = cq_strdup(cq_act_str(risks_data, "unverified"));
        for (size_t r = 0; r < 4; r++) {
            if (extra[r])
                json_array_append_new(risks, json_string(extra[r]));
            free(extra[r]);
        }
        const char *overlap = is_fix ? cq_act_overlap(act, st->title) : NULL;
        if (overlap) {
            char *q = cq_ops_text_excerpt(overlap, CQ_ACT_QUOTE);
            const char *k[] = {"action"};
            const char *v[] = {q};
            char *r = cq_ops_text_fill(cq_act_str(risks_data, "overlap"), k, v, 1);
            json_array_append_new(risks, json_string(r));
            free(r);
            free(q);
        }

        double conf =
            0.5 + (act->has_cause ? 0.15 : 0) +
            (json_object_size(act->constraints) > 0 ? 0.05 : 0) + (act->category ? 0.05 : 0) -
            (strcmp(st->key, "prevent") == 0 || strcmp(st->key, "measure") == 0 ? 0.1 : 0);
        cq_ops_buf_t why = {.len = 0};
        cq_ops_buf_printf(&why, "Step %zu of %zu (%s). ", i + 1, act->nstep, st->key);
        if (is_fix && act->category)
            cq_ops_buf_printf(&why, "The %s's words fall mostly into %s (",
                              act->has_cause ? "root cause" : "issue", act->category);
        if (is_fix && act->category) {
            cq_ops_buf_list(&why, (const char *const *)act->terms, act->nterms, ", ");
            cq_ops_buf_printf(&why, "), so the fix works there. ");
        }
        cq_ops_buf_printf(&why, "Priority %s follows the issue's severity (%s)%s.",
                          cq_act_priorities[st->priority], cq_act_priorities[act->severity],
                          st->priority < act->severity ? ", one level lower as a follow-up" : "");
        if (tight)
            cq_ops_buf_printf(&why, " Durations were scaled by %.2f to fit the timeline.", scale);

        const char *owner = cq_act_owner(act, s);
        char *role =
            owner ? cq_ops_text_excerpt(owner, 200) : cq_act_fill(act, cq_act_str(s, "role"), NULL);
        json_t *item =
            json_pack("{s:s, s:s, s:s, s:f, s:s, s:o, s:f, s:s, s:s, s:o}", "title", st->title,
                      "description", desc, "priority", cq_act_priorities[st->priority],
                      "estimatedDuration", st->hours, "assignmentSuggestion", role, "dependencies",
                      deps, "confidence", round(fmin(conf, 0.9) * 100.0) / 100.0, "reasoning",
                      why.buf, "expectedOutcome", outcome, "risks", risks);
        if (json_is_number(budget) && weighted > 0) {
            double share =
                st->hours * json_number_value(json_object_get(s, "costWeight")) / weighted;
            json_object_set_new(
                item, "estimatedCost",
                json_real(floor(json_number_value(budget) * (1.0 - CQ_ACT_RESERVE) * share)));
        }
        json_array_append_new(out, item);
        free(role);
        free(desc);
        free(outcome);
    }
    free(goal);
    return out;
}

/* ---- entry point ----------------------------------------------------------------- */

cq_err_t cq_ops_actions_compute(const json_t *request, int64_t now_ms, json_t **result,
                                char *errstr, size_t errstr_size)
{
    cq_err_t err = CQ_ERR_OK;
    CQ_UNUSED(now_ms);
    *result = NULL;
    if (!json_is_object(request) || !json_is_object(json_object_get(request, "issue"))) {
        cq_errstr_set(errstr, errstr_size, "action-suggestions request has no issue object");
        return CQ_ERR_BAD_REQUEST;
    }
    cq_act_t *act = cq_calloc(1, sizeof(*act));
    act->data = cq_ops_text_data("actions.json");
    if (!act->data || !cq_ops_text_data("rootcause.json")) {
        cq_errstr_set(errstr, errstr_size, "action-suggestions data files are missing or invalid");
        err = CQ_ERR_INTERNAL_ERROR;
        goto free_act;
    }
    act->issue = json_object_get(request, "issue");
    act->constraints = json_object_get(request, "constraints");
    act->context = json_object_get(request, "context");
    cq_termvec_t *title = cq_termvec_new();
    cq_termvec_add_text(title, cq_act_str(act->issue, "title"), 1.0);
    bool usable = cq_termvec_total(title) > 0;
    cq_termvec_destroy(title);
    if (!usable) {
        cq_errstr_set(errstr, errstr_size, "the issue title has no usable words");
        err = CQ_ERR_INSUFFICIENT_CONTEXT;
        goto free_act;
    }
    char *t = cq_ops_text_excerpt(cq_act_str(act->issue, "title"), CQ_ACT_QUOTE);
    act->issue_q = cq_asprintf("\u201c%s\u201d", t);
    free(t);
    act->impact_q = cq_ops_text_excerpt(cq_act_str(act->issue, "impact"), CQ_ACT_QUOTE);
    for (size_t len = strlen(act->impact_q); len > 0 && strchr(".!;", act->impact_q[len - 1]);)
        act->impact_q[--len] = '\0';
    const char *cause = cq_act_str(act->issue, "rootCause");
    act->has_cause = cause && cause[0];
    if (act->has_cause) {
        t = cq_ops_text_excerpt(cause, CQ_ACT_QUOTE);
        act->cause_q = cq_asprintf("\u201c%s\u201d", t);
        free(t);
    } else {
        act->cause_q = cq_strdup("the suspected cause");
    }
    act->severity = cq_act_severity(act);
    act->timeline_hours = cq_ops_actions_timeline_hours(cq_act_str(act->constraints, "timeline"));
    cq_act_classify(act);
    cq_act_choose_steps(act);
    *result = cq_act_build(act);

free_act:
    for (size_t i = 0; i < act->nstep; i++)
        free(act->step[i].title);
    for (size_t i = 0; i < act->nterms; i++)
        free(act->terms[i]);
    free(act->issue_q);
    free(act->impact_q);
    free(act->cause_q);
    free(act);
    return err;
}
