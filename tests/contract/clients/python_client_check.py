#!/usr/bin/env python3
"""Uses the client openapi-python-client generated from schemas/openapi.json
against a running gateway and alignment worker (tests/contract/
generated_clients.sh starts them and the generator): alignment-check
synchronously (200, typed envelope) and asynchronously (202 with a typed
AlignmentCheckJob, then GET /jobs/{id} polled to `succeeded`), reading the
typed result field by field; the built-in engine is deterministic, so both
results must agree. Then a batch, its results read as a JSON array of typed
lines (Accept: application/json).

Usage: python_client_check.py <base url> <dir holding the coachq_client package>
Exit status 0 when every check passes.
"""
import datetime
import sys
import time
import uuid

base_url, package_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, package_dir)

from coachq_client import Client  # noqa: E402
from coachq_client.api.jobs import get_batch_results, get_job, submit_batch  # noqa: E402
from coachq_client.api.strategic_planning import alignment_check  # noqa: E402
from coachq_client.models import (  # noqa: E402
    AlignmentCheckBatchResultLine,
    AlignmentCheckJob,
    AlignmentCheckRequest,
    AlignmentCheckResponse,
    AlignmentCheckResult,
    BatchItem,
    BatchItemBody,
    BatchResource,
    JobStatus,
)

REQUEST = {
    "goalIntent": "Grow recurring revenue from maintenance contracts by 30% in the next 12 months",
    "strategies": [
        "Offer an annual maintenance plan to every customer at installation handover",
        "Run a win-back campaign for customers installed 3-8 years ago",
    ],
    "kpis": ["Monthly recurring revenue", "Maintenance plan attach rate"],
    "businessFoundation": {
        "vision": "Every home in the valley runs on clean, affordable energy by 2035",
        "purpose": "We make going solar simple, honest and lasting for homeowners",
        "coreValues": ["Integrity", "Craftsmanship", "Customer first"],
    },
}

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


def score(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100


def read_result(r, label):
    """Every field of an AlignmentCheckResult, with its generated type."""
    check(isinstance(r, AlignmentCheckResult), "%s: result is an AlignmentCheckResult (%s)" % (label, type(r).__name__))
    check(score(r.alignment_score), "%s: alignment_score %r is an int 0..100" % (label, r.alignment_score))
    check(isinstance(r.explanation, str) and r.explanation, "%s: explanation is a non-empty str" % label)
    check(isinstance(r.suggestions, list) and len(r.suggestions) <= 3 and all(isinstance(s, str) for s in r.suggestions),
          "%s: suggestions is a list of at most 3 str" % label)
    cs = r.component_scores
    check(all(score(v) for v in (cs.intent_alignment, cs.strategy_alignment, cs.kpi_relevance)),
          "%s: component_scores.intent_alignment/strategy_alignment/kpi_relevance are scores" % label)
    b = r.breakdown
    check(all(score(v) for v in (b.vision_alignment, b.purpose_alignment, b.values_alignment)),
          "%s: breakdown.vision/purpose/values_alignment are scores" % label)
    check(isinstance(r.last_updated, datetime.datetime) and r.last_updated.tzinfo is not None,
          "%s: last_updated is an aware datetime (%s)" % (label, r.last_updated))
    return (r.alignment_score, r.explanation, tuple(r.suggestions),
            (cs.intent_alignment, cs.strategy_alignment, cs.kpi_relevance),
            (b.vision_alignment, b.purpose_alignment, b.values_alignment))


tenant = "gen-" + uuid.uuid4().hex[:12]
client = Client(base_url=base_url, headers={"X-Tenant-Id": tenant, "X-User-Id": "python-client"},
                timeout=30.0, raise_on_unexpected_status=True)
body = AlignmentCheckRequest.from_dict(REQUEST)

# Synchronous: 200 with the typed envelope.
resp = alignment_check.sync_detailed(client=client, body=body)
check(resp.status_code == 200, "sync: status %d is 200" % resp.status_code)
env = resp.parsed
sync_fields = None
if check(isinstance(env, AlignmentCheckResponse), "sync: parsed as AlignmentCheckResponse (%s)" % type(env).__name__):
    check(env.success is True, "sync: success is True")
    sync_fields = read_result(env.data, "sync")

# Asynchronous: 202 with a typed job, then polled.
resp = alignment_check.sync_detailed(client=client, body=body, prefer="respond-async")
check(resp.status_code == 202, "async: status %d is 202" % resp.status_code)
job = resp.parsed
if check(isinstance(job, AlignmentCheckJob), "async: parsed as AlignmentCheckJob (%s)" % type(job).__name__):
    check(job.operation == "alignment-check", "async: operation is alignment-check")
    check(isinstance(job.job_id, uuid.UUID), "async: job_id is a UUID")
    check(job.status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED), "async: status %s" % job.status)
    check(resp.headers.get("location", "").endswith("/jobs/%s" % job.job_id), "async: Location names the job")
    deadline = time.monotonic() + 60
    polled = job
    while polled.status not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED) \
            and time.monotonic() < deadline:
        polled = get_job.sync(id=job.job_id, client=client, prefer="wait=5")
        if not isinstance(polled, AlignmentCheckJob):
            break
    if check(isinstance(polled, AlignmentCheckJob),
             "poll: GET /jobs/{id} parsed as AlignmentCheckJob (%s)" % type(polled).__name__):
        check(polled.status == JobStatus.SUCCEEDED, "poll: status %s is succeeded" % polled.status)
        check(polled.job_id == job.job_id, "poll: same job id")
        check(isinstance(polled.created_at, datetime.datetime), "poll: created_at is a datetime")
        check(polled.engine.name.value == "builtin", "poll: engine.name is builtin")
        async_fields = read_result(polled.result, "poll")
        check(async_fields == sync_fields, "poll: the async result equals the sync one (deterministic engine)")

# A batch, its results as a JSON array of typed lines.
items = [BatchItem(custom_id="item-%d" % i, operation="alignment-check", body=BatchItemBody.from_dict(REQUEST))
         for i in range(2)]
batch = submit_batch.sync(client=client, body=items)
if check(isinstance(batch, BatchResource), "batch: parsed as BatchResource (%s)" % type(batch).__name__):
    as_json = client.with_headers({"Accept": "application/json"})
    lines = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = get_batch_results.sync(id=batch.batch_id, client=as_json)
        if isinstance(lines, list) and all(getattr(x, "status", None) == JobStatus.SUCCEEDED for x in lines):
            break
        time.sleep(0.3)
    if check(isinstance(lines, list) and len(lines) == 2, "batch: results are a list of 2 lines"):
        for x in lines:
            if check(isinstance(x, AlignmentCheckBatchResultLine),
                     "batch %s: line is an AlignmentCheckBatchResultLine" % getattr(x, "custom_id", "?")):
                check(x.status == JobStatus.SUCCEEDED, "batch %s: succeeded" % x.custom_id)
                check(read_result(x.result, "batch " + x.custom_id) == sync_fields,
                      "batch %s: result equals the sync one" % x.custom_id)

print("python client: %d check(s) failed" % len(failures) if failures else "python client: every check passed")
sys.exit(1 if failures else 0)
