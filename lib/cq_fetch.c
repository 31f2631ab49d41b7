/*
 * cq_fetch.c — asynchronous HTTP calls over one curl multi handle (see
 * cq_fetch.h): a call's course from start to end, its tries, retries and
 * redirects. The loop's side (curl's event hooks, driving transfers,
 * delivering callbacks) is cq_fetch_loop.c; the structures both use are
 * in cq_fetch_int.h.
 *
 * Threads: the loop thread that owns the fetch; cq_fetch_wakeup from any.
 * A call is in exactly one list: starting (set up, waiting to be handed to
 * curl, at most CQ_FETCH_START_BATCH per poll), active (in the multi
 * handle), timer (waiting for a retry), ready (ended, callback due) or
 * deliver (its callback runs in the current poll). The lists are doubly
 * linked FIFOs: cancel is O(1) and callbacks run in the order calls ended.
 *
 * Guarantees: a callback runs once, from cq_fetch_poll only; a call with
 * user_url never connects to an address the policy refuses (curl asks
 * cq_fetch_open_socket for every socket it connects, after DNS; a refused
 * address gets CURL_SOCKET_BAD and no socket exists), never goes through a
 * proxy and never reuses a connection opened by another call (that
 * connection was checked for another URL, or not at all).
 *
 * Breakers: one per destination "host:port" (cq_fetch_dest, at most about
 * CQ_FETCH_MAX_DESTS kept); a call holds the one of its current hop.
 */
#include "cq_fetch.h"
#include "cq_breaker.h"
#include "cq_fetch_dest.h"
#include "cq_fetch_events.h"
#include "cq_fetch_headers.h"
#include "cq_fetch_int.h"
#include "cq_fetch_retry.h"
#include "cq_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

static pthread_once_t cq_fetch_curl_once = PTHREAD_ONCE_INIT;

static void cq_fetch_curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- lists ---- */

void cq_fetch_link(cq_fetch_call_t *call, cq_fetch_where_t where)
{
    cq_fetch_t *fetch = call->fetch;
    call->where = where;
    call->next = NULL;
    call->prev = fetch->tails[where];
    if (call->prev)
        call->prev->next = call;
    else
        fetch->lists[where] = call;
    fetch->tails[where] = call;
}

void cq_fetch_unlink(cq_fetch_call_t *call)
{
    if (call->where == CQ_FETCH_IN_NONE)
        return;
    if (call->prev)
        call->prev->next = call->next;
    else
        call->fetch->lists[call->where] = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        call->fetch->tails[call->where] = call->prev;
    call->prev = call->next = NULL;
    call->where = CQ_FETCH_IN_NONE;
}

static void cq_fetch_dest_release(cq_fetch_call_t *call)
{
    cq_fetch_dests_release(call->dest);
    call->dest = NULL;
}

/* ---- lifecycle ---- */

cq_fetch_t *cq_fetch_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    cq_urlpolicy_t *policy = cq_urlpolicy_new(conf->fetch_allow, errstr, errstr_size);
    if (!policy)
        return NULL;
    pthread_once(&cq_fetch_curl_once, cq_fetch_curl_init);
    cq_fetch_t *fetch = cq_calloc(1, sizeof(*fetch));
    fetch->policy = policy;
    fetch->multi = curl_multi_init();
    fetch->events = cq_fetch_events_new(errstr, errstr_size);
    fetch->curl_timer_at = -1;
    if (!fetch->events) {
        cq_fetch_destroy(fetch);
        return NULL;
    }
    cq_fetch_loop_init(fetch);
    fetch->idle_cap = (size_t)conf->worker_max_in_flight;
    fetch->idle = cq_calloc(fetch->idle_cap, sizeof(CURL *));
    curl_multi_setopt(fetch->multi, CURLMOPT_MAXCONNECTS, (long)conf->worker_max_in_flight);
    fetch->dests = cq_fetch_dests_new((int)conf->fetch_breaker_failures,
                                      conf->fetch_breaker_cooldown, CQ_FETCH_MAX_DESTS);
    fetch->defaults = (cq_fetch_request_t){
        .method = "GET",
        .connect_timeout_ms = conf->fetch_connect_timeout,
        .timeout_ms = conf->fetch_timeout,
        .max_bytes = conf->fetch_max_bytes,
        .max_attempts = (int)conf->fetch_max_attempts,
        .max_redirects = (int)conf->fetch_max_redirects,
        .retry_backoff_ms = conf->fetch_retry_backoff,
        .retry_after_max_ms = conf->fetch_retry_after_max,
        .retry_transport = true,
    };
    fetch->seed = (unsigned int)cq_now_ms() ^ (unsigned int)(uintptr_t)fetch;
    fetch->call_seconds = cq_fetch_dest_histo_new();
    return fetch;
}

cq_fetch_request_t cq_fetch_request_defaults(const cq_fetch_t *fetch)
{
    return fetch->defaults;
}

void cq_fetch_set_breaker(cq_fetch_t *fetch, const char *dest, int failures, int64_t cooldown_ms)
{
    cq_fetch_dests_configure(fetch->dests, dest, failures, cooldown_ms);
}

const cq_urlpolicy_t *cq_fetch_policy(const cq_fetch_t *fetch)
{
    return fetch->policy;
}

void cq_fetch_metrics_write(cq_fetch_t *fetch, const char *first_labels, FILE *out)
{
    cq_histo_write(fetch->call_seconds, first_labels, out);
}

size_t cq_fetch_in_flight(const cq_fetch_t *fetch)
{
    return fetch->in_flight;
}

const char *cq_fetch_circuit_state(cq_fetch_t *fetch, const char *dest)
{
    return cq_fetch_dests_state(fetch->dests, dest);
}

/* Takes the call's transfer out of the multi handle; the easy handle goes
 * back to the pool. */
static void cq_fetch_reset_transfer(cq_fetch_call_t *call)
{
    cq_fetch_t *fetch = call->fetch;
    if (call->easy) {
        if (call->in_multi)
            curl_multi_remove_handle(fetch->multi, call->easy);
        call->in_multi = false;
        if (fetch->idle_count < fetch->idle_cap) {
            curl_easy_reset(call->easy);
            fetch->idle[fetch->idle_count++] = call->easy;
        } else {
            curl_easy_cleanup(call->easy);
        }
        call->easy = NULL;
    }
    cq_fetch_headers_free_list(call->slist);
    call->slist = NULL;
    call->refused = false;
    free(call->refused_why);
    call->refused_why = NULL;
}

/* Forgets the last response (before another try or hop). */
static void cq_fetch_clear_response(cq_fetch_call_t *call)
{
    free(call->resp);
    free(call->content_type);
    free(call->location);
    free(call->retry_after);
    call->resp = call->content_type = call->location = call->retry_after = NULL;
    call->resp_len = call->resp_cap = 0;
    call->too_big = false;
    call->status = 0;
}

void cq_fetch_call_free(cq_fetch_call_t *call)
{
    cq_fetch_reset_transfer(call);
    cq_fetch_clear_response(call);
    cq_fetch_dest_release(call);
    cq_urlpolicy_url_clear(&call->url);
    cq_fetch_headers_release(call->headers);
    free(call->message);
    if (!call->body_borrowed) {
        if (call->body)
            explicit_bzero(call->body, call->body_len);
        free(call->body);
    }
    free(call->method);
    free(call->last_url);
    free(call->retry_statuses);
    free(call->log_id);
    free(call->own_ctx);
    free(call);
}

void cq_fetch_destroy(cq_fetch_t *fetch)
{
    if (!fetch)
        return;
    for (int w = 0; w < CQ_FETCH_IN__COUNT; w++) {
        while (fetch->lists[w]) {
            cq_fetch_call_t *call = fetch->lists[w];
            /* The analyzer does not see unlink rewrite the list head. */
            cq_fetch_unlink(call); /* NOLINT(clang-analyzer-unix.Malloc) */
            cq_fetch_call_free(call);
        }
    }
    for (size_t i = 0; i < fetch->idle_count; i++)
        curl_easy_cleanup(fetch->idle[i]);
    free(fetch->idle);
    cq_fetch_dests_destroy(fetch->dests);
    cq_fetch_headers_release(fetch->last_headers);
    curl_multi_cleanup(fetch->multi);
    cq_fetch_events_destroy(fetch->events);
    cq_urlpolicy_destroy(fetch->policy);
    cq_histo_destroy(fetch->call_seconds);
    free(fetch);
}

/* Ends a call: its callback runs at the next cq_fetch_poll. The last
 * response (status, headers, body) is kept for the result. */
void cq_fetch_finish(cq_fetch_call_t *call, cq_err_t err, cq_fetch_fail_t fail, const char *fmt,
                     ...)
{
    /* Formatted first: the arguments may point into the transfer's state. */
    char message[256] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
    }
    free(call->message);
    call->message = cq_strdup(message);
    cq_fetch_unlink(call);
    cq_fetch_reset_transfer(call);
    cq_fetch_dest_release(call);
    call->err = err;
    call->fail = fail;
    cq_fetch_link(call, CQ_FETCH_IN_READY);
}

/* ---- curl callbacks ---- */

static size_t cq_fetch_on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    cq_fetch_call_t *call = userdata;
    size_t n = size * nmemb, take = n;
    if ((int64_t)(call->resp_len + n) > call->max_bytes) {
        call->too_big = true;
        take = (size_t)(call->max_bytes - (int64_t)call->resp_len);
    }
    if (call->resp_len + take + 1 > call->resp_cap) {
        size_t cap = call->resp_cap ? call->resp_cap : 1024;
        while (cap < call->resp_len + take + 1)
            cap *= 2;
        call->resp = cq_realloc(call->resp, cap);
        call->resp_cap = cap;
    }
    memcpy(call->resp + call->resp_len, ptr, take);
    call->resp_len += take;
    call->resp[call->resp_len] = '\0';
    return call->too_big ? 0 : n; /* 0 aborts the transfer */
}

/* Every socket a user_url transfer connects goes through here, after DNS:
 * the address checked is the address connected. */
static curl_socket_t cq_fetch_open_socket(void *clientp, curlsocktype purpose,
                                          struct curl_sockaddr *address)
{
    cq_fetch_call_t *call = clientp;
    char why[160];
    if (!cq_urlpolicy_check_addr(call->fetch->policy, &address->addr, why, sizeof(why))) {
        if (!call->refused)
            call->refused_why = cq_strdup(why);
        call->refused = true;
        CQ_LOG(CQ_LOG_INFO, "fetch", call->log_id, "refused to connect to %s: %s", call->url.dest,
               why);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

/* ---- attempts ---- */

void cq_fetch_attempt(cq_fetch_call_t *call)
{
    cq_fetch_t *fetch = call->fetch;
    if (!call->dest)
        call->dest = cq_fetch_dests_acquire(fetch->dests, call->url.dest);
    if (!cq_breaker_allow(cq_fetch_dest_breaker(call->dest), cq_mono_ms())) {
        cq_fetch_finish(call, CQ_ERR_UPSTREAM_UNAVAILABLE, CQ_FETCH_CIRCUIT_OPEN,
                        "the circuit of %s is open after repeated failures", call->url.dest);
        return;
    }
    CURL *easy = fetch->idle_count ? fetch->idle[--fetch->idle_count] : curl_easy_init();
    call->easy = easy;
    struct curl_slist *slist = cq_fetch_headers_list(call->headers);
    if (!call->user_url && call->log_ctx->trace.trace_id[0]) { /* upstream services only */
        /* A span of its own per transfer: the shared set cannot carry it. */
        char tp[CQ_TRACE_HEADER_LEN + 1], line[CQ_TRACE_HEADER_LEN + 16];
        cq_trace_child(&call->log_ctx->trace, tp);
        snprintf(line, sizeof(line), "traceparent: %s", tp);
        slist = call->slist = cq_fetch_headers_with(call->headers, line);
    }
    curl_easy_setopt(easy, CURLOPT_URL, call->url.url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    if (strcmp(call->method, "GET") == 0) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(call->method, "HEAD") == 0) {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else {
        if (call->has_body) {
            curl_easy_setopt(easy, CURLOPT_POST, 1L);
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->body);
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
        }
        if (strcmp(call->method, "POST") != 0)
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, call->method);
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, slist);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)call->connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)call->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    /* A transfer removed while its DNS lookup runs (timeout, cancel) would
     * otherwise join the resolver thread and stall the loop until
     * getaddrinfo returns; with this curl detaches it instead. */
    curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L);
    if (call->buffer_size > 0)
        curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, call->buffer_size);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, cq_fetch_on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, call);
    if (call->user_url) {
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, cq_fetch_open_socket);
        curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, call);
        curl_easy_setopt(easy, CURLOPT_PROXY, ""); /* no proxy from the environment */
        curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    }
    call->tries++;
    call->attempts++;
    cq_fetch_link(call, CQ_FETCH_IN_STARTING);
}

static void cq_fetch_schedule(cq_fetch_call_t *call, int64_t delay_ms)
{
    cq_fetch_unlink(call);
    cq_fetch_reset_transfer(call);
    call->retry_at = cq_mono_ms() + delay_ms;
    cq_fetch_link(call, CQ_FETCH_IN_TIMER);
}

static bool cq_fetch_status_retries(const cq_fetch_call_t *call, long status)
{
    if (!call->retry_statuses)
        return status == 429 || (status >= 500 && status <= 599);
    for (const int *s = call->retry_statuses; *s; s++)
        if (*s == status)
            return true;
    return false;
}

static char *cq_fetch_header(CURL *easy, const char *name)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
        return NULL;
    return cq_strdup(h->value);
}

/* Follows the last response's Location: a new hop, checked like the first. */
static void cq_fetch_redirect(cq_fetch_call_t *call)
{
    if (call->redirects >= call->max_redirects) {
        cq_fetch_finish(call, CQ_ERR_FETCH_FAILED, CQ_FETCH_REDIRECTS, "more than %d redirects",
                        call->max_redirects);
        return;
    }
    char *next = cq_urlpolicy_join(call->url.url, call->location);
    if (!next) {
        cq_fetch_finish(call, CQ_ERR_FETCH_FAILED, CQ_FETCH_REDIRECTS,
                        "HTTP %ld redirects to an unreadable Location", call->status);
        return;
    }
    cq_urlpolicy_url_t hop;
    char why[200];
    if (cq_urlpolicy_parse(call->user_url ? call->fetch->policy : NULL, next, &hop, why,
                           sizeof(why)) != CQ_ERR_OK) {
        free(call->last_url);
        call->last_url = next;
        cq_fetch_finish(call, CQ_ERR_URL_NOT_ALLOWED, CQ_FETCH_REFUSED, "redirect %d refused: %s",
                        call->redirects + 1, why);
        return;
    }
    free(next);
    /* As browsers do: 303, and 301/302 after a POST, continue with GET. */
    long s = call->status;
    if ((s == 303 && strcmp(call->method, "HEAD") != 0) ||
        ((s == 301 || s == 302) && strcmp(call->method, "POST") == 0)) {
        free(call->method);
        call->method = cq_strdup("GET");
        call->has_body = false;
    }
    /* Credentials meant for one origin are not sent to another. */
    if (strcmp(hop.dest, call->url.dest) != 0 || hop.https != call->url.https) {
        cq_fetch_headers_t *kept = cq_fetch_headers_without_credentials(call->headers);
        cq_fetch_headers_release(call->headers);
        call->headers = kept;
    }
    cq_fetch_unlink(call);
    cq_fetch_reset_transfer(call);
    cq_fetch_clear_response(call);
    cq_fetch_dest_release(call);
    cq_urlpolicy_url_clear(&call->url);
    call->url = hop;
    call->redirects++;
    call->tries = 0;
    cq_fetch_attempt(call);
}

void cq_fetch_on_done(cq_fetch_call_t *call, CURLcode code)
{
    cq_breaker_t *breaker = cq_fetch_dest_breaker(call->dest);
    int64_t now = cq_mono_ms();
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &call->status);
    if (call->status > 0) {
        call->content_type = cq_fetch_header(call->easy, "Content-Type");
        call->location = cq_fetch_header(call->easy, "Location");
        call->retry_after = cq_fetch_header(call->easy, "Retry-After");
    }
    const char *method = call->method;
    if (call->too_big) {
        cq_breaker_record(breaker, true, now); /* it answered */
        cq_fetch_finish(call, CQ_ERR_FETCH_FAILED, CQ_FETCH_TOO_LARGE,
                        "%s %s: the response is longer than %lld bytes (cut there)", method,
                        call->url.dest, (long long)call->max_bytes);
        return;
    }
    if (code != CURLE_OK && call->refused) {
        cq_fetch_finish(call, CQ_ERR_URL_NOT_ALLOWED, CQ_FETCH_REFUSED, "%s",
                        call->refused_why ? call->refused_why : "address refused");
        return;
    }
    if (code != CURLE_OK) {
        cq_fetch_fail_t fail = cq_fetch_fail_from_curl((int)code);
        cq_breaker_record(breaker, false, now);
        if (call->retry_transport && fail != CQ_FETCH_TLS && call->tries < call->max_attempts) {
            int64_t delay = cq_fetch_backoff_ms(call->retry_backoff_ms, call->retry_after_max_ms,
                                                call->tries, &call->fetch->seed);
            CQ_LOG(CQ_LOG_INFO, "fetch", call->log_id, "%s %s try %d: %s; retrying in %lld ms",
                   method, call->url.dest, call->tries, curl_easy_strerror(code), (long long)delay);
            cq_fetch_clear_response(call);
            cq_fetch_schedule(call, delay);
            return;
        }
        cq_fetch_finish(call, CQ_ERR_FETCH_FAILED, fail, "%s %s: %s (%s) after %d %s", method,
                        call->url.dest, cq_fetch_fail_name(fail), curl_easy_strerror(code),
                        call->tries, call->tries == 1 ? "try" : "tries");
        return;
    }
    long status = call->status;
    bool retry;
    if (call->retry_check) {
        retry =
            call->retry_check(call->opaque, status, call->resp ? call->resp : "", call->resp_len);
        cq_breaker_record(breaker, !retry, now);
    } else {
        retry = cq_fetch_status_retries(call, status);
        cq_breaker_record(breaker, !(status == 429 || status >= 500), now);
    }
    if (retry && call->tries < call->max_attempts) {
        int64_t delay =
            cq_fetch_retry_after_ms(call->retry_after, cq_now_ms(), call->retry_after_max_ms);
        if (delay < 0)
            delay = cq_fetch_backoff_ms(call->retry_backoff_ms, call->retry_after_max_ms,
                                        call->tries, &call->fetch->seed);
        CQ_LOG(CQ_LOG_INFO, "fetch", call->log_id, "%s %s try %d: HTTP %ld; retrying in %lld ms",
               method, call->url.dest, call->tries, status, (long long)delay);
        cq_fetch_clear_response(call);
        cq_fetch_schedule(call, delay);
        return;
    }
    bool redirect =
        status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (redirect && call->max_redirects > 0 && call->location) {
        cq_fetch_redirect(call);
        return;
    }
    cq_fetch_finish(call, CQ_ERR_OK, CQ_FETCH_OK, NULL);
}

cq_fetch_call_t *cq_fetch_start(cq_fetch_t *fetch, const cq_fetch_request_t *req,
                                cq_fetch_done_fn *done, void *opaque)
{
    cq_fetch_call_t *call = cq_calloc(1, sizeof(*call));
    call->fetch = fetch;
    call->where = CQ_FETCH_IN_NONE;
    call->done = done;
    call->opaque = opaque;
    call->started_ms = cq_mono_ms();
    call->method = cq_strdup(req->method ? req->method : "GET");
    call->headers = cq_fetch_headers_get(&fetch->last_headers, req->headers, req->header_count);
    call->has_body = req->body != NULL;
    call->body_borrowed = req->body && req->body_borrowed;
    if (call->body_borrowed) {
        call->body = (char *)req->body; /* never written: sent as POSTFIELDS */
        call->body_len = req->body_len;
    } else if (req->body) {
        call->body = cq_malloc(req->body_len + 1);
        memcpy(call->body, req->body, req->body_len);
        call->body_len = req->body_len;
    }
    call->user_url = req->user_url;
    call->retry_transport = req->retry_transport;
    call->connect_timeout_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 1;
    call->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 1;
    call->max_bytes = req->max_bytes > 0 ? req->max_bytes : 1;
    call->max_attempts = req->max_attempts > 0 ? req->max_attempts : 1;
    call->max_redirects = req->max_redirects > 0 ? req->max_redirects : 0;
    call->retry_backoff_ms = req->retry_backoff_ms > 0 ? req->retry_backoff_ms : 0;
    call->retry_after_max_ms = req->retry_after_max_ms > 0 ? req->retry_after_max_ms : 0;
    if (req->retry_statuses) {
        size_t n = 0;
        while (req->retry_statuses[n])
            n++;
        call->retry_statuses = cq_calloc(n + 1, sizeof(int));
        memcpy(call->retry_statuses, req->retry_statuses, n * sizeof(int));
    }
    call->retry_check = req->retry_check;
    call->buffer_size = req->buffer_size;
    call->log_id = req->log_id ? cq_strdup(req->log_id) : NULL;
    if (req->log_ctx) {
        call->log_ctx = req->log_ctx;
    } else {
        call->own_ctx = cq_malloc(sizeof(*call->own_ctx));
        *call->own_ctx = *cq_log_ctx();
        call->log_ctx = call->own_ctx;
    }
    fetch->in_flight++;
    char why[200];
    if (cq_urlpolicy_parse(call->user_url ? fetch->policy : NULL, req->url, &call->url, why,
                           sizeof(why)) != CQ_ERR_OK) {
        call->last_url = cq_strdup(req->url ? req->url : "");
        cq_fetch_finish(call, CQ_ERR_URL_NOT_ALLOWED, CQ_FETCH_REFUSED, "%s", why);
        return call;
    }
    cq_fetch_attempt(call);
    return call;
}

void cq_fetch_cancel(cq_fetch_t *fetch, cq_fetch_call_t *call)
{
    if (!call)
        return;
    cq_fetch_unlink(call);
    fetch->in_flight--;
    cq_fetch_call_free(call);
}
