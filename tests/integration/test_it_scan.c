/*
 * Integration: website-scan end to end against a fake business site on
 * loopback (tests/fake/fake_site.py), reached through the fetch layer's
 * allow list; with the default address policy, a table of loopback
 * spellings refused without a single request reaching the site; and with
 * a model (the fake LLM), the model reads the page's text, never its
 * markup, and the engine's own reading answers while the circuit is open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_it.h"

static cq_it_stack_t stack;
static cq_it_proc_t site, llm;
static int site_port, llm_port;

static const char *const json_h[] = {"Content-Type: application/json", "X-Tenant-Id: tenant-scan",
                                     NULL};

static cq_it_resp_t scan(const char *url)
{
    char body[512], endpoint[256];
    snprintf(body, sizeof(body), "{\"url\": \"%s\"}", url);
    snprintf(endpoint, sizeof(endpoint), "%s/website/scan", stack.base);
    return cq_it_http("POST", endpoint, json_h, body, strlen(body));
}

static cq_it_resp_t scan_path(const char *path)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", site_port, path);
    return scan(url);
}

static const char *str(json_t *root, const char *path)
{
    const char *s = json_string_value(cq_it_get(root, path));
    return s ? s : "";
}

/* Requests the site has received since it started. */
static long site_total(void)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/_control/counts", site_port);
    cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
    long total = (long)json_integer_value(cq_it_get(r.json, "total"));
    cq_it_resp_free(&r);
    return total;
}

/* A worker whose model is the fake LLM, reaching the site through the allow list. */
static void start_llm_worker(bool breaker)
{
    cq_it_stop(&stack.worker, SIGTERM);
    assert_true(cq_it_fake_reset(llm_port));
    char base[128];
    snprintf(base, sizeof(base), "llm.base_url=http://127.0.0.1:%d/v1", llm_port);
    const char *opts[] = {"fetch.allow=127.0.0.1/32",
                          "fetch.max_attempts=1",
                          "llm.provider=openai",
                          base,
                          "llm.api_key=test-key",
                          "llm.model=test-model",
                          "llm.max_attempts=1",
                          breaker ? "llm.breaker_failures=1" : NULL,
                          "llm.breaker_cooldown=60s",
                          "llm.fallback_builtin=true",
                          NULL};
    assert_true(cq_it_start_worker(&stack, "alignment", opts));
}

static void start_worker(bool allow_loopback)
{
    cq_it_stop(&stack.worker, SIGTERM);
    const char *allowed[] = {"fetch.allow=127.0.0.1/32", "fetch.max_bytes=256KiB",
                             "fetch.max_attempts=1", NULL};
    const char *strict[] = {"fetch.max_attempts=1", NULL};
    assert_true(cq_it_start_worker(&stack, "alignment", allow_loopback ? allowed : strict));
}

static void test_it_scan_json_ld_page(void **state)
{
    cq_it_resp_t r = scan_path("/dentist");
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "WebsiteScanResult"));
    assert_string_equal(str(r.json, "data.businessName"), "Bright Smile Dental Practice");
    assert_string_equal(str(r.json, "data.industry"), "Dental care");
    assert_string_equal(str(r.json, "data.targetMarket"), "Customers in Leeds");
    assert_string_equal(str(r.json, "data.products.0.name"), "Dental implants");
    cq_it_resp_free(&r);
}

static void test_it_scan_page_without_json_ld(void **state)
{
    cq_it_resp_t r = scan_path("/solar");
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "data.businessName"), "SunRise Solar");
    assert_string_equal(str(r.json, "data.industry"), "Solar energy");
    assert_int_equal(json_array_size(cq_it_get(r.json, "data.products")), 2);
    cq_it_resp_free(&r);
}

static void test_it_scan_large_page_is_read_up_to_the_cap(void **state)
{
    cq_it_resp_t r = scan_path("/big");
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "data.businessName"), "Big Catalogue Ltd");
    assert_string_equal(str(r.json, "data.description"), "Every part for every bike.");
    cq_it_resp_free(&r);
}

static void test_it_scan_redirect_chain_is_followed(void **state)
{
    cq_it_resp_t r = scan_path("/r1");
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "data.businessName"), "Bright Smile Dental Practice");
    cq_it_resp_free(&r);
}

static void test_it_scan_refusals_have_their_own_codes(void **state)
{
    cq_it_resp_t r = scan_path("/brochure.pdf");
    assert_int_equal(r.status, 422);
    assert_string_equal(str(r.json, "code"), "NOT_HTML");
    cq_it_resp_free(&r);

    r = scan_path("/gone");
    assert_int_equal(r.status, 502);
    assert_string_equal(str(r.json, "code"), "FETCH_FAILED");
    cq_it_resp_free(&r);

    /* A hop to an address outside the allow list: refused, never fetched. */
    long before = site_total();
    r = scan_path("/to-refused");
    assert_int_equal(r.status, 422);
    assert_string_equal(str(r.json, "code"), "URL_NOT_ALLOWED");
    cq_it_resp_free(&r);
    assert_int_equal(site_total(), before + 1); /* /to-refused itself, nothing after it */
}

static void test_it_scan_default_policy_refuses_every_loopback_spelling(void **state)
{
    start_worker(false);
    static const char *const hosts[] = {
        "127.0.0.1", "localhost",  "2130706433", "0x7f000001",         "0177.0.0.1",
        "127.1",     "0x7f.0.0.1", "[::1]",      "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
        "0.0.0.0",   "127.0.0.1.", "LOCALHOST",  "[0:0:0:0:0:0:0:1]",
    };
    long before = site_total();
    for (size_t i = 0; i < CQ_ARRAY_SIZE(hosts); i++) {
        char url[256];
        snprintf(url, sizeof(url), "http://%s:%d/dentist", hosts[i], site_port);
        cq_it_resp_t r = scan(url);
        if (r.status != 422)
            fail_msg("%s answered %ld: %s", url, r.status, r.body);
        if (strcmp(str(r.json, "code"), "URL_NOT_ALLOWED") != 0)
            fail_msg("%s answered %s", url, str(r.json, "code"));
        cq_it_resp_free(&r);
    }
    assert_int_equal(site_total(), before); /* not one request reached the site */
    start_worker(true);
}

static void test_it_scan_the_model_reads_the_page_not_its_markup(void **state)
{
    start_llm_worker(false);
    cq_it_resp_t r = scan_path("/dentist");
    assert_int_equal(r.status, 200);
    assert_true(cq_it_matches_schema(cq_it_get(r.json, "data"), "WebsiteScanResult"));
    cq_it_resp_free(&r);
    json_t *calls = cq_it_fake_requests(llm_port);
    assert_int_equal(json_array_size(calls), 1);
    json_t *call = json_array_get(calls, 0);
    assert_string_equal(str(call, "body.response_format.json_schema.name"), "website-scan");
    const char *user = str(call, "body.messages.1.content");
    assert_non_null(strstr(user, "Bright Smile Dental Practice")); /* from the JSON-LD */
    assert_non_null(strstr(user, "Family dentist in Leeds"));      /* the title */
    assert_non_null(strstr(user, "Founded in 2009"));              /* the body text */
    assert_null(strstr(user, "<h1"));
    assert_null(strstr(user, "<script"));
    assert_null(strstr(user, "\\u003cscript")); /* not even escaped markup */
    json_decref(calls);
    start_worker(true);
}

static void test_it_scan_open_circuit_answers_with_the_pages_own_reading(void **state)
{
    start_llm_worker(true);
    assert_true(cq_it_fake_script(llm_port, "{\"steps\": [], \"then\": {\"kind\": \"status\","
                                            " \"code\": 500}}"));
    cq_it_resp_t r = scan_path("/dentist"); /* fails and opens the circuit */
    assert_int_equal(r.status, 503);
    cq_it_resp_free(&r);
    r = scan_path("/solar");
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "data.businessName"), "SunRise Solar");
    char job_id[64], url[256];
    assert_true(cq_it_header(&r, "X-Job-Id", job_id, sizeof(job_id)));
    cq_it_resp_free(&r);
    snprintf(url, sizeof(url), "%s/jobs/%s", stack.base, job_id);
    r = cq_it_http("GET", url, json_h, NULL, 0);
    assert_string_equal(str(r.json, "engine.name"), "builtin");
    assert_true(json_is_true(cq_it_get(r.json, "engine.fallback")));
    cq_it_resp_free(&r);
    start_worker(true);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "scan");
    if (!cq_it_start_fake("fake_site.py", &site, &site_port) ||
        !cq_it_start_fake("fake_llm.py", &llm, &llm_port))
        return -1;
    start_worker(true);
    return cq_it_start_gateway(&stack, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    cq_it_stop(&site, SIGTERM);
    cq_it_stop(&llm, SIGTERM);
    return 0;
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_it_scan_json_ld_page),
        cmocka_unit_test(test_it_scan_page_without_json_ld),
        cmocka_unit_test(test_it_scan_large_page_is_read_up_to_the_cap),
        cmocka_unit_test(test_it_scan_redirect_chain_is_followed),
        cmocka_unit_test(test_it_scan_refusals_have_their_own_codes),
        cmocka_unit_test(test_it_scan_default_policy_refuses_every_loopback_spelling),
        cmocka_unit_test(test_it_scan_the_model_reads_the_page_not_its_markup),
        cmocka_unit_test(test_it_scan_open_circuit_answers_with_the_pages_own_reading),
    };
    return cmocka_run_group_tests_name("integration.scan", tests, setup, teardown);
}
