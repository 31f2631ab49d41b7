/*
 * cq_http.h — coachq's HTTP server layer (the gateway's API, the workers'
 * metrics endpoint): a civetweb server that turns each
 * request into a plain cq_http_req_t, calls one handler, and writes the
 * cq_http_resp_t it fills. civetweb stays inside cq_http.c, so handlers are
 * plain functions that unit tests call without a server.
 */
#ifndef CQ_HTTP_H
#define CQ_HTTP_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"

#define CQ_HTTP_MAX_HEADERS 64

typedef struct {
    const char *method;
    const char *path;  /* without query string, base path included */
    const char *query; /* NULL when absent */
    const char *body;  /* NUL-terminated copy; NULL when there is none */
    size_t body_len;
    char request_id[40];
    int header_count;
    const char *header_names[CQ_HTTP_MAX_HEADERS];
    const char *header_values[CQ_HTTP_MAX_HEADERS];
} cq_http_req_t;

typedef struct {
    int status;
    char *content_type;
    char *body;
    size_t body_len;
    size_t header_count;
    char **header_lines; /* "Name: value" */
} cq_http_resp_t;

/* Case-insensitive header lookup; NULL if absent. */
const char *cq_http_header(const cq_http_req_t *req, const char *name);
/* Whether the request's Content-Type is the media type want (parameters
 * such as "; charset=utf-8" allowed), case-insensitively. */
bool cq_http_content_type_is(const cq_http_req_t *req, const char *want);
/* Value of a query parameter, URL-decoded into out; false if absent. */
bool cq_http_query(const cq_http_req_t *req, const char *name, char *out, size_t out_size);

/* Adds a response header; the value is formatted. */
void cq_http_resp_header(cq_http_resp_t *resp, const char *name, const char *fmt, ...)
    CQ_PRINTF(3, 4);
/* Sets a JSON body (takes ownership of body, even when it is NULL). */
void cq_http_resp_json(cq_http_resp_t *resp, int status, json_t *body);
/* Sets a body of any type (copied). */
void cq_http_resp_body(cq_http_resp_t *resp, int status, const char *content_type, const char *body,
                       size_t len);
/* An RFC 9457 problem+json answer whose status and code come from the error
 * table; errors (may be NULL) is the validation list, taken over. */
void cq_http_resp_problem(cq_http_resp_t *resp, const cq_http_req_t *req, cq_err_t err,
                          const char *detail, json_t *errors);
/* The same with extra members (an object, taken over; may be NULL). */
void cq_http_resp_problem_ex(cq_http_resp_t *resp, const cq_http_req_t *req, cq_err_t err,
                             const char *detail, json_t *errors, json_t *extra);
/* Frees what the response holds and zeroes it. */
void cq_http_resp_clear(cq_http_resp_t *resp);

typedef void(cq_http_handler_t)(void *opaque, const cq_http_req_t *req, cq_http_resp_t *resp);

typedef struct cq_http_server_s cq_http_server_t;

typedef struct {
    const char *listen; /* civetweb listening_ports syntax, e.g. "127.0.0.1:8080" */
    int threads;        /* worker threads: connections served at once */
    int queue;          /* accepted connections waiting for a thread */
    size_t max_body;    /* larger bodies are answered 413 without calling the handler */
    /* Slow clients (all optional, 0 keeps the default): */
    int max_conns_per_peer;        /* connections one client address may hold; 0: no cap */
    int reserve;                   /* threads kept for addresses holding no connection */
    int64_t header_timeout_ms;     /* request line + headers, each body read and write; 30 s */
    int64_t keep_alive_timeout_ms; /* idle time between requests on a connection; 5 s */
    int retry_after;               /* Retry-After seconds of a refused connection; 1 */
} cq_http_options_t;

/* Starts listening. The handler runs on civetweb's worker threads, many at
 * once.
 *
 * civetweb gives each connection a thread from accept to close, so a thread
 * is what a slow or idle client costs. With max_conns_per_peer or reserve
 * set, connections are admitted when accepted (cq_accept.h): one whose
 * address already holds max_conns_per_peer connections, or, once only
 * `reserve` places are left, one whose address holds any, is answered at
 * once 429 (or 503) problem+json with Retry-After and closed, without
 * taking a thread. A client that sends its request line and headers slower
 * than header_timeout_ms is cut off (nothing sent: closed; part of a head:
 * a 400 problem, then closed). */
cq_http_server_t *cq_http_server_new(const cq_http_options_t *options, cq_http_handler_t *handler,
                                     void *opaque, char *errstr, size_t errstr_size);
/* The port the server listens on (the one chosen when listen asked for port
 * 0); 0 if unknown. */
int cq_http_server_port(const cq_http_server_t *server);
/* Stops accepting, waits for running handlers, frees. NULL is a no-op. */
void cq_http_server_destroy(cq_http_server_t *server);

#endif
