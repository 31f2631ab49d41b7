/*
 * Integration: what operators see of a running gateway and workers (the
 * alignment worker against the fake LLM, the business-data worker against
 * the fake upstream), with the real Kafka broker and Redis: a client's
 * traceparent reaches the LLM and the upstream services with the same trace
 * id (and spans of their own), the logs are JSON lines carrying the job's
 * id, tenant, operation and trace id, the new histograms and the consumer
 * lag are on /metrics, and every metric the Grafana dashboard
 * (deploy/grafana/coachq.json) queries is one the programs export.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cq_it.h"

#define TRACE_ID    "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT_SPAN "00f067aa0ba902b7"
#define TRACEPARENT "00-" TRACE_ID "-" PARENT_SPAN "-01"

static cq_it_stack_t stack, bd_stack; /* bd_stack: the same names, its own worker */
static cq_it_proc_t llm, upstream;
static int llm_port, upstream_port, align_metrics, bd_metrics;

#define BODY                                                                                       \
    "{\"goalIntent\": \"Grow recurring revenue from maintenance plans\","                          \
    " \"strategies\": [\"Sell plans at handover\"], \"kpis\": [\"Plan attach rate\"],"             \
    " \"businessFoundation\": {\"vision\": \"Clean energy in every home\","                        \
    " \"purpose\": \"Make solar simple\", \"coreValues\": [\"Integrity\"]}}"

static const char *str(json_t *root, const char *path)
{
    const char *s = json_string_value(cq_it_get(root, path));
    return s ? s : "";
}

/* The traceparent a fake received last, checked to continue our trace with
 * a span of its own. */
static void assert_continues_trace(int port, const char *route)
{
    json_t *calls = cq_it_fake_requests(port);
    assert_non_null(calls);
    size_t n = json_array_size(calls), seen = 0;
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        json_t *call = json_array_get(calls, i);
        if (route && strcmp(str(call, "route"), route) != 0)
            continue;
        const char *tp = str(call, "headers.traceparent");
        if (strlen(tp) != 55 || strncmp(tp, "00-" TRACE_ID "-", 36) != 0)
            fail_msg("call %zu to %s carried traceparent \"%s\"", i, str(call, "path"), tp);
        assert_memory_not_equal(tp + 36, PARENT_SPAN, 16); /* its own span */
        seen++;
    }
    assert_true(seen > 0);
    json_decref(calls);
}

/* The log lines of a program of the stack, parsed; every line must be a
 * JSON object (log.format=auto, and the log is a file). */
static json_t *log_lines(const char *program)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s-%s.log", stack.log_dir, stack.prefix, program);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    json_t *lines = json_array();
    char line[16384];
    while (fgets(line, sizeof(line), fp)) {
        if (line[0] != '{')
            continue; /* a library writing to stderr on its own, not our logger */
        json_error_t err;
        json_t *obj = json_loads(line, 0, &err);
        if (!json_is_object(obj))
            fail_msg("%s: not a JSON line (%s): %s", path, err.text, line);
        json_array_append_new(lines, obj);
    }
    fclose(fp);
    return lines;
}

/* The first log line of program whose fields match (NULL-terminated
 * name/value pairs), waiting up to 5 s for it; NULL if none. */
static json_t *find_log(const char *program, ...)
{
    for (int tries = 0; tries < 50; tries++) {
        json_t *lines = log_lines(program);
        size_t i;
        json_t *obj;
        json_array_foreach(lines, i, obj)
        {
            va_list ap;
            va_start(ap, program);
            bool all = true;
            for (const char *k; (k = va_arg(ap, const char *));) {
                const char *v = va_arg(ap, const char *);
                all &= strcmp(str(obj, k), v) == 0;
            }
            va_end(ap);
            if (all) {
                json_incref(obj);
                json_decref(lines);
                return obj;
            }
        }
        json_decref(lines);
        usleep(100 * 1000);
    }
    return NULL;
}

static void test_it_obs_traceparent_reaches_the_llm_and_the_logs(void **state)
{
    assert_true(cq_it_fake_reset(llm_port));
    char url[256];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", stack.base);
    const char *headers[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-obs",
                             "Prefer: wait=40", "traceparent: " TRACEPARENT, NULL};
    cq_it_resp_t r = cq_it_http("POST", url, headers, BODY, strlen(BODY));
    assert_int_equal(r.status, 200);
    char job_id[64] = "";
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);
    assert_continues_trace(llm_port, "openai");

    /* The worker's lines about the job carry its identity and the trace. */
    json_t *done = find_log("coachq-alignment-worker", "job_id", job_id, "msg",
                            "alignment-check succeeded", NULL);
    if (!done)
        fail_msg("no JSON log line of job %s saying it succeeded", job_id);
    assert_string_equal(str(done, "trace_id"), TRACE_ID);
    assert_string_equal(str(done, "tenant"), "tenant-obs");
    assert_string_equal(str(done, "operation"), "alignment-check");
    assert_string_equal(str(done, "level"), "info");
    assert_string_equal(str(done, "component"), "worker");
    assert_int_equal(strlen(str(done, "time")), 24);
    assert_null(json_object_get(done, "request_id")); /* a worker has no request */
    json_decref(done);
    /* The gateway's log is JSON lines too. */
    json_t *lines = log_lines("coachq-gateway");
    assert_true(json_array_size(lines) > 0);
    json_decref(lines);

    /* A request without traceparent starts a trace of its own, sent on too. */
    assert_true(cq_it_fake_reset(llm_port));
    const char *plain[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-obs",
                           "Prefer: wait=40", NULL};
    r = cq_it_http("POST", url, plain, BODY, strlen(BODY));
    assert_int_equal(r.status, 200);
    cq_it_resp_free(&r);
    json_t *calls = cq_it_fake_requests(llm_port);
    const char *tp = str(json_array_get(calls, 0), "headers.traceparent");
    assert_int_equal(strlen(tp), 55);
    assert_memory_not_equal(tp + 3, TRACE_ID, 32);
    json_decref(calls);
}

/* A job that fails logs why with its error code as a field of its own. */
static void test_it_obs_failed_job_logs_its_error_code(void **state)
{
    assert_true(cq_it_fake_reset(llm_port));
    assert_true(cq_it_fake_script(llm_port, "{\"then\": {\"kind\": \"status\", \"code\": 400}}"));
    char url[256];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", stack.base);
    const char *headers[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-obs",
                             "Prefer: respond-async", "traceparent: " TRACEPARENT, NULL};
    cq_it_resp_t r = cq_it_http("POST", url, headers, BODY, strlen(BODY));
    assert_int_equal(r.status, 202);
    char job_id[64] = "";
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);
    snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, job_id);
    const char *poll[] = {"X-Tenant-Id: tenant-obs", "Prefer: wait=40", NULL};
    r = cq_it_http("GET", url, poll, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "failed");
    char code[64];
    snprintf(code, sizeof(code), "%s", str(r.json, "error.code"));
    assert_true(*code);
    cq_it_resp_free(&r);
    json_t *line =
        find_log("coachq-alignment-worker", "job_id", job_id, "level", "warn", "code", code, NULL);
    if (!line)
        fail_msg("no warn line of job %s with code %s", job_id, code);
    assert_string_equal(str(line, "trace_id"), TRACE_ID);
    assert_non_null(strstr(str(line, "msg"), "failed"));
    json_decref(line);
    assert_true(cq_it_fake_reset(llm_port));
}

static void test_it_obs_traceparent_reaches_upstream_services(void **state)
{
    assert_true(cq_it_fake_reset(upstream_port));
    char url[256];
    snprintf(url, sizeof(url), "%s/multitenant/conversations/business-data", bd_stack.base);
    const char *headers[] = {"X-Tenant-Id: tenant-obs-bd", "Authorization: Bearer it-token",
                             "traceparent: " TRACEPARENT, NULL};
    cq_it_resp_t r = cq_it_http("GET", url, headers, NULL, 0);
    assert_int_equal(r.status, 200);
    cq_it_resp_free(&r);
    assert_continues_trace(upstream_port, NULL);
}

/* GET of a /metrics page (new string). */
static char *scrape(const char *url)
{
    cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    char *text = strdup(r.body);
    cq_it_resp_free(&r);
    return text;
}

static char *worker_metrics(int port)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    return scrape(url);
}

/* The value of the sample that starts with prefix (name{labels...), -1 if none. */
static double sample(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);
    if (!p)
        return -1;
    const char *sp = strchr(p, ' ');
    return sp ? atof(sp + 1) : -1;
}

/* The sum of the alignment worker's consumer_lag samples; -1 when it shows none. */
static long long lag_sum(void);

/* Jobs consumed but not finished are not committed: they show as lag
 * until they end, then the lag falls back to 0. */
static void test_it_obs_consumer_lag_counts_unfinished_jobs(void **state)
{
    assert_true(cq_it_fake_reset(llm_port));
    assert_true(
        cq_it_fake_script(llm_port, "{\"then\": {\"kind\": \"ok\", \"latency_ms\": 5000}}"));
    char url[256];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", stack.base);
    const char *headers[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-obs-lag",
                             "Prefer: respond-async", NULL};
    for (int i = 0; i < 3; i++) {
        cq_it_resp_t r = cq_it_http("POST", url, headers, BODY, strlen(BODY));
        assert_int_equal(r.status, 202);
        cq_it_resp_free(&r);
    }
    long long most = -1;
    for (int tries = 0; tries < 40 && most < 3; tries++) {
        long long sum = lag_sum();
        if (sum > most)
            most = sum;
        usleep(100 * 1000);
    }
    if (most < 3)
        fail_msg("consumer lag reached %lld with 3 jobs waiting on the LLM", most);
    long long now = -1;
    for (int tries = 0; tries < 150 && now != 0; tries++) {
        now = lag_sum();
        if (now != 0)
            usleep(100 * 1000);
    }
    assert_int_equal(now, 0);
    assert_true(cq_it_fake_reset(llm_port));
}

static long long lag_sum(void)
{
    char *text = worker_metrics(align_metrics);
    long long sum = -1;
    for (const char *p = strstr(text, "\ncoachq_worker_consumer_lag{kind=\"alignment\""); p;
         p = strstr(p + 1, "\ncoachq_worker_consumer_lag{")) {
        sum = (sum < 0 ? 0 : sum) + atoll(strchr(p + 1, ' ') + 1);
    }
    free(text);
    return sum;
}

static void test_it_obs_metrics_and_the_dashboard(void **state)
{
    /* The jobs of the tests before. */
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", stack.base);
    char *gw = scrape(url);
    assert_true(sample(gw, "coachq_gateway_http_request_duration_seconds_count{route=\"/coaching/"
                           "alignment-check\",class=\"2xx\"}") >= 2);
    assert_true(sample(gw,
                       "coachq_gateway_http_request_duration_seconds_bucket{route=\"/multitenant/"
                       "conversations/business-data\",class=\"2xx\",le=\"+Inf\"}") >= 1);
    char *align = worker_metrics(align_metrics);
    assert_true(sample(align,
                       "coachq_worker_job_duration_seconds_count{kind=\"alignment\","
                       "operation=\"alignment-check\",engine=\"llm\",status=\"succeeded\"}") >= 2);
    assert_true(sample(align, "coachq_worker_llm_call_duration_seconds_count{kind=\"alignment\","
                              "provider=\"openai\",outcome=\"ok\"}") >= 2);
    char *bd = worker_metrics(bd_metrics);
    char want[256];
    snprintf(want, sizeof(want),
             "coachq_worker_upstream_call_duration_seconds_count{kind=\"business-data\","
             "destination=\"127.0.0.1:%d\",outcome=\"2xx\"}",
             upstream_port);
    assert_true(sample(bd, want) >= 1);
    assert_true(
        sample(bd, "coachq_worker_job_duration_seconds_count{kind=\"business-data\","
                   "operation=\"business-data\",engine=\"builtin\",status=\"succeeded\"}") >= 1);
    /* The lag of the partitions consumed: statistics come every second here,
     * and with every job done it is 0. */
    bool lag_zero = false;
    for (int tries = 0; tries < 100 && !lag_zero; tries++) {
        free(align);
        align = worker_metrics(align_metrics);
        const char *p = strstr(align, "\ncoachq_worker_consumer_lag{kind=\"alignment\",topic=\"");
        lag_zero = p != NULL;
        for (; p; p = strstr(p + 1, "\ncoachq_worker_consumer_lag{"))
            lag_zero &= atof(strchr(p + 1, ' ') + 1) == 0;
        if (!lag_zero)
            usleep(100 * 1000);
    }
    if (!lag_zero)
        fail_msg("no consumer lag of 0 on the alignment worker's /metrics:\n%s", align);

    /* Every metric the dashboard queries is exported by one of them. */
    char path[512];
    snprintf(path, sizeof(path), "%s/deploy/grafana/coachq.json", getenv("COACHQ_SOURCE_DIR"));
    json_error_t err;
    json_t *dash = json_load_file(path, 0, &err);
    if (!dash)
        fail_msg("%s: %s (line %d)", path, err.text, err.line);
    size_t all_len = strlen(gw) + strlen(align) + strlen(bd);
    char *all = malloc(all_len + 1);
    snprintf(all, all_len + 1, "%s%s%s", gw, align, bd);
    regex_t re;
    assert_int_equal(regcomp(&re, "coachq_[a-z0-9_]+", REG_EXTENDED), 0);
    size_t i, checked = 0, targets = 0;
    json_t *panel;
    json_array_foreach(json_object_get(dash, "panels"), i, panel)
    {
        size_t j;
        json_t *target;
        json_array_foreach(json_object_get(panel, "targets"), j, target)
        {
            const char *expr = str(target, "expr");
            assert_true(*expr);
            targets++;
            regmatch_t m;
            for (const char *p = expr; regexec(&re, p, 1, &m, 0) == 0; p += m.rm_eo) {
                char name[128];
                snprintf(name, sizeof(name), "%.*s", (int)(m.rm_eo - m.rm_so), p + m.rm_so);
                /* A histogram's series are name_bucket, _sum, _count. */
                char type_line[192];
                snprintf(type_line, sizeof(type_line), "# TYPE %s ", name);
                if (!strstr(all, type_line)) {
                    static const char *const suffixes[] = {"_bucket", "_count", "_sum"};
                    for (size_t s = 0; s < 3; s++) {
                        size_t n = strlen(name), k = strlen(suffixes[s]);
                        if (n > k && strcmp(name + n - k, suffixes[s]) == 0) {
                            snprintf(type_line, sizeof(type_line), "# TYPE %.*s histogram",
                                     (int)(n - k), name);
                            break;
                        }
                    }
                }
                if (!strstr(all, type_line))
                    fail_msg("the dashboard's panel \"%s\" queries %s, which no program exports",
                             str(panel, "title"), name);
                checked++;
            }
        }
    }
    assert_true(targets >= 10);
    assert_true(checked >= targets);
    regfree(&re);
    json_decref(dash);
    free(all);
    free(gw);
    free(align);
    free(bd);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "obs");
    if (!cq_it_start_fake("fake_llm.py", &llm, &llm_port) ||
        !cq_it_start_fake("fake_upstream.py", &upstream, &upstream_port))
        return -1;
    char base[128], metrics[96];
    snprintf(base, sizeof(base), "llm.base_url=http://127.0.0.1:%d/v1", llm_port);
    align_metrics = cq_it_free_port();
    snprintf(metrics, sizeof(metrics), "worker.metrics_listen=127.0.0.1:%d", align_metrics);
    const char *align[] = {"llm.provider=openai",
                           base,
                           "llm.api_key=test-key",
                           "llm.model=test-model",
                           metrics,
                           "kafka.statistics.interval.ms=1000",
                           NULL};
    if (!cq_it_start_worker(&stack, "alignment", align))
        return -1;
    bd_stack = stack;
    memset(&bd_stack.worker, 0, sizeof(bd_stack.worker));
    char account[128], traction[128], bd_metrics_opt[96];
    snprintf(account, sizeof(account), "upstream.account.url=http://127.0.0.1:%d", upstream_port);
    snprintf(traction, sizeof(traction), "upstream.traction.url=http://127.0.0.1:%d/",
             upstream_port);
    bd_metrics = cq_it_free_port();
    snprintf(bd_metrics_opt, sizeof(bd_metrics_opt), "worker.metrics_listen=127.0.0.1:%d",
             bd_metrics);
    const char *bd[] = {account, traction, bd_metrics_opt, NULL};
    if (!cq_it_start_worker(&bd_stack, "business-data", bd))
        return -1;
    return cq_it_start_gateway(&stack, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stop(&bd_stack.worker, SIGTERM);
    cq_it_stack_stop(&stack);
    cq_it_stop(&llm, SIGTERM);
    cq_it_stop(&upstream, SIGTERM);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_obs_traceparent_reaches_the_llm_and_the_logs),
        cmocka_unit_test(test_it_obs_failed_job_logs_its_error_code),
        cmocka_unit_test(test_it_obs_traceparent_reaches_upstream_services),
        cmocka_unit_test(test_it_obs_consumer_lag_counts_unfinished_jobs),
        cmocka_unit_test(test_it_obs_metrics_and_the_dashboard),
    };
    return cmocka_run_group_tests_name("integration.observability", tests, setup, teardown);
}
