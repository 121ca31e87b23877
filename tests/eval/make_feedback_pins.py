"""Write tests/eval/feedback_pins.json: recorded evaluations and the exact
feedback, summary and error the judge (worker/eval_feedback.c) makes of each.

test_feedback_pins.py replays them and asks for the same bytes, so a change to
how the text is built cannot change the text unnoticed. Run this only for a
deliberate change to the text (and read the diff of the .json):
    /usr/bin/python3 tests/eval/make_feedback_pins.py
The answers come from the real harness (sandbox/py/llmrepl_harness.py), plus
edited copies of them for the branches a harness rarely reaches (clipping at
the caps, unknown statuses, io cases, the run's own failure)."""
import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from evalkit import run_harness  # noqa: E402
from test_judge import judge  # noqa: E402

PINS = HERE / "feedback_pins.json"

CHECK = ("def check(candidate):\n"
         "    assert candidate(1) == 2\n"
         "    assert candidate(7) == 8\n"
         "    assert candidate(None) == 1\n")
INC = "def inc(x):\n    if x > 5:\n        return x\n    return x + 1\n"
STATIC = ("import os\nimport subprocess\n\n\ndef run(cmd):\n"
          "    subprocess.call(cmd, shell=True)\n    return eval(cmd)\n")
COMPLEX = "def f(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n"
                                   for i in range(12)) + "    return y\n"
MANY = "".join(f"assert f({i}) == {i + 1}, 'case {i}'\n" for i in range(9))

# name, harness request, judge's run fields
HARNESS = [
    ("assertion_and_exception", {"code": INC, "tests": CHECK, "entry_point": "inc"}, {}),
    ("passing", {"code": "def inc(x):\n    return x + 1 if x is not None else 1\n",
                 "tests": CHECK, "entry_point": "inc"}, {}),
    ("no_tests_passing", {"code": "print('hi')\n"}, {}),
    ("timeout_in_test", {"code": "def f(x):\n    while x:\n        pass\n    return x\n",
                         "tests": "assert f(0) == 0\nassert f(1) == 1\n",
                         "test_timeout_s": 0.3}, {"test_timeout_s": 0.3}),
    ("syntax_error", {"code": "def f(x):\n    return x +\n", "tests": "assert f(1) == 1\n"}, {}),
    ("entry_point", {"code": "def sum_list(xs):\n    return sum(xs)\n",
                     "tests": "def check(candidate):\n    assert candidate([1]) == 1\n",
                     "entry_point": "sum_of_list"}, {}),
    ("load_error", {"code": "def f():\n    return 1\n\nf(2)\n", "tests": "assert f() == 1\n"}, {}),
    ("load_timeout", {"code": "while True:\n    pass\n", "tests": "assert 1\n",
                      "test_timeout_s": 0.3}, {"timeout_s": 1}),
    ("memory_error", {"code": "def f(n):\n    return bytearray(n)\n",
                      "tests": "assert len(f(10)) == 10\nassert len(f(1 << 46)) == 1 << 46\n"},
     {}),
    ("static_defaults", {"code": STATIC, "tests": "assert run('1') == 1\n"}, {}),
    ("static_criteria", {"code": STATIC, "tests": "assert run('1') == 1\n"},
     {"criteria": {"max_security": "low", "max_lint": 0, "max_static_errors": 0}}),
    ("undefined_name", {"code": "def f(x):\n    return x + 1\n\n\ndef g():\n    return y\n",
                        "tests": "assert f(1) == 3\n"}, {}),
    ("complexity", {"code": COMPLEX, "tests": "assert f(3) == 3\n"}, {}),
    ("complexity_criterion", {"code": COMPLEX, "tests": "assert f(3) == 3\n"},
     {"criteria": {"max_complexity": 3}}),
    ("many_failures", {"code": "def f(x):\n    print('f of', x)\n    return x\n",
                       "tests": MANY}, {}),
    ("plain_asserts", {"code": "def f(x):\n    return [x]\n",
                       "tests": "assert f(1) == [2]\nassert len(f(1)) > 3\n"
                                "x = f(2)\nassert x[0] == 3, 'x is ' + str(x)\n"
                                "assert f(1) is None\nassert not f(1)\n"}, {}),
    ("errors_pass_rate", {"code": "def f(x):\n    return 1 // x\n",
                          "tests": "assert f(1) == 1\nassert f(0) == 0\n"},
     {"criteria": {"min_pass_rate": 0.5}}),
    ("empty", {"code": "", "tests": "assert f(1) == 1\n"}, {}),
    ("bad_tests", {"code": "def f(x):\n    return x\n", "tests": "assert f(1) ==\n"}, {}),
    ("slow", {"code": "import time\ndef f():\n    time.sleep(0.3)\n    return 1\n",
              "tests": "assert f() == 1\n"}, {"criteria": {"max_time_s": 0.1}}),
    ("check_with_message", {"code": "def f(x):\n    return x * 2\n",
                            "tests": "def check(candidate):\n"
                                     "    assert candidate(2) == 5, 'doubling 2'\n"
                                     "    assert candidate(3) == 6\n"}, {}),
    ("recursion", {"code": "def f(x):\n    return f(x + 1)\n", "tests": "assert f(1) == 2\n"},
     {}),
    ("unicode_values", {"code": "def f(s):\n    return s[::-1] + '\\u00e9\\u4e2d\\t\\x01'\n",
                        "tests": "assert f('ab\\u00e9') == 'x'\n"}, {}),
]


def long_values(ans):
    """Every string of the failing tests' assertions and errors long (with
    multi-byte characters at the cuts), and 12 failing tests: the text
    reaches its cap."""
    ans = copy.deepcopy(ans)
    base = next(t for t in ans["tests"] if t.get("status") != "passed")
    ans["tests"] = []
    for i in range(12):
        t = copy.deepcopy(base)
        t["name"] = f"test {i} " + "\u00e9" * 400
        for key in ("assertion", "error"):
            for k, v in (t.get(key) or {}).items():
                if isinstance(v, str):
                    t[key][k] = (v + " \u4e2d\n") * 40
        t["assertion"]["message"] = "why \u00e9 " * 80
        t["stdout"] = "printed \u00e9\n" * 30
        ans["tests"].append(t)
    ans["tests_total"] = 12
    ans["tests_passed"] = 0
    return ans


def edited(answers):
    """Answers the harness rarely writes, made from real ones."""
    out = []
    a = answers["assertion_and_exception"]
    out.append(("long_values", long_values(a), {}))
    for status in ("too_big", "memory", "crashed", "bad_request"):
        x = copy.deepcopy(answers["empty"])
        x["status"] = status
        out.append((f"failure_{status}", x, {"memory_mb": 77}))
    x = copy.deepcopy(answers["empty"])
    x["error"] = None
    x["status"] = "crashed"
    out.append(("not_run_without_failure", x, {}))
    x = copy.deepcopy(answers["syntax_error"])
    x["error"]["message"] = "m" * 500
    x["error"]["code"] = "c" * 500
    x["error"]["col"] = 0
    x["error"]["type"] = None
    out.append(("syntax_error_long", x, {}))
    x = copy.deepcopy(a)
    for t in x["tests"]:
        if t.get("status") == "failed":
            t["status"] = "crashed"
            t["error"] = {"message": "the test crashed"}
        elif t.get("status") == "passed":
            t["status"] = "output"
            t["passed"] = False
            t["error"] = None
        elif t.get("status") == "error":
            t.pop("assertion", None)
            t["status"] = "failed"
    x["tests_passed"] = 0
    out.append(("other_case_statuses", x, {}))
    x = copy.deepcopy(a)
    for t in x["tests"]:
        if t.get("assertion"):
            t["assertion"] = {"left": "f(1)", "right": "2", "op": None}
        if t.get("status") == "error":
            t["status"] = "timeout"
            t["error"] = {"type": "TimeoutError"}
    out.append(("left_right_and_bare_timeout", x, {}))
    x = copy.deepcopy(a)
    for t in x["tests"]:
        if t.get("assertion"):
            t["assertion"] = {"expected": "2", "actual": "3", "message": "no call"}
        if t.get("status") == "error":
            t.pop("assertion", None)
            t["error"]["type"] = "MemoryError"
    out.append(("expected_actual_and_raised", x, {"memory_mb": 33}))
    x = copy.deepcopy(a)
    x["tests"] = [
        {"name": "case 1", "status": "passed", "passed": True, "form": "io"},
        {"name": "case 2", "status": "failed", "passed": False, "form": "io",
         "error": {"type": "WrongAnswer", "message": 'token 1 (line 1): expected "3", got "4"'},
         "io": {"detail": True, "stdin": "1 2\n", "expected": "3\n", "actual": "4\n",
                "stderr": "warn\n", "stdin_bytes": 4, "expected_bytes": 2, "actual_bytes": 2}},
        {"name": "case 3", "status": "error", "passed": False, "form": "io",
         "error": {"type": "EOFError", "message": "EOF when reading a line", "line": 1},
         "io": {"detail": False}},
        {"name": "case 4", "status": "timeout", "passed": False, "form": "io", "error": {},
         "io": {}},
    ]
    x["tests_total"], x["tests_passed"] = 4, 1
    out.append(("io_cases", x, {}))
    for end in ("timeout", "memory", "output", "signaled", "error"):
        out.append((f"run_{end}", None, {"end": end, "signal": 9, "timeout_s": 2,
                                         "memory_mb": 64, "err": "x\u00e9" * 400 + "Killed"}))
    out.append(("run_exited_no_answer", None, {"err": "short"}))
    return out


def main():
    reqs = [dict({"mode": "evaluate"}, **r) for _, r, _ in HARNESS]
    got = run_harness(reqs)
    answers = {name: ans for (name, _, _), ans in zip(HARNESS, got)}
    cases = [(name, answers[name], run) for name, _, run in HARNESS] + edited(answers)
    pins = []
    for name, ans, run in cases:
        req = dict(run, answer=ans)
        r = judge(ans, **run)
        pins.append({"name": name, "request": req, "feedback": r["feedback"],
                     "summary": r["summary"], "error": r["error"]})
    PINS.write_text(json.dumps(pins, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(pins)} pins written to {PINS}")


if __name__ == "__main__":
    main()
