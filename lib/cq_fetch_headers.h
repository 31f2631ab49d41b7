/*
 * cq_fetch_headers.h — the request header lines of the fetch's calls as
 * curl lists, shared by the calls that send the same lines.
 *
 * Most calls of a worker send the same few lines (an LLM provider's
 * Content-Type, Accept and key; an upstream's Authorization): one list
 * serves them all instead of a copy per call. A set is made from a call's
 * lines, or the set the previous call got is reused when the lines are
 * the same; sets are reference-counted and wiped when freed (they may hold
 * keys). Every set ends with "Expect:" (no 100-continue round trip).
 *
 * Internal to the fetch layer (curl types): not thread-safe, the fetch's
 * loop thread only.
 */
#ifndef CQ_FETCH_HEADERS_H
#define CQ_FETCH_HEADERS_H

#include "cq_common.h"

struct curl_slist;
typedef struct cq_fetch_headers_s cq_fetch_headers_t;

/* The set of the count lines, with one reference for the caller: *last
 * itself (one reference more) when it holds the same lines, else a new
 * set that replaces *last (which drops its reference). *last starts NULL;
 * release it at the end. */
cq_fetch_headers_t *cq_fetch_headers_get(cq_fetch_headers_t **last, const char *const *lines,
                                         size_t count);

/* Drops a reference; the last one wipes and frees the set. NULL is a no-op. */
void cq_fetch_headers_release(cq_fetch_headers_t *headers);

/* A new set (one reference) of the lines of headers but Authorization,
 * Cookie and Proxy-Authorization: for a redirect to another origin. */
cq_fetch_headers_t *cq_fetch_headers_without_credentials(const cq_fetch_headers_t *headers);

/* The set as a curl list (valid while a reference is held). */
struct curl_slist *cq_fetch_headers_list(const cq_fetch_headers_t *headers);

/* A private list: the set's lines and one more line after them. The
 * caller frees it with cq_fetch_headers_free_list. */
struct curl_slist *cq_fetch_headers_with(const cq_fetch_headers_t *headers, const char *line);

/* Wipes and frees a list from cq_fetch_headers_with. NULL is a no-op. */
void cq_fetch_headers_free_list(struct curl_slist *list);

#endif
