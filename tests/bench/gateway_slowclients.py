#!/usr/bin/env python3
"""Benchmark (by hand, loopback only, bounded): what idle and slowloris
clients from one address do to the gateway's /health latency.

Starts a gateway (a release build, against the Kafka and Redis you name),
then runs two attacks from source address 127.0.0.2 while probing
/health from 127.0.0.1 every 0.25 s:
  idle      N connections that send nothing, held for HOLD seconds;
  slowloris N connections that send one byte of a request head every
            TRICKLE seconds, for HOLD seconds.
Prints, per attack, /health latency (median, max, probes over 1 s or
failed), how many attack connections got an answer within 1 s (refused
fast) and how many the server had closed by the end.

  tests/bench/gateway_slowclients.py --bin build/release/coachq-gateway \\
      --kafka 127.0.0.1:43092 --redis-port 43379 [--conns 1100] [--hold 20] \\
      [-o gateway.max_conns_per_peer=0 ...]
"""
import argparse
import os
import resource
import select
import socket
import statistics
import subprocess
import sys
import time

BASE = "/coaching/api/v1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def health(port, timeout=5.0):
    """Latency of one GET /health in seconds, or None when it failed."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(f"GET {BASE}/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = s.recv(64)
        s.close()
        if not data.startswith(b"HTTP/1.1 200"):
            return None
    except OSError:
        return None
    return time.monotonic() - t0


def sweep(socks, timeout_ms):
    """Reads what the server sent on the open attack sockets."""
    live = {c["s"].fileno(): c for c in socks if not c["closed"]}
    poll = select.poll()
    for fd in live:
        poll.register(fd, select.POLLIN)
    for fd, _ in poll.poll(timeout_ms):
        c = live[fd]
        try:
            data = c["s"].recv(4096)
        except OSError:
            data = b""
        if data and c["answered"] is None:
            c["answered"] = time.monotonic() - c["t"]
            c["status"] = data[9:12].decode(errors="replace")
        if not data:
            c["closed"] = True


def attack(port, conns, hold, trickle):
    """Opens conns sockets from 127.0.0.2; returns (answered within 1 s,
    closed by the server by the end, /health latencies)."""
    socks = []
    for i in range(conns):
        # One at a time, as a client filling the server would: a burst of
        # non-blocking connects mostly ends in the listen backlog instead.
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(2)
        t = time.monotonic()
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            print(f"  connection {i + 1} not accepted within 2 s: attacking with {i}")
            s.close()
            break
        s.setblocking(False)
        socks.append({"s": s, "t": t, "answered": None, "closed": False})
        if i % 20 == 19:
            sweep(socks[-20:], 1)
    head = f"GET {BASE}/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + "a" * 4000
    sent = 0
    lat = []
    end = time.monotonic() + hold
    next_probe = time.monotonic()
    next_byte = time.monotonic() + (trickle or 1e9)
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_probe:
            lat.append((now, health(port)))
            next_probe = time.monotonic() + 0.25
        if trickle and now >= next_byte:
            for c in socks:
                if not c["closed"]:
                    try:
                        c["s"].send(head[sent % len(head)].encode())
                    except OSError:
                        pass
            sent += 1
            next_byte = now + trickle
        sweep(socks, 50)
    answered = sum(1 for c in socks if c["answered"] is not None)
    codes = {}
    for c in socks:
        if c.get("status"):
            codes[c["status"]] = codes.get(c["status"], 0) + 1
    print("  answers by status:", codes)
    fast = sum(1 for c in socks if c["answered"] is not None and c["answered"] < 1.0)
    closed = sum(1 for c in socks if c["closed"])
    for c in socks:
        c["s"].close()
    return answered, fast, closed, lat, len(socks)


def report(name, answered, fast, closed, lat, conns):
    # Longest time without a /health answer under 1 s.
    down, last = 0.0, lat[0][0] if lat else 0.0
    for t, x in lat + [(time.monotonic(), 0.0)]:
        if x is not None and x <= 1.0:
            down = max(down, t + x - last)
            last = t + x
    lat = [x for _, x in lat]
    ok = [x for x in lat if x is not None]
    slow = sum(1 for x in lat if x is None or x > 1.0)
    med = statistics.median(ok) * 1000 if ok else float("nan")
    mx = max(ok) * 1000 if ok else float("nan")
    print(f"{name}: {conns} connections; /health {len(lat)} probes, median {med:.1f} ms, "
          f"max {mx:.1f} ms, {slow} over 1 s or failed; {answered} answered, {fast} within 1 s, "
          f"{closed} closed by the server; longest without /health: {down:.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--kafka", required=True)
    ap.add_argument("--redis-port", required=True)
    ap.add_argument("--conns", type=int, default=1100)
    ap.add_argument("--hold", type=float, default=20)
    ap.add_argument("--trickle", type=float, default=4)
    ap.add_argument("-o", action="append", default=[])
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = free_port()
    cmd = [args.bin, "-o", f"kafka.bootstrap.servers={args.kafka}", "-o",
           f"redis.port={args.redis_port}", "-o", f"gateway.listen=127.0.0.1:{port}", "-o",
           "gateway.dev_auth=true", "-o", "log.level=warn"]
    for o in args.o:
        cmd += ["-o", o]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACHQ_")}
    gw = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if health(port, 1.0) is not None:
                break
            time.sleep(0.2)
        else:
            sys.exit("gateway did not start")
        print(f"baseline /health: {health(port) * 1000:.1f} ms")
        res = attack(port, args.conns, args.hold, 0)
        report("idle", *res)
        time.sleep(2)
        res = attack(port, args.conns, args.hold, args.trickle)
        report(f"slowloris (1 byte / {args.trickle:g} s)", *res)
    finally:
        gw.terminate()
        try:
            gw.wait(timeout=40)
        except subprocess.TimeoutExpired:
            gw.kill()


if __name__ == "__main__":
    main()
