/*
 * Unit tests of the fetch layer's shared header lists: calls that send the
 * same lines share one list, other lines get their own, a redirect to
 * another origin drops the credentials, and a transfer's traceparent goes
 * on a private copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <curl/curl.h>

#include "cq_fetch_headers.h"

/* The list's lines joined with '|'. */
static const char *joined(const struct curl_slist *list)
{
    static char buf[512];
    buf[0] = '\0';
    for (; list; list = list->next) {
        strncat(buf, list->data, sizeof(buf) - strlen(buf) - 2);
        if (list->next)
            strcat(buf, "|");
    }
    return buf;
}

static void test_fetch_headers_same_lines_share_one_list(void **state)
{
    const char *const llm[] = {"Content-Type: application/json", "Authorization: Bearer k"};
    const char *const other[] = {"Accept: text/html"};
    cq_fetch_headers_t *last = NULL;
    cq_fetch_headers_t *a = cq_fetch_headers_get(&last, llm, 2);
    cq_fetch_headers_t *b = cq_fetch_headers_get(&last, llm, 2);
    assert_ptr_equal(a, b);
    assert_string_equal(joined(cq_fetch_headers_list(a)),
                        "Content-Type: application/json|Authorization: Bearer k|Expect:");
    /* A prefix of the lines is not the same set. */
    cq_fetch_headers_t *c = cq_fetch_headers_get(&last, llm, 1);
    assert_ptr_not_equal(c, a);
    assert_string_equal(joined(cq_fetch_headers_list(c)), "Content-Type: application/json|Expect:");
    cq_fetch_headers_t *d = cq_fetch_headers_get(&last, other, 1);
    assert_ptr_not_equal(d, c);
    /* The replaced sets stay valid while calls hold them. */
    assert_string_equal(joined(cq_fetch_headers_list(a)),
                        "Content-Type: application/json|Authorization: Bearer k|Expect:");
    cq_fetch_headers_t *none = cq_fetch_headers_get(&last, NULL, 0);
    assert_string_equal(joined(cq_fetch_headers_list(none)), "Expect:");
    cq_fetch_headers_release(a);
    cq_fetch_headers_release(b);
    cq_fetch_headers_release(c);
    cq_fetch_headers_release(d);
    cq_fetch_headers_release(none);
    cq_fetch_headers_release(last);
    cq_fetch_headers_release(NULL);
}

static void test_fetch_headers_redirect_drops_credentials(void **state)
{
    const char *const lines[] = {"Authorization: Bearer secret", "X-Tenant-Id: t", "cookie: a=b",
                                 "Proxy-Authorization: Basic x", "Authorization-Hint: kept"};
    cq_fetch_headers_t *last = NULL;
    cq_fetch_headers_t *h = cq_fetch_headers_get(&last, lines, 5);
    cq_fetch_headers_t *kept = cq_fetch_headers_without_credentials(h);
    assert_string_equal(joined(cq_fetch_headers_list(kept)),
                        "X-Tenant-Id: t|Authorization-Hint: kept|Expect:");
    cq_fetch_headers_release(kept);
    cq_fetch_headers_release(h);
    cq_fetch_headers_release(last);
}

static void test_fetch_headers_traceparent_on_a_private_copy(void **state)
{
    const char *const lines[] = {"Accept: application/json"};
    cq_fetch_headers_t *last = NULL;
    cq_fetch_headers_t *h = cq_fetch_headers_get(&last, lines, 1);
    struct curl_slist *own = cq_fetch_headers_with(h, "traceparent: 00-abc");
    assert_string_equal(joined(own), "Accept: application/json|Expect:|traceparent: 00-abc");
    assert_string_equal(joined(cq_fetch_headers_list(h)), "Accept: application/json|Expect:");
    cq_fetch_headers_free_list(own);
    cq_fetch_headers_free_list(NULL);
    cq_fetch_headers_release(h);
    cq_fetch_headers_release(last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_headers_same_lines_share_one_list),
        cmocka_unit_test(test_fetch_headers_redirect_drops_credentials),
        cmocka_unit_test(test_fetch_headers_traceparent_on_a_private_copy),
    };
    return cmocka_run_group_tests_name("fetch_headers", tests, NULL, NULL);
}
