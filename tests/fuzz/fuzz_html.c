/*
 * fuzz_html.c — what the website scan reads from a fetched page
 * (workers/alignment/cq_html.c on libxml2's HTML parser): title, meta,
 * Open Graph, JSON-LD, headings, navigation, body text.
 *
 * Input: the page's bytes as fetched, any encoding. Every extracted text
 * must respect its cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>

#include "cq_html.h"

static json_t *org_types;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    xmlInitParser();
    org_types = json_pack("[sssss]", "Organization", "LocalBusiness", "Dentist", "Corporation",
                          "Restaurant");
    return 0;
}

static void check_cap(const char *s, size_t cap)
{
    if (s && strlen(s) > cap)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cq_html_page_t page;
    char err[256];
    if (cq_html_extract((const char *)data, size, org_types, &page, err, sizeof(err)) ==
        CQ_ERR_OK) {
        check_cap(page.title, CQ_HTML_FIELD_MAX);
        check_cap(page.description, CQ_HTML_FIELD_MAX);
        check_cap(page.text, CQ_HTML_TEXT_MAX);
        if (json_array_size(page.headings) > CQ_HTML_LIST_MAX ||
            json_array_size(page.nav) > CQ_HTML_LIST_MAX ||
            json_array_size(page.organizations) > CQ_HTML_LIST_MAX)
            __builtin_trap();
    }
    cq_html_page_clear(&page);
    return 0;
}
