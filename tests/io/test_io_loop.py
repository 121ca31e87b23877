"""Loop jobs on io tasks: the scripted model (the prompts ask for a whole
program reading stdin, the repair prompt shows the first failing input,
expected and actual output) and the bundled real model end to end."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loop"))
from looptools import check_history, fenced, model_loop_system, rules  # noqa: E402
from test_loop_flow import loop  # noqa: E402,F401 - the scripted-model fixture

TASK = "Read two integers a and b from one line and print their sum."
CASES = [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "10 -3\n", "stdout": "7\n"},
         {"stdin": "0 0\n", "stdout": "0\n"}]
WRONG = "a, b = map(int, input().split())\nprint(a - b)\n"
RIGHT = "a, b = map(int, input().split())\nprint(a + b)\n"


def test_scripted_loop_repairs_a_program(loop):
    s, fake = loop(rules(("This attempt is wrong", fenced(RIGHT)), default=fenced(WRONG)))
    jid = s.submit_loop(prompt=TASK, tests={"io": CASES}, max_iterations=3)
    h = s.wait(jid, timeout=120)
    assert h["state"] == "done" and h["passed"] == "1", h
    assert h["code"] == RIGHT
    reqs = [json.dumps(r) for r in fake.requests()]
    first = reqs[0]
    second = next(r for r in reqs if "This attempt is wrong" in r)
    assert "reads its input from standard input" in first
    assert "Input:\\n1 2\\nOutput:\\n3\\n" in first  # two cases shown as examples
    assert "0 0" not in first                         # the third is not
    # the repair prompt carries the first failing case: input, expected, actual
    assert "This attempt is wrong" in second and "wrong output" in second
    assert "Input (stdin):\\n    1 2" in second
    assert "Expected output:\\n    3" in second and "Its output:\\n    -1" in second
    hist, its = check_history(s, jid)
    assert its[0]["passed"] == "0" and its[-1]["passed"] == "1"
    rep = json.loads(its[0]["report"])
    assert rep["form"] == "io" and rep["integrity"] == "split"
    assert [t["status"] for t in rep["tests"]] == ["failed", "failed", "passed"]
    files = s.git(jid).files(hist[-1]["oid"])
    assert json.loads(files["tests.json"])["io"] == CASES
    assert files["solution.py"].decode() == RIGHT


STOPS = {"passed", "max_iterations", "stuck_same_code", "stuck_same_failure", "no_code",
         "budget_tokens"}


@pytest.fixture
def model_system(redis_server, tmp_path, llama_server):
    s = model_loop_system(redis_server, tmp_path, llama_server)
    yield s
    s.stop_all()


def test_loop_on_an_io_task_with_the_bundled_model(model_system):
    s = model_system
    cases = [{"stdin": "4\n", "stdout": "8\n"}, {"stdin": "21\n", "stdout": "42\n"},
             {"stdin": "-5\n", "stdout": "-10\n"}, {"stdin": "0\n", "stdout": "0\n"}]
    jid = s.submit_loop(prompt="Read one integer n from standard input and print n * 2.",
                        tests={"io": cases}, max_iterations=3)
    h = s.wait(jid, timeout=900)
    assert h["state"] == "done", h
    assert h["stop_reason"] in STOPS, h
    print("\nbundled model on an io task: %s after %s iteration(s)\n%s" % (
        h["stop_reason"], int(h.get("iterations", "0")) + 1, h.get("code", "")))
    hist, its = check_history(s, jid)
    assert its and its[0]["phase"] in ("generate", "sample")
    for it in its:
        rep = json.loads(it["report"])
        if rep.get("status") in ("ok", "tests_failed"):  # the program parsed and ran
            assert rep["form"] == "io" and rep["tests_total"] == 4
            assert all("io" in t for t in rep["tests"])
    files = s.git(jid).files(hist[-1]["oid"])
    assert json.loads(files["tests.json"])["io"] == cases
    if h["passed"] == "1":
        assert h["stop_reason"] == "passed" and "input" in h["code"]
