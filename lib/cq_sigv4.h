/*
 * cq_sigv4.h — AWS Signature Version 4 for one HTTP request (Bedrock calls).
 *
 * coachq signs Bedrock requests itself instead of using CURLOPT_AWS_SIGV4:
 * libcurl 7.88 (our minimum) signs the request path as sent, while AWS
 * encodes each path segment once more for every service but S3. Every
 * Bedrock model id has a ':' ("...-v1:0"), sent as "%3A", so curl's
 * signature never matches ("%253A" on the AWS side) and each call is a 403.
 *
 * Pure computation (OpenSSL SHA-256 and HMAC), no I/O; any thread.
 */
#ifndef CQ_SIGV4_H
#define CQ_SIGV4_H

#include "cq_common.h"
#include "cq_err.h"

/* Credentials; borrowed strings. session_token is NULL for long-term keys. */
typedef struct {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
} cq_sigv4_creds_t;

/* Fills creds from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN (empty token: NULL). The pointers point into the
 * environment: valid until it changes. False when the key id or the
 * secret is missing or empty. */
bool cq_sigv4_creds_from_env(cq_sigv4_creds_t *creds);

/* Signs a request without a query string. headers are "Name: value" lines
 * that will be sent; all of them are signed, with the host (taken from url)
 * and x-amz-date (from now_ms) and, when creds has one, x-amz-security-token.
 * On success *added (caller frees each line and the array) holds the lines
 * to send as well, in this order: "Host: ...", "X-Amz-Date: ...",
 * ["X-Amz-Security-Token: ...",] "Authorization: AWS4-HMAC-SHA256 ...".
 * A signature is valid for about 5 minutes after now_ms.
 * Errors (unparseable url, query string, header without ':', control
 * characters) give CQ_ERR_CONFIG with errstr; nothing is allocated then. */
cq_err_t cq_sigv4_sign(const char *method, const char *url, const char *const *headers,
                       size_t header_count, const void *body, size_t body_len, const char *region,
                       const char *service, const cq_sigv4_creds_t *creds, int64_t now_ms,
                       char ***added, size_t *added_count, char *errstr, size_t errstr_size);

#endif
