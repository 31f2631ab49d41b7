/*
 * cq_schema_copy.c — self-contained copies of schemas for LLM structured
 * output (cq_schema_strict_copy, see cq_schema.h).
 *
 * The copy walks the schema knowing which keyword values are schemas
 * (properties, items, allOf, ...) and which are data (enum, const,
 * required, ...), so a property called "title" or an enum value "$ref" is
 * copied as it is. A "$ref" is replaced by a copy of its target; siblings
 * other than "description" keep their meaning through an allOf. A $ref that
 * leads back to itself cannot be inlined and is an error, and the copy is
 * bounded in size so a document whose refs fan out cannot blow it up.
 *
 * Threads: reads the document only; call from any thread, usually at start.
 */
#include "cq_common.h"
#include "cq_schema_int.h"

#include <stdlib.h>
#include <string.h>

#define CQ_SCHEMA_MAX_INLINE_NODES 100000

typedef struct {
    json_t *root;
    const json_t *expanding[CQ_SCHEMA_MAX_COMPILE_DEPTH + 2]; /* $ref targets being inlined */
    size_t nexpanding;
    size_t nodes;
    char *errstr;
    size_t errstr_size;
} cq_schema_copy_t;

static json_t *cq_schema_copy_node(cq_schema_copy_t *c, json_t *schema, int depth);

static json_t *cq_schema_copy_list(cq_schema_copy_t *c, json_t *list, int depth)
{
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *item = cq_schema_copy_node(c, json_array_get(list, i), depth + 1);
        if (!item) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, item);
    }
    return out;
}

static json_t *cq_schema_copy_keyword(cq_schema_copy_t *c, const char *key, json_t *value,
                                      int depth)
{
    if (strcmp(key, "properties") == 0) {
        json_t *out = json_object();
        const char *name;
        json_t *sub;
        json_object_foreach(value, name, sub)
        {
            json_t *copy = cq_schema_copy_node(c, sub, depth + 1);
            if (!copy) {
                json_decref(out);
                return NULL;
            }
            json_object_setn_new(out, name, cq_schema_key_len(name), copy);
        }
        return out;
    }
    if (strcmp(key, "items") == 0 || strcmp(key, "additionalProperties") == 0 ||
        strcmp(key, "not") == 0)
        return cq_schema_copy_node(c, value, depth + 1);
    if (strcmp(key, "allOf") == 0 || strcmp(key, "anyOf") == 0 || strcmp(key, "oneOf") == 0)
        return cq_schema_copy_list(c, value, depth);
    return json_deep_copy(value);
}

static json_t *cq_schema_copy_ref(cq_schema_copy_t *c, const char *ref, int depth)
{
    char *pointer = NULL;
    json_t *target = cq_schema_ref_resolve(c->root, ref, &pointer, c->errstr, c->errstr_size);
    if (!target)
        return NULL;
    free(pointer);
    for (size_t i = 0; i < c->nexpanding; i++) {
        if (c->expanding[i] == target) {
            cq_errstr_set(c->errstr, c->errstr_size,
                          "$ref \"%s\" is recursive and cannot be inlined", ref);
            return NULL;
        }
    }
    c->expanding[c->nexpanding++] = target;
    json_t *copy = cq_schema_copy_node(c, target, depth + 1);
    c->nexpanding--;
    return copy;
}

static json_t *cq_schema_copy_node(cq_schema_copy_t *c, json_t *schema, int depth)
{
    if (depth > CQ_SCHEMA_MAX_COMPILE_DEPTH || c->nexpanding > CQ_SCHEMA_MAX_COMPILE_DEPTH) {
        cq_errstr_set(c->errstr, c->errstr_size, "schema nested too deeply to inline");
        return NULL;
    }
    if (++c->nodes > CQ_SCHEMA_MAX_INLINE_NODES) {
        cq_errstr_set(c->errstr, c->errstr_size, "schema too large once its $refs are inlined");
        return NULL;
    }
    if (!json_is_object(schema))
        return json_incref(schema); /* true or false (cq_schema_new checked) */
    json_t *out = json_object();
    const char *key;
    json_t *value;
    json_object_foreach(schema, key, value)
    {
        if (strcmp(key, "$ref") == 0 || strcmp(key, "$defs") == 0 ||
            (cq_schema_is_annotation(key) && strcmp(key, "description") != 0))
            continue;
        json_t *copy = cq_schema_copy_keyword(c, key, value, depth);
        if (!copy)
            goto fail;
        json_object_set_new(out, key, copy);
    }
    json_t *ref = json_object_get(schema, "$ref");
    if (!ref)
        return out;
    json_t *target = cq_schema_copy_ref(c, json_string_value(ref), depth);
    if (!target)
        goto fail;
    json_t *description = json_object_get(out, "description");
    if (json_object_size(out) == 0 || (json_object_size(out) == 1 && description)) {
        /* {"$ref", "description"}: the target, described here */
        if (description && json_is_object(target))
            json_object_set(target, "description", description);
        json_decref(out);
        return target;
    }
    json_t *both = json_pack("{s:[o,o]}", "allOf", target, out);
    return both;
fail:
    json_decref(out);
    return NULL;
}

json_t *cq_schema_strict_copy(json_t *root, const char *pointer, char *errstr, size_t errstr_size)
{
    /* compiling first refuses what the validator would refuse */
    cq_schema_t *schema = cq_schema_new(root, pointer, errstr, errstr_size);
    if (!schema)
        return NULL;
    cq_schema_destroy(schema);
    cq_schema_copy_t c = {.root = root, .errstr = errstr, .errstr_size = errstr_size};
    return cq_schema_copy_node(&c, cq_json_pointer_get(root, pointer ? pointer : ""), 0);
}
