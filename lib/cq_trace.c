/*
 * cq_trace.c — traceparent parsing and ids (see cq_trace.h).
 *
 * Ids come from OpenSSL's RAND_bytes (thread-safe); they need not be
 * secret, only unique, but the same source as job ids keeps one path.
 */
#include "cq_trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

static bool cq_trace_hex(const char *s, size_t n, bool *all_zero)
{
    *all_zero = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false; /* upper case is invalid in traceparent */
        if (c != '0')
            *all_zero = false;
    }
    return true;
}

bool cq_trace_parse(const char *header, cq_trace_t *trace)
{
    memset(trace, 0, sizeof(*trace));
    if (!header)
        return false;
    while (*header == ' ' || *header == '\t')
        header++;
    size_t len = strlen(header);
    while (len > 0 && (header[len - 1] == ' ' || header[len - 1] == '\t'))
        len--;
    bool zero;
    if (len < CQ_TRACE_HEADER_LEN || !cq_trace_hex(header, 2, &zero) || header[2] != '-' ||
        header[35] != '-' || header[52] != '-')
        return false;
    /* Version ff is forbidden; 00 has exactly four fields; a later version
     * may add fields after a dash. */
    if (strncmp(header, "ff", 2) == 0 || (strncmp(header, "00", 2) == 0 && len != 55) ||
        (len > 55 && header[55] != '-'))
        return false;
    bool trace_zero, span_zero;
    if (!cq_trace_hex(header + 3, 32, &trace_zero) || trace_zero ||
        !cq_trace_hex(header + 36, 16, &span_zero) || span_zero ||
        !cq_trace_hex(header + 53, 2, &zero))
        return false;
    memcpy(trace->trace_id, header + 3, 32);
    trace->trace_id[32] = '\0';
    memcpy(trace->span_id, header + 36, 16);
    trace->span_id[16] = '\0';
    trace->flags = (uint8_t)strtoul((char[3]){header[53], header[54], '\0'}, NULL, 16);
    return true;
}

/* n random bytes as 2n hex digits (never all zeros) into out. */
static void cq_trace_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[24];
    do {
        if (RAND_bytes(b, (int)n) != 1) {
            fprintf(stderr, "coachq: RAND_bytes failed\n");
            abort();
        }
    } while (n > 0 && memcmp(b, (unsigned char[24]){0}, n) == 0);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 0xf];
    }
    out[2 * n] = '\0';
}

void cq_trace_new(cq_trace_t *trace)
{
    char ids[49]; /* one draw for both ids: RAND_bytes costs about 2 us a call */
    cq_trace_random_hex(ids, 24);
    memcpy(trace->trace_id, ids, 32);
    trace->trace_id[32] = '\0';
    memcpy(trace->span_id, ids + 32, 17);
    trace->flags = 1;
}

void cq_trace_format(const cq_trace_t *trace, char out[CQ_TRACE_HEADER_LEN + 1])
{
    out[0] = '\0';
    if (trace->trace_id[0])
        snprintf(out, CQ_TRACE_HEADER_LEN + 1, "00-%s-%s-%02x", trace->trace_id, trace->span_id,
                 trace->flags);
}

void cq_trace_child(const cq_trace_t *trace, char out[CQ_TRACE_HEADER_LEN + 1])
{
    out[0] = '\0';
    if (!trace->trace_id[0])
        return;
    char span[17];
    cq_trace_random_hex(span, 8);
    snprintf(out, CQ_TRACE_HEADER_LEN + 1, "00-%s-%s-%02x", trace->trace_id, span, trace->flags);
}
