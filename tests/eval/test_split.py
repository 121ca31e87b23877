"""The judge/candidate split through the real sandbox (build/llmrepl-eval,
cold and pooled): every test form runs with the code in a process of its
own uid, and that process can neither see nor signal the judge."""
import json
import subprocess

import pytest

from conftest import binary

CODE = '''
class Stack:
    def __init__(self):
        self.items = []
    def push(self, x):
        self.items.append(x)
        return self
    def pop(self):
        if not self.items:
            raise IndexError("pop from empty stack")
        return self.items.pop()
    def __len__(self):
        return len(self.items)
    def __eq__(self, other):
        return isinstance(other, Stack) and self.items == other.items

class MyError(ValueError):
    pass

LIMIT = 10

def gen(n):
    """Yield squares.

    >>> list(gen(3))
    [0, 1, 4]
    """
    for i in range(n):
        yield i * i

def square(x):
    print("squaring", x)
    return x * x

def fail(x):
    raise MyError("bad %s" % x)

def apply(f, x):
    return f(x)

def add(a, b):
    return a + b
'''

TESTS = '''
import unittest
import pytest

assert add(1, 2) == 3

def check(candidate):
    assert candidate(2, 3) == 5
    assert candidate(-1, 1) == 0

def test_stack():
    s = Stack()
    s.push(1).push(2)
    assert len(s) == 2 and s.pop() == 2 and s.items == [1]
    assert Stack().push(1) == Stack().push(1)
    assert Stack().push(1) != Stack().push(2)
    assert isinstance(s, Stack) and not isinstance(3, Stack)

def test_raises():
    with pytest.raises(ValueError):
        fail(3)
    with pytest.raises(IndexError, match="empty"):
        Stack().pop()
    try:
        fail(1)
    except MyError as e:
        assert str(e) == "bad 1"

@pytest.mark.parametrize("n,want", [(2, 4), (3, 9)])
def test_param(n, want):
    assert square(n) == want

def test_values():
    assert list(gen(4)) == [0, 1, 4, 9] and sum(gen(3)) == 5
    assert apply(square, 5) == 25
    assert LIMIT == 10
    assert {"a": [1.5, None, (2, b"x")]} == {"a": [1.5, None, (2, b"x")]}

class T(unittest.TestCase):
    def test_a(self):
        self.assertEqual(square(3), 9)

    def test_b(self):
        self.assertRaises(MyError, fail, 1)
'''

DOCTEST = ">>> square(3)\nsquaring 3\n9\n>>> list(gen(2))\n[0, 1]\n"

PROBE = '''
import os

def whoami():
    return os.getuid()

def others():
    """What of other uids this process can see or signal."""
    me = os.getuid()
    seen, signalled = [], []
    for pid in range(1, 500):
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            st = os.stat("/proc/%d" % pid)
            if st.st_uid != me:
                signalled.append(pid)
        except OSError:
            pass
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat("/proc/" + name).st_uid != me:
                    seen.append(int(name))
            except OSError:
                pass
    return {"seen": seen, "signalled": signalled}

def kill_all():
    import signal
    for pid in range(1, 500):
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return "still here"
'''

PROBE_TESTS = '''
import os
assert whoami() != os.getuid()
assert others() == {"seen": [], "signalled": []}
assert kill_all() == "never"
assert os.getpid() > 0
'''


def evaluate(code, tests, *args, entry=None):
    argv = [binary("llmrepl-eval"), "--json", "--tests-text", tests, *args]
    if entry:
        argv += ["--entry-point", entry]
    p = subprocess.run(argv + ["-"], input=code, capture_output=True, text=True, timeout=120)
    assert p.stdout, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("mode", [[], ["--pool"]])
def test_every_form_runs_split(mode):
    r = evaluate(CODE, TESTS, *mode, entry="add")
    assert r["integrity"] == "split", r
    assert r["passed"], r["feedback"]
    assert r["tests_total"] == 9 and r["forms"] == ["asserts", "check", "pytest", "unittest"]
    assert "squaring 2" in r["stdout"]
    r = evaluate(CODE, DOCTEST, *mode)
    assert r["integrity"] == "split" and r["passed"] and r["tests_total"] == 2, r
    # The code's own doctests, when there are no tests.
    r = evaluate(CODE, "", *mode)
    assert r["integrity"] == "split" and r["passed"] and r["tests_total"] == 1, r


@pytest.mark.parametrize("mode", [[], ["--pool"]])
def test_the_candidate_cannot_reach_the_judge(mode):
    r = evaluate(PROBE, PROBE_TESTS, *mode)
    assert r["integrity"] == "split"
    st = [t["status"] for t in r["tests"]]
    # Another uid, nothing of the judge's visible or signalable; killing
    # everything else it can reaches only its own side (the factory), and
    # the judge goes on to the next test.
    assert st == ["passed", "passed", "failed", "passed"], r["feedback"]


def test_without_the_split_the_report_says_so():
    import os
    p = subprocess.run([binary("llmrepl-eval"), "--json", "--tests-text", "assert add(1, 2) == 3",
                        "--criteria", '{"integrity": "split"}', "-"],
                       input="def add(a, b):\n    return a + b\n", capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, LLMREPL_SPLIT="0"))
    r = json.loads(p.stdout)
    assert r["integrity"] == "in_process" and r["passed"] is False
    assert r["violations"][0]["criterion"] == "integrity"


def test_the_factory_is_out_of_the_workers_reach():
    code = '''
import os
def probe():
    """The other processes of this uid (the factory): what of them can be opened."""
    got = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        for leaf in ("mem", "environ", "fd"):
            try:
                if leaf == "fd":
                    os.listdir("/proc/%s/fd" % name)
                else:
                    open("/proc/%s/%s" % (name, leaf), "rb").close()
                got.append(leaf)
            except OSError:
                pass
    return got
'''
    for mode in ([], ["--pool"]):
        r = evaluate(code, "assert probe() == []\n", *mode)
        assert r["integrity"] == "split" and r["passed"], r["feedback"]


CALLBACK_CODE = '''
def apply(f, xs):
    return [f(x) for x in xs]

def sorted_by(xs, key=None, reverse=False):
    return sorted(xs, key=key, reverse=reverse)

def compose(f, g):
    return lambda x: f(g(x))

def retry(f, n):
    for i in range(n):
        try:
            return f(i)
        except ValueError:
            continue
    return None

def nested(f, x):
    return f(lambda y: y * 10, x)

def call_back_with_mine(f):
    class Box:
        def __init__(self, v):
            self.v = v
    return f(Box(7))

def keep(f):
    global KEPT
    KEPT = f
    return "kept"

def use_kept(x):
    return KEPT(x)

def storm(f, n):
    return sum(f(i) for i in range(n))

def deep(f, n):
    return f(n)
'''

CALLBACK_TESTS = '''
assert apply(lambda x: x * 2, [1, 2]) == [2, 4]
assert apply(str.upper, ["a", "b"]) == ["A", "B"]
assert apply(len, [[1], [], "abc"]) == [1, 0, 3]
assert sorted_by([3, 1, 2], key=lambda x: -x) == [3, 2, 1]
assert sorted_by(["bb", "a", "ccc"], key=len, reverse=True) == ["ccc", "bb", "a"]
assert compose(lambda x: x + 1, lambda x: x * 2)(5) == 11
def picky(i):
    if i < 2:
        raise ValueError("not yet")
    return i
assert retry(picky, 5) == 2
assert nested(lambda g, x: g(x) + 1, 4) == 41
assert call_back_with_mine(lambda box: box.v + 1) == 8
assert keep(lambda x: x - 1) == "kept" and use_kept(10) == 9
def boom(x):
    raise KeyError("judge side")
try:
    apply(boom, [1])
    raise AssertionError("no error")
except KeyError as e:
    assert "judge side" in str(e)
'''


@pytest.mark.parametrize("mode", [[], ["--pool"]])
def test_callables_passed_to_the_code_are_called_back(mode):
    r = evaluate(CALLBACK_CODE, CALLBACK_TESTS, *mode)
    assert r["integrity"] == "split", r
    assert r["passed"], r["feedback"]
    assert r["tests_total"] == 11, r


def test_callbacks_are_bounded():
    # A million calls back, and a callback that calls the code that calls it
    # back without end: each a failing case of its own, not a hung judge.
    tests = ("assert storm(lambda i: 1, 10 ** 6) == 10 ** 6\n"
             "def down(n):\n    return deep(down, n + 1)\n"
             "assert deep(down, 0) == 0\n"
             "assert storm(lambda i: i, 10) == 45\n")
    r = evaluate(CALLBACK_CODE, tests, "--pool")
    assert r["integrity"] == "split", r
    st = [(t["status"], (t.get("error") or {}).get("message", "")) for t in r["tests"]]
    assert st[0][0] != "passed" and st[1][0] != "passed" and st[2][0] == "passed", st
    assert st[1][0] != "error" or "nested more than 32 deep" in st[1][1], st


SUBCLASS_CODE = '''
class Shape:
    def area(self):
        return 0
    def describe(self):
        return "%s of area %s" % (type(self).__name__, self.area())
'''

SUBCLASS_TESTS = '''
class Square(Shape):
    def area(self):
        return 4
assert Square().describe() == "Square of area 4"
'''


def test_tests_that_subclass_the_codes_classes_run_in_process_and_say_why():
    r = evaluate(SUBCLASS_CODE, SUBCLASS_TESTS, "--pool")
    assert r["passed"] and r["integrity"] == "in_process", r
    assert any("derives from the code's class Shape" in n for n in r["notes"]), r["notes"]
    p = subprocess.run([binary("llmrepl-eval"), "--json", "--tests-text", SUBCLASS_TESTS,
                        "--criteria", '{"integrity": "split"}', "-"],
                       input=SUBCLASS_CODE, capture_output=True, text=True, timeout=60)
    r = json.loads(p.stdout)
    assert r["passed"] is False and r["violations"][0]["criterion"] == "integrity", r


def test_a_callback_gives_the_code_nothing_of_the_judge():
    # What a lambda of the tests' carries in process (its globals, code,
    # closure: the expected values) does not exist on the code's side; an
    # always-equal object sent to it arrives as a handle, unequal to data.
    code = '''
class Anything:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

def peek(f):
    found = []
    for attr in ("__globals__", "__code__", "__closure__", "__self__", "__defaults__",
                 "__wrapped__", "__dict__"):
        try:
            found.append((attr, repr(getattr(f, attr))[:50]))
        except Exception:
            pass
    return found

def fool(check):
    return check(Anything())
'''
    tests = '''
secret = 12345
assert peek(lambda x: x == secret) == []
assert fool(lambda got: got == secret) is False
'''
    for mode in ([], ["--pool"]):
        r = evaluate(code, tests, *mode)
        assert r["integrity"] == "split" and r["passed"], (mode, r["feedback"], r["run"],
                                                           r["stderr"][-500:])
