/*
 * Unit tests of the LLM wire formats: the request each provider gets
 * (URL, headers, body, strict schema, array wrapping, Bedrock signing,
 * repair turns, config errors) and the verdict of every kind of reply
 * (answers, cut-off and refused answers, spend limits, transport failures,
 * Retry-After, token usage, garbage). Status classes and the wording of
 * error messages are in test_cq_llm_modes.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cq_embedded.h"
#include "cq_fetch.h"
#include "cq_llm_proto.h"

typedef struct {
    json_t *doc; /* the built-in contract */
    cq_config_t *conf;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    size_t len = 0;
    const char *text = cq_embedded_get("schemas/openapi.json", &len);
    f->doc = text ? json_loadb(text, len, 0, NULL) : NULL;
    f->conf = cq_config_new();
    *state = f;
    return f->doc ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    json_decref(f->doc);
    cq_config_destroy(f->conf);
    free(f);
    return 0;
}

static void set(cq_config_t *conf, const char *key, const char *value)
{
    char err[256];
    if (cq_config_set(conf, key, value, err, sizeof(err)) != CQ_ERR_OK)
        fail_msg("%s: %s", key, err);
}

static const json_t *result_schema(fixture_t *f, const char *name)
{
    return json_object_get(json_object_get(json_object_get(f->doc, "components"), "schemas"), name);
}

static cq_llm_prompt_t prompt_for(fixture_t *f, const char *schema)
{
    cq_llm_prompt_t prompt = {
        .system = "You are a coach.",
        .user = "Score this goal.",
        .result_schema = result_schema(f, schema),
        .schema_name = "alignment-check",
        .schema_document = f->doc,
    };
    return prompt;
}

static const char *header(const cq_llm_http_t *http, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < http->header_count; i++)
        if (strncasecmp(http->headers[i], name, n) == 0 && http->headers[i][n] == ':')
            return http->headers[i] + n + 1 + (http->headers[i][n + 1] == ' ');
    return NULL;
}

static json_t *body_of(const cq_llm_http_t *http)
{
    json_error_t jerr;
    assert_int_equal(strlen(http->body), http->body_len);
    json_t *body = json_loadb(http->body, http->body_len, 0, &jerr);
    if (!body)
        fail_msg("request body is not JSON: %s", jerr.text);
    return body;
}

static json_t *at(const json_t *v, const char *path)
{
    json_t *cur = (json_t *)v;
    char *copy = strdup(path), *save = NULL;
    for (char *t = strtok_r(copy, ".", &save); t && cur; t = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, strtoul(t, NULL, 10));
        else
            cur = json_object_get(cur, t);
    }
    free(copy);
    return cur;
}

static const char *at_str(const json_t *v, const char *path)
{
    return json_string_value(at(v, path));
}

static void test_llm_proto_provider_names(void **state)
{
    cq_llm_provider_t p;
    assert_true(cq_llm_provider_parse("openai", &p));
    assert_int_equal(p, CQ_LLM_OPENAI);
    assert_true(cq_llm_provider_parse("Bedrock", &p));
    assert_int_equal(p, CQ_LLM_BEDROCK);
    assert_true(cq_llm_provider_parse("builtin", &p));
    assert_int_equal(p, CQ_LLM_BUILTIN);
    assert_false(cq_llm_provider_parse("gemini", &p));
    assert_false(cq_llm_provider_parse(NULL, &p));
    assert_string_equal(cq_llm_provider_name(CQ_LLM_ANTHROPIC), "anthropic");
    assert_string_equal(cq_llm_provider_name((cq_llm_provider_t)42), "unknown");
}

static void test_llm_proto_openai_request(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.model", "gpt-4o-mini");
    set(f->conf, "llm.api_key", "sk-test");
    cq_llm_prompt_t prompt = prompt_for(f, "AlignmentCheckResult");
    cq_llm_http_t http;
    char err[256];
    assert_int_equal(cq_llm_build_request(f->conf, CQ_LLM_OPENAI, &prompt, &http, err, sizeof(err)),
                     CQ_ERR_OK);
    assert_string_equal(http.url, "https://api.openai.com/v1/chat/completions");
    assert_string_equal(header(&http, "Authorization"), "Bearer sk-test");
    assert_string_equal(header(&http, "Content-Type"), "application/json");

    json_t *body = body_of(&http);
    assert_string_equal(at_str(body, "model"), "gpt-4o-mini");
    assert_string_equal(at_str(body, "messages.0.role"), "system");
    assert_string_equal(at_str(body, "messages.0.content"), "You are a coach.");
    assert_string_equal(at_str(body, "messages.1.role"), "user");
    assert_string_equal(at_str(body, "messages.1.content"), "Score this goal.");
    assert_int_equal(json_array_size(at(body, "messages")), 2);
    assert_int_equal(json_integer_value(at(body, "max_tokens")), 2048);
    assert_true(json_real_value(at(body, "temperature")) == 0.2);
    assert_string_equal(at_str(body, "response_format.type"), "json_schema");
    assert_string_equal(at_str(body, "response_format.json_schema.name"), "alignment-check");
    assert_true(json_is_true(at(body, "response_format.json_schema.strict")));
    json_t *schema = at(body, "response_format.json_schema.schema");
    assert_string_equal(at_str(schema, "type"), "object");
    assert_true(json_is_false(at(schema, "additionalProperties")));
    assert_int_equal(json_array_size(at(schema, "required")), 6);
    /* Constraints strict mode rejects are gone (our validator checks them). */
    assert_null(at(schema, "properties.alignmentScore.minimum"));
    assert_null(at(schema, "properties.alignmentScore.maximum"));
    assert_null(at(schema, "properties.lastUpdated.format"));
    assert_null(at(schema, "properties.suggestions.maxItems"));
    assert_non_null(strstr(at_str(schema, "properties.suggestions.description"), "maxItems: 3"));
    assert_true(json_is_false(at(schema, "properties.breakdown.additionalProperties")));
    json_decref(body);
    cq_llm_http_clear(&http);
    assert_null(http.url);
    assert_int_equal(http.header_count, 0);
}

/* The converted schema of one call (response_format's, json_schema or
 * json_object mode), as text. Caller frees. */
static char *sent_schema(fixture_t *f, const cq_llm_prompt_t *prompt)
{
    cq_llm_http_t http;
    char err[256];
    assert_int_equal(cq_llm_build_request(f->conf, CQ_LLM_OPENAI, prompt, &http, err, sizeof(err)),
                     CQ_ERR_OK);
    json_t *body = body_of(&http);
    json_t *schema =
        at(body, prompt->mode == CQ_LLM_MODE_JSON_OBJECT ? "response_format.schema"
                                                         : "response_format.json_schema.schema");
    assert_non_null(schema);
    char *text = json_dumps(schema, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    cq_llm_http_clear(&http);
    return text;
}

/* Converted schemas are kept (not converted again per call), per schema
 * and per shape: asking again gives the same, another schema or another
 * mode gives its own. */
static void test_llm_proto_converted_schemas_kept_per_schema_and_shape(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.model", "m");
    set(f->conf, "llm.api_key", "k");
    cq_llm_prompt_t check = prompt_for(f, "AlignmentCheckResult");
    cq_llm_prompt_t actions = prompt_for(f, "ActionSuggestionsResult");
    char *first = sent_schema(f, &check), *other = sent_schema(f, &actions);
    char *again = sent_schema(f, &check);
    assert_string_equal(first, again);
    assert_string_not_equal(first, other);
    check.mode = CQ_LLM_MODE_JSON_OBJECT; /* the grammar shape: no strict-mode rewrite */
    char *grammar = sent_schema(f, &check);
    assert_string_not_equal(first, grammar);
    check.mode = CQ_LLM_MODE_JSON_SCHEMA;
    char *strict = sent_schema(f, &check);
    assert_string_equal(first, strict);
    free(first);
    free(other);
    free(again);
    free(grammar);
    free(strict);
}

static void test_llm_proto_openai_local_server(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.base_url", "http://127.0.0.1:8080/v1//");
    cq_llm_prompt_t prompt = prompt_for(f, "AlignmentCheckResult");
    prompt.system = NULL;
    prompt.schema_name = "bad name/with:chars";
    cq_llm_http_t http;
    char err[256];
    assert_int_equal(cq_llm_build_request(f->conf, CQ_LLM_OPENAI, &prompt, &http, err, sizeof(err)),
                     CQ_ERR_OK);
    assert_string_equal(http.url, "http://127.0.0.1:8080/v1/chat/completions");
    /* No key, no model: llama.cpp, Ollama and vLLM serve without them. */
    assert_null(header(&http, "Authorization"));
    json_t *body = body_of(&http);
    assert_null(at(body, "model"));
    assert_int_equal(json_array_size(at(body, "messages")), 1);
    assert_string_equal(at_str(body, "messages.0.role"), "user");
    assert_string_equal(at_str(body, "response_format.json_schema.name"), "bad_name_with_chars");
    json_decref(body);
    cq_llm_http_clear(&http);
}

static void test_llm_proto_array_results_are_wrapped(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.model", "m");
    set(f->conf, "llm.api_key", "k");
    cq_llm_prompt_t prompt = prompt_for(f, "ActionSuggestionsResult");
    cq_llm_http_t http;
    char err[256];
    assert_int_equal(cq_llm_build_request(f->conf, CQ_LLM_OPENAI, &prompt, &http, err, sizeof(err)),
                     CQ_ERR_OK);
    json_t *body = body_of(&http);
    json_t *schema = at(body, "response_format.json_schema.schema");
    assert_string_equal(at_str(schema, "type"), "object");
    assert_string_equal(at_str(schema, "required.0"), "items");
    assert_string_equal(at_str(schema, "properties.items.type"), "array");
    assert_string_equal(at_str(schema, "properties.items.items.type"), "object");
    json_decref(body);
    cq_llm_http_clear(&http);

    assert_int_equal(
        cq_llm_build_request(f->conf, CQ_LLM_ANTHROPIC, &prompt, &http, err, sizeof(err)),
        CQ_ERR_OK);
    body = body_of(&http);
    schema = at(body, "tools.0.input_schema");
    assert_string_equal(at_str(schema, "type"), "object");
    assert_string_equal(at_str(schema, "required.0"), "items");
    /* Anthropic keeps the constraints: they guide the model. */
    assert_int_equal(json_integer_value(at(schema, "properties.items.minItems")), 3);
    json_decref(body);
    cq_llm_http_clear(&http);
}

static void test_llm_proto_anthropic_request(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.model", "claude-sonnet-4-5");
    set(f->conf, "llm.api_key", "ak-test");
    set(f->conf, "llm.max_tokens", "1000");
    cq_llm_prompt_t prompt = prompt_for(f, "AlignmentCheckResult");
    cq_llm_http_t http;
    char err[256];
    assert_int_equal(
        cq_llm_build_request(f->conf, CQ_LLM_ANTHROPIC, &prompt, &http, err, sizeof(err)),
        CQ_ERR_OK);
    assert_string_equal(http.url, "https://api.anthropic.com/v1/messages");
    assert_string_equal(header(&http, "x-api-key"), "ak-test");
    assert_string_equal(header(&http, "anthropic-version"), "2023-06-01");
    assert_string_equal(header(&http, "content-type"), "application/json");
    assert_null(header(&http, "Authorization"));
    json_t *body = body_of(&http);
    assert_string_equal(at_str(body, "model"), "claude-sonnet-4-5");
    assert_int_equal(json_integer_value(at(body, "max_tokens")), 1000);
    assert_string_equal(at_str(body, "system"), "You are a coach.");
    assert_int_equal(json_array_size(at(body, "messages")), 1);
    assert_string_equal(at_str(body, "messages.0.role"), "user");
    assert_string_equal(at_str(body, "tools.0.name"), "alignment-check");
    assert_non_null(at_str(body, "tools.0.description"));
    assert_string_equal(at_str(body, "tools.0.input_schema.type"), "object");
    assert_string_equal(at_str(body, "tool_choice.type"), "tool");
    assert_string_equal(at_str(body, "tool_choice.name"), "alignment-check");
    assert_null(at(body, "anthropic_version"));
    assert_null(at(body, "response_format"));
    json_decref(body);
    cq_llm_http_clear(&http);
}

static void test_llm_proto_bedrock_request(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.model", "anthropic.claude-3-5-sonnet-20240620-v1:0");
    set(f->conf, "llm.aws_region", "eu-central-1");
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    setenv("AWS_SESSION_TOKEN", "session-token", 1);
    cq_llm_prompt_t prompt = prompt_for(f, "AlignmentCheckResult");
    cq_llm_http_t http;
    char err[256];
    assert_int_equal(
        cq_llm_build_request(f->conf, CQ_LLM_BEDROCK, &prompt, &http, err, sizeof(err)), CQ_ERR_OK);
    assert_string_equal(http.url, "https://bedrock-runtime.eu-central-1.amazonaws.com/model/"
                                  "anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke");
    assert_string_equal(header(&http, "Content-Type"), "application/json");
    assert_string_equal(header(&http, "Accept"), "application/json");
    assert_string_equal(header(&http, "Host"), "bedrock-runtime.eu-central-1.amazonaws.com");
    assert_string_equal(header(&http, "X-Amz-Security-Token"), "session-token");
    assert_non_null(header(&http, "X-Amz-Date"));
    const char *auth = header(&http, "Authorization");
    assert_non_null(auth);
    assert_true(strncmp(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/", 37) == 0);
    assert_non_null(strstr(auth, "/eu-central-1/bedrock/aws4_request"));
    assert_non_null(strstr(auth, "SignedHeaders=accept;content-type;host;x-amz-date;"
                                 "x-amz-security-token"));
    assert_null(header(&http, "x-api-key"));
    json_t *body = body_of(&http);
    assert_string_equal(at_str(body, "anthropic_version"), "bedrock-2023-05-31");
    assert_null(at(body, "model"));
    assert_string_equal(at_str(body, "tool_choice.name"), "alignment-check");
    json_decref(body);
    cq_llm_http_clear(&http);

    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(
        cq_llm_build_request(f->conf, CQ_LLM_BEDROCK, &prompt, &http, err, sizeof(err)),
        CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY"));
    assert_null(http.url);
    assert_int_equal(http.header_count, 0);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    set(f->conf, "llm.aws_region", "us-east-1.evil.example/x");
    assert_int_equal(
        cq_llm_build_request(f->conf, CQ_LLM_BEDROCK, &prompt, &http, err, sizeof(err)),
        CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "llm.aws_region"));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
}

static void test_llm_proto_repair_turns(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.model", "m");
    cq_llm_prompt_t prompt = prompt_for(f, "AlignmentCheckResult");
    prompt.previous_answer = "{\"alignmentScore\":101}";
    prompt.repair_note = "/alignmentScore: must be at most 100";
    cq_llm_http_t http;
    char err[256];
    assert_int_equal(cq_llm_build_request(f->conf, CQ_LLM_OPENAI, &prompt, &http, err, sizeof(err)),
                     CQ_ERR_OK);
    json_t *body = body_of(&http);
    assert_int_equal(json_array_size(at(body, "messages")), 4);
    assert_string_equal(at_str(body, "messages.2.role"), "assistant");
    assert_string_equal(at_str(body, "messages.2.content"), "{\"alignmentScore\":101}");
    assert_string_equal(at_str(body, "messages.3.role"), "user");
    assert_non_null(strstr(at_str(body, "messages.3.content"), "/alignmentScore: must be at most"));
    json_decref(body);
    cq_llm_http_clear(&http);

    /* Without the previous answer the note joins the one user turn (Anthropic
     * wants alternating roles). */
    set(f->conf, "llm.api_key", "k");
    prompt.previous_answer = NULL;
    assert_int_equal(
        cq_llm_build_request(f->conf, CQ_LLM_ANTHROPIC, &prompt, &http, err, sizeof(err)),
        CQ_ERR_OK);
    body = body_of(&http);
    assert_int_equal(json_array_size(at(body, "messages")), 1);
    const char *user = at_str(body, "messages.0.content");
    assert_true(strncmp(user, "Score this goal.", 16) == 0);
    assert_non_null(strstr(user, "must be at most 100"));
    json_decref(body);
    cq_llm_http_clear(&http);
}

static void assert_build_fails(fixture_t *f, cq_llm_provider_t p, const cq_llm_prompt_t *prompt,
                               cq_err_t expected, const char *needle)
{
    cq_llm_http_t http;
    char err[256] = "";
    assert_int_equal(cq_llm_build_request(f->conf, p, prompt, &http, err, sizeof(err)), expected);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    assert_null(http.url);
    assert_null(http.body);
    assert_null(http.headers);
    assert_int_equal(http.header_count, 0);
}

/* An engine keeps only the built request; the user prompt comes back out of
 * it for a repair, exactly, for every provider. */
static void test_llm_proto_user_prompt_recovered_from_request(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.model", "m");
    set(f->conf, "llm.api_key", "k");
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    cq_llm_prompt_t prompt = prompt_for(f, "AlignmentCheckResult");
    const cq_llm_provider_t providers[] = {CQ_LLM_OPENAI, CQ_LLM_ANTHROPIC, CQ_LLM_BEDROCK};
    for (size_t i = 0; i < 3; i++) {
        cq_llm_http_t http;
        char err[256];
        assert_int_equal(
            cq_llm_build_request(f->conf, providers[i], &prompt, &http, err, sizeof(err)),
            CQ_ERR_OK);
        char *user = cq_llm_request_user(http.body);
        assert_non_null(user);
        assert_string_equal(user, prompt.user);
        free(user);
        cq_llm_http_clear(&http);
    }
    assert_null(cq_llm_request_user("{\"messages\": []}"));
    assert_null(cq_llm_request_user("not json"));
    assert_null(cq_llm_request_user(NULL));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

static void test_llm_proto_build_errors(void **state)
{
    fixture_t *f = *state;
    cq_llm_prompt_t prompt = prompt_for(f, "AlignmentCheckResult");
    assert_build_fails(f, CQ_LLM_BUILTIN, &prompt, CQ_ERR_CONFIG, "builtin");
    assert_build_fails(f, CQ_LLM_OPENAI, &prompt, CQ_ERR_CONFIG, "llm.model");
    set(f->conf, "llm.model", "m");
    assert_build_fails(f, CQ_LLM_ANTHROPIC, &prompt, CQ_ERR_CONFIG, "llm.api_key");
    set(f->conf, "llm.api_key", "k\r\nX-Evil: 1");
    assert_build_fails(f, CQ_LLM_OPENAI, &prompt, CQ_ERR_CONFIG, "control");
    set(f->conf, "llm.api_key", "k");
    set(f->conf, "llm.base_url", "ftp://example.com");
    assert_build_fails(f, CQ_LLM_OPENAI, &prompt, CQ_ERR_CONFIG, "llm.base_url");
    set(f->conf, "llm.base_url", "");

    cq_llm_prompt_t bad = prompt;
    bad.user = NULL;
    assert_build_fails(f, CQ_LLM_OPENAI, &bad, CQ_ERR_INTERNAL_ERROR, "user");
    bad.user = "caf\xc3";
    assert_build_fails(f, CQ_LLM_OPENAI, &bad, CQ_ERR_INTERNAL_ERROR, "UTF-8");
    json_t *allof = json_pack("{s:[{s:s}]}", "allOf", "type", "object");
    bad = prompt;
    bad.result_schema = allof;
    assert_build_fails(f, CQ_LLM_OPENAI, &bad, CQ_ERR_CONFIG, "allOf");
    json_decref(allof);
}

/* ---- replies ----------------------------------------------------------- */

static void parse(cq_llm_provider_t p, long status, const char *retry_after, const char *body,
                  int transport, cq_llm_reply_t *out)
{
    cq_llm_parse_reply(p, status, retry_after, body, body ? strlen(body) : 0, transport, 60000,
                       out);
    assert_true(out->message[0] != '\0');
}

static void test_llm_proto_openai_answer(void **state)
{
    cq_llm_reply_t r;
    parse(CQ_LLM_OPENAI, 200, NULL,
          "{\"id\":\"c1\",\"model\":\"gpt-4o-mini-2024\",\"choices\":[{\"index\":0,\"message\":{"
          "\"role\":\"assistant\",\"content\":\"{\\\"alignmentScore\\\":80,\\\"note\\\":null,"
          "\\\"parts\\\":{\\\"a\\\":1,\\\"b\\\":null}}\",\"refusal\":null},\"finish_reason\":"
          "\"stop\"}],\"usage\":{\"prompt_tokens\":321,\"completion_tokens\":45,\"total_tokens\":"
          "366}}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_OK);
    assert_int_equal(r.err, CQ_ERR_OK);
    assert_int_equal(r.prompt_tokens, 321);
    assert_int_equal(r.completion_tokens, 45);
    assert_string_equal(r.model, "gpt-4o-mini-2024");
    assert_int_equal(r.retry_after_ms, -1);
    /* Nulls of left-out optional properties are gone. */
    char *text = json_dumps(r.content, JSON_COMPACT);
    assert_string_equal(text, "{\"alignmentScore\":80,\"parts\":{\"a\":1}}");
    free(text);
    assert_non_null(strstr(r.raw_text, "\"note\":null"));
    cq_llm_reply_clear(&r);
    assert_null(r.content);

    /* Wrapped array, in a code fence as small local models write it. */
    parse(CQ_LLM_OPENAI, 200, NULL,
          "{\"choices\":[{\"message\":{\"content\":\"```json\\n{\\\"items\\\":[{\\\"t\\\":1}]}\\n"
          "```\"},\"finish_reason\":\"stop\"}]}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_OK);
    assert_true(json_is_array(r.content));
    assert_int_equal(json_array_size(r.content), 1);
    assert_int_equal(r.prompt_tokens, 0);
    assert_null(r.model);
    cq_llm_reply_clear(&r);
}

static void test_llm_proto_openai_unusable_answers(void **state)
{
    cq_llm_reply_t r;
    parse(CQ_LLM_OPENAI, 200, NULL,
          "{\"choices\":[{\"message\":{\"content\":\"{\\\"alignmentSc\"},\"finish_reason\":"
          "\"length\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2048}}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    assert_int_equal(r.err, CQ_ERR_INVALID_AI_RESPONSE);
    assert_non_null(strstr(r.message, "cut off at llm.max_tokens"));
    assert_non_null(strstr(r.message, "2048"));
    assert_string_equal(r.raw_text, "{\"alignmentSc");
    assert_null(r.content);
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_OPENAI, 200, NULL,
          "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't help with "
          "that.\"},\"finish_reason\":\"stop\"}]}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_FAIL);
    assert_int_equal(r.err, CQ_ERR_INVALID_AI_RESPONSE);
    assert_false(cq_err_retriable(r.err));
    /* The model's words go to the log only. */
    assert_string_equal(r.message, "the model refused to answer");
    assert_string_equal(r.provider_text, "I can't help with that.");
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_OPENAI, 200, NULL,
          "{\"choices\":[{\"message\":{\"content\":\"Sure! The score is 80.\"},"
          "\"finish_reason\":\"stop\"}]}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    assert_non_null(strstr(r.message, "not JSON"));
    assert_string_equal(r.raw_text, "Sure! The score is 80.");
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_OPENAI, 200, NULL,
          "{\"choices\":[{\"message\":{\"content\":\"{\\\"a\\\":1,\\\"a\\\":2}\"}}]}", 0, &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_OPENAI, 200, NULL, "{\"choices\":[{\"message\":{\"content\":42}}]}", 0, &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    assert_non_null(strstr(r.message, "no answer text"));
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_OPENAI, 200, NULL, "{\"choices\":[]}", 0, &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    assert_non_null(strstr(r.message, "choices"));
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_OPENAI, 200, NULL,
          "{\"choices\":[{\"message\":{\"content\":\"\"},\"finish_reason\":\"content_filter\"}]}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_FAIL);
    assert_non_null(strstr(r.message, "content filter"));
    cq_llm_reply_clear(&r);
}

static void test_llm_proto_anthropic_answer(void **state)
{
    static const char reply[] =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
        "\"claude-sonnet-4-5-20250929\",\"content\":[{\"type\":\"text\",\"text\":\"Here you "
        "go.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"alignment-check\","
        "\"input\":{\"items\":[{\"title\":\"A\",\"extra\":null}]}}],\"stop_reason\":"
        "\"tool_use\",\"usage\":{\"input_tokens\":1200,\"output_tokens\":300}}";
    cq_llm_reply_t r;
    for (int i = 0; i < 2; i++) {
        parse(i ? CQ_LLM_BEDROCK : CQ_LLM_ANTHROPIC, 200, NULL, reply, 0, &r);
        assert_int_equal(r.verdict, CQ_LLM_OK);
        assert_int_equal(r.prompt_tokens, 1200);
        assert_int_equal(r.completion_tokens, 300);
        assert_string_equal(r.model, "claude-sonnet-4-5-20250929");
        char *text = json_dumps(r.content, JSON_COMPACT);
        assert_string_equal(text, "[{\"title\":\"A\"}]"); /* unwrapped, null dropped */
        free(text);
        assert_non_null(strstr(r.raw_text, "\"items\""));
        cq_llm_reply_clear(&r);
    }

    parse(CQ_LLM_ANTHROPIC, 200, NULL,
          "{\"content\":[{\"type\":\"tool_use\",\"name\":\"x\",\"input\":{\"a\":1}}],"
          "\"stop_reason\":\"max_tokens\",\"usage\":{\"input_tokens\":5,\"output_tokens\":64}}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    assert_non_null(strstr(r.message, "cut off"));
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_ANTHROPIC, 200, NULL,
          "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"a\\\":1}\"}],\"stop_reason\":"
          "\"end_turn\"}",
          0, &r);
    /* Text that is JSON is the answer (prompt-only mode). */
    assert_int_equal(r.verdict, CQ_LLM_OK);
    assert_int_equal(json_integer_value(json_object_get(r.content, "a")), 1);
    assert_string_equal(r.raw_text, "{\"a\":1}");
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_ANTHROPIC, 200, NULL,
          "{\"content\":[{\"type\":\"text\",\"text\":\"Here it is: {a: 1}\"}],\"stop_reason\":"
          "\"end_turn\"}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    assert_non_null(strstr(r.message, "tool_use"));
    assert_string_equal(r.raw_text, "Here it is: {a: 1}");
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_ANTHROPIC, 200, NULL,
          "{\"content\":[{\"type\":\"text\",\"text\":\"No.\"}],\"stop_reason\":\"refusal\"}", 0,
          &r);
    assert_int_equal(r.verdict, CQ_LLM_FAIL);
    assert_int_equal(r.err, CQ_ERR_INVALID_AI_RESPONSE);
    cq_llm_reply_clear(&r);
}

static void test_llm_proto_spend_limits_fail(void **state)
{
    cq_llm_reply_t r;
    parse(CQ_LLM_OPENAI, 429, "20",
          "{\"error\":{\"message\":\"You exceeded your current quota, please check your plan and "
          "billing details.\",\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_FAIL);
    assert_int_equal(r.err, CQ_ERR_AI_SERVICE_REJECTED);
    assert_non_null(strstr(r.message, "spend limit"));
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_ANTHROPIC, 400, NULL,
          "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Your "
          "credit balance is too low to access the Anthropic API.\"}}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_FAIL);
    assert_non_null(strstr(r.provider_text, "credit balance"));
    assert_null(strstr(r.message, "credit balance"));
    assert_non_null(strstr(r.message, "spend limit"));
    cq_llm_reply_clear(&r);

    parse(CQ_LLM_ANTHROPIC, 403, NULL,
          "{\"type\":\"error\",\"error\":{\"type\":\"billing_error\",\"message\":\"x\"}}", 0, &r);
    assert_int_equal(r.verdict, CQ_LLM_FAIL);
    assert_non_null(strstr(r.message, "spend limit"));
    cq_llm_reply_clear(&r);

    /* An ordinary rate limit stays retriable. */
    parse(CQ_LLM_OPENAI, 429, NULL,
          "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":"
          "\"rate_limit_exceeded\"}}",
          0, &r);
    assert_int_equal(r.verdict, CQ_LLM_RETRY);
    assert_int_equal(r.err, CQ_ERR_RATE_LIMIT_EXCEEDED);
    cq_llm_reply_clear(&r);
}

static void test_llm_proto_transport_failures(void **state)
{
    assert_int_equal(cq_llm_transport_from_fetch(CQ_FETCH_OK), CQ_LLM_TRANSPORT_OK);
    assert_int_equal(cq_llm_transport_from_fetch(CQ_FETCH_TIMEOUT), CQ_LLM_TRANSPORT_TIMEOUT);
    assert_int_equal(cq_llm_transport_from_fetch(CQ_FETCH_CONNECT), CQ_LLM_TRANSPORT_CONNECT);
    assert_int_equal(cq_llm_transport_from_fetch(CQ_FETCH_RESET), CQ_LLM_TRANSPORT_RESET);
    assert_int_equal(cq_llm_transport_from_fetch(CQ_FETCH_TLS), CQ_LLM_TRANSPORT_TLS);
    assert_int_equal(cq_llm_transport_from_fetch(CQ_FETCH_TOO_LARGE), CQ_LLM_TRANSPORT_TOO_LARGE);
    assert_int_equal(cq_llm_transport_from_fetch(CQ_FETCH_REDIRECTS), CQ_LLM_TRANSPORT_OTHER);
    assert_int_equal(cq_llm_transport_from_fetch(CQ_FETCH_OTHER), CQ_LLM_TRANSPORT_OTHER);
    assert_int_equal(cq_llm_transport_from_fetch(99), CQ_LLM_TRANSPORT_OTHER);

    static const struct {
        cq_llm_transport_t t;
        cq_llm_verdict_t v;
        const char *word;
    } cases[] = {
        {CQ_LLM_TRANSPORT_TIMEOUT, CQ_LLM_RETRY, "timeout"},
        {CQ_LLM_TRANSPORT_CONNECT, CQ_LLM_RETRY, "connect"},
        {CQ_LLM_TRANSPORT_RESET, CQ_LLM_RETRY, "reset"},
        {CQ_LLM_TRANSPORT_OTHER, CQ_LLM_RETRY, "other"},
        {CQ_LLM_TRANSPORT_TLS, CQ_LLM_FAIL, "certificate"},
        {CQ_LLM_TRANSPORT_TOO_LARGE, CQ_LLM_INVALID, "larger"},
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cases); i++) {
        cq_llm_reply_t r;
        parse(CQ_LLM_OPENAI, 0, NULL, NULL, (int)cases[i].t, &r);
        assert_int_equal(r.verdict, cases[i].v);
        if (cases[i].v == CQ_LLM_RETRY)
            assert_int_equal(r.err, CQ_ERR_AI_SERVICE_UNAVAILABLE);
        assert_non_null(strstr(r.message, cases[i].word));
        cq_llm_reply_clear(&r);
    }
}

static void test_llm_proto_retry_after(void **state)
{
    const int64_t date = 784111777000LL; /* Sun, 06 Nov 1994 08:49:37 GMT */
    assert_int_equal(cq_llm_retry_after_ms("2", 0, 60000), 2000);
    assert_int_equal(cq_llm_retry_after_ms(" 1.5 ", 0, 60000), 1500);
    assert_int_equal(cq_llm_retry_after_ms("120", 0, 60000), 60000);
    assert_int_equal(cq_llm_retry_after_ms("99999999999999999999999", 0, 60000), 60000);
    assert_int_equal(cq_llm_retry_after_ms("0", 0, 60000), 0);
    assert_int_equal(cq_llm_retry_after_ms("5", 0, 0), 0);
    assert_int_equal(cq_llm_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", date - 30000, 60000),
                     30000);
    assert_int_equal(cq_llm_retry_after_ms("Sunday, 06-Nov-94 08:49:37 GMT", date - 30000, 60000),
                     30000);
    assert_int_equal(cq_llm_retry_after_ms("Sun Nov  6 08:49:37 1994", date - 30000, 60000), 30000);
    assert_int_equal(cq_llm_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", date - 3600000, 60000),
                     60000);
    assert_int_equal(cq_llm_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", date + 5000, 60000),
                     0); /* already past */
    assert_int_equal(cq_llm_retry_after_ms(NULL, 0, 60000), -1);
    assert_int_equal(cq_llm_retry_after_ms("", 0, 60000), -1);
    assert_int_equal(cq_llm_retry_after_ms("soon", 0, 60000), -1);
    assert_int_equal(cq_llm_retry_after_ms("12abc", 0, 60000), -1);
    assert_int_equal(cq_llm_retry_after_ms("-5", 0, 60000), -1);
    assert_int_equal(cq_llm_retry_after_ms("Sun, 32 Nov 1994 08:49:37 GMT", 0, 60000), -1);
    assert_int_equal(cq_llm_retry_after_ms("Sun, 06 Foo 1994 08:49:37 GMT", 0, 60000), -1);

    /* Through parse_reply, capped at retry_after_max. */
    cq_llm_reply_t r;
    cq_llm_parse_reply(CQ_LLM_ANTHROPIC, 529, "7", "{}", 2, 0, 60000, &r);
    assert_int_equal(r.verdict, CQ_LLM_RETRY);
    assert_int_equal(r.retry_after_ms, 7000);
    cq_llm_reply_clear(&r);
    cq_llm_parse_reply(CQ_LLM_OPENAI, 429, "Fri, 31 Dec 9999 23:59:59 GMT", "{}", 2, 0, 45000, &r);
    assert_int_equal(r.retry_after_ms, 45000);
    cq_llm_reply_clear(&r);
}

static void test_llm_proto_garbage_bodies(void **state)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "[1,2]",
        "null",
        "{\"choices\":\"x\"}",
        "{\"choices\":[null]}",
        "{\"choices\":[{\"message\":[]}]}",
        "{\"content\":\"x\"}",
        "{\"content\":[1,{}]}",
        "{\"content\":[{\"type\":\"tool_use\"}]}",
        "{\"usage\":{\"prompt_tokens\":-5}}",
        "{\"a\":\"\\u0000\"}",
        "\xff\xfe\xfd",
    };
    for (size_t i = 0; i < CQ_ARRAY_SIZE(bodies); i++) {
        for (int p = CQ_LLM_OPENAI; p <= CQ_LLM_BEDROCK; p++) {
            cq_llm_reply_t r;
            parse((cq_llm_provider_t)p, 200, NULL, bodies[i], 0, &r);
            assert_int_equal(r.verdict, CQ_LLM_INVALID);
            assert_int_equal(r.err, CQ_ERR_INVALID_AI_RESPONSE);
            assert_null(r.content);
            assert_true(r.prompt_tokens >= 0);
            cq_llm_reply_clear(&r);
        }
    }
    /* NULL body with a length, and a body over the cap. */
    cq_llm_reply_t r;
    cq_llm_parse_reply(CQ_LLM_OPENAI, 200, NULL, NULL, 100, 0, 1000, &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    cq_llm_reply_clear(&r);
    size_t big_len = CQ_LLM_REPLY_MAX + 1;
    char *big = malloc(big_len);
    memset(big, ' ', big_len);
    big[0] = '{';
    big[big_len - 1] = '}';
    cq_llm_parse_reply(CQ_LLM_OPENAI, 200, NULL, big, big_len, 0, 1000, &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    assert_non_null(strstr(r.message, "larger"));
    cq_llm_reply_clear(&r);
    free(big);

    /* Random bytes and byte-flipped real replies: a verdict, never a crash. */
    static const char real[] =
        "{\"model\":\"m\",\"content\":[{\"type\":\"tool_use\",\"input\":{\"items\":[{\"a\":"
        "null}]}}],\"choices\":[{\"message\":{\"content\":\"{\\\"x\\\":[1,null]}\"}}],"
        "\"usage\":{\"input_tokens\":1,\"prompt_tokens\":2}}";
    unsigned int seed = 12345;
    char buf[sizeof(real)];
    for (int i = 0; i < 3000; i++) {
        memcpy(buf, real, sizeof(real));
        int flips = 1 + (int)(rand_r(&seed) % 4);
        for (int k = 0; k < flips; k++)
            buf[rand_r(&seed) % (sizeof(real) - 1)] = (char)(rand_r(&seed) % 256);
        size_t len = i % 3 == 0 ? rand_r(&seed) % sizeof(real) : sizeof(real) - 1;
        cq_llm_provider_t p = (cq_llm_provider_t)(CQ_LLM_OPENAI + i % 3);
        long status = i % 5 == 0 ? 500 : 200;
        cq_llm_parse_reply(p, status, i % 7 == 0 ? buf : NULL, buf, len, 0, 1000, &r);
        assert_true(r.verdict >= CQ_LLM_OK && r.verdict <= CQ_LLM_INVALID);
        assert_true(r.verdict != CQ_LLM_OK || r.content != NULL);
        assert_true(r.retry_after_ms >= -1 && r.retry_after_ms <= 1000);
        cq_llm_reply_clear(&r);
    }
}

static void test_llm_proto_clear_is_safe(void **state)
{
    cq_llm_http_t http;
    memset(&http, 0, sizeof(http));
    cq_llm_http_clear(&http);
    cq_llm_http_clear(&http);
    cq_llm_http_clear(NULL);
    cq_llm_reply_t r;
    memset(&r, 0, sizeof(r));
    cq_llm_reply_clear(&r);
    assert_int_equal(r.retry_after_ms, -1);
    cq_llm_reply_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llm_proto_provider_names),
        cmocka_unit_test_setup_teardown(test_llm_proto_openai_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llm_proto_converted_schemas_kept_per_schema_and_shape,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_llm_proto_openai_local_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llm_proto_array_results_are_wrapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llm_proto_anthropic_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llm_proto_bedrock_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llm_proto_repair_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llm_proto_user_prompt_recovered_from_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_llm_proto_build_errors, setup, teardown),
        cmocka_unit_test(test_llm_proto_openai_answer),
        cmocka_unit_test(test_llm_proto_openai_unusable_answers),
        cmocka_unit_test(test_llm_proto_anthropic_answer),
        cmocka_unit_test(test_llm_proto_spend_limits_fail),
        cmocka_unit_test(test_llm_proto_transport_failures),
        cmocka_unit_test(test_llm_proto_retry_after),
        cmocka_unit_test(test_llm_proto_garbage_bodies),
        cmocka_unit_test(test_llm_proto_clear_is_safe),
    };
    return cmocka_run_group_tests_name("llm_proto", tests, NULL, NULL);
}
