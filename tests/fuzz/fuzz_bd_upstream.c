/*
 * fuzz_bd_upstream.c — the Account and Traction services' replies as the
 * business-data worker reads them (workers/business_data/cq_bd_upstream.c:
 * size and depth caps, jansson, the reply schemas of schemas/upstream/, the
 * consistency checks), then what it computes from the usable ones
 * (cq_bd_aggregate, cq_bd_prompt_context).
 *
 * Input: up to CQ_BD_SRC_COUNT bodies separated by NUL bytes (JSON text
 * holds none), the i-th for source i (cq_bd_source_id_t order); an empty
 * or missing part is a source not fetched. Each body is an exact-size copy
 * so reads past its end are caught.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cq_bd_aggregate.h"
#include "cq_bd_upstream.h"

static cq_bd_upstream_t *upstream;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    upstream = cq_bd_upstream_new(err, sizeof(err));
    if (!upstream) {
        fprintf(stderr, "fuzz_bd_upstream: %s\n", err);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cq_bd_reply_t replies[CQ_BD_SRC_COUNT];
    memset(replies, 0, sizeof(replies));
    const uint8_t *p = data, *end = data + size;
    for (int i = 0; i < CQ_BD_SRC_COUNT && p < end; i++) {
        const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
        size_t n = (size_t)((nul ? nul : end) - p);
        if (n > 0) {
            char *body = malloc(n);
            memcpy(body, p, n);
            bool ok = cq_bd_upstream_validate(upstream, (cq_bd_source_id_t)i, body, n, &replies[i]);
            if (ok != (replies[i].state == CQ_BD_REPLY_OK) || (ok && !replies[i].data) ||
                (!ok && !replies[i].reason[0]))
                __builtin_trap();
            free(body);
        }
        p += n + 1;
    }
    json_t *notes = NULL;
    json_t *result = cq_bd_aggregate("acme", replies, 1800000000000LL, &notes);
    json_decref(result);
    json_decref(notes);
    json_decref(cq_bd_prompt_context(replies));
    for (int i = 0; i < CQ_BD_SRC_COUNT; i++)
        cq_bd_reply_clear(&replies[i]);
    return 0;
}
