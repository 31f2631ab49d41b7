/*
 * Unit tests of the structured-output schema conversion: OpenAI strict
 * rules (all properties required, optional ones nullable, closed objects,
 * dropped keywords told in the description, oneOf as anyOf), the grammar
 * shape for llama.cpp-style servers (patterns, formats and large bounds
 * dropped), $ref inlining,
 * root wrapping and unwrapping, null removal, errors, and every result
 * schema of the built-in contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cq_embedded.h"
#include "cq_llm_schema.h"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (!v)
        fail_msg("bad test JSON: %s", jerr.text);
    return v;
}

static const char *const doc_text =
    "{\"components\":{\"schemas\":{"
    "\"Thing\":{\"type\":\"object\",\"title\":\"Thing\",\"description\":\"A thing\","
    "\"properties\":{"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":50,\"description\":\"Name\"},"
    "\"size\":{\"type\":\"integer\",\"minimum\":0,\"default\":3},"
    "\"kind\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]},"
    "\"tag\":{\"const\":\"x\"},"
    "\"when\":{\"type\":\"string\",\"format\":\"date-time\",\"pattern\":\"^2\"},"
    "\"sub\":{\"$ref\":\"#/components/schemas/Sub\",\"description\":\"Here\"},"
    "\"alt\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]},"
    "\"list\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Sub\"},"
    "\"minItems\":1,\"maxItems\":3,\"uniqueItems\":true}},"
    "\"required\":[\"name\",\"sub\",\"alt\",\"list\"],\"additionalProperties\":false,"
    "\"examples\":[{\"name\":\"n\"}]},"
    "\"Sub\":{\"type\":\"object\",\"description\":\"There\",\"properties\":{\"v\":{\"type\":"
    "\"number\"}}},"
    "\"List\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Sub\"}},"
    "\"Either\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Sub\"},{\"$ref\":\"#/components/"
    "schemas/Thing\"}]},"
    "\"Loop\":{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#/components/schemas/"
    "Loop\"}}},"
    "\"Dangling\":{\"type\":\"object\",\"properties\":{\"x\":{\"$ref\":\"#/components/schemas/"
    "Nope\"}}},"
    "\"Remote\":{\"$ref\":\"https://example.com/s.json\"},"
    "\"Both\":{\"allOf\":[{\"type\":\"object\"}]},"
    "\"Map\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}"
    "}}}";

static const json_t *schema_of(const json_t *doc, const char *name)
{
    return json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), name);
}

/* True when key appears anywhere in v as an object member name. */
static bool has_key_anywhere(const json_t *v, const char *key)
{
    if (json_is_object(v)) {
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it))
            if (strcmp(json_object_iter_key(it), key) == 0 ||
                has_key_anywhere(json_object_iter_value(it), key))
                return true;
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (has_key_anywhere(json_array_get(v, i), key))
                return true;
    }
    return false;
}

/* Checks the strict-mode shape of every object schema inside v. */
static void assert_strict_objects(const json_t *v)
{
    if (json_is_object(v)) {
        json_t *props = json_object_get(v, "properties");
        if (props) {
            assert_true(json_is_false(json_object_get(v, "additionalProperties")));
            json_t *req = json_object_get(v, "required");
            assert_int_equal(json_array_size(req), json_object_size(props));
            for (size_t i = 0; i < json_array_size(req); i++)
                assert_non_null(json_object_get(props, json_string_value(json_array_get(req, i))));
        }
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it))
            assert_strict_objects(json_object_iter_value(it));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            assert_strict_objects(json_array_get(v, i));
    }
}

/* Checks that no node of v keeps what the grammar shape drops. */
static void assert_grammar_friendly(const json_t *v)
{
    if (json_is_object(v)) {
        static const char *const bounds[] = {"minLength", "maxLength", "minItems", "maxItems"};
        assert_false(json_is_string(json_object_get(v, "pattern")));
        assert_false(json_is_string(json_object_get(v, "format")));
        for (size_t i = 0; i < 4; i++) {
            json_t *b = json_object_get(v, bounds[i]);
            json_int_t max =
                i < 2 ? CQ_LLM_SCHEMA_GRAMMAR_MAX_LENGTH : CQ_LLM_SCHEMA_GRAMMAR_MAX_ITEMS;
            if (json_is_integer(b) && json_integer_value(b) > max)
                fail_msg("%s %lld kept", bounds[i], (long long)json_integer_value(b));
        }
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it))
            assert_grammar_friendly(json_object_iter_value(it));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            assert_grammar_friendly(json_array_get(v, i));
    }
}

static void assert_json_eq(const json_t *v, const char *expected)
{
    json_t *e = parse(expected);
    if (!json_equal(v, e)) {
        char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("got %s, expected %s", got, expected);
    }
    json_decref(e);
}

static void test_llm_schema_strict_object(void **state)
{
    json_t *doc = parse(doc_text);
    char *before = json_dumps(doc, JSON_COMPACT);
    char err[256];
    json_t *s =
        cq_llm_schema_convert(schema_of(doc, "Thing"), doc, CQ_LLM_SHAPE_STRICT, err, sizeof(err));
    assert_non_null(s);
    json_t *props = json_object_get(s, "properties");

    assert_json_eq(json_object_get(s, "required"),
                   "[\"name\",\"size\",\"kind\",\"tag\",\"when\",\"sub\",\"alt\",\"list\"]");
    assert_true(json_is_false(json_object_get(s, "additionalProperties")));
    /* Required properties keep their type; optional ones may be null. */
    assert_json_eq(json_object_get(props, "name"),
                   "{\"type\":\"string\",\"description\":\"Name (minLength: 1, maxLength: 50)\"}");
    assert_json_eq(json_object_get(props, "size"),
                   "{\"type\":[\"integer\",\"null\"],\"description\":\"(minimum: 0)\"}");
    assert_json_eq(json_object_get(props, "kind"),
                   "{\"type\":[\"string\",\"null\"],\"enum\":[\"a\",\"b\",null]}");
    assert_json_eq(json_object_get(props, "tag"), "{\"anyOf\":[{\"const\":\"x\"},{\"type\":"
                                                  "\"null\"}]}");
    assert_json_eq(json_object_get(props, "when"),
                   "{\"type\":[\"string\",\"null\"],"
                   "\"description\":\"(format: \\\"date-time\\\", pattern: \\\"^2\\\")\"}");
    /* $ref inlined, its target closed too, both descriptions kept. */
    assert_json_eq(json_object_get(props, "sub"),
                   "{\"type\":\"object\",\"description\":\"Here There\",\"properties\":{\"v\":{"
                   "\"type\":[\"number\",\"null\"]}},\"required\":[\"v\"],"
                   "\"additionalProperties\":false}");
    assert_json_eq(json_object_get(props, "alt"),
                   "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(props, "list"), "description")),
        "(minItems: 1, maxItems: 3, uniqueItems: true)");
    assert_false(has_key_anywhere(s, "$ref"));
    assert_false(has_key_anywhere(s, "oneOf"));
    assert_false(has_key_anywhere(s, "examples"));
    assert_false(has_key_anywhere(s, "default"));
    assert_false(has_key_anywhere(s, "title"));
    assert_false(has_key_anywhere(s, "minLength"));
    assert_strict_objects(s);

    /* The shared document is left exactly as it was. */
    char *after = json_dumps(doc, JSON_COMPACT);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(s);
    json_decref(doc);
}

static void test_llm_schema_plain_keeps_constraints(void **state)
{
    json_t *doc = parse(doc_text);
    char err[256];
    json_t *s =
        cq_llm_schema_convert(schema_of(doc, "Thing"), doc, CQ_LLM_SHAPE_PLAIN, err, sizeof(err));
    assert_non_null(s);
    json_t *props = json_object_get(s, "properties");
    assert_json_eq(json_object_get(s, "required"), "[\"name\",\"sub\",\"alt\",\"list\"]");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(props, "name"), "maxLength")), 50);
    assert_non_null(json_object_get(json_object_get(props, "alt"), "oneOf"));
    assert_json_eq(json_object_get(json_object_get(props, "list"), "items"),
                   "{\"type\":\"object\",\"description\":\"There\",\"properties\":{\"v\":{"
                   "\"type\":\"number\"}}}");
    assert_false(has_key_anywhere(s, "$ref"));
    json_decref(s);
    json_decref(doc);
}

/* The grammar shape (llama.cpp json_object, prompt-only) drops patterns and
 * formats (said in the description), clamps large maxima to its bounds,
 * drops minima above them (with their maxima), and keeps the rest as the
 * plain shape does. */
static void test_llm_schema_grammar_drops_heavy_keywords(void **state)
{
    (void)state;
    json_t *doc = parse("{\"type\":\"object\",\"properties\":{"
                        "\"note\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":5000,"
                        "\"description\":\"Note\"},"
                        "\"essay\":{\"type\":\"string\",\"minLength\":300,\"maxLength\":5000},"
                        "\"code\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}$\",\"maxLength\":3},"
                        "\"day\":{\"type\":\"string\",\"format\":\"date\"},"
                        "\"tags\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":100,"
                        "\"items\":{\"type\":\"string\",\"maxLength\":256}},"
                        "\"pattern\":{\"type\":\"integer\",\"minimum\":0}},"
                        "\"required\":[\"note\"],\"additionalProperties\":false}");
    char err[256];
    json_t *s = cq_llm_schema_convert(doc, NULL, CQ_LLM_SHAPE_GRAMMAR, err, sizeof(err));
    assert_non_null(s);
    assert_json_eq(s,
                   "{\"type\":\"object\",\"properties\":{"
                   "\"note\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256,"
                   "\"description\":\"Note\"},"
                   "\"essay\":{\"type\":\"string\",\"description\":\"(minLength: 300, maxLength: "
                   "5000)\"},"
                   "\"code\":{\"type\":\"string\",\"maxLength\":3,\"description\":\"(pattern: "
                   "\\\"^[A-Z]{3}$\\\")\"},"
                   "\"day\":{\"type\":\"string\",\"description\":\"(format: \\\"date\\\")\"},"
                   "\"tags\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":20,"
                   "\"items\":{\"type\":\"string\",\"maxLength\":256}},"
                   "\"pattern\":{\"type\":\"integer\",\"minimum\":0}},"
                   "\"required\":[\"note\"],\"additionalProperties\":false}");
    assert_grammar_friendly(s);
    json_decref(s);
    /* The plain shape keeps them all. */
    s = cq_llm_schema_convert(doc, NULL, CQ_LLM_SHAPE_PLAIN, err, sizeof(err));
    assert_non_null(s);
    assert_true(json_equal(s, doc));
    json_decref(s);
    json_decref(doc);
}

static void test_llm_schema_wraps_non_object_roots(void **state)
{
    json_t *doc = parse(doc_text);
    char err[256];
    assert_true(cq_llm_schema_wrapped(schema_of(doc, "List"), doc));
    assert_false(cq_llm_schema_wrapped(schema_of(doc, "Thing"), doc));

    json_t *s =
        cq_llm_schema_convert(schema_of(doc, "List"), doc, CQ_LLM_SHAPE_STRICT, err, sizeof(err));
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "type")), "object");
    assert_json_eq(json_object_get(s, "required"), "[\"items\"]");
    assert_true(json_is_false(json_object_get(s, "additionalProperties")));
    json_t *inner = json_object_get(json_object_get(s, "properties"), "items");
    assert_string_equal(json_string_value(json_object_get(inner, "type")), "array");
    assert_strict_objects(s);
    json_decref(s);

    /* A root $ref to an array is wrapped as well. */
    json_t *ref = parse("{\"$ref\":\"#/components/schemas/List\"}");
    s = cq_llm_schema_convert(ref, doc, CQ_LLM_SHAPE_PLAIN, err, sizeof(err));
    assert_non_null(json_object_get(json_object_get(s, "properties"), "items"));
    json_decref(s);
    json_decref(ref);

    s = cq_llm_schema_convert(schema_of(doc, "Either"), doc, CQ_LLM_SHAPE_STRICT, err, sizeof(err));
    assert_non_null(s);
    assert_json_eq(json_object_get(s, "required"), "[\"result\"]");
    inner = json_object_get(json_object_get(s, "properties"), "result");
    assert_int_equal(json_array_size(json_object_get(inner, "anyOf")), 2);
    assert_strict_objects(s);
    json_decref(s);
    json_decref(doc);
}

static void test_llm_schema_errors(void **state)
{
    json_t *doc = parse(doc_text);
    char err[256];
    assert_null(
        cq_llm_schema_convert(schema_of(doc, "Loop"), doc, CQ_LLM_SHAPE_PLAIN, err, sizeof(err)));
    assert_non_null(strstr(err, "recursive"));
    assert_null(cq_llm_schema_convert(schema_of(doc, "Dangling"), doc, CQ_LLM_SHAPE_STRICT, err,
                                      sizeof(err)));
    assert_non_null(strstr(err, "#/components/schemas/Nope"));
    assert_null(cq_llm_schema_convert(schema_of(doc, "Remote"), doc, CQ_LLM_SHAPE_STRICT, err,
                                      sizeof(err)));
    assert_non_null(strstr(err, "local"));
    assert_null(
        cq_llm_schema_convert(schema_of(doc, "Both"), doc, CQ_LLM_SHAPE_STRICT, err, sizeof(err)));
    assert_non_null(strstr(err, "allOf"));
    assert_null(
        cq_llm_schema_convert(schema_of(doc, "Map"), doc, CQ_LLM_SHAPE_STRICT, err, sizeof(err)));
    assert_non_null(strstr(err, "additionalProperties"));
    /* Without strict mode the same two are fine. */
    json_t *s =
        cq_llm_schema_convert(schema_of(doc, "Both"), doc, CQ_LLM_SHAPE_PLAIN, err, sizeof(err));
    assert_non_null(s);
    json_decref(s);
    assert_null(cq_llm_schema_convert(NULL, doc, CQ_LLM_SHAPE_STRICT, err, sizeof(err)));
    json_decref(doc);
}

/* Whether a schema (refs followed) lets a value be null anywhere. */
static bool allows_null(const json_t *doc, const json_t *s, int depth)
{
    if (depth > 64)
        fail_msg("recursive schema");
    if (json_is_array(s)) {
        for (size_t i = 0; i < json_array_size(s); i++)
            if (allows_null(doc, json_array_get(s, i), depth + 1))
                return true;
        return false;
    }
    if (!json_is_object(s))
        return false;
    const char *ref = json_string_value(json_object_get(s, "$ref"));
    if (ref) {
        json_t *target = (json_t *)doc;
        char *copy = strdup(ref + 2), *save = NULL;
        for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save))
            target = json_object_get(target, t);
        free(copy);
        return allows_null(doc, target, depth + 1);
    }
    json_t *type = json_object_get(s, "type");
    if (json_is_string(type) && strcmp(json_string_value(type), "null") == 0)
        return true;
    for (size_t i = 0; i < json_array_size(type); i++)
        if (strcmp(json_string_value(json_array_get(type, i)), "null") == 0)
            return true;
    if (json_is_null(json_object_get(s, "const")))
        return true;
    json_t *en = json_object_get(s, "enum");
    for (size_t i = 0; i < json_array_size(en); i++)
        if (json_is_null(json_array_get(en, i)))
            return true;
    json_t *props = json_object_get(s, "properties");
    for (void *it = json_object_iter(props); it; it = json_object_iter_next(props, it))
        if (allows_null(doc, json_object_iter_value(it), depth + 1))
            return true;
    static const char *const subs[] = {"items", "oneOf", "anyOf", "allOf", "additionalProperties"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(subs); i++)
        if (allows_null(doc, json_object_get(s, subs[i]), depth + 1))
            return true;
    return false;
}

/* Whether a valid answer of object schema s can be {"<key>": ...} alone,
 * which cq_llm_schema_unwrap() would mistake for a wrapper. */
static bool single_wrapper_answer(const json_t *s, const char *key)
{
    if (!json_object_get(json_object_get(s, "properties"), key))
        return false;
    json_t *req = json_object_get(s, "required");
    for (size_t i = 0; i < json_array_size(req); i++)
        if (strcmp(json_string_value(json_array_get(req, i)), key) != 0)
            return false; /* another member is always there */
    return true;
}

/* Every result schema of the contract converts in both modes, and the two
 * assumptions the reply side makes hold: no result schema allows null (so
 * dropping nulls only removes left-out optional properties), and no valid
 * object result is a lone wrapper-named member (so unwrapping is unambiguous). */
static void test_llm_schema_contract_results(void **state)
{
    size_t len = 0;
    const char *text = cq_embedded_get("schemas/openapi.json", &len);
    assert_non_null(text);
    json_t *doc = json_loadb(text, len, 0, NULL);
    assert_non_null(doc);
    size_t count = 0;
    json_t *paths = json_object_get(doc, "paths");
    for (void *pit = json_object_iter(paths); pit; pit = json_object_iter_next(paths, pit)) {
        json_t *item = json_object_iter_value(pit);
        for (void *mit = json_object_iter(item); mit; mit = json_object_iter_next(item, mit)) {
            json_t *op = json_object_iter_value(mit);
            const char *ptr = json_string_value(json_object_get(op, "x-coachq-result-schema"));
            if (!ptr)
                continue;
            json_t *ref = json_pack("{s:s}", "$ref", ptr);
            char err[256];
            for (int shape = CQ_LLM_SHAPE_PLAIN; shape <= CQ_LLM_SHAPE_GRAMMAR; shape++) {
                json_t *s =
                    cq_llm_schema_convert(ref, doc, (cq_llm_shape_t)shape, err, sizeof(err));
                if (!s)
                    fail_msg("%s (shape %d): %s", ptr, shape, err);
                assert_string_equal(json_string_value(json_object_get(s, "type")), "object");
                assert_false(has_key_anywhere(s, "$ref"));
                if (shape == CQ_LLM_SHAPE_STRICT)
                    assert_strict_objects(s);
                if (shape == CQ_LLM_SHAPE_GRAMMAR)
                    assert_grammar_friendly(s);
                json_decref(s);
            }
            if (allows_null(doc, ref, 0))
                fail_msg("%s allows null: cq_llm_parse_reply would drop it", ptr);
            if (!cq_llm_schema_wrapped(ref, doc)) {
                json_t *target =
                    json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
                                    strrchr(ptr, '/') + 1);
                assert_false(single_wrapper_answer(target, CQ_LLM_SCHEMA_WRAP_ARRAY));
                assert_false(single_wrapper_answer(target, CQ_LLM_SCHEMA_WRAP_OTHER));
            }
            json_decref(ref);
            count++;
        }
    }
    assert_true(count >= 10);
    json_decref(doc);
}

static void test_llm_schema_drop_nulls(void **state)
{
    json_t *v = parse("{\"a\":null,\"b\":{\"c\":null,\"d\":1},\"e\":[null,{\"f\":null,\"g\":[]}]}");
    cq_llm_schema_drop_nulls(v);
    assert_json_eq(v, "{\"b\":{\"d\":1},\"e\":[null,{\"g\":[]}]}");
    json_decref(v);
}

static void test_llm_schema_unwrap(void **state)
{
    json_t *v = parse("{\"items\":[1,2]}");
    json_t *u = cq_llm_schema_unwrap(v);
    assert_json_eq(u, "[1,2]");
    json_decref(u);
    json_decref(v);

    v = parse("{\"result\":{\"analysisType\":\"swot\"}}");
    u = cq_llm_schema_unwrap(v);
    assert_json_eq(u, "{\"analysisType\":\"swot\"}");
    json_decref(u);
    json_decref(v);

    v = parse("{\"items\":[1],\"other\":2}");
    u = cq_llm_schema_unwrap(v);
    assert_ptr_equal(u, v);
    json_decref(u);
    json_decref(v);

    v = parse("[1]");
    u = cq_llm_schema_unwrap(v);
    assert_ptr_equal(u, v);
    json_decref(u);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llm_schema_strict_object),
        cmocka_unit_test(test_llm_schema_plain_keeps_constraints),
        cmocka_unit_test(test_llm_schema_grammar_drops_heavy_keywords),
        cmocka_unit_test(test_llm_schema_wraps_non_object_roots),
        cmocka_unit_test(test_llm_schema_errors),
        cmocka_unit_test(test_llm_schema_contract_results),
        cmocka_unit_test(test_llm_schema_drop_nulls),
        cmocka_unit_test(test_llm_schema_unwrap),
    };
    return cmocka_run_group_tests_name("llm_schema", tests, NULL, NULL);
}
