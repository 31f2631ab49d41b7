/*
 * cq_llm_reply.c — what an LLM provider's answer means (see cq_llm_proto.h;
 * the requests are built in cq_llm_proto.c).
 *
 * The verdict comes from the transport result, then the HTTP status, then
 * the body. Status decides retry or fail; the body only adds the
 * provider's error type, spots spend-limit errors (permanent whatever
 * their status) and spots a refused structured-output format (the engine
 * then falls back to the next mode). A 2xx body must hold an answer that
 * parses as JSON, else the verdict is INVALID and the message says why, so
 * the engine can send a repair prompt.
 *
 * The message is always in our words: a provider's error text can hold
 * anything (llama.cpp servers put Python tracebacks and file paths there),
 * so it goes to provider_text, for logs only.
 *
 * Stateless; any thread. Nothing here logs.
 */
#include "cq_fetch.h"
#include "cq_llm_proto.h"
#include "cq_llm_schema.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cq_llm_reply_clear(cq_llm_reply_t *reply)
{
    if (!reply)
        return;
    json_decref(reply->content);
    free(reply->raw_text);
    free(reply->model);
    memset(reply, 0, sizeof(*reply));
    reply->retry_after_ms = -1;
}

/* ---- transport --------------------------------------------------------- */

cq_llm_transport_t cq_llm_transport_from_fetch(int fetch_fail)
{
    switch ((cq_fetch_fail_t)fetch_fail) {
    case CQ_FETCH_OK:
        return CQ_LLM_TRANSPORT_OK;
    case CQ_FETCH_TIMEOUT:
        return CQ_LLM_TRANSPORT_TIMEOUT;
    case CQ_FETCH_CONNECT:
        return CQ_LLM_TRANSPORT_CONNECT;
    case CQ_FETCH_RESET:
        return CQ_LLM_TRANSPORT_RESET;
    case CQ_FETCH_TLS:
        return CQ_LLM_TRANSPORT_TLS;
    case CQ_FETCH_TOO_LARGE:
        return CQ_LLM_TRANSPORT_TOO_LARGE;
    default: /* refused, circuit open, redirects: the engine handles the first two itself */
        return CQ_LLM_TRANSPORT_OTHER;
    }
}

const char *cq_llm_transport_name(cq_llm_transport_t t)
{
    static const char *const names[] = {"ok",  "timeout",   "connect", "connection reset",
                                        "tls", "too large", "other"};
    return (unsigned)t < CQ_ARRAY_SIZE(names) ? names[t] : "other";
}

/* ---- Retry-After ------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t cq_llm_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int cq_llm_month(const char *s)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strcmp(s, months[i]) == 0)
            return i + 1;
    return 0;
}

static bool cq_llm_rest_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

/* Whether sscanf matched all 6 fields and only blanks follow. */
static bool cq_llm_scanned(int fields, int n, const char *s)
{
    return fields == 6 && n > 0 && cq_llm_rest_blank(s + n);
}

/* An HTTP-date (IMF-fixdate, RFC 850 or asctime form) as ms since the epoch; -1 if not one. */
static int64_t cq_llm_http_date(const char *s)
{
    int d = 0, y = 0, hh = 0, mm = 0, ss = 0, n = 0;
    char mon[4] = "";
    /* Sun, 06 Nov 1994 08:49:37 GMT */
    /* NOLINTNEXTLINE(cert-err34-c): widths bound the fields; ranges checked below */
    int f = sscanf(s, "%*[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &hh, &mm,
                   &ss, &n);
    if (!cq_llm_scanned(f, n, s)) {
        /* Sunday, 06-Nov-94 08:49:37 GMT */
        n = 0;
        /* NOLINTNEXTLINE(cert-err34-c): widths bound the fields; ranges checked below */
        f = sscanf(s, "%*[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", &d, mon, &y, &hh, &mm,
                   &ss, &n);
        if (cq_llm_scanned(f, n, s)) {
            y += y < 70 ? 2000 : 1900;
        } else {
            /* Sun Nov  6 08:49:37 1994 */
            n = 0;
            /* NOLINTNEXTLINE(cert-err34-c): widths bound the fields; ranges checked below */
            f = sscanf(s, "%*[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", mon, &d, &hh, &mm, &ss, &y,
                       &n);
            if (!cq_llm_scanned(f, n, s))
                return -1;
        }
    }
    int m = cq_llm_month(mon);
    if (!m || d < 1 || d > 31 || y < 1970 || hh > 23 || mm > 59 || ss > 60)
        return -1;
    return ((cq_llm_days(y, m, d) * 24 + hh) * 60 + mm) * 60000LL + ss * 1000LL;
}

int64_t cq_llm_retry_after_ms(const char *value, int64_t now_ms, int64_t max_ms)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (max_ms < 0)
        max_ms = 0;
    int64_t ms;
    if (*value >= '0' && *value <= '9') {
        const char *p = value;
        int64_t secs = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            secs = secs > INT64_MAX / 100000 ? INT64_MAX / 100000 : secs * 10 + (*p - '0');
        int64_t frac = 0, scale = 1000;
        if (*p == '.') {
            for (p++; *p >= '0' && *p <= '9'; p++) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
        }
        if (!cq_llm_rest_blank(p))
            return -1;
        ms = secs * 1000 + frac;
    } else {
        int64_t at = cq_llm_http_date(value);
        if (at < 0)
            return -1;
        ms = at > now_ms ? at - now_ms : 0;
    }
    return ms > max_ms ? max_ms : ms;
}

/* ---- replies ----------------------------------------------------------- */

CQ_PRINTF(4, 5)
static void cq_llm_verdict(cq_llm_reply_t *out, cq_llm_verdict_t verdict, cq_err_t err,
                           const char *fmt, ...)
{
    out->verdict = verdict;
    out->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    /* Our words only, but a jansson error may quote a character: no control
     * characters in logs or job errors. */
    for (char *c = out->message; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

/* Keeps the provider's text for the logs: cut short, control characters
 * blanked (a traceback's newlines become spaces). */
static void cq_llm_set_provider_text(cq_llm_reply_t *out, const char *text)
{
    cq_strlcpy(out->provider_text, text ? text : "", sizeof(out->provider_text));
    for (char *c = out->provider_text; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

static const char *cq_llm_get_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int64_t cq_llm_get_count(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return json_integer_value(v);
    return 0;
}

/* The provider's error text: error.message, error (a string), message or Message. */
static const char *cq_llm_error_text(const json_t *doc)
{
    json_t *error = json_object_get(doc, "error");
    const char *text = cq_llm_get_str(error, "message");
    if (!text)
        text = json_string_value(error);
    if (!text)
        text = cq_llm_get_str(doc, "message");
    if (!text)
        text = cq_llm_get_str(doc, "Message");
    return text ? text : "";
}

/* Case-insensitive substring test (needle in lower case). */
static bool cq_llm_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* A spend limit or exhausted credit: permanent, whatever the status. */
static bool cq_llm_quota(long status, const json_t *doc)
{
    json_t *error = json_object_get(doc, "error");
    const char *type = cq_llm_get_str(error, "type");
    const char *code = cq_llm_get_str(error, "code");
    const char *text = cq_llm_error_text(doc);
    if ((type && (strcmp(type, "insufficient_quota") == 0 || strcmp(type, "billing_error") == 0)) ||
        (code && strcmp(code, "insufficient_quota") == 0))
        return true;
    if (status == 402)
        return true;
    return (status == 400 || status == 403) &&
           (cq_llm_contains(text, "credit balance") || cq_llm_contains(text, "billing"));
}

static bool cq_llm_status_retriable(long status)
{
    switch (status) {
    case 408: /* request timeout */
    case 409: /* conflict (OpenAI: concurrent request) */
    case 425: /* too early */
    case 429: /* rate limited */
    case 529: /* Anthropic: overloaded */
        return true;
    default:
        /* 5xx but 501 Not Implemented and 505 HTTP Version Not Supported. */
        return status >= 500 && status <= 599 && status != 501 && status != 505;
    }
}

/* What a status means, in our words. */
static const char *cq_llm_status_class(long status)
{
    switch (status) {
    case 400:
        return "bad request";
    case 401:
        return "unauthorized: check llm.api_key";
    case 403:
        return "forbidden: check the key's permissions";
    case 404:
        return "not found: check llm.base_url and llm.model";
    case 408:
        return "request timeout";
    case 409:
        return "conflict";
    case 413:
        return "request too large";
    case 422:
        return "request not processable";
    case 429:
        return "rate limited";
    case 529:
        return "overloaded";
    default:
        return status >= 500 ? "server error" : "unexpected status";
    }
}

/* The provider's error type or code when it is an identifier
 * ("invalid_api_key", "overloaded_error"), safe to repeat; else NULL. */
static const char *cq_llm_error_type(const json_t *doc)
{
    json_t *error = json_object_get(doc, "error");
    const char *cand[] = {cq_llm_get_str(error, "type"), cq_llm_get_str(error, "code")};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cand); i++) {
        const char *t = cand[i];
        size_t n = t ? strlen(t) : 0;
        if (n == 0 || n > 48)
            continue;
        bool ident = true;
        for (const char *c = t; *c && ident; c++)
            ident = isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.';
        if (ident)
            return t;
    }
    return NULL;
}

/* The server refused the structured-output format of the request: a
 * status a refusal comes with (llama.cpp servers answer 500, others 400,
 * 422 or 501) and error text that names the feature. A refusal of
 * anything else (a key, a model, a quota) never names these words; a
 * transient 5xx does not either, so it stays retriable. */
static bool cq_llm_format_refused(long status, const char *text)
{
    static const char *const words[] = {"response_format",   "json_schema", "json_object",
                                        "structured output", "grammar",     "schema"};
    if (status != 400 && status != 422 && status != 500 && status != 501)
        return false;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(words); i++)
        if (cq_llm_contains(text, words[i]))
            return true;
    return false;
}

static void cq_llm_classify_error(cq_llm_provider_t p, long status, const json_t *doc,
                                  const char *body, size_t body_len, cq_llm_reply_t *out)
{
    const char *name = cq_llm_provider_name(p);
    const char *text = cq_llm_error_text(doc);
    /* A body that is not a JSON error (an HTML page, plain text) is the text. */
    char raw[sizeof(out->provider_text)] = "";
    if (!*text && body && body_len) {
        size_t n = body_len < sizeof(raw) - 1 ? body_len : sizeof(raw) - 1;
        memcpy(raw, body, n);
        raw[n] = '\0';
        text = raw;
    }
    cq_llm_set_provider_text(out, text);
    const char *type = cq_llm_error_type(doc);
    char what[96];
    snprintf(what, sizeof(what), "HTTP %ld, %s%s%s", status, cq_llm_status_class(status),
             type ? ", " : "", type ? type : "");
    out->format_refused = cq_llm_format_refused(status, text);
    if (cq_llm_quota(status, doc)) {
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_AI_SERVICE_REJECTED,
                       "%s spend limit or credit exhausted (%s)", name, what);
    } else if (status == 0) {
        cq_llm_verdict(out, CQ_LLM_RETRY, CQ_ERR_AI_SERVICE_UNAVAILABLE,
                       "%s call ended without an HTTP status", name);
    } else if (cq_llm_status_retriable(status)) {
        cq_llm_verdict(out, CQ_LLM_RETRY,
                       status == 429 ? CQ_ERR_RATE_LIMIT_EXCEEDED : CQ_ERR_AI_SERVICE_UNAVAILABLE,
                       "%s answered %s", name, what);
    } else {
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_AI_SERVICE_REJECTED, "%s answered %s", name, what);
    }
    if (out->format_refused) {
        size_t n = strlen(out->message);
        snprintf(out->message + n, sizeof(out->message) - n, " (structured output refused)");
    }
}

/* The answer: nulls of left-out optional properties removed, wrapper removed. */
static void cq_llm_accept(cq_llm_reply_t *out, json_t *answer)
{
    cq_llm_schema_drop_nulls(answer);
    out->content = cq_llm_schema_unwrap(answer);
    json_decref(answer);
    cq_llm_verdict(out, CQ_LLM_OK, CQ_ERR_OK, "ok");
}

/* The text with raw control characters inside string literals escaped
 * (\u00XX): grammar-constrained servers let a model write a bare newline in
 * a string, which JSON forbids. Caller frees. */
static char *cq_llm_escape_controls(const char *start, size_t len, size_t *out_len)
{
    char *out = cq_malloc(len * 6 + 1), *o = out;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)start[i];
        if (escaped) {
            escaped = false;
        } else if (in_string && ch < 0x20) {
            o += snprintf(o, 7, "\\u%04x", ch);
            continue;
        } else if (in_string && ch == '\\') {
            escaped = true;
        } else if (ch == '"') {
            in_string = !in_string;
        }
        *o++ = (char)ch;
    }
    *o = '\0';
    *out_len = (size_t)(o - out);
    return out;
}

/* Parses answer text, tolerating a Markdown code fence around it, bare
 * control characters in its strings, or prose around one JSON object
 * (prompt-only answers of small models). */
static json_t *cq_llm_answer_json(const char *text, json_error_t *jerr)
{
    const char *start = text, *end = text + strlen(text);
    while (start < end && isspace((unsigned char)*start))
        start++;
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    if (end - start >= 6 && strncmp(start, "```", 3) == 0 && strncmp(end - 3, "```", 3) == 0) {
        const char *nl = memchr(start, '\n', (size_t)(end - start));
        if (nl && nl < end - 3) {
            start = nl + 1;
            end -= 3;
        }
    }
    json_t *v =
        json_loadb(start, (size_t)(end - start), JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, jerr);
    if (v)
        return v;
    size_t fixed_len;
    char *fixed = cq_llm_escape_controls(start, (size_t)(end - start), &fixed_len);
    json_error_t again;
    v = json_loadb(fixed, fixed_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &again);
    free(fixed);
    if (v)
        return v;
    const char *open = memchr(start, '{', (size_t)(end - start));
    const char *close = end;
    while (close > start && close[-1] != '}')
        close--;
    if (!open || close <= open || (open == start && close == end))
        return NULL;
    json_error_t inner;
    return json_loadb(open, (size_t)(close - open), JSON_REJECT_DUPLICATES, &inner);
}

static void cq_llm_parse_openai(const json_t *doc, cq_llm_reply_t *out)
{
    json_t *usage = json_object_get(doc, "usage");
    out->prompt_tokens = cq_llm_get_count(usage, "prompt_tokens");
    out->completion_tokens = cq_llm_get_count(usage, "completion_tokens");
    json_t *choice = json_array_get(json_object_get(doc, "choices"), 0);
    json_t *msg = json_object_get(choice, "message");
    if (!json_is_object(msg)) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "openai reply has no choices[0].message");
        return;
    }
    const char *finish = cq_llm_get_str(choice, "finish_reason");
    const char *refusal = cq_llm_get_str(msg, "refusal");
    const char *content = cq_llm_get_str(msg, "content");
    if (content)
        out->raw_text = cq_strdup(content);
    if (refusal && *refusal) {
        cq_llm_set_provider_text(out, refusal);
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_INVALID_AI_RESPONSE, "the model refused to answer");
    } else if (finish && strcmp(finish, "content_filter") == 0) {
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_INVALID_AI_RESPONSE,
                       "the provider's content filter withheld the answer");
    } else if (finish && strcmp(finish, "length") == 0) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "the answer was cut off at llm.max_tokens (%lld completion tokens)",
                       (long long)out->completion_tokens);
    } else if (!content) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "openai reply has no answer text (choices[0].message.content)");
    } else {
        json_error_t jerr;
        json_t *answer = cq_llm_answer_json(content, &jerr);
        if (answer)
            cq_llm_accept(out, answer);
        else
            cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                           "the answer is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                           jerr.column);
    }
}

static void cq_llm_parse_anthropic(const json_t *doc, cq_llm_reply_t *out)
{
    json_t *usage = json_object_get(doc, "usage");
    out->prompt_tokens = cq_llm_get_count(usage, "input_tokens");
    out->completion_tokens = cq_llm_get_count(usage, "output_tokens");
    const char *stop = cq_llm_get_str(doc, "stop_reason");
    json_t *blocks = json_object_get(doc, "content");
    json_t *input = NULL;
    char *text = NULL;
    for (size_t i = 0; i < json_array_size(blocks); i++) {
        json_t *block = json_array_get(blocks, i);
        const char *type = cq_llm_get_str(block, "type");
        if (!type)
            continue;
        if (strcmp(type, "tool_use") == 0 && !input && json_object_get(block, "input")) {
            input = json_object_get(block, "input");
        } else if (strcmp(type, "text") == 0 && cq_llm_get_str(block, "text")) {
            char *next = cq_asprintf("%s%s", text ? text : "", cq_llm_get_str(block, "text"));
            free(text);
            text = next;
        }
    }
    json_t *answer = NULL;
    json_error_t jerr = {.text = "not a JSON object"};
    if (json_is_string(input)) { /* some proxies pass the input through as text */
        out->raw_text = cq_strdup(json_string_value(input));
        answer = cq_llm_answer_json(out->raw_text, &jerr);
    } else if (input) {
        out->raw_text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
        answer = json_deep_copy(input);
    } else if (text) { /* prompt-only mode: the answer is the text */
        out->raw_text = text;
        text = NULL;
        answer = cq_llm_answer_json(out->raw_text, &jerr);
    }
    free(text);

    if (stop && strcmp(stop, "refusal") == 0) {
        cq_llm_set_provider_text(out, out->raw_text && !input ? out->raw_text : "");
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_INVALID_AI_RESPONSE, "the model refused to answer");
    } else if (stop && strcmp(stop, "max_tokens") == 0) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "the answer was cut off at llm.max_tokens (%lld output tokens)",
                       (long long)out->completion_tokens);
    } else if (!input && !answer) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "the reply has no tool_use block with the answer%s",
                       out->raw_text ? " and its text is not JSON" : "");
    } else if (!answer) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "the tool input is not JSON: %s", jerr.text);
    } else {
        cq_llm_accept(out, answer);
        answer = NULL;
    }
    json_decref(answer);
}

void cq_llm_parse_reply(cq_llm_provider_t p, long http_status, const char *retry_after_header,
                        const char *body, size_t body_len, int transport_err,
                        int64_t retry_after_max_ms, cq_llm_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    out->retry_after_ms =
        cq_llm_retry_after_ms(retry_after_header, cq_now_ms(), retry_after_max_ms);
    const char *name = cq_llm_provider_name(p);
    if (!body)
        body_len = 0;

    switch ((cq_llm_transport_t)transport_err) {
    case CQ_LLM_TRANSPORT_OK:
        break;
    case CQ_LLM_TRANSPORT_TLS:
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_AI_SERVICE_REJECTED,
                       "%s call failed: the server's TLS certificate is not trusted", name);
        return;
    case CQ_LLM_TRANSPORT_TOO_LARGE:
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "%s reply is larger than %zu bytes", name, CQ_LLM_REPLY_MAX);
        return;
    default:
        cq_llm_verdict(out, CQ_LLM_RETRY, CQ_ERR_AI_SERVICE_UNAVAILABLE, "%s call failed: %s", name,
                       cq_llm_transport_name((cq_llm_transport_t)transport_err));
        return;
    }

    json_t *doc = NULL;
    json_error_t jerr;
    if (body_len <= CQ_LLM_REPLY_MAX)
        doc = json_loadb(body, body_len, 0, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    if (doc)
        out->model = cq_llm_get_str(doc, "model") ? cq_strdup(cq_llm_get_str(doc, "model")) : NULL;

    if (http_status < 200 || http_status > 299) {
        cq_llm_classify_error(p, http_status, doc, body, body_len, out);
    } else if (body_len > CQ_LLM_REPLY_MAX) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "%s reply is larger than %zu bytes", name, CQ_LLM_REPLY_MAX);
    } else if (!doc) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "%s reply (HTTP %ld) is not a JSON object", name, http_status);
    } else if (p == CQ_LLM_OPENAI) {
        cq_llm_parse_openai(doc, out);
    } else if (p == CQ_LLM_ANTHROPIC || p == CQ_LLM_BEDROCK) {
        cq_llm_parse_anthropic(doc, out);
    } else {
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_INTERNAL_ERROR, "provider %s has no replies", name);
    }
    json_decref(doc);
}
