#!/usr/bin/env python3
"""Fake Account and Traction services for the coachq business-data worker.

DEMO DATA, NOT A REAL SERVICE. Standard library only:
`python3 tests/fake/fake_upstream.py --port 0 --port-file /tmp/up.port`.
Same server core, command line and control API as fake_llm.py (see its
docstring). One process serves both services (their paths do not overlap):
point both base URLs at it.

Like the product's real clients, a call carries the caller's
`Authorization: Bearer ...` (else 401) and `X-Tenant-Id: <tenant>` (else 400);
the tenant is never in the path (the old /tenants/{tenant}/... paths are 404).
Every answer is plausible demo data derived from the tenant id, so it is
distinct per tenant and stable across runs; reply(source, tenant) returns it
and business_data(tenant) the figures coachq should compute from it. The
shapes are the ones described in schemas/upstream/*.json.

Routes (the source names of workers/business_data/cq_bd_upstream.c):
  account.profile     GET /user/profile          {tenantId, userId, email, businessName}
  account.foundation  GET /business/foundation   {vision, purpose, coreValues, targetMarket,
                                                  valueProposition}
  account.revenue     GET /metrics/revenue       {current, previous, currency, period}
  account.customers   GET /metrics/customers     {total, new, churned, period}
  account.team        GET /metrics/team          {size, utilization,
                                                  satisfaction: {score, min: 1, max: 5}}
  traction.goals_list GET /goals                 {items: [{id, title, status}], total}
  traction.goals      GET /goals/stats           {active, completed, total}
  traction.actions    GET /operations/actions    {items: [{id, title, status}], total}
  traction.issues     GET /api/issues            ?status=open: the open ones, a first page of
                                                 at most 10 items with the full total; without
                                                 the filter, open and closed ones
  traction.people     GET /people                {items: [{id, name, role}], total}
  traction.measures   GET /measures/summary      {onTrack, offTrack, total}

Scripts (POST /_control/script) take `route`: a source name above (that path
only), `account` or `traction` (every path of that service), or none (every
path); the most specific script there is applies (path, else service, else
the default one), until it is replaced or reset. Behaviours: ok, status
(`code`, `retry_after`, `message`, `body`, `headers`: 429 with Retry-After,
5xx, ...), malformed (200, truncated JSON), invalid (200, the wrong shape: the
first field dropped and a string where a number goes), hang, reset, content
(200 with `value`), oversize (200, valid JSON padded to `bytes`, default
2 MiB); each with optional `latency_ms` (slow answers).

Extra control endpoints: GET /_control/counts -> {tenant: {path: calls}}, the
authenticated calls per tenant and path (query excluded) since the last
reset, whatever their scripted outcome: what single-flight tests count;
GET /_control/call_times -> {tenant: {path: [unix seconds, ...]}}, when each
of those calls arrived, in order (what the cache benchmark's windows count).
"""
import collections
import hashlib
import json
import math
import sys
import time
import urllib.parse

from fakehttp import FakeServer, json_response, main

PATHS = {
    "/user/profile": "account.profile",
    "/business/foundation": "account.foundation",
    "/metrics/revenue": "account.revenue",
    "/metrics/customers": "account.customers",
    "/metrics/team": "account.team",
    "/goals": "traction.goals_list",
    "/goals/stats": "traction.goals",
    "/operations/actions": "traction.actions",
    "/api/issues": "traction.issues",
    "/people": "traction.people",
    "/measures/summary": "traction.measures",
}
SOURCES = tuple(PATHS.values())
ISSUES_PAGE = 10

_KINDS = ["bakery", "bike workshop", "design studio", "accounting firm", "coffee roastery",
          "software consultancy", "garden centre", "dental practice"]
_MARKETS = ["families within walking distance", "small businesses in the region",
            "commuters and students", "independent professionals"]
_VALUES = ["Quality", "Community", "Integrity", "Craft", "Warm hospitality", "Reliability",
           "Curiosity", "Sustainability"]
_ROLES = ["owner", "manager", "sales", "operations", "support", "finance"]
_ACTION_STATUS = ["completed", "open", "in_progress", "completed"]


def _h(tenant):
    return hashlib.sha256(tenant.encode()).digest()


def _num(h, i, j):
    return int.from_bytes(h[i:j], "big")


def reply(source, tenant, query=""):
    """The ok body of a source for a tenant: deterministic demo data."""
    h = _h(tenant)
    kind = _KINDS[h[20] % len(_KINDS)]
    name = tenant.replace("-", " ").replace("_", " ").title()
    size = 3 + h[9] % 60
    active, done = 1 + h[13] % 12, h[14] % 10
    if source == "account.profile":
        return {"tenantId": tenant, "userId": f"user-{h[21]:02x}{h[22]:02x}",
                "email": f"owner@{tenant}.example", "businessName": f"{name} {kind.title()}"}
    if source == "account.foundation":
        values = [_VALUES[(h[23] + i * 3) % len(_VALUES)] for i in range(3)]
        return {"vision": f"To be the {kind} our customers recommend first",
                "purpose": f"Make every visit to {name} worth coming back for",
                "coreValues": list(dict.fromkeys(values)),
                "targetMarket": _MARKETS[h[24] % len(_MARKETS)],
                "valueProposition": f"A {kind} that knows its customers by name"}
    if source == "account.revenue":
        current = 50000 + _num(h, 0, 3) % 450000 + h[25] / 100
        # a change between -20 % and +30 %, as months of a small business go
        return {"current": current, "previous": round(current / (1 + (h[3] % 51 - 20) / 100), 2),
                "currency": "EUR", "period": "month"}
    if source == "account.customers":
        total = 20 + h[6] * 4
        return {"total": total, "new": min(h[7] % 30, total), "churned": h[8] % 12,
                "period": "month"}
    if source == "account.team":
        return {"size": size, "utilization": 40 + h[10] % 60 + (h[11] % 10) / 10,
                "satisfaction": {"score": 2 + (h[12] % 31) / 10, "min": 1, "max": 5}}
    if source == "traction.goals_list":
        items = [{"id": f"g{i + 1}", "title": f"Goal {i + 1}",
                  "status": "active" if i < active else "completed"} for i in range(active + done)]
        return {"items": items, "total": len(items)}
    if source == "traction.goals":
        return {"active": active, "completed": done, "total": active + done}
    if source == "traction.actions":
        items = [{"id": f"a{i + 1}", "title": f"Action {i + 1}",
                  "status": _ACTION_STATUS[(h[16] + i * 7) % len(_ACTION_STATUS)]}
                 for i in range(h[15] % 40)]
        return {"items": items, "total": len(items)}
    if source == "traction.issues":
        open_n, closed_n = h[17] % 20, h[27] % 8
        issues = [{"id": f"i{i + 1}", "title": f"Issue {i + 1}", "status": "open"}
                  for i in range(open_n)]
        issues += [{"id": f"i{open_n + i + 1}", "title": f"Issue {open_n + i + 1}",
                    "status": "closed"} for i in range(closed_n)]
        status = urllib.parse.parse_qs(query).get("status", [None])[0]
        if status is not None:
            issues = [i for i in issues if i["status"] == status]
            return {"items": issues[:ISSUES_PAGE], "total": len(issues)}
        return {"items": issues, "total": len(issues)}
    if source == "traction.people":
        items = [{"id": f"p{i + 1}", "name": f"Person {i + 1}",
                  "role": _ROLES[(h[28] + i) % len(_ROLES)]} for i in range(size)]
        return {"items": items, "total": size}
    if source == "traction.measures":
        on, off = h[18] % 10, h[19] % 6
        return {"onTrack": on, "offTrack": off, "total": on + off}
    raise KeyError(source)


def _round2(x):
    """C's round(x * 100) / 100 (halves away from zero, unlike Python's round)."""
    return math.copysign(math.floor(abs(x) * 100 + 0.5), x) / 100


def business_data(tenant):
    """The figures coachq computes from the ok replies (BusinessDataResult
    without generatedAt and cached), by the rules of cq_bd_aggregate.h."""
    rev = reply("account.revenue", tenant)
    change = _round2(100 * (rev["current"] - rev["previous"]) / rev["previous"])
    cust = reply("account.customers", tenant)
    start = cust["total"] - cust["new"] + cust["churned"]
    team = reply("account.team", tenant)
    sat = team["satisfaction"]
    actions = reply("traction.actions", tenant)
    return {
        "revenue": {"current": rev["current"], "previous": rev["previous"],
                    "trend": "flat" if abs(change) < 0.5 else "up" if change > 0 else "down",
                    "changePercent": change},
        "customers": {"total": cust["total"], "new": cust["new"], "churned": cust["churned"],
                      "retentionRate": _round2(100 * (start - cust["churned"]) / start)
                      if start > 0 else 100.0},
        "team": {"size": team["size"], "utilization": team["utilization"],
                 "satisfaction": _round2(100 * (sat["score"] - sat["min"]) / (sat["max"] - sat["min"]))},
        "operations": {"activeGoals": reply("traction.goals", tenant)["active"],
                       "completedActions": sum(1 for a in actions["items"] if a["status"] == "completed"),
                       "openIssues": reply("traction.issues", tenant, "status=open")["total"]},
        "sources": {"account": "ok", "traction": "ok"},
    }


def wrong_shape(source, value):
    """The ok body broken the way a changed upstream would break it."""
    if source == "account.foundation":  # every field optional: break the types
        return {**value, "vision": 42, "coreValues": ", ".join(value["coreValues"])}
    value = dict(value)
    del value[next(iter(value))]
    for k, v in value.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            value[k] = f"{v} (approx.)"
            break
    return value


class FakeUpstream(FakeServer):
    ROUTES = SOURCES + ("account", "traction")
    KINDS = {"ok", "status", "malformed", "invalid", "hang", "reset", "content", "oversize"}

    def __init__(self, latency_ms=0):
        super().__init__(latency_ms)
        self.counts = collections.defaultdict(collections.Counter)
        self.times = collections.defaultdict(lambda: collections.defaultdict(list))

    def route(self, req):
        source = PATHS.get(req.path)
        return (source, self.answer) if source else None

    def next_step(self, route):
        for key in (route, route.split(".")[0], None):
            script = self.scripts.get(key)
            if script is not None:
                return script["steps"].popleft() if script["steps"] else script["then"]
        return {"kind": "ok"}

    def control(self, req):
        if req.path == "/_control/counts" and req.method == "GET":
            return json_response(200, {t: dict(c) for t, c in self.counts.items()})
        if req.path == "/_control/call_times" and req.method == "GET":
            return json_response(200, {t: dict(p) for t, p in self.times.items()})
        if req.path == "/_control/reset" and req.method == "POST":
            self.counts.clear()
            self.times.clear()
        return super().control(req)

    def check_request(self, route, req):
        if req.method != "GET":
            return json_response(405, {"error": "method not allowed"}, {"Allow": "GET"})
        if not req.headers.get("authorization", "").startswith("Bearer "):
            return json_response(401, {"error": "unauthorized", "message": "bearer token required"})
        if not req.headers.get("x-tenant-id"):
            return json_response(400, {"error": "bad_request", "message": "X-Tenant-Id required"})
        self.counts[req.headers["x-tenant-id"]][req.path] += 1
        self.times[req.headers["x-tenant-id"]][req.path].append(time.time())
        return None

    def answer(self, req, step):
        source, tenant, kind = PATHS[req.path], req.headers["x-tenant-id"], step["kind"]
        if kind == "status":
            headers = dict(step.get("headers", {}))
            if "retry_after" in step:
                headers["Retry-After"] = str(step["retry_after"])
            body = step.get("body", {"error": "scripted", "message": step.get("message", f"status {step['code']}")})
            return json_response(step["code"], body, headers)
        if kind == "malformed":
            return 200, {"Content-Type": "application/json"}, json.dumps(reply(source, tenant, req.query)).encode()[:12]
        if kind == "content":
            return json_response(200, step.get("value"))
        value = reply(source, tenant, req.query)
        if kind == "invalid":
            value = wrong_shape(source, value)
        if kind == "oversize":
            want = int(step.get("bytes", 2 << 20))
            value["padding"] = ""
            value["padding"] = "x" * max(0, want - len(json.dumps(value)))
        return json_response(200, value)


if __name__ == "__main__":
    sys.exit(main(FakeUpstream, "Fake Account and Traction services (demo data) for coachq."))
