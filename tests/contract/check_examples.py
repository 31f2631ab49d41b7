#!/usr/bin/env python3
"""Checks schemas/openapi.json against the project's contract rules.

1. Every example of a request body validates against its schema; every 200
   example's `data` validates against the operation's result schema; every
   other JSON example of a response validates against that response's schema.
2. Job operations carry the x-coachq-* extensions, a Prefer and an
   Idempotency-Key header parameter, 200/202 and problem+json error answers.
3. Schemas use only the keywords the C validator implements; patterns are
   POSIX ERE (no backslash escapes); request objects are closed
   (additionalProperties: false), strings bounded, arrays bounded; result
   objects are closed; enum values are Avro symbols unless whitelisted.
4. The file is formatted as `python3 -m json.tool --indent 2` prints it.

Usage: check_examples.py [path/to/openapi.json]. Needs `jsonschema` (and
`referencing`) from PyPI. Exit status 0 when everything passes.
"""
import json
import os
import re
import sys

import jsonschema
import referencing
from referencing.jsonschema import DRAFT202012

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_URI = "urn:coachq:openapi"
SCHEMA_PREFIX = "#/components/schemas/"

ALLOWED_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "minItems", "maxItems", "uniqueItems", "pattern", "format", "$ref", "allOf", "anyOf",
    "oneOf", "description", "title", "examples", "default", "deprecated",
    # An annotation for generators (the C validator ignores it): which
    # member tells the branches of a oneOf apart.
    "discriminator",
    # Ours: members of a result the worker sets to the time it finished the
    # job (a model's value there is not trusted).
    "x-coachq-stamp",
}
ALLOWED_FORMATS = {"date", "date-time", "uri", "email", "uuid"}
AVRO_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Enum values API.md spells with a hyphen; kept as the API gives them.
NON_AVRO_ENUM_OK = {"de-prioritize"}
KIND = {"alignment", "operations", "business-data"}
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

failures = []


def fail(where, msg):
    failures.append("%s: %s" % (where, msg))


def camel(op):
    parts = op.split("-")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def pascal(op):
    return "".join(p[:1].upper() + p[1:] for p in op.split("-"))


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.schemas = doc.get("components", {}).get("schemas", {})
        resource = referencing.Resource.from_contents(doc, default_specification=DRAFT202012)
        self.registry = referencing.Registry().with_resource(DOC_URI, resource)
        self.format_checker = jsonschema.FormatChecker()
        # jsonschema checks "uri" only with the optional rfc3987 package:
        # check the shape the C validator accepts (scheme ":" no spaces).
        self.format_checker.checks("uri")(
            lambda v: not isinstance(v, str) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^ \t\r\n]+$", v))

    def response(self, r):
        """A response, or the #/components/responses/... one it refers to."""
        ref = r.get("$ref", "")
        prefix = "#/components/responses/"
        if ref.startswith(prefix):
            return self.doc.get("components", {}).get("responses", {}).get(ref[len(prefix):], {})
        return r

    def validator(self, schema):
        # Wrap so that "#/components/..." refs inside resolve against the document.
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": DOC_URI + "-wrapper",
                "allOf": [self.absolutise(schema)]}
        return jsonschema.Draft202012Validator(root, registry=self.registry,
                                               format_checker=self.format_checker)

    def absolutise(self, schema):
        if isinstance(schema, dict):
            out = {}
            for k, v in schema.items():
                if k == "$ref" and isinstance(v, str) and v.startswith("#"):
                    out[k] = DOC_URI + v
                elif k in ("examples", "default", "const", "enum"):
                    out[k] = v
                else:
                    out[k] = self.absolutise(v)
            return out
        if isinstance(schema, list):
            return [self.absolutise(x) for x in schema]
        return schema

    def validate(self, where, schema, value):
        errs = sorted(self.validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
        for e in errs:
            fail(where, "/" + "/".join(str(p) for p in e.absolute_path) + ": " + e.message[:300])
        return not errs

    # ---------------------------------------------------------------- schema rules

    def check_schema(self, where, schema, mode):
        """mode: 'request' (closed, bounded), 'result' (closed) or None."""
        if not isinstance(schema, dict):
            fail(where, "schema is not an object")
            return
        for k in schema:
            if k not in ALLOWED_KEYWORDS:
                fail(where, "keyword %r is not in the project's subset" % k)
        stamp = schema.get("x-coachq-stamp")
        if stamp is not None:
            props = schema.get("properties", {})
            if not isinstance(stamp, list) or not all(
                    isinstance(n, str) and props.get(n, {}).get("format") == "date-time"
                    for n in stamp):
                fail(where, "x-coachq-stamp must list date-time properties of this schema")
        ref = schema.get("$ref")
        if ref is not None:
            if not ref.startswith(SCHEMA_PREFIX) or ref[len(SCHEMA_PREFIX):] not in self.schemas:
                fail(where, "bad $ref %r" % ref)
        fmt = schema.get("format")
        if fmt is not None and fmt not in ALLOWED_FORMATS:
            fail(where, "format %r not supported" % fmt)
        pat = schema.get("pattern")
        if pat is not None:
            if "\\" in pat:
                fail(where, "pattern %r uses a backslash escape (not POSIX ERE)" % pat)
            if re.search(r"\(\?|\*\?|\+\?|\}\?", pat):
                fail(where, "pattern %r uses a Perl-only construct" % pat)
        for v in schema.get("enum", []):
            if isinstance(v, str) and not AVRO_SYMBOL.match(v) and v not in NON_AVRO_ENUM_OK:
                fail(where, "enum value %r is not an Avro symbol" % v)
        types = schema.get("type")
        types = [types] if isinstance(types, str) else (types or [])
        if mode == "request":
            if "string" in types and "enum" not in schema and "const" not in schema \
                    and "maxLength" not in schema and "format" not in schema:
                fail(where, "request string without maxLength")
            if "array" in types and "maxItems" not in schema:
                fail(where, "request array without maxItems")
            if any(t in types for t in ("integer", "number")) and "maximum" not in schema \
                    and "exclusiveMaximum" not in schema:
                fail(where, "request number without maximum")
            if any(k in schema for k in ("oneOf", "anyOf")):
                fail(where, "oneOf/anyOf in a request schema")
        if mode in ("request", "result") and "object" in types and "properties" in schema:
            if schema.get("additionalProperties") is not False:
                fail(where, "object without additionalProperties: false")
        for name in schema.get("required", []):
            if name not in schema.get("properties", {}):
                fail(where, "required %r is not a property" % name)
        for k, sub in schema.get("properties", {}).items():
            self.check_schema(where + "/properties/" + k, sub, mode)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                self.check_schema(where + "/" + key, schema[key], mode)
        for key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(schema.get(key, [])):
                self.check_schema("%s/%s/%d" % (where, key, i), sub, mode)

    def refs_of(self, name, seen):
        """Names of component schemas reachable from `name`."""
        if name in seen:
            return seen
        seen.add(name)

        def walk(node):
            if isinstance(node, dict):
                r = node.get("$ref")
                if isinstance(r, str) and r.startswith(SCHEMA_PREFIX):
                    self.refs_of(r[len(SCHEMA_PREFIX):], seen)
                for k, v in node.items():
                    if k not in ("examples", "default", "const", "enum"):
                        walk(v)
            elif isinstance(node, list):
                for x in node:
                    walk(x)

        walk(self.schemas.get(name, {}))
        return seen

    # ---------------------------------------------------------------- operations

    def check_examples(self, where, media, schema):
        n = 0
        if "example" in media:
            self.validate(where + "/example", schema, media["example"])
            n += 1
        for ename, ex in media.get("examples", {}).items():
            if "value" not in ex:
                fail(where, "example %r has no value" % ename)
                continue
            self.validate(where + "/examples/" + ename, schema, ex["value"])
            n += 1
        return n

    def param(self, p):
        """A parameter, its $ref to #/components/parameters/<Name> followed."""
        ref = p.get("$ref", "")
        if ref.startswith("#/components/parameters/"):
            return self.doc.get("components", {}).get("parameters", {}).get(ref.rsplit("/", 1)[1], {})
        return p

    def check_job_schema(self, where, name, res_ptr, schema_name, union_name):
        """<Op>Job / <Op>BatchResultLine: operation is a const, result the
        operation's result schema, and the union lists it under its name."""
        sch = self.schemas.get(schema_name)
        if sch is None:
            fail(where, "no schema %s" % schema_name)
            return
        props = sch.get("properties", {})
        if props.get("operation", {}).get("const") != name:
            fail(schema_name, "operation is not const %r" % name)
        if props.get("result", {}).get("$ref") != res_ptr:
            fail(schema_name, "result is not $ref %s" % res_ptr)
        union = self.schemas.get(union_name, {})
        ref = SCHEMA_PREFIX + schema_name
        if {"$ref": ref} not in union.get("oneOf", []) or \
                union.get("discriminator", {}).get("mapping", {}).get(name) != ref:
            fail(union_name, "oneOf/discriminator mapping lacks %s" % schema_name)

    def check_job_op(self, where, method, op):
        name = op.get("x-coachq-operation")
        if not isinstance(name, str) or not KEBAB.match(name):
            fail(where, "x-coachq-operation missing or not kebab-case")
            return None
        if op.get("operationId") != camel(name):
            fail(where, "operationId %r should be %r" % (op.get("operationId"), camel(name)))
        if op.get("x-coachq-kind") not in KIND:
            fail(where, "x-coachq-kind %r" % op.get("x-coachq-kind"))
        res_ptr = SCHEMA_PREFIX + pascal(name) + "Result"
        if op.get("x-coachq-result-schema") != res_ptr:
            fail(where, "x-coachq-result-schema should be %r" % res_ptr)
        params = {(p.get("in"), p.get("name")) for p in map(self.param, op.get("parameters", []))}
        for h in ("Prefer", "Idempotency-Key"):
            if ("header", h) not in params:
                fail(where, "no %s header parameter" % h)
        req_ptr = op.get("x-coachq-request-schema")
        if method == "post":
            want = SCHEMA_PREFIX + pascal(name) + "Request"
            if req_ptr != want:
                fail(where, "x-coachq-request-schema should be %r" % want)
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            if not media or media.get("schema") != {"$ref": want}:
                fail(where, "requestBody application/json schema must be {$ref: %s}" % want)
            elif not media.get("examples"):
                fail(where, "request has no named examples")
        elif req_ptr is not None:
            fail(where, "x-coachq-request-schema on a %s operation" % method)
        resp = op.get("responses", {})
        ok = resp.get("200", {}).get("content", {}).get("application/json")
        envelope = SCHEMA_PREFIX + pascal(name) + "Response"
        if not ok:
            fail(where, "no 200 application/json")
        else:
            # Named envelopes, so that generated clients get stable type names.
            if ok.get("schema") != {"$ref": envelope}:
                fail(where, "200 schema is not {$ref: %s}" % envelope)
            props = self.schemas.get(envelope[len(SCHEMA_PREFIX):], {}).get("properties", {})
            if props.get("success", {}).get("const") is not True or \
                    props.get("data") != {"$ref": res_ptr}:
                fail(where, "%s is not {success: const true, data: $ref %s}" % (envelope, res_ptr))
            if not ok.get("examples"):
                fail(where, "200 has no example")
        self.check_job_schema(where, name, res_ptr, pascal(name) + "Job", "JobResource")
        self.check_job_schema(where, name, res_ptr, pascal(name) + "BatchResultLine", "BatchResultLine")
        acc = resp.get("202", {})
        if acc.get("content", {}).get("application/json", {}).get("schema") != \
                {"$ref": SCHEMA_PREFIX + pascal(name) + "Job"}:
            fail(where, "202 is not a %sJob" % pascal(name))
        if "409" not in resp:
            fail(where, "no 409 (JOB_CANCELLED on a replay of a cancelled job)")
        for h in ("Location", "Retry-After", "X-Job-Id"):
            if h not in acc.get("headers", {}):
                fail(where, "202 lacks header %s" % h)
        for code, r in resp.items():
            r = self.response(r)
            if code[0] in "45":
                s = r.get("content", {}).get("application/problem+json", {}).get("schema")
                if s != {"$ref": SCHEMA_PREFIX + "Problem"}:
                    fail(where, "%s is not application/problem+json Problem" % code)
        return name

    def check_no_type_lists(self, node, where):
        if isinstance(node, dict):
            t = node.get("type")
            if isinstance(t, list) and "array" in t and "items" not in node:
                fail(where, "type list %r without items" % (t,))
            for k, v in node.items():
                if k not in ("examples", "example", "default", "const", "enum"):
                    self.check_no_type_lists(v, where + "/" + k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                self.check_no_type_lists(v, "%s/%d" % (where, i))

    def run(self):
        doc = self.doc
        if doc.get("servers") != [{"url": "/coaching/api/v1"}]:
            fail("servers", "must be [{url: /coaching/api/v1}]")
        if "bearerAuth" not in doc.get("components", {}).get("securitySchemes", {}):
            fail("components", "no bearerAuth security scheme")
        # Bearer tokens everywhere; the development-only header schemes may follow.
        security = doc.get("security") or [{}]
        if security[0] != {"bearerAuth": []}:
            fail("security", "bearerAuth must apply globally (first)")
        schemes = doc.get("components", {}).get("securitySchemes", {})
        for alt in security[1:]:
            for scheme in alt:
                if "development only" not in schemes.get(scheme, {}).get("description", "").lower():
                    fail("security", "%s is not described as development only" % scheme)
        # Generators choke on a type list without items (array) or a result
        # of unknown shape: no such schema anywhere.
        self.check_no_type_lists(doc, "")

        request_roots, result_roots = set(), set()
        names, op_ids = {}, set()
        n_examples = 0
        for path, item in doc.get("paths", {}).items():
            for method in METHODS:
                op = item.get(method)
                if op is None:
                    continue
                where = "%s %s" % (method.upper(), path)
                oid = op.get("operationId")
                if not oid or oid in op_ids:
                    fail(where, "operationId missing or duplicated")
                op_ids.add(oid)
                if "x-coachq-operation" in op:
                    name = self.check_job_op(where, method, op)
                    if name:
                        if name in names:
                            fail(where, "operation %r also on %s" % (name, names[name]))
                        names[name] = where
                        result_roots.add(pascal(name) + "Result")
                        if method == "post":
                            request_roots.add(pascal(name) + "Request")
                # Every example anywhere in the operation validates (request
                # examples and 200 envelopes of job operations included).
                rb = op.get("requestBody", {}).get("content", {})
                for mt, media in rb.items():
                    if "schema" in media and mt.endswith("json"):
                        n_examples += self.check_examples(where + " request " + mt, media, media["schema"])
                for code, r in op.get("responses", {}).items():
                    for mt, media in self.response(r).get("content", {}).items():
                        if "schema" in media and mt.endswith("json"):
                            n_examples += self.check_examples("%s %s %s" % (where, code, mt), media,
                                                              media["schema"])

        for name in sorted(self.schemas):
            if not re.match(r"^[A-Z][A-Za-z0-9]*$", name):
                fail("schema " + name, "not PascalCase")
        req_reach, res_reach = set(), set()
        for r in request_roots:
            self.refs_of(r, req_reach)
        for r in result_roots:
            self.refs_of(r, res_reach)
        for name in sorted(self.schemas):
            if name not in self.schemas:
                continue
            mode = "request" if name in req_reach else ("result" if name in res_reach else None)
            self.check_schema("#/components/schemas/" + name, self.schemas[name], mode)
        for r in sorted(request_roots | result_roots):
            if r not in self.schemas:
                fail(r, "schema missing")
        return names, n_examples


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "schemas", "openapi.json")
    with open(path) as f:
        raw = f.read()
    doc = json.loads(raw)
    names, n_examples = Checker(doc).run()
    # The committed form is what `python3 -m json.tool --indent 2` prints.
    if raw != json.dumps(doc, indent=2) + "\n":
        fail(path, "not formatted as `python3 -m json.tool --indent 2` would")
    if failures:
        for f in failures:
            print("FAIL", f)
        print("%d failure(s)" % len(failures))
        return 1
    print("ok: %d job operations, %d examples validated" % (len(names), n_examples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
