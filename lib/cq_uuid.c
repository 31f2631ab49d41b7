/*
 * cq_uuid.c — UUIDv7 generation and syntax check (see cq_uuid.h).
 *
 * Randomness comes from OpenSSL's RAND_bytes, which is thread-safe; if it
 * ever fails we abort, since a guessable job id would leak other tenants'
 * results.
 */
#include "cq_uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

void cq_uuid_v7(char out[CQ_UUID_STR_LEN + 1])
{
    unsigned char b[16];
    if (RAND_bytes(b + 6, 10) != 1) {
        fprintf(stderr, "coachq: RAND_bytes failed: no secure randomness for job ids\n");
        abort();
    }
    uint64_t ms = (uint64_t)cq_now_ms();
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* RFC 9562 variant */
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 0xf];
    }
    *p = '\0';
}

bool cq_uuid_valid(const char *s)
{
    if (!s || strlen(s) != CQ_UUID_STR_LEN)
        return false;
    for (int i = 0; i < CQ_UUID_STR_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}
