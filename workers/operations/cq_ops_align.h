/*
 * cq_ops_align.h — built-in engine of strategic-alignment
 * (POST /operations/strategic-alignment).
 */
#ifndef CQ_OPS_ALIGN_H
#define CQ_OPS_ALIGN_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/* An action's goal score from which the action counts as serving the goal. */
#define CQ_OPS_ALIGN_LINK 35

/* What a client's free-text action status means. */
typedef enum {
    CQ_OPS_STATUS_UNKNOWN = 0, /* not recognised: read as open */
    CQ_OPS_STATUS_PLANNED,
    CQ_OPS_STATUS_ACTIVE,
    CQ_OPS_STATUS_BLOCKED,
    CQ_OPS_STATUS_DONE,
    CQ_OPS_STATUS_CANCELLED,
} cq_ops_status_t;

/* Maps a status as clients send it ("open", "In Progress", "on-hold",
 * "done", ...; case, spaces, hyphens and underscores do not matter) with
 * the table of data/align.json. */
cq_ops_status_t cq_ops_align_status(const char *status);

/*
 * Scores every action against every goal and the business foundation.
 * request is a StrategicAlignmentRequest (already validated); on success
 * *result is a new StrategicAlignmentResult (caller decrefs). now_ms is
 * unused (cq_builtin_fn signature). Errors: CQ_ERR_BAD_REQUEST when request
 * is not an object, CQ_ERR_INSUFFICIENT_CONTEXT when no goal or no action
 * has usable words, CQ_ERR_INTERNAL_ERROR when the data file is missing.
 * Reentrant.
 */
cq_err_t cq_ops_align_compute(const json_t *request, int64_t now_ms, json_t **result, char *errstr,
                              size_t errstr_size);

#endif
