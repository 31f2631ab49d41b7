/*
 * Unit tests of the logger: JSON lines parsed back, escaping of any bytes
 * (quotes, control characters, invalid UTF-8), fields present only when
 * known, the thread's context, one line per event in both formats, the
 * level checked before formatting, and traceparent parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cq_log.h"
#include "cq_trace.h"

static int pipe_fds[2];
static int old_fd;

static int setup(void **state)
{
    assert_int_equal(pipe(pipe_fds), 0);
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    old_fd = cq_log_fd_set(pipe_fds[1]);
    cq_log_level_set("debug");
    cq_log_ctx_set(NULL);
    return 0;
}

static int teardown(void **state)
{
    cq_log_fd_set(old_fd);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    cq_log_format_set("text");
    cq_log_level_set("info");
    cq_log_ctx_set(NULL);
    return 0;
}

/* Everything logged since the last call. */
static char *drain(void)
{
    static char buf[65536];
    ssize_t n = read(pipe_fds[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* The one JSON line logged since the last call, parsed. */
static json_t *one_json_line(void)
{
    char *text = drain();
    size_t len = strlen(text);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_null(memchr(text, '\n', len - 1)); /* one line */
    json_error_t err;
    json_t *obj = json_loads(text, 0, &err);
    if (!obj)
        fail_msg("not JSON (%s): %s", err.text, text);
    assert_true(json_is_object(obj));
    return obj;
}

static const char *field(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

static void test_log_json_has_the_fields_it_knows(void **state)
{
    assert_true(cq_log_format_set("json"));
    cq_log_write(CQ_LOG_WARN, "gateway", NULL, NULL, "hello %d", 42);
    json_t *obj = one_json_line();
    assert_string_equal(field(obj, "level"), "warn");
    assert_string_equal(field(obj, "component"), "gateway");
    assert_string_equal(field(obj, "msg"), "hello 42");
    /* RFC 3339 UTC with milliseconds: 2026-12-01T22:54:20.123Z */
    const char *t = field(obj, "time");
    assert_non_null(t);
    assert_int_equal(strlen(t), 24);
    assert_int_equal(t[10], 'T');
    assert_int_equal(t[19], '.');
    assert_int_equal(t[23], 'Z');
    /* Nothing is known about a request or job: no such fields, not empty ones. */
    const char *absent[] = {"request_id", "job_id", "tenant", "operation",
                            "trace_id",   "code",   "id"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(*absent); i++)
        assert_null(json_object_get(obj, absent[i]));
    assert_int_equal(json_object_size(obj), 4);
    json_decref(obj);
}

static void test_log_json_takes_the_thread_context(void **state)
{
    assert_true(cq_log_format_set("json"));
    cq_log_ctx_t *ctx = cq_log_ctx();
    CQ_LOG_CTX_PUT(ctx->job_id, "0190f3a2-0000-7000-8000-000000000001");
    CQ_LOG_CTX_PUT(ctx->tenant, "acme");
    CQ_LOG_CTX_PUT(ctx->operation, "goal-alignment");
    CQ_LOG_CTX_PUT(ctx->trace.trace_id, "0af7651916cd43dd8448eb211c80319c");
    /* The call's own id is the context's: not repeated; a code is its own field. */
    CQ_LOG_CODE(CQ_LOG_ERROR, "worker", "0190f3a2-0000-7000-8000-000000000001", "UPSTREAM_TIMEOUT",
                "failed");
    json_t *obj = one_json_line();
    assert_string_equal(field(obj, "job_id"), "0190f3a2-0000-7000-8000-000000000001");
    assert_string_equal(field(obj, "tenant"), "acme");
    assert_string_equal(field(obj, "operation"), "goal-alignment");
    assert_string_equal(field(obj, "trace_id"), "0af7651916cd43dd8448eb211c80319c");
    assert_string_equal(field(obj, "code"), "UPSTREAM_TIMEOUT");
    assert_string_equal(field(obj, "level"), "error");
    assert_null(json_object_get(obj, "id"));
    assert_null(json_object_get(obj, "request_id"));
    json_decref(obj);
    /* Another id than the context's is kept. */
    CQ_LOG(CQ_LOG_INFO, "worker", "other-job", "x");
    obj = one_json_line();
    assert_string_equal(field(obj, "id"), "other-job");
    json_decref(obj);
    /* Cleared: the fields go. */
    cq_log_ctx_set(NULL);
    CQ_LOG(CQ_LOG_INFO, "worker", NULL, "y");
    obj = one_json_line();
    assert_null(json_object_get(obj, "job_id"));
    assert_null(json_object_get(obj, "tenant"));
    json_decref(obj);
}

static void *other_thread(void *arg)
{
    CQ_LOG(CQ_LOG_INFO, "other", NULL, "from another thread");
    return NULL;
}

static void test_log_context_is_per_thread(void **state)
{
    assert_true(cq_log_format_set("json"));
    CQ_LOG_CTX_PUT(cq_log_ctx()->request_id, "req-1");
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    json_t *obj = one_json_line();
    assert_null(json_object_get(obj, "request_id"));
    json_decref(obj);
}

static void test_log_json_escapes_any_bytes(void **state)
{
    assert_true(cq_log_format_set("json"));
    /* Quotes, backslash, newline, tab, a control byte, DEL, valid UTF-8
     * (é, 😀), a lone continuation byte, a truncated sequence, an overlong. */
    const char msg[] = "a\"b\\c\nd\te\x01"
                       "f\x7f"
                       "\xc3\xa9\xf0\x9f\x98\x80"
                       "\x80g\xe2\x82h\xc0\xafi";
    CQ_LOG(CQ_LOG_INFO, "t", NULL, "%s", msg);
    char *raw = drain();
    assert_null(strchr(raw, '\t')); /* raw controls never reach the line */
    assert_non_null(strstr(raw, "\\u0001"));
    json_error_t err;
    json_t *obj = json_loads(raw, 0, &err); /* jansson refuses invalid UTF-8 */
    if (!obj)
        fail_msg("not JSON (%s): %s", err.text, raw);
    assert_string_equal(field(obj, "msg"), "a\"b\\c\nd\te\x01"
                                           "f\x7f"
                                           "\xc3\xa9\xf0\x9f\x98\x80"
                                           "\xef\xbf\xbdg\xef\xbf\xbd\xef\xbf\xbdh\xef\xbf\xbd\xef"
                                           "\xbf\xbdi");
    json_decref(obj);
    /* Context values from outside input are escaped too. */
    CQ_LOG_CTX_PUT(cq_log_ctx()->tenant, "t\"}\n{");
    CQ_LOG(CQ_LOG_INFO, "t", NULL, "m");
    obj = one_json_line();
    assert_string_equal(field(obj, "tenant"), "t\"}\n{");
    json_decref(obj);
}

static void test_log_json_long_message_is_cut_but_valid(void **state)
{
    assert_true(cq_log_format_set("json"));
    char *big = malloc(20000);
    memset(big, '"', 19999); /* each byte escapes to two */
    big[19999] = '\0';
    CQ_LOG(CQ_LOG_INFO, "t", NULL, "%s", big);
    json_t *obj = one_json_line();
    const char *m = field(obj, "msg");
    assert_true(strlen(m) > 1000);
    assert_true(strlen(m) < 19999);
    json_decref(obj);
    free(big);
}

static void test_log_text_is_one_line_with_the_context_id(void **state)
{
    assert_true(cq_log_format_set("text"));
    CQ_LOG_CTX_PUT(cq_log_ctx()->job_id, "job-7");
    CQ_LOG_CODE(CQ_LOG_WARN, "worker", NULL, "BAD_THING", "two\nlines");
    char *line = drain();
    assert_non_null(strstr(line, " warn  [worker] job-7 two lines code=BAD_THING\n"));
    assert_int_equal(strchr(line, '\n') - line, (long)strlen(line) - 1);
}

static int evaluated;

static const char *count_evaluation(void)
{
    evaluated++;
    return "x";
}

static void test_log_level_is_checked_before_formatting(void **state)
{
    cq_log_level_set("warn");
    evaluated = 0;
    CQ_LOG(CQ_LOG_DEBUG, "t", NULL, "%s", count_evaluation());
    CQ_LOG(CQ_LOG_INFO, "t", NULL, "%s", count_evaluation());
    assert_int_equal(evaluated, 0);
    assert_string_equal(drain(), "");
    CQ_LOG(CQ_LOG_WARN, "t", NULL, "%s", count_evaluation());
    assert_int_equal(evaluated, 1);
    assert_true(strlen(drain()) > 0);
}

static void test_log_format_names(void **state)
{
    assert_true(cq_log_format_set("auto")); /* a pipe is no terminal */
    assert_true(cq_log_format_json());
    assert_true(cq_log_format_set("text"));
    assert_false(cq_log_format_json());
    assert_false(cq_log_format_set("xml"));
}

static void test_log_traceparent_parse_and_child(void **state)
{
    cq_trace_t t;
    assert_true(cq_trace_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &t));
    assert_string_equal(t.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_string_equal(t.span_id, "b7ad6b7169203331");
    assert_int_equal(t.flags, 1);
    char out[CQ_TRACE_HEADER_LEN + 1];
    cq_trace_format(&t, out);
    assert_string_equal(out, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    cq_trace_child(&t, out);
    assert_int_equal(strlen(out), 55);
    assert_memory_equal(out, "00-0af7651916cd43dd8448eb211c80319c-", 36);
    assert_memory_not_equal(out + 36, "b7ad6b7169203331", 16);
    cq_trace_t back;
    assert_true(cq_trace_parse(out, &back));
    /* A later version may carry more fields. */
    assert_true(cq_trace_parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-x", &t));
    const char *bad[] = {
        NULL,
        "",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", /* v00 with more */
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
        "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_false(cq_trace_parse(bad[i], &t));
        assert_string_equal(t.trace_id, "");
    }
    cq_trace_new(&t);
    cq_trace_format(&t, out);
    assert_true(cq_trace_parse(out, &back));
    assert_string_equal(back.trace_id, t.trace_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_json_has_the_fields_it_knows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_json_takes_the_thread_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_context_is_per_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_json_escapes_any_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_json_long_message_is_cut_but_valid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_text_is_one_line_with_the_context_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_level_is_checked_before_formatting, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_format_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_traceparent_parse_and_child, setup, teardown),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
