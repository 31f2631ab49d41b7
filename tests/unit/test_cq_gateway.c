/*
 * Unit tests of the gateway's dispatcher on requests answered before any
 * service is touched: routing, auth, content checks, JSON and schema errors.
 * The gateway context has a contract and a config but no Redis or Kafka, so
 * a request that wrongly reached them would crash here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cq_gateway.h"

static cq_config_t *conf;
static cq_gateway_t gw;
static cq_http_server_t *server;
static int server_port;
static int setup_server(void);

static int setup(void **state)
{
    char err[512];
    conf = cq_config_new();
    cq_config_set(conf, "gateway.dev_auth", "true", err, sizeof(err));
    memset(&gw, 0, sizeof(gw));
    gw.conf = conf;
    gw.contract = cq_contract_new(conf, err, sizeof(err));
    if (!gw.contract) {
        fprintf(stderr, "contract: %s\n", err);
        return -1;
    }
    gw.max_waiters = 10;
    gw.batch_schema = cq_schema_new(cq_contract_document(gw.contract),
                                    "/components/schemas/BatchRequest", err, sizeof(err));
    gw.auth = cq_auth_new(conf, err, sizeof(err));
    cq_gateway_metrics_init(&gw);
    return gw.auth ? setup_server() : -1;
}

static int teardown(void **state)
{
    cq_http_server_destroy(server);
    cq_contract_destroy(gw.contract);
    cq_auth_destroy(gw.auth);
    cq_schema_destroy(gw.batch_schema);
    cq_gateway_metrics_term(&gw);
    cq_config_destroy(conf);
    return 0;
}

typedef struct {
    cq_http_req_t req;
    cq_http_resp_t resp;
    json_t *body;
} call_t;

static void call(call_t *c, const char *method, const char *path, const char *content_type,
                 const char *body, bool tenant)
{
    memset(c, 0, sizeof(*c));
    c->req.method = method;
    c->req.path = path;
    c->req.body = body;
    c->req.body_len = body ? strlen(body) : 0;
    strcpy(c->req.request_id, "test-request");
    if (content_type) {
        c->req.header_names[c->req.header_count] = "Content-Type";
        c->req.header_values[c->req.header_count++] = content_type;
    }
    if (tenant) {
        c->req.header_names[c->req.header_count] = "X-Tenant-Id";
        c->req.header_values[c->req.header_count++] = "tenant-a";
    }
    cq_gateway_handle(&gw, &c->req, &c->resp);
    c->body = json_loadb(c->resp.body, c->resp.body_len, 0, NULL);
}

static void done(call_t *c)
{
    json_decref(c->body);
    cq_http_resp_clear(&c->resp);
}

static const char *code(call_t *c)
{
    return json_string_value(json_object_get(c->body, "code"));
}

static bool has_header(call_t *c, const char *line)
{
    for (size_t i = 0; i < c->resp.header_count; i++)
        if (strcmp(c->resp.header_lines[i], line) == 0)
            return true;
    return false;
}

#define CHECK_PATH "/coaching/api/v1/coaching/alignment-check"

/* The gateway behind its real HTTP layer on a free loopback port, for what
 * only civetweb sees: request lines, header sizes, malformed requests. */
static int setup_server(void)
{
    char err[256];
    cq_http_options_t http = {
        .listen = "127.0.0.1:0", .threads = 4, .queue = 8, .max_body = 1 << 20};
    server = cq_http_server_new(&http, cq_gateway_handle, &gw, err, sizeof(err));
    if (!server) {
        fprintf(stderr, "http: %s\n", err);
        return -1;
    }
    server_port = cq_http_server_port(server);
    return server_port > 0 ? 0 : -1;
}

/* Sends raw bytes and reads the answer until the server closes (5 s at
 * most). Returns a new string: status line, headers and body. */
static char *raw(const char *request, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, request + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer and close before reading it all */
        off += (size_t)n;
    }
    size_t cap = 65536, got = 0;
    char *out = calloc(1, cap + 1);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) <= 0 || got == cap)
            break;
        ssize_t n = recv(fd, out + got, cap - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return out;
}

static int raw_status(const char *answer)
{
    int status = 0;
    return sscanf(answer, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
}

static bool raw_has(const char *answer, const char *text)
{
    return strstr(answer, text) != NULL;
}

/* A 20 KB bearer token reaches the auth module (401 TOKEN_INVALID problem),
 * instead of civetweb's plain-text refusal of a large header. */
static void test_gateway_large_token_is_401_problem(void **state)
{
    size_t tok = 20 * 1024;
    char *request = malloc(tok + 512);
    int n = snprintf(request, 512,
                     "POST " CHECK_PATH " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: 2\r\n"
                     "Authorization: Bearer ");
    memset(request + n, 'A', tok);
    n += (int)tok;
    n += snprintf(request + n, 512, "\r\n\r\n{}");
    char *answer = raw(request, (size_t)n);
    free(request);
    int status = raw_status(answer);
    bool problem = raw_has(answer, "Content-Type: application/problem+json");
    bool invalid = raw_has(answer, "\"code\":\"TOKEN_INVALID\"");
    free(answer);
    assert_int_equal(status, 401);
    assert_true(problem);
    assert_true(invalid);
}

static char *raw_text(const char *request)
{
    return raw(request, strlen(request));
}

/* TRACE (which civetweb refuses itself) and methods nobody knows get 405
 * problem+json with Allow, like a known method on the wrong path. */
static void test_gateway_unknown_methods_are_405_problem(void **state)
{
    static const char *const requests[] = {
        "TRACE " CHECK_PATH " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "TRACE /coaching/api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "BREW /coaching/api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(*requests); i++) {
        char *answer = raw_text(requests[i]);
        int status = raw_status(answer);
        bool problem = raw_has(answer, "Content-Type: application/problem+json");
        bool code = raw_has(answer, "\"code\":\"METHOD_NOT_ALLOWED\"");
        bool allow = raw_has(answer, "\r\nAllow: ");
        if (status != 405 || !problem || !code || !allow)
            fprintf(stderr, "%s -> %s\n", requests[i], answer);
        free(answer);
        assert_int_equal(status, 405);
        assert_true(problem);
        assert_true(code);
        assert_true(allow);
    }
}

/* Requests civetweb refuses before the gateway sees them still get a
 * problem+json answer (status from civetweb, code from the error table). */
static void test_gateway_malformed_requests_get_problem_json(void **state)
{
    static const char *const requests[] = {
        "GET /coaching/api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        "GET /coaching/api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET /coaching/api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        "GET /coaching/api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "\x01\x02\x03 / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(*requests); i++) {
        char *answer = raw_text(requests[i]);
        int status = raw_status(answer);
        bool problem = raw_has(answer, "Content-Type: application/problem+json");
        bool success = raw_has(answer, "\"success\":false");
        if (status < 400 || !problem || !success)
            fprintf(stderr, "request %zu -> [%s]\n", i, answer);
        free(answer);
        assert_true(status >= 400 && status < 600);
        assert_true(problem);
        assert_true(success);
    }
    /* A request head over the limit (civetweb answers 400): a problem, not text. */
    size_t big = 40 * 1024;
    char *request = malloc(big + 256);
    int n = snprintf(request, 256, "GET /coaching/api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(request + n, 'b', big);
    n += (int)big;
    n += snprintf(request + n, 256, "\r\n\r\n");
    char *answer = raw(request, (size_t)n);
    free(request);
    int status = raw_status(answer);
    bool problem = raw_has(answer, "Content-Type: application/problem+json");
    if (!problem)
        fprintf(stderr, "big head -> [%.300s]\n", answer);
    free(answer);
    assert_true(status == 431 || status == 413 || status == 400);
    assert_true(problem);
}

/* Request durations go to a histogram by the contract's path template
 * (never the raw URL, whose ids would make a label set per job) and status
 * class; a path outside the contract is "other". */
static void test_gateway_request_duration_by_route_template(void **state)
{
    call_t c;
    call(&c, "GET", "/coaching/api/v1/jobs/0190f3a2-aaaa-7000-8000-000000000001", NULL, NULL,
         false);
    assert_int_equal(c.resp.status, 401);
    done(&c);
    call(&c, "GET", "/coaching/api/v1/no/such/thing", NULL, NULL, false);
    assert_int_equal(c.resp.status, 404);
    done(&c);
    call(&c, "POST", CHECK_PATH, "text/plain", "x", true);
    assert_int_equal(c.resp.status / 100, 4);
    done(&c);
    call(&c, "GET", "/coaching/api/v1/metrics", NULL, NULL, false);
    assert_int_equal(c.resp.status, 200);
    const char *text = c.resp.body;
    assert_non_null(strstr(text, "# TYPE coachq_gateway_http_request_duration_seconds histogram"));
    assert_non_null(strstr(text, "coachq_gateway_http_request_duration_seconds_count{route=\"/jobs/"
                                 "{id}\",class=\"4xx\"} "));
    assert_non_null(strstr(text,
                           "coachq_gateway_http_request_duration_seconds_count{route=\"other\","
                           "class=\"4xx\"} "));
    assert_non_null(
        strstr(text, "route=\"/coaching/alignment-check\",class=\"4xx\",le=\"+Inf\"} "));
    assert_null(strstr(text, "0190f3a2"));
    /* The counters that were there keep their names. */
    assert_non_null(strstr(text, "coachq_gateway_responses_total{class=\"4xx\"}"));
    done(&c);
}

static void test_gateway_unknown_paths_are_404(void **state)
{
    call_t c;
    call(&c, "GET", "/elsewhere", NULL, NULL, true);
    assert_int_equal(c.resp.status, 404);
    assert_string_equal(code(&c), "NOT_FOUND");
    assert_string_equal(c.resp.content_type, "application/problem+json");
    assert_false(json_is_true(json_object_get(c.body, "success")));
    done(&c);
    call(&c, "POST", "/coaching/api/v1/coaching/nothing-here", "application/json", "{}", true);
    assert_int_equal(c.resp.status, 404);
    done(&c);
    call(&c, "GET", "/coaching/api/v1/jobs/not-a-uuid", NULL, NULL, true);
    assert_int_equal(c.resp.status, 404);
    done(&c);
}

static void test_gateway_wrong_method_is_405_with_allow(void **state)
{
    call_t c;
    call(&c, "GET", CHECK_PATH, NULL, NULL, true);
    assert_int_equal(c.resp.status, 405);
    assert_string_equal(code(&c), "METHOD_NOT_ALLOWED");
    assert_true(has_header(&c, "Allow: POST"));
    done(&c);
    call(&c, "POST", "/coaching/api/v1/health", "application/json", "{}", false);
    assert_int_equal(c.resp.status, 405);
    assert_true(has_header(&c, "Allow: GET, HEAD"));
    done(&c);
}

static void test_gateway_requires_identity(void **state)
{
    call_t c;
    call(&c, "POST", CHECK_PATH, "application/json", "{}", false);
    assert_int_equal(c.resp.status, 401);
    assert_string_equal(code(&c), "TOKEN_MISSING");
    done(&c);
}

static void test_gateway_content_checks(void **state)
{
    call_t c;
    call(&c, "POST", CHECK_PATH, "text/plain", "{}", true);
    assert_int_equal(c.resp.status, 415);
    assert_string_equal(code(&c), "UNSUPPORTED_MEDIA_TYPE");
    done(&c);
    call(&c, "POST", CHECK_PATH, "application/json", "{\"goalIntent\": ", true);
    assert_int_equal(c.resp.status, 400);
    assert_string_equal(code(&c), "MALFORMED_JSON");
    done(&c);
    call(&c, "POST", CHECK_PATH, "application/json", NULL, true);
    assert_int_equal(c.resp.status, 400);
    done(&c);
    /* Deep nesting is refused before the recursive parser sees it. */
    char *deep = calloc(1, 100001);
    memset(deep, '[', 100000);
    call(&c, "POST", CHECK_PATH, "application/json", deep, true);
    assert_int_equal(c.resp.status, 400);
    assert_non_null(strstr(json_string_value(json_object_get(c.body, "detail")), "nested"));
    done(&c);
    call(&c, "POST", "/coaching/api/v1/jobs/batch", "application/json", deep, true);
    assert_int_equal(c.resp.status, 400);
    done(&c);
    free(deep);
}

static void test_gateway_validation_lists_every_violation(void **state)
{
    call_t c;
    call(&c, "POST", CHECK_PATH, "application/json; charset=utf-8",
         "{\"goalIntent\": 5, \"strategies\": [\"a\", 7], \"kpis\": [],"
         " \"businessFoundation\": {\"vision\": \"v\", \"coreValues\": []}, \"extra\": 1}",
         true);
    assert_int_equal(c.resp.status, 422);
    assert_string_equal(code(&c), "VALIDATION_ERROR");
    json_t *errors = json_object_get(c.body, "errors");
    assert_true(json_array_size(errors) >= 4);
    bool goal = false, strat = false, extra = false, purpose = false;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        goal |= strcmp(path, "/goalIntent") == 0;
        strat |= strcmp(path, "/strategies/1") == 0;
        extra |= strcmp(path, "/extra") == 0;
        purpose |= strcmp(path, "/businessFoundation") == 0 &&
                   strstr(json_string_value(json_object_get(e, "message")), "purpose");
    }
    assert_true(goal);
    assert_true(strat);
    assert_true(extra);
    assert_true(purpose);
    done(&c);
}

static void test_gateway_serves_its_contract(void **state)
{
    call_t c;
    call(&c, "GET", "/coaching/api/v1/openapi.json", NULL, NULL, false);
    assert_int_equal(c.resp.status, 200);
    assert_non_null(json_object_get(json_object_get(c.body, "paths"), "/coaching/alignment-check"));
    done(&c);
    call(&c, "GET", "/coaching/api/v1/health", NULL, NULL, false);
    assert_int_equal(c.resp.status, 200);
    assert_string_equal(json_string_value(json_object_get(c.body, "status")), "ok");
    done(&c);
}

/* A producer that failed for good makes /health (the liveness probe) and
 * /health/ready answer 503, so a supervisor restarts the gateway instead of
 * it refusing every job while it looks alive. */
static void test_gateway_health_fails_with_a_failed_producer(void **state)
{
    char err[512];
    cq_config_t *kconf = cq_config_new();
    cq_config_set(kconf, "kafka.bootstrap.servers", "127.0.0.1:1", err, sizeof(err));
    cq_config_set(kconf, "log.level", "error", err, sizeof(err));
    gw.producer = cq_kafka_producer_new_bounded(kconf, 1500, err, sizeof(err));
    assert_non_null(gw.producer);
    cq_kafka_producer_fail_for_test(gw.producer, "sequence lost");
    call_t c;
    call(&c, "GET", "/coaching/api/v1/health", NULL, NULL, false);
    assert_int_equal(c.resp.status, 503);
    assert_string_equal(json_string_value(json_object_get(c.body, "status")), "failed");
    done(&c);
    call(&c, "GET", "/coaching/api/v1/health/ready", NULL, NULL, false);
    assert_int_equal(c.resp.status, 503);
    json_t *kafka = json_object_get(json_object_get(c.body, "checks"), "kafka");
    assert_non_null(strstr(json_string_value(json_object_get(kafka, "detail")), "failed for good"));
    done(&c);
    cq_kafka_producer_destroy(gw.producer, 0);
    gw.producer = NULL;
    cq_config_destroy(kconf);
}

static void test_gateway_deprecated_operation_says_so(void **state)
{
    call_t c;
    call(&c, "POST", "/coaching/api/v1/analysis/operations", "application/json", "{}", true);
    assert_int_equal(c.resp.status, 422);
    assert_true(has_header(&c, "Deprecation: @1767225600"));
    assert_true(has_header(&c, "Sunset: Wed, 30 Jun 2027 23:59:59 GMT"));
    bool link = false;
    for (size_t i = 0; i < c.resp.header_count; i++)
        link |= strstr(c.resp.header_lines[i],
                       "Link: </coaching/api/v1/operations/"
                       "root-cause-suggestions>; rel=\"successor-version\"") != NULL;
    assert_true(link);
    done(&c);
}

static void test_gateway_query_built_request_is_validated(void **state)
{
    call_t c;
    memset(&c, 0, sizeof(c));
    c.req.method = "POST";
    c.req.path = "/coaching/api/v1/insights/generate";
    c.req.query = "page=0&pageSize=abc&category=nonsense";
    c.req.header_names[0] = "X-Tenant-Id";
    c.req.header_values[0] = "tenant-a";
    c.req.header_count = 1;
    cq_gateway_handle(&gw, &c.req, &c.resp);
    c.body = json_loadb(c.resp.body, c.resp.body_len, 0, NULL);
    assert_int_equal(c.resp.status, 422);
    json_t *errors = json_object_get(c.body, "errors");
    bool page = false, size = false, category = false;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        page |= strcmp(path, "/page") == 0;
        size |= strcmp(path, "/pageSize") == 0;
        category |= strcmp(path, "/category") == 0;
    }
    assert_true(page);
    assert_true(size);
    assert_true(category);
    done(&c);
}

static void test_gateway_enum_lists(void **state)
{
    call_t c;
    call(&c, "GET", "/coaching/api/v1/insights/categories", NULL, NULL, true);
    assert_int_equal(c.resp.status, 200);
    json_t *data = json_object_get(c.body, "data");
    assert_int_equal(json_array_size(data), 6);
    assert_string_equal(json_string_value(json_array_get(data, 0)), "strategy");
    done(&c);
    call(&c, "GET", "/coaching/api/v1/insights/priorities", NULL, NULL, true);
    assert_int_equal(c.resp.status, 200);
    assert_int_equal(json_array_size(json_object_get(c.body, "data")), 4);
    done(&c);
    call(&c, "GET", "/coaching/api/v1/insights/priorities", NULL, NULL, false);
    assert_int_equal(c.resp.status, 401);
    done(&c);
    call(&c, "POST", "/coaching/api/v1/insights/categories", "application/json", "{}", true);
    assert_int_equal(c.resp.status, 405);
    done(&c);
}

static void test_gateway_batch_rejected_whole_with_every_problem(void **state)
{
    call_t c;
    call(&c, "POST", "/coaching/api/v1/jobs/batch", "application/json",
         "[{\"customId\": \"a\", \"operation\": \"alignment-check\", \"body\": {}},"
         " {\"customId\": \"a\", \"operation\": \"no-such-thing\", \"body\": {}},"
         " {\"customId\": \"c\", \"operation\": \"onboarding-suggestions\","
         "  \"body\": {\"kind\": \"niche\"}}]",
         true);
    assert_int_equal(c.resp.status, 422);
    json_t *errors = json_object_get(c.body, "errors");
    bool body = false, dup = false, op = false;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        body |= strcmp(path, "/0/body") == 0;
        dup |= strcmp(path, "/1/customId") == 0;
        op |= strcmp(path, "/1/operation") == 0;
    }
    assert_true(body);
    assert_true(dup);
    assert_true(op);
    done(&c);
    /* JSON Lines: a broken line is named */
    call(&c, "POST", "/coaching/api/v1/jobs/batch", "application/x-ndjson",
         "{\"customId\": \"a\", \"operation\": \"alignment-check\", \"body\": {}}\n{oops\n", true);
    assert_int_equal(c.resp.status, 400);
    assert_non_null(strstr(json_string_value(json_object_get(c.body, "detail")), "line 2"));
    done(&c);
    call(&c, "POST", "/coaching/api/v1/jobs/batch", "text/csv", "a,b", true);
    assert_int_equal(c.resp.status, 415);
    done(&c);
    call(&c, "POST", "/coaching/api/v1/jobs/batch", "application/json", "[]", true);
    assert_int_equal(c.resp.status, 422); /* minItems 1 */
    done(&c);
    call(&c, "GET", "/coaching/api/v1/jobs/batch", NULL, NULL, true);
    assert_int_equal(c.resp.status, 405);
    done(&c);
}

static void test_gateway_prefer_parsing(void **state)
{
    cq_http_req_t req;
    memset(&req, 0, sizeof(req));
    req.header_names[0] = "Prefer";
    req.header_count = 1;
    bool async = false;
    int64_t wait = 25000;
    req.header_values[0] = "respond-async";
    cq_gateway_parse_prefer(&gw, &req, &async, &wait);
    assert_true(async);
    async = false;
    req.header_values[0] = "wait=5";
    cq_gateway_parse_prefer(&gw, &req, &async, &wait);
    assert_false(async);
    assert_int_equal(wait, 5000);
    req.header_values[0] = "wait=100000"; /* bounded by gateway.max_wait */
    cq_gateway_parse_prefer(&gw, &req, &async, &wait);
    assert_int_equal(wait, conf->gateway_max_wait);
    wait = 1;
    req.header_values[0] = "wait=abc";
    cq_gateway_parse_prefer(&gw, &req, &async, &wait);
    assert_int_equal(wait, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_unknown_paths_are_404),
        cmocka_unit_test(test_gateway_request_duration_by_route_template),
        cmocka_unit_test(test_gateway_wrong_method_is_405_with_allow),
        cmocka_unit_test(test_gateway_requires_identity),
        cmocka_unit_test(test_gateway_content_checks),
        cmocka_unit_test(test_gateway_validation_lists_every_violation),
        cmocka_unit_test(test_gateway_serves_its_contract),
        cmocka_unit_test(test_gateway_health_fails_with_a_failed_producer),
        cmocka_unit_test(test_gateway_deprecated_operation_says_so),
        cmocka_unit_test(test_gateway_query_built_request_is_validated),
        cmocka_unit_test(test_gateway_enum_lists),
        cmocka_unit_test(test_gateway_batch_rejected_whole_with_every_problem),
        cmocka_unit_test(test_gateway_prefer_parsing),
        cmocka_unit_test(test_gateway_large_token_is_401_problem),
        cmocka_unit_test(test_gateway_unknown_methods_are_405_problem),
        cmocka_unit_test(test_gateway_malformed_requests_get_problem_json),
    };
    return cmocka_run_group_tests_name("gateway", tests, setup, teardown);
}
