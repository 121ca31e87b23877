"""The code's own docstring examples (run when an item has no tests, or
with doctests "always") are the code's author's text: under the split they
run in the candidate's process, never in the judge's. An example that
writes a forged passing report to the judge's answer descriptor, or to
every descriptor, and exits, reaches only its own process; the verdict is
the honest one, the example's output compared by doctest's rules. Ordinary
examples are judged and reported as before (build/llmrepl-eval, the real
sandbox, cold, pooled, isolated and grouped)."""
import json
import os
import subprocess

import pytest

from conftest import binary
from test_group import _batch

# A passing report as the harness writes it (one passing doctest case).
FORGED = json.dumps({
    "harness": 1, "status": "ok", "tests_total": 1, "tests_passed": 1, "integrity": "split",
    "forms": ["doctest"],
    "tests": [{"name": "module: >>> x", "kind": "doctest", "line": 3, "file": "solution",
               "status": "passed", "passed": True, "duration_s": 0.0, "runs": 1}]})


def doc(example):
    """Code whose one docstring example is `example` (source lines), with a
    wrong expected output: honestly judged, it fails."""
    lines = example.strip("\n").splitlines()
    body = "\n    ".join((">>> " if i == 0 else "... ") + ln for i, ln in enumerate(lines))
    return 'def add(a, b):\n    r"""\n    %s\n    3\n    """\n    return a - b\n' % body


EVERY_FD = """import os
for fd in range(0, 256):
    try:
        os.write(fd, %r.encode())
    except OSError:
        pass
""" % FORGED

FORGERIES = {
    "write_fd3": "import os; os.write(3, %r.encode()); add(1, 2)" % FORGED,
    "write_fd3_exit": "import os; os.write(3, %r.encode()); os._exit(0)" % FORGED,
    "write_every_fd": "exec(%r)" % EVERY_FD,
    "write_every_fd_exit": "exec(%r); __import__('os')._exit(0)" % EVERY_FD,
    "open_fd3": "with open(3, 'w') as f:\n    f.write(%r)\n" % FORGED,
}

MODES = [[], ["--pool"], ["--isolate", "--pool"]]


def evaluate(code, *args, tests="", env=None):
    argv = [binary("llmrepl-eval"), "--json", "--tests-text", tests, *args, "-"]
    p = subprocess.run(argv, input=code, capture_output=True, text=True, timeout=120,
                       env=env)
    assert p.stdout, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_docstring_example_cannot_forge_the_verdict(name, mode):
    r = evaluate(doc(FORGERIES[name]), *mode)
    assert r["passed"] is False, r
    assert r["integrity"] == "split" and r["forms"] == ["doctest"], r
    assert r["tests_total"] == 1 and r["tests_passed"] == 0, r
    t = r["tests"][0]
    # Where it runs, fd 3 is its own end of its socket to the judge: the
    # forgery breaks that exchange, and the example is a crash.
    assert t["status"] == "crashed", t


def test_with_doctests_always_beside_tests(mode=()):
    code = doc(FORGERIES["write_every_fd"])
    r = evaluate(code, "--doctests", "always", tests="assert add(1, 2) == -1")
    assert r["integrity"] == "split" and r["passed"] is False, r
    assert (r["tests_total"], r["tests_passed"]) == (2, 1), r


CODE = '''
import os
import time

UID = os.getuid()

def sq(x):
    """Square.

    >>> sq(2)
    4
    >>> sq(3)
    10
    >>> sq("a")
    Traceback (most recent call last):
    TypeError: can't multiply sequence by non-int of type 'str'
    >>> sq("b")
    Traceback (most recent call last):
    TypeError: unsupported
    >>> sq(None)
    4
    >>> sq.__name__ + "!"   # doctest: +ELLIPSIS
    'sq...'
    >>> list(range(12))  # doctest: +NORMALIZE_WHITESPACE
    [0, 1, 2, 3, 4, 5,
     6, 7, 8, 9, 10, 11]
    >>> shout("hi")
    HI
    >>> y = sq(5)
    >>> y + 1
    26
    >>> sq("c")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    TypeError: whatever it says
    >>> sq(1)  # doctest: +SKIP
    99
    """
    return x * x


def shout(s):
    """
    >>> y
    Traceback (most recent call last):
    NameError: name 'y' is not defined
    >>> os.getuid() == UID
    True
    """
    print(s.upper())


def slow():
    """
    >>> slow()
    1
    >>> 1 + 1
    2
    """
    while True:
        time.sleep(0.01)
'''


def outcomes(r):
    return {t["name"]: t for t in r["tests"]}


@pytest.mark.parametrize("mode", MODES)
def test_the_codes_doctests_are_judged_as_before(mode):
    r = evaluate(CODE, "--timeout", "30", "--test-timeout", "1", *mode)
    assert r["integrity"] == "split" and r["forms"] == ["doctest"], r
    t = outcomes(r)
    st = {name.split(">>> ", 1)[1]: c["status"] for name, c in t.items()}
    assert st == {
        "sq(2)": "passed", "sq(3)": "failed", 'sq("a")': "passed", 'sq("b")': "failed",
        "sq(None)": "error", 'sq.__name__ + "!" # doctest: +ELLIPSIS': "passed",
        "list(range(12)) # doctest: +NORMALIZE_WHITESPACE": "passed",
        'shout("hi")': "passed", "y = sq(5)": "passed", "y + 1": "passed",
        'sq("c") # doctest: +IGNORE_EXCEPTION_DETAIL': "passed",
        "sq(1) # doctest: +SKIP": "skipped", "y": "passed", "slow()": "timeout",
        "1 + 1": "passed", "os.getuid() == UID": "passed"}, st
    assert (r["tests_total"], r["tests_passed"]) == (15, 11)
    bad = [c for n, c in t.items() if n.endswith(">>> sq(3)")][0]
    assert bad["file"] == "solution" and bad["line"] == 12
    assert (bad["assertion"]["expected"], bad["assertion"]["actual"]) == ("10", "9")
    exc = [c for n, c in t.items() if n.endswith('>>> sq("b")')][0]
    assert exc["assertion"]["expected"].endswith("TypeError: unsupported")
    assert exc["assertion"]["actual"].endswith(
        "TypeError: can't multiply sequence by non-int of type 'str'")
    boom = [c for n, c in t.items() if n.endswith(">>> sq(None)")][0]
    assert boom["error"]["type"] == "TypeError" and boom["error"]["solution_line"] == 38
    hung = [c for n, c in t.items() if n.endswith(">>> slow()")][0]
    assert hung["error"]["type"] == "Timeout"
    # The examples ran where the code did (the same uid as its import).
    # What an example prints is its output, compared, not the run's stdout.
    assert "HI" not in (r.get("stdout") or "")


def test_in_process_the_same_cases():
    env = dict(os.environ, LLMREPL_SPLIT="0")
    r = evaluate(CODE, "--timeout", "30", "--test-timeout", "1", env=env)
    assert r["integrity"] == "in_process" and r["forms"] == ["doctest"], r
    split = evaluate(CODE, "--timeout", "30", "--test-timeout", "1")
    assert [(t["name"], t["status"]) for t in r["tests"]] == \
        [(t["name"], t["status"]) for t in split["tests"]]
    assert [t.get("assertion") for t in r["tests"]] == \
        [t.get("assertion") for t in split["tests"]]
    assert [(t.get("error") or {}).get("message") for t in r["tests"]] == \
        [(t.get("error") or {}).get("message") for t in split["tests"]]
    assert (r["tests_total"], r["tests_passed"]) == (split["tests_total"], split["tests_passed"])


# ---- grouped: several evaluations in one pooled run (llmrepl_group) ----------

def test_grouped_and_alone_the_forgeries_fail(tmp_path):
    honest = 'def add(a, b):\n    """\n    >>> add(1, 2)\n    3\n    """\n    return a + b\n'
    jobs = [{"id": name, "code": doc(src)} for name, src in sorted(FORGERIES.items())]
    jobs.append({"id": "honest", "code": honest})
    for group in ("1", str(len(jobs))):
        out = _batch(tmp_path, jobs, "--group", group)
        for o in out:
            r = o["report"]
            assert r["integrity"] == "split" and r["forms"] == ["doctest"], (group, o)
            assert o["passed"] is (o["id"] == "honest"), (group, o)
            assert o["tests_passed"] == (1 if o["id"] == "honest" else 0), (group, o)
            assert ("group" in r["run"]) is (group != "1"), (group, r["run"])


# The example speaks for its worker itself, on the worker's own socket: any
# answer that is not the data an example's answer is (output, and the
# exception's line only with an exception) is a crash, never a pass.
LIES = {
    "ok_with_an_exception": '["ok", ["n"], "3\\n", "", "ValueError: x\\n"]',
    "a_call_answer": '["ok", ["n"], "3\\n", ""]',
    "a_callback": '["cb", 1, [], []]',
    "output_not_text": '["ok", ["n"], ["s", "3\\n"], "", None]',
}


@pytest.mark.parametrize("lie", sorted(LIES))
def test_a_malformed_answer_from_the_example_is_a_crash(lie):
    src = ("import gc, sys; w = [o for o in gc.get_objects() if type(o).__name__ == 'Worker']"
           "[0]; sys.modules['llmrepl_wire'].send(w.sock, %s)" % LIES[lie])
    r = evaluate(doc(src))
    assert r["integrity"] == "split" and r["passed"] is False, r
    assert [t["status"] for t in r["tests"]] == ["crashed"], r["tests"]
    assert "malformed" in r["tests"][0]["error"]["message"] or lie == "a_callback", r["tests"]
