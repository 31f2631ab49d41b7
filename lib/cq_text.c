/*
 * cq_text.c — text analysis for the built-in engines (see cq_text.h).
 *
 * Pipeline: UTF-8 tokenizer -> stopword filter -> Porter2 stemmer -> term
 * vector (cq_termvec.c). The tokenizer decodes UTF-8 itself and classifies code points
 * with a few ranges instead of Unicode tables: ASCII letters and digits and
 * every non-ASCII code point outside the punctuation, symbol, emoji and
 * private-use blocks are word characters. Good enough for matching planning
 * prose; it is not a linguistic segmenter.
 *
 * The stemmer is Snowball's English stemmer ("Porter2", libstemmer): it
 * fixes the 1980 Porter algorithm's known faults (e.g. "generously" stays
 * "generous", "dying" becomes "die", "news" and "skies" are handled) and
 * Snowball has the other languages for when tenants write in them. Only
 * words of ASCII letters are stemmed; numbers, codes and accented words are
 * compared as they are.
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

#include <libstemmer.h>
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
    cq_text_entry_t key = {.stem = ""};
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

/* ---- stemmer (Snowball's Porter2 for English, libstemmer) ------------ */

/* A libstemmer stemmer keeps its output inside itself, so each thread has
 * its own, made on first use and deleted when the thread ends. */
static pthread_key_t cq_text_stemmer_key;
static pthread_once_t cq_text_stemmer_once = PTHREAD_ONCE_INIT;

static void cq_text_stemmer_free(void *stemmer)
{
    sb_stemmer_delete(stemmer);
}

static void cq_text_stemmer_key_make(void)
{
    if (pthread_key_create(&cq_text_stemmer_key, cq_text_stemmer_free) != 0)
        abort();
}

static struct sb_stemmer *cq_text_stemmer(void)
{
    pthread_once(&cq_text_stemmer_once, cq_text_stemmer_key_make);
    struct sb_stemmer *stemmer = pthread_getspecific(cq_text_stemmer_key);
    if (!stemmer) {
        /* NULL only for an unknown language or out of memory; the language
         * is a constant, so it is out of memory, which aborts everywhere. */
        stemmer = sb_stemmer_new("english", "UTF_8");
        if (!stemmer || pthread_setspecific(cq_text_stemmer_key, stemmer) != 0)
            abort();
    }
    return stemmer;
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
    struct sb_stemmer *stemmer = cq_text_stemmer();
    const sb_symbol *stem = sb_stemmer_stem(stemmer, (const sb_symbol *)word, (int)len);
    if (!stem) /* out of memory */
        abort();
    size_t n = (size_t)sb_stemmer_length(stemmer);
    if (n >= out_size)
        n = out_size - 1;
    memcpy(out, stem, n);
    out[n] = '\0';
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
