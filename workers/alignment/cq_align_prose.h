/*
 * cq_align_prose.h — how the alignment engines write: a growing text
 * buffer, templates from the data files with {name} placeholders, quoted
 * lists, and cuts that respect the contract's length limits.
 */
#ifndef CQ_ALIGN_PROSE_H
#define CQ_ALIGN_PROSE_H

#include <jansson.h>

#include "cq_common.h"

typedef struct {
    char *buf; /* NUL-terminated once anything was written; NULL before */
    size_t len, cap;
} cq_align_prose_t;

/* One placeholder of a template: {key} is replaced by value. */
typedef struct {
    const char *key;
    const char *value;
} cq_align_var_t;

/* Appends formatted text. */
void cq_align_prose_printf(cq_align_prose_t *p, const char *fmt, ...) CQ_PRINTF(2, 3);

/* Appends tmpl with every {key} of vars replaced by its value; a
 * placeholder without a var (or with a NULL value) becomes "". */
void cq_align_prose_fill(cq_align_prose_t *p, const char *tmpl, const cq_align_var_t *vars,
                         size_t nvars);

/* Whether every {placeholder} of tmpl has a non-empty value in vars (a
 * template that needs what the request does not give is skipped). */
bool cq_align_prose_fillable(const char *tmpl, const cq_align_var_t *vars, size_t nvars);

/* Appends “a”, “a”<conj>“b” or “a”, “b”<conj>“c”. */
void cq_align_prose_list(cq_align_prose_t *p, const char *const *words, size_t n, const char *conj);

/* The text written so far, cut to at most max_bytes on a UTF-8 character
 * boundary and trimmed, as a new JSON string (never NULL; "" when nothing
 * was written); p is emptied. */
json_t *cq_align_prose_take(cq_align_prose_t *p, size_t max_bytes);

/* Frees the buffer; p can be reused. */
void cq_align_prose_clear(cq_align_prose_t *p);

/* cq_align_prose_fill into a new JSON string of at most max_bytes. */
json_t *cq_align_fill_json(const char *tmpl, const cq_align_var_t *vars, size_t nvars,
                           size_t max_bytes);

/* A stable index in [0, n) chosen by seed (FNV-1a), so that wording varies
 * with the input yet stays deterministic. n must be > 0. */
size_t cq_align_pick(const char *seed, size_t n);

#endif
