/*
 * cq_align_terms.c — thin layer over cq_termvec for the alignment engines:
 * vectors from JSON arrays and the choice of a text's focus terms (the
 * words an answer names so that it is about this input).
 *
 * Threads: none of its own; reentrant.
 */
#include "cq_align_terms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_check.h"

cq_termvec_t *cq_align_terms_vec(const char *text)
{
    cq_termvec_t *vec = cq_termvec_new();
    if (text)
        cq_termvec_add_text(vec, text, 1.0);
    return vec;
}

size_t cq_align_terms_add_array(cq_termvec_t *vec, const json_t *arr, size_t max, double weight)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(arr) && i < max; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s) {
            cq_termvec_add_text(vec, s, weight);
            n++;
        }
    }
    return n;
}

size_t cq_align_terms_focus(const cq_termvec_t *vec, const char **out, size_t max)
{
    const char *top[32];
    size_t ntop = cq_termvec_top_terms(vec, top, CQ_ARRAY_SIZE(top)), n = 0;
    for (size_t i = 0; i < ntop && n < max; i++) {
        char stem[CQ_TEXT_TOKEN_MAX];
        cq_text_stem(top[i], stem, sizeof(stem));
        if (cq_text_term_weight(stem) >= 1.0 && !cq_align_check_is_opening_verb(stem))
            out[n++] = top[i];
    }
    if (n == 0)
        for (size_t i = 0; i < ntop && i < max; i++)
            out[n++] = top[i];
    return n;
}

static void cq_align_terms_first(const char *token, size_t len, void *ctx)
{
    char *first = ctx;
    if (!first[0])
        cq_strlcpy(first, token, CQ_TEXT_TOKEN_MAX);
}

size_t cq_align_terms_focus_text(const char *text, const cq_termvec_t *vec, const char **out,
                                 size_t max)
{
    const char *cand[8];
    size_t n = cq_align_terms_focus(vec, cand, CQ_ARRAY_SIZE(cand)), w = 0;
    char first[CQ_TEXT_TOKEN_MAX] = "";
    cq_text_tokenize(text, cq_align_terms_first, first);
    for (size_t i = 0; i < n && w < max; i++)
        if (n == 1 || strcmp(cand[i], first) != 0)
            out[w++] = cand[i];
    return w;
}

#define CQ_ALIGN_PHRASE_TOKENS 64

typedef struct {
    char token[CQ_ALIGN_PHRASE_TOKENS][CQ_TEXT_TOKEN_MAX];
    bool content[CQ_ALIGN_PHRASE_TOKENS];
    size_t n;
} cq_align_tokens_t;

static void cq_align_terms_collect(const char *token, size_t len, void *ctx)
{
    cq_align_tokens_t *t = ctx;
    if (t->n >= CQ_ALIGN_PHRASE_TOKENS)
        return;
    char stem[CQ_TEXT_TOKEN_MAX];
    cq_text_stem(token, stem, sizeof(stem));
    cq_strlcpy(t->token[t->n], token, CQ_TEXT_TOKEN_MAX);
    t->content[t->n] = !cq_text_is_stopword(token) && !cq_align_check_is_opening_verb(stem);
    t->n++;
}

void cq_align_terms_phrase(const char *text, const char *term, char *out, size_t out_size)
{
    cq_align_tokens_t *t = cq_calloc(1, sizeof(*t));
    out[0] = '\0';
    cq_text_tokenize(text, cq_align_terms_collect, t);
    size_t at = t->n;
    for (size_t i = 0; i < t->n && at == t->n; i++)
        if (term && strcmp(t->token[i], term) == 0)
            at = i;
    if (at < t->n) {
        size_t lo = at, hi = at;
        while (hi - lo < 2 &&
               ((lo > 1 && t->content[lo - 1]) || (hi + 1 < t->n && t->content[hi + 1]))) {
            if (lo > 1 && t->content[lo - 1])
                lo--;
            else
                hi++;
        }
        size_t len = 0;
        for (size_t i = lo; i <= hi; i++) {
            int n = snprintf(out + len, out_size - len, "%s%s", i == lo ? "" : " ", t->token[i]);
            if (n < 0 || (size_t)n >= out_size - len)
                break;
            len += (size_t)n;
        }
    }
    free(t);
}

void cq_align_terms_quote(const char *text, char *out, size_t out_size)
{
    cq_text_excerpt(text ? text : "", CQ_ALIGN_QUOTE_MAX, out, out_size);
}
