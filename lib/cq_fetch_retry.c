/*
 * cq_fetch_retry.c — Retry-After, backoff and curl result classes (see
 * cq_fetch_retry.h). No state; thread-safe.
 */
#include "cq_fetch_retry.h"

#include <ctype.h>
#include <stdlib.h>

#include <curl/curl.h>

int64_t cq_fetch_retry_after_ms(const char *value, int64_t now_epoch_ms, int64_t max_ms)
{
    if (!value || !*value || max_ms < 0)
        return -1;
    int64_t ms;
    if (isdigit((unsigned char)value[0])) {
        char *end;
        long long s = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end)
            return -1;
        ms = s > max_ms / 1000 + 1 ? max_ms : (int64_t)s * 1000;
    } else {
        time_t at = curl_getdate(value, NULL);
        if (at == (time_t)-1)
            return -1;
        ms = (int64_t)at * 1000 - now_epoch_ms;
    }
    if (ms < 0)
        ms = 0;
    return ms > max_ms ? max_ms : ms;
}

int64_t cq_fetch_backoff_ms(int64_t base_ms, int64_t cap_ms, int tries, unsigned int *seed)
{
    int64_t delay = base_ms;
    for (int i = 1; i < tries && delay < cap_ms; i++)
        delay *= 2;
    if (delay > cap_ms)
        delay = cap_ms;
    if (delay <= 0)
        return 0;
    return delay - (int64_t)(rand_r(seed) % (unsigned int)(delay / 2 + 1));
}

cq_fetch_fail_t cq_fetch_fail_from_curl(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OK:
        return CQ_FETCH_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return CQ_FETCH_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
        return CQ_FETCH_CONNECT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return CQ_FETCH_RESET;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
        return CQ_FETCH_TLS;
    default:
        return CQ_FETCH_OTHER;
    }
}

const char *cq_fetch_fail_name(cq_fetch_fail_t fail)
{
    static const char *const names[] = {"ok",    "refused", "circuit_open", "timeout",   "connect",
                                        "reset", "tls",     "too_large",    "redirects", "other"};
    return (int)fail >= 0 && (size_t)fail < CQ_ARRAY_SIZE(names) ? names[fail] : "other";
}
