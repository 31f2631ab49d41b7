/*
 * test_cq_text.c — tokenizer, stopwords, Porter2 stemmer, concepts, filler
 * weights and excerpts of cq_text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_text.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    char joined[4096];
    size_t n;
} tokens_t;

static void collect(const char *token, size_t len, void *ctx)
{
    tokens_t *t = ctx;
    assert_int_equal(strlen(token), len);
    size_t used = strlen(t->joined);
    snprintf(t->joined + used, sizeof(t->joined) - used, "%s%s", t->n ? "|" : "", token);
    t->n++;
}

static void count_only(const char *token, size_t len, void *ctx)
{
    (void)token;
    (void)len;
    ((tokens_t *)ctx)->n++;
}

/* Tokens of text joined with '|'. */
static const char *tokens_of(const char *text, tokens_t *t)
{
    memset(t, 0, sizeof(*t));
    size_t n = cq_text_tokenize(text, collect, t);
    assert_int_equal(n, t->n);
    return t->joined;
}

/* ---- tokenizer ---------------------------------------------------------- */

static void test_text_tokenize_ascii(void **state)
{
    (void)state;
    tokens_t t;
    assert_string_equal(tokens_of("Hello, WORLD! It's 2024: the customer's Q3-goals_x", &t),
                        "hello|world|it|the|customer|q3|goals");
    /* single ASCII letters and digit-only tokens are dropped; "don't" stays one word */
    assert_string_equal(tokens_of("a b 42 3.5 don't stop", &t), "dont|stop");
    assert_string_equal(tokens_of("", &t), "");
    assert_int_equal(cq_text_tokenize(NULL, collect, &t), 0);
}

static void test_text_tokenize_utf8(void **state)
{
    (void)state;
    tokens_t t;
    /* non-ASCII letters stay inside words; Latin-1, Greek, Cyrillic capitals are lowered */
    assert_string_equal(tokens_of("Café CRÈME \xE2\x80\x94 naïve ÉQUIPE ПРИВЕТ ΑΒΓ", &t),
                        "café|crème|naïve|équipe|привет|αβγ");
    /* typographic apostrophe, quotes, emoji and ideographs */
    assert_string_equal(tokens_of("don\xE2\x80\x99t \xE2\x80\x9Cgo\xE2\x80\x9D "
                                  "\xF0\x9F\x98\x80smile \xE6\x9D\xB1\xE4\xBA\xAC",
                                  &t),
                        "dont|go|smile|\xE6\x9D\xB1|\xE4\xBA\xAC");
    /* invalid and truncated UTF-8 separate words instead of corrupting them */
    assert_string_equal(tokens_of("ab\xFF"
                                  "cd ef\xC3(gh \xED\xA0\x80zz ij\xC3",
                                  &t),
                        "ab|cd|ef|gh|zz|ij");
}

static void test_text_tokenize_long_token_skipped(void **state)
{
    (void)state;
    char text[256];
    memset(text, 'x', 200);
    strcpy(text + 200, " short");
    tokens_t t;
    assert_string_equal(tokens_of(text, &t), "short");
}

/* ---- stopwords ------------------------------------------------------------ */

static void test_text_stopwords(void **state)
{
    (void)state;
    const char *stop[] = {"the", "our", "and", "will", "a", "yourselves", "dont", "about"};
    const char *kept[] = {"customer", "bakery", "growth", "vision", "new", "community"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(stop); i++)
        assert_true(cq_text_is_stopword(stop[i]));
    for (size_t i = 0; i < CQ_ARRAY_SIZE(kept); i++)
        assert_false(cq_text_is_stopword(kept[i]));
}

/* ---- stemmer -------------------------------------------------------------- */

static void test_text_stem_porter2_pairs(void **state)
{
    (void)state;
    /* Examples from Porter's 1980 paper as Porter2 stems them (it keeps
     * "formative", "communism" and "generalization" apart from "form",
     * "commun" and "gener", where Porter joined them), then the
     * exceptional forms Porter2 adds: the special prefixes, -ly, -ies, -ing
     * after short stems, and the invariant words. */
    static const char *const pairs[][2] = {
        {"caresses", "caress"},
        {"ponies", "poni"},
        {"ties", "tie"},
        {"caress", "caress"},
        {"cats", "cat"},
        {"feed", "feed"},
        {"agreed", "agre"},
        {"plastered", "plaster"},
        {"bled", "bled"},
        {"motoring", "motor"},
        {"sing", "sing"},
        {"conflated", "conflat"},
        {"troubled", "troubl"},
        {"sized", "size"},
        {"hopping", "hop"},
        {"tanned", "tan"},
        {"falling", "fall"},
        {"hissing", "hiss"},
        {"fizzed", "fizz"},
        {"failing", "fail"},
        {"filing", "file"},
        {"happy", "happi"},
        {"sky", "sky"},
        {"relational", "relat"},
        {"conditional", "condit"},
        {"rational", "ration"},
        {"valenci", "valenc"},
        {"hesitanci", "hesit"},
        {"digitizer", "digit"},
        {"conformabli", "conform"},
        {"radicalli", "radic"},
        {"differentli", "differ"},
        {"vileli", "vile"},
        {"analogousli", "analog"},
        {"vietnamization", "vietnam"},
        {"predication", "predic"},
        {"operator", "oper"},
        {"feudalism", "feudal"},
        {"decisiveness", "decis"},
        {"hopefulness", "hope"},
        {"callousness", "callous"},
        {"formaliti", "formal"},
        {"sensitiviti", "sensit"},
        {"sensibiliti", "sensibl"},
        {"triplicate", "triplic"},
        {"formative", "format"},
        {"formalize", "formal"},
        {"electriciti", "electr"},
        {"electrical", "electr"},
        {"hopeful", "hope"},
        {"goodness", "good"},
        {"revival", "reviv"},
        {"allowance", "allow"},
        {"inference", "infer"},
        {"airliner", "airlin"},
        {"gyroscopic", "gyroscop"},
        {"adjustable", "adjust"},
        {"defensible", "defens"},
        {"irritant", "irrit"},
        {"replacement", "replac"},
        {"adjustment", "adjust"},
        {"dependent", "depend"},
        {"adoption", "adopt"},
        {"homologou", "homologou"},
        {"communism", "communism"},
        {"activate", "activ"},
        {"angulariti", "angular"},
        {"homologous", "homolog"},
        {"effective", "effect"},
        {"bowdlerize", "bowdler"},
        {"probate", "probat"},
        {"rate", "rate"},
        {"cease", "ceas"},
        {"controll", "control"},
        {"roll", "roll"},
        {"generalization", "general"},
        {"oscillators", "oscil"},
        {"customers", "custom"},
        {"sustainability", "sustain"},
        {"generalizations", "general"},
        {"generously", "generous"},
        {"communication", "communic"},
        {"dying", "die"},
        {"lying", "lie"},
        {"skies", "sky"},
        {"skis", "ski"},
        {"news", "news"},
        {"idly", "idl"},
        {"gently", "gentl"},
        {"early", "earli"},
        {"singly", "singl"},
        {"monthly", "month"},
        {"knightly", "knight"},
        {"proceed", "proceed"},
        {"exceeding", "exceed"},
        {"succeeded", "succeed"},
        {"herring", "herring"},
        {"inning", "inning"},
        {"cosmos", "cosmos"},
        {"bias", "bias"},
        {"atlas", "atlas"},
        {"consignment", "consign"},
    };
    char out[CQ_TEXT_TOKEN_MAX];
    for (size_t i = 0; i < CQ_ARRAY_SIZE(pairs); i++) {
        cq_text_stem(pairs[i][0], out, sizeof(out));
        if (strcmp(out, pairs[i][1]) != 0)
            fail_msg("stem(%s) = %s, want %s", pairs[i][0], out, pairs[i][1]);
    }
}

static void test_text_stem_leaves_other_words(void **state)
{
    (void)state;
    char out[CQ_TEXT_TOKEN_MAX];
    cq_text_stem("café", out, sizeof(out)); /* non-ASCII: unchanged */
    assert_string_equal(out, "café");
    cq_text_stem("q3s", out, sizeof(out)); /* digits: unchanged */
    assert_string_equal(out, "q3s");
    cq_text_stem("is", out, sizeof(out)); /* two letters: unchanged */
    assert_string_equal(out, "is");
    cq_text_stem("generalization", out, 4); /* truncated, still terminated */
    assert_string_equal(out, "gen");
    cq_text_stem(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

/* ---- concepts and weights ----------------------------------------------- */

static void test_text_concepts(void **state)
{
    (void)state;
    char a[CQ_TEXT_TOKEN_MAX], b[CQ_TEXT_TOKEN_MAX];
    cq_text_stem("clients", a, sizeof(a));
    cq_text_stem("customer", b, sizeof(b));
    assert_non_null(cq_text_concept(a));
    assert_string_equal(cq_text_concept(a), cq_text_concept(b));
    assert_string_equal(cq_text_concept(b), "customers");
    cq_text_stem("scaling", a, sizeof(a));
    assert_string_equal(cq_text_concept(a), "growth");
    cq_text_stem("postgresql", a, sizeof(a));
    assert_null(cq_text_concept(a));

    assert_int_equal(cq_text_concept_id(a), -1);
    assert_null(cq_text_concept_label(-1));
    assert_null(cq_text_concept_label(CQ_TEXT_CONCEPTS_MAX));

    /* planning filler weighs less, in every inflection */
    cq_text_stem("improvements", a, sizeof(a));
    assert_true(cq_text_term_weight(a) < 0.5);
    cq_text_stem("monthly", a, sizeof(a));
    assert_true(cq_text_term_weight(a) < 0.5);
    cq_text_stem("revenue", a, sizeof(a));
    assert_true(cq_text_term_weight(a) == 1.0);
}

/* ---- term vectors ----------------------------------------------------------- */

static void test_text_tokenize_long_input_bounded(void **state)
{
    (void)state;
    /* 100 KB of words: only the first CQ_TEXT_INPUT_MAX bytes are read */
    size_t size = 100 * 1024;
    char *text = malloc(size + 1);
    assert_non_null(text);
    for (size_t i = 0; i < size; i += 4)
        memcpy(text + i, "abc ", 4);
    text[size] = '\0';
    tokens_t t;
    memset(&t, 0, sizeof(t));
    size_t n = cq_text_tokenize(text, count_only, &t);
    assert_int_equal(n, CQ_TEXT_INPUT_MAX / 4);
    /* one 100 KB "word" and 100 KB of separators give nothing */
    memset(text, 'q', size);
    assert_int_equal(cq_text_tokenize(text, count_only, &t), 0);
    memset(text, '-', size);
    assert_int_equal(cq_text_tokenize(text, count_only, &t), 0);
    free(text);
}

static void test_text_excerpt(void **state)
{
    (void)state;
    char out[64];
    cq_text_excerpt("  Quality\n\tfirst,   always  ", 40, out, sizeof(out));
    assert_string_equal(out, "Quality first, always");
    cq_text_excerpt("Bring people together over honest food", 20, out, sizeof(out));
    assert_string_equal(out, "Bring people togethe\xE2\x80\xA6");
    /* never cuts a UTF-8 character */
    cq_text_excerpt("ééééé", 5, out, sizeof(out));
    assert_string_equal(out, "éé\xE2\x80\xA6");
    /* a small buffer bounds the output */
    cq_text_excerpt("abcdefghijklmnop", 40, out, 8);
    assert_string_equal(out, "abcd\xE2\x80\xA6");
    cq_text_excerpt(NULL, 10, out, sizeof(out));
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_tokenize_ascii),
        cmocka_unit_test(test_text_tokenize_utf8),
        cmocka_unit_test(test_text_tokenize_long_token_skipped),
        cmocka_unit_test(test_text_stopwords),
        cmocka_unit_test(test_text_stem_porter2_pairs),
        cmocka_unit_test(test_text_stem_leaves_other_words),
        cmocka_unit_test(test_text_concepts),
        cmocka_unit_test(test_text_tokenize_long_input_bounded),
        cmocka_unit_test(test_text_excerpt),
    };
    return cmocka_run_group_tests_name("cq_text", tests, NULL, NULL);
}
