#!/usr/bin/env python3
"""Seeds for the fuzzers that read what other services answer, made with the
project's own fake servers (tests/fake/): fuzz_llm_reply gets every provider's
answer, error and malformed shapes as tests/fake/fake_llm.py writes them, with
contents generated from the contract's result schemas; fuzz_bd_upstream gets
the Account/Traction replies of tests/fake/fake_upstream.py for a few tenants
(good and wrong-shaped). Usage: seeds.py OUTDIR (writes OUTDIR/<fuzzer>/).
Python standard library only."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "fake"))

sys.dont_write_bytecode = True
import fake_llm  # noqa: E402
import fake_upstream  # noqa: E402

# The status table of fuzz_llm_reply.c: byte 1 is an index into it.
STATUSES = [200, 200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 408,
            409, 413, 422, 429, 500, 501, 502, 503, 504, 529, 0, 299]
PROVIDERS = {"openai": 0, "anthropic": 1, "bedrock": 2}
# The order of cq_bd_source_id_t (workers/business_data/cq_bd_upstream.h).
BD_SOURCES = [("account.profile", ""), ("account.foundation", ""), ("account.revenue", ""),
              ("account.customers", ""), ("account.team", ""), ("traction.goals", ""),
              ("traction.actions", ""), ("traction.issues", "status=open"),
              ("traction.people", ""), ("traction.measures", "")]


def llm_seed(route, status, body, retry_after=None, transport=0):
    head = bytes([PROVIDERS[route], STATUSES.index(status),
                  transport | (8 if retry_after is not None else 0)])
    extra = (retry_after + "\n").encode() if retry_after is not None else b""
    return head + extra + body


def llm_answer(route, value, text=None):
    text = json.dumps(value) if text is None else text
    if route == "openai":
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1800000000,
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366}}
    if isinstance(value, dict) and text == json.dumps(value):
        content, stop = [{"type": "tool_use", "id": "toolu_1", "name": "answer",
                          "input": value}], "tool_use"
    else:
        content, stop = [{"type": "text", "text": text}], "end_turn"
    return {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-3-5-haiku", "content": content, "stop_reason": stop,
            "stop_sequence": None, "usage": {"input_tokens": 321, "output_tokens": 45}}


def llm_seeds(openapi):
    schemas = openapi["components"]["schemas"]
    names = sorted(n for n in schemas if n.endswith("Result"))[:6]
    for route in PROVIDERS:
        for i, name in enumerate(names):
            value = fake_llm.generate(schemas[name], openapi, variant=i)
            yield f"{route}-ok-{name}", llm_seed(route, 200, json.dumps(llm_answer(route, value)).encode())
            broken = fake_llm.break_instance(schemas[name], value, openapi)
            yield f"{route}-invalid-{name}", llm_seed(route, 200, json.dumps(llm_answer(route, broken)).encode())
        yield f"{route}-not-json", llm_seed(route, 200, json.dumps(
            llm_answer(route, None, fake_llm.NOT_JSON)).encode())
        yield f"{route}-truncated", llm_seed(route, 200, fake_llm.TRUNCATED)
        for code in (400, 401, 403, 429, 500, 503, 529):
            _, _, body = fake_llm.FakeLLM.error(None, route, code, f"scripted {code}")
            yield f"{route}-{code}", llm_seed(route, code, body,
                                              "7" if code in (429, 503, 529) else None)
        _, _, body = fake_llm.FakeLLM.error(None, route, 429, "You exceeded your current quota",
                                            "insufficient_quota")
        yield f"{route}-quota", llm_seed(route, 429, body, "Fri, 31 Dec 9999 23:59:59 GMT")
        _, _, body = fake_llm.FakeLLM.error(None, route, 400, "response_format json_schema is not supported")
        yield f"{route}-format-refused", llm_seed(route, 400, body)
        yield f"{route}-timeout", llm_seed(route, 0, b"", transport=1)


def bd_seeds():
    for tenant in ("acme-dental", "bakery-42", "x"):
        parts = [json.dumps(fake_upstream.reply(s, tenant, q)).encode() for s, q in BD_SOURCES]
        yield f"ok-{tenant}", b"\0".join(parts)
        for i, (s, q) in enumerate(BD_SOURCES):
            wrong = list(parts)
            wrong[i] = json.dumps(fake_upstream.wrong_shape(s, fake_upstream.reply(s, tenant, q))).encode()
            yield f"wrong-{tenant}-{s}", b"\0".join(wrong)


LLM_WORDS = ["choices", "message", "content", "role", "assistant", "refusal", "finish_reason", "stop",
             "length", "content_filter", "tool_calls", "function", "arguments", "usage",
             "prompt_tokens", "completion_tokens", "model", "error", "type", "code", "param",
             "insufficient_quota", "tool_use", "text", "input", "name", "stop_reason", "end_turn",
             "max_tokens", "input_tokens", "output_tokens", "response_format", "json_schema"]


def names_in(schema, out):
    """Property names and enum/const strings of a JSON Schema, recursively."""
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == "properties" and isinstance(v, dict):
                out.update(v)
            elif k in ("enum", "const"):
                out.update(x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str))
            names_in(v, out)
    elif isinstance(schema, list):
        for v in schema:
            names_in(v, out)
    return out


def write_dict(path, words):
    """tests/fuzz/dict/json.dict plus each word as a JSON string token."""
    with open(os.path.join(HERE, "dict", "json.dict"), encoding="utf-8") as f:
        base = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(base)
        for w in sorted(words):
            if w.isascii() and w.isprintable() and len(w) < 64 and '"' not in w and '\\' not in w:
                f.write('"\\"%s\\""\n' % w)


def main():
    if len(sys.argv) != 2:
        print("usage: seeds.py OUTDIR", file=sys.stderr)
        return 2
    with open(os.path.join(ROOT, "schemas", "openapi.json"), encoding="utf-8") as f:
        openapi = json.load(f)
    n = 0
    for fuzzer, seeds in (("fuzz_llm_reply", llm_seeds(openapi)), ("fuzz_bd_upstream", bd_seeds())):
        d = os.path.join(sys.argv[1], fuzzer)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            n += 1
    out = sys.argv[1]
    write_dict(os.path.join(out, "fuzz_schema.dict"), names_in(openapi["components"], set()))
    write_dict(os.path.join(out, "fuzz_llm_reply.dict"), set(LLM_WORDS))
    up, updir = set(), os.path.join(ROOT, "schemas", "upstream")
    for name in os.listdir(updir):
        with open(os.path.join(updir, name), encoding="utf-8") as f:
            names_in(json.load(f), up)
    write_dict(os.path.join(out, "fuzz_bd_upstream.dict"), up)
    print(f"seeds.py: {n} seeds and 3 dictionaries in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
