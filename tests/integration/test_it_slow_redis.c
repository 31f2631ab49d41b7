/*
 * Integration: a worker whose Redis answers slowly keeps its loop moving.
 * The worker reaches Redis through tests/fake/slow_proxy.py, which holds
 * every reply for 400 ms; store calls run off the loop thread, so no loop
 * iteration may take anywhere near that long (the worker's own stall
 * histogram says), and every job still ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cq_it.h"

#define JOBS     12
#define DELAY_MS 400

static cq_it_stack_t stack;
static cq_it_proc_t proxy;
static int metrics_port;

#define BODY                                                                                       \
    "{\"goalIntent\": \"Grow recurring revenue with maintenance plans\","                          \
    " \"strategies\": [\"Sell plans at handover\"], \"kpis\": [\"Plan attach rate\"],"             \
    " \"businessFoundation\": {\"vision\": \"Clean energy in every home\","                        \
    " \"purpose\": \"Make solar simple\", \"coreValues\": [\"Integrity\"]}}"

static double metric(const char *text, const char *name)
{
    const char *p = text;
    size_t n = strlen(name);
    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && (p[n] == '{' || p[n] == ' ')) {
            const char *v = strchr(p, ' ');
            return v ? atof(v + 1) : -1;
        }
        p += n;
    }
    return -1;
}

static void test_it_slow_redis_does_not_stall_the_loop(void **state)
{
    const char *const h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-slow",
                             "Prefer: respond-async", NULL};
    char url[256], ids[JOBS][64];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", stack.base);
    for (int i = 0; i < JOBS; i++) {
        cq_it_resp_t r = cq_it_http("POST", url, h, BODY, strlen(BODY));
        assert_int_equal(r.status, 202);
        assert_true(cq_it_header(&r, "X-Job-Id", ids[i], sizeof(ids[i])));
        cq_it_resp_free(&r);
    }
    const char *const get_h[] = {"X-Tenant-Id: tenant-slow", "Prefer: wait=20", NULL};
    for (int i = 0; i < JOBS; i++) {
        const char *status = "";
        for (int tries = 0; tries < 6 && strcmp(status, "succeeded") != 0; tries++) {
            snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, ids[i]);
            cq_it_resp_t r = cq_it_http("GET", url, get_h, NULL, 0);
            assert_int_equal(r.status, 200);
            status = json_string_value(cq_it_get(r.json, "status"));
            status = strcmp(status ? status : "", "succeeded") == 0 ? "succeeded" : "";
            cq_it_resp_free(&r);
        }
        assert_string_equal(status, "succeeded");
    }

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", metrics_port);
    cq_it_resp_t m = cq_it_http("GET", url, NULL, NULL, 0);
    assert_int_equal(m.status, 200);
    double max = metric(m.body, "coachq_worker_loop_stall_max_seconds");
    double count = metric(m.body, "coachq_worker_loop_stall_seconds_count");
    print_message("longest loop stall %.1f ms over %.0f iterations\n", max * 1000, count);
    assert_true(count > 0);
    assert_true(max >= 0);
    /* Every store call took >= 400 ms; a loop that waited for one would
     * show it here. */
    assert_true(max < DELAY_MS / 2000.0);
    cq_it_resp_free(&m);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "slowredis");
    char target[64], delay[16];
    snprintf(target, sizeof(target), "127.0.0.1:%d", stack.redis_port);
    snprintf(delay, sizeof(delay), "%d", DELAY_MS);
    setenv("SLOWPROXY_TARGET", target, 1);
    setenv("SLOWPROXY_DELAY_MS", delay, 1);
    int proxy_port = 0;
    bool ok = cq_it_start_fake("slow_proxy.py", &proxy, &proxy_port);
    unsetenv("SLOWPROXY_TARGET");
    unsetenv("SLOWPROXY_DELAY_MS");
    if (!ok)
        return -1;
    metrics_port = cq_it_free_port();
    char redis_opt[64], metrics_opt[64];
    snprintf(redis_opt, sizeof(redis_opt), "redis.port=%d", proxy_port);
    snprintf(metrics_opt, sizeof(metrics_opt), "worker.metrics_listen=127.0.0.1:%d", metrics_port);
    const char *worker[] = {redis_opt, "redis.timeout=5s", metrics_opt, NULL};
    if (!cq_it_start_worker(&stack, "alignment", worker))
        return -1;
    return cq_it_start_gateway(&stack, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    cq_it_stop(&proxy, SIGTERM);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_slow_redis_does_not_stall_the_loop),
    };
    return cmocka_run_group_tests_name("integration.slow_redis", tests, setup, teardown);
}
