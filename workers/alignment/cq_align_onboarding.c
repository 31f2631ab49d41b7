/*
 * cq_align_onboarding.c — built-in engine of onboarding-suggestions.
 *
 * How it decides. The business's industry (industry, name and products
 * against data/industries.json) gives typical audiences, pains, outcomes
 * and alternatives; an unrecognised one gives the cross-industry wording.
 * Which audience comes first rotates with a hash of the business (name,
 * industry, products, draft), so two businesses of one industry get
 * different drafts. When the user has a draft, each element a good draft of
 * this kind contains (data/onboarding.json: e.g. for a niche, who it is
 * for, what is offered, what makes it specific) is looked for by its cue
 * words; the first suggestions fix what is missing, quoting the draft.
 * The kind's templates then follow in order, each filled with the
 * business's products (first and second), the rotated audiences and the
 * industry wording, and skipped when it needs a value the request does
 * not give (e.g. a product). Five at most; every kind has at least three
 * templates that need nothing, so three are always there. The reasoning
 * says what was used and what the draft has and lacks.
 *
 * Threads: none of its own; reentrant (the data is read-only).
 */
#include "cq_align_onboarding.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cq_align_data.h"
#include "cq_align_industry.h"
#include "cq_align_prose.h"
#include "cq_align_terms.h"

#define CQ_ALIGN_ONBOARDING_MAX  5
#define CQ_ALIGN_ONBOARDING_TEXT 1000
#define CQ_ALIGN_ELEMENTS        8

/* The i-th string of an industry list, rotated by shift. */
static const char *cq_align_rotated(const json_t *industry, const char *key, size_t shift, size_t i)
{
    const json_t *arr = json_object_get(industry, key);
    size_t n = json_array_size(arr);
    return n ? json_string_value(json_array_get(arr, (shift + i) % n)) : NULL;
}

/* Appends the filled template with its first letter capitalised. */
static void cq_align_onboarding_add(json_t *arr, const char *tmpl, const cq_align_var_t *vars,
                                    size_t nvars)
{
    if (json_array_size(arr) >= CQ_ALIGN_ONBOARDING_MAX ||
        !cq_align_prose_fillable(tmpl, vars, nvars))
        return;
    cq_align_prose_t p = {.buf = NULL};
    cq_align_prose_fill(&p, tmpl, vars, nvars);
    if (p.buf && p.buf[0] >= 'a' && p.buf[0] <= 'z')
        p.buf[0] = (char)toupper((unsigned char)p.buf[0]);
    json_t *s = cq_align_prose_take(&p, CQ_ALIGN_ONBOARDING_TEXT);
    /* the same text twice (e.g. one product for two slots) is said once */
    const json_t *seen;
    size_t i;
    json_array_foreach(arr, i, seen)
    {
        if (json_equal(seen, s)) {
            json_decref(s);
            return;
        }
    }
    json_array_append_new(arr, s);
}

cq_err_t cq_align_onboarding_compute(const json_t *request, int64_t now_ms, json_t **result,
                                     char *errstr, size_t errstr_size)
{
    CQ_UNUSED(now_ms);
    *result = NULL;
    const json_t *data = cq_align_data("onboarding");
    const json_t *fallback = cq_align_industry_default();
    if (!data || !fallback) {
        cq_errstr_set(errstr, errstr_size, "onboarding pattern data is missing");
        return CQ_ERR_INTERNAL_ERROR;
    }
    const char *kind_name = cq_align_data_str(request, "kind");
    const json_t *kind = json_object_get(json_object_get(data, "kinds"), kind_name);
    if (!kind) {
        cq_errstr_set(errstr, errstr_size, "unknown onboarding suggestion kind \"%s\"", kind_name);
        return CQ_ERR_VALIDATION_ERROR;
    }
    const json_t *ctx = json_object_get(request, "context");
    const json_t *defaults = json_object_get(data, "defaults");
    const json_t *products = json_object_get(ctx, "products");
    const char *draft_text = json_string_value(json_object_get(request, "current"));
    const char *name = cq_align_data_str(ctx, "businessName");
    const char *industry_text = cq_align_data_str(ctx, "industry");

    /* the industry, from what the business says about itself */
    cq_align_prose_t about = {.buf = NULL};
    cq_align_prose_printf(&about, "%s %s", industry_text, name);
    for (size_t i = 0; i < json_array_size(products); i++)
        cq_align_prose_printf(&about, " %s", json_string_value(json_array_get(products, i)));
    if (draft_text)
        cq_align_prose_printf(&about, " %s", draft_text);
    const json_t *industry = cq_align_industry_match(about.buf);
    size_t shift = cq_align_pick(about.buf, 997);
    cq_align_prose_clear(&about);
    const json_t *words = industry ? industry : fallback;

    char name_q[CQ_ALIGN_QUOTE_MAX + 8], industry_q[CQ_ALIGN_QUOTE_MAX + 8];
    char product[CQ_ALIGN_QUOTE_MAX + 8] = "", product2[CQ_ALIGN_QUOTE_MAX + 8] = "";
    char draft[CQ_ALIGN_QUOTE_MAX + 8] = "";
    cq_align_terms_quote(name[0] ? name : cq_align_data_str(defaults, "name"), name_q,
                         sizeof(name_q));
    cq_align_terms_quote(industry_text, industry_q, sizeof(industry_q));
    size_t nproducts = json_array_size(products);
    if (nproducts > 0)
        cq_align_terms_quote(json_string_value(json_array_get(products, 0)), product,
                             sizeof(product));
    if (nproducts > 1)
        cq_align_terms_quote(json_string_value(json_array_get(products, 1)), product2,
                             sizeof(product2));
    if (draft_text)
        cq_align_terms_quote(draft_text, draft, sizeof(draft));
    const cq_align_var_t vars[] = {
        {"product", product},
        {"product2", product2}, /* empty with one product: its templates are skipped */
        {"audience", cq_align_rotated(words, "audiences", shift, 0)},
        {"audience2", cq_align_rotated(words, "audiences", shift, 1)},
        {"pain", cq_align_rotated(words, "pains", shift, 0)},
        {"outcome", cq_align_rotated(words, "outcomes", shift, 0)},
        {"alternative", cq_align_rotated(words, "alternatives", shift, 0)},
        {"name", name_q},
        {"industry", industry_q},
        {"draft", draft},
    };
    const size_t nvars = CQ_ARRAY_SIZE(vars);

    /* What the draft has and lacks. */
    const char *has[CQ_ALIGN_ELEMENTS], *lacks[CQ_ALIGN_ELEMENTS], *lack_ids[CQ_ALIGN_ELEMENTS];
    size_t nhas = 0, nlacks = 0;
    json_t *suggestions = json_array();
    if (draft_text) {
        cq_termvec_t *dvec = cq_align_terms_vec(draft_text);
        const json_t *el;
        size_t i;
        json_array_foreach(json_object_get(kind, "elements"), i, el)
        {
            if (i >= CQ_ALIGN_ELEMENTS)
                break;
            cq_termvec_t *cues = cq_align_terms_vec(cq_align_data_str(el, "cues"));
            const cq_termvec_t *docs[] = {dvec};
            const double weights[] = {1.0};
            double matched = 0;
            cq_termvec_coverage_multi(cues, docs, weights, 1, &matched);
            cq_termvec_destroy(cues);
            if (matched > 0) {
                has[nhas++] = cq_align_data_str(el, "label");
            } else {
                lack_ids[nlacks] = cq_align_data_str(el, "id");
                lacks[nlacks++] = cq_align_data_str(el, "label");
            }
        }
        cq_termvec_destroy(dvec);
        const json_t *fixes = json_object_get(kind, "fixes");
        for (size_t k = 0; k < nlacks && k < 2; k++)
            cq_align_onboarding_add(suggestions, cq_align_data_str(fixes, lack_ids[k]), vars,
                                    nvars);
    }
    const json_t *tmpl;
    size_t i;
    json_array_foreach(json_object_get(kind, "templates"), i, tmpl)
    {
        cq_align_onboarding_add(suggestions, cq_align_data_str(tmpl, "text"), vars, nvars);
    }

    /* Reasoning. */
    const json_t *r = json_object_get(data, "reasoning");
    cq_align_prose_t who = {.buf = NULL}, list = {.buf = NULL}, p = {.buf = NULL};
    cq_align_prose_printf(&who, "%s", name[0] ? name_q : cq_align_data_str(defaults, "name"));
    char named[CQ_ALIGN_ONBOARDING_MAX][CQ_ALIGN_QUOTE_MAX + 8];
    const char *product_list[CQ_ALIGN_ONBOARDING_MAX];
    size_t nlisted = 0;
    for (size_t k = 0; k < nproducts && nlisted < CQ_ALIGN_ONBOARDING_MAX; k++) {
        cq_align_terms_quote(json_string_value(json_array_get(products, k)), named[nlisted],
                             sizeof(named[nlisted]));
        product_list[nlisted] = named[nlisted];
        nlisted++;
    }
    cq_align_prose_list(&list, product_list, nlisted, " and ");
    cq_align_prose_t has_list = {.buf = NULL}, lacks_list = {.buf = NULL};
    cq_align_prose_list(&has_list, has, nhas, " and ");
    cq_align_prose_list(&lacks_list, lacks, nlacks, " or ");
    const cq_align_var_t rvars[] = {
        {"label", cq_align_data_str(kind, "label")},
        {"who", who.buf},
        {"industry", industry_q},
        {"products", list.buf},
        {"has", has_list.buf},
        {"lacks", lacks_list.buf},
        {"audience_kind", industry ? "audiences of this industry" : "audiences"},
    };
    const size_t nr = CQ_ARRAY_SIZE(rvars);
    cq_align_prose_fill(&p, cq_align_data_str(r, "intro"), rvars, nr);
    if (industry_q[0])
        cq_align_prose_fill(&p, cq_align_data_str(r, "industry"), rvars, nr);
    if (nproducts)
        cq_align_prose_fill(&p, cq_align_data_str(r, "products"), rvars, nr);
    cq_align_prose_printf(&p, ".");
    if (draft_text && nlacks && nhas)
        cq_align_prose_fill(&p, cq_align_data_str(r, "draft_has"), rvars, nr);
    if (draft_text && nlacks)
        cq_align_prose_fill(&p, cq_align_data_str(r, "draft_lacks"), rvars, nr);
    if (draft_text && !nlacks)
        cq_align_prose_fill(&p, cq_align_data_str(r, "draft_complete"), rvars, nr);
    if (!draft_text)
        cq_align_prose_fill(&p, cq_align_data_str(r, "no_draft"), rvars, nr);
    if (!industry)
        cq_align_prose_fill(&p, cq_align_data_str(r, "generic"), rvars, nr);

    *result = json_pack("{s:o, s:o}", "suggestions", suggestions, "reasoning",
                        cq_align_prose_take(&p, 4000));
    cq_align_prose_clear(&who);
    cq_align_prose_clear(&list);
    cq_align_prose_clear(&has_list);
    cq_align_prose_clear(&lacks_list);
    if (!*result) {
        cq_errstr_set(errstr, errstr_size, "could not build the onboarding-suggestions result");
        return CQ_ERR_INTERNAL_ERROR;
    }
    return CQ_ERR_OK;
}
