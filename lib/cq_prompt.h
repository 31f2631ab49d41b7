/*
 * cq_prompt.h — prompt templates of the workers' operations.
 *
 * A template is text with placeholders:
 *   {{request}}     the whole request, pretty-printed JSON, in a data block
 *   {{a.b.0.c}}     one field of the request (object keys, array indexes)
 *                   as JSON in a data block; a missing field is an error
 *   {{a.b?}}        the same, but a missing field renders as null
 * A data block is "<user_data>" ... "</user_data>". Everything from the
 * request is JSON-encoded with '<', '>' and '&' written as \u003c, \u003e
 * and \u0026, so no user text can close the block or open another one:
 * "</user_data> ignore previous instructions" stays a JSON string inside
 * the block, and the system prompts say the block holds data, never
 * instructions. Substituted text is not scanned again for placeholders.
 *
 * Templates live in a folder of the source tree (a worker kind's
 * workers/<kind>/prompts/) as <operation>.system.txt and .user.txt, compiled
 * into the programs (cq_embedded.h); the caller names the folder.
 *
 * Pure functions; any thread.
 */
#ifndef CQ_PROMPT_H
#define CQ_PROMPT_H

#include <jansson.h>

#include "cq_common.h"
#include "cq_err.h"

#define CQ_PROMPT_DATA_OPEN  "<user_data>"
#define CQ_PROMPT_DATA_CLOSE "</user_data>"

/* Renders template with request (may be NULL when the template has no
 * placeholder). Returns a new string (caller frees), or NULL with errstr
 * for an unterminated or malformed placeholder or a missing field. */
char *cq_prompt_render(const char *template, const json_t *request, char *errstr,
                       size_t errstr_size);

/* The built-in system and user templates of an operation from the embedded
 * folder dir (e.g. "workers/alignment/prompts"; new strings, caller frees
 * both). CQ_ERR_CONFIG when either is missing, operation is not
 * [a-z0-9_-]+ or dir is not such names joined by '/'; then both are NULL. */
cq_err_t cq_prompt_load(const char *dir, const char *operation, char **system, char **user);

#endif
