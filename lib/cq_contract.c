/*
 * cq_contract.c — loading the OpenAPI document and its job operations
 * (see cq_contract.h). Only the starting thread writes; then read-only.
 */
#include "cq_contract.h"
#include "cq_embedded.h"
#include "cq_log.h"

#include <stdlib.h>
#include <string.h>

#define CQ_CONTRACT_BUILTIN "schemas/openapi.json"

struct cq_contract_s {
    json_t *doc;
    char *text;
    size_t text_len;
    cq_operation_t *ops;
    size_t count;
    json_t *enum_routes; /* "METHOD path" -> enum values */
    const char **kinds;  /* distinct x-coachq-kind values, borrowed from doc */
    size_t kind_count;
};

static const char *cq_contract_methods[] = {"get", "post", "put", "patch", "delete"};

static char *cq_upper(const char *s)
{
    char *u = cq_strdup(s);
    for (char *p = u; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return u;
}

/* "#/components/schemas/X" -> "/components/schemas/X"; NULL when not a local ref. */
static const char *cq_contract_pointer(const char *ref)
{
    return ref && ref[0] == '#' && ref[1] == '/' ? ref + 1 : NULL;
}

static cq_err_t cq_contract_add(cq_contract_t *contract, const char *path, const char *method,
                                json_t *op, char *errstr, size_t errstr_size)
{
    const char *enum_ref = json_string_value(json_object_get(op, "x-coachq-enum"));
    if (enum_ref) {
        json_t *values =
            cq_contract_pointer(enum_ref)
                ? json_object_get(cq_json_pointer_get(contract->doc, cq_contract_pointer(enum_ref)),
                                  "enum")
                : NULL;
        if (!json_is_array(values)) {
            cq_errstr_set(errstr, errstr_size, "%s %s: x-coachq-enum names no enum", method, path);
            return CQ_ERR_CONFIG;
        }
        char *key = cq_upper(method);
        char *full = cq_asprintf("%s %s", key, path);
        json_object_set(contract->enum_routes, full, values);
        free(full);
        free(key);
        return CQ_ERR_OK;
    }
    const char *name = json_string_value(json_object_get(op, "x-coachq-operation"));
    const char *kind = json_string_value(json_object_get(op, "x-coachq-kind"));
    const char *req = json_string_value(json_object_get(op, "x-coachq-request-schema"));
    const char *res = json_string_value(json_object_get(op, "x-coachq-result-schema"));
    if (!name)
        return CQ_ERR_OK; /* not a job operation */
    if (!kind || !res || !cq_contract_pointer(res) || (req && !cq_contract_pointer(req))) {
        cq_errstr_set(errstr, errstr_size,
                      "%s %s: a job operation needs x-coachq-kind, x-coachq-result-schema and "
                      "local \"#/...\" schema references",
                      method, path);
        return CQ_ERR_CONFIG;
    }
    for (size_t i = 0; i < contract->count; i++) {
        if (strcmp(contract->ops[i].name, name) == 0) {
            cq_errstr_set(errstr, errstr_size, "operation \"%s\" is declared twice", name);
            return CQ_ERR_CONFIG;
        }
    }
    char err[512];
    cq_schema_t *request = NULL, *result = NULL;
    if (req &&
        !(request = cq_schema_new(contract->doc, cq_contract_pointer(req), err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "%s request schema: %s", name, err);
        return CQ_ERR_CONFIG;
    }
    if (!(result = cq_schema_new(contract->doc, cq_contract_pointer(res), err, sizeof(err)))) {
        cq_errstr_set(errstr, errstr_size, "%s result schema: %s", name, err);
        cq_schema_destroy(request);
        return CQ_ERR_CONFIG;
    }
    contract->ops = cq_realloc(contract->ops, (contract->count + 1) * sizeof(*contract->ops));
    cq_operation_t *o = &contract->ops[contract->count++];
    memset(o, 0, sizeof(*o));
    o->name = name;
    o->kind = kind;
    o->method = cq_upper(method);
    o->path = path;
    o->deprecated = json_is_true(json_object_get(op, "deprecated"));
    o->deprecation = json_string_value(json_object_get(op, "x-coachq-deprecation"));
    o->sunset = json_string_value(json_object_get(op, "x-coachq-sunset"));
    o->request_from_query = json_is_true(json_object_get(op, "x-coachq-request-from-query"));
    o->forward_credentials = json_is_true(json_object_get(op, "x-coachq-forward-credentials"));
    o->tenant_cache = json_is_true(json_object_get(op, "x-coachq-tenant-cache"));
    json_t *succ = json_object_get(op, "x-coachq-successors");
    if (json_array_size(succ) > 0) {
        size_t i;
        json_t *v;
        char *list = NULL;
        json_array_foreach(succ, i, v)
        {
            char *next = cq_asprintf("%s%s%s", list ? list : "", list ? "," : "",
                                     json_string_value(v) ? json_string_value(v) : "");
            free(list);
            list = next;
        }
        o->successors = list;
    }
    o->request = request;
    o->result = result;
    o->request_pointer = req ? cq_contract_pointer(req) : NULL;
    o->result_pointer = cq_contract_pointer(res);
    json_t *stamp =
        json_object_get(cq_json_pointer_get(contract->doc, o->result_pointer), "x-coachq-stamp");
    o->stamp = json_is_array(stamp) ? stamp : NULL;
    return CQ_ERR_OK;
}

cq_contract_t *cq_contract_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *doc;
    const char *source;
    if (conf->schemas_openapi && *conf->schemas_openapi) {
        source = conf->schemas_openapi;
        doc = json_load_file(source, 0, &jerr);
    } else {
        source = CQ_CONTRACT_BUILTIN;
        size_t len = 0;
        const char *text = cq_embedded_get(CQ_CONTRACT_BUILTIN, &len);
        doc = text ? json_loadb(text, len, 0, &jerr) : NULL;
        if (!text)
            snprintf(jerr.text, sizeof(jerr.text), "not built into this program");
    }
    if (!doc) {
        cq_errstr_set(errstr, errstr_size, "%s:%d: %s", source, jerr.line, jerr.text);
        return NULL;
    }
    cq_contract_t *contract = cq_calloc(1, sizeof(*contract));
    contract->doc = doc;
    contract->enum_routes = json_object();
    json_t *paths = json_object_get(doc, "paths");
    if (!json_is_object(paths)) {
        cq_errstr_set(errstr, errstr_size, "%s: no \"paths\" object", source);
        goto fail;
    }
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item)
    {
        for (size_t m = 0; m < CQ_ARRAY_SIZE(cq_contract_methods); m++) {
            json_t *op = json_object_get(item, cq_contract_methods[m]);
            if (json_is_object(op) && cq_contract_add(contract, path, cq_contract_methods[m], op,
                                                      errstr, errstr_size) != CQ_ERR_OK)
                goto fail;
        }
    }
    for (size_t i = 0; i < contract->count; i++) {
        bool seen = false;
        for (size_t k = 0; k < contract->kind_count && !seen; k++)
            seen = strcmp(contract->kinds[k], contract->ops[i].kind) == 0;
        if (seen)
            continue;
        contract->kinds =
            cq_realloc(contract->kinds, (contract->kind_count + 1) * sizeof(*contract->kinds));
        contract->kinds[contract->kind_count++] = contract->ops[i].kind;
    }
    contract->text = json_dumps(doc, JSON_COMPACT);
    contract->text_len = strlen(contract->text);
    return contract;
fail:
    cq_contract_destroy(contract);
    return NULL;
}

void cq_contract_destroy(cq_contract_t *contract)
{
    if (!contract)
        return;
    for (size_t i = 0; i < contract->count; i++) {
        cq_schema_destroy((cq_schema_t *)contract->ops[i].request);
        cq_schema_destroy((cq_schema_t *)contract->ops[i].result);
        free((char *)contract->ops[i].method);
        free((char *)contract->ops[i].successors);
    }
    free(contract->ops);
    free(contract->kinds);
    free(contract->text);
    json_decref(contract->enum_routes);
    json_decref(contract->doc);
    free(contract);
}

json_t *cq_contract_document(const cq_contract_t *contract)
{
    return contract->doc;
}

const char *cq_contract_text(const cq_contract_t *contract, size_t *len)
{
    if (len)
        *len = contract->text_len;
    return contract->text;
}

size_t cq_contract_kind_count(const cq_contract_t *contract)
{
    return contract->kind_count;
}

const char *cq_contract_kind_at(const cq_contract_t *contract, size_t i)
{
    return i < contract->kind_count ? contract->kinds[i] : NULL;
}

size_t cq_contract_count(const cq_contract_t *contract)
{
    return contract->count;
}

const cq_operation_t *cq_contract_at(const cq_contract_t *contract, size_t i)
{
    return i < contract->count ? &contract->ops[i] : NULL;
}

const cq_operation_t *cq_contract_find(const cq_contract_t *contract, const char *name)
{
    for (size_t i = 0; i < contract->count; i++)
        if (strcmp(contract->ops[i].name, name) == 0)
            return &contract->ops[i];
    return NULL;
}

const cq_operation_t *cq_contract_match(const cq_contract_t *contract, const char *method,
                                        const char *path, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < contract->count; i++) {
        if (strcmp(contract->ops[i].path, path) != 0)
            continue;
        *path_known = true;
        if (strcmp(contract->ops[i].method, method) == 0)
            return &contract->ops[i];
    }
    return NULL;
}

const json_t *cq_contract_enum_route(const cq_contract_t *contract, const char *method,
                                     const char *path)
{
    char key[512];
    snprintf(key, sizeof(key), "%s %s", method, path);
    return json_object_get(contract->enum_routes, key);
}
