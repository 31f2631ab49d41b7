/*
 * cq_html.c — reading a business's web page (see cq_html.h).
 *
 * libxml2's HTML parser builds the tree the way browsers recover from bad
 * markup; one walk over it collects everything. The walk is recursive with
 * a depth bound (libxml2 itself caps nesting too), skips what a visitor
 * does not read (script, style, template, svg, noscript) and keeps
 * navigation text apart from body text so that menus do not read as prose.
 * Headings remember the first paragraph after them: on a services page
 * that is what the heading's service is for.
 *
 * Threads: libxml2 is initialised once; a parse touches only its own tree.
 */
#include "cq_html.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cq_json.h"

typedef struct {
    char *data;
    size_t len, cap, max;
    bool space; /* a blank is pending before the next word */
} cq_html_buf_t;

typedef struct {
    cq_html_page_t *page;
    const json_t *org_types;
    cq_html_buf_t text;
    json_t *pending; /* the last heading, until a paragraph follows it */
} cq_html_walk_t;

static pthread_once_t cq_html_once = PTHREAD_ONCE_INIT;

static void cq_html_init(void)
{
    xmlInitParser();
}

/* Appends s with runs of whitespace collapsed, up to the buffer's max. */
static void cq_html_buf_add(cq_html_buf_t *b, const char *s)
{
    for (; s && *s && b->len < b->max; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            b->space = b->len > 0;
            continue;
        }
        if (b->len + 2 >= b->cap) {
            b->cap = b->cap ? b->cap * 2 : 256;
            b->data = cq_realloc(b->data, b->cap);
        }
        if (b->space) {
            if (b->len + 2 > b->max)
                break; /* no room for the space and a character: the cap holds */
            b->data[b->len++] = ' ';
            b->space = false;
        }
        b->data[b->len++] = (char)c;
    }
    if (b->data)
        b->data[b->len] = '\0';
}

/* A cut may fall inside a UTF-8 sequence: drop the partial character. */
static char *cq_html_buf_take(cq_html_buf_t *b)
{
    if (!b->data)
        return NULL;
    size_t n = b->len;
    if (n > 0 && ((unsigned char)b->data[n - 1] & 0x80)) {
        size_t start = n - 1;
        while (start > 0 && ((unsigned char)b->data[start] & 0xC0) == 0x80)
            start--;
        unsigned char lead = (unsigned char)b->data[start];
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (n - start < want)
            n = start;
    }
    b->data[n] = '\0';
    char *out = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    if (n == 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* The collapsed text of a node's subtree (NULL when empty). */
static char *cq_html_node_text(xmlNode *node)
{
    xmlChar *raw = xmlNodeGetContent(node);
    cq_html_buf_t b = {.max = CQ_HTML_FIELD_MAX};
    cq_html_buf_add(&b, (const char *)raw);
    xmlFree(raw);
    return cq_html_buf_take(&b);
}

static char *cq_html_attr(xmlNode *node, const char *name)
{
    xmlChar *raw = xmlGetProp(node, (const xmlChar *)name);
    if (!raw)
        return NULL;
    cq_html_buf_t b = {.max = CQ_HTML_FIELD_MAX};
    cq_html_buf_add(&b, (const char *)raw);
    xmlFree(raw);
    return cq_html_buf_take(&b);
}

static bool cq_html_is(xmlNode *node, const char *name)
{
    return node->name && strcasecmp((const char *)node->name, name) == 0;
}

/* Keeps the first value of a field: later duplicates do not override. */
static void cq_html_set(char **field, char *value)
{
    if (*field || !value) {
        free(value);
        return;
    }
    *field = value;
}

static bool cq_html_org_type(const cq_html_walk_t *wk, const json_t *type)
{
    if (json_is_array(type)) {
        size_t i;
        json_t *t;
        json_array_foreach(type, i, t)
        {
            if (cq_html_org_type(wk, t))
                return true;
        }
        return false;
    }
    const char *name = json_string_value(type);
    if (!name)
        return false;
    /* "https://schema.org/LocalBusiness" names the same type. */
    const char *slash = strrchr(name, '/');
    if (slash)
        name = slash + 1;
    size_t i;
    json_t *t;
    json_array_foreach(wk->org_types, i, t)
    {
        if (json_is_string(t) && strcasecmp(json_string_value(t), name) == 0)
            return true;
    }
    return false;
}

/* Collects organizations from a JSON-LD value: top-level objects, arrays
 * of them and @graph lists; one level of nesting is enough for real sites. */
static void cq_html_jsonld_collect(cq_html_walk_t *wk, json_t *value, int depth)
{
    json_t *orgs = wk->page->organizations;
    if (depth > 3 || json_array_size(orgs) >= CQ_HTML_LIST_MAX)
        return;
    if (json_is_array(value)) {
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v) cq_html_jsonld_collect(wk, v, depth + 1);
        return;
    }
    if (!json_is_object(value))
        return;
    if (cq_html_org_type(wk, json_object_get(value, "@type")))
        json_array_append(orgs, value);
    json_t *graph = json_object_get(value, "@graph");
    if (graph)
        cq_html_jsonld_collect(wk, graph, depth + 1);
}

static void cq_html_jsonld(cq_html_walk_t *wk, xmlNode *script)
{
    xmlChar *raw = xmlNodeGetContent(script);
    size_t len = raw ? strlen((const char *)raw) : 0;
    if (len > 0 && len <= CQ_HTML_JSONLD_BYTES &&
        cq_json_depth((const char *)raw, len, CQ_JSON_MAX_DEPTH) <= CQ_JSON_MAX_DEPTH) {
        json_t *doc = json_loadb((const char *)raw, len, 0, NULL);
        if (doc)
            cq_html_jsonld_collect(wk, doc, 0);
        json_decref(doc);
    }
    xmlFree(raw);
}

static void cq_html_meta(cq_html_walk_t *wk, xmlNode *node)
{
    cq_html_page_t *page = wk->page;
    char *name = cq_html_attr(node, "name");
    char *property = cq_html_attr(node, "property");
    const char *key = property ? property : name;
    if (key) {
        char **field = strcasecmp(key, "description") == 0      ? &page->description
                       : strcasecmp(key, "og:title") == 0       ? &page->og_title
                       : strcasecmp(key, "og:description") == 0 ? &page->og_description
                       : strcasecmp(key, "og:site_name") == 0   ? &page->og_site_name
                       : strcasecmp(key, "og:type") == 0        ? &page->og_type
                                                                : NULL;
        if (field)
            cq_html_set(field, cq_html_attr(node, "content"));
    }
    free(name);
    free(property);
}

static bool cq_html_skipped(xmlNode *node)
{
    static const char *const skip[] = {"script", "style",  "noscript", "template", "svg",
                                       "head",   "iframe", "object",   "textarea", "select"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(skip); i++)
        if (cq_html_is(node, skip[i]))
            return true;
    return false;
}

static bool cq_html_is_nav(xmlNode *node)
{
    if (cq_html_is(node, "nav"))
        return true;
    char *role = cq_html_attr(node, "role");
    bool nav = role && strcasecmp(role, "navigation") == 0;
    free(role);
    return nav;
}

static void cq_html_walk(cq_html_walk_t *wk, xmlNode *node, int depth, bool in_nav);

static void cq_html_element(cq_html_walk_t *wk, xmlNode *node, int depth, bool in_nav)
{
    cq_html_page_t *page = wk->page;
    if (cq_html_is(node, "html")) {
        cq_html_set(&page->lang, cq_html_attr(node, "lang"));
    } else if (cq_html_is(node, "title")) {
        cq_html_set(&page->title, cq_html_node_text(node));
        return;
    } else if (cq_html_is(node, "meta")) {
        cq_html_meta(wk, node);
        return;
    } else if (cq_html_is(node, "script")) {
        char *type = cq_html_attr(node, "type");
        if (type && strcasecmp(type, "application/ld+json") == 0)
            cq_html_jsonld(wk, node);
        free(type);
        return;
    }
    if (cq_html_is(node, "head")) {
        /* Not body text, but it holds title, meta and JSON-LD. */
        for (xmlNode *c = node->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE)
                cq_html_element(wk, c, depth + 1, in_nav);
        return;
    }
    if (cq_html_skipped(node))
        return;
    bool nav = in_nav || cq_html_is_nav(node);
    if (nav && cq_html_is(node, "a")) {
        char *text = cq_html_node_text(node);
        if (text && json_array_size(page->nav) < CQ_HTML_LIST_MAX)
            json_array_append_new(page->nav, json_string(text));
        free(text);
        return;
    }
    int level = cq_html_is(node, "h1")   ? 1
                : cq_html_is(node, "h2") ? 2
                : cq_html_is(node, "h3") ? 3
                                         : 0;
    if (level && !nav) {
        char *text = cq_html_node_text(node);
        if (text && json_array_size(page->headings) < CQ_HTML_LIST_MAX) {
            json_t *h = json_pack("{s:i, s:s}", "level", level, "text", text);
            json_array_append_new(page->headings, h);
            wk->pending = h;
        }
        cq_html_buf_add(&wk->text, " ");
        cq_html_buf_add(&wk->text, text);
        wk->text.space = true;
        free(text);
        return;
    }
    if (cq_html_is(node, "p") && !nav && wk->pending) {
        char *text = cq_html_node_text(node);
        if (text) {
            json_object_set_new(wk->pending, "paragraph", json_string(text));
            wk->pending = NULL;
        }
        free(text);
    }
    cq_html_walk(wk, node->children, depth + 1, nav);
    /* Block ends separate words ("<li>a</li><li>b</li>" is "a b"). */
    wk->text.space = wk->text.len > 0;
}

static void cq_html_walk(cq_html_walk_t *wk, xmlNode *node, int depth, bool in_nav)
{
    if (depth > CQ_HTML_DEPTH_MAX)
        return;
    for (; node; node = node->next) {
        if (node->type == XML_ELEMENT_NODE)
            cq_html_element(wk, node, depth, in_nav);
        else if ((node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) && !in_nav &&
                 wk->text.len < wk->text.max)
            cq_html_buf_add(&wk->text, (const char *)node->content);
    }
}

/* Whether the document declares its character set near the top. */
static bool cq_html_declares_charset(const char *html, size_t len)
{
    size_t n = len < 2048 ? len : 2048;
    for (size_t i = 0; i + 7 <= n; i++)
        if (strncasecmp(html + i, "charset", 7) == 0)
            return true;
    return false;
}

cq_err_t cq_html_extract(const char *html, size_t len, const json_t *org_types,
                         cq_html_page_t *page, char *errstr, size_t errstr_size)
{
    pthread_once(&cq_html_once, cq_html_init);
    memset(page, 0, sizeof(*page));
    page->organizations = json_array();
    page->headings = json_array();
    page->nav = json_array();
    if (!html || len == 0 || len > INT32_MAX) {
        cq_errstr_set(errstr, errstr_size, "The page is empty");
        return CQ_ERR_BAD_REQUEST;
    }
    int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                  HTML_PARSE_NONET | HTML_PARSE_COMPACT;
    /* Without a declaration libxml2 assumes Latin-1; today's pages are UTF-8. */
    const char *encoding = cq_html_declares_charset(html, len) ? NULL : "UTF-8";
    htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, encoding, options);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        if (doc)
            xmlFreeDoc(doc);
        cq_errstr_set(errstr, errstr_size, "The page is not an HTML document");
        return CQ_ERR_BAD_REQUEST;
    }
    cq_html_walk_t wk = {.page = page, .org_types = org_types, .text = {.max = CQ_HTML_TEXT_MAX}};
    cq_html_walk(&wk, root, 0, false);
    page->text = cq_html_buf_take(&wk.text);
    xmlFreeDoc(doc);
    return CQ_ERR_OK;
}

void cq_html_page_clear(cq_html_page_t *page)
{
    free(page->title);
    free(page->description);
    free(page->og_title);
    free(page->og_description);
    free(page->og_site_name);
    free(page->og_type);
    free(page->lang);
    free(page->text);
    json_decref(page->organizations);
    json_decref(page->headings);
    json_decref(page->nav);
    memset(page, 0, sizeof(*page));
}
