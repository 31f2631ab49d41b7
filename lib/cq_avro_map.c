/*
 * cq_avro_map.c — maps one JSON Schema of the OpenAPI document to an Avro
 * type (schema JSON) plus the node graph the codec walks. Used only while
 * cq_avro_schema.c builds the two message schemas at start-up: one thread,
 * one cq_avro_map_t per generated schema (names are scoped to it).
 *
 * JSON Schema -> Avro (namespace io.coachq for every named type):
 *  - $ref: followed; a target "#/components/schemas/<Name>" gives records and
 *    enums the name <Name> (characters outside [A-Za-z0-9_] become '_').
 *  - object with non-empty `properties` and no free-form extras -> record;
 *    its name is the component name when reached through $ref, else parent
 *    name + PascalCase(property) (+ "Item" per array level, + "Option<N>" for
 *    the N-th inline oneOf/anyOf branch). Fields in document order.
 *  - object without properties, or with additionalProperties true/a schema,
 *    or patternProperties -> string holding JSON text (field doc says so).
 *  - allOf whose parts are all such objects -> one record merging their
 *    properties (in order) and required lists; any other allOf -> JSON text.
 *  - property not in `required` -> ["null", T] with "default": null; on
 *    decode a null optional field is left out of the JSON object (so an
 *    explicit null sent for an optional field comes back absent).
 *  - type "string" -> string; "integer" -> long; "number" -> double;
 *    "boolean" -> boolean; "null" -> null; "array" -> array of the mapped
 *    `items` (JSON text when items is absent); type [T, "null"] -> ["null", T];
 *    two or more non-null types -> JSON text.
 *  - enum whose values are all strings matching [A-Za-z_][A-Za-z0-9_]* ->
 *    Avro enum (named like a record); any other enum -> its base type
 *    (string when untyped). A null among the values makes it nullable.
 *  - const string -> string (the value is kept to choose union branches).
 *  - oneOf/anyOf whose branches all map to records (a {"type":"null"} branch
 *    makes it nullable) -> union of those records; encoding picks the first
 *    branch the value fits (every required property present, no unknown
 *    property, every value of the right type). Any other oneOf/anyOf -> JSON
 *    text.
 *  - a schema with no type information ({} or true) -> JSON text.
 *  - a named type reached a second time is referred to by its name (this also
 *    makes recursive schemas work); two different schemas giving the same
 *    name is an error.
 *  - a property name that is not a valid Avro name gets '_' for each invalid
 *    character and keeps its JSON name in the field's "x-json-name"; two
 *    properties giving the same field name is an error.
 *  - "description" -> "doc". Formats, limits and patterns are not mapped: the
 *    JSON Schema validator enforces them before anything is encoded.
 * JSON values: encoding a record rejects properties it does not declare and
 * accepts an integral real for an integer; decoding gives an integral double
 * within +-2^53 back as a JSON integer (JSON does not tell 3 from 3.0).
 */
#include "cq_avro_map.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define GEN_MAX_DEPTH     64
#define GEN_MAX_REF_CHAIN 32

typedef struct {
    char *name;
    const void *src; /* the schema object the name stands for */
    cq_avro_node_t *node;
} gen_named_t;

struct cq_avro_map_s {
    json_t *doc;
    cq_avro_node_t **nodes; /* list head of the graph being built */
    gen_named_t *named;
    size_t named_count, named_cap;
    char *errstr;
    size_t errstr_size;
};
typedef struct cq_avro_map_s gen_t;

static const char JSON_TEXT_NOTE[] = "Avro string holding the value as compact JSON text.";
static const char JSON_ITEMS_NOTE[] =
    "Each item is an Avro string holding a JSON value as JSON text.";

static void gen_fail(gen_t *g, const char *fmt, ...) CQ_PRINTF(2, 3);
static void gen_fail(gen_t *g, const char *fmt, ...)
{
    if (!g->errstr || g->errstr_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->errstr, g->errstr_size, fmt, ap);
    va_end(ap);
}

static cq_avro_node_t *node_new(gen_t *g, cq_avro_kind_t kind)
{
    cq_avro_node_t *node = cq_calloc(1, sizeof(*node));
    node->kind = kind;
    node->next_alloc = *g->nodes;
    *g->nodes = node;
    return node;
}

static void nodes_free(cq_avro_node_t *node)
{
    while (node) {
        cq_avro_node_t *next = node->next_alloc;
        for (size_t i = 0; node->fields && i < node->count; i++) {
            free(node->fields[i].name);
            free(node->fields[i].json_name);
        }
        for (size_t i = 0; node->symbols && i < node->count; i++)
            free(node->symbols[i]);
        free(node->fields);
        free(node->symbols);
        free(node->branches);
        free(node->name);
        json_decref(node->konst);
        free(node);
        node = next;
    }
}

static bool valid_avro_name(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (const char *p = s + 1; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

/* Replaces characters Avro names cannot hold; a leading digit gets '_'. */
static char *avro_name_from(const char *s)
{
    size_t len = strlen(s);
    char *out = cq_malloc(len + 2), *o = out;
    if (len == 0 || isdigit((unsigned char)s[0]))
        *o++ = '_';
    for (const char *p = s; *p; p++)
        *o++ = (char)((isalnum((unsigned char)*p) || *p == '_') ? *p : '_');
    *o = '\0';
    return out;
}

/* "due_date", "dueDate", "x-due-date" -> "DueDate", "DueDate", "XDueDate". */
static char *pascal_case(const char *s)
{
    char *out = cq_malloc(strlen(s) + 2), *o = out;
    bool up = true;
    if (isdigit((unsigned char)s[0]))
        *o++ = '_';
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p)) {
            up = true;
            continue;
        }
        *o++ = (char)(up ? toupper((unsigned char)*p) : *p);
        up = false;
    }
    *o = '\0';
    return out;
}

/* Local JSON Pointer ("#/a/b~1c") into the document; NULL when not found. */
static json_t *resolve_pointer(json_t *doc, const char *ref)
{
    if (strncmp(ref, "#", 1) != 0)
        return NULL;
    json_t *cur = doc;
    const char *p = ref + 1;
    while (*p == '/' && cur) {
        p++;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *tok = cq_malloc(len + 1), *t = tok;
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1')) {
                *t++ = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                *t++ = p[i];
            }
        }
        *t = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *endp;
            unsigned long idx = strtoul(tok, &endp, 10);
            cur = (*tok && !*endp) ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
        free(tok);
        p += len;
    }
    return *p ? NULL : cur;
}

/* Follows $ref chains. *component is set to the last "#/components/schemas/X"
 * name crossed (sanitised; caller frees) or left NULL. NULL on a bad ref. */
static json_t *follow_refs(gen_t *g, json_t *schema, const char *where, char **component)
{
    static const char prefix[] = "#/components/schemas/";
    for (int i = 0; json_is_object(schema) && json_object_get(schema, "$ref"); i++) {
        const char *ref = json_string_value(json_object_get(schema, "$ref"));
        json_t *target = ref ? resolve_pointer(g->doc, ref) : NULL;
        if (!target || i >= GEN_MAX_REF_CHAIN) {
            gen_fail(g, "%s: $ref %s does not resolve", where, ref ? ref : "(not a string)");
            return NULL;
        }
        if (component && strncmp(ref, prefix, sizeof(prefix) - 1) == 0 &&
            !strchr(ref + sizeof(prefix) - 1, '/')) {
            free(*component);
            *component = avro_name_from(ref + sizeof(prefix) - 1);
        }
        schema = target;
    }
    return schema;
}

static bool has_nonempty_properties(const json_t *schema)
{
    const json_t *props = json_object_get(schema, "properties");
    return json_is_object(props) && json_object_size(props) > 0;
}

static bool is_free_form(const json_t *schema)
{
    const json_t *ap = json_object_get(schema, "additionalProperties");
    return !has_nonempty_properties(schema) || (ap && !json_is_false(ap)) ||
           json_object_get(schema, "patternProperties");
}

static bool type_is(const json_t *schema, const char *type)
{
    const json_t *t = json_object_get(schema, "type");
    return json_is_string(t) && strcmp(json_string_value(t), type) == 0;
}

/* Whether a schema maps to a record: an object with properties, or an allOf
 * of such objects. */
static bool is_record_schema(gen_t *g, json_t *schema, int depth)
{
    schema = follow_refs(g, schema, "", NULL);
    if (!json_is_object(schema) || depth > GEN_MAX_DEPTH)
        return false;
    if (json_object_get(schema, "oneOf") || json_object_get(schema, "anyOf"))
        return false;
    const json_t *t = json_object_get(schema, "type");
    if (t && !type_is(schema, "object"))
        return false;
    json_t *all = json_object_get(schema, "allOf");
    if (all) {
        size_t i;
        json_t *part;
        if (!json_is_array(all) || json_array_size(all) == 0)
            return false;
        for (i = 0; i < json_array_size(all) && (part = json_array_get(all, i)); i++) {
            if (!is_record_schema(g, part, depth + 1) &&
                !(json_is_object(part) && !json_object_get(part, "type") &&
                  !json_object_get(part, "properties") && !json_object_get(part, "$ref")))
                return false;
        }
        const json_t *ap = json_object_get(schema, "additionalProperties");
        return !(ap && !json_is_false(ap));
    }
    return !is_free_form(schema);
}

static bool gen_schema(gen_t *g, json_t *schema, const char *ctx, const char *where, int depth,
                       cq_avro_node_t **node, json_t **avro);

/* Looks a named type up; 1 = found (reference emitted), 0 = new, -1 = clash. */
static int named_lookup(gen_t *g, const char *name, const void *src, cq_avro_node_t **node,
                        json_t **avro)
{
    for (size_t i = 0; i < g->named_count; i++) {
        if (strcmp(g->named[i].name, name) != 0)
            continue;
        if (g->named[i].src != src) {
            gen_fail(g, "Avro name %s is generated for two different schemas", name);
            return -1;
        }
        *node = g->named[i].node;
        *avro = json_string(name);
        return 1;
    }
    return 0;
}

static void named_add(gen_t *g, const char *name, const void *src, cq_avro_node_t *node)
{
    if (g->named_count == g->named_cap) {
        g->named_cap = g->named_cap ? g->named_cap * 2 : 32;
        g->named = cq_realloc(g->named, g->named_cap * sizeof(*g->named));
    }
    g->named[g->named_count++] = (gen_named_t){cq_strdup(name), src, node};
}

/* Wraps T into ["null", T] unless it already accepts null first. */
static void make_nullable(gen_t *g, cq_avro_node_t **node, json_t **avro)
{
    cq_avro_node_t *t = *node;
    if (t->kind == CQ_AVRO_NULL ||
        (t->kind == CQ_AVRO_UNION && t->branches[0]->kind == CQ_AVRO_NULL))
        return;
    cq_avro_node_t *u = node_new(g, CQ_AVRO_UNION);
    json_t *arr = json_array();
    size_t n = t->kind == CQ_AVRO_UNION ? t->count : 1;
    u->count = n + 1;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    u->branches = cq_calloc(n + 1, sizeof(*u->branches));
    u->branches[0] = node_new(g, CQ_AVRO_NULL);
    json_array_append_new(arr, json_string("null"));
    if (t->kind == CQ_AVRO_UNION) {
        for (size_t i = 0; i < n; i++)
            u->branches[i + 1] = t->branches[i];
        json_array_extend(arr, *avro);
    } else {
        u->branches[1] = t;
        json_array_append(arr, *avro);
    }
    json_decref(*avro);
    *avro = arr;
    *node = u;
}

static cq_avro_node_t *json_text_node(gen_t *g, json_t **avro)
{
    *avro = json_string("string");
    return node_new(g, CQ_AVRO_JSON_TEXT);
}

/* Collects the object parts of an allOf (or the schema itself). */
static void record_parts(gen_t *g, json_t *schema, json_t *parts, int depth)
{
    schema = follow_refs(g, schema, "", NULL);
    if (!json_is_object(schema) || depth > GEN_MAX_DEPTH)
        return;
    json_array_append(parts, schema);
    json_t *all = json_object_get(schema, "allOf"), *part;
    size_t i;
    for (i = 0; i < json_array_size(all) && (part = json_array_get(all, i)); i++)
        record_parts(g, part, parts, depth + 1);
}

static bool in_required(json_t *parts, const char *prop)
{
    size_t i, j;
    json_t *part, *req;
    for (i = 0; i < json_array_size(parts) && (part = json_array_get(parts, i)); i++) {
        for (j = 0; j < json_array_size(json_object_get(part, "required")) &&
                    (req = json_array_get(json_object_get(part, "required"), j));
             j++) {
            if (json_is_string(req) && strcmp(json_string_value(req), prop) == 0)
                return true;
        }
    }
    return false;
}

/* Whether the field's type (through null unions and arrays) is JSON text. */
static const char *json_note(const cq_avro_node_t *t)
{
    if (t->kind == CQ_AVRO_UNION && t->count == 2 && t->branches[0]->kind == CQ_AVRO_NULL)
        t = t->branches[1];
    if (t->kind == CQ_AVRO_JSON_TEXT)
        return JSON_TEXT_NOTE;
    if (t->kind == CQ_AVRO_ARRAY && t->items->kind == CQ_AVRO_JSON_TEXT)
        return JSON_ITEMS_NOTE;
    return NULL;
}

static json_t *doc_of(const char *description, const char *note)
{
    if (description && note)
        return json_sprintf("%s %s", description, note);
    if (description || note)
        return json_string(description ? description : note);
    return NULL;
}

static bool gen_record(gen_t *g, json_t *schema, const char *name, const char *where, int depth,
                       cq_avro_node_t **node, json_t **avro)
{
    int found = named_lookup(g, name, schema, node, avro);
    if (found)
        return found > 0;
    cq_avro_node_t *rec = node_new(g, CQ_AVRO_RECORD);
    rec->name = cq_strdup(name);
    named_add(g, name, schema, rec);

    json_t *parts = json_array(), *fields = json_array(), *part, *pschema;
    size_t i, cap = 0;
    const char *prop;
    bool ok = true;
    record_parts(g, schema, parts, depth);
    for (i = 0; i < json_array_size(parts) && (part = json_array_get(parts, i)); i++)
        cap += json_object_size(json_object_get(part, "properties"));
    rec->fields = cq_calloc(cap ? cap : 1, sizeof(*rec->fields));
    for (i = 0; i < json_array_size(parts) && (part = json_array_get(parts, i)); i++) {
        json_t *props = json_object_get(part, "properties");
        for (void *it = json_object_iter(props);
             it && (prop = json_object_iter_key(it)) && (pschema = json_object_iter_value(it));
             it = json_object_iter_next(props, it)) {
            char *fname = avro_name_from(prop), *pascal = pascal_case(prop);
            char *fctx = cq_asprintf("%s%s", name, pascal);
            char *fwhere = cq_asprintf("%s/properties/%s", where, prop);
            bool dup = false;
            free(pascal);
            for (size_t k = 0; k < rec->count; k++) {
                if (strcmp(rec->fields[k].json_name, prop) == 0)
                    dup = true; /* allOf restating a property: the first wins */
                else if (strcmp(rec->fields[k].name, fname) == 0) {
                    gen_fail(g, "%s: property names %s and %s both map to Avro field %s", where,
                             rec->fields[k].json_name, prop, fname);
                    ok = false;
                }
            }
            cq_avro_node_t *ftype = NULL;
            json_t *favro = NULL;
            if (ok && !dup)
                ok = gen_schema(g, pschema, fctx, fwhere, depth + 1, &ftype, &favro);
            if (ok && !dup) {
                cq_avro_field_t *f = &rec->fields[rec->count++];
                f->name = fname;
                f->json_name = cq_strdup(prop);
                f->optional = !in_required(parts, prop);
                if (f->optional)
                    make_nullable(g, &ftype, &favro);
                f->type = ftype;
                json_t *fj = json_pack("{s:s, s:o}", "name", fname, "type", favro);
                if (f->optional)
                    json_object_set_new(fj, "default", json_null());
                if (strcmp(fname, prop) != 0)
                    json_object_set_new(fj, "x-json-name", json_string(prop));
                json_t *pres = follow_refs(g, pschema, fwhere, NULL);
                const char *desc = json_string_value(json_object_get(pschema, "description"));
                if (!desc)
                    desc = json_string_value(json_object_get(pres, "description"));
                json_t *doc = doc_of(desc, json_note(ftype));
                if (doc)
                    json_object_set_new(fj, "doc", doc);
                json_array_append_new(fields, fj);
                fname = NULL;
            }
            free(fname);
            free(fctx);
            free(fwhere);
            if (!ok)
                goto done;
        }
    }
    *avro = json_pack("{s:s, s:s}", "type", "record", "name", name);
    json_t *doc = doc_of(json_string_value(json_object_get(schema, "description")), NULL);
    if (doc)
        json_object_set_new(*avro, "doc", doc);
    json_object_set(*avro, "fields", fields);
    *node = rec;
done:
    json_decref(fields);
    json_decref(parts);
    return ok;
}

static bool gen_union(gen_t *g, json_t *alts, const char *ctx, const char *where, int depth,
                      bool *nullable, cq_avro_node_t **node, json_t **avro)
{
    size_t i, records = 0;
    json_t *alt;
    for (i = 0; i < json_array_size(alts) && (alt = json_array_get(alts, i)); i++) {
        json_t *res = follow_refs(g, alt, where, NULL);
        if (res && type_is(res, "null"))
            *nullable = true;
        else if (res && is_record_schema(g, res, depth))
            records++;
        else {
            *node = json_text_node(g, avro);
            return res != NULL;
        }
    }
    if (records == 0) {
        *node = json_text_node(g, avro);
        return true;
    }
    cq_avro_node_t *u = node_new(g, CQ_AVRO_UNION);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    u->branches = cq_calloc(records, sizeof(*u->branches));
    *avro = json_array();
    for (i = 0; i < json_array_size(alts) && (alt = json_array_get(alts, i)); i++) {
        char *component = NULL;
        json_t *res = follow_refs(g, alt, where, &component);
        if (type_is(res, "null")) {
            free(component);
            continue;
        }
        char *name = component ? component : cq_asprintf("%sOption%zu", ctx, i + 1);
        char *bwhere = cq_asprintf("%s/%zu", where, i);
        cq_avro_node_t *b = NULL;
        json_t *bj = NULL;
        bool ok = gen_record(g, res, name, bwhere, depth + 1, &b, &bj);
        for (size_t k = 0; ok && k < u->count; k++) {
            if (u->branches[k] == b) {
                gen_fail(g, "%s: two branches are the same record %s", where, name);
                ok = false;
            }
        }
        free(name);
        free(bwhere);
        if (!ok) {
            json_decref(bj);
            return false;
        }
        u->branches[u->count++] = b;
        json_array_append_new(*avro, bj);
    }
    *node = u->count == 1 ? u->branches[0] : u;
    if (u->count == 1) {
        json_t *only = json_incref(json_array_get(*avro, 0));
        json_decref(*avro);
        *avro = only;
    }
    return true;
}

static bool gen_enum(gen_t *g, json_t *schema, json_t *values, const char *name,
                     cq_avro_node_t **node, json_t **avro)
{
    int found = named_lookup(g, name, schema, node, avro);
    if (found)
        return found > 0;
    cq_avro_node_t *e = node_new(g, CQ_AVRO_ENUM);
    e->name = cq_strdup(name);
    e->symbols = cq_calloc(json_array_size(values), sizeof(char *));
    named_add(g, name, schema, e);
    json_t *syms = json_array(), *v;
    size_t i;
    for (i = 0; i < json_array_size(values) && (v = json_array_get(values, i)); i++) {
        e->symbols[e->count++] = cq_strdup(json_string_value(v));
        json_array_append(syms, v);
    }
    *avro = json_pack("{s:s, s:s}", "type", "enum", "name", name);
    json_t *doc = doc_of(json_string_value(json_object_get(schema, "description")), NULL);
    if (doc)
        json_object_set_new(*avro, "doc", doc);
    json_object_set_new(*avro, "symbols", syms);
    *node = e;
    return true;
}

/* The enum's non-null values when they can be Avro symbols, else NULL. */
static json_t *enum_symbols(const json_t *schema, bool *nullable)
{
    json_t *en = json_object_get(schema, "enum"), *v, *out = json_array();
    size_t i;
    for (i = 0; i < json_array_size(en) && (v = json_array_get(en, i)); i++) {
        if (json_is_null(v)) {
            *nullable = true;
            continue;
        }
        size_t j;
        json_t *w;
        bool dup = false;
        for (j = 0; j < json_array_size(out) && (w = json_array_get(out, j)); j++)
            dup = dup || json_equal(v, w);
        if (!json_is_string(v) || !valid_avro_name(json_string_value(v)) || dup) {
            json_decref(out);
            return NULL;
        }
        json_array_append(out, v);
    }
    if (json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static const char *infer_type(const json_t *schema, bool *nullable, size_t *ntypes)
{
    const json_t *t = json_object_get(schema, "type"), *v;
    const char *type = NULL;
    size_t i;
    *ntypes = 0;
    if (json_is_string(t)) {
        *ntypes = 1;
        return json_string_value(t);
    }
    if (json_is_array(t)) {
        for (i = 0; i < json_array_size(t) && (v = json_array_get(t, i)); i++) {
            if (json_is_string(v) && strcmp(json_string_value(v), "null") == 0) {
                *nullable = true;
            } else if (json_is_string(v)) {
                type = json_string_value(v);
                (*ntypes)++;
            }
        }
        if (*ntypes == 0 && *nullable) {
            *ntypes = 1;
            return "null";
        }
        return type;
    }
    if (json_object_get(schema, "properties") || json_object_get(schema, "additionalProperties"))
        type = "object";
    else if (json_object_get(schema, "items"))
        type = "array";
    else if (json_object_get(schema, "enum")) {
        bool any_string = false, other = false;
        for (i = 0; i < json_array_size(json_object_get(schema, "enum")) &&
                    (v = json_array_get(json_object_get(schema, "enum"), i));
             i++) {
            if (json_is_null(v))
                *nullable = true;
            else if (json_is_string(v))
                any_string = true;
            else
                other = true;
        }
        type = any_string && !other ? "string" : NULL;
    } else if ((v = json_object_get(schema, "const"))) {
        type = json_is_string(v)    ? "string"
               : json_is_integer(v) ? "integer"
               : json_is_real(v)    ? "number"
               : json_is_boolean(v) ? "boolean"
                                    : NULL;
    }
    *ntypes = type ? 1 : 0;
    return type;
}

static bool gen_schema(gen_t *g, json_t *schema, const char *ctx, const char *where, int depth,
                       cq_avro_node_t **node, json_t **avro)
{
    char *component = NULL;
    bool nullable = false, ok = true;
    *node = NULL;
    *avro = NULL;
    if (depth > GEN_MAX_DEPTH) {
        gen_fail(g, "%s: schema nested deeper than %d (a $ref cycle outside records?)", where,
                 GEN_MAX_DEPTH);
        return false;
    }
    schema = follow_refs(g, schema, where, &component);
    if (!schema)
        return false;
    if (json_is_false(schema)) {
        gen_fail(g, "%s: schema false matches nothing", where);
        free(component);
        return false;
    }
    const char *name = component ? component : ctx;
    size_t ntypes = 0;
    const char *type = json_is_object(schema) ? infer_type(schema, &nullable, &ntypes) : NULL;
    json_t *alts = json_object_get(schema, "oneOf");
    if (!alts)
        alts = json_object_get(schema, "anyOf");

    /* Each fallback to text has its own reason, so the branches stay apart. */
    if (!json_is_object(schema)) { /* NOLINT(bugprone-branch-clone) */
        *node = json_text_node(g, avro);
    } else if (json_is_array(alts)) {
        ok = gen_union(g, alts, name, where, depth, &nullable, node, avro);
    } else if (json_object_get(schema, "allOf")) {
        if (is_record_schema(g, schema, depth))
            ok = gen_record(g, schema, name, where, depth, node, avro);
        else
            *node = json_text_node(g, avro);
    } else if (ntypes != 1) {
        *node = json_text_node(g, avro);
    } else if (strcmp(type, "string") == 0) {
        json_t *syms = enum_symbols(schema, &nullable);
        if (syms) {
            ok = gen_enum(g, schema, syms, name, node, avro);
            json_decref(syms);
        } else {
            *node = node_new(g, CQ_AVRO_STRING);
            *avro = json_string("string");
            json_t *k = json_object_get(schema, "const");
            if (json_is_string(k))
                (*node)->konst = json_deep_copy(k);
        }
    } else if (strcmp(type, "integer") == 0) {
        *node = node_new(g, CQ_AVRO_LONG);
        *avro = json_string("long");
    } else if (strcmp(type, "number") == 0) {
        *node = node_new(g, CQ_AVRO_DOUBLE);
        *avro = json_string("double");
    } else if (strcmp(type, "boolean") == 0) {
        *node = node_new(g, CQ_AVRO_BOOLEAN);
        *avro = json_string("boolean");
    } else if (strcmp(type, "null") == 0) {
        *node = node_new(g, CQ_AVRO_NULL);
        *avro = json_string("null");
    } else if (strcmp(type, "array") == 0) {
        json_t *items = json_object_get(schema, "items");
        cq_avro_node_t *inode = NULL;
        json_t *iavro = NULL;
        if (!items || json_is_true(items) || !json_is_object(items)) {
            inode = json_text_node(g, &iavro);
        } else {
            char *ictx = cq_asprintf("%sItem", name);
            char *iwhere = cq_asprintf("%s/items", where);
            ok = gen_schema(g, items, ictx, iwhere, depth + 1, &inode, &iavro);
            free(ictx);
            free(iwhere);
        }
        if (ok) {
            *node = node_new(g, CQ_AVRO_ARRAY);
            (*node)->items = inode;
            *avro = json_pack("{s:s, s:o}", "type", "array", "items", iavro);
        }
    } else if (strcmp(type, "object") == 0) {
        if (is_free_form(schema))
            *node = json_text_node(g, avro);
        else
            ok = gen_record(g, schema, name, where, depth, node, avro);
    } else {
        gen_fail(g, "%s: unknown type %s", where, type);
        ok = false;
    }
    if (ok && nullable)
        make_nullable(g, node, avro);
    if (!ok) {
        json_decref(*avro);
        *avro = NULL;
    }
    free(component);
    return ok;
}

/* ---- interface for cq_avro_schema.c ----------------------------------- */

cq_avro_map_t *cq_avro_map_new(json_t *doc, cq_avro_node_t **nodes, char *errstr,
                               size_t errstr_size)
{
    cq_avro_map_t *map = cq_calloc(1, sizeof(*map));
    map->doc = doc;
    map->nodes = nodes;
    map->errstr = errstr;
    map->errstr_size = errstr_size;
    return map;
}

void cq_avro_map_destroy(cq_avro_map_t *map)
{
    if (!map)
        return;
    for (size_t i = 0; i < map->named_count; i++)
        free(map->named[i].name);
    free(map->named);
    free(map);
}

void cq_avro_map_fail(cq_avro_map_t *map, const char *fmt, ...)
{
    if (!map->errstr || map->errstr_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(map->errstr, map->errstr_size, fmt, ap);
    va_end(ap);
}

bool cq_avro_map_schema(cq_avro_map_t *map, json_t *schema, const char *ctx, const char *where,
                        cq_avro_node_t **node, json_t **avro)
{
    return gen_schema(map, schema, ctx, where, 0, node, avro);
}

json_t *cq_avro_map_resolve(cq_avro_map_t *map, json_t *schema, const char *where, char **component)
{
    return follow_refs(map, schema, where, component);
}

cq_avro_node_t *cq_avro_map_node(cq_avro_map_t *map, cq_avro_kind_t kind)
{
    return node_new(map, kind);
}

void cq_avro_map_nullable(cq_avro_map_t *map, cq_avro_node_t **node, json_t **avro)
{
    make_nullable(map, node, avro);
}

int cq_avro_map_name_lookup(cq_avro_map_t *map, const char *name, const void *src,
                            cq_avro_node_t **node, json_t **avro)
{
    return named_lookup(map, name, src, node, avro);
}

void cq_avro_map_name_add(cq_avro_map_t *map, const char *name, const void *src,
                          cq_avro_node_t *node)
{
    named_add(map, name, src, node);
}

bool cq_avro_map_enum(cq_avro_map_t *map, json_t *schema, json_t *values, const char *name,
                      cq_avro_node_t **node, json_t **avro)
{
    return gen_enum(map, schema, values, name, node, avro);
}

char *cq_avro_map_pascal(const char *s)
{
    return pascal_case(s);
}

json_t *cq_avro_map_doc(const char *description, const cq_avro_node_t *type)
{
    return doc_of(description, type ? json_note(type) : NULL);
}

void cq_avro_nodes_free(cq_avro_node_t *nodes)
{
    nodes_free(nodes);
}
