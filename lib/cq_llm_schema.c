/*
 * cq_llm_schema.c — result schemas for structured output (see cq_llm_schema.h).
 *
 * One recursive copy does everything: $refs are replaced by a converted
 * copy of their target (depth-limited, so a recursive $ref is an error, not
 * a stack overflow), in strict mode each node keeps only the keywords
 * OpenAI's strict mode accepts, and in grammar mode each node loses the
 * keywords a grammar compiler cannot take in reasonable size. The contract document is never
 * modified and its reference counts are never touched: workers share it.
 */
#include "cq_llm_schema.h"
#include "cq_schema.h"

#include <stdlib.h>
#include <string.h>

#define CQ_LLM_SCHEMA_MAX_DEPTH 64

typedef struct {
    const json_t *doc;
    bool strict, grammar;
    char *errstr;
    size_t errstr_size;
} cq_llm_conv_t;

/* Keywords strict mode rejects but our validator checks: dropped, and
 * their values told to the model in the description instead. */
static const char *const cq_llm_schema_hinted[] = {
    "minLength", "maxLength",        "pattern",          "format",       "minimum",
    "maximum",   "exclusiveMinimum", "exclusiveMaximum", "multipleOf",   "minItems",
    "maxItems",  "uniqueItems",      "minProperties",    "maxProperties"};

/* Keywords whose meaning strict mode cannot express; dropping them would
 * change what the schema describes, so conversion fails instead. */
static const char *const cq_llm_schema_unsupported[] = {"allOf",
                                                        "not",
                                                        "if",
                                                        "then",
                                                        "else",
                                                        "prefixItems",
                                                        "contains",
                                                        "propertyNames",
                                                        "dependentSchemas",
                                                        "dependentRequired",
                                                        "patternProperties",
                                                        "unevaluatedProperties",
                                                        "unevaluatedItems"};

static bool cq_llm_schema_in(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, list[i]) == 0)
            return true;
    return false;
}

/* Resolves a local reference "#/a/b~1c" in the document. */
static const json_t *cq_llm_schema_resolve(cq_llm_conv_t *c, const char *ref)
{
    if (strcmp(ref, "#") == 0)
        return c->doc;
    if (strncmp(ref, "#/", 2) != 0) {
        cq_errstr_set(c->errstr, c->errstr_size, "$ref \"%s\" is not a local \"#/...\" reference",
                      ref);
        return NULL;
    }
    const json_t *node = cq_json_pointer_get((json_t *)c->doc, ref + 1);
    if (!node)
        cq_errstr_set(c->errstr, c->errstr_size, "$ref \"%s\" points at nothing", ref);
    return node;
}

static json_t *cq_llm_schema_conv(cq_llm_conv_t *c, const json_t *node, int depth);

/* Converts every schema of an array keyword; NULL on error. */
static json_t *cq_llm_schema_conv_list(cq_llm_conv_t *c, const char *key, const json_t *list,
                                       int depth)
{
    if (!json_is_array(list)) {
        cq_errstr_set(c->errstr, c->errstr_size, "\"%s\" is not an array", key);
        return NULL;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *sub = cq_llm_schema_conv(c, json_array_get(list, i), depth + 1);
        if (!sub) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, sub);
    }
    return out;
}

static json_t *cq_llm_schema_conv_props(cq_llm_conv_t *c, const json_t *props, int depth)
{
    if (!json_is_object(props)) {
        cq_errstr_set(c->errstr, c->errstr_size, "\"properties\" is not an object");
        return NULL;
    }
    json_t *out = json_object();
    for (void *it = json_object_iter((json_t *)props); it;
         it = json_object_iter_next((json_t *)props, it)) {
        const char *name = json_object_iter_key(it);
        json_t *sub = json_object_iter_value(it);
        json_t *conv = cq_llm_schema_conv(c, sub, depth + 1);
        if (!conv) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, name, conv);
    }
    return out;
}

static bool cq_llm_schema_type_has(const json_t *type, const char *name)
{
    if (json_is_string(type))
        return strcmp(json_string_value(type), name) == 0;
    for (size_t i = 0; i < json_array_size(type); i++)
        if (json_is_string(json_array_get(type, i)) &&
            strcmp(json_string_value(json_array_get(type, i)), name) == 0)
            return true;
    return false;
}

static bool cq_llm_schema_array_has_null(const json_t *arr)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_is_null(json_array_get(arr, i)))
            return true;
    return false;
}

/* Lets a converted strict-mode property also be null; takes and returns a reference. */
static json_t *cq_llm_schema_nullable(json_t *s)
{
    json_t *type = json_object_get(s, "type");
    json_t *any = json_object_get(s, "anyOf");
    if (json_is_array(any)) {
        json_array_append_new(any, json_pack("{s:s}", "type", "null"));
        return s;
    }
    if (!type || json_object_get(s, "const")) {
        return json_pack("{s:[o,{s:s}]}", "anyOf", s, "type", "null");
    }
    if (json_is_string(type) && strcmp(json_string_value(type), "null") != 0)
        json_object_set_new(s, "type", json_pack("[s,s]", json_string_value(type), "null"));
    else if (json_is_array(type) && !cq_llm_schema_type_has(type, "null"))
        json_array_append_new(type, json_string("null"));
    json_t *en = json_object_get(s, "enum");
    if (json_is_array(en) && !cq_llm_schema_array_has_null(en))
        json_array_append_new(en, json_null());
    return s;
}

/* Strict mode: every property required (optional ones nullable), no others allowed. */
static bool cq_llm_schema_close_object(cq_llm_conv_t *c, const json_t *node, json_t *out)
{
    json_t *extra = json_object_get(node, "additionalProperties");
    if (json_is_object(extra)) {
        cq_errstr_set(c->errstr, c->errstr_size,
                      "an object with an additionalProperties schema (a map) cannot be "
                      "expressed in strict mode");
        return false;
    }
    json_t *props = json_object_get(out, "properties");
    if (!props) {
        props = json_object();
        json_object_set_new(out, "properties", props);
    }
    const json_t *required = json_object_get(node, "required");
    json_t *all = json_array();
    for (void *it = json_object_iter(props); it; it = json_object_iter_next(props, it)) {
        const char *name = json_object_iter_key(it);
        json_t *sub = json_object_iter_value(it);
        bool listed = false;
        for (size_t i = 0; i < json_array_size(required); i++) {
            const char *r = json_string_value(json_array_get(required, i));
            if (r && strcmp(r, name) == 0)
                listed = true;
        }
        if (!listed) {
            json_t *nullable = cq_llm_schema_nullable(json_incref(sub));
            json_object_set_new(props, name, nullable);
        }
        json_array_append_new(all, json_string(name));
    }
    json_object_set_new(out, "required", all);
    json_object_set_new(out, "additionalProperties", json_false());
    return true;
}

typedef enum { CQ_LLM_KEEP, CQ_LLM_DROP, CQ_LLM_CLAMP } cq_llm_grammar_action_t;

/* What the grammar shape does with a keyword of node. Patterns and formats
 * are dropped (regex-to-grammar translation is partial and slow). Bounds
 * expand into one grammar rule per repetition, so a large maximum is
 * clamped to the shape's bound (stricter: what fits the clamped schema
 * fits the full one, and the model is still stopped); a minimum above the
 * bound is dropped, and so is then its maximum, which can no longer be
 * clamped below it. */
static cq_llm_grammar_action_t cq_llm_schema_grammar_action(const json_t *node, const char *key,
                                                            const json_t *val)
{
    if (strcmp(key, "pattern") == 0 || strcmp(key, "format") == 0)
        return CQ_LLM_DROP;
    bool length = strcmp(key, "minLength") == 0 || strcmp(key, "maxLength") == 0;
    bool items = strcmp(key, "minItems") == 0 || strcmp(key, "maxItems") == 0;
    if (!length && !items)
        return CQ_LLM_KEEP;
    json_int_t bound = length ? CQ_LLM_SCHEMA_GRAMMAR_MAX_LENGTH : CQ_LLM_SCHEMA_GRAMMAR_MAX_ITEMS;
    if (!json_is_integer(val))
        return CQ_LLM_DROP;
    if (json_integer_value(val) <= bound)
        return CQ_LLM_KEEP;
    if (key[1] == 'i') /* minLength, minItems */
        return CQ_LLM_DROP;
    json_t *min = json_object_get(node, length ? "minLength" : "minItems");
    return json_integer_value(min) > bound ? CQ_LLM_DROP : CQ_LLM_CLAMP;
}

/* Whether the converted node leaves out key (so the description says it). */
static bool cq_llm_schema_dropped(const cq_llm_conv_t *c, const json_t *node, const char *key,
                                  const json_t *val)
{
    if (c->strict)
        return cq_llm_schema_in(key, cq_llm_schema_hinted, CQ_ARRAY_SIZE(cq_llm_schema_hinted));
    return c->grammar && cq_llm_schema_grammar_action(node, key, val) == CQ_LLM_DROP;
}

/* Appends "(minLength: 1, maxLength: 500)" for dropped keywords to the description. */
static void cq_llm_schema_hint(const cq_llm_conv_t *c, json_t *out, const json_t *node)
{
    char *hint = NULL;
    for (void *it = json_object_iter((json_t *)node); it;
         it = json_object_iter_next((json_t *)node, it)) {
        const char *key = json_object_iter_key(it);
        json_t *val = json_object_iter_value(it);
        if (!cq_llm_schema_dropped(c, node, key, val))
            continue;
        char *text = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
        char *next =
            cq_asprintf("%s%s%s: %s", hint ? hint : "", hint ? ", " : "", key, text ? text : "?");
        free(text);
        free(hint);
        hint = next;
    }
    if (!hint)
        return;
    const char *desc = json_string_value(json_object_get(out, "description"));
    char *full = cq_asprintf("%s%s(%s)", desc ? desc : "", desc ? " " : "", hint);
    json_object_set_new(out, "description", json_string(full));
    free(full);
    free(hint);
}

static json_t *cq_llm_schema_conv_ref(cq_llm_conv_t *c, const json_t *node, const json_t *ref,
                                      int depth)
{
    if (!json_is_string(ref)) {
        cq_errstr_set(c->errstr, c->errstr_size, "$ref is not a string");
        return NULL;
    }
    const json_t *target = cq_llm_schema_resolve(c, json_string_value(ref));
    if (!target)
        return NULL;
    json_t *out = cq_llm_schema_conv(c, target, depth + 1);
    const char *here = json_string_value(json_object_get(node, "description"));
    if (out && here && json_is_object(out)) {
        /* The description at the reference is the more specific one; keep both. */
        const char *there = json_string_value(json_object_get(out, "description"));
        char *desc = cq_asprintf("%s%s%s", here, there ? " " : "", there ? there : "");
        json_object_set_new(out, "description", json_string(desc));
        free(desc);
    }
    return out;
}

static json_t *cq_llm_schema_conv(cq_llm_conv_t *c, const json_t *node, int depth)
{
    if (depth > CQ_LLM_SCHEMA_MAX_DEPTH) {
        cq_errstr_set(c->errstr, c->errstr_size,
                      "schema nests deeper than %d levels (a recursive $ref?)",
                      CQ_LLM_SCHEMA_MAX_DEPTH);
        return NULL;
    }
    if (json_is_boolean(node) && !c->strict)
        return json_deep_copy(node);
    if (!json_is_object(node)) {
        cq_errstr_set(c->errstr, c->errstr_size, "a schema is not an object");
        return NULL;
    }
    const json_t *ref = json_object_get(node, "$ref");
    if (ref)
        return cq_llm_schema_conv_ref(c, node, ref, depth);

    json_t *out = json_object();
    for (void *it = json_object_iter((json_t *)node); it;
         it = json_object_iter_next((json_t *)node, it)) {
        const char *key = json_object_iter_key(it);
        json_t *val = json_object_iter_value(it);
        json_t *conv = NULL;
        const char *out_key = key;
        if (strcmp(key, "$defs") == 0 || strcmp(key, "definitions") == 0)
            continue; /* every $ref is inlined */
        cq_llm_grammar_action_t act =
            c->grammar ? cq_llm_schema_grammar_action(node, key, val) : CQ_LLM_KEEP;
        if (act == CQ_LLM_DROP)
            continue; /* told in the description below */
        if (act == CQ_LLM_CLAMP) {
            json_object_set_new(out, key,
                                json_integer(strcmp(key, "maxLength") == 0
                                                 ? CQ_LLM_SCHEMA_GRAMMAR_MAX_LENGTH
                                                 : CQ_LLM_SCHEMA_GRAMMAR_MAX_ITEMS));
            continue;
        }
        if (strcmp(key, "properties") == 0) {
            conv = cq_llm_schema_conv_props(c, val, depth);
        } else if (strcmp(key, "items") == 0 ||
                   (!c->strict &&
                    (strcmp(key, "additionalProperties") == 0 || strcmp(key, "not") == 0) &&
                    json_is_object(val))) {
            if (json_is_array(val)) {
                cq_errstr_set(c->errstr, c->errstr_size, "tuple \"items\" is not supported");
                goto fail;
            }
            conv = cq_llm_schema_conv(c, val, depth + 1);
        } else if (strcmp(key, "oneOf") == 0 || strcmp(key, "anyOf") == 0 ||
                   (!c->strict && (strcmp(key, "allOf") == 0 || strcmp(key, "prefixItems") == 0))) {
            if (c->strict && strcmp(key, "oneOf") == 0) {
                if (json_object_get(node, "anyOf")) {
                    cq_errstr_set(c->errstr, c->errstr_size,
                                  "a schema with both oneOf and anyOf cannot be expressed in "
                                  "strict mode");
                    goto fail;
                }
                out_key = "anyOf"; /* strict mode knows no oneOf */
            }
            conv = cq_llm_schema_conv_list(c, key, val, depth);
        } else if (!c->strict || strcmp(key, "type") == 0 || strcmp(key, "enum") == 0 ||
                   strcmp(key, "const") == 0 || strcmp(key, "description") == 0) {
            /* non-strict keeps every keyword; strict mode these few as they are */
            conv = json_deep_copy(val);
        } else if (cq_llm_schema_in(key, cq_llm_schema_unsupported,
                                    CQ_ARRAY_SIZE(cq_llm_schema_unsupported))) {
            cq_errstr_set(c->errstr, c->errstr_size, "\"%s\" cannot be expressed in strict mode",
                          key);
            goto fail;
        } else {
            continue; /* required, additionalProperties: below; the rest is dropped */
        }
        if (!conv)
            goto fail;
        json_object_set_new(out, out_key, conv);
    }
    if (c->strict) {
        const json_t *type = json_object_get(node, "type");
        if (json_object_get(node, "properties") || cq_llm_schema_type_has(type, "object"))
            if (!cq_llm_schema_close_object(c, node, out))
                goto fail;
    }
    if (c->strict || c->grammar)
        cq_llm_schema_hint(c, out, node);
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* The schema at the root after following $refs; NULL when dangling. */
static const json_t *cq_llm_schema_root(const json_t *schema, const json_t *document)
{
    cq_llm_conv_t c = {document ? document : schema, false, false, NULL, 0};
    for (int i = 0; i < CQ_LLM_SCHEMA_MAX_DEPTH && schema; i++) {
        const char *ref = json_string_value(json_object_get(schema, "$ref"));
        if (!ref)
            return schema;
        schema = cq_llm_schema_resolve(&c, ref);
    }
    return NULL;
}

bool cq_llm_schema_wrapped(const json_t *schema, const json_t *document)
{
    const json_t *root = cq_llm_schema_root(schema, document);
    const json_t *type = json_object_get(root, "type");
    return !(json_is_string(type) && strcmp(json_string_value(type), "object") == 0);
}

json_t *cq_llm_schema_convert(const json_t *schema, const json_t *document, cq_llm_shape_t shape,
                              char *errstr, size_t errstr_size)
{
    cq_llm_conv_t c = {document ? document : schema, shape == CQ_LLM_SHAPE_STRICT,
                       shape == CQ_LLM_SHAPE_GRAMMAR, errstr, errstr_size};
    if (!schema) {
        cq_errstr_set(errstr, errstr_size, "no result schema");
        return NULL;
    }
    json_t *out = cq_llm_schema_conv(&c, schema, 0);
    if (!out || !cq_llm_schema_wrapped(schema, document))
        return out;
    const json_t *root = cq_llm_schema_root(schema, document);
    const char *key = cq_llm_schema_type_has(json_object_get(root, "type"), "array")
                          ? CQ_LLM_SCHEMA_WRAP_ARRAY
                          : CQ_LLM_SCHEMA_WRAP_OTHER;
    return json_pack("{s:s, s:{s:o}, s:[s], s:b}", "type", "object", "properties", key, out,
                     "required", key, "additionalProperties", 0);
}

void cq_llm_schema_drop_nulls(json_t *value)
{
    if (json_is_object(value)) {
        /* next is taken before a member is deleted, as deleting frees it. */
        for (void *it = json_object_iter(value), *next; it; it = next) {
            next = json_object_iter_next(value, it);
            json_t *member = json_object_iter_value(it);
            if (json_is_null(member))
                json_object_del(value, json_object_iter_key(it));
            else
                cq_llm_schema_drop_nulls(member);
        }
    } else if (json_is_array(value)) {
        for (size_t i = 0; i < json_array_size(value); i++)
            cq_llm_schema_drop_nulls(json_array_get(value, i));
    }
}

json_t *cq_llm_schema_unwrap(json_t *answer)
{
    if (json_is_object(answer) && json_object_size(answer) == 1) {
        json_t *inner = json_object_get(answer, CQ_LLM_SCHEMA_WRAP_ARRAY);
        if (!inner)
            inner = json_object_get(answer, CQ_LLM_SCHEMA_WRAP_OTHER);
        if (inner)
            return json_incref(inner);
    }
    return json_incref(answer);
}
