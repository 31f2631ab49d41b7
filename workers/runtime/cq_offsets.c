/*
 * cq_offsets.c — per-partition commit points (see cq_offsets.h).
 *
 * Each partition holds an ordered array of in-flight offsets with a done
 * flag; finished entries at the front are dropped as the commit point moves.
 * Partitions are few (tens), so a linked list is enough.
 */
#include "cq_offsets.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t offset;
    bool done;
} cq_offsets_entry_t;

typedef struct cq_offsets_part_s {
    char *topic;
    int32_t partition;
    cq_offsets_entry_t *entries;
    size_t head, count, cap; /* live entries are [head, count) */
    int64_t commit_next;     /* last commit point: where tracking began, then as reported */
    int64_t highest_done;    /* highest finished offset, -1 if none */
    struct cq_offsets_part_s *next;
} cq_offsets_part_t;

struct cq_offsets_s {
    cq_offsets_part_t *parts;
    size_t in_flight;
};

cq_offsets_t *cq_offsets_new(void)
{
    return cq_calloc(1, sizeof(cq_offsets_t));
}

static void cq_offsets_part_free(cq_offsets_part_t *p)
{
    free(p->topic);
    free(p->entries);
    free(p);
}

void cq_offsets_destroy(cq_offsets_t *offsets)
{
    if (!offsets)
        return;
    for (cq_offsets_part_t *p = offsets->parts, *n; p; p = n) {
        n = p->next;
        cq_offsets_part_free(p);
    }
    free(offsets);
}

static cq_offsets_part_t *cq_offsets_find(const cq_offsets_t *offsets, const char *topic,
                                          int32_t partition, cq_offsets_part_t ***link)
{
    cq_offsets_part_t **pp = (cq_offsets_part_t **)&offsets->parts;
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->partition == partition && strcmp((*pp)->topic, topic) == 0) {
            if (link)
                *link = pp;
            return *pp;
        }
    }
    return NULL;
}

static size_t cq_offsets_live(const cq_offsets_part_t *p)
{
    return p->count - p->head;
}

void cq_offsets_track(cq_offsets_t *offsets, const char *topic, int32_t partition, int64_t offset)
{
    cq_offsets_part_t *p = cq_offsets_find(offsets, topic, partition, NULL);
    if (!p) {
        p = cq_calloc(1, sizeof(*p));
        p->topic = cq_strdup(topic);
        p->partition = partition;
        p->commit_next = offset; /* nothing before the first message is ours to commit */
        p->highest_done = -1;
        p->next = offsets->parts;
        offsets->parts = p;
    }
    if (cq_offsets_live(p) > 0 && offset <= p->entries[p->count - 1].offset) {
        /* Redelivered from an earlier point: what was in flight will come
         * again, so the old entries no longer count. */
        offsets->in_flight -= cq_offsets_live(p);
        for (size_t i = p->head; i < p->count; i++)
            if (p->entries[i].done)
                offsets->in_flight++; /* done ones were already subtracted */
        p->head = p->count = 0;
    }
    if (p->head > 0 && p->head == p->count)
        p->head = p->count = 0;
    if (p->count == p->cap) {
        if (p->head > 0) {
            memmove(p->entries, p->entries + p->head, cq_offsets_live(p) * sizeof(*p->entries));
            p->count -= p->head;
            p->head = 0;
        }
        if (p->count == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 16;
            p->entries = cq_realloc(p->entries, p->cap * sizeof(*p->entries));
        }
    }
    p->entries[p->count].offset = offset;
    p->entries[p->count].done = false;
    p->count++;
    offsets->in_flight++;
}

bool cq_offsets_done(cq_offsets_t *offsets, const char *topic, int32_t partition, int64_t offset,
                     int64_t *commit_next)
{
    cq_offsets_part_t *p = cq_offsets_find(offsets, topic, partition, NULL);
    if (!p)
        return false;
    /* Binary search: live entries are sorted by offset. */
    size_t lo = p->head, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->entries[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->count || p->entries[lo].offset != offset || p->entries[lo].done)
        return false;
    p->entries[lo].done = true;
    offsets->in_flight--;
    if (offset > p->highest_done)
        p->highest_done = offset;
    while (p->head < p->count && p->entries[p->head].done)
        p->head++;
    int64_t next = p->head < p->count ? p->entries[p->head].offset : p->highest_done + 1;
    if (next <= p->commit_next)
        return false;
    p->commit_next = next;
    *commit_next = next;
    return true;
}

size_t cq_offsets_in_flight(const cq_offsets_t *offsets)
{
    return offsets->in_flight;
}

int64_t cq_offsets_forget(cq_offsets_t *offsets, const char *topic, int32_t partition)
{
    cq_offsets_part_t **link = NULL;
    cq_offsets_part_t *p = cq_offsets_find(offsets, topic, partition, &link);
    if (!p)
        return -1;
    for (size_t i = p->head; i < p->count; i++)
        if (!p->entries[i].done)
            offsets->in_flight--;
    int64_t next = p->highest_done >= 0 ? p->commit_next : -1;
    *link = p->next;
    cq_offsets_part_free(p);
    return next;
}

void cq_offsets_each(const cq_offsets_t *offsets, cq_offsets_each_fn *fn, void *opaque)
{
    for (const cq_offsets_part_t *p = offsets->parts; p; p = p->next)
        if (p->highest_done >= 0)
            fn(opaque, p->topic, p->partition, p->commit_next);
}
