/*
 * cq_align_data.h — the alignment engines' knowledge kept as data: the
 * catalogues and wording of workers/alignment/data/ (one JSON file each), embedded at
 * build time, parsed once and read-only afterwards.
 */
#ifndef CQ_ALIGN_DATA_H
#define CQ_ALIGN_DATA_H

#include <jansson.h>

#include "cq_common.h"

/*
 * The parsed file workers/alignment/data/<name>.json (name without folder
 * or extension, e.g. "kpis"). Borrowed and never freed; NULL when the file
 * is not one of the kind's data files or does not parse (the unit tests
 * prove every one parses). Any thread; the first call parses all files.
 */
const json_t *cq_align_data(const char *name);

/* A data member as a string, "" when absent or not a string. */
const char *cq_align_data_str(const json_t *obj, const char *key);

#endif
