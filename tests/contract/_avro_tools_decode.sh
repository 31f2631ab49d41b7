#!/usr/bin/env bash
# Decodes one Avro binary datum (no container header) with Apache Avro's own
# avro-tools and prints it as JSON: an independent reader for what
# lib/cq_avro.c writes. Fetches the jar from Maven Central into
# deploy/avro/libs/ (git-ignored) the first time.
#
# Usage: tests/contract/avro_tools_decode.sh SCHEMA.avsc DATUM.bin
# A datum to try: COACHQ_AVRO_DUMP=/tmp ./build/dev/test_cq_avro writes
# /tmp/job_result.avsc and /tmp/job_result.bin.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 SCHEMA.avsc DATUM.bin" >&2
    exit 2
fi
root="$(cd "$(dirname "$0")/../.." && pwd)"
version="${AVRO_TOOLS_VERSION:-1.12.0}"
libs="$root/deploy/avro/libs"
jar="$libs/avro-tools-$version.jar"
if [ ! -f "$jar" ]; then
    mkdir -p "$libs"
    mvn -q -B dependency:copy "-Dartifact=org.apache.avro:avro-tools:$version" \
        "-DoutputDirectory=$libs" >&2
fi
# avro-tools logs through slf4j on stderr; stdout is the JSON alone.
exec java -jar "$jar" fragtojson --schema-file "$1" "$2"
