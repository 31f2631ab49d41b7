/*
 * cq_text.h — text analysis shared by the built-in (model-free) engines:
 * a UTF-8-safe tokenizer, an English stopword list, the Porter2 stemmer, a
 * small concept (synonym) table of strategic-planning vocabulary, planning
 * filler weights and excerpts for prose. Term vectors built from these are
 * in cq_termvec.h.
 *
 * Bounded: one text is analysed up to CQ_TEXT_INPUT_MAX bytes, and every
 * function is linear in its input. Reentrant; the lookup tables are built
 * once (pthread_once) and read-only afterwards, so any thread may call.
 */
#ifndef CQ_TEXT_H
#define CQ_TEXT_H

#include "cq_common.h"

/* Longest token kept, in bytes including the NUL; longer tokens (URLs,
 * hashes, garbage) are skipped, not truncated. */
#define CQ_TEXT_TOKEN_MAX 48
/* Bytes of one text that are analysed; the rest is ignored. */
#define CQ_TEXT_INPUT_MAX ((size_t)32 * 1024)
/* Similarity of two different terms of the same concept (an exact match is 1). */
#define CQ_TEXT_CONCEPT_SIM 0.6

/* Called once per token, in text order. token is NUL-terminated, lower-cased
 * and valid only during the call. */
typedef void (*cq_text_token_fn)(const char *token, size_t len, void *ctx);

/*
 * Splits the first CQ_TEXT_INPUT_MAX bytes of text into word tokens and
 * calls fn for each; returns the number of tokens. Words are runs of ASCII
 * letters and digits and of non-ASCII letters (kept intact; Latin-1, Greek
 * and Cyrillic capitals are lower-cased like ASCII). Punctuation, symbols,
 * emoji and invalid UTF-8 separate words. "customer's" gives "customer",
 * "don't" gives "dont". Each CJK ideograph or kana is a token of its own.
 * Tokens of one ASCII character and tokens of digits only are dropped.
 * Stopwords are NOT removed here. text NULL is an empty text.
 */
size_t cq_text_tokenize(const char *text, cq_text_token_fn fn, void *ctx);

/* Whether a lower-cased token is an English stopword ("the", "our", ...). */
bool cq_text_is_stopword(const char *token);

/*
 * Stems a lower-case English word with Snowball's English stemmer
 * ("Porter2", libstemmer). Words that are not all ASCII letters, and words
 * of up to two letters, are copied unchanged. out always NUL-terminated
 * (truncated to out_size). Any thread may call (each has its own stemmer).
 */
void cq_text_stem(const char *word, char *out, size_t out_size);

/* Informativeness of a stem: 1.0 for ordinary words, lower for planning
 * filler ("improve", "business", "goal", "rate", "monthly", ...). */
double cq_text_term_weight(const char *stem);

/* Concept ids are 0..CQ_TEXT_CONCEPTS_MAX-1. */
#define CQ_TEXT_CONCEPTS_MAX 32

/* Id of the concept a stem belongs to, or -1. */
int cq_text_concept_id(const char *stem);
/* Label of a concept id ("customers", "revenue", ...), NULL for an unknown
 * id. Static string. */
const char *cq_text_concept_label(int id);
/* Label of the concept a stem belongs to, or NULL. Static string. */
const char *cq_text_concept(const char *stem);

/* Copies text into out with runs of whitespace collapsed to one space and
 * ends trimmed, at most max_bytes bytes of text (cut on a UTF-8 character
 * boundary, "…" appended when cut). out always NUL-terminated. */
void cq_text_excerpt(const char *text, size_t max_bytes, char *out, size_t out_size);

#endif
