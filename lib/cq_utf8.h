/*
 * cq_utf8.h — the UTF-8 steps the text, regex and schema code share.
 * Pure functions; thread-safe.
 */
#ifndef CQ_UTF8_H
#define CQ_UTF8_H

#include "cq_common.h"

/* Length of the sequence a byte starts (1-4), 0 if it cannot start one. */
size_t cq_utf8_seq_len(unsigned char lead);

/* Decodes one sequence of at most n bytes at s into *cp; returns its length,
 * or 0 when it is invalid (overlong, surrogate, beyond U+10FFFF, cut short). */
size_t cq_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Encodes a code point (at most U+10FFFF) into out (4 bytes of room);
 * returns the number of bytes written. */
size_t cq_utf8_encode(uint32_t cp, char *out);

#endif
