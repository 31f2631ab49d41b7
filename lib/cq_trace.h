/*
 * cq_trace.h — W3C Trace Context (traceparent) for a request and its job.
 *
 * The gateway takes a client's traceparent (or starts a trace), the job
 * envelope carries it, the worker sends it on with every LLM and upstream
 * call (same trace id, a new span id per call) and logs the trace id.
 * Only version 00 is written; a later version is read by its first four
 * fields, as the specification asks.
 *
 * Pure functions and fixed-size values; thread-safe.
 */
#ifndef CQ_TRACE_H
#define CQ_TRACE_H

#include "cq_common.h"

/* "00-" 32 hex "-" 16 hex "-" 2 hex, plus NUL. */
#define CQ_TRACE_HEADER_LEN 55

typedef struct {
    char trace_id[33]; /* 32 lower-case hex digits; "" when there is no trace */
    char span_id[17];  /* the parent span: 16 lower-case hex digits */
    uint8_t flags;     /* trace-flags (bit 0: sampled) */
} cq_trace_t;

/* Parses a traceparent header value. False (trace left empty) when it is
 * malformed, or when the trace or span id is all zeros. */
bool cq_trace_parse(const char *header, cq_trace_t *trace);

/* A new trace (random trace and span ids, sampled flag set). */
void cq_trace_new(cq_trace_t *trace);

/* Writes trace as a traceparent value (version 00) into out; "" when the
 * trace is empty. */
void cq_trace_format(const cq_trace_t *trace, char out[CQ_TRACE_HEADER_LEN + 1]);

/* The traceparent of an outgoing call made inside trace: the same trace id
 * and flags, a new random span id. "" when the trace is empty. */
void cq_trace_child(const cq_trace_t *trace, char out[CQ_TRACE_HEADER_LEN + 1]);

#endif
