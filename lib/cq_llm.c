/*
 * cq_llm.c — the LLM engine on the worker's fetch layer (see cq_llm.h).
 *
 * HTTP: every request goes through the worker's cq_fetch, the one outgoing
 * HTTP client: it holds the connections (kept alive, reused), the
 * timeouts (llm.connect_timeout, llm.timeout per try), the size cap
 * (CQ_LLM_REPLY_MAX), the retries (up to llm.max_attempts tries, a jittered
 * backoff from CQ_LLM_RETRY_BACKOFF_MS or the server's Retry-After, capped
 * at llm.retry_after_max) and the circuit breaker of the provider's
 * destination, which cq_llm_new gives llm.breaker_failures and
 * llm.breaker_cooldown. Which replies are worth another try is the
 * engine's call (cq_llm_retry_check reads the reply as cq_llm_parse_reply
 * does): a refused structured-output format is final, so that the
 * fallback below happens at once, and counts as an answer for the breaker.
 *
 * Address policy: the provider's URL is operator configuration
 * (llm.base_url or the provider's public endpoint), never user input, so
 * calls are made without .user_url: the fetch's address checks (meant
 * for URLs users name) do not apply and fetch.allow need not list a
 * local LLM server; everything else of the fetch does. No user-supplied
 * text ever reaches the URL: only the prompt, in the body.
 *
 * Threads: only the worker loop thread. A call is in one of three lists:
 * active (its fetch call in flight), fetched (the fetch answered; the reply
 * is read at the next cq_llm_poll) or ready (ended, callback due). The
 * fetch's callback only files the reply; reading it (parse, schema check,
 * a repair or fallback request) and the callbacks run from cq_llm_poll, at
 * most CQ_LLM_DELIVER_MAX of each per poll, never from cq_llm_call, so a
 * caller never re-enters itself and one poll stays short when thousands of
 * replies arrive together.
 *
 * Structured output: the engine holds the provider's current mode
 * (llm.structured_output). With auto, a reply that says the server refused
 * the mode's request format moves the engine to the next mode
 * (cq_llm_mode_next), logged once per step, and the call is sent again at
 * once in that mode; calls built in an older mode are rebuilt before their
 * next request.
 *
 * Errors: job messages are the reply's own words; the provider's error
 * text is logged (cut short), never passed on.
 *
 * Memory: a call holds its prompts, its request (the fetch borrows the
 * body instead of copying it) and, between the fetch's answer and its
 * reading, the reply body; curl's receive buffer is kept small so
 * thousands of calls in flight stay within tens of megabytes. A Bedrock
 * request is signed when built: the fetch's retries resend it as it is
 * (a signature holds about 5 minutes, longer than llm.max_attempts tries
 * with their waits take at the defaults).
 */
#include "cq_llm.h"
#include "cq_fetch.h"
#include "cq_histo.h"
#include "cq_llm_proto.h"
#include "cq_log.h"
#include "cq_sigv4.h"
#include "cq_urlpolicy.h"

#include <stdlib.h>
#include <string.h>

/* The first retry's wait when the server gives no Retry-After. */
#define CQ_LLM_RETRY_BACKOFF_MS 500
/* Replies read and callbacks run per poll, each at most. */
#define CQ_LLM_DELIVER_MAX 32

typedef enum {
    CQ_LLM_IN_NONE = -1,
    CQ_LLM_IN_ACTIVE = 0,
    CQ_LLM_IN_FETCHED,
    CQ_LLM_IN_READY,
    CQ_LLM_IN__COUNT
} cq_llm_where_t;

typedef struct cq_llm_call_s {
    cq_llm_t *llm;
    cq_llm_where_t where;
    struct cq_llm_call_s *prev, *next;
    const char *system; /* borrowed from the operation */
    char *user, *schema_name;
    const json_t *schema;
    cq_llm_check_fn *check;
    cq_llm_done_fn *done;
    void *opaque;
    int attempts;      /* HTTP transfers made, the fetch's retries included */
    uint8_t fallbacks; /* transfers spent on a refused structured-output mode */
    uint8_t mode;      /* the cq_llm_mode_t its request was built in */
    bool repaired;
    char *repair_note, *previous_answer;
    int64_t started_ms;
    cq_llm_http_t http;     /* the current request; the fetch borrows its body */
    cq_fetch_call_t *fcall; /* in flight, or NULL */
    long status;            /* the fetch's answer, until read */
    char *reply;            /* taken from the fetch's result */
    size_t reply_len;
    cq_llm_transport_t transport;
    cq_log_ctx_t log_ctx; /* the caller's, when it started the call: logs and traceparent */
    /* Its outcome, until delivered as a cq_llm_result_t (built then: a
     * result's message buffer is not carried through the wait). */
    cq_err_t err;
    bool circuit_open;
    char *message;
    int64_t prompt_tokens, completion_tokens;
    json_t *content;
    char *model;
} cq_llm_call_t;

struct cq_llm_s {
    const cq_config_t *conf;
    cq_llm_provider_t provider;
    cq_llm_mode_t mode; /* structured output now; moves on when refused (auto only) */
    bool mode_auto;     /* llm.structured_output=auto: fallback allowed */
    cq_fetch_t *fetch;  /* borrowed */
    char *dest;         /* the provider's "host:port": its breaker in the fetch */
    cq_llm_call_t *lists[CQ_LLM_IN__COUNT], *tails[CQ_LLM_IN__COUNT]; /* FIFO */
    size_t in_flight, peak;
    cq_histo_t *call_seconds; /* by provider and outcome */
};

/* ---- lists ---- */

static void cq_llm_link(cq_llm_call_t *call, cq_llm_where_t where)
{
    cq_llm_t *llm = call->llm;
    call->where = where;
    call->next = NULL;
    call->prev = llm->tails[where];
    if (call->prev)
        call->prev->next = call;
    else
        llm->lists[where] = call;
    llm->tails[where] = call;
}

static void cq_llm_unlink(cq_llm_call_t *call)
{
    if (call->where == CQ_LLM_IN_NONE)
        return;
    if (call->prev)
        call->prev->next = call->next;
    else
        call->llm->lists[call->where] = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        call->llm->tails[call->where] = call->prev;
    call->prev = call->next = NULL;
    call->where = CQ_LLM_IN_NONE;
}

/* ---- lifecycle ---- */

/* The provider's destination, given its own breaker in the fetch. */
static bool cq_llm_dest_setup(cq_llm_t *llm, char *errstr, size_t errstr_size)
{
    char err[256];
    char *base = cq_llm_base_url(llm->conf, llm->provider, err, sizeof(err));
    if (!base) {
        cq_errstr_set(errstr, errstr_size, "%s", err);
        return false;
    }
    cq_urlpolicy_url_t url;
    /* No policy: the URL is configuration (see the design comment). */
    cq_err_t rc = cq_urlpolicy_parse(NULL, base, &url, err, sizeof(err));
    free(base);
    if (rc != CQ_ERR_OK) {
        cq_errstr_set(errstr, errstr_size, "llm.base_url: %s", err);
        return false;
    }
    llm->dest = cq_strdup(url.dest);
    cq_urlpolicy_url_clear(&url);
    cq_fetch_set_breaker(llm->fetch, llm->dest, (int)llm->conf->llm_breaker_failures,
                         llm->conf->llm_breaker_cooldown);
    return true;
}

cq_llm_t *cq_llm_new(const cq_config_t *conf, cq_fetch_t *fetch, char *errstr, size_t errstr_size)
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
    if (provider != CQ_LLM_BUILTIN && !fetch) {
        cq_errstr_set(errstr, errstr_size, "provider %s needs the fetch layer", conf->llm_provider);
        return NULL;
    }
    cq_llm_mode_t mode = CQ_LLM_MODE_AUTO, configured = CQ_LLM_MODE_AUTO;
    if (provider != CQ_LLM_BUILTIN && cq_llm_mode_select(provider, conf->llm_structured_output,
                                                         &mode, errstr, errstr_size) != CQ_ERR_OK)
        return NULL;
    cq_llm_mode_parse(conf->llm_structured_output, &configured);
    if (provider == CQ_LLM_BEDROCK) {
        /* Requests are signed per call (cq_sigv4); fail now, not per job. */
        cq_sigv4_creds_t creds;
        if (!cq_sigv4_creds_from_env(&creds)) {
            cq_errstr_set(errstr, errstr_size,
                          "provider bedrock needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
            return NULL;
        }
    }
    cq_llm_t *llm = cq_calloc(1, sizeof(*llm));
    llm->conf = conf;
    llm->provider = provider;
    llm->mode = mode;
    llm->mode_auto = configured == CQ_LLM_MODE_AUTO;
    static const double bounds[] = CQ_HISTO_BOUNDS_LLM;
    llm->call_seconds = cq_histo_new(
        "coachq_worker_llm_call_duration_seconds",
        "Time of one LLM call from its start to its answer, retries and a repair included, by "
        "provider and outcome (ok, error); calls refused by the open circuit are not counted.",
        bounds, CQ_ARRAY_SIZE(bounds), 16, NULL);
    if (provider == CQ_LLM_BUILTIN)
        return llm;
    llm->fetch = fetch;
    if (!cq_llm_dest_setup(llm, errstr, errstr_size)) {
        cq_llm_destroy(llm);
        return NULL;
    }
    CQ_LOG(CQ_LOG_INFO, "llm", NULL, "structured output: %s (llm.structured_output=%s)",
           cq_llm_mode_name(mode), conf->llm_structured_output);
    return llm;
}

static void cq_llm_call_free(cq_llm_call_t *call)
{
    if (call->fcall)
        cq_fetch_cancel(call->llm->fetch, call->fcall);
    cq_llm_http_clear(&call->http);
    free(call->reply);
    free(call->user);
    free(call->schema_name);
    free(call->repair_note);
    free(call->previous_answer);
    free(call->model);
    free(call->message);
    json_decref(call->content);
    free(call);
}

void cq_llm_destroy(cq_llm_t *llm)
{
    if (!llm)
        return;
    for (int w = 0; w < CQ_LLM_IN__COUNT; w++) {
        while (llm->lists[w]) {
            cq_llm_call_t *call = llm->lists[w];
            /* The analyzer does not see unlink rewrite the list head. */
            cq_llm_unlink(call); /* NOLINT(clang-analyzer-unix.Malloc) */
            cq_llm_call_free(call);
        }
    }
    free(llm->dest);
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
    return llm->dest ? cq_fetch_circuit_state(llm->fetch, llm->dest) : "closed";
}

size_t cq_llm_in_flight(const cq_llm_t *llm)
{
    return llm->in_flight;
}

size_t cq_llm_peak_in_flight(const cq_llm_t *llm)
{
    return llm->peak;
}

/* ---- one call ---- */

/* Ends a call: its callback runs at the next cq_llm_poll. */
static void cq_llm_finish(cq_llm_call_t *call, cq_err_t err, const char *message)
{
    cq_llm_unlink(call);
    cq_llm_http_clear(&call->http);
    call->err = err;
    if (message) {
        free(call->message);
        call->message = cq_strdup(message);
    }
    cq_llm_link(call, CQ_LLM_IN_READY);
}

/* Whether the server may fall back from the mode the call was built in. */
static bool cq_llm_may_fall_back(const cq_llm_call_t *call, const cq_llm_reply_t *reply)
{
    cq_llm_mode_t next;
    return reply->format_refused && call->llm->mode_auto &&
           cq_llm_mode_next((cq_llm_mode_t)call->mode, &next);
}

/* The fetch's question before a retry (cq_fetch_retry_fn): only what the
 * reply's verdict calls transient is tried again, and not a refused format
 * the engine can fall back from. */
static bool cq_llm_retry_check(void *opaque, long status, const char *body, size_t body_len)
{
    cq_llm_call_t *call = opaque;
    if (status >= 200 && status <= 299)
        return false; /* an answer, good or bad: read by the engine */
    cq_llm_reply_t reply;
    cq_llm_parse_reply(call->llm->provider, status, NULL, body, body_len, CQ_LLM_TRANSPORT_OK, 0,
                       &reply);
    bool retry = reply.verdict == CQ_LLM_RETRY && !cq_llm_may_fall_back(call, &reply);
    cq_llm_reply_clear(&reply);
    return retry;
}

/* The fetch's answer: filed for cq_llm_poll to read (cq_fetch_done_fn). */
static void cq_llm_fetched(void *opaque, cq_fetch_result_t *res)
{
    cq_llm_call_t *call = opaque;
    call->fcall = NULL;
    call->attempts += res->attempts;
    cq_llm_unlink(call);
    if (res->fail == CQ_FETCH_CIRCUIT_OPEN) {
        call->circuit_open = true;
        cq_llm_finish(call, CQ_ERR_AI_SERVICE_UNAVAILABLE,
                      "The AI provider's circuit is open after repeated failures");
        return;
    }
    if (res->err == CQ_ERR_INTERNAL_ERROR || res->fail == CQ_FETCH_REFUSED) {
        CQ_LOG(CQ_LOG_WARN, "llm", call->schema_name, "%s", res->message);
        cq_llm_finish(call, CQ_ERR_INTERNAL_ERROR, "cannot start the HTTP transfer");
        return;
    }
    call->status = res->status;
    call->reply = res->body;
    call->reply_len = res->body_len;
    res->body = NULL; /* ours now */
    call->transport = cq_llm_transport_from_fetch((int)res->fail);
    cq_llm_link(call, CQ_LLM_IN_FETCHED);
}

/* Sends the call's request (built first if it has none, or in an older
 * mode), or ends the call if it cannot be made. */
static void cq_llm_send(cq_llm_call_t *call)
{
    cq_llm_t *llm = call->llm;
    char err[256];
    /* A request is sent again as it is built, except to Bedrock, whose
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
    const cq_config_t *conf = llm->conf;
    /* The tries left to this call: the first request's and a repair's
     * share llm.max_attempts; fallbacks are not counted. */
    int tries = (int)conf->llm_max_attempts - (call->attempts - call->fallbacks);
    cq_fetch_request_t req = cq_fetch_request_defaults(llm->fetch);
    req.method = "POST";
    req.url = call->http.url;
    req.headers = (const char *const *)call->http.headers;
    req.header_count = call->http.header_count;
    req.body = call->http.body;
    req.body_len = call->http.body_len;
    req.body_borrowed = true;
    req.user_url = false; /* configuration, see the design comment */
    req.connect_timeout_ms = conf->llm_connect_timeout;
    req.timeout_ms = conf->llm_timeout;
    req.max_bytes = (int64_t)CQ_LLM_REPLY_MAX;
    req.max_attempts = tries > 1 ? tries : 1;
    req.max_redirects = 0;
    req.retry_backoff_ms = CQ_LLM_RETRY_BACKOFF_MS;
    req.retry_after_max_ms = conf->llm_retry_after_max > 0 ? conf->llm_retry_after_max : 30000;
    req.retry_statuses = NULL;
    req.retry_check = cq_llm_retry_check;
    req.retry_transport = true;
    /* Replies are small JSON documents: a small receive buffer keeps
     * thousands of calls in flight cheap (curl's default is 16 KiB). */
    req.buffer_size = 1024;
    req.log_id = NULL;            /* the job's id is in the log context */
    req.log_ctx = &call->log_ctx; /* the call's, kept until it is freed */
    cq_llm_link(call, CQ_LLM_IN_ACTIVE);
    call->fcall = cq_fetch_start(llm->fetch, &req, cq_llm_fetched, call);
    /* The fetch copied the URL and the header lines (they hold keys:
     * wiped by the clear); it keeps borrowing the body. */
    char *body = call->http.body;
    size_t body_len = call->http.body_len;
    call->http.body = NULL;
    cq_llm_http_clear(&call->http);
    call->http.body = body;
    call->http.body_len = body_len;
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
    if (!call->user)
        call->user = cq_llm_request_user(call->http.body);
    cq_llm_http_clear(&call->http);
    if (!call->user) {
        cq_llm_finish(call, CQ_ERR_INTERNAL_ERROR, "cannot rebuild the request for a repair");
        return;
    }
    cq_llm_send(call);
}

/* Asks for a repair once; after that the answer fails the call. */
static void cq_llm_repair_or_fail(cq_llm_call_t *call, char *note, const cq_llm_reply_t *reply,
                                  const char *fail_message)
{
    if (call->repaired) {
        free(note);
        cq_llm_finish(call, CQ_ERR_INVALID_AI_RESPONSE, fail_message);
        return;
    }
    call->repaired = true;
    free(call->repair_note);
    free(call->previous_answer);
    call->repair_note = note;
    call->previous_answer = cq_strdup(reply->raw_text ? reply->raw_text : "");
    cq_llm_repair(call);
}

/* Reads the fetch's answer: finish, fall back, or repair. */
static void cq_llm_on_reply(cq_llm_call_t *call)
{
    cq_llm_t *llm = call->llm;
    cq_llm_reply_t reply;
    cq_llm_parse_reply(llm->provider, call->status, NULL, call->reply, call->reply_len,
                       (int)call->transport, llm->conf->llm_retry_after_max, &reply);
    free(call->reply);
    call->reply = NULL;
    call->reply_len = 0;
    call->prompt_tokens += reply.prompt_tokens;
    call->completion_tokens += reply.completion_tokens;
    if (reply.model && !call->model)
        call->model = cq_strdup(reply.model);
    const char *id = call->schema_name;
    cq_llm_mode_t next;
    if (cq_llm_may_fall_back(call, &reply) && cq_llm_mode_next((cq_llm_mode_t)call->mode, &next)) {
        if (llm->mode == (cq_llm_mode_t)call->mode) {
            llm->mode = next;
            CQ_LOG(CQ_LOG_WARN, "llm", id,
                   "%s refused structured output %s (%s; server said: %s); using %s from now on",
                   cq_llm_provider_name(llm->provider), cq_llm_mode_name(call->mode), reply.message,
                   reply.provider_text, cq_llm_mode_name(next));
        }
        call->fallbacks++;
        cq_llm_send(call); /* rebuilt in the engine's mode */
        cq_llm_reply_clear(&reply);
        return;
    }
    /* The provider's own text is for the log only (cut short in the reply). */
    const char *said = reply.provider_text[0] ? reply.provider_text : "-";
    switch (reply.verdict) {
    case CQ_LLM_OK: {
        cq_schema_errors_t errors;
        memset(&errors, 0, sizeof(errors));
        if (call->check(call->opaque, reply.content, &errors)) {
            call->content = json_incref(reply.content);
            cq_llm_finish(call, CQ_ERR_OK, NULL);
        } else {
            char *why = cq_llm_describe_errors(&errors);
            char msg[256];
            snprintf(msg, sizeof(msg), "The AI answer broke the result schema twice: %s", why);
            if (!call->repaired)
                CQ_LOG(CQ_LOG_INFO, "llm", id, "answer broke the schema (%s); asking for a repair",
                       why);
            cq_llm_repair_or_fail(call, why, &reply, msg);
        }
        cq_schema_errors_clear(&errors);
        break;
    }
    case CQ_LLM_INVALID:
        if (!call->repaired)
            CQ_LOG(CQ_LOG_INFO, "llm", id, "unusable answer (%s); asking for a repair",
                   reply.message);
        cq_llm_repair_or_fail(call, cq_strdup(reply.message), &reply, reply.message);
        break;
    case CQ_LLM_RETRY: /* the fetch made every try it had */
        CQ_LOG(CQ_LOG_WARN, "llm", id, "attempt %d: %s (server said: %s); giving up",
               call->attempts, reply.message, said);
        cq_llm_finish(call, reply.err, reply.message);
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
    call->where = CQ_LLM_IN_NONE;
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
        cq_llm_send(call);
}

/* ---- the loop's side ---- */

/* Reads up to CQ_LLM_DELIVER_MAX replies the fetch filed, oldest first,
 * each in the context of the job that made the call (its retry and
 * failure lines name the job; a repair's request carries its trace). */
static void cq_llm_read(cq_llm_t *llm)
{
    for (int n = 0; llm->lists[CQ_LLM_IN_FETCHED] && n < CQ_LLM_DELIVER_MAX; n++) {
        cq_llm_call_t *call = llm->lists[CQ_LLM_IN_FETCHED];
        cq_llm_unlink(call);
        cq_log_ctx_t outer = *cq_log_ctx();
        cq_log_ctx_set(&call->log_ctx);
        cq_llm_on_reply(call);
        cq_log_ctx_set(&outer);
    }
}

static void cq_llm_deliver(cq_llm_t *llm)
{
    for (int n = 0; llm->lists[CQ_LLM_IN_READY] && n < CQ_LLM_DELIVER_MAX; n++) {
        cq_llm_call_t *call = llm->lists[CQ_LLM_IN_READY];
        /* The analyzer does not see unlink rewrite the list head. */
        cq_llm_unlink(call); /* NOLINT(clang-analyzer-unix.Malloc) */
        llm->in_flight--;
        cq_llm_result_t result = {
            .err = call->err,
            .circuit_open = call->circuit_open,
            .content = call->content,
            .provider = cq_llm_provider_name(llm->provider),
            .model = call->model ? call->model : llm->conf->llm_model,
            .attempts = call->attempts,
            .prompt_tokens = call->prompt_tokens,
            .completion_tokens = call->completion_tokens,
            .latency_ms = cq_mono_ms() - call->started_ms,
        };
        cq_strlcpy(result.message, call->message ? call->message : "", sizeof(result.message));
        if (!result.circuit_open) {
            char labels[96];
            snprintf(labels, sizeof(labels), "provider=\"%s\",outcome=\"%s\"", result.provider,
                     result.err == CQ_ERR_OK ? "ok" : "error");
            cq_histo_observe(llm->call_seconds, labels, (double)result.latency_ms / 1000.0);
        }
        /* The callback runs in the context of the job that made the call. */
        cq_log_ctx_t outer = *cq_log_ctx();
        cq_log_ctx_set(&call->log_ctx);
        call->done(call->opaque, &result);
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
    if (llm->fetch) {
        bool due = llm->lists[CQ_LLM_IN_FETCHED] || llm->lists[CQ_LLM_IN_READY];
        cq_fetch_poll_fds(llm->fetch, due ? 0 : timeout_ms, fds, fd_count);
    }
    cq_llm_read(llm);
    cq_llm_deliver(llm);
}
