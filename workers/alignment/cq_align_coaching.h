/*
 * cq_align_coaching.h — the built-in engine of onboarding-coaching
 * (POST /coaching/onboarding): the coach's answer while a user writes the
 * vision, purpose or core values.
 */
#ifndef CQ_ALIGN_COACHING_H
#define CQ_ALIGN_COACHING_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/*
 * Answers a coaching message: what the user's text (message and current
 * draft) already does well and lacks for the topic, one question to take
 * it further, and up to five drafts or next steps built from the text's own
 * words. request is an OnboardingCoachingRequest (every context field
 * optional). now_ms is unused. On success *result is a new
 * OnboardingCoachingResult (caller decrefs). Errors:
 * CQ_ERR_VALIDATION_ERROR for an unknown topic, CQ_ERR_INTERNAL_ERROR when
 * the coaching data is missing. Reentrant.
 */
cq_err_t cq_align_coaching_compute(const json_t *request, int64_t now_ms, json_t **result,
                                   char *errstr, size_t errstr_size);

/* Splits a list of values ("Craft, honesty and warmth") into at most max
 * items written to out[i] (each of out_size bytes): separators are commas,
 * semicolons, new lines, " and " and " & "; items are trimmed of spaces and
 * punctuation, and kept when 1-40 bytes and at most four words. Returns
 * how many. */
size_t cq_align_coaching_split_values(const char *text, char (*out)[48], size_t max);

#endif
