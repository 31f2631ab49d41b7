/*
 * cq_format.c — string format checks for JSON Schema "format" (see
 * cq_format.h for exactly what each accepts).
 *
 * Hand-written scanners over (pointer, length): no regex, no allocation, no
 * locale (isdigit & co. are avoided on purpose), so they are thread-safe and
 * cannot be slowed down by hostile input.
 */
#include "cq_format.h"

#include <string.h>

static bool cq_format_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool cq_format_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool cq_format_hexdig(char c)
{
    return cq_format_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* n decimal digits at s as a number, or -1. */
static int cq_format_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!cq_format_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int cq_format_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
        return 29;
    return days[month - 1];
}

bool cq_format_is_date(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int year = cq_format_num(s, 4);
    int month = cq_format_num(s + 5, 2);
    int day = cq_format_num(s + 8, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1)
        return false;
    return day <= cq_format_days_in_month(year, month);
}

bool cq_format_is_date_time(const char *s, size_t len)
{
    /* 2024-01-31T12:00:00Z is the shortest form: 20 characters. */
    if (len < 20 || !cq_format_is_date(s, 10) || (s[10] != 'T' && s[10] != 't'))
        return false;
    const char *t = s + 11;
    const char *end = s + len;
    if (t[2] != ':' || t[5] != ':')
        return false;
    int hour = cq_format_num(t, 2);
    int minute = cq_format_num(t + 3, 2);
    int second = cq_format_num(t + 6, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60)
        return false;
    t += 8;
    if (t < end && *t == '.') {
        t++;
        const char *frac = t;
        while (t < end && cq_format_digit(*t))
            t++;
        if (t == frac)
            return false;
    }
    if (t >= end)
        return false;
    int offset = 0; /* minutes east of UTC */
    if (*t == 'Z' || *t == 'z') {
        t++;
    } else if (*t == '+' || *t == '-') {
        if (end - t < 6 || t[3] != ':')
            return false;
        int oh = cq_format_num(t + 1, 2);
        int om = cq_format_num(t + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        offset = (*t == '+' ? 1 : -1) * (oh * 60 + om);
        t += 6;
    } else {
        return false;
    }
    if (t != end)
        return false;
    if (second == 60) {
        int utc = ((hour * 60 + minute - offset) % 1440 + 1440) % 1440;
        return utc == 23 * 60 + 59;
    }
    return true;
}

static bool cq_format_unreserved(char c)
{
    return cq_format_alpha(c) || cq_format_digit(c) || (c && strchr("-._~", c));
}

static bool cq_format_sub_delim(char c)
{
    return c && strchr("!$&'()*+,;=", c);
}

/* Scans RFC 3986 characters from s up to end while they are unreserved,
 * sub-delims, percent-encoded or in `extra`; returns where it stopped, or
 * NULL on a bad percent-encoding. */
static const char *cq_format_uri_chars(const char *s, const char *end, const char *extra)
{
    while (s < end) {
        char c = *s;
        if (c == '%') {
            if (end - s < 3 || !cq_format_hexdig(s[1]) || !cq_format_hexdig(s[2]))
                return NULL;
            s += 3;
        } else if (cq_format_unreserved(c) || cq_format_sub_delim(c) || (c && strchr(extra, c))) {
            s++;
        } else {
            break;
        }
    }
    return s;
}

bool cq_format_is_uri(const char *s, size_t len)
{
    const char *end = s + len;
    const char *p = s;
    if (p == end || !cq_format_alpha(*p))
        return false;
    while (p < end &&
           (cq_format_alpha(*p) || cq_format_digit(*p) || *p == '+' || *p == '-' || *p == '.'))
        p++;
    if (end - p < 3 || memcmp(p, "://", 3) != 0)
        return false;
    p += 3;
    /* authority ends at the first / ? # */
    const char *auth_end = p;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
        auth_end++;
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        if (cq_format_uri_chars(p, at, ":") != at)
            return false;
        p = at + 1;
    }
    if (p < auth_end && *p == '[') {
        const char *close = memchr(p, ']', (size_t)(auth_end - p));
        if (!close || close == p + 1)
            return false;
        for (const char *q = p + 1; q < close; q++)
            if (!cq_format_hexdig(*q) && *q != ':' && *q != '.')
                return false;
        p = close + 1;
    } else {
        const char *host_end = cq_format_uri_chars(p, auth_end, "");
        if (!host_end || host_end == p)
            return false;
        p = host_end;
    }
    if (p < auth_end && *p == ':') {
        p++;
        while (p < auth_end && cq_format_digit(*p))
            p++;
    }
    if (p != auth_end)
        return false;
    /* path, then ?query, then #fragment */
    p = cq_format_uri_chars(p, end, ":@/");
    if (!p)
        return false;
    if (p < end && *p == '?') {
        p = cq_format_uri_chars(p + 1, end, ":@/?");
        if (!p)
            return false;
    }
    if (p < end && *p == '#') {
        p = cq_format_uri_chars(p + 1, end, ":@/?");
        if (!p)
            return false;
    }
    return p == end;
}

bool cq_format_is_email(const char *s, size_t len)
{
    const char *end = s + len;
    const char *at = NULL;
    for (const char *q = s; q < end; q++)
        if (*q == '@')
            at = q;
    if (!at)
        return false;
    size_t local_len = (size_t)(at - s);
    size_t domain_len = (size_t)(end - at - 1);
    if (local_len < 1 || local_len > 64 || domain_len < 1 || domain_len > 253)
        return false;
    /* dot-atom: atoms of atext separated by single dots */
    char prev = '.';
    for (const char *q = s; q < at; q++) {
        char c = *q;
        if (c == '.') {
            if (prev == '.')
                return false;
        } else if (!cq_format_alpha(c) && !cq_format_digit(c) &&
                   !(c && strchr("!#$%&'*+-/=?^_`{|}~", c))) {
            return false;
        }
        prev = c;
    }
    if (prev == '.')
        return false;
    /* domain: labels of 1..63 letters, digits, hyphens, no hyphen at an end */
    size_t label_len = 0;
    prev = '.';
    for (const char *q = at + 1; q < end; q++) {
        char c = *q;
        if (c == '.') {
            if (label_len == 0 || prev == '-')
                return false;
            label_len = 0;
        } else if (cq_format_alpha(c) || cq_format_digit(c) || c == '-') {
            if (label_len == 0 && c == '-')
                return false;
            if (++label_len > 63)
                return false;
        } else {
            return false;
        }
        prev = c;
    }
    return label_len > 0 && prev != '-';
}

bool cq_format_is_uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !cq_format_hexdig(s[i]))
            return false;
    }
    return true;
}
