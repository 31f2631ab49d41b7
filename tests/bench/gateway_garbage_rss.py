#!/usr/bin/env python3
"""Benchmark (by hand, loopback only, bounded): the gateway's resident
memory while it is fed malformed requests.

Starts a gateway (a release build, against the Kafka and Redis you name;
dev auth), sends REQUESTS garbage requests (malformed JSON, deep nesting,
oversized and random bodies, bad headers, huge tokens: the mix of
gateway_garbage.py) from CLIENTS threads, one connection each, and prints
the gateway's RSS (VmRSS from /proc) and thread count every EVERY
requests. A flat curve is the goal.

  tests/bench/gateway_garbage_rss.py --bin build/release/coachq-gateway \\
      --kafka 127.0.0.1:43092 --redis-port 43379 [--requests 50000] \\
      [--every 5000] [--clients 4] [-o key=value ...]
"""
import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

PATHS = ["/coaching/api/v1/coaching/alignment-check", "/coaching/api/v1/jobs/batch",
         "/coaching/api/v1/jobs/" + "a" * 40, "/coaching/api/v1/jobs/batch/x/results",
         "/coaching/api/v1/insights/generate?page=%ff&pageSize=-1", "/coaching/api/v1/%00",
         "/coaching/api/v1/jobs/01920f3e-7c1a-7b3e-9f2d-5a6b7c8d9e0f",
         "/coaching/api/v1/analysis/operations", "/" + "x" * 5000]
BODIES = [b"{", b"[]", b"null", b'{"goalIntent":' + b'"a"' * 1000 + b'}', b"\xff\xfe\x00",
          json.dumps({"goalIntent": "x" * 10000}).encode(),
          b'{"a":' * 5000 + b'1' + b'}' * 5000, b'[' * 100000]
CTYPES = ["application/json", "application/x-ndjson", "text/plain",
          "application/json; charset=utf-8", ""]


def garbage(rng):
    p = rng.choice(PATHS)
    b = rng.choice(BODIES)
    if rng.random() < 0.3:
        b = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
    m = rng.choice(["POST", "GET", "DELETE", "PUT", "HEAD"])
    ct = rng.choice(CTYPES)
    tid = rng.choice(["t1", "t\u00e9", "../..", "a" * 200])
    hdr = (f"{m} {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Tenant-Id: {tid}\r\n"
           f"Content-Length: {len(b)}\r\n")
    if ct:
        hdr += f"Content-Type: {ct}\r\n"
    if rng.random() < 0.3:
        hdr += "Prefer: " + rng.choice(["wait=-1", "wait=99999999999999999999", "respond-async",
                                        "wait=abc,respond-async"]) + "\r\n"
    if rng.random() < 0.2:
        hdr += f"Idempotency-Key: {'k' * rng.choice([0, 1, 300])}\r\n"
    if rng.random() < 0.2:
        hdr += "Authorization: Bearer " + "x.y.z" * rng.randint(1, 3000) + "\r\n"
    if rng.random() < 0.05:
        hdr += "Bad Header Without Colon\r\n"
    return hdr.encode("utf-8", "replace") + b"\r\n" + b


def send(port, raw):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(raw)
        while s.recv(65536):
            pass
        s.close()
    except OSError:
        pass


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return int(out["VmRSS"].split()[0]) // 1024, int(out["Threads"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--kafka", required=True)
    ap.add_argument("--redis-port", required=True)
    ap.add_argument("--requests", type=int, default=50000)
    ap.add_argument("--every", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("-o", action="append", default=[])
    ap.add_argument("--tcache", action="store_true",
                    help="leave glibc's per-thread malloc cache on (off as deployed)")
    args = ap.parse_args()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cmd = [args.bin, "-o", f"kafka.bootstrap.servers={args.kafka}", "-o",
           f"redis.port={args.redis_port}", "-o", f"gateway.listen=127.0.0.1:{port}", "-o",
           "gateway.dev_auth=true", "-o", "log.level=error"]
    for o in args.o:
        cmd += ["-o", o]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACHQ_")}
    # As deployments start it (docs/OPERATIONS.md, "Memory"); --tcache keeps glibc's default.
    if not args.tcache:
        env.setdefault("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")
    gw = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            sys.exit("gateway did not start")
        time.sleep(1)
        rss, threads = status(gw.pid)
        print(f"{0:>7} requests: RSS {rss} MiB, {threads} threads", flush=True)
        done = 0
        lock = threading.Lock()
        t0 = time.monotonic()

        def client(seed, count):
            nonlocal done
            rng = random.Random(seed)
            for _ in range(count):
                send(port, garbage(rng))
                with lock:
                    done += 1

        for step in range(args.every, args.requests + 1, args.every):
            per = args.every // args.clients
            ts = [threading.Thread(target=client, args=(step * 100 + i, per))
                  for i in range(args.clients)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            if gw.poll() is not None:
                sys.exit(f"gateway exited ({gw.returncode})")
            rss, threads = status(gw.pid)
            print(f"{done:>7} requests: RSS {rss} MiB, {threads} threads "
                  f"({time.monotonic() - t0:.0f} s)", flush=True)
    finally:
        gw.terminate()
        try:
            gw.wait(timeout=40)
        except subprocess.TimeoutExpired:
            gw.kill()


if __name__ == "__main__":
    main()
