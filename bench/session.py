#!/usr/bin/env python3
"""bench/session: a trivial cell in a warm REPL session beside a cold
evaluate of the same code, as jobs end to end, in the same run.

A private redis-server, one dispatcher and one worker (the real sandbox).
Each figure is the time from XADD of the request to the job hash being final
(polled every 0.2 ms), over --runs jobs submitted one after another:

  exec      {"kind": "exec", "code": "x + 1"} in a session that ran "x = 41":
            the worker's held interpreter answers
  replay    the same with --sessions-held 0 on a second worker run: each cell
            is a pooled run that replays the session first
  evaluate  {"kind": "evaluate", "code": "x = 41\\nx + 1", "static_checks":
            false}: the same code judged afresh (a pooled run)

and the sandbox alone (build/bench/session: held call, replay, pool, cold).
Cells go one after another, so each one's time also holds whatever of the
previous cell's commit (made after its answer, before the worker reads its
next job) was not hidden behind the dispatcher's intake of the next.

    python3 bench/session.py [--build build] [--runs 200]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from benchlib import free_port, redis_server, stop_all

ROOT = Path(__file__).resolve().parent.parent


def wait_final(r, jid, timeout=60):
    key = f"llmrepl:job:{jid}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = r.hget(key, "state")
        if st in ("done", "rejected", "dead", "cancelled"):
            return r.hgetall(key)
        time.sleep(0.0002)
    raise RuntimeError(f"job {jid} did not finish")


def timed(r, spec):
    t0 = time.perf_counter()
    jid = r.xadd("llmrepl:requests", {"spec": json.dumps(spec)})
    h = wait_final(r, jid)
    return time.perf_counter() - t0, h


def series(r, spec, runs, check):
    out = []
    for _ in range(runs):
        t, h = timed(r, spec)
        assert h.get("state") == "done" and check(h), h
        out.append(t)
    return out


def show(name, v):
    v = sorted(v)
    print(f"{name:9s} p50 {statistics.median(v) * 1e3:8.2f} ms   "
          f"p95 {v[int(0.95 * (len(v) - 1))] * 1e3:8.2f} ms   ({len(v)} jobs)")


def run_system(build, tmp, held, runs):
    port = free_port()
    rs = redis_server(port, tmp)
    env = dict(os.environ, LLMREPL_REDIS_URL=f"redis://127.0.0.1:{port}",
               LLMREPL_LOG_LEVEL="warn")
    procs = [rs]
    try:
        r = redis.Redis(port=port, decode_responses=True)
        procs.append(subprocess.Popen([str(build / "llmrepl-dispatcher"), "--name", "d1"],
                                      env=env, stdout=subprocess.DEVNULL))
        procs.append(subprocess.Popen([str(build / "llmrepl-worker"), "--name", "w1",
                                       "--sessions-held", str(held)],
                                      env=env, stdout=subprocess.DEVNULL))
        _, h = timed(r, {"kind": "session_open"})
        sid = h["session"]
        timed(r, {"kind": "exec", "session": sid, "code": "x = 41"})
        ex = {"kind": "exec", "session": sid, "code": "x + 1"}
        # Warm up both paths, then measure them interleaved in blocks.
        series(r, ex, 5, lambda h: h["value"] == "42")
        ev = {"kind": "evaluate", "code": "x = 41\nx + 1", "static_checks": False}
        series(r, ev, 5, lambda h: h["passed"] == "1")
        cells, evals = [], []
        for _ in range(runs // 20):
            cells += series(r, ex, 20, lambda h: h["value"] == "42")
            evals += series(r, ev, 20, lambda h: h["passed"] == "1")
        # Each cell is recorded: max_cells (200) bounds a session.
        return cells, evals
    finally:
        stop_all(procs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--runs", type=int, default=180)
    a = ap.parse_args()
    build = Path(a.build).resolve()
    runs = min(a.runs, 180)
    with tempfile.TemporaryDirectory() as tmp:
        cells, evals = run_system(build, tmp, 8, runs)
        show("exec", cells)
        show("evaluate", evals)
    with tempfile.TemporaryDirectory() as tmp:
        cells, evals = run_system(build, tmp, 0, runs)
        show("replay", cells)
        show("evaluate", evals)
    print("sandbox alone:")
    subprocess.run([str(build / "bench" / "session"), str(runs)], check=True)


if __name__ == "__main__":
    main()
