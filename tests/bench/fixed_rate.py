#!/usr/bin/env python3
"""Fixed-rate load of tests/bench/throughput.sh (issue 11).

wrk sends as fast as the server answers; this sends at a fixed rate (the
request i is due at start + i/rate) over a pool of kept-alive connections and
measures each latency from the time the request was due, not from when a free
connection sent it, so a server that falls behind shows it (no coordinated
omission). Prints one line:
  BENCH_JSON {"offered_per_s":R,"requests":N,"statuses":{...},"non2xx":N,
              "socket_errors":N,"p50_ms":..,"p99_ms":..,"p999_ms":..,"max_ms":..,
              "generator_cpu_s":S}

  fixed_rate.py URL RATE DURATION_S [--prefer respond-async] [--conns 32]
      [--body-lua tests/bench/throughput.lua]
"""
import argparse
import asyncio
import json
import os
import re
import sys
import time
from urllib.parse import urlsplit


def lua_body(path):
    """The request body of the wrk script, so both generators send the same bytes."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"wrk\.body = (.*?)\n\n", text, re.S)
    if not m:
        raise SystemExit(f"{path}: no wrk.body = ... found")
    return "".join(re.findall(r"'([^']*)'", m.group(1))).encode()


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close"


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, int(round(p / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[i]


async def run(args):
    url = urlsplit(args.url)
    body = lua_body(args.body_lua)
    prefer = f"Prefer: {args.prefer}\r\n" if args.prefer else ""
    request = (f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
               f"Content-Type: application/json\r\nX-Tenant-Id: {args.tenant}\r\n"
               f"X-User-Id: bench\r\n{prefer}Content-Length: {len(body)}\r\n\r\n").encode() + body
    total = int(args.rate * args.duration)
    queue = asyncio.Queue()
    latencies, statuses = [], {}
    errors = 0

    async def connection():
        nonlocal errors
        reader = writer = None
        while True:
            due = await queue.get()
            if due is None:
                break
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(url.hostname, url.port)
                writer.write(request)
                status, close = await asyncio.wait_for(read_response(reader), 30)
                latencies.append(time.perf_counter() - due)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if close:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(args.conns)]
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(due)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    lat = sorted(x * 1000 for x in latencies)
    non2xx = sum(v for k, v in statuses.items() if not k.startswith("2"))
    out = {"offered_per_s": args.rate, "requests": len(lat), "duration_s": round(elapsed, 3),
           "statuses": statuses, "non2xx": non2xx, "socket_errors": errors,
           "p50_ms": round(percentile(lat, 50), 3), "p99_ms": round(percentile(lat, 99), 3),
           "p999_ms": round(percentile(lat, 99.9), 3), "max_ms": round(lat[-1] if lat else 0, 3),
           # The generator's own CPU: on a small machine it competes with what it measures.
           "generator_cpu_s": round(sum(os.times()[:2]), 2)}
    print("BENCH_JSON " + json.dumps(out, separators=(",", ":")))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("rate", type=float)
    p.add_argument("duration", type=float)
    p.add_argument("--prefer", default="")
    p.add_argument("--conns", type=int, default=32)
    p.add_argument("--tenant", default="bench")
    p.add_argument("--body-lua", default=os.path.join(os.path.dirname(__file__), "throughput.lua"))
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
