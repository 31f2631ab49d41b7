/*
 * Integration: slow and idle clients cannot take the gateway down.
 *
 * civetweb gives each connection a thread until it closes, so a client
 * that opens connections and sends nothing (or trickles a request head a
 * byte at a time) used to hold every thread, and /health and everything
 * else waited up to civetweb's 30 s request timeout. Now one address holds
 * at most gateway.max_conns_per_peer connections, further ones get a 429
 * problem at once and are closed, a request head must arrive within
 * gateway.header_timeout, and gateway.admin_listen serves probes on
 * threads of its own.
 *
 * The attacks come from 127.0.0.2 and 127.0.0.3 (Linux routes all of
 * 127/8 to loopback), the probes from 127.0.0.1. The gateway runs with 48
 * threads and a queue of 16: far fewer than the attack's connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cq_it.h"

#define PER_PEER          8
#define HEADER_TIMEOUT_MS 2000
#define ATTACK_CONNS      200
#define BASE              "/coaching/api/v1"

static cq_it_stack_t stack;
static int admin_port;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A non-blocking connection from source address src to the port. */
static int open_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &from.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&to, sizeof(to));
    assert_true(rc == 0 || errno == EINPROGRESS);
    return fd;
}

/* GET path from 127.0.0.1 on port: the status, or 0 when no answer came
 * within 2 s; *ms gets the time it took. */
static int probe(int port, const char *path, int64_t *ms)
{
    int64_t t0 = now_ms();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = 0;
    char req[256], buf[64] = "";
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
        send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req) &&
        recv(fd, buf, sizeof(buf) - 1, 0) > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0) {
        status = atoi(buf + 9);
        /* Read to the gateway's close: a probe closed early can still count
         * against this peer's gateway.max_conns_per_peer when the next one
         * connects (a 429 for /jobs/x on the admin listener in one run). */
        char rest[4096];
        while (recv(fd, rest, sizeof(rest), 0) > 0)
            ;
    }
    close(fd);
    *ms = now_ms() - t0;
    return status;
}

typedef struct {
    int fd;
    int status;        /* of the answer read, 0 before one */
    int64_t answer_ms; /* when it came */
    int64_t closed_ms; /* when the server closed, 0 while open */
} attack_conn_t;

/* Reads what the server sent on every open connection for up to wait_ms;
 * trickle > 0 sends one more byte of a request head to each every trickle
 * ms. Returns early when every connection was closed. */
static void watch(attack_conn_t *c, int n, int64_t t0, int64_t wait_ms, int64_t trickle)
{
    static const char head[] = "GET " BASE "/health HTTP/1.1\r\nHost: x\r\nX-Slow: "
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    struct pollfd pfd[ATTACK_CONNS];
    int64_t end = now_ms() + wait_ms, next_byte = now_ms();
    size_t sent = 0;
    while (now_ms() < end) {
        if (trickle > 0 && now_ms() >= next_byte) {
            for (int i = 0; i < n; i++)
                if (!c[i].closed_ms)
                    (void)send(c[i].fd, head + sent % (sizeof(head) - 1), 1, MSG_NOSIGNAL);
            sent++;
            next_byte = now_ms() + trickle;
        }
        int open = 0;
        for (int i = 0; i < n; i++) {
            pfd[i].fd = c[i].closed_ms ? -1 : c[i].fd;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
            open += !c[i].closed_ms;
        }
        if (!open)
            return;
        if (poll(pfd, (nfds_t)n, 50) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t r = recv(c[i].fd, buf, sizeof(buf) - 1, 0);
            if (r > 0 && !c[i].status) {
                buf[r] = '\0';
                c[i].status = strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atoi(buf + 9) : -1;
                c[i].answer_ms = now_ms() - t0;
            }
            if (r == 0 || (r < 0 && errno != EAGAIN))
                c[i].closed_ms = now_ms() - t0;
        }
    }
}

static void close_all(attack_conn_t *c, int n)
{
    for (int i = 0; i < n; i++)
        close(c[i].fd);
}

/* /health (main and admin listener) answers fast, five times. */
static void assert_probes_fast(const char *when)
{
    for (int i = 0; i < 5; i++) {
        int64_t ms;
        int status = probe(stack.port, BASE "/health", &ms);
        fprintf(stderr, "%s: /health %d in %lld ms\n", when, status, (long long)ms);
        assert_int_equal(status, 200);
        assert_true(ms < 1000);
        status = probe(admin_port, BASE "/health/ready", &ms);
        assert_int_equal(status, 200);
        assert_true(ms < 1000);
    }
}

static void test_it_slowclients_idle_connections_over_the_cap(void **state)
{
    (void)state;
    attack_conn_t c[ATTACK_CONNS];
    int64_t t0 = now_ms();
    for (int i = 0; i < ATTACK_CONNS; i++)
        c[i] = (attack_conn_t){.fd = open_from("127.0.0.2", stack.port)};
    /* Over-limit connections are answered at once, without sending anything. */
    watch(c, ATTACK_CONNS, t0, 1500, 0);
    assert_probes_fast("idle attack");
    int refused = 0, fast = 0, held = 0;
    for (int i = 0; i < ATTACK_CONNS; i++) {
        refused += c[i].status == 429;
        fast += c[i].status == 429 && c[i].answer_ms < 1500;
        held += !c[i].status && !c[i].closed_ms;
    }
    fprintf(stderr, "idle: %d refused with 429 (%d within 1.5 s), %d held\n", refused, fast, held);
    assert_int_equal(refused, ATTACK_CONNS - PER_PEER);
    assert_int_equal(fast, ATTACK_CONNS - PER_PEER);
    assert_int_equal(held, PER_PEER);
    /* The held ones send nothing: cut off after the header timeout. */
    watch(c, ATTACK_CONNS, t0, HEADER_TIMEOUT_MS + 3000, 0);
    for (int i = 0; i < ATTACK_CONNS; i++) {
        assert_true(c[i].closed_ms > 0);
        assert_true(c[i].closed_ms < HEADER_TIMEOUT_MS + 2500);
    }
    close_all(c, ATTACK_CONNS);
    /* The address's places came back: it is served again. */
    attack_conn_t again = {.fd = open_from("127.0.0.2", stack.port)};
    const char req[] = "GET " BASE "/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    usleep(100 * 1000);
    assert_int_equal(send(again.fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
    watch(&again, 1, now_ms(), 2000, 0);
    assert_int_equal(again.status, 200);
    close(again.fd);
}

static void test_it_slowclients_slowloris_is_cut_off(void **state)
{
    (void)state;
    attack_conn_t c[ATTACK_CONNS];
    int64_t t0 = now_ms();
    for (int i = 0; i < ATTACK_CONNS; i++)
        c[i] = (attack_conn_t){.fd = open_from("127.0.0.3", stack.port)};
    /* One byte of a request head every 250 ms on every connection. */
    watch(c, ATTACK_CONNS, t0, 1000, 250);
    assert_probes_fast("slowloris");
    watch(c, ATTACK_CONNS, t0, HEADER_TIMEOUT_MS + 3000, 250);
    int refused = 0, cut = 0;
    for (int i = 0; i < ATTACK_CONNS; i++) {
        if (c[i].status == 429) {
            refused++;
            assert_true(c[i].answer_ms < 1500);
            continue;
        }
        /* Admitted: its head never completes; the gateway answers a problem
         * and closes once header_timeout has passed. */
        assert_true(c[i].closed_ms > 0);
        assert_true(c[i].closed_ms >= HEADER_TIMEOUT_MS - 500);
        assert_true(c[i].closed_ms < HEADER_TIMEOUT_MS + 2000);
        cut++;
    }
    fprintf(stderr, "slowloris: %d refused with 429, %d cut off after the header timeout\n",
            refused, cut);
    assert_int_equal(cut, PER_PEER);
    assert_int_equal(refused, ATTACK_CONNS - PER_PEER);
    close_all(c, ATTACK_CONNS);
    assert_probes_fast("after the attacks");
}

static void test_it_slowclients_admin_listener_serves_probes_only(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(probe(admin_port, BASE "/health", &ms), 200);
    assert_int_equal(probe(admin_port, BASE "/metrics", &ms), 200);
    assert_int_equal(probe(admin_port, BASE "/openapi.json", &ms), 404);
    assert_int_equal(probe(admin_port, BASE "/jobs/x", &ms), 404);
}

static int setup(void **state)
{
    (void)state;
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    cq_it_stack_init(&stack, "slowclients");
    admin_port = cq_it_free_port();
    char per_peer[64], header[64], admin[64];
    snprintf(per_peer, sizeof(per_peer), "gateway.max_conns_per_peer=%d", PER_PEER);
    snprintf(header, sizeof(header), "gateway.header_timeout=%dms", HEADER_TIMEOUT_MS);
    snprintf(admin, sizeof(admin), "gateway.admin_listen=127.0.0.1:%d", admin_port);
    const char *extra[] = {"gateway.threads=48",
                           "gateway.queue=16",
                           per_peer,
                           header,
                           "gateway.keep_alive_timeout=2s",
                           admin,
                           NULL};
    return cq_it_start_gateway(&stack, extra) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cq_it_stack_stop(&stack);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_slowclients_idle_connections_over_the_cap),
        cmocka_unit_test(test_it_slowclients_slowloris_is_cut_off),
        cmocka_unit_test(test_it_slowclients_admin_listener_serves_probes_only),
    };
    return cmocka_run_group_tests_name("integration.slowclients", tests, setup, teardown);
}
