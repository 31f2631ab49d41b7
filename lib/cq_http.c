/*
 * cq_http.c — civetweb behind the cq_http interface (see cq_http.h).
 *
 * Threads: civetweb's master thread accepts; gateway.threads worker threads
 * each serve one connection at a time, from the first byte to the close,
 * running each request through begin_request, which reads the body, calls
 * the handler and writes the answer. Nothing here is shared between
 * requests except the read-only server struct and its admission table.
 *
 * Slow clients: connections are admitted by peer address when they are
 * accepted (cq_accept.c), before a thread is taken; connection_close gives
 * an admitted connection's place back. civetweb's request_timeout_ms bounds
 * the time a thread waits for a request head.
 *
 * Memory: civetweb wakes its idle threads in turn, so over time every one
 * of gateway.threads serves requests, and each stack page a request ever
 * touched (civetweb's 8 KiB formatting buffers, the handler's, libc's)
 * would stay resident in every thread: RSS grew with the number of
 * threads that had met a long request. When a connection closes its thread
 * gives back the stack pages below the frame it is in (a few KiB are
 * kept), so an idle thread holds only its shallow frames.
 */
#define _GNU_SOURCE /* pthread_getattr_np */
#include "cq_http.h"
#include "cq_log.h"
#include "cq_uuid.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <civetweb.h>

#include "cq_accept.h"

/* Largest request line plus headers civetweb reads (it keeps a buffer this
 * size per connection); bearer tokens are refused above 8 KiB by cq_auth. */
#define CQ_HTTP_MAX_REQUEST_HEAD "32768"

struct cq_http_server_s {
    struct mg_context *ctx;
    cq_http_handler_t *handler;
    void *opaque;
    size_t max_body;
    cq_accept_t *admit; /* NULL: every connection is served */
    int retry_after;
    atomic_bool warned; /* that admission is not in effect */
};

const char *cq_http_header(const cq_http_req_t *req, const char *name)
{
    for (int i = 0; i < req->header_count; i++)
        if (strcasecmp(req->header_names[i], name) == 0)
            return req->header_values[i];
    return NULL;
}

bool cq_http_content_type_is(const cq_http_req_t *req, const char *want)
{
    const char *type = cq_http_header(req, "Content-Type");
    size_t n = strlen(want);
    return type && strncasecmp(type, want, n) == 0 &&
           (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

bool cq_http_query(const cq_http_req_t *req, const char *name, char *out, size_t out_size)
{
    if (!req->query)
        return false;
    return mg_get_var(req->query, strlen(req->query), name, out, out_size) >= 0;
}

void cq_http_resp_header(cq_http_resp_t *resp, const char *name, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    /* A header value never carries a line break: outside input can reach here. */
    for (char *p = value; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    resp->header_lines = cq_realloc(resp->header_lines, (resp->header_count + 1) * sizeof(char *));
    resp->header_lines[resp->header_count++] = cq_asprintf("%s: %s", name, value);
}

void cq_http_resp_body(cq_http_resp_t *resp, int status, const char *content_type, const char *body,
                       size_t len)
{
    free(resp->content_type);
    free(resp->body);
    resp->status = status;
    resp->content_type = cq_strdup(content_type);
    resp->body = cq_malloc(len + 1);
    memcpy(resp->body, body, len);
    resp->body[len] = '\0';
    resp->body_len = len;
}

void cq_http_resp_json(cq_http_resp_t *resp, int status, json_t *body)
{
    /* 15 significant digits: 0.95 reads back as 0.95, not 0.94999999999999996. */
    char *text =
        body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(body);
    if (!text)
        text = cq_strdup("null");
    free(resp->content_type);
    free(resp->body);
    resp->status = status;
    resp->content_type = cq_strdup("application/json");
    resp->body = text;
    resp->body_len = strlen(text);
}

void cq_http_resp_problem(cq_http_resp_t *resp, const cq_http_req_t *req, cq_err_t err,
                          const char *detail, json_t *errors)
{
    cq_http_resp_problem_ex(resp, req, err, detail, errors, NULL);
}

void cq_http_resp_problem_ex(cq_http_resp_t *resp, const cq_http_req_t *req, cq_err_t err,
                             const char *detail, json_t *errors, json_t *extra)
{
    int status = cq_err_http_status(err);
    const char *code = cq_err_name(err);
    char type[128];
    snprintf(type, sizeof(type), "https://coachq.dev/problems/%s", code);
    for (char *p = type; *p; p++)
        *p = (char)(*p == '_' ? '-' : tolower((unsigned char)*p));
    json_t *body =
        json_pack("{s:b, s:s, s:s, s:i, s:s, s:s, s:s}", "success", 0, "type", type, "title",
                  cq_err_desc(err), "status", status, "detail", detail ? detail : cq_err_desc(err),
                  "instance", req && req->path ? req->path : "/", "code", code);
    if (errors)
        json_object_set_new(body, "errors", errors);
    if (req && req->request_id[0])
        json_object_set_new(body, "requestId", json_string(req->request_id));
    if (extra) {
        json_object_update(body, extra);
        json_decref(extra);
    }
    cq_http_resp_json(resp, status, body);
    free(resp->content_type);
    resp->content_type = cq_strdup("application/problem+json");
}

void cq_http_resp_clear(cq_http_resp_t *resp)
{
    free(resp->content_type);
    free(resp->body);
    for (size_t i = 0; i < resp->header_count; i++)
        free(resp->header_lines[i]);
    free(resp->header_lines);
    memset(resp, 0, sizeof(*resp));
}

/* Bodies up to this size go out in the same write as the head. */
#define CQ_HTTP_COALESCE_MAX 65536

/* Appends printf output to a growing buffer (*buf of *cap bytes, *len used). */
static void cq_http_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    CQ_PRINTF(4, 5);
static void cq_http_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap = *cap * 2 + (size_t)n;
        *buf = cq_realloc(*buf, *cap);
    }
}

/* The head and (up to CQ_HTTP_COALESCE_MAX) the body in one write: one
 * send(2) per answer instead of one per header line, and no small segments
 * for the client to wake up for. */
static void cq_http_send(struct mg_connection *conn, const cq_http_req_t *req,
                         const cq_http_resp_t *resp, bool close)
{
    int status = resp->status ? resp->status : 500;
    /* Answers are not cached unless the handler said otherwise (static files). */
    bool cache_set = false;
    for (size_t i = 0; i < resp->header_count; i++)
        cache_set |= strncasecmp(resp->header_lines[i], "Cache-Control:", 14) == 0;
    bool with_body = resp->body_len && strcmp(req->method, "HEAD") != 0;
    bool coalesce = with_body && resp->body_len <= CQ_HTTP_COALESCE_MAX;
    size_t len = 0, cap = 512 + (coalesce ? resp->body_len : 0);
    char *buf = cq_malloc(cap);
    cq_http_appendf(&buf, &len, &cap,
                    "HTTP/1.1 %d %s\r\n"
                    "Content-Type: %s\r\n"
                    "X-Request-Id: %s\r\n"
                    "%s%s",
                    status, mg_get_response_code_text(conn, status),
                    resp->content_type ? resp->content_type : "text/plain", req->request_id,
                    cache_set ? "" : "Cache-Control: no-store\r\n",
                    close ? "Connection: close\r\n" : "");
    /* A 304 has no content, and its Content-Length would be the 200's. */
    if (status != 304)
        cq_http_appendf(&buf, &len, &cap, "Content-Length: %zu\r\n", resp->body_len);
    for (size_t i = 0; i < resp->header_count; i++)
        cq_http_appendf(&buf, &len, &cap, "%s\r\n", resp->header_lines[i]);
    cq_http_appendf(&buf, &len, &cap, "\r\n");
    if (coalesce) {
        if (resp->body_len > cap - len) {
            cap = len + resp->body_len;
            buf = cq_realloc(buf, cap);
        }
        memcpy(buf + len, resp->body, resp->body_len);
        len += resp->body_len;
    }
    mg_write(conn, buf, len);
    free(buf);
    if (with_body && !coalesce)
        mg_write(conn, resp->body, resp->body_len);
}

static bool cq_http_request_id_ok(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++)
        if (!(isalnum((unsigned char)id[n]) || id[n] == '-' || id[n] == '_' || id[n] == '.'))
            return false;
    return n > 0 && n < 40;
}

/* Reads the body into a new buffer; false when it is over the limit. */
static bool cq_http_read_body(struct mg_connection *conn, const struct mg_request_info *ri,
                              size_t max, char **body, size_t *len)
{
    *body = NULL;
    *len = 0;
    if (ri->content_length > (long long)max)
        return false;
    size_t cap = ri->content_length > 0 ? (size_t)ri->content_length : 4096;
    char *buf = cq_malloc(cap + 1);
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                free(buf);
                return false;
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            buf = cq_realloc(buf, cap + 1);
        }
        int r = mg_read(conn, buf + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n > max) {
            free(buf);
            return false;
        }
    }
    buf[n] = '\0';
    if (n == 0 && ri->content_length <= 0) {
        free(buf);
        return true;
    }
    *body = buf;
    *len = n;
    return true;
}

static int cq_http_begin_request(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    cq_http_server_t *server = mg_get_user_data(mg_get_context(conn));
    if (server->admit && cq_accept_seen(server->admit) == 0 &&
        !atomic_exchange(&server->warned, true))
        CQ_LOG(CQ_LOG_WARN, "http", NULL,
               "connections are served without admission by address: civetweb did not call "
               "coachq's accept()");
    cq_http_req_t req;
    memset(&req, 0, sizeof(req));
    req.method = ri->request_method;
    req.path = ri->local_uri ? ri->local_uri : "/";
    req.query = ri->query_string;
    for (int i = 0; i < ri->num_headers && i < CQ_HTTP_MAX_HEADERS; i++) {
        req.header_names[req.header_count] = ri->http_headers[i].name;
        req.header_values[req.header_count++] = ri->http_headers[i].value;
    }
    const char *rid = cq_http_header(&req, "X-Request-Id");
    if (rid && cq_http_request_id_ok(rid))
        cq_strlcpy(req.request_id, rid, sizeof(req.request_id));
    else
        cq_uuid_v7(req.request_id);

    cq_http_resp_t resp;
    memset(&resp, 0, sizeof(resp));
    char *body = NULL;
    bool close = false;
    if (!cq_http_read_body(conn, ri, server->max_body, &body, &req.body_len)) {
        char detail[128];
        snprintf(detail, sizeof(detail), "The request body is larger than %zu bytes",
                 server->max_body);
        cq_http_resp_problem(&resp, &req, CQ_ERR_PAYLOAD_TOO_LARGE, detail, NULL);
        close = true; /* the rest of the body is unread: the connection cannot be reused */
    } else {
        req.body = body;
        server->handler(server->opaque, &req, &resp);
    }
    CQ_LOG(CQ_LOG_DEBUG, "http", req.request_id, "%s %s -> %d", req.method, req.path, resp.status);
    cq_http_send(conn, &req, &resp, close);
    int status = resp.status;
    cq_http_resp_clear(&resp);
    free(body);
    return status > 0 ? status : 500;
}

/* Whether s is an RFC 9110 token (the syntax of a method name). */
static bool cq_http_is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

/* Methods civetweb parses itself; it refuses any other with a 400. */
static bool cq_http_civetweb_knows(const char *method)
{
    static const char *const known[] = {"GET",
                                        "POST",
                                        "PUT",
                                        "DELETE",
                                        "HEAD",
                                        "OPTIONS",
                                        "PATCH",
                                        "CONNECT",
                                        "PROPFIND",
                                        "MKCOL",
                                        "LOCK",
                                        "UNLOCK",
                                        "PROPPATCH",
                                        "COPY",
                                        "MOVE",
                                        "REPORT",
                                        "MKACTIVITY",
                                        "CHECKOUT",
                                        "MERGE",
                                        "SEARCH",
                                        "NOTIFY",
                                        "SUBSCRIBE",
                                        "UNSUBSCRIBE",
                                        "BIND",
                                        "UNBIND",
                                        "REBIND",
                                        "ACL",
                                        "LINK",
                                        "UNLINK",
                                        "MKCALENDAR",
                                        "MKREDIRECTREF",
                                        "MKWORKSPACE",
                                        "ORDERPATCH",
                                        "UPDATE",
                                        "UPDATEREDIRECTREF",
                                        "VERSION-CONTROL",
                                        "LABEL",
                                        "BASELINE-CONTROL"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(known); i++)
        if (strcmp(method, known[i]) == 0)
            return true;
    return false;
}

/* The error code of a status civetweb answers on its own. */
static cq_err_t cq_http_status_err(int status)
{
    switch (status) {
    case 404:
        return CQ_ERR_NOT_FOUND;
    case 405:
        return CQ_ERR_METHOD_NOT_ALLOWED;
    case 413:
    case 431:
        return CQ_ERR_PAYLOAD_TOO_LARGE;
    case 500:
        return CQ_ERR_INTERNAL_ERROR;
    case 503:
        return CQ_ERR_SERVICE_UNAVAILABLE;
    default:
        return status >= 500 ? CQ_ERR_INTERNAL_ERROR : CQ_ERR_BAD_REQUEST;
    }
}

/* civetweb is about to answer an error itself (a request it could not
 * parse, a head over max_request_size, a method it does not know): answer
 * problem+json like every other error instead, and close. A method civetweb
 * does not know (TRACE, or any other token) goes to the handler with its
 * path only (no headers, no body), so it gets the same 405 with Allow (or
 * 404) as a known method on the wrong resource: the gateway checks methods
 * before identity, so such a request reaches no service. */
static int cq_http_error(struct mg_connection *conn, int status, const char *errmsg)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    cq_http_server_t *server = mg_get_user_data(mg_get_context(conn));
    cq_http_req_t req;
    memset(&req, 0, sizeof(req));
    cq_uuid_v7(req.request_id);
    req.method = "GET";
    req.path = "/";
    char path[1024] = "";
    const char *method = ri ? ri->request_method : NULL;
    bool unknown_method = status == 400 && method && cq_http_is_token(method) &&
                          !cq_http_civetweb_knows(method) && ri->request_uri;
    if (unknown_method) {
        /* civetweb parsed the request line before refusing the method. */
        size_t n = strcspn(ri->request_uri, "? \r\n");
        if (n >= sizeof(path))
            n = 0;
        memcpy(path, ri->request_uri, n);
        path[n] = '\0';
    }
    cq_http_resp_t resp;
    memset(&resp, 0, sizeof(resp));
    if (unknown_method && path[0] == '/') {
        req.method = method;
        req.path = path;
        server->handler(server->opaque, &req, &resp);
    } else {
        char detail[256];
        snprintf(detail, sizeof(detail), "%s", errmsg && *errmsg ? errmsg : "Bad request");
        for (char *c = detail; *c; c++)
            if (*c == '\r' || *c == '\n')
                *c = ' ';
        cq_http_resp_problem(&resp, &req, cq_http_status_err(status), detail, NULL);
    }
    CQ_LOG(CQ_LOG_DEBUG, "http", req.request_id, "civetweb refused a request (%d: %s) -> %d",
           status, errmsg ? errmsg : "", resp.status);
    cq_http_send(conn, &req, &resp, true);
    cq_http_resp_clear(&resp);
    return 0;
}

/* The answer to a connection cq_accept refused: problem+json, then close. */
static void cq_http_refusal(void *opaque, cq_peers_verdict_t verdict, char *buf, size_t size)
{
    cq_http_server_t *server = opaque;
    cq_http_req_t req;
    memset(&req, 0, sizeof(req));
    cq_uuid_v7(req.request_id);
    req.method = "GET";
    req.path = "/";
    cq_http_resp_t resp;
    memset(&resp, 0, sizeof(resp));
    bool per_peer = verdict == CQ_PEERS_OVER_PEER;
    cq_http_resp_problem(&resp, &req,
                         per_peer ? CQ_ERR_RATE_LIMIT_EXCEEDED : CQ_ERR_SERVICE_UNAVAILABLE,
                         per_peer ? "Too many connections from this address"
                                  : "The server has no room for another connection",
                         NULL);
    snprintf(buf, size,
             "HTTP/1.1 %d %s\r\n"
             "Content-Type: %s\r\n"
             "Content-Length: %zu\r\n"
             "X-Request-Id: %s\r\n"
             "Retry-After: %d\r\n"
             "Cache-Control: no-store\r\n"
             "Connection: close\r\n\r\n%s",
             resp.status, per_peer ? "Too Many Requests" : "Service Unavailable", resp.content_type,
             resp.body_len, req.request_id, server->retry_after, resp.body);
    cq_http_resp_clear(&resp);
    CQ_LOG(CQ_LOG_DEBUG, "http", req.request_id, "refused a connection: %s",
           per_peer ? "too many from its address" : "no room");
}

/* Stack kept below the current frame when trimming: what the next calls
 * of this thread (civetweb closing the socket, taking the next one) touch
 * at once anyway. */
#define CQ_HTTP_STACK_KEEP ((uintptr_t)8 * 1024)

/* Gives back to the kernel the pages of the calling thread's stack that
 * lie deeper than its current frame: what earlier calls touched and left.
 * Called where the thread's stack is shallow (between connections). */
static void cq_http_trim_stack(void)
{
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    void *low = NULL;
    size_t size = 0;
    int rc = pthread_attr_getstack(&attr, &low, &size);
    pthread_attr_destroy(&attr);
    if (rc != 0 || !low)
        return;
    char here;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)low + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)&here - CQ_HTTP_STACK_KEEP) & ~(page - 1);
    if ((uintptr_t)&here > (uintptr_t)low + CQ_HTTP_STACK_KEEP && end > start)
        madvise((void *)start, end - start, MADV_DONTNEED);
}

static void cq_http_connection_close(const struct mg_connection *conn)
{
    cq_http_server_t *server = mg_get_user_data(mg_get_context(conn));
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (server->admit && ri)
        cq_accept_leave(server->admit, ri->remote_addr);
    cq_http_trim_stack();
}

static int cq_http_log_message(const struct mg_connection *conn, const char *message)
{
    CQ_LOG(CQ_LOG_WARN, "civetweb", NULL, "%s", message);
    return 1;
}

static pthread_once_t cq_http_once = PTHREAD_ONCE_INIT;

static void cq_http_init_library(void)
{
    mg_init_library(0);
}

cq_http_server_t *cq_http_server_new(const cq_http_options_t *options, cq_http_handler_t *handler,
                                     void *opaque, char *errstr, size_t errstr_size)
{
    pthread_once(&cq_http_once, cq_http_init_library);
    cq_http_server_t *server = cq_calloc(1, sizeof(*server));
    server->handler = handler;
    server->opaque = opaque;
    server->max_body = options->max_body;
    server->retry_after = options->retry_after > 0 ? options->retry_after : 1;
    char threads[32], queue[32], header_timeout[32], keep_alive[32];
    snprintf(threads, sizeof(threads), "%d", options->threads);
    snprintf(queue, sizeof(queue), "%d", options->queue);
    snprintf(header_timeout, sizeof(header_timeout), "%lld",
             (long long)(options->header_timeout_ms > 0 ? options->header_timeout_ms : 30000));
    snprintf(
        keep_alive, sizeof(keep_alive), "%lld",
        (long long)(options->keep_alive_timeout_ms > 0 ? options->keep_alive_timeout_ms : 5000));
    /* request_timeout_ms bounds the whole request head (from the moment a
     * thread starts reading it) and each body read and write;
     * keep_alive_timeout_ms the same for the second and later requests of a
     * connection. */
    const char *civet_options[] = {"listening_ports", options->listen, "num_threads", threads,
                                   "connection_queue", queue, "enable_keep_alive", "yes",
                                   "request_timeout_ms", header_timeout, "keep_alive_timeout_ms",
                                   keep_alive,
                                   /* Room for a large bearer token, so that the auth
                                    * module (401) rather than civetweb (400) refuses it. */
                                   "max_request_size", CQ_HTTP_MAX_REQUEST_HEAD, NULL};
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof(callbacks));
    callbacks.begin_request = cq_http_begin_request;
    callbacks.log_message = cq_http_log_message;
    callbacks.http_error = cq_http_error;
    callbacks.connection_close = cq_http_connection_close;
    server->ctx = mg_start(&callbacks, server, civet_options);
    if (!server->ctx) {
        cq_errstr_set(errstr, errstr_size, "cannot listen on %s (in use, or not an address)",
                      options->listen);
        free(server);
        return NULL;
    }
    if (options->max_conns_per_peer > 0 || options->reserve > 0) {
        /* As many places as threads: an admitted connection finds a thread
         * (the queue only evens out the moment between a close and the
         * thread taking the next), so the reserve is threads that a probe
         * gets at once rather than places at the back of the queue. */
        server->admit = cq_accept_register(cq_http_server_port(server), options->threads,
                                           options->max_conns_per_peer, options->reserve,
                                           cq_http_refusal, server);
        if (!server->admit)
            CQ_LOG(CQ_LOG_WARN, "http", NULL,
                   "%s: too many servers for connection admission; every connection is served",
                   options->listen);
    }
    return server;
}

int cq_http_server_port(const cq_http_server_t *server)
{
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(server->ctx, 4, ports);
    return n > 0 ? ports[0].port : 0;
}

void cq_http_server_destroy(cq_http_server_t *server)
{
    if (!server)
        return;
    mg_stop(server->ctx);
    cq_accept_unregister(server->admit);
    free(server);
}
