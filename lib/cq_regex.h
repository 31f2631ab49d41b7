/*
 * cq_regex.h — JSON Schema "pattern" regular expressions (ECMA-262) on PCRE2.
 *
 * PCRE2's syntax is close to ECMA-262's and cq_regex sets the options that
 * bring it closer (see cq_regex.c): lookaround, named groups, backreferences,
 * \b, \p{..}, \uHHHH and non-ASCII characters anywhere all mean what they
 * mean in ECMA. Matching is by UTF-8 code point: "." and a negated class
 * match one whole character. A subject that is not valid UTF-8 is matched
 * as far as its valid parts go (an invalid sequence matches nothing).
 *
 * Documented departures from ECMA: \s knows only ASCII white space (as \d
 * and \w know only ASCII digits and word characters, which is ECMA's rule
 * for those two); "." stops at \r and \n but not at U+2028/U+2029; a "-"
 * right after a class escape ("[\d-x]", legal in ECMA's Annex B) is
 * refused as an invalid range: write "[\d\-x]". As in
 * JSON Schema, a pattern is not anchored: use ^ and $ ("$" matches only at
 * the very end, not before a final newline).
 *
 * A match is bounded in work (backtracking and depth limits): a subject
 * that would exceed them counts as not matching, so a hostile input cannot
 * make one validation run for long.
 */
#ifndef CQ_REGEX_H
#define CQ_REGEX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cq_regex_s cq_regex_t;

/* Compiles an ECMA-262 pattern (see above); NULL and errstr (with the
 * offset of the fault) when it is not valid. Caller destroys. */
cq_regex_t *cq_regex_new(const char *pattern, char *errstr, size_t errstr_size);

/* Frees a compiled pattern; NULL is a no-op. */
void cq_regex_destroy(cq_regex_t *regex);

/* Whether the pattern matches anywhere in s[0..len) (s may contain NUL bytes).
 * Thread-safe: any number of threads may match with one compiled pattern. */
bool cq_regex_match(const cq_regex_t *regex, const char *s, size_t len);

/* The pattern as it was given to cq_regex_new; valid while regex lives. */
const char *cq_regex_source(const cq_regex_t *regex);

#endif
