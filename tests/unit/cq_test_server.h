/*
 * cq_test_server.h — a small HTTP/1.1 server on a thread of a unit test
 * (loopback only, one thread per connection), for the fetch layer's tests.
 * Header-only (static functions): include it from one test file, which
 * defines _GNU_SOURCE before its first include (strcasestr).
 *
 * Routes: /ok (200 "hello"), /keep (200, keeps the connection open),
 * /big (64 KiB), /slow (800 ms, then 200), /flaky (503 while flaky_left
 * > 0), /ra (429 with Retry-After: 1, then 200), /fail (500),
 * /redirect/N (302 chain down to /redirect/0, 200), /away (302 to
 * redirect_target), /see-other (303 to /echo), /echo ("METHOD body");
 * anything else 404. Counts accepted connections and requests.
 */
#ifndef CQ_TEST_SERVER_H
#define CQ_TEST_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cq_common.h"

typedef struct {
    int fd, port, family;
    pthread_t thread;
    atomic_bool stop;
    atomic_int accepts, requests, active;
    atomic_int flaky_left;     /* /flaky answers 503 while this is > 0 */
    atomic_int ra_count;       /* /ra: the first answer is 429 Retry-After: 1 */
    int64_t ra_at[4];          /* when /ra requests arrived (monotonic ms) */
    char redirect_target[256]; /* where /away points */
} server_t;

typedef struct {
    server_t *server;
    int fd;
} conn_t;

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *extra, const char *body, size_t len)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: text/html; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     status, len, extra ? extra : "");
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void *conn_main(void *arg)
{
    conn_t *c = arg;
    server_t *s = c->server;
    char buf[16384];
    size_t n;
    char *end;
next_request:
    n = 0;
    end = NULL;
    while (n < sizeof(buf) - 1 && !end) {
        ssize_t r = recv(c->fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        goto done_close;
    atomic_fetch_add(&s->requests, 1);
    char method[16] = "", path[512] = "";
    sscanf(buf, "%15s %511s", method, path);
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t want = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    size_t have = n - (size_t)(end + 4 - buf);
    while (have < want && n < sizeof(buf) - 1) {
        ssize_t r = recv(c->fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        have += (size_t)r;
        buf[n] = '\0';
    }
    const char *body = end + 4;
    if (strcmp(path, "/ok") == 0) {
        respond(c->fd, 200, NULL, "hello", 5);
    } else if (strcmp(path, "/keep") == 0) { /* keep-alive: the next request may follow */
        static const char keep[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nkept";
        send_all(c->fd, keep, sizeof(keep) - 1);
        goto next_request;
    } else if (strcmp(path, "/big") == 0) {
        static char big[65536];
        memset(big, 'x', sizeof(big));
        respond(c->fd, 200, NULL, big, sizeof(big));
    } else if (strcmp(path, "/slow") == 0) {
        usleep(800 * 1000);
        respond(c->fd, 200, NULL, "late", 4);
    } else if (strcmp(path, "/flaky") == 0) {
        if (atomic_fetch_sub(&s->flaky_left, 1) > 0)
            respond(c->fd, 503, NULL, "busy", 4);
        else
            respond(c->fd, 200, NULL, "recovered", 9);
    } else if (strcmp(path, "/ra") == 0) {
        int i = atomic_fetch_add(&s->ra_count, 1);
        if (i < 4)
            s->ra_at[i] = cq_mono_ms();
        if (i == 0)
            respond(c->fd, 429, "Retry-After: 1\r\n", "slow down", 9);
        else
            respond(c->fd, 200, NULL, "thanks", 6);
    } else if (strcmp(path, "/fail") == 0) {
        respond(c->fd, 500, NULL, "oops", 4);
    } else if (strncmp(path, "/redirect/", 10) == 0) {
        int left = atoi(path + 10);
        char loc[128];
        snprintf(loc, sizeof(loc), "Location: /redirect/%d\r\n", left - 1);
        if (left > 0)
            respond(c->fd, 302, loc, "", 0);
        else
            respond(c->fd, 200, NULL, "end", 3);
    } else if (strcmp(path, "/away") == 0) {
        char loc[300];
        snprintf(loc, sizeof(loc), "Location: %s\r\n", s->redirect_target);
        respond(c->fd, 302, loc, "", 0);
    } else if (strcmp(path, "/see-other") == 0) {
        respond(c->fd, 303, "Location: /echo\r\n", "", 0);
    } else if (strcmp(path, "/echo") == 0) {
        char out[sizeof(buf) + 32];
        int len =
            snprintf(out, sizeof(out), "%s %.*s", method, (int)(have < want ? have : want), body);
        if (len > (int)sizeof(out) - 1)
            len = (int)sizeof(out) - 1;
        respond(c->fd, 200, NULL, out, (size_t)len);
    } else {
        respond(c->fd, 404, NULL, "no", 2);
    }
done_close:
    close(c->fd);
    atomic_fetch_sub(&s->active, 1);
    free(c);
    return NULL;
}

static void *server_main(void *arg)
{
    server_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&s->accepts, 1);
        atomic_fetch_add(&s->active, 1);
        conn_t *c = calloc(1, sizeof(*c));
        c->server = s;
        c->fd = fd;
        pthread_t t;
        pthread_create(&t, NULL, conn_main, c);
        pthread_detach(t);
    }
    return NULL;
}

/* Listens on addr (a numeric address) and port (0: any); false if it cannot. */
static bool server_start(server_t *s, const char *addr, int port)
{
    memset(s, 0, sizeof(*s));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, addr, &in6->sin6_addr);
        len = sizeof(*in6);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, addr, &in->sin_addr);
        len = sizeof(*in);
    }
    s->family = ss.ss_family;
    s->fd = socket(ss.ss_family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(s->fd, (struct sockaddr *)&ss, len) != 0 || listen(s->fd, 64) != 0) {
        close(s->fd);
        return false;
    }
    getsockname(s->fd, (struct sockaddr *)&ss, &len);
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    pthread_create(&s->thread, NULL, server_main, s);
    return true;
}

static void server_stop(server_t *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < 500 && atomic_load(&s->active) > 0; i++)
        usleep(10 * 1000);
    close(s->fd);
}

#endif
