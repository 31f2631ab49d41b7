/*
 * cq_avro_value.c — the walk between JSON and avro-c generic values that the
 * codec (cq_avro.c) runs for every message, and the bounded pre-check of
 * untrusted bytes.
 *
 * Why skim(): avro-c 1.11.1 trusts what it reads. A string length of 2^31
 * makes it malloc 2 GiB before it notices the buffer is short (and it leaks
 * the block on that error path); an enum index out of range is stored as is;
 * array block counts are believed. So every message is first walked here
 * against the node graph, allocating nothing: at most 10 bytes per varint
 * (and no bits past 64), string lengths within the bytes left, union and
 * enum indexes in range, booleans 0 or 1, ints within 32 bits, no more array
 * items in the whole message than it has bytes or CQ_AVRO_MAX_ITEMS, nesting
 * at most CQ_AVRO_MAX_DEPTH. A message that passes cannot make
 * avro_value_read() fail, and what it allocates is bounded by the message
 * size and the item cap (strings are allocated at their real length).
 *
 * Encoding checks the JSON against the node graph as it fills the value
 * (v NULL: check only, used to pick the first union branch a value fits).
 * Decoding turns the value back into JSON: optional fields that are null are
 * left out, JSON-text strings are parsed, invalid UTF-8 and non-finite
 * doubles are rejected. Stateless: any thread, any number at once.
 */
#include "cq_avro_value.h"

#include "cq_avro.h" /* limits */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const unsigned char *p, *end;
    size_t items_left; /* array items still allowed in this message */
} skim_t;

static bool skim_long(skim_t *s, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (s->p >= s->end)
            return false;
        unsigned char b = *s->p++;
        if (shift == 63 && (b & 0x7e))
            return false; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)((v >> 1) ^ (~(v & 1) + 1));
            return true;
        }
    }
    return false;
}

static bool skim_bytes(skim_t *s, size_t n)
{
    if ((size_t)(s->end - s->p) < n)
        return false;
    s->p += n;
    return true;
}

static bool skim(skim_t *s, const cq_avro_node_t *node, int depth)
{
    int64_t v;
    if (depth > CQ_AVRO_MAX_DEPTH)
        return false;
    switch (node->kind) {
    case CQ_AVRO_NULL:
        return true;
    case CQ_AVRO_BOOLEAN:
        return s->p < s->end && *s->p++ <= 1;
    case CQ_AVRO_INT:
        return skim_long(s, &v) && v >= INT32_MIN && v <= INT32_MAX;
    case CQ_AVRO_LONG:
        return skim_long(s, &v);
    case CQ_AVRO_DOUBLE:
        return skim_bytes(s, 8);
    case CQ_AVRO_STRING:
    case CQ_AVRO_JSON_TEXT:
        return skim_long(s, &v) && v >= 0 && (uint64_t)v <= (uint64_t)(s->end - s->p) &&
               skim_bytes(s, (size_t)v);
    case CQ_AVRO_ENUM:
        return skim_long(s, &v) && v >= 0 && (uint64_t)v < node->count;
    case CQ_AVRO_UNION:
        return skim_long(s, &v) && v >= 0 && (uint64_t)v < node->count &&
               skim(s, node->branches[v], depth + 1);
    case CQ_AVRO_RECORD:
        for (size_t i = 0; i < node->count; i++)
            if (!skim(s, node->fields[i].type, depth + 1))
                return false;
        return true;
    case CQ_AVRO_ARRAY:
        for (;;) {
            if (!skim_long(s, &v))
                return false;
            if (v == 0)
                return true;
            if (v < 0) {
                int64_t block_size;
                if (v == INT64_MIN || !skim_long(s, &block_size) || block_size < 0 ||
                    (uint64_t)block_size > (uint64_t)(s->end - s->p))
                    return false;
                v = -v;
            }
            if ((uint64_t)v > s->items_left)
                return false;
            s->items_left -= (size_t)v;
            for (int64_t i = 0; i < v; i++)
                if (!skim(s, node->items, depth + 1))
                    return false;
        }
    }
    return false;
}

/* ---- shared helpers ----------------------------------------------------- */

void cq_avro_walk_init(cq_avro_walk_t *w, cq_err_t err, char *errstr, size_t errstr_size)
{
    memset(w, 0, sizeof(*w));
    w->err = err;
    w->errstr = errstr;
    w->errstr_size = errstr_size;
    cq_errstr_set(errstr, errstr_size, "%s", "");
}

size_t cq_avro_walk_push(cq_avro_walk_t *w, const char *fmt, ...)
{
    size_t mark = w->path_len;
    if (w->path_len < sizeof(w->path) - 1) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(w->path + w->path_len, sizeof(w->path) - w->path_len, fmt, ap);
        va_end(ap);
        if (n > 0)
            w->path_len += (size_t)n < sizeof(w->path) - w->path_len
                               ? (size_t)n
                               : sizeof(w->path) - w->path_len - 1;
    }
    return mark;
}

void cq_avro_walk_pop(cq_avro_walk_t *w, size_t mark)
{
    w->path_len = mark;
    w->path[mark] = '\0';
}

void cq_avro_walk_note(cq_avro_walk_t *w, const char *fmt, ...)
{
    if (w->quiet || w->failed)
        return;
    w->failed = true;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cq_errstr_set(w->errstr, w->errstr_size, "%s%s%s", w->path, w->path_len ? ": " : "", msg);
}

/* avro-c failed where our own checks say it cannot: an internal error. */
void cq_avro_walk_note_avro(cq_avro_walk_t *w, int rc)
{
    if (!w->quiet)
        w->err = CQ_ERR_INTERNAL_ERROR;
    cq_avro_walk_note(w, "avro-c failed (%s)", strerror(rc));
}

bool cq_avro_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* ---- encode: JSON -> generic value (v NULL: only check that it fits) --- */

static bool encode(cq_avro_walk_t *w, const cq_avro_node_t *node, json_t *j, avro_value_t *v,
                   int depth);

static bool encode_record(cq_avro_walk_t *w, const cq_avro_node_t *node, json_t *j, avro_value_t *v,
                          int depth)
{
    const char *key;
    if (node->wrapper) {
        avro_value_t child;
        if (v)
            CQ_AVRO_AV(w, avro_value_get_by_index(v, 0, &child, NULL));
        return encode(w, node->fields[0].type, j, v ? &child : NULL, depth + 1);
    }
    if (!json_is_object(j))
        return cq_avro_walk_fail(w, "expected an object");
    for (void *it = json_object_iter(j); it && (key = json_object_iter_key(it));
         it = json_object_iter_next(j, it)) {
        bool known = false;
        for (size_t i = 0; i < node->count && !known; i++)
            known = strcmp(node->fields[i].json_name, key) == 0;
        if (!known)
            return cq_avro_walk_fail(w, "unknown property \"%s\"", key);
    }
    for (size_t i = 0; i < node->count; i++) {
        const cq_avro_field_t *f = &node->fields[i];
        avro_value_t child;
        json_t *fj = json_object_get(j, f->json_name);
        if (!fj && !f->optional)
            return cq_avro_walk_fail(w, "missing required property \"%s\"", f->json_name);
        if (v)
            CQ_AVRO_AV(w, avro_value_get_by_index(v, i, &child, NULL));
        size_t mark = cq_avro_walk_push(w, ".%s", f->json_name);
        bool ok = encode(w, f->type, fj ? fj : json_null(), v ? &child : NULL, depth + 1);
        cq_avro_walk_pop(w, mark);
        if (!ok)
            return false;
    }
    return true;
}

static bool encode_union(cq_avro_walk_t *w, const cq_avro_node_t *node, json_t *j, avro_value_t *v,
                         int depth)
{
    size_t pick = node->count, candidates = 0;
    for (size_t i = 0; i < node->count; i++) {
        if (json_is_null(j) ? node->branches[i]->kind == CQ_AVRO_NULL
                            : node->branches[i]->kind != CQ_AVRO_NULL) {
            candidates++;
            if (pick == node->count)
                pick = i;
        }
    }
    if (candidates == 0)
        return cq_avro_walk_fail(w, json_is_null(j) ? "must not be null" : "expected null");
    if (candidates > 1) {
        bool quiet = w->quiet;
        w->quiet = true;
        for (pick = 0; pick < node->count; pick++)
            if (node->branches[pick]->kind != CQ_AVRO_NULL &&
                encode(w, node->branches[pick], j, NULL, depth + 1))
                break;
        w->quiet = quiet;
        if (pick == node->count)
            return cq_avro_walk_fail(w, "matches none of the %zu alternatives of the schema",
                                     candidates);
    }
    avro_value_t branch;
    if (v)
        CQ_AVRO_AV(w, avro_value_set_branch(v, (int)pick, &branch));
    return encode(w, node->branches[pick], j, v ? &branch : NULL, depth + 1);
}

static bool encode(cq_avro_walk_t *w, const cq_avro_node_t *node, json_t *j, avro_value_t *v,
                   int depth)
{
    if (depth > CQ_AVRO_MAX_DEPTH)
        return cq_avro_walk_fail(w, "nested deeper than %d levels", CQ_AVRO_MAX_DEPTH);
    switch (node->kind) {
    case CQ_AVRO_NULL:
        if (!json_is_null(j))
            return cq_avro_walk_fail(w, "expected null");
        if (v)
            CQ_AVRO_AV(w, avro_value_set_null(v));
        return true;
    case CQ_AVRO_BOOLEAN:
        if (!json_is_boolean(j))
            return cq_avro_walk_fail(w, "expected a boolean");
        if (v)
            CQ_AVRO_AV(w, avro_value_set_boolean(v, json_is_true(j)));
        return true;
    case CQ_AVRO_INT:
        if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
            json_integer_value(j) > INT32_MAX)
            return cq_avro_walk_fail(w, "expected a 32-bit integer");
        if (v)
            CQ_AVRO_AV(w, avro_value_set_int(v, (int32_t)json_integer_value(j)));
        return true;
    case CQ_AVRO_LONG: {
        int64_t n;
        double d = json_is_real(j) ? json_real_value(j) : 0;
        if (json_is_integer(j))
            n = json_integer_value(j);
        else if (json_is_real(j) && d == floor(d) && d >= (double)INT64_MIN &&
                 d < -(double)INT64_MIN)
            n = (int64_t)d;
        else
            return cq_avro_walk_fail(w, "expected an integer");
        if (v)
            CQ_AVRO_AV(w, avro_value_set_long(v, n));
        return true;
    }
    case CQ_AVRO_DOUBLE:
        if (!json_is_number(j))
            return cq_avro_walk_fail(w, "expected a number");
        if (v)
            CQ_AVRO_AV(w, avro_value_set_double(v, json_number_value(j)));
        return true;
    case CQ_AVRO_STRING:
        if (!json_is_string(j))
            return cq_avro_walk_fail(w, "expected a string");
        if (node->konst && !json_equal(j, node->konst))
            return cq_avro_walk_fail(w, "expected \"%s\"", json_string_value(node->konst));
        if (v)
            CQ_AVRO_AV(w, avro_value_set_string_len(v, (char *)json_string_value(j),
                                                    json_string_length(j) + 1));
        return true;
    case CQ_AVRO_JSON_TEXT:
        if (v) {
            char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!text)
                return cq_avro_walk_fail(w, "cannot serialise the value as JSON");
            int rc = avro_value_set_string_len(v, text, strlen(text) + 1);
            free(text);
            if (rc)
                return cq_avro_walk_avro_fail(w, rc);
        }
        return true;
    case CQ_AVRO_ENUM:
        for (size_t i = 0; json_is_string(j) && i < node->count; i++) {
            if (strcmp(node->symbols[i], json_string_value(j)) == 0) {
                if (v)
                    CQ_AVRO_AV(w, avro_value_set_enum(v, (int)i));
                return true;
            }
        }
        return cq_avro_walk_fail(w, "expected one of the %zu values of %s", node->count,
                                 node->name);
    case CQ_AVRO_ARRAY: {
        size_t i;
        json_t *item;
        if (!json_is_array(j))
            return cq_avro_walk_fail(w, "expected an array");
        if (v && (w->items += json_array_size(j)) > CQ_AVRO_MAX_ITEMS)
            return cq_avro_walk_fail(w, "more than %d array items in one message",
                                     CQ_AVRO_MAX_ITEMS);
        for (i = 0; i < json_array_size(j) && (item = json_array_get(j, i)); i++) {
            avro_value_t child;
            if (v)
                CQ_AVRO_AV(w, avro_value_append(v, &child, NULL));
            size_t mark = cq_avro_walk_push(w, "[%zu]", i);
            bool ok = encode(w, node->items, item, v ? &child : NULL, depth + 1);
            cq_avro_walk_pop(w, mark);
            if (!ok)
                return false;
        }
        return true;
    }
    case CQ_AVRO_RECORD:
        return encode_record(w, node, j, v, depth);
    case CQ_AVRO_UNION:
        return encode_union(w, node, j, v, depth);
    }
    return cq_avro_walk_fail(w, "unsupported schema node");
}

/* ---- decode: generic value -> JSON ------------------------------------ */

bool cq_avro_value_get_string(cq_avro_walk_t *w, avro_value_t *v, const char **s, size_t *len)
{
    size_t size = 0;
    CQ_AVRO_AV(w, avro_value_get_string(v, s, &size));
    *len = size ? size - 1 : 0;
    if (!cq_avro_utf8_valid((const unsigned char *)*s, *len))
        return cq_avro_walk_fail(w, "invalid UTF-8");
    return true;
}

static bool decode(cq_avro_walk_t *w, const cq_avro_node_t *node, avro_value_t *v, json_t **out,
                   int depth);

static bool decode_value(cq_avro_walk_t *w, const cq_avro_node_t *node, avro_value_t *v,
                         json_t **out, int depth)
{
    if (depth > CQ_AVRO_MAX_DEPTH)
        return cq_avro_walk_fail(w, "nested deeper than %d levels", CQ_AVRO_MAX_DEPTH);
    switch (node->kind) {
    case CQ_AVRO_NULL:
        *out = json_null();
        return true;
    case CQ_AVRO_BOOLEAN: {
        int b;
        CQ_AVRO_AV(w, avro_value_get_boolean(v, &b));
        *out = json_boolean(b);
        return true;
    }
    case CQ_AVRO_INT: {
        int32_t n;
        CQ_AVRO_AV(w, avro_value_get_int(v, &n));
        *out = json_integer(n);
        return true;
    }
    case CQ_AVRO_LONG: {
        int64_t n;
        CQ_AVRO_AV(w, avro_value_get_long(v, &n));
        *out = json_integer(n);
        return true;
    }
    case CQ_AVRO_DOUBLE: {
        double d;
        CQ_AVRO_AV(w, avro_value_get_double(v, &d));
        if (!isfinite(d))
            return cq_avro_walk_fail(w, "not a finite number");
        /* JSON has one number type: an integral value comes back as 3, not 3.0 */
        *out = d == floor(d) && fabs(d) <= 0x1p53 ? json_integer((json_int_t)d) : json_real(d);
        return true;
    }
    case CQ_AVRO_STRING: {
        const char *s;
        size_t len;
        if (!cq_avro_value_get_string(w, v, &s, &len))
            return false;
        *out = json_stringn(s, len);
        return *out || cq_avro_walk_fail(w, "invalid string");
    }
    case CQ_AVRO_JSON_TEXT: {
        const char *s;
        size_t len;
        json_error_t jerr;
        if (!cq_avro_value_get_string(w, v, &s, &len))
            return false;
        *out = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        return *out || cq_avro_walk_fail(w, "invalid JSON text: %s", jerr.text);
    }
    case CQ_AVRO_ENUM: {
        int e;
        CQ_AVRO_AV(w, avro_value_get_enum(v, &e));
        if (e < 0 || (size_t)e >= node->count)
            return cq_avro_walk_fail(w, "enum index out of range");
        *out = json_string(node->symbols[e]);
        return true;
    }
    case CQ_AVRO_ARRAY: {
        size_t n;
        CQ_AVRO_AV(w, avro_value_get_size(v, &n));
        *out = json_array();
        for (size_t i = 0; i < n; i++) {
            avro_value_t child;
            json_t *item;
            CQ_AVRO_AV(w, avro_value_get_by_index(v, i, &child, NULL));
            size_t mark = cq_avro_walk_push(w, "[%zu]", i);
            bool ok = decode(w, node->items, &child, &item, depth + 1);
            cq_avro_walk_pop(w, mark);
            if (!ok)
                return false;
            json_array_append_new(*out, item);
        }
        return true;
    }
    case CQ_AVRO_RECORD:
        if (node->wrapper) {
            avro_value_t child;
            CQ_AVRO_AV(w, avro_value_get_by_index(v, 0, &child, NULL));
            return decode(w, node->fields[0].type, &child, out, depth + 1);
        }
        *out = json_object();
        for (size_t i = 0; i < node->count; i++) {
            const cq_avro_field_t *f = &node->fields[i];
            avro_value_t child;
            json_t *fj;
            CQ_AVRO_AV(w, avro_value_get_by_index(v, i, &child, NULL));
            size_t mark = cq_avro_walk_push(w, ".%s", f->json_name);
            bool ok = decode(w, f->type, &child, &fj, depth + 1);
            cq_avro_walk_pop(w, mark);
            if (!ok)
                return false;
            if (f->optional && json_is_null(fj))
                continue; /* absent in, absent out */
            json_object_set_new(*out, f->json_name, fj);
        }
        return true;
    case CQ_AVRO_UNION: {
        int d;
        avro_value_t branch;
        CQ_AVRO_AV(w, avro_value_get_discriminant(v, &d));
        if (d < 0 || (size_t)d >= node->count)
            return cq_avro_walk_fail(w, "union index out of range");
        CQ_AVRO_AV(w, avro_value_get_current_branch(v, &branch));
        return decode(w, node->branches[d], &branch, out, depth + 1);
    }
    }
    return cq_avro_walk_fail(w, "unsupported schema node");
}

/* On failure *out is NULL: partial arrays and objects are freed here. */
static bool decode(cq_avro_walk_t *w, const cq_avro_node_t *node, avro_value_t *v, json_t **out,
                   int depth)
{
    *out = NULL;
    if (decode_value(w, node, v, out, depth))
        return true;
    json_decref(*out);
    *out = NULL;
    return false;
}

bool cq_avro_value_skim(const cq_avro_node_t *root, const void *buf, size_t len, size_t *trailing)
{
    skim_t s = {buf, (const unsigned char *)buf + len,
                len < CQ_AVRO_MAX_ITEMS ? len : CQ_AVRO_MAX_ITEMS};
    if (!skim(&s, root, 0))
        return false;
    *trailing = (size_t)(s.end - s.p);
    return true;
}

bool cq_avro_value_encode(cq_avro_walk_t *w, const cq_avro_node_t *node, json_t *j, avro_value_t *v)
{
    return encode(w, node, j, v, 1);
}

bool cq_avro_value_decode(cq_avro_walk_t *w, const cq_avro_node_t *node, avro_value_t *v,
                          json_t **out)
{
    return decode(w, node, v, out, 1);
}
