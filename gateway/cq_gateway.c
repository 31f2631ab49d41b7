/*
 * cq_gateway.c — building the gateway and dispatching requests.
 *
 * Routing: the base path is stripped; service endpoints (health, metrics,
 * openapi.json, docs) need no auth; /jobs/... is the job resource; every
 * other path is looked up in the contract, so an operation added to the
 * OpenAPI document is routed without touching this file.
 *
 * Observability: each request runs with the HTTP thread's log context set
 * (request id, then tenant and operation once known, and the trace from
 * the client's traceparent, or a new one), cleared when it ends; its
 * duration goes to a histogram by route template and status class. The
 * route is the contract's path, never the raw URL, so the label set is
 * bounded by the contract.
 *
 * Threads: cq_gateway_handle runs on every HTTP thread at once; it only reads
 * the context, except the counters and histograms (atomics).
 */
#include "cq_gateway.h"
#include "cq_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Threads kept free of waiting requests for submissions, polls and health;
 * as many are kept for client addresses that hold no connection (a probe,
 * a new client) when others fill the rest. */
#define CQ_GATEWAY_RESERVED_THREADS 16
/* Business-data refreshes waiting for the refresh thread: one per tenant
 * at most, each a few milliseconds of work; past them a refresh is dropped
 * (harmless: the copy expires as it would have). */
#define CQ_GATEWAY_REFRESH_QUEUE 1024
/* Threads of the admin listener (health and metrics only). */
#define CQ_GATEWAY_ADMIN_THREADS 4

void cq_gateway_metrics_init(cq_gateway_t *gw)
{
    const json_t *paths = json_object_get(cq_contract_document(gw->contract), "paths");
    gw->route_count = json_object_size(paths) + 1;
    gw->routes = cq_calloc(gw->route_count, sizeof(char *));
    size_t n = 0;
    const char *path;
    json_t *item;
    json_object_foreach((json_t *)paths, path, item)
    {
        gw->routes[n++] = cq_strdup(path);
    }
    gw->routes[n] = cq_strdup("other");
    gw->route_series = cq_calloc(gw->route_count * 5, sizeof(atomic_int));
    for (size_t i = 0; i < gw->route_count * 5; i++)
        atomic_init(&gw->route_series[i], -1);
    static const double bounds[] = CQ_HISTO_BOUNDS_HTTP;
    gw->request_seconds = cq_histo_new(
        "coachq_gateway_http_request_duration_seconds",
        "Time from a request's arrival to its answer being ready, by route (the contract's path "
        "template) and status class; waiting requests count their wait.",
        bounds, CQ_ARRAY_SIZE(bounds), gw->route_count * 5, NULL);
    /* Finer than the HTTP bounds below 10 ms, where cached answers are. */
    static const double bd_bounds[] = {0.00025, 0.0005, 0.001, 0.002, 0.003, 0.004, 0.005,
                                       0.0075,  0.01,   0.025, 0.05,  0.1,   0.25,  0.5,
                                       1,       2.5,    5,     10,    30,    60};
    static const char *const bd_outcomes[CQ_BIZDATA_OUTCOMES] = {
        [CQ_BIZDATA_OUTCOME_HIT] = "outcome=\"hit\"",
        [CQ_BIZDATA_OUTCOME_REVALIDATE] = "outcome=\"revalidate\"",
        [CQ_BIZDATA_OUTCOME_MISS] = "outcome=\"miss\"",
    };
    gw->bd_seconds = cq_histo_new(
        "coachq_gateway_business_data_answer_seconds",
        "Business-data answer time in the gateway, from the request's handling to its answer "
        "being ready, by outcome: hit (a fresh copy), revalidate (a copy past freshness within "
        "the grace, refreshed in the background), miss (a job ran or was joined).",
        bd_bounds, CQ_ARRAY_SIZE(bd_bounds), CQ_BIZDATA_OUTCOMES, NULL);
    for (int i = 0; i < CQ_BIZDATA_OUTCOMES; i++)
        gw->bd_series[i] = cq_histo_series(gw->bd_seconds, bd_outcomes[i]);
}

void cq_gateway_metrics_term(cq_gateway_t *gw)
{
    for (size_t i = 0; i < gw->route_count; i++)
        free(gw->routes[i]);
    free(gw->routes);
    free(gw->route_series);
    cq_histo_destroy(gw->request_seconds);
    cq_histo_destroy(gw->bd_seconds);
    gw->bd_seconds = NULL;
    gw->routes = NULL;
    gw->route_series = NULL;
    gw->request_seconds = NULL;
    gw->route_count = 0;
}

cq_gateway_t *cq_gateway_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    cq_gateway_t *gw = cq_calloc(1, sizeof(*gw));
    gw->conf = conf;
    gw->started_ms = cq_now_ms();
    int threads = (int)conf->gateway_threads;
    gw->max_waiters = threads > 2 * CQ_GATEWAY_RESERVED_THREADS
                          ? threads - CQ_GATEWAY_RESERVED_THREADS
                          : threads / 2;
    atomic_init(&gw->waiters, 0);
    pthread_mutex_init(&gw->limited_lock, NULL);
    char err[512];
    if (!(gw->contract = cq_contract_new(conf, err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "contract: %s", err);
        goto fail;
    }
    if (!(gw->batch_schema = cq_schema_new(cq_contract_document(gw->contract),
                                           "/components/schemas/BatchRequest", err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "contract: BatchRequest: %s", err);
        goto fail;
    }
    if (!(gw->insights_list_schema =
              cq_schema_new(cq_contract_document(gw->contract),
                            "/components/schemas/InsightsListRequest", err, sizeof(err))) ||
        !(gw->insight_patch_schema =
              cq_schema_new(cq_contract_document(gw->contract),
                            "/components/schemas/InsightPatchRequest", err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "contract: insights: %s", err);
        goto fail;
    }
    cq_gateway_metrics_init(gw);
    if (!(gw->auth = cq_auth_new(conf, err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "auth: %s", err);
        goto fail;
    }
    if (!*conf->auth_jwt_secret && !*conf->auth_jwt_public_key && !conf->gateway_dev_auth)
        CQ_LOG(CQ_LOG_WARN, "gateway", NULL,
               "no auth.jwt_secret or auth.jwt_public_key: every request will get 401");
    if (!(gw->avro = cq_avro_new(cq_contract_document(gw->contract), err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "avro: %s", err);
        goto fail;
    }
    if (!(gw->store = cq_store_new(conf, err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "redis: %s", err);
        goto fail;
    }
    if (!(gw->limits = cq_limit_new(conf, errstr, errstr_size)))
        goto fail;
    if (conf->topics_create) {
        /* One job topic per worker kind the contract names, and the results. */
        size_t kinds = cq_contract_kind_count(gw->contract);
        char **topics = cq_calloc(kinds + 1, sizeof(char *));
        size_t n = 0;
        for (; n < kinds; n++)
            topics[n] =
                cq_asprintf("%s%s", conf->topics_jobs_prefix, cq_contract_kind_at(gw->contract, n));
        topics[n++] = cq_strdup(conf->topics_results);
        cq_err_t rc = cq_kafka_create_topics(conf, (const char *const *)topics, n,
                                             (int)conf->topics_partitions, err, sizeof(err));
        for (size_t i = 0; i < n; i++)
            free(topics[i]);
        free(topics);
        if (rc != CQ_ERR_OK)
            CQ_LOG(CQ_LOG_WARN, "gateway", NULL, "creating topics: %s", err);
    }
    if (!(gw->producer = cq_kafka_producer_new_bounded(conf, conf->gateway_produce_timeout, err,
                                                       sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "kafka: %s", err);
        goto fail;
    }
    if (!(gw->bd_refresh = cq_bdrefresh_new(gw, CQ_GATEWAY_REFRESH_QUEUE, err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "%s", err);
        goto fail;
    }
    cq_http_options_t http = {
        .listen = conf->gateway_listen,
        .threads = threads,
        .queue = (int)conf->gateway_queue,
        .max_body = (size_t)conf->gateway_max_body_bytes,
        .max_conns_per_peer = (int)conf->gateway_max_conns_per_peer,
        .reserve =
            threads > 2 * CQ_GATEWAY_RESERVED_THREADS ? CQ_GATEWAY_RESERVED_THREADS : threads / 4,
        .header_timeout_ms = conf->gateway_header_timeout,
        .keep_alive_timeout_ms = conf->gateway_keep_alive_timeout,
        .retry_after = (int)conf->gateway_retry_after,
    };
    if (!(gw->server = cq_http_server_new(&http, cq_gateway_handle, gw, err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "http: %s", err);
        goto fail;
    }
    if (*conf->gateway_admin_listen) {
        /* Its own threads: what holds the API's cannot hold these. Probes
         * come from few addresses, each with few connections. */
        cq_http_options_t admin = http;
        admin.listen = conf->gateway_admin_listen;
        admin.threads = CQ_GATEWAY_ADMIN_THREADS;
        admin.queue = 4 * CQ_GATEWAY_ADMIN_THREADS;
        admin.max_body = 1024;
        admin.max_conns_per_peer = CQ_GATEWAY_ADMIN_THREADS / 2;
        admin.reserve = 0;
        if (!(gw->admin_server =
                  cq_http_server_new(&admin, cq_gateway_handle_admin, gw, err, sizeof(err)))) {
            cq_errstr_set(errstr, errstr_size, "http (admin): %s", err);
            goto fail;
        }
    }
    if (conf->gateway_dev_auth)
        CQ_LOG(CQ_LOG_WARN, "gateway", NULL,
               "DEVELOPMENT AUTH IS ON: X-Tenant-Id/X-User-Id headers are trusted without a "
               "token. Never run like this in production.");
    return gw;
fail:
    cq_gateway_destroy(gw);
    return NULL;
}

void cq_gateway_destroy(cq_gateway_t *gw)
{
    if (!gw)
        return;
    /* The servers first: no handler may run while what it uses goes away. */
    cq_http_server_destroy(gw->admin_server);
    cq_http_server_destroy(gw->server);
    cq_bdrefresh_destroy(gw->bd_refresh); /* it submits: before the producer and store */
    cq_kafka_producer_destroy(gw->producer, 5000);
    cq_store_destroy(gw->store);
    cq_limit_destroy(gw->limits);
    for (size_t i = 0; i < gw->limited_count; i++)
        free(gw->limited_tenants[i]);
    pthread_mutex_destroy(&gw->limited_lock);
    cq_avro_destroy(gw->avro);
    cq_auth_destroy(gw->auth);
    cq_schema_destroy(gw->batch_schema);
    cq_schema_destroy(gw->insights_list_schema);
    cq_schema_destroy(gw->insight_patch_schema);
    cq_contract_destroy(gw->contract);
    cq_gateway_metrics_term(gw);
    free(gw);
}

bool cq_gateway_waiter_enter(cq_gateway_t *gw)
{
    if (atomic_fetch_add(&gw->waiters, 1) >= gw->max_waiters) {
        atomic_fetch_sub(&gw->waiters, 1);
        return false;
    }
    return true;
}

void cq_gateway_waiter_leave(cq_gateway_t *gw)
{
    atomic_fetch_sub(&gw->waiters, 1);
}

/* Longest Authorization value forwarded; a JWT is well under it. */
#define CQ_GATEWAY_MAX_FORWARDED 8192

const char *cq_gateway_forwarded_credentials(const cq_operation_t *op, const cq_http_req_t *req)
{
    if (!op->forward_credentials)
        return NULL;
    const char *auth = cq_http_header(req, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || strlen(auth) > CQ_GATEWAY_MAX_FORWARDED)
        return NULL;
    return auth;
}

void cq_gateway_parse_prefer(const cq_gateway_t *gw, const cq_http_req_t *req, bool *async,
                             int64_t *wait_ms)
{
    /* Prefer may appear once with comma-separated preferences (RFC 7240). */
    const char *prefer = cq_http_header(req, "Prefer");
    if (!prefer)
        return;
    char buf[256];
    cq_strlcpy(buf, prefer, sizeof(buf));
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",;", &save); tok; tok = strtok_r(NULL, ",;", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        if (strncasecmp(tok, "respond-async", 13) == 0) {
            *async = true;
        } else if (strncasecmp(tok, "wait=", 5) == 0) {
            char *end;
            long long secs = strtoll(tok + 5, &end, 10);
            if (end != tok + 5 && secs >= 0) {
                int64_t ms = secs > gw->conf->gateway_max_wait / 1000 ? gw->conf->gateway_max_wait
                                                                      : secs * 1000;
                *wait_ms = ms;
            }
        }
    }
}

/* The caller's identity, or a problem answer. */
static bool cq_gateway_authenticate(cq_gateway_t *gw, const cq_http_req_t *req, cq_principal_t *who,
                                    cq_http_resp_t *resp)
{
    char detail[160];
    const char *tenant = cq_http_header(req, "X-Tenant-Id");
    if (gw->conf->gateway_dev_auth && tenant) {
        cq_err_t rc = cq_auth_dev_headers(tenant, cq_http_header(req, "X-User-Id"), who, detail,
                                          sizeof(detail));
        if (rc != CQ_ERR_OK)
            cq_http_resp_problem(resp, req, rc, detail, NULL);
        else
            CQ_LOG_CTX_PUT(cq_log_ctx()->tenant, who->tenant_id);
        return rc == CQ_ERR_OK;
    }
    cq_err_t rc = cq_auth_verify(gw->auth, cq_http_header(req, "Authorization"), cq_now_ms(), who,
                                 detail, sizeof(detail));
    if (rc == CQ_ERR_OK) {
        CQ_LOG_CTX_PUT(cq_log_ctx()->tenant, who->tenant_id);
        return true;
    }
    if (rc == CQ_ERR_TOKEN_MISSING && gw->conf->gateway_dev_auth)
        snprintf(detail, sizeof(detail),
                 "Send Authorization: Bearer <token>, or X-Tenant-Id in development mode");
    cq_http_resp_problem(resp, req, rc, detail, NULL);
    cq_http_resp_header(resp, "WWW-Authenticate", "Bearer");
    return false;
}

static void cq_gateway_method_not_allowed(const cq_http_req_t *req, cq_http_resp_t *resp,
                                          const char *allow)
{
    cq_http_resp_problem(resp, req, CQ_ERR_METHOD_NOT_ALLOWED, NULL, NULL);
    cq_http_resp_header(resp, "Allow", "%s", allow);
}

/* Answers a service endpoint (health, metrics, and unless probes_only the
 * contract and docs); false when req is for none of them. *route (may be
 * NULL) gets the endpoint's path. */
static bool cq_gateway_service(cq_gateway_t *gw, const cq_http_req_t *req, cq_http_resp_t *resp,
                               bool probes_only, const char **route)
{
    static const char *const service[] = {"/health", "/health/ready", "/metrics", "/openapi.json"};
    const char *base = gw->conf->gateway_base_path;
    size_t base_len = strlen(base);
    if (strncmp(req->path, base, base_len) != 0)
        return false;
    const char *path = req->path + base_len;
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (!probes_only && strncmp(path, "/docs", 5) == 0 && (path[5] == '\0' || path[5] == '/')) {
        if (!get)
            cq_gateway_method_not_allowed(req, resp, "GET, HEAD");
        else
            cq_docs_handle(gw, path + 5, req, resp);
        return true;
    }
    for (size_t i = 0; i < (probes_only ? 3 : CQ_ARRAY_SIZE(service)); i++) {
        if (strcmp(path, service[i]) == 0) {
            if (route)
                *route = service[i];
            if (!get)
                cq_gateway_method_not_allowed(req, resp, "GET, HEAD");
            else
                cq_health_handle(gw, path, req, resp);
            return true;
        }
    }
    return false;
}

/* Answers req; *route is set to the contract path template it matched
 * (left alone when none did). */
static void cq_gateway_dispatch(cq_gateway_t *gw, const cq_http_req_t *req, cq_http_resp_t *resp,
                                const char **route, int64_t started_ns)
{
    const char *base = gw->conf->gateway_base_path;
    size_t base_len = strlen(base);
    if (strncmp(req->path, base, base_len) != 0 ||
        (req->path[base_len] != '/' && req->path[base_len] != '\0')) {
        cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such endpoint", NULL);
        return;
    }
    const char *path = req->path + base_len;
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

    if (cq_gateway_service(gw, req, resp, false, route))
        return;

    cq_principal_t who;
    if (strcmp(path, "/jobs/batch") == 0) {
        *route = "/jobs/batch";
        if (strcmp(req->method, "POST") != 0)
            cq_gateway_method_not_allowed(req, resp, "POST");
        else if (cq_gateway_authenticate(gw, req, &who, resp))
            cq_batch_submit(gw, &who, req, resp);
        return;
    }
    if (strncmp(path, "/jobs/batch/", 12) == 0) {
        char id[64];
        const char *rest = path + 12;
        const char *slash = strchr(rest, '/');
        size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
        bool results = slash && strcmp(slash, "/results") == 0;
        if (len == 0 || len >= sizeof(id) || (slash && !results)) {
            cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such endpoint", NULL);
            return;
        }
        memcpy(id, rest, len);
        id[len] = '\0';
        *route = results ? "/jobs/batch/{id}/results" : "/jobs/batch/{id}";
        if (!get)
            cq_gateway_method_not_allowed(req, resp, "GET, HEAD");
        else if (cq_gateway_authenticate(gw, req, &who, resp))
            cq_batch_get(gw, id, results, &who, req, resp);
        return;
    }
    if (strncmp(path, "/jobs/", 6) == 0) {
        const char *id = path + 6;
        if (strchr(id, '/') || !*id) {
            cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such endpoint", NULL);
            return;
        }
        *route = "/jobs/{id}";
        if (!get && strcmp(req->method, "DELETE") != 0) {
            cq_gateway_method_not_allowed(req, resp, "GET, HEAD, DELETE");
            return;
        }
        if (cq_gateway_authenticate(gw, req, &who, resp))
            cq_jobs_handle(gw, id, &who, req, resp);
        return;
    }

    bool path_known = false;
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    const json_t *values = cq_contract_enum_route(gw->contract, "GET", path);
    if (values) {
        *route = path; /* an enum route has no parameters: its path is its template */
        if (strcmp(method, "GET") != 0)
            cq_gateway_method_not_allowed(req, resp, "GET, HEAD");
        else if (cq_gateway_authenticate(gw, req, &who, resp))
            cq_http_resp_json(resp, 200,
                              json_pack("{s:b, s:O}", "success", 1, "data", (json_t *)values));
        return;
    }
    /* Stored insights (answered here, no job): GET /insights, PATCH /insights/{id}. */
    if (strcmp(path, "/insights") == 0) {
        *route = "/insights";
        if (!get)
            cq_gateway_method_not_allowed(req, resp, "GET, HEAD");
        else if (cq_gateway_authenticate(gw, req, &who, resp))
            cq_insights_list(gw, &who, req, resp);
        return;
    }
    if (strncmp(path, "/insights/", 10) == 0 && strcmp(req->method, "PATCH") == 0 && path[10] &&
        !strchr(path + 10, '/')) {
        *route = "/insights/{id}";
        if (cq_gateway_authenticate(gw, req, &who, resp))
            cq_insights_patch(gw, path + 10, &who, req, resp);
        return;
    }
    const cq_operation_t *op = cq_contract_match(gw->contract, method, path, &path_known);
    if (!op) {
        if (path_known) {
            *route = path; /* a known operation path (no parameters) */
            char allow[64] = "";
            for (size_t i = 0; i < cq_contract_count(gw->contract); i++) {
                const cq_operation_t *o = cq_contract_at(gw->contract, i);
                if (strcmp(o->path, path) == 0)
                    snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                             allow[0] ? ", " : "", o->method);
            }
            cq_gateway_method_not_allowed(req, resp, allow);
        } else {
            cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such endpoint", NULL);
        }
        return;
    }
    *route = op->path;
    CQ_LOG_CTX_PUT(cq_log_ctx()->operation, op->name);
    if (!cq_gateway_authenticate(gw, req, &who, resp))
        return;
    if (op->tenant_cache)
        cq_bizdata_handle(gw, op, &who, req, resp, started_ns);
    else
        cq_submit_handle(gw, op, &who, req, resp);
}

int64_t cq_gateway_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Records one answer's duration under its route and status class. */
static void cq_gateway_observe(cq_gateway_t *gw, const char *route, int cls, double seconds)
{
    if (cls < 1 || cls > 5 || !gw->request_seconds)
        return;
    size_t r = gw->route_count - 1; /* "other" */
    for (size_t i = 0; route && i + 1 < gw->route_count; i++) {
        if (strcmp(gw->routes[i], route) == 0) {
            r = i;
            break;
        }
    }
    atomic_int *slot = &gw->route_series[r * 5 + (size_t)(cls - 1)];
    int series = atomic_load_explicit(slot, memory_order_relaxed);
    if (series < 0) {
        char labels[CQ_HISTO_MAX_LABELS], value[128];
        cq_histo_label_value(gw->routes[r], value, sizeof(value));
        snprintf(labels, sizeof(labels), "route=\"%s\",class=\"%dxx\"", value, cls);
        series = cq_histo_series(gw->request_seconds, labels);
        atomic_store_explicit(slot, series, memory_order_relaxed);
    }
    cq_histo_observe_at(gw->request_seconds, series, seconds);
}

void cq_gateway_handle(void *opaque, const cq_http_req_t *req, cq_http_resp_t *resp)
{
    cq_gateway_t *gw = opaque;
    int64_t t0 = cq_gateway_now_ns();
    cq_log_ctx_t *ctx = cq_log_ctx();
    cq_log_ctx_set(NULL);
    CQ_LOG_CTX_PUT(ctx->request_id, req->request_id);
    /* The client's trace, or a new one: it goes with the job to the worker
     * and on to its LLM and upstream calls. */
    if (!cq_trace_parse(cq_http_header(req, "traceparent"), &ctx->trace))
        cq_trace_new(&ctx->trace);
    const char *route = NULL;
    cq_gateway_dispatch(gw, req, resp, &route, t0);
    int cls = resp->status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add(&gw->responses[cls], 1);
    cq_gateway_observe(gw, route, cls, (double)(cq_gateway_now_ns() - t0) / 1e9);
    cq_log_ctx_set(NULL);
}

void cq_gateway_handle_admin(void *opaque, const cq_http_req_t *req, cq_http_resp_t *resp)
{
    cq_gateway_t *gw = opaque;
    if (!cq_gateway_service(gw, req, resp, true, NULL))
        cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND,
                             "This listener serves health and metrics only", NULL);
}
