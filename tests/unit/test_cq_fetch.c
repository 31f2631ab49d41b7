/*
 * Unit tests of the fetch layer against in-process loopback listeners
 * (cq_test_server.h: a small HTTP server on a thread of the test):
 * success, the size cap, timeouts, retries of 5xx and of 429 with
 * Retry-After, redirects (followed, bounded, refused), the default policy
 * refusing every spelling of loopback with no connection reaching the
 * listener, no connection reuse for user URLs, the circuit breaker, POST
 * bodies, many calls at once, cancel, wakeup and extra descriptors.
 */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cq_config.h"
#include "cq_fetch.h"
#include "cq_test_server.h"

/* ---- driving the fetch ---- */

typedef struct {
    bool done;
    int calls;
    cq_err_t err;
    cq_fetch_fail_t fail;
    long status;
    char message[256], body[512], url[512], content_type[128], location[256];
    size_t body_len;
    int attempts, redirects;
    int64_t latency_ms;
} outcome_t;

static void on_done(void *opaque, cq_fetch_result_t *r)
{
    outcome_t *o = opaque;
    o->done = true;
    o->calls++;
    o->err = r->err;
    o->fail = r->fail;
    o->status = r->status;
    cq_strlcpy(o->message, r->message, sizeof(o->message));
    cq_strlcpy(o->body, r->body, sizeof(o->body));
    cq_strlcpy(o->url, r->url ? r->url : "", sizeof(o->url));
    cq_strlcpy(o->content_type, r->content_type ? r->content_type : "", sizeof(o->content_type));
    cq_strlcpy(o->location, r->location ? r->location : "", sizeof(o->location));
    o->body_len = r->body_len;
    o->attempts = r->attempts;
    o->redirects = r->redirects;
    o->latency_ms = r->latency_ms;
}

static cq_config_t *make_conf(const char *allow)
{
    cq_config_t *conf = cq_config_new();
    char err[256];
    assert_int_equal(cq_config_set(conf, "fetch.allow", allow, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "fetch.retry_backoff", "10ms", err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(cq_config_set(conf, "fetch.breaker_failures", "3", err, sizeof(err)),
                     CQ_ERR_OK);
    return conf;
}

/* Runs one call to its end (bounded: a hang fails the test). */
static void run(cq_fetch_t *fetch, cq_fetch_request_t *req, outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    cq_fetch_start(fetch, req, on_done, o);
    assert_false(o->done); /* never inside start */
    int64_t deadline = cq_mono_ms() + 15000;
    while (!o->done && cq_mono_ms() < deadline)
        cq_fetch_poll(fetch, 50);
    assert_true(o->done);
    assert_int_equal(o->calls, 1);
    assert_int_equal(cq_fetch_in_flight(fetch), 0);
}

static char *url_of(const server_t *s, const char *path)
{
    return s->family == AF_INET6 ? cq_asprintf("http://[::1]:%d%s", s->port, path)
                                 : cq_asprintf("http://127.0.0.1:%d%s", s->port, path);
}

/* Writes tmpl with PORT replaced by port and HOST by host. */
static void expand(const char *tmpl, const char *host, int port, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = tmpl; *p && n + 1 < size;) {
        if (strncmp(p, "PORT", 4) == 0) {
            n += (size_t)snprintf(out + n, size - n, "%d", port);
            p += 4;
        } else if (strncmp(p, "HOST", 4) == 0) {
            n += (size_t)snprintf(out + n, size - n, "%s", host);
            p += 4;
        } else {
            out[n++] = *p++;
            out[n] = '\0';
        }
    }
}

typedef struct {
    server_t v4;
    cq_config_t *conf;
    cq_fetch_t *fetch;
} fixture_t;

static int setup_allowing_loopback(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (!server_start(&f->v4, "127.0.0.1", 0))
        return -1;
    f->conf = make_conf("127.0.0.0/8");
    char err[256];
    f->fetch = cq_fetch_new(f->conf, err, sizeof(err));
    *state = f;
    return f->fetch ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cq_fetch_destroy(f->fetch);
    cq_config_destroy(f->conf);
    server_stop(&f->v4);
    free(f);
    return 0;
}

static cq_fetch_request_t user_get(fixture_t *f, const char *url)
{
    cq_fetch_request_t req = cq_fetch_request_defaults(f->fetch);
    req.url = url;
    req.user_url = true;
    return req;
}

static void test_fetch_get_succeeds(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/ok");
    cq_fetch_request_t req = user_get(f, url);
    outcome_t o;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.fail, CQ_FETCH_OK);
    assert_int_equal(o.status, 200);
    assert_string_equal(o.body, "hello");
    assert_int_equal(o.body_len, 5);
    assert_string_equal(o.content_type, "text/html; charset=utf-8");
    assert_string_equal(o.url, url);
    assert_int_equal(o.attempts, 1);
    assert_int_equal(o.redirects, 0);
    assert_true(o.latency_ms >= 0);
    assert_int_equal(atomic_load(&f->v4.accepts), 1);
    /* A 404 is an answer, not a failure, and is not retried. */
    free(url);
    url = url_of(&f->v4, "/missing");
    req = user_get(f, url);
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.status, 404);
    assert_int_equal(o.attempts, 1);
    free(url);
}

static void test_fetch_size_cap_cuts_body(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/big");
    cq_fetch_request_t req = user_get(f, url);
    req.max_bytes = 10000;
    outcome_t o;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_FETCH_FAILED);
    assert_int_equal(o.fail, CQ_FETCH_TOO_LARGE);
    assert_int_equal(o.body_len, 10000);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.attempts, 1);
    assert_non_null(strstr(o.message, "10000"));
    /* Under the cap the same body arrives whole. */
    req.max_bytes = 65536;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.body_len, 65536);
    free(url);
}

static void test_fetch_timeout_fails_the_call(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/slow");
    cq_fetch_request_t req = user_get(f, url);
    req.timeout_ms = 200;
    req.max_attempts = 2;
    outcome_t o;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_FETCH_FAILED);
    assert_int_equal(o.fail, CQ_FETCH_TIMEOUT);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.attempts, 2); /* a timeout is retried */
    assert_true(o.latency_ms >= 400);
    assert_non_null(strstr(o.message, "timeout"));
    free(url);
}

static void test_fetch_retries_5xx_then_succeeds(void **state)
{
    fixture_t *f = *state;
    atomic_store(&f->v4.flaky_left, 2);
    char *url = url_of(&f->v4, "/flaky");
    cq_fetch_request_t req = user_get(f, url);
    req.max_attempts = 3;
    outcome_t o;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.status, 200);
    assert_string_equal(o.body, "recovered");
    assert_int_equal(o.attempts, 3);
    assert_int_equal(atomic_load(&f->v4.requests), 3);
    free(url);
    /* Out of tries: the last answer is the result. */
    url = url_of(&f->v4, "/fail");
    req = user_get(f, url);
    req.max_attempts = 2;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.status, 500);
    assert_string_equal(o.body, "oops");
    assert_int_equal(o.attempts, 2);
    /* A status outside a caller's retry list is not retried. */
    static const int only_503[] = {503, 0};
    req.retry_statuses = only_503;
    req.max_attempts = 3;
    run(f->fetch, &req, &o);
    assert_int_equal(o.status, 500);
    assert_int_equal(o.attempts, 1);
    free(url);
}

/* A caller's retry_check judges the response, body included (the LLM
 * engine: a 500 that refuses a request format is final). */
static int retry_questions;

static bool retry_unless_oops(void *opaque, long status, const char *body, size_t body_len)
{
    retry_questions++;
    return status >= 500 && !(body_len == 4 && strcmp(body, "oops") == 0);
}

static bool retry_always(void *opaque, long status, const char *body, size_t body_len)
{
    return status >= 500;
}

static void test_fetch_retry_check_judges_the_body(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/fail"); /* 500 "oops" */
    char dest[64];
    snprintf(dest, sizeof(dest), "127.0.0.1:%d", f->v4.port);
    cq_fetch_request_t req = user_get(f, url);
    req.max_attempts = 3;
    req.retry_check = retry_unless_oops;
    outcome_t o;
    for (int i = 0; i < 4; i++) { /* more than fetch.breaker_failures = 3 */
        retry_questions = 0;
        run(f->fetch, &req, &o);
        assert_int_equal(o.status, 500);
        assert_int_equal(o.attempts, 1);
        assert_int_equal(retry_questions, 1);
    }
    /* Final answers count as the server answering: the circuit stays closed. */
    assert_string_equal(cq_fetch_circuit_state(f->fetch, dest), "closed");
    req.retry_check = retry_always;
    run(f->fetch, &req, &o);
    assert_int_equal(o.attempts, 3);
    assert_string_equal(cq_fetch_circuit_state(f->fetch, dest), "open");
    free(url);
}

/* A destination from configuration gets its own breaker thresholds. */
static void test_fetch_set_breaker_per_destination(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/fail");
    char dest[64];
    snprintf(dest, sizeof(dest), "127.0.0.1:%d", f->v4.port);
    cq_fetch_set_breaker(f->fetch, dest, 1, 60000);
    cq_fetch_request_t req = user_get(f, url);
    req.max_attempts = 1;
    outcome_t o;
    run(f->fetch, &req, &o);
    assert_int_equal(o.status, 500);
    assert_string_equal(cq_fetch_circuit_state(f->fetch, dest), "open"); /* 1, not 3 */
    free(url);
}

static void test_fetch_honours_retry_after(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/ra");
    cq_fetch_request_t req = user_get(f, url);
    outcome_t o;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.attempts, 2);
    assert_int_equal(atomic_load(&f->v4.ra_count), 2);
    /* Retry-After: 1 — the second try came at least a second later. */
    assert_true(f->v4.ra_at[1] - f->v4.ra_at[0] >= 1000 - 5);
    assert_true(o.latency_ms >= 1000 - 5);
    free(url);
}

static void test_fetch_follows_redirect_chain(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/redirect/3");
    cq_fetch_request_t req = user_get(f, url);
    outcome_t o;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.status, 200);
    assert_string_equal(o.body, "end");
    assert_int_equal(o.redirects, 3);
    assert_int_equal(o.attempts, 4);
    assert_non_null(strstr(o.url, "/redirect/0"));
    /* Bounded. */
    req.max_redirects = 2;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_FETCH_FAILED);
    assert_int_equal(o.fail, CQ_FETCH_REDIRECTS);
    assert_int_equal(o.redirects, 2);
    /* Not followed at all: the 3xx is the answer. */
    req.max_redirects = 0;
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.status, 302);
    assert_string_equal(o.location, "/redirect/2");
    free(url);
}

static void test_fetch_post_and_see_other(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/echo");
    static const char *const headers[] = {"Content-Type: text/plain"};
    cq_fetch_request_t req = user_get(f, url);
    req.method = "POST";
    req.body = "abc";
    req.body_len = 3;
    req.headers = headers;
    req.header_count = 1;
    outcome_t o;
    run(f->fetch, &req, &o);
    assert_int_equal(o.status, 200);
    assert_string_equal(o.body, "POST abc");
    /* A borrowed body is sent the same, from the caller's buffer. */
    char *mine = strdup("borrowed");
    req.body = mine;
    req.body_len = strlen(mine);
    req.body_borrowed = true;
    run(f->fetch, &req, &o);
    assert_string_equal(o.body, "POST borrowed");
    assert_string_equal(mine, "borrowed"); /* left as it was, not freed */
    free(mine);
    req.body = "abc";
    req.body_len = 3;
    req.body_borrowed = false;
    free(url);
    /* 303 after a POST continues with a GET, without the body. */
    url = url_of(&f->v4, "/see-other");
    req.url = url;
    run(f->fetch, &req, &o);
    assert_int_equal(o.status, 200);
    assert_string_equal(o.body, "GET ");
    assert_int_equal(o.redirects, 1);
    free(url);
}

/* The allow list opens 127.0.0.1 only; a hop to [::1] (another listener)
 * or to a URL with credentials is refused and nothing reaches [::1]. */
static void test_fetch_refuses_redirect_to_refused_address(void **state)
{
    server_t a, b;
    assert_true(server_start(&a, "127.0.0.1", 0));
    if (!server_start(&b, "::1", 0)) {
        server_stop(&a);
        skip();
    }
    cq_config_t *conf = make_conf("127.0.0.1/32");
    char err[256];
    cq_fetch_t *fetch = cq_fetch_new(conf, err, sizeof(err));
    assert_non_null(fetch);
    char *away = url_of(&a, "/away");
    static const char *const targets[] = {"http://[::1]:PORT/ok", "http://0x7f.2:PORT/ok",
                                          "ftp://127.0.0.1:PORT/", "http://u:p@127.0.0.1:PORT/ok",
                                          "http://[::ffff:7f00:2]:PORT/ok"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(targets); i++) {
        expand(targets[i], NULL, i == 3 ? a.port : b.port, a.redirect_target,
               sizeof(a.redirect_target));
        cq_fetch_request_t req = cq_fetch_request_defaults(fetch);
        req.url = away;
        req.user_url = true;
        outcome_t o;
        run(fetch, &req, &o);
        assert_int_equal(o.err, CQ_ERR_URL_NOT_ALLOWED);
        assert_int_equal(o.fail, CQ_FETCH_REFUSED);
        assert_non_null(strstr(o.message, "redirect 1 refused"));
        assert_int_equal(o.attempts, 1);
    }
    assert_int_equal(atomic_load(&b.accepts), 0);
    assert_int_equal(atomic_load(&a.requests), (int)CQ_ARRAY_SIZE(targets));
    free(away);
    cq_fetch_destroy(fetch);
    cq_config_destroy(conf);
    server_stop(&a);
    server_stop(&b);
}

/* Whether the machine's host name resolves to a loopback address (then it
 * is one more spelling that only the connect-time check can catch). */
static bool hostname_is_loopback(char *name, size_t size)
{
    if (gethostname(name, size) != 0)
        return false;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return false;
    bool loop = false;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET &&
            (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127)
            loop = true;
    }
    freeaddrinfo(res);
    return loop;
}

/* With the default policy (no allow list) every spelling of loopback is
 * refused and no connection reaches either listener; names (localhost,
 * the host name) pass parse time and are caught by the connect-time
 * check. The same URLs with loopback allowed do connect: the count works. */
static void test_fetch_default_policy_refuses_loopback_spellings(void **state)
{
    server_t v4, v6;
    assert_true(server_start(&v4, "127.0.0.1", 0));
    bool have_v6 = false;
    for (int i = 0; i < 5 && !have_v6; i++)
        have_v6 = server_start(&v6, "::1", v4.port);
    static const char *const spellings[] = {
        "http://127.0.0.1:PORT/ok",
        "http://localhost:PORT/ok",
        "http://LocalHost:PORT/ok",
        "http://127.1:PORT/ok",
        "http://127.0.1:PORT/ok",
        "http://2130706433:PORT/ok",
        "http://0177.0.0.1:PORT/ok",
        "http://0x7f.1:PORT/ok",
        "http://0x7f000001:PORT/ok",
        "http://017700000001:PORT/ok",
        "http://0:PORT/ok",
        "http://0.0.0.0:PORT/ok",
        "http://127.0.0.1.:PORT/ok",
        "http://[::]:PORT/ok",
        "http://[::1]:PORT/ok",
        "http://[::ffff:127.0.0.1]:PORT/ok",
        "http://[::ffff:7f00:1]:PORT/ok",
        "http://[0:0:0:0:0:0:0:1]:PORT/ok",
        "https://localhost:PORT/ok",
        "http://HOST:PORT/ok", /* the host name, when loopback */
    };
    char host[256];
    bool host_loop = hostname_is_loopback(host, sizeof(host));
    cq_config_t *conf = make_conf("");
    char err[256];
    cq_fetch_t *fetch = cq_fetch_new(conf, err, sizeof(err));
    int refused = 0, localhost_at_connect = 0;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(spellings); i++) {
        bool by_name = strstr(spellings[i], "HOST") != NULL;
        if (by_name && !host_loop)
            continue;
        char url[512];
        expand(spellings[i], host, v4.port, url, sizeof(url));
        cq_fetch_request_t req = cq_fetch_request_defaults(fetch);
        req.url = url;
        req.user_url = true;
        outcome_t o;
        run(fetch, &req, &o);
        if (o.err != CQ_ERR_URL_NOT_ALLOWED)
            fprintf(stderr, "  %s: %s %s\n", url, cq_err_name(o.err), o.message);
        assert_int_equal(o.err, CQ_ERR_URL_NOT_ALLOWED);
        assert_int_equal(o.fail, CQ_FETCH_REFUSED);
        assert_int_equal(o.status, 0);
        if (strstr(url, "ocal") && strstr(o.message, "is loopback"))
            localhost_at_connect++;
        refused++;
    }
    assert_true(refused >= (int)CQ_ARRAY_SIZE(spellings) - 1);
    assert_int_equal(localhost_at_connect, 3);
    assert_int_equal(atomic_load(&v4.accepts), 0);
    if (have_v6)
        assert_int_equal(atomic_load(&v6.accepts), 0);
    cq_fetch_destroy(fetch);
    cq_config_destroy(conf);

    /* Control: allowed, the same kind of URL reaches the listener. */
    conf = make_conf("127.0.0.0/8,::1");
    fetch = cq_fetch_new(conf, err, sizeof(err));
    char url[128];
    snprintf(url, sizeof(url), "http://localhost:%d/ok", v4.port);
    cq_fetch_request_t req = cq_fetch_request_defaults(fetch);
    req.url = url;
    req.user_url = true;
    outcome_t o;
    run(fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.status, 200);
    assert_int_equal(atomic_load(&v4.accepts) + (have_v6 ? atomic_load(&v6.accepts) : 0), 1);
    cq_fetch_destroy(fetch);
    cq_config_destroy(conf);
    server_stop(&v4);
    if (have_v6)
        server_stop(&v6);
}

/* A URL from configuration (not user_url) is not subject to the policy. */
static void test_fetch_trusted_url_skips_address_policy(void **state)
{
    server_t s;
    assert_true(server_start(&s, "127.0.0.1", 0));
    cq_config_t *conf = make_conf("");
    char err[256];
    cq_fetch_t *fetch = cq_fetch_new(conf, err, sizeof(err));
    char *url = url_of(&s, "/ok");
    cq_fetch_request_t req = cq_fetch_request_defaults(fetch);
    req.url = url;
    outcome_t o;
    run(fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_OK);
    assert_int_equal(o.status, 200);
    free(url);
    cq_fetch_destroy(fetch);
    cq_config_destroy(conf);
    server_stop(&s);
}

/* A user URL never rides on a connection another call opened: here a
 * trusted call leaves a keep-alive connection to localhost in curl's
 * cache, and the same URL as a user URL must still be refused (reusing
 * that connection would skip the connect-time check). */
static void test_fetch_user_url_never_reuses_a_connection(void **state)
{
    server_t s;
    assert_true(server_start(&s, "127.0.0.1", 0));
    cq_config_t *conf = make_conf("");
    char err[256];
    cq_fetch_t *fetch = cq_fetch_new(conf, err, sizeof(err));
    char url[128];
    snprintf(url, sizeof(url), "http://localhost:%d/keep", s.port);
    cq_fetch_request_t req = cq_fetch_request_defaults(fetch);
    req.url = url;
    outcome_t o;
    run(fetch, &req, &o); /* trusted */
    assert_int_equal(o.status, 200);
    run(fetch, &req, &o); /* trusted again: the kept connection is reused */
    assert_int_equal(o.status, 200);
    assert_int_equal(atomic_load(&s.accepts), 1);
    assert_int_equal(atomic_load(&s.requests), 2);
    req.user_url = true;
    run(fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_URL_NOT_ALLOWED);
    assert_int_equal(atomic_load(&s.requests), 2);
    cq_fetch_destroy(fetch);
    cq_config_destroy(conf);
    server_stop(&s);
}

static void test_fetch_breaker_opens_after_failures(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/fail");
    char dest[64];
    snprintf(dest, sizeof(dest), "127.0.0.1:%d", f->v4.port);
    cq_fetch_request_t req = user_get(f, url);
    req.max_attempts = 1;
    outcome_t o;
    for (int i = 0; i < 3; i++) { /* fetch.breaker_failures = 3 */
        assert_string_equal(cq_fetch_circuit_state(f->fetch, dest), "closed");
        run(f->fetch, &req, &o);
        assert_int_equal(o.status, 500);
    }
    assert_string_equal(cq_fetch_circuit_state(f->fetch, dest), "open");
    int before = atomic_load(&f->v4.requests);
    run(f->fetch, &req, &o);
    assert_int_equal(o.err, CQ_ERR_UPSTREAM_UNAVAILABLE);
    assert_int_equal(o.fail, CQ_FETCH_CIRCUIT_OPEN);
    assert_int_equal(o.attempts, 0);
    assert_int_equal(atomic_load(&f->v4.requests), before); /* no call made */
    /* Another destination is not affected. */
    char other[64];
    snprintf(other, sizeof(other), "http://localhost:%d/ok", f->v4.port);
    req.url = other;
    run(f->fetch, &req, &o);
    assert_int_equal(o.status, 200);
    assert_string_equal(cq_fetch_circuit_state(f->fetch, "nowhere:1"), "closed");
    free(url);
}

static void on_done_count(void *opaque, cq_fetch_result_t *r)
{
    (*(int *)opaque)++;
}

/* More calls than one poll hands to curl (they start in batches): every
 * one ends, each callback runs once. */
static void test_fetch_many_calls_all_complete(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/ok");
    cq_fetch_request_t req = user_get(f, url);
    enum { N = 300 };
    static int calls[N];
    memset(calls, 0, sizeof(calls));
    for (int i = 0; i < N; i++)
        cq_fetch_start(f->fetch, &req, on_done_count, &calls[i]);
    assert_int_equal(cq_fetch_in_flight(f->fetch), N);
    int64_t deadline = cq_mono_ms() + 30000;
    while (cq_fetch_in_flight(f->fetch) > 0 && cq_mono_ms() < deadline)
        cq_fetch_poll(f->fetch, 50);
    assert_int_equal(cq_fetch_in_flight(f->fetch), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(calls[i], 1);
    assert_int_equal(atomic_load(&f->v4.requests), N);
    free(url);
}

static void test_fetch_cancel_and_destroy_in_flight(void **state)
{
    fixture_t *f = *state;
    char *url = url_of(&f->v4, "/slow");
    cq_fetch_request_t req = user_get(f, url);
    int calls = 0;
    cq_fetch_call_t *call = cq_fetch_start(f->fetch, &req, on_done_count, &calls);
    cq_fetch_start(f->fetch, &req, on_done_count, &calls);
    cq_fetch_request_t bad = user_get(f, "gopher://x/");
    cq_fetch_call_t *refused = cq_fetch_start(f->fetch, &bad, on_done_count, &calls);
    /* Cancelled before curl ever saw it. */
    cq_fetch_cancel(f->fetch, cq_fetch_start(f->fetch, &req, on_done_count, &calls));
    assert_int_equal(cq_fetch_in_flight(f->fetch), 3);
    cq_fetch_poll(f->fetch, 20);
    cq_fetch_cancel(f->fetch, call); /* a running transfer */
    assert_int_equal(calls, 1);      /* only the refused one ran */
    assert_int_equal(cq_fetch_in_flight(f->fetch), 1);
    (void)refused;
    /* The other one is still running: destroy aborts it without a callback
     * (the fixture's teardown). A wakeup from another thread is harmless. */
    cq_fetch_wakeup(f->fetch);
    assert_int_equal(cq_fetch_poll(f->fetch, 1000), 0); /* woken, nothing ended */
    assert_int_equal(calls, 1);
    free(url);
}

/* An extra descriptor ends the wait: the worker loop can wait on a
 * completion queue (or Kafka's event fd) and its HTTP calls at once. */
static void test_fetch_poll_fds_wakes_on_a_descriptor(void **state)
{
    cq_config_t *conf = make_conf("");
    char err[256];
    cq_fetch_t *fetch = cq_fetch_new(conf, err, sizeof(err));
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    int64_t t0 = cq_mono_ms();
    assert_int_equal(cq_fetch_poll_fds(fetch, 5000, &p[0], 1), 0);
    assert_true(cq_mono_ms() - t0 < 2500);
    close(p[0]);
    close(p[1]);
    cq_fetch_destroy(fetch);
    cq_config_destroy(conf);
}

/* A loop that waits in its own poll: on cq_fetch_fd, for at most
 * cq_fetch_timeout_ms, then cq_fetch_poll(fetch, 0). */
static void test_fetch_external_loop_drives_calls(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(cq_fetch_timeout_ms(f->fetch), -1); /* nothing pending */
    char *url = url_of(&f->v4, "/redirect/2");
    cq_fetch_request_t req = user_get(f, url);
    outcome_t o;
    memset(&o, 0, sizeof(o));
    cq_fetch_start(f->fetch, &req, on_done, &o);
    assert_int_equal(cq_fetch_timeout_ms(f->fetch), 0); /* a transfer to hand to curl */
    int64_t deadline = cq_mono_ms() + 10000;
    while (!o.done && cq_mono_ms() < deadline) {
        int t = cq_fetch_timeout_ms(f->fetch);
        struct pollfd p = {.fd = cq_fetch_fd(f->fetch), .events = POLLIN};
        poll(&p, 1, t < 0 || t > 1000 ? 1000 : t);
        cq_fetch_poll(f->fetch, 0);
    }
    assert_true(o.done);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.redirects, 2);
    assert_int_equal(cq_fetch_timeout_ms(f->fetch), -1);
    free(url);
}

static void test_fetch_new_refuses_bad_allow_list(void **state)
{
    cq_config_t *conf = make_conf("10.0.0.0/99");
    char err[256] = "";
    assert_null(cq_fetch_new(conf, err, sizeof(err)));
    assert_non_null(strstr(err, "fetch.allow"));
    cq_config_destroy(conf);
    assert_string_equal(cq_fetch_fail_name(CQ_FETCH_TOO_LARGE), "too_large");
    cq_fetch_destroy(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_allowing_loopback, teardown)
    const struct CMUnitTest tests[] = {
        T(test_fetch_get_succeeds),
        T(test_fetch_size_cap_cuts_body),
        T(test_fetch_timeout_fails_the_call),
        T(test_fetch_retries_5xx_then_succeeds),
        T(test_fetch_retry_check_judges_the_body),
        T(test_fetch_set_breaker_per_destination),
        T(test_fetch_honours_retry_after),
        T(test_fetch_follows_redirect_chain),
        T(test_fetch_post_and_see_other),
        cmocka_unit_test(test_fetch_refuses_redirect_to_refused_address),
        cmocka_unit_test(test_fetch_default_policy_refuses_loopback_spellings),
        cmocka_unit_test(test_fetch_trusted_url_skips_address_policy),
        cmocka_unit_test(test_fetch_user_url_never_reuses_a_connection),
        T(test_fetch_breaker_opens_after_failures),
        T(test_fetch_many_calls_all_complete),
        T(test_fetch_cancel_and_destroy_in_flight),
        cmocka_unit_test(test_fetch_poll_fds_wakes_on_a_descriptor),
        T(test_fetch_external_loop_drives_calls),
        cmocka_unit_test(test_fetch_new_refuses_bad_allow_list),
    };
#undef T
    return cmocka_run_group_tests_name("fetch", tests, NULL, NULL);
}
