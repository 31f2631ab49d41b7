/*
 * cq_common.h — small things every coachq file uses: allocation that aborts
 * on out-of-memory (the only failure we do not return), array sizes and
 * printf-format attributes.
 */
#ifndef CQ_COMMON_H
#define CQ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define CQ_ARRAY_SIZE(a)            (sizeof(a) / sizeof((a)[0]))
#define CQ_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define CQ_UNUSED(x)                ((void)(x))

/* Allocation: never returns NULL; on out-of-memory prints and aborts
 * (returns_nonnull tells the compiler and static analysis so). */
#define CQ_NONNULL_RESULT __attribute__((returns_nonnull))
void *cq_malloc(size_t size) CQ_NONNULL_RESULT;
void *cq_calloc(size_t nmemb, size_t size) CQ_NONNULL_RESULT;
void *cq_realloc(void *ptr, size_t size) CQ_NONNULL_RESULT;
char *cq_strdup(const char *s) CQ_NONNULL_RESULT;
char *cq_strndup(const char *s, size_t n) CQ_NONNULL_RESULT;
/* Formats into a newly allocated string; caller frees. */
char *cq_asprintf(const char *fmt, ...) CQ_PRINTF(1, 2) CQ_NONNULL_RESULT;

/* Copies src into dst of dst_size bytes, always NUL-terminated, truncating. */
void cq_strlcpy(char *dst, const char *src, size_t dst_size);
/* snprintf into an error buffer; a no-op when errstr is NULL or size 0. */
void cq_errstr_set(char *errstr, size_t errstr_size, const char *fmt, ...) CQ_PRINTF(3, 4);

/* Wall clock in milliseconds since the Unix epoch. */
int64_t cq_now_ms(void);
/* Monotonic clock in milliseconds (for timeouts and intervals). */
int64_t cq_mono_ms(void);
/* Formats ms since epoch as ISO 8601 UTC with milliseconds ("2026-01-02T03:04:05.678Z"). */
void cq_time_iso8601(int64_t epoch_ms, char *buf, size_t buf_size);

#endif
