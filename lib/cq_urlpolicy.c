/*
 * cq_urlpolicy.c — the address policy for user-supplied URLs (see
 * cq_urlpolicy.h).
 *
 * Addresses are compared as 16-byte arrays: an IPv4 address is kept in
 * the IPv4-mapped form (::ffff:a.b.c.d), so one prefix test serves both
 * families and the allow list can hold either. The range tables follow
 * the IANA special-purpose registries; for IPv6 only global unicast
 * (2000::/3) is considered at all, minus its special blocks, so a range
 * IANA adds later outside it is refused by default.
 *
 * The raw text is checked before curl's URL parser sees it because curl
 * is lenient where parsers disagree (it takes "http:/host" and
 * "http:///host", and decodes percent-escapes in host names): anything
 * two parsers could read differently is refused rather than interpreted.
 *
 * Threads: a policy is read-only after _new; no locks.
 */
#include "cq_urlpolicy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define CQ_URLPOLICY_MAX_URL 8192

typedef struct {
    uint8_t addr[16]; /* IPv4 entries in the mapped form */
    int bits;         /* prefix length over the 16 bytes */
} cq_urlpolicy_cidr_t;

struct cq_urlpolicy_s {
    cq_urlpolicy_cidr_t *allow;
    size_t allow_count;
};

typedef struct {
    const char *prefix; /* textual network */
    int bits;           /* its length, in the family's own bits */
    const char *label;
} cq_urlpolicy_range_t;

/* Refused IPv4 ranges; the first match names the reason, so narrower
 * ranges come before the ranges that contain them. */
static const cq_urlpolicy_range_t cq_urlpolicy_v4[] = {
    {"0.0.0.0", 8, "unspecified (this network)"},
    {"10.0.0.0", 8, "private"},
    {"100.64.0.0", 10, "shared address space (CGNAT)"},
    {"127.0.0.0", 8, "loopback"},
    {"169.254.0.0", 16, "link-local"},
    {"172.16.0.0", 12, "private"},
    {"192.0.0.0", 24, "reserved (IETF protocol assignments)"},
    {"192.0.2.0", 24, "documentation"},
    {"192.88.99.0", 24, "reserved (6to4 relay anycast)"},
    {"192.168.0.0", 16, "private"},
    {"198.18.0.0", 15, "benchmarking"},
    {"198.51.100.0", 24, "documentation"},
    {"203.0.113.0", 24, "documentation"},
    {"224.0.0.0", 4, "multicast"},
    {"255.255.255.255", 32, "broadcast"},
    {"240.0.0.0", 4, "reserved"},
};

/* Refused IPv6 ranges inside 2000::/3 (everything outside it is refused
 * before this table, except the two translation prefixes handled apart). */
static const cq_urlpolicy_range_t cq_urlpolicy_v6[] = {
    {"2001:db8::", 32, "documentation"},
    {"2001::", 23, "reserved (IETF protocol assignments, Teredo, benchmarking)"},
    {"3fff::", 20, "documentation"},
};

static void cq_urlpolicy_map_v4(const struct in_addr *in, uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &in->s_addr, 4);
}

static bool cq_urlpolicy_prefix_match(const uint8_t a[16], const uint8_t net[16], int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (net[whole] & mask);
}

static bool cq_urlpolicy_is_mapped(const uint8_t a[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, mapped, 12) == 0;
}

/* Parses "addr" or "addr/bits" into a cidr; false when malformed. */
static bool cq_urlpolicy_parse_cidr(const char *text, cq_urlpolicy_cidr_t *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlen(text) >= sizeof(buf))
        return false;
    cq_strlcpy(buf, text, sizeof(buf));
    char *slash = strchr(buf, '/');
    int bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || v < 0 || v > 128)
            return false;
        bits = (int)v;
    }
    struct in_addr v4;
    struct in6_addr v6;
    /* inet_pton, not inet_aton: an allow list entry is written plainly. */
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        if (bits > 32)
            return false;
        cq_urlpolicy_map_v4(&v4, out->addr);
        out->bits = 96 + (bits < 0 ? 32 : bits);
        return true;
    }
    if (inet_pton(AF_INET6, buf, &v6) == 1) {
        memcpy(out->addr, v6.s6_addr, 16);
        out->bits = bits < 0 ? 128 : bits;
        return true;
    }
    return false;
}

cq_urlpolicy_t *cq_urlpolicy_new(const char *allow, char *errstr, size_t errstr_size)
{
    cq_urlpolicy_t *policy = cq_calloc(1, sizeof(*policy));
    if (!allow || !*allow)
        return policy;
    char *copy = cq_strdup(allow);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        size_t len = strlen(tok);
        while (len && isspace((unsigned char)tok[len - 1]))
            tok[--len] = '\0';
        if (!len)
            continue;
        cq_urlpolicy_cidr_t cidr;
        if (!cq_urlpolicy_parse_cidr(tok, &cidr)) {
            cq_errstr_set(errstr, errstr_size,
                          "fetch.allow: \"%s\" is not an address or CIDR (e.g. 127.0.0.0/8)", tok);
            goto err_free_copy;
        }
        policy->allow = cq_realloc(policy->allow, (policy->allow_count + 1) * sizeof(cidr));
        policy->allow[policy->allow_count++] = cidr;
    }
    free(copy);
    return policy;

err_free_copy:
    free(copy);
    cq_urlpolicy_destroy(policy);
    return NULL;
}

void cq_urlpolicy_destroy(cq_urlpolicy_t *policy)
{
    if (!policy)
        return;
    free(policy->allow);
    free(policy);
}

static bool cq_urlpolicy_allowed_by_list(const cq_urlpolicy_t *policy, const uint8_t a[16])
{
    for (size_t i = 0; i < policy->allow_count; i++)
        if (cq_urlpolicy_prefix_match(a, policy->allow[i].addr, policy->allow[i].bits))
            return true;
    return false;
}

static const char *cq_urlpolicy_v4_label(const uint8_t v4[4])
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_urlpolicy_v4); i++) {
        uint8_t net[4];
        inet_pton(AF_INET, cq_urlpolicy_v4[i].prefix, net);
        uint8_t a16[16] = {0}, n16[16] = {0};
        memcpy(a16, v4, 4);
        memcpy(n16, net, 4);
        if (cq_urlpolicy_prefix_match(a16, n16, cq_urlpolicy_v4[i].bits))
            return cq_urlpolicy_v4[i].label;
    }
    return NULL;
}

/* Why the 16-byte address a is refused (ignoring the allow list), or NULL.
 * v6 says whether it was an IPv6 address (else an IPv4 one in the mapped
 * form); kind names the translation when an IPv6 address embeds IPv4. */
static const char *cq_urlpolicy_label(const uint8_t a[16], bool v6, const char **kind)
{
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1};
    *kind = NULL;
    if (cq_urlpolicy_is_mapped(a)) {
        *kind = v6 ? "IPv4-mapped" : NULL;
        return cq_urlpolicy_v4_label(a + 12);
    }
    if (memcmp(a, nat64, 12) == 0) {
        *kind = "NAT64";
        return cq_urlpolicy_v4_label(a + 12);
    }
    if (memcmp(a, nat64_local, 6) == 0)
        return "private (local-use NAT64)";
    if (a[0] == 0x20 && a[1] == 0x02) {
        *kind = "6to4";
        return cq_urlpolicy_v4_label(a + 2);
    }
    static const uint8_t zero[15] = {0};
    if (memcmp(a, zero, 15) == 0 && a[15] == 0)
        return "unspecified";
    if (memcmp(a, zero, 15) == 0 && a[15] == 1)
        return "loopback";
    if (a[0] == 0xff)
        return "multicast";
    if ((a[0] & 0xfe) == 0xfc)
        return "private (unique local)";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return "link-local";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return "site-local (deprecated)";
    if ((a[0] & 0xe0) != 0x20)
        return "reserved (not global unicast)";
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_urlpolicy_v6); i++) {
        uint8_t net[16];
        inet_pton(AF_INET6, cq_urlpolicy_v6[i].prefix, net);
        if (cq_urlpolicy_prefix_match(a, net, cq_urlpolicy_v6[i].bits))
            return cq_urlpolicy_v6[i].label;
    }
    return NULL;
}

/* The policy decision for one 16-byte address; text is for the message. */
static bool cq_urlpolicy_check16(const cq_urlpolicy_t *policy, const uint8_t a[16], bool v6,
                                 const char *text, char *why, size_t why_size)
{
    if (cq_urlpolicy_allowed_by_list(policy, a))
        return true;
    const char *kind;
    const char *label = cq_urlpolicy_label(a, v6, &kind);
    if (!label)
        return true;
    if (kind)
        cq_errstr_set(why, why_size, "%s is %s of a %s IPv4 address", text, kind, label);
    else
        cq_errstr_set(why, why_size, "%s is %s", text, label);
    return false;
}

bool cq_urlpolicy_check_addr(const cq_urlpolicy_t *policy, const struct sockaddr *addr, char *why,
                             size_t why_size)
{
    uint8_t a[16];
    char text[INET6_ADDRSTRLEN] = "?";
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        cq_urlpolicy_map_v4(&in->sin_addr, a);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        memcpy(a, in6->sin6_addr.s6_addr, 16);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    } else {
        cq_errstr_set(why, why_size, "address family %d is not IPv4 or IPv6", (int)addr->sa_family);
        return false;
    }
    return cq_urlpolicy_check16(policy, a, addr->sa_family == AF_INET6, text, why, why_size);
}

void cq_urlpolicy_url_clear(cq_urlpolicy_url_t *url)
{
    if (!url)
        return;
    free(url->url);
    free(url->host);
    free(url->dest);
    memset(url, 0, sizeof(*url));
}

/* The raw-text rules, before any parser interprets the URL. */
static bool cq_urlpolicy_check_text(const char *text, bool strict, char *errstr, size_t errstr_size)
{
    size_t len = strlen(text);
    if (len == 0 || len > CQ_URLPOLICY_MAX_URL) {
        cq_errstr_set(errstr, errstr_size, "the URL is empty or longer than %d bytes",
                      CQ_URLPOLICY_MAX_URL);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c == 0x7f || c == '\\') {
            cq_errstr_set(errstr, errstr_size,
                          "the URL contains a space, a control character or a backslash");
            return false;
        }
    }
    size_t scheme_len;
    if (strncasecmp(text, "http://", 7) == 0)
        scheme_len = 7;
    else if (strncasecmp(text, "https://", 8) == 0)
        scheme_len = 8;
    else {
        cq_errstr_set(errstr, errstr_size, "only http:// and https:// URLs may be fetched");
        return false;
    }
    const char *auth = text + scheme_len;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth_len == 0) {
        cq_errstr_set(errstr, errstr_size, "the URL has no host");
        return false;
    }
    if (!strict)
        return true;
    if (memchr(auth, '@', auth_len)) {
        cq_errstr_set(errstr, errstr_size, "credentials (user@) in URLs are not allowed");
        return false;
    }
    if (memchr(auth, '%', auth_len)) {
        cq_errstr_set(errstr, errstr_size,
                      "percent-escapes and zone ids in the host are not allowed");
        return false;
    }
    return true;
}

/* A host written as an address, in any spelling: curl has normalised the
 * IPv4 forms it knows; inet_aton catches any it left (it takes the same
 * decimal, octal, hex and short forms the resolver would). */
static bool cq_urlpolicy_host_literal(const char *host, uint8_t a[16], bool *is_v6)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET6, host, &v6) == 1) {
        memcpy(a, v6.s6_addr, 16);
        *is_v6 = true;
        return true;
    }
    /* "127.0.0.1." is the same address to resolvers that drop the root dot. */
    char bare[64];
    cq_strlcpy(bare, host, sizeof(bare));
    size_t len = strlen(bare);
    if (len > 1 && bare[len - 1] == '.')
        bare[len - 1] = '\0';
    if (inet_pton(AF_INET, bare, &v4) == 1 || inet_aton(bare, &v4) == 1) {
        cq_urlpolicy_map_v4(&v4, a);
        *is_v6 = false;
        return true;
    }
    return false;
}

cq_err_t cq_urlpolicy_parse(const cq_urlpolicy_t *policy, const char *text, cq_urlpolicy_url_t *out,
                            char *errstr, size_t errstr_size)
{
    cq_err_t err = CQ_ERR_URL_NOT_ALLOWED;
    memset(out, 0, sizeof(*out));
    char *part = NULL, *host = NULL;
    if (!text || !cq_urlpolicy_check_text(text, policy != NULL, errstr, errstr_size))
        return err;
    CURLU *u = curl_url();
    if (curl_url_set(u, CURLUPART_URL, text, 0) != CURLUE_OK) {
        cq_errstr_set(errstr, errstr_size, "not a valid URL");
        goto err_free_url;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &part, 0) != CURLUE_OK ||
        (strcmp(part, "http") != 0 && strcmp(part, "https") != 0)) {
        cq_errstr_set(errstr, errstr_size, "only http:// and https:// URLs may be fetched");
        goto err_free_url;
    }
    bool https = strcmp(part, "https") == 0;
    curl_free(part);
    part = NULL;
    if (policy) {
        static const CURLUPart creds[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS,
                                          CURLUPART_ZONEID};
        for (size_t i = 0; i < CQ_ARRAY_SIZE(creds); i++) {
            if (curl_url_get(u, creds[i], &part, 0) == CURLUE_OK) {
                cq_errstr_set(errstr, errstr_size,
                              i == 3 ? "zone ids in the host are not allowed"
                                     : "credentials (user@) in URLs are not allowed");
                goto err_free_url;
            }
        }
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        cq_errstr_set(errstr, errstr_size, "the URL has no host");
        goto err_free_url;
    }
    if (curl_url_get(u, CURLUPART_PORT, &part, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        cq_errstr_set(errstr, errstr_size, "the URL has no valid port");
        goto err_free_url;
    }
    long port = strtol(part, NULL, 10);
    curl_free(part);
    part = NULL;
    if (port < 1 || port > 65535) {
        cq_errstr_set(errstr, errstr_size, "port %ld is not in 1..65535", port);
        goto err_free_url;
    }
    /* curl keeps an IPv6 host in brackets. */
    size_t hlen = strlen(host);
    bool v6 = host[0] == '[' && hlen > 2 && host[hlen - 1] == ']';
    char *bare = v6 ? cq_strndup(host + 1, hlen - 2) : cq_strdup(host);
    uint8_t a[16];
    bool is_v6;
    if (policy && cq_urlpolicy_host_literal(bare, a, &is_v6) &&
        !cq_urlpolicy_check16(policy, a, is_v6, bare, errstr, errstr_size)) {
        free(bare);
        goto err_free_url;
    }
    if (curl_url_get(u, CURLUPART_URL, &part, 0) != CURLUE_OK) {
        free(bare);
        cq_errstr_set(errstr, errstr_size, "not a valid URL");
        goto err_free_url;
    }
    out->url = cq_strdup(part);
    out->host = bare;
    out->port = (int)port;
    out->https = https;
    out->dest = cq_asprintf(v6 ? "[%s]:%ld" : "%s:%ld", bare, port);
    err = CQ_ERR_OK;

err_free_url:
    curl_free(part);
    curl_free(host);
    curl_url_cleanup(u);
    return err;
}

char *cq_urlpolicy_join(const char *base, const char *location)
{
    char *joined = NULL, *part = NULL;
    CURLU *u = curl_url();
    if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
        goto done_free_url;
    /* With a base set, curl resolves a relative reference against it. */
    if (curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK)
        goto done_free_url;
    if (curl_url_get(u, CURLUPART_URL, &part, 0) == CURLUE_OK)
        joined = cq_strdup(part);
    curl_free(part);

done_free_url:
    curl_url_cleanup(u);
    return joined;
}
