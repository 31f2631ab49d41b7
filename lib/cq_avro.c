/*
 * cq_avro.c — Avro binary codec of coachq's Kafka messages on top of avro-c.
 *
 * cq_avro_new() generates the schemas (cq_avro_schema.c), has avro-c parse
 * them and builds one generic value class per schema. Encoding walks the
 * JSON (or the struct) together with the node graph of cq_avro_schema.h,
 * fills an avro-c generic value and writes it; decoding reads it back and
 * walks it the same way.
 *
 * Untrusted input. avro-c 1.11.1 trusts the bytes it reads: a string length
 * of 2^31 makes it malloc 2 GiB before noticing the buffer is short (and it
 * leaks that block on the error path), an enum index out of range is stored
 * as is, array block counts are believed. So every message is first checked
 * by skim(), our own bounded walk of the bytes against the schema: size at
 * most CQ_AVRO_MAX_MESSAGE, varints of at most 10 bytes, string lengths
 * within the bytes left, union and enum indexes in range, booleans 0/1, ints
 * in range, array items no more numerous than the message's bytes, nesting
 * at most CQ_AVRO_MAX_DEPTH, no trailing bytes. Only a message that passes
 * reaches avro_value_read(), which then cannot fail or over-allocate; the
 * conversion to JSON further rejects invalid UTF-8, NULs inside id strings,
 * non-finite doubles and JSON-text fields that are not JSON.
 *
 * Threads. The gateway encodes from hundreds of threads with one cq_avro_t.
 * After cq_avro_new() everything here is read-only: the node graph, the
 * schemas, and the generic value classes, which each call only uses to make
 * its own value instance (avro_generic_value_new), reader and writer. The
 * only shared writes are reference counts, and Debian's libavro.so.23
 * (1.11.1) is built with the GCC __sync builtins for them (lock-prefixed
 * add/sub in avro_schema_incref and the generic class increfs; the
 * AVRO_NON_ATOMIC_REFCOUNT variant is not used), so no mutex is needed.
 * avro-c keeps its last error message in a process-wide static buffer (not
 * thread-local): we never read avro_strerror() after cq_avro_new(), and the
 * checks above keep avro-c off its error paths, so it is never written
 * concurrently either; an unexpected avro-c failure is reported by its errno.
 */
#include "cq_avro.h"

#include <avro.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cq_avro_schema.h"

typedef struct {
    avro_schema_t schema;
    avro_value_iface_t *iface;
} cq_avro_class_t;

struct cq_avro_s {
    cq_avro_schema_t *gen;
    cq_avro_class_t envelope, result;
};

/* ---- construction ----------------------------------------------------- */

static bool class_init(cq_avro_class_t *cls, const json_t *json, const char *what, char *errstr,
                       size_t errstr_size)
{
    char *text = json_dumps(json, JSON_COMPACT);
    int rc = text ? avro_schema_from_json_length(text, strlen(text), &cls->schema) : EINVAL;
    free(text);
    if (rc != 0) {
        cq_errstr_set(errstr, errstr_size, "avro-c rejects the generated %s schema: %s", what,
                      avro_strerror());
        cls->schema = NULL;
        return false;
    }
    cls->iface = avro_generic_class_from_schema(cls->schema);
    if (!cls->iface) {
        cq_errstr_set(errstr, errstr_size, "avro-c cannot build a value class for %s: %s", what,
                      avro_strerror());
        return false;
    }
    return true;
}

static void class_term(cq_avro_class_t *cls)
{
    if (cls->iface)
        avro_value_iface_decref(cls->iface);
    if (cls->schema)
        avro_schema_decref(cls->schema);
}

cq_avro_t *cq_avro_new(json_t *openapi, char *errstr, size_t errstr_size)
{
    cq_avro_t *avro = cq_calloc(1, sizeof(*avro));
    avro->gen = cq_avro_schema_new(openapi, errstr, errstr_size);
    if (!avro->gen ||
        !class_init(&avro->envelope, avro->gen->envelope.json, "JobEnvelope", errstr,
                    errstr_size) ||
        !class_init(&avro->result, avro->gen->result.json, "JobResult", errstr, errstr_size)) {
        cq_avro_destroy(avro);
        return NULL;
    }
    return avro;
}

void cq_avro_destroy(cq_avro_t *avro)
{
    if (!avro)
        return;
    class_term(&avro->envelope);
    class_term(&avro->result);
    cq_avro_schema_destroy(avro->gen);
    free(avro);
}

static const cq_avro_gen_schema_t *gen_schema_named(const cq_avro_t *avro, const char *record)
{
    if (!avro || !record)
        return NULL;
    if (strcmp(record, "JobEnvelope") == 0)
        return &avro->gen->envelope;
    if (strcmp(record, "JobResult") == 0)
        return &avro->gen->result;
    return NULL;
}

json_t *cq_avro_schema_json(const cq_avro_t *avro, const char *record)
{
    const cq_avro_gen_schema_t *gs = gen_schema_named(avro, record);
    return gs ? gs->json : NULL;
}

const char *cq_avro_fingerprint(const cq_avro_t *avro, const char *record)
{
    const cq_avro_gen_schema_t *gs = gen_schema_named(avro, record);
    return gs ? gs->fingerprint : NULL;
}

void cq_job_envelope_clear(cq_job_envelope_t *env)
{
    if (!env)
        return;
    free(env->job_id);
    free(env->tenant_id);
    free(env->user_id);
    free(env->operation);
    free(env->reply_to);
    free(env->trace_parent);
    free(env->batch_id);
    free(env->custom_id);
    json_decref(env->payload);
    memset(env, 0, sizeof(*env));
}

void cq_job_result_msg_clear(cq_job_result_msg_t *msg)
{
    if (!msg)
        return;
    free(msg->job_id);
    free(msg->tenant_id);
    free(msg->user_id);
    free(msg->operation);
    free(msg->status);
    json_decref(msg->engine);
    json_decref(msg->result);
    free(msg->error_code);
    free(msg->error_message);
    free(msg->batch_id);
    free(msg->custom_id);
    memset(msg, 0, sizeof(*msg));
}

/* ---- skim: bounded validation of untrusted bytes ----------------------- */

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

typedef struct {
    char path[256];
    size_t path_len;
    bool quiet;  /* trying a union branch: record no message */
    bool failed; /* a message was recorded */
    cq_err_t err;
    char *errstr;
    size_t errstr_size;
} walk_t;

static void walk_init(walk_t *w, cq_err_t err, char *errstr, size_t errstr_size)
{
    memset(w, 0, sizeof(*w));
    w->err = err;
    w->errstr = errstr;
    w->errstr_size = errstr_size;
    cq_errstr_set(errstr, errstr_size, "%s", "");
}

static size_t path_push(walk_t *w, const char *fmt, ...) CQ_PRINTF(2, 3);
static size_t path_push(walk_t *w, const char *fmt, ...)
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

static void path_pop(walk_t *w, size_t mark)
{
    w->path_len = mark;
    w->path[mark] = '\0';
}

static bool walk_fail(walk_t *w, const char *fmt, ...) CQ_PRINTF(2, 3);
static bool walk_fail(walk_t *w, const char *fmt, ...)
{
    if (w->quiet || w->failed)
        return false;
    w->failed = true;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cq_errstr_set(w->errstr, w->errstr_size, "%s%s%s", w->path, w->path_len ? ": " : "", msg);
    return false;
}

/* avro-c failed where our own checks say it cannot: an internal error. */
static bool avro_fail(walk_t *w, int rc)
{
    if (!w->quiet)
        w->err = CQ_ERR_INTERNAL_ERROR;
    return walk_fail(w, "avro-c failed (%s)", strerror(rc));
}

#define AV(w, call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            return avro_fail((w), rc_);                                                            \
    } while (0)

static bool utf8_valid(const unsigned char *s, size_t len)
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

static bool encode(walk_t *w, const cq_avro_node_t *node, json_t *j, avro_value_t *v, int depth);

static bool encode_record(walk_t *w, const cq_avro_node_t *node, json_t *j, avro_value_t *v,
                          int depth)
{
    const char *key;
    json_t *val;
    if (node->wrapper) {
        avro_value_t child;
        if (v)
            AV(w, avro_value_get_by_index(v, 0, &child, NULL));
        return encode(w, node->fields[0].type, j, v ? &child : NULL, depth + 1);
    }
    if (!json_is_object(j))
        return walk_fail(w, "expected an object");
    json_object_foreach(j, key, val)
    {
        bool known = false;
        for (size_t i = 0; i < node->count && !known; i++)
            known = strcmp(node->fields[i].json_name, key) == 0;
        if (!known)
            return walk_fail(w, "unknown property \"%s\"", key);
    }
    for (size_t i = 0; i < node->count; i++) {
        const cq_avro_field_t *f = &node->fields[i];
        avro_value_t child;
        json_t *fj = json_object_get(j, f->json_name);
        if (!fj && !f->optional)
            return walk_fail(w, "missing required property \"%s\"", f->json_name);
        if (v)
            AV(w, avro_value_get_by_index(v, i, &child, NULL));
        size_t mark = path_push(w, ".%s", f->json_name);
        bool ok = encode(w, f->type, fj ? fj : json_null(), v ? &child : NULL, depth + 1);
        path_pop(w, mark);
        if (!ok)
            return false;
    }
    return true;
}

static bool encode_union(walk_t *w, const cq_avro_node_t *node, json_t *j, avro_value_t *v,
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
        return walk_fail(w, json_is_null(j) ? "must not be null" : "expected null");
    if (candidates > 1) {
        bool quiet = w->quiet;
        w->quiet = true;
        for (pick = 0; pick < node->count; pick++)
            if (node->branches[pick]->kind != CQ_AVRO_NULL &&
                encode(w, node->branches[pick], j, NULL, depth + 1))
                break;
        w->quiet = quiet;
        if (pick == node->count)
            return walk_fail(w, "matches none of the %zu alternatives of the schema", candidates);
    }
    avro_value_t branch;
    if (v)
        AV(w, avro_value_set_branch(v, (int)pick, &branch));
    return encode(w, node->branches[pick], j, v ? &branch : NULL, depth + 1);
}

static bool encode(walk_t *w, const cq_avro_node_t *node, json_t *j, avro_value_t *v, int depth)
{
    if (depth > CQ_AVRO_MAX_DEPTH)
        return walk_fail(w, "nested deeper than %d levels", CQ_AVRO_MAX_DEPTH);
    switch (node->kind) {
    case CQ_AVRO_NULL:
        if (!json_is_null(j))
            return walk_fail(w, "expected null");
        if (v)
            AV(w, avro_value_set_null(v));
        return true;
    case CQ_AVRO_BOOLEAN:
        if (!json_is_boolean(j))
            return walk_fail(w, "expected a boolean");
        if (v)
            AV(w, avro_value_set_boolean(v, json_is_true(j)));
        return true;
    case CQ_AVRO_INT:
        if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
            json_integer_value(j) > INT32_MAX)
            return walk_fail(w, "expected a 32-bit integer");
        if (v)
            AV(w, avro_value_set_int(v, (int32_t)json_integer_value(j)));
        return true;
    case CQ_AVRO_LONG: {
        int64_t n;
        double d = json_is_real(j) ? json_real_value(j) : 0;
        if (json_is_integer(j))
            n = json_integer_value(j);
        else if (json_is_real(j) && d == floor(d) && d >= -0x1p63 && d < 0x1p63)
            n = (int64_t)d;
        else
            return walk_fail(w, "expected an integer");
        if (v)
            AV(w, avro_value_set_long(v, n));
        return true;
    }
    case CQ_AVRO_DOUBLE:
        if (!json_is_number(j))
            return walk_fail(w, "expected a number");
        if (v)
            AV(w, avro_value_set_double(v, json_number_value(j)));
        return true;
    case CQ_AVRO_STRING:
        if (!json_is_string(j))
            return walk_fail(w, "expected a string");
        if (node->konst && !json_equal(j, node->konst))
            return walk_fail(w, "expected \"%s\"", json_string_value(node->konst));
        if (v)
            AV(w, avro_value_set_string_len(v, (char *)json_string_value(j),
                                            json_string_length(j) + 1));
        return true;
    case CQ_AVRO_JSON_TEXT:
        if (v) {
            char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!text)
                return walk_fail(w, "cannot serialise the value as JSON");
            int rc = avro_value_set_string_len(v, text, strlen(text) + 1);
            free(text);
            if (rc)
                return avro_fail(w, rc);
        }
        return true;
    case CQ_AVRO_ENUM:
        for (size_t i = 0; json_is_string(j) && i < node->count; i++) {
            if (strcmp(node->symbols[i], json_string_value(j)) == 0) {
                if (v)
                    AV(w, avro_value_set_enum(v, (int)i));
                return true;
            }
        }
        return walk_fail(w, "expected one of the %zu values of %s", node->count, node->name);
    case CQ_AVRO_ARRAY: {
        size_t i;
        json_t *item;
        if (!json_is_array(j))
            return walk_fail(w, "expected an array");
        json_array_foreach(j, i, item)
        {
            avro_value_t child;
            if (v)
                AV(w, avro_value_append(v, &child, NULL));
            size_t mark = path_push(w, "[%zu]", i);
            bool ok = encode(w, node->items, item, v ? &child : NULL, depth + 1);
            path_pop(w, mark);
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
    return walk_fail(w, "unsupported schema node");
}

/* ---- decode: generic value -> JSON ------------------------------------ */

static bool decode_string(walk_t *w, avro_value_t *v, const char **s, size_t *len)
{
    size_t size = 0;
    AV(w, avro_value_get_string(v, s, &size));
    *len = size ? size - 1 : 0;
    if (!utf8_valid((const unsigned char *)*s, *len))
        return walk_fail(w, "invalid UTF-8");
    return true;
}

static bool decode(walk_t *w, const cq_avro_node_t *node, avro_value_t *v, json_t **out, int depth);

static bool decode_value(walk_t *w, const cq_avro_node_t *node, avro_value_t *v, json_t **out,
                         int depth)
{
    if (depth > CQ_AVRO_MAX_DEPTH)
        return walk_fail(w, "nested deeper than %d levels", CQ_AVRO_MAX_DEPTH);
    switch (node->kind) {
    case CQ_AVRO_NULL:
        *out = json_null();
        return true;
    case CQ_AVRO_BOOLEAN: {
        int b;
        AV(w, avro_value_get_boolean(v, &b));
        *out = json_boolean(b);
        return true;
    }
    case CQ_AVRO_INT: {
        int32_t n;
        AV(w, avro_value_get_int(v, &n));
        *out = json_integer(n);
        return true;
    }
    case CQ_AVRO_LONG: {
        int64_t n;
        AV(w, avro_value_get_long(v, &n));
        *out = json_integer(n);
        return true;
    }
    case CQ_AVRO_DOUBLE: {
        double d;
        AV(w, avro_value_get_double(v, &d));
        if (!isfinite(d))
            return walk_fail(w, "not a finite number");
        /* JSON has one number type: an integral value comes back as 3, not 3.0 */
        *out = d == floor(d) && fabs(d) <= 0x1p53 ? json_integer((json_int_t)d) : json_real(d);
        return true;
    }
    case CQ_AVRO_STRING: {
        const char *s;
        size_t len;
        if (!decode_string(w, v, &s, &len))
            return false;
        *out = json_stringn(s, len);
        return *out || walk_fail(w, "invalid string");
    }
    case CQ_AVRO_JSON_TEXT: {
        const char *s;
        size_t len;
        json_error_t jerr;
        if (!decode_string(w, v, &s, &len))
            return false;
        *out = json_loadb(s, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        return *out || walk_fail(w, "invalid JSON text: %s", jerr.text);
    }
    case CQ_AVRO_ENUM: {
        int e;
        AV(w, avro_value_get_enum(v, &e));
        if (e < 0 || (size_t)e >= node->count)
            return walk_fail(w, "enum index out of range");
        *out = json_string(node->symbols[e]);
        return true;
    }
    case CQ_AVRO_ARRAY: {
        size_t n;
        AV(w, avro_value_get_size(v, &n));
        *out = json_array();
        for (size_t i = 0; i < n; i++) {
            avro_value_t child;
            json_t *item;
            AV(w, avro_value_get_by_index(v, i, &child, NULL));
            size_t mark = path_push(w, "[%zu]", i);
            bool ok = decode(w, node->items, &child, &item, depth + 1);
            path_pop(w, mark);
            if (!ok)
                return false;
            json_array_append_new(*out, item);
        }
        return true;
    }
    case CQ_AVRO_RECORD:
        if (node->wrapper) {
            avro_value_t child;
            AV(w, avro_value_get_by_index(v, 0, &child, NULL));
            return decode(w, node->fields[0].type, &child, out, depth + 1);
        }
        *out = json_object();
        for (size_t i = 0; i < node->count; i++) {
            const cq_avro_field_t *f = &node->fields[i];
            avro_value_t child;
            json_t *fj;
            AV(w, avro_value_get_by_index(v, i, &child, NULL));
            size_t mark = path_push(w, ".%s", f->json_name);
            bool ok = decode(w, f->type, &child, &fj, depth + 1);
            path_pop(w, mark);
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
        AV(w, avro_value_get_discriminant(v, &d));
        if (d < 0 || (size_t)d >= node->count)
            return walk_fail(w, "union index out of range");
        AV(w, avro_value_get_current_branch(v, &branch));
        return decode(w, node->branches[d], &branch, out, depth + 1);
    }
    }
    return walk_fail(w, "unsupported schema node");
}

/* On failure *out is NULL: partial arrays and objects are freed here. */
static bool decode(walk_t *w, const cq_avro_node_t *node, avro_value_t *v, json_t **out, int depth)
{
    *out = NULL;
    if (decode_value(w, node, v, out, depth))
        return true;
    json_decref(*out);
    *out = NULL;
    return false;
}

/* ---- top-level records ------------------------------------------------ */

static bool field(walk_t *w, avro_value_t *rec, size_t idx, avro_value_t *child)
{
    AV(w, avro_value_get_by_index(rec, idx, child, NULL));
    return true;
}

/* Selects branch 0 (null) when absent, else branch 1 into *child. */
static bool put_nullable(walk_t *w, avro_value_t *child, bool present)
{
    avro_value_t branch;
    AV(w, avro_value_set_branch(child, present ? 1 : 0, &branch));
    if (!present)
        AV(w, avro_value_set_null(&branch));
    *child = branch;
    return true;
}

static bool put_string(walk_t *w, avro_value_t *rec, size_t idx, const char *name, const char *s,
                       bool nullable)
{
    avro_value_t child;
    if (!s && !nullable)
        return walk_fail(w, "%s is required", name);
    if (s && !utf8_valid((const unsigned char *)s, strlen(s)))
        return walk_fail(w, "%s is not valid UTF-8", name);
    if (!field(w, rec, idx, &child) || (nullable && !put_nullable(w, &child, s != NULL)))
        return false;
    if (s)
        AV(w, avro_value_set_string(&child, s));
    return true;
}

static bool put_long(walk_t *w, avro_value_t *rec, size_t idx, int64_t n, bool zero_is_null)
{
    avro_value_t child;
    if (!field(w, rec, idx, &child) || (zero_is_null && !put_nullable(w, &child, n != 0)))
        return false;
    if (!zero_is_null || n != 0)
        AV(w, avro_value_set_long(&child, n));
    return true;
}

static bool put_int(walk_t *w, avro_value_t *rec, size_t idx, int32_t n)
{
    avro_value_t child;
    if (!field(w, rec, idx, &child))
        return false;
    AV(w, avro_value_set_int(&child, n));
    return true;
}

/* payload/result: the branch comes from the operation, not from the value. */
static bool put_op_value(walk_t *w, avro_value_t *rec, size_t idx, const cq_avro_node_t *u,
                         int branch, json_t *j, const char *name)
{
    avro_value_t child, b;
    if (!field(w, rec, idx, &child))
        return false;
    if (!j) {
        AV(w, avro_value_set_branch(&child, 0, &b));
        AV(w, avro_value_set_null(&b));
        return true;
    }
    AV(w, avro_value_set_branch(&child, branch, &b));
    size_t mark = path_push(w, "%s", name);
    bool ok = encode(w, u->branches[branch], j, &b, 1);
    path_pop(w, mark);
    return ok;
}

static bool put_json(walk_t *w, avro_value_t *rec, size_t idx, const cq_avro_node_t *type,
                     json_t *j, const char *name)
{
    avro_value_t child;
    if (!field(w, rec, idx, &child))
        return false;
    size_t mark = path_push(w, "%s", name);
    bool ok = encode(w, type, j ? j : json_null(), &child, 1);
    path_pop(w, mark);
    return ok;
}

static bool write_message(walk_t *w, avro_value_t *rec, void **buf, size_t *len)
{
    size_t size = 0;
    AV(w, avro_value_sizeof(rec, &size));
    if (size > CQ_AVRO_MAX_MESSAGE)
        return walk_fail(w, "the message would be %zu bytes, over the %u-byte limit", size,
                         CQ_AVRO_MAX_MESSAGE);
    char *out = cq_malloc(size);
    avro_writer_t writer = avro_writer_memory(out, (int64_t)size);
    int rc = writer ? avro_value_write(writer, rec) : ENOMEM;
    if (writer)
        avro_writer_free(writer);
    if (rc) {
        free(out);
        return avro_fail(w, rc);
    }
    *buf = out;
    *len = size;
    return true;
}

/* Checks the bytes, then lets avro-c read them into *rec (caller decrefs). */
static bool read_message(walk_t *w, const cq_avro_class_t *cls, const cq_avro_node_t *root,
                         const void *buf, size_t len, avro_value_t *rec)
{
    if (len > CQ_AVRO_MAX_MESSAGE)
        return walk_fail(w, "message of %zu bytes is over the %u-byte limit", len,
                         CQ_AVRO_MAX_MESSAGE);
    if (!buf || len == 0)
        return walk_fail(w, "empty message");
    skim_t s = {buf, (const unsigned char *)buf + len, len};
    if (!skim(&s, root, 0))
        return walk_fail(w, "not a valid %s (truncated, corrupt or another schema)", root->name);
    if (s.p != s.end)
        return walk_fail(w, "%zu trailing bytes after the %s", (size_t)(s.end - s.p), root->name);
    AV(w, avro_generic_value_new(cls->iface, rec));
    avro_reader_t reader = avro_reader_memory(buf, (int64_t)len);
    int rc = reader ? avro_value_read(reader, rec) : ENOMEM;
    if (reader)
        avro_reader_free(reader);
    if (rc) {
        avro_value_decref(rec);
        return avro_fail(w, rc);
    }
    return true;
}

static bool get_nullable(walk_t *w, avro_value_t *child, bool *present)
{
    int d;
    avro_value_t branch;
    AV(w, avro_value_get_discriminant(child, &d));
    *present = d != 0;
    if (*present) {
        AV(w, avro_value_get_current_branch(child, &branch));
        *child = branch;
    }
    return true;
}

static bool get_string(walk_t *w, avro_value_t *rec, size_t idx, const char *name, char **out,
                       bool nullable)
{
    avro_value_t child;
    bool present = true;
    const char *s;
    size_t len;
    if (!field(w, rec, idx, &child) || (nullable && !get_nullable(w, &child, &present)))
        return false;
    if (!present)
        return true;
    size_t mark = path_push(w, "%s", name);
    bool ok = decode_string(w, &child, &s, &len) &&
              (!memchr(s, '\0', len) || walk_fail(w, "contains a NUL byte"));
    path_pop(w, mark);
    if (ok)
        *out = cq_strndup(s, len);
    return ok;
}

static bool get_long(walk_t *w, avro_value_t *rec, size_t idx, int64_t *out, bool nullable)
{
    avro_value_t child;
    bool present = true;
    if (!field(w, rec, idx, &child) || (nullable && !get_nullable(w, &child, &present)))
        return false;
    if (present)
        AV(w, avro_value_get_long(&child, out));
    return true;
}

static bool get_int(walk_t *w, avro_value_t *rec, size_t idx, int32_t *out)
{
    avro_value_t child;
    if (!field(w, rec, idx, &child))
        return false;
    AV(w, avro_value_get_int(&child, out));
    return true;
}

/* payload/result: the branch must be the one of the operation when the
 * operation is known; an unknown operation may only come with null. */
static bool get_op_value(walk_t *w, avro_value_t *rec, size_t idx, const cq_avro_node_t *u,
                         const cq_avro_op_t *op, bool result, const char *opname, json_t **out)
{
    avro_value_t child;
    int d;
    if (!field(w, rec, idx, &child))
        return false;
    AV(w, avro_value_get_discriminant(&child, &d));
    int want = op ? (result ? op->result_branch : op->request_branch) : 0;
    if (d != 0 && d != want)
        return walk_fail(w, "%s record %s does not belong to operation \"%s\"",
                         result ? "result" : "payload", u->branches[d]->name, opname);
    if (!result && d == 0 && want != 0)
        return walk_fail(w, "operation \"%s\" needs a payload", opname);
    size_t mark = path_push(w, "%s", result ? "result" : "payload");
    bool ok = decode(w, u, &child, out, 1);
    path_pop(w, mark);
    if (ok && json_is_null(*out)) {
        json_decref(*out);
        *out = NULL;
    }
    return ok;
}

cq_err_t cq_avro_envelope_encode(cq_avro_t *avro, const cq_job_envelope_t *env, void **buf,
                                 size_t *len, char *errstr, size_t errstr_size)
{
    walk_t w;
    avro_value_t rec;
    const cq_avro_node_t *root = avro->gen->envelope.root;
    walk_init(&w, CQ_ERR_VALIDATION_ERROR, errstr, errstr_size);
    *buf = NULL;
    *len = 0;
    const cq_avro_op_t *op = cq_avro_schema_op(avro->gen, env->operation);
    if (!op) {
        cq_errstr_set(errstr, errstr_size, "unknown operation \"%s\"",
                      env->operation ? env->operation : "(null)");
        return CQ_ERR_UNKNOWN_OPERATION;
    }
    if (!env->payload != !op->request_branch) {
        cq_errstr_set(errstr, errstr_size, "operation \"%s\" %s", op->name,
                      op->request_branch ? "needs a payload" : "takes no payload");
        return CQ_ERR_VALIDATION_ERROR;
    }
    if (avro_generic_value_new(avro->envelope.iface, &rec) != 0) {
        cq_errstr_set(errstr, errstr_size, "avro-c cannot make a value");
        return CQ_ERR_INTERNAL_ERROR;
    }
    bool ok =
        put_string(&w, &rec, CQ_AVRO_ENV_JOB_ID, "jobId", env->job_id, false) &&
        put_string(&w, &rec, CQ_AVRO_ENV_TENANT_ID, "tenantId", env->tenant_id, false) &&
        put_string(&w, &rec, CQ_AVRO_ENV_USER_ID, "userId", env->user_id, false) &&
        put_string(&w, &rec, CQ_AVRO_ENV_OPERATION, "operation", env->operation, false) &&
        put_int(&w, &rec, CQ_AVRO_ENV_ATTEMPT, env->attempt) &&
        put_long(&w, &rec, CQ_AVRO_ENV_CREATED_AT, env->created_at, false) &&
        put_long(&w, &rec, CQ_AVRO_ENV_DEADLINE, env->deadline, false) &&
        put_string(&w, &rec, CQ_AVRO_ENV_REPLY_TO, "replyTo", env->reply_to, true) &&
        put_string(&w, &rec, CQ_AVRO_ENV_TRACE_PARENT, "traceParent", env->trace_parent, true) &&
        put_string(&w, &rec, CQ_AVRO_ENV_BATCH_ID, "batchId", env->batch_id, true) &&
        put_string(&w, &rec, CQ_AVRO_ENV_CUSTOM_ID, "customId", env->custom_id, true) &&
        put_op_value(&w, &rec, CQ_AVRO_ENV_PAYLOAD, root->fields[CQ_AVRO_ENV_PAYLOAD].type,
                     op->request_branch, env->payload, "payload") &&
        write_message(&w, &rec, buf, len);
    avro_value_decref(&rec);
    return ok ? CQ_ERR_OK : w.err;
}

cq_err_t cq_avro_envelope_decode(cq_avro_t *avro, const void *buf, size_t len,
                                 cq_job_envelope_t *env, char *errstr, size_t errstr_size)
{
    walk_t w;
    avro_value_t rec;
    const cq_avro_node_t *root = avro->gen->envelope.root;
    walk_init(&w, CQ_ERR_UNDECODABLE_MESSAGE, errstr, errstr_size);
    memset(env, 0, sizeof(*env));
    if (!read_message(&w, &avro->envelope, root, buf, len, &rec))
        return CQ_ERR_UNDECODABLE_MESSAGE;
    bool ok =
        get_string(&w, &rec, CQ_AVRO_ENV_JOB_ID, "jobId", &env->job_id, false) &&
        get_string(&w, &rec, CQ_AVRO_ENV_TENANT_ID, "tenantId", &env->tenant_id, false) &&
        get_string(&w, &rec, CQ_AVRO_ENV_USER_ID, "userId", &env->user_id, false) &&
        get_string(&w, &rec, CQ_AVRO_ENV_OPERATION, "operation", &env->operation, false) &&
        get_int(&w, &rec, CQ_AVRO_ENV_ATTEMPT, &env->attempt) &&
        get_long(&w, &rec, CQ_AVRO_ENV_CREATED_AT, &env->created_at, false) &&
        get_long(&w, &rec, CQ_AVRO_ENV_DEADLINE, &env->deadline, false) &&
        get_string(&w, &rec, CQ_AVRO_ENV_REPLY_TO, "replyTo", &env->reply_to, true) &&
        get_string(&w, &rec, CQ_AVRO_ENV_TRACE_PARENT, "traceParent", &env->trace_parent, true) &&
        get_string(&w, &rec, CQ_AVRO_ENV_BATCH_ID, "batchId", &env->batch_id, true) &&
        get_string(&w, &rec, CQ_AVRO_ENV_CUSTOM_ID, "customId", &env->custom_id, true) &&
        get_op_value(&w, &rec, CQ_AVRO_ENV_PAYLOAD, root->fields[CQ_AVRO_ENV_PAYLOAD].type,
                     cq_avro_schema_op(avro->gen, env->operation), false, env->operation,
                     &env->payload);
    avro_value_decref(&rec);
    if (!ok) {
        cq_job_envelope_clear(env);
        return CQ_ERR_UNDECODABLE_MESSAGE;
    }
    return CQ_ERR_OK;
}

static bool put_status(walk_t *w, avro_value_t *rec, const cq_avro_node_t *type, const char *s)
{
    avro_value_t child;
    for (size_t i = 0; s && i < type->count; i++) {
        if (strcmp(type->symbols[i], s) == 0) {
            if (!field(w, rec, CQ_AVRO_RES_STATUS, &child))
                return false;
            AV(w, avro_value_set_enum(&child, (int)i));
            return true;
        }
    }
    return walk_fail(w, "status must be succeeded, failed or cancelled");
}

static bool put_error(walk_t *w, avro_value_t *rec, const cq_job_result_msg_t *msg)
{
    avro_value_t child;
    if (!field(w, rec, CQ_AVRO_RES_ERROR, &child) ||
        !put_nullable(w, &child, msg->error_code != NULL))
        return false;
    return !msg->error_code || (put_string(w, &child, 0, "error.code", msg->error_code, false) &&
                                put_string(w, &child, 1, "error.message",
                                           msg->error_message ? msg->error_message : "", false));
}

static bool get_error(walk_t *w, avro_value_t *rec, cq_job_result_msg_t *msg)
{
    avro_value_t child;
    bool present;
    if (!field(w, rec, CQ_AVRO_RES_ERROR, &child) || !get_nullable(w, &child, &present))
        return false;
    return !present || (get_string(w, &child, 0, "error.code", &msg->error_code, false) &&
                        get_string(w, &child, 1, "error.message", &msg->error_message, false));
}

cq_err_t cq_avro_result_encode(cq_avro_t *avro, const cq_job_result_msg_t *msg, void **buf,
                               size_t *len, char *errstr, size_t errstr_size)
{
    walk_t w;
    avro_value_t rec;
    const cq_avro_node_t *root = avro->gen->result.root;
    walk_init(&w, CQ_ERR_VALIDATION_ERROR, errstr, errstr_size);
    *buf = NULL;
    *len = 0;
    /* A worker reports jobs of operations it does not know as failed, with no result. */
    const cq_avro_op_t *op = cq_avro_schema_op(avro->gen, msg->operation);
    if (msg->result && !op) {
        cq_errstr_set(errstr, errstr_size, "unknown operation \"%s\"",
                      msg->operation ? msg->operation : "(null)");
        return CQ_ERR_UNKNOWN_OPERATION;
    }
    if (msg->result && !op->result_branch) {
        cq_errstr_set(errstr, errstr_size, "operation \"%s\" has no result", op->name);
        return CQ_ERR_VALIDATION_ERROR;
    }
    if (avro_generic_value_new(avro->result.iface, &rec) != 0) {
        cq_errstr_set(errstr, errstr_size, "avro-c cannot make a value");
        return CQ_ERR_INTERNAL_ERROR;
    }
    bool ok = put_string(&w, &rec, CQ_AVRO_RES_JOB_ID, "jobId", msg->job_id, false) &&
              put_string(&w, &rec, CQ_AVRO_RES_TENANT_ID, "tenantId", msg->tenant_id, false) &&
              put_string(&w, &rec, CQ_AVRO_RES_USER_ID, "userId", msg->user_id, false) &&
              put_string(&w, &rec, CQ_AVRO_RES_OPERATION, "operation", msg->operation, false) &&
              put_status(&w, &rec, root->fields[CQ_AVRO_RES_STATUS].type, msg->status) &&
              put_int(&w, &rec, CQ_AVRO_RES_ATTEMPTS, msg->attempts) &&
              put_long(&w, &rec, CQ_AVRO_RES_CREATED_AT, msg->created_at, false) &&
              put_long(&w, &rec, CQ_AVRO_RES_STARTED_AT, msg->started_at, true) &&
              put_long(&w, &rec, CQ_AVRO_RES_FINISHED_AT, msg->finished_at, false) &&
              put_json(&w, &rec, CQ_AVRO_RES_ENGINE, root->fields[CQ_AVRO_RES_ENGINE].type,
                       msg->engine, "engine") &&
              put_op_value(&w, &rec, CQ_AVRO_RES_RESULT, root->fields[CQ_AVRO_RES_RESULT].type,
                           op ? op->result_branch : 0, msg->result, "result") &&
              put_error(&w, &rec, msg) &&
              put_string(&w, &rec, CQ_AVRO_RES_BATCH_ID, "batchId", msg->batch_id, true) &&
              put_string(&w, &rec, CQ_AVRO_RES_CUSTOM_ID, "customId", msg->custom_id, true) &&
              write_message(&w, &rec, buf, len);
    avro_value_decref(&rec);
    return ok ? CQ_ERR_OK : w.err;
}

cq_err_t cq_avro_result_decode(cq_avro_t *avro, const void *buf, size_t len,
                               cq_job_result_msg_t *msg, char *errstr, size_t errstr_size)
{
    walk_t w;
    avro_value_t rec, child;
    json_t *status = NULL;
    const cq_avro_node_t *root = avro->gen->result.root;
    walk_init(&w, CQ_ERR_UNDECODABLE_MESSAGE, errstr, errstr_size);
    memset(msg, 0, sizeof(*msg));
    if (!read_message(&w, &avro->result, root, buf, len, &rec))
        return CQ_ERR_UNDECODABLE_MESSAGE;
    bool ok = get_string(&w, &rec, CQ_AVRO_RES_JOB_ID, "jobId", &msg->job_id, false) &&
              get_string(&w, &rec, CQ_AVRO_RES_TENANT_ID, "tenantId", &msg->tenant_id, false) &&
              get_string(&w, &rec, CQ_AVRO_RES_USER_ID, "userId", &msg->user_id, false) &&
              get_string(&w, &rec, CQ_AVRO_RES_OPERATION, "operation", &msg->operation, false) &&
              field(&w, &rec, CQ_AVRO_RES_STATUS, &child) &&
              decode(&w, root->fields[CQ_AVRO_RES_STATUS].type, &child, &status, 1) &&
              get_int(&w, &rec, CQ_AVRO_RES_ATTEMPTS, &msg->attempts) &&
              get_long(&w, &rec, CQ_AVRO_RES_CREATED_AT, &msg->created_at, false) &&
              get_long(&w, &rec, CQ_AVRO_RES_STARTED_AT, &msg->started_at, true) &&
              get_long(&w, &rec, CQ_AVRO_RES_FINISHED_AT, &msg->finished_at, false) &&
              field(&w, &rec, CQ_AVRO_RES_ENGINE, &child) &&
              decode(&w, root->fields[CQ_AVRO_RES_ENGINE].type, &child, &msg->engine, 1) &&
              get_op_value(&w, &rec, CQ_AVRO_RES_RESULT, root->fields[CQ_AVRO_RES_RESULT].type,
                           cq_avro_schema_op(avro->gen, msg->operation), true, msg->operation,
                           &msg->result) &&
              get_error(&w, &rec, msg) &&
              get_string(&w, &rec, CQ_AVRO_RES_BATCH_ID, "batchId", &msg->batch_id, true) &&
              get_string(&w, &rec, CQ_AVRO_RES_CUSTOM_ID, "customId", &msg->custom_id, true);
    avro_value_decref(&rec);
    if (ok) {
        msg->status = cq_strdup(json_string_value(status));
        if (json_is_null(msg->engine)) {
            json_decref(msg->engine);
            msg->engine = NULL;
        }
    }
    json_decref(status);
    if (!ok) {
        cq_job_result_msg_clear(msg);
        return CQ_ERR_UNDECODABLE_MESSAGE;
    }
    return CQ_ERR_OK;
}
