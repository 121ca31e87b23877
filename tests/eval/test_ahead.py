"""check()'s calls sent ahead to the candidate (llmrepl_ahead, Remote.send_ahead):
the same calls in the same order with the same outcomes as one by one, through
the real sandbox, cold and pooled; a value that is a handle, a call that times
out, one that swallows its timeout and one that kills its process each end the
row or cost only their own case."""
import json
from pathlib import Path
import subprocess

import pytest

from conftest import binary

MODES = [[], ["--pool"]]


def evaluate(code, tests, *args):
    argv = [binary("llmrepl-eval"), "--json", "--tests-text", tests, "--entry-point", "f",
            *args, "-"]
    p = subprocess.run(argv, input=code, capture_output=True, text=True, timeout=120)
    assert p.stdout, p.stderr
    return json.loads(p.stdout)


def statuses(r):
    return [t["status"] for t in r["tests"]]


COUNTER = '''
n = [0]
def f(x):
    n[0] += 1
    print("call", n[0])
    return (x, n[0])
'''


@pytest.mark.parametrize("mode", MODES)
def test_calls_run_once_each_in_order(mode):
    tests = "def check(candidate):\n" + "".join(
        "    assert candidate(%d) == (%d, %d)\n" % (i, i, i) for i in range(1, 6))
    r = evaluate(COUNTER, tests, *mode)
    assert r["integrity"] == "split" and r["passed"] and r["tests_total"] == 5, r
    assert r["stdout"] == "".join("call %d\n" % i for i in range(1, 6)), r["stdout"]
    # A wrong expectation fails its own case only, with the actual value.
    r = evaluate(COUNTER, tests.replace("== (3, 3)", "== (3, 9)"), *mode)
    assert statuses(r) == ["passed", "passed", "failed", "passed", "passed"], r
    assert r["tests"][2]["assertion"]["actual"] == "(3, 3)", r["tests"][2]


HANDLES = """
n = [0]
def h(x):
    n[0] += 1
    return (x, n[0])
class Box:
    def __init__(self, v):
        self.v = v
    def __repr__(self):
        n[0] += 100
        return "Box(%r)" % (self.v,)
def f(x):
    return h(x) if x != 2 else Box(h(x))
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_handle_ends_the_row(mode):
    # The row stops after the call that returns a Box: the judge asks for
    # its repr (case 2's failure) before call 3 runs, as one by one.
    tests = "def check(candidate):\n" + "".join(
        "    assert candidate(%d) == (%d, %d)\n" % (i, i, i) for i in range(1, 5))
    r = evaluate(HANDLES, tests, *mode)
    assert statuses(r) == ["passed", "failed", "failed", "failed"], r
    n3, n4 = (int(t["assertion"]["actual"].strip("()").split(", ")[1]) for t in r["tests"][2:])
    assert n3 > 100 and n3 % 100 == 3 and n4 == n3 + 1, r["tests"]
    # Compared only by identity, the Box needs nothing more: the rest as sent.
    tests = tests.replace("== (2, 2)", "is not None")
    r = evaluate(HANDLES, tests, *mode)
    assert statuses(r) == ["passed"] * 4, r


@pytest.mark.parametrize("mode", MODES)
def test_a_timeout_or_a_death_costs_its_own_case(mode):
    tests = ("def check(candidate):\n" + "".join(
        "    assert candidate(%d) == %d\n" % (i, i) for i in range(1, 5)))
    hang = "def f(x):\n    while x == 2:\n        pass\n    return x\n"
    stubborn = ("def f(x):\n    while x == 2:\n        try:\n            while True:\n"
                "                pass\n        except BaseException:\n            pass\n"
                "    return x\n")
    die = "import os\ndef f(x):\n    if x == 2:\n        os._exit(3)\n    return x\n"
    for code, bad in ((hang, "timeout"), (stubborn, "timeout"), (die, "crashed")):
        r = evaluate(code, tests, "--test-timeout", "0.5", *mode)
        assert statuses(r) == ["passed", bad, "passed", "passed"], (code, r)
        assert not r["passed"] and r["integrity"] == "split", r


@pytest.mark.parametrize("mode", MODES)
def test_the_row_behind_the_code_and_a_call_before_check(mode):
    # Nothing before check() can reach the code (a literal, an import, a
    # helper): the row goes right behind the code's load; the same calls in
    # the same order, each once.
    check = "def check(candidate):\n" + "".join(
        "    assert candidate(%d) == (%d, %d)\n" % (i, i, i + 1) for i in range(1, 4))
    tests = "META = {'a': [1, 2]}\nimport math\n\ndef helper(x):\n    return x\n\n" + \
        "def check(candidate):\n" + "".join(
            "    assert candidate(%d) == (%d, %d)\n" % (i, i, i) for i in range(1, 4))
    r = evaluate(COUNTER, tests, *mode)
    assert r["passed"] and r["tests_total"] == 3, r
    assert r["stdout"] == "call 1\ncall 2\ncall 3\n", r["stdout"]
    # A statement before check() calls the code: that call comes first, then
    # check()'s, as written.
    r = evaluate(COUNTER, "first = f(0)\nassert first == (0, 1)\n" + check, *mode)
    assert r["passed"] and r["tests_total"] == 4, r
    assert r["stdout"] == "call 1\ncall 2\ncall 3\ncall 4\n", r["stdout"]


EARLY = r'''
import ast, sys
sys.path.insert(0, sys.argv[1])
import llmrepl_ahead as a
code = ast.parse("def f(x):\n    return x\n")
check = "def check(candidate):\n    assert candidate(1) == 1\n    assert candidate(2) == 2\n"
cases = [("", "", True), ("META = {'a': [1]}\nimport math\nfrom os import path\n", "", True),
         ('"doc"\ndef helper(x, *a, k, **kw):\n    return x\npass\n', "", True),
         ("x = f(0)\n", "", False), ("import solution\n", "", False),
         ("from solution import f\n", "", False), ("def helper(x=f(0)):\n    pass\n", "", False),
         ("def helper(x: f):\n    pass\n", "", False), ("@f\ndef helper(x):\n    pass\n", "", False),
         ("check = None\n", "", False), ("class T:\n    pass\n", "", False),
         ("def test_one():\n    pass\n", "", False), ("", "check(f)\n", False),
         ("", "def check(candidate):\n    pass\n", False), ("x: int = 1\n", "", False)]
for before, after, want in cases:
    text = before + check + after
    row = a.early(ast.parse(text), code, "solution", len(text))
    assert bool(row) == want, (before, after, row)
    if row:
        assert row == a.calls(ast.parse(check).body[0], code, len(text))
print("ok")
'''


def test_early_only_when_nothing_before_check_can_reach_the_code():
    py = Path(__file__).resolve().parents[2] / "sandbox" / "py"
    p = subprocess.run(["/usr/bin/python3", "-I", "-c", EARLY, str(py)], capture_output=True,
                       text=True, timeout=60)
    assert p.stdout == "ok\n", p.stderr
