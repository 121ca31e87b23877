#!/usr/bin/env python3
"""bench/http_api: what the HTTP API adds to a job, beside the same job through
Redis, in the same run.

Starts redis-server, a dispatcher serving HTTP and workers on private
loopback ports, then measures an `evaluate` job of a trivial program
(`print(1)`, static checks off) submitted and waited for in two ways:

  redis  XADD llmrepl:requests, XREAD BLOCK on the job's events until the
         final event, HGETALL the job (what a redis-cli user does);
  http   POST /evaluate on a kept-alive connection (the server submits the
         same XADD, waits on the same events and answers from the job hash).

  1. latency: the two alternated, job by job; p50/p95 of each and the p50 of
     the paired differences (http - redis), the overhead of the HTTP path;
  2. throughput: 16 clients at once for a fixed time, each path in turn;
     jobs per second.

    python3 bench/http_api.py [--build build] [--pairs 300] [--clients 16]
                          [--seconds 10] [--workers 2]
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

from benchlib import free_port, redis_server, stop_all

ROOT = Path(__file__).resolve().parent.parent
SPEC = {"kind": "evaluate", "code": "print(1)\n", "static_checks": False}
FINAL = {"done", "cancelled", "rejected", "dead"}


def wait_port(port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


class RedisPath:
    def __init__(self, port):
        self.r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)

    def run(self):
        jid = self.r.xadd("llmrepl:requests", {"spec": json.dumps(SPEC)})
        last = "0-0"
        while True:
            got = self.r.xread({f"llmrepl:job:{jid}:events": last}, count=100, block=5000)
            done = False
            for _, entries in got:
                for eid, f in entries:
                    last = eid
                    done = done or f.get("type") in FINAL
            if done:
                break
        h = self.r.hgetall(f"llmrepl:job:{jid}")
        assert h["state"] == "done" and json.loads(h["result"])["stdout"] == "1\n", h


class HttpPath:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.body = json.dumps({k: v for k, v in SPEC.items() if k != "kind"})

    def run(self):
        self.c.request("POST", "/evaluate", self.body, {"Content-Type": "application/json"})
        r = self.c.getresponse()
        out = json.loads(r.read())
        assert r.status == 200 and out["output"] == "1\n", out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def latency(rport, hport, pairs):
    rp, hp = RedisPath(rport), HttpPath(hport)
    for _ in range(20):  # warm up both paths (pool connections, pre-forked sandbox)
        rp.run()
        hp.run()
    tr, th, diff = [], [], []
    for i in range(pairs):
        order = (rp, hp) if i % 2 == 0 else (hp, rp)
        t = {}
        for p in order:
            t0 = time.perf_counter()
            p.run()
            t[p] = (time.perf_counter() - t0) * 1000
        tr.append(t[rp])
        th.append(t[hp])
        diff.append(t[hp] - t[rp])
    return tr, th, diff


def throughput(make, clients, seconds):
    count = [0] * clients
    errors = []
    stop = time.time() + seconds

    def loop(i):
        p = make()
        try:
            while time.time() < stop:
                p.run()
                count[i] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        sys.exit(f"errors: {errors[:3]}")
    return sum(count) / (time.time() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--pairs", type=int, default=300)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    build = Path(a.build)
    tmp = tempfile.mkdtemp(prefix="bench-http-")
    rport, hport = free_port(), free_port()
    procs = [redis_server(rport, tmp)]
    try:
        env = dict(os.environ, LLMREPL_REDIS_URL=f"redis://127.0.0.1:{rport}",
                   LLMREPL_LOG_LEVEL="warn")
        log = open(Path(tmp) / "procs.log", "ab")
        procs.append(subprocess.Popen([str(build / "llmrepl-dispatcher"), "--http-listen",
                                       f"127.0.0.1:{hport}", "--http-max-conns", "64"],
                                      env=env, stdout=log, stderr=log))
        for i in range(a.workers):
            procs.append(subprocess.Popen([str(build / "llmrepl-worker"), "--name", f"w{i}"],
                                          env=env, stdout=log, stderr=log))
        wait_port(hport)
        print(f"bench/http_api: evaluate print(1), {a.workers} workers, one dispatcher; "
              f"{os.cpu_count()} cores")
        tr, th, diff = latency(rport, hport, a.pairs)
        print(f"latency, {a.pairs} alternated pairs (ms):")
        print(f"  redis (XADD + XREAD events + HGETALL)  p50 {pct(tr, 50):6.2f}  "
              f"p95 {pct(tr, 95):6.2f}")
        print(f"  http  (POST /evaluate, kept alive)     p50 {pct(th, 50):6.2f}  "
              f"p95 {pct(th, 95):6.2f}")
        print(f"  http - redis, paired                   p50 {statistics.median(diff):+6.2f}  "
              f"mean {statistics.mean(diff):+6.2f}")
        jr = throughput(lambda: RedisPath(rport), a.clients, a.seconds)
        jh = throughput(lambda: HttpPath(hport), a.clients, a.seconds)
        print(f"throughput, {a.clients} clients for {a.seconds:g} s each (jobs/s):")
        print(f"  redis {jr:6.1f}   http {jh:6.1f}   ({(jh / jr - 1) * 100:+.1f} %)")
    finally:
        stop_all(procs)


if __name__ == "__main__":
    main()
