#!/usr/bin/env bash
# Contract check: a result record a worker published on Kafka during the
# integration tests is fetched from the broker with kcat and decoded with
# Apache Avro's own tools and the committed schemas/avro/job_result.avsc into
# a record with the fields other services rely on. test_it_jobs saves the
# record (COACHQ_IT_RESULT_DUMP) and where it is (.where: topic partition
# offset); deploy/local.sh test runs this while the test broker is up.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
record=${COACHQ_IT_RESULT_DUMP:-$root/build/asan/it-result-record.avro}
if [ ! -s "$record" ] || [ ! -s "$record.where" ]; then
    echo "no result record at $record: the integration tests did not save one" >&2
    exit 1
fi
fetched=$record.kcat
if [ -n "${COACHQ_IT_KAFKA_BOOTSTRAP:-}" ]; then
    read -r topic partition offset <"$record.where"
    kcat -C -b "$COACHQ_IT_KAFKA_BOOTSTRAP" -t "$topic" -p "$partition" -o "$offset" -c 1 \
        -e -q -f '%s' >"$fetched"
    cmp "$record" "$fetched"
    echo "kcat read ${topic}[${partition}]@${offset}: the same bytes the test consumed"
else
    echo "COACHQ_IT_KAFKA_BOOTSTRAP not set: decoding the saved copy without kcat" >&2
    cp "$record" "$fetched"
fi
json=$("$root/tests/contract/_avro_tools_decode.sh" "$root/schemas/avro/job_result.avsc" "$fetched" 2>/dev/null)
echo "$json"
python3 - "$json" <<'PY'
import json, sys
rec = json.loads(sys.argv[1])
assert rec["status"] == "succeeded", rec["status"]
assert rec["operation"] == "alignment-check"
assert len(rec["jobId"]) == 36
(name, value), = rec["result"].items()  # a union branch decodes as {"<full name>": value}
assert name.endswith("AlignmentCheckResult"), name
assert 0 <= value["alignmentScore"] <= 100
(ename, engine), = rec["engine"].items()
assert engine["name"] == "builtin", engine
print("result record decoded by avro-tools:", name, "score", value["alignmentScore"])
PY
