/*
 * cq_ops_swot.c — a SWOT of a text, sentence by sentence, for the
 * root-cause engine (strategic issues) and the deprecated operations
 * analysis.
 *
 * Each sentence goes to the quadrant whose cue words (stems of the lists in
 * data/swot.json) it carries most; ties go to weaknesses, then threats,
 * strengths, opportunities, because the texts are mostly problem
 * statements; a negated strength ("our staff is not experienced") is a
 * weakness; a sentence without cue words is not placed. At most ten
 * sentences per quadrant, in text order.
 *
 * Reentrant: the data file is parsed and the lexicon built once
 * (cq_ops_text_data, cq_ops_text_lexicon).
 */
#include "cq_ops_swot.h"

#include <stdlib.h>
#include <string.h>

#include "cq_ops_text.h"
#include "cq_text.h"

typedef struct {
    const json_t *stems;
    int hits[4];
    bool negated;
} cq_swot_ctx_t;

static void cq_swot_token(const char *token, size_t len, void *ctx_)
{
    cq_swot_ctx_t *ctx = ctx_;
    CQ_UNUSED(len);
    if (strcmp(token, "not") == 0 || strcmp(token, "no") == 0 || strcmp(token, "never") == 0 ||
        strcmp(token, "dont") == 0 || strcmp(token, "cannot") == 0)
        ctx->negated = true;
    int c = cq_ops_text_lexicon_class(ctx->stems, token);
    if (c >= 0 && c < 4)
        ctx->hits[c]++;
}

static const char *const cq_swot_names[] = {"strengths", "weaknesses", "opportunities", "threats"};

/* The quadrants as lexicon classes, in cq_swot_names order. */
static json_t *cq_swot_classes(void)
{
    const json_t *quadrants = json_object_get(cq_ops_text_data("swot.json"), "quadrants");
    if (!quadrants)
        return NULL;
    json_t *lex = json_object();
    for (size_t q = 0; q < 4; q++)
        json_object_set(lex, cq_swot_names[q], json_object_get(quadrants, cq_swot_names[q]));
    return lex;
}

json_t *cq_ops_swot_build(const char *text, size_t *placed)
{
    const char *const *names = cq_swot_names;
    /* Ties go to the problem side first: an issue text is read for risks. */
    static const int tie_order[] = {1, 3, 0, 2};
    const json_t *stems = cq_ops_text_lexicon("swot.quadrants", cq_swot_classes);
    if (!stems)
        return NULL;

    json_t *out = json_object();
    for (size_t q = 0; q < 4; q++)
        json_object_set_new(out, names[q], json_array());
    cq_ops_sentence_t s[CQ_OPS_SWOT_SENTENCES_MAX];
    size_t n = cq_ops_text_sentences(text, s, CQ_OPS_SWOT_SENTENCES_MAX), count = 0;
    for (size_t i = 0; i < n; i++) {
        char *sentence = cq_ops_text_sentence_dup(&s[i], 400);
        cq_swot_ctx_t ctx = {.stems = stems};
        cq_text_tokenize(sentence, cq_swot_token, &ctx);
        int best = -1;
        for (size_t k = 0; k < 4; k++) {
            int q = tie_order[k];
            if (ctx.hits[q] > 0 && (best < 0 || ctx.hits[q] > ctx.hits[best]))
                best = q;
        }
        /* "Our staff is not experienced": a negated strength is a weakness. */
        if (best == 0 && ctx.negated)
            best = 1;
        json_t *arr = best >= 0 ? json_object_get(out, names[best]) : NULL;
        if (arr && json_array_size(arr) < 10) {
            json_array_append_new(arr, json_string(sentence));
            count++;
        }
        free(sentence);
    }
    if (placed)
        *placed = count;
    return out;
}
