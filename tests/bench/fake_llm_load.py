#!/usr/bin/env python3
"""Load check of tests/fake/fake_llm.py: many concurrent keep-alive calls.

Opens --connections TCP connections, then sends one OpenAI chat completion on
each of them at once, --rounds times in a row (keep-alive), and waits for every
answer. Starts its own fake_llm.py with --latency-ms unless --port is given.
Prints connections held, answers, latency percentiles, the server's CPU use
(from /proc/<pid>/stat, own server only), peak_in_flight and RSS.

  python3 tests/bench/fake_llm_load.py --connections 2000 --latency-ms 2000
"""
import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(os.path.dirname(HERE), "fake", "fake_llm.py")
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["items", "summary"],
          "properties": {"summary": {"type": "string", "maxLength": 200},
                         "items": {"type": "array", "minItems": 1, "maxItems": 5, "items": {
                             "type": "object", "required": ["title", "score"],
                             "properties": {"title": {"type": "string"},
                                            "score": {"type": "integer", "minimum": 0, "maximum": 100}}}}}}
BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "Plan my week."}],
                   "response_format": {"type": "json_schema",
                                       "json_schema": {"name": "plan", "strict": True, "schema": SCHEMA}}}).encode()
REQUEST = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def read_response(reader):
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length)
    return status.split(b" ")[1] if status else b"EOF", body


async def run(args, port):
    conns, errors, latencies = [], {}, []

    def count(e):
        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1

    async def connect():
        try:
            conns.append(await asyncio.open_connection("127.0.0.1", port, limit=1 << 20))
        except OSError as e:
            count(e)

    t0 = time.monotonic()
    for i in range(0, args.connections, 500):  # in waves, to stay within the listen backlog
        await asyncio.gather(*(connect() for _ in range(min(500, args.connections - i))))
    connect_s = time.monotonic() - t0

    async def call(reader, writer):
        for _ in range(args.rounds):
            start = time.monotonic()
            try:
                writer.write(REQUEST)
                status, body = await asyncio.wait_for(read_response(reader), args.timeout)
                if status != b"200":
                    raise RuntimeError(f"status {status}")
                json.loads(json.loads(body)["choices"][0]["message"]["content"])
                latencies.append(time.monotonic() - start)
            except (OSError, RuntimeError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                count(e)
                return

    t0 = time.monotonic()
    await asyncio.gather(*(call(r, w) for r, w in conns))
    wall = time.monotonic() - t0
    for _, w in conns:
        w.close()
    return len(conns), connect_s, wall, latencies, errors


async def stats(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /_control/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    _, body = await read_response(reader)
    writer.close()
    return json.loads(body)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=1, help="sequential calls per connection")
    p.add_argument("--latency-ms", type=int, default=2000)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    p.add_argument("--port", type=int, help="use a running fake instead of starting one")
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    proc = None
    port = args.port
    if port is None:
        port_file = os.path.join(tempfile.mkdtemp(prefix="fakebench-"), "port")
        proc = subprocess.Popen([sys.executable, FAKE, "--port", "0", "--port-file", port_file,
                                 "--latency-ms", str(args.latency_ms), "--log-level", "warning"])
        while not os.path.exists(port_file):
            time.sleep(0.02)
        with open(port_file) as f:
            port = int(f.read())
    try:
        cpu0, t0 = (cpu_seconds(proc.pid), time.monotonic()) if proc else (0, 0)
        client0 = resource.getrusage(resource.RUSAGE_SELF)
        held, connect_s, wall, lat, errors = asyncio.run(run(args, port))
        client1 = resource.getrusage(resource.RUSAGE_SELF)
        srv_stats = asyncio.run(stats(port))
        lat.sort()

        def pct(q):
            return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

        print(f"connections held   {held}/{args.connections} (connect phase {connect_s:.2f} s)")
        print(f"answers ok         {len(lat)}/{held * args.rounds} in {wall:.2f} s, errors {errors or 'none'}")
        print(f"latency s          p50 {pct(0.5):.3f}  p99 {pct(0.99):.3f}  max {lat[-1] if lat else 0:.3f}")
        print(f"server stats       {srv_stats}")
        if proc:
            elapsed = time.monotonic() - t0
            cpu = cpu_seconds(proc.pid) - cpu0
            print(f"server cpu         {cpu:.2f} s over {elapsed:.2f} s = {100 * cpu / elapsed:.0f}% of one core,"
                  f" rss {rss_mib(proc.pid):.0f} MiB")
        client_cpu = (client1.ru_utime - client0.ru_utime) + (client1.ru_stime - client0.ru_stime)
        print(f"client cpu         {client_cpu:.2f} s")
        return 0 if held == args.connections and not errors else 1
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
