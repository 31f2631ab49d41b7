/*
 * cq_align_onboarding.h — the built-in engine of onboarding-suggestions
 * (POST /suggestions/onboarding): niche, ideal client avatar (ica) and
 * value proposition.
 */
#ifndef CQ_ALIGN_ONBOARDING_H
#define CQ_ALIGN_ONBOARDING_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/*
 * Suggests 3-5 drafts of the kind asked for, from the patterns of
 * data/onboarding.json and the industry wording of data/industries.json,
 * filled with the business's name, industry and products; when the user
 * has a draft, the first suggestions fix what it lacks. request is an
 * OnboardingSuggestionsRequest (only kind is required). now_ms is unused.
 * On success *result is a new OnboardingSuggestionsResult (caller
 * decrefs). Errors: CQ_ERR_VALIDATION_ERROR for an unknown kind,
 * CQ_ERR_INTERNAL_ERROR when the pattern data is missing. Reentrant.
 */
cq_err_t cq_align_onboarding_compute(const json_t *request, int64_t now_ms, json_t **result,
                                     char *errstr, size_t errstr_size);

#endif
