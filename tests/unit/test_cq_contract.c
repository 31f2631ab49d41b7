/*
 * Contract tests over the whole OpenAPI document (issue 4): every job
 * operation compiles; every example request passes its request schema and
 * mutated copies of it (a required field removed, a wrong type, a number
 * out of range, a string too long, an unknown enum value) fail with an error
 * at the mutated path; every example result passes its result schema.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_contract.h"

static cq_config_t *conf;
static cq_contract_t *contract;
static int mutations_checked;

static int setup(void **state)
{
    char err[512];
    conf = cq_config_new();
    contract = cq_contract_new(conf, err, sizeof(err));
    if (!contract)
        fprintf(stderr, "contract: %s\n", err);
    return contract ? 0 : -1;
}

static int teardown(void **state)
{
    fprintf(stderr, "mutations checked: %d\n", mutations_checked);
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    return 0;
}

/* Follows $ref chains to the schema object that describes a value. */
static json_t *resolve(json_t *schema)
{
    json_t *doc = cq_contract_document(contract);
    for (int i = 0; i < 16 && schema; i++) {
        const char *ref = json_string_value(json_object_get(schema, "$ref"));
        if (!ref)
            return schema;
        schema = cq_json_pointer_get(doc, ref + 1);
    }
    return schema;
}

static bool has_error_at(const cq_schema_errors_t *errors, const char *path, const char *word)
{
    for (size_t i = 0; i < errors->count; i++)
        if (strcmp(errors->items[i].path, path) == 0 &&
            (!word || strstr(errors->items[i].message, word)))
            return true;
    return false;
}

/* Validates the whole example after one mutation and expects an error at path. */
static void expect_failure(const cq_operation_t *op, json_t *example, const char *path,
                           const char *word, const char *what)
{
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    bool ok = cq_schema_validate(op->request, example, &errors);
    if (ok || !has_error_at(&errors, path, word)) {
        fprintf(stderr, "%s: %s at \"%s\" was not reported (%zu errors, first: %s %s)\n", op->name,
                what, path, errors.count, errors.count ? errors.items[0].path : "-",
                errors.count ? errors.items[0].message : "-");
        fail();
    }
    mutations_checked++;
    cq_schema_errors_clear(&errors);
}

/* Walks value (inside root) with its schema, mutating each place in turn
 * and restoring it. set(parent, key/index, new) swaps a value in place. */
static void mutate_walk(const cq_operation_t *op, json_t *root, json_t *value, json_t *schema,
                        const char *path);

static void mutate_member(const cq_operation_t *op, json_t *root, json_t *parent, const char *key,
                          size_t index, json_t *schema, const char *path)
{
    json_t *orig = key ? json_object_get(parent, key) : json_array_get(parent, index);
    json_incref(orig);
    schema = resolve(schema);
    const char *type = json_string_value(json_object_get(schema, "type"));
#define SWAP(v)                                                                                    \
    (key ? json_object_set_new(parent, key, (v)) : json_array_set_new(parent, index, (v)))
    if (type) {
        /* Wrong type: a string where anything else is expected, else a number. */
        SWAP(strcmp(type, "string") == 0 ? json_integer(12345) : json_string("wrong type"));
        expect_failure(op, root, path, NULL, "wrong type");
    }
    json_t *max = json_object_get(schema, "maximum");
    if (json_is_number(max)) {
        SWAP(json_real(json_number_value(max) + 1));
        expect_failure(op, root, path, NULL, "number over maximum");
    }
    json_t *min = json_object_get(schema, "minimum");
    if (json_is_number(min)) {
        SWAP(json_real(json_number_value(min) - 1));
        expect_failure(op, root, path, NULL, "number under minimum");
    }
    json_t *max_len = json_object_get(schema, "maxLength");
    if (json_is_integer(max_len) && type && strcmp(type, "string") == 0 &&
        !json_object_get(schema, "enum") && !json_object_get(schema, "format")) {
        size_t n = (size_t)json_integer_value(max_len) + 1;
        char *s = cq_malloc(n + 1);
        memset(s, 'a', n);
        s[n] = '\0';
        SWAP(json_string(s));
        free(s);
        expect_failure(op, root, path, NULL, "string too long");
    }
    if (json_is_array(json_object_get(schema, "enum"))) {
        SWAP(json_string("surely_not_a_member"));
        expect_failure(op, root, path, NULL, "unknown enum value");
    }
    SWAP(orig);
#undef SWAP
    mutate_walk(op, root, orig, schema, path);
}

static void mutate_walk(const cq_operation_t *op, json_t *root, json_t *value, json_t *schema,
                        const char *path)
{
    schema = resolve(schema);
    if (!schema)
        return;
    if (json_is_object(value)) {
        json_t *props = json_object_get(schema, "properties");
        json_t *required = json_object_get(schema, "required");
        size_t i;
        json_t *name;
        json_array_foreach(required, i, name)
        {
            const char *key = json_string_value(name);
            json_t *orig = json_object_get(value, key);
            if (!orig)
                continue;
            json_incref(orig);
            json_object_del(value, key);
            expect_failure(op, root, path, key, "missing required property");
            json_object_set_new(value, key, orig);
        }
        /* Unknown properties are refused where the object is closed. */
        if (json_is_false(json_object_get(schema, "additionalProperties"))) {
            json_object_set_new(value, "surelyUnknownField", json_true());
            char *p = cq_asprintf("%s/surelyUnknownField", path);
            expect_failure(op, root, p, NULL, "unknown property");
            free(p);
            json_object_del(value, "surelyUnknownField");
        }
        const char *key;
        json_t *sub;
        void *tmp;
        json_object_foreach_safe(value, tmp, key, sub)
        {
            json_t *sub_schema = json_object_get(props, key);
            if (!sub_schema)
                continue;
            char *p = cq_json_pointer_append(path, key);
            mutate_member(op, root, value, key, 0, sub_schema, p);
            free(p);
        }
    } else if (json_is_array(value)) {
        json_t *items = json_object_get(schema, "items");
        json_t *max_items = json_object_get(schema, "maxItems");
        if (json_is_integer(max_items) && json_array_size(value) > 0) {
            json_t *copy = json_deep_copy(value);
            while ((json_int_t)json_array_size(value) <= json_integer_value(max_items))
                json_array_append(value, json_array_get(copy, 0));
            expect_failure(op, root, path, NULL, "too many items");
            json_array_clear(value);
            json_array_extend(value, copy);
            json_decref(copy);
        }
        /* The first item stands for all: mutating each would only repeat. */
        if (items && json_array_size(value) > 0) {
            char *p = cq_asprintf("%s/0", path);
            mutate_member(op, root, value, NULL, 0, items, p);
            free(p);
        }
    }
}

static json_t *op_object(const cq_operation_t *op)
{
    json_t *doc = cq_contract_document(contract);
    json_t *item = json_object_get(json_object_get(doc, "paths"), op->path);
    char method[8];
    snprintf(method, sizeof(method), "%s", op->method);
    for (char *p = method; *p; p++)
        *p = (char)(*p - 'A' + 'a');
    return json_object_get(item, method);
}

static void test_contract_every_operation_compiles(void **state)
{
    /* The 16 operations of API.md, each routed to its kind. */
    assert_int_equal(cq_contract_count(contract), 16);
    const char *names[] = {"alignment-check",     "website-scan",  "scheduling-suggestions",
                           "operations-analysis", "business-data", "insights-generate"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(names); i++)
        assert_non_null(cq_contract_find(contract, names[i]));
    assert_string_equal(cq_contract_find(contract, "alignment-check")->kind, "alignment");
    assert_string_equal(cq_contract_find(contract, "action-suggestions")->kind, "operations");
    assert_string_equal(cq_contract_find(contract, "business-data")->kind, "business-data");
    assert_true(cq_contract_find(contract, "operations-analysis")->deprecated);
    /* Worker kinds (one job topic each) come from the operations, in order. */
    assert_int_equal(cq_contract_kind_count(contract), 3);
    assert_string_equal(cq_contract_kind_at(contract, 0), "alignment");
    assert_string_equal(cq_contract_kind_at(contract, 1), "operations");
    assert_string_equal(cq_contract_kind_at(contract, 2), "business-data");
    assert_null(cq_contract_kind_at(contract, 3));
    /* Result members the service stamps itself. */
    const json_t *stamp = cq_contract_find(contract, "alignment-check")->stamp;
    assert_int_equal(json_array_size(stamp), 1);
    assert_string_equal(json_string_value(json_array_get(stamp, 0)), "lastUpdated");
    assert_null(cq_contract_find(contract, "website-scan")->stamp);
    /* What the gateway and workers do beyond a plain job comes from extensions too. */
    assert_true(cq_contract_find(contract, "business-data")->tenant_cache);
    assert_true(cq_contract_find(contract, "business-data")->forward_credentials);
    assert_true(cq_contract_find(contract, "insights-generate")->forward_credentials);
    assert_false(cq_contract_find(contract, "insights-generate")->tenant_cache);
    assert_false(cq_contract_find(contract, "alignment-check")->forward_credentials);
    bool known = false;
    assert_ptr_equal(cq_contract_match(contract, "POST", "/coaching/alignment-check", &known),
                     cq_contract_find(contract, "alignment-check"));
    assert_null(cq_contract_match(contract, "GET", "/coaching/alignment-check", &known));
    assert_true(known);
}

static void test_contract_examples_and_mutations(void **state)
{
    int requests = 0, results = 0;
    json_t *doc = cq_contract_document(contract);
    for (size_t i = 0; i < cq_contract_count(contract); i++) {
        const cq_operation_t *op = cq_contract_at(contract, i);
        json_t *o = op_object(op);
        assert_non_null(o);
        json_t *examples =
            cq_json_pointer_get(o, "/requestBody/content/application~1json/examples");
        const char *name;
        json_t *ex;
        json_object_foreach(examples, name, ex)
        {
            json_t *value = json_deep_copy(json_object_get(ex, "value"));
            cq_schema_errors_t errors;
            memset(&errors, 0, sizeof(errors));
            if (!cq_schema_validate(op->request, value, &errors)) {
                fprintf(stderr, "%s example %s: %s %s\n", op->name, name, errors.items[0].path,
                        errors.items[0].message);
                fail();
            }
            cq_schema_errors_clear(&errors);
            mutate_walk(op, value, value, cq_json_pointer_get(doc, op->request_pointer), "");
            /* Every mutation was undone: the example is valid again. */
            assert_true(cq_schema_validate(op->request, value, NULL));
            json_decref(value);
            requests++;
        }
        if (op->request)
            assert_true(json_object_size(examples) > 0);
        json_t *res = cq_json_pointer_get(o, "/responses/200/content/application~1json/examples");
        json_object_foreach(res, name, ex)
        {
            json_t *data = cq_json_pointer_get(ex, "/value/data");
            cq_schema_errors_t errors;
            memset(&errors, 0, sizeof(errors));
            if (!cq_schema_validate(op->result, data, &errors)) {
                fprintf(stderr, "%s result example %s: %s %s\n", op->name, name,
                        errors.count ? errors.items[0].path : "-",
                        errors.count ? errors.items[0].message : "no data");
                fail();
            }
            cq_schema_errors_clear(&errors);
            results++;
        }
        assert_true(json_object_size(res) > 0);
    }
    fprintf(stderr, "request examples: %d, result examples: %d\n", requests, results);
    assert_true(requests >= 15);
    assert_true(results >= 16);
    assert_true(mutations_checked > 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_every_operation_compiles),
        cmocka_unit_test(test_contract_examples_and_mutations),
    };
    return cmocka_run_group_tests_name("contract", tests, setup, teardown);
}
