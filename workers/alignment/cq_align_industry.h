/*
 * cq_align_industry.h — recognises a business's industry among those of
 * data/industries.json (for KPI benchmarks and onboarding wording).
 */
#ifndef CQ_ALIGN_INDUSTRY_H
#define CQ_ALIGN_INDUSTRY_H

#include <jansson.h>

/*
 * The industry entry whose keywords the text (industry, business type,
 * products...) matches most, or NULL when none matches or the data is
 * missing. Borrowed, read-only.
 */
const json_t *cq_align_industry_match(const char *text);

/* The data's default entry (cross-industry wording); NULL when the data
 * is missing. */
const json_t *cq_align_industry_default(void);

#endif
