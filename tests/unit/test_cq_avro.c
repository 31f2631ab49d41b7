/*
 * test_cq_avro.c — Avro schema generation from OpenAPI fixtures, the Kafka
 * message codec (round trips, errors, hostile bytes, threads) and the
 * committed golden files schemas/avro/job_envelope.avsc and job_result.avsc.
 *
 * COACHQ_UPDATE_GOLDEN=1 rewrites the golden files under COACHQ_SOURCE_DIR.
 * COACHQ_AVRO_DUMP=DIR writes DIR/job_result.avsc and DIR/job_result.bin (one
 * result of the real document) for tests/contract/avro_tools_decode.sh.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_avro.h"
#include "cq_avro_schema.h"
#include "cq_embedded.h"

/* ---- fixtures ------------------------------------------------------------ */

static const char FIXTURE_SCHEMAS[] =
    "{"
    "\"Req\": {\"type\": \"object\", \"additionalProperties\": false, \"description\": \"A req.\","
    "  \"required\": [\"title\", \"level\", \"tags\"], \"properties\": {"
    "  \"title\": {\"type\": \"string\", \"description\": \"Title.\"},"
    "  \"note\": {\"type\": \"string\"},"
    "  \"count\": {\"type\": \"integer\"},"
    "  \"score\": {\"type\": [\"number\", \"null\"]},"
    "  \"done\": {\"type\": \"boolean\"},"
    "  \"level\": {\"type\": \"string\", \"enum\": [\"low\", \"high\"]},"
    "  \"state\": {\"type\": \"string\", \"enum\": [\"in-progress\", \"done\"]},"
    "  \"meta\": {\"type\": \"object\", \"description\": \"Anything.\"},"
    "  \"extra\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}},"
    "             \"additionalProperties\": true},"
    "  \"shape\": {\"oneOf\": [{\"$ref\": \"#/components/schemas/Circle\"},"
    "                        {\"$ref\": \"#/components/schemas/Square\"}]},"
    "  \"either\": {\"oneOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]},"
    "  \"grid\": {\"type\": \"array\", \"items\": {\"type\": \"array\", \"items\": {"
    "     \"type\": \"object\", \"additionalProperties\": false, \"required\": [\"x\"],"
    "     \"properties\": {\"x\": {\"type\": \"integer\"}}}}},"
    "  \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
    "  \"owner\": {\"$ref\": \"#/components/schemas/Person\"},"
    "  \"reviewer\": {\"$ref\": \"#/components/schemas/Person\"},"
    "  \"tree\": {\"$ref\": \"#/components/schemas/Node\"}}},"
    "\"Circle\": {\"type\": \"object\", \"additionalProperties\": false,"
    "  \"required\": [\"kind\", \"r\"],"
    "  \"properties\": {\"kind\": {\"const\": \"circle\"}, \"r\": {\"type\": \"number\"}}},"
    "\"Square\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"side\"],"
    "  \"properties\": {\"side\": {\"type\": \"number\"}}},"
    "\"Person\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"name\"],"
    "  \"properties\": {\"name\": {\"type\": \"string\"}}},"
    "\"Node\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"id\"],"
    "  \"properties\": {\"id\": {\"type\": \"integer\"}, \"children\": {\"type\": \"array\","
    "  \"items\": {\"$ref\": \"#/components/schemas/Node\"}}}},"
    "\"Res\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"ok\"],"
    "  \"properties\": {\"ok\": {\"type\": \"boolean\"}}},"
    "\"People\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/components/schemas/Person\"}}"
    "}";
static const char FIXTURE_OPS[] = "do-thing:Req:Res,also-thing:Req:Res,list-people:-:People";

static const char FULL_PAYLOAD[] =
    "{\"title\": \"T\", \"note\": \"n\", \"count\": 3, \"score\": 1.5, \"done\": true,"
    " \"level\": \"high\", \"state\": \"in-progress\","
    " \"meta\": {\"a\": [1, 2.5, \"x\", null, {\"b\": false}], \"big\": 9007199254740993},"
    " \"extra\": {\"a\": \"y\", \"z\": 1}, \"shape\": {\"side\": 2.5}, \"either\": 7,"
    " \"grid\": [[{\"x\": 1}, {\"x\": 2}], []], \"tags\": [\"a\", \"b\"],"
    " \"owner\": {\"name\": \"Ann \\u00e9\\u4e2d\\ud83d\\ude00\"}, \"reviewer\": {\"name\": "
    "\"Bob\"},"
    " \"tree\": {\"id\": 1, \"children\": [{\"id\": 2}, {\"id\": 3, \"children\": []}]}}";

/* A document with components.schemas and one POST path per "name:Req:Res"
 * entry of ops ("-" for no request). */
static json_t *mini_doc(const char *schemas, const char *ops)
{
    json_error_t jerr;
    json_t *comp = json_loads(schemas, 0, &jerr);
    if (!comp)
        fail_msg("fixture: %s at %d", jerr.text, jerr.position);
    /* Every real document has the job resource's engine, which the result
     * record uses: fixtures take the contract's own unless they bring one. */
    if (!json_object_get(comp, "JobEngine")) {
        size_t len = 0;
        const char *text = cq_embedded_get("schemas/openapi.json", &len);
        json_t *real = text ? json_loadb(text, len, 0, NULL) : NULL;
        json_t *engine = json_object_get(
            json_object_get(json_object_get(real, "components"), "schemas"), "JobEngine");
        assert_non_null(engine);
        json_object_set(comp, "JobEngine", engine);
        json_decref(real);
    }
    json_t *paths = json_object();
    char *list = strdup(ops), *save = NULL;
    for (char *op = strtok_r(list, ",", &save); op; op = strtok_r(NULL, ",", &save)) {
        char name[64], req[64], res[64];
        assert_int_equal(sscanf(op, "%63[^:]:%63[^:]:%63s", name, req, res), 3);
        json_t *o = json_pack("{s:s, s:s}", "x-coachq-operation", name, "x-coachq-kind", "k");
        char *ptr = cq_asprintf("#/components/schemas/%s", res);
        json_object_set_new(o, "x-coachq-result-schema", json_string(ptr));
        free(ptr);
        if (strcmp(req, "-") != 0) {
            ptr = cq_asprintf("#/components/schemas/%s", req);
            json_object_set_new(o, "x-coachq-request-schema", json_string(ptr));
            free(ptr);
        }
        char *path = cq_asprintf("/%s", name);
        json_object_set_new(
            paths, path,
            json_pack("{s:o, s:s}", strcmp(req, "-") ? "post" : "get", o, "summary", "ignored"));
        free(path);
    }
    free(list);
    return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.1.0", "info", "title",
                     "fixture", "version", "1", "paths", paths, "components", "schemas", comp);
}

static cq_avro_t *fixture_avro(void)
{
    char err[512];
    json_t *doc = mini_doc(FIXTURE_SCHEMAS, FIXTURE_OPS);
    cq_avro_t *avro = cq_avro_new(doc, err, sizeof(err));
    json_decref(doc);
    if (!avro)
        fail_msg("cq_avro_new: %s", err);
    return avro;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j)
        fail_msg("bad test JSON: %s", jerr.text);
    return j;
}

static void assert_json_eq(const json_t *got, const json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
        print_error("got  %s\nwant %s\n", g ? g : "NULL", w ? w : "NULL");
        free(g);
        free(w);
        fail();
    }
}

/* The named type definition called name anywhere inside an Avro schema. */
static json_t *find_named(json_t *s, const char *name)
{
    if (json_is_object(s)) {
        const char *n = json_string_value(json_object_get(s, "name"));
        const char *t = json_string_value(json_object_get(s, "type"));
        if (n && t && strcmp(n, name) == 0 && (!strcmp(t, "record") || !strcmp(t, "enum")))
            return s;
    }
    const char *key;
    size_t i;
    json_t *v, *found;
    if (json_is_object(s)) {
        for (void *it = json_object_iter(s);
             it && (key = json_object_iter_key(it)) && (v = json_object_iter_value(it));
             it = json_object_iter_next(s, it))
            if ((found = find_named(v, name)))
                return found;
    } else if (json_is_array(s)) {
        for (i = 0; i < json_array_size(s) && (v = json_array_get(s, i)); i++)
            if ((found = find_named(v, name)))
                return found;
    }
    return NULL;
}

static json_t *field_of(json_t *record, const char *name)
{
    size_t i;
    json_t *f;
    for (i = 0; i < json_array_size(json_object_get(record, "fields")) &&
                (f = json_array_get(json_object_get(record, "fields"), i));
         i++) {
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return f;
    }
    fail_msg("no field %s", name);
    return NULL;
}

static void assert_field_type(json_t *record, const char *field, const char *type_json)
{
    json_t *want = parse(type_json);
    assert_json_eq(json_object_get(field_of(record, field), "type"), want);
    json_decref(want);
}

static cq_job_envelope_t make_env(const char *op, const char *payload)
{
    cq_job_envelope_t env = {
        .job_id = strdup("0190f0e2-7b7c-7cc3-8d2a-3f1e2d3c4b5a"),
        .tenant_id = strdup("tenant-1"),
        .user_id = strdup("user-1"),
        .operation = strdup(op),
        .attempt = 2,
        .created_at = 1767225600123,
        .deadline = 1767225630123,
        .reply_to = strdup("team.replies"),
        .trace_parent = strdup("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        .payload = payload ? parse(payload) : NULL,
    };
    return env;
}

static void assert_str_eq_or_null(const char *got, const char *want)
{
    if (!want)
        assert_null(got);
    else
        assert_string_equal(got, want);
}

static void assert_env_eq(const cq_job_envelope_t *got, const cq_job_envelope_t *want)
{
    assert_string_equal(got->job_id, want->job_id);
    assert_string_equal(got->tenant_id, want->tenant_id);
    assert_string_equal(got->user_id, want->user_id);
    assert_string_equal(got->operation, want->operation);
    assert_int_equal(got->attempt, want->attempt);
    assert_int_equal(got->created_at, want->created_at);
    assert_int_equal(got->deadline, want->deadline);
    assert_str_eq_or_null(got->reply_to, want->reply_to);
    assert_str_eq_or_null(got->trace_parent, want->trace_parent);
    assert_str_eq_or_null(got->batch_id, want->batch_id);
    assert_str_eq_or_null(got->custom_id, want->custom_id);
    assert_str_eq_or_null(got->authorization, want->authorization);
    if (want->payload)
        assert_json_eq(got->payload, want->payload);
    else
        assert_null(got->payload);
}

/* Encodes and decodes env; returns the decoded payload (caller decrefs). */
static json_t *env_round_trip(cq_avro_t *avro, cq_job_envelope_t *env)
{
    char err[512];
    void *buf;
    size_t len;
    cq_job_envelope_t back = {0};
    cq_err_t rc = cq_avro_envelope_encode(avro, env, &buf, &len, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("encode: %s: %s", cq_err_name(rc), err);
    rc = cq_avro_envelope_decode(avro, buf, len, &back, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("decode: %s: %s", cq_err_name(rc), err);
    free(buf);
    json_t *payload = back.payload;
    back.payload = NULL;
    json_t *saved = env->payload;
    env->payload = NULL;
    assert_env_eq(&back, env);
    env->payload = saved;
    cq_job_envelope_clear(&back);
    return payload;
}

/* ---- mapping ------------------------------------------------------------- */

static void test_avro_mapping_fields(void **state)
{
    cq_avro_t *avro = fixture_avro();
    json_t *env = cq_avro_schema_json(avro, "JobEnvelope");
    json_t *req = find_named(env, "Req");
    assert_non_null(req);
    assert_string_equal(json_string_value(json_object_get(req, "doc")), "A req.");
    /* required -> plain type; optional -> ["null", T] with default null */
    assert_field_type(req, "title", "\"string\"");
    assert_string_equal(json_string_value(json_object_get(field_of(req, "title"), "doc")),
                        "Title.");
    assert_null(json_object_get(field_of(req, "title"), "default"));
    assert_field_type(req, "note", "[\"null\", \"string\"]");
    assert_true(json_is_null(json_object_get(field_of(req, "note"), "default")));
    assert_field_type(req, "count", "[\"null\", \"long\"]");
    assert_field_type(req, "score", "[\"null\", \"double\"]"); /* nullable and optional */
    assert_field_type(req, "done", "[\"null\", \"boolean\"]");
    assert_field_type(req, "tags", "{\"type\": \"array\", \"items\": \"string\"}");
    /* enum of valid symbols -> Avro enum; invalid symbols -> string */
    assert_field_type(
        req, "level",
        "{\"type\": \"enum\", \"name\": \"ReqLevel\", \"symbols\": [\"low\", \"high\"]}");
    assert_field_type(req, "state", "[\"null\", \"string\"]");
    /* free-form objects and non-record oneOf -> JSON text, said in the doc */
    assert_field_type(req, "meta", "[\"null\", \"string\"]");
    assert_non_null(strstr(json_string_value(json_object_get(field_of(req, "meta"), "doc")),
                           "Anything. Avro string holding the value as compact JSON text."));
    assert_field_type(req, "extra", "[\"null\", \"string\"]");
    assert_non_null(
        strstr(json_string_value(json_object_get(field_of(req, "extra"), "doc")), "JSON text"));
    assert_field_type(req, "either", "[\"null\", \"string\"]");
    /* oneOf of objects -> union of records, flattened with the null branch */
    json_t *shape = json_object_get(field_of(req, "shape"), "type");
    assert_int_equal(json_array_size(shape), 3);
    assert_string_equal(json_string_value(json_array_get(shape, 0)), "null");
    assert_string_equal(json_string_value(json_object_get(json_array_get(shape, 1), "name")),
                        "Circle");
    assert_string_equal(json_string_value(json_object_get(json_array_get(shape, 2), "name")),
                        "Square");
    /* nested arrays of inline records are named parent + field + Item per level */
    json_t *grid = json_array_get(json_object_get(field_of(req, "grid"), "type"), 1);
    json_t *inner = json_object_get(json_object_get(grid, "items"), "items");
    assert_string_equal(json_string_value(json_object_get(inner, "name")), "ReqGridItemItem");
    assert_field_type(inner, "x", "\"long\"");
    /* a record reached twice is referred to by name; recursion works the same way */
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(field_of(req, "owner"), "type"), 1), "name")),
        "Person");
    assert_field_type(req, "reviewer", "[\"null\", \"Person\"]");
    json_t *node = find_named(env, "Node");
    assert_field_type(node, "children", "[\"null\", {\"type\": \"array\", \"items\": \"Node\"}]");
    /* two operations sharing a request schema share one branch */
    json_t *payload = json_object_get(field_of(env, "payload"), "type");
    assert_int_equal(json_array_size(payload), 2);
    /* a non-object result gets a wrapper record named after its component */
    json_t *people = find_named(cq_avro_schema_json(avro, "JobResult"), "People");
    assert_non_null(people);
    assert_field_type(people, "value",
                      "{\"type\": \"array\", \"items\": {\"type\": \"record\", \"name\": "
                      "\"Person\", \"fields\": [{\"name\": \"name\", \"type\": \"string\"}]}}");
    assert_null(cq_avro_schema_json(avro, "Nope"));
    cq_avro_destroy(avro);
}

static void expect_doc_error(const char *schemas, const char *ops, const char *needle)
{
    char err[512] = "";
    json_t *doc = mini_doc(schemas, ops);
    cq_avro_t *avro = cq_avro_new(doc, err, sizeof(err));
    json_decref(doc);
    assert_null(avro);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void test_avro_mapping_errors(void **state)
{
    static const char ok_res[] = "\"R\": {\"type\": \"object\", \"properties\": {\"a\": {}}}";
    char *schemas = cq_asprintf("{%s}", ok_res);
    expect_doc_error(schemas, "op:-:Missing", "does not resolve");
    expect_doc_error(schemas, "Bad_Name:-:R", "kebab-case");
    free(schemas);
    /* a component clashing with a built-in record name */
    expect_doc_error("{\"JobStatus\": {\"type\": \"object\", \"properties\": {\"a\": {}}}}",
                     "op:-:JobStatus",
                     "Avro name JobStatus is generated for two different schemas");
    /* property names that collide once made valid Avro names */
    expect_doc_error("{\"R\": {\"type\": \"object\", \"properties\": {\"a-b\": {}, \"a_b\": {}}}}",
                     "op:-:R", "both map to Avro field a_b");
    char err[128];
    json_t *notdoc = json_array();
    assert_null(cq_avro_new(notdoc, err, sizeof(err)));
    json_decref(notdoc);
    cq_avro_destroy(NULL);
}

/* ---- round trips ------------------------------------------------------- */

static void test_avro_envelope_round_trip(void **state)
{
    cq_avro_t *avro = fixture_avro();
    cq_job_envelope_t env = make_env("do-thing", FULL_PAYLOAD);
    env.batch_id = strdup("batch-1");
    env.custom_id = strdup("row-\xc3\xa9");
    env.authorization = strdup("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig");
    json_t *back = env_round_trip(avro, &env);
    assert_json_eq(back, env.payload);
    json_decref(back);
    cq_job_envelope_clear(&env);

    /* optional fields absent stay absent; nulls of optional fields come back absent */
    env = make_env("also-thing", "{\"title\": \"\", \"level\": \"low\", \"tags\": [],"
                                 " \"note\": null, \"score\": null}");
    free(env.reply_to);
    free(env.trace_parent);
    env.reply_to = env.trace_parent = NULL;
    back = env_round_trip(avro, &env);
    json_t *want = parse("{\"title\": \"\", \"level\": \"low\", \"tags\": []}");
    assert_json_eq(back, want);
    json_decref(want);
    json_decref(back);
    cq_job_envelope_clear(&env);

    /* union branch chosen by fit: a Circle needs its const kind */
    env = make_env("do-thing", "{\"title\": \"t\", \"level\": \"low\", \"tags\": [],"
                               " \"shape\": {\"kind\": \"circle\", \"r\": 2}}");
    back = env_round_trip(avro, &env);
    assert_json_eq(back, env.payload);
    json_decref(back);
    cq_job_envelope_clear(&env);

    /* an integral real in an integer field is an integer; integral doubles come back as integers */
    env = make_env(
        "do-thing",
        "{\"title\": \"t\", \"level\": \"low\", \"tags\": [], \"count\": 4.0, \"score\": 2}");
    back = env_round_trip(avro, &env);
    want =
        parse("{\"title\": \"t\", \"level\": \"low\", \"tags\": [], \"count\": 4, \"score\": 2}");
    assert_json_eq(back, want);
    json_decref(want);
    json_decref(back);
    cq_job_envelope_clear(&env);

    /* an operation without a request travels with a null payload */
    env = make_env("list-people", NULL);
    back = env_round_trip(avro, &env);
    assert_null(back);
    cq_job_envelope_clear(&env);
    cq_job_envelope_clear(NULL);
    cq_avro_destroy(avro);
}

static void result_round_trip(cq_avro_t *avro, const cq_job_result_msg_t *msg)
{
    char err[512];
    void *buf;
    size_t len;
    cq_job_result_msg_t back = {0};
    cq_err_t rc = cq_avro_result_encode(avro, msg, &buf, &len, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("encode: %s: %s", cq_err_name(rc), err);
    rc = cq_avro_result_decode(avro, buf, len, &back, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("decode: %s: %s", cq_err_name(rc), err);
    free(buf);
    assert_string_equal(back.job_id, msg->job_id);
    assert_string_equal(back.tenant_id, msg->tenant_id);
    assert_string_equal(back.user_id, msg->user_id);
    assert_string_equal(back.operation, msg->operation);
    assert_string_equal(back.status, msg->status);
    assert_int_equal(back.attempts, msg->attempts);
    assert_int_equal(back.created_at, msg->created_at);
    assert_int_equal(back.started_at, msg->started_at);
    assert_int_equal(back.finished_at, msg->finished_at);
    if (msg->engine)
        assert_json_eq(back.engine, msg->engine);
    else
        assert_null(back.engine);
    if (msg->result)
        assert_json_eq(back.result, msg->result);
    else
        assert_null(back.result);
    assert_str_eq_or_null(back.error_code, msg->error_code);
    if (msg->error_code)
        assert_string_equal(back.error_message, msg->error_message ? msg->error_message : "");
    assert_str_eq_or_null(back.batch_id, msg->batch_id);
    assert_str_eq_or_null(back.custom_id, msg->custom_id);
    cq_job_result_msg_clear(&back);
}

static cq_job_result_msg_t make_result(const char *op, const char *status, const char *result)
{
    cq_job_result_msg_t msg = {
        .job_id = strdup("0190f0e2-7b7c-7cc3-8d2a-3f1e2d3c4b5a"),
        .tenant_id = strdup("tenant-1"),
        .user_id = strdup("user-1"),
        .operation = strdup(op),
        .status = strdup(status),
        .attempts = 1,
        .created_at = 1767225600123,
        .started_at = 1767225600200,
        .finished_at = 1767225601500,
        .result = result ? parse(result) : NULL,
    };
    return msg;
}

static void test_avro_mapping_composition(void **state)
{
    static const char schemas[] =
        "{\"Base\": {\"type\": \"object\", \"required\": [\"id\"],"
        "   \"properties\": {\"id\": {\"type\": \"string\"}}},"
        " \"Ext\": {\"description\": \"Extended.\", \"allOf\": ["
        "   {\"$ref\": \"#/components/schemas/Base\"},"
        "   {\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}}},"
        "   {\"required\": [\"n\"]}]},"
        " \"Odd\": {\"type\": \"object\", \"additionalProperties\": false,"
        "   \"required\": [\"pick\", \"lvl\"], \"properties\": {"
        "   \"x-y\": {\"type\": \"string\"},"
        "   \"pick\": {\"anyOf\": [{\"$ref\": \"#/components/schemas/Base\"},"
        "                          {\"type\": \"null\"}]},"
        "   \"lvl\": {\"enum\": [\"a\", \"b\", null]},"
        "   \"mixed\": {\"allOf\": [{\"type\": \"string\"}]},"
        "   \"anything\": {}}}}";
    char err[512];
    json_t *doc = mini_doc(schemas, "ext:Ext:Odd");
    cq_avro_t *avro = cq_avro_new(doc, err, sizeof(err));
    json_decref(doc);
    if (!avro)
        fail_msg("cq_avro_new: %s", err);
    /* allOf of objects merges into one record named after the component */
    json_t *ext = find_named(cq_avro_schema_json(avro, "JobEnvelope"), "Ext");
    assert_string_equal(json_string_value(json_object_get(ext, "doc")), "Extended.");
    assert_field_type(ext, "id", "\"string\"");
    assert_field_type(ext, "n", "\"long\"");
    json_t *odd = find_named(cq_avro_schema_json(avro, "JobResult"), "Odd");
    /* invalid Avro names are fixed and keep their JSON name */
    json_t *xy = field_of(odd, "x_y");
    assert_string_equal(json_string_value(json_object_get(xy, "x-json-name")), "x-y");
    /* required but nullable: no default; an enum with null is a nullable enum */
    assert_field_type(odd, "pick",
                      "[\"null\", {\"type\": \"record\", \"name\": \"Base\", \"fields\":"
                      " [{\"name\": \"id\", \"type\": \"string\"}]}]");
    assert_null(json_object_get(field_of(odd, "pick"), "default"));
    assert_field_type(odd, "lvl",
                      "[\"null\", {\"type\": \"enum\", \"name\": \"OddLvl\", \"symbols\":"
                      " [\"a\", \"b\"]}]");
    assert_field_type(odd, "mixed", "[\"null\", \"string\"]");
    assert_field_type(odd, "anything", "[\"null\", \"string\"]");

    cq_job_envelope_t env = make_env("ext", "{\"id\": \"i\", \"n\": -5}");
    json_t *back = env_round_trip(avro, &env);
    assert_json_eq(back, env.payload);
    json_decref(back);
    cq_job_envelope_clear(&env);
    /* required nulls stay null (only optional nulls are dropped) */
    cq_job_result_msg_t msg = make_result(
        "ext", "succeeded",
        "{\"x-y\": \"v\", \"pick\": null, \"lvl\": null, \"anything\": [1, {\"a\": \"b\"}]}");
    result_round_trip(avro, &msg);
    cq_job_result_msg_clear(&msg);
    msg = make_result("ext", "succeeded",
                      "{\"pick\": {\"id\": \"i\"}, \"lvl\": \"b\", \"mixed\": \"m\"}");
    result_round_trip(avro, &msg);
    cq_job_result_msg_clear(&msg);
    cq_avro_destroy(avro);
}

static void test_avro_result_round_trip(void **state)
{
    cq_avro_t *avro = fixture_avro();
    cq_job_result_msg_t msg = make_result("do-thing", "succeeded", "{\"ok\": true}");
    msg.engine = parse("{\"name\": \"llm\", \"provider\": \"openai\", \"model\": \"m\","
                       " \"promptTokens\": 120, \"completionTokens\": 80, \"latencyMs\": 950}");
    msg.batch_id = strdup("b");
    msg.custom_id = strdup("c");
    result_round_trip(avro, &msg);
    cq_job_result_msg_clear(&msg);

    /* a wrapped (array) result, minimal engine, never started */
    msg = make_result("list-people", "succeeded", "[{\"name\": \"Ann\"}, {\"name\": \"Bo\"}]");
    msg.engine = parse("{\"name\": \"builtin\"}");
    msg.started_at = 0;
    result_round_trip(avro, &msg);
    cq_job_result_msg_clear(&msg);

    /* failed job of an operation this document does not know */
    msg = make_result("from-the-future", "failed", NULL);
    msg.error_code = strdup("UNKNOWN_OPERATION");
    msg.error_message = strdup("no such operation");
    result_round_trip(avro, &msg);
    free(msg.error_message);
    msg.error_message = NULL; /* encodes as "" */
    result_round_trip(avro, &msg);
    cq_job_result_msg_clear(&msg);
    cq_job_result_msg_clear(NULL);
    cq_avro_destroy(avro);
}

/* ---- encode errors ------------------------------------------------------- */

static void expect_env_error(cq_avro_t *avro, cq_job_envelope_t *env, cq_err_t want,
                             const char *needle)
{
    char err[512];
    void *buf = (void *)1;
    size_t len = 7;
    cq_err_t rc = cq_avro_envelope_encode(avro, env, &buf, &len, err, sizeof(err));
    assert_int_equal(rc, want);
    assert_null(buf);
    assert_int_equal(len, 0);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
    cq_job_envelope_clear(env);
}

static void test_avro_encode_errors(void **state)
{
    cq_avro_t *avro = fixture_avro();
    cq_job_envelope_t env = make_env("do-thing", "{\"level\": \"low\", \"tags\": []}");
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR,
                     "payload: missing required property \"title\"");
    env =
        make_env("do-thing", "{\"title\": \"t\", \"level\": \"low\", \"tags\": [], \"bogus\": 1}");
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR, "payload: unknown property \"bogus\"");
    env = make_env("do-thing",
                   "{\"title\": \"t\", \"level\": \"low\", \"tags\": [], \"count\": \"3\"}");
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR, "payload.count: expected an integer");
    env = make_env("do-thing", "{\"title\": \"t\", \"level\": \"medium\", \"tags\": []}");
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR, "payload.level: expected one of");
    env = make_env("do-thing", "{\"title\": \"t\", \"level\": \"low\", \"tags\": [],"
                               " \"grid\": [[{\"x\": 1}, {\"x\": \"a\"}]]}");
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR, "payload.grid[0][1].x: expected");
    env = make_env("do-thing", "{\"title\": \"t\", \"level\": \"low\", \"tags\": [],"
                               " \"shape\": {\"kind\": \"square\", \"r\": 1}}");
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR, "payload.shape: matches none");
    env = make_env("do-thing", NULL);
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR, "needs a payload");
    env = make_env("list-people", "{}");
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR, "takes no payload");
    env = make_env("nope", NULL);
    expect_env_error(avro, &env, CQ_ERR_UNKNOWN_OPERATION, "unknown operation \"nope\"");
    env = make_env("list-people", NULL);
    free(env.job_id);
    env.job_id = NULL;
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR, "jobId is required");
    env = make_env("list-people", NULL);
    env.tenant_id[0] = (char)0xff;
    expect_env_error(avro, &env, CQ_ERR_VALIDATION_ERROR, "tenantId is not valid UTF-8");

    char err[512];
    void *buf;
    size_t len;
    cq_job_result_msg_t msg = make_result("do-thing", "done", NULL);
    assert_int_equal(cq_avro_result_encode(avro, &msg, &buf, &len, err, sizeof(err)),
                     CQ_ERR_VALIDATION_ERROR);
    assert_non_null(strstr(err, "status must be"));
    cq_job_result_msg_clear(&msg);
    msg = make_result("nope", "succeeded", "{\"ok\": true}");
    assert_int_equal(cq_avro_result_encode(avro, &msg, &buf, &len, err, sizeof(err)),
                     CQ_ERR_UNKNOWN_OPERATION);
    cq_job_result_msg_clear(&msg);
    msg = make_result("do-thing", "succeeded", "{\"ok\": true}");
    msg.engine = parse("{\"model\": \"m\"}");
    assert_int_equal(cq_avro_result_encode(avro, &msg, &buf, &len, err, sizeof(err)),
                     CQ_ERR_VALIDATION_ERROR);
    assert_non_null(strstr(err, "engine: missing required property \"name\""));
    cq_job_result_msg_clear(&msg);
    cq_avro_destroy(avro);
}

/* ---- hostile bytes ---------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void *encode_env(cq_avro_t *avro, const char *op, const char *payload, size_t *len)
{
    char err[512];
    void *buf;
    cq_job_envelope_t env = make_env(op, payload);
    cq_err_t rc = cq_avro_envelope_encode(avro, &env, &buf, len, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("encode: %s", err);
    cq_job_envelope_clear(&env);
    return buf;
}

/* Decodes as an envelope and as a result: each is decoded or UNDECODABLE. */
static int decode_both(cq_avro_t *avro, const void *buf, size_t len)
{
    char err[512];
    cq_job_envelope_t env;
    cq_job_result_msg_t msg;
    int ok = 0;
    cq_err_t rc = cq_avro_envelope_decode(avro, buf, len, &env, err, sizeof(err));
    if (rc == CQ_ERR_OK) {
        assert_non_null(env.job_id);
        assert_non_null(env.operation);
        ok++;
    } else {
        assert_int_equal(rc, CQ_ERR_UNDECODABLE_MESSAGE);
        assert_null(env.job_id);
        assert_true(err[0] != '\0');
    }
    cq_job_envelope_clear(&env);
    rc = cq_avro_result_decode(avro, buf, len, &msg, err, sizeof(err));
    if (rc == CQ_ERR_OK) {
        assert_non_null(msg.status);
        ok++;
    } else {
        assert_int_equal(rc, CQ_ERR_UNDECODABLE_MESSAGE);
        assert_null(msg.job_id);
    }
    cq_job_result_msg_clear(&msg);
    return ok;
}

static void test_avro_decode_random_bytes(void **state)
{
    cq_avro_t *avro = fixture_avro();
    unsigned char buf[300];
    int decoded = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = rng() % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)rng();
        decoded += decode_both(avro, buf, len);
    }
    assert_true(decoded < 30); /* random bytes are almost never a message */
    cq_avro_destroy(avro);
}

static void test_avro_decode_truncated_and_flipped(void **state)
{
    cq_avro_t *avro = fixture_avro();
    char err[512];
    cq_job_envelope_t env;
    size_t len;
    unsigned char *buf = encode_env(avro, "do-thing", FULL_PAYLOAD, &len);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(cq_avro_envelope_decode(avro, buf, cut, &env, err, sizeof(err)),
                         CQ_ERR_UNDECODABLE_MESSAGE);
        assert_null(env.payload);
    }
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_int_equal(cq_avro_envelope_decode(avro, longer, len + 1, &env, err, sizeof(err)),
                     CQ_ERR_UNDECODABLE_MESSAGE);
    assert_non_null(strstr(err, "1 trailing bytes"));
    free(longer);
    static const unsigned char masks[] = {0x01, 0x02, 0x40, 0x80, 0xff};
    for (size_t pos = 0; pos < len; pos++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            buf[pos] ^= masks[m];
            decode_both(avro, buf, len);
            buf[pos] ^= masks[m];
        }
    }
    assert_int_equal(cq_avro_envelope_decode(avro, buf, len, &env, err, sizeof(err)), CQ_ERR_OK);
    cq_job_envelope_clear(&env);
    free(buf);
    cq_avro_destroy(avro);
}

typedef struct {
    unsigned char b[64];
    size_t n;
} bytes_t;

static void put_varint(bytes_t *bb, uint64_t z)
{
    while (z > 0x7f) {
        bb->b[bb->n++] = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    bb->b[bb->n++] = (unsigned char)z;
}

static void put_long(bytes_t *bb, int64_t v)
{
    put_varint(bb, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_str(bytes_t *bb, const char *s)
{
    put_long(bb, (int64_t)strlen(s));
    memcpy(bb->b + bb->n, s, strlen(s));
    bb->n += strlen(s);
}

/* An envelope up to (not including) replyTo for operation op. */
static bytes_t env_head(const char *job_id, const char *op)
{
    bytes_t bb = {.n = 0};
    put_str(&bb, job_id);
    put_str(&bb, "t");
    put_str(&bb, "u");
    put_str(&bb, op);
    put_long(&bb, 1);
    put_long(&bb, 1000);
    put_long(&bb, 2000);
    return bb;
}

static void expect_undecodable(cq_avro_t *avro, const void *buf, size_t len, const char *needle)
{
    char err[512];
    cq_job_envelope_t env;
    assert_int_equal(cq_avro_envelope_decode(avro, buf, len, &env, err, sizeof(err)),
                     CQ_ERR_UNDECODABLE_MESSAGE);
    assert_null(env.job_id);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void test_avro_decode_crafted(void **state)
{
    cq_avro_t *avro = fixture_avro();
    char err[512];
    cq_job_envelope_t env;
    /* the well-formed base: an unknown operation, every nullable field null (replyTo,
     * traceParent, batchId, customId, payload, authorization) */
    bytes_t bb = env_head("j", "zzz");
    for (int i = 0; i < 6; i++)
        put_long(&bb, 0);
    assert_int_equal(cq_avro_envelope_decode(avro, bb.b, bb.n, &env, err, sizeof(err)), CQ_ERR_OK);
    assert_string_equal(env.operation, "zzz");
    assert_null(env.reply_to);
    cq_job_envelope_clear(&env);

    /* string lengths of 2^31 and 2^62, negative: avro-c would malloc 2 GiB */
    static const int64_t lengths[] = {INT64_C(1) << 31, INT64_C(1) << 62, -1, INT64_MAX};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(lengths); i++) {
        bytes_t big = {.n = 0};
        put_long(&big, lengths[i]);
        memcpy(big.b + big.n, "abc", 3);
        big.n += 3;
        expect_undecodable(avro, big.b, big.n, "not a valid JobEnvelope");
    }
    /* an 11-byte varint */
    unsigned char varint[12];
    memset(varint, 0xff, 10);
    varint[10] = 0x01;
    expect_undecodable(avro, varint, 11, "not a valid");
    /* union index out of range (replyTo), negative union index */
    bytes_t u = env_head("j", "zzz");
    put_long(&u, 99);
    expect_undecodable(avro, u.b, u.n, "not a valid");
    u = env_head("j", "zzz");
    put_long(&u, -1);
    expect_undecodable(avro, u.b, u.n, "not a valid");
    /* NUL inside an id, invalid UTF-8 in an id */
    bytes_t nul = env_head("xxx", "zzz");
    nul.b[2] = '\0';
    for (int i = 0; i < 6; i++)
        put_long(&nul, 0);
    expect_undecodable(avro, nul.b, nul.n, "jobId: contains a NUL byte");
    nul.b[2] = 0xc0;
    expect_undecodable(avro, nul.b, nul.n, "jobId: invalid UTF-8");
    /* a known operation with a null payload, an unknown one with a payload */
    bytes_t op = env_head("j", "do-thing");
    for (int i = 0; i < 6; i++)
        put_long(&op, 0);
    expect_undecodable(avro, op.b, op.n, "needs a payload");
    /* over the size limit: refused before looking */
    size_t huge = CQ_AVRO_MAX_MESSAGE + 1;
    unsigned char *zeros = calloc(1, huge);
    expect_undecodable(avro, zeros, huge, "over the");
    free(zeros);
    expect_undecodable(avro, NULL, 0, "empty message");

    /* payload-level corruption of a valid message, same length */
    size_t len;
    unsigned char *buf =
        encode_env(avro, "do-thing",
                   "{\"title\": \"TITLE\", \"level\": \"low\", \"tags\": [\"a\"], \"score\": 1.5,"
                   " \"meta\": \"MARKER\"}",
                   &len);
    unsigned char *p = memmem(buf, len, "\"MARKER\"", 8);
    assert_non_null(p);
    p[0] = '{';
    expect_undecodable(avro, buf, len, "payload.meta: invalid JSON text");
    p[0] = '"';
    p = memmem(buf, len, "TITLE", 5);
    p[1] = 0xff;
    expect_undecodable(avro, buf, len, "payload.title: invalid UTF-8");
    p[1] = 'I';
    double one_half = 1.5, nan = NAN;
    p = memmem(buf, len, &one_half, 8);
    assert_non_null(p);
    memcpy(p, &nan, 8);
    expect_undecodable(avro, buf, len, "payload.score: not a finite number");
    memcpy(p, &one_half, 8);
    /* tags array: a block count of 2^40 items */
    p = memmem(buf, len,
               "\x02\x02"
               "a",
               3); /* count 1, length 1, "a" */
    assert_non_null(p);
    bytes_t count = {.n = 0};
    put_long(&count, INT64_C(1) << 40);
    unsigned char *bad = malloc(len + 16);
    size_t off = (size_t)(p - buf);
    memcpy(bad, buf, off);
    memcpy(bad + off, count.b, count.n);
    memcpy(bad + off + count.n, p + 1, len - off - 1);
    expect_undecodable(avro, bad, len + count.n - 1, "not a valid");
    /* a negative block count of INT64_MIN */
    count.n = 0;
    put_varint(&count, UINT64_MAX); /* zigzag of INT64_MIN */
    memcpy(bad + off, count.b, count.n);
    memcpy(bad + off + count.n, p + 1, len - off - 1);
    expect_undecodable(avro, bad, len + count.n - 1, "not a valid");
    free(bad);
    assert_int_equal(cq_avro_envelope_decode(avro, buf, len, &env, err, sizeof(err)), CQ_ERR_OK);
    cq_job_envelope_clear(&env);
    free(buf);

    /* the item cap: 99999 empty tags decode, 100001 do not (nor encode) */
    buf =
        encode_env(avro, "do-thing", "{\"title\": \"t\", \"level\": \"low\", \"tags\": []}", &len);
    /* the last 5 bytes: tags, then owner, reviewer, tree, then the null authorization */
    assert_int_equal(buf[len - 5], 0);
    for (int64_t items = 99999; items <= 100001; items += 2) {
        bytes_t n = {.n = 0};
        put_long(&n, items);
        size_t big_len = len - 5 + n.n + (size_t)items + 5;
        unsigned char *big = calloc(1, big_len);
        memcpy(big, buf, len - 5);
        memcpy(big + len - 5, n.b, n.n);
        cq_err_t rc = cq_avro_envelope_decode(avro, big, big_len, &env, err, sizeof(err));
        assert_int_equal(rc, items < CQ_AVRO_MAX_ITEMS ? CQ_ERR_OK : CQ_ERR_UNDECODABLE_MESSAGE);
        if (rc == CQ_ERR_OK)
            assert_int_equal(json_array_size(json_object_get(env.payload, "tags")), items);
        else
            assert_non_null(strstr(err, "not a valid"));
        cq_job_envelope_clear(&env);
        free(big);
    }
    free(buf);
    cq_job_envelope_t many = make_env("do-thing", "{\"title\": \"t\", \"level\": \"low\"}");
    json_t *tags = json_array();
    for (int i = 0; i <= CQ_AVRO_MAX_ITEMS; i++)
        json_array_append_new(tags, json_string(""));
    json_object_set_new(many.payload, "tags", tags);
    expect_env_error(avro, &many, CQ_ERR_VALIDATION_ERROR, "more than 100000 array items");

    /* result: enum index out of range, payload record of another operation */
    cq_job_result_msg_t msg;
    bytes_t r = {.n = 0};
    put_str(&r, "j");
    put_str(&r, "t");
    put_str(&r, "u");
    put_str(&r, "list-people");
    put_long(&r, 5); /* status */
    assert_int_equal(cq_avro_result_decode(avro, r.b, r.n, &msg, err, sizeof(err)),
                     CQ_ERR_UNDECODABLE_MESSAGE);
    r.n--;
    put_long(&r, 0);
    put_long(&r, 1);
    put_long(&r, 10);
    put_long(&r, 0); /* startedAt null */
    put_long(&r, 20);
    put_long(&r, 0); /* engine null */
    put_long(&r, 1); /* result branch 1: Res, not People */
    r.b[r.n++] = 1;
    for (int i = 0; i < 3; i++)
        put_long(&r, 0);
    assert_int_equal(cq_avro_result_decode(avro, r.b, r.n, &msg, err, sizeof(err)),
                     CQ_ERR_UNDECODABLE_MESSAGE);
    assert_non_null(strstr(err, "result record Res does not belong to operation \"list-people\""));
    assert_null(msg.operation);
    cq_avro_destroy(avro);
}

/* ---- threads ------------------------------------------------------------- */

typedef struct {
    cq_avro_t *avro;
    int failures;
} thread_arg_t;

static void *worker(void *p)
{
    thread_arg_t *arg = p;
    char err[512];
    json_t *want = json_loads(FULL_PAYLOAD, 0, NULL);
    for (int i = 0; i < 300; i++) {
        cq_job_envelope_t env = {.job_id = cq_asprintf("job-%d", i),
                                 .tenant_id = strdup("t"),
                                 .user_id = strdup("u"),
                                 .operation = strdup(i % 2 ? "do-thing" : "also-thing"),
                                 .attempt = i,
                                 .payload = json_incref(want)},
                          back;
        void *buf;
        size_t len;
        if (cq_avro_envelope_encode(arg->avro, &env, &buf, &len, err, sizeof(err)) != CQ_ERR_OK) {
            arg->failures++;
        } else {
            if (cq_avro_envelope_decode(arg->avro, buf, len, &back, err, sizeof(err)) !=
                    CQ_ERR_OK ||
                strcmp(back.job_id, env.job_id) != 0 || back.attempt != i ||
                !json_equal(back.payload, want))
                arg->failures++;
            cq_job_envelope_clear(&back);
            /* a corrupted copy must fail cleanly in parallel too */
            ((unsigned char *)buf)[len / 2] ^= 0x80;
            if (cq_avro_envelope_decode(arg->avro, buf, len, &back, err, sizeof(err)) == CQ_ERR_OK)
                cq_job_envelope_clear(&back);
            free(buf);
        }
        cq_job_envelope_clear(&env);
    }
    json_decref(want);
    return NULL;
}

static void test_avro_concurrent_use(void **state)
{
    cq_avro_t *avro = fixture_avro();
    pthread_t threads[4];
    thread_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg_t){avro, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    cq_avro_destroy(avro);
}

/* ---- fingerprints -------------------------------------------------------- */

static void test_avro_canonical_form(void **state)
{
    json_t *s = parse(
        "{\"type\": \"record\", \"name\": \"R\", \"namespace\": \"a.b\", \"doc\": \"x\","
        " \"fields\": [{\"name\": \"f\", \"type\": {\"type\": \"long\", \"logicalType\":"
        " \"timestamp-millis\"}, \"default\": 0, \"doc\": \"d\"},"
        " {\"name\": \"e\", \"type\": {\"type\": \"enum\", \"name\": \"E\", \"symbols\": [\"A\"]}},"
        " {\"name\": \"g\", \"type\": [\"null\", \"E\", {\"type\": \"array\", \"items\": \"R\"}]},"
        " {\"name\": \"h\", \"type\": {\"type\": \"record\", \"name\": \"x.H\", \"fields\": "
        "[]}}]}");
    char *text = cq_avro_schema_canonical(s);
    assert_string_equal(
        text, "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[{\"name\":\"f\",\"type\":"
              "\"long\"},{\"name\":\"e\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\","
              "\"symbols\":[\"A\"]}},{\"name\":\"g\",\"type\":[\"null\",\"a.b.E\",{\"type\":"
              "\"array\",\"items\":\"a.b.R\"}]},{\"name\":\"h\",\"type\":{\"name\":\"x.H\","
              "\"type\":\"record\",\"fields\":[]}}]}");
    free(text);
    json_decref(s);

    cq_avro_t *avro = fixture_avro();
    const char *fp = cq_avro_fingerprint(avro, "JobEnvelope");
    assert_int_equal(strlen(fp), 64);
    assert_int_equal(strspn(fp, "0123456789abcdef"), 64);
    assert_string_not_equal(fp, cq_avro_fingerprint(avro, "JobResult"));
    assert_null(cq_avro_fingerprint(avro, "Nope"));
    /* docs do not change the binary layout, an appended operation does */
    char err[256];
    json_t *doc = mini_doc(FIXTURE_SCHEMAS, FIXTURE_OPS);
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "Req"),
        "description", json_string("Another text."));
    cq_avro_t *same = cq_avro_new(doc, err, sizeof(err));
    json_decref(doc);
    assert_string_equal(cq_avro_fingerprint(same, "JobEnvelope"), fp);
    doc = mini_doc(FIXTURE_SCHEMAS, "do-thing:Req:Res,also-thing:Req:Res,list-people:-:People,"
                                    "add:Person:Res");
    cq_avro_t *more = cq_avro_new(doc, err, sizeof(err));
    json_decref(doc);
    assert_string_not_equal(cq_avro_fingerprint(more, "JobEnvelope"), fp);
    /* appending keeps existing branches where they were */
    json_t *old_u =
        json_object_get(field_of(cq_avro_schema_json(avro, "JobEnvelope"), "payload"), "type");
    json_t *new_u =
        json_object_get(field_of(cq_avro_schema_json(more, "JobEnvelope"), "payload"), "type");
    assert_int_equal(json_array_size(new_u), json_array_size(old_u) + 1);
    assert_json_eq(json_array_get(new_u, 1), json_array_get(old_u, 1));
    cq_avro_destroy(same);
    cq_avro_destroy(more);
    cq_avro_destroy(avro);
}

/* ---- the real document: golden files, real round trip, dump -------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot write %s", path);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static cq_avro_t *real_avro(void)
{
    size_t len;
    json_error_t jerr;
    char err[512];
    const char *text = cq_embedded_get("schemas/openapi.json", &len);
    assert_non_null(text);
    json_t *doc = json_loadb(text, len, 0, &jerr);
    if (!doc)
        fail_msg("schemas/openapi.json: %s", jerr.text);
    cq_avro_t *avro = cq_avro_new(doc, err, sizeof(err));
    json_decref(doc);
    if (!avro)
        fail_msg("cq_avro_new on schemas/openapi.json: %s", err);
    return avro;
}

static void check_golden(cq_avro_t *avro, const char *record, const char *rel)
{
    const char *src = getenv("COACHQ_SOURCE_DIR");
    const char *update = getenv("COACHQ_UPDATE_GOLDEN");
    char *text = json_dumps(cq_avro_schema_json(avro, record), JSON_INDENT(2));
    char *want = cq_asprintf("%s\n", text);
    free(text);
    char *path = src ? cq_asprintf("%s/%s", src, rel) : NULL;
    if (update && strcmp(update, "1") == 0) {
        if (!path)
            fail_msg("COACHQ_UPDATE_GOLDEN=1 needs COACHQ_SOURCE_DIR");
        write_file(path, want, strlen(want));
        print_message("rewrote %s\n", path);
    } else {
        char *have = path ? read_file(path) : NULL;
        const char *embedded = cq_embedded_get(rel, NULL);
        if (!have && embedded)
            have = strdup(embedded);
        if (!have || strcmp(have, want) != 0)
            fail_msg("%s differs from the schema generated from schemas/openapi.json; "
                     "regenerate with COACHQ_UPDATE_GOLDEN=1 ctest -R test_cq_avro",
                     rel);
        free(have);
    }
    free(path);
    free(want);
}

static void test_avro_golden_files(void **state)
{
    cq_avro_t *avro = real_avro();
    check_golden(avro, "JobEnvelope", "schemas/avro/job_envelope.avsc");
    check_golden(avro, "JobResult", "schemas/avro/job_result.avsc");
    /* The coachq-schema header names each record by its full Avro name. */
    const struct {
        const char *record, *full;
    } names[] = {{"JobEnvelope", CQ_AVRO_ENVELOPE_FULL_NAME},
                 {"JobResult", CQ_AVRO_RESULT_FULL_NAME}};
    for (size_t i = 0; i < 2; i++) {
        json_t *s = cq_avro_schema_json(avro, names[i].record);
        char *full = cq_asprintf("%s.%s", json_string_value(json_object_get(s, "namespace")),
                                 json_string_value(json_object_get(s, "name")));
        assert_string_equal(full, names[i].full);
        free(full);
    }
    cq_avro_destroy(avro);
}

static const char REAL_REQUEST[] = "{\"goalIntent\": \"Grow recurring revenue\", \"strategies\": "
                                   "[\"Upsell\"], \"kpis\": [\"MRR\"],"
                                   " \"businessFoundation\": {\"vision\": \"V\", \"purpose\": "
                                   "\"P\", \"coreValues\": [\"Trust\"]}}";
static const char REAL_RESULT[] =
    "{\"alignmentScore\": 82, \"explanation\": \"Fits the vision.\", \"suggestions\": [\"Add a "
    "KPI\"],"
    " \"componentScores\": {\"intentAlignment\": 90, \"strategyAlignment\": 80, \"kpiRelevance\": "
    "70},"
    " \"breakdown\": {\"visionAlignment\": 85, \"purposeAlignment\": 75, \"valuesAlignment\": 60},"
    " \"lastUpdated\": \"2026-01-01T00:00:01.500Z\"}";

static void test_avro_real_document_round_trip(void **state)
{
    cq_avro_t *avro = real_avro();
    cq_job_envelope_t env = make_env("alignment-check", REAL_REQUEST);
    json_t *back = env_round_trip(avro, &env);
    assert_json_eq(back, env.payload);
    json_decref(back);
    cq_job_envelope_clear(&env);

    cq_job_result_msg_t msg = make_result("alignment-check", "succeeded", REAL_RESULT);
    msg.engine = parse("{\"name\": \"builtin\", \"latencyMs\": 3}");
    result_round_trip(avro, &msg);
    const char *dir = getenv("COACHQ_AVRO_DUMP");
    if (dir) {
        char err[512];
        void *buf;
        size_t len;
        assert_int_equal(cq_avro_result_encode(avro, &msg, &buf, &len, err, sizeof(err)),
                         CQ_ERR_OK);
        char *path = cq_asprintf("%s/job_result.bin", dir);
        write_file(path, buf, len);
        free(path);
        char *schema = json_dumps(cq_avro_schema_json(avro, "JobResult"), JSON_INDENT(2));
        path = cq_asprintf("%s/job_result.avsc", dir);
        write_file(path, schema, strlen(schema));
        print_message("wrote %s/job_result.{avsc,bin} (%zu bytes)\n", dir, len);
        free(path);
        free(schema);
        free(buf);
    }
    cq_job_result_msg_clear(&msg);
    cq_avro_destroy(avro);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avro_mapping_fields),
        cmocka_unit_test(test_avro_mapping_composition),
        cmocka_unit_test(test_avro_mapping_errors),
        cmocka_unit_test(test_avro_envelope_round_trip),
        cmocka_unit_test(test_avro_result_round_trip),
        cmocka_unit_test(test_avro_encode_errors),
        cmocka_unit_test(test_avro_decode_random_bytes),
        cmocka_unit_test(test_avro_decode_truncated_and_flipped),
        cmocka_unit_test(test_avro_decode_crafted),
        cmocka_unit_test(test_avro_concurrent_use),
        cmocka_unit_test(test_avro_canonical_form),
        cmocka_unit_test(test_avro_golden_files),
        cmocka_unit_test(test_avro_real_document_round_trip),
    };
    return cmocka_run_group_tests_name("cq_avro", tests, NULL, NULL);
}
