/*
 * cq_llm_proto.c — LLM provider requests and replies (see cq_llm_proto.h).
 *
 * Requests: one JSON body per provider, built with jansson; the result
 * schema goes through cq_llm_schema (strict for OpenAI, a forced tool for
 * Anthropic and Bedrock); Bedrock requests are signed by cq_sigv4. A repair
 * attempt replays the previous answer as the assistant turn and says what
 * was wrong with it in a last user turn.
 *
 * Replies: the verdict comes from the transport result, then the HTTP
 * status, then the body. Status decides retry or fail; the body only adds
 * the provider's message and spots spend-limit errors, which are permanent
 * whatever their status. A 2xx body must hold an answer that parses as
 * JSON, else the verdict is INVALID and the message says why, so the
 * engine can send a repair prompt.
 *
 * Stateless; any thread. Nothing here logs: headers hold secrets, and
 * bodies are logged (at debug) by the engine if at all.
 */
#include "cq_llm_proto.h"
#include "cq_llm_schema.h"
#include "cq_sigv4.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CQ_LLM_OPENAI_BASE       "https://api.openai.com/v1"
#define CQ_LLM_ANTHROPIC_BASE    "https://api.anthropic.com"
#define CQ_LLM_ANTHROPIC_VERSION "2023-06-01"
#define CQ_LLM_BEDROCK_VERSION   "bedrock-2023-05-31"
#define CQ_LLM_TEMPERATURE       0.2

static const char *const cq_llm_provider_names[] = {"builtin", "openai", "anthropic", "bedrock"};

bool cq_llm_provider_parse(const char *name, cq_llm_provider_t *out)
{
    for (size_t i = 0; name && i < CQ_ARRAY_SIZE(cq_llm_provider_names); i++) {
        if (strcasecmp(name, cq_llm_provider_names[i]) == 0) {
            *out = (cq_llm_provider_t)i;
            return true;
        }
    }
    return false;
}

const char *cq_llm_provider_name(cq_llm_provider_t p)
{
    return (unsigned)p < CQ_ARRAY_SIZE(cq_llm_provider_names) ? cq_llm_provider_names[p]
                                                              : "unknown";
}

void cq_llm_http_clear(cq_llm_http_t *http)
{
    if (!http)
        return;
    for (size_t i = 0; i < http->header_count; i++) {
        /* Headers hold keys and signatures: wipe them before freeing. */
        explicit_bzero(http->headers[i], strlen(http->headers[i]));
        free(http->headers[i]);
    }
    free(http->headers);
    free(http->url);
    free(http->body);
    free(http->aws_sigv4);
    memset(http, 0, sizeof(*http));
}

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

/* ---- requests ---------------------------------------------------------- */

static void cq_llm_header_add(cq_llm_http_t *http, char *line)
{
    http->headers = cq_realloc(http->headers, (http->header_count + 1) * sizeof(*http->headers));
    http->headers[http->header_count++] = line;
}

static bool cq_llm_has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* The configured base URL without trailing '/', or the provider's default. */
static char *cq_llm_base(const cq_config_t *conf, const char *fallback, char *errstr,
                         size_t errstr_size)
{
    const char *base = conf->llm_base_url && *conf->llm_base_url ? conf->llm_base_url : fallback;
    if ((strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) ||
        cq_llm_has_ctl(base) || strpbrk(base, " ?#")) {
        cq_errstr_set(errstr, errstr_size,
                      "llm.base_url must be an http:// or https:// URL without query");
        return NULL;
    }
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    return cq_strndup(base, len);
}

/* Tool and json_schema names: ^[A-Za-z0-9_-]{1,64}$ for both providers. */
static void cq_llm_schema_name(const char *name, char out[65])
{
    size_t n = 0;
    for (const char *p = name ? name : ""; *p && n < 64; p++)
        out[n++] = isalnum((unsigned char)*p) || *p == '-' || *p == '_' ? *p : '_';
    out[n] = '\0';
    if (n == 0)
        cq_strlcpy(out, "result", 65);
}

/* A JSON string; null with *bad set when s is not valid UTF-8. */
static json_t *cq_llm_str(const char *s, bool *bad)
{
    json_t *v = json_string(s);
    if (!v)
        *bad = true;
    return v ? v : json_null();
}

static json_t *cq_llm_message(const char *role, const char *content, bool *bad)
{
    return json_pack("{s:s, s:o}", "role", role, "content", cq_llm_str(content, bad));
}

/* The conversation; the system prompt is a message only for OpenAI. */
static json_t *cq_llm_messages(const cq_llm_prompt_t *prompt, bool system_message, bool *bad)
{
    json_t *msgs = json_array();
    if (system_message && prompt->system && *prompt->system)
        json_array_append_new(msgs, cq_llm_message("system", prompt->system, bad));
    bool replay = prompt->previous_answer && *prompt->previous_answer;
    if (!replay && !prompt->repair_note) {
        json_array_append_new(msgs, cq_llm_message("user", prompt->user, bad));
        return msgs;
    }
    char *repair = cq_asprintf(
        "Your previous answer was rejected: %s\nAnswer again with the complete result through "
        "the structured output, fixing exactly these problems and changing nothing else.",
        prompt->repair_note ? prompt->repair_note : "it did not match the required structure.");
    if (replay) {
        json_array_append_new(msgs, cq_llm_message("user", prompt->user, bad));
        json_array_append_new(msgs, cq_llm_message("assistant", prompt->previous_answer, bad));
        json_array_append_new(msgs, cq_llm_message("user", repair, bad));
    } else {
        char *both = cq_asprintf("%s\n\n%s", prompt->user, repair);
        json_array_append_new(msgs, cq_llm_message("user", both, bad));
        free(both);
    }
    free(repair);
    return msgs;
}

static json_t *cq_llm_body_openai(const cq_config_t *conf, const cq_llm_prompt_t *prompt,
                                  json_t *schema, const char *name, bool *bad)
{
    json_t *body = json_object();
    if (conf->llm_model && *conf->llm_model)
        json_object_set_new(body, "model", cq_llm_str(conf->llm_model, bad));
    json_object_set_new(body, "messages", cq_llm_messages(prompt, true, bad));
    json_object_set_new(body, "max_tokens", json_integer(conf->llm_max_tokens));
    json_object_set_new(body, "temperature", json_real(CQ_LLM_TEMPERATURE));
    json_object_set_new(body, "response_format",
                        json_pack("{s:s, s:{s:s, s:b, s:O}}", "type", "json_schema", "json_schema",
                                  "name", name, "strict", 1, "schema", schema));
    return body;
}

static json_t *cq_llm_body_anthropic(const cq_config_t *conf, const cq_llm_prompt_t *prompt,
                                     json_t *schema, const char *name, bool bedrock, bool *bad)
{
    json_t *body = json_object();
    if (bedrock)
        json_object_set_new(body, "anthropic_version", json_string(CQ_LLM_BEDROCK_VERSION));
    else
        json_object_set_new(body, "model", cq_llm_str(conf->llm_model, bad));
    json_object_set_new(body, "max_tokens", json_integer(conf->llm_max_tokens));
    json_object_set_new(body, "temperature", json_real(CQ_LLM_TEMPERATURE));
    if (prompt->system && *prompt->system)
        json_object_set_new(body, "system", cq_llm_str(prompt->system, bad));
    json_object_set_new(body, "messages", cq_llm_messages(prompt, false, bad));
    json_object_set_new(
        body, "tools",
        json_pack("[{s:s, s:s, s:O}]", "name", name, "description",
                  "Records the result. Call it exactly once, with the complete answer as its "
                  "input; the input is the whole response.",
                  "input_schema", schema));
    json_object_set_new(body, "tool_choice", json_pack("{s:s, s:s}", "type", "tool", "name", name));
    return body;
}

/* Percent-encodes everything but unreserved characters (a model id in a path). */
static char *cq_llm_urlencode(const char *s)
{
    char *out = cq_malloc(strlen(s) * 3 + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            snprintf(o, 4, "%%%02X", *p);
            o += 3;
        }
    }
    *o = '\0';
    return out;
}

static bool cq_llm_region_ok(const char *region)
{
    if (!region || !*region || strlen(region) > 32)
        return false;
    for (const char *p = region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

/* Bedrock: signs the request and adds the signer's header lines. */
static cq_err_t cq_llm_sign_bedrock(const cq_config_t *conf, cq_llm_http_t *http, char *errstr,
                                    size_t errstr_size)
{
    cq_sigv4_creds_t creds;
    if (!cq_sigv4_creds_from_env(&creds)) {
        cq_errstr_set(errstr, errstr_size,
                      "bedrock needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                      "environment");
        return CQ_ERR_CONFIG;
    }
    char **added = NULL;
    size_t added_count = 0;
    cq_err_t rc =
        cq_sigv4_sign("POST", http->url, (const char *const *)http->headers, http->header_count,
                      http->body, http->body_len, conf->llm_aws_region, "bedrock", &creds,
                      cq_now_ms(), &added, &added_count, errstr, errstr_size);
    if (rc != CQ_ERR_OK)
        return rc;
    for (size_t i = 0; i < added_count; i++)
        cq_llm_header_add(http, added[i]);
    free(added);
    return CQ_ERR_OK;
}

cq_err_t cq_llm_build_request(const cq_config_t *conf, cq_llm_provider_t p,
                              const cq_llm_prompt_t *prompt, cq_llm_http_t *out, char *errstr,
                              size_t errstr_size)
{
    cq_err_t rc = CQ_ERR_CONFIG;
    char *base = NULL;
    json_t *schema = NULL, *body = NULL;
    bool bad = false;
    const char *key = conf->llm_api_key ? conf->llm_api_key : "";
    const char *model = conf->llm_model ? conf->llm_model : "";
    bool default_base = !conf->llm_base_url || !*conf->llm_base_url;
    memset(out, 0, sizeof(*out));

    if (p != CQ_LLM_OPENAI && p != CQ_LLM_ANTHROPIC && p != CQ_LLM_BEDROCK) {
        cq_errstr_set(errstr, errstr_size, "provider \"%s\" makes no HTTP request",
                      cq_llm_provider_name(p));
        return CQ_ERR_CONFIG;
    }
    if (!prompt || !prompt->user) {
        cq_errstr_set(errstr, errstr_size, "no user prompt");
        return CQ_ERR_INTERNAL_ERROR;
    }
    if (cq_llm_has_ctl(key)) {
        cq_errstr_set(errstr, errstr_size, "llm.api_key holds control characters");
        return CQ_ERR_CONFIG;
    }
    /* Local OpenAI-compatible servers serve one model and need neither. */
    if (!*model && !(p == CQ_LLM_OPENAI && !default_base)) {
        cq_errstr_set(errstr, errstr_size, "llm.model is required for provider %s",
                      cq_llm_provider_name(p));
        return CQ_ERR_CONFIG;
    }
    if (p == CQ_LLM_ANTHROPIC && !*key && default_base) {
        cq_errstr_set(errstr, errstr_size, "llm.api_key is required for the Anthropic API");
        return CQ_ERR_CONFIG;
    }
    if (p == CQ_LLM_BEDROCK && !cq_llm_region_ok(conf->llm_aws_region)) {
        cq_errstr_set(errstr, errstr_size, "llm.aws_region \"%s\" is not a region name",
                      conf->llm_aws_region ? conf->llm_aws_region : "");
        return CQ_ERR_CONFIG;
    }

    char name[65];
    cq_llm_schema_name(prompt->schema_name, name);
    char err[256];
    schema = cq_llm_schema_convert(prompt->result_schema, prompt->schema_document,
                                   p == CQ_LLM_OPENAI, err, sizeof(err));
    if (!schema) {
        cq_errstr_set(errstr, errstr_size, "result schema %s for %s: %s", name,
                      cq_llm_provider_name(p), err);
        goto out_free;
    }

    if (p == CQ_LLM_OPENAI) {
        if (!(base = cq_llm_base(conf, CQ_LLM_OPENAI_BASE, errstr, errstr_size)))
            goto out_free;
        out->url = cq_asprintf("%s/chat/completions", base);
        body = cq_llm_body_openai(conf, prompt, schema, name, &bad);
    } else if (p == CQ_LLM_ANTHROPIC) {
        if (!(base = cq_llm_base(conf, CQ_LLM_ANTHROPIC_BASE, errstr, errstr_size)))
            goto out_free;
        out->url = cq_asprintf("%s/v1/messages", base);
        body = cq_llm_body_anthropic(conf, prompt, schema, name, false, &bad);
    } else {
        char *fallback =
            cq_asprintf("https://bedrock-runtime.%s.amazonaws.com", conf->llm_aws_region);
        base = cq_llm_base(conf, fallback, errstr, errstr_size);
        free(fallback);
        if (!base)
            goto out_free;
        char *id = cq_llm_urlencode(model);
        out->url = cq_asprintf("%s/model/%s/invoke", base, id);
        free(id);
        body = cq_llm_body_anthropic(conf, prompt, schema, name, true, &bad);
    }
    if (bad) {
        cq_errstr_set(errstr, errstr_size, "the prompt or config is not valid UTF-8");
        rc = CQ_ERR_INTERNAL_ERROR;
        goto out_free;
    }
    /* 15 digits: 0.2 goes out as 0.2, not 0.20000000000000001. */
    out->body = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (!out->body) {
        fprintf(stderr, "coachq: out of memory\n");
        abort();
    }
    out->body_len = strlen(out->body);
    /* json_dumps grows its buffer by doubling; a worker holds thousands of
     * these bodies while calls are in flight, so give the slack back. */
    out->body = cq_realloc(out->body, out->body_len + 1);

    cq_llm_header_add(out, cq_strdup("Content-Type: application/json"));
    cq_llm_header_add(out, cq_strdup("Accept: application/json"));
    if (p == CQ_LLM_OPENAI && *key)
        cq_llm_header_add(out, cq_asprintf("Authorization: Bearer %s", key));
    if (p == CQ_LLM_ANTHROPIC) {
        if (*key)
            cq_llm_header_add(out, cq_asprintf("x-api-key: %s", key));
        cq_llm_header_add(out, cq_strdup("anthropic-version: " CQ_LLM_ANTHROPIC_VERSION));
    }
    if (p == CQ_LLM_BEDROCK &&
        (rc = cq_llm_sign_bedrock(conf, out, errstr, errstr_size)) != CQ_ERR_OK)
        goto out_free;
    rc = CQ_ERR_OK;

out_free:
    if (rc != CQ_ERR_OK)
        cq_llm_http_clear(out);
    json_decref(body);
    json_decref(schema);
    free(base);
    return rc;
}

/* ---- transport --------------------------------------------------------- */

cq_llm_transport_t cq_llm_transport_from_curl(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OK:
        return CQ_LLM_TRANSPORT_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return CQ_LLM_TRANSPORT_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_QUIC_CONNECT_ERROR:
        return CQ_LLM_TRANSPORT_CONNECT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
        return CQ_LLM_TRANSPORT_RESET;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
        return CQ_LLM_TRANSPORT_TLS;
    /* The engine's write callback refuses data only past CQ_LLM_REPLY_MAX. */
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_WRITE_ERROR:
        return CQ_LLM_TRANSPORT_TOO_LARGE;
    default:
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
    int f = sscanf(s, "%*[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &hh, &mm,
                   &ss, &n);
    if (!cq_llm_scanned(f, n, s)) {
        /* Sunday, 06-Nov-94 08:49:37 GMT */
        n = 0;
        f = sscanf(s, "%*[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", &d, mon, &y, &hh, &mm,
                   &ss, &n);
        if (cq_llm_scanned(f, n, s)) {
            y += y < 70 ? 2000 : 1900;
        } else {
            /* Sun Nov  6 08:49:37 1994 */
            n = 0;
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
    /* Provider text ends up here: no control characters in logs or job errors. */
    for (char *c = out->message; *c; c++)
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

static void cq_llm_classify_error(cq_llm_provider_t p, long status, const json_t *doc,
                                  cq_llm_reply_t *out)
{
    const char *name = cq_llm_provider_name(p);
    const char *text = cq_llm_error_text(doc);
    const char *sep = *text ? ": " : "";
    if (cq_llm_quota(status, doc)) {
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_AI_SERVICE_REJECTED,
                       "%s spend limit or credit exhausted (HTTP %ld)%s%s", name, status, sep,
                       text);
    } else if (status == 0) {
        cq_llm_verdict(out, CQ_LLM_RETRY, CQ_ERR_AI_SERVICE_UNAVAILABLE,
                       "%s call ended without an HTTP status", name);
    } else if (cq_llm_status_retriable(status)) {
        cq_llm_verdict(out, CQ_LLM_RETRY,
                       status == 429 ? CQ_ERR_RATE_LIMIT_EXCEEDED : CQ_ERR_AI_SERVICE_UNAVAILABLE,
                       "%s answered HTTP %ld%s%s", name, status, sep, text);
    } else {
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_AI_SERVICE_REJECTED, "%s answered HTTP %ld%s%s",
                       name, status, sep, text);
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

/* Parses answer text, tolerating a Markdown code fence around it. */
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
    return json_loadb(start, (size_t)(end - start), JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, jerr);
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
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_INVALID_AI_RESPONSE, "the model refused: %s",
                       refusal);
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
    } else if (text) {
        out->raw_text = text;
        text = NULL;
    }
    free(text);

    if (stop && strcmp(stop, "refusal") == 0) {
        cq_llm_verdict(out, CQ_LLM_FAIL, CQ_ERR_INVALID_AI_RESPONSE, "the model refused: %s",
                       out->raw_text && !input ? out->raw_text : "no reason given");
    } else if (stop && strcmp(stop, "max_tokens") == 0) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "the answer was cut off at llm.max_tokens (%lld output tokens)",
                       (long long)out->completion_tokens);
    } else if (!input) {
        cq_llm_verdict(out, CQ_LLM_INVALID, CQ_ERR_INVALID_AI_RESPONSE,
                       "the reply has no tool_use block with the answer%s",
                       out->raw_text ? " (only text)" : "");
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
        cq_llm_classify_error(p, http_status, doc, out);
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

char *cq_llm_request_user(const char *body)
{
    json_t *req = body ? json_loads(body, 0, NULL) : NULL;
    json_t *msgs = json_object_get(req, "messages");
    char *user = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *content = json_string_value(json_object_get(m, "content"));
        if (role && content && strcmp(role, "user") == 0) {
            user = cq_strdup(content);
            break;
        }
    }
    json_decref(req);
    return user;
}
