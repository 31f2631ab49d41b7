/*
 * test_cq_store.c — the job store without a Redis: status names, records,
 * config checks, argument checks, and that every call fails with
 * CQ_ERR_REDIS_UNAVAILABLE in bounded time when nothing (or a mute server)
 * listens on the port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cq_store.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A loopback TCP socket bound to a free port; listening or not. */
static int bound_socket(bool listening, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (listening)
        assert_int_equal(listen(fd, 64), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static cq_config_t *config_for_port(int port, const char *timeout)
{
    cq_config_t *conf = cq_config_new();
    char errstr[256], buf[16];
    snprintf(buf, sizeof(buf), "%d", port);
    assert_int_equal(cq_config_set(conf, "redis.port", buf, errstr, sizeof(errstr)), CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "redis.timeout", timeout, errstr, sizeof(errstr)),
                     CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "redis.pool_size", "2", errstr, sizeof(errstr)),
                     CQ_ERR_OK);
    return conf;
}

static void test_store_status_names(void **state)
{
    static const char *const names[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    for (int i = 0; i < 5; i++) {
        cq_job_status_t s = (cq_job_status_t)99;
        assert_string_equal(cq_job_status_name((cq_job_status_t)i), names[i]);
        assert_true(cq_job_status_parse(names[i], &s));
        assert_int_equal(s, i);
    }
    assert_string_equal(cq_job_status_name((cq_job_status_t)99), "unknown");
    cq_job_status_t s = CQ_JOB_FAILED;
    assert_false(cq_job_status_parse("Queued", &s));
    assert_false(cq_job_status_parse("", &s));
    assert_false(cq_job_status_parse(NULL, &s));
    assert_false(cq_job_status_parse("queued ", &s));
    assert_int_equal(s, CQ_JOB_FAILED);
}

static void test_store_status_terminal(void **state)
{
    assert_false(cq_job_status_terminal(CQ_JOB_QUEUED));
    assert_false(cq_job_status_terminal(CQ_JOB_RUNNING));
    assert_true(cq_job_status_terminal(CQ_JOB_SUCCEEDED));
    assert_true(cq_job_status_terminal(CQ_JOB_FAILED));
    assert_true(cq_job_status_terminal(CQ_JOB_CANCELLED));
}

static void test_store_record_clear(void **state)
{
    cq_job_record_t job = {
        .job_id = cq_strdup("j"),
        .tenant_id = cq_strdup("t"),
        .user_id = cq_strdup("u"),
        .operation = cq_strdup("o"),
        .kind = cq_strdup("k"),
        .batch_id = cq_strdup("b"),
        .custom_id = cq_strdup("c"),
        .status = CQ_JOB_FAILED,
        .created_at = 1,
        .started_at = 2,
        .finished_at = 3,
        .attempts = 4,
        .engine = cq_strdup("{}"),
        .result = cq_strdup("{}"),
        .error_code = cq_strdup("E"),
        .error_message = cq_strdup("m"),
    };
    cq_job_record_t zero;
    memset(&zero, 0, sizeof(zero));
    cq_job_record_clear(&job); /* ASan reports any string left behind */
    assert_memory_equal(&job, &zero, sizeof(job));
    cq_job_record_clear(&job);
    cq_job_record_clear(NULL);
}

static void test_store_new_rejects_bad_config(void **state)
{
    char errstr[256];
    errstr[0] = '\0';
    assert_null(cq_store_new(NULL, errstr, sizeof(errstr)));
    assert_true(errstr[0] != '\0');

    static const char *const cases[] = {"empty host", "port", "pool size", "timeout", "prefix"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cq_config_t *conf = cq_config_new();
        switch (i) {
        case 0:
            free(conf->redis_host);
            conf->redis_host = cq_strdup("");
            break;
        case 1:
            conf->redis_port = 70000;
            break;
        case 2:
            conf->redis_pool_size = 0;
            break;
        case 3:
            conf->redis_timeout = 0;
            break;
        case 4:
            free(conf->redis_prefix);
            conf->redis_prefix = NULL;
            break;
        }
        errstr[0] = '\0';
        cq_store_t *store = cq_store_new(conf, errstr, sizeof(errstr));
        if (store)
            fail_msg("config with bad %s accepted", cases[i]);
        assert_true(errstr[0] != '\0');
        cq_config_destroy(conf);
    }

    /* A good config makes a store without connecting (nothing listens on 6379 here
     * or, if something does, nothing is sent). */
    cq_config_t *conf = cq_config_new();
    cq_store_t *store = cq_store_new(conf, errstr, sizeof(errstr));
    cq_config_destroy(conf); /* the store keeps copies */
    assert_non_null(store);
    cq_store_destroy(store);
    cq_store_destroy(NULL);
}

static void test_store_rejects_bad_arguments(void **state)
{
    int port;
    int fd = bound_socket(false, &port);
    cq_config_t *conf = config_for_port(port, "200ms");
    char errstr[256];
    cq_store_t *store = cq_store_new(conf, errstr, sizeof(errstr));
    assert_non_null(store);
    cq_job_record_t out = {0};
    char *value = (char *)"untouched";

    cq_job_record_t no_tenant = {.job_id = (char *)"j", .operation = (char *)"op"};
    assert_int_equal(cq_store_create(store, &no_tenant), CQ_ERR_BAD_REQUEST);
    assert_int_equal(cq_store_claim(store, &no_tenant, &out), CQ_ERR_BAD_REQUEST);
    cq_job_record_t negative = {
        .job_id = (char *)"j", .tenant_id = (char *)"t", .operation = (char *)"op", .attempts = -1};
    assert_int_equal(cq_store_create(store, &negative), CQ_ERR_BAD_REQUEST);
    assert_int_equal(cq_store_claim(store, &negative, &out), CQ_ERR_BAD_REQUEST);
    assert_int_equal(cq_store_create(store, NULL), CQ_ERR_INTERNAL_ERROR);
    assert_int_equal(cq_store_get(store, NULL, &out), CQ_ERR_INTERNAL_ERROR);
    assert_int_equal(cq_store_get(store, "", &out), CQ_ERR_NOT_FOUND);
    assert_int_equal(cq_store_finish(store, "j", CQ_JOB_RUNNING, NULL, NULL, NULL, NULL, NULL),
                     CQ_ERR_INTERNAL_ERROR);
    assert_int_equal(cq_store_cache_set(store, "k", "v", 0), CQ_ERR_INTERNAL_ERROR);
    assert_int_equal(cq_store_cache_get(store, NULL, &value), CQ_ERR_INTERNAL_ERROR);
    assert_null(value);
    assert_int_equal(cq_store_ping(NULL), CQ_ERR_INTERNAL_ERROR);

    cq_store_destroy(store);
    cq_config_destroy(conf);
    close(fd);
}

/* Runs every call against a store whose Redis cannot answer; each must give
 * CQ_ERR_REDIS_UNAVAILABLE within max_ms. */
static void expect_all_unavailable(cq_store_t *store, int64_t max_ms)
{
    cq_job_record_t job = {
        .job_id = (char *)"job-1", .tenant_id = (char *)"tenant", .operation = (char *)"op"};
    cq_job_record_t out = {0};
    char *value = NULL;
    int64_t t0;
#define EXPECT_UNAVAILABLE(call)                                                                   \
    do {                                                                                           \
        t0 = cq_mono_ms();                                                                         \
        assert_int_equal((call), CQ_ERR_REDIS_UNAVAILABLE);                                        \
        if (cq_mono_ms() - t0 > max_ms)                                                            \
            fail_msg("%s took %lld ms", #call, (long long)(cq_mono_ms() - t0));                    \
    } while (0)
    EXPECT_UNAVAILABLE(cq_store_ping(store));
    EXPECT_UNAVAILABLE(cq_store_create(store, &job));
    EXPECT_UNAVAILABLE(cq_store_get(store, "job-1", &out));
    EXPECT_UNAVAILABLE(cq_store_claim(store, &job, &out));
    EXPECT_UNAVAILABLE(cq_store_requeue(store, "job-1", "E", "m"));
    EXPECT_UNAVAILABLE(
        cq_store_finish(store, "job-1", CQ_JOB_SUCCEEDED, "{}", "{}", NULL, NULL, NULL));
    EXPECT_UNAVAILABLE(cq_store_cancel(store, "job-1", "tenant", &out));
    EXPECT_UNAVAILABLE(cq_store_idempotency(store, "tenant", "key", "hash", "job-1", &value));
    assert_null(value);
    EXPECT_UNAVAILABLE(cq_store_idempotency_release(store, "tenant", "key", "job-1"));
    EXPECT_UNAVAILABLE(cq_store_cache_set(store, "k", "v", 1000));
    EXPECT_UNAVAILABLE(cq_store_cache_get(store, "k", &value));
    assert_null(value);
    EXPECT_UNAVAILABLE(cq_store_wait(store, "job-1", 5000, &out));
    EXPECT_UNAVAILABLE(cq_store_wait(store, "job-1", INT64_MAX, &out));
#undef EXPECT_UNAVAILABLE
    cq_job_record_clear(&out);
}

static void test_store_unavailable_when_refused(void **state)
{
    int port;
    int fd = bound_socket(false, &port); /* bound, not listening: connections are refused */
    cq_config_t *conf = config_for_port(port, "2s");
    char errstr[256];
    cq_store_t *store = cq_store_new(conf, errstr, sizeof(errstr));
    assert_non_null(store);
    /* Refused connections fail at once, far below redis.timeout. */
    expect_all_unavailable(store, 500);
    /* The subscriber thread is retrying with backoff; destroy still stops it at once. */
    int64_t t0 = cq_mono_ms();
    cq_store_destroy(store);
    assert_true(cq_mono_ms() - t0 < 500);
    cq_config_destroy(conf);
    close(fd);
}

static void test_store_unavailable_when_server_mute(void **state)
{
    int port;
    int fd = bound_socket(true, &port); /* listening, never accepting nor answering */
    cq_config_t *conf = config_for_port(port, "150ms");
    char errstr[256];
    cq_store_t *store = cq_store_new(conf, errstr, sizeof(errstr));
    assert_non_null(store);
    /* Connect (<= 150 ms) plus one command (<= 150 ms), with room for a slow machine. */
    expect_all_unavailable(store, 1000);
    int64_t t0 = cq_mono_ms();
    cq_store_destroy(store);
    assert_true(cq_mono_ms() - t0 < 1000);
    cq_config_destroy(conf);
    close(fd);
}

/* Accepts one connection, closes its sending side (FIN), lets the client's big
 * command fill the buffers, then closes with unread data (RST). A client still
 * writing then gets EPIPE, which raises SIGPIPE. */
static void *resetting_server(void *arg)
{
    int fd = *(int *)arg;
    int conn = accept(fd, NULL, NULL);
    if (conn < 0)
        return NULL;
    shutdown(conn, SHUT_WR);
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    close(conn);
    return NULL;
}

static void test_store_survives_peer_reset(void **state)
{
    /* Writing to a reset connection raises SIGPIPE, whose default action would kill
     * this process; the store must turn it into CQ_ERR_REDIS_UNAVAILABLE. */
    int port;
    int fd = bound_socket(true, &port);
    pthread_t server;
    assert_int_equal(pthread_create(&server, NULL, resetting_server, &fd), 0);
    cq_config_t *conf = config_for_port(port, "2s");
    char errstr[256];
    cq_store_t *store = cq_store_new(conf, errstr, sizeof(errstr));
    assert_non_null(store);
    size_t size = 32u << 20;
    char *big = cq_malloc(size + 1);
    memset(big, 'x', size);
    big[size] = '\0';
    assert_int_equal(cq_store_cache_set(store, "big", big, 1000), CQ_ERR_REDIS_UNAVAILABLE);
    free(big);
    pthread_join(server, NULL);
    cq_store_destroy(store);
    cq_config_destroy(conf);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_status_names),
        cmocka_unit_test(test_store_status_terminal),
        cmocka_unit_test(test_store_record_clear),
        cmocka_unit_test(test_store_new_rejects_bad_config),
        cmocka_unit_test(test_store_rejects_bad_arguments),
        cmocka_unit_test(test_store_unavailable_when_refused),
        cmocka_unit_test(test_store_unavailable_when_server_mute),
        cmocka_unit_test(test_store_survives_peer_reset),
    };
    return cmocka_run_group_tests_name("cq_store", tests, NULL, NULL);
}
