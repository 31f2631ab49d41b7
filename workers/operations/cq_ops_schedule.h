/*
 * cq_ops_schedule.h — the built-in (model-free) engine of the
 * scheduling-suggestions operation (POST /operations/scheduling-suggestions).
 */
#ifndef CQ_OPS_SCHEDULE_H
#define CQ_OPS_SCHEDULE_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/* Bounds of what is read (the contract's limits). Larger requests are
 * refused with CQ_ERR_VALIDATION_ERROR. */
#define CQ_OPS_SCHEDULE_ACTIONS_MAX   100
#define CQ_OPS_SCHEDULE_DEPS_MAX      100
#define CQ_OPS_SCHEDULE_PEOPLE_MAX    100
#define CQ_OPS_SCHEDULE_DEADLINES_MAX 50
/* Calendar days after the planning start a schedule may reach. */
#define CQ_OPS_SCHEDULE_HORIZON_DAYS 7320 /* 20 years of 366 days */
/* Hours per working day of work nobody is assigned to (one person-day). */
#define CQ_OPS_SCHEDULE_UNASSIGNED_DAY_HOURS 8.0

/*
 * Schedules every action of a SchedulingSuggestionsRequest ({actions[],
 * constraints{teamCapacity, criticalDeadlines[], teamAvailability[]}}) from
 * the planning start: the UTC day of now_ms, or the next Monday when that
 * is a weekend day. Deterministic: the result depends on request and the
 * day of now_ms only.
 *
 * Guarantees of a result (see the design comment in the .c for the
 * allocation rule they are stated in):
 *   - one entry per action, in a topological order (dependencies first);
 *   - start and due dates are Monday-Friday days, start <= due, and an
 *     action starts on a working day strictly after every dependency's due
 *     date (no same-day hand-over);
 *   - each action is worked at a fixed rate on every working day of its
 *     span its assignee is available: rate = min(hoursPerWeek / 5,
 *     teamCapacity / 5) for an assigned action, min(8, teamCapacity / 5) for
 *     one without a known assignee; the last day gets the remainder. A
 *     person works one action per day, and no day's total exceeds
 *     teamCapacity / 5, so no person's week exceeds hoursPerWeek and no
 *     week exceeds teamCapacity.
 *
 * On success *result is a new SchedulingSuggestionsResult array (caller
 * decrefs). Errors: CQ_ERR_DEPENDENCY_CYCLE (errstr names the ids on one
 * cycle), CQ_ERR_VALIDATION_ERROR (unknown dependency id, duplicate action
 * id, bounds, or a plan longer than the horizon; errstr says which),
 * CQ_ERR_BAD_REQUEST when request is not an object. Reentrant; any thread.
 */
cq_err_t cq_ops_schedule_compute(const json_t *request, int64_t now_ms, json_t **result,
                                 char *errstr, size_t errstr_size);

#endif
