/*
 * cq_histo.h — Prometheus histograms cheap enough for the hot path.
 *
 * A histogram is one metric family (a name, a help text, fixed bucket
 * bounds) with at most max_series label sets. Recording a value is a
 * lock-free search of the label sets already made (or a direct index) and
 * three relaxed atomic adds; a mutex is taken only to add a label set, which
 * happens once per set for the life of the process. The scrape reads the
 * atomics without stopping writers (a scrape may see a count one ahead of
 * its buckets, which Prometheus tolerates).
 *
 * Labels are given in Prometheus syntax (name="value",...) and must already
 * be escaped (cq_histo_label_value); they are never outside input unless
 * escaped and bounded (max_series, then the overflow set).
 *
 * Threads: any, for every function but _new and _destroy.
 */
#ifndef CQ_HISTO_H
#define CQ_HISTO_H

#include <stdio.h>

#include "cq_common.h"

typedef struct cq_histo_s cq_histo_t;

#define CQ_HISTO_MAX_BOUNDS 20
#define CQ_HISTO_MAX_LABELS 192 /* bytes of one label set */

/* Bucket bounds (seconds) for HTTP answers, whole jobs, LLM calls and
 * upstream calls. */
#define CQ_HISTO_BOUNDS_HTTP                                                                       \
    {                                                                                              \
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60             \
    }
#define CQ_HISTO_BOUNDS_JOB                                                                        \
    {                                                                                              \
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600                    \
    }
#define CQ_HISTO_BOUNDS_LLM                                                                        \
    {                                                                                              \
        0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120                                         \
    }
#define CQ_HISTO_BOUNDS_UPSTREAM                                                                   \
    {                                                                                              \
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30                                \
    }

/* A histogram named name (the full metric name, without _bucket). bounds:
 * ascending, at most CQ_HISTO_MAX_BOUNDS (more are ignored). At most
 * max_series label sets; past them values go to the set overflow_labels
 * (e.g. destination="other"), or are dropped when it is NULL. Strings are
 * copied. Caller destroys; NULL is a no-op for destroy. */
cq_histo_t *cq_histo_new(const char *name, const char *help, const double *bounds,
                         size_t bound_count, size_t max_series, const char *overflow_labels);
void cq_histo_destroy(cq_histo_t *histo);

/* The index of the label set labels, made on first use; -1 when it is too
 * long or the histogram is full and has no overflow set. */
int cq_histo_series(cq_histo_t *histo, const char *labels);

/* Records value (seconds; below 0 counts as 0) in the set of index series
 * (from cq_histo_series; -1 is ignored). */
void cq_histo_observe_at(cq_histo_t *histo, int series, double value);

/* The same by labels: cq_histo_series then cq_histo_observe_at. */
void cq_histo_observe(cq_histo_t *histo, const char *labels, double value);

/* The count of a label set (0 when it does not exist): for tests. */
uint64_t cq_histo_count(cq_histo_t *histo, const char *labels);

/* Writes the family in Prometheus text format: HELP and TYPE once, then
 * per label set its cumulative _bucket lines (le="..." last), +Inf, _sum
 * and _count. first_labels (may be NULL or "") are put before every set's
 * own labels, e.g. kind="alignment". Sets with no value yet are written
 * too (zeros), so a dashboard sees them from the start. */
void cq_histo_write(cq_histo_t *histo, const char *first_labels, FILE *out);

/* Escapes value as a Prometheus label value (backslash, quote, newline)
 * into out (at most out_size - 1 bytes, cut at a character boundary). */
void cq_histo_label_value(const char *value, char *out, size_t out_size);

#endif
