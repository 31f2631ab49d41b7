/*
 * cq_regex.h — JSON Schema "pattern" regular expressions on top of POSIX
 * regcomp/regexec.
 *
 * JSON Schema patterns are ECMA-262 regular expressions; POSIX ERE spells
 * several things differently. cq_regex accepts the common ECMA subset and
 * translates it to ERE, and refuses (with a message) what it cannot express
 * instead of silently matching something else:
 *
 *   supported: literals, ^ $ . | ( ) (?: ), * + ? {n} {n,} {n,m} (lazy forms
 *     are accepted and act like the greedy ones: only match/no-match
 *     matters), classes [...] [^...] with ASCII members and ranges, \d \D
 *     \w \W \s \S outside classes and \d \w \s inside, \t \n \r \f \v
 *     \xHH \uHHHH, escaped punctuation.
 *   refused: lookaround (?= (?! (?<, named groups, backreferences \1,
 *     \b \B, \p{..}, non-ASCII characters inside [...], \D \W \S inside [...].
 *
 * Semantics differ from ECMA in two documented ways: matching is byte based
 * ("." and a negated class match one byte of a multi-byte character; use
 * minLength/maxLength for lengths), and \s only knows ASCII white space. A
 * non-ASCII literal outside a class is grouped, so "é+" repeats the whole
 * character. As in JSON Schema, a pattern is not anchored: use ^ and $.
 */
#ifndef CQ_REGEX_H
#define CQ_REGEX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cq_regex_s cq_regex_t;

/* Translates an ECMA-262 pattern to a POSIX ERE; caller frees. NULL and
 * errstr when the pattern uses something cq_regex does not support. */
char *cq_regex_translate(const char *pattern, char *errstr, size_t errstr_size);

/* Compiles an ECMA-262 pattern (see above); NULL and errstr when it is not
 * supported or not valid. Caller destroys. */
cq_regex_t *cq_regex_new(const char *pattern, char *errstr, size_t errstr_size);

/* Frees a compiled pattern; NULL is a no-op. */
void cq_regex_destroy(cq_regex_t *regex);

/* Whether the pattern matches anywhere in s[0..len) (s may contain NUL bytes).
 * Thread-safe: any number of threads may match with one compiled pattern. */
bool cq_regex_match(const cq_regex_t *regex, const char *s, size_t len);

/* The pattern as it was given to cq_regex_new; valid while regex lives. */
const char *cq_regex_source(const cq_regex_t *regex);

#endif
