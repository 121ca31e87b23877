#!/usr/bin/env python3
"""bench/llm: the model client with the bundled small model (SmolLM2-135M).

Starts llama.cpp's server (from the model venv) on a private loopback port,
or uses --url, and prints, each beside a baseline measured in the same run:

  1. time to first token and tokens per second, streamed through the client,
     beside curl's time for a 1-token reply and its decode rate for the same
     prompt (non-streamed: curl cannot time the first SSE content event);
  2. the client's own overhead per call: the same non-streamed request made
     by the client (wall time of llm_chat in-process) and by curl
     (time_total), interleaved; plus the client's self-measured CPU-side
     work (JSON building and parsing);
  3. latency p50/p95 on ten HumanEval prompts against the 5-second target:
     prompt -> code in one process (the baseline), and generate jobs through
     Redis, a dispatcher and a worker, submit to done (evaluation included).

    python3 bench/llm.py [--url URL --model NAME] [--venv .venv] [--build build]
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchlib import free_port, redis_server, stop_all

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("LLMREPL_DATASETS", ROOT.parent / "shared" / "datasets"))
TARGET_S = 5.0


def start_server(venv, model, threads):
    py = str(Path(venv) / "bin" / "python")
    serve = subprocess.run([py, str(ROOT / "deploy" / "model_path.py"), "--server-args", model],
                           capture_output=True, text=True, check=True).stdout.split()
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([py, "-m", "llama_cpp.server", *serve, "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads),
                             "--verbose", "false"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/models", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("bench/llm: the model server did not start")


def driver(build, url, model, *args, prompt, timeout=1800):
    cmd = [str(Path(build) / "tests" / "drivers" / "llm_call"), "--llm-url", url, "--model",
           model, *args, "-"]
    out = subprocess.run(cmd, input=prompt, capture_output=True, text=True, timeout=timeout)
    res = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    bad = [r for r in res if not r["ok"]]
    if not res or bad:
        raise SystemExit(f"bench/llm: call failed: {bad[:1] or out.stderr[-300:]}")
    return res


def curl(url, body):
    """The same request with curl; returns (time_total ms, completion tokens)."""
    cmd = ["curl", "-s", "-w", "\n%{time_total}", "-H", "Content-Type: application/json",
           "--data-binary", "@-", url + "/chat/completions"]
    out = subprocess.run(cmd, input=json.dumps(body), capture_output=True, text=True,
                         check=True, timeout=300)
    reply, total = out.stdout.rsplit("\n", 1)
    return float(total) * 1e3, json.loads(reply)["usage"]["completion_tokens"]


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--venv", default=str(ROOT / ".venv"))
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                    help="the server's threads (default: one core left for the rest)")
    args = ap.parse_args()

    proc = None
    url = args.url
    if not url:
        proc, url = start_server(args.venv, args.model, args.threads)
    try:
        run(args, url)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=15)


def run(args, url):
    m, b, n = args.model, args.build, args.runs
    story = "Write a Python function that returns the n-th Fibonacci number."
    driver(b, url, m, "--llm-max-tokens", "8", prompt="hi")  # warm up
    print(f"bench/llm: model {m} at {url}, {n} runs each, greedy, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start\n")

    # 1. time to first token and tokens per second (streamed). Baseline:
    # curl, non-streamed, for 1 token (prompt processing + first token) and
    # for the same 96 tokens (decode rate from the difference).
    rs = driver(b, url, m, "--llm-stream", "--llm-max-tokens", "96", "--seed", "1",
                "--repeat", str(n), prompt=story)
    ttft = [r["ttft_ms"] for r in rs]
    rate = [(r["completion_tokens"] - 1) / ((r["latency_ms"] - r["ttft_ms"]) / 1e3)
            for r in rs if r["completion_tokens"] > 1 and r["latency_ms"] > r["ttft_ms"]]
    body = {"model": m, "messages": [{"role": "user", "content": story}], "temperature": 0,
            "seed": 1}
    c_one, c_rate = [], []
    for _ in range(n):
        t1, _ = curl(url, dict(body, max_tokens=1))
        tn, k = curl(url, dict(body, max_tokens=96))
        c_one.append(t1)
        if k > 1 and tn > t1:
            c_rate.append((k - 1) / ((tn - t1) / 1e3))
    print("streaming, 96 tokens max            client (SSE)      baseline: curl, no stream")
    print(f"  time to first token p50         {statistics.median(ttft):8.1f} ms   "
          f"{statistics.median(c_one):8.1f} ms (whole 1-token reply)")
    print(f"  decode rate p50                 {statistics.median(rate):8.1f} tok/s"
          f"{statistics.median(c_rate):8.1f} tok/s")
    print(f"  tokens per call (mean)          "
          f"{statistics.mean(r['completion_tokens'] for r in rs):8.1f}\n")

    # 2. the client's own overhead per call, interleaved with curl
    short = "Reply with the word yes."
    body = {"model": m, "messages": [{"role": "user", "content": short}], "temperature": 0,
            "max_tokens": 4, "seed": 1}
    cl, cu, own = [], [], []
    for _ in range(n):
        r = driver(b, url, m, "--no-llm-stream", "--llm-max-tokens", "4", "--seed", "1",
                   prompt=short)[0]
        cl.append(r["elapsed_ms"])
        own.append(r["overhead_ms"])
        cu.append(curl(url, body)[0])
    d = statistics.median(cl) - statistics.median(cu)
    print("one non-streamed call (4 tokens)     client            baseline: curl")
    print(f"  wall time p50                   {statistics.median(cl):8.2f} ms   "
          f"{statistics.median(cu):8.2f} ms")
    print(f"  client overhead (p50 difference) {d:7.2f} ms")
    print(f"  client JSON build+parse p50     {statistics.median(own):8.3f} ms\n")

    # 3. prompt -> code on ten HumanEval prompts: the direct path (prompt,
    # call, extraction in one process) as the baseline, then the same ten as
    # generate jobs through Redis (submit to done, evaluation included).
    with gzip.open(DATA / "HumanEval.jsonl.gz", "rt") as f:
        problems = [json.loads(line) for line in f][:10]
    direct, code = [], 0
    for p in problems:
        t0 = time.monotonic()
        r = driver(b, url, m, "--mode", "generate", "--entry-point", p["entry_point"],
                   "--llm-stream", "--llm-max-tokens", "512", prompt=p["prompt"])[0]
        direct.append(time.monotonic() - t0)
        code += bool((r.get("extract") or {}).get("code"))
    jobs, model_s, passed = run_jobs(b, url, m, problems)
    print("HumanEval/0-9                       p50        p95       target")
    print(f"  prompt -> code, direct        {pct(direct, 50):8.2f} s {pct(direct, 95):8.2f} s "
          f"{TARGET_S:8.2f} s   ({code}/10 replies with code)")
    if jobs:
        print(f"  generate job, submit -> done  {pct(jobs, 50):8.2f} s {pct(jobs, 95):8.2f} s "
              f"{TARGET_S:8.2f} s   ({passed}/10 passed their tests)")
        print(f"    of which the model call     {pct(model_s, 50):8.2f} s "
              f"{pct(model_s, 95):8.2f} s")
    print(f"\n(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores during the run)")


def run_jobs(build, url, model, problems):
    """Ten generate jobs through a private redis-server, one dispatcher and
    one worker; returns (submit->done seconds, model-call seconds, passed)."""
    import redis
    b = Path(build)
    tmp = tempfile.mkdtemp(prefix="bench-llm-")
    port = free_port()
    procs = [redis_server(port, tmp)]
    env = dict(os.environ, LLMREPL_REDIS_URL=f"redis://127.0.0.1:{port}", LLMREPL_LLM_URL=url,
               LLMREPL_MODEL=model, LLMREPL_LOG_LEVEL="warn")
    lat, model_s, passed = [], [], 0
    try:
        r = redis.Redis(port=port, decode_responses=True)
        log = open(Path(tmp) / "procs.log", "w")
        for name in ("llmrepl-dispatcher", "llmrepl-worker"):
            procs.append(subprocess.Popen([str(b / name)], env=env, stdout=log, stderr=log))
        for p in problems:
            spec = {"kind": "generate", "prompt": p["prompt"], "entry_point": p["entry_point"],
                    "tests": p["test"], "model": {"name": model, "max_tokens": 512}}
            t0 = time.monotonic()
            jid = r.xadd("llmrepl:requests", {"spec": json.dumps(spec)})
            while True:
                h = r.hgetall(f"llmrepl:job:{jid}")
                if h.get("state") in ("done", "dead", "rejected", "cancelled"):
                    break
                if time.monotonic() - t0 > 600:
                    raise SystemExit(f"bench/llm: job {jid} not done after 600 s: {h}")
                time.sleep(0.005)
            lat.append(time.monotonic() - t0)
            if h["state"] != "done":
                raise SystemExit(f"bench/llm: job {jid} ended {h['state']}: {h.get('error')}")
            passed += h.get("passed") == "1"
            model_s.append(json.loads(h["result"])["model"]["latency_ms"] / 1e3)
    finally:
        stop_all(procs)
        subprocess.run(["rm", "-rf", tmp])
    return lat, model_s, passed


if __name__ == "__main__":
    sys.exit(main())
