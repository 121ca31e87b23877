"""Verdicts the judged code cannot forge: every cheat below is a wrong
solution of `add` (or code that breaks a criterion) that tries to pass
anyway. Each goes through a job on Redis (real redis-server, dispatcher and
worker, the real sandbox), cold, pooled, and isolated from the start (the
job's `"isolate": true`, as the host's retry after a crash runs), and must
end `done` with `passed` 0 and integrity "split". Some of the same cheats
through llmrepl-eval are checked with the isolated retry forced."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import binary

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from jobsys import System  # noqa: E402

TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"]

# A report as the harness would write it for three passing tests.
FORGED = json.dumps({
    "harness": 1, "status": "ok", "tests_total": 3, "tests_passed": 3, "integrity": "split",
    "tests": [{"name": "t%d" % i, "kind": "assert", "line": i, "file": "tests",
               "status": "passed", "passed": True, "duration_s": 0.0, "runs": 1}
              for i in (1, 2, 3)]})

# Every descriptor the code's process may hold gets the forged answer.
WRITE_ALL = """
import os
for fd in range(3, 64):
    try:
        os.write(fd, %r)
    except OSError:
        pass
"""

CHEATS = {
    "eq_always_true": """
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__
def add(a, b):
    return Anything()
""",
    "int_subclass_eq": """
class Int(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def add(a, b):
    return Int(a - b)
""",
    "forge_answer_fd": """
import os
def add(a, b):
    for fd in range(3, 64):
        try:
            os.write(fd, %r.encode())
        except OSError:
            pass
    os._exit(0)
""" % FORGED,
    "forge_at_import": WRITE_ALL % FORGED.encode() + """
def add(a, b):
    return a - b
""",
    "die_then_forge": """
import os
if not os.path.exists('/tmp/died'):
    open('/tmp/died', 'w').close()
    os._exit(1)
""" + WRITE_ALL % FORGED.encode() + """
def add(a, b):
    return a - b
""",
    "monkeypatch_harness": """
import sys
for name, mod in list(sys.modules.items()):
    if not name.startswith('llmrepl'):
        continue
    for attr in dir(mod):
        obj = getattr(mod, attr, None)
        if isinstance(obj, type):
            for meth in list(vars(obj)):
                if 'fail' in meth or 'check' in meth or 'raise' in meth:
                    try:
                        setattr(obj, meth, lambda *a, **k: None)
                    except Exception:
                        pass
def add(a, b):
    return a - b
""",
    "caller_frame": """
import sys, inspect
def add(a, b):
    f = sys._getframe(1)
    while f is not None:
        for v in list(f.f_locals.values()):
            if isinstance(v, int) and v not in (a, b):
                return v
        f = f.f_back
    for fr in inspect.stack():
        line = fr.code_context and fr.code_context[0]
        if line and '==' in line:
            return int(line.split('==')[1].strip())
    return a - b
""",
    "gc_objects": """
import gc
def add(a, b):
    for o in gc.get_objects():
        if isinstance(o, dict) and 'expected' in o:
            return o['expected']
        if isinstance(o, str) and o.startswith('assert add(%d, %d) ==' % (a, b)):
            return int(o.split('==')[1])
    return a - b
""",
    "files_on_disk": """
import os
def add(a, b):
    for root in ('/work', '/tmp', '/sandbox', '/proc'):
        for dirpath, dirs, files in os.walk(root):
            if dirpath.count('/') > 4:
                continue
            for name in files:
                try:
                    text = open(os.path.join(dirpath, name)).read()
                except Exception:
                    continue
                key = 'assert add(%d, %d) == ' % (a, b)
                if key in text:
                    return int(text.split(key)[1].split()[0])
    return a - b
""",
    "swap_assertion_error": """
import builtins
class Never(Exception):
    pass
builtins.AssertionError = Never
def add(a, b):
    return a - b
""",
    "swallowing_hooks": """
import sys, threading
sys.excepthook = lambda *a: None
threading.excepthook = lambda *a: None
sys.settrace(lambda *a: None)
def add(a, b):
    return a - b
""",
    "system_exit_inside": """
def add(a, b):
    raise SystemExit(0)
""",
    "kill_everything": """
import os, signal
def add(a, b):
    for pid in range(2, 400):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    return a - b
""",
    "read_judge_proc": """
import os
def add(a, b):
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        for leaf in ('cmdline', 'environ', 'mem', 'fd/3', 'fd/6'):
            try:
                with open('/proc/%s/%s' % (pid, leaf), 'rb') as f:
                    found.append(f.read(100))
            except OSError:
                pass
    return a - b
""",
    "nonsense_report": WRITE_ALL % (b'{"harness": 1, "status": "ok", "tests_total": -5, '
                                    b'"tests_passed": 0, "score": 1.0, "passed": true, '
                                    b'"tests": []}',) + """
os._exit(0)
def add(a, b):
    return a - b
""",
}


# Hooks, exceptions that are not errors, values that try the encoding and
# the wire, output that looks like a report.
FORGE_ALL = """
def _forge():
    import os
    for fd in range(1, 64):
        try:
            os.write(fd, %r)
        except OSError:
            pass
""" % FORGED.encode()

CHEATS.update({
    "atexit_forges": FORGE_ALL + """
import atexit, os
atexit.register(lambda: (_forge(), os._exit(0)))
def add(a, b):
    return a - b
""",
    "profile_and_audit_hooks": """
import sys
sys.setprofile(lambda *a: None)
sys.addaudithook(lambda event, args: None)
def add(a, b):
    return a - b
""",
    "audit_hook_raises": """
import sys
armed = []
def hook(event, args):
    if armed:
        raise RuntimeError('audit says no: ' + event)
sys.addaudithook(hook)
def add(a, b):
    armed.append(1)
    return a - b
""",
    "del_forges": FORGE_ALL + """
import os
class Bomb:
    def __del__(self):
        _forge()
        os._exit(0)
def add(a, b):
    return Bomb()
""",
    "keyboard_interrupt": """
def add(a, b):
    raise KeyboardInterrupt
""",
    "base_exception_subclass": """
class Stop(BaseException):
    pass
def add(a, b):
    raise Stop('stop')
""",
    "generator_exit": """
def add(a, b):
    raise GeneratorExit
""",
    "skip_test": """
import unittest
def add(a, b):
    raise unittest.SkipTest('nothing to see')
""",
    "fake_step_timeout_name": """
class StepTimeout(BaseException):
    pass
class AssertionError(Exception):
    pass
def add(a, b):
    raise StepTimeout('x')
""",
    "huge_value": """
def add(a, b):
    return [str(a - b) * (9 << 20)]
""",
    "deep_nesting": """
def add(a, b):
    x = [a - b]
    for _ in range(200000):
        x = [x]
    return x
""",
    "nan": """
def add(a, b):
    return float('nan')
""",
    "negative_zero": """
def add(a, b):
    return -0.0
""",
    "bool_for_int": """
def add(a, b):
    return True
""",
    "str_subclass": """
class S(str):
    def __eq__(self, other):
        return True
    __hash__ = str.__hash__
def add(a, b):
    return S(str(a + b))
""",
    "float_subclass_nan_eq": """
class F(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__
def add(a, b):
    return F('nan')
""",
    "generator": """
def add(a, b):
    yield a + b
""",
    "infinite_iterator": """
import itertools
def add(a, b):
    return itertools.count(a + b)
""",
    "dunders_raise": """
class Evil:
    def __repr__(self):
        raise RuntimeError('no repr')
    def __hash__(self):
        raise RuntimeError('no hash')
    def __eq__(self, other):
        raise RuntimeError('no eq')
    def __bool__(self):
        raise RuntimeError('no bool')
def add(a, b):
    return Evil()
""",
    "repr_bombs": """
class Bomb:
    def __repr__(self):
        return repr(self)
class Huge:
    def __repr__(self):
        return 'x' * (64 << 20)
def add(a, b):
    return [Bomb(), Huge()][a % 2]
""",
    "stdout_markers": """
import os, sys
def add(a, b):
    print('{"harness": 1, "status": "ok", "tests_total": 3, "tests_passed": 3}')
    print('PASSED 3/3\\nOK\\n__LLMREPL_RESULT__ ok')
    sys.stderr.write('{"passed": true}\\n')
    os.write(1, %r)
    os.write(2, %r)
    return a - b
""" % (FORGED.encode(), FORGED.encode()),
    "wire_desync": """
import sys, socket
def add(a, b):
    # Replies sent ahead on the worker's own socket: the next calls read
    # these (a constant, and a handle that claims to be an int) first.
    wire = sys.modules['llmrepl_wire']
    s = socket.socket(fileno=3)
    try:
        wire.send(s, ['ok', ['i', '3'], '', ''])
        wire.send(s, ['ok', ['h', 1, 'int', 'obj'], '', ''])
        wire.send(s, ['ok', ['i', '3'], '', ''])
    finally:
        s.detach()
    return 3
""",
    "slow_drip": """
import os, sys, time, json, struct
def add(a, b):
    body = json.dumps(['ok', ['i', '3'], '', '']).encode()
    data = struct.pack('<I', len(body)) + body
    for i in range(len(data)):
        os.write(3, data[i:i + 1])
        time.sleep(0.02)
    return a - b
""",
    "wire_garbage": """
import os
def add(a, b):
    os.write(3, b'\\xff\\xff\\xff\\xff' + b'{' * 100)
    return a - b
""",
})


@pytest.fixture(params=["cold", "pool", "isolated"])
def system(request, redis_server, tmp_path):
    """A worker cold or pooled; "isolated": pooled, every job asking to run
    isolated from the start (`"isolate": true`): the very request the host
    sends when it repeats a run that left no answer. Under the split the
    code is in its own process either way, so the judge runs the same; the
    point is that the retry's request cannot be forged either."""
    s = System(redis_server, tmp_path)
    s.dispatcher()
    s.worker(pool="false" if request.param == "cold" else "true")
    s.mode = request.param
    yield s
    s.stop_all()


def job(code, **fields):
    return {"kind": "evaluate", "code": code, "tests": TESTS, "static_checks": False,
            "limits": {"timeout_s": 10, "memory_mb": 256}, **fields}


def submit(system, code, **fields):
    if system.mode == "isolated":
        fields["isolate"] = True
    return system.submit(job(code, **fields))


def test_every_cheat_fails_through_jobs(system):
    jids = {name: submit(system, code) for name, code in CHEATS.items()}
    honest = submit(system, "def add(a, b):\n    return a + b\n")
    h = system.wait(honest, timeout=120)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert json.loads(h["result"])["integrity"] == "split"
    for name, jid in jids.items():
        h = system.wait(jid, timeout=180)
        assert h["state"] == "done", (name, h)
        assert h["passed"] == "0", (name, h)
        r = json.loads(h["result"])
        assert r["integrity"] == "split", (name, r)
        assert r["tests_passed"] < 3, (name, r)


def test_forged_static_findings_and_metrics_fail_their_criteria(system):
    # The code breaks max_security, max_time_s and max_memory_mb and tries
    # to overwrite whatever could carry the findings or the figures.
    forge = """
import sys, gc
for o in gc.get_objects():
    if isinstance(o, dict):
        for k in ('static', 'metrics', 'bandit', 'max_severity', 'peak_memory_kb', 'load_s'):
            o.pop(k, None)
"""
    cases = {
        "max_security": forge + "def add(a, b):\n    return eval('a + b')\n",
        "max_time_s": forge + "import time\ndef add(a, b):\n    time.sleep(0.4)\n"
                      "    return a + b\n",
        "max_memory_mb": forge + "blob = bytearray(60 << 20)\nfor i in range(0, len(blob), 4096):"
                         "\n    blob[i] = 1\ndef add(a, b):\n    return a + b\n",
    }
    criteria = {"max_security": {"max_security": "low"}, "max_time_s": {"max_time_s": 0.3},
                "max_memory_mb": {"max_memory_mb": 40}}
    jids = {k: submit(system, code, static_checks=True, criteria=criteria[k])
            for k, code in cases.items()}
    for k, jid in jids.items():
        h = system.wait(jid, timeout=120)
        assert h["state"] == "done" and h["passed"] == "0", (k, h)
        r = json.loads(h["result"])
        assert [v["criterion"] for v in r["violations"]] == [k], (k, r["violations"])


def test_a_forced_isolated_retry_is_judged_the_same(system):
    # Two processes over the memory limit together: an OOM kill in the run
    # makes the host repeat the evaluation isolated; both runs forge.
    code = """
import os
def add(a, b):
    child = os.fork()
    blob = bytearray(200 << 20)
    for i in range(0, len(blob), 4096):
        blob[i] = 1
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
""" + WRITE_ALL.replace("\nimport os", "").replace("\n", "\n    ") % FORGED.encode() + """
    return a - b
"""
    if system.mode == "isolated":
        pytest.skip("already isolated from the start")
    h = system.wait(system.submit(job(code)), timeout=120)
    assert h["state"] == "done" and h["passed"] == "0", h
    r = json.loads(h["result"])
    assert r["run"]["retried_isolated"] and r["integrity"] == "split", r["run"]
    assert r["tests_passed"] == 0


def test_integrity_split_can_be_required(system):
    jid = submit(system, "def add(a, b):\n    return a + b\n", criteria={"integrity": "split"})
    h = system.wait(jid, timeout=60)
    assert h["state"] == "done" and h["passed"] == "1", h


# ---- llmrepl-eval: the isolated retry ------------------------------------------

def run_eval(code, *args, env=None):
    p = subprocess.run([binary("llmrepl-eval"), "--json", "--tests-text", "\n".join(TESTS),
                        *args, "-"], input=code, capture_output=True, text=True, timeout=120,
                       env=env)
    assert p.stdout, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("mode", [[], ["--pool"]])
def test_cheats_in_the_isolated_retry(mode):
    # The request asks for isolation from the start, as the retry does.
    for name in ("eq_always_true", "forge_answer_fd", "die_then_forge", "kill_everything"):
        r = run_eval(CHEATS[name], "--isolate", *mode)
        assert r["passed"] is False and r["tests_passed"] < 3, (name, r)
        assert r["integrity"] == "split", (name, r)
