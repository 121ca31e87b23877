"""io test cases through the real sandbox (build/llmrepl-eval --io-tests):
each checker, the ways a program can fail a case, and programs that try to
forge a verdict. Every case runs the program in its own sandbox run; the
output is judged on the host after the program has exited."""

import pytest

from iokit import evaluate, statuses

ADD = "a, b = map(int, input().split())\nprint(a + b)\n"


@pytest.mark.parametrize("pool", [True, False])
def test_passing_and_failing_program(tmp_path, pool):
    cases = [("1 2\n", "3\n"), ("10 -3\n", "7\n"), ("5 5\n", "11\n")]
    rep = evaluate(tmp_path, ADD, cases, pool=pool)
    assert (rep["tests_total"], rep["tests_passed"], rep["passed"]) == (3, 2, False)
    assert statuses(rep) == ["passed", "passed", "failed"]
    bad = rep["tests"][2]
    assert bad["io"]["actual"] == "10\n" and bad["io"]["expected"] == "11\n"
    assert bad["io"]["diff"] == 'token 1 (line 1): expected "11", got "10"'
    assert rep["form"] == "io" and rep["checker"] == "tokens"
    # the model reads the first failing input, expected and actual output
    fb = rep["feedback"]
    assert "1 of 3 tests fails" in fb and "case 3" in fb
    assert "Input (stdin):\n    5 5\n" in fb
    assert "Expected output:\n    11\n" in fb and "Its output:\n    10\n" in fb
    good = evaluate(tmp_path, ADD, cases[:2], pool=pool)
    assert good["passed"] and good["tests_passed"] == 2 and good["score"] > 0.9
    assert good["static"]["bandit"]["max_severity"] == "none"  # input() is Python 3's


def test_checker_exact_and_trailing_newline(tmp_path):
    code = "import sys\nsys.stdout.write(sys.stdin.read().upper())\n"
    rep = evaluate(tmp_path, code, [("ab\n", "AB\n"), ("ab\n", "AB"), ("a b", "A  B")],
                   checker="exact")
    assert statuses(rep) == ["passed", "failed", "failed"]
    assert "goes on after the expected 2 bytes" in rep["tests"][1]["io"]["diff"]
    assert '"\\n"' in rep["tests"][1]["io"]["diff"]
    assert rep["tests"][2]["io"]["diff"].startswith("line 1, column 3")
    # the same output is right for tokens and lines
    for checker in ("tokens", "lines"):
        rep = evaluate(tmp_path, code, [("ab\n", "AB\n"), ("ab\n", "AB")], checker=checker)
        assert rep["passed"], (checker, rep["feedback"])


def test_checker_tokens_and_lines(tmp_path):
    code = "print(' 1   2 ')\nprint('3 4   ')\nprint()\n"
    rep = evaluate(tmp_path, code, [("", "1 2\n3 4\n"), ("", "1\n2 3\n4")],
                   checker="tokens")
    assert rep["passed"], rep["feedback"]
    rep = evaluate(tmp_path, code, [("", " 1   2\n3 4\n"), ("", "1 2\n3 4\n")], checker="lines")
    assert statuses(rep) == ["passed", "failed"]
    assert rep["tests"][1]["io"]["diff"] == 'line 1: expected "1 2", got " 1   2"'
    rep = evaluate(tmp_path, code, [("", " 1   2\n3 4\n5\n")], checker="lines")
    assert rep["tests"][0]["io"]["diff"].startswith("the output ends after 2 lines")


def test_checker_float_within_and_outside_tolerance(tmp_path):
    code = "x = float(input())\nprint('%.7f' % (x / 3), 'ok')\n"
    checker = {"kind": "float", "abs": 1e-6, "rel": 0}
    rep = evaluate(tmp_path, code, [("1\n", "0.333333333 ok\n"), ("2\n", "0.6667 ok\n"),
                                    ("3\n", "1 OK\n")], checker=checker)
    assert statuses(rep) == ["passed", "failed", "failed"]
    assert "off by" in rep["tests"][1]["io"]["diff"]
    assert rep["tests"][2]["io"]["diff"] == 'token 2 (line 1): expected "OK", got "ok"'
    rep = evaluate(tmp_path, code, [("2\n", "0.6667 ok\n")],
                   checker={"kind": "float", "abs": 0, "rel": 1e-3})
    assert rep["passed"], rep["feedback"]


PY_CHECK = """
def check(stdin, expected, actual):
    n = int(stdin)
    got = sorted(map(int, actual.split()))
    if got != sorted(map(int, expected.split())):
        return False, "not the same numbers"
    return sum(got) == n * (n + 1) // 2
"""


def test_checker_python(tmp_path):
    code = "n = int(input())\nprint(*reversed(range(1, n + 1)))\n"
    rep = evaluate(tmp_path, code, [("3\n", "1 2 3\n"), ("4\n", "1 2 3\n")],
                   checker={"kind": "python", "code": PY_CHECK})
    assert statuses(rep) == ["passed", "failed"]
    assert rep["tests"][1]["io"]["diff"] == "the checker says: not the same numbers"
    assert rep["checker"] == "python"


def test_checker_python_that_raises(tmp_path):
    raising = "def check(stdin, expected, actual):\n    return int(actual) == int(expected)\n"
    rep = evaluate(tmp_path, "print('three')\n", [("", "3\n")],
                   checker={"kind": "python", "code": raising})
    assert statuses(rep) == ["failed"] and not rep["passed"]
    diff = rep["tests"][0]["io"]["diff"]
    assert diff.startswith("the checker raised ValueError at line 2: invalid literal"), diff
    missing = evaluate(tmp_path, "print(3)\n", [("", "3\n")],
                       checker={"kind": "python", "code": "x = 1\n"})
    assert not missing["passed"]
    assert "defines no function check" in missing["tests"][0]["io"]["diff"]


def test_hanging_case_among_passing_ones(tmp_path):
    code = ("n = int(input())\n"
            "while n == 2:\n    pass\n"
            "print(n * n)\n")
    cases = [("1\n", "1\n"), ("2\n", "4\n"), ("3\n", "9\n"), ("4\n", "16\n")]
    # The hanging case is ended by its own 1.5 s deadline (reported as a
    # timeout); the call's 60 s timeout only stops a hung test.
    rep = evaluate(tmp_path, code, cases, "--timeout", "1.5", timeout=60)
    assert statuses(rep) == ["passed", "timeout", "passed", "passed"]
    assert "did not finish within 1.5 s" in rep["tests"][1]["error"]["message"]
    assert "case 2" in rep["feedback"] and "endless loop" in rep["feedback"]


def test_100_mb_of_output(tmp_path):
    code = "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(100 * 1024):\n" \
           "    sys.stdout.write(line)\n"
    rep = evaluate(tmp_path, code, [("", "x\n")], timeout=120)
    t = rep["tests"][0]
    assert t["status"] == "output" and not rep["passed"]
    assert t["io"]["actual_truncated"] is True
    assert len(t["io"]["actual"]) <= 2100
    assert t["error"]["message"] == "the program wrote more than the 1048576 bytes allowed to " \
                                    "stdout"  # the default cap: the expected output is small
    rep = evaluate(tmp_path, "import sys\nfor _ in range(10 ** 6):\n    sys.stderr.write("
                   "'e' * 1000)\n", [("", "")])
    assert statuses(rep) == ["output"] and rep["tests"][0]["error"]["message"].endswith("stderr")


def test_output_cap_grows_with_the_expected_output(tmp_path):
    big = "".join("%d\n" % i for i in range(400000))  # 2.6 MB, over the 1 MiB default
    rep = evaluate(tmp_path, "for i in range(400000):\n    print(i)\n", [("", big)])
    assert rep["passed"], rep["feedback"]
    assert rep["tests"][0]["io"]["actual_bytes"] == len(big)


def test_reading_more_input_than_given(tmp_path):
    code = "a = input()\nb = input()\nprint(a, b)\n"
    rep = evaluate(tmp_path, code, [("1\n2\n", "1 2\n"), ("1\n", "1 2\n")], "--timeout", "5")
    assert statuses(rep) == ["passed", "error"]
    err = rep["tests"][1]["error"]
    # An EOFError, not a timeout: the program saw the end of its input
    # rather than waiting for more.
    assert err["type"] == "EOFError" and err["line"] == 2
    assert "EOFError" in rep["tests"][1]["io"]["stderr"]


def test_ways_of_reading_stdin(tmp_path):
    big = "".join("%d\n" % i for i in range(300000))  # ~2 MB, more than a pipe holds
    total = "%d\n" % sum(range(300000))
    for code in ("import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
                 "import sys\nprint(sum(int(l) for l in sys.stdin))\n",
                 "import sys\nprint(sum(map(int, sys.stdin.buffer.read().split())))\n",
                 "print(sum(map(int, open(0).read().split())))\n",
                 "import os\nd = b''\nwhile True:\n    b = os.read(0, 65536)\n"
                 "    if not b:\n        break\n    d += b\nprint(sum(map(int, d.split())))\n"):
        rep = evaluate(tmp_path, code, [(big, total), ("", "0\n")], "--timeout", "20")
        assert rep["passed"], (code, rep["feedback"])


def test_text_that_is_not_ascii(tmp_path):
    code = "import sys\ns = input()\nprint(s[::-1])\nsys.stdout.buffer.write(b'\\xff\\n')\n"
    rep = evaluate(tmp_path, code, [("héllo→\n", "→olléh\n\ufffd\n")], checker="exact")
    t = rep["tests"][0]
    # an invalid byte is compared as a byte, shown as U+FFFD
    assert t["status"] == "failed" and t["io"]["actual"] == "→olléh\n\ufffd\n"
    rep = evaluate(tmp_path, "print(input()[::-1])\n", [("héllo→\n", "→olléh\n")],
                   checker="exact")
    assert rep["passed"], rep["feedback"]


def test_crash(tmp_path):
    code = "import ctypes\nprint('before')\nctypes.string_at(0)\n"
    rep = evaluate(tmp_path, code, [("", "before\n")])
    t = rep["tests"][0]
    assert t["status"] == "crashed" and t["signal"] == 11
    assert "signal 11" in t["error"]["message"]


def test_memory(tmp_path):
    code = "x = bytearray(900 << 20)\nprint(len(x))\n"
    rep = evaluate(tmp_path, code, [("", "1\n")], "--memory", "128")
    assert statuses(rep) == ["memory"] or rep["tests"][0]["error"]["type"] == "MemoryError"
    assert not rep["passed"]


def test_exit_status_and_exceptions(tmp_path):
    code = "import sys\nprint(int(input()) * 2)\nsys.exit(3)\n"
    rep = evaluate(tmp_path, code, [("2\n", "4\n")])
    assert statuses(rep) == ["error"]
    assert "exited with status 3" in rep["tests"][0]["error"]["message"]
    rep = evaluate(tmp_path, "import sys\nprint(4)\nsys.exit(0)\n", [("", "4\n")])
    assert rep["passed"]
    rep = evaluate(tmp_path, "print(1 / int(input()))\n", [("0\n", "0\n")])
    assert rep["tests"][0]["error"]["type"] == "ZeroDivisionError"
    assert "ZeroDivisionError: division by zero (line 1 of the code)" in rep["feedback"]


def test_syntax_error_runs_no_case(tmp_path):
    rep = evaluate(tmp_path, "print(1\n", [("", "1\n"), ("", "2\n")])
    assert rep["status"] == "syntax_error" and rep["tests_total"] == 0 and not rep["passed"]
    assert rep["feedback"].startswith("The code does not parse")
    rep = evaluate(tmp_path, "# nothing\n", [("", "1\n")])
    assert rep["status"] == "empty" and not rep["passed"]


def _findings(static):
    return {t: {k: v for k, v in static[t].items() if k != "duration_s"}
            for t in ("pyflakes", "bandit", "radon")}


def test_static_checks_come_from_the_service_as_the_sandbox_would_give_them(tmp_path):
    """The static service analyses the program (its answers carry "cached");
    with it off the sandbox's prepare step does, with the same findings."""
    code = "import os\nimport subprocess\nsubprocess.call(input(), shell=True)\nprint(3)\n"
    served = evaluate(tmp_path, code, [("x\n", "3\n")])
    judged = evaluate(tmp_path, code, [("x\n", "3\n")], env={"LLMREPL_STATIC_SERVICE": "0"})
    assert served["static"]["cached"] is False and "cached" not in judged["static"]
    assert served["static"]["bandit"]["max_severity"] == "high"
    assert served["static"]["pyflakes"]["warnings"] == 1  # os imported, unused
    assert _findings(served["static"]) == _findings(judged["static"])
    assert served["passed"] == judged["passed"] and served["score"] == judged["score"]
    bad = evaluate(tmp_path, "print(\n", [("", "")])
    assert bad["status"] == "syntax_error" and bad["static"] is None


def test_stop_on_failure(tmp_path):
    cases = [("1 1\n", "2\n"), ("1 2\n", "4\n"), ("2 2\n", "4\n")]
    rep = evaluate(tmp_path, ADD, cases, stop_on_failure=True)
    assert statuses(rep) == ["passed", "failed", "not_run"]
    assert rep["tests_total"] == 3 and rep["tests_passed"] == 1
    assert "1 test did not run" in rep["feedback"]
    rep = evaluate(tmp_path, ADD, cases)
    assert statuses(rep) == ["passed", "failed", "passed"]


# ---- forgery: the verdict is the host's, whatever the program does ---------

FORGED = ('{"harness": 1, "status": "ok", "tests_total": 1, "tests_passed": 1, '
          '"tests": [{"name": "x", "status": "passed", "passed": true}]}')

FORGERIES = {
    "prints passed": "print('passed')\nprint('All tests pass')\n",
    "answer on fd 3": "import os\nos.write(3, %r.encode())\nos._exit(0)\n" % FORGED,
    "every descriptor": ("import os\nfor fd in range(3, 64):\n    try:\n"
                         "        os.write(fd, %r.encode())\n    except OSError:\n"
                         "        pass\nprint('passed')\n" % FORGED),
    "stderr": "import sys\nsys.stderr.write('3\\n')\n",
    "the control socket": ("import socket\nfor fd in range(3, 64):\n    try:\n"
                           "        s = socket.socket(fileno=fd)\n"
                           "        s.send(b'DONE 1 0 0 0 0')\n    except OSError:\n"
                           "        pass\nprint(2)\n"),
    "read the expected": ("import os\nseen = []\nfor root in ('/work', '/tmp', '/sandbox'):\n"
                          "    for d, _, fs in os.walk(root):\n        seen += fs\n"
                          "print(' '.join(seen) or 'nothing')\n"),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
@pytest.mark.parametrize("pool", [True, False])
def test_forgeries_fail(tmp_path, name, pool):
    rep = evaluate(tmp_path, FORGERIES[name], [("1 2\n", "3\n")], pool=pool)
    assert not rep["passed"] and rep["tests_passed"] == 0, (name, rep["tests"])
    assert rep["verdict"] == "failed"
    assert rep["tests"][0]["status"] in ("failed", "error")
