"""pyflakes, bandit and radon findings, each with its line."""
pytest_plugins = ["evalfixtures"]  # the harness fixture

CODE = """import os
import subprocess
import hashlib


def handler(cmd, n):
    password = "hunter2"
    if n > 10:
        return eval(cmd)
    digest = hashlib.md5(cmd.encode()).hexdigest()
    subprocess.call(cmd, shell=True)
    return undefined_thing + digest


def branchy(x):
    if x == 1:
        return 1
    elif x == 2:
        return 2
    elif x == 3:
        return 3
    elif x == 4:
        return 4
    for i in range(x):
        if i % 2 and i % 3:
            return i
    return 0
"""


def _by(findings, key, value):
    return [f for f in findings if f.get(key) == value]


def test_pyflakes_errors_and_warnings(harness):
    s = harness(CODE)["static"]["pyflakes"]
    assert s["ran"] and s["errors"] == 1 and s["warnings"] == 2
    undefined = _by(s["findings"], "code", "UndefinedName")[0]
    assert (undefined["kind"], undefined["line"]) == ("error", 12)
    assert "undefined_thing" in undefined["message"]
    unused = _by(s["findings"], "code", "UnusedImport")[0]
    assert (unused["kind"], unused["line"], unused["message"]) == (
        "warning", 1, "'os' imported but unused")
    assert _by(s["findings"], "code", "UnusedVariable")[0]["line"] == 7


def test_bandit_findings_with_severity_and_confidence(harness):
    b = harness(CODE)["static"]["bandit"]
    assert b["ran"] and b["max_severity"] == "high"
    ids = {(f["test_id"], f["line"]) for f in b["findings"]}
    assert {("B404", 2), ("B105", 7), ("B307", 9), ("B303", 10), ("B602", 11)} <= ids
    shell = _by(b["findings"], "test_id", "B602")[0]
    assert (shell["severity"], shell["confidence"]) == ("high", "high")
    assert shell["test"] == "subprocess_popen_with_shell_equals_true"
    password = _by(b["findings"], "test_id", "B105")[0]
    assert "hunter2" in password["message"]
    assert b["counts"]["high"] >= 1 and b["counts"]["medium"] >= 2


def test_bandit_nosec_is_honoured(harness):
    b = harness("import subprocess\nsubprocess.call('x', shell=True)  # nosec\n")["static"]["bandit"]
    assert _by(b["findings"], "test_id", "B602") == []


def test_radon_complexity_per_function_and_maintainability(harness):
    r = harness(CODE)["static"]["radon"]
    assert r["ran"]
    funcs = {f["name"]: f for f in r["functions"]}
    assert funcs["handler"]["complexity"] == 2 and funcs["handler"]["line"] == 6
    assert funcs["branchy"]["complexity"] == 8 and funcs["branchy"]["rank"] == "B"
    assert (r["max_complexity"], r["max_complexity_function"], r["max_complexity_line"]) == (
        8, "branchy", 15)
    assert 0 < r["mi"] <= 100 and r["mi_rank"] in "ABC"


def test_methods_and_closures_are_named(harness):
    code = ("class A:\n    def m(self, x):\n        def inner(y):\n"
            "            return y if y else 0\n        return inner(x)\n")
    names = [f["name"] for f in harness(code)["static"]["radon"]["functions"]]
    assert names == ["A.m", "A.m.inner"]


def test_static_checks_can_be_turned_off(harness):
    assert harness(CODE, static=False)["static"] is None


def test_static_checks_run_on_code_that_fails_to_load(harness):
    ans = harness("import os\nraise SystemExit(2)\n")
    assert ans["status"] == "load_error"
    assert ans["static"]["pyflakes"]["warnings"] == 1
