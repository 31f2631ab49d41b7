/*
 * cq_log.h — one logging macro for the whole fleet.
 *
 * One line per event: time, level, component, request or job id, message.
 * The level is checked before any formatting. Thread-safe (one write(2) per
 * line). Secrets and full payloads are logged only at debug.
 */
#ifndef CQ_LOG_H
#define CQ_LOG_H

#include "cq_common.h"

typedef enum {
    CQ_LOG_ERROR = 0,
    CQ_LOG_WARN = 1,
    CQ_LOG_INFO = 2,
    CQ_LOG_DEBUG = 3,
} cq_log_level_t;

extern volatile int cq_log_level_current;

/* Sets the level from a name ("error", "warn", "info", "debug"); false if unknown. */
bool cq_log_level_set(const char *name);

/* Writes one line; use CQ_LOG instead. id may be NULL. */
void cq_log_write(cq_log_level_t level, const char *component, const char *id, const char *fmt, ...)
    CQ_PRINTF(4, 5);

#define CQ_LOG(level, component, id, ...)                                                          \
    do {                                                                                           \
        if ((int)(level) <= cq_log_level_current)                                                  \
            cq_log_write((level), (component), (id), __VA_ARGS__);                                 \
    } while (0)

#endif
