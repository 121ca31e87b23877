"""The descriptors the code under test holds, in every way it can run: the
code lists /proc/self/fd and prints what it found. Only a split run's judge
may hold the candidate factory's socket (fd 10), the run's cgroups and its
count of processes (the pool keeps them for it): code that held the socket
could ask the factory for workers, a CLEAN or a KILL. Before, an evaluation
run in process (the host's second run of an unsplittable one, or the split
off), an io case and a REPL session's cell run through the pool all held
them. Through llmrepl-eval, a worker on a private Redis, and the real
sandbox, cold and pooled."""
import ast
import json
import os
import subprocess

import pytest

from conftest import binary

LIST = '''
import os as _os
def _fds():
    found = {}
    for n in _os.listdir("/proc/self/fd"):
        try:
            found[int(n)] = _os.readlink("/proc/self/fd/" + n)
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return sorted(found.items())
print("FDS", _fds())
'''

# The tests subclass the code's class: the host evaluates again in process.
SHAPE = "class Shape:\n    def area(self):\n        return 0\n"
SUBCLASS = "class Square(Shape):\n    pass\nassert Square().area() == 0\n"

# The streams (0-2) and one channel to whoever reads what the code says: 3
# (the answer in process, the worker's own socket when split), or, in an
# isolated run's child, the pipe its records go to (5).
ALLOWED = {0, 1, 2, 3, 5}


def fds_in(text):
    """Every listing the code printed: [[(fd, target), ...], ...]."""
    found = [ast.literal_eval(line[4:]) for line in text.splitlines()
             if line.startswith("FDS [")]
    assert found, text
    return found


def check(text, allowed=ALLOWED):
    for fds in fds_in(text):
        nums = {n for n, _ in fds}
        assert nums <= allowed, fds
        assert not any("cgroup" in target for _, target in fds), fds


def evaluate(code, *args, env=None):
    argv = [binary("llmrepl-eval"), "--json", "--timeout", "10", *args, "-"]
    p = subprocess.run(argv, input=code, capture_output=True, text=True, timeout=120,
                       env=env)
    assert p.stdout, p.stderr
    return json.loads(p.stdout)


MODES = [[], ["--pool"]]
MODE_IDS = ["cold", "pooled"]


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("way", ["split", "in_process", "isolated", "split_off"])
def test_an_evaluations_code_holds_nothing_of_the_judges(way, mode):
    env = None
    tests = "assert Shape().area() == 0\n"
    extra = []
    if way in ("in_process", "isolated"):
        tests = SUBCLASS
    if way == "isolated":
        extra = ["--isolate"]
    if way == "split_off":
        env = dict(os.environ, LLMREPL_SPLIT="0")
    r = evaluate(LIST + SHAPE, "--tests-text", tests, *mode, *extra, env=env)
    assert r["passed"], r
    assert r["integrity"] == ("split" if way == "split" else "in_process"), r
    check(r["stdout"])


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_an_io_programs_code_holds_nothing_of_the_judges(mode, tmp_path):
    cases = tmp_path / "io.json"
    cases.write_text(json.dumps({"io": [{"stdin": "", "stdout": "ok\n"}]}))
    r = evaluate(LIST.replace('print("FDS", _fds())', 'import sys\n'
                              'sys.stderr.write("FDS %s\\n" % _fds())\nprint("ok")'),
                 "--io-tests", str(cases), *mode)
    assert r["passed"], r
    check(r["tests"][0]["io"]["stderr"])


def test_a_grouped_items_code_holds_nothing_of_the_judges(tmp_path):
    f = tmp_path / "batch.jsonl"
    items = [{"id": str(i), "code": LIST + SHAPE, "tests": "assert Shape().area() == 0\n"}
             for i in range(3)]
    f.write_text("".join(json.dumps(j) + "\n" for j in items))
    p = subprocess.run([binary("llmrepl-eval"), "--batch", str(f), "--json", "--group", "3"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(out) == 3
    for o in out:
        assert o["passed"] and "group" in o["report"]["run"], o
        check(o["report"]["stdout"])


# ---- a REPL session's cells, and code tested on a session's state -----------------

@pytest.mark.parametrize("held", [8, 0], ids=["held", "run_once"])
def test_a_sessions_cells_hold_nothing_of_the_judges(system, held):
    """Held: the session's own interpreter; 0: each cell is a run of the
    worker's pool (a factory's) that replays the session first. Then an
    evaluation on the session's state: its cells replayed beside the code."""
    system.dispatcher()
    system.worker(sessions_held=held)
    h = system.wait(system.submit({"kind": "session_open"}))
    sid = h["session"]
    # A held interpreter also reads the session's next cells on fd 4: the
    # session's own, which its cells may read anyway.
    allowed = ALLOWED | {4} if held else ALLOWED
    for code in (LIST, "print('FDS', _fds())"):
        h = system.wait(system.submit({"kind": "exec", "session": sid, "code": code}))
        assert h["passed"] == "1", h
        check(h["stdout"], allowed)
    h = system.wait(system.submit({
        "kind": "evaluate", "session": sid, "static_checks": False,
        "code": "print('FDS', _fds())\ndef f():\n    return 1\n",
        "tests": "assert f() == 1\n"}))
    assert h["passed"] == "1", h
    check(json.loads(h["result"])["stdout"])
