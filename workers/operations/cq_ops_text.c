/*
 * cq_ops_text.c — helpers of the operations text engines (see the header).
 *
 * Data files and lexicons: the first call for a name parses the embedded
 * file (or builds the lexicon) and keeps it in a small table under a mutex;
 * the JSON is never changed or freed afterwards, so callers read it without
 * a lock (jansson's reference counts are atomic, so taking a reference to a
 * shared value is safe too). The tables are sized for the handful of files
 * and lexicons the engines use; a name beyond them is refused (NULL) rather
 * than built again on every call. Files and lexicons have a lock each: a
 * lexicon's maker reads a data file while the lexicon lock is held (lock
 * order lexicons -> files, never the reverse), and must not ask for
 * another lexicon.
 *
 * Threads: any thread; a lock is held only while a file or lexicon is
 * looked up, or made the first time.
 */
#include "cq_ops_text.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_embedded.h"
#include "cq_text.h"

#define CQ_OPS_TEXT_FILES_MAX 8

typedef struct {
    char name[64];
    json_t *json;
} cq_ops_text_entry_t;

static pthread_mutex_t cq_ops_text_files_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cq_ops_text_lexicons_lock = PTHREAD_MUTEX_INITIALIZER;
static cq_ops_text_entry_t cq_ops_text_files[CQ_OPS_TEXT_FILES_MAX];
static cq_ops_text_entry_t cq_ops_text_lexicons[CQ_OPS_TEXT_FILES_MAX];

/* Looks name up in table, or makes it with make(arg) and keeps it there.
 * Called with the table's lock held. */
static json_t *cq_ops_text_cache(cq_ops_text_entry_t *table, const char *name,
                                 json_t *(*make)(const void *), const void *arg)
{
    size_t i = 0;
    for (; i < CQ_OPS_TEXT_FILES_MAX && table[i].name[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].json;
    if (i == CQ_OPS_TEXT_FILES_MAX || strlen(name) >= sizeof(table[i].name))
        return NULL;
    json_t *made = make(arg);
    if (made) {
        cq_strlcpy(table[i].name, name, sizeof(table[i].name));
        table[i].json = made;
    }
    return made;
}

static json_t *cq_ops_text_parse(const void *name)
{
    char path[128];
    snprintf(path, sizeof(path), "workers/operations/data/%s", (const char *)name);
    size_t len = 0;
    const char *text = cq_embedded_get(path, &len);
    json_error_t error;
    return text ? json_loadb(text, len, 0, &error) : NULL;
}

const json_t *cq_ops_text_data(const char *name)
{
    pthread_mutex_lock(&cq_ops_text_files_lock);
    json_t *found = cq_ops_text_cache(cq_ops_text_files, name, cq_ops_text_parse, name);
    pthread_mutex_unlock(&cq_ops_text_files_lock);
    return found;
}

static json_t *cq_ops_text_make_lexicon(const void *make_)
{
    json_t *(*const *make)(void) = make_;
    json_t *classes = (*make)();
    if (!classes)
        return NULL;
    json_t *stems = cq_ops_text_lexicon_new(classes);
    json_decref(classes);
    return stems;
}

const json_t *cq_ops_text_lexicon(const char *key, json_t *(*make)(void))
{
    pthread_mutex_lock(&cq_ops_text_lexicons_lock);
    json_t *found = cq_ops_text_cache(cq_ops_text_lexicons, key, cq_ops_text_make_lexicon, &make);
    pthread_mutex_unlock(&cq_ops_text_lexicons_lock);
    return found;
}

json_t *cq_ops_text_lexicon_new(const json_t *lexicon)
{
    json_t *stems = json_object();
    const char *cls;
    const json_t *words;
    int index = 0;
    json_object_foreach((json_t *)lexicon, cls, words)
    {
        for (size_t i = 0; i < json_array_size(words); i++) {
            const char *word = json_string_value(json_array_get(words, i));
            if (!word)
                continue;
            char lower[CQ_TEXT_TOKEN_MAX], stem[CQ_TEXT_TOKEN_MAX];
            size_t k = 0;
            for (; word[k] && k + 1 < sizeof(lower); k++)
                lower[k] = (char)tolower((unsigned char)word[k]);
            lower[k] = '\0';
            cq_text_stem(lower, stem, sizeof(stem));
            if (!json_object_get(stems, stem))
                json_object_set_new(stems, stem, json_integer(index));
        }
        index++;
    }
    return stems;
}

int cq_ops_text_lexicon_class(const json_t *stems, const char *token)
{
    char stem[CQ_TEXT_TOKEN_MAX];
    cq_text_stem(token, stem, sizeof(stem));
    const json_t *v = json_object_get(stems, stem);
    return v ? (int)json_integer_value(v) : -1;
}

char *cq_ops_text_fill(const char *tmpl, const char *const *keys, const char *const *vals, size_t n)
{
    size_t cap = strlen(tmpl) + 1, len = 0;
    for (size_t i = 0; i < n; i++)
        cap += vals[i] ? strlen(vals[i]) * 4 : 0; /* a key may repeat a few times */
    char *out = cq_malloc(cap);
    for (const char *p = tmpl; *p;) {
        bool done = false;
        if (*p == '{') {
            for (size_t i = 0; i < n && !done; i++) {
                size_t kl = strlen(keys[i]);
                if (strncmp(p + 1, keys[i], kl) == 0 && p[1 + kl] == '}') {
                    const char *v = vals[i] ? vals[i] : "";
                    size_t vl = strlen(v);
                    if (len + vl + 1 > cap) {
                        cap = (len + vl + 1) * 2;
                        out = cq_realloc(out, cap);
                    }
                    memcpy(out + len, v, vl);
                    len += vl;
                    p += kl + 2;
                    done = true;
                }
            }
        }
        if (!done) {
            if (len + 2 > cap) {
                cap = (len + 2) * 2;
                out = cq_realloc(out, cap);
            }
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

size_t cq_ops_text_sentences(const char *text, cq_ops_sentence_t *out, size_t max)
{
    size_t n = 0;
    const char *start = text;
    if (!text)
        return 0;
    for (const char *p = text;; p++) {
        bool end = *p == '\0' || *p == '\n' ||
                   ((*p == '.' || *p == '!' || *p == '?' || *p == ';') &&
                    (p[1] == '\0' || isspace((unsigned char)p[1])));
        if (!end)
            continue;
        const char *s = start, *e = *p == '\0' || *p == '\n' ? p : p + 1;
        while (s < e && isspace((unsigned char)*s))
            s++;
        bool words = false;
        for (const char *q = s; q < e && !words; q++)
            words = isalnum((unsigned char)*q) || (unsigned char)*q >= 0x80;
        if (words && n < max)
            out[n++] = (cq_ops_sentence_t){.start = s, .len = (size_t)(e - s)};
        if (*p == '\0' || n == max)
            break;
        start = p + 1;
    }
    return n;
}

char *cq_ops_text_sentence_dup(const cq_ops_sentence_t *s, size_t max_bytes)
{
    size_t len = s->len;
    while (len > 0 && strchr(".!?; \t\r\n", s->start[len - 1]))
        len--;
    char *raw = cq_strndup(s->start, len);
    char *out = cq_ops_text_excerpt(raw, max_bytes);
    free(raw);
    return out;
}

char *cq_ops_text_excerpt(const char *text, size_t max_bytes)
{
    size_t size = max_bytes + 8;
    char *out = cq_malloc(size);
    cq_text_excerpt(text ? text : "", max_bytes, out, size);
    return out;
}

bool cq_ops_text_contains(const char *haystack, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0)
        return true;
    for (const char *p = haystack; *p; p++)
        if (strncasecmp(p, needle, nl) == 0)
            return true;
    return false;
}

void cq_ops_buf_printf(cq_ops_buf_t *b, const char *fmt, ...)
{
    if (b->len >= sizeof(b->buf) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, sizeof(b->buf) - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(b->buf) - b->len) {
        b->len += (size_t)n;
        return;
    }
    /* Truncated: drop a last character that was cut. */
    size_t len = sizeof(b->buf) - 1, lead = len;
    while (lead > 0 && ((unsigned char)b->buf[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead > 0) {
        unsigned char c = (unsigned char)b->buf[lead - 1];
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (lead - 1 + need > len)
            len = lead - 1;
    }
    b->len = len;
    b->buf[len] = '\0';
}

void cq_ops_buf_list(cq_ops_buf_t *b, const char *const *words, size_t n, const char *conj)
{
    for (size_t i = 0; i < n; i++)
        cq_ops_buf_printf(b, "%s\u201c%s\u201d", i == 0 ? "" : i + 1 == n ? conj : ", ", words[i]);
}
