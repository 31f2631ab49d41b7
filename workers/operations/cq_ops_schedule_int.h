/*
 * cq_ops_schedule_int.h — what the two files of the scheduling engine share:
 * cq_ops_schedule.c (reading, graph, placement) and cq_ops_schedule_answer.c
 * (the result items and their prose). Not for other modules.
 */
#ifndef CQ_OPS_SCHEDULE_INT_H
#define CQ_OPS_SCHEDULE_INT_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_ops_schedule.h"

#define CQ_OPS_SCHED_EPS          1e-9
#define CQ_OPS_SCHED_DEADLINE_COV 0.6  /* title coverage that binds a deadline to an action */
#define CQ_OPS_SCHED_BUFFER       0.25 /* share of work days the buffered alternative adds */
#define CQ_OPS_SCHED_TEXT_MAX     480  /* bytes of one risk or resource note (contract: 500) */
#define CQ_OPS_SCHED_REASON_MAX   1900 /* bytes of reasoning (contract: 2000) */
#define CQ_OPS_SCHED_LIST_MAX     4    /* ids quoted in a list before "and N more" */
#define CQ_OPS_SCHED_QUOTE        60   /* bytes of a quoted title or description */

typedef enum {
    CQ_OPS_SCHED_WAIT_NONE,
    CQ_OPS_SCHED_WAIT_PERSON,
    CQ_OPS_SCHED_WAIT_TEAM
} cq_ops_sched_wait_t;

typedef struct {
    const char *id;
    double hours_week, rate;
    int64_t *off; /* sorted unavailable dates */
    size_t noff;
    uint8_t *busy; /* per horizon day */
} cq_ops_sched_person_t;

typedef struct {
    const char *id, *title, *assigned;
    double hours, rate;
    int prio;   /* 0 low .. 3 critical */
    int person; /* index, -1 without a known one */
    size_t *dep, ndep, *succ, nsucc, nsucc_cap;
    int64_t cur_start, cur_due; /* INT64_MIN when absent */
    int64_t k;                  /* work days needed */
    int64_t tail;               /* remaining path in work days */
    int64_t head;               /* longest path before it, in work days */
    int64_t ready, start, due;  /* ready: first allowed start */
    int64_t asap_start, asap_due;
    int64_t deadline; /* earliest own deadline, INT64_MIN if none */
    int deadline_idx;
    cq_ops_sched_wait_t wait;
    size_t order;
    bool placed, critical_path;
} cq_ops_sched_action_t;

typedef struct {
    int64_t day;
    const char *text;
    bool bound;
} cq_ops_sched_deadline_t;

typedef struct {
    cq_ops_sched_action_t *a;
    size_t n;
    size_t *by_id; /* indices sorted by id */
    cq_ops_sched_person_t *p;
    size_t np;
    cq_ops_sched_deadline_t dl[CQ_OPS_SCHEDULE_DEADLINES_MAX];
    size_t ndl;
    double capacity_week, team_day;
    int64_t day0;  /* planning start */
    double *used;  /* team hours per horizon day */
    size_t cap;    /* horizon days allocated */
    size_t *order; /* placement order */
    int64_t max_tail;
} cq_ops_sched_t;

/* A bounded text that is cut on a UTF-8 character boundary. */
typedef struct {
    char buf[CQ_OPS_SCHED_REASON_MAX + 1];
    size_t len, max;
} cq_ops_sched_text_t;

/* Starts t empty with room for max bytes (at most CQ_OPS_SCHED_REASON_MAX). */
void cq_ops_sched_text_init(cq_ops_sched_text_t *t, size_t max);
/* Appends printf-style; what does not fit is dropped. */
void cq_ops_sched_text_add(cq_ops_sched_text_t *t, const char *fmt, ...) CQ_PRINTF(2, 3);

/* Whether person (-1: nobody in particular) can work on day: a weekday that
 * is not among the person's unavailable dates. */
bool cq_ops_sched_can_work(const cq_ops_sched_t *s, int person, int64_t day);
/* Moves *day to the first day >= *day person can work; false past the horizon. */
bool cq_ops_sched_next_day(const cq_ops_sched_t *s, int person, int64_t *day);
/* *due = the k-th day person can work counting from start (itself one). */
bool cq_ops_sched_span(const cq_ops_sched_t *s, int person, int64_t start, int64_t k, int64_t *due);
/* Working days in (from, to]; negative when to < from. */
int64_t cq_ops_sched_workdays_between(int64_t from, int64_t to);

/* The SchedulingSuggestion of a placed action (new reference). */
json_t *cq_ops_sched_item(const cq_ops_sched_t *s, const cq_ops_sched_action_t *a);

#endif
