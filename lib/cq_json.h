/*
 * cq_json.h — checks on JSON text before it reaches the parser.
 *
 * jansson parses nested arrays and objects recursively, up to 2048 levels;
 * on a civetweb thread's small stack (and under sanitizers) that is enough
 * to overflow it. Every untrusted JSON text a gateway thread parses (request
 * bodies, batch lines, token parts) is measured here first.
 */
#ifndef CQ_JSON_H
#define CQ_JSON_H

#include "cq_common.h"

/* Deepest nesting of arrays and objects in text (brackets inside strings do
 * not count). Linear, no allocation; stops counting past limit and returns
 * limit + 1. Malformed text is measured as far as it goes: the parser will
 * reject it afterwards. */
int cq_json_depth(const char *text, size_t len, int limit);

/* Deepest nesting a request body may have (our schemas need far fewer). */
#define CQ_JSON_MAX_DEPTH 64

#endif
