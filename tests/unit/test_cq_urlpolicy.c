/*
 * Unit tests of the address policy: a table of hostile URLs (schemes,
 * credentials and parser-confusion tricks, every spelling of loopback and
 * of the private, link-local, reserved and translated ranges), a table of
 * URLs that must pass, the socket-address check cq_fetch calls before
 * connecting, the CIDR allow list, and redirect resolution.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cq_urlpolicy.h"

typedef struct {
    const char *url;
    const char *why; /* a word the refusal must contain */
} hostile_t;

static const hostile_t hostile[] = {
    /* Schemes and shapes. */
    {"ftp://example.com/", "http"},
    {"file:///etc/passwd", "http"},
    {"gopher://example.com:70/_x", "http"},
    {"javascript:alert(1)", "http"},
    {"dict://127.0.0.1:6379/info", "http"},
    {"example.com/page", "http"},
    {"//example.com/page", "http"},
    {"http:/example.com/", "http"},
    {"http:///example.com/", "host"},
    {"http://", "host"},
    {"http://?x=1", "host"},
    {"", "empty"},
    /* Credentials, and tricks that hide the real host behind them. */
    {"http://user@example.com/", "credentials"},
    {"http://user:pass@example.com/", "credentials"},
    {"http://:pass@example.com/", "credentials"},
    {"http://good.example@evil.example/", "credentials"},
    {"http://127.0.0.1:80@evil.example/", "credentials"},
    {"http://evil.example@127.0.0.1/", "credentials"},
    {"https://example.com@[::1]/", "credentials"},
    /* Parser confusion: a fragment or query where an authority is expected. */
    {"http://127.0.0.1#@example.com/", "loopback"},
    {"http://127.0.0.1?@example.com/", "loopback"},
    {"http://127.0.0.1/#@example.com", "loopback"},
    /* Backslashes, spaces, control characters. */
    {"http://evil.example\\@good.example/", "backslash"},
    {"http://example.com\\.127.0.0.1/", "backslash"},
    {"http:\\\\127.0.0.1\\", "backslash"},
    {"http://ex ample.com/", "space"},
    {"http://example.com/\r\nHost: x", "control"},
    {"http://example.com/\x7f", "control"},
    /* Percent-encoded hosts and IPv6 zone ids. */
    {"http://%31%32%37.0.0.1/", "percent"},
    {"http://%6c%6f%63%61%6c%68%6f%73%74/", "percent"},
    {"http://127.0.0.1%2f@example.com/", "credentials"},
    {"http://[fe80::1%25eth0]/", "percent"},
    {"http://[fe80::1%eth0]/", "percent"},
    /* Ports. */
    {"http://example.com:0/", "port"},
    {"http://example.com:65536/", "URL"},
    {"http://example.com:99999/", "URL"},
    {"http://example.com:-1/", "URL"},
    {"http://example.com:80a/", "URL"},
    /* Loopback in every spelling. */
    {"http://127.0.0.1/", "loopback"},
    {"HTTP://127.0.0.1:8080/x", "loopback"},
    {"http://127.1/", "loopback"},
    {"http://127.0.1/", "loopback"},
    {"http://127.255.255.254/", "loopback"},
    {"http://2130706433/", "loopback"},
    {"http://0177.0.0.1/", "loopback"},
    {"http://0177.1/", "loopback"},
    {"http://017700000001/", "loopback"},
    {"http://0x7f.1/", "loopback"},
    {"http://0x7f.0.0.1/", "loopback"},
    {"http://0x7f000001/", "loopback"},
    {"http://0X7F000001/", "loopback"},
    {"http://127.0.0.1./", "loopback"},
    {"http://0x7f.1./", "loopback"},
    {"http://[::1]/", "loopback"},
    {"http://[::1]:8080/", "loopback"},
    {"http://[0:0:0:0:0:0:0:1]/", "loopback"},
    {"http://[0000::0001]/", "loopback"},
    {"http://[::ffff:127.0.0.1]/", "IPv4-mapped"},
    {"http://[::ffff:7f00:1]/", "IPv4-mapped"},
    {"http://[0:0:0:0:0:ffff:127.0.0.1]/", "IPv4-mapped"},
    {"http://[::127.0.0.1]/", "reserved"},     /* IPv4-compatible, deprecated */
    {"http://[::ffff:0:7f00:1]/", "reserved"}, /* SIIT translated */
    {"http://[64:ff9b::7f00:1]/", "NAT64"},
    {"http://[64:ff9b::127.0.0.1]/", "NAT64"},
    {"http://[2002:7f00:1::1]/", "6to4"},
    /* Unspecified. */
    {"http://0.0.0.0/", "unspecified"},
    {"http://0/", "unspecified"},
    {"http://0.0.0.0:6379/", "unspecified"},
    {"http://[::]/", "unspecified"},
    {"http://[0:0:0:0:0:0:0:0]/", "unspecified"},
    {"http://[::ffff:0.0.0.0]/", "IPv4-mapped"},
    /* Private and shared. */
    {"http://10.0.0.1/", "private"},
    {"http://10.255.255.255/", "private"},
    {"http://167772161/", "private"},
    {"http://012.0.0.1/", "private"},
    {"http://172.16.0.1/", "private"},
    {"http://172.31.255.255/", "private"},
    {"http://192.168.1.1/", "private"},
    {"http://0xc0.0xa8.1.1/", "private"},
    {"http://100.64.0.1/", "CGNAT"},
    {"http://100.127.255.255/", "CGNAT"},
    {"http://[fc00::1]/", "private"},
    {"http://[fd12:3456:789a::1]/", "private"},
    {"http://[::ffff:10.0.0.1]/", "IPv4-mapped"},
    {"http://[::ffff:c0a8:101]/", "IPv4-mapped"},
    {"http://[64:ff9b::a00:1]/", "NAT64"},
    {"http://[64:ff9b:1::1]/", "NAT64"},
    {"http://[2002:c0a8:101::1]/", "6to4"},
    {"http://[2002:a00:1::]/", "6to4"},
    /* Link-local, including the cloud metadata address. */
    {"http://169.254.169.254/latest/meta-data/", "link-local"},
    {"http://0251.0376.0251.0376/", "link-local"},
    {"http://2852039166/", "link-local"},
    {"http://[::ffff:a9fe:a9fe]/", "IPv4-mapped"},
    {"http://[fe80::1]/", "link-local"},
    {"http://[febf::1]/", "link-local"},
    {"http://[fec0::1]/", "site-local"},
    /* Multicast, broadcast, reserved, documentation, benchmarking. */
    {"http://224.0.0.1/", "multicast"},
    {"http://239.255.255.250/", "multicast"},
    {"http://[ff02::1]/", "multicast"},
    {"http://[ff05::1:3]/", "multicast"},
    {"http://255.255.255.255/", "broadcast"},
    {"http://4294967295/", "broadcast"},
    {"http://240.0.0.1/", "reserved"},
    {"http://192.0.0.8/", "reserved"},
    {"http://192.88.99.1/", "reserved"},
    {"http://192.0.2.1/", "documentation"},
    {"http://198.51.100.7/", "documentation"},
    {"http://203.0.113.9/", "documentation"},
    {"http://198.18.0.1/", "benchmarking"},
    {"http://198.19.255.255/", "benchmarking"},
    {"http://[2001:db8::1]/", "documentation"},
    {"http://[3fff::1]/", "documentation"},
    {"http://[2001::1]/", "reserved"},   /* Teredo */
    {"http://[2001:2::1]/", "reserved"}, /* benchmarking */
    {"http://[100::1]/", "reserved"},    /* discard-only */
    {"http://[4000::1]/", "reserved"},   /* not global unicast */
    {"http://[5f00::1]/", "reserved"},   /* SRv6 */
};

static const char *const allowed[] = {
    "http://example.com/",
    "https://example.com/path?q=1#frag",
    "http://example.com:8080/",
    "HTTPS://EXAMPLE.COM/",
    "http://example.com./",
    "http://xn--mller-kva.de/",
    "http://8.8.8.8/",
    "http://134744072/", /* 8.8.8.8 */
    "http://172.32.0.1/",
    "http://100.128.0.1/",
    "http://[2606:4700:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",
    "http://[64:ff9b::808:808]/",
    "http://[2002:808:808::1]/",
    /* Names are checked when connecting, not here (cq_fetch's tests). */
    "http://localhost/",
    "http://127.0.0.1.nip.io/",
    /* '@' and '%' outside the authority are ordinary path and query text. */
    "http://example.com/user@host",
    "http://example.com/a%20b?q=%41&r=@",
    "http://example.com#frag@127.0.0.1",
};

static void test_urlpolicy_refuses_hostile_urls(void **state)
{
    cq_urlpolicy_t *policy = cq_urlpolicy_new(NULL, NULL, 0);
    assert_non_null(policy);
    int failures = 0;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(hostile); i++) {
        cq_urlpolicy_url_t url;
        char why[256] = "";
        cq_err_t err = cq_urlpolicy_parse(policy, hostile[i].url, &url, why, sizeof(why));
        if (err != CQ_ERR_URL_NOT_ALLOWED || !strstr(why, hostile[i].why)) {
            fprintf(stderr, "  %-40s gave %s \"%s\", want URL_NOT_ALLOWED \"%s\"\n", hostile[i].url,
                    cq_err_name(err), why, hostile[i].why);
            failures++;
        }
        assert_null(url.url); /* zeroed on failure */
        cq_urlpolicy_url_clear(&url);
    }
    assert_int_equal(failures, 0);
    cq_urlpolicy_destroy(policy);
}

static void test_urlpolicy_allows_public_urls(void **state)
{
    cq_urlpolicy_t *policy = cq_urlpolicy_new("", NULL, 0);
    int failures = 0;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(allowed); i++) {
        cq_urlpolicy_url_t url;
        char why[256] = "";
        if (cq_urlpolicy_parse(policy, allowed[i], &url, why, sizeof(why)) != CQ_ERR_OK) {
            fprintf(stderr, "  %-40s refused: %s\n", allowed[i], why);
            failures++;
        }
        cq_urlpolicy_url_clear(&url);
    }
    assert_int_equal(failures, 0);
    cq_urlpolicy_destroy(policy);
}

static void test_urlpolicy_parse_fills_parts(void **state)
{
    cq_urlpolicy_t *policy = cq_urlpolicy_new(NULL, NULL, 0);
    cq_urlpolicy_url_t url;
    char why[256];
    assert_int_equal(
        cq_urlpolicy_parse(policy, "HTTPS://Example.com/a?b=1", &url, why, sizeof(why)), CQ_ERR_OK);
    assert_true(url.https);
    assert_int_equal(url.port, 443);
    assert_string_equal(url.dest, "Example.com:443");
    assert_string_equal(url.url, "https://Example.com/a?b=1");
    cq_urlpolicy_url_clear(&url);
    assert_int_equal(
        cq_urlpolicy_parse(policy, "http://[2606:4700::1]:8080/", &url, why, sizeof(why)),
        CQ_ERR_OK);
    assert_false(url.https);
    assert_string_equal(url.host, "2606:4700::1");
    assert_string_equal(url.dest, "[2606:4700::1]:8080");
    cq_urlpolicy_url_clear(&url);
    cq_urlpolicy_url_clear(&url); /* twice is fine */
    cq_urlpolicy_destroy(policy);
}

/* Without a policy (a URL from configuration) only the syntax counts. */
static void test_urlpolicy_trusted_url_checks_syntax_only(void **state)
{
    cq_urlpolicy_url_t url;
    char why[256];
    assert_int_equal(cq_urlpolicy_parse(NULL, "http://127.0.0.1:11434/v1", &url, why, sizeof(why)),
                     CQ_ERR_OK);
    assert_string_equal(url.dest, "127.0.0.1:11434");
    cq_urlpolicy_url_clear(&url);
    assert_int_equal(cq_urlpolicy_parse(NULL, "ftp://127.0.0.1/", &url, why, sizeof(why)),
                     CQ_ERR_URL_NOT_ALLOWED);
    assert_int_equal(cq_urlpolicy_parse(NULL, "http://h:0/", &url, why, sizeof(why)),
                     CQ_ERR_URL_NOT_ALLOWED);
    assert_int_equal(cq_urlpolicy_parse(NULL, NULL, &url, why, sizeof(why)),
                     CQ_ERR_URL_NOT_ALLOWED);
}

static bool check_v4(const cq_urlpolicy_t *policy, const char *text, char *why, size_t n)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(80)};
    assert_int_equal(inet_pton(AF_INET, text, &in.sin_addr), 1);
    return cq_urlpolicy_check_addr(policy, (struct sockaddr *)&in, why, n);
}

static bool check_v6(const cq_urlpolicy_t *policy, const char *text, char *why, size_t n)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
    return cq_urlpolicy_check_addr(policy, (struct sockaddr *)&in6, why, n);
}

/* The connect-time check: what curl is about to connect to. */
static void test_urlpolicy_check_addr_judges_socket_addresses(void **state)
{
    cq_urlpolicy_t *policy = cq_urlpolicy_new(NULL, NULL, 0);
    char why[256];
    assert_false(check_v4(policy, "127.0.0.1", why, sizeof(why)));
    assert_string_equal(why, "127.0.0.1 is loopback");
    assert_false(check_v4(policy, "0.0.0.0", why, sizeof(why)));
    assert_non_null(strstr(why, "unspecified"));
    assert_false(check_v4(policy, "169.254.169.254", why, sizeof(why)));
    assert_false(check_v4(policy, "100.100.100.200", why, sizeof(why)));
    assert_false(check_v6(policy, "::1", why, sizeof(why)));
    assert_false(check_v6(policy, "::", why, sizeof(why)));
    assert_false(check_v6(policy, "::ffff:127.0.0.1", why, sizeof(why)));
    assert_string_equal(why, "::ffff:127.0.0.1 is IPv4-mapped of a loopback IPv4 address");
    assert_false(check_v6(policy, "fe80::1", why, sizeof(why)));
    assert_true(check_v4(policy, "93.184.216.34", why, sizeof(why)));
    assert_true(check_v4(policy, "1.1.1.1", why, sizeof(why)));
    assert_true(check_v6(policy, "2606:4700:4700::1111", why, sizeof(why)));
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    assert_false(cq_urlpolicy_check_addr(policy, (struct sockaddr *)&un, why, sizeof(why)));
    assert_non_null(strstr(why, "family"));
    cq_urlpolicy_destroy(policy);
}

static void test_urlpolicy_allow_list_opens_only_its_ranges(void **state)
{
    char err[256];
    cq_urlpolicy_t *policy = cq_urlpolicy_new(" 127.0.0.0/8 ,::1, 10.1.2.0/24,", err, sizeof(err));
    assert_non_null(policy);
    char why[256];
    cq_urlpolicy_url_t url;
    static const char *const opened[] = {"http://127.0.0.1:9/",        "http://127.1/",
                                         "http://2130706433/",         "http://[::1]/",
                                         "http://[::ffff:127.0.0.1]/", "http://10.1.2.3/"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(opened); i++) {
        assert_int_equal(cq_urlpolicy_parse(policy, opened[i], &url, why, sizeof(why)), CQ_ERR_OK);
        cq_urlpolicy_url_clear(&url);
    }
    static const char *const still_closed[] = {
        "http://10.1.3.1/",          "http://[::2]/",           "http://0.0.0.0/",
        "http://[64:ff9b::7f00:1]/", "http://169.254.169.254/", "http://u@127.0.0.1/"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(still_closed); i++)
        assert_int_equal(cq_urlpolicy_parse(policy, still_closed[i], &url, why, sizeof(why)),
                         CQ_ERR_URL_NOT_ALLOWED);
    assert_true(check_v4(policy, "127.0.0.2", why, sizeof(why)));
    assert_false(check_v4(policy, "10.1.3.0", why, sizeof(why)));
    cq_urlpolicy_destroy(policy);

    /* A host entry is one address only. */
    policy = cq_urlpolicy_new("127.0.0.1", err, sizeof(err));
    assert_true(check_v4(policy, "127.0.0.1", why, sizeof(why)));
    assert_false(check_v4(policy, "127.0.0.2", why, sizeof(why)));
    cq_urlpolicy_destroy(policy);

    static const char *const bad[] = {"10.0.0.0/33",        "localhost",  "1.2.3.4/",   "::1/129",
                                      "10.0.0.0/8,garbage", "0177.0.0.1", "10.0.0.0/-1"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        assert_null(cq_urlpolicy_new(bad[i], err, sizeof(err)));
        assert_non_null(strstr(err, "fetch.allow"));
    }
}

static void test_urlpolicy_join_resolves_locations(void **state)
{
    static const struct {
        const char *base, *location, *want;
    } cases[] = {
        {"http://a.example/x/y", "z", "http://a.example/x/z"},
        {"http://a.example/x/y", "../z?q=1", "http://a.example/z?q=1"},
        {"http://a.example/x/y", "/root", "http://a.example/root"},
        {"http://a.example/x/y", "//b.example/p", "http://b.example/p"},
        {"http://a.example/x/y", "https://c.example:8443/", "https://c.example:8443/"},
        {"https://a.example/", "http://127.0.0.1/", "http://127.0.0.1/"},
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        char *joined = cq_urlpolicy_join(cases[i].base, cases[i].location);
        assert_non_null(joined);
        assert_string_equal(joined, cases[i].want);
        free(joined);
    }
    assert_null(cq_urlpolicy_join("not a url", "/x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urlpolicy_refuses_hostile_urls),
        cmocka_unit_test(test_urlpolicy_allows_public_urls),
        cmocka_unit_test(test_urlpolicy_parse_fills_parts),
        cmocka_unit_test(test_urlpolicy_trusted_url_checks_syntax_only),
        cmocka_unit_test(test_urlpolicy_check_addr_judges_socket_addresses),
        cmocka_unit_test(test_urlpolicy_allow_list_opens_only_its_ranges),
        cmocka_unit_test(test_urlpolicy_join_resolves_locations),
    };
    return cmocka_run_group_tests_name("urlpolicy", tests, NULL, NULL);
}
