/*
 * cq_align_terms.h — the words the alignment engines work with: term
 * vectors of request texts and of catalogue keyword lists, a text's focus
 * terms, and short quotes of user text.
 */
#ifndef CQ_ALIGN_TERMS_H
#define CQ_ALIGN_TERMS_H

#include <jansson.h>

#include "cq_termvec.h"

/* Bytes of a user text quoted in prose. */
#define CQ_ALIGN_QUOTE_MAX 80

/* A new vector of text (NULL is empty); caller destroys. */
cq_termvec_t *cq_align_terms_vec(const char *text);

/* Adds every string of a JSON array (non-strings skipped, at most max
 * items) to vec with weight; returns how many were added. */
size_t cq_align_terms_add_array(cq_termvec_t *vec, const json_t *arr, size_t max, double weight);

/*
 * Up to max focus terms of vec, heaviest first: informative words (not
 * planning filler) that are not goal-opening verbs, then, if none, any
 * top terms. Surface forms, valid while vec lives.
 */
size_t cq_align_terms_focus(const cq_termvec_t *vec, const char **out, size_t max);

/* cq_align_terms_focus for vec built from text, except that text's first
 * word is passed over while other candidates remain: goal statements open
 * with what to do ("Migrate the payroll database"), not with what about. */
size_t cq_align_terms_focus_text(const char *text, const cq_termvec_t *vec, const char **out,
                                 size_t max);

/* Longest phrase written into cq_align_terms_phrase's out. */
#define CQ_ALIGN_PHRASE_MAX 96

/*
 * The phrase of text around its focus term: the term (a surface form as
 * cq_align_terms_focus_text gives it) with up to two neighbouring words of
 * the same run of content words (no stopwords, not text's first word),
 * e.g. "payroll database" in "Migrate the payroll database to
 * PostgreSQL". Lower-cased words separated by single spaces; the term alone
 * when it has no such neighbours; "" when term is not in text.
 */
void cq_align_terms_phrase(const char *text, const char *term, char *out, size_t out_size);

/* text as a one-line quote of at most CQ_ALIGN_QUOTE_MAX bytes ("…" when
 * cut) in out (size >= CQ_ALIGN_QUOTE_MAX + 8). */
void cq_align_terms_quote(const char *text, char *out, size_t out_size);

#endif
