/*
 * cq_llm_proto.h — the wire formats of the LLM providers, without I/O.
 *
 * The worker's I/O engine asks this module what HTTP request to make
 * (cq_llm_build_request), performs it, and asks what the reply means
 * (cq_llm_parse_reply): the structured answer, or whether to retry, give
 * up, or send a repair prompt. Providers: OpenAI-compatible chat
 * completions, Anthropic messages and Bedrock (Anthropic models). How the
 * answer is asked for is the structured-output mode: json_schema (strict)
 * or json_object with a schema (llama.cpp servers) for OpenAI, a forced
 * tool call for Anthropic and Bedrock, or prompt-only for any of them.
 * Requests are built in cq_llm_proto.c, replies read in cq_llm_reply.c.
 *
 * Requests carry API keys and signatures in their headers: never log the
 * headers. Replies are untrusted: any byte sequence gives a verdict, never
 * a crash. Pure functions; any thread.
 */
#ifndef CQ_LLM_PROTO_H
#define CQ_LLM_PROTO_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"

/* Replies larger than this are not parsed (INVALID); engines may stop reading there. */
#define CQ_LLM_REPLY_MAX ((size_t)4 << 20)

typedef enum { CQ_LLM_BUILTIN, CQ_LLM_OPENAI, CQ_LLM_ANTHROPIC, CQ_LLM_BEDROCK } cq_llm_provider_t;

/* "builtin", "openai", "anthropic", "bedrock" (the values of llm.provider,
 * case-insensitive); false for anything else. */
bool cq_llm_provider_parse(const char *name, cq_llm_provider_t *out);
/* The llm.provider spelling; "unknown" for values outside the enum. */
const char *cq_llm_provider_name(cq_llm_provider_t p);

/* How the model is made to answer in the result schema (llm.structured_output).
 * AUTO stands for the provider's default: json_schema for openai, tool for
 * anthropic and bedrock. */
typedef enum {
    CQ_LLM_MODE_AUTO = 0,
    CQ_LLM_MODE_JSON_SCHEMA, /* response_format json_schema, strict */
    CQ_LLM_MODE_JSON_OBJECT, /* response_format json_object with a grammar-friendly schema */
    CQ_LLM_MODE_TOOL,        /* a forced tool call whose input is the answer */
    CQ_LLM_MODE_PROMPT,      /* the schema described in the prompt, the answer parsed as text */
} cq_llm_mode_t;

/* "auto", "json_schema", "json_object", "tool", "prompt" (case-insensitive). */
bool cq_llm_mode_parse(const char *name, cq_llm_mode_t *out);
const char *cq_llm_mode_name(cq_llm_mode_t m);
/* The mode a provider starts with for the configured llm.structured_output
 * value: AUTO becomes the provider's default. CQ_ERR_CONFIG when the value
 * is unknown or the provider cannot take that mode (json_schema and
 * json_object are OpenAI-only; tool is Anthropic/Bedrock-only here). */
cq_err_t cq_llm_mode_select(cq_llm_provider_t p, const char *configured, cq_llm_mode_t *out,
                            char *errstr, size_t errstr_size);
/* Where auto falls back to when the server refuses mode: json_schema ->
 * json_object -> prompt. False when mode has no fallback. */
bool cq_llm_mode_next(cq_llm_mode_t mode, cq_llm_mode_t *next);

/* One HTTP request to make (always POST); all strings owned. */
typedef struct {
    char *url;
    char *body;
    size_t body_len;
    char **headers; /* "Name: value" lines (API keys included: never log them) */
    size_t header_count;
} cq_llm_http_t;

/* Frees what http holds and zeroes it; safe on a zeroed or cleared struct. */
void cq_llm_http_clear(cq_llm_http_t *http);

typedef struct {
    const char *system; /* may be NULL */
    const char *user;   /* required */
    const json_t *result_schema;
    const char *schema_name; /* tool / json_schema name; sanitised to [A-Za-z0-9_-]{1,64} */
    const char *repair_note; /* NULL, or what was wrong with the previous answer (repair attempt) */
    const char *previous_answer; /* NULL or the previous invalid answer text */
    /* Where "#/..." $refs of result_schema resolve (the contract document);
     * NULL: in result_schema itself. */
    const json_t *schema_document;
    /* How the answer is asked for; AUTO: the provider's default. */
    cq_llm_mode_t mode;
} cq_llm_prompt_t;

/* The base URL requests of provider p go to (llm.base_url without
 * trailing '/', or the provider's public endpoint), for the engine to know
 * its destination before the first call. Caller frees. NULL with errstr
 * (CQ_ERR_CONFIG's cases of cq_llm_build_request: not http(s), a query,
 * a bad Bedrock region, the builtin provider). */
char *cq_llm_base_url(const cq_config_t *conf, cq_llm_provider_t p, char *errstr,
                      size_t errstr_size);

/* Builds the request for provider p from the llm.* config (base_url,
 * api_key, model, aws_region, max_tokens). out is overwritten; on success
 * the caller clears it. Bedrock requests are signed here with the
 * credentials of the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN) and the current time: build right before sending, a
 * signature lasts about 5 minutes. Errors (CQ_ERR_CONFIG: builtin provider,
 * missing model, key or credentials, bad URL or region, a schema the
 * provider cannot take, a mode the provider cannot take; CQ_ERR_INTERNAL_ERROR: no user prompt or
 * invalid UTF-8) leave out zeroed. */
cq_err_t cq_llm_build_request(const cq_config_t *conf, cq_llm_provider_t p,
                              const cq_llm_prompt_t *prompt, cq_llm_http_t *out, char *errstr,
                              size_t errstr_size);

/* How a call ended below HTTP; the engine maps the fetch layer's result
 * with cq_llm_transport_from_fetch() and passes it to cq_llm_parse_reply(). */
typedef enum {
    CQ_LLM_TRANSPORT_OK = 0,    /* an HTTP reply arrived */
    CQ_LLM_TRANSPORT_TIMEOUT,   /* connect or total timeout: retry */
    CQ_LLM_TRANSPORT_CONNECT,   /* DNS, refused, unreachable, TLS handshake: retry */
    CQ_LLM_TRANSPORT_RESET,     /* connection broken mid-exchange, empty reply: retry */
    CQ_LLM_TRANSPORT_TLS,       /* certificate not trusted: fail, retrying cannot help */
    CQ_LLM_TRANSPORT_TOO_LARGE, /* reply over CQ_LLM_REPLY_MAX, the engine stopped: invalid */
    CQ_LLM_TRANSPORT_OTHER,     /* anything else: retry */
} cq_llm_transport_t;

/* Classifies how a fetch call ended (a cq_fetch_fail_t, passed as int). */
cq_llm_transport_t cq_llm_transport_from_fetch(int fetch_fail);
/* "ok", "timeout", "connect", ... for messages. */
const char *cq_llm_transport_name(cq_llm_transport_t t);

typedef enum {
    CQ_LLM_OK,      /* content holds the answer (still to validate against the schema) */
    CQ_LLM_RETRY,   /* transient: call again after backoff, honouring retry_after_ms */
    CQ_LLM_FAIL,    /* permanent: do not call again for this job */
    CQ_LLM_INVALID, /* an answer, but unusable: a repair prompt may help (raw_text) */
} cq_llm_verdict_t;

typedef struct {
    cq_llm_verdict_t verdict;
    json_t *content; /* the structured answer (new ref) when OK, wrapper and nulls removed */
    char *raw_text;  /* the model's answer text, for a repair prompt; NULL if none */
    int64_t prompt_tokens, completion_tokens; /* 0 when the reply does not say */
    int64_t retry_after_ms;                   /* -1 if none */
    /* OK; RETRY: RATE_LIMIT_EXCEEDED (429) or AI_SERVICE_UNAVAILABLE;
     * FAIL: AI_SERVICE_REJECTED (not retriable: credentials, quota, bad
     * request, untrusted certificate) or INVALID_AI_RESPONSE (refusal,
     * content filter); INVALID: INVALID_AI_RESPONSE. */
    cq_err_t err;
    /* What happened in our words, for job errors and repair prompts: the
     * provider's own error text is never in it (it can name server files). */
    char message[256];
    /* The provider's error text (error.message and the like), cut short and
     * with control characters blanked: for logs only, never for clients. */
    char provider_text[256];
    /* The server refused the request's structured-output format (an HTTP
     * 400/422/500/501 whose error text names response_format, json_schema,
     * json_object, grammar or schema): the engine may fall back to the next
     * mode (cq_llm_mode_next) instead of the verdict's retry or failure. */
    bool format_refused;
    char *model; /* the model that answered, when the reply says */
} cq_llm_reply_t;

/* Frees what reply holds and zeroes it; safe on a zeroed or cleared struct. */
void cq_llm_reply_clear(cq_llm_reply_t *reply);

/* The user prompt of a request built by cq_llm_build_request without a
 * repair (its first user message), so an engine need not keep its own copy;
 * caller frees. NULL if body is not such a request. */
char *cq_llm_request_user(const char *body);

/* Interprets one finished HTTP exchange: http_status (0 when none),
 * the Retry-After header value (NULL if absent), the body as received,
 * transport_err a cq_llm_transport_t. out is overwritten (not freed first);
 * the caller clears it. */
void cq_llm_parse_reply(cq_llm_provider_t p, long http_status, const char *retry_after_header,
                        const char *body, size_t body_len, int transport_err,
                        int64_t retry_after_max_ms, cq_llm_reply_t *out);

/* A Retry-After value (delay-seconds, possibly fractional, or an HTTP-date)
 * as milliseconds from now_ms, in [0, max_ms]; -1 when absent or
 * unparseable. */
int64_t cq_llm_retry_after_ms(const char *value, int64_t now_ms, int64_t max_ms);

#endif
