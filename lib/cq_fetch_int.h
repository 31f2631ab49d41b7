/*
 * cq_fetch_int.h — what the two halves of the fetch layer share: the call
 * and fetch structures, and the functions each half gives the other.
 * cq_fetch.c runs a call (start, tries, retries, redirects, its end);
 * cq_fetch_loop.c is the loop's side (curl's socket and timer hooks,
 * driving transfers, delivering callbacks, the polls).
 *
 * Internal (curl types): nothing outside lib/cq_fetch*.c includes it.
 * Threads: the fetch's loop thread, as cq_fetch.h says.
 */
#ifndef CQ_FETCH_INT_H
#define CQ_FETCH_INT_H

#include "cq_fetch.h"
#include "cq_fetch_dest.h"
#include "cq_fetch_events.h"
#include "cq_fetch_headers.h"
#include "cq_histo.h"
#include "cq_log.h"

#include <curl/curl.h>

#define CQ_FETCH_MAX_DESTS   4096
#define CQ_FETCH_START_BATCH 64
#define CQ_FETCH_POLL_BATCH  256 /* sockets served and callbacks run per poll */

typedef enum {
    CQ_FETCH_IN_NONE = -1,
    CQ_FETCH_IN_STARTING = 0, /* set up, waiting for its turn to enter the multi handle */
    CQ_FETCH_IN_ACTIVE,
    CQ_FETCH_IN_TIMER,
    CQ_FETCH_IN_READY,
    CQ_FETCH_IN_DELIVER,
    CQ_FETCH_IN__COUNT
} cq_fetch_where_t;

struct cq_fetch_call_s {
    cq_fetch_t *fetch;
    cq_fetch_where_t where;
    cq_fetch_call_t *prev, *next;
    cq_fetch_done_fn *done;
    void *opaque;
    /* The request, copied. */
    char *method;
    cq_urlpolicy_url_t url;      /* the current hop */
    char *last_url;              /* what the result reports when not url.url (a refused URL) */
    cq_fetch_headers_t *headers; /* shared with the calls that send the same lines */
    char *body;
    size_t body_len;
    bool has_body, body_borrowed, user_url, retry_transport;
    int64_t connect_timeout_ms, timeout_ms, max_bytes, retry_backoff_ms, retry_after_max_ms;
    int max_attempts, max_redirects;
    int *retry_statuses; /* 0-terminated copy, or NULL for the default set */
    cq_fetch_retry_fn *retry_check;
    long buffer_size;
    char *log_id;
    const cq_log_ctx_t *log_ctx; /* its trace and its callback's context: own_ctx or borrowed */
    cq_log_ctx_t *own_ctx;       /* the caller's at start, when it lent none */
    /* Progress. */
    int tries; /* of the current hop */
    int attempts, redirects;
    int64_t started_ms, retry_at;
    cq_fetch_dest_t *dest;
    CURL *easy;
    bool in_multi;            /* easy was added to the multi handle */
    struct curl_slist *slist; /* this transfer's own list (with a traceparent), or NULL */
    bool refused;
    char *refused_why; /* why the policy refused an address, or NULL */
    /* The last response. */
    long status;
    char *resp;
    size_t resp_len, resp_cap;
    bool too_big;
    char *content_type, *location, *retry_after;
    cq_err_t err;
    cq_fetch_fail_t fail;
    char *message; /* set by cq_fetch_finish */
};

struct cq_fetch_s {
    CURLM *multi;
    cq_fetch_events_t *events; /* curl's sockets, the wakeup, the caller's fds */
    int64_t curl_timer_at;     /* when curl wants CURL_SOCKET_TIMEOUT; -1: never */
    cq_urlpolicy_t *policy;
    cq_fetch_request_t defaults;
    cq_fetch_call_t *lists[CQ_FETCH_IN__COUNT], *tails[CQ_FETCH_IN__COUNT]; /* FIFO */
    size_t in_flight;
    cq_fetch_dests_t *dests;
    cq_fetch_headers_t *last_headers; /* the set the last call got, for the next */
    CURL **idle;                      /* reset easy handles kept for the next transfers */
    size_t idle_count, idle_cap;
    unsigned int seed;
    cq_histo_t *call_seconds; /* by destination and outcome (cq_fetch_dest) */
};

/* ---- given by cq_fetch.c ---- */

/* Puts call at the tail of list where / takes it out of its list. */
void cq_fetch_link(cq_fetch_call_t *call, cq_fetch_where_t where);
void cq_fetch_unlink(cq_fetch_call_t *call);
/* Sets up the call's next transfer (or ends the call: open circuit) and
 * queues it as starting. */
void cq_fetch_attempt(cq_fetch_call_t *call);
/* A transfer of call ended with code: retry, redirect or finish. */
void cq_fetch_on_done(cq_fetch_call_t *call, CURLcode code);
/* Ends a call: its callback runs at the next cq_fetch_poll. */
void cq_fetch_finish(cq_fetch_call_t *call, cq_err_t err, cq_fetch_fail_t fail, const char *fmt,
                     ...) CQ_PRINTF(4, 5);
/* Frees a call that is in no list. */
void cq_fetch_call_free(cq_fetch_call_t *call);

/* ---- given by cq_fetch_loop.c ---- */

/* Gives the new fetch's multi handle its socket and timer hooks. */
void cq_fetch_loop_init(cq_fetch_t *fetch);

#endif
