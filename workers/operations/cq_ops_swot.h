/*
 * cq_ops_swot.h — sentence-level SWOT of a text (root-cause-suggestions'
 * swot method and the deprecated operations-analysis).
 */
#ifndef CQ_OPS_SWOT_H
#define CQ_OPS_SWOT_H

#include <jansson.h>

#include "cq_common.h"

/* Sentences of one text that are read; the rest is ignored. */
#define CQ_OPS_SWOT_SENTENCES_MAX 80

/*
 * A Swot object ({strengths, weaknesses, opportunities, threats}) built
 * from text: each sentence goes to the quadrant whose cue words it carries
 * most (workers/operations/data/swot.json), a sentence without cues to
 * none. *placed (when not NULL) receives how many sentences were placed.
 * New object, caller decrefs; NULL only when the data file is missing.
 */
json_t *cq_ops_swot_build(const char *text, size_t *placed);

#endif
