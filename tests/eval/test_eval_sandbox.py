"""Evaluation end to end through the real sandbox: build/llmrepl-eval, one file
cold or on the pool, and batches on the pool (HumanEval)."""
import json
import os
import subprocess

import pytest

from conftest import binary

INC = "def inc(x):\n    if x > 5:\n        return x\n    return x + 1\n"
CHECK = ("def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(7) == 8\n"
         "    assert candidate(None) == 1\n")


# The code and the tests in one process (no candidate factory): the isolated
# retry and the in-process timers are what handle what the code does.
IN_PROCESS = {"LLMREPL_SPLIT": "0"}


def run(tmp_path, code, *args, tests=None, env=None, timeout=120):
    cf = tmp_path / "solution.py"
    cf.write_text(code)
    argv = [binary("llmrepl-eval"), *args]
    if tests is not None:
        tf = tmp_path / "tests.py"
        tf.write_text(tests)
        argv += ["--tests", str(tf)]
    argv.append(str(cf))
    e = dict(os.environ, **(env or {}))
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=e)


def report(tmp_path, code, *args, tests=None, **kw):
    p = run(tmp_path, code, "--json", *args, tests=tests, **kw)
    assert p.returncode in (0, 1), p.stderr
    r = json.loads(p.stdout)
    assert r["passed"] == (p.returncode == 0)
    return r


def test_passing_and_failing_exit_status(tmp_path):
    good = run(tmp_path, "def inc(x):\n    return x + 1 if x is not None else 1\n",
               "--entry-point", "inc", tests=CHECK)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith("passed: 3/3 tests, score 1.00\n\nAll 3 tests pass.\n")
    assert "sandbox:  exited" in good.stdout and "seccomp" in good.stdout
    bad = run(tmp_path, INC, "--entry-point", "inc", tests=CHECK)
    assert bad.returncode == 1
    assert "inc(7) returned 7, expected 8" in bad.stdout
    assert "inc(None) raised TypeError" in bad.stdout and "at line 2 of the code" in bad.stdout


def test_usage_errors(tmp_path):
    p = run(tmp_path, "x = 1\n", "--criteria", '{"max_lnt": 1}')
    assert p.returncode == 2
    assert 'unknown key "max_lnt" (did you mean "max_lint"?)' in p.stderr
    p = run(tmp_path, "x = 1\n", "--criteria", "{not json")
    assert p.returncode == 2 and "--criteria" in p.stderr
    p = subprocess.run([binary("llmrepl-eval")], capture_output=True, text=True)
    assert p.returncode == 2 and "Usage:" in p.stderr
    p = subprocess.run([binary("llmrepl-eval"), str(tmp_path / "missing.py")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "No such file" in p.stderr


def test_sandbox_that_cannot_start_is_exit_3(tmp_path):
    p = run(tmp_path, "x = 1\n", env={"LLMREPL_SANDBOX_PY": str(tmp_path / "nowhere")})
    assert p.returncode == 3
    assert "sandbox" in p.stderr


@pytest.mark.parametrize("pool", [False, True])
def test_report_through_the_sandbox(tmp_path, pool):
    r = report(tmp_path, INC + "print('loaded')\n", "--entry-point", "inc",
               *(["--pool"] if pool else []), tests=CHECK)
    assert (r["tests_total"], r["tests_passed"], r["verdict"]) == (3, 1, "failed")
    assert r["stdout"] == "loaded\n"
    assert r["run"]["end"] == "exited" and r["run"]["retried_isolated"] is None
    assert r["isolated"] is False
    assert r["static"]["radon"]["functions"][0]["name"] == "inc"
    assert r["error"].startswith("2 of 3 tests fail; first: assert candidate(7) == 8")
    assert r["criteria"]["min_pass_rate"] == 1.0 and r["violations"]
    assert 0 < r["score"] < 1


def test_each_test_form_through_the_sandbox(tmp_path):
    code = ('def double(x):\n    """Twice x.\n\n    >>> double(2)\n    4\n    """\n'
            '    return 2 * x\n')
    tests = ("import unittest\n"
             "assert double(1) == 2\n"
             "def test_double():\n    assert double(3) == 6\n"
             "class T(unittest.TestCase):\n"
             "    def test_zero(self):\n        self.assertEqual(double(0), 0)\n")
    r = report(tmp_path, code, tests=tests)
    assert r["forms"] == ["asserts", "pytest", "unittest"]
    assert (r["tests_total"], r["tests_passed"]) == (3, 3)
    r = report(tmp_path, code)  # no tests: the docstring's example
    assert r["forms"] == ["doctest"] and r["tests_passed"] == 1
    r = report(tmp_path, code, "--tests-text", ">>> double(5)\n11\n")
    assert r["tests"][0]["assertion"]["actual"] == "10"


def test_hanging_tests_among_passing_ones(tmp_path):
    code = ("import time\n"
            "def f(x):\n"
            "    while x == 2:\n        pass\n"
            "    while x == 3:\n"
            "        try:\n            time.sleep(1)\n        except BaseException:\n"
            "            pass\n"
            "    return x\n")
    # An endless loop is interrupted in the sandbox's own process.
    r = report(tmp_path, code, "--test-timeout", "0.5", env=IN_PROCESS,
               tests="assert f(1) == 1\nassert f(2) == 2\nassert f(4) == 4\n")
    assert [t["status"] for t in r["tests"]] == ["passed", "timeout", "passed"]
    assert r["run"]["retried_isolated"] is None
    # One that swallows its interruption is run again isolated and killed.
    r = report(tmp_path, code, "--test-timeout", "0.5", env=IN_PROCESS,
               tests="assert f(1) == 1\nassert f(3) == 3\nassert f(4) == 4\n")
    assert [t["status"] for t in r["tests"]] == ["passed", "timeout", "passed"]
    assert "status 75" in r["run"]["retried_isolated"] and r["isolated"] is True
    assert "its process was killed" in r["feedback"]
    # Split, the candidate's process is killed and restarted; no retry.
    for mode in ([], ["--pool"]):
        r = report(tmp_path, code, "--test-timeout", "0.5", *mode,
                   tests="assert f(1) == 1\nassert f(2) == 2\nassert f(3) == 3\n"
                         "assert f(4) == 4\n")
        assert [t["status"] for t in r["tests"]] == ["passed", "timeout", "timeout", "passed"]
        assert r["run"]["retried_isolated"] is None and r["integrity"] == "split"
        assert "f(2): did not finish within its 0.5 s limit at line 3 of the code" in r["feedback"]


def test_crash_in_one_test_costs_that_test(tmp_path):
    code = "import os\ndef f(x):\n    if x == 2:\n        os._exit(7)\n    return x\n"
    tests = "assert f(1) == 1\nassert f(2) == 2\nassert f(3) == 3\n"
    r = report(tmp_path, code, tests=tests, env=IN_PROCESS)
    assert [t["status"] for t in r["tests"]] == ["passed", "crashed", "passed"]
    assert "exited with status 7" in r["run"]["retried_isolated"]
    for mode in ([], ["--pool"]):
        r = report(tmp_path, code, *mode, tests=tests)
        assert [t["status"] for t in r["tests"]] == ["passed", "crashed", "passed"]
        assert r["run"]["retried_isolated"] is None and r["integrity"] == "split"


def test_memory_limit(tmp_path):
    r = report(tmp_path, "def f(n):\n    return len(bytearray(n))\n", "--memory", "64",
               tests="assert f(10) == 10\nassert f(300 << 20) == 300 << 20\n")
    bad = r["tests"][1]
    assert bad["error"]["type"] == "MemoryError"
    assert "(out of memory: the limit is 64 MB)" in r["feedback"]
    r = report(tmp_path, "x = bytearray(300 << 20)\n", "--memory", "64")
    assert r["feedback"].startswith("Running the code raised MemoryError at line 1 of the code")


def test_output_flood_is_the_sandbox_limit(tmp_path):
    r = report(tmp_path, "import os\nwhile True:\n    os.write(1, b'x' * 65536)\n")
    assert r["run"]["end"] == "output" and r["status"] == "output"
    assert r["feedback"].startswith("The evaluation failed: the code wrote more output than")
    # Printing (not writing to the descriptor) is captured and capped instead.
    r = report(tmp_path, "for i in range(100000):\n    print('x' * 100)\n")
    assert r["passed"] and r["stdout_truncated"]


def test_syntax_error_and_empty_code(tmp_path):
    r = report(tmp_path, "def f(:\n    pass\n")
    assert r["status"] == "syntax_error" and r["failure"]["line"] == 1
    assert r["feedback"].startswith("The code does not parse: SyntaxError at line 1")
    r = report(tmp_path, "# nothing\n")
    assert r["status"] == "empty" and not r["passed"]
    # Parses, does not compile: the code's error in the sandboxed run too.
    r = report(tmp_path, "x = 1\nreturn x\n", tests="assert True\n")
    assert r["status"] == "syntax_error" and r["failure"]["line"] == 2, r
    assert r["feedback"].startswith("The code does not parse: SyntaxError at line 2"), r


def test_code_over_the_size_limit_is_not_run(tmp_path):
    r = report(tmp_path, "x = 1\n" * 200000)
    assert r["status"] == "too_big" and r["run"]["wall_s"] == 0
    assert r["error"] == "TooBig: the code is 1200000 bytes, over the limit of 1048576"


def test_code_on_stdin(tmp_path):
    p = subprocess.run([binary("llmrepl-eval"), "--json", "-"], input="print(6 * 7)\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and json.loads(p.stdout)["stdout"] == "42\n"


def _batch(tmp_path, jobs, *args, status=(0, 1)):
    f = tmp_path / "batch.jsonl"
    f.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    p = subprocess.run([binary("llmrepl-eval"), "--batch", str(f), *args], capture_output=True,
                       text=True, timeout=900)
    assert p.returncode in status, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_humaneval_on_the_pool(tmp_path, humaneval):
    jobs = [{"id": "c" + p["task_id"], "code": p["prompt"] + p["canonical_solution"],
             "tests": p["test"], "entry_point": p["entry_point"]} for p in humaneval]
    jobs += [{"id": "p" + p["task_id"], "code": p["prompt"], "tests": p["test"],
              "entry_point": p["entry_point"]} for p in humaneval]
    out = _batch(tmp_path, jobs, "--jobs", "2")
    assert [o["id"] for o in out] == [j["id"] for j in jobs]
    wrong = [(o["id"], o.get("summary"), o.get("error")) for o in out
             if o.get("passed") != o["id"].startswith("c")]
    assert wrong == []


def test_batch_line_errors(tmp_path):
    out = _batch(tmp_path, [{"id": 1, "code": "x = 1\n"}, {"id": 2, "tests": "assert 1\n"},
                            {"id": 3, "code": "x = 1\n", "criteria": {"max_lint": "x"}}],
                 status=(2,))  # a line that could not be evaluated: a usage error
    assert out[0]["passed"] is True
    assert out[1]["error"] == 'no "code" string'
    assert out[2]["error"].startswith("criteria.max_lint: expected an integer")


def _mutant(p, old, new):
    sol = p["canonical_solution"]
    assert old in sol, (p["task_id"], old)
    return p["prompt"] + sol.replace(old, new, 1)


def _case(report, fragment):
    hits = [t for t in report["tests"] if fragment in t["name"]]
    assert len(hits) == 1, (fragment, [t["name"] for t in report["tests"]])
    return hits[0]


def test_humaneval_mutants_fail_on_the_right_test(tmp_path, humaneval):
    strlen, trunc, mad, gcd = humaneval[23], humaneval[2], humaneval[4], humaneval[13]
    jobs = [
        (strlen, _mutant(strlen, "return len(string)",
                         "return len(string) - (1 if len(string) > 5 else 0)")),
        (trunc, _mutant(trunc, "number % 1.0", "number // 1.0")),
        (mad, _mutant(mad, "sum(numbers) / len(numbers)", "sum(numbers) / (len(numbers) - 4)")),
        (gcd, _mutant(gcd, "a, b = b, a % b", "a, b = (b, a % b) if a != 10 else (a, b)")),
    ]
    out = _batch(tmp_path, [{"id": p["task_id"], "code": code, "tests": p["test"],
                             "entry_point": p["entry_point"]} for p, code in jobs],
                 "--json", "--test-timeout", "0.5")
    r_strlen, r_trunc, r_mad, r_gcd = [o["report"] for o in out]

    # strlen: only the long string fails, with the values.
    assert (r_strlen["tests_total"], r_strlen["tests_passed"]) == (3, 2)
    bad = _case(r_strlen, "candidate('asdasnakj')")
    assert bad["assertion"]["call"] == "strlen('asdasnakj')"
    assert (bad["assertion"]["actual"], bad["assertion"]["expected"]) == ("8", "9")
    assert "strlen('asdasnakj') returned 8, expected 9" in r_strlen["feedback"]

    # truncate_number: every line fails; the first shows both sides.
    assert r_trunc["tests_passed"] == 0
    first = _case(r_trunc, "candidate(3.5) == 0.5")
    assert (first["assertion"]["actual"], first["assertion"]["expected"]) == ("3.0", "0.5")
    close = _case(r_trunc, "candidate(1.33)")
    assert (close["assertion"]["call"], close["assertion"]["actual"]) == (
        "truncate_number(1.33)", "1.0")

    # mean_absolute_deviation: the 4-element list divides by zero on the mutated line.
    zero = _case(r_mad, "candidate([1.0, 2.0, 3.0, 4.0])")
    assert zero["status"] == "error" and zero["error"]["type"] == "ZeroDivisionError"
    assert zero["error"]["solution_line"] == mad["prompt"].count("\n") + 1
    assert _case(r_mad, "candidate([1.0, 2.0, 3.0])")["status"] == "failed"

    # gcd: hangs for a == 10 only; the other asserts still pass.
    assert (r_gcd["tests_total"], r_gcd["tests_passed"]) == (4, 3)
    assert _case(r_gcd, "candidate(10, 15)")["status"] == "timeout"


def test_threads_left_running_do_not_hold_the_run(tmp_path):
    code = ("import threading, time\n"
            "def spin():\n    while True:\n        time.sleep(0.05)\n"
            "threading.Thread(target=spin).start()\n"
            "def f():\n    return 1\n")
    r = report(tmp_path, code, "--pool", "--timeout", "5", tests="assert f() == 1\n",
               env=IN_PROCESS)
    assert r["passed"] and r["run"]["retried_isolated"] is None
    assert r["notes"] == ["the code left 1 thread(s) running; they were abandoned"]
    # Split, the threads live in the candidate's process, killed after the run.
    r = report(tmp_path, code, "--pool", "--timeout", "5", tests="assert f() == 1\n")
    assert r["passed"] and r["run"]["retried_isolated"] is None and r["integrity"] == "split"


def test_deep_recursion_costs_one_test(tmp_path):
    code = ("import sys\nsys.setrecursionlimit(10 ** 7)\n"
            "def deep(n):\n    return 0 if n == 0 else 1 + deep(n - 1)\n"
            "def f(x):\n    return deep(10 ** 7) if x == 2 else x\n")
    r = report(tmp_path, code, "--test-timeout", "2", "--timeout", "20",
               tests="assert f(1) == 1\nassert f(2) == 2\nassert f(3) == 3\n")
    st = [t["status"] for t in r["tests"]]
    assert st[0] == "passed" and st[2] == "passed", r["tests"]
    assert st[1] in ("crashed", "error", "memory", "timeout")
