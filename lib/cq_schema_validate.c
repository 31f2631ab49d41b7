/*
 * cq_schema_validate.c — validating instances with compiled schemas (the
 * compiler is cq_schema.c; the node layout is in cq_schema_int.h).
 *
 * One call walks the instance and the nodes together. The JSON Pointer of
 * the current value lives in a buffer owned by the call, extended and cut
 * back as the walk goes down and up, and only kept up when errors are
 * collected. Without an error list the walk stops at the first violation;
 * anyOf/oneOf/not always try their branches that way.
 *
 * Bounds, so no instance can exhaust the stack or the CPU: values nested
 * deeper than CQ_SCHEMA_MAX_DEPTH are refused, recursion of any kind stops
 * at CQ_SCHEMA_MAX_FRAMES, equality and hashing stop at CQ_SCHEMA_EQUAL_DEPTH,
 * uniqueItems hashes and sorts (O(n log n)), at most CQ_SCHEMA_MAX_ERRORS
 * errors are built.
 *
 * Threads: reads the schema and the instance only; all state is on the
 * stack or in the caller's error list. Any number of threads at once.
 */
#include "cq_common.h"
#include "cq_schema_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CQ_SCHEMA_EQUAL_DEPTH 128
#define CQ_SCHEMA_NAME_SHOWN  64 /* bytes of a property name shown in a message */
/* Node visits per call. Overlapping anyOf/oneOf branches that recurse could
 * otherwise cost 2^depth; a legitimate 1 MB body needs far fewer. */
#define CQ_SCHEMA_MAX_STEPS 1000000

typedef struct {
    size_t steps;
    bool exhausted;
} cq_schema_budget_t;

typedef struct {
    cq_schema_errors_t *errors; /* NULL: yes/no answer, stop at the first violation */
    char *path;                 /* JSON Pointer of the current value (with errors only) */
    size_t path_len, path_cap;
    bool full;                  /* the error list is full: stop walking */
    cq_schema_budget_t *budget; /* shared by the call and its quiet sub-runs */
} cq_schema_run_t;

/* A violation at the current path. Marks the run full past the limit. */
static void cq_schema_fail(cq_schema_run_t *run, const char *fmt, ...) CQ_PRINTF(2, 3);

static void cq_schema_fail(cq_schema_run_t *run, const char *fmt, ...)
{
    cq_schema_errors_t *errors = run->errors;
    if (!errors || run->full)
        return;
    if (errors->count >= CQ_SCHEMA_MAX_ERRORS) {
        errors->truncated = true;
        run->full = true;
        return;
    }
    if (errors->count == errors->cap) {
        errors->cap = errors->cap ? errors->cap * 2 : 8;
        errors->items = cq_realloc(errors->items, errors->cap * sizeof(*errors->items));
    }
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(message)) {
        /* cut: do not leave half a UTF-8 sequence at the end */
        size_t end = sizeof(message) - 1, lead = end;
        while (lead > 0 && ((unsigned char)message[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead > 0 && (unsigned char)message[lead - 1] >= 0xC0) {
            unsigned char b = (unsigned char)message[lead - 1];
            size_t want = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
            if (end - (lead - 1) < want)
                message[lead - 1] = '\0';
        }
    }
    errors->items[errors->count].path = cq_strdup(run->path);
    errors->items[errors->count].message = cq_strdup(message);
    errors->count++;
}

static size_t cq_schema_push_key(cq_schema_run_t *run, const char *key, size_t len)
{
    size_t mark = run->path_len;
    if (run->errors)
        cq_schema_pointer_put(&run->path, &run->path_len, &run->path_cap, key, len);
    return mark;
}

static size_t cq_schema_push_index(cq_schema_run_t *run, size_t index)
{
    char token[24];
    int n = snprintf(token, sizeof(token), "%zu", index);
    return cq_schema_push_key(run, token, (size_t)n);
}

static void cq_schema_pop(cq_schema_run_t *run, size_t mark)
{
    if (run->errors) {
        run->path_len = mark;
        run->path[mark] = '\0';
    }
}

/* A property name as shown in a message: at most about CQ_SCHEMA_NAME_SHOWN
 * bytes, cut on a character boundary and then marked with "...", NUL shown
 * as U+FFFD as in paths. out holds CQ_SCHEMA_NAME_BUF bytes. */
#define CQ_SCHEMA_NAME_BUF (CQ_SCHEMA_NAME_SHOWN + 8)
static void cq_schema_name_shown(const char *name, size_t len, char *out)
{
    size_t n = 0, i = 0;
    for (; i < len && n < CQ_SCHEMA_NAME_SHOWN; i++) {
        if (name[i] == '\0') {
            memcpy(out + n, "\xEF\xBF\xBD", 3);
            n += 3;
        } else {
            out[n++] = name[i];
        }
    }
    if (i < len) {
        while (i > 0 && ((unsigned char)name[i] & 0xC0) == 0x80) {
            i--;
            n--;
        }
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* ------------------------------------------------------------------ values */

static unsigned cq_schema_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return CQ_SCHEMA_T_OBJECT;
    case JSON_ARRAY:
        return CQ_SCHEMA_T_ARRAY;
    case JSON_STRING:
        return CQ_SCHEMA_T_STRING;
    case JSON_INTEGER:
        return CQ_SCHEMA_T_INTEGER | CQ_SCHEMA_T_NUMBER;
    case JSON_REAL: {
        double d = json_real_value(v);
        return CQ_SCHEMA_T_NUMBER | (floor(d) == d ? CQ_SCHEMA_T_INTEGER : 0);
    }
    case JSON_TRUE:
    case JSON_FALSE:
        return CQ_SCHEMA_T_BOOLEAN;
    default:
        return CQ_SCHEMA_T_NULL;
    }
}

/* Exact comparison of an integer with a double (no rounding of i). */
static int cq_schema_cmp_int_real(json_int_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    json_int_t t = (json_int_t)d; /* toward zero, exact in this range */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cq_schema_num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_real(a) && json_is_real(b)) {
        double x = json_real_value(a), y = json_real_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_integer(a))
        return cq_schema_cmp_int_real(json_integer_value(a), json_real_value(b));
    return -cq_schema_cmp_int_real(json_integer_value(b), json_real_value(a));
}

/* Shortest text that reads back as the same number. */
static void cq_schema_num_text(const json_t *n, char *buf, size_t size)
{
    if (json_is_integer(n)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
        return;
    }
    double d = json_real_value(n);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

/* JSON Schema equality: numbers by value (1 == 1.0), objects regardless of
 * member order. Past the depth bound only identical values are equal. */
static bool cq_schema_equal(const json_t *a, const json_t *b, int depth)
{
    if (a == b)
        return true;
    if (depth > CQ_SCHEMA_EQUAL_DEPTH)
        return false;
    if (json_is_number(a) && json_is_number(b))
        return cq_schema_num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!cq_schema_equal(json_array_get(a, i), json_array_get(b, i), depth + 1))
                return false;
        return true;
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return false;
        for (void *it = json_object_iter((json_t *)a); it;
             it = json_object_iter_next((json_t *)a, it)) {
            const json_t *other =
                json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!other || !cq_schema_equal(json_object_iter_value(it), other, depth + 1))
                return false;
        }
        return true;
    default:
        return true; /* true, false, null */
    }
}

static uint64_t cq_schema_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t cq_schema_bytes_hash(const char *s, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001B3ull;
    return h;
}

/* A hash consistent with cq_schema_equal. */
static uint64_t cq_schema_hash(const json_t *v, int depth)
{
    if (depth > CQ_SCHEMA_EQUAL_DEPTH)
        return 0;
    uint64_t h;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL: {
        double d = json_number_value(v);
        if (d == 0)
            d = 0; /* -0.0 equals 0 */
        memcpy(&h, &d, sizeof(h));
        return cq_schema_mix(h ^ 1);
    }
    case JSON_STRING:
        return cq_schema_mix(cq_schema_bytes_hash(json_string_value(v), json_string_length(v)) ^ 2);
    case JSON_ARRAY:
        h = 3;
        for (size_t i = 0; i < json_array_size(v); i++)
            h = cq_schema_mix(h * 31 + cq_schema_hash(json_array_get(v, i), depth + 1));
        return h;
    case JSON_OBJECT:
        h = 4; /* a sum: member order does not matter */
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            uint64_t k =
                cq_schema_bytes_hash(json_object_iter_key(it), json_object_iter_key_len(it));
            h += cq_schema_mix(k ^ cq_schema_hash(json_object_iter_value(it), depth + 1));
        }
        return h;
    default:
        return 5 + (uint64_t)json_typeof(v);
    }
}

typedef struct {
    uint64_t hash;
    size_t index;
} cq_schema_hashed_t;

static int cq_schema_hashed_cmp(const void *pa, const void *pb)
{
    const cq_schema_hashed_t *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Finds two equal items (the pair whose later index is smallest). */
static bool cq_schema_find_duplicate(const json_t *array, size_t *first, size_t *second)
{
    size_t n = json_array_size(array);
    if (n < 2)
        return false;
    cq_schema_hashed_t *hashed = cq_malloc(n * sizeof(*hashed));
    for (size_t i = 0; i < n; i++) {
        hashed[i].hash = cq_schema_hash(json_array_get(array, i), 0);
        hashed[i].index = i;
    }
    qsort(hashed, n, sizeof(*hashed), cq_schema_hashed_cmp);
    bool found = false;
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && hashed[j].hash == hashed[i].hash;)
            j++;
        bool run_found = false;
        for (size_t b = i + 1; b < j && !run_found; b++) {
            for (size_t a = i; a < b && !run_found; a++) {
                if (!cq_schema_equal(json_array_get(array, hashed[a].index),
                                     json_array_get(array, hashed[b].index), 0))
                    continue;
                run_found = true;
                if (!found || hashed[b].index < *second) {
                    *first = hashed[a].index;
                    *second = hashed[b].index;
                }
                found = true;
            }
        }
    }
    free(hashed);
    return found;
}

static void cq_schema_fail_type(cq_schema_run_t *run, unsigned types)
{
    if (types & CQ_SCHEMA_T_NUMBER)
        types &= ~(unsigned)CQ_SCHEMA_T_INTEGER;
    if (!types) {
        cq_schema_fail(run, "is not allowed");
        return;
    }
    size_t count = 0, done = 0, len;
    for (size_t t = 0; t < CQ_SCHEMA_NTYPES; t++)
        count += (types & cq_schema_type_names[t].bit) != 0;
    char text[160] = "must be ";
    for (size_t t = 0; t < CQ_SCHEMA_NTYPES; t++) {
        if (!(types & cq_schema_type_names[t].bit))
            continue;
        len = strlen(text);
        snprintf(text + len, sizeof(text) - len, "%s%s",
                 done == 0           ? ""
                 : done == count - 1 ? " or "
                                     : ", ",
                 cq_schema_type_names[t].phrase);
        done++;
    }
    cq_schema_fail(run, "%s", text);
}

/* ------------------------------------------------------------------ checks */

/* After a violation: go on collecting, or stop when no list is kept. */
#define CQ_SCHEMA_BAD()                                                                            \
    do {                                                                                           \
        ok = false;                                                                                \
        if (!run->errors || run->full)                                                             \
            return false;                                                                          \
    } while (0)

static bool cq_schema_check(cq_schema_run_t *run, const cq_schema_node_t *node, const json_t *inst,
                            int depth, int frames);

static bool cq_schema_check_child(cq_schema_run_t *run, const cq_schema_node_t *node,
                                  const json_t *child, const char *key, size_t key_len, int depth,
                                  int frames)
{
    size_t mark = cq_schema_push_key(run, key, key_len);
    bool ok = cq_schema_check(run, node, child, depth + 1, frames + 1);
    cq_schema_pop(run, mark);
    return ok;
}

static bool cq_schema_check_object(cq_schema_run_t *run, const cq_schema_node_t *node,
                                   const json_t *inst, int depth, int frames)
{
    bool ok = true;
    size_t size = json_object_size(inst);
    char name[CQ_SCHEMA_NAME_BUF];
    if (node->min_props >= 0 && size < (size_t)node->min_props) {
        cq_schema_fail(run, "must have at least %" JSON_INTEGER_FORMAT " propert%s",
                       node->min_props, node->min_props == 1 ? "y" : "ies");
        CQ_SCHEMA_BAD();
    }
    if (node->max_props >= 0 && size > (size_t)node->max_props) {
        cq_schema_fail(run, "must have at most %" JSON_INTEGER_FORMAT " propert%s", node->max_props,
                       node->max_props == 1 ? "y" : "ies");
        CQ_SCHEMA_BAD();
    }
    for (size_t i = 0; i < json_array_size(node->required); i++) {
        const json_t *r = json_array_get(node->required, i);
        if (json_object_getn(inst, json_string_value(r), json_string_length(r)))
            continue;
        cq_schema_name_shown(json_string_value(r), json_string_length(r), name);
        cq_schema_fail(run, "missing required property \"%s\"", name);
        CQ_SCHEMA_BAD();
    }
    if ((node->nprops == 0 && !node->additional) || size == 0)
        return ok;
    if (depth >= CQ_SCHEMA_MAX_DEPTH) {
        cq_schema_fail(run, "nesting too deep");
        return false;
    }
    for (size_t i = 0; i < node->nprops; i++) {
        const cq_schema_prop_t *prop = &node->props[i];
        const json_t *child = json_object_getn(inst, prop->name, prop->name_len);
        if (child && !cq_schema_check_child(run, prop->node, child, prop->name, prop->name_len,
                                            depth, frames))
            CQ_SCHEMA_BAD();
    }
    if (!node->additional)
        return ok;
    for (void *it = json_object_iter((json_t *)inst); it;
         it = json_object_iter_next((json_t *)inst, it)) {
        const char *key = json_object_iter_key(it);
        size_t key_len = json_object_iter_key_len(it);
        if (node->props_json && json_object_getn(node->props_json, key, key_len))
            continue;
        if (node->additional->boolean == 0) {
            size_t mark = cq_schema_push_key(run, key, key_len);
            cq_schema_name_shown(key, key_len, name);
            cq_schema_fail(run, "unknown property \"%s\"", name);
            cq_schema_pop(run, mark);
            CQ_SCHEMA_BAD();
        } else if (!cq_schema_check_child(run, node->additional, json_object_iter_value(it), key,
                                          key_len, depth, frames)) {
            CQ_SCHEMA_BAD();
        }
    }
    return ok;
}

static bool cq_schema_check_array(cq_schema_run_t *run, const cq_schema_node_t *node,
                                  const json_t *inst, int depth, int frames)
{
    bool ok = true;
    size_t n = json_array_size(inst), first, second;
    if (node->min_items >= 0 && n < (size_t)node->min_items) {
        cq_schema_fail(run, "must have at least %" JSON_INTEGER_FORMAT " item%s", node->min_items,
                       node->min_items == 1 ? "" : "s");
        CQ_SCHEMA_BAD();
    }
    if (node->max_items >= 0 && n > (size_t)node->max_items) {
        cq_schema_fail(run, "must have at most %" JSON_INTEGER_FORMAT " item%s", node->max_items,
                       node->max_items == 1 ? "" : "s");
        CQ_SCHEMA_BAD();
    }
    if (node->unique_items && cq_schema_find_duplicate(inst, &first, &second)) {
        cq_schema_fail(run, "must not contain duplicate items (items %zu and %zu are equal)", first,
                       second);
        CQ_SCHEMA_BAD();
    }
    if (!node->items || n == 0)
        return ok;
    if (depth >= CQ_SCHEMA_MAX_DEPTH) {
        cq_schema_fail(run, "nesting too deep");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        size_t mark = cq_schema_push_index(run, i);
        bool item_ok =
            cq_schema_check(run, node->items, json_array_get(inst, i), depth + 1, frames + 1);
        cq_schema_pop(run, mark);
        if (!item_ok)
            CQ_SCHEMA_BAD();
    }
    return ok;
}

static bool cq_schema_check_string(cq_schema_run_t *run, const cq_schema_node_t *node,
                                   const json_t *inst)
{
    bool ok = true;
    const char *s = json_string_value(inst);
    size_t len = json_string_length(inst);
    if (node->min_length >= 0 || node->max_length >= 0) {
        size_t chars = 0; /* code points: bytes that do not continue a sequence */
        for (size_t i = 0; i < len; i++)
            chars += ((unsigned char)s[i] & 0xC0) != 0x80;
        if (node->min_length >= 0 && chars < (size_t)node->min_length) {
            if (node->min_length == 1)
                cq_schema_fail(run, "must not be empty");
            else
                cq_schema_fail(run, "must be at least %" JSON_INTEGER_FORMAT " characters long",
                               node->min_length);
            CQ_SCHEMA_BAD();
        }
        if (node->max_length >= 0 && chars > (size_t)node->max_length) {
            cq_schema_fail(run, "must be at most %" JSON_INTEGER_FORMAT " character%s long",
                           node->max_length, node->max_length == 1 ? "" : "s");
            CQ_SCHEMA_BAD();
        }
    }
    if (node->pattern && !cq_regex_match(node->pattern, s, len)) {
        cq_schema_fail(run, "must match the pattern %s", cq_regex_source(node->pattern));
        CQ_SCHEMA_BAD();
    }
    if (node->format && !node->format->check(s, len)) {
        cq_schema_fail(run, "%s", node->format->message);
        CQ_SCHEMA_BAD();
    }
    return ok;
}

static bool cq_schema_check_number(cq_schema_run_t *run, const cq_schema_node_t *node,
                                   const json_t *inst)
{
    static const char *const ops[4] = {">=", "<=", ">", "<"};
    const json_t *limits[4] = {node->minimum, node->maximum, node->exclusive_minimum,
                               node->exclusive_maximum};
    bool ok = true;
    for (size_t i = 0; i < 4; i++) {
        if (!limits[i])
            continue;
        int cmp = cq_schema_num_cmp(inst, limits[i]);
        bool fine = i == 0 ? cmp >= 0 : i == 1 ? cmp <= 0 : i == 2 ? cmp > 0 : cmp < 0;
        if (fine)
            continue;
        char text[40];
        cq_schema_num_text(limits[i], text, sizeof(text));
        cq_schema_fail(run, "must be %s %s", ops[i], text);
        CQ_SCHEMA_BAD();
    }
    return ok;
}

/* Types a node can accept at all (for messages about anyOf/oneOf). */
static unsigned cq_schema_accepts(const cq_schema_node_t *node, int hops)
{
    if (hops > 32)
        return CQ_SCHEMA_T_ALL;
    if (node->boolean >= 0)
        return node->boolean ? CQ_SCHEMA_T_ALL : 0;
    unsigned t = node->types ? node->types : CQ_SCHEMA_T_ALL;
    if (node->ref)
        t &= cq_schema_accepts(node->ref, hops + 1);
    for (size_t i = 0; i < node->all_of.count; i++)
        t &= cq_schema_accepts(node->all_of.items[i], hops + 1);
    const cq_schema_list_t *lists[2] = {&node->any_of, &node->one_of};
    for (size_t l = 0; l < 2; l++) {
        if (!lists[l]->count)
            continue;
        unsigned u = 0;
        for (size_t i = 0; i < lists[l]->count; i++)
            u |= cq_schema_accepts(lists[l]->items[i], hops + 1);
        t &= u;
    }
    return t;
}

/* anyOf (one = false) or oneOf (one = true). When nothing matches, one
 * message at this path: the types on offer, or, when exactly one
 * alternative takes this type of value, that alternative's own errors. */
static bool cq_schema_check_alternatives(cq_schema_run_t *run, const cq_schema_list_t *list,
                                         bool one, const json_t *inst, int depth, int frames)
{
    cq_schema_run_t quiet = {.budget = run->budget};
    size_t matches = 0;
    for (size_t i = 0; i < list->count && matches < 2; i++) {
        if (!cq_schema_check(&quiet, list->items[i], inst, depth, frames + 1))
            continue;
        if (!one)
            return true;
        matches++;
    }
    if (matches == 1)
        return true;
    if (run->budget->exhausted)
        return false;
    if (matches > 1) {
        cq_schema_fail(run, "must match exactly one of the allowed alternatives, but matches "
                            "more than one");
        return false;
    }
    if (!run->errors)
        return false;
    unsigned type = cq_schema_type_of(inst), offered = 0;
    size_t candidates = 0;
    const cq_schema_node_t *candidate = NULL;
    for (size_t i = 0; i < list->count; i++) {
        unsigned t = cq_schema_accepts(list->items[i], 0);
        offered |= t;
        if (t & type) {
            candidates++;
            candidate = list->items[i];
        }
    }
    if (candidates == 0)
        cq_schema_fail_type(run, offered);
    else if (candidates == 1)
        cq_schema_check(run, candidate, inst, depth, frames + 1);
    else
        cq_schema_fail(run, "must match %s of the allowed alternatives",
                       one ? "exactly one" : "at least one");
    return false;
}

static bool cq_schema_check(cq_schema_run_t *run, const cq_schema_node_t *node, const json_t *inst,
                            int depth, int frames)
{
    if (run->full || run->budget->exhausted)
        return false;
    if (++run->budget->steps > CQ_SCHEMA_MAX_STEPS) {
        run->budget->exhausted = true; /* reported once, by cq_schema_validate */
        return false;
    }
    if (frames > CQ_SCHEMA_MAX_FRAMES) {
        cq_schema_fail(run, "nesting too deep");
        return false;
    }
    if (node->boolean >= 0) {
        if (!node->boolean)
            cq_schema_fail(run, "is not allowed");
        return node->boolean;
    }
    /* a value of the wrong type: the other keywords would only add noise */
    if (node->types && !(node->types & cq_schema_type_of(inst))) {
        cq_schema_fail_type(run, node->types);
        return false;
    }
    bool ok = true;
    if (node->ref && !cq_schema_check(run, node->ref, inst, depth, frames + 1))
        CQ_SCHEMA_BAD();
    if (node->enum_values) {
        bool found = false;
        for (size_t i = 0; !found && i < json_array_size(node->enum_values); i++)
            found = cq_schema_equal(inst, json_array_get(node->enum_values, i), 0);
        if (!found) {
            cq_schema_fail(run, "must be one of: %s", node->enum_text);
            CQ_SCHEMA_BAD();
        }
    }
    if (node->const_value && !cq_schema_equal(inst, node->const_value, 0)) {
        cq_schema_fail(run, "must be equal to %s", node->const_text);
        CQ_SCHEMA_BAD();
    }
    bool type_ok = true;
    switch (json_typeof(inst)) {
    case JSON_OBJECT:
        type_ok = cq_schema_check_object(run, node, inst, depth, frames);
        break;
    case JSON_ARRAY:
        type_ok = cq_schema_check_array(run, node, inst, depth, frames);
        break;
    case JSON_STRING:
        type_ok = cq_schema_check_string(run, node, inst);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        type_ok = cq_schema_check_number(run, node, inst);
        break;
    default:
        break;
    }
    if (!type_ok)
        CQ_SCHEMA_BAD();
    for (size_t i = 0; i < node->all_of.count; i++)
        if (!cq_schema_check(run, node->all_of.items[i], inst, depth, frames + 1))
            CQ_SCHEMA_BAD();
    if (node->any_of.count &&
        !cq_schema_check_alternatives(run, &node->any_of, false, inst, depth, frames))
        CQ_SCHEMA_BAD();
    if (node->one_of.count &&
        !cq_schema_check_alternatives(run, &node->one_of, true, inst, depth, frames))
        CQ_SCHEMA_BAD();
    if (node->not_schema) {
        cq_schema_run_t quiet = {.budget = run->budget};
        bool matched = cq_schema_check(&quiet, node->not_schema, inst, depth, frames + 1);
        if (run->budget->exhausted)
            return false;
        if (matched) {
            cq_schema_fail(run, "must not match the excluded schema");
            CQ_SCHEMA_BAD();
        }
    }
    return ok;
}

bool cq_schema_validate(const cq_schema_t *schema, const json_t *instance,
                        cq_schema_errors_t *errors)
{
    cq_schema_budget_t budget = {0};
    cq_schema_run_t run = {.errors = errors, .budget = &budget};
    if (errors) {
        run.path_cap = 64;
        run.path = cq_malloc(run.path_cap);
        run.path[0] = '\0';
    }
    bool ok = false;
    if (instance)
        ok = cq_schema_check(&run, schema->entry, instance, 0, 0);
    else
        cq_schema_fail(&run, "no value");
    if (budget.exhausted && errors) {
        run.full = false;
        run.path[0] = '\0';
        cq_schema_fail(&run, "is too complex to validate");
    }
    free(run.path);
    return ok;
}

void cq_schema_errors_clear(cq_schema_errors_t *errors)
{
    if (!errors)
        return;
    for (size_t i = 0; i < errors->count; i++) {
        free(errors->items[i].path);
        free(errors->items[i].message);
    }
    free(errors->items);
    memset(errors, 0, sizeof(*errors));
}

json_t *cq_schema_errors_to_json(const cq_schema_errors_t *errors)
{
    json_t *array = json_array();
    for (size_t i = 0; errors && i < errors->count; i++)
        json_array_append_new(array, json_pack("{s:s, s:s}", "path", errors->items[i].path,
                                               "message", errors->items[i].message));
    return array;
}
