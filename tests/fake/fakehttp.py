"""Shared core of coachq's fake servers (fake_llm.py, fake_upstream.py).

Standard library only. One asyncio event loop serving a minimal HTTP/1.1:
Content-Length bodies, keep-alive, `Expect: 100-continue`; chunked requests are
refused (400). FakeServer adds what every fake has: scripted behaviours
(ok/status/quota/malformed/invalid/hang/reset/content, with latency), records
of incoming calls, and the control API under /_control/ (documented in
fake_llm.py's docstring). A subclass sets ROUTES and KINDS and implements
route(req) -> (route_name, handler) or None, handler(req, step) -> response,
and optionally check_request(route, req) -> response to reject a call before
it takes a script step. A response is (status, headers dict, body bytes).
main() is the common command line.
"""
import argparse
import asyncio
import collections
import hashlib
import json
import logging
import os
import resource
import signal
import socket
import struct
import sys
import time
import urllib.parse

log = logging.getLogger("fake")


class BadRequest(Exception):
    pass


HANG, RESET = object(), object()
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
           413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
           501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 529: "Overloaded"}
KINDS = {"ok", "status", "quota", "malformed", "invalid", "hang", "reset", "content"}
MAX_BODY = 16 << 20


class Request:
    __slots__ = ("method", "path", "query", "version", "headers", "body", "reader", "keep_alive")

    def json(self):
        return json.loads(self.body) if self.body else None


async def read_request(reader, writer):
    """Reads one request; None on a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial.strip():
            raise BadRequest("truncated request head")
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("bad request line")
    req = Request()
    req.method, target, req.version = parts
    req.path, _, req.query = target.partition("?")
    req.headers, req.reader = {}, reader
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise BadRequest("bad header line")
            req.headers[name.strip().lower()] = value.strip()
    conn = req.headers.get("connection", "").lower()
    req.keep_alive = "close" not in conn if req.version == "HTTP/1.1" else "keep-alive" in conn
    if "transfer-encoding" in req.headers:
        raise BadRequest("chunked request bodies are not supported")
    length = req.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY:
        raise BadRequest("bad Content-Length")
    if int(length) and req.headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    req.body = await reader.readexactly(int(length))
    return req


def json_response(status, value, headers=None):
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(value).encode()


class FakeServer:
    """Scripted server; see the module docstring for what subclasses provide."""

    ROUTES, KINDS = (), KINDS

    def __init__(self, latency_ms=0):
        self.latency_ms = latency_ms
        self.records = collections.deque(maxlen=500)
        self.scripts, self.writers, self.server = {}, set(), None
        self.seq = self.calls = self.in_flight = self.peak_in_flight = 0
        self.connections = self.peak_connections = 0

    # -- scripting
    @staticmethod
    def check_behaviour(b, allowed):
        if not isinstance(b, dict) or b.get("kind") not in allowed:
            raise ValueError(f"behaviour must be an object with kind in {sorted(allowed)}: {b!r}")
        lat = b.get("latency_ms", 0)
        if not isinstance(lat, (int, float)) or lat < 0:
            raise ValueError("latency_ms must be a number >= 0")
        if b["kind"] == "status" and not (isinstance(b.get("code"), int) and 100 <= b["code"] <= 599):
            raise ValueError("status needs an integer code")
        return b

    def next_step(self, route):
        script = self.scripts.get(route) or self.scripts.get(None)
        if not script:
            return {"kind": "ok"}
        return script["steps"].popleft() if script["steps"] else script["then"]

    def control(self, req):
        path, q = req.path, urllib.parse.parse_qs(req.query)
        if path == "/_control/script" and req.method == "POST":
            try:
                doc = req.json()
                steps = [self.check_behaviour(b, self.KINDS) for b in doc.get("steps", [])]
                then = self.check_behaviour(doc.get("then", {"kind": "ok"}), self.KINDS)
                if doc.get("route") is not None and doc["route"] not in self.ROUTES:
                    raise ValueError(f"route must be one of {self.ROUTES}")
            except (ValueError, AttributeError, TypeError) as e:
                return json_response(400, {"error": str(e)})
            self.scripts[doc.get("route")] = {"steps": collections.deque(steps), "then": then}
            return json_response(200, {"steps": len(steps)})
        if path == "/_control/script" and req.method == "GET":
            return json_response(200, {str(k): {"steps": list(v["steps"]), "then": v["then"]}
                                       for k, v in self.scripts.items()})
        if path == "/_control/reset" and req.method == "POST":
            self.scripts.clear()
            self.records.clear()
            self.seq = self.calls = 0
            self.peak_in_flight = self.in_flight
            self.peak_connections = self.connections
            return json_response(200, {"reset": True})
        if path == "/_control/requests" and req.method == "GET":
            full = q.get("full", ["1"])[0] not in ("0", "false")
            return json_response(200, [r if full else {k: v for k, v in r.items() if k != "body"}
                                       for r in self.records])
        if path == "/_control/stats" and req.method == "GET":
            return json_response(200, {k: getattr(self, k) for k in (
                "calls", "in_flight", "peak_in_flight", "connections", "peak_connections")})
        return json_response(404, {"error": f"no control endpoint {req.method} {path}"})

    # -- dispatch
    def record(self, req, route):
        try:
            body = req.json()
        except ValueError:
            body = req.body.decode("utf-8", "replace")
        self.seq += 1
        rec = {"seq": self.seq, "route": route, "method": req.method, "path": req.path,
               "query": req.query, "headers": dict(req.headers), "body": body,
               # exact bytes, for checks (like SigV4) that hash the raw body
               "body_sha256": hashlib.sha256(req.body or b"").hexdigest(),
               "received_at": time.time(), "kind": "rejected"}
        self.records.append(rec)
        return rec

    async def call(self, req):
        if req.path.startswith("/_control/"):
            return self.control(req)
        found = self.route(req)
        if found is None:
            return json_response(404, {"error": f"no such endpoint: {req.method} {req.path}"})
        route, handler = found
        rec = self.record(req, route)
        rejected = self.check_request(route, req)
        if rejected:
            log.debug("%s %s rejected with %d", req.method, req.path, rejected[0])
            return rejected
        step = self.next_step(route)
        rec["kind"] = step["kind"]
        log.debug("%s %s (%s) -> %s", req.method, req.path, route, step["kind"])
        self.calls += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            default = self.latency_ms if step["kind"] == "ok" else 0
            await asyncio.sleep(step.get("latency_ms", default) / 1000)
            if step["kind"] == "hang":  # until the client closes its end
                try:
                    while await req.reader.read(65536):
                        pass
                except ConnectionError:
                    pass
                return HANG
            if step["kind"] == "reset":
                return RESET
            return handler(req, step)
        finally:
            self.in_flight -= 1

    async def connection(self, reader, writer):
        self.connections += 1
        self.peak_connections = max(self.peak_connections, self.connections)
        self.writers.add(writer)
        try:
            while True:
                try:
                    req = await read_request(reader, writer)
                except BadRequest as e:
                    writer.write(render(*json_response(400, {"error": str(e)}), False))
                    break
                if req is None:
                    break
                try:
                    resp = await self.call(req)
                except Exception:
                    log.exception("handler failed for %s %s", req.method, req.path)
                    resp = json_response(500, {"error": "fake server bug, see its log"})
                if resp is HANG:
                    break
                if resp is RESET:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                writer.write(render(*resp, req.keep_alive))
                await writer.drain()
                if not req.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections -= 1
            self.writers.discard(writer)
            writer.close()

    def route(self, req):
        raise NotImplementedError

    def check_request(self, route, req):
        return None

    # -- life cycle
    async def start(self, host, port):
        host = "127.0.0.1" if host == "localhost" else host  # one socket, so one port
        self.server = await asyncio.start_server(self.connection, host, port, backlog=4096)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self):
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        await asyncio.sleep(0)


def render(status, headers, body, keep_alive):
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Content-Length: {len(body)}",
            "Connection: " + ("keep-alive" if keep_alive else "close")]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (max(hard, 1 << 20), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            continue
    return soft


def main(server_class, description, argv=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--host", default="127.0.0.1", help="loopback only")
    p.add_argument("--latency-ms", type=int, default=0, help="default latency of ok answers")
    p.add_argument("--port-file", help="write the bound port there once listening")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        p.error("--host must be a loopback address")
    nofile = raise_fd_limit()

    async def run():
        srv = server_class(args.latency_ms)
        port = await srv.start(args.host, args.port)
        if args.port_file:
            tmp = f"{args.port_file}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(f"{port}\n")
            os.replace(tmp, args.port_file)
        log.info("%s listening on %s:%d (fd limit %d)", server_class.__name__, args.host, port, nofile)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await srv.stop()
        if args.port_file:
            try:
                os.unlink(args.port_file)
            except OSError:
                pass
        log.info("stopped")

    asyncio.run(run())
    return 0
