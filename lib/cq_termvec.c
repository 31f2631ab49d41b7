/*
 * cq_termvec.c — term vectors (see cq_termvec.h).
 *
 * A vector is an open-addressing hash table (FNV-1a, linear probing, load
 * at most 1/2) over an array of terms kept in insertion order, so every
 * listing is deterministic. Each term remembers its first surface form (for
 * prose) and its concept; per-concept weight sums make concept matches and
 * the soft cosine linear instead of quadratic. A vector holds at most
 * CQ_TERMVEC_TERMS_MAX terms. No shared state: a vector belongs to whoever
 * uses it, and read-only use from several threads is safe.
 */
#include "cq_termvec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char stem[CQ_TEXT_TOKEN_MAX];
    char surface[CQ_TEXT_TOKEN_MAX];
    double weight;
    int concept;
} cq_termvec_term_t;

struct cq_termvec_s {
    cq_termvec_term_t *terms; /* insertion order */
    size_t nterms, cap;
    uint32_t *slots; /* index + 1 into terms, 0 = empty; power-of-two size */
    size_t nslots;
    double total;
    double concept_weight[CQ_TEXT_CONCEPTS_MAX];
};

static uint32_t cq_termvec_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

cq_termvec_t *cq_termvec_new(void)
{
    cq_termvec_t *vec = cq_calloc(1, sizeof(*vec));
    vec->cap = 16;
    vec->terms = cq_malloc(vec->cap * sizeof(*vec->terms));
    vec->nslots = 32;
    vec->slots = cq_calloc(vec->nslots, sizeof(*vec->slots));
    return vec;
}

void cq_termvec_destroy(cq_termvec_t *vec)
{
    if (!vec)
        return;
    free(vec->terms);
    free(vec->slots);
    free(vec);
}

static int cq_termvec_find(const cq_termvec_t *vec, const char *stem)
{
    size_t mask = vec->nslots - 1;
    for (size_t i = cq_termvec_hash(stem) & mask;; i = (i + 1) & mask) {
        uint32_t slot = vec->slots[i];
        if (slot == 0)
            return -1;
        if (strcmp(vec->terms[slot - 1].stem, stem) == 0)
            return (int)slot - 1;
    }
}

static void cq_termvec_rehash(cq_termvec_t *vec)
{
    free(vec->slots);
    vec->nslots *= 2;
    vec->slots = cq_calloc(vec->nslots, sizeof(*vec->slots));
    size_t mask = vec->nslots - 1;
    for (size_t t = 0; t < vec->nterms; t++) {
        size_t i = cq_termvec_hash(vec->terms[t].stem) & mask;
        while (vec->slots[i])
            i = (i + 1) & mask;
        vec->slots[i] = (uint32_t)t + 1;
    }
}

/* Adds weight to stem; surface and concept are used when the term is new. */
static void cq_termvec_put(cq_termvec_t *vec, const char *stem, const char *surface, int concept,
                           double weight)
{
    if (!(weight > 0) || !isfinite(weight))
        return;
    int idx = cq_termvec_find(vec, stem);
    if (idx < 0) {
        if (vec->nterms >= CQ_TERMVEC_TERMS_MAX)
            return;
        if (vec->nterms == vec->cap) {
            vec->cap *= 2;
            vec->terms = cq_realloc(vec->terms, vec->cap * sizeof(*vec->terms));
        }
        cq_termvec_term_t *term = &vec->terms[vec->nterms];
        cq_strlcpy(term->stem, stem, sizeof(term->stem));
        cq_strlcpy(term->surface, surface, sizeof(term->surface));
        term->weight = 0;
        term->concept = concept;
        idx = (int)vec->nterms++;
        if (vec->nterms * 2 > vec->nslots) {
            cq_termvec_rehash(vec);
        } else {
            size_t mask = vec->nslots - 1;
            size_t i = cq_termvec_hash(stem) & mask;
            while (vec->slots[i])
                i = (i + 1) & mask;
            vec->slots[i] = (uint32_t)idx + 1;
        }
    }
    vec->terms[idx].weight += weight;
    vec->total += weight;
    if (vec->terms[idx].concept >= 0)
        vec->concept_weight[vec->terms[idx].concept] += weight;
}

typedef struct {
    cq_termvec_t *vec;
    double weight;
} cq_termvec_add_ctx_t;

static void cq_termvec_add_token(const char *token, size_t len, void *arg)
{
    cq_termvec_add_ctx_t *add = arg;
    CQ_UNUSED(len);
    if (cq_text_is_stopword(token))
        return;
    char stem[CQ_TEXT_TOKEN_MAX];
    cq_text_stem(token, stem, sizeof(stem));
    cq_termvec_put(add->vec, stem, token, cq_text_concept_id(stem),
                   add->weight * cq_text_term_weight(stem));
}

void cq_termvec_add_text(cq_termvec_t *vec, const char *text, double weight)
{
    cq_termvec_add_ctx_t add = {.vec = vec, .weight = weight};
    if (!(weight > 0) || !isfinite(weight))
        return;
    cq_text_tokenize(text, cq_termvec_add_token, &add);
}

void cq_termvec_add_vec(cq_termvec_t *dst, const cq_termvec_t *src, double scale)
{
    for (size_t t = 0; t < src->nterms; t++) {
        const cq_termvec_term_t *term = &src->terms[t];
        cq_termvec_put(dst, term->stem, term->surface, term->concept, term->weight * scale);
    }
}

size_t cq_termvec_size(const cq_termvec_t *vec)
{
    return vec->nterms;
}

double cq_termvec_total(const cq_termvec_t *vec)
{
    return vec->total;
}

double cq_termvec_weight(const cq_termvec_t *vec, const char *word)
{
    char stem[CQ_TEXT_TOKEN_MAX];
    cq_text_stem(word, stem, sizeof(stem));
    int idx = cq_termvec_find(vec, stem);
    return idx < 0 ? 0 : vec->terms[idx].weight;
}

/* a^T S b for the concept similarity matrix S (see cq_termvec_cosine). */
static double cq_termvec_soft_dot(const cq_termvec_t *a, const cq_termvec_t *b)
{
    const double s = CQ_TEXT_CONCEPT_SIM;
    double dot = 0;
    for (size_t t = 0; t < a->nterms; t++) {
        int idx = cq_termvec_find(b, a->terms[t].stem);
        if (idx < 0)
            continue;
        double prod = a->terms[t].weight * b->terms[idx].weight;
        dot += a->terms[t].concept >= 0 ? (1 - s) * prod : prod;
    }
    for (size_t c = 0; c < CQ_TEXT_CONCEPTS_MAX; c++)
        dot += s * a->concept_weight[c] * b->concept_weight[c];
    return dot;
}

double cq_termvec_cosine(const cq_termvec_t *a, const cq_termvec_t *b)
{
    /* S is 1 on the diagonal, s between two terms of one concept, else 0:
     * block-wise (1-s)I + sJ, positive semi-definite, so the norms below
     * are real and the result is a proper cosine in [0, 1]. */
    double na = cq_termvec_soft_dot(a, a), nb = cq_termvec_soft_dot(b, b);
    if (!(na > 0) || !(nb > 0))
        return 0;
    double cos = cq_termvec_soft_dot(a, b) / sqrt(na * nb);
    return cos < 0 ? 0 : cos > 1 ? 1 : cos;
}

/* 1 for an exact match of term in doc, CQ_TEXT_CONCEPT_SIM for a concept
 * match, 0 otherwise. */
static double cq_termvec_match(const cq_termvec_t *doc, const cq_termvec_term_t *term)
{
    if (cq_termvec_find(doc, term->stem) >= 0)
        return 1;
    if (term->concept >= 0 && doc->concept_weight[term->concept] > 0)
        return CQ_TEXT_CONCEPT_SIM;
    return 0;
}

double cq_termvec_coverage_multi(const cq_termvec_t *query, const cq_termvec_t *const *docs,
                                 const double *doc_weights, size_t ndocs, double *matched)
{
    double earned = 0;
    for (size_t t = 0; t < query->nterms; t++) {
        double best = 0;
        for (size_t d = 0; d < ndocs; d++) {
            if (!docs[d] || !(doc_weights[d] > best))
                continue;
            double m = doc_weights[d] * cq_termvec_match(docs[d], &query->terms[t]);
            if (m > best)
                best = m;
        }
        earned += query->terms[t].weight * (best > 1 ? 1 : best);
    }
    if (matched)
        *matched = earned;
    if (!(query->total > 0))
        return 0;
    double share = earned / query->total;
    return share > 1 ? 1 : share;
}

double cq_termvec_coverage(const cq_termvec_t *query, const cq_termvec_t *doc)
{
    const double one = 1;
    return cq_termvec_coverage_multi(query, &doc, &one, 1, NULL);
}

typedef struct {
    const char *name;
    double score;
    size_t order;
} cq_termvec_rank_t;

static int cq_termvec_cmp_rank(const void *x, const void *y)
{
    const cq_termvec_rank_t *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order ? 1 : 0;
}

/* Sorts ranks and copies up to max distinct names into out. */
static size_t cq_termvec_rank_out(cq_termvec_rank_t *ranks, size_t n, const char **out, size_t max)
{
    qsort(ranks, n, sizeof(*ranks), cq_termvec_cmp_rank);
    size_t w = 0;
    for (size_t i = 0; i < n && w < max; i++) {
        bool dup = false;
        for (size_t k = 0; k < w && !dup; k++)
            dup = strcmp(out[k], ranks[i].name) == 0;
        if (!dup)
            out[w++] = ranks[i].name;
    }
    return w;
}

size_t cq_termvec_shared_terms(const cq_termvec_t *a, const cq_termvec_t *b, const char **out,
                               size_t max)
{
    cq_termvec_rank_t *ranks = cq_malloc(a->nterms * sizeof(*ranks));
    size_t n = 0;
    for (size_t t = 0; t < a->nterms; t++) {
        const cq_termvec_term_t *term = &a->terms[t];
        int idx = cq_termvec_find(b, term->stem);
        if (idx >= 0) {
            double wb = b->terms[idx].weight;
            ranks[n++] =
                (cq_termvec_rank_t){term->surface, term->weight < wb ? term->weight : wb, t};
        } else if (term->concept >= 0 && b->concept_weight[term->concept] > 0) {
            double wb = b->concept_weight[term->concept];
            ranks[n++] = (cq_termvec_rank_t){
                cq_text_concept_label(term->concept),
                CQ_TEXT_CONCEPT_SIM * (term->weight < wb ? term->weight : wb), t};
        }
    }
    size_t w = cq_termvec_rank_out(ranks, n, out, max);
    free(ranks);
    return w;
}

size_t cq_termvec_missing_terms(const cq_termvec_t *query, const cq_termvec_t *doc,
                                const char **out, size_t max)
{
    cq_termvec_rank_t *ranks = cq_malloc(query->nterms * sizeof(*ranks));
    size_t n = 0;
    for (size_t t = 0; t < query->nterms; t++)
        if (cq_termvec_match(doc, &query->terms[t]) == 0)
            ranks[n++] = (cq_termvec_rank_t){query->terms[t].surface, query->terms[t].weight, t};
    size_t w = cq_termvec_rank_out(ranks, n, out, max);
    free(ranks);
    return w;
}

size_t cq_termvec_top_terms(const cq_termvec_t *vec, const char **out, size_t max)
{
    cq_termvec_rank_t *ranks = cq_malloc(vec->nterms * sizeof(*ranks));
    for (size_t t = 0; t < vec->nterms; t++)
        ranks[t] = (cq_termvec_rank_t){vec->terms[t].surface, vec->terms[t].weight, t};
    size_t w = cq_termvec_rank_out(ranks, vec->nterms, out, max);
    free(ranks);
    return w;
}
