/*
 * cq_embedded.h — files of the source tree compiled into every program:
 * schemas/ (OpenAPI document, Avro schemas) and workers' prompts.
 */
#ifndef CQ_EMBEDDED_H
#define CQ_EMBEDDED_H

#include <stddef.h>

/* Contents of an embedded file by its path relative to the source root
 * (e.g. "schemas/openapi.json"), NUL-terminated; NULL when absent.
 * Static data: never freed, safe from any thread. */
const char *cq_embedded_get(const char *name, size_t *len);

#endif
