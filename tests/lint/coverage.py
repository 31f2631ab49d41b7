#!/usr/bin/env python3
"""coverage.py BUILD_DIR [MIN_PERCENT]: line coverage of the product's sources.

Reads the gcov data a COACHQ_COVERAGE build wrote while the test command ran
(unit tests, and the gateway and workers the integration tests started),
through gcovr, and prints the line coverage of lib/, gateway/, workers/<kind>/,
cli/ and tools/, one line each, then the total. Exits 1 when the total is under
MIN_PERCENT (default 80). Tests and generated files do not count.
"""
import json
import os
import subprocess
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def area(path):
    parts = path.split("/")
    if parts[0] == "workers" and len(parts) > 2:
        return "/".join(parts[:2]) + "/"
    return parts[0] + "/"


def main():
    build = os.path.abspath(sys.argv[1])
    minimum = float(sys.argv[2]) if len(sys.argv) > 2 else 80.0
    cmd = ["gcovr", "--root", ROOT, "--object-directory", build, "--json-summary", "-",
           "-j", "2", "--gcov-ignore-parse-errors"]
    for d in ("lib", "gateway", "workers", "cli", "tools"):
        cmd += ["--filter", os.path.join(ROOT, d) + "/"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    files = json.loads(out)["files"]
    total = defaultdict(int)
    covered = defaultdict(int)
    for f in files:
        a = area(f["filename"])
        total[a] += f["line_total"]
        covered[a] += f["line_covered"]
    all_total, all_covered = sum(total.values()), sum(covered.values())
    if all_total == 0:
        print("coverage: no data (was the build made with -DCOACHQ_COVERAGE=ON and the tests run?)")
        return 1
    for a in sorted(total):
        print(f"  {a:<24} {100.0 * covered[a] / total[a]:5.1f} %  ({covered[a]}/{total[a]} lines)")
    pct = 100.0 * all_covered / all_total
    print(f"coverage: {pct:.1f} % of {all_total} lines (minimum {minimum:.0f} %)")
    return 0 if pct >= minimum else 1


if __name__ == "__main__":
    sys.exit(main())
