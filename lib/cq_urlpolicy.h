/*
 * cq_urlpolicy.h — which URLs supplied by users coachq may fetch.
 *
 * Two checks, both needed:
 *  - at parse time (cq_urlpolicy_parse): http or https only, no
 *    credentials (userinfo) in the URL, a host, a port in 1..65535, no
 *    backslashes, spaces, control characters or percent-escapes in the
 *    authority, no IPv6 zone id; a host written as an IP address, in any
 *    spelling curl accepts (2130706433, 0177.0.0.1, 0x7f.1, 127.1,
 *    [::ffff:7f00:1], ...), is checked as an address right away;
 *  - at connect time (cq_urlpolicy_check_addr): the socket address a
 *    transfer is about to connect to, after DNS, so a name that resolves to
 *    a refused address is refused before any packet leaves. cq_fetch calls
 *    it from curl's open-socket hook: the connection is made to exactly the
 *    address that was checked.
 *
 * Refused unless the allow list covers them: loopback, private (RFC 1918,
 * 100.64/10, fc00::/7, local NAT64), link-local, multicast, unspecified,
 * broadcast, documentation, benchmarking and reserved ranges, every IPv6
 * address outside 2000::/3, and IPv4-mapped, NAT64 (64:ff9b::/96) and
 * 6to4 (2002::/16) addresses whose embedded IPv4 address is refused.
 * The allow list (config fetch.allow, CIDRs) exists so tests can reach
 * loopback fakes; its default is empty: nothing private is reachable.
 *
 * A policy is immutable after cq_urlpolicy_new: any thread may use it.
 */
#ifndef CQ_URLPOLICY_H
#define CQ_URLPOLICY_H

#include <sys/socket.h>

#include "cq_common.h"
#include "cq_err.h"

typedef struct cq_urlpolicy_s cq_urlpolicy_t;

/* A policy whose allow list is `allow`: comma-separated CIDRs
 * ("127.0.0.0/8, ::1/128"; an address without a length is one host);
 * NULL or "" allows nothing beyond public addresses. NULL with errstr on a
 * malformed entry. Caller destroys. */
cq_urlpolicy_t *cq_urlpolicy_new(const char *allow, char *errstr, size_t errstr_size);
void cq_urlpolicy_destroy(cq_urlpolicy_t *policy);

/* A URL that passed cq_urlpolicy_parse. Owned strings; clear with
 * cq_urlpolicy_url_clear. */
typedef struct {
    char *url;  /* normalised by curl's URL parser: what is fetched */
    char *host; /* as in the URL, IPv6 without brackets, e.g. "example.com", "::1" */
    int port;   /* explicit or the scheme's default */
    bool https;
    char *dest; /* "host:port" ("[::1]:8080" for IPv6): the circuit breaker's key */
} cq_urlpolicy_url_t;

/* Frees what url holds and zeroes it; safe on a zeroed struct. */
void cq_urlpolicy_url_clear(cq_urlpolicy_url_t *url);

/* Parse-time check of text as a URL to fetch. With policy NULL (a URL
 * from configuration, trusted) only the syntax is checked (http/https, a
 * host, a port); with a policy every rule above applies. On success fills
 * out (caller clears it); on failure out is zeroed and errstr says why:
 * CQ_ERR_URL_NOT_ALLOWED. */
cq_err_t cq_urlpolicy_parse(const cq_urlpolicy_t *policy, const char *text, cq_urlpolicy_url_t *out,
                            char *errstr, size_t errstr_size);

/* Resolves a redirect's Location (absolute or relative) against base (an
 * absolute URL) into a new absolute URL; caller frees. NULL when it cannot
 * be resolved. The result still has to pass cq_urlpolicy_parse. */
char *cq_urlpolicy_join(const char *base, const char *location);

/* Connect-time check of one socket address (AF_INET or AF_INET6; any other
 * family is refused). true if it may be connected to; else false and why
 * names the address and its range ("127.0.0.1 is loopback"). */
bool cq_urlpolicy_check_addr(const cq_urlpolicy_t *policy, const struct sockaddr *addr, char *why,
                             size_t why_size);

#endif
