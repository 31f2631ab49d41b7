/*
 * cq_align_goaltype.h — classifies a goal into the goal types of
 * data/goal_types.json (revenue, acquisition, retention, ...), for the
 * strategy and KPI engines.
 */
#ifndef CQ_ALIGN_GOALTYPE_H
#define CQ_ALIGN_GOALTYPE_H

#include <jansson.h>

#include "cq_termvec.h"

/* Goal types the catalogue may hold; the rest are ignored. */
#define CQ_ALIGN_GOALTYPES_MAX 32

typedef struct {
    const char *id;    /* borrowed from the data */
    const char *label; /* borrowed from the data */
    double matched;    /* keyword weight the goal's texts earn */
} cq_align_goaltype_t;

typedef struct {
    cq_align_goaltype_t types[CQ_ALIGN_GOALTYPES_MAX]; /* best first (ties: catalogue order) */
    size_t n;
    const char *fallback;       /* id used when nothing matches */
    const char *fallback_label; /* "growth" unless the data says otherwise */
} cq_align_goaltypes_t;

/*
 * Scores every goal type against docs of the given standing (e.g. intent
 * 1.0, strategies and challenges 0.6, vision 0.3): a type earns the
 * weight of its keywords the documents contain (stems and planning
 * concepts, cq_termvec_coverage_multi). out is filled in descending order.
 * Returns false when the goal type data is missing.
 */
bool cq_align_goaltype_classify(const cq_termvec_t *const *docs, const double *weights,
                                size_t ndocs, cq_align_goaltypes_t *out);

/* Normalised strength in [0, 1] of type id for the goal: its matched
 * weight over the best type's; 0.3 for the fallback type, 0 if unknown. */
double cq_align_goaltype_strength(const cq_align_goaltypes_t *types, const char *id);

/* The words of doc that made type (an entry of types) match, up to max,
 * as doc's surface forms valid while doc lives. */
size_t cq_align_goaltype_words(const cq_align_goaltype_t *type, const cq_termvec_t *doc,
                               const char **out, size_t max);

#endif
