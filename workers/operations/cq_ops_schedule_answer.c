/*
 * cq_ops_schedule_answer.c — the result items of scheduling-suggestions:
 * dates, the reasoning (place in the order, critical path, what it waits
 * for, whose hours, why it starts later than its dependencies allow),
 * resource notes, risks, alternatives and confidence, all from the placed
 * plan of cq_ops_schedule.c. Texts are cut to the contract's lengths on a
 * character boundary.
 *
 * Reentrant: reads the plan, writes only new JSON values.
 */
#include "cq_ops_schedule_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cq_ops_input.h"
#include "cq_text.h"

void cq_ops_sched_text_init(cq_ops_sched_text_t *t, size_t max)
{
    t->len = 0;
    t->max = max < CQ_OPS_SCHED_REASON_MAX ? max : CQ_OPS_SCHED_REASON_MAX;
    t->buf[0] = '\0';
}

/* Appends; a cut lands on a UTF-8 character boundary. */
void cq_ops_sched_text_add(cq_ops_sched_text_t *t, const char *fmt, ...)
{
    if (t->len >= t->max)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->max + 1 - t->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t start = t->len;
    t->len += (size_t)n;
    if (t->len > t->max) {
        /* vsnprintf cut at a byte; go back to the last whole character. */
        t->len = start + cq_ops_text_fit(t->buf + start, t->max - start);
        t->buf[t->len] = '\0';
    }
}

static void cq_ops_sched_quote(const char *text, char *out, size_t out_size)
{
    cq_text_excerpt(text ? text : "", CQ_OPS_SCHED_QUOTE, out, out_size);
}

static void cq_ops_sched_add_note(json_t *list, const cq_ops_sched_text_t *t)
{
    if (t->len > 0 && json_array_size(list) < 10)
        json_array_append_new(list, json_string(t->buf));
}

/* "a, b, c and 2 more" of actions idx[0..n). */
static void cq_ops_sched_text_ids(cq_ops_sched_text_t *t, const cq_ops_sched_t *s,
                                  const size_t *idx, size_t n)
{
    for (size_t i = 0; i < n && i < CQ_OPS_SCHED_LIST_MAX; i++) {
        char id[CQ_OPS_SCHED_QUOTE + 8];
        cq_ops_sched_quote(s->a[idx[i]].id, id, sizeof(id));
        cq_ops_sched_text_add(t, "%s%s", i == 0 ? "" : (i + 1 == n ? " and " : ", "), id);
    }
    if (n > CQ_OPS_SCHED_LIST_MAX)
        cq_ops_sched_text_add(t, " and %zu more", n - CQ_OPS_SCHED_LIST_MAX);
}

/* Working days in (from, to]; negative when to < from. */
int64_t cq_ops_sched_workdays_between(int64_t from, int64_t to)
{
    int64_t sign = 1, n = 0;
    if (to < from) {
        int64_t t = to;
        to = from;
        from = t;
        sign = -1;
    }
    int64_t weeks = (to - from) / 7;
    n = weeks * 5;
    for (int64_t d = from + weeks * 7 + 1; d <= to; d++)
        n += cq_ops_date_is_workday(d);
    return sign * n;
}

/* ---- the answer ------------------------------------------------------------------ */

static const char *cq_ops_sched_who(const cq_ops_sched_t *s, const cq_ops_sched_action_t *a,
                                    char *out, size_t out_size)
{
    cq_ops_sched_quote(a->person >= 0 ? s->p[a->person].id : "the team", out, out_size);
    return out;
}

static void cq_ops_sched_reasoning(const cq_ops_sched_t *s, const cq_ops_sched_action_t *a,
                                   int64_t first, cq_ops_sched_text_t *t)
{
    char who[CQ_OPS_SCHED_QUOTE + 8], date[CQ_OPS_DATE_SIZE], dl[CQ_OPS_DATE_SIZE];
    cq_ops_sched_text_init(t, CQ_OPS_SCHED_REASON_MAX);
    cq_ops_sched_text_add(t,
                          "Placed %zu of %zu: %lld working day(s) of work remain on the longest "
                          "chain through it%s. ",
                          a->order + 1, s->n, (long long)a->tail,
                          a->critical_path ? " (the critical path)" : "");
    cq_ops_date_format(first, date);
    if (a->ndep > 0) {
        size_t last = a->dep[0];
        for (size_t j = 1; j < a->ndep; j++)
            if (s->a[a->dep[j]].due > s->a[last].due)
                last = a->dep[j];
        cq_ops_date_format(s->a[last].due, dl);
        cq_ops_sched_text_add(t, "It waits for ");
        cq_ops_sched_text_ids(t, s, a->dep, a->ndep);
        cq_ops_sched_text_add(t, "; %s due %s, so it can start on %s at the earliest. ",
                              a->ndep == 1 ? "it is" : "the last of them is", dl, date);
    } else {
        cq_ops_sched_text_add(t, "It depends on no other action, so it can start on %s. ", date);
    }
    cq_ops_sched_who(s, a, who, sizeof(who));
    if (a->person >= 0)
        cq_ops_sched_text_add(t, "%s works %.1f h per day on it (%.1f h per week); ", who, a->rate,
                              s->p[a->person].hours_week);
    else
        cq_ops_sched_text_add(t,
                              "No person in teamAvailability is assigned, so it runs on team "
                              "capacity at %.1f h per day; ",
                              a->rate);
    cq_ops_sched_text_add(t, "%.1f h take %lld working day(s). ", a->hours, (long long)a->k);
    int64_t late = cq_ops_sched_workdays_between(first, a->start);
    if (late > 0 && a->wait == CQ_OPS_SCHED_WAIT_PERSON)
        cq_ops_sched_text_add(t,
                              "It starts %lld working day(s) later than its dependencies allow "
                              "because %s is busy with work placed before it. ",
                              (long long)late, who);
    else if (late > 0)
        cq_ops_sched_text_add(t,
                              "It starts %lld working day(s) later than its dependencies allow "
                              "because the team's %.1f h per day are taken by work placed before "
                              "it. ",
                              (long long)late, s->team_day);
    if (a->deadline_idx >= 0 && a->due <= a->deadline) {
        char q[CQ_OPS_SCHED_QUOTE + 8];
        cq_ops_sched_quote(s->dl[a->deadline_idx].text, q, sizeof(q));
        cq_ops_date_format(a->deadline, dl);
        cq_ops_sched_text_add(t, "It meets the critical deadline %s (\"%s\").", dl, q);
    }
    while (t->len > 0 && t->buf[t->len - 1] == ' ')
        t->buf[--t->len] = '\0';
}

static void cq_ops_sched_resources(const cq_ops_sched_t *s, const cq_ops_sched_action_t *a,
                                   json_t *list)
{
    cq_ops_sched_text_t t;
    char who[CQ_OPS_SCHED_QUOTE + 8], d0[CQ_OPS_DATE_SIZE], d1[CQ_OPS_DATE_SIZE];
    cq_ops_date_format(a->start, d0);
    cq_ops_date_format(a->due, d1);
    cq_ops_sched_who(s, a, who, sizeof(who));
    cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
    if (a->person >= 0) {
        const cq_ops_sched_person_t *p = &s->p[a->person];
        cq_ops_sched_text_add(&t,
                              "%s: %.1f h per week, %.1f h per day on this action from %s to %s",
                              who, p->hours_week, a->rate, d0, d1);
        cq_ops_sched_add_note(list, &t);
        if (p->hours_week / 5 > s->team_day + CQ_OPS_SCHED_EPS) {
            cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
            cq_ops_sched_text_add(&t, "%s's %.1f h per day are capped at the team's %.1f h per day",
                                  who, p->hours_week / 5, s->team_day);
            cq_ops_sched_add_note(list, &t);
        }
        int64_t off = 0;
        for (int64_t d = a->start; d <= a->due; d++)
            off += cq_ops_date_is_workday(d) && !cq_ops_sched_can_work(s, a->person, d);
        if (off > 0) {
            cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
            cq_ops_sched_text_add(&t,
                                  "%s is unavailable on %lld working day(s) inside the span; "
                                  "the work pauses on them",
                                  who, (long long)off);
            cq_ops_sched_add_note(list, &t);
        }
    } else {
        cq_ops_sched_text_add(&t, "Unassigned: %.1f h per day of team capacity from %s to %s",
                              a->rate, d0, d1);
        cq_ops_sched_add_note(list, &t);
    }
    cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
    cq_ops_sched_text_add(&t,
                          "Team capacity %.1f h per week (%.1f h per day) is shared by all "
                          "actions; this one takes %.1f h per day of it",
                          s->capacity_week, s->team_day, a->rate);
    cq_ops_sched_add_note(list, &t);
}

/* Adds the risks; returns how much they lower confidence. */
static double cq_ops_sched_risks(const cq_ops_sched_t *s, const cq_ops_sched_action_t *a,
                                 json_t *list)
{
    cq_ops_sched_text_t t;
    char d[CQ_OPS_DATE_SIZE], q[CQ_OPS_SCHED_QUOTE + 8];
    double penalty = 0;
    if (a->deadline_idx >= 0 && a->due > a->deadline) {
        cq_ops_sched_quote(s->dl[a->deadline_idx].text, q, sizeof(q));
        cq_ops_date_format(a->deadline, d);
        cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
        cq_ops_sched_text_add(&t, "Misses the critical deadline %s (\"%s\") by %lld working day(s)",
                              d, q, (long long)cq_ops_sched_workdays_between(a->deadline, a->due));
        char e[CQ_OPS_DATE_SIZE];
        cq_ops_date_format(a->asap_due, e);
        if (a->asap_due <= a->deadline)
            cq_ops_sched_text_add(&t,
                                  "; ignoring capacity it could finish on %s, so more hours or "
                                  "another person would meet it",
                                  e);
        else
            cq_ops_sched_text_add(&t,
                                  "; even ignoring capacity its dependencies and hours end on "
                                  "%s, so the scope or the deadline has to change",
                                  e);
        cq_ops_sched_add_note(list, &t);
        penalty += 0.25;
    }
    for (size_t i = 0; i < s->ndl; i++)
        if (!s->dl[i].bound && a->due > s->dl[i].day) {
            cq_ops_sched_quote(s->dl[i].text, q, sizeof(q));
            cq_ops_date_format(s->dl[i].day, d);
            cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
            cq_ops_sched_text_add(&t,
                                  "Due after the critical deadline %s (\"%s\"), which names no "
                                  "single action",
                                  d, q);
            cq_ops_sched_add_note(list, &t);
            penalty += 0.05;
        }
    if (a->cur_due != INT64_MIN && a->due > a->cur_due) {
        cq_ops_date_format(a->cur_due, d);
        cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
        cq_ops_sched_text_add(&t, "Due %lld working day(s) after its current due date %s",
                              (long long)cq_ops_sched_workdays_between(a->cur_due, a->due), d);
        cq_ops_sched_add_note(list, &t);
        penalty += 0.1;
    }
    if (a->person < 0 && a->assigned) {
        cq_ops_sched_quote(a->assigned, q, sizeof(q));
        cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
        cq_ops_sched_text_add(&t,
                              "assignedTo \"%s\" is not in teamAvailability, so the action is "
                              "planned on team capacity",
                              q);
        cq_ops_sched_add_note(list, &t);
        penalty += 0.05;
    }
    if (a->critical_path && s->n > 1) {
        cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
        cq_ops_sched_text_add(&t, "On the critical path: any slip moves the end of the plan");
        cq_ops_sched_add_note(list, &t);
    }
    if (a->k > 15) {
        cq_ops_sched_text_init(&t, CQ_OPS_SCHED_TEXT_MAX);
        cq_ops_sched_text_add(&t,
                              "Long piece of work (%lld working days): estimates this size are "
                              "often off; consider splitting it",
                              (long long)a->k);
        cq_ops_sched_add_note(list, &t);
        penalty += 0.05;
    }
    return penalty;
}

static void cq_ops_sched_alt(json_t *list, int64_t start, int64_t due, const cq_ops_sched_text_t *t)
{
    char d0[CQ_OPS_DATE_SIZE], d1[CQ_OPS_DATE_SIZE];
    cq_ops_date_format(start, d0);
    cq_ops_date_format(due, d1);
    json_array_append_new(
        list, json_pack("{s:s, s:s, s:s}", "startDate", d0, "dueDate", d1, "rationale", t->buf));
}

static void cq_ops_sched_alternatives(const cq_ops_sched_t *s, const cq_ops_sched_action_t *a,
                                      json_t *list)
{
    cq_ops_sched_text_t t;
    char who[CQ_OPS_SCHED_QUOTE + 8];
    cq_ops_sched_who(s, a, who, sizeof(who));
    cq_ops_sched_text_init(&t, 990);
    if (a->person >= 0)
        cq_ops_sched_text_add(&t,
                              "Earliest possible, ignoring capacity: as soon as the "
                              "dependencies' earliest dates and %s's availability allow, as if "
                              "no other work needed %s or the team's hours",
                              who, who);
    else
        cq_ops_sched_text_add(&t, "Earliest possible, ignoring capacity: as soon as the "
                                  "dependencies' earliest dates allow, as if no other work needed "
                                  "the team's hours");
    if (a->asap_start == a->start && a->asap_due == a->due)
        cq_ops_sched_text_add(&t, "; the same as the suggestion, capacity does not delay it");
    else
        cq_ops_sched_text_add(&t,
                              "; %lld working day(s) earlier than the capacity-levelled "
                              "suggestion",
                              (long long)cq_ops_sched_workdays_between(a->asap_due, a->due));
    cq_ops_sched_alt(list, a->asap_start, a->asap_due, &t);

    int64_t extra = (int64_t)ceil((double)a->k * CQ_OPS_SCHED_BUFFER), buffered;
    if (cq_ops_sched_span(s, a->person, a->start, a->k + extra, &buffered)) {
        cq_ops_sched_text_init(&t, 990);
        cq_ops_sched_text_add(&t,
                              "Capacity-levelled as suggested plus a %d%% buffer (%lld more "
                              "working day(s)) for estimate risk; the actions that wait for it "
                              "move by as much",
                              (int)(CQ_OPS_SCHED_BUFFER * 100), (long long)extra);
        cq_ops_sched_alt(list, a->start, buffered, &t);
    }

    if (a->cur_start != INT64_MIN && a->cur_due != INT64_MIN && a->cur_start <= a->cur_due &&
        (a->cur_start != a->start || a->cur_due != a->due)) {
        cq_ops_sched_text_init(&t, 990);
        cq_ops_sched_text_add(&t, "Keep the current dates");
        int64_t days = 0;
        for (int64_t d = a->cur_start; d <= a->cur_due; d++)
            days += cq_ops_sched_can_work(s, a->person, d);
        if (days < a->k)
            cq_ops_sched_text_add(&t,
                                  "; they give %lld working day(s) for %lld needed at %.1f h "
                                  "per day",
                                  (long long)days, (long long)a->k, a->rate);
        for (size_t j = 0; j < a->ndep; j++)
            if (a->cur_start <= s->a[a->dep[j]].due) {
                char id[CQ_OPS_SCHED_QUOTE + 8];
                cq_ops_sched_quote(s->a[a->dep[j]].id, id, sizeof(id));
                cq_ops_sched_text_add(&t, "; it would start before dependency %s is due", id);
                break;
            }
        if (a->cur_start < s->day0)
            cq_ops_sched_text_add(&t, "; the current start is already past");
        cq_ops_sched_alt(list, a->cur_start, a->cur_due, &t);
    }
}

json_t *cq_ops_sched_item(const cq_ops_sched_t *s, const cq_ops_sched_action_t *a)
{
    char d0[CQ_OPS_DATE_SIZE], d1[CQ_OPS_DATE_SIZE];
    cq_ops_sched_text_t t;
    int64_t first = a->ready;
    cq_ops_sched_next_day(s, a->person, &first);
    cq_ops_sched_reasoning(s, a, first, &t);
    json_t *deps = json_array();
    for (size_t j = 0; j < a->ndep; j++)
        json_array_append_new(deps, json_string(s->a[a->dep[j]].id));
    json_t *res = json_array(), *risks = json_array(), *alts = json_array();
    cq_ops_sched_resources(s, a, res);
    double c = 0.9 - cq_ops_sched_risks(s, a, risks);
    cq_ops_sched_alternatives(s, a, alts);
    if (a->person < 0)
        c -= 0.1;
    c -= fmin(0.2, 0.02 * (double)cq_ops_sched_workdays_between(first, a->start));
    if (a->ndep > 3)
        c -= 0.05;
    c = fmax(0.05, fmin(0.95, c));
    cq_ops_date_format(a->start, d0);
    cq_ops_date_format(a->due, d1);
    return json_pack("{s:s, s:s, s:s, s:s, s:f, s:o, s:o, s:o, s:o}", "actionId", a->id,
                     "suggestedStartDate", d0, "suggestedDueDate", d1, "reasoning", t.buf,
                     "confidence", round(c * 100) / 100, "dependencies", deps,
                     "resourceConsiderations", res, "risks", risks, "alternativeSchedules", alts);
}
