/*
 * cq_align_industry.c — industry recognition by keyword weight: the entry
 * of data/industries.json whose keywords earn most weight in the text
 * (stems and planning concepts, as everywhere in these engines); ties go
 * to the earlier entry.
 *
 * Threads: none of its own; reentrant (the data is read-only).
 */
#include "cq_align_industry.h"

#include "cq_align_data.h"
#include "cq_align_terms.h"

const json_t *cq_align_industry_match(const char *text)
{
    cq_termvec_t *doc = cq_align_terms_vec(text);
    const cq_termvec_t *docs[] = {doc};
    const double weights[] = {1.0};
    const json_t *best = NULL, *ind;
    double best_matched = 0;
    size_t i;
    json_array_foreach(json_object_get(cq_align_data("industries"), "industries"), i, ind)
    {
        cq_termvec_t *vec = cq_align_terms_vec(cq_align_data_str(ind, "keywords"));
        double matched = 0;
        cq_termvec_coverage_multi(vec, docs, weights, 1, &matched);
        cq_termvec_destroy(vec);
        if (matched > best_matched) {
            best_matched = matched;
            best = ind;
        }
    }
    cq_termvec_destroy(doc);
    return best;
}

const json_t *cq_align_industry_default(void)
{
    return json_object_get(cq_align_data("industries"), "default");
}
