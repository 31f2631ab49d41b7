/*
 * cq_fetch.h — the one outgoing HTTP client of a worker: many calls in
 * flight over one curl multi handle, driven by the caller's loop.
 *
 * A call is a small state machine: check the URL, send, then finish,
 * retry after a jittered exponential backoff or the server's Retry-After
 * (capped), or follow a redirect (bounded, every hop checked again). Per
 * destination (host:port) a circuit breaker (cq_breaker) refuses calls
 * while that destination keeps failing.
 *
 * A call made with .user_url (a URL a user supplied) goes through the
 * address policy (cq_urlpolicy, allow list from fetch.allow): parse-time
 * checks, then every address curl is about to connect to is checked in
 * curl's open-socket hook, so no connection is ever opened to a refused
 * address and the connection goes to exactly the address checked. Such
 * calls use no proxy and never share a connection with another call.
 * Calls without .user_url (URLs from configuration: LLM providers,
 * upstream services) skip the address checks but keep the rest.
 *
 * Never blocks: DNS runs on curl's resolver threads, waits are timers.
 *
 * Observability: a call keeps the caller's log context (cq_log.h) from
 * cq_fetch_start; calls without .user_url send its trace on as a
 * traceparent header (a new span id per transfer), and the callback runs
 * with that context set again. Durations go to a histogram by destination.
 *
 * Threads: not thread-safe. One loop thread owns the fetch: it calls
 * cq_fetch_start, cq_fetch_cancel and cq_fetch_poll (and the other
 * functions below), and completion
 * callbacks run on it, inside cq_fetch_poll only (never inside
 * cq_fetch_start, so a caller is never re-entered). The one exception is
 * cq_fetch_wakeup, which any thread may call.
 */
#ifndef CQ_FETCH_H
#define CQ_FETCH_H

#include <stdio.h>

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"
#include "cq_log.h"
#include "cq_urlpolicy.h"

typedef struct cq_fetch_s cq_fetch_t;
typedef struct cq_fetch_call_s cq_fetch_call_t;

/* How a call ended, finer than its cq_err_t (for callers that map
 * transport failures to their own codes, like the LLM engine). */
typedef enum {
    CQ_FETCH_OK = 0,       /* an HTTP response arrived (any status) */
    CQ_FETCH_REFUSED,      /* the address policy refused the URL, a hop or an address */
    CQ_FETCH_CIRCUIT_OPEN, /* the destination's circuit is open: no call was made */
    CQ_FETCH_TIMEOUT,      /* connect or total timeout */
    CQ_FETCH_CONNECT,      /* DNS, refused, unreachable, TLS handshake */
    CQ_FETCH_RESET,        /* connection broken mid-exchange, empty reply */
    CQ_FETCH_TLS,          /* certificate not trusted */
    CQ_FETCH_TOO_LARGE,    /* body longer than max_bytes: cut there */
    CQ_FETCH_REDIRECTS,    /* more redirects than max_redirects, or a bad Location */
    CQ_FETCH_OTHER,
} cq_fetch_fail_t;

/* "ok", "refused", "circuit_open", "timeout", ... (static strings). */
const char *cq_fetch_fail_name(cq_fetch_fail_t fail);

/* Whether a response that arrived should be tried again (when tries are
 * left), in place of retry_statuses: for callers that read the body to
 * decide (an LLM server's 500 that refuses a request format is final, a
 * 500 that is an outage is not). body is NUL-terminated, valid during the
 * call. A response judged final counts as a success for the destination's
 * breaker (the server answered), one to retry as a failure. Called on the
 * loop thread with the call's opaque, inside cq_fetch_poll. */
typedef bool(cq_fetch_retry_fn)(void *opaque, long status, const char *body, size_t body_len);

/* One call. Everything is copied by cq_fetch_start (but a body_borrowed
 * body): the caller may free it as soon as cq_fetch_start returns. Get one
 * filled with the fetch's defaults (fetch.* config) from
 * cq_fetch_request_defaults. */
typedef struct {
    const char *method;         /* "GET" when NULL; "HEAD", "POST", "PUT", ... */
    const char *url;            /* absolute http(s) URL */
    const char *const *headers; /* header_count "Name: value" lines */
    size_t header_count;
    const void *body; /* sent as is; body_len bytes; NULL: none */
    size_t body_len;
    /* body is not copied: the caller keeps it unchanged until the call's
     * callback has run or the call is cancelled (saves a copy per call
     * for callers that hold their request anyway). */
    bool body_borrowed;
    bool user_url;                  /* a URL from a user: apply the address policy */
    int64_t connect_timeout_ms;     /* per try */
    int64_t timeout_ms;             /* per try (each retry and hop has its own) */
    int64_t max_bytes;              /* longest body read; past it: CQ_FETCH_TOO_LARGE */
    int max_attempts;               /* tries per hop, >= 1 */
    int max_redirects;              /* hops followed; 0: a 3xx is returned as it is */
    int64_t retry_backoff_ms;       /* first retry delay, doubled each try, jittered */
    int64_t retry_after_max_ms;     /* cap of Retry-After and of the backoff */
    const int *retry_statuses;      /* 0-terminated statuses to retry; NULL: 429 and 5xx */
    cq_fetch_retry_fn *retry_check; /* NULL: retry_statuses decide */
    bool retry_transport;           /* retry timeouts, connect failures and resets */
    long buffer_size;               /* curl receive buffer, bytes; 0: curl's default (16 KiB) */
    const char *log_id;             /* job or request id for log lines; may be NULL */
    /* The log context the call keeps (its trace, its callback's context):
     * NULL for the calling thread's at cq_fetch_start (copied); else
     * borrowed until the callback has run or the call is cancelled (a
     * caller that keeps the context anyway saves a copy per call). */
    const cq_log_ctx_t *log_ctx;
} cq_fetch_request_t;

/* What the callback gets. Strings and body are owned by the call and valid
 * during the callback only, except that the callback may take the body
 * (keep result->body and set it to NULL; then it frees it). */
typedef struct {
    /* CQ_ERR_OK: a response arrived, status says which (5xx and 429 too,
     * once the tries are used up); CQ_ERR_URL_NOT_ALLOWED: refused by the
     * policy (no connection made to a refused address);
     * CQ_ERR_UPSTREAM_UNAVAILABLE: the destination's circuit is open;
     * CQ_ERR_FETCH_FAILED: transport failure after the tries, too many
     * redirects, or a body cut at max_bytes (body holds what was read);
     * CQ_ERR_INTERNAL_ERROR: the transfer could not be set up. */
    cq_err_t err;
    cq_fetch_fail_t fail;
    char message[256]; /* what happened, for job errors and logs; no secrets */
    long status;       /* HTTP status of the last response; 0 when none */
    const char *content_type, *location, *retry_after; /* of the last response; NULL if absent */
    const char *url;                                   /* the last URL tried (after redirects) */
    char *body;                                        /* NUL-terminated, never NULL */
    size_t body_len;
    int attempts;       /* transfers made: tries and redirect hops */
    int redirects;      /* hops followed */
    int64_t latency_ms; /* from cq_fetch_start to the end, waits included */
} cq_fetch_result_t;

typedef void(cq_fetch_done_fn)(void *opaque, cq_fetch_result_t *result);

/* A fetch with defaults and policy from conf: fetch.allow (NULL with
 * errstr when malformed), fetch.connect_timeout, fetch.timeout,
 * fetch.max_bytes, fetch.max_redirects, fetch.max_attempts,
 * fetch.retry_backoff, fetch.retry_after_max, fetch.breaker_failures,
 * fetch.breaker_cooldown; worker.max_in_flight sizes the connection cache.
 * Values are copied. Caller destroys. */
cq_fetch_t *cq_fetch_new(const cq_config_t *conf, char *errstr, size_t errstr_size);

/* Aborts calls still in flight without calling their callbacks. NULL is a
 * no-op. Not from inside a callback. */
void cq_fetch_destroy(cq_fetch_t *fetch);

/* A request with the fetch's defaults, GET, no URL, retry_transport on. */
cq_fetch_request_t cq_fetch_request_defaults(const cq_fetch_t *fetch);

/* Starts a call. done is called exactly once, later, from cq_fetch_poll —
 * also for a call refused at once (bad URL, open circuit) — unless the call
 * is cancelled first. The returned handle is valid until done returns or
 * cq_fetch_cancel; the caller may ignore it. */
cq_fetch_call_t *cq_fetch_start(cq_fetch_t *fetch, const cq_fetch_request_t *req,
                                cq_fetch_done_fn *done, void *opaque);

/* Ends a call whose callback has not run; the callback never runs. A
 * running transfer is aborted; its outcome is not recorded in the breaker.
 * Not for the call whose callback is running (it ends when done returns). */
void cq_fetch_cancel(cq_fetch_t *fetch, cq_fetch_call_t *call);

/* Drives transfers and retry timers, waiting up to timeout_ms for
 * activity (0: do what is ready and return), and calls the callbacks of
 * the calls that ended, oldest first. Returns at once when a callback is
 * due. One poll does a bounded amount of work (at most 256 ready sockets
 * and 256 callbacks, 64 new transfers): what is left makes the next poll
 * return at once, so a loop stays responsive at thousands in flight.
 * Returns the number of callbacks run. */
int cq_fetch_poll(cq_fetch_t *fetch, int timeout_ms);

/* At most this many descriptors are watched by cq_fetch_poll_fds. */
#define CQ_FETCH_MAX_EXTRA_FDS 8

/* As cq_fetch_poll, and the wait also ends when one of the fd_count
 * descriptors in fds (at most CQ_FETCH_MAX_EXTRA_FDS; more are ignored)
 * becomes readable — e.g. a completion queue's eventfd or librdkafka's
 * queue event fd — so a loop can wait on all its sources in one place.
 * The descriptors are only watched, never read. */
int cq_fetch_poll_fds(cq_fetch_t *fetch, int timeout_ms, const int *fds, size_t fd_count);

/* For a loop that waits in its own poll instead: a descriptor that becomes
 * readable when curl has socket work (valid until destroy; only wait on
 * it, never read it), and how long that wait may last before the next
 * cq_fetch_poll(fetch, 0) is due: 0 when work is ready (callbacks due,
 * transfers to hand to curl, a timer overdue), else the time to the next
 * retry or curl timer in ms, -1 when nothing waits on time. */
int cq_fetch_fd(const cq_fetch_t *fetch);
int cq_fetch_timeout_ms(const cq_fetch_t *fetch);

/* Makes a cq_fetch_poll that is waiting (or the next one) return early.
 * Any thread; for loops that also wait on other sources (a completion
 * queue, Kafka). */
void cq_fetch_wakeup(cq_fetch_t *fetch);

/* The call-duration histogram (coachq_worker_upstream_call_duration_seconds,
 * by destination and outcome) in Prometheus text, first_labels before its
 * own. Any thread (the metrics server's). */
void cq_fetch_metrics_write(cq_fetch_t *fetch, const char *first_labels, FILE *out);

/* Calls started whose callback has not run. */
size_t cq_fetch_in_flight(const cq_fetch_t *fetch);

/* "closed", "open" or "half_open" for a destination ("host:port", as
 * cq_urlpolicy_url_t.dest); "closed" for one never called. */
const char *cq_fetch_circuit_state(cq_fetch_t *fetch, const char *dest);

/* Gives a destination from configuration ("host:port", as
 * cq_urlpolicy_url_t.dest; e.g. the LLM provider) a breaker of its own
 * that opens after `failures` consecutive failures for cooldown_ms, in
 * place of fetch.breaker_*. Call before the first call to it. */
void cq_fetch_set_breaker(cq_fetch_t *fetch, const char *dest, int failures, int64_t cooldown_ms);

/* The fetch's address policy (for checks before a call, e.g. a request
 * validator that wants to refuse a URL without fetching it). */
const cq_urlpolicy_t *cq_fetch_policy(const cq_fetch_t *fetch);

#endif
