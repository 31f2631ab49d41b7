/*
 * cq_fetch_headers.c — shared request header lists (see
 * cq_fetch_headers.h). Loop thread only.
 */
#include "cq_fetch_headers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct cq_fetch_headers_s {
    struct curl_slist *list; /* the lines, then "Expect:" */
    int refs;
};

static struct curl_slist *cq_fetch_headers_append(struct curl_slist *list, const char *line)
{
    struct curl_slist *more = curl_slist_append(list, line);
    if (!more) {
        fprintf(stderr, "coachq: out of memory\n");
        abort();
    }
    return more;
}

void cq_fetch_headers_free_list(struct curl_slist *list)
{
    for (struct curl_slist *node = list; node; node = node->next)
        explicit_bzero(node->data, strlen(node->data)); /* may hold keys */
    curl_slist_free_all(list);
}

/* Whether the list holds exactly these lines, then "Expect:". */
static bool cq_fetch_headers_same(const struct curl_slist *list, const char *const *lines,
                                  size_t count)
{
    const struct curl_slist *node = list;
    for (size_t i = 0; i < count; i++, node = node->next)
        if (!node || strcmp(node->data, lines[i]) != 0)
            return false;
    return node && !node->next && strcmp(node->data, "Expect:") == 0;
}

static cq_fetch_headers_t *cq_fetch_headers_new(struct curl_slist *list)
{
    cq_fetch_headers_t *headers = cq_calloc(1, sizeof(*headers));
    headers->list = cq_fetch_headers_append(list, "Expect:");
    headers->refs = 1;
    return headers;
}

cq_fetch_headers_t *cq_fetch_headers_get(cq_fetch_headers_t **last, const char *const *lines,
                                         size_t count)
{
    if (*last && cq_fetch_headers_same((*last)->list, lines, count)) {
        (*last)->refs++;
        return *last;
    }
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < count; i++)
        list = cq_fetch_headers_append(list, lines[i]);
    cq_fetch_headers_t *headers = cq_fetch_headers_new(list);
    cq_fetch_headers_release(*last);
    *last = headers;
    headers->refs++;
    return headers;
}

void cq_fetch_headers_release(cq_fetch_headers_t *headers)
{
    if (!headers || --headers->refs > 0)
        return;
    cq_fetch_headers_free_list(headers->list);
    free(headers);
}

static bool cq_fetch_header_is(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

cq_fetch_headers_t *cq_fetch_headers_without_credentials(const cq_fetch_headers_t *headers)
{
    struct curl_slist *list = NULL;
    for (const struct curl_slist *node = headers->list; node && node->next; node = node->next) {
        const char *h = node->data; /* the last node is "Expect:", added again below */
        if (!cq_fetch_header_is(h, "Authorization") && !cq_fetch_header_is(h, "Cookie") &&
            !cq_fetch_header_is(h, "Proxy-Authorization"))
            list = cq_fetch_headers_append(list, h);
    }
    return cq_fetch_headers_new(list);
}

struct curl_slist *cq_fetch_headers_list(const cq_fetch_headers_t *headers)
{
    return headers->list;
}

struct curl_slist *cq_fetch_headers_with(const cq_fetch_headers_t *headers, const char *line)
{
    struct curl_slist *list = NULL;
    for (const struct curl_slist *node = headers->list; node; node = node->next)
        list = cq_fetch_headers_append(list, node->data);
    return cq_fetch_headers_append(list, line);
}
