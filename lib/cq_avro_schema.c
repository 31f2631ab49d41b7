/*
 * cq_avro_schema.c — generates io.coachq.JobEnvelope and io.coachq.JobResult
 * from the JSON Schemas of the OpenAPI document (DESIGN.md "One source of
 * truth"), with a node graph telling the codec how each Avro type maps back
 * to JSON. Runs once per program start (and in the golden test); the result
 * is read-only, so any thread may read it afterwards.
 *
 * Operations: every operation object under `paths` with x-coachq-operation,
 * in document order. JobEnvelope.payload is ["null", one record per distinct
 * request schema] and JobResult.result ["null", one record per distinct
 * result schema], in the order the operations appear. Evolution rule:
 * operations are only ever appended to the document (and records only gain
 * optional fields), so a branch index never changes meaning; removing or
 * reordering operations is a breaking change of the Kafka contract.
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
 *    name is an error, as is a property name that is not a valid Avro name
 *    after replacing invalid characters, when two collide.
 *  - "description" -> "doc". Formats, limits and patterns are not mapped: the
 *    JSON Schema validator enforces them before anything is encoded.
 */
#include "cq_avro_schema.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#define GEN_MAX_DEPTH     64
#define GEN_MAX_REF_CHAIN 32

typedef struct {
    char *name;
    const void *src; /* the schema object the name stands for */
    cq_avro_node_t *node;
} gen_named_t;

typedef struct {
    json_t *doc;
    cq_avro_node_t **nodes; /* list head of the graph being built */
    gen_named_t *named;
    size_t named_count, named_cap;
    char *errstr;
    size_t errstr_size;
} gen_t;

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
        *o++ = (isalnum((unsigned char)*p) || *p == '_') ? *p : '_';
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
        *o++ = up ? (char)toupper((unsigned char)*p) : *p;
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
        json_array_foreach(all, i, part)
        {
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
    json_array_foreach(all, i, part) record_parts(g, part, parts, depth + 1);
}

static bool in_required(json_t *parts, const char *prop)
{
    size_t i, j;
    json_t *part, *req;
    json_array_foreach(parts, i, part)
    {
        json_array_foreach(json_object_get(part, "required"), j, req)
        {
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
    json_array_foreach(parts, i, part) cap += json_object_size(json_object_get(part, "properties"));
    rec->fields = cq_calloc(cap ? cap : 1, sizeof(*rec->fields));
    json_array_foreach(parts, i, part){
        json_object_foreach(json_object_get(part, "properties"), prop, pschema){
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
done : json_decref(fields);
json_decref(parts);
return ok;
}

static bool gen_union(gen_t *g, json_t *alts, const char *ctx, const char *where, int depth,
                      bool *nullable, cq_avro_node_t **node, json_t **avro)
{
    size_t i, records = 0;
    json_t *alt;
    json_array_foreach(alts, i, alt)
    {
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
    u->branches = cq_calloc(records, sizeof(*u->branches));
    *avro = json_array();
    json_array_foreach(alts, i, alt)
    {
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
    json_array_foreach(values, i, v)
    {
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
    json_array_foreach(en, i, v)
    {
        if (json_is_null(v)) {
            *nullable = true;
            continue;
        }
        size_t j;
        json_t *w;
        bool dup = false;
        json_array_foreach(out, j, w) dup = dup || json_equal(v, w);
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
        json_array_foreach(t, i, v)
        {
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
        json_array_foreach(json_object_get(schema, "enum"), i, v)
        {
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
    size_t ntypes;
    const char *type = json_is_object(schema) ? infer_type(schema, &nullable, &ntypes) : NULL;
    json_t *alts = json_object_get(schema, "oneOf");
    if (!alts)
        alts = json_object_get(schema, "anyOf");

    if (!json_is_object(schema)) {
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

/* ---- the two top-level records ---------------------------------------- */

typedef struct {
    char *name, *kind;
    const char *request, *result; /* JSON Pointers into the document */
} gen_op_t;

static cq_avro_node_t *prim(gen_t *g, cq_avro_kind_t kind, json_t **avro)
{
    static const char *const names[] = {
        [CQ_AVRO_NULL] = "null", [CQ_AVRO_BOOLEAN] = "boolean", [CQ_AVRO_INT] = "int",
        [CQ_AVRO_LONG] = "long", [CQ_AVRO_DOUBLE] = "double",   [CQ_AVRO_STRING] = "string",
    };
    *avro = json_string(names[kind]);
    return node_new(g, kind);
}

static cq_avro_node_t *timestamp(gen_t *g, json_t **avro)
{
    *avro = json_pack("{s:s, s:s}", "type", "long", "logicalType", "timestamp-millis");
    return node_new(g, CQ_AVRO_LONG);
}

static cq_avro_node_t *fixed_record(gen_t *g, const char *name, size_t nfields)
{
    cq_avro_node_t *rec = node_new(g, CQ_AVRO_RECORD);
    rec->name = cq_strdup(name);
    rec->fields = cq_calloc(nfields, sizeof(*rec->fields));
    named_add(g, name, rec, rec);
    return rec;
}

/* Appends a field; takes avro. nullable gives ["null", T] with default null. */
static void add_field(gen_t *g, cq_avro_node_t *rec, json_t *fields, const char *name,
                      cq_avro_node_t *type, json_t *avro, bool nullable, const char *doc)
{
    if (nullable)
        make_nullable(g, &type, &avro);
    cq_avro_field_t *f = &rec->fields[rec->count++];
    f->name = cq_strdup(name);
    f->json_name = cq_strdup(name);
    f->type = type;
    f->optional = nullable;
    json_t *fj = json_pack("{s:s, s:o}", "name", name, "type", avro);
    if (nullable)
        json_object_set_new(fj, "default", json_null());
    if (doc)
        json_object_set_new(fj, "doc", json_string(doc));
    json_array_append_new(fields, fj);
}

static json_t *record_json(const char *name, const char *ns, const char *doc, json_t *fields)
{
    json_t *rec = json_pack("{s:s, s:s}", "type", "record", "name", name);
    if (ns)
        json_object_set_new(rec, "namespace", json_string(ns));
    if (doc)
        json_object_set_new(rec, "doc", json_string(doc));
    json_object_set_new(rec, "fields", fields);
    return rec;
}

/* An operation schema that is not an object (an array, a oneOf, free-form
 * JSON) still gets a record of its own so unions stay unions of records:
 * one field "value" holding the mapped type. Named like a record would be. */
static bool gen_wrapper(gen_t *g, json_t *ref, const char *ctx, const char *where,
                        cq_avro_node_t **node, json_t **avro)
{
    char *component = NULL;
    json_t *target = follow_refs(g, ref, where, &component);
    const char *name = component ? component : ctx;
    /* The target schema itself mapped to no named type; its address + 1
     * identifies the wrapper in the name table. */
    const void *src = (const char *)target + 1;
    cq_avro_node_t *inner = *node;
    json_t *inner_avro = *avro;
    int found = named_lookup(g, name, src, node, avro);
    if (found) {
        json_decref(inner_avro);
        free(component);
        return found > 0;
    }
    cq_avro_node_t *rec = node_new(g, CQ_AVRO_RECORD);
    rec->name = cq_strdup(name);
    rec->wrapper = true;
    rec->count = 1;
    rec->fields = cq_calloc(1, sizeof(*rec->fields));
    rec->fields[0] = (cq_avro_field_t){cq_strdup("value"), cq_strdup("value"), inner, false};
    named_add(g, name, src, rec);
    json_t *field = json_pack("{s:s, s:o}", "name", "value", "type", inner_avro);
    json_t *fdoc = doc_of("The operation's JSON value itself.", json_note(inner));
    json_object_set_new(field, "doc", fdoc);
    const char *desc = json_string_value(json_object_get(target, "description"));
    char *doc = cq_asprintf("Wraps a schema that is not an object.%s%s", desc ? " " : "",
                            desc ? desc : "");
    *avro = record_json(name, NULL, doc, json_pack("[o]", field));
    *node = rec;
    free(doc);
    free(component);
    return true;
}

/* ["null", one record per distinct operation schema] in document order. */
static bool gen_op_union(gen_t *g, cq_avro_op_t *ops, const gen_op_t *raw, size_t op_count,
                         bool result, cq_avro_node_t **node, json_t **avro)
{
    cq_avro_node_t *u = node_new(g, CQ_AVRO_UNION);
    u->branches = cq_calloc(op_count + 1, sizeof(*u->branches));
    u->branches[u->count++] = node_new(g, CQ_AVRO_NULL);
    *avro = json_pack("[s]", "null");
    *node = u;
    for (size_t i = 0; i < op_count; i++) {
        const char *ptr = result ? raw[i].result : raw[i].request;
        int *branch = result ? &ops[i].result_branch : &ops[i].request_branch;
        *branch = 0;
        if (!ptr)
            continue;
        char *pascal = pascal_case(raw[i].name);
        char *ctx = cq_asprintf("%s%s", pascal, result ? "Result" : "Request");
        char *where = cq_asprintf("operation %s: %s", raw[i].name, ptr);
        json_t *ref = json_pack("{s:s}", "$ref", ptr), *bj = NULL;
        cq_avro_node_t *b = NULL;
        bool ok = gen_schema(g, ref, ctx, where, 0, &b, &bj);
        if (ok && b->kind != CQ_AVRO_RECORD)
            ok = gen_wrapper(g, ref, ctx, where, &b, &bj);
        free(pascal);
        free(ctx);
        free(where);
        json_decref(ref);
        if (!ok) {
            json_decref(bj);
            json_decref(*avro);
            *avro = NULL;
            return false;
        }
        for (size_t k = 1; k < u->count && !*branch; k++)
            if (u->branches[k] == b)
                *branch = (int)k;
        if (*branch) {
            json_decref(bj);
            continue;
        }
        *branch = (int)u->count;
        u->branches[u->count++] = b;
        json_array_append_new(*avro, bj);
    }
    return true;
}

static char *generated_doc(const json_t *doc, const char *what)
{
    const json_t *info = json_object_get(doc, "info");
    const char *title = json_string_value(json_object_get(info, "title"));
    const char *version = json_string_value(json_object_get(info, "version"));
    return cq_asprintf("%s GENERATED from schemas/openapi.json (%s %s) by lib/cq_avro_schema.c; "
                       "do not edit: regenerate with COACHQ_UPDATE_GOLDEN=1 ctest -R test_cq_avro.",
                       what, title ? title : "coachq", version ? version : "");
}

static bool gen_envelope(gen_t *g, cq_avro_schema_t *schema, const gen_op_t *raw)
{
    static const char *const id_fields[][2] = {
        {"jobId", "Job id (UUIDv7)."},
        {"tenantId", "Tenant, from the verified token."},
        {"userId", "User who submitted the job."},
        {"operation", "x-coachq-operation of the OpenAPI document."},
    };
    cq_avro_node_t *rec = fixed_record(g, "JobEnvelope", CQ_AVRO_ENV__COUNT), *t, *payload;
    json_t *fields = json_array(), *avro;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(id_fields); i++) {
        t = prim(g, CQ_AVRO_STRING, &avro);
        add_field(g, rec, fields, id_fields[i][0], t, avro, false, id_fields[i][1]);
    }
    t = prim(g, CQ_AVRO_INT, &avro);
    add_field(g, rec, fields, "attempt", t, avro, false, "Delivery attempt, 1 for the first.");
    t = timestamp(g, &avro);
    add_field(g, rec, fields, "createdAt", t, avro, false, "When the gateway accepted the job.");
    t = timestamp(g, &avro);
    add_field(g, rec, fields, "deadline", t, avro, false, "After this the job is not started.");
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, rec, fields, "replyTo", t, avro, true, "Topic for the result, else the default.");
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, rec, fields, "traceParent", t, avro, true, "W3C traceparent of the request.");
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, rec, fields, "batchId", t, avro, true, "Batch the job belongs to.");
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, rec, fields, "customId", t, avro, true, "Caller's id for the job in a batch.");
    if (!gen_op_union(g, schema->ops, raw, schema->op_count, false, &payload, &avro)) {
        json_decref(fields);
        return false;
    }
    add_field(g, rec, fields, "payload", payload, avro, false,
              "The operation's request; null for operations without a request body. One branch "
              "per request schema, in the order operations appear in the document.");
    char *doc = generated_doc(g->doc, "A coachq job, produced to coachq.jobs.<kind>.");
    schema->envelope.json = record_json("JobEnvelope", "io.coachq", doc, fields);
    schema->envelope.root = rec;
    free(doc);
    return true;
}

static bool gen_result(gen_t *g, cq_avro_schema_t *schema, const gen_op_t *raw)
{
    static const char *const id_fields[][2] = {
        {"jobId", "Job id (UUIDv7)."},
        {"tenantId", "Tenant of the job."},
        {"userId", "User who submitted the job."},
        {"operation", "x-coachq-operation of the OpenAPI document."},
    };
    cq_avro_node_t *rec = fixed_record(g, "JobResult", CQ_AVRO_RES__COUNT), *t, *res;
    json_t *fields = json_array(), *avro;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(id_fields); i++) {
        t = prim(g, CQ_AVRO_STRING, &avro);
        add_field(g, rec, fields, id_fields[i][0], t, avro, false, id_fields[i][1]);
    }
    json_t *statuses = json_pack("[s,s,s]", "succeeded", "failed", "cancelled");
    json_t *status_schema = json_pack("{s:s}", "description", "Terminal state of the job.");
    bool ok = gen_enum(g, status_schema, statuses, "JobStatus", &t, &avro);
    json_decref(statuses);
    json_decref(status_schema);
    if (!ok)
        goto fail;
    add_field(g, rec, fields, "status", t, avro, false, NULL);
    t = prim(g, CQ_AVRO_INT, &avro);
    add_field(g, rec, fields, "attempts", t, avro, false, "Attempts made, 1 for the first.");
    t = timestamp(g, &avro);
    add_field(g, rec, fields, "createdAt", t, avro, false, "When the gateway accepted the job.");
    t = timestamp(g, &avro);
    add_field(g, rec, fields, "startedAt", t, avro, true,
              "When a worker started it; null if never.");
    t = timestamp(g, &avro);
    add_field(g, rec, fields, "finishedAt", t, avro, false, "When it reached its final state.");

    cq_avro_node_t *engine = fixed_record(g, "Engine", 6);
    json_t *efields = json_array();
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, engine, efields, "name", t, avro, false, "builtin, openai, anthropic, bedrock.");
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, engine, efields, "provider", t, avro, true, "Provider of the model.");
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, engine, efields, "model", t, avro, true, "Model name.");
    static const char *const counters[] = {"promptTokens", "completionTokens", "latencyMs"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(counters); i++) {
        t = prim(g, CQ_AVRO_LONG, &avro);
        add_field(g, engine, efields, counters[i], t, avro, true, NULL);
    }
    add_field(g, rec, fields, "engine", engine,
              record_json("Engine", NULL, "What computed the result.", efields), true, NULL);

    if (!gen_op_union(g, schema->ops, raw, schema->op_count, true, &res, &avro))
        goto fail;
    add_field(g, rec, fields, "result", res, avro, false,
              "The operation's result; null unless it succeeded. One branch per result schema, "
              "in the order operations appear in the document.");

    cq_avro_node_t *error = fixed_record(g, "JobError", 2);
    json_t *errfields = json_array();
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, error, errfields, "code", t, avro, false, "Stable error code (cq_err.h).");
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, error, errfields, "message", t, avro, false, "Human-readable explanation.");
    add_field(g, rec, fields, "error", error,
              record_json("JobError", NULL, "Why the job failed.", errfields), true, NULL);
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, rec, fields, "batchId", t, avro, true, "Batch the job belongs to.");
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, rec, fields, "customId", t, avro, true, "Caller's id for the job in a batch.");

    char *doc = generated_doc(g->doc, "The outcome of a coachq job, produced to coachq.results "
                                      "or the job's replyTo.");
    schema->result.json = record_json("JobResult", "io.coachq", doc, fields);
    schema->result.root = rec;
    free(doc);
    return true;
fail:
    json_decref(fields);
    return false;
}

static bool kebab_case(const char *s)
{
    if (!*s || *s == '-')
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              (*p == '-' && p[1] && p[1] != '-')))
            return false;
    return true;
}

/* Operations in document order; duplicates of one name must agree. */
static bool collect_ops(gen_t *g, cq_avro_schema_t *schema, gen_op_t **raw_out)
{
    json_t *paths = json_object_get(g->doc, "paths"), *item, *op;
    const char *path, *method;
    size_t cap = 0;
    gen_op_t *raw = NULL;
    *raw_out = NULL;
    if (!json_is_object(paths)) {
        gen_fail(g, "the document has no paths object");
        return false;
    }
    json_object_foreach(paths, path, item)
    {
        json_object_foreach(item, method, op)
        {
            json_t *name = json_object_get(op, "x-coachq-operation");
            if (!json_is_object(op) || !name)
                continue;
            const char *n = json_string_value(name);
            const char *kind = json_string_value(json_object_get(op, "x-coachq-kind"));
            const char *req = json_string_value(json_object_get(op, "x-coachq-request-schema"));
            const char *res = json_string_value(json_object_get(op, "x-coachq-result-schema"));
            if (!n || !kebab_case(n) || !kind || !*kind || !res ||
                (json_object_get(op, "x-coachq-request-schema") && !req)) {
                gen_fail(g,
                         "paths/%s/%s: an operation needs a kebab-case x-coachq-operation, "
                         "x-coachq-kind and x-coachq-result-schema (strings)",
                         path, method);
                goto fail;
            }
            bool seen = false;
            for (size_t i = 0; i < schema->op_count && !seen; i++) {
                if (strcmp(raw[i].name, n) != 0)
                    continue;
                seen = true;
                if (strcmp(raw[i].kind, kind) != 0 || strcmp(raw[i].result, res) != 0 ||
                    (!raw[i].request != !req) || (req && strcmp(raw[i].request, req) != 0)) {
                    gen_fail(g, "operation %s is declared twice with different schemas", n);
                    goto fail;
                }
            }
            if (seen)
                continue;
            if (schema->op_count == cap) {
                cap = cap ? cap * 2 : 16;
                raw = cq_realloc(raw, cap * sizeof(*raw));
            }
            raw[schema->op_count++] = (gen_op_t){cq_strdup(n), cq_strdup(kind), req, res};
        }
    }
    schema->ops = cq_calloc(schema->op_count ? schema->op_count : 1, sizeof(*schema->ops));
    for (size_t i = 0; i < schema->op_count; i++) {
        schema->ops[i].name = raw[i].name;
        schema->ops[i].kind = raw[i].kind;
    }
    *raw_out = raw;
    return true;
fail:
    for (size_t i = 0; i < schema->op_count; i++) {
        free(raw[i].name);
        free(raw[i].kind);
    }
    schema->op_count = 0;
    free(raw);
    return false;
}

/* ---- Parsing Canonical Form and fingerprint --------------------------- */

static char *full_name(const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns)
        return cq_strdup(name);
    return cq_asprintf("%s.%s", ns, name);
}

static bool is_primitive(const char *t)
{
    static const char *const prims[] = {"null",  "boolean", "int",   "long",
                                        "float", "double",  "bytes", "string"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(prims); i++)
        if (strcmp(t, prims[i]) == 0)
            return true;
    return false;
}

static json_t *pcf(const json_t *s, const char *ns, json_t *seen, int depth)
{
    if (depth > GEN_MAX_DEPTH)
        return NULL;
    if (json_is_string(s)) {
        const char *t = json_string_value(s);
        if (is_primitive(t))
            return json_string(t);
        char *full = full_name(t, ns);
        json_t *out = json_string(full);
        free(full);
        return out;
    }
    if (json_is_array(s)) {
        json_t *out = json_array(), *b;
        size_t i;
        json_array_foreach(s, i, b)
        {
            json_t *c = pcf(b, ns, seen, depth + 1);
            if (!c) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, c);
        }
        return out;
    }
    const json_t *type = json_object_get(s, "type");
    if (!json_is_string(type))
        return type ? pcf(type, ns, seen, depth + 1) : NULL;
    const char *t = json_string_value(type);
    if (is_primitive(t))
        return json_string(t);
    if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
        const char *key = t[0] == 'a' ? "items" : "values";
        json_t *c = pcf(json_object_get(s, key), ns, seen, depth + 1);
        return c ? json_pack("{s:s, s:o}", "type", t, key, c) : NULL;
    }
    const char *name = json_string_value(json_object_get(s, "name"));
    if (!name)
        return NULL;
    const char *own_ns = json_string_value(json_object_get(s, "namespace"));
    char *full = full_name(name, own_ns ? own_ns : ns);
    json_t *out = NULL;
    if (json_object_get(seen, full)) {
        out = json_string(full);
        goto done;
    }
    json_object_set_new(seen, full, json_true());
    out = json_pack("{s:s, s:s}", "name", full, "type", t);
    if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0) {
        char *dot = strrchr(full, '.');
        char *inner_ns = dot ? cq_strndup(full, (size_t)(dot - full)) : cq_strdup("");
        json_t *fields = json_array(), *f;
        size_t i;
        json_array_foreach(json_object_get(s, "fields"), i, f)
        {
            json_t *ft = pcf(json_object_get(f, "type"), inner_ns, seen, depth + 1);
            const char *fname = json_string_value(json_object_get(f, "name"));
            if (!ft || !fname) {
                json_decref(ft);
                json_decref(fields);
                json_decref(out);
                free(inner_ns);
                out = NULL;
                goto done;
            }
            json_array_append_new(fields, json_pack("{s:s, s:o}", "name", fname, "type", ft));
        }
        json_object_set_new(out, "fields", fields);
        free(inner_ns);
    } else if (strcmp(t, "enum") == 0) {
        json_object_set(out, "symbols", json_object_get(s, "symbols"));
    } else if (strcmp(t, "fixed") == 0) {
        json_object_set(out, "size", json_object_get(s, "size"));
    } else {
        json_decref(out);
        out = NULL;
    }
done:
    free(full);
    return out;
}

char *cq_avro_schema_canonical(const json_t *schema)
{
    json_t *seen = json_object();
    json_t *form = pcf(schema, "", seen, 0);
    char *text = form ? json_dumps(form, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(form);
    json_decref(seen);
    return text;
}

static bool fingerprint(cq_avro_gen_schema_t *gs)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *text = cq_avro_schema_canonical(gs->json);
    bool ok =
        text && EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
    for (unsigned int i = 0; ok && i < mdlen; i++)
        snprintf(gs->fingerprint + 2 * i, 3, "%02x", md[i]);
    free(text);
    return ok;
}

/* ---- public ------------------------------------------------------------ */

static void gen_term(gen_t *g)
{
    for (size_t i = 0; i < g->named_count; i++)
        free(g->named[i].name);
    free(g->named);
    g->named = NULL;
    g->named_count = g->named_cap = 0;
}

cq_avro_schema_t *cq_avro_schema_new(json_t *openapi, char *errstr, size_t errstr_size)
{
    cq_avro_schema_t *schema = cq_calloc(1, sizeof(*schema));
    gen_t g = {.doc = openapi, .errstr = errstr, .errstr_size = errstr_size};
    gen_op_t *raw = NULL;
    bool ok = json_is_object(openapi) && collect_ops(&g, schema, &raw);
    if (!json_is_object(openapi))
        gen_fail(&g, "the OpenAPI document is not a JSON object");
    if (ok) {
        g.nodes = &schema->envelope.nodes;
        ok = gen_envelope(&g, schema, raw);
        gen_term(&g);
    }
    if (ok) {
        g.nodes = &schema->result.nodes;
        ok = gen_result(&g, schema, raw);
        gen_term(&g);
    }
    gen_term(&g);
    free(raw); /* names moved into schema->ops */
    if (ok && !(fingerprint(&schema->envelope) && fingerprint(&schema->result))) {
        gen_fail(&g, "cannot compute the schema fingerprints");
        ok = false;
    }
    if (!ok) {
        cq_avro_schema_destroy(schema);
        return NULL;
    }
    return schema;
}

void cq_avro_schema_destroy(cq_avro_schema_t *schema)
{
    if (!schema)
        return;
    json_decref(schema->envelope.json);
    json_decref(schema->result.json);
    nodes_free(schema->envelope.nodes);
    nodes_free(schema->result.nodes);
    for (size_t i = 0; i < schema->op_count; i++) {
        free(schema->ops[i].name);
        free(schema->ops[i].kind);
    }
    free(schema->ops);
    free(schema);
}

const cq_avro_op_t *cq_avro_schema_op(const cq_avro_schema_t *schema, const char *name)
{
    for (size_t i = 0; name && i < schema->op_count; i++)
        if (strcmp(schema->ops[i].name, name) == 0)
            return &schema->ops[i];
    return NULL;
}
