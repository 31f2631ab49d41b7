/*
 * test_cq_redis.c — the Redis plumbing against a scripted fake server (no
 * Redis): config checks, reply accessors, EVALSHA falling back to EVAL, error
 * replies dropping the connection, and the listener delivering messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cq_redis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A fake server: for each request read on the current connection, sends the next
 * canned answer; the answer "CLOSE" closes the connection and takes the next. All
 * requests are logged, one line per read, into log. */
typedef struct {
    int listen_fd, port;
    const char *const *answers;
    char log[8192];
    size_t log_len;
    int accepts;
    pthread_t thread;
} fake_t;

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    int conn = -1;
    for (size_t i = 0; f->answers[i]; i++) {
        if (conn < 0) {
            if ((conn = accept(f->listen_fd, NULL, NULL)) < 0)
                return NULL;
            f->accepts++;
        }
        if (strcmp(f->answers[i], "CLOSE") == 0) {
            close(conn);
            conn = -1;
            continue;
        }
        if (strncmp(f->answers[i], "PUSH ", 5) != 0) { /* PUSH: send without a request */
            char buf[2048];
            ssize_t n = read(conn, buf, sizeof(buf));
            if (n <= 0)
                break;
            if (f->log_len + (size_t)n + 1 < sizeof(f->log)) {
                memcpy(f->log + f->log_len, buf, (size_t)n);
                f->log_len += (size_t)n;
                f->log[f->log_len++] = '\n';
                f->log[f->log_len] = '\0';
            }
        }
        const char *answer =
            strncmp(f->answers[i], "PUSH ", 5) == 0 ? f->answers[i] + 5 : f->answers[i];
        ssize_t w = write(conn, answer, strlen(answer));
        (void)w;
    }
    /* Keep the last connection open until the client goes away. */
    if (conn >= 0) {
        char buf[256];
        while (read(conn, buf, sizeof(buf)) > 0) {
        }
        close(conn);
    }
    return NULL;
}

static void fake_start(fake_t *f, const char *const *answers)
{
    memset(f, 0, sizeof(*f));
    f->answers = answers;
    f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->listen_fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->listen_fd, 8), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&sa, &len), 0);
    f->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

/* Call after the client is destroyed (its connections closed). */
static void fake_stop(fake_t *f)
{
    shutdown(f->listen_fd, SHUT_RDWR); /* ends an accept() still waiting */
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
}

static cq_redis_t *redis_for(int port)
{
    cq_config_t *conf = cq_config_new();
    char errstr[256], buf[16];
    snprintf(buf, sizeof(buf), "%d", port);
    assert_int_equal(cq_config_set(conf, "redis.port", buf, errstr, sizeof(errstr)), CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "redis.timeout", "1s", errstr, sizeof(errstr)), CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "redis.pool_size", "1", errstr, sizeof(errstr)),
                     CQ_ERR_OK);
    cq_redis_t *redis = cq_redis_new(conf, errstr, sizeof(errstr));
    cq_config_destroy(conf);
    assert_non_null(redis);
    return redis;
}

static cq_err_t command1(cq_redis_t *redis, const char *word, cq_redis_reply_t **reply)
{
    const char *argv[] = {word};
    size_t lens[] = {strlen(word)};
    return cq_redis_command(redis, 1, argv, lens, reply);
}

static void test_redis_new_rejects_bad_config(void **state)
{
    char errstr[256];
    cq_config_t *conf = cq_config_new();
    conf->redis_pool_size = 5000;
    errstr[0] = '\0';
    assert_null(cq_redis_new(conf, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "redis.pool_size"));
    conf->redis_pool_size = 4;
    conf->redis_db = -1;
    assert_null(cq_redis_new(conf, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "redis.db"));
    assert_null(cq_redis_new(NULL, errstr, sizeof(errstr)));
    cq_config_destroy(conf);
    cq_redis_destroy(NULL);
}

static void test_redis_reply_accessors(void **state)
{
    static const char *const answers[] = {"*4\r\n:42\r\n$6\r\nhe\r\nlo\r\n$-1\r\n*1\r\n+OK\r\n",
                                          NULL};
    fake_t f;
    fake_start(&f, answers);
    cq_redis_t *redis = redis_for(f.port);
    cq_redis_reply_t *reply;
    assert_int_equal(command1(redis, "ANY", &reply), CQ_ERR_OK);
    assert_int_equal(cq_redis_reply_type(reply), CQ_REDIS_ARRAY);
    assert_int_equal(cq_redis_reply_count(reply), 4);
    assert_int_equal(cq_redis_reply_type(cq_redis_reply_at(reply, 0)), CQ_REDIS_INTEGER);
    assert_int_equal(cq_redis_reply_integer(cq_redis_reply_at(reply, 0)), 42);
    size_t len;
    const char *str = cq_redis_reply_str(cq_redis_reply_at(reply, 1), &len);
    assert_int_equal(len, 6);
    assert_memory_equal(str, "he\r\nlo", 6); /* lengths, not delimiters */
    assert_int_equal(cq_redis_reply_type(cq_redis_reply_at(reply, 2)), CQ_REDIS_NIL);
    assert_null(cq_redis_reply_str(cq_redis_reply_at(reply, 2), &len));
    const cq_redis_reply_t *inner = cq_redis_reply_at(reply, 3);
    assert_int_equal(cq_redis_reply_count(inner), 1);
    assert_string_equal(cq_redis_reply_str(cq_redis_reply_at(inner, 0), &len), "OK");
    assert_int_equal(cq_redis_reply_integer(inner), 0);
    assert_int_equal(cq_redis_reply_count(cq_redis_reply_at(reply, 0)), 0);
    cq_redis_reply_free(reply);
    cq_redis_destroy(redis);
    fake_stop(&f);
}

static void test_redis_script_falls_back_to_eval(void **state)
{
    static const char *const answers[] = {"-NOSCRIPT No matching script\r\n", ":7\r\n", ":8\r\n",
                                          NULL};
    fake_t f;
    fake_start(&f, answers);
    cq_redis_t *redis = redis_for(f.port);
    cq_redis_script_t script;
    cq_redis_script_init(&script, "return 7");
    /* SHA1("return 7"), as Redis computes it for EVALSHA. */
    assert_int_equal(strlen(script.sha), 40);
    const char *argv[] = {"key", "arg"};
    size_t lens[] = {3, 3};
    cq_redis_reply_t *reply;
    assert_int_equal(cq_redis_script(redis, &script, 1, 2, argv, lens, &reply), CQ_ERR_OK);
    assert_int_equal(cq_redis_reply_integer(reply), 7);
    cq_redis_reply_free(reply);
    /* The same connection served both (NOSCRIPT is not a connection error). */
    assert_int_equal(cq_redis_script(redis, &script, 1, 2, argv, lens, &reply), CQ_ERR_OK);
    assert_int_equal(cq_redis_reply_integer(reply), 8);
    cq_redis_reply_free(reply);
    cq_redis_destroy(redis);
    fake_stop(&f);
    assert_int_equal(f.accepts, 1);
    char expect[256];
    snprintf(expect, sizeof(expect),
             "*5\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n$1\r\n1\r\n$3\r\nkey\r\n$3\r\narg\r\n\n"
             "*5\r\n$4\r\nEVAL\r\n$8\r\nreturn 7\r\n$1\r\n1\r\n$3\r\nkey\r\n$3\r\narg\r\n\n",
             script.sha);
    assert_true(strncmp(f.log, expect, strlen(expect)) == 0);
}

static void test_redis_error_reply_drops_connection(void **state)
{
    static const char *const answers[] = {"-READONLY You can't write against a replica\r\n",
                                          "CLOSE", "+PONG\r\n", NULL};
    fake_t f;
    fake_start(&f, answers);
    cq_redis_t *redis = redis_for(f.port);
    cq_redis_reply_t *reply = (cq_redis_reply_t *)&f; /* must be reset to NULL */
    assert_int_equal(command1(redis, "SET", &reply), CQ_ERR_REDIS_UNAVAILABLE);
    assert_null(reply);
    assert_int_equal(command1(redis, "PING", &reply), CQ_ERR_OK);
    size_t len;
    assert_string_equal(cq_redis_reply_str(reply, &len), "PONG");
    cq_redis_reply_free(reply);
    cq_redis_destroy(redis);
    fake_stop(&f);
    assert_int_equal(f.accepts, 2); /* a new connection after the error reply */
}

typedef struct {
    pthread_mutex_t lock;
    char events[256];
} events_t;

static void on_message(void *arg, const char *payload, size_t len)
{
    events_t *e = arg;
    pthread_mutex_lock(&e->lock);
    size_t used = strlen(e->events);
    snprintf(e->events + used, sizeof(e->events) - used, "[%.*s]", payload ? (int)len : 3,
             payload ? payload : "SUB");
    pthread_mutex_unlock(&e->lock);
}

static void test_redis_listen_delivers_messages(void **state)
{
    static const char *const answers[] = {
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nev\r\n:1\r\n",
        "PUSH *3\r\n$7\r\nmessage\r\n$2\r\nev\r\n$5\r\njob-1\r\n",
        "CLOSE", /* the listener reconnects and resubscribes */
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nev\r\n:1\r\n",
        "PUSH *3\r\n$7\r\nmessage\r\n$2\r\nev\r\n$5\r\njob-2\r\n",
        NULL,
    };
    fake_t f;
    fake_start(&f, answers);
    cq_redis_t *redis = redis_for(f.port);
    events_t e = {.lock = PTHREAD_MUTEX_INITIALIZER};
    assert_true(cq_redis_listen(redis, "ev", on_message, &e));
    assert_true(cq_redis_listen(redis, "other", on_message, &e)); /* already running */
    const char *want = "[SUB][job-1][SUB][job-2]";
    bool done = false;
    for (int i = 0; i < 300 && !done; i++) {
        pthread_mutex_lock(&e.lock);
        done = strcmp(e.events, want) == 0;
        pthread_mutex_unlock(&e.lock);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&e.lock);
    assert_string_equal(e.events, want);
    pthread_mutex_unlock(&e.lock);
    cq_redis_destroy(redis);
    fake_stop(&f);
    assert_non_null(strstr(f.log, "SUBSCRIBE\r\n$2\r\nev\r\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_new_rejects_bad_config),
        cmocka_unit_test(test_redis_reply_accessors),
        cmocka_unit_test(test_redis_script_falls_back_to_eval),
        cmocka_unit_test(test_redis_error_reply_drops_connection),
        cmocka_unit_test(test_redis_listen_delivers_messages),
    };
    return cmocka_run_group_tests_name("cq_redis", tests, NULL, NULL);
}
