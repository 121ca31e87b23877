#!/usr/bin/env python3
"""bench/io: io test cases through the sandbox's pool beside a bare python3.

One small program (read n and n numbers, print their sum, min and max) and
--cases cases (default 100), judged three ways in the same run:

  pool   llmrepl-eval --pool --io-tests: one pre-forked sandboxed interpreter,
         one fork per case, stdin streamed through the request descriptor,
         the output compared on the host (tokens checker)
  cold   llmrepl-eval --io-tests without the pool: a fresh sandbox per case
  bare   subprocess.run(["/usr/bin/python3", prog]) per case (the sandbox's own
         interpreter, started as a user would start it), the output
         compared with str.split() - no sandbox, no isolation at all

Each way runs --repeat times (default 3); the median is reported, as the
whole command's wall time (pool: including the pool's start and the step that
runs the static tools) and per case. Static checks are off for the
sandboxed runs so that the figures are the cases' own.

    python3 bench/io.py [--build build] [--cases 100] [--repeat 3] [--json]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "/usr/bin/python3"  # the interpreter the sandbox runs

PROGRAM = """import sys

def main():
    data = sys.stdin.read().split()
    n = int(data[0])
    xs = list(map(int, data[1:1 + n]))
    print(sum(xs), min(xs), max(xs))

main()
"""


def make_cases(n, seed=7):
    rnd = random.Random(seed)
    cases = []
    for _ in range(n):
        k = rnd.randint(1, 200)
        xs = [rnd.randint(-10 ** 6, 10 ** 6) for _ in range(k)]
        cases.append({"stdin": "%d\n%s\n" % (k, " ".join(map(str, xs))),
                      "stdout": "%d %d %d\n" % (sum(xs), min(xs), max(xs))})
    return cases


def run_eval(build, prog, spec, pool):
    argv = [str(build / "llmrepl-eval"), "--json", "--no-static", "--io-tests", str(spec)]
    if pool:
        argv.append("--pool")
    t0 = time.monotonic()
    p = subprocess.run(argv + [str(prog)], capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t0
    if p.returncode not in (0, 1):
        sys.exit("llmrepl-eval failed: " + p.stderr)
    rep = json.loads(p.stdout)
    if not rep["passed"]:
        sys.exit("the program should pass: " + rep["summary"])
    cases = [t["duration_s"] for t in rep["tests"]]
    return wall, statistics.mean(cases)


def run_bare(prog, cases):
    t0 = time.monotonic()
    per = []
    for c in cases:
        t = time.monotonic()
        p = subprocess.run([PYTHON, str(prog)], input=c["stdin"], capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0 or p.stdout.split() != c["stdout"].split():
            sys.exit("bare python3 gave a wrong answer")
        per.append(time.monotonic() - t)
    return time.monotonic() - t0, statistics.mean(per)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    build = Path(a.build)
    cases = make_cases(a.cases)
    with tempfile.TemporaryDirectory(prefix="bench-io-") as tmp:
        prog = Path(tmp) / "prog.py"
        prog.write_text(PROGRAM)
        spec = Path(tmp) / "cases.json"
        spec.write_text(json.dumps({"io": cases}))
        runs = {"pool": [], "cold": [], "bare": []}
        for _ in range(a.repeat):  # interleaved, so that load hits all alike
            runs["pool"].append(run_eval(build, prog, spec, True))
            runs["cold"].append(run_eval(build, prog, spec, False))
            runs["bare"].append(run_bare(prog, cases))
    out = {"cases": a.cases, "repeat": a.repeat, "cpus": os.cpu_count()}
    for k, v in runs.items():
        out[k] = {"wall_s": statistics.median(w for w, _ in v),
                  "per_case_ms": 1000 * statistics.median(c for _, c in v)}
    out["pool_vs_bare_wall"] = out["pool"]["wall_s"] / out["bare"]["wall_s"]
    out["cold_vs_bare_wall"] = out["cold"]["wall_s"] / out["bare"]["wall_s"]
    if a.json:
        print(json.dumps(out, indent=1))
        return
    print("%d io cases of a small program, median of %d runs (%d CPUs)" %
          (a.cases, a.repeat, out["cpus"]))
    print("%-6s %10s %14s" % ("", "wall s", "per case ms"))
    for k in ("pool", "cold", "bare"):
        print("%-6s %10.2f %14.1f" % (k, out[k]["wall_s"], out[k]["per_case_ms"]))
    print("pool / bare (wall): %.2fx; cold / bare: %.2fx" %
          (out["pool_vs_bare_wall"], out["cold_vs_bare_wall"]))


if __name__ == "__main__":
    main()
