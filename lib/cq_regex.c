/*
 * cq_regex.c — ECMA-262 pattern subset translated to POSIX ERE (see
 * cq_regex.h for what is supported and why the rest is refused).
 *
 * Translation is a single pass over the pattern. Character classes are
 * rebuilt from a 128-entry membership table and written out member by
 * member, never as ranges, so the result does not depend on the locale's
 * collation order; "]" "-" "^" "[" are placed where POSIX reads them
 * literally.
 *
 * Threads: a compiled pattern is read-only; regexec on one regex_t from
 * several threads at once is allowed by POSIX (glibc locks internally).
 * REG_STARTEND lets subjects contain NUL bytes.
 */
#include "cq_regex.h"
#include "cq_utf8.h"
#include "cq_common.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

struct cq_regex_s {
    regex_t re;
    char *source;
};

typedef struct {
    char *buf;
    size_t len, cap;
} cq_regex_buf_t;

static void cq_regex_put(cq_regex_buf_t *out, const char *s, size_t n)
{
    if (out->len + n + 1 > out->cap) {
        while (out->len + n + 1 > out->cap)
            out->cap = out->cap ? out->cap * 2 : 64;
        out->buf = cq_realloc(out->buf, out->cap);
    }
    memcpy(out->buf + out->len, s, n);
    out->len += n;
    out->buf[out->len] = '\0';
}

static void cq_regex_putc(cq_regex_buf_t *out, char c)
{
    cq_regex_put(out, &c, 1);
}

static int cq_regex_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads n hex digits at p; -1 when they are not all there. */
static long cq_regex_hexn(const char *p, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        int h = cq_regex_hex(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* One literal character outside a class: escaped when ERE gives it a
 * meaning, grouped when it is several bytes so a quantifier repeats it whole. */
static void cq_regex_put_literal(cq_regex_buf_t *out, const char *bytes, size_t n)
{
    if (n == 1) {
        if (strchr(".[]()*+?{}|^$\\", bytes[0]))
            cq_regex_putc(out, '\\');
        cq_regex_putc(out, bytes[0]);
        return;
    }
    cq_regex_putc(out, '(');
    cq_regex_put(out, bytes, n);
    cq_regex_putc(out, ')');
}

static void cq_regex_set_digit(bool *set)
{
    for (int c = '0'; c <= '9'; c++)
        set[c] = true;
}

static void cq_regex_set_word(bool *set)
{
    cq_regex_set_digit(set);
    for (int c = 'a'; c <= 'z'; c++)
        set[c] = set[c - 'a' + 'A'] = true;
    set['_'] = true;
}

static void cq_regex_set_space(bool *set)
{
    set[' '] = set['\t'] = set['\n'] = set['\r'] = set['\f'] = set['\v'] = true;
}

/* Writes a bracket expression with the members of set (ASCII, never NUL). */
static void cq_regex_put_class(cq_regex_buf_t *out, const bool *set, bool negated)
{
    size_t count = 0;
    for (int c = 1; c < 128; c++)
        count += set[c];
    if (!negated && count == 1 && set['^']) {
        cq_regex_put(out, "\\^", 2);
        return;
    }
    cq_regex_putc(out, '[');
    if (negated)
        cq_regex_putc(out, '^');
    if (set[']'])
        cq_regex_putc(out, ']');
    else if (!negated && set['-'] && set['^'] && count == 2) {
        cq_regex_put(out, "-^]", 3);
        return;
    }
    for (int c = 1; c < 128; c++)
        if (set[c] && c != ']' && c != '-' && c != '^' && c != '[')
            cq_regex_putc(out, (char)c);
    if (set['['])
        cq_regex_putc(out, '[');
    if (set['^'])
        cq_regex_putc(out, '^');
    if (set['-'])
        cq_regex_putc(out, '-');
    cq_regex_putc(out, ']');
}

/* Reads one class member at *pp: a character (returned, >= 0) or a class
 * escape \d \w \s (added to set, returns -2). -1 on error (errstr set). */
static int cq_regex_class_atom(const char **pp, bool *set, char *errstr, size_t errstr_size)
{
    const char *p = *pp;
    unsigned char c = (unsigned char)*p;
    if (c >= 0x80) {
        cq_errstr_set(errstr, errstr_size, "non-ASCII characters inside [...] are not supported");
        return -1;
    }
    if (c != '\\') {
        *pp = p + 1;
        return c;
    }
    char e = p[1];
    *pp = p + 2;
    switch (e) {
    case 'd':
        cq_regex_set_digit(set);
        return -2;
    case 'w':
        cq_regex_set_word(set);
        return -2;
    case 's':
        cq_regex_set_space(set);
        return -2;
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'v':
        return '\v';
    case 'b':
        return '\b';
    case 'x':
    case 'u': {
        int n = e == 'x' ? 2 : 4;
        long v = cq_regex_hexn(p + 2, n);
        if (v < 0) {
            cq_errstr_set(errstr, errstr_size, "\\%c needs %d hex digits", e, n);
            return -1;
        }
        if (v == 0 || v >= 0x80) {
            cq_errstr_set(errstr, errstr_size,
                          "only ASCII characters other than NUL are supported inside [...]");
            return -1;
        }
        *pp = p + 2 + n;
        return (int)v;
    }
    case 'D':
    case 'W':
    case 'S':
        cq_errstr_set(errstr, errstr_size, "\\%c inside [...] is not supported", e);
        return -1;
    case '\0':
        cq_errstr_set(errstr, errstr_size, "pattern ends with a backslash");
        return -1;
    default:
        if ((unsigned char)e >= 0x80 || (e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') ||
            (e >= 'A' && e <= 'Z')) {
            cq_errstr_set(errstr, errstr_size, "escape \\%c is not supported inside [...]", e);
            return -1;
        }
        return e;
    }
}

/* Translates the class starting after "[" at *pp; leaves *pp after "]". */
static bool cq_regex_class(const char **pp, cq_regex_buf_t *out, char *errstr, size_t errstr_size)
{
    bool set[128] = {false};
    const char *p = *pp;
    bool negated = false;
    if (*p == '^') {
        negated = true;
        p++;
    }
    if (*p == ']') {
        cq_errstr_set(errstr, errstr_size, "empty character class [] is not supported");
        return false;
    }
    while (*p != ']') {
        if (*p == '\0') {
            cq_errstr_set(errstr, errstr_size, "unterminated character class");
            return false;
        }
        int lo = cq_regex_class_atom(&p, set, errstr, errstr_size);
        if (lo == -1)
            return false;
        if (*p == '-' && p[1] != ']' && p[1] != '\0') {
            p++;
            int hi = cq_regex_class_atom(&p, set, errstr, errstr_size);
            if (hi == -1)
                return false;
            if (lo == -2 || hi == -2) {
                /* [\w-.]: as in ECMA Annex B, the "-" is a member. */
                set['-'] = true;
                if (lo >= 0)
                    set[lo] = true;
                if (hi >= 0)
                    set[hi] = true;
                continue;
            }
            if (lo > hi) {
                cq_errstr_set(errstr, errstr_size, "range out of order in character class");
                return false;
            }
            for (int c = lo; c <= hi; c++)
                set[c] = true;
        } else if (lo >= 0) {
            set[lo] = true;
        }
    }
    *pp = p + 1;
    set[0] = false;
    cq_regex_put_class(out, set, negated);
    return true;
}

/* Length of a valid {n}, {n,} or {n,m} quantifier at p, 0 if there is none. */
static size_t cq_regex_quantifier_len(const char *p)
{
    const char *q = p + 1;
    if (*q < '0' || *q > '9')
        return 0;
    while (*q >= '0' && *q <= '9')
        q++;
    if (*q == ',') {
        q++;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    return *q == '}' ? (size_t)(q - p + 1) : 0;
}

/* Translates the escape at p (p[0] == '\\') outside a class; returns the
 * number of pattern bytes used, 0 on error. */
static size_t cq_regex_escape(const char *p, cq_regex_buf_t *out, char *errstr, size_t errstr_size)
{
    char e = p[1];
    bool set[128] = {false};
    char bytes[4];
    switch (e) {
    case 'd':
    case 'D':
        cq_regex_set_digit(set);
        cq_regex_put_class(out, set, e == 'D');
        return 2;
    case 'w':
    case 'W':
        cq_regex_set_word(set);
        cq_regex_put_class(out, set, e == 'W');
        return 2;
    case 's':
    case 'S':
        cq_regex_set_space(set);
        cq_regex_put_class(out, set, e == 'S');
        return 2;
    case 't':
        cq_regex_putc(out, '\t');
        return 2;
    case 'n':
        cq_regex_putc(out, '\n');
        return 2;
    case 'r':
        cq_regex_putc(out, '\r');
        return 2;
    case 'f':
        cq_regex_putc(out, '\f');
        return 2;
    case 'v':
        cq_regex_putc(out, '\v');
        return 2;
    case 'x':
    case 'u': {
        int n = e == 'x' ? 2 : 4;
        long v = cq_regex_hexn(p + 2, n);
        if (v < 0) {
            cq_errstr_set(errstr, errstr_size, "\\%c needs %d hex digits", e, n);
            return 0;
        }
        if (v == 0 || (v >= 0xD800 && v <= 0xDFFF)) {
            cq_errstr_set(errstr, errstr_size, "NUL and surrogate escapes are not supported");
            return 0;
        }
        cq_regex_put_literal(out, bytes, cq_utf8_encode((uint32_t)v, bytes));
        return 2 + (size_t)n;
    }
    case 'b':
    case 'B':
        cq_errstr_set(errstr, errstr_size, "word boundaries (\\%c) are not supported", e);
        return 0;
    case '\0':
        cq_errstr_set(errstr, errstr_size, "pattern ends with a backslash");
        return 0;
    default:
        if (e >= '0' && e <= '9') {
            cq_errstr_set(errstr, errstr_size,
                          "backreferences and octal escapes (\\%c) are not supported", e);
            return 0;
        }
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
            cq_errstr_set(errstr, errstr_size, "escape \\%c is not supported", e);
            return 0;
        }
        size_t n = cq_utf8_seq_len((unsigned char)e);
        if (n == 0) {
            cq_errstr_set(errstr, errstr_size, "pattern is not valid UTF-8");
            return 0;
        }
        cq_regex_put_literal(out, p + 1, n);
        return 1 + n;
    }
}

char *cq_regex_translate(const char *pattern, char *errstr, size_t errstr_size)
{
    cq_regex_buf_t out = {0};
    const char *p = pattern;
    cq_regex_put(&out, "", 0);
    while (*p) {
        unsigned char c = (unsigned char)*p;
        size_t n;
        switch (c) {
        case '\\':
            n = cq_regex_escape(p, &out, errstr, errstr_size);
            if (n == 0)
                goto fail;
            p += n;
            continue;
        case '.':
            /* ECMA "." stops at line terminators; ERE "." would not. */
            cq_regex_put(&out, "[^\n\r]", 5);
            p++;
            continue;
        case '[':
            p++;
            if (!cq_regex_class(&p, &out, errstr, errstr_size))
                goto fail;
            continue;
        case '(':
            if (p[1] == '?') {
                if (p[2] != ':') {
                    cq_errstr_set(errstr, errstr_size,
                                  "lookaround and named groups ((?...) are not supported");
                    goto fail;
                }
                p += 2;
            }
            cq_regex_putc(&out, '(');
            p++;
            continue;
        case '*':
        case '+':
        case '?':
            cq_regex_putc(&out, (char)c);
            p++;
            if (*p == '?') /* lazy: same yes/no answer */
                p++;
            continue;
        case '{':
            n = cq_regex_quantifier_len(p);
            if (n == 0) {
                cq_regex_put(&out, "\\{", 2);
                p++;
                continue;
            }
            cq_regex_put(&out, p, n);
            p += n;
            if (*p == '?')
                p++;
            continue;
        case '}':
            cq_regex_put(&out, "\\}", 2);
            p++;
            continue;
        default:
            n = cq_utf8_seq_len(c);
            if (n == 0 || strnlen(p, n) < n) {
                cq_errstr_set(errstr, errstr_size, "pattern is not valid UTF-8");
                goto fail;
            }
            if (n == 1)
                cq_regex_putc(&out, (char)c); /* ^ $ | ) ] and ordinary characters */
            else
                cq_regex_put_literal(&out, p, n);
            p += n;
            continue;
        }
    }
    return out.buf;
fail:
    free(out.buf);
    return NULL;
}

cq_regex_t *cq_regex_new(const char *pattern, char *errstr, size_t errstr_size)
{
    char *ere = cq_regex_translate(pattern, errstr, errstr_size);
    if (!ere)
        return NULL;
    cq_regex_t *regex = cq_calloc(1, sizeof(*regex));
    int rc = regcomp(&regex->re, ere, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &regex->re, msg, sizeof(msg));
        cq_errstr_set(errstr, errstr_size, "invalid pattern: %s", msg);
        free(ere);
        free(regex);
        return NULL;
    }
    free(ere);
    regex->source = cq_strdup(pattern);
    return regex;
}

void cq_regex_destroy(cq_regex_t *regex)
{
    if (!regex)
        return;
    regfree(&regex->re);
    free(regex->source);
    free(regex);
}

bool cq_regex_match(const cq_regex_t *regex, const char *s, size_t len)
{
    regmatch_t range[1];
    range[0].rm_so = 0;
    range[0].rm_eo = (regoff_t)len;
    return regexec(&regex->re, s, 1, range, REG_STARTEND) == 0;
}

const char *cq_regex_source(const cq_regex_t *regex)
{
    return regex->source;
}
