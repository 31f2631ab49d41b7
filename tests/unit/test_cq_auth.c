/*
 * Unit tests of bearer token verification: HS256 and RS256 tokens, expiry
 * and leeway, required claims, and the attacks a JWT verifier must refuse
 * (alg "none", an HS256 token keyed with the RS256 public key, a tampered
 * payload).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "cq_auth.h"

#define SECRET "test-secret-of-at-least-32-bytes!!"
#define NOW_S  1800000000L

static char pub_path[] = "/tmp/cq_auth_pub_XXXXXX";
static char *priv_pem;
static char *pub_pem;
static cq_config_t *conf;
static cq_auth_t *auth;

static char *pem_of(EVP_PKEY *key, bool private_key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (private_key)
        PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_bio_PUBKEY(bio, key);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *out = cq_strndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

static int setup(void **state)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    priv_pem = pem_of(key, true);
    pub_pem = pem_of(key, false);
    EVP_PKEY_free(key);
    int fd = mkstemp(pub_path);
    if (fd < 0 || write(fd, pub_pem, strlen(pub_pem)) < 0)
        return -1;
    close(fd);
    conf = cq_config_new();
    char err[256];
    cq_config_set(conf, "auth.jwt_secret", SECRET, err, sizeof(err));
    cq_config_set(conf, "auth.jwt_public_key", pub_path, err, sizeof(err));
    auth = cq_auth_new(conf, err, sizeof(err));
    return auth ? 0 : -1;
}

static int teardown(void **state)
{
    cq_auth_destroy(auth);
    cq_config_destroy(conf);
    unlink(pub_path);
    free(priv_pem);
    free(pub_pem);
    return 0;
}

/* A "Bearer ..." header for a token with the given claims. */
static char *bearer(jwt_alg_t alg, const char *tenant, const char *sub, long exp)
{
    jwt_t *jwt = NULL;
    jwt_new(&jwt);
    if (tenant)
        jwt_add_grant(jwt, "tenant_id", tenant);
    if (sub)
        jwt_add_grant(jwt, "sub", sub);
    jwt_add_grant(jwt, "role", "admin");
    if (exp)
        jwt_add_grant_int(jwt, "exp", exp);
    if (alg == JWT_ALG_HS256)
        jwt_set_alg(jwt, alg, (const unsigned char *)SECRET, (int)strlen(SECRET));
    else if (alg == JWT_ALG_RS256)
        jwt_set_alg(jwt, alg, (const unsigned char *)priv_pem, (int)strlen(priv_pem));
    else
        jwt_set_alg(jwt, JWT_ALG_NONE, NULL, 0);
    char *token = jwt_encode_str(jwt);
    jwt_free(jwt);
    char *header = cq_asprintf("Bearer %s", token ? token : "");
    free(token);
    return header;
}

static cq_err_t verify(const char *header, cq_principal_t *who)
{
    char detail[160];
    return cq_auth_verify(auth, header, (int64_t)NOW_S * 1000, who, detail, sizeof(detail));
}

static void test_auth_hs256_and_rs256_accepted(void **state)
{
    cq_principal_t who;
    char *h = bearer(JWT_ALG_HS256, "acme", "alice", NOW_S + 600);
    assert_int_equal(verify(h, &who), CQ_ERR_OK);
    assert_string_equal(who.tenant_id, "acme");
    assert_string_equal(who.user_id, "alice");
    assert_string_equal(who.role, "admin");
    free(h);
    h = bearer(JWT_ALG_RS256, "globex", "bob", NOW_S + 600);
    assert_int_equal(verify(h, &who), CQ_ERR_OK);
    assert_string_equal(who.tenant_id, "globex");
    free(h);
}

static void test_auth_missing_and_malformed(void **state)
{
    cq_principal_t who;
    assert_int_equal(verify(NULL, &who), CQ_ERR_TOKEN_MISSING);
    assert_int_equal(verify("Basic abc", &who), CQ_ERR_TOKEN_INVALID);
    assert_int_equal(verify("Bearer ", &who), CQ_ERR_TOKEN_INVALID);
    assert_int_equal(verify("Bearer not.a.jwt", &who), CQ_ERR_TOKEN_INVALID);
    assert_int_equal(verify("Bearer %%%%", &who), CQ_ERR_TOKEN_INVALID);
}

static void test_auth_expiry_with_leeway(void **state)
{
    cq_principal_t who;
    char *h = bearer(JWT_ALG_HS256, "acme", "alice", NOW_S - 3600);
    assert_int_equal(verify(h, &who), CQ_ERR_TOKEN_EXPIRED);
    assert_string_equal(who.tenant_id, "");
    free(h);
    h = bearer(JWT_ALG_HS256, "acme", "alice", NOW_S - 10); /* within the 30 s leeway */
    assert_int_equal(verify(h, &who), CQ_ERR_OK);
    free(h);
    h = bearer(JWT_ALG_HS256, "acme", "alice", 0); /* no exp at all */
    assert_int_equal(verify(h, &who), CQ_ERR_TOKEN_INVALID);
    free(h);
}

static void test_auth_required_claims(void **state)
{
    cq_principal_t who;
    char *h = bearer(JWT_ALG_HS256, NULL, "alice", NOW_S + 60);
    assert_int_equal(verify(h, &who), CQ_ERR_TOKEN_INVALID);
    free(h);
    h = bearer(JWT_ALG_HS256, "acme", NULL, NOW_S + 60);
    assert_int_equal(verify(h, &who), CQ_ERR_TOKEN_INVALID);
    free(h);
    h = bearer(JWT_ALG_HS256, "acme corp\n", "alice", NOW_S + 60);
    assert_int_equal(verify(h, &who), CQ_ERR_TOKEN_INVALID);
    free(h);
}

/* A "Bearer ..." header for an HS256 token whose claims are the given JSON. */
static char *bearer_claims(const char *claims_json)
{
    jwt_t *jwt = NULL;
    jwt_new(&jwt);
    assert_int_equal(jwt_add_grants_json(jwt, claims_json), 0);
    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET));
    char *token = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(token);
    char *header = cq_asprintf("Bearer %s", token);
    free(token);
    return header;
}

/* Correctly signed tokens whose time claims cannot be read as whole seconds:
 * nbf * 1000 used to overflow (a far-future nbf let the token in) and a
 * fractional nbf was skipped as if absent. */
static void test_auth_time_claims_are_integers_in_range(void **state)
{
    static const struct {
        const char *claims;
        cq_err_t want;
    } cases[] = {
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600,\"nbf\":1799999000,"
         "\"iat\":1799999000}",
         CQ_ERR_OK},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600,\"nbf\":9300000000000000}",
         CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600,\"nbf\":9223372036854775807}",
         CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600,\"nbf\":1900000000.5}",
         CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600,\"nbf\":1.0}",
         CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600,\"nbf\":\"0\"}",
         CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":9223372036854775807}",
         CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600.0}", CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":\"1800000600\"}", CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":-1}", CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":true}", CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600,\"iat\":1e300}",
         CQ_ERR_TOKEN_INVALID},
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600,\"iat\":[1]}",
         CQ_ERR_TOKEN_INVALID},
        /* A far-future nbf in range is simply not valid yet. */
        {"{\"tenant_id\":\"acme\",\"sub\":\"a\",\"exp\":1800000600,\"nbf\":253402300799}",
         CQ_ERR_TOKEN_INVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *h = bearer_claims(cases[i].claims);
        cq_principal_t who;
        char detail[160];
        cq_err_t rc = cq_auth_verify(auth, h, (int64_t)NOW_S * 1000, &who, detail, sizeof(detail));
        if (rc != cases[i].want)
            fail_msg("%s: got %d (%s), want %d", cases[i].claims, rc, detail, cases[i].want);
        free(h);
    }
}

/* The gateway's header limit lets a 20 KB token through to here, which must
 * call it invalid (401), not crash or accept. */
static void test_auth_oversized_token_is_invalid(void **state)
{
    char *h = cq_malloc(20 * 1024 + 8);
    memcpy(h, "Bearer ", 7);
    memset(h + 7, 'A', 20 * 1024);
    h[7 + 20 * 1024] = '\0';
    cq_principal_t who;
    assert_int_equal(verify(h, &who), CQ_ERR_TOKEN_INVALID);
    free(h);
}

static void test_auth_refuses_deeply_nested_tokens(void **state)
{
    /* A payload of 3000 nested arrays would overflow a small thread stack in
     * the JSON parser: it is refused before parsing. */
    cq_principal_t who;
    size_t n = 3000;
    char *nested = cq_malloc(n + 1);
    memset(nested, '[', n);
    nested[n] = '\0';
    unsigned char *b64 = cq_malloc(n * 2);
    int len = EVP_EncodeBlock(b64, (const unsigned char *)nested, (int)n);
    while (len > 0 && b64[len - 1] == '=')
        len--;
    b64[len] = '\0';
    char *header = cq_asprintf("Bearer eyJhbGciOiJIUzI1NiJ9.%s.c2ln", (char *)b64);
    assert_int_equal(verify(header, &who), CQ_ERR_TOKEN_INVALID);
    free(header);
    free(b64);
    free(nested);
}

static void test_auth_refuses_forgeries(void **state)
{
    cq_principal_t who;
    /* alg none */
    char *h = bearer(JWT_ALG_NONE, "acme", "mallory", NOW_S + 60);
    assert_int_equal(verify(h, &who), CQ_ERR_TOKEN_INVALID);
    free(h);
    /* HS256 keyed with the RS256 public key (algorithm confusion) */
    jwt_t *jwt = NULL;
    jwt_new(&jwt);
    jwt_add_grant(jwt, "tenant_id", "acme");
    jwt_add_grant(jwt, "sub", "mallory");
    jwt_add_grant_int(jwt, "exp", NOW_S + 60);
    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)pub_pem, (int)strlen(pub_pem));
    char *token = jwt_encode_str(jwt);
    jwt_free(jwt);
    h = cq_asprintf("Bearer %s", token);
    free(token);
    assert_int_equal(verify(h, &who), CQ_ERR_TOKEN_INVALID);
    free(h);
    /* A valid token whose payload was swapped for another tenant's */
    char *good = bearer(JWT_ALG_HS256, "acme", "alice", NOW_S + 60);
    char *other = bearer(JWT_ALG_HS256, "globex", "alice", NOW_S + 60);
    char *g1 = strchr(good, '.'), *g2 = strchr(g1 + 1, '.');
    char *o1 = strchr(other, '.'), *o2 = strchr(o1 + 1, '.');
    char *forged = cq_asprintf("%.*s%.*s%s", (int)(g1 - good), good, (int)(o2 - o1), o1, g2);
    assert_int_equal(verify(forged, &who), CQ_ERR_TOKEN_INVALID);
    free(forged);
    free(good);
    free(other);
}

static void test_auth_dev_headers_checked_like_claims(void **state)
{
    cq_principal_t who;
    char detail[160];
    assert_int_equal(cq_auth_dev_headers("acme", NULL, &who, detail, sizeof(detail)), CQ_ERR_OK);
    assert_string_equal(who.tenant_id, "acme");
    assert_string_equal(who.user_id, "anonymous");
    assert_int_equal(cq_auth_dev_headers("acme", "bob@acme", &who, detail, sizeof(detail)),
                     CQ_ERR_OK);
    assert_string_equal(who.user_id, "bob@acme");
    assert_int_equal(cq_auth_dev_headers("../..", NULL, &who, detail, sizeof(detail)),
                     CQ_ERR_TOKEN_INVALID);
    assert_string_equal(who.tenant_id, "");
    assert_int_equal(cq_auth_dev_headers("", NULL, &who, detail, sizeof(detail)),
                     CQ_ERR_TOKEN_INVALID);
    assert_int_equal(cq_auth_dev_headers("acme", "a b", &who, detail, sizeof(detail)),
                     CQ_ERR_TOKEN_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_hs256_and_rs256_accepted),
        cmocka_unit_test(test_auth_missing_and_malformed),
        cmocka_unit_test(test_auth_expiry_with_leeway),
        cmocka_unit_test(test_auth_required_claims),
        cmocka_unit_test(test_auth_refuses_forgeries),
        cmocka_unit_test(test_auth_refuses_deeply_nested_tokens),
        cmocka_unit_test(test_auth_time_claims_are_integers_in_range),
        cmocka_unit_test(test_auth_oversized_token_is_invalid),
        cmocka_unit_test(test_auth_dev_headers_checked_like_claims),
    };
    return cmocka_run_group_tests_name("auth", tests, setup, teardown);
}
