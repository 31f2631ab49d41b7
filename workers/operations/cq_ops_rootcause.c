/*
 * cq_ops_rootcause.c — built-in engine of root-cause-suggestions: root-cause
 * analyses built from the issue's own words, deterministically.
 *
 * Reading. The issue is cut into sentences (title, description, business
 * impact, affected areas). Every word is stemmed (cq_text) and looked up in
 * the fishbone lexicon of data/rootcause.json (People, Process, Equipment /
 * Technology, Materials, Environment, Measurement / Management); causal
 * clauses are the text after a cue such as "because" or "due to"; numbers in
 * a clause ("42 complaints", "30% of returns") are quantified causes.
 *
 * Methods, each kept only when the text supports it, ranked by confidence:
 *  - five whys (always): the chain starts at the title, answers are the
 *    causal clauses in text order, then (up to three whys at least, five at
 *    most) hypotheses from the most cited fishbone categories, marked "to
 *    verify". Each question quotes the previous answer. Confidence grows
 *    with the causal clauses the text gives.
 *  - fishbone (two categories or more): each category lists the sentences
 *    that name its terms; likely root causes are the most cited categories
 *    (a mention in a causal sentence counts double).
 *  - pareto (two quantified causes or more): shares of the total (or the
 *    stated percentages when all are percentages), largest first, the
 *    vital few up to 80 % cumulative.
 *  - SWOT (two distinct strategic words or more, e.g. market, competitor,
 *    growth): cq_ops_swot_build over the issue text.
 * At most three are returned. Same request, same answer.
 *
 * Reentrant: the data file is parsed and the lexicons built once
 * (cq_ops_text); texts are bounded by the request schema.
 */
#include "cq_ops_rootcause.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_ops_swot.h"
#include "cq_ops_text.h"
#include "cq_termvec.h"

#define CQ_RC_CATS_MAX    8
#define CQ_RC_TERMS_MAX   10
#define CQ_RC_CLAUSES_MAX 5
#define CQ_RC_FACTORS_MAX 20
#define CQ_RC_QUOTE       240 /* bytes of a quoted sentence */
#define CQ_RC_WHYS_MIN    3
#define CQ_RC_WHYS_MAX    5
#define CQ_RC_VITAL_SHARE 80.0
#define CQ_RC_LINK        0.4 /* share of an effect found in a cause to chain them */

typedef struct {
    char *text; /* NUL-terminated sentence, whitespace collapsed */
    bool causal;
    size_t hits; /* fishbone terms it names */
} cq_rc_sentence_t;

typedef struct {
    const char *name;
    const char *countermeasure;
    char *terms[CQ_RC_TERMS_MAX]; /* distinct surface forms, first seen first */
    size_t nterms;
    double weight;                           /* mentions, causal ones twice */
    bool in[CQ_OPS_ROOTCAUSE_SENTENCES_MAX]; /* sentences naming the category */
} cq_rc_cat_t;

typedef struct {
    char *cause;
    double value;
    bool percent;
    size_t order;
} cq_rc_factor_t;

typedef struct {
    const json_t *data;
    const char *title;
    cq_rc_sentence_t sent[CQ_OPS_ROOTCAUSE_SENTENCES_MAX];
    size_t nsent;
    cq_rc_cat_t cat[CQ_RC_CATS_MAX];
    size_t ncat;
    char *clause[CQ_RC_CLAUSES_MAX]; /* stated causes, text order */
    char *effect[CQ_RC_CLAUSES_MAX]; /* what each cause explains (before the cue) */
    size_t nclause;
    cq_rc_factor_t factor[CQ_RC_FACTORS_MAX];
    size_t nfactor;
    size_t strategic; /* distinct strategic words */
} cq_rc_t;

/* ---- reading -------------------------------------------------------------- */

static void cq_rc_add_sentences(cq_rc_t *rc, const char *text)
{
    cq_ops_sentence_t s[CQ_OPS_ROOTCAUSE_SENTENCES_MAX];
    if (!text)
        return;
    size_t n = cq_ops_text_sentences(text, s, CQ_OPS_ROOTCAUSE_SENTENCES_MAX - rc->nsent);
    for (size_t i = 0; i < n; i++)
        rc->sent[rc->nsent++].text = cq_ops_text_sentence_dup(&s[i], 1000);
}

/* The text after the sentence's first causal cue (a whole-word match), or
 * NULL; *effect_len receives the length of the text before the cue. */
static char *cq_rc_causal_clause(const json_t *cues, const char *sentence, size_t *effect_len)
{
    const char *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < json_array_size(cues); i++) {
        const char *cue = json_string_value(json_array_get(cues, i));
        size_t cl = cue ? strlen(cue) : 0;
        if (cl == 0)
            continue;
        for (const char *p = sentence; *p; p++) {
            if (strncasecmp(p, cue, cl) != 0)
                continue;
            bool start_ok = p == sentence || !isalnum((unsigned char)p[-1]);
            bool end_ok = !isalnum((unsigned char)p[cl]);
            if (start_ok && end_ok && (!best || p < best)) {
                best = p;
                best_len = cl;
            }
            if (start_ok && end_ok)
                break;
        }
    }
    if (!best)
        return NULL;
    *effect_len = (size_t)(best - sentence);
    const char *rest = best + best_len;
    while (*rest == ' ' || *rest == ',' || *rest == ':')
        rest++;
    size_t words = 0;
    for (const char *p = rest; *p; p++)
        if (isalnum((unsigned char)*p) && (p == rest || !isalnum((unsigned char)p[-1])))
            words++;
    return words >= 2 ? cq_ops_text_excerpt(rest, CQ_RC_QUOTE) : NULL;
}

typedef struct {
    cq_rc_t *rc;
    const json_t *fish, *strategic;
    json_t *seen_strategic;
    size_t sentence;
} cq_rc_tok_ctx_t;

static void cq_rc_token(const char *token, size_t len, void *ctx_)
{
    cq_rc_tok_ctx_t *ctx = ctx_;
    cq_rc_t *rc = ctx->rc;
    CQ_UNUSED(len);
    if (cq_text_is_stopword(token))
        return;
    if (cq_ops_text_lexicon_class(ctx->strategic, token) >= 0) {
        char stem[CQ_TEXT_TOKEN_MAX];
        cq_text_stem(token, stem, sizeof(stem));
        json_object_set_new(ctx->seen_strategic, stem, json_true());
    }
    int c = cq_ops_text_lexicon_class(ctx->fish, token);
    if (c < 0 || (size_t)c >= rc->ncat)
        return;
    cq_rc_cat_t *cat = &rc->cat[c];
    cat->weight += rc->sent[ctx->sentence].causal ? 2.0 : 1.0;
    rc->sent[ctx->sentence].hits++;
    cat->in[ctx->sentence] = true;
    for (size_t i = 0; i < cat->nterms; i++)
        if (strcmp(cat->terms[i], token) == 0)
            return;
    if (cat->nterms < CQ_RC_TERMS_MAX)
        cat->terms[cat->nterms++] = cq_strdup(token);
}

static bool cq_rc_skip_number(const json_t *skip, const char *after)
{
    char word[CQ_TEXT_TOKEN_MAX];
    size_t k = 0;
    while (*after == ' ')
        after++;
    for (; isalpha((unsigned char)after[k]) && k + 1 < sizeof(word); k++)
        word[k] = (char)tolower((unsigned char)after[k]);
    word[k] = '\0';
    for (size_t i = 0; i < json_array_size(skip); i++)
        if (strcmp(word, json_string_value(json_array_get(skip, i))) == 0)
            return true;
    return false;
}

/* Adds one quantified cause: text [start, end) with trailing "and"/"or" cut. */
static void cq_rc_add_factor(cq_rc_t *rc, const char *start, const char *end, double v,
                             bool percent)
{
    while (end > start && (end[-1] == ' ' || end[-1] == ','))
        end--;
    for (int again = 1; again;) {
        again = 0;
        static const char *const tails[] = {" and", " or", " while", " but"};
        for (size_t t = 0; t < CQ_ARRAY_SIZE(tails); t++) {
            size_t tl = strlen(tails[t]);
            if ((size_t)(end - start) > tl && strncasecmp(end - tl, tails[t], tl) == 0) {
                end -= tl;
                again = 1;
            }
        }
    }
    char *raw = cq_strndup(start, (size_t)(end - start));
    rc->factor[rc->nfactor] = (cq_rc_factor_t){
        .cause = cq_ops_text_excerpt(raw, CQ_RC_QUOTE),
        .value = v,
        .percent = percent,
        .order = rc->nfactor,
    };
    free(raw);
    rc->nfactor++;
}

/*
 * Quantified causes of a sentence. In each clause (split on , ; :) the
 * numbers that count things (not years, durations or parts of dates and
 * codes) are found; one number makes the whole clause its cause, several
 * split the clause from each number to the next ("25% are damaged parcels
 * and 15% are late deliveries" gives two causes).
 */
static void cq_rc_factors(cq_rc_t *rc, const char *sentence)
{
    const json_t *skip = json_object_get(rc->data, "paretoSkipWords");
    const char *clause = sentence;
    for (const char *p = sentence;; p++) {
        if (*p != '\0' && *p != ',' && *p != ';' && *p != ':')
            continue;
        const char *pos[CQ_RC_FACTORS_MAX];
        double val[CQ_RC_FACTORS_MAX];
        bool pct[CQ_RC_FACTORS_MAX];
        size_t n = 0;
        for (const char *q = clause; q < p && n < CQ_RC_FACTORS_MAX; q++) {
            if (!isdigit((unsigned char)*q) ||
                (q > clause && (isalnum((unsigned char)q[-1]) || q[-1] == '.' || q[-1] == '/')))
                continue;
            char *end = NULL;
            double v = strtod(q, &end);
            bool percent = *end == '%' || strncasecmp(end, " percent", 8) == 0;
            bool year = v >= 1900 && v <= 2100 && end - q == 4;
            if (v > 0 && !year && (percent || !cq_rc_skip_number(skip, end)) &&
                !isalpha((unsigned char)*end) && *end != '/' && *end != '-' &&
                !(end[0] == '.' && isdigit((unsigned char)end[1]))) {
                pos[n] = q;
                val[n] = v;
                pct[n++] = percent;
            }
            q = end > q ? end - 1 : q;
        }
        for (size_t i = 0; i < n && rc->nfactor < CQ_RC_FACTORS_MAX; i++)
            cq_rc_add_factor(rc, n == 1 ? clause : pos[i], i + 1 < n ? pos[i + 1] : p, val[i],
                             pct[i]);
        if (*p == '\0')
            break;
        clause = p + 1;
    }
}

/* The fishbone categories as lexicon classes, in data order. */
static json_t *cq_rc_fishbone_classes(void)
{
    const json_t *fish = json_object_get(cq_ops_text_data("rootcause.json"), "fishbone");
    if (!fish)
        return NULL;
    json_t *lex = json_object();
    for (size_t i = 0; i < json_array_size(fish) && i < CQ_RC_CATS_MAX; i++) {
        char key[8];
        snprintf(key, sizeof(key), "%02zu", i);
        json_object_set(lex, key, json_object_get(json_array_get(fish, i), "words"));
    }
    return lex;
}

static json_t *cq_rc_strategic(void)
{
    const json_t *words = json_object_get(cq_ops_text_data("rootcause.json"), "strategicWords");
    return words ? json_pack("{s:O}", "strategic", words) : NULL;
}

const json_t *cq_ops_rootcause_fishbone_stems(void)
{
    return cq_ops_text_lexicon("rootcause.fishbone", cq_rc_fishbone_classes);
}

static cq_err_t cq_rc_read(cq_rc_t *rc, const json_t *request, char *errstr, size_t errstr_size)
{
    rc->data = cq_ops_text_data("rootcause.json");
    if (!rc->data) {
        cq_errstr_set(errstr, errstr_size, "root-cause data file is missing or invalid");
        return CQ_ERR_INTERNAL_ERROR;
    }
    const json_t *fish = json_object_get(rc->data, "fishbone");
    const json_t *cues = json_object_get(rc->data, "causalCues");
    rc->title = json_string_value(json_object_get(request, "issueTitle"));
    if (!rc->title)
        rc->title = "";
    cq_rc_add_sentences(rc, rc->title);
    size_t desc_start = rc->nsent;
    cq_rc_add_sentences(rc, json_string_value(json_object_get(request, "issueDescription")));
    cq_rc_add_sentences(rc, json_string_value(json_object_get(request, "businessImpact")));
    size_t desc_end = rc->nsent;
    const json_t *areas = json_object_get(json_object_get(request, "context"), "affectedAreas");
    for (size_t i = 0; i < json_array_size(areas); i++)
        cq_rc_add_sentences(rc, json_string_value(json_array_get(areas, i)));

    for (size_t i = desc_start; i < desc_end; i++) {
        size_t effect_len = 0;
        char *clause = cq_rc_causal_clause(cues, rc->sent[i].text, &effect_len);
        if (clause) {
            rc->sent[i].causal = true;
            if (rc->nclause < CQ_RC_CLAUSES_MAX) {
                rc->effect[rc->nclause] = cq_strndup(rc->sent[i].text, effect_len);
                rc->clause[rc->nclause++] = clause;
            } else {
                free(clause);
            }
        }
        cq_rc_factors(rc, rc->sent[i].text);
    }

    for (size_t i = 0; i < json_array_size(fish) && rc->ncat < CQ_RC_CATS_MAX; i++) {
        const json_t *c = json_array_get(fish, i);
        rc->cat[rc->ncat].name = json_string_value(json_object_get(c, "name"));
        rc->cat[rc->ncat].countermeasure = json_string_value(json_object_get(c, "countermeasure"));
        rc->ncat++;
    }
    const json_t *fish_stems = cq_ops_rootcause_fishbone_stems();
    const json_t *strategic_stems = cq_ops_text_lexicon("rootcause.strategic", cq_rc_strategic);
    if (!fish_stems || !strategic_stems) {
        cq_errstr_set(errstr, errstr_size, "root-cause lexicons could not be built");
        return CQ_ERR_INTERNAL_ERROR;
    }
    cq_rc_tok_ctx_t ctx = {.rc = rc,
                           .fish = fish_stems,
                           .strategic = strategic_stems,
                           .seen_strategic = json_object()};
    for (size_t i = 0; i < rc->nsent; i++) {
        ctx.sentence = i;
        cq_text_tokenize(rc->sent[i].text, cq_rc_token, &ctx);
    }
    rc->strategic = json_object_size(ctx.seen_strategic);
    json_decref(ctx.seen_strategic);
    return CQ_ERR_OK;
}

static void cq_rc_free(cq_rc_t *rc)
{
    for (size_t i = 0; i < rc->nsent; i++)
        free(rc->sent[i].text);
    for (size_t i = 0; i < rc->ncat; i++)
        for (size_t k = 0; k < rc->cat[i].nterms; k++)
            free(rc->cat[i].terms[k]);
    for (size_t i = 0; i < rc->nclause; i++) {
        free(rc->clause[i]);
        free(rc->effect[i]);
    }
    for (size_t i = 0; i < rc->nfactor; i++)
        free(rc->factor[i].cause);
}

/* Category indexes by weight, heaviest first (ties: data order); returns how
 * many categories have any mention. */
static size_t cq_rc_ranked(const cq_rc_t *rc, size_t *order)
{
    size_t n = 0;
    for (size_t i = 0; i < rc->ncat; i++)
        if (rc->cat[i].nterms > 0)
            order[n++] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && rc->cat[order[k]].weight > rc->cat[order[k - 1]].weight; k--) {
            size_t t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    return n;
}

static const char *cq_rc_or(const char *s, const char *fallback)
{
    return s ? s : fallback;
}

static double cq_rc_round2(double x)
{
    return round(x * 100.0) / 100.0;
}

/* ---- methods ---------------------------------------------------------------- */

static json_t *cq_rc_method(const char *method, double confidence, json_t *suggestions,
                            const char *reasoning)
{
    return json_pack("{s:s, s:f, s:o, s:s}", "method", method, "confidence",
                     cq_rc_round2(confidence), "suggestions", suggestions, "reasoning", reasoning);
}

/*
 * The five-whys chain through the stated causes: it starts at the first
 * one, and a later cause joins when what it explains (the text before its
 * cue) is mostly found in the current answer ("the van breaks down on
 * Mondays" -> "The van breaks down because maintenance was skipped").
 * Writes clause indexes to chain; returns their count.
 */
static size_t cq_rc_chain(const cq_rc_t *rc, size_t *chain)
{
    bool used[CQ_RC_CLAUSES_MAX] = {false};
    size_t n = 0;
    if (rc->nclause == 0)
        return 0;
    chain[n++] = 0;
    used[0] = true;
    for (;;) {
        cq_termvec_t *cur = cq_termvec_new();
        cq_termvec_add_text(cur, rc->clause[chain[n - 1]], 1.0);
        size_t best = 0;
        double best_cov = CQ_RC_LINK;
        for (size_t i = 0; i < rc->nclause; i++) {
            if (used[i])
                continue;
            cq_termvec_t *eff = cq_termvec_new();
            cq_termvec_add_text(eff, rc->effect[i], 1.0);
            double cov = cq_termvec_total(eff) > 0 ? cq_termvec_coverage(eff, cur) : 0;
            cq_termvec_destroy(eff);
            if (cov >= best_cov) {
                best_cov = cov;
                best = i + 1;
            }
        }
        cq_termvec_destroy(cur);
        if (best == 0 || n == CQ_RC_WHYS_MAX - 1)
            break;
        chain[n++] = best - 1;
        used[best - 1] = true;
    }
    return n;
}

static json_t *cq_rc_five_whys(const cq_rc_t *rc, const json_t *request, double *confidence,
                               size_t *chained)
{
    const json_t *questions = json_object_get(rc->data, "whyQuestions");
    const json_t *hypotheses = json_object_get(rc->data, "whyHypotheses");
    size_t order[CQ_RC_CATS_MAX];
    size_t nranked = cq_rc_ranked(rc, order);
    char *answers[CQ_RC_WHYS_MAX], *next_q[CQ_RC_WHYS_MAX];
    size_t n = 0;

    size_t chain[CQ_RC_CLAUSES_MAX];
    size_t nchain = cq_rc_chain(rc, chain);
    *chained = nchain;
    for (size_t i = 0; i < nchain; i++) {
        next_q[n] = NULL;
        answers[n++] = cq_strdup(rc->clause[chain[i]]);
    }
    /* Without causal clauses: the description's sentences that name the
     * most fishbone terms (what goes wrong, in the words). */
    size_t observed = 0;
    for (size_t want = 8; nchain == 0 && want > 0 && observed < 2; want--)
        for (size_t i = 2; i < rc->nsent && observed < 2; i++)
            if (rc->sent[i].hits == want) {
                next_q[n] = NULL;
                answers[n++] = cq_ops_text_excerpt(rc->sent[i].text, CQ_RC_QUOTE);
                observed++;
            }
    size_t stated = n;
    /* Hypotheses: enough to reach CQ_RC_WHYS_MIN, and one step past what
     * the text states (who owns it, what check is missing). */
    for (size_t h = 0; n < CQ_RC_WHYS_MIN || (h == 0 && n < CQ_RC_WHYS_MAX); h++) {
        size_t t = nchain > 0 ? 1 + h % 2 : h % 3;
        const json_t *hyp = json_array_get(hypotheses, t);
        const cq_rc_cat_t *cat = nranked ? &rc->cat[order[h % nranked]] : NULL;
        const char *keys[] = {"category", "term"};
        char *name = cq_strdup(cat ? cat->name : "process");
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        char *term = cq_ops_text_excerpt(cat ? cat->terms[0] : rc->title, 80);
        const char *vals[] = {name, term};
        answers[n] = cq_ops_text_fill(
            cq_rc_or(json_string_value(json_object_get(hyp, "answer")), "{term}"), keys, vals, 2);
        next_q[n++] = cq_ops_text_fill(
            cq_rc_or(json_string_value(json_object_get(hyp, "next")), "Why is that?"), keys, vals,
            2);
        free(name);
        free(term);
        if (n >= CQ_RC_WHYS_MAX)
            break;
    }

    json_t *whys = json_array();
    char *prev = cq_ops_text_excerpt(rc->title, 200);
    for (size_t i = 0; i < n; i++) {
        char *q = NULL;
        if (i > 0 && next_q[i - 1]) {
            q = cq_strdup(next_q[i - 1]);
        } else {
            const char *tmpl = json_string_value(json_array_get(questions, i));
            const char *keys[] = {"x"};
            const char *vals[] = {prev};
            q = cq_ops_text_fill(tmpl ? tmpl : "Why {x}?", keys, vals, 1);
        }
        json_array_append_new(whys, json_pack("{s:s, s:s}", "question", q, "answer", answers[i]));
        free(q);
        free(prev);
        prev = cq_ops_text_excerpt(answers[i], 200);
        size_t len = strlen(prev);
        while (len > 0 && strchr(".!?;", prev[len - 1]))
            prev[--len] = '\0';
    }
    free(prev);

    const char *keys[] = {"answer"};
    const char *vals[] = {answers[nchain > 0 ? nchain - 1 : n - 1]};
    char *root = cq_ops_text_fill(
        cq_rc_or(json_string_value(json_object_get(rc->data, "rootCauseTemplate")), "{answer}"),
        keys, vals, 1);
    json_t *counter = json_array();
    for (size_t i = 0; i < nranked && i < 3; i++) {
        const cq_rc_cat_t *cat = &rc->cat[order[i]];
        const char *ck[] = {"term"};
        const char *cv[] = {cat->terms[0]};
        char *c =
            cq_ops_text_fill(cat->countermeasure ? cat->countermeasure : "Fix {term}.", ck, cv, 1);
        json_array_append_new(counter, json_string(c));
        free(c);
    }
    const json_t *related = json_object_get(json_object_get(request, "context"), "relatedActions");
    for (size_t i = 0; i < json_array_size(related) && json_array_size(counter) < 5; i++) {
        char *a = cq_ops_text_excerpt(json_string_value(json_array_get(related, i)), 200);
        char *c = cq_asprintf("Check whether the related action \u201c%s\u201d removes the root "
                              "cause, not only its symptoms.",
                              a);
        json_array_append_new(counter, json_string(c));
        free(c);
        free(a);
    }
    char *problem = NULL;
    if (rc->nsent > 1 && strcmp(rc->sent[0].text, rc->sent[1].text) != 0 &&
        strncmp(rc->sent[1].text, rc->title, strlen(rc->sent[0].text)) != 0)
        problem = cq_asprintf("%s: %s", rc->title, rc->sent[1].text);
    else
        problem = cq_strdup(rc->title);
    char *problem_cut = cq_ops_text_excerpt(problem, 600);
    json_t *out = json_pack("{s:s, s:o, s:s, s:o}", "problem", problem_cut, "whys", whys,
                            "rootCause", root, "countermeasures", counter);
    free(problem);
    free(problem_cut);
    free(root);
    for (size_t i = 0; i < n; i++) {
        free(answers[i]);
        free(next_q[i]);
    }
    /* Stated causes make the chain; observations and hypotheses do not. */
    *confidence = 0.35 + 0.12 * (double)(nchain < 3 ? nchain : 3) + (nranked > 0 ? 0.05 : 0) +
                  0.02 * (double)(stated - nchain);
    if (*confidence > 0.85)
        *confidence = 0.85;
    return out;
}

static json_t *cq_rc_fishbone(const cq_rc_t *rc, double *confidence)
{
    size_t order[CQ_RC_CATS_MAX];
    size_t nranked = cq_rc_ranked(rc, order);
    json_t *cats = json_array(), *likely = json_array();
    for (size_t c = 0; c < rc->ncat; c++) {
        const cq_rc_cat_t *cat = &rc->cat[c];
        if (cat->nterms == 0)
            continue;
        json_t *causes = json_array();
        for (size_t s = 0; s < rc->nsent && json_array_size(causes) < 4; s++) {
            if (!cat->in[s])
                continue;
            char *quote = cq_ops_text_excerpt(rc->sent[s].text, CQ_RC_QUOTE);
            json_array_append_new(causes, json_string(quote));
            free(quote);
        }
        cq_ops_buf_t b = {.len = 0};
        cq_ops_buf_printf(&b, "Terms named: ");
        cq_ops_buf_list(&b, (const char *const *)cat->terms, cat->nterms < 5 ? cat->nterms : 5,
                        ", ");
        json_array_append_new(causes, json_string(b.buf));
        json_array_append_new(cats, json_pack("{s:s, s:o}", "name", cat->name, "causes", causes));
    }
    for (size_t i = 0; i < nranked && i < 3; i++) {
        const cq_rc_cat_t *cat = &rc->cat[order[i]];
        cq_ops_buf_t b = {.len = 0};
        cq_ops_buf_printf(&b, "%s: ", cat->name);
        cq_ops_buf_list(&b, (const char *const *)cat->terms, cat->nterms < 3 ? cat->nterms : 3,
                        " and ");
        cq_ops_buf_printf(&b, " (weight %.0f%s)", cat->weight,
                          cat->weight > (double)cat->nterms ? ", named in cause statements" : "");
        json_array_append_new(likely, json_string(b.buf));
    }
    *confidence = 0.3 + 0.08 * (double)nranked;
    if (*confidence > 0.8)
        *confidence = 0.8;
    return json_pack("{s:s, s:o, s:o}", "problem", rc->title, "categories", cats,
                     "likelyRootCauses", likely);
}

static int cq_rc_cmp_factor(const void *x, const void *y)
{
    const cq_rc_factor_t *a = x, *b = y;
    if (a->value != b->value)
        return a->value > b->value ? -1 : 1;
    return a->order < b->order ? -1 : 1;
}

static json_t *cq_rc_pareto(cq_rc_t *rc, double *confidence)
{
    double total = 0;
    bool all_percent = true;
    for (size_t i = 0; i < rc->nfactor; i++) {
        total += rc->factor[i].value;
        all_percent = all_percent && rc->factor[i].percent;
    }
    bool stated = all_percent && total <= 100.0;
    qsort(rc->factor, rc->nfactor, sizeof(rc->factor[0]), cq_rc_cmp_factor);
    json_t *factors = json_array(), *vital = json_array();
    double cum = 0;
    for (size_t i = 0; i < rc->nfactor; i++) {
        double share = stated ? rc->factor[i].value : 100.0 * rc->factor[i].value / total;
        share = round(share * 10.0) / 10.0;
        bool before_vital = cum < CQ_RC_VITAL_SHARE;
        cum = fmin(100.0, round((cum + share) * 10.0) / 10.0);
        json_array_append_new(factors, json_pack("{s:s, s:f, s:f}", "cause", rc->factor[i].cause,
                                                 "impactPercent", share, "cumulativePercent", cum));
        if (before_vital && json_array_size(vital) < 10)
            json_array_append_new(vital, json_string(rc->factor[i].cause));
    }
    *confidence = fmin(0.85, 0.45 + 0.08 * (double)rc->nfactor);
    return json_pack("{s:o, s:o}", "factors", factors, "vitalFew", vital);
}

/* ---- entry point --------------------------------------------------------------- */

typedef struct {
    json_t *item;
    double confidence;
    int rank; /* tie order */
} cq_rc_choice_t;

static int cq_rc_cmp_choice(const void *x, const void *y)
{
    const cq_rc_choice_t *a = x, *b = y;
    if (a->confidence != b->confidence)
        return a->confidence > b->confidence ? -1 : 1;
    return a->rank - b->rank;
}

cq_err_t cq_ops_rootcause_compute(const json_t *request, int64_t now_ms, json_t **result,
                                  char *errstr, size_t errstr_size)
{
    cq_err_t err = CQ_ERR_OK;
    CQ_UNUSED(now_ms);
    *result = NULL;
    if (!json_is_object(request)) {
        cq_errstr_set(errstr, errstr_size, "root-cause-suggestions request is not a JSON object");
        return CQ_ERR_BAD_REQUEST;
    }
    cq_rc_t *rc = cq_calloc(1, sizeof(*rc));
    err = cq_rc_read(rc, request, errstr, errstr_size);
    if (err != CQ_ERR_OK)
        goto free_rc;
    if (rc->nsent == 0) {
        cq_errstr_set(errstr, errstr_size, "the issue has no usable words");
        err = CQ_ERR_INSUFFICIENT_CONTEXT;
        goto free_rc;
    }

    cq_rc_choice_t choice[4];
    size_t nchoice = 0;
    double conf = 0;
    size_t order[CQ_RC_CATS_MAX];
    size_t nranked = cq_rc_ranked(rc, order);
    cq_ops_buf_t why = {.len = 0};

    size_t chained = 0;
    json_t *fw = cq_rc_five_whys(rc, request, &conf, &chained);
    if (rc->nclause > 0)
        cq_ops_buf_printf(&why,
                          "The chain starts from the issue title and follows %zu of the %zu "
                          "cause statements the issue gives (after words such as "
                          "\u201cbecause\u201d), each explaining the one before; the root cause "
                          "is the deepest stated one%s",
                          chained, rc->nclause,
                          chained < rc->nclause ? " (the others are parallel causes, see the "
                                                  "fishbone)"
                                                : "");
    else
        cq_ops_buf_printf(&why, "The issue states no explicit cause (no \u201cbecause\u201d or "
                                "\u201cdue to\u201d), so the chain is built from its sentences");
    if (nranked > 0)
        cq_ops_buf_printf(&why,
                          "; further steps are hypotheses from the most cited category, %s, "
                          "to verify with the people involved.",
                          rc->cat[order[0]].name);
    else
        cq_ops_buf_printf(&why, "; further steps are generic hypotheses to verify.");
    choice[nchoice++] = (cq_rc_choice_t){cq_rc_method("five_whys", conf, fw, why.buf), conf, 0};

    if (nranked >= 2) {
        json_t *fb = cq_rc_fishbone(rc, &conf);
        cq_ops_buf_t b = {.len = 0};
        cq_ops_buf_printf(&b, "The issue's words fall into %zu of the %zu fishbone categories; ",
                          nranked, rc->ncat);
        cq_ops_buf_printf(&b, "%s is cited most (weight %.0f)", rc->cat[order[0]].name,
                          rc->cat[order[0]].weight);
        cq_ops_buf_printf(&b, ", %s next.", rc->cat[order[1]].name);
        choice[nchoice++] = (cq_rc_choice_t){cq_rc_method("fishbone", conf, fb, b.buf), conf, 1};
    }
    if (rc->nfactor >= 2) {
        size_t nf = rc->nfactor;
        json_t *pa = cq_rc_pareto(rc, &conf);
        cq_ops_buf_t b = {.len = 0};
        cq_ops_buf_printf(&b,
                          "The issue gives %zu quantified causes; they are ranked by their share "
                          "of the total and the few that make up %.0f%% of it are the vital few.",
                          nf, CQ_RC_VITAL_SHARE);
        choice[nchoice++] = (cq_rc_choice_t){cq_rc_method("pareto", conf, pa, b.buf), conf, 2};
    }
    if (rc->strategic >= 2) {
        cq_ops_buf_t text = {.len = 0};
        for (size_t i = 0; i < rc->nsent; i++)
            cq_ops_buf_printf(&text, "%s. ", rc->sent[i].text);
        size_t placed = 0;
        json_t *sw = cq_ops_swot_build(text.buf, &placed);
        if (sw && placed > 0) {
            conf = fmin(0.7, 0.3 + 0.05 * (double)placed);
            cq_ops_buf_t b = {.len = 0};
            cq_ops_buf_printf(&b,
                              "The issue is strategic (it names %zu market or strategy terms); "
                              "%zu of its sentences carry SWOT cue words and are placed by them.",
                              rc->strategic, placed);
            choice[nchoice++] = (cq_rc_choice_t){cq_rc_method("swot", conf, sw, b.buf), conf, 3};
        } else {
            json_decref(sw);
        }
    }
    qsort(choice, nchoice, sizeof(choice[0]), cq_rc_cmp_choice);
    *result = json_array();
    for (size_t i = 0; i < nchoice; i++) {
        if (i < 3 && choice[i].item)
            json_array_append_new(*result, choice[i].item);
        else
            json_decref(choice[i].item);
    }
    if (json_array_size(*result) == 0) {
        json_decref(*result);
        *result = NULL;
        cq_errstr_set(errstr, errstr_size, "could not build the root-cause result");
        err = CQ_ERR_INTERNAL_ERROR;
    }
free_rc:
    cq_rc_free(rc);
    free(rc);
    return err;
}
