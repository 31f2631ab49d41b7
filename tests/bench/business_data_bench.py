#!/usr/bin/env python3
"""Benchmark: the business-data cache under a Zipf load of many tenants.

TENANTS tenants with Zipf popularity (weight of rank r = 1 / r**S), one
GET /multitenant/conversations/business-data every 1/RATE s for DURATION s
(a steady arrival rate, each request in its own task, whatever the answer
time). The cache TTL of the gateway and worker under test is TTL s. Every
TTL s the fake upstream's per-tenant, per-path call counts are read, so
calls per tenant per TTL window are counted window by window.

Prints: requests, status counts, cache hit ratio (cached: true answers /
200 answers), p50/p99/max of cached answers and of the others (client-side
wall time, connection set-up included), and upstream calls per tenant per
path per TTL window (max and mean over the tenants called in a window).
Asserts nothing: a benchmark, not a test.

Usage: business_data_bench.py BASE_URL UPSTREAM_PORT TENANTS RATE DURATION TTL [S]
"""
import asyncio
import collections
import json
import random
import sys
import time
import urllib.request


async def get(base, tenant):
    host, port = "127.0.0.1", int(base.split(":")[2].split("/")[0])
    path = "/" + base.split("/", 3)[3] + "/multitenant/conversations/business-data"
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
                  f"X-Tenant-Id: {tenant}\r\nAuthorization: Bearer bench-token\r\n\r\n").encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    dt = time.perf_counter() - t0
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    cached = b'"cached":true' in body.replace(b" ", b"")
    return status, cached, dt


def counts(upstream_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{upstream_port}/_control/counts") as r:
        return json.load(r)


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def main():
    base, up_port = sys.argv[1], int(sys.argv[2])
    tenants, rate, duration, ttl = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    s = float(sys.argv[7]) if len(sys.argv) > 7 else 1.0
    run = f"bench{int(time.time())}"
    names = [f"{run}-t{i + 1}" for i in range(tenants)]
    weights = [1 / (r + 1) ** s for r in range(tenants)]
    rng = random.Random(42)
    results, tasks = [], []
    windows, last = [], counts(up_port)

    async def one(tenant):
        try:
            results.append(await get(base, tenant))
        except OSError:
            results.append((0, False, 0.0))

    start = time.perf_counter()
    next_window = start + ttl
    n = 0
    while True:
        now = time.perf_counter()
        if now - start >= duration:
            break
        if now >= next_window:
            cur = counts(up_port)
            windows.append((last, cur))
            last, next_window = cur, next_window + ttl
        due = start + n / rate
        if due > now:
            await asyncio.sleep(due - now)
            continue
        tasks.append(asyncio.create_task(one(rng.choices(names, weights)[0])))
        n += 1
    await asyncio.gather(*tasks)
    windows.append((last, counts(up_port)))

    status = collections.Counter(r[0] for r in results)
    ok = [r for r in results if r[0] == 200]
    hits = [r[2] * 1000 for r in ok if r[1]]
    misses = [r[2] * 1000 for r in ok if not r[1]]
    per_window = []  # calls of one tenant on one path in one window
    for before, after in windows:
        for t, paths in after.items():
            if not t.startswith(run + "-"):
                continue
            for p, c in paths.items():
                d = c - before.get(t, {}).get(p, 0)
                if d > 0:
                    per_window.append(d)
    elapsed = time.perf_counter() - start
    print(f"requests: {len(results)} in {elapsed:.1f} s ({len(results) / elapsed:.1f}/s), "
          f"tenants {tenants}, Zipf s={s}, TTL {ttl:g} s, statuses {dict(status)}")
    print(f"cache hit ratio: {len(hits) / max(1, len(ok)) * 100:.1f} % ({len(hits)} of {len(ok)})")
    print(f"cached answers: p50 {pct(hits, 50):.2f} ms, p99 {pct(hits, 99):.2f} ms, "
          f"max {max(hits) if hits else float('nan'):.2f} ms")
    print(f"other answers (a job ran or was joined): p50 {pct(misses, 50):.1f} ms, "
          f"p99 {pct(misses, 99):.1f} ms")
    called = len({t for _, a in windows for t in a if t.startswith(run + "-")})
    print(f"upstream calls per tenant per path per TTL window ({len(windows)} windows, "
          f"{called} tenants called): max {max(per_window) if per_window else 0}, "
          f"mean {sum(per_window) / max(1, len(per_window)):.3f}")


if __name__ == "__main__":
    asyncio.run(main())
