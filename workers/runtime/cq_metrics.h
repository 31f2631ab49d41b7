/*
 * cq_metrics.h — counters an engine defines for itself (cache hits,
 * upstream errors by source and class, ...), shown on the worker's
 * /metrics after the runtime's own rows.
 *
 * A series is a counter or a histogram. A counter is a name (without the coachq_worker_ prefix,
 * e.g. "business_data_upstream_calls_total"), a help text, and a label set in Prometheus syntax
 * (e.g. source="account.revenue",outcome="timeout"); the kind="..." label is added when rendered.
 * Names and labels are the engine's constants, never outside input.
 *
 * Threads: any; a mutex guards the registry (the loop thread adds, the
 * metrics server's threads render).
 */
#ifndef CQ_METRICS_H
#define CQ_METRICS_H

#include "cq_common.h"

typedef struct cq_metrics_s cq_metrics_t;

/* Never NULL. Caller destroys; NULL is a no-op for destroy. */
cq_metrics_t *cq_metrics_new(void);
void cq_metrics_destroy(cq_metrics_t *metrics);

/* Adds delta to the counter (name, labels), created at 0 on first use;
 * help is kept from the first call of a name. At most 4096 series: past
 * that, new series are dropped (existing ones still count). */
void cq_metrics_add(cq_metrics_t *metrics, const char *name, const char *help, const char *labels,
                    uint64_t delta);

/* Most bucket bounds of a histogram. */
#define CQ_METRICS_MAX_BOUNDS 16

/* Records value in the histogram (name, labels): bounds (ascending, at
 * most CQ_METRICS_MAX_BOUNDS, more are ignored) are fixed by the first
 * call of a series. Rendered as a Prometheus histogram (_bucket with le,
 * _sum, _count). */
void cq_metrics_observe(cq_metrics_t *metrics, const char *name, const char *help,
                        const char *labels, const double *bounds, size_t bound_count, double value);

/* The counter's value, or a histogram's count (0 when it does not exist):
 * for tests. */
uint64_t cq_metrics_get(cq_metrics_t *metrics, const char *name, const char *labels);

/* The Prometheus text of every counter, names sorted, each with its HELP
 * and TYPE once and kind="<kind>" first among its labels. Caller frees. */
char *cq_metrics_render(cq_metrics_t *metrics, const char *kind);

#endif
