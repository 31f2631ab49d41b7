/*
 * cq_llm_proto.c — LLM provider requests (see cq_llm_proto.h; replies are
 * read in cq_llm_reply.c).
 *
 * One JSON body per provider, built with jansson. The structured-output
 * mode decides where the result schema goes, shaped by cq_llm_schema:
 * json_schema (strict shape) and json_object (grammar shape) in OpenAI's
 * response_format, tool (plain shape) as Anthropic's forced tool, prompt
 * (grammar shape) as text in the system prompt. json_object and prompt
 * also tell the model in the system prompt to answer with JSON only.
 * Bedrock requests are signed by cq_sigv4. A repair attempt replays the
 * previous answer as the assistant turn and says what was wrong with it
 * in a last user turn.
 *
 * Stateless; any thread. Nothing here logs: headers hold secrets, and
 * bodies are logged (at debug) by the engine if at all.
 */
#include "cq_llm_proto.h"
#include "cq_llm_schema.h"
#include "cq_sigv4.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CQ_LLM_OPENAI_BASE       "https://api.openai.com/v1"
#define CQ_LLM_ANTHROPIC_BASE    "https://api.anthropic.com"
#define CQ_LLM_ANTHROPIC_VERSION "2023-06-01"
#define CQ_LLM_BEDROCK_VERSION   "bedrock-2023-05-31"
#define CQ_LLM_TEMPERATURE       0.2

static const char *const cq_llm_provider_names[] = {"builtin", "openai", "anthropic", "bedrock"};

bool cq_llm_provider_parse(const char *name, cq_llm_provider_t *out)
{
    for (size_t i = 0; name && i < CQ_ARRAY_SIZE(cq_llm_provider_names); i++) {
        if (strcasecmp(name, cq_llm_provider_names[i]) == 0) {
            *out = (cq_llm_provider_t)i;
            return true;
        }
    }
    return false;
}

const char *cq_llm_provider_name(cq_llm_provider_t p)
{
    return (unsigned)p < CQ_ARRAY_SIZE(cq_llm_provider_names) ? cq_llm_provider_names[p]
                                                              : "unknown";
}

static const char *const cq_llm_mode_names[] = {"auto", "json_schema", "json_object", "tool",
                                                "prompt"};

bool cq_llm_mode_parse(const char *name, cq_llm_mode_t *out)
{
    for (size_t i = 0; name && i < CQ_ARRAY_SIZE(cq_llm_mode_names); i++) {
        if (strcasecmp(name, cq_llm_mode_names[i]) == 0) {
            *out = (cq_llm_mode_t)i;
            return true;
        }
    }
    return false;
}

const char *cq_llm_mode_name(cq_llm_mode_t m)
{
    return (unsigned)m < CQ_ARRAY_SIZE(cq_llm_mode_names) ? cq_llm_mode_names[m] : "unknown";
}

/* Whether provider p can be asked for an answer in mode m. */
static bool cq_llm_mode_fits(cq_llm_provider_t p, cq_llm_mode_t m)
{
    switch (m) {
    case CQ_LLM_MODE_JSON_SCHEMA:
    case CQ_LLM_MODE_JSON_OBJECT:
        return p == CQ_LLM_OPENAI;
    case CQ_LLM_MODE_TOOL:
        return p == CQ_LLM_ANTHROPIC || p == CQ_LLM_BEDROCK;
    case CQ_LLM_MODE_PROMPT:
        return p == CQ_LLM_OPENAI || p == CQ_LLM_ANTHROPIC || p == CQ_LLM_BEDROCK;
    default:
        return false;
    }
}

static cq_llm_mode_t cq_llm_mode_default(cq_llm_provider_t p)
{
    return p == CQ_LLM_OPENAI ? CQ_LLM_MODE_JSON_SCHEMA : CQ_LLM_MODE_TOOL;
}

cq_err_t cq_llm_mode_select(cq_llm_provider_t p, const char *configured, cq_llm_mode_t *out,
                            char *errstr, size_t errstr_size)
{
    cq_llm_mode_t m = CQ_LLM_MODE_AUTO;
    if (configured && *configured && !cq_llm_mode_parse(configured, &m)) {
        cq_errstr_set(errstr, errstr_size,
                      "llm.structured_output \"%s\" is not auto, json_schema, json_object, tool "
                      "or prompt",
                      configured);
        return CQ_ERR_CONFIG;
    }
    if (m == CQ_LLM_MODE_AUTO)
        m = cq_llm_mode_default(p);
    if (!cq_llm_mode_fits(p, m)) {
        cq_errstr_set(errstr, errstr_size,
                      "llm.structured_output=%s does not work with provider %s (%s)",
                      cq_llm_mode_name(m), cq_llm_provider_name(p),
                      p == CQ_LLM_OPENAI ? "json_schema, json_object or prompt" : "tool or prompt");
        return CQ_ERR_CONFIG;
    }
    *out = m;
    return CQ_ERR_OK;
}

bool cq_llm_mode_next(cq_llm_mode_t mode, cq_llm_mode_t *next)
{
    if (mode == CQ_LLM_MODE_JSON_SCHEMA)
        *next = CQ_LLM_MODE_JSON_OBJECT;
    else if (mode == CQ_LLM_MODE_JSON_OBJECT)
        *next = CQ_LLM_MODE_PROMPT;
    else
        return false;
    return true;
}

void cq_llm_http_clear(cq_llm_http_t *http)
{
    if (!http)
        return;
    for (size_t i = 0; i < http->header_count; i++) {
        /* Headers hold keys and signatures: wipe them before freeing. */
        explicit_bzero(http->headers[i], strlen(http->headers[i]));
        free(http->headers[i]);
    }
    free(http->headers);
    free(http->url);
    free(http->body);
    memset(http, 0, sizeof(*http));
}

/* ---- requests ---------------------------------------------------------- */

static void cq_llm_header_add(cq_llm_http_t *http, char *line)
{
    http->headers = cq_realloc(http->headers, (http->header_count + 1) * sizeof(*http->headers));
    http->headers[http->header_count++] = line;
}

static bool cq_llm_has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* The configured base URL without trailing '/', or the provider's default. */
static char *cq_llm_base(const cq_config_t *conf, const char *fallback, char *errstr,
                         size_t errstr_size)
{
    const char *base = conf->llm_base_url && *conf->llm_base_url ? conf->llm_base_url : fallback;
    if ((strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) ||
        cq_llm_has_ctl(base) || strpbrk(base, " ?#")) {
        cq_errstr_set(errstr, errstr_size,
                      "llm.base_url must be an http:// or https:// URL without query");
        return NULL;
    }
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    return cq_strndup(base, len);
}

/* Tool and json_schema names: ^[A-Za-z0-9_-]{1,64}$ for both providers. */
static void cq_llm_schema_name(const char *name, char out[65])
{
    size_t n = 0;
    for (const char *p = name ? name : ""; *p && n < 64; p++)
        out[n++] = isalnum((unsigned char)*p) || *p == '-' || *p == '_' ? *p : '_';
    out[n] = '\0';
    if (n == 0)
        cq_strlcpy(out, "result", 65);
}

/* A JSON string; null with *bad set when s is not valid UTF-8. */
static json_t *cq_llm_str(const char *s, bool *bad)
{
    json_t *v = json_string(s);
    if (!v)
        *bad = true;
    return v ? v : json_null();
}

static json_t *cq_llm_message(const char *role, const char *content, bool *bad)
{
    return json_pack("{s:s, s:o}", "role", role, "content", cq_llm_str(content, bad));
}

/* The conversation; the system prompt (system, the operation's plus the
 * mode's instructions) is a message only for OpenAI. */
static json_t *cq_llm_messages(const cq_llm_prompt_t *prompt, const char *system,
                               bool system_message, bool *bad)
{
    json_t *msgs = json_array();
    if (system_message && system && *system)
        json_array_append_new(msgs, cq_llm_message("system", system, bad));
    bool replay = prompt->previous_answer && *prompt->previous_answer;
    if (!replay && !prompt->repair_note) {
        json_array_append_new(msgs, cq_llm_message("user", prompt->user, bad));
        return msgs;
    }
    char *repair = cq_asprintf(
        "Your previous answer was rejected: %s\nAnswer again with the complete result in the "
        "required JSON structure, fixing exactly these problems and changing nothing else.",
        prompt->repair_note ? prompt->repair_note : "it did not match the required structure.");
    if (replay) {
        json_array_append_new(msgs, cq_llm_message("user", prompt->user, bad));
        json_array_append_new(msgs, cq_llm_message("assistant", prompt->previous_answer, bad));
        json_array_append_new(msgs, cq_llm_message("user", repair, bad));
    } else {
        char *both = cq_asprintf("%s\n\n%s", prompt->user, repair);
        json_array_append_new(msgs, cq_llm_message("user", both, bad));
        free(both);
    }
    free(repair);
    return msgs;
}

/* Result schemas converted for the model, kept: converting walks and
 * copies the whole schema, and every call of an operation used to redo it
 * for the same schema and shape. Keyed by the schema and document objects,
 * which the memo holds a reference to, so an address is never reused for
 * another schema while it is remembered; past CQ_LLM_MEMO_MAX entries
 * schemas are converted per call as before. The converted schemas are
 * shared and never changed (the bodies only take references). */
#define CQ_LLM_MEMO_MAX 64

static struct {
    json_t *schema, *document, *converted;
    cq_llm_shape_t shape;
} cq_llm_memo[CQ_LLM_MEMO_MAX];
static size_t cq_llm_memo_count;
static pthread_mutex_t cq_llm_memo_lock = PTHREAD_MUTEX_INITIALIZER;

/* cq_llm_schema_convert, remembered. A new reference, or NULL with err. */
static json_t *cq_llm_schema_for(const json_t *schema, const json_t *document, cq_llm_shape_t shape,
                                 char *err, size_t err_size)
{
    json_t *found = NULL;
    pthread_mutex_lock(&cq_llm_memo_lock);
    for (size_t i = 0; i < cq_llm_memo_count && !found; i++)
        if (cq_llm_memo[i].schema == schema && cq_llm_memo[i].document == document &&
            cq_llm_memo[i].shape == shape)
            found = json_incref(cq_llm_memo[i].converted);
    pthread_mutex_unlock(&cq_llm_memo_lock);
    if (found)
        return found;
    json_t *converted = cq_llm_schema_convert(schema, document, shape, err, err_size);
    if (!converted || !schema)
        return converted;
    pthread_mutex_lock(&cq_llm_memo_lock);
    if (cq_llm_memo_count < CQ_LLM_MEMO_MAX) {
        cq_llm_memo[cq_llm_memo_count].schema = json_incref((json_t *)schema);
        cq_llm_memo[cq_llm_memo_count].document = json_incref((json_t *)document);
        cq_llm_memo[cq_llm_memo_count].converted = json_incref(converted);
        cq_llm_memo[cq_llm_memo_count].shape = shape;
        cq_llm_memo_count++;
    }
    pthread_mutex_unlock(&cq_llm_memo_lock);
    return converted;
}

/* The system prompt of a mode: the operation's, plus how to answer when
 * nothing but the prompt says it (json_object: JSON only; prompt: JSON only,
 * valid against the schema, which follows). Caller frees. */
static char *cq_llm_system_text(const cq_llm_prompt_t *prompt, cq_llm_mode_t mode,
                                const json_t *schema)
{
    const char *sys = prompt->system ? prompt->system : "";
    const char *sep = *sys ? "\n\n" : "";
    if (mode == CQ_LLM_MODE_JSON_OBJECT)
        return cq_asprintf("%s%sAnswer with one JSON object only, no other text, following the "
                           "response format's JSON Schema.",
                           sys, sep);
    if (mode != CQ_LLM_MODE_PROMPT)
        return cq_strdup(sys);
    char *text = json_dumps(schema, JSON_COMPACT);
    char *out = cq_asprintf("%s%sAnswer with one JSON object only: no prose, no code fence. It "
                            "must be valid against this JSON Schema:\n%s",
                            sys, sep, text ? text : "{}");
    free(text);
    return out;
}

static json_t *cq_llm_body_openai(const cq_config_t *conf, const cq_llm_prompt_t *prompt,
                                  cq_llm_mode_t mode, json_t *schema, const char *name, bool *bad)
{
    json_t *body = json_object();
    char *system = cq_llm_system_text(prompt, mode, schema);
    if (conf->llm_model && *conf->llm_model)
        json_object_set_new(body, "model", cq_llm_str(conf->llm_model, bad));
    json_object_set_new(body, "messages", cq_llm_messages(prompt, system, true, bad));
    json_object_set_new(body, "max_tokens", json_integer(conf->llm_max_tokens));
    json_object_set_new(body, "temperature", json_real(CQ_LLM_TEMPERATURE));
    if (mode == CQ_LLM_MODE_JSON_SCHEMA)
        json_object_set_new(body, "response_format",
                            json_pack("{s:s, s:{s:s, s:b, s:O}}", "type", "json_schema",
                                      "json_schema", "name", name, "strict", 1, "schema", schema));
    else if (mode == CQ_LLM_MODE_JSON_OBJECT)
        /* The shape llama.cpp servers (and several OpenAI-compatible
         * gateways) take: JSON mode constrained by a grammar built from schema. */
        json_object_set_new(body, "response_format",
                            json_pack("{s:s, s:O}", "type", "json_object", "schema", schema));
    free(system);
    return body;
}

static json_t *cq_llm_body_anthropic(const cq_config_t *conf, const cq_llm_prompt_t *prompt,
                                     cq_llm_mode_t mode, json_t *schema, const char *name,
                                     bool bedrock, bool *bad)
{
    json_t *body = json_object();
    char *system = cq_llm_system_text(prompt, mode, schema);
    if (bedrock)
        json_object_set_new(body, "anthropic_version", json_string(CQ_LLM_BEDROCK_VERSION));
    else
        json_object_set_new(body, "model", cq_llm_str(conf->llm_model, bad));
    json_object_set_new(body, "max_tokens", json_integer(conf->llm_max_tokens));
    json_object_set_new(body, "temperature", json_real(CQ_LLM_TEMPERATURE));
    if (*system)
        json_object_set_new(body, "system", cq_llm_str(system, bad));
    json_object_set_new(body, "messages", cq_llm_messages(prompt, system, false, bad));
    if (mode == CQ_LLM_MODE_TOOL) {
        json_object_set_new(
            body, "tools",
            json_pack("[{s:s, s:s, s:O}]", "name", name, "description",
                      "Records the result. Call it exactly once, with the complete answer as its "
                      "input; the input is the whole response.",
                      "input_schema", schema));
        json_object_set_new(body, "tool_choice",
                            json_pack("{s:s, s:s}", "type", "tool", "name", name));
    }
    free(system);
    return body;
}

/* Percent-encodes everything but unreserved characters (a model id in a path). */
static char *cq_llm_urlencode(const char *s)
{
    char *out = cq_malloc(strlen(s) * 3 + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            snprintf(o, 4, "%%%02X", *p);
            o += 3;
        }
    }
    *o = '\0';
    return out;
}

static bool cq_llm_region_ok(const char *region)
{
    if (!region || !*region || strlen(region) > 32)
        return false;
    for (const char *p = region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

/* Bedrock: signs the request and adds the signer's header lines. */
static cq_err_t cq_llm_sign_bedrock(const cq_config_t *conf, cq_llm_http_t *http, char *errstr,
                                    size_t errstr_size)
{
    cq_sigv4_creds_t creds;
    if (!cq_sigv4_creds_from_env(&creds)) {
        cq_errstr_set(errstr, errstr_size,
                      "bedrock needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                      "environment");
        return CQ_ERR_CONFIG;
    }
    char **added = NULL;
    size_t added_count = 0;
    cq_err_t rc =
        cq_sigv4_sign("POST", http->url, (const char *const *)http->headers, http->header_count,
                      http->body, http->body_len, conf->llm_aws_region, "bedrock", &creds,
                      cq_now_ms(), &added, &added_count, errstr, errstr_size);
    if (rc != CQ_ERR_OK)
        return rc;
    for (size_t i = 0; i < added_count; i++)
        cq_llm_header_add(http, added[i]);
    free(added);
    return CQ_ERR_OK;
}

char *cq_llm_base_url(const cq_config_t *conf, cq_llm_provider_t p, char *errstr,
                      size_t errstr_size)
{
    if (p == CQ_LLM_OPENAI)
        return cq_llm_base(conf, CQ_LLM_OPENAI_BASE, errstr, errstr_size);
    if (p == CQ_LLM_ANTHROPIC)
        return cq_llm_base(conf, CQ_LLM_ANTHROPIC_BASE, errstr, errstr_size);
    if (p != CQ_LLM_BEDROCK) {
        cq_errstr_set(errstr, errstr_size, "provider \"%s\" makes no HTTP request",
                      cq_llm_provider_name(p));
        return NULL;
    }
    if (!cq_llm_region_ok(conf->llm_aws_region)) {
        cq_errstr_set(errstr, errstr_size, "llm.aws_region \"%s\" is not a region name",
                      conf->llm_aws_region ? conf->llm_aws_region : "");
        return NULL;
    }
    char *fallback = cq_asprintf("https://bedrock-runtime.%s.amazonaws.com", conf->llm_aws_region);
    char *base = cq_llm_base(conf, fallback, errstr, errstr_size);
    free(fallback);
    return base;
}

cq_err_t cq_llm_build_request(const cq_config_t *conf, cq_llm_provider_t p,
                              const cq_llm_prompt_t *prompt, cq_llm_http_t *out, char *errstr,
                              size_t errstr_size)
{
    cq_err_t rc = CQ_ERR_CONFIG;
    char *base = NULL;
    json_t *schema = NULL, *body = NULL;
    bool bad = false;
    const char *key = conf->llm_api_key ? conf->llm_api_key : "";
    const char *model = conf->llm_model ? conf->llm_model : "";
    bool default_base = !conf->llm_base_url || !*conf->llm_base_url;
    memset(out, 0, sizeof(*out));

    if (p != CQ_LLM_OPENAI && p != CQ_LLM_ANTHROPIC && p != CQ_LLM_BEDROCK) {
        cq_errstr_set(errstr, errstr_size, "provider \"%s\" makes no HTTP request",
                      cq_llm_provider_name(p));
        return CQ_ERR_CONFIG;
    }
    if (!prompt || !prompt->user) {
        cq_errstr_set(errstr, errstr_size, "no user prompt");
        return CQ_ERR_INTERNAL_ERROR;
    }
    if (cq_llm_has_ctl(key)) {
        cq_errstr_set(errstr, errstr_size, "llm.api_key holds control characters");
        return CQ_ERR_CONFIG;
    }
    /* Local OpenAI-compatible servers serve one model and need neither. */
    if (!*model && !(p == CQ_LLM_OPENAI && !default_base)) {
        cq_errstr_set(errstr, errstr_size, "llm.model is required for provider %s",
                      cq_llm_provider_name(p));
        return CQ_ERR_CONFIG;
    }
    if (p == CQ_LLM_ANTHROPIC && !*key && default_base) {
        cq_errstr_set(errstr, errstr_size, "llm.api_key is required for the Anthropic API");
        return CQ_ERR_CONFIG;
    }
    if (p == CQ_LLM_BEDROCK && !cq_llm_region_ok(conf->llm_aws_region)) {
        cq_errstr_set(errstr, errstr_size, "llm.aws_region \"%s\" is not a region name",
                      conf->llm_aws_region ? conf->llm_aws_region : "");
        return CQ_ERR_CONFIG;
    }

    cq_llm_mode_t mode = prompt->mode == CQ_LLM_MODE_AUTO ? cq_llm_mode_default(p) : prompt->mode;
    if (!cq_llm_mode_fits(p, mode)) {
        cq_errstr_set(errstr, errstr_size, "structured output %s does not work with provider %s",
                      cq_llm_mode_name(mode), cq_llm_provider_name(p));
        return CQ_ERR_CONFIG;
    }
    char name[65];
    cq_llm_schema_name(prompt->schema_name, name);
    char err[256];
    cq_llm_shape_t shape = mode == CQ_LLM_MODE_JSON_SCHEMA ? CQ_LLM_SHAPE_STRICT
                           : mode == CQ_LLM_MODE_TOOL      ? CQ_LLM_SHAPE_PLAIN
                                                           : CQ_LLM_SHAPE_GRAMMAR;
    schema =
        cq_llm_schema_for(prompt->result_schema, prompt->schema_document, shape, err, sizeof(err));
    if (!schema) {
        cq_errstr_set(errstr, errstr_size, "result schema %s for %s: %s", name,
                      cq_llm_provider_name(p), err);
        goto out_free;
    }

    if (!(base = cq_llm_base_url(conf, p, errstr, errstr_size)))
        goto out_free;
    if (p == CQ_LLM_OPENAI) {
        out->url = cq_asprintf("%s/chat/completions", base);
        body = cq_llm_body_openai(conf, prompt, mode, schema, name, &bad);
    } else if (p == CQ_LLM_ANTHROPIC) {
        out->url = cq_asprintf("%s/v1/messages", base);
        body = cq_llm_body_anthropic(conf, prompt, mode, schema, name, false, &bad);
    } else {
        char *id = cq_llm_urlencode(model);
        out->url = cq_asprintf("%s/model/%s/invoke", base, id);
        free(id);
        body = cq_llm_body_anthropic(conf, prompt, mode, schema, name, true, &bad);
    }
    if (bad) {
        cq_errstr_set(errstr, errstr_size, "the prompt or config is not valid UTF-8");
        rc = CQ_ERR_INTERNAL_ERROR;
        goto out_free;
    }
    /* 15 digits: 0.2 goes out as 0.2, not 0.20000000000000001. */
    out->body = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (!out->body) {
        fprintf(stderr, "coachq: out of memory\n");
        abort();
    }
    out->body_len = strlen(out->body);
    /* json_dumps grows its buffer by doubling; a worker holds thousands of
     * these bodies while calls are in flight, so give the slack back. */
    out->body = cq_realloc(out->body, out->body_len + 1);

    cq_llm_header_add(out, cq_strdup("Content-Type: application/json"));
    cq_llm_header_add(out, cq_strdup("Accept: application/json"));
    if (p == CQ_LLM_OPENAI && *key)
        cq_llm_header_add(out, cq_asprintf("Authorization: Bearer %s", key));
    if (p == CQ_LLM_ANTHROPIC) {
        if (*key)
            cq_llm_header_add(out, cq_asprintf("x-api-key: %s", key));
        cq_llm_header_add(out, cq_strdup("anthropic-version: " CQ_LLM_ANTHROPIC_VERSION));
    }
    if (p == CQ_LLM_BEDROCK &&
        (rc = cq_llm_sign_bedrock(conf, out, errstr, errstr_size)) != CQ_ERR_OK)
        goto out_free;
    rc = CQ_ERR_OK;

out_free:
    if (rc != CQ_ERR_OK)
        cq_llm_http_clear(out);
    json_decref(body);
    json_decref(schema);
    free(base);
    return rc;
}

char *cq_llm_request_user(const char *body)
{
    json_t *req = body ? json_loads(body, 0, NULL) : NULL;
    json_t *msgs = json_object_get(req, "messages");
    char *user = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *content = json_string_value(json_object_get(m, "content"));
        if (role && content && strcmp(role, "user") == 0) {
            user = cq_strdup(content);
            break;
        }
    }
    json_decref(req);
    return user;
}
