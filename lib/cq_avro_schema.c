/*
 * cq_avro_schema.c — generates io.coachq.JobEnvelope and io.coachq.JobResult
 * from the OpenAPI document (DESIGN.md "One source of truth"), with their
 * node graphs and fingerprints. Runs once per program start (and in the
 * golden test); the result is read-only, so any thread may read it after.
 *
 * Operations: every operation object under `paths` with x-coachq-operation,
 * in document order. JobEnvelope.payload is ["null", one record per distinct
 * request schema] and JobResult.result ["null", one record per distinct
 * result schema], in the order the operations appear. Evolution rule:
 * operations are only ever appended to the document (and records only gain
 * optional fields), so a branch index never changes meaning; removing or
 * reordering operations is a breaking change of the Kafka contract.
 *
 * The JSON Schema -> Avro rules are in cq_avro_map.c.
 *
 * A non-object operation schema (an array, a oneOf, free-form JSON) is
 * wrapped in a record of its own with one field "value", so the unions stay
 * unions of records.
 *
 * Fingerprint: SHA-256 of the Avro Parsing Canonical Form (names made full,
 * only type/name/fields/symbols/items/values/size kept, no whitespace), the
 * same bytes as Apache Avro SchemaNormalization.parsingFingerprint("SHA-256").
 */
#include "cq_avro_schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#define GEN_MAX_DEPTH 64

/* ---- the two top-level records ---------------------------------------- */

typedef struct {
    char *name, *kind;
    const char *request, *result; /* JSON Pointers into the document */
} gen_op_t;

static cq_avro_node_t *prim(cq_avro_map_t *g, cq_avro_kind_t kind, json_t **avro)
{
    static const char *const names[] = {
        [CQ_AVRO_NULL] = "null", [CQ_AVRO_BOOLEAN] = "boolean", [CQ_AVRO_INT] = "int",
        [CQ_AVRO_LONG] = "long", [CQ_AVRO_DOUBLE] = "double",   [CQ_AVRO_STRING] = "string",
    };
    *avro = json_string(names[kind]);
    return cq_avro_map_node(g, kind);
}

static cq_avro_node_t *timestamp(cq_avro_map_t *g, json_t **avro)
{
    *avro = json_pack("{s:s, s:s}", "type", "long", "logicalType", "timestamp-millis");
    return cq_avro_map_node(g, CQ_AVRO_LONG);
}

static cq_avro_node_t *fixed_record(cq_avro_map_t *g, const char *name, size_t nfields)
{
    cq_avro_node_t *rec = cq_avro_map_node(g, CQ_AVRO_RECORD);
    rec->name = cq_strdup(name);
    rec->fields = cq_calloc(nfields, sizeof(*rec->fields));
    cq_avro_map_name_add(g, name, rec, rec);
    return rec;
}

/* Appends a field; takes avro. nullable gives ["null", T] with default null. */
static void add_field(cq_avro_map_t *g, cq_avro_node_t *rec, json_t *fields, const char *name,
                      cq_avro_node_t *type, json_t *avro, bool nullable, const char *doc)
{
    if (nullable)
        cq_avro_map_nullable(g, &type, &avro);
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
static bool gen_wrapper(cq_avro_map_t *g, json_t *ref, const char *ctx, const char *where,
                        cq_avro_node_t **node, json_t **avro)
{
    char *component = NULL;
    json_t *target = cq_avro_map_resolve(g, ref, where, &component);
    const char *name = component ? component : ctx;
    /* The target schema itself mapped to no named type; its address + 1
     * identifies the wrapper in the name table. */
    const void *src = (const char *)target + 1;
    cq_avro_node_t *inner = *node;
    json_t *inner_avro = *avro;
    int found = cq_avro_map_name_lookup(g, name, src, node, avro);
    if (found) {
        json_decref(inner_avro);
        free(component);
        return found > 0;
    }
    cq_avro_node_t *rec = cq_avro_map_node(g, CQ_AVRO_RECORD);
    rec->name = cq_strdup(name);
    rec->wrapper = true;
    rec->count = 1;
    rec->fields = cq_calloc(1, sizeof(*rec->fields));
    rec->fields[0] = (cq_avro_field_t){cq_strdup("value"), cq_strdup("value"), inner, false};
    cq_avro_map_name_add(g, name, src, rec);
    json_t *field = json_pack("{s:s, s:o}", "name", "value", "type", inner_avro);
    json_t *fdoc = cq_avro_map_doc("The operation's JSON value itself.", inner);
    json_object_set_new(field, "doc", fdoc);
    const char *desc = json_string_value(json_object_get(target, "description"));
    char *doc =
        cq_asprintf("Wraps a schema that is not an object.%s%s", desc ? " " : "", desc ? desc : "");
    *avro = record_json(name, NULL, doc, json_pack("[o]", field));
    *node = rec;
    free(doc);
    free(component);
    return true;
}

/* ["null", one record per distinct operation schema] in document order. */
static bool gen_op_union(cq_avro_map_t *g, cq_avro_op_t *ops, const gen_op_t *raw, size_t op_count,
                         bool result, cq_avro_node_t **node, json_t **avro)
{
    cq_avro_node_t *u = cq_avro_map_node(g, CQ_AVRO_UNION);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    u->branches = cq_calloc(op_count + 1, sizeof(*u->branches));
    u->branches[u->count++] = cq_avro_map_node(g, CQ_AVRO_NULL);
    *avro = json_pack("[s]", "null");
    *node = u;
    for (size_t i = 0; i < op_count; i++) {
        const char *ptr = result ? raw[i].result : raw[i].request;
        int *branch = result ? &ops[i].result_branch : &ops[i].request_branch;
        *branch = 0;
        if (!ptr)
            continue;
        char *pascal = cq_avro_map_pascal(raw[i].name);
        char *ctx = cq_asprintf("%s%s", pascal, result ? "Result" : "Request");
        char *where = cq_asprintf("operation %s: %s", raw[i].name, ptr);
        json_t *ref = json_pack("{s:s}", "$ref", ptr), *bj = NULL;
        cq_avro_node_t *b = NULL;
        bool ok = cq_avro_map_schema(g, ref, ctx, where, &b, &bj);
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

static bool gen_envelope(cq_avro_map_t *g, const json_t *openapi, cq_avro_schema_t *schema,
                         const gen_op_t *raw)
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
    add_field(g, rec, fields, "attempt", t, avro, false,
              "Retries before this delivery: 0 for the first.");
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
    /* Last, so that a reader of the older schema resolves every other field
     * by position and name unchanged. */
    t = prim(g, CQ_AVRO_STRING, &avro);
    add_field(g, rec, fields, "authorization", t, avro, true,
              "The caller's Authorization header (a short-lived bearer token), set only for "
              "operations marked x-coachq-forward-credentials, which call upstream services on "
              "the caller's behalf. A secret: never logged.");
    char *doc = generated_doc(openapi, "A coachq job, produced to coachq.jobs.<kind>.");
    schema->envelope.json = record_json("JobEnvelope", "io.coachq", doc, fields);
    schema->envelope.root = rec;
    free(doc);
    return true;
}

static bool gen_result(cq_avro_map_t *g, const json_t *openapi, cq_avro_schema_t *schema,
                       const gen_op_t *raw)
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
    bool ok = cq_avro_map_enum(g, status_schema, statuses, "JobStatus", &t, &avro);
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

    /* The engine record is the contract's JobEngine, like the job resource's. */
    json_t *eref = json_pack("{s:s}", "$ref", "#/components/schemas/JobEngine"), *ej = NULL;
    cq_avro_node_t *engine = NULL;
    bool eok = cq_avro_map_schema(g, eref, "JobEngine", "JobResult.engine", &engine, &ej);
    json_decref(eref);
    if (!eok)
        goto fail;
    add_field(g, rec, fields, "engine", engine, ej, true, "What computed the result.");

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

    char *doc = generated_doc(openapi, "The outcome of a coachq job, produced to coachq.results "
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
static bool collect_ops(cq_avro_map_t *g, json_t *openapi, cq_avro_schema_t *schema,
                        gen_op_t **raw_out)
{
    json_t *paths = json_object_get(openapi, "paths"), *item, *op;
    const char *path, *method;
    size_t cap = 0;
    gen_op_t *raw = NULL;
    *raw_out = NULL;
    schema->op_count = 0; /* raw holds op_count entries */
    if (!json_is_object(paths)) {
        cq_avro_map_fail(g, "the document has no paths object");
        return false;
    }
    for (void *it = json_object_iter(paths);
         it && (path = json_object_iter_key(it)) && (item = json_object_iter_value(it));
         it = json_object_iter_next(paths, it)) {
        for (void *it2 = json_object_iter(item);
             it2 && (method = json_object_iter_key(it2)) && (op = json_object_iter_value(it2));
             it2 = json_object_iter_next(item, it2)) {
            json_t *name = json_object_get(op, "x-coachq-operation");
            if (!json_is_object(op) || !name)
                continue;
            const char *n = json_string_value(name);
            const char *kind = json_string_value(json_object_get(op, "x-coachq-kind"));
            const char *req = json_string_value(json_object_get(op, "x-coachq-request-schema"));
            const char *res = json_string_value(json_object_get(op, "x-coachq-result-schema"));
            if (!n || !kebab_case(n) || !kind || !*kind || !res ||
                (json_object_get(op, "x-coachq-request-schema") && !req)) {
                cq_avro_map_fail(g,
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
                    cq_avro_map_fail(g, "operation %s is declared twice with different schemas", n);
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
        for (i = 0; i < json_array_size(s) && (b = json_array_get(s, i)); i++) {
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
        for (i = 0; i < json_array_size(json_object_get(s, "fields")) &&
                    (f = json_array_get(json_object_get(s, "fields"), i));
             i++) {
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
        snprintf(gs->fingerprint + (size_t)2 * i, 3, "%02x", md[i]);
    free(text);
    return ok;
}

/* ---- public ------------------------------------------------------------ */

cq_avro_schema_t *cq_avro_schema_new(json_t *openapi, char *errstr, size_t errstr_size)
{
    cq_avro_schema_t *schema = cq_calloc(1, sizeof(*schema));
    cq_avro_map_t *env_map = cq_avro_map_new(openapi, &schema->envelope.nodes, errstr, errstr_size);
    cq_avro_map_t *res_map = cq_avro_map_new(openapi, &schema->result.nodes, errstr, errstr_size);
    gen_op_t *raw = NULL;
    bool ok = json_is_object(openapi);
    if (!ok)
        cq_avro_map_fail(env_map, "the OpenAPI document is not a JSON object");
    ok = ok && collect_ops(env_map, openapi, schema, &raw) &&
         gen_envelope(env_map, openapi, schema, raw) && gen_result(res_map, openapi, schema, raw);
    free(raw); /* names moved into schema->ops */
    if (ok && !(fingerprint(&schema->envelope) && fingerprint(&schema->result))) {
        cq_avro_map_fail(env_map, "cannot compute the schema fingerprints");
        ok = false;
    }
    cq_avro_map_destroy(env_map);
    cq_avro_map_destroy(res_map);
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
    cq_avro_nodes_free(schema->envelope.nodes);
    cq_avro_nodes_free(schema->result.nodes);
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
