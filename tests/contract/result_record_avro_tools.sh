#!/usr/bin/env bash
# Contract check: a result record that a worker published on Kafka during the
# integration tests (saved by test_it_jobs to COACHQ_IT_RESULT_DUMP) decodes
# with Apache Avro's own tools and the committed schemas/avro/job_result.avsc,
# into a record with the fields other services rely on.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
record=${COACHQ_IT_RESULT_DUMP:-$root/build/asan/it-result-record.avro}
if [ ! -s "$record" ]; then
    echo "no result record at $record: the integration tests did not save one" >&2
    exit 1
fi
json=$("$root/tests/contract/_avro_tools_decode.sh" "$root/schemas/avro/job_result.avsc" "$record" 2>/dev/null)
echo "$json"
python3 - "$json" <<'PY'
import json, sys
rec = json.loads(sys.argv[1])
assert rec["status"] == "succeeded", rec["status"]
assert rec["operation"] == "alignment-check"
assert len(rec["jobId"]) == 36
result = rec["result"]
# A union branch decodes as {"<full name>": value}.
(name, value), = result.items()
assert name.endswith("AlignmentCheckResult"), name
assert 0 <= value["alignmentScore"] <= 100
print("result record decoded by avro-tools:", name, "score", value["alignmentScore"])
PY
