"""The C side's judging (worker/eval_report.c, eval_feedback.c) on real harness
answers: verdict, score, criteria, feedback for the model, summary, report."""
import json
import subprocess

import pytest

from conftest import binary
from evalkit import run_harness


def judge(answer, **run):
    """Judge an answer as if the sandbox had produced it with `run`."""
    req = {"answer": answer}
    req.update(run)
    p = subprocess.run([binary("tests/drivers/eval_judge")], input=json.dumps(req),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["rc"] == 0, out["error_msg"]
    return out


def evaluate(code, tests=None, criteria=None, **kw):
    req = {"mode": "evaluate", "code": code, "tests": tests}
    req.update(kw)
    ans = run_harness([req])[0]
    run = {"test_timeout_s": kw.get("test_timeout_s", 3)}
    if criteria is not None:
        run["criteria"] = criteria
    return judge(ans, **run)


CHECK = ("def check(candidate):\n"
         "    assert candidate(1) == 2\n"
         "    assert candidate(7) == 8\n"
         "    assert candidate(None) == 1\n")
INC = "def inc(x):\n    if x > 5:\n        return x\n    return x + 1\n"


def test_assertion_and_exception_feedback():
    out = evaluate(INC, CHECK, entry_point="inc")
    assert not out["passed"] and (out["tests_total"], out["tests_passed"]) == (3, 1)
    fb = out["feedback"]
    assert fb.startswith("2 of 3 tests fail:\n")
    assert "1. assert candidate(7) == 8 (tests line 3)\n   inc(7) returned 7, expected 8\n" in fb
    assert ("2. assert candidate(None) == 1 (tests line 4)\n   inc(None) raised TypeError: '>' "
            "not supported between instances of 'NoneType' and 'int' at line 2 of the code: "
            "if x > 5:\n") in fb
    assert out["error"] == ("2 of 3 tests fail; first: assert candidate(7) == 8 (tests line 3): "
                            "got 7, expected 8")
    assert out["summary"].startswith("failed: 1/3 tests pass; first failure: assert candidate(7)")
    assert 0 < out["score"] < 0.5


def test_passing_code():
    out = evaluate("def inc(x):\n    return x + 1 if x is not None else 1\n", CHECK,
                   entry_point="inc")
    assert out["passed"] and out["error"] is None
    assert out["feedback"] == "All 3 tests pass.\n"
    assert out["summary"] == "passed: 3/3 tests, score 1.00"
    assert out["score"] == 1.0
    r = out["report"]
    assert r["verdict"] == "passed" and r["passed"] is True and r["error"] is None
    assert r["violations"] == [] and r["criteria"]["min_pass_rate"] == 1.0
    assert r["run"]["end"] == "exited" and r["failure"] is None


def test_timeout_feedback():
    out = evaluate("def f(x):\n    while x:\n        pass\n    return x\n",
                   "assert f(0) == 0\nassert f(1) == 1\n", test_timeout_s=0.3)
    assert ("1. assert f(1) == 1 (tests line 2)\n   f(1): did not finish within its 0.3 s limit "
            "at line 2 of the code: while x: (an endless loop, or too slow?)\n") in out["feedback"]


def test_syntax_error_feedback():
    out = evaluate("def f(x):\n    return x +\n", "assert f(1) == 1\n")
    assert out["feedback"] == ("The code does not parse: SyntaxError at line 2, column 15: "
                               "invalid syntax\n    return x +\n")
    assert out["error"] == "SyntaxError at line 2: invalid syntax"
    assert out["summary"] == "failed: SyntaxError at line 2: invalid syntax"
    assert out["score"] == 0.0
    assert out["report"]["failure"]["line"] == 2


def test_wrong_entry_point_feedback_comes_first():
    out = evaluate("def sum_list(xs):\n    return sum(xs)\n",
                   "def check(candidate):\n    assert candidate([1]) == 1\n",
                   entry_point="sum_of_list")
    assert out["feedback"] == (
        "2 of 2 tests fail:\n"
        "1. check(sum_of_list) (tests line 1)\n"
        "   raised EntryPointError: the code does not define 'sum_of_list' (did you mean "
        "'sum_list'?); it defines sum_list\n"
        "1 test did not run: check(sum_of_list) stopped before reaching it.\n")


def test_load_error_feedback():
    out = evaluate("def f():\n    return 1\n\nf(2)\n", "assert f() == 1\n")
    assert out["feedback"].startswith(
        "Running the code raised TypeError: f() takes 0 positional arguments but 1 was given "
        "at line 4 of the code: f(2)\n")
    assert out["error"].startswith("TypeError at line 4: f() takes 0 positional")


def test_memory_error_in_a_test():
    out = evaluate("def f(n):\n    return bytearray(n)\n",
                   "assert len(f(10)) == 10\nassert len(f(1 << 46)) == 1 << 46\n")
    assert ("f(70368744177664) raised MemoryError at line 2 of the code: return bytearray(n) "
            "(out of memory: the limit is 256 MB)") in out["feedback"]


@pytest.mark.parametrize("end,extra,text", [
    ("timeout", {}, "The evaluation failed: the run did not finish within 2 s (an endless "
                    "loop, or far too slow?).\n"),
    ("memory", {}, "The evaluation failed: the run went over the memory limit of 64 MB "
                   "(allocate less: large lists, deep recursion, caches).\n"),
    ("output", {}, "The evaluation failed: the code wrote more output than the 65536 bytes "
                   "allowed.\n"),
    ("signaled", {"signal": 11}, "The evaluation failed: the run was killed by signal 11.\n"),
])
def test_sandbox_limits_without_an_answer(end, extra, text):
    out = judge(None, end=end, timeout_s=2, memory_mb=64, err="Traceback...\nKilled", **extra)
    if end == "signaled":
        text += "Its error output ends with: Traceback... Killed\n"
    elif end in ("timeout", "memory", "output"):
        text += "Its error output ends with: Traceback... Killed\n"
    assert out["feedback"] == text
    assert not out["passed"] and out["score"] == 0.0
    assert out["report"]["status"] == end and out["report"]["run"]["end"] == end


@pytest.mark.parametrize("answer,why", [
    (None, "the evaluation harness wrote no answer"),
    ("not json at all", "the evaluation harness's answer is unusable: not valid JSON"),
    ("[" * 200 + "]" * 200, "nested deeper than 16 levels"),
    ({"status": "ok"}, "the evaluation harness's answer is not a report"),
    ('{"harness": 1, "status": "ok"} trailing', "unusable"),
])
def test_unusable_answers_are_reported_not_trusted(answer, why):
    out = judge(answer, exit_code=0)
    assert not out["passed"] and out["score"] == 0.0
    assert why in out["error"]
    assert out["report"]["status"] == "no_answer"


def test_answer_with_wrong_types_does_not_crash():
    answer = {"harness": 1, "status": "tests_failed", "tests_total": "many", "tests_passed": -5,
              "tests": [5, None, {"name": 7, "status": "failed", "error": "x"},
                        {"name": "x" * 100000, "status": "error",
                         "error": {"type": "E", "message": "m" * 100000, "traceback": 3}}],
              "static": {"pyflakes": {"ran": "yes"}}, "metrics": [], "stdout": 12}
    out = judge(answer)
    assert not out["passed"]
    assert len(out["feedback"]) < 7000 and len(out["summary"]) < 500


def test_criteria_static_thresholds():
    code = ("import os\nimport subprocess\n\n\ndef run(cmd):\n"
            "    subprocess.call(cmd, shell=True)\n    return eval(cmd)\n")
    tests = "assert run('1') == 1\n"
    # Defaults: the static tools inform but do not decide.
    out = evaluate(code, tests)
    assert out["passed"], out["feedback"]
    assert "Worth tidying:\n- line 1: 'os' imported but unused (pyflakes)\n" in out["feedback"]
    out = evaluate(code, tests, criteria={"max_security": "low", "max_lint": 0})
    assert not out["passed"]
    v = {x["criterion"]: x["message"] for x in out["report"]["violations"]}
    assert v["max_security"] == "bandit reports a high-severity finding; at most low allowed"
    assert v["max_lint"] == "1 lint warning; at most 0 allowed"
    fb = out["feedback"]
    assert fb.startswith("Criteria not met:\n* bandit reports a high-severity finding")
    assert "- line 6: subprocess call with shell=True identified, security issue. (bandit B602, high severity)" in fb
    assert "- line 7: Use of possibly insecure function" in fb
    assert "- line 1: 'os' imported but unused (pyflakes)" in fb
    assert out["error"] == "bandit reports a high-severity finding; at most low allowed"


def test_criteria_pass_rate_errors_complexity_time_memory():
    code = ("def f(x):\n    if x == 1:\n        return 1\n    if x == 2:\n        return 2\n"
            "    if x == 3:\n        return 3\n    return 0\n")
    tests = "assert f(1) == 1\nassert f(2) == 2\nassert f(3) == 4\n"
    assert not evaluate(code, tests)["passed"]
    assert evaluate(code, tests, criteria={"min_pass_rate": 0.6})["passed"]
    out = evaluate(code, tests, criteria={"min_pass_rate": 0.6, "max_complexity": 3})
    assert out["report"]["violations"] == [{
        "criterion": "max_complexity",
        "message": "f (line 1) has cyclomatic complexity 4; at most 3 allowed"}]
    out = evaluate("def f(x):\n    return 1 // x\n", "assert f(1) == 1\nassert f(0) == 0\n",
                   criteria={"min_pass_rate": 0.5})
    assert [v["criterion"] for v in out["report"]["violations"]] == ["max_errors"]
    assert evaluate("def f(x):\n    return 1 // x\n", "assert f(1) == 1\nassert f(0) == 0\n",
                    criteria={"min_pass_rate": 0.5, "max_errors": 1})["passed"]
    slow = "import time\ndef f():\n    time.sleep(0.3)\n    return 1\n"
    out = evaluate(slow, "assert f() == 1\n", criteria={"max_time_s": 0.1})
    assert out["report"]["violations"][0]["criterion"] == "max_time_s"
    big = "x = bytearray(40 << 20)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\n"
    out = evaluate(big, criteria={"max_memory_mb": 20})
    assert out["report"]["violations"][0]["criterion"] == "max_memory_mb"
    assert evaluate(big, criteria={"max_memory_mb": 100})["passed"]


def test_criteria_that_need_a_tool_that_did_not_run():
    out = evaluate("x = 1\n", criteria={"max_lint": 3}, static=False)
    assert out["report"]["violations"] == [{"criterion": "max_lint",
                                            "message": "pyflakes did not run"}]


def test_scores_rank_candidates():
    tests = "assert f(1) == 2\nassert f(2) == 3\nassert f(3) == 4\n"
    scores = [evaluate(code, tests)["score"] for code in (
        "def f(x):\n    return x + 1\n",
        "def f(x):\n    return x + 1 if x < 3 else 0\n",
        "def f(x):\n    return 0\n",
        "def f(x):\n    return x +\n",
    )]
    assert scores[0] > scores[1] > scores[2] > scores[3] == 0.0


def test_report_merges_streams_and_keeps_the_run():
    out = judge(run_harness([{"mode": "evaluate", "code": "print('from print')\n"}])[0],
                out="raw write\n", wall_s=0.25)
    r = out["report"]
    assert r["stdout"] == "from print\nraw write\n"
    assert r["run"]["wall_s"] == 0.25 and r["run"]["end"] == "exited"
    assert out["passed"] and out["feedback"] == "The code ran to the end without errors.\n"
