#!/usr/bin/env python3
"""bench/scale: what one job costs Redis, by kind, and how far one Redis
primary carries the system.

Starts redis-server (no persistence), the scripted model server
(tests/fixtures/fake_llm.py), a dispatcher and workers on private loopback
ports, then:

  1. per kind (evaluate, generate, loop with two iterations), N jobs through
     2 workers: Redis commands per job (INFO commandstats, commands run
     inside scripts included; scripts counted apart), Redis CPU per job
     (INFO cpu, main thread, user+sys), and bytes per finished job (as
     measured by the scripts that finish jobs, and used_memory growth);
  2. evaluate jobs/s with 1, 2, 4 and 8 workers on this machine, and Redis
     CPU per job at each;
  3. from them: the ceiling of one Redis primary (1 / CPU seconds per job)
     and how many worker cores it can feed at the measured jobs/s per core.

    python3 bench/scale.py [--build build] [--quick] [--kinds-only]
                           [--stream-node-max-bytes N] [--redis-config NAME=VALUE ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from benchlib import free_port, redis_server, stop_all

ROOT = Path(__file__).resolve().parent.parent
FINAL = {"done", "cancelled", "rejected", "dead"}


class Stack:
    def __init__(self, build, tmp, redis_args=()):
        self.build = Path(build)
        self.tmp = Path(tmp)
        self.port = free_port()
        self.procs = []
        self.redis = redis_server(self.port, self.tmp, "--loglevel", "warning", *redis_args)
        self.r = redis.Redis(port=self.port, decode_responses=True)
        fake = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/fixtures/fake_llm.py"), "--script", "ok",
             "--model", "fake", "--log", str(self.tmp / "fake.log")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.fake = fake
        self.llm_url = f"http://127.0.0.1:{int(fake.stdout.readline().split()[1])}/v1"

    def env(self, prefix):
        e = dict(os.environ)
        e.update(LLMREPL_REDIS_URL=f"redis://127.0.0.1:{self.port}", LLMREPL_PREFIX=prefix,
                 LLMREPL_LLM_URL=self.llm_url, LLMREPL_MODEL="fake", LLMREPL_LOG_LEVEL="warn")
        return e

    def start(self, what, prefix, n=1):
        out = []
        for i in range(n):
            log = open(self.tmp / f"{what}-{prefix.strip(':')}-{i}.log", "ab")
            p = subprocess.Popen([str(self.build / f"llmrepl-{what}"), "--name",
                                  f"{what}-{prefix}{i}"], env=self.env(prefix), stdout=log,
                                 stderr=log)
            out.append(p)
        self.procs += out
        return out

    def stop(self, procs):
        stop_all(procs)

    def close(self):
        self.stop(self.procs)
        self.fake.terminate()
        self.redis.terminate()
        self.redis.wait()

    def redis_cpu(self):
        c = self.r.info("cpu")
        return c["used_cpu_user_main_thread"] + c["used_cpu_sys_main_thread"]

    def commands(self):
        """(all calls, script calls, calls by command)."""
        st = self.r.info("commandstats")
        by = {k.replace("cmdstat_", ""): v["calls"] for k, v in st.items()}
        scripts = sum(v for k, v in by.items() if k in ("evalsha", "eval"))
        return sum(by.values()), scripts, by


def spec(kind, i):
    if kind == "evaluate":
        return {"kind": "evaluate", "code": f"v = {i}\nassert v == {i}\n", "static_checks": False}
    if kind == "generate":
        return {"kind": "generate", "prompt": f"Write f(x) returning x + {i}.",
                "tests": f"assert f(1) == {i + 1}", "entry_point": "f", "static_checks": False}
    return {"kind": "loop", "prompt": f"Write f(x) returning x + {i}.",
            "tests": f"assert f(1) == {i + 1}", "entry_point": "f", "static_checks": False,
            "max_iterations": 2, "strategy": "repair"}


def finals(r, prefix):
    s = r.hgetall(prefix + "stats")
    return sum(int(s.get(f"total:{x}", 0)) for x in FINAL)


def run_jobs(st, prefix, kind, n):
    r = st.r
    base = finals(r, prefix)
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(prefix + "requests", {"spec": json.dumps(spec(kind, i))})
    ids = pipe.execute()
    t0 = time.time()
    while True:
        fin = finals(r, prefix) - base
        if fin >= n:
            break
        if time.time() - t0 > 1800:
            raise RuntimeError(f"{kind}: only {fin} of {n} final")
        time.sleep(0.05)
    return ids, time.time() - t0


def measure_kind(st, kind, n, workers=2):
    prefix = f"k{kind}:"
    procs = st.start("dispatcher", prefix) + st.start("worker", prefix, workers)
    # Warm up (scripts loaded, pools started), then measure from a clean slate.
    run_jobs(st, prefix, kind, 3)
    st.r.config_resetstat()
    mem0 = st.r.info("memory")["used_memory"]
    cpu0 = st.redis_cpu()
    ids, secs = run_jobs(st, prefix, kind, n)
    cpu = st.redis_cpu() - cpu0
    calls, scripts, by = st.commands()
    mem = st.r.info("memory")["used_memory"] - mem0
    stats = st.r.hgetall(prefix + "stats")
    fin_bytes = [int(m.split()[1]) for m in st.r.zrange(prefix + "finished", 0, -1)
                 if m.split()[0] in set(ids)]
    st.stop(procs)
    st.procs = [p for p in st.procs if p not in procs]
    blocking = by.get("xreadgroup", 0)
    return {
        "kind": kind, "jobs": n, "seconds": secs, "jobs_per_s": n / secs,
        "done": int(stats.get(f"total:done:{kind}", 0)) - 3,
        "commands_per_job": calls / n, "scripts_per_job": scripts / n,
        "blocking_reads_per_job": blocking / n,
        "redis_cpu_ms_per_job": 1000 * cpu / n,
        "bytes_per_job_measured": sum(fin_bytes) / max(1, len(fin_bytes)),
        "bytes_per_job_used_memory": mem / n,
        "top_commands": sorted(by.items(), key=lambda x: -x[1])[:8],
    }


def measure_workers(st, workers, n):
    prefix = f"w{workers}:"
    procs = st.start("dispatcher", prefix) + st.start("worker", prefix, workers)
    run_jobs(st, prefix, "evaluate", 2 * workers)
    st.r.config_resetstat()
    cpu0 = st.redis_cpu()
    _, secs = run_jobs(st, prefix, "evaluate", n)
    cpu = st.redis_cpu() - cpu0
    st.stop(procs)
    st.procs = [p for p in st.procs if p not in procs]
    return {"workers": workers, "jobs": n, "jobs_per_s": n / secs,
            "redis_cpu_ms_per_job": 1000 * cpu / n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--quick", action="store_true", help="fewer jobs (a smoke run)")
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("--stream-node-max-bytes", type=int,
                    help="Redis' stream-node-max-bytes (default 4096): what an events "
                         "stream preallocates")
    ap.add_argument("--kinds-only", action="store_true", help="skip the workers sweep")
    ap.add_argument("--redis-config", action="append", default=[], metavar="NAME=VALUE",
                    help="another redis-server setting, e.g. hash-max-listpack-value=1024")
    a = ap.parse_args()
    q = a.quick
    with tempfile.TemporaryDirectory() as tmp:
        extra = ()
        if a.stream_node_max_bytes:
            extra = ("--stream-node-max-bytes", str(a.stream_node_max_bytes))
        for kv in a.redis_config:
            name, _, value = kv.partition("=")
            extra += ("--" + name, value)
        st = Stack(a.build, tmp, extra)
        try:
            kinds = [measure_kind(st, "evaluate", 100 if q else 1000),
                     measure_kind(st, "generate", 30 if q else 200),
                     measure_kind(st, "loop", 10 if q else 60)]
            scale = [] if a.kinds_only else [measure_workers(st, w, 100 if q else 600)
                                             for w in (1, 2, 4, 8)]
        finally:
            st.close()
    cores = os.cpu_count()
    print(f"# bench/scale on {cores} cores")
    print("| kind | jobs | done | Redis commands/job (scripts) | Redis CPU ms/job "
          "| bytes/finished job (measured; used_memory) |")
    print("|---|---|---|---|---|---|")
    for k in kinds:
        print(f"| {k['kind']} | {k['jobs']} | {k['done']} | {k['commands_per_job']:.1f} "
              f"({k['scripts_per_job']:.1f}) | {k['redis_cpu_ms_per_job']:.3f} | "
              f"{k['bytes_per_job_measured']:.0f}; {k['bytes_per_job_used_memory']:.0f} |")
    print()
    print("| workers | evaluate jobs/s | Redis CPU ms/job |")
    print("|---|---|---|")
    for s in scale:
        print(f"| {s['workers']} | {s['jobs_per_s']:.1f} | {s['redis_cpu_ms_per_job']:.3f} |")
    cpu_ms = kinds[0]["redis_cpu_ms_per_job"]
    ceiling = 1000.0 / cpu_ms
    print()
    if scale:
        per_core = max(s["jobs_per_s"] for s in scale) / cores
        print(f"Redis ceiling (evaluate): {ceiling:.0f} jobs/s at {cpu_ms:.3f} ms of Redis CPU "
              f"per job; at {per_core:.1f} jobs/s per worker core here, that feeds about "
              f"{ceiling / per_core:.0f} worker cores.")
    for k in kinds:
        print(f"  {k['kind']}: top commands {k['top_commands']}")
    if a.json:
        Path(a.json).write_text(json.dumps({"kinds": kinds, "workers": scale, "cores": cores},
                                           indent=2))


if __name__ == "__main__":
    main()
