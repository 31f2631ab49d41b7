/*
 * cq_metrics.c — the engines' counters of a worker (see cq_metrics.h).
 *
 * A flat array of series searched linearly: an engine has a few dozen
 * (sources x outcomes), and adding is a few string compares under a mutex
 * the metrics server holds only while it copies the text out.
 *
 * Threads: any; every function takes the registry's mutex.
 */
#include "cq_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CQ_METRICS_MAX_SERIES 4096

typedef struct {
    char *name, *help, *labels;
    uint64_t value;     /* a counter's value, a histogram's count */
    size_t bound_count; /* 0: a counter */
    double bounds[CQ_METRICS_MAX_BOUNDS];
    uint64_t buckets[CQ_METRICS_MAX_BOUNDS]; /* not cumulative; above the last: value - sum */
    double sum;
} cq_metrics_series_t;

struct cq_metrics_s {
    pthread_mutex_t lock;
    cq_metrics_series_t *series;
    size_t count, cap;
};

cq_metrics_t *cq_metrics_new(void)
{
    cq_metrics_t *metrics = cq_calloc(1, sizeof(*metrics));
    pthread_mutex_init(&metrics->lock, NULL);
    return metrics;
}

void cq_metrics_destroy(cq_metrics_t *metrics)
{
    if (!metrics)
        return;
    for (size_t i = 0; i < metrics->count; i++) {
        free(metrics->series[i].name);
        free(metrics->series[i].help);
        free(metrics->series[i].labels);
    }
    free(metrics->series);
    pthread_mutex_destroy(&metrics->lock);
    free(metrics);
}

/* Under the lock. */
static cq_metrics_series_t *cq_metrics_find(cq_metrics_t *metrics, const char *name,
                                            const char *labels)
{
    for (size_t i = 0; i < metrics->count; i++)
        if (strcmp(metrics->series[i].name, name) == 0 &&
            strcmp(metrics->series[i].labels, labels) == 0)
            return &metrics->series[i];
    return NULL;
}

/* Under the lock: the series, created when absent (NULL past the cap). */
static cq_metrics_series_t *cq_metrics_series(cq_metrics_t *metrics, const char *name,
                                              const char *help, const char *labels)
{
    cq_metrics_series_t *s = cq_metrics_find(metrics, name, labels);
    if (s || metrics->count >= CQ_METRICS_MAX_SERIES)
        return s;
    if (metrics->count == metrics->cap) {
        metrics->cap = metrics->cap ? 2 * metrics->cap : 32;
        metrics->series = cq_realloc(metrics->series, metrics->cap * sizeof(*metrics->series));
    }
    s = &metrics->series[metrics->count++];
    memset(s, 0, sizeof(*s));
    s->name = cq_strdup(name);
    s->help = cq_strdup(help ? help : name);
    s->labels = cq_strdup(labels);
    return s;
}

void cq_metrics_add(cq_metrics_t *metrics, const char *name, const char *help, const char *labels,
                    uint64_t delta)
{
    if (!metrics || !name)
        return;
    pthread_mutex_lock(&metrics->lock);
    cq_metrics_series_t *s = cq_metrics_series(metrics, name, help, labels ? labels : "");
    if (s && s->bound_count == 0)
        s->value += delta;
    pthread_mutex_unlock(&metrics->lock);
}

void cq_metrics_observe(cq_metrics_t *metrics, const char *name, const char *help,
                        const char *labels, const double *bounds, size_t bound_count, double value)
{
    if (!metrics || !name || !bounds || bound_count == 0)
        return;
    if (bound_count > CQ_METRICS_MAX_BOUNDS)
        bound_count = CQ_METRICS_MAX_BOUNDS;
    pthread_mutex_lock(&metrics->lock);
    cq_metrics_series_t *s = cq_metrics_series(metrics, name, help, labels ? labels : "");
    if (s && s->value == 0 && s->bound_count == 0) {
        s->bound_count = bound_count;
        memcpy(s->bounds, bounds, bound_count * sizeof(*bounds));
    }
    if (s && s->bound_count > 0) {
        for (size_t i = 0; i < s->bound_count; i++) {
            if (value <= s->bounds[i]) {
                s->buckets[i]++;
                break;
            }
        }
        s->value++;
        s->sum += value;
    }
    pthread_mutex_unlock(&metrics->lock);
}

uint64_t cq_metrics_get(cq_metrics_t *metrics, const char *name, const char *labels)
{
    pthread_mutex_lock(&metrics->lock);
    cq_metrics_series_t *s = cq_metrics_find(metrics, name, labels ? labels : "");
    uint64_t v = s ? s->value : 0;
    pthread_mutex_unlock(&metrics->lock);
    return v;
}

static int cq_metrics_cmp(const void *a, const void *b)
{
    const cq_metrics_series_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

char *cq_metrics_render(cq_metrics_t *metrics, const char *kind)
{
    pthread_mutex_lock(&metrics->lock);
    if (metrics->count > 1)
        qsort(metrics->series, metrics->count, sizeof(*metrics->series), cq_metrics_cmp);
    size_t cap = 256, len = 0;
    for (size_t i = 0; i < metrics->count; i++)
        cap += (metrics->series[i].bound_count + 4) *
                   (strlen(metrics->series[i].name) + strlen(metrics->series[i].labels) +
                    strlen(kind) + 64) +
               strlen(metrics->series[i].help) + strlen(metrics->series[i].name);
    char *text = cq_malloc(cap);
    text[0] = '\0';
    for (size_t i = 0; i < metrics->count; i++) {
        const cq_metrics_series_t *s = &metrics->series[i];
        if (i == 0 || strcmp(s->name, metrics->series[i - 1].name) != 0)
            len += (size_t)snprintf(
                text + len, cap - len, "# HELP coachq_worker_%s %s\n# TYPE coachq_worker_%s %s\n",
                s->name, s->help, s->name, s->bound_count ? "histogram" : "counter");
        const char *sep = *s->labels ? "," : "";
        if (s->bound_count == 0) {
            len +=
                (size_t)snprintf(text + len, cap - len, "coachq_worker_%s{kind=\"%s\"%s%s} %llu\n",
                                 s->name, kind, sep, s->labels, (unsigned long long)s->value);
            continue;
        }
        uint64_t cumulative = 0;
        for (size_t b = 0; b < s->bound_count; b++) {
            cumulative += s->buckets[b];
            len += (size_t)snprintf(
                text + len, cap - len, "coachq_worker_%s_bucket{kind=\"%s\"%s%s,le=\"%g\"} %llu\n",
                s->name, kind, sep, s->labels, s->bounds[b], (unsigned long long)cumulative);
        }
        len += (size_t)snprintf(text + len, cap - len,
                                "coachq_worker_%s_bucket{kind=\"%s\"%s%s,le=\"+Inf\"} %llu\n"
                                "coachq_worker_%s_sum{kind=\"%s\"%s%s} %.6f\n"
                                "coachq_worker_%s_count{kind=\"%s\"%s%s} %llu\n",
                                s->name, kind, sep, s->labels, (unsigned long long)s->value,
                                s->name, kind, sep, s->labels, s->sum, s->name, kind, sep,
                                s->labels, (unsigned long long)s->value);
    }
    pthread_mutex_unlock(&metrics->lock);
    return text;
}
