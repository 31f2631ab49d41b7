#!/usr/bin/env bash
# Contract check: the headers of the records coachq writes on Kafka say what
# the README says.
#   - coachq-schema is the record's full Avro name (io.coachq.JobResult,
#     io.coachq.JobEnvelope);
#   - coachq-fingerprint is the SHA-256 of the committed schema's Parsing
#     Canonical Form, computed here by fastavro (not by our C code);
#   - coachq-job-id is the job's id (the record's jobId for results).
# Reads, with kcat, the result record test_it_jobs saved the place of
# (COACHQ_IT_RESULT_DUMP.where: topic partition offset) and the first job
# envelope of the same test's job topic. deploy/local.sh test runs this while
# the test broker is up.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/deploy/.venv/bin/python"
record=${COACHQ_IT_RESULT_DUMP:-$root/build/asan/it-result-record.avro}
: "${COACHQ_IT_KAFKA_BOOTSTRAP:?not set: the test broker is not up}"
if [ ! -s "$record.where" ]; then
    echo "no $record.where: the integration tests did not save a result record" >&2
    exit 1
fi
read -r topic partition offset <"$record.where"
prefix=${topic%.results}
work=$(mktemp -d "${TMPDIR:-/tmp}/coachq-headers.XXXXXX")
trap 'rm -rf "$work"' EXIT
# %h: the headers as name=value,name=value; the value follows on its own line.
kcat -C -b "$COACHQ_IT_KAFKA_BOOTSTRAP" -t "$topic" -p "$partition" -o "$offset" -c 1 -e -q \
    -f '%h\n' >"$work/result.headers"
kcat -C -b "$COACHQ_IT_KAFKA_BOOTSTRAP" -t "$topic" -p "$partition" -o "$offset" -c 1 -e -q \
    -f '%s' >"$work/result.avro"
kcat -C -b "$COACHQ_IT_KAFKA_BOOTSTRAP" -t "$prefix.jobs.alignment" -o beginning -c 1 -e -q \
    -f '%h\n' >"$work/envelope.headers"
"$py" - "$root" "$work" <<'PY'
import hashlib
import io
import json
import sys

from fastavro import schemaless_reader
from fastavro.schema import parse_schema, to_parsing_canonical_form

root, work = sys.argv[1], sys.argv[2]
failures = []


def headers(name):
    text = open("%s/%s.headers" % (work, name)).read().strip()
    out = {}
    for part in text.split(","):
        k, _, v = part.partition("=")
        out[k] = v
    return out


def expect(what, have, want):
    ok = have == want
    print("%s %s: %r%s" % ("ok  " if ok else "FAIL", what, have, "" if ok else " (want %r)" % want))
    if not ok:
        failures.append(what)


for name, avsc, full in (("result", "job_result.avsc", "io.coachq.JobResult"),
                         ("envelope", "job_envelope.avsc", "io.coachq.JobEnvelope")):
    schema = json.load(open("%s/schemas/avro/%s" % (root, avsc)))
    pcf = to_parsing_canonical_form(schema)
    h = headers(name)
    expect(name + " coachq-schema", h.get("coachq-schema"), full)
    expect(name + " coachq-fingerprint = SHA-256 of the Parsing Canonical Form of " + avsc,
           h.get("coachq-fingerprint"), hashlib.sha256(pcf.encode("utf-8")).hexdigest())
    if name == "result":
        rec = schemaless_reader(io.BytesIO(open(work + "/result.avro", "rb").read()), parse_schema(schema))
        expect("result coachq-job-id", h.get("coachq-job-id"), rec["jobId"])
    else:
        expect("envelope coachq-job-id is a job id", len(h.get("coachq-job-id", "")), 36)
if failures:
    print("%d header check(s) failed" % len(failures))
    sys.exit(1)
PY
