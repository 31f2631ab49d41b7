/*
 * cq_text.c — text analysis for the built-in engines (see cq_text.h).
 *
 * Pipeline: UTF-8 tokenizer -> stopword filter -> Porter stemmer -> term
 * vector (cq_termvec.c). The tokenizer decodes UTF-8 itself and classifies code points
 * with a few ranges instead of Unicode tables: ASCII letters and digits and
 * every non-ASCII code point outside the punctuation, symbol, emoji and
 * private-use blocks are word characters. Good enough for matching planning
 * prose; it is not a linguistic segmenter.
 *
 * The stemmer is Porter's 1980 algorithm written from its description, with
 * the two changes of Porter's own reference implementation (step 2 maps
 * "bli" to "ble" and "logi" to "log"), so its output matches the published
 * Porter vocabulary. Only words of ASCII letters are stemmed.
 *
 * Concepts are small groups of planning words that mean nearly the same
 * thing for alignment purposes (customer/client/buyer, ...). Different words
 * of one concept count CQ_TEXT_CONCEPT_SIM of an exact match; each stem
 * belongs to at most one concept. "Weak" words are planning filler that
 * every goal uses ("improve", "business", "monthly"); they keep a small
 * weight so they cannot make two unrelated texts look alike.
 *
 * Tables are written as plain words and stemmed once (pthread_once) into
 * sorted arrays; after that everything is read-only, so any thread may call
 * any function. Everything is linear in the input, which is capped at
 * CQ_TEXT_INPUT_MAX bytes.
 */
#include "cq_text.h"
#include "cq_utf8.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- lookup tables ---------------------------------------------------- */

static const char *const cq_text_stopwords[] = {
    "a",        "about",   "above",    "after",      "again",   "against", "all",       "also",
    "am",       "an",      "and",      "any",        "are",     "arent",   "as",        "at",
    "be",       "because", "been",     "before",     "being",   "below",   "between",   "both",
    "but",      "by",      "can",      "cant",       "could",   "couldnt", "did",       "didnt",
    "do",       "does",    "doesnt",   "doing",      "dont",    "down",    "during",    "each",
    "either",   "etc",     "every",    "few",        "for",     "from",    "further",   "had",
    "hadnt",    "has",     "hasnt",    "have",       "havent",  "having",  "he",        "her",
    "here",     "hers",    "herself",  "him",        "himself", "his",     "how",       "i",
    "if",       "im",      "in",       "into",       "is",      "isnt",    "it",        "its",
    "itself",   "ive",     "just",     "let",        "lets",    "ll",      "many",      "may",
    "me",       "might",   "more",     "most",       "much",    "must",    "my",        "myself",
    "no",       "nor",     "not",      "now",        "of",      "off",     "on",        "once",
    "only",     "or",      "other",    "ought",      "our",     "ours",    "ourselves", "out",
    "over",     "own",     "per",      "re",         "same",    "shall",   "she",       "should",
    "shouldnt", "so",      "some",     "such",       "than",    "that",    "thats",     "the",
    "their",    "theirs",  "them",     "themselves", "then",    "there",   "these",     "they",
    "theyre",   "this",    "those",    "through",    "thus",    "to",      "too",       "under",
    "until",    "up",      "upon",     "us",         "ve",      "very",    "via",       "was",
    "wasnt",    "we",      "were",     "werent",     "weve",    "what",    "when",      "where",
    "whether",  "which",   "while",    "who",        "whom",    "whose",   "why",       "will",
    "with",     "within",  "without",  "would",      "wouldnt", "yet",     "you",       "youre",
    "your",     "yours",   "yourself", "yourselves",
};

/* Planning filler: verbs of change, organisational nouns, periods and
 * measurement words. Stemmed at init; all their forms are weak. */
static const char cq_text_weak_words[] =
    "improve improvement increase decrease reduce achieve ensure make get become provide "
    "deliver help use business company organization organisation goal objective strategy "
    "strategic plan initiative target year month quarter week day annual annually monthly "
    "weekly daily quarterly yearly percent percentage rate number count total average score "
    "level metric kpi measure ratio key best better great good high higher low lower top world "
    "focus way able based like including";
#define CQ_TEXT_WEAK_WEIGHT 0.3

static const struct {
    const char *label;
    const char *words;
} cq_text_concepts[] = {
    {"customers", "customer client buyer consumer patron shopper guest user homeowner household "
                  "resident patient subscriber"},
    {"revenue", "revenue sales sale sell selling income turnover earnings bookings monetize"},
    {"growth", "growth grow expand expansion scale scaling extend"},
    {"retention", "retention retain churn loyalty loyal repeat renewal renew recurring "
                  "subscription lasting"},
    {"quality", "quality excellence excellent craftsmanship craft premium artisan handmade"},
    {"innovation", "innovation innovate innovative new novel invent invention creativity creative "
                   "pioneer"},
    {"people", "team employee staff people workforce talent colleague hire hiring personnel"},
    {"community", "community local neighborhood neighbourhood neighbor neighbour society"},
    {"sustainability", "sustainability sustainable green environment environmental eco climate "
                       "carbon planet ecological"},
    {"profit", "profit profitability profitable margin ebitda"},
    {"market", "market segment niche audience demographic sector marketplace"},
    {"efficiency", "efficiency efficient streamline automate automation cost waste lean"},
    {"trust", "trust integrity honesty honest transparency transparent ethics ethical "
              "accountability reliable reliability"},
    {"health", "health wellness wellbeing healthy fitness"},
    {"service", "service serve support care hospitality maintenance maintain upkeep repair "
                "warranty aftercare"},
    {"brand", "brand awareness reputation recognition visibility visible"},
    {"technology", "technology digital software online platform tech app website internet "
                   "ecommerce"},
    {"learning", "education learning learn training train teach skill knowledge"},
    {"safety", "safety safe secure security"},
    {"accessibility", "affordable affordability accessible access accessibility inclusive "
                      "inclusion"},
    {"speed", "fast speed quick quickly rapid agility agile"},
    {"partnerships", "partner partnership collaboration collaborate alliance"},
    {"global reach", "global international worldwide"},
    {"satisfaction", "satisfaction satisfied satisfy delight happy happiness love favorite "
                     "favourite nps promoter"},
    {"energy", "energy solar power electricity electric renewable battery"},
};
#define CQ_TEXT_CONCEPTS  CQ_ARRAY_SIZE(cq_text_concepts)
#define CQ_TEXT_TABLE_MAX 512
_Static_assert(CQ_ARRAY_SIZE(cq_text_concepts) <= CQ_TEXT_CONCEPTS_MAX, "too many concepts");

typedef struct {
    char stem[CQ_TEXT_TOKEN_MAX];
    int value;
} cq_text_entry_t;

static pthread_once_t cq_text_once = PTHREAD_ONCE_INIT;
static const char *cq_text_stop_sorted[CQ_ARRAY_SIZE(cq_text_stopwords)];
static cq_text_entry_t cq_text_concept_idx[CQ_TEXT_TABLE_MAX];
static size_t cq_text_concept_n;
static cq_text_entry_t cq_text_weak_idx[CQ_TEXT_TABLE_MAX];
static size_t cq_text_weak_n;

static int cq_text_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cq_text_cmp_entry(const void *a, const void *b)
{
    return strcmp(((const cq_text_entry_t *)a)->stem, ((const cq_text_entry_t *)b)->stem);
}

static const cq_text_entry_t *cq_text_find(const cq_text_entry_t *tab, size_t n, const char *stem)
{
    cq_text_entry_t key;
    cq_strlcpy(key.stem, stem, sizeof(key.stem));
    return bsearch(&key, tab, n, sizeof(*tab), cq_text_cmp_entry);
}

/* Stems each space-separated word of words into tab (first stem wins). */
static void cq_text_index_words(const char *words, int value, cq_text_entry_t *tab, size_t *n)
{
    const char *p = words;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == 0)
            break;
        char word[CQ_TEXT_TOKEN_MAX];
        cq_strlcpy(word, p, len + 1 < sizeof(word) ? len + 1 : sizeof(word));
        p += len;
        char stem[CQ_TEXT_TOKEN_MAX];
        cq_text_stem(word, stem, sizeof(stem));
        bool dup = false;
        for (size_t i = 0; i < *n && !dup; i++)
            dup = strcmp(tab[i].stem, stem) == 0;
        if (dup || *n >= CQ_TEXT_TABLE_MAX)
            continue;
        cq_strlcpy(tab[*n].stem, stem, sizeof(tab[*n].stem));
        tab[*n].value = value;
        (*n)++;
    }
}

static void cq_text_tables_build(void)
{
    memcpy(cq_text_stop_sorted, cq_text_stopwords, sizeof(cq_text_stopwords));
    qsort(cq_text_stop_sorted, CQ_ARRAY_SIZE(cq_text_stop_sorted), sizeof(const char *),
          cq_text_cmp_str);
    for (size_t c = 0; c < CQ_TEXT_CONCEPTS; c++)
        cq_text_index_words(cq_text_concepts[c].words, (int)c, cq_text_concept_idx,
                            &cq_text_concept_n);
    qsort(cq_text_concept_idx, cq_text_concept_n, sizeof(cq_text_entry_t), cq_text_cmp_entry);
    cq_text_index_words(cq_text_weak_words, 0, cq_text_weak_idx, &cq_text_weak_n);
    qsort(cq_text_weak_idx, cq_text_weak_n, sizeof(cq_text_entry_t), cq_text_cmp_entry);
}

static void cq_text_tables(void)
{
    pthread_once(&cq_text_once, cq_text_tables_build);
}

bool cq_text_is_stopword(const char *token)
{
    cq_text_tables();
    return bsearch(&token, cq_text_stop_sorted, CQ_ARRAY_SIZE(cq_text_stop_sorted),
                   sizeof(const char *), cq_text_cmp_str) != NULL;
}

int cq_text_concept_id(const char *stem)
{
    cq_text_tables();
    const cq_text_entry_t *e = cq_text_find(cq_text_concept_idx, cq_text_concept_n, stem);
    return e ? e->value : -1;
}

const char *cq_text_concept_label(int id)
{
    return id >= 0 && (size_t)id < CQ_TEXT_CONCEPTS ? cq_text_concepts[id].label : NULL;
}

const char *cq_text_concept(const char *stem)
{
    return cq_text_concept_label(cq_text_concept_id(stem));
}

double cq_text_term_weight(const char *stem)
{
    cq_text_tables();
    return cq_text_find(cq_text_weak_idx, cq_text_weak_n, stem) ? CQ_TEXT_WEAK_WEIGHT : 1.0;
}

/* ---- tokenizer -------------------------------------------------------- */

enum { CQ_TEXT_SEP, CQ_TEXT_WORD, CQ_TEXT_SOLO };

static int cq_text_class(uint32_t cp)
{
    if (cp < 0x80)
        return ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || (cp >= '0' && cp <= '9') ? CQ_TEXT_WORD
                                                                                      : CQ_TEXT_SEP;
    if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7)
        return CQ_TEXT_SEP; /* C1 controls, Latin-1 punctuation and signs */
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F))
        return CQ_TEXT_SEP; /* punctuation, symbols, arrows, math, shapes */
    if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF))
        return CQ_TEXT_SOLO; /* kana and ideographs: unspaced scripts */
    if ((cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xFE00 && cp <= 0xFE6F) || cp == 0xFEFF)
        return CQ_TEXT_SEP; /* private use, variation selectors, small forms, BOM */
    if ((cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
        (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) ||
        (cp >= 0xFFF0 && cp <= 0xFFFF))
        return CQ_TEXT_SEP; /* fullwidth punctuation, specials */
    if ((cp >= 0x1F000 && cp <= 0x1FAFF) || cp >= 0xE0000)
        return CQ_TEXT_SEP; /* emoji and pictographs, tags, supplementary private use */
    return CQ_TEXT_WORD;
}

static uint32_t cq_text_lower(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) || (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) ||
        (cp >= 0x410 && cp <= 0x42F))
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 0x50;
    return cp;
}

typedef struct {
    char buf[CQ_TEXT_TOKEN_MAX];
    size_t len;
    bool too_long;
    bool has_letter;
    size_t count;
    cq_text_token_fn fn;
    void *ctx;
} cq_text_tok_t;

static void cq_text_tok_emit(cq_text_tok_t *tok)
{
    bool keep = tok->len > 0 && !tok->too_long && tok->has_letter &&
                !(tok->len == 1 && (unsigned char)tok->buf[0] < 0x80);
    if (keep) {
        tok->buf[tok->len] = '\0';
        tok->fn(tok->buf, tok->len, tok->ctx);
        tok->count++;
    }
    tok->len = 0;
    tok->too_long = false;
    tok->has_letter = false;
}

static void cq_text_tok_push(cq_text_tok_t *tok, uint32_t cp)
{
    char enc[4];
    size_t n = cq_utf8_encode(cq_text_lower(cp), enc);
    if (tok->len + n >= sizeof(tok->buf)) {
        tok->too_long = true;
        return;
    }
    memcpy(tok->buf + tok->len, enc, n);
    tok->len += n;
    if (!(cp >= '0' && cp <= '9'))
        tok->has_letter = true;
}

/* Class of the code point at s (SEP at the end or on invalid UTF-8). */
static int cq_text_class_at(const unsigned char *s, size_t n, uint32_t *cp, size_t *len)
{
    *len = n ? cq_utf8_decode(s, n, cp) : 0;
    return *len ? cq_text_class(*cp) : CQ_TEXT_SEP;
}

size_t cq_text_tokenize(const char *text, cq_text_token_fn fn, void *ctx)
{
    if (!text)
        return 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strnlen(text, CQ_TEXT_INPUT_MAX);
    cq_text_tok_t tok = {.fn = fn, .ctx = ctx};
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len;
        int cls = cq_text_class_at(s + i, n - i, &cp, &len);
        if (len == 0) {
            cq_text_tok_emit(&tok);
            i++;
            continue;
        }
        bool apostrophe = cp == '\'' || cp == 0x2019;
        if (apostrophe && tok.len > 0) {
            /* Inside a word: "'s" ends it, other letters continue it. */
            uint32_t c1, c2;
            size_t l1, l2;
            int k1 = cq_text_class_at(s + i + len, n - i - len, &c1, &l1);
            if (k1 == CQ_TEXT_WORD && c1 < 0x80 && !(c1 >= '0' && c1 <= '9')) {
                int k2 = cq_text_class_at(s + i + len + l1, n - i - len - l1, &c2, &l2);
                if ((c1 | 0x20) == 's' && k2 != CQ_TEXT_WORD) {
                    cq_text_tok_emit(&tok);
                    i += len + l1;
                } else {
                    i += len;
                }
                continue;
            }
        }
        if (cls == CQ_TEXT_WORD) {
            cq_text_tok_push(&tok, cp);
        } else {
            cq_text_tok_emit(&tok);
            if (cls == CQ_TEXT_SOLO) {
                cq_text_tok_push(&tok, cp);
                cq_text_tok_emit(&tok);
            }
        }
        i += len;
    }
    cq_text_tok_emit(&tok);
    return tok.count;
}

/* ---- Porter stemmer --------------------------------------------------- */

typedef struct {
    char b[CQ_TEXT_TOKEN_MAX + 2];
    int k; /* index of the last letter of the word */
    int j; /* index of the last letter of the stem before a matched suffix */
} cq_porter_t;

static bool cq_porter_cons(const cq_porter_t *p, int i)
{
    switch (p->b[i]) {
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
        return false;
    case 'y':
        return i == 0 ? true : !cq_porter_cons(p, i - 1);
    default:
        return true;
    }
}

/* m: the number of vowel-consonant sequences in b[0..end]. */
static int cq_porter_m(const cq_porter_t *p, int end)
{
    int n = 0, i = 0;
    while (i <= end && cq_porter_cons(p, i))
        i++;
    while (i <= end) {
        while (i <= end && !cq_porter_cons(p, i))
            i++;
        if (i > end)
            break;
        n++;
        while (i <= end && cq_porter_cons(p, i))
            i++;
    }
    return n;
}

static bool cq_porter_vowel_in(const cq_porter_t *p, int end)
{
    for (int i = 0; i <= end; i++)
        if (!cq_porter_cons(p, i))
            return true;
    return false;
}

static bool cq_porter_doublec(const cq_porter_t *p, int i)
{
    return i >= 1 && p->b[i] == p->b[i - 1] && cq_porter_cons(p, i);
}

/* consonant-vowel-consonant ending at i, the last consonant not w, x or y */
static bool cq_porter_cvc(const cq_porter_t *p, int i)
{
    if (i < 2 || !cq_porter_cons(p, i) || cq_porter_cons(p, i - 1) || !cq_porter_cons(p, i - 2))
        return false;
    return p->b[i] != 'w' && p->b[i] != 'x' && p->b[i] != 'y';
}

static bool cq_porter_ends(cq_porter_t *p, const char *s)
{
    int len = (int)strlen(s);
    if (len > p->k + 1 || memcmp(p->b + p->k - len + 1, s, (size_t)len) != 0)
        return false;
    p->j = p->k - len;
    return true;
}

static void cq_porter_setto(cq_porter_t *p, const char *s)
{
    int len = (int)strlen(s);
    memcpy(p->b + p->j + 1, s, (size_t)len);
    p->k = p->j + len;
}

static void cq_porter_step1ab(cq_porter_t *p)
{
    if (p->b[p->k] == 's') {
        if (cq_porter_ends(p, "sses"))
            p->k -= 2;
        else if (cq_porter_ends(p, "ies"))
            cq_porter_setto(p, "i");
        else if (p->b[p->k - 1] != 's')
            p->k--;
    }
    if (cq_porter_ends(p, "eed")) {
        if (cq_porter_m(p, p->j) > 0)
            p->k--;
    } else if ((cq_porter_ends(p, "ed") || cq_porter_ends(p, "ing")) &&
               cq_porter_vowel_in(p, p->j)) {
        p->k = p->j;
        if (cq_porter_ends(p, "at"))
            cq_porter_setto(p, "ate");
        else if (cq_porter_ends(p, "bl"))
            cq_porter_setto(p, "ble");
        else if (cq_porter_ends(p, "iz"))
            cq_porter_setto(p, "ize");
        else if (cq_porter_doublec(p, p->k)) {
            char ch = p->b[p->k];
            if (ch != 'l' && ch != 's' && ch != 'z')
                p->k--;
        } else if (cq_porter_m(p, p->k) == 1 && cq_porter_cvc(p, p->k)) {
            p->j = p->k;
            cq_porter_setto(p, "e");
        }
    }
}

static void cq_porter_step1c(cq_porter_t *p)
{
    if (cq_porter_ends(p, "y") && cq_porter_vowel_in(p, p->j))
        p->b[p->k] = 'i';
}

typedef struct {
    const char *suffix;
    const char *repl;
} cq_porter_rule_t;

/* Order within a group of equal second-to-last letters matters: the first
 * suffix that matches decides, even when its condition then fails. */
static const cq_porter_rule_t cq_porter_step2_rules[] = {
    {"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"}, {"izer", "ize"},
    {"bli", "ble"},     {"alli", "al"},     {"entli", "ent"}, {"eli", "e"},     {"ousli", "ous"},
    {"ization", "ize"}, {"ation", "ate"},   {"ator", "ate"},  {"alism", "al"},  {"iveness", "ive"},
    {"fulness", "ful"}, {"ousness", "ous"}, {"aliti", "al"},  {"iviti", "ive"}, {"biliti", "ble"},
    {"logi", "log"},
};

static const cq_porter_rule_t cq_porter_step3_rules[] = {
    {"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"},
    {"ical", "ic"},  {"ful", ""},   {"ness", ""},
};

static const char *const cq_porter_step4_suffixes[] = {
    "al",  "ance", "ence", "er",  "ic",  "able", "ible", "ant", "ement", "ment",
    "ent", "ion",  "ou",   "ism", "ate", "iti",  "ous",  "ive", "ize",
};

static void cq_porter_rules(cq_porter_t *p, const cq_porter_rule_t *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (cq_porter_ends(p, rules[i].suffix)) {
            if (cq_porter_m(p, p->j) > 0)
                cq_porter_setto(p, rules[i].repl);
            return;
        }
    }
}

static void cq_porter_step4(cq_porter_t *p)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_porter_step4_suffixes); i++) {
        const char *suffix = cq_porter_step4_suffixes[i];
        if (!cq_porter_ends(p, suffix))
            continue;
        if (strcmp(suffix, "ion") == 0 && !(p->j >= 0 && (p->b[p->j] == 's' || p->b[p->j] == 't')))
            return;
        if (cq_porter_m(p, p->j) > 1)
            p->k = p->j;
        return;
    }
}

static void cq_porter_step5(cq_porter_t *p)
{
    if (p->b[p->k] == 'e') {
        int a = cq_porter_m(p, p->k - 1);
        if (a > 1 || (a == 1 && !cq_porter_cvc(p, p->k - 1)))
            p->k--;
    }
    if (p->b[p->k] == 'l' && cq_porter_doublec(p, p->k) && cq_porter_m(p, p->k) > 1)
        p->k--;
}

void cq_text_stem(const char *word, char *out, size_t out_size)
{
    if (!out || out_size == 0)
        return;
    size_t len = word ? strnlen(word, CQ_TEXT_TOKEN_MAX) : 0;
    bool letters = len < CQ_TEXT_TOKEN_MAX;
    for (size_t i = 0; i < len && letters; i++)
        letters = word[i] >= 'a' && word[i] <= 'z';
    if (!letters || len <= 2) {
        cq_strlcpy(out, word ? word : "", out_size);
        return;
    }
    cq_porter_t p;
    memcpy(p.b, word, len + 1);
    p.k = (int)len - 1;
    p.j = 0;
    cq_porter_step1ab(&p);
    if (p.k > 0) {
        cq_porter_step1c(&p);
        cq_porter_rules(&p, cq_porter_step2_rules, CQ_ARRAY_SIZE(cq_porter_step2_rules));
        cq_porter_rules(&p, cq_porter_step3_rules, CQ_ARRAY_SIZE(cq_porter_step3_rules));
        cq_porter_step4(&p);
        cq_porter_step5(&p);
    }
    p.b[p.k + 1] = '\0';
    cq_strlcpy(out, p.b, out_size);
}

/* ---- excerpts --------------------------------------------------------- */

void cq_text_excerpt(const char *text, size_t max_bytes, char *out, size_t out_size)
{
    if (!out || out_size == 0)
        return;
    static const char ellipsis[] = "\xE2\x80\xA6";
    size_t limit = max_bytes;
    if (limit + sizeof(ellipsis) > out_size)
        limit = out_size > sizeof(ellipsis) ? out_size - sizeof(ellipsis) : 0;
    size_t o = 0;
    bool cut = false, space = false;
    for (const unsigned char *s = (const unsigned char *)(text ? text : ""); *s; s++) {
        if (*s <= ' ' || *s == 0x7F) {
            space = o > 0;
            continue;
        }
        size_t need = space ? 2 : 1;
        if (o + need > limit) {
            cut = true;
            break;
        }
        if (space)
            out[o++] = ' ';
        space = false;
        out[o++] = (char)*s;
    }
    if (cut) {
        /* Drop a partial UTF-8 character and a dangling space. */
        size_t end = o;
        while (end > 0 && ((unsigned char)out[end - 1] & 0xC0) == 0x80)
            end--;
        if (end > 0 && (unsigned char)out[end - 1] >= 0xC0) {
            uint32_t cp;
            size_t have = o - (end - 1);
            if (cq_utf8_decode((const unsigned char *)out + end - 1, have, &cp) != have)
                o = end - 1;
        }
        while (o > 0 && out[o - 1] == ' ')
            o--;
        if (o + sizeof(ellipsis) <= out_size) {
            memcpy(out + o, ellipsis, sizeof(ellipsis) - 1);
            o += sizeof(ellipsis) - 1;
        }
    }
    out[o] = '\0';
}
