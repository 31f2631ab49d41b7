/*
 * cq_cli_http.h — the command line's HTTP client (libcurl, one reused
 * handle, so a batch's polls share a connection). It adds the credentials
 * every request needs: `Authorization: Bearer <token>` when a token was
 * given, otherwise the gateway's development headers (X-Tenant-Id,
 * X-User-Id). No curl type leaves this module. Single threaded.
 */
#ifndef CQ_CLI_HTTP_H
#define CQ_CLI_HTTP_H

#include <jansson.h>

#include "cq_cli.h"

/* One answer. body is NUL-terminated; json is the parsed body (NULL if it
 * is not JSON). */
typedef struct {
    long status; /* 0: no answer (transport failure, error says why) */
    char *body;
    size_t body_len;
    json_t *json;
    char job_id[64]; /* X-Job-Id */
    char location[512];
    char error[256];
} cq_cli_resp_t;

/* base_url is copied; token may be NULL (then tenant and user are sent as
 * development headers). Caller destroys. */
cq_cli_http_t *cq_cli_http_new(const char *base_url, const char *token, const char *tenant,
                               const char *user, char *errstr, size_t errstr_size);
void cq_cli_http_destroy(cq_cli_http_t *http);
/* Whether requests carry a bearer token (else development headers). */
bool cq_cli_http_has_token(const cq_cli_http_t *http);
/* Replaces the development headers' tenant and user (a DLQ replay submits
 * each job for the tenant it belonged to). No effect with a token. */
void cq_cli_http_set_dev(cq_cli_http_t *http, const char *tenant, const char *user);

/* Sends method path (relative to the base URL) with optional body of
 * content_type and extra "Name: value" headers (NULL-terminated, may be
 * NULL); waits at most timeout_ms for the whole exchange. Always fills
 * *resp (caller frees with cq_cli_resp_free). */
void cq_cli_http_do(cq_cli_http_t *http, const char *method, const char *path,
                    const char *const *headers, const char *content_type, const char *body,
                    size_t body_len, int64_t timeout_ms, cq_cli_resp_t *resp);
void cq_cli_resp_free(cq_cli_resp_t *resp);

/* Writes why an answer is not a success to stderr: the problem's code and
 * detail (and its first validation errors) or the transport error. */
void cq_cli_resp_explain(const cq_cli_resp_t *resp, const char *what);

#endif
