#!/usr/bin/env python3
"""bench/humaneval: the feedback loop beside single-shot, with the bundled model.

Runs the whole product on this machine: redis-server, llama.cpp's server with
the model from the model venv (or --url), the dispatcher and --workers
workers, all on private loopback ports in a temporary directory. Every job is
submitted with redis-cli and the figures come from what the jobs recorded in
Redis, in one run:

  1. generate-job latency: --latency N (default 10) `generate` jobs on the
     first N HumanEval prompts, one at a time, submit to final state as a
     client sees it, p50 and p95 against the seed's 5-second target, beside
     the model call alone (the client's latency of the same calls);
  2. pass@1 of the loop (the default strategy, auto) beside single-shot on
     the same problems: each problem is two `loop` jobs with the same token
     budget, a single-shot one (strategy repair, max_iterations 1, greedy)
     and a loop one (--strategy, --n, --max-iterations). Every pass is
     re-checked outside the product's judge: the reference program
     (HumanEval: code, test, check(entry_point); prose tasks: code and
     asserts) run by llmrepl-sandbox, exit status 0 or not;
  3. the loop's stop reasons, iterations and time per problem.

Problems: --tasks humaneval (HumanEval; --subset eighth, quarter or all, or
--limit N) or --tasks prose (bench/prose_tasks.py: twenty small tasks in
prose with tests). HumanEval's tests are kept from the model
(show_tests false: its prompt has the docstring's examples); the prose
tasks' tests are shown (--show-tests / --hide-tests to choose).

--model-servers N starts N llama.cpp servers, worker i asking server i % N,
with one thread each by default (on a busy 2-core machine a 64-token reply
took 1.3-2.9 s from a one-thread server and 1.6-13.5 s from a two-thread one,
whose threads spin on each other). --order stride takes every eighth problem first, so a run
stopped early has covered the whole set evenly; records are written as each
problem finishes and the figures so far printed every --report-every
problems; --resume with --out runs only the problems not yet in the file.

    python3 bench/humaneval.py [--tasks humaneval|prose] [--subset eighth] [--workers 1]
        [--model-servers 1] [--order stride] [--out FILE [--resume]]
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
    ap.add_argument("--tasks", choices=["humaneval", "prose"], default="humaneval")
    ap.add_argument("--subset", choices=["eighth", "quarter", "all"], default="quarter")
    ap.add_argument("--limit", type=int, default=0, help="the first N problems instead")
    ap.add_argument("--order", choices=["natural", "stride"], default="natural",
                    help="stride: every eighth problem first, then the next eighth, ..., so "
                         "that a run stopped early has covered the whole set evenly")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--model-servers", type=int, default=1,
                    help="model servers (one llama.cpp thread each unless --model-threads); "
                         "worker i asks server i %% N")
    ap.add_argument("--strategy", choices=["auto", "repair", "sample"], default="auto")
    ap.add_argument("--n", type=int, default=4, help="candidates per sample round")
    ap.add_argument("--max-iterations", type=int, default=4)
    ap.add_argument("--budget-tokens", type=int, default=12000,
                    help="the token budget of every job, single-shot and loop alike")
    ap.add_argument("--max-tokens", type=int, default=400)
    ap.add_argument("--latency-only", action="store_true",
                    help="only the generate-job latency (phase 1), no pass@1 runs")
    ap.add_argument("--latency", type=int, default=10, metavar="N",
                    help="generate jobs timed on the first N HumanEval prompts (0: none)")
    ap.add_argument("--show-tests", dest="show_tests", action="store_true", default=None)
    ap.add_argument("--hide-tests", dest="show_tests", action="store_false")
    ap.add_argument("--venv", default=str(ROOT / ".venv"))
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--url", default=None, help="use this model server instead")
    ap.add_argument("--model-threads", type=int, default=0,
                    help="llama.cpp threads per server (default: the cores left for the "
                         "workers, shared among the servers, at least 1)")
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--out", default=None, help="write every job's record here (JSON lines)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the records already in --out and run only the other problems")
    ap.add_argument("--report-every", type=int, default=10, metavar="K",
                    help="print the figures so far every K problems (0: only at the end)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.show_tests is None:
        args.show_tests = args.tasks == "prose"
    if args.model_threads <= 0:
        args.model_threads = max(1, ((os.cpu_count() or 2) - 1) // max(1, args.model_servers))

    with gzip.open(DATA / "HumanEval.jsonl.gz", "rt") as f:
        humaneval = [json.loads(line) for line in f]
    if args.tasks == "prose":
        sys.path.insert(0, str(ROOT / "bench"))
        from prose_tasks import problems as prose
        problems = prose()
    else:
        problems = humaneval
    if args.latency_only:
        problems = []
    elif args.limit:
        problems = problems[:args.limit]
    elif args.tasks == "humaneval" and args.subset != "all":
        problems = problems[::4 if args.subset == "quarter" else 8]
    if args.order == "stride":
        problems = [p for k in range(8) for p in problems[k::8]]

    # SIGTERM (a CI timeout) unwinds like ^C, so everything started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="llmrepl-bench-")
    stack = Stack(tmp)
    try:
        run(args, problems, humaneval[:args.latency], stack, Path(tmp))
    finally:
        stack.stop()
        if args.keep:
            print(f"(logs and data kept in {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def start_stack(args, stack, tmp):
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
    urls, model = [args.url] if args.url else [], args.model
    if not urls:
        py = str(Path(args.venv) / "bin" / "python")
        served = subprocess.run([py, str(ROOT / "deploy" / "model_path.py"), "--server-args",
                                 model], capture_output=True, text=True,
                                check=True).stdout.split()
        procs = []
        for k in range(max(1, args.model_servers)):
            mport = free_port()
            procs.append(stack.start(f"model{k}", [py, "-m", "llama_cpp.server", *served,
                                                   "--host", "127.0.0.1", "--port",
                                                   str(mport), "--n_ctx", "4096", "--n_threads",
                                                   str(args.model_threads),
                                                   "--verbose", "false"]))
            urls.append(f"http://127.0.0.1:{mport}/v1")
        for k, (u, mp) in enumerate(zip(urls, procs)):
            if not wait_http(u + "/models", mp, 180):
                sys.exit(f"the model server did not start; see {tmp}/model{k}.log")
    env = dict(os.environ)
    env.update({"LLMREPL_REDIS_URL": f"redis://127.0.0.1:{rport}", "LLMREPL_PREFIX": PREFIX,
                "LLMREPL_LLM_URL": urls[0], "LLMREPL_MODEL": model,
                "LLMREPL_LLM_MAX_TOKENS": str(args.max_tokens), "LLMREPL_LOG_LEVEL": "warn"})
    stack.start("dispatcher", [str(build / "llmrepl-dispatcher")], env)
    for i in range(args.workers):
        stack.start(f"worker{i}", [str(build / "llmrepl-worker"), "--name", f"bench{i}"],
                    dict(env, LLMREPL_LLM_URL=urls[i % len(urls)]))
    return rport, " ".join(urls), model


def submit(port, spec):
    return redis_cli(port, "XADD", PREFIX + "requests", "*", "spec", json.dumps(spec)).strip()


def latency_phase(port, problems):
    """Generate jobs one at a time: (client wall s, model call s, record) each."""
    out = []
    for p in problems:
        t0 = time.monotonic()
        jid = submit(port, {"kind": "generate", "prompt": p["prompt"], "tests": p["test"],
                            "entry_point": p["entry_point"], "show_tests": False})
        h = wait_final(port, jid, poll=0.01)
        wall = time.monotonic() - t0
        res = json.loads(h.get("result") or "{}").get("model") or {}
        out.append({"wall_s": wall, "model_s": (res.get("latency_ms") or 0) / 1000,
                    "tokens": res.get("completion_tokens"), "early_stop": res.get("early_stop"),
                    "stopped_at": res.get("stopped_at"), "ttft_s": (res.get("ttft_ms") or 0) / 1000,
                    "passed": h.get("passed") == "1", "code": bool(h.get("code"))})
    return out


def recheck(args, p, code):
    """The reference program, outside the product's judge: exit status 0?"""
    if not code:
        return False
    if args.tasks == "humaneval":
        program = f"{code}\n\n{p['test']}\n\ncheck({p['entry_point']})\n"
    else:
        program = f"{code}\n\n{p['test']}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(program)
    try:
        r = subprocess.run([str(Path(args.build) / "llmrepl-sandbox"), "--timeout", "10",
                            f.name], capture_output=True, timeout=60)
        return r.returncode == 0
    finally:
        os.unlink(f.name)


def run(args, problems, latency_problems, stack, tmp):
    rport, url, model = start_stack(args, stack, tmp)
    print(f"bench/humaneval: {len(problems)} {args.tasks} problems, model {model} at {url}, "
          f"{args.workers} worker(s); loop: strategy {args.strategy}, n {args.n}, "
          f"max_iterations {args.max_iterations}; budget {args.budget_tokens} tokens a job; "
          f"tests {'shown to' if args.show_tests else 'kept from'} the model\n", flush=True)
    lat = latency_phase(rport, latency_problems) if latency_problems else []
    if lat:
        report([], lat, 0, args)
    records = []
    if args.resume and args.out and Path(args.out).is_file():
        with open(args.out) as f:
            records = [json.loads(line) for line in f if line.strip()]
        done = {r["task"] for r in records}
        problems = [p for p in problems if p["task_id"] not in done]
        print(f"(resumed: {len(records)} problems already in {args.out}, {len(problems)} to go)",
              flush=True)
    t0 = time.time()
    jobs = []
    common = {"budget": {"tokens": args.budget_tokens}, "show_tests": args.show_tests}
    for p in problems:
        base = {"kind": "loop", "prompt": p["prompt"], "tests": p["test"],
                "entry_point": p["entry_point"], **common}
        single = submit(rport, {**base, "strategy": "repair", "max_iterations": 1,
                                "temperature": 0})
        spec = {**base, "strategy": args.strategy, "max_iterations": args.max_iterations}
        if args.strategy != "repair":
            spec["n"] = args.n
        jobs.append((p, single, submit(rport, spec)))
    out = open(args.out, "a" if args.resume else "w") if args.out else None
    for i, (p, sid, lid) in enumerate(jobs):
        rec = {"task": p["task_id"]}
        for name, jid in (("single", sid), ("loop", lid)):
            h = wait_final(rport, jid)
            its = [hgetall(rport, f"{PREFIX}job:{jid}:it:{n}")
                   for n in range(int(h.get("iterations", -1)) + 1)]
            rec[name] = {"id": jid, "state": h.get("state"), "passed": h.get("passed") == "1",
                         "stop_reason": h.get("stop_reason"), "iterations": len(its),
                         "wall_s": (int(h.get("finished", 0) or 0) -
                                    int(h.get("started", 0) or 0)) / 1000,
                         "tokens": int(h.get("tokens_total", 0) or 0),
                         "model_calls": sum(len(json.loads(it["candidates"]))
                                            if it.get("candidates") else 1 for it in its),
                         "t_model_s": sum(float(it.get("t_model_ms") or 0)
                                          for it in its) / 1000,
                         "recheck": recheck(args, p, h.get("code")),
                         "first_greedy": first_greedy(its)}
        records.append(rec)
        if out:
            out.write(json.dumps(rec) + "\n")
            out.flush()
        s, lp = rec["single"], rec["loop"]
        print(f"  {i + 1:3d}/{len(jobs)} {p['task_id']:<26} single-shot "
              f"{'pass' if s['passed'] else 'fail'}  loop {'pass' if lp['passed'] else 'fail'} "
              f"({lp['iterations']} it, {lp['model_calls']} calls, {lp['wall_s']:.1f} s, "
              f"{lp['stop_reason']})", flush=True)
        if args.report_every and (i + 1) % args.report_every == 0 and i + 1 < len(jobs):
            print(f"\n  -- so far, {len(records)} problems --", end="")
            report(records, [], time.time() - t0, args)
            print(flush=True)
    report(records, lat, time.time() - t0, args)


def first_greedy(its):
    """Did the job's first model answer pass? For strategy auto that is the
    first round's greedy candidate: single-shot inside the same job."""
    if not its:
        return False
    if its[0].get("candidates"):
        return bool(json.loads(its[0]["candidates"])[0]["passed"])
    return its[0].get("passed") == "1"


def wait_final(port, jid, timeout=3600, poll=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = hgetall(port, f"{PREFIX}job:{jid}")
        if h.get("state") in ("done", "cancelled", "rejected", "dead"):
            return h
        time.sleep(poll)
    raise RuntimeError(f"job {jid} not final after {timeout} s")


def report(records, lat, wall, args):
    n = len(records)
    if lat:
        ws = [x["wall_s"] for x in lat]
        ms = [x["model_s"] for x in lat]
        print(f"\ngenerate jobs, one at a time ({len(lat)} HumanEval prompts, load average "
              f"{os.getloadavg()[0]:.2f})   job, submit to done   model call alone   target")
        print(f"  p50                                         {pct(ws, 50):7.2f} s        "
              f"{pct(ms, 50):7.2f} s      {TARGET_S:.1f} s")
        print(f"  p95                                         {pct(ws, 95):7.2f} s        "
              f"{pct(ms, 95):7.2f} s      {TARGET_S:.1f} s")
        toks = [x["tokens"] or 0 for x in lat]
        ttft = [x["ttft_s"] for x in lat]
        print(f"  time to first token p50 / p95 {pct(ttft, 50):.2f} s / {pct(ttft, 95):.2f} s; "
              f"completion tokens mean {statistics.mean(toks):.0f}, max {max(toks)}")
        print(f"  {sum(x['stopped_at'] == 'fence' for x in lat)} of {len(lat)} stopped at the "
              f"end of their code block, {sum(x['stopped_at'] == 'usage' for x in lat)} where "
              f"their example usage began; {sum(x['code'] for x in lat)} with code, "
              f"{sum(x['passed'] for x in lat)} passed")
    if not n:
        return
    for name in ("single", "loop"):
        bad = [r["task"] for r in records if r[name]["passed"] != r[name]["recheck"]]
        if bad:
            print(f"  ({name}: the reference check disagrees on {', '.join(bad)})")
    ss = sum(r["single"]["passed"] for r in records)
    lp = sum(r["loop"]["passed"] for r in records)
    ssr = sum(r["single"]["recheck"] for r in records)
    lpr = sum(r["loop"]["recheck"] for r in records)
    stops = {}
    for r in records:
        k = r["loop"]["stop_reason"] or r["loop"]["state"]
        stops[k] = stops.get(k, 0) + 1
    print(f"\n{args.tasks} pass@1 ({n} problems)        single-shot      loop ({args.strategy}, "
          f"max_iterations {args.max_iterations}, n {args.n})")
    print(f"  passed                         {ss:4d} = {100 * ss / n:5.1f}%   "
          f"{lp:4d} = {100 * lp / n:5.1f}%")
    print(f"  passed, reference re-check     {ssr:4d}            {lpr:4d}")
    fg = sum(r["loop"]["first_greedy"] for r in records)
    print(f"  the loop's own greedy first answer passed: {fg} (single-shot inside the same job; "
          f"greedy output can differ between jobs when the server reuses a cached prompt)")
    print(f"  added by the loop              {sum(r['loop']['passed'] and not r['single']['passed'] for r in records):4d}"
          f"   lost by the loop {sum(r['single']['passed'] and not r['loop']['passed'] for r in records)}")
    print("  loop stop reasons              " +
          ", ".join(f"{k} {v}" for k, v in sorted(stops.items(), key=lambda kv: -kv[1])))
    for name, label in (("single", "single-shot"), ("loop", "loop")):
        w = [r[name]["wall_s"] for r in records]
        c = [r[name]["model_calls"] for r in records]
        t = [r[name]["tokens"] for r in records]
        print(f"  {label:<12} per problem: {statistics.mean(w):6.1f} s mean, p95 "
              f"{pct(w, 95):6.1f} s, {statistics.mean(c):4.1f} model calls, "
              f"{statistics.mean(t):6.0f} tokens")
    print(f"  bench wall clock               {wall:8.1f} s")


if __name__ == "__main__":
    main()
