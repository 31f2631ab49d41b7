/*
 * cq_fetch_retry.h — the retry arithmetic of the fetch layer, apart so it
 * can be tested without a network: reading Retry-After, the jittered
 * exponential backoff, and which curl results mean what.
 *
 * Pure functions (the backoff's randomness comes from the caller's seed);
 * any thread.
 */
#ifndef CQ_FETCH_RETRY_H
#define CQ_FETCH_RETRY_H

#include "cq_common.h"
#include "cq_fetch.h"

/* A Retry-After value, delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct
 * 2015 07:28:00 GMT"), as milliseconds from now_epoch_ms, clamped to
 * [0, max_ms]; -1 when absent or unreadable. */
int64_t cq_fetch_retry_after_ms(const char *value, int64_t now_epoch_ms, int64_t max_ms);

/* The wait before try number `tries` + 1 (tries >= 1 made so far): base_ms
 * doubled per earlier try, capped at cap_ms, then a random point in its
 * upper half ([d/2, d]) so callers that failed together do not retry
 * together. 0 when base_ms or cap_ms is 0. */
int64_t cq_fetch_backoff_ms(int64_t base_ms, int64_t cap_ms, int tries, unsigned int *seed);

/* The failure class of a CURLcode (passed as int: no curl types in
 * headers). CURLE_OK gives CQ_FETCH_OK. */
cq_fetch_fail_t cq_fetch_fail_from_curl(int curl_code);

#endif
