/*
 * cq_align_goaltype.c — goal type classification by keyword coverage.
 *
 * Each goal type of data/goal_types.json is a keyword list turned into a
 * term vector; a goal earns, per type, the weight of that type's keywords
 * found in its texts, each text at its standing. Absolute earned weight,
 * not a share, so a type with many keywords is not penalised for the ones
 * a short goal cannot contain. Types are ranked by that weight; when none
 * earns anything, the data's fallback type stands for general strategies.
 *
 * Threads: none of its own; reentrant (the data is read-only).
 */
#include "cq_align_goaltype.h"

#include <string.h>

#include "cq_align_data.h"
#include "cq_align_terms.h"

static const json_t *cq_align_goaltype_find(const char *id)
{
    const json_t *type;
    size_t i;
    json_array_foreach(json_object_get(cq_align_data("goal_types"), "types"), i, type)
    {
        if (strcmp(cq_align_data_str(type, "id"), id) == 0)
            return type;
    }
    return NULL;
}

bool cq_align_goaltype_classify(const cq_termvec_t *const *docs, const double *weights,
                                size_t ndocs, cq_align_goaltypes_t *out)
{
    const json_t *data = cq_align_data("goal_types");
    memset(out, 0, sizeof(*out));
    if (!data)
        return false;
    out->fallback = cq_align_data_str(data, "fallback");
    out->fallback_label = out->fallback;
    const json_t *type;
    size_t i;
    json_array_foreach(json_object_get(data, "types"), i, type)
    {
        if (out->n >= CQ_ALIGN_GOALTYPES_MAX)
            break;
        cq_termvec_t *vec = cq_align_terms_vec(cq_align_data_str(type, "keywords"));
        double matched = 0;
        cq_termvec_coverage_multi(vec, docs, weights, ndocs, &matched);
        cq_termvec_destroy(vec);
        /* insertion keeps catalogue order among equals */
        size_t at = out->n;
        while (at > 0 && out->types[at - 1].matched < matched) {
            out->types[at] = out->types[at - 1];
            at--;
        }
        out->types[at] = (cq_align_goaltype_t){.id = cq_align_data_str(type, "id"),
                                               .label = cq_align_data_str(type, "label"),
                                               .matched = matched};
        out->n++;
    }
    return true;
}

double cq_align_goaltype_strength(const cq_align_goaltypes_t *types, const char *id)
{
    if (types->fallback && strcmp(id, types->fallback) == 0)
        return 0.3;
    double best = types->n ? types->types[0].matched : 0;
    for (size_t i = 0; i < types->n; i++)
        if (strcmp(types->types[i].id, id) == 0)
            return best > 0 ? types->types[i].matched / best : 0;
    return 0;
}

size_t cq_align_goaltype_words(const cq_align_goaltype_t *type, const cq_termvec_t *doc,
                               const char **out, size_t max)
{
    const json_t *data = cq_align_goaltype_find(type->id);
    if (!data)
        return 0;
    cq_termvec_t *vec = cq_align_terms_vec(cq_align_data_str(data, "keywords"));
    size_t n = cq_termvec_shared_terms(doc, vec, out, max);
    cq_termvec_destroy(vec);
    return n;
}
