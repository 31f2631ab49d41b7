/*
 * cq_ops_text.h — small text helpers shared by the operations worker's
 * text engines (strategic alignment, root causes, action suggestions, the
 * deprecated analysis): their embedded data files, a lexicon of stems,
 * "{key}" templates, sentences and bounded string building.
 *
 * Data files and lexicons are built once and read-only afterwards; every
 * function here is reentrant and may be called from any thread.
 */
#ifndef CQ_OPS_TEXT_H
#define CQ_OPS_TEXT_H

#include <jansson.h>

#include "cq_common.h"

/* The parsed contents of workers/operations/data/<name> (e.g. "rootcause.json"),
 * borrowed, valid for the life of the process; NULL when the file is not
 * embedded or is not valid JSON (a build defect: engines report it). */
const json_t *cq_ops_text_data(const char *name);

/*
 * A lexicon: stems of words grouped into classes. lexicon is an object
 * {class: [word, ...], ...} of a data file; the result maps each word's
 * stem to the class's index (document order) as a new JSON object
 * {stem: index} (caller decrefs; later classes do not override earlier).
 */
json_t *cq_ops_text_lexicon_new(const json_t *lexicon);
/*
 * The lexicon named key, made once: the first call for a key builds it
 * from the classes make returns (a new {class: [word, ...]} object, see
 * cq_ops_text_lexicon_new) and keeps it for the life of the process; later
 * calls return the same object. Borrowed, read-only; NULL when make does.
 * Every caller of one key must pass an equivalent make.
 */
const json_t *cq_ops_text_lexicon(const char *key, json_t *(*make)(void));

/* Class index of a lower-cased token in a lexicon made above, or -1. */
int cq_ops_text_lexicon_class(const json_t *stems, const char *token);

/* Fills a template: every "{key}" whose key is keys[i] becomes vals[i]
 * (NULL values become ""); other braces stay. New string, caller frees. */
char *cq_ops_text_fill(const char *tmpl, const char *const *keys, const char *const *vals,
                       size_t n);

/* A sentence of a text, as a byte range. */
typedef struct {
    const char *start;
    size_t len;
} cq_ops_sentence_t;

/* Splits text into at most max sentences (ends: . ! ? ; or a newline,
 * followed by space or the end); empty ones are skipped. Returns the count. */
size_t cq_ops_text_sentences(const char *text, cq_ops_sentence_t *out, size_t max);

/* The sentence as a NUL-terminated string of at most max_bytes bytes
 * (cq_text_excerpt: whitespace collapsed, cut on a character boundary with
 * "…"), trailing sentence punctuation dropped. New string, caller frees. */
char *cq_ops_text_sentence_dup(const cq_ops_sentence_t *s, size_t max_bytes);

/* cq_text_excerpt into a new string of at most max_bytes bytes of text. */
char *cq_ops_text_excerpt(const char *text, size_t max_bytes);

/* Whether haystack contains needle, ASCII case-insensitively. */
bool cq_ops_text_contains(const char *haystack, const char *needle);

/* A bounded string builder (like cq_align_text_t of the alignment engine). */
typedef struct {
    char buf[2000];
    size_t len;
} cq_ops_buf_t;

/* Appends to b; silently truncated at the buffer's end (never past a
 * character boundary). */
void cq_ops_buf_printf(cq_ops_buf_t *b, const char *fmt, ...) CQ_PRINTF(2, 3);
/* Appends “a”, “b” and “c” (quoted, conj before the last). */
void cq_ops_buf_list(cq_ops_buf_t *b, const char *const *words, size_t n, const char *conj);

#endif
