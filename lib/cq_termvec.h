/*
 * cq_termvec.h — term vectors (stem -> weight) over cq_text's analysis,
 * with the similarity measures the built-in engines score with (soft
 * cosine, coverage) and the term listings their explanations quote.
 *
 * Bounded: a vector holds at most CQ_TERMVEC_TERMS_MAX distinct terms and
 * every function is linear in the sizes of its vectors. A vector must not
 * be changed by one thread while another uses it.
 */
#ifndef CQ_TERMVEC_H
#define CQ_TERMVEC_H

#include "cq_text.h"

/* Distinct terms one vector holds; further new terms are ignored. */
#define CQ_TERMVEC_TERMS_MAX 4096

typedef struct cq_termvec_s cq_termvec_t;

/* New empty vector; caller destroys. Never NULL. */
cq_termvec_t *cq_termvec_new(void);
/* Frees vec; NULL is a no-op. */
void cq_termvec_destroy(cq_termvec_t *vec);

/* Adds every non-stopword token of text as its stem, with weight
 * weight * cq_text_term_weight(stem); repeats add up. */
void cq_termvec_add_text(cq_termvec_t *vec, const char *text, double weight);
/* Adds every term of src to dst with its weight times scale. */
void cq_termvec_add_vec(cq_termvec_t *dst, const cq_termvec_t *src, double scale);

/* Number of distinct terms. */
size_t cq_termvec_size(const cq_termvec_t *vec);
/* Sum of all weights (0 for a vector without usable words). */
double cq_termvec_total(const cq_termvec_t *vec);
/* Weight of the term a word stems to (the word is lower-cased ASCII or a
 * token as given by the tokenizer); 0 when absent. */
double cq_termvec_weight(const cq_termvec_t *vec, const char *word);

/*
 * Soft cosine similarity in [0, 1]: terms match themselves with similarity 1
 * and other terms of their concept with CQ_TEXT_CONCEPT_SIM. Identical
 * vectors give 1, vectors without related terms 0, empty vectors 0.
 */
double cq_termvec_cosine(const cq_termvec_t *a, const cq_termvec_t *b);

/*
 * Share in [0, 1] of query's weight found in doc: a term present in doc
 * counts fully, a term whose concept is present in doc counts
 * CQ_TEXT_CONCEPT_SIM. 0 when query is empty.
 */
double cq_termvec_coverage(const cq_termvec_t *query, const cq_termvec_t *doc);

/*
 * Coverage against several documents of different standing: each query term
 * earns the best doc_weights[i] * match(term, docs[i]) over the documents
 * (match as in cq_termvec_coverage; doc_weights in [0, 1]; NULL docs are
 * skipped). Returns the share of query weight earned; when matched is not
 * NULL it receives the earned weight itself (not divided by the total).
 */
double cq_termvec_coverage_multi(const cq_termvec_t *query, const cq_termvec_t *const *docs,
                                 const double *doc_weights, size_t ndocs, double *matched);

/*
 * Up to max terms both vectors share, strongest first (by the smaller of
 * the two weights times their similarity), as readable words: a's surface
 * form for an exact match, the concept label for a concept-only match.
 * Distinct strings, valid while a lives. Returns how many were written.
 */
size_t cq_termvec_shared_terms(const cq_termvec_t *a, const cq_termvec_t *b, const char **out,
                               size_t max);

/* Up to max heaviest terms of query that doc matches neither exactly nor by
 * concept, as query's surface forms; valid while query lives. */
size_t cq_termvec_missing_terms(const cq_termvec_t *query, const cq_termvec_t *doc,
                                const char **out, size_t max);

/* Up to max heaviest terms of vec (ties: first added first), as surface
 * forms valid while vec lives. */
size_t cq_termvec_top_terms(const cq_termvec_t *vec, const char **out, size_t max);

#endif
