/*
 * cq_ops_rootcause.h — built-in engine of root-cause-suggestions
 * (POST /operations/root-cause-suggestions), whose SWOT method is cq_ops_swot.
 */
#ifndef CQ_OPS_ROOTCAUSE_H
#define CQ_OPS_ROOTCAUSE_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/* Sentences of one text that are read; the rest is ignored. */
#define CQ_OPS_ROOTCAUSE_SENTENCES_MAX 80

/*
 * Root-cause analyses of an issue by one to three methods (five whys,
 * fishbone, pareto, SWOT), chosen from what the text shows, best first.
 * request is a RootCauseSuggestionsRequest (already validated). On success
 * *result is a new RootCauseSuggestionsResult array (caller decrefs).
 * now_ms is unused (the result has no time stamp); it keeps the
 * cq_builtin_fn signature. Errors: CQ_ERR_BAD_REQUEST when request is not an
 * object, CQ_ERR_INSUFFICIENT_CONTEXT when the issue has no usable words,
 * CQ_ERR_INTERNAL_ERROR when the engine's data file is missing. Reentrant.
 */
cq_err_t cq_ops_rootcause_compute(const json_t *request, int64_t now_ms, json_t **result,
                                  char *errstr, size_t errstr_size);

/* The fishbone lexicon of data/rootcause.json: {stem: category index}, the
 * index being the category's position in the file's "fishbone" list.
 * Built once; borrowed, read-only; NULL when the data file is missing. */
const json_t *cq_ops_rootcause_fishbone_stems(void);

#endif
