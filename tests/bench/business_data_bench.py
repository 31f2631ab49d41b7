#!/usr/bin/env python3
"""Benchmark: the business-data cache under a Zipf load of many tenants.

TENANTS tenants with Zipf popularity (weight of rank r = 1 / r**S), one
GET /multitenant/conversations/business-data every 1/RATE s for DURATION s
(a steady arrival rate, each request in its own task, whatever the answer
time). The cache TTL of the gateway and worker under test is TTL s.

Connections: BENCH_CONNECTIONS=keepalive (default) sends each request on a
kept-alive connection from a small pool (a new one only when none is
idle), as a real client would; BENCH_CONNECTIONS=new opens a new
connection per request (connection set-up then counts in the answer time).

Prints: requests, status counts, cache hit ratio (cached: true answers /
200 answers); p50/p99/max of cached answers and of the others as the
client saw them (wall time from sending the request to the last byte of
the answer, connection set-up included when there was one); the same
figures from the gateway's own histogram of answer times
(coachq_gateway_business_data_answer_seconds: request handling to answer
ready, interpolated within its buckets) when the gateway has it; and
upstream calls per tenant per path: per TTL window counted two ways — by
reading the fake's counts every TTL s (as earlier runs did), and from the
fake's call times in fixed TTL windows from the start — and the shortest
time between two calls of one tenant on one path (at most one call per
window holds for any placement of the windows when that is at least TTL).
Asserts nothing: a benchmark, not a test.

Usage: business_data_bench.py BASE_URL UPSTREAM_PORT TENANTS RATE DURATION TTL [S]
"""
import asyncio
import collections
import json
import os
import random
import re
import sys
import time
import urllib.error
import urllib.request

POOL_MAX = 64  # idle kept-alive connections kept at most
IDLE_MAX_S = 2.0  # an idle connection older than this is closed, not reused (the
# gateway closes idle ones after gateway.keep_alive_timeout, 5 s)


class Client:
    def __init__(self, base, keepalive):
        self.host = "127.0.0.1"
        self.port = int(base.split(":")[2].split("/")[0])
        self.path = "/" + base.split("/", 3)[3] + "/multitenant/conversations/business-data"
        self.keepalive = keepalive
        self.idle = []
        self.opened = 0
        self.reused_closed = 0  # idle connections found closed by the server (retried)

    async def exchange(self, reader, writer, tenant):
        conn = "keep-alive" if self.keepalive else "close"
        writer.write((f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                      f"Connection: {conn}\r\nX-Tenant-Id: {tenant}\r\n"
                      f"Authorization: Bearer bench-token\r\n\r\n").encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        body = await reader.readexactly(int(m.group(1))) if m else await reader.read()
        closing = not m or re.search(rb"(?im)^connection:\s*close", head) is not None
        return int(head.split(b" ", 2)[1]), body, closing

    async def get(self, tenant):
        t0 = time.perf_counter()
        while self.idle and t0 - self.idle[-1][2] > IDLE_MAX_S:
            self.idle.pop()[1].close()
        for attempt in range(2):
            fresh = attempt > 0 or not self.idle
            if fresh:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                self.opened += 1
            else:
                reader, writer, _ = self.idle.pop()
            try:
                status, body, closing = await self.exchange(reader, writer, tenant)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                if fresh:
                    raise
                self.reused_closed += 1
                t0 = time.perf_counter()  # the server had closed an idle one: again
                continue
            done = time.perf_counter()
            if self.keepalive and not closing and len(self.idle) < POOL_MAX:
                self.idle.append((reader, writer, done))
            else:
                writer.close()
            return status, b'"cached":true' in body.replace(b" ", b""), done - t0
        raise ConnectionError("no answer")


def fetch_json(url):
    try:
        with urllib.request.urlopen(url) as r:
            return json.load(r)
    except urllib.error.HTTPError:
        return None


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def histogram(metrics_text, name, labels):
    """Cumulative buckets [(le, count)] of one label set, or None."""
    buckets = []
    for line in metrics_text.splitlines():
        if line.startswith(name + "_bucket{") and labels in line:
            le = re.search(r'le="([^"]+)"', line).group(1)
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    return buckets or None


def histo_pct(buckets, p):
    """The p-th percentile, linearly interpolated inside its bucket (seconds)."""
    total = buckets[-1][1]
    if total == 0:
        return float("nan")
    rank, lo, below = p / 100 * total, 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lo
            return lo + (le - lo) * (rank - below) / max(count - below, 1e-9)
        lo, below = le, count
    return lo


async def main():
    base, up_port = sys.argv[1], int(sys.argv[2])
    tenants, rate, duration, ttl = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    s = float(sys.argv[7]) if len(sys.argv) > 7 else 1.0
    keepalive = os.environ.get("BENCH_CONNECTIONS", "keepalive") != "new"
    client = Client(base, keepalive)
    up = f"http://127.0.0.1:{up_port}/_control"
    run = f"bench{int(time.time())}"
    names = [f"{run}-t{i + 1}" for i in range(tenants)]
    weights = [1 / (r + 1) ** s for r in range(tenants)]
    rng = random.Random(42)
    results, tasks, errors = [], [], collections.Counter()
    windows, last = [], fetch_json(up + "/counts")

    async def one(tenant):
        try:
            results.append(await client.get(tenant))
        except (OSError, asyncio.IncompleteReadError) as e:
            errors[type(e).__name__] += 1
            results.append((0, False, 0.0))

    wall_start, start = time.time(), time.perf_counter()
    next_window = start + ttl
    n = 0
    while True:
        now = time.perf_counter()
        if now - start >= duration:
            break
        if now >= next_window:
            cur = fetch_json(up + "/counts")
            windows.append((last, cur))
            last, next_window = cur, next_window + ttl
        due = start + n / rate
        if due > now:
            await asyncio.sleep(due - now)
            continue
        tasks.append(asyncio.create_task(one(rng.choices(names, weights)[0])))
        n += 1
    await asyncio.gather(*tasks)
    windows.append((last, fetch_json(up + "/counts")))
    for _, writer, _ in client.idle:
        writer.close()

    status = collections.Counter(r[0] for r in results)
    ok = [r for r in results if r[0] == 200]
    hits = [r[2] * 1000 for r in ok if r[1]]
    misses = [r[2] * 1000 for r in ok if not r[1]]
    elapsed = time.perf_counter() - start
    print(f"requests: {len(results)} in {elapsed:.1f} s ({len(results) / elapsed:.1f}/s), "
          f"tenants {tenants}, Zipf s={s}, TTL {ttl:g} s, statuses {dict(status)}, "
          f"connections: {'kept alive' if keepalive else 'new per request'} ({client.opened} opened, "
          f"{client.reused_closed} found closed)")
    if errors:
        print(f"client errors: {dict(errors)}")
    print(f"cache hit ratio: {len(hits) / max(1, len(ok)) * 100:.1f} % ({len(hits)} of {len(ok)})")
    print(f"client: cached answers p50 {pct(hits, 50):.2f} ms, p99 {pct(hits, 99):.2f} ms, "
          f"max {max(hits) if hits else float('nan'):.2f} ms; "
          f"others (a job ran or was joined) p50 {pct(misses, 50):.1f} ms, p99 {pct(misses, 99):.1f} ms")

    with urllib.request.urlopen(base + "/metrics") as r:
        metrics = r.read().decode()
    name = "coachq_gateway_business_data_answer_seconds"
    parts, found = [], {o: histogram(metrics, name, f'outcome="{o}"') for o in ("hit", "revalidate", "miss")}
    if found["hit"] and found["revalidate"]:  # cached answers: both kinds of hit
        found = {"cached": [(le, a + b) for (le, a), (_, b) in zip(found["hit"], found["revalidate"])],
                 **found}
    for outcome, b in found.items():
        if b and b[-1][1] > 0:
            le5 = next((c for le, c in b if le == 0.005), float("nan"))
            parts.append(f"{outcome} ({int(b[-1][1])}) p50 {histo_pct(b, 50) * 1000:.2f} ms, "
                         f"p99 {histo_pct(b, 99) * 1000:.2f} ms, {le5 / b[-1][1] * 100:.2f} % <= 5 ms")
    print("gateway: " + ("; ".join(parts) if parts else "no answer-time histogram (older build)"))

    per_window = []  # calls of one tenant on one path in one polled window
    for before, after in windows:
        for t, paths in after.items():
            if not t.startswith(run + "-"):
                continue
            for p, c in paths.items():
                d = c - before.get(t, {}).get(p, 0)
                if d > 0:
                    per_window.append(d)
    called = len({t for _, a in windows for t in a if t.startswith(run + "-")})
    print(f"upstream calls per tenant per path per TTL window, polled ({len(windows)} windows, "
          f"{called} tenants called): max {max(per_window) if per_window else 0}, "
          f"mean {sum(per_window) / max(1, len(per_window)):.3f}")
    times = fetch_json(up + "/call_times")
    if times is None:
        return
    fixed, gaps = collections.Counter(), []
    for t, paths in times.items():
        if not t.startswith(run + "-"):
            continue
        for p, ts in paths.items():
            for c in ts:
                fixed[(t, p, int((c - wall_start) // ttl))] += 1
            gaps += [b - a for a, b in zip(ts, ts[1:])]
    short = sum(1 for g in gaps if g < ttl)
    print(f"upstream calls per tenant per path per TTL window, from call times: "
          f"max {max(fixed.values()) if fixed else 0}, "
          f"mean {sum(fixed.values()) / max(1, len(fixed)):.3f}; shortest time between two calls "
          f"of one tenant on one path {min(gaps) if gaps else float('nan'):.3f} s "
          f"({short} of {len(gaps)} under the TTL)")


if __name__ == "__main__":
    asyncio.run(main())
