/*
 * cq_ops_priority.c — built-in engine of prioritization-suggestions: a
 * WSJF-like score (cost of delay over job size) from whatever the client
 * says about an action.
 *
 * How it decides. Four inputs on a 1-10 scale (cq_ops_input reads words,
 * numbers, t-shirt sizes and durations; a missing or unreadable value takes
 * the middle and lowers confidence):
 *   value  BV  impact (low 3, medium 5, high 8, critical 10, ...); 5 if unknown.
 *   time   TC  the due date against today (UTC day of now_ms): overdue 10,
 *              today 9, within a week 8, two weeks 6, a month 4, a quarter 2,
 *              later 1, no date 2. An urgentDeadlines text that names the
 *              action's id (3 bytes or more) or covers its title (term
 *              coverage >= 0.5) raises TC to at least 8, or to what the
 *              date written in it gives.
 *   goals  GF  10 when a linkedGoals entry matches a currentGoals entry
 *              (same words, one naming the other, or title coverage >= 0.6),
 *              3 when the action is linked to goals that are not current,
 *              0 when it is linked to none.
 *   size   JS  effort; 4 if unknown. It enters as (JS + 2) / 3 so a small
 *              job counts about twice a medium one, not five times.
 *   score = (BV + TC + GF) / ((JS + 2) / 3) * status, where status is 1 for
 *   open, 1.15 in progress (started work is value close to delivery), 0.6
 *   on hold, 0.5 blocked (until unblocked it cannot move), 0.04 done or
 *   cancelled (nothing left to prioritise).
 * Suggested priority: critical >= 12, high >= 6, medium >= 3, else low.
 * Every input is monotone in the score, so an action that is more overdue,
 * of higher impact or tied to current goals never ranks below one that is
 * otherwise the same. Results are ordered by score, then id.
 * estimatedBusinessValue = 7 * BV + 3 * GF (0-100), given only when the
 * client stated an impact (value is not guessed from nothing).
 * Confidence 0.95 minus 0.2 without impact, 0.15 without effort, 0.15
 * without a due date, 0.1 for an unknown status, 0.1 when there are no
 * current goals to judge links against, 0.05 near a threshold.
 *
 * Reentrant: state lives in the call. Bounded by CQ_OPS_PRIORITY_*.
 */
#include "cq_ops_priority.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_ops_input.h"
#include "cq_termvec.h"
#include "cq_text.h"

#define CQ_OPS_PRIO_NOTE_MAX     480 /* bytes of a factor (contract: 500) */
#define CQ_OPS_PRIO_REASON_MAX   1900
#define CQ_OPS_PRIO_QUOTE        60
#define CQ_OPS_PRIO_DEADLINE_COV 0.5
#define CQ_OPS_PRIO_GOAL_COV     0.6
#define CQ_OPS_PRIO_DEADLINES    20

static const char *const cq_ops_prio_names[] = {"low", "medium", "high", "critical"};

typedef struct {
    const char *text;
    cq_termvec_t *vec;
    char norm[512];
    int64_t day; /* a date written in it, INT64_MIN if none */
} cq_ops_prio_doc_t;

typedef struct {
    const json_t *in;
    const char *id;
    int current, suggested;
    double bv, tc, gf, js, status_factor, score, confidence;
    bool impact_known;
    json_t *urgency, *impact;
} cq_ops_prio_item_t;

typedef struct {
    cq_ops_prio_doc_t goal[CQ_OPS_PRIORITY_GOALS_MAX];
    size_t ngoal;
    cq_ops_prio_doc_t deadline[CQ_OPS_PRIO_DEADLINES];
    size_t ndeadline;
    int64_t today;
} cq_ops_prio_ctx_t;

static int cq_ops_prio_rank(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, cq_ops_prio_names[i]) == 0)
            return i;
    return -1;
}

static void CQ_PRINTF(2, 3) cq_ops_prio_note(json_t *list, const char *fmt, ...)
{
    char buf[CQ_OPS_PRIO_NOTE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || json_array_size(list) >= 10)
        return;
    size_t len = (size_t)n;
    if (len > CQ_OPS_PRIO_NOTE_MAX) {
        /* vsnprintf cut at a byte; go back to the last whole character. */
        len = cq_ops_text_fit(buf, CQ_OPS_PRIO_NOTE_MAX);
        buf[len] = '\0';
    }
    if (len > 0)
        json_array_append_new(list, json_string(buf));
}

static void cq_ops_prio_quote(const char *text, char *out, size_t out_size)
{
    cq_text_excerpt(text ? text : "", CQ_OPS_PRIO_QUOTE, out, out_size);
}

/* Whether word (normalised) appears in text (normalised) as whole words. */
static bool cq_ops_prio_names_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    if (n == 0)
        return false;
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        bool left = p == text || !isalnum((unsigned char)p[-1]);
        bool right = !isalnum((unsigned char)p[n]);
        if (left && right)
            return true;
    }
    return false;
}

/* First "yyyy-mm-dd" in text. */
static int64_t cq_ops_prio_find_date(const char *text)
{
    for (const char *p = text; *p; p++) {
        char buf[CQ_OPS_DATE_SIZE];
        if (!isdigit((unsigned char)*p) || strlen(p) < 10)
            continue;
        memcpy(buf, p, 10);
        buf[10] = '\0';
        int64_t day;
        if (cq_ops_date_parse(buf, &day) && !isdigit((unsigned char)p[10]))
            return day;
    }
    return INT64_MIN;
}

static void cq_ops_prio_doc_init(cq_ops_prio_doc_t *d, const char *text)
{
    d->text = text;
    d->vec = cq_termvec_new();
    cq_termvec_add_text(d->vec, text, 1.0);
    cq_ops_input_normalise(text, d->norm, sizeof(d->norm));
    d->day = cq_ops_prio_find_date(text);
}

/* Time criticality of a number of days until due (negative: overdue). */
static double cq_ops_prio_tc(int64_t days)
{
    if (days < 0)
        return 10;
    if (days == 0)
        return 9;
    if (days <= 7)
        return 8;
    if (days <= 14)
        return 6;
    if (days <= 30)
        return 4;
    if (days <= 90)
        return 2;
    return 1;
}

static void cq_ops_prio_urgency(const cq_ops_prio_ctx_t *ctx, cq_ops_prio_item_t *it,
                                cq_termvec_t *tv)
{
    char date[CQ_OPS_DATE_SIZE], q[CQ_OPS_PRIO_QUOTE + 8], idn[128];
    int64_t due;
    const char *due_text = json_string_value(json_object_get(it->in, "dueDate"));
    if (cq_ops_date_parse(due_text, &due)) {
        int64_t days = due - ctx->today;
        it->tc = cq_ops_prio_tc(days);
        if (days < 0)
            cq_ops_prio_note(it->urgency, "Overdue by %lld day(s) (due %s)", (long long)-days,
                             due_text);
        else if (days == 0)
            cq_ops_prio_note(it->urgency, "Due today (%s)", due_text);
        else
            cq_ops_prio_note(it->urgency, "Due in %lld day(s) (%s)%s", (long long)days, due_text,
                             days <= 7 ? ", within a week" : "");
    } else {
        it->tc = 2;
        it->confidence -= 0.15;
        cq_ops_prio_note(it->urgency, "No due date: time criticality taken as low (2/10)");
    }
    cq_ops_input_normalise(it->id, idn, sizeof(idn));
    for (size_t i = 0; i < ctx->ndeadline; i++) {
        const cq_ops_prio_doc_t *d = &ctx->deadline[i];
        /* Ids under 3 bytes would match ordinary words and numbers. */
        bool hit = (strlen(idn) >= 3 && cq_ops_prio_names_word(d->norm, idn)) ||
                   (cq_termvec_total(tv) > 0 &&
                    cq_termvec_coverage(tv, d->vec) >= CQ_OPS_PRIO_DEADLINE_COV);
        if (!hit)
            continue;
        double tc = d->day != INT64_MIN ? cq_ops_prio_tc(d->day - ctx->today) : 8;
        if (tc < 8)
            tc = 8;
        cq_ops_prio_quote(d->text, q, sizeof(q));
        if (d->day != INT64_MIN) {
            cq_ops_date_format(d->day, date);
            cq_ops_prio_note(it->urgency, "Matches the urgent deadline \"%s\" (%s)", q, date);
        } else {
            cq_ops_prio_note(it->urgency, "Matches the urgent deadline \"%s\"", q);
        }
        if (tc > it->tc)
            it->tc = tc;
    }
}

static bool cq_ops_prio_goal_match(const cq_ops_prio_doc_t *goal, const char *linked)
{
    char norm[512];
    cq_ops_input_normalise(linked, norm, sizeof(norm));
    if (strcmp(norm, goal->norm) == 0 || cq_ops_prio_names_word(goal->norm, norm) ||
        cq_ops_prio_names_word(norm, goal->norm))
        return true;
    cq_termvec_t *lv = cq_termvec_new();
    cq_termvec_add_text(lv, linked, 1.0);
    bool hit =
        cq_termvec_total(lv) > 0 && cq_termvec_coverage(lv, goal->vec) >= CQ_OPS_PRIO_GOAL_COV;
    cq_termvec_destroy(lv);
    return hit;
}

static void cq_ops_prio_value(const cq_ops_prio_ctx_t *ctx, cq_ops_prio_item_t *it)
{
    char q[CQ_OPS_PRIO_QUOTE + 8], q2[CQ_OPS_PRIO_QUOTE + 8];
    const json_t *impact = json_object_get(it->in, "impact");
    double hours;
    it->impact_known = cq_ops_input_impact(impact, &it->bv);
    if (it->impact_known) {
        char *raw = json_dumps(impact, JSON_ENCODE_ANY);
        cq_ops_prio_quote(raw, q, sizeof(q));
        free(raw);
        cq_ops_prio_note(it->impact, "Impact %s read as %.1f/10", q, it->bv);
    } else {
        it->bv = 5;
        it->confidence -= 0.2;
        cq_ops_prio_note(it->impact, impact ? "Impact not understood: taken as medium (5/10)"
                                            : "No impact given: taken as medium (5/10)");
    }

    const json_t *linked = json_object_get(it->in, "linkedGoals");
    it->gf = json_array_size(linked) > 0 ? 3 : 0;
    bool matched = false;
    for (size_t i = 0; i < json_array_size(linked) && !matched; i++) {
        const char *g = json_string_value(json_array_get(linked, i));
        for (size_t j = 0; g && j < ctx->ngoal && !matched; j++)
            if (cq_ops_prio_goal_match(&ctx->goal[j], g)) {
                matched = true;
                it->gf = 10;
                cq_ops_prio_quote(g, q, sizeof(q));
                cq_ops_prio_quote(ctx->goal[j].text, q2, sizeof(q2));
                cq_ops_prio_note(it->impact, "Serves the current goal \"%s\" (linked as \"%s\")",
                                 q2, q);
            }
    }
    if (!matched && json_array_size(linked) > 0)
        cq_ops_prio_note(it->impact, "Linked to %zu goal(s), none of them a current goal",
                         json_array_size(linked));
    else if (!matched)
        cq_ops_prio_note(it->impact, "Linked to no goal");
    if (ctx->ngoal == 0)
        it->confidence -= 0.1;

    const json_t *effort = json_object_get(it->in, "effort");
    if (cq_ops_input_effort(effort, &it->js, &hours)) {
        char *raw = json_dumps(effort, JSON_ENCODE_ANY);
        cq_ops_prio_quote(raw, q, sizeof(q));
        free(raw);
        if (hours >= 0)
            cq_ops_prio_note(it->impact, "Effort %s read as %.1f h, size %.0f/10", q, hours,
                             it->js);
        else
            cq_ops_prio_note(it->impact, "Effort %s read as size %.1f/10", q, it->js);
    } else {
        it->js = 4;
        it->confidence -= 0.15;
        cq_ops_prio_note(it->impact, effort ? "Effort not understood: taken as medium (4/10)"
                                            : "No effort given: taken as medium (4/10)");
    }
}

static void cq_ops_prio_status(cq_ops_prio_item_t *it)
{
    cq_ops_status_t st = cq_ops_input_status(json_object_get(it->in, "status"));
    switch (st) {
    case CQ_OPS_STATUS_ACTIVE:
        it->status_factor = 1.15;
        cq_ops_prio_note(it->urgency, "In progress: finishing started work delivers its value "
                                      "soonest (x1.15)");
        break;
    case CQ_OPS_STATUS_BLOCKED:
        it->status_factor = 0.5;
        cq_ops_prio_note(it->urgency, "Blocked: it cannot move until unblocked (x0.5); remove the "
                                      "blocker first");
        break;
    case CQ_OPS_STATUS_ON_HOLD:
        it->status_factor = 0.6;
        cq_ops_prio_note(it->urgency, "On hold (x0.6)");
        break;
    case CQ_OPS_STATUS_DONE:
    case CQ_OPS_STATUS_CANCELLED:
        it->status_factor = 0.04;
        cq_ops_prio_note(it->urgency, "Status %s: nothing is left to prioritise (x0.04)",
                         cq_ops_status_name(st));
        break;
    case CQ_OPS_STATUS_OPEN:
        it->status_factor = 1;
        break;
    case CQ_OPS_STATUS_UNKNOWN:
        it->status_factor = 1;
        it->confidence -= 0.1;
        cq_ops_prio_note(it->urgency, "Status not understood: treated as open");
        break;
    }
}

static int cq_ops_prio_from_score(double score)
{
    if (score >= CQ_OPS_PRIORITY_CRITICAL)
        return 3;
    if (score >= CQ_OPS_PRIORITY_HIGH)
        return 2;
    if (score >= CQ_OPS_PRIORITY_MEDIUM)
        return 1;
    return 0;
}

static void cq_ops_prio_score(const cq_ops_prio_ctx_t *ctx, cq_ops_prio_item_t *it)
{
    const char *title = json_string_value(json_object_get(it->in, "title"));
    cq_termvec_t *tv = cq_termvec_new();
    cq_termvec_add_text(tv, title ? title : "", 1.0);
    it->confidence = 0.95;
    it->urgency = json_array();
    it->impact = json_array();
    cq_ops_prio_urgency(ctx, it, tv);
    cq_ops_prio_value(ctx, it);
    cq_ops_prio_status(it);
    cq_termvec_destroy(tv);
    it->score = (it->bv + it->tc + it->gf) / ((it->js + 2) / 3) * it->status_factor;
    it->suggested = cq_ops_prio_from_score(it->score);
    static const double bounds[] = {CQ_OPS_PRIORITY_MEDIUM, CQ_OPS_PRIORITY_HIGH,
                                    CQ_OPS_PRIORITY_CRITICAL};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(bounds); i++)
        if (fabs(it->score - bounds[i]) < 0.1 * bounds[i]) {
            it->confidence -= 0.05;
            break;
        }
    if (it->confidence < 0.2)
        it->confidence = 0.2;
}

static json_t *cq_ops_prio_result(const cq_ops_prio_item_t *it)
{
    static const char *const actions[] = {"de-prioritize", "maintain", "escalate"};
    int cmp = (it->suggested > it->current) - (it->suggested < it->current);
    char reason[CQ_OPS_PRIO_REASON_MAX];
    int n = snprintf(reason, sizeof(reason),
                     "WSJF-like score %.2f = (value %.1f + time criticality %.1f + goal fit "
                     "%.0f) / size %.2f (effort %.1f/10)",
                     it->score, it->bv, it->tc, it->gf, (it->js + 2) / 3, it->js);
    if (it->status_factor != 1 && n > 0 && (size_t)n < sizeof(reason))
        n += snprintf(reason + n, sizeof(reason) - (size_t)n, " x %.2f for its status",
                      it->status_factor);
    if (n > 0 && (size_t)n < sizeof(reason))
        snprintf(reason + n, sizeof(reason) - (size_t)n,
                 ". Thresholds: critical >= %.0f, high >= %.0f, medium >= %.0f. Suggested %s "
                 "against current %s: %s.",
                 CQ_OPS_PRIORITY_CRITICAL, CQ_OPS_PRIORITY_HIGH, CQ_OPS_PRIORITY_MEDIUM,
                 cq_ops_prio_names[it->suggested], cq_ops_prio_names[it->current],
                 cmp > 0   ? "raise it"
                 : cmp < 0 ? "lower it"
                           : "keep it");
    json_t *out = json_pack(
        "{s:s, s:s, s:s, s:s, s:f, s:O, s:O, s:s}", "actionId", it->id, "suggestedPriority",
        cq_ops_prio_names[it->suggested], "currentPriority", cq_ops_prio_names[it->current],
        "reasoning", reason, "confidence", round(it->confidence * 100) / 100, "urgencyFactors",
        it->urgency, "impactFactors", it->impact, "recommendedAction", actions[cmp + 1]);
    if (it->impact_known) {
        long v = lround(7 * it->bv + 3 * it->gf);
        json_object_set_new(out, "estimatedBusinessValue", json_integer(v > 100 ? 100 : v));
    }
    return out;
}

static int cq_ops_prio_cmp(const void *x, const void *y)
{
    const cq_ops_prio_item_t *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return strcmp(a->id, b->id);
}

cq_err_t cq_ops_priority_compute(const json_t *request, int64_t now_ms, json_t **result,
                                 char *errstr, size_t errstr_size)
{
    cq_ops_prio_ctx_t *ctx = NULL;
    cq_ops_prio_item_t *items = NULL;
    cq_err_t rc = CQ_ERR_OK;
    size_t n = 0;
    *result = NULL;
    if (!json_is_object(request)) {
        cq_errstr_set(errstr, errstr_size, "the request is not an object");
        return CQ_ERR_BAD_REQUEST;
    }
    const json_t *actions = json_object_get(request, "actions");
    n = json_array_size(actions);
    if (n == 0 || n > CQ_OPS_PRIORITY_ACTIONS_MAX) {
        cq_errstr_set(errstr, errstr_size, "actions: 1 to %d are needed",
                      CQ_OPS_PRIORITY_ACTIONS_MAX);
        return CQ_ERR_VALIDATION_ERROR;
    }
    ctx = cq_calloc(1, sizeof(*ctx));
    ctx->today = cq_ops_date_from_ms(now_ms);
    const json_t *bc = json_object_get(request, "businessContext");
    const json_t *goals = json_object_get(bc, "currentGoals");
    const json_t *deadlines = json_object_get(bc, "urgentDeadlines");
    for (size_t i = 0; i < json_array_size(goals) && ctx->ngoal < CQ_OPS_PRIORITY_GOALS_MAX; i++)
        if (json_string_value(json_array_get(goals, i)))
            cq_ops_prio_doc_init(&ctx->goal[ctx->ngoal++],
                                 json_string_value(json_array_get(goals, i)));
    for (size_t i = 0; i < json_array_size(deadlines) && ctx->ndeadline < CQ_OPS_PRIO_DEADLINES;
         i++)
        if (json_string_value(json_array_get(deadlines, i)))
            cq_ops_prio_doc_init(&ctx->deadline[ctx->ndeadline++],
                                 json_string_value(json_array_get(deadlines, i)));

    items = cq_calloc(n, sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        cq_ops_prio_item_t *it = &items[i];
        it->in = json_array_get(actions, i);
        it->id = json_string_value(json_object_get(it->in, "id"));
        it->current =
            cq_ops_prio_rank(json_string_value(json_object_get(it->in, "currentPriority")));
        if (!it->id || it->current < 0) {
            cq_errstr_set(errstr, errstr_size,
                          "actions[%zu] needs an id and a currentPriority (low, medium, high, "
                          "critical)",
                          i);
            rc = CQ_ERR_VALIDATION_ERROR;
            goto out_free_items;
        }
        cq_ops_prio_score(ctx, it);
    }
    qsort(items, n, sizeof(*items), cq_ops_prio_cmp);
    *result = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(*result, cq_ops_prio_result(&items[i]));

out_free_items:
    for (size_t i = 0; i < n; i++) {
        json_decref(items[i].urgency);
        json_decref(items[i].impact);
    }
    free(items);
    for (size_t i = 0; i < ctx->ngoal; i++)
        cq_termvec_destroy(ctx->goal[i].vec);
    for (size_t i = 0; i < ctx->ndeadline; i++)
        cq_termvec_destroy(ctx->deadline[i].vec);
    free(ctx);
    return rc;
}
