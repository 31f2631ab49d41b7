/*
 * cq_log.c — line logger to stderr (see cq_log.h).
 *
 * Any thread may log. Each line is formatted into a stack buffer and written
 * with a single write(2), so lines from different threads never interleave.
 */
#include "cq_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

volatile int cq_log_level_current = CQ_LOG_INFO;

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

void cq_log_write(cq_log_level_t level, const char *component, const char *id, const char *fmt, ...)
{
    char line[4096];
    char ts[40];
    cq_time_iso8601(cq_now_ms(), ts, sizeof(ts));
    int n = snprintf(line, sizeof(line), "%s %-5s [%s]%s%s ", ts,
                     cq_log_names[level <= CQ_LOG_DEBUG ? level : CQ_LOG_DEBUG],
                     component ? component : "-", id ? " " : "", id ? id : "");
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    /* Keep one event on one line even when a message carries newlines. */
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    CQ_UNUSED(w);
}
