/*
 * cq_fetch_events.h — what the fetch layer waits on: an epoll set of the
 * sockets curl asks it to watch, a wakeup eventfd, and the caller's extra
 * descriptors. Kept apart from cq_fetch.c so that file is about calls, and
 * so no curl type is needed here.
 *
 * Threads: the fetch's loop thread, except cq_fetch_events_wakeup (any
 * thread: a write to an eventfd).
 */
#ifndef CQ_FETCH_EVENTS_H
#define CQ_FETCH_EVENTS_H

#include "cq_common.h"

typedef struct cq_fetch_events_s cq_fetch_events_t;

enum { CQ_FETCH_EV_IN = 1, CQ_FETCH_EV_OUT = 2, CQ_FETCH_EV_ERR = 4 };

/* NULL with errstr when epoll or eventfd cannot be created. Caller destroys. */
cq_fetch_events_t *cq_fetch_events_new(char *errstr, size_t errstr_size);
/* Closes both descriptors. NULL is a no-op. */
void cq_fetch_events_destroy(cq_fetch_events_t *ev);

/* Watches fd for events (CQ_FETCH_EV_IN | CQ_FETCH_EV_OUT), replacing what
 * was watched before; a descriptor closed and reused since is handled. */
void cq_fetch_events_watch(cq_fetch_events_t *ev, int fd, int events);
/* Stops watching fd (no error if it was not watched or is closed). */
void cq_fetch_events_unwatch(cq_fetch_events_t *ev, int fd);

/* Waits up to timeout_ms (0: does not wait) until a watched descriptor is
 * ready, a wakeup came, or one of the extra descriptors (at most 8; only
 * watched, never read) is readable. Consumes the wakeup. */
void cq_fetch_events_wait(cq_fetch_events_t *ev, int timeout_ms, const int *extra,
                          size_t extra_count);

/* The watched descriptors ready now, without waiting: up to max of them in
 * fds[i], their CQ_FETCH_EV_* in events[i]; returns how many. */
int cq_fetch_events_ready(cq_fetch_events_t *ev, int *fds, int *events, int max);

/* Makes a waiting (or the next) cq_fetch_events_wait return. Any thread. */
void cq_fetch_events_wakeup(cq_fetch_events_t *ev);

/* The epoll descriptor: readable when a watched descriptor is ready. */
int cq_fetch_events_fd(const cq_fetch_events_t *ev);

#endif
