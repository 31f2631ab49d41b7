/*
 * cq_align_coaching.c — built-in engine of onboarding-coaching.
 *
 * How it decides. The user's text is the message plus the current draft.
 * Words that only say what the user wants ("help me write my vision",
 * data/coaching.json "ignore") are set aside; the heaviest remaining words
 * are the focus the answer quotes and the drafts are built on. Each
 * criterion of the topic (e.g. a vision looks ahead, is ambitious, says
 * whom it serves and its reach) is met when the text contains one of its
 * cue words (as stems and planning concepts, or as whole words, since some
 * cues are stopwords such as "every"), or names a year when the criterion
 * asks for time. For core values the values
 * themselves are split out of the draft (or the message): their count is
 * checked against three to five, and "sounds like this business" is met
 * when one of them is not a generic word (quality, excellence, ...).
 * The response: what the text centres on, the criteria met, the tips of
 * the first two unmet ones, and the question of the first unmet one (or
 * the topic's closing question). Suggestions: the user's own statement
 * (the draft, or the message's richest clause) with what the first two
 * unmet criteria ask for appended; a test for each named value
 * (up to four, rotating over the data's value tests) or else the topic's
 * drafts with the focus words and the business name, then the first tip
 * as a next step; five at most.
 *
 * Threads: none of its own; reentrant (the data is read-only).
 */
#include "cq_align_coaching.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cq_align_data.h"
#include "cq_align_prose.h"
#include "cq_align_terms.h"

#define CQ_ALIGN_COACH_MAX      5
#define CQ_ALIGN_COACH_VALUES   8
#define CQ_ALIGN_COACH_CRITERIA 8

size_t cq_align_coaching_split_values(const char *text, char (*out)[48], size_t max)
{
    size_t n = 0;
    const char *s = text ? text : "";
    while (*s && n < max) {
        size_t len = strcspn(s, ",;\n");
        const char *and = NULL;
        for (const char *p = s; p < s + len; p++)
            if (strncmp(p, " and ", 5) == 0 || strncmp(p, " & ", 3) == 0) {
                and = p;
                break;
            }
        size_t item = and? (size_t)(and-s) : len;
        const char *a = s, *b = s + item;
        while (a < b && (isspace((unsigned char)*a) || ispunct((unsigned char)*a)))
            a++;
        while (b > a && (isspace((unsigned char)b[-1]) || ispunct((unsigned char)b[-1])))
            b--;
        size_t words = b > a ? 1 : 0;
        for (const char *p = a; p < b; p++)
            words += *p == ' ';
        if (b > a && (size_t)(b - a) <= 40 && words <= 4) {
            memcpy(out[n], a, (size_t)(b - a));
            out[n][b - a] = '\0';
            n++;
        }
        if (and)
            s = and+(strncmp(and, " and ", 5) == 0 ? 5 : 3);
        else
            s += len + (s[len] ? 1 : 0);
    }
    return n;
}

typedef struct {
    cq_termvec_t *ignore;
    cq_align_prose_t out;
} cq_align_filter_t;

/* Copies tokens, writing ignored words as a stopword so phrases break. */
static void cq_align_coach_filter(const char *token, size_t len, void *ctx)
{
    cq_align_filter_t *f = ctx;
    bool ignored = cq_termvec_weight(f->ignore, token) > 0;
    cq_align_prose_printf(&f->out, "%s ", ignored ? "the" : token);
}

/* Whether word occurs in text as a whole word, ignoring ASCII case. */
static bool cq_align_coach_has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; n && *p; p++) {
        if (strncasecmp(p, word, n) == 0 && (p == text || !isalnum((unsigned char)p[-1])) &&
            !isalnum((unsigned char)p[n]))
            return true;
    }
    return false;
}

/* Whether text names a year of this century or the next (2000-2199). */
static bool cq_align_coach_has_year(const char *text)
{
    for (const char *p = text; *p; p++) {
        if ((p == text || !isalnum((unsigned char)p[-1])) && p[0] == '2' &&
            (p[1] == '0' || p[1] == '1') && isdigit((unsigned char)p[2]) &&
            isdigit((unsigned char)p[3]) && !isalnum((unsigned char)p[4]))
            return true;
    }
    return false;
}

/*
 * Whether the text meets a criterion: one of its cue words is there, as a
 * stem or planning concept of vec or as a whole word of text (cues may be
 * stopwords such as "every" or "will", which term vectors drop), or, for a
 * criterion with "year": true, a year is named.
 */
static bool cq_align_coach_cued(const cq_termvec_t *vec, const char *text, const json_t *criterion)
{
    if (json_is_true(json_object_get(criterion, "year")) && cq_align_coach_has_year(text))
        return true;
    const char *cues = cq_align_data_str(criterion, "cues");
    cq_termvec_t *cue = cq_align_terms_vec(cues);
    const cq_termvec_t *docs[] = {vec};
    const double weights[] = {1.0};
    double matched = 0;
    cq_termvec_coverage_multi(cue, docs, weights, 1, &matched);
    cq_termvec_destroy(cue);
    if (matched > 0)
        return true;
    char word[CQ_TEXT_TOKEN_MAX];
    for (const char *p = cues; *p;) {
        size_t n = strcspn(p, " ");
        if (n > 0 && n < sizeof(word)) {
            memcpy(word, p, n);
            word[n] = '\0';
            if (cq_align_coach_has_word(text, word))
                return true;
        }
        p += n + (p[n] ? 1 : 0);
    }
    return false;
}

/*
 * The user's own statement: the current draft, or else the clause of the
 * message (split at . ! ? : ; and new lines) with the most content words,
 * i.e. words that are neither stopwords nor in ignore. Trimmed, without its
 * final punctuation; "" when no clause has two content words.
 */
static void cq_align_coach_statement(const char *message, const char *draft,
                                     const cq_termvec_t *ignore, char *out, size_t out_size)
{
    out[0] = '\0';
    if (draft[0]) {
        cq_align_terms_quote(draft, out, out_size);
    } else {
        size_t best = 1;
        for (const char *p = message; *p;) {
            size_t n = strcspn(p, ".!?:;\n");
            char clause[CQ_ALIGN_QUOTE_MAX + 8];
            char *copy = cq_strndup(p, n);
            cq_align_terms_quote(copy, clause, sizeof(clause));
            cq_termvec_t *vec = cq_align_terms_vec(copy);
            size_t content = 0;
            const char *top[16];
            size_t ntop = cq_termvec_top_terms(vec, top, CQ_ARRAY_SIZE(top));
            for (size_t i = 0; i < ntop; i++)
                content += cq_termvec_weight(ignore, top[i]) == 0;
            cq_termvec_destroy(vec);
            free(copy);
            if (content > best) {
                best = content;
                cq_strlcpy(out, clause, out_size);
            }
            p += n + (p[n] ? 1 : 0);
        }
    }
    size_t len = strlen(out);
    while (len > 0 && (ispunct((unsigned char)out[len - 1]) || out[len - 1] == ' '))
        out[--len] = '\0';
    if (out[0] >= 'a' && out[0] <= 'z')
        out[0] = (char)toupper((unsigned char)out[0]);
}

static void cq_align_coach_add(json_t *arr, const char *tmpl, const cq_align_var_t *vars,
                               size_t nvars)
{
    if (json_array_size(arr) >= CQ_ALIGN_COACH_MAX || !tmpl[0] ||
        !cq_align_prose_fillable(tmpl, vars, nvars))
        return;
    cq_align_prose_t p = {.buf = NULL};
    cq_align_prose_fill(&p, tmpl, vars, nvars);
    if (p.buf && p.buf[0] >= 'a' && p.buf[0] <= 'z')
        p.buf[0] = (char)toupper((unsigned char)p.buf[0]);
    json_array_append_new(arr, cq_align_prose_take(&p, 1000));
}

cq_err_t cq_align_coaching_compute(const json_t *request, int64_t now_ms, json_t **result,
                                   char *errstr, size_t errstr_size)
{
    CQ_UNUSED(now_ms);
    *result = NULL;
    const json_t *data = cq_align_data("coaching");
    if (!data) {
        cq_errstr_set(errstr, errstr_size, "coaching data is missing");
        return CQ_ERR_INTERNAL_ERROR;
    }
    const char *topic_name = cq_align_data_str(request, "topic");
    const json_t *topic = json_object_get(json_object_get(data, "topics"), topic_name);
    if (!topic) {
        cq_errstr_set(errstr, errstr_size, "unknown coaching topic \"%s\"", topic_name);
        return CQ_ERR_VALIDATION_ERROR;
    }
    bool values_topic = strcmp(topic_name, "coreValues") == 0;
    const json_t *ctx = json_object_get(request, "context");
    const json_t *defaults = json_object_get(data, "defaults");
    const json_t *answer = json_object_get(data, "answer");
    const char *message = cq_align_data_str(request, "message");
    const char *draft = cq_align_data_str(ctx, "currentDraft");

    /* The user's words, without those that only say what they want. */
    cq_align_filter_t filter = {.ignore = cq_align_terms_vec(cq_align_data_str(data, "ignore"))};
    cq_text_tokenize(message, cq_align_coach_filter, &filter);
    cq_align_prose_printf(&filter.out, ". ");
    cq_text_tokenize(draft, cq_align_coach_filter, &filter);
    cq_termvec_t *words = cq_align_terms_vec(filter.out.buf);
    const char *focus_terms[3];
    size_t nfocus = cq_termvec_total(words) > 0 ? cq_align_terms_focus(words, focus_terms, 3) : 0;
    char phrase[CQ_ALIGN_PHRASE_MAX] = "", phrase2[CQ_ALIGN_PHRASE_MAX] = "";
    if (nfocus > 0)
        cq_align_terms_phrase(filter.out.buf, focus_terms[0], phrase, sizeof(phrase));
    if (nfocus > 1)
        cq_align_terms_phrase(filter.out.buf, focus_terms[1], phrase2, sizeof(phrase2));
    if (phrase2[0] && strstr(phrase, phrase2))
        cq_strlcpy(phrase2, nfocus > 2 ? focus_terms[2] : "", sizeof(phrase2));
    cq_termvec_t *all = cq_align_terms_vec(message);
    cq_termvec_add_text(all, draft, 1.0);
    cq_align_prose_t raw = {.buf = NULL};
    cq_align_prose_printf(&raw, "%s\n%s", message, draft);

    char name[CQ_ALIGN_QUOTE_MAX + 8], industry[CQ_ALIGN_QUOTE_MAX + 8];
    cq_align_terms_quote(json_object_get(ctx, "businessName")
                             ? cq_align_data_str(ctx, "businessName")
                             : cq_align_data_str(defaults, "name"),
                         name, sizeof(name));
    cq_align_terms_quote(cq_align_data_str(ctx, "industry"), industry, sizeof(industry));
    const char *focus = phrase[0] ? phrase : cq_align_data_str(defaults, "focus");
    /* drafts that need a second focus are skipped without one */
    const char *focus2 = phrase2;

    /* Core values named in the draft, or else in the message. */
    char values[CQ_ALIGN_COACH_VALUES][48];
    size_t nvalues = 0;
    bool own = false;
    if (values_topic) {
        nvalues = cq_align_coaching_split_values(draft[0] ? draft : message, values,
                                                 CQ_ALIGN_COACH_VALUES);
        /* a long sentence is not a list of values */
        if (nvalues == 1 && !draft[0])
            nvalues = 0;
        cq_termvec_t *generic = cq_align_terms_vec(cq_align_data_str(topic, "generic"));
        for (size_t i = 0; i < nvalues && !own; i++) {
            cq_termvec_t *v = cq_align_terms_vec(values[i]);
            /* only an exact generic word counts: related words (craft for
             * quality) are the team's own choice */
            own = cq_termvec_total(v) > 0 && cq_termvec_coverage(v, generic) < 0.7;
            cq_termvec_destroy(v);
        }
        cq_termvec_destroy(generic);
    }

    cq_align_prose_t industry_part = {.buf = NULL}, terms = {.buf = NULL};
    if (industry[0]) {
        const cq_align_var_t iv[] = {{"industry_text", industry}};
        cq_align_prose_fill(&industry_part, cq_align_data_str(answer, "industry"), iv, 1);
    }
    cq_align_prose_list(&terms, focus_terms, nfocus, " and ");
    const cq_align_var_t base[] = {
        {"name", name},
        {"industry", industry_part.buf},
        {"topic", cq_align_data_str(topic, "label")},
        {"terms", terms.buf},
        {"focus", focus},
        {"focus2", focus2},
    };
    const size_t nbase = CQ_ARRAY_SIZE(base);

    /* Criteria. */
    const json_t *met[CQ_ALIGN_COACH_CRITERIA], *unmet[CQ_ALIGN_COACH_CRITERIA];
    size_t nmet = 0, nunmet = 0;
    const json_t *c;
    size_t i;
    json_array_foreach(json_object_get(topic, "criteria"), i, c)
    {
        if (i >= CQ_ALIGN_COACH_CRITERIA)
            break;
        bool ok = values_topic && strcmp(cq_align_data_str(c, "id"), "own") == 0 && nvalues
                      ? own
                      : cq_align_coach_cued(all, raw.buf, c);
        if (ok)
            met[nmet++] = c;
        else
            unmet[nunmet++] = c;
    }

    cq_align_prose_t p = {.buf = NULL};
    cq_align_prose_fill(&p, cq_align_data_str(answer, nfocus ? "opening" : "opening_blank"), base,
                        nbase);
    if (draft[0]) {
        char quote[CQ_ALIGN_QUOTE_MAX + 8], quoted[CQ_ALIGN_QUOTE_MAX + 16];
        cq_align_terms_quote(draft, quote, sizeof(quote));
        snprintf(quoted, sizeof(quoted), "\u201c%s\u201d", quote);
        const cq_align_var_t dv[] = {{"draft", quoted}};
        cq_align_prose_fill(&p, cq_align_data_str(answer, "draft"), dv, 1);
    }
    cq_align_prose_t met_list = {.buf = NULL}, tips = {.buf = NULL};
    for (size_t k = 0; k < nmet; k++) {
        cq_align_prose_printf(&met_list, "%s", k == 0 ? "" : k + 1 == nmet ? " and " : ", ");
        cq_align_prose_fill(&met_list, cq_align_data_str(met[k], "label"), base, nbase);
    }
    for (size_t k = 0; k < nunmet && k < 2; k++) {
        cq_align_prose_printf(&tips, "%s", k ? " Also " : "");
        cq_align_prose_fill(&tips, cq_align_data_str(unmet[k], "tip"), base, nbase);
    }
    const cq_align_var_t lists[] = {
        {"met", met_list.buf}, {"tips", tips.buf}, {"topic", cq_align_data_str(topic, "label")}};
    if (nmet && nunmet)
        cq_align_prose_fill(&p, cq_align_data_str(answer, "strengths"), lists, 3);
    if (nunmet)
        cq_align_prose_fill(&p, cq_align_data_str(answer, "gaps"), lists, 3);
    else
        cq_align_prose_fill(&p, cq_align_data_str(answer, "complete"), lists, 3);
    if (values_topic && nvalues) {
        long min = (long)json_integer_value(json_object_get(topic, "min"));
        long max = (long)json_integer_value(json_object_get(topic, "max"));
        char count[16];
        snprintf(count, sizeof(count), "%zu", nvalues);
        const char *advice = (long)nvalues < min   ? "too_few"
                             : (long)nvalues > max ? "too_many"
                                                   : "good_count";
        const cq_align_var_t cv[] = {{"count", count},
                                     {"count_advice", cq_align_data_str(answer, advice)}};
        cq_align_prose_fill(&p, cq_align_data_str(answer, "values_count"), cv, 2);
    }
    cq_align_prose_t question = {.buf = NULL};
    cq_align_prose_fill(&question,
                        nunmet ? cq_align_data_str(unmet[0], "question")
                               : cq_align_data_str(topic, "closing"),
                        base, nbase);
    const cq_align_var_t qv[] = {{"question", question.buf}};
    cq_align_prose_fill(&p, cq_align_data_str(answer, "question"), qv, 1);

    /* Suggestions: value tests, drafts, the next step. */
    json_t *suggestions = json_array();
    char statement[CQ_ALIGN_QUOTE_MAX + 8];
    cq_align_coach_statement(message, draft, filter.ignore, statement, sizeof(statement));
    const char *revise = cq_align_data_str(topic, "revise");
    if (statement[0] && revise[0] && nunmet) {
        cq_align_prose_t revised = {.buf = NULL};
        cq_align_prose_printf(&revised, "%s", statement);
        for (size_t k = 0; k < nunmet && k < 2; k++)
            cq_align_prose_printf(&revised, "%s", cq_align_data_str(unmet[k], "append"));
        cq_align_prose_printf(&revised, ".");
        const cq_align_var_t rv[] = {{"revised", revised.buf}};
        cq_align_coach_add(suggestions, revise, rv, 1);
        cq_align_prose_clear(&revised);
    }
    const json_t *tests = json_object_get(topic, "value_drafts");
    for (size_t k = 0; k < nvalues && k < 4 && json_array_size(tests) > 0; k++) {
        const cq_align_var_t vv[] = {{"value", values[k]}, {"name", name}};
        cq_align_coach_add(suggestions,
                           json_string_value(json_array_get(tests, k % json_array_size(tests))), vv,
                           2);
    }
    /* drafts of the topic, unless the user's own values are being worked on */
    const json_t *d;
    json_array_foreach(json_object_get(topic, "drafts"), i, d)
    {
        if (nvalues || json_array_size(suggestions) + (nunmet ? 1 : 0) >= CQ_ALIGN_COACH_MAX)
            break;
        cq_align_coach_add(suggestions, json_string_value(d), base, nbase);
    }
    if (nunmet)
        cq_align_coach_add(suggestions, cq_align_data_str(unmet[0], "tip"), base, nbase);

    *result = json_pack("{s:o, s:o}", "response", cq_align_prose_take(&p, 6000), "suggestions",
                        suggestions);
    cq_align_prose_clear(&question);
    cq_align_prose_clear(&met_list);
    cq_align_prose_clear(&tips);
    cq_align_prose_clear(&industry_part);
    cq_align_prose_clear(&terms);
    cq_termvec_destroy(all);
    cq_align_prose_clear(&raw);
    cq_termvec_destroy(words);
    cq_termvec_destroy(filter.ignore);
    cq_align_prose_clear(&filter.out);
    if (!*result) {
        cq_errstr_set(errstr, errstr_size, "could not build the onboarding-coaching result");
        return CQ_ERR_INTERNAL_ERROR;
    }
    return CQ_ERR_OK;
}
