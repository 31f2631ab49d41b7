/*
 * fuzz_jwt.c — bearer token verification (gateway/cq_auth.c) with libjwt
 * underneath, and the development-mode identity headers.
 *
 * The verifier holds a fixed HS256 secret and an RS256 public key (a key
 * pair made at start), issuer and audience set. Input byte 0 chooses:
 *   0  the rest is the Authorization header value as sent;
 *   1  the rest is "header JSON \0 claims JSON": encoded and signed here
 *      with the HS256 secret, so inputs get past the signature check;
 *   2  the rest is the claims JSON, under {"alg":"HS256","typ":"JWT"},
 *      signed;
 *   3  the rest is "tenant \0 user" for the X-Tenant-Id/X-User-Id check.
 * An accepted token must yield a non-empty tenant and user.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "cq_auth.h"

#define SECRET "fuzz-secret-of-at-least-32-bytes!!"
#define NOW_MS 1800000000000LL

static cq_config_t *conf;
static cq_auth_t *auth;

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_jwt: setup failed: %s\n", what);
        exit(1);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    conf = cq_config_new();
    EVP_PKEY *key = EVP_RSA_gen(2048);
    must(key != NULL, "RSA key");
    char path[] = "/tmp/fuzz_jwt_pub_XXXXXX";
    int fd = mkstemp(path);
    must(fd >= 0, "mkstemp");
    FILE *f = fdopen(fd, "w");
    must(f && PEM_write_PUBKEY(f, key) == 1 && fclose(f) == 0, "write public key");
    EVP_PKEY_free(key);
    must(cq_config_set(conf, "auth.jwt_secret", SECRET, err, sizeof(err)) == CQ_ERR_OK &&
             cq_config_set(conf, "auth.jwt_public_key", path, err, sizeof(err)) == CQ_ERR_OK &&
             cq_config_set(conf, "auth.jwt_issuer", "https://issuer.example", err, sizeof(err)) ==
                 CQ_ERR_OK &&
             cq_config_set(conf, "auth.jwt_audience", "coachq", err, sizeof(err)) == CQ_ERR_OK,
         err);
    auth = cq_auth_new(conf, err, sizeof(err));
    unlink(path);
    must(auth != NULL, err);
    return 0;
}

/* base64url without padding of n bytes, appended at *out (room for 4n/3+4). */
static size_t b64url(const uint8_t *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[len] = '\0';
    return (size_t)len;
}

/* "Bearer " + b64url(header) "." b64url(claims) "." HS256 signature. */
static char *signed_token(const uint8_t *header, size_t hlen, const uint8_t *claims, size_t clen)
{
    size_t cap = 7 + (hlen + clen + 32) / 3 * 4 + 32;
    char *out = cq_malloc(cap);
    memcpy(out, "Bearer ", 7);
    size_t n = 7;
    n += b64url(header, hlen, out + n);
    out[n++] = '.';
    n += b64url(claims, clen, out + n);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)out + 7, n - 7, mac,
         &mac_len);
    out[n++] = '.';
    b64url(mac, mac_len, out + n);
    return out;
}

static void verify(const char *authorization)
{
    cq_principal_t who;
    char detail[256];
    if (cq_auth_verify(auth, authorization, NOW_MS, &who, detail, sizeof(detail)) == CQ_ERR_OK) {
        if (!who.tenant_id[0] || !who.user_id[0])
            __builtin_trap(); /* accepted without an identity */
    } else if (!detail[0]) {
        __builtin_trap(); /* refused without saying why */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    const uint8_t *nul = memchr(rest, '\0', n);
    switch (data[0] & 3) {
    case 0: {
        char *text = cq_strndup((const char *)rest, n);
        verify(text);
        free(text);
        break;
    }
    case 1: {
        if (!nul)
            return 0;
        char *token =
            signed_token(rest, (size_t)(nul - rest), nul + 1, n - (size_t)(nul - rest) - 1);
        verify(token);
        free(token);
        break;
    }
    case 2: {
        static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        char *token = signed_token((const uint8_t *)hs256, sizeof(hs256) - 1, rest, n);
        verify(token);
        free(token);
        break;
    }
    default: {
        char *tenant = cq_strndup((const char *)rest, nul ? (size_t)(nul - rest) : n);
        char *user = nul ? cq_strndup((const char *)nul + 1, n - (size_t)(nul - rest) - 1) : NULL;
        cq_principal_t who;
        char detail[256];
        cq_auth_dev_headers(tenant, user, &who, detail, sizeof(detail));
        free(user);
        free(tenant);
        break;
    }
    }
    return 0;
}
