#!/usr/bin/python3
"""bench/perf_roles.py - a batch's CPU by process role, from `perf record -a`.

bench/batch.py's CPU accounting reads the processes below a worker as one
lump ("sandbox"): most of them live a few milliseconds and are reaped inside
the sandbox. `perf record -a` samples every CPU; its task events (each fork
with its parent, each exec) give the tree, so each sample is put on the role
of its process by where the process sits below a worker:

  worker          the worker's own threads (llmrepl-worker)
  server          the pool's server (a child of the worker, exec'd python)
  factory         the candidate factory (exec'd by the server: an exec
                  perf saw, or a --factory command line when it began)
  candidate       a candidate's worker (a fork of the factory)
  spare/group     a fork of the server: a run's process (a group's parent)
  judge           a fork of a run's process: a warm judge, or a judge forked
                  per item
  redis, dispatcher

    perf record -a -F 2999 -o perf.data -- sleep 2   (while a batch runs)
    python3 bench/perf_roles.py perf.data WORKER_PID,... [REDIS_PID DISPATCHER_PID]
    (while the workers still run: their factories are read from /proc)

bench/batch.py --perf FILE does this around one batch job and prints it.
"""
import collections
import re
import subprocess
import sys

FORK = re.compile(r"PERF_RECORD_FORK\((\d+):(\d+)\):\((\d+):(\d+)\)")
COMM = re.compile(r"PERF_RECORD_COMM( exec)?: .*:(\d+)/(\d+)")


def read(path):
    """(parent of each process, the processes that exec'd, samples per pid)."""
    out = subprocess.run(["perf", "script", "-i", path, "--show-task-events", "-F", "pid,tid"],
                         capture_output=True, text=True, check=True).stdout
    parent, execd, samples = {}, set(), collections.Counter()
    for line in out.splitlines():
        if "PERF_RECORD_FORK" in line:
            p, t, pp, _ = map(int, FORK.search(line).groups())
            if p == t:
                parent.setdefault(p, pp)
        elif "PERF_RECORD_COMM" in line:
            m = COMM.search(line)
            if m and m.group(1) and m.group(2) == m.group(3):
                execd.add(int(m.group(2)))
        elif "PERF_RECORD" not in line:
            w = line.split()
            if w and "/" in w[0]:
                samples[int(w[0].split("/")[0])] += 1
            elif w and w[0].isdigit():
                samples[int(w[0])] += 1
    return parent, execd, samples


def factories_now():
    """The candidate factories running now (their command line says
    --factory): perf's task events give an exec only for processes that
    start while it records."""
    import os
    out = set()
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if b"--factory" in f.read().split(b"\0"):
                    out.add(int(d))
        except OSError:
            pass
    return out


def role(pid, parent, execd, workers, others):
    """The role of pid (see above), or None when it is not below a worker."""
    if pid in others:
        return others[pid]
    chain = [pid]
    while chain[-1] not in workers and chain[-1] in parent and len(chain) < 16:
        chain.append(parent[chain[-1]])
    if chain[-1] not in workers:
        return None
    below = list(reversed(chain[:-1]))  # from the worker's child down to pid
    if not below:
        return "worker"
    if len(below) == 1:
        return "server"
    if below[1] in execd:
        return "factory" if len(below) == 2 else "candidate"
    return "spare/group" if len(below) == 2 else "judge"


def roles(path, workers, others, factories=()):
    """Samples per role and the samples of the whole machine (factories:
    the factories' pids when perf began, factories_now)."""
    parent, execd, samples = read(path)
    execd |= set(factories)
    by = collections.Counter()
    for pid, n in samples.items():
        r = role(pid, parent, execd, workers, others)
        if r is not None:
            by[r] += n
    return by, sum(samples.values())


def report(path, workers, others, freq, items, factories=()):
    """Lines: each role's share of the batch's samples and its ms per item."""
    by, total = roles(path, set(workers), others, factories)
    ours = sum(by.values()) or 1
    lines = ["CPU by role (perf record -a, %d Hz; %d of the machine's %d samples are the "
             "batch's):" % (freq, ours, total)]
    for r, n in by.most_common():
        lines.append("  %-12s %5.1f %%  %6.2f ms per item" % (r, 100.0 * n / ours,
                                                          n * 1000.0 / freq / items))
    return lines


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ws = [int(x) for x in sys.argv[2].split(",")]
    oth = {}
    if len(sys.argv) > 4:
        oth = {int(sys.argv[3]): "redis", int(sys.argv[4]): "dispatcher"}
    by_role, machine = roles(sys.argv[1], set(ws), oth, factories_now())
    for name, count in by_role.most_common():
        print("%-12s %6d samples" % (name, count))
    print("machine      %6d samples" % machine)
