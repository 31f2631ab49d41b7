/*
 * cq_prompt.c — template rendering and loading (see cq_prompt.h).
 *
 * One left-to-right pass copies the template and replaces each placeholder;
 * user data is only ever emitted through cq_prompt_data(), which encodes
 * it as JSON and neutralises the characters that could form a tag. That
 * single path is what keeps request text from passing for instructions.
 *
 * Stateless; any thread.
 */
#include "cq_prompt.h"
#include "cq_embedded.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CQ_PROMPT_NAME_MAX 256

static FILE *cq_prompt_stream(char **buf, size_t *len)
{
    FILE *f = open_memstream(buf, len);
    if (!f) {
        fprintf(stderr, "coachq: out of memory\n");
        abort();
    }
    return f;
}

/* Writes value as a data block: JSON with '<', '>', '&' escaped. Inside
 * JSON text these characters only occur in strings, where \u escapes mean
 * the same, so the block is still exactly the value. */
static void cq_prompt_data(FILE *f, const json_t *value, bool block)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (!text) {
        fprintf(stderr, "coachq: out of memory\n");
        abort();
    }
    fputs(block ? CQ_PROMPT_DATA_OPEN "\n" : CQ_PROMPT_DATA_OPEN, f);
    for (const char *p = text; *p; p++) {
        if (*p == '<')
            fputs("\\u003c", f);
        else if (*p == '>')
            fputs("\\u003e", f);
        else if (*p == '&')
            fputs("\\u0026", f);
        else
            fputc(*p, f);
    }
    fputs(block ? "\n" CQ_PROMPT_DATA_CLOSE : CQ_PROMPT_DATA_CLOSE, f);
    free(text);
}

static bool cq_prompt_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* The field at a dotted path; NULL when absent. */
static const json_t *cq_prompt_field(const json_t *request, const char *path)
{
    const json_t *cur = request;
    char part[CQ_PROMPT_NAME_MAX];
    while (cur && *path) {
        size_t n = strcspn(path, ".");
        memcpy(part, path, n);
        part[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, part);
        } else if (json_is_array(cur) && n > 0 && strspn(part, "0123456789") == n) {
            cur = json_array_get(cur, strtoul(part, NULL, 10));
        } else {
            cur = NULL;
        }
        path += n;
        if (*path == '.')
            path++;
    }
    return cur;
}

char *cq_prompt_render(const char *template, const json_t *request, char *errstr,
                       size_t errstr_size)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = cq_prompt_stream(&buf, &len);
    const char *p = template ? template : "";
    bool ok = true;

    while (*p) {
        const char *open = strstr(p, "{{");
        if (!open) {
            fputs(p, f);
            break;
        }
        fwrite(p, 1, (size_t)(open - p), f);
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            cq_errstr_set(errstr, errstr_size, "unterminated placeholder at offset %zu",
                          (size_t)(open - template));
            ok = false;
            break;
        }
        const char *s = open + 2, *e = close;
        while (s < e && *s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        bool optional = e > s && e[-1] == '?';
        if (optional)
            e--;
        char name[CQ_PROMPT_NAME_MAX];
        size_t n = (size_t)(e - s);
        bool valid = n > 0 && n < sizeof(name) && s[0] != '.' && s[n - 1] != '.';
        for (size_t i = 0; valid && i < n; i++)
            valid = cq_prompt_name_char(s[i]) && !(s[i] == '.' && s[i + 1] == '.');
        if (!valid) {
            cq_errstr_set(errstr, errstr_size, "malformed placeholder \"%.*s\" at offset %zu",
                          (int)(close + 2 - open > 80 ? 80 : close + 2 - open), open,
                          (size_t)(open - template));
            ok = false;
            break;
        }
        memcpy(name, s, n);
        name[n] = '\0';
        if (strcmp(name, "request") == 0) {
            if (!request) {
                cq_errstr_set(errstr, errstr_size, "{{request}} without a request");
                ok = false;
                break;
            }
            cq_prompt_data(f, request, true);
        } else {
            const json_t *value = cq_prompt_field(request, name);
            if (!value && !optional) {
                cq_errstr_set(errstr, errstr_size,
                              "template field \"%s\" is not in the request (write {{%s?}} "
                              "if it is optional)",
                              name, name);
                ok = false;
                break;
            }
            json_t *null = value ? NULL : json_null();
            cq_prompt_data(f, value ? value : null, false);
            json_decref(null);
        }
        p = close + 2;
    }

    if (ferror(f) || fclose(f) != 0) {
        fprintf(stderr, "coachq: out of memory\n");
        abort();
    }
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

static bool cq_prompt_safe_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* A folder of the source tree: safe names joined by '/', no "." or ".." part. */
static bool cq_prompt_safe_dir(const char *dir)
{
    if (!dir || !*dir || *dir == '/' || strstr(dir, "//") || dir[strlen(dir) - 1] == '/')
        return false;
    for (const char *s = dir; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
              *s == '/'))
            return false;
    return true;
}

static char *cq_prompt_file(const char *dir, const char *operation, const char *part)
{
    char *name = cq_asprintf("%s/%s.%s.txt", dir, operation, part);
    size_t len = 0;
    const char *data = cq_embedded_get(name, &len);
    free(name);
    return data ? cq_strndup(data, len) : NULL;
}

cq_err_t cq_prompt_load(const char *dir, const char *operation, char **system, char **user)
{
    *system = NULL;
    *user = NULL;
    if (!cq_prompt_safe_dir(dir) || !cq_prompt_safe_name(operation))
        return CQ_ERR_CONFIG;
    *system = cq_prompt_file(dir, operation, "system");
    *user = cq_prompt_file(dir, operation, "user");
    if (*system && *user)
        return CQ_ERR_OK;
    free(*system);
    free(*user);
    *system = NULL;
    *user = NULL;
    return CQ_ERR_CONFIG;
}
