/*
 * cq_align_prose.c — text assembly for the alignment engines. The wording
 * itself is data (the JSON files of workers/alignment/data); this file only fills
 * templates, lists and cuts.
 *
 * Threads: none of its own; a cq_align_prose_t belongs to one caller.
 * Guarantees: every string it hands out is valid UTF-8 when its inputs are,
 * and no longer than the limit asked for.
 */
#include "cq_align_prose.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cq_align_prose_reserve(cq_align_prose_t *p, size_t extra)
{
    if (p->buf && p->len + extra + 1 <= p->cap)
        return;
    size_t cap = p->cap ? p->cap : 256;
    while (cap < p->len + extra + 1)
        cap *= 2;
    p->buf = cq_realloc(p->buf, cap);
    p->cap = cap;
}

static void cq_align_prose_append(cq_align_prose_t *p, const char *s, size_t n)
{
    cq_align_prose_reserve(p, n);
    if (n) /* s may be NULL for nothing; memcpy from NULL is undefined even for 0 bytes */
        memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

void cq_align_prose_printf(cq_align_prose_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    cq_align_prose_reserve(p, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(p->buf + p->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    p->len += (size_t)n;
}

void cq_align_prose_fill(cq_align_prose_t *p, const char *tmpl, const cq_align_var_t *vars,
                         size_t nvars)
{
    const char *s = tmpl ? tmpl : "";
    while (*s) {
        const char *open = strchr(s, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        if (!open || !close) {
            cq_align_prose_append(p, s, strlen(s));
            return;
        }
        cq_align_prose_append(p, s, (size_t)(open - s));
        size_t klen = (size_t)(close - open - 1);
        for (size_t i = 0; i < nvars; i++) {
            if (strlen(vars[i].key) == klen && strncmp(vars[i].key, open + 1, klen) == 0) {
                if (vars[i].value)
                    cq_align_prose_append(p, vars[i].value, strlen(vars[i].value));
                break;
            }
        }
        s = close + 1;
    }
}

bool cq_align_prose_fillable(const char *tmpl, const cq_align_var_t *vars, size_t nvars)
{
    for (const char *s = strchr(tmpl, '{'); s; s = strchr(s + 1, '{')) {
        const char *close = strchr(s, '}');
        if (!close)
            return true;
        size_t klen = (size_t)(close - s - 1);
        bool ok = false;
        for (size_t i = 0; i < nvars && !ok; i++)
            ok = strlen(vars[i].key) == klen && strncmp(vars[i].key, s + 1, klen) == 0 &&
                 vars[i].value && vars[i].value[0];
        if (!ok)
            return false;
    }
    return true;
}

void cq_align_prose_list(cq_align_prose_t *p, const char *const *words, size_t n, const char *conj)
{
    for (size_t i = 0; i < n; i++)
        cq_align_prose_printf(p, "%s\u201c%s\u201d",
                              i == 0       ? ""
                              : i + 1 == n ? conj
                                           : ", ",
                              words[i]);
}

json_t *cq_align_prose_take(cq_align_prose_t *p, size_t max_bytes)
{
    if (!p->buf) {
        return json_string("");
    }
    size_t n = p->len < max_bytes ? p->len : max_bytes;
    /* Back off continuation bytes so the cut falls between characters. */
    if (n < p->len)
        while (n > 0 && ((unsigned char)p->buf[n] & 0xC0) == 0x80)
            n--;
    while (n > 0 && (p->buf[n - 1] == ' ' || p->buf[n - 1] == '\n'))
        n--;
    size_t start = 0;
    while (start < n && (p->buf[start] == ' ' || p->buf[start] == '\n'))
        start++;
    json_t *s = json_stringn(p->buf + start, n - start);
    cq_align_prose_clear(p);
    return s ? s : json_string("");
}

void cq_align_prose_clear(cq_align_prose_t *p)
{
    free(p->buf);
    *p = (cq_align_prose_t){.buf = NULL};
}

json_t *cq_align_fill_json(const char *tmpl, const cq_align_var_t *vars, size_t nvars,
                           size_t max_bytes)
{
    cq_align_prose_t p = {.buf = NULL};
    cq_align_prose_fill(&p, tmpl, vars, nvars);
    return cq_align_prose_take(&p, max_bytes);
}

size_t cq_align_pick(const char *seed, size_t n)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *s = (const unsigned char *)(seed ? seed : ""); *s; s++) {
        h ^= *s;
        h *= 16777619u;
    }
    return n ? h % n : 0;
}
