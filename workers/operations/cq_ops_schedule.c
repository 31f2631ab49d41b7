/*
 * cq_ops_schedule.c — built-in engine of scheduling-suggestions:
 * dependency-aware list scheduling on working days under per-person and
 * team capacity.
 *
 * How it decides.
 *   1. Graph. Action ids are indexed (sorted, binary search); a dependency
 *      on an unknown id or a duplicate id is a VALIDATION_ERROR naming it.
 *      Kahn's algorithm orders the graph; nodes left over lie on or behind
 *      a cycle, and following left-over dependencies from one of them
 *      finds the cycle that DEPENDENCY_CYCLE names ("a -> b -> a").
 *   2. Work model. Time is in days; work happens Monday to Friday. An
 *      action with a known assignee is worked at rate r = min(hoursPerWeek
 *      / 5, teamCapacity / 5) h on each working day its assignee is
 *      available (unavailableDates are skipped: the action pauses, it does
 *      not move to someone else); without a known assignee at
 *      r = min(8, teamCapacity / 5) on every working day. It needs
 *      k = ceil(hours / r) such days, the last one taking the remainder.
 *      A person works on one action per day; the team's hours on a day
 *      never exceed teamCapacity / 5. Both weekly limits follow.
 *   3. Priority. Each action's remaining path is k plus the longest
 *      remaining path among the actions waiting for it (the critical path
 *      measured in working days). Among the actions whose dependencies are
 *      all placed, the one with the longest remaining path is placed next;
 *      ties go to the higher priority, then to the smaller id.
 *   4. Placement. An action may start on the first working day after its
 *      last dependency's due date (or on the planning start). From there
 *      the first start is taken whose k work days all have the assignee
 *      free and the team's remaining hours for the day; a conflicting day
 *      moves the next try past it. Earlier free days stay usable by later
 *      actions (gap filling), so an action can start before one placed
 *      before it.
 *   5. Deadlines. A critical deadline belongs to the actions whose id (3
 *      bytes or more) it names or whose title it covers (term coverage
 *      >= 0.6); an action due after a deadline of its own, or after its
 *      currentDueDate, gets a risk with the gap in working days. A
 *      deadline that names no action is a milestone for the plan: every
 *      action due after it is flagged.
 *   6. Alternatives: the earliest dates ignoring capacity (dependencies and
 *      availability only, computed in a separate pass), the suggested
 *      start with a 25% buffer of work days, and the action's current dates
 *      when it has both.
 *   7. Confidence starts at 0.9 and falls for unknown assignees, waiting
 *      on capacity, missed deadlines, long or heavily dependent work.
 *
 * The result items and their prose are built in cq_ops_schedule_answer.c.
 *
 * Reentrant: all state is in one cq_ops_sched_t on the caller's stack and heap.
 * Bounded by the CQ_OPS_SCHEDULE_* limits: O(n^2 + n * deps) for the graph
 * and at most the horizon's days per placement try.
 */
#include "cq_ops_schedule.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_ops_input.h"
#include "cq_ops_schedule_int.h"
#include "cq_termvec.h"

/* ---- calendar and horizon ---------------------------------------------------- */

static bool cq_ops_sched_grow(cq_ops_sched_t *s, int64_t off)
{
    if (off < 0 || off >= CQ_OPS_SCHEDULE_HORIZON_DAYS)
        return false;
    if ((size_t)off < s->cap)
        return true;
    size_t cap = s->cap ? s->cap : 512;
    while (cap <= (size_t)off)
        cap *= 2;
    if (cap > CQ_OPS_SCHEDULE_HORIZON_DAYS)
        cap = CQ_OPS_SCHEDULE_HORIZON_DAYS;
    s->used = cq_realloc(s->used, cap * sizeof(*s->used));
    memset(s->used + s->cap, 0, (cap - s->cap) * sizeof(*s->used));
    for (size_t i = 0; i < s->np; i++) {
        s->p[i].busy = cq_realloc(s->p[i].busy, cap);
        memset(s->p[i].busy + s->cap, 0, cap - s->cap);
    }
    s->cap = cap;
    return true;
}

static int cq_ops_sched_cmp_day(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Whether the action's worker can work on day (a working day it is not
 * marked unavailable). */
bool cq_ops_sched_can_work(const cq_ops_sched_t *s, int person, int64_t day)
{
    if (!cq_ops_date_is_workday(day))
        return false;
    if (person < 0)
        return true;
    const cq_ops_sched_person_t *p = &s->p[person];
    return !p->noff || !bsearch(&day, p->off, p->noff, sizeof(*p->off), cq_ops_sched_cmp_day);
}

/* First day >= day the action's worker can work; false past the horizon. */
bool cq_ops_sched_next_day(const cq_ops_sched_t *s, int person, int64_t *day)
{
    for (int64_t d = *day; d - s->day0 < CQ_OPS_SCHEDULE_HORIZON_DAYS; d++)
        if (cq_ops_sched_can_work(s, person, d)) {
            *day = d;
            return true;
        }
    return false;
}

/* ---- reading the request ------------------------------------------------------ */

static long cq_ops_sched_find(const cq_ops_sched_t *s, const char *id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->a[s->by_id[mid]].id, id);
        if (c == 0)
            return (long)s->by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int64_t cq_ops_sched_date_or_none(const json_t *v)
{
    int64_t day;
    return cq_ops_date_parse(json_string_value(v), &day) ? day : INT64_MIN;
}

static int cq_ops_sched_prio(const char *p)
{
    static const char *const names[] = {"low", "medium", "high", "critical"};
    for (int i = 0; p && i < 4; i++)
        if (strcmp(p, names[i]) == 0)
            return i;
    return 1;
}

static cq_err_t cq_ops_sched_read_people(cq_ops_sched_t *s, const json_t *list, char *errstr,
                                         size_t errstr_size)
{
    size_t n = json_array_size(list);
    if (n > CQ_OPS_SCHEDULE_PEOPLE_MAX) {
        cq_errstr_set(errstr, errstr_size, "teamAvailability: at most %d people",
                      CQ_OPS_SCHEDULE_PEOPLE_MAX);
        return CQ_ERR_VALIDATION_ERROR;
    }
    s->p = cq_calloc(n ? n : 1, sizeof(*s->p));
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(o, "personId"));
        double h = json_number_value(json_object_get(o, "hoursPerWeek"));
        if (!id || !(h > 0)) {
            cq_errstr_set(errstr, errstr_size,
                          "teamAvailability[%zu] needs a personId and hoursPerWeek > 0", i);
            return CQ_ERR_VALIDATION_ERROR;
        }
        bool dup = false;
        for (size_t j = 0; j < s->np && !dup; j++)
            dup = strcmp(s->p[j].id, id) == 0;
        if (dup)
            continue; /* the first entry of a person counts */
        cq_ops_sched_person_t *p = &s->p[s->np++];
        p->id = id;
        p->hours_week = h;
        p->rate = fmin(h / 5, s->team_day);
        const json_t *off = json_object_get(o, "unavailableDates");
        p->off = cq_calloc(json_array_size(off) + 1, sizeof(*p->off));
        for (size_t j = 0; j < json_array_size(off) && j < 366; j++) {
            int64_t day = cq_ops_sched_date_or_none(json_array_get(off, j));
            if (day != INT64_MIN)
                p->off[p->noff++] = day;
        }
        qsort(p->off, p->noff, sizeof(*p->off), cq_ops_sched_cmp_day);
    }
    return CQ_ERR_OK;
}

static void cq_ops_sched_add_succ(cq_ops_sched_action_t *a, size_t succ)
{
    if (a->nsucc == a->nsucc_cap) {
        a->nsucc_cap = a->nsucc_cap ? a->nsucc_cap * 2 : 4;
        a->succ = cq_realloc(a->succ, a->nsucc_cap * sizeof(*a->succ));
    }
    a->succ[a->nsucc++] = succ;
}

static cq_err_t cq_ops_sched_read_actions(cq_ops_sched_t *s, const json_t *list, char *errstr,
                                          size_t errstr_size)
{
    s->n = json_array_size(list);
    if (s->n == 0 || s->n > CQ_OPS_SCHEDULE_ACTIONS_MAX) {
        cq_errstr_set(errstr, errstr_size, "actions: 1 to %d are needed",
                      CQ_OPS_SCHEDULE_ACTIONS_MAX);
        return CQ_ERR_VALIDATION_ERROR;
    }
    s->a = cq_calloc(s->n, sizeof(*s->a));
    s->by_id = cq_calloc(s->n, sizeof(*s->by_id));
    for (size_t i = 0; i < s->n; i++) {
        const json_t *o = json_array_get(list, i);
        cq_ops_sched_action_t *a = &s->a[i];
        a->id = json_string_value(json_object_get(o, "id"));
        a->title = json_string_value(json_object_get(o, "title"));
        a->hours = json_number_value(json_object_get(o, "estimatedDuration"));
        if (!a->id || !a->title || !(a->hours > 0) || a->hours > 10000) {
            cq_errstr_set(errstr, errstr_size,
                          "actions[%zu] needs an id, a title and 0 < estimatedDuration <= 10000",
                          i);
            return CQ_ERR_VALIDATION_ERROR;
        }
        a->prio = cq_ops_sched_prio(json_string_value(json_object_get(o, "priority")));
        a->assigned = json_string_value(json_object_get(o, "assignedTo"));
        a->person = -1;
        for (size_t j = 0; a->assigned && j < s->np; j++)
            if (strcmp(s->p[j].id, a->assigned) == 0)
                a->person = (int)j;
        a->rate = a->person >= 0 ? s->p[a->person].rate
                                 : fmin(CQ_OPS_SCHEDULE_UNASSIGNED_DAY_HOURS, s->team_day);
        a->k = (int64_t)ceil(a->hours / a->rate - CQ_OPS_SCHED_EPS);
        if (a->k < 1)
            a->k = 1;
        a->cur_start = cq_ops_sched_date_or_none(json_object_get(o, "currentStartDate"));
        a->cur_due = cq_ops_sched_date_or_none(json_object_get(o, "currentDueDate"));
        a->deadline = INT64_MIN;
        a->deadline_idx = -1;
        s->by_id[i] = i;
    }
    /* Insertion sort by id: n is at most CQ_OPS_SCHEDULE_ACTIONS_MAX. */
    for (size_t i = 1; i < s->n; i++)
        for (size_t j = i; j > 0 && strcmp(s->a[s->by_id[j - 1]].id, s->a[s->by_id[j]].id) > 0;
             j--) {
            size_t t = s->by_id[j];
            s->by_id[j] = s->by_id[j - 1];
            s->by_id[j - 1] = t;
        }
    for (size_t i = 1; i < s->n; i++)
        if (strcmp(s->a[s->by_id[i - 1]].id, s->a[s->by_id[i]].id) == 0) {
            cq_errstr_set(errstr, errstr_size, "action id \"%.100s\" is used more than once",
                          s->a[s->by_id[i]].id);
            return CQ_ERR_VALIDATION_ERROR;
        }
    for (size_t i = 0; i < s->n; i++) {
        const json_t *deps = json_object_get(json_array_get(list, i), "dependencies");
        cq_ops_sched_action_t *a = &s->a[i];
        size_t nd = json_array_size(deps);
        if (nd > CQ_OPS_SCHEDULE_DEPS_MAX) {
            cq_errstr_set(errstr, errstr_size, "action \"%.100s\": at most %d dependencies", a->id,
                          CQ_OPS_SCHEDULE_DEPS_MAX);
            return CQ_ERR_VALIDATION_ERROR;
        }
        a->dep = cq_calloc(nd ? nd : 1, sizeof(*a->dep));
        for (size_t j = 0; j < nd; j++) {
            const char *id = json_string_value(json_array_get(deps, j));
            long d = id ? cq_ops_sched_find(s, id) : -1;
            if (d < 0) {
                cq_errstr_set(errstr, errstr_size,
                              "action \"%.100s\" depends on unknown action id \"%.100s\"", a->id,
                              id ? id : "(not a string)");
                return CQ_ERR_VALIDATION_ERROR;
            }
            bool dup = false;
            for (size_t k = 0; k < a->ndep && !dup; k++)
                dup = a->dep[k] == (size_t)d;
            if (dup)
                continue;
            a->dep[a->ndep++] = (size_t)d;
            cq_ops_sched_add_succ(&s->a[d], i);
        }
    }
    return CQ_ERR_OK;
}

/* ---- graph ------------------------------------------------------------------- */

/* Names one cycle among the actions Kahn's algorithm could not order. */
static void cq_ops_sched_name_cycle(const cq_ops_sched_t *s, const bool *done, char *errstr,
                                    size_t errstr_size)
{
    size_t start = 0;
    while (done[start])
        start++;
    /* Walk left-over dependencies; after n steps we are on the cycle. */
    size_t cur = start;
    for (size_t step = 0; step < s->n; step++)
        for (size_t j = 0; j < s->a[cur].ndep; j++)
            if (!done[s->a[cur].dep[j]]) {
                cur = s->a[cur].dep[j];
                break;
            }
    cq_ops_sched_text_t t;
    cq_ops_sched_text_init(&t, errstr_size > 1 ? errstr_size - 1 : 0);
    cq_ops_sched_text_add(&t, "dependency cycle (each waits for the next): ");
    size_t node = cur;
    for (size_t step = 0; step <= s->n; step++) {
        cq_ops_sched_text_add(&t, "%s\"%.100s\"", step ? " -> " : "", s->a[node].id);
        if (step > 0 && node == cur)
            break;
        for (size_t j = 0; j < s->a[node].ndep; j++)
            if (!done[s->a[node].dep[j]]) {
                node = s->a[node].dep[j];
                break;
            }
    }
    cq_errstr_set(errstr, errstr_size, "%s", t.buf);
}

/* Topological sort (for the cycle check and remaining paths). */
static cq_err_t cq_ops_sched_order(cq_ops_sched_t *s, size_t *topo, char *errstr,
                                   size_t errstr_size)
{
    size_t *indeg = cq_calloc(s->n, sizeof(*indeg));
    bool *done = cq_calloc(s->n, sizeof(*done));
    size_t head = 0, tail = 0;
    cq_err_t rc = CQ_ERR_OK;
    for (size_t i = 0; i < s->n; i++) {
        indeg[i] = s->a[i].ndep;
        if (indeg[i] == 0)
            topo[tail++] = i;
    }
    while (head < tail) {
        size_t i = topo[head++];
        done[i] = true;
        for (size_t j = 0; j < s->a[i].nsucc; j++)
            if (--indeg[s->a[i].succ[j]] == 0)
                topo[tail++] = s->a[i].succ[j];
    }
    if (tail < s->n) {
        cq_ops_sched_name_cycle(s, done, errstr, errstr_size);
        rc = CQ_ERR_DEPENDENCY_CYCLE;
        goto out_free_indeg;
    }
    for (size_t r = 0; r < s->n; r++) {
        cq_ops_sched_action_t *a = &s->a[topo[r]];
        for (size_t j = 0; j < a->ndep; j++) {
            const cq_ops_sched_action_t *d = &s->a[a->dep[j]];
            if (d->head + d->k > a->head)
                a->head = d->head + d->k;
        }
    }
    for (size_t r = s->n; r-- > 0;) {
        cq_ops_sched_action_t *a = &s->a[topo[r]];
        int64_t best = 0;
        for (size_t j = 0; j < a->nsucc; j++)
            if (s->a[a->succ[j]].tail > best)
                best = s->a[a->succ[j]].tail;
        a->tail = a->k + best;
        if (a->tail > s->max_tail)
            s->max_tail = a->tail;
    }
out_free_indeg:
    free(done);
    free(indeg);
    return rc;
}

/* ---- placement ----------------------------------------------------------------- */

/* Whether a beats b as the next action to place. */
static bool cq_ops_sched_before(const cq_ops_sched_action_t *a, const cq_ops_sched_action_t *b)
{
    if (a->tail != b->tail)
        return a->tail > b->tail;
    if (a->prio != b->prio)
        return a->prio > b->prio;
    return strcmp(a->id, b->id) < 0;
}

/* Hours the action takes on its i-th work day (0-based). */
static double cq_ops_sched_day_hours(const cq_ops_sched_action_t *a, int64_t i)
{
    return i + 1 < a->k ? a->rate : a->hours - (double)(a->k - 1) * a->rate;
}

/* First day the dependencies allow, by their due dates in the given plan. */
static int64_t cq_ops_sched_ready(const cq_ops_sched_t *s, const cq_ops_sched_action_t *a,
                                  bool asap)
{
    int64_t day = s->day0;
    for (size_t j = 0; j < a->ndep; j++) {
        const cq_ops_sched_action_t *d = &s->a[a->dep[j]];
        int64_t due = asap ? d->asap_due : d->due;
        if (due + 1 > day)
            day = due + 1;
    }
    return day;
}

/* The k-th work day of person from start (start itself a work day). */
bool cq_ops_sched_span(const cq_ops_sched_t *s, int person, int64_t start, int64_t k, int64_t *due)
{
    int64_t day = start;
    for (int64_t i = 1; i < k; i++) {
        day++;
        if (!cq_ops_sched_next_day(s, person, &day))
            return false;
    }
    *due = day;
    return true;
}

static cq_err_t cq_ops_sched_place(cq_ops_sched_t *s, cq_ops_sched_action_t *a, char *errstr,
                                   size_t errstr_size)
{
    int64_t start = a->ready = cq_ops_sched_ready(s, a, false);
    a->wait = CQ_OPS_SCHED_WAIT_NONE;
    for (;;) {
        if (!cq_ops_sched_next_day(s, a->person, &start))
            goto err_horizon;
        int64_t day = start, conflict = INT64_MIN;
        for (int64_t i = 0; i < a->k && conflict == INT64_MIN; i++) {
            if (i > 0) {
                day++;
                if (!cq_ops_sched_next_day(s, a->person, &day))
                    goto err_horizon;
            }
            int64_t off = day - s->day0;
            if (!cq_ops_sched_grow(s, off))
                goto err_horizon;
            if (a->person >= 0 && s->p[a->person].busy[off]) {
                conflict = day;
                a->wait = CQ_OPS_SCHED_WAIT_PERSON;
            } else if (s->used[off] + cq_ops_sched_day_hours(a, i) >
                       s->team_day + CQ_OPS_SCHED_EPS) {
                conflict = day;
                if (a->wait == CQ_OPS_SCHED_WAIT_NONE)
                    a->wait = CQ_OPS_SCHED_WAIT_TEAM;
            }
        }
        if (conflict == INT64_MIN)
            break;
        start = conflict + 1;
    }
    a->start = start;
    int64_t day = start;
    for (int64_t i = 0; i < a->k; i++) {
        if (i > 0) {
            day++;
            cq_ops_sched_next_day(s, a->person, &day);
        }
        int64_t off = day - s->day0;
        s->used[off] += cq_ops_sched_day_hours(a, i);
        if (a->person >= 0)
            s->p[a->person].busy[off] = 1;
    }
    a->due = day;
    a->placed = true;
    return CQ_ERR_OK;

err_horizon:
    cq_errstr_set(errstr, errstr_size,
                  "action \"%.100s\" cannot be placed within %d days of the planning start at "
                  "the given capacity",
                  a->id, CQ_OPS_SCHEDULE_HORIZON_DAYS);
    return CQ_ERR_VALIDATION_ERROR;
}

/* The earliest plan: dependencies and availability only. */
static cq_err_t cq_ops_sched_asap(cq_ops_sched_t *s, const size_t *topo, char *errstr,
                                  size_t errstr_size)
{
    for (size_t r = 0; r < s->n; r++) {
        cq_ops_sched_action_t *a = &s->a[topo[r]];
        a->asap_start = cq_ops_sched_ready(s, a, true);
        if (!cq_ops_sched_next_day(s, a->person, &a->asap_start) ||
            !cq_ops_sched_span(s, a->person, a->asap_start, a->k, &a->asap_due) ||
            a->asap_due - s->day0 >= CQ_OPS_SCHEDULE_HORIZON_DAYS) {
            cq_errstr_set(errstr, errstr_size,
                          "action \"%.100s\" cannot finish within %d days of the planning start",
                          a->id, CQ_OPS_SCHEDULE_HORIZON_DAYS);
            return CQ_ERR_VALIDATION_ERROR;
        }
    }
    return CQ_ERR_OK;
}

static cq_err_t cq_ops_sched_run(cq_ops_sched_t *s, char *errstr, size_t errstr_size)
{
    for (size_t r = 0; r < s->n; r++) {
        cq_ops_sched_action_t *best = NULL;
        for (size_t i = 0; i < s->n; i++) {
            cq_ops_sched_action_t *a = &s->a[i];
            if (a->placed)
                continue;
            bool ready = true;
            for (size_t j = 0; j < a->ndep && ready; j++)
                ready = s->a[a->dep[j]].placed;
            if (ready && (!best || cq_ops_sched_before(a, best)))
                best = a;
        }
        /* The graph was checked acyclic, so some action is always ready. */
        if (!best) {
            cq_errstr_set(errstr, errstr_size,
                          "no action is ready to schedule (a dependency cycle)");
            return CQ_ERR_INTERNAL_ERROR;
        }
        cq_err_t rc = cq_ops_sched_place(s, best, errstr, errstr_size);
        if (rc != CQ_ERR_OK)
            return rc;
        best->order = r;
        s->order[r] = (size_t)(best - s->a);
    }
    return CQ_ERR_OK;
}

/* ---- deadlines ------------------------------------------------------------------- */

/* Whether text names id as a whole word; ids under 3 bytes ("a", "1")
 * would match ordinary words and numbers, so they never do. */
static bool cq_ops_sched_mentions(const char *text, const char *id)
{
    size_t n = strlen(id);
    if (n < 3)
        return false;
    for (const char *p = strstr(text, id); p; p = strstr(p + 1, id)) {
        bool left = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '-' || p[-1] == '_');
        bool right = !(isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == '_');
        if (left && right)
            return true;
    }
    return false;
}

static void cq_ops_sched_read_deadlines(cq_ops_sched_t *s, const json_t *list)
{
    cq_termvec_t *dv[CQ_OPS_SCHEDULE_DEADLINES_MAX] = {NULL};
    for (size_t i = 0; i < json_array_size(list) && s->ndl < CQ_OPS_SCHEDULE_DEADLINES_MAX; i++) {
        const json_t *o = json_array_get(list, i);
        int64_t day = cq_ops_sched_date_or_none(json_object_get(o, "date"));
        const char *text = json_string_value(json_object_get(o, "description"));
        if (day == INT64_MIN || !text)
            continue;
        s->dl[s->ndl].day = day;
        s->dl[s->ndl].text = text;
        dv[s->ndl] = cq_termvec_new();
        cq_termvec_add_text(dv[s->ndl], text, 1.0);
        s->ndl++;
    }
    for (size_t j = 0; s->ndl > 0 && j < s->n; j++) {
        cq_ops_sched_action_t *a = &s->a[j];
        cq_termvec_t *tv = cq_termvec_new();
        cq_termvec_add_text(tv, a->title, 1.0);
        for (size_t i = 0; i < s->ndl; i++) {
            cq_ops_sched_deadline_t *dl = &s->dl[i];
            bool bound = cq_ops_sched_mentions(dl->text, a->id) ||
                         (cq_termvec_total(tv) > 0 &&
                          cq_termvec_coverage(tv, dv[i]) >= CQ_OPS_SCHED_DEADLINE_COV);
            if (!bound)
                continue;
            dl->bound = true;
            if (a->deadline == INT64_MIN || dl->day < a->deadline) {
                a->deadline = dl->day;
                a->deadline_idx = (int)i;
            }
        }
        cq_termvec_destroy(tv);
    }
    for (size_t i = 0; i < s->ndl; i++)
        cq_termvec_destroy(dv[i]);
}

/* ---- entry ------------------------------------------------------------------------ */

static void cq_ops_sched_free(cq_ops_sched_t *s)
{
    for (size_t i = 0; s->a && i < s->n; i++) {
        free(s->a[i].dep);
        free(s->a[i].succ);
    }
    for (size_t i = 0; s->p && i < s->np; i++) {
        free(s->p[i].off);
        free(s->p[i].busy);
    }
    free(s->p);
    free(s->a);
    free(s->by_id);
    free(s->used);
    free(s->order);
}

cq_err_t cq_ops_schedule_compute(const json_t *request, int64_t now_ms, json_t **result,
                                 char *errstr, size_t errstr_size)
{
    cq_ops_sched_t s;
    memset(&s, 0, sizeof(s));
    size_t *topo = NULL;
    cq_err_t rc;
    *result = NULL;
    if (!json_is_object(request)) {
        cq_errstr_set(errstr, errstr_size, "the request is not an object");
        return CQ_ERR_BAD_REQUEST;
    }
    const json_t *constraints = json_object_get(request, "constraints");
    s.capacity_week = json_number_value(json_object_get(constraints, "teamCapacity"));
    if (!(s.capacity_week > 0)) {
        cq_errstr_set(errstr, errstr_size, "constraints.teamCapacity must be > 0");
        return CQ_ERR_VALIDATION_ERROR;
    }
    s.team_day = s.capacity_week / 5;
    s.day0 = cq_ops_date_from_ms(now_ms);
    while (!cq_ops_date_is_workday(s.day0))
        s.day0++;

    rc = cq_ops_sched_read_people(&s, json_object_get(constraints, "teamAvailability"), errstr,
                                  errstr_size);
    if (rc != CQ_ERR_OK)
        goto out_free_state;
    rc = cq_ops_sched_read_actions(&s, json_object_get(request, "actions"), errstr, errstr_size);
    if (rc != CQ_ERR_OK)
        goto out_free_state;
    topo = cq_calloc(s.n, sizeof(*topo));
    rc = cq_ops_sched_order(&s, topo, errstr, errstr_size);
    if (rc != CQ_ERR_OK)
        goto out_free_topo;
    for (size_t i = 0; i < s.n; i++)
        s.a[i].critical_path = s.a[i].head + s.a[i].tail == s.max_tail;
    cq_ops_sched_read_deadlines(&s, json_object_get(constraints, "criticalDeadlines"));
    rc = cq_ops_sched_asap(&s, topo, errstr, errstr_size);
    if (rc != CQ_ERR_OK)
        goto out_free_topo;
    s.order = cq_calloc(s.n, sizeof(*s.order));
    rc = cq_ops_sched_run(&s, errstr, errstr_size);
    if (rc != CQ_ERR_OK)
        goto out_free_topo;

    *result = json_array();
    for (size_t r = 0; r < s.n; r++)
        json_array_append_new(*result, cq_ops_sched_item(&s, &s.a[s.order[r]]));
out_free_topo:
    free(topo);
out_free_state:
    cq_ops_sched_free(&s);
    return rc;
}
