/*
 * cq_schema.c — compiling JSON Schemas (the schema module's public API is
 * cq_schema.h; validation is in cq_schema_validate.c, LLM copies in
 * cq_schema_copy.c, the compiled node in cq_schema_int.h).
 *
 * Compiling turns each schema object into a node with every keyword checked
 * and pre-digested (regexes compiled, enum message text built, limits read).
 * Nodes are keyed by the address of their JSON object, so a "$ref" to a
 * schema that is already compiled, or still being compiled (a recursive
 * tree), links to the same node: cycles cost nothing and are all resolved
 * before validation starts, which keeps validation free of writes. A cycle
 * made only of $ref/allOf/anyOf/oneOf/not would recurse forever on a single
 * value; a graph walk after compiling refuses it.
 *
 * Threads: cq_schema_new/destroy from one thread (at start and end); a
 * compiled schema and its root are read-only afterwards. The JSON Pointer
 * helpers are pure and thread-safe.
 */
#include "cq_schema.h"
#include "cq_common.h"
#include "cq_format.h"
#include "cq_regex.h"
#include "cq_schema_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cq_schema_type_name_t cq_schema_type_names[CQ_SCHEMA_NTYPES] = {
    {"object", "an object", CQ_SCHEMA_T_OBJECT}, {"array", "an array", CQ_SCHEMA_T_ARRAY},
    {"string", "a string", CQ_SCHEMA_T_STRING},  {"integer", "an integer", CQ_SCHEMA_T_INTEGER},
    {"number", "a number", CQ_SCHEMA_T_NUMBER},  {"boolean", "a boolean", CQ_SCHEMA_T_BOOLEAN},
    {"null", "null", CQ_SCHEMA_T_NULL},
};

static const cq_schema_format_t cq_schema_formats[] = {
    {"date", cq_format_is_date, "must be a valid date (YYYY-MM-DD)"},
    {"date-time", cq_format_is_date_time,
     "must be a valid date-time (RFC 3339, e.g. 2024-01-31T09:30:00Z)"},
    {"uri", cq_format_is_uri, "must be a valid absolute URI (e.g. https://example.com/page)"},
    {"email", cq_format_is_email, "must be a valid email address"},
    {"uuid", cq_format_is_uuid, "must be a valid UUID"},
};

/* Keywords that never change whether an instance is valid. */
static const char *const cq_schema_annotations[] = {
    "title",      "description", "examples",      "example",      "default",
    "deprecated", "readOnly",    "writeOnly",     "$comment",     "$schema",
    "$id",        "nullable",    "discriminator", "externalDocs", "xml",
};

/* ---------------------------------------------------------------- pointers */

json_t *cq_json_pointer_get(json_t *root, const char *pointer)
{
    if (!root || !pointer)
        return NULL;
    if (*pointer == '\0')
        return root;
    if (*pointer != '/')
        return NULL;
    json_t *cur = root;
    char *token = cq_malloc(strlen(pointer) + 1);
    const char *p = pointer;
    while (cur && *p == '/') {
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            if (*p == '~') {
                if (p[1] != '0' && p[1] != '1') {
                    cur = NULL;
                    goto done;
                }
                token[n++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                token[n++] = *p++;
            }
        }
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, token, n);
        } else if (json_is_array(cur)) {
            /* digits only, no leading zero, no "-" (past the end) */
            size_t index = 0;
            if (n == 0 || n > 18 || (n > 1 && token[0] == '0')) {
                cur = NULL;
                break;
            }
            for (size_t i = 0; i < n && cur; i++) {
                if (token[i] < '0' || token[i] > '9')
                    cur = NULL;
                index = index * 10 + (size_t)(token[i] - '0');
            }
            if (cur)
                cur = json_array_get(cur, index);
        } else {
            cur = NULL;
        }
    }
done:
    free(token);
    return cur;
}

void cq_schema_pointer_put(char **buf, size_t *len, size_t *cap, const char *token, size_t n)
{
    size_t need = *len + 1 + n * 3 + 1;
    if (need > *cap) {
        *cap = need * 2;
        *buf = cq_realloc(*buf, *cap);
    }
    char *out = *buf + *len;
    *out++ = '/';
    for (size_t i = 0; i < n; i++) {
        if (token[i] == '~') {
            *out++ = '~';
            *out++ = '0';
        } else if (token[i] == '/') {
            *out++ = '~';
            *out++ = '1';
        } else if (token[i] == '\0') {
            memcpy(out, "\xEF\xBF\xBD", 3);
            out += 3;
        } else {
            *out++ = token[i];
        }
    }
    *out = '\0';
    *len = (size_t)(out - *buf);
}

char *cq_json_pointer_append(const char *pointer, const char *token)
{
    size_t len = strlen(pointer), cap = len + 1;
    char *buf = cq_malloc(cap);
    memcpy(buf, pointer, cap);
    cq_schema_pointer_put(&buf, &len, &cap, token, strlen(token));
    return buf;
}

json_t *cq_schema_ref_resolve(json_t *root, const char *ref, char **pointer_out, char *errstr,
                              size_t errstr_size)
{
    if (ref[0] != '#') {
        cq_errstr_set(errstr, errstr_size,
                      "$ref \"%s\": only local references (\"#/...\") are supported", ref);
        return NULL;
    }
    /* the fragment is URI-encoded (RFC 6901 section 6) */
    char *pointer = cq_malloc(strlen(ref));
    size_t n = 0;
    for (const char *p = ref + 1; *p; p++) {
        if (*p == '%') {
            int v = 0;
            for (int i = 1; i <= 2; i++) {
                char h = p[i];
                int d = h >= '0' && h <= '9'   ? h - '0'
                        : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                               : -1;
                if (d < 0) {
                    v = 0;
                    break;
                }
                v = v * 16 + d;
            }
            if (v == 0) {
                cq_errstr_set(errstr, errstr_size, "$ref \"%s\": bad percent-encoding", ref);
                goto fail;
            }
            pointer[n++] = (char)v;
            p += 2;
        } else {
            pointer[n++] = *p;
        }
    }
    pointer[n] = '\0';
    if (n > 0 && pointer[0] != '/') {
        cq_errstr_set(errstr, errstr_size,
                      "$ref \"%s\": only JSON Pointer fragments are supported, not anchors", ref);
        goto fail;
    }
    json_t *target = cq_json_pointer_get(root, pointer);
    if (!target) {
        cq_errstr_set(errstr, errstr_size, "$ref \"%s\" points to nothing in the document", ref);
        goto fail;
    }
    *pointer_out = pointer;
    return target;
fail:
    free(pointer);
    return NULL;
}

bool cq_schema_is_annotation(const char *key)
{
    if (strncmp(key, "x-", 2) == 0)
        return true;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_schema_annotations); i++)
        if (strcmp(key, cq_schema_annotations[i]) == 0)
            return true;
    return false;
}

size_t cq_schema_key_len(const char *key)
{
    return json_object_iter_key_len(json_object_key_to_iter(key));
}

/* --------------------------------------------------------------- compiling */

typedef struct {
    cq_schema_t *schema;
    char *errstr;
    size_t errstr_size;
} cq_schema_compile_t;

typedef bool (*cq_schema_keyword_fn)(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                                     json_t *value, const char *where, int depth);

static size_t cq_schema_map_hash(const json_t *json, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)json * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static cq_schema_node_t *cq_schema_map_get(const cq_schema_t *schema, const json_t *json)
{
    if (!schema->map_cap)
        return NULL;
    for (size_t i = cq_schema_map_hash(json, schema->map_cap);;
         i = (i + 1) & (schema->map_cap - 1)) {
        if (!schema->map[i].json)
            return NULL;
        if (schema->map[i].json == json)
            return schema->map[i].node;
    }
}

static void cq_schema_map_put(cq_schema_t *schema, const json_t *json, cq_schema_node_t *node)
{
    size_t i = cq_schema_map_hash(json, schema->map_cap);
    while (schema->map[i].json)
        i = (i + 1) & (schema->map_cap - 1);
    schema->map[i].json = json;
    schema->map[i].node = node;
}

/* Takes ownership of node and makes json resolve to it. */
static void cq_schema_add_node(cq_schema_t *schema, const json_t *json, cq_schema_node_t *node)
{
    if (schema->nnodes == schema->nodes_cap) {
        schema->nodes_cap = schema->nodes_cap ? schema->nodes_cap * 2 : 32;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        schema->nodes = cq_realloc(schema->nodes, schema->nodes_cap * sizeof(*schema->nodes));
    }
    schema->nodes[schema->nnodes++] = node;
    if ((schema->nnodes + 1) * 2 > schema->map_cap) {
        struct cq_schema_slot_s *old = schema->map;
        size_t old_cap = schema->map_cap;
        schema->map_cap = old_cap ? old_cap * 2 : 64;
        schema->map = cq_calloc(schema->map_cap, sizeof(*schema->map));
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].json)
                cq_schema_map_put(schema, old[i].json, old[i].node);
        free(old);
    }
    cq_schema_map_put(schema, json, node);
}

static cq_schema_node_t *cq_schema_compile_node(cq_schema_compile_t *c, json_t *json,
                                                const char *where, int depth);

/* Text of values for messages: strings as they are (or JSON-quoted when
 * quote), others as compact JSON; long lists end with "...". */
static char *cq_schema_values_text(const json_t *values, bool quote)
{
    size_t len = 0, cap = 64;
    char *text = cq_malloc(cap);
    text[0] = '\0';
    for (size_t i = 0; i < json_array_size(values); i++) {
        const json_t *v = json_array_get(values, i);
        char *item = json_is_string(v) && !quote ? cq_strdup(json_string_value(v))
                                                 : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        const char *shown = item ? item : "?";
        bool more = len > 300;
        const char *piece = more ? "..." : shown;
        size_t need = len + strlen(piece) + 3;
        if (need > cap) {
            cap = need * 2;
            text = cq_realloc(text, cap);
        }
        len += (size_t)snprintf(text + len, cap - len, "%s%s", i ? ", " : "", piece);
        free(item);
        if (more)
            break;
    }
    return text;
}

static bool cq_schema_kw_type(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                              json_t *value, const char *where, int depth)
{
    size_t n = json_is_array(value) ? json_array_size(value) : 1;
    if (!json_is_string(value) && (!json_is_array(value) || n == 0))
        goto bad;
    for (size_t i = 0; i < n; i++) {
        json_t *name = json_is_array(value) ? json_array_get(value, i) : value;
        unsigned bit = 0;
        for (size_t t = 0; json_is_string(name) && t < CQ_SCHEMA_NTYPES; t++)
            if (strcmp(json_string_value(name), cq_schema_type_names[t].name) == 0)
                bit = cq_schema_type_names[t].bit;
        if (!bit || (node->types & bit))
            goto bad;
        node->types |= bit;
    }
    return true;
bad:
    cq_errstr_set(c->errstr, c->errstr_size,
                  "#%s: must be a type name or a non-empty array of distinct type names (object, "
                  "array, string, integer, number, boolean, null)",
                  where);
    return false;
}

static bool cq_schema_kw_properties(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                                    json_t *value, const char *where, int depth)
{
    if (!json_is_object(value)) {
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: must be an object of schemas", where);
        return false;
    }
    node->props_json = value;
    node->props = cq_calloc(json_object_size(value), sizeof(*node->props));
    const char *key;
    json_t *sub;
    json_object_foreach(value, key, sub)
    {
        cq_schema_prop_t *prop = &node->props[node->nprops++];
        prop->name = key;
        prop->name_len = cq_schema_key_len(key);
        char *sub_where = cq_json_pointer_append(where, key);
        prop->node = cq_schema_compile_node(c, sub, sub_where, depth + 1);
        free(sub_where);
        if (!prop->node)
            return false;
    }
    return true;
}

static bool cq_schema_kw_required(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                                  json_t *value, const char *where, int depth)
{
    for (size_t i = 0; json_is_array(value) && i < json_array_size(value); i++) {
        json_t *name = json_array_get(value, i);
        if (!json_is_string(name))
            goto bad;
        for (size_t j = 0; j < i; j++)
            if (json_equal(name, json_array_get(value, j)))
                goto bad;
    }
    if (!json_is_array(value))
        goto bad;
    node->required = value;
    return true;
bad:
    cq_errstr_set(c->errstr, c->errstr_size, "#%s: must be an array of distinct strings", where);
    return false;
}

/* additionalProperties, items, not: one schema into the node pointer at offset. */
static bool cq_schema_kw_schema(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                                json_t *value, const char *where, int depth)
{
    if (!json_is_object(value) && !json_is_boolean(value)) {
        cq_errstr_set(c->errstr, c->errstr_size,
                      "#%s: must be a schema (an object or a boolean; the array form of items is "
                      "not supported)",
                      where);
        return false;
    }
    cq_schema_node_t *sub = cq_schema_compile_node(c, value, where, depth + 1);
    *(cq_schema_node_t **)((char *)node + offset) = sub;
    return sub != NULL;
}

/* allOf, anyOf, oneOf: a non-empty array of schemas into the list at offset. */
static bool cq_schema_kw_list(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                              json_t *value, const char *where, int depth)
{
    if (!json_is_array(value) || json_array_size(value) == 0) {
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: must be a non-empty array of schemas",
                      where);
        return false;
    }
    cq_schema_list_t *list = (cq_schema_list_t *)((char *)node + offset);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    list->items = cq_calloc(json_array_size(value), sizeof(*list->items));
    for (size_t i = 0; i < json_array_size(value); i++) {
        char index[24];
        snprintf(index, sizeof(index), "%zu", i);
        char *sub_where = cq_json_pointer_append(where, index);
        list->items[i] = cq_schema_compile_node(c, json_array_get(value, i), sub_where, depth + 1);
        free(sub_where);
        if (!list->items[i])
            return false;
        list->count++;
    }
    return true;
}

static bool cq_schema_kw_enum(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                              json_t *value, const char *where, int depth)
{
    if (!json_is_array(value) || json_array_size(value) == 0) {
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: must be a non-empty array", where);
        return false;
    }
    node->enum_values = value;
    node->enum_text = cq_schema_values_text(value, false);
    return true;
}

static bool cq_schema_kw_const(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                               json_t *value, const char *where, int depth)
{
    json_t *one = json_pack("[O]", value);
    node->const_value = value;
    node->const_text = cq_schema_values_text(one, true);
    json_decref(one);
    return true;
}

/* minimum, maximum, exclusiveMinimum, exclusiveMaximum: the number itself. */
static bool cq_schema_kw_limit(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                               json_t *value, const char *where, int depth)
{
    if (!json_is_number(value)) {
        cq_errstr_set(c->errstr, c->errstr_size,
                      "#%s: must be a number (exclusive bounds are numbers since JSON Schema "
                      "2019-09, not booleans)",
                      where);
        return false;
    }
    *(const json_t **)((char *)node + offset) = value;
    return true;
}

/* minLength, maxLength, minItems, ...: a non-negative integer. */
static bool cq_schema_kw_count(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                               json_t *value, const char *where, int depth)
{
    if (!json_is_integer(value) || json_integer_value(value) < 0) {
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: must be a non-negative integer", where);
        return false;
    }
    *(json_int_t *)((char *)node + offset) = json_integer_value(value);
    return true;
}

static bool cq_schema_kw_unique(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                                json_t *value, const char *where, int depth)
{
    if (!json_is_boolean(value)) {
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: must be a boolean", where);
        return false;
    }
    node->unique_items = json_is_true(value);
    return true;
}

static bool cq_schema_kw_pattern(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                                 json_t *value, const char *where, int depth)
{
    char reason[160] = "must be a string";
    if (json_is_string(value))
        node->pattern = cq_regex_new(json_string_value(value), reason, sizeof(reason));
    if (!node->pattern)
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: %s", where, reason);
    return node->pattern != NULL;
}

static bool cq_schema_kw_format(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                                json_t *value, const char *where, int depth)
{
    for (size_t i = 0; json_is_string(value) && i < CQ_ARRAY_SIZE(cq_schema_formats); i++)
        if (strcmp(json_string_value(value), cq_schema_formats[i].name) == 0)
            node->format = &cq_schema_formats[i];
    if (!node->format)
        cq_errstr_set(c->errstr, c->errstr_size,
                      "#%s: unsupported format (supported: date, date-time, uri, email, uuid)",
                      where);
    return node->format != NULL;
}

static bool cq_schema_kw_ref(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                             json_t *value, const char *where, int depth)
{
    char *pointer = NULL;
    char reason[200] = "must be a string";
    json_t *target = NULL;
    if (json_is_string(value))
        target = cq_schema_ref_resolve(c->schema->root, json_string_value(value), &pointer, reason,
                                       sizeof(reason));
    if (!target) {
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: %s", where, reason);
        return false;
    }
    node->ref = cq_schema_compile_node(c, target, pointer, depth + 1);
    free(pointer);
    return node->ref != NULL;
}

static bool cq_schema_kw_defs(cq_schema_compile_t *c, cq_schema_node_t *node, size_t offset,
                              json_t *value, const char *where, int depth)
{
    /* only a place for $ref targets, compiled when referenced */
    if (!json_is_object(value))
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: must be an object of schemas", where);
    return json_is_object(value);
}

#define CQ_SCHEMA_AT(field) offsetof(cq_schema_node_t, field)
static const struct {
    const char *name;
    cq_schema_keyword_fn compile;
    size_t offset;
} cq_schema_keywords[] = {
    {"type", cq_schema_kw_type, 0},
    {"properties", cq_schema_kw_properties, 0},
    {"required", cq_schema_kw_required, 0},
    {"additionalProperties", cq_schema_kw_schema, CQ_SCHEMA_AT(additional)},
    {"items", cq_schema_kw_schema, CQ_SCHEMA_AT(items)},
    {"not", cq_schema_kw_schema, CQ_SCHEMA_AT(not_schema)},
    {"allOf", cq_schema_kw_list, CQ_SCHEMA_AT(all_of)},
    {"anyOf", cq_schema_kw_list, CQ_SCHEMA_AT(any_of)},
    {"oneOf", cq_schema_kw_list, CQ_SCHEMA_AT(one_of)},
    {"enum", cq_schema_kw_enum, 0},
    {"const", cq_schema_kw_const, 0},
    {"minimum", cq_schema_kw_limit, CQ_SCHEMA_AT(minimum)},
    {"maximum", cq_schema_kw_limit, CQ_SCHEMA_AT(maximum)},
    {"exclusiveMinimum", cq_schema_kw_limit, CQ_SCHEMA_AT(exclusive_minimum)},
    {"exclusiveMaximum", cq_schema_kw_limit, CQ_SCHEMA_AT(exclusive_maximum)},
    {"minLength", cq_schema_kw_count, CQ_SCHEMA_AT(min_length)},
    {"maxLength", cq_schema_kw_count, CQ_SCHEMA_AT(max_length)},
    {"minItems", cq_schema_kw_count, CQ_SCHEMA_AT(min_items)},
    {"maxItems", cq_schema_kw_count, CQ_SCHEMA_AT(max_items)},
    {"minProperties", cq_schema_kw_count, CQ_SCHEMA_AT(min_props)},
    {"maxProperties", cq_schema_kw_count, CQ_SCHEMA_AT(max_props)},
    {"uniqueItems", cq_schema_kw_unique, 0},
    {"pattern", cq_schema_kw_pattern, 0},
    {"format", cq_schema_kw_format, 0},
    {"$ref", cq_schema_kw_ref, 0},
    {"$defs", cq_schema_kw_defs, 0},
};

static cq_schema_node_t *cq_schema_compile_node(cq_schema_compile_t *c, json_t *json,
                                                const char *where, int depth)
{
    cq_schema_node_t *node = cq_schema_map_get(c->schema, json);
    if (node)
        return node;
    if (depth > CQ_SCHEMA_MAX_COMPILE_DEPTH) {
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: schema nested too deeply", where);
        return NULL;
    }
    if (!json_is_object(json) && !json_is_boolean(json)) {
        cq_errstr_set(c->errstr, c->errstr_size, "#%s: a schema must be an object or a boolean",
                      where);
        return NULL;
    }
    node = cq_calloc(1, sizeof(*node));
    node->boolean = json_is_object(json) ? -1 : json_is_true(json);
    node->min_length = node->max_length = node->min_items = node->max_items = -1;
    node->min_props = node->max_props = -1;
    node->where = cq_strdup(where);
    cq_schema_add_node(c->schema, json, node); /* before the keywords: recursion finds it */
    const char *key;
    json_t *value;
    json_object_foreach(json, key, value)
    {
        size_t k = 0;
        while (k < CQ_ARRAY_SIZE(cq_schema_keywords) &&
               strcmp(key, cq_schema_keywords[k].name) != 0)
            k++;
        if (k == CQ_ARRAY_SIZE(cq_schema_keywords)) {
            if (cq_schema_is_annotation(key))
                continue;
            cq_errstr_set(c->errstr, c->errstr_size, "#%s: unsupported keyword \"%s\"", where, key);
            return NULL;
        }
        char *kw_where = cq_json_pointer_append(where, key);
        bool ok = cq_schema_keywords[k].compile(c, node, cq_schema_keywords[k].offset, value,
                                                kw_where, depth);
        free(kw_where);
        if (!ok)
            return NULL;
    }
    return node;
}

/* Finds a cycle through edges that stay on the same instance value. */
static bool cq_schema_cycle_check(cq_schema_compile_t *c, cq_schema_node_t *node, int depth)
{
    if (node->mark == 2)
        return true;
    if (node->mark == 1 || depth > 4 * CQ_SCHEMA_MAX_FRAMES) {
        cq_errstr_set(c->errstr, c->errstr_size,
                      "#%s: $ref/allOf/anyOf/oneOf/not lead back to this schema without going "
                      "through properties or items (infinite recursion)",
                      node->where);
        return false;
    }
    node->mark = 1;
    cq_schema_node_t *single[2] = {node->ref, node->not_schema};
    for (size_t i = 0; i < 2; i++)
        if (single[i] && !cq_schema_cycle_check(c, single[i], depth + 1))
            return false;
    const cq_schema_list_t *lists[3] = {&node->all_of, &node->any_of, &node->one_of};
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < lists[l]->count; i++)
            if (!cq_schema_cycle_check(c, lists[l]->items[i], depth + 1))
                return false;
    node->mark = 2;
    return true;
}

cq_schema_t *cq_schema_new(json_t *root, const char *pointer, char *errstr, size_t errstr_size)
{
    if (!pointer)
        pointer = "";
    json_t *json = cq_json_pointer_get(root, pointer);
    if (!json) {
        cq_errstr_set(errstr, errstr_size, "no schema at \"%s\"", pointer);
        return NULL;
    }
    cq_schema_t *schema = cq_calloc(1, sizeof(*schema));
    schema->root = json_incref(root);
    cq_schema_compile_t c = {schema, errstr, errstr_size};
    schema->entry = cq_schema_compile_node(&c, json, pointer, 0);
    if (!schema->entry)
        goto fail;
    for (size_t i = 0; i < schema->nnodes; i++)
        if (!cq_schema_cycle_check(&c, schema->nodes[i], 0))
            goto fail;
    return schema;
fail:
    cq_schema_destroy(schema);
    return NULL;
}

void cq_schema_destroy(cq_schema_t *schema)
{
    if (!schema)
        return;
    for (size_t i = 0; i < schema->nnodes; i++) {
        cq_schema_node_t *node = schema->nodes[i];
        free(node->props);
        free(node->enum_text);
        free(node->const_text);
        cq_regex_destroy(node->pattern);
        free(node->all_of.items);
        free(node->any_of.items);
        free(node->one_of.items);
        free(node->where);
        free(node);
    }
    free(schema->nodes);
    free(schema->map);
    json_decref(schema->root);
    free(schema);
}
