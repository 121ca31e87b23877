"""The harness runs every test form and reports each case on its own."""
from evalkit import case

pytest_plugins = ["evalfixtures"]  # the harness fixture

ADD = "def add(a, b):\n    return a + b + (1 if a == 2 else 0)\n"


def test_assert_lines_each_a_case_with_values(harness):
    ans = harness(ADD, "assert add(1, 2) == 3\nassert add(2, 2) == 4\nx = 5\nassert add(x, 1) == 6\n")
    assert ans["forms"] == ["asserts"]
    assert (ans["tests_total"], ans["tests_passed"]) == (3, 2)
    assert ans["status"] == "tests_failed"
    bad = case(ans, "add(2, 2)")
    assert bad["status"] == "failed" and bad["line"] == 2 and bad["file"] == "tests"
    a = bad["assertion"]
    assert a["call"] == "add(2, 2)"
    assert (a["actual"], a["expected"], a["op"]) == ("5", "4", "==")
    assert case(ans, "add(x, 1)")["passed"]


def test_check_candidate_reports_each_assert_line(harness):
    code = "def inc(x):\n    if x > 5:\n        return x\n    return x + 1\n"
    tests = ("METADATA = {}\n\n"
             "def check(candidate):\n"
             "    assert candidate(1) == 2\n"
             "    assert candidate(7) == 8\n"
             "    for i in range(3):\n"
             "        assert candidate(i) == i + 1\n"
             "    assert candidate(None) == 1\n"
             "    assert 9 == candidate(8)\n")
    ans = harness(code, tests, entry_point="inc")
    assert ans["forms"] == ["check"]
    assert (ans["tests_total"], ans["tests_passed"]) == (5, 2)
    wrong = case(ans, "candidate(7) == 8")
    assert wrong["line"] == 5
    assert wrong["assertion"]["call"] == "inc(7)"
    assert (wrong["assertion"]["actual"], wrong["assertion"]["expected"]) == ("7", "8")
    loop = case(ans, "candidate(i) == i + 1")
    assert loop["passed"] and loop["runs"] == 3
    boom = case(ans, "candidate(None)")
    assert boom["status"] == "error"
    assert boom["error"]["type"] == "TypeError"
    assert boom["error"]["solution_line"] == 2  # the candidate's own line: `if x > 5:`
    assert boom["error"]["traceback"][-1]["code"] == "if x > 5:"
    # expected value on the left-hand side
    rev = case(ans, "9 == candidate(8)")
    assert (rev["assertion"]["actual"], rev["assertion"]["expected"]) == ("8", "9")


def test_check_without_entry_point_uses_the_only_function(harness):
    ans = harness("def f(x):\n    return x\n",
                  "def check(candidate):\n    assert candidate(1) == 1\n")
    assert ans["entry_point"] == "f" and ans["tests_passed"] == 1
    assert "only function" in ans["notes"][0]


def test_pytest_functions_and_unittest_methods(harness):
    code = ("def add(a, b):\n    return a + b\n\n"
            "class Stack:\n"
            "    def __init__(self):\n        self.items = []\n"
            "    def push(self, v):\n        self.items.append(v)\n"
            "    def pop(self):\n        return self.items.pop()\n")
    tests = ("import pytest\nimport unittest\nfrom solution import add\n\n"
             "def test_add():\n    assert add(1, 2) == 3\n\n"
             "def test_add_bad():\n    r = add(2, 2)\n    assert r == 5, 'two and two'\n\n"
             "@pytest.mark.parametrize('a,b,c', [(1, 1, 2), (2, 3, 6)])\n"
             "def test_param(a, b, c):\n    assert add(a, b) == c\n\n"
             "def test_raises():\n    with pytest.raises(IndexError):\n        Stack().pop()\n\n"
             "def test_fixture(tmp_path):\n    pass\n\n"
             "class TestStack(unittest.TestCase):\n"
             "    def setUp(self):\n        self.s = Stack()\n"
             "    def test_push(self):\n        self.s.push(1)\n        self.assertEqual(self.s.pop(), 1)\n"
             "    def test_empty(self):\n        self.assertEqual(Stack().pop(), 2)\n")
    ans = harness(code, tests)
    assert ans["forms"] == ["pytest", "unittest"]
    assert (ans["tests_total"], ans["tests_passed"]) == (7, 3)
    assert case(ans, "test_add_bad")["error"]["message"] == "two and two"
    assert case(ans, "test_add_bad")["assertion"]["left"] == "4"
    p = case(ans, "test_param")
    assert p["status"] == "failed" and "a=2, b=3, c=6" in p["error"]["message"]
    assert p["assertion"]["call"] == "add(2, 3)"
    assert case(ans, "test_raises")["passed"]
    fx = case(ans, "test_fixture")
    assert fx["status"] == "error" and "fixtures are not supported" in fx["error"]["message"]
    assert case(ans, "TestStack.test_push")["passed"]
    empty = case(ans, "TestStack.test_empty")
    assert empty["error"]["type"] == "IndexError" and empty["error"]["solution_line"] == 10


def test_doctests_in_the_code(harness):
    code = ('def sq(x):\n'
            '    """Square.\n\n'
            '    >>> sq(2)\n    4\n'
            '    >>> sq(3)\n    10\n'
            '    >>> sq("a")\n    Traceback (most recent call last):\n'
            '    TypeError: unsupported\n'
            '    """\n'
            '    return x * x\n')
    ans = harness(code)
    assert ans["forms"] == ["doctest"]
    assert (ans["tests_total"], ans["tests_passed"]) == (3, 1)
    bad = case(ans, "sq(3)")
    assert bad["file"] == "solution" and bad["line"] == 6
    assert (bad["assertion"]["expected"], bad["assertion"]["actual"]) == ("10", "9")
    exc = case(ans, 'sq("a")')
    assert exc["assertion"]["actual"].endswith(
        "TypeError: can't multiply sequence by non-int of type 'str'")
    # With tests given, the docstring examples are not run unless asked for.
    ans = harness(code, "assert sq(2) == 4\n")
    assert ans["tests_total"] == 1 and ans["forms"] == ["asserts"]
    ans = harness(code, "assert sq(2) == 4\n", doctests="always")
    assert ans["tests_total"] == 4 and ans["forms"] == ["asserts", "doctest"]


def test_doctest_transcript_as_tests(harness):
    ans = harness("def double(x):\n    return 2 * x\n",
                  ">>> double(2)\n4\n>>> y = double(5)\n>>> y + 1\n12\n")
    assert ans["forms"] == ["doctest"]
    assert (ans["tests_total"], ans["tests_passed"]) == (3, 2)
    bad = case(ans, "y + 1")
    assert (bad["line"], bad["assertion"]["expected"], bad["assertion"]["actual"]) == (
        4, "12", "11")


def test_no_tests_runs_the_program_as_main(harness):
    ans = harness("import sys\nif __name__ == '__main__':\n    print('hi', input('?') if False else 1)\n"
                  "    print('warn', file=sys.stderr)\n")
    assert ans["status"] == "ok" and ans["tests_total"] == 0
    assert ans["stdout"] == "hi 1\n" and ans["stderr"] == "warn\n"


def test_module_level_asserts_in_a_loop_are_cases(harness):
    ans = harness("def sq(x):\n    return x * x if x != 3 else 0\n",
                  "cases = [(1, 1), (2, 4), (3, 9)]\nfor x, y in cases:\n    assert sq(x) == y\n"
                  "assert sq(4) == 16\n")
    assert (ans["tests_total"], ans["tests_passed"]) == (2, 1)
    loop = case(ans, "sq(x) == y")
    assert loop["status"] == "failed" and loop["assertion"]["call"] == "sq(3)"


def test_unreached_assert_in_check_is_skipped_not_failed(harness):
    ans = harness("def f(x):\n    return x\n",
                  "def check(candidate):\n    assert candidate(1) == 1\n"
                  "    if False:\n        assert candidate(2) == 3\n", entry_point="f")
    assert ans["status"] == "ok"
    assert (ans["tests_total"], ans["tests_passed"], ans["tests_skipped"]) == (1, 1, 1)
