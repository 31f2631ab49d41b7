/*
 * test_cq_schema.c — the JSON Schema validator: every keyword valid and
 * invalid, error paths and messages, $ref (recursive schemas, cycles),
 * depth guards, formats, compile errors, the LLM strict copy, and several
 * threads validating with one compiled schema.
 *
 * Schemas are written with ' for " to keep them readable (see J()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cq_common.h"
#include "cq_schema.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses JSON written with ' instead of " (any value, not only objects). */
static json_t *J(const char *text)
{
    char *copy = cq_strdup(text);
    for (char *p = copy; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t error;
    json_t *json = json_loads(copy, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    if (!json)
        fail_msg("bad test JSON %s: %s", copy, error.text);
    free(copy);
    return json;
}

/* Compiles a whole document as the schema; the schema keeps the document. */
static cq_schema_t *compile_at(const char *doc, const char *pointer)
{
    json_t *root = J(doc);
    char errstr[256] = "";
    cq_schema_t *schema = cq_schema_new(root, pointer, errstr, sizeof(errstr));
    if (!schema)
        fail_msg("compile failed: %s", errstr);
    json_decref(root);
    return schema;
}

static cq_schema_t *compile(const char *doc)
{
    return compile_at(doc, "");
}

/* Expects compiling to fail with an errstr that contains `want`. */
static void expect_compile_error(const char *doc, const char *want)
{
    json_t *root = J(doc);
    char errstr[256] = "";
    cq_schema_t *schema = cq_schema_new(root, "", errstr, sizeof(errstr));
    if (schema)
        fail_msg("compiled, expected an error with \"%s\": %s", want, doc);
    if (!strstr(errstr, want))
        fail_msg("error \"%s\" lacks \"%s\"", errstr, want);
    json_decref(root);
}

static void expect_valid(const cq_schema_t *schema, const char *instance)
{
    json_t *value = J(instance);
    cq_schema_errors_t errors = {0};
    bool ok = cq_schema_validate(schema, value, &errors);
    if (!ok)
        fail_msg("%s: unexpected error at \"%s\": %s", instance,
                 errors.count ? errors.items[0].path : "?",
                 errors.count ? errors.items[0].message : "?");
    assert_int_equal(errors.count, 0);
    assert_true(cq_schema_validate(schema, value, NULL));
    cq_schema_errors_clear(&errors);
    json_decref(value);
}

/* Expects exactly n errors, in order: path, message, path, message, ... */
static void expect_errors(const cq_schema_t *schema, const char *instance, size_t n, ...)
{
    json_t *value = J(instance);
    cq_schema_errors_t errors = {0};
    assert_false(cq_schema_validate(schema, value, &errors));
    assert_false(cq_schema_validate(schema, value, NULL));
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *path = va_arg(ap, const char *);
        const char *message = va_arg(ap, const char *);
        if (i >= errors.count)
            fail_msg("%s: only %zu errors, wanted %s %s", instance, errors.count, path, message);
        if (strcmp(errors.items[i].path, path) || strcmp(errors.items[i].message, message))
            fail_msg("%s: error %zu is \"%s\" \"%s\", wanted \"%s\" \"%s\"", instance, i,
                     errors.items[i].path, errors.items[i].message, path, message);
    }
    va_end(ap);
    if (errors.count != n)
        fail_msg("%s: %zu errors, wanted %zu; extra: \"%s\" \"%s\"", instance, errors.count, n,
                 errors.items[n].path, errors.items[n].message);
    cq_schema_errors_clear(&errors);
    json_decref(value);
}

#define expect_error(schema, instance, path, message)                                              \
    expect_errors(schema, instance, 1, path, message)

static void test_schema_type(void **state)
{
    cq_schema_t *s = compile("{'type':'string'}");
    expect_valid(s, "'x'");
    expect_valid(s, "''");
    expect_error(s, "1", "", "must be a string");
    expect_error(s, "null", "", "must be a string");
    cq_schema_destroy(s);

    s = compile("{'type':'integer'}");
    expect_valid(s, "3");
    expect_valid(s, "-7");
    expect_valid(s, "2.0"); /* a real with a zero fraction is an integer */
    expect_error(s, "2.5", "", "must be an integer");
    expect_error(s, "'3'", "", "must be an integer");
    cq_schema_destroy(s);

    s = compile("{'type':'number'}");
    expect_valid(s, "3");
    expect_valid(s, "2.5");
    expect_error(s, "true", "", "must be a number");
    cq_schema_destroy(s);

    s = compile("{'type':'object'}");
    expect_valid(s, "{}");
    expect_error(s, "[]", "", "must be an object");
    cq_schema_destroy(s);

    s = compile("{'type':'array'}");
    expect_valid(s, "[]");
    expect_error(s, "{}", "", "must be an array");
    cq_schema_destroy(s);

    s = compile("{'type':'boolean'}");
    expect_valid(s, "false");
    expect_error(s, "0", "", "must be a boolean");
    cq_schema_destroy(s);

    s = compile("{'type':'null'}");
    expect_valid(s, "null");
    expect_error(s, "false", "", "must be null");
    cq_schema_destroy(s);

    s = compile("{'type':['string','null']}");
    expect_valid(s, "null");
    expect_valid(s, "'a'");
    expect_error(s, "1", "", "must be a string or null");
    cq_schema_destroy(s);

    s = compile("{'type':['integer','boolean','array']}");
    expect_error(s, "1.5", "", "must be an array, an integer or a boolean");
    cq_schema_destroy(s);

    /* no type: anything goes */
    s = compile("{}");
    expect_valid(s, "1");
    expect_valid(s, "{'a':[null]}");
    cq_schema_destroy(s);

    expect_compile_error("{'type':'float'}", "#/type: must be a type name");
    expect_compile_error("{'type':[]}", "#/type");
    expect_compile_error("{'type':['string','string']}", "#/type");
    expect_compile_error("{'type':3}", "#/type");
}

static void test_schema_properties_required(void **state)
{
    cq_schema_t *s =
        compile("{'type':'object','required':['goalIntent','businessFoundation'],"
                "'properties':{'goalIntent':{'type':'string'},"
                "'businessFoundation':{'type':'object','required':['vision','purpose'],"
                "'properties':{'vision':{'type':'string'},'purpose':{'type':'string'}}}}}");
    expect_valid(s, "{'goalIntent':'g','businessFoundation':{'vision':'v','purpose':'p'}}");
    expect_valid(s, "{'goalIntent':'g','businessFoundation':{'vision':'v','purpose':'p'},'x':1}");
    expect_error(s, "{'goalIntent':'g','businessFoundation':{'purpose':'p'}}",
                 "/businessFoundation", "missing required property \"vision\"");
    expect_errors(s, "{}", 2, "", "missing required property \"goalIntent\"", "",
                  "missing required property \"businessFoundation\"");
    expect_errors(s, "{'goalIntent':5,'businessFoundation':{'vision':[],'purpose':'p'}}", 2,
                  "/goalIntent", "must be a string", "/businessFoundation/vision",
                  "must be a string");
    expect_error(s, "[]", "", "must be an object");
    cq_schema_destroy(s);

    /* properties and required without type: only objects are concerned */
    s = compile("{'required':['a'],'properties':{'a':{'type':'integer'}}}");
    expect_valid(s, "'not an object'");
    expect_error(s, "{'a':'1'}", "/a", "must be an integer");
    cq_schema_destroy(s);

    expect_compile_error("{'required':'a'}", "#/required: must be an array of distinct strings");
    expect_compile_error("{'required':['a','a']}", "#/required");
    expect_compile_error("{'required':[1]}", "#/required");
    expect_compile_error("{'properties':[]}", "#/properties: must be an object of schemas");
    expect_compile_error("{'properties':{'a':3}}",
                         "#/properties/a: a schema must be an object or a boolean");
}

static void test_schema_additional_properties(void **state)
{
    cq_schema_t *s =
        compile("{'type':'object','properties':{'a':{}},'additionalProperties':false}");
    expect_valid(s, "{'a':1}");
    expect_valid(s, "{}");
    expect_errors(s, "{'a':1,'foo':2,'bar':3}", 2, "/foo", "unknown property \"foo\"", "/bar",
                  "unknown property \"bar\"");
    cq_schema_destroy(s);

    s = compile(
        "{'additionalProperties':{'type':'integer'},'properties':{'name':{'type':'string'}}}");
    expect_valid(s, "{'name':'n','x':1,'y':2}");
    expect_error(s, "{'name':'n','x':'1'}", "/x", "must be an integer");
    expect_error(s, "{'name':1}", "/name", "must be a string");
    cq_schema_destroy(s);

    s = compile("{'additionalProperties':true}");
    expect_valid(s, "{'anything':[1,2]}");
    cq_schema_destroy(s);

    /* a very long unknown name is cut in the message, never in the path */
    s = compile("{'additionalProperties':false}");
    char name[201];
    memset(name, 'n', 200);
    name[200] = '\0';
    char instance[300], path[210], message[100];
    snprintf(instance, sizeof(instance), "{'%s':1}", name);
    snprintf(path, sizeof(path), "/%s", name);
    snprintf(message, sizeof(message), "unknown property \"%.64s...\"", name);
    expect_error(s, instance, path, message);
    cq_schema_destroy(s);

    expect_compile_error("{'additionalProperties':'no'}",
                         "#/additionalProperties: must be a schema");
}

static void test_schema_error_paths_escaped(void **state)
{
    cq_schema_t *s = compile("{'properties':{'a/b':{'type':'string'},'m~n':{'type':'string'},"
                             "'strategies':{'type':'array','items':{'type':'string'}}},"
                             "'additionalProperties':false}");
    expect_errors(s, "{'a/b':1,'m~n':2,'strategies':['x','y',3],'~/':0}", 4, "/a~1b",
                  "must be a string", "/m~0n", "must be a string", "/strategies/2",
                  "must be a string", "/~0~1", "unknown property \"~/\"");
    cq_schema_destroy(s);

    /* keys are matched with their NUL bytes (the parser refuses them, code
     * can make them); the path shows NUL as U+FFFD */
    s = compile("{'additionalProperties':false,'properties':{'a':{}}}");
    json_t *value = json_object();
    json_object_setn_new(value, "a\0b", 3, json_integer(1));
    json_object_set_new(value, "a", json_integer(1));
    cq_schema_errors_t errors = {0};
    assert_false(cq_schema_validate(s, value, &errors));
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.items[0].path, "/a\xEF\xBF\xBD"
                                              "b");
    assert_string_equal(errors.items[0].message, "unknown property \"a\xEF\xBF\xBD"
                                                 "b\"");
    cq_schema_errors_clear(&errors);
    json_decref(value);
    cq_schema_destroy(s);
}

static void test_schema_items(void **state)
{
    cq_schema_t *s = compile("{'type':'array','items':{'type':'integer','minimum':0},"
                             "'minItems':1,'maxItems':3}");
    expect_valid(s, "[0]");
    expect_valid(s, "[1,2,3]");
    expect_error(s, "[]", "", "must have at least 1 item");
    expect_error(s, "[1,2,3,4]", "", "must have at most 3 items");
    expect_errors(s, "[1,-1,'x']", 2, "/1", "must be >= 0", "/2", "must be an integer");
    cq_schema_destroy(s);

    s = compile("{'minItems':2,'maxItems':1}");
    expect_error(s, "[1]", "", "must have at least 2 items");
    expect_error(s, "[1,2]", "", "must have at most 1 item");
    expect_valid(s, "'not an array'");
    cq_schema_destroy(s);

    s = compile("{'items':false}");
    expect_valid(s, "[]");
    expect_error(s, "[1]", "/0", "is not allowed");
    cq_schema_destroy(s);

    expect_compile_error("{'items':[{'type':'string'}]}", "#/items: must be a schema");
    expect_compile_error("{'minItems':-1}", "#/minItems: must be a non-negative integer");
    expect_compile_error("{'maxItems':1.5}", "#/maxItems: must be a non-negative integer");
}

static void test_schema_unique_items(void **state)
{
    cq_schema_t *s = compile("{'uniqueItems':true}");
    expect_valid(s, "[]");
    expect_valid(s, "[1,'1',true,null,[1],{'a':1},1.5]");
    expect_valid(s, "[{'a':1,'b':2},{'a':1,'b':3}]");
    expect_valid(s, "[0,false]");
    expect_error(s, "['a','b','a']", "",
                 "must not contain duplicate items (items 0 and 2 are equal)");
    expect_error(s, "[1,1.0]", "", "must not contain duplicate items (items 0 and 1 are equal)");
    expect_error(s, "[{'a':1,'b':[2]},{'b':[2.0],'a':1}]", "",
                 "must not contain duplicate items (items 0 and 1 are equal)");
    expect_error(s, "[5,4,3,4,5]", "",
                 "must not contain duplicate items (items 1 and 3 are equal)");
    cq_schema_destroy(s);

    s = compile("{'uniqueItems':false}");
    expect_valid(s, "[1,1]");
    cq_schema_destroy(s);

    /* many items: sorted by hash, not compared pairwise */
    s = compile("{'uniqueItems':true}");
    json_t *big = json_array();
    for (int i = 0; i < 50000; i++)
        json_array_append_new(big, json_integer(i));
    assert_true(cq_schema_validate(s, big, NULL));
    json_array_append_new(big, json_real(49999.0));
    cq_schema_errors_t errors = {0};
    assert_false(cq_schema_validate(s, big, &errors));
    assert_string_equal(errors.items[0].message,
                        "must not contain duplicate items (items 49999 and 50000 are equal)");
    cq_schema_errors_clear(&errors);
    json_decref(big);
    cq_schema_destroy(s);

    expect_compile_error("{'uniqueItems':1}", "#/uniqueItems: must be a boolean");
}

static void test_schema_enum_const(void **state)
{
    cq_schema_t *s = compile("{'enum':['low','medium','high']}");
    expect_valid(s, "'medium'");
    expect_error(s, "'urgent'", "", "must be one of: low, medium, high");
    expect_error(s, "1", "", "must be one of: low, medium, high");
    cq_schema_destroy(s);

    s = compile("{'enum':[1,'two',null,{'a':[1]}]}");
    expect_valid(s, "1.0");
    expect_valid(s, "null");
    expect_valid(s, "{'a':[1.0]}");
    expect_error(s, "2", "", "must be one of: 1, two, null, {\"a\":[1]}");
    expect_error(s, "{'a':[1],'b':1}", "", "must be one of: 1, two, null, {\"a\":[1]}");
    cq_schema_destroy(s);

    s = compile("{'const':'v1'}");
    expect_valid(s, "'v1'");
    expect_error(s, "'v2'", "", "must be equal to \"v1\"");
    cq_schema_destroy(s);

    s = compile("{'const':0}");
    expect_valid(s, "0");
    expect_valid(s, "-0.0");
    expect_error(s, "false", "", "must be equal to 0");
    cq_schema_destroy(s);

    expect_compile_error("{'enum':[]}", "#/enum: must be a non-empty array");
    expect_compile_error("{'enum':'low'}", "#/enum");
}

static void test_schema_numbers(void **state)
{
    cq_schema_t *s = compile("{'minimum':0,'maximum':100}");
    expect_valid(s, "0");
    expect_valid(s, "100");
    expect_valid(s, "50.5");
    expect_error(s, "-1", "", "must be >= 0");
    expect_error(s, "-0.001", "", "must be >= 0");
    expect_error(s, "100.5", "", "must be <= 100");
    expect_valid(s, "'strings are not numbers'");
    cq_schema_destroy(s);

    s = compile("{'exclusiveMinimum':0,'exclusiveMaximum':1}");
    expect_valid(s, "0.5");
    expect_error(s, "0", "", "must be > 0");
    expect_error(s, "1", "", "must be < 1");
    expect_error(s, "1.0", "", "must be < 1");
    cq_schema_destroy(s);

    s = compile("{'minimum':0.1,'maximum':2.5}");
    expect_error(s, "0", "", "must be >= 0.1");
    expect_error(s, "3", "", "must be <= 2.5");
    expect_valid(s, "2");
    cq_schema_destroy(s);

    /* integers above 2^53 are compared exactly, not through doubles */
    s = compile("{'maximum':9007199254740992}");
    expect_valid(s, "9007199254740992");
    expect_error(s, "9007199254740993", "", "must be <= 9007199254740992");
    expect_valid(s, "9007199254740992.0");
    expect_error(s, "9.3e18", "", "must be <= 9007199254740992");
    cq_schema_destroy(s);
    s = compile("{'minimum':9007199254740993.0}"); /* the double is 2^53 */
    expect_valid(s, "9007199254740992");
    expect_error(s, "9007199254740991", "", "must be >= 9007199254740992");
    cq_schema_destroy(s);

    expect_compile_error("{'minimum':'0'}", "#/minimum: must be a number");
    expect_compile_error("{'exclusiveMinimum':true}", "not booleans");
}

static void test_schema_string_length_utf8(void **state)
{
    cq_schema_t *s = compile("{'type':'string','minLength':2,'maxLength':5}");
    expect_valid(s, "'ab'");
    expect_valid(s, "'h\xC3\xA9llo'");                         /* 5 characters, 6 bytes */
    expect_valid(s, "'\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E'"); /* 3 characters, 9 bytes */
    expect_valid(s, "'\xF0\x9F\x98\x80\xF0\x9F\x98\x80'");     /* 2 emoji, 8 bytes */
    expect_valid(s, "'\\ud83d\\ude00x'");                      /* escaped surrogate pair: 2 */
    expect_error(s, "'a'", "", "must be at least 2 characters long");
    expect_error(s, "'\xF0\x9F\x98\x80'", "", "must be at least 2 characters long");
    expect_error(s, "'abcdef'", "", "must be at most 5 characters long");
    expect_error(s, "'\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9'", "",
                 "must be at most 5 characters long");
    cq_schema_destroy(s);

    s = compile("{'minLength':1,'maxLength':1}");
    expect_error(s, "''", "", "must not be empty");
    expect_error(s, "'ab'", "", "must be at most 1 character long");
    expect_valid(s, "'\xE2\x82\xAC'");
    cq_schema_destroy(s);

    s = compile("{'properties':{'goalIntent':{'type':'string','maxLength':500}}}");
    char long_text[520];
    memset(long_text, 'g', 501);
    long_text[501] = '\0';
    char instance[560];
    snprintf(instance, sizeof(instance), "{'goalIntent':'%s'}", long_text);
    expect_error(s, instance, "/goalIntent", "must be at most 500 characters long");
    cq_schema_destroy(s);

    expect_compile_error("{'minLength':-2}", "#/minLength: must be a non-negative integer");
}

static void test_schema_object_size(void **state)
{
    cq_schema_t *s = compile("{'minProperties':1,'maxProperties':2}");
    expect_valid(s, "{'a':1}");
    expect_valid(s, "{'a':1,'b':2}");
    expect_error(s, "{}", "", "must have at least 1 property");
    expect_error(s, "{'a':1,'b':2,'c':3}", "", "must have at most 2 properties");
    cq_schema_destroy(s);
}

static void test_schema_pattern(void **state)
{
    cq_schema_t *s = compile("{'pattern':'^\\\\d{3}-\\\\d{4}$'}");
    expect_valid(s, "'555-1234'");
    expect_error(s, "'555-12345'", "", "must match the pattern ^\\d{3}-\\d{4}$");
    expect_error(s, "'5a5-1234'", "", "must match the pattern ^\\d{3}-\\d{4}$");
    expect_error(s, "'555-1234\\n'", "", "must match the pattern ^\\d{3}-\\d{4}$");
    expect_valid(s, "12"); /* only strings */
    cq_schema_destroy(s);

    /* not anchored unless the pattern says so */
    s = compile("{'pattern':'b+'}");
    expect_valid(s, "'abbbc'");
    expect_error(s, "'ac'", "", "must match the pattern b+");
    cq_schema_destroy(s);

    s = compile("{'pattern':'^[\\\\w.+-]+@[\\\\w-]+(?:\\\\.[\\\\w-]+)*$'}");
    expect_valid(s, "'first.last+tag@mail.example-1.com'");
    expect_error(s, "'first last@example.com'", "",
                 "must match the pattern ^[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)*$");
    cq_schema_destroy(s);

    /* a NUL byte does not end the subject */
    s = compile("{'pattern':'^[a-z]*$'}");
    expect_error(s, "'abc\\u0000def'", "", "must match the pattern ^[a-z]*$");
    cq_schema_destroy(s);

    /* the whole of ECMA's syntax: lookaround, \p{..}, code points */
    s = compile("{'pattern':'^(?=.*\\\\d)\\\\p{L}+\\\\d$'}");
    expect_valid(s, "'Stra\u00dfe1'");
    expect_error(s, "'Strasse'", "", "must match the pattern ^(?=.*\\d)\\p{L}+\\d$");
    cq_schema_destroy(s);

    expect_compile_error("{'pattern':'(a'}", "#/pattern: invalid pattern at offset 2");
    expect_compile_error("{'pattern':5}", "#/pattern: must be a string");
}

static void test_schema_formats(void **state)
{
    cq_schema_t *s = compile("{'properties':{'d':{'format':'date'},'t':{'format':'date-time'},"
                             "'u':{'format':'uri'},'e':{'format':'email'},'i':{'format':'uuid'}}}");
    expect_valid(s, "{'d':'2024-02-29','t':'2024-02-29T23:59:59.123+01:00',"
                    "'u':'https://example.com/a?b=c#d','e':'ana@example.org',"
                    "'i':'0190b8e4-7c1a-7d3e-9f00-1234567890ab'}");
    expect_error(s, "{'d':'2024-02-30'}", "/d", "must be a valid date (YYYY-MM-DD)");
    expect_error(s, "{'d':'2023-02-29'}", "/d", "must be a valid date (YYYY-MM-DD)");
    expect_error(s, "{'d':'2024-2-3'}", "/d", "must be a valid date (YYYY-MM-DD)");
    expect_error(s, "{'t':'2024-02-29 10:00:00Z'}", "/t",
                 "must be a valid date-time (RFC 3339, e.g. 2024-01-31T09:30:00Z)");
    expect_error(s, "{'t':'2024-02-29T10:00:00'}", "/t",
                 "must be a valid date-time (RFC 3339, e.g. 2024-01-31T09:30:00Z)");
    expect_error(s, "{'u':'example.com/page'}", "/u",
                 "must be a valid absolute URI (e.g. https://example.com/page)");
    expect_error(s, "{'u':'https://exa mple.com'}", "/u",
                 "must be a valid absolute URI (e.g. https://example.com/page)");
    expect_error(s, "{'e':'ana.example.org'}", "/e", "must be a valid email address");
    expect_error(s, "{'i':'0190b8e4-7c1a-7d3e-9f00-1234567890a'}", "/i", "must be a valid UUID");
    expect_valid(s, "{'d':20240229,'i':null}"); /* formats only judge strings */
    cq_schema_destroy(s);

    expect_compile_error("{'format':'hostname'}", "#/format: unsupported format");
}

/* A recursive tree: nodes with children that are nodes. */
static const char *tree_doc =
    "{'components':{'schemas':{'Node':{'type':'object','required':['name'],"
    "'additionalProperties':false,'properties':{'name':{'type':'string','minLength':1},"
    "'children':{'type':'array','items':{'$ref':'#/components/schemas/Node'}}}}}}}";

static void test_schema_ref_recursive_tree(void **state)
{
    cq_schema_t *s = compile_at(tree_doc, "/components/schemas/Node");
    expect_valid(s, "{'name':'root'}");
    expect_valid(s, "{'name':'root','children':[{'name':'a','children':[{'name':'a1'}]},"
                    "{'name':'b','children':[]}]}");
    expect_errors(s, "{'name':'root','children':[{'name':'a','children':[{'name':''},{'x':1}]}]}",
                  3, "/children/0/children/0/name", "must not be empty", "/children/0/children/1",
                  "missing required property \"name\"", "/children/0/children/1/x",
                  "unknown property \"x\"");
    cq_schema_destroy(s);
}

/* Builds {'name':'n','children':[ ... levels deep ... ]}. */
static json_t *deep_tree(int levels)
{
    json_t *node = json_pack("{s:s}", "name", "leaf");
    for (int i = 0; i < levels; i++)
        node = json_pack("{s:s, s:[o]}", "name", "n", "children", node);
    return node;
}

static void test_schema_depth_guard(void **state)
{
    cq_schema_t *s = compile_at(tree_doc, "/components/schemas/Node");
    /* 31 levels of node+array: the leaf sits 62 containers deep */
    json_t *ok = deep_tree(31);
    assert_true(cq_schema_validate(s, ok, NULL));
    json_decref(ok);

    json_t *deep = deep_tree(40);
    cq_schema_errors_t errors = {0};
    assert_false(cq_schema_validate(s, deep, &errors));
    assert_false(cq_schema_validate(s, deep, NULL));
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.items[0].message, "nesting too deep");
    /* reported at the container 64 levels down: /children/0 repeated 32 times */
    char path[400] = "";
    for (int i = 0; i < 32; i++)
        strcat(path, "/children/0");
    assert_string_equal(errors.items[0].path, path);
    cq_schema_errors_clear(&errors);
    json_decref(deep);
    cq_schema_destroy(s);

    /* hostile nesting far past the limit: a clean error, no stack overflow */
    s = compile("{'$defs':{'any':{'anyOf':[{'type':'array','items':{'$ref':'#/$defs/any'}},"
                "{'type':'null'}]}},'$ref':'#/$defs/any'}");
    json_t *value = json_null();
    for (int i = 0; i < 5000; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, value);
        value = outer;
    }
    assert_false(cq_schema_validate(s, value, NULL));
    assert_false(cq_schema_validate(s, value, &errors));
    assert_true(errors.count >= 1);
    assert_string_equal(errors.items[0].message, "nesting too deep");
    cq_schema_errors_clear(&errors);
    json_decref(value);
    cq_schema_destroy(s);
}

static void test_schema_step_budget(void **state)
{
    /* both branches take arrays and recurse: 2^depth branch tries without a budget */
    cq_schema_t *s =
        compile("{'$defs':{'n':{'anyOf':[{'type':'array','items':{'$ref':'#/$defs/n'}},"
                "{'type':'array','maxItems':1,'items':{'$ref':'#/$defs/n'}}]}},"
                "'$ref':'#/$defs/n'}");
    json_t *value = json_string("leaf");
    for (int i = 0; i < 60; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, value);
        value = outer;
    }
    /* Without the budget this would take 2^60 tries and never end (ctest's
     * per-test timeout fails it); with it, one error at the root. */
    assert_false(cq_schema_validate(s, value, NULL));
    cq_schema_errors_t errors = {0};
    assert_false(cq_schema_validate(s, value, &errors));
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.items[0].path, "");
    assert_string_equal(errors.items[0].message, "is too complex to validate");
    cq_schema_errors_clear(&errors);
    json_decref(value);

    /* shallow values of the same schema are fine */
    expect_valid(s, "[[[]],[]]");
    expect_error(s, "[[1]]", "", "must match at least one of the allowed alternatives");
    cq_schema_destroy(s);
}

static void test_schema_ref_resolution(void **state)
{
    cq_schema_t *s = compile_at("{'components':{'schemas':{"
                                "'Priority':{'enum':['low','medium','high','critical']},"
                                "'a/b~c':{'type':'integer'},'with space':{'type':'boolean'},"
                                "'Req':{'properties':{'p':{'$ref':'#/components/schemas/Priority'},"
                                "'q':{'$ref':'#/components/schemas/a~1b~0c'},"
                                "'r':{'$ref':'#/components/schemas/with%20space'},"
                                "'s':{'$ref':'#/components/schemas/Req/properties/p',"
                                "'description':'same as p'}}}}}}",
                                "/components/schemas/Req");
    expect_valid(s, "{'p':'low','q':1,'r':true,'s':'critical'}");
    expect_errors(s, "{'p':'urgent','q':'1','r':0,'s':'x'}", 4, "/p",
                  "must be one of: low, medium, high, critical", "/q", "must be an integer", "/r",
                  "must be a boolean", "/s", "must be one of: low, medium, high, critical");
    cq_schema_destroy(s);

    /* a $ref with sibling keywords: both apply */
    s = compile("{'$defs':{'s':{'type':'string'}},'$ref':'#/$defs/s','maxLength':2}");
    expect_valid(s, "'ab'");
    expect_error(s, "'abc'", "", "must be at most 2 characters long");
    expect_error(s, "3", "", "must be a string");
    cq_schema_destroy(s);

    /* the whole document */
    s = compile("{'properties':{'self':{'$ref':'#'}},'type':'object'}");
    expect_valid(s, "{'self':{'self':{}}}");
    expect_error(s, "{'self':{'self':1}}", "/self/self", "must be an object");
    cq_schema_destroy(s);

    expect_compile_error("{'$ref':'#/components/schemas/Missing'}",
                         "$ref \"#/components/schemas/Missing\" points to nothing");
    expect_compile_error("{'$ref':'other.json#/a'}", "only local references");
    expect_compile_error("{'$ref':'#anchor'}", "not anchors");
    expect_compile_error("{'$ref':'#/a%2'}", "bad percent-encoding");
    expect_compile_error("{'$ref':3}", "#/$ref: must be a string");
    expect_compile_error("{'$defs':{'x':{'foo':1}},'$ref':'#/$defs/x'}",
                         "#/$defs/x: unsupported keyword \"foo\"");
    /* cycles that never move into the instance would never end */
    expect_compile_error("{'$defs':{'a':{'$ref':'#/$defs/b'},'b':{'allOf':[{'$ref':'#/$defs/a'}]}},"
                         "'$ref':'#/$defs/a'}",
                         "infinite recursion");
    expect_compile_error("{'anyOf':[{'type':'null'},{'$ref':'#'}]}", "infinite recursion");
}

static void test_schema_all_any_one_not(void **state)
{
    cq_schema_t *s = compile("{'allOf':[{'type':'string'},{'minLength':2},{'maxLength':3}]}");
    expect_valid(s, "'abc'");
    expect_error(s, "'a'", "", "must be at least 2 characters long");
    expect_error(s, "1", "", "must be a string");
    cq_schema_destroy(s);

    /* anyOf: one error, with the types on offer */
    s = compile("{'anyOf':[{'type':'string'},{'type':'integer'}]}");
    expect_valid(s, "'a'");
    expect_valid(s, "1");
    expect_error(s, "1.5", "", "must be a string or an integer");
    expect_error(s, "[]", "", "must be a string or an integer");
    cq_schema_destroy(s);

    /* nullable object (OpenAPI 3.1 style): the object branch explains itself */
    s = compile_at("{'components':{'schemas':{'Ctx':{'type':'object','required':['industry'],"
                   "'properties':{'industry':{'type':'string'}}},"
                   "'Req':{'properties':{'context':{'anyOf':[{'$ref':'#/components/schemas/Ctx'},"
                   "{'type':'null'}]}}}}}}",
                   "/components/schemas/Req");
    expect_valid(s, "{'context':null}");
    expect_valid(s, "{'context':{'industry':'retail'}}");
    expect_error(s, "{'context':5}", "/context", "must be an object or null");
    expect_error(s, "{'context':{}}", "/context", "missing required property \"industry\"");
    expect_error(s, "{'context':{'industry':7}}", "/context/industry", "must be a string");
    cq_schema_destroy(s);

    /* several branches take the type: one generic message, not every branch's errors */
    s = compile("{'anyOf':[{'type':'string','minLength':5},{'type':'string','pattern':'^x'}]}");
    expect_valid(s, "'xy'");
    expect_valid(s, "'abcdef'");
    expect_error(s, "'ab'", "", "must match at least one of the allowed alternatives");
    cq_schema_destroy(s);

    s = compile("{'oneOf':[{'type':'integer'},{'type':'number','minimum':10}]}");
    expect_valid(s, "3");
    expect_valid(s, "10.5");
    expect_error(s, "12", "",
                 "must match exactly one of the allowed alternatives, but matches more than one");
    expect_error(s, "'x'", "", "must be a number");
    expect_error(s, "2.5", "", "must be >= 10");
    cq_schema_destroy(s);

    s = compile("{'oneOf':[{'required':['a']},{'required':['b']}]}");
    expect_valid(s, "{'a':1}");
    expect_error(s, "{}", "", "must match exactly one of the allowed alternatives");
    expect_error(s, "{'a':1,'b':2}", "",
                 "must match exactly one of the allowed alternatives, but matches more than one");
    cq_schema_destroy(s);

    s = compile("{'type':'string','not':{'enum':['admin','root']}}");
    expect_valid(s, "'ana'");
    expect_error(s, "'root'", "", "must not match the excluded schema");
    cq_schema_destroy(s);

    expect_compile_error("{'anyOf':[]}", "#/anyOf: must be a non-empty array of schemas");
    expect_compile_error("{'oneOf':{}}", "#/oneOf");
    expect_compile_error("{'allOf':[{'type':'nope'}]}", "#/allOf/0/type");
    expect_compile_error("{'not':[]}", "#/not: must be a schema");
}

static void test_schema_boolean_schemas(void **state)
{
    cq_schema_t *s = compile("true");
    expect_valid(s, "{'a':1}");
    cq_schema_destroy(s);
    s = compile("false");
    expect_error(s, "1", "", "is not allowed");
    cq_schema_destroy(s);
    s = compile("{'properties':{'legacy':false}}");
    expect_valid(s, "{'other':1}");
    expect_error(s, "{'legacy':1}", "/legacy", "is not allowed");
    cq_schema_destroy(s);
}

static void test_schema_annotations_and_unknown_keywords(void **state)
{
    cq_schema_t *s =
        compile("{'title':'T','description':'D','examples':[1],'example':1,"
                "'default':2,'deprecated':true,'readOnly':false,'writeOnly':false,"
                "'$comment':'c','$schema':'https://json-schema.org/draft/2020-12/schema',"
                "'$id':'x','nullable':true,'x-internal':{'anything':1},"
                "'type':'integer'}");
    expect_valid(s, "1");
    expect_error(s, "null", "", "must be an integer"); /* nullable is only an annotation */
    cq_schema_destroy(s);

    expect_compile_error("{'patternProperties':{}}",
                         "#: unsupported keyword \"patternProperties\"");
    expect_compile_error("{'properties':{'a':{'multipleOf':2}}}",
                         "#/properties/a: unsupported keyword \"multipleOf\"");
    expect_compile_error("{'items':{'prefixItems':[]}}", "#/items: unsupported keyword");
    expect_compile_error("{'type':'string','formats':'date'}", "unsupported keyword \"formats\"");

    /* the pointer itself */
    json_t *root = J("{'a':{}}");
    char errstr[128] = "";
    assert_null(cq_schema_new(root, "/b", errstr, sizeof(errstr)));
    assert_string_equal(errstr, "no schema at \"/b\"");
    json_decref(root);
}

static void test_schema_errors_truncated(void **state)
{
    cq_schema_t *s = compile("{'additionalProperties':false}");
    json_t *value = json_object();
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(value, key, json_integer(i));
    }
    cq_schema_errors_t errors = {0};
    assert_false(cq_schema_validate(s, value, &errors));
    assert_int_equal(errors.count, CQ_SCHEMA_MAX_ERRORS);
    assert_true(errors.truncated);
    assert_string_equal(errors.items[63].path, "/k63");

    json_t *list = cq_schema_errors_to_json(&errors);
    assert_int_equal(json_array_size(list), CQ_SCHEMA_MAX_ERRORS);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "message")),
                        "unknown property \"k1\"");
    json_decref(list);

    cq_schema_errors_clear(&errors);
    assert_int_equal(errors.count, 0);
    assert_null(errors.items);
    assert_false(errors.truncated);

    /* exactly at the limit is not truncated */
    json_object_clear(value);
    for (int i = 0; i < CQ_SCHEMA_MAX_ERRORS; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(value, key, json_integer(i));
    }
    assert_false(cq_schema_validate(s, value, &errors));
    assert_int_equal(errors.count, CQ_SCHEMA_MAX_ERRORS);
    assert_false(errors.truncated);
    cq_schema_errors_clear(&errors);

    /* no instance at all */
    assert_false(cq_schema_validate(s, NULL, &errors));
    assert_string_equal(errors.items[0].message, "no value");
    assert_string_equal(errors.items[0].path, "");
    cq_schema_errors_clear(&errors);
    json_decref(value);
    cq_schema_destroy(s);
}

static void test_schema_json_pointer(void **state)
{
    json_t *root = J("{'a':{'b/c':[10,{'m~n':true}]},'':{'':1},'0':'zero'}");
    assert_ptr_equal(cq_json_pointer_get(root, ""), root);
    assert_int_equal(json_integer_value(cq_json_pointer_get(root, "/a/b~1c/0")), 10);
    assert_true(json_is_true(cq_json_pointer_get(root, "/a/b~1c/1/m~0n")));
    assert_int_equal(json_integer_value(cq_json_pointer_get(root, "//")), 1);
    assert_string_equal(json_string_value(cq_json_pointer_get(root, "/0")), "zero");
    assert_null(cq_json_pointer_get(root, "a"));          /* no leading slash */
    assert_null(cq_json_pointer_get(root, "/a/b~1c/2"));  /* past the end */
    assert_null(cq_json_pointer_get(root, "/a/b~1c/-"));  /* the "new item" index */
    assert_null(cq_json_pointer_get(root, "/a/b~1c/01")); /* leading zero */
    assert_null(cq_json_pointer_get(root, "/a/b~1c/1x"));
    assert_null(cq_json_pointer_get(root, "/a/b~2c")); /* bad escape */
    assert_null(cq_json_pointer_get(root, "/a/b~"));
    assert_null(cq_json_pointer_get(root, "/a/b~1c/0/x")); /* into a number */
    assert_null(cq_json_pointer_get(root, "/a/b~1c/99999999999999999999"));
    assert_null(cq_json_pointer_get(NULL, ""));
    json_decref(root);

    char *p = cq_json_pointer_append("/components", "a/b~c");
    assert_string_equal(p, "/components/a~1b~0c");
    free(p);
    p = cq_json_pointer_append("", "");
    assert_string_equal(p, "/");
    free(p);
}

static void test_schema_strict_copy(void **state)
{
    json_t *root =
        J("{'components':{'schemas':{"
          "'Level':{'type':'string','enum':['low','high'],'title':'Level',"
          "'description':'how much','x-go-type':'Level'},"
          "'Item':{'type':'object','additionalProperties':false,'required':['title','level'],"
          "'properties':{'title':{'type':'string','example':'t','default':'x'},"
          "'level':{'$ref':'#/components/schemas/Level','description':'item level'},"
          "'when':{'$ref':'#/components/schemas/Level','maxLength':4},"
          "'tags':{'type':'array','items':{'$ref':'#/components/schemas/Level'}},"
          "'$ref':{'const':'$ref'}}},"
          "'Tree':{'properties':{'kids':{'items':{'$ref':'#/components/schemas/Tree'}}}}}}}");
    char errstr[256] = "";
    json_t *copy = cq_schema_strict_copy(root, "/components/schemas/Item", errstr, sizeof(errstr));
    if (!copy)
        fail_msg("strict copy failed: %s", errstr);
    json_t *want =
        J("{'type':'object','additionalProperties':false,'required':['title','level'],"
          "'properties':{'title':{'type':'string'},"
          "'level':{'type':'string','enum':['low','high'],'description':'item level'},"
          "'when':{'allOf':[{'type':'string','enum':['low','high'],'description':'how much'},"
          "{'maxLength':4}]},"
          "'tags':{'type':'array','items':{'type':'string','enum':['low','high'],"
          "'description':'how much'}},"
          "'$ref':{'const':'$ref'}}}");
    if (!json_equal(copy, want)) {
        char *text = json_dumps(copy, JSON_SORT_KEYS);
        fail_msg("unexpected copy: %s", text);
    }
    /* the copy is independent of the document */
    json_object_clear(json_object_get(json_object_get(root, "components"), "schemas"));
    assert_true(json_equal(copy, want));
    json_decref(want);
    json_decref(copy);
    json_decref(root);

    root = J("{'components':{'schemas':{"
             "'Tree':{'properties':{'kids':{'items':{'$ref':'#/components/schemas/Tree'}}}},"
             "'Bad':{'properties':{'a':{'minimum':'x'}}}}}}");
    assert_null(cq_schema_strict_copy(root, "/components/schemas/Tree", errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "is recursive and cannot be inlined"));
    assert_null(cq_schema_strict_copy(root, "/components/schemas/Bad", errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "#/components/schemas/Bad/properties/a/minimum"));
    json_decref(root);
}

/* ------------------------------------------------------------ thread-safety */

typedef struct {
    const cq_schema_t *schema;
    json_t *good, *bad;
    int failures;
} worker_arg_t;

static void *worker(void *p)
{
    worker_arg_t *arg = p;
    for (int i = 0; i < 300; i++) {
        cq_schema_errors_t errors = {0};
        if (!cq_schema_validate(arg->schema, arg->good, &errors) || errors.count != 0)
            arg->failures++;
        if (cq_schema_validate(arg->schema, arg->bad, &errors) || errors.count != 3 ||
            strcmp(errors.items[2].path, "/children/1/code") != 0)
            arg->failures++;
        cq_schema_errors_clear(&errors);
        if (cq_schema_validate(arg->schema, arg->bad, NULL))
            arg->failures++;
    }
    return NULL;
}

static void test_schema_threads_share_one_schema(void **state)
{
    cq_schema_t *s =
        compile("{'$defs':{'N':{'type':'object','required':['name'],"
                "'properties':{'name':{'type':'string','maxLength':10},"
                "'code':{'type':'string','pattern':'^[A-Z]{2}\\\\d+$'},"
                "'tags':{'type':'array','uniqueItems':true,'items':{'enum':['a','b','c']}},"
                "'children':{'type':'array','items':{'$ref':'#/$defs/N'}}}}},"
                "'$ref':'#/$defs/N'}");
    json_t *good =
        J("{'name':'root','code':'AB12','tags':['a','b'],"
          "'children':[{'name':'x','code':'CD3'},{'name':'y','children':[{'name':'z'}]}]}");
    json_t *bad = J("{'name':'root-name-too-long','tags':['a','a'],"
                    "'children':[{'name':'x'},{'name':'y','code':'ab'}]}");
    worker_arg_t args[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg_t){s, good, bad, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        failures += args[i].failures;
    }
    assert_int_equal(failures, 0);
    json_decref(good);
    json_decref(bad);
    cq_schema_destroy(s);
}

/* -------------------------------------------------------------- robustness */

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static json_t *random_value(int depth)
{
    static const char *const strings[] = {
        "", "low", "2024-02-29", "x@y.z", "\xC3\xA9t\xC3\xA9", "AB12", "name", "children"};
    switch (rng() % (depth > 6 ? 6 : 8)) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rng() % 2);
    case 2:
        return json_integer((json_int_t)(rng() % 2000) - 1000);
    case 3:
        return json_real(((double)(rng() % 20000) - 10000) / 7.0);
    case 4:
    case 5:
        return json_string(strings[rng() % CQ_ARRAY_SIZE(strings)]);
    case 6: {
        json_t *a = json_array();
        for (uint32_t i = rng() % 5; i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = rng() % 5; i > 0; i--)
            json_object_set_new(o, strings[rng() % CQ_ARRAY_SIZE(strings)],
                                random_value(depth + 1));
        return o;
    }
    }
}

static void test_schema_random_instances_never_crash(void **state)
{
    cq_schema_t *s = compile(
        "{'$defs':{'N':{'type':['object','null'],'minProperties':1,'maxProperties':3,"
        "'additionalProperties':{'anyOf':[{'type':'integer','minimum':-5,'exclusiveMaximum':500},"
        "{'type':'string','format':'date'},{'$ref':'#/$defs/N'}]},"
        "'properties':{'name':{'type':'string','minLength':1,'maxLength':4,'pattern':'^[a-z]+$',"
        "'not':{'const':'root'}},'low':{'enum':['low',1,null]},'children':{'type':'array',"
        "'uniqueItems':true,'maxItems':3,'items':{'oneOf':[{'$ref':'#/$defs/N'},"
        "{'type':'number','maximum':100.5},{'type':'string','format':'email'}]}}}}},"
        "'$ref':'#/$defs/N'}");
    size_t valid = 0;
    for (int i = 0; i < 3000; i++) {
        json_t *value = random_value(0);
        cq_schema_errors_t errors = {0};
        bool ok = cq_schema_validate(s, value, &errors);
        /* both modes agree, and an invalid value always says why */
        assert_int_equal(ok, cq_schema_validate(s, value, NULL));
        assert_int_equal(ok, errors.count == 0);
        valid += ok;
        cq_schema_errors_clear(&errors);
        json_decref(value);
    }
    assert_true(valid > 0);
    cq_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_type),
        cmocka_unit_test(test_schema_properties_required),
        cmocka_unit_test(test_schema_additional_properties),
        cmocka_unit_test(test_schema_error_paths_escaped),
        cmocka_unit_test(test_schema_items),
        cmocka_unit_test(test_schema_unique_items),
        cmocka_unit_test(test_schema_enum_const),
        cmocka_unit_test(test_schema_numbers),
        cmocka_unit_test(test_schema_string_length_utf8),
        cmocka_unit_test(test_schema_object_size),
        cmocka_unit_test(test_schema_pattern),
        cmocka_unit_test(test_schema_formats),
        cmocka_unit_test(test_schema_ref_recursive_tree),
        cmocka_unit_test(test_schema_depth_guard),
        cmocka_unit_test(test_schema_step_budget),
        cmocka_unit_test(test_schema_ref_resolution),
        cmocka_unit_test(test_schema_all_any_one_not),
        cmocka_unit_test(test_schema_boolean_schemas),
        cmocka_unit_test(test_schema_annotations_and_unknown_keywords),
        cmocka_unit_test(test_schema_errors_truncated),
        cmocka_unit_test(test_schema_json_pointer),
        cmocka_unit_test(test_schema_strict_copy),
        cmocka_unit_test(test_schema_threads_share_one_schema),
        cmocka_unit_test(test_schema_random_instances_never_crash),
    };
    return cmocka_run_group_tests_name("cq_schema", tests, NULL, NULL);
}
