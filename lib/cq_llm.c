/*
 * cq_llm.c — the curl-multi LLM engine (see cq_llm.h).
 *
 * Threads: only the worker loop thread. Calls live in one of three places:
 * in the multi handle (a transfer running), in the timer list (waiting for a
 * retry), or in the ready list (finished, callback not yet delivered).
 * Callbacks are delivered only from cq_llm_poll, never from cq_llm_call, so
 * a caller never re-enters itself.
 *
 * Structured output: the engine holds the provider's current mode
 * (llm.structured_output). With auto, a reply that says the server refused
 * the mode's request format moves the engine to the next mode
 * (cq_llm_mode_next), logged once per step, and the call is sent again at
 * once in that mode; calls built in an older mode are rebuilt before their
 * next attempt. A refusal is not a failure for the breaker.
 *
 * Errors: job messages are the reply's own words; the provider's error
 * text is logged (cut short), never passed on.
 *
 * Memory: a call holds its prompts, its request and its reply body (capped
 * at CQ_LLM_REPLY_MAX); curl's receive buffer is kept small so thousands
 * of calls in flight stay within tens of megabytes.
 */
#include "cq_llm.h"
#include "cq_breaker.h"
#include "cq_histo.h"
#include "cq_llm_proto.h"
#include "cq_log.h"
#include "cq_sigv4.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

typedef struct cq_llm_call_s {
    cq_llm_t *llm;
    const char *system; /* borrowed from the operation */
    char *user, *schema_name;
    const json_t *schema;
    cq_llm_check_fn *check;
    cq_llm_done_fn *done;
    void *opaque;
    int attempts;
    uint8_t fallbacks; /* attempts spent on a refused structured-output mode */
    uint8_t mode;      /* the cq_llm_mode_t its request was built in */
    bool repaired;
    char *repair_note, *previous_answer;
    int64_t started_ms, retry_at;
    CURL *easy;
    struct curl_slist *headers;
    cq_llm_http_t http;
    char *reply;
    size_t reply_len;
    bool reply_too_big;
    char retry_after[64];
    cq_log_ctx_t log_ctx; /* the caller's, when it started the call: logs and traceparent */
    cq_llm_result_t result;
    json_t *content;
    char *model;
    struct cq_llm_call_s *next;          /* timer or ready list */
    struct cq_llm_call_s *aprev, *anext; /* active list: a transfer is running */
    bool active;
} cq_llm_call_t;

struct cq_llm_s {
    const cq_config_t *conf;
    cq_llm_provider_t provider;
    cq_llm_mode_t mode; /* structured output now; moves on when refused (auto only) */
    bool mode_auto;     /* llm.structured_output=auto: fallback allowed */
    CURLM *multi;
    cq_breaker_t *breaker;
    cq_llm_call_t *active; /* transfers running, so destroy can reach them */
    cq_llm_call_t *timers; /* unordered; few at a time */
    cq_llm_call_t *ready;
    size_t in_flight, peak;
    bool more_done; /* finished transfers left for the next poll */
    /* Easy handles of finished transfers, reset and kept for the next calls:
     * a steady pool instead of thousands of allocations and frees a second. */
    CURL **idle;
    size_t idle_count, idle_cap;
    struct curl_slist *shared_headers; /* the constant headers of non-Bedrock requests */
    unsigned int seed;
    cq_histo_t *call_seconds; /* by provider and outcome */
};

static pthread_once_t cq_llm_curl_once = PTHREAD_ONCE_INIT;

static void cq_llm_curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

cq_llm_t *cq_llm_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    cq_llm_provider_t provider;
    if (!cq_llm_provider_parse(conf->llm_provider, &provider)) {
        cq_errstr_set(errstr, errstr_size,
                      "llm.provider \"%s\" is not builtin, openai, anthropic or bedrock",
                      conf->llm_provider);
        return NULL;
    }
    if (provider != CQ_LLM_BUILTIN && !*conf->llm_model) {
        cq_errstr_set(errstr, errstr_size, "llm.model is required for provider %s",
                      conf->llm_provider);
        return NULL;
    }
    if (provider == CQ_LLM_ANTHROPIC && !*conf->llm_api_key) {
        cq_errstr_set(errstr, errstr_size, "llm.api_key is required for provider anthropic");
        return NULL;
    }
    cq_llm_mode_t mode = CQ_LLM_MODE_AUTO, configured = CQ_LLM_MODE_AUTO;
    if (provider != CQ_LLM_BUILTIN && cq_llm_mode_select(provider, conf->llm_structured_output,
                                                         &mode, errstr, errstr_size) != CQ_ERR_OK)
        return NULL;
    cq_llm_mode_parse(conf->llm_structured_output, &configured);
    cq_llm_t *llm = cq_calloc(1, sizeof(*llm));
    llm->conf = conf;
    llm->provider = provider;
    llm->mode = mode;
    llm->mode_auto = configured == CQ_LLM_MODE_AUTO;
    llm->seed = (unsigned int)cq_now_ms();
    static const double bounds[] = CQ_HISTO_BOUNDS_LLM;
    llm->call_seconds = cq_histo_new(
        "coachq_worker_llm_call_duration_seconds",
        "Time of one LLM call from its start to its answer, retries and a repair included, by "
        "provider and outcome (ok, error); calls refused by the open circuit are not counted.",
        bounds, CQ_ARRAY_SIZE(bounds), 16, NULL);
    if (provider == CQ_LLM_BUILTIN)
        return llm;
    if (provider == CQ_LLM_BEDROCK) {
        /* Requests are signed per call (cq_sigv4); fail now, not per job. */
        cq_sigv4_creds_t creds;
        if (!cq_sigv4_creds_from_env(&creds)) {
            cq_errstr_set(errstr, errstr_size,
                          "provider bedrock needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
            cq_histo_destroy(llm->call_seconds);
            free(llm);
            return NULL;
        }
    }
    CQ_LOG(CQ_LOG_INFO, "llm", NULL, "structured output: %s (llm.structured_output=%s)",
           cq_llm_mode_name(mode), conf->llm_structured_output);
    pthread_once(&cq_llm_curl_once, cq_llm_curl_init);
    llm->multi = curl_multi_init();
    llm->idle_cap = (size_t)conf->worker_max_in_flight;
    llm->idle = cq_calloc(llm->idle_cap, sizeof(CURL *));
    curl_multi_setopt(llm->multi, CURLMOPT_MAXCONNECTS, (long)conf->worker_max_in_flight);
    llm->breaker = cq_breaker_new((int)conf->llm_breaker_failures, conf->llm_breaker_cooldown);
    return llm;
}

/* Frees a built request's header lines (they hold keys: wiped first). */
static void cq_llm_http_drop_headers(cq_llm_http_t *http)
{
    for (size_t i = 0; i < http->header_count; i++) {
        explicit_bzero(http->headers[i], strlen(http->headers[i]));
        free(http->headers[i]);
    }
    free(http->headers);
    http->headers = NULL;
    http->header_count = 0;
}

static void cq_llm_active_remove(cq_llm_call_t *call)
{
    if (!call->active)
        return;
    if (call->aprev)
        call->aprev->anext = call->anext;
    else
        call->llm->active = call->anext;
    if (call->anext)
        call->anext->aprev = call->aprev;
    call->aprev = call->anext = NULL;
    call->active = false;
}

static void cq_llm_call_reset_transfer(cq_llm_call_t *call)
{
    cq_llm_active_remove(call);
    if (call->easy) {
        cq_llm_t *llm = call->llm;
        curl_multi_remove_handle(llm->multi, call->easy);
        if (llm->idle_count < llm->idle_cap) {
            curl_easy_reset(call->easy);
            llm->idle[llm->idle_count++] = call->easy;
        } else {
            curl_easy_cleanup(call->easy);
        }
        call->easy = NULL;
    }
    curl_slist_free_all(call->headers);
    call->headers = NULL;
    free(call->reply);
    call->reply = NULL;
    call->reply_len = 0;
    call->reply_too_big = false;
    call->retry_after[0] = '\0';
}

static void cq_llm_call_free(cq_llm_call_t *call)
{
    cq_llm_call_reset_transfer(call);
    cq_llm_http_clear(&call->http);
    free(call->user);
    free(call->schema_name);
    free(call->repair_note);
    free(call->previous_answer);
    free(call->model);
    json_decref(call->content);
    free(call);
}

static void cq_llm_free_list(cq_llm_call_t *c)
{
    for (cq_llm_call_t *next; c; c = next) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): lists are acyclic (c->next != c) */
        next = c->next;
        cq_llm_call_free(c);
    }
}

void cq_llm_destroy(cq_llm_t *llm)
{
    if (!llm)
        return;
    while (llm->active) {
        cq_llm_call_t *call = llm->active;
        /* The analyzer does not see remove rewrite the list head. */
        cq_llm_active_remove(call); /* NOLINT(clang-analyzer-unix.Malloc) */
        cq_llm_call_free(call);
    }
    cq_llm_free_list(llm->timers);
    cq_llm_free_list(llm->ready);
    for (size_t i = 0; i < llm->idle_count; i++)
        curl_easy_cleanup(llm->idle[i]);
    curl_slist_free_all(llm->shared_headers);
    free(llm->idle);
    if (llm->multi)
        curl_multi_cleanup(llm->multi);
    cq_breaker_destroy(llm->breaker);
    cq_histo_destroy(llm->call_seconds);
    free(llm);
}

void cq_llm_metrics_write(cq_llm_t *llm, const char *first_labels, FILE *out)
{
    cq_histo_write(llm->call_seconds, first_labels, out);
}

bool cq_llm_is_builtin(const cq_llm_t *llm)
{
    return llm->provider == CQ_LLM_BUILTIN;
}

const char *cq_llm_provider(const cq_llm_t *llm)
{
    return cq_llm_provider_name(llm->provider);
}

const char *cq_llm_structured_output(const cq_llm_t *llm)
{
    return cq_llm_mode_name(llm->mode);
}

const char *cq_llm_circuit_state(cq_llm_t *llm)
{
    return llm->breaker ? cq_breaker_state_name(llm->breaker) : "closed";
}

size_t cq_llm_in_flight(const cq_llm_t *llm)
{
    return llm->in_flight;
}

size_t cq_llm_peak_in_flight(const cq_llm_t *llm)
{
    return llm->peak;
}

/* Ends a call: its callback runs at the next cq_llm_poll. */
static void cq_llm_finish(cq_llm_call_t *call, cq_err_t err, const char *message)
{
    cq_llm_call_reset_transfer(call);
    cq_llm_http_clear(&call->http);
    call->result.err = err;
    if (message)
        cq_strlcpy(call->result.message, message, sizeof(call->result.message));
    call->next = call->llm->ready;
    call->llm->ready = call;
}

static size_t cq_llm_on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    cq_llm_call_t *call = userdata;
    size_t n = size * nmemb;
    if (call->reply_len + n > CQ_LLM_REPLY_MAX) {
        call->reply_too_big = true;
        return 0; /* aborts the transfer */
    }
    call->reply = cq_realloc(call->reply, call->reply_len + n + 1);
    memcpy(call->reply + call->reply_len, ptr, n);
    call->reply_len += n;
    call->reply[call->reply_len] = '\0';
    return n;
}

static size_t cq_llm_on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    cq_llm_call_t *call = userdata;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0) {
        size_t len = n - (sizeof(name) - 1);
        const char *v = line + sizeof(name) - 1;
        while (len && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        if (len >= sizeof(call->retry_after))
            len = sizeof(call->retry_after) - 1;
        memcpy(call->retry_after, v, len);
        call->retry_after[len] = '\0';
    }
    return n;
}

/* Starts one HTTP attempt, or ends the call if it cannot be made. */
static void cq_llm_attempt(cq_llm_call_t *call)
{
    cq_llm_t *llm = call->llm;
    if (!cq_breaker_allow(llm->breaker, cq_mono_ms())) {
        call->result.circuit_open = true;
        cq_llm_finish(call, CQ_ERR_AI_SERVICE_UNAVAILABLE,
                      "The AI provider's circuit is open after repeated failures");
        return;
    }
    char err[256];
    /* A retry sends the request it already has, except to Bedrock, whose
     * signature is only valid for a few minutes, and except when the
     * engine's structured-output mode moved on since it was built. */
    if (call->http.body && (llm->provider == CQ_LLM_BEDROCK || call->mode != llm->mode)) {
        if (!call->user)
            call->user = cq_llm_request_user(call->http.body);
        cq_llm_http_clear(&call->http);
        if (!call->user) {
            cq_llm_finish(call, CQ_ERR_INTERNAL_ERROR, "cannot rebuild the request");
            return;
        }
    }
    if (!call->http.body) {
        cq_llm_prompt_t prompt = {
            .system = call->system,
            .user = call->user,
            .result_schema = call->schema,
            .schema_name = call->schema_name,
            .repair_note = call->repair_note,
            .previous_answer = call->previous_answer,
            .mode = llm->mode,
        };
        call->mode = (uint8_t)llm->mode;
        if (cq_llm_build_request(llm->conf, llm->provider, &prompt, &call->http, err,
                                 sizeof(err)) != CQ_ERR_OK) {
            cq_llm_finish(call, CQ_ERR_INTERNAL_ERROR, err);
            return;
        }
        /* The request holds the user prompt now; only Bedrock rebuilds from it. */
        if (llm->provider != CQ_LLM_BEDROCK) {
            free(call->user);
            call->user = NULL;
        }
    }
    CURL *easy = llm->idle_count ? llm->idle[--llm->idle_count] : curl_easy_init();
    call->easy = easy;
    struct curl_slist *headers = llm->shared_headers;
    if (!headers) {
        for (size_t i = 0; i < call->http.header_count; i++)
            headers = curl_slist_append(headers, call->http.headers[i]);
        headers = curl_slist_append(headers, "Expect:");
        /* OpenAI and Anthropic requests carry the same headers every time:
         * one list serves every call. Bedrock's carry each call's signature. */
        if (llm->provider == CQ_LLM_BEDROCK)
            call->headers = headers;
        else
            llm->shared_headers = headers;
    }
    if (call->log_ctx.trace.trace_id[0]) {
        /* The job's trace goes on with a span of its own for this attempt:
         * the shared list cannot carry it, so the call gets its own. */
        char tp[CQ_TRACE_HEADER_LEN + 1], line[CQ_TRACE_HEADER_LEN + 16];
        cq_trace_child(&call->log_ctx.trace, tp);
        snprintf(line, sizeof(line), "traceparent: %s", tp);
        if (headers != call->headers) {
            for (const struct curl_slist *h = headers; h; h = h->next)
                call->headers = curl_slist_append(call->headers, h->data);
        }
        call->headers = curl_slist_append(call->headers, line);
        headers = call->headers;
    }
    cq_llm_http_drop_headers(&call->http); /* curl has its copy */
    curl_easy_setopt(easy, CURLOPT_URL, call->http.url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->http.body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->http.body_len);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)llm->conf->llm_connect_timeout);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)llm->conf->llm_timeout);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    /* Replies are small JSON documents: a small receive buffer keeps
     * thousands of calls in flight cheap (curl's default is 16 KiB). */
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 1024L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, cq_llm_on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, cq_llm_on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, call);
    call->attempts++;
    if (curl_multi_add_handle(llm->multi, easy) != CURLM_OK) {
        cq_llm_finish(call, CQ_ERR_INTERNAL_ERROR, "cannot start the HTTP transfer");
        return;
    }
    call->active = true;
    call->anext = llm->active;
    if (llm->active)
        llm->active->aprev = call;
    llm->active = call;
}

static void cq_llm_schedule(cq_llm_call_t *call, int64_t delay_ms)
{
    cq_llm_call_reset_transfer(call);
    call->retry_at = cq_mono_ms() + delay_ms;
    call->next = call->llm->timers;
    call->llm->timers = call;
}

static int64_t cq_llm_backoff(cq_llm_t *llm, int attempt)
{
    int64_t base = 500,
            cap = llm->conf->llm_retry_after_max > 0 ? llm->conf->llm_retry_after_max : 30000;
    int64_t delay = base;
    for (int i = 1; i < attempt && delay < cap; i++)
        delay *= 2;
    if (delay > cap)
        delay = cap;
    return delay / 2 + (int64_t)(rand_r(&llm->seed) % (unsigned int)(delay / 2 + 1));
}

static cq_llm_transport_t cq_llm_transport_class(CURLcode code, bool too_big)
{
    if (too_big)
        return CQ_LLM_TRANSPORT_TOO_LARGE;
    return cq_llm_transport_from_curl((int)code);
}

/* Writes a short list of validation errors for the repair prompt. */
static char *cq_llm_describe_errors(const cq_schema_errors_t *errors)
{
    char buf[1024] = "";
    size_t n = 0;
    for (size_t i = 0; i < errors->count && i < 8 && n < sizeof(buf) - 1; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s: %s", i ? "; " : "",
                              errors->items[i].path[0] ? errors->items[i].path : "(root)",
                              errors->items[i].message);
    return cq_strdup(buf);
}

/* Sends the repair request: the first request's user prompt, the rejected
 * answer and what was wrong with it. */
static void cq_llm_repair(cq_llm_call_t *call)
{
    cq_llm_call_reset_transfer(call);
    if (!call->user)
        call->user = cq_llm_request_user(call->http.body);
    cq_llm_http_clear(&call->http);
    if (!call->user) {
        cq_llm_finish(call, CQ_ERR_INTERNAL_ERROR, "cannot rebuild the request for a repair");
        return;
    }
    cq_llm_attempt(call);
}

static void cq_llm_on_done(cq_llm_call_t *call, CURLcode code)
{
    cq_llm_t *llm = call->llm;
    long status = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    cq_llm_reply_t reply;
    memset(&reply, 0, sizeof(reply));
    cq_llm_parse_reply(llm->provider, status, call->retry_after[0] ? call->retry_after : NULL,
                       call->reply, call->reply_len,
                       (int)cq_llm_transport_class(code, call->reply_too_big),
                       llm->conf->llm_retry_after_max, &reply);
    call->result.prompt_tokens += reply.prompt_tokens;
    call->result.completion_tokens += reply.completion_tokens;
    if (reply.model && !call->model)
        call->model = cq_strdup(reply.model);
    int64_t now = cq_mono_ms();
    const char *id = call->schema_name;
    cq_llm_mode_t next;
    if (reply.format_refused && llm->mode_auto && cq_llm_mode_next(call->mode, &next)) {
        if (llm->mode == (cq_llm_mode_t)call->mode) {
            llm->mode = next;
            CQ_LOG(CQ_LOG_WARN, "llm", id,
                   "%s refused structured output %s (%s; server said: %s); using %s from now on",
                   cq_llm_provider_name(llm->provider), cq_llm_mode_name(call->mode), reply.message,
                   reply.provider_text, cq_llm_mode_name(next));
        }
        /* The server answered: it is up (and a half-open breaker's trial ends). */
        cq_breaker_record(llm->breaker, true, now);
        call->fallbacks++;
        cq_llm_call_reset_transfer(call);
        cq_llm_attempt(call); /* rebuilt in the engine's mode */
        cq_llm_reply_clear(&reply);
        return;
    }
    /* The provider's own text is for the log only (cut short in the reply). */
    const char *said = reply.provider_text[0] ? reply.provider_text : "-";
    switch (reply.verdict) {
    case CQ_LLM_OK: {
        cq_breaker_record(llm->breaker, true, now);
        cq_schema_errors_t errors;
        memset(&errors, 0, sizeof(errors));
        if (call->check(call->opaque, reply.content, &errors)) {
            call->content = json_incref(reply.content);
            cq_llm_finish(call, CQ_ERR_OK, NULL);
        } else if (!call->repaired) {
            call->repaired = true;
            free(call->repair_note);
            free(call->previous_answer);
            call->repair_note = cq_llm_describe_errors(&errors);
            call->previous_answer = cq_strdup(reply.raw_text ? reply.raw_text : "");
            CQ_LOG(CQ_LOG_INFO, "llm", id, "answer broke the schema (%s); asking for a repair",
                   call->repair_note);
            cq_llm_repair(call);
        } else {
            char *why = cq_llm_describe_errors(&errors);
            char msg[256];
            snprintf(msg, sizeof(msg), "The AI answer broke the result schema twice: %s", why);
            free(why);
            cq_llm_finish(call, CQ_ERR_INVALID_AI_RESPONSE, msg);
        }
        cq_schema_errors_clear(&errors);
        break;
    }
    case CQ_LLM_INVALID:
        cq_breaker_record(llm->breaker, true, now);
        if (!call->repaired) {
            call->repaired = true;
            free(call->repair_note);
            free(call->previous_answer);
            call->repair_note = cq_strdup(reply.message);
            call->previous_answer = cq_strdup(reply.raw_text ? reply.raw_text : "");
            CQ_LOG(CQ_LOG_INFO, "llm", id, "unusable answer (%s); asking for a repair",
                   reply.message);
            cq_llm_repair(call);
        } else {
            cq_llm_finish(call, CQ_ERR_INVALID_AI_RESPONSE, reply.message);
        }
        break;
    case CQ_LLM_RETRY:
        cq_breaker_record(llm->breaker, false, now);
        if (call->attempts - call->fallbacks < llm->conf->llm_max_attempts) {
            int64_t delay = reply.retry_after_ms >= 0 ? reply.retry_after_ms
                                                      : cq_llm_backoff(llm, call->attempts);
            CQ_LOG(CQ_LOG_INFO, "llm", id, "attempt %d: %s (server said: %s); retrying in %lld ms",
                   call->attempts, reply.message, said, (long long)delay);
            cq_llm_schedule(call, delay);
        } else {
            CQ_LOG(CQ_LOG_WARN, "llm", id, "attempt %d: %s (server said: %s); giving up",
                   call->attempts, reply.message, said);
            cq_llm_finish(call, reply.err, reply.message);
        }
        break;
    case CQ_LLM_FAIL:
        CQ_LOG(CQ_LOG_WARN, "llm", id, "%s (server said: %s)", reply.message, said);
        cq_llm_finish(call, reply.err, reply.message);
        break;
    }
    cq_llm_reply_clear(&reply);
}

void cq_llm_call(cq_llm_t *llm, const char *system, const char *user, const char *schema_name,
                 const json_t *schema, cq_llm_check_fn *check, cq_llm_done_fn *done, void *opaque)
{
    cq_llm_call_t *call = cq_calloc(1, sizeof(*call));
    call->llm = llm;
    call->system = system;
    call->user = cq_strdup(user);
    call->schema_name = cq_strdup(schema_name);
    call->schema = schema;
    call->check = check;
    call->done = done;
    call->opaque = opaque;
    call->started_ms = cq_mono_ms();
    call->log_ctx = *cq_log_ctx();
    llm->in_flight++;
    if (llm->in_flight > llm->peak)
        llm->peak = llm->in_flight;
    if (llm->provider == CQ_LLM_BUILTIN)
        cq_llm_finish(call, CQ_ERR_INTERNAL_ERROR, "the builtin engine makes no LLM calls");
    else
        cq_llm_attempt(call);
}

/* Callbacks one poll runs at most: thousands of calls can end together,
 * and each callback checks and stores an answer; the rest wait for the
 * next poll (which then does not wait), so the caller's loop keeps
 * serving its other events in between. */
#define CQ_LLM_DELIVER_MAX 32

static void cq_llm_deliver(cq_llm_t *llm)
{
    for (int n = 0; llm->ready && n < CQ_LLM_DELIVER_MAX; n++) {
        cq_llm_call_t *call = llm->ready;
        llm->ready = call->next;
        llm->in_flight--;
        call->result.content = call->content;
        call->result.provider = cq_llm_provider_name(llm->provider);
        call->result.model = call->model ? call->model : llm->conf->llm_model;
        call->result.attempts = call->attempts;
        call->result.latency_ms = cq_mono_ms() - call->started_ms;
        if (!call->result.circuit_open) {
            char labels[96];
            snprintf(labels, sizeof(labels), "provider=\"%s\",outcome=\"%s\"",
                     call->result.provider, call->result.err == CQ_ERR_OK ? "ok" : "error");
            cq_histo_observe(llm->call_seconds, labels, (double)call->result.latency_ms / 1000.0);
        }
        /* The callback runs in the context of the job that made the call. */
        cq_log_ctx_t outer = *cq_log_ctx();
        cq_log_ctx_set(&call->log_ctx);
        call->done(call->opaque, &call->result);
        cq_log_ctx_set(&outer);
        cq_llm_call_free(call);
    }
}

void cq_llm_poll(cq_llm_t *llm, int timeout_ms)
{
    cq_llm_poll_fds(llm, timeout_ms, NULL, 0);
}

void cq_llm_poll_fds(cq_llm_t *llm, int timeout_ms, const int *fds, size_t fd_count)
{
    if (!llm->multi) {
        cq_llm_deliver(llm);
        return;
    }
    int64_t now = cq_mono_ms();
    int64_t wait = timeout_ms;
    for (cq_llm_call_t **pp = &llm->timers; *pp;) {
        cq_llm_call_t *call = *pp;
        if (call->retry_at <= now) {
            *pp = call->next;
            call->next = NULL;
            cq_llm_attempt(call);
        } else {
            if (call->retry_at - now < wait)
                wait = call->retry_at - now;
            pp = &call->next;
        }
    }
    if (llm->ready || llm->more_done)
        wait = 0;
    int running = 0;
    curl_multi_perform(llm->multi, &running);
    if (wait > 0 && running > 0) {
        struct curl_waitfd extra[8];
        unsigned int n = 0;
        for (size_t i = 0; i < fd_count && n < 8; i++)
            if (fds[i] >= 0)
                extra[n++] = (struct curl_waitfd){.fd = fds[i], .events = CURL_WAIT_POLLIN};
        curl_multi_poll(llm->multi, n ? extra : NULL, n, (int)wait, NULL);
    } else if (wait > 0) {
        /* Only retry timers are pending: wait for the first (or the caller's fds). */
        struct pollfd pfds[8];
        nfds_t n = 0;
        for (size_t i = 0; i < fd_count && n < 8; i++)
            if (fds[i] >= 0)
                pfds[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        poll(pfds, n, (int)wait);
    }
    curl_multi_perform(llm->multi, &running);
    /* Each finished transfer's reply is parsed and checked here: like the
     * callbacks, at most CQ_LLM_DELIVER_MAX per poll (curl keeps the rest). */
    int left = 0, handled = 0;
    CURLMsg *msg;
    while (handled < CQ_LLM_DELIVER_MAX && (msg = curl_multi_info_read(llm->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        cq_llm_call_t *call = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
        cq_log_ctx_t outer = *cq_log_ctx(); /* its retry and failure lines name the job */
        cq_log_ctx_set(&call->log_ctx);
        cq_llm_on_done(call, msg->data.result);
        cq_log_ctx_set(&outer);
        handled++;
    }
    llm->more_done = left > 0;
    cq_llm_deliver(llm);
}
