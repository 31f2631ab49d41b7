/*
 * cq_sigv4.c — AWS Signature Version 4 (see cq_sigv4.h).
 *
 * The canonical request follows the AWS rules for services other than S3:
 * the path as it goes on the wire is URI-encoded once more (so "%3A" is
 * signed as "%253A"), header names are lower-cased, values trimmed with
 * inner runs of spaces collapsed, headers sorted by name. The payload hash
 * is signed but not sent (only S3 wants x-amz-content-sha256).
 *
 * Stateless; any thread. Keys and signatures never reach the log.
 */
#include "cq_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CQ_SIGV4_ALGO "AWS4-HMAC-SHA256"

typedef struct {
    char *name;  /* lower case */
    char *value; /* trimmed, inner space runs collapsed */
} cq_sigv4_header_t;

static FILE *cq_sigv4_stream(char **buf, size_t *len)
{
    FILE *f = open_memstream(buf, len);
    if (!f) {
        fprintf(stderr, "coachq: out of memory\n");
        abort();
    }
    return f;
}

static void cq_sigv4_stream_close(FILE *f)
{
    if (ferror(f) || fclose(f) != 0) {
        fprintf(stderr, "coachq: out of memory\n");
        abort();
    }
}

static void cq_sigv4_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xf];
    }
    out[2 * n] = '\0';
}

static void cq_sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
        fprintf(stderr, "coachq: SHA-256 failed\n");
        abort();
    }
    cq_sigv4_hex(md, 32, out);
}

static void cq_sigv4_hmac(const void *key, size_t key_len, const char *msg, unsigned char out[32])
{
    unsigned int out_len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out,
              &out_len) ||
        out_len != 32) {
        fprintf(stderr, "coachq: HMAC-SHA256 failed\n");
        abort();
    }
}

static bool cq_sigv4_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static bool cq_sigv4_has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

/* Splits "scheme://authority/path" into the Host value and the canonical URI. */
static cq_err_t cq_sigv4_url(const char *url, char **host, char **canon_uri, char *errstr,
                             size_t errstr_size)
{
    const char *rest;
    const char *default_port;
    if (strncmp(url, "https://", 8) == 0) {
        rest = url + 8;
        default_port = "443";
    } else if (strncmp(url, "http://", 7) == 0) {
        rest = url + 7;
        default_port = "80";
    } else {
        cq_errstr_set(errstr, errstr_size, "sigv4: URL must start with https:// or http://");
        return CQ_ERR_CONFIG;
    }
    size_t auth_len = strcspn(rest, "/?#");
    const char *path = rest + auth_len;
    if (auth_len == 0 || memchr(rest, '@', auth_len) || cq_sigv4_has_ctl(rest, strlen(rest)) ||
        strchr(rest, ' ')) {
        cq_errstr_set(errstr, errstr_size, "sigv4: URL has no usable host");
        return CQ_ERR_CONFIG;
    }
    if (strchr(path, '?') || strchr(path, '#')) {
        cq_errstr_set(errstr, errstr_size, "sigv4: URLs with a query or fragment are not signed");
        return CQ_ERR_CONFIG;
    }
    /* A default port is not part of the Host header curl would send. */
    const char *colon = memchr(rest, ':', auth_len);
    size_t host_len = auth_len;
    if (colon && strlen(default_port) == auth_len - (size_t)(colon + 1 - rest) &&
        strncmp(colon + 1, default_port, strlen(default_port)) == 0)
        host_len = (size_t)(colon - rest);
    *host = cq_strndup(rest, host_len);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = cq_sigv4_stream(&buf, &len);
    if (!*path)
        fputc('/', f);
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p == '/' || cq_sigv4_unreserved(*p))
            fputc(*p, f);
        else
            fprintf(f, "%%%02X", *p);
    }
    cq_sigv4_stream_close(f);
    *canon_uri = buf;
    return CQ_ERR_OK;
}

/* "Name:  a   b " -> {"name", "a b"}; false when malformed. */
static bool cq_sigv4_header_parse(const char *line, cq_sigv4_header_t *h)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line || cq_sigv4_has_ctl(line, strlen(line)))
        return false;
    size_t name_len = (size_t)(colon - line);
    while (name_len > 0 && line[name_len - 1] == ' ')
        name_len--;
    if (name_len == 0)
        return false;
    h->name = cq_strndup(line, name_len);
    for (char *p = h->name; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    const char *v = colon + 1;
    h->value = cq_malloc(strlen(v) + 1);
    size_t n = 0;
    bool space = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = n > 0;
            continue;
        }
        if (space)
            h->value[n++] = ' ';
        space = false;
        h->value[n++] = *v;
    }
    h->value[n] = '\0';
    return true;
}

static int cq_sigv4_header_cmp(const void *a, const void *b)
{
    const cq_sigv4_header_t *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static bool cq_sigv4_reserved_name(const char *name)
{
    return strcmp(name, "host") == 0 || strcmp(name, "x-amz-date") == 0 ||
           strcmp(name, "authorization") == 0 || strcmp(name, "x-amz-security-token") == 0;
}

cq_err_t cq_sigv4_sign(const char *method, const char *url, const char *const *headers,
                       size_t header_count, const void *body, size_t body_len, const char *region,
                       const char *service, const cq_sigv4_creds_t *creds, int64_t now_ms,
                       char ***added, size_t *added_count, char *errstr, size_t errstr_size)
{
    cq_err_t rc = CQ_ERR_CONFIG;
    char *host = NULL, *canon_uri = NULL, *canon = NULL, *to_sign = NULL;
    size_t canon_len = 0, to_sign_len = 0, n = 0;
    cq_sigv4_header_t *hs = NULL;
    *added = NULL;
    *added_count = 0;

    if (!creds || !creds->access_key_id || !*creds->access_key_id || !creds->secret_access_key ||
        !*creds->secret_access_key) {
        cq_errstr_set(errstr, errstr_size, "sigv4: AWS access key id and secret are required");
        return CQ_ERR_CONFIG;
    }
    const char *token = creds->session_token && *creds->session_token ? creds->session_token : NULL;
    if (cq_sigv4_has_ctl(creds->access_key_id, strlen(creds->access_key_id)) ||
        (token && cq_sigv4_has_ctl(token, strlen(token)))) {
        cq_errstr_set(errstr, errstr_size, "sigv4: AWS credentials hold control characters");
        return CQ_ERR_CONFIG;
    }
    if ((rc = cq_sigv4_url(url, &host, &canon_uri, errstr, errstr_size)) != CQ_ERR_OK)
        return rc;
    rc = CQ_ERR_CONFIG;

    char amz_date[17], date[9];
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
    memcpy(date, amz_date, 8);
    date[8] = '\0';

    hs = cq_calloc(header_count + 3, sizeof(*hs));
    for (size_t i = 0; i < header_count; i++, n++) {
        if (!cq_sigv4_header_parse(headers[i], &hs[n])) {
            cq_errstr_set(errstr, errstr_size, "sigv4: header %zu is not a \"Name: value\" line",
                          i);
            goto out_free;
        }
        if (cq_sigv4_reserved_name(hs[n].name)) {
            cq_errstr_set(errstr, errstr_size, "sigv4: header \"%s\" is added by the signer",
                          hs[n].name);
            n++;
            goto out_free;
        }
    }
    hs[n].name = cq_strdup("host");
    hs[n++].value = cq_strdup(host);
    hs[n].name = cq_strdup("x-amz-date");
    hs[n++].value = cq_strdup(amz_date);
    if (token) {
        hs[n].name = cq_strdup("x-amz-security-token");
        hs[n++].value = cq_strdup(token);
    }
    qsort(hs, n, sizeof(*hs), cq_sigv4_header_cmp);

    char payload_hash[65];
    cq_sigv4_sha256_hex(body ? body : "", body ? body_len : 0, payload_hash);

    /* Canonical request; repeated names are joined with ',' as AWS does. */
    FILE *f = cq_sigv4_stream(&canon, &canon_len);
    fprintf(f, "%s\n%s\n\n", method, canon_uri);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0)
            fprintf(f, ",%s", hs[i].value);
        else
            fprintf(f, "%s%s:%s", i > 0 ? "\n" : "", hs[i].name, hs[i].value);
    }
    fputs("\n\n", f);
    char signed_headers[1024];
    size_t sh = 0;
    signed_headers[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0)
            continue;
        int w = snprintf(signed_headers + sh, sizeof(signed_headers) - sh, "%s%s",
                         sh > 0 ? ";" : "", hs[i].name);
        if (w < 0 || (size_t)w >= sizeof(signed_headers) - sh) {
            cq_sigv4_stream_close(f);
            cq_errstr_set(errstr, errstr_size, "sigv4: too many headers to sign");
            goto out_free;
        }
        sh += (size_t)w;
    }
    fprintf(f, "%s\n%s", signed_headers, payload_hash);
    cq_sigv4_stream_close(f);

    char canon_hash[65];
    cq_sigv4_sha256_hex(canon, canon_len, canon_hash);
    char *scope = cq_asprintf("%s/%s/%s/aws4_request", date, region, service);
    f = cq_sigv4_stream(&to_sign, &to_sign_len);
    fprintf(f, CQ_SIGV4_ALGO "\n%s\n%s\n%s", amz_date, scope, canon_hash);
    cq_sigv4_stream_close(f);

    unsigned char key[32], sig[32];
    char *secret = cq_asprintf("AWS4%s", creds->secret_access_key);
    cq_sigv4_hmac(secret, strlen(secret), date, key);
    explicit_bzero(secret, strlen(secret));
    free(secret);
    cq_sigv4_hmac(key, sizeof(key), region, key);
    cq_sigv4_hmac(key, sizeof(key), service, key);
    cq_sigv4_hmac(key, sizeof(key), "aws4_request", key);
    cq_sigv4_hmac(key, sizeof(key), to_sign, sig);
    explicit_bzero(key, sizeof(key));
    char sig_hex[65];
    cq_sigv4_hex(sig, sizeof(sig), sig_hex);

    char **lines = cq_calloc(4, sizeof(*lines));
    size_t count = 0;
    lines[count++] = cq_asprintf("Host: %s", host);
    lines[count++] = cq_asprintf("X-Amz-Date: %s", amz_date);
    if (token)
        lines[count++] = cq_asprintf("X-Amz-Security-Token: %s", token);
    lines[count++] = cq_asprintf("Authorization: " CQ_SIGV4_ALGO
                                 " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                                 creds->access_key_id, scope, signed_headers, sig_hex);
    free(scope);
    *added = lines;
    *added_count = count;
    rc = CQ_ERR_OK;

out_free:
    for (size_t i = 0; i < n; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
    free(hs);
    free(to_sign);
    free(canon);
    free(canon_uri);
    free(host);
    return rc;
}

bool cq_sigv4_creds_from_env(cq_sigv4_creds_t *creds)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    creds->access_key_id = id && *id ? id : NULL;
    creds->secret_access_key = secret && *secret ? secret : NULL;
    creds->session_token = token && *token ? token : NULL;
    return creds->access_key_id && creds->secret_access_key;
}
