#!/usr/bin/env python3
"""Fake LLM provider for coachq integration tests and benchmarks.

Python 3.11 standard library only: `python3 tests/fake/fake_llm.py --port 0
--port-file /tmp/llm.port`. One asyncio event loop, a minimal HTTP/1.1 server
(Content-Length bodies, keep-alive, `Expect: 100-continue`; no chunked
requests), so thousands of slow keep-alive calls cost little. The generic part
(HTTP, scripting, records, control API, command line) is in fakehttp.py next to
this file, shared with fake_upstream.py.

Provider endpoints (POST, JSON):
  /v1/chat/completions, /chat/completions  OpenAI-compatible; needs
      `Authorization: Bearer <key>`, `model`, `messages`. The answer's content
      is JSON text valid against `response_format.json_schema.schema`, or
      `{"text": "ok"}` when no schema was sent.
  /v1/messages  Anthropic; needs `x-api-key`, `anthropic-version`, `model`,
      `max_tokens`, `messages`. Answers with one `tool_use` block for the tool
      `tool_choice` names (else the first tool), its input valid against that
      tool's `input_schema`; without tools, a text block `{"text": "ok"}`.
  /model/{modelId}/invoke  Bedrock runtime, Anthropic body without `model`
      plus `anthropic_version: "bedrock-2023-05-31"`; needs `Authorization`
      (the SigV4 headers are recorded, not verified). Answers as Anthropic.
  /llama/v1/chat/completions  OpenAI-compatible as llama-cpp-python's server
      serves it: no key needed, `model` optional; `response_format` may be
      `{"type": "json_object", "schema": S}` (the answer is valid against S)
      or `{"type": "text"}`. `{"type": "json_schema", ...}` gets HTTP 500
      `{"error": {"message", "type": "internal_server_error"}}` whose message
      names a server-side file, as the real server's does; so does a schema
      with a maxLength, minLength, maxItems or minItems above 1000 (its
      grammar compiler gives up on those). Answers as OpenAI. These
      refusals consume no script step.
A request missing credentials or required fields gets the provider's 401/403/
400 and consumes no script step. Errors are provider-shaped: OpenAI
`{"error": {message, type, param, code}}`, Anthropic `{"type": "error",
"error": {type, message}}`, Bedrock `{"message"}` + `x-amzn-ErrorType` header.

Control API (same port):
  POST /_control/script  {"steps": [B, ...], "then": B, "route": R}
      Each provider call takes the next step; when none are left, `then`
      (default {"kind": "ok"}) answers every call. Without `route` the script is
      the default one; with `route` (openai|anthropic|bedrock here,
      account|traction in fake_upstream) it applies to that route only and
      takes precedence over the default script. Replaces the previous script.
  GET  /_control/script  the scripts with their remaining steps.
  POST /_control/reset   clears scripts, records (seq restarts at 1) and counters.
  GET  /_control/requests[?full=0]  the last 500 calls, oldest first:
      [{seq, route, method, path, query, headers (lower-case names), body
      (parsed JSON, else text; omitted with full=0), received_at (epoch s),
      kind (behaviour applied, or "rejected")}].
  GET  /_control/stats   {calls, in_flight, peak_in_flight, connections,
      peak_connections}.
Behaviours B (`kind`), each with optional `latency_ms` before answering
(`ok` defaults to --latency-ms, the others to 0):
  ok         valid answer (above).
  status     `code` (400/401/403/429/500/503/529/...), optional `retry_after`
             (seconds, Retry-After header), `message`, `body` (any JSON,
             replaces the provider-shaped error body), `headers` (object).
  quota      spend limit: OpenAI 429 insufficient_quota, Anthropic 400 "credit
             balance is too low", Bedrock 400 ServiceQuotaExceededException.
  malformed  200 whose body is truncated JSON (`variant: "body"`, default) or
             a well-formed envelope whose content is not JSON (`"content"`;
             Anthropic: a text block instead of tool_use).
  invalid    200, JSON content that breaks the schema: the first required
             field dropped and a string where a number goes.
  hang       read the request, never answer; the connection closes when the
             client gives up. Other connections are unaffected.
  reset      close the connection without answering, with an RST (SO_LINGER 0).
  content    200 with `value` as the content (OpenAI: its JSON text;
             Anthropic: tool_use input when `value` is an object).

Command line: --port N (0 = free port), --host (loopback only), --latency-ms N,
--port-file PATH (written atomically when listening, removed on exit),
--log-level. SIGTERM/SIGINT exit cleanly with status 0.
"""
import json
import math
import os
import re
import sys
import time
import urllib.parse

from fakehttp import KINDS, FakeServer, json_response, main

try:
    from re import _parser as _sre  # Python >= 3.11
except ImportError:  # pragma: no cover
    import sre_parse as _sre

# ---------------------------------------------------------------- JSON Schema instances

WORDS = ["sample", "second", "third", "fourth", "fifth"]
FORMATS = {
    "date": "2024-03-15",
    "date-time": "2024-03-15T09:30:00Z",
    "uri": "https://example.com/item",
    "email": "coach@example.com",
    "uuid": "3f2b8c1e-7d4a-4e5b-9c6d-0a1b2c3d4e5f",
}


def resolve(schema, root):
    """Follows $ref (a JSON pointer inside root, e.g. #/$defs/x) and merges allOf."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 64:
        ref, seen = schema["$ref"], seen + 1
        if not ref.startswith("#"):
            raise ValueError(f"unsupported $ref {ref}")
        target = root
        for part in filter(None, ref[1:].split("/")):
            part = urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")
            target = target[int(part)] if isinstance(target, list) else target[part]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, dict) else target
    if isinstance(schema, dict) and "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema["allOf"]:
            sub = resolve(sub, root)
            if isinstance(sub, dict):
                props = {**merged.get("properties", {}), **sub.get("properties", {})}
                req = list(dict.fromkeys(merged.get("required", []) + sub.get("required", [])))
                merged.update(sub, properties=props, required=req)
        schema = merged
    return schema


def schema_type(s):
    t = s.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t:
        return t
    for keys, guess in ((("properties", "required"), "object"), (("items", "minItems"), "array"),
                        (("minimum", "maximum", "exclusiveMinimum"), "number")):
        if any(k in s for k in keys):
            return guess
    return "string"


def generate(schema, root=None, name="", variant=0, depth=0):
    """A minimal but meaningful instance valid against schema (subset in the docstring)."""
    root = schema if root is None else root
    s = resolve(schema, root)
    if s is True or s == {} or s is None:
        return f"{WORDS[variant % 5]} text"
    if "const" in s:
        return s["const"]
    if s.get("enum"):
        return s["enum"][variant % len(s["enum"])]
    for key in ("anyOf", "oneOf"):
        if s.get(key):  # the first alternative that is not just null
            alts = [resolve(a, root) for a in s[key]]
            pick = next((a for a in alts if not (isinstance(a, dict) and a.get("type") == "null")), alts[0])
            return generate(pick, root, name, variant, depth + 1)
    t = schema_type(s)
    if t == "null":
        return None
    if t == "boolean":
        return True
    if t in ("integer", "number"):
        return gen_number(s, t == "integer", variant)
    if t == "string":
        return gen_string(s, name, variant)
    if t == "array":
        lo, hi = s.get("minItems", 0), s.get("maxItems", 3)
        count = min(max(lo, 1 if depth < 6 else 0), hi)
        items = []
        for i in range(count):
            item = generate(s.get("items", {}), root, singular(name), i, depth + 1)
            if s.get("uniqueItems") and item in items and len(items) >= lo:
                break
            items.append(item)
        return items
    props, required = s.get("properties", {}), s.get("required", [])
    names = list(props) if depth < 8 else [n for n in props if n in required]
    out = {n: generate(props[n], root, n, variant, depth + 1) for n in names}
    extra = s.get("additionalProperties", {})
    for n in required:
        if n not in out:
            out[n] = generate(extra if isinstance(extra, dict) else {}, root, n, variant, depth + 1)
    return out


def gen_number(s, integer, variant):
    lo, hi = s.get("minimum"), s.get("maximum")
    xlo, xhi = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
    if isinstance(xlo, bool):  # draft 4: a flag on minimum
        xlo, lo = (lo, None) if xlo else (None, lo)
    if isinstance(xhi, bool):
        xhi, hi = (hi, None) if xhi else (None, hi)

    def ok(v):
        return ((lo is None or v >= lo) and (hi is None or v <= hi) and (xlo is None or v > xlo)
                and (xhi is None or v < xhi))

    low = next((b for b in (lo, xlo) if b is not None), 0)
    high = next((b for b in (hi, xhi) if b is not None), None)
    cands = [low + 1 + variant, low + variant, low, high]
    if high is not None:
        cands += [(low + high) / 2, math.floor((low + high) / 2), math.ceil((low + high) / 2)]
    if integer:
        cands = [math.ceil(c) for c in cands if c is not None] + [math.floor(c) for c in cands if c is not None]
    value = next((c for c in cands if c is not None and ok(c)), low)
    return int(value) if integer else value


def singular(name):
    return name[:-1] if name.endswith("s") and len(name) > 3 else name


def gen_string(s, name, variant):
    lo, hi = s.get("minLength", 0), s.get("maxLength")
    fmt, pattern = FORMATS.get(s.get("format")), s.get("pattern")
    if fmt and (pattern is None or re.search(pattern, fmt)):
        return fmt
    if pattern is not None:
        return pattern_string(pattern, lo, hi, WORDS[variant % 5])
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").lower().strip()
    text = f"{WORDS[variant % 5].capitalize()} {words or 'text'}"
    while len(text) < lo:
        text += " with more detail"
    if hi is not None and len(text) > hi:
        text = text[:hi]
        text = text.rstrip() if len(text.rstrip()) >= lo else text
    return text


class _Unsupported(Exception):
    pass


def pattern_string(pattern, lo, hi, word):
    """A string matching pattern (simple regexes), else a fixed safe string."""
    target = max(lo, min(len(word), hi if hi is not None else len(word)))
    try:
        gen = _PatternGen(word)
        text = gen.emit(_sre.parse(pattern), [target])
    except Exception:  # unsupported construct or parse error: try the fallbacks
        text = None
    for cand in (text, word, word.upper(), "a", "A", "0", "sample-1", "x" * lo):
        if cand is not None and re.search(pattern, cand) and lo <= len(cand) <= (
                len(cand) if hi is None else hi):
            return cand
    return word


class _PatternGen:
    """Walks Python's parsed regex tree; takes the first branch, fills repeats
    up to the wanted length, prefers the letters of `word` in classes."""

    PREFERRED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_. "

    def __init__(self, word):
        self.word, self.pos = word, 0

    def emit(self, tree, want):
        out = []
        for op, arg in tree:
            op = str(op)
            if op == "LITERAL":
                out.append(chr(arg))
            elif op in ("NOT_LITERAL", "ANY", "IN", "CATEGORY"):
                out.append(self.char(op, arg))
            elif op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                low, high, sub = arg
                for i in range(min(high, 1000)):
                    if i >= low and want[0] <= 0:
                        break
                    out.append(self.emit(sub, want))
                continue
            elif op in ("SUBPATTERN", "ATOMIC_GROUP"):
                out.append(self.emit(arg[-1] if op == "SUBPATTERN" else arg, want))
                continue
            elif op == "BRANCH":
                out.append(self.emit(arg[1][0], want))
                continue
            elif op == "AT":
                continue
            else:
                raise _Unsupported(op)
            want[0] -= 1
        return "".join(out)

    def char(self, op, arg):
        self.pos += 1
        want = self.word[(self.pos - 1) % len(self.word)]
        if op == "ANY":
            return want
        if op == "NOT_LITERAL":
            return want if ord(want) != arg else ("b" if want == "a" else "a")
        items = [("CATEGORY", arg)] if op == "CATEGORY" else [(str(o), a) for o, a in arg]
        negate = bool(items) and items[0][0] == "NEGATE"
        for c in (want, want.upper()) + tuple(self.PREFERRED):
            if self.in_class(c, items) != negate:
                return c
        if negate:
            raise _Unsupported("class")
        kind, a = items[0]
        return chr(a[0] if kind == "RANGE" else a)

    @staticmethod
    def in_class(c, items):
        for kind, a in items:
            if kind == "LITERAL" and ord(c) == a or kind == "RANGE" and a[0] <= ord(c) <= a[1]:
                return True
            if kind == "CATEGORY":  # CATEGORY_DIGIT, CATEGORY_NOT_WORD, ...
                key = str(a).rsplit("_", 1)[1]
                tests = {"DIGIT": c.isdigit(), "WORD": c.isalnum() or c == "_", "SPACE": c.isspace()}
                if key not in tests:
                    raise _Unsupported(str(a))
                if tests[key] != ("_NOT_" in str(a)):
                    return True
            elif kind not in ("LITERAL", "RANGE", "NEGATE"):
                raise _Unsupported(kind)
        return False


def break_instance(schema, value, root=None):
    """Makes a valid instance invalid: drops the first required field and puts a
    string where a number goes; a wrong type at the top when neither applies."""
    root = schema if root is None else root
    s, broken = resolve(schema, root), False
    if isinstance(value, dict) and isinstance(s, dict) and s.get("required"):
        value.pop(s["required"][0], None)
        broken = True

    def walk(sch, val):
        sch = resolve(sch, root)
        if not isinstance(sch, dict):
            return False
        if isinstance(val, dict):
            for k, v in val.items():
                sub = resolve(sch.get("properties", {}).get(k, {}), root)
                if isinstance(sub, dict) and schema_type(sub) in ("integer", "number") \
                        and "enum" not in sub and "const" not in sub and not isinstance(v, str):
                    val[k] = "not a number"
                    return True
                if walk(sub, v):
                    return True
        elif isinstance(val, list) and val:
            return walk(sch.get("items", {}), val[0])
        return False

    if walk(s, value) or broken:
        return value
    return ["unexpected"] if isinstance(value, dict) else {"unexpected": True}


def big_bound(schema, depth=0):
    """Whether a schema holds a length or item bound above LLAMA_BOUND."""
    if depth > 64:
        return False
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k in ("maxLength", "minLength", "maxItems", "minItems") and isinstance(v, int) \
                    and v > LLAMA_BOUND:
                return True
            if big_bound(v, depth + 1):
                return True
    elif isinstance(schema, list):
        return any(big_bound(v, depth + 1) for v in schema)
    return False


# ---------------------------------------------------------------- LLM providers

OPENAI_ERRORS = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
                 403: ("permission_error", "unsupported_country_region_territory"),
                 429: ("requests", "rate_limit_exceeded"), 500: ("server_error", None),
                 503: ("server_error", "service_unavailable"), 529: ("server_error", "overloaded")}
ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                    500: "api_error", 503: "api_error", 529: "overloaded_error"}
BEDROCK_ERRORS = {400: "ValidationException", 401: "UnrecognizedClientException",
                  403: "AccessDeniedException", 404: "ResourceNotFoundException",
                  429: "ThrottlingException", 500: "InternalServerException",
                  503: "ServiceUnavailableException", 529: "ServiceUnavailableException"}
LLAMA_FILE = "/opt/llama/venv/lib/python3.11/site-packages/llama_cpp/server/app.py"
LLAMA_BOUND = 1000
TRUNCATED = b'{"id": "fake-truncated", "choices": [{"message": {"content": "{\\"te'
NOT_JSON = "Sure! Here is the JSON you asked for: {text: ok"


def new_id(prefix):
    return prefix + os.urandom(12).hex()


class FakeLLM(FakeServer):
    ROUTES = ("openai", "anthropic", "bedrock", "llama")
    KINDS = KINDS
    BEDROCK = re.compile(r"^/model/([^/]+)/invoke$")

    def route(self, req):
        if req.path in ("/v1/chat/completions", "/chat/completions"):
            route = "openai"
        elif req.path == "/llama/v1/chat/completions":
            route = "llama"
        elif req.path == "/v1/messages":
            route = "anthropic"
        elif self.BEDROCK.match(req.path):
            route = "bedrock"
        else:
            return None
        return route, self.answer

    def error(self, route, code, message, etype=None, headers=None):
        headers = dict(headers or {})
        if route in ("openai", "llama"):
            t, c = OPENAI_ERRORS.get(code, ("server_error", None))
            body = {"error": {"message": message, "type": etype or t, "param": None, "code": etype or c}}
        elif route == "anthropic":
            body = {"type": "error", "error": {"type": etype or ANTHROPIC_ERRORS.get(code, "api_error"),
                                               "message": message}}
        else:
            name = etype or BEDROCK_ERRORS.get(code, "InternalServerException")
            headers["x-amzn-ErrorType"] = f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            body = {"message": message}
        return json_response(code, body, headers)

    def check_request(self, route, req):
        h = req.headers
        if route == "openai" and not h.get("authorization", "").startswith("Bearer "):
            return self.error(route, 401, "Missing bearer authentication in header")
        if route == "anthropic" and not h.get("x-api-key"):
            return self.error(route, 401, "x-api-key header is required")
        if route == "bedrock" and not h.get("authorization"):
            return self.error(route, 403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        if route == "anthropic" and not h.get("anthropic-version"):
            return self.error(route, 400, "anthropic-version: header is required")
        try:
            body = req.json()
        except ValueError:
            return self.error(route, 400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return self.error(route, 400, "request body must be a JSON object")
        if route == "llama":
            return self.check_llama(body)
        problems = []
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            problems.append("messages: a non-empty array is required")
        if route != "bedrock" and not isinstance(body.get("model"), str):
            problems.append("model: field required")
        if route != "openai" and not (isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 0):
            problems.append("max_tokens: a positive integer is required")
        if route == "bedrock" and "model" in body:
            problems.append("extraneous key [model] is not permitted")
        if route == "bedrock" and body.get("anthropic_version") != "bedrock-2023-05-31":
            problems.append('anthropic_version: must be "bedrock-2023-05-31"')
        if route != "openai" and self.tool(body) is False:
            problems.append("tools/tool_choice: not a list of tools, or names a tool not in tools")
        return self.error(route, 400, "; ".join(problems)) if problems else None

    def check_llama(self, body):
        """llama-cpp-python's refusals: unknown response_format types and
        grammar-breaking schemas surface as 500s that quote a source file."""
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return self.error("llama", 422, "messages: field required")
        rf = body.get("response_format")
        if rf is None:
            return None
        kind = rf.get("type") if isinstance(rf, dict) else None
        if kind not in ("text", "json_object"):
            return self.llama_500(
                f"1 validation error for ChatCompletionRequestResponseFormat type: Input should be "
                f"'text' or 'json_object' [type=literal_error, input_value={kind!r}]")
        if kind == "json_object" and big_bound(rf.get("schema")):
            return self.llama_500("RecursionError: maximum recursion depth exceeded while "
                                  "building the grammar for the JSON schema")
        return None

    def llama_500(self, what):
        return json_response(500, {"error": {
            "message": f"{what}\nTraceback (most recent call last):\n  File \"{LLAMA_FILE}\", "
                       f"line 513, in create_chat_completion",
            "type": "internal_server_error", "param": None, "code": None}})

    @staticmethod
    def tool(body):
        """The tool an Anthropic call must use: None without tools, False if tool_choice is bad."""
        tools = body.get("tools") or []
        if not tools:
            return None
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            return False
        choice = body.get("tool_choice") or {}
        if isinstance(choice, dict) and choice.get("type") == "tool":
            return next((t for t in tools if t.get("name") == choice.get("name")), False)
        return tools[0]

    @staticmethod
    def schema_of(route, body):
        if route == "llama":
            rf = body.get("response_format") or {}
            return rf.get("schema") if rf.get("type") == "json_object" else None
        if route == "openai":
            rf = body.get("response_format") or {}
            return (rf.get("json_schema") or {}).get("schema") if rf.get("type") == "json_schema" else None
        tool = FakeLLM.tool(body)
        return tool.get("input_schema") if tool else None

    def answer(self, req, step):
        route, body, kind = self.route(req)[0], req.json(), step["kind"]
        if kind in ("status", "quota"):
            if kind == "quota":
                code, etype, message = {
                    "openai": (429, "insufficient_quota", "You exceeded your current quota"),
                    "anthropic": (400, None, "Your credit balance is too low to access the Anthropic API."),
                    "bedrock": (400, "ServiceQuotaExceededException", "Service quota exceeded"),
                    "llama": (429, "insufficient_quota", "You exceeded your current quota")}[route]
            else:
                code, etype, message = step["code"], None, step.get("message", f"scripted {step['code']}")
            headers = dict(step.get("headers", {}))
            if "retry_after" in step:
                headers["Retry-After"] = str(step["retry_after"])
            if "body" in step:
                return json_response(code, step["body"], headers)
            return self.error(route, code, message, etype, headers)
        if kind == "malformed" and step.get("variant", "body") == "body":
            return 200, {"Content-Type": "application/json"}, TRUNCATED
        schema = self.schema_of(route, body)
        if kind == "content":
            value = step.get("value")
        else:
            value = generate(schema) if schema is not None else {"text": "ok"}
            if kind == "invalid":
                value = break_instance(schema, value) if schema is not None else {"text": 42}
        text = NOT_JSON if kind == "malformed" else json.dumps(value)
        usage_in = max(1, len(json.dumps(body.get("messages"))) // 4)
        usage_out = max(1, len(text) // 4)
        if route in ("openai", "llama"):
            return json_response(200, {
                "id": new_id("chatcmpl-"), "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model") or "local-gguf",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out,
                          "total_tokens": usage_in + usage_out}}, {"x-request-id": new_id("req_")})
        tool = self.tool(body)
        if tool and kind != "malformed" and isinstance(value, dict):
            content = [{"type": "tool_use", "id": new_id("toolu_"), "name": tool["name"], "input": value}]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": text}], "end_turn"
        model = body.get("model") or urllib.parse.unquote(self.BEDROCK.match(req.path).group(1))
        headers = {"request-id": new_id("req_")} if route == "anthropic" else {
            "x-amzn-RequestId": new_id(""), "X-Amzn-Bedrock-Input-Token-Count": str(usage_in),
            "X-Amzn-Bedrock-Output-Token-Count": str(usage_out)}
        return json_response(200, {
            "id": new_id("msg_"), "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": usage_in, "output_tokens": usage_out}}, headers)


if __name__ == "__main__":
    sys.exit(main(FakeLLM, "Fake LLM provider (OpenAI, Anthropic, Bedrock) for coachq tests."))
