/*
 * cq_llm_schema.h — the contract's result schemas in the shapes LLM
 * providers accept for structured output, and the way back for answers.
 *
 * Both providers get the schema with every "#/..." $ref inlined, and a root
 * that is an object: a result that is not one (an array, a oneOf) is
 * wrapped in a single required property, "items" for arrays and "result"
 * otherwise, and unwrapped again by cq_llm_schema_unwrap(). OpenAI strict
 * mode gets more: every object lists all its properties in `required` and
 * has additionalProperties false, an optional property may be null
 * instead, oneOf becomes anyOf, and keywords strict mode rejects are
 * removed; their values move into the description so the model still
 * sees them. Grammar-driven servers (llama.cpp's json_object mode, and
 * the schema a prompt-only call describes) get the plain shape minus what
 * grammar compilers choke on: pattern and format are dropped (and told in
 * the description), maxLength and maxItems above the grammar bounds are
 * clamped to them (a maxLength of 2000 becomes thousands of grammar rules:
 * llama-cpp-python's server crashes on it), minimums above them dropped.
 * Clamping only tightens the schema. Our own validator
 * checks the answer against the original schema afterwards, so nothing is
 * lost by loosening.
 *
 * Pure functions of their inputs; the inputs are only read (no reference
 * counts touched), so a shared contract document is safe from any thread.
 */
#ifndef CQ_LLM_SCHEMA_H
#define CQ_LLM_SCHEMA_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

/* Property names that wrap a result whose schema is not an object. */
#define CQ_LLM_SCHEMA_WRAP_ARRAY "items"
#define CQ_LLM_SCHEMA_WRAP_OTHER "result"

/* Largest maxLength (minLength) and maxItems (minItems) of the grammar shape. */
#define CQ_LLM_SCHEMA_GRAMMAR_MAX_LENGTH 256
#define CQ_LLM_SCHEMA_GRAMMAR_MAX_ITEMS  20

typedef enum {
    CQ_LLM_SHAPE_PLAIN,   /* refs inlined, root wrapped (Anthropic tool input) */
    CQ_LLM_SHAPE_STRICT,  /* OpenAI strict json_schema */
    CQ_LLM_SHAPE_GRAMMAR, /* plain, minus what grammar compilers choke on */
} cq_llm_shape_t;

/* Converts schema to a shape. $refs resolve in document (NULL: in schema
 * itself). Returns a new reference, or NULL with errstr (dangling or
 * non-local $ref, recursion, a keyword strict mode cannot express such as
 * allOf). */
json_t *cq_llm_schema_convert(const json_t *schema, const json_t *document, cq_llm_shape_t shape,
                              char *errstr, size_t errstr_size);

/* Whether convert wraps this schema (resolved through a root $ref). */
bool cq_llm_schema_wrapped(const json_t *schema, const json_t *document);

/* Removes, recursively, every object member whose value is null: in strict
 * mode that is how a model leaves out an optional property, and the
 * contract's schemas never allow null. Array elements are kept. */
void cq_llm_schema_drop_nulls(json_t *value);

/* The answer without the wrapper: if answer is an object whose only member
 * is "items" or "result", a new reference to that member; otherwise a new
 * reference to answer itself. No valid answer of an object result schema is
 * such a lone member (test_cq_llm_schema checks the contract for it). */
json_t *cq_llm_schema_unwrap(json_t *answer);

#endif
