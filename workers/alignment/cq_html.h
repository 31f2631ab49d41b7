/*
 * cq_html.h — what a web page says about a business, read with libxml2's
 * HTML parser (never with patterns over the markup): title, meta
 * description, Open Graph, JSON-LD Organization/LocalBusiness data,
 * headings with the paragraph that follows each, navigation link texts,
 * and the visible body text.
 *
 * Untrusted input: the page is parsed with the network off, errors
 * recovered and never printed; every list and text has a cap; element
 * nesting past CQ_HTML_DEPTH_MAX is not descended into; JSON-LD blocks are
 * measured (cq_json_depth) before they are parsed. Reentrant; any thread.
 */
#ifndef CQ_HTML_H
#define CQ_HTML_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

#define CQ_HTML_DEPTH_MAX 256                 /* element nesting walked */
#define CQ_HTML_TEXT_MAX  ((size_t)16 * 1024) /* bytes of body text kept */
#define CQ_HTML_FIELD_MAX 2000                /* bytes of one title/description/heading/paragraph */
#define CQ_HTML_LIST_MAX  40                  /* headings, nav links, JSON-LD objects kept */
#define CQ_HTML_JSONLD_BYTES                                                                       \
    ((size_t)256 * 1024) /* one JSON-LD block larger than this is skipped */

typedef struct {
    char *title;       /* <title>, collapsed whitespace; NULL when absent */
    char *description; /* <meta name="description"> */
    char *og_title, *og_description, *og_site_name, *og_type;
    char *lang;            /* <html lang> */
    json_t *organizations; /* JSON-LD objects whose @type is an organization (array) */
    json_t *headings;      /* [{level 1-3, text, paragraph?}] in document order */
    json_t *nav;           /* link texts inside <nav> and role=navigation, in order */
    char *text;            /* visible body text (no script/style/nav), collapsed */
} cq_html_page_t;

/*
 * Reads html (len bytes, any encoding libxml2 detects; UTF-8 if it says
 * nothing). org_types (borrowed, may be NULL) lists the schema.org @type
 * names taken as organizations, e.g. ["Organization", "LocalBusiness",
 * "Dentist"]. Fills page (cleared first; cq_html_page_clear frees it).
 * CQ_ERR_BAD_REQUEST when the bytes do not parse as a document at all.
 */
cq_err_t cq_html_extract(const char *html, size_t len, const json_t *org_types,
                         cq_html_page_t *page, char *errstr, size_t errstr_size);
void cq_html_page_clear(cq_html_page_t *page);

#endif
