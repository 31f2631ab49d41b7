/*
 * Unit tests of AWS SigV4 signing. Expected signatures come from AWS's own
 * "get-vanilla" test vector and from botocore (SigV4Auth) run on the same
 * requests at the same instant, so they check our canonicalisation against
 * an independent implementation, including the double-encoded ':' of
 * Bedrock model ids that libcurl 7.88 gets wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cq_sigv4.h"

static const cq_sigv4_creds_t test_creds = {"AKIDEXAMPLE",
                                            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};

static void free_lines(char **lines, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(lines[i]);
    free(lines);
}

static void test_sigv4_aws_get_vanilla(void **state)
{
    char **added = NULL;
    size_t count = 0;
    char err[256];
    assert_int_equal(cq_sigv4_sign("GET", "https://example.amazonaws.com/", NULL, 0, NULL, 0,
                                   "us-east-1", "service", &test_creds, 1440938160000LL, &added,
                                   &count, err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(count, 3);
    assert_string_equal(added[0], "Host: example.amazonaws.com");
    assert_string_equal(added[1], "X-Amz-Date: 20150830T123600Z");
    assert_string_equal(
        added[2], "Authorization: AWS4-HMAC-SHA256 "
                  "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                  "SignedHeaders=host;x-amz-date, "
                  "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    free_lines(added, count);
}

static void test_sigv4_bedrock_model_path_is_double_encoded(void **state)
{
    static const char body[] = "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":64}";
    const char *headers[] = {"Content-Type: application/json", "Accept:   application/json "};
    cq_sigv4_creds_t creds = test_creds;
    creds.session_token = "SESSIONTOKEN";
    char **added = NULL;
    size_t count = 0;
    char err[256];
    assert_int_equal(cq_sigv4_sign("POST",
                                   "https://bedrock-runtime.eu-west-1.amazonaws.com/model/"
                                   "anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke",
                                   headers, 2, body, strlen(body), "eu-west-1", "bedrock", &creds,
                                   1767323045000LL, &added, &count, err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(count, 4);
    assert_string_equal(added[0], "Host: bedrock-runtime.eu-west-1.amazonaws.com");
    assert_string_equal(added[1], "X-Amz-Date: 20260102T030405Z");
    assert_string_equal(added[2], "X-Amz-Security-Token: SESSIONTOKEN");
    assert_string_equal(
        added[3], "Authorization: AWS4-HMAC-SHA256 "
                  "Credential=AKIDEXAMPLE/20260102/eu-west-1/bedrock/aws4_request, "
                  "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, "
                  "Signature=e6e8ce3a079ec9d962eb065f392654a9faa06f69964a36cbc0fc1255d13f92b5");
    free_lines(added, count);
}

static void test_sigv4_port_and_escaped_slash(void **state)
{
    const char *headers[] = {"Content-Type: application/json"};
    char **added = NULL;
    size_t count = 0;
    char err[256];
    assert_int_equal(cq_sigv4_sign("POST", "http://127.0.0.1:8443/model/m%2Fx/invoke", headers, 1,
                                   "", 0, "us-east-1", "bedrock", &test_creds, 1767323045000LL,
                                   &added, &count, err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(count, 3);
    assert_string_equal(added[0], "Host: 127.0.0.1:8443");
    assert_string_equal(
        added[2], "Authorization: AWS4-HMAC-SHA256 "
                  "Credential=AKIDEXAMPLE/20260102/us-east-1/bedrock/aws4_request, "
                  "SignedHeaders=content-type;host;x-amz-date, "
                  "Signature=38bfe4cc71c3207bbf0501be41136a8bfd76fe25b811de65264a385636609467");
    free_lines(added, count);

    /* A default port is not part of the Host the server sees. */
    assert_int_equal(cq_sigv4_sign("POST", "https://example.amazonaws.com:443/x", NULL, 0, "", 0,
                                   "us-east-1", "bedrock", &test_creds, 0, &added, &count, err,
                                   sizeof(err)),
                     CQ_ERR_OK);
    assert_string_equal(added[0], "Host: example.amazonaws.com");
    free_lines(added, count);
}

static void test_sigv4_rejects_bad_input(void **state)
{
    char **added = (char **)1;
    size_t count = 7;
    char err[256];
    const char *crlf[] = {"X-Test: a\r\nInjected: b"};
    const char *no_colon[] = {"NoColonHere"};
    const char *host[] = {"Host: evil.example"};
    cq_sigv4_creds_t no_secret = {"AKID", "", NULL};

    assert_int_equal(cq_sigv4_sign("GET", "ftp://example.com/", NULL, 0, NULL, 0, "us-east-1",
                                   "bedrock", &test_creds, 0, &added, &count, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_null(added);
    assert_int_equal(count, 0);
    assert_int_equal(cq_sigv4_sign("GET", "https://example.com/a?b=c", NULL, 0, NULL, 0,
                                   "us-east-1", "bedrock", &test_creds, 0, &added, &count, err,
                                   sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "query"));
    assert_int_equal(cq_sigv4_sign("GET", "https://example.com/", crlf, 1, NULL, 0, "us-east-1",
                                   "bedrock", &test_creds, 0, &added, &count, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_int_equal(cq_sigv4_sign("GET", "https://example.com/", no_colon, 1, NULL, 0, "us-east-1",
                                   "bedrock", &test_creds, 0, &added, &count, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_int_equal(cq_sigv4_sign("GET", "https://example.com/", host, 1, NULL, 0, "us-east-1",
                                   "bedrock", &test_creds, 0, &added, &count, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "host"));
    assert_int_equal(cq_sigv4_sign("GET", "https://example.com/", NULL, 0, NULL, 0, "us-east-1",
                                   "bedrock", &no_secret, 0, &added, &count, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_null(added);
}

static void test_sigv4_creds_from_env(void **state)
{
    cq_sigv4_creds_t creds;
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
    setenv("AWS_SESSION_TOKEN", "", 1);
    assert_true(cq_sigv4_creds_from_env(&creds));
    assert_string_equal(creds.access_key_id, "AKIDENV");
    assert_string_equal(creds.secret_access_key, "secretenv");
    assert_null(creds.session_token);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    assert_true(cq_sigv4_creds_from_env(&creds));
    assert_string_equal(creds.session_token, "tok");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_false(cq_sigv4_creds_from_env(&creds));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SESSION_TOKEN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_aws_get_vanilla),
        cmocka_unit_test(test_sigv4_bedrock_model_path_is_double_encoded),
        cmocka_unit_test(test_sigv4_port_and_escaped_slash),
        cmocka_unit_test(test_sigv4_rejects_bad_input),
        cmocka_unit_test(test_sigv4_creds_from_env),
    };
    return cmocka_run_group_tests_name("sigv4", tests, NULL, NULL);
}
