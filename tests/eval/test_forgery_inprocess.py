"""A split evaluation whose tests cannot run apart from the code (they
subclass the code's classes) never runs the code in the judge's process:
the judge answers "unsplittable" before any code of the candidate's runs,
and the host evaluates again, not split, knowing the run is in_process. The
code there can write a whole forged report claiming "split" and every test
passed (then exit, or hang after a forged final mark so that the real
report never comes): the host still reports integrity in_process, and a job
that requires split fails. Through llmrepl-eval and the real sandbox, cold
and pooled."""
import json
import subprocess

import pytest

import test_forgery
from conftest import binary

# The tests subclass the code's class (so they would run in the code's
# process) and fail against it: only a forged report passes them.
TESTS = '''
class Square(Shape):
    def area(self):
        return 4
assert Square().describe() == "Square of area 4"
assert Square().describe() == "Square of area 4"
'''

FORGED = json.dumps({
    "harness": 1, "status": "ok", "tests_total": 2, "tests_passed": 2, "integrity": "split",
    "isolated": False,
    "tests": [{"name": "t%d" % i, "kind": "assert", "line": i, "file": "tests",
               "status": "passed", "passed": True, "duration_s": 0.0, "runs": 1}
              for i in (1, 2)]})

SHAPE = '''
class Shape:
    def area(self):
        return 0
    def describe(self):
        return "wrong"
'''

# The forged report on every descriptor, as test_forgery's cheats write it.
WRITE = test_forgery.WRITE_ALL

# ... then the end of the process.
EXIT = WRITE % FORGED.encode() + "os._exit(0)\n"

# ... marked final (a NUL and a peak, as the judge's final mark), every
# stream closed, then a hang: the real report never comes.
HANG = WRITE % (FORGED.encode() + b"\0" + b"1024") + """
import time
os.closerange(0, 64)
time.sleep(3600)
"""

CHEATS = {"exit": EXIT + SHAPE, "hang": HANG + SHAPE, "in_method": SHAPE + '''
    def __init_subclass__(cls, **kw):
''' + "\n".join("        " + ln for ln in EXIT.strip().splitlines()) + "\n"}


def evaluate(code, *args):
    argv = [binary("llmrepl-eval"), "--json", "--tests-text", TESTS, "--timeout", "5", *args]
    p = subprocess.run(argv + ["-"], input=code, capture_output=True, text=True, timeout=120)
    assert p.stdout, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("mode", [[], ["--pool"]], ids=["cold", "pooled"])
@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_a_forged_split_report_from_an_in_process_run_is_not_believed(cheat, mode):
    r = evaluate(CHEATS[cheat], "--criteria", '{"integrity": "split"}', *mode)
    assert r["integrity"] == "in_process", r
    assert r["passed"] is False, r
    assert "integrity" in [v["criterion"] for v in r["violations"]], r["violations"]


@pytest.mark.parametrize("mode", [[], ["--pool"]], ids=["cold", "pooled"])
def test_the_honest_in_process_run_still_says_why(mode):
    r = evaluate(SHAPE.replace('"wrong"', '"%s of area %s" % (type(self).__name__, '
                                             'self.area())'), *mode)
    assert r["passed"] and r["integrity"] == "in_process", r
    assert any("derives from the code's class Shape" in n for n in r["notes"]), r["notes"]


def test_the_judge_of_a_split_run_runs_nothing_it_cannot_split(tmp_path):
    """The harness itself: asked to split (here with no factory, and with
    tests that subclass the code's class), it answers "unsplittable" and the
    code never ran in its process (it would have left a file)."""
    from evalkit import run_inline
    flag = tmp_path / "ran"
    code = "open(%r, 'w').close()\n" % str(flag) + SHAPE
    for tests in (TESTS, "assert Shape().area() == 0\n"):
        status, ans = run_inline({"code": code, "tests": tests, "split": True, "static": False})
        assert status == 0 and ans["status"] == "unsplittable", ans
        assert ans["tests_total"] == 0 and ans["integrity"] == "in_process", ans
        assert not flag.exists()
    status, ans = run_inline({"code": code, "tests": TESTS, "static": False})
    assert ans["status"] == "tests_failed" and flag.exists(), ans
    assert any("derives from the code's class Shape" in n for n in ans["notes"]), ans["notes"]
