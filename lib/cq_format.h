/*
 * cq_format.h — checks for the string formats coachq's JSON Schemas use
 * ("format": date, date-time, uri, email, uuid). Each takes a string with its
 * length (it may contain NUL bytes, which no format accepts) and says whether
 * it is well formed. Pure functions: thread-safe, no allocation.
 */
#ifndef CQ_FORMAT_H
#define CQ_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 3339 full-date "YYYY-MM-DD" with a real calendar check (2024-02-29 yes,
 * 2023-02-29 and 2024-02-30 no). */
bool cq_format_is_date(const char *s, size_t len);

/* RFC 3339 date-time: full-date "T" hh:mm:ss[.frac] then "Z" or +hh:mm/-hh:mm
 * ("T" and "Z" in either case). Second 60 only at 23:59 UTC (leap second). */
bool cq_format_is_date_time(const char *s, size_t len);

/* Absolute URI with an authority: scheme "://" [userinfo@] host [:port]
 * [path] [?query] [#fragment], RFC 3986 characters only (percent-encode
 * anything else; no spaces, no raw non-ASCII). Any scheme; the host must not
 * be empty, so "mailto:a@b.c" and "file:///x" are refused. */
bool cq_format_is_uri(const char *s, size_t len);

/* Email address as people type it: dot-atom local part (no quoted strings),
 * "@", a domain name of letters, digits and hyphens (no IP literals, ASCII
 * only). Up to 64 + 1 + 253 characters. */
bool cq_format_is_email(const char *s, size_t len);

/* UUID in 8-4-4-4-12 hex form, any version, either case. */
bool cq_format_is_uuid(const char *s, size_t len);

#endif
