/*
 * cq_fetch_dest.c — per-destination breakers (see cq_fetch_dest.h): a
 * chained hash table of CQ_FETCH_DEST_BUCKETS buckets. Loop thread only.
 */
#include "cq_fetch_dest.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#define CQ_FETCH_DEST_BUCKETS 256

struct cq_fetch_dest_s {
    char *name;
    cq_breaker_t *breaker;
    int refs;
    bool pinned; /* configured (cq_fetch_dests_configure): never swept */
    struct cq_fetch_dest_s *next;
};

struct cq_fetch_dests_s {
    cq_fetch_dest_t *buckets[CQ_FETCH_DEST_BUCKETS];
    size_t count, max_entries;
    int failures;
    int64_t cooldown_ms;
};

cq_fetch_dests_t *cq_fetch_dests_new(int failures, int64_t cooldown_ms, size_t max_entries)
{
    cq_fetch_dests_t *dests = cq_calloc(1, sizeof(*dests));
    dests->failures = failures;
    dests->cooldown_ms = cooldown_ms;
    dests->max_entries = max_entries < 1 ? 1 : max_entries;
    return dests;
}

static void cq_fetch_dest_free(cq_fetch_dest_t *d)
{
    cq_breaker_destroy(d->breaker);
    free(d->name);
    free(d);
}

void cq_fetch_dests_destroy(cq_fetch_dests_t *dests)
{
    if (!dests)
        return;
    for (size_t b = 0; b < CQ_FETCH_DEST_BUCKETS; b++) {
        for (cq_fetch_dest_t *d = dests->buckets[b], *next; d; d = next) {
            next = d->next;
            cq_fetch_dest_free(d);
        }
    }
    free(dests);
}

static size_t cq_fetch_dest_hash(const char *s)
{
    size_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h % CQ_FETCH_DEST_BUCKETS;
}

static cq_fetch_dest_t *cq_fetch_dests_find(cq_fetch_dests_t *dests, const char *name)
{
    for (cq_fetch_dest_t *d = dests->buckets[cq_fetch_dest_hash(name)]; d; d = d->next)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

static void cq_fetch_dests_sweep(cq_fetch_dests_t *dests)
{
    for (size_t b = 0; b < CQ_FETCH_DEST_BUCKETS; b++) {
        for (cq_fetch_dest_t **pp = &dests->buckets[b]; *pp;) {
            cq_fetch_dest_t *d = *pp;
            if (d->refs == 0 && !d->pinned && cq_breaker_state(d->breaker) == CQ_BREAKER_CLOSED) {
                *pp = d->next;
                cq_fetch_dest_free(d);
                dests->count--;
            } else {
                pp = &d->next;
            }
        }
    }
}

/* The destination called name, created with a closed breaker if new. */
static cq_fetch_dest_t *cq_fetch_dests_get(cq_fetch_dests_t *dests, const char *name)
{
    cq_fetch_dest_t *d = cq_fetch_dests_find(dests, name);
    if (!d) {
        if (dests->count >= dests->max_entries)
            cq_fetch_dests_sweep(dests);
        d = cq_calloc(1, sizeof(*d));
        d->name = cq_strdup(name);
        d->breaker = cq_breaker_new(dests->failures, dests->cooldown_ms);
        size_t b = cq_fetch_dest_hash(name);
        d->next = dests->buckets[b];
        dests->buckets[b] = d;
        dests->count++;
    }
    return d;
}

cq_fetch_dest_t *cq_fetch_dests_acquire(cq_fetch_dests_t *dests, const char *name)
{
    cq_fetch_dest_t *d = cq_fetch_dests_get(dests, name);
    d->refs++;
    return d;
}

void cq_fetch_dests_configure(cq_fetch_dests_t *dests, const char *name, int failures,
                              int64_t cooldown_ms)
{
    cq_fetch_dest_t *d = cq_fetch_dests_get(dests, name);
    cq_breaker_destroy(d->breaker);
    d->breaker = cq_breaker_new(failures, cooldown_ms);
    d->pinned = true;
}

void cq_fetch_dests_release(cq_fetch_dest_t *dest)
{
    if (dest)
        dest->refs--;
}

cq_breaker_t *cq_fetch_dest_breaker(cq_fetch_dest_t *dest)
{
    return dest->breaker;
}

const char *cq_fetch_dests_state(cq_fetch_dests_t *dests, const char *name)
{
    cq_fetch_dest_t *d = cq_fetch_dests_find(dests, name);
    return d ? cq_breaker_state_name(d->breaker) : "closed";
}

size_t cq_fetch_dests_count(const cq_fetch_dests_t *dests)
{
    return dests->count;
}

cq_histo_t *cq_fetch_dest_histo_new(void)
{
    static const double bounds[] = CQ_HISTO_BOUNDS_UPSTREAM;
    return cq_histo_new("coachq_worker_upstream_call_duration_seconds",
                        "Time of one call of the fetch layer (upstream services, pages users "
                        "name) from its start to its end, retries and redirects included, by "
                        "destination host:port and outcome (status class, or why no response "
                        "came).",
                        bounds, CQ_ARRAY_SIZE(bounds), CQ_FETCH_DEST_MAX_SERIES,
                        "destination=\"other\",outcome=\"other\"");
}

void cq_fetch_dest_observe(cq_histo_t *histo, const char *dest, bool user_url, long status,
                           const char *fail_name, int64_t latency_ms)
{
    char value[96], labels[CQ_HISTO_MAX_LABELS], outcome[32];
    cq_histo_label_value(user_url        ? "user-url"
                         : dest && *dest ? dest
                                         : "unknown",
                         value, sizeof(value));
    if (status >= 100 && status < 600)
        snprintf(outcome, sizeof(outcome), "%ldxx", status / 100);
    else
        cq_strlcpy(outcome, fail_name ? fail_name : "other", sizeof(outcome));
    snprintf(labels, sizeof(labels), "destination=\"%s\",outcome=\"%s\"", value, outcome);
    cq_histo_observe(histo, labels, (double)latency_ms / 1000.0);
}
