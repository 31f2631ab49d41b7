/*
 * cq_align_scan.h — the built-in engine of website-scan
 * (POST /website/scan): fetch the page through the worker's fetch layer,
 * with the address policy on, and read what it says about the business.
 */
#ifndef CQ_ALIGN_SCAN_H
#define CQ_ALIGN_SCAN_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/*
 * What a fetched page says, as a new WebsiteScanResult object (caller
 * decrefs): html is the body (len bytes), url the address it came from
 * (the last name of resort). Fields the page does not support are empty
 * strings. CQ_ERR_BAD_REQUEST when the bytes are no HTML document at all.
 * Deterministic, reentrant.
 */
cq_err_t cq_align_scan_page(const char *html, size_t len, const char *url, json_t **result,
                            char *errstr, size_t errstr_size);

/* As cq_align_scan_page, and *llm_input (may be NULL) gets what a model
 * should read of the page: its title, descriptions, JSON-LD organizations,
 * headings, navigation and up to 6 KiB of text, never the markup. */
cq_err_t cq_align_scan_read(const char *html, size_t len, const char *url, json_t **result,
                            json_t **llm_input, char *errstr, size_t errstr_size);

typedef struct cq_engine_ctx_s cq_engine_ctx_t;

/* The engine (cq_engine.h): fetches request.url and ends the job with what
 * the page says, or URL_NOT_ALLOWED, FETCH_FAILED or NOT_HTML. */
void cq_align_scan_start(cq_engine_ctx_t *ctx, const json_t *request);

/* The engine's knowledge (workers/alignment/data/website_scan.json),
 * parsed once; NULL if it is not built in. */
const json_t *cq_align_scan_data(void);

#endif
