/*
 * cq_auth.c — bearer token verification with libjwt (see cq_auth.h).
 *
 * libjwt verifies a token with the algorithm the token names, so after a
 * successful decode we insist that it named the algorithm we hold a key for:
 * an HS256 token "signed" with our RS256 public key as its secret, or an
 * unsigned "none" token, is refused. Any HTTP thread may call
 * cq_auth_verify; the key material is read-only after cq_auth_new.
 */
#include "cq_auth.h"
#include "cq_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>

#define CQ_AUTH_MAX_TOKEN 8192

struct cq_auth_s {
    unsigned char *hs_secret;
    int hs_len;
    unsigned char *rs_key;
    int rs_len;
    char *issuer, *audience;
    int64_t leeway_ms;
};

static unsigned char *cq_auth_read_file(const char *path, int *len, char *errstr,
                                        size_t errstr_size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        cq_errstr_set(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = cq_malloc(65536 + 1);
    size_t n = fread(buf, 1, 65536, fp);
    fclose(fp);
    if (n == 0 || n == 65536) {
        cq_errstr_set(errstr, errstr_size, "%s: empty or larger than 64 KiB", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = (int)n;
    return buf;
}

cq_auth_t *cq_auth_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    cq_auth_t *auth = cq_calloc(1, sizeof(*auth));
    if (*conf->auth_jwt_secret) {
        auth->hs_secret = (unsigned char *)cq_strdup(conf->auth_jwt_secret);
        auth->hs_len = (int)strlen(conf->auth_jwt_secret);
    }
    if (*conf->auth_jwt_public_key &&
        !(auth->rs_key =
              cq_auth_read_file(conf->auth_jwt_public_key, &auth->rs_len, errstr, errstr_size))) {
        cq_auth_destroy(auth);
        return NULL;
    }
    auth->issuer = *conf->auth_jwt_issuer ? cq_strdup(conf->auth_jwt_issuer) : NULL;
    auth->audience = *conf->auth_jwt_audience ? cq_strdup(conf->auth_jwt_audience) : NULL;
    auth->leeway_ms = conf->auth_leeway;
    return auth;
}

void cq_auth_destroy(cq_auth_t *auth)
{
    if (!auth)
        return;
    free(auth->hs_secret);
    free(auth->rs_key);
    free(auth->issuer);
    free(auth->audience);
    free(auth);
}

/* A claim as an id: letters, digits and -_.@: up to the buffer size. */
static bool cq_auth_copy_id(const char *value, char *out, size_t out_size)
{
    if (!value || !*value || strlen(value) >= out_size)
        return false;
    for (const char *p = value; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.' || *p == '@' || *p == ':'))
            return false;
    cq_strlcpy(out, value, out_size);
    return true;
}

/* Whether the token's header and payload are JSON shallow enough to hand to
 * libjwt: it parses them (before checking the signature) with jansson's
 * recursive parser on a small thread stack. */
static bool cq_auth_shallow(const char *token)
{
    const char *part = token;
    for (int i = 0; i < 2; i++) {
        const char *dot = strchr(part, '.');
        if (!dot)
            return false;
        size_t n = (size_t)(dot - part);
        /* base64url -> base64, padded */
        char *b64 = cq_malloc(n + 4);
        for (size_t k = 0; k < n; k++)
            b64[k] = (char)(part[k] == '-' ? '+' : part[k] == '_' ? '/' : part[k]);
        size_t padded = n;
        while (padded % 4)
            b64[padded++] = '=';
        unsigned char *raw = cq_malloc(padded / 4 * 3 + 1);
        int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)padded);
        bool ok = len >= 0 && cq_json_depth((const char *)raw, (size_t)len, 16) <= 16;
        free(raw);
        free(b64);
        if (!ok)
            return false;
        part = dot + 1;
    }
    return true;
}

/* Latest time claim accepted: 9999-12-31T23:59:59Z. Seconds up to here times
 * 1000 stay far inside int64_t. */
#define CQ_AUTH_MAX_TIME_S 253402300799LL

/* The token's claims as JSON (new reference), or NULL. */
static json_t *cq_auth_claims(jwt_t *jwt)
{
    char *text = jwt_get_grants_json(jwt, NULL);
    if (!text)
        return NULL;
    json_t *claims = json_loads(text, JSON_DECODE_ANY, NULL);
    free(text);
    return claims;
}

/* A NumericDate claim (RFC 7519 §2) as whole seconds in 0..CQ_AUTH_MAX_TIME_S.
 * Absent: true with *present false. Present but a fraction, a string, negative
 * or out of range: false with a detail, since a claim we cannot read must not
 * be skipped as if it were absent. */
static bool cq_auth_time_claim(const json_t *claims, const char *name, int64_t *seconds,
                               bool *present, char *detail, size_t detail_size)
{
    const json_t *v = json_object_get(claims, name);
    *present = v != NULL;
    *seconds = 0;
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > CQ_AUTH_MAX_TIME_S) {
        cq_errstr_set(detail, detail_size,
                      "The bearer token's %s claim is not a whole number of seconds between 0 "
                      "and 253402300799",
                      name);
        return false;
    }
    *seconds = (int64_t)json_integer_value(v);
    return true;
}

/* Tries one key; the token must name the algorithm that goes with it. */
static jwt_t *cq_auth_decode(const char *token, const unsigned char *key, int len, jwt_alg_t want)
{
    jwt_t *jwt = NULL;
    if (!key || jwt_decode(&jwt, token, key, len) != 0 || !jwt)
        return NULL;
    if (jwt_get_alg(jwt) != want) {
        jwt_free(jwt);
        return NULL;
    }
    return jwt;
}

cq_err_t cq_auth_verify(const cq_auth_t *auth, const char *authorization, int64_t now_ms,
                        cq_principal_t *who, char *detail, size_t detail_size)
{
    memset(who, 0, sizeof(*who));
    if (!authorization || !*authorization) {
        cq_errstr_set(detail, detail_size, "Send Authorization: Bearer <token>");
        return CQ_ERR_TOKEN_MISSING;
    }
    if (strncasecmp(authorization, "Bearer ", 7) != 0) {
        cq_errstr_set(detail, detail_size, "The Authorization header must be \"Bearer <token>\"");
        return CQ_ERR_TOKEN_INVALID;
    }
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    if (!*token || strlen(token) > CQ_AUTH_MAX_TOKEN) {
        cq_errstr_set(detail, detail_size, "The bearer token is empty or too long");
        return CQ_ERR_TOKEN_INVALID;
    }
    if (!cq_auth_shallow(token)) {
        cq_errstr_set(detail, detail_size, "The bearer token is not a well-formed JWT");
        return CQ_ERR_TOKEN_INVALID;
    }
    jwt_t *jwt = cq_auth_decode(token, auth->hs_secret, auth->hs_len, JWT_ALG_HS256);
    if (!jwt)
        jwt = cq_auth_decode(token, auth->rs_key, auth->rs_len, JWT_ALG_RS256);
    if (!jwt) {
        cq_errstr_set(detail, detail_size, "The bearer token's signature does not verify");
        return CQ_ERR_TOKEN_INVALID;
    }
    cq_err_t rc = CQ_ERR_TOKEN_INVALID;
    int64_t exp_s, nbf_s, iat_s;
    bool has_exp, has_nbf, has_iat;
    json_t *claims = cq_auth_claims(jwt);
    if (!claims || !json_is_object(claims)) {
        cq_errstr_set(detail, detail_size, "The bearer token's claims are not a JSON object");
        goto out_free_claims;
    }
    if (!cq_auth_time_claim(claims, "exp", &exp_s, &has_exp, detail, detail_size) ||
        !cq_auth_time_claim(claims, "nbf", &nbf_s, &has_nbf, detail, detail_size) ||
        !cq_auth_time_claim(claims, "iat", &iat_s, &has_iat, detail, detail_size))
        goto out_free_claims;
    if (!has_exp) {
        cq_errstr_set(detail, detail_size, "The bearer token has no exp claim");
        goto out_free_claims;
    }
    /* In range by cq_auth_time_claim, so neither product overflows. */
    if (exp_s * 1000 + auth->leeway_ms < now_ms) {
        cq_errstr_set(detail, detail_size, "The bearer token has expired");
        rc = CQ_ERR_TOKEN_EXPIRED;
        goto out_free_claims;
    }
    if (has_nbf && nbf_s * 1000 - auth->leeway_ms > now_ms) {
        cq_errstr_set(detail, detail_size, "The bearer token is not valid yet");
        goto out_free_claims;
    }
    const char *iss = jwt_get_grant(jwt, "iss");
    if (auth->issuer && (!iss || strcmp(iss, auth->issuer) != 0)) {
        cq_errstr_set(detail, detail_size, "The bearer token was issued by someone else");
        goto out_free_claims;
    }
    const char *aud = jwt_get_grant(jwt, "aud");
    if (auth->audience && (!aud || strcmp(aud, auth->audience) != 0)) {
        cq_errstr_set(detail, detail_size, "The bearer token is meant for another audience");
        goto out_free_claims;
    }
    if (!cq_auth_copy_id(jwt_get_grant(jwt, "tenant_id"), who->tenant_id, sizeof(who->tenant_id))) {
        cq_errstr_set(detail, detail_size, "The bearer token has no valid tenant_id claim");
        goto out_free_claims;
    }
    const char *user = jwt_get_grant(jwt, "sub");
    if (!user)
        user = jwt_get_grant(jwt, "user_id");
    if (!cq_auth_copy_id(user, who->user_id, sizeof(who->user_id))) {
        cq_errstr_set(detail, detail_size, "The bearer token has no valid sub or user_id claim");
        goto out_free_claims;
    }
    const char *role = jwt_get_grant(jwt, "role");
    if (role)
        cq_auth_copy_id(role, who->role, sizeof(who->role));
    rc = CQ_ERR_OK;
out_free_claims:
    json_decref(claims);
    jwt_free(jwt);
    if (rc != CQ_ERR_OK)
        memset(who, 0, sizeof(*who));
    return rc;
}

cq_err_t cq_auth_dev_headers(const char *tenant, const char *user, cq_principal_t *who,
                             char *detail, size_t detail_size)
{
    memset(who, 0, sizeof(*who));
    if (!cq_auth_copy_id(tenant, who->tenant_id, sizeof(who->tenant_id)) ||
        !cq_auth_copy_id(user ? user : "anonymous", who->user_id, sizeof(who->user_id))) {
        memset(who, 0, sizeof(*who));
        cq_errstr_set(detail, detail_size,
                      "X-Tenant-Id and X-User-Id take up to 127 letters, digits and -_.@:");
        return CQ_ERR_TOKEN_INVALID;
    }
    return CQ_ERR_OK;
}
