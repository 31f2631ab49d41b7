#!/usr/bin/env python3
"""Fake Account and Traction services for the coachq business-data worker.

Standard library only: `python3 tests/fake/fake_upstream.py --port 0
--port-file /tmp/up.port`. Same server core, command line and control API as
fake_llm.py (see its docstring); routes are `account` and `traction`.

  GET /tenants/{tenant}/account-summary
      {revenue: {current, previous}, customers: {total, new, churned},
       team: {size, utilization, satisfaction}}   (utilization and
       satisfaction are percents 0-100)
  GET /tenants/{tenant}/traction-summary
      {activeGoals, completedActions, openIssues}
The numbers are derived from the tenant name, so they are stable across runs
(summary(route, tenant) computes them for a test). A call needs
`Authorization: Bearer ...` (else 401) and, when it sends X-Tenant-Id, the same
tenant as the path (else 403); both headers are in the records.

Behaviours: ok, status (`code`, `retry_after`, `message`, `body`, `headers`),
malformed (200, truncated JSON), invalid (200, JSON of the wrong shape: the
first field missing and a string where a number goes), hang, reset, content
(200 with `value`); each with optional `latency_ms`.
"""
import hashlib
import re
import sys
import urllib.parse

from fakehttp import FakeServer, json_response, main


def summary(route, tenant):
    """The ok answer for a tenant: deterministic numbers from its name."""
    h = hashlib.sha256(tenant.encode()).digest()
    if route == "account":
        current = 50000 + int.from_bytes(h[0:3], "big") % 450000
        previous = 50000 + int.from_bytes(h[3:6], "big") % 450000
        total = 20 + h[6] * 4
        return {
            "revenue": {"current": float(current), "previous": float(previous)},
            "customers": {"total": total, "new": h[7] % 30, "churned": h[8] % 10},
            "team": {"size": 3 + h[9] % 60, "utilization": 40 + h[10] % 60,
                     "satisfaction": 50 + h[11] % 50},
        }
    return {"activeGoals": 1 + h[12] % 12, "completedActions": h[13] % 80, "openIssues": h[14] % 15}


class FakeUpstream(FakeServer):
    ROUTES = ("account", "traction")
    KINDS = {"ok", "status", "malformed", "invalid", "hang", "reset", "content"}
    PATH = re.compile(r"^/tenants/([^/]+)/(account|traction)-summary$")

    def route(self, req):
        m = self.PATH.match(req.path)
        return (m.group(2), self.answer) if m else None

    def check_request(self, route, req):
        if req.method != "GET":
            return json_response(405, {"error": "method not allowed"}, {"Allow": "GET"})
        if not req.headers.get("authorization", "").startswith("Bearer "):
            return json_response(401, {"error": "unauthorized", "message": "bearer token required"})
        tenant = urllib.parse.unquote(self.PATH.match(req.path).group(1))
        sent = req.headers.get("x-tenant-id")
        if sent is not None and sent != tenant:
            return json_response(403, {"error": "forbidden", "message": "X-Tenant-Id does not match"})
        return None

    def answer(self, req, step):
        m = self.PATH.match(req.path)
        route, tenant, kind = m.group(2), urllib.parse.unquote(m.group(1)), step["kind"]
        if kind == "status":
            headers = dict(step.get("headers", {}))
            if "retry_after" in step:
                headers["Retry-After"] = str(step["retry_after"])
            body = step.get("body", {"error": "scripted", "message": step.get("message", f"status {step['code']}")})
            return json_response(step["code"], body, headers)
        if kind == "malformed":
            return 200, {"Content-Type": "application/json"}, b'{"revenue": {"current": 12'
        if kind == "content":
            return json_response(200, step.get("value"))
        value = summary(route, tenant)
        if kind == "invalid":
            first = next(iter(value))
            del value[first]
            if route == "account":
                value["customers"]["total"] = "many"
            else:
                value["openIssues"] = "several"
        return json_response(200, value)


if __name__ == "__main__":
    sys.exit(main(FakeUpstream, "Fake Account and Traction services for coachq tests."))
