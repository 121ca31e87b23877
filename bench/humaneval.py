#!/usr/bin/env python3
"""bench/humaneval: the feedback loop on HumanEval with the bundled small model.

Runs the whole product on this machine: redis-server, llama.cpp's server with
the model from the model venv (or --url), the dispatcher and --workers
workers, all on private loopback ports in a temporary directory. Each problem
is one `loop` job submitted with redis-cli (max_iterations 4, the problem's
prompt, its check(candidate) tests and entry point, greedy decoding), and
the figures come from what the jobs recorded in Redis:

  1. pass@1 single-shot beside pass@1 after the loop, on the same problems in
     the same run. The single-shot figure is iteration 0 of each job: the
     loop's first round is exactly a single-shot generate (the same prompt,
     temperature 0). --check-single-shot N submits N extra max_iterations=1
     jobs and checks that they produce the same code as those iterations 0.
  2. the latency of one generate+evaluate iteration (model call, evaluation
     in the sandbox, git commit and the iteration's record), p50 and p95,
     against the seed's 5-second target, with the model call alone beside it;
  3. the share of the jobs' wall time spent outside the model (the loop's
     own work: evaluation, git, Redis, queueing) beside the model's share.

Problems: --subset quarter (the default: HumanEval/0, 4, 8, ..., 160, 41
problems, a fixed subset that takes ~10-20 minutes on 2 cores), or --subset
all (164 problems), or --limit N (the first N).

    python3 bench/humaneval.py [--subset all|quarter] [--workers 1] [--venv .venv]
"""
import argparse
import gzip
import json
import os
import shutil
import signal
import statistics
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("LLMREPL_DATASETS") or next(
    (p for p in (ROOT.parent / "shared" / "datasets", ROOT.parent.parent / "shared" / "datasets")
     if p.is_dir()), ROOT.parent / "shared" / "datasets"))
TARGET_S = 5.0
PREFIX = "llmrepl:"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class Stack:
    """Everything the bench starts, stopped in reverse order."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.procs = []

    def start(self, name, argv, env=None):
        log = open(self.tmp / f"{name}.log", "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        log.close()
        self.procs.append((name, p))
        return p

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def hgetall(port, key):
    import redis
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True).hgetall(key)


def wait_http(url, proc, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return True
        except OSError:
            time.sleep(0.3)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", choices=["quarter", "all"], default="quarter")
    ap.add_argument("--limit", type=int, default=0, help="the first N problems instead")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-iterations", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--strategy", choices=["repair", "sample"], default="repair",
                    help="the loop's strategy (sample: 4 candidates at 0.8, the best repaired)")
    ap.add_argument("--check-single-shot", type=int, default=3, metavar="N")
    ap.add_argument("--venv", default=str(ROOT / ".venv"))
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--url", default=None, help="use this model server instead")
    ap.add_argument("--model-threads", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                    help="llama.cpp threads (default: one core left for the workers)")
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--out", default=None, help="write every job's record here (JSON lines)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    with gzip.open(DATA / "HumanEval.jsonl.gz", "rt") as f:
        problems = [json.loads(line) for line in f]
    if args.limit:
        problems = problems[:args.limit]
    elif args.subset == "quarter":
        problems = problems[::4]

    # SIGTERM (a CI timeout) unwinds like ^C, so everything started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="llmrepl-bench-")
    stack = Stack(tmp)
    try:
        run(args, problems, stack, Path(tmp))
    finally:
        stack.stop()
        if args.keep:
            print(f"(logs and data kept in {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args, problems, stack, tmp):
    build = Path(args.build)
    rport = free_port()
    (tmp / "redis").mkdir()
    stack.start("redis", ["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                               "--dir", str(tmp / "redis"), "--save", "", "--appendonly", "no",
                               "--protected-mode", "yes"])
    for _ in range(200):
        try:
            if redis_cli(rport, "PING").strip() == "PONG":
                break
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.05)
    url, model = args.url, args.model
    if url is None:
        py = str(Path(args.venv) / "bin" / "python")
        served = subprocess.run([py, str(ROOT / "deploy" / "model_path.py"), "--server-args",
                                 model], capture_output=True, text=True,
                                check=True).stdout.split()
        mport = free_port()
        mp = stack.start("model", [py, "-m", "llama_cpp.server", *served,
                                   "--host", "127.0.0.1", "--port",
                                   str(mport), "--n_ctx", "4096", "--n_threads",
                                   str(args.model_threads),
                                   "--verbose", "false"])
        url = f"http://127.0.0.1:{mport}/v1"
        if not wait_http(url + "/models", mp, 180):
            sys.exit(f"the model server did not start; see {tmp}/model.log")
    env = dict(os.environ)
    env.update({"LLMREPL_REDIS_URL": f"redis://127.0.0.1:{rport}", "LLMREPL_PREFIX": PREFIX,
                "LLMREPL_LLM_URL": url, "LLMREPL_MODEL": model, "LLMREPL_LLM_STREAM": "false",
                "LLMREPL_LLM_MAX_TOKENS": str(args.max_tokens), "LLMREPL_LOG_LEVEL": "warn"})
    stack.start("dispatcher", [str(build / "llmrepl-dispatcher")], env)
    for i in range(args.workers):
        stack.start(f"worker{i}", [str(build / "llmrepl-worker"), "--name", f"bench{i}"], env)

    print(f"bench/humaneval: {len(problems)} problems, model {model} at {url}, "
          f"{args.workers} worker(s), max_iterations {args.max_iterations}, strategy "
          f"{args.strategy}, greedy\n")
    t0 = time.time()
    jobs = []
    for p in problems:
        spec = {"kind": "loop", "prompt": p["prompt"], "tests": p["test"],
                "entry_point": p["entry_point"], "max_iterations": args.max_iterations,
                "strategy": args.strategy}
        if args.strategy == "repair":
            spec["temperature"] = 0
        jid = redis_cli(rport, "XADD", PREFIX + "requests", "*", "spec", json.dumps(spec)).strip()
        jobs.append((p, jid))
    singles = []
    for p, _ in jobs[:args.check_single_shot if args.strategy == "repair" else 0]:
        spec = {"kind": "loop", "prompt": p["prompt"], "tests": p["test"],
                "entry_point": p["entry_point"], "max_iterations": 1, "temperature": 0}
        singles.append(redis_cli(rport, "XADD", PREFIX + "requests", "*", "spec",
                                 json.dumps(spec)).strip())

    records = []
    out = open(args.out, "w") if args.out else None
    for i, (p, jid) in enumerate(jobs):
        h = wait_final(rport, jid)
        its = [hgetall(rport, f"{PREFIX}job:{jid}:it:{n}")
               for n in range(int(h.get("iterations", -1)) + 1)]
        rec = {"task": p["task_id"], "id": jid, "state": h.get("state"),
               "passed": h.get("passed") == "1", "stop_reason": h.get("stop_reason"),
               "single_shot": bool(its) and its[0].get("passed") == "1",
               "wall_ms": int(h.get("finished", 0) or 0) - int(h.get("started", 0) or 0),
               "error": h.get("error"),
               "iterations": [{k: it.get(k) for k in ("phase", "passed", "t_model_ms",
                                                       "t_eval_ms", "t_commit_ms", "t_ms",
                                                       "tokens", "tokens_completion",
                                                       "finish_reason")} for it in its]}
        records.append(rec)
        if out:
            out.write(json.dumps(rec) + "\n")
        print(f"  {i + 1:3d}/{len(jobs)} {p['task_id']:<14} single-shot "
              f"{'pass' if rec['single_shot'] else 'fail'}  loop "
              f"{'pass' if rec['passed'] else 'fail'}  {len(its)} it  {rec['stop_reason']}",
              flush=True)
    same = []
    for (p, jid), sid in zip(jobs, singles):
        wait_final(rport, sid)
        a = hgetall(rport, f"{PREFIX}job:{jid}:it:0").get("code")
        b = hgetall(rport, f"{PREFIX}job:{sid}:it:0").get("code")
        same.append(a == b)
    wall = time.time() - t0
    report(records, same, wall, args)


def wait_final(port, jid, timeout=3600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = hgetall(port, f"{PREFIX}job:{jid}")
        if h.get("state") in ("done", "cancelled", "rejected", "dead"):
            return h
        time.sleep(0.2)
    raise RuntimeError(f"job {jid} not final after {timeout} s")


def report(records, same, wall, args):
    n = len(records)
    done = [r for r in records if r["state"] == "done"]
    ss = sum(r["single_shot"] for r in records)
    lp = sum(r["passed"] for r in records)
    its = [it for r in done for it in r["iterations"] if it.get("t_ms")]
    gen = [it for it in its if it["phase"] in ("generate", "repair")]
    it_s = [float(it["t_ms"]) / 1000 for it in gen]
    model_s = [float(it["t_model_ms"]) / 1000 for it in gen]
    other_s = [(float(it["t_ms"]) - float(it["t_model_ms"])) / 1000 for it in gen]
    job_wall = sum(r["wall_ms"] for r in done) / 1000
    model_total = sum(float(it["t_model_ms"]) for r in done for it in r["iterations"]
                      if it.get("t_model_ms")) / 1000
    stops = {}
    for r in records:
        stops[r["stop_reason"] or r["state"]] = stops.get(r["stop_reason"] or r["state"], 0) + 1

    base = "single-shot" if args.strategy == "repair" else "first round (best of 4)"
    print(f"\nHumanEval pass@1 ({n} problems)       loop (max_iterations "
          f"{args.max_iterations})   baseline: {base}")
    print(f"  passed                          {lp:4d}/{n} = {100 * lp / n:5.1f}%   "
          f"{ss:4d}/{n} = {100 * ss / n:5.1f}%")
    print(f"  repaired by the loop            {sum(r['passed'] and not r['single_shot'] for r in records):4d}")
    print("  stop reasons                    " +
          ", ".join(f"{k} {v}" for k, v in sorted(stops.items(), key=lambda kv: -kv[1])))
    if same:
        print(f"  single-shot = iteration 0       {sum(same)}/{len(same)} separate "
              "max_iterations=1 jobs gave the same code")
    print(f"\none generate+evaluate iteration ({len(gen)} iterations)   measured   "
          f"baseline: model call alone   target")
    print(f"  p50                             {pct(it_s, 50):7.2f} s    {pct(model_s, 50):7.2f} s"
          f"                  {TARGET_S:5.2f} s")
    print(f"  p95                             {pct(it_s, 95):7.2f} s    {pct(model_s, 95):7.2f} s"
          f"                  {TARGET_S:5.2f} s")
    print(f"  outside the model, p50/p95      {pct(other_s, 50) * 1000:7.1f} / "
          f"{pct(other_s, 95) * 1000:.1f} ms (evaluation, commit, records)")
    comp = [int(it["tokens_completion"] or 0) for it in gen]
    if gen and sum(model_s) > 0:
        cut = sum(it.get("finish_reason") == "length" for it in gen)
        print(f"  the model's replies             {statistics.mean(comp):7.0f} tokens on average, "
              f"{sum(comp) / sum(model_s):.1f} tokens/s, {cut} of {len(gen)} cut at "
              f"{args.max_tokens} tokens")
    print(f"\nwall time of the {len(done)} jobs                {job_wall:8.1f} s")
    if job_wall > 0:
        print(f"  in the model                    {model_total:8.1f} s = "
              f"{100 * model_total / job_wall:5.1f}%")
        print(f"  outside the model               {job_wall - model_total:8.1f} s = "
              f"{100 * (job_wall - model_total) / job_wall:5.1f}%")
    print(f"  bench wall clock                {wall:8.1f} s")


if __name__ == "__main__":
    main()
