/*
 * cq_log.h — one logging macro for the whole fleet.
 *
 * One line per event: time, level, component, request or job id, message.
 * The level is checked before any formatting. Thread-safe (one write(2) per
 * line). Secrets and full payloads are logged only at debug.
 *
 * Two formats (log.format): text, for a person at a terminal
 *   2026-12-01T22:54:20.123Z info  [worker] <job id> message
 * and JSON lines, for a log pipeline: one object per line with
 *   time (RFC 3339 UTC, ms), level, component, request_id, job_id, tenant,
 *   operation, trace_id, id, code, msg
 * where a field the event does not have is left out. request_id, job_id,
 * tenant, operation and trace_id come from the calling thread's log
 * context (cq_log_ctx), set once per request or per job callback (the
 * fetch and LLM layers also send its trace on, see cq_trace.h); id is
 * the call's own id when it is not already the context's; code is the
 * error code of CQ_LOG_CODE. The message is escaped as JSON: control
 * characters as \u00XX, bytes that are not UTF-8 as U+FFFD.
 */
#ifndef CQ_LOG_H
#define CQ_LOG_H

#include "cq_common.h"
#include "cq_trace.h"

typedef enum {
    CQ_LOG_ERROR = 0,
    CQ_LOG_WARN = 1,
    CQ_LOG_INFO = 2,
    CQ_LOG_DEBUG = 3,
} cq_log_level_t;

extern volatile int cq_log_level_current;

/* Sets the level from a name ("error", "warn", "info", "debug"); false if unknown. */
bool cq_log_level_set(const char *name);

/* Sets the format from a name: "text", "json", or "auto" (text when
 * standard error is a terminal, JSON lines otherwise); false if unknown.
 * Call at start, before threads log. */
bool cq_log_format_set(const char *name);
/* Whether lines are JSON now. */
bool cq_log_format_json(void);

/* Where lines go (standard error until changed); returns the previous
 * descriptor. For tests. */
int cq_log_fd_set(int fd);

/* What the calling thread is working on. Every field is a NUL-terminated
 * string, "" when unknown; values longer than a field are cut. */
typedef struct {
    char request_id[40];
    char job_id[40];
    char tenant[64];
    char operation[64];
    cq_trace_t trace; /* the W3C trace the work belongs to; trace.trace_id "" when none */
} cq_log_ctx_t;

/* The calling thread's context (thread-local, never NULL): fill its fields
 * with cq_log_ctx_put, or replace it whole with cq_log_ctx_set. */
cq_log_ctx_t *cq_log_ctx(void);
/* Copies ctx into the calling thread's context; NULL clears it. */
void cq_log_ctx_set(const cq_log_ctx_t *ctx);
/* Copies value (NULL: "") into field, cut to field_size - 1 bytes. */
void cq_log_ctx_put(char *field, size_t field_size, const char *value);
#define CQ_LOG_CTX_PUT(field, value) cq_log_ctx_put((field), sizeof(field), (value))

/* Writes one line; use CQ_LOG instead. id and code may be NULL. */
void cq_log_write(cq_log_level_t level, const char *component, const char *id, const char *code,
                  const char *fmt, ...) CQ_PRINTF(5, 6);

#define CQ_LOG(level, component, id, ...)                                                          \
    do {                                                                                           \
        if ((int)(level) <= cq_log_level_current)                                                  \
            cq_log_write((level), (component), (id), NULL, __VA_ARGS__);                           \
    } while (0)

/* The same with an error code (a cq_err_t name, e.g. "UPSTREAM_TIMEOUT"),
 * written as the JSON field code (in text: after the message). */
#define CQ_LOG_CODE(level, component, id, code, ...)                                               \
    do {                                                                                           \
        if ((int)(level) <= cq_log_level_current)                                                  \
            cq_log_write((level), (component), (id), (code), __VA_ARGS__);                         \
    } while (0)

#endif
