/*
 * test_cq_align_data.c — the alignment kind's data files and its built-in
 * engines together: every data file parses, and every engine answers the
 * contract's own request example, and the same example with every optional
 * member removed, with a result its result schema accepts; the two answers
 * differ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_align_check.h"
#include "cq_align_coaching.h"
#include "cq_align_data.h"
#include "cq_align_explanation.h"
#include "cq_align_kpi.h"
#include "cq_align_onboarding.h"
#include "cq_align_strategy.h"
#include "cq_align_suggestions.h"
#include "cq_contract.h"
#include "cq_worker.h"

static cq_config_t *conf;
static cq_contract_t *contract;

/* every_text: a change to any free text of the request changes the
 * answer. alignment-check does not promise it (its prose quotes only the
 * least reflected value and never the target market or value
 * proposition, and its integer scores absorb small changes). */
static const struct {
    const char *name;
    cq_builtin_fn *fn;
    bool every_text;
} engines[] = {
    {"alignment-check", cq_align_check_compute, false},
    {"alignment-explanation", cq_align_explanation_compute, true},
    {"alignment-suggestions", cq_align_suggestions_compute, true},
    {"strategy-suggestions", cq_align_strategy_compute, true},
    {"kpi-recommendations", cq_align_kpi_compute, true},
    {"onboarding-suggestions", cq_align_onboarding_compute, true},
    {"onboarding-coaching", cq_align_coaching_compute, true},
};

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
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    return 0;
}

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

/* Removes, in place, every object member the schema does not require. */
static void strip_optional(json_t *value, json_t *schema)
{
    schema = resolve(schema);
    if (json_is_object(value)) {
        const json_t *required = json_object_get(schema, "required");
        json_t *props = json_object_get(schema, "properties");
        const char *key;
        json_t *member;
        void *tmp;
        json_object_foreach_safe(value, tmp, key, member)
        {
            bool keep = false;
            for (size_t i = 0; i < json_array_size(required) && !keep; i++)
                keep = strcmp(json_string_value(json_array_get(required, i)), key) == 0;
            if (!keep)
                json_object_del(value, key);
            else
                strip_optional(member, json_object_get(props, key));
        }
    } else if (json_is_array(value)) {
        json_t *items = json_object_get(schema, "items");
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item) strip_optional(item, items);
    }
}

static json_t *example_of(const cq_operation_t *op)
{
    json_t *doc = cq_contract_document(contract);
    json_t *item = json_object_get(json_object_get(doc, "paths"), op->path);
    json_t *examples = cq_json_pointer_get(json_object_get(item, "post"),
                                           "/requestBody/content/application~1json/examples");
    const char *name;
    json_t *ex;
    json_object_foreach(examples, name, ex)
    {
        return json_deep_copy(json_object_get(ex, "value"));
    }
    return NULL;
}

static json_t *answer(const cq_operation_t *op, cq_builtin_fn *fn, const json_t *request)
{
    assert_true(cq_schema_validate(op->request, request, NULL));
    json_t *result = NULL;
    char err[256] = "";
    if (fn(request, 1767225600000LL, &result, err, sizeof(err)) != CQ_ERR_OK)
        fail_msg("%s: %s", op->name, err);
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    if (!cq_schema_validate(op->result, result, &errors))
        fail_msg("%s result invalid at %s: %s", op->name, errors.items[0].path,
                 errors.items[0].message);
    cq_schema_errors_clear(&errors);
    return result;
}

static void test_align_data_every_file_parses(void **state)
{
    static const char *const names[] = {"goal_types", "strategies", "kpis",          "industries",
                                        "onboarding", "coaching",   "alignment_text"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(names); i++) {
        if (!cq_align_data(names[i]))
            fail_msg("data file %s.json is missing or not JSON", names[i]);
    }
    assert_null(cq_align_data("no-such-file"));
}

static void test_align_data_engines_answer_full_and_minimal_examples(void **state)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(engines); i++) {
        const cq_operation_t *op = cq_contract_find(contract, engines[i].name);
        assert_non_null(op);
        json_t *full = example_of(op);
        assert_non_null(full);
        json_t *minimal = json_deep_copy(full);
        strip_optional(minimal,
                       cq_json_pointer_get(cq_contract_document(contract), op->request_pointer));
        json_t *a = answer(op, engines[i].fn, full);
        json_t *b = answer(op, engines[i].fn, minimal);
        /* an example with optional parts says more than one without */
        if (!json_equal(full, minimal) && json_equal(a, b))
            fail_msg("%s: the same answer with and without the optional members", op->name);
        json_decref(a);
        json_decref(b);
        json_decref(full);
        json_decref(minimal);
    }
}

/* Pointers of the string leaves of value that the schema lets be free
 * text (no enum), depth first. */
static size_t text_leaves(json_t *value, json_t *schema, const char *at, char (*out)[256], size_t n,
                          size_t max)
{
    schema = resolve(schema);
    if (json_is_string(value) && !json_object_get(schema, "enum") && n < max) {
        snprintf(out[n], sizeof(out[n]), "%s", at);
        return n + 1;
    }
    char child[256];
    if (json_is_object(value)) {
        const char *key;
        json_t *member;
        json_object_foreach(value, key, member)
        {
            snprintf(child, sizeof(child), "%s/%s", at, key);
            n = text_leaves(member, json_object_get(json_object_get(schema, "properties"), key),
                            child, out, n, max);
        }
    } else if (json_is_array(value)) {
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item)
        {
            snprintf(child, sizeof(child), "%s/%zu", at, i);
            n = text_leaves(item, json_object_get(schema, "items"), child, out, n, max);
        }
    }
    return n;
}

static void test_align_data_every_text_of_the_request_shows_in_the_answer(void **state)
{
    int checked = 0, unchanged = 0;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(engines); i++) {
        if (!engines[i].every_text)
            continue;
        const cq_operation_t *op = cq_contract_find(contract, engines[i].name);
        json_t *full = example_of(op);
        json_t *base = answer(op, engines[i].fn, full);
        char leaves[64][256];
        size_t n = text_leaves(
            full, cq_json_pointer_get(cq_contract_document(contract), op->request_pointer), "",
            leaves, 0, 64);
        for (size_t k = 0; k < n; k++) {
            json_t *changed = json_deep_copy(full);
            json_t *leaf = cq_json_pointer_get(changed, leaves[k]);
            char *text = cq_asprintf("Zephyr quantum %s", json_string_value(leaf));
            json_string_set(leaf, text);
            free(text);
            json_t *other = answer(op, engines[i].fn, changed);
            checked++;
            if (json_equal(base, other)) {
                unchanged++;
                fprintf(stderr, "%s: changing %s does not change the answer\n", op->name,
                        leaves[k]);
                if (getenv("CQ_TEST_PRINT")) {
                    char *dump = json_dumps(base, JSON_INDENT(1));
                    fprintf(stderr, "%s\n", dump);
                    free(dump);
                }
            }
            json_decref(other);
            json_decref(changed);
        }
        json_decref(base);
        json_decref(full);
    }
    fprintf(stderr, "text leaves changed: %d, answers unchanged: %d\n", checked, unchanged);
    assert_true(checked > 40);
    assert_int_equal(unchanged, 0);
}

/* Words for filled texts: planning words and non-ASCII ones, so cuts fall
 * inside multi-byte characters too. */
static const char *const fill_words[] = {"café",   "growth", "crème",   "customers", "résumé",
                                         "valley", "solar",  "naïve",   "bread",     "loyalty",
                                         "ünique", "energy", "strategy"};

/* A value of the schema at its largest: strings at maxLength (in
 * characters), arrays at maxItems, numbers at maximum, every property
 * present, enums at their first value. seed varies the words. */
static json_t *fill_max(json_t *schema, size_t seed)
{
    schema = resolve(schema);
    const json_t *en = json_object_get(schema, "enum");
    if (en)
        return json_deep_copy(json_array_get(en, 0));
    const char *type = json_string_value(json_object_get(schema, "type"));
    if (!type)
        return json_string("x");
    if (strcmp(type, "object") == 0) {
        json_t *obj = json_object();
        const char *key;
        json_t *prop;
        size_t k = 0;
        json_object_foreach(json_object_get(schema, "properties"), key, prop)
        {
            json_object_set_new(obj, key, fill_max(prop, seed + k++));
        }
        return obj;
    }
    if (strcmp(type, "array") == 0) {
        json_t *arr = json_array();
        json_int_t n = json_integer_value(json_object_get(schema, "maxItems"));
        for (json_int_t i = 0; i < (n ? n : 3); i++)
            json_array_append_new(arr,
                                  fill_max(json_object_get(schema, "items"), seed + (size_t)i));
        return arr;
    }
    if (strcmp(type, "string") == 0) {
        json_int_t max = json_integer_value(json_object_get(schema, "maxLength"));
        if (!max)
            max = 100;
        char *buf = cq_malloc((size_t)max * 4 + 1);
        size_t len = 0, chars = 0;
        for (size_t w = seed; chars < (size_t)max; w++) {
            const char *word = fill_words[w % CQ_ARRAY_SIZE(fill_words)];
            for (const char *c = chars ? " " : ""; *c && chars < (size_t)max; c++, chars++)
                buf[len++] = *c;
            for (const unsigned char *c = (const unsigned char *)word; *c && chars < (size_t)max;) {
                size_t n = *c < 0x80 ? 1 : *c < 0xE0 ? 2 : *c < 0xF0 ? 3 : 4;
                memcpy(buf + len, c, n);
                len += n;
                c += n;
                chars++;
            }
        }
        json_t *str = json_stringn(buf, len);
        free(buf);
        return str;
    }
    if (strcmp(type, "integer") == 0)
        return json_integer(json_integer_value(json_object_get(schema, "maximum")));
    if (strcmp(type, "number") == 0)
        return json_real(json_number_value(json_object_get(schema, "maximum")));
    if (strcmp(type, "boolean") == 0)
        return json_true();
    return json_null();
}

static void test_align_data_engines_stay_within_limits_on_largest_requests(void **state)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(engines); i++) {
        const cq_operation_t *op = cq_contract_find(contract, engines[i].name);
        for (size_t seed = 0; seed < 3; seed++) {
            json_t *request = fill_max(
                cq_json_pointer_get(cq_contract_document(contract), op->request_pointer), seed);
            json_t *result = answer(op, engines[i].fn, request);
            json_decref(result);
            json_decref(request);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align_data_every_file_parses),
        cmocka_unit_test(test_align_data_engines_answer_full_and_minimal_examples),
        cmocka_unit_test(test_align_data_every_text_of_the_request_shows_in_the_answer),
        cmocka_unit_test(test_align_data_engines_stay_within_limits_on_largest_requests),
    };
    return cmocka_run_group_tests_name("cq_align_data", tests, setup, teardown);
}
