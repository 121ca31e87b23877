"""A run whose process cannot join the run's cgroups never runs the code and
never gets a verdict: the sandbox's failure, with the step and the errno in
the record. Provoked deterministically, as root with cgroups: the pool's run
cgroup removed under a waiting spare, and a worker at real-time priority
(whose runs the cpu controller refuses: a child cgroup has no real-time
budget)."""
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import binary

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from jobsys import Proc, System  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.isdir("/sys/fs/cgroup"),
                                reason="needs root and cgroups")

HONEST = "def add(a, b):\n    return a + b\n"
FORGE = """
import os
def add(a, b):
    for fd in range(3, 64):
        try:
            os.write(fd, b'{"harness": 1, "status": "ok", "tests_total": 1, "tests_passed": 1}')
        except OSError:
            pass
    os._exit(0)
"""


def job(code):
    return {"kind": "evaluate", "code": code, "tests": ["assert add(1, 2) == 3"],
            "static_checks": False, "limits": {"timeout_s": 10, "memory_mb": 128}}


def pids_root():
    """Where the pids controller is mounted (v1 or v2)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _src, opts = (post.split() + ["", ""])[:3]
            if fstype == "cgroup" and "pids" in opts.split(","):
                return pre.split()[4]
            if fstype == "cgroup2":
                v2 = pre.split()[4]
    return locals().get("v2")


def descends(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def procs(path):
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(w) for w in f.read().split()]
    except OSError:
        return []


def ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def pool_run_cgroups(root, worker_pid):
    """The run cgroups of the worker's pool (its server is in srv): run, and
    run1 where runs alternate between two lanes; and the server's pid."""
    for name in os.listdir(root):
        top = os.path.join(root, name)
        srv = procs(os.path.join(top, "srv"))
        if name.startswith("llmrepl-sbx-") and any(descends(p, worker_pid) for p in srv):
            server = next((p for p in srv if ppid(p) not in srv), None)
            return [os.path.join(top, lane) for lane in ("run", "run1")
                    if os.path.isdir(os.path.join(top, lane))], server
    return [], None


@pytest.fixture
def system(redis_server, tmp_path):
    s = System(redis_server, tmp_path)
    s.dispatcher(**{"max-attempts": 2})
    yield s
    s.stop_all()


def test_a_removed_run_cgroup_makes_a_fresh_server_not_a_verdict(system):
    root = pids_root()
    if root is None:
        pytest.skip("no pids controller")
    w = system.worker(pool="true")
    h = system.wait(system.submit(job(HONEST)), timeout=60)
    assert h["state"] == "done" and h["passed"] == "1", h
    runs, server = pool_run_cgroups(root, w.pid)
    if not runs:
        pytest.skip("the pool runs without cgroups here")
    # The spares waiting in the run cgroups (and the candidate's worker
    # forked ahead, which its factory replaces) go, and so do the cgroups:
    # the server forks the next spare, whose join now fails (ENODEV).
    deadline = time.monotonic() + 10
    spares = set()
    for run in runs:
        while True:
            for pid in procs(run):
                if ppid(pid) == server:
                    spares.add(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.rmdir(run)
                break
            except OSError:
                assert time.monotonic() < deadline, procs(run)
                time.sleep(0.01)
    # Until the server has reaped its spares (and so reported their end):
    # else the run may go to a spare already dead, which costs a fresh
    # server with fresh cgroups instead of the failed join looked for here.
    while any(os.path.exists("/proc/%d" % pid) for pid in spares):
        assert time.monotonic() < deadline, spares
        time.sleep(0.01)
    jid = system.submit(job(FORGE))
    h = system.wait(jid, timeout=60)
    # The spare gave up before it read the request; the run went to a fresh
    # server with fresh cgroups, where the code ran (and failed) as usual.
    assert h["state"] == "done" and h["passed"] == "0", (h, w.log()[-3000:])
    r = json.loads(h["result"])
    assert "could not join the run's pids cgroup (ENODEV)" in r["run"]["detail"], r["run"]
    assert r["integrity"] == "split" and r["tests_passed"] == 0, r
    h = system.wait(system.submit(job(HONEST)), timeout=60)
    assert h["state"] == "done" and h["passed"] == "1", h


@pytest.mark.skipif(shutil.which("chrt") is None, reason="no chrt")
def test_an_unjoinable_cold_run_is_retried_and_never_judged(system):
    # Under SCHED_FIFO every join of a child cpu cgroup fails (EINVAL: no
    # real-time budget there): each attempt fails before the code runs.
    system.count += 1
    argv = ["chrt", "-f", "1", binary("llmrepl-worker"), "--name", "rt%d" % system.count]
    w = Proc("rt%d" % system.count, argv, system.env(pool="false"), system.dir)
    system.procs.append(w)
    jid = system.submit(job(FORGE))
    h = system.wait(jid, timeout=60)
    assert h["state"] == "dead", h
    assert h["attempt"] == "2", h
    assert "passed" not in h or h["passed"] == "", h
    assert "result" not in h or not h["result"], h
    log = w.log()
    assert "join the cgroup: Invalid argument" in log, log[-2000:]
