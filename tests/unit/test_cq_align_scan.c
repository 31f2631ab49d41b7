/*
 * test_cq_align_scan.c — website-scan's built-in engine over pages shaped
 * like real ones: JSON-LD businesses, Open Graph, nested navigation,
 * service sections, bare pages and hostile markup. Every result must pass
 * the contract's WebsiteScanResult schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_scan.h"
#include "cq_contract.h"
#include "cq_html.h"

static cq_contract_t *contract;

static int setup(void **state)
{
    cq_config_t *conf = cq_config_new();
    char err[512];
    contract = cq_contract_new(conf, err, sizeof(err));
    cq_config_destroy(conf);
    return contract ? 0 : -1;
}

static int teardown(void **state)
{
    cq_contract_destroy(contract);
    return 0;
}

static json_t *scan(const char *html, const char *url)
{
    json_t *result = NULL;
    char err[256] = "";
    cq_err_t rc = cq_align_scan_page(html, strlen(html), url, &result, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("scan failed: %s", err);
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    const cq_operation_t *op = cq_contract_find(contract, "website-scan");
    if (!cq_schema_validate(op->result, result, &errors))
        fail_msg("result breaks the schema at %s: %s", errors.items[0].path,
                 errors.items[0].message);
    cq_schema_errors_clear(&errors);
    return result;
}

static const char *field(json_t *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r, key));
    assert_non_null(s);
    return s;
}

static const char dentist_page[] =
    "<!doctype html><html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
    "<title>Bright Smile Dental | Family dentist in Leeds</title>"
    "<meta name=\"description\" content=\"Gentle family dentistry in Leeds: check-ups, "
    "implants and Invisalign, with evening appointments.\">"
    "<meta property=\"og:site_name\" content=\"Bright Smile\">"
    "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@graph\":["
    "{\"@type\":\"WebSite\",\"name\":\"Bright Smile website\"},"
    "{\"@type\":[\"Dentist\",\"LocalBusiness\"],\"name\":\"Bright Smile Dental Practice\","
    "\"slogan\":\"Dentistry that fits around your family\",\"areaServed\":{\"@type\":\"City\","
    "\"name\":\"Leeds\"},\"makesOffer\":[{\"@type\":\"Offer\",\"itemOffered\":{\"@type\":"
    "\"Service\",\"name\":\"Dental implants\",\"description\":\"Replace missing teeth with "
    "implants that last\"}},{\"@type\":\"Offer\",\"itemOffered\":{\"name\":\"Invisalign\","
    "\"description\":\"Straighten teeth without metal braces\"}}]}]}</script>"
    "<script>window.tracking = '<h2>not a heading</h2>';</script><style>h1{color:red}</style>"
    "</head><body><header><nav><ul><li><a href=\"/\">Home</a></li><li><a href=\"/services\">"
    "Services</a><ul><li><a href=\"/implants\">Implants</a></li></ul></li>"
    "<li><a href=\"/contact\">Contact</a></li></ul></nav></header>"
    "<main><h1>Your family's smile, looked after</h1><p>Welcome to Bright Smile.</p>"
    "<h2>About us</h2><p>Founded in 2009 by Dr Patel.</p></main></body></html>";

static void test_scan_reads_json_ld_business(void **state)
{
    json_t *r = scan(dentist_page, "https://brightsmile.example/");
    assert_string_equal(field(r, "businessName"), "Bright Smile Dental Practice");
    assert_string_equal(field(r, "industry"), "Dental care");
    assert_non_null(strstr(field(r, "description"), "Gentle family dentistry in Leeds"));
    assert_string_equal(field(r, "valueProposition"), "Dentistry that fits around your family");
    assert_string_equal(field(r, "targetMarket"), "Customers in Leeds");
    assert_string_equal(field(r, "suggestedNiche"), "Dental care in Leeds");
    json_t *products = json_object_get(r, "products");
    assert_int_equal(json_array_size(products), 2);
    assert_string_equal(field(json_array_get(products, 0), "name"), "Dental implants");
    assert_string_equal(field(json_array_get(products, 1), "problem"),
                        "Straighten teeth without metal braces");
    json_decref(r);
}

static const char solar_page[] =
    "<html><head><title>SunRise Solar - Rooftop solar for homeowners</title>"
    "<meta property=\"og:description\" content=\"Solar panels and home batteries, installed in "
    "a day.\"></head><body>"
    "<div role=\"navigation\"><a href=\"/\">Home</a> <a href=\"/solar\">Solar panels</a></div>"
    "<h1>Cut your energy bill with rooftop solar</h1>"
    "<p>We help homeowners in the valley switch to clean solar energy. Our panels and "
    "inverters come with a 25-year warranty.</p>"
    "<section><h2>Solar panel installation</h2><div><p>Panels sized to your roof and your "
    "bills, installed by our own electricians.</p></div>"
    "<h2>Home battery storage</h2><p>Keep the solar energy you make for the evening.</p>"
    "<h2>Why choose us</h2><p>Thousands of happy customers.</p>"
    "<h3>Testimonials</h3></section><footer><h2>Contact us</h2><p>Call 0123.</p></footer>"
    "</body></html>";

static void test_scan_reads_headings_and_text_without_json_ld(void **state)
{
    json_t *r = scan(solar_page, "http://www.sunrise-solar.example/home");
    assert_string_equal(field(r, "businessName"), "SunRise Solar");
    assert_string_equal(field(r, "industry"), "Solar energy");
    assert_string_equal(field(r, "description"),
                        "Solar panels and home batteries, installed in a day.");
    assert_string_equal(field(r, "valueProposition"), "Cut your energy bill with rooftop solar");
    assert_non_null(strstr(field(r, "targetMarket"), "We help homeowners in the valley"));
    json_t *products = json_object_get(r, "products");
    /* The two services; "Why choose us" and "Contact us" are parts of a site. */
    assert_int_equal(json_array_size(products), 2);
    assert_string_equal(field(json_array_get(products, 0), "name"), "Solar panel installation");
    assert_non_null(strstr(field(json_array_get(products, 0), "problem"), "sized to your roof"));
    assert_string_equal(field(json_array_get(products, 1), "name"), "Home battery storage");
    /* No area or audience is stated outright: no niche is made up. */
    assert_string_equal(field(r, "suggestedNiche"), "");
    json_decref(r);
}

static void test_scan_of_a_bare_page_says_nothing_it_cannot_support(void **state)
{
    json_t *r =
        scan("<html><body><p>Hello there</p></body></html>", "https://www.quiet-shop.example/");
    assert_string_equal(field(r, "businessName"), "quiet-shop");
    assert_string_equal(field(r, "industry"), "");
    assert_string_equal(field(r, "description"), "");
    assert_string_equal(field(r, "targetMarket"), "");
    assert_string_equal(field(r, "valueProposition"), "");
    assert_int_equal(json_array_size(json_object_get(r, "products")), 0);
    json_decref(r);
}

static void test_scan_different_pages_give_different_answers(void **state)
{
    json_t *a = scan(dentist_page, "https://a.example/");
    json_t *b = scan(solar_page, "https://b.example/");
    assert_false(json_equal(a, b));
    assert_string_not_equal(field(a, "industry"), field(b, "industry"));
    json_decref(a);
    json_decref(b);
}

static void test_scan_survives_hostile_markup(void **state)
{
    /* 20000 nested divs, unclosed tags, a huge broken JSON-LD block, NUL-free binary junk. */
    size_t n = 20000;
    char *deep = malloc(n * 5 + 5000 + 4096);
    size_t len = 0;
    len += (size_t)sprintf(deep + len, "<html><head><script type=\"application/ld+json\">");
    for (size_t i = 0; i < 5000; i++)
        deep[len++] = '[';
    len += (size_t)sprintf(deep + len, "</script></head><body>");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(deep + len, "<div>");
    len += (size_t)sprintf(deep + len, "<h2>Deep</h2><p>text \xff\xfe\x80 <b><i>unclosed");
    deep[len] = '\0';
    json_t *r = scan(deep, "https://deep.example/");
    assert_true(json_is_array(json_object_get(r, "products"))); /* and it validated */
    json_decref(r);
    free(deep);
}

static void test_html_keeps_nav_apart_and_caps_text(void **state)
{
    cq_html_page_t page;
    char err[128];
    assert_int_equal(
        cq_html_extract(dentist_page, strlen(dentist_page), NULL, &page, err, sizeof(err)),
        CQ_ERR_OK);
    assert_string_equal(page.lang, "en-GB");
    assert_int_equal(json_array_size(page.nav), 4);
    assert_string_equal(json_string_value(json_array_get(page.nav, 2)), "Implants");
    assert_null(strstr(page.text, "Contact"));  /* nav text is not body text */
    assert_null(strstr(page.text, "tracking")); /* nor is script */
    assert_non_null(strstr(page.text, "Founded in 2009"));
    assert_int_equal(json_array_size(page.organizations), 0); /* no types asked for */
    cq_html_page_clear(&page);
    assert_int_equal(cq_html_extract("", 0, NULL, &page, err, sizeof(err)), CQ_ERR_BAD_REQUEST);
    cq_html_page_clear(&page);
}

/* A space falling on the cap used to be written with the next character,
 * one byte past it (found by tests/fuzz/fuzz_html). */
static void test_html_caps_hold_when_a_space_falls_on_the_cap(void **state)
{
    char *html = cq_asprintf("<html><head><title>%0*d bcd</title></head><body><p>%0*d bcd</p>"
                             "</body></html>",
                             CQ_HTML_FIELD_MAX - 1, 0, (int)CQ_HTML_TEXT_MAX - 1, 0);
    cq_html_page_t page;
    char err[128];
    assert_int_equal(cq_html_extract(html, strlen(html), NULL, &page, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(strlen(page.title), CQ_HTML_FIELD_MAX - 1);
    assert_true(strlen(page.text) <= CQ_HTML_TEXT_MAX);
    cq_html_page_clear(&page);
    free(html);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_reads_json_ld_business),
        cmocka_unit_test(test_scan_reads_headings_and_text_without_json_ld),
        cmocka_unit_test(test_scan_of_a_bare_page_says_nothing_it_cannot_support),
        cmocka_unit_test(test_scan_different_pages_give_different_answers),
        cmocka_unit_test(test_scan_survives_hostile_markup),
        cmocka_unit_test(test_html_keeps_nav_apart_and_caps_text),
        cmocka_unit_test(test_html_caps_hold_when_a_space_falls_on_the_cap),
    };
    return cmocka_run_group_tests_name("align_scan", tests, setup, teardown);
}
