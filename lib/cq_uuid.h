/*
 * cq_uuid.h — job ids: UUIDv7 (RFC 9562), time-ordered and unguessable.
 */
#ifndef CQ_UUID_H
#define CQ_UUID_H

#include "cq_common.h"

#define CQ_UUID_STR_LEN 36

/* Writes a new UUIDv7 as 36 lower-case characters plus NUL into out (37 bytes).
 * 48 bits of milliseconds, then 74 random bits from the OpenSSL CSPRNG.
 * Thread-safe. */
void cq_uuid_v7(char out[CQ_UUID_STR_LEN + 1]);

/* Whether s is a canonical UUID string (any version, lower or upper case hex). */
bool cq_uuid_valid(const char *s);

#endif
