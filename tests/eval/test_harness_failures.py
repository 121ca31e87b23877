"""What the harness reports when the code (or the tests) go wrong."""

from evalkit import case

pytest_plugins = ["evalfixtures"]  # the harness fixture


def test_syntax_error(harness):
    ans = harness("def f(x):\n    return x +\n", "assert f(1) == 1\n")
    assert ans["status"] == "syntax_error"
    e = ans["error"]
    assert (e["type"], e["line"], e["col"], e["code"]) == ("SyntaxError", 2, 15, "return x +")
    assert ans["tests"] == [] and ans["static"] is None


def test_indentation_error(harness):
    ans = harness("def f(x):\nreturn x\n")
    assert ans["status"] == "syntax_error" and ans["error"]["type"] == "IndentationError"
    assert ans["error"]["line"] == 2


def test_code_that_parses_but_does_not_compile_is_the_codes_error(harness):
    # "return" outside a function parses (ast.parse) and fails only at
    # compile; it is the code's syntax error, never blamed on the tests.
    for code, line in (("x = 1\nreturn x\n", 2), ("nonlocal y\n", 1),
                       ("def f():\n    return 1\nyield 2\n", 3)):
        ans = harness(code, "assert True\n")
        assert ans["status"] == "syntax_error", (code, ans)
        e = ans["error"]
        assert (e["type"], e["file"], e["line"]) == ("SyntaxError", "solution", line), e
        assert ans["tests"] == []


def test_empty_and_comment_only_code(harness):
    for code in ("", "   \n\n", "# nothing here\n"):
        ans = harness(code, "assert True\n")
        assert ans["status"] == "empty", code
    assert "only comments" in harness("# x\n")["error"]["message"]


def test_huge_code(harness):
    ans = harness("x = 1\n" * 2000, max_code_bytes=4096)
    assert ans["status"] == "too_big"
    assert ans["error"]["message"] == "the code is 12000 bytes, over the limit of 4096"


def test_deeply_nested_code(harness):
    ans = harness("x = " + "(" * 300 + "1" + ")" * 300 + "\n")
    assert ans["status"] == "syntax_error"
    assert ans["error"]["line"] == 1


def test_nul_byte(harness):
    ans = harness("x = 1\x00\n")
    assert ans["status"] == "syntax_error"


def test_tests_that_do_not_parse_are_reported_as_such(harness):
    ans = harness("def f():\n    return 1\n", "assert f() ==\n")
    assert ans["status"] == "bad_tests"
    assert ans["error"]["message"].startswith("the tests do not parse:")
    assert ans["error"]["file"] == "tests"


def test_exception_while_loading(harness):
    ans = harness("def f(x):\n    return x\n\nprint(f(undefined_name))\n", "assert f(1) == 1\n")
    assert ans["status"] == "load_error"
    e = ans["error"]
    assert (e["type"], e["line"], e["file"]) == ("NameError", 4, "solution")
    assert "undefined_name" in e["message"]


def test_wrong_entry_point(harness):
    ans = harness("def sum_list(xs):\n    return sum(xs)\n",
                  "def check(candidate):\n    assert candidate([1]) == 1\n",
                  entry_point="sum_of_list")
    assert ans["status"] == "tests_failed"
    chk = case(ans, "check(sum_of_list)")
    assert chk["error"]["type"] == "EntryPointError"
    assert "does not define 'sum_of_list' (did you mean 'sum_list'?)" in chk["error"]["message"]
    nr = case(ans, "candidate([1])")
    assert nr["status"] == "not_run"
    assert (ans["tests_total"], ans["tests_passed"]) == (2, 0)


def test_entry_point_that_is_not_a_function(harness):
    ans = harness("f = 3\n", "def check(candidate):\n    assert candidate(1)\n", entry_point="f")
    assert "is a int, not a function" in case(ans, "check(f)")["error"]["message"]


def test_check_without_entry_point_and_several_functions(harness):
    ans = harness("def a():\n    pass\ndef b():\n    pass\n",
                  "def check(candidate):\n    assert candidate()\n")
    assert ans["status"] == "bad_tests"
    assert "no entry point was given" in ans["error"]["message"]
    assert "2 functions (a, b)" in ans["error"]["message"]


def test_one_hanging_test_among_passing_ones(harness):
    code = ("import time\n"
            "def f(x):\n"
            "    if x == 2:\n"
            "        while True:\n"
            "            pass\n"
            "    if x == 3:\n"
            "        while True:\n"
            "            try:\n"
            "                time.sleep(1)\n"
            "            except BaseException:\n"
            "                pass\n"
            "    return x\n")
    tests = "assert f(1) == 1\nassert f(2) == 2\nassert f(3) == 3\nassert f(4) == 4\n"
    ans = harness(code, tests, test_timeout_s=0.4)  # both loops run forever unless stopped
    assert (ans["tests_total"], ans["tests_passed"]) == (4, 2)
    soft = case(ans, "f(2)")
    assert soft["status"] == "timeout" and "0.4 s" in soft["error"]["message"]
    assert soft["error"]["solution_line"] in (4, 5)
    hard = case(ans, "f(3)")  # swallows the interruption: its process is killed
    assert hard["status"] == "timeout" and "killed" in hard["error"]["message"]
    assert case(ans, "f(4)")["passed"] and case(ans, "f(1)")["passed"]
    assert ans["restarts"] == 1


def test_process_exit_and_memory_error_cost_one_test(harness):
    code = ("import os, sys\n"
            "def f(x):\n"
            "    if x == 1:\n        os._exit(3)\n"
            "    if x == 2:\n        sys.exit(4)\n"
            "    if x == 3:\n        return bytearray(1 << 46)\n"
            "    print('value', x)\n"
            "    return x\n")
    ans = harness(code, "assert f(1) == 1\nassert f(2) == 2\nassert f(3) == 3\nassert f(4) == 4\n")
    assert (ans["tests_total"], ans["tests_passed"]) == (4, 1)
    ex = case(ans, "f(1)")
    assert ex["status"] == "crashed" and "os._exit(3)" in ex["error"]["message"]
    sx = case(ans, "f(2)")
    assert sx["status"] == "error" and sx["error"]["message"] == "the code called exit(4)"
    mem = case(ans, "f(3)")
    assert mem["error"]["type"] == "MemoryError" and mem["error"]["solution_line"] == 8
    assert ans["stdout"] == "value 4\n"


def test_output_is_captured_and_capped(harness):
    ans = harness("def f():\n    print('x' * 1000)\n    return 1\n",
                  "for i in range(100):\n    assert f() == 1\n", max_output=5000)
    assert ans["tests_passed"] == 1
    assert len(ans["stdout"]) == 5000 and ans["stdout_truncated"]


def test_printing_forever_is_a_timeout_of_one_test(harness):
    ans = harness("def f(x):\n    while x:\n        print('spam')\n    return x\n",
                  "assert f(0) == 0\nassert f(1) == 1\n", test_timeout_s=0.3, max_output=1000)
    assert case(ans, "f(1)")["status"] == "timeout"
    assert case(ans, "f(0)")["passed"]


def test_input_reads_the_given_stdin(harness):
    code = "name = input()\nprint('hello', name)\n"
    assert harness(code, stdin="bob\n")["stdout"] == "hello bob\n"
    ans = harness(code)
    assert ans["status"] == "load_error" and ans["error"]["type"] == "EOFError"


def test_exception_in_tests_setup_is_a_failing_case(harness):
    ans = harness("def f():\n    return 1\n", "import no_such_module\nassert f() == 1\n")
    setup = case(ans, "import no_such_module")
    assert setup["status"] == "error" and setup["error"]["type"] == "ModuleNotFoundError"
    assert (ans["tests_total"], ans["tests_passed"]) == (2, 1)


def test_time_budget_stops_the_rest(harness):
    code = "def f(x):\n    while x:\n        pass\n    return x\n"
    tests = "".join("assert f(%d) == %d\n" % (i, i) for i in (1, 1, 1, 1, 0))
    ans = harness(code, tests, test_timeout_s=0.5, budget_s=1.2)
    statuses = [c["status"] for c in ans["tests"]]
    assert statuses[:2] == ["timeout", "timeout"]
    assert "not_run" in statuses  # the budget, not the end of the tests, stopped the run
    assert ans["tests_passed"] == 0


def test_bad_request(harness):
    ans = harness("x = 1\n", entry_point="not an identifier")
    assert ans["status"] == "bad_request"
    assert "entry_point" in ans["error"]["message"]


def test_efficiency_figures(harness):
    ans = harness("import time\nx = bytearray(50 << 20)\nfor i in range(0, len(x), 4096):\n"
                  "    x[i] = 1\nt = time.process_time()\nwhile time.process_time() - t < 0.2:\n"
                  "    pass\n")
    m = ans["metrics"]
    assert ans["status"] == "ok"
    assert m["peak_memory_kb"] > 45 * 1024
    assert m["cpu_s"] >= 0.2
    assert m["load_s"] >= 0.2 and m["wall_s"] >= m["load_s"]


_WALK = r'''
import json, sys, traceback
sys.path.insert(0, sys.argv[1])
import llmrepl_runner

src = "def f(n):\n    if n:\n        return f(n - 1)\n    x = [1, 2,\n         3]\n    return x[\n        7]\n"
ns = {}
exec(compile(src, "<solution>", "exec"), ns)
out = []
for limit in (None, 0, 1, 3, -2, "x"):
    if limit is None:
        sys.__dict__.pop("tracebacklimit", None)
    else:
        sys.tracebacklimit = limit
    try:
        ns["f"](4)
    except IndexError as e:
        tb = e.__traceback__
    try:
        want = [[s.filename, s.lineno, s.name] for s in traceback.extract_tb(tb)]
    except Exception as e:
        want = type(e).__name__
    try:
        got = [list(t) for t in llmrepl_runner.walk_tb(tb)]
    except Exception as e:
        got = type(e).__name__
    out.append([want == got, got if isinstance(got, str) else len(got)])
print(json.dumps(out))
'''


def test_the_traceback_walk_is_extract_tbs_without_columns():
    # The report's frames come from llmrepl_runner.walk_tb, which must give
    # what traceback.extract_tb gives (the lines of a multi-line expression,
    # sys.tracebacklimit), only faster.
    import json
    import subprocess

    from evalkit import PY_DIR, PYTHON
    p = subprocess.run([PYTHON, "-I", "-S", "-B", "-c", _WALK, str(PY_DIR)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [[True, 6], [True, 0], [True, 1], [True, 3], [True, 0],
                                    [True, "TypeError"]]
