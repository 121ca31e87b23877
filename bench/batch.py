#!/usr/bin/env python3
"""bench/batch: HumanEval's 164 canonical solutions as one `batch` job, submit
to done, beside a bare `python3 -I -S` per problem run one after another, in
the same run.

Starts redis-server, a dispatcher and --workers workers on private loopback
ports in a temporary directory, waits until the workers are registered (their
sandbox pools started), then, --runs times (default 3) and alternating:

  batch  one batch job of the 164 problems (code = prompt + canonical
         solution, the problem's tests, its entry point; static checks off
         unless --static), submitted with XADD and waited for with a blocking
         XREAD on its events stream until its final event; every item must
         pass;
  jobs   the same 164 problems as 164 evaluate jobs, submitted at once (one
         pipelined XADD each) and waited for the same way, job after job in
         submission order, until the last is final: the whole system (queue,
         dispatcher, --workers workers) one job per problem;
  bare   each problem as one program (code, tests, check(entry_point)) run
         by /usr/bin/python3 -I -S, one after another: no sandbox, no judge,
         no queue.

Prints each run and the medians, and bare / batch and bare / jobs as ratios
(above 1: llm-repl is faster than the bare loop); each run also gives the CPU
per problem of the bare loop and, for the evaluate jobs, of redis-server, the
dispatcher, the workers' own threads and their sandboxes (every process below
a worker, with the runs it reaped). The figures say nothing when the
machine is busy with other work; say so beside them.

The client is one connection speaking RESP itself (bench/benchlib.py): no
process per poll and no polling interval in the figures.

--share-compare starts two systems side by side, each with --workers workers,
one with batch sharing off (each batch on its owner's slots alone) and one with
it on (idle workers take items of a running batch), and times, per run, the
bare loop and one batch job on each (no evaluate jobs): off / on is the gain
of sharing in the same run.

--group-compare N does the same with grouping: the workers of one system
evaluate each item in a sandbox run of its own (--batch-group 1), the other's
up to N items per run (--batch-group N, worker/eval_group.c).

    python3 bench/batch.py [--runs 3] [--workers 1] [--static] [--trace FILE] [--perf FILE]
                           [--share-compare | --group-compare N]
"""
import argparse
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import Resp, free_port, stop_all, wait_redis

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("LLMREPL_DATASETS") or next(
    (p for p in (ROOT.parent / "shared" / "datasets", ROOT.parent.parent / "shared" / "datasets")
     if p.is_dir()), ROOT.parent / "shared" / "datasets"))
PREFIX = "llmrepl:"
PYTHON = "/usr/bin/python3"


def threads_cpu(pid):
    """A live process's own CPU seconds, its live threads' run time in ns
    (/proc/PID/task/*/schedstat), or None where the kernel keeps none: the
    ticks of /proc/PID/stat count 10 ms, 0.06 ms per job over 164 jobs. (A
    thread that ended between two readings is missed; the ones a job uses
    live as long as the process.)"""
    try:
        total = 0
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        return None


class Stack:
    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.procs = []

    def start(self, name, argv, env=None):
        with open(self.tmp / f"{name}.log", "wb") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
        self.procs.append(p)
        p.role = name.rstrip("0123456789")
        return p

    def cpu(self):
        """CPU seconds so far by role: redis, dispatcher, worker (its own
        threads, to the ns: threads_cpu) and sandbox (every process below the
        workers, with what the runs they reaped used, in ticks)."""
        stats, kids = {}, {}
        for d in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{d}/stat") as f:
                    f2 = f.read().rpartition(")")[2].split()
            except (OSError, ValueError):
                continue
            stats[int(d)] = f2
            kids.setdefault(int(f2[1]), []).append(int(d))
        tick = os.sysconf("SC_CLK_TCK")
        out = {"redis": 0.0, "dispatcher": 0.0, "worker": 0.0, "sandbox": 0.0}
        for p in self.procs:
            if p.pid not in stats:
                continue
            own = threads_cpu(p.pid)
            out[p.role] += own if own is not None else \
                (int(stats[p.pid][11]) + int(stats[p.pid][12])) / tick
            if p.role != "worker":
                continue
            todo = list(kids.get(p.pid, []))
            while todo:
                c = todo.pop()
                f2 = stats[c]
                out["sandbox"] += sum(int(x) for x in f2[11:15]) / tick
                todo.extend(kids.get(c, []))
        return out

    def stop(self):
        stop_all(self.procs)


def start(args, stack, tmp, share=True, tag="", extra=None):
    port = free_port()
    (tmp / f"redis{tag}").mkdir()
    stack.start(f"redis{tag}", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--dir", str(tmp / f"redis{tag}"), "--save", "",
                                "--appendonly", "no"])
    wait_redis(port)
    env = dict(os.environ, LLMREPL_REDIS_URL=f"redis://127.0.0.1:{port}", LLMREPL_PREFIX=PREFIX,
               LLMREPL_LOG_LEVEL="warn", LLMREPL_BATCH_SHARE="true" if share else "false",
               **(extra or {}))
    if args.trace:
        env.update(LLMREPL_JOB_TRACE="1", LLMREPL_SBX_TRACE="1")
    build = Path(args.build)
    stack.start(f"dispatcher{tag}", [str(build / "llmrepl-dispatcher")], env)
    for i in range(args.workers):
        stack.start(f"worker{tag}{i}", [str(build / "llmrepl-worker"), "--name", f"bench{i}"],
                    env)
    deadline = time.time() + 120
    r = Resp(port)
    while r.call("ZCARD", PREFIX + "workers") < args.workers:
        if time.time() > deadline:
            sys.exit(f"the workers did not register; see {tmp}")
        time.sleep(0.1)
    return r


FINAL = ("done", "rejected", "dead", "cancelled")


def wait_final(r, jid, timeout_ms=120000):
    """Blocks on the job's events stream (no polling interval: the read
    returns when an event is added) until its final event; its type."""
    key, last = PREFIX + "job:" + jid + ":events", "0"
    while True:
        rep = r.call("XREAD", "BLOCK", timeout_ms, "STREAMS", key, last)
        if rep is None:
            sys.exit(f"job {jid}: no event for {timeout_ms} ms")
        for eid, fields in rep[0][1]:
            last = eid
            typ = dict(zip(fields[::2], fields[1::2])).get("type")
            if typ in FINAL:
                return typ


def batch_once(r, spec, timeline=None):
    """The batch job's wall time, submit to done; with timeline a list, its
    events' times appended to it (timeline_of)."""
    t0 = time.perf_counter()
    jid = r.call("XADD", PREFIX + "requests", "*", "spec", spec)
    wait_final(r, jid)
    wall = time.perf_counter() - t0
    h = r.call("HMGET", PREFIX + "job:" + jid, "state", "items_passed", "items_total", "error")
    if h[0] != "done" or h[1] != h[2]:
        sys.exit(f"batch job {jid} did not pass every item: {h}")
    if timeline is not None:
        timeline.append(timeline_of(r, jid))
    return wall


def timeline_of(r, jid):
    """Where the batch's wall time went, from its events (each stamped by
    Redis in ms, as is the request's id): the request to the claim
    (`running`), to the first item recorded, to the last, to `done`; the
    items each worker recorded; the longest gaps between two items'
    records; the items recorded in each tenth of the span."""
    t_req = int(jid.split("-")[0])
    evs = r.call("XRANGE", PREFIX + "job:" + jid + ":events", "-", "+")
    run = done = None
    items, by, ends, firsts = [], {}, {}, {}
    for _, f in evs:
        d = dict(zip(f[::2], f[1::2]))
        at = int(d.get("at", 0))
        if d.get("type") == "running" and run is None:
            run = at
        elif d.get("type") == "item":
            items.append(at)
            w = d.get("worker", "?")
            by[w] = by.get(w, 0) + 1
            ends[w] = at - run if run is not None else at
            firsts.setdefault(w, ends[w])
        elif d.get("type") == "done":
            done = at
    items.sort()
    if not items or run is None or done is None:
        return "no timeline"
    gaps = sorted((b - a for a, b in zip(items, items[1:])), reverse=True)[:5]
    span = max(1, done - run)
    tenths = [0] * 10
    for t in items:
        tenths[min(9, (t - run) * 10 // span)] += 1
    return (f"claim {run - t_req} ms, first item +{items[0] - run}, last +{items[-1] - run}, "
            f"done +{done - run} ms; items by worker {by}, each one's first +{firsts} and "
            f"last +{ends} ms; "
            f"longest gaps {gaps} ms; "
            f"per tenth {tenths}")


def machine_busy():
    """The machine's CPU seconds busy and idle so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / tick, idle / tick


def jobs_once(r, specs):
    """Every problem as an evaluate job of its own, all submitted at once (one
    pipelined XADD each), until the last is final: the client waits on each
    job's events in submission order, so it sees the last one end when it
    ends."""
    t0 = time.perf_counter()
    ids = r.pipeline([("XADD", PREFIX + "requests", "*", "spec", json.dumps(s)) for s in specs])
    for jid in ids:
        wait_final(r, jid)
    wall = time.perf_counter() - t0
    keys = [PREFIX + "job:" + j for j in ids]
    rows = r.pipeline([("HMGET", k, "state", "passed") for k in keys])
    if any(row != ["done", "1"] for row in rows):
        sys.exit("evaluate jobs did not all pass: %s" % rows[:5])
    return wall


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def bare_once(files, cpu=None):
    """The bare loop's wall time; its CPU seconds appended to cpu."""
    t0, c0 = time.perf_counter(), children_cpu()
    for f in files:
        r = subprocess.run([PYTHON, "-I", "-S", str(f)], capture_output=True, timeout=60)
        if r.returncode != 0:
            sys.exit(f"{f} failed bare: {r.stderr[-500:]}")
    if cpu is not None:
        cpu.append(children_cpu() - c0)
    return time.perf_counter() - t0


def side_by_side(args, spec, files, stack, tmp, what, off, on):
    """Two systems side by side in the same run, `what` off and on (off and
    on: the keyword arguments of start for each)."""
    sys_off = start(args, stack, tmp, tag="-off", **off)
    sys_on = start(args, stack, tmp, tag="-on", **on)
    batch_once(sys_off, spec)  # warm: the pools and the page cache
    batch_once(sys_on, spec)
    bare_once(files[:20])
    rows = []
    for r in range(args.runs):
        b = bare_once(files)
        x = batch_once(sys_off, spec)
        y = batch_once(sys_on, spec)
        rows.append((b, x, y))
        print(f"run {r + 1}: bare sequential {b:.2f} s, batch {what} off {x:.2f} s "
              f"({b / x:.2f}x), on {y:.2f} s ({b / y:.2f}x); off/on {x / y:.2f}x", flush=True)
    b, x, y = (statistics.median(v[i] for v in rows) for i in range(3))
    print(f"\n{len(files)} HumanEval canonical solutions, {args.workers} worker(s) per system, "
          f"static checks {'on' if args.static else 'off'}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")
    print(f"bare python3 -I -S per problem, sequential   median {b:.2f} s")
    print(f"{'one batch job, %s off' % what:<45}median {x:.2f} s ({b / x:.2f}x bare)")
    print(f"{'one batch job, %s on' % what:<45}median {y:.2f} s ({b / y:.2f}x bare)")
    print(f"{'gain of %s (off / on) of the medians' % what:<46}{x / y:.2f}x")
    print(f"median of the runs' gains                     "
          f"{statistics.median(v[1] / v[2] for v in rows):.2f}x")


PERF_HZ = 2999


def perf_start(args, run):
    """With --perf, `perf record -a` started for the first run's batch job:
    (the process, the factories running now), or None."""
    if not args.perf or run > 0:
        return None
    import perf_roles
    p = subprocess.Popen(["perf", "record", "-a", "-F", str(PERF_HZ), "-o", args.perf, "--",
                          "sleep", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # perf's start: its own CPU outside the batch
    return p, perf_roles.factories_now(), args.perf


def perf_report(perf, stack, items):
    """perf stopped; the batch's CPU by process role (bench/perf_roles.py)."""
    if perf is None:
        return
    import perf_roles
    proc, factories, path = perf
    proc.send_signal(2)
    proc.wait()
    workers = [p.pid for p in stack.procs if p.role == "worker"]
    others = {p.pid: p.role for p in stack.procs if p.role in ("redis", "dispatcher")}
    print("\n".join(perf_roles.report(path, workers, others, PERF_HZ, items, factories)),
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--static", action="store_true", help="static checks on (off by default)")
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--trace", metavar="FILE",
                    help="run the dispatcher and workers with LLMREPL_JOB_TRACE=1 and "
                    "LLMREPL_SBX_TRACE=1 and write their logs to FILE (for bench/sbx_trace.py)")
    ap.add_argument("--perf", metavar="FILE",
                    help="record the first run's batch job with perf record -a into FILE and "
                    "print its CPU by process role (bench/perf_roles.py)")
    ap.add_argument("--share-compare", action="store_true",
                    help="batch sharing off and on side by side (see above)")
    ap.add_argument("--group-compare", type=int, metavar="N", default=0,
                    help="grouping off (--batch-group 1) and on (--batch-group N) side by "
                    "side (see above)")
    args = ap.parse_args()
    with gzip.open(DATA / "HumanEval.jsonl.gz", "rt") as f:
        probs = [json.loads(line) for line in f]
    items = [{"id": p["task_id"], "code": p["prompt"] + p["canonical_solution"],
              "tests": p["test"], "entry_point": p["entry_point"]} for p in probs]
    spec = json.dumps({"kind": "batch", "items": items, "static_checks": args.static})
    singles = [{"kind": "evaluate", "code": i["code"], "tests": i["tests"],
                "entry_point": i["entry_point"], "static_checks": args.static} for i in items]
    tmp = Path(tempfile.mkdtemp(prefix="llmrepl-bench-batch-"))
    files = []
    for i, p in enumerate(probs):
        f = tmp / f"p{i}.py"
        f.write_text(p["prompt"] + p["canonical_solution"] + "\n" + p["test"] +
                     f"\ncheck({p['entry_point']})\n")
        files.append(f)
    stack = Stack(tmp)
    if args.share_compare or args.group_compare:
        try:
            if args.share_compare:
                side_by_side(args, spec, files, stack, tmp, "sharing", {"share": False},
                             {"share": True})
            else:
                side_by_side(args, spec, files, stack, tmp, "grouping",
                             {"extra": {"LLMREPL_BATCH_GROUP": "1"}},
                             {"extra": {"LLMREPL_BATCH_GROUP": str(args.group_compare)}})
        finally:
            stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        return
    stats = ""
    try:
        conn = start(args, stack, tmp)
        batch_once(conn, spec)  # warm: the pools and the page cache
        jobs_once(conn, singles[:20])
        bare_once(files[:20])
        rows = []
        for r in range(args.runs):
            bare_cpu = []
            b = bare_once(files, bare_cpu)
            tl = []
            perf = perf_start(args, r)
            c0, m0 = stack.cpu(), machine_busy()
            j = batch_once(conn, spec, tl)
            c1, m1 = stack.cpu(), machine_busy()
            perf_report(perf, stack, len(items))
            busy, idle = m1[0] - m0[0], m1[1] - m0[1]
            print(f"run {r + 1}: batch job {j:.2f} s: CPU per item (ms): " +
                  ", ".join(f"{k} {(c1[k] - c0[k]) * 1000 / len(items):.2f}" for k in c0) +
                  f"; its processes {sum(c1[k] - c0[k] for k in c0) / j / os.cpu_count():.0%}"
                  f" of the CPUs, the machine {busy / max(busy + idle, 1e-9):.0%} busy; "
                  f"{tl[0]}", flush=True)
            c0 = stack.cpu()
            e = jobs_once(conn, singles)
            c1 = stack.cpu()
            rows.append((b, j, e))
            print(f"run {r + 1}: bare sequential {b:.2f} s, batch job {j:.2f} s "
                  f"({b / j:.2f}x), {len(singles)} evaluate jobs {e:.2f} s ({b / e:.2f}x); "
                  f"CPU per problem (ms): bare {bare_cpu[0] * 1000 / len(files):.2f}; jobs: " +
                  ", ".join(f"{k} {(c1[k] - c0[k]) * 1000 / len(singles):.2f}" for k in c0),
                  flush=True)
        if args.trace:
            stats = conn.call("INFO", "commandstats")
    finally:
        stack.stop()
        if args.trace:
            with open(args.trace, "w") as out:
                out.write(stats)
                for log in sorted(tmp.glob("*.log")):
                    out.write(log.read_text(errors="replace"))
    b = statistics.median(x[0] for x in rows)
    j = statistics.median(x[1] for x in rows)
    e = statistics.median(x[2] for x in rows)
    print(f"\n{len(items)} HumanEval canonical solutions, {args.workers} worker(s), static checks "
          f"{'on' if args.static else 'off'}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")
    print(f"bare python3 -I -S per problem, sequential   median {b:.2f} s")
    print(f"one batch job, submit to done                 median {j:.2f} s")
    print(f"ratio (bare / batch) of the medians           {b / j:.2f}x")
    print(f"median of the runs' ratios                    "
          f"{statistics.median(x[0] / x[1] for x in rows):.2f}x")
    print(f"{len(singles)} evaluate jobs, submit to all done     median {e:.2f} s")
    print(f"ratio (bare / evaluate jobs) of the medians   {b / e:.2f}x")
    print(f"median of the runs' ratios                    "
          f"{statistics.median(x[0] / x[2] for x in rows):.2f}x")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
