/*
 * cq_log.c — line logger to stderr, text or JSON lines (see cq_log.h).
 *
 * Any thread may log. Each line is formatted into a stack buffer and written
 * with a single write(2), so lines from different threads never interleave.
 * The context is a thread-local struct of fixed-size strings: setting it is
 * a copy, reading it costs nothing, and nothing it holds can dangle when
 * the job or request it describes is freed.
 */
#include "cq_log.h"
#include "cq_utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

volatile int cq_log_level_current = CQ_LOG_INFO;
static volatile int cq_log_json;
static volatile int cq_log_fd = STDERR_FILENO;
static _Thread_local cq_log_ctx_t cq_log_thread_ctx;

/* Longest line written; a longer message is cut. */
#define CQ_LOG_LINE_MAX 4096

static const char *const cq_log_names[] = {"error", "warn", "info", "debug"};

bool cq_log_level_set(const char *name)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_log_names); i++) {
        if (strcmp(name, cq_log_names[i]) == 0) {
            cq_log_level_current = (int)i;
            return true;
        }
    }
    return false;
}

bool cq_log_format_set(const char *name)
{
    if (strcmp(name, "text") == 0)
        cq_log_json = 0;
    else if (strcmp(name, "json") == 0)
        cq_log_json = 1;
    else if (strcmp(name, "auto") == 0)
        cq_log_json = !isatty(cq_log_fd);
    else
        return false;
    return true;
}

bool cq_log_format_json(void)
{
    return cq_log_json != 0;
}

int cq_log_fd_set(int fd)
{
    int old = cq_log_fd;
    cq_log_fd = fd;
    return old;
}

cq_log_ctx_t *cq_log_ctx(void)
{
    return &cq_log_thread_ctx;
}

void cq_log_ctx_set(const cq_log_ctx_t *ctx)
{
    if (ctx)
        cq_log_thread_ctx = *ctx;
    else
        memset(&cq_log_thread_ctx, 0, sizeof(cq_log_thread_ctx));
}

void cq_log_ctx_put(char *field, size_t field_size, const char *value)
{
    cq_strlcpy(field, value ? value : "", field_size);
}

/* A line being built; appends past the end are dropped (and noted). */
typedef struct {
    char *buf;
    size_t len, cap;
} cq_log_buf_t;

static void cq_log_raw(cq_log_buf_t *b, const char *s, size_t n)
{
    if (n > b->cap - b->len)
        n = b->cap - b->len;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

/* s (n bytes, any bytes) as the inside of a JSON string. A character is
 * written whole or not at all. */
static void cq_log_escaped(cq_log_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        char esc[8];
        size_t elen = 0, used = 1;
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = (char)(c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
            elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): esc is bytes + elen */
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            elen = 6;
        } else if (c < 0x80) {
            esc[0] = (char)c;
            elen = 1;
        } else {
            uint32_t cp;
            size_t k = cq_utf8_decode(p + i, n - i, &cp);
            if (k == 0) {
                /* Not UTF-8: one replacement per byte (esc is bytes + elen, no string). */
                memcpy(esc, "\\ufffd", 6); /* NOLINT(bugprone-not-null-terminated-result) */
                elen = 6;
            } else {
                memcpy(esc, p + i, k);
                elen = used = k;
            }
        }
        if (elen > b->cap - b->len)
            return;
        memcpy(b->buf + b->len, esc, elen);
        b->len += elen;
        i += used;
    }
}

/* ,"name":"value" when value is set. */
static void cq_log_field(cq_log_buf_t *b, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    cq_log_raw(b, ",\"", 2);
    cq_log_raw(b, name, strlen(name));
    cq_log_raw(b, "\":\"", 3);
    cq_log_escaped(b, value, strlen(value));
    cq_log_raw(b, "\"", 1);
}

static size_t cq_log_format_json_line(char *line, size_t cap, const char *ts, const char *level,
                                      const char *component, const char *id, const char *code,
                                      const char *msg, size_t msg_len)
{
    const cq_log_ctx_t *ctx = &cq_log_thread_ctx;
    /* Room kept for the closing "}\n, whatever the message's length. */
    cq_log_buf_t b = {line, 0, cap - 3};
    cq_log_raw(&b, "{\"time\":\"", 9);
    cq_log_raw(&b, ts, strlen(ts));
    cq_log_raw(&b, "\"", 1);
    cq_log_field(&b, "level", level);
    cq_log_field(&b, "component", component ? component : "-");
    cq_log_field(&b, "request_id", ctx->request_id);
    cq_log_field(&b, "job_id", ctx->job_id);
    cq_log_field(&b, "tenant", ctx->tenant);
    cq_log_field(&b, "operation", ctx->operation);
    cq_log_field(&b, "trace_id", ctx->trace.trace_id);
    if (id && strcmp(id, ctx->job_id) != 0 && strcmp(id, ctx->request_id) != 0)
        cq_log_field(&b, "id", id);
    cq_log_field(&b, "code", code);
    cq_log_raw(&b, ",\"msg\":\"", 8);
    cq_log_escaped(&b, msg, msg_len);
    b.cap += 3;
    cq_log_raw(&b, "\"}\n", 3);
    return b.len;
}

void cq_log_write(cq_log_level_t level, const char *component, const char *id, const char *code,
                  const char *fmt, ...)
{
    char msg[CQ_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t msg_len = m < 0 ? 0 : (size_t)m >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)m;
    char ts[40];
    cq_time_iso8601(cq_now_ms(), ts, sizeof(ts));
    const char *name = cq_log_names[level <= CQ_LOG_DEBUG ? level : CQ_LOG_DEBUG];
    char line[CQ_LOG_LINE_MAX + 512];
    size_t len;
    if (cq_log_json) {
        len = cq_log_format_json_line(line, sizeof(line), ts, name, component, id, code, msg,
                                      msg_len);
    } else {
        const cq_log_ctx_t *ctx = &cq_log_thread_ctx;
        if (!id)
            id = ctx->job_id[0] ? ctx->job_id : ctx->request_id[0] ? ctx->request_id : NULL;
        int n = snprintf(line, sizeof(line), "%s %-5s [%s]%s%s %.*s%s%s", ts, name,
                         component ? component : "-", id ? " " : "", id ? id : "", (int)msg_len,
                         msg, code ? " code=" : "", code ? code : "");
        len = n < 0 ? 0 : (size_t)n >= sizeof(line) - 1 ? sizeof(line) - 2 : (size_t)n;
        /* Keep one event on one line even when a message carries newlines. */
        for (size_t i = 0; i < len; i++)
            if (line[i] == '\n' || line[i] == '\r')
                line[i] = ' ';
        line[len++] = '\n';
    }
    ssize_t w = write(cq_log_fd, line, len);
    CQ_UNUSED(w);
}
