#!/usr/bin/env python3
"""bench/batch: HumanEval's 164 canonical solutions as one `batch` job, submit
to done, beside a bare `python3 -I -S` per problem run one after another, in
the same run.

Starts redis-server, a dispatcher and --workers workers on private loopback
ports in a temporary directory, waits until the workers are registered (their
sandbox pools started), then, --runs times (default 3) and alternating:

  batch  one batch job of the 164 problems (code = prompt + canonical
         solution, the problem's tests, its entry point; static checks off
         unless --static), submitted with redis-cli and polled until done;
         every item must pass;
  jobs   the same 164 problems as 164 evaluate jobs, submitted at once with
         redis-cli and polled until the last is final: the whole system
         (queue, dispatcher, --workers workers) one job per problem;
  bare   each problem as one program (code, tests, check(entry_point)) run
         by /usr/bin/python3 -I -S, one after another: no sandbox, no judge,
         no queue.

Prints each run and the medians, and bare / batch and bare / jobs as ratios
(above 1: llm-repl is faster than the bare loop). The figures say nothing when the
machine is busy with other work; say so beside them.

--share-compare starts two systems side by side, each with --workers workers,
one with batch sharing off (each batch on its owner's slots alone) and one with
it on (idle workers take items of a running batch), and times, per run, the
bare loop and one batch job on each (no evaluate jobs): on / off is the gain
of sharing in the same run.

    python3 bench/batch.py [--runs 3] [--workers 1] [--static] [--share-compare]
"""
import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import free_port, stop_all, wait_redis

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("LLMREPL_DATASETS") or next(
    (p for p in (ROOT.parent / "shared" / "datasets", ROOT.parent.parent / "shared" / "datasets")
     if p.is_dir()), ROOT.parent / "shared" / "datasets"))
PREFIX = "llmrepl:"
PYTHON = "/usr/bin/python3"


def cli(port, *args, stdin=None):
    return subprocess.run(["redis-cli", "-p", str(port), *args], input=stdin,
                          capture_output=True, text=True, check=True, timeout=60).stdout


class Stack:
    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.procs = []

    def start(self, name, argv, env=None):
        with open(self.tmp / f"{name}.log", "wb") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
        self.procs.append(p)
        return p

    def stop(self):
        stop_all(self.procs)


def start(args, stack, tmp, share=True, tag=""):
    port = free_port()
    (tmp / f"redis{tag}").mkdir()
    stack.start(f"redis{tag}", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--dir", str(tmp / f"redis{tag}"), "--save", "",
                                "--appendonly", "no"])
    wait_redis(port)
    env = dict(os.environ, LLMREPL_REDIS_URL=f"redis://127.0.0.1:{port}", LLMREPL_PREFIX=PREFIX,
               LLMREPL_LOG_LEVEL="warn", LLMREPL_BATCH_SHARE="true" if share else "false")
    build = Path(args.build)
    stack.start(f"dispatcher{tag}", [str(build / "llmrepl-dispatcher")], env)
    for i in range(args.workers):
        stack.start(f"worker{tag}{i}", [str(build / "llmrepl-worker"), "--name", f"bench{i}"],
                    env)
    deadline = time.time() + 120
    while int(cli(port, "ZCARD", PREFIX + "workers").strip() or 0) < args.workers:
        if time.time() > deadline:
            sys.exit(f"the workers did not register; see {tmp}")
        time.sleep(0.1)
    return port


def batch_once(port, spec):
    t0 = time.perf_counter()
    jid = cli(port, "-x", "XADD", PREFIX + "requests", "*", "spec", stdin=spec).strip()
    key = PREFIX + "job:" + jid
    while cli(port, "HGET", key, "state").strip() not in ("done", "rejected", "dead",
                                                         "cancelled"):
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    h = cli(port, "HMGET", key, "state", "items_passed", "items_total", "error").split("\n")
    if h[0] != "done" or h[1] != h[2]:
        sys.exit(f"batch job {jid} did not pass every item: {h}")
    return wall


def jobs_once(port, specs):
    """Every problem as an evaluate job of its own, all submitted at once
    (redis-cli, one XADD each), until the last is final."""
    t0 = time.perf_counter()
    text = "".join("XADD %srequests * spec %s\n" % (PREFIX, json.dumps(json.dumps(s)))
                   for s in specs)
    ids = cli(port, stdin=text).split()
    keys = [PREFIX + "job:" + j for j in ids]
    while True:
        states = cli(port, stdin="".join("HGET %s state\n" % k for k in keys)).split()
        if len(states) == len(keys) and all(x in ("done", "rejected", "dead", "cancelled")
                                            for x in states):
            break
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    passed = cli(port, stdin="".join("HGET %s passed\n" % k for k in keys)).split()
    if states.count("done") != len(keys) or passed.count("1") != len(keys):
        sys.exit("evaluate jobs did not all pass: %s" % list(zip(states, passed))[:5])
    return wall


def bare_once(files):
    t0 = time.perf_counter()
    for f in files:
        r = subprocess.run([PYTHON, "-I", "-S", str(f)], capture_output=True, timeout=60)
        if r.returncode != 0:
            sys.exit(f"{f} failed bare: {r.stderr[-500:]}")
    return time.perf_counter() - t0


def share_compare(args, spec, files, stack, tmp):
    """Sharing off and on, side by side in the same run."""
    off = start(args, stack, tmp, share=False, tag="-off")
    on = start(args, stack, tmp, share=True, tag="-on")
    batch_once(off, spec)  # warm: the pools and the page cache
    batch_once(on, spec)
    bare_once(files[:20])
    rows = []
    for r in range(args.runs):
        b = bare_once(files)
        x = batch_once(off, spec)
        y = batch_once(on, spec)
        rows.append((b, x, y))
        print(f"run {r + 1}: bare sequential {b:.2f} s, batch sharing off {x:.2f} s "
              f"({b / x:.2f}x), on {y:.2f} s ({b / y:.2f}x); on/off {x / y:.2f}x", flush=True)
    b, x, y = (statistics.median(v[i] for v in rows) for i in range(3))
    print(f"\n{len(files)} HumanEval canonical solutions, {args.workers} workers per system, "
          f"static checks {'on' if args.static else 'off'}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")
    print(f"bare python3 -I -S per problem, sequential   median {b:.2f} s")
    print(f"one batch job, sharing off                    median {x:.2f} s ({b / x:.2f}x bare)")
    print(f"one batch job, sharing on                     median {y:.2f} s ({b / y:.2f}x bare)")
    print(f"gain of sharing (off / on) of the medians     {x / y:.2f}x")
    print(f"median of the runs' gains                     "
          f"{statistics.median(v[1] / v[2] for v in rows):.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--static", action="store_true", help="static checks on (off by default)")
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--share-compare", action="store_true",
                    help="batch sharing off and on side by side (see above)")
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
    if args.share_compare:
        try:
            share_compare(args, spec, files, stack, tmp)
        finally:
            stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        port = start(args, stack, tmp)
        batch_once(port, spec)  # warm: the pools and the page cache
        jobs_once(port, singles[:20])
        bare_once(files[:20])
        rows = []
        for r in range(args.runs):
            b = bare_once(files)
            j = batch_once(port, spec)
            e = jobs_once(port, singles)
            rows.append((b, j, e))
            print(f"run {r + 1}: bare sequential {b:.2f} s, batch job {j:.2f} s "
                  f"({b / j:.2f}x), {len(singles)} evaluate jobs {e:.2f} s ({b / e:.2f}x)",
                  flush=True)
    finally:
        stack.stop()
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
