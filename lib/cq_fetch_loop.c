/*
 * cq_fetch_loop.c — the loop's side of the fetch layer (see cq_fetch.h;
 * a call's own course is in cq_fetch.c).
 *
 * Events: curl's socket callback puts its sockets in an epoll set
 * (cq_fetch_events), its timer callback sets curl_timer_at; a poll waits on
 * the set, the wakeup and the caller's descriptors, then runs
 * curl_multi_socket_action for what is ready only: a poll costs what is
 * ready, not what is in flight (curl_multi_perform walks every transfer).
 * Every stage is bounded per poll (transfers handed to curl, sockets
 * served, callbacks run), and what is left makes the next poll return at
 * once.
 *
 * Threads: the loop thread that owns the fetch; cq_fetch_wakeup from any.
 */
#include "cq_fetch_int.h"

#include <stdint.h>
#include <stdlib.h>

static int cq_fetch_on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    cq_fetch_t *fetch = userp;
    if (what == CURL_POLL_REMOVE)
        cq_fetch_events_unwatch(fetch->events, s);
    else
        cq_fetch_events_watch(fetch->events, s,
                              ((what & CURL_POLL_IN) ? CQ_FETCH_EV_IN : 0) |
                                  ((what & CURL_POLL_OUT) ? CQ_FETCH_EV_OUT : 0));
    return 0;
}

static int cq_fetch_on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    cq_fetch_t *fetch = userp;
    fetch->curl_timer_at = timeout_ms < 0 ? -1 : cq_mono_ms() + timeout_ms;
    return 0;
}

void cq_fetch_wakeup(cq_fetch_t *fetch)
{
    cq_fetch_events_wakeup(fetch->events);
}

/* Hands at most CQ_FETCH_START_BATCH waiting transfers to curl, oldest
 * first. curl sets up every new transfer at its next timeout (connect,
 * connection-cache search, request): a burst of 2,000 at once stalled one
 * poll for 170-520 ms; in batches each poll stays short and the rest
 * follow on the next polls. */
static void cq_fetch_start_batch(cq_fetch_t *fetch)
{
    for (int i = 0; i < CQ_FETCH_START_BATCH && fetch->lists[CQ_FETCH_IN_STARTING]; i++) {
        cq_fetch_call_t *call = fetch->lists[CQ_FETCH_IN_STARTING];
        cq_fetch_unlink(call);
        if (curl_multi_add_handle(fetch->multi, call->easy) != CURLM_OK) {
            cq_fetch_finish(call, CQ_ERR_INTERNAL_ERROR, CQ_FETCH_OTHER,
                            "cannot start the HTTP transfer");
            continue;
        }
        call->in_multi = true;
        cq_fetch_link(call, CQ_FETCH_IN_ACTIVE);
    }
}

static void cq_fetch_read_done(cq_fetch_t *fetch)
{
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(fetch->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        cq_fetch_call_t *call = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
        cq_log_ctx_t outer = *cq_log_ctx(); /* its retry and failure lines name the job */
        cq_log_ctx_set(call->log_ctx);
        cq_fetch_on_done(call, msg->data.result);
        cq_log_ctx_set(&outer);
    }
}

/* Runs the callbacks of up to CQ_FETCH_POLL_BATCH calls that were ready
 * when it started, oldest first; the rest (and calls that a callback
 * starts and that end at once) wait for the next poll. */
static int cq_fetch_deliver(cq_fetch_t *fetch)
{
    int delivered = 0;
    for (int i = 0; i < CQ_FETCH_POLL_BATCH && fetch->lists[CQ_FETCH_IN_READY]; i++) {
        cq_fetch_call_t *call = fetch->lists[CQ_FETCH_IN_READY];
        cq_fetch_unlink(call);
        cq_fetch_link(call, CQ_FETCH_IN_DELIVER);
    }
    while (fetch->lists[CQ_FETCH_IN_DELIVER]) {
        cq_fetch_call_t *call = fetch->lists[CQ_FETCH_IN_DELIVER];
        /* A freed call was unlinked first: the analyzer does not follow the
         * list head that unlink rewrites through call->fetch. */
        cq_fetch_unlink(call); /* NOLINT(clang-analyzer-unix.Malloc) */
        fetch->in_flight--;
        cq_fetch_result_t result = {
            .err = call->err,
            .fail = call->fail,
            .status = call->status,
            .content_type = call->content_type,
            .location = call->location,
            .retry_after = call->retry_after,
            .url = call->last_url ? call->last_url : call->url.url,
            .body = call->resp ? call->resp : cq_strdup(""),
            .body_len = call->resp_len,
            .attempts = call->attempts,
            .redirects = call->redirects,
            .latency_ms = cq_mono_ms() - call->started_ms,
        };
        call->resp = NULL;
        cq_strlcpy(result.message, call->message ? call->message : "", sizeof(result.message));
        cq_fetch_dest_observe(fetch->call_seconds, call->url.dest, call->user_url, call->status,
                              cq_fetch_fail_name(call->fail), result.latency_ms);
        cq_log_ctx_t outer = *cq_log_ctx(); /* the callback runs in its caller's context */
        cq_log_ctx_set(call->log_ctx);
        call->done(call->opaque, &result);
        cq_log_ctx_set(&outer);
        free(result.body);
        cq_fetch_call_free(call);
        delivered++;
    }
    return delivered;
}

int cq_fetch_poll(cq_fetch_t *fetch, int timeout_ms)
{
    return cq_fetch_poll_fds(fetch, timeout_ms, NULL, 0);
}

int cq_fetch_fd(const cq_fetch_t *fetch)
{
    return cq_fetch_events_fd(fetch->events);
}

int cq_fetch_timeout_ms(const cq_fetch_t *fetch)
{
    if (fetch->lists[CQ_FETCH_IN_READY] || fetch->lists[CQ_FETCH_IN_STARTING])
        return 0;
    int64_t now = cq_mono_ms(), due = -1;
    if (fetch->curl_timer_at >= 0)
        due = fetch->curl_timer_at - now;
    for (const cq_fetch_call_t *c = fetch->lists[CQ_FETCH_IN_TIMER]; c; c = c->next)
        if (due < 0 || c->retry_at - now < due)
            due = c->retry_at - now;
    if (due < 0 && (fetch->curl_timer_at >= 0 || fetch->lists[CQ_FETCH_IN_TIMER]))
        return 0; /* overdue */
    return due > INT32_MAX ? INT32_MAX : (int)due;
}

/* Lets curl act on every socket epoll reports ready and on its timer
 * when due: work proportional to what is ready, not to what is in flight. */
static void cq_fetch_drive(cq_fetch_t *fetch)
{
    /* At most CQ_FETCH_POLL_BATCH sockets: epoll is level-triggered, the
     * rest stay ready for the next poll, and one poll stays short. */
    int fds[CQ_FETCH_POLL_BATCH], events[CQ_FETCH_POLL_BATCH], running;
    int n = cq_fetch_events_ready(fetch->events, fds, events, CQ_FETCH_POLL_BATCH);
    for (int i = 0; i < n; i++) {
        int mask = ((events[i] & CQ_FETCH_EV_IN) ? CURL_CSELECT_IN : 0) |
                   ((events[i] & CQ_FETCH_EV_OUT) ? CURL_CSELECT_OUT : 0) |
                   ((events[i] & CQ_FETCH_EV_ERR) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(fetch->multi, fds[i], mask, &running);
    }
    if (fetch->curl_timer_at >= 0 && fetch->curl_timer_at <= cq_mono_ms()) {
        fetch->curl_timer_at = -1; /* the call below may set the next one */
        curl_multi_socket_action(fetch->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    cq_fetch_read_done(fetch);
}

int cq_fetch_poll_fds(cq_fetch_t *fetch, int timeout_ms, const int *fds, size_t fd_count)
{
    int64_t now = cq_mono_ms();
    int64_t wait = timeout_ms < 0 ? 0 : timeout_ms;
    for (cq_fetch_call_t *call = fetch->lists[CQ_FETCH_IN_TIMER], *next; call; call = next) {
        next = call->next;
        if (call->retry_at <= now) {
            cq_fetch_unlink(call);
            cq_fetch_attempt(call);
        } else if (call->retry_at - now < wait) {
            wait = call->retry_at - now;
        }
    }
    cq_fetch_start_batch(fetch);
    if (fetch->lists[CQ_FETCH_IN_STARTING])
        wait = 0; /* more to hand over: come back at once */
    cq_fetch_drive(fetch);
    if (fetch->curl_timer_at >= 0) {
        int64_t due = fetch->curl_timer_at - cq_mono_ms();
        if (due < wait)
            wait = due < 0 ? 0 : due;
    }
    if (!fetch->lists[CQ_FETCH_IN_READY] && wait > 0) {
        cq_fetch_events_wait(fetch->events, (int)wait, fds, fd_count);
        cq_fetch_drive(fetch);
    }
    return cq_fetch_deliver(fetch);
}

void cq_fetch_loop_init(cq_fetch_t *fetch)
{
    curl_multi_setopt(fetch->multi, CURLMOPT_SOCKETFUNCTION, cq_fetch_on_socket);
    curl_multi_setopt(fetch->multi, CURLMOPT_SOCKETDATA, fetch);
    curl_multi_setopt(fetch->multi, CURLMOPT_TIMERFUNCTION, cq_fetch_on_timer);
    curl_multi_setopt(fetch->multi, CURLMOPT_TIMERDATA, fetch);
}
