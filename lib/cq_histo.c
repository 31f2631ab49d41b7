/*
 * cq_histo.c — lock-free Prometheus histograms (see cq_histo.h).
 *
 * The label sets live in one array allocated at creation (max_series + 1
 * slots, the last for the overflow set), so a slot never moves: readers
 * walk slots [0, used) after an acquire load of used, and a writer that
 * adds a set fills the slot completely, under the mutex, before a release
 * store publishes it. Counts are relaxed atomics; the sum is kept in
 * microseconds as an integer so it can be an atomic add too.
 *
 * Threads: any; the mutex is only taken to add a label set.
 */
#include "cq_histo.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char labels[CQ_HISTO_MAX_LABELS];
    atomic_uint_fast64_t buckets[CQ_HISTO_MAX_BOUNDS + 1]; /* not cumulative; last: +Inf */
    atomic_uint_fast64_t count, sum_us;
} cq_histo_set_t;

struct cq_histo_s {
    char *name, *help;
    double bounds[CQ_HISTO_MAX_BOUNDS];
    size_t bound_count, max_series;
    bool has_overflow;
    pthread_mutex_t lock; /* adding a set */
    atomic_size_t used;   /* sets [0, used) are complete */
    cq_histo_set_t *sets; /* max_series + 1; [max_series] is the overflow set */
};

cq_histo_t *cq_histo_new(const char *name, const char *help, const double *bounds,
                         size_t bound_count, size_t max_series, const char *overflow_labels)
{
    cq_histo_t *histo = cq_calloc(1, sizeof(*histo));
    histo->name = cq_strdup(name);
    histo->help = cq_strdup(help);
    histo->bound_count = bound_count > CQ_HISTO_MAX_BOUNDS ? CQ_HISTO_MAX_BOUNDS : bound_count;
    memcpy(histo->bounds, bounds, histo->bound_count * sizeof(*bounds));
    histo->max_series = max_series;
    histo->sets = cq_calloc(max_series + 1, sizeof(*histo->sets));
    for (size_t i = 0; i <= max_series; i++) {
        for (size_t b = 0; b <= CQ_HISTO_MAX_BOUNDS; b++)
            atomic_init(&histo->sets[i].buckets[b], 0);
        atomic_init(&histo->sets[i].count, 0);
        atomic_init(&histo->sets[i].sum_us, 0);
    }
    if (overflow_labels && strlen(overflow_labels) < CQ_HISTO_MAX_LABELS) {
        histo->has_overflow = true;
        cq_strlcpy(histo->sets[max_series].labels, overflow_labels, CQ_HISTO_MAX_LABELS);
    }
    pthread_mutex_init(&histo->lock, NULL);
    atomic_init(&histo->used, 0);
    return histo;
}

void cq_histo_destroy(cq_histo_t *histo)
{
    if (!histo)
        return;
    pthread_mutex_destroy(&histo->lock);
    free(histo->sets);
    free(histo->name);
    free(histo->help);
    free(histo);
}

static int cq_histo_find(const cq_histo_t *histo, const char *labels, size_t used)
{
    for (size_t i = 0; i < used; i++)
        if (strcmp(histo->sets[i].labels, labels) == 0)
            return (int)i;
    return -1;
}

int cq_histo_series(cq_histo_t *histo, const char *labels)
{
    if (!labels)
        labels = "";
    size_t used = atomic_load_explicit(&histo->used, memory_order_acquire);
    int i = cq_histo_find(histo, labels, used);
    if (i >= 0)
        return i;
    if (histo->has_overflow && strcmp(labels, histo->sets[histo->max_series].labels) == 0)
        return (int)histo->max_series;
    if (strlen(labels) >= CQ_HISTO_MAX_LABELS)
        return histo->has_overflow ? (int)histo->max_series : -1;
    pthread_mutex_lock(&histo->lock);
    used = atomic_load_explicit(&histo->used, memory_order_relaxed);
    i = cq_histo_find(histo, labels, used);
    if (i < 0 && used < histo->max_series) {
        cq_strlcpy(histo->sets[used].labels, labels, CQ_HISTO_MAX_LABELS);
        i = (int)used;
        atomic_store_explicit(&histo->used, used + 1, memory_order_release);
    }
    pthread_mutex_unlock(&histo->lock);
    if (i < 0 && histo->has_overflow)
        i = (int)histo->max_series;
    return i;
}

void cq_histo_observe_at(cq_histo_t *histo, int series, double value)
{
    if (!histo || series < 0 || (size_t)series > histo->max_series)
        return;
    cq_histo_set_t *set = &histo->sets[series];
    if (!(value > 0)) /* also NaN */
        value = 0;
    size_t b = 0;
    while (b < histo->bound_count && value > histo->bounds[b])
        b++;
    atomic_fetch_add_explicit(&set->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&set->sum_us, (uint64_t)(value * 1e6 + 0.5), memory_order_relaxed);
    atomic_fetch_add_explicit(&set->count, 1, memory_order_relaxed);
}

void cq_histo_observe(cq_histo_t *histo, const char *labels, double value)
{
    if (histo)
        cq_histo_observe_at(histo, cq_histo_series(histo, labels), value);
}

uint64_t cq_histo_count(cq_histo_t *histo, const char *labels)
{
    size_t used = atomic_load_explicit(&histo->used, memory_order_acquire);
    int i = cq_histo_find(histo, labels ? labels : "", used);
    if (i < 0 && histo->has_overflow &&
        strcmp(labels ? labels : "", histo->sets[histo->max_series].labels) == 0)
        i = (int)histo->max_series;
    return i < 0 ? 0 : atomic_load(&histo->sets[i].count);
}

static void cq_histo_write_set(const cq_histo_t *histo, cq_histo_set_t *set,
                               const char *first_labels, FILE *out)
{
    const char *sep = *first_labels && *set->labels ? "," : "";
    const char *lsep = *first_labels || *set->labels ? "," : "";
    uint64_t cumulative = 0;
    for (size_t b = 0; b < histo->bound_count; b++) {
        cumulative += atomic_load_explicit(&set->buckets[b], memory_order_relaxed);
        fprintf(out, "%s_bucket{%s%s%s%sle=\"%g\"} %llu\n", histo->name, first_labels, sep,
                set->labels, lsep, histo->bounds[b], (unsigned long long)cumulative);
    }
    cumulative += atomic_load_explicit(&set->buckets[histo->bound_count], memory_order_relaxed);
    fprintf(out, "%s_bucket{%s%s%s%sle=\"+Inf\"} %llu\n", histo->name, first_labels, sep,
            set->labels, lsep, (unsigned long long)cumulative);
    char all[2 * CQ_HISTO_MAX_LABELS + 4] = "";
    if (*first_labels || *set->labels)
        snprintf(all, sizeof(all), "{%s%s%s}", first_labels, sep, set->labels);
    fprintf(out, "%s_sum%s %.6f\n", histo->name, all,
            (double)atomic_load_explicit(&set->sum_us, memory_order_relaxed) / 1e6);
    /* The count is the buckets' total, so _count and +Inf always agree. */
    fprintf(out, "%s_count%s %llu\n", histo->name, all, (unsigned long long)cumulative);
}

void cq_histo_write(cq_histo_t *histo, const char *first_labels, FILE *out)
{
    if (!histo)
        return;
    if (!first_labels)
        first_labels = "";
    fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", histo->name, histo->help, histo->name);
    size_t used = atomic_load_explicit(&histo->used, memory_order_acquire);
    for (size_t i = 0; i < used; i++)
        cq_histo_write_set(histo, &histo->sets[i], first_labels, out);
    if (histo->has_overflow && atomic_load(&histo->sets[histo->max_series].count) > 0)
        cq_histo_write_set(histo, &histo->sets[histo->max_series], first_labels, out);
}

void cq_histo_label_value(const char *value, char *out, size_t out_size)
{
    size_t n = 0;
    for (const char *p = value ? value : ""; *p; p++) {
        const char *rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t k = rep ? 2 : 1;
        if (n + k >= out_size)
            break;
        if (rep)
            memcpy(out + n, rep, 2);
        else
            out[n] = *p;
        n += k;
    }
    /* Never end inside a UTF-8 sequence: drop a last character cut short. */
    if (n > 0 && ((unsigned char)out[n - 1] & 0x80)) {
        size_t start = n - 1;
        while (start > 0 && ((unsigned char)out[start] & 0xc0) == 0x80)
            start--;
        unsigned char lead = (unsigned char)out[start];
        size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (n - start < want)
            n = start;
    }
    out[n] = '\0';
}
