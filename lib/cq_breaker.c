/*
 * cq_breaker.c — circuit breaker state machine (see cq_breaker.h).
 *
 * Every entry point takes the one mutex; nothing inside blocks or calls
 * out, so holders never wait on I/O. A success recorded while open (from a
 * call that started while closed) closes the circuit: the provider just
 * answered, which is the evidence a trial would have produced.
 */
#include "cq_breaker.h"

#include <pthread.h>
#include <stdlib.h>

struct cq_breaker_s {
    pthread_mutex_t lock;
    int threshold;
    int64_t cooldown_ms;
    cq_breaker_state_t state;
    int failures;          /* consecutive, while closed */
    int64_t opened_at;     /* when it last opened */
    int64_t trial_started; /* when the half-open trial was let through */
};

cq_breaker_t *cq_breaker_new(int failures, int64_t cooldown_ms)
{
    cq_breaker_t *b = cq_calloc(1, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    b->threshold = failures < 1 ? 1 : failures;
    b->cooldown_ms = cooldown_ms < 1 ? 1 : cooldown_ms;
    b->state = CQ_BREAKER_CLOSED;
    return b;
}

void cq_breaker_destroy(cq_breaker_t *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

bool cq_breaker_allow(cq_breaker_t *b, int64_t now_ms)
{
    bool allowed = false;
    pthread_mutex_lock(&b->lock);
    switch (b->state) {
    case CQ_BREAKER_CLOSED:
        allowed = true;
        break;
    case CQ_BREAKER_OPEN:
        if (now_ms - b->opened_at >= b->cooldown_ms) {
            b->state = CQ_BREAKER_HALF_OPEN;
            b->trial_started = now_ms;
            allowed = true;
        }
        break;
    case CQ_BREAKER_HALF_OPEN:
        /* The trial is lost if nobody recorded it within a cooldown. */
        if (now_ms - b->trial_started >= b->cooldown_ms) {
            b->trial_started = now_ms;
            allowed = true;
        }
        break;
    }
    pthread_mutex_unlock(&b->lock);
    return allowed;
}

void cq_breaker_record(cq_breaker_t *b, bool success, int64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    if (success) {
        b->state = CQ_BREAKER_CLOSED;
        b->failures = 0;
    } else if (b->state == CQ_BREAKER_HALF_OPEN) {
        b->state = CQ_BREAKER_OPEN;
        b->opened_at = now_ms;
    } else if (b->state == CQ_BREAKER_CLOSED && ++b->failures >= b->threshold) {
        b->state = CQ_BREAKER_OPEN;
        b->opened_at = now_ms;
        b->failures = 0;
    }
    pthread_mutex_unlock(&b->lock);
}

cq_breaker_state_t cq_breaker_state(cq_breaker_t *b)
{
    pthread_mutex_lock(&b->lock);
    cq_breaker_state_t state = b->state;
    pthread_mutex_unlock(&b->lock);
    return state;
}

const char *cq_breaker_state_name(cq_breaker_t *b)
{
    switch (cq_breaker_state(b)) {
    case CQ_BREAKER_OPEN:
        return "open";
    case CQ_BREAKER_HALF_OPEN:
        return "half_open";
    default:
        return "closed";
    }
}
