/*
 * cq_common.c — allocation wrappers, string and clock helpers.
 *
 * Thread-safe: no state. Out of memory aborts with a message, as
 * CONVENTIONS.md says; every other failure is returned by the caller.
 */
#include "cq_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void cq_oom(size_t size)
{
    fprintf(stderr, "coachq: out of memory allocating %zu bytes\n", size);
    abort();
}

void *cq_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        cq_oom(size);
    return p;
}

void *cq_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        cq_oom(nmemb * size);
    return p;
}

void *cq_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        cq_oom(size);
    return p;
}

char *cq_strdup(const char *s)
{
    return cq_strndup(s, strlen(s));
}

char *cq_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = cq_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *cq_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = cq_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void cq_strlcpy(char *dst, const char *src, size_t dst_size)
{
    if (dst_size == 0)
        return;
    size_t len = strnlen(src, dst_size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void cq_errstr_set(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || errstr_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

int64_t cq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cq_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cq_time_iso8601(int64_t epoch_ms, char *buf, size_t buf_size)
{
    time_t secs = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, buf_size, "%s.%03dZ", base, (int)(epoch_ms % 1000));
}
