/*
 * cq_schema.h — JSON Schema validation of request bodies and LLM results
 * against the schemas of the OpenAPI 3.1 document (schemas/openapi.json).
 *
 * A schema is compiled once at start (cq_schema_new) and is read-only
 * afterwards: any number of threads may validate with it at once.
 *
 * Supported keywords (2020-12 meaning): type, properties, required,
 * additionalProperties, items (one schema), enum, const, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum (numbers), minLength, maxLength (Unicode
 * code points), minItems, maxItems, uniqueItems, minProperties,
 * maxProperties, pattern (ECMA-262 on PCRE2, see cq_regex.h), format (date,
 * date-time, uri, email, uuid; see cq_format.h), $ref (local "#..." only;
 * recursion allowed as long as it goes through properties or items), $defs,
 * allOf, anyOf, oneOf, not; true and false as schemas.
 * Ignored annotations: title, description, examples, example, default,
 * deprecated, readOnly, writeOnly, $comment, $schema, $id, nullable,
 * discriminator, externalDocs, xml and any "x-" keyword. Every other keyword
 * is a compile error, so the document cannot use a keyword nobody checks.
 *
 * Numbers compare by value: 1 and 1.0 are equal for enum, const and
 * uniqueItems, and "integer" accepts 2.0.
 */
#ifndef CQ_SCHEMA_H
#define CQ_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* At most this many errors are collected; more set `truncated`. */
#define CQ_SCHEMA_MAX_ERRORS 64
/* Instance values nested deeper than this (containers above them) are
 * refused with "nesting too deep" when the schema descends to them. */
#define CQ_SCHEMA_MAX_DEPTH 64

typedef struct cq_schema_s cq_schema_t;

/* One violation: path is a JSON Pointer into the instance ("" = the root). */
typedef struct {
    char *path;
    char *message;
} cq_schema_error_t;

/* Zero-initialise; cq_schema_errors_clear frees what validation appended. */
typedef struct {
    cq_schema_error_t *items;
    size_t count;
    size_t cap;
    bool truncated;
} cq_schema_errors_t;

/* Compiles the schema at JSON Pointer `pointer` (e.g.
 * "/components/schemas/AlignmentCheckRequest", "" for root itself) inside
 * root, the whole document that "$ref": "#/..." resolves against. Takes its
 * own reference to root; root must not be modified while the schema lives.
 * NULL and errstr on: no schema at pointer, unsupported keyword or keyword
 * value, unsupported or invalid pattern, unknown format, dangling or
 * non-local $ref, a $ref cycle that does not go through properties or items.
 * Caller destroys. Call at start, from one thread. */
cq_schema_t *cq_schema_new(json_t *root, const char *pointer, char *errstr, size_t errstr_size);

/* Frees a compiled schema and drops its reference to root; NULL is a no-op. */
void cq_schema_destroy(cq_schema_t *schema);

/* True when instance is valid. When errors is not NULL every violation is
 * appended to it (up to CQ_SCHEMA_MAX_ERRORS in total, then truncated=true)
 * in a stable order (required, then properties in schema order, then
 * unknown properties in instance order); when NULL, validation stops at the
 * first violation. For anyOf/oneOf one error is reported at the value's
 * path, unless exactly one alternative accepts the value's type: then that
 * alternative's errors. A NULL instance is invalid ("no value"), and so is
 * one that would take more than a million schema node visits (only
 * overlapping, recursive anyOf/oneOf branches come near): "is too complex
 * to validate" at "". Thread-safe: any number of threads at once with one
 * schema, no lock; errors belongs to the caller. */
bool cq_schema_validate(const cq_schema_t *schema, const json_t *instance,
                        cq_schema_errors_t *errors);

/* Frees the errors' strings and array and resets *errors to empty. */
void cq_schema_errors_clear(cq_schema_errors_t *errors);

/* The errors as a new JSON array of {"path", "message"} objects (the
 * "errors" member of a VALIDATION_ERROR problem answer). Caller decrefs. */
json_t *cq_schema_errors_to_json(const cq_schema_errors_t *errors);

/* RFC 6901 lookup: "" is root, "/a/0/b~1c" unescapes ~1 to "/" and ~0 to
 * "~". Borrowed reference (valid while root lives), or NULL when the pointer
 * is malformed or names nothing. Thread-safe. */
json_t *cq_json_pointer_get(json_t *root, const char *pointer);

/* Returns a new string: pointer + "/" + token with "~" and "/" escaped
 * ("~0", "~1"). Caller frees. */
char *cq_json_pointer_append(const char *pointer, const char *token);

/* A self-contained copy of the schema at pointer, for sending to an LLM as
 * a structured-output schema: every $ref inlined (a recursive $ref is an
 * error), $defs dropped, annotation keywords removed except "description".
 * The schema is compiled first, so it fails for the same reasons as
 * cq_schema_new. It does NOT add what OpenAI strict mode also requires
 * (additionalProperties:false and every property in required on every
 * object): the OpenAPI document must say so itself where it is needed.
 * New reference (caller decrefs), or NULL and errstr. */
json_t *cq_schema_strict_copy(json_t *root, const char *pointer, char *errstr, size_t errstr_size);

#endif
