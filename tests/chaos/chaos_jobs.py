#!/usr/bin/env python3
"""Jobs for tests/chaos/chaos.sh: submits them while things break, then
counts what became of them. Loopback only, bounded in time and count.

submit  Submits --jobs alignment-check jobs through the gateway at --rate
        jobs/s (Prefer: respond-async, --tenants dev-mode tenants so every
        partition gets some). A 503/429 or a broken connection (broker or
        Redis down) is retried after 0.3 s for up to --retry-s seconds; any
        other answer but 202 counts as refused. Every 202'd job is written to
        --ids-file as "id tenant" the moment it is accepted. Prints one JSON
        line: accepted, refused, gave_up, seconds, statuses seen.

check   Reads --ids-file and polls GET /jobs/{id} (as the job's tenant) until
        every job is terminal or --settle-s passed, then reads the whole
        --results-topic with kcat (-e: to its current end) and counts, per
        accepted job: succeeded / failed / cancelled; stuck (readable, not
        terminal); unreadable (404, though its result record is on the
        topic); lost (404 and no result record: the one thing that must never
        happen); duplicate result records (records beyond one per job);
        terminal jobs with no result record. Stuck jobs the gateway answered
        202 for without the broker's acknowledgement (ids in --unacked-file,
        from its log) are also counted as stuck_unacknowledged. Prints one
        JSON line; exits 1 when lost, unreadable or stuck is not 0 (with
        --tolerate-unacknowledged, stuck jobs of that kind do not fail it).
"""
import argparse
import collections
import http.client
import json
import subprocess
import sys
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
TERMINAL = ("succeeded", "failed", "cancelled")


class Client:
    """One keep-alive connection, reopened after any failure."""

    def __init__(self, base):
        self.url = urllib.parse.urlparse(base)
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=15)
        try:
            self.conn.request(method, self.url.path + path, body, headers or {})
            resp = self.conn.getresponse()
            data = resp.read()
            return resp.status, resp, data
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            return None, None, b""


def cmd_submit(args):
    lock = threading.Lock()
    counter = iter(range(args.jobs))
    stats = collections.Counter()
    out = open(args.ids_file, "w", buffering=1)
    t0 = time.time()

    def worker():
        client = Client(args.base)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            delay = t0 + i / args.rate - time.time()
            if delay > 0:
                time.sleep(delay)
            tenant = "%s-t%d" % (args.run, i % args.tenants)
            headers = {"Content-Type": "application/json", "Prefer": "respond-async",
                       "X-Tenant-Id": tenant, "X-User-Id": "chaos"}
            give_up = time.time() + args.retry_s
            while True:
                status, resp, _ = client.request("POST", "/coaching/alignment-check",
                                                 BODY % i, headers)
                with lock:
                    stats["status_%s" % status] += 1
                if status == 202:
                    with lock:
                        out.write("%s %s\n" % (resp.getheader("X-Job-Id"), tenant))
                        stats["accepted"] += 1
                    break
                if status not in (None, 429, 503):
                    with lock:
                        stats["refused"] += 1
                    break
                if time.time() > give_up:
                    with lock:
                        stats["gave_up"] += 1
                    break
                time.sleep(0.3)

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()
    res = {"accepted": stats.pop("accepted", 0), "refused": stats.pop("refused", 0),
           "gave_up": stats.pop("gave_up", 0), "submit_s": round(time.time() - t0, 1)}
    res["answers"] = dict(sorted(stats.items()))
    print(json.dumps(res))


def poll_all(args, jobs):
    """GETs every job not yet terminal, over and over, until all are or the
    settle time is over. Returns {id: (http status, job status or None)}."""
    state = {jid: (None, None) for jid in jobs}
    deadline = time.time() + args.settle_s
    rounds = 0
    while True:
        pending = [j for j, (_, st) in state.items() if st not in TERMINAL]
        if not pending or time.time() > deadline:
            break
        rounds += 1
        lock = threading.Lock()
        it = iter(pending)

        def worker():
            client = Client(args.base)
            while True:
                with lock:
                    jid = next(it, None)
                if jid is None:
                    return
                status, _, data = client.request("GET", "/jobs/" + jid, None,
                                                 {"X-Tenant-Id": jobs[jid]})
                st = None
                if status == 200:
                    try:
                        st = json.loads(data).get("status")
                    except ValueError:
                        st = None
                with lock:
                    state[jid] = (status, st)

        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if any(st not in TERMINAL for _, st in state.values()):
            time.sleep(1)
    return state, rounds


def read_results(args):
    """Result records per job id, the whole topic to its current end."""
    proc = subprocess.run(
        ["kcat", "-C", "-b", args.bootstrap, "-t", args.results_topic, "-o", "beginning",
         "-e", "-q", "-f", "%h\n"],
        stdout=subprocess.PIPE, text=True, timeout=120, check=False)
    records = collections.Counter()
    for line in proc.stdout.splitlines():
        for h in line.split(","):
            if h.startswith("coachq-job-id="):
                records[h[len("coachq-job-id="):]] += 1
    return records


def cmd_check(args):
    jobs = {}
    with open(args.ids_file) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                jobs[parts[0]] = parts[1]
    t0 = time.time()
    state, rounds = poll_all(args, jobs)
    settle_s = round(time.time() - t0, 1)
    records = read_results(args)
    counts = collections.Counter()
    examples = collections.defaultdict(list)
    for jid, (http_status, st) in state.items():
        if st in TERMINAL:
            kind = st
            if records[jid] == 0:
                counts["terminal_without_record"] += 1
        elif http_status == 200:
            kind = "stuck"
        elif http_status == 404:
            kind = "unreadable" if records[jid] else "lost"
        else:
            kind = "stuck"  # the gateway did not answer: not known to be done
        counts[kind] += 1
        if kind not in TERMINAL and len(examples[kind]) < 3:
            examples[kind].append(jid)
    unacked = set()
    if args.unacked_file:
        with open(args.unacked_file) as f:
            unacked = {line.strip() for line in f if line.strip()}
    stuck_unacked = sum(1 for j, (h, st) in state.items()
                        if j in unacked and st not in TERMINAL and h == 200)
    mine = sum(records[j] for j in jobs)
    with_record = sum(1 for j in jobs if records[j])
    res = {"accepted": len(jobs)}
    for k in ("succeeded", "failed", "cancelled", "stuck", "unreadable", "lost"):
        res[k] = counts.get(k, 0)
    res.update({
        "result_records": mine,
        "duplicates": mine - with_record,
        "duplicate_pct": round(100.0 * (mine - with_record) / len(jobs), 2) if jobs else 0,
        "terminal_without_record": counts.get("terminal_without_record", 0),
        "unacknowledged_202": len(unacked & set(jobs)),
        "stuck_unacknowledged": stuck_unacked,
        "settle_s": settle_s,
        "poll_rounds": rounds,
    })
    if examples:
        res["examples"] = dict(examples)
    print(json.dumps(res))
    stuck = res["stuck"] - (stuck_unacked if args.tolerate_unacknowledged else 0)
    return 1 if res["lost"] or stuck or res["unreadable"] else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("submit")
    s.add_argument("--base", required=True)
    s.add_argument("--jobs", type=int, required=True)
    s.add_argument("--rate", type=float, required=True)
    s.add_argument("--tenants", type=int, default=48)
    s.add_argument("--concurrency", type=int, default=16)
    s.add_argument("--retry-s", type=float, default=60)
    s.add_argument("--run", required=True)
    s.add_argument("--ids-file", required=True)
    c = sub.add_parser("check")
    c.add_argument("--base", required=True)
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--results-topic", required=True)
    c.add_argument("--ids-file", required=True)
    c.add_argument("--settle-s", type=float, default=60)
    c.add_argument("--concurrency", type=int, default=16)
    c.add_argument("--unacked-file")
    c.add_argument("--tolerate-unacknowledged", action="store_true")
    args = ap.parse_args()
    if args.cmd == "submit":
        cmd_submit(args)
        return 0
    return cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
