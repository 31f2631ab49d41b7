/*
 * fuzz_urlpolicy.c — the address policy of user-supplied URLs
 * (lib/cq_urlpolicy.c): the parse-time check, redirect resolution, the
 * connect-time address check and the allow list's CIDR parser.
 *
 * Input byte 0 chooses (mod 5):
 *   0  the rest is a URL, checked by the default policy (empty allow list);
 *   1  the same with an allow list (127.0.0.0/8, ::1/128, 10.1.0.0/16) and
 *      with no policy (trusted, syntax only);
 *   2  "base \n location": a redirect resolved, the result checked;
 *   3  raw socket address bytes: 4 (IPv4) or 16 (IPv6) after a family bit;
 *   4  the rest is an allow list (fetch.allow) to parse.
 * A URL that passes must have a host, a port in 1..65535 and a destination.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_urlpolicy.h"

static cq_urlpolicy_t *deny_all, *allow_some;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    deny_all = cq_urlpolicy_new(NULL, err, sizeof(err));
    allow_some = cq_urlpolicy_new("127.0.0.0/8, ::1/128, 10.1.0.0/16", err, sizeof(err));
    if (!deny_all || !allow_some) {
        fprintf(stderr, "fuzz_urlpolicy: %s\n", err);
        exit(1);
    }
    return 0;
}

static void check_url(const cq_urlpolicy_t *policy, const char *text)
{
    cq_urlpolicy_url_t url;
    char err[256];
    if (cq_urlpolicy_parse(policy, text, &url, err, sizeof(err)) == CQ_ERR_OK) {
        if (!url.url || !url.host || !url.host[0] || !url.dest || url.port < 1 || url.port > 65535)
            __builtin_trap();
        cq_urlpolicy_url_clear(&url);
    } else if (url.url || url.host || url.dest) {
        __builtin_trap(); /* refused but not zeroed */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = cq_strndup((const char *)data + 1, size - 1);
    char err[256];
    switch (data[0] % 5) {
    case 0:
        check_url(deny_all, text);
        break;
    case 1:
        check_url(allow_some, text);
        check_url(NULL, text);
        break;
    case 2: {
        char *nl = strchr(text, '\n');
        if (nl) {
            *nl = '\0';
            char *joined = cq_urlpolicy_join(text, nl + 1);
            if (joined)
                check_url(deny_all, joined);
            free(joined);
        }
        break;
    }
    case 3: {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        if (size >= 1 + 16 && (data[1] & 1)) {
            struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
            a6->sin6_family = AF_INET6;
            memcpy(&a6->sin6_addr, data + 1, 16);
        } else if (size >= 1 + 4) {
            struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
            a4->sin_family = AF_INET;
            memcpy(&a4->sin_addr, data + 1, 4);
        } else {
            ss.ss_family = AF_UNIX;
        }
        cq_urlpolicy_check_addr(deny_all, (struct sockaddr *)&ss, err, sizeof(err));
        cq_urlpolicy_check_addr(allow_some, (struct sockaddr *)&ss, err, sizeof(err));
        break;
    }
    default:
        cq_urlpolicy_destroy(cq_urlpolicy_new(text, err, sizeof(err)));
        break;
    }
    free(text);
    return 0;
}
