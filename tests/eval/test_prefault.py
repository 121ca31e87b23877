"""A pool's spare takes its judge's page copies ahead (llmrepl_prefault), and
the candidate's next worker rehearses a canned load and call: neither leaves
anything a request can see, and neither reaches the candidate factory. The
factory's own preparations: its allocator's free blocks filled, and the run
delay its spares' rehearsal is gated on."""
import json
import os
import subprocess

import pytest

from conftest import binary
from evalkit import PY_DIR, PYTHON

# The judge's own process, as the tests (which run in it) see it: no trace of
# the canned rehearsal (its module, its function, the in-memory worker loop).
JUDGE_PROBE = '''
import gc, sys
LEFT = [type(o).__name__ for o in gc.get_objects()
        if type(o).__name__ in ("_Loop", "_Rehearsal", "_NoFactory", "_WorkerEnd")
        or getattr(o, "__name__", None) == "_llmrepl_canned"]

def check(candidate):
    assert "_llmrepl_canned" not in sys.modules
    assert LEFT == []
    assert candidate() == [False, [], "Worker.on_alarm"]
'''

# The candidate's worker, as the code under test sees it: no canned module,
# no object of the canned code (its own call's timer is running).
CODE_PROBE = '''
import gc, signal, sys

def probe():
    return [
        "_llmrepl_canned" in sys.modules,
        [repr(o)[:80] for o in gc.get_objects()
         if getattr(o, "__name__", None) == "_llmrepl_canned"
         or (isinstance(o, str) and "return [x, str(x), (y, 2.5)" in o)],
        signal.getsignal(signal.SIGALRM).__qualname__,
    ]
'''


def _batch(tmp_path, lines, env=None):
    f = tmp_path / "batch.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    p = subprocess.run([binary("llmrepl-eval"), "--batch", str(f), "--group", "1", "--json"],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, **(env or {})))
    assert p.returncode in (0, 1), p.stderr[-3000:]
    return [json.loads(ln) for ln in p.stdout.splitlines()], p.stderr


def test_warm_spares_leave_nothing_for_the_request(tmp_path):
    items = [{"id": str(i), "code": CODE_PROBE, "tests": JUDGE_PROBE, "entry_point": "probe"}
             for i in range(4)]
    results, err = _batch(tmp_path, items, {"LLMREPL_SBX_TRACE": "1"})
    for r in results:
        rep = r["report"]
        assert rep["integrity"] == "split", rep
        assert r["passed"], rep["tests"]
        # The server calibrated the pages (it says so in every run's detail
        # when it could not).
        assert "not copied ahead" not in (rep["run"].get("detail") or ""), rep["run"]
    # A spare copies them unless its request came
    # first, which is the scheduler's to say: those that did, say how long.
    warm = [w for ln in err.splitlines() if ln.startswith("sbx-trace pool")
            for w in ln.split() if w.startswith("after.warm=")]
    assert all(int(w.split("=")[1]) >= 0 for w in warm)


_UNIT = r'''
import gc, json, os, signal, socket, struct, sys
sys.path.insert(0, sys.argv[1])
sys.path.append("/usr/lib/python3/dist-packages")
# A factory's socket on fd 10, as the sandbox gives the judge: the rehearsal
# takes the split path, and must send nothing on it.
mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
os.dup2(theirs.fileno(), 10)
import llmrepl_prefault as w, llmrepl_harness, llmrepl_judge
assert llmrepl_judge.available()
alarm = signal.getsignal(signal.SIGALRM)
out = {"ok": w.rehearse()}
try:
    mine.recv(1, socket.MSG_DONTWAIT)
    out["factory_heard"] = True
except BlockingIOError:
    out["factory_heard"] = False
out["module_left"] = w.MODULE in sys.modules
out["objects_left"] = [type(o).__name__ for o in gc.get_objects()
                       if type(o).__name__ in ("_Loop", "_Rehearsal", "_NoFactory")]
out["remote_back"] = llmrepl_harness.REMOTE is llmrepl_judge.Remote
out["alarm_back"] = signal.getsignal(signal.SIGALRM) is alarm
out["timer"] = signal.getitimer(signal.ITIMER_REAL)
out["gc"] = gc.isenabled()
# The pages a canned evaluation writes in a fork, then copied here.
w.prepare()
gc.freeze()
runs = w.calibrate()
maps = w._private_writable()
out["runs"] = len(runs)
page = os.sysconf("SC_PAGE_SIZE")
out["inside"] = all(any(lo <= at < hi for lo, hi in maps)
                    for a, n in runs for at in range(a, a + n, page))


def exclusive():
    fd = os.open("/proc/self/pagemap", os.O_RDONLY)
    mine = 0
    for a, n in runs:
        for (e,) in struct.iter_unpack("<Q", os.pread(fd, n // page * 8, a // page * 8)):
            mine += bool(e >> 63 & 1 and e >> 56 & 1)
    os.close(fd)
    return mine


# In a fork (as a spare is): shared with this process first, its own after.
r, wr = os.pipe()
pid = os.fork()
if pid == 0:
    before = exclusive()
    populated = w.populate(runs) == sum(n for _, n in runs)
    after = exclusive()
    os.write(wr, json.dumps([before, populated, after]).encode())
    os._exit(0)
os.close(wr)
before, out["populated"], after = json.loads(os.read(r, 1000))
os.waitpid(pid, 0)
total = sum(n for _, n in runs) // page
out["copied"] = before < total // 2 and after == total
print(json.dumps(out))
'''


def test_rehearsal_runs_split_without_the_factory_and_cleans_up():
    p = subprocess.run([PYTHON, "-I", "-S", "-B", "-c", _UNIT, str(PY_DIR)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.splitlines()[-1])
    assert out.pop("runs") > 10, out
    assert out == {"ok": True, "factory_heard": False, "module_left": False, "objects_left": [],
                   "remote_back": True, "alarm_back": True, "timer": [0.0, 0.0], "gc": True,
                   "inside": True, "populated": True, "copied": True}


def test_the_candidates_rehearsal_leaves_no_trace_in_the_worker():
    code = r'''
import gc, json, signal, sys
sys.path.insert(0, sys.argv[1])
import llmrepl_candidate as c
c._rehearse()
print(json.dumps([c._CANNED_MODULE in sys.modules,
                  [1 for o in gc.get_objects() if getattr(o, "__name__", None) == c._CANNED_MODULE],
                  signal.getitimer(signal.ITIMER_REAL)]))
'''
    p = subprocess.run([PYTHON, "-I", "-S", "-B", "-c", code,
                        str(PY_DIR)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [False, [], [0.0, 0.0]]


# The judge's view: are the static tools the pool's server's (frozen there,
# so absent from this process's own collector lists), or did this judge
# import them itself?
SERVER_TOOLS = '''
import gc, sys

def check(candidate):
    assert candidate() == 1

mod = sys.modules.get("pyflakes.checker")
assert mod is not None and not any(o is mod.__dict__ for o in gc.get_objects())
'''


def test_without_the_static_service_the_server_loads_the_tools_once(tmp_path):
    code = "import os\n\n\ndef one():\n    return 1\n"
    items = [{"id": str(i), "code": code, "tests": SERVER_TOOLS, "entry_point": "one"}
             for i in range(5)]
    results, err = _batch(tmp_path, items, {"LLMREPL_STATIC_SERVICE": "0"})
    loaded = []
    for r in results:
        rep = r["report"]
        assert rep["integrity"] == "split", rep
        cases = {t["kind"]: t["status"] for t in rep["tests"]}
        assert cases["check_assert"] == "passed", rep["tests"]
        loaded.append(cases["assert"] == "passed")
        # The judge ran the tools, with the same findings either way.
        st = rep["static"]
        assert [(f["code"], f["line"]) for f in st["pyflakes"]["findings"]] == \
            [("UnusedImport", 1)], st
        assert st["bandit"]["ran"] and st["radon"]["functions"][0]["name"] == "one", st
    # The first run's spare was forked before the host asked; the last one's
    # after the server loaded them.
    assert loaded[0] is False and loaded[-1] is True, loaded


def _copies(tmp_path, jobs):
    """The spares' page copies in the pool's trace of a batch run with jobs
    threads (each its own pool): how many spares copied."""
    f = tmp_path / ("batch%d.jsonl" % jobs)
    items = [{"id": str(i), "code": "def f(x):\n    return x + 1\n",
              "tests": "assert f(1) == 2\n", "entry_point": "f"} for i in range(12)]
    f.write_text("".join(json.dumps(x) + "\n" for x in items))
    p = subprocess.run([binary("llmrepl-eval"), "--batch", str(f), "--group", "1", "--json",
                        "--jobs", str(jobs)], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, LLMREPL_SBX_TRACE="1"))
    assert p.returncode == 0, p.stderr[-3000:]
    assert all(json.loads(ln)["passed"] for ln in p.stdout.splitlines())
    return sum(1 for ln in p.stderr.splitlines() if ln.startswith("sbx-trace pool")
               for w in ln.split() if w.startswith("after.warm="))


def test_only_a_host_running_one_evaluation_at_a_time_has_the_pages_copied(tmp_path):
    # Two at a time every core is busy: nobody asks for the copies, no spare
    # makes them. One at a time the host asks ("WARM pages"), and a spare
    # that waits beside the run before it copies them (12 runs: at least one
    # spare waits before its request comes).
    assert _copies(tmp_path, 2) == 0
    assert _copies(tmp_path, 1) >= 1


def test_the_factory_takes_its_allocators_free_blocks_and_gives_fd_2_back():
    """A pool's factory fills the free blocks of its allocator's partly used
    pools once (llmrepl_candidate._fill_free_blocks), so that its workers'
    new objects go to pages of their own; the figures it reads come through
    fd 2, which is the same file again afterwards."""
    code = r'''
import gc, json, os, sys
sys.path.insert(0, sys.argv[1])
import llmrepl_candidate as c
c._warm_imports()
gc.collect()
st = os.fstat(2)
before = c._free_blocks()
c._fill_free_blocks()
after = c._free_blocks()
st2 = os.fstat(2)
sys.stderr.write("still here\n")
print(json.dumps([sum(before.values()), sum(after.values()), len(c._FILLED),
                  (st.st_dev, st.st_ino) == (st2.st_dev, st2.st_ino)]))
'''
    p = subprocess.run([PYTHON, "-I", "-S", "-B", "-c", code, str(PY_DIR)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "still here\n"
    before, after, filled, same = json.loads(p.stdout)
    assert before > 100 and filled > 0 and same, (before, filled, same)
    # What is left are the last pools' own (a size class filled to its end
    # takes a new pool); far fewer than before.
    assert after < before // 2, (before, after)


def test_the_factory_reads_how_long_it_waited_for_a_cpu():
    """The run delay the factory gates its spares' rehearsal on
    (llmrepl_candidate._run_delay): this process's, in ns, never going back."""
    code = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import llmrepl_candidate as c
a = c._run_delay()
sum(range(200000))
b = c._run_delay()
print(json.dumps([a, b]))
'''
    p = subprocess.run([PYTHON, "-I", "-S", "-B", "-c", code, str(PY_DIR)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    a, b = json.loads(p.stdout)
    if a is None:
        pytest.skip("no /proc/self/schedstat here: the spares rehearse as before")
    assert isinstance(a, int) and 0 <= a <= b, (a, b)
