/*
 * cq_align_scan.c — built-in engine of website-scan: what a business's own
 * page says about it, in the contract's WebsiteScanResult.
 *
 * Method. The page is read by cq_html (title, meta and Open Graph,
 * JSON-LD organizations, headings with their first paragraph, navigation,
 * body text). Each field is taken from the most deliberate statement the
 * page makes, in this order, and left empty when the page does not say:
 *
 *   businessName      JSON-LD name, og:site_name, the title's first part
 *                     (before " | ", " - ", " – ", " · ", ": "), the host.
 *   description       meta description, og:description, JSON-LD
 *                     description, the first heading's paragraph.
 *   industry          a specific schema.org type that names one (Dentist);
 *                     else the catalogue industry whose keywords weigh most
 *                     in a term vector of the page (title x3, descriptions
 *                     x2, headings x1.5, text x1), when it reaches minScore
 *                     and leads the next one by the margin (data file).
 *   products          JSON-LD offers (makesOffer, hasOfferCatalog); else
 *                     headings (h2/h3) that are not parts of a site
 *                     ("About us", "Contact") and have a paragraph: the
 *                     heading names the service, the paragraph what it does
 *                     for the customer.
 *   targetMarket      JSON-LD audience or areaServed; else the first
 *                     sentence with a market cue ("we serve", "designed
 *                     for").
 *   valueProposition  JSON-LD slogan; else the h1 when it is not the name;
 *                     else og:description.
 *   suggestedNiche    industry plus the area or audience, when both known.
 *
 * Knowledge (types, industries, generic headings, cues) is data:
 * workers/alignment/data/website_scan.json. Reentrant; the data is parsed
 * once.
 *
 * The engine (cq_align_scan_start) fetches the URL through the worker's
 * fetch layer as a user URL: the address policy refuses loopback, private,
 * link-local and other non-public addresses in any spelling, before any
 * connection, on every redirect hop; fetch.allow opens ranges for tests.
 * Refused: URL_NOT_ALLOWED (422). Unreachable, or an answer other than 2xx:
 * FETCH_FAILED (502). Not text/html: NOT_HTML (422). A page past
 * fetch.max_bytes is read as far as the cap.
 */
#define _GNU_SOURCE /* memrchr, strcasestr */
#include "cq_align_scan.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cq_embedded.h"
#include "cq_engine.h"
#include "cq_fetch.h"
#include "cq_html.h"
#include "cq_log.h"
#include "cq_termvec.h"

#define CQ_SCAN_PRODUCTS_MAX 10
#define CQ_SCAN_SHORT        200 /* bytes of a name or short field */
#define CQ_SCAN_LONG         600 /* bytes of a description-like field */

static json_t *cq_scan_data;
static pthread_once_t cq_scan_once = PTHREAD_ONCE_INIT;

static void cq_scan_load(void)
{
    size_t len = 0;
    const char *text = cq_embedded_get("workers/alignment/data/website_scan.json", &len);
    cq_scan_data = text ? json_loadb(text, len, 0, NULL) : NULL;
}

const json_t *cq_align_scan_data(void)
{
    pthread_once(&cq_scan_once, cq_scan_load);
    return cq_scan_data;
}

/* Sets key to text cut to max bytes on a character boundary ("" for NULL). */
static void cq_scan_set(json_t *result, const char *key, const char *text, size_t max)
{
    char buf[CQ_SCAN_LONG * 2 + 8];
    cq_text_excerpt(text ? text : "", max < sizeof(buf) - 8 ? max : sizeof(buf) - 8, buf,
                    sizeof(buf));
    json_object_set_new(result, key, json_string(buf));
}

static const char *cq_scan_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : NULL;
}

/* A JSON-LD value that may be a string, an object with a name, or a list. */
static const char *cq_scan_named(const json_t *v)
{
    if (json_is_array(v))
        v = json_array_get(v, 0);
    if (json_is_string(v))
        return *json_string_value(v) ? json_string_value(v) : NULL;
    if (json_is_object(v))
        return cq_scan_str(v, "name") ? cq_scan_str(v, "name") : cq_scan_str(v, "audienceType");
    return NULL;
}

/* The title's first part: "Acme Dental | Family dentist in Leeds" -> "Acme Dental". */
static void cq_scan_title_name(const char *title, char *out, size_t out_size)
{
    static const char *const seps[] = {" | ",        " - ", " \xe2\x80\x93 ", " \xe2\x80\x94 ",
                                       " \xc2\xb7 ", ": "};
    size_t cut = strlen(title);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(seps); i++) {
        const char *p = strstr(title, seps[i]);
        if (p && (size_t)(p - title) < cut && p > title)
            cut = (size_t)(p - title);
    }
    snprintf(out, out_size, "%.*s", (int)cut, title);
}

/* The host of url without "www." and without its last label: a name of last resort. */
static void cq_scan_host_name(const char *url, char *out, size_t out_size)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = strpbrk(p, "@/?#");
    if (at && *at == '@')
        p = at + 1;
    size_t n = strcspn(p, ":/?#");
    if (n > 4 && strncasecmp(p, "www.", 4) == 0) {
        p += 4;
        n -= 4;
    }
    const char *dot = memrchr(p, '.', n);
    if (dot && dot > p)
        n = (size_t)(dot - p);
    snprintf(out, out_size, "%.*s", (int)n, n ? p : "website");
    if (!out[0])
        snprintf(out, out_size, "website");
}

static const json_t *cq_scan_org(const cq_html_page_t *page)
{
    return json_array_get(page->organizations, 0);
}

static bool cq_scan_generic_heading(const char *text)
{
    const json_t *generic = json_object_get(cq_align_scan_data(), "genericHeadings");
    char low[128];
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < sizeof(low); p++)
        if (*p != '?' && *p != '!' && *p != '.')
            low[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    low[n] = '\0';
    size_t i;
    json_t *g;
    json_array_foreach(generic, i, g)
    {
        if (json_is_string(g) && strcmp(json_string_value(g), low) == 0)
            return true;
    }
    return false;
}

static void cq_scan_industry(const cq_html_page_t *page, json_t *result)
{
    const json_t *data = cq_align_scan_data();
    const json_t *org = cq_scan_org(page);
    const json_t *types = json_object_get(data, "typeIndustries");
    const json_t *type = json_object_get(org, "@type");
    const char *named = NULL;
    for (size_t i = 0; !named && i < (json_is_array(type) ? json_array_size(type) : 1); i++) {
        const char *t = json_string_value(json_is_array(type) ? json_array_get(type, i) : type);
        const char *slash = t ? strrchr(t, '/') : NULL;
        named = t ? cq_scan_str(types, slash ? slash + 1 : t) : NULL;
    }
    if (named) {
        cq_scan_set(result, "industry", named, CQ_SCAN_SHORT);
        return;
    }
    cq_termvec_t *vec = cq_termvec_new();
    cq_termvec_add_text(vec, page->title, 3.0);
    cq_termvec_add_text(vec, page->description, 2.0);
    cq_termvec_add_text(vec, page->og_description, 2.0);
    cq_termvec_add_text(vec, cq_scan_str(org, "description"), 2.0);
    size_t i;
    json_t *h;
    json_array_foreach(page->headings, i, h) cq_termvec_add_text(vec, cq_scan_str(h, "text"), 1.5);
    cq_termvec_add_text(vec, page->text, 1.0);
    double best = 0, second = 0;
    const char *best_name = NULL;
    json_t *ind;
    json_array_foreach(json_object_get(data, "industries"), i, ind)
    {
        double score = 0;
        size_t k;
        json_t *kw;
        json_array_foreach(json_object_get(ind, "keywords"), k, kw)
        {
            /* Capped per keyword: one word repeated all over a page is not an industry. */
            double wgt = cq_termvec_weight(vec, json_string_value(kw));
            score += wgt < 4.0 ? wgt : 4.0;
        }
        if (score > best) {
            second = best;
            best = score;
            best_name = cq_scan_str(ind, "name");
        } else if (score > second) {
            second = score;
        }
    }
    cq_termvec_destroy(vec);
    double min = json_number_value(json_object_get(data, "minScore"));
    double margin = json_number_value(json_object_get(data, "margin"));
    bool sure = best_name && best >= min && best >= second * margin;
    cq_scan_set(result, "industry", sure ? best_name : "", CQ_SCAN_SHORT);
}

static void cq_scan_add_product(json_t *products, const char *name, const char *problem)
{
    if (!name || !problem || json_array_size(products) >= CQ_SCAN_PRODUCTS_MAX)
        return;
    json_t *p = json_object();
    char id[16];
    snprintf(id, sizeof(id), "p%zu", json_array_size(products) + 1);
    json_object_set_new(p, "id", json_string(id));
    cq_scan_set(p, "name", name, CQ_SCAN_SHORT);
    cq_scan_set(p, "problem", problem, CQ_SCAN_LONG);
    if (*json_string_value(json_object_get(p, "name")) &&
        *json_string_value(json_object_get(p, "problem")))
        json_array_append(products, p);
    json_decref(p);
}

/* One JSON-LD offer or catalogue entry: an Offer with itemOffered, or the item itself. */
static void cq_scan_add_offer(json_t *products, const json_t *offer)
{
    const json_t *item = json_object_get(offer, "itemOffered");
    if (!json_is_object(item))
        item = offer;
    const char *name = cq_scan_str(item, "name");
    const char *desc = cq_scan_str(item, "description");
    cq_scan_add_product(products, name, desc ? desc : cq_scan_str(offer, "description"));
}

static void cq_scan_products(const cq_html_page_t *page, json_t *result)
{
    json_t *products = json_array();
    const json_t *org = cq_scan_org(page);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(org, "makesOffer"), i, v) cq_scan_add_offer(products, v);
    const json_t *catalog = json_object_get(org, "hasOfferCatalog");
    json_array_foreach(json_object_get(catalog, "itemListElement"), i, v)
        cq_scan_add_offer(products, v);
    if (json_array_size(products) == 0) {
        json_array_foreach(page->headings, i, v)
        {
            int level = (int)json_integer_value(json_object_get(v, "level"));
            const char *text = cq_scan_str(v, "text");
            if (level >= 2 && text && !cq_scan_generic_heading(text))
                cq_scan_add_product(products, text, cq_scan_str(v, "paragraph"));
        }
    }
    json_object_set_new(result, "products", products);
}

/* The first sentence of text holding one of the market cues, or NULL. */
static bool cq_scan_market_sentence(const char *text, char *out, size_t out_size)
{
    const json_t *cues = json_object_get(cq_align_scan_data(), "marketCues");
    if (!text)
        return false;
    for (const char *s = text; *s;) {
        size_t n = strcspn(s, ".!?");
        char sentence[512];
        snprintf(sentence, sizeof(sentence), "%.*s", (int)(n < 511 ? n : 511), s);
        size_t i;
        json_t *cue;
        json_array_foreach(cues, i, cue)
        {
            if (json_is_string(cue) && strcasestr(sentence, json_string_value(cue))) {
                cq_text_excerpt(sentence, out_size > 8 ? out_size - 8 : out_size, out, out_size);
                return true;
            }
        }
        s += n;
        while (*s == '.' || *s == '!' || *s == '?' || *s == ' ')
            s++;
    }
    return false;
}

/* What the model reads of a page: its statements, not its markup. */
static json_t *cq_scan_llm_input(const cq_html_page_t *page, const char *url)
{
    char text[6 * 1024 + 8];
    cq_text_excerpt(page->text ? page->text : "", (size_t)6 * 1024, text, sizeof(text));
    json_t *orgs = json_array();
    for (size_t i = 0; i < json_array_size(page->organizations) && i < 3; i++)
        json_array_append(orgs, json_array_get(page->organizations, i));
    json_t *doc = json_pack(
        "{s:s, s:{s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:O, s:O, s:s}}", "url", url ? url : "",
        "page", "title", page->title, "description", page->description, "siteName",
        page->og_site_name, "ogTitle", page->og_title, "ogDescription", page->og_description,
        "organizations", orgs, "headings", page->headings, "navigation", page->nav, "text", text);
    return doc;
}

cq_err_t cq_align_scan_page(const char *html, size_t len, const char *url, json_t **result,
                            char *errstr, size_t errstr_size)
{
    return cq_align_scan_read(html, len, url, result, NULL, errstr, errstr_size);
}

cq_err_t cq_align_scan_read(const char *html, size_t len, const char *url, json_t **result,
                            json_t **llm_input, char *errstr, size_t errstr_size)
{
    *result = NULL;
    if (llm_input)
        *llm_input = NULL;
    const json_t *data = cq_align_scan_data();
    if (!data) {
        cq_errstr_set(errstr, errstr_size, "website_scan.json is not built in");
        return CQ_ERR_INTERNAL_ERROR;
    }
    cq_html_page_t page;
    cq_err_t rc = cq_html_extract(html, len, json_object_get(data, "organizationTypes"), &page,
                                  errstr, errstr_size);
    if (rc != CQ_ERR_OK) {
        cq_html_page_clear(&page);
        return rc;
    }
    const json_t *org = cq_scan_org(&page);
    json_t *out = json_object();

    char name[CQ_SCAN_SHORT + 8] = "";
    if (cq_scan_str(org, "name"))
        snprintf(name, sizeof(name), "%s", cq_scan_str(org, "name"));
    else if (page.og_site_name)
        snprintf(name, sizeof(name), "%s", page.og_site_name);
    else if (page.title)
        cq_scan_title_name(page.title, name, sizeof(name));
    if (!name[0])
        cq_scan_host_name(url ? url : "", name, sizeof(name));
    cq_scan_set(out, "businessName", name, CQ_SCAN_SHORT);

    const json_t *first = json_array_get(page.headings, 0);
    const char *desc = page.description                  ? page.description
                       : page.og_description             ? page.og_description
                       : cq_scan_str(org, "description") ? cq_scan_str(org, "description")
                                                         : cq_scan_str(first, "paragraph");
    cq_scan_set(out, "description", desc, CQ_SCAN_LONG);

    cq_scan_industry(&page, out);
    cq_scan_products(&page, out);

    const char *area = cq_scan_named(json_object_get(org, "areaServed"));
    const char *audience = cq_scan_named(json_object_get(org, "audience"));
    char market[CQ_SCAN_LONG + 8] = "";
    if (audience && area)
        snprintf(market, sizeof(market), "%s in %s", audience, area);
    else if (audience || area)
        snprintf(market, sizeof(market), "%s%s", area ? "Customers in " : "",
                 audience ? audience : area);
    else
        cq_scan_market_sentence(page.text, market, sizeof(market));
    cq_scan_set(out, "targetMarket", market, CQ_SCAN_LONG);

    const char *h1 = NULL;
    size_t i;
    json_t *h;
    json_array_foreach(page.headings, i, h)
    {
        if (json_integer_value(json_object_get(h, "level")) == 1) {
            h1 = cq_scan_str(h, "text");
            break;
        }
    }
    const char *slogan = cq_scan_str(org, "slogan");
    const char *value = slogan                            ? slogan
                        : h1 && strcasecmp(h1, name) != 0 ? h1
                                                          : page.og_description;
    cq_scan_set(out, "valueProposition", value, CQ_SCAN_LONG);

    const char *industry = json_string_value(json_object_get(out, "industry"));
    char niche[CQ_SCAN_LONG + 8] = "";
    if (*industry && (area || audience))
        snprintf(niche, sizeof(niche), "%s %s %s", industry, area ? "in" : "for",
                 area ? area : audience);
    cq_scan_set(out, "suggestedNiche", niche, CQ_SCAN_LONG);

    if (llm_input)
        *llm_input = cq_scan_llm_input(&page, url);
    cq_html_page_clear(&page);
    *result = out;
    return CQ_ERR_OK;
}
/* ---- the engine: fetch, check, read ------------------------------------ */

typedef struct {
    cq_engine_ctx_t *ctx;
    cq_fetch_t *fetch;
    cq_fetch_call_t *call; /* in flight, or NULL */
    char *url;
} cq_scan_job_t;

static void cq_scan_job_free(void *opaque)
{
    cq_scan_job_t *sj = opaque;
    if (sj->call)
        cq_fetch_cancel(sj->fetch, sj->call);
    free(sj->url);
    free(sj);
}

/* Whether a Content-Type names an HTML document. */
static bool cq_scan_is_html(const char *content_type)
{
    if (!content_type)
        return false;
    while (*content_type == ' ')
        content_type++;
    return strncasecmp(content_type, "text/html", 9) == 0 ||
           strncasecmp(content_type, "application/xhtml+xml", 21) == 0;
}

static void cq_scan_fetched(void *opaque, cq_fetch_result_t *res)
{
    cq_scan_job_t *sj = opaque;
    cq_engine_ctx_t *ctx = sj->ctx;
    sj->call = NULL;
    char msg[512];
    /* A page longer than the cap is read as far as the cap: its head holds
     * what the scan reads. */
    bool cut = res->err == CQ_ERR_FETCH_FAILED && res->fail == CQ_FETCH_TOO_LARGE &&
               res->status >= 200 && res->status < 300;
    if (res->err != CQ_ERR_OK && !cut) {
        cq_err_t err =
            res->err == CQ_ERR_URL_NOT_ALLOWED ? CQ_ERR_URL_NOT_ALLOWED : CQ_ERR_FETCH_FAILED;
        snprintf(msg, sizeof(msg), "%s", res->message);
        cq_job_done(ctx, err, NULL, msg);
        return;
    }
    if (res->status < 200 || res->status >= 300) {
        snprintf(msg, sizeof(msg), "The site answered HTTP %ld", res->status);
        cq_job_done(ctx, CQ_ERR_FETCH_FAILED, NULL, msg);
        return;
    }
    if (!cq_scan_is_html(res->content_type)) {
        snprintf(msg, sizeof(msg), "The page is %.100s, not HTML",
                 res->content_type ? res->content_type : "of no declared type");
        cq_job_done(ctx, CQ_ERR_NOT_HTML, NULL, msg);
        return;
    }
    json_t *result = NULL, *input = NULL;
    const char *url = res->url ? res->url : sj->url;
    cq_err_t rc =
        cq_align_scan_read(res->body, res->body_len, url, &result, &input, msg, sizeof(msg));
    if (rc != CQ_ERR_OK) {
        cq_job_done(ctx, CQ_ERR_NOT_HTML, NULL, msg);
        return;
    }
    CQ_LOG(CQ_LOG_DEBUG, "scan", cq_engine_job_id(ctx), "read %zu bytes%s after %d transfers",
           res->body_len, cut ? " (cut at the cap)" : "", res->attempts);
    /* With a model, it reads what the page says (our own reading is the
     * answer while the provider is down); without one, our reading is. */
    if (cq_engine_ask_llm(ctx, input, result))
        return;
    json_decref(input);
    cq_job_done(ctx, CQ_ERR_OK, result, NULL);
}

void cq_align_scan_start(cq_engine_ctx_t *ctx, const json_t *request)
{
    const char *url = json_string_value(json_object_get(request, "url"));
    cq_fetch_t *fetch = cq_engine_fetch(ctx);
    if (!url || !fetch) {
        cq_job_done(ctx, CQ_ERR_VALIDATION_ERROR, NULL, "The request names no URL to scan");
        return;
    }
    cq_scan_job_t *sj = cq_calloc(1, sizeof(*sj));
    sj->ctx = ctx;
    sj->fetch = fetch;
    sj->url = cq_strdup(url);
    cq_engine_state_set(ctx, sj, cq_scan_job_free);
    static const char *const headers[] = {
        "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
        "User-Agent: coachq-website-scan/" CQ_VERSION,
    };
    cq_fetch_request_t req = cq_fetch_request_defaults(fetch);
    req.url = url;
    req.user_url = true;
    req.headers = headers;
    req.header_count = CQ_ARRAY_SIZE(headers);
    req.log_id = cq_engine_job_id(ctx);
    sj->call = cq_fetch_start(fetch, &req, cq_scan_fetched, sj);
}
