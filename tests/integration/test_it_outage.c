/*
 * Integration: the gateway when Redis goes away and comes back. It must
 * answer clear 503s with Retry-After (never hang, never crash), say so on
 * /health/ready, and serve again once Redis is back, without a restart.
 * The test runs its own redis-server so the shared one stays up.
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
#include <sys/wait.h>
#include <unistd.h>

#include "cq_it.h"

static cq_it_stack_t stack;
static cq_it_proc_t redis;

#define BODY                                                                                       \
    "{\"goalIntent\": \"Grow recurring revenue with maintenance plans\","                          \
    " \"strategies\": [\"Sell plans at handover\"], \"kpis\": [\"Plan attach rate\"],"             \
    " \"businessFoundation\": {\"vision\": \"Clean energy in every home\","                        \
    " \"purpose\": \"Make solar simple\", \"coreValues\": [\"Integrity\"]}}"

static const char *const json_h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-o",
                                     NULL};

static bool redis_start(void)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", stack.redis_port);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    redis.pid = pid;
    cq_strlcpy(redis.name, "redis-server", sizeof(redis.name));
    usleep(300 * 1000);
    return true;
}

static cq_it_resp_t call(const char *method, const char *path, const char *const *h,
                         const char *body)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", stack.base, path);
    return cq_it_http(method, url, h, body, body ? strlen(body) : 0);
}

static void test_it_outage_redis_down_and_back(void **state)
{
    /* Up: a job goes through. */
    const char *const async_h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-o",
                                   "Prefer: respond-async", NULL};
    cq_it_resp_t r = call("POST", "/coaching/alignment-check", async_h, BODY);
    assert_int_equal(r.status, 202);
    cq_it_resp_free(&r);

    cq_it_stop(&redis, SIGKILL);
    int64_t t0 = cq_mono_ms();
    r = call("POST", "/coaching/alignment-check", json_h, BODY);
    assert_int_equal(r.status, 503);
    assert_string_equal(json_string_value(cq_it_get(r.json, "code")), "REDIS_UNAVAILABLE");
    char retry[16];
    assert_true(cq_it_header(&r, "Retry-After", retry, sizeof(retry)));
    cq_it_resp_free(&r);
    assert_true(cq_mono_ms() - t0 < 20000); /* an answer, not a hang */

    r = call("GET", "/health/ready", NULL, NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(json_string_value(cq_it_get(r.json, "status")), "unavailable");
    assert_string_equal(json_string_value(cq_it_get(r.json, "checks.redis.status")), "down");
    cq_it_resp_free(&r);

    r = call("GET", "/jobs/01920f3e-7c1a-7b3e-9f2d-5a6b7c8d9e0f", json_h, NULL);
    assert_int_equal(r.status, 503);
    cq_it_resp_free(&r);

    /* Back: the same gateway serves again. */
    assert_true(redis_start());
    int status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        r = call("GET", "/health/ready", NULL, NULL);
        status = (int)r.status;
        cq_it_resp_free(&r);
        if (status != 200)
            usleep(200 * 1000);
    }
    assert_int_equal(status, 200);
    r = call("POST", "/coaching/alignment-check", json_h, BODY);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(cq_it_get(r.json, "success")));
    cq_it_resp_free(&r);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "outage");
    stack.redis_port = cq_it_free_port(); /* our own Redis, not the shared one */
    if (!redis_start())
        return -1;
    if (!cq_it_start_worker(&stack, "alignment", NULL))
        return -1;
    const char *gw[] = {"redis.timeout=1s", NULL};
    return cq_it_start_gateway(&stack, gw) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    cq_it_stop(&redis, SIGTERM);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_outage_redis_down_and_back),
    };
    return cmocka_run_group_tests_name("integration.outage", tests, setup, teardown);
}
