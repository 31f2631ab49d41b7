/*
 * Unit tests of the structured-output modes of the LLM wire formats: the
 * mode a provider starts with and where auto falls back to, the request
 * each mode builds (json_object with a grammar-friendly schema, prompt-only
 * with the schema in the system prompt, for OpenAI and Anthropic), the
 * detection of a server refusing the mode (llama-cpp-python's HTTP 500
 * among others) and the sanitising of provider error text: job messages in
 * our words, the provider's text kept apart for the log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cq_embedded.h"
#include "cq_llm_proto.h"
#include "cq_llm_schema.h"

typedef struct {
    json_t *doc;
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

static cq_llm_prompt_t prompt_for(fixture_t *f, cq_llm_mode_t mode)
{
    cq_llm_prompt_t prompt = {
        .system = "You are a coach.",
        .user = "Score this goal.",
        .result_schema =
            json_object_get(json_object_get(json_object_get(f->doc, "components"), "schemas"),
                            "AlignmentExplanationResult"),
        .schema_name = "alignment-explanation",
        .schema_document = f->doc,
        .mode = mode,
    };
    return prompt;
}

static json_t *build(fixture_t *f, cq_llm_provider_t p, cq_llm_mode_t mode)
{
    cq_llm_prompt_t prompt = prompt_for(f, mode);
    cq_llm_http_t http;
    char err[256];
    if (cq_llm_build_request(f->conf, p, &prompt, &http, err, sizeof(err)) != CQ_ERR_OK)
        fail_msg("build: %s", err);
    json_t *body = json_loadb(http.body, http.body_len, 0, NULL);
    assert_non_null(body);
    cq_llm_http_clear(&http);
    return body;
}

/* The largest value of key (maxLength, maxItems) anywhere in v, and
 * whether a pattern or format keyword is left. */
static json_int_t max_bound(const json_t *v, const char *key, bool *regex)
{
    json_int_t m = 0;
    if (json_is_object(v)) {
        json_t *b = json_object_get(v, key);
        if (json_is_integer(b))
            m = json_integer_value(b);
        if (json_is_string(json_object_get(v, "pattern")) ||
            json_is_string(json_object_get(v, "format")))
            *regex = true;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            json_int_t sub = max_bound(json_object_iter_value(it), key, regex);
            m = sub > m ? sub : m;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_int_t sub = max_bound(json_array_get(v, i), key, regex);
            m = sub > m ? sub : m;
        }
    }
    return m;
}

static void test_llm_modes_select_defaults_and_fallbacks(void **state)
{
    (void)state;
    cq_llm_mode_t m;
    char err[256];
    assert_int_equal(cq_llm_mode_select(CQ_LLM_OPENAI, "auto", &m, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(m, CQ_LLM_MODE_JSON_SCHEMA);
    assert_int_equal(cq_llm_mode_select(CQ_LLM_ANTHROPIC, "", &m, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(m, CQ_LLM_MODE_TOOL);
    assert_int_equal(cq_llm_mode_select(CQ_LLM_BEDROCK, NULL, &m, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(m, CQ_LLM_MODE_TOOL);
    assert_int_equal(cq_llm_mode_select(CQ_LLM_OPENAI, "JSON_OBJECT", &m, err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(m, CQ_LLM_MODE_JSON_OBJECT);
    assert_int_equal(cq_llm_mode_select(CQ_LLM_ANTHROPIC, "prompt", &m, err, sizeof(err)),
                     CQ_ERR_OK);
    assert_int_equal(m, CQ_LLM_MODE_PROMPT);

    /* Modes a provider cannot take, and unknown names, are config errors. */
    assert_int_equal(cq_llm_mode_select(CQ_LLM_OPENAI, "tool", &m, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "openai"));
    assert_int_equal(cq_llm_mode_select(CQ_LLM_ANTHROPIC, "json_schema", &m, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_int_equal(cq_llm_mode_select(CQ_LLM_BEDROCK, "json_object", &m, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_int_equal(cq_llm_mode_select(CQ_LLM_OPENAI, "grammar", &m, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_non_null(strstr(err, "grammar"));

    /* json_schema -> json_object -> prompt, and no further. */
    cq_llm_mode_t next;
    assert_true(cq_llm_mode_next(CQ_LLM_MODE_JSON_SCHEMA, &next));
    assert_int_equal(next, CQ_LLM_MODE_JSON_OBJECT);
    assert_true(cq_llm_mode_next(CQ_LLM_MODE_JSON_OBJECT, &next));
    assert_int_equal(next, CQ_LLM_MODE_PROMPT);
    assert_false(cq_llm_mode_next(CQ_LLM_MODE_PROMPT, &next));
    assert_false(cq_llm_mode_next(CQ_LLM_MODE_TOOL, &next));
    assert_string_equal(cq_llm_mode_name(CQ_LLM_MODE_JSON_OBJECT), "json_object");
    assert_string_equal(cq_llm_mode_name((cq_llm_mode_t)9), "unknown");
}

/* json_object: llama.cpp's response_format, schema in the grammar shape. */
static void test_llm_modes_json_object_request(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.base_url", "http://127.0.0.1:1/v1");
    json_t *body = build(f, CQ_LLM_OPENAI, CQ_LLM_MODE_JSON_OBJECT);
    json_t *rf = json_object_get(body, "response_format");
    assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_object");
    assert_null(json_object_get(rf, "json_schema"));
    json_t *schema = json_object_get(rf, "schema");
    assert_string_equal(json_string_value(json_object_get(schema, "type")), "object");
    bool regex = false;
    /* Clamped, not dropped: the grammar still stops the model. */
    assert_int_equal(max_bound(schema, "maxLength", &regex), CQ_LLM_SCHEMA_GRAMMAR_MAX_LENGTH);
    assert_true(max_bound(schema, "maxItems", &regex) <= CQ_LLM_SCHEMA_GRAMMAR_MAX_ITEMS);
    assert_false(regex);
    /* The full contract schema has bounds far above them (the validator keeps them). */
    const json_t *full =
        json_object_get(json_object_get(json_object_get(f->doc, "components"), "schemas"),
                        "AlignmentExplanationResult");
    bool full_regex = false;
    assert_true(max_bound(full, "maxLength", &full_regex) > CQ_LLM_SCHEMA_GRAMMAR_MAX_LENGTH);
    const char *sys = json_string_value(
        json_object_get(json_array_get(json_object_get(body, "messages"), 0), "content"));
    assert_non_null(strstr(sys, "You are a coach."));
    assert_non_null(strstr(sys, "JSON object only"));
    json_decref(body);
}

/* prompt: no response_format, no tools; the schema is in the system prompt. */
static void test_llm_modes_prompt_request(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.model", "m");
    set(f->conf, "llm.api_key", "k");
    json_t *body = build(f, CQ_LLM_OPENAI, CQ_LLM_MODE_PROMPT);
    assert_null(json_object_get(body, "response_format"));
    json_t *msgs = json_object_get(body, "messages");
    const char *sys = json_string_value(json_object_get(json_array_get(msgs, 0), "content"));
    assert_non_null(strstr(sys, "valid against this JSON Schema:\n{"));
    assert_non_null(strstr(sys, "\"explanation\""));
    assert_null(strstr(sys, "\"pattern\":\""));
    /* The user turn is untouched, so a repair can recover it. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "Score this goal.");
    json_decref(body);

    body = build(f, CQ_LLM_ANTHROPIC, CQ_LLM_MODE_PROMPT);
    assert_null(json_object_get(body, "tools"));
    assert_null(json_object_get(body, "tool_choice"));
    assert_non_null(
        strstr(json_string_value(json_object_get(body, "system")), "valid against this JSON"));
    json_decref(body);

    /* Tool mode is unchanged by all this. */
    body = build(f, CQ_LLM_ANTHROPIC, CQ_LLM_MODE_AUTO);
    assert_non_null(json_object_get(body, "tool_choice"));
    assert_string_equal(json_string_value(json_object_get(body, "system")), "You are a coach.");
    json_decref(body);
}

static void test_llm_modes_build_refuses_foreign_mode(void **state)
{
    fixture_t *f = *state;
    set(f->conf, "llm.model", "m");
    set(f->conf, "llm.api_key", "k");
    cq_llm_prompt_t prompt = prompt_for(f, CQ_LLM_MODE_TOOL);
    cq_llm_http_t http;
    char err[256];
    assert_int_equal(cq_llm_build_request(f->conf, CQ_LLM_OPENAI, &prompt, &http, err, sizeof(err)),
                     CQ_ERR_CONFIG);
    assert_null(http.body);
    prompt.mode = CQ_LLM_MODE_JSON_SCHEMA;
    assert_int_equal(
        cq_llm_build_request(f->conf, CQ_LLM_ANTHROPIC, &prompt, &http, err, sizeof(err)),
        CQ_ERR_CONFIG);
}

static void parse(long status, const char *body, cq_llm_reply_t *out)
{
    cq_llm_parse_reply(CQ_LLM_OPENAI, status, NULL, body, body ? strlen(body) : 0,
                       CQ_LLM_TRANSPORT_OK, 60000, out);
}

/* What llama-cpp-python's server answers to response_format json_schema. */
#define LLAMA_500                                                                                  \
    "{\"error\":{\"message\":\"1 validation error for "                                            \
    "ChatCompletionRequestResponseFormat\\ntype\\n"                                                \
    "  Input should be 'text' or 'json_object' [type=literal_error, input_value='json_schema'] "   \
    "File \\\"/srv/venv/lib/python3.11/site-packages/llama_cpp/server/app.py\\\", line 513\","     \
    "\"type\":\"internal_server_error\",\"param\":null,\"code\":null}}"

static void test_llm_modes_format_refusal_detected(void **state)
{
    (void)state;
    cq_llm_reply_t r;
    parse(500, LLAMA_500, &r);
    assert_true(r.format_refused);
    /* Our words for the job: status, class, the error type; no path. */
    assert_string_equal(r.message, "openai answered HTTP 500, server error, internal_server_error "
                                   "(structured output refused)");
    assert_null(strstr(r.message, "/srv"));
    assert_non_null(strstr(r.provider_text, "llama_cpp/server/app.py"));
    assert_null(strchr(r.provider_text, '\n'));
    cq_llm_reply_clear(&r);

    static const char *const refusals[] = {
        "{\"error\":{\"message\":\"response_format json_schema is not supported\"}}",
        "{\"error\":{\"message\":\"Invalid schema for response_format 'x'\"}}",
        "{\"detail\":\"x\",\"error\":\"failed to compile grammar\"}",
        "json_schema not implemented", /* not even JSON */
    };
    static const long statuses[] = {400, 400, 500, 501};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(refusals); i++) {
        parse(statuses[i], refusals[i], &r);
        if (!r.format_refused)
            fail_msg("not seen as a refusal: HTTP %ld %s", statuses[i], refusals[i]);
        cq_llm_reply_clear(&r);
    }

    /* Not refusals: other statuses, other causes. A transient 5xx stays retriable. */
    parse(503, "{\"error\":{\"message\":\"schema cache warming up\"}}", &r);
    assert_false(r.format_refused);
    assert_int_equal(r.verdict, CQ_LLM_RETRY);
    cq_llm_reply_clear(&r);
    parse(500, "{\"error\":{\"message\":\"CUDA out of memory\"}}", &r);
    assert_false(r.format_refused);
    assert_int_equal(r.verdict, CQ_LLM_RETRY);
    cq_llm_reply_clear(&r);
    parse(401, "{\"error\":{\"message\":\"bad key for json_schema\"}}", &r);
    assert_false(r.format_refused);
    cq_llm_reply_clear(&r);
    parse(200, "{\"choices\":[{\"message\":{\"content\":\"{}\"},\"finish_reason\":\"stop\"}]}", &r);
    assert_false(r.format_refused);
    cq_llm_reply_clear(&r);
}

static void test_llm_modes_provider_text_sanitised(void **state)
{
    (void)state;
    cq_llm_reply_t r;
    /* A long traceback: cut to the field, control characters blanked. */
    char body[2048];
    char text[1500];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    memcpy(text, "Traceback\\n  File", 17);
    snprintf(body, sizeof(body), "{\"error\":{\"message\":\"%s\",\"type\":\"not an identifier!\"}}",
             text);
    parse(500, body, &r);
    assert_int_equal(strlen(r.provider_text), sizeof(r.provider_text) - 1);
    assert_null(strchr(r.provider_text, '\n'));
    assert_true(strncmp(r.provider_text, "Traceback   File", 16) == 0);
    /* An error type that is not an identifier is not repeated either. */
    assert_string_equal(r.message, "openai answered HTTP 500, server error");
    cq_llm_reply_clear(&r);

    /* A body that is not a JSON error is the provider text. */
    parse(502, "<html>Bad Gateway at /etc/nginx</html>", &r);
    assert_string_equal(r.provider_text, "<html>Bad Gateway at /etc/nginx</html>");
    assert_string_equal(r.message, "openai answered HTTP 502, server error");
    cq_llm_reply_clear(&r);

    parse(404, "{\"error\":{\"message\":\"model 'x' not found at /models/x.gguf\"}}", &r);
    assert_string_equal(r.message, "openai answered HTTP 404, not found: check llm.base_url and "
                                   "llm.model");
    cq_llm_reply_clear(&r);
}

static void parse_as(cq_llm_provider_t p, long status, const char *retry_after, const char *body,
                     int transport, cq_llm_reply_t *out)
{
    cq_llm_parse_reply(p, status, retry_after, body, body ? strlen(body) : 0, transport, 60000,
                       out);
    assert_true(out->message[0] != '\0');
}

/* Retriable and permanent statuses; every message in our words. */
static void test_llm_modes_status_classes_in_our_words(void **state)
{
    static const long retry[] = {408, 409, 425, 429, 500, 502, 503, 504, 529};
    static const long fail[] = {400, 401, 403, 404, 413, 422};
    cq_llm_reply_t r;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(retry); i++) {
        parse_as(CQ_LLM_ANTHROPIC, retry[i], NULL,
                 "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                 "\"Overloaded\"}}",
                 0, &r);
        assert_int_equal(r.verdict, CQ_LLM_RETRY);
        assert_int_equal(r.err, retry[i] == 429 ? CQ_ERR_RATE_LIMIT_EXCEEDED
                                                : CQ_ERR_AI_SERVICE_UNAVAILABLE);
        assert_true(cq_err_retriable(r.err));
        /* Our words and the provider's error type; its text only for the log. */
        assert_non_null(strstr(r.message, "overloaded_error"));
        assert_null(strstr(r.message, "Overloaded"));
        assert_string_equal(r.provider_text, "Overloaded");
        cq_llm_reply_clear(&r);
    }
    for (size_t i = 0; i < CQ_ARRAY_SIZE(fail); i++) {
        parse_as(CQ_LLM_OPENAI, fail[i], NULL,
                 "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
                 "\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
                 0, &r);
        assert_int_equal(r.verdict, CQ_LLM_FAIL);
        assert_int_equal(r.err, CQ_ERR_AI_SERVICE_REJECTED);
        assert_false(cq_err_retriable(r.err));
        char expect[64];
        snprintf(expect, sizeof(expect), "openai answered HTTP %ld, ", fail[i]);
        assert_non_null(strstr(r.message, expect));
        assert_non_null(strstr(r.message, "invalid_request_error"));
        assert_null(strstr(r.message, "Incorrect API key"));
        assert_string_equal(r.provider_text, "Incorrect API key provided");
        assert_false(r.format_refused);
        cq_llm_reply_clear(&r);
    }
    /* Bedrock's error shape, and an HTML error page from a proxy. */
    parse_as(CQ_LLM_BEDROCK, 403, NULL, "{\"message\":\"The security token included is invalid.\"}",
             0, &r);
    assert_int_equal(r.verdict, CQ_LLM_FAIL);
    assert_null(strstr(r.message, "security token"));
    assert_non_null(strstr(r.provider_text, "security token"));
    cq_llm_reply_clear(&r);
    parse_as(CQ_LLM_OPENAI, 502, NULL, "<html><body>Bad Gateway</body></html>", 0, &r);
    assert_int_equal(r.verdict, CQ_LLM_RETRY);
    assert_non_null(strstr(r.message, "HTTP 502"));
    cq_llm_reply_clear(&r);
    parse_as(CQ_LLM_OPENAI, 501, NULL, NULL, 0, &r);
    assert_int_equal(r.verdict, CQ_LLM_FAIL);
    cq_llm_reply_clear(&r);
}

/* Prompt-only answers from small models: prose around one JSON object. */
static void test_llm_modes_prose_around_answer(void **state)
{
    (void)state;
    cq_llm_reply_t r;
    parse(200,
          "{\"choices\":[{\"message\":{\"content\":\"Sure! Here it is: {\\\"a\\\": 1} Hope it "
          "helps.\"},\"finish_reason\":\"stop\"}]}",
          &r);
    assert_int_equal(r.verdict, CQ_LLM_OK);
    assert_int_equal(json_integer_value(json_object_get(r.content, "a")), 1);
    cq_llm_reply_clear(&r);
    /* A bare newline inside a string (grammar-constrained servers allow it). */
    parse(200,
          "{\"choices\":[{\"message\":{\"content\":\"{\\\"a\\\": \\\"x\\ny "
          "\\\\\\\"q\\\\\\\"\\\"}\\n\"},"
          "\"finish_reason\":\"stop\"}]}",
          &r);
    assert_int_equal(r.verdict, CQ_LLM_OK);
    assert_string_equal(json_string_value(json_object_get(r.content, "a")), "x\ny \"q\"");
    cq_llm_reply_clear(&r);
    parse(200,
          "{\"choices\":[{\"message\":{\"content\":\"Sure! {a: 1}\"},\"finish_reason\":\"stop\"}]}",
          &r);
    assert_int_equal(r.verdict, CQ_LLM_INVALID);
    assert_non_null(strstr(r.message, "not JSON"));
    cq_llm_reply_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llm_modes_select_defaults_and_fallbacks),
        cmocka_unit_test_setup_teardown(test_llm_modes_json_object_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llm_modes_prompt_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_llm_modes_build_refuses_foreign_mode, setup, teardown),
        cmocka_unit_test(test_llm_modes_format_refusal_detected),
        cmocka_unit_test(test_llm_modes_provider_text_sanitised),
        cmocka_unit_test(test_llm_modes_status_classes_in_our_words),
        cmocka_unit_test(test_llm_modes_prose_around_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
