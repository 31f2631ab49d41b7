#!/usr/bin/env python3
"""Benchmark: do a thousand waiting requests starve anything else?

Opens WAITS concurrent synchronous POSTs (Prefer: wait=W) against a gateway
whose worker is stopped, so every one of them waits. While they wait it times
health checks, asynchronous submissions and job polls. Then it starts the
worker (by running START_CMD) and times until every waiting POST has its 200.
Prints the figures; asserts nothing (a benchmark, not a test).

Usage: gateway_waits.py BASE_URL WAITS WAIT_S START_CMD
"""
import asyncio
import json
import subprocess
import sys
import time
import urllib.parse

BODY = json.dumps({
    "goalIntent": "Grow recurring revenue from maintenance plans",
    "strategies": ["Sell plans at handover"], "kpis": ["Plan attach rate"],
    "businessFoundation": {"vision": "Clean energy in every home",
                           "purpose": "Make solar simple", "coreValues": ["Integrity"]}}).encode()


async def request(url, method="GET", headers=None, body=b""):
    u = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    lines = [f"{method} {u.path}{'?' + u.query if u.query else ''} HTTP/1.1",
             f"Host: {u.netloc}", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, payload


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


async def main():
    base, waits, wait_s, start_cmd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    hdr = {"Content-Type": "application/json", "X-Tenant-Id": "bench", "Prefer": f"wait={wait_s}"}
    t0 = time.monotonic()
    done_at = {}

    async def waiter(i):
        status, _ = await request(base + "/coaching/alignment-check", "POST", hdr, BODY)
        done_at[i] = (time.monotonic(), status)

    tasks = [asyncio.create_task(waiter(i)) for i in range(waits)]
    await asyncio.sleep(3)  # let them all arrive and park
    health, submit, poll = [], [], []
    job_id = None
    for _ in range(20):
        t = time.monotonic()
        s, _ = await request(base + "/health")
        health.append((time.monotonic() - t) * 1000) if s == 200 else None
        t = time.monotonic()
        s, p = await request(base + "/coaching/alignment-check", "POST",
                             {**hdr, "Prefer": "respond-async"}, BODY)
        if s == 202:
            submit.append((time.monotonic() - t) * 1000)
            job_id = json.loads(p)["jobId"]
        if job_id:
            t = time.monotonic()
            s, _ = await request(base + "/jobs/" + job_id, "GET", {"X-Tenant-Id": "bench"})
            poll.append((time.monotonic() - t) * 1000) if s == 200 else None
        await asyncio.sleep(0.05)
    parked = waits - len(done_at)
    print(f"{waits} waiting POSTs; still waiting after 3 s: {parked}")
    print(f"while they wait: health {len(health)}/20 ok, p50 {pct(health, .5):.1f} ms, max {max(health or [0]):.1f} ms")
    print(f"                 async submit {len(submit)}/20 got 202, p50 {pct(submit, .5):.1f} ms, max {max(submit or [0]):.1f} ms")
    print(f"                 poll {len(poll)}/20 got 200, p50 {pct(poll, .5):.1f} ms, max {max(poll or [0]):.1f} ms")
    t_start = time.monotonic()
    subprocess.Popen(start_cmd, shell=True)
    await asyncio.gather(*tasks)
    codes = {}
    for _, s in done_at.values():
        codes[s] = codes.get(s, 0) + 1
    last = max(t for t, _ in done_at.values())
    print(f"worker started: all {waits} answered {codes} within {last - t_start:.1f} s")


asyncio.run(main())
