/*
 * cq_fetch_events.c — epoll set, wakeup eventfd and extra descriptors (see
 * cq_fetch_events.h). epoll forgets a descriptor when it is closed, and
 * curl may close a socket and get the same number back for a new one, so
 * watch() tries MOD and falls back to ADD (and the reverse).
 */
#include "cq_fetch_events.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CQ_FETCH_EVENTS_MAX_EXTRA 8

struct cq_fetch_events_s {
    int epfd, wakefd;
};

cq_fetch_events_t *cq_fetch_events_new(char *errstr, size_t errstr_size)
{
    cq_fetch_events_t *ev = cq_calloc(1, sizeof(*ev));
    ev->epfd = epoll_create1(EPOLL_CLOEXEC);
    ev->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ev->epfd < 0 || ev->wakefd < 0) {
        cq_errstr_set(errstr, errstr_size, "cannot create an epoll set or eventfd: %s",
                      strerror(errno));
        cq_fetch_events_destroy(ev);
        return NULL;
    }
    return ev;
}

void cq_fetch_events_destroy(cq_fetch_events_t *ev)
{
    if (!ev)
        return;
    if (ev->epfd >= 0)
        close(ev->epfd);
    if (ev->wakefd >= 0)
        close(ev->wakefd);
    free(ev);
}

void cq_fetch_events_watch(cq_fetch_events_t *ev, int fd, int events)
{
    struct epoll_event e = {
        .events = ((events & CQ_FETCH_EV_IN) ? EPOLLIN : 0u) |
                  ((events & CQ_FETCH_EV_OUT) ? EPOLLOUT : 0u),
        .data.fd = fd,
    };
    if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &e) != 0 && errno == ENOENT)
        epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e);
}

void cq_fetch_events_unwatch(cq_fetch_events_t *ev, int fd)
{
    epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void cq_fetch_events_wait(cq_fetch_events_t *ev, int timeout_ms, const int *extra,
                          size_t extra_count)
{
    struct pollfd p[2 + CQ_FETCH_EVENTS_MAX_EXTRA] = {
        {.fd = ev->epfd, .events = POLLIN},
        {.fd = ev->wakefd, .events = POLLIN},
    };
    size_t n = extra_count < CQ_FETCH_EVENTS_MAX_EXTRA ? extra_count : CQ_FETCH_EVENTS_MAX_EXTRA;
    for (size_t i = 0; i < n; i++)
        p[2 + i] = (struct pollfd){.fd = extra[i], .events = POLLIN};
    if (poll(p, 2 + n, timeout_ms < 0 ? 0 : timeout_ms) > 0 && (p[1].revents & POLLIN)) {
        uint64_t count;
        ssize_t r = read(ev->wakefd, &count, sizeof(count));
        CQ_UNUSED(r);
    }
}

int cq_fetch_events_ready(cq_fetch_events_t *ev, int *fds, int *events, int max)
{
    struct epoll_event e[256];
    int n = epoll_wait(ev->epfd, e, max < 256 ? max : 256, 0);
    for (int i = 0; i < n; i++) {
        uint32_t x = e[i].events;
        fds[i] = e[i].data.fd;
        events[i] = ((x & (EPOLLIN | EPOLLHUP)) ? CQ_FETCH_EV_IN : 0) |
                    ((x & EPOLLOUT) ? CQ_FETCH_EV_OUT : 0) | ((x & EPOLLERR) ? CQ_FETCH_EV_ERR : 0);
    }
    return n < 0 ? 0 : n;
}

void cq_fetch_events_wakeup(cq_fetch_events_t *ev)
{
    uint64_t one = 1;
    ssize_t w = write(ev->wakefd, &one, sizeof(one)); /* EAGAIN: one is pending already */
    CQ_UNUSED(w);
}

int cq_fetch_events_fd(const cq_fetch_events_t *ev)
{
    return ev->epfd;
}
