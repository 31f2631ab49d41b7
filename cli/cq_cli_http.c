/*
 * cq_cli_http.c — the command line's HTTP client (see cq_cli_http.h).
 *
 * One curl easy handle, reset between requests but kept, so its connection
 * to the gateway is reused. Only the main thread uses it.
 */
#include "cq_cli_http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cq_cli_http_s {
    CURL *curl;
    char *base;
    char *auth_header;   /* "Authorization: Bearer ..." or NULL */
    char *tenant_header; /* development headers, when there is no token */
    char *user_header;
};

cq_cli_http_t *cq_cli_http_new(const char *base_url, const char *token, const char *tenant,
                               const char *user, char *errstr, size_t errstr_size)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cq_errstr_set(errstr, errstr_size, "curl_global_init failed");
        return NULL;
    }
    cq_cli_http_t *http = cq_calloc(1, sizeof(*http));
    http->curl = curl_easy_init();
    if (!http->curl) {
        cq_errstr_set(errstr, errstr_size, "curl_easy_init failed");
        free(http);
        curl_global_cleanup();
        return NULL;
    }
    http->base = cq_strdup(base_url);
    size_t n = strlen(http->base);
    while (n > 0 && http->base[n - 1] == '/')
        http->base[--n] = '\0';
    if (token && *token)
        http->auth_header = cq_asprintf("Authorization: Bearer %s", token);
    else {
        http->tenant_header = cq_asprintf("X-Tenant-Id: %s", tenant);
        http->user_header = cq_asprintf("X-User-Id: %s", user);
    }
    return http;
}

void cq_cli_http_destroy(cq_cli_http_t *http)
{
    if (!http)
        return;
    curl_easy_cleanup(http->curl);
    free(http->base);
    free(http->auth_header);
    free(http->tenant_header);
    free(http->user_header);
    free(http);
    curl_global_cleanup();
}

bool cq_cli_http_has_token(const cq_cli_http_t *http)
{
    return http->auth_header != NULL;
}

void cq_cli_http_set_dev(cq_cli_http_t *http, const char *tenant, const char *user)
{
    if (http->auth_header)
        return;
    free(http->tenant_header);
    free(http->user_header);
    http->tenant_header = cq_asprintf("X-Tenant-Id: %s", tenant);
    http->user_header = cq_asprintf("X-User-Id: %s", user);
}

static size_t cq_cli_http_body_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    cq_cli_resp_t *resp = userdata;
    size_t n = size * nmemb;
    resp->body = cq_realloc(resp->body, resp->body_len + n + 1);
    memcpy(resp->body + resp->body_len, ptr, n);
    resp->body_len += n;
    resp->body[resp->body_len] = '\0';
    return n;
}

/* Copies a header's value (trimmed) into out when the line is that header. */
static void cq_cli_http_take(const char *line, size_t len, const char *name, char *out,
                             size_t out_size)
{
    size_t n = strlen(name);
    if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t m = (size_t)(end - v);
    if (m >= out_size)
        m = out_size - 1;
    memcpy(out, v, m);
    out[m] = '\0';
}

static size_t cq_cli_http_header_cb(char *line, size_t size, size_t nmemb, void *userdata)
{
    cq_cli_resp_t *resp = userdata;
    size_t len = size * nmemb;
    cq_cli_http_take(line, len, "X-Job-Id", resp->job_id, sizeof(resp->job_id));
    cq_cli_http_take(line, len, "Location", resp->location, sizeof(resp->location));
    return len;
}

void cq_cli_http_do(cq_cli_http_t *http, const char *method, const char *path,
                    const char *const *headers, const char *content_type, const char *body,
                    size_t body_len, int64_t timeout_ms, cq_cli_resp_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    CURL *curl = http->curl;
    curl_easy_reset(curl);
    char *url = cq_asprintf("%s%s", http->base, path);
    struct curl_slist *list = NULL;
    char *ctype = content_type ? cq_asprintf("Content-Type: %s", content_type) : NULL;
    if (ctype)
        list = curl_slist_append(list, ctype);
    if (http->auth_header)
        list = curl_slist_append(list, http->auth_header);
    else {
        list = curl_slist_append(list, http->tenant_header);
        list = curl_slist_append(list, http->user_header);
    }
    list = curl_slist_append(list, "Expect:");
    for (; headers && *headers; headers++)
        list = curl_slist_append(list, *headers);

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 0));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, cq_cli_http_body_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, cq_cli_http_header_cb);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "coachq-cli/" CQ_VERSION);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        snprintf(resp->error, sizeof(resp->error), "%s %s: %s", method, url,
                 *errbuf ? errbuf : curl_easy_strerror(rc));
        resp->status = 0;
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
        if (resp->body)
            resp->json = json_loadb(resp->body, resp->body_len, 0, NULL);
    }
    curl_slist_free_all(list);
    free(ctype);
    free(url);
}

void cq_cli_resp_free(cq_cli_resp_t *resp)
{
    free(resp->body);
    json_decref(resp->json);
    memset(resp, 0, sizeof(*resp));
}

void cq_cli_resp_explain(const cq_cli_resp_t *resp, const char *what)
{
    if (resp->status == 0) {
        fprintf(stderr, "coachq: %s: %s\n", what, resp->error);
        return;
    }
    const char *code = json_string_value(json_object_get(resp->json, "code"));
    const char *detail = json_string_value(json_object_get(resp->json, "detail"));
    if (!code) {
        fprintf(stderr, "coachq: %s: HTTP %ld%s%.200s\n", what, resp->status,
                resp->body_len ? ": " : "", resp->body ? resp->body : "");
        return;
    }
    fprintf(stderr, "coachq: %s: HTTP %ld %s%s%s\n", what, resp->status, code, detail ? ": " : "",
            detail ? detail : "");
    json_t *errors = json_object_get(resp->json, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (i == 10) {
            fprintf(stderr, "  ... %zu more\n", json_array_size(errors) - 10);
            break;
        }
        const char *path = json_string_value(json_object_get(e, "path"));
        fprintf(stderr, "  %s: %s\n", path && *path ? path : "(body)",
                json_string_value(json_object_get(e, "message")));
    }
}
