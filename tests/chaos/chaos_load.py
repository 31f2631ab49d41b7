#!/usr/bin/env python3
"""Load for tests/chaos/crashloop.sh: submits JOBS alignment-check jobs through
the gateway (Prefer: respond-async, dev-mode tenant headers, TENANTS tenants so
the jobs spread over every partition), then reads the result topic with kcat
until every job has a result record or TIMEOUT seconds passed.

--submit-only writes the job ids to --ids-file and stops; --wait-only reads
them from there and measures from --since (epoch ms; the workers' start), so a
backlog submitted before any worker runs measures the workers alone.

Prints one JSON line: jobs submitted, results seen (distinct job ids), result
records (duplicates = records - distinct), submit time, the time from the first
submission to the last first-seen result (from the records' Kafka timestamps),
and jobs/s over that window. Loopback only; asserts nothing.
"""
import argparse
import http.client
import json
import subprocess
import threading
import time
import urllib.parse

BODY = (
    '{"goalIntent": "Grow recurring revenue %d percent with maintenance plans",'
    ' "strategies": ["Sell plans at handover", "Win back older customers"],'
    ' "kpis": ["Plan attach rate", "Monthly recurring revenue"],'
    ' "businessFoundation": {"vision": "Clean energy in every home",'
    ' "purpose": "Make solar simple", "coreValues": ["Integrity"]}}'
)


def submit(base, jobs, tenants, concurrency, run):
    url = urllib.parse.urlparse(base)
    path = url.path + "/coaching/alignment-check"
    ids, failures, lock = set(), [0], threading.Lock()
    counter = iter(range(jobs))

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            headers = {
                "Content-Type": "application/json",
                "Prefer": "respond-async",
                "X-Tenant-Id": "%s-t%d" % (run, i % tenants),
                "X-User-Id": "chaos",
            }
            for _ in range(5):
                try:
                    conn.request("POST", path, BODY % i, headers)
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status == 202:
                        with lock:
                            ids.add(resp.getheader("X-Job-Id"))
                        break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
                time.sleep(0.1)
            else:
                with lock:
                    failures[0] += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ids, failures[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT/coaching/api/v1")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--results-topic", required=True)
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--tenants", type=int, default=48)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--run", required=True, help="tenant prefix unique to this run")
    ap.add_argument("--submit-only", action="store_true")
    ap.add_argument("--wait-only", action="store_true")
    ap.add_argument("--ids-file")
    ap.add_argument("--since", type=float, help="epoch ms the window starts at (--wait-only)")
    args = ap.parse_args()

    if args.submit_only:
        t0 = time.time()
        ids, failed = submit(args.base, args.jobs, args.tenants, args.concurrency, args.run)
        with open(args.ids_file, "w") as f:
            f.write("\n".join(sorted(ids)) + "\n")
        submit_s = time.time() - t0
        print(json.dumps({"submitted": len(ids), "submit_failed": failed,
                          "submit_s": round(submit_s, 2),
                          "submit_rate": round(len(ids) / submit_s, 1) if submit_s > 0 else 0}))
        return

    # Reads the whole result topic from the start: records of this run are
    # told apart by job id, so earlier runs' records are harmless.
    kcat = subprocess.Popen(
        ["kcat", "-C", "-b", args.bootstrap, "-t", args.results_topic, "-o", "beginning",
         "-u", "-q", "-f", "%T %h\n"],
        stdout=subprocess.PIPE, text=True)
    records = []  # (timestamp ms, job id), every record seen, in arrival order
    rlock = threading.Lock()

    def reader():
        for line in kcat.stdout:
            ts, _, headers = line.strip().partition(" ")
            for h in headers.split(","):
                if h.startswith("coachq-job-id="):
                    with rlock:
                        records.append((int(ts), h[len("coachq-job-id="):]))

    threading.Thread(target=reader, daemon=True).start()

    if args.wait_only:
        with open(args.ids_file) as f:
            ids = {line.strip() for line in f if line.strip()}
        failed, submit_s, t0 = 0, 0.0, args.since / 1000.0
    else:
        t0 = time.time()
        ids, failed = submit(args.base, args.jobs, args.tenants, args.concurrency, args.run)
        submit_s = time.time() - t0
    deadline = t0 + args.timeout
    first_seen = {}
    while time.time() < deadline:
        with rlock:
            snapshot = list(records)
        first_seen = {}
        for ts, jid in snapshot:
            if jid in ids and jid not in first_seen:
                first_seen[jid] = ts
        if len(first_seen) >= len(ids):
            break
        time.sleep(0.5)
    time.sleep(3)  # late duplicates (a redelivered job published again)
    with rlock:
        mine = [(ts, jid) for ts, jid in records if jid in ids]
    kcat.terminate()
    kcat.wait()
    complete = len(first_seen) >= len(ids)
    # Incomplete: the window runs to the timeout, the time spent waiting.
    last = max(first_seen.values()) if complete and first_seen else deadline * 1000
    window_s = (last - t0 * 1000) / 1000.0
    out = {"submitted": len(ids)}
    if not args.wait_only:
        out.update({"submit_failed": failed, "submit_s": round(submit_s, 2),
                    "submit_rate": round(len(ids) / submit_s, 1) if submit_s > 0 else 0})
    out.update({
        "results": len(first_seen),
        "result_records": len(mine),
        "duplicates": len(mine) - len({jid for _, jid in mine}),
        "window_s": round(window_s, 2),  # to the last result, or the timeout
        "jobs_per_s": round(len(first_seen) / window_s, 1) if window_s > 0 else 0,
        "complete": complete,
    })
    # Longest time with no new result: the stall a crash loop causes.
    times = sorted([t0 * 1000, last] + list(first_seen.values()))
    out["longest_gap_s"] = round(max((b - a for a, b in zip(times, times[1:])), default=0) / 1000, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
