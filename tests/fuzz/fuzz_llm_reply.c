/*
 * fuzz_llm_reply.c — what a worker makes of an LLM provider's HTTP reply
 * (lib/cq_llm_reply.c: cq_llm_parse_reply, cq_llm_retry_after_ms) for every
 * provider shape: OpenAI-compatible, Anthropic, Bedrock.
 *
 * Input: byte 0 the provider (mod 3), byte 1 the HTTP status (from a table
 * of the ones providers send, or a raw value), byte 2 the transport outcome
 * (low 3 bits) and whether a Retry-After header follows (bit 3): then that
 * header's value up to the first '\n'. The rest is the body, passed without
 * a terminating NUL so a read past its end is caught.
 * Every verdict must come with a message, and OK with content.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cq_llm_proto.h"

static const long statuses[] = {200, 200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 408,
                                409, 413, 422, 429, 500, 501, 502, 503, 504, 529, 0,   299};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const cq_llm_provider_t providers[] = {CQ_LLM_OPENAI, CQ_LLM_ANTHROPIC, CQ_LLM_BEDROCK};
    cq_llm_provider_t p = providers[data[0] % 3];
    long status = data[1] < 2 * CQ_ARRAY_SIZE(statuses)
                      ? statuses[data[1] % CQ_ARRAY_SIZE(statuses)]
                      : 100 + (long)data[1] * 2;
    int transport = (data[2] & 7) % 7;
    const uint8_t *body = data + 3;
    size_t body_len = size - 3;
    char *retry_after = NULL;
    if (data[2] & 8) {
        const uint8_t *nl = memchr(body, '\n', body_len);
        size_t n = nl ? (size_t)(nl - body) : body_len;
        retry_after = cq_strndup((const char *)body, n);
        body += nl ? n + 1 : n;
        body_len -= nl ? n + 1 : n;
        int64_t ms = cq_llm_retry_after_ms(retry_after, 1800000000000LL, 60000);
        if (ms < -1 || ms > 60000)
            __builtin_trap(); /* outside [0, max] and not "none" */
    }
    /* An exact-size copy: libFuzzer's own buffer may be followed by readable bytes. */
    char *copy = body_len ? malloc(body_len) : NULL;
    if (body_len)
        memcpy(copy, body, body_len);
    cq_llm_reply_t reply;
    cq_llm_parse_reply(p, status, retry_after, copy, body_len, transport, 60000, &reply);
    if (reply.message[0] == '\0' || (reply.verdict == CQ_LLM_OK && !reply.content) ||
        reply.retry_after_ms < -1 || reply.retry_after_ms > 60000)
        __builtin_trap();
    cq_llm_reply_clear(&reply);
    free(copy);
    free(retry_after);
    return 0;
}
