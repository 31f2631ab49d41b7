"""Tests of the fake servers themselves: python3 -m unittest tests/fake/test_fakes.py -v

Each server runs as a subprocess on port 0 (as integration tests run it) and is
reset before every test. Generated content is checked with `jsonschema` when it
is importable, else with a structural check (types, required, properties, items).
"""
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fake_llm  # noqa: E402
import fake_upstream  # noqa: E402

try:
    import jsonschema
except ImportError:  # pragma: no cover
    jsonschema = None

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 3, "maxLength": 40},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
        "slug": {"type": "string", "pattern": "^[a-z][a-z0-9]*(-[a-z0-9]+)*$", "maxLength": 4},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "minItems": 2,
                 "maxItems": 3, "uniqueItems": True},
        "level": {"enum": ["low", "medium", "high"]},
        "kind": {"const": "plan"},
        "due": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "link": {"type": "string", "format": "uri"},
        "mail": {"type": "string", "format": "email"},
        "id": {"type": "string", "format": "uuid"},
        "note": {"type": ["string", "null"], "maxLength": 2},
        "owner": {"$ref": "#/$defs/person"},
        "backup": {"$ref": "#/definitions/person"},
        "either": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 10}]},
        "one": {"oneOf": [{"type": "boolean"}, {"type": "string"}]},
        "both": {"allOf": [{"$ref": "#/$defs/person"}, {"required": ["age"]}]},
        "long": {"type": "string", "minLength": 60, "maxLength": 61},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/person"}, "minItems": 1, "maxItems": 1},
    },
    "required": ["title", "score", "ratio", "code", "tags", "owner", "steps"],
    "additionalProperties": False,
    "$defs": {"person": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 20}, "age": {"type": "integer", "minimum": 18}},
        "required": ["name"], "additionalProperties": False}},
    "definitions": {"person": {"type": "object", "properties": {"name": {"type": "string"}},
                               "required": ["name"]}},
}
MESSAGES = [{"role": "user", "content": "Plan my week"}]


PYTYPES = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
           "boolean": bool, "null": type(None)}


def structural_errors(schema, value, root=None):
    """Fallback validator (no jsonschema): types, required, properties, items, enum."""
    root = schema if root is None else root
    s = fake_llm.resolve(schema, root)
    if not isinstance(s, dict):
        return []
    if "enum" in s and value not in s["enum"]:
        return [f"{value!r} not in enum"]
    if "anyOf" in s or "oneOf" in s:
        alts = s.get("anyOf") or s.get("oneOf")
        return [] if any(not structural_errors(a, value, root) for a in alts) else ["no alternative"]
    types = s.get("type", list(PYTYPES))
    types = types if isinstance(types, list) else [types]
    if not any(isinstance(value, PYTYPES[t]) and not (t in ("integer", "number") and isinstance(value, bool))
               for t in types):
        return [f"{value!r} is not {types}"]
    errors = []
    if isinstance(value, dict):
        errors += [f"missing {k}" for k in s.get("required", []) if k not in value]
        for k, v in value.items():
            errors += structural_errors(s.get("properties", {}).get(k, {}), v, root)
    if isinstance(value, list):
        for v in value:
            errors += structural_errors(s.get("items", {}), v, root)
    return errors


def schema_errors(schema, value):
    if jsonschema is None:
        return structural_errors(schema, value)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    v = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(value)]


class GeneratorTest(unittest.TestCase):
    def test_every_keyword_of_the_subset(self):
        value = fake_llm.generate(SCHEMA)
        self.assertEqual(schema_errors(SCHEMA, value), [])
        self.assertEqual(value["code"], "SAMPLE")
        self.assertEqual(value["slug"], "samp")
        self.assertEqual(value["either"], 11)  # a little above the minimum
        self.assertEqual(len(set(value["tags"])), 2)
        self.assertEqual(value["kind"], "plan")
        self.assertIn("age", value["both"])
        self.assertTrue(0 < value["ratio"] < 1)

    def test_project_schemas(self):
        with open(os.path.join(ROOT, "schemas", "openapi.json")) as f:
            doc = json.load(f)
        for name in doc["components"]["schemas"]:
            with self.subTest(schema=name):
                schema = {**doc, "$ref": "#/components/schemas/" + name}
                value = fake_llm.generate(schema)
                self.assertEqual(schema_errors(schema, value), [])
                broken = fake_llm.break_instance(schema, json.loads(json.dumps(value)))
                self.assertNotEqual(schema_errors(schema, broken), [])

    def test_patterns(self):
        for pattern, lo, hi in [(r"^\d{3}-\d{4}$", 0, None), (r"^[^ ]+@[a-z]+\.com$", 0, None),
                                (r"^(foo|bar)+$", 7, 9), (r"^[A-Za-z0-9_.:-]+$", 0, 3),
                                (r"^\w+\s\w+$", 0, None), (r"^(?=x)x$", 0, None)]:
            with self.subTest(pattern=pattern):
                s = fake_llm.pattern_string(pattern, lo, hi, "sample")
                if pattern != r"^(?=x)x$":  # lookahead: unsupported, safe fixed string
                    self.assertRegex(s, pattern)
                    self.assertTrue(lo <= len(s) <= (hi or len(s)), s)

    def test_break_instance(self):
        value = fake_llm.generate(SCHEMA)
        broken = fake_llm.break_instance(SCHEMA, json.loads(json.dumps(value)))
        self.assertNotIn("title", broken)
        self.assertEqual(broken["score"], "not a number")


class Server:
    """A fake server subprocess on a free port."""

    def __init__(self, script, *args):
        self.tmp = tempfile.mkdtemp(prefix="fake-")
        self.port_file = os.path.join(self.tmp, "port")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--port", "0",
                                      "--port-file", self.port_file, "--log-level", "warning", *args])
        deadline = time.monotonic() + 10
        while not os.path.exists(self.port_file):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                raise RuntimeError(f"{script} did not start")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)

    def request(self, method, path, body=None, headers=None, timeout=5):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
            conn.request(method, path, data, headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, _, raw = self.request(method, path, body, headers)
        return status, json.loads(raw)

    def script(self, steps, then=None, route=None):
        doc = {"steps": steps, **({"then": then} if then else {}), **({"route": route} if route else {})}
        status, _ = self.json("POST", "/_control/script", doc)
        assert status == 200


OPENAI_H = {"Authorization": "Bearer sk-test", "Content-Type": "application/json"}
ANTHROPIC_H = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01", "Content-Type": "application/json"}
BEDROCK_H = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240315/us-east-1/bedrock/aws4_request, "
                              "SignedHeaders=host;x-amz-date, Signature=abc",
             "X-Amz-Date": "20240315T093000Z", "X-Amz-Content-Sha256": "e3b0c442",
             "X-Amz-Security-Token": "token-1", "Content-Type": "application/json"}
BEDROCK_PATH = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke"


def openai_body(schema=SCHEMA):
    rf = {"type": "json_schema", "json_schema": {"name": "plan", "strict": True, "schema": schema}}
    return {"model": "gpt-test", "messages": MESSAGES, "response_format": rf, "max_completion_tokens": 500}


def anthropic_body(schema=SCHEMA, bedrock=False):
    body = {"model": "claude-test", "max_tokens": 500, "system": "You are a coach.", "messages": MESSAGES,
            "tools": [{"name": "other", "description": "x", "input_schema": {"type": "object"}},
                      {"name": "plan", "description": "Return the plan", "input_schema": schema}],
            "tool_choice": {"type": "tool", "name": "plan"}}
    if bedrock:
        del body["model"]
        body["anthropic_version"] = "bedrock-2023-05-31"
    return body


class LLMTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("fake_llm.py")

    @classmethod
    def tearDownClass(cls):
        port_file = cls.srv.port_file
        assert cls.srv.stop() == 0
        assert not os.path.exists(port_file)

    def setUp(self):
        self.assertEqual(self.srv.json("POST", "/_control/reset")[0], 200)

    def openai(self, schema=SCHEMA, headers=OPENAI_H):
        return self.srv.request("POST", "/v1/chat/completions", openai_body(schema), headers)

    def anthropic(self, bedrock=False):
        if bedrock:
            return self.srv.request("POST", BEDROCK_PATH, anthropic_body(bedrock=True), BEDROCK_H)
        return self.srv.request("POST", "/v1/messages", anthropic_body(), ANTHROPIC_H)

    def test_openai_ok(self):
        for path in ("/v1/chat/completions", "/chat/completions"):
            status, _, raw = self.srv.request("POST", path, openai_body(), OPENAI_H)
            self.assertEqual(status, 200)
            doc = json.loads(raw)
            self.assertEqual(doc["object"], "chat.completion")
            self.assertEqual(doc["model"], "gpt-test")
            choice = doc["choices"][0]
            self.assertEqual((choice["index"], choice["finish_reason"], choice["message"]["role"]),
                             (0, "stop", "assistant"))
            self.assertEqual(schema_errors(SCHEMA, json.loads(choice["message"]["content"])), [])
            u = doc["usage"]
            self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        body = {"model": "m", "messages": MESSAGES}
        status, doc = self.srv.json("POST", "/v1/chat/completions", body, OPENAI_H)
        self.assertEqual(json.loads(doc["choices"][0]["message"]["content"]), {"text": "ok"})

    def test_anthropic_and_bedrock_ok(self):
        for bedrock in (False, True):
            status, headers, raw = self.anthropic(bedrock)
            self.assertEqual(status, 200, raw)
            doc = json.loads(raw)
            self.assertEqual((doc["type"], doc["role"], doc["stop_reason"]), ("message", "assistant", "tool_use"))
            self.assertEqual(doc["model"], "anthropic.claude-3-5-sonnet-20240620-v1:0" if bedrock else "claude-test")
            block = doc["content"][0]
            self.assertEqual((block["type"], block["name"]), ("tool_use", "plan"))
            self.assertEqual(schema_errors(SCHEMA, block["input"]), [])
            self.assertGreater(doc["usage"]["input_tokens"], 0)
        rec = self.srv.json("GET", "/_control/requests")[1][-1]
        self.assertEqual((rec["route"], rec["path"]), ("bedrock", BEDROCK_PATH))
        sent = {k.lower(): v for k, v in BEDROCK_H.items()}
        for name in ("authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"):
            self.assertEqual(rec["headers"][name], sent[name])
        self.assertEqual(rec["body"]["anthropic_version"], "bedrock-2023-05-31")

    def test_llama_route_refuses_json_schema(self):
        """llama-cpp-python's server: json_schema is a 500 naming a server file;
        json_object with a schema is answered; big bounds break its grammar."""
        path, h = "/llama/v1/chat/completions", {"Content-Type": "application/json"}
        self.srv.script([{"kind": "status", "code": 503}])
        body = {k: v for k, v in openai_body().items() if k != "model"}
        status, doc = self.srv.json("POST", path, body, h)
        self.assertEqual((status, doc["error"]["type"]), (500, "internal_server_error"))
        self.assertIn("json_schema", doc["error"]["message"])
        self.assertIn("llama_cpp/server/app.py", doc["error"]["message"])
        big = {"type": "object", "properties": {"t": {"type": "string", "maxLength": 5000}}}
        status, doc = self.srv.json("POST", path, {**body, "response_format": {
            "type": "json_object", "schema": big}}, h)
        self.assertEqual(status, 500)
        self.assertIn("grammar", doc["error"]["message"])
        self.assertEqual(self.srv.json("POST", path, body, h)[0], 500)  # still no step taken
        self.assertEqual(self.srv.request("POST", path, {"model": "m"}, h)[0], 422)
        self.srv.script([])
        status, doc = self.srv.json("POST", path, {**body, "response_format": {
            "type": "json_object", "schema": SCHEMA}}, h)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["model"], "local-gguf")
        self.assertEqual(schema_errors(SCHEMA, json.loads(doc["choices"][0]["message"]["content"])), [])
        status, doc = self.srv.json("POST", path, {"messages": MESSAGES}, h)
        self.assertEqual(json.loads(doc["choices"][0]["message"]["content"]), {"text": "ok"})
        recs = self.srv.json("GET", "/_control/requests")[1]
        self.assertEqual([r["route"] for r in recs], ["llama"] * 6)
        self.assertEqual([r["kind"] for r in recs], ["rejected"] * 4 + ["ok"] * 2)

    def test_rejected_requests_take_no_step(self):
        self.srv.script([{"kind": "status", "code": 500}])
        status, doc = self.srv.json("POST", "/v1/chat/completions", openai_body(), {})
        self.assertEqual((status, doc["error"]["code"]), (401, "invalid_api_key"))
        headers = {k: v for k, v in ANTHROPIC_H.items() if k != "anthropic-version"}
        status, doc = self.srv.json("POST", "/v1/messages", anthropic_body(), headers)
        self.assertEqual((status, doc["type"], doc["error"]["type"]), (400, "error", "invalid_request_error"))
        body = {**anthropic_body(bedrock=True), "model": "x"}
        status, _, _ = self.srv.request("POST", BEDROCK_PATH, body, BEDROCK_H)
        self.assertEqual(status, 400)
        status, _, _ = self.srv.request("POST", "/v1/messages", b"{not json", ANTHROPIC_H)
        self.assertEqual(status, 400)
        self.assertEqual(self.openai()[0], 500)  # the scripted step is still there
        self.assertEqual([r["kind"] for r in self.srv.json("GET", "/_control/requests")[1]],
                         ["rejected"] * 4 + ["status"])

    def test_status_and_quota(self):
        self.srv.script([{"kind": "status", "code": 429, "retry_after": 7}, {"kind": "quota"},
                         {"kind": "status", "code": 529}, {"kind": "quota"}, {"kind": "status", "code": 429},
                         {"kind": "status", "code": 503, "body": {"custom": True}, "headers": {"X-A": "b"}}])
        status, headers, raw = self.openai()
        self.assertEqual((status, headers["retry-after"]), (429, "7"))
        self.assertEqual(json.loads(raw)["error"]["code"], "rate_limit_exceeded")
        status, _, raw = self.openai()
        err = json.loads(raw)["error"]
        self.assertEqual((status, err["type"], err["code"]), (429, "insufficient_quota", "insufficient_quota"))
        status, _, raw = self.anthropic()
        self.assertEqual((status, json.loads(raw)), (529, {"type": "error", "error": {
            "type": "overloaded_error", "message": "scripted 529"}}))
        status, _, raw = self.anthropic()
        self.assertEqual((status, json.loads(raw)["error"]["type"]), (400, "invalid_request_error"))
        status, headers, raw = self.anthropic(bedrock=True)
        self.assertEqual(status, 429)
        self.assertTrue(headers["x-amzn-errortype"].startswith("ThrottlingException"))
        self.assertIn("message", json.loads(raw))
        status, headers, raw = self.openai()
        self.assertEqual((status, json.loads(raw), headers["x-a"]), (503, {"custom": True}, "b"))

    def test_malformed_invalid_content(self):
        self.srv.script([{"kind": "malformed"}, {"kind": "malformed", "variant": "content"},
                         {"kind": "malformed", "variant": "content"}, {"kind": "invalid"},
                         {"kind": "invalid"}, {"kind": "content", "value": {"x": [1, 2]}},
                         {"kind": "content", "value": {"y": 1}}])
        status, _, raw = self.openai()
        self.assertEqual(status, 200)
        self.assertRaises(ValueError, json.loads, raw)
        status, _, raw = self.openai()
        self.assertRaises(ValueError, json.loads, json.loads(raw)["choices"][0]["message"]["content"])
        doc = json.loads(self.anthropic()[2])
        self.assertEqual((doc["content"][0]["type"], doc["stop_reason"]), ("text", "end_turn"))
        self.assertRaises(ValueError, json.loads, doc["content"][0]["text"])
        content = json.loads(json.loads(self.openai()[2])["choices"][0]["message"]["content"])
        self.assertNotEqual(schema_errors(SCHEMA, content), [])
        self.assertNotIn("title", content)
        block = json.loads(self.anthropic(bedrock=True)[2])["content"][0]
        self.assertEqual(block["type"], "tool_use")
        self.assertNotEqual(schema_errors(SCHEMA, block["input"]), [])
        content = json.loads(self.openai()[2])["choices"][0]["message"]["content"]
        self.assertEqual(json.loads(content), {"x": [1, 2]})
        self.assertEqual(json.loads(self.anthropic()[2])["content"][0]["input"], {"y": 1})

    def test_latency_reset_hang(self):
        self.srv.script([{"kind": "ok", "latency_ms": 300}, {"kind": "reset"}, {"kind": "hang"}])
        t0 = time.monotonic()
        self.assertEqual(self.openai()[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        with self.assertRaises(ConnectionResetError):
            self.openai()
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=0.5)
        conn.request("POST", "/v1/chat/completions", json.dumps(openai_body()), OPENAI_H)
        t0 = time.monotonic()
        self.assertEqual(self.openai()[0], 200)  # others are served while one hangs
        self.assertLess(time.monotonic() - t0, 0.4)
        self.assertEqual(self.srv.json("GET", "/_control/stats")[1]["in_flight"], 1)
        with self.assertRaises(TimeoutError):
            conn.getresponse()
        conn.close()
        for _ in range(100):
            if self.srv.json("GET", "/_control/stats")[1]["in_flight"] == 0:
                break
            time.sleep(0.02)
        self.assertEqual(self.srv.json("GET", "/_control/stats")[1]["in_flight"], 0)

    def test_script_then_routes_and_control(self):
        self.srv.script([{"kind": "status", "code": 500}], then={"kind": "status", "code": 503})
        self.srv.script([{"kind": "status", "code": 401}], route="anthropic")
        self.assertEqual(self.anthropic()[0], 401)
        self.assertEqual(self.anthropic()[0], 200)  # anthropic script's default then: ok
        self.assertEqual([self.openai()[0] for _ in range(3)], [500, 503, 503])
        self.assertEqual(self.anthropic(bedrock=True)[0], 503)
        scripts = self.srv.json("GET", "/_control/script")[1]
        self.assertEqual(scripts["None"]["then"], {"kind": "status", "code": 503})
        stats = self.srv.json("GET", "/_control/stats")[1]
        self.assertEqual((stats["calls"], stats["in_flight"], stats["peak_in_flight"]), (6, 0, 1))
        recs = self.srv.json("GET", "/_control/requests?full=0")[1]
        self.assertEqual(len(recs), 6)
        self.assertNotIn("body", recs[0])
        self.assertEqual(recs[0]["headers"]["x-api-key"], "sk-ant")
        full = self.srv.json("GET", "/_control/requests")[1]
        self.assertEqual(full[0]["body"]["model"], "claude-test")
        self.assertIsInstance(full[0]["received_at"], float)
        for bad in ({"steps": [{"kind": "explode"}]}, {"steps": [{"kind": "status"}]},
                    {"steps": [], "route": "nope"}, {"steps": [{"kind": "ok", "latency_ms": -1}]}, [1]):
            self.assertEqual(self.srv.json("POST", "/_control/script", bad)[0], 400, bad)
        self.assertEqual(self.srv.json("POST", "/_control/reset")[0], 200)
        self.assertEqual(self.srv.json("GET", "/_control/requests")[1], [])
        self.assertEqual(self.openai()[0], 200)
        self.assertEqual(self.srv.json("GET", "/_control/nothing")[0], 404)

    def test_records_capped_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=5)
        body = json.dumps({"model": "m", "messages": MESSAGES})
        for _ in range(505):
            conn.request("POST", "/v1/chat/completions", body, OPENAI_H)
            self.assertEqual(conn.getresponse().read()[:1], b"{")
        conn.close()
        recs = self.srv.json("GET", "/_control/requests?full=0")[1]
        self.assertEqual((len(recs), recs[0]["seq"], recs[-1]["seq"]), (500, 6, 505))
        self.assertEqual(self.srv.json("GET", "/_control/stats")[1]["peak_connections"], 1)

    def raw(self, data, read_first=None):
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            for part in data:
                s.sendall(part)
                if read_first:
                    self.assertEqual(s.recv(100), read_first)
                    read_first = None
            return s.makefile("rb").read()

    def test_expect_continue_and_chunked(self):
        body = json.dumps({"model": "m", "messages": MESSAGES}).encode()
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                f"Expect: 100-continue\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        out = self.raw([head, body], read_first=b"HTTP/1.1 100 Continue\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"), out)
        head = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        self.assertTrue(self.raw([head, b"0\r\n\r\n"]).startswith(b"HTTP/1.1 400 "))

    def test_concurrency(self):
        self.srv.script([], then={"kind": "ok", "latency_ms": 500})
        body = json.dumps(openai_body()).encode()
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()

        async def one():
            reader, writer = await asyncio.open_connection("127.0.0.1", self.srv.port)
            writer.write(head + body)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            content = json.loads(json.loads(await reader.readexactly(length))["choices"][0]["message"]["content"])
            writer.close()
            return status.startswith(b"HTTP/1.1 200") and not schema_errors(SCHEMA, content)

        async def all_of_them():
            return await asyncio.gather(*(one() for _ in range(200)))

        t0 = time.monotonic()
        results = asyncio.run(all_of_them())
        elapsed = time.monotonic() - t0
        self.assertEqual(results, [True] * 200)
        self.assertLess(elapsed, 1.5)
        self.assertEqual(self.srv.json("GET", "/_control/stats")[1]["peak_in_flight"], 200)


SCHEMA_OF = {  # the C table's source -> its reply schema (cq_bd_upstream.c)
    "account.profile": "account-profile.json", "account.foundation": "account-foundation.json",
    "account.revenue": "account-revenue.json", "account.customers": "account-customers.json",
    "account.team": "account-team.json", "traction.goals": "traction-goals-stats.json",
    "traction.actions": "traction-actions.json", "traction.issues": "traction-issues-open.json",
    "traction.people": "traction-people.json", "traction.measures": "traction-measures-summary.json",
}
DEFAULT_PATH = {"traction.issues": "/api/issues?status=open"}


def upstream_schema(source):
    with open(os.path.join(ROOT, "schemas", "upstream", SCHEMA_OF[source])) as f:
        return json.load(f)


def path_of(source):
    return DEFAULT_PATH.get(source) or next(p for p, s in fake_upstream.PATHS.items() if s == source)


class UpstreamTest(unittest.TestCase):
    H = {"Authorization": "Bearer user-token", "X-Tenant-Id": "acme"}

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("fake_upstream.py")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0

    def setUp(self):
        self.srv.json("POST", "/_control/reset")

    def get(self, source, tenant="acme", headers=None, path=None, timeout=5):
        h = dict(self.H, **{"X-Tenant-Id": tenant}) if headers is None else headers
        return self.srv.request("GET", path or path_of(source), None, h, timeout=timeout)

    def assertValid(self, source, doc):
        errs = schema_errors(upstream_schema(source), doc)
        self.assertEqual(errs, [], f"{source}: {doc}")

    def test_table_matches_the_worker(self):
        with open(os.path.join(ROOT, "workers", "business_data", "cq_bd_upstream.c")) as f:
            c = f.read()
        for source, schema in SCHEMA_OF.items():
            self.assertIn(f'"{source}"', c)
            self.assertIn(f'"schemas/upstream/{schema}"', c)
            self.assertIn(f'"{path_of(source)}"', c)

    def test_every_path_answers_demo_data_per_tenant(self):
        for source in SCHEMA_OF:
            for tenant in ("acme", "globex", "initech-42"):
                status, headers, raw = self.get(source, tenant)
                doc = json.loads(raw)
                self.assertEqual(status, 200, source)
                self.assertEqual(headers["content-type"], "application/json")
                q = path_of(source).partition("?")[2]
                self.assertEqual(doc, fake_upstream.reply(source, tenant, q))
                self.assertValid(source, doc)
            if source not in ("account.foundation",):
                self.assertNotEqual(fake_upstream.reply(source, "acme", "status=open"),
                                    fake_upstream.reply(source, "globex", "status=open"), source)
        self.assertEqual(self.get(None, path="/goals")[0], 200)

    def test_demo_data_is_consistent(self):
        for i in range(200):
            tenant = f"tenant-{i}"
            cust = fake_upstream.reply("account.customers", tenant)
            self.assertLessEqual(cust["new"], cust["total"])
            sat = fake_upstream.reply("account.team", tenant)["satisfaction"]
            self.assertTrue(sat["min"] <= sat["score"] <= sat["max"])
            acts = fake_upstream.reply("traction.actions", tenant)
            self.assertEqual(len(acts["items"]), acts["total"])
            issues = fake_upstream.reply("traction.issues", tenant, "status=open")
            self.assertTrue(all(x["status"] == "open" for x in issues["items"]))
            self.assertLessEqual(len(issues["items"]), min(issues["total"], fake_upstream.ISSUES_PAGE))
            self.assertEqual(fake_upstream.reply("account.profile", tenant)["tenantId"], tenant)
            bd = fake_upstream.business_data(tenant)
            self.assertTrue(-20.5 <= bd["revenue"]["changePercent"] <= 30.5)
            self.assertTrue(0 <= bd["customers"]["retentionRate"] <= 100)
            self.assertTrue(0 <= bd["team"]["satisfaction"] <= 100)
        self.assertNotEqual(fake_upstream.business_data("acme"), fake_upstream.business_data("globex"))

    def test_issues_filter(self):
        tenant = next(t for t in (f"t{i}" for i in range(100))
                      if fake_upstream.reply("traction.issues", t, "status=open")["total"] > 10
                      and fake_upstream.reply("traction.issues", t)["total"] >
                      fake_upstream.reply("traction.issues", t, "status=open")["total"])
        doc = json.loads(self.get("traction.issues", tenant)[2])
        self.assertEqual(len(doc["items"]), 10)  # a first page
        self.assertGreater(doc["total"], 10)
        unfiltered = json.loads(self.get(None, tenant, path="/api/issues")[2])
        self.assertGreater(unfiltered["total"], doc["total"])
        self.assertIn("closed", {x["status"] for x in unfiltered["items"]})

    def test_tenant_is_a_header_not_a_path(self):
        self.assertEqual(self.get("account.revenue", headers={"X-Tenant-Id": "acme"})[0], 401)
        self.assertEqual(self.get("account.revenue", headers={"Authorization": "Bearer t"})[0], 400)
        self.assertEqual(self.srv.request("GET", "/tenants/acme/account-summary", None, self.H)[0], 404)
        self.assertEqual(self.srv.request("POST", "/metrics/revenue", {}, self.H)[0], 405)
        self.get("account.revenue")
        self.get("traction.goals", "globex")
        recs = self.srv.json("GET", "/_control/requests")[1]
        self.assertEqual([(r["route"], r["headers"].get("authorization"), r["headers"].get("x-tenant-id"))
                          for r in recs if r["kind"] != "rejected"],
                         [("account.revenue", "Bearer user-token", "acme"),
                          ("traction.goals", "Bearer user-token", "globex")])

    def test_counts_per_tenant_and_path(self):
        for _ in range(3):
            self.get("account.revenue")
        self.get("traction.issues")
        self.get("account.revenue", "globex")
        self.get("account.revenue", headers={})  # rejected: not counted
        self.srv.script([{"kind": "status", "code": 503}], route="account.team")
        self.get("account.team")  # a faulted call still reached the service
        self.assertEqual(self.srv.json("GET", "/_control/counts")[1],
                         {"acme": {"/metrics/revenue": 3, "/api/issues": 1, "/metrics/team": 1},
                          "globex": {"/metrics/revenue": 1}})
        times = self.srv.json("GET", "/_control/call_times")[1]
        self.assertEqual({t: {p: len(v) for p, v in paths.items()} for t, paths in times.items()},
                         {"acme": {"/metrics/revenue": 3, "/api/issues": 1, "/metrics/team": 1},
                          "globex": {"/metrics/revenue": 1}})
        revenue = times["acme"]["/metrics/revenue"]
        self.assertEqual(revenue, sorted(revenue))
        self.assertLess(abs(revenue[0] - time.time()), 60)
        self.srv.json("POST", "/_control/reset")
        self.assertEqual(self.srv.json("GET", "/_control/counts")[1], {})
        self.assertEqual(self.srv.json("GET", "/_control/call_times")[1], {})

    def test_faults_per_path(self):
        self.srv.script([{"kind": "status", "code": 429, "retry_after": 7},
                         {"kind": "status", "code": 503}, {"kind": "malformed"}, {"kind": "invalid"},
                         {"kind": "content", "value": [1, 2]}, {"kind": "oversize"},
                         {"kind": "ok", "latency_ms": 300}, {"kind": "reset"}, {"kind": "hang"}],
                        route="account.revenue")
        status, headers, _ = self.get("account.revenue")
        self.assertEqual((status, headers["retry-after"]), (429, "7"))
        self.assertEqual(self.get("account.revenue")[0], 503)
        self.assertRaises(ValueError, json.loads, self.get("account.revenue")[2])
        doc = json.loads(self.get("account.revenue")[2])
        self.assertNotEqual(schema_errors(upstream_schema("account.revenue"), doc), [])
        self.assertEqual(json.loads(self.get("account.revenue")[2]), [1, 2])
        status, _, raw = self.get("account.revenue")
        self.assertGreater(len(raw), 1 << 20)
        self.assertEqual(json.loads(raw)["current"], fake_upstream.reply("account.revenue", "acme")["current"])
        t0 = time.monotonic()
        self.assertEqual(self.get("account.revenue")[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        with self.assertRaises(ConnectionResetError):
            self.get("account.revenue")
        with self.assertRaises(TimeoutError):
            self.get("account.revenue", timeout=0.3)
        # other paths of the same service were never affected
        self.assertEqual(self.get("account.customers")[0], 200)
        self.assertEqual(self.srv.json("POST", "/_control/script", {"steps": [{"kind": "quota"}]})[0], 400)
        self.assertEqual(self.srv.json("POST", "/_control/script", {"steps": [], "route": "billing"})[0], 400)

    def test_wrong_shape_of_every_source_breaks_its_schema(self):
        self.srv.script([], then={"kind": "invalid"})
        for source in SCHEMA_OF:
            status, _, raw = self.get(source)
            self.assertEqual(status, 200)
            self.assertNotEqual(schema_errors(upstream_schema(source), json.loads(raw)), [], source)

    def test_script_precedence_path_then_service_then_default(self):
        self.srv.script([], then={"kind": "status", "code": 500})
        self.srv.script([], then={"kind": "status", "code": 502}, route="traction")
        self.srv.script([], then={"kind": "ok"}, route="traction.people")
        self.assertEqual(self.get("account.profile")[0], 500)
        self.assertEqual(self.get("traction.goals")[0], 502)
        self.assertEqual(self.get("traction.people")[0], 200)


class CommandLineTest(unittest.TestCase):
    def test_non_loopback_host_refused(self):
        proc = subprocess.run([sys.executable, os.path.join(HERE, "fake_llm.py"), "--host", "0.0.0.0"],
                              capture_output=True, timeout=10)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"loopback", proc.stderr)


if __name__ == "__main__":
    unittest.main()
