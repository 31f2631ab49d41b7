/*
 * cq_ops_input.h — reading the loosely typed parts of operations requests:
 * ISO dates as day numbers and working days, and the free words, numbers,
 * t-shirt sizes and durations clients send for an action's impact, effort
 * and status (vocabulary in workers/operations/data/ops_input_vocab.json).
 *
 * Every function is reentrant; the vocabulary is parsed once and then only
 * read, so any thread may call them.
 */
#ifndef CQ_OPS_INPUT_H
#define CQ_OPS_INPUT_H

#include <jansson.h>

#include "cq_common.h"

/* Bytes of an ISO date "yyyy-mm-dd" with its NUL. */
#define CQ_OPS_DATE_SIZE 11

/* Days since 1970-01-01 (negative before) of a proleptic Gregorian date
 * "yyyy-mm-dd" (exactly that form; a valid month day). false otherwise. */
bool cq_ops_date_parse(const char *text, int64_t *day);
/* Writes day as "yyyy-mm-dd" into out (CQ_OPS_DATE_SIZE bytes). */
void cq_ops_date_format(int64_t day, char out[CQ_OPS_DATE_SIZE]);
/* UTC day number of a time in ms since the epoch. */
int64_t cq_ops_date_from_ms(int64_t epoch_ms);
/* 0 = Monday ... 6 = Sunday. */
int cq_ops_date_weekday(int64_t day);
/* Monday to Friday. */
bool cq_ops_date_is_workday(int64_t day);
/* The Monday of day's week (weeks run Monday to Sunday). */
int64_t cq_ops_date_week_start(int64_t day);

/* What a status word means to the engines. */
typedef enum {
    CQ_OPS_STATUS_UNKNOWN = 0, /* absent or a word the vocabulary lacks */
    CQ_OPS_STATUS_OPEN,        /* not started, open, pending, todo ... */
    CQ_OPS_STATUS_ACTIVE,      /* in progress, started, in review ... */
    CQ_OPS_STATUS_BLOCKED,
    CQ_OPS_STATUS_ON_HOLD,
    CQ_OPS_STATUS_DONE,
    CQ_OPS_STATUS_CANCELLED,
} cq_ops_status_t;

/* Reads a status string ("open", "In Progress", "not_started", ...). */
cq_ops_status_t cq_ops_input_status(const json_t *value);
/* Stable lower-case name of a status ("open", "active", ...). */
const char *cq_ops_status_name(cq_ops_status_t status);

/*
 * Impact on a 1-10 scale (10 = most) from a word (low, medium, high,
 * critical, major, ...), a JSON number or numeric string read on 1-10, a
 * fraction "4/5" or "4 of 5" scaled to 10, or a percentage "80%". Returns
 * false (and leaves *out) when value is absent or not understood.
 */
bool cq_ops_input_impact(const json_t *value, double *out);

/*
 * Effort on a 1-10 scale (10 = most work) from a word (low, medium, high),
 * a t-shirt size (xs, s, m, l, xl, xxl), a number on 1-10, a fraction, or a
 * duration ("3h", "2 days", "1 week", "1.5 sprints"; see durationUnits),
 * which maps through the vocabulary's effortHours bounds. When the value was
 * a duration, *hours (may be NULL) receives it, else -1. False when absent
 * or not understood.
 */
bool cq_ops_input_effort(const json_t *value, double *out, double *hours);

/* Hours of a duration text ("3h", "2 days", "1 week"); false if not one. */
bool cq_ops_input_duration_hours(const char *text, double *hours);

/* The longest prefix of text, at most max bytes, that ends on a UTF-8
 * character boundary (text is valid UTF-8 and NUL-terminated). */
size_t cq_ops_text_fit(const char *text, size_t max);

/* Lower-cases text into out, turns '-' and '_' into spaces, collapses
 * whitespace runs and trims: the form vocabulary keys are written in. */
void cq_ops_input_normalise(const char *text, char *out, size_t out_size);

#endif
