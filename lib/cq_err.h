/*
 * cq_err.h — the one error enum of coachq and its table.
 *
 * Each code has a stable upper-snake-case name (the `code` of problem+json
 * answers and of failed jobs), an HTTP status, whether a job failing with it
 * may be retried, and a description. Retry/dead-letter decisions and HTTP
 * answers are read from this table, never decided ad hoc.
 */
#ifndef CQ_ERR_H
#define CQ_ERR_H

#include <stdbool.h>

/* X(enum suffix, http status, retriable, description) */
#define CQ_ERR_TABLE(X)                                                                            \
    X(OK, 200, false, "Success")                                                                   \
    X(MALFORMED_JSON, 400, false, "The request body is not valid JSON")                            \
    X(BAD_REQUEST, 400, false, "The request is malformed")                                         \
    X(TOKEN_MISSING, 401, false, "No bearer token was sent")                                       \
    X(TOKEN_INVALID, 401, false, "The bearer token is not valid")                                  \
    X(TOKEN_EXPIRED, 401, false, "The bearer token has expired")                                   \
    X(FORBIDDEN, 403, false, "The caller may not do this")                                         \
    X(NOT_FOUND, 404, false, "No such resource")                                                   \
    X(METHOD_NOT_ALLOWED, 405, false, "The method is not allowed on this resource")                \
    X(JOB_ALREADY_TERMINAL, 409, false, "The job has already finished")                            \
    X(PAYLOAD_TOO_LARGE, 413, false, "The request body is larger than allowed")                    \
    X(UNSUPPORTED_MEDIA_TYPE, 415, false, "The request body must be application/json")             \
    X(VALIDATION_ERROR, 422, false, "The request does not match the operation's schema")           \
    X(INSUFFICIENT_CONTEXT, 422, false, "The request lacks the context needed to answer")          \
    X(IDEMPOTENCY_KEY_REUSED, 422, false, "The idempotency key was used with a different body")    \
    X(DEPENDENCY_CYCLE, 422, false, "The actions' dependencies form a cycle")                      \
    X(RATE_LIMIT_EXCEEDED, 429, true, "Too many requests")                                         \
    X(RATE_LIMITED, 429, true,                                                                     \
      "The tenant submitted more jobs than its rate limit allows; retry after Retry-After")        \
    X(TOKEN_BUDGET_EXCEEDED, 429, false,                                                           \
      "The tenant has used its daily LLM token budget; it renews at 00:00 UTC")                    \
    X(INTERNAL_ERROR, 500, false, "An unexpected error occurred")                                  \
    X(NOT_IMPLEMENTED, 501, false, "No engine of this service can answer the operation yet")       \
    X(INVALID_AI_RESPONSE, 502, false, "The AI service answered with an invalid result")           \
    X(AI_SERVICE_UNAVAILABLE, 503, true, "The AI service is unavailable")                          \
    X(AI_SERVICE_REJECTED, 502, false,                                                             \
      "The AI service refused the call (credentials, quota or request); retrying cannot help")     \
    X(SERVICE_UNAVAILABLE, 503, true, "A service coachq depends on is unavailable")                \
    X(KAFKA_UNAVAILABLE, 503, true, "The job queue is unavailable")                                \
    X(REDIS_UNAVAILABLE, 503, true, "The job store is unavailable")                                \
    X(UPSTREAM_UNAVAILABLE, 503, true, "An upstream service is unavailable")                       \
    X(URL_NOT_ALLOWED, 422, false,                                                                 \
      "The URL may not be fetched (scheme, credentials, or an address that is not public)")        \
    X(FETCH_FAILED, 502, false, "The URL could not be fetched")                                    \
    X(NOT_HTML, 422, false, "The fetched page is not HTML")                                        \
    X(JOB_TIMEOUT, 504, true, "The job did not finish in time")                                    \
    X(UNKNOWN_OPERATION, 422, false, "The job names an operation this worker does not run")        \
    X(UNDECODABLE_MESSAGE, 422, false, "A queue message could not be decoded")                     \
    X(JOB_CANCELLED, 409, false, "The job was cancelled")                                          \
    X(CONFIG, 500, false, "The configuration is not valid")

typedef enum {
#define CQ_ERR_ENUM(name, status, retriable, desc) CQ_ERR_##name,
    CQ_ERR_TABLE(CQ_ERR_ENUM)
#undef CQ_ERR_ENUM
        CQ_ERR__COUNT
} cq_err_t;

/* Stable name, e.g. "VALIDATION_ERROR". Unknown codes give "INTERNAL_ERROR". */
const char *cq_err_name(cq_err_t err);
/* Human description, e.g. "The request does not match the operation's schema". */
const char *cq_err_desc(cq_err_t err);
/* HTTP status an answer with this error carries. */
int cq_err_http_status(cq_err_t err);
/* Whether a job failing with this error may be retried. */
bool cq_err_retriable(cq_err_t err);
/* Looks a code up by its stable name; CQ_ERR_INTERNAL_ERROR when unknown. */
cq_err_t cq_err_from_name(const char *name);

#endif
