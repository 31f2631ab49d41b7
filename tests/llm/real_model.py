#!/usr/bin/env python3
"""Sends every LLM-capable operation once to a running coachq and prints a table.

Called by tests/llm/real_model.sh (which starts the stack, a real model server
and the programs); standard library only. An operation is LLM-capable when its
worker kind has a prompt for it (workers/<kind>/prompts/<op>.system.txt) and the
kind's worker runs. Its request is the first example of the contract's request
body. Operations are sent one after the other, so the worker log lines written
meanwhile belong to that operation: a repair ("asking for a repair") and a
structured-output fallback ("refused structured output") are read from there.

Outcome per operation:
  valid first time   the job succeeded (the worker validated the model's answer
                     against the result schema) without a repair prompt
  valid after repair it succeeded after the one repair prompt
  failed             the job failed (code and our message shown)
Exit status: 0 when every operation was answered by the model (succeeded, or
failed with INVALID_AI_RESPONSE: the model's answer stayed invalid), 1 when any
failed for another reason (server down, timeouts, configuration).
"""
import argparse
import glob
import http.client
import json
import os
import sys
import time
import urllib.parse

HEADERS = {"Content-Type": "application/json", "X-Tenant-Id": "real-model", "X-User-Id": "u-llm"}


def operations(root, kinds):
    with open(os.path.join(root, "schemas", "openapi.json")) as f:
        doc = json.load(f)
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "x-coachq-operation" not in op or method != "post":
                continue
            name, kind = op["x-coachq-operation"], op["x-coachq-kind"]
            if kind not in kinds:
                continue
            if not os.path.exists(os.path.join(root, "workers", kind, "prompts", f"{name}.system.txt")):
                continue
            media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            examples = media.get("examples") or {}
            body = next(iter(examples.values()))["value"] if examples else media.get("example")
            if body is None:
                print(f"real-model: {name}: no request example in the contract, skipped", file=sys.stderr)
                continue
            out.append((name, kind, path, body))
    return out


def call(base, method, path, body=None, headers=None, timeout=900):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, u.path.rstrip("/") + path, data, {**HEADERS, **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, doc
    finally:
        conn.close()


def log_sizes(log_dir):
    return {p: os.path.getsize(p) for p in glob.glob(os.path.join(log_dir, "coachq-*-worker.log"))}


def new_log_lines(before):
    lines = []
    for p, size in before.items():
        with open(p, errors="replace") as f:
            f.seek(size)
            lines += f.read().splitlines()
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="gateway base URL, e.g. http://127.0.0.1:8081/coaching/api/v1")
    ap.add_argument("--root", required=True, help="source tree")
    ap.add_argument("--logs", required=True, help="folder with the coachq-*-worker.log files")
    ap.add_argument("--kinds", required=True, help="comma-separated worker kinds that run")
    ap.add_argument("--wait", type=int, default=900, help="seconds one operation may take")
    args = ap.parse_args()

    ops = operations(args.root, set(args.kinds.split(",")))
    if not ops:
        print("real-model: no LLM-capable operation found", file=sys.stderr)
        return 1
    rows, infra_failures = [], 0
    for name, kind, path, body in ops:
        before = log_sizes(args.logs)
        t0 = time.monotonic()
        status, headers, doc = call(args.base, "POST", path, body, {"Prefer": f"wait={args.wait}"},
                                    timeout=args.wait + 30)
        wall = time.monotonic() - t0
        job_id = headers.get("x-job-id")
        job = None
        if job_id:
            _, _, job = call(args.base, "GET", f"/jobs/{job_id}", headers={"Prefer": "wait=5"})
        lines = [l for l in new_log_lines(before) if f"[llm] {name} " in l]
        repaired = any("asking for a repair" in l for l in lines)
        fallbacks = [l.split("refused structured output ", 1)[1].split(" ", 1)[0]
                     for l in lines if "refused structured output" in l]
        job = job or {}
        engine = job.get("engine") or {}
        state = job.get("status", f"HTTP {status}")
        if state == "succeeded":
            outcome = "valid after repair" if repaired else "valid first time"
        else:
            err = job.get("error") or (doc or {})
            code = err.get("code", "?")
            outcome = f"failed: {code}: {err.get('message') or err.get('detail') or ''}"[:90]
            if code != "INVALID_AI_RESPONSE":
                infra_failures += 1
        latency = engine.get("latencyMs")
        rows.append((name, kind, outcome, engine.get("attempts", "-"),
                     f"{latency / 1000:.1f}" if isinstance(latency, (int, float)) else f"{wall:.1f}",
                     f"{engine.get('promptTokens', '-')}/{engine.get('completionTokens', '-')}",
                     ",".join(fallbacks) or "-"))
        print(f"real-model: {name}: {outcome} ({wall:.1f} s)", file=sys.stderr, flush=True)

    head = ("operation", "kind", "outcome", "calls", "latency s", "tokens in/out", "mode refused")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head, tuple("-" * w for w in widths)] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    first = sum(r[2] == "valid first time" for r in rows)
    repaired = sum(r[2] == "valid after repair" for r in rows)
    print(f"\n{len(rows)} operations: {first} valid first time, {repaired} valid after repair, "
          f"{len(rows) - first - repaired} failed ({infra_failures} not because of the answer)")
    return 1 if infra_failures else 0


if __name__ == "__main__":
    sys.exit(main())
